package io.polyray.runtime.store;

/**
 * One entry of {@link SharedStore#list()} ({@code prs_object_info}).
 *
 * @param id the object's id
 * @param dataSize bytes of data
 * @param metadataSize bytes of metadata
 * @param sealed false while the object is still being created
 * @param creatorPid the process that created it
 * @param pins pins held on it, summed over all processes
 * @param deletePending true when deleted while pinned: it goes when the last pin does
 */
public record ObjectInfo(
    ObjectId id,
    long dataSize,
    long metadataSize,
    boolean sealed,
    int creatorPid,
    long pins,
    boolean deletePending) {}

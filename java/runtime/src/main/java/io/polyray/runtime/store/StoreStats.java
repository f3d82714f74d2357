package io.polyray.runtime.store;

/**
 * A snapshot of the store's counters ({@code prs_stats}), taken under the
 * store lock so the numbers are consistent with each other.
 *
 * @param capacity bytes available for object data
 * @param bytesUsed bytes allocated to objects, sealed or not
 * @param objects objects in the index, sealed or not
 * @param sealedObjects objects that are sealed
 * @param pinnedObjects objects with at least one pin (any process)
 * @param evictions objects evicted since the store was created
 * @param recoveries times the state was repaired after a lock holder died
 */
public record StoreStats(
    long capacity,
    long bytesUsed,
    long objects,
    long sealedObjects,
    long pinnedObjects,
    long evictions,
    long recoveries) {}

package io.polyray.runtime.store;

/**
 * What {@link SharedStore#reclaim(int)} undid for a dead process.
 *
 * @param pinsDropped pins the process held that were dropped
 * @param objectsAborted objects it left unsealed that were aborted
 * @param bytesFreed bytes freed by those aborts (and by deferred deletes)
 */
public record ReclaimResult(long pinsDropped, long objectsAborted, long bytesFreed) {}

"""Plain records the Store returns: ObjectInfo, StoreStats, ReclaimResult.

Invariants: immutable copies of the C structs they mirror, read once; they
never point into shared memory, so they stay valid after the store closes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectInfo:
    """One object of the store's index (mirrors prs_object_info)."""

    object_id: bytes
    data_size: int
    metadata_size: int
    sealed: bool
    creator_pid: int
    pins: int
    delete_pending: bool


@dataclass(frozen=True)
class StoreStats:
    """Counters of the whole store (mirrors prs_stats)."""

    capacity: int
    bytes_used: int
    objects: int
    sealed_objects: int
    pinned_objects: int
    evictions: int
    recoveries: int


@dataclass(frozen=True)
class ReclaimResult:
    """What ``Store.reclaim`` freed for a dead process (mirrors prs_reclaim_result)."""

    pins_dropped: int
    objects_aborted: int
    bytes_freed: int

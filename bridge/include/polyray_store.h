/*
 * polyray_store.h — the node's shared-memory object store (public C API).
 *
 * One POSIX shared-memory segment per node holds every large object. Python
 * (cffi), C++ (linked) and Java (JNA) processes map the same segment and read
 * sealed objects as views, without copying.
 *
 * Invariants (hold between any two calls, in every process):
 *   - All store state (index, allocator, pins, statistics) lives inside the
 *     segment, addressed by offsets, never by pointers: processes map the
 *     segment at different addresses.
 *   - Every mutation happens under one process-shared robust mutex. When a
 *     process dies holding it, the next locker repairs the state from the
 *     index (the allocator and statistics are derived data, rebuilt from it).
 *   - An object is CREATED (writable by its creator only, invisible to get)
 *     then SEALED (immutable, visible) and finally deleted. Bytes of a sealed
 *     object never change while it exists.
 *   - A sealed object with pins > 0 is never freed nor evicted; delete of a
 *     pinned object is deferred until the last pin is released.
 *   - Pins are counted per process (pid). prs_reclaim(pid) drops every pin a
 *     dead process held and aborts the objects it left unsealed.
 *
 * Object IDs are PRS_OBJECT_ID_SIZE raw bytes (the protocol's ObjectID).
 * Every call returns a prs_status; on failure prs_last_error() gives a
 * thread-local message that names what was wrong (sizes, the id in hex).
 * Thread safety: a prs_store handle may be used from several threads.
 */
#ifndef POLYRAY_STORE_H
#define POLYRAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PRS_OBJECT_ID_SIZE 28

typedef enum prs_status {
  PRS_OK = 0,
  PRS_ERR_INVALID = 1,       /* bad argument: NULL, zero sizes where not allowed, bad name */
  PRS_ERR_ID_LENGTH = 2,     /* an object id that is not PRS_OBJECT_ID_SIZE bytes (bindings) */
  PRS_ERR_NOT_FOUND = 3,     /* no such object (or not created by this caller, for seal/abort) */
  PRS_ERR_EXISTS = 4,        /* create of an id that exists; create_store of an existing segment */
  PRS_ERR_SEALED = 5,        /* seal/abort/write of an object already sealed */
  PRS_ERR_NOT_SEALED = 6,    /* an operation that needs a sealed object */
  PRS_ERR_FULL = 7,          /* no room even after evicting every unpinned sealed object */
  PRS_ERR_TIMEOUT = 8,       /* get: some objects were not sealed within the timeout */
  PRS_ERR_CLOSED = 9,        /* the handle was closed */
  PRS_ERR_NO_SEGMENT = 10,   /* open of a segment that does not exist */
  PRS_ERR_NO_MEMORY = 11,    /* the capacity cannot be mapped on this machine */
  PRS_ERR_TABLE_FULL = 12,   /* the object index or pin table has no free slot */
  PRS_ERR_NOT_PINNED = 13,   /* release of an object this process does not pin */
  PRS_ERR_BAD_SEGMENT = 14,  /* the segment is not a polyray store (magic/version) */
  PRS_ERR_SYSTEM = 15        /* an OS call failed; the message has errno's text */
} prs_status;

typedef struct prs_store prs_store; /* a process's handle on a mapped store */

/* A read-only view of a sealed object; valid while pinned (until release). */
typedef struct prs_view {
  const uint8_t *data;
  uint64_t data_size;
  const uint8_t *metadata;
  uint64_t metadata_size;
  int found; /* 1 when the view is valid (and pinned), 0 when not sealed in time */
} prs_view;

typedef struct prs_object_info {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  uint64_t data_size;
  uint64_t metadata_size;
  int32_t sealed;      /* 0 while being created */
  int32_t creator_pid;
  int64_t pins;        /* total over all processes */
  int32_t delete_pending;
} prs_object_info;

typedef struct prs_stats {
  uint64_t capacity;       /* bytes available for object data */
  uint64_t bytes_used;     /* bytes allocated to objects (sealed or not) */
  uint64_t objects;        /* objects in the index (sealed or not) */
  uint64_t sealed_objects;
  uint64_t pinned_objects; /* objects with at least one pin */
  uint64_t evictions;      /* objects evicted since creation */
  uint64_t recoveries;     /* times the state was repaired after a dead lock holder */
} prs_stats;

typedef struct prs_reclaim_result {
  uint64_t pins_dropped;
  uint64_t objects_aborted;
  uint64_t bytes_freed;
} prs_reclaim_result;

/* Human-readable name of a status ("store full", ...). Never NULL. */
const char *prs_status_name(int status);
/* Details of the last failure in this thread. Never NULL. */
const char *prs_last_error(void);

/* Create a new segment `name` ("/polyray-..." style, one leading '/', no other
 * '/') with room for `capacity` bytes of objects, and map it.
 * PRS_ERR_EXISTS if the segment exists; PRS_ERR_NO_MEMORY if it cannot be sized
 * or mapped. */
int prs_store_create(const char *name, uint64_t capacity, prs_store **out);
/* Map an existing segment. PRS_ERR_NO_SEGMENT, PRS_ERR_BAD_SEGMENT. */
int prs_store_open(const char *name, prs_store **out);
/* Unmap and free the handle. Pins this process still holds stay counted until
 * the process exits and is reclaimed, or are dropped now if `drop_pins`. */
int prs_store_close(prs_store *store, int drop_pins);
/* Remove the segment name (mapped processes keep their mapping). */
int prs_store_unlink(const char *name);

/* Allocate an object of data_size + metadata_size bytes (either may be 0) and
 * return writable pointers to its two parts. The object is invisible to get
 * until sealed. May evict unpinned sealed objects (LRU first) to make room.
 * PRS_ERR_EXISTS, PRS_ERR_FULL (message gives requested, capacity, used,
 * pinned bytes), PRS_ERR_TABLE_FULL. */
int prs_create(prs_store *store, const uint8_t *id, uint64_t data_size,
               uint64_t metadata_size, uint8_t **data, uint8_t **metadata);
/* Make a created object immutable and visible; wakes waiting getters.
 * PRS_ERR_NOT_FOUND, PRS_ERR_SEALED (double seal). */
int prs_seal(prs_store *store, const uint8_t *id);
/* Drop an unsealed object. PRS_ERR_NOT_FOUND, PRS_ERR_SEALED. */
int prs_abort(prs_store *store, const uint8_t *id);

/* Pin and view `count` objects (ids: count * PRS_OBJECT_ID_SIZE bytes),
 * waiting up to timeout_ms for ones not yet sealed (0: do not wait; <0: wait
 * forever). Views of objects sealed in time have found=1 and are pinned (one
 * pin each; release each once). Returns PRS_OK when all were found, else
 * PRS_ERR_TIMEOUT (the found ones are still pinned and filled in). */
int prs_get(prs_store *store, const uint8_t *ids, size_t count,
            int64_t timeout_ms, prs_view *views);
/* Drop one pin this process holds. PRS_ERR_NOT_FOUND, PRS_ERR_NOT_PINNED. */
int prs_release(prs_store *store, const uint8_t *id);

/* *out = 1 when the object exists and is sealed. */
int prs_contains(prs_store *store, const uint8_t *id, int *out);
/* Delete a sealed object now, or when its last pin is released.
 * PRS_ERR_NOT_FOUND, PRS_ERR_NOT_SEALED. */
int prs_delete(prs_store *store, const uint8_t *id);
/* Fill up to `capacity` infos; *count = number of objects in the store. */
int prs_list(prs_store *store, prs_object_info *infos, size_t capacity,
             size_t *count);
int prs_get_stats(prs_store *store, prs_stats *out);
/* Free at least `bytes` by deleting least-recently-used sealed unpinned
 * objects; *freed = bytes actually freed (may be less). */
int prs_evict(prs_store *store, uint64_t bytes, uint64_t *freed);
/* Drop every pin of process `pid` and abort its unsealed objects (call it for
 * processes known dead). */
int prs_reclaim(prs_store *store, int32_t pid, prs_reclaim_result *out);

/* Make the pages of the data region's bytes [offset, offset + length)
 * (clamped to the region, widened to whole pages) resident in the segment
 * and mapped in this process, so that creating an object there later costs
 * no page allocation (in any process) and no page fault (in this one).
 * Never changes a byte and takes no store lock: it may run beside puts, on
 * any thread. Uses madvise(MADV_POPULATE_WRITE) (Linux >= 5.14), else
 * touches one byte per page with an atomic add of 0. *done (may be NULL) =
 * bytes of the region now covered from `offset` (0 when offset is past the
 * end). PRS_ERR_NO_MEMORY when the kernel cannot supply the pages (e.g.
 * /dev/shm is full; the populate path reports it instead of SIGBUS). */
int prs_prefault(prs_store *store, uint64_t offset, uint64_t length,
                 uint64_t *done);

/* Test hook: take the store lock and return without releasing it, so a test
 * can kill the process while it holds the lock. Never use otherwise. */
int prs_test_hold_lock(prs_store *store);

#ifdef __cplusplus
}
#endif
#endif /* POLYRAY_STORE_H */

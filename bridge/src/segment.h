/*
 * segment.h — the layout of the shared segment and the per-process handle.
 *
 * The segment is one POSIX shm object laid out as
 *
 *   [header | clients | entries | index slots | pin records | pin slots |
 *    free-block records | free start slots | free end slots | scratch | data]
 *
 * Invariants:
 *   - Everything is addressed by offsets from the segment base or by record
 *     indices; no pointer into the segment is ever stored in the segment.
 *   - The header's sizes and offsets are written once by the creator before
 *     `magic` (written last), and never change afterwards.
 *   - SOURCE OF TRUTH: entries (committed by their `state` field, written
 *     last), pin records (committed by `count`), clients (committed by
 *     `in_use`), and the persistent counters `evictions`, `recoveries`,
 *     `tick`. Everything marked "derived" below can be thrown away and
 *     rebuilt from those by recover.c; that is how a lock holder's death is
 *     repaired.
 *   - Every field is read or written only under `lock`, except `seq` and
 *     `waiters` (atomics, used for futex waits outside the lock).
 */
#ifndef PRS_SEGMENT_H
#define PRS_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "polyray_store.h"

#define PRS_MAGIC 0x31595250534c4f50ull /* "POLSPRY1" */
#define PRS_VERSION 1u
#define PRS_ALIGN 64u
#define PRS_HEADER_SIZE 4096u
#define PRS_NIL UINT32_MAX /* "no record" in lists */
#define PRS_BINS 64

/* Entry states; the state word is the commit point of an entry. */
enum { PRS_FREE = 0, PRS_CREATED = 1, PRS_SEALED = 2 };

/* One slot of an open-addressing table: ref = record index + 1 (0: empty),
 * tag = the key's 32-bit hash (home slot = tag & mask). Derived data. */
typedef struct prs_hslot {
  uint32_t ref;
  uint32_t tag;
} prs_hslot;

typedef struct prs_entry {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  uint32_t state;          /* commit field: PRS_FREE / CREATED / SEALED */
  uint64_t data_size;
  uint64_t metadata_size;
  uint64_t offset;         /* block start, from the data region start */
  uint64_t block_size;     /* multiple of PRS_ALIGN; 0 for an empty object */
  uint64_t lru_tick;       /* when it last became evictable (LRU order) */
  int32_t creator_pid;
  uint32_t creator_client;
  uint32_t delete_pending; /* delete requested while pinned */
  uint32_t hash;           /* derived: hash of id */
  uint32_t pins;           /* derived: sum of pin record counts */
  uint32_t lru_prev;       /* derived: LRU links (evictable entries only) */
  uint32_t lru_next;
  uint32_t next_free;      /* derived: free-entry list link */
} prs_entry;

typedef struct prs_pin {
  uint32_t entry;
  uint32_t client;
  uint32_t count;     /* commit field: > 0 means the record is live */
  uint32_t next_free; /* derived: free-record list link */
} prs_pin;

typedef struct prs_client {
  int32_t pid;
  uint32_t gen;         /* bumped on every registration: detects reuse */
  uint32_t in_use;      /* commit field */
  uint32_t attached;    /* a handle still uses it (cleared by close) */
  uint32_t pin_records; /* derived: live pin records of this client */
  uint32_t pad;
} prs_client;

typedef struct prs_fblock { /* all derived: a free block of the data region */
  uint64_t offset;
  uint64_t size;
  uint32_t prev, next; /* bin list links, or next free record when unused */
  uint32_t bin;
  uint32_t pad;
} prs_fblock;

typedef struct prs_header {
  uint64_t magic; /* written last by the creator */
  uint32_t version;
  uint32_t header_size;
  uint64_t total_size;
  uint64_t capacity; /* bytes of the data region */

  /* Table geometry and offsets (immutable). */
  uint32_t max_clients, max_entries, index_slots, max_pins, pin_slots;
  uint32_t max_fblocks, fblock_slots, pad0;
  uint64_t clients_off, entries_off, index_off, pins_off, pin_slots_off;
  uint64_t fblocks_off, fstart_off, fend_off, scratch_off, data_off;

  pthread_mutex_t lock; /* process-shared, robust, error-checking */

  _Atomic uint32_t seq;     /* futex word: bumped on every seal */
  _Atomic uint32_t waiters; /* getters possibly sleeping on seq */

  /* Persistent counters (source of truth, not derivable). */
  uint64_t tick; /* LRU clock */
  uint64_t evictions;
  uint64_t recoveries;
  uint32_t client_gen;
  /* High-water marks: records at or past them were never used (still
   * zero), so creation need not touch them and recovery scans only below.
   * Raised before a record past the mark is written. */
  uint32_t entry_hwm, pin_hwm;
  uint32_t pad1;

  /* Derived state, rebuilt by recover.c. */
  uint64_t bytes_used, pinned_bytes, unsealed_bytes;
  uint64_t objects, sealed_objects, pinned_objects;
  uint32_t entry_free_head, pin_free_head, fblock_free_head, fblock_hwm;
  uint32_t lru_head, lru_tail; /* head = least recently used */
  uint64_t bin_map;           /* bit b set: bins[b] is non-empty */
  uint32_t bins[PRS_BINS];    /* free-block lists by floor(log2(size)) */
} prs_header;

_Static_assert(sizeof(prs_header) <= PRS_HEADER_SIZE, "header too large");

/* A process's handle. The struct is never freed (see store.c): a closed
 * handle stays detectably closed instead of becoming a dangling pointer.
 * Fields after `state` are touched only while the handle is open, by
 * enter()/leave() bracketed calls, or by close once no call is in flight;
 * client, client_gen, fork_gen and pid only under the store lock. */
#define PRS_HANDLE_MAGIC 0x70727368u /* "prsh" */
enum { PRS_H_OPEN = 0, PRS_H_CLOSED = 1 };

struct prs_store {
  uint32_t magic;
  _Atomic int state;      /* PRS_H_OPEN / PRS_H_CLOSED */
  _Atomic int inflight;   /* calls in progress; close waits for 0 */
  uint8_t *base;          /* mapping address */
  size_t map_size;
  prs_header *hdr;
  /* Cached table pointers (process-local, derived from the header). */
  prs_client *clients;
  prs_entry *entries;
  prs_hslot *index;
  prs_pin *pins;
  prs_hslot *pin_slots;
  prs_fblock *fblocks;
  prs_hslot *fstart, *fend;
  uint32_t *scratch;
  uint8_t *data;
  /* The client slot of this handle in this process; re-registered after a
   * fork or after someone reclaimed it. */
  uint32_t client;
  uint32_t client_gen;
  unsigned fork_gen;
  int32_t pid;
  prs_store *next_closed; /* closed handles stay listed (see store.c) */
};

/* segment.c */
int prs_segment_create(const char *name, uint64_t capacity, prs_store *s);
int prs_segment_open(const char *name, prs_store *s);
void prs_segment_unmap(prs_store *s);
int prs_check_name(const char *name);

/* Pointer to the data of an entry's block. */
static inline uint8_t *prs_block_ptr(const prs_store *s, const prs_entry *e) {
  return s->data + e->offset;
}

/* Write a commit field after every earlier store of this thread: the
 * compiler must not sink the record's other fields below it, since a
 * SIGKILL can land between any two instructions. */
static inline void prs_commit_u32(uint32_t *field, uint32_t v) {
  atomic_signal_fence(memory_order_seq_cst);
  *(volatile uint32_t *)field = v;
  atomic_signal_fence(memory_order_seq_cst);
}

#endif

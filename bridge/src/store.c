/*
 * store.c — the public calls (polyray_store.h) on top of the segment's data
 * structures.
 *
 * Invariants (besides the ones of each structure):
 *   - Statistics in the header always equal a scan of the entries:
 *     bytes_used = sum of live blocks; unsealed_bytes = sum of CREATED
 *     blocks; pinned_bytes / pinned_objects = SEALED entries with pins > 0.
 *   - Only unpinned sealed objects are evicted, least recently used first;
 *     an entry is freed only when its pins are 0.
 *   - Every entry point validates its handle first: a NULL or foreign
 *     pointer gives PRS_ERR_INVALID, a closed handle PRS_ERR_CLOSED. Handles
 *     are never freed: close unmaps the segment and keeps the ~170-byte
 *     struct on a process-wide list of closed handles, so a closed handle
 *     stays detectably closed (and leak checkers see it as reachable). That
 *     small cost per close is the price of never reading freed memory.
 *   - A handle is used by one process: after fork() the child gets its own
 *     client slot on first use, so pins are always charged to getpid().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clients.h"
#include "error.h"
#include "index.h"
#include "lock.h"
#include "lru.h"
#include "pins.h"
#include "segment.h"

/* ---- handles ------------------------------------------------------------ */

static _Atomic unsigned fork_generation;
static prs_store *closed_handles;
static pthread_mutex_t closed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) { atomic_fetch_add(&fork_generation, 1); }
static void install_atfork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static int enter(prs_store *s) {
  if (s == NULL) return prs_fail(PRS_ERR_INVALID, "store handle is NULL");
  if (s->magic != PRS_HANDLE_MAGIC)
    return prs_fail(PRS_ERR_INVALID, "not a store handle (bad magic)");
  atomic_fetch_add(&s->inflight, 1);
  if (atomic_load(&s->state) != PRS_H_OPEN) {
    atomic_fetch_sub(&s->inflight, 1);
    return prs_fail(PRS_ERR_CLOSED, "the store handle was closed");
  }
  return PRS_OK;
}

static inline void leave(prs_store *s) { atomic_fetch_sub(&s->inflight, 1); }

/* Under the lock: make sure this handle has a live client slot of this
 * process (after a fork, or if someone reclaimed our pid). */
static int ensure_client(prs_store *s) {
  unsigned fg = atomic_load(&fork_generation);
  if (s->client != PRS_NIL && s->fork_gen == fg) {
    const prs_client *c = &s->clients[s->client];
    if (c->in_use && c->gen == s->client_gen) return PRS_OK;
  }
  int32_t pid = (int32_t)getpid();
  uint32_t c = prs_client_register(s, pid);
  if (c == PRS_NIL)
    return prs_fail(PRS_ERR_TABLE_FULL,
                    "all %u client slots are taken (reclaim dead processes)",
                    s->hdr->max_clients);
  s->client = c;
  s->client_gen = s->clients[c].gen;
  s->fork_gen = fg;
  s->pid = pid;
  return PRS_OK;
}

static prs_store *handle_new(void) {
  pthread_once(&atfork_once, install_atfork);
  prs_store *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->magic = PRS_HANDLE_MAGIC;
  s->client = PRS_NIL;
  atomic_init(&s->state, PRS_H_OPEN);
  atomic_init(&s->inflight, 0);
  return s;
}

static int attach(prs_store *s, prs_store **out) {
  int rc = prs_lock(s);
  if (rc == PRS_OK) {
    rc = ensure_client(s);
    prs_unlock(s);
  }
  if (rc != PRS_OK) {
    prs_segment_unmap(s);
    free(s); /* never handed out: safe to free */
    return rc;
  }
  *out = s;
  return PRS_OK;
}

int prs_store_create(const char *name, uint64_t capacity, prs_store **out) {
  if (out == NULL) return prs_fail(PRS_ERR_INVALID, "out is NULL");
  *out = NULL;
  prs_store *s = handle_new();
  if (s == NULL) return prs_fail(PRS_ERR_SYSTEM, "out of memory");
  int rc = prs_segment_create(name, capacity, s);
  if (rc != PRS_OK) {
    free(s);
    return rc;
  }
  return attach(s, out);
}

int prs_store_open(const char *name, prs_store **out) {
  if (out == NULL) return prs_fail(PRS_ERR_INVALID, "out is NULL");
  *out = NULL;
  prs_store *s = handle_new();
  if (s == NULL) return prs_fail(PRS_ERR_SYSTEM, "out of memory");
  int rc = prs_segment_open(name, s);
  if (rc != PRS_OK) {
    free(s);
    return rc;
  }
  return attach(s, out);
}

int prs_store_unlink(const char *name) {
  int rc = prs_check_name(name);
  if (rc) return rc;
  if (shm_unlink(name) == 0) return PRS_OK;
  if (errno == ENOENT)
    return prs_fail(PRS_ERR_NO_SEGMENT, "no store segment named %s", name);
  return prs_fail(PRS_ERR_SYSTEM, "shm_unlink(%s): %s", name, strerror(errno));
}

/* ---- entry life cycle (all under the lock) ------------------------------ */

static void entry_free(prs_store *s, uint32_t e) {
  prs_header *h = s->hdr;
  prs_entry *en = &s->entries[e];
  uint64_t off = en->offset, block = en->block_size;
  int sealed = en->state == PRS_SEALED;
  prs_index_remove(s, e); /* the commit: state = FREE */
  if (block) prs_free(s, off, block);
  h->objects--;
  h->bytes_used -= block;
  if (sealed)
    h->sealed_objects--;
  else
    h->unsealed_bytes -= block;
}

static void evict_lru(prs_store *s) {
  uint32_t e = s->hdr->lru_head;
  prs_lru_remove(s, e);
  entry_free(s, e);
  s->hdr->evictions++;
}

static int pin(prs_store *s, uint32_t e) {
  prs_entry *en = &s->entries[e];
  uint32_t before = en->pins;
  if (prs_pin_add(s, e, s->client) != 0) return -1;
  if (before == 0) {
    prs_lru_remove(s, e);
    s->hdr->pinned_objects++;
    s->hdr->pinned_bytes += en->block_size;
  }
  return 0;
}

/* Drop n pins of record r; frees or re-queues the entry at its last pin.
 * Returns the bytes freed by a deferred delete. */
static uint64_t unpin(prs_store *s, uint32_t r, uint32_t n) {
  uint32_t e = s->pins[r].entry;
  prs_entry *en = &s->entries[e];
  prs_pin_drop(s, r, n);
  if (en->pins > 0) return 0;
  s->hdr->pinned_objects--;
  s->hdr->pinned_bytes -= en->block_size;
  if (en->delete_pending) {
    uint64_t block = en->block_size;
    entry_free(s, e);
    return block;
  }
  prs_lru_push(s, e);
  return 0;
}

/* Drop every pin of client c; returns pins dropped, adds freed bytes. */
static uint64_t unpin_client(prs_store *s, uint32_t c, uint64_t *freed) {
  uint64_t dropped = 0;
  for (uint32_t r = 0; r < s->hdr->pin_hwm && s->clients[c].pin_records; r++) {
    prs_pin *p = &s->pins[r];
    if (p->count == 0 || p->client != c) continue;
    dropped += p->count;
    *freed += unpin(s, r, p->count);
  }
  return dropped;
}

static const char *state_name(const prs_entry *e) {
  return e->state == PRS_SEALED ? "sealed" : "being created";
}

/* ---- create / seal / abort ---------------------------------------------- */

static int full_error(prs_store *s, const uint8_t *id, uint64_t data_size,
                      uint64_t metadata_size, uint64_t block, const char *why) {
  prs_header *h = s->hdr;
  char hex[PRS_HEX_SIZE], req[32];
  uint64_t sum = data_size + metadata_size;
  if (sum < data_size)
    snprintf(req, sizeof req, "more than %llu", (unsigned long long)UINT64_MAX);
  else
    snprintf(req, sizeof req, "%llu", (unsigned long long)sum);
  return prs_fail(
      PRS_ERR_FULL,
      "cannot create object %s: requested %s bytes (data %llu + metadata "
      "%llu, block %llu); capacity %llu, used %llu, pinned %llu, "
      "unsealed %llu, largest free block %llu bytes%s",
      prs_hex(id, hex), req,
      (unsigned long long)data_size, (unsigned long long)metadata_size,
      (unsigned long long)block, (unsigned long long)h->capacity,
      (unsigned long long)h->bytes_used, (unsigned long long)h->pinned_bytes,
      (unsigned long long)h->unsealed_bytes,
      (unsigned long long)prs_alloc_largest(s), why);
}

int prs_create(prs_store *s, const uint8_t *id, uint64_t data_size,
               uint64_t metadata_size, uint8_t **data, uint8_t **metadata) {
  int rc = enter(s);
  if (rc) return rc;
  if (data) *data = NULL;
  if (metadata) *metadata = NULL;
  if (id == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "object id is NULL");
  }
  char hex[PRS_HEX_SIZE];
  uint64_t cap = s->hdr->capacity; /* immutable: safe without the lock */
  uint64_t need = data_size + metadata_size;
  int too_big = need < data_size || need > cap; /* overflow or oversize */
  uint64_t block = too_big ? 0 : (need + PRS_ALIGN - 1) / PRS_ALIGN * PRS_ALIGN;
  uint32_t hash = prs_id_hash(id);

  if ((rc = prs_lock(s)) != PRS_OK) goto out;
  prs_header *h = s->hdr;
  if (too_big) {
    rc = full_error(s, id, data_size, metadata_size, block,
                    " (larger than the whole store)");
    goto unlock;
  }
  if ((rc = ensure_client(s)) != PRS_OK) goto unlock;
  uint32_t e = prs_index_find(s, id, hash);
  if (e != PRS_NIL) {
    const prs_entry *en = &s->entries[e];
    rc = prs_fail(PRS_ERR_EXISTS, "object %s already exists (%s%s, pid %d)",
                  prs_hex(id, hex), state_name(en),
                  en->delete_pending ? ", delete pending" : "",
                  (int)en->creator_pid);
    goto unlock;
  }
  /* Fail fast, without evicting anything, when even an empty LRU would not
   * leave room: pinned and unsealed bytes cannot be reclaimed. */
  if (block > cap - h->pinned_bytes - h->unsealed_bytes) {
    rc = full_error(s, id, data_size, metadata_size, block,
                    " (pinned and unsealed objects leave too little room)");
    goto unlock;
  }
  while ((e = prs_index_take(s)) == PRS_NIL && h->lru_head != PRS_NIL)
    evict_lru(s);
  if (e == PRS_NIL) {
    rc = prs_fail(PRS_ERR_TABLE_FULL,
                  "cannot create object %s: all %u index entries hold pinned "
                  "or unsealed objects",
                  prs_hex(id, hex), h->max_entries);
    goto unlock;
  }
  uint64_t off = 0;
  if (block > 0) {
    while (prs_alloc(s, block, &off) != 0) {
      if (h->lru_head == PRS_NIL) {
        /* Give the record back: it was never committed. */
        s->entries[e].next_free = h->entry_free_head;
        h->entry_free_head = e;
        rc = full_error(s, id, data_size, metadata_size, block,
                        " (free space is fragmented)");
        goto unlock;
      }
      evict_lru(s);
    }
  }
  prs_entry *en = &s->entries[e];
  memcpy(en->id, id, PRS_OBJECT_ID_SIZE);
  en->data_size = data_size;
  en->metadata_size = metadata_size;
  en->offset = off;
  en->block_size = block;
  en->lru_tick = 0;
  en->creator_pid = s->pid;
  en->creator_client = s->client;
  en->delete_pending = 0;
  en->hash = hash;
  en->pins = 0;
  en->lru_prev = en->lru_next = PRS_NIL;
  prs_commit_u32(&en->state, PRS_CREATED);
  prs_index_insert(s, e);
  h->objects++;
  h->bytes_used += block;
  h->unsealed_bytes += block;
  if (data) *data = s->data + off;
  if (metadata) *metadata = s->data + off + data_size;
unlock:
  prs_unlock(s);
out:
  leave(s);
  return rc;
}

/* Find an unsealed object created by this process, or fail. */
static int find_own_unsealed(prs_store *s, const uint8_t *id, const char *op,
                             uint32_t *out) {
  char hex[PRS_HEX_SIZE];
  int rc = ensure_client(s); /* makes s->pid this process's pid */
  if (rc) return rc;
  uint32_t e = prs_index_find(s, id, prs_id_hash(id));
  if (e == PRS_NIL)
    return prs_fail(PRS_ERR_NOT_FOUND, "%s: no object %s", op,
                    prs_hex(id, hex));
  const prs_entry *en = &s->entries[e];
  if (en->state == PRS_SEALED)
    return prs_fail(PRS_ERR_SEALED, "%s: object %s is already sealed", op,
                    prs_hex(id, hex));
  if (en->creator_pid != s->pid)
    return prs_fail(PRS_ERR_NOT_FOUND,
                    "%s: object %s is being created by pid %d, not by this "
                    "process",
                    op, prs_hex(id, hex), (int)en->creator_pid);
  *out = e;
  return PRS_OK;
}

int prs_seal(prs_store *s, const uint8_t *id) {
  int rc = enter(s);
  if (rc) return rc;
  if (id == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "seal: object id is NULL");
  }
  if ((rc = prs_lock(s)) == PRS_OK) {
    uint32_t e;
    if ((rc = find_own_unsealed(s, id, "seal", &e)) == PRS_OK) {
      prs_entry *en = &s->entries[e];
      prs_commit_u32(&en->state, PRS_SEALED);
      s->hdr->unsealed_bytes -= en->block_size;
      s->hdr->sealed_objects++;
      prs_lru_push(s, e);
    }
    prs_unlock(s);
    if (rc == PRS_OK) prs_seq_bump(s);
  }
  leave(s);
  return rc;
}

int prs_abort(prs_store *s, const uint8_t *id) {
  int rc = enter(s);
  if (rc) return rc;
  if (id == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "abort: object id is NULL");
  }
  if ((rc = prs_lock(s)) == PRS_OK) {
    uint32_t e;
    if ((rc = find_own_unsealed(s, id, "abort", &e)) == PRS_OK)
      entry_free(s, e);
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

/* ---- get / release ------------------------------------------------------ */

static void fill_view(prs_store *s, const prs_entry *en, prs_view *v) {
  const uint8_t *p = s->data + en->offset;
  v->data = p;
  v->data_size = en->data_size;
  v->metadata = p + en->data_size;
  v->metadata_size = en->metadata_size;
  v->found = 1;
}

/* Under the lock: pin every still-missing sealed object. Returns the number
 * still missing, or -1 if the pin table filled up. */
static long get_pass(prs_store *s, const uint8_t *ids, size_t count,
                     prs_view *views) {
  long missing = 0;
  for (size_t i = 0; i < count; i++) {
    if (views[i].found) continue;
    const uint8_t *id = ids + i * PRS_OBJECT_ID_SIZE;
    uint32_t e = prs_index_find(s, id, prs_id_hash(id));
    const prs_entry *en = e == PRS_NIL ? NULL : &s->entries[e];
    if (en == NULL || en->state != PRS_SEALED || en->delete_pending) {
      missing++;
      continue;
    }
    if (pin(s, e) != 0) return -1;
    fill_view(s, en, &views[i]);
  }
  return missing;
}

static void unpin_views(prs_store *s, const uint8_t *ids, size_t count,
                        prs_view *views) {
  for (size_t i = 0; i < count; i++) {
    if (!views[i].found) continue;
    const uint8_t *id = ids + i * PRS_OBJECT_ID_SIZE;
    uint32_t e = prs_index_find(s, id, prs_id_hash(id));
    uint32_t r = e == PRS_NIL ? PRS_NIL : prs_pin_find(s, e, s->client);
    if (r != PRS_NIL) unpin(s, r, 1);
    memset(&views[i], 0, sizeof views[i]);
  }
}

int prs_get(prs_store *s, const uint8_t *ids, size_t count, int64_t timeout_ms,
            prs_view *views) {
  int rc = enter(s);
  if (rc) return rc;
  if (count > 0 && (ids == NULL || views == NULL)) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "get: %s is NULL with count %zu",
                    ids == NULL ? "ids" : "views", count);
  }
  for (size_t i = 0; i < count; i++) memset(&views[i], 0, sizeof views[i]);

  struct timespec deadline;
  int have_deadline = 0;
  for (;;) {
    uint32_t seen = atomic_load(&s->hdr->seq); /* before looking: see lock.c */
    if ((rc = prs_lock(s)) != PRS_OK) break;
    long missing = -1;
    if ((rc = ensure_client(s)) == PRS_OK)
      missing = get_pass(s, ids, count, views);
    if (rc == PRS_OK && missing < 0) {
      unpin_views(s, ids, count, views);
      rc = prs_fail(PRS_ERR_TABLE_FULL,
                    "get: the pin table is full (%u pins records in use)",
                    s->hdr->max_pins);
    }
    prs_unlock(s);
    if (rc != PRS_OK || missing == 0) break;

    if (atomic_load(&s->state) != PRS_H_OPEN) {
      rc = prs_fail(PRS_ERR_CLOSED, "get: the store handle was closed while "
                                    "waiting");
      break;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (timeout_ms >= 0 && !have_deadline) {
      int64_t ms = timeout_ms;
      deadline.tv_sec = now.tv_sec + ms / 1000;
      deadline.tv_nsec = now.tv_nsec + (ms % 1000) * 1000000L;
      if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
      }
      have_deadline = 1;
    }
    if (have_deadline &&
        (now.tv_sec > deadline.tv_sec ||
         (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))) {
      char hex[PRS_HEX_SIZE];
      size_t first = 0;
      while (first < count && views[first].found) first++;
      rc = prs_fail(PRS_ERR_TIMEOUT,
                    "get: %ld of %zu objects not sealed within %lld ms "
                    "(first missing: %s)",
                    missing, count, (long long)timeout_ms,
                    prs_hex(ids + first * PRS_OBJECT_ID_SIZE, hex));
      break;
    }
    prs_seq_wait(s, seen, have_deadline ? &deadline : NULL);
  }
  leave(s);
  return rc;
}

int prs_release(prs_store *s, const uint8_t *id) {
  int rc = enter(s);
  if (rc) return rc;
  if (id == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "release: object id is NULL");
  }
  char hex[PRS_HEX_SIZE];
  if ((rc = prs_lock(s)) == PRS_OK) {
    uint32_t e = prs_index_find(s, id, prs_id_hash(id));
    if (e == PRS_NIL) {
      rc = prs_fail(PRS_ERR_NOT_FOUND, "release: no object %s",
                    prs_hex(id, hex));
    } else if ((rc = ensure_client(s)) == PRS_OK) {
      uint32_t r = prs_pin_find(s, e, s->client);
      if (r == PRS_NIL)
        rc = prs_fail(PRS_ERR_NOT_PINNED,
                      "release: object %s is not pinned by this process "
                      "(pid %d) through this handle",
                      prs_hex(id, hex), (int)s->pid);
      else
        unpin(s, r, 1);
    }
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

/* ---- queries and deletion ----------------------------------------------- */

int prs_contains(prs_store *s, const uint8_t *id, int *out) {
  int rc = enter(s);
  if (rc) return rc;
  if (id == NULL || out == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "contains: %s is NULL",
                    id == NULL ? "object id" : "out");
  }
  *out = 0;
  if ((rc = prs_lock(s)) == PRS_OK) {
    uint32_t e = prs_index_find(s, id, prs_id_hash(id));
    *out = e != PRS_NIL && s->entries[e].state == PRS_SEALED &&
           !s->entries[e].delete_pending;
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

int prs_delete(prs_store *s, const uint8_t *id) {
  int rc = enter(s);
  if (rc) return rc;
  if (id == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "delete: object id is NULL");
  }
  char hex[PRS_HEX_SIZE];
  if ((rc = prs_lock(s)) == PRS_OK) {
    uint32_t e = prs_index_find(s, id, prs_id_hash(id));
    prs_entry *en = e == PRS_NIL ? NULL : &s->entries[e];
    if (en == NULL) {
      rc = prs_fail(PRS_ERR_NOT_FOUND, "delete: no object %s",
                    prs_hex(id, hex));
    } else if (en->state != PRS_SEALED) {
      rc = prs_fail(PRS_ERR_NOT_SEALED,
                    "delete: object %s is still being created by pid %d",
                    prs_hex(id, hex), (int)en->creator_pid);
    } else if (en->pins > 0) {
      prs_commit_u32(&en->delete_pending, 1); /* idempotent */
    } else {
      prs_lru_remove(s, e);
      entry_free(s, e);
    }
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

int prs_list(prs_store *s, prs_object_info *infos, size_t capacity,
             size_t *count) {
  int rc = enter(s);
  if (rc) return rc;
  if (count == NULL || (capacity > 0 && infos == NULL)) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "list: %s is NULL",
                    count == NULL ? "count" : "infos");
  }
  if ((rc = prs_lock(s)) == PRS_OK) {
    size_t n = 0;
    for (uint32_t i = 0; i < s->hdr->entry_hwm; i++) {
      const prs_entry *en = &s->entries[i];
      if (!prs_live(en)) continue;
      if (n < capacity) {
        prs_object_info *o = &infos[n];
        memcpy(o->id, en->id, PRS_OBJECT_ID_SIZE);
        o->data_size = en->data_size;
        o->metadata_size = en->metadata_size;
        o->sealed = en->state == PRS_SEALED;
        o->creator_pid = en->creator_pid;
        o->pins = en->pins;
        o->delete_pending = (int32_t)en->delete_pending;
      }
      n++;
    }
    *count = n;
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

int prs_get_stats(prs_store *s, prs_stats *out) {
  int rc = enter(s);
  if (rc) return rc;
  if (out == NULL) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "stats: out is NULL");
  }
  if ((rc = prs_lock(s)) == PRS_OK) {
    const prs_header *h = s->hdr;
    out->capacity = h->capacity;
    out->bytes_used = h->bytes_used;
    out->objects = h->objects;
    out->sealed_objects = h->sealed_objects;
    out->pinned_objects = h->pinned_objects;
    out->evictions = h->evictions;
    out->recoveries = h->recoveries;
    prs_unlock(s);
  }
  leave(s);
  return rc;
}

int prs_evict(prs_store *s, uint64_t bytes, uint64_t *freed) {
  int rc = enter(s);
  if (rc) return rc;
  uint64_t got = 0;
  if ((rc = prs_lock(s)) == PRS_OK) {
    while (got < bytes && s->hdr->lru_head != PRS_NIL) {
      got += s->entries[s->hdr->lru_head].block_size;
      evict_lru(s);
    }
    prs_unlock(s);
  }
  if (freed) *freed = got;
  leave(s);
  return rc;
}

/* ---- reclaim, close, test hook ------------------------------------------ */

int prs_reclaim(prs_store *s, int32_t pid, prs_reclaim_result *out) {
  int rc = enter(s);
  if (rc) return rc;
  if (pid <= 0) {
    leave(s);
    return prs_fail(PRS_ERR_INVALID, "reclaim: bad pid %d", (int)pid);
  }
  prs_reclaim_result res = {0, 0, 0};
  if ((rc = prs_lock(s)) == PRS_OK) {
    prs_header *h = s->hdr;
    for (uint32_t c = 0; c < h->max_clients; c++) {
      if (!s->clients[c].in_use || s->clients[c].pid != pid) continue;
      res.pins_dropped += unpin_client(s, c, &res.bytes_freed);
      prs_client_release(s, c);
    }
    for (uint32_t i = 0; i < h->entry_hwm; i++) {
      prs_entry *en = &s->entries[i];
      if (en->state != PRS_CREATED || en->creator_pid != pid) continue;
      res.objects_aborted++;
      res.bytes_freed += en->block_size;
      entry_free(s, i);
    }
    prs_unlock(s);
  }
  if (out) *out = res;
  leave(s);
  return rc;
}

int prs_store_close(prs_store *s, int drop_pins) {
  if (s == NULL) return prs_fail(PRS_ERR_INVALID, "store handle is NULL");
  if (s->magic != PRS_HANDLE_MAGIC)
    return prs_fail(PRS_ERR_INVALID, "not a store handle (bad magic)");
  int expected = PRS_H_OPEN;
  if (!atomic_compare_exchange_strong(&s->state, &expected, PRS_H_CLOSED))
    return prs_fail(PRS_ERR_CLOSED, "the store handle was already closed");
  /* Wake our own getters (and, harmlessly, everyone's) so they see the
   * closed state, then wait for calls in flight to finish. */
  while (atomic_load(&s->inflight) > 0) {
    prs_seq_bump(s);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  int rc = prs_lock(s);
  if (rc == PRS_OK) {
    uint32_t c = s->client;
    const prs_client *cl = c == PRS_NIL ? NULL : &s->clients[c];
    int ours = cl && cl->in_use && cl->gen == s->client_gen &&
               s->fork_gen == atomic_load(&fork_generation);
    if (ours && drop_pins) {
      uint64_t freed = 0;
      unpin_client(s, c, &freed);
      for (uint32_t i = 0; i < s->hdr->entry_hwm; i++) {
        prs_entry *en = &s->entries[i];
        if (en->state == PRS_CREATED && en->creator_client == c &&
            en->creator_pid == s->pid)
          entry_free(s, i);
      }
    }
    if (ours) {
      /* Keep the slot while it still holds pins, so reclaim(pid) can
       * drop them later; otherwise it is free for reuse now. */
      if (s->clients[c].pin_records == 0)
        prs_client_release(s, c);
      else
        s->clients[c].attached = 0;
    }
    prs_unlock(s);
  }
  prs_segment_unmap(s);
  pthread_mutex_lock(&closed_lock);
  s->next_closed = closed_handles;
  closed_handles = s;
  pthread_mutex_unlock(&closed_lock);
  return rc;
}

int prs_test_hold_lock(prs_store *s) {
  int rc = enter(s);
  if (rc) return rc;
  rc = prs_lock(s);
  leave(s);
  return rc;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack it */
#endif

/* Touch one byte per page without changing it: an atomic add of 0 is a
 * write access (so the page is allocated and mapped writable) that cannot
 * lose a concurrent writer's byte. */
static void touch_pages(uint8_t *p, uint8_t *end, size_t page) {
  for (; p < end; p += page) __atomic_fetch_add(p, 0, __ATOMIC_RELAXED);
}

int prs_prefault(prs_store *s, uint64_t offset, uint64_t length,
                 uint64_t *done) {
  int rc = enter(s);
  if (rc) return rc;
  if (done) *done = 0;
  uint64_t cap = s->hdr->capacity; /* immutable after creation */
  if (offset >= cap || length == 0) {
    leave(s);
    return PRS_OK;
  }
  uint64_t end = length > cap - offset ? cap : offset + length;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  /* The data region starts on a page boundary (segment.c). */
  uint8_t *lo = s->data + offset / page * page;
  uint8_t *hi = s->data + end;
  uint8_t *map_end = s->base + s->map_size;
  if (hi > map_end) hi = map_end;
  static _Atomic int no_populate = 0; /* learnt once per process */
  if (!atomic_load(&no_populate)) {
    int r;
    do {
      r = madvise(lo, (size_t)(hi - lo), MADV_POPULATE_WRITE);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno == EINVAL) {
      atomic_store(&no_populate, 1); /* kernel before 5.14 */
    } else if (r != 0) {
      int err = errno;
      leave(s);
      return prs_fail(err == ENOMEM || err == EFAULT ? PRS_ERR_NO_MEMORY
                                                     : PRS_ERR_SYSTEM,
                      "prefault of %llu bytes at offset %llu: %s",
                      (unsigned long long)(end - offset),
                      (unsigned long long)offset, strerror(err));
    }
  }
  if (atomic_load(&no_populate)) touch_pages(lo, hi, page);
  if (done) *done = end - offset;
  leave(s);
  return PRS_OK;
}

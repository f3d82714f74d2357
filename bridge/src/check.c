/*
 * check.c — verifies, from scratch, every invariant the other files state:
 * the index finds exactly the live entries; pin counts add up; the LRU list
 * is exactly the evictable set in tick order; free and live blocks tile the
 * data region with no two free blocks adjacent; bins, bitmap and boundary
 * tables agree; statistics equal a scan. O(table size); tests only.
 */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "index.h"
#include "lock.h"
#include "lru.h"
#include "recover.h"
#include "segment.h"

#define FAIL(...)                                        \
  do {                                                   \
    rc = prs_fail(PRS_ERR_BAD_SEGMENT, __VA_ARGS__);     \
    goto done;                                           \
  } while (0)

typedef struct span {
  uint64_t off, size;
  int free;
} span;

static int by_off(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

static uint32_t count_slots(const prs_hslot *t, uint32_t n) {
  uint32_t c = 0;
  for (uint32_t i = 0; i < n; i++) c += t[i].ref != 0;
  return c;
}

int prs_check(prs_store *s) {
  int rc = prs_lock(s);
  if (rc) return rc;
  prs_header *h = s->hdr;
  span *sp = calloc((size_t)h->entry_hwm + h->fblock_hwm + 1, sizeof *sp);
  uint64_t *pinsum = calloc((size_t)h->entry_hwm + 1, sizeof *pinsum);
  if (!sp || !pinsum) FAIL("out of memory");

  /* Entries and the index. */
  uint64_t objects = 0, sealed = 0, pinned = 0, used = 0, pbytes = 0, ubytes = 0;
  size_t ns = 0;
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    const prs_entry *e = &s->entries[i];
    if (!prs_live(e)) {
      if (e->state != PRS_FREE) FAIL("entry %u has state %u", i, e->state);
      continue;
    }
    if (prs_index_find(s, e->id, prs_id_hash(e->id)) != i)
      FAIL("live entry %u not found through the index", i);
    objects++;
    used += e->block_size;
    if (e->block_size) sp[ns++] = (span){e->offset, e->block_size, 0};
    if (e->state == PRS_SEALED) sealed++;
    else ubytes += e->block_size;
  }
  if (count_slots(s->index, h->index_slots) != objects)
    FAIL("index holds %u slots for %llu live entries",
         count_slots(s->index, h->index_slots), (unsigned long long)objects);

  /* Pins. */
  uint32_t live_pins = 0;
  for (uint32_t r = 0; r < h->pin_hwm; r++) {
    const prs_pin *p = &s->pins[r];
    if (p->count == 0) continue;
    live_pins++;
    if (p->entry >= h->entry_hwm || s->entries[p->entry].state != PRS_SEALED)
      FAIL("pin record %u names entry %u, not a sealed object", r, p->entry);
    if (p->client >= h->max_clients || !s->clients[p->client].in_use)
      FAIL("pin record %u names unregistered client %u", r, p->client);
    pinsum[p->entry] += p->count;
  }
  if (count_slots(s->pin_slots, h->pin_slots) != live_pins)
    FAIL("pin table holds %u slots for %u live records",
         count_slots(s->pin_slots, h->pin_slots), live_pins);
  uint32_t lru_expected = 0;
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    const prs_entry *e = &s->entries[i];
    if (!prs_live(e)) continue;
    if (e->pins != pinsum[i])
      FAIL("entry %u has pins %u, records say %llu", i, e->pins,
           (unsigned long long)pinsum[i]);
    if (e->pins) {
      pinned++;
      pbytes += e->block_size;
    } else if (e->delete_pending) {
      FAIL("entry %u is delete-pending without pins", i);
    }
    lru_expected += prs_evictable(e);
  }

  /* LRU. */
  uint32_t n = 0, prev = PRS_NIL;
  uint64_t tick = 0;
  for (uint32_t i = h->lru_head; i != PRS_NIL; i = s->entries[i].lru_next) {
    const prs_entry *e = &s->entries[i];
    if (!prs_evictable(e)) FAIL("LRU holds non-evictable entry %u", i);
    if (e->lru_prev != prev) FAIL("LRU back link of %u is wrong", i);
    if (e->lru_tick < tick) FAIL("LRU out of tick order at %u", i);
    tick = e->lru_tick;
    prev = i;
    if (++n > lru_expected) FAIL("LRU longer than the evictable set");
  }
  if (n != lru_expected || h->lru_tail != prev)
    FAIL("LRU has %u entries, %u are evictable", n, lru_expected);

  /* Allocator: free blocks. */
  uint32_t nfree = 0;
  uint64_t map = 0;
  for (uint32_t b = 0; b < PRS_BINS; b++) {
    uint32_t pv = PRS_NIL;
    for (uint32_t r = h->bins[b]; r != PRS_NIL; r = s->fblocks[r].next) {
      const prs_fblock *f = &s->fblocks[r];
      if (f->bin != b || 63u - (uint32_t)__builtin_clzll(f->size) != b)
        FAIL("free block %u (size %llu) in bin %u", r,
             (unsigned long long)f->size, b);
      if (f->prev != pv) FAIL("free list back link of %u is wrong", r);
      if (f->offset % PRS_ALIGN || f->size % PRS_ALIGN || f->size == 0)
        FAIL("free block %u misaligned", r);
      pv = r;
      map |= 1ull << b;
      if (++nfree > h->fblock_hwm) FAIL("free lists loop");
      sp[ns++] = (span){f->offset, f->size, 1};
    }
  }
  if (map != h->bin_map) FAIL("bin bitmap %llx, bins say %llx",
                             (unsigned long long)h->bin_map,
                             (unsigned long long)map);
  if (count_slots(s->fstart, h->fblock_slots) != nfree ||
      count_slots(s->fend, h->fblock_slots) != nfree)
    FAIL("boundary tables disagree with %u free blocks", nfree);
  qsort(sp, ns, sizeof *sp, by_off);
  uint64_t cursor = 0;
  for (size_t k = 0; k < ns; k++) {
    if (sp[k].off != cursor)
      FAIL("data region not tiled at offset %llu (next block at %llu)",
           (unsigned long long)cursor, (unsigned long long)sp[k].off);
    if (k > 0 && sp[k].free && sp[k - 1].free)
      FAIL("adjacent free blocks at %llu", (unsigned long long)sp[k].off);
    cursor += sp[k].size;
  }
  if (cursor != h->capacity)
    FAIL("blocks end at %llu, capacity %llu", (unsigned long long)cursor,
         (unsigned long long)h->capacity);

  /* Statistics. */
  if (h->objects != objects || h->sealed_objects != sealed ||
      h->pinned_objects != pinned || h->bytes_used != used ||
      h->pinned_bytes != pbytes || h->unsealed_bytes != ubytes)
    FAIL("statistics disagree with a scan");
done:
  prs_unlock(s);
  free(sp);
  free(pinsum);
  return rc;
}

int prs_force_rebuild(prs_store *s) {
  int rc = prs_lock(s);
  if (rc) return rc;
  prs_rebuild(s);
  prs_unlock(s);
  return PRS_OK;
}

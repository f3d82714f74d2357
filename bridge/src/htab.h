/*
 * htab.h — open addressing over record indices (linear probing, backward-
 * shift deletion), used by the object index, the pin table and the
 * allocator's neighbour lookups.
 *
 * Invariants:
 *   - The table has mask+1 slots, a power of two, at least twice the number
 *     of records it can ever hold, so a probe always meets an empty slot.
 *   - An occupied slot sits at or cyclically after its home (tag & mask) with
 *     no empty slot in between (backward-shift deletion keeps this; no
 *     tombstones, so lookups stay short however long the store runs).
 *   - Tables are derived data: they hold no information that is not also in
 *     their records, and recover.c rebuilds them from scratch.
 */
#ifndef PRS_HTAB_H
#define PRS_HTAB_H

#include <stdint.h>

#include "segment.h"

/* Slot position of `ref` (record index) whose hash is `tag`, or -1. */
static inline int64_t prs_htab_find_ref(const prs_hslot *t, uint32_t mask,
                                        uint32_t tag, uint32_t ref) {
  for (uint32_t i = tag & mask;; i = (i + 1) & mask) {
    if (t[i].ref == 0) return -1;
    if (t[i].ref == ref + 1) return i;
  }
}

void prs_htab_insert(prs_hslot *t, uint32_t mask, uint32_t tag, uint32_t ref);
void prs_htab_remove_at(prs_hslot *t, uint32_t mask, uint32_t pos);
/* Remove `ref` if present; returns 1 if it was. */
int prs_htab_remove(prs_hslot *t, uint32_t mask, uint32_t tag, uint32_t ref);
void prs_htab_clear(prs_hslot *t, uint32_t mask);

/* 64-bit mix (from splitmix64's finaliser), folded to 32 bits. */
static inline uint32_t prs_hash64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return (uint32_t)(x ^ (x >> 32));
}

#endif

/*
 * alloc.c — the data-region allocator: segregated free lists with
 * out-of-band boundary lookups.
 *
 * Every free byte range of the data region is described by one free-block
 * record (prs_fblock) kept outside the data region, so a writer overrunning
 * its object can damage only other objects, never the allocator.
 *
 * Invariants:
 *   - Blocks (free or allocated) are multiples of PRS_ALIGN at offsets that
 *     are multiples of PRS_ALIGN; free blocks never overlap allocated ones.
 *   - Free blocks are maximal: no two free blocks touch (frees coalesce), so
 *     there are at most live objects + 1 of them and max_fblocks suffices.
 *   - A free block of size n is on list bins[floor(log2 n)], and bit b of
 *     bin_map is set exactly when bins[b] is non-empty, so finding a block
 *     that surely fits is one count-trailing-zeros: O(1).
 *   - fstart maps a free block's start offset to it and fend its end offset,
 *     so a freed block finds both neighbours in O(1).
 *   - All of this is derived data: recover.c rebuilds it from the entries'
 *     (offset, block_size) whenever a lock holder died.
 */
#include "alloc.h"

#include "htab.h"

static inline uint32_t bin_of(uint64_t size) {
  return 63u - (uint32_t)__builtin_clzll(size);
}

static inline uint32_t fstart_mask(const prs_store *s) {
  return s->hdr->fblock_slots - 1;
}

static uint32_t record_new(prs_store *s) {
  prs_header *h = s->hdr;
  uint32_t r = h->fblock_free_head;
  if (r != PRS_NIL) {
    h->fblock_free_head = s->fblocks[r].next;
    return r;
  }
  /* Records past fblock_hwm have never been used; the invariant above
   * guarantees hwm never exceeds max_fblocks. */
  return h->fblock_hwm++;
}

static void record_release(prs_store *s, uint32_t r) {
  s->fblocks[r].next = s->hdr->fblock_free_head;
  s->hdr->fblock_free_head = r;
}

static void bin_link(prs_store *s, uint32_t r) {
  prs_header *h = s->hdr;
  prs_fblock *b = &s->fblocks[r];
  b->bin = bin_of(b->size);
  b->prev = PRS_NIL;
  b->next = h->bins[b->bin];
  if (b->next != PRS_NIL) s->fblocks[b->next].prev = r;
  h->bins[b->bin] = r;
  h->bin_map |= 1ull << b->bin;
}

static void bin_unlink(prs_store *s, uint32_t r) {
  prs_header *h = s->hdr;
  prs_fblock *b = &s->fblocks[r];
  if (b->prev != PRS_NIL)
    s->fblocks[b->prev].next = b->next;
  else
    h->bins[b->bin] = b->next;
  if (b->next != PRS_NIL) s->fblocks[b->next].prev = b->prev;
  if (h->bins[b->bin] == PRS_NIL) h->bin_map &= ~(1ull << b->bin);
}

static void index_add(prs_store *s, uint32_t r) {
  const prs_fblock *b = &s->fblocks[r];
  prs_htab_insert(s->fstart, fstart_mask(s), prs_hash64(b->offset), r);
  prs_htab_insert(s->fend, fstart_mask(s), prs_hash64(b->offset + b->size), r);
}

static void index_del(prs_store *s, uint32_t r) {
  const prs_fblock *b = &s->fblocks[r];
  prs_htab_remove(s->fstart, fstart_mask(s), prs_hash64(b->offset), r);
  prs_htab_remove(s->fend, fstart_mask(s), prs_hash64(b->offset + b->size), r);
}

/* The free block starting (end=0) or ending (end=1) at `off`, or PRS_NIL. */
static uint32_t find_at(prs_store *s, uint64_t off, int end) {
  const prs_hslot *t = end ? s->fend : s->fstart;
  uint32_t mask = fstart_mask(s), tag = prs_hash64(off);
  for (uint32_t i = tag & mask; t[i].ref != 0; i = (i + 1) & mask) {
    if (t[i].tag != tag) continue;
    const prs_fblock *b = &s->fblocks[t[i].ref - 1];
    if ((end ? b->offset + b->size : b->offset) == off) return t[i].ref - 1;
  }
  return PRS_NIL;
}

/* Of at most `budget` blocks of list `head` that hold `size`, the one at the
 * lowest offset, or PRS_NIL. Lowest first: freed extents (below the untouched
 * tail, whose pages were faulted in already) are reused before fresh memory,
 * and fresh memory is taken in the order the node's prefault populates it. */
static uint32_t lowest_fit(const prs_store *s, uint32_t head, uint64_t size,
                           int budget) {
  uint32_t best = PRS_NIL;
  for (uint32_t i = head; i != PRS_NIL && budget-- > 0;
       i = s->fblocks[i].next) {
    if (s->fblocks[i].size >= size &&
        (best == PRS_NIL || s->fblocks[i].offset < s->fblocks[best].offset))
      best = i;
  }
  return best;
}

int prs_alloc(prs_store *s, uint64_t size, uint64_t *offset) {
  prs_header *h = s->hdr;
  uint32_t b = bin_of(size);
  /* A few blocks of the request's own bin may fit (they are >= 2^b); look at
   * them first so exact-ish fits do not split large blocks. Bounded scan. */
  uint32_t r = lowest_fit(s, h->bins[b], size, 8);
  if (r == PRS_NIL) {
    /* Every block in a higher bin is >= 2^(b+1) > size: the smallest such
     * bin, and the lowest of a few of its blocks. */
    uint64_t higher = b >= 63 ? 0 : h->bin_map & (~0ull << (b + 1));
    if (higher == 0) return -1;
    r = lowest_fit(s, h->bins[__builtin_ctzll(higher)], size, 8);
  }
  prs_fblock *fb = &s->fblocks[r];
  *offset = fb->offset;
  bin_unlink(s, r);
  index_del(s, r);
  if (fb->size == size) {
    record_release(s, r);
  } else {
    fb->offset += size;
    fb->size -= size;
    index_add(s, r);
    bin_link(s, r);
  }
  return 0;
}

void prs_free(prs_store *s, uint64_t offset, uint64_t size) {
  uint32_t before = find_at(s, offset, 1);
  uint32_t after = find_at(s, offset + size, 0);
  uint32_t r;
  if (before != PRS_NIL) {
    r = before;
    bin_unlink(s, r);
    index_del(s, r);
    s->fblocks[r].size += size;
  } else {
    r = record_new(s);
    s->fblocks[r].offset = offset;
    s->fblocks[r].size = size;
  }
  if (after != PRS_NIL) {
    bin_unlink(s, after);
    index_del(s, after);
    s->fblocks[r].size += s->fblocks[after].size;
    record_release(s, after);
  }
  index_add(s, r);
  bin_link(s, r);
}

void prs_alloc_reset(prs_store *s) {
  prs_header *h = s->hdr;
  h->fblock_hwm = 0;
  h->fblock_free_head = PRS_NIL;
  h->bin_map = 0;
  for (int i = 0; i < PRS_BINS; i++) h->bins[i] = PRS_NIL;
  prs_htab_clear(s->fstart, fstart_mask(s));
  prs_htab_clear(s->fend, fstart_mask(s));
}

void prs_alloc_add_free(prs_store *s, uint64_t offset, uint64_t size) {
  if (size == 0) return;
  uint32_t r = record_new(s);
  s->fblocks[r].offset = offset;
  s->fblocks[r].size = size;
  index_add(s, r);
  bin_link(s, r);
}

uint64_t prs_alloc_largest(prs_store *s) {
  prs_header *h = s->hdr;
  if (h->bin_map == 0) return 0;
  uint32_t b = 63u - (uint32_t)__builtin_clzll(h->bin_map);
  uint64_t best = 0;
  for (uint32_t i = h->bins[b]; i != PRS_NIL; i = s->fblocks[i].next)
    if (s->fblocks[i].size > best) best = s->fblocks[i].size;
  return best;
}

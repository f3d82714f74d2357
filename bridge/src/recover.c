/*
 * recover.c — the recovery rule.
 *
 * When a process dies holding the store lock, it may have been anywhere in
 * an operation. The rule: trust only the source of truth (entry states,
 * pin record counts, client in_use, each written last as a commit), throw
 * away everything derived (tables, free lists, LRU links, allocator,
 * statistics) and rebuild it. Commits are single aligned 32-bit stores,
 * fenced against compiler reordering, so each record is either wholly in or
 * wholly out.
 *
 * Invariants after prs_rebuild():
 *   - Every live entry lies inside the data region, aligned, with its sizes
 *     fitting its block, and overlaps no other live entry (entries violating
 *     this could only come from damaged memory and are dropped).
 *   - Deferred deletes whose pins are all gone have been carried out.
 *   - The allocator's free blocks are exactly the gaps between live blocks.
 *   - The statistics equal what a scan of the entries gives.
 * Rebuilding is idempotent: a death during recovery just makes the next
 * locker recover again. Cost is O(entries log entries), paid only then.
 */
#include "recover.h"

#include <stdlib.h>

#include "alloc.h"
#include "clients.h"
#include "index.h"
#include "lru.h"
#include "pins.h"

static int by_offset(const void *a, const void *b, void *ctx) {
  const prs_entry *es = ctx;
  uint64_t x = es[*(const uint32_t *)a].offset;
  uint64_t y = es[*(const uint32_t *)b].offset;
  return x < y ? -1 : x > y;
}

static int entry_sane(const prs_store *s, const prs_entry *e) {
  uint64_t cap = s->hdr->capacity;
  uint64_t need = e->data_size + e->metadata_size;
  if (need < e->data_size) return 0;
  if (e->block_size % PRS_ALIGN || e->offset % PRS_ALIGN) return 0;
  if (need > e->block_size) return 0;
  if (e->block_size == 0) return e->offset == 0;
  return e->offset < cap && e->block_size <= cap - e->offset;
}

void prs_rebuild(prs_store *s) {
  prs_header *h = s->hdr;
  if (h->entry_hwm > h->max_entries) h->entry_hwm = h->max_entries;

  prs_clients_rebuild(s);

  /* Sanitise entries and list the live ones that own bytes. */
  uint32_t n = 0;
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    prs_entry *e = &s->entries[i];
    if (e->state != PRS_FREE && (!prs_live(e) || !entry_sane(s, e)))
      prs_commit_u32(&e->state, PRS_FREE);
    if (e->state != PRS_SEALED) e->delete_pending = 0;
    if (prs_live(e) && e->block_size > 0) s->scratch[n++] = i;
  }
  qsort_r(s->scratch, n, sizeof *s->scratch, by_offset, s->entries);
  uint64_t end = 0;
  for (uint32_t k = 0; k < n; k++) {
    prs_entry *e = &s->entries[s->scratch[k]];
    if (e->offset < end)
      prs_commit_u32(&e->state, PRS_FREE);
    else
      end = e->offset + e->block_size;
  }

  prs_index_rebuild(s);
  prs_pins_rebuild(s);

  /* Finish deferred deletes whose last pin went away mid-operation. */
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    prs_entry *e = &s->entries[i];
    if (e->state == PRS_SEALED && e->delete_pending && e->pins == 0)
      prs_index_remove(s, i);
  }

  /* Allocator: free blocks are the gaps between live blocks. */
  prs_alloc_reset(s);
  uint64_t cursor = 0;
  for (uint32_t k = 0; k < n; k++) {
    prs_entry *e = &s->entries[s->scratch[k]];
    if (!prs_live(e)) continue;
    prs_alloc_add_free(s, cursor, e->offset - cursor);
    cursor = e->offset + e->block_size;
  }
  prs_alloc_add_free(s, cursor, h->capacity - cursor);

  prs_lru_rebuild(s);

  h->bytes_used = h->pinned_bytes = h->unsealed_bytes = 0;
  h->objects = h->sealed_objects = h->pinned_objects = 0;
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    prs_entry *e = &s->entries[i];
    if (!prs_live(e)) continue;
    h->objects++;
    h->bytes_used += e->block_size;
    if (e->state == PRS_SEALED) {
      h->sealed_objects++;
      if (e->pins > 0) {
        h->pinned_objects++;
        h->pinned_bytes += e->block_size;
      }
    } else {
      h->unsealed_bytes += e->block_size;
    }
  }
}

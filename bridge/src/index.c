/*
 * index.c — the object index.
 *
 * Entries are fixed records in the segment; the id table (htab.h) maps an
 * id's hash to the entry index.
 *
 * Invariants:
 *   - An entry is live iff its state is CREATED or SEALED; the state word is
 *     written last when an entry is created and first when it is removed,
 *     so a crash at any instruction leaves either a complete entry or a
 *     FREE one. This state word is the store's source of truth.
 *   - Every live entry, and nothing else, is in the id table exactly once;
 *     no two live entries share an id.
 *   - Free records below entry_hwm are on the free list (derived); records
 *     at or above entry_hwm are FREE and were never written.
 */
#include "index.h"

#include <string.h>

#include "htab.h"

uint32_t prs_id_hash(const uint8_t *id) {
  uint64_t a, b, c;
  uint32_t d;
  memcpy(&a, id, 8);
  memcpy(&b, id + 8, 8);
  memcpy(&c, id + 16, 8);
  memcpy(&d, id + 24, 4);
  uint64_t x = a * 0x9e3779b97f4a7c15ull;
  x ^= (b + 0x632be59bd9b4e019ull) * 0xc2b2ae3d27d4eb4full;
  x = (x << 29 | x >> 35) ^ (c * 0x165667b19e3779f9ull);
  x ^= (uint64_t)d * 0xff51afd7ed558ccdull;
  return prs_hash64(x);
}

uint32_t prs_index_find(const prs_store *s, const uint8_t *id, uint32_t hash) {
  const prs_hslot *t = s->index;
  uint32_t mask = s->hdr->index_slots - 1;
  for (uint32_t i = hash & mask; t[i].ref != 0; i = (i + 1) & mask) {
    if (t[i].tag == hash &&
        memcmp(s->entries[t[i].ref - 1].id, id, PRS_OBJECT_ID_SIZE) == 0)
      return t[i].ref - 1;
  }
  return PRS_NIL;
}

uint32_t prs_index_take(prs_store *s) {
  prs_header *h = s->hdr;
  uint32_t e = h->entry_free_head;
  if (e != PRS_NIL) {
    h->entry_free_head = s->entries[e].next_free;
    return e;
  }
  if (h->entry_hwm >= h->max_entries) return PRS_NIL;
  return h->entry_hwm++;
}

void prs_index_insert(prs_store *s, uint32_t e) {
  prs_htab_insert(s->index, s->hdr->index_slots - 1, s->entries[e].hash, e);
}

void prs_index_remove(prs_store *s, uint32_t e) {
  prs_entry *en = &s->entries[e];
  prs_commit_u32(&en->state, PRS_FREE);
  prs_htab_remove(s->index, s->hdr->index_slots - 1, en->hash, e);
  en->delete_pending = 0;
  en->next_free = s->hdr->entry_free_head;
  s->hdr->entry_free_head = e;
}

void prs_index_rebuild(prs_store *s) {
  prs_header *h = s->hdr;
  uint32_t mask = h->index_slots - 1;
  prs_htab_clear(s->index, mask);
  h->entry_free_head = PRS_NIL;
  /* Walk downwards so the free list hands out low records first, keeping
   * the touched part of the table small. */
  for (uint32_t i = h->entry_hwm; i-- > 0;) {
    prs_entry *e = &s->entries[i];
    if (prs_live(e)) {
      e->hash = prs_id_hash(e->id);
      if (prs_index_find(s, e->id, e->hash) == PRS_NIL) {
        prs_htab_insert(s->index, mask, e->hash, i);
        continue;
      }
      prs_commit_u32(&e->state, PRS_FREE); /* duplicate id: keep one */
    }
    e->next_free = h->entry_free_head;
    h->entry_free_head = i;
  }
}

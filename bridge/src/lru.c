/*
 * lru.c — intrusive doubly linked list of evictable objects.
 *
 * Invariants:
 *   - The list holds exactly the entries for which prs_evictable() is true,
 *     ordered by lru_tick: head is the least recently used (sealed or
 *     released longest ago), tail the most recent. Push and remove are O(1).
 *   - Links are derived; lru_tick is kept in the entry so recovery can
 *     restore the order, and the header's tick only grows.
 */
#include "lru.h"

#include <stdlib.h>

void prs_lru_push(prs_store *s, uint32_t e) {
  prs_header *h = s->hdr;
  prs_entry *en = &s->entries[e];
  en->lru_tick = ++h->tick;
  en->lru_next = PRS_NIL;
  en->lru_prev = h->lru_tail;
  if (h->lru_tail != PRS_NIL)
    s->entries[h->lru_tail].lru_next = e;
  else
    h->lru_head = e;
  h->lru_tail = e;
}

void prs_lru_remove(prs_store *s, uint32_t e) {
  prs_header *h = s->hdr;
  prs_entry *en = &s->entries[e];
  if (en->lru_prev != PRS_NIL)
    s->entries[en->lru_prev].lru_next = en->lru_next;
  else
    h->lru_head = en->lru_next;
  if (en->lru_next != PRS_NIL)
    s->entries[en->lru_next].lru_prev = en->lru_prev;
  else
    h->lru_tail = en->lru_prev;
  en->lru_prev = en->lru_next = PRS_NIL;
}

static int by_tick(const void *a, const void *b, void *ctx) {
  const prs_entry *es = ctx;
  uint64_t x = es[*(const uint32_t *)a].lru_tick;
  uint64_t y = es[*(const uint32_t *)b].lru_tick;
  return x < y ? -1 : x > y;
}

void prs_lru_rebuild(prs_store *s) {
  prs_header *h = s->hdr;
  uint32_t n = 0;
  for (uint32_t i = 0; i < h->entry_hwm; i++) {
    prs_entry *e = &s->entries[i];
    e->lru_prev = e->lru_next = PRS_NIL;
    if (prs_evictable(e)) s->scratch[n++] = i;
  }
  qsort_r(s->scratch, n, sizeof *s->scratch, by_tick, s->entries);
  h->lru_head = h->lru_tail = PRS_NIL;
  uint64_t tick = h->tick;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = s->scratch[k];
    uint64_t t = s->entries[i].lru_tick;
    prs_lru_push(s, i);
    s->entries[i].lru_tick = t; /* keep the original stamp */
    if (t > tick) tick = t;
  }
  h->tick = tick;
}

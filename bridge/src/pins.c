/*
 * pins.c — the pin table: how many times each client pins each object.
 *
 * A record is (entry, client, count); the table maps (entry, client) to it.
 *
 * Invariants:
 *   - A record is live iff count > 0 (count is its commit field, written
 *     after entry and client); live records are source of truth, and each
 *     names a SEALED entry and a registered client. At most one live record
 *     exists per (entry, client).
 *   - entry->pins is the sum of its records' counts and a client's
 *     pin_records the number of its live records (derived).
 *   - Free records below pin_hwm are on the free list (derived).
 *   - An entry with pins > 0 is never freed: so a record never names a
 *     recycled entry.
 */
#include "pins.h"

#include "htab.h"
#include "index.h"

static inline uint32_t pin_tag(uint32_t entry, uint32_t client) {
  return prs_hash64((uint64_t)entry << 32 | client);
}

uint32_t prs_pin_find(const prs_store *s, uint32_t entry, uint32_t client) {
  const prs_hslot *t = s->pin_slots;
  uint32_t mask = s->hdr->pin_slots - 1, tag = pin_tag(entry, client);
  for (uint32_t i = tag & mask; t[i].ref != 0; i = (i + 1) & mask) {
    const prs_pin *p = &s->pins[t[i].ref - 1];
    if (t[i].tag == tag && p->entry == entry && p->client == client)
      return t[i].ref - 1;
  }
  return PRS_NIL;
}

int prs_pin_add(prs_store *s, uint32_t entry, uint32_t client) {
  prs_header *h = s->hdr;
  uint32_t r = prs_pin_find(s, entry, client);
  if (r != PRS_NIL) {
    s->pins[r].count++;
  } else {
    r = h->pin_free_head;
    if (r != PRS_NIL) {
      h->pin_free_head = s->pins[r].next_free;
    } else {
      if (h->pin_hwm >= h->max_pins) return -1;
      r = h->pin_hwm++;
    }
    prs_pin *p = &s->pins[r];
    p->entry = entry;
    p->client = client;
    prs_commit_u32(&p->count, 1);
    prs_htab_insert(s->pin_slots, h->pin_slots - 1, pin_tag(entry, client), r);
    s->clients[client].pin_records++;
  }
  s->entries[entry].pins++;
  return 0;
}

void prs_pin_drop(prs_store *s, uint32_t r, uint32_t n) {
  prs_header *h = s->hdr;
  prs_pin *p = &s->pins[r];
  prs_commit_u32(&p->count, p->count - n);
  s->entries[p->entry].pins -= n;
  if (p->count > 0) return;
  prs_htab_remove(s->pin_slots, h->pin_slots - 1, pin_tag(p->entry, p->client),
                  r);
  s->clients[p->client].pin_records--;
  p->next_free = h->pin_free_head;
  h->pin_free_head = r;
}

void prs_pins_rebuild(prs_store *s) {
  prs_header *h = s->hdr;
  uint32_t mask = h->pin_slots - 1;
  if (h->pin_hwm > h->max_pins) h->pin_hwm = h->max_pins;
  prs_htab_clear(s->pin_slots, mask);
  h->pin_free_head = PRS_NIL;
  for (uint32_t i = 0; i < h->entry_hwm; i++) s->entries[i].pins = 0;
  for (uint32_t r = h->pin_hwm; r-- > 0;) {
    prs_pin *p = &s->pins[r];
    if (p->count > 0) {
      int ok = p->entry < h->entry_hwm && p->client < h->max_clients &&
               s->entries[p->entry].state == PRS_SEALED &&
               s->clients[p->client].in_use == 1;
      uint32_t dup = ok ? prs_pin_find(s, p->entry, p->client) : PRS_NIL;
      if (ok && dup == PRS_NIL) {
        prs_htab_insert(s->pin_slots, mask, pin_tag(p->entry, p->client), r);
        s->entries[p->entry].pins += p->count;
        s->clients[p->client].pin_records++;
        continue;
      }
      if (dup != PRS_NIL) { /* cannot happen unless memory was damaged */
        s->pins[dup].count += p->count;
        s->entries[p->entry].pins += p->count;
      }
      prs_commit_u32(&p->count, 0);
    }
    p->next_free = h->pin_free_head;
    h->pin_free_head = r;
  }
}

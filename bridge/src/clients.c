/*
 * clients.c — client slots: one per open handle per process.
 *
 * Pins are charged to a client slot, and a slot records its process id, so
 * prs_reclaim(pid) can find and drop exactly what a dead process held.
 *
 * Invariants:
 *   - A slot is registered iff in_use == 1 (its commit field, written after
 *     pid and gen).
 *   - gen is unique per registration (taken from the header's counter), so
 *     a handle detects that its slot was reclaimed and reused by comparing
 *     the gen it was given.
 *   - Registration scans the table; that is O(max_clients) but happens only
 *     at open, after a fork, or after a reclaim of the caller itself.
 */
#include "clients.h"

uint32_t prs_client_register(prs_store *s, int32_t pid) {
  prs_header *h = s->hdr;
  for (uint32_t c = 0; c < h->max_clients; c++) {
    prs_client *cl = &s->clients[c];
    if (cl->in_use) continue;
    cl->pid = pid;
    cl->gen = ++h->client_gen;
    cl->attached = 1;
    cl->pin_records = 0;
    prs_commit_u32(&cl->in_use, 1);
    return c;
  }
  return PRS_NIL;
}

void prs_client_release(prs_store *s, uint32_t c) {
  prs_commit_u32(&s->clients[c].in_use, 0);
  s->clients[c].attached = 0;
}

void prs_clients_rebuild(prs_store *s) {
  prs_header *h = s->hdr;
  for (uint32_t c = 0; c < h->max_clients; c++) {
    prs_client *cl = &s->clients[c];
    if (cl->in_use != 1) cl->in_use = 0;
    cl->pin_records = 0;
  }
}

/*
 * lru.h — the eviction order (see lru.c).
 */
#ifndef PRS_LRU_H
#define PRS_LRU_H

#include <stdint.h>

#include "segment.h"

/* An entry belongs on the LRU list exactly when this holds. */
static inline int prs_evictable(const prs_entry *e) {
  return e->state == PRS_SEALED && e->pins == 0 && !e->delete_pending;
}

/* Append as most recently used and stamp it with the next tick. */
void prs_lru_push(prs_store *s, uint32_t e);
void prs_lru_remove(prs_store *s, uint32_t e);
/* Relink every evictable entry in tick order (recovery). */
void prs_lru_rebuild(prs_store *s);

#endif

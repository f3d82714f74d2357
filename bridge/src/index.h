/*
 * index.h — the object index: entry records and the id -> entry table.
 */
#ifndef PRS_INDEX_H
#define PRS_INDEX_H

#include <stdint.h>

#include "segment.h"

uint32_t prs_id_hash(const uint8_t *id);
/* The entry holding `id` (any live state), or PRS_NIL. */
uint32_t prs_index_find(const prs_store *s, const uint8_t *id, uint32_t hash);
/* A free entry record, or PRS_NIL when all max_entries are live. */
uint32_t prs_index_take(prs_store *s);
/* Make a committed entry findable. */
void prs_index_insert(prs_store *s, uint32_t e);
/* Un-commit a live entry (state FREE first) and recycle its record. */
void prs_index_remove(prs_store *s, uint32_t e);
/* Rebuild the table and free list from entry states (recovery). */
void prs_index_rebuild(prs_store *s);

static inline int prs_live(const prs_entry *e) {
  return e->state == PRS_CREATED || e->state == PRS_SEALED;
}

#endif

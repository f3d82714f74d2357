/*
 * pins.h — per-process pin counts (see pins.c).
 */
#ifndef PRS_PINS_H
#define PRS_PINS_H

#include <stdint.h>

#include "segment.h"

/* The pin record of (entry, client), or PRS_NIL. */
uint32_t prs_pin_find(const prs_store *s, uint32_t entry, uint32_t client);
/* One more pin of `entry` by `client`; -1 when the pin table is full.
 * Keeps entry->pins and the client's record count up to date. */
int prs_pin_add(prs_store *s, uint32_t entry, uint32_t client);
/* Drop `n` pins (<= count) of record r. */
void prs_pin_drop(prs_store *s, uint32_t r, uint32_t n);
/* Rebuild the table, free list, entry->pins and client counts from the
 * records, dropping records that no longer name a sealed entry and a
 * registered client (recovery). */
void prs_pins_rebuild(prs_store *s);

#endif

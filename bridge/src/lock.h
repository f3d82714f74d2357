/*
 * lock.h — the store lock and the seal sequence word (see lock.c).
 */
#ifndef PRS_LOCK_H
#define PRS_LOCK_H

#include <stdint.h>
#include <time.h>

#include "segment.h"

/* Take the store lock, repairing the store if its last holder died. */
int prs_lock(prs_store *s);
void prs_unlock(prs_store *s);

/* Sleep until seq differs from `seen`, a wake, or the absolute
 * CLOCK_MONOTONIC `deadline` (NULL: no deadline). Spurious returns happen;
 * callers re-check under the lock. */
void prs_seq_wait(prs_store *s, uint32_t seen, const struct timespec *deadline);
/* Bump seq and wake every sleeper (in any process). */
void prs_seq_bump(prs_store *s);

#endif

/*
 * recover.h — rebuilding derived state (see recover.c).
 */
#ifndef PRS_RECOVER_H
#define PRS_RECOVER_H

#include "segment.h"

/* Rebuild every derived structure from the source of truth. Called on a
 * fresh segment and, under the lock, after a lock holder died. */
void prs_rebuild(prs_store *s);

#endif

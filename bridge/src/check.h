/*
 * check.h — full consistency check of a store (tests and debugging only;
 * not exported from the shared library).
 */
#ifndef PRS_CHECK_H
#define PRS_CHECK_H

#include <stddef.h>

#include "polyray_store.h"

/* Take the lock and verify every invariant of every structure. PRS_OK, or
 * PRS_ERR_BAD_SEGMENT with the first violation in prs_last_error(). */
int prs_check(prs_store *s);
/* Rebuild all derived state now, as recovery would (under the lock). */
int prs_force_rebuild(prs_store *s);

#endif

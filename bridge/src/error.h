/*
 * error.h — thread-local failure messages.
 *
 * Invariant: prs_last_error() returns the message of the last failure in the
 * calling thread (never NULL); successes leave it untouched, like errno.
 */
#ifndef PRS_ERROR_H
#define PRS_ERROR_H

#include <stdint.h>

#include "polyray_store.h"

/* Record a message for `status` and return `status`. */
int prs_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Lower-case hex of an object id into buf (2*PRS_OBJECT_ID_SIZE+1 bytes). */
#define PRS_HEX_SIZE (2 * PRS_OBJECT_ID_SIZE + 1)
const char *prs_hex(const uint8_t *id, char *buf);

#endif

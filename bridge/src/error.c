/*
 * error.c — status names and the thread-local last-error message.
 *
 * Invariant: the message buffer is per thread, so concurrent failures in
 * different threads never mix their texts; it is always NUL-terminated.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[768] = "no error";

const char *prs_status_name(int status) {
  switch (status) {
  case PRS_OK: return "ok";
  case PRS_ERR_INVALID: return "invalid argument";
  case PRS_ERR_ID_LENGTH: return "bad object id length";
  case PRS_ERR_NOT_FOUND: return "object not found";
  case PRS_ERR_EXISTS: return "already exists";
  case PRS_ERR_SEALED: return "object already sealed";
  case PRS_ERR_NOT_SEALED: return "object not sealed";
  case PRS_ERR_FULL: return "store full";
  case PRS_ERR_TIMEOUT: return "timed out";
  case PRS_ERR_CLOSED: return "store handle closed";
  case PRS_ERR_NO_SEGMENT: return "no such store segment";
  case PRS_ERR_NO_MEMORY: return "capacity cannot be mapped";
  case PRS_ERR_TABLE_FULL: return "store table full";
  case PRS_ERR_NOT_PINNED: return "object not pinned by this process";
  case PRS_ERR_BAD_SEGMENT: return "not a polyray store segment";
  case PRS_ERR_SYSTEM: return "system error";
  default: return "unknown status";
  }
}

const char *prs_last_error(void) { return last_error; }

int prs_fail(int status, const char *fmt, ...) {
  int n = snprintf(last_error, sizeof last_error, "%s: ",
                   prs_status_name(status));
  if (n < 0 || (size_t)n >= sizeof last_error) return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
  va_end(ap);
  return status;
}

const char *prs_hex(const uint8_t *id, char *buf) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < PRS_OBJECT_ID_SIZE; i++) {
    buf[2 * i] = digits[id[i] >> 4];
    buf[2 * i + 1] = digits[id[i] & 15];
  }
  buf[2 * PRS_OBJECT_ID_SIZE] = '\0';
  return buf;
}

/*
 * test_util.h — tiny assertion helpers shared by the store tests.
 * CHECK prints the failing expression, file:line and the store's last error,
 * then exits non-zero (so a forked child's failure reaches the parent).
 */
#ifndef PRS_TEST_UTIL_H
#define PRS_TEST_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>

#include "polyray_store.h"

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAIL %s:%d (pid %d): %s\n  last error: %s\n",       \
              __FILE__, __LINE__, (int)getpid(), #cond, prs_last_error()); \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* Expect status `want` from an expression, with a readable diagnosis. */
#define CHECK_RC(expr, want)                                                 \
  do {                                                                       \
    int rc_ = (expr);                                                        \
    if (rc_ != (want)) {                                                     \
      fprintf(stderr, "FAIL %s:%d (pid %d): %s returned %d (%s), want %d (%s)\n" \
              "  last error: %s\n",                                          \
              __FILE__, __LINE__, (int)getpid(), #expr, rc_,               \
              prs_status_name(rc_), (int)(want), prs_status_name(want),    \
              prs_last_error());                                           \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, PRS_OK)

/* The last error contains `needle`. */
#define CHECK_MSG(needle)                                                  \
  do {                                                                     \
    if (strstr(prs_last_error(), (needle)) == NULL) {                      \
      fprintf(stderr, "FAIL %s:%d: last error lacks \"%s\": %s\n",         \
              __FILE__, __LINE__, (needle), prs_last_error());             \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* A unique segment name for this test run, unlinked when the test process
 * exits (pass or fail), so failed runs leave nothing in /dev/shm. */
static char test_segment_[64];
static pid_t test_owner_;
static inline void test_cleanup_(void) {
  if (getpid() == test_owner_) shm_unlink(test_segment_);
}
static inline void test_name(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "/prs-test-%s-%d", tag, (int)getpid());
  snprintf(test_segment_, sizeof test_segment_, "%s", buf);
  if (test_owner_ == 0) atexit(test_cleanup_);
  test_owner_ = getpid();
}

/* fork() whose child is killed when the test process dies, so a failing
 * test never leaves busy children behind. */
static inline pid_t test_fork(void) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1); /* parent already gone */
  }
  return pid;
}

/* Id from a number (so tests can name thousands of objects). */
static inline void make_id(uint8_t *id, uint32_t a, uint32_t b) {
  memset(id, 0, PRS_OBJECT_ID_SIZE);
  memcpy(id, &a, 4);
  memcpy(id + 4, &b, 4);
  id[27] = 0x5a;
}

/* Wait for a child; fail unless it exited 0. */
static inline void wait_ok(pid_t pid) {
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "FAIL: child %d ended with status %#x\n", (int)pid, st);
    exit(1);
  }
}

/* The derived statistics agree with a scan of the objects (the source of
 * truth): counts, sealed, pinned, and bytes (blocks are 64-byte aligned). */
static inline void check_consistent(prs_store *s) {
  prs_stats st;
  CHECK_OK(prs_get_stats(s, &st));
  size_t n = 0;
  CHECK_OK(prs_list(s, NULL, 0, &n));
  prs_object_info *info = calloc(n + 1, sizeof *info);
  CHECK(info != NULL);
  size_t n2 = 0;
  CHECK_OK(prs_list(s, info, n + 1, &n2));
  CHECK(n2 == n);
  uint64_t bytes = 0, sealed = 0, pinned = 0;
  for (size_t i = 0; i < n; i++) {
    bytes += (info[i].data_size + info[i].metadata_size + 63) / 64 * 64;
    sealed += info[i].sealed != 0;
    pinned += info[i].pins > 0;
    CHECK(info[i].pins >= 0);
    CHECK(info[i].sealed || info[i].pins == 0);
  }
  if (st.objects != n || st.bytes_used != bytes || st.sealed_objects != sealed ||
      st.pinned_objects != pinned) {
    fprintf(stderr,
            "FAIL: stats disagree with list: objects %llu/%zu bytes %llu/%llu "
            "sealed %llu/%llu pinned %llu/%llu\n",
            (unsigned long long)st.objects, n, (unsigned long long)st.bytes_used,
            (unsigned long long)bytes, (unsigned long long)st.sealed_objects,
            (unsigned long long)sealed, (unsigned long long)st.pinned_objects,
            (unsigned long long)pinned);
    exit(1);
  }
  CHECK(st.bytes_used <= st.capacity);
  free(info);
}

static inline double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#endif

/*
 * test_crash.c — processes killed with SIGKILL (holding the lock, pins and
 * an unsealed object; or at random points of a busy loop) leave a store
 * that still works, counts the recovery, and gives everything back on
 * prs_reclaim(pid).
 */
#include <signal.h>

#include "check.h"
#include "test_util.h"

static char name[64];

static void kill_and_reap(pid_t pid) {
  CHECK(kill(pid, SIGKILL) == 0);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Child: pin two objects, leave one unsealed, take the lock, signal, hang. */
static void holder(int fd) {
  prs_store *c;
  CHECK_OK(prs_store_open(name, &c));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  prs_view v;
  make_id(id, 1, 0);
  CHECK_OK(prs_get(c, id, 1, 0, &v));
  make_id(id, 2, 0);
  CHECK_OK(prs_get(c, id, 1, 0, &v));
  CHECK_OK(prs_get(c, id, 1, 0, &v)); /* two pins on object 2 */
  make_id(id, 3, 0);
  CHECK_OK(prs_create(c, id, 100000, 10, &d, &m));
  memset(d, 1, 100000);
  CHECK_OK(prs_test_hold_lock(c));
  CHECK(write(fd, "L", 1) == 1);
  for (;;) pause();
}

/* Child: hammer the store until killed. */
static void busy(uint32_t tag) {
  prs_store *c;
  CHECK_OK(prs_store_open(name, &c));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  prs_view v;
  for (uint32_t i = 0;; i++) {
    make_id(id, 1000 + tag, i);
    int rc = prs_create(c, id, 64 + (i * 97) % 5000, 8, &d, &m);
    if (rc == PRS_ERR_FULL || rc == PRS_ERR_TABLE_FULL) continue;
    CHECK_OK(rc);
    if (i % 3 == 0) continue; /* leave some unsealed */
    CHECK_OK(prs_seal(c, id));
    /* Sealed and unpinned: the other child may already have evicted it. */
    rc = prs_get(c, id, 1, 0, &v);
    if (rc == PRS_ERR_TIMEOUT) continue;
    CHECK_OK(rc);
    if (i % 5 == 0) continue; /* keep some pinned */
    CHECK_OK(prs_release(c, id));
    if (i % 2 == 0) {
      rc = prs_delete(c, id); /* may be evicted by the other child first */
      CHECK(rc == PRS_OK || rc == PRS_ERR_NOT_FOUND);
    }
  }
}

int main(void) {
  test_name(name, sizeof name, "crash");
  prs_store_unlink(name);
  prs_store *s;
  CHECK_OK(prs_store_create(name, 4 << 20, &s));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  for (uint32_t i = 1; i <= 2; i++) {
    make_id(id, i, 0);
    CHECK_OK(prs_create(s, id, 5000, 0, &d, &m));
    memset(d, (int)i, 5000);
    CHECK_OK(prs_seal(s, id));
  }
  prs_stats before, st;
  CHECK_OK(prs_get_stats(s, &before));

  int p[2];
  CHECK(pipe(p) == 0);
  pid_t pid = test_fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    holder(p[1]);
  }
  close(p[1]);
  char c;
  CHECK(read(p[0], &c, 1) == 1);
  close(p[0]);
  kill_and_reap(pid);

  /* The lock holder is dead: the next call repairs and succeeds. */
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.recoveries == 1);
  CHECK(st.objects == 3 && st.pinned_objects == 2);
  CHECK(st.bytes_used == before.bytes_used + 100032);
  CHECK_OK(prs_check(s));
  check_consistent(s);
  prs_view v;
  make_id(id, 2, 0);
  CHECK_OK(prs_get(s, id, 1, 0, &v));
  CHECK(v.data[4999] == 2);
  CHECK_OK(prs_release(s, id));
  CHECK_OK(prs_delete(s, id)); /* pinned by the dead child: deferred */
  int has;
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 0);

  prs_reclaim_result rr;
  CHECK_OK(prs_reclaim(s, pid, &rr));
  CHECK(rr.pins_dropped == 3 && rr.objects_aborted == 1);
  CHECK(rr.bytes_freed == 100032 + 5056); /* unsealed + deferred delete */
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.bytes_used == before.bytes_used - 5056);
  CHECK(st.pinned_objects == 0 && st.objects == 1 && st.recoveries == 1);
  CHECK_OK(prs_reclaim(s, pid, &rr)); /* idempotent */
  CHECK(rr.pins_dropped == 0 && rr.objects_aborted == 0);
  CHECK_OK(prs_check(s));
  check_consistent(s);
  /* The store works normally, including reusing the freed room. */
  make_id(id, 3, 0);
  CHECK_OK(prs_create(s, id, 100000, 10, &d, &m));
  CHECK_OK(prs_seal(s, id));
  CHECK_OK(prs_delete(s, id));
  uint64_t freed;
  CHECK_OK(prs_evict(s, UINT64_MAX, &freed)); /* object 1 */
  CHECK(freed == 5056);
  CHECK_OK(prs_get_stats(s, &before));
  CHECK(before.bytes_used == 0 && before.objects == 0);

  /* Kill busy processes at random moments, many times. */
  unsigned seed = 12345;
  uint64_t recoveries0 = before.recoveries;
  for (uint32_t round = 0; round < 30; round++) {
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
      kids[k] = test_fork();
      CHECK(kids[k] >= 0);
      if (kids[k] == 0) busy(round * 2 + (uint32_t)k);
    }
    usleep(2000 + rand_r(&seed) % 20000);
    for (int k = 0; k < 2; k++) kill_and_reap(kids[k]);
    CHECK_OK(prs_check(s)); /* every invariant; also performs any recovery */
    check_consistent(s);
    for (int k = 0; k < 2; k++) CHECK_OK(prs_reclaim(s, kids[k], &rr));
    CHECK_OK(prs_get_stats(s, &st));
    CHECK(st.pinned_objects == 0);
    /* Everything left is sealed and unpinned: evict it all. */
    CHECK_OK(prs_evict(s, UINT64_MAX, &freed));
    CHECK_OK(prs_get_stats(s, &st));
    if (st.bytes_used != before.bytes_used || st.objects != before.objects) {
      fprintf(stderr, "FAIL round %u: used %llu objects %llu, want %llu %llu\n",
              round, (unsigned long long)st.bytes_used,
              (unsigned long long)st.objects,
              (unsigned long long)before.bytes_used,
              (unsigned long long)before.objects);
      exit(1);
    }
    check_consistent(s);
  }
  /* The whole region is one free block again: the largest create fits. */
  make_id(id, 9, 9);
  CHECK_OK(prs_get_stats(s, &st));
  CHECK_OK(prs_create(s, id, st.capacity - st.bytes_used, 0, &d, &m));
  CHECK_OK(prs_abort(s, id));
  printf("crash: ok (%llu recoveries in the random-kill rounds)\n",
         (unsigned long long)(st.recoveries - recoveries0));
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  return 0;
}

/*
 * test_wait.c — get honours its timeout, wakes when another process (or
 * thread) seals, returns partial results on timeout, and a getter blocked
 * forever is released by closing its handle.
 */
#include <pthread.h>

#include "test_util.h"

static char name[64];
static prs_store *s;

static void *close_later(void *arg) {
  (void)arg;
  usleep(200 * 1000);
  CHECK_OK(prs_store_close(s, 1));
  return NULL;
}

static void *seal_later(void *arg) {
  uint8_t *id = arg;
  usleep(200 * 1000);
  CHECK_OK(prs_seal(s, id));
  return NULL;
}

int main(void) {
  test_name(name, sizeof name, "wait");
  prs_store_unlink(name);
  CHECK_OK(prs_store_create(name, 1 << 20, &s));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  prs_view v;

  /* Timeout: neither early nor (much) late. */
  make_id(id, 1, 0);
  double t0 = now_ms();
  CHECK_RC(prs_get(s, id, 1, 0, &v), PRS_ERR_TIMEOUT);
  CHECK(now_ms() - t0 < 100);
  t0 = now_ms();
  CHECK_RC(prs_get(s, id, 1, 300, &v), PRS_ERR_TIMEOUT);
  double took = now_ms() - t0;
  CHECK(took >= 295 && took < 3000);
  CHECK(v.found == 0);
  CHECK_MSG("300 ms");

  /* Another process creates and seals while we wait; also one unsealed at
   * the start of the wait (created before, sealed later). */
  uint8_t ids[2 * PRS_OBJECT_ID_SIZE];
  make_id(ids, 2, 0);
  make_id(ids + PRS_OBJECT_ID_SIZE, 3, 0);
  pid_t pid = test_fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    prs_store *c;
    CHECK_OK(prs_store_open(name, &c));
    CHECK_OK(prs_create(c, ids + PRS_OBJECT_ID_SIZE, 5, 0, &d, &m));
    memcpy(d, "later", 5);
    usleep(300 * 1000);
    CHECK_OK(prs_create(c, ids, 3, 0, &d, &m));
    memcpy(d, "abc", 3);
    CHECK_OK(prs_seal(c, ids));
    usleep(100 * 1000);
    CHECK_OK(prs_seal(c, ids + PRS_OBJECT_ID_SIZE));
    CHECK_OK(prs_store_close(c, 1));
    _exit(0);
  }
  prs_view vs[2];
  t0 = now_ms();
  CHECK_OK(prs_get(s, ids, 2, 10000, vs));
  took = now_ms() - t0;
  CHECK(took >= 250 && took < 5000);
  CHECK(vs[0].found && memcmp(vs[0].data, "abc", 3) == 0);
  CHECK(vs[1].found && memcmp(vs[1].data, "later", 5) == 0);
  wait_ok(pid);
  CHECK_OK(prs_release(s, ids));
  CHECK_OK(prs_release(s, ids + PRS_OBJECT_ID_SIZE));

  /* Wait forever (-1), woken by a seal from another thread. */
  make_id(id, 4, 0);
  CHECK_OK(prs_create(s, id, 1, 0, &d, &m));
  pthread_t th;
  CHECK(pthread_create(&th, NULL, seal_later, id) == 0);
  CHECK_OK(prs_get(s, id, 1, -1, &v));
  CHECK(v.found);
  pthread_join(th, NULL);
  CHECK_OK(prs_release(s, id));

  /* Partial: the found object stays pinned and filled in. */
  make_id(ids + PRS_OBJECT_ID_SIZE, 77, 0);
  CHECK_RC(prs_get(s, ids, 2, 50, vs), PRS_ERR_TIMEOUT);
  CHECK(vs[0].found == 1 && vs[1].found == 0 && vs[1].data == NULL);
  CHECK_OK(prs_release(s, ids));
  CHECK_RC(prs_release(s, ids), PRS_ERR_NOT_PINNED);
  check_consistent(s);

  /* Closing the handle ends a get that would wait forever. */
  CHECK(pthread_create(&th, NULL, close_later, NULL) == 0);
  t0 = now_ms();
  CHECK_RC(prs_get(s, ids + PRS_OBJECT_ID_SIZE, 1, -1, &v), PRS_ERR_CLOSED);
  CHECK(now_ms() - t0 < 5000);
  pthread_join(th, NULL);
  CHECK_OK(prs_store_unlink(name));
  printf("wait: ok\n");
  return 0;
}

/*
 * test_basic.c — round trip, zero copy, contains/list/stats, deferred
 * delete, abort, reopen from a second handle.
 */
#include <pthread.h>

#include "test_util.h"

static prs_store *s;

static void *thread_cycles(void *arg) {
  uint32_t t = (uint32_t)(long)arg;
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  prs_view v;
  for (uint32_t i = 0; i < 20000; i++) {
    make_id(id, 7000 + t, i);
    CHECK_OK(prs_create(s, id, 16, 0, &d, &m));
    memcpy(d, &i, 4);
    CHECK_OK(prs_seal(s, id));
    CHECK_OK(prs_get(s, id, 1, 0, &v));
    CHECK(memcmp(v.data, &i, 4) == 0);
    CHECK_OK(prs_release(s, id));
    CHECK_OK(prs_delete(s, id));
  }
  return NULL;
}

int main(void) {
  char name[64];
  test_name(name, sizeof name, "basic");
  prs_store_unlink(name);
  CHECK_OK(prs_store_create(name, 1 << 20, &s));

  /* Round trip. */
  uint8_t id[PRS_OBJECT_ID_SIZE];
  make_id(id, 1, 0);
  uint8_t *data, *meta;
  CHECK_OK(prs_create(s, id, 100, 7, &data, &meta));
  CHECK(data != NULL && meta == data + 100);
  CHECK((uintptr_t)data % 64 == 0);
  for (int i = 0; i < 100; i++) data[i] = (uint8_t)i;
  memcpy(meta, "msgpack", 7);
  int has = 1;
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 0); /* unsealed objects are invisible */
  prs_view v;
  CHECK_RC(prs_get(s, id, 1, 0, &v), PRS_ERR_TIMEOUT);
  CHECK(v.found == 0);
  CHECK_OK(prs_seal(s, id));
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 1);
  CHECK_OK(prs_get(s, id, 1, 0, &v));
  CHECK(v.found == 1 && v.data_size == 100 && v.metadata_size == 7);
  for (int i = 0; i < 100; i++) CHECK(v.data[i] == i);
  CHECK(memcmp(v.metadata, "msgpack", 7) == 0);
  /* Zero copy: the view is the very memory create handed out. */
  CHECK(v.data == data && v.metadata == meta);

  /* A second handle (same process) sees the same bytes at its own address. */
  prs_store *s2;
  CHECK_OK(prs_store_open(name, &s2));
  prs_view v2;
  CHECK_OK(prs_get(s2, id, 1, 0, &v2));
  CHECK(v2.data != v.data); /* a separate mapping */
  CHECK(memcmp(v2.data, v.data, 100) == 0);
  CHECK_OK(prs_release(s2, id));
  CHECK_OK(prs_store_close(s2, 1));

  prs_stats st;
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.capacity == 1 << 20 && st.objects == 1 && st.sealed_objects == 1);
  CHECK(st.pinned_objects == 1 && st.bytes_used == 128);

  /* Deferred delete: pinned, so it stays until the last release. */
  CHECK_OK(prs_delete(s, id));
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 0);
  prs_object_info info[4];
  size_t n = 0;
  CHECK_OK(prs_list(s, info, 4, &n));
  CHECK(n == 1 && info[0].delete_pending == 1 && info[0].pins == 1);
  CHECK(memcmp(v.data, data, 100) == 0 && v.data[99] == 99);
  CHECK_OK(prs_release(s, id));
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == 0 && st.bytes_used == 0 && st.pinned_objects == 0);
  CHECK_RC(prs_release(s, id), PRS_ERR_NOT_FOUND);

  /* Abort, empty objects, multi-get with duplicate ids. */
  make_id(id, 2, 0);
  CHECK_OK(prs_create(s, id, 4096, 0, &data, NULL));
  CHECK_OK(prs_abort(s, id));
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == 0 && st.bytes_used == 0);
  uint8_t ids[3 * PRS_OBJECT_ID_SIZE];
  make_id(ids, 3, 0);
  make_id(ids + PRS_OBJECT_ID_SIZE, 4, 0);
  memcpy(ids + 2 * PRS_OBJECT_ID_SIZE, ids, PRS_OBJECT_ID_SIZE);
  CHECK_OK(prs_create(s, ids, 0, 0, &data, &meta));
  CHECK_OK(prs_seal(s, ids));
  CHECK_OK(prs_create(s, ids + PRS_OBJECT_ID_SIZE, 10, 0, &data, NULL));
  memcpy(data, "0123456789", 10);
  CHECK_OK(prs_seal(s, ids + PRS_OBJECT_ID_SIZE));
  prs_view vs[3];
  CHECK_OK(prs_get(s, ids, 3, 0, vs));
  CHECK(vs[0].found && vs[0].data_size == 0 && vs[2].found);
  CHECK(memcmp(vs[1].data, "0123456789", 10) == 0);
  CHECK_OK(prs_list(s, info, 4, &n));
  CHECK(n == 2);
  for (size_t i = 0; i < n; i++)
    CHECK(info[i].pins == (info[i].data_size == 0 ? 2 : 1));
  CHECK_OK(prs_release(s, ids));
  CHECK_OK(prs_release(s, ids));
  CHECK_RC(prs_release(s, ids), PRS_ERR_NOT_PINNED);
  CHECK_OK(prs_release(s, ids + PRS_OBJECT_ID_SIZE));
  CHECK_OK(prs_delete(s, ids));
  CHECK_OK(prs_delete(s, ids + PRS_OBJECT_ID_SIZE));

  /* Many small objects through the whole cycle; also a rough speed print. */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const int rounds = 200000;
  for (int i = 0; i < rounds; i++) {
    make_id(id, 100 + (uint32_t)i, 7);
    CHECK_OK(prs_create(s, id, 64, 8, &data, &meta));
    data[0] = (uint8_t)i;
    CHECK_OK(prs_seal(s, id));
    CHECK_OK(prs_get(s, id, 1, 0, &v));
    CHECK(v.data[0] == (uint8_t)i);
    CHECK_OK(prs_release(s, id));
    CHECK_OK(prs_delete(s, id));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("basic: %.0f create+seal+get+release+delete cycles/s\n", rounds / secs);
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == 0 && st.bytes_used == 0);

  /* Handles come and go without using up client slots (1024 of them). */
  make_id(id, 5, 5);
  CHECK_OK(prs_create(s, id, 8, 0, &data, &meta));
  CHECK_OK(prs_seal(s, id));
  for (int i = 0; i < 3000; i++) {
    prs_store *h;
    CHECK_OK(prs_store_open(name, &h));
    CHECK_OK(prs_get(h, id, 1, 0, &v));
    if (i % 2) CHECK_OK(prs_release(h, id));
    CHECK_OK(prs_store_close(h, 1)); /* drops the pin it may still hold */
  }
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.pinned_objects == 0 && st.objects == 1);

  /* Several threads on one handle. */
  pthread_t th[4];
  for (long t = 0; t < 4; t++)
    CHECK(pthread_create(&th[t], NULL, thread_cycles, (void *)t) == 0);
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  check_consistent(s);
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == 1 && st.pinned_objects == 0);

  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  printf("basic: ok\n");
  return 0;
}

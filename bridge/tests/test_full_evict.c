/*
 * test_full_evict.c — a full store fails create with the sizes in the
 * message; eviction goes in LRU order and never touches pinned or unsealed
 * objects; a full index gives PRS_ERR_TABLE_FULL.
 */
#include "test_util.h"

#define K 8192

static prs_store *s;

static void put(uint32_t n, uint64_t size) {
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  make_id(id, n, 0);
  CHECK_OK(prs_create(s, id, size, 0, &d, &m));
  memset(d, (int)n, size);
  CHECK_OK(prs_seal(s, id));
}

static int has(uint32_t n) {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  make_id(id, n, 0);
  int h = -1;
  CHECK_OK(prs_contains(s, id, &h));
  return h;
}

static void pin(uint32_t n, prs_view *v) {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  make_id(id, n, 0);
  CHECK_OK(prs_get(s, id, 1, 0, v));
}

static void unpin(uint32_t n) {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  make_id(id, n, 0);
  CHECK_OK(prs_release(s, id));
}

int main(void) {
  char name[64];
  test_name(name, sizeof name, "full");
  prs_store_unlink(name);
  CHECK_OK(prs_store_create(name, 8 * K, &s));
  prs_stats st;
  prs_view v0, v1, v;

  for (uint32_t i = 0; i < 8; i++) put(i, K); /* exactly full */
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.bytes_used == 8 * K && st.objects == 8);
  pin(0, &v0);
  pin(1, &v1);
  /* Touch 2: it becomes the most recently used. */
  pin(2, &v);
  unpin(2);

  /* LRU order is now 3,4,5,6,7,2 (0 and 1 are pinned). */
  put(10, K);
  CHECK(has(3) == 0 && has(4) == 1 && has(0) == 1 && has(1) == 1);
  put(11, K);
  CHECK(has(4) == 0 && has(5) == 1);
  uint64_t freed = 0;
  CHECK_OK(prs_evict(s, K + 1, &freed)); /* 5 then 6 */
  CHECK(freed == 2 * K);
  CHECK(has(5) == 0 && has(6) == 0 && has(7) == 1 && has(2) == 1);
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.evictions == 4 && st.pinned_objects == 2);
  check_consistent(s);

  /* Pin everything that is left, then nothing can make room. */
  prs_view vs[4];
  pin(7, &vs[0]);
  pin(2, &vs[1]);
  pin(10, &vs[2]);
  pin(11, &vs[3]);
  put(12, K);
  put(13, K); /* fills the two free blocks */
  pin(12, &v);
  pin(13, &v);
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  make_id(id, 99, 0);
  CHECK_RC(prs_create(s, id, 100, 28, &d, &m), PRS_ERR_FULL);
  CHECK(d == NULL);
  CHECK_MSG("requested 128 bytes");
  CHECK_MSG("capacity 65536");
  CHECK_MSG("used 65536");
  CHECK_MSG("pinned 65536");
  CHECK_MSG("0000000000000000");
  CHECK_OK(prs_evict(s, 1 << 20, &freed));
  CHECK(freed == 0);
  CHECK(has(0) && has(1) && has(7) && has(2) && has(10) && has(11) && has(12) &&
        has(13));

  /* Pinned objects survive delete (deferred) and their bytes stay intact. */
  make_id(id, 0, 0);
  CHECK_OK(prs_delete(s, id));
  CHECK(has(0) == 0);
  for (int i = 0; i < K; i++) CHECK(v0.data[i] == 0);
  CHECK_RC(prs_create(s, id, 1, 0, &d, &m), PRS_ERR_EXISTS);
  CHECK_MSG("delete pending");
  unpin(0); /* last pin: the delete happens now, and frees the room */
  make_id(id, 99, 0);
  CHECK_OK(prs_create(s, id, K, 0, &d, &m));
  /* Unsealed objects are not evictable either. */
  unpin(1);
  make_id(id, 98, 0);
  CHECK_OK(prs_create(s, id, K, 0, &d, &m)); /* evicts 1, the only one */
  CHECK(has(1) == 0);
  make_id(id, 97, 0);
  CHECK_RC(prs_create(s, id, 1, 0, &d, &m), PRS_ERR_FULL);
  CHECK_MSG("unsealed 16384");
  check_consistent(s);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));

  /* Fragmentation: free bytes exist but not in one piece. */
  CHECK_OK(prs_store_create(name, 4 * K, &s));
  for (uint32_t i = 0; i < 4; i++) put(i, K);
  pin(0, &v);
  pin(2, &v);
  make_id(id, 1, 0);
  CHECK_OK(prs_delete(s, id));
  make_id(id, 3, 0);
  CHECK_OK(prs_delete(s, id));
  make_id(id, 50, 0);
  CHECK_RC(prs_create(s, id, 2 * K, 0, &d, &m), PRS_ERR_FULL);
  CHECK_MSG("largest free block 8192");
  /* Coalescing: once 2 goes, 1+2+3 merge into one block. */
  unpin(2);
  make_id(id, 2, 0);
  CHECK_OK(prs_delete(s, id));
  make_id(id, 50, 0);
  CHECK_OK(prs_create(s, id, 3 * K, 0, &d, &m));
  CHECK_OK(prs_seal(s, id));
  check_consistent(s);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));

  /* Index full: 1024 entries in a small store, all unsealed. */
  CHECK_OK(prs_store_create(name, 1 << 16, &s));
  uint32_t made = 0;
  int rc;
  for (;;) {
    make_id(id, 1000 + made, 1);
    rc = prs_create(s, id, 0, 0, &d, &m);
    if (rc != PRS_OK) break;
    made++;
  }
  CHECK_RC(rc, PRS_ERR_TABLE_FULL);
  CHECK_MSG("1024 index entries");
  CHECK(made == 1024);
  /* Sealed unpinned objects give their entries back by eviction. */
  for (uint32_t i = 0; i < 10; i++) {
    make_id(id, 1000 + i, 1);
    CHECK_OK(prs_seal(s, id));
  }
  make_id(id, 5000, 1);
  CHECK_OK(prs_create(s, id, 64, 0, &d, &m));
  make_id(id, 1000, 1);
  CHECK_OK(prs_contains(s, id, &rc));
  CHECK(rc == 0);
  check_consistent(s);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  printf("full_evict: ok\n");
  return 0;
}

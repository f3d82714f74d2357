/*
 * test_concurrent.c — 4 processes create, seal, read (waiting for each
 * other's objects), verify and delete thousands of objects at once; then 4
 * processes churn through a store small enough to evict constantly. The
 * store must stay consistent and every byte read must be the byte written.
 */
#include "check.h"
#include "test_util.h"

#define PROCS 4
#define PER_PROC 2000
#define BATCH 50

static char name[64];

/* Size and contents are a function of the id, so any reader can check. */
static uint64_t size_of(uint32_t p, uint32_t i) {
  return (uint64_t)((p * 7919u + i * 104729u) % 3000u);
}
static uint8_t byte_of(uint32_t p, uint32_t i, uint64_t k) {
  return (uint8_t)(p * 31u + i * 17u + k);
}

static void writer_reader(uint32_t p) {
  prs_store *s;
  CHECK_OK(prs_store_open(name, &s));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  for (uint32_t i = 0; i < PER_PROC; i++) {
    make_id(id, p, i);
    uint64_t n = size_of(p, i);
    CHECK_OK(prs_create(s, id, n, 4, &d, &m));
    for (uint64_t k = 0; k < n; k++) d[k] = byte_of(p, i, k);
    memcpy(m, &i, 4);
    CHECK_OK(prs_seal(s, id));
  }
  /* Read everybody's objects, in batches, waiting for ones not yet sealed. */
  uint8_t ids[BATCH * PRS_OBJECT_ID_SIZE];
  prs_view v[BATCH];
  for (uint32_t q0 = 0; q0 < PROCS; q0++) {
    uint32_t q = (p + q0) % PROCS;
    for (uint32_t i0 = 0; i0 < PER_PROC; i0 += BATCH) {
      for (uint32_t j = 0; j < BATCH; j++)
        make_id(ids + j * PRS_OBJECT_ID_SIZE, q, i0 + j);
      CHECK_OK(prs_get(s, ids, BATCH, 15000, v));
      for (uint32_t j = 0; j < BATCH; j++) {
        uint32_t i = i0 + j;
        CHECK(v[j].found && v[j].data_size == size_of(q, i));
        CHECK(v[j].metadata_size == 4 && memcmp(v[j].metadata, &i, 4) == 0);
        for (uint64_t k = 0; k < v[j].data_size; k++)
          if (v[j].data[k] != byte_of(q, i, k)) {
            fprintf(stderr, "FAIL: proc %u read bad byte %llu of (%u,%u)\n", p,
                    (unsigned long long)k, q, i);
            exit(1);
          }
      }
      for (uint32_t j = 0; j < BATCH; j++)
        CHECK_OK(prs_release(s, ids + j * PRS_OBJECT_ID_SIZE));
    }
  }
  /* Barrier through the store itself: each says "done reading" with an
   * object and waits for everyone's, so deletes do not race the readers. */
  make_id(id, 900, p);
  CHECK_OK(prs_create(s, id, 0, 0, &d, &m));
  CHECK_OK(prs_seal(s, id));
  for (uint32_t q = 0; q < PROCS; q++)
    make_id(ids + q * PRS_OBJECT_ID_SIZE, 900, q);
  CHECK_OK(prs_get(s, ids, PROCS, 15000, v));
  for (uint32_t q = 0; q < PROCS; q++)
    CHECK_OK(prs_release(s, ids + q * PRS_OBJECT_ID_SIZE));
  /* Delete our even objects. */
  for (uint32_t i = 0; i < PER_PROC; i += 2) {
    make_id(id, p, i);
    CHECK_OK(prs_delete(s, id));
  }
  CHECK_OK(prs_store_close(s, 1));
}

static void churner(uint32_t p) {
  prs_store *s;
  CHECK_OK(prs_store_open(name, &s));
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  prs_view v;
  unsigned seed = p * 2654435761u;
  for (uint32_t i = 0; i < 4000; i++) {
    make_id(id, 100 + p, i);
    uint64_t n = 64 + rand_r(&seed) % 20000;
    int rc = prs_create(s, id, n, 0, &d, &m);
    if (rc == PRS_ERR_FULL) continue; /* others pin/hold the rest: fine */
    CHECK_OK(rc);
    memset(d, (int)(i & 0xff), n);
    CHECK_OK(prs_seal(s, id));
    /* Read back a recent object of any process; it may be evicted. */
    uint32_t q = rand_r(&seed) % PROCS, j = i > 3 ? i - rand_r(&seed) % 4 : i;
    make_id(id, 100 + q, j);
    rc = prs_get(s, id, 1, 0, &v);
    if (rc == PRS_OK) {
      for (uint64_t k = 0; k < v.data_size; k++)
        CHECK(v.data[k] == (uint8_t)(j & 0xff));
      CHECK_OK(prs_release(s, id));
    } else {
      CHECK_RC(rc, PRS_ERR_TIMEOUT);
    }
    if (i % 7 == 0) {
      make_id(id, 100 + p, i);
      rc = prs_delete(s, id);
      CHECK(rc == PRS_OK || rc == PRS_ERR_NOT_FOUND); /* maybe evicted */
    }
  }
  CHECK_OK(prs_store_close(s, 1));
}

static void run(void (*fn)(uint32_t)) {
  pid_t kids[PROCS];
  for (uint32_t p = 0; p < PROCS; p++) {
    kids[p] = test_fork();
    CHECK(kids[p] >= 0);
    if (kids[p] == 0) {
      fn(p);
      _exit(0);
    }
  }
  for (uint32_t p = 0; p < PROCS; p++) wait_ok(kids[p]);
}

int main(void) {
  test_name(name, sizeof name, "conc");
  prs_store_unlink(name);
  prs_store *s;
  CHECK_OK(prs_store_create(name, 32 << 20, &s));
  double t0 = now_ms();
  run(writer_reader);
  printf("concurrent: %d processes x %d objects written and cross-read in %.0f "
         "ms\n",
         PROCS, PER_PROC, now_ms() - t0);
  prs_stats st;
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == PROCS * PER_PROC / 2 + PROCS);
  CHECK(st.pinned_objects == 0 && st.evictions == 0);
  CHECK_OK(prs_check(s));
  check_consistent(s);
  uint8_t id[PRS_OBJECT_ID_SIZE];
  int has;
  make_id(id, 3, 1);
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 1);
  make_id(id, 3, 2);
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 0);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));

  /* Eviction churn in a 1 MiB store. */
  CHECK_OK(prs_store_create(name, 1 << 20, &s));
  t0 = now_ms();
  run(churner);
  CHECK_OK(prs_get_stats(s, &st));
  printf("concurrent: churn done in %.0f ms, %llu evictions\n", now_ms() - t0,
         (unsigned long long)st.evictions);
  CHECK(st.evictions > 0 && st.pinned_objects == 0);
  CHECK_OK(prs_check(s));
  check_consistent(s);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  printf("concurrent: ok\n");
  return 0;
}

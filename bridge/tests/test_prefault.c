/*
 * test_prefault.c — prs_prefault makes exactly the asked pages resident in
 * the segment (mincore), from any process, without changing a byte, and
 * without it the pages stay non-resident; the allocator takes the lowest
 * fitting block, so a freed extent is reused before fresh memory.
 */
#include "test_util.h"

#define MIB (1u << 20)

/* Resident pages of [p, p + len) (len a multiple of the page size). */
static size_t resident_pages(const uint8_t *p, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, count = 0;
  unsigned char *vec = malloc(n);
  CHECK(vec != NULL);
  CHECK(mincore((void *)p, len, vec) == 0);
  for (size_t i = 0; i < n; i++) count += vec[i] & 1;
  free(vec);
  return count;
}

int main(void) {
  char name[64];
  test_name(name, sizeof name, "prefault");
  prs_store_unlink(name);
  prs_store *s;
  CHECK_OK(prs_store_create(name, 16 * MIB, &s));
  size_t page = (size_t)sysconf(_SC_PAGESIZE);

  /* The data region starts at the first object (offset 0); a 64-byte object
   * there carries a pattern the prefault must not change. */
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *m;
  make_id(id, 1, 0);
  CHECK_OK(prs_create(s, id, 64, 0, &d, &m));
  memset(d, 0xab, 64);
  CHECK_OK(prs_seal(s, id));
  uint8_t *region = d;
  CHECK((uintptr_t)region % page == 0);

  /* Knob off (no prefault): only the page the object wrote is resident. */
  CHECK(resident_pages(region, 16 * MIB) == 1);

  /* A prefault from another process covers [0, 6 MiB) in the segment, so
   * this process sees it resident too. */
  pid_t pid = test_fork();
  if (pid == 0) {
    prs_store *o;
    CHECK_OK(prs_store_open(name, &o));
    uint64_t done = 0;
    CHECK_OK(prs_prefault(o, 0, 6 * MIB, &done));
    CHECK(done == 6 * MIB);
    CHECK_OK(prs_store_close(o, 1));
    _exit(0);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0);
  CHECK(resident_pages(region, 6 * MIB) == 6 * MIB / page);
  CHECK(resident_pages(region + 6 * MIB, 10 * MIB) == 0);
  for (int i = 0; i < 64; i++) CHECK(d[i] == 0xab);

  /* Clamped to the region; past the end is a no-op; unaligned offsets
   * widen to whole pages. */
  uint64_t done = 1;
  CHECK_OK(prs_prefault(s, 15 * MIB + 100, 8 * MIB, &done));
  CHECK(done == MIB - 100);
  CHECK(resident_pages(region + 15 * MIB, MIB) == MIB / page);
  CHECK(resident_pages(region + 6 * MIB, 9 * MIB) == 0);
  CHECK_OK(prs_prefault(s, 16 * MIB, MIB, &done));
  CHECK(done == 0);
  CHECK_OK(prs_prefault(s, 0, 0, NULL));
  CHECK_RC(prs_prefault(NULL, 0, MIB, NULL), PRS_ERR_INVALID);

  /* Lowest fit: A (5 MiB) at the start is freed, then a 5 MiB + 64 object
   * splits the tail, which lands in A's bin at the head of its list. A
   * 4 MiB object must reuse A's extent, not the fresh tail. */
  CHECK_OK(prs_delete(s, id));
  uint8_t a[PRS_OBJECT_ID_SIZE], b[PRS_OBJECT_ID_SIZE], c[PRS_OBJECT_ID_SIZE],
      e[PRS_OBJECT_ID_SIZE], *pa, *pe;
  make_id(a, 2, 0);
  make_id(b, 2, 1);
  make_id(c, 2, 2);
  make_id(e, 2, 3);
  CHECK_OK(prs_create(s, a, 5 * MIB, 0, &pa, &m));
  CHECK(pa == region);
  CHECK_OK(prs_seal(s, a));
  CHECK_OK(prs_create(s, b, MIB, 0, &d, &m));
  CHECK_OK(prs_seal(s, b));
  CHECK_OK(prs_delete(s, a));
  CHECK_OK(prs_create(s, c, 5 * MIB + 64, 0, &d, &m));
  CHECK(d == region + 6 * MIB);
  CHECK_OK(prs_seal(s, c));
  CHECK_OK(prs_create(s, e, 4 * MIB, 0, &pe, &m));
  CHECK(pe == region);
  CHECK_OK(prs_seal(s, e));

  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  printf("prefault: ok\n");
  return 0;
}

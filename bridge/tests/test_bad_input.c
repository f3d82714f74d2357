/*
 * test_bad_input.c — every kind of bad input gets the right status and a
 * message naming what was wrong, and leaves the store usable.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "test_util.h"

int main(void) {
  char name[64], hex[2 * PRS_OBJECT_ID_SIZE + 1];
  test_name(name, sizeof name, "bad");
  prs_store_unlink(name);
  prs_store *s = NULL;

  /* Segments. */
  CHECK_RC(prs_store_open("/prs-test-does-not-exist", &s), PRS_ERR_NO_SEGMENT);
  CHECK_MSG("/prs-test-does-not-exist");
  CHECK(s == NULL);
  CHECK_RC(prs_store_unlink("/prs-test-does-not-exist"), PRS_ERR_NO_SEGMENT);
  CHECK_RC(prs_store_create(name, 1ull << 60, &s), PRS_ERR_NO_MEMORY);
  CHECK_MSG("1152921504606846976");
  CHECK_RC(prs_store_open(name, &s), PRS_ERR_NO_SEGMENT); /* nothing left */
  CHECK_RC(prs_store_create(name, 0, &s), PRS_ERR_INVALID);
  CHECK_MSG("capacity");
  CHECK_RC(prs_store_create(NULL, 4096, &s), PRS_ERR_INVALID);
  CHECK_RC(prs_store_create("no-slash", 4096, &s), PRS_ERR_INVALID);
  CHECK_MSG("no-slash");
  CHECK_RC(prs_store_create("/a/b", 4096, &s), PRS_ERR_INVALID);
  CHECK_RC(prs_store_create("/", 4096, &s), PRS_ERR_INVALID);
  CHECK_RC(prs_store_create(name, 4096, NULL), PRS_ERR_INVALID);
  CHECK_RC(prs_store_open(NULL, &s), PRS_ERR_INVALID);

  /* A foreign segment is refused, not trusted. */
  char foreign[64];
  test_name(foreign, sizeof foreign, "foreign");
  int fd = shm_open(foreign, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, 1 << 16) == 0);
  CHECK(pwrite(fd, "not a store, just some bytes", 28, 0) == 28);
  close(fd);
  CHECK_RC(prs_store_open(foreign, &s), PRS_ERR_BAD_SEGMENT);
  CHECK_MSG(foreign);
  CHECK_OK(prs_store_unlink(foreign));

  CHECK_OK(prs_store_create(name, 1 << 20, &s));
  prs_store *dup = NULL;
  CHECK_RC(prs_store_create(name, 1 << 20, &dup), PRS_ERR_EXISTS);
  CHECK_MSG(name);

  /* Objects. */
  uint8_t id[PRS_OBJECT_ID_SIZE], other[PRS_OBJECT_ID_SIZE];
  make_id(id, 0xabcdef01, 0x11);
  make_id(other, 0x42, 0x42);
  uint8_t *data, *meta;
  prs_view v;
  int has;
  size_t n;

  /* The hex of the id appears in messages. */
  for (int i = 0; i < PRS_OBJECT_ID_SIZE; i++)
    snprintf(hex + 2 * i, 3, "%02x", id[i]);

  CHECK_RC(prs_seal(s, id), PRS_ERR_NOT_FOUND);
  CHECK_MSG(hex);
  CHECK_RC(prs_abort(s, id), PRS_ERR_NOT_FOUND);
  CHECK_MSG(hex);
  CHECK_RC(prs_release(s, id), PRS_ERR_NOT_FOUND);
  CHECK_MSG(hex);
  CHECK_RC(prs_delete(s, id), PRS_ERR_NOT_FOUND);
  CHECK_MSG(hex);

  CHECK_OK(prs_create(s, id, 10, 0, &data, &meta));
  CHECK_RC(prs_create(s, id, 10, 0, &data, &meta), PRS_ERR_EXISTS);
  CHECK_MSG(hex);
  CHECK(data == NULL); /* a failed create hands out nothing */
  CHECK_RC(prs_delete(s, id), PRS_ERR_NOT_SEALED);
  CHECK_MSG(hex);
  CHECK_OK(prs_seal(s, id));
  CHECK_RC(prs_seal(s, id), PRS_ERR_SEALED);
  CHECK_MSG(hex);
  CHECK_RC(prs_abort(s, id), PRS_ERR_SEALED);
  CHECK_MSG(hex);
  CHECK_RC(prs_release(s, id), PRS_ERR_NOT_PINNED);
  CHECK_MSG(hex);

  /* Too large for the store at all. */
  CHECK_RC(prs_create(s, other, 1 << 20, 1, &data, &meta), PRS_ERR_FULL);
  CHECK_MSG("requested 1048577 bytes");
  CHECK_MSG("capacity 1048576");
  CHECK_MSG("used 64");
  CHECK_MSG("pinned 0");
  CHECK_RC(prs_create(s, other, UINT64_MAX, 2, &data, &meta), PRS_ERR_FULL);
  CHECK_MSG("more than 18446744073709551615");

  /* NULLs. */
  CHECK_RC(prs_create(NULL, id, 1, 0, &data, &meta), PRS_ERR_INVALID);
  CHECK_RC(prs_create(s, NULL, 1, 0, &data, &meta), PRS_ERR_INVALID);
  CHECK_RC(prs_seal(s, NULL), PRS_ERR_INVALID);
  CHECK_RC(prs_get(s, NULL, 1, 0, &v), PRS_ERR_INVALID);
  CHECK_RC(prs_get(s, id, 1, 0, NULL), PRS_ERR_INVALID);
  CHECK_OK(prs_get(s, NULL, 0, 0, NULL)); /* nothing asked, nothing done */
  CHECK_RC(prs_contains(s, id, NULL), PRS_ERR_INVALID);
  CHECK_RC(prs_list(s, NULL, 3, &n), PRS_ERR_INVALID);
  CHECK_RC(prs_get_stats(s, NULL), PRS_ERR_INVALID);
  CHECK_RC(prs_reclaim(s, 0, NULL), PRS_ERR_INVALID);
  CHECK_RC(prs_reclaim(s, -5, NULL), PRS_ERR_INVALID);

  /* A pointer that is not a handle. */
  static uint64_t junk[64];
  CHECK_RC(prs_seal((prs_store *)junk, id), PRS_ERR_INVALID);
  CHECK_MSG("not a store handle");

  /* Another process cannot seal or abort our unsealed object. */
  CHECK_OK(prs_create(s, other, 100, 0, &data, &meta));
  pid_t pid = test_fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The inherited handle works in the child, as the child's process. */
    CHECK_RC(prs_seal(s, other), PRS_ERR_NOT_FOUND);
    CHECK_MSG("being created by pid");
    CHECK_RC(prs_abort(s, other), PRS_ERR_NOT_FOUND);
    prs_store *c;
    CHECK_OK(prs_store_open(name, &c));
    CHECK_RC(prs_seal(c, other), PRS_ERR_NOT_FOUND);
    CHECK_OK(prs_get(c, id, 1, 0, &v));
    CHECK_OK(prs_store_close(c, 0)); /* leaves its pin for reclaim */
    _exit(0);
  }
  wait_ok(pid);
  prs_object_info info[4];
  CHECK_OK(prs_list(s, info, 4, &n));
  CHECK(n == 2);
  prs_reclaim_result rr;
  CHECK_OK(prs_reclaim(s, pid, &rr));
  CHECK(rr.pins_dropped == 1 && rr.objects_aborted == 0);
  CHECK_OK(prs_abort(s, other));
  check_consistent(s);

  /* Still fully usable after all of the above. */
  CHECK_OK(prs_get(s, id, 1, 0, &v));
  CHECK(v.found && v.data_size == 10);
  CHECK_OK(prs_release(s, id));
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 1);

  /* Use after close. */
  CHECK_OK(prs_store_close(s, 1));
  CHECK_RC(prs_store_close(s, 1), PRS_ERR_CLOSED);
  CHECK_RC(prs_create(s, other, 1, 0, &data, &meta), PRS_ERR_CLOSED);
  CHECK_MSG("closed");
  CHECK_RC(prs_seal(s, id), PRS_ERR_CLOSED);
  CHECK_RC(prs_abort(s, id), PRS_ERR_CLOSED);
  CHECK_RC(prs_get(s, id, 1, 0, &v), PRS_ERR_CLOSED);
  CHECK_RC(prs_release(s, id), PRS_ERR_CLOSED);
  CHECK_RC(prs_contains(s, id, &has), PRS_ERR_CLOSED);
  CHECK_RC(prs_delete(s, id), PRS_ERR_CLOSED);
  CHECK_RC(prs_list(s, info, 4, &n), PRS_ERR_CLOSED);
  prs_stats st;
  CHECK_RC(prs_get_stats(s, &st), PRS_ERR_CLOSED);
  CHECK_RC(prs_evict(s, 1, NULL), PRS_ERR_CLOSED);
  CHECK_RC(prs_reclaim(s, 1, NULL), PRS_ERR_CLOSED);
  CHECK_RC(prs_test_hold_lock(s), PRS_ERR_CLOSED);

  /* The segment outlived the handle. */
  CHECK_OK(prs_store_open(name, &s));
  CHECK_OK(prs_contains(s, id, &has));
  CHECK(has == 1);
  check_consistent(s);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));

  /* Status names. */
  for (int st_ = 0; st_ <= PRS_ERR_SYSTEM; st_++)
    CHECK(prs_status_name(st_) != NULL && prs_status_name(st_)[0] != '\0');
  CHECK(strcmp(prs_status_name(PRS_ERR_FULL), "store full") == 0);
  CHECK(strcmp(prs_status_name(999), "unknown status") == 0);
  printf("bad_input: ok\n");
  return 0;
}

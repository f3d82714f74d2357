/*
 * segment.c — creating, opening and mapping the shared segment.
 *
 * Invariants:
 *   - A segment is usable iff its header's magic is PRS_MAGIC; the creator
 *     writes everything else (geometry, lock, initial derived state) first
 *     and the magic last, so an opener never sees a half-built store.
 *   - The geometry (table sizes, offsets, capacity) is a pure function of
 *     the requested capacity, fixed at creation; openers read it from the
 *     header and check it against the segment's size before trusting it.
 *   - Table records start zeroed (a fresh shm object reads as zeros), which
 *     is the FREE / unused state of every record: creation writes only the
 *     header, so a large store costs no memory until used.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "recover.h"

#define PRS_MAX_CLIENTS 1024u
#define PRS_MIN_ENTRIES 1024u
#define PRS_MAX_ENTRIES (1u << 20)
#define PRS_BYTES_PER_ENTRY 4096u /* one index slot per 4 KiB of capacity */
/* Far beyond any machine; keeps all size arithmetic below overflow. */
#define PRS_MAX_CAPACITY (1ull << 56)

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static uint32_t pow2_at_least(uint64_t x) {
  uint32_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

int prs_check_name(const char *name) {
  if (name == NULL) return prs_fail(PRS_ERR_INVALID, "segment name is NULL");
  size_t len = strnlen(name, NAME_MAX + 1);
  if (name[0] != '/' || len < 2 || len > NAME_MAX || strchr(name + 1, '/'))
    return prs_fail(PRS_ERR_INVALID,
                    "bad segment name '%.300s': need one leading '/', then 1 "
                    "to %d characters without '/'",
                    name, NAME_MAX - 1);
  return PRS_OK;
}

/* Fill the geometry of a store of `capacity` data bytes. */
static void layout(prs_header *h, uint64_t capacity) {
  uint64_t n = capacity / PRS_BYTES_PER_ENTRY;
  if (n < PRS_MIN_ENTRIES) n = PRS_MIN_ENTRIES;
  if (n > PRS_MAX_ENTRIES) n = PRS_MAX_ENTRIES;
  h->capacity = capacity;
  h->max_clients = PRS_MAX_CLIENTS;
  h->max_entries = (uint32_t)n;
  h->index_slots = pow2_at_least(2 * n);
  h->max_pins = (uint32_t)(2 * n);
  h->pin_slots = pow2_at_least(2 * (uint64_t)h->max_pins);
  h->max_fblocks = (uint32_t)n + 2; /* free blocks <= live blocks + 1 */
  h->fblock_slots = pow2_at_least(2 * (uint64_t)h->max_fblocks);

  uint64_t off = PRS_HEADER_SIZE;
#define PLACE(field, bytes)            \
  do {                                 \
    off = align_up(off, PRS_ALIGN);    \
    h->field = off;                    \
    off += (uint64_t)(bytes);          \
  } while (0)
  PLACE(clients_off, h->max_clients * sizeof(prs_client));
  PLACE(entries_off, (uint64_t)h->max_entries * sizeof(prs_entry));
  PLACE(index_off, (uint64_t)h->index_slots * sizeof(prs_hslot));
  PLACE(pins_off, (uint64_t)h->max_pins * sizeof(prs_pin));
  PLACE(pin_slots_off, (uint64_t)h->pin_slots * sizeof(prs_hslot));
  PLACE(fblocks_off, (uint64_t)h->max_fblocks * sizeof(prs_fblock));
  PLACE(fstart_off, (uint64_t)h->fblock_slots * sizeof(prs_hslot));
  PLACE(fend_off, (uint64_t)h->fblock_slots * sizeof(prs_hslot));
  PLACE(scratch_off, (uint64_t)h->max_entries * sizeof(uint32_t));
#undef PLACE
  h->data_off = align_up(off, 4096);
  h->total_size = h->data_off + capacity;
}

static void bind_tables(prs_store *s) {
  prs_header *h = s->hdr;
  s->clients = (prs_client *)(s->base + h->clients_off);
  s->entries = (prs_entry *)(s->base + h->entries_off);
  s->index = (prs_hslot *)(s->base + h->index_off);
  s->pins = (prs_pin *)(s->base + h->pins_off);
  s->pin_slots = (prs_hslot *)(s->base + h->pin_slots_off);
  s->fblocks = (prs_fblock *)(s->base + h->fblocks_off);
  s->fstart = (prs_hslot *)(s->base + h->fstart_off);
  s->fend = (prs_hslot *)(s->base + h->fend_off);
  s->scratch = (uint32_t *)(s->base + h->scratch_off);
  s->data = s->base + h->data_off;
}

static int init_lock(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (!rc) rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  if (!rc) rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  /* Error-checking: relocking from the holding thread fails instead of
   * deadlocking (matters for prs_test_hold_lock). */
  if (!rc) rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  if (!rc) rc = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return rc;
}

static int size_error(int status, const char *what, const char *name,
                      uint64_t capacity, uint64_t total, int err) {
  return prs_fail(status,
                  "cannot %s segment %s for capacity %llu bytes (segment "
                  "%llu bytes): %s",
                  what, name, (unsigned long long)capacity,
                  (unsigned long long)total, strerror(err));
}

int prs_segment_create(const char *name, uint64_t capacity, prs_store *s) {
  int rc = prs_check_name(name);
  if (rc) return rc;
  if (capacity < PRS_ALIGN)
    return prs_fail(PRS_ERR_INVALID,
                    "capacity %llu is too small (minimum %u bytes)",
                    (unsigned long long)capacity, PRS_ALIGN);
  if (capacity > PRS_MAX_CAPACITY)
    return prs_fail(PRS_ERR_NO_MEMORY,
                    "capacity %llu bytes cannot be mapped (limit %llu)",
                    (unsigned long long)capacity,
                    (unsigned long long)PRS_MAX_CAPACITY);
  capacity -= capacity % PRS_ALIGN;

  prs_header geo;
  memset(&geo, 0, sizeof geo);
  layout(&geo, capacity);

  /* tmpfs accepts any ftruncate and fails with SIGBUS on a later write,
   * so check the room first and report it as an error now. */
  struct statvfs vfs;
  if (statvfs("/dev/shm", &vfs) == 0) {
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < geo.total_size)
      return prs_fail(PRS_ERR_NO_MEMORY,
                      "capacity %llu bytes (segment %llu bytes) does not fit "
                      "in /dev/shm, which has %llu bytes free",
                      (unsigned long long)capacity,
                      (unsigned long long)geo.total_size,
                      (unsigned long long)avail);
  }

  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return prs_fail(PRS_ERR_EXISTS, "segment %s already exists", name);
    return prs_fail(PRS_ERR_SYSTEM, "shm_open(%s): %s", name, strerror(errno));
  }
  if (ftruncate(fd, (off_t)geo.total_size) != 0) {
    int err = errno;
    close(fd);
    shm_unlink(name);
    return size_error(err == EPERM || err == EACCES ? PRS_ERR_SYSTEM
                                                    : PRS_ERR_NO_MEMORY,
                      "size", name, capacity, geo.total_size, err);
  }
  void *base = mmap(NULL, geo.total_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
  int err = errno;
  close(fd); /* the mapping keeps the object alive */
  if (base == MAP_FAILED) {
    shm_unlink(name);
    return size_error(PRS_ERR_NO_MEMORY, "map", name, capacity,
                      geo.total_size, err);
  }
  s->base = base;
  s->map_size = geo.total_size;
  s->hdr = (prs_header *)base;
  memcpy(s->hdr, &geo, sizeof geo); /* magic still 0 */
  s->hdr->version = PRS_VERSION;
  s->hdr->header_size = PRS_HEADER_SIZE;
  if ((rc = init_lock(&s->hdr->lock)) != 0) {
    munmap(base, geo.total_size);
    shm_unlink(name);
    return prs_fail(PRS_ERR_SYSTEM, "cannot initialise the store lock: %s",
                    strerror(rc));
  }
  bind_tables(s);
  prs_rebuild(s); /* empty tables, one free block spanning the region */
  __atomic_store_n(&s->hdr->magic, PRS_MAGIC, __ATOMIC_RELEASE);
  return PRS_OK;
}

static int validate(const prs_header *h, uint64_t file_size, const char *name) {
  if (h->version != PRS_VERSION || h->header_size != PRS_HEADER_SIZE)
    return prs_fail(PRS_ERR_BAD_SEGMENT,
                    "segment %s has store version %u (header %u bytes); this "
                    "library reads version %u",
                    name, h->version, h->header_size, PRS_VERSION);
  prs_header geo;
  memset(&geo, 0, sizeof geo);
  if (h->capacity >= PRS_ALIGN && h->capacity <= PRS_MAX_CAPACITY)
    layout(&geo, h->capacity);
  if (geo.total_size != h->total_size || h->total_size != file_size ||
      geo.data_off != h->data_off || geo.max_entries != h->max_entries ||
      geo.scratch_off != h->scratch_off)
    return prs_fail(PRS_ERR_BAD_SEGMENT,
                    "segment %s has an inconsistent layout (capacity %llu, "
                    "recorded size %llu, actual size %llu)",
                    name, (unsigned long long)h->capacity,
                    (unsigned long long)h->total_size,
                    (unsigned long long)file_size);
  return PRS_OK;
}

int prs_segment_open(const char *name, prs_store *s) {
  int rc = prs_check_name(name);
  if (rc) return rc;
  int fd = shm_open(name, O_RDWR, 0);
  if (fd < 0) {
    if (errno == ENOENT)
      return prs_fail(PRS_ERR_NO_SEGMENT, "no store segment named %s", name);
    return prs_fail(PRS_ERR_SYSTEM, "shm_open(%s): %s", name, strerror(errno));
  }
  /* A creator may be between shm_open and writing the magic: give it a
   * moment (bounded) before calling the segment foreign. */
  struct stat st;
  uint64_t magic = 0;
  for (int tries = 0;; tries++) {
    if (fstat(fd, &st) != 0) {
      int err = errno;
      close(fd);
      return prs_fail(PRS_ERR_SYSTEM, "fstat(%s): %s", name, strerror(err));
    }
    if ((uint64_t)st.st_size >= PRS_HEADER_SIZE &&
        pread(fd, &magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
        magic != 0)
      break;
    if (tries >= 200) break; /* 200 * 5 ms */
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (magic != PRS_MAGIC) {
    close(fd);
    return prs_fail(PRS_ERR_BAD_SEGMENT,
                    "segment %s (%lld bytes) is not a polyray store (magic "
                    "%#llx)",
                    name, (long long)st.st_size, (unsigned long long)magic);
  }
  void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (base == MAP_FAILED)
    return prs_fail(err == ENOMEM ? PRS_ERR_NO_MEMORY : PRS_ERR_SYSTEM,
                    "cannot map segment %s (%lld bytes): %s", name,
                    (long long)st.st_size, strerror(err));
  s->base = base;
  s->map_size = (size_t)st.st_size;
  s->hdr = (prs_header *)base;
  __atomic_thread_fence(__ATOMIC_ACQUIRE); /* pairs with the creator's magic */
  if ((rc = validate(s->hdr, (uint64_t)st.st_size, name)) != PRS_OK) {
    munmap(base, s->map_size);
    s->base = NULL;
    return rc;
  }
  bind_tables(s);
  return PRS_OK;
}

void prs_segment_unmap(prs_store *s) {
  if (s->base) munmap(s->base, s->map_size);
  s->base = NULL;
  s->hdr = NULL;
}

/*
 * test_model.c — random operations checked against a simple model of what
 * the store must answer, with a full internal invariant check (check.c)
 * every few operations and forced rebuilds (what recovery runs) in between.
 */
#include "check.h"
#include "test_util.h"

#define IDS 300
#define OPS 400000

enum { ABSENT, CREATED, SEALED };

typedef struct model {
  int state;
  uint64_t size;
  uint8_t fill;
  int pins;
  int pending;
  const uint8_t *view; /* a pinned view, to check it never changes */
} model;

static model m[IDS];
static prs_store *s;

static void id_of(uint32_t i, uint8_t *id) { make_id(id, i * 2654435761u, i); }

static void check_view(uint32_t i, const uint8_t *p) {
  for (uint64_t k = 0; k < m[i].size; k++)
    if (p[k] != (uint8_t)(m[i].fill + k)) {
      fprintf(stderr, "FAIL: object %u byte %llu changed\n", i,
              (unsigned long long)k);
      exit(1);
    }
}

/* After anything that may evict: objects the store no longer has must have
 * been evictable (sealed, unpinned, not pending); nothing else may vanish. */
static void resync(void) {
  uint8_t id[PRS_OBJECT_ID_SIZE];
  for (uint32_t i = 0; i < IDS; i++) {
    if (m[i].state == ABSENT) continue;
    int has;
    id_of(i, id);
    CHECK_OK(prs_contains(s, id, &has));
    if (m[i].state == SEALED && !m[i].pending) {
      if (!has) {
        CHECK(m[i].pins == 0);
        m[i].state = ABSENT;
      }
    } else {
      CHECK(has == 0); /* unsealed or pending: invisible */
    }
  }
}

int main(void) {
  char name[64];
  test_name(name, sizeof name, "model");
  prs_store_unlink(name);
  CHECK_OK(prs_store_create(name, 256 << 10, &s));
  unsigned seed = 4242;
  uint8_t id[PRS_OBJECT_ID_SIZE], *d, *md;
  prs_view v;
  uint64_t checks = 0, rebuilds = 0;
  for (uint32_t op = 0; op < OPS; op++) {
    uint32_t i = rand_r(&seed) % IDS;
    id_of(i, id);
    model *o = &m[i];
    int rc;
    switch (rand_r(&seed) % 8) {
    case 0:
    case 1: { /* create (often followed by seal) */
      uint64_t size = rand_r(&seed) % 4 == 0 ? 0 : rand_r(&seed) % 12000;
      rc = prs_create(s, id, size, 0, &d, &md);
      if (o->state != ABSENT) {
        CHECK_RC(rc, PRS_ERR_EXISTS);
        break;
      }
      if (rc == PRS_ERR_FULL || rc == PRS_ERR_TABLE_FULL) {
        resync();
        break;
      }
      CHECK_OK(rc);
      o->state = CREATED;
      o->size = size;
      o->fill = (uint8_t)rand_r(&seed);
      for (uint64_t k = 0; k < size; k++) d[k] = (uint8_t)(o->fill + k);
      resync();
      if (rand_r(&seed) % 3) {
        CHECK_OK(prs_seal(s, id));
        o->state = SEALED;
      }
      break;
    }
    case 2: /* seal */
      rc = prs_seal(s, id);
      CHECK_RC(rc, o->state == ABSENT    ? PRS_ERR_NOT_FOUND
                   : o->state == SEALED ? PRS_ERR_SEALED
                                        : PRS_OK);
      if (rc == PRS_OK) o->state = SEALED;
      break;
    case 3: /* abort */
      rc = prs_abort(s, id);
      CHECK_RC(rc, o->state == ABSENT    ? PRS_ERR_NOT_FOUND
                   : o->state == SEALED ? PRS_ERR_SEALED
                                        : PRS_OK);
      if (rc == PRS_OK) o->state = ABSENT;
      break;
    case 4: /* get */
      rc = prs_get(s, id, 1, 0, &v);
      if (o->state == SEALED && !o->pending) {
        CHECK_OK(rc);
        CHECK(v.data_size == o->size);
        check_view(i, v.data);
        if (o->pins && o->view) CHECK(o->view == v.data);
        o->view = v.data;
        o->pins++;
      } else {
        CHECK_RC(rc, PRS_ERR_TIMEOUT);
      }
      break;
    case 5: /* release */
      rc = prs_release(s, id);
      if (o->state == ABSENT) {
        CHECK_RC(rc, PRS_ERR_NOT_FOUND);
      } else if (o->pins == 0) {
        CHECK_RC(rc, PRS_ERR_NOT_PINNED);
      } else {
        CHECK_OK(rc);
        check_view(i, o->view); /* unchanged while it was pinned */
        if (--o->pins == 0) {
          o->view = NULL;
          if (o->pending) {
            o->state = ABSENT;
            o->pending = 0;
          }
        }
      }
      break;
    case 6: /* delete */
      rc = prs_delete(s, id);
      if (o->state == ABSENT) {
        CHECK_RC(rc, PRS_ERR_NOT_FOUND);
      } else if (o->state == CREATED) {
        CHECK_RC(rc, PRS_ERR_NOT_SEALED);
      } else {
        CHECK_OK(rc);
        if (o->pins)
          o->pending = 1;
        else
          o->state = ABSENT;
      }
      break;
    case 7: { /* evict */
      uint64_t freed;
      CHECK_OK(prs_evict(s, rand_r(&seed) % 30000, &freed));
      resync();
      break;
    }
    }
    if (op % 97 == 0) {
      CHECK_OK(prs_check(s));
      checks++;
    }
    if (op % 1009 == 0) {
      CHECK_OK(prs_force_rebuild(s));
      CHECK_OK(prs_check(s));
      rebuilds++;
    }
  }
  /* Release everything, delete everything: the store is empty again. */
  for (uint32_t i = 0; i < IDS; i++) {
    id_of(i, id);
    while (m[i].pins) {
      CHECK_OK(prs_release(s, id));
      m[i].pins--;
    }
    if (m[i].state == CREATED) CHECK_OK(prs_abort(s, id));
    if (m[i].state == SEALED && !m[i].pending) CHECK_OK(prs_delete(s, id));
  }
  CHECK_OK(prs_check(s));
  prs_stats st;
  CHECK_OK(prs_get_stats(s, &st));
  CHECK(st.objects == 0 && st.bytes_used == 0);
  printf("model: ok (%u ops, %llu full checks, %llu rebuilds, %llu evictions)\n",
         OPS, (unsigned long long)checks, (unsigned long long)rebuilds,
         (unsigned long long)st.evictions);
  CHECK_OK(prs_store_close(s, 1));
  CHECK_OK(prs_store_unlink(name));
  return 0;
}

/*
 * htab.c — insertion and backward-shift deletion for htab.h's tables.
 *
 * Invariant kept by every function here: each occupied slot is reachable by
 * probing from its home slot without crossing an empty slot.
 */
#include "htab.h"

#include <string.h>

void prs_htab_insert(prs_hslot *t, uint32_t mask, uint32_t tag, uint32_t ref) {
  uint32_t i = tag & mask;
  while (t[i].ref != 0) i = (i + 1) & mask;
  t[i].tag = tag;
  t[i].ref = ref + 1;
}

void prs_htab_remove_at(prs_hslot *t, uint32_t mask, uint32_t pos) {
  uint32_t hole = pos;
  uint32_t j = pos;
  for (;;) {
    j = (j + 1) & mask;
    if (t[j].ref == 0) break;
    uint32_t home = t[j].tag & mask;
    /* The slot at j may move back into the hole only if its home is not in
     * the cyclic interval (hole, j]; otherwise moving it would put it before
     * its home. */
    int stays = hole <= j ? (hole < home && home <= j)
                          : (hole < home || home <= j);
    if (!stays) {
      t[hole] = t[j];
      hole = j;
    }
  }
  t[hole].ref = 0;
  t[hole].tag = 0;
}

int prs_htab_remove(prs_hslot *t, uint32_t mask, uint32_t tag, uint32_t ref) {
  int64_t pos = prs_htab_find_ref(t, mask, tag, ref);
  if (pos < 0) return 0;
  prs_htab_remove_at(t, mask, (uint32_t)pos);
  return 1;
}

void prs_htab_clear(prs_hslot *t, uint32_t mask) {
  memset(t, 0, ((size_t)mask + 1) * sizeof *t);
}

/*
 * lock.c — the robust process-shared store lock, and the futex on which
 * getters wait for seals.
 *
 * Invariants:
 *   - Every read or write of store state (except seq and waiters) happens
 *     while holding hdr->lock.
 *   - When pthread_mutex_lock reports EOWNERDEAD the state may be half
 *     updated; it is rebuilt (prs_rebuild) before the lock is marked
 *     consistent, and recoveries is incremented once per repair.
 *   - seq changes after every seal (after the entry's commit), so a getter
 *     that read seq before checking under the lock and then sleeps on that
 *     value cannot miss a seal: the kernel compares seq atomically with
 *     going to sleep. No process-shared condvar is used: a waiter killed
 *     inside pthread_cond_wait can wedge glibc's condvar for everyone.
 *   - waiters over-approximates the number of sleepers (a sleeper killed
 *     mid-wait leaves it high); a high count only costs a useless wake.
 */
#include "lock.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "recover.h"

int prs_lock(prs_store *s) {
  int rc = pthread_mutex_lock(&s->hdr->lock);
  if (rc == 0) return PRS_OK;
  if (rc == EOWNERDEAD) {
    prs_rebuild(s);
    s->hdr->recoveries++;
    pthread_mutex_consistent(&s->hdr->lock);
    return PRS_OK;
  }
  if (rc == EDEADLK)
    return prs_fail(PRS_ERR_SYSTEM,
                    "this thread already holds the store lock "
                    "(prs_test_hold_lock was called)");
  return prs_fail(PRS_ERR_SYSTEM, "cannot take the store lock: %s",
                  strerror(rc));
}

void prs_unlock(prs_store *s) { pthread_mutex_unlock(&s->hdr->lock); }

void prs_seq_wait(prs_store *s, uint32_t seen, const struct timespec *deadline) {
  prs_header *h = s->hdr;
  atomic_fetch_add(&h->waiters, 1);
  /* Not FUTEX_PRIVATE: sleepers and wakers are in different processes.
   * WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so repeated
   * spurious wakes do not stretch the timeout. */
  syscall(SYS_futex, (uint32_t *)&h->seq, FUTEX_WAIT_BITSET, seen, deadline,
          NULL, FUTEX_BITSET_MATCH_ANY);
  atomic_fetch_sub(&h->waiters, 1);
}

void prs_seq_bump(prs_store *s) {
  prs_header *h = s->hdr;
  atomic_fetch_add(&h->seq, 1);
  if (atomic_load(&h->waiters) > 0)
    syscall(SYS_futex, (uint32_t *)&h->seq, FUTEX_WAKE, INT_MAX, NULL, NULL,
            0);
}

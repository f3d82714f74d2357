/*
 * alloc.h — allocator of the data region (see alloc.c).
 */
#ifndef PRS_ALLOC_H
#define PRS_ALLOC_H

#include <stdint.h>

#include "segment.h"

/* Reserve `size` bytes (a non-zero multiple of PRS_ALIGN); 0 on success with
 * *offset set, -1 when no free block is large enough. */
int prs_alloc(prs_store *s, uint64_t size, uint64_t *offset);
/* Return a block; merges it with free neighbours. */
void prs_free(prs_store *s, uint64_t offset, uint64_t size);
/* Forget every free block (start of a rebuild). */
void prs_alloc_reset(prs_store *s);
/* Add [offset, offset+size) as free during a rebuild; calls must come in
 * increasing offset order and never touch an allocated byte. */
void prs_alloc_add_free(prs_store *s, uint64_t offset, uint64_t size);
/* Size of the largest free block (for error messages). */
uint64_t prs_alloc_largest(prs_store *s);

#endif

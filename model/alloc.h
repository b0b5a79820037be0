/* alloc.c: the one allocation seam, and the VMA slab. Private. */
#ifndef MMREF_ALLOC_H
#define MMREF_ALLOC_H

#include "internal.h"

void *mm_alloc(mm_state *mm, size_t size); /* zeroed; NULL if the seam fails it */
void mm_free(mm_state *mm, void *p);
/* A zeroed VMA from the slab, with index nodes reserved for its insertion;
 * NULL if the seam fails it (one allocation, as mm_alloc). */
struct vma *mm_vma_alloc(mm_state *mm);
void mm_vma_free(mm_state *mm, struct vma *v);
/* mm_destroy: frees the slab and the index's nodes. */
void mm_alloc_release(mm_state *mm);

#endif

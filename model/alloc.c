/* The one allocation seam of libmmref. Every object the model allocates goes
 * through mm_alloc or mm_vma_alloc, so a test or fuzzer can make any chosen
 * allocation fail (mm_fail_alloc_after) and drive every -ENOMEM path, the
 * way the kernel's VMA tests use fail_prealloc.
 *
 * VMAs come from a slab of the model's own: 64-byte objects, one cache line
 * each, carved from 64 KiB blocks with no per-object header. Allocating a
 * VMA also reserves the index nodes its insertion may need (vt_reserve(),
 * as the kernel's vm_area_alloc() is followed by vma_iter_prealloc()), so
 * that the failure, when there is one, comes before anything changes and
 * counts as one allocation, as it did when a VMA came from calloc. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* The seam: true when this allocation is the one chosen to fail. */
static bool seam_fails(mm_state *mm)
{
	return mm && mm->fail_alloc_countdown && --mm->fail_alloc_countdown == 0;
}

void *mm_alloc(mm_state *mm, size_t size)
{
	if (seam_fails(mm))
		return NULL;
	return calloc(1, size);
}

void mm_free(mm_state *mm, void *p)
{
	(void)mm;
	free(p);
}

void mm_fail_alloc_after(mm_state *mm, uint64_t n)
{
	mm->fail_alloc_countdown = n;
}

/* ---- the VMA slab -------------------------------------------------------- */

enum { SLAB_BLOCK = 64 * 1024 };

_Static_assert(sizeof(struct vma) == 64, "struct vma is one cache line");

struct slab_block {
	_Alignas(64) struct slab_block *next;
	/* then (SLAB_BLOCK - 64) / 64 VMAs */
};

union slab_free {
	struct vma vma;
	union slab_free *next;
};

static int slab_grow(struct mm_vma_slab *s)
{
	struct slab_block *b = aligned_alloc(64, SLAB_BLOCK);
	union slab_free *objs;
	size_t n = (SLAB_BLOCK - sizeof(*b)) / sizeof(union slab_free);

	if (!b)
		return -ENOMEM;
	b->next = s->blocks;
	s->blocks = b;
	objs = (union slab_free *)(b + 1);
	for (size_t i = n; i-- > 0;) {
		objs[i].next = s->free;
		s->free = &objs[i];
	}
	return 0;
}

struct vma *mm_vma_alloc(mm_state *mm)
{
	struct mm_vma_slab *s = &mm->vma_slab;
	union slab_free *f;
	size_t unlinked;

	if (seam_fails(mm))
		return NULL;
	if (!s->free && slab_grow(s) < 0)
		return NULL;
	/* VMAs allocated but not in the index, this one included: each may
	 * still be inserted (an over-estimate while erased ones await
	 * vma_free). */
	unlinked = s->live + 1 > mm->vt.count ? s->live + 1 - mm->vt.count : 1;
	if (vt_reserve(&mm->vt, unlinked) < 0)
		return NULL;
	f = s->free;
	s->free = f->next;
	s->live++;
	memset(&f->vma, 0, sizeof(f->vma));
	return &f->vma;
}

void mm_vma_free(mm_state *mm, struct vma *v)
{
	struct mm_vma_slab *s = &mm->vma_slab;
	union slab_free *f = (union slab_free *)v;

	f->next = s->free;
	s->free = f;
	s->live--;
}

void mm_alloc_release(mm_state *mm)
{
	struct slab_block *b = mm->vma_slab.blocks;

	while (b) {
		struct slab_block *next = b->next;
		free(b);
		b = next;
	}
	mm->vma_slab.blocks = NULL;
	mm->vma_slab.free = NULL;
	vt_destroy(&mm->vt);
}

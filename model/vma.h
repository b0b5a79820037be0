/* vma.c: VMA objects, split and merge (mm/vma.c), anon_vma_prepare, stack
 * growth. Private. */
#ifndef MMREF_VMA_H
#define MMREF_VMA_H

#include "internal.h"

/* One merge attempt: mm/vma.h struct vma_merge_struct. */
struct vma_merge {
	struct vma *prev;   /* the VMA before the range, or NULL */
	struct vma *middle; /* existing-range merges: the VMA holding the range */
	struct vma *next;   /* the VMA after the range, or NULL */
	uint64_t start, end; /* the range */
	uint64_t pgoff;      /* vm_pgoff the range would have */
	uint64_t flags;      /* vm_flags the range would have */
	struct mm_object *obj;
	struct anon_vma *anon_vma; /* the range's anon_vma (mremap: the source's) */
	bool just_expand;          /* merge with prev only (brk, mremap in place) */
};

struct vma *vma_alloc(mm_state *mm);
void vma_free(mm_state *mm, struct vma *v);
/* exit_mmap()'s walk over the current process: every VMA unmapped (entries
 * and the tables they leave empty) and freed, one VMA at a time, since
 * entries exist only under VMAs. */
void vma_unmap_all(mm_state *mm);
void vma_remove(mm_state *mm, struct vma *v);
/* vm_ops->open / ->close of v's object, if it has them (a VMA made by a
 * split, mremap or fork; a VMA unmapped: remove_vma). */
void vma_open(mm_state *mm, const struct vma *v);
void vma_close(mm_state *mm, const struct vma *v);
void vma_set_anon_vma(mm_state *mm, struct vma *v, struct anon_vma *av);
void vma_note_touched(mm_state *mm, uint64_t addr);
void vma_forget_anon_apart(mm_state *mm);
int vma_split_unchecked(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new);
int vma_split(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new);
struct vma *vma_merge_new_range(mm_state *mm, struct vma_merge *g);
struct vma *vma_modify(mm_state *mm, struct vma_merge *g, int *err);
struct vma *vma_modify_flags(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, uint64_t new_flags,
                             int *err);
/* Creates the anon_vma of v if it has none, reusing a compatible neighbour's
 * (mm/rmap.c: __anon_vma_prepare, mm/vma.c: find_mergeable_anon_vma).
 * Returns 0 or -ENOMEM. */
int vma_anon_vma_prepare(mm_state *mm, struct vma *v);
/* A new anon_vma, with no references yet (vma_set_anon_vma takes one);
 * NULL if the allocation seam fails it. */
struct anon_vma *vma_anon_vma_new(mm_state *mm);
/* Grows a VM_GROWSDOWN VMA down to addr (mm/mmap.c: expand_downwards).
 * Returns 0 or -errno; on failure nothing changes. */
int vma_expand_downwards(mm_state *mm, struct vma *v, uint64_t addr);

#endif

/* munmap(2) and the unmapping core shared with mmap(MAP_FIXED) and mremap:
 * mm/vma.c do_vmi_munmap(), vms_gather_munmap_vmas(). */
#include <stdlib.h>

#include "munmap.h"
#include "pgtable.h"
#include "vma.h"

static bool vma_is_sealed(const struct vma *v)
{
	return v->vm_flags & MM_VM_SEALED;
}

/* The common case of do_vmi_align_munmap(): [start, end) meets one VMA
 * only, a private anonymous one (no vm_ops: no may_split, open or close),
 * not sealed, and no allocation is set to fail. The general path splits the
 * part to unmap out of v (__split_vma(), once or twice), then removes it
 * (vms_complete_munmap_vmas()); here v keeps what stays below start (or
 * above end) and only a piece above end in a middle unmap becomes a new VMA.
 * The result is the same VMAs -- bounds, flags, pgoff, anon_vma and file
 * references --, the same huge page splits, page-table teardown (its floor
 * and ceiling come from the same ranges), merge-check boundaries and
 * locked_vm, without the allocation, insertion and erase of the piece that
 * goes. Returns false, having changed nothing, when the case does not
 * apply. */
static bool munmap_one_fast(mm_state *mm, struct vma *v, uint64_t start, uint64_t end)
{
	const struct vma *next = v->node.next;
	uint64_t vs = v->vm_start, ve = v->vm_end;
	bool below = start > vs, above = end < ve; /* parts that stay */

	if (v->obj || vma_is_sealed(v) || mm->fail_alloc_countdown || (next && next->vm_start < end))
		return false;
	if (below && above) {
		/* The split of one VMA in three: map_count's limit applies
		 * (the general path's check, first). */
		if (mm->vt.count >= mm->cfg.max_map_count)
			return false;
		/* __split_vma() at start (the huge page cut, the boundary
		 * noted), then at end: the piece above end is a new VMA. */
		pg_split_huge_at(mm, start);
		vma_note_touched(mm, start);
		if (vma_split_unchecked(mm, v, end, false, NULL))
			abort(); /* no vm_ops, no failing allocation */
		pg_unmap_range(mm, start, end);
		vt_set_bounds(&mm->vt, v, vs, start);
	} else if (below) {
		pg_split_huge_at(mm, start);
		vma_note_touched(mm, start);
		pg_unmap_range(mm, start, end);
		vt_set_bounds(&mm->vt, v, vs, start);
	} else if (above) {
		pg_split_huge_at(mm, end);
		vma_note_touched(mm, end);
		pg_unmap_range(mm, start, end);
		v->vm_pgoff += (end - vs) >> PAGE_SHIFT;
		vt_set_bounds(&mm->vt, v, end, ve);
	} else {
		return false; /* the whole VMA: the general path has no split */
	}
	/* The pages of v in the range (which may begin or end in a hole). */
	if (v->vm_flags & MM_VM_LOCKED)
		mm->locked_vm -= ((end < ve ? end : ve) - (start > vs ? start : vs)) >> PAGE_SHIFT;
	return true;
}

/* do_vmi_align_munmap() on the page-aligned range [start, end). Holes are
 * fine. On failure Linux keeps the split of the first VMA if it already
 * happened, and so does this. */
int munmap_range(mm_state *mm, uint64_t start, uint64_t end)
{
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v)
		return 0;
	if (munmap_one_fast(mm, v, start, end))
		return 0;
	if (start > v->vm_start) {
		/* Only a split of one VMA in three is limited: map_count may go
		 * just above the limit to let munmap free resources. */
		if (end < v->vm_end && mm->vt.count >= mm->cfg.max_map_count)
			return -ENOMEM;
		if (vma_is_sealed(v))
			return -EPERM;
		int err = vma_split_unchecked(mm, v, start, true, NULL);
		if (err)
			return err;
	}
	struct vma *last = v;
	for (struct vma *w = v; w && w->vm_start < end; w = w->node.next) {
		if (vma_is_sealed(w))
			return -EPERM;
		last = w;
	}
	if (last->vm_end > end) {
		int err = vma_split_unchecked(mm, last, end, false, NULL);
		if (err)
			return err;
	}
	pg_unmap_range(mm, start, end);
	while (v && v->vm_start < end) {
		struct vma *next = v->node.next;
		/* vms_gather_munmap_vmas() counts the locked pages going,
		 * vms_complete_munmap_vmas() takes them off mm->locked_vm. */
		if (v->vm_flags & MM_VM_LOCKED)
			mm->locked_vm -= vma_pages(v);
		/* remove_vma(): vm_ops->close, the entries gone already. */
		vma_close(mm, v);
		vma_remove(mm, v);
		v = next;
	}
	return 0;
}

/* mm/vma.c: do_vmi_munmap() argument checks. */
int mm_munmap(mm_state *mm, uint64_t addr, uint64_t len)
{
	mm->n_touched = 0;
	if (offset_in_page(addr) || addr > MM_TASK_SIZE || len > MM_TASK_SIZE - addr)
		return -EINVAL;
	uint64_t end = addr + PAGE_ALIGN(len);
	if (end == addr)
		return -EINVAL;
	int err = munmap_range(mm, addr, end);
	if (err)
		mm->n_touched = 0; /* a failed munmap may leave its head split */
	return err;
}

/* mseal(2): mm/mseal.c do_mseal(). */
#include "vma.h"

/* range_contains_unmapped(): any hole in [start, end). */
static bool range_contains_unmapped(const mm_state *mm, uint64_t start, uint64_t end)
{
	uint64_t prev_end = start;
	for (struct vma *v = vt_find_intersection(&mm->vt, start, end); v && v->vm_start < end; v = v->node.next) {
		if (v->vm_start > prev_end)
			return true;
		prev_end = v->vm_end;
	}
	return prev_end < end;
}

int mm_mseal(mm_state *mm, uint64_t start, uint64_t len, uint64_t flags)
{
	mm->n_touched = 0;
	/* The system call came in 6.10, 8be7258aad44 ("mseal: add mseal
	 * syscall"): before it, ENOSYS (docs/versions.md). */
	if (!mm_kernel_at_least(mm, 610))
		return -ENOSYS;
	if (flags)
		return -EINVAL;
	if (offset_in_page(start))
		return -EINVAL;
	uint64_t alen = PAGE_ALIGN(len);
	if (alen < len)
		return -EINVAL; /* rounding wrapped */
	if (!alen)
		return 0;
	uint64_t end = start + alen;
	if (end < start)
		return -EINVAL;
	/* Nothing is sealed when any part of the range is unmapped. */
	if (range_contains_unmapped(mm, start, end))
		return -ENOMEM;
	/* mseal_apply(): seal every piece, merging with sealed neighbours. */
	uint64_t cur = start;
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	while (v && v->vm_start < end) {
		uint64_t e = v->vm_end < end ? v->vm_end : end;
		struct vma *r = v;
		if (!(v->vm_flags & MM_VM_SEALED)) {
			int err = 0;
			r = vma_modify_flags(mm, v, cur, e, v->vm_flags | MM_VM_SEALED, &err);
			if (!r) {
				mm->n_touched = 0;
				return err;
			}
		}
		cur = r->vm_end;
		v = r->node.next;
	}
	return 0;
}

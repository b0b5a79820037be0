/* mlock(2), mlock2(2), munlock(2): mm/mlock.c apply_vma_lock_flags() and
 * mlock_fixup(). The model runs as root (CAP_IPC_LOCK): no RLIMIT_MEMLOCK. */
#include "internal.h"

/* mlock_fixup(): VMAs that cannot be locked keep their flags, silently. */
static bool vma_supports_mlock(const struct vma *v)
{
	return !(v->vm_flags & (MM_VM_SPECIAL | MM_VM_HUGETLB | MM_VM_DROPPABLE));
}

/* apply_vma_lock_flags(): walk [start, end), give every VMA piece the lock
 * flags; a hole is ENOMEM, found before (hole at the start) or after
 * (later holes) the earlier pieces were changed. */
static int apply_vma_lock_flags(mm_state *mm, uint64_t start, uint64_t len, uint64_t lock_flags)
{
	uint64_t end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v || v->vm_start > start)
		return -ENOMEM;
	uint64_t nstart = start, tmp = v->vm_start;
	int err = 0;
	while (v && v->vm_start < end) {
		if (v->vm_start != tmp)
			return -ENOMEM;
		uint64_t new_flags = (v->vm_flags & ~MM_VM_LOCKED_MASK) | lock_flags;
		tmp = v->vm_end < end ? v->vm_end : end;
		struct vma *r = v;
		if (new_flags != v->vm_flags && vma_supports_mlock(v)) {
			r = vma_modify_flags(mm, v, nstart, tmp, new_flags, &err);
			if (!r)
				return err;
		}
		tmp = r->vm_end;
		nstart = tmp;
		v = r->node.next;
	}
	if (tmp < end)
		return -ENOMEM;
	return 0;
}

int mm_mlock2(mm_state *mm, uint64_t start, uint64_t len, uint64_t flags)
{
	mm->n_touched = 0;
	if (flags & ~(uint64_t)MM_MLOCK_ONFAULT)
		return -EINVAL;
	/* do_mlock(): the start is rounded down, the length up. */
	len = PAGE_ALIGN(len + offset_in_page(start));
	start &= PAGE_MASK;
	uint64_t lock_flags = MM_VM_LOCKED | (flags & MM_MLOCK_ONFAULT ? MM_VM_LOCKONFAULT : 0);
	int err = apply_vma_lock_flags(mm, start, len, lock_flags);
	if (err) {
		mm->n_touched = 0;
		return err;
	}
	/* __mm_populate(start, len, 0); __mlock_posix_error_return() turns
	 * EFAULT (PROT_NONE, a guard marker, a page beyond EOF) into ENOMEM.
	 * The VMAs stay locked. */
	err = mm_populate_range(mm, start, start + len, false);
	if (err == -EFAULT)
		return -ENOMEM;
	if (err == -ENOMEM)
		return -EAGAIN;
	return err;
}

int mm_munlock(mm_state *mm, uint64_t start, uint64_t len)
{
	mm->n_touched = 0;
	len = PAGE_ALIGN(len + offset_in_page(start));
	start &= PAGE_MASK;
	int err = apply_vma_lock_flags(mm, start, len, 0);
	if (err)
		mm->n_touched = 0;
	return err;
}

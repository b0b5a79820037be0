/* mlock(2), mlock2(2), munlock(2): mm/mlock.c do_mlock(),
 * apply_vma_lock_flags() and mlock_fixup(), under the profile's
 * RLIMIT_MEMLOCK (mm_config.memlock; MM_MEMLOCK_UNLIMITED stands for
 * RLIM_INFINITY or CAP_IPC_LOCK, which the model does not tell apart). */
#include "gup.h"
#include "mlock.h"
#include "pagepolicy.h"
#include "vma.h"

/* Pages of all VM_LOCKED VMAs, for the checker. */
uint64_t mlock_locked_pages(const mm_state *mm)
{
	uint64_t n = 0;
	for (const struct vma *v = vt_first(&mm->vt); v; v = v->node.next)
		if (v->vm_flags & MM_VM_LOCKED)
			n += vma_pages(v);
	return n;
}

/* mm/mlock.c count_mm_mlocked_page_nr(): pages of VM_LOCKED VMAs inside
 * [start, start + len), the end clamped to ULONG_MAX. */
static uint64_t count_mm_mlocked_page_nr(const mm_state *mm, uint64_t start, uint64_t len)
{
	uint64_t end = UINT64_MAX - len < start ? UINT64_MAX : start + len;
	uint64_t count = 0;
	for (const struct vma *v = vt_find(&mm->vt, start); v && v->vm_start < end; v = v->node.next) {
		if (!(v->vm_flags & MM_VM_LOCKED))
			continue;
		if (start > v->vm_start)
			count -= start - v->vm_start;
		if (end < v->vm_end) {
			count += end - v->vm_start;
			break;
		}
		count += v->vm_end - v->vm_start;
	}
	return count >> PAGE_SHIFT;
}

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
			uint64_t old_flags = v->vm_flags;
			r = vma_modify_flags(mm, v, nstart, tmp, new_flags, &err);
			if (!r)
				return err;
			/* mlock_fixup(): keep track of the amount of locked VM. */
			uint64_t nr_pages = (tmp - nstart) >> PAGE_SHIFT;
			if (!(new_flags & MM_VM_LOCKED)) {
				mm->locked_vm -= nr_pages;
				/* munlock_vma_pages_range() */
				pp_mark_mlocked(mm, nstart, tmp, false);
			}
			else if (!(old_flags & MM_VM_LOCKED))
				mm->locked_vm += nr_pages;
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
	/* do_mlock() */
	if (!can_do_mlock(mm))
		return -EPERM;
	/* The start is rounded down, the length up. */
	len = PAGE_ALIGN(len + offset_in_page(start));
	start &= PAGE_MASK;
	if (!mm_memlock_unlimited(mm)) {
		/* The new total may count again pages locked already: those
		 * are taken off before the limit refuses (ENOMEM), which comes
		 * before apply_vma_lock_flags()'s own checks. */
		uint64_t lock_limit = mm->cfg.memlock >> PAGE_SHIFT;
		uint64_t locked = (len >> PAGE_SHIFT) + mm->locked_vm;
		if (locked > lock_limit)
			locked -= count_mm_mlocked_page_nr(mm, start, len);
		if (locked > lock_limit)
			return -ENOMEM;
	}
	uint64_t lock_flags = MM_VM_LOCKED | (flags & MM_MLOCK_ONFAULT ? MM_VM_LOCKONFAULT : 0);
	int err = apply_vma_lock_flags(mm, start, len, lock_flags);
	if (err) {
		mm->n_touched = 0;
		return err;
	}
	/* __mm_populate(start, len, 0); __mlock_posix_error_return() turns
	 * EFAULT (PROT_NONE, a guard marker, a page beyond EOF) into ENOMEM.
	 * The VMAs stay locked. */
	err = gup_populate(mm, start, start + len, false);
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

/* mprotect (mm/mprotect.c: do_mprotect_pkey, mprotect_fixup). */
#include "naive_internal.h"

/* mm/mprotect.c: mprotect_fixup() for [start, end) inside v. Returns 0 and
 * the end of the VMA now holding the range (vma_iter_end), or -errno. */
static int mprotect_fixup(naive_mm *nm, nvma *v, uint64_t start, uint64_t end, uint64_t newflags,
                          uint64_t *iter_end)
{
	if (v->flags & MM_VM_SEALED) /* can_modify_vma(), before the no-op test */
		return -EPERM;
	uint64_t oldflags = v->flags;
	if (newflags == oldflags) {
		*iter_end = v->end;
		return 0;
	}
	if (newflags & MM_VM_WRITE) {
		/* becoming writable from never-charged: VM_ACCOUNT */
		if (!(oldflags & (MM_VM_ACCOUNT | MM_VM_WRITE | MM_VM_HUGETLB | MM_VM_SHARED | MM_VM_NORESERVE)))
			newflags |= MM_VM_ACCOUNT;
	} else if ((oldflags & MM_VM_ACCOUNT) && v->backing == MM_BACKING_ANON && !v->anon_vma &&
	           nv_has(nm, NV_MPROTECT_UNACCOUNT)) {
		/* vma_is_anonymous() without an anon_vma gives the charge back */
		newflags &= ~MM_VM_ACCOUNT;
	}
	nvma *r;
	int err = nv_modify_flags(nm, v, start, end, newflags, &r);
	if (err)
		return err;
	/* change_protection(): PTEs follow the VMA; a PMD-mapped THP only
	 * partly covered is split. Page states do not change. */
	nv_regions_split_partial(nm, start, end);
	*iter_end = r->end;
	/* a private VM_LOCKED VMA becoming writable is populated (COW broken) */
	if ((oldflags & (MM_VM_WRITE | MM_VM_SHARED | MM_VM_LOCKED)) == MM_VM_LOCKED && (newflags & MM_VM_WRITE)) {
		(void)nv_mm_populate(nm, start, end - start, true);
	}
	return 0;
}

int naive_mprotect(naive_mm *nm, uint64_t start, uint64_t len, uint64_t prot)
{
	uint64_t grows = prot & (MM_PROT_GROWSDOWN | MM_PROT_GROWSUP);
	prot &= ~(uint64_t)(MM_PROT_GROWSDOWN | MM_PROT_GROWSUP);
	if (grows == (MM_PROT_GROWSDOWN | MM_PROT_GROWSUP))
		return -EINVAL;
	if (start & ~NV_PAGE_MASK)
		return -EINVAL;
	if (!len)
		return 0;
	len = nv_page_align(len);
	uint64_t end = start + len;
	if (end <= start)
		return -ENOMEM;
	/* arch_validate_prot(): R/W/X and PROT_SEM only */
	if (prot & ~(uint64_t)(MM_PROT_READ | MM_PROT_WRITE | MM_PROT_EXEC | MM_PROT_SEM))
		return -EINVAL;

	nvma *v = nv_find_vma(nm, start); /* vma_find(&vmi, end) */
	if (!v || v->start >= end)
		return -ENOMEM;
	if (grows & MM_PROT_GROWSDOWN) {
		start = v->start;
		if (!(v->flags & MM_VM_GROWSDOWN))
			return -EINVAL;
	} else {
		if (v->start > start)
			return -ENOMEM;
		if (grows & MM_PROT_GROWSUP)
			return -EINVAL; /* no VM_GROWSUP on x86 */
	}

	uint64_t vmprot = (prot & MM_PROT_READ ? MM_VM_READ : 0) | (prot & MM_PROT_WRITE ? MM_VM_WRITE : 0) |
	                  (prot & MM_PROT_EXEC ? MM_VM_EXEC : 0);
	uint64_t nstart = start;
	uint64_t tmp = v->start;
	int error = 0;
	/* for_each_vma_range: VMAs in address order from nstart, each processed
	 * before the next is looked at; earlier work is never rolled back. */
	for (;;) {
		v = nv_find_vma(nm, nstart);
		if (!v || v->start >= end)
			break;
		if (v->start != tmp) {
			error = -ENOMEM; /* a hole inside the range */
			break;
		}
		/* arch_override_mprotect_pkey() (pkey == -1 for plain mprotect):
		 * prot == PROT_EXEC asks for the execute-only key; a VMA that is
		 * execute-only with that key (vma_is_pkey_exec_only) and gets any
		 * other prot returns to ARCH_DEFAULT_PKEY (0); otherwise the
		 * VMA's own key stays. */
		uint64_t key = v->flags & MM_VM_PKEY_MASK;
		if (nm->cfg.pkeys) {
			bool exec_only_vma = (v->flags & MM_VM_ACCESS_FLAGS) == MM_VM_EXEC && key == NV_EXEC_ONLY_KEY_FLAGS;
			if (prot == MM_PROT_EXEC)
				key = NV_EXEC_ONLY_KEY_FLAGS;
			else if (exec_only_vma)
				key = 0;
		}
		uint64_t newflags = vmprot | key | (v->flags & ~(MM_VM_ACCESS_FLAGS | MM_VM_PKEY_MASK));
		/* newflags >> 4 puts VM_MAY* in place of VM_* */
		if ((newflags & ~(newflags >> 4)) & MM_VM_ACCESS_FLAGS) {
			error = -EACCES;
			break;
		}
		tmp = v->end < end ? v->end : end;
		uint64_t iter_end;
		error = mprotect_fixup(nm, v, nstart, tmp, newflags, &iter_end);
		if (error)
			break;
		tmp = iter_end;
		nstart = tmp;
		if (nstart >= end)
			break;
	}
	if (!error && tmp < end)
		error = -ENOMEM;
	return error;
}

/* mprotect(2): mm/mprotect.c do_mprotect_pkey() and mprotect_fixup(). */
#include "gup.h"
#include "pgtable.h"
#include "vma.h"

/* mprotect_fixup(): one VMA's part [start, end) gets new_flags. */
static int mprotect_fixup(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, uint64_t new_flags,
                          struct vma **out)
{
	uint64_t old_flags = v->vm_flags;
	*out = v;
	/* mm/mseal.c via can_modify_vma(): refused even when nothing changes. */
	if (old_flags & MM_VM_SEALED)
		return -EPERM;
	if (new_flags == old_flags)
		return 0;
	/* Becoming writable from never-accounted private memory charges the
	 * commit (VM_ACCOUNT); dropping write uncharges only anonymous memory
	 * that has no anon_vma yet, so faulted memory keeps "ac". */
	if (new_flags & MM_VM_WRITE) {
		if (!(old_flags & (MM_VM_ACCOUNT | MM_VM_WRITE | MM_VM_HUGETLB | MM_VM_SHARED | MM_VM_NORESERVE)))
			new_flags |= MM_VM_ACCOUNT;
	} else if ((old_flags & MM_VM_ACCOUNT) && vma_is_anonymous(v) && !v->anon_vma &&
	           mm_kernel_at_least(mm, 607)) {
		/* 6.7, 9b9143298585 ("mm/mprotect: allow unfaulted VMAs to be
		 * unaccounted on mprotect()") [LIVE: vm:6.1 keeps "ac", vm:6.12
		 * drops it] (docs/versions.md). */
		new_flags &= ~MM_VM_ACCOUNT;
	}
	int err = 0;
	struct vma *r = vma_modify_flags(mm, v, start, end, new_flags, &err);
	if (!r)
		return err;
	*out = r;
	pg_change_protection(mm, r, start, end);
	/* A private locked VMA becoming writable is populated to break COW. */
	if ((old_flags & (MM_VM_WRITE | MM_VM_SHARED | MM_VM_LOCKED)) == MM_VM_LOCKED && (new_flags & MM_VM_WRITE))
		(void)gup_populate_vma(mm, r, start, end);
	return 0;
}

int mm_mprotect(mm_state *mm, uint64_t start, uint64_t len, uint64_t prot)
{
	mm->n_touched = 0;
	uint64_t grows = prot & (MM_PROT_GROWSDOWN | MM_PROT_GROWSUP);
	prot &= ~(uint64_t)(MM_PROT_GROWSDOWN | MM_PROT_GROWSUP);
	if (grows == (MM_PROT_GROWSDOWN | MM_PROT_GROWSUP))
		return -EINVAL;
	if (offset_in_page(start))
		return -EINVAL;
	if (!len)
		return 0;
	len = PAGE_ALIGN(len);
	uint64_t end = start + len;
	if (end <= start)
		return -ENOMEM;
	/* arch_validate_prot(): only R, W, X and SEM. */
	if (prot & ~(uint64_t)(MM_PROT_READ | MM_PROT_WRITE | MM_PROT_EXEC | MM_PROT_SEM))
		return -EINVAL;

	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v)
		return -ENOMEM;
	if (grows & MM_PROT_GROWSDOWN) {
		start = v->vm_start;
		if (!(v->vm_flags & MM_VM_GROWSDOWN))
			return -EINVAL;
	} else {
		if (v->vm_start > start)
			return -ENOMEM;
		if (grows & MM_PROT_GROWSUP)
			return -EINVAL; /* x86 has no VM_GROWSUP */
	}

	uint64_t vm_prot = (prot & MM_PROT_READ ? MM_VM_READ : 0) | (prot & MM_PROT_WRITE ? MM_VM_WRITE : 0) |
	                   (prot & MM_PROT_EXEC ? MM_VM_EXEC : 0);
	uint64_t nstart = start, tmp = v->vm_start;
	int err = 0;
	/* Work done on earlier VMAs stays done when a later one fails. */
	while (v && v->vm_start < end) {
		if (v->vm_start != tmp) {
			err = -ENOMEM; /* a hole */
			break;
		}
		/* arch/x86/mm/pkeys.c __arch_override_mprotect_pkey(): under
		 * OSPKE, prot exactly PROT_EXEC takes the execute-only key; a
		 * VMA that had it (vma_is_pkey_exec_only) and gets another prot
		 * goes back to key 0; any other keeps its key. calc_vm_prot_bits
		 * then puts the key in the new flags (VM_FLAGS_CLEAR drops the old). */
		uint64_t pkey = v->vm_flags & MM_VM_PKEY_MASK;
		if (mm->cfg.pkeys && prot == MM_PROT_EXEC)
			pkey = MM_VM_PKEY_EXEC_ONLY;
		else if (mm->cfg.pkeys && (v->vm_flags & MM_VM_ACCESS_FLAGS) == MM_VM_EXEC && pkey == MM_VM_PKEY_EXEC_ONLY)
			pkey = 0;
		uint64_t new_flags = vm_prot | pkey | (v->vm_flags & ~(MM_VM_ACCESS_FLAGS | MM_VM_PKEY_MASK));
		/* VM_MAYx is VM_x << 4: a right may only be added if allowed. */
		if ((new_flags & ~(new_flags >> 4)) & MM_VM_ACCESS_FLAGS) {
			err = -EACCES;
			break;
		}
		tmp = v->vm_end < end ? v->vm_end : end;
		struct vma *r;
		err = mprotect_fixup(mm, v, nstart, tmp, new_flags, &r);
		if (err)
			break;
		tmp = r->vm_end;
		nstart = tmp;
		v = r->node.next;
	}
	if (!err && tmp < end)
		err = -ENOMEM;
	if (err)
		mm->n_touched = 0;
	return err;
}

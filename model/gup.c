/* Populate (mm/gup.c): __mm_populate(), populate_vma_page_range() and
 * __get_user_pages(), which fault pages in through the fault handler, as
 * in Linux: populate sits above handle_mm_fault.
 */
#include "fault.h"
#include "gup.h"
#include "pages.h"
#include "pgtable.h"
#include "vma.h"

int gup_get_pages(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, bool write)
{
	/* __get_user_pages(): the caller has checked the VMA's permissions;
	 * a VMA nobody may access has nothing to fault in. */
	if (!(v->vm_flags & MM_VM_ACCESS_FLAGS))
		return -EFAULT;
	if (write && !(v->vm_flags & MM_VM_WRITE))
		return -EFAULT;
	/* check_vma_flags(): "gups are always data accesses, not instruction
	 * fetches": an execute-only VMA's key refuses them (pkeys=on). */
	if (!mm_vma_access_permitted(v->vm_flags, write, false))
		return -EFAULT;
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (wi) {
			uint64_t e = W(mm)[wi];
			/* follow_page_mask(): present, and writable for a write;
			 * FOLL_TOUCH with FOLL_WRITE dirties what it finds. */
			if ((e & X86_P) && (!write || (e & X86_RW))) {
				/* touch_pmd() too: a PMD-mapped THP is dirtied,
				 * so reclaim keeps it after MADV_FREE [LIVE] */
				if (write)
					W(mm)[wi] = e | X86_D | X86_A;
				continue;
			}
		}
		enum fault_result fr = fault_handle_mm_fault(mm, v, va, write ? FAULT_FLAG_WRITE : 0);
		/* __get_user_pages() retries follow_page_mask() after the fault:
		 * a write fault on a uffd-wp marker maps the page still
		 * protected, and the retry's fault goes to the userfaultfd
		 * (do_wp_page) -- SIGBUS for GUP. */
		if (fr == FAULT_OK && write && (v->vm_flags & MM_VM_UFFD_WP)) {
			uint64_t wi2 = pg_lookup(mm, va, &level);
			if (wi2 && lx_present(W(mm)[wi2]) && (W(mm)[wi2] & LX_PAGE_UFFD_WP))
				fr = FAULT_UFFD_WP;
		}
		switch (fr) {
		case FAULT_OK:
			break;
		case FAULT_OOM:
			return -ENOMEM;
		default:
			return -EFAULT;
		}
	}
	return 0;
}

/* mm/gup.c: populate_vma_page_range(): lock-on-fault VMAs are skipped;
 * private writable memory is written to break COW; the rest is read, with
 * FOLL_FORCE for any accessible VMA, so only PROT_NONE (and VM_IO/VM_PFNMAP)
 * fail check_vma_flags(). */
int gup_populate_vma(mm_state *mm, struct vma *v, uint64_t start, uint64_t end)
{
	if (v->vm_flags & MM_VM_LOCKONFAULT)
		return 0;
	if ((v->vm_flags & (MM_VM_IO | MM_VM_PFNMAP)) || !(v->vm_flags & MM_VM_ACCESS_FLAGS))
		return -EFAULT;
	vma_forget_anon_apart(mm);
	return gup_get_pages(mm, v, start, end, (v->vm_flags & (MM_VM_WRITE | MM_VM_SHARED)) == MM_VM_WRITE);
}

int gup_populate(mm_state *mm, uint64_t start, uint64_t end, bool ignore_errors)
{
	uint64_t nstart = start;
	while (nstart < end) {
		struct vma *v = vt_find_intersection(&mm->vt, nstart, end);
		if (!v)
			break;
		if (nstart < v->vm_start)
			nstart = v->vm_start;
		uint64_t nend = end < v->vm_end ? end : v->vm_end;
		int err = gup_populate_vma(mm, v, nstart, nend);
		/* __mm_populate(): with ignore_errors the next VMA is tried. */
		if (err && !ignore_errors)
			return err;
		nstart = nend;
	}
	return 0;
}


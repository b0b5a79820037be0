/* A user access: `touch` (mm_touch), `read` and `write` (mm_read,
 * mm_write), and write(2) into a declared file (mm_file_write). An access
 * walks the tables as the CPU does (mm_walk at CPL 3 under Linux's control
 * bits) and a #PF goes through arch/x86/mm/fault.c do_user_addr_fault():
 * kernel-half addresses, find the VMA / grow the stack, access_error(),
 * then handle_mm_fault() (fault.c) and the signal it maps to. The access is
 * retried after every handled fault, as returning to the faulting
 * instruction does; the second fault of "exec of an unpopulated page in a
 * non-exec VMA" (P|I|U -> ACCERR 0x15) comes out of that. The data an
 * access reads or writes is the frame's (contents.c).
 */
#include "contents.h"
#include "fault.h"
#include "frames.h"
#include "object.h"
#include "pagecache.h"
#include "pgtable.h"
#include "vma.h"

/* With OSPKE (profile pkeys) the walk also has CR4.PKE, and PKRU as every
 * task starts with it; pt_walk_linux_user is compiled for PKE off. */
static const mm_cpu_mode linux_user_mode_pke = {true, true, true, true, false, PG_MAXPHYADDR, true, MM_PKRU_INIT};

static pt_user_walk user_walk(mm_state *mm, uint64_t addr, mm_walk_access acc)
{
	if (mm->cfg.pkeys) {
		mm_walk_result w = mm_walk(pg_mem(mm), pg_cr3(mm), addr, acc, 3, &linux_user_mode_pke);
		return (pt_user_walk){w.outcome, w.pf_error};
	}
	return pt_walk_linux_user(pg_mem(mm), pg_cr3(mm), addr, acc);
}

/* The data frame and word that addr reaches through a present leaf entry
 * (after a successful access), or 0. */
static uint64_t pfn_at(const mm_state *mm, uint64_t addr)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, addr, &level);
	if (!wi)
		return 0;
	uint64_t e = pg_mem(mm)->words[wi];
	if (!lx_present(e))
		return 0;
	if (level == 2)
		return lx_pfn(e, PG_PMD_PFN_MASK) + PT_INDEX(addr, 1);
	return lx_pfn(e, PG_PFN_MASK);
}

static unsigned word_of(uint64_t addr) { return (unsigned)((addr & (MM_PAGE_SIZE - 1)) >> 3); }

/* `touch ADDR w` stores one zero byte at addr (mmref-kernel: movb $0). */
static void touch_store_byte(mm_state *mm, uint64_t addr)
{
	uint64_t pfn = pfn_at(mm, addr);
	if (pfn)
		(void)ct_store(mm, pfn, word_of(addr), 0, 0xffull << ((addr & 7) * 8));
}

mm_touch_result mm_write(mm_state *mm, uint64_t addr, uint64_t value)
{
	addr &= ~(uint64_t)7;
	mm_touch_result r = mm_touch(mm, addr, MM_ACCESS_WRITE);
	if (r.outcome != MM_TOUCH_OK)
		return r;
	uint64_t pfn = pfn_at(mm, addr);
	if (!pfn || ct_store(mm, pfn, word_of(addr), value, ~0ull))
		return (mm_touch_result){.outcome = MM_TOUCH_SIGBUS, .pf_error = MM_PF_USER | MM_PF_WRITE};
	return r;
}

mm_touch_result mm_read(mm_state *mm, uint64_t addr, uint64_t *value)
{
	addr &= ~(uint64_t)7;
	*value = 0;
	mm_touch_result r = mm_touch(mm, addr, MM_ACCESS_READ);
	if (r.outcome == MM_TOUCH_OK)
		*value = ct_load(mm, pfn_at(mm, addr), word_of(addr));
	return r;
}

int mm_file_write(mm_state *mm, int file, uint64_t off, const uint64_t *words, size_t nwords)
{
	struct mm_object *obj = mm_object_file(mm, file);
	if (!obj)
		return -EBADF;
	/* fs/read_write.c vfs_write(): a device without ->write (its file
	 * has no FMODE_CAN_WRITE) is -EINVAL. */
	if (mm_object_is_device(obj))
		return -EINVAL;
	if ((off & 7) || nwords > (UINT64_MAX - off) / 8 || off + nwords * 8 > PAGE_ALIGN(obj->size))
		return -EINVAL;
	/* Page by page, as generic_perform_write() goes: shmem_write_begin()
	 * brings the page into the cache, the copy fills its words, write_end
	 * dirties it. */
	for (size_t i = 0; i < nwords;) {
		uint64_t o = off + i * 8;
		uint64_t pfn = pc_page(mm, obj, o >> PAGE_SHIFT, true);
		if (!pfn)
			return -ENOMEM;
		fr_mark_dirty(mm, pfn);
		do {
			if (ct_store(mm, pfn, word_of(off + i * 8), words[i], ~0ull))
				return -ENOMEM;
			i++;
		} while (i < nwords && ((off + i * 8) & (MM_PAGE_SIZE - 1)));
	}
	return 0;
}

/* arch/x86/mm/fault.c access_error(). */
static bool access_error(uint32_t err, const struct vma *v)
{
	if (err & MM_PF_PK)
		return true;
	/* "Make sure to check the VMA so that we do not perform faults just
	 * to hit a X86_PF_PK as soon as we fill in a page." */
	if (!mm_vma_access_permitted(v->vm_flags, err & MM_PF_WRITE, err & MM_PF_INSTR))
		return true;
	if (err & MM_PF_WRITE)
		return !(v->vm_flags & MM_VM_WRITE);
	if (err & MM_PF_PROT)
		return true; /* read or fetch of a present page */
	return !(v->vm_flags & MM_VM_ACCESS_FLAGS);
}

/* The access after a first walk that did not go through: the fault, then
 * the walk again. */
static __attribute__((noinline)) mm_touch_result touch_fault(mm_state *mm, uint64_t addr, mm_access access,
                                                              mm_walk_access acc, pt_user_walk r)
{
	unsigned flags = (access == MM_ACCESS_WRITE ? FAULT_FLAG_WRITE : 0u) |
	                 (access == MM_ACCESS_EXEC ? FAULT_FLAG_INSTRUCTION : 0u);

	/* A handled fault returns to the instruction, which walks again. Two
	 * rounds settle every case (fault, then at most a protection fault);
	 * the bound only guards against a model bug. */
	for (int round = 0; round < 8; round++) {
		if (round) /* mm_touch walked round 0 */
			r = user_walk(mm, addr, acc);
		if (r.outcome == MM_WALK_OK) {
			if (access == MM_ACCESS_WRITE)
				touch_store_byte(mm, addr); /* movb $0 */
			return (mm_touch_result){.outcome = MM_TOUCH_OK, .pf_error = 0};
		}
		if (r.outcome == MM_WALK_GP) {
			/* #GP: SIGSEGV with si_code SI_KERNEL and REG_ERR 0 [LIVE];
			 * the public outcomes have no SI_KERNEL, so MAPERR/0. */
			return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = 0};
		}
		uint32_t err = r.pf_error | MM_PF_USER; /* set_signal_archinfo() */
		/* do_user_addr_fault(): at or above TASK_SIZE_MAX is the kernel
		 * half; sanitize_error_code() forces P. */
		if (addr >= MM_TASK_SIZE)
			return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = err | MM_PF_PROT};
		/* RSVD: pgtable_bad() kills the process; the model never builds
		 * such an entry. */
		if (err & MM_PF_RSVD)
			return (mm_touch_result){.outcome = MM_TOUCH_SIGBUS, .pf_error = err};
		struct vma *v = vt_find(&mm->vt, addr);
		if (!v)
			return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = err};
		if (v->vm_start > addr) {
			/* lock_mm_and_find_vma() -> expand_stack_locked() */
			if (!(v->vm_flags & MM_VM_GROWSDOWN) || vma_expand_downwards(mm, v, addr & PAGE_MASK))
				return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = err};
		}
		if (access_error(err, v)) {
			/* bad_area_access_error(): SEGV_PKUERR when
			 * bad_area_access_from_pkeys() (OSPKE, and PK in the
			 * error code or the VMA's key refused), else ACCERR. */
			if (mm->cfg.pkeys &&
			    ((err & MM_PF_PK) ||
			     !mm_vma_access_permitted(v->vm_flags, err & MM_PF_WRITE, err & MM_PF_INSTR)))
				return (mm_touch_result){.outcome = MM_TOUCH_SEGV_PKUERR, .pf_error = err};
			return (mm_touch_result){.outcome = MM_TOUCH_SEGV_ACCERR, .pf_error = err};
		}
		enum fault_result r2 = fault_handle_mm_fault(mm, v, addr, flags);
		switch (r2) {
		case FAULT_OK:
			break;
		case FAULT_SIGSEGV:
			return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = err};
		case FAULT_SIGBUS:
			return (mm_touch_result){.outcome = MM_TOUCH_SIGBUS, .pf_error = err};
		case FAULT_UFFD_MISSING:
		case FAULT_UFFD_MINOR:
		case FAULT_UFFD_WP: {
			/* handle_userfault(): the handler reads the message; the
			 * access waits for it (the trace abandons it). */
			mm_touch_result u = {.outcome = MM_TOUCH_UFFD, .pf_error = err};
			u.uffd_addr = addr & PAGE_MASK;
			u.uffd_flags = (access == MM_ACCESS_WRITE ? MM_UFFD_FLAG_WRITE : 0u) |
			               (r2 == FAULT_UFFD_MINOR ? MM_UFFD_FLAG_MINOR : 0u) |
			               (r2 == FAULT_UFFD_WP ? MM_UFFD_FLAG_WP : 0u);
			return u;
		}
		case FAULT_OOM:
			/* VM_FAULT_OOM: the OOM killer; only reachable through
			 * the allocation seam. Reported as SIGBUS. */
			return (mm_touch_result){.outcome = MM_TOUCH_SIGBUS, .pf_error = err};
		}
	}
	return (mm_touch_result){.outcome = MM_TOUCH_SEGV_MAPERR, .pf_error = 0};
}

mm_touch_result mm_touch(mm_state *mm, uint64_t addr, mm_access access)
{
	/* A fault never merges VMAs (stack growth only moves vm_start), so
	 * the merge check I9 has no boundary to look at after it. */
	mm->n_touched = 0;
	static const mm_walk_access acc_of[] = {MM_WALK_READ, MM_WALK_WRITE, MM_WALK_FETCH};
	mm_walk_access acc = acc_of[access <= MM_ACCESS_EXEC ? access : 0];
	/* mm_walk at CPL 3 with CR0.WP, EFER.NXE, CR4.SMEP and CR4.SMAP on
	 * (pt_linux_user_mode), specialised. The access that needs no fault
	 * ends here; touch_fault takes the rest with this first walk. */
	pt_user_walk r = user_walk(mm, addr, acc);
	if (r.outcome == MM_WALK_OK) {
		if (access == MM_ACCESS_WRITE)
			touch_store_byte(mm, addr); /* movb $0 */
		return (mm_touch_result){.outcome = MM_TOUCH_OK, .pf_error = 0};
	}
	return touch_fault(mm, addr, access, acc, r);
}

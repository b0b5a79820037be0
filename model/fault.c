/* Demand paging: a user access walks the tables as the CPU does
 * (pagetable.c: pt_walk at CPL 3 under Linux's control bits) and a #PF goes
 * through Linux's handler:
 *
 *   arch/x86/mm/fault.c  do_user_addr_fault(): kernel-half addresses,
 *                        find the VMA / grow the stack, access_error(),
 *                        then handle_mm_fault() and the signal it maps to;
 *   mm/memory.c          handle_mm_fault() -> __handle_mm_fault():
 *                        THP at the PMD (create_huge_pmd,
 *                        do_huge_zero_wp_pmd, wp_huge_pmd), then
 *                        handle_pte_fault(): do_anonymous_page, do_fault
 *                        (do_read_fault with fault-around, do_cow_fault,
 *                        do_shared_fault), do_swap_page for markers,
 *                        do_wp_page (reuse or wp_page_copy).
 *
 * The access is retried after every handled fault, as returning to the
 * faulting instruction does; the second fault of "exec of an unpopulated
 * page in a non-exec VMA" (P|I|U -> ACCERR 0x15) comes out of that.
 */
#include "internal.h"
#include "pagetable.h"

/* CR0.WP, EFER.NXE, CR4.SMEP and CR4.SMAP are all on under Linux here. */
static const mm_cpu_mode linux_user_mode = {true, true, true, true, false, PG_MAXPHYADDR};

#define FAULT_AROUND_PAGES 16u /* fault_around_bytes = 64 KiB */

/* include/linux/huge_mm.h thp_vma_allowable_order(vma, TVA_PAGEFAULT,
 * PMD_ORDER) -> __thp_vma_allowable_orders() (mm/huge_memory.c), plus
 * thp_vma_suitable_order() as do_huge_pmd_anonymous_page() checks it.
 * Only the PMD size is modelled: its per-size setting is `inherit`, the
 * smaller (mTHP) sizes `never` [LIVE sysfs]. For anonymous memory:
 *   - the sysfs mode (profile thp): `always` (hugepage_global_always())
 *     lets every VMA in; `madvise` only VM_HUGEPAGE ones
 *     (huge_anon_orders_inherit is ORed in when VM_HUGEPAGE and
 *     hugepage_global_enabled()); `never` none;
 *   - vma_thp_disabled(): VM_NOHUGEPAGE (MADV_NOHUGEPAGE, MAP_STACK) refuses
 *     in every mode;
 *   - a missing anon_vma does not refuse at fault time (in_pf);
 *   - the aligned 2 MiB block must lie inside the VMA (anonymous VMAs skip
 *     the pgoff alignment check).
 * Files here are shmem with shmem_enabled `never`: no THP. */
static bool thp_fault_allowed(const mm_state *mm, const struct vma *v, uint64_t addr)
{
	if (!mm->cfg.thp_enabled || v->obj)
		return false;
	switch (mm->cfg.thp_mode) {
	case MM_THP_ALWAYS:
		break;
	case MM_THP_MADVISE:
		if (!(v->vm_flags & MM_VM_HUGEPAGE))
			return false;
		break;
	case MM_THP_NEVER:
	default:
		return false;
	}
	if (v->vm_flags & MM_VM_NOHUGEPAGE)
		return false;
	if (v->vm_flags & (MM_VM_SPECIAL | MM_VM_HUGETLB))
		return false;
	uint64_t h = addr & ~(MM_PMD_SIZE - 1);
	return h >= v->vm_start && h + MM_PMD_SIZE <= v->vm_end;
}

/* do_huge_pmd_anonymous_page(): a read fault maps the huge zero page only
 * if !mm_forbids_zeropage() and transparent_hugepage_use_zero_page()
 * (profile thp_zero_page); otherwise it allocates a THP like a write. */
static bool huge_zero_page_allowed(const mm_state *mm)
{
	return !mm_forbids_zeropage(mm) && mm->cfg.thp_zero_page;
}

static uint64_t leaf(uint64_t pfn, uint64_t flags) { return (pfn << 12) | flags; }

/* do_set_pte() for one page-cache page (no write). */
static void map_cache_page(mm_state *mm, uint64_t wi, const struct vma *v, uint64_t pfn)
{
	pg_set_entry(mm, wi, 1, leaf(pfn, pg_vm_page_prot(v->vm_flags)));
}

/* do_fault_around() + filemap_map_pages(): map the pages already in the
 * cache around addr -- the 16-page aligned block, clipped to the VMA, the
 * page table and i_size -- into empty PTEs. */
static void fault_around(mm_state *mm, const struct vma *v, uint64_t addr, uint64_t pgoff, uint64_t file_pages)
{
	uint64_t pte_off = PT_INDEX(addr, 1);
	uint64_t vma_off = (addr - v->vm_start) >> PAGE_SHIFT;
	uint64_t from = pte_off & ~(uint64_t)(FAULT_AROUND_PAGES - 1);
	uint64_t lowest = pte_off - (pte_off < vma_off ? pte_off : vma_off);
	if (from < lowest)
		from = lowest;
	uint64_t to = from + FAULT_AROUND_PAGES;
	if (to > PT_ENTRIES)
		to = PT_ENTRIES;
	if (to > pte_off + vma_pages(v) - vma_off)
		to = pte_off + vma_pages(v) - vma_off;
	uint64_t base = addr & ~(MM_PMD_SIZE - 1);
	for (uint64_t i = from; i < to; i++) {
		uint64_t p = pgoff + i - pte_off;
		if (p >= file_pages)
			break;
		uint64_t pfn = pg_cache_page(mm, v->obj, p, false);
		if (!pfn)
			continue;
		uint64_t wi = pg_alloc_pte(mm, base + (i << PAGE_SHIFT));
		if (wi && lx_none(pg_words(mm)[wi]))
			map_cache_page(mm, wi, v, pfn);
	}
}

/* A new exclusive anonymous page at addr, writable if VM_WRITE. `dirty`:
 * wp_page_copy() and do_cow_fault() (finish_fault) make it dirty always
 * (maybe_mkwrite(pte_mkdirty())); do_anonymous_page() only with VM_WRITE
 * (pte_mkwrite(pte_mkdirty())), which matters for a read fault when the
 * zero page is forbidden. */
static enum pg_fault_result map_new_anon_page(mm_state *mm, struct vma *v, uint64_t addr, bool dirty, uint64_t src)
{
	if (anon_vma_prepare(mm, v))
		return PG_FAULT_OOM;
	uint64_t pfn = pg_alloc_anon(mm);
	if (!pfn)
		return PG_FAULT_OOM;
	uint64_t wi = pg_alloc_pte(mm, addr);
	/* The copy: __wp_page_copy_user() / copy_mc_user_highpage() of the
	 * page replaced (src; 0 for none, the zero page copying zeroes). */
	if (!wi || (src && ct_copy(mm, pfn, src))) {
		pg_free_unmapped(mm, pfn);
		return PG_FAULT_OOM;
	}
	uint64_t flags = pg_vm_page_prot(v->vm_flags);
	if (dirty)
		flags |= X86_D;
	if (v->vm_flags & MM_VM_WRITE) /* maybe_mkwrite() */
		flags |= X86_RW | X86_D;
	pg_set_entry(mm, wi, 1, leaf(pfn, flags));
	return PG_FAULT_OK;
}

/* A copy of src (do_cow_fault, wp_page_copy). */
static enum pg_fault_result map_new_anon(mm_state *mm, struct vma *v, uint64_t addr, uint64_t src)
{
	return map_new_anon_page(mm, v, addr, true, src);
}

/* do_fault() for a file or shmem VMA and an empty PTE. */
static enum pg_fault_result do_fault(mm_state *mm, struct vma *v, uint64_t addr, bool write, uint64_t wi)
{
	uint64_t pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
	uint64_t file_pages = (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (!write) {
		/* do_read_fault(): fault-around maps the cached neighbours
		 * first, even when the faulting page itself then turns out to be
		 * beyond i_size (VM_FAULT_SIGBUS from shmem_fault) [LIVE]. */
		fault_around(mm, v, addr, pgoff, file_pages);
		if (pgoff >= file_pages)
			return PG_FAULT_SIGBUS;
		wi = pg_alloc_pte(mm, addr);
		if (!wi)
			return PG_FAULT_OOM;
		if (!lx_none(pg_words(mm)[wi]))
			return PG_FAULT_OK;
		uint64_t pfn = pg_cache_page(mm, v->obj, pgoff, true);
		if (!pfn)
			return PG_FAULT_OOM;
		wi = pg_alloc_pte(mm, addr);
		if (!wi)
			return PG_FAULT_OOM;
		map_cache_page(mm, wi, v, pfn);
		return PG_FAULT_OK;
	}
	/* do_cow_fault() prepares the anon_vma before __do_fault() can fail,
	 * so a private write beyond EOF leaves the VMA with one [LIVE]. */
	if (!(v->vm_flags & MM_VM_SHARED) && anon_vma_prepare(mm, v))
		return PG_FAULT_OOM;
	/* shmem_fault() / filemap_fault(): beyond i_size is VM_FAULT_SIGBUS. */
	if (pgoff >= file_pages)
		return PG_FAULT_SIGBUS;
	/* Both write paths bring the page into the cache first (__do_fault). */
	uint64_t pfn = pg_cache_page(mm, v->obj, pgoff, true);
	if (!pfn)
		return PG_FAULT_OOM;
	if (!(v->vm_flags & MM_VM_SHARED))
		return map_new_anon(mm, v, addr, pfn); /* do_cow_fault() */
	/* do_shared_fault(): shmem has no page_mkwrite; map RW and dirty. */
	(void)wi;
	wi = pg_alloc_pte(mm, addr);
	if (!wi)
		return PG_FAULT_OOM;
	uint64_t flags = pg_vm_page_prot(v->vm_flags) | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, wi, 1, leaf(pfn, flags));
	return PG_FAULT_OK;
}

/* The PMD level of __handle_mm_fault(). Returns true when it handled the
 * fault (*res set), false to go on to the PTE level. */
static bool huge_pmd_fault(mm_state *mm, struct vma *v, uint64_t addr, bool write, enum pg_fault_result *res)
{
	unsigned level = 0;
	uint64_t wi = pg_lookup(mm, addr, &level);
	uint64_t prot = pg_vm_page_prot(v->vm_flags);
	*res = PG_FAULT_OK;
	if (wi && level == 2) {
		uint64_t e = pg_words(mm)[wi];
		if (!write) {
			pg_words(mm)[wi] = e | X86_A; /* huge_pmd_set_accessed() */
			return true;
		}
		uint64_t pfn = lx_pfn(e, PG_PMD_PFN_MASK);
		/* Before 6.13 ("mm: allocate THP on hugezeropage wp-fault"),
		 * do_huge_pmd_wp_page() split the huge zero PMD into zero PTEs
		 * and the write copied one 4 KiB page (docs/versions.md). */
		if (pfn == pg_huge_zero_pfn(mm) && !mm_kernel_at_least(mm, 613))
			return false;
		if (pfn == pg_huge_zero_pfn(mm)) {
			/* do_huge_zero_wp_pmd() (6.13+): a THP replaces the
			 * huge zero page [LIVE: write after read in an hg VMA
			 * gives a THP]; without memory, split and go on. */
			uint64_t thp = pg_alloc_thp(mm);
			if (!thp || anon_vma_prepare(mm, v)) {
				if (thp)
					pg_free_unmapped(mm, thp);
				return false;
			}
			wi = pg_lookup(mm, addr, &level);
			pg_set_entry(mm, wi, 2, leaf(thp, prot | X86_PS | X86_D | X86_RW));
			return true;
		}
		/* do_huge_pmd_wp_page(): an exclusive anonymous THP is reused. */
		if (pg_anon_exclusive(mm, pfn)) {
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A;
			return true;
		}
		return false; /* split and copy at the PTE level */
	}
	if (!thp_fault_allowed(mm, v, addr))
		return false;
	uint64_t pde = pg_alloc_pmd(mm, addr);
	if (!pde) {
		*res = PG_FAULT_OOM;
		return true;
	}
	if (pg_words(mm)[pde] != 0)
		return false; /* a page table is there already: 4 KiB pages */
	/* do_huge_pmd_anonymous_page(): the anon_vma comes first, even for the
	 * huge zero page. */
	if (anon_vma_prepare(mm, v)) {
		*res = PG_FAULT_OOM;
		return true;
	}
	if (!write && huge_zero_page_allowed(mm)) {
		pg_set_entry(mm, pde, 2, leaf(pg_huge_zero_pfn(mm), prot | X86_PS | LX_PAGE_SPECIAL));
		return true;
	}
	/* __do_huge_pmd_anonymous_page() -> map_anon_folio_pmd():
	 * maybe_pmd_mkwrite(pmd_mkdirty()), for a write or a read fault. */
	uint64_t thp = pg_alloc_thp(mm);
	if (!thp)
		return false; /* VM_FAULT_FALLBACK */
	pde = pg_alloc_pmd(mm, addr);
	uint64_t flags = prot | X86_PS | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, pde, 2, leaf(thp, flags));
	return true;
}

enum pg_fault_result pg_handle_mm_fault(mm_state *mm, struct vma *v, uint64_t addr, unsigned flags)
{
	bool write = flags & PG_FAULT_WRITE;
	enum pg_fault_result res;
	addr &= PAGE_MASK;
	if (huge_pmd_fault(mm, v, addr, write, &res))
		return res;
	if (v->obj && pt_fault_cache_block(mm, v, addr, write))
		return PG_FAULT_OK;

	uint64_t wi = pg_alloc_pte(mm, addr);
	if (!wi)
		return PG_FAULT_OOM;
	uint64_t e = pg_words(mm)[wi];
	uint64_t prot = pg_vm_page_prot(v->vm_flags);

	if (lx_none(e)) {
		if (v->obj)
			return do_fault(mm, v, addr, write, wi);
		/* do_anonymous_page(): the zero page for a read (or exec)
		 * fault unless mm_forbids_zeropage(); otherwise a new page,
		 * after anon_vma_prepare(), as for a write. */
		if (!write && !mm_forbids_zeropage(mm)) {
			pg_set_entry(mm, wi, 1, leaf(pg_zero_pfn(mm), prot | LX_PAGE_SPECIAL));
			return PG_FAULT_OK;
		}
		return map_new_anon_page(mm, v, addr, false, 0);
	}
	if (!lx_present(e)) {
		/* do_swap_page() -> handle_pte_marker(): a guard marker is
		 * VM_FAULT_SIGSEGV. No other swap entries exist here. */
		return PG_FAULT_SIGSEGV;
	}
	if (lx_protnone(e)) {
		/* do_numa_page(): only NUMA hinting leaves PROT_NONE entries in
		 * an accessible VMA; restore the VMA's protection. */
		uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
		pg_words(mm)[wi] = leaf(pfn, (e & (X86_A | X86_D | LX_PAGE_SPECIAL)) | prot);
		return PG_FAULT_OK;
	}
	if (write && !(e & X86_RW)) {
		/* do_wp_page() */
		uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
		if (v->vm_flags & MM_VM_SHARED) {
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A; /* wp_page_shared() */
			return PG_FAULT_OK;
		}
		if (pg_anon_exclusive(mm, pfn)) {
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A; /* wp_page_reuse() */
			return PG_FAULT_OK;
		}
		return map_new_anon(mm, v, addr, pfn); /* wp_page_copy() */
	}
	/* A spurious fault: the entry already allows the access. */
	pg_words(mm)[wi] = e | X86_A | (write ? X86_D : 0);
	return PG_FAULT_OK;
}

/* arch/x86/mm/fault.c access_error(). */
static bool access_error(uint32_t err, const struct vma *v)
{
	if (err & MM_PF_PK)
		return true;
	if (err & MM_PF_WRITE)
		return !(v->vm_flags & MM_VM_WRITE);
	if (err & MM_PF_PROT)
		return true; /* read or fetch of a present page */
	return !(v->vm_flags & MM_VM_ACCESS_FLAGS);
}

mm_touch_result mm_touch(mm_state *mm, uint64_t addr, mm_access access)
{
	/* A fault never merges VMAs (stack growth only moves vm_start), so
	 * the merge check I9 has no boundary to look at after it. */
	mm->n_touched = 0;
	static const mm_walk_access acc_of[] = {MM_WALK_READ, MM_WALK_WRITE, MM_WALK_FETCH};
	mm_walk_access acc = acc_of[access <= MM_ACCESS_EXEC ? access : 0];
	unsigned flags = (access == MM_ACCESS_WRITE ? PG_FAULT_WRITE : 0u) |
	                 (access == MM_ACCESS_EXEC ? PG_FAULT_INSTRUCTION : 0u);

	/* A handled fault returns to the instruction, which walks again. Two
	 * rounds settle every case (fault, then at most a protection fault);
	 * the bound only guards against a model bug. */
	for (int round = 0; round < 8; round++) {
		mm_walk_result r = pt_walk(pg_mem(mm), pg_cr3(mm), addr, acc, 3, &linux_user_mode);
		if (r.outcome == MM_WALK_OK) {
			if (access == MM_ACCESS_WRITE)
				ct_touch_store_byte(mm, addr); /* movb $0 (contents.c) */
			return (mm_touch_result){MM_TOUCH_OK, 0};
		}
		if (r.outcome == MM_WALK_GP) {
			/* #GP: SIGSEGV with si_code SI_KERNEL and REG_ERR 0 [LIVE];
			 * the public outcomes have no SI_KERNEL, so MAPERR/0. */
			return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, 0};
		}
		uint32_t err = r.pf_error | MM_PF_USER; /* set_signal_archinfo() */
		/* do_user_addr_fault(): at or above TASK_SIZE_MAX is the kernel
		 * half; sanitize_error_code() forces P. */
		if (addr >= MM_TASK_SIZE)
			return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, err | MM_PF_PROT};
		/* RSVD: pgtable_bad() kills the process; the model never builds
		 * such an entry. */
		if (err & MM_PF_RSVD)
			return (mm_touch_result){MM_TOUCH_SIGBUS, err};
		struct vma *v = vt_find(&mm->vt, addr);
		if (!v)
			return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, err};
		if (v->vm_start > addr) {
			/* lock_mm_and_find_vma() -> expand_stack_locked() */
			if (!(v->vm_flags & MM_VM_GROWSDOWN) || vma_expand_downwards(mm, v, addr & PAGE_MASK))
				return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, err};
		}
		if (access_error(err, v))
			return (mm_touch_result){MM_TOUCH_SEGV_ACCERR, err};
		switch (pg_handle_mm_fault(mm, v, addr, flags)) {
		case PG_FAULT_OK:
			break;
		case PG_FAULT_SIGSEGV:
			return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, err};
		case PG_FAULT_SIGBUS:
			return (mm_touch_result){MM_TOUCH_SIGBUS, err};
		case PG_FAULT_OOM:
			/* VM_FAULT_OOM: the OOM killer; only reachable through
			 * the allocation seam. Reported as SIGBUS. */
			return (mm_touch_result){MM_TOUCH_SIGBUS, err};
		}
	}
	return (mm_touch_result){MM_TOUCH_SEGV_MAPERR, 0};
}

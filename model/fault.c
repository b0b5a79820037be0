/* Demand paging: Linux's page-fault handler, mm/memory.c handle_mm_fault()
 * -> __handle_mm_fault(): THP at the PMD (create_huge_pmd,
 * do_huge_zero_wp_pmd, wp_huge_pmd), then handle_pte_fault():
 * do_anonymous_page, do_fault (do_read_fault with fault-around,
 * do_cow_fault, do_shared_fault), do_swap_page for markers, do_wp_page
 * (reuse or wp_page_copy).
 *
 * The access that faults is access.c's (arch/x86/mm/fault.c
 * do_user_addr_fault(), and the retry after every handled fault, as
 * returning to the faulting instruction does); populate (gup.c) faults
 * pages in through here too.
 */
#include "contents.h"
#include "fault.h"
#include "frames.h"
#include "pagecache.h"
#include "pagepolicy.h"
#include "pgtable.h"
#include "vma.h"

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

/* finish_fault() -> set_pte_range() for the faulting page-cache page, not
 * a write: the VMA's vm_page_prot. */
static void map_cache_page(mm_state *mm, uint64_t wi, const struct vma *v, uint64_t pfn)
{
	pg_set_entry(mm, wi, 1, leaf(pfn, pg_vma_page_prot(v)));
}

/* mm/memory.c should_fault_around(): only when the VMA's vm_ops have
 * map_pages (fault_around_bytes is 64 KiB, more than one page). */
static bool should_fault_around(const struct vma *v)
{
	/* uffd_disable_fault_around(): not with VM_UFFD_WP or _MINOR. */
	if (v->vm_flags & (MM_VM_UFFD_WP | MM_VM_UFFD_MINOR))
		return false;
	return vma_vm_ops(v)->map_pages != NULL;
}

/* do_fault_around(): the 16-page aligned block around addr, clipped to the
 * VMA and the page table, offered to vm_ops->map_pages, which maps what it
 * has ready (filemap_map_pages clips the window to i_size itself). */
static void do_fault_around(mm_state *mm, struct vma *v, uint64_t addr, uint64_t pgoff)
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
	const struct vm_fault vmf = {.vma = v, .address = addr, .pgoff = pgoff};
	vma_vm_ops(v)->map_pages(mm, &vmf, pgoff - (pte_off - from), pgoff + (to - 1 - pte_off));
}

/* A new exclusive anonymous page at addr, writable if VM_WRITE. `dirty`:
 * wp_page_copy() and do_cow_fault() (finish_fault) make it dirty always
 * (maybe_mkwrite(pte_mkdirty())); do_anonymous_page() only with VM_WRITE
 * (pte_mkwrite(pte_mkdirty())), which matters for a read fault when the
 * zero page is forbidden. */
static enum fault_result map_new_anon_page(mm_state *mm, struct vma *v, uint64_t addr, bool dirty, uint64_t src)
{
	if (vma_anon_vma_prepare(mm, v))
		return FAULT_OOM;
	uint64_t pfn = fr_alloc_anon(mm);
	if (!pfn)
		return FAULT_OOM;
	uint64_t wi = pg_alloc_pte(mm, addr);
	/* The copy: __wp_page_copy_user() / copy_mc_user_highpage() of the
	 * page replaced (src; 0 for none, the zero page copying zeroes). */
	if (!wi || (src && ct_copy(mm, pfn, src))) {
		fr_free_unmapped(mm, pfn);
		return FAULT_OOM;
	}
	uint64_t flags = pg_vma_page_prot(v);
	if (dirty)
		flags |= X86_D;
	if (v->vm_flags & MM_VM_WRITE) /* maybe_mkwrite() */
		flags |= X86_RW | X86_D;
	pg_set_entry(mm, wi, 1, leaf(pfn, flags));
	return FAULT_OK;
}

/* A copy of src (do_cow_fault, wp_page_copy). */
static enum fault_result map_new_anon(mm_state *mm, struct vma *v, uint64_t addr, uint64_t src)
{
	return map_new_anon_page(mm, v, addr, true, src);
}

/* __do_fault(): vma->vm_ops->fault for page pgoff of v's object (already
 * checked against its size); the page's pfn in *pfn. */
static enum fault_result do_vm_ops_fault(mm_state *mm, struct vma *v, uint64_t addr, uint64_t pgoff, bool write,
                                         uint64_t *pfn)
{
	const struct vm_fault vmf = {.vma = v, .address = addr, .pgoff = pgoff, .write = write};
	*pfn = 0;
	return vma_vm_ops(v)->fault(mm, &vmf, pfn);
}

/* do_page_mkwrite(): vm_ops->page_mkwrite for the page at addr, a write
 * fault (FAULT_FLAG_WRITE | FAULT_FLAG_MKWRITE). */
static enum fault_result do_page_mkwrite(mm_state *mm, struct vma *v, uint64_t addr, uint64_t pgoff)
{
	const struct vm_fault vmf = {.vma = v, .address = addr, .pgoff = pgoff, .write = true};
	return vma_vm_ops(v)->page_mkwrite(mm, &vmf);
}

/* mm/shmem.c shmem_get_folio_gfp() for a fault: a page in the cache of a
 * VM_UFFD_MINOR VMA, or none in a VM_UFFD_MISSING one, goes to the
 * userfaultfd (after the i_size check, which the callers made). */
static enum fault_result shmem_userfault(mm_state *mm, const struct vma *v, uint64_t pgoff)
{
	if (!(v->vm_flags & (MM_VM_UFFD_MISSING | MM_VM_UFFD_MINOR)))
		return FAULT_OK;
	bool cached = pc_page(mm, v->obj, pgoff, false) != 0;
	if (cached && (v->vm_flags & MM_VM_UFFD_MINOR))
		return FAULT_UFFD_MINOR;
	if (!cached && (v->vm_flags & MM_VM_UFFD_MISSING))
		return FAULT_UFFD_MISSING;
	return FAULT_OK;
}

/* do_fault() for a file or shmem VMA and an empty PTE. */
static enum fault_result do_fault(mm_state *mm, struct vma *v, uint64_t addr, bool write, uint64_t wi,
                                  bool wp_marker)
{
	uint64_t pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
	uint64_t file_pages = (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (!write) {
		/* do_read_fault(): fault-around maps the cached neighbours
		 * first, even when the faulting page itself then turns out to be
		 * beyond i_size (VM_FAULT_SIGBUS from shmem_fault) [LIVE]. */
		if (should_fault_around(v))
			do_fault_around(mm, v, addr, pgoff);
		if (pgoff >= file_pages)
			return FAULT_SIGBUS;
		wi = pg_alloc_pte(mm, addr);
		if (!wi)
			return FAULT_OOM;
		/* finish_fault(): vmf_pte_changed() against the entry the fault
		 * began with (the uffd-wp marker, or none). */
		uint64_t now = pg_words(mm)[wi];
		if (!lx_none(now) && !(wp_marker && now == LX_UFFD_WP_MARKER))
			return FAULT_OK;
		enum fault_result u = shmem_userfault(mm, v, pgoff);
		if (u != FAULT_OK)
			return u;
		uint64_t pfn;
		enum fault_result r = do_vm_ops_fault(mm, v, addr, pgoff, false, &pfn);
		if (r != FAULT_OK)
			return r;
		wi = pg_alloc_pte(mm, addr);
		if (!wi)
			return FAULT_OOM;
		map_cache_page(mm, wi, v, pfn);
		return FAULT_OK;
	}
	/* do_cow_fault() prepares the anon_vma before __do_fault() can fail,
	 * so a private write beyond EOF leaves the VMA with one [LIVE]. */
	if (!(v->vm_flags & MM_VM_SHARED) && vma_anon_vma_prepare(mm, v))
		return FAULT_OOM;
	/* shmem_fault() / filemap_fault(): beyond i_size is VM_FAULT_SIGBUS. */
	if (pgoff >= file_pages)
		return FAULT_SIGBUS;
	enum fault_result u = shmem_userfault(mm, v, pgoff);
	if (u != FAULT_OK)
		return u;
	/* Both write paths take the page from __do_fault() first. */
	uint64_t pfn;
	enum fault_result r = do_vm_ops_fault(mm, v, addr, pgoff, true, &pfn);
	if (r != FAULT_OK)
		return r;
	if (!(v->vm_flags & MM_VM_SHARED))
		return map_new_anon(mm, v, addr, pfn); /* do_cow_fault() */
	/* do_shared_fault(): vm_ops->page_mkwrite, if any, hears of the write
	 * first (do_page_mkwrite); an error leaves the PTE empty (the page
	 * stays the object's). Then finish_fault() maps it RW and dirty. */
	if (vma_vm_ops(v)->page_mkwrite) {
		r = do_page_mkwrite(mm, v, addr, pgoff);
		if (r != FAULT_OK)
			return r;
	}
	(void)wi;
	wi = pg_alloc_pte(mm, addr);
	if (!wi)
		return FAULT_OOM;
	uint64_t flags = pg_vma_page_prot(v) | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, wi, 1, leaf(pfn, flags));
	return FAULT_OK;
}

/* The PMD level of __handle_mm_fault(). Returns true when it handled the
 * fault (*res set), false to go on to the PTE level. */
static bool huge_pmd_fault(mm_state *mm, struct vma *v, uint64_t addr, bool write, enum fault_result *res)
{
	unsigned level = 0;
	uint64_t wi = pg_lookup(mm, addr, &level);
	uint64_t prot = pg_vma_page_prot(v);
	*res = FAULT_OK;
	if (wi && level == 2) {
		uint64_t e = pg_words(mm)[wi];
		if (!write) {
			pg_words(mm)[wi] = e | X86_A; /* huge_pmd_set_accessed() */
			return true;
		}
		/* wp_huge_pmd(): an anonymous PMD the userfaultfd write-protected
		 * (userfaultfd_huge_pmd_wp) goes to it; a shmem one never has the
		 * bit (change_pmd_range splits it: pgtable_split_needed). */
		if (!(e & X86_RW) && vma_is_anonymous(v) && (v->vm_flags & MM_VM_UFFD_WP) && (e & LX_PAGE_UFFD_WP)) {
			*res = FAULT_UFFD_WP;
			return true;
		}
		uint64_t pfn = lx_pfn(e, PG_PMD_PFN_MASK);
		/* Before 6.13 ("mm: allocate THP on hugezeropage wp-fault"),
		 * do_huge_pmd_wp_page() split the huge zero PMD into zero PTEs
		 * and the write copied one 4 KiB page (docs/versions.md). */
		if (pfn == fr_huge_zero_pfn(mm) && !mm_kernel_at_least(mm, 613))
			return false;
		if (pfn == fr_huge_zero_pfn(mm)) {
			/* do_huge_zero_wp_pmd() (6.13+): a THP replaces the
			 * huge zero page [LIVE: write after read in an hg VMA
			 * gives a THP]; without memory, split and go on. */
			uint64_t thp = fr_alloc_thp(mm);
			if (!thp || vma_anon_vma_prepare(mm, v)) {
				if (thp)
					fr_free_unmapped(mm, thp);
				return false;
			}
			wi = pg_lookup(mm, addr, &level);
			pg_set_entry(mm, wi, 2, leaf(thp, prot | X86_PS | X86_D | X86_RW));
			return true;
		}
		/* do_huge_pmd_wp_page(): an exclusive anonymous THP is reused. */
		if (fr_anon_exclusive(mm, pfn)) {
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A;
			return true;
		}
		return false; /* split and copy at the PTE level */
	}
	if (!thp_fault_allowed(mm, v, addr))
		return false;
	uint64_t pde = pg_alloc_pmd(mm, addr);
	if (!pde) {
		*res = FAULT_OOM;
		return true;
	}
	if (pg_words(mm)[pde] != 0)
		return false; /* a page table is there already: 4 KiB pages */
	/* do_huge_pmd_anonymous_page(): the anon_vma comes first, even for the
	 * huge zero page. */
	if (vma_anon_vma_prepare(mm, v)) {
		*res = FAULT_OOM;
		return true;
	}
	/* Then userfaultfd_missing(): handle_userfault() for the huge zero
	 * page and the THP alike (and do_anonymous_page's after a fallback). */
	if (v->vm_flags & MM_VM_UFFD_MISSING) {
		*res = FAULT_UFFD_MISSING;
		return true;
	}
	if (!write && huge_zero_page_allowed(mm)) {
		pg_set_entry(mm, pde, 2, leaf(fr_huge_zero_pfn(mm), prot | X86_PS | LX_PAGE_SPECIAL));
		return true;
	}
	/* __do_huge_pmd_anonymous_page() -> map_anon_folio_pmd():
	 * maybe_pmd_mkwrite(pmd_mkdirty()), for a write or a read fault. */
	uint64_t thp = fr_alloc_thp(mm);
	if (!thp)
		return false; /* VM_FAULT_FALLBACK */
	pde = pg_alloc_pmd(mm, addr);
	uint64_t flags = prot | X86_PS | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, pde, 2, leaf(thp, flags));
	return true;
}

/* A fault on a uffd-wp marker: do_swap_page() -> handle_pte_marker() ->
 * pte_marker_handle_uffd_wp(). In a VMA no longer registered with wp the
 * marker is cleared (pte_marker_clear) and the fault taken again at once --
 * what the retried access or GUP's retry does [LIVE: mlock after the
 * registration changed, uffd-wp-marker-cleared-by-populate.trace]; otherwise
 * it is a missing page (do_pte_missing), served as for an empty entry --
 * the userfaultfd's missing and minor modes included -- except that the
 * page is mapped write-protected, the bit kept (set_pte_range() and
 * do_anonymous_page(): vmf_orig_pte_uffd_wp()). A write then faults again
 * on the protected page: to the userfaultfd as `wp`. */
static enum fault_result uffd_wp_marker_fault(mm_state *mm, struct vma *v, uint64_t addr, bool write, uint64_t wi)
{
	/* (Anonymous memory has no markers without
	 * UFFD_FEATURE_WP_UNPOPULATED: treated the same way.) */
	if (!(v->vm_flags & MM_VM_UFFD_WP) || !v->obj) {
		pg_words(mm)[wi] = 0;
		return fault_handle_mm_fault(mm, v, addr, write ? FAULT_FLAG_WRITE : 0);
	}
	enum fault_result r = do_fault(mm, v, addr, write, wi, true);
	if (r != FAULT_OK)
		return r;
	unsigned level = 0;
	wi = pg_lookup(mm, addr, &level);
	if (wi && level == 1 && lx_present(pg_words(mm)[wi]))
		pg_words(mm)[wi] = lx_mkuffd_wp(pg_words(mm)[wi]);
	return FAULT_OK;
}

enum fault_result fault_handle_mm_fault(mm_state *mm, struct vma *v, uint64_t addr, unsigned flags)
{
	bool write = flags & FAULT_FLAG_WRITE;
	enum fault_result res;
	addr &= PAGE_MASK;
	if (huge_pmd_fault(mm, v, addr, write, &res))
		return res;
	/* A cached large folio goes to the userfaultfd first in a VM_UFFD_MINOR
	 * VMA (shmem_fault before finish_fault maps it; no fault-around). */
	if (v->obj && !(v->vm_flags & MM_VM_UFFD_MINOR) && pp_fault_cache_block(mm, v, addr, write))
		return FAULT_OK;

	uint64_t wi = pg_alloc_pte(mm, addr);
	if (!wi)
		return FAULT_OOM;
	uint64_t e = pg_words(mm)[wi];
	uint64_t prot = pg_vma_page_prot(v);

	if (lx_none(e)) {
		if (v->obj)
			return do_fault(mm, v, addr, write, wi, false);
		/* do_anonymous_page(): the zero page for a read (or exec)
		 * fault unless mm_forbids_zeropage(); otherwise a new page,
		 * after anon_vma_prepare(), as for a write. */
		if (!write && !mm_forbids_zeropage(mm)) {
			/* userfaultfd_missing(): to the userfaultfd, no anon_vma */
			if (v->vm_flags & MM_VM_UFFD_MISSING)
				return FAULT_UFFD_MISSING;
			pg_set_entry(mm, wi, 1, leaf(fr_zero_pfn(mm), prot | LX_PAGE_SPECIAL));
			return FAULT_OK;
		}
		/* vmf_anon_prepare() first, then userfaultfd_missing(). */
		if (v->vm_flags & MM_VM_UFFD_MISSING)
			return vma_anon_vma_prepare(mm, v) ? FAULT_OOM : FAULT_UFFD_MISSING;
		return map_new_anon_page(mm, v, addr, false, 0);
	}
	if (e == LX_UFFD_WP_MARKER)
		return uffd_wp_marker_fault(mm, v, addr, write, wi);
	if (!lx_present(e)) {
		/* do_swap_page() -> handle_pte_marker(): a guard marker is
		 * VM_FAULT_SIGSEGV. No other swap entries exist here. */
		return FAULT_SIGSEGV;
	}
	if (lx_protnone(e)) {
		/* do_numa_page(): only NUMA hinting leaves PROT_NONE entries in
		 * an accessible VMA; restore the VMA's protection. */
		uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
		pg_words(mm)[wi] = leaf(pfn, (e & (X86_A | X86_D | LX_PAGE_SPECIAL)) | prot);
		return FAULT_OK;
	}
	if (write && !(e & X86_RW)) {
		/* do_wp_page(): userfaultfd_pte_wp() first -- the bit counts only
		 * while the VMA is registered with wp (a bit left behind after
		 * the registration changed is ignored, and kept). */
		if ((v->vm_flags & MM_VM_UFFD_WP) && (e & LX_PAGE_UFFD_WP))
			return FAULT_UFFD_WP;
		uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
		if (v->vm_flags & MM_VM_SHARED) {
			/* wp_page_shared(): vm_ops->page_mkwrite first, if any
			 * (an error leaves the entry read-only), then
			 * wp_page_reuse() (finish_mkwrite_fault). */
			const struct vm_operations *ops = vma_vm_ops(v);
			if (ops && ops->page_mkwrite) {
				uint64_t pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
				enum fault_result r = do_page_mkwrite(mm, v, addr, pgoff);
				if (r != FAULT_OK)
					return r; /* the handler cannot change the tables: wi holds */
			}
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A;
			return FAULT_OK;
		}
		if (fr_anon_exclusive(mm, pfn)) {
			pg_words(mm)[wi] = e | X86_RW | X86_D | X86_A; /* wp_page_reuse() */
			return FAULT_OK;
		}
		return map_new_anon(mm, v, addr, pfn); /* wp_page_copy() */
	}
	/* A spurious fault: the entry already allows the access. */
	pg_words(mm)[wi] = e | X86_A | (write ? X86_D : 0);
	return FAULT_OK;
}

/* mfill_atomic(), per page of UFFDIO_COPY, ZEROPAGE and CONTINUE: the page
 * tables come first (mm_alloc_pmd, __pte_alloc), and a huge PMD there is
 * -EEXIST ("be strict"). The PTE's word index in *wi, or the error. */
static int mfill_pte(mm_state *mm, uint64_t addr, uint64_t *wi)
{
	unsigned level = 0;
	if (!pg_alloc_pmd(mm, addr))
		return -ENOMEM;
	uint64_t w = pg_lookup(mm, addr, &level);
	if (w && level == 2)
		return -EEXIST;
	w = pg_alloc_pte(mm, addr);
	if (!w)
		return -ENOMEM;
	*wi = w;
	return 0;
}

int fault_uffd_fill(mm_state *mm, struct vma *v, uint64_t addr, bool zeropage, uint64_t value)
{
	uint64_t wi;
	int err = mfill_pte(mm, addr, &wi);
	if (err)
		return err;
	uint64_t e = pg_words(mm)[wi];
	/* pte_none_mostly(): none, or a marker -- a guard marker too, which
	 * the new page replaces [LIVE: uffd copy over guard_install => 0] */
	bool none_mostly = lx_none(e) || !lx_present(e);
	uint64_t pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
	/* mfill_file_over_size() (shmem_mfill_atomic_pte(): max_off) */
	if (v->obj && pgoff >= (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT)
		return -EFAULT;
	bool shared = v->vm_flags & MM_VM_SHARED;
	uint64_t pfn, flags = pg_vm_page_prot(v->vm_flags);
	if (!shared && zeropage) {
		/* mfill_atomic_pte_zeropage(): pte_none() only (a guard marker
		 * is -EEXIST [LIVE]); the zero page, special. */
		if (!lx_none(e))
			return -EEXIST;
		/* pg_mk_entry(): a PROT_NONE VMA's entry holds the pfn inverted */
		pg_set_entry(mm, wi, 1, pg_mk_entry(fr_zero_pfn(mm), flags | LX_PAGE_SPECIAL, PG_PFN_MASK));
		return 0;
	}
	if (!none_mostly)
		return -EEXIST;
	if (shared) {
		/* shmem_mfill_atomic_pte(): a new page in the cache, copied or
		 * zeroed (shmem_add_to_page_cache(): -EEXIST if one is there),
		 * then mfill_atomic_install_pte() */
		if (pc_page(mm, v->obj, pgoff, false))
			return -EEXIST;
		pfn = pc_page(mm, v->obj, pgoff, true);
	} else {
		/* mfill_atomic_pte_copy(): a new anonymous page */
		pfn = fr_alloc_anon(mm);
	}
	if (!pfn)
		return -ENOMEM;
	for (unsigned i = 0; !zeropage && value && i < PAGE_SIZE / 8; i++) {
		if (ct_store(mm, pfn, i, value, ~0ull)) {
			if (shared)
				pc_drop(mm, v->obj->cache, pgoff);
			else
				fr_free_unmapped(mm, pfn);
			return -ENOMEM;
		}
	}
	/* mfill_atomic_install_pte(): pte_mkdirty() always; writable with
	 * VM_WRITE (a page of the cache only in a shared mapping). */
	flags |= X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, wi, 1, pg_mk_entry(pfn, flags, PG_PFN_MASK));
	return 0;
}

int fault_uffd_continue(mm_state *mm, struct vma *v, uint64_t addr, bool wp)
{
	uint64_t wi;
	int err = mfill_pte(mm, addr, &wi);
	if (err)
		return err;
	/* mfill_atomic_pte_continue() -> shmem_get_folio(SGP_NOALLOC):
	 * shmem_get_folio_gfp() refuses an index at or beyond i_size with
	 * -EINVAL (sgp <= SGP_CACHE), which is passed on as it is; a hole is
	 * -ENOENT there, which the caller turns into -EFAULT. */
	uint64_t pgoff = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT);
	if (pgoff >= (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT)
		return -EINVAL;
	uint64_t pfn = pc_page(mm, v->obj, pgoff, false);
	if (!pfn)
		return -EFAULT;
	/* mfill_atomic_install_pte(): pte_none_mostly() -- an empty entry or a
	 * marker (a guard marker is replaced, as for UFFDIO_COPY) -- else
	 * -EEXIST. The entry is vm_page_prot made dirty, and writable only
	 * with VM_WRITE in a shared mapping: "page_in_cache && !vm_shared"
	 * maps the cache page read-only, so a later store copies it (do_wp_page). */
	uint64_t e = pg_words(mm)[wi];
	if (!lx_none(e) && lx_present(e))
		return -EEXIST;
	uint64_t flags = pg_vma_page_prot(v) | X86_D;
	if ((v->vm_flags & MM_VM_WRITE) && (v->vm_flags & MM_VM_SHARED))
		flags |= X86_RW;
	uint64_t entry = pg_mk_entry(pfn, flags, PG_PFN_MASK);
	/* MFILL_ATOMIC_WP: pte_mkuffd_wp(), which also write-protects; without
	 * it a uffd-wp marker there is simply replaced. */
	if (wp)
		entry = lx_mkuffd_wp(entry);
	pg_set_entry(mm, wi, 1, entry);
	return 0;
}

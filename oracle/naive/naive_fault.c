/* Demand paging: the x86 fault path (arch/x86/mm/fault.c) and what
 * handle_mm_fault() installs (mm/memory.c, mm/huge_memory.c), page by page. */
#include "naive_internal.h"

static bool vma_accessible(const nvma *v) { return (v->flags & MM_VM_ACCESS_FLAGS) != 0; }

/* The PTE is present for the hardware: a page is mapped and the VMA is not
 * PROT_NONE (a PROT_NONE PTE is _PAGE_PROTNONE without _PAGE_PRESENT). */
static bool hw_present(const nvma *v, mm_page_state st)
{
	return v && vma_accessible(v) && (st == MM_PAGE_ZERO || st == MM_PAGE_ANON || st == MM_PAGE_FILE);
}

/* What the PTE allows (protection_map, arch/x86/mm/pgprot.c): readable
 * whenever present; writable only for VM_WRITE and either a shared mapping
 * or an anonymous (exclusive) page of a private one, so zero pages and
 * private file pages fault to COW; executable iff VM_EXEC (NX otherwise). */
static bool pte_allows(const nvma *v, mm_page_state st, mm_access access)
{
	switch (access) {
	case MM_ACCESS_READ:
		return true;
	case MM_ACCESS_WRITE:
		return (v->flags & MM_VM_WRITE) && ((v->flags & MM_VM_SHARED) || st == MM_PAGE_ANON);
	case MM_ACCESS_EXEC:
		return (v->flags & MM_VM_EXEC) != 0;
	}
	return false;
}

static bool beyond_eof(naive_mm *nm, const nvma *v, uint64_t addr)
{
	nobject *o = nv_object(nm, v->backing, v->object);
	uint64_t index = nv_vma_file_index(v, addr);
	return !o || index >= nv_pages(nv_page_align(o->size)) || nv_page_align(o->size) == 0;
}

static void map_4k(naive_mm *nm, uint64_t addr, mm_page_state st)
{
	nv_page_set(nm, addr, st);
	if (!nv_region_get(nm, addr))
		nv_region_set(nm, addr, NV_REGION_PTE);
}

/* The large page-cache folio (order > 0) holding the page v maps at addr,
 * when it lies wholly inside v and inside one page table: its first address
 * in v, else 0 (a folio of its own or one that crosses a boundary). */
static uint64_t folio_whole_addr(naive_mm *nm, const nvma *v, uint64_t addr)
{
	uint64_t index = nv_vma_file_index(v, addr);
	unsigned order = nv_cache_order(nm, v->backing, v->object, index);
	if (!order)
		return 0;
	uint64_t size = (uint64_t)NV_PAGE << order;
	uint64_t a0 = addr - (index & ((1ull << order) - 1)) * NV_PAGE;
	if (a0 < v->start || a0 + size > v->end || (a0 & ~(NV_PMD - 1)) != ((a0 + size - 1) & ~(NV_PMD - 1)))
		return 0;
	return a0;
}

/* mm/filemap.c filemap_map_folio_range() (6.18, "map entire large folio
 * faultaround"): fault-around that maps one page of a large folio lying
 * wholly in the VMA and in one page table maps every page of it whose PTE is
 * none [LIVE: huge-shmem-pmd-split.trace, a hole punch leaves such folios]. */
static void map_folio_whole(naive_mm *nm, const nvma *v, uint64_t addr)
{
	uint64_t a0 = folio_whole_addr(nm, v, addr);
	if (!a0)
		return;
	uint64_t size = (uint64_t)NV_PAGE << nv_cache_order(nm, v->backing, v->object, nv_vma_file_index(v, addr));
	for (uint64_t a = a0; a < a0 + size; a += NV_PAGE)
		if (nv_page_get(nm, a) == MM_PAGE_NONE && !nv_uffd_wp_marker(nm, a))
			map_4k(nm, a, MM_PAGE_FILE);
}

/* mm/memory.c: do_fault_around() + filemap_map_pages(): map the pages of
 * the 64 KiB-aligned block around addr (clipped to the VMA and to the PTE
 * table) that are in the object's page cache, below EOF, and whose PTE is
 * none. */
static void fault_around(naive_mm *nm, const nvma *v, uint64_t addr)
{
	nobject *o = nv_object(nm, v->backing, v->object);
	uint64_t eof_pages = nv_pages(nv_page_align(o->size));
	uint64_t pte_off = (addr >> MM_PAGE_SHIFT) & 511;
	uint64_t vma_off = nv_pages(addr - v->start);
	uint64_t vma_pages = nv_pages(v->end - v->start);
	uint64_t from = pte_off & ~(uint64_t)(NV_FAULT_AROUND_PAGES - 1);
	uint64_t lowest = pte_off - (pte_off < vma_off ? pte_off : vma_off);
	if (from < lowest)
		from = lowest;
	uint64_t to = from + NV_FAULT_AROUND_PAGES;
	if (to > 512)
		to = 512;
	if (to > pte_off + vma_pages - vma_off)
		to = pte_off + vma_pages - vma_off;
	uint64_t table = addr & ~(NV_PMD - 1);
	for (uint64_t i = from; i < to; i++) {
		uint64_t a = table + (i << MM_PAGE_SHIFT);
		uint64_t index = nv_vma_file_index(v, a);
		/* a uffd-wp marker is not pte_none: filemap_map_pages skips it */
		if (nv_page_get(nm, a) != MM_PAGE_NONE || index >= eof_pages || nv_uffd_wp_marker(nm, a))
			continue;
		if (!nv_is_cached(nm, v->backing, v->object, index))
			continue;
		map_4k(nm, a, MM_PAGE_FILE);
		map_folio_whole(nm, v, a);
	}
}

/* Whether a fault on v at addr tries a PMD-sized THP first (mm/memory.c:
 * __handle_mm_fault: pmd_none and thp_vma_allowable_order(TVA_PAGEFAULT),
 * then do_huge_pmd_anonymous_page: thp_vma_suitable_order).
 * include/linux/huge_mm.h: thp_vma_allowable_orders() for an anonymous VMA
 * keeps the PMD order (sysfs "inherit") only when transparent_hugepage/enabled
 * is "always", or "madvise" and the VMA has VM_HUGEPAGE; "never" keeps none.
 * mm/huge_memory.c: __thp_vma_allowable_orders(): vma_thp_disabled() refuses
 * VM_NOHUGEPAGE; at fault time no anon_vma is needed yet. */
static bool thp_fault_ok(naive_mm *nm, const nvma *v, uint64_t addr)
{
	uint64_t haddr = addr & ~(NV_PMD - 1);
	bool mode_allows;
	switch (nm->cfg.thp_mode) {
	case MM_THP_ALWAYS:
		mode_allows = true;
		break;
	case MM_THP_MADVISE:
		mode_allows = (v->flags & MM_VM_HUGEPAGE) != 0;
		break;
	case MM_THP_NEVER:
	default:
		mode_allows = false;
		break;
	}
	return nm->cfg.thp_enabled && mode_allows && !(v->flags & MM_VM_NOHUGEPAGE) && haddr >= v->start &&
	       haddr + NV_PMD <= v->end && !nv_region_get(nm, addr);
}

/* mm/huge_memory.c: do_huge_pmd_anonymous_page(): a read fault maps the huge
 * zero page only when !mm_forbids_zeropage() and
 * transparent_hugepage/use_zero_page; otherwise it allocates a THP as a
 * write fault does. */
static bool huge_zero_page_ok(const naive_mm *nm) { return nm->cfg.zero_page && nm->cfg.thp_zero_page; }

static void map_pmd(naive_mm *nm, uint64_t addr, nregion_kind kind)
{
	uint64_t haddr = addr & ~(NV_PMD - 1);
	mm_page_state st = kind == NV_REGION_PMD_ZERO ? MM_PAGE_ZERO : MM_PAGE_ANON;
	for (uint64_t a = haddr; a < haddr + NV_PMD; a += NV_PAGE) {
		nv_page_set(nm, a, MM_PAGE_NONE); /* a new page in every place */
		nv_page_set(nm, a, st);
	}
	if (st == MM_PAGE_ANON)
		nv_pages_make_thp(nm, haddr);
	nv_region_set(nm, haddr, kind);
}

/* mm/memory.c: handle_mm_fault() for one page of v, once access_error()
 * has allowed the access. Installs what the fault installs. */
/* A huge page-cache folio (made by MADV_COLLAPSE) is mapped by one PMD when
 * a fault finds no page table at its 2 MiB (do_set_pmd(), reached from
 * fault-around's filemap_map_pmd() on a read and from finish_fault() on a
 * shared write). It must sit 2 MiB-aligned in the VMA
 * (thp_vma_suitable_order); VM_NOHUGEPAGE refuses (vma_thp_disabled); a
 * private write copies one page instead (do_cow_fault). A shared write where
 * a page table exists maps every page of a large folio lying in the VMA and
 * the table when all their PTEs are none (finish_fault() for shmem), else
 * the one page. [LIVE: madvise-collapse-shmem-file.trace,
 * huge-shmem-pmd-split.trace] */
bool nv_fault_huge_cache(naive_mm *nm, nvma *v, uint64_t addr, bool write)
{
	if (v->backing == MM_BACKING_ANON || (write && !(v->flags & MM_VM_SHARED)))
		return false;
	uint64_t base = addr & ~(NV_PMD - 1);
	uint64_t first = nv_vma_file_index(v, base);
	if (!nv_region_get(nm, base) && !(v->flags & MM_VM_NOHUGEPAGE) && base >= v->start && base + NV_PMD <= v->end &&
	    first % 512 == 0 && nv_cache_is_huge(nm, v->backing, v->object, first) &&
	    !beyond_eof(nm, v, base + NV_PMD - NV_PAGE)) {
		for (uint64_t a = base; a < base + NV_PMD; a += NV_PAGE)
			nv_page_set(nm, a, MM_PAGE_FILE);
		nv_region_set(nm, base, NV_REGION_PMD_FILE);
		if (write)
			nv_cache_mark_dirty(nm, v, addr);
		return true;
	}
	if (!write)
		return false;
	uint64_t a0 = folio_whole_addr(nm, v, addr);
	if (!a0)
		return false;
	uint64_t size = (uint64_t)NV_PAGE << nv_cache_order(nm, v->backing, v->object, nv_vma_file_index(v, addr));
	for (uint64_t a = a0; a < a0 + size; a += NV_PAGE)
		if (nv_page_get(nm, a) != MM_PAGE_NONE)
			return false;
	for (uint64_t a = a0; a < a0 + size; a += NV_PAGE)
		map_4k(nm, a, MM_PAGE_FILE);
	nv_cache_mark_dirty(nm, v, addr);
	return true;
}

static nv_fault_result handle_fault(naive_mm *nm, nvma *v, uint64_t addr, bool write);

/* Whether a write to the page at addr of v goes to the userfaultfd as `wp`:
 * a present page whose entry is protected, in a VMA registered with wp
 * (userfaultfd_pte_wp / userfaultfd_huge_pmd_wp). */
static bool wp_blocks_write(naive_mm *nm, const nvma *v, uint64_t addr)
{
	return v && (v->flags & MM_VM_UFFD_WP) && nv_page_get(nm, addr) != MM_PAGE_NONE && nv_uffd_wp_get(nm, addr);
}

nv_fault_result nv_handle_fault(naive_mm *nm, nvma *v, uint64_t addr, bool write)
{
	addr &= NV_PAGE_MASK;
	/* do_wp_page(), wp_huge_pmd(): handle_userfault(VM_UFFD_WP) */
	if (write && wp_blocks_write(nm, v, addr))
		return NV_FAULT_UFFD_WP;
	if (!nv_uffd_wp_marker(nm, addr))
		return handle_fault(nm, v, addr, write);
	/* handle_pte_marker(), a uffd-wp marker: in a VMA not registered with
	 * wp any more it is simply cleared (and the access retried); else the
	 * page is missing (do_pte_missing: the userfaultfd's missing and minor
	 * modes apply), and what the fault maps keeps the protection
	 * (vmf_orig_pte_uffd_wp) -- so a write faults once more, as `wp` */
	if (!(v->flags & MM_VM_UFFD_WP) || v->backing == MM_BACKING_ANON) {
		nv_uffd_wp_set(nm, addr, false);
		return handle_fault(nm, v, addr, write);
	}
	nv_fault_result r = handle_fault(nm, v, addr, write);
	if (r == NV_FAULT_OK && nv_page_get(nm, addr) != MM_PAGE_NONE)
		nv_uffd_wp_set(nm, addr, true);
	return r;
}

static nv_fault_result handle_fault(naive_mm *nm, nvma *v, uint64_t addr, bool write)
{
	mm_page_state st = nv_page_get(nm, addr);
	if (st == MM_PAGE_GUARD) /* handle_pte_marker(): PTE_MARKER_GUARD */
		return NV_FAULT_SIGSEGV;

	bool missing = v->flags & MM_VM_UFFD_MISSING, minor = v->flags & MM_VM_UFFD_MINOR;
	if (v->backing == MM_BACKING_ANON) {
		if (st == MM_PAGE_NONE) {
			if (thp_fault_ok(nm, v, addr)) {
				/* do_huge_pmd_anonymous_page(): vmf_anon_prepare() first;
				 * a read maps the huge zero page (when allowed), else a THP */
				nv_anon_vma_prepare(nm, v);
				if (missing) /* userfaultfd_missing(), either way */
					return NV_FAULT_UFFD_MISSING;
				bool zero = !write && huge_zero_page_ok(nm);
				map_pmd(nm, addr, zero ? NV_REGION_PMD_ZERO : NV_REGION_PMD_ANON);
				return NV_FAULT_OK;
			}
			/* do_anonymous_page(): a read maps the zero page unless
			 * mm_forbids_zeropage() (profile zero_page=off); anything
			 * else takes anon_vma_prepare() and a new page [LIVE] */
			if (!write && nm->cfg.zero_page) {
				if (missing) /* before the zero page: no anon_vma */
					return NV_FAULT_UFFD_MISSING;
				map_4k(nm, addr, MM_PAGE_ZERO);
				return NV_FAULT_OK;
			}
			nv_anon_vma_prepare(nm, v);
			if (missing) /* after vmf_anon_prepare() */
				return NV_FAULT_UFFD_MISSING;
			map_4k(nm, addr, MM_PAGE_ANON);
			return NV_FAULT_OK;
		}
		if (st == MM_PAGE_ZERO && write) {
			nregion *r = nv_region_get(nm, addr);
			nv_anon_vma_prepare(nm, v);
			if (r && r->kind == NV_REGION_PMD_ZERO && !nv_has(nm, NV_HUGE_ZERO_WP_THP)) {
				/* 6.1, 6.12 do_huge_pmd_wp_page(): __split_huge_pmd() into
				 * zero PTEs (a page table stays), then do_wp_page()
				 * copies the written one */
				r->kind = NV_REGION_PTE;
				nv_page_set(nm, addr, MM_PAGE_ANON);
				return NV_FAULT_OK;
			}
			if (r && r->kind == NV_REGION_PMD_ZERO) {
				/* do_huge_zero_wp_pmd(): the huge zero page is replaced by a THP */
				map_pmd(nm, addr, NV_REGION_PMD_ANON);
				return NV_FAULT_OK;
			}
			nv_page_set(nm, addr, MM_PAGE_ANON); /* wp_page_copy() */
		}
		return NV_FAULT_OK;
	}

	/* file or shmem backed */
	/* VM_UFFD_MINOR: shmem_fault() hands a cached page to the userfaultfd
	 * before anything maps it */
	if (st == MM_PAGE_NONE && !minor && nv_fault_huge_cache(nm, v, addr, write))
		return NV_FAULT_OK;
	if (st == MM_PAGE_NONE) {
		uint64_t index = nv_vma_file_index(v, addr);
		if (!write) {
			/* do_read_fault(): fault-around first -- even when the page
			 * itself is beyond EOF [LIVE] -- then the page itself; not
			 * with VM_UFFD_WP or _MINOR (uffd_disable_fault_around) */
			if (!(v->flags & (MM_VM_UFFD_WP | MM_VM_UFFD_MINOR)))
				fault_around(nm, v, addr);
			if (beyond_eof(nm, v, addr)) /* shmem_fault: VM_FAULT_SIGBUS */
				return NV_FAULT_SIGBUS;
			if (nv_page_get(nm, addr) != MM_PAGE_NONE) /* fault-around mapped it */
				return NV_FAULT_OK;
			if (missing || minor) {
				bool cached = nv_is_cached(nm, v->backing, v->object, index);
				if (cached && minor)
					return NV_FAULT_UFFD_MINOR;
				if (!cached && missing)
					return NV_FAULT_UFFD_MISSING;
			}
			nv_cache_add(nm, v->backing, v->object, index);
			map_4k(nm, addr, MM_PAGE_FILE);
			return NV_FAULT_OK;
		}
		/* do_cow_fault(): the anon_vma comes before __do_fault(), so a
		 * private write beyond EOF still gets one [LIVE] */
		if (!(v->flags & MM_VM_SHARED))
			nv_anon_vma_prepare(nm, v);
		if (beyond_eof(nm, v, addr))
			return NV_FAULT_SIGBUS;
		if (missing || minor) { /* shmem_get_folio_gfp() */
			bool cached = nv_is_cached(nm, v->backing, v->object, index);
			if (cached && minor)
				return NV_FAULT_UFFD_MINOR;
			if (!cached && missing)
				return NV_FAULT_UFFD_MISSING;
		}
		nv_cache_add(nm, v->backing, v->object, index);
		if (v->flags & MM_VM_SHARED) {
			map_4k(nm, addr, MM_PAGE_FILE); /* do_shared_fault() */
			nv_cache_mark_dirty(nm, v, addr);
		} else {
			nv_anon_vma_prepare(nm, v); /* do_cow_fault() */
			map_4k(nm, addr, MM_PAGE_ANON);
			nv_page_copy_file(nm, v, addr); /* a copy of the file's page */
		}
		return NV_FAULT_OK;
	}
	if (write && st == MM_PAGE_ZERO && !(v->flags & MM_VM_SHARED)) {
		/* the zero page UFFDIO_ZEROPAGE put in a private file mapping:
		 * do_wp_page() → wp_page_copy(), a zeroed anonymous page */
		nv_anon_vma_prepare(nm, v);
		nv_page_set(nm, addr, MM_PAGE_ANON);
		return NV_FAULT_OK;
	}
	if (write && st == MM_PAGE_FILE && (v->flags & MM_VM_SHARED))
		nv_cache_mark_dirty(nm, v, addr);
	if (write && st == MM_PAGE_FILE && !(v->flags & MM_VM_SHARED)) {
		nregion *r = nv_region_get(nm, addr);
		if (r && r->kind == NV_REGION_PMD_FILE) {
			/* wp_huge_pmd(): a private file PMD is zapped
			 * (__split_huge_pmd), then do_cow_fault() copies the
			 * one page: the rest of the folio is unmapped [LIVE] */
			nv_region_zap_file(nm, addr);
			nv_anon_vma_prepare(nm, v);
			map_4k(nm, addr, MM_PAGE_ANON);
			nv_page_copy_file(nm, v, addr);
			return NV_FAULT_OK;
		}
		nv_anon_vma_prepare(nm, v); /* do_wp_page → wp_page_copy() */
		nv_page_set(nm, addr, MM_PAGE_ANON);
		nv_page_copy_file(nm, v, addr);
	}
	return NV_FAULT_OK;
}

/* mm/mmap.c: expand_downwards(), reached from lock_mm_and_find_vma(). */
static bool expand_downwards(naive_mm *nm, nvma *v, uint64_t addr)
{
	addr &= NV_PAGE_MASK;
	if (addr < nm->cfg.mmap_min_addr)
		return false; /* -EPERM */
	nvma *prev = nv_prev_of(nm, v);
	if (prev && !(prev->flags & MM_VM_GROWSDOWN) && vma_accessible(prev) &&
	    addr - prev->end < nm->cfg.stack_guard_gap)
		return false; /* stack_guard_gap enforced */
	nv_anon_vma_prepare(nm, v); /* before the size checks */
	uint64_t size = v->end - addr;
	uint64_t grow = nv_pages(v->start - addr);
	if (grow > v->pgoff)
		return false;
	if (size > nm->cfg.stack_rlimit) /* acct_stack_growth(): RLIMIT_STACK */
		return false;
	v->start = addr;
	v->pgoff -= grow;
	return true;
}

/* A store to an anonymous page that another process maps too (since a
 * fork): the write-protected entry faults, do_wp_page copies the folio
 * (wp_page_copy); a PMD-mapped THP is split in this process first
 * (do_huge_pmd_wp_page: __split_huge_pmd, then the PTE fault). */
static void shared_anon_write(naive_mm *nm, uint64_t addr)
{
	npage *p = nv_page_find(nm, addr);
	if (!p || !p->cow)
		return;
	if (nv_anon_mapcount(nm, p) > 1) {
		nregion *r = nv_region_get(nm, addr);
		if (r && r->kind == NV_REGION_PMD_ANON)
			nv_region_pmd_to_ptes(nm, r);
	}
	nv_anon_cow_break(nm, p);
}

mm_touch_result naive_touch(naive_mm *nm, uint64_t addr, mm_access access)
{
	mm_touch_result res = {.outcome = MM_TOUCH_OK};
	uint32_t code = MM_PF_USER | (access == MM_ACCESS_WRITE ? MM_PF_WRITE : 0) |
	                (access == MM_ACCESS_EXEC ? MM_PF_INSTR : 0);
	if (addr >= NV_TASK_SIZE) {
		/* the kernel-address path; sanitize_error_code() forces P on */
		res.outcome = MM_TOUCH_SEGV_MAPERR;
		res.pf_error = code | MM_PF_PROT;
		return res;
	}
	/* At most: one fault to map the page, one more for a COW or an NX
	 * page found present; the loop stops on the first signal. */
	for (int attempt = 0; attempt < 4; attempt++) {
		nvma *v = nv_vma_at(nm, addr);
		mm_page_state st = nv_page_get(nm, addr);
		bool present = hw_present(v, st);
		/* SDM 3A 4.6.2: a data access to a present page whose key PKRU
		 * refuses is a #PF with P and PK (whatever R/W says);
		 * do_user_addr_fault -> access_error() (X86_PF_PK) ->
		 * bad_area_access_error(): SEGV_PKUERR. */
		if (present && nm->cfg.pkeys && access != MM_ACCESS_EXEC && !nv_key_allows_data(v)) {
			res.outcome = MM_TOUCH_SEGV_PKUERR;
			res.pf_error = code | MM_PF_PROT | MM_PF_PK;
			return res;
		}
		bool wp = access == MM_ACCESS_WRITE && present && wp_blocks_write(nm, v, addr);
		if (present && !wp && pte_allows(v, st, access)) {
			/* A store through a shared mapping dirties the cached page;
			 * a store to a lazily freed anonymous page makes it dirty
			 * again, so reclaim keeps it. */
			if (access == MM_ACCESS_WRITE && st == MM_PAGE_FILE && (v->flags & MM_VM_SHARED))
				nv_cache_mark_dirty(nm, v, addr);
			if (access == MM_ACCESS_WRITE && st == MM_PAGE_ANON) {
				shared_anon_write(nm, addr);
				nv_page_set_lazyfree(nm, addr, false);
			}
			if (access == MM_ACCESS_WRITE)
				nv_store_zero_byte(nm, addr); /* the byte touch stores */
			/* a page still marked but in a VMA no longer registered with
			 * wp (another mode replaced it): the write fault reuses it
			 * writable (wp_page_reuse keeps the bit, but a writable entry
			 * no longer stops writes) -- simplified here to the mark
			 * going [LIVE: uffd-wp-*-unreg.trace] */
			if (access == MM_ACCESS_WRITE && nv_uffd_wp_get(nm, addr))
				nv_uffd_wp_set(nm, addr, false);
			return res;
		}
		uint32_t err = code | (present ? MM_PF_PROT : 0);
		res.pf_error = err;

		/* do_user_addr_fault → lock_mm_and_find_vma() */
		v = nv_find_vma(nm, addr);
		if (!v || (v->start > addr && (!(v->flags & MM_VM_GROWSDOWN) || !expand_downwards(nm, v, addr)))) {
			res.outcome = MM_TOUCH_SEGV_MAPERR;
			return res;
		}
		/* access_error(): a data access the VMA's key refuses is an
		 * error before any fault is tried (arch_vma_access_permitted),
		 * and bad_area_access_from_pkeys() makes it SEGV_PKUERR. */
		if (nm->cfg.pkeys && access != MM_ACCESS_EXEC && !nv_key_allows_data(v)) {
			res.outcome = MM_TOUCH_SEGV_PKUERR;
			return res;
		}
		bool bad;
		if (err & MM_PF_WRITE)
			bad = !(v->flags & MM_VM_WRITE);
		else if (err & MM_PF_PROT)
			bad = true;
		else
			bad = !vma_accessible(v);
		if (bad) {
			res.outcome = MM_TOUCH_SEGV_ACCERR;
			return res;
		}
		nv_fault_result f = nv_handle_fault(nm, v, addr, access == MM_ACCESS_WRITE);
		switch (f) {
		case NV_FAULT_OK:
			break;
		case NV_FAULT_SIGSEGV:
			res.outcome = MM_TOUCH_SEGV_MAPERR;
			return res;
		case NV_FAULT_SIGBUS:
			res.outcome = MM_TOUCH_SIGBUS;
			return res;
		case NV_FAULT_UFFD_MISSING:
		case NV_FAULT_UFFD_MINOR:
		case NV_FAULT_UFFD_WP:
			/* the message the handler reads; the access is left */
			res.outcome = MM_TOUCH_UFFD;
			res.uffd_addr = addr & NV_PAGE_MASK;
			res.uffd_flags = (access == MM_ACCESS_WRITE ? MM_UFFD_FLAG_WRITE : 0) |
			                 (f == NV_FAULT_UFFD_MINOR ? MM_UFFD_FLAG_MINOR : 0) |
			                 (f == NV_FAULT_UFFD_WP ? MM_UFFD_FLAG_WP : 0);
			return res;
		}
	}
	res.outcome = MM_TOUCH_SEGV_ACCERR; /* not reached: the loop always settles */
	return res;
}

/* mm/gup.c: populate_vma_page_range() over [start, end) of v: a write fault
 * per page of a private writable VMA (COW broken), a read fault otherwise.
 * Returns 0, or -EFAULT (permission mismatch, SIGSEGV or SIGBUS). */
static int populate_vma_page_range(naive_mm *nm, uint64_t vstart, uint64_t start, uint64_t end)
{
	nvma *v = nv_vma_at(nm, vstart);
	if (v->flags & MM_VM_LOCKONFAULT)
		return 0;
	bool write = (v->flags & (MM_VM_WRITE | MM_VM_SHARED)) == MM_VM_WRITE;
	bool force = vma_accessible(v);
	/* check_vma_flags() */
	if (!write && !(v->flags & MM_VM_READ) && (!force || !(v->flags & MM_VM_MAYREAD)))
		return -EFAULT;
	/* ... and arch_vma_access_permitted(vma, write, false, foreign): GUP
	 * is a data access, which an execute-only key refuses. */
	if (!nv_key_allows_data(v))
		return -EFAULT;
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		v = nv_vma_at(nm, vstart);
		mm_page_state st = nv_page_get(nm, a);
		if (hw_present(v, st) && (!write || (pte_allows(v, st, MM_ACCESS_WRITE) && !wp_blocks_write(nm, v, a)))) {
			/* follow_page_pte(): FOLL_TOUCH|FOLL_WRITE dirties the page */
			if (write && st == MM_PAGE_ANON) {
				shared_anon_write(nm, a);
				nv_page_set_lazyfree(nm, a, false);
			}
			if (write && st == MM_PAGE_FILE)
				nv_cache_mark_dirty(nm, v, a);
			/* a mark left behind in a VMA no longer registered with wp:
			 * the write (a fault on the protected entry, do_wp_page)
			 * reuses the page writable, as for a touch above
			 * [LIVE: uffd-wp-left-mark-mlock-write.trace] */
			if (write && nv_uffd_wp_get(nm, a))
				nv_uffd_wp_set(nm, a, false);
			continue;
		}
		if (nv_handle_fault(nm, v, a, write) != NV_FAULT_OK)
			return -EFAULT;
		/* the retry after the fault: a page mapped over a uffd-wp marker
		 * is still protected, and its write fault is SIGBUS for GUP */
		if (write && wp_blocks_write(nm, v, a))
			return -EFAULT;
	}
	return 0;
}

/* mm/gup.c: __mm_populate() */
int nv_mm_populate(naive_mm *nm, uint64_t start, uint64_t len, bool ignore_errors)
{
	uint64_t end = start + len;
	uint64_t nstart = start;
	while (nstart < end) {
		nvma *v = nv_find_vma(nm, nstart);
		if (!v || v->start >= end)
			break;
		uint64_t nend = v->end < end ? v->end : end;
		if (nstart < v->start)
			nstart = v->start;
		if (!(v->flags & (MM_VM_IO | MM_VM_PFNMAP))) {
			int ret = populate_vma_page_range(nm, v->start, nstart, nend);
			if (ret < 0 && !ignore_errors)
				return ret;
		}
		nstart = nend;
	}
	return 0;
}

int nv_uffd_fill_page(naive_mm *nm, nvma *v, uint64_t addr, bool zeropage, uint64_t value)
{
	/* a PMD mapping there: "be strict", -EEXIST */
	nregion *r = nv_region_get(nm, addr);
	if (r && r->kind != NV_REGION_PTE)
		return -EEXIST;
	/* mfill_file_over_size(): a file page beyond i_size */
	if (v->backing != MM_BACKING_ANON && beyond_eof(nm, v, addr))
		return -EFAULT;
	/* a guard marker: UFFDIO_ZEROPAGE of private memory checks pte_none()
	 * (-EEXIST), everything else pte_none_mostly(), which lets the new
	 * page take the marker's place [LIVE] */
	mm_page_state st = nv_page_get(nm, addr);
	bool shared = (v->flags & MM_VM_SHARED) != 0;
	/* a uffd-wp marker: not pte_none() for a private zeropage (-EEXIST);
	 * pte_none_mostly() lets any other fill replace it */
	if (!shared && zeropage && nv_uffd_wp_marker(nm, addr))
		return -EEXIST;
	if (st != MM_PAGE_NONE && !(st == MM_PAGE_GUARD && (shared || !zeropage)))
		return -EEXIST;
	if (v->flags & MM_VM_SHARED) {
		/* shmem_mfill_atomic_pte(): a page of its own into the cache --
		 * refused before anything is mapped, so a marker stays */
		uint64_t index = nv_vma_file_index(v, addr);
		if (nv_is_cached(nm, v->backing, v->object, index))
			return -EEXIST;
		if (st == MM_PAGE_GUARD)
			nv_page_set(nm, addr, MM_PAGE_NONE);
		nv_cache_add(nm, v->backing, v->object, index);
		map_4k(nm, addr, MM_PAGE_FILE);
		nv_cache_mark_dirty(nm, v, addr);
	} else if (zeropage) {
		map_4k(nm, addr, MM_PAGE_ZERO); /* mfill_atomic_pte_zeropage() */
		return 0;
	} else {
		if (st == MM_PAGE_GUARD)
			nv_page_set(nm, addr, MM_PAGE_NONE);
		map_4k(nm, addr, MM_PAGE_ANON); /* mfill_atomic_pte_copy() */
	}
	if (!zeropage)
		nv_fill_page(nm, addr, value);
	return 0;
}

int nv_uffd_continue_page(naive_mm *nm, nvma *v, uint64_t addr, bool wp)
{
	/* mfill_atomic() refuses a PMD-mapped page before it looks further */
	nregion *r = nv_region_get(nm, addr);
	if (r && r->kind != NV_REGION_PTE)
		return -EEXIST;
	/* shmem_get_folio(..., SGP_NOALLOC): past the end of the file is
	 * -EINVAL; no page in the cache is -ENOENT, reported as -EFAULT */
	if (beyond_eof(nm, v, addr))
		return -EINVAL;
	if (!nv_is_cached(nm, v->backing, v->object, nv_vma_file_index(v, addr)))
		return -EFAULT;
	/* mfill_atomic_install_pte(): only an empty entry or a marker (the
	 * guard marker goes) may take the page; it is mapped dirty, and a
	 * page of the cache is never writable in a private mapping, which
	 * MM_PAGE_FILE already says (pte_allows) */
	mm_page_state st = nv_page_get(nm, addr);
	if (st != MM_PAGE_NONE && st != MM_PAGE_GUARD)
		return -EEXIST;
	if (st == MM_PAGE_GUARD)
		nv_page_set(nm, addr, MM_PAGE_NONE);
	map_4k(nm, addr, MM_PAGE_FILE);
	nv_cache_mark_dirty(nm, v, addr);
	/* the WP mode: the new entry protected (a marker that was there went
	 * with the new entry either way) */
	if (wp)
		nv_uffd_wp_set(nm, addr, true);
	return 0;
}

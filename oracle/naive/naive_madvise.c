/* madvise (mm/madvise.c), mlock/munlock (mm/mlock.c), mseal (mm/mseal.c). */
#include "naive_internal.h"

#include <stdlib.h>

/* ---- madvise ----------------------------------------------------------------- */

static bool madvise_behavior_valid(int64_t advice)
{
	switch (advice) {
	case MM_MADV_DOFORK: case MM_MADV_DONTFORK: case MM_MADV_NORMAL: case MM_MADV_SEQUENTIAL:
	case MM_MADV_RANDOM: case MM_MADV_REMOVE: case MM_MADV_WILLNEED: case MM_MADV_DONTNEED:
	case MM_MADV_DONTNEED_LOCKED: case MM_MADV_FREE: case MM_MADV_COLD: case MM_MADV_PAGEOUT:
	case MM_MADV_POPULATE_READ: case MM_MADV_POPULATE_WRITE:
	case MM_MADV_MERGEABLE: case MM_MADV_UNMERGEABLE:                      /* CONFIG_KSM=y */
	case MM_MADV_HUGEPAGE: case MM_MADV_NOHUGEPAGE: case MM_MADV_COLLAPSE: /* CONFIG_TRANSPARENT_HUGEPAGE=y */
	case MM_MADV_DONTDUMP: case MM_MADV_DODUMP: case MM_MADV_WIPEONFORK: case MM_MADV_KEEPONFORK:
	case MM_MADV_GUARD_INSTALL: case MM_MADV_GUARD_REMOVE:
		return true;
	default: /* HWPOISON, SOFT_OFFLINE: CONFIG_MEMORY_FAILURE is off */
		return false;
	}
}

/* is_discard(): the advice a sealed read-only anonymous VMA refuses */
static bool is_discard(int64_t advice)
{
	switch (advice) {
	case MM_MADV_FREE: case MM_MADV_DONTNEED: case MM_MADV_DONTNEED_LOCKED: case MM_MADV_REMOVE:
	case MM_MADV_DONTFORK: case MM_MADV_WIPEONFORK: case MM_MADV_GUARD_INSTALL:
		return true;
	default:
		return false;
	}
}

/* How many present pages of the address space show page `index` of the
 * object behind v: the page-cache page's map count. */
struct cache_count {
	mm_backing kind;
	uint32_t id;
	uint64_t index;
	unsigned n;
};

static void count_cache_page(naive_mm *nm, void *ctx)
{
	struct cache_count *c = ctx;
	for (size_t i = 0; i < nm->npages; i++) {
		const npage *p = &nm->pages[i];
		if (p->state != MM_PAGE_FILE)
			continue;
		const nvma *w = nv_vma_at(nm, p->addr);
		if (w && w->backing == c->kind && w->object == c->id && nv_vma_file_index(w, p->addr) == c->index)
			c->n++;
	}
}

/* ... in every process (after a fork, a page may be mapped in several). */
static unsigned cache_page_mapcount(naive_mm *nm, const nvma *v, uint64_t index)
{
	struct cache_count c = {v->backing, v->object, index, 0};
	nv_for_each_process(nm, count_cache_page, &c);
	return c.n;
}

/* madvise_pageout(): no swap here, so only page-cache pages are reclaimed:
 * unmapped (try_to_unmap); kept in the cache when dirty (their writeout
 * fails), dropped from it when clean.
 * A page mapped more than once, and anything PMD-mapped, is left alone. */
static void pageout_range(naive_mm *nm, const nvma *v, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		mm_page_state st = nv_page_get(nm, a);
		nregion *r = nv_region_get(nm, a);
		if (r && r->kind != NV_REGION_PTE)
			continue;
		if (st == MM_PAGE_ANON && nv_page_find(nm, a)->thp)
			continue; /* thp_advice() */
		if (st == MM_PAGE_ANON && nv_page_find(nm, a)->mlocked)
			continue; /* unevictable */
		if (st == MM_PAGE_FILE && nv_cache_is_mlocked(nm, v, a))
			continue; /* unevictable: the folio's PG_mlocked */
		if (st == MM_PAGE_ANON) {
			/* Without swap an anonymous page goes only if it is not
			 * swap-backed: droppable (even dirty), or MADV_FREE'd and
			 * clean since. */
			/* madvise_cold_or_pageout_pte_range(): a folio another
			 * process maps too is left alone */
			if (nv_anon_mapcount(nm, nv_page_find(nm, a)) != 1)
				continue;
			if ((v->flags & MM_VM_DROPPABLE) || nv_page_is_lazyfree(nm, a))
				nv_page_set(nm, a, MM_PAGE_NONE);
			continue;
		}
		if (st != MM_PAGE_FILE)
			continue;
		if (cache_page_mapcount(nm, v, nv_vma_file_index(v, a)) != 1)
			continue;
		/* try_to_unmap(); a clean page then leaves the cache too
		 * (__remove_mapping), a dirty one fails writeout and stays. */
		nv_page_set(nm, a, MM_PAGE_NONE);
		if (!nv_cache_is_dirty(nm, v, a)) {
			uint64_t index = nv_vma_file_index(v, a);
			nv_cache_remove_range(nm, v->backing, v->object, index, index + 1);
		}
	}
}

/* ---- THPs under MADV_FREE, MADV_COLD and MADV_PAGEOUT ----
 *
 * What the live kernel shows (traces madvise-thp-split-zero.trace and
 * madvise-thp-lazyfree-pageout.trace), stated as rules about whole THPs:
 *
 * 1. The advice sees a THP "whole" when its 512 pages are all mapped, in
 *    their order, on one 2 MiB-aligned block lying inside the advised part of
 *    this VMA. A THP with any page in the advised part that is not whole is
 *    split first (mm/huge_memory.c split_folio).
 * 2. A split THP stops being one: each of its pages, wherever it is mapped,
 *    becomes the shared zero page when it holds only zeroes -- every page
 *    here, stores write zero bytes -- unless its VMA is VM_LOCKED, where it
 *    stays an ordinary anonymous page (mm/migrate.c
 *    try_to_map_unused_to_zeropage). PMD mappings become page tables.
 * 3. A whole THP: FREE makes all of it lazily freeable, COLD does nothing,
 *    PAGEOUT (no swap here) drops it entirely when none of its pages was
 *    written since the FREE (or the VMA is droppable), keeps it and forgets
 *    the FREE when one was, and splits it (rule 2) when it was never freed.
 *
 * The oracle cannot know page contents; it knows that the trace format only
 * ever stores zeroes. Memory pressure (the deferred-split shrinker, khugepaged)
 * is not part of it: the kernel target decides those. */
static bool thp_whole_in(naive_mm *nm, uint32_t id, uint64_t start, uint64_t end)
{
	uint64_t base = 0;
	unsigned found = 0;
	for (size_t i = 0; i < nm->npages; i++) {
		const npage *p = &nm->pages[i];
		if (p->state != MM_PAGE_ANON || p->thp != id)
			continue;
		uint64_t b = p->addr - (uint64_t)p->thp_idx * NV_PAGE;
		if (found && b != base)
			return false;
		base = b;
		found++;
	}
	return found == NV_PMD / NV_PAGE && !(base & (NV_PMD - 1)) && base >= start && base + NV_PMD <= end;
}

static void thp_split(naive_mm *nm, uint32_t id)
{
	for (size_t i = 0; i < nm->npages; i++) {
		npage *p = &nm->pages[i];
		if (p->state != MM_PAGE_ANON || p->thp != id)
			continue;
		nregion *r = nv_region_get(nm, p->addr);
		if (r && r->kind == NV_REGION_PMD_ANON)
			nv_region_pmd_to_ptes(nm, r);
		nvma *w = nv_vma_at(nm, p->addr);
		p->thp = 0; /* each page keeps its lazyfree mark (split_folio keeps the flags) */
		/* only pages that hold nothing but zeroes (naive_data.c) */
		/* nor in an mlocked folio: PG_mlocked outlives VM_LOCKED after an
		 * MREMAP_DONTUNMAP (folio_test_mlocked() in
		 * try_to_map_unused_to_zeropage) [LIVE: madvise-cold-split-mlocked-thp.trace] */
		if (!(w && (w->flags & MM_VM_LOCKED)) && !p->mlocked && nv_has(nm, NV_SPLIT_TO_ZEROPAGE) &&
		    nv_page_zero_filled(p)) {
			p->state = MM_PAGE_ZERO;
			free(p->data);
			p->data = NULL;
		}
	}
}

static void thp_for_each_page(naive_mm *nm, uint32_t id, void (*fn)(naive_mm *nm, npage *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < nm->npages; i++)
		if (nm->pages[i].state == MM_PAGE_ANON && nm->pages[i].thp == id)
			fn(nm, &nm->pages[i], ctx);
}

static void set_lazy(naive_mm *nm, npage *p, void *ctx)
{
	(void)nm;
	p->lazyfree = *(bool *)ctx;
}

static void count_lazy(naive_mm *nm, npage *p, void *ctx)
{
	(void)nm;
	((unsigned *)ctx)[0]++;
	((unsigned *)ctx)[1] += p->lazyfree;
}

/* Applies rules 1-3 to the THPs with pages in [start, end) of v. */
static void thp_advice(naive_mm *nm, const nvma *v, uint64_t start, uint64_t end, int64_t advice)
{
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		npage *p = nv_page_find(nm, a);
		if (!p || p->state != MM_PAGE_ANON || !p->thp)
			continue;
		uint32_t id = p->thp;
		nregion *pr = nv_region_get(nm, a);
		if (!nv_has(nm, NV_THP_PTE_BATCH) && !(pr && pr->kind == NV_REGION_PMD_ANON))
			continue; /* mapped by PTEs: legacy_thp_stop() */
		if (!thp_whole_in(nm, id, start, end)) {
			thp_split(nm, id);
			continue;
		}
		bool yes = true, no = false;
		if (p->mlocked && (advice == MM_MADV_FREE || advice == MM_MADV_PAGEOUT))
			continue; /* an mlocked THP is neither lazily freed nor reclaimed */
		if (advice == MM_MADV_FREE) {
			thp_for_each_page(nm, id, set_lazy, &yes);
		} else if (advice == MM_MADV_PAGEOUT) {
			unsigned n[2] = {0, 0};
			thp_for_each_page(nm, id, count_lazy, n);
			if (n[1] == n[0] || (v->flags & MM_VM_DROPPABLE)) {
				uint64_t base = a & ~(NV_PMD - 1);
				nregion *r = nv_region_get(nm, base);
				for (uint64_t b = base; b < base + NV_PMD; b += NV_PAGE)
					nv_page_set(nm, b, MM_PAGE_NONE);
				/* the PMD is split before the pages go: an empty
				 * page table stays [LIVE: free-thp-then-pageout] */
				if (r && r->kind == NV_REGION_PMD_ANON)
					r->kind = NV_REGION_PTE;
			} else if (n[1]) {
				/* Before 6.15 (NV_LAZYFREE_BATCH_UNMAP) a THP mapped
				 * by PTEs is unmapped page by page in address order:
				 * the pages before the first one written since the
				 * FREE go, that one and the rest stay (rmap.c
				 * try_to_unmap_one) */
				uint64_t base = a & ~(NV_PMD - 1);
				nregion *r = nv_region_get(nm, base);
				if (!nv_has(nm, NV_LAZYFREE_BATCH_UNMAP) && !(r && r->kind == NV_REGION_PMD_ANON))
					for (uint64_t b = base; b < base + NV_PMD; b += NV_PAGE) {
						const npage *q = nv_page_find(nm, b);
						if (!q || !q->lazyfree)
							break;
						nv_page_set(nm, b, MM_PAGE_NONE);
					}
				thp_for_each_page(nm, id, set_lazy, &no);
			} else {
				thp_split(nm, id);
			}
		}
		a = (a & ~(NV_PMD - 1)) + NV_PMD - NV_PAGE; /* past this THP */
	}
}

/* The first page (index 0) of THP id as this process maps it, or NULL. */
static const npage *thp_first_page(const naive_mm *nm, uint32_t id)
{
	for (size_t i = 0; i < nm->npages; i++)
		if (nm->pages[i].state == MM_PAGE_ANON && nm->pages[i].thp == id && nm->pages[i].thp_idx == 0)
			return &nm->pages[i];
	return NULL;
}

/* Kernels before 6.10, over [s, e), the part of one 2 MiB block the advice
 * covers: the walk meets the pages of THPs mapped by PTEs one address at a
 * time, splits every such THP it meets (whole or not: split keeps every page
 * anonymous there, rule 2 with no zero pages before 6.12), and stops at a THP
 * that looks shared: for FREE one whose first page is not mapped exactly
 * once -- unmapped counts (6.1 madvise_free_pte_range,
 * folio_estimated_sharers() != 1: break) --, for COLD and PAGEOUT one whose
 * page met is not (6.1 madvise_cold_or_pageout_pte_range, page_mapcount()
 * != 1: break). Nothing at or after the stop in this block is advised.
 * Returns the stop (e when none). */
static uint64_t legacy_thp_stop(naive_mm *nm, uint64_t s, uint64_t e, int64_t advice)
{
	for (uint64_t a = s; a < e; a += NV_PAGE) {
		npage *p = nv_page_find(nm, a);
		if (!p || p->state != MM_PAGE_ANON || !p->thp)
			continue;
		nregion *r = nv_region_get(nm, a);
		if (r && r->kind == NV_REGION_PMD_ANON)
			return e; /* PMD-mapped: thp_advice() */
		const npage *probe = advice == MM_MADV_FREE ? thp_first_page(nm, p->thp) : p;
		if (!probe || nv_anon_mapcount(nm, probe) != 1)
			return a;
		thp_split(nm, p->thp);
	}
	return e;
}

/* fn over the parts of [start, end) the advice reaches: all of it from 6.10,
 * before it up to legacy_thp_stop() in each 2 MiB block. */
static void advised_parts(naive_mm *nm, const nvma *v, uint64_t start, uint64_t end, int64_t advice,
                          void (*fn)(naive_mm *nm, const nvma *v, uint64_t s, uint64_t e, int64_t advice))
{
	if (nv_has(nm, NV_THP_PTE_BATCH)) {
		fn(nm, v, start, end, advice);
		return;
	}
	for (uint64_t s = start; s < end;) {
		uint64_t e = (s & ~(NV_PMD - 1)) + NV_PMD;
		if (e > end)
			e = end;
		uint64_t stop = legacy_thp_stop(nm, s, e, advice);
		if (stop > s)
			fn(nm, v, s, stop, advice);
		s = e;
	}
}

/* can_madvise_modify() */
static bool can_madvise_modify(const nvma *v, int64_t advice)
{
	if (!(v->flags & MM_VM_SEALED) || !is_discard(advice))
		return true;
	if (v->backing != MM_BACKING_ANON) /* vma->vm_file */
		return true;
	return (v->flags & MM_VM_WRITE) != 0;
}

/* madvise_dontneed_single_vma(): zap present pages, keep guard markers. A
 * PMD-mapped THP only partly covered is split; a whole one is zapped (its
 * PMD becomes none). With CONFIG_PT_RECLAIM, a zap of 2 MiB or more frees
 * the PTE tables it leaves empty (reclaim_pt). */
static void zap_range(naive_mm *nm, uint64_t start, uint64_t end)
{
	nv_regions_split_partial(nm, start, end);
	/* zap_install_uffd_wp_if_needed(): in a shmem VMA registered with wp,
	 * a protected page leaves a uffd-wp marker; anonymous memory loses
	 * its markers with everything else */
	nvma *v = nv_vma_at(nm, start);
	bool arm = v && v->backing != MM_BACKING_ANON && (v->flags & MM_VM_UFFD_WP);
	bool anon = v && v->backing == MM_BACKING_ANON;
	uint64_t *armed = NULL;
	size_t narmed = 0, cap = 0;
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		mm_page_state st = nv_page_get(nm, a);
		if (anon && nv_uffd_wp_marker(nm, a))
			nv_uffd_wp_set(nm, a, false);
		if (arm && st != MM_PAGE_NONE && st != MM_PAGE_GUARD && nv_uffd_wp_get(nm, a)) {
			armed = nv_grow(armed, &cap, narmed + 1, sizeof(*armed));
			armed[narmed++] = a;
		}
	}
	nv_pages_clear(nm, start, end, true);
	for (size_t i = 0; i < narmed; i++)
		nv_uffd_wp_set(nm, armed[i], true);
	free(armed);
	for (uint64_t a = start & ~(NV_PMD - 1); a < end; a += NV_PMD) {
		nregion *r = nv_region_get(nm, a);
		if (!r)
			continue;
		bool covered = a >= start && a + NV_PMD <= end;
		if (r->kind != NV_REGION_PTE) {
			if (covered)
				nv_region_drop(nm, a);
			continue;
		}
		/* no reclaim_pt before 6.14 (CONFIG_PT_RECLAIM is new there) */
		if (end - start < NV_PMD || !covered || !nv_has(nm, NV_PT_RECLAIM))
			continue;
		bool empty = true;
		for (size_t i = 0; i < nm->npages && empty; i++)
			if (nm->pages[i].addr >= a && nm->pages[i].addr < a + NV_PMD)
				empty = false;
		if (empty)
			nv_region_drop(nm, a);
	}
}

/* A large folio of the object (order > 0) that a hole [first, last) cuts
 * in part: it leaves every mapping, then splits buddy-style around the
 * hole's first page in it, and the piece holding the page after the hole
 * again around that page (mm/truncate.c truncate_inode_partial_folio ->
 * try_folio_split_to_order, mm/huge_memory.c non-uniform __folio_split):
 * halving a folio, the half without the page becomes a folio of its own,
 * the other half is halved again, down to the page itself [LIVE:
 * huge-shmem-pmd-split.trace: a 2-page hole in a huge folio leaves folios of
 * 128 and 256 pages that a later fault maps whole]. */
static void split_around(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t page)
{
	unsigned order = nv_cache_order(nm, kind, id, page);
	uint64_t folio = page & ~((1ull << order) - 1);
	while (order > 0) {
		order--;
		uint64_t half = 1ull << order;
		uint64_t other = page < folio + half ? folio + half : folio;
		for (uint64_t i = other; i < other + half; i++)
			nv_cache_set_order(nm, kind, id, i, order);
		if (other == folio)
			folio += half;
	}
	nv_cache_set_order(nm, kind, id, page, 0);
}

static void punch_partial_folio(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index, uint64_t first,
                                uint64_t last)
{
	unsigned order = nv_cache_order(nm, kind, id, index);
	if (!order)
		return;
	uint64_t size = 1ull << order, folio = index & ~(size - 1);
	if (folio >= first && folio + size <= last)
		return; /* wholly in the hole: it simply goes */
	nv_unmap_cache_pages(nm, kind, id, folio, size);
	split_around(nm, kind, id, first > folio ? first : folio);
	if (last < folio + size && nv_cache_order(nm, kind, id, last))
		split_around(nm, kind, id, last);
}

/* MADV_REMOVE: vfs_fallocate(PUNCH_HOLE) on the object. First
 * unmap_mapping_range(even_cows = 0): the hole's pages go from every VMA of
 * the object (not private COW copies, not guard markers), and a PMD mapping
 * a huge folio the hole cuts goes whole (zap_pmd_range -> __split_huge_pmd).
 * Then shmem_undo_range(): the large folios the hole cuts in part are split
 * (punch_partial_folio), and every page in the hole leaves the cache. */
static void punch_hole(naive_mm *nm, const nvma *v, uint64_t start, uint64_t end)
{
	uint64_t first = nv_vma_file_index(v, start), last = nv_vma_file_index(v, end);
	mm_backing kind = v->backing;
	uint32_t id = v->object;
	/* unmap_mapping_range: every process */
	nv_unmap_cache_pages(nm, kind, id, first, last - first);
	punch_partial_folio(nm, kind, id, first, first, last);
	punch_partial_folio(nm, kind, id, last - 1, first, last);
	nv_cache_remove_range(nm, kind, id, first, last);
}

/* MADV_COLD and MADV_PAGEOUT over the large page-cache folios mapped in
 * [start, end) of v (mm/madvise.c madvise_cold_or_pageout_pte_range):
 *  - PMD-mapped: a PMD the range covers only in part splits the folio
 *    (split_folio), which unmaps it from everywhere and leaves small folios;
 *    a whole one: COLD only ages it, PAGEOUT reclaims it -- unmapped from
 *    everywhere (try_to_unmap), kept in the cache since it is dirty and
 *    there is no swap (shmem_writeout redirties it) [LIVE];
 *  - PTE-mapped: from the first page met, the run of PTEs mapping the next
 *    pages of the same folio, up to the range's end or the page table's
 *    (madvise_folio_pte_batch); shorter than the folio: split as above; the
 *    whole folio: as a whole PMD. [LIVE: huge-shmem-pmd-split.trace] */
static void file_folio_advice(naive_mm *nm, const nvma *v, uint64_t start, uint64_t end, int64_t advice)
{
	if (v->backing == MM_BACKING_ANON)
		return;
	uint64_t a = start;
	while (a < end) {
		uint64_t base = a & ~(NV_PMD - 1), next = base + NV_PMD;
		nregion *r = nv_region_get(nm, a);
		if (r && r->kind == NV_REGION_PMD_FILE) {
			uint64_t first = nv_vma_file_index(v, base);
			if (base < start || next > end)
				nv_cache_split_folio(nm, v->backing, v->object, first);
			else if (advice == MM_MADV_PAGEOUT)
				nv_unmap_cache_pages(nm, v->backing, v->object, first, 512);
			a = next;
			continue;
		}
		uint64_t idx = nv_vma_file_index(v, a);
		unsigned order = nv_page_get(nm, a) == MM_PAGE_FILE ? nv_cache_order(nm, v->backing, v->object, idx) : 0;
		if (!order) {
			a += NV_PAGE;
			continue;
		}
		uint64_t size = 1ull << order, folio = idx & ~(size - 1);
		uint64_t stop = end < next ? end : next, n = 0;
		while (a + n * NV_PAGE < stop && idx + n < folio + size && nv_page_get(nm, a + n * NV_PAGE) == MM_PAGE_FILE)
			n++;
		if (n < size) {
			nv_cache_split_folio(nm, v->backing, v->object, idx);
			a += NV_PAGE;
			continue;
		}
		if (advice == MM_MADV_PAGEOUT)
			nv_unmap_cache_pages(nm, v->backing, v->object, folio, size);
		a += n * NV_PAGE;
	}
}

/* mm/khugepaged.c: madvise_collapse() for anonymous VMAs.
 * thp_vma_allowable_order(TVA_FORCED_COLLAPSE) first: the sysfs THP mode
 * does not apply (forced collapse skips the order mask), but the VMA must
 * be able to hold an aligned 2 MiB, must not be VM_NOHUGEPAGE, and must
 * already have an anon_vma (__thp_vma_allowable_orders: without one only
 * smaps and page faults pass) -- else EINVAL with nothing done [LIVE: a
 * never-touched VMA]. Then each aligned 2 MiB block of [start, end) in turn:
 * already PMD-mapped (a THP or the huge zero page) counts as done; no page
 * table at all (pmd none) stops with EINVAL, later blocks untouched [LIVE];
 * a table with a guard marker stops with EINVAL; any other table, even one
 * whose entries are all none, becomes one anonymous THP (collapse_huge_page)
 * [LIVE], also in a read-only VMA [LIVE]. File and shmem VMAs
 * (shmem_enabled=never) are refused with EINVAL. */
/* MADV_COLLAPSE on a shmem or memfd mapping, shared or private (all files
 * of this target are memfds): madvise_collapse() -> hpage_collapse_scan_file()
 * -> collapse_file(), then collapse_pte_mapped_thp(install_pmd). Forced
 * collapse ignores shmem_enabled=never (only `deny` refuses). The VMA needs
 * no anon_vma but must hold an aligned 2 MiB at a file offset that is
 * itself 2 MiB-aligned relative to the address (thp_vma_suitable_order).
 * Each block of [start, end), in order:
 *  - its 512 pages not yet one huge folio: a block whose page cache is
 *    empty stops the call with EINVAL (SCAN_TRUNCATED); otherwise the pages
 *    present are replaced by one dirty huge folio with the holes filled,
 *    every mapping of the old pages (in any VMA of the object) goes -- a
 *    private COW copy is not the cache's and stays;
 *  - then the folio is mapped into this VMA's block: a COW copy there stops
 *    the call with EINVAL (SCAN_FAIL) -- the folio stays huge; a guard
 *    marker (SCAN_PTE_NON_PRESENT) lets the walk go on but the call fails.
 * [LIVE: madvise-collapse-shmem-file.trace] */
static int madvise_collapse_file(naive_mm *nm, nvma *v, uint64_t start, uint64_t end)
{
	if (((v->start / NV_PAGE) - v->pgoff) % 512 != 0)
		return -EINVAL;
	uint64_t hstart = (start + NV_PMD - 1) & ~(NV_PMD - 1), hend = end & ~(NV_PMD - 1);
	uint64_t want = (hend - hstart) / NV_PMD, made = 0; /* wraps as in the anonymous case */
	for (uint64_t h = hstart; h < hend; h += NV_PMD) {
		uint64_t first = nv_vma_file_index(v, h);
		if (!nv_cache_is_huge(nm, v->backing, v->object, first)) {
			bool any = false;
			for (uint64_t i = first; i < first + 512 && !any; i++)
				any = nv_is_cached(nm, v->backing, v->object, i);
			if (!any)
				return -EINVAL;
			for (size_t k = 0; k < nm->nvmas; k++) {
				nvma *w = &nm->vmas[k];
				if (w->backing != v->backing || w->object != v->object)
					continue;
				for (uint64_t a = w->start; a < w->end; a += NV_PAGE) {
					uint64_t idx = nv_vma_file_index(w, a);
					if (idx >= first && idx < first + 512 && nv_page_get(nm, a) == MM_PAGE_FILE)
						nv_page_set(nm, a, MM_PAGE_NONE);
				}
			}
			nv_cache_make_huge(nm, v->backing, v->object, first);
			/* retract_page_tables(): the now empty page table of every
			 * VMA of the object without an anon_vma that maps the block
			 * 2 MiB-aligned goes, so its next fault maps the folio whole */
			for (size_t k = 0; k < nm->nvmas; k++) {
				nvma *w = &nm->vmas[k];
				if (w->backing != v->backing || w->object != v->object || w->anon_vma || first < w->pgoff)
					continue;
				uint64_t wh = w->start + (first - w->pgoff) * NV_PAGE;
				if (wh % NV_PMD != 0 || wh < w->start || wh + NV_PMD > w->end)
					continue;
				nregion *r = nv_region_get(nm, wh);
				bool empty = true;
				for (uint64_t a = wh; a < wh + NV_PMD && empty; a += NV_PAGE)
					empty = nv_page_get(nm, a) == MM_PAGE_NONE;
				if (r && r->kind == NV_REGION_PTE && empty)
					nv_region_drop(nm, wh);
			}
		}
		bool guard = false;
		for (uint64_t a = h; a < h + NV_PMD; a += NV_PAGE) {
			mm_page_state st = nv_page_get(nm, a);
			if (st == MM_PAGE_ANON || st == MM_PAGE_ZERO)
				return -EINVAL;
			guard = guard || st == MM_PAGE_GUARD;
		}
		if (guard)
			continue;
		/* collapse_pte_mapped_thp(install_pmd): the table goes and one
		 * PMD maps the folio */
		for (uint64_t a = h; a < h + NV_PMD; a += NV_PAGE)
			if (nv_page_get(nm, a) == MM_PAGE_NONE)
				nv_page_set(nm, a, MM_PAGE_FILE);
		nv_region_set(nm, h, NV_REGION_PMD_FILE);
		made++;
	}
	return made == want ? 0 : -EINVAL;
}

static int madvise_collapse(naive_mm *nm, nvma *v, uint64_t start, uint64_t end)
{
	uint64_t last = (v->end - NV_PMD) & ~(NV_PMD - 1);
	if ((v->flags & (MM_VM_NOHUGEPAGE | MM_VM_SPECIAL | MM_VM_HUGETLB)) || v->end - v->start < NV_PMD ||
	    last < v->start)
		return -EINVAL;
	if (v->backing != MM_BACKING_ANON) {
		/* shmem_allowable_huge_orders(): shmem_enabled=deny (profile
		 * shmem_thp) gives no order even to a forced collapse */
		if (nm->cfg.shmem_thp == MM_SHMEM_THP_DENY)
			return -EINVAL;
		return madvise_collapse_file(nm, v, start, end);
	}
	if (!v->anon_vma)
		return -EINVAL;
	uint64_t hstart = (start + NV_PMD - 1) & ~(NV_PMD - 1), hend = end & ~(NV_PMD - 1);
	/* The result counts huge pages: 0 when the number made (or found)
	 * equals (hend - hstart) / 2 MiB computed in unsigned longs. A part
	 * of a VMA inside one 2 MiB block that does not reach the block's
	 * end has hend < hstart: the wanted count wraps, none is made, and
	 * the VMA's answer is EINVAL -- the walk stops there, before a later
	 * hole's ENOMEM [LIVE: madvise-collapse-errno.trace]. */
	uint64_t want = (hend - hstart) / NV_PMD, made = 0;
	for (uint64_t h = hstart; h < hend; h += NV_PMD) {
		nregion *r = nv_region_get(nm, h);
		if (!r)
			return -EINVAL;
		if (r->kind != NV_REGION_PTE) {
			made++;
			continue;
		}
		/* hpage_collapse_scan_pmd() in page order: with the userfaultfd
		 * armed (any mode) an empty or zero page is EBUSY; a uffd-wp
		 * marker or protected page is EINVAL (SCAN_PTE_UFFD_WP) */
		for (uint64_t a = h; a < h + NV_PMD; a += NV_PAGE) {
			mm_page_state st = nv_page_get(nm, a);
			if (nv_uffd_wp_marker(nm, a))
				return -EINVAL;
			if (st == MM_PAGE_GUARD)
				continue;
			if (st == MM_PAGE_NONE || st == MM_PAGE_ZERO) {
				if (v->flags & MM_VM_UFFD_FLAGS)
					return -EBUSY;
				continue;
			}
			if (nv_uffd_wp_get(nm, a))
				return -EINVAL;
		}
		for (uint64_t a = h; a < h + NV_PMD; a += NV_PAGE)
			if (nv_page_get(nm, a) == MM_PAGE_GUARD)
				return -EINVAL;
		/* 6.1/6.12 hpage_collapse_scan_pmd(): a table without one
		 * writable mapped page (holes, zero pages, read-only PTEs only)
		 * is SCAN_PAGE_RO -- the block stays, the next ones go on, and
		 * the answer is EINVAL */
		if (!nv_has(nm, NV_COLLAPSE_WITHOUT_WRITABLE)) {
			bool writable = false;
			for (uint64_t a = h; a < h + NV_PMD && !writable; a += NV_PAGE)
				writable = (v->flags & MM_VM_WRITE) && nv_page_get(nm, a) == MM_PAGE_ANON;
			if (!writable)
				continue;
		}
		made++;
		/* collapse_huge_page(): a new THP holding what the small
		 * pages held (an anonymous page keeps its data; the zero page
		 * and holes read zero) */
		for (uint64_t a = h; a < h + NV_PMD; a += NV_PAGE) {
			npage *p = nv_page_find(nm, a);
			if (p && p->state == MM_PAGE_ANON) {
				/* the new folio is neither lazily freed nor mlocked
				 * (an mlocked page left by MREMAP_DONTUNMAP is not
				 * carried over) [LIVE: collapse-mlocked-pages.trace] */
				p->lazyfree = false;
				p->mlocked = false;
				continue;
			}
			nv_page_set(nm, a, MM_PAGE_NONE);
			nv_page_set(nm, a, MM_PAGE_ANON);
		}
		nv_pages_make_thp(nm, h);
		nv_region_set(nm, h, NV_REGION_PMD_ANON);
	}
	return made == want ? 0 : -EINVAL;
}

/* madvise_update_vma(): flag advice on [start, end) of v. *iter_end is the
 * end of the VMA that now holds the range. */
static int update_vma(naive_mm *nm, nvma *v, uint64_t start, uint64_t end, uint64_t newflags,
                      uint64_t *iter_end)
{
	if (newflags == v->flags) {
		*iter_end = v->end;
		return 0;
	}
	nvma *r;
	int err = nv_modify_flags(nm, v, start, end, newflags, &r);
	if (err)
		return err == -ENOMEM ? -EAGAIN : err;
	*iter_end = r->end;
	return 0;
}

/* COLD and PAGEOUT over [s, e) past the THP rules: large page-cache
 * folios, then (PAGEOUT) the small pages. */
static void cold_pageout_part(naive_mm *nm, const nvma *v, uint64_t s, uint64_t e, int64_t advice)
{
	file_folio_advice(nm, v, s, e, advice);
	if (advice == MM_MADV_PAGEOUT) /* COLD only ages: nothing else visible */
		pageout_range(nm, v, s, e);
}

/* FREE over [s, e) past the THP rules: the small anonymous pages become
 * lazily freeable. */
static void free_part(naive_mm *nm, const nvma *v, uint64_t s, uint64_t e, int64_t advice)
{
	(void)v;
	(void)advice;
	for (uint64_t a = s; a < e; a += NV_PAGE) {
		nregion *r = nv_region_get(nm, a);
		npage *p = nv_page_find(nm, a);
		if (p && p->state == MM_PAGE_ANON && !p->thp && !p->mlocked && (!r || r->kind == NV_REGION_PTE))
			nv_page_set_lazyfree(nm, a, true);
	}
}

/* madvise_vma_behavior() for [start, end) of v. */
static int madvise_vma_behavior(naive_mm *nm, nvma *v, uint64_t start, uint64_t end, int64_t advice,
                                uint64_t *iter_end)
{
	*iter_end = end;
	if (!can_madvise_modify(v, advice))
		return -EPERM;
	uint64_t nf = v->flags;
	switch (advice) {
	case MM_MADV_REMOVE:
		if (v->flags & MM_VM_LOCKED)
			return -EINVAL;
		if (v->backing == MM_BACKING_ANON)
			return -EINVAL;
		if ((v->flags & (MM_VM_SHARED | MM_VM_MAYWRITE)) != (MM_VM_SHARED | MM_VM_MAYWRITE))
			return -EACCES;
		punch_hole(nm, v, start, end);
		return 0;
	case MM_MADV_WILLNEED:
		return 0; /* swap-in / shmem swap-in: nothing to do without swap */
	case MM_MADV_COLD:
	case MM_MADV_PAGEOUT:
		/* can_madv_lru_vma() */
		if (v->flags & (MM_VM_LOCKED | MM_VM_PFNMAP | MM_VM_HUGETLB))
			return -EINVAL;
		thp_advice(nm, v, start, end, advice);
		advised_parts(nm, v, start, end, advice, cold_pageout_part);
		return 0;
	case MM_MADV_DONTNEED:
	case MM_MADV_DONTNEED_LOCKED:
	case MM_MADV_FREE: {
		/* madvise_dontneed_free_valid_vma() */
		uint64_t forbidden = MM_VM_PFNMAP | (advice != MM_MADV_DONTNEED_LOCKED ? MM_VM_LOCKED : 0);
		if (v->flags & forbidden)
			return -EINVAL;
		if (advice == MM_MADV_FREE) {
			/* madvise_free_single_vma(): anonymous only; the pages become
			 * lazy-free (clean, not swap-backed) but stay mapped until
			 * reclaim -- MADV_PAGEOUT here. THPs: thp_advice(). */
			if (v->backing != MM_BACKING_ANON)
				return -EINVAL;
			thp_advice(nm, v, start, end, advice);
			advised_parts(nm, v, start, end, advice, free_part);
			return 0;
		}
		zap_range(nm, start, end);
		return 0;
	}
	case MM_MADV_COLLAPSE:
		return madvise_collapse(nm, v, start, end);
	case MM_MADV_GUARD_INSTALL:
		/* madvise_guard_install(): is_valid_guard_vma(allow_locked=false) */
		if (v->flags & (MM_VM_SPECIAL | MM_VM_HUGETLB | MM_VM_LOCKED))
			return -EINVAL;
		if (nm->cfg.guard_flag) /* profile guard_flag: the whole VMA, no split */
			v->flags |= MM_VM_MAYBE_GUARD;
		if (v->backing == MM_BACKING_ANON)
			nv_anon_vma_prepare(nm, v);
		nv_regions_split_partial(nm, start, end);
		for (uint64_t a = start; a < end; a += NV_PAGE) {
			nv_page_set(nm, a, MM_PAGE_GUARD);
			if (!nv_region_get(nm, a) || nv_region_get(nm, a)->kind != NV_REGION_PTE)
				nv_region_set(nm, a, NV_REGION_PTE);
		}
		return 0;
	case MM_MADV_GUARD_REMOVE:
		if (v->flags & (MM_VM_SPECIAL | MM_VM_HUGETLB))
			return -EINVAL;
		for (uint64_t a = start; a < end; a += NV_PAGE)
			if (nv_page_get(nm, a) == MM_PAGE_GUARD)
				nv_page_set(nm, a, MM_PAGE_NONE);
		return 0;
	case MM_MADV_NORMAL:
		nf &= ~(MM_VM_RAND_READ | MM_VM_SEQ_READ);
		break;
	case MM_MADV_SEQUENTIAL:
		nf = (nf & ~MM_VM_RAND_READ) | MM_VM_SEQ_READ;
		break;
	case MM_MADV_RANDOM:
		nf = (nf & ~MM_VM_SEQ_READ) | MM_VM_RAND_READ;
		break;
	case MM_MADV_DONTFORK:
		nf |= MM_VM_DONTCOPY;
		break;
	case MM_MADV_DOFORK:
		if (nf & MM_VM_IO)
			return -EINVAL;
		nf &= ~MM_VM_DONTCOPY;
		break;
	case MM_MADV_WIPEONFORK:
		if (v->backing != MM_BACKING_ANON || (nf & MM_VM_SHARED))
			return -EINVAL;
		nf |= MM_VM_WIPEONFORK;
		break;
	case MM_MADV_KEEPONFORK:
		if (nf & MM_VM_DROPPABLE)
			return -EINVAL;
		nf &= ~MM_VM_WIPEONFORK;
		break;
	case MM_MADV_DONTDUMP:
		nf |= MM_VM_DONTDUMP;
		break;
	case MM_MADV_DODUMP:
		if ((nf & MM_VM_SPECIAL) || (nf & MM_VM_DROPPABLE))
			return -EINVAL;
		nf &= ~MM_VM_DONTDUMP;
		break;
	case MM_MADV_MERGEABLE:
		/* ksm_madvise(): silently ignored where vma_ksm_compatible() fails */
		if (!(nf & (MM_VM_SHARED | MM_VM_MAYSHARE | MM_VM_PFNMAP | MM_VM_IO | MM_VM_DONTEXPAND |
		            MM_VM_HUGETLB | MM_VM_DROPPABLE)))
			nf |= MM_VM_MERGEABLE;
		break;
	case MM_MADV_UNMERGEABLE:
		nf &= ~MM_VM_MERGEABLE;
		break;
	case MM_MADV_HUGEPAGE:
		nf = (nf & ~MM_VM_NOHUGEPAGE) | MM_VM_HUGEPAGE;
		break;
	case MM_MADV_NOHUGEPAGE:
		nf = (nf & ~MM_VM_HUGEPAGE) | MM_VM_NOHUGEPAGE;
		break;
	default:
		return -EINVAL;
	}
	return update_vma(nm, v, start, end, nf, iter_end);
}

/* madvise_populate(): fault in [start, end) page by page like GUP with
 * FOLL_MADV_POPULATE: no VMA → ENOMEM, incompatible VMA → EINVAL, a fault
 * that signals (guard marker, beyond EOF) → EFAULT. */
static int madvise_populate(naive_mm *nm, uint64_t start, uint64_t end, bool write)
{
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		nvma *v = nv_vma_at(nm, a);
		if (!v)
			return -ENOMEM;
		/* check_vma_flags() without FOLL_FORCE */
		if (write ? !(v->flags & MM_VM_WRITE) : !(v->flags & MM_VM_READ))
			return -EINVAL;
		if (!nv_key_allows_data(v))
			return -EFAULT; /* arch_vma_access_permitted() */
		mm_page_state st = nv_page_get(nm, a);
		bool present = (v->flags & MM_VM_ACCESS_FLAGS) && st != MM_PAGE_NONE && st != MM_PAGE_GUARD;
		bool writable = (v->flags & MM_VM_WRITE) && ((v->flags & MM_VM_SHARED) || st == MM_PAGE_ANON);
		/* a page the userfaultfd write-protects is not writable: the
		 * fault goes to handle_userfault(), SIGBUS for GUP */
		if ((v->flags & MM_VM_UFFD_WP) && nv_uffd_wp_get(nm, a))
			writable = false;
		if (present && (!write || writable)) {
			/* follow_page_pte(): FOLL_TOUCH|FOLL_WRITE dirties the page */
			if (write && st == MM_PAGE_ANON)
				nv_page_set_lazyfree(nm, a, false);
			if (write && st == MM_PAGE_FILE)
				nv_cache_mark_dirty(nm, v, a);
			continue;
		}
		if (nv_handle_fault(nm, v, a, write) != NV_FAULT_OK)
			return -EFAULT;
		/* __get_user_pages() retries: still protected (a uffd-wp marker's
		 * page) is handle_userfault(), SIGBUS for GUP */
		if (write && (v->flags & MM_VM_UFFD_WP) && nv_uffd_wp_get(nm, a))
			return -EFAULT;
	}
	return 0;
}

int naive_madvise(naive_mm *nm, uint64_t start, uint64_t len_in, int64_t advice)
{
	/* do_madvise() → madvise_checks */
	if (!madvise_behavior_valid(advice))
		return -EINVAL;
	if ((advice == MM_MADV_GUARD_INSTALL || advice == MM_MADV_GUARD_REMOVE) && !nv_has(nm, NV_GUARD_REGIONS))
		return -EINVAL;
	if (start & ~NV_PAGE_MASK)
		return -EINVAL;
	uint64_t len = nv_page_align(len_in);
	if (len_in && !len)
		return -EINVAL;
	uint64_t end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;

	/* 6.9, 631426ba1d45: populate no longer goes through madvise_walk_vmas. */
	bool populate = advice == MM_MADV_POPULATE_READ || advice == MM_MADV_POPULATE_WRITE;
	if (populate && nv_has(nm, NV_POPULATE_STOPS_AT_HOLE))
		return madvise_populate(nm, start, end, advice == MM_MADV_POPULATE_WRITE);

	/* madvise_walk_vmas(): every mapped piece is advised; a hole makes the
	 * result ENOMEM at the end; a per-VMA error stops the walk at once. */
	int unmapped_error = 0;
	uint64_t cur = start;
	for (;;) {
		nvma *v = nv_find_vma(nm, cur);
		if (!v)
			return -ENOMEM;
		if (cur < v->start) {
			unmapped_error = -ENOMEM;
			cur = v->start;
			if (cur >= end)
				break;
		}
		uint64_t tmp = v->end < end ? v->end : end;
		uint64_t iter_end = tmp;
		int err = populate ? madvise_populate(nm, cur, tmp, advice == MM_MADV_POPULATE_WRITE)
		                   : madvise_vma_behavior(nm, v, cur, tmp, advice, &iter_end);
		if (err)
			return err;
		/* start = tmp, or the end of prev when the piece merged forward */
		cur = iter_end > tmp ? iter_end : tmp;
		if (cur >= end)
			break;
	}
	return unmapped_error;
}

/* ---- mlock / munlock ------------------------------------------------------------ */

/* mlock_fixup() */
static int mlock_fixup(naive_mm *nm, nvma *v, uint64_t start, uint64_t end, uint64_t newflags, uint64_t *iter_end)
{
	*iter_end = v->end;
	/* vma_supports_mlock(): VM_SPECIAL and VM_DROPPABLE are skipped silently */
	if (newflags == v->flags || (v->flags & (MM_VM_SPECIAL | MM_VM_DROPPABLE)) || (v->flags & MM_VM_HUGETLB))
		return 0;
	uint64_t oldflags = v->flags;
	nvma *r;
	int err = nv_modify_flags(nm, v, start, end, newflags, &r);
	if (err)
		return err;
	*iter_end = r->end;
	/* "Keep track of amount of locked VM": + the range when it becomes
	 * locked, - when it is unlocked, nothing for LOCKED -> LOCKED|ONFAULT */
	if (!(newflags & MM_VM_LOCKED)) {
		nm->locked_vm -= nv_pages(end - start);
		/* munlock_vma_pages_range(): the pages are munlocked */
		for (uint64_t a = start; a < end; a += NV_PAGE) {
			npage *p = nv_page_find(nm, a);
			if (p)
				p->mlocked = false;
			if (p && p->state == MM_PAGE_FILE)
				nv_cache_set_mlocked(nm, nv_vma_at(nm, a), a, false);
		}
	}
	else if (!(oldflags & MM_VM_LOCKED))
		nm->locked_vm += nv_pages(end - start);
	return 0;
}

/* apply_vma_lock_flags(): like mprotect, earlier VMAs keep their change. */
static int apply_vma_lock_flags(naive_mm *nm, uint64_t start, uint64_t len, uint64_t lockflags)
{
	uint64_t end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	nvma *v = nv_vma_at(nm, start);
	if (!v)
		return -ENOMEM;
	uint64_t nstart = start, tmp = v->start;
	for (;;) {
		v = nv_find_vma(nm, nstart);
		if (!v || v->start >= end)
			break;
		if (v->start != tmp)
			return -ENOMEM;
		uint64_t newflags = (v->flags & ~MM_VM_LOCKED_MASK) | lockflags;
		tmp = v->end < end ? v->end : end;
		uint64_t iter_end;
		int err = mlock_fixup(nm, v, nstart, tmp, newflags, &iter_end);
		if (err)
			return err;
		tmp = iter_end;
		nstart = tmp;
		if (nstart >= end)
			break;
	}
	return tmp < end ? -ENOMEM : 0;
}

/* mm/mlock.c: count_mm_mlocked_page_nr(): the pages of [start, start+len)
 * that VM_LOCKED VMAs already cover. */
static uint64_t mlocked_pages_in(const naive_mm *nm, uint64_t start, uint64_t len)
{
	uint64_t end = start + len, count = 0;
	for (size_t i = 0; i < nm->nvmas; i++) {
		const nvma *v = &nm->vmas[i];
		if (!(v->flags & MM_VM_LOCKED) || v->end <= start || v->start >= end)
			continue;
		uint64_t lo = v->start > start ? v->start : start;
		uint64_t hi = v->end < end ? v->end : end;
		count += nv_pages(hi - lo);
	}
	return count;
}

/* do_mlock(): the whole range counts, plus locked_vm; only when that passes
 * RLIMIT_MEMLOCK are the pages already locked in the range taken off
 * again. Without CAP_IPC_LOCK, more than the limit is ENOMEM [LIVE]. */
static bool mlock_within_limit(const naive_mm *nm, uint64_t start, uint64_t len)
{
	if (nv_capable_ipc_lock(nm))
		return true;
	uint64_t locked = nv_pages(len) + nm->locked_vm;
	uint64_t limit = nv_memlock_pages(nm);
	if (locked > limit)
		locked -= mlocked_pages_in(nm, start, len);
	return locked <= limit;
}

int naive_mlock2(naive_mm *nm, uint64_t start, uint64_t len, uint64_t flags)
{
	if (flags & ~(uint64_t)MM_MLOCK_ONFAULT)
		return -EINVAL;
	uint64_t lockflags = MM_VM_LOCKED | (flags & MM_MLOCK_ONFAULT ? MM_VM_LOCKONFAULT : 0);
	/* do_mlock(): can_do_mlock() first (memlock 0 without CAP_IPC_LOCK:
	 * EPERM [LIVE]); an unaligned start is rounded */
	if (!nv_can_do_mlock(nm))
		return -EPERM;
	len = nv_page_align(len + (start & ~NV_PAGE_MASK));
	start &= NV_PAGE_MASK;
	if (!mlock_within_limit(nm, start, len))
		return -ENOMEM;
	int err = apply_vma_lock_flags(nm, start, len, lockflags);
	if (err)
		return err;
	err = nv_mm_populate(nm, start, len, false);
	if (err) /* __mlock_posix_error_return() */
		return err == -EFAULT ? -ENOMEM : err == -ENOMEM ? -EAGAIN : err;
	return 0;
}

int naive_munlock(naive_mm *nm, uint64_t start, uint64_t len)
{
	len = nv_page_align(len + (start & ~NV_PAGE_MASK));
	start &= NV_PAGE_MASK;
	return apply_vma_lock_flags(nm, start, len, 0);
}

/* ---- mseal ------------------------------------------------------------------------ */

int naive_mseal(naive_mm *nm, uint64_t start, uint64_t len_in, uint64_t flags)
{
	if (!nv_has(nm, NV_MSEAL))
		return -ENOSYS; /* no such system call */
	if (flags)
		return -EINVAL;
	if (start & ~NV_PAGE_MASK)
		return -EINVAL;
	uint64_t len = nv_page_align(len_in);
	if (len_in && !len)
		return -EINVAL;
	uint64_t end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	/* range_contains_unmapped(): checked before anything changes */
	uint64_t prev_end = start;
	for (size_t i = 0; i < nm->nvmas; i++) {
		nvma *v = &nm->vmas[i];
		if (v->end <= start || v->start >= end)
			continue;
		if (v->start > prev_end)
			return -ENOMEM;
		prev_end = v->end;
	}
	if (prev_end < end)
		return -ENOMEM;
	/* mseal_apply() */
	uint64_t cur = start;
	while (cur < end) {
		nvma *v = nv_vma_at(nm, cur);
		uint64_t curr_end = v->end < end ? v->end : end;
		uint64_t next = curr_end;
		if (!(v->flags & MM_VM_SEALED)) {
			nvma *r;
			int err = nv_modify_flags(nm, v, cur, curr_end, v->flags | MM_VM_SEALED, &r);
			if (err)
				return err;
			next = r->end > curr_end ? r->end : curr_end;
		}
		cur = next;
	}
	return 0;
}

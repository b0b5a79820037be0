/* What madvise and khugepaged do to folios, on top of the page tables
 * (pgtable.c) and frames (frames.c): MADV_FREE, MADV_COLD and MADV_PAGEOUT
 * over THPs and small pages (the split of a THP covered in part, reclaim
 * without swap), MADV_COLLAPSE of anonymous and shmem memory, PG_mlocked,
 * and the huge page-cache folios a collapse makes (mapped at fault time).
 */
#include "contents.h"
#include "frames.h"
#include "pagecache.h"
#include "pagepolicy.h"
#include "pgtable.h"

/* The data frame a present 4 KiB entry maps, or NULL. */
static struct frame *pte_frame(mm_state *mm, uint64_t wi)
{
	return fr_get(mm->pt, lx_pfn(W(mm)[wi], PG_PFN_MASK));
}

/* The head pfn of the large (not split) anonymous folio -- a THP -- that
 * pfn belongs to, or 0. */
static uint64_t large_anon_head(const struct page_tables *pt, uint64_t pfn)
{
	const struct frame *f = fr_get(pt, pfn);
	if (!f || f->kind != FR_ANON || !f->in_block)
		return 0;
	uint64_t base = (pfn - PG_DATA_PFN_BASE) & ~(uint64_t)(PMD_PAGES - 1);
	return pt->fm[base].split ? 0 : PG_DATA_PFN_BASE + base;
}

/* folio_maybe_mapped_shared(): a THP that another process maps too (after
 * a fork) is left alone by MADV_FREE (madvise_free_huge_pmd), MADV_COLD and
 * MADV_PAGEOUT (madvise_cold_or_pageout_pte_range). Approximated by the
 * frames' map counts: a subpage mapped more than once. Fork traces are made
 * without THPs; this keeps the split below to folios of one process. */
static bool thp_shared(mm_state *mm, uint64_t head)
{
	for (unsigned i = 0; i < PMD_PAGES; i++)
		if (fr_get(mm->pt, head + i)->mapcount > 1)
			return true;
	return false;
}

/* mm/huge_memory.c __folio_split() of the anonymous THP at head (no fork:
 * every page is mapped by this mm alone) into order-0 folios: unmap_folio()
 * turns every mapping into migration entries (a PMD mapping is split into
 * PTEs first), and remap_page(RMP_USE_SHARED_ZEROPAGE) puts them back, where
 * mm/migrate.c try_to_map_unused_to_zeropage() maps every subpage that holds
 * only zeroes to the shared zero page instead -- all of them here, since a
 * store writes a zero byte -- except in a VM_LOCKED VMA (or an mlocked
 * folio, which lies wholly in one). It does so whatever the zero_page
 * profile key [LIVE: pvm_no_zero_page=1 shows them `zero`]. The subpage
 * frames are freed as their last mapping goes. */
struct folio_split {
	uint64_t head;
	uint64_t left; /* mappings of its pages not met yet */
	const struct vma *v;
	bool dropped; /* no memory for a page table: the PMD mapping was dropped */
};

static uint64_t split_folio_pmd(mm_state *mm, uint64_t va, uint64_t wi, void *ctx)
{
	struct folio_split *fs = ctx;
	uint64_t e = W(mm)[wi];
	if (!lx_pmd_huge(e) || lx_pfn(e, PG_PMD_PFN_MASK) != fs->head)
		return pg_pmd_end(va);
	if (pg_split_huge_pmd(mm, wi)) {
		pg_set_entry(mm, wi, 2, 0); /* no table: drop it */
		fs->dropped = true;
		return UINT64_MAX;
	}
	return va; /* look again at the PTEs */
}

static uint64_t split_folio_ptes(mm_state *mm, uint64_t va, uint64_t wi, uint64_t stop, void *ctx)
{
	struct folio_split *fs = ctx;
	struct page_tables *pt = mm->pt;
	const struct vma *v = fs->v;
	for (; va < stop && fs->left; va += PAGE_SIZE, wi++) {
		uint64_t e = W(mm)[wi];
		if (!lx_present(e))
			continue;
		uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
		if (pfn < fs->head || pfn >= fs->head + PMD_PAGES)
			continue;
		fs->left--;
		/* Since 6.12 ("mm: remap unused subpages to shared zeropage
		 * when splitting isolated thp"); before it every subpage
		 * stays an anonymous page. */
		if ((v->vm_flags & MM_VM_LOCKED) || !mm_kernel_at_least(mm, 612))
			continue;
		/* nor in an mlocked folio (folio_test_mlocked()): PG_mlocked
		 * outlives VM_LOCKED after an MREMAP_DONTUNMAP [LIVE:
		 * madvise-cold-split-mlocked-thp.trace] */
		if (fr_get(pt, pfn)->mlocked)
			continue;
		/* try_to_map_unused_to_zeropage(): only a subpage that holds
		 * nothing but zeroes (contents.c). */
		if (!ct_is_zero(mm, pfn))
			continue;
		/* pte_mkspecial(pfn_pte(zero, vma->vm_page_prot)), and
		 * pte_mkuffd_wp() when the migration entry had the bit
		 * (pte_swp_uffd_wp) [LIVE: a wp-protected subpage stays
		 * protected on the zero page] */
		uint64_t z = pg_mk_entry(pt->zero_pfn, pg_vm_page_prot(v->vm_flags) | LX_PAGE_SPECIAL, PG_PFN_MASK);
		pg_set_entry(mm, wi, 1, (e & LX_PAGE_UFFD_WP) ? lx_mkuffd_wp(z) : z);
	}
	return fs->left ? stop : UINT64_MAX;
}

static void split_anon_folio(mm_state *mm, uint64_t head)
{
	struct page_tables *pt = mm->pt;
	uint64_t base = head - PG_DATA_PFN_BASE;
	struct folio_split fs = {.head = head};
	for (unsigned i = 0; i < PMD_PAGES; i++)
		fs.left += pt->fm[base + i].mapcount;
	const struct pg_walker walker = {split_folio_pmd, split_folio_ptes, &fs};
	for (const struct vma *v = vt_first(&mm->vt); v && fs.left; v = v->node.next) {
		if (v->obj)
			continue;
		fs.v = v;
		pg_walk(mm, v->vm_start, v->vm_end, &walker);
		if (fs.dropped)
			return;
	}
	/* The order-0 folios keep the large one's flags: pages of a lazily
	 * freed THP stay lazily freed (a written subpage that stays mapped is
	 * then dropped by reclaim if clean) [LIVE: thp-free-partial-pageout]. */
	pt->fm[base].split = 1;
}

/* mm/madvise.c madvise_folio_pte_batch() (folio_pte_batch): how many PTEs
 * from wi on map the next pages of the same folio, up to stop (the walk's
 * end within this page table); the A, D and RW bits may differ. */
static unsigned folio_pte_batch(mm_state *mm, uint64_t wi, uint64_t va, uint64_t stop, uint64_t head)
{
	uint64_t e0 = W(mm)[wi];
	uint64_t pfn0 = lx_pfn(e0, PG_PFN_MASK);
	const uint64_t ignore = X86_A | X86_D | X86_RW;
	unsigned n = 0;
	for (; va < stop && pfn0 + n < head + PMD_PAGES; va += PAGE_SIZE, n++) {
		uint64_t e = W(mm)[wi + n];
		if (!lx_present(e) || lx_pfn(e, PG_PFN_MASK) != pfn0 + n ||
		    ((e ^ e0) & ~ignore & ~PG_PFN_MASK))
			break;
	}
	return n;
}

/* mm/vmscan.c shrink_folio_list() for the whole anonymous THP at head,
 * isolated by MADV_PAGEOUT: a folio that is not swap-backed (MADV_FREE'd
 * or droppable) is discarded if no mapping dirtied it since -- a droppable
 * one even then -- by try_to_unmap_one() (unmap_huge_pmd_locked for a PMD
 * mapping, a batch of PTEs otherwise); a redirtied one becomes swap-backed
 * again and stays [LIVE]. A swap-backed one finds no swap (none here):
 * folio_alloc_swap() fails and split_folio_to_list() splits it, mapping its
 * zero-filled pages to the zero page [LIVE]. */
static void reclaim_anon_folio(mm_state *mm, const struct vma *v, uint64_t head, uint64_t wi, unsigned level)
{
	struct page_tables *pt = mm->pt;
	uint64_t base = head - PG_DATA_PFN_BASE;
	bool droppable = v->vm_flags & MM_VM_DROPPABLE;
	if (pt->fm[base].mlocked) /* !folio_evictable(): activate_locked */
		return;
	if (!pt->fm[base].lazyfree && !droppable) {
		split_anon_folio(mm, head);
		return;
	}
	bool dirty = false;
	unsigned n = level == 2 ? 1 : PMD_PAGES;
	for (unsigned i = 0; i < n; i++)
		dirty |= (W(mm)[wi + i] & X86_D) != 0;
	if (dirty && !droppable) {
		/* Before 6.15 try_to_unmap_one() takes a PTE-mapped folio one
		 * PTE at a time, in address order: each clean one is discarded
		 * while the folio is not dirty yet, and the first dirty PTE
		 * dirties the folio, is put back, and ends it (Debian 6.12.118
		 * mm/rmap.c, "MADV_FREE page check"). The pages before it stay
		 * unmapped [LIVE: versions/minimal/free-whole-pte-thp-redirty].
		 * 6.15, 354dffd29575 "mm: support batched unmap for lazyfree
		 * large folios during reclamation": the batch's dirty bits are
		 * looked at together (above). */
		if (level == 1 && !mm_kernel_at_least(mm, 615))
			for (unsigned i = 0; i < PMD_PAGES && !(W(mm)[wi + i] & X86_D); i++)
				pg_set_entry(mm, wi + i, 1, 0);
		for (unsigned i = 0; i < PMD_PAGES; i++)
			pt->fm[base + i].lazyfree = 0;
		return;
	}
	/* A PMD mapping is split first (try_to_unmap_one with
	 * TTU_SPLIT_HUGE_PMD: the folio is isolated, so the discard of the
	 * whole PMD does not apply): the page table stays, emptied, and a
	 * later fault there maps 4 KiB pages [LIVE: free-thp-then-pageout]. */
	if (level == 2) {
		if (pg_split_huge_pmd(mm, wi)) {
			pg_set_entry(mm, wi, 2, 0); /* no table: drop it whole */
			return;
		}
		wi = lx_table_pfn(W(mm)[wi]) * PT_ENTRIES; /* the new table's first entry */
		n = PMD_PAGES;
		level = 1;
	}
	for (unsigned i = 0; i < n; i++)
		pg_set_entry(mm, wi + i, level, 0);
}

static void mark_lazyfree_one(mm_state *mm, uint64_t wi, uint64_t va, void *ctx)
{
	(void)va;
	(void)ctx;
	struct frame *f = pte_frame(mm, wi);
	/* madvise_free_pte_range(): an order-0 folio is marked whoever else
	 * maps it (a fork's other process): only a PG_dirty or swap-cache one
	 * must be exclusive, and neither exists here. Only this entry is
	 * cleaned, so reclaim keeps the folio while another's is dirty. */
	if (!f || f->kind != FR_ANON || f->mlocked)
		return;
	f->lazyfree = 1;
	W(mm)[wi] &= ~(uint64_t)(X86_D | X86_A);
}

static void pageout_one(mm_state *mm, uint64_t wi, uint64_t va, void *ctx)
{
	const struct vma *v = ctx;
	uint64_t e = W(mm)[wi];
	struct frame *f = pte_frame(mm, wi);
	if (!f || f->mapcount != 1 || f->mlocked) /* an mlocked folio is not evictable */
		return;
	if (f->kind == FR_ANON) {
		/* try_to_unmap_one(): a folio that is not swap-backed
		 * (droppable, or MADV_FREE'd) is discarded if clean -- a
		 * droppable one even when dirty. The rest needs swap. */
		if ((v->vm_flags & MM_VM_DROPPABLE) || (f->lazyfree && !(e & X86_D)))
			pg_set_entry(mm, wi, 1, 0);
		return;
	}
	if (f->kind != FR_CACHE)
		return;
	pg_set_entry(mm, wi, 1, 0);
	if (!f->dirty && v->obj)
		pc_drop(mm, v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT));
}

/* split_folio() of the large page-cache folio holding pgoff
 * (mm/huge_memory.c __folio_split): unmap_folio() unmaps it from everywhere
 * (a file folio is not remapped afterwards), then it is small folios. */
static void split_cache_folio(mm_state *mm, struct mm_object *obj, uint64_t pgoff)
{
	uint64_t first, npages;
	if (!pp_cache_folio(mm, obj, pgoff, &first, &npages))
		return;
	pg_unmap_cache_pages(mm, obj, first, first + npages);
	pc_unmark(obj->cache, pgoff);
}

enum thp_walk { WALK_FREE, WALK_COLD, WALK_PAGEOUT };

/* The walk of MADV_FREE (mm/madvise.c madvise_free_pte_range, with
 * mm/huge_memory.c madvise_free_huge_pmd for a PMD mapping) and of
 * MADV_COLD / MADV_PAGEOUT (madvise_cold_or_pageout_pte_range) over
 * [start, end) of v. A THP -- PMD-mapped, or PTE-mapped after a PMD split
 * (partial munmap/mprotect/mremap/DONTNEED leave the folio whole) -- that
 * the range covers only in part (the PTE batch from the first page met is
 * shorter than the folio) is split (split_folio: zero pages, see
 * split_anon_folio) and the walk looks at the same address again. A whole
 * one: FREE marks it lazily freeable (clean), COLD only deactivates it,
 * PAGEOUT reclaims it (reclaim_anon_folio). The huge zero page is skipped.
 * Order-0 pages as before: FREE marks anonymous ones, PAGEOUT reclaims. */
struct thp_walk_ctx {
	const struct vma *v;
	uint64_t start, end;
	enum thp_walk how;
};

static uint64_t thp_walk_pmd(mm_state *mm, uint64_t va, uint64_t wi, void *ctx)
{
	const struct thp_walk_ctx *c = ctx;
	const struct vma *v = c->v;
	enum thp_walk how = c->how;
	uint64_t e = W(mm)[wi];
	const struct frame *hf = fr_get(mm->pt, lx_pfn(e, PG_PMD_PFN_MASK));
	if (hf && hf->kind == FR_CACHE && v->obj) {
		/* A PMD-mapped huge page-cache folio: covered in part,
		 * split_folio() (unmapped from everywhere); whole, PAGEOUT
		 * reclaims it -- try_to_unmap from everywhere, then, dirty
		 * with no swap (shmem_writeout redirties), it stays cached
		 * [LIVE] */
		uint64_t hs = va & ~(MM_PMD_SIZE - 1);
		uint64_t pg = v->vm_pgoff + ((hs - v->vm_start) >> PAGE_SHIFT);
		if (hs < c->start || hs + MM_PMD_SIZE > c->end)
			split_cache_folio(mm, v->obj, pg);
		else if (how == WALK_PAGEOUT)
			pg_unmap_cache_pages(mm, v->obj, pg, pg + PMD_PAGES);
		return pg_pmd_end(va);
	}
	uint64_t head = lx_pmd_huge(e) ? large_anon_head(mm->pt, lx_pfn(e, PG_PMD_PFN_MASK)) : 0;
	if (!head || thp_shared(mm, head)) /* the huge zero page; a THP another process maps */
		return pg_pmd_end(va);
	uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
	if (hstart < c->start || hstart + MM_PMD_SIZE > c->end) {
		split_anon_folio(mm, head);
		return va; /* look again at the PTEs */
	}
	if (how == WALK_FREE && !fr_get(mm->pt, head)->mlocked) {
		for (unsigned i = 0; i < PMD_PAGES; i++)
			fr_get(mm->pt, head + i)->lazyfree = 1;
		W(mm)[wi] &= ~(uint64_t)(X86_D | X86_A);
	} else if (how == WALK_PAGEOUT) {
		reclaim_anon_folio(mm, v, head, wi, 2);
	}
	return pg_pmd_end(va);
}

static uint64_t thp_walk_ptes(mm_state *mm, uint64_t va, uint64_t wi, uint64_t stop, void *ctx)
{
	const struct thp_walk_ctx *c = ctx;
	const struct vma *v = c->v;
	enum thp_walk how = c->how;
	while (va < stop) {
		uint64_t e = W(mm)[wi];
		if (!lx_present(e)) {
			va += PAGE_SIZE;
			wi++;
			continue;
		}
		uint64_t head = large_anon_head(mm->pt, lx_pfn(e, PG_PFN_MASK));
		if (head && !mm_kernel_at_least(mm, 610)) {
			/* Before 6.10 every PTE-mapped large folio met is split,
			 * whole or not, and a folio that looks shared ends the
			 * walk of this page table (6.1 madvise_free_pte_range:
			 * folio_estimated_sharers(), the first page's mapcount,
			 * != 1 -> break; madvise_cold_or_pageout_pte_range: this
			 * page's page_mapcount() != 1 -> break). The first page
			 * unmapped (a DONTNEED of it) counts as shared for FREE
			 * [LIVE: versions/minimal/free-thp-first-page-unmapped].
			 * 6.10 batches instead: "mm/madvise: optimize lazyfreeing
			 * with mTHP in madvise_free", "mm: madvise: avoid split
			 * during MADV_PAGEOUT and MADV_COLD". */
			uint64_t probe = how == WALK_FREE ? head : lx_pfn(e, PG_PFN_MASK);
			if (fr_get(mm->pt, probe)->mapcount != 1)
				return stop;
			split_anon_folio(mm, head);
			continue; /* the same PTE again: now order 0 */
		}
		if (head && thp_shared(mm, head)) {
			va += PAGE_SIZE;
			wi++;
			continue;
		}
		if (head) {
			unsigned nr = folio_pte_batch(mm, wi, va, stop, head);
			if (nr < PMD_PAGES) {
				split_anon_folio(mm, head);
				continue; /* the same PTE again: now order 0 */
			}
			if (how == WALK_FREE && !fr_get(mm->pt, head)->mlocked) {
				for (unsigned i = 0; i < PMD_PAGES; i++) {
					fr_get(mm->pt, head + i)->lazyfree = 1;
					W(mm)[wi + i] &= ~(uint64_t)(X86_D | X86_A);
				}
			} else if (how == WALK_PAGEOUT) {
				reclaim_anon_folio(mm, v, head, wi, 1);
			}
			va += (uint64_t)nr * PAGE_SIZE;
			wi += nr;
			continue;
		}
		const struct frame *cf = pte_frame(mm, wi);
		uint64_t pg = v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT), first, npages;
		if (cf && cf->kind == FR_CACHE && v->obj && pp_cache_folio(mm, v->obj, pg, &first, &npages)) {
			/* A PTE-mapped large page-cache folio: the batch of
			 * PTEs mapping its next pages from here
			 * (madvise_folio_pte_batch) shorter than the folio
			 * splits it -- unmapped from everywhere -- and the
			 * walk looks again at this PTE, now none; the whole
			 * folio: as a whole PMD above [LIVE]. */
			uint64_t e0 = W(mm)[wi], pfn0 = lx_pfn(e0, PG_PFN_MASK);
			unsigned nr = 0;
			while (va + (uint64_t)nr * PAGE_SIZE < stop && pg + nr < first + npages) {
				uint64_t en = W(mm)[wi + nr];
				if (!lx_present(en) || lx_pfn(en, PG_PFN_MASK) != pfn0 + nr ||
				    ((en ^ e0) & ~(uint64_t)(X86_A | X86_D | X86_RW) & ~PG_PFN_MASK))
					break;
				nr++;
			}
			if (nr < npages) {
				split_cache_folio(mm, v->obj, pg);
				continue;
			}
			if (how == WALK_PAGEOUT)
				pg_unmap_cache_pages(mm, v->obj, first, first + npages);
			va += (uint64_t)nr * PAGE_SIZE;
			wi += nr;
			continue;
		}
		if (how == WALK_FREE)
			mark_lazyfree_one(mm, wi, va, NULL);
		else if (how == WALK_PAGEOUT)
			pageout_one(mm, wi, va, (void *)v);
		va += PAGE_SIZE;
		wi++;
	}
	return stop;
}

static void thp_aware_walk(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end, enum thp_walk how)
{
	struct thp_walk_ctx c = {v, start, end, how};
	const struct pg_walker walker = {thp_walk_pmd, thp_walk_ptes, &c};
	pg_walk(mm, start, end, &walker);
}

/* MADV_FREE (mm/madvise.c: madvise_free_pte_range): every anonymous page
 * mapped only here becomes lazily freeable -- clean (PTE dirty bit cleared)
 * and no longer swap-backed -- but stays mapped. A later store dirties it
 * again, and then reclaim keeps it. THPs: thp_aware_walk. */
void pp_mark_lazyfree(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	thp_aware_walk(mm, v, start, end, WALK_FREE);
}

/* MADV_COLD: only THPs covered in part change (they are split). */
void pp_cold(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	thp_aware_walk(mm, v, start, end, WALK_COLD);
}

/* MADV_PAGEOUT (mm/madvise.c: madvise_cold_or_pageout_pte_range, then
 * reclaim_pages -> shrink_folio_list): with no swap configured only
 * page-cache (shmem) folios and anonymous folios that are not swap-backed
 * can go. Page-cache folios are unmapped (try_to_unmap, which moves the PTE's
 * dirty bit to the folio); a dirty one then fails its writeout and stays in
 * the cache, a clean one -- never written -- is removed from the cache
 * (__remove_mapping), so a later fault-around no longer finds it [LIVE].
 * Folios mapped more than once are left alone ("do not interfere with other
 * mappings"). THPs: thp_aware_walk. */
void pp_pageout(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	thp_aware_walk(mm, v, start, end, WALK_PAGEOUT);
}

/* MADV_COLLAPSE of one aligned 2 MiB block h of v (mm/khugepaged.c:
 * madvise_collapse -> hpage_collapse_scan_pmd -> collapse_huge_page):
 * whatever 4 KiB pages the block's page table holds, and even none, become
 * one PMD-mapped anonymous THP; a block already PMD-mapped is done; a block
 * with no page table at all (find_pmd_or_thp_or_none: SCAN_PMD_NULL /
 * SCAN_PMD_NONE) refuses with -EINVAL and ends the walk [LIVE: collapse of
 * +0 6M with pages at +0 and +4M only collapses +0, EINVAL]; so does a guard
 * marker in the block. The same in every THP mode (TVA_FORCED_COLLAPSE
 * ignores the sysfs setting) [LIVE: thp=never]. */
int pp_collapse_scan(mm_state *mm, const struct vma *v, uint64_t h)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	if (wi && level == 2)
		return 0;
	if (!wi)
		return -EINVAL;
	if (wi && level == 1) {
		const uint64_t *t = W(mm) + (wi & ~(uint64_t)(PT_ENTRIES - 1));
		/* hpage_collapse_scan_pmd(), entry by entry: an empty or zero-page
		 * entry in a VMA the userfaultfd arms (any mode) is
		 * SCAN_EXCEED_NONE_PTE, -EBUSY; a uffd-wp marker, or a page with
		 * the uffd-wp bit (armed or not), is SCAN_PTE_UFFD_WP, -EINVAL
		 * (madvise_collapse_errno) [LIVE: uffd-wp-collapse.trace]; other
		 * markers are passed over here. */
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			uint64_t e = t[i];
			if (e == LX_UFFD_WP_MARKER)
				return -EINVAL;
			if (!lx_none(e) && !lx_present(e))
				continue;
			if (lx_none(e) || lx_pfn(e, PG_PFN_MASK) == mm->pt->zero_pfn) {
				if (v->vm_flags & MM_VM_UFFD_FLAGS)
					return -EBUSY;
				continue;
			}
			if (e & LX_PAGE_UFFD_WP)
				return -EINVAL;
		}
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (t[i] && !lx_present(t[i]))
				return -EINVAL; /* a guard marker */
	}
	return 1;
}

/* The collapse itself, once pp_collapse_scan said 1 and v has its anon_vma
 * (collapse_huge_page). */
int pp_collapse(mm_state *mm, struct vma *v, uint64_t h)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	uint64_t thp = fr_alloc_thp(mm);
	if (!thp)
		return -ENOMEM;
	/* __collapse_huge_page_copy(): every small page's contents go into
	 * the THP (the zero page and none copy zeroes). */
	if (wi && level == 1) {
		const uint64_t *t = W(mm) + (wi & ~(uint64_t)(PT_ENTRIES - 1));
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (lx_present(t[i]) && ct_copy(mm, thp + i, lx_pfn(t[i], PG_PFN_MASK))) {
				fr_free_unmapped(mm, thp);
				return -ENOMEM;
			}
	}
	pg_zap_range(mm, h, h + MM_PMD_SIZE, true);
	uint64_t pde = pg_alloc_pmd(mm, h);
	if (!pde) {
		fr_free_unmapped(mm, thp);
		return -ENOMEM;
	}
	pg_drop_page_table(mm, pde); /* the emptied page table goes */
	uint64_t flags = pg_vm_page_prot(v->vm_flags) | X86_PS | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	pg_set_entry(mm, pde, 2, (thp << 12) | flags);
	return 0;
}

/* PG_mlocked of the pages mapped in [start, end) (on) or none of them (off).
 * Every page mapped in a VM_LOCKED VMA is mlocked (mlock_folio at fault and
 * populate time, mlock_pte_range); munlock clears it (munlock_folio).
 * MREMAP_DONTUNMAP clears VM_LOCKED on the source VMA without munlocking,
 * so the pages left there stay mlocked: unevictable, neither lazily freed
 * (folio_mark_lazyfree) nor reclaimed (shrink_folio_list) [LIVE:
 * madvise-free-pageout-thp-mlocked-part.trace, mremap-dontunmap-mlocked-pages.trace]. */
void pp_mark_mlocked(mm_state *mm, uint64_t start, uint64_t end, bool on)
{
	for (uint64_t va = start; va < end;) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (!wi) {
			va = pg_skip_missing(mm, va);
			continue;
		}
		uint64_t e = W(mm)[wi];
		if (level == 2) {
			uint64_t head = lx_pmd_huge(e) ? large_anon_head(mm->pt, lx_pfn(e, PG_PMD_PFN_MASK)) : 0;
			for (unsigned i = 0; head && i < PMD_PAGES; i++)
				fr_get(mm->pt, head + i)->mlocked = on;
			va = (va | (MM_PMD_SIZE - 1)) + 1;
			continue;
		}
		struct frame *f = lx_present(e) ? pte_frame(mm, wi) : NULL;
		/* A THP mapped by PTEs is not mlocked: splitting the PMD of an
		 * mlocked THP in a VM_LOCKED VMA munlocks it (folio_remove_rmap_pmd
		 * -> munlock_vma_folio), and PTE mappings do not mlock a large
		 * folio again [LIVE: dontunmap-split-thp-not-mlocked.trace]. (A THP
		 * PTE-mapped before an mlock covering all of it would be mlocked by
		 * mlock_pte_range; not modelled.) */
		if (f && on && large_anon_head(mm->pt, lx_pfn(e, PG_PFN_MASK)))
			f = NULL;
		if (f && (f->kind == FR_ANON || f->kind == FR_CACHE))
			f->mlocked = on;
		va += PAGE_SIZE;
	}
}

/* ---- Huge page-cache folios (issue 15 case 4, docs/divergences.md #32) ------------- */

/* A huge page-cache folio is 512 page-cache frames forming one 2 MiB block,
 * so that one PMD leaf can map it as the kernel does (do_set_pmd); what
 * splits such a PMD clears it (pg_split_huge_pmd). */

/* The first page offset of the 2 MiB block h of v, when v can map it whole
 * (thp_vma_suitable_order: the block lies in v and v's file offset is
 * congruent with its address modulo 2 MiB); else UINT64_MAX. */
static uint64_t block_pgoff(const struct vma *v, uint64_t h)
{
	if (h < v->vm_start || h + MM_PMD_SIZE > v->vm_end)
		return UINT64_MAX;
	if (((v->vm_start >> PAGE_SHIFT) - v->vm_pgoff) & (PMD_PAGES - 1))
		return UINT64_MAX;
	return v->vm_pgoff + ((h - v->vm_start) >> PAGE_SHIFT);
}

/* do_set_pmd() / set_huge_pmd(): one PMD leaf maps the huge folio at base
 * into v's block h, whose PMD must be none, with the VMA's protection
 * (folio_mk_pmd(folio, vma->vm_page_prot)); a shared write fault makes it
 * writable and dirty (maybe_pmd_mkwrite(pmd_mkdirty())). 0 or -ENOMEM. */
static int map_cache_pmd(mm_state *mm, const struct vma *v, uint64_t h, uint64_t base, bool write)
{
	uint64_t pfn = pc_page(mm, v->obj, base, false);
	uint64_t pde = pg_alloc_pmd(mm, h);
	if (!pfn || !pde)
		return -ENOMEM;
	uint64_t flags = pg_vm_page_prot(v->vm_flags) | X86_PS;
	if (write && (v->vm_flags & MM_VM_SHARED) && (v->vm_flags & MM_VM_WRITE))
		flags |= X86_RW | X86_D;
	pg_set_entry(mm, pde, 2, pg_mk_entry(pfn, flags, PG_PMD_PFN_MASK));
	return 0;
}

/* collapse_pte_mapped_thp(install_pmd = true) for v's block h over the huge
 * folio at base: every entry of the block's page table must be none or map
 * the folio's own page (else SCAN_FAIL: -EINVAL, the walk stops -- a
 * private mapping's COW copy); a guard marker is SCAN_PTE_NON_PRESENT, which
 * lets the walk go on but fails the call (1). Then the table goes and one
 * PMD maps the folio. */
static int install_cache_block(mm_state *mm, struct vma *v, uint64_t h, uint64_t base)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	if (wi && level == 2)
		return 0; /* SCAN_PMD_MAPPED */
	if (wi && level == 1) {
		uint64_t t = wi / PT_ENTRIES;
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			uint64_t e = W(mm)[t * PT_ENTRIES + i];
			if (lx_none(e))
				continue;
			if (!lx_present(e))
				return 1;
			if (lx_pfn(e, PG_PFN_MASK) != pc_page(mm, v->obj, base + i, false))
				return -EINVAL;
		}
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (!lx_none(W(mm)[t * PT_ENTRIES + i]))
				pg_set_entry(mm, t * PT_ENTRIES + i, 1, 0);
		uint64_t pde = pg_alloc_pmd(mm, h); /* exists: no allocation */
		pg_drop_page_table(mm, pde);
	}
	return map_cache_pmd(mm, v, h, base, false);
}

/* MADV_COLLAPSE of the 2 MiB block h of a shmem/memfd VMA v (both shared
 * and private mappings: vma_is_anonymous() is false for them):
 * hpage_collapse_scan_file() -> collapse_file(), then
 * collapse_pte_mapped_thp(). A block already one huge folio goes straight
 * to the latter. Otherwise a block whose cache holds nothing is
 * SCAN_TRUNCATED (-EINVAL, the walk stops); else a new huge folio takes the
 * small pages' contents, zeroes in the holes, and their place in the cache
 * (dirty), every small page of the range is unmapped from every VMA of the
 * object (try_to_unmap; COW copies stay), retract_page_tables() drops the
 * emptied tables of VMAs without an anon_vma that map the block aligned,
 * and the folio is mapped into v by a PMD [LIVE:
 * madvise-collapse-shmem-file.trace]. Returns 0, 1 (continue, but the call
 * fails with EINVAL) or a negative errno (stop). */
int pp_collapse_file(mm_state *mm, struct vma *v, uint64_t h)
{
	struct mm_object *obj = v->obj;
	uint64_t base = block_pgoff(v, h);
	if (base == UINT64_MAX)
		return -EINVAL;
	if (pc_huge_at(obj->cache, base, NULL))
		return install_cache_block(mm, v, h, base);
	unsigned present = 0;
	for (unsigned i = 0; i < PMD_PAGES && obj->cache; i++)
		present += pc_slot(obj->cache, base + i) != NULL;
	if (!present)
		return -EINVAL;
	pg_unmap_cache_pages(mm, obj, base, base + PMD_PAGES);
	for (unsigned i = 0; i < PMD_PAGES; i++) /* the holes, zero-filled */
		if (!pc_page(mm, obj, base + i, true))
			return -ENOMEM;
	uint64_t folio = fr_alloc_block(mm, FR_CACHE);
	if (!folio)
		return -ENOMEM;
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		if (ct_copy(mm, folio + i, *pc_slot(obj->cache, base + i))) {
			for (unsigned k = 0; k < PMD_PAGES; k++)
				fr_free(mm->pt, folio + k);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		uint64_t *slot = pc_slot(obj->cache, base + i);
		fr_free(mm->pt, *slot); /* unmapped everywhere above */
		*slot = folio + i;
		fr_get(mm->pt, folio + i)->dirty = 1;
	}
	if (pc_mark_huge(mm, obj->cache, base))
		return -ENOMEM;
	for (struct vma *w = vt_first(&mm->vt); w; w = w->node.next) {
		if (w->obj != obj || w->anon_vma || base < w->vm_pgoff)
			continue;
		uint64_t wh = w->vm_start + ((base - w->vm_pgoff) << PAGE_SHIFT);
		if (block_pgoff(w, wh) != base || (wh & (MM_PMD_SIZE - 1)))
			continue;
		unsigned level;
		uint64_t wi = pg_lookup(mm, wh, &level);
		if (!wi || level != 1 || !pg_table_empty(mm, wi / PT_ENTRIES))
			continue;
		uint64_t pde = pg_alloc_pmd(mm, wh);
		if (pde)
			pg_drop_page_table(mm, pde);
	}
	return install_cache_block(mm, v, h, base);
}

bool pp_cache_folio(const mm_state *mm, const struct mm_object *obj, uint64_t pgoff, uint64_t *first, uint64_t *npages)
{
	(void)mm;
	unsigned order;
	if (!pc_folio(obj->cache, pgoff, first, &order, NULL))
		return false;
	*npages = 1ull << order;
	return true;
}

/* A fault in a shmem/memfd VMA v at addr that maps a large page-cache folio
 * whole; true when it handled the fault.
 *  - The block is one huge folio and has no page table (pmd_none):
 *    do_set_pmd() maps it with one PMD (read faults via fault-around's
 *    filemap_map_pmd(), shared write faults via finish_fault()) when v can
 *    hold it (thp_vma_suitable_order) and is not VM_NOHUGEPAGE
 *    (vma_thp_disabled); not a private write (do_cow_fault copies a page).
 *  - A shared write fault elsewhere: finish_fault() maps every page of a
 *    large shmem folio lying in v and in one page table when all their PTEs
 *    are none (else the one page, the caller's do_fault). */
bool pp_fault_cache_block(mm_state *mm, const struct vma *v, uint64_t addr, bool write)
{
	if (!v->obj || !v->obj->cache || !v->obj->cache->nhuge)
		return false;
	if (write && !(v->vm_flags & MM_VM_SHARED))
		return false;
	uint64_t h = addr & ~(MM_PMD_SIZE - 1), base = block_pgoff(v, h);
	unsigned level;
	if (!pg_lookup(mm, h, &level) && !(v->vm_flags & MM_VM_NOHUGEPAGE) && base != UINT64_MAX &&
	    pc_huge_at(v->obj->cache, base, NULL) && base + PMD_PAGES <= (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT)
		return map_cache_pmd(mm, v, h, base, write) == 0;
	if (!write)
		return false;
	uint64_t pg = v->vm_pgoff + ((addr - v->vm_start) >> PAGE_SHIFT), first, npages;
	if (!pp_cache_folio(mm, v->obj, pg, &first, &npages))
		return false;
	uint64_t a0 = addr - ((pg - first) << PAGE_SHIFT);
	if (a0 < v->vm_start || a0 + (npages << PAGE_SHIFT) > v->vm_end ||
	    (a0 & ~(MM_PMD_SIZE - 1)) != ((a0 + (npages << PAGE_SHIFT) - 1) & ~(MM_PMD_SIZE - 1)))
		return false;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t wi = pg_lookup(mm, a0 + (i << PAGE_SHIFT), &level);
		if (wi && (level != 1 || !lx_none(W(mm)[wi])))
			return false;
	}
	uint64_t flags = pg_vm_page_prot(v->vm_flags) | X86_D;
	if (v->vm_flags & MM_VM_WRITE)
		flags |= X86_RW;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pfn = pc_page(mm, v->obj, first + i, false);
		uint64_t wi = pg_alloc_pte(mm, a0 + (i << PAGE_SHIFT));
		if (!pfn || !wi)
			return false;
		pg_set_entry(mm, wi, 1, pg_mk_entry(pfn, flags, PG_PFN_MASK));
	}
	return true;
}

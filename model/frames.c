/* The data frames behind the leaf entries (pages.h): anonymous pages,
 * page-cache pages, the shared zero page and the huge zero page. A frame is
 * a number from PG_DATA_PFN_BASE up with a struct frame; 4 KiB frames and
 * 512-frame blocks (THPs, the huge zero folio) come from two free stacks.
 * A frame's contents are contents.c's, dropped when the frame is freed.
 */
#include <string.h>

#include "alloc.h"
#include "contents.h"
#include "frames.h"

struct frame *fr_get(const struct page_tables *pt, uint64_t pfn)
{
	if (pfn < PG_DATA_PFN_BASE || pfn - PG_DATA_PFN_BASE >= pt->nfm)
		return NULL;
	return &pt->fm[pfn - PG_DATA_PFN_BASE];
}

/* Room for at least need frames (and the free stacks to match): 0 or -1. */
static int fm_grow(mm_state *mm, uint64_t need)
{
	struct page_tables *pt = mm->pt;
	if (need <= pt->fm_cap)
		return 0;
	uint64_t ncap = pt->fm_cap ? pt->fm_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	struct frame *fm = mm_alloc(mm, ncap * sizeof(*fm));
	uint64_t *f4 = mm_alloc(mm, ncap * sizeof(*f4));
	uint64_t *f2 = mm_alloc(mm, (ncap / PMD_PAGES + 1) * sizeof(*f2));
	if (!fm || !f4 || !f2) {
		mm_free(mm, fm);
		mm_free(mm, f4);
		mm_free(mm, f2);
		return -1;
	}
	if (pt->fm) {
		memcpy(fm, pt->fm, pt->nfm * sizeof(*fm));
		memcpy(f4, pt->free4k, pt->nfree4k * sizeof(*f4));
		memcpy(f2, pt->free2m, pt->nfree2m * sizeof(*f2));
		mm_free(mm, pt->fm);
		mm_free(mm, pt->free4k);
		mm_free(mm, pt->free2m);
	}
	pt->fm = fm;
	pt->free4k = f4;
	pt->free2m = f2;
	pt->fm_cap = ncap;
	return 0;
}

uint64_t fr_alloc(mm_state *mm, enum frame_kind kind)
{
	struct page_tables *pt = mm->pt;
	uint64_t idx;
	if (pt->nfree4k) {
		idx = pt->free4k[--pt->nfree4k];
	} else {
		if (fm_grow(mm, pt->nfm + 1))
			return 0;
		idx = pt->nfm++;
	}
	pt->fm[idx] = (struct frame){0, (uint8_t)kind, 0, 0, 0, 0, 0, 0};
	pt->n_anon += kind == FR_ANON;
	pt->n_cache += kind == FR_CACHE;
	return PG_DATA_PFN_BASE + idx;
}

/* 512 frames at a 512-aligned index: a THP or the huge zero folio. */
uint64_t fr_alloc_block(mm_state *mm, enum frame_kind kind)
{
	struct page_tables *pt = mm->pt;
	uint64_t base;
	if (pt->nfree2m) {
		base = pt->free2m[--pt->nfree2m];
	} else {
		base = (pt->nfm + PMD_PAGES - 1) & ~(uint64_t)(PMD_PAGES - 1);
		if (fm_grow(mm, base + PMD_PAGES))
			return 0;
		for (uint64_t i = pt->nfm; i < base; i++) { /* the alignment gap */
			pt->fm[i] = (struct frame){0, FR_FREE, 0, 0, 0, 0, 0, 0};
			pt->free4k[pt->nfree4k++] = i;
		}
		pt->nfm = base + PMD_PAGES;
	}
	for (uint64_t i = 0; i < PMD_PAGES; i++)
		pt->fm[base + i] = (struct frame){0, (uint8_t)kind, 1, 0, 0, 0, 0, 0};
	pt->fm[base].block_live = PMD_PAGES;
	if (kind == FR_ANON)
		pt->n_anon += PMD_PAGES;
	if (kind == FR_CACHE)
		pt->n_cache += PMD_PAGES;
	return PG_DATA_PFN_BASE + base;
}

void fr_free(struct page_tables *pt, uint64_t pfn)
{
	uint64_t idx = pfn - PG_DATA_PFN_BASE;
	struct frame *f = &pt->fm[idx];
	ct_drop(pt->phys.ctx, pfn); /* the seam's context is the mm */
	pt->total_mapcount -= f->mapcount;
	pt->n_anon -= f->kind == FR_ANON;
	pt->n_cache -= f->kind == FR_CACHE;
	f->kind = FR_FREE;
	f->dirty = 0;
	f->lazyfree = 0;
	f->mlocked = 0;
	f->mapcount = 0;
	if (f->in_block) {
		uint64_t base = idx & ~(uint64_t)(PMD_PAGES - 1);
		if (--pt->fm[base].block_live == 0)
			pt->free2m[pt->nfree2m++] = base;
	} else {
		pt->free4k[pt->nfree4k++] = idx;
	}
}

uint64_t fr_alloc_anon(mm_state *mm) { return fr_alloc(mm, FR_ANON); }
uint64_t fr_alloc_thp(mm_state *mm) { return fr_alloc_block(mm, FR_ANON); }
uint64_t fr_zero_pfn(const mm_state *mm) { return mm->pt->zero_pfn; }
uint64_t fr_huge_zero_pfn(const mm_state *mm) { return mm->pt->hzero_pfn; }

bool fr_is_anon(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = fr_get(mm->pt, pfn);
	return f && f->kind == FR_ANON;
}

/* Without fork every anonymous page is PageAnonExclusive while mapped once. */
bool fr_anon_exclusive(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = fr_get(mm->pt, pfn);
	return f && f->kind == FR_ANON && f->mapcount == 1;
}

void fr_mark_dirty(mm_state *mm, uint64_t pfn)
{
	struct frame *f = fr_get(mm->pt, pfn);
	if (f && f->kind == FR_CACHE)
		f->dirty = 1;
}

bool fr_holds_data(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = fr_get(mm->pt, pfn);
	return f && (f->kind == FR_ANON || f->kind == FR_CACHE);
}

void fr_free_unmapped(mm_state *mm, uint64_t pfn)
{
	struct frame *f = fr_get(mm->pt, pfn);
	if (f && f->kind == FR_ANON && f->mapcount == 0) {
		if (f->in_block) {
			uint64_t base = (pfn - PG_DATA_PFN_BASE) & ~(uint64_t)(PMD_PAGES - 1);
			for (uint64_t i = 0; i < PMD_PAGES; i++)
				fr_free(mm->pt, PG_DATA_PFN_BASE + base + i);
		} else {
			fr_free(mm->pt, pfn);
		}
	}
}

uint64_t fr_anon_frames(const mm_state *mm)
{
	return mm->pt->n_anon;
}

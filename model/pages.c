/* The public page API (mmref.h, x86.h): what the page at an address is
 * (mm_page, mm_pages) and the tables of an address space (mm_page_tables).
 */
#include "frames.h"
#include "pgtable.h"

/* What the leaf entry e at level covering addr shows. */
static mm_page_state entry_state(const mm_state *mm, uint64_t e, unsigned level, uint64_t addr)
{
	if (lx_none(e))
		return MM_PAGE_NONE;
	if (level == 1 && e == LX_GUARD_MARKER)
		return MM_PAGE_GUARD;
	if (!lx_present(e))
		return MM_PAGE_NONE;
	uint64_t pfn = level == 2 ? lx_pfn(e, PG_PMD_PFN_MASK) + PT_INDEX(addr, 1) : lx_pfn(e, PG_PFN_MASK);
	const struct frame *f = fr_get(mm->pt, pfn);
	if (!f)
		return MM_PAGE_NONE;
	switch (f->kind) {
	case FR_ZERO:
	case FR_HZERO:
		return MM_PAGE_ZERO;
	case FR_ANON:
		return MM_PAGE_ANON;
	case FR_CACHE:
		return MM_PAGE_FILE;
	default:
		return MM_PAGE_NONE;
	}
}

mm_page_state mm_page(const mm_state *mm, uint64_t addr)
{
	unsigned level;
	if (addr >= USER_TOP)
		return MM_PAGE_NONE;
	uint64_t wi = pg_lookup(mm, addr, &level);
	if (!wi)
		return MM_PAGE_NONE;
	return entry_state(mm, mm->pt->phys.mem.words[wi], level, addr);
}

void mm_pages(const mm_state *mm, uint64_t start, size_t npages, uint8_t *out)
{
	/* One table lookup per 2 MiB instead of one walk per page. */
	size_t k = 0;
	while (k < npages) {
		uint64_t va = start + ((uint64_t)k << PAGE_SHIFT);
		uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
		size_t run = (size_t)((next_pmd - va) >> PAGE_SHIFT);
		if (run > npages - k)
			run = npages - k;
		unsigned level;
		uint64_t wi = va < USER_TOP ? pg_lookup(mm, va, &level) : 0;
		for (size_t i = 0; i < run; i++, va += PAGE_SIZE) {
			if (!wi)
				out[k + i] = MM_PAGE_NONE;
			else if (level == 2)
				out[k + i] = (uint8_t)entry_state(mm, mm->pt->phys.mem.words[wi], 2, va);
			else
				out[k + i] = (uint8_t)entry_state(mm, mm->pt->phys.mem.words[wi + i], 1, va);
		}
		k += run;
	}
}

/* mmref/x86.h: the tables, as the walker and the KVM oracle read them. */
void mm_page_tables(const mm_state *mm, mm_phys_mem *out, uint64_t *cr3)
{
	*out = *pg_mem(mm);
	*cr3 = pg_cr3(mm);
}

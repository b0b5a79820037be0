/* Linux's page tables on top of the x86-64 tables of pagetable.c: the
 * entry encodings Linux uses (protection_map, PROT_NONE, guard markers),
 * table allocation and huge-PMD splits, the life cycle of the page layer,
 * and what munmap, mremap, mprotect, MADV_DONTNEED, guard markers and hole
 * punching do to the entries. The frames behind the entries are frames.c's;
 * what madvise and khugepaged do to folios is pagepolicy.c; the fault
 * handler is fault.c.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frames.h"
#include "pagecache.h"
#include "pgtable.h"
#include "procs.h"

static void *seam_alloc(void *ctx, size_t size) { return mm_alloc(ctx, size); }
static void seam_release(void *ctx, void *p) { mm_free(ctx, p); }

/* ---- Entries --------------------------------------------------------------- */

uint64_t *pg_words(mm_state *mm) { return W(mm); }
uint64_t pg_cr3(const mm_state *mm) { return mm->pt->pml4 << 12; }
const mm_phys_mem *pg_mem(const mm_state *mm) { return &mm->pt->phys.mem; }

/* arch/x86/mm/pgprot.c protection_map[], indexed by VM_READ|WRITE|EXEC|
 * SHARED, with the PAGE_* values of arch/x86/include/asm/pgtable_types.h. */
uint64_t pg_vm_page_prot(uint64_t vm_flags)
{
	const uint64_t NONE = X86_A | LX_PAGE_PROTNONE;        /* PAGE_NONE */
	const uint64_t RO = X86_P | X86_US | X86_A | X86_XD;    /* PAGE_READONLY, PAGE_COPY */
	const uint64_t RX = X86_P | X86_US | X86_A;             /* PAGE_READONLY_EXEC, PAGE_COPY_EXEC */
	const uint64_t RW = X86_P | X86_RW | X86_US | X86_A | X86_XD; /* PAGE_SHARED */
	const uint64_t RWX = X86_P | X86_RW | X86_US | X86_A;         /* PAGE_SHARED_EXEC */
	static const uint8_t which[16] = {0, 1, 1, 1, 2, 2, 2, 2, 0, 1, 3, 3, 2, 2, 4, 4};
	const uint64_t by[5] = {NONE, RO, RX, RW, RWX};
	/* arch/x86/mm/pgprot.c vm_get_page_prot(): the VMA's protection key
	 * goes into PTE bits 62:59 (_PAGE_PKEY_BIT0..3). */
	uint64_t pkey = (vm_flags & MM_VM_PKEY_MASK) >> MM_VM_PKEY_SHIFT;
	return by[which[vm_flags & (MM_VM_READ | MM_VM_WRITE | MM_VM_EXEC | MM_VM_SHARED)]] | pkey << X86_PK_SHIFT;
}

/* mm/mmap.c vma_set_page_prot(): vm_page_prot from vm_flags; a VMA that
 * wants write notification gets the protection of its flags without
 * VM_SHARED, which for a writable VMA is read-only (PAGE_COPY). */
uint64_t pg_vma_page_prot(const struct vma *v)
{
	if (vma_wants_writenotify(v))
		return pg_vm_page_prot(v->vm_flags & ~MM_VM_SHARED);
	return pg_vm_page_prot(v->vm_flags);
}

/* An entry for pfn with flags; PROT_NONE entries hold the pfn inverted
 * (arch/x86/include/asm/pgtable-invert.h: protnone_mask). */
uint64_t pg_mk_entry(uint64_t pfn, uint64_t flags, uint64_t pfn_mask)
{
	uint64_t addr = pfn << 12;
	if (lx_protnone(flags))
		addr = ~addr;
	return (addr & pfn_mask) | flags;
}

/* Map counts of the frames a leaf entry covers. */
static void account(struct page_tables *pt, uint64_t e, unsigned level, int delta)
{
	if (!lx_present(e))
		return;
	bool huge = level == 2;
	uint64_t pfn = lx_pfn(e, huge ? PG_PMD_PFN_MASK : PG_PFN_MASK);
	for (uint64_t i = 0; i < (huge ? PMD_PAGES : 1u); i++) {
		struct frame *f = fr_get(pt, pfn + i);
		if (!f)
			continue;
		if (delta > 0) {
			f->mapcount++;
			pt->total_mapcount++;
		} else {
			/* zap_pte_range() / try_to_unmap(): a dirty PTE dirties
			 * the folio it maps. */
			if (f->kind == FR_CACHE && (e & X86_D))
				f->dirty = 1;
			f->mapcount--;
			pt->total_mapcount--;
			if (f->mapcount == 0 && f->kind == FR_ANON)
				fr_free(pt, pfn + i);
		}
	}
}

void pg_set_entry(mm_state *mm, uint64_t wi, unsigned level, uint64_t val)
{
	uint64_t old = W(mm)[wi];
	account(mm->pt, val, level, +1);
	W(mm)[wi] = val;
	account(mm->pt, old, level, -1);
}

uint64_t pg_lookup(const mm_state *mm, uint64_t va, unsigned *level)
{
	const uint64_t *w = mm->pt->phys.mem.words;
	uint64_t wi = mm->pt->pml4 * 512 + PT_INDEX(va, 4);
	for (unsigned l = 3; l >= 1; l--) {
		uint64_t e = w[wi];
		if (l == 1 && lx_pmd_huge(e)) {
			*level = 2;
			return wi;
		}
		if (!(e & X86_P))
			return 0;
		wi = lx_table_pfn(e) * 512 + PT_INDEX(va, l);
	}
	*level = 1;
	return wi;
}

/* Where to look next when pg_lookup(va) found no table: the end of the
 * span of the first missing entry (so empty stretches of the address space
 * cost one step per missing upper-level entry). */
uint64_t pg_skip_missing(const mm_state *mm, uint64_t va)
{
	const uint64_t *w = mm->pt->phys.mem.words;
	uint64_t t = mm->pt->pml4;
	for (unsigned l = 4; l >= 2; l--) {
		uint64_t e = w[t * 512 + PT_INDEX(va, l)];
		if (!(e & X86_P) || (l == 2 && (e & X86_PS)))
			return (va | ((1ull << PT_LEVEL_SHIFT(l)) - 1)) + 1;
		t = lx_table_pfn(e);
	}
	return (va | (MM_PMD_SIZE - 1)) + 1;
}

/* The entry at wi points to a table; allocate one if it is empty. Returns
 * the table's pfn or 0. */
static uint64_t ensure_table(mm_state *mm, uint64_t wi)
{
	uint64_t e = W(mm)[wi];
	if (e & X86_P)
		return lx_table_pfn(e);
	uint64_t pfn = pt_phys_alloc(&mm->pt->phys);
	if (pfn)
		W(mm)[wi] = (pfn << 12) | PG_TABLE_FLAGS;
	return pfn;
}

uint64_t pg_alloc_pmd(mm_state *mm, uint64_t va)
{
	uint64_t pdpt = ensure_table(mm, mm->pt->pml4 * 512 + PT_INDEX(va, 4));
	if (!pdpt)
		return 0;
	uint64_t pd = ensure_table(mm, pdpt * 512 + PT_INDEX(va, 3));
	if (!pd)
		return 0;
	return pd * 512 + PT_INDEX(va, 2);
}

/* mm/huge_memory.c __split_huge_pmd_locked(): a PMD leaf becomes a page
 * table of 512 PTEs with the same bits (the huge zero page becomes 512
 * mappings of the 4 KiB zero page). 0 or -ENOMEM. A PMD mapping a
 * page-cache folio is not turned into PTEs: for a !vma_is_anonymous VMA it
 * is cleared (pmdp_huge_clear_flush; a dirty PMD dirties the folio), and
 * the next fault maps the folio again [LIVE: huge-shmem-pmd-split.trace]. */
int pg_split_huge_pmd(mm_state *mm, uint64_t pde_wi)
{
	const struct frame *hf = fr_get(mm->pt, lx_pfn(W(mm)[pde_wi], PG_PMD_PFN_MASK));
	if (hf && hf->kind == FR_CACHE) {
		pg_set_entry(mm, pde_wi, 2, 0);
		return 0;
	}
	uint64_t pt_pfn = pt_phys_alloc(&mm->pt->phys);
	if (!pt_pfn)
		return -ENOMEM;
	uint64_t pde = W(mm)[pde_wi];
	uint64_t base = lx_pfn(pde, PG_PMD_PFN_MASK);
	uint64_t flags = pde & (0xfffull | 0xfff0000000000000ull) & ~X86_PS;
	bool zero = base == mm->pt->hzero_pfn;
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		uint64_t e = pg_mk_entry(zero ? mm->pt->zero_pfn : base + i, flags, PG_PFN_MASK);
		W(mm)[pt_pfn * 512 + i] = e;
		account(mm->pt, e, 1, +1);
	}
	W(mm)[pde_wi] = (pt_pfn << 12) | PG_TABLE_FLAGS;
	account(mm->pt, pde, 2, -1);
	return 0;
}

uint64_t pg_alloc_pte(mm_state *mm, uint64_t va)
{
	uint64_t pde_wi = pg_alloc_pmd(mm, va);
	if (!pde_wi)
		return 0;
	if (lx_pmd_huge(W(mm)[pde_wi]) && pg_split_huge_pmd(mm, pde_wi))
		return 0;
	uint64_t pt_pfn = ensure_table(mm, pde_wi);
	if (!pt_pfn)
		return 0;
	return pt_pfn * 512 + PT_INDEX(va, 1);
}
/* ---- Life cycle ---------------------------------------------------------- */

int pg_create(mm_state *mm)
{
	struct page_tables *pt = mm_alloc(mm, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	mm->pt = pt;
	pt_phys_init(&pt->phys, seam_alloc, seam_release, mm);
	pt->pml4 = pt_phys_alloc(&pt->phys);
	pt->zero_pfn = pt->pml4 ? fr_alloc(mm, FR_ZERO) : 0;
	pt->hzero_pfn = pt->zero_pfn ? fr_alloc_block(mm, FR_HZERO) : 0;
	if (!pt->hzero_pfn) {
		pg_destroy(mm);
		return -ENOMEM;
	}
	return 0;
}

int pg_reset(mm_state *mm)
{
	struct page_tables *pt = mm->pt;
	pc_free_all(mm);
	pt_phys_reset(&pt->phys);
	if (pt->fm)
		memset(pt->fm, 0, pt->nfm * sizeof(*pt->fm));
	/* Everything else as pg_create's calloc left it; the memory is kept. */
	struct page_tables keep = *pt;
	memset(pt, 0, sizeof(*pt));
	pt->phys = keep.phys;
	pt->fm = keep.fm;
	pt->fm_cap = keep.fm_cap;
	pt->free4k = keep.free4k;
	pt->free2m = keep.free2m;
	pt->check_counts = keep.check_counts;
	pt->check_seen = keep.check_seen;
	pt->check_owner = keep.check_owner;
	pt->check_cap = keep.check_cap;
	pt->pml4 = pt_phys_alloc(&pt->phys);
	pt->zero_pfn = pt->pml4 ? fr_alloc(mm, FR_ZERO) : 0;
	pt->hzero_pfn = pt->zero_pfn ? fr_alloc_block(mm, FR_HZERO) : 0;
	return pt->hzero_pfn ? 0 : -ENOMEM;
}

void pg_destroy(mm_state *mm)
{
	struct page_tables *pt = mm->pt;
	if (!pt)
		return;
	pc_free_all(mm);
	for (struct mm_object *o = mm->objects; o; o = o->next_in_list)
		o->cache = NULL;
	pt_phys_fini(&pt->phys);
	mm_free(mm, pt->fm);
	mm_free(mm, pt->free4k);
	mm_free(mm, pt->free2m);
	free(pt->check_counts);
	free(pt->check_seen);
	free(pt->check_owner);
	mm_free(mm, pt);
	mm->pt = NULL;
}
/* ---- Range operations ------------------------------------------------------ */

uint64_t pg_pmd_end(uint64_t va)
{
	return (va | (MM_PMD_SIZE - 1)) + 1;
}

void pg_walk(mm_state *mm, uint64_t start, uint64_t end, const struct pg_walker *w)
{
	uint64_t va = start;
	while (va < end) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (!wi)
			va = pg_skip_missing(mm, va); /* no table below */
		else if (level == 2)
			va = w->pmd(mm, va, wi, w->ctx);
		else
			va = w->ptes(mm, va, wi, min_u64(end, pg_pmd_end(va)), w->ctx);
	}
}

/* The walk of the range operations that change leaves in place
 * (zap_page_range / change_protection_range): every huge PMD that
 * [start, end) covers whole goes to huge(); one it covers in part is split
 * first (vma_adjust_trans_huge / __split_huge_pmd) and the walk looks at the
 * same address again -- without memory for the table the whole THP is
 * dropped -- and every PTE of the range goes to pte(). */
struct leaf_walk {
	void (*huge)(mm_state *mm, uint64_t wi, void *ctx);
	void (*pte)(mm_state *mm, uint64_t wi, void *ctx);
	void *ctx;
	uint64_t start, end;
};

static uint64_t leaf_walk_pmd(mm_state *mm, uint64_t va, uint64_t wi, void *ctx)
{
	const struct leaf_walk *w = ctx;
	uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
	if (hstart >= w->start && hstart + MM_PMD_SIZE <= w->end) {
		w->huge(mm, wi, w->ctx);
		return pg_pmd_end(va);
	}
	if (pg_split_huge_pmd(mm, wi)) {
		pg_set_entry(mm, wi, 2, 0); /* no memory for the table: drop the whole THP */
		return pg_pmd_end(va);
	}
	return va; /* look again at the new PTEs */
}

static uint64_t leaf_walk_ptes(mm_state *mm, uint64_t va, uint64_t wi, uint64_t stop, void *ctx)
{
	const struct leaf_walk *w = ctx;
	for (; va < stop; va += PAGE_SIZE, wi++)
		w->pte(mm, wi, w->ctx);
	return stop;
}

static void walk_leaves(mm_state *mm, uint64_t start, uint64_t end, struct leaf_walk *w)
{
	w->start = start;
	w->end = end;
	const struct pg_walker walker = {leaf_walk_pmd, leaf_walk_ptes, w};
	pg_walk(mm, start, end, &walker);
}

static void zap_huge(mm_state *mm, uint64_t wi, void *ctx)
{
	(void)ctx;
	pg_set_entry(mm, wi, 2, 0); /* zap_huge_pmd */
}

struct zap_details {
	bool markers_too; /* ZAP_FLAG_DROP_MARKER (munmap, exit) */
	bool uffd_wp;     /* a file VMA registered with wp: zap_install_uffd_wp_if_needed() */
};

static void zap_pte(mm_state *mm, uint64_t wi, void *ctx)
{
	const struct zap_details *d = ctx;
	uint64_t e = W(mm)[wi];
	if (lx_none(e))
		return;
	if (!lx_present(e) && !d->markers_too && (e != LX_UFFD_WP_MARKER || d->uffd_wp))
		return; /* zap_nonpresent_ptes() keeps guard markers, and a file VMA's uffd-wp ones */
	/* zap_install_uffd_wp_if_needed() -> pte_install_uffd_wp_if_needed():
	 * a write-protected page of a file VMA registered with wp leaves a
	 * marker, so that it stays protected. */
	bool arm = d->uffd_wp && !d->markers_too && lx_present(e) && (e & LX_PAGE_UFFD_WP);
	pg_set_entry(mm, wi, 1, arm ? LX_UFFD_WP_MARKER : 0);
}

static void zap_range(mm_state *mm, uint64_t start, uint64_t end, struct zap_details *d)
{
	struct leaf_walk w = {zap_huge, zap_pte, d, 0, 0};
	walk_leaves(mm, start, end, &w);
}

/* Zaps the leaves of [start, end): pages always, guard markers only when
 * markers_too. A PMD leaf partly inside is split first (as
 * vma_adjust_trans_huge / __split_huge_pmd do). */
void pg_zap_range(mm_state *mm, uint64_t start, uint64_t end, bool markers_too)
{
	struct zap_details d = {.markers_too = markers_too};
	zap_range(mm, start, end, &d);
}

bool pg_table_empty(const mm_state *mm, uint64_t pfn)
{
	const uint64_t *t = mm->pt->phys.mem.words + pfn * 512;
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

/* Frees the tables under [start, end) whose whole span lies in [floor,
 * ceiling) and that are empty: mm/memory.c free_pgd_range() and its
 * floor/ceiling rule, at every level. `table` is a table of `level` (4 =
 * PML4) whose first entry maps base. */
static void free_tables_in(mm_state *mm, uint64_t table, unsigned level, uint64_t base, uint64_t start,
                           uint64_t end, uint64_t floor, uint64_t ceiling)
{
	uint64_t span = 1ull << PT_LEVEL_SHIFT(level);
	uint64_t first = start > base ? (start - base) / span : 0;
	for (uint64_t i = first; i < PT_ENTRIES; i++) {
		uint64_t va = base + i * span;
		if (va >= end || va >= USER_TOP)
			break;
		uint64_t e = W(mm)[table * 512 + i];
		if (!(e & X86_P) || (e & X86_PS))
			continue;
		if (level > 2)
			free_tables_in(mm, lx_table_pfn(e), level - 1, va, start, end, floor, ceiling);
		if (va < floor || va + span > ceiling || !pg_table_empty(mm, lx_table_pfn(e)))
			continue;
		pt_phys_free(&mm->pt->phys, lx_table_pfn(e));
		W(mm)[table * 512 + i] = 0;
	}
}

static void free_tables(mm_state *mm, uint64_t start, uint64_t end, uint64_t floor, uint64_t ceiling)
{
	free_tables_in(mm, mm->pt->pml4, 4, 0, start, end, floor, ceiling);
}

/* Whether a PML4 entry over [start, end) (start < end) may be present:
 * true beyond USER_TOP, which the walks treat on their own. */
static bool pml4_present_in(const mm_state *mm, uint64_t start, uint64_t end)
{
	const uint64_t *w = mm->pt->phys.mem.words + mm->pt->pml4 * 512;

	if (end > USER_TOP)
		return true;
	for (unsigned i = PT_INDEX(start, 4), last = PT_INDEX(end - 1, 4); i <= last; i++)
		if (w[i] & X86_P)
			return true;
	return false;
}

void pg_unmap_range(mm_state *mm, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	/* No PML4 entry over the range: no table below it, so nothing to zap
	 * and no table to free (the walk and free_tables_in would skip every
	 * entry), and the floor and ceiling do not matter. */
	if (!pml4_present_in(mm, start, end))
		return;
	pg_zap_range(mm, start, end, true);
	/* free_pgtables(): floor is the end of the VMA below the range, ceiling
	 * the start of the one above; VMAs inside the range are going away. */
	uint64_t floor = 0, ceiling = USER_TOP;
	struct vma *v = vt_find(&mm->vt, start);
	if (v && v->vm_start < start)
		floor = start;
	else if ((v ? v->node.prev : vt_last(&mm->vt)) != NULL)
		floor = (v ? v->node.prev : vt_last(&mm->vt))->vm_end;
	struct vma *n = vt_find(&mm->vt, end);
	if (n && n->vm_start < end)
		ceiling = end;
	else if (n)
		ceiling = n->vm_start;
	free_tables(mm, start, end, floor, ceiling);
}

void pg_drop_page_table(mm_state *mm, uint64_t pde_wi)
{
	uint64_t e = W(mm)[pde_wi];
	if (!e || (e & X86_PS))
		return;
	pt_phys_free(&mm->pt->phys, lx_table_pfn(e));
	W(mm)[pde_wi] = 0;
}

void pg_zap_pages(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	struct zap_details d = {.uffd_wp = !vma_is_anonymous(v) && (v->vm_flags & MM_VM_UFFD_WP)};
	zap_range(mm, start, end, &d);
	/* CONFIG_PT_RECLAIM (mm/pt_reclaim.c): MADV_DONTNEED frees a page
	 * table whose whole PMD range it zapped, if nothing is left in it.
	 * Since 6.14 ("mm: pgtable: reclaim empty PTE page in
	 * madvise(MADV_DONTNEED)"); 6.1 and 6.12 keep the empty table, so a
	 * later fault there maps 4 KiB pages, not a THP [LIVE: vm:6.1,
	 * versions/minimal/dontneed-keeps-table.*.trace]. */
	if (!mm_kernel_at_least(mm, 614))
		return;
	uint64_t first = (start + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1);
	uint64_t last = end & ~(MM_PMD_SIZE - 1);
	for (uint64_t a = first; a < last; a += MM_PMD_SIZE) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, a, &level);
		if (!wi || level != 1)
			continue;
		uint64_t pt_pfn = wi / 512;
		if (!pg_table_empty(mm, pt_pfn))
			continue;
		pg_drop_page_table(mm, pg_alloc_pmd(mm, a)); /* the PDE exists: no allocation */
	}
}

int pg_move_range(mm_state *mm, uint64_t old_start, uint64_t new_start, uint64_t len, bool clear_uffd_wp)
{
	uint64_t old_end = old_start + len;
	bool pmd_movable = ((old_start ^ new_start) & (MM_PMD_SIZE - 1)) == 0;
	/* Pass 1: every table the move needs, so a failure moves nothing
	 * (mm/mremap.c: move_page_tables() allocates as it goes and moves
	 * back on failure; the outcome is the same). */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t va = old_start;
		while (va < old_end) {
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
			uint64_t dst = new_start + (va - old_start);
			if (!wi) {
				va = pg_skip_missing(mm, va);
				continue;
			}
			if (level == 2) {
				uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
				if (pmd_movable && hstart >= old_start && hstart + MM_PMD_SIZE <= old_end) {
					/* move_huge_pmd() */
					uint64_t dwi = pg_alloc_pmd(mm, dst);
					if (!dwi)
						return -ENOMEM;
					uint64_t de = W(mm)[dwi];
					if (de && !lx_pmd_huge(de) && pg_table_empty(mm, lx_table_pfn(de))) {
						pt_phys_free(&mm->pt->phys, lx_table_pfn(de));
						W(mm)[dwi] = 0;
					} else if (de) {
						/* the destination has a table in use: move by PTEs */
						if (pg_split_huge_pmd(mm, wi))
							return -ENOMEM;
						continue;
					}
					if (pass == 1) {
						/* clear_uffd_wp_pmd() for a registered VMA */
						wi = pg_lookup(mm, va, &level);
						W(mm)[dwi] = W(mm)[wi] & ~(clear_uffd_wp ? LX_PAGE_UFFD_WP : 0);
						W(mm)[wi] = 0;
					}
					va = next_pmd;
					continue;
				}
				if (pg_split_huge_pmd(mm, wi))
					return -ENOMEM;
				continue;
			}
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			/* move_normal_pmd() refuses a VMA registered without
			 * UFFD_FEATURE_EVENT_REMAP (vma_has_uffd_without_event_remap):
			 * its entries must lose their uffd-wp state one by one. */
			if (pmd_movable && !clear_uffd_wp && hstart >= old_start && hstart + MM_PMD_SIZE <= old_end) {
				/* move_normal_pmd(): a whole page table moves as it
				 * is, when the destination PMD is none; the source
				 * PMD is left none (a later fault there may map a THP). */
				uint64_t dwi = pg_alloc_pmd(mm, dst);
				if (!dwi)
					return -ENOMEM;
				if (!W(mm)[dwi]) {
					if (pass == 1) {
						uint64_t swi = pg_alloc_pmd(mm, va); /* exists */
						W(mm)[dwi] = W(mm)[swi];
						W(mm)[swi] = 0;
					}
					va = next_pmd;
					continue;
				}
			}
			uint64_t stop = min_u64(old_end, next_pmd);
			/* move_page_tables(): an extent whose source PMD holds a
			 * table gets a destination table (alloc_new_pmd,
			 * pte_alloc) even when no entry moves, so a later fault
			 * there maps 4 KiB pages, not a THP [LIVE:
			 * mremap-empty-table-moves.trace]. Extents end at source
			 * and destination PMD boundaries. */
			for (uint64_t d = dst; d < dst + (stop - va); d = (d | (MM_PMD_SIZE - 1)) + 1)
				if (!pg_alloc_pte(mm, d))
					return -ENOMEM;
			for (; va < stop; va += PAGE_SIZE, dst += PAGE_SIZE) {
				wi = pg_lookup(mm, va, &level);
				if (lx_none(W(mm)[wi]))
					continue;
				uint64_t dwi = pg_alloc_pte(mm, dst);
				if (!dwi)
					return -ENOMEM;
				if (pass == 1) {
					/* move_ptes(): the entry moves with its bits; for a
					 * registered VMA (need_clear_uffd_wp) without its
					 * uffd-wp bit, and a uffd-wp marker is dropped. */
					wi = pg_lookup(mm, va, &level);
					uint64_t e = W(mm)[wi];
					if (clear_uffd_wp && e == LX_UFFD_WP_MARKER)
						e = 0;
					else if (clear_uffd_wp && lx_present(e))
						e &= ~LX_PAGE_UFFD_WP;
					W(mm)[dwi] = e;
					W(mm)[wi] = 0;
				}
			}
		}
	}
	return 0;
}

/* mm/mprotect.c change_pte_range(): pte_modify() with the VMA's new
 * vm_page_prot, keeping the pfn and _PAGE_CHG_MASK (PWT, PCD, A, D,
 * special, uffd-wp, soft-dirty); then, for a writable private VMA, RW for
 * exclusive anonymous pages only (can_change_pte_writable). */
static uint64_t modify_one(const struct vma *v, uint64_t e, unsigned level)
{
	const uint64_t keep = X86_PWT | X86_PCD | X86_A | X86_D | LX_PAGE_SPECIAL | X86_AVL10 | X86_AVL11 |
	                      (level == 2 ? X86_PS : 0);
	uint64_t mask = level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK;
	uint64_t prot = pg_vma_page_prot(v);
	return pg_mk_entry(lx_pfn(e, mask), (e & keep) | (prot & ~keep), mask);
}

/* MM_CP_TRY_CHANGE_WRITABLE (vma_wants_manual_pte_write_upgrade: a writable
 * private VMA, or a shared one that write-notifies): mm/mprotect.c
 * can_change_pte_writable() / can_change_pmd_writable(). */
static bool can_change_writable(const mm_state *mm, const struct vma *v, uint64_t n, unsigned level)
{
	if (!(n & X86_P) || (n & X86_RW))
		return false;
	/* "Do we need write faults for uffd-wp tracking?" userfaultfd_pte_wp() */
	if ((v->vm_flags & MM_VM_UFFD_WP) && (n & LX_PAGE_UFFD_WP))
		return false;
	if ((v->vm_flags & (MM_VM_WRITE | MM_VM_SHARED)) == MM_VM_WRITE)
		return fr_anon_exclusive(mm, lx_pfn(n, level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK));
	/* can_change_shared_pte_writable(): a dirty entry of a shared VMA
	 * that write-notifies -- its page_mkwrite has been heard -- becomes
	 * writable again; a clean one stays read-only. */
	return vma_wants_writenotify(v) && (n & X86_D);
}

static uint64_t change_one(const mm_state *mm, const struct vma *v, uint64_t e, unsigned level)
{
	uint64_t n = modify_one(v, e, level);
	if (can_change_writable(mm, v, n, level))
		n |= X86_RW;
	return n;
}

static void change_huge(mm_state *mm, uint64_t wi, void *ctx)
{
	W(mm)[wi] = change_one(mm, ctx, W(mm)[wi], 2); /* change_huge_pmd */
}

static void change_pte(mm_state *mm, uint64_t wi, void *ctx)
{
	uint64_t e = W(mm)[wi];
	if (lx_present(e))
		W(mm)[wi] = change_one(mm, ctx, e, 1);
	/* none and guard markers: untouched */
}

void pg_change_protection(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	struct leaf_walk w = {change_huge, change_pte, (void *)v, 0, 0};
	walk_leaves(mm, start, end, &w);
}
/* mm/userfaultfd.c uffd_wp_range() -> change_protection() with
 * MM_CP_UFFD_WP (on) or MM_CP_UFFD_WP_RESOLVE | MM_CP_TRY_CHANGE_WRITABLE
 * (off), over [start, end) of one VMA. */
int pg_uffd_wp_range(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end, bool on)
{
	/* userfaultfd_wp_use_markers(): file-backed (shmem) memory protects
	 * its empty entries with markers; anonymous memory only with
	 * UFFD_FEATURE_WP_UNPOPULATED, which the context does not ask for. */
	bool markers = on && !vma_is_anonymous(v);
	uint64_t va = start;
	while (va < end) {
		unsigned level = 0;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (wi && level == 2) {
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			/* change_pmd_range(): a huge PMD the range covers whole is
			 * changed as one (change_huge_pmd: pmd_mkuffd_wp or
			 * pmd_clear_uffd_wp); one it covers in part, or a file one
			 * being protected (pgtable_split_needed), is split first --
			 * a shmem folio's PMD is then cleared, and gets markers. */
			if (hstart >= start && hstart + MM_PMD_SIZE <= end && !markers) {
				uint64_t e = W(mm)[wi];
				W(mm)[wi] = on ? lx_mkuffd_wp(modify_one(v, e, 2)) : change_one(mm, v, e & ~LX_PAGE_UFFD_WP, 2);
				va = hstart + MM_PMD_SIZE;
				continue;
			}
			if (pg_split_huge_pmd(mm, wi))
				return -ENOMEM;
			continue;
		}
		if (!wi) {
			if (!markers) {
				va = pg_skip_missing(mm, va);
				continue;
			}
			/* change_pmd_prepare() and its upper-level twins: tables
			 * for the markers. */
			wi = pg_alloc_pte(mm, va);
			if (!wi)
				return -ENOMEM;
		}
		uint64_t e = W(mm)[wi];
		/* change_pte_range(): */
		if (lx_present(e)) /* pte_modify(), then pte_mkuffd_wp / pte_clear_uffd_wp */
			W(mm)[wi] = on ? lx_mkuffd_wp(modify_one(v, e, 1)) : change_one(mm, v, e & ~LX_PAGE_UFFD_WP, 1);
		else if (e == LX_UFFD_WP_MARKER && !on) /* "drop it" */
			W(mm)[wi] = 0;
		else if (lx_none(e) && markers) /* make_pte_marker(PTE_MARKER_UFFD_WP) */
			W(mm)[wi] = LX_UFFD_WP_MARKER;
		/* a guard marker: "Ignore error swap entries unconditionally" */
		va += PAGE_SIZE;
	}
	return 0;
}

int pg_guard_install(mm_state *mm, struct vma *v, uint64_t start, uint64_t end)
{
	(void)v;
	/* mm/madvise.c madvise_guard_install(): populated pages are zapped
	 * and the walk retried until every entry holds the marker. */
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		uint64_t wi = pg_alloc_pte(mm, va);
		if (!wi)
			return -ENOMEM;
		if (W(mm)[wi] != LX_GUARD_MARKER)
			pg_set_entry(mm, wi, 1, LX_GUARD_MARKER);
	}
	return 0;
}

void pg_guard_remove(mm_state *mm, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (wi && level == 1 && W(mm)[wi] == LX_GUARD_MARKER)
			W(mm)[wi] = 0;
	}
}

struct cache_range {
	const struct mm_object *obj;
	uint64_t pgoff, pend;
};

static void unmap_cache_pages_here(mm_state *mm, void *ctx)
{
	const struct cache_range *r = ctx;
	const struct mm_object *obj = r->obj;
	uint64_t pgoff = r->pgoff, pend = r->pend;
	for (struct vma *v = vt_first(&mm->vt); v; v = v->node.next) {
		if (v->obj != obj)
			continue;
		uint64_t vp0 = v->vm_pgoff, vp1 = v->vm_pgoff + vma_pages(v);
		uint64_t lo = pgoff > vp0 ? pgoff : vp0, hi = pend < vp1 ? pend : vp1;
		for (uint64_t p = lo; p < hi; p++) {
			uint64_t va = v->vm_start + ((p - vp0) << PAGE_SHIFT);
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			if (!wi || !lx_present(W(mm)[wi]))
				continue;
			/* a PMD mapping a huge folio goes whole */
			const struct frame *f = fr_get(mm->pt, lx_pfn(W(mm)[wi], level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK));
			if (!f || f->kind != FR_CACHE)
				continue;
			/* zap_install_uffd_wp_if_needed() (unmap_mapping_range) and
			 * try_to_unmap_one(): pte_install_uffd_wp_if_needed() */
			bool arm = level == 1 && (v->vm_flags & MM_VM_UFFD_WP) && (W(mm)[wi] & LX_PAGE_UFFD_WP);
			pg_set_entry(mm, wi, level, arm ? LX_UFFD_WP_MARKER : 0);
		}
	}
}

/* unmap_mapping_range() walks the object's i_mmap: every VMA that maps it,
 * in every process. */
void pg_unmap_cache_pages(mm_state *mm, const struct mm_object *obj, uint64_t pgoff, uint64_t pend)
{
	struct cache_range r = {obj, pgoff, pend};
	procs_each(mm, unmap_cache_pages_here, &r);
}

/* Writeback of obj: which pages are dirty (a PTE maps them dirty in some
 * shared VMA), then each of those write-protected and cleaned wherever a
 * shared VMA maps it. */
struct mkclean {
	const struct mm_object *obj;
	uint8_t *dirty; /* one byte per page of obj */
	uint64_t npages;
	bool clean; /* false: find the dirty pages; true: clean them */
	unsigned cleaned;
};

static void mkclean_here(mm_state *mm, void *ctx)
{
	struct mkclean *k = ctx;
	for (struct vma *v = vt_first(&mm->vt); v; v = v->node.next) {
		/* folio_mkclean() -> invalid_mkclean_vma(): shared VMAs only
		 * (a private mapping never maps the page writable). */
		if (v->obj != k->obj || !(v->vm_flags & MM_VM_SHARED))
			continue;
		for (uint64_t p = v->vm_pgoff; p < v->vm_pgoff + vma_pages(v) && p < k->npages; p++) {
			uint64_t va = v->vm_start + ((p - v->vm_pgoff) << PAGE_SHIFT);
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			if (!wi || level != 1 || !lx_present(W(mm)[wi]))
				continue;
			uint64_t e = W(mm)[wi];
			if (!k->clean) {
				if (e & X86_D)
					k->dirty[p] = 1;
			} else if (k->dirty[p] && (e & (X86_D | X86_RW))) {
				/* page_mkclean_one(): pte_wrprotect(), pte_mkclean() */
				W(mm)[wi] = e & ~(X86_D | X86_RW);
				k->cleaned++;
			}
		}
	}
}

int pg_mkclean_object(mm_state *mm, const struct mm_object *obj, unsigned *cleaned)
{
	struct mkclean k = {.obj = obj, .npages = (obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT};
	*cleaned = 0;
	if (!k.npages)
		return 0;
	k.dirty = mm_alloc(mm, k.npages);
	if (!k.dirty)
		return -ENOMEM;
	procs_each(mm, mkclean_here, &k);
	k.clean = true;
	procs_each(mm, mkclean_here, &k);
	mm_free(mm, k.dirty);
	*cleaned = k.cleaned;
	return 0;
}

/* MADV_REMOVE: fallocate(PUNCH_HOLE) on shmem (mm/shmem.c shmem_fallocate).
 * unmap_mapping_range(even_cows = 0) first: the hole's pages go from every
 * VMA of the object, and a PMD mapping a huge folio the hole reaches goes
 * whole (zap_pmd_range -> __split_huge_pmd); private COW copies and guard
 * markers stay. Then shmem_undo_range(): a large folio the hole cuts in part
 * is unmapped from everywhere and split around the hole's first page in it,
 * the piece holding the page after the hole again around that page
 * (truncate_inode_partial_folio -> try_folio_split_to_order); every page in
 * the hole leaves the cache [LIVE: huge-shmem-pmd-split.trace: a 2-page
 * hole leaves folios of 128 and 256 pages that a fault maps whole]. */
void pg_punch_hole(mm_state *mm, struct mm_object *obj, uint64_t pgoff, uint64_t npages)
{
	struct page_cache *c = obj->cache;
	if (!c || !npages)
		return;
	uint64_t pend = pgoff + npages;
	pg_unmap_cache_pages(mm, obj, pgoff, pend);
	uint64_t ends[2] = {pgoff, pend - 1};
	for (unsigned k = 0; k < 2; k++) {
		uint64_t first;
		unsigned order;
		if (!pc_folio(c, ends[k], &first, &order, NULL))
			continue;
		uint64_t size = 1ull << order;
		if (first >= pgoff && first + size <= pend)
			continue; /* wholly in the hole: it simply goes */
		pg_unmap_cache_pages(mm, obj, first, first + size);
		(void)pc_split_at(mm, c, pgoff > first ? pgoff : first);
		if (pend < first + size)
			(void)pc_split_at(mm, c, pend);
	}
	/* shmem_undo_range(): drop the pages from the cache. */
	pc_punch(mm, c, pgoff, pend);
}

/* vma_adjust_trans_huge() / split_huge_pmd_if_needed(): a VMA boundary is
 * about to fall at addr; a PMD-mapped huge page spanning it is split into
 * PTEs (the pages stay mapped). Without memory for the table, the huge page
 * is dropped instead. */
void pg_split_huge_at(mm_state *mm, uint64_t addr)
{
	if (!(addr & (MM_PMD_SIZE - 1)) || addr >= USER_TOP)
		return;
	unsigned level;
	uint64_t wi = pg_lookup(mm, addr, &level);
	if (!wi || level != 2)
		return;
	if (pg_split_huge_pmd(mm, wi))
		pg_set_entry(mm, wi, 2, 0);
}


uint64_t pg_table_pages(const mm_state *mm)
{
	return mm->pt->phys.in_use;
}

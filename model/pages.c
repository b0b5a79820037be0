/* Linux's page-table policy on top of the x86-64 tables of pagetable.c: the
 * frames behind the entries (anonymous pages, page-cache pages, the shared
 * zero page and the huge zero page), the entry encodings Linux uses
 * (protection_map, PROT_NONE, guard markers), and what munmap, mremap,
 * mprotect, madvise and populate do to the entries. The fault handler is
 * fault.c.
 *
 * Frames: table frames live in a struct pt_phys (real words the walker
 * reads); data frames are numbers from PG_DATA_PFN_BASE up with a struct
 * frame each and no contents. mapcount of a data frame = the leaf entries
 * whose mapped range covers it (a PMD leaf covers 512 frames), which is what
 * pt_check recounts.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pagetable.h"

enum frame_kind { FR_FREE = 0, FR_ANON, FR_CACHE, FR_ZERO, FR_HZERO };

struct frame {
	uint32_t mapcount;   /* leaf entries covering the frame */
	uint8_t kind;        /* enum frame_kind */
	uint8_t in_block;    /* part of a 2 MiB block (THP / huge zero) */
	uint16_t block_live; /* block head only: frames of the block in use */
	uint8_t dirty;       /* page cache: written back to the folio from a dirty PTE */
	uint8_t lazyfree;    /* anon: MADV_FREE'd (no longer swap-backed) */
	uint8_t split;       /* block head only: the THP folio was split into order-0 folios */
	uint8_t mlocked;     /* PG_mlocked kept after its VMA lost VM_LOCKED without munlock (pt_mark_mlocked) */
};

/* The pages of one object in the page cache: an open-addressing table
 * pgoff -> pfn. Keys hold pgoff + 2; 0 is empty, 1 a deleted slot. */
struct page_cache {
	uint64_t *keys, *pfns;
	uint64_t cap, used, count;
	struct page_cache *next; /* page_tables.caches */
	/* The 512-aligned page offsets whose 2 MiB are one huge folio, made by
	 * MADV_COLLAPSE (collapse_file); shmem_enabled=never makes none at
	 * fault time. */
	uint64_t *huge;
	size_t nhuge, huge_cap;
};

struct page_tables {
	struct pt_phys phys;
	uint64_t pml4; /* pfn of the PML4 (CR3) */
	struct frame *fm;
	uint64_t nfm, fm_cap;
	uint64_t *free4k, nfree4k; /* capacity fm_cap */
	uint64_t *free2m, nfree2m; /* capacity fm_cap / 512 + 1 */
	uint64_t zero_pfn, hzero_pfn;
	struct page_cache *caches;
	uint64_t total_mapcount; /* the sum of every frame's mapcount */
	uint64_t n_anon, n_cache; /* frames of each kind handed out (the leak checks) */
	uint32_t *check_counts;  /* pt_check's scratch: map counts per frame (zero between calls) */
	uint64_t *check_seen;    /* pt_check's scratch: the frames it counted */
	uint64_t check_cap;
};

#define W(mm) ((mm)->pt->phys.mem.words)
#define PMD_PAGES 512u
#define USER_TOP (1ull << 47)

static void *seam_alloc(void *ctx, size_t size) { return mm_alloc(ctx, size); }
static void seam_release(void *ctx, void *p) { mm_free(ctx, p); }

/* ---- Data frames ------------------------------------------------------- */

static struct frame *frame_of(const struct page_tables *pt, uint64_t pfn)
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

static uint64_t alloc_frame(mm_state *mm, enum frame_kind kind)
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
static uint64_t alloc_block(mm_state *mm, enum frame_kind kind)
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
	return PG_DATA_PFN_BASE + base;
}

static void free_frame(struct page_tables *pt, uint64_t pfn)
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

uint64_t pg_alloc_anon(mm_state *mm) { return alloc_frame(mm, FR_ANON); }
uint64_t pg_alloc_thp(mm_state *mm) { return alloc_block(mm, FR_ANON); }
uint64_t pg_zero_pfn(const mm_state *mm) { return mm->pt->zero_pfn; }
uint64_t pg_huge_zero_pfn(const mm_state *mm) { return mm->pt->hzero_pfn; }

bool pg_is_anon(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = frame_of(mm->pt, pfn);
	return f && f->kind == FR_ANON;
}

/* Without fork every anonymous page is PageAnonExclusive while mapped once. */
bool pg_anon_exclusive(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = frame_of(mm->pt, pfn);
	return f && f->kind == FR_ANON && f->mapcount == 1;
}

void pg_mark_dirty(mm_state *mm, uint64_t pfn)
{
	struct frame *f = frame_of(mm->pt, pfn);
	if (f && f->kind == FR_CACHE)
		f->dirty = 1;
}

bool pg_frame_holds_data(const mm_state *mm, uint64_t pfn)
{
	const struct frame *f = frame_of(mm->pt, pfn);
	return f && (f->kind == FR_ANON || f->kind == FR_CACHE);
}

void pg_free_unmapped(mm_state *mm, uint64_t pfn)
{
	struct frame *f = frame_of(mm->pt, pfn);
	if (f && f->kind == FR_ANON && f->mapcount == 0) {
		if (f->in_block) {
			uint64_t base = (pfn - PG_DATA_PFN_BASE) & ~(uint64_t)(PMD_PAGES - 1);
			for (uint64_t i = 0; i < PMD_PAGES; i++)
				free_frame(mm->pt, PG_DATA_PFN_BASE + base + i);
		} else {
			free_frame(mm->pt, pfn);
		}
	}
}

/* ---- The page cache ------------------------------------------------------ */

static uint64_t *cache_slot(const struct page_cache *c, uint64_t pgoff)
{
	if (!c || !c->cap)
		return NULL;
	uint64_t mask = c->cap - 1, i = (pgoff * 0x9e3779b97f4a7c15ull) >> 20 & mask;
	for (;; i = (i + 1) & mask) {
		if (c->keys[i] == pgoff + 2)
			return &c->pfns[i];
		if (c->keys[i] == 0)
			return NULL;
	}
}

static bool cache_huge_at(const struct page_cache *c, uint64_t pgoff, size_t *at)
{
	uint64_t base = pgoff & ~(uint64_t)(PMD_PAGES - 1);
	for (size_t i = 0; c && i < c->nhuge; i++)
		if (c->huge[i] == base) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

/* A page of a huge folio leaves the cache (hole punch, reclaim): the kernel
 * splits the folio first (truncate_inode_partial_folio, split_folio), so
 * what stays is small pages. */
static void cache_unmark_huge(struct page_cache *c, uint64_t pgoff)
{
	size_t at;
	if (cache_huge_at(c, pgoff, &at))
		c->huge[at] = c->huge[--c->nhuge];
}

static int cache_mark_huge(mm_state *mm, struct page_cache *c, uint64_t base)
{
	if (cache_huge_at(c, base, NULL))
		return 0;
	if (c->nhuge == c->huge_cap) {
		size_t ncap = c->huge_cap ? c->huge_cap * 2 : 4;
		uint64_t *n = mm_alloc(mm, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		if (c->nhuge)
			memcpy(n, c->huge, c->nhuge * sizeof(*n));
		mm_free(mm, c->huge);
		c->huge = n;
		c->huge_cap = ncap;
	}
	c->huge[c->nhuge++] = base;
	return 0;
}

static int cache_insert(mm_state *mm, struct page_cache *c, uint64_t pgoff, uint64_t pfn)
{
	if ((c->used + 1) * 2 > c->cap) {
		uint64_t ncap = c->cap ? c->cap * 2 : 64;
		while (c->count * 4 > ncap)
			ncap *= 2;
		uint64_t *k = mm_alloc(mm, ncap * sizeof(*k)), *p = mm_alloc(mm, ncap * sizeof(*p));
		if (!k || !p) {
			mm_free(mm, k);
			mm_free(mm, p);
			return -ENOMEM;
		}
		for (uint64_t i = 0; i < c->cap; i++) {
			if (c->keys[i] < 2)
				continue;
			uint64_t j = ((c->keys[i] - 2) * 0x9e3779b97f4a7c15ull) >> 20 & (ncap - 1);
			while (k[j])
				j = (j + 1) & (ncap - 1);
			k[j] = c->keys[i];
			p[j] = c->pfns[i];
		}
		mm_free(mm, c->keys);
		mm_free(mm, c->pfns);
		c->keys = k;
		c->pfns = p;
		c->cap = ncap;
		c->used = c->count;
	}
	uint64_t mask = c->cap - 1, i = (pgoff * 0x9e3779b97f4a7c15ull) >> 20 & mask;
	while (c->keys[i] >= 2)
		i = (i + 1) & mask;
	if (c->keys[i] == 0)
		c->used++;
	c->keys[i] = pgoff + 2;
	c->pfns[i] = pfn;
	c->count++;
	return 0;
}

uint64_t pg_cache_page(mm_state *mm, struct mm_object *obj, uint64_t pgoff, bool create)
{
	uint64_t *slot = cache_slot(obj->cache, pgoff);
	if (slot)
		return *slot;
	if (!create)
		return 0;
	if (!obj->cache) {
		struct page_cache *c = mm_alloc(mm, sizeof(*c));
		if (!c)
			return 0;
		c->next = mm->pt->caches;
		mm->pt->caches = c;
		obj->cache = c;
	}
	uint64_t pfn = alloc_frame(mm, FR_CACHE);
	if (!pfn)
		return 0;
	if (cache_insert(mm, obj->cache, pgoff, pfn)) {
		free_frame(mm->pt, pfn);
		return 0;
	}
	return pfn;
}

static void cache_free(mm_state *mm, struct page_cache *c)
{
	mm_free(mm, c->huge);
	for (uint64_t i = 0; i < c->cap; i++)
		if (c->keys[i] >= 2 && mm->pt->fm)
			free_frame(mm->pt, c->pfns[i]);
	mm_free(mm, c->keys);
	mm_free(mm, c->pfns);
	mm_free(mm, c);
}

void pt_object_release(mm_state *mm, struct mm_object *obj)
{
	struct page_cache *c = obj->cache;
	if (!c)
		return;
	for (struct page_cache **pp = &mm->pt->caches; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	cache_free(mm, c);
	obj->cache = NULL;
}

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
	return by[which[vm_flags & (MM_VM_READ | MM_VM_WRITE | MM_VM_EXEC | MM_VM_SHARED)]];
}

/* An entry for pfn with flags; PROT_NONE entries hold the pfn inverted
 * (arch/x86/include/asm/pgtable-invert.h: protnone_mask). */
static uint64_t mk_entry(uint64_t pfn, uint64_t flags, uint64_t pfn_mask)
{
	uint64_t addr = pfn << 12;
	if (lx_protnone(flags))
		addr = ~addr;
	return (addr & pfn_mask) | flags;
}

static bool is_huge_pde(uint64_t e) { return (e & X86_PS) && lx_present(e); }

/* Map counts of the frames a leaf entry covers. */
static void account(struct page_tables *pt, uint64_t e, unsigned level, int delta)
{
	if (!lx_present(e))
		return;
	bool huge = level == 2;
	uint64_t pfn = lx_pfn(e, huge ? PG_PMD_PFN_MASK : PG_PFN_MASK);
	for (uint64_t i = 0; i < (huge ? PMD_PAGES : 1u); i++) {
		struct frame *f = frame_of(pt, pfn + i);
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
				free_frame(pt, pfn + i);
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

static uint64_t table_of(uint64_t e) { return (e & PG_PFN_MASK) >> 12; }

uint64_t pg_lookup(const mm_state *mm, uint64_t va, unsigned *level)
{
	const uint64_t *w = mm->pt->phys.mem.words;
	uint64_t wi = mm->pt->pml4 * 512 + PT_INDEX(va, 4);
	for (unsigned l = 3; l >= 1; l--) {
		uint64_t e = w[wi];
		if (l == 1 && is_huge_pde(e)) {
			*level = 2;
			return wi;
		}
		if (!(e & X86_P))
			return 0;
		wi = table_of(e) * 512 + PT_INDEX(va, l);
	}
	*level = 1;
	return wi;
}

/* Where to look next when pg_lookup(va) found no table: the end of the
 * span of the first missing entry (so empty stretches of the address space
 * cost one step per missing upper-level entry). */
static uint64_t skip_missing(const mm_state *mm, uint64_t va)
{
	const uint64_t *w = mm->pt->phys.mem.words;
	uint64_t t = mm->pt->pml4;
	for (unsigned l = 4; l >= 2; l--) {
		uint64_t e = w[t * 512 + PT_INDEX(va, l)];
		if (!(e & X86_P) || (l == 2 && (e & X86_PS)))
			return (va | ((1ull << PT_LEVEL_SHIFT(l)) - 1)) + 1;
		t = table_of(e);
	}
	return (va | (MM_PMD_SIZE - 1)) + 1;
}

/* The entry at wi points to a table; allocate one if it is empty. Returns
 * the table's pfn or 0. */
static uint64_t ensure_table(mm_state *mm, uint64_t wi)
{
	uint64_t e = W(mm)[wi];
	if (e & X86_P)
		return table_of(e);
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
 * mappings of the 4 KiB zero page). 0 or -ENOMEM. */
static int split_huge_pmd(mm_state *mm, uint64_t pde_wi)
{
	uint64_t pt_pfn = pt_phys_alloc(&mm->pt->phys);
	if (!pt_pfn)
		return -ENOMEM;
	uint64_t pde = W(mm)[pde_wi];
	uint64_t base = lx_pfn(pde, PG_PMD_PFN_MASK);
	uint64_t flags = pde & (0xfffull | 0xfff0000000000000ull) & ~X86_PS;
	bool zero = base == mm->pt->hzero_pfn;
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		uint64_t e = mk_entry(zero ? mm->pt->zero_pfn : base + i, flags, PG_PFN_MASK);
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
	if (is_huge_pde(W(mm)[pde_wi]) && split_huge_pmd(mm, pde_wi))
		return 0;
	uint64_t pt_pfn = ensure_table(mm, pde_wi);
	if (!pt_pfn)
		return 0;
	return pt_pfn * 512 + PT_INDEX(va, 1);
}

/* ---- Life cycle ---------------------------------------------------------- */

int pt_create(mm_state *mm)
{
	struct page_tables *pt = mm_alloc(mm, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	mm->pt = pt;
	pt_phys_init(&pt->phys, seam_alloc, seam_release, mm);
	pt->pml4 = pt_phys_alloc(&pt->phys);
	pt->zero_pfn = pt->pml4 ? alloc_frame(mm, FR_ZERO) : 0;
	pt->hzero_pfn = pt->zero_pfn ? alloc_block(mm, FR_HZERO) : 0;
	if (!pt->hzero_pfn) {
		pt_destroy(mm);
		return -ENOMEM;
	}
	return 0;
}

int pt_reset(mm_state *mm)
{
	struct page_tables *pt = mm->pt;
	while (pt->caches) {
		struct page_cache *c = pt->caches;
		pt->caches = c->next;
		cache_free(mm, c);
	}
	pt_phys_reset(&pt->phys);
	if (pt->fm)
		memset(pt->fm, 0, pt->nfm * sizeof(*pt->fm));
	/* Everything else as pt_create's calloc left it; the memory is kept. */
	struct page_tables keep = *pt;
	memset(pt, 0, sizeof(*pt));
	pt->phys = keep.phys;
	pt->fm = keep.fm;
	pt->fm_cap = keep.fm_cap;
	pt->free4k = keep.free4k;
	pt->free2m = keep.free2m;
	pt->check_counts = keep.check_counts;
	pt->check_seen = keep.check_seen;
	pt->check_cap = keep.check_cap;
	pt->pml4 = pt_phys_alloc(&pt->phys);
	pt->zero_pfn = pt->pml4 ? alloc_frame(mm, FR_ZERO) : 0;
	pt->hzero_pfn = pt->zero_pfn ? alloc_block(mm, FR_HZERO) : 0;
	return pt->hzero_pfn ? 0 : -ENOMEM;
}

void pt_destroy(mm_state *mm)
{
	struct page_tables *pt = mm->pt;
	if (!pt)
		return;
	while (pt->caches) {
		struct page_cache *c = pt->caches;
		pt->caches = c->next;
		cache_free(mm, c);
	}
	for (struct mm_object *o = mm->objects; o; o = o->next_in_list)
		o->cache = NULL;
	pt_phys_fini(&pt->phys);
	mm_free(mm, pt->fm);
	mm_free(mm, pt->free4k);
	mm_free(mm, pt->free2m);
	free(pt->check_counts);
	free(pt->check_seen);
	mm_free(mm, pt);
	mm->pt = NULL;
}

/* ---- Range operations ------------------------------------------------------ */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Zaps the leaves of [start, end): pages always, guard markers only when
 * markers_too. A PMD leaf partly inside is split first (as
 * vma_adjust_trans_huge / __split_huge_pmd do). */
static void zap_range(mm_state *mm, uint64_t start, uint64_t end, bool markers_too)
{
	uint64_t va = start;
	while (va < end) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
		if (!wi) {
			va = skip_missing(mm, va); /* no table below */
			continue;
		}
		if (level == 2) {
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			if (hstart >= start && hstart + MM_PMD_SIZE <= end) {
				pg_set_entry(mm, wi, 2, 0); /* zap_huge_pmd */
				va = next_pmd;
				continue;
			}
			if (split_huge_pmd(mm, wi)) {
				/* No memory for the table: drop the whole THP. */
				pg_set_entry(mm, wi, 2, 0);
				va = next_pmd;
				continue;
			}
			continue; /* look again at the new PTE */
		}
		uint64_t stop = min_u64(end, next_pmd);
		for (; va < stop; va += PAGE_SIZE, wi++) {
			uint64_t e = W(mm)[wi];
			if (lx_none(e))
				continue;
			if (!lx_present(e) && !markers_too)
				continue; /* zap_pte_range keeps guard markers */
			pg_set_entry(mm, wi, 1, 0);
		}
	}
}

static bool table_empty(const mm_state *mm, uint64_t pfn)
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
			free_tables_in(mm, table_of(e), level - 1, va, start, end, floor, ceiling);
		if (va < floor || va + span > ceiling || !table_empty(mm, table_of(e)))
			continue;
		pt_phys_free(&mm->pt->phys, table_of(e));
		W(mm)[table * 512 + i] = 0;
	}
}

static void free_tables(mm_state *mm, uint64_t start, uint64_t end, uint64_t floor, uint64_t ceiling)
{
	free_tables_in(mm, mm->pt->pml4, 4, 0, start, end, floor, ceiling);
}

void pt_unmap_range(mm_state *mm, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	zap_range(mm, start, end, true);
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

void pt_zap_pages(mm_state *mm, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	zap_range(mm, start, end, false);
	/* CONFIG_PT_RECLAIM (mm/pt_reclaim.c): MADV_DONTNEED frees a page
	 * table whose whole PMD range it zapped, if nothing is left in it. */
	uint64_t first = (start + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1);
	uint64_t last = end & ~(MM_PMD_SIZE - 1);
	for (uint64_t a = first; a < last; a += MM_PMD_SIZE) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, a, &level);
		if (!wi || level != 1)
			continue;
		uint64_t pt_pfn = wi / 512;
		if (!table_empty(mm, pt_pfn))
			continue;
		uint64_t pde_wi = pg_alloc_pmd(mm, a); /* exists: no allocation */
		pt_phys_free(&mm->pt->phys, pt_pfn);
		W(mm)[pde_wi] = 0;
	}
}

int pt_move_range(mm_state *mm, uint64_t old_start, uint64_t new_start, uint64_t len)
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
				va = skip_missing(mm, va);
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
					if (de && !is_huge_pde(de) && table_empty(mm, table_of(de))) {
						pt_phys_free(&mm->pt->phys, table_of(de));
						W(mm)[dwi] = 0;
					} else if (de) {
						/* the destination has a table in use: move by PTEs */
						if (split_huge_pmd(mm, wi))
							return -ENOMEM;
						continue;
					}
					if (pass == 1) {
						wi = pg_lookup(mm, va, &level);
						W(mm)[dwi] = W(mm)[wi];
						W(mm)[wi] = 0;
					}
					va = next_pmd;
					continue;
				}
				if (split_huge_pmd(mm, wi))
					return -ENOMEM;
				continue;
			}
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			if (pmd_movable && hstart >= old_start && hstart + MM_PMD_SIZE <= old_end) {
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
					/* move_ptes(): the entry moves with its bits. */
					wi = pg_lookup(mm, va, &level);
					W(mm)[dwi] = W(mm)[wi];
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
static uint64_t change_one(const mm_state *mm, const struct vma *v, uint64_t e, unsigned level)
{
	const uint64_t keep = X86_PWT | X86_PCD | X86_A | X86_D | LX_PAGE_SPECIAL | X86_AVL10 | X86_AVL11 |
	                      (level == 2 ? X86_PS : 0);
	uint64_t mask = level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK;
	uint64_t pfn = lx_pfn(e, mask);
	uint64_t prot = pg_vm_page_prot(v->vm_flags);
	uint64_t n = mk_entry(pfn, (e & keep) | (prot & ~keep), mask);
	if ((v->vm_flags & (MM_VM_WRITE | MM_VM_SHARED)) == MM_VM_WRITE && (n & X86_P) && !(n & X86_RW) &&
	    pg_anon_exclusive(mm, pfn))
		n |= X86_RW;
	return n;
}

void pt_change_protection(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	uint64_t va = start;
	while (va < end) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
		if (!wi) {
			va = skip_missing(mm, va);
			continue;
		}
		if (level == 2) {
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			if (hstart >= start && hstart + MM_PMD_SIZE <= end) {
				W(mm)[wi] = change_one(mm, v, W(mm)[wi], 2); /* change_huge_pmd */
				va = next_pmd;
				continue;
			}
			if (split_huge_pmd(mm, wi)) {
				pg_set_entry(mm, wi, 2, 0);
				va = next_pmd;
			}
			continue;
		}
		uint64_t stop = min_u64(end, next_pmd);
		for (; va < stop; va += PAGE_SIZE, wi++) {
			uint64_t e = W(mm)[wi];
			if (lx_present(e))
				W(mm)[wi] = change_one(mm, v, e, 1);
			/* none and guard markers: untouched */
		}
	}
}

int pt_populate(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, bool write)
{
	/* __get_user_pages(): the caller has checked the VMA's permissions;
	 * a VMA nobody may access has nothing to fault in. */
	if (!(v->vm_flags & MM_VM_ACCESS_FLAGS))
		return -EFAULT;
	if (write && !(v->vm_flags & MM_VM_WRITE))
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
		switch (pg_handle_mm_fault(mm, v, va, write ? PG_FAULT_WRITE : 0)) {
		case PG_FAULT_OK:
			break;
		case PG_FAULT_OOM:
			return -ENOMEM;
		default:
			return -EFAULT;
		}
	}
	return 0;
}

int pt_guard_install(mm_state *mm, struct vma *v, uint64_t start, uint64_t end)
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

void pt_guard_remove(mm_state *mm, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (wi && level == 1 && W(mm)[wi] == LX_GUARD_MARKER)
			W(mm)[wi] = 0;
	}
}

void pt_punch_hole(mm_state *mm, struct mm_object *obj, uint64_t pgoff, uint64_t npages)
{
	struct page_cache *c = obj->cache;
	if (!c || !npages)
		return;
	uint64_t pend = pgoff + npages;
	/* unmap_mapping_range(even_cows = 0): page-cache pages go from every
	 * mapping; private COW copies stay. */
	for (struct vma *v = vt_first(&mm->vt); v; v = v->node.next) {
		if (v->obj != obj)
			continue;
		uint64_t vp0 = v->vm_pgoff, vp1 = v->vm_pgoff + vma_pages(v);
		uint64_t lo = pgoff > vp0 ? pgoff : vp0, hi = pend < vp1 ? pend : vp1;
		for (uint64_t p = lo; p < hi; p++) {
			uint64_t va = v->vm_start + ((p - vp0) << PAGE_SHIFT);
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			if (!wi || level != 1 || !lx_present(W(mm)[wi]))
				continue;
			const struct frame *f = frame_of(mm->pt, lx_pfn(W(mm)[wi], PG_PFN_MASK));
			if (f && f->kind == FR_CACHE)
				pg_set_entry(mm, wi, 1, 0);
		}
	}
	/* shmem_undo_range(): drop the pages from the cache. */
	for (uint64_t i = 0; i < c->cap; i++) {
		if (c->keys[i] < 2 || c->keys[i] - 2 < pgoff || c->keys[i] - 2 >= pend)
			continue;
		struct frame *f = frame_of(mm->pt, c->pfns[i]);
		if (f && f->mapcount == 0)
			free_frame(mm->pt, c->pfns[i]);
		else if (f)
		{
			f->kind = FR_ANON; /* still mapped (cannot happen): freed with its last entry */
			mm->pt->n_cache--;
			mm->pt->n_anon++;
		}
		c->keys[i] = 1;
		c->count--;
	}
	for (size_t i = 0; i < c->nhuge;) {
		if (c->huge[i] + PMD_PAGES > pgoff && c->huge[i] < pend)
			c->huge[i] = c->huge[--c->nhuge];
		else
			i++;
	}
}

/* ---- Observation ------------------------------------------------------------- */

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
	const struct frame *f = frame_of(mm->pt, pfn);
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

/* ---- The checker ----------------------------------------------------------- */
/* I11 every entry (page or marker) lies inside a VMA;
 * I12 no entry grants more than its VMA: P=1 needs an accessible VMA and
 *     U=1; RW only with VM_WRITE (private: only on an anonymous page); NX
 *     exactly when the VMA lacks VM_EXEC; PROT_NONE entries only in VMAs
 *     without R/W/X;
 * I13 the zero pages are never mapped writable, nor at all where the profile
 *     forbids them (zero_page=off; thp_zero_page=off for the huge one);
 * I14 every data frame's map count equals the entries that map it, and no
 *     entry maps a free frame;
 * I15 upper-level entries are tables in Linux's _PAGE_TABLE format;
 * I16 nothing leaks: every anonymous frame is mapped, every page-cache frame
 *     in its object's cache, every table page pointed to;
 * I18 (contents) no anonymous page is mapped twice: without fork an
 *     anonymous page belongs to one address, and a second mapping would
 *     share data that Linux copies;
 * I19 (contents) every view of an object sees the same data: a shared
 *     mapping maps only page-cache pages, and a page-cache page is mapped
 *     only where its own object's page at that file offset belongs. */
size_t pt_check(const mm_state *mm, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx)
{
	const struct page_tables *pt = mm->pt;
	const uint64_t *w = pt->phys.mem.words;
	size_t n = 0;
	/* The scratch array is kept between calls: the checker runs after
	 * every statement of a fuzz run. Outside the allocation seam: the
	 * checker must not change what the model's allocations do. */
	struct page_tables *ptm = mm->pt;
	if (ptm->check_cap < pt->nfm + 1) {
		free(ptm->check_counts);
		free(ptm->check_seen);
		ptm->check_cap = pt->nfm + 1;
		ptm->check_counts = calloc(ptm->check_cap, sizeof(*ptm->check_counts));
		ptm->check_seen = malloc(ptm->check_cap * sizeof(*ptm->check_seen));
		if (!ptm->check_counts || !ptm->check_seen) {
			free(ptm->check_counts);
			free(ptm->check_seen);
			ptm->check_counts = NULL;
			ptm->check_seen = NULL;
			ptm->check_cap = 0;
		}
	}
	uint32_t *counts = ptm->check_counts;
	uint64_t nseen = 0, anon_seen = 0, tables_seen = 1; /* the PML4 */
	const struct vma *v = NULL; /* the VMA of the last entry, reused while it covers */
#define REPORT(inv, v, what)                   \
	do {                                   \
		n++;                           \
		if (report)                    \
			report(ctx, inv, v, what); \
	} while (0)
	for (unsigned i4 = 0; i4 < 256; i4++) {
		uint64_t e4 = w[pt->pml4 * 512 + i4];
		if (!e4)
			continue;
		if ((e4 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
			REPORT(15, NULL, "PML4E not in _PAGE_TABLE format");
			continue;
		}
		tables_seen++;
		for (unsigned i3 = 0; i3 < 512; i3++) {
			uint64_t e3 = w[table_of(e4) * 512 + i3];
			if (!e3)
				continue;
			if ((e3 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
				REPORT(15, NULL, "PDPTE not in _PAGE_TABLE format");
				continue;
			}
			tables_seen++;
			for (unsigned i2 = 0; i2 < 512; i2++) {
				uint64_t e2 = w[table_of(e3) * 512 + i2];
				uint64_t va2 = ((uint64_t)i4 << 39) | ((uint64_t)i3 << 30) | ((uint64_t)i2 << 21);
				if (!e2)
					continue;
				unsigned nleaf = is_huge_pde(e2) ? 1 : 512;
				if (!is_huge_pde(e2) && (e2 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
					REPORT(15, NULL, "PDE neither a table nor a huge leaf");
					continue;
				}
				tables_seen += !is_huge_pde(e2);
				for (unsigned i1 = 0; i1 < nleaf; i1++) {
					unsigned level = nleaf == 1 ? 2 : 1;
					uint64_t e = nleaf == 1 ? e2 : w[table_of(e2) * 512 + i1];
					uint64_t va = va2 | ((uint64_t)i1 << 12);
					if (lx_none(e))
						continue;
					if (!v || va < v->vm_start || va >= v->vm_end)
						v = vt_lookup(&mm->vt, va);
					uint64_t vend = va + (level == 2 ? MM_PMD_SIZE : PAGE_SIZE);
					if (!v || vend > v->vm_end) {
						REPORT(11, v, "entry outside every VMA");
						continue;
					}
					if (!lx_present(e)) {
						if (level != 1 || e != LX_GUARD_MARKER)
							REPORT(12, v, "unknown non-present entry");
						continue;
					}
					uint64_t f = v->vm_flags;
					uint64_t pfn = lx_pfn(e, level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK);
					if (lx_protnone(e) != !(f & MM_VM_ACCESS_FLAGS))
						REPORT(12, v, "PROT_NONE encoding disagrees with the VMA");
					if ((e & X86_P) && !(e & X86_US))
						REPORT(12, v, "user page without U/S");
					if ((e & X86_RW) && !(f & MM_VM_WRITE))
						REPORT(12, v, "RW without VM_WRITE");
					if ((e & X86_RW) && !(f & MM_VM_SHARED) && !pg_is_anon(mm, pfn))
						REPORT(12, v, "RW on a non-anonymous page of a private VMA");
					if ((e & X86_P) && !!(e & X86_XD) != !(f & MM_VM_EXEC))
						REPORT(12, v, "NX disagrees with VM_EXEC");
					if ((pfn == pt->zero_pfn || pfn == pt->hzero_pfn) && (e & X86_RW))
						REPORT(13, v, "zero page mapped writable");
					/* The profile: no zero page at all under
					 * mm_forbids_zeropage(), no huge one without
					 * use_zero_page. */
					/* (The 4 KiB one may still appear: a THP split
					 * maps zero-filled subpages to it whatever the
					 * profile [LIVE, pvm_no_zero_page=1].) */
					if (pfn == pt->hzero_pfn && !mm->cfg.zero_page)
						REPORT(13, v, "zero page mapped under zero_page=off");
					if (pfn == pt->hzero_pfn && !mm->cfg.thp_zero_page)
						REPORT(13, v, "huge zero page mapped under thp_zero_page=off");
					for (unsigned k = 0; k < (level == 2 ? PMD_PAGES : 1u); k++) {
						const struct frame *fr = frame_of(pt, pfn + k);
						if (!fr || fr->kind == FR_FREE)
							REPORT(14, v, "entry maps a free or unknown frame");
						/* I18, I19: contents (issue 18). */
						else if (fr->kind == FR_ANON && fr->mapcount > 1)
							REPORT(18, v, "an anonymous page mapped twice: shared where Linux copies");
						else if ((f & MM_VM_SHARED) && fr->kind != FR_CACHE)
							REPORT(19, v, "a shared mapping maps a page outside its object's cache");
						else if (fr->kind == FR_CACHE && level == 1 &&
						         (!v->obj || !cache_slot(v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT)) ||
						          *cache_slot(v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT)) != pfn))
							REPORT(19, v, "a page-cache page mapped at another file offset or object");
						else if (counts && counts[pfn + k - PG_DATA_PFN_BASE]++ == 0) {
							ptm->check_seen[nseen++] = pfn + k - PG_DATA_PFN_BASE;
							anon_seen += fr->kind == FR_ANON;
						}
					}
				}
			}
		}
	}
	if (counts) {
		/* Every frame an entry maps has exactly that many entries; and
		 * since the map counts of all frames add up to no more than those
		 * seen, no frame counts a mapping that is not there. O(entries),
		 * not O(frames): the scratch array is zeroed as it is read. */
		uint64_t seen_total = 0;
		for (uint64_t i = 0; i < nseen; i++) {
			uint64_t f = ptm->check_seen[i];
			if (counts[f] != pt->fm[f].mapcount)
				REPORT(14, NULL, "frame map count differs from the entries that map it");
			seen_total += pt->fm[f].mapcount;
			counts[f] = 0;
		}
		if (seen_total != pt->total_mapcount)
			REPORT(14, NULL, "frames count mappings that no entry makes");
		/* I16: nothing leaks. An anonymous frame lives only while mapped
		 * (zap frees it), a page-cache frame while in its object's cache,
		 * a table page while a table entry points to it. */
		if (anon_seen != pt->n_anon)
			REPORT(16, NULL, "anonymous frames that no entry maps");
	}
	uint64_t cached = 0;
	for (const struct page_cache *c = pt->caches; c; c = c->next)
		cached += c->count;
	if (cached != pt->n_cache)
		REPORT(16, NULL, "page-cache frames in no object's cache");
	if (tables_seen != pt->phys.in_use)
		REPORT(16, NULL, "page-table pages that no table entry points to");
#undef REPORT
	return n;
}

/* The data frame a present 4 KiB entry maps, or NULL. */
static struct frame *pte_frame(mm_state *mm, uint64_t wi)
{
	return frame_of(mm->pt, lx_pfn(W(mm)[wi], PG_PFN_MASK));
}

/* The head pfn of the large (not split) anonymous folio -- a THP -- that
 * pfn belongs to, or 0. */
static uint64_t large_anon_head(const struct page_tables *pt, uint64_t pfn)
{
	const struct frame *f = frame_of(pt, pfn);
	if (!f || f->kind != FR_ANON || !f->in_block)
		return 0;
	uint64_t base = (pfn - PG_DATA_PFN_BASE) & ~(uint64_t)(PMD_PAGES - 1);
	return pt->fm[base].split ? 0 : PG_DATA_PFN_BASE + base;
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
static void split_anon_folio(mm_state *mm, uint64_t head)
{
	struct page_tables *pt = mm->pt;
	uint64_t base = head - PG_DATA_PFN_BASE;
	uint64_t left = 0;
	for (unsigned i = 0; i < PMD_PAGES; i++)
		left += pt->fm[base + i].mapcount;
	for (struct vma *v = vt_first(&mm->vt); v && left; v = v->node.next) {
		if (v->obj)
			continue;
		uint64_t va = v->vm_start;
		while (va < v->vm_end && left) {
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
			if (!wi) {
				va = skip_missing(mm, va);
				continue;
			}
			if (level == 2) {
				uint64_t e = W(mm)[wi];
				if (is_huge_pde(e) && lx_pfn(e, PG_PMD_PFN_MASK) == head) {
					if (split_huge_pmd(mm, wi)) {
						pg_set_entry(mm, wi, 2, 0); /* no table: drop it */
						return;
					}
					continue; /* look again at the PTEs */
				}
				va = next_pmd;
				continue;
			}
			for (uint64_t stop = min_u64(v->vm_end, next_pmd); va < stop; va += PAGE_SIZE, wi++) {
				uint64_t e = W(mm)[wi];
				if (!lx_present(e))
					continue;
				uint64_t pfn = lx_pfn(e, PG_PFN_MASK);
				if (pfn < head || pfn >= head + PMD_PAGES)
					continue;
				left--;
				/* Since 6.12 ("mm: remap unused subpages to shared
				 * zeropage when splitting isolated thp"); before it
				 * every subpage stays an anonymous page. */
				if ((v->vm_flags & MM_VM_LOCKED) || !mm_kernel_at_least(mm, 612))
					continue;
				/* try_to_map_unused_to_zeropage(): only a subpage
				 * that holds nothing but zeroes (contents.c). */
				if (!ct_is_zero(mm, pfn))
					continue;
				/* pte_mkspecial(pfn_pte(zero, vma->vm_page_prot)) */
				pg_set_entry(mm, wi, 1, mk_entry(pt->zero_pfn, pg_vm_page_prot(v->vm_flags) | LX_PAGE_SPECIAL,
				                                 PG_PFN_MASK));
			}
		}
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
		for (unsigned i = 0; i < PMD_PAGES; i++)
			pt->fm[base + i].lazyfree = 0;
		return;
	}
	/* A PMD mapping is split first (try_to_unmap_one with
	 * TTU_SPLIT_HUGE_PMD: the folio is isolated, so the discard of the
	 * whole PMD does not apply): the page table stays, emptied, and a
	 * later fault there maps 4 KiB pages [LIVE: free-thp-then-pageout]. */
	if (level == 2) {
		if (split_huge_pmd(mm, wi)) {
			pg_set_entry(mm, wi, 2, 0); /* no table: drop it whole */
			return;
		}
		wi = table_of(W(mm)[wi]) * PT_ENTRIES; /* the new table's first entry */
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
	if (!f || f->kind != FR_ANON || f->mapcount != 1 || f->mlocked)
		return;
	f->lazyfree = 1;
	W(mm)[wi] &= ~(uint64_t)(X86_D | X86_A);
}

/* Drops page pgoff of the object's cache (it must be unmapped everywhere). */
static void cache_drop(mm_state *mm, struct page_cache *c, uint64_t pgoff)
{
	uint64_t *slot = cache_slot(c, pgoff);
	if (!slot)
		return;
	free_frame(mm->pt, *slot);
	c->keys[slot - c->pfns] = 1;
	c->count--;
	cache_unmark_huge(c, pgoff);
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
		cache_drop(mm, v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT));
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
static void thp_aware_walk(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end, enum thp_walk how)
{
	uint64_t va = start;
	while (va < end) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
		if (!wi) {
			va = skip_missing(mm, va);
			continue;
		}
		if (level == 2) {
			uint64_t e = W(mm)[wi];
			uint64_t head = is_huge_pde(e) ? large_anon_head(mm->pt, lx_pfn(e, PG_PMD_PFN_MASK)) : 0;
			if (!head) { /* the huge zero page */
				va = next_pmd;
				continue;
			}
			uint64_t hstart = va & ~(MM_PMD_SIZE - 1);
			if (hstart < start || hstart + MM_PMD_SIZE > end) {
				split_anon_folio(mm, head);
				continue;
			}
			if (how == WALK_FREE && !frame_of(mm->pt, head)->mlocked) {
				for (unsigned i = 0; i < PMD_PAGES; i++)
					frame_of(mm->pt, head + i)->lazyfree = 1;
				W(mm)[wi] &= ~(uint64_t)(X86_D | X86_A);
			} else if (how == WALK_PAGEOUT) {
				reclaim_anon_folio(mm, v, head, wi, 2);
			}
			va = next_pmd;
			continue;
		}
		uint64_t stop = min_u64(end, next_pmd);
		while (va < stop) {
			uint64_t e = W(mm)[wi];
			if (!lx_present(e)) {
				va += PAGE_SIZE;
				wi++;
				continue;
			}
			uint64_t head = large_anon_head(mm->pt, lx_pfn(e, PG_PFN_MASK));
			if (head) {
				unsigned nr = folio_pte_batch(mm, wi, va, stop, head);
				if (nr < PMD_PAGES) {
					split_anon_folio(mm, head);
					continue; /* the same PTE again: now order 0 */
				}
				if (how == WALK_FREE && !frame_of(mm->pt, head)->mlocked) {
					for (unsigned i = 0; i < PMD_PAGES; i++) {
						frame_of(mm->pt, head + i)->lazyfree = 1;
						W(mm)[wi + i] &= ~(uint64_t)(X86_D | X86_A);
					}
				} else if (how == WALK_PAGEOUT) {
					reclaim_anon_folio(mm, v, head, wi, 1);
				}
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
	}
}

/* MADV_FREE (mm/madvise.c: madvise_free_pte_range): every anonymous page
 * mapped only here becomes lazily freeable -- clean (PTE dirty bit cleared)
 * and no longer swap-backed -- but stays mapped. A later store dirties it
 * again, and then reclaim keeps it. THPs: thp_aware_walk. */
void pt_mark_lazyfree(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
{
	thp_aware_walk(mm, v, start, end, WALK_FREE);
}

/* MADV_COLD: only THPs covered in part change (they are split). */
void pt_cold(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
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
void pt_pageout(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end)
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
int pt_collapse(mm_state *mm, struct vma *v, uint64_t h)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	if (wi && level == 2)
		return 0;
	if (!wi)
		return -EINVAL;
	if (wi && level == 1) {
		const uint64_t *t = W(mm) + (wi & ~(uint64_t)(PT_ENTRIES - 1));
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (t[i] && !lx_present(t[i]))
				return -EINVAL; /* a guard marker */
	}
	if (anon_vma_prepare(mm, v))
		return -ENOMEM;
	uint64_t thp = pg_alloc_thp(mm);
	if (!thp)
		return -ENOMEM;
	/* __collapse_huge_page_copy(): every small page's contents go into
	 * the THP (the zero page and none copy zeroes). */
	if (wi && level == 1) {
		const uint64_t *t = W(mm) + (wi & ~(uint64_t)(PT_ENTRIES - 1));
		for (unsigned i = 0; i < PT_ENTRIES; i++)
			if (lx_present(t[i]) && ct_copy(mm, thp + i, lx_pfn(t[i], PG_PFN_MASK))) {
				pg_free_unmapped(mm, thp);
				return -ENOMEM;
			}
	}
	zap_range(mm, h, h + MM_PMD_SIZE, true);
	uint64_t pde = pg_alloc_pmd(mm, h);
	if (!pde) {
		pg_free_unmapped(mm, thp);
		return -ENOMEM;
	}
	uint64_t e = W(mm)[pde];
	if (e && !(e & X86_PS)) { /* the emptied page table goes */
		pt_phys_free(&mm->pt->phys, (e & PG_PFN_MASK) >> 12);
		W(mm)[pde] = 0;
	}
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
void pt_mark_mlocked(mm_state *mm, uint64_t start, uint64_t end, bool on)
{
	for (uint64_t va = start; va < end;) {
		unsigned level;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (!wi) {
			va = skip_missing(mm, va);
			continue;
		}
		uint64_t e = W(mm)[wi];
		if (level == 2) {
			uint64_t head = is_huge_pde(e) ? large_anon_head(mm->pt, lx_pfn(e, PG_PMD_PFN_MASK)) : 0;
			for (unsigned i = 0; head && i < PMD_PAGES; i++)
				frame_of(mm->pt, head + i)->mlocked = on;
			va = (va | (MM_PMD_SIZE - 1)) + 1;
			continue;
		}
		struct frame *f = lx_present(e) ? pte_frame(mm, wi) : NULL;
		if (f && (f->kind == FR_ANON || f->kind == FR_CACHE))
			f->mlocked = on;
		va += PAGE_SIZE;
	}
}

/* ---- Huge page-cache folios (issue 15 case 4) ----------------------------------- */

/* The model maps a huge page-cache folio with 512 PTEs where the kernel uses
 * one PMD: the page states are the same (`file`); what a later split of that
 * PMD does (a partial munmap, mprotect or MADV_DONTNEED of a PMD-mapped file
 * folio zaps the whole PMD) is not modelled (docs/divergences.md). */

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

/* Maps the huge folio at base into v's block h, every empty entry (a PMD in
 * the kernel: set_huge_pmd(), do_set_pmd(), or finish_fault() mapping the
 * whole folio), with the VMA's protection; a shared write fault makes them
 * writable and dirty. */
static int map_cache_block(mm_state *mm, const struct vma *v, uint64_t h, uint64_t base, bool write)
{
	uint64_t flags = pg_vm_page_prot(v->vm_flags);
	if (write && (v->vm_flags & MM_VM_SHARED) && (v->vm_flags & MM_VM_WRITE))
		flags |= X86_RW | X86_D;
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		uint64_t pfn = pg_cache_page(mm, v->obj, base + i, false);
		if (!pfn)
			continue;
		uint64_t wi = pg_alloc_pte(mm, h + ((uint64_t)i << PAGE_SHIFT));
		if (!wi)
			return -ENOMEM;
		if (lx_none(W(mm)[wi]))
			pg_set_entry(mm, wi, 1, (pfn << 12) | flags);
	}
	return 0;
}

/* collapse_pte_mapped_thp(install_pmd = true) for v's block h over the huge
 * folio at base: every entry of the block's page table must be none or map
 * the folio's own page (else SCAN_FAIL: -EINVAL, the walk stops -- a
 * private mapping's COW copy); a guard marker is SCAN_PTE_NON_PRESENT, which
 * lets the walk go on but fails the call (1). Then the folio is mapped. */
static int install_cache_block(mm_state *mm, struct vma *v, uint64_t h, uint64_t base)
{
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	if (wi && level == 1) {
		const uint64_t *t = W(mm) + (wi & ~(uint64_t)(PT_ENTRIES - 1));
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			if (lx_none(t[i]))
				continue;
			if (!lx_present(t[i]))
				return 1;
			if (lx_pfn(t[i], PG_PFN_MASK) != pg_cache_page(mm, v->obj, base + i, false))
				return -EINVAL;
		}
	}
	return map_cache_block(mm, v, h, base, false);
}

/* MADV_COLLAPSE of the 2 MiB block h of a shmem/memfd VMA v (both shared
 * and private mappings: vma_is_anonymous() is false for them):
 * hpage_collapse_scan_file() -> collapse_file(), then
 * collapse_pte_mapped_thp(). A block already one huge folio goes straight
 * to the latter. Otherwise a block whose cache holds nothing is
 * SCAN_TRUNCATED (-EINVAL, the walk stops); else the holes are filled (a
 * zero-filled huge folio replaces the small pages, dirty), every small page
 * of the range is unmapped from every VMA of the object (try_to_unmap; COW
 * copies stay), retract_page_tables() drops the emptied tables of VMAs
 * without an anon_vma that map the block aligned, and the folio is mapped
 * into v [LIVE: madvise-collapse-shmem-file.trace]. Returns 0, 1
 * (continue, but the call fails with EINVAL) or a negative errno (stop). */
int pt_collapse_file(mm_state *mm, struct vma *v, uint64_t h)
{
	struct mm_object *obj = v->obj;
	uint64_t base = block_pgoff(v, h);
	if (base == UINT64_MAX)
		return -EINVAL;
	if (cache_huge_at(obj->cache, base, NULL))
		return install_cache_block(mm, v, h, base);
	unsigned present = 0;
	for (unsigned i = 0; i < PMD_PAGES && obj->cache; i++)
		present += cache_slot(obj->cache, base + i) != NULL;
	if (!present)
		return -EINVAL;
	for (struct vma *w = vt_first(&mm->vt); w; w = w->node.next) {
		if (w->obj != obj)
			continue;
		uint64_t wp0 = w->vm_pgoff, wp1 = w->vm_pgoff + vma_pages(w);
		uint64_t lo = base > wp0 ? base : wp0, hi = base + PMD_PAGES < wp1 ? base + PMD_PAGES : wp1;
		for (uint64_t p = lo; p < hi; p++) {
			uint64_t va = w->vm_start + ((p - wp0) << PAGE_SHIFT);
			unsigned level;
			uint64_t wi = pg_lookup(mm, va, &level);
			if (!wi || level != 1 || !lx_present(W(mm)[wi]))
				continue;
			const struct frame *f = frame_of(mm->pt, lx_pfn(W(mm)[wi], PG_PFN_MASK));
			if (f && f->kind == FR_CACHE)
				pg_set_entry(mm, wi, 1, 0);
		}
	}
	for (unsigned i = 0; i < PMD_PAGES; i++) {
		uint64_t pfn = pg_cache_page(mm, obj, base + i, true);
		if (!pfn)
			return -ENOMEM;
		frame_of(mm->pt, pfn)->dirty = 1;
	}
	if (cache_mark_huge(mm, obj->cache, base))
		return -ENOMEM;
	for (struct vma *w = vt_first(&mm->vt); w; w = w->node.next) {
		if (w->obj != obj || w->anon_vma || base < w->vm_pgoff)
			continue;
		uint64_t wh = w->vm_start + ((base - w->vm_pgoff) << PAGE_SHIFT);
		if (block_pgoff(w, wh) != base || (wh & (MM_PMD_SIZE - 1)))
			continue;
		unsigned level;
		uint64_t wi = pg_lookup(mm, wh, &level);
		if (!wi || level != 1 || !table_empty(mm, wi / PT_ENTRIES))
			continue;
		uint64_t pde = pg_alloc_pmd(mm, wh);
		if (pde && W(mm)[pde] && !(W(mm)[pde] & X86_PS)) {
			pt_phys_free(&mm->pt->phys, (W(mm)[pde] & PG_PFN_MASK) >> 12);
			W(mm)[pde] = 0;
		}
	}
	return install_cache_block(mm, v, h, base);
}

/* A fault in a shmem/memfd VMA on a block that is one huge folio: with no
 * page table there (pmd_none), do_set_pmd() maps it whole (read faults via
 * filemap_map_pmd() in fault-around, shared write faults via finish_fault());
 * a shared write fault with a table maps the whole folio too (finish_fault()
 * for shmem, when it lies inside the VMA and the table). Not for
 * VM_NOHUGEPAGE (vma_thp_disabled), nor a private write (do_cow_fault).
 * true when it handled the fault. */
bool pt_fault_cache_block(mm_state *mm, const struct vma *v, uint64_t addr, bool write)
{
	if (!v->obj || !v->obj->cache || !v->obj->cache->nhuge || (v->vm_flags & MM_VM_NOHUGEPAGE))
		return false;
	if (write && !(v->vm_flags & MM_VM_SHARED))
		return false;
	uint64_t h = addr & ~(MM_PMD_SIZE - 1), base = block_pgoff(v, h);
	if (base == UINT64_MAX || !cache_huge_at(v->obj->cache, base, NULL))
		return false;
	if (base + PMD_PAGES > (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT)
		return false;
	unsigned level;
	uint64_t wi = pg_lookup(mm, h, &level);
	if (wi && level == 1 && !write)
		return false;
	if (wi && level == 1 && !lx_none(W(mm)[pg_lookup(mm, addr, &level)]))
		return false;
	return map_cache_block(mm, v, h, base, write) == 0;
}

/* vma_adjust_trans_huge() / split_huge_pmd_if_needed(): a VMA boundary is
 * about to fall at addr; a PMD-mapped huge page spanning it is split into
 * PTEs (the pages stay mapped). Without memory for the table, the huge page
 * is dropped instead. */
void pt_split_huge_at(mm_state *mm, uint64_t addr)
{
	if (!(addr & (MM_PMD_SIZE - 1)) || addr >= USER_TOP)
		return;
	unsigned level;
	uint64_t wi = pg_lookup(mm, addr, &level);
	if (!wi || level != 2)
		return;
	if (split_huge_pmd(mm, wi))
		pg_set_entry(mm, wi, 2, 0);
}

uint64_t pt_table_pages(const mm_state *mm)
{
	return mm->pt->phys.in_use;
}

uint64_t pt_anon_frames(const mm_state *mm)
{
	return mm->pt->n_anon;
}

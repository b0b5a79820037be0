/* The naive oracle: state, array helpers, pages, objects, observation. */
#include "naive_internal.h"

#include <stdlib.h>
#include <string.h>

void *nv_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(arr, ncap * elem);
	if (!p)
		abort(); /* the oracle does not model allocation failure */
	*cap = ncap;
	return p;
}

naive_mm *naive_create(const mm_config *cfg)
{
	naive_mm *nm = calloc(1, sizeof(*nm));
	if (!nm)
		return NULL;
	if (cfg) {
		nm->cfg = *cfg;
	} else {
		nm->cfg.max_map_count = MM_DEFAULT_MAX_MAP_COUNT;
		nm->cfg.mmap_min_addr = MM_DEFAULT_MMAP_MIN_ADDR;
		nm->cfg.stack_guard_gap = MM_DEFAULT_STACK_GUARD_GAP;
		nm->cfg.mmap_base = 0x7f0000000000ull;
		nm->cfg.mmap_low = MM_PAGE_SIZE;
		nm->cfg.stack_rlimit = 8ull << 20;
		nm->cfg.thp_enabled = true;
		/* The default profile of docs/profiles.md. */
		nm->cfg.kernel_version = MM_DEFAULT_KERNEL_VERSION;
		nm->cfg.zero_page = true;
		nm->cfg.thp_mode = MM_THP_MADVISE;
		nm->cfg.thp_zero_page = true;
		nm->cfg.overcommit = 0;
		nm->cfg.memlock = MM_MEMLOCK_UNLIMITED;
		nm->cfg.soft_dirty = false;
		nm->cfg.guard_flag = true;
		nm->cfg.memory_failure = false;
		nm->cfg.userfaultfd = true;
		nm->cfg.pkeys = false;
	}
	nm->cur_proc = 1;
	nm->next_proc = 2;
	return nm;
}

/* ---- The memlock profile key ---------------------------------------------- */

bool nv_capable_ipc_lock(const naive_mm *nm) { return nm->cfg.memlock == MM_MEMLOCK_UNLIMITED; }

bool nv_can_do_mlock(const naive_mm *nm) { return nm->cfg.memlock != 0 || nv_capable_ipc_lock(nm); }

uint64_t nv_memlock_pages(const naive_mm *nm) { return nm->cfg.memlock >> MM_PAGE_SHIFT; }

/* mm/mmap.c: mlock_future_ok(): only a VM_LOCKED mapping is limited; the
 * pages already counted in locked_vm plus the new ones must fit. */
bool nv_mlock_future_ok(const naive_mm *nm, uint64_t vm_flags, uint64_t bytes)
{
	if (!(vm_flags & MM_VM_LOCKED) || nv_capable_ipc_lock(nm))
		return true;
	return nv_pages(bytes) + nm->locked_vm <= nv_memlock_pages(nm);
}

void naive_destroy(naive_mm *nm)
{
	if (!nm)
		return;
	nv_free_processes(nm);
	free(nm->vmas);
	for (size_t i = 0; i < nm->npages; i++)
		free(nm->pages[i].data);
	for (size_t i = 0; i < nm->ncached; i++)
		free(nm->cached[i].data);
	free(nm->pages);
	free(nm->regions);
	free(nm->objects);
	free(nm->cached);
	free(nm);
}

int naive_file_create(naive_mm *nm, uint64_t size)
{
	nm->objects = nv_grow(nm->objects, &nm->cap_objects, nm->nobjects + 1, sizeof(nobject));
	nobject *o = &nm->objects[nm->nobjects++];
	o->kind = MM_BACKING_FILE;
	o->id = ++nm->last_file_id;
	o->size = size;
	return (int)o->id;
}

/* ---- VMAs ---------------------------------------------------------------- */

nvma *nv_find_vma(naive_mm *nm, uint64_t addr)
{
	for (size_t i = 0; i < nm->nvmas; i++)
		if (nm->vmas[i].end > addr)
			return &nm->vmas[i];
	return NULL;
}

nvma *nv_vma_at(naive_mm *nm, uint64_t addr)
{
	nvma *v = nv_find_vma(nm, addr);
	return v && v->start <= addr ? v : NULL;
}

nvma *nv_prev_of(naive_mm *nm, const nvma *v)
{
	size_t i = (size_t)(v - nm->vmas);
	return i > 0 ? &nm->vmas[i - 1] : NULL;
}

nvma *nv_next_of(naive_mm *nm, const nvma *v)
{
	size_t i = (size_t)(v - nm->vmas);
	return i + 1 < nm->nvmas ? &nm->vmas[i + 1] : NULL;
}

nvma *nv_insert_vma(naive_mm *nm, const nvma *v)
{
	nm->vmas = nv_grow(nm->vmas, &nm->cap_vmas, nm->nvmas + 1, sizeof(nvma));
	size_t i = 0;
	while (i < nm->nvmas && nm->vmas[i].start < v->start)
		i++;
	memmove(&nm->vmas[i + 1], &nm->vmas[i], (nm->nvmas - i) * sizeof(nvma));
	nm->vmas[i] = *v;
	nm->nvmas++;
	return &nm->vmas[i];
}

void nv_remove_vma(naive_mm *nm, nvma *v)
{
	size_t i = (size_t)(v - nm->vmas);
	memmove(&nm->vmas[i], &nm->vmas[i + 1], (nm->nvmas - i - 1) * sizeof(nvma));
	nm->nvmas--;
}

/* mm/vma.c: __split_vma(). The upper piece's pgoff advances by the pages
 * below addr; both pieces keep flags, file and anon_vma. A PMD-mapped THP
 * straddling addr is split to PTEs (vma_adjust_trans_huge). */
nvma *nv_split(naive_mm *nm, nvma *v, uint64_t addr)
{
	nvma upper = *v;
	upper.start = addr;
	upper.pgoff = v->pgoff + nv_pages(addr - v->start);
	v->end = addr;
	if (addr % NV_PMD)
		nv_regions_split_partial(nm, addr, addr);
	return nv_insert_vma(nm, &upper);
}

bool nv_range_has_vma(naive_mm *nm, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < nm->nvmas; i++)
		if (nm->vmas[i].start < end && nm->vmas[i].end > start)
			return true;
	return false;
}

uint64_t nv_vma_file_index(const nvma *v, uint64_t addr) { return v->pgoff + nv_pages(addr - v->start); }

/* ---- Pages --------------------------------------------------------------- */

/* The pages array is kept sorted by address, so that a lookup is a binary
 * search: the only concession to speed (generated traces map tens of
 * thousands of pages). */
static size_t page_lower_bound(const naive_mm *nm, uint64_t addr)
{
	size_t lo = 0, hi = nm->npages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (nm->pages[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static npage *page_find(const naive_mm *nm, uint64_t addr)
{
	size_t i = page_lower_bound(nm, addr & NV_PAGE_MASK);
	return i < nm->npages && nm->pages[i].addr == (addr & NV_PAGE_MASK) ? &nm->pages[i] : NULL;
}

mm_page_state nv_page_get(const naive_mm *nm, uint64_t addr)
{
	const npage *p = page_find(nm, addr);
	return p ? p->state : MM_PAGE_NONE;
}

void nv_page_set(naive_mm *nm, uint64_t addr, mm_page_state st)
{
	addr &= NV_PAGE_MASK;
	size_t i = page_lower_bound(nm, addr);
	if (i < nm->npages && nm->pages[i].addr == addr) {
		if (st == MM_PAGE_NONE) {
			free(nm->pages[i].data); /* the page is gone, and what it held */
			memmove(&nm->pages[i], &nm->pages[i + 1], (nm->npages - i - 1) * sizeof(npage));
			nm->npages--;
		} else if (nm->pages[i].state != st) {
			free(nm->pages[i].data); /* another page: nothing of the old one's */
			nm->pages[i].data = NULL;
			nm->pages[i].state = st;
			nm->pages[i].lazyfree = false; /* a new page is dirty and swap-backed */
			nm->pages[i].mlocked = false;
			nm->pages[i].thp = 0;
			nm->pages[i].uffd_wp = false; /* a new entry: no uffd-wp bit (a marker goes) */
		}
		return;
	}
	if (st == MM_PAGE_NONE)
		return;
	nm->pages = nv_grow(nm->pages, &nm->cap_pages, nm->npages + 1, sizeof(npage));
	memmove(&nm->pages[i + 1], &nm->pages[i], (nm->npages - i) * sizeof(npage));
	nm->pages[i] = (npage){.addr = addr, .state = st, .lazyfree = false};
	nm->npages++;
}

npage *nv_page_find(naive_mm *nm, uint64_t addr) { return page_find(nm, addr); }

void nv_pages_make_thp(naive_mm *nm, uint64_t haddr)
{
	uint32_t id = ++nm->last_thp;
	for (uint16_t k = 0; k < NV_PMD / NV_PAGE; k++) {
		npage *p = page_find(nm, haddr + (uint64_t)k * NV_PAGE);
		if (p) {
			p->thp = id;
			p->thp_idx = k;
		}
	}
}

void nv_page_set_lazyfree(naive_mm *nm, uint64_t addr, bool lazyfree)
{
	npage *p = page_find(nm, addr);
	if (p)
		p->lazyfree = lazyfree;
}

bool nv_page_is_lazyfree(const naive_mm *nm, uint64_t addr)
{
	const npage *p = page_find(nm, addr);
	return p && p->lazyfree;
}

void naive_pages(const naive_mm *nm, uint64_t start, size_t npages, uint8_t *out)
{
	/* Every page none, then the listed pages of the range, in order. */
	memset(out, MM_PAGE_NONE, npages);
	uint64_t end = start + ((uint64_t)npages << MM_PAGE_SHIFT);
	for (size_t i = page_lower_bound(nm, start); i < nm->npages && nm->pages[i].addr < end; i++)
		out[(nm->pages[i].addr - start) >> MM_PAGE_SHIFT] = (uint8_t)nm->pages[i].state;
}

static int page_cmp(const void *a, const void *b)
{
	uint64_t x = ((const npage *)a)->addr, y = ((const npage *)b)->addr;
	return x < y ? -1 : x > y;
}

void nv_pages_resort(naive_mm *nm)
{
	if (nm->npages)
		qsort(nm->pages, nm->npages, sizeof(npage), page_cmp);
}

/* Zap [start, end): present pages go; guard markers go unless keep_guards.
 * The survivors keep their order. */
void nv_pages_clear(naive_mm *nm, uint64_t start, uint64_t end, bool keep_guards)
{
	size_t kept = 0;
	for (size_t i = 0; i < nm->npages; i++) {
		const npage *p = &nm->pages[i];
		bool marker = p->state == MM_PAGE_GUARD || (p->state == MM_PAGE_NONE && p->uffd_wp);
		if (p->addr >= start && p->addr < end && !(keep_guards && marker)) {
			free(p->data);
			continue;
		}
		nm->pages[kept++] = *p;
	}
	nm->npages = kept;
}

/* ---- 2 MiB regions (what the PMD entry holds) ---------------------------- */

nregion *nv_region_get(naive_mm *nm, uint64_t addr)
{
	uint64_t base = addr & ~(NV_PMD - 1);
	for (size_t i = 0; i < nm->nregions; i++)
		if (nm->regions[i].base == base)
			return &nm->regions[i];
	return NULL;
}

void nv_region_set(naive_mm *nm, uint64_t addr, nregion_kind kind)
{
	nregion *r = nv_region_get(nm, addr);
	if (r) {
		r->kind = kind;
		return;
	}
	nm->regions = nv_grow(nm->regions, &nm->cap_regions, nm->nregions + 1, sizeof(nregion));
	nm->regions[nm->nregions].base = addr & ~(NV_PMD - 1);
	nm->regions[nm->nregions].kind = kind;
	nm->nregions++;
}

void nv_region_drop(naive_mm *nm, uint64_t addr)
{
	nregion *r = nv_region_get(nm, addr);
	if (r)
		*r = nm->regions[--nm->nregions];
}

/* One dirty bit covers a whole PMD mapping: a store to any page of a
 * PMD-mapped THP dirties all of it, and when the PMD becomes PTEs each
 * gets the dirty bit and the folio PG_dirty (mm/huge_memory.c
 * __split_huge_pmd_locked). The oracle keeps "written since MADV_FREE" per
 * page (npage.lazyfree cleared), so at the split one written page means
 * all were: none of them is lazily freeable any more (shrink_folio_list
 * keeps a dirty lazyfree folio) [LIVE: madvise-thp-free-write-split-pageout.trace]. */
void nv_region_pmd_to_ptes(naive_mm *nm, nregion *r)
{
	if (r->kind == NV_REGION_PMD_ANON) {
		bool written = false;
		for (uint64_t a = r->base; a < r->base + NV_PMD && !written; a += NV_PAGE) {
			const npage *p = nv_page_find(nm, a);
			written = p && p->state == MM_PAGE_ANON && !p->lazyfree;
		}
		for (uint64_t a = r->base; a < r->base + NV_PMD && written; a += NV_PAGE) {
			npage *p = nv_page_find(nm, a);
			if (p && p->state == MM_PAGE_ANON)
				p->lazyfree = false;
		}
	}
	r->kind = NV_REGION_PTE;
}

/* A PMD-mapped THP that an operation on [start, end) covers only in part is
 * split into PTEs first (__split_huge_pmd): the pages keep their states, the
 * region now has a PTE table. start == end names a single split point. */
void nv_regions_split_partial(naive_mm *nm, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < nm->nregions; i++) {
		nregion *r = &nm->regions[i];
		if (r->kind == NV_REGION_PTE)
			continue;
		uint64_t rs = r->base, re = r->base + NV_PMD;
		bool touches = start == end ? (start > rs && start < re) : (start < re && end > rs);
		bool covers = start <= rs && end >= re;
		if (!touches || covers)
			continue;
		if (r->kind == NV_REGION_PMD_FILE) {
			/* a file PMD is not split into PTEs: it is zapped whole,
			 * and the next fault maps the folio again */
			nv_region_zap_file(nm, rs);
			i--; /* the region at i was replaced by the last one */
			continue;
		}
		nv_region_pmd_to_ptes(nm, r);
	}
}

void nv_region_zap_file(naive_mm *nm, uint64_t addr)
{
	uint64_t base = addr & ~(NV_PMD - 1);
	nregion *r = nv_region_get(nm, base);
	if (!r || r->kind != NV_REGION_PMD_FILE)
		return;
	nv_pages_clear(nm, base, base + NV_PMD, true);
	nv_region_drop(nm, base);
}

/* mm/memory.c: free_pgtables() after an unmap frees the page tables that no
 * remaining VMA spans. Approximation: a region no VMA overlaps is freed. */
void nv_regions_free_unspanned(naive_mm *nm)
{
	size_t i = 0;
	while (i < nm->nregions) {
		nregion *r = &nm->regions[i];
		if (!nv_range_has_vma(nm, r->base, r->base + NV_PMD))
			*r = nm->regions[--nm->nregions];
		else
			i++;
	}
}

/* ---- Objects and page cache --------------------------------------------- */

nobject *nv_object(naive_mm *nm, mm_backing kind, uint32_t id)
{
	for (size_t i = 0; i < nm->nobjects; i++)
		if (nm->objects[i].kind == kind && nm->objects[i].id == id)
			return &nm->objects[i];
	return NULL;
}

/* The cache list is sorted by (kind, id, index): lookups are binary
 * searches, like the pages'. */
static int cached_key_cmp(const ncached *c, mm_backing kind, uint32_t id, uint64_t index)
{
	if (c->kind != kind)
		return c->kind < kind ? -1 : 1;
	if (c->id != id)
		return c->id < id ? -1 : 1;
	if (c->index != index)
		return c->index < index ? -1 : 1;
	return 0;
}

static size_t cached_lower_bound(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	size_t lo = 0, hi = nm->ncached;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cached_key_cmp(&nm->cached[mid], kind, id, index) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static ncached *cached_find(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	size_t i = cached_lower_bound(nm, kind, id, index);
	return i < nm->ncached && cached_key_cmp(&nm->cached[i], kind, id, index) == 0 ? &nm->cached[i] : NULL;
}

bool nv_is_cached(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	return cached_find(nm, kind, id, index) != NULL;
}

void nv_cache_add(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	size_t i = cached_lower_bound(nm, kind, id, index);
	if (i < nm->ncached && cached_key_cmp(&nm->cached[i], kind, id, index) == 0)
		return;
	nm->cached = nv_grow(nm->cached, &nm->cap_cached, nm->ncached + 1, sizeof(ncached));
	memmove(&nm->cached[i + 1], &nm->cached[i], (nm->ncached - i) * sizeof(ncached));
	nm->cached[i] = (ncached){.kind = kind, .id = id, .index = index, .dirty = false};
	nm->ncached++;
}

/* The cached page v maps at addr, or NULL. */
static ncached *cache_page_at(const naive_mm *nm, const nvma *v, uint64_t addr)
{
	return cached_find(nm, v->backing, v->object, nv_vma_file_index(v, addr));
}

void nv_cache_mark_dirty(naive_mm *nm, const nvma *v, uint64_t addr)
{
	ncached *c = cache_page_at(nm, v, addr);
	if (c)
		c->dirty = true;
}

bool nv_cache_is_dirty(const naive_mm *nm, const nvma *v, uint64_t addr)
{
	const ncached *c = cache_page_at(nm, v, addr);
	return c && c->dirty;
}

void nv_cache_set_mlocked(naive_mm *nm, const nvma *v, uint64_t addr, bool on)
{
	ncached *c = cache_page_at(nm, v, addr);
	if (c)
		c->mlocked = on;
}

bool nv_cache_is_mlocked(const naive_mm *nm, const nvma *v, uint64_t addr)
{
	const ncached *c = cache_page_at(nm, v, addr);
	return c && c->mlocked;
}

void nv_cache_remove_range(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first, uint64_t last_excl)
{
	size_t kept = 0;
	for (size_t i = 0; i < nm->ncached; i++) {
		const ncached *c = &nm->cached[i];
		if (c->kind == kind && c->id == id && c->index >= first && c->index < last_excl) {
			free(c->data); /* out of the cache: the data is gone */
			continue;
		}
		nm->cached[kept++] = *c;
	}
	nm->ncached = kept;
	/* A large folio that lost a page was split first (the kernel splits
	 * before taking pages out: truncate_inode_partial_folio, split_folio;
	 * punch_hole does that split itself): what is left of it is small. */
	for (size_t i = 0; i < nm->ncached; i++) {
		ncached *c = &nm->cached[i];
		uint64_t size = 1ull << c->order, folio = c->index & ~(size - 1);
		if (c->order && c->kind == kind && c->id == id && folio < last_excl && folio + size > first)
			c->order = 0;
	}
}

bool nv_cache_is_huge(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first)
{
	for (uint64_t i = first; i < first + 512; i++) {
		const ncached *c = cached_find(nm, kind, id, i);
		if (!c || c->order != 9)
			return false;
	}
	return true;
}

void nv_cache_make_huge(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first)
{
	for (uint64_t i = first; i < first + 512; i++) {
		nv_cache_add(nm, kind, id, i);
		ncached *c = cached_find(nm, kind, id, i);
		c->order = 9;
		c->dirty = true; /* collapse_file(): shmem's new folio is dirty */
	}
}

unsigned nv_cache_order(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	const ncached *c = cached_find(nm, kind, id, index);
	return c ? c->order : 0;
}

void nv_cache_set_order(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index, unsigned order)
{
	ncached *c = cached_find(nm, kind, id, index);
	if (c)
		c->order = (uint8_t)order;
}

struct cache_range {
	mm_backing kind;
	uint32_t id;
	uint64_t first, n;
};

static void unmap_cache_range(naive_mm *nm, void *ctx)
{
	const struct cache_range *c = ctx;
	for (size_t k = 0; k < nm->nvmas; k++) {
		const nvma *w = &nm->vmas[k];
		if (w->backing != c->kind || w->object != c->id)
			continue;
		for (uint64_t a = w->start; a < w->end; a += NV_PAGE) {
			uint64_t idx = nv_vma_file_index(w, a);
			if (idx < c->first || idx >= c->first + c->n)
				continue;
			nregion *r = nv_region_get(nm, a);
			if (r && r->kind == NV_REGION_PMD_FILE) {
				nv_region_zap_file(nm, a);
			} else if (nv_page_get(nm, a) == MM_PAGE_FILE) {
				/* pte_install_uffd_wp_if_needed(): a protected page
				 * of a VMA registered with wp leaves a marker */
				bool arm = (w->flags & MM_VM_UFFD_WP) && nv_uffd_wp_get(nm, a);
				nv_page_set(nm, a, MM_PAGE_NONE);
				if (arm)
					nv_uffd_wp_set(nm, a, true);
			}
		}
	}
}

void nv_unmap_cache_pages(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first, uint64_t n)
{
	struct cache_range c = {kind, id, first, n};
	nv_for_each_process(nm, unmap_cache_range, &c); /* try_to_unmap: every process */
}

/* split_folio() of a file folio (mm/huge_memory.c __folio_split): every
 * mapping of it goes first (unmap_folio -> try_to_unmap; a file folio is not
 * remapped after), then it is 2^order small folios in the cache. */
void nv_cache_split_folio(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index)
{
	unsigned order = nv_cache_order(nm, kind, id, index);
	if (!order)
		return;
	uint64_t size = 1ull << order, folio = index & ~(size - 1);
	nv_unmap_cache_pages(nm, kind, id, folio, size);
	for (uint64_t i = folio; i < folio + size; i++) {
		ncached *c = cached_find(nm, kind, id, i);
		if (c)
			c->order = 0;
	}
}

/* ---- Observation ----------------------------------------------------------- */

size_t naive_map_count(const naive_mm *nm) { return nm->nvmas; }

uint64_t naive_locked_vm(const naive_mm *nm) { return nm->locked_vm; }

size_t naive_vmas(const naive_mm *nm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < nm->nvmas; i++) {
		const nvma *v = &nm->vmas[i];
		if (v->end <= lo || v->start >= hi)
			continue;
		if (n < cap) {
			out[n].start = v->start;
			out[n].end = v->end;
			out[n].flags = v->flags;
			out[n].pgoff = v->pgoff;
			out[n].backing = v->backing;
			out[n].object = v->object;
		}
		n++;
	}
	return n;
}

mm_page_state naive_page(const naive_mm *nm, uint64_t addr) { return nv_page_get(nm, addr); }

/* The page cache (pages.h): for each backing object, an open-addressing
 * table page offset -> frame, and its large folios (the huge ones
 * MADV_COLLAPSE of shmem made, pagepolicy.c, and the pieces a hole punch
 * leaves of one, pgtable.c).
 */
#include <string.h>

#include "alloc.h"
#include "frames.h"
#include "pagecache.h"

uint64_t *pc_slot(const struct page_cache *c, uint64_t pgoff)
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

bool pc_folio(const struct page_cache *c, uint64_t pgoff, uint64_t *first, unsigned *order, size_t *at)
{
	for (size_t i = 0; c && i < c->nhuge; i++) {
		uint64_t f = c->huge[i] >> 4;
		unsigned o = (unsigned)(c->huge[i] & 15);
		if (pgoff >= f && pgoff < f + (1ull << o)) {
			if (first)
				*first = f;
			if (order)
				*order = o;
			if (at)
				*at = i;
			return true;
		}
	}
	return false;
}

bool pc_huge_at(const struct page_cache *c, uint64_t pgoff, size_t *at)
{
	unsigned order;
	return pc_folio(c, pgoff, NULL, &order, at) && order == 9;
}

/* A page of a large folio leaves the cache (reclaim): the kernel splits the
 * folio first (split_folio), so what stays is small pages. */
void pc_unmark(struct page_cache *c, uint64_t pgoff)
{
	size_t at;
	if (pc_folio(c, pgoff, NULL, NULL, &at))
		c->huge[at] = c->huge[--c->nhuge];
}

static int cache_mark_folio(mm_state *mm, struct page_cache *c, uint64_t first, unsigned order)
{
	pc_unmark(c, first);
	if (!order)
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
	c->huge[c->nhuge++] = first << 4 | order;
	return 0;
}

int pc_mark_huge(mm_state *mm, struct page_cache *c, uint64_t base)
{
	for (uint64_t p = base; p < base + PMD_PAGES; p++) /* the pieces it replaces */
		pc_unmark(c, p);
	return cache_mark_folio(mm, c, base, 9);
}

/* The non-uniform split of the large folio holding page (mm/huge_memory.c
 * __folio_split with a split point, as try_folio_split_to_order() does for
 * truncate_inode_partial_folio()): the folio is halved, the half without
 * the page becomes a folio of its own, the other half is halved again, down
 * to the page alone. The folio must be unmapped already. 0 or -ENOMEM. */
int pc_split_at(mm_state *mm, struct page_cache *c, uint64_t page)
{
	uint64_t first;
	unsigned order;
	if (!pc_folio(c, page, &first, &order, NULL))
		return 0;
	pc_unmark(c, page);
	while (order > 0) {
		order--;
		uint64_t half = 1ull << order;
		bool low = page < first + half;
		if (cache_mark_folio(mm, c, low ? first + half : first, order))
			return -ENOMEM;
		if (!low)
			first += half;
	}
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

uint64_t pc_page(mm_state *mm, struct mm_object *obj, uint64_t pgoff, bool create)
{
	uint64_t *slot = pc_slot(obj->cache, pgoff);
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
	uint64_t pfn = fr_alloc(mm, FR_CACHE);
	if (!pfn)
		return 0;
	if (cache_insert(mm, obj->cache, pgoff, pfn)) {
		fr_free(mm->pt, pfn);
		return 0;
	}
	return pfn;
}

static void cache_free(mm_state *mm, struct page_cache *c)
{
	mm_free(mm, c->huge);
	for (uint64_t i = 0; i < c->cap; i++)
		if (c->keys[i] >= 2 && mm->pt->fm)
			fr_free(mm->pt, c->pfns[i]);
	mm_free(mm, c->keys);
	mm_free(mm, c->pfns);
	mm_free(mm, c);
}

void pc_object_release(mm_state *mm, struct mm_object *obj)
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

void pc_free_all(mm_state *mm)
{
	struct page_tables *pt = mm->pt;
	while (pt->caches) {
		struct page_cache *c = pt->caches;
		pt->caches = c->next;
		cache_free(mm, c);
	}
}

void pc_drop(mm_state *mm, struct page_cache *c, uint64_t pgoff)
{
	uint64_t *slot = pc_slot(c, pgoff);
	if (!slot)
		return;
	fr_free(mm->pt, *slot);
	c->keys[slot - c->pfns] = 1;
	c->count--;
	pc_unmark(c, pgoff);
}

void pc_punch(mm_state *mm, struct page_cache *c, uint64_t pgoff, uint64_t pend)
{
	for (uint64_t i = 0; i < c->cap; i++) {
		if (c->keys[i] < 2 || c->keys[i] - 2 < pgoff || c->keys[i] - 2 >= pend)
			continue;
		struct frame *f = fr_get(mm->pt, c->pfns[i]);
		if (f && f->mapcount == 0)
			fr_free(mm->pt, c->pfns[i]);
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
		uint64_t f = c->huge[i] >> 4, size = 1ull << (c->huge[i] & 15);
		if (f + size > pgoff && f < pend)
			c->huge[i] = c->huge[--c->nhuge];
		else
			i++;
	}
}

/* Page contents, stated from what a process sees (issue 18):
 *
 *   - an anonymous page holds its own data; it starts zero-filled, or, when
 *     it is a private copy of a file page (the first store to a private file
 *     mapping), as a copy of that file page at the moment of the store;
 *   - a file or shmem page is the object's page in the page cache: every
 *     mapping of the object reads and writes that one page, so a private
 *     mapping sees the file -- later stores to it included -- until it
 *     writes the page itself;
 *   - the zero page reads zero;
 *   - a page that goes (munmap, MADV_DONTNEED, reclaim, a hole punched)
 *     takes its data with it; a page that moves (mremap) keeps it.
 *
 * The data lives beside the page it belongs to (npage.data for anonymous
 * pages, ncached.data for cached file pages), so moving, dropping and
 * copying a page is what the rest of the oracle already does to pages. */
#include "naive_internal.h"

#include <stdlib.h>
#include <string.h>

#define NV_WORDS (NV_PAGE / 8)

/* The cache entry behind the file page at addr of v, or NULL. */
static ncached *cached_page(naive_mm *nm, const nvma *v, uint64_t addr)
{
	uint64_t index = nv_vma_file_index(v, addr);
	for (size_t i = 0; i < nm->ncached; i++) {
		ncached *c = &nm->cached[i];
		if (c->kind == v->backing && c->id == v->object && c->index == index)
			return c;
	}
	return NULL;
}

/* Where the data of the page mapped at addr lives (its slot: NULL while
 * zero), or NULL when the page reads zero and cannot be written (the zero
 * page, nothing mapped). */
static uint64_t **data_slot(naive_mm *nm, uint64_t addr)
{
	npage *p = nv_page_find(nm, addr);
	if (!p)
		return NULL;
	if (p->state == MM_PAGE_ANON)
		return &p->data;
	if (p->state == MM_PAGE_FILE) {
		nvma *v = nv_vma_at(nm, addr);
		ncached *c = v ? cached_page(nm, v, addr) : NULL;
		return c ? &c->data : NULL;
	}
	return NULL;
}

static void store(uint64_t **slot, uint64_t addr, uint64_t value, uint64_t mask)
{
	unsigned w = (unsigned)((addr % NV_PAGE) / 8);
	if (!*slot) {
		if (!(value & mask))
			return;
		*slot = calloc(NV_WORDS, sizeof(uint64_t));
		if (!*slot)
			abort(); /* the oracle has no way to report it */
	}
	(*slot)[w] = ((*slot)[w] & ~mask) | (value & mask);
}

void nv_store_zero_byte(naive_mm *nm, uint64_t addr)
{
	uint64_t **slot = data_slot(nm, addr);
	if (slot)
		store(slot, addr, 0, 0xffull << (addr % 8 * 8));
}

void nv_fill_page(naive_mm *nm, uint64_t addr, uint64_t value)
{
	uint64_t **slot = data_slot(nm, addr);
	if (!slot)
		return;
	for (uint64_t w = 0; w < NV_WORDS; w++)
		store(slot, (addr & NV_PAGE_MASK) + w * 8, value, ~0ull);
}

void nv_page_copy_file(naive_mm *nm, const nvma *v, uint64_t addr)
{
	npage *p = nv_page_find(nm, addr);
	ncached *c = cached_page(nm, v, addr);
	if (!p || p->state != MM_PAGE_ANON)
		return;
	free(p->data);
	p->data = NULL;
	if (c && c->data) {
		p->data = malloc(NV_PAGE);
		if (!p->data)
			abort();
		memcpy(p->data, c->data, NV_PAGE);
	}
}

bool nv_page_zero_filled(const npage *p)
{
	for (unsigned i = 0; p->data && i < NV_WORDS; i++)
		if (p->data[i])
			return false;
	return true;
}

mm_touch_result naive_write(naive_mm *nm, uint64_t addr, uint64_t value)
{
	addr &= ~(uint64_t)7;
	mm_touch_result r = naive_touch(nm, addr, MM_ACCESS_WRITE);
	if (r.outcome == MM_TOUCH_OK) {
		uint64_t **slot = data_slot(nm, addr);
		if (slot)
			store(slot, addr, value, ~0ull);
	}
	return r;
}

mm_touch_result naive_read(naive_mm *nm, uint64_t addr, uint64_t *value)
{
	addr &= ~(uint64_t)7;
	*value = 0;
	mm_touch_result r = naive_touch(nm, addr, MM_ACCESS_READ);
	if (r.outcome == MM_TOUCH_OK) {
		uint64_t **slot = data_slot(nm, addr);
		if (slot && *slot)
			*value = (*slot)[(addr % NV_PAGE) / 8];
	}
	return r;
}

/* pwrite(2) into a memfd: the pages come into the page cache, dirty. */
int naive_file_write(naive_mm *nm, int file, uint64_t off, const uint64_t *words, size_t nwords)
{
	nobject *o = nv_object(nm, MM_BACKING_FILE, (uint32_t)file);
	if (!o)
		return -EBADF;
	if (off % 8 || off + nwords * 8 > nv_page_align(o->size))
		return -EINVAL;
	/* Page by page: the page comes into the cache, dirty, and takes the
	 * words that fall in it. */
	for (size_t i = 0; i < nwords;) {
		uint64_t index = (off + i * 8) / NV_PAGE;
		nv_cache_add(nm, MM_BACKING_FILE, o->id, index);
		ncached *c = NULL;
		for (size_t k = 0; k < nm->ncached && !c; k++)
			if (nm->cached[k].kind == MM_BACKING_FILE && nm->cached[k].id == o->id && nm->cached[k].index == index)
				c = &nm->cached[k];
		c->dirty = true;
		for (; i < nwords && (off + i * 8) / NV_PAGE == index; i++)
			store(&c->data, off + i * 8, words[i], ~0ull);
	}
	return 0;
}

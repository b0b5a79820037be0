/* Page contents (issue 18): what the data frames of frames.c hold, so that
 * `write ADDR VALUE` and `read ADDR` see what a process would.
 *
 * Contents belong to frames, not to addresses: a page-cache page holds its
 * file's data, an anonymous page its own. Every rule that moves, shares or
 * drops data then follows from what the page layer does with frames, as in
 * Linux:
 *   - mremap moves entries, so the data moves with them;
 *   - every mapping of a file or shmem object maps its page-cache frames, so
 *     shared mappings see each other's stores, and a private mapping sees the
 *     file (and later stores to it) until it writes;
 *   - a copy on write (do_cow_fault, wp_page_copy) copies the frame it
 *     replaces (fault.c), the zero page copying zero;
 *   - a frame that is freed (munmap, MADV_DONTNEED of anonymous memory,
 *     reclaim of a clean lazily-freed page, a hole punched) loses its data:
 *     the next fault maps a zero-filled page, or the file's page again;
 *   - MADV_COLLAPSE copies the small pages into the THP (pp_collapse); a THP
 *     split keeps every subpage's frame, and maps the zero page only where a
 *     subpage holds nothing but zeroes (split_anon_folio).
 *
 * Sparse: a frame that was never written holds no record and reads zero.
 * A record is the frame's 4 KiB, allocated on the first store. The records
 * live outside the allocation seam (they are the machine's memory, not the
 * kernel's allocations: the seam's -ENOMEM paths stay those of the kernel);
 * when malloc itself fails, the access reports SIGBUS (VM_FAULT_OOM). The
 * store frees itself when its last record goes, so an address space emptied
 * of its pages holds none (mm_destroy, mm_reset).
 */
#include <stdlib.h>
#include <string.h>

#include "contents.h"
#include "pages.h"

#define WORDS_PER_PAGE (MM_PAGE_SIZE / 8)

struct ct_store {
	uint64_t **page; /* by frame index (pfn - PG_DATA_PFN_BASE): its 512 words, or NULL */
	uint64_t cap;    /* entries in page[] */
	uint64_t n;      /* records held */
};

static uint64_t *record(const mm_state *mm, uint64_t pfn)
{
	const struct ct_store *s = mm->contents;
	if (!s || pfn < PG_DATA_PFN_BASE || pfn - PG_DATA_PFN_BASE >= s->cap)
		return NULL;
	return s->page[pfn - PG_DATA_PFN_BASE];
}

/* The record of pfn, made (zero-filled) if there is none; NULL if malloc fails. */
static uint64_t *record_make(mm_state *mm, uint64_t pfn)
{
	uint64_t *r = record(mm, pfn);
	if (r)
		return r;
	if (pfn < PG_DATA_PFN_BASE)
		return NULL;
	uint64_t idx = pfn - PG_DATA_PFN_BASE;
	struct ct_store *s = mm->contents;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		mm->contents = s;
	}
	if (idx >= s->cap) {
		uint64_t ncap = s->cap ? s->cap : 1024;
		while (ncap <= idx)
			ncap *= 2;
		uint64_t **np = realloc(s->page, ncap * sizeof(*np));
		if (!np)
			return NULL;
		memset(np + s->cap, 0, (ncap - s->cap) * sizeof(*np));
		s->page = np;
		s->cap = ncap;
	}
	r = calloc(WORDS_PER_PAGE, sizeof(uint64_t));
	if (!r)
		return NULL;
	s->page[idx] = r;
	s->n++;
	return r;
}

void ct_drop(mm_state *mm, uint64_t pfn)
{
	struct ct_store *s = mm->contents;
	uint64_t *r = record(mm, pfn);
	if (!r)
		return;
	free(r);
	s->page[pfn - PG_DATA_PFN_BASE] = NULL;
	if (--s->n == 0) { /* the last record: the store goes too */
		free(s->page);
		free(s);
		mm->contents = NULL;
	}
}

uint64_t ct_load(const mm_state *mm, uint64_t pfn, unsigned word)
{
	const uint64_t *r = record(mm, pfn);
	return r ? r[word % WORDS_PER_PAGE] : 0;
}

int ct_store(mm_state *mm, uint64_t pfn, unsigned word, uint64_t value, uint64_t mask)
{
	uint64_t *r = record(mm, pfn);
	if (!r && !(value & mask))
		return 0; /* a zero into a page that reads zero: nothing to keep */
	if (!r && !(r = record_make(mm, pfn)))
		return -ENOMEM;
	r[word % WORDS_PER_PAGE] = (r[word % WORDS_PER_PAGE] & ~mask) | (value & mask);
	return 0;
}

int ct_copy(mm_state *mm, uint64_t dst, uint64_t src)
{
	const uint64_t *from = record(mm, src);
	if (!from) {
		ct_drop(mm, dst);
		return 0;
	}
	uint64_t *to = record_make(mm, dst);
	if (!to)
		return -ENOMEM;
	from = record(mm, src); /* record_make may have moved the table, not the pages */
	memcpy(to, from, MM_PAGE_SIZE);
	return 0;
}

bool ct_is_zero(const mm_state *mm, uint64_t pfn)
{
	const uint64_t *r = record(mm, pfn);
	for (unsigned i = 0; r && i < WORDS_PER_PAGE; i++)
		if (r[i])
			return false;
	return true;
}

size_t ct_check(const mm_state *mm, bool (*holds_data)(const mm_state *mm, uint64_t pfn),
                void (*report)(void *ctx, int inv, const struct vma *v, const char *what), void *ctx)
{
	const struct ct_store *s = mm->contents;
	size_t n = 0, held = 0;
	for (uint64_t i = 0; s && i < s->cap; i++) {
		if (!s->page[i])
			continue;
		held++;
		if (!holds_data(mm, PG_DATA_PFN_BASE + i)) {
			n++;
			if (report)
				report(ctx, 20, NULL, "contents kept for a frame that is free or a zero page");
		}
	}
	if (s && held != s->n) {
		n++;
		if (report)
			report(ctx, 20, NULL, "the content store miscounts its records");
	}
	return n;
}

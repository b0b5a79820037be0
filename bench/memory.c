/* The memory stream: heap bytes of the model (and the naive oracle) per VMA
 * and per mapped page, by mallinfo2() before and after. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Heap bytes (mallinfo2: uordblks + hblkhd, so malloc's own chunk headers
 * and rounding count) per VMA of an unpopulated layout, then per page
 * written: one page in each of n VMAs (sparse: a page table per 170 VMAs),
 * and 16,384 contiguous pages of one VMA (dense). */
void run_memory(size_t size, size_t n, bool naive_too, bool dense)
{
	stream s = {.name = "memory"};
	stream_touch_layout(&s, n, true); /* RW VMAs: a page written; RO: read */
	size_t nl = n, nst = stream_nops(&s); /* the layout's mmaps come first */
	int64_t *res = xmalloc(nst * sizeof(int64_t));
	mm_config cfg = bench_config();
	const mm_api *model = mm_api_model(), *naive = mm_api_naive();
	int files[1];
	char note[160];

	size_t h0 = heap_in_use();
	mm_state *mm = mm_create(&cfg);
	size_t h1 = heap_in_use();
	replay(model, mm, files, &s, res, 0, nl);
	size_t h2 = heap_in_use();
	replay(model, mm, files, &s, res, nl, nst);
	size_t h3 = heap_in_use();
	snprintf(note, sizeof(note), "empty mm %zu B", h1 - h0);
	print_mem("mem/vma", size, n, "model", n, (double)(h2 - h1) / (double)n, note);
	print_mem("mem/page", size, n, "model", n, (double)(h3 - h2) / (double)n,
	          "one present page per VMA (RW: anon page, RO: zero page)");
	mm_destroy(mm);

	if (dense) {
		mm = mm_create(&cfg);
		const uint64_t pages = 16384;
		mm_mmap(mm, ARENA_BASE, pages * P, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0);
		mm_madvise(mm, ARENA_BASE, pages * P, MM_MADV_NOHUGEPAGE);
		size_t d0 = heap_in_use();
		for (uint64_t k = 0; k < pages; k++)
			mm_touch(mm, ARENA_BASE + k * P, MM_ACCESS_WRITE);
		size_t d1 = heap_in_use();
		print_mem("mem/page", 0, 1, "model", pages, (double)(d1 - d0) / (double)pages,
		          "dense: 16384 written pages of one VMA (NOHUGEPAGE)");
		mm_destroy(mm);
	}

	if (naive_too) {
		size_t g0 = heap_in_use();
		void *nm = naive->create(&cfg);
		size_t g1 = heap_in_use();
		replay(naive, nm, files, &s, res, 0, nl);
		size_t g2 = heap_in_use();
		replay(naive, nm, files, &s, res, nl, nst);
		size_t g3 = heap_in_use();
		(void)g0;
		print_mem("mem/vma", size, n, "naive", n, (double)(g2 - g1) / (double)n, "array of nvma, doubling");
		print_mem("mem/page", size, n, "naive", n, (double)(g3 - g2) / (double)n, "one present page per VMA");
		naive->destroy(nm);
	}
	free(res);
	stream_free(&s);
}


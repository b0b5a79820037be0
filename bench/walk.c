/* The walk stream: the model's page walker (mm_walk) and the naive one
 * (naive_walk) over the tables of the touch layout: translations per
 * second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mmref/x86.h"
#include "walker_naive.h"

uint64_t walk_sink; /* external: the walks cannot be optimised away */

/* mm_walk and naive_walk over the model's own tables (mm_page_tables; the
 * walks set A/D bits in them, as the processor would): the touch layout's
 * present pages, in a random order fixed before timing. */
void run_walk(size_t size, size_t n, size_t ops, size_t chunks)
{
	stream s = {.name = "walk"};
	stream_touch_layout(&s, n, false);
	const mm_api *api = mm_api_model();
	int files[1];
	void *vmm = replay_create(api, &s, files);
	mm_state *mm = vmm;
	size_t nst = stream_nops(&s);
	int64_t *res = xmalloc(nst * sizeof(int64_t));
	replay(api, vmm, files, &s, res, 0, nst);
	uint64_t *va = xmalloc(ops * sizeof(*va));
	mm_walk_access *acc = xmalloc(ops * sizeof(*acc));
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		va[k] = ARENA_BASE + i * 3 * P + (i % 16 == 1 ? P : 0) + below(P);
		acc[k] = i % 16 == 1 ? MM_WALK_WRITE : MM_WALK_READ;
	}
	static const mm_cpu_mode mode = {true, true, true, true, false, 48, false, 0}; /* MAXPHYADDR 48, as the model's */
	/* In address order too: consecutive present pages, as a program
	 * walking its memory would touch them. */
	uint64_t *seq = xmalloc(ops * sizeof(*seq));
	for (size_t k = 0; k < ops; k++)
		seq[k] = ARENA_BASE + (k % n) * 3 * P;
	mm_phys_mem tables;
	uint64_t cr3;
	mm_page_tables(mm, &tables, &cr3);
	const mm_phys_mem *pm = &tables;
	result r[2];
	memset(r, 0, sizeof(r));
	for (size_t k = 0; k < ops; k++) /* warm up: caches, TLB, clock */
		walk_sink += mm_walk(pm, cr3, va[k], acc[k], 3, &mode).pa;
	double seq_ns = 1e18;
	for (size_t c = 0; c < chunks; c++) {
		size_t lo = ops * c / chunks, hi = ops * (c + 1) / chunks;
		double t0 = now_ns();
		for (size_t k = lo; k < hi; k++)
			walk_sink += mm_walk(pm, cr3, seq[k], MM_WALK_READ, 3, &mode).pa;
		double per = (now_ns() - t0) / (double)(hi - lo);
		if (per < seq_ns)
			seq_ns = per;
	}
	char seqnote[80];
	snprintf(seqnote, sizeof(seqnote), "; %.1f M/s in address order", 1e3 / seq_ns);
	for (int w = 0; w < 2; w++) {
		double ns[64] = {0};
		size_t cops[64] = {0};
		size_t fails = 0;
		for (size_t c = 0; c < chunks; c++) {
			size_t lo = ops * c / chunks, hi = ops * (c + 1) / chunks;
			double t0 = now_ns();
			for (size_t k = lo; k < hi; k++) {
				mm_walk_result wr = w == 0 ? mm_walk(pm, cr3, va[k], acc[k], 3, &mode)
				                           : naive_walk(pm, cr3, va[k], acc[k], 3, &mode);
				walk_sink += wr.pa;
				fails += wr.outcome != MM_WALK_OK;
			}
			ns[c] = now_ns() - t0;
			cops[c] = hi - lo;
		}
		r[w].ran = true;
		r[w].ops = ops;
		/* The best slice: the rate the walker reaches, which a loaded
		 * machine (other tenants' cache traffic) can only lower. */
		r[w].ns_op = ns[0] / (double)cops[0];
		for (size_t c = 1; c < chunks; c++)
			if (ns[c] / (double)cops[c] < r[w].ns_op)
				r[w].ns_op = ns[c] / (double)cops[c];
		r[w].errors = fails;
		snprintf(r[w].notebuf, sizeof(r[w].notebuf), "%s: %.1f M translations/s at random present pages%s",
		         w ? "naive_walk" : "mm_walk", 1e3 / r[w].ns_op, w ? "" : seqnote);
		r[w].note = r[w].notebuf;
	}
	print_row("walk", size, n, "model", &r[0], &r[0], -1);
	print_row("walk", size, n, "naive", &r[1], &r[0], -1);
	free(va);
	free(seq);
	free(acc);
	free(res);
	stream_free(&s);
	mm_destroy(mm);
}


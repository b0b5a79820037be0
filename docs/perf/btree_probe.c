/* docs/perf/btree_probe.c: scratch measurement behind docs/performance.md (fix 2). Not built by CMake.
 *   cc -O2 -std=c11 -I model -I model/include docs/perf/btree_probe.c build/release/model/libmmref.a -o /tmp/btree_probe
 *   for n in 1000 65530 1000000; do /tmp/btree_probe $n; done
 */
/* Scratch: what would a B+tree index buy over the AVL tree for find_vma?
 * Same VMAs (the model's own, built by mm_mmap), random addresses; the
 * B+tree is bulk-loaded from the VMA list: leaves of 16 vm_end keys with
 * the VMA pointers, inner nodes of 16 keys (max vm_end of each child). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "internal.h"

#define F 16
struct node { uint64_t key[F]; void *child[F]; int n; int leaf; };

static uint64_t rs = 0x1234567;
static uint64_t rnd(void) { uint64_t z = (rs += 0x9e3779b97f4a7c15ull); z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull; z = (z ^ (z >> 27)) * 0x94d049bb133111ebull; return z ^ (z >> 31); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }

static struct node *root;
static struct vma *bfind(uint64_t addr)
{
	struct node *x = root;
	for (;;) {
		int i = 0;
		while (i < x->n - 1 && x->key[i] <= addr) i++;
		if (x->leaf) return x->key[i] > addr ? x->child[i] : NULL;
		x = x->child[i];
	}
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], 0, 10) : 65530, Q = 2000000;
	mm_config cfg; mm_config_default(&cfg); cfg.max_map_count = 1ull << 32;
	mm_state *mm = mm_create(&cfg);
	const uint64_t base = 0x200000000000ull, P = 4096;
	for (size_t i = 0; i < n; i++)
		mm_mmap(mm, base + i * 3 * P, 2 * P, (i & 1) ? 3 : 1, 0x32, 0, 0);
	/* bulk load */
	size_t cnt = 0, m = (n + F - 1) / F;
	struct node *lvl = aligned_alloc(64, m * sizeof(struct node));
	struct vma *v = mm->vt.first;
	for (size_t j = 0; j < m; j++) {
		lvl[j].leaf = 1; lvl[j].n = 0;
		for (int k = 0; k < F && v; k++, v = v->node.next, cnt++) { lvl[j].key[k] = v->vm_end; lvl[j].child[k] = v; lvl[j].n++; }
	}
	size_t ln = m;
	while (ln > 1) {
		size_t pm = (ln + F - 1) / F;
		struct node *up = aligned_alloc(64, pm * sizeof(struct node));
		for (size_t j = 0; j < pm; j++) {
			up[j].leaf = 0; up[j].n = 0;
			for (int k = 0; k < F && j * F + k < ln; k++) { struct node *c = &lvl[j * F + k]; up[j].key[k] = c->key[c->n - 1]; up[j].child[k] = c; up[j].n++; }
		}
		lvl = up; ln = pm;
	}
	root = lvl;
	uint64_t *q = malloc(Q * 8);
	for (size_t i = 0; i < Q; i++) q[i] = base + rnd() % (n * 3 * P);
	uint64_t sink = 0; size_t bad = 0;
	for (int rep = 0; rep < 2; rep++) {
		double t0 = now();
		for (size_t i = 0; i < Q; i++) { struct vma *x = vt_find(&mm->vt, q[i]); sink += x ? x->vm_start : 0; }
		double t1 = now();
		for (size_t i = 0; i < Q; i++) { struct vma *x = bfind(q[i]); sink += x ? x->vm_start : 0; }
		double t2 = now();
		if (rep) printf("%zu VMAs: vt_find %.1f ns, B+tree(16) %.1f ns, ratio %.2f\n", n, (t1 - t0) / Q, (t2 - t1) / Q, (t1 - t0) / (t2 - t1));
	}
	for (size_t i = 0; i < 100000; i++) bad += vt_find(&mm->vt, q[i]) != bfind(q[i]);
	printf("disagreements %zu (sink %llu)\n", bad, (unsigned long long)(sink & 1));
	return 0;
}

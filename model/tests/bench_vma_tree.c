/* The VMA index at 1,000 .. 1,000,000 VMAs: nanoseconds per lookup, per
 * erase + re-insert, and per top-down gap search. No assertions: run it on
 * a release build and read the table.
 *
 * The address space: page-sized VMAs, one after the other, with a one-page
 * hole after a quarter of them and a four-page hole after one in a
 * thousand, at random places. Two memory layouts: VMAs allocated in address
 * order (as a process that maps top-down or bottom-up tends to get), and
 * shuffled (every step down the tree lands somewhere unrelated: the worst
 * case for the cache). Queries go to uniformly random addresses, except
 * "local lookup", a random walk that moves at most 64 pages per step (the
 * way faults and munmaps of one program tend to follow each other).
 *
 *   usage: bench_vma_tree [max_vmas]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void shuffle(size_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd() % i, t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

struct result {
	double lookup, local, insert_erase, topdown1, topdown4;
	int height;
};

enum { QUERIES = 1 << 20, CHURN = 1 << 18, SEARCHES = 1 << 18 };

static uint64_t sink;

static struct result run(size_t n, bool shuffled)
{
	struct vma *pool = calloc(n, sizeof(*pool));
	size_t *slot = malloc(n * sizeof(*slot)), *order = malloc(n * sizeof(*order));
	uint64_t *addr = malloc(QUERIES * sizeof(*addr));
	const uint64_t base = 0x10000000ull;
	uint64_t a = base, top;
	struct vma_tree vt;
	struct result r;
	double t;

	if (!pool || !slot || !order || !addr) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	/* slot[i]: where the i-th VMA in address order lives in the pool. */
	for (size_t i = 0; i < n; i++)
		slot[i] = order[i] = i;
	if (shuffled)
		shuffle(slot, n);
	for (size_t i = 0; i < n; i++) {
		struct vma *v = &pool[slot[i]];
		uint64_t dice = rnd() % 4000;

		v->vm_start = a;
		v->vm_end = a + PAGE_SIZE;
		v->vm_flags = MM_VM_READ | MM_VM_WRITE;
		a = v->vm_end + (dice < 4 ? 4 * PAGE_SIZE : dice < 1000 ? PAGE_SIZE : 0);
	}
	top = a;
	vt_init(&vt, MM_DEFAULT_STACK_GUARD_GAP);
	shuffle(order, n); /* insert in random order */
	for (size_t i = 0; i < n; i++)
		vt_insert(&vt, &pool[order[i]]);
	r.height = vt.height;

	for (size_t i = 0; i < QUERIES; i++)
		addr[i] = base + rnd() % (top - base);

	t = now_ns();
	for (size_t i = 0; i < QUERIES; i++) {
		struct vma *v = vt_find(&vt, addr[i]);
		sink += v ? v->vm_start : 0;
	}
	r.lookup = (now_ns() - t) / QUERIES;

	{
		uint64_t x = base + (top - base) / 2, span = top - base;

		for (size_t i = 0; i < QUERIES; i++) {
			x = base + (x - base + span + (rnd() % 129) * PAGE_SIZE - 64 * PAGE_SIZE) % span;
			addr[i] = x;
		}
		t = now_ns();
		for (size_t i = 0; i < QUERIES; i++) {
			struct vma *v = vt_find(&vt, addr[i]);
			sink += v ? v->vm_start : 0;
		}
		r.local = (now_ns() - t) / QUERIES;
		for (size_t i = 0; i < QUERIES; i++)
			addr[i] = base + rnd() % (top - base);
	}

	t = now_ns();
	for (size_t i = 0; i < CHURN; i++) {
		struct vma *v = &pool[addr[i] % n];
		vt_erase(&vt, v);
		vt_insert(&vt, v);
	}
	r.insert_erase = (now_ns() - t) / CHURN;

	for (int pages = 1; pages <= 4; pages += 3) {
		struct unmapped_area_info info = {.length = (uint64_t)pages * PAGE_SIZE, .low_limit = base};

		t = now_ns();
		for (size_t i = 0; i < SEARCHES; i++) {
			info.high_limit = addr[i] & PAGE_MASK;
			sink += (uint64_t)vt_unmapped_area_topdown(&vt, &info);
		}
		t = (now_ns() - t) / SEARCHES;
		if (pages == 1)
			r.topdown1 = t;
		else
			r.topdown4 = t;
	}

	vt_destroy(&vt);
	free(pool);
	free(slot);
	free(order);
	free(addr);
	return r;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {1000, 16000, 65530, 1000000};
	size_t max = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	struct result base[2] = {{0}};

	printf("sizeof(struct vma) = %zu bytes (struct vma_node %zu)\n\n", sizeof(struct vma),
	       sizeof(struct vma_node));
	printf("ns per operation; x = ratio to the 1,000-VMA row\n\n");
	printf("%-9s %8s %6s | %14s | %14s | %16s | %16s | %16s\n", "layout", "VMAs", "height", "lookup",
	       "local lookup", "erase+insert", "topdown 1 page", "topdown 4 pages");
	for (int shuffled = 0; shuffled <= 1; shuffled++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct result r;

			if (sizes[i] > max)
				continue;
			r = run(sizes[i], shuffled);
			if (i == 0)
				base[shuffled] = r;
			printf("%-9s %8zu %6d | %7.1f %5.1fx | %7.1f %5.1fx | %9.1f %5.1fx | %9.1f %5.1fx | "
			       "%9.1f "
			       "%5.1fx\n",
			       shuffled ? "shuffled" : "in order", sizes[i], r.height, r.lookup,
			       r.lookup / base[shuffled].lookup, r.local, r.local / base[shuffled].local,
			       r.insert_erase, r.insert_erase / base[shuffled].insert_erase, r.topdown1,
			       r.topdown1 / base[shuffled].topdown1, r.topdown4,
			       r.topdown4 / base[shuffled].topdown4);
		}
	}
	return sink == 42; /* keep the results alive */
}

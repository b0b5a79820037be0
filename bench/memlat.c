/* bench_memlat: the cost of one dependent load that misses, on this machine
 * (docs/performance.md, "Why 20x the kernel is out of reach"): a pointer
 * chase through a random cyclic permutation of cache lines in a buffer of
 * each size, so that every load waits for the one before it and the
 * prefetchers cannot guess the next. ns per load, thread CPU time, the best
 * of --rounds (3) rounds; with 4 KiB pages (as the model's heap has them) and
 * with MADV_HUGEPAGE (THP for the buffer, where the system allows it).
 *
 *   usage: bench_memlat [--loads N] [--rounds N]
 *
 * Prints `size_kib,pages,ns_per_load` lines. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#define LINE 64

static double chase(size_t bytes, bool huge, size_t loads, int rounds)
{
	size_t n = bytes / LINE;
	char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	size_t *order = malloc(n * sizeof(*order));
	if (!order) {
		munmap(buf, bytes);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = (size_t)(rnd() % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++) /* line order[i] points to line order[i + 1] */
		*(void **)(buf + order[i] * LINE) = buf + order[(i + 1) % n] * LINE;
	free(order);
	void *p = buf;
	for (size_t i = 0; i < n; i++) /* warm: every line once */
		p = *(void **)p;
	double best = 1e18;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();
		for (size_t i = 0; i < loads; i++)
			p = *(void **)p;
		double per = (now_ns() - t0) / (double)loads;
		if (per < best)
			best = per;
	}
	volatile uintptr_t sink = (uintptr_t)p;
	(void)sink;
	munmap(buf, bytes);
	return best;
}

int main(int argc, char **argv)
{
	size_t loads = 2000000;
	int rounds = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--loads") == 0)
			loads = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = atoi(argv[i + 1]);
	}
	if (loads == 0 || rounds < 1 || argc % 2 == 0) {
		fprintf(stderr, "usage: bench_memlat [--loads N] [--rounds N]\n");
		return 2;
	}
	printf("size_kib,pages,ns_per_load\n");
	for (size_t kib = 16; kib <= (256u << 10); kib *= 4)
		for (int huge = 0; huge < 2; huge++)
			printf("%zu,%s,%.1f\n", kib, huge ? "thp" : "4k", chase(kib << 10, huge, loads, rounds));
	return 0;
}

/* bench_streams: the same operation streams on the model, the naive oracle
 * and the live kernel, in one run: nanoseconds per operation, the ratios,
 * and whether the three agreed on every result (docs/performance.md).
 *
 *   usage: bench_streams [--vmas N[,N...]] [--ops N] [--stream NAME[,NAME...]]
 *                        [--targets model,naive,kernel] [--csv]
 *                        [--naive-ops N] [--naive-budget SECONDS] [--naive-max-vmas N] [--chunks N]
 *                        [--kernel-find procmap|mincore] [--mixed FILE] [--emit DIR]
 *
 * Streams (each op is one system call, or one lookup or access; streams.c
 * says what each does): churn, mprotect, mremap, find, nohint, touch,
 * mixed (a recorded program: docs/perf/mixed-python.trace), walk (the page
 * walkers, walk.c), memory (heap bytes, memory.c). Every stream first
 * builds an address space of N VMAs and then times its ops; the build is
 * not timed.
 *
 * Sizes: at max_map_count (65,530) the layout is capped so that the kernel
 * can hold it with its own VMAs and what the stream adds (the `vmas` column
 * says how many); the cap applies to all targets, so one size is one stream.
 * Above max_map_count the kernel does not run. The naive oracle builds its
 * layout in O(N^2), so it runs up to --naive-max-vmas (65,530), and its timed
 * ops are cut to --naive-budget CPU seconds (2) per stream and size.
 *
 * ns/op is thread CPU time (user + system: CLOCK_THREAD_CPUTIME_ID) per op,
 * the median of --chunks (5) consecutive slices of the timed ops, so that
 * the time a loaded machine spends running someone else does not count.
 * The `mismatch` column counts the ops (setup and timed) where a target's
 * result differs from the reference run of the model that built the stream.
 *
 * --emit DIR writes every stream and size as DIR/STREAM-SIZE.trace (an
 * mmtrace with the reference results; find: its layout only), which
 * `mmref replay` and `mmref diff` run.
 *
 * CSV (--csv): one header line, then
 *   op,STREAM,SIZE,VMAS,TARGET,OPS,NS_PER_OP,ERRORS,MISMATCH,NOTE
 *   mem,WHAT,SIZE,VMAS,TARGET,UNITS,BYTES_PER_UNIT,,,NOTE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "tr_limits.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "bench_streams: out of memory\n");
		exit(1);
	}
	return p;
}

double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double median_ns(const double *ns, const size_t *ops, unsigned n)
{
	double v[64];
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++)
		if (ops[i])
			v[k++] = ns[i] / (double)ops[i];
	if (!k)
		return 0;
	qsort(v, k, sizeof(v[0]), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

void count_errors(result *r, const stream *s, size_t end)
{
	r->errors = 0;
	for (size_t i = s->nsetup; i < end; i++)
		if (r->res[i] < 0)
			r->errors++;
}

static void run_model(const stream *s, result *r, size_t nchunks)
{
	const mm_api *api = mm_api_model();
	int files[256];
	void *mm = replay_create(api, s, files);
	size_t nops = stream_nops(s);
	r->res = xmalloc(nops * sizeof(int64_t));
	replay(api, mm, files, s, r->res, 0, s->nsetup);
	double ns[64];
	size_t cops[64];
	size_t timed = nops - s->nsetup;
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = s->nsetup + timed * c / nchunks, hi = s->nsetup + timed * (c + 1) / nchunks;
		double t0 = now_ns();
		timed_replay_model(api, mm, files, s, r->res, lo, hi);
		ns[c] = now_ns() - t0;
		cops[c] = hi - lo;
	}
	r->ran = true;
	r->ops = timed;
	r->ns_op = median_ns(ns, cops, (unsigned)nchunks);
	r->nres = nops;
	count_errors(r, s, nops);
	api->destroy(mm);
}

/* The naive oracle is O(N) per op (and worse for mremap, which moves page
 * by page), so its timed ops are cut to a CPU-time budget: the first few
 * (at most 32) are run untimed to estimate the cost of one, and then as
 * many as fit in budget_ns, never fewer than 8 per chunk. */
static void run_naive(const stream *s, result *r, size_t nchunks, size_t max_ops, double budget_ns)
{
	const mm_api *api = mm_api_naive();
	int files[256];
	void *nm = replay_create(api, s, files);
	size_t nops = stream_nops(s);
	r->res = xmalloc(nops * sizeof(int64_t));
	double t0 = now_ns();
	replay(api, nm, files, s, r->res, 0, s->nsetup);
	double build = now_ns() - t0;
	double ns[64];
	size_t cops[64];
	size_t timed = nops - s->nsetup;
	if (timed > max_ops)
		timed = max_ops;
	size_t cal = timed / 10 < 32 ? timed / 10 : 32;
	t0 = now_ns();
	replay(api, nm, files, s, r->res, s->nsetup, s->nsetup + cal);
	double per = cal ? (now_ns() - t0) / (double)cal : 0;
	size_t first = s->nsetup + cal;
	timed -= cal;
	if (per > 0 && budget_ns / per < (double)timed) {
		timed = (size_t)(budget_ns / per);
		if (timed < 8 * nchunks)
			timed = 8 * nchunks;
		if (timed > nops - first)
			timed = nops - first;
	}
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = first + timed * c / nchunks, hi = first + timed * (c + 1) / nchunks;
		double tc = now_ns();
		replay(api, nm, files, s, r->res, lo, hi);
		ns[c] = now_ns() - tc;
		cops[c] = hi - lo;
	}
	r->ran = true;
	r->ops = timed;
	r->ns_op = median_ns(ns, cops, (unsigned)nchunks);
	r->nres = first + timed;
	count_errors(r, s, r->nres);
	snprintf(r->notebuf, sizeof(r->notebuf), "build %.1f s%s", build / 1e9,
	         r->nres < nops ? ", ops cut to the time budget" : "");
	r->note = r->notebuf;
	api->destroy(nm);
}

/* Ops (setup and timed) where a target's result differs from the reference
 * run; -1 if it did not run. Find results are compared as found / not
 * found when the kernel used mincore (it does not say where the VMA
 * starts). */
static long mismatches(const stream *s, const result *r, bool find_bool)
{
	if (!r->ran)
		return -1;
	long bad = 0;
	for (size_t i = 0; i < r->nres; i++) {
		int64_t x = s->expect[i], y = r->res[i];
		if (find_bool && s->find && i >= s->nsetup)
			bad += (x >= 0) != (y >= 0);
		else
			bad += x != y;
	}
	return bad;
}

/* ---- Output ----------------------------------------------------------------- */
static bool csv;

/* A note as a CSV field: no commas. */
static const char *field(const char *note)
{
	static char buf[256];
	size_t i = 0;
	for (; note && note[i] && i < sizeof(buf) - 1; i++)
		buf[i] = note[i] == ',' ? ';' : note[i];
	buf[i] = '\0';
	return buf;
}

static void print_header(void)
{
	if (csv)
		printf("rec,stream,size,vmas,target,ops,ns_per_op,errors,mismatch,note\n");
	else
		printf("%-9s %8s %8s  %-7s %7s %11s %7s %9s %8s  %s\n", "stream", "size", "vmas", "target", "ops", "ns/op",
		       "errors", "x model", "mismatch", "note");
}

void print_row(const char *sname, size_t size, size_t vmas, const char *target, const result *r, const result *model,
               long mism)
{
	if (csv) {
		if (r->ran)
			printf("op,%s,%zu,%zu,%s,%zu,%.1f,%zu,%ld,%s\n", sname, size, vmas, target, r->ops, r->ns_op,
			       r->errors, mism, field(r->note));
		else
			printf("op,%s,%zu,%zu,%s,0,,,,%s\n", sname, size, vmas, target, field(r->note));
		return;
	}
	if (!r->ran) {
		printf("%-9s %8zu %8zu  %-7s %7s %11s %7s %9s %8s  %s\n", sname, size, vmas, target, "-", "-", "-", "-", "-",
		       r->note ? r->note : "");
		return;
	}
	char ratio[32] = "", mm[32] = "";
	if (model && model->ran && model != r && model->ns_op > 0)
		snprintf(ratio, sizeof(ratio), "%.1fx", r->ns_op / model->ns_op);
	if (mism >= 0)
		snprintf(mm, sizeof(mm), "%ld", mism);
	printf("%-9s %8zu %8zu  %-7s %7zu %11.1f %7zu %9s %8s  %s\n", sname, size, vmas, target, r->ops, r->ns_op,
	       r->errors, ratio, mm, r->note ? r->note : "");
}

void print_mem(const char *what, size_t size, size_t vmas, const char *target, size_t units, double bytes,
                      const char *note)
{
	if (csv)
		printf("mem,%s,%zu,%zu,%s,%zu,%.1f,,,%s\n", what, size, vmas, target, units, bytes, field(note));
	else
		printf("%-9s %8zu %8zu  %-7s %7zu %9.1f B %s\n", what, size, vmas, target, units, bytes, note);
}

/* ---- Options ---------------------------------------------------------------- */
enum { T_MODEL = 1, T_NAIVE = 2, T_KERNEL = 4 };

static struct {
	size_t sizes[16];
	unsigned nsizes;
	size_t ops;
	unsigned streams; /* bit per stream_names[] */
	unsigned targets;
	size_t naive_ops;      /* 0: no cap but the budget */
	double naive_budget;   /* CPU seconds of timed naive ops per stream and size */
	size_t naive_max_vmas;
	size_t chunks;
	const char *mixed;
	const char *emit; /* --emit DIR */
} opt;

static void usage(void)
{
	fprintf(stderr, "usage: bench_streams [--vmas N[,N...]] [--ops N] [--stream NAME[,NAME...]]\n"
	                "                     [--targets model,naive,kernel] [--csv] [--naive-ops N] [--naive-budget S]\n"
	                "                     [--naive-max-vmas N] [--chunks N] [--kernel-find procmap|mincore]\n"
	                "                     [--mixed FILE] [--emit DIR]\n"
	                "streams: churn mprotect mremap find nohint touch mixed walk memory\n");
	exit(2);
}

static unsigned parse_names(const char *arg, const char *const *names, unsigned n)
{
	unsigned mask = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		unsigned i;
		for (i = 0; i < n && strcmp(t, names[i]); i++)
			;
		if (i == n) {
			fprintf(stderr, "bench_streams: unknown name %s\n", t);
			usage();
		}
		mask |= 1u << i;
	}
	return mask;
}

/* The default op list of the mixed stream: next to this source file, in
 * docs/perf/ (CMake compiles with the absolute path in __FILE__). */
static const char *default_mixed(void)
{
	static char path[4096];
	const char *src = __FILE__, *slash = strrchr(src, '/');
	if (!slash)
		return "docs/perf/mixed-python.trace";
	snprintf(path, sizeof(path), "%.*s/../docs/perf/mixed-python.trace", (int)(slash - src), src);
	return path;
}

static void parse_args(int argc, char **argv)
{
	static const char *const tnames[] = {"model", "naive", "kernel"};
	opt.ops = 20000;
	opt.streams = (1u << NSTREAMS) - 1;
	opt.targets = T_MODEL | T_NAIVE | T_KERNEL;
	opt.naive_max_vmas = 65530;
	opt.chunks = 5;
	opt.naive_budget = 2.0;
	opt.mixed = default_mixed();
	size_t defsizes[] = {1000, 16000, 65530, 1000000};
	memcpy(opt.sizes, defsizes, sizeof(defsizes));
	opt.nsizes = 4;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--csv") == 0) {
			csv = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--vmas") == 0) {
			char buf[256];
			opt.nsizes = 0;
			snprintf(buf, sizeof(buf), "%s", v);
			for (char *t = strtok(buf, ","); t && opt.nsizes < 16; t = strtok(NULL, ","))
				opt.sizes[opt.nsizes++] = strtoull(t, NULL, 10);
		} else if (strcmp(a, "--ops") == 0) {
			opt.ops = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--stream") == 0) {
			opt.streams = parse_names(v, stream_names, NSTREAMS);
		} else if (strcmp(a, "--targets") == 0) {
			opt.targets = parse_names(v, tnames, 3);
		} else if (strcmp(a, "--naive-ops") == 0) {
			opt.naive_ops = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--naive-budget") == 0) {
			opt.naive_budget = strtod(v, NULL);
		} else if (strcmp(a, "--naive-max-vmas") == 0) {
			opt.naive_max_vmas = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--chunks") == 0) {
			opt.chunks = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--kernel-find") == 0) {
			kernel_find_mincore = strcmp(v, "mincore") == 0;
		} else if (strcmp(a, "--mixed") == 0) {
			opt.mixed = v;
		} else if (strcmp(a, "--emit") == 0) {
			opt.emit = v;
		} else {
			usage();
		}
	}
	if (opt.ops < 2 || opt.chunks < 1 || opt.chunks > 64 || opt.nsizes == 0)
		usage();
	opt.ops &= ~(size_t)1;
}

/* ---- Main ------------------------------------------------------------------ */
static void pregrow_stack(void)
{
	/* The kernel child leaves only the guard window free below [stack]:
	 * grow the stack now, in the parent, beyond what the child will use. */
	volatile char buf[256 << 10];
	buf[0] = 1;
	buf[sizeof(buf) - 1] = 1;
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	tr_limit.max_arena = ARENA_SIZE; /* `mmref replay --max-arena 256G` for --emit's traces */
	/* glibc raises its mmap threshold when a large mmapped chunk is freed
	 * (the reference model's, an earlier stream's): the timed model would
	 * then get its big arrays (the simulated physical memory) from the heap,
	 * and calloc would have to clear them, inside the timed part. A fixed
	 * threshold keeps them fresh mmapped memory, whatever ran before. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	pregrow_stack();
	setvbuf(stdout, NULL, _IOLBF, 0);
	size_t mmc = max_map_count_of_kernel();
	if ((opt.streams & (1u << S_MIXED)) && !streams_load_mixed(opt.mixed))
		return 1;

	print_header();
	for (unsigned si = 0; si < NSTREAMS; si++) {
		if (!(opt.streams & (1u << si)))
			continue;
		const char *name = stream_names[si];
		for (unsigned zi = 0; zi < opt.nsizes; zi++) {
			size_t size = opt.sizes[zi];
			uint64_t seed = 0x853c49e6748fea9bull ^ (si * 0x1000003ull) ^ size;
			if (si == S_WALK) {
				rng_seed(seed);
				if (opt.targets & T_MODEL)
					run_walk(size, size, opt.ops * 50, opt.chunks);
				continue;
			}
			if (si == S_MEMORY) {
				run_memory(size, size, (opt.targets & T_NAIVE) && size <= 65530, size == opt.sizes[0]);
				continue;
			}
			/* At max_map_count and below, the layout is the kernel's. */
			size_t n = size;
			if (size <= mmc && size + 4096 > mmc) {
				size_t cap = mmc - own_vma_estimate() - stream_extra((stream_id)si) - 16;
				if (n > cap)
					n = cap;
			}
			stream s;
			stream_build(&s, (stream_id)si, n, opt.ops, seed);
			if (opt.emit && !stream_emit(&s, size, opt.emit))
				return 1;
			result rk, rm, rn;
			memset(&rk, 0, sizeof(rk));
			memset(&rm, 0, sizeof(rm));
			memset(&rn, 0, sizeof(rn));
			if (opt.targets & T_KERNEL) {
				if (n + s.extra < mmc)
					run_kernel(&s, &rk, opt.chunks);
				else
					rk.note = "above max_map_count";
			}
			if (opt.targets & T_MODEL)
				run_model(&s, &rm, opt.chunks);
			if (opt.targets & T_NAIVE) {
				size_t nops = opt.naive_ops ? opt.naive_ops : SIZE_MAX;
				if (n <= opt.naive_max_vmas)
					run_naive(&s, &rn, opt.chunks, nops, opt.naive_budget * 1e9);
				else
					rn.note = "skipped: building the layout is O(N^2) in the naive oracle";
			}
			if (opt.targets & T_KERNEL)
				print_row(name, size, n, "kernel", &rk, &rm, mismatches(&s, &rk, kernel_find_mincore));
			if (opt.targets & T_MODEL)
				print_row(name, size, n, "model", &rm, &rm, mismatches(&s, &rm, false));
			if (opt.targets & T_NAIVE)
				print_row(name, size, n, "naive", &rn, &rm, mismatches(&s, &rn, false));
			free(rk.res);
			free(rm.res);
			free(rn.res);
			stream_free(&s);
		}
	}
	return 0;
}

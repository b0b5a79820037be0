/* bench_streams: the same operation streams on the model, the naive oracle
 * and the live kernel (docs/performance.md). Shared by the files of bench/:
 *
 *   main.c     options, the run of every stream and size, the output
 *   streams.c  the streams, built as mmtrace statements (trace/trace.h)
 *   replay.c   the model and the naive oracle, through the harness's table
 *              of in-process implementations (harness/mm_api.h)
 *   kernel.c   the live kernel, in a forked child, by raw system calls
 *   walk.c     the page walkers over the model's tables (mmref/x86.h)
 *   memory.c   heap bytes per VMA and per page
 *
 * A stream is a trace: the bench's arena, its files and its statements,
 * the first `nsetup` of them building the layout (untimed), the rest timed.
 * The find stream times lookups, which are not statements of the format:
 * its timed ops are addresses. Every op has the result the model gave it
 * when the stream was built (the reference run), so that each target's
 * results are compared with it op by op (the `mismatch` column), and
 * --emit writes each stream as an mmtrace file with those results as its
 * expectations, for `mmref replay` and `mmref diff`. */
#ifndef MMREF_BENCH_H
#define MMREF_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm_api.h"
#include "trace.h"

#define NOINLINE __attribute__((noinline))
#define P MM_PAGE_SIZE

/* The arena: 256 GiB at 32 TiB, far from anything a process maps itself. */
#define ARENA_BASE 0x200000000000ull
#define ARENA_SIZE (256ull << 30)
#define ARENA_END (ARENA_BASE + ARENA_SIZE)

typedef struct stream {
	const char *name;
	trace *t;          /* arena ARENA_BASE/ARENA_SIZE; t->stmts: tr_stmt */
	size_t nsetup;     /* stmts [0, nsetup) build the layout: not timed */
	size_t vmas;       /* VMAs the layout builds */
	size_t extra;      /* VMAs the stream may add on top, at most */
	uint64_t *find;    /* find stream: the addresses looked up, after the setup */
	size_t nfind;
	int64_t *expect;   /* the reference run's result of every op (nops) */
} stream;

/* Ops of a stream: its statements, then (find) its lookups. Op i < nsetup
 * is statement i; a timed op i is statement i, or lookup i - nsetup. */
static inline size_t stream_nops(const stream *s) { return s->find ? s->nsetup + s->nfind : s->t->stmts->len; }
static inline const tr_stmt *stream_stmt(const stream *s, size_t i)
{
	return &g_array_index(s->t->stmts, tr_stmt, i);
}

/* Result of an op as one number: an address or 0, -errno; a touch gives
 * -outcome (0: ok); a lookup the start of the VMA found, or -ENOENT. */

/* ---- streams.c ---------------------------------------------------------------- */
typedef enum {
	S_CHURN,
	S_MPROTECT,
	S_MREMAP,
	S_FIND,
	S_NOHINT,
	S_TOUCH,
	S_MIXED,
	S_WALK,
	S_MEMORY,
	NSTREAMS
} stream_id;
extern const char *const stream_names[NSTREAMS];
enum { NOHINT_LIVE = 64 };

/* Loads the mixed stream's recorded program (an mmtrace of the bench's
 * arena, bench/strace2ops.py). false after printing why. */
bool streams_load_mixed(const char *path);
/* VMAs the stream may add on top of its layout (for the kernel's cap). */
size_t stream_extra(stream_id id);
/* Builds stream id over n VMAs with `ops` timed ops (seeded by seed),
 * running every statement on a reference model. */
void stream_build(stream *s, stream_id id, size_t n, size_t ops, uint64_t seed);
/* The layout of the touch stream, which walk builds on too: n 2-page VMAs
 * every 3 pages, page 1 of each read (the zero page), page 2 of every 16th
 * written. memory: page 1 of each read-write VMA written, of each
 * read-only one read. Statements only (no reference run): into s, which
 * starts zeroed. */
void stream_touch_layout(stream *s, size_t n, bool memory);
void stream_free(stream *s);
/* Writes s as an mmtrace file (with the reference results) into dir. */
bool stream_emit(const stream *s, size_t size, const char *dir);
/* Random numbers: splitmix64. */
void rng_seed(uint64_t seed);
uint64_t rnd(void);
uint64_t below(uint64_t n);

/* ---- replay.c ----------------------------------------------------------------- */
/* The configuration every target gets: the arena's window for no-hint
 * mmaps, and no max_map_count short of the 1,000,000 layout. */
mm_config bench_config(void);
/* An address space of api with the stream's files; files[i] the id of
 * trace file i + 1. */
void *replay_create(const mm_api *api, const stream *s, int *files);
/* Runs one statement. */
int64_t replay_stmt(const mm_api *api, void *mm, const int *files, const tr_stmt *st);
/* Ops [from, to) of s on an address space of api, results into res. */
void replay(const mm_api *api, void *mm, const int *files, const stream *s, int64_t *res, size_t from, size_t to);
/* The same, a function of its own so that callgrind can count the model's
 * timed part alone (--toggle-collect=timed_replay_model). */
void timed_replay_model(const mm_api *api, void *mm, const int *files, const stream *s, int64_t *res, size_t from,
                        size_t to);

/* ---- results (main.c) ---------------------------------------------------------- */
typedef struct result {
	bool ran;
	const char *note;
	char notebuf[200];
	size_t ops;      /* timed ops */
	double ns_op;    /* median over chunks */
	size_t errors;   /* timed ops that returned -errno */
	int64_t *res;    /* every op's result */
	size_t nres;     /* how many of res are valid */
} result;

double now_ns(void); /* thread CPU time */
double median_ns(const double *ns, const size_t *ops, unsigned n);
void count_errors(result *r, const stream *s, size_t end);
void print_row(const char *sname, size_t size, size_t vmas, const char *target, const result *r,
               const result *model, long mism);
void print_mem(const char *what, size_t size, size_t vmas, const char *target, size_t units, double bytes,
               const char *note);
void *xmalloc(size_t n);

/* ---- kernel.c ---------------------------------------------------------------- */
extern bool kernel_find_mincore;
size_t max_map_count_of_kernel(void);
size_t own_vma_estimate(void);
void run_kernel(const stream *s, result *r, size_t nchunks);

/* ---- walk.c, memory.c ---------------------------------------------------------- */
void run_walk(size_t size, size_t n, size_t ops, size_t chunks);
void run_memory(size_t size, size_t n, bool naive_too, bool dense);

#endif

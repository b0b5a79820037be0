/* The streams of bench_streams, built as mmtrace statements. Every
 * statement runs on a reference model as it is built: its result is the
 * op's expectation, and the addresses that later statements name (a no-hint
 * mmap's result, unmapped later) come from it. The model is deterministic
 * and the kernel's arena is set up so that its no-hint search lands where
 * the model's does (kernel.c), so the three targets replay the same
 * statements and should return the same results. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const char *const stream_names[NSTREAMS] = {"churn", "mprotect", "mremap", "find", "nohint",
                                            "touch", "mixed",    "walk",   "memory"};

/* ---- Random numbers: splitmix64, one seed per stream and size ------------- */
static uint64_t rng;

void rng_seed(uint64_t seed) { rng = seed; }

uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t below(uint64_t n) { return rnd() % n; }

/* ---- Building ------------------------------------------------------------------ */
#define ANON_FIXED (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED)
#define ANON (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS)
#define RO MM_PROT_READ
#define RW (MM_PROT_READ | MM_PROT_WRITE)

/* The reference run of the stream being built (NULL: statements only). */
static struct {
	void *mm;
	int *files;
	GArray *expect; /* int64_t */
} ref;

static trace *new_trace(void)
{
	static const char header[] = "mmtrace 1\narena 0x200000000000 256G\n";
	GError *err = NULL;
	trace *t = trace_parse("bench", header, sizeof(header) - 1, &err);
	if (!t) {
		fprintf(stderr, "bench_streams: %s\n", err->message);
		exit(1);
	}
	return t;
}

static void set_expect(tr_stmt *st, int64_t r)
{
	memset(&st->expect, 0, sizeof(st->expect));
	if (st->kind == TR_TOUCH) {
		if (r == 0)
			st->expect.kind = TR_RES_TOUCH; /* ok; a fault's pf= is not kept */
	} else if (r < 0) {
		st->expect.kind = TR_RES_ERRNO;
		st->expect.err = (int)-r;
	} else {
		st->expect.kind = TR_RES_VALUE;
		st->expect.value = (uint64_t)r;
	}
}

/* Appends st; with a reference run, runs it there and returns its result. */
static int64_t emit(stream *s, tr_stmt st)
{
	st.line = (int)s->t->stmts->len + 3; /* after "mmtrace 1" and "arena" */
	int64_t r = 0;
	if (ref.mm) {
		r = replay_stmt(mm_api_model(), ref.mm, ref.files, &st);
		set_expect(&st, r);
		g_array_append_val(ref.expect, r);
	}
	g_array_append_val(s->t->stmts, st);
	return r;
}

static int64_t op_mmap(stream *s, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags)
{
	return emit(s, (tr_stmt){.kind = TR_MMAP, .addr = addr, .len = len, .prot = prot, .flags = flags});
}

static void op_munmap(stream *s, uint64_t addr, uint64_t len)
{
	emit(s, (tr_stmt){.kind = TR_MUNMAP, .addr = addr, .len = len});
}

static void op_mprotect(stream *s, uint64_t addr, uint64_t len, uint64_t prot)
{
	emit(s, (tr_stmt){.kind = TR_MPROTECT, .addr = addr, .len = len, .prot = prot});
}

static void op_touch(stream *s, uint64_t addr, mm_access acc)
{
	emit(s, (tr_stmt){.kind = TR_TOUCH, .addr = addr, .access = acc});
}

static size_t nstmts(const stream *s) { return s->t->stmts->len; }

/* ---- Layouts: n VMAs of vpages pages every stride pages, from base;
 * protections alternate read-only / read-write, so no two merge. -------- */
static uint64_t prot_of(size_t i) { return (i & 1) ? RW : RO; }

static void layout(stream *s, uint64_t base, size_t n, uint64_t vpages, uint64_t stride)
{
	for (size_t i = 0; i < n; i++)
		op_mmap(s, base + i * stride * P, vpages * P, prot_of(i), ANON_FIXED);
	s->vmas = n;
}

/* churn: 2-page VMAs every 3 pages. Per round: munmap a random slot's VMA
 * and map it again (1..3 pages), or (1 in 4) map over it with MAP_FIXED. */
static void gen_churn(stream *s, size_t n, size_t ops)
{
	uint8_t *len = xmalloc(n);
	memset(len, 2, n);
	layout(s, ARENA_BASE, n, 2, 3);
	s->nsetup = nstmts(s);
	while (nstmts(s) - s->nsetup < ops) {
		size_t i = below(n);
		uint64_t a = ARENA_BASE + i * 3 * P;
		uint8_t nl = (uint8_t)(1 + below(3));
		if (below(4) == 0) {
			op_mmap(s, a, (uint64_t)(len[i] > nl ? len[i] : nl) * P, prot_of(i), ANON_FIXED);
			len[i] = len[i] > nl ? len[i] : nl;
		} else {
			op_munmap(s, a, len[i] * P);
			if (nstmts(s) - s->nsetup == ops)
				break; /* the last op: an odd count ends on the munmap */
			op_mmap(s, a, nl * P, prot_of(i), ANON_FIXED);
			len[i] = nl;
		}
	}
	free(len);
}

/* mprotect: 8-page VMAs back to back. Per round, one of: 1..2 pages inside
 * a VMA take the other protection (1 VMA becomes 3) and get theirs back (3
 * merge into 1); the first 1..3 pages take the previous VMA's protection
 * (they move into it) and get theirs back; the same with the last pages and
 * the next VMA. */
static void gen_mprotect(stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 8, 8);
	s->nsetup = nstmts(s);
	while (nstmts(s) - s->nsetup < ops) {
		size_t i = below(n);
		uint64_t a = ARENA_BASE + i * 8 * P, start, len, other;
		unsigned v = (unsigned)below(3);
		if (v == 1 && i == 0)
			v = 0;
		if (v == 2 && i == n - 1)
			v = 0;
		if (v == 0) {
			start = a + (1 + below(6)) * P;
			len = (1 + below(2)) * P;
			if (start + len > a + 7 * P)
				len = P;
			other = prot_of(i + 1);
		} else if (v == 1) {
			len = (1 + below(3)) * P;
			start = a;
			other = prot_of(i - 1);
		} else {
			len = (1 + below(3)) * P;
			start = a + 8 * P - len;
			other = prot_of(i + 1);
		}
		op_mprotect(s, start, len, other);
		if (nstmts(s) - s->nsetup == ops)
			break;
		op_mprotect(s, start, len, prot_of(i));
	}
}

/* mremap: 2-page VMAs every 3 pages, the first page of each present (a read:
 * the zero page), each moving between its home slot and an away slot in a
 * second copy of the layout above the first. */
static void gen_mremap(stream *s, size_t n, size_t ops)
{
	uint64_t away = ARENA_BASE + ((n * 3 * P + (1ull << 30)) & ~((1ull << 30) - 1));
	uint8_t *where = xmalloc(n);
	memset(where, 0, n);
	layout(s, ARENA_BASE, n, 2, 3);
	for (size_t i = 0; i < n; i++)
		op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
	s->nsetup = nstmts(s);
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		uint64_t home = ARENA_BASE + i * 3 * P, aw = away + i * 3 * P;
		emit(s, (tr_stmt){.kind = TR_MREMAP,
		                  .addr = where[i] ? aw : home,
		                  .len = 2 * P,
		                  .new_len = 2 * P,
		                  .flags = MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED,
		                  .new_addr = where[i] ? home : aw,
		                  .has_new_addr = true});
		where[i] ^= 1;
	}
	free(where);
}

/* find: the churn layout; random byte addresses over it (2 in 3 mapped). */
static void gen_find(stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 2, 3);
	s->nsetup = nstmts(s);
	s->find = xmalloc(ops * sizeof(*s->find));
	s->nfind = ops;
	for (size_t k = 0; k < ops; k++) {
		uint64_t a = ARENA_BASE + below(n * 3 * P);
		s->find[k] = a;
		if (ref.mm) {
			mm_vma_info vi;
			int64_t r = mm_vmas(ref.mm, a, a + 1, &vi, 1) ? (int64_t)vi.start : -ENOENT;
			g_array_append_val(ref.expect, r);
		}
	}
}

/* nohint: 1-page VMAs, with a hole after one in four (1 page), one in
 * sixteen (2..4 pages), ending at the arena's top so that the top-down
 * search starts among them. No-hint mmaps of 1..4 pages; the oldest of the
 * last 64 is unmapped after each new one (at the address the reference run
 * gave it). */
static void gen_nohint(stream *s, size_t n, size_t ops)
{
	uint64_t *gap = xmalloc(n * sizeof(*gap)), span = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = below(64);
		gap[i] = r < 4 ? 2 + below(3) : r < 20 ? 1 : 0;
		span += 1 + gap[i];
	}
	uint64_t a = ARENA_END - span * P;
	for (size_t i = 0; i < n; i++) {
		op_mmap(s, a, P, prot_of(i), ANON_FIXED);
		a += (1 + gap[i]) * P;
	}
	s->vmas = n;
	free(gap);
	uint64_t live[NOHINT_LIVE], live_len[NOHINT_LIVE];
	size_t head = 0;
	for (size_t k = 0; k < NOHINT_LIVE; k++) {
		uint64_t r = below(10), len = (r < 5 ? 1 : r < 8 ? 2 : 3 + below(2)) * P;
		live_len[k] = len;
		live[k] = (uint64_t)op_mmap(s, 0, len, RW, ANON);
	}
	s->nsetup = nstmts(s);
	while (nstmts(s) - s->nsetup < ops) {
		uint64_t r = below(10), len = (r < 5 ? 1 : r < 8 ? 2 : 3 + below(2)) * P;
		op_munmap(s, live[head], live_len[head]);
		if (nstmts(s) - s->nsetup == ops)
			break;
		live_len[head] = len;
		live[head] = (uint64_t)op_mmap(s, 0, len, RW, ANON);
		head = (head + 1) % NOHINT_LIVE;
	}
}

void stream_touch_layout(stream *s, size_t n, bool memory)
{
	if (!s->t)
		s->t = new_trace();
	layout(s, ARENA_BASE, n, 2, 3);
	for (size_t i = 0; i < n; i++) {
		if (memory) {
			op_touch(s, ARENA_BASE + i * 3 * P, (i & 1) ? MM_ACCESS_WRITE : MM_ACCESS_READ);
			continue;
		}
		op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
		if (i % 16 == 1)
			op_touch(s, ARENA_BASE + i * 3 * P + P, MM_ACCESS_WRITE);
	}
}

/* touch: the churn layout with its first page read (the zero page) in every
 * VMA, and its second page written (an anonymous page) in every sixteenth,
 * read-write, VMA. Ops: the same accesses again, at random VMAs. */
static void gen_touch(stream *s, size_t n, size_t ops)
{
	stream_touch_layout(s, n, false);
	s->nsetup = nstmts(s);
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		if (i % 16 == 1)
			op_touch(s, ARENA_BASE + i * 3 * P + P, MM_ACCESS_WRITE);
		else
			op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
	}
}

/* ---- mixed: a recorded program (bench/strace2ops.py writes it as an mmtrace
 * of this arena), replayed over and over at the arena's top, on top of the
 * churn layout. ---------------------------------------------------------------- */
static trace *mixed;
static size_t mixed_peak; /* the most VMAs it holds at once */

bool streams_load_mixed(const char *path)
{
	GError *err = NULL;
	mixed = trace_load(path, &err);
	if (!mixed) {
		fprintf(stderr, "bench_streams: %s\n", err->message);
		g_error_free(err);
		return false;
	}
	if (mixed->arena_base != ARENA_BASE || mixed->arena_size != ARENA_SIZE) {
		fprintf(stderr, "%s:1: error: the mixed stream must use the bench's arena (arena 0x%llx 256G)\n", path,
		        ARENA_BASE);
		return false;
	}
	/* Its peak VMA count, and that it leaves nothing mapped: one run alone. */
	mm_config cfg = bench_config();
	mm_state *mm = mm_create(&cfg);
	int files[256];
	if (!mm || mixed->files->len >= 256) {
		fprintf(stderr, "%s: error: too many files, or no memory\n", path);
		return false;
	}
	for (guint f = 0; f < mixed->files->len; f++)
		files[f] = mm_file_create(mm, g_array_index(mixed->files, tr_file, f).size);
	size_t bad = 0;
	for (guint i = 0; i < mixed->stmts->len; i++) {
		const tr_stmt *st = &g_array_index(mixed->stmts, tr_stmt, i);
		if (tr_is_observation(st->kind) || st->kind == TR_WRITE || st->kind == TR_READ) {
			fprintf(stderr, "%s:%d: error: the mixed stream replays operations only\n", path, st->line);
			return false;
		}
		int64_t r = replay_stmt(mm_api_model(), mm, files, st);
		tr_stmt chk = *st;
		set_expect(&chk, r);
		if (st->expect.kind != TR_RES_NONE && !tr_result_equal(&chk.expect, &st->expect) && bad++ < 5)
			fprintf(stderr, "%s:%d: warning: the model gives another result than the trace expects\n", path,
			        st->line);
		size_t c = mm_map_count(mm);
		if (c > mixed_peak)
			mixed_peak = c;
	}
	if (mm_vmas(mm, ARENA_BASE, ARENA_END, NULL, 0) != 0) {
		fprintf(stderr, "%s: error: the mixed stream must end with nothing mapped in the arena\n", path);
		return false;
	}
	mm_destroy(mm);
	return true;
}

static void gen_mixed(stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 2, 3); /* the files: stream_build */
	/* One replay of the program untimed, to warm up; then enough to reach ops. */
	size_t len = mixed->stmts->len, reps = 1 + (ops + len - 1) / len;
	for (size_t r = 0; r < reps; r++) {
		if (r == 1)
			s->nsetup = nstmts(s);
		for (size_t k = 0; k < len; k++) {
			tr_stmt st = g_array_index(mixed->stmts, tr_stmt, k);
			st.expect_lines = NULL;
			emit(s, st);
		}
	}
}

size_t stream_extra(stream_id id)
{
	switch (id) {
	case S_MIXED:
		return 2 * mixed_peak + 16;
	case S_NOHINT:
		return NOHINT_LIVE + 2;
	default:
		return 2;
	}
}

typedef void (*gen_fn)(stream *, size_t, size_t);

/* Reads or writes all n bytes; false on an error or an early end. */
static bool full_io(int fd, void *buf, size_t n, bool wr)
{
	char *p = buf;
	while (n) {
		ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* The child's part: the stream with its reference run, sent down fd. */
static void build_child(stream *s, stream_id id, size_t n, size_t ops, int fd)
{
	static const gen_fn gens[] = {gen_churn, gen_mprotect, gen_mremap, gen_find, gen_nohint, gen_touch, gen_mixed};
	mm_config cfg = bench_config();
	ref.mm = mm_create(&cfg);
	ref.files = xmalloc(256 * sizeof(int));
	ref.expect = g_array_new(FALSE, FALSE, sizeof(int64_t));
	if (!ref.mm) {
		fprintf(stderr, "bench_streams: out of memory\n");
		_exit(1);
	}
	for (guint f = 0; f < s->t->files->len; f++)
		ref.files[f] = mm_file_create(ref.mm, g_array_index(s->t->files, tr_file, f).size);
	gens[id](s, n, ops);
	uint64_t hdr[5] = {s->t->stmts->len, s->nsetup, s->vmas, s->nfind, ref.expect->len};
	bool ok = full_io(fd, hdr, sizeof(hdr), true) &&
	          full_io(fd, s->t->stmts->data, s->t->stmts->len * sizeof(tr_stmt), true) &&
	          full_io(fd, s->find, s->nfind * sizeof(uint64_t), true) &&
	          full_io(fd, ref.expect->data, ref.expect->len * sizeof(int64_t), true);
	_exit(ok ? 0 : 1);
}

/* The stream is built in a child process, reference model and all, and
 * comes back as plain arrays: the parent's heap then holds the stream and
 * nothing of the reference model, so that the model timed next allocates
 * into a heap laid out as if it were the first (at 1,000,000 VMAs a heap
 * full of the reference model's freed blocks made find 2x slower). */
void stream_build(stream *s, stream_id id, size_t n, size_t ops, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->name = stream_names[id];
	s->t = new_trace();
	s->extra = stream_extra(id);
	for (guint f = 0; id == S_MIXED && f < mixed->files->len; f++) {
		tr_file fl = g_array_index(mixed->files, tr_file, f);
		fl.name = g_strdup(fl.name);
		g_array_append_val(s->t->files, fl);
	}
	rng_seed(seed);
	int fd[2];
	fflush(NULL);
	pid_t pid = pipe(fd) == 0 ? fork() : -1;
	if (pid == 0) {
		close(fd[0]);
		build_child(s, id, n, ops, fd[1]);
	}
	uint64_t hdr[5];
	bool ok = pid > 0;
	if (ok) {
		close(fd[1]);
		ok = full_io(fd[0], hdr, sizeof(hdr), false);
	}
	if (ok) {
		g_array_set_size(s->t->stmts, (guint)hdr[0]);
		s->nsetup = hdr[1];
		s->vmas = hdr[2];
		s->nfind = hdr[3];
		s->find = hdr[3] ? xmalloc(hdr[3] * sizeof(uint64_t)) : NULL;
		s->expect = g_new(int64_t, hdr[4] ? hdr[4] : 1);
		ok = full_io(fd[0], s->t->stmts->data, hdr[0] * sizeof(tr_stmt), false) &&
		     full_io(fd[0], s->find, hdr[3] * sizeof(uint64_t), false) &&
		     full_io(fd[0], s->expect, hdr[4] * sizeof(int64_t), false);
	}
	int status = 0;
	if (pid > 0) {
		close(fd[0]);
		ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
	}
	if (!ok) {
		fprintf(stderr, "bench_streams: building the %s stream failed\n", s->name);
		exit(1);
	}
}

void stream_free(stream *s)
{
	if (s->t)
		trace_free(s->t);
	free(s->find);
	g_free(s->expect);
	memset(s, 0, sizeof(*s));
}

bool stream_emit(const stream *s, size_t size, const char *dir)
{
	char *path = g_strdup_printf("%s/%s-%zu.trace", dir, s->name, size);
	char *text = trace_to_string(s->t);
	GError *err = NULL;
	bool ok = g_file_set_contents(path, text, -1, &err);
	if (!ok) {
		fprintf(stderr, "bench_streams: %s\n", err->message);
		g_error_free(err);
	}
	g_free(text);
	g_free(path);
	return ok;
}

/* The same operation streams on the model (mm_*), the naive oracle (naive_*)
 * and the live kernel (raw system calls), in one run: nanoseconds per
 * operation, the ratios, and whether the three agreed on every result.
 *
 *   usage: bench_streams [--vmas N[,N...]] [--ops N] [--stream NAME[,NAME...]]
 *                        [--targets model,naive,kernel] [--csv]
 *                        [--naive-ops N] [--naive-budget SECONDS] [--naive-max-vmas N] [--chunks N]
 *                        [--kernel-find procmap|mincore] [--mixed FILE]
 *
 * Streams (each op is one system call, or one lookup or access):
 *   churn     munmap + MAP_FIXED mmap of random VMAs (sometimes one MAP_FIXED
 *             mmap over a live VMA), lengths 1..3 pages;
 *   mprotect  a page range in the middle of a random 8-page VMA, or at its
 *             start / end, takes another protection (split, or a move of the
 *             boundary into the neighbour), then gets its own back (merge);
 *   mremap    a 2-page VMA with a present page moves between its home slot
 *             and an away slot (MREMAP_MAYMOVE|MREMAP_FIXED);
 *   find      the VMA at a random address: mm_vmas / naive_vmas over one byte,
 *             and on the kernel the PROCMAP_QUERY ioctl on /proc/self/maps
 *             (find_vma from user space; --kernel-find mincore for mincore);
 *   nohint    mmap with no address (the top-down gap search) into a layout
 *             with holes of 1..4 pages, and munmap of the oldest of the last
 *             64 such mappings;
 *   touch     a read of a present zero page or a write of a present anonymous
 *             page: mm_touch / naive_touch / a real load or store;
 *   mixed     the memory system calls of a real program (strace converted by
 *             bench/strace2ops.py; docs/perf/mixed-python.ops), replayed again
 *             and again on top of the layout;
 *   walk      (model tables only) pt_walk and naive_walk on present pages:
 *             translations per second (the best of the --chunks slices);
 *   memory    (model, and naive where it runs) heap bytes per VMA and per
 *             mapped page, by mallinfo2() before and after.
 * Every stream first builds an address space of N VMAs (alternating
 * protections, so that they do not merge) and then times its ops; the
 * build is not timed.
 *
 * The kernel target runs in a forked child: it reserves the arena
 * (MAP_FIXED_NOREPLACE proves it free), fills every other free range of its
 * address space with PROT_NONE placeholders (so a no-hint mmap can only land
 * in the arena), releases the arena, probes that a no-hint mmap lands at its
 * top, and from then on calls no malloc. Every address an op uses is checked
 * to lie inside the arena before the system call is made; an op that would
 * leave it is refused (-EPERM, counted as an error). The model and the oracle
 * get the same window (mmap_base = arena end, mmap_low = arena base), so all
 * three should return the same value for every op: the `mismatch` column
 * counts the ops where the kernel or the naive oracle returned something
 * else than the model.
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
 *
 * CSV (--csv): one header line, then
 *   op,STREAM,SIZE,VMAS,TARGET,OPS,NS_PER_OP,ERRORS,MISMATCH,NOTE
 *   mem,WHAT,SIZE,VMAS,TARGET,UNITS,BYTES_PER_UNIT,,,NOTE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "naive.h"
#include "pagetable.h"
#include "walker_naive.h"

#define NOINLINE __attribute__((noinline))
#define P MM_PAGE_SIZE

/* The arena: 256 GiB at 32 TiB, far from anything a process maps itself. */
#define ARENA_BASE 0x200000000000ull
#define ARENA_SIZE (256ull << 30)
#define ARENA_END (ARENA_BASE + ARENA_SIZE)
#define TASK_SIZE_MAX MM_TASK_SIZE
#define STACK_WINDOW (1ull << 20) /* stack_guard_gap: left free below [stack] */

/* PROCMAP_QUERY (include/uapi/linux/fs.h, Linux 6.11+): not in every
 * installed header, so spelled out here. */
struct bench_procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define BENCH_PROCMAP_QUERY _IOWR('f', 17, struct bench_procmap_query)

/* ---- Operations ---------------------------------------------------------- */
enum op_kind { OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_MADVISE, OP_FIND, OP_TOUCH };

/* addr is absolute, or an offset from the result of op `ref` when ref >= 0
 * (the address a no-hint mmap or a moving mremap returned). */
struct op {
	uint8_t kind;
	uint8_t access; /* OP_TOUCH: mm_access */
	int32_t ref, ref2; /* ref2: mremap's new_addr */
	int32_t file;      /* OP_MMAP: file id, 0 for none */
	uint64_t addr, len;
	uint64_t a; /* mmap, mprotect: prot; mremap: new_len; madvise: advice */
	uint64_t b; /* mmap, mremap: flags */
	uint64_t c; /* mmap: offset; mremap: new_addr */
};

struct stream {
	const char *name;
	size_t vmas;   /* VMAs the layout builds */
	size_t extra;  /* VMAs the stream may add on top, at most */
	struct op *ops;
	size_t n, cap, nsetup;
	int nfiles;
	uint64_t file_size[256];
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "bench_streams: out of memory\n");
		exit(1);
	}
	return p;
}

static struct op *push(struct stream *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		struct op *n = realloc(s->ops, s->cap * sizeof(*n));
		if (!n) {
			fprintf(stderr, "bench_streams: out of memory\n");
			exit(1);
		}
		s->ops = n;
	}
	struct op *o = &s->ops[s->n++];
	memset(o, 0, sizeof(*o));
	o->ref = o->ref2 = -1;
	return o;
}

#define ANON_FIXED (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED)
#define ANON (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS)
#define RO MM_PROT_READ
#define RW (MM_PROT_READ | MM_PROT_WRITE)

static void op_mmap(struct stream *s, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags)
{
	struct op *o = push(s);
	o->kind = OP_MMAP;
	o->addr = addr;
	o->len = len;
	o->a = prot;
	o->b = flags;
}

static void op_munmap(struct stream *s, int32_t ref, uint64_t addr, uint64_t len)
{
	struct op *o = push(s);
	o->kind = OP_MUNMAP;
	o->ref = ref;
	o->addr = addr;
	o->len = len;
}

static void op_mprotect(struct stream *s, uint64_t addr, uint64_t len, uint64_t prot)
{
	struct op *o = push(s);
	o->kind = OP_MPROTECT;
	o->addr = addr;
	o->len = len;
	o->a = prot;
}

static void op_touch(struct stream *s, uint64_t addr, mm_access acc)
{
	struct op *o = push(s);
	o->kind = OP_TOUCH;
	o->addr = addr;
	o->access = (uint8_t)acc;
}

/* ---- Random numbers: splitmix64, one seed per stream and size ------------- */
static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return rnd() % n; }

/* ---- Layouts: n VMAs of vpages pages every stride pages, from base;
 * protections alternate read-only / read-write, so no two merge. -------- */
static uint64_t prot_of(size_t i) { return (i & 1) ? RW : RO; }

static void layout(struct stream *s, uint64_t base, size_t n, uint64_t vpages, uint64_t stride)
{
	for (size_t i = 0; i < n; i++)
		op_mmap(s, base + i * stride * P, vpages * P, prot_of(i), ANON_FIXED);
	s->vmas = n;
}

/* churn: 2-page VMAs every 3 pages. Per round: munmap a random slot's VMA
 * and map it again (1..3 pages), or (1 in 4) map over it with MAP_FIXED. */
static void gen_churn(struct stream *s, size_t n, size_t ops)
{
	uint8_t *len = xmalloc(n);
	memset(len, 2, n);
	layout(s, ARENA_BASE, n, 2, 3);
	s->nsetup = s->n;
	while (s->n - s->nsetup < ops) {
		size_t i = below(n);
		uint64_t a = ARENA_BASE + i * 3 * P;
		uint8_t nl = (uint8_t)(1 + below(3));
		if (below(4) == 0) {
			op_mmap(s, a, (uint64_t)(len[i] > nl ? len[i] : nl) * P, prot_of(i), ANON_FIXED);
			len[i] = len[i] > nl ? len[i] : nl;
		} else {
			op_munmap(s, -1, a, len[i] * P);
			op_mmap(s, a, nl * P, prot_of(i), ANON_FIXED);
			len[i] = nl;
		}
	}
	s->n = s->nsetup + ops;
	free(len);
}

/* mprotect: 8-page VMAs back to back. Per round, one of: 1..2 pages inside
 * a VMA take the other protection (1 VMA becomes 3) and get theirs back (3
 * merge into 1); the first 1..3 pages take the previous VMA's protection
 * (they move into it) and get theirs back; the same with the last pages and
 * the next VMA. */
static void gen_mprotect(struct stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 8, 8);
	s->extra = 2;
	s->nsetup = s->n;
	while (s->n - s->nsetup < ops) {
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
		op_mprotect(s, start, len, prot_of(i));
	}
	s->n = s->nsetup + ops;
}

/* mremap: 2-page VMAs every 3 pages, the first page of each present (a read:
 * the zero page), each moving between its home slot and an away slot in a
 * second copy of the layout above the first. */
static void gen_mremap(struct stream *s, size_t n, size_t ops)
{
	uint64_t away = ARENA_BASE + ((n * 3 * P + (1ull << 30)) & ~((1ull << 30) - 1));
	uint8_t *where = xmalloc(n);
	memset(where, 0, n);
	layout(s, ARENA_BASE, n, 2, 3);
	for (size_t i = 0; i < n; i++)
		op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
	s->nsetup = s->n;
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		uint64_t home = ARENA_BASE + i * 3 * P, aw = away + i * 3 * P;
		struct op *o = push(s);
		o->kind = OP_MREMAP;
		o->addr = where[i] ? aw : home;
		o->len = 2 * P;
		o->a = 2 * P;
		o->b = MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED;
		o->c = where[i] ? home : aw;
		where[i] ^= 1;
	}
	free(where);
}

/* find: the churn layout; random byte addresses over it (2 in 3 mapped). */
static void gen_find(struct stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 2, 3);
	s->nsetup = s->n;
	for (size_t k = 0; k < ops; k++) {
		struct op *o = push(s);
		o->kind = OP_FIND;
		o->addr = ARENA_BASE + below(n * 3 * P);
	}
}

/* nohint: 1-page VMAs, with a hole after one in four (1 page), one in
 * sixteen (2..4 pages), ending at the arena's top so that the top-down
 * search starts among them. No-hint mmaps of 1..4 pages; the oldest of the
 * last 64 is unmapped after each new one. */
enum { NOHINT_LIVE = 64 };

static void gen_nohint(struct stream *s, size_t n, size_t ops)
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
	s->extra = NOHINT_LIVE + 2;
	free(gap);
	int32_t live[NOHINT_LIVE];
	uint64_t live_len[NOHINT_LIVE];
	size_t head = 0;
	for (size_t k = 0; k < NOHINT_LIVE; k++) {
		uint64_t r = below(10), len = (r < 5 ? 1 : r < 8 ? 2 : 3 + below(2)) * P;
		live[k] = (int32_t)s->n;
		live_len[k] = len;
		op_mmap(s, 0, len, RW, ANON);
	}
	s->nsetup = s->n;
	while (s->n - s->nsetup < ops) {
		uint64_t r = below(10), len = (r < 5 ? 1 : r < 8 ? 2 : 3 + below(2)) * P;
		op_munmap(s, live[head], 0, live_len[head]);
		live[head] = (int32_t)s->n;
		live_len[head] = len;
		op_mmap(s, 0, len, RW, ANON);
		head = (head + 1) % NOHINT_LIVE;
	}
	s->n = s->nsetup + ops;
}

/* touch: the churn layout with its first page read (the zero page) in every
 * VMA, and its second page written (an anonymous page) in every sixteenth,
 * read-write, VMA. Ops: the same accesses again, at random VMAs. */
static void gen_touch(struct stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 2, 3);
	for (size_t i = 0; i < n; i++) {
		op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
		if (i % 16 == 1)
			op_touch(s, ARENA_BASE + i * 3 * P + P, MM_ACCESS_WRITE);
	}
	s->nsetup = s->n;
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		if (i % 16 == 1)
			op_touch(s, ARENA_BASE + i * 3 * P + P, MM_ACCESS_WRITE);
		else
			op_touch(s, ARENA_BASE + i * 3 * P, MM_ACCESS_READ);
	}
}

/* mixed: a recorded op list (bench/strace2ops.py), refs relative to its own
 * first op, replayed over and over on top of the churn layout. */
static struct {
	struct op *ops;
	size_t n;
	int nfiles;
	uint64_t file_size[256];
	size_t peak;
	bool loaded;
} trace;

static bool parse_addr(const char *t, int32_t *ref, uint64_t *off)
{
	char *end;
	if (strcmp(t, "-") == 0) {
		*ref = -1;
		*off = 0;
		return true;
	}
	if (t[0] == 'r') {
		long r = strtol(t + 1, &end, 10);
		if (*end != '+' || r < 0)
			return false;
		*ref = (int32_t)r;
		*off = strtoull(end + 1, &end, 0);
		return *end == '\0';
	}
	*ref = -1;
	*off = strtoull(t, &end, 0);
	return *end == '\0';
}

static bool load_trace(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench_streams: %s: %s\n", path, strerror(errno));
		return false;
	}
	char line[512];
	size_t cap = 0, lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (line[0] == '#') {
			unsigned long long pk;
			if (sscanf(line, "# peak-regions %llu", &pk) == 1)
				trace.peak = (size_t)pk;
			continue;
		}
		if (hash)
			*hash = '\0';
		char *tok[8];
		int nt = 0;
		for (char *p = strtok(line, " \t\r\n"); p && nt < 8; p = strtok(NULL, " \t\r\n"))
			tok[nt++] = p;
		if (nt == 0)
			continue;
		if (strcmp(tok[0], "file") == 0 && nt == 3) {
			long id = strtol(tok[1], NULL, 10);
			if (id != trace.nfiles + 1 || id > 255)
				goto bad;
			trace.file_size[id] = strtoull(tok[2], NULL, 0);
			trace.nfiles = (int)id;
			continue;
		}
		if (trace.n == cap) {
			cap = cap ? cap * 2 : 1024;
			trace.ops = realloc(trace.ops, cap * sizeof(struct op));
			if (!trace.ops)
				goto bad;
		}
		struct op *o = &trace.ops[trace.n];
		memset(o, 0, sizeof(*o));
		o->ref = o->ref2 = -1;
		bool ok = parse_addr(tok[1 < nt ? 1 : 0], &o->ref, &o->addr);
		if (strcmp(tok[0], "mmap") == 0 && nt == 7) {
			o->kind = OP_MMAP;
			o->len = strtoull(tok[2], NULL, 0);
			o->a = strtoull(tok[3], NULL, 0);
			o->b = strtoull(tok[4], NULL, 0);
			o->file = (int32_t)strtol(tok[5], NULL, 10);
			o->c = strtoull(tok[6], NULL, 0);
			ok = ok && o->file >= 0 && o->file <= trace.nfiles;
		} else if (strcmp(tok[0], "munmap") == 0 && nt == 3) {
			o->kind = OP_MUNMAP;
			o->len = strtoull(tok[2], NULL, 0);
		} else if (strcmp(tok[0], "mprotect") == 0 && nt == 4) {
			o->kind = OP_MPROTECT;
			o->len = strtoull(tok[2], NULL, 0);
			o->a = strtoull(tok[3], NULL, 0);
		} else if (strcmp(tok[0], "madvise") == 0 && nt == 4) {
			o->kind = OP_MADVISE;
			o->len = strtoull(tok[2], NULL, 0);
			o->a = strtoull(tok[3], NULL, 0);
		} else if (strcmp(tok[0], "mremap") == 0 && nt == 6) {
			o->kind = OP_MREMAP;
			o->len = strtoull(tok[2], NULL, 0);
			o->a = strtoull(tok[3], NULL, 0);
			o->b = strtoull(tok[4], NULL, 0);
			ok = ok && parse_addr(tok[5], &o->ref2, &o->c);
		} else {
			ok = false;
		}
		/* A ref points back, and a MAP_FIXED / MREMAP_FIXED address or any
		 * other op's address must be relative to a mapping of the trace:
		 * the replay never lets a recorded absolute address through. */
		if (!ok || o->ref >= (int32_t)trace.n || o->ref2 >= (int32_t)trace.n)
			goto bad;
		if (o->ref < 0 && !(o->kind == OP_MMAP && o->addr == 0 && !(o->b & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE))))
			goto bad;
		if (o->kind == OP_MREMAP && (o->b & MM_MREMAP_FIXED) && o->ref2 < 0)
			goto bad;
		trace.n++;
	}
	fclose(f);
	trace.loaded = true;
	return true;
bad:
	fprintf(stderr, "bench_streams: %s:%zu: not an op list line\n", path, lineno);
	fclose(f);
	return false;
}

static void gen_mixed(struct stream *s, size_t n, size_t ops)
{
	layout(s, ARENA_BASE, n, 2, 3);
	s->nfiles = trace.nfiles;
	memcpy(s->file_size, trace.file_size, sizeof(s->file_size));
	s->extra = 2 * trace.peak + 16;
	/* One replay of the trace untimed, to warm up; then enough to reach ops. */
	size_t reps = 1 + (ops + trace.n - 1) / trace.n;
	for (size_t r = 0; r < reps; r++) {
		if (r == 1)
			s->nsetup = s->n;
		size_t base = s->n;
		for (size_t k = 0; k < trace.n; k++) {
			struct op *o = push(s);
			*o = trace.ops[k];
			if (o->ref >= 0)
				o->ref += (int32_t)base;
			if (o->ref2 >= 0)
				o->ref2 += (int32_t)base;
		}
	}
}

/* ---- Replay --------------------------------------------------------------- */
static inline uint64_t op_addr(const struct op *o, const int64_t *res)
{
	return o->ref >= 0 ? (uint64_t)res[o->ref] + o->addr : o->addr;
}

static inline uint64_t op_addr2(const struct op *o, const int64_t *res)
{
	return o->ref2 >= 0 ? (uint64_t)res[o->ref2] + o->c : o->c;
}

static int model_files[256], naive_files[256];

static NOINLINE void replay_model(mm_state *mm, const struct op *ops, int64_t *res, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct op *o = &ops[i];
		uint64_t a = op_addr(o, res);
		int64_t r;
		switch (o->kind) {
		case OP_MMAP:
			r = mm_mmap(mm, a, o->len, o->a, o->b, o->file ? model_files[o->file] : 0, o->c);
			break;
		case OP_MUNMAP:
			r = mm_munmap(mm, a, o->len);
			break;
		case OP_MPROTECT:
			r = mm_mprotect(mm, a, o->len, o->a);
			break;
		case OP_MREMAP:
			r = mm_mremap(mm, a, o->len, o->a, o->b, op_addr2(o, res));
			break;
		case OP_MADVISE:
			r = mm_madvise(mm, a, o->len, (int64_t)o->a);
			break;
		case OP_FIND: {
			mm_vma_info vi;
			r = mm_vmas(mm, a, a + 1, &vi, 1) ? (int64_t)vi.start : -ENOENT;
			break;
		}
		default:
			r = -(int64_t)mm_touch(mm, a, (mm_access)o->access).outcome;
			break;
		}
		res[i] = r;
	}
}

/* The timed part on the model, a function of its own so that callgrind can
 * count it alone (--toggle-collect=timed_replay_model). */
static NOINLINE void timed_replay_model(mm_state *mm, const struct op *ops, int64_t *res, size_t from, size_t to)
{
	replay_model(mm, ops, res, from, to);
}

static NOINLINE void replay_naive(naive_mm *nm, const struct op *ops, int64_t *res, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct op *o = &ops[i];
		uint64_t a = op_addr(o, res);
		int64_t r;
		switch (o->kind) {
		case OP_MMAP:
			r = naive_mmap(nm, a, o->len, o->a, o->b, o->file ? naive_files[o->file] : 0, o->c);
			break;
		case OP_MUNMAP:
			r = naive_munmap(nm, a, o->len);
			break;
		case OP_MPROTECT:
			r = naive_mprotect(nm, a, o->len, o->a);
			break;
		case OP_MREMAP:
			r = naive_mremap(nm, a, o->len, o->a, o->b, op_addr2(o, res));
			break;
		case OP_MADVISE:
			r = naive_madvise(nm, a, o->len, (int64_t)o->a);
			break;
		case OP_FIND: {
			mm_vma_info vi;
			r = naive_vmas(nm, a, a + 1, &vi, 1) ? (int64_t)vi.start : -ENOENT;
			break;
		}
		default:
			r = -(int64_t)naive_touch(nm, a, (mm_access)o->access).outcome;
			break;
		}
		res[i] = r;
	}
}

/* ---- The kernel ------------------------------------------------------------ */
static bool kernel_find_mincore;
static int k_files[256];
static int k_maps_fd = -1;
static size_t k_refused;
static sigjmp_buf k_fault_jmp;
static volatile size_t k_current;

static inline bool in_arena(uint64_t a, uint64_t len)
{
	return a >= ARENA_BASE && a < ARENA_END && len <= ARENA_END - a;
}

static inline int64_t ksys(long r) { return r == -1 ? -(int64_t)errno : (int64_t)r; }

static inline uint64_t page_up(uint64_t x) { return (x + P - 1) & ~(P - 1); }

static NOINLINE void replay_kernel(const struct op *ops, int64_t *res, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct op *o = &ops[i];
		uint64_t a = op_addr(o, res);
		uint64_t plen = page_up(o->len);
		int64_t r = INT64_MIN; /* still INT64_MIN: refused, outside the arena */
		k_current = i;
		switch (o->kind) {
		case OP_MMAP:
			if ((o->b & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) || a) {
				if (!in_arena(a, plen))
					break;
			}
			if (plen > ARENA_SIZE)
				break;
			r = ksys(syscall(SYS_mmap, a, o->len, o->a, o->b, o->file ? k_files[o->file] : -1, o->c));
			if (r >= 0 && !in_arena((uint64_t)r, plen)) {
				/* cannot happen with the placeholders; never keep it */
				syscall(SYS_munmap, (uint64_t)r, o->len);
				r = INT64_MIN;
			}
			break;
		case OP_MUNMAP:
			if (in_arena(a, plen))
				r = ksys(syscall(SYS_munmap, a, o->len));
			break;
		case OP_MPROTECT:
			if (in_arena(a, plen))
				r = ksys(syscall(SYS_mprotect, a, o->len, o->a));
			break;
		case OP_MREMAP: {
			uint64_t na = op_addr2(o, res);
			if (!in_arena(a, plen) || page_up(o->a) > ARENA_SIZE)
				break;
			if ((o->b & MM_MREMAP_FIXED) && !in_arena(na, page_up(o->a)))
				break;
			r = ksys(syscall(SYS_mremap, a, o->len, o->a, o->b, na));
			if (r >= 0 && !in_arena((uint64_t)r, page_up(o->a))) {
				syscall(SYS_munmap, (uint64_t)r, o->a);
				r = INT64_MIN;
			}
			break;
		}
		case OP_MADVISE:
			if (in_arena(a, plen))
				r = ksys(syscall(SYS_madvise, a, o->len, o->a));
			break;
		case OP_FIND:
			if (!in_arena(a, 1))
				break;
			if (kernel_find_mincore) {
				unsigned char vec;
				r = ksys(syscall(SYS_mincore, a & ~(P - 1), P, &vec));
				r = r == 0 ? 1 : -ENOENT;
			} else {
				struct bench_procmap_query q = {.size = sizeof(q), .query_addr = a};
				r = ksys(ioctl(k_maps_fd, BENCH_PROCMAP_QUERY, &q));
				r = r == 0 ? (int64_t)q.vma_start : r;
			}
			break;
		default:
			if (!in_arena(a, 1))
				break;
			if (o->access == MM_ACCESS_WRITE)
				*(volatile uint8_t *)(uintptr_t)a = (uint8_t)i;
			else
				(void)*(volatile uint8_t *)(uintptr_t)a;
			r = 0;
			break;
		}
		if (r == INT64_MIN) {
			r = -EPERM;
			k_refused++;
		}
		res[i] = r;
	}
}

static void k_fault(int sig)
{
	(void)sig;
	siglongjmp(k_fault_jmp, 1);
}

/* Placeholders: every free range of the user address space outside the
 * arena, except the window just below the stack, gets a PROT_NONE mapping
 * of a memfd (a file mapping never merges with the stream's anonymous
 * VMAs). */
static char k_maps[1 << 20];

static int k_read_maps(uint64_t *starts, uint64_t *ends, bool *stack, int max)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, k_maps + len, sizeof(k_maps) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	k_maps[len] = '\0';
	int n = 0;
	for (char *line = k_maps; *line && n < max;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *p;
		uint64_t s = strtoull(line, &p, 16), e = *p == '-' ? strtoull(p + 1, NULL, 16) : 0;
		if (e > s && e <= TASK_SIZE_MAX) {
			starts[n] = s;
			ends[n] = e;
			stack[n] = strstr(line, "[stack]") != NULL;
			n++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return n;
}

static int k_ph_fd = -1;

static bool k_placeholder(uint64_t s, uint64_t e)
{
	if (s < MM_DEFAULT_MMAP_MIN_ADDR)
		s = MM_DEFAULT_MMAP_MIN_ADDR;
	if (s >= e)
		return true;
	void *r = mmap((void *)(uintptr_t)s, e - s, PROT_NONE, MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE,
	               k_ph_fd, 0);
	return r != MAP_FAILED && (uint64_t)(uintptr_t)r == s;
}

static bool k_fill(uint64_t s, uint64_t e, uint64_t win_lo, uint64_t win_hi)
{
	if (s >= e)
		return true;
	if (s < win_hi && win_lo < e)
		return k_fill(s, win_lo, 0, 0) && k_fill(win_hi, e, 0, 0);
	if (s < ARENA_END && ARENA_BASE < e)
		return k_fill(s, ARENA_BASE > s ? ARENA_BASE : s, 0, 0) && k_fill(ARENA_END < e ? ARENA_END : e, e, 0, 0);
	return k_placeholder(s, e);
}

/* What the child reports. */
struct k_report {
	int status; /* 0 ok; else what failed */
	char why[160];
	size_t own_vmas, refused;
	double chunk_ns[64];
	size_t chunk_ops[64];
	unsigned nchunks;
	size_t done; /* ops replayed */
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static NOINLINE void kernel_child(const struct stream *s, int64_t *res, struct k_report *rep, size_t nchunks,
                                  size_t max_map_count)
{
	static uint64_t st[8192], en[8192];
	static bool stk[8192];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = k_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* Reserve: proves the arena is free. */
	void *ar = mmap((void *)ARENA_BASE, ARENA_SIZE, PROT_NONE,
	                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (ar != (void *)ARENA_BASE) {
		snprintf(rep->why, sizeof(rep->why), "cannot reserve the arena at %#llx", ARENA_BASE);
		rep->status = 1;
		return;
	}
	for (int f = 1; f <= s->nfiles; f++) {
		k_files[f] = (int)syscall(SYS_memfd_create, "bench-file", MFD_CLOEXEC);
		if (k_files[f] < 0 || ftruncate(k_files[f], (off_t)s->file_size[f]) < 0) {
			snprintf(rep->why, sizeof(rep->why), "memfd: %s", strerror(errno));
			rep->status = 1;
			return;
		}
	}
	k_maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	k_ph_fd = (int)syscall(SYS_memfd_create, "bench-placeholder", MFD_CLOEXEC);
	int n = k_read_maps(st, en, stk, 8192);
	if (n < 0 || k_maps_fd < 0 || k_ph_fd < 0) {
		snprintf(rep->why, sizeof(rep->why), "cannot read /proc/self/maps");
		rep->status = 1;
		return;
	}
	/* From here on: no malloc (it would mmap into the arena). */
	uint64_t win_lo = 0, win_hi = 0, prev = P;
	for (int i = 0; i < n; i++)
		if (stk[i]) {
			win_hi = st[i];
			win_lo = st[i] - STACK_WINDOW;
		}
	bool ok = true;
	for (int i = 0; i < n && ok; i++) {
		if (st[i] == ARENA_BASE)
			continue; /* the reservation itself */
		ok = k_fill(prev, st[i], win_lo, win_hi);
		if (en[i] > prev)
			prev = en[i];
	}
	ok = ok && k_fill(prev, TASK_SIZE_MAX, win_lo, win_hi);
	if (!ok || munmap((void *)ARENA_BASE, ARENA_SIZE) != 0) {
		snprintf(rep->why, sizeof(rep->why), "cannot place the placeholders: %s", strerror(errno));
		rep->status = 1;
		return;
	}
	void *probe = mmap(NULL, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe != MAP_FAILED)
		munmap(probe, P);
	if ((uint64_t)(uintptr_t)probe != ARENA_END - P) {
		snprintf(rep->why, sizeof(rep->why), "a no-hint probe landed at %p, not at the arena's top", probe);
		rep->status = 1;
		return;
	}
	rep->own_vmas = (size_t)k_read_maps(st, en, stk, 8192);
	if (rep->own_vmas + s->vmas + s->extra > max_map_count) {
		snprintf(rep->why, sizeof(rep->why), "%zu own VMAs + %zu + %zu > max_map_count %zu", rep->own_vmas, s->vmas,
		         s->extra, max_map_count);
		rep->status = 1;
		return;
	}
	if (sigsetjmp(k_fault_jmp, 1)) {
		snprintf(rep->why, sizeof(rep->why), "fault at op %zu", (size_t)k_current);
		rep->status = 2;
		rep->done = k_current;
		return;
	}
	replay_kernel(s->ops, res, 0, s->nsetup);
	size_t timed = s->n - s->nsetup;
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = s->nsetup + timed * c / nchunks, hi = s->nsetup + timed * (c + 1) / nchunks;
		double t0 = now_ns();
		replay_kernel(s->ops, res, lo, hi);
		rep->chunk_ns[c] = now_ns() - t0;
		rep->chunk_ops[c] = hi - lo;
	}
	rep->nchunks = (unsigned)nchunks;
	rep->done = s->n;
	rep->refused = k_refused;
}

/* ---- Results -------------------------------------------------------------- */
struct result {
	bool ran;
	const char *note;
	char notebuf[200];
	size_t ops;      /* timed ops */
	double ns_op;    /* median over chunks */
	size_t errors;   /* timed ops that returned -errno */
	int64_t *res;    /* every op's result */
	size_t nres;     /* how many of res are valid */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_ns(const double *ns, const size_t *ops, unsigned n)
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

static void count_errors(struct result *r, const struct stream *s, size_t end)
{
	r->errors = 0;
	for (size_t i = s->nsetup; i < end; i++)
		if (r->res[i] < 0)
			r->errors++;
}

static size_t max_map_count_of_kernel(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long v = MM_DEFAULT_MAX_MAP_COUNT;
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = MM_DEFAULT_MAX_MAP_COUNT;
		fclose(f);
	}
	return v;
}

static size_t own_vma_estimate(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = 0;
	int c;
	if (!f)
		return 256;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	/* own VMAs, a placeholder per gap, the maps fd's and memfds' own */
	return 2 * n + 32;
}

static void run_kernel(const struct stream *s, struct result *r, size_t nchunks)
{
	size_t rbytes = page_up(s->n * sizeof(int64_t)), kbytes = page_up(sizeof(struct k_report));
	int64_t *res = mmap(NULL, rbytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct k_report *rep = mmap(NULL, kbytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED || rep == MAP_FAILED) {
		r->note = "no memory for the results";
		return;
	}
	memset(rep, 0, sizeof(*rep));
	size_t mmc = max_map_count_of_kernel();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		kernel_child(s, res, rep, nchunks, mmc);
		_exit(0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		snprintf(r->notebuf, sizeof(r->notebuf), "kernel child died (status %#x)", status);
		r->note = r->notebuf;
	} else if (rep->status) {
		snprintf(r->notebuf, sizeof(r->notebuf), "kernel: %s", rep->why);
		r->note = r->notebuf;
	} else {
		r->ran = true;
		r->ops = s->n - s->nsetup;
		r->ns_op = median_ns(rep->chunk_ns, rep->chunk_ops, rep->nchunks);
		snprintf(r->notebuf, sizeof(r->notebuf), "own VMAs %zu%s%s", rep->own_vmas,
		         strcmp(s->name, "find") ? "" : kernel_find_mincore ? "; find by mincore" : "; find by PROCMAP_QUERY",
		         rep->refused ? "; some ops refused (outside the arena)" : "");
		r->note = r->notebuf;
	}
	r->res = xmalloc(s->n * sizeof(int64_t));
	memcpy(r->res, res, s->n * sizeof(int64_t));
	r->nres = r->ran ? s->n : 0;
	if (r->ran)
		count_errors(r, s, s->n);
	munmap(res, rbytes);
	munmap(rep, kbytes);
}

static mm_config bench_config(void)
{
	mm_config cfg;
	mm_config_default(&cfg);
	cfg.mmap_base = ARENA_END;
	cfg.mmap_low = ARENA_BASE;
	cfg.max_map_count = 1ull << 32; /* the 1,000,000 layout; the kernel-sized ones stay below 65,530 */
	return cfg;
}

static void run_model(const struct stream *s, struct result *r, size_t nchunks)
{
	mm_config cfg = bench_config();
	mm_state *mm = mm_create(&cfg);
	r->res = xmalloc(s->n * sizeof(int64_t));
	for (int f = 1; f <= s->nfiles; f++)
		model_files[f] = mm_file_create(mm, s->file_size[f]);
	replay_model(mm, s->ops, r->res, 0, s->nsetup);
	double ns[64];
	size_t cops[64];
	size_t timed = s->n - s->nsetup;
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = s->nsetup + timed * c / nchunks, hi = s->nsetup + timed * (c + 1) / nchunks;
		double t0 = now_ns();
		timed_replay_model(mm, s->ops, r->res, lo, hi);
		ns[c] = now_ns() - t0;
		cops[c] = hi - lo;
	}
	r->ran = true;
	r->ops = timed;
	r->ns_op = median_ns(ns, cops, (unsigned)nchunks);
	r->nres = s->n;
	count_errors(r, s, s->n);
	mm_destroy(mm);
}

/* The naive oracle is O(N) per op (and worse for mremap, which moves page
 * by page), so its timed ops are cut to a CPU-time budget: the first few
 * (at most 32) are run untimed to estimate the cost of one, and then as
 * many as fit in budget_ns, never fewer than 8 per chunk. */
static void run_naive(const struct stream *s, struct result *r, size_t nchunks, size_t max_ops, double budget_ns)
{
	mm_config cfg = bench_config();
	naive_mm *nm = naive_create(&cfg);
	r->res = xmalloc(s->n * sizeof(int64_t));
	for (int f = 1; f <= s->nfiles; f++)
		naive_files[f] = naive_file_create(nm, s->file_size[f]);
	double t0 = now_ns();
	replay_naive(nm, s->ops, r->res, 0, s->nsetup);
	double build = now_ns() - t0;
	double ns[64];
	size_t cops[64];
	size_t timed = s->n - s->nsetup;
	if (timed > max_ops)
		timed = max_ops;
	size_t cal = timed / 10 < 32 ? timed / 10 : 32;
	t0 = now_ns();
	replay_naive(nm, s->ops, r->res, s->nsetup, s->nsetup + cal);
	double per = cal ? (now_ns() - t0) / (double)cal : 0;
	size_t first = s->nsetup + cal;
	timed -= cal;
	if (per > 0 && budget_ns / per < (double)timed) {
		timed = (size_t)(budget_ns / per);
		if (timed < 8 * nchunks)
			timed = 8 * nchunks;
		if (timed > s->n - first)
			timed = s->n - first;
	}
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = first + timed * c / nchunks, hi = first + timed * (c + 1) / nchunks;
		double tc = now_ns();
		replay_naive(nm, s->ops, r->res, lo, hi);
		ns[c] = now_ns() - tc;
		cops[c] = hi - lo;
	}
	r->ran = true;
	r->ops = timed;
	r->ns_op = median_ns(ns, cops, (unsigned)nchunks);
	r->nres = first + timed;
	count_errors(r, s, r->nres);
	snprintf(r->notebuf, sizeof(r->notebuf), "build %.1f s%s", build / 1e9,
	         r->nres < s->n ? ", ops cut to the time budget" : "");
	r->note = r->notebuf;
	naive_destroy(nm);
}

/* Ops (setup and timed) where other differs from the model; -1 if either
 * did not run. Find results are compared as found / not found when the
 * kernel used mincore (it does not say where the VMA starts). */
static long mismatches(const struct stream *s, const struct result *model, const struct result *other,
                       bool find_bool)
{
	if (!model->ran || !other->ran)
		return -1;
	size_t n = model->nres < other->nres ? model->nres : other->nres;
	long bad = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t x = model->res[i], y = other->res[i];
		if (find_bool && s->ops[i].kind == OP_FIND)
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

static void print_row(const char *stream, size_t size, size_t vmas, const char *target, const struct result *r,
                      const struct result *model, long mism)
{
	if (csv) {
		if (r->ran)
			printf("op,%s,%zu,%zu,%s,%zu,%.1f,%zu,%ld,%s\n", stream, size, vmas, target, r->ops, r->ns_op,
			       r->errors, mism, field(r->note));
		else
			printf("op,%s,%zu,%zu,%s,0,,,,%s\n", stream, size, vmas, target, field(r->note));
		return;
	}
	if (!r->ran) {
		printf("%-9s %8zu %8zu  %-7s %7s %11s %7s %9s %8s  %s\n", stream, size, vmas, target, "-", "-", "-", "-", "-",
		       r->note ? r->note : "");
		return;
	}
	char ratio[32] = "", mm[32] = "";
	if (model && model->ran && model != r && model->ns_op > 0)
		snprintf(ratio, sizeof(ratio), "%.1fx", r->ns_op / model->ns_op);
	if (mism >= 0)
		snprintf(mm, sizeof(mm), "%ld", mism);
	printf("%-9s %8zu %8zu  %-7s %7zu %11.1f %7zu %9s %8s  %s\n", stream, size, vmas, target, r->ops, r->ns_op,
	       r->errors, ratio, mm, r->note ? r->note : "");
}

static void print_mem(const char *what, size_t size, size_t vmas, const char *target, size_t units, double bytes,
                      const char *note)
{
	if (csv)
		printf("mem,%s,%zu,%zu,%s,%zu,%.1f,,,%s\n", what, size, vmas, target, units, bytes, field(note));
	else
		printf("%-9s %8zu %8zu  %-7s %7zu %9.1f B %s\n", what, size, vmas, target, units, bytes, note);
}

/* ---- Options ---------------------------------------------------------------- */
enum { T_MODEL = 1, T_NAIVE = 2, T_KERNEL = 4 };
static const char *const stream_names[] = {"churn", "mprotect", "mremap", "find", "nohint",
                                           "touch", "mixed",    "walk",   "memory"};
enum { NSTREAMS = sizeof(stream_names) / sizeof(stream_names[0]) };

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
} opt;

static void usage(void)
{
	fprintf(stderr, "usage: bench_streams [--vmas N[,N...]] [--ops N] [--stream NAME[,NAME...]]\n"
	                "                     [--targets model,naive,kernel] [--csv] [--naive-ops N] [--naive-budget S]\n"
	                "                     [--naive-max-vmas N] [--chunks N] [--kernel-find procmap|mincore]\n"
	                "                     [--mixed FILE]\n"
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
		return "docs/perf/mixed-python.ops";
	snprintf(path, sizeof(path), "%.*s/../docs/perf/mixed-python.ops", (int)(slash - src), src);
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
		} else {
			usage();
		}
	}
	if (opt.ops < 2 || opt.chunks < 1 || opt.chunks > 64 || opt.nsizes == 0)
		usage();
	opt.ops &= ~(size_t)1;
}

/* ---- Walk and memory -------------------------------------------------------- */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static uint64_t walk_sink;

/* pt_walk and naive_walk over the model's own tables: the touch layout's
 * present pages, in a random order fixed before timing. */
static void run_walk(size_t size, size_t n, size_t ops)
{
	struct stream s = {.name = "walk"};
	gen_touch(&s, n, 0);
	mm_config cfg = bench_config();
	mm_state *mm = mm_create(&cfg);
	int64_t *res = xmalloc(s.n * sizeof(int64_t));
	replay_model(mm, s.ops, res, 0, s.n);
	uint64_t *va = xmalloc(ops * sizeof(*va));
	mm_walk_access *acc = xmalloc(ops * sizeof(*acc));
	for (size_t k = 0; k < ops; k++) {
		size_t i = below(n);
		va[k] = ARENA_BASE + i * 3 * P + (i % 16 == 1 ? P : 0) + below(P);
		acc[k] = i % 16 == 1 ? MM_WALK_WRITE : MM_WALK_READ;
	}
	static const mm_cpu_mode mode = {true, true, true, true, false, PG_MAXPHYADDR};
	/* In address order too: consecutive present pages, as a program
	 * walking its memory would touch them. */
	uint64_t *seq = xmalloc(ops * sizeof(*seq));
	for (size_t k = 0; k < ops; k++)
		seq[k] = ARENA_BASE + (k % n) * 3 * P;
	const mm_phys_mem *pm = pg_mem(mm);
	uint64_t cr3 = pg_cr3(mm);
	struct result r[2];
	memset(r, 0, sizeof(r));
	for (size_t k = 0; k < ops; k++) /* warm up: caches, TLB, clock */
		walk_sink += pt_walk(pm, cr3, va[k], acc[k], 3, &mode).pa;
	double seq_ns = 1e18;
	for (size_t c = 0; c < opt.chunks; c++) {
		size_t lo = ops * c / opt.chunks, hi = ops * (c + 1) / opt.chunks;
		double t0 = now_ns();
		for (size_t k = lo; k < hi; k++)
			walk_sink += pt_walk(pm, cr3, seq[k], MM_WALK_READ, 3, &mode).pa;
		double per = (now_ns() - t0) / (double)(hi - lo);
		if (per < seq_ns)
			seq_ns = per;
	}
	char seqnote[80];
	snprintf(seqnote, sizeof(seqnote), "; %.1f M/s in address order", 1e3 / seq_ns);
	for (int w = 0; w < 2; w++) {
		double ns[64];
		size_t cops[64];
		size_t fails = 0;
		for (size_t c = 0; c < opt.chunks; c++) {
			size_t lo = ops * c / opt.chunks, hi = ops * (c + 1) / opt.chunks;
			double t0 = now_ns();
			for (size_t k = lo; k < hi; k++) {
				mm_walk_result wr = w == 0 ? pt_walk(pm, cr3, va[k], acc[k], 3, &mode)
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
		for (size_t c = 1; c < opt.chunks; c++)
			if (ns[c] / (double)cops[c] < r[w].ns_op)
				r[w].ns_op = ns[c] / (double)cops[c];
		r[w].errors = fails;
		snprintf(r[w].notebuf, sizeof(r[w].notebuf), "%s: %.1f M translations/s at random present pages%s",
		         w ? "naive_walk" : "pt_walk", 1e3 / r[w].ns_op, w ? "" : seqnote);
		r[w].note = r[w].notebuf;
	}
	print_row("walk", size, n, "model", &r[0], &r[0], -1);
	print_row("walk", size, n, "naive", &r[1], &r[0], -1);
	free(va);
	free(seq);
	free(acc);
	free(res);
	free(s.ops);
	mm_destroy(mm);
}

/* Heap bytes (mallinfo2: uordblks + hblkhd, so malloc's own chunk headers
 * and rounding count) per VMA of an unpopulated layout, then per page
 * written: one page in each of n VMAs (sparse: a page table per 170 VMAs),
 * and 16,384 contiguous pages of one VMA (dense). */
static void run_memory(size_t size, size_t n, bool naive_too)
{
	struct stream s = {.name = "memory"};
	layout(&s, ARENA_BASE, n, 2, 3);
	for (size_t i = 0; i < n; i++)
		op_touch(&s, ARENA_BASE + i * 3 * P, (i & 1) ? MM_ACCESS_WRITE : MM_ACCESS_READ); /* RW: written; RO: read */
	size_t nl = n; /* layout ops */
	int64_t *res = xmalloc(s.n * sizeof(int64_t));
	mm_config cfg = bench_config();
	char note[160];

	size_t h0 = heap_in_use();
	mm_state *mm = mm_create(&cfg);
	size_t h1 = heap_in_use();
	replay_model(mm, s.ops, res, 0, nl);
	size_t h2 = heap_in_use();
	replay_model(mm, s.ops, res, nl, s.n);
	size_t h3 = heap_in_use();
	snprintf(note, sizeof(note), "sizeof(struct vma) %zu; empty mm %zu B", sizeof(struct vma), h1 - h0);
	print_mem("mem/vma", size, n, "model", n, (double)(h2 - h1) / (double)n, note);
	print_mem("mem/page", size, n, "model", n, (double)(h3 - h2) / (double)n,
	          "one present page per VMA (RW: anon page, RO: zero page)");
	mm_destroy(mm);

	if (size == opt.sizes[0]) {
		mm = mm_create(&cfg);
		const uint64_t pages = 16384;
		mm_mmap(mm, ARENA_BASE, pages * P, RW, ANON_FIXED, 0, 0);
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
		naive_mm *nm = naive_create(&cfg);
		size_t g1 = heap_in_use();
		replay_naive(nm, s.ops, res, 0, nl);
		size_t g2 = heap_in_use();
		replay_naive(nm, s.ops, res, nl, s.n);
		size_t g3 = heap_in_use();
		(void)g0;
		print_mem("mem/vma", size, n, "naive", n, (double)(g2 - g1) / (double)n, "array of nvma, doubling");
		print_mem("mem/page", size, n, "naive", n, (double)(g3 - g2) / (double)n, "one present page per VMA");
		naive_destroy(nm);
	}
	free(res);
	free(s.ops);
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

typedef void (*gen_fn)(struct stream *, size_t, size_t);

int main(int argc, char **argv)
{
	static const gen_fn gens[] = {gen_churn, gen_mprotect, gen_mremap, gen_find, gen_nohint, gen_touch, gen_mixed};
	parse_args(argc, argv);
	pregrow_stack();
	setvbuf(stdout, NULL, _IOLBF, 0);
	size_t mmc = max_map_count_of_kernel();

	print_header();
	for (unsigned si = 0; si < NSTREAMS; si++) {
		if (!(opt.streams & (1u << si)))
			continue;
		const char *name = stream_names[si];
		if (si == 6 && !trace.loaded && !load_trace(opt.mixed))
			return 1;
		for (unsigned zi = 0; zi < opt.nsizes; zi++) {
			size_t size = opt.sizes[zi];
			rng = 0x853c49e6748fea9bull ^ (si * 0x1000003ull) ^ size;
			if (si == 7) {
				if (opt.targets & T_MODEL)
					run_walk(size, size, opt.ops * 50);
				continue;
			}
			if (si == 8) {
				run_memory(size, size, (opt.targets & T_NAIVE) && size <= 65530);
				continue;
			}
			struct stream s = {.name = name};
			/* At max_map_count and below, the layout is the kernel's. */
			size_t n = size;
			if (size <= mmc && size + 4096 > mmc) {
				size_t extra = si == 6 ? 2 * trace.peak + 16 : si == 4 ? NOHINT_LIVE + 2 : 2;
				size_t cap = mmc - own_vma_estimate() - extra - 16;
				if (n > cap)
					n = cap;
			}
			gens[si](&s, n, opt.ops);
			struct result rk, rm, rn;
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
				if (n <= opt.naive_max_vmas) {
					run_naive(&s, &rn, opt.chunks, nops, opt.naive_budget * 1e9);
				} else {
					rn.note = "skipped: building the layout is O(N^2) in the naive oracle";
				}
			}
			if (opt.targets & T_KERNEL)
				print_row(name, size, n, "kernel", &rk, &rm, mismatches(&s, &rm, &rk, kernel_find_mincore));
			if (opt.targets & T_MODEL)
				print_row(name, size, n, "model", &rm, &rm, -1);
			if (opt.targets & T_NAIVE)
				print_row(name, size, n, "naive", &rn, &rm, mismatches(&s, &rm, &rn, false));
			free(rk.res);
			free(rm.res);
			free(rn.res);
			free(s.ops);
		}
	}
	return walk_sink == 42 ? 3 : 0;
}

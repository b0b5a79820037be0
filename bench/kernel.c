/* The live kernel: a forked child replays the stream by raw system calls
 * (docs/performance.md, "The kernel target").
 *
 * It reserves the arena (MAP_FIXED_NOREPLACE proves it free), fills every
 * other free range of its address space with PROT_NONE placeholders (so a
 * no-hint mmap can only land in the arena), releases the arena, probes that
 * a no-hint mmap lands at its top, and from then on calls no malloc. Every
 * address an op uses is checked to lie inside the arena before the system
 * call is made; an op that would leave it is refused (-EPERM, counted as an
 * error). The results go back to the parent through a shared mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "procmaps.h"

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

bool kernel_find_mincore;
static int k_files[256]; /* trace file i + 1: a memfd */
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

/* One statement, by raw system call; INT64_MIN when refused (an address
 * outside the arena). */
static inline int64_t kernel_stmt(const tr_stmt *o, size_t i)
{
	uint64_t a = o->addr, plen = page_up(o->len);
	switch (o->kind) {
	case TR_MMAP: {
		if (((o->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) || a) && !in_arena(a, plen))
			return INT64_MIN;
		if (plen > ARENA_SIZE)
			return INT64_MIN;
		int64_t r = ksys(syscall(SYS_mmap, a, o->len, o->prot, o->flags, o->file ? k_files[o->file - 1] : -1, o->off));
		if (r >= 0 && !in_arena((uint64_t)r, plen)) {
			/* cannot happen with the placeholders; never keep it */
			syscall(SYS_munmap, (uint64_t)r, o->len);
			return INT64_MIN;
		}
		return r;
	}
	case TR_MUNMAP:
		return in_arena(a, plen) ? ksys(syscall(SYS_munmap, a, o->len)) : INT64_MIN;
	case TR_MPROTECT:
		return in_arena(a, plen) ? ksys(syscall(SYS_mprotect, a, o->len, o->prot)) : INT64_MIN;
	case TR_MREMAP: {
		uint64_t na = o->has_new_addr ? o->new_addr : 0, nlen = page_up(o->new_len);
		if (!in_arena(a, plen) || nlen > ARENA_SIZE)
			return INT64_MIN;
		if ((o->flags & MM_MREMAP_FIXED) && !in_arena(na, nlen))
			return INT64_MIN;
		int64_t r = ksys(syscall(SYS_mremap, a, o->len, o->new_len, o->flags, na));
		if (r >= 0 && !in_arena((uint64_t)r, nlen)) {
			syscall(SYS_munmap, (uint64_t)r, o->new_len);
			return INT64_MIN;
		}
		return r;
	}
	case TR_MADVISE:
		return in_arena(a, plen) ? ksys(syscall(SYS_madvise, a, o->len, o->advice)) : INT64_MIN;
	case TR_MLOCK:
		return in_arena(a, plen) ? ksys(syscall(SYS_mlock2, a, o->len, o->flags)) : INT64_MIN;
	case TR_MUNLOCK:
		return in_arena(a, plen) ? ksys(syscall(SYS_munlock, a, o->len)) : INT64_MIN;
	case TR_TOUCH:
		/* The access itself, as a program makes it (a fault ends the run:
		 * k_fault); mmref-kernel's touch catches faults, which costs a
		 * sigprocmask per access. */
		if (!in_arena(a, 1))
			return INT64_MIN;
		if (o->access == MM_ACCESS_WRITE)
			*(volatile uint8_t *)(uintptr_t)a = (uint8_t)i;
		else
			(void)*(volatile uint8_t *)(uintptr_t)a;
		return 0;
	default:
		return INT64_MIN;
	}
}

static inline int64_t kernel_find(uint64_t a)
{
	if (!in_arena(a, 1))
		return INT64_MIN;
	if (kernel_find_mincore) {
		unsigned char vec;
		int64_t r = ksys(syscall(SYS_mincore, a & ~(P - 1), P, &vec));
		return r == 0 ? 1 : -ENOENT;
	}
	struct bench_procmap_query q = {.size = sizeof(q), .query_addr = a};
	int64_t r = ksys(ioctl(k_maps_fd, BENCH_PROCMAP_QUERY, &q));
	return r == 0 ? (int64_t)q.vma_start : r;
}

static NOINLINE void replay_kernel(const stream *s, int64_t *res, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		k_current = i;
		int64_t r = i >= s->nsetup && s->find ? kernel_find(s->find[i - s->nsetup]) : kernel_stmt(stream_stmt(s, i), i);
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
	if (tr_maps_read_file("/proc/self/maps", k_maps, sizeof(k_maps)) < 0)
		return -1;
	int n = 0;
	for (char *line = k_maps; *line && n < max;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		tr_maps_entry e;
		if (tr_maps_parse(line, &e) && e.end > e.start && e.end <= TASK_SIZE_MAX) {
			starts[n] = e.start;
			ends[n] = e.end;
			stack[n] = strcmp(e.name, "[stack]") == 0;
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


static NOINLINE void kernel_child(const stream *s, int64_t *res, struct k_report *rep, size_t nchunks,
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
	for (guint f = 0; f < s->t->files->len && f < 256; f++) {
		k_files[f] = (int)syscall(SYS_memfd_create, "bench-file", MFD_CLOEXEC);
		if (k_files[f] < 0 || ftruncate(k_files[f], (off_t)g_array_index(s->t->files, tr_file, f).size) < 0) {
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
	replay_kernel(s, res, 0, s->nsetup);
	size_t nops = stream_nops(s), timed = nops - s->nsetup;
	for (size_t c = 0; c < nchunks; c++) {
		size_t lo = s->nsetup + timed * c / nchunks, hi = s->nsetup + timed * (c + 1) / nchunks;
		double t0 = now_ns();
		replay_kernel(s, res, lo, hi);
		rep->chunk_ns[c] = now_ns() - t0;
		rep->chunk_ops[c] = hi - lo;
	}
	rep->nchunks = (unsigned)nchunks;
	rep->done = nops;
	rep->refused = k_refused;
}

size_t max_map_count_of_kernel(void)
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

size_t own_vma_estimate(void)
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

void run_kernel(const stream *s, result *r, size_t nchunks)
{
	size_t n = stream_nops(s), rbytes = page_up(n * sizeof(int64_t)), kbytes = page_up(sizeof(struct k_report));
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
		r->ops = n - s->nsetup;
		r->ns_op = median_ns(rep->chunk_ns, rep->chunk_ops, rep->nchunks);
		snprintf(r->notebuf, sizeof(r->notebuf), "own VMAs %zu%s%s", rep->own_vmas,
		         strcmp(s->name, "find") ? "" : kernel_find_mincore ? "; find by mincore" : "; find by PROCMAP_QUERY",
		         rep->refused ? "; some ops refused (outside the arena)" : "");
		r->note = r->notebuf;
	}
	r->res = xmalloc(n * sizeof(int64_t));
	memcpy(r->res, res, n * sizeof(int64_t));
	r->nres = r->ran ? n : 0;
	if (r->ran)
		count_errors(r, s, n);
	munmap(res, rbytes);
	munmap(rep, kbytes);
}


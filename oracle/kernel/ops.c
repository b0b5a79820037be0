/* The operations: raw system calls inside the arena, and `touch` under a
 * SIGSEGV/SIGBUS handler that reads si_code and the page-fault error code
 * from the signal context. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel.h"

#ifndef SYS_mseal
#define SYS_mseal 462
#endif
/* include/uapi/asm-generic/siginfo.h: a protection-key fault (not in every libc) */
#define K_SEGV_PKUERR 4

/* ---- files --------------------------------------------------------------------------- */

static int file_fd[K_MAX_FILES];
static uint64_t file_dev[K_MAX_FILES], file_ino[K_MAX_FILES];
static int n_files;

/* ---- limits (docs/kernel-target.md, "Limits") --------------------------------------------- */

uint64_t k_limit_populate = K_LIMIT_POPULATE;
uint64_t k_limit_file_bytes = K_LIMIT_FILE_BYTES;

/* What the current trace may have made the kernel allocate, as an upper
 * bound summed over its statements (never lowered by munmap: page cache of
 * the files stays until they are closed), and what it declared. Both start
 * again at every 'mmtrace 1'. */
static uint64_t populated_bound, file_bytes;
static bool hg_seen, locked_seen;
static uint64_t hugetlb_seen; /* the largest huge page size mapped in this trace, or 0 */
static bool thp_always;       /* some THP setting allocates huge folios without MADV_HUGEPAGE */
static uint64_t default_huge = 2ull << 20;

static void accounting_reset(void)
{
	populated_bound = file_bytes = 0;
	hg_seen = locked_seen = false;
	hugetlb_seen = 0;
}

bool files_add(const char *name, uint64_t size, char *why, size_t whylen)
{
	if (n_files == K_MAX_FILES) {
		snprintf(why, whylen, "too many files (at most %d per trace)", K_MAX_FILES);
		return false;
	}
	if (strlen(name) > K_MAX_FILE_NAME) {
		snprintf(why, whylen, "file name longer than %d bytes", K_MAX_FILE_NAME);
		return false;
	}
	if (size > k_limit_file_bytes || file_bytes > k_limit_file_bytes - size) {
		snprintf(why, whylen,
		         "the files declared would total more than the limit of 0x%llx bytes (--max-file-bytes)",
		         (unsigned long long)k_limit_file_bytes);
		return false;
	}
	int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "memfd_create: %s", strerror(errno));
		return false;
	}
	struct stat st;
	if (ftruncate(fd, (off_t)size) != 0 || fstat(fd, &st) != 0) {
		snprintf(why, whylen, "file %s of size 0x%llx: %s", name, (unsigned long long)size, strerror(errno));
		close(fd);
		return false;
	}
	file_bytes += size;
	file_fd[n_files] = fd;
	file_dev[n_files] = st.st_dev;
	file_ino[n_files] = st.st_ino;
	n_files++;
	return true;
}

/* The initial contents of the file just added (`file NAME SIZE fill=|pattern=`):
 * written with pwrite, so every page of the memfd is in the page cache, dirty. */
bool files_write_contents(const tr_file *f, char *why, size_t whylen)
{
	if (f->init == TR_FILE_EMPTY || n_files == 0)
		return true;
	static uint64_t buf[8192];
	for (uint64_t off = 0; off < f->size; off += sizeof(buf)) {
		uint64_t n = f->size - off < sizeof(buf) ? f->size - off : sizeof(buf);
		for (uint64_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = tr_file_word(f, off + i * 8);
		if (pwrite(file_fd[n_files - 1], buf, n, (off_t)off) != (ssize_t)n) {
			snprintf(why, whylen, "file %s: writing its contents: %s", f->name, strerror(errno));
			return false;
		}
	}
	return true;
}

void files_close_all(void)
{
	for (int i = 0; i < n_files; i++)
		close(file_fd[i]);
	n_files = 0;
	accounting_reset(); /* a new trace: its files are gone, its arena is emptied */
}

int files_count(void) { return n_files; }

int files_find_inode(uint64_t dev, uint64_t ino)
{
	for (int i = 0; i < n_files; i++)
		if (file_ino[i] == ino && file_dev[i] == dev)
			return i;
	return -1;
}

/* ---- touch ------------------------------------------------------------------------------ */

enum { T_IDLE = 0, T_DATA, T_EXEC_ARMED, T_EXEC_RUNNING };

static sigjmp_buf touch_env;
static volatile sig_atomic_t touch_phase;
static volatile uint64_t touch_target;
static volatile int t_sig, t_code;
static volatile uint64_t t_err, t_addr, t_rip;

static char altstack[1 << 16] __attribute__((aligned(64)));
/* Where the registers point while the probed instruction runs: whatever the
 * instruction at the target is, its memory operands land here. */
static unsigned char exec_scratch[1 << 16] __attribute__((aligned(4096)));

static void touch_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	if (touch_phase == T_IDLE) {
		/* a genuine crash of this program: die of it */
		signal(sig, SIG_DFL);
		return;
	}
	if (touch_phase == T_EXEC_ARMED && sig == SIGILL) {
		/* The launch: resume at the target with the trap flag set, so that
		 * exactly one instruction runs there (its fetch is the probe), then
		 * a debug trap (SIGTRAP) brings us back. */
		uint64_t mid = (uint64_t)(uintptr_t)(exec_scratch + sizeof(exec_scratch) / 2);
		static const int regs[] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		                           REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
		for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
			g[regs[i]] = (greg_t)mid;
		g[REG_RIP] = (greg_t)touch_target;
		g[REG_EFL] |= 0x100; /* TF */
		touch_phase = T_EXEC_RUNNING;
		return;
	}
	t_sig = sig;
	t_code = si->si_code;
	t_err = (uint64_t)g[REG_ERR];
	t_addr = (uint64_t)(uintptr_t)si->si_addr;
	t_rip = (uint64_t)g[REG_RIP];
	siglongjmp(touch_env, 1);
}

static void ops_init(void);
static void abort_handler(int sig);
static bool refuse(char *why, size_t whylen, const char *what);

void touch_init(void)
{
	ops_init();
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = touch_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	struct sigaction ab;
	memset(&ab, 0, sizeof(ab));
	ab.sa_handler = abort_handler;
	ab.sa_flags = SA_ONSTACK;
	sigemptyset(&ab.sa_mask);
	sigaction(SIGUSR2, &ab, NULL);
}

static mm_touch_result touch_classify(mm_touch_result r, bool fault_here, int sig);

/* `write ADDR VALUE` and `read ADDR` (issue 18): one 8-byte store or load
 * under the same signal catching as a data touch. */
static volatile uint64_t d_value;
static __attribute__((noinline)) mm_touch_result do_data(uint64_t addr, bool write, uint64_t value)
{
	mm_touch_result r = {.outcome = MM_TOUCH_OK, .pf_error = 0};
	t_sig = 0;
	d_value = 0;
	touch_target = addr;
	if (sigsetjmp(touch_env, 1) == 0) {
		touch_phase = T_DATA;
		if (write) {
			__asm__ volatile("movq %1, (%0)" : : "r"(addr), "r"(value) : "memory");
		} else {
			uint64_t v;
			__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
			d_value = v;
		}
		touch_phase = T_IDLE;
		return r;
	}
	touch_phase = T_IDLE;
	int sig = t_sig;
	return touch_classify(r, sig == SIGSEGV || sig == SIGBUS, sig);
}

static __attribute__((noinline)) mm_touch_result do_touch(uint64_t addr, mm_access acc)
{
	mm_touch_result r = {.outcome = MM_TOUCH_OK, .pf_error = 0};
	t_sig = 0;
	/* The instruction at the target is `00 00` (add %al,(%rax)): every byte of
	 * the arena is zero. On a page's last byte its second byte would be
	 * fetched from the next page (populating it), so the probe runs one byte
	 * earlier: same page, same translation, same outcome. */
	if (acc == MM_ACCESS_EXEC && (addr & (K_PAGE - 1)) == K_PAGE - 1)
		addr--;
	touch_target = addr;
	if (sigsetjmp(touch_env, 1) == 0) {
		if (acc == MM_ACCESS_READ) {
			touch_phase = T_DATA;
			__asm__ volatile("movb (%0), %%al" : : "r"(addr) : "rax", "memory");
		} else if (acc == MM_ACCESS_WRITE) {
			touch_phase = T_DATA;
			__asm__ volatile("movb $0, (%0)" : : "r"(addr) : "memory");
		} else {
			touch_phase = T_EXEC_ARMED;
			__asm__ volatile("ud2" : : : "memory"); /* never returns: see touch_handler */
		}
		touch_phase = T_IDLE;
		return r;
	}
	touch_phase = T_IDLE;
	int sig = t_sig;
	bool fault_here;
	if (acc == MM_ACCESS_EXEC) {
		/* The fetch at the target faulted iff the signal is a SIGSEGV/SIGBUS at
		 * RIP == target for the target's own byte. Anything else (the trap after
		 * the instruction, a fault of its operand or of its second byte on the
		 * next page) means the target byte was fetched. */
		fault_here = (sig == SIGSEGV || sig == SIGBUS) && t_rip == addr && t_addr == addr;
	} else {
		fault_here = sig == SIGSEGV || sig == SIGBUS;
	}
	return touch_classify(r, fault_here, sig);
}

/* What a fault (or none) of a touch means: ok, SIGBUS, or SEGV with pf=. */
static mm_touch_result touch_classify(mm_touch_result r, bool fault_here, int sig)
{
	if (!fault_here)
		return r;
	if (sig == SIGBUS) {
		r.outcome = MM_TOUCH_SIGBUS;
		return r;
	}
	if (t_code == SEGV_ACCERR)
		r.outcome = MM_TOUCH_SEGV_ACCERR;
	else if (t_code == K_SEGV_PKUERR)
		r.outcome = MM_TOUCH_SEGV_PKUERR; /* a protection key refused it (pkeys=on) */
	else
		r.outcome = MM_TOUCH_SEGV_MAPERR; /* SEGV_MAPERR, and SI_KERNEL (#GP) */
	r.pf_error = (uint32_t)t_err;
	return r;
}

/* ---- userfaultfd (docs/trace-format.md "userfaultfd", docs/kernel-target.md) ------------------
 * One userfaultfd per process, opened at its first `uffd` statement with
 * UFFD_USER_MODE_ONLY and no features. Once it exists, touches, reads and
 * writes run on a worker thread while this thread polls the userfaultfd and
 * the worker's completion: a fault delivered to the userfaultfd blocks the
 * worker in handle_userfault(); the message read is the statement's result,
 * and a signal (SIGUSR2) makes the blocked fault return without a page and
 * the worker leave the access (siglongjmp), so the access is abandoned. */
static int k_uffd = -1;
static bool worker_up;
static pthread_t worker;
static int worker_go = -1, worker_done = -1; /* eventfds */
static struct {
	tr_kind kind;
	uint64_t addr, value;
	mm_access access;
	mm_touch_result r;
} job;
/* The worker's stack is ours: a no-hint mmap of pthread_create would land in the arena. */
static unsigned char worker_stack[1 << 18] __attribute__((aligned(4096)));
static unsigned char worker_altstack[1 << 16] __attribute__((aligned(64)));

static mm_touch_result do_data(uint64_t addr, bool write, uint64_t value);
static mm_touch_result do_touch(uint64_t addr, mm_access acc);

static void *worker_main(void *arg)
{
	(void)arg;
	stack_t ss = {.ss_sp = worker_altstack, .ss_size = sizeof(worker_altstack), .ss_flags = 0};
	sigaltstack(&ss, NULL);
	for (;;) {
		uint64_t n;
		if (read(worker_go, &n, sizeof(n)) != sizeof(n))
			continue;
		if (job.kind == TR_TOUCH)
			job.r = do_touch(job.addr, job.access);
		else
			job.r = do_data(job.addr, job.kind == TR_WRITE, job.value);
		n = 1;
		(void)!write(worker_done, &n, sizeof(n));
	}
	return NULL;
}

/* The userfaultfd of this process, opened on first use; -errno when the
 * kernel has none (ENOSYS) or refuses it. */
static int uffd_get(void)
{
	if (k_uffd >= 0)
		return k_uffd;
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return -errno;
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (ioctl((int)fd, UFFDIO_API, &api) < 0) {
		int e = errno;
		close((int)fd);
		return -e;
	}
	k_uffd = (int)fd;
	return k_uffd;
}

static bool worker_start(char *why, size_t whylen)
{
	if (worker_up)
		return true;
	if (worker_go < 0)
		worker_go = eventfd(0, EFD_CLOEXEC);
	if (worker_done < 0)
		worker_done = eventfd(0, EFD_CLOEXEC);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstack(&at, worker_stack, sizeof(worker_stack));
	int e = worker_go < 0 || worker_done < 0 ? EMFILE : pthread_create(&worker, &at, worker_main, NULL);
	pthread_attr_destroy(&at);
	if (e) {
		snprintf(why, whylen, "userfaultfd: cannot start the worker thread: %s", strerror(e));
		return false;
	}
	worker_up = true;
	return true;
}

/* In a child just forked: the worker did not come along, and the inherited
 * userfaultfd is the parent's (its context is the parent's mm). */
void ops_after_fork(void)
{
	worker_up = false;
	if (k_uffd >= 0)
		close(k_uffd);
	k_uffd = -1;
	if (worker_go >= 0)
		close(worker_go);
	if (worker_done >= 0)
		close(worker_done);
	worker_go = worker_done = -1;
}

static void abort_handler(int sig)
{
	(void)sig;
	t_sig = SIGUSR2;
	siglongjmp(touch_env, 1);
}

/* A touch, read or write with the userfaultfd open: see above. */
static bool access_with_uffd(const tr_stmt *s, mm_touch_result *out, char *why, size_t whylen)
{
	if (!worker_start(why, whylen))
		return false;
	job.kind = s->kind;
	job.addr = s->addr;
	job.value = s->value;
	job.access = s->access;
	uint64_t n = 1;
	if (write(worker_go, &n, sizeof(n)) != sizeof(n))
		return refuse(why, whylen, "userfaultfd: cannot wake the worker");
	struct pollfd pf[2] = {{.fd = worker_done, .events = POLLIN}, {.fd = k_uffd, .events = POLLIN}};
	for (;;) {
		int rc = poll(pf, 2, 20000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return refuse(why, whylen, "userfaultfd: the access neither completed nor faulted in 20 s");
		if (pf[0].revents & POLLIN) {
			(void)!read(worker_done, &n, sizeof(n));
			*out = job.r;
			return true;
		}
		struct uffd_msg msg;
		if (read(k_uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			continue; /* EAGAIN: woken for nothing */
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			return refuse(why, whylen, "userfaultfd: an event that is not a page fault");
		pthread_kill(worker, SIGUSR2);
		(void)!read(worker_done, &n, sizeof(n)); /* blocking: the worker leaves the access */
		memset(out, 0, sizeof(*out));
		out->outcome = MM_TOUCH_UFFD;
		out->uffd_addr = msg.arg.pagefault.address;
		out->uffd_flags = (uint32_t)(msg.arg.pagefault.flags &
		                             (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_MINOR));
		return true;
	}
}

/* UFFDIO_COPY takes its data from here: every word the statement's VALUE. */
#define UFFD_COPY_MAX (2ull << 20)
static uint64_t copy_src[UFFD_COPY_MAX / 8] __attribute__((aligned(4096)));

static void set_sys_result_(tr_result *res, long rc);

static bool uffd_op(const tr_stmt *s, tr_result *res, char *why, size_t whylen)
{
	int fd = uffd_get();
	if (fd < 0) {
		set_sys_result_(res, fd);
		return true;
	}
	long rc = 0;
	switch (s->kind) {
	case TR_UFFD_REGISTER: {
		struct uffdio_register r = {.range = {.start = s->addr, .len = s->len}, .mode = s->flags};
		rc = ioctl(fd, UFFDIO_REGISTER, &r);
		break;
	}
	case TR_UFFD_UNREGISTER: {
		struct uffdio_range r = {.start = s->addr, .len = s->len};
		rc = ioctl(fd, UFFDIO_UNREGISTER, &r);
		break;
	}
	case TR_UFFD_COPY: {
		if (s->len > UFFD_COPY_MAX)
			return refuse(why, whylen, "uffd copy: at most 2 MiB at once");
		for (uint64_t i = 0; i < (s->len + 7) / 8; i++)
			copy_src[i] = s->value;
		struct uffdio_copy c = {.dst = s->addr, .src = (uint64_t)(uintptr_t)copy_src, .len = s->len};
		rc = ioctl(fd, UFFDIO_COPY, &c);
		break;
	}
	case TR_UFFD_CONTINUE: {
		/* the statement's mode bits as they are (DONTWAKE, WP, unknown
		 * ones); without DONTWAKE it wakes the range, where no fault
		 * waits */
		struct uffdio_continue c = {.range = {.start = s->addr, .len = s->len}, .mode = s->flags};
		rc = ioctl(fd, UFFDIO_CONTINUE, &c);
		break;
	}
	case TR_UFFD_WAKE: {
		struct uffdio_range r = {.start = s->addr, .len = s->len};
		rc = ioctl(fd, UFFDIO_WAKE, &r);
		break;
	}
	case TR_UFFD_WP: {
		struct uffdio_writeprotect w = {.range = {.start = s->addr, .len = s->len}, .mode = s->flags};
		rc = ioctl(fd, UFFDIO_WRITEPROTECT, &w);
		break;
	}
	default: {
		struct uffdio_zeropage z = {.range = {.start = s->addr, .len = s->len}};
		rc = ioctl(fd, UFFDIO_ZEROPAGE, &z);
		break;
	}
	}
	set_sys_result_(res, rc < 0 ? -errno : 0);
	return true;
}

/* ---- the system calls -------------------------------------------------------------------- */

static void set_sys_result(tr_result *res, long rc)
{
	if (rc < 0 && rc >= -4095) {
		res->kind = TR_RES_ERRNO;
		res->err = (int)-rc;
	} else {
		res->kind = TR_RES_VALUE;
		res->value = (uint64_t)rc;
	}
}

static void set_sys_result_(tr_result *res, long rc) { set_sys_result(res, rc); }

static long raw(long nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f)
{
	long rc = syscall(nr, a, b, c, d, e, f);
	return rc == -1 ? -errno : rc;
}

/* CONFIG_MEMORY_FAILURE: without it MADV_HWPOISON and MADV_SOFT_OFFLINE are
 * EINVAL, and harmless; with it, as root, they poison real pages. */
static bool memory_failure_configured(void)
{
	static int known = -1;
	if (known < 0)
		known = access("/proc/sys/vm/memory_failure_early_kill", F_OK) == 0;
	return known == 1;
}

static bool refuse(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return false;
}

/* ---- confinement: the ranges the kernel really uses ------------------------------------------ */

#define K_MAP_HUGE_SHIFT 26
#define K_MAP_HUGE_MASK 0x3fu

/* PROCMAP_QUERY: kernel.h. */
static int maps_fd = -1;

static bool add_ovf(uint64_t a, uint64_t b, uint64_t *r) { return __builtin_add_overflow(a, b, r); }

/* ALIGN(len, a) for a power of two a; false on overflow. */
static bool align_up(uint64_t len, uint64_t a, uint64_t *r)
{
	if (add_ovf(len, a - 1, r))
		return false;
	*r &= ~(a - 1);
	return true;
}

/* The huge page size a MAP_HUGETLB mmap with these flags gets
 * (ksys_mmap_pgoff: hstate_sizelog of the MAP_HUGE_* bits, the default
 * hstate when they are 0). Sizes the kernel has no hstate for give EINVAL;
 * rounding to them anyway is only more careful. */
static uint64_t hugetlb_size(uint64_t flags)
{
	unsigned log = (unsigned)(flags >> K_MAP_HUGE_SHIFT) & K_MAP_HUGE_MASK;
	if (log == 0)
		return default_huge;
	if (log < 12)
		return K_PAGE;
	if (log > 47)
		return 0; /* larger than the user address space */
	return 1ull << log;
}

/* The page size of the VMA containing addr (PROCMAP_QUERY's vma_page_size:
 * the huge page size of a hugetlb VMA, else 4 KiB); 0 when no VMA contains
 * it. Without PROCMAP_QUERY (before 6.11): the largest huge page size this
 * trace has mapped, to be safe. */
static uint64_t vma_page_size(uint64_t addr)
{
	if (!hugetlb_seen)
		return K_PAGE; /* no hugetlb VMA can exist in the arena */
	struct k_procmap_query q;
	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.query_addr = addr;
	if (maps_fd >= 0 && ioctl(maps_fd, K_PROCMAP_QUERY, &q) == 0)
		return q.vma_page_size > K_PAGE ? q.vma_page_size : K_PAGE;
	if (errno == ENOENT)
		return K_PAGE;
	return hugetlb_seen;
}

/* ---- populate accounting ---------------------------------------------------------------------- */

#define PT_PER_RANGE(len) ((len) / 512 + 4 * K_PAGE) /* page-table pages mapping len bytes, at most */
#define THP_EDGES (4ull << 20)                      /* huge folios overhanging a range's two ends */

/* An upper bound of what one statement can make the kernel allocate for
 * this process (pages, page cache, huge folios, page tables). */
static uint64_t range_bound(uint64_t len)
{
	uint64_t r;
	if (add_ovf(len, THP_EDGES + PT_PER_RANGE(len), &r))
		return UINT64_MAX;
	return r;
}

static uint64_t touch_bound(void)
{
	uint64_t b = 2 * K_PAGE + 3 * K_PAGE; /* a COW copy and its page cache page, 3 table pages */
	if (hg_seen || thp_always)
		b += 2ull << 20;
	if (hugetlb_seen)
		b += hugetlb_seen; /* surplus huge pages come from the buddy allocator */
	return b;
}

static bool charge(uint64_t bound, char *why, size_t whylen)
{
	if (bound > k_limit_populate || populated_bound > k_limit_populate - bound) {
		snprintf(why, whylen,
		         "the trace could make the kernel allocate more than the limit of 0x%llx bytes "
		         "(--max-populate): 0x%llx so far, up to 0x%llx more here",
		         (unsigned long long)k_limit_populate, (unsigned long long)populated_bound,
		         (unsigned long long)bound);
		return false;
	}
	populated_bound += bound;
	return true;
}

/* A THP setting that allocates huge folios on a fault without MADV_HUGEPAGE:
 * "always" (or "within_size", "force") at the top level, for shmem, or for
 * any mTHP size ("inherit" follows the top level). */
static bool thp_setting_always(const char *path, bool inherit_always)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "[always]") || strstr(buf, "[within_size]") || strstr(buf, "[force]") ||
	       (inherit_always && strstr(buf, "[inherit]"));
}

static void thp_detect(void)
{
	const char *top = "/sys/kernel/mm/transparent_hugepage";
	char path[512];
	snprintf(path, sizeof(path), "%s/enabled", top);
	bool top_always = thp_setting_always(path, false);
	snprintf(path, sizeof(path), "%s/shmem_enabled", top);
	bool shmem_always = thp_setting_always(path, false);
	thp_always = top_always || shmem_always;
	DIR *d = opendir(top);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "hugepages-", 10) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s/enabled", top, e->d_name);
			thp_always |= thp_setting_always(path, top_always);
			snprintf(path, sizeof(path), "%s/%s/shmem_enabled", top, e->d_name);
			thp_always |= thp_setting_always(path, shmem_always);
		}
		closedir(d);
	}
	char mi[4096];
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, mi, sizeof(mi) - 1);
		close(fd);
		if (n > 0) {
			mi[n] = '\0';
			const char *h = strstr(mi, "Hugepagesize:");
			unsigned long long kb;
			if (h && sscanf(h + 13, "%llu", &kb) == 1 && kb >= 4 && (kb & (kb - 1)) == 0)
				default_huge = kb << 10;
		}
	}
}

static void ops_init(void)
{
	thp_detect();
	maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
}

/* [a, a + len) in the arena, len computed by the caller with the kernel's
 * rounding; false on overflow. */
static bool confined(uint64_t a, uint64_t len) { return arena_contains(a, len); }

static bool is_populating_advice(int64_t advice)
{
	return advice == MM_MADV_WILLNEED || advice == MM_MADV_POPULATE_READ || advice == MM_MADV_POPULATE_WRITE ||
	       advice == MM_MADV_COLLAPSE;
}

bool op_exec(const trace *t, const tr_stmt *s, tr_result *res, char *why, size_t whylen)
{
	(void)t;
	memset(res, 0, sizeof(*res));
	long rc;
	switch (s->kind) {
	case TR_MMAP: {
		/* The length the kernel maps: PAGE_ALIGN(len), or ALIGN(len, huge
		 * page size) with MAP_HUGETLB (ksys_mmap_pgoff; a MAP_FIXED hugetlb
		 * address must be huge-aligned, so the range is [addr, addr + that)). */
		/* Only anonymous MAP_HUGETLB rounds to the huge page size; with a
		 * regular file it is EINVAL (ksys_mmap_pgoff). A fixed address not
		 * aligned to the unit is EINVAL (do_mmap's offset_in_page check,
		 * hugetlb_get_unmapped_area), and a length whose rounding
		 * overflows is ENOMEM or EINVAL: in those cases the kernel maps
		 * nothing, so only an aligned fixed range with a representable
		 * length needs confining before the call. */
		bool anon_huge = (s->flags & MM_MAP_HUGETLB) && (s->flags & MM_MAP_ANONYMOUS);
		uint64_t unit = anon_huge ? hugetlb_size(s->flags) : K_PAGE;
		uint64_t elen = 0;
		bool fits = unit != 0 && align_up(s->len, unit, &elen);
		if (!fits)
			elen = s->len;
		bool fixed = (s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) != 0;
		if (s->addr == 0) {
			if (fixed)
				return refuse(why, whylen, "mmap at address 0 with fixed or fixed_noreplace lies outside the arena");
		} else if (!confined(s->addr, s->len)) {
			return refuse(why, whylen, "mmap range outside the arena");
		} else if (fixed && fits && s->addr % unit == 0 && !confined(s->addr, elen)) {
			return refuse(why, whylen,
			              "mmap: the range rounded up to the huge page size (as the kernel maps it) runs past the "
			              "end of the arena");
		}
		int fd = -1;
		if (s->file) {
			if (s->file > n_files)
				return refuse(why, whylen, "internal: undeclared file");
			fd = file_fd[s->file - 1];
		}
		bool populating = (s->flags & (MM_MAP_POPULATE | MM_MAP_LOCKED)) != 0;
		/* a mapping larger than the arena fails (ENOMEM) before populating */
		uint64_t plen = elen < k_arena_end - k_arena_base ? elen : k_arena_end - k_arena_base;
		if (populating && !charge(range_bound(plen), why, whylen))
			return false;
		rc = raw(SYS_mmap, s->addr, s->len, s->prot, s->flags, (uint64_t)(int64_t)fd, s->off);
		if (!(rc < 0 && rc >= -4095)) {
			uint64_t a = (uint64_t)rc;
			if (!confined(a, elen) || a == k_arena_end) {
				/* The kernel put it outside the arena: take it back before it
				 * can clobber anything, and say so (not where: no addresses of
				 * this process in any message). */
				if (s->len && !(s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)))
					munmap((void *)(uintptr_t)a, elen);
				return refuse(why, whylen, "internal: the kernel placed the mapping outside the arena");
			}
			if ((s->flags & MM_MAP_HUGETLB) && unit > hugetlb_seen)
				hugetlb_seen = unit;
			if (s->flags & MM_MAP_LOCKED)
				locked_seen = true;
		}
		set_sys_result(res, rc);
		return true;
	}
	case TR_MUNMAP:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_munmap, s->addr, s->len, 0, 0, 0, 0));
		return true;
	case TR_MPROTECT:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		/* making a VM_LOCKED range writable populates it (mprotect_fixup) */
		if (locked_seen && !charge(range_bound(s->len), why, whylen))
			return false;
		set_sys_result(res, raw(SYS_mprotect, s->addr, s->len, s->prot, 0, 0, 0));
		return true;
	case TR_MREMAP: {
		/* mremap of a hugetlb VMA rounds both lengths up to its huge page
		 * size (mm/mremap.c); a shrink unmaps [addr + new, addr + old) and a
		 * fixed move replaces [new_addr, new_addr + new) with those lengths. */
		uint64_t unit = vma_page_size(s->addr);
		if (unit == 0)
			unit = K_PAGE; /* no VMA there: EFAULT, nothing moves */
		uint64_t olen, nlen;
		/* A length whose rounding overflows is EINVAL, and so is an
		 * address or new address not aligned to the unit (mremap's
		 * offset_in_page checks, and the huge page mask for hugetlb):
		 * then nothing is unmapped or moved, and only the ranges as
		 * given must lie in the arena (the parser saw to that). */
		bool fits = align_up(s->len, unit, &olen) && align_up(s->new_len, unit, &nlen);
		if (!fits)
			olen = s->len, nlen = s->new_len;
		bool aligned = s->addr % unit == 0 && (!s->has_new_addr || s->new_addr % unit == 0);
		if (!confined(s->addr, s->len) || (fits && aligned && !confined(s->addr, olen)))
			return refuse(why, whylen,
			              unit > K_PAGE ? "mremap: the old range rounded up to the huge page size runs past the "
			                              "end of the arena"
			                            : "range outside the arena");
		if ((s->flags & MM_MREMAP_FIXED) && !(s->has_new_addr && confined(s->new_addr, s->new_len)))
			return refuse(why, whylen, "mremap fixed: the new range must be given and lie in the arena");
		if ((s->flags & MM_MREMAP_FIXED) && fits && aligned && !confined(s->new_addr, nlen))
			return refuse(why, whylen,
			              "mremap fixed: the new range rounded up to the huge page size runs past the end of the "
			              "arena");
		if (!(s->flags & MM_MREMAP_FIXED) && !s->has_new_addr && !confined(s->addr, s->new_len))
			return refuse(why, whylen, "mremap: the grown range runs past the end of the arena");
		/* In-place growth past the arena's end is impossible whatever the
		 * statement says: the page above the arena is always a placeholder
		 * or the process's own (arena_setup), and hugetlb VMAs never grow. */
		uint64_t grow = s->new_len > s->len ? s->new_len - s->len : 0;
		if (!charge(PT_PER_RANGE(nlen) + (locked_seen ? range_bound(grow) : 0), why, whylen))
			return false;
		rc = raw(SYS_mremap, s->addr, s->len, s->new_len, s->flags, s->has_new_addr ? s->new_addr : 0, 0);
		if (rc >= 0 && (!confined((uint64_t)rc, nlen) || (uint64_t)rc == k_arena_end))
			return refuse(why, whylen, "internal: the kernel moved the mapping outside the arena");
		set_sys_result(res, rc);
		return true;
	}
	case TR_MADVISE:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		if ((s->advice == MM_MADV_HWPOISON || s->advice == MM_MADV_SOFT_OFFLINE) && memory_failure_configured())
			return refuse(why, whylen,
			              "madvise hwpoison/soft_offline would retire physical memory of this machine (root)");
		if (is_populating_advice(s->advice) && !charge(range_bound(s->len), why, whylen))
			return false;
		rc = raw(SYS_madvise, s->addr, s->len, (uint64_t)s->advice, 0, 0, 0);
		if (rc == 0 && (s->advice == MM_MADV_HUGEPAGE || s->advice == MM_MADV_COLLAPSE))
			hg_seen = true;
		set_sys_result(res, rc);
		return true;
	case TR_MLOCK:
		if (!confined(s->addr, s->len) || (s->len && !confined(s->addr & ~(K_PAGE - 1), s->len)))
			return refuse(why, whylen, "range outside the arena");
		if (!charge(range_bound(s->len + K_PAGE), why, whylen))
			return false;
		locked_seen = true;
		if (s->flags == 0)
			rc = raw(SYS_mlock, s->addr, s->len, 0, 0, 0, 0);
		else
			rc = raw(SYS_mlock2, s->addr, s->len, s->flags, 0, 0, 0);
		set_sys_result(res, rc);
		return true;
	case TR_MUNLOCK:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_munlock, s->addr, s->len, 0, 0, 0, 0));
		return true;
	case TR_MSEAL:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_mseal, s->addr, s->len, s->flags, 0, 0, 0));
		return true;
	case TR_TOUCH:
		if (!confined(s->addr, 1))
			return refuse(why, whylen, "address outside the arena");
		if (s->access != MM_ACCESS_READ && s->access != MM_ACCESS_WRITE && s->access != MM_ACCESS_EXEC)
			return refuse(why, whylen, "bad access");
		if (!charge(touch_bound(), why, whylen))
			return false;
		res->kind = TR_RES_TOUCH;
		if (k_uffd >= 0)
			return access_with_uffd(s, &res->touch, why, whylen);
		res->touch = do_touch(s->addr, s->access);
		return true;
	case TR_WRITE:
	case TR_READ:
		if ((s->addr & 7) || !confined(s->addr, 8))
			return refuse(why, whylen, "address outside the arena or not 8-byte aligned");
		if (!charge(touch_bound(), why, whylen))
			return false;
		res->kind = TR_RES_TOUCH;
		if (k_uffd >= 0) {
			d_value = 0;
			if (!access_with_uffd(s, &res->touch, why, whylen))
				return false;
		} else {
			res->touch = do_data(s->addr, s->kind == TR_WRITE, s->value);
		}
		if (s->kind == TR_READ && res->touch.outcome == MM_TOUCH_OK) {
			res->kind = TR_RES_DATA;
			res->value = d_value;
		}
		return true;
	case TR_UFFD_REGISTER:
	case TR_UFFD_UNREGISTER:
	case TR_UFFD_COPY:
	case TR_UFFD_ZEROPAGE:
	case TR_UFFD_CONTINUE:
	case TR_UFFD_WAKE:
	case TR_UFFD_WP:
		if (!confined(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		/* wp allocates nothing but page tables (for shmem's markers) */
		if (s->kind != TR_UFFD_REGISTER && s->kind != TR_UFFD_UNREGISTER && s->kind != TR_UFFD_WAKE &&
		    s->kind != TR_UFFD_WP &&
		    !charge(range_bound(s->len), why, whylen))
			return false;
		return uffd_op(s, res, why, whylen);
	default:
		return refuse(why, whylen, "internal: not an operation");
	}
}

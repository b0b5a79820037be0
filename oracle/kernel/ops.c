/* The operations: raw system calls inside the arena, and `touch` under a
 * SIGSEGV/SIGBUS handler that reads si_code and the page-fault error code
 * from the signal context. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel.h"

#ifndef SYS_mseal
#define SYS_mseal 462
#endif

/* ---- files --------------------------------------------------------------------------- */

#define MAX_FILES 1024
static int file_fd[MAX_FILES];
static uint64_t file_dev[MAX_FILES], file_ino[MAX_FILES];
static int n_files;

bool files_add(const char *name, uint64_t size, char *why, size_t whylen)
{
	if (n_files == MAX_FILES) {
		snprintf(why, whylen, "too many files (at most %d)", MAX_FILES);
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
	file_fd[n_files] = fd;
	file_dev[n_files] = st.st_dev;
	file_ino[n_files] = st.st_ino;
	n_files++;
	return true;
}

void files_close_all(void)
{
	for (int i = 0; i < n_files; i++)
		close(file_fd[i]);
	n_files = 0;
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

void touch_init(void)
{
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
	if (!fault_here)
		return r;
	if (sig == SIGBUS) {
		r.outcome = MM_TOUCH_SIGBUS;
		return r;
	}
	if (t_code == SEGV_ACCERR)
		r.outcome = MM_TOUCH_SEGV_ACCERR;
	else
		r.outcome = MM_TOUCH_SEGV_MAPERR; /* SEGV_MAPERR, and SI_KERNEL (#GP) */
	r.pf_error = (uint32_t)t_err;
	return r;
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

bool op_exec(const trace *t, const tr_stmt *s, tr_result *res, char *why, size_t whylen)
{
	(void)t;
	memset(res, 0, sizeof(*res));
	long rc;
	switch (s->kind) {
	case TR_MMAP: {
		if (s->addr == 0) {
			if (s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE))
				return refuse(why, whylen, "mmap at address 0 with fixed or fixed_noreplace lies outside the arena");
		} else if (!arena_contains(s->addr, s->len)) {
			return refuse(why, whylen, "mmap range outside the arena");
		}
		int fd = -1;
		if (s->file) {
			if (s->file > n_files)
				return refuse(why, whylen, "internal: undeclared file");
			fd = file_fd[s->file - 1];
		}
		rc = raw(SYS_mmap, s->addr, s->len, s->prot, s->flags, (uint64_t)(int64_t)fd, s->off);
		if (!(rc < 0 && rc >= -4095)) {
			uint64_t a = (uint64_t)rc;
			uint64_t alen = (s->len + K_PAGE - 1) & ~(K_PAGE - 1);
			if (!arena_contains(a, alen) || a == k_arena_end) {
				/* The kernel put it outside the arena: take it back before it
				 * can clobber anything, and say so. */
				if (s->len && !(s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)))
					munmap((void *)(uintptr_t)a, s->len);
				snprintf(why, whylen, "internal: the kernel placed the mapping outside the arena at 0x%llx",
				         (unsigned long long)a);
				return false;
			}
		}
		set_sys_result(res, rc);
		return true;
	}
	case TR_MUNMAP:
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_munmap, s->addr, s->len, 0, 0, 0, 0));
		return true;
	case TR_MPROTECT:
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_mprotect, s->addr, s->len, s->prot, 0, 0, 0));
		return true;
	case TR_MREMAP: {
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		if ((s->flags & MM_MREMAP_FIXED) && !(s->has_new_addr && arena_contains(s->new_addr, s->new_len)))
			return refuse(why, whylen, "mremap fixed: the new range must be given and lie in the arena");
		if (!(s->flags & MM_MREMAP_FIXED) && !s->has_new_addr && !arena_contains(s->addr, s->new_len))
			return refuse(why, whylen, "mremap: the grown range runs past the end of the arena");
		rc = raw(SYS_mremap, s->addr, s->len, s->new_len, s->flags, s->has_new_addr ? s->new_addr : 0, 0);
		if (rc >= 0 && (!arena_contains((uint64_t)rc, 0) || (uint64_t)rc == k_arena_end)) {
			snprintf(why, whylen, "internal: the kernel moved the mapping outside the arena to 0x%llx",
			         (unsigned long long)rc);
			return false;
		}
		set_sys_result(res, rc);
		return true;
	}
	case TR_MADVISE:
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		if ((s->advice == MM_MADV_HWPOISON || s->advice == MM_MADV_SOFT_OFFLINE) && memory_failure_configured())
			return refuse(why, whylen,
			              "madvise hwpoison/soft_offline would retire physical memory of this machine (root)");
		set_sys_result(res, raw(SYS_madvise, s->addr, s->len, (uint64_t)s->advice, 0, 0, 0));
		return true;
	case TR_MLOCK:
		if (!arena_contains(s->addr, s->len) || (s->len && !arena_contains(s->addr & ~(K_PAGE - 1), s->len)))
			return refuse(why, whylen, "range outside the arena");
		if (s->flags == 0)
			rc = raw(SYS_mlock, s->addr, s->len, 0, 0, 0, 0);
		else
			rc = raw(SYS_mlock2, s->addr, s->len, s->flags, 0, 0, 0);
		set_sys_result(res, rc);
		return true;
	case TR_MUNLOCK:
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_munlock, s->addr, s->len, 0, 0, 0, 0));
		return true;
	case TR_MSEAL:
		if (!arena_contains(s->addr, s->len))
			return refuse(why, whylen, "range outside the arena");
		set_sys_result(res, raw(SYS_mseal, s->addr, s->len, s->flags, 0, 0, 0));
		return true;
	case TR_TOUCH:
		if (!arena_contains(s->addr, 1))
			return refuse(why, whylen, "address outside the arena");
		if (s->access != MM_ACCESS_READ && s->access != MM_ACCESS_WRITE && s->access != MM_ACCESS_EXEC)
			return refuse(why, whylen, "bad access");
		res->kind = TR_RES_TOUCH;
		res->touch = do_touch(s->addr, s->access);
		return true;
	default:
		return refuse(why, whylen, "internal: not an operation");
	}
}

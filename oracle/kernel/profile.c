/* The profile of the running kernel (shared/spec/trace-format.md, Profiles):
 * every key detected at start-up, never assumed, each with a short text
 * saying how it was found. A key that cannot be detected is left out and its
 * text says why. mmref-kernel announces the result in its answer to every
 * `mmtrace 1` (docs/exec-protocol.md, "A live target may announce its
 * profile"); docs/kernel-target.md lists the methods.
 *
 * Detection runs before the arena is set up. It touches nothing but files
 * under /proc and /sys and a few scratch mappings of its own, made without
 * MAP_FIXED and unmapped again at once. It does not allocate from the heap. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel.h"

tr_profile k_profile;
static char how[TR_PK_COUNT][480];
static uint64_t zero_pfn_found;
static char announcement[8192]; /* "profile …\n# profile KEY: HOW\n…" */
static void format_announcement(void);

/* include/uapi/linux/kernel-page-flags.h */
#define KPF_COMPOUND_HEAD (1ull << 15)
#define KPF_COMPOUND_TAIL (1ull << 16)
#define KPF_THP (1ull << 22)
#define KPF_ZERO_PAGE (1ull << 24)
#define PM_PFN_MASK ((1ull << 55) - 1)
#define PM_PRESENT (1ull << 63)

static void G_GNUC_PRINTF(3, 4) found(tr_profile_key k, uint64_t v, const char *fmt, ...)
{
	k_profile.set |= 1u << k;
	k_profile.value[k] = v;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(how[k], sizeof(how[k]), fmt, ap);
	va_end(ap);
}

static void G_GNUC_PRINTF(2, 3) missing(tr_profile_key k, const char *fmt, ...)
{
	k_profile.set &= ~(1u << k);
	int n = snprintf(how[k], sizeof(how[k]), "not detected: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(how[k] + n, sizeof(how[k]) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* A small file read whole, trailing white space removed. -1 (errno) on failure. */
static int read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	return (int)len;
}

/* A decimal number, the whole of s. */
static bool parse_dec(const char *s, uint64_t *out)
{
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* ---- kernel ------------------------------------------------------------------------------ */

static void detect_kernel(void)
{
	struct utsname u;
	if (uname(&u) != 0) {
		missing(TR_PK_KERNEL, "uname: %s", strerror(errno));
		return;
	}
	unsigned major, minor;
	int used = 0;
	if (sscanf(u.release, "%u.%u%n", &major, &minor, &used) != 2 || major < 2 || major >= 100 || minor >= 100) {
		missing(TR_PK_KERNEL, "uname release '%s' is not MAJOR.MINOR…", u.release);
		return;
	}
	found(TR_PK_KERNEL, major * 100u + minor, "uname release %s", u.release);
}

/* ---- zero_page --------------------------------------------------------------------------- */

static uint64_t kpfbuf[8192];

/* The 4 KiB zero page's PFN from /proc/kpageflags: the first frame flagged
 * KPF_ZERO_PAGE that is not part of a compound page (the huge zero folio is).
 * Read faults do not show it under zero_page=off, but other paths may still
 * map it (a THP split remaps zero-filled subpages to it: mm/huge_memory.c
 * remap_page, RMP_USE_SHARED_ZEROPAGE), and the pagemap reader must know it.
 * It lies in the kernel image (bss): found within milliseconds. 0 if not. */
static uint64_t find_zero_pfn(void)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t hit = 0;
	for (uint64_t pfn = 0; !hit && pfn < (1ull << 24); pfn += G_N_ELEMENTS(kpfbuf)) {
		ssize_t r = pread(fd, kpfbuf, sizeof(kpfbuf), (off_t)(pfn * 8));
		if (r < 0 && errno == EINTR) {
			pfn -= G_N_ELEMENTS(kpfbuf);
			continue;
		}
		if (r <= 0)
			break;
		for (size_t i = 0; i < (size_t)r / 8 && !hit; i++)
			if ((kpfbuf[i] & KPF_ZERO_PAGE) && !(kpfbuf[i] & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL | KPF_THP)))
				hit = pfn + i;
	}
	close(fd);
	return hit;
}

/* A read fault on private anonymous memory maps the shared zero page unless
 * the kernel forbids it (mm/memory.c do_anonymous_page: !FAULT_FLAG_WRITE &&
 * !mm_forbids_zeropage()). Two pages of a scratch mapping are read-faulted and
 * what got mapped is asked of /proc/kpageflags (KPF_ZERO_PAGE), else of the
 * PFNs themselves (the zero page is one frame for both), else of PAGEMAP_SCAN
 * (PAGE_IS_PFNZERO, which does not need the PFNs). */
static void detect_zero_page(void)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		missing(TR_PK_ZERO_PAGE, "cannot open /proc/self/pagemap: %s", strerror(errno));
		return;
	}
	volatile unsigned char *p = mmap(NULL, 2 * K_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		missing(TR_PK_ZERO_PAGE, "scratch mmap: %s", strerror(errno));
		close(pm);
		return;
	}
	(void)p[0];
	(void)p[K_PAGE];
	uint64_t addr = (uint64_t)(uintptr_t)p;
	uint64_t e[2] = {0, 0};
	bool have_e = pread(pm, e, sizeof(e), (off_t)(addr / K_PAGE * 8)) == (ssize_t)sizeof(e);
	struct k_page_region reg[4];
	struct k_pm_scan_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = addr;
	arg.end = addr + 2 * K_PAGE;
	arg.vec = (uint64_t)(uintptr_t)reg;
	arg.vec_len = 4;
	arg.return_mask = K_PAGE_IS_PRESENT | K_PAGE_IS_PFNZERO;
	long nreg = ioctl(pm, K_PAGEMAP_SCAN, &arg);
	munmap((void *)(uintptr_t)p, 2 * K_PAGE);
	close(pm);

	if (!have_e) {
		missing(TR_PK_ZERO_PAGE, "cannot read /proc/self/pagemap");
		return;
	}
	if (!(e[0] & PM_PRESENT) || !(e[1] & PM_PRESENT)) {
		missing(TR_PK_ZERO_PAGE, "a read-faulted page is not present in /proc/self/pagemap");
		return;
	}
	uint64_t pfn0 = e[0] & PM_PFN_MASK, pfn1 = e[1] & PM_PFN_MASK;
	if (pfn0 && pfn1) {
		uint64_t flags = 0;
		int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		bool have_flags = kf >= 0 && pread(kf, &flags, sizeof(flags), (off_t)(pfn0 * 8)) == (ssize_t)sizeof(flags);
		if (kf >= 0)
			close(kf);
		if (have_flags) {
			bool on = (flags & KPF_ZERO_PAGE) != 0;
			char also[128] = "";
			if (on)
				zero_pfn_found = pfn0;
			else if ((zero_pfn_found = find_zero_pfn()) != 0)
				snprintf(also, sizeof(also), " (the zero page itself is PFN 0x%llx)",
				         (unsigned long long)zero_pfn_found);
			found(TR_PK_ZERO_PAGE, on,
			      "read faults on private anonymous memory mapped PFNs 0x%llx and 0x%llx; /proc/kpageflags "
			      "%s KPF_ZERO_PAGE (flags 0x%llx)%s%s",
			      (unsigned long long)pfn0, (unsigned long long)pfn1, on ? "has" : "lacks",
			      (unsigned long long)flags, on ? "" : ": fresh anonymous pages, not the zero page", also);
			return;
		}
		bool on = pfn0 == pfn1;
		if (on)
			zero_pfn_found = pfn0;
		found(TR_PK_ZERO_PAGE, on,
		      "read faults on two private anonymous pages mapped %s (PFNs 0x%llx, 0x%llx; /proc/kpageflags "
		      "unreadable)",
		      on ? "one frame, the zero page" : "two frames, fresh anonymous pages", (unsigned long long)pfn0,
		      (unsigned long long)pfn1);
		return;
	}
	if (nreg >= 0) {
		bool on = false;
		for (long i = 0; i < nreg; i++)
			if (reg[i].start <= addr && addr < reg[i].end && (reg[i].categories & K_PAGE_IS_PFNZERO))
				on = true;
		found(TR_PK_ZERO_PAGE, on,
		      "PAGEMAP_SCAN %s PAGE_IS_PFNZERO on a read-faulted private anonymous page (PFNs hidden from this "
		      "process)",
		      on ? "reports" : "does not report");
		return;
	}
	missing(TR_PK_ZERO_PAGE, "PFNs are hidden (needs CAP_SYS_ADMIN) and PAGEMAP_SCAN failed: %s", strerror(errno));
}

/* ---- THP ----------------------------------------------------------------------------------- */

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* The bracketed word of a sysfs mode file ("always [madvise] never"). */
static bool bracketed(const char *text, char *word, size_t cap)
{
	const char *a = strchr(text, '['), *b = a ? strchr(a, ']') : NULL;
	if (!b || (size_t)(b - a - 1) >= cap)
		return false;
	memcpy(word, a + 1, (size_t)(b - a - 1));
	word[b - a - 1] = '\0';
	return true;
}

static int thp_mode(const char *w)
{
	if (strcmp(w, "never") == 0)
		return MM_THP_NEVER;
	if (strcmp(w, "madvise") == 0)
		return MM_THP_MADVISE;
	if (strcmp(w, "always") == 0)
		return MM_THP_ALWAYS;
	return -1;
}

static void detect_thp(void)
{
	char text[256], top[32], pmd[32];
	if (read_text(THP_DIR "/enabled", text, sizeof(text)) < 0) {
		int err = errno;
		if (err == ENOENT && access("/sys/kernel/mm", F_OK) == 0) {
			found(TR_PK_THP, MM_THP_NEVER, "no " THP_DIR " (a kernel built without THP)");
			found(TR_PK_THP_ZERO_PAGE, 0, "no " THP_DIR " (a kernel built without THP)");
		} else {
			missing(TR_PK_THP, "cannot read " THP_DIR "/enabled: %s", strerror(err));
			missing(TR_PK_THP_ZERO_PAGE, "cannot read " THP_DIR ": %s", strerror(err));
		}
		return;
	}
	int mode;
	if (!bracketed(text, top, sizeof(top)) || (mode = thp_mode(top)) < 0) {
		missing(TR_PK_THP, THP_DIR "/enabled says '%s': no known bracketed mode", text);
	} else {
		/* 6.8+: per-size controls; the PMD size (2 MiB) is the one the model
		 * has. "inherit" follows the top-level file. */
		char ptext[256];
		if (read_text(THP_DIR "/hugepages-2048kB/enabled", ptext, sizeof(ptext)) < 0) {
			found(TR_PK_THP, (uint64_t)mode, THP_DIR "/enabled says [%s] (no per-size hugepages-2048kB control)",
			      top);
		} else if (!bracketed(ptext, pmd, sizeof(pmd))) {
			missing(TR_PK_THP, THP_DIR "/hugepages-2048kB/enabled says '%s': no bracketed mode", ptext);
		} else if (strcmp(pmd, "inherit") == 0) {
			found(TR_PK_THP, (uint64_t)mode,
			      THP_DIR "/enabled says [%s]; hugepages-2048kB/enabled says [inherit]", top);
		} else if ((mode = thp_mode(pmd)) >= 0) {
			found(TR_PK_THP, (uint64_t)mode,
			      THP_DIR "/hugepages-2048kB/enabled says [%s], which overrides enabled's [%s] for 2 MiB "
			              "pages",
			      pmd, top);
		} else {
			missing(TR_PK_THP, THP_DIR "/hugepages-2048kB/enabled says [%s]: not a known mode", pmd);
		}
	}
	if (read_text(THP_DIR "/use_zero_page", text, sizeof(text)) < 0)
		missing(TR_PK_THP_ZERO_PAGE, "cannot read " THP_DIR "/use_zero_page: %s", strerror(errno));
	else if (strcmp(text, "0") == 0 || strcmp(text, "1") == 0)
		found(TR_PK_THP_ZERO_PAGE, text[0] == '1', THP_DIR "/use_zero_page says %s%s", text,
		      text[0] == '1' && tr_profile_has(&k_profile, TR_PK_ZERO_PAGE) && !k_profile.value[TR_PK_ZERO_PAGE]
		              ? " (under zero_page=off a read fault maps no huge zero page either)"
		              : "");
	else
		missing(TR_PK_THP_ZERO_PAGE, THP_DIR "/use_zero_page says '%s'", text);
}

/* ---- shmem_thp ------------------------------------------------------------------------------ */

static int shmem_thp_mode(const char *w)
{
	static const char *const names[] = {[MM_SHMEM_THP_NEVER] = "never",   [MM_SHMEM_THP_ALWAYS] = "always",
	                                    [MM_SHMEM_THP_WITHIN_SIZE] = "within_size", [MM_SHMEM_THP_ADVISE] = "advise",
	                                    [MM_SHMEM_THP_DENY] = "deny",     [MM_SHMEM_THP_FORCE] = "force"};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (strcmp(w, names[i]) == 0)
			return (int)i;
	return -1;
}

/* mm/shmem.c: the internal mount behind memfd and shared anonymous memory
 * takes its huge= policy from transparent_hugepage/shmem_enabled
 * (shmem_enabled_store sets SHMEM_SB(shm_mnt->mnt_sb)->huge); `deny` and
 * `force` there override every mount and size. Since 6.11 the PMD size has
 * its own hugepages-2048kB/shmem_enabled: `inherit` follows the top-level
 * file, any other value is what shmem_allowable_huge_orders() uses for
 * 2 MiB (huge_shmem_orders_always/within_size/madvise). A kernel without
 * the file has no shmem THP (CONFIG_TRANSPARENT_HUGEPAGE off): never. */
static void detect_shmem_thp(void)
{
	char text[256], top[32], pmd[32];
	if (read_text(THP_DIR "/shmem_enabled", text, sizeof(text)) < 0) {
		int err = errno;
		if (err == ENOENT && access("/sys/kernel/mm", F_OK) == 0)
			found(TR_PK_SHMEM_THP, MM_SHMEM_THP_NEVER, "no " THP_DIR "/shmem_enabled (a kernel without shmem THP)");
		else
			missing(TR_PK_SHMEM_THP, "cannot read " THP_DIR "/shmem_enabled: %s", strerror(err));
		return;
	}
	int mode;
	if (!bracketed(text, top, sizeof(top)) || (mode = shmem_thp_mode(top)) < 0) {
		missing(TR_PK_SHMEM_THP, THP_DIR "/shmem_enabled says '%s': no known bracketed mode", text);
		return;
	}
	if (mode == MM_SHMEM_THP_DENY || mode == MM_SHMEM_THP_FORCE) {
		found(TR_PK_SHMEM_THP, (uint64_t)mode, THP_DIR "/shmem_enabled says [%s], which applies to every size", top);
		return;
	}
	char ptext[256];
	if (read_text(THP_DIR "/hugepages-2048kB/shmem_enabled", ptext, sizeof(ptext)) < 0) {
		found(TR_PK_SHMEM_THP, (uint64_t)mode,
		      THP_DIR "/shmem_enabled says [%s] (no per-size hugepages-2048kB/shmem_enabled)", top);
	} else if (!bracketed(ptext, pmd, sizeof(pmd))) {
		missing(TR_PK_SHMEM_THP, THP_DIR "/hugepages-2048kB/shmem_enabled says '%s': no bracketed mode", ptext);
	} else if (strcmp(pmd, "inherit") == 0) {
		found(TR_PK_SHMEM_THP, (uint64_t)mode,
		      THP_DIR "/shmem_enabled says [%s]; hugepages-2048kB/shmem_enabled says [inherit]", top);
	} else if ((mode = shmem_thp_mode(pmd)) >= 0 && mode != MM_SHMEM_THP_DENY && mode != MM_SHMEM_THP_FORCE) {
		found(TR_PK_SHMEM_THP, (uint64_t)mode,
		      THP_DIR "/hugepages-2048kB/shmem_enabled says [%s], which overrides shmem_enabled's [%s] for 2 MiB",
		      pmd, top);
	} else {
		missing(TR_PK_SHMEM_THP, THP_DIR "/hugepages-2048kB/shmem_enabled says [%s]: not a known mode", pmd);
	}
}

/* ---- sysctls --------------------------------------------------------------------------------- */

static void detect_sysctl(tr_profile_key k, const char *path, uint64_t lo, uint64_t hi)
{
	char text[64];
	uint64_t v;
	if (read_text(path, text, sizeof(text)) < 0)
		missing(k, "cannot read %s: %s", path, strerror(errno));
	else if (!parse_dec(text, &v) || v < lo || v > hi)
		missing(k, "%s says '%s'", path, text);
	else
		found(k, v, "%s says %llu", path, (unsigned long long)v);
}

/* ---- memlock --------------------------------------------------------------------------------- */

static bool caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	return syscall(SYS_capget, &hdr, data) == 0;
}

/* capable() asks the initial user namespace: it holds only when this process
 * lives there (the identity uid_map). */
static int in_init_userns(void)
{
	char text[256];
	if (read_text("/proc/self/uid_map", text, sizeof(text)) < 0)
		return -1;
	unsigned long long a, b, c;
	return sscanf(text, "%llu %llu %llu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295ull &&
	       !strchr(text, '\n');
}

/* mm/mlock.c: can_do_mlock() and the limit checks of do_mlock(), mlock_future_ok()
 * and user_shm_lock() all give way to capable(CAP_IPC_LOCK). */
static void detect_memlock(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
		missing(TR_PK_MEMLOCK, "getrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
		return;
	}
	char lim[48];
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(lim, sizeof(lim), "unlimited");
	else
		snprintf(lim, sizeof(lim), "%llu bytes", (unsigned long long)rl.rlim_cur);
	struct __user_cap_data_struct caps[2];
	if (!caps_get(caps)) {
		missing(TR_PK_MEMLOCK, "RLIMIT_MEMLOCK is %s, but capget failed (%s): CAP_IPC_LOCK unknown", lim,
		        strerror(errno));
		return;
	}
	bool cap = (caps[CAP_IPC_LOCK / 32].effective >> (CAP_IPC_LOCK % 32)) & 1;
	if (cap) {
		int init = in_init_userns();
		if (init < 0) {
			missing(TR_PK_MEMLOCK,
			        "RLIMIT_MEMLOCK is %s and CAP_IPC_LOCK is effective, but /proc/self/uid_map is unreadable: "
			        "whether it counts is unknown",
			        lim);
			return;
		}
		if (init) {
			found(TR_PK_MEMLOCK, MM_MEMLOCK_UNLIMITED,
			      "CAP_IPC_LOCK is effective (capget) in the initial user namespace, so RLIMIT_MEMLOCK (%s) "
			      "does not apply (mm/mlock.c can_do_mlock)",
			      lim);
			return;
		}
	}
	found(TR_PK_MEMLOCK, rl.rlim_cur == RLIM_INFINITY ? MM_MEMLOCK_UNLIMITED : (uint64_t)rl.rlim_cur,
	      "RLIMIT_MEMLOCK soft limit (getrlimit), %s; CAP_IPC_LOCK %s", lim,
	      cap ? "is effective only in a user namespace, so it does not count" : "is not effective (capget)");
}

bool profile_set_memlock(uint64_t bytes, char *why, size_t whylen)
{
	struct rlimit rl = {.rlim_cur = bytes == MM_MEMLOCK_UNLIMITED ? RLIM_INFINITY : (rlim_t)bytes};
	rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
		snprintf(why, whylen, "setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
		return false;
	}
	/* CAP_IPC_LOCK out of the ambient, bounding, inheritable, permitted and
	 * effective sets, so that neither this process nor one it re-executes
	 * (after mseal) gets it back. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_IPC_LOCK, 0, 0);
	if (prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0 && prctl(PR_CAPBSET_READ, CAP_IPC_LOCK, 0, 0, 0) != 0) {
		snprintf(why, whylen, "cannot drop CAP_IPC_LOCK from the bounding set: %s", strerror(errno));
		return false;
	}
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct caps[2];
	if (syscall(SYS_capget, &hdr, caps) != 0) {
		snprintf(why, whylen, "capget: %s", strerror(errno));
		return false;
	}
	uint32_t bit = 1u << (CAP_IPC_LOCK % 32);
	caps[CAP_IPC_LOCK / 32].effective &= ~bit;
	caps[CAP_IPC_LOCK / 32].permitted &= ~bit;
	caps[CAP_IPC_LOCK / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &hdr, caps) != 0) {
		snprintf(why, whylen, "capset: %s", strerror(errno));
		return false;
	}
	return true;
}

/* ---- soft_dirty ------------------------------------------------------------------------------ */

static char smapsbuf[1 << 19];

/* The VmFlags of the smaps entry that starts at p, as "rd wr ..." in out;
 * false with *why set when it cannot be read. */
static bool scratch_vmflags(const void *p, char *out, size_t outlen, char *why, size_t whylen)
{
	int len = read_text("/proc/self/smaps", smapsbuf, sizeof(smapsbuf));
	if (len < 0) {
		snprintf(why, whylen, "cannot read /proc/self/smaps: %s", strerror(errno));
		return false;
	}
	if ((size_t)len + 1 >= sizeof(smapsbuf)) {
		snprintf(why, whylen, "/proc/self/smaps is longer than %zu bytes", sizeof(smapsbuf));
		return false;
	}
	char head[40];
	snprintf(head, sizeof(head), "%llx-", (unsigned long long)(uintptr_t)p);
	const char *at = NULL;
	for (const char *l = smapsbuf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, head, strlen(head)) == 0) {
			at = l;
			break;
		}
	const char *vf = at ? strstr(at, "\nVmFlags:") : NULL;
	if (!vf) {
		snprintf(why, whylen, "no VmFlags for a scratch mapping in /proc/self/smaps");
		return false;
	}
	vf += 9;
	while (*vf == ' ')
		vf++;
	const char *eol = strchr(vf, '\n');
	size_t n = eol ? (size_t)(eol - vf) : strlen(vf);
	while (n && vf[n - 1] == ' ')
		n--;
	snprintf(out, outlen, "%.*s", (int)(n < outlen - 1 ? n : outlen - 1), vf);
	return true;
}

/* Does the space-separated list of two-letter mnemonics hold `mn`? */
static bool has_mnemonic(const char *flags, const char *mn)
{
	for (const char *tok = flags; *tok;) {
		size_t tl = strcspn(tok, " ");
		if (tl == 2 && tok[0] == mn[0] && tok[1] == mn[1])
			return true;
		tok += tl;
		tok += strspn(tok, " ");
	}
	return false;
}

/* With CONFIG_MEM_SOFT_DIRTY a new VMA carries VM_SOFTDIRTY, shown as `sd` in
 * VmFlags (fs/proc/task_mmu.c). A scratch mapping's smaps entry tells. */
static void detect_soft_dirty(void)
{
	void *p = mmap(NULL, K_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		missing(TR_PK_SOFT_DIRTY, "scratch mmap: %s", strerror(errno));
		return;
	}
	char flags[160], why[160];
	bool ok = scratch_vmflags(p, flags, sizeof(flags), why, sizeof(why));
	munmap(p, K_PAGE);
	if (!ok) {
		missing(TR_PK_SOFT_DIRTY, "%s", why);
		return;
	}
	bool sd = has_mnemonic(flags, "sd");
	found(TR_PK_SOFT_DIRTY, sd, "VmFlags of a fresh anonymous mapping in /proc/self/smaps: '%s' (%s sd)", flags,
	      sd ? "with" : "without");
}

/* ---- guard_flag ------------------------------------------------------------------------------ */

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Since 6.19 (and in 6.18 stables that took it), madvise_guard_install()
 * marks the whole VMA VM_MAYBE_GUARD, shown as `gu` in VmFlags
 * (fs/proc/task_mmu.c show_smap_vma_flags). A guard installed on one page of
 * a scratch mapping tells; a kernel without guard regions (before 6.13:
 * EINVAL) never shows it. */
static void detect_guard_flag(void)
{
	void *p = mmap(NULL, 2 * K_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		missing(TR_PK_GUARD_FLAG, "scratch mmap: %s", strerror(errno));
		return;
	}
	if (madvise(p, K_PAGE, MADV_GUARD_INSTALL) != 0) {
		int e = errno;
		munmap(p, 2 * K_PAGE);
		if (e == EINVAL)
			found(TR_PK_GUARD_FLAG, 0, "MADV_GUARD_INSTALL is EINVAL (no guard regions before 6.13), so no `gu`");
		else
			missing(TR_PK_GUARD_FLAG, "MADV_GUARD_INSTALL on a scratch mapping: %s", strerror(e));
		return;
	}
	char flags[160], why[160];
	bool ok = scratch_vmflags(p, flags, sizeof(flags), why, sizeof(why));
	munmap(p, 2 * K_PAGE);
	if (!ok) {
		missing(TR_PK_GUARD_FLAG, "%s", why);
		return;
	}
	bool gu = has_mnemonic(flags, "gu");
	found(TR_PK_GUARD_FLAG, gu, "VmFlags of a scratch mapping after MADV_GUARD_INSTALL on one page: '%s' (%s gu)",
	      flags, gu ? "with" : "without");
}

/* ---- mmap_min_addr ---------------------------------------------------------------------------- */

/* The effective floor is the kernel's mmap_min_addr: with CONFIG_SECURITY the
 * larger of vm.mmap_min_addr and CONFIG_LSM_MMAP_MIN_ADDR
 * (security/min_addr.c), which no file shows. do_mmap() raises a hint below it
 * to it (round_hint_to_min), and a free page there is returned as is: a
 * PROT_NONE scratch mapping hinted at 0x1000, without MAP_FIXED, lands on the
 * floor. (A hint never replaces anything; the page is unmapped at once.) */
static void detect_mmap_min_addr(void)
{
	char text[64];
	uint64_t dac = 0;
	bool have_dac = read_text("/proc/sys/vm/mmap_min_addr", text, sizeof(text)) >= 0 && parse_dec(text, &dac);
	void *r = mmap((void *)(uintptr_t)K_PAGE, K_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED) {
		missing(TR_PK_MMAP_MIN_ADDR, "a hinted scratch mmap failed: %s", strerror(errno));
		return;
	}
	munmap(r, K_PAGE);
	uint64_t a = (uint64_t)(uintptr_t)r;
	char dtext[64];
	if (have_dac)
		snprintf(dtext, sizeof(dtext), "vm.mmap_min_addr is %llu", (unsigned long long)dac);
	else
		snprintf(dtext, sizeof(dtext), "vm.mmap_min_addr unreadable");
	if (a < K_PAGE || a >= (16ull << 20)) {
		missing(TR_PK_MMAP_MIN_ADDR,
		        "a scratch mmap hinted at 0x1000 landed at 0x%llx, not at the floor (the page there is taken?); %s",
		        (unsigned long long)a, dtext);
		return;
	}
	if (have_dac && dac > a) {
		missing(TR_PK_MMAP_MIN_ADDR, "a scratch mmap hinted at 0x1000 landed at 0x%llx, below %s",
		        (unsigned long long)a, dtext);
		return;
	}
	if (a > K_PAGE) {
		found(TR_PK_MMAP_MIN_ADDR, a,
		      "a scratch mmap hinted at 0x1000 was raised to 0x%llx (round_hint_to_min); %s%s", (unsigned long long)a,
		      dtext, have_dac && dac < a ? ", so the LSM floor (CONFIG_LSM_MMAP_MIN_ADDR) is the larger" : "");
		return;
	}
	/* The hint was taken as is: the floor is 0x1000 or 0. */
	if (have_dac && dac == K_PAGE) {
		found(TR_PK_MMAP_MIN_ADDR, K_PAGE, "a scratch mmap hinted at 0x1000 landed there; %s", dtext);
		return;
	}
	missing(TR_PK_MMAP_MIN_ADDR, "a scratch mmap hinted at 0x1000 landed there: the floor is 0 or 0x1000; %s", dtext);
}

/* ---- memory_failure ------------------------------------------------------------------------------ */

/* CONFIG_MEMORY_FAILURE: mm/memory-failure.c registers the vm.memory_failure_*
 * sysctls (memory_failure_init), so /proc/sys/vm/memory_failure_early_kill
 * exists exactly when it is built in; then madvise_behavior_valid() accepts
 * MADV_HWPOISON and MADV_SOFT_OFFLINE. Not asked of the kernel itself: as
 * root they would poison real pages. */
static void detect_memory_failure(void)
{
	const char *path = "/proc/sys/vm/memory_failure_early_kill";
	if (access("/proc/sys/vm", F_OK) != 0) {
		missing(TR_PK_MEMORY_FAILURE, "no /proc/sys/vm: %s", strerror(errno));
		return;
	}
	bool on = access(path, F_OK) == 0;
	found(TR_PK_MEMORY_FAILURE, on, "%s %s (CONFIG_MEMORY_FAILURE %s)", path, on ? "exists" : "does not exist",
	      on ? "=y" : "is not set");
}

/* ---- userfaultfd --------------------------------------------------------------------------------- */

/* Whether userfaultfd(2) exists: CONFIG_USERFAULTFD, and a sandbox that
 * implements it (gVisor does not). Asked the way ops.c opens the process's
 * own: user-mode faults only, so vm.unprivileged_userfaultfd does not matter. */
static void detect_userfaultfd(void)
{
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd >= 0) {
		close((int)fd);
		found(TR_PK_USERFAULTFD, 1, "userfaultfd(O_CLOEXEC|O_NONBLOCK|UFFD_USER_MODE_ONLY) gave a descriptor");
	} else if (errno == ENOSYS) {
		found(TR_PK_USERFAULTFD, 0, "userfaultfd() is ENOSYS");
	} else {
		missing(TR_PK_USERFAULTFD, "userfaultfd(O_CLOEXEC|O_NONBLOCK|UFFD_USER_MODE_ONLY): %s", strerror(errno));
	}
}

/* ---- pkeys ------------------------------------------------------------------------------------- */

/* OSPKE: the CPU has PKU and the kernel set CR4.PKE (arch/x86/kernel/cpu/
 * common.c setup_pku; "nopku" on the command line, or a kernel without
 * CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS, leaves it off). Then do_mmap()
 * gives PROT_EXEC-only mappings the execute-only key. Found from the
 * "ospke" word of /proc/cpuinfo's flags (X86_FEATURE_OSPKE); without
 * cpuinfo, from pkey_alloc(2): it succeeds exactly when arch_max_pkey() > 1
 * (mm_pkey_alloc), ENOSPC otherwise. The probe asks for the key with access
 * disabled, as init_pkru_value already has it, and frees it at once, so the
 * execute-only key a trace gets is still key 1. */
static char cpuinfo_buf[1 << 16];

static void detect_pkeys(void)
{
	int n = read_text("/proc/cpuinfo", cpuinfo_buf, sizeof(cpuinfo_buf));
	if (n > 0) {
		/* the first processor's flags line */
		const char *line = strstr(cpuinfo_buf, "\nflags");
		if (line) {
			line++;
			const char *eol = strchr(line, '\n');
			size_t len = eol ? (size_t)(eol - line) : strlen(line);
			bool on = false;
			for (const char *p = line; p + 5 <= line + len; p++)
				if (strncmp(p, " ospke", 6) == 0 && (p + 6 == line + len || p[6] == ' ' || p[6] == '\n'))
					on = true;
			found(TR_PK_PKEYS, on, "/proc/cpuinfo flags %s ospke (X86_FEATURE_OSPKE)", on ? "have" : "lack");
			return;
		}
	}
	long key = syscall(SYS_pkey_alloc, 0ul, 1ul /* PKEY_DISABLE_ACCESS */);
	if (key >= 0) {
		syscall(SYS_pkey_free, key);
		found(TR_PK_PKEYS, 1, "no flags in /proc/cpuinfo; pkey_alloc gave key %ld", key);
	} else if (errno == ENOSPC || errno == EINVAL || errno == ENOSYS) {
		found(TR_PK_PKEYS, 0, "no flags in /proc/cpuinfo; pkey_alloc: %s", strerror(errno));
	} else {
		missing(TR_PK_PKEYS, "no flags in /proc/cpuinfo; pkey_alloc: %s", strerror(errno));
	}
}

/* ---- all of it --------------------------------------------------------------------------------- */

void profile_detect(void)
{
	memset(&k_profile, 0, sizeof(k_profile));
	zero_pfn_found = 0;
	detect_kernel();
	detect_zero_page();
	detect_thp();
	detect_shmem_thp();
	detect_sysctl(TR_PK_OVERCOMMIT, "/proc/sys/vm/overcommit_memory", 0, 2);
	detect_sysctl(TR_PK_MAX_MAP_COUNT, "/proc/sys/vm/max_map_count", 1, INT32_MAX);
	detect_memlock();
	detect_soft_dirty();
	detect_mmap_min_addr();
	detect_guard_flag();
	detect_memory_failure();
	detect_userfaultfd();
	detect_pkeys();

	format_announcement();
}

/* max_map_count as a trace sees it: vm.max_map_count less the VMAs of
 * mmref-kernel's own outside the arena, plus the model's two fences
 * (arena_trace_max_map_count, docs/kernel-target.md "map_count"). Called
 * once the first arena fixed that budget. */
void profile_apply_own_vmas(void)
{
	if (!(k_profile.set & (1u << TR_PK_MAX_MAP_COUNT)) || !arena_vma_budget())
		return;
	uint64_t sysctl = k_profile.value[TR_PK_MAX_MAP_COUNT];
	found(TR_PK_MAX_MAP_COUNT, arena_trace_max_map_count(sysctl),
	      "/proc/sys/vm/max_map_count (%llu) - %u VMAs of mmref-kernel's own outside the arena + the model's 2 "
	      "arena fences",
	      (unsigned long long)sysctl, arena_vma_budget());
	format_announcement();
}

static void format_announcement(void)
{
	/* The announcement, formatted once (answers never allocate). */
	GString *g = g_string_new("profile");
	if (!tr_profile_empty(&k_profile)) {
		g_string_append_c(g, ' ');
		tr_profile_format(g, &k_profile);
	}
	g_string_append_c(g, '\n');
	for (int k = 0; k < TR_PK_COUNT; k++)
		g_string_append_printf(g, "# profile %s: %s\n", tr_profile_key_name((tr_profile_key)k), how[k]);
	snprintf(announcement, sizeof(announcement), "%s", g->str);
	g_string_free(g, TRUE);
}

const char *profile_announcement(void) { return announcement; }

uint64_t profile_zero_pfn(void) { return zero_pfn_found; }

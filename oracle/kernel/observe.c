/* Observations: the VMAs of the arena from /proc/self/maps and
 * /proc/self/smaps, the page states from the PAGEMAP_SCAN ioctl (or, as a
 * reference and cross-check, from reading /proc/self/pagemap). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel.h"
#include "procmaps.h"

/* pagemap entry bits */
#define PM_PFN_MASK ((1ull << 55) - 1)
#define PM_GUARD (1ull << 58)
#define PM_FILE (1ull << 61)
#define PM_PRESENT (1ull << 63)

static int pagemap_fd = -1, smaps_fd = -1, maps_fd = -1;
static uint64_t zero_pfn;         /* the 4 KiB zero page */
static uint64_t huge_zero_pfn;    /* the huge zero folio's head, 0 if unknown */
static bool use_scan = true;      /* PAGEMAP_SCAN, else pread of pagemap */
static bool crosscheck;           /* compare both methods at every state */
static int proc_copy_fd = -1;     /* MMREF_KERNEL_PROC_COPY: maps/smaps read from a copy */

static uint64_t pagemap_entry(uint64_t addr)
{
	uint64_t e = 0;
	if (pread(pagemap_fd, &e, sizeof(e), (off_t)(addr / K_PAGE * 8)) != (ssize_t)sizeof(e))
		return 0;
	return e;
}

static uint64_t kpageflags(uint64_t pfn)
{
	static int fd = -2;
	if (fd == -2)
		fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	uint64_t f = 0;
	if (fd < 0 || pread(fd, &f, sizeof(f), (off_t)(pfn * 8)) != (ssize_t)sizeof(f))
		return 0;
	return f;
}

bool k_no_pagemap;

bool observe_init(char *why, size_t whylen)
{
	const char *m = getenv("MMREF_KERNEL_PAGEMAP");
	if (m && strcmp(m, "read") == 0)
		use_scan = false;
	m = getenv("MMREF_KERNEL_CROSSCHECK");
	crosscheck = m && *m && strcmp(m, "0") != 0;
	m = getenv("MMREF_KERNEL_PROC_COPY");
	if (m && *m && strcmp(m, "0") != 0) {
		proc_copy_fd = (int)syscall(SYS_memfd_create, "mmref-proc-copy", MFD_CLOEXEC);
		if (proc_copy_fd < 0) {
			snprintf(why, whylen, "memfd_create: %s", strerror(errno));
			return false;
		}
	}
	if (k_no_pagemap) { /* --no-pagemap: page states are answered '?' */
		smaps_fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
		maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		if (smaps_fd < 0 || maps_fd < 0) {
			snprintf(why, whylen, "cannot open /proc/self/{smaps,maps}: %s", strerror(errno));
			return false;
		}
		use_scan = false;
		crosscheck = false;
		return true;
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	smaps_fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0 || smaps_fd < 0 || maps_fd < 0) {
		snprintf(why, whylen, "cannot open /proc/self/{pagemap,smaps,maps}: %s", strerror(errno));
		return false;
	}
	/* PAGEMAP_SCAN came in 6.7 ("fs/proc/task_mmu: implement IOCTL to get
	 * and optionally clear info about PTEs"), PAGE_IS_GUARD later ("fs/proc/
	 * task_mmu: add guard region bit to pagemap"): an older kernel (vm:6.1, vm:6.12) refuses the ioctl or
	 * the mask (ENOTTY, EINVAL), and its page states are read from pagemap. */
	if (use_scan) {
		struct k_pm_scan_arg arg;
		memset(&arg, 0, sizeof(arg));
		arg.size = sizeof(arg);
		arg.start = (uint64_t)(uintptr_t)&arg & ~(uint64_t)(K_PAGE - 1);
		arg.end = arg.start + K_PAGE;
		arg.return_mask = K_PAGE_IS_FILE | K_PAGE_IS_PRESENT | K_PAGE_IS_SWAPPED | K_PAGE_IS_PFNZERO |
		                  K_PAGE_IS_HUGE | K_PAGE_IS_GUARD;
		if (ioctl(pagemap_fd, K_PAGEMAP_SCAN, &arg) < 0)
			use_scan = false;
	}
	/* The zero page: profile detection read-faulted private anonymous pages
	 * and kept the PFN only when it was the zero page (KPF_ZERO_PAGE, or one
	 * frame for two pages). Under zero_page=off it is 0: the PFN of a freed
	 * anonymous page must not pass for the zero page later. */
	zero_pfn = profile_zero_pfn();
	/* The huge zero page: read-fault a 2 MiB-aligned MADV_HUGEPAGE range.
	 * This process then holds a reference to it until it exits
	 * (MMF_HUGE_ZERO_FOLIO), so its PFN stays put. */
	size_t hl = 4u << 20;
	unsigned char *h = mmap(NULL, hl, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h != MAP_FAILED) {
		uintptr_t a = ((uintptr_t)h + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
		if (madvise((void *)a, 2u << 20, MADV_HUGEPAGE) == 0) {
			(void)*(volatile unsigned char *)a;
			uint64_t e = pagemap_entry(a);
			uint64_t pfn = e & PM_PFN_MASK;
			if ((e & PM_PRESENT) && pfn && pfn != zero_pfn && (kpageflags(pfn) & (1ull << 24)))
				huge_zero_pfn = pfn;
		}
		munmap(h, hl);
	}
	return true;
}

bool observe_pfns_visible(void);
bool observe_pfns_visible(void)
{
	int x = 1; /* a page of our own (the stack) */
	uint64_t e = pagemap_entry((uint64_t)(uintptr_t)&x);
	return (e & PM_PRESENT) && (e & PM_PFN_MASK) != 0;
}

/* ---- page states ------------------------------------------------------------------ */

static mm_page_state classify_entry(uint64_t e)
{
	if (e & PM_PRESENT) {
		uint64_t pfn = e & PM_PFN_MASK;
		if (pfn && (pfn == zero_pfn || (huge_zero_pfn && pfn - huge_zero_pfn < 512)))
			return MM_PAGE_ZERO;
		return (e & PM_FILE) ? MM_PAGE_FILE : MM_PAGE_ANON;
	}
	if (e & PM_GUARD)
		return MM_PAGE_GUARD;
	return MM_PAGE_NONE;
}

#define PREAD_CHUNK 4096
static uint64_t pbuf[PREAD_CHUNK];

/* A cursor that yields runs of equal page states over [lo, hi), in order. */
typedef struct pcursor {
	bool scan;
	uint64_t pos, hi;
	/* scan */
	struct k_page_region *reg;
	size_t nreg, ireg;
	uint64_t scanned_to;
	/* pread */
	uint64_t plo, phi; /* pbuf holds [plo, phi) */
	bool failed;
} pcursor;

#define NREG 8192
static struct k_page_region regbuf[NREG];

static void pc_begin(pcursor *c, uint64_t lo, uint64_t hi, bool scan)
{
	memset(c, 0, sizeof(*c));
	c->scan = scan;
	c->pos = lo;
	c->hi = hi;
	c->reg = regbuf;
	c->scanned_to = lo;
}

/* Fills pbuf from pagemap for [at, ...). */
static void pread_fill(pcursor *c, uint64_t at, uint64_t hi)
{
	uint64_t n = (hi - at) / K_PAGE;
	if (n > PREAD_CHUNK)
		n = PREAD_CHUNK;
	ssize_t r = pread(pagemap_fd, pbuf, n * 8, (off_t)(at / K_PAGE * 8));
	if (r < (ssize_t)(n * 8)) {
		c->failed = true;
		if (r < 0)
			r = 0;
		memset((char *)pbuf + r, 0, n * 8 - (size_t)r);
	}
	c->plo = at;
	c->phi = at + n * K_PAGE;
}

/* A run of equal states from pagemap entries, starting at c->pos. */
static uint64_t pread_run(pcursor *c, uint64_t limit, mm_page_state *st)
{
	if (c->pos < c->plo || c->pos >= c->phi)
		pread_fill(c, c->pos, limit);
	uint64_t i = (c->pos - c->plo) / K_PAGE;
	*st = classify_entry(pbuf[i]);
	uint64_t end = c->pos + K_PAGE;
	while (end < c->phi && end < limit && classify_entry(pbuf[++i]) == *st)
		end += K_PAGE;
	return end;
}

static void scan_fill(pcursor *c)
{
	struct k_pm_scan_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = c->pos;
	arg.end = c->hi;
	arg.vec = (uint64_t)(uintptr_t)c->reg;
	arg.vec_len = NREG;
	arg.return_mask =
		K_PAGE_IS_FILE | K_PAGE_IS_PRESENT | K_PAGE_IS_SWAPPED | K_PAGE_IS_PFNZERO | K_PAGE_IS_HUGE | K_PAGE_IS_GUARD;
	long n = ioctl(pagemap_fd, K_PAGEMAP_SCAN, &arg);
	if (n < 0 || arg.walk_end <= c->pos) {
		c->failed = n < 0;
		c->nreg = 0;
		c->scanned_to = c->hi; /* give up: the rest reads as none */
		return;
	}
	c->nreg = (size_t)n;
	c->ireg = 0;
	c->scanned_to = arg.walk_end;
}

/* The next run, from c->pos (which the caller may have advanced). Returns
 * false at the end. */
static bool pc_next(pcursor *c, uint64_t *start, uint64_t *end, mm_page_state *st)
{
	if (c->pos >= c->hi)
		return false;
	*start = c->pos;
	if (!c->scan) {
		*end = pread_run(c, c->hi, st);
		c->pos = *end;
		return true;
	}
	for (;;) {
		while (c->ireg < c->nreg && c->reg[c->ireg].end <= c->pos)
			c->ireg++;
		if (c->ireg < c->nreg)
			break;
		if (c->pos < c->scanned_to) {
			*end = c->scanned_to < c->hi ? c->scanned_to : c->hi;
			*st = MM_PAGE_NONE;
			c->pos = *end;
			return true;
		}
		scan_fill(c);
	}
	const struct k_page_region *r = &c->reg[c->ireg];
	if (c->pos < r->start) {
		*end = r->start;
		*st = MM_PAGE_NONE;
		c->pos = *end;
		return true;
	}
	uint64_t cat = r->categories;
	uint64_t rend = r->end < c->hi ? r->end : c->hi;
	if (cat & K_PAGE_IS_PRESENT) {
		if (cat & K_PAGE_IS_PFNZERO) {
			*st = MM_PAGE_ZERO;
		} else if (cat & K_PAGE_IS_HUGE) {
			/* a PMD mapping that is not the huge zero page: a THP. 6.18
			 * flags the huge zero PMD PFNZERO (checked live); kernels that
			 * test only the 4 KiB zero PFN there would not, so ask pagemap,
			 * whose PFN tells (only THP regions pay for this). */
			*end = pread_run(c, rend, st);
			c->pos = *end;
			return true;
		} else {
			*st = (cat & K_PAGE_IS_FILE) ? MM_PAGE_FILE : MM_PAGE_ANON;
		}
	} else if (cat & K_PAGE_IS_GUARD) {
		*st = MM_PAGE_GUARD;
	} else {
		*st = MM_PAGE_NONE;
	}
	*end = rend;
	c->pos = rend;
	return true;
}

/* ---- VMAs from /proc/self/{maps,smaps} ------------------------------------------------------ */

typedef struct kvma {
	uint64_t start, end;
	uint64_t dev, ino;
	int file; /* declared file index, -1 */
	char range[40];
	char perms[8];
	char off[24];
	char flags[200];
	uint64_t offset; /* off, parsed */
} kvma;

#define MAX_VMAS 70000
static kvma vmas[MAX_VMAS];
static size_t n_vmas;
static char rbuf[(1 << 16) + 4096];

/* A text field of a maps line, cut to cap - 1 characters. */
static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* One line; returns false when the listing is past the arena. */
static bool vma_line(char *line, bool *in_vma, bool *overflow)
{
	char c = line[0];
	tr_maps_entry e;
	if (((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
		if (!tr_maps_parse(line, &e))
			return true;
		*in_vma = false;
		if (e.start >= k_arena_end)
			return false;
		if (e.end <= k_arena_base)
			return true;
		if (n_vmas == MAX_VMAS) {
			*overflow = true;
			return false;
		}
		kvma *v = &vmas[n_vmas++];
		v->start = e.start;
		v->end = e.end;
		copy_field(v->range, sizeof(v->range), line, e.range_len);
		copy_field(v->perms, sizeof(v->perms), e.perms, e.perms_len);
		copy_field(v->off, sizeof(v->off), e.offset, e.offset_len);
		v->offset = e.off;
		v->ino = e.inode;
		v->dev = makedev(e.dev_major, e.dev_minor);
		v->file = v->ino ? files_find_inode(v->dev, v->ino) : -1;
		v->flags[0] = '\0';
		*in_vma = true;
		return true;
	}
	if (c == 'V' && *in_vma && strncmp(line, "VmFlags:", 8) == 0) {
		const char *p = line + 8;
		while (*p == ' ')
			p++;
		kvma *v = &vmas[n_vmas - 1];
		size_t n = strlen(p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\n'))
			n--;
		if (n >= sizeof(v->flags))
			n = sizeof(v->flags) - 1;
		memcpy(v->flags, p, n);
		v->flags[n] = '\0';
	}
	return true;
}

/* MMREF_KERNEL_PROC_COPY: the whole /proc file copied into a memfd, from
 * which one read returns up to a whole chunk, as some implementations' /proc
 * files do (the kernel's seq_file answers a page at a time). The parser must
 * not care. -1 on failure. */
static int proc_copy(int src)
{
	if (ftruncate(proc_copy_fd, 0) != 0)
		return -1;
	off_t pos = 0;
	for (;;) {
		ssize_t r = pread(src, rbuf, 1 << 16, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return proc_copy_fd;
		if (pwrite(proc_copy_fd, rbuf, (size_t)r, pos) != r)
			return -1;
		pos += r;
	}
}

/* The VmFlags cache of the windowed state: vmas[] as the last smaps read
 * left it holds every arena VMA with its VmFlags (vmas_from_smaps). The
 * operations since then note the ranges whose VMAs they may have changed
 * (observe_note_op); a VMA that PROCMAP_QUERY still finds with the cached
 * range, permissions, offset and file, outside those ranges, has the cached
 * VmFlags. */
static bool vmas_from_smaps;
#define MAX_DIRTY 64
static struct krange {
	uint64_t lo, hi;
} dirty[MAX_DIRTY];
static size_t n_dirty;
static bool all_dirty = true;

static bool read_vmas_(bool smaps, char *why, size_t whylen);

/* Reads the arena's VMAs from maps or smaps, stopping past the arena. */
static bool read_vmas(bool smaps, char *why, size_t whylen)
{
	bool ok = read_vmas_(smaps, why, whylen);
	vmas_from_smaps = ok && smaps;
	all_dirty = !vmas_from_smaps;
	n_dirty = 0;
	return ok;
}

static bool read_vmas_(bool smaps, char *why, size_t whylen)
{
	int fd = smaps ? smaps_fd : maps_fd;
	if (proc_copy_fd >= 0 && (fd = proc_copy(fd)) < 0) {
		snprintf(why, whylen, "internal: copying /proc/self/%s: %s", smaps ? "smaps" : "maps", strerror(errno));
		return false;
	}
	const size_t chunk = 1 << 16;
	size_t have = 0;
	off_t pos = 0;
	bool in_vma = false, overflow = false, more = true;
	n_vmas = 0;
	while (more) {
		ssize_t r = pread(fd, rbuf + have, chunk, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "internal: reading /proc/self/%s: %s", smaps ? "smaps" : "maps", strerror(errno));
			return false;
		}
		pos += r;
		have += (size_t)r;
		bool eof = r == 0;
		size_t done = 0;
		for (;;) {
			char *nl = memchr(rbuf + done, '\n', have - done);
			if (!nl) {
				if (eof && done < have) { /* a last line without newline */
					rbuf[have] = '\0';
					vma_line(rbuf + done, &in_vma, &overflow);
					done = have;
				}
				break;
			}
			*nl = '\0';
			if (!vma_line(rbuf + done, &in_vma, &overflow)) {
				more = false;
				break;
			}
			done = (size_t)(nl - rbuf) + 1;
		}
		if (eof)
			more = false;
		if (!more) /* past the arena or at the end: what is left is not needed */
			break;
		memmove(rbuf, rbuf + done, have - done);
		have -= done;
		/* The unfinished last line of the chunk: more than 4096 bytes
		 * without a newline is longer than any /proc line. (Whole lines
		 * left over after the listing passed the arena are not that: a read
		 * may return the whole file at once.) */
		if (have > 4096) {
			snprintf(why, whylen, "internal: overlong line in /proc/self/%s", smaps ? "smaps" : "maps");
			return false;
		}
	}
	if (overflow) {
		snprintf(why, whylen, "internal: more than %d VMAs in the arena", MAX_VMAS);
		return false;
	}
	return true;
}

/* ---- rendering ------------------------------------------------------------------------------ */

#define SHM_HASH (1u << 17)
static uint64_t shm_key[SHM_HASH];
static uint32_t shm_no[SHM_HASH], shm_gen[SHM_HASH];
static uint32_t gen;
static uint32_t shm_next;

static void shm_reset(void)
{
	gen++;
	shm_next = 1;
}

static uint32_t shm_number(uint64_t ino)
{
	uint32_t h = (uint32_t)((ino * 0x9e3779b97f4a7c15ull) >> 47) & (SHM_HASH - 1);
	while (shm_gen[h] == gen && shm_key[h] != ino)
		h = (h + 1) & (SHM_HASH - 1);
	if (shm_gen[h] != gen) {
		shm_gen[h] = gen;
		shm_key[h] = ino;
		shm_no[h] = shm_next++;
	}
	return shm_no[h];
}

static void out_maps_part(const trace *t, const kvma *v)
{
	out_str(v->range);
	out_chr(' ');
	out_str(v->perms);
	out_chr(' ');
	out_str(v->off);
	out_chr(' ');
	if (v->ino == 0) {
		out_str("anon");
	} else if (v->file >= 0 && t && (guint)v->file < t->files->len) {
		out_str("file:");
		out_str(g_array_index(t->files, tr_file, v->file).name);
	} else {
		out_str("shmem:");
		out_dec(shm_number(v->ino));
	}
}

static const char page_letter[] = {'n', 'z', 'a', 'f', 'g'};
static const char *const page_name[] = {"none", "zero", "anon", "file", "guard"};

/* The RLE pages of every VMA (state), using one cursor over the whole span. */
static bool out_state(const trace *t, bool scan, char *why, size_t whylen)
{
	pcursor c;
	memset(&c, 0, sizeof(c));
	if (n_vmas && !k_no_pagemap)
		pc_begin(&c, vmas[0].start, vmas[n_vmas - 1].end, scan);
	shm_reset();
	for (size_t i = 0; i < n_vmas; i++) {
		const kvma *v = &vmas[i];
		out_str("| ");
		out_maps_part(t, v);
		if (v->flags[0]) {
			out_chr(' ');
			out_str(v->flags);
		}
		out_str(" :");
		if (v->end > v->start)
			out_chr(' ');
		if (k_no_pagemap) { /* unobservable: '?' for every page, never 'n' */
			out_chr('?');
			out_dec((v->end - v->start) / K_PAGE);
			out_chr('\n');
			continue;
		}
		if (c.pos < v->start) {
			c.pos = v->start; /* skip the gap */
		}
		mm_page_state cur = MM_PAGE_NONE;
		uint64_t count = 0, s, e;
		mm_page_state st;
		while (c.pos < v->end && pc_next(&c, &s, &e, &st)) {
			if (e > v->end) {
				e = v->end;
				c.pos = v->end;
			}
			uint64_t n = (e - s) / K_PAGE;
			if (count && st == cur) {
				count += n;
			} else {
				if (count) {
					out_chr(page_letter[cur]);
					out_dec(count);
				}
				cur = st;
				count = n;
			}
		}
		if (count) {
			out_chr(page_letter[cur]);
			out_dec(count);
		}
		out_chr('\n');
	}
	if (n_vmas && c.failed) {
		snprintf(why, whylen, "internal: reading the page states failed");
		return false;
	}
	return true;
}

static void out_page_addr(const trace *t, uint64_t a)
{
	if (t && a >= t->arena_base && a - t->arena_base < t->arena_size) {
		out_str("+0x");
		out_hex(a - t->arena_base);
	} else {
		out_str("0x");
		out_hex(a);
	}
}

/* A second rendering of the state into memory, with the other method, for
 * MMREF_KERNEL_CROSSCHECK. Compares page states VMA by VMA. */
static bool crosscheck_pages(char *why, size_t whylen)
{
	for (size_t i = 0; i < n_vmas; i++) {
		pcursor a, b;
		pc_begin(&a, vmas[i].start, vmas[i].end, true);
		pc_begin(&b, vmas[i].start, vmas[i].end, false);
		uint64_t sa = 0, ea = 0, sb = 0, eb = 0;
		mm_page_state ta = MM_PAGE_NONE, tb = MM_PAGE_NONE;
		for (uint64_t p = vmas[i].start; p < vmas[i].end; p += K_PAGE) {
			while (ea <= p && pc_next(&a, &sa, &ea, &ta)) {
			}
			while (eb <= p && pc_next(&b, &sb, &eb, &tb)) {
			}
			if (ta != tb) {
				uint64_t e = pagemap_entry(p);
				snprintf(why, whylen,
				         "internal: PAGEMAP_SCAN says %s, pagemap says %s at 0x%llx (entry 0x%llx, kpageflags "
				         "0x%llx)",
				         page_name[ta], page_name[tb], (unsigned long long)p, (unsigned long long)e,
				         (unsigned long long)((e & PM_PRESENT) ? kpageflags(e & PM_PFN_MASK) : 0));
				return false;
			}
		}
	}
	return true;
}

bool observe(const trace *t, const tr_stmt *s, char *why, size_t whylen)
{
	switch (s->kind) {
	case TR_MAPS:
		if (!read_vmas(false, why, whylen))
			return false;
		shm_reset();
		for (size_t i = 0; i < n_vmas; i++) {
			out_str("| ");
			out_maps_part(t, &vmas[i]);
			out_chr('\n');
		}
		return true;
	case TR_SMAPS:
		if (!read_vmas(true, why, whylen))
			return false;
		for (size_t i = 0; i < n_vmas; i++) {
			out_str("| ");
			out_str(vmas[i].range);
			if (vmas[i].flags[0]) {
				out_chr(' ');
				out_str(vmas[i].flags);
			}
			out_chr('\n');
		}
		return true;
	case TR_STATE:
		if (!arena_own_memory_intact(why, whylen))
			return false;
		if (!read_vmas(true, why, whylen))
			return false;
		if (crosscheck && !crosscheck_pages(why, whylen))
			return false;
		return out_state(t, use_scan, why, whylen);
	case TR_PAGES: {
		uint64_t lo = s->addr & ~(K_PAGE - 1);
		uint64_t hi = s->addr + s->len;
		hi = hi > UINT64_MAX - (K_PAGE - 1) ? UINT64_MAX & ~(K_PAGE - 1) : (hi + K_PAGE - 1) & ~(K_PAGE - 1);
		if (!arena_contains(lo, hi - lo)) {
			snprintf(why, whylen, "range outside the arena");
			return false;
		}
		if (k_no_pagemap) {
			for (uint64_t a = lo; a < hi; a += K_PAGE) {
				out_str("| ");
				out_page_addr(t, a);
				out_str(" ?\n");
			}
			return true;
		}
		pcursor c;
		pc_begin(&c, lo, hi, use_scan);
		uint64_t rs, re;
		mm_page_state st;
		while (pc_next(&c, &rs, &re, &st)) {
			for (uint64_t a = rs; a < re; a += K_PAGE) {
				out_str("| ");
				out_page_addr(t, a);
				out_chr(' ');
				out_str(page_name[st]);
				out_chr('\n');
			}
		}
		if (c.failed) {
			snprintf(why, whylen, "internal: reading the page states failed");
			return false;
		}
		return true;
	}
	default:
		snprintf(why, whylen, "internal: not an observation");
		return false;
	}
}

/* ---- the windowed state: `state LO-HI ...` (docs/exec-protocol.md) ----------------------- */

static void mark_dirty(uint64_t addr, uint64_t len)
{
	if (all_dirty)
		return;
	/* a page on each side: the neighbours a merge or split changes */
	uint64_t lo = addr & ~(K_PAGE - 1), hi;
	lo = lo >= K_PAGE ? lo - K_PAGE : 0;
	if (__builtin_add_overflow(addr, len, &hi) || __builtin_add_overflow(hi, 2 * K_PAGE, &hi) ||
	    n_dirty == MAX_DIRTY) {
		all_dirty = true;
		return;
	}
	dirty[n_dirty].lo = lo;
	dirty[n_dirty].hi = hi;
	n_dirty++;
}

/* Advice that changes page states only, never a VMA (mm/madvise.c:
 * madvise_need_mmap_write() false and no madvise_update_vma()). */
static bool page_only_advice(int64_t a)
{
	switch (a) {
	case MM_MADV_WILLNEED:
	case MM_MADV_DONTNEED:
	case MM_MADV_DONTNEED_LOCKED:
	case MM_MADV_FREE:
	case MM_MADV_COLD:
	case MM_MADV_PAGEOUT:
	case MM_MADV_POPULATE_READ:
	case MM_MADV_POPULATE_WRITE:
		return true;
	default:
		return false;
	}
}

void observe_note_op(const tr_stmt *s, const tr_result *res)
{
	bool value = res && res->kind == TR_RES_VALUE;
	switch (s->kind) {
	case TR_TOUCH: /* a fault may grow a stack VMA: its new range tells */
		return;
	case TR_MADVISE:
		if (!page_only_advice(s->advice))
			mark_dirty(s->addr, s->len);
		return;
	case TR_MMAP:
		mark_dirty(s->addr, s->len);
		if (value)
			mark_dirty(res->value, s->len);
		return;
	case TR_MREMAP:
		mark_dirty(s->addr, s->len > s->new_len ? s->len : s->new_len);
		if (s->has_new_addr)
			mark_dirty(s->new_addr, s->new_len);
		if (value)
			mark_dirty(res->value, s->new_len);
		return;
	case TR_MUNMAP:
	case TR_MPROTECT:
	case TR_MLOCK:
	case TR_MUNLOCK:
	case TR_MSEAL:
		mark_dirty(s->addr, s->len);
		return;
	default:
		all_dirty = true;
		return;
	}
}

/* In a child just forked (main.c, `fork`): /proc/self files opened before
 * the fork still show the parent (proc_mem_open took its mm), so they are
 * opened again; and every VmFlags read so far is the parent's (dup_mmap
 * clears VM_LOCKED in the child), so the next state reads smaps afresh. */
bool observe_after_fork(char *why, size_t whylen)
{
	int *fds[3] = {&pagemap_fd, &smaps_fd, &maps_fd};
	const char *names[3] = {"/proc/self/pagemap", "/proc/self/smaps", "/proc/self/maps"};
	for (int i = 0; i < 3; i++) {
		if (*fds[i] < 0)
			continue;
		close(*fds[i]);
		*fds[i] = open(names[i], O_RDONLY | O_CLOEXEC);
		if (*fds[i] < 0) {
			snprintf(why, whylen, "cannot open %s in the child: %s", names[i], strerror(errno));
			return false;
		}
	}
	all_dirty = true;
	return true;
}

static int procmap_ok = 1; /* 0: the kernel has no PROCMAP_QUERY (before 6.11) */
#define MAX_WINDOW 4096
static struct krange win[MAX_WINDOW];
static size_t win_vma[MAX_VMAS];

static const kvma *cached_vma(uint64_t start)
{
	size_t lo = 0, hi = n_vmas;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vmas[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n_vmas && vmas[lo].start == start ? &vmas[lo] : NULL;
}

static bool is_dirty(uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < n_dirty; i++)
		if (dirty[i].lo < hi && lo < dirty[i].hi)
			return true;
	return false;
}

/* The arena VMAs within a page of the window, as indices into vmas[], from
 * the cache when PROCMAP_QUERY confirms every one of them; false when the
 * cache cannot tell (the caller reads smaps). */
static bool window_from_cache(size_t nr, size_t *nv)
{
	if (!vmas_from_smaps || all_dirty || procmap_ok == 0)
		return false;
	*nv = 0;
	uint64_t next = k_arena_base;
	for (size_t i = 0; i < nr; i++) {
		uint64_t lo = win[i].lo >= k_arena_base + K_PAGE ? win[i].lo - K_PAGE : k_arena_base;
		uint64_t hi = win[i].hi + K_PAGE < k_arena_end ? win[i].hi + K_PAGE : k_arena_end;
		if (lo < next)
			lo = next;
		while (lo < hi) {
			struct k_procmap_query q;
			memset(&q, 0, sizeof(q));
			q.size = sizeof(q);
			q.query_flags = K_PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
			q.query_addr = lo;
			if (ioctl(maps_fd, K_PROCMAP_QUERY, &q) != 0) {
				if (errno == ENOENT)
					break;
				if (errno == ENOTTY || errno == EINVAL)
					procmap_ok = 0;
				return false;
			}
			if (q.vma_start >= hi)
				break;
			const kvma *v = cached_vma(q.vma_start);
			char perms[5] = {q.vma_flags & K_PROCMAP_QUERY_VMA_READABLE ? 'r' : '-',
			                 q.vma_flags & K_PROCMAP_QUERY_VMA_WRITABLE ? 'w' : '-',
			                 q.vma_flags & K_PROCMAP_QUERY_VMA_EXECUTABLE ? 'x' : '-',
			                 q.vma_flags & K_PROCMAP_QUERY_VMA_SHARED ? 's' : 'p', '\0'};
			if (!v || v->end != q.vma_end || strcmp(v->perms, perms) != 0 || v->offset != q.vma_offset ||
			    v->ino != q.inode || v->dev != makedev(q.dev_major, q.dev_minor) || is_dirty(v->start, v->end))
				return false;
			if (v->end > k_arena_base && v->start < k_arena_end)
				win_vma[(*nv)++] = (size_t)(v - vmas);
			lo = q.vma_end;
			next = q.vma_end;
		}
		if (hi > next)
			next = hi;
	}
	procmap_ok = 1;
	return true;
}

static void out_run(char letter, uint64_t pages)
{
	if (pages) {
		out_chr(letter);
		out_dec(pages);
	}
}

static bool out_window_vma(const trace *t, const kvma *v, size_t nr)
{
	out_str("| ");
	out_maps_part(t, v);
	if (v->flags[0]) {
		out_chr(' ');
		out_str(v->flags);
	}
	out_str(" : ");
	/* The pages of the hull of the VMA's parts inside the window (as the
	 * harness's snap_window_hull), '?' around it. */
	uint64_t plo = UINT64_MAX, phi = 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t a = win[i].lo > v->start ? win[i].lo : v->start;
		uint64_t b = win[i].hi < v->end ? win[i].hi : v->end;
		if (a < b) {
			plo = a < plo ? a : plo;
			phi = b > phi ? b : phi;
		}
	}
	if (plo >= phi || k_no_pagemap) {
		out_run('?', (v->end - v->start) / K_PAGE);
		out_chr('\n');
		return true;
	}
	out_run('?', (plo - v->start) / K_PAGE);
	pcursor c;
	pc_begin(&c, plo, phi, use_scan);
	mm_page_state cur = MM_PAGE_NONE, st;
	uint64_t count = 0, rs, re;
	while (pc_next(&c, &rs, &re, &st)) {
		uint64_t n = (re - rs) / K_PAGE;
		if (count && st == cur) {
			count += n;
		} else {
			out_run(page_letter[cur], count);
			cur = st;
			count = n;
		}
	}
	out_run(page_letter[cur], count);
	out_run('?', (v->end - phi) / K_PAGE);
	out_chr('\n');
	return !c.failed;
}

static size_t n_win;

bool observe_window_parse(const char *args, char *why, size_t whylen)
{
	size_t nr = 0;
	n_win = 0;
	const char *p = args;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		if (nr == MAX_WINDOW) {
			snprintf(why, whylen, "state: more than %d ranges", MAX_WINDOW);
			return false;
		}
		const char *q = p;
		uint64_t lo = tr_maps_hex(&q), hi;
		if (q == p || *q != '-') {
			snprintf(why, whylen, "state: expected LO-HI (hex), not '%.40s'", p);
			return false;
		}
		const char *r = ++q;
		hi = tr_maps_hex(&q);
		if (q == r || (*q && *q != ' ' && *q != '\t') || lo >= hi || ((lo | hi) & (K_PAGE - 1)) ||
		    (nr && lo < win[nr - 1].hi)) {
			snprintf(why, whylen, "state: bad range '%.40s' (page-aligned, sorted, disjoint)", p);
			return false;
		}
		win[nr].lo = lo;
		win[nr].hi = hi;
		nr++;
		p = q;
	}
	n_win = nr;
	return true;
}

bool observe_state_window(const trace *t, char *why, size_t whylen)
{
	size_t nr = n_win;
	if (!arena_own_memory_intact(why, whylen))
		return false;
	size_t nv = 0;
	if (!window_from_cache(nr, &nv)) {
		nv = 0;
		if (!read_vmas(true, why, whylen))
			return false;
		for (size_t i = 0; i < n_vmas; i++) {
			bool in = false;
			for (size_t k = 0; k < nr && !in; k++)
				in = vmas[i].start < win[k].hi + K_PAGE && vmas[i].end + K_PAGE > win[k].lo;
			if (in)
				win_vma[nv++] = i;
		}
	}
	shm_reset();
	bool ok = true;
	for (size_t i = 0; i < nv; i++)
		ok = out_window_vma(t, &vmas[win_vma[i]], nr) && ok;
	if (!ok) {
		snprintf(why, whylen, "internal: reading the page states failed");
		return false;
	}
	return true;
}

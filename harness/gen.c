/* The random trace generator. Its own PRNG (xoshiro256**, seeded through
 * splitmix64) so that a seed names the same trace everywhere, whatever the
 * glib version. */
#include "gen.h"

#include <string.h>

#include <mmref/x86.h>

#include "target.h"

#define PAGE MM_PAGE_SIZE
#define WINDOW_PAGES 512 /* the hot windows at both ends of the arena */
/* A smaller arena than the default keeps snapshots (every page of every VMA)
 * cheap even when a huge length maps most of it. */
#define GEN_ARENA_SIZE (64ull << 20)

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); n > 0. */
static uint64_t below(rng *r, uint64_t n) { return n ? next(r) % n : 0; }
/* True with probability pct percent. */
static bool chance(rng *r, unsigned pct) { return below(r, 100) < pct; }

typedef struct region {
	uint64_t start, end; /* arena-relative */
} region;

typedef struct gen {
	rng r;
	uint64_t size; /* arena size */
	GArray *regions;
	int nfiles;
	uint64_t file_size[2];
	GString *out;
	bool values;      /* gen_trace_text_values */
	uint64_t nwrites; /* values: the writes so far (each value distinct) */
	/* fork (gen_trace_text_opts): the processes the trace made, kept as a
	 * fork's result gives them (fork numbers every child in turn; at most
	 * TR_MAX_PROCS live, more is EAGAIN and numbers nothing) */
	bool fork;
	uint32_t live[TR_MAX_PROCS];
	unsigned nlive;
	uint32_t next_proc, cur_proc;
	bool memory_failure; /* the targets have CONFIG_MEMORY_FAILURE: no hwpoison/soft_offline */
	bool uffd;           /* the process's userfaultfd: uffd register/unregister/copy/zeropage/continue/wake/wp */
	/* a `uffd wp … on` was emitted: no guard_install after it. Linux 6.18
	 * loops in madvise_guard_install() over a shmem uffd-wp marker (the
	 * zap it retries with keeps the marker) until the process is killed
	 * (docs/kernel-target.md "userfaultfd"), so a live target would hang. */
	bool wp_on;
} gen;

static void remember(gen *g, uint64_t start, uint64_t len)
{
	if (!len)
		return;
	region rg = {start & ~(PAGE - 1), MIN(g->size, (start + len + PAGE - 1) & ~(PAGE - 1))};
	if (g->regions->len >= 64) /* keep recent ones */
		g_array_remove_index(g->regions, (guint)below(&g->r, g->regions->len));
	g_array_append_val(g->regions, rg);
}

/* An arena-relative address, < size. */
static uint64_t pick_addr(gen *g)
{
	rng *r = &g->r;
	uint64_t off;
	unsigned roll = (unsigned)below(r, 100);
	if (roll < 60 && g->regions->len) {
		const region *rg = &g_array_index(g->regions, region, below(r, g->regions->len));
		uint64_t pages = (rg->end - rg->start) / PAGE;
		switch (below(r, 3)) {
		case 0: /* around the start */
			off = rg->start + below(r, 4) * PAGE;
			if (chance(r, 50) && off >= 3 * PAGE)
				off -= below(r, 4) * PAGE;
			break;
		case 1: /* around the end */
			off = rg->end - PAGE * below(r, 3);
			off += below(r, 3) * PAGE;
			break;
		default: /* inside */
			off = rg->start + below(r, pages ? pages : 1) * PAGE;
			break;
		}
	} else if (roll < 85) {
		off = below(r, WINDOW_PAGES) * PAGE;
	} else {
		off = g->size - (1 + below(r, WINDOW_PAGES)) * PAGE;
	}
	if (chance(r, 6)) /* huge-page-aligned layouts */
		off = below(r, g->size / MM_PMD_SIZE) * MM_PMD_SIZE;
	if (chance(r, 4))
		off += 1 + below(r, PAGE - 1);
	if (off >= g->size)
		off = g->size - PAGE;
	return off;
}

/* A length for a range at off; off + len <= size. */
static uint64_t pick_len(gen *g, uint64_t off)
{
	rng *r = &g->r;
	uint64_t len;
	unsigned roll = (unsigned)below(r, 100);
	if (roll < 75)
		len = (1 + below(r, 8)) * PAGE;
	else if (roll < 83)
		len = 0;
	else if (roll < 90)
		len = below(r, 8) * PAGE + 1 + below(r, PAGE - 1);
	else if (roll < 95)
		len = chance(r, 50) ? MM_PMD_SIZE : (16 + below(r, 512)) * PAGE;
	else
		len = g->size - off; /* the rest of the arena */
	return MIN(len, g->size - off);
}

static void put_addr(gen *g, uint64_t off) { g_string_append_printf(g->out, " +0x%" G_GINT64_MODIFIER "x", off); }

static void put_num(gen *g, uint64_t v)
{
	if (v && v % 1024 == 0 && v / 1024 < 65536)
		g_string_append_printf(g->out, " %" G_GINT64_MODIFIER "uK", v / 1024);
	else
		g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x", v);
}

static void put_prot(gen *g)
{
	rng *r = &g->r;
	uint64_t prot = below(r, 8);
	if (chance(r, 2)) {
		static const uint64_t odd[] = {MM_PROT_SEM, MM_PROT_GROWSDOWN, MM_PROT_GROWSUP, 0x10};
		g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x", prot | odd[below(r, G_N_ELEMENTS(odd))]);
		return;
	}
	if (chance(r, 50))
		prot = chance(r, 70) ? 3 : 1; /* rw- and r-- most often */
	g_string_append_printf(g->out, " %c%c%c", prot & 1 ? 'r' : '-', prot & 2 ? 'w' : '-', prot & 4 ? 'x' : '-');
}

static void gen_mmap(gen *g)
{
	rng *r = &g->r;
	bool hint = chance(r, 80);
	uint64_t off = hint ? pick_addr(g) : 0;
	uint64_t len = hint ? pick_len(g, off) : (1 + below(r, 8)) * PAGE;
	if (!hint && chance(r, 5))
		len = chance(r, 50) ? 0 : MM_PMD_SIZE;
	bool file = g->nfiles && chance(r, 20);
	g_string_append(g->out, "mmap");
	if (hint)
		put_addr(g, off);
	else
		g_string_append(g->out, " 0");
	put_num(g, len);
	put_prot(g);

	GString *fl = g_string_new(NULL);
	unsigned t = (unsigned)below(r, 100);
	g_string_append(fl, t < 70 ? "private" : t < 86 ? "shared" : t < 92 ? "shared_validate" : t < 97 ? "droppable" : "0");
	if (!file || chance(r, 5))
		g_string_append(fl, chance(r, 50) ? ",anonymous" : ",anon");
	bool fixed = false;
	if (hint) {
		unsigned f = (unsigned)below(r, 100);
		if (f < 45) {
			g_string_append(fl, ",fixed");
			fixed = true;
		} else if (f < 75) {
			g_string_append(fl, ",fixed_noreplace");
			fixed = true;
		}
	}
	static const struct {
		const char *name;
		unsigned pct;
	} extra[] = {
		{"populate", 8}, {"locked", 4},    {"noreserve", 5},  {"growsdown", 3},     {"stack", 3},
		{"hugetlb", 1},  {"sync", 1},      {"nonblock", 1},   {"uninitialized", 1}, {"denywrite", 1},
		{"executable", 1}, {"0x200000", 1}, {"0x800000", 1},
	};
	bool noreserve = false;
	for (size_t i = 0; i < G_N_ELEMENTS(extra); i++) {
		if (!chance(r, extra[i].pct))
			continue;
		/* hugetlb with noreserve would make a hugetlb VMA on the
		 * kernel, which the model does not model: never both. */
		if (!strcmp(extra[i].name, "hugetlb") && noreserve)
			continue;
		noreserve |= !strcmp(extra[i].name, "noreserve");
		g_string_append_printf(fl, ",%s", extra[i].name);
	}
	if (fixed && chance(r, 1))
		g_string_append(fl, ",32bit");
	g_string_append_printf(g->out, " %s", fl->str);
	g_string_free(fl, TRUE);

	if (file) {
		int f = (int)below(r, (uint64_t)g->nfiles);
		g_string_append_printf(g->out, " file=f%d", f + 1);
		uint64_t pages = g->file_size[f] / PAGE + 2;
		uint64_t foff = below(r, pages) * PAGE;
		if (chance(r, 3))
			foff += 1 + below(r, PAGE - 1);
		if (foff)
			g_string_append_printf(g->out, " off=0x%" G_GINT64_MODIFIER "x", foff);
	}
	if (hint && fixed)
		remember(g, off, len);
	else if (len && len <= g->size)
		remember(g, g->size - ((len + PAGE - 1) & ~(PAGE - 1)), len);
}

static void gen_range_op(gen *g, const char *op)
{
	uint64_t off = pick_addr(g);
	g_string_append(g->out, op);
	put_addr(g, off);
	put_num(g, pick_len(g, off));
}

static void gen_madvise(gen *g)
{
	static const char *const advice[] = {
		"dontneed", "dontneed", "free",        "guard_install", "guard_install", "guard_remove",
		"populate_read", "populate_write", "willneed", "normal", "random", "sequential",
		"dontfork", "dofork", "wipeonfork", "keeponfork", "hugepage", "nohugepage",
		"mergeable", "unmergeable", "cold", "pageout", "dontdump", "dodump",
		"remove", "dontneed_locked", "collapse",
		/* EINVAL without CONFIG_MEMORY_FAILURE (docs/divergences.md #13);
		 * left out where the targets have it (profile memory_failure=on:
		 * the model does not implement them there) */
		"hwpoison", "soft_offline",
	};
	rng *r = &g->r;
	gen_range_op(g, "madvise");
	uint64_t a;
	if (chance(r, 3)) {
		a = below(r, 200);
		if (g->memory_failure && (a == MM_MADV_HWPOISON || a == MM_MADV_SOFT_OFFLINE))
			a = MM_MADV_DONTNEED;
		/* fork: no THP (hugepage 14, collapse 25): left to the THP traces */
		if (g->fork && (a == MM_MADV_HUGEPAGE || a == MM_MADV_COLLAPSE))
			a = MM_MADV_DONTFORK;
		if (g->wp_on && a == MM_MADV_GUARD_INSTALL)
			a = MM_MADV_GUARD_REMOVE;
		g_string_append_printf(g->out, " %" G_GINT64_MODIFIER "u", a);
	} else {
		const char *name = advice[below(r, G_N_ELEMENTS(advice) - (g->memory_failure ? 2 : 0))];
		if (g->wp_on && strcmp(name, "guard_install") == 0)
			name = "guard_remove";
		if (g->fork && (strcmp(name, "hugepage") == 0 || strcmp(name, "collapse") == 0))
			name = chance(r, 50) ? "wipeonfork" : "dontfork";
		g_string_append_printf(g->out, " %s", name);
	}
}

/* fork: `fork`, `proc N` or `exit N`, N a live process mostly (sometimes
 * one that exited or never was: ESRCH). */
static void gen_process(gen *g)
{
	rng *r = &g->r;
	unsigned roll = (unsigned)below(r, 100);
	if (roll < 35) {
		g_string_append(g->out, "fork");
		if (g->nlive < TR_MAX_PROCS)
			g->live[g->nlive++] = g->next_proc++;
		return;
	}
	uint32_t n = g->live[below(r, g->nlive)];
	if (chance(r, 5))
		n = 1 + (uint32_t)below(r, g->next_proc + 1);
	if (roll < 85) {
		g_string_append_printf(g->out, "proc %u", n);
		for (unsigned i = 0; i < g->nlive; i++)
			if (g->live[i] == n)
				g->cur_proc = n;
		return;
	}
	if (n == 1 && g->nlive > 1)
		n = g->live[1 + below(r, g->nlive - 1)];
	g_string_append_printf(g->out, "exit %u", n);
	for (unsigned i = 1; i < g->nlive; i++)
		if (g->live[i] == n) {
			g->live[i] = g->live[--g->nlive];
			if (g->cur_proc == n)
				g->cur_proc = 1;
		}
}

static void gen_mremap(gen *g)
{
	rng *r = &g->r;
	uint64_t off = pick_addr(g);
	uint64_t old_len = pick_len(g, off);
	unsigned f = (unsigned)below(r, 100);
	uint64_t flags = f < 30 ? 0 : f < 65 ? 1 : f < 85 ? 3 : f < 92 ? 7 : f < 96 ? 5 : below(r, 16);
	bool new_addr = (flags & MM_MREMAP_FIXED) || chance(r, 3);
	uint64_t to = new_addr ? pick_addr(g) : off;
	uint64_t new_len = chance(r, 8) ? 0 : (1 + below(r, 16)) * PAGE;
	if (chance(r, 5))
		new_len += 1 + below(r, PAGE - 1);
	new_len = MIN(new_len, g->size - to);
	g_string_append(g->out, "mremap");
	put_addr(g, off);
	put_num(g, old_len);
	put_num(g, new_len);
	if (!flags) {
		g_string_append(g->out, " -");
	} else if (f >= 96) {
		g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x", flags);
	} else {
		g_string_append(g->out, " maymove");
		if (flags & MM_MREMAP_FIXED)
			g_string_append(g->out, ",fixed");
		if (flags & MM_MREMAP_DONTUNMAP)
			g_string_append(g->out, ",dontunmap");
	}
	if (new_addr)
		put_addr(g, to);
	remember(g, to, new_len);
}

/* values: `write OFF VALUE` (a value no other write of the trace stores,
 * unlike any file's contents) or `read OFF`, at the word holding off. */
static void put_data(gen *g, uint64_t off, bool write)
{
	g_string_append(g->out, write ? "write" : "read");
	put_addr(g, off & ~(uint64_t)7);
	if (write)
		g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x",
		                       (guint64)(0xc0de000000000000ull | ++g->nwrites << 24 | below(&g->r, 1u << 24)));
}

static void gen_touch(gen *g)
{
	rng *r = &g->r;
	uint64_t off;
	if (g->regions->len && chance(r, 80)) {
		const region *rg = &g_array_index(g->regions, region, below(r, g->regions->len));
		off = rg->start + below(r, rg->end - rg->start);
	} else {
		off = pick_addr(g);
	}
	if (off >= g->size)
		off = g->size - 1;
	unsigned a = (unsigned)below(r, 100);
	if (g->values && a < 80) { /* values: a store or a load of one word */
		put_data(g, off, a < 35);
		return;
	}
	g_string_append(g->out, "touch");
	put_addr(g, off);
	g_string_append(g->out, a < 50 ? " r" : a < 85 || g->values ? " w" : " x");
}

/* A range [off, off + len) over the 2 MiB block at h: the whole block, or a
 * part of it, or a part reaching into the next block. */
static void put_huge_range(gen *g, uint64_t h)
{
	rng *r = &g->r;
	uint64_t off = h, len = MM_PMD_SIZE;
	switch (below(r, 4)) {
	case 0:
		break; /* wholly */
	case 1: /* the head, partly */
		len = (1 + below(r, 511)) * PAGE;
		break;
	case 2: /* the tail, partly */
		off = h + (1 + below(r, 511)) * PAGE;
		len = h + MM_PMD_SIZE - off;
		break;
	default: /* across into the next block */
		off = h + (1 + below(r, 511)) * PAGE;
		len = MM_PMD_SIZE;
		break;
	}
	put_addr(g, off);
	put_num(g, MIN(len, g->size - off));
}

/* Huge pages, partly and wholly: a 2 MiB-aligned anonymous mapping of 4 MiB
 * (private: THPs at fault time; shared: shmem, huge only by MADV_COLLAPSE)
 * with MADV_HUGEPAGE, faulted, then operations over its
 * huge pages. Returns the statements written, at most `room`. */
static guint gen_thp(gen *g, guint room)
{
	static const char *const advice[] = {"free", "cold", "pageout", "dontneed", "collapse", "collapse",
	                                     "populate_write", "nohugepage", "guard_install", "dontneed_locked"};
	rng *r = &g->r;
	if (room < 4 || g->size < 4 * MM_PMD_SIZE)
		return 0;
	uint64_t blocks = g->size / MM_PMD_SIZE;
	uint64_t base = below(r, blocks - 1) * MM_PMD_SIZE;
	guint n = 0;
	g_string_append(g->out, "mmap");
	put_addr(g, base);
	/* Shared (shmem, huge page-cache folios by MADV_COLLAPSE: issue 15 case 4)
	 * in a quarter: their PMD mapping and what splits it
	 * (docs/divergences.md #32). */
	g_string_append_printf(g->out, " 4M rw- %s,anonymous,fixed%s\n", chance(r, 25) ? "shared" : "private",
	                       chance(r, 5) ? ",locked" : "");
	g_string_append(g->out, "madvise");
	put_addr(g, base);
	g_string_append(g->out, " 4M hugepage\n");
	n += 2;
	remember(g, base, 2 * MM_PMD_SIZE);
	for (int i = 0; i < 2 && n < room; i++, n++) {
		uint64_t at = base + below(r, 2) * MM_PMD_SIZE + below(r, 512) * PAGE;
		bool w = chance(r, 70);
		if (g->values) { /* a written subpage: what a split or collapse keeps */
			put_data(g, at + below(r, PAGE), w);
			g_string_append_c(g->out, '\n');
			continue;
		}
		g_string_append(g->out, "touch");
		put_addr(g, at);
		g_string_append(g->out, w ? " w\n" : " r\n");
	}
	while (n < room && chance(r, 75)) {
		uint64_t h = base + below(r, 2) * MM_PMD_SIZE;
		unsigned k = (unsigned)below(r, 100);
		if (k < 55) {
			g_string_append(g->out, "madvise");
			put_huge_range(g, h);
			const char *a = advice[below(r, G_N_ELEMENTS(advice))];
			if (g->wp_on && strcmp(a, "guard_install") == 0) /* see gen.wp_on */
				a = "dontneed";
			g_string_append_printf(g->out, " %s", a);
		} else if (k < 65) {
			g_string_append(g->out, "munmap");
			put_huge_range(g, h);
		} else if (k < 75) {
			g_string_append(g->out, "mprotect");
			put_huge_range(g, h);
			g_string_append(g->out, chance(r, 50) ? " r--" : " rw-");
		} else if (k < 85) {
			g_string_append(g->out, chance(r, 50) ? "mlock" : "munlock");
			put_huge_range(g, h);
		} else if (k < 95) {
			/* a move of huge pages, to a 2 MiB-aligned place or not */
			uint64_t to = below(r, blocks - 1) * MM_PMD_SIZE + (chance(r, 30) ? below(r, 512) * PAGE : 0);
			uint64_t len = chance(r, 50) ? MM_PMD_SIZE : (1 + below(r, 512)) * PAGE;
			len = MIN(len, g->size - to);
			g_string_append(g->out, "mremap");
			put_addr(g, h);
			put_num(g, len);
			put_num(g, len);
			g_string_append(g->out, chance(r, 30) ? " maymove,fixed,dontunmap" : " maymove,fixed");
			put_addr(g, to);
			remember(g, to, len);
		} else if (g->values) {
			put_data(g, h + below(r, MM_PMD_SIZE), chance(r, 50));
		} else {
			g_string_append(g->out, "touch");
			put_addr(g, h + below(r, 512) * PAGE);
			g_string_append(g->out, chance(r, 50) ? " w" : " r");
		}
		g_string_append_c(g->out, '\n');
		n++;
	}
	if (n < room && chance(r, 50)) {
		g_string_append(g->out, "pages");
		put_addr(g, base);
		g_string_append(g->out, " 4M\n");
		n++;
	}
	return n;
}

/* Half the time a range that is one VMA made, whole or a run of its pages
 * (so that registration and write protection meet pages that are there),
 * else one near the VMAs as for the other range operations. Returns whether
 * it took a VMA's range, which is then in *start and *len. */
static bool gen_uffd_range_op(gen *g, const char *op, uint64_t *start, uint64_t *len)
{
	rng *r = &g->r;
	if (!g->regions->len || chance(r, 50)) {
		gen_range_op(g, op);
		return false;
	}
	const region *rg = &g_array_index(g->regions, region, below(r, g->regions->len));
	uint64_t pages = (rg->end - rg->start) / PAGE, first = 0, n = pages;
	if (pages > 1 && chance(r, 40)) {
		first = below(r, pages);
		n = 1 + below(r, pages - first);
	}
	g_string_append(g->out, op);
	put_addr(g, rg->start + first * PAGE);
	put_num(g, n * PAGE);
	*start = rg->start + first * PAGE;
	*len = n * PAGE;
	return true;
}

/* A userfaultfd statement (docs/trace-format.md "userfaultfd"): ranges near
 * the VMAs made, mostly page-aligned and a few pages long for copy and
 * zeropage (mmref-kernel copies at most 2 MiB at once). */
static void gen_uffd_continue_wake(gen *g);

static void gen_uffd(gen *g)
{
	if (chance(&g->r, 20)) {
		gen_uffd_continue_wake(g);
		return;
	}
	static const char *const modes[] = {"missing", "missing", "missing", "wp", "wp", "wp", "minor", "minor",
	                                    "missing,wp", "missing,minor", "wp,minor", "missing,wp,minor"};
	rng *r = &g->r;
	unsigned k = (unsigned)below(r, 100);
	uint64_t start = 0, len = 0;
	if (k < 40) {
		bool whole = gen_uffd_range_op(g, "uffd register", &start, &len);
		if (chance(r, 4)) {
			g_string_append(g->out, chance(r, 50) ? " 0" : " 0x8");
			return;
		}
		const char *m = modes[below(r, G_N_ELEMENTS(modes))];
		g_string_append_printf(g->out, " %s", m);
		/* a range registered for wp is mostly protected at once, and
		 * often written to: the wp faults (up to three more statements:
		 * a page written before, so that anonymous memory has one to
		 * protect, then protected, then written again) */
		if (whole && strstr(m, "wp") && chance(r, 90)) {
			uint64_t page = start + below(r, len / PAGE) * PAGE;
			bool write = chance(r, 80);
			if (write) {
				g_string_append(g->out, "\ntouch");
				put_addr(g, page);
				g_string_append(g->out, " w");
			}
			g_string_append(g->out, "\nuffd wp");
			put_addr(g, start);
			put_num(g, len);
			g_string_append(g->out, " on");
			g->wp_on = true;
			if (write) {
				g_string_append(g->out, "\ntouch");
				put_addr(g, page);
				g_string_append(g->out, " w");
			}
		}
		return;
	}
	if (k < 50) {
		gen_range_op(g, "uffd unregister");
		return;
	}
	if (k < 65) {
		/* UFFDIO_WRITEPROTECT: mostly on (so that writes meet protected
		 * pages), some off, a few misuses (DONTWAKE with WP, unknown bits) */
		static const char *const wp_modes[] = {"on", "on", "on", "on", "on", "on", "off", "off", "off",
		                                       "off,dontwake", "on,dontwake", "4"};
		(void)gen_uffd_range_op(g, "uffd wp", &start, &len);
		const char *m = wp_modes[below(r, G_N_ELEMENTS(wp_modes))];
		g_string_append_printf(g->out, " %s", m);
		g->wp_on |= strcmp(m, "on") == 0;
		return;
	}
	uint64_t off = pick_addr(g);
	if (g->regions->len && chance(r, 60)) { /* inside a VMA made, where faults wait */
		const region *rg = &g_array_index(g->regions, region, below(r, g->regions->len));
		off = rg->start + below(r, (rg->end - rg->start) / PAGE) * PAGE;
	}
	len = (1 + below(r, chance(r, 80) ? 4 : 32)) * PAGE;
	if (chance(r, 3))
		len = below(r, 3) * (PAGE / 2);
	if (len > g->size - off)
		len = g->size - off;
	g_string_append(g->out, k < 85 ? "uffd copy" : "uffd zeropage");
	put_addr(g, off);
	put_num(g, len);
	if (k < 85)
		g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x",
		                       (guint64)(0xcafe000000000000ull | ++g->nwrites << 24 | below(r, 1u << 24)));
}

/* uffd continue (mostly) or uffd wake over a range like a copy's: in a VMA
 * made, a few pages, sometimes not page-aligned. */
static void gen_uffd_continue_wake(gen *g)
{
	rng *r = &g->r;
	uint64_t off = pick_addr(g);
	if (g->regions->len && chance(r, 70)) {
		const region *rg = &g_array_index(g->regions, region, below(r, g->regions->len));
		off = rg->start + below(r, (rg->end - rg->start) / PAGE) * PAGE;
	}
	uint64_t len = (1 + below(r, chance(r, 80) ? 4 : 32)) * PAGE;
	if (chance(r, 3))
		len = below(r, 3) * (PAGE / 2);
	if (chance(r, 2))
		off += PAGE / 2;
	if (off >= g->size)
		off = g->size - PAGE;
	if (len > g->size - off)
		len = g->size - off;
	bool cont = chance(r, 75);
	g_string_append(g->out, cont ? "uffd continue" : "uffd wake");
	put_addr(g, off);
	put_num(g, len);
	if (cont && chance(r, 20)) { /* a mode: DONTWAKE, WP, or an unknown bit (EINVAL) */
		unsigned m = (unsigned)below(r, 100);
		g_string_append(g->out, m < 40 ? " dontwake" : m < 80 ? " wp" : m < 90 ? " 0x4" : " dontwake,0x8");
		g->wp_on |= m >= 40 && m < 80; /* protected pages: a zap leaves markers (gen.wp_on) */
	}
}

/* A minor fault and the way out of it (UFFDIO_CONTINUE): a shmem mapping --
 * of a file or shared anonymous memory, shared or private -- whose pages
 * come into the page cache by touching them, lose their entries (DONTNEED),
 * are registered `minor` (sometimes with `missing`), and are then touched
 * (a minor fault for the cached ones), continued and touched again. Fills at
 * most `room` statements; 0 when it does not fit. */
static guint gen_uffd_minor(gen *g, guint room)
{
	rng *r = &g->r;
	if (room < 6)
		return 0;
	uint64_t pages = 1 + below(r, 8);
	bool file = g->nfiles && chance(r, 70);
	int f = file ? (int)below(r, (uint64_t)g->nfiles) : 0;
	if (file && pages > (g->file_size[f] + PAGE - 1) / PAGE + 1)
		pages = (g->file_size[f] + PAGE - 1) / PAGE + 1; /* a page past EOF at most */
	bool shared = !file || chance(r, 60);
	uint64_t len = pages * PAGE;
	uint64_t off = below(r, g->size / PAGE - pages) * PAGE;
	guint n = 0;
	g_string_append(g->out, "mmap");
	put_addr(g, off);
	put_num(g, len);
	g_string_append_printf(g->out, " rw- %s,fixed", shared ? "shared" : "private");
	if (file)
		g_string_append_printf(g->out, " file=f%d\n", f + 1);
	else
		g_string_append(g->out, ",anonymous\n");
	remember(g, off, len);
	n++;
	/* into the cache: a private mapping reads (a write would copy) */
	for (uint64_t i = 0; i < pages && n < room - 4; i++) {
		if (!chance(r, 70))
			continue;
		bool w = shared && chance(r, 50);
		if (g->values)
			put_data(g, off + i * PAGE + below(r, PAGE), w);
		else {
			g_string_append(g->out, "touch");
			put_addr(g, off + i * PAGE + below(r, PAGE));
			g_string_append(g->out, w ? " w" : " r");
		}
		g_string_append_c(g->out, '\n');
		n++;
	}
	if (chance(r, 85)) {
		g_string_append(g->out, "madvise");
		put_addr(g, off);
		put_num(g, len);
		g_string_append(g->out, " dontneed\n");
		n++;
	}
	g_string_append(g->out, "uffd register");
	put_addr(g, off);
	put_num(g, len);
	unsigned m = (unsigned)below(r, 100);
	g_string_append(g->out, m < 60 ? " minor\n" : m < 80 ? " missing,minor\n" : " minor,wp\n");
	n++;
	while (n < room && chance(r, 85)) {
		uint64_t at = off + below(r, pages) * PAGE;
		unsigned k = (unsigned)below(r, 100);
		if (k < 45) {
			bool w = chance(r, 40);
			if (g->values)
				put_data(g, at + below(r, PAGE), w);
			else {
				g_string_append(g->out, "touch");
				put_addr(g, at + below(r, PAGE));
				g_string_append(g->out, w ? " w" : chance(r, 90) ? " r" : " x");
			}
		} else if (k < 90) {
			/* past the mapping at times (ENOENT, or EAGAIN after some
			 * pages), never past the arena */
			uint64_t clen = (1 + below(r, chance(r, 80) ? 2 : pages)) * PAGE;
			if (clen > g->size - at)
				clen = g->size - at;
			g_string_append(g->out, "uffd continue");
			put_addr(g, at);
			put_num(g, clen);
			if (chance(r, 20)) {
				bool wp = !chance(r, 40);
				g_string_append(g->out, wp ? " wp" : " dontwake");
				g->wp_on |= wp; /* see gen.wp_on */
			}
		} else if (k < 95) {
			g_string_append(g->out, "uffd wake");
			put_addr(g, at);
			put_num(g, PAGE);
		} else {
			g_string_append(g->out, "madvise");
			put_addr(g, at);
			put_num(g, PAGE);
			g_string_append(g->out, chance(r, 50) ? " dontneed" : " remove");
		}
		g_string_append_c(g->out, '\n');
		n++;
	}
	return n;
}

static void gen_stmt(gen *g)
{
	rng *r = &g->r;
	if (g->uffd && chance(r, 10)) {
		gen_uffd(g);
		g_string_append_c(g->out, '\n');
		return;
	}
	if (g->fork && chance(r, 6)) {
		gen_process(g);
		g_string_append_c(g->out, '\n');
		return;
	}
	unsigned roll = (unsigned)below(r, 1000);
	if (roll < 250)
		gen_mmap(g);
	else if (roll < 330)
		gen_range_op(g, "munmap");
	else if (roll < 450) {
		gen_range_op(g, "mprotect");
		put_prot(g);
	} else if (roll < 530)
		gen_mremap(g);
	else if (roll < 650)
		gen_madvise(g);
	else if (roll < 690) {
		gen_range_op(g, "mlock");
		unsigned m = (unsigned)below(r, 100);
		if (m < 30)
			g_string_append(g->out, " onfault");
		else if (m < 35)
			g_string_append_printf(g->out, " 0x%" G_GINT64_MODIFIER "x", below(r, 8));
	} else if (roll < 720)
		gen_range_op(g, "munlock");
	else if (roll < 740) {
		gen_range_op(g, "mseal");
		if (chance(r, 5))
			g_string_append(g->out, " 0x1");
	} else if (roll < 940)
		gen_touch(g);
	else if (roll < 960)
		gen_range_op(g, "pages");
	else if (roll < 970)
		g_string_append(g->out, "maps");
	else if (roll < 980)
		g_string_append(g->out, "smaps");
	else
		g_string_append(g->out, "state");
	g_string_append_c(g->out, '\n');
}

char *gen_trace_text(guint64 seed, guint length) { return gen_trace_text_opts(seed, length, FALSE, FALSE); }

char *gen_trace_text_values(guint64 seed, guint length, gboolean values)
{
	return gen_trace_text_opts(seed, length, values, FALSE);
}

char *gen_trace_text_opts(guint64 seed, guint length, gboolean values, gboolean fork)
{
	return gen_trace_text_for(seed, length, values, fork, FALSE);
}

char *gen_trace_text_for(guint64 seed, guint length, gboolean values, gboolean fork, gboolean memory_failure)
{
	return gen_trace_text_uffd(seed, length, values, fork, memory_failure, FALSE);
}

char *gen_trace_text_uffd(guint64 seed, guint length, gboolean values, gboolean fork, gboolean memory_failure,
                          gboolean uffd)
{
	gen g = {0};
	g.uffd = uffd;
	g.values = values;
	g.fork = fork;
	g.memory_failure = memory_failure;
	g.live[0] = 1;
	g.nlive = 1;
	g.next_proc = 2;
	g.cur_proc = 1;
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		g.r.s[i] = splitmix64(&x);
	g.size = GEN_ARENA_SIZE;
	g.regions = g_array_new(FALSE, FALSE, sizeof(region));
	g.out = g_string_new(NULL);
	g_string_append_printf(g.out, "mmtrace 1\n# mmref gen --seed %" G_GINT64_MODIFIER "u --length %u%s%s%s\n", seed,
	                       length, values ? " --values" : "", fork ? " --fork" : "", uffd ? " --uffd" : "");
	g_string_append_printf(g.out, "arena 0x%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "uM\n", (uint64_t)TR_DEFAULT_ARENA_BASE,
	                       g.size >> 20);
	if (chance(&g.r, 60)) {
		g.nfiles = chance(&g.r, 50) ? 2 : 1;
		for (int i = 0; i < g.nfiles; i++) {
			/* page multiples mostly; sometimes a tail page half past EOF (SIGBUS beyond) */
			g.file_size[i] = (1 + below(&g.r, 16)) * PAGE;
			if (chance(&g.r, 30))
				g.file_size[i] -= PAGE / 2;
			g_string_append_printf(g.out, "file f%d %" G_GINT64_MODIFIER "u", i + 1, g.file_size[i]);
			unsigned c = values ? (unsigned)below(&g.r, 100) : 100; /* values: initial contents */
			if (c < 60)
				g_string_append_printf(g.out, " pattern=0x%x", i + 1);
			else if (c < 80)
				g_string_append_printf(g.out, " fill=0x%02x", (unsigned)(0x11 * (i + 1)));
			g_string_append_c(g.out, '\n');
		}
	}
	for (guint i = 0; i < length;) {
		if (uffd && chance(&g.r, 2)) {
			guint n = gen_uffd_minor(&g, length - i);
			if (n) {
				i += n;
				continue;
			}
		}
		if (!fork && chance(&g.r, 3)) {
			guint n = gen_thp(&g, length - i);
			if (n) {
				i += n;
				continue;
			}
		}
		gen_stmt(&g);
		i++;
	}
	g_array_unref(g.regions);
	return g_string_free(g.out, FALSE);
}

trace *gen_trace(guint64 seed, guint length, const char *name)
{
	char *text = gen_trace_text(seed, length);
	GError *err = NULL;
	trace *t = trace_parse(name, text, strlen(text), &err);
	if (!t) { /* a bug of the generator: say so loudly */
		g_critical("generated trace is invalid: %s", err->message);
		g_error_free(err);
	}
	g_free(text);
	return t;
}

/* ---- Coverage (mmref gen --coverage N) --------------------------------------------------- */

/* What the generated traces reach, measured by running them on the model and
 * looking at its state before and after each statement -- never by reading
 * what the generator meant to do. */

enum { COV_STMT, COV_MMAP_FLAG, COV_MREMAP_FLAG, COV_MLOCK_FLAG, COV_ADVICE, COV_VMA, COV_INTERACT, COV_RESULT };
static const char *const cov_group_names[] = {"statement", "mmap flag", "mremap flag", "mlock2 flag",
                                              "madvise advice", "VMA kind an operation reached",
                                              "interaction", "result"};

typedef struct cov_row {
	int group;
	const char *name;
	guint64 stmts;
	guint traces;
	guint last; /* trace index + 1 that last counted it */
	gboolean skip; /* not a row of this run (write/read without values) */
} cov_row;

/* MAP_ types and flags, MREMAP_ flags and advice values: the trace
 * format's own names, in its printing order (tr_name_table), and one row
 * for advice the format has no name for. */

static const char *const cov_vma_kinds[] = {"anon (private)", "shmem (shared anonymous)", "file private",
                                            "file shared", "THP (VM_HUGEPAGE or a huge page)", "locked",
                                            "sealed", "growsdown", "guard (MADV_GUARD_INSTALL)", "droppable"};
enum { VK_ANON, VK_SHMEM, VK_FILE_PRIVATE, VK_FILE_SHARED, VK_THP, VK_LOCKED, VK_SEALED, VK_GROWSDOWN, VK_GUARD,
       VK_DROPPABLE, VK_N };
static const char *const cov_interactions[] = {
	"operation over 1 VMA",
	"operation over 2 VMAs",
	"operation over 3 or more VMAs",
	"operation over VMAs of mixed kinds",
	"operation over a hole and a VMA",
	"operation on a huge page, wholly",
	"operation on a huge page, partly",
	"touch of a huge page",
	"mremap of a range over 2 or more VMAs",
	"mremap whose result merged with a neighbour",
	"mremap moving a huge page",
	"MADV_COLLAPSE that made a huge page",
	"MADV_COLLAPSE on shmem or a file",
	"mmap that merged with a neighbour",
	"split of a VMA (one more VMA after)",
};
enum { IX_1, IX_2, IX_3, IX_MIXED, IX_HOLE, IX_HUGE_WHOLE, IX_HUGE_PART, IX_TOUCH_HUGE, IX_MREMAP_MULTI,
       IX_MREMAP_MERGED, IX_MREMAP_HUGE, IX_COLLAPSE_MADE, IX_COLLAPSE_FILE, IX_MMAP_MERGED, IX_SPLIT, IX_N };
static const char *const cov_results[] = {"success", "an errno", "a fault (SIGSEGV/SIGBUS)",
                                         "a fault delivered to the userfaultfd",
                                         "a minor fault (a cached page) delivered to the userfaultfd",
                                         "uffd continue that mapped every page",
                                         "a write to a write-protected page delivered to the userfaultfd (uffd wp)"};

typedef struct cov {
	GArray *rows; /* cov_row */
	guint trace;  /* current trace index + 1 */
	guint stmt_base, map_base, mremap_base, mlock_base, advice_base, vma_base, ix_base, res_base;
} cov;

static guint cov_add_row(cov *c, int group, const char *name)
{
	cov_row row = {.group = group, .name = name};
	g_array_append_val(c->rows, row);
	return c->rows->len - 1;
}

static void cov_hit(cov *c, guint row)
{
	cov_row *r = &g_array_index(c->rows, cov_row, row);
	r->stmts++;
	if (r->last != c->trace) {
		r->last = c->trace;
		r->traces++;
	}
}

static int vma_base_kind(const mm_vma_info *v)
{
	if (v->backing == MM_BACKING_ANON)
		return VK_ANON;
	if (v->backing == MM_BACKING_SHMEM)
		return VK_SHMEM;
	return (v->flags & MM_VM_SHARED) ? VK_FILE_SHARED : VK_FILE_PRIVATE;
}

/* Whether the 2 MiB block at h is mapped by one PMD leaf in mm. */
static gboolean pmd_mapped(const mm_state *mm, uint64_t h)
{
	mm_phys_mem pm;
	uint64_t cr3;
	unsigned level;
	mm_page_tables(mm, &pm, &cr3);
	uint64_t e = x86_lookup(&pm, cr3, h, &level);
	return level == 2 && (e & X86_P) && (e & X86_PS);
}

/* The range a statement operates on, [lo, hi); FALSE when none. */
static gboolean stmt_range(const tr_stmt *s, uint64_t *lo, uint64_t *hi)
{
	switch (s->kind) {
	case TR_MMAP:
		if (!s->addr || !(s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)))
			return FALSE;
		/* fallthrough */
	case TR_MUNMAP:
	case TR_MPROTECT:
	case TR_MADVISE:
	case TR_MLOCK:
	case TR_MUNLOCK:
	case TR_MSEAL:
	case TR_MREMAP:
		*lo = s->addr & ~(PAGE - 1);
		*hi = (s->addr + s->len + PAGE - 1) & ~(PAGE - 1);
		return *hi > *lo;
	case TR_TOUCH:
		*lo = s->addr & ~(PAGE - 1);
		*hi = *lo + PAGE;
		return TRUE;
	default:
		return FALSE;
	}
}

static void cov_statement(cov *c, target *tg, const trace *t, const tr_stmt *s)
{
	mm_state *mm = target_model_mm(tg);
	cov_hit(c, c->stmt_base + s->kind);
	if (s->kind == TR_MMAP) {
		size_t nt, nb;
		const tr_name_value *types = tr_name_table(TR_NAMES_MAP_TYPE, &nt);
		const tr_name_value *bits = tr_name_table(TR_NAMES_MAP_FLAG, &nb);
		for (size_t i = 0; i < nt; i++)
			if ((s->flags & MM_MAP_TYPE) == types[i].value)
				cov_hit(c, c->map_base + (guint)i);
		for (size_t i = 0; i < nb; i++)
			if (s->flags & bits[i].value)
				cov_hit(c, c->map_base + (guint)(nt + i));
	} else if (s->kind == TR_MREMAP) {
		size_t nb;
		const tr_name_value *bits = tr_name_table(TR_NAMES_MREMAP_FLAG, &nb);
		for (size_t i = 0; i < nb; i++)
			if (s->flags & bits[i].value)
				cov_hit(c, c->mremap_base + (guint)i);
	} else if (s->kind == TR_MLOCK) {
		cov_hit(c, c->mlock_base + ((s->flags & MM_MLOCK_ONFAULT) ? 1 : 0));
	} else if (s->kind == TR_MADVISE) {
		size_t n, i;
		const tr_name_value *adv = tr_name_table(TR_NAMES_MADVISE, &n);
		for (i = 0; i < n; i++)
			if ((uint64_t)s->advice == adv[i].value)
				break;
		cov_hit(c, c->advice_base + (guint)i); /* i == n: the unknown-advice row */
	}

	/* Before: the VMAs the range reaches, and the huge pages under it. */
	uint64_t lo = 0, hi = 0;
	gboolean ranged = stmt_range(s, &lo, &hi) && mm;
	size_t nv = 0;
	mm_vma_info vb[64];
	gboolean huge_whole = FALSE, huge_part = FALSE;
	size_t before_count = mm ? mm_map_count(mm) : 0;
	if (ranged) {
		nv = mm_vmas(mm, lo, hi, vb, G_N_ELEMENTS(vb));
		gboolean kinds[VK_N] = {0};
		int base_kinds = 0;
		uint64_t covered = 0;
		for (size_t i = 0; i < nv && i < G_N_ELEMENTS(vb); i++) {
			const mm_vma_info *v = &vb[i];
			int bk = vma_base_kind(v);
			if (!kinds[bk])
				base_kinds++;
			kinds[bk] = TRUE;
			uint64_t a = MAX(lo, v->start), b = MIN(hi, v->end);
			covered += b > a ? b - a : 0;
			gboolean huge = (v->flags & MM_VM_HUGEPAGE) != 0;
			for (uint64_t h = a & ~(MM_PMD_SIZE - 1); h < b; h += MM_PMD_SIZE)
				if (h >= v->start && h + MM_PMD_SIZE <= v->end && pmd_mapped(mm, h)) {
					huge = TRUE;
					if (lo <= h && h + MM_PMD_SIZE <= hi)
						huge_whole = TRUE;
					else
						huge_part = TRUE;
				}
			kinds[VK_THP] |= huge;
			kinds[VK_LOCKED] |= (v->flags & MM_VM_LOCKED) != 0;
			kinds[VK_SEALED] |= (v->flags & MM_VM_SEALED) != 0;
			kinds[VK_GROWSDOWN] |= (v->flags & MM_VM_GROWSDOWN) != 0;
			kinds[VK_GUARD] |= (v->flags & MM_VM_MAYBE_GUARD) != 0;
			kinds[VK_DROPPABLE] |= (v->flags & MM_VM_DROPPABLE) != 0;
		}
		for (int k = 0; k < VK_N; k++)
			if (kinds[k])
				cov_hit(c, c->vma_base + (guint)k);
		if (s->kind != TR_TOUCH && nv) {
			cov_hit(c, c->ix_base + (nv == 1 ? IX_1 : nv == 2 ? IX_2 : IX_3));
			if (base_kinds > 1)
				cov_hit(c, c->ix_base + IX_MIXED);
			if (covered < hi - lo)
				cov_hit(c, c->ix_base + IX_HOLE);
			if (huge_whole)
				cov_hit(c, c->ix_base + IX_HUGE_WHOLE);
			if (huge_part)
				cov_hit(c, c->ix_base + IX_HUGE_PART);
			if (s->kind == TR_MREMAP && nv >= 2)
				cov_hit(c, c->ix_base + IX_MREMAP_MULTI);
			if (s->kind == TR_MREMAP && (huge_whole || huge_part))
				cov_hit(c, c->ix_base + IX_MREMAP_HUGE);
			if (s->kind == TR_MADVISE && s->advice == MM_MADV_COLLAPSE)
				for (size_t i = 0; i < nv && i < G_N_ELEMENTS(vb); i++)
					if (vb[i].backing != MM_BACKING_ANON) {
						cov_hit(c, c->ix_base + IX_COLLAPSE_FILE);
						break;
					}
		}
		if (s->kind == TR_TOUCH && (huge_whole || huge_part))
			cov_hit(c, c->ix_base + IX_TOUCH_HUGE);
	}

	if (tr_is_observation(s->kind))
		return;
	tr_result res;
	GError *err = NULL;
	if (!tg->ops->exec(tg, t, s, &res, &err)) {
		g_clear_error(&err);
		return;
	}
	mm = target_model_mm(tg);
	gboolean ok = (res.kind == TR_RES_VALUE) || (res.kind == TR_RES_TOUCH && res.touch.outcome == MM_TOUCH_OK);
	gboolean event = res.kind == TR_RES_TOUCH && res.touch.outcome == MM_TOUCH_UFFD;
	cov_hit(c, c->res_base + (ok ? 0 : event ? 3 : res.kind == TR_RES_TOUCH ? 2 : 1));
	if (event && (res.touch.uffd_flags & MM_UFFD_FLAG_MINOR))
		cov_hit(c, c->res_base + 4);
	if (ok && s->kind == TR_UFFD_CONTINUE)
		cov_hit(c, c->res_base + 5);
	if (event && (res.touch.uffd_flags & MM_UFFD_FLAG_WP))
		cov_hit(c, c->res_base + 6);
	if (!ok || !mm)
		return;
	/* After: merges, splits, huge pages made. */
	size_t after_count = mm_map_count(mm);
	if (after_count > before_count && s->kind != TR_MMAP)
		cov_hit(c, c->ix_base + IX_SPLIT);
	mm_vma_info va;
	if (s->kind == TR_MREMAP && s->new_len) {
		uint64_t to = res.value;
		if (mm_vmas(mm, to, to + 1, &va, 1) == 1 && va.start <= to &&
		    (va.start < to || va.end > to + ((s->new_len + PAGE - 1) & ~(PAGE - 1))))
			cov_hit(c, c->ix_base + IX_MREMAP_MERGED);
	}
	if (s->kind == TR_MMAP && s->len) {
		uint64_t at = res.value;
		if (mm_vmas(mm, at, at + 1, &va, 1) == 1 && va.start <= at &&
		    (va.start < at || va.end > at + ((s->len + PAGE - 1) & ~(PAGE - 1))))
			cov_hit(c, c->ix_base + IX_MMAP_MERGED);
	}
	if (s->kind == TR_MADVISE && s->advice == MM_MADV_COLLAPSE && ranged)
		for (uint64_t h = (lo + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1); h + MM_PMD_SIZE <= hi; h += MM_PMD_SIZE)
			if (pmd_mapped(mm, h) || mm_page(mm, h) == MM_PAGE_FILE) {
				cov_hit(c, c->ix_base + IX_COLLAPSE_MADE);
				break;
			}
}

char *gen_coverage(guint64 seed, guint count, guint length, gboolean values, guint *zero_rows)
{
	return gen_coverage_opts(seed, count, length, values, FALSE, zero_rows);
}

char *gen_coverage_opts(guint64 seed, guint count, guint length, gboolean values, gboolean fork, guint *zero_rows)
{
	return gen_coverage_uffd(seed, count, length, values, fork, FALSE, zero_rows);
}

static gboolean is_uffd_kind(int k)
{
	return k == TR_UFFD_REGISTER || k == TR_UFFD_UNREGISTER || k == TR_UFFD_COPY || k == TR_UFFD_ZEROPAGE ||
	       k == TR_UFFD_CONTINUE || k == TR_UFFD_WAKE || k == TR_UFFD_WP;
}

char *gen_coverage_uffd(guint64 seed, guint count, guint length, gboolean values, gboolean fork, gboolean uffd,
                        guint *zero_rows)
{
	cov c = {.rows = g_array_new(FALSE, FALSE, sizeof(cov_row))};
	c.stmt_base = c.rows->len;
	for (int k = 0; k <= TR_STATE; k++) {
		guint row = cov_add_row(&c, COV_STMT, tr_kind_name((tr_kind)k));
		/* write and read come with values only (issue 18) */
		g_array_index(c.rows, cov_row, row).skip = (!values && (k == TR_WRITE || k == TR_READ)) ||
		                                           (!fork && (k == TR_FORK || k == TR_PROC || k == TR_EXIT)) ||
		                                           (!uffd && is_uffd_kind(k));
	}
	c.map_base = c.rows->len;
	size_t n_names;
	const tr_name_value *names = tr_name_table(TR_NAMES_MAP_TYPE, &n_names);
	for (size_t i = 0; i < n_names; i++)
		cov_add_row(&c, COV_MMAP_FLAG, names[i].name);
	names = tr_name_table(TR_NAMES_MAP_FLAG, &n_names);
	for (size_t i = 0; i < n_names; i++)
		cov_add_row(&c, COV_MMAP_FLAG, names[i].name);
	c.mremap_base = c.rows->len;
	names = tr_name_table(TR_NAMES_MREMAP_FLAG, &n_names);
	for (size_t i = 0; i < n_names; i++)
		cov_add_row(&c, COV_MREMAP_FLAG, names[i].name);
	c.mlock_base = c.rows->len;
	cov_add_row(&c, COV_MLOCK_FLAG, "(none: mlock)");
	cov_add_row(&c, COV_MLOCK_FLAG, "onfault");
	c.advice_base = c.rows->len;
	names = tr_name_table(TR_NAMES_MADVISE, &n_names);
	for (size_t i = 0; i < n_names; i++)
		cov_add_row(&c, COV_ADVICE, names[i].name);
	cov_add_row(&c, COV_ADVICE, "(unknown advice)");
	c.vma_base = c.rows->len;
	for (guint i = 0; i < G_N_ELEMENTS(cov_vma_kinds); i++)
		cov_add_row(&c, COV_VMA, cov_vma_kinds[i]);
	c.ix_base = c.rows->len;
	for (guint i = 0; i < G_N_ELEMENTS(cov_interactions); i++)
		cov_add_row(&c, COV_INTERACT, cov_interactions[i]);
	c.res_base = c.rows->len;
	for (guint i = 0; i < G_N_ELEMENTS(cov_results); i++) {
		guint row = cov_add_row(&c, COV_RESULT, cov_results[i]);
		g_array_index(c.rows, cov_row, row).skip = !uffd && i >= 3; /* the userfaultfd's faults, continue */
	}

	target *tg = target_model_new();
	guint64 total = 0;
	for (guint i = 0; i < count; i++) {
		char *text = gen_trace_text_uffd(seed + i, length, values, fork, FALSE, uffd);
		trace *t = trace_parse("gen", text, strlen(text), NULL);
		g_free(text);
		GError *err = NULL;
		if (!t || !tg->ops->start(tg, t, &err)) {
			g_clear_error(&err);
			if (t)
				trace_free(t);
			continue;
		}
		c.trace = i + 1;
		for (guint j = 0; j < t->stmts->len; j++, total++)
			cov_statement(&c, tg, t, &g_array_index(t->stmts, tr_stmt, j));
		trace_free(t);
	}
	target_free(tg);

	GString *out = g_string_new(NULL);
	g_string_append_printf(out,
	                       "Coverage of %u generated traces (seeds %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
	                       ", %u statements each; %" G_GUINT64_FORMAT
	                       " statements), measured on the model: statements that reached each row, and traces "
	                       "with at least one.\n\n| group | row | statements | traces |\n|---|---|---:|---:|\n",
	                       count, seed, seed + count - (count ? 1 : 0), length, total);
	guint zeros = 0;
	for (guint i = 0; i < c.rows->len; i++) {
		const cov_row *r = &g_array_index(c.rows, cov_row, i);
		if (r->skip)
			continue;
		zeros += r->stmts == 0;
		g_string_append_printf(out, "| %s | %s | %" G_GUINT64_FORMAT " | %u |%s\n", cov_group_names[r->group], r->name,
		                       r->stmts, r->traces, r->stmts ? "" : " **zero**");
	}
	guint shown = 0;
	for (guint i = 0; i < c.rows->len; i++)
		shown += !g_array_index(c.rows, cov_row, i).skip;
	g_string_append_printf(out, "\n%u row%s of %u at zero.\n", zeros, zeros == 1 ? "" : "s", shown);
	g_array_unref(c.rows);
	if (zero_rows)
		*zero_rows = zeros;
	return g_string_free(out, FALSE);
}

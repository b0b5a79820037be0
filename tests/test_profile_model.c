/* The model under kernel profiles (mm_config's profile fields): each key's
 * rules, docs/profiles-model.md.
 *
 * Every expected answer says where it comes from:
 *   [LIVE]  observed on this machine's Linux 6.18.44 (booted with
 *           pvm_no_zero_page=1, so zero_page=off) through build/mmref-kernel;
 *           THP modes by switching /sys/kernel/mm/transparent_hugepage/
 *           {enabled,use_zero_page} for the run and restoring them; memlock
 *           with `prlimit --memlock=N:N setpriv --inh-caps=-ipc_lock
 *           --bounding-set=-ipc_lock`; VmLck from /proc/self/status by a probe.
 *   [SRC]   worked out by hand from the named kernel function (6.18), for
 *           settings this machine cannot show (zero_page=on, overcommit=2,
 *           soft_dirty=on).
 * mm_check runs after every step. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "mmref/mmref.h"
#include "mmref/x86.h"
#include "mm_test.h"

#define BASE 0x100000000000ull
#define P(n) ((uint64_t)(n) * MM_PAGE_SIZE)
#define M(n) ((uint64_t)(n) << 20)
#define K(n) ((uint64_t)(n) << 10)
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define RO MM_PROT_READ
#define RX (MM_PROT_READ | MM_PROT_EXEC)
#define ANON_NR (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE)

/* The entry that maps addr in mm's tables (mmref/x86.h), read only. */
static uint64_t leaf_entry(const mm_state *mm, uint64_t addr, unsigned *level)
{
	mm_phys_mem pm;
	uint64_t cr3;
	mm_page_tables(mm, &pm, &cr3);
	return x86_lookup(&pm, cr3, addr, level);
}

/* The default profile with the arena as the search window. */
static mm_config base_config(void) { return mmt_config(BASE); }

/* This machine's profile: zero_page=off, the rest the default [LIVE
 * `mmref profile`: thp madvise, use_zero_page 1, overcommit 0]. */
static mm_config live_config(void)
{
	mm_config cfg = base_config();
	cfg.zero_page = false;
	return cfg;
}

static mm_state *create(const mm_config *cfg)
{
	mm_state *mm = mm_create(cfg);
	g_assert_nonnull(mm);
	return mm;
}

static void do_mmap(mm_state *mm, uint64_t off, uint64_t len, uint64_t prot, uint64_t flags, int64_t want)
{
	g_assert_cmpint(mm_mmap(mm, BASE + off, len, prot, flags, 0, 0), ==, want);
	mmt_assert_checked(mm);
}

static void touch_ok(mm_state *mm, uint64_t off, mm_access a)
{
	g_assert_cmpint(mm_touch(mm, BASE + off, a).outcome, ==, MM_TOUCH_OK);
	mmt_assert_checked(mm);
}

/* How many of the n pages from off are in state s. */
static size_t count_pages(const mm_state *mm, uint64_t off, size_t n, mm_page_state s)
{
	uint8_t *st = g_malloc(n);
	mm_pages(mm, BASE + off, n, st);
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += st[i] == s;
	g_free(st);
	return c;
}

/* VmFlags of the VMA at off; 0 when there is none. */
static uint64_t flags_at(const mm_state *mm, uint64_t off)
{
	mm_vma_info info;
	if (!mm_vmas(mm, BASE + off, BASE + off + 1, &info, 1))
		return 0;
	return info.flags;
}

static size_t vmas_in(const mm_state *mm, uint64_t len)
{
	mm_vma_info info[8];
	return mm_vmas(mm, BASE, BASE + len, info, 8);
}

/* ---- zero_page ------------------------------------------------------------- */

/* The spec's example statements: a read fault maps a fresh anonymous page
 * [LIVE: `touch +0 r` then `pages` gives `+0x0 anon`]; on zero_page=on the
 * zero page [SRC do_anonymous_page]. */
static void test_zero_page_read_fault(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = live_config();
		cfg.zero_page = on;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, P(4), RW, ANON_NR, (int64_t)BASE);
		touch_ok(mm, P(1), MM_ACCESS_WRITE);
		touch_ok(mm, 0, MM_ACCESS_READ);
		g_assert_cmpint(mm_page(mm, BASE), ==, on ? MM_PAGE_ZERO : MM_PAGE_ANON);
		g_assert_cmpint(mm_page(mm, BASE + P(1)), ==, MM_PAGE_ANON);
		g_assert_cmpint(mm_page(mm, BASE + P(2)), ==, MM_PAGE_NONE);
		/* The page is writable at once under zero_page=off (VM_WRITE:
		 * pte_mkwrite(pte_mkdirty())), so a write does not fault again
		 * and the page stays the same one. [SRC do_anonymous_page] */
		unsigned level;
		uint64_t e = leaf_entry(mm, BASE, &level);
		g_assert_cmpuint(level, ==, 1);
		g_assert_cmpuint(!!(e & X86_RW), ==, !on);
		g_assert_cmpuint(!!(e & X86_D), ==, !on);
		mm_destroy(mm);
	}
}

/* A read fault on a read-only VMA: a clean, read-only page (dirty only with
 * VM_WRITE) [SRC do_anonymous_page]; an exec fault is a read fault too
 * [LIVE: `touch +0 x` on r-x gives ok and `anon`]. */
static void test_zero_page_readonly_and_exec(void)
{
	mm_config cfg = live_config();
	mm_state *mm = create(&cfg);
	do_mmap(mm, 0, P(2), RO, ANON_NR, (int64_t)BASE);
	touch_ok(mm, 0, MM_ACCESS_READ);
	g_assert_cmpint(mm_page(mm, BASE), ==, MM_PAGE_ANON);
	unsigned level;
	uint64_t e = leaf_entry(mm, BASE, &level);
	g_assert_cmpuint(e & (X86_RW | X86_D), ==, 0);
	g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_SEGV_ACCERR);
	do_mmap(mm, P(16), P(2), RX, ANON_NR, (int64_t)(BASE + P(16)));
	touch_ok(mm, P(16), MM_ACCESS_EXEC);
	g_assert_cmpint(mm_page(mm, BASE + P(16)), ==, MM_PAGE_ANON);
	mm_destroy(mm);
}

/* The spec's Profiles paragraph: the read fault made an anon_vma, so a
 * later mprotect that removes write keeps `ac`, and a new read-only VMA
 * after it no longer merges [LIVE: smaps `rd mr mw me ac` and `rd mr mw
 * me`, two VMAs]. With the zero page, no anon_vma: mprotect_fixup drops
 * VM_ACCOUNT and the new VMA merges into one [SRC mprotect_fixup,
 * vma_merge_new_range]. */
static void test_zero_page_account_and_merge(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = live_config();
		cfg.zero_page = on;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, K(16), RW, ANON_NR, (int64_t)BASE);
		touch_ok(mm, 0, MM_ACCESS_READ);
		g_assert_cmpint(mm_mprotect(mm, BASE, K(16), RO), ==, 0);
		mmt_assert_checked(mm);
		g_assert_cmpuint(!!(flags_at(mm, 0) & MM_VM_ACCOUNT), ==, !on);
		do_mmap(mm, K(16), K(4), RO, ANON_NR, (int64_t)(BASE + K(16)));
		g_assert_cmpuint(vmas_in(mm, M(1)), ==, on ? 1 : 2);
		mm_destroy(mm);
	}
}

/* Every other way in faults the same: MADV_POPULATE_READ and MAP_POPULATE
 * of a read-only VMA [LIVE: populate_read of 8K gives two `anon`]. */
static void test_zero_page_populate(void)
{
	mm_config cfg = live_config();
	mm_state *mm = create(&cfg);
	do_mmap(mm, 0, P(4), RO, ANON_NR, (int64_t)BASE);
	g_assert_cmpint(mm_madvise(mm, BASE, K(8), MM_MADV_POPULATE_READ), ==, 0);
	mmt_assert_checked(mm);
	g_assert_cmpuint(count_pages(mm, 0, 4, MM_PAGE_ANON), ==, 2);
	do_mmap(mm, P(8), P(2), RO, ANON_NR | MM_MAP_POPULATE, (int64_t)(BASE + P(8)));
	g_assert_cmpuint(count_pages(mm, P(8), 2, MM_PAGE_ANON), ==, 2);
	g_assert_cmpuint(count_pages(mm, 0, 16, MM_PAGE_ZERO), ==, 0);
	mm_destroy(mm);
}

/* ---- thp, thp_zero_page ----------------------------------------------------- */

enum { PLAIN, HG, NH, STACK };

/* mmap 4M at the (2 MiB aligned) arena, one fault at +0; how many of the
 * first 512 pages end up anon and zero. */
static void thp_fault(mm_thp_mode mode, bool zero_page, bool thp_zero, int kind, mm_access a, size_t *anon,
                      size_t *zero)
{
	mm_config cfg = live_config();
	cfg.thp_mode = mode;
	cfg.zero_page = zero_page;
	cfg.thp_zero_page = thp_zero;
	mm_state *mm = create(&cfg);
	do_mmap(mm, 0, M(4), RW, ANON_NR | (kind == STACK ? MM_MAP_STACK : 0), (int64_t)BASE);
	if (kind == HG || kind == NH) {
		g_assert_cmpint(mm_madvise(mm, BASE, M(4), kind == HG ? MM_MADV_HUGEPAGE : MM_MADV_NOHUGEPAGE), ==, 0);
		mmt_assert_checked(mm);
	}
	touch_ok(mm, 0, a);
	*anon = count_pages(mm, 0, 512, MM_PAGE_ANON);
	*zero = count_pages(mm, 0, 512, MM_PAGE_ZERO);
	mm_destroy(mm);
}

/* [LIVE], every mode with use_zero_page 1 and 0 (zero page forbidden):
 *   always:  write/read of a plain VMA -> 512 anon; MAP_STACK (nh) or
 *            MADV_NOHUGEPAGE -> 1;
 *   madvise: plain -> 1; MADV_HUGEPAGE -> 512;
 *   never:   MADV_HUGEPAGE -> 1. */
static void test_thp_modes_live(void)
{
	static const struct {
		mm_thp_mode mode;
		int kind;
		mm_access a;
		size_t anon;
	} cases[] = {
		{MM_THP_ALWAYS, PLAIN, MM_ACCESS_WRITE, 512}, {MM_THP_ALWAYS, PLAIN, MM_ACCESS_READ, 512},
		{MM_THP_ALWAYS, HG, MM_ACCESS_READ, 512},     {MM_THP_ALWAYS, STACK, MM_ACCESS_WRITE, 1},
		{MM_THP_ALWAYS, NH, MM_ACCESS_WRITE, 1},      {MM_THP_MADVISE, PLAIN, MM_ACCESS_WRITE, 1},
		{MM_THP_MADVISE, PLAIN, MM_ACCESS_READ, 1},   {MM_THP_MADVISE, HG, MM_ACCESS_READ, 512},
		{MM_THP_MADVISE, STACK, MM_ACCESS_WRITE, 1},  {MM_THP_NEVER, PLAIN, MM_ACCESS_WRITE, 1},
		{MM_THP_NEVER, HG, MM_ACCESS_READ, 1},        {MM_THP_NEVER, STACK, MM_ACCESS_WRITE, 1},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		for (int tz = 0; tz <= 1; tz++) {
			size_t anon, zero;
			thp_fault(cases[i].mode, false, tz, cases[i].kind, cases[i].a, &anon, &zero);
			if (anon != cases[i].anon)
				g_printerr("case %zu (thp_zero_page %d): %zu anon\n", i, tz, anon);
			g_assert_cmpuint(anon, ==, cases[i].anon);
			g_assert_cmpuint(zero, ==, 0);
		}
	}
}

/* With the zero page allowed [SRC do_huge_pmd_anonymous_page]: a read fault
 * in a THP-eligible range maps the huge zero page (512 `zero`) only with
 * use_zero_page; without, a THP (512 `anon`); outside THP the 4 KiB zero
 * page whatever use_zero_page says (do_anonymous_page does not look). */
static void test_thp_zero_page(void)
{
	size_t anon, zero;
	thp_fault(MM_THP_MADVISE, true, true, HG, MM_ACCESS_READ, &anon, &zero);
	g_assert_cmpuint(zero, ==, 512);
	g_assert_cmpuint(anon, ==, 0);
	thp_fault(MM_THP_MADVISE, true, false, HG, MM_ACCESS_READ, &anon, &zero);
	g_assert_cmpuint(zero, ==, 0);
	g_assert_cmpuint(anon, ==, 512);
	thp_fault(MM_THP_ALWAYS, true, true, PLAIN, MM_ACCESS_READ, &anon, &zero);
	g_assert_cmpuint(zero, ==, 512);
	thp_fault(MM_THP_NEVER, true, true, HG, MM_ACCESS_READ, &anon, &zero);
	g_assert_cmpuint(zero, ==, 1);
	thp_fault(MM_THP_MADVISE, true, false, PLAIN, MM_ACCESS_READ, &anon, &zero);
	g_assert_cmpuint(zero, ==, 1);
	/* A write over the huge zero page: a THP (do_huge_zero_wp_pmd). */
	mm_config cfg = base_config();
	cfg.thp_mode = MM_THP_ALWAYS;
	mm_state *mm = create(&cfg);
	do_mmap(mm, 0, M(2), RW, ANON_NR, (int64_t)BASE);
	touch_ok(mm, 0, MM_ACCESS_READ);
	touch_ok(mm, P(3), MM_ACCESS_WRITE);
	g_assert_cmpuint(count_pages(mm, 0, 512, MM_PAGE_ANON), ==, 512);
	mm_destroy(mm);
}

/* MADV_COLLAPSE ignores the mode (TVA_FORCED_COLLAPSE) [LIVE: under
 * never, madvise and always alike, `collapse +0 4M` after a write at +0
 * made +0's block 512 anon (EINVAL for the empty block after it)]; a
 * block without a page table is EINVAL and ends the walk [LIVE: +0 6M with
 * pages at +0 and +4M: EINVAL, +0 collapsed, +4M not]; VM_NOHUGEPAGE is
 * EINVAL [LIVE]. */
static void test_thp_collapse(void)
{
	for (int mode = MM_THP_NEVER; mode <= MM_THP_ALWAYS; mode++) {
		mm_config cfg = live_config();
		cfg.thp_mode = (mm_thp_mode)mode;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, M(6), RW, ANON_NR | MM_MAP_STACK, (int64_t)BASE); /* nh: no THP at fault */
		g_assert_cmpint(mm_madvise(mm, BASE, M(6), MM_MADV_COLLAPSE), ==, -EINVAL);
		g_assert_cmpint(mm_madvise(mm, BASE, M(6), MM_MADV_HUGEPAGE), ==, 0);
		g_assert_cmpint(mm_munmap(mm, BASE, M(6)), ==, 0);
		do_mmap(mm, 0, M(6), RW, ANON_NR | MM_MAP_STACK, (int64_t)BASE);
		touch_ok(mm, 0, MM_ACCESS_WRITE);
		touch_ok(mm, M(4), MM_ACCESS_WRITE);
		/* MAP_STACK set nh; collapse needs it gone: MADV_HUGEPAGE. */
		g_assert_cmpint(mm_madvise(mm, BASE, M(6), MM_MADV_HUGEPAGE), ==, 0);
		g_assert_cmpint(mm_madvise(mm, BASE, M(6), MM_MADV_COLLAPSE), ==, -EINVAL);
		mmt_assert_checked(mm);
		g_assert_cmpuint(count_pages(mm, 0, 512, MM_PAGE_ANON), ==, 512);
		g_assert_cmpuint(count_pages(mm, M(2), 512, MM_PAGE_ANON), ==, 0);
		g_assert_cmpuint(count_pages(mm, M(4), 512, MM_PAGE_ANON), ==, 1);
		mm_destroy(mm);
	}
}

/* The no-hint alignment of 2 MiB-multiple anonymous mappings does not
 * depend on the mode [LIVE: thp=never, `mmap 0 2M` and `mmap 0 4M` both
 * 2 MiB aligned]. */
static void test_thp_alignment_any_mode(void)
{
	for (int mode = MM_THP_NEVER; mode <= MM_THP_ALWAYS; mode++) {
		mm_config cfg = live_config();
		cfg.thp_mode = (mm_thp_mode)mode;
		mm_state *mm = create(&cfg);
		do_mmap(mm, P(1), P(1), RW, ANON_NR, (int64_t)(BASE + P(1)));
		int64_t a = mm_mmap(mm, 0, M(2), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0);
		g_assert_cmpint(a, >, 0);
		g_assert_cmpuint((uint64_t)a % M(2), ==, 0);
		mm_destroy(mm);
	}
}

/* ---- overcommit ---------------------------------------------------------------- */

/* MAP_NORESERVE gives VM_NORESERVE (`nr`, no `ac`) unless overcommit is 2,
 * where the mapping is accounted like any private writable one [SRC do_mmap,
 * accountable_mapping; overcommit 0 also LIVE: `nr` without `ac`]. */
static void test_overcommit_noreserve(void)
{
	for (unsigned oc = 0; oc <= 2; oc++) {
		mm_config cfg = live_config();
		cfg.overcommit = oc;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, P(4), RW, ANON_NR | MM_MAP_NORESERVE, (int64_t)BASE);
		uint64_t f = flags_at(mm, 0);
		g_assert_cmpuint(!!(f & MM_VM_NORESERVE), ==, oc != 2);
		g_assert_cmpuint(!!(f & MM_VM_ACCOUNT), ==, oc == 2);
		/* ...so under 2 it merges with a plain writable neighbour. */
		do_mmap(mm, P(4), P(4), RW, ANON_NR, (int64_t)(BASE + P(4)));
		g_assert_cmpuint(vmas_in(mm, M(1)), ==, oc == 2 ? 1 : 2);
		/* Shared anonymous memory: nr, never ac. */
		do_mmap(mm, P(16), P(2), RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE | MM_MAP_NORESERVE,
		        (int64_t)(BASE + P(16)));
		g_assert_cmpuint(!!(flags_at(mm, P(16)) & MM_VM_NORESERVE), ==, oc != 2);
		g_assert_cmpuint(flags_at(mm, P(16)) & MM_VM_ACCOUNT, ==, 0);
		mm_destroy(mm);
	}
}

/* ---- memlock ----------------------------------------------------------------------- */

/* RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK [LIVE, prlimit --memlock=0:0]:
 * mlock and MAP_LOCKED are EPERM; munlock is fine. */
static void test_memlock_zero(void)
{
	mm_config cfg = live_config();
	cfg.memlock = 0;
	mm_state *mm = create(&cfg);
	g_assert_cmpint(mm_mlock2(mm, BASE, P(1), 0), ==, -EPERM);
	g_assert_cmpint(mm_mmap(mm, BASE, P(1), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_LOCKED, 0, 0), ==, -EPERM);
	do_mmap(mm, 0, P(1), RW, ANON_NR, (int64_t)BASE);
	g_assert_cmpint(mm_munlock(mm, BASE, P(1)), ==, 0);
	g_assert_cmpint(mm_mlock2(mm, BASE, P(1), 0), ==, -EPERM);
	g_assert_cmpint(mm_mlock2(mm, BASE, P(1), 2), ==, -EINVAL); /* flags first */
	/* MAP_LOCKED|MAP_DROPPABLE: the lock check comes before the type's
	 * EINVAL [SRC do_mmap]. */
	g_assert_cmpint(mm_mmap(mm, BASE + P(8), P(1), RW, MM_MAP_DROPPABLE | MM_MAP_ANONYMOUS | MM_MAP_LOCKED, 0, 0),
	                ==, -EPERM);
	mmt_assert_checked(mm);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 0);
	mm_destroy(mm);
}

/* The whole sequence of corpus-style statements run live under
 * `prlimit --memlock=32768:32768 setpriv --inh-caps=-ipc_lock
 * --bounding-set=-ipc_lock build/mmref-kernel` [LIVE], with the locked_vm
 * each step leaves (worked out from the same rules, and matching VmLck in
 * the DONTUNMAP probe below). */
static void test_memlock_limit(void)
{
	mm_config cfg = live_config();
	cfg.memlock = K(32); /* 8 pages */
	mm_state *mm = create(&cfg);
	const uint64_t L = MM_MAP_LOCKED;
	do_mmap(mm, 0, K(16), RW, ANON_NR | L, (int64_t)BASE);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 4);
	do_mmap(mm, M(1), K(32), RW, ANON_NR | L, -EAGAIN);       /* 4 + 8 > 8 */
	do_mmap(mm, M(1), K(32), RW, ANON_NR, (int64_t)(BASE + M(1)));
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1), K(16), 0), ==, 0); /* 8 */
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1), K(4), 0), ==, 0);  /* already locked: counted off */
	g_assert_cmpint(mm_mlock2(mm, BASE, K(16), 0), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 8);
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1) + K(16), K(4), 0), ==, -ENOMEM);
	g_assert_cmpint(mm_mremap(mm, BASE, K(16), K(20), 0, 0), ==, -EAGAIN);
	g_assert_cmpint(mm_mremap(mm, BASE, K(16), K(8), 0, 0), ==, (int64_t)BASE); /* 6 */
	mmt_assert_checked(mm);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 6);
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1) + K(16), K(8), 0), ==, 0); /* 8 */
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1) + K(24), K(4), 0), ==, -ENOMEM);
	/* DONTUNMAP of the last 2 pages of the 6-page locked VMA: the new
	 * VMA is charged (10), the whole source VMA loses `lo` uncharged
	 * [LIVE smaps: 100000100000-100000106000 without lo]. */
	g_assert_cmpint(mm_mremap(mm, BASE + M(1) + K(16), K(8), K(8),
	                          MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED | MM_MREMAP_DONTUNMAP, BASE + M(2)),
	                ==, (int64_t)(BASE + M(2)));
	mmt_assert_checked(mm);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 10);
	g_assert_cmpuint(flags_at(mm, M(1)) & MM_VM_LOCKED, ==, 0);
	g_assert_cmpuint(flags_at(mm, M(2)) & MM_VM_LOCKED, !=, 0);
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1), K(4), 0), ==, -ENOMEM);
	g_assert_cmpint(mm_munlock(mm, BASE, K(8)), ==, 0); /* 8 */
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1), K(4), 0), ==, -ENOMEM);
	g_assert_cmpint(mm_munmap(mm, BASE + M(2), K(8)), ==, 0); /* 6 */
	g_assert_cmpint(mm_mlock2(mm, BASE + M(1), K(4), 0), ==, 0); /* 7 */
	do_mmap(mm, M(3), K(8), RW, ANON_NR | L, -EAGAIN);
	/* MAP_FIXED over locked pages still counts them (mlock_future_ok). */
	do_mmap(mm, M(3), K(8), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED | L, -EAGAIN);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 7);
	mm_destroy(mm);
}

/* locked_vm through moves and growth, as VmLck showed it [LIVE probe, root:
 * 8 locked pages, a 1-page DONTUNMAP -> 9 pages charged, 8 after unmapping
 * everything; DONTUNMAP of a whole 4-page VMA: +4, and only the new 4 go on
 * munmap; a locked 4-page move growing to 8: +4; growing in place 8 -> 12:
 * +4, all gone on munmap]. */
static void test_memlock_locked_vm_moves(void)
{
	mm_config cfg = live_config(); /* unlimited: root */
	mm_state *mm = create(&cfg);
	const uint64_t L = MM_MAP_LOCKED, MF = MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, DU = MM_MREMAP_DONTUNMAP;
	do_mmap(mm, 0, P(8), RW, ANON_NR | L, (int64_t)BASE);
	g_assert_cmpint(mm_mremap(mm, BASE + P(2), P(1), P(1), MF | DU, BASE + P(64)), ==, (int64_t)(BASE + P(64)));
	mmt_assert_checked(mm);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 9);
	g_assert_cmpint(mm_munmap(mm, BASE, P(128)), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 8);
	do_mmap(mm, 0, P(4), RW, ANON_NR | L, (int64_t)BASE);
	g_assert_cmpint(mm_mremap(mm, BASE, P(4), P(4), MF | DU, BASE + P(64)), ==, (int64_t)(BASE + P(64)));
	g_assert_cmpuint(mm_locked_vm(mm), ==, 16);
	g_assert_cmpint(mm_munmap(mm, BASE, P(128)), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 12);
	do_mmap(mm, 0, P(4), RW, ANON_NR | L, (int64_t)BASE);
	g_assert_cmpint(mm_mremap(mm, BASE, P(4), P(8), MF, BASE + P(64)), ==, (int64_t)(BASE + P(64)));
	g_assert_cmpuint(mm_locked_vm(mm), ==, 20);
	g_assert_cmpint(mm_mremap(mm, BASE + P(64), P(8), P(12), 0, 0), ==, (int64_t)(BASE + P(64)));
	g_assert_cmpuint(mm_locked_vm(mm), ==, 24);
	mmt_assert_checked(mm);
	g_assert_cmpint(mm_munmap(mm, BASE, P(128)), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 12);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* Splits and merges move nothing; munlock and mlock2(ONFAULT) count once
 * [SRC mlock_fixup]. A locked stack growing past the limit cannot grow
 * [SRC acct_stack_growth -> mlock_future_ok]: SIGSEGV. */
static void test_memlock_split_merge_stack(void)
{
	mm_config cfg = live_config();
	cfg.memlock = K(40); /* 10 pages */
	mm_state *mm = create(&cfg);
	do_mmap(mm, P(16), P(8), RW, ANON_NR, (int64_t)(BASE + P(16)));
	g_assert_cmpint(mm_mlock2(mm, BASE + P(18), P(2), MM_MLOCK_ONFAULT), ==, 0);
	g_assert_cmpint(mm_mlock2(mm, BASE + P(16), P(8), 0), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 8);
	g_assert_cmpint(mm_mprotect(mm, BASE + P(17), P(1), RO), ==, 0);
	g_assert_cmpint(mm_munlock(mm, BASE + P(20), P(1)), ==, 0);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 7);
	mmt_assert_checked(mm);
	/* A locked growsdown VMA of 1 page, far above the stack guard gap:
	 * the limit leaves 10 - 8 = 2 pages to grow. */
	const uint64_t S = M(8);
	do_mmap(mm, S, P(1), RW, ANON_NR | MM_MAP_GROWSDOWN | MM_MAP_LOCKED, (int64_t)(BASE + S));
	g_assert_cmpuint(mm_locked_vm(mm), ==, 8);
	touch_ok(mm, S - P(2), MM_ACCESS_WRITE); /* grows by 2: 10 */
	g_assert_cmpuint(mm_locked_vm(mm), ==, 10);
	g_assert_cmpint(mm_touch(mm, BASE + S - P(3), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_SEGV_MAPERR);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* ---- soft_dirty ------------------------------------------------------------------------- */

/* With CONFIG_MEM_SOFT_DIRTY every new VMA, and a VMA a new range merged
 * into, gets VM_SOFTDIRTY (`sd`) [SRC __mmap_complete]; splits and mremap
 * copies keep it (copy_vma copies the flags); merging ignores it
 * (VM_IGNORE_MERGE). Without, never [SRC; LIVE: no `sd` on this machine]. */
static void test_soft_dirty(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = live_config();
		cfg.soft_dirty = on;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, P(4), RW, ANON_NR, (int64_t)BASE);
		g_assert_cmpuint(!!(flags_at(mm, 0) & MM_VM_SOFTDIRTY), ==, on);
		do_mmap(mm, P(4), P(4), RW, ANON_NR, (int64_t)(BASE + P(4)));
		g_assert_cmpuint(vmas_in(mm, M(1)), ==, 1);
		g_assert_cmpint(mm_mprotect(mm, BASE + P(2), P(2), RO), ==, 0);
		g_assert_cmpuint(!!(flags_at(mm, P(2)) & MM_VM_SOFTDIRTY), ==, on);
		g_assert_cmpint(mm_mremap(mm, BASE + P(2), P(2), P(2), MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + P(32)),
		                ==, (int64_t)(BASE + P(32)));
		g_assert_cmpuint(!!(flags_at(mm, P(32)) & MM_VM_SOFTDIRTY), ==, on);
		do_mmap(mm, P(64), P(1), RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE,
		        (int64_t)(BASE + P(64)));
		g_assert_cmpuint(!!(flags_at(mm, P(64)) & MM_VM_SOFTDIRTY), ==, on);
		char buf[128];
		mm_format_vmflags(flags_at(mm, 0), buf, sizeof(buf));
		g_assert_cmpuint(strstr(buf, "sd ") != NULL, ==, on);
		mmt_assert_checked(mm);
		mm_destroy(mm);
	}
}

/* ---- guard_flag ------------------------------------------------------------------------- */

/* madvise_guard_install() marks the whole VMA VM_MAYBE_GUARD (`gu`) without
 * a split where the kernel has the flag (6.19, later 6.18 stables); the flag
 * is sticky, so the parts of a split keep it. Without it (Debian 6.18.15
 * [LIVE]) the guard works the same and no VMA shows `gu`; I17 checks. */
static void test_guard_flag(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = live_config();
		cfg.guard_flag = on;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, P(4), RW, ANON_NR, (int64_t)BASE);
		g_assert_cmpint(mm_madvise(mm, BASE + P(1), P(1), MM_MADV_GUARD_INSTALL), ==, 0);
		g_assert_cmpuint(vmas_in(mm, M(1)), ==, 1);
		g_assert_cmpuint(!!(flags_at(mm, P(3)) & MM_VM_MAYBE_GUARD), ==, on);
		g_assert_cmpint(mm_mprotect(mm, BASE + P(2), P(1), RO), ==, 0);
		g_assert_cmpuint(vmas_in(mm, M(1)), ==, 3);
		for (uint64_t pg = 0; pg < 4; pg++)
			g_assert_cmpuint(!!(flags_at(mm, P(pg)) & MM_VM_MAYBE_GUARD), ==, on);
		char buf[128];
		mm_format_vmflags(flags_at(mm, 0), buf, sizeof(buf));
		g_assert_cmpuint(strstr(buf, "gu ") != NULL, ==, on);
		mmt_assert_checked(mm);
		mm_destroy(mm);
	}
}

/* ---- pkeys ----------------------------------------------------------------------------- */

static void touch_is(mm_state *mm, uint64_t off, mm_access a, mm_touch_outcome o, uint32_t pf)
{
	mm_touch_result r = mm_touch(mm, BASE + off, a);
	g_assert_cmpint(r.outcome, ==, o);
	g_assert_cmpuint(r.pf_error, ==, pf);
	mmt_assert_checked(mm);
}

/* With OSPKE a PROT_EXEC-only mapping gets the execute-only key 1 [SRC
 * do_mmap, __execute_only_pkey]: a data access faults with SEGV_PKUERR, with
 * the error code of a not-present page before an instruction fetch maps it
 * (access_error -> arch_vma_access_permitted) and P|PK after (the PTE carries
 * the key, SDM 3A 4.6.2); the fetch works and, zero page on, maps the zero
 * page. mlock cannot populate it (check_vma_flags: ENOMEM), MAP_POPULATE
 * leaves it empty. The key is part of the flags: --x next to a VMA made --x
 * by mprotect merges (same key), and mprotect to r-x returns it to key 0
 * [SRC __arch_override_mprotect_pkey]. pkeys=off: the same steps as Linux
 * without PKU [LIVE: corpus/traces/touch-writeonly-execonly.trace]. */
static void test_pkeys(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = base_config();
		cfg.pkeys = on;
		mm_state *mm = create(&cfg);
		do_mmap(mm, 0, P(2), MM_PROT_EXEC, ANON_NR, (int64_t)BASE);
		g_assert_cmpuint(flags_at(mm, 0) & MM_VM_PKEY_MASK, ==, on ? 1ull << MM_VM_PKEY_SHIFT : 0);
		if (on) {
			touch_is(mm, 0, MM_ACCESS_READ, MM_TOUCH_SEGV_PKUERR, 0x4);
			touch_is(mm, 0, MM_ACCESS_WRITE, MM_TOUCH_SEGV_PKUERR, 0x6);
			touch_ok(mm, 0, MM_ACCESS_EXEC);
			unsigned level;
			uint64_t e = leaf_entry(mm, BASE, &level);
			g_assert_cmpuint((e >> X86_PK_SHIFT) & 15, ==, 1);
			touch_is(mm, 0, MM_ACCESS_READ, MM_TOUCH_SEGV_PKUERR, 0x25);
			touch_is(mm, 0, MM_ACCESS_WRITE, MM_TOUCH_SEGV_PKUERR, 0x27);
			g_assert_cmpint(mm_mlock2(mm, BASE + P(1), P(1), 0), ==, -ENOMEM);
			g_assert_cmpuint(count_pages(mm, P(1), 1, MM_PAGE_NONE), ==, 1);
		} else {
			touch_ok(mm, 0, MM_ACCESS_READ);
			touch_is(mm, 0, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
			touch_ok(mm, 0, MM_ACCESS_EXEC);
			g_assert_cmpint(mm_mlock2(mm, BASE + P(1), P(1), 0), ==, 0);
			g_assert_cmpuint(count_pages(mm, P(1), 1, MM_PAGE_ZERO), ==, 1);
		}
		g_assert_cmpuint(count_pages(mm, 0, 1, MM_PAGE_ZERO), ==, 1);
		do_mmap(mm, P(4), P(2), MM_PROT_EXEC, ANON_NR | MM_MAP_POPULATE, (int64_t)(BASE + P(4)));
		g_assert_cmpuint(count_pages(mm, P(4), 2, on ? MM_PAGE_NONE : MM_PAGE_ZERO), ==, 2);
		/* r-x at P(2)..P(4), then --x: the same key as its neighbours */
		do_mmap(mm, P(2), P(2), RX, ANON_NR, (int64_t)(BASE + P(2)));
		g_assert_cmpint(mm_munlock(mm, BASE, P(2)), ==, 0);
		g_assert_cmpuint(vmas_in(mm, P(6)), ==, 3);
		g_assert_cmpint(mm_mprotect(mm, BASE + P(2), P(2), MM_PROT_EXEC), ==, 0);
		mmt_assert_checked(mm);
		g_assert_cmpuint(vmas_in(mm, P(6)), ==, 1);
		/* away from PROT_EXEC-only: key 0 again, and readable */
		g_assert_cmpint(mm_mprotect(mm, BASE, P(1), RX), ==, 0);
		mmt_assert_checked(mm);
		g_assert_cmpuint(flags_at(mm, 0) & MM_VM_PKEY_MASK, ==, 0);
		g_assert_cmpuint(vmas_in(mm, P(6)), ==, 2);
		touch_ok(mm, 0, MM_ACCESS_READ);
		mm_destroy(mm);
	}
}

/* ---- kernel ---------------------------------------------------------------------------- */

static void test_kernel_version(void)
{
	mm_config cfg;
	mm_config_default(&cfg);
	g_assert_cmpuint(cfg.kernel_version, ==, 618);
	g_assert_true(mm_config_supported(&cfg));
	cfg.kernel_version = 612; /* docs/versions.md */
	g_assert_true(mm_config_supported(&cfg));
	cfg.kernel_version = 601;
	g_assert_true(mm_config_supported(&cfg));
	cfg.kernel_version = 606;
	g_assert_false(mm_config_supported(&cfg));
	mm_config_default(&cfg);
	cfg.overcommit = 3;
	g_assert_false(mm_config_supported(&cfg));
}

/* With the default profile nothing changed: the zero page, THP only in hg
 * VMAs, no memlock limit, no sd [SRC; the corpus covers the rest]. */
static void test_default_profile(void)
{
	mm_config cfg = base_config();
	mm_state *mm = create(&cfg);
	do_mmap(mm, 0, M(2), RW, ANON_NR | MM_MAP_LOCKED | MM_MAP_POPULATE, (int64_t)BASE);
	g_assert_cmpuint(count_pages(mm, 0, 512, MM_PAGE_ANON), ==, 512);
	g_assert_cmpuint(mm_locked_vm(mm), ==, 512);
	do_mmap(mm, M(4), P(2), RO, ANON_NR | MM_MAP_POPULATE, (int64_t)(BASE + M(4)));
	g_assert_cmpuint(count_pages(mm, M(4), 2, MM_PAGE_ZERO), ==, 2);
	g_assert_cmpuint(flags_at(mm, 0) & MM_VM_SOFTDIRTY, ==, 0);
	mm_destroy(mm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/profile-model/zero_page/read-fault", test_zero_page_read_fault);
	g_test_add_func("/profile-model/zero_page/readonly-and-exec", test_zero_page_readonly_and_exec);
	g_test_add_func("/profile-model/zero_page/account-and-merge", test_zero_page_account_and_merge);
	g_test_add_func("/profile-model/zero_page/populate", test_zero_page_populate);
	g_test_add_func("/profile-model/thp/modes-live", test_thp_modes_live);
	g_test_add_func("/profile-model/thp/zero-page", test_thp_zero_page);
	g_test_add_func("/profile-model/thp/collapse", test_thp_collapse);
	g_test_add_func("/profile-model/thp/alignment-any-mode", test_thp_alignment_any_mode);
	g_test_add_func("/profile-model/overcommit/noreserve", test_overcommit_noreserve);
	g_test_add_func("/profile-model/memlock/zero", test_memlock_zero);
	g_test_add_func("/profile-model/memlock/limit", test_memlock_limit);
	g_test_add_func("/profile-model/memlock/locked-vm-moves", test_memlock_locked_vm_moves);
	g_test_add_func("/profile-model/memlock/split-merge-stack", test_memlock_split_merge_stack);
	g_test_add_func("/profile-model/soft_dirty/new-vmas", test_soft_dirty);
	g_test_add_func("/profile-model/guard_flag/install", test_guard_flag);
	g_test_add_func("/profile-model/pkeys/exec-only", test_pkeys);
	g_test_add_func("/profile-model/kernel/version", test_kernel_version);
	g_test_add_func("/profile-model/default", test_default_profile);
	return g_test_run();
}

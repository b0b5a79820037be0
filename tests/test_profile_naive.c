/* The naive oracle under kernel profiles (mm_config's profile keys). Each
 * case says where its expected answer comes from:
 *   [LIVE]  observed on this machine's 6.18.44 kernel (booted with
 *           pvm_no_zero_page=1, THP madvise), as root, or for memlock as root
 *           without CAP_IPC_LOCK under `prlimit --memlock=N:N setpriv
 *           --bounding-set -ipc_lock --inh-caps -ipc_lock mmref-kernel`;
 *   [SRC]   worked out by hand from the kernel source named beside it.
 * Addresses are in pages from the arena base A. */
#include "naive.h"
#include "mm_test.h"

#include <errno.h>
#include <glib.h>

#define P MM_PAGE_SIZE
#define M2 MM_PMD_SIZE
#define A 0x100000000000ull /* arena base, 2 MiB aligned */
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define ANON_NR (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE)
#define BASE_FLAGS (MM_VM_READ | MM_VM_MAYREAD | MM_VM_MAYWRITE | MM_VM_MAYEXEC)

static mm_config base_config(void) { return mmt_config(A); }

/* This machine's profile: zero_page=off, everything else the default. */
static naive_mm *with_zero_page(bool on)
{
	mm_config cfg = base_config();
	cfg.zero_page = on;
	return naive_create(&cfg);
}

static naive_mm *with_thp(mm_thp_mode mode, bool zero_page, bool thp_zero_page)
{
	mm_config cfg = base_config();
	cfg.thp_mode = mode;
	cfg.zero_page = zero_page;
	cfg.thp_zero_page = thp_zero_page;
	return naive_create(&cfg);
}

static naive_mm *with_memlock(uint64_t bytes)
{
	mm_config cfg = base_config();
	cfg.zero_page = false;
	cfg.memlock = bytes;
	return naive_create(&cfg);
}

static void map_at(naive_mm *nm, uint64_t pg, uint64_t npages, uint64_t prot, uint64_t flags)
{
	g_assert_cmpint(naive_mmap(nm, A + pg * P, npages * P, prot, flags, 0, 0), ==, (int64_t)(A + pg * P));
}

static void touch(naive_mm *nm, uint64_t pg, mm_access acc)
{
	g_assert_cmpint(naive_touch(nm, A + pg * P, acc).outcome, ==, MM_TOUCH_OK);
}

static uint64_t flags_at(naive_mm *nm, uint64_t pg)
{
	mm_vma_info v;
	g_assert_cmpuint(naive_vmas(nm, A + pg * P, A + pg * P + 1, &v, 1), ==, 1);
	return v.flags;
}

static size_t nvmas(naive_mm *nm) { return naive_vmas(nm, A, A + (1ull << 30), NULL, 0); }

/* How many of the npages pages from page pg are in state st. */
static size_t count_state(naive_mm *nm, uint64_t pg, size_t npages, mm_page_state st)
{
	size_t n = 0;
	for (size_t i = 0; i < npages; i++)
		n += naive_page(nm, A + (pg + i) * P) == st;
	return n;
}

/* ---- zero_page ------------------------------------------------------------- */

/* mm/memory.c do_anonymous_page(): a read maps the zero page unless
 * mm_forbids_zeropage(); then anon_vma_prepare() and a new page.
 * mm/mprotect.c mprotect_fixup(): dropping write from an anonymous VMA without
 * an anon_vma gives VM_ACCOUNT back. The live answer is the zero_page=off one
 * (`touch +0 r` then `pages` shows anon, smaps after `mprotect r--` still `ac`)
 * [LIVE]; the zero_page=on answer is [SRC]. */
static void test_zero_page_read_fault(void)
{
	for (int on = 0; on <= 1; on++) {
		naive_mm *nm = with_zero_page(on);
		map_at(nm, 0, 4, RW, ANON_NR);
		touch(nm, 0, MM_ACCESS_READ);
		g_assert_cmpint(naive_page(nm, A), ==, on ? MM_PAGE_ZERO : MM_PAGE_ANON);
		g_assert_cmpint(naive_page(nm, A + P), ==, MM_PAGE_NONE);
		g_assert_cmpint(naive_mprotect(nm, A, 4 * P, MM_PROT_READ), ==, 0);
		g_assert_cmpint(!!(flags_at(nm, 0) & MM_VM_ACCOUNT), ==, !on);
		/* and so a read-only neighbour merges only when `ac` went:
		 *   AAAA****  ->  zero_page on: one VMA; off: two [SRC, LIVE for off] */
		map_at(nm, 4, 4, MM_PROT_READ, ANON_NR);
		g_assert_cmpuint(nvmas(nm), ==, on ? 1 : 2);
		naive_destroy(nm);
	}
}

/* MADV_POPULATE_READ faults through the same handler: anon pages and an
 * anon_vma with zero_page=off [LIVE: `madvise +0 16K populate_read`, pages anon];
 * zero pages otherwise [SRC]. Also MAP_POPULATE of a read-only mapping. */
static void test_zero_page_populate(void)
{
	for (int on = 0; on <= 1; on++) {
		naive_mm *nm = with_zero_page(on);
		map_at(nm, 0, 4, RW, ANON_NR | MM_MAP_NORESERVE);
		g_assert_cmpint(naive_madvise(nm, A, 4 * P, MM_MADV_POPULATE_READ), ==, 0);
		g_assert_cmpuint(count_state(nm, 0, 4, on ? MM_PAGE_ZERO : MM_PAGE_ANON), ==, 4);
		map_at(nm, 8, 2, MM_PROT_READ, ANON_NR | MM_MAP_POPULATE);
		g_assert_cmpuint(count_state(nm, 8, 2, on ? MM_PAGE_ZERO : MM_PAGE_ANON), ==, 2);
		naive_destroy(nm);
	}
}

/* ---- thp, thp_zero_page ----------------------------------------------------- */

/* include/linux/huge_mm.h thp_vma_allowable_orders(): the PMD order is
 * "inherit": allowed for every anonymous VMA under `always`, only VM_HUGEPAGE
 * ones under `madvise`, none under `never`; VM_NOHUGEPAGE always refuses
 * (vma_thp_disabled). mm/huge_memory.c do_huge_pmd_anonymous_page(): a write
 * maps a THP [SRC; LIVE for madvise]. */
static void test_thp_mode_write_fault(void)
{
	struct {
		mm_thp_mode mode;
		int madv; /* 0 none, MM_MADV_HUGEPAGE, MM_MADV_NOHUGEPAGE */
		size_t anon;
	} cases[] = {
		{MM_THP_ALWAYS, 0, 512},     {MM_THP_ALWAYS, MM_MADV_HUGEPAGE, 512}, {MM_THP_ALWAYS, MM_MADV_NOHUGEPAGE, 1},
		{MM_THP_MADVISE, 0, 1},      {MM_THP_MADVISE, MM_MADV_HUGEPAGE, 512}, {MM_THP_NEVER, 0, 1},
		{MM_THP_NEVER, MM_MADV_HUGEPAGE, 1},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		naive_mm *nm = with_thp(cases[i].mode, true, true);
		map_at(nm, 0, 1024, RW, ANON_NR);
		if (cases[i].madv)
			g_assert_cmpint(naive_madvise(nm, A, 2 * M2, cases[i].madv), ==, 0);
		touch(nm, 3, MM_ACCESS_WRITE);
		g_assert_cmpuint(count_state(nm, 0, 512, MM_PAGE_ANON), ==, cases[i].anon);
		naive_destroy(nm);
	}
}

/* A read fault in a THP-eligible block: the huge zero page only with both
 * zero_page and thp_zero_page (do_huge_pmd_anonymous_page), else a THP
 * [SRC; LIVE for zero_page=off under madvise+hg: 512 anon pages]. Not eligible
 * (madvise mode, no hg): the 4 KiB rule of do_anonymous_page [SRC]. */
static void test_thp_read_fault(void)
{
	struct {
		mm_thp_mode mode;
		bool zp, hzp;
		mm_page_state st;
		size_t n;
	} cases[] = {
		{MM_THP_ALWAYS, true, true, MM_PAGE_ZERO, 512},   {MM_THP_ALWAYS, true, false, MM_PAGE_ANON, 512},
		{MM_THP_ALWAYS, false, true, MM_PAGE_ANON, 512},  {MM_THP_ALWAYS, false, false, MM_PAGE_ANON, 512},
		{MM_THP_MADVISE, true, true, MM_PAGE_ZERO, 1},    {MM_THP_MADVISE, false, true, MM_PAGE_ANON, 1},
		{MM_THP_NEVER, true, false, MM_PAGE_ZERO, 1},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		naive_mm *nm = with_thp(cases[i].mode, cases[i].zp, cases[i].hzp);
		map_at(nm, 0, 512, RW, ANON_NR);
		touch(nm, 7, MM_ACCESS_READ);
		g_assert_cmpuint(count_state(nm, 0, 512, cases[i].st), ==, cases[i].n);
		g_assert_cmpuint(count_state(nm, 0, 512, MM_PAGE_NONE), ==, 512 - cases[i].n);
		naive_destroy(nm);
	}
	/* madvise mode with hg, zero_page=off: the read maps a THP [LIVE] */
	naive_mm *nm = with_thp(MM_THP_MADVISE, false, true);
	map_at(nm, 0, 1024, RW, ANON_NR);
	g_assert_cmpint(naive_madvise(nm, A, M2, MM_MADV_HUGEPAGE), ==, 0);
	touch(nm, 0, MM_ACCESS_READ);
	g_assert_cmpuint(count_state(nm, 0, 512, MM_PAGE_ANON), ==, 512);
	g_assert_cmpuint(count_state(nm, 512, 512, MM_PAGE_NONE), ==, 512);
	naive_destroy(nm);
}

/* mm/khugepaged.c madvise_collapse() with TVA_FORCED_COLLAPSE: the sysfs mode
 * does not matter [SRC]. Never-touched VMA (no anon_vma): EINVAL [LIVE]. A
 * block with no page table stops the walk with EINVAL, later blocks are not
 * collapsed [LIVE: 6M VMA, writes at +0 and +4M, collapse 6M => EINVAL, +4M+4K
 * still none]. A table with no present entries collapses [LIVE]. */
static void test_collapse(void)
{
	mm_thp_mode modes[] = {MM_THP_NEVER, MM_THP_MADVISE, MM_THP_ALWAYS};
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		naive_mm *nm = with_thp(modes[i], false, true);
		/* NOHUGEPAGE keeps `always` from faulting THPs in, so that the
		 * blocks are PTE-mapped; then HUGEPAGE again for the collapse */
		map_at(nm, 0, 1536, RW, ANON_NR);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_NOHUGEPAGE), ==, 0);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_COLLAPSE), ==, -EINVAL); /* nh */
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_HUGEPAGE), ==, 0);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_COLLAPSE), ==, -EINVAL); /* no anon_vma */
		naive_destroy(nm);

		nm = with_thp(modes[i], false, true);
		map_at(nm, 0, 1536, RW, ANON_NR);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_NOHUGEPAGE), ==, 0);
		touch(nm, 0, MM_ACCESS_WRITE);
		touch(nm, 1024, MM_ACCESS_WRITE);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_HUGEPAGE), ==, 0);
		g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_COLLAPSE), ==, -EINVAL);
		g_assert_cmpuint(count_state(nm, 0, 512, MM_PAGE_ANON), ==, 512);  /* collapsed */
		g_assert_cmpuint(count_state(nm, 1024, 512, MM_PAGE_ANON), ==, 1); /* not reached */
		/* a table whose only page was zapped still collapses */
		touch(nm, 512, MM_ACCESS_WRITE);
		g_assert_cmpint(naive_madvise(nm, A + 512 * P, P, MM_MADV_DONTNEED), ==, 0);
		g_assert_cmpint(naive_madvise(nm, A + 512 * P, 2 * M2, MM_MADV_COLLAPSE), ==, 0);
		g_assert_cmpuint(count_state(nm, 512, 1024, MM_PAGE_ANON), ==, 1024);
		naive_destroy(nm);
	}
}

/* mm/mmap.c __get_unmapped_area(): a no-hint anonymous length-multiple-of-2MiB
 * mapping goes through thp_get_unmapped_area_vmflags() whatever the THP mode
 * (only CONFIG_TRANSPARENT_HUGEPAGE is tested) [SRC]. */
static void test_thp_alignment_any_mode(void)
{
	mm_thp_mode modes[] = {MM_THP_NEVER, MM_THP_MADVISE, MM_THP_ALWAYS};
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		naive_mm *nm = with_thp(modes[i], true, true);
		map_at(nm, 262143, 1, RW, ANON_NR); /* the top page of the window */
		int64_t r = naive_mmap(nm, 0, M2, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0);
		g_assert_cmpint(r, >, 0);
		g_assert_cmpuint((uint64_t)r % M2, ==, 0);
		naive_destroy(nm);
	}
}

/* ---- overcommit --------------------------------------------------------------- */

/* mm/mmap.c do_mmap(): MAP_NORESERVE gives VM_NORESERVE only when
 * sysctl_overcommit_memory != OVERCOMMIT_NEVER; accountable_mapping() then
 * gives VM_ACCOUNT to a private writable mapping [SRC]. MAP_DROPPABLE's
 * VM_NORESERVE does not depend on it [SRC]. */
static void test_overcommit_noreserve(void)
{
	for (unsigned oc = 0; oc <= 2; oc++) {
		mm_config cfg = base_config();
		cfg.overcommit = oc;
		naive_mm *nm = naive_create(&cfg);
		map_at(nm, 0, 4, RW, ANON_NR | MM_MAP_NORESERVE);
		uint64_t f = flags_at(nm, 0);
		g_assert_cmpint(!!(f & MM_VM_NORESERVE), ==, oc != 2);
		g_assert_cmpint(!!(f & MM_VM_ACCOUNT), ==, oc == 2);
		/* with overcommit 2 it merges with a plain neighbour */
		map_at(nm, 4, 4, RW, ANON_NR);
		g_assert_cmpuint(nvmas(nm), ==, oc == 2 ? 1 : 2);
		map_at(nm, 16, 4, RW, MM_MAP_DROPPABLE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE);
		g_assert_cmpint(!!(flags_at(nm, 16) & MM_VM_NORESERVE), ==, 1);
		naive_destroy(nm);
	}
}

/* ---- memlock -------------------------------------------------------------------- */

/* mm/mlock.c can_do_mlock(): RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK: mlock,
 * mlock2 and MAP_LOCKED are EPERM, munlock is not [LIVE memlock=0]. A limit
 * below one page is no pages: ENOMEM / EAGAIN [LIVE memlock=16 bytes]. */
static void test_memlock_zero(void)
{
	naive_mm *nm = with_memlock(0);
	map_at(nm, 0, 2, RW, ANON_NR);
	g_assert_cmpint(naive_mlock2(nm, A, P, 0), ==, -EPERM);
	g_assert_cmpint(naive_mlock2(nm, A, P, MM_MLOCK_ONFAULT), ==, -EPERM);
	g_assert_cmpint(naive_mlock2(nm, A, P, 2), ==, -EINVAL); /* flags first */
	g_assert_cmpint(naive_munlock(nm, A, P), ==, 0);
	g_assert_cmpint(naive_mmap(nm, A + 16 * P, P, RW, ANON_NR | MM_MAP_LOCKED, 0, 0), ==, -EPERM);
	map_at(nm, 32, 1, RW, ANON_NR);
	naive_destroy(nm);

	nm = with_memlock(16);
	map_at(nm, 0, 2, RW, ANON_NR);
	g_assert_cmpint(naive_mlock2(nm, A, P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mmap(nm, A + 16 * P, P, RW, ANON_NR | MM_MAP_LOCKED, 0, 0), ==, -EAGAIN);
	naive_destroy(nm);
}

/* do_mlock(): len + locked_vm over the limit, less the pages of the range
 * already locked (count_mm_mlocked_page_nr), is ENOMEM; mlock_future_ok() for
 * MAP_LOCKED does not subtract anything: EAGAIN [LIVE memlock=16384]. */
static void test_memlock_mlock(void)
{
	naive_mm *nm = with_memlock(16384);
	map_at(nm, 0, 8, RW, ANON_NR);
	g_assert_cmpint(naive_mlock2(nm, A, 4 * P, 0), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 4);
	g_assert_cmpint(naive_mlock2(nm, A, 5 * P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mlock2(nm, A, 4 * P, 0), ==, 0); /* already locked: fits */
	g_assert_cmpint(naive_mlock2(nm, A + 4 * P, P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mmap(nm, A + 16 * P, P, RW, ANON_NR | MM_MAP_LOCKED, 0, 0), ==, -EAGAIN);
	g_assert_cmpint(naive_munlock(nm, A, 2 * P), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2);
	map_at(nm, 16, 1, RW, ANON_NR | MM_MAP_LOCKED);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 3);
	g_assert_cmpint(naive_mlock2(nm, A + 2 * P, 2 * P, 0), ==, 0);
	g_assert_cmpint(naive_mlock2(nm, A + 2 * P, 3 * P, 0), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 4);
	/*   ..LLL...  L.: pages 2-4 and 16 locked */
	g_assert_cmpuint(nvmas(nm), ==, 4);
	g_assert_cmpint(!!(flags_at(nm, 2) & MM_VM_LOCKED), ==, 1);
	g_assert_cmpint(!!(flags_at(nm, 5) & MM_VM_LOCKED), ==, 0);
	/* LOCKED -> LOCKED|ONFAULT counts nothing new (mlock_fixup) [SRC] */
	g_assert_cmpint(naive_mlock2(nm, A + 2 * P, 3 * P, MM_MLOCK_ONFAULT), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 4);
	/* MAP_FIXED over a locked VMA takes its pages off [LIVE] */
	map_at(nm, 16, 1, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 3);
	g_assert_cmpint(naive_munmap(nm, A + 3 * P, P), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2);
	naive_destroy(nm);
}

/* mm/mremap.c check_prep_vma(): growing a locked VMA needs mlock_future_ok
 * (EAGAIN); expand_vma_in_place and move_vma add to locked_vm, the source's
 * unmap takes off; MREMAP_DONTUNMAP unlocks the source without taking it
 * off, so locked_vm grows [LIVE memlock=16384, all three]. */
static void test_memlock_mremap(void)
{
	naive_mm *nm = with_memlock(16384);
	map_at(nm, 0, 2, RW, ANON_NR | MM_MAP_LOCKED);
	g_assert_cmpint(naive_mremap(nm, A, 2 * P, 4 * P, 0, 0), ==, (int64_t)A);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 4);
	g_assert_cmpint(naive_mremap(nm, A, 4 * P, 5 * P, 0, 0), ==, -EAGAIN);
	g_assert_cmpint(naive_mremap(nm, A, 4 * P, 2 * P, 0, 0), ==, (int64_t)A);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2);
	naive_destroy(nm);

	/* a plain move: locked_vm unchanged */
	nm = with_memlock(16384);
	map_at(nm, 512, 4, RW, ANON_NR);
	map_at(nm, 0, 2, RW, ANON_NR | MM_MAP_LOCKED);
	g_assert_cmpint(naive_mremap(nm, A, 2 * P, 2 * P, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, A + 256 * P), ==,
	                (int64_t)(A + 256 * P));
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2);
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, 2 * P, 0), ==, 0);
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, 3 * P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mremap(nm, A + 256 * P, 2 * P, 4 * P, MM_MREMAP_MAYMOVE, 0), ==, -EAGAIN);
	naive_destroy(nm);

	/* DONTUNMAP: the source loses `lo`, keeps `ac`; locked_vm 2 -> 4 */
	nm = with_memlock(16384);
	map_at(nm, 512, 4, RW, ANON_NR);
	map_at(nm, 0, 2, RW, ANON_NR | MM_MAP_LOCKED);
	g_assert_cmpint(naive_mremap(nm, A, 2 * P, 2 * P, MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP, A + 256 * P), ==,
	                (int64_t)(A + 256 * P));
	g_assert_cmpuint(naive_locked_vm(nm), ==, 4);
	g_assert_cmpuint(flags_at(nm, 0) & (MM_VM_LOCKED | MM_VM_ACCOUNT), ==, MM_VM_ACCOUNT);
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_munmap(nm, A, 2 * P), ==, 0);
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_munmap(nm, A + 256 * P, 2 * P), ==, 0);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2); /* the drift stays */
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, 2 * P, 0), ==, 0);
	g_assert_cmpint(naive_mlock2(nm, A + 512 * P, 3 * P, 0), ==, -ENOMEM);
	naive_destroy(nm);
}

/* Unlimited (the default): no limit at all [SRC]. */
static void test_memlock_unlimited(void)
{
	mm_config cfg = base_config();
	naive_mm *nm = naive_create(&cfg);
	map_at(nm, 0, 1024, RW, ANON_NR | MM_MAP_LOCKED);
	g_assert_cmpint(naive_mremap(nm, A, 1024 * P, 2048 * P, 0, 0), ==, (int64_t)A);
	g_assert_cmpuint(naive_locked_vm(nm), ==, 2048);
	naive_destroy(nm);
}

/* ---- soft_dirty ---------------------------------------------------------------- */

/* mm/vma.c __mmap_complete(): the new or expanded VMA gets VM_SOFTDIRTY;
 * splits and mremap's copy_vma inherit it; VM_SOFTDIRTY is in VM_IGNORE_MERGE
 * (and VM_STICKY) so merges happen as without it [SRC]. Off: never `sd`. */
static void test_soft_dirty(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = base_config();
		cfg.soft_dirty = on;
		naive_mm *nm = naive_create(&cfg);
		map_at(nm, 0, 4, RW, ANON_NR);
		g_assert_cmpint(!!(flags_at(nm, 0) & MM_VM_SOFTDIRTY), ==, on);
		map_at(nm, 4, 4, RW, ANON_NR); /* merges */
		g_assert_cmpuint(nvmas(nm), ==, 1);
		g_assert_cmpint(naive_mprotect(nm, A + 2 * P, P, MM_PROT_READ), ==, 0);
		g_assert_cmpuint(nvmas(nm), ==, 3);
		for (uint64_t pg = 0; pg < 8; pg++)
			g_assert_cmpint(!!(flags_at(nm, pg) & MM_VM_SOFTDIRTY), ==, on);
		g_assert_cmpint(naive_mprotect(nm, A + 2 * P, P, RW), ==, 0); /* merges back */
		g_assert_cmpuint(nvmas(nm), ==, 1);
		g_assert_cmpint(naive_mremap(nm, A, 8 * P, 8 * P, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, A + 64 * P), ==,
		                (int64_t)(A + 64 * P));
		g_assert_cmpint(!!(flags_at(nm, 64) & MM_VM_SOFTDIRTY), ==, on);
		g_assert_cmpuint(flags_at(nm, 64) & ~(uint64_t)MM_VM_SOFTDIRTY, ==,
		                 BASE_FLAGS | MM_VM_WRITE | MM_VM_ACCOUNT);
		naive_destroy(nm);
	}
}

/* ---- guard_flag ---------------------------------------------------------------- */

/* madvise_guard_install() marks the whole VMA VM_MAYBE_GUARD (`gu`, 6.19's,
 * taken by later 6.18 stables) without a split; the flag is sticky across
 * splits. Without it (6.18.15 [LIVE: vm boot of Debian 6.18.15]) the guard
 * still works and no VMA shows `gu`. */
static void test_guard_flag(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = base_config();
		cfg.guard_flag = on;
		naive_mm *nm = naive_create(&cfg);
		map_at(nm, 0, 4, RW, ANON_NR);
		g_assert_cmpint(naive_madvise(nm, A + P, P, MM_MADV_GUARD_INSTALL), ==, 0);
		g_assert_cmpuint(nvmas(nm), ==, 1);
		g_assert_cmpint(!!(flags_at(nm, 3) & MM_VM_MAYBE_GUARD), ==, on);
		g_assert_cmpint(naive_mprotect(nm, A + 2 * P, P, MM_PROT_READ), ==, 0);
		g_assert_cmpuint(nvmas(nm), ==, 3);
		for (uint64_t pg = 0; pg < 4; pg++)
			g_assert_cmpint(!!(flags_at(nm, pg) & MM_VM_MAYBE_GUARD), ==, on);
		naive_destroy(nm);
	}
}

/* ---- pkeys ---------------------------------------------------------------------- */

static void touch_is(naive_mm *nm, uint64_t pg, mm_access acc, mm_touch_outcome o, uint32_t pf)
{
	mm_touch_result r = naive_touch(nm, A + pg * P, acc);
	g_assert_cmpint(r.outcome, ==, o);
	g_assert_cmpuint(r.pf_error, ==, pf);
}

/* OSPKE [SRC do_mmap, __execute_only_pkey, access_error,
 * bad_area_access_error, check_vma_flags, __arch_override_mprotect_pkey]:
 * PROT_EXEC alone gets the execute-only key; data accesses are SEGV_PKUERR
 * (P|PK once a fetch has mapped the page), fetches work, populating fails,
 * a fork keeps it, and any other prot gives key 0 back. Without OSPKE such
 * memory is readable [LIVE: corpus/traces/touch-writeonly-execonly.trace]. */
static void test_pkeys(void)
{
	for (int on = 0; on <= 1; on++) {
		mm_config cfg = base_config();
		cfg.pkeys = on;
		cfg.zero_page = true;
		naive_mm *nm = naive_create(&cfg);
		map_at(nm, 0, 2, MM_PROT_EXEC, ANON_NR);
		g_assert_cmpuint(flags_at(nm, 0) & MM_VM_PKEY_MASK, ==, on ? 1ull << MM_VM_PKEY_SHIFT : 0);
		if (on) {
			touch_is(nm, 0, MM_ACCESS_READ, MM_TOUCH_SEGV_PKUERR, 0x4);
			touch_is(nm, 1, MM_ACCESS_WRITE, MM_TOUCH_SEGV_PKUERR, 0x6);
			touch(nm, 0, MM_ACCESS_EXEC);
			touch_is(nm, 0, MM_ACCESS_READ, MM_TOUCH_SEGV_PKUERR, 0x25);
			touch_is(nm, 0, MM_ACCESS_WRITE, MM_TOUCH_SEGV_PKUERR, 0x27);
			g_assert_cmpint(naive_mlock2(nm, A + P, P, 0), ==, -ENOMEM);
			g_assert_cmpuint(count_state(nm, 1, 1, MM_PAGE_NONE), ==, 1);
			g_assert_cmpint(naive_madvise(nm, A, 2 * P, MM_MADV_POPULATE_READ), ==, -EINVAL);
		} else {
			touch(nm, 0, MM_ACCESS_READ);
			touch_is(nm, 0, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
			g_assert_cmpint(naive_mlock2(nm, A + P, P, 0), ==, 0);
			g_assert_cmpuint(count_state(nm, 1, 1, MM_PAGE_ZERO), ==, 1);
		}
		/* the child's copy keeps the key */
		g_assert_cmpint(naive_fork(nm), >, 0);
		g_assert_cmpuint(flags_at(nm, 0) & MM_VM_PKEY_MASK, ==, on ? 1ull << MM_VM_PKEY_SHIFT : 0);
		g_assert_cmpint(naive_munlock(nm, A, 2 * P), ==, 0);
		map_at(nm, 2, 2, MM_PROT_READ | MM_PROT_EXEC, ANON_NR);
		g_assert_cmpuint(nvmas(nm), ==, 2);
		g_assert_cmpint(naive_mprotect(nm, A + 2 * P, 2 * P, MM_PROT_EXEC), ==, 0);
		g_assert_cmpuint(nvmas(nm), ==, 1);
		g_assert_cmpint(naive_mprotect(nm, A, P, MM_PROT_NONE), ==, 0);
		g_assert_cmpuint(flags_at(nm, 0) & MM_VM_PKEY_MASK, ==, 0);
		g_assert_cmpuint(nvmas(nm), ==, 2);
		naive_destroy(nm);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/profile-naive/zero-page/read-fault", test_zero_page_read_fault);
	g_test_add_func("/profile-naive/zero-page/populate", test_zero_page_populate);
	g_test_add_func("/profile-naive/thp/write-fault", test_thp_mode_write_fault);
	g_test_add_func("/profile-naive/thp/read-fault", test_thp_read_fault);
	g_test_add_func("/profile-naive/thp/collapse", test_collapse);
	g_test_add_func("/profile-naive/thp/alignment", test_thp_alignment_any_mode);
	g_test_add_func("/profile-naive/overcommit/noreserve", test_overcommit_noreserve);
	g_test_add_func("/profile-naive/memlock/zero", test_memlock_zero);
	g_test_add_func("/profile-naive/memlock/mlock", test_memlock_mlock);
	g_test_add_func("/profile-naive/memlock/mremap", test_memlock_mremap);
	g_test_add_func("/profile-naive/memlock/unlimited", test_memlock_unlimited);
	g_test_add_func("/profile-naive/soft-dirty", test_soft_dirty);
	g_test_add_func("/profile-naive/guard-flag", test_guard_flag);
	g_test_add_func("/profile-naive/pkeys", test_pkeys);
	return g_test_run();
}

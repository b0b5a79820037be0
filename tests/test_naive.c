/* Hand-worked cases for the naive oracle. Every expected layout below was
 * also run on the live 6.18.44 kernel (same addresses relative to an arena)
 * and agreed with it. Pictures: one character per page, letters name VMAs,
 * '.' is a hole, '*' marks the range an operation works on. */
#include "naive.h"
#include "mm_test.h"

#include <errno.h>
#include <glib.h>

#define P MM_PAGE_SIZE
#define M2 MM_PMD_SIZE
#define A 0x100000000000ull /* arena base */
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define ANON_NR (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE)
#define NORES (ANON_NR | MM_MAP_NORESERVE)
#define MF (MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED)

static naive_mm *fresh(void)
{
	mm_config cfg = mmt_config(A);
	return naive_create(&cfg);
}

/* The layout as "start-end" page numbers relative to A, e.g. "0-5 5-10". */
static char *layout(naive_mm *nm)
{
	mm_vma_info v[64];
	size_t n = naive_vmas(nm, A, A + (1ull << 30), v, 64);
	GString *s = g_string_new("");
	for (size_t i = 0; i < n && i < 64; i++)
		g_string_append_printf(s, "%s%llu-%llu", i ? " " : "", (unsigned long long)((v[i].start - A) / P),
		                       (unsigned long long)((v[i].end - A) / P));
	return g_string_free(s, FALSE);
}

#define ASSERT_LAYOUT(nm, want)                                                                            \
	do {                                                                                               \
		char *got_ = layout(nm);                                                                   \
		g_assert_cmpstr(got_, ==, want);                                                           \
		g_free(got_);                                                                              \
	} while (0)

static uint64_t flags_at(naive_mm *nm, uint64_t addr)
{
	mm_vma_info v;
	g_assert_cmpuint(naive_vmas(nm, addr, addr + 1, &v, 1), ==, 1);
	return v.flags;
}

static void map_at(naive_mm *nm, uint64_t pg, uint64_t npages, uint64_t prot, uint64_t flags)
{
	g_assert_cmpint(naive_mmap(nm, A + pg * P, npages * P, prot, flags, 0, 0), ==, (int64_t)(A + pg * P));
}

static void touch_ok(naive_mm *nm, uint64_t pg, mm_access acc)
{
	mm_touch_result t = naive_touch(nm, A + pg * P, acc);
	g_assert_cmpint(t.outcome, ==, MM_TOUCH_OK);
}

/* ---- errno tables ------------------------------------------------------------ */

static void test_mmap_errno(void)
{
	naive_mm *nm = fresh();
	int f = naive_file_create(nm, 10 * P);
	map_at(nm, 0, 16, RW, ANON_NR);
	struct {
		uint64_t addr, len, prot, flags;
		int file;
		uint64_t off;
		int64_t want;
	} t[] = {
	    {A + 100 * P, P, RW, ANON_NR, 0, 1, -EINVAL},                    /* unaligned offset */
	    {A + 100 * P, P, RW, MM_MAP_PRIVATE, 7, 0, -EBADF},             /* no such file */
	    {A + 100 * P, 0, RW, ANON_NR, 0, 0, -EINVAL},                    /* len 0 */
	    {A + 100 * P, UINT64_MAX, RW, ANON_NR, 0, 0, -ENOMEM},           /* len wraps */
	    {A + 4 * P, P, RW, ANON_NR, 0, 0, -EEXIST},                      /* NOREPLACE over a VMA */
	    {A + 100 * P + 1, P, RW, ANON_NR, 0, 0, -EINVAL},                /* FIXED unaligned */
	    {MM_TASK_SIZE, P, RW, ANON_NR, 0, 0, -ENOMEM},                   /* beyond TASK_SIZE */
	    {A + 100 * P, P, RW, MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0, -EINVAL}, /* type 0 */
	    {A + 100 * P, P, RW, MM_MAP_SHARED_VALIDATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0, -EINVAL},
	    {A + 100 * P, P, RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED | MM_MAP_GROWSDOWN, 0, 0, -EINVAL},
	    {A + 100 * P, P, RW, MM_MAP_DROPPABLE | MM_MAP_ANONYMOUS | MM_MAP_FIXED | MM_MAP_LOCKED, 0, 0, -EINVAL},
	    {A + 100 * P, P, RW, MM_MAP_PRIVATE | MM_MAP_FIXED | MM_MAP_GROWSDOWN, f, 0, -EINVAL},
	    {A + 100 * P, P, RW, MM_MAP_SHARED_VALIDATE | MM_MAP_FIXED_NOREPLACE, f, 0, -EOPNOTSUPP},
	    {A + 100 * P, P, RW, MM_MAP_SHARED | MM_MAP_FIXED_NOREPLACE | 0x200000, f, 0, (int64_t)(A + 100 * P)},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		int64_t r = naive_mmap(nm, t[i].addr, t[i].len, t[i].prot, t[i].flags, t[i].file, t[i].off);
		if (r != t[i].want)
			g_error("mmap case %zu: got %lld want %lld", i, (long long)r, (long long)t[i].want);
	}
	naive_destroy(nm);
}

static void test_munmap_mprotect_errno(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 8, RW, ANON_NR);
	g_assert_cmpint(naive_munmap(nm, A + 1, P), ==, -EINVAL);
	g_assert_cmpint(naive_munmap(nm, A, 0), ==, -EINVAL);
	g_assert_cmpint(naive_munmap(nm, MM_TASK_SIZE, P), ==, -EINVAL);
	g_assert_cmpint(naive_munmap(nm, A + 100 * P, P), ==, 0); /* nothing there: fine */
	g_assert_cmpint(naive_mprotect(nm, A + 1, P, 0), ==, -EINVAL);
	g_assert_cmpint(naive_mprotect(nm, A, 0, 0x100), ==, 0);  /* len 0 wins */
	g_assert_cmpint(naive_mprotect(nm, A, P, 0x100), ==, -EINVAL);
	g_assert_cmpint(naive_mprotect(nm, A, P, MM_PROT_READ | MM_PROT_SEM), ==, 0);
	g_assert_cmpint(naive_mprotect(nm, A + 100 * P, P, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mprotect(nm, A, P, MM_PROT_GROWSDOWN | MM_PROT_GROWSUP), ==, -EINVAL);
	g_assert_cmpint(naive_mprotect(nm, A, P, MM_PROT_READ | MM_PROT_GROWSDOWN), ==, -EINVAL);
	naive_destroy(nm);
}

static void test_mremap_errno(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 8, RW, ANON_NR);
	map_at(nm, 10, 2, RW, ANON_NR);
	struct {
		uint64_t addr, old_len, new_len, flags, new_addr;
		int64_t want;
	} t[] = {
	    {A + 1, P, P, 0, 0, -EINVAL},
	    {A, P, 0, 0, 0, -EINVAL},
	    {A, P, P, 8, 0, -EINVAL},
	    {A, P, P, MM_MREMAP_FIXED, A + 100 * P, -EINVAL},     /* FIXED without MAYMOVE */
	    {A, P, P, MM_MREMAP_DONTUNMAP, A + 100 * P, -EINVAL}, /* DONTUNMAP without MAYMOVE */
	    {A, P, 2 * P, MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP, A + 100 * P, -EINVAL},
	    {A, 2 * P, 2 * P, MF, A + P, -EINVAL},                /* overlap */
	    {A + 50 * P, P, 2 * P, MM_MREMAP_MAYMOVE, 0, -EFAULT}, /* no VMA */
	    {A, 0, P, MM_MREMAP_MAYMOVE, 0, -EINVAL},             /* duplicate private */
	    {A, 8 * P, 12 * P, 0, 0, -ENOMEM},                    /* cannot grow, may not move */
	    {A + 10 * P, 3 * P, 5 * P, MM_MREMAP_MAYMOVE, 0, -EFAULT}, /* old range beyond the VMA */
	    {A + 10 * P, 4 * P, 4 * P, 0, 0, (int64_t)(A + 10 * P)},   /* no-op: not validated */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		int64_t r = naive_mremap(nm, t[i].addr, t[i].old_len, t[i].new_len, t[i].flags, t[i].new_addr);
		if (r != t[i].want)
			g_error("mremap case %zu: got %lld want %lld", i, (long long)r, (long long)t[i].want);
	}
	ASSERT_LAYOUT(nm, "0-8 10-12");
	naive_destroy(nm);
}

static void test_madvise_mlock_mseal_errno(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 16, RW, ANON_NR);
	g_assert_cmpint(naive_madvise(nm, A, P, 77), ==, -EINVAL);
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_HWPOISON), ==, -EINVAL); /* no MEMORY_FAILURE */
	g_assert_cmpint(naive_madvise(nm, A + 1, P, MM_MADV_NORMAL), ==, -EINVAL);
	g_assert_cmpint(naive_madvise(nm, A, UINT64_MAX, MM_MADV_NORMAL), ==, -EINVAL);
	g_assert_cmpint(naive_madvise(nm, A, 0, MM_MADV_NORMAL), ==, 0);
	g_assert_cmpint(naive_madvise(nm, A + 100 * P, P, MM_MADV_NORMAL), ==, -ENOMEM);
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_REMOVE), ==, -EINVAL); /* anonymous */
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_POPULATE_READ), ==, 0);
	g_assert_cmpint(naive_mlock2(nm, A, P, 2), ==, -EINVAL);
	g_assert_cmpint(naive_mlock2(nm, A, 20 * P, 0), ==, -ENOMEM); /* runs past the last VMA */
	g_assert_true(flags_at(nm, A) & MM_VM_LOCKED);                 /* ... after locking it */
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_DONTNEED), ==, -EINVAL);
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_GUARD_INSTALL), ==, -EINVAL);
	g_assert_cmpint(naive_madvise(nm, A, P, MM_MADV_DONTNEED_LOCKED), ==, 0);
	g_assert_cmpint(naive_munlock(nm, A, 16 * P), ==, 0);
	g_assert_cmpint(naive_mseal(nm, A, P, 1), ==, -EINVAL);
	g_assert_cmpint(naive_mseal(nm, A, 30 * P, 0), ==, -ENOMEM); /* hole: nothing sealed */
	g_assert_false(flags_at(nm, A) & MM_VM_SEALED);
	naive_destroy(nm);
}

/* ---- merge scenarios (tools/testing/selftests/mm/merge.c) ---------------------- */

/* mprotect_unfaulted_left:
 *   AAAAABBBBB   A read-only, B read-write (NORESERVE, so no VM_ACCOUNT)
 *        *****   fault B, make it read-only -> AAAAAAAAAA */
static void test_merge_mprotect_unfaulted_left(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 10, RW, NORES);
	g_assert_cmpint(naive_mprotect(nm, A, 5 * P, MM_PROT_READ), ==, 0);
	ASSERT_LAYOUT(nm, "0-5 5-10");
	touch_ok(nm, 5, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mprotect(nm, A + 5 * P, 5 * P, MM_PROT_READ), ==, 0);
	ASSERT_LAYOUT(nm, "0-10");
	naive_destroy(nm);
}

/* mprotect_unfaulted_right: BBBBBAAAAA, fault B (left) then RO -> one VMA */
static void test_merge_mprotect_unfaulted_right(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 10, RW, NORES);
	g_assert_cmpint(naive_mprotect(nm, A + 5 * P, 5 * P, MM_PROT_READ), ==, 0);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mprotect(nm, A, 5 * P, MM_PROT_READ), ==, 0);
	ASSERT_LAYOUT(nm, "0-10");
	naive_destroy(nm);
}

/* mprotect_unfaulted_both: AAABBBCCC, only B faulted, B -> RO: all merge */
static void test_merge_mprotect_unfaulted_both(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 9, RW, NORES);
	g_assert_cmpint(naive_mprotect(nm, A, 3 * P, MM_PROT_READ), ==, 0);
	g_assert_cmpint(naive_mprotect(nm, A + 6 * P, 3 * P, MM_PROT_READ), ==, 0);
	ASSERT_LAYOUT(nm, "0-3 3-6 6-9");
	touch_ok(nm, 3, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mprotect(nm, A + 3 * P, 3 * P, MM_PROT_READ), ==, 0);
	ASSERT_LAYOUT(nm, "0-9");
	naive_destroy(nm);
}

/* Two independently faulted VMAs A and C; a new mapping B filling the gap
 *   AAAA....CCCC  ->  AAAAAAAACCCC   (merges with A only: anon_vmas differ) */
static void test_merge_new_two_anon_vmas(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 4, RW, ANON_NR);
	map_at(nm, 8, 4, RW, ANON_NR);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	touch_ok(nm, 8, MM_ACCESS_WRITE);
	map_at(nm, 4, 4, RW, ANON_NR);
	ASSERT_LAYOUT(nm, "0-8 8-12");
	naive_destroy(nm);
}

/* mremap_unfaulted_to_faulted / behind_faulted / between_faulted */
static void test_merge_mremap_unfaulted(void)
{
	naive_mm *nm = fresh();
	/* AAAAA....  + unfaulted B at 100 moved right after faulted A: merge */
	map_at(nm, 0, 5, RW, NORES);
	map_at(nm, 100, 5, RW, NORES);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF, A + 5 * P), ==, (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-10");
	naive_destroy(nm);

	/* faulted A, hole, faulted C (own anon_vma); unfaulted B moved in:
	 *   AAAAA*****CCCCC -> left pair merges only */
	nm = fresh();
	map_at(nm, 0, 5, RW, NORES);
	map_at(nm, 10, 5, RW, NORES);
	map_at(nm, 100, 5, RW, NORES);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	touch_ok(nm, 10, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF, A + 5 * P), ==, (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-10 10-15");
	naive_destroy(nm);

	/* faulted A, unfaulted C: all three merge (15 pages) */
	nm = fresh();
	map_at(nm, 0, 5, RW, NORES);
	map_at(nm, 10, 5, RW, NORES);
	map_at(nm, 100, 5, RW, NORES);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF, A + 5 * P), ==, (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-15");
	naive_destroy(nm);
}

/* mremap_correct_placed_faulted: pieces of one faulted VMA moved away and
 * back re-merge (same anon_vma, pgoff linear again). */
static void test_merge_mremap_correct_placed_faulted(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 15, RW, NORES);
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 5 * P, 5 * P, 5 * P, MF, A + 100 * P), ==, (int64_t)(A + 100 * P));
	ASSERT_LAYOUT(nm, "0-5 10-15 100-105");
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF, A + 5 * P), ==, (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-15");
	naive_destroy(nm);
}

/* mremap_faulted_to_unfaulted_prev: the faulted half of one mapping is
 * moved away, then moved back with DONTUNMAP right after the unfaulted half:
 *   AAAAABBBBB -> AAAAA.....  B at 100 -> AAAAAAAAAA, and B's old place
 * stays mapped, emptied. A faulted VMA that was never next to A keeps a
 * pgoff that is not linear with A, and does not merge [LIVE]. */
static void test_merge_mremap_dontunmap(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 10, RW, NORES);
	touch_ok(nm, 5, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 5 * P, 5 * P, 5 * P, MF, A + 100 * P), ==, (int64_t)(A + 100 * P));
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF | MM_MREMAP_DONTUNMAP, A + 5 * P), ==,
	                (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-10 100-105");
	g_assert_cmpint(naive_page(nm, A + 5 * P), ==, MM_PAGE_ANON);
	g_assert_cmpint(naive_page(nm, A + 100 * P), ==, MM_PAGE_NONE);
	naive_destroy(nm);

	nm = fresh();
	map_at(nm, 0, 5, RW, NORES);
	map_at(nm, 100, 5, RW, NORES);
	touch_ok(nm, 100, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + 100 * P, 5 * P, 5 * P, MF | MM_MREMAP_DONTUNMAP, A + 5 * P), ==,
	                (int64_t)(A + 5 * P));
	ASSERT_LAYOUT(nm, "0-5 5-10 100-105");
	naive_destroy(nm);
}

/* ---- mprotect partial application ---------------------------------------------- */

/*   AAAA...BBB      mprotect [0, 10) RO: A is changed, then the hole stops it
 *   **********      -> ENOMEM, A read-only, B untouched */
static void test_mprotect_partial(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 4, RW, ANON_NR);
	map_at(nm, 7, 3, RW, ANON_NR);
	g_assert_cmpint(naive_mprotect(nm, A + 2 * P, 8 * P, MM_PROT_READ), ==, -ENOMEM);
	ASSERT_LAYOUT(nm, "0-2 2-4 7-10");
	g_assert_false(flags_at(nm, A + 2 * P) & MM_VM_WRITE);
	g_assert_true(flags_at(nm, A + 7 * P) & MM_VM_WRITE);
	/* a hole at the start changes nothing */
	g_assert_cmpint(naive_mprotect(nm, A + 5 * P, 4 * P, MM_PROT_NONE), ==, -ENOMEM);
	g_assert_true(flags_at(nm, A + 7 * P) & MM_VM_WRITE);
	/* the written-then-RO piece keeps VM_ACCOUNT; a never-faulted one loses it */
	g_assert_false(flags_at(nm, A + 2 * P) & MM_VM_ACCOUNT);
	touch_ok(nm, 7, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mprotect(nm, A + 7 * P, 3 * P, MM_PROT_READ), ==, 0);
	g_assert_true(flags_at(nm, A + 7 * P) & MM_VM_ACCOUNT);
	/* sealed: EPERM even when nothing would change */
	g_assert_cmpint(naive_mseal(nm, A + 7 * P, 3 * P, 0), ==, 0);
	g_assert_cmpint(naive_mprotect(nm, A + 7 * P, P, MM_PROT_READ), ==, -EPERM);
	naive_destroy(nm);
}

/* ---- mremap shapes --------------------------------------------------------------- */

static void test_mremap_shapes(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 4, RW, ANON_NR);
	map_at(nm, 8, 4, RW, ANON_NR);
	/* AAAA....BBBB -> expand A in place to 8 pages: it meets B and merges */
	g_assert_cmpint(naive_mremap(nm, A, 4 * P, 8 * P, 0, 0), ==, (int64_t)A);
	ASSERT_LAYOUT(nm, "0-12");
	touch_ok(nm, 0, MM_ACCESS_WRITE);
	/* shrink: the tail goes */
	g_assert_cmpint(naive_mremap(nm, A, 12 * P, 2 * P, 0, 0), ==, (int64_t)A);
	ASSERT_LAYOUT(nm, "0-2");
	naive_destroy(nm);

	/* multi-VMA move keeps the gaps: AAAA..BB.CCC moved from page 1 */
	nm = fresh();
	map_at(nm, 0, 4, RW, ANON_NR);
	map_at(nm, 6, 2, MM_PROT_READ, ANON_NR);
	map_at(nm, 9, 3, RW, ANON_NR);
	touch_ok(nm, 1, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_mremap(nm, A + P, 10 * P, 10 * P, MF, A + 200 * P), ==, (int64_t)(A + 200 * P));
	ASSERT_LAYOUT(nm, "0-1 11-12 200-203 205-207 208-210");
	g_assert_cmpint(naive_page(nm, A + 200 * P), ==, MM_PAGE_ANON);
	/* a gap at the start of a move: EFAULT */
	g_assert_cmpint(naive_mremap(nm, A + 199 * P, 3 * P, 3 * P, MF, A + 400 * P), ==, -EFAULT);
	naive_destroy(nm);
}

/* ---- touch: the live matrix of §9.2 ------------------------------------------------- */

static void expect_touch(naive_mm *nm, uint64_t addr, mm_access acc, mm_touch_outcome o, uint32_t pf)
{
	mm_touch_result t = naive_touch(nm, addr, acc);
	g_assert_cmpint(t.outcome, ==, o);
	if (o == MM_TOUCH_SEGV_MAPERR || o == MM_TOUCH_SEGV_ACCERR)
		g_assert_cmphex(t.pf_error, ==, pf);
}

static void test_touch_matrix(void)
{
	naive_mm *nm = fresh();
	int f = naive_file_create(nm, 2 * P);
	map_at(nm, 0, 4, MM_PROT_NONE, ANON_NR);
	map_at(nm, 10, 4, MM_PROT_READ, ANON_NR);
	map_at(nm, 20, 4, MM_PROT_WRITE, ANON_NR);
	map_at(nm, 30, 4, MM_PROT_EXEC, ANON_NR);
	map_at(nm, 40, 4, RW, ANON_NR);
	g_assert_cmpint(naive_mmap(nm, A + 50 * P, 4 * P, RW, MM_MAP_SHARED | MM_MAP_FIXED, f, 0), ==,
	                (int64_t)(A + 50 * P));

	expect_touch(nm, A + 100 * P, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	expect_touch(nm, A + 100 * P, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x6);
	expect_touch(nm, A + 100 * P, MM_ACCESS_EXEC, MM_TOUCH_SEGV_MAPERR, 0x14);
	expect_touch(nm, A, MM_ACCESS_READ, MM_TOUCH_SEGV_ACCERR, 0x4);
	expect_touch(nm, A, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x6);
	expect_touch(nm, A, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x14);
	expect_touch(nm, A + 10 * P, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x6);
	expect_touch(nm, A + 10 * P, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(naive_page(nm, A + 10 * P), ==, MM_PAGE_ZERO);
	expect_touch(nm, A + 10 * P, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	expect_touch(nm, A + 10 * P, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x15);
	/* exec of a non-present page in a non-exec VMA maps it, then faults */
	expect_touch(nm, A + 11 * P, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x15);
	g_assert_cmpint(naive_page(nm, A + 11 * P), ==, MM_PAGE_ZERO);
	expect_touch(nm, A + 20 * P, MM_ACCESS_READ, MM_TOUCH_OK, 0); /* -w- reads */
	expect_touch(nm, A + 30 * P, MM_ACCESS_READ, MM_TOUCH_OK, 0); /* --x reads */
	expect_touch(nm, A + 30 * P, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	/* write over the zero page: COW to anon */
	expect_touch(nm, A + 40 * P, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	expect_touch(nm, A + 40 * P, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(naive_page(nm, A + 40 * P), ==, MM_PAGE_ANON);
	/* guard markers: MAPERR, kept by DONTNEED and mprotect, gone with munmap */
	g_assert_cmpint(naive_madvise(nm, A + 41 * P, P, MM_MADV_GUARD_INSTALL), ==, 0);
	g_assert_true(flags_at(nm, A + 40 * P) & MM_VM_MAYBE_GUARD);
	expect_touch(nm, A + 41 * P, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	expect_touch(nm, A + 41 * P, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x6);
	g_assert_cmpint(naive_madvise(nm, A + 40 * P, 4 * P, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpint(naive_page(nm, A + 41 * P), ==, MM_PAGE_GUARD);
	g_assert_cmpint(naive_page(nm, A + 40 * P), ==, MM_PAGE_NONE);
	g_assert_cmpint(naive_madvise(nm, A + 40 * P, 4 * P, MM_MADV_POPULATE_READ), ==, -EFAULT);
	/* beyond EOF of a 2-page file */
	expect_touch(nm, A + 51 * P, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(naive_page(nm, A + 51 * P), ==, MM_PAGE_FILE);
	expect_touch(nm, A + 52 * P, MM_ACCESS_READ, MM_TOUCH_SIGBUS, 0);
	/* the top page of the user half: MAPERR with P forced on */
	expect_touch(nm, MM_TASK_SIZE, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x5);
	expect_touch(nm, MM_TASK_SIZE, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x7);
	naive_destroy(nm);
}

/* Fault-around: a read maps the cached pages of the 64 KiB block. */
static void test_fault_around(void)
{
	naive_mm *nm = fresh();
	int f = naive_file_create(nm, 10 * P);
	g_assert_cmpint(naive_mmap(nm, A + 32 * P, 16 * P, RW, MM_MAP_SHARED | MM_MAP_FIXED, f, 0), ==,
	                (int64_t)(A + 32 * P));
	g_assert_cmpint(naive_mmap(nm, A, 16 * P, MM_PROT_READ, MM_MAP_PRIVATE | MM_MAP_FIXED, f, 0), ==,
	                (int64_t)A);
	touch_ok(nm, 32, MM_ACCESS_READ);
	touch_ok(nm, 35, MM_ACCESS_WRITE);
	touch_ok(nm, 3, MM_ACCESS_READ); /* maps file pages 0 and 3 (cached), not 1 and 2 */
	g_assert_cmpint(naive_page(nm, A), ==, MM_PAGE_FILE);
	g_assert_cmpint(naive_page(nm, A + P), ==, MM_PAGE_NONE);
	g_assert_cmpint(naive_page(nm, A + 3 * P), ==, MM_PAGE_FILE);
	naive_destroy(nm);
}

/* THP in an hg VMA: a read maps the huge zero page over the 2 MiB block, a
 * write the whole THP; a small DONTNEED splits it. */
static void test_thp(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 0, 3 * 512, RW, ANON_NR);
	g_assert_cmpint(naive_madvise(nm, A, 3 * M2, MM_MADV_HUGEPAGE), ==, 0);
	touch_ok(nm, 5, MM_ACCESS_READ);
	g_assert_cmpint(naive_page(nm, A + M2 - P), ==, MM_PAGE_ZERO);
	touch_ok(nm, 512 + 7, MM_ACCESS_WRITE);
	g_assert_cmpint(naive_page(nm, A + M2), ==, MM_PAGE_ANON);
	g_assert_cmpint(naive_madvise(nm, A, 4 * P, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpint(naive_page(nm, A), ==, MM_PAGE_NONE);
	g_assert_cmpint(naive_page(nm, A + 4 * P), ==, MM_PAGE_ZERO);
	touch_ok(nm, 0, MM_ACCESS_READ); /* a PTE table exists now: 4 KiB */
	g_assert_cmpint(naive_page(nm, A + P), ==, MM_PAGE_NONE);
	naive_destroy(nm);
}

/* No hint, len % 2 MiB == 0: the THP placement of mm/huge_memory.c. */
static void test_thp_placement(void)
{
	naive_mm *nm = fresh();
	uint64_t top = A + (1ull << 30);
	int64_t a = naive_mmap(nm, 0, M2, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0);
	g_assert_cmpint(a, ==, (int64_t)(top - M2)); /* padded gap aligned: top of it */
	int64_t b = naive_mmap(nm, 0, M2 + P, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0);
	g_assert_cmpint(b, ==, a - (int64_t)(M2 + P)); /* not a multiple: plain, adjacent */
	int64_t c = naive_mmap(nm, 0, M2, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0);
	g_assert_cmpint(c % (int64_t)M2, ==, 0);
	g_assert_cmpint(c, ==, (b & ~(int64_t)(M2 - 1)) - (int64_t)M2);
	naive_destroy(nm);
}

/* Stack growth: a growsdown VMA grows on a fault below it, unless another
 * VMA lies within stack_guard_gap. */
static void test_stack_growth(void)
{
	naive_mm *nm = fresh();
	map_at(nm, 300, 4, RW, ANON_NR | MM_MAP_GROWSDOWN);
	touch_ok(nm, 299, MM_ACCESS_WRITE);
	ASSERT_LAYOUT(nm, "299-304");
	touch_ok(nm, 200, MM_ACCESS_READ);
	ASSERT_LAYOUT(nm, "200-304");
	map_at(nm, 0, 4, RW, ANON_NR);
	expect_touch(nm, A + 100 * P, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	ASSERT_LAYOUT(nm, "0-4 200-304");
	naive_destroy(nm);
}

/* map_count limits: mmap may reach max+1, splits stop at max. */
static void test_map_count_limits(void)
{
	mm_config cfg = {.max_map_count = 3, .mmap_min_addr = 0x10000, .stack_guard_gap = MM_DEFAULT_STACK_GUARD_GAP,
	                 .mmap_base = A + (1ull << 30), .mmap_low = A, .stack_rlimit = 8ull << 20, .thp_enabled = true,
	                 .kernel_version = MM_DEFAULT_KERNEL_VERSION, .zero_page = true, .thp_mode = MM_THP_MADVISE,
	                 .thp_zero_page = true, .memlock = MM_MEMLOCK_UNLIMITED};
	naive_mm *nm = naive_create(&cfg);
	for (int i = 0; i < 4; i++)
		map_at(nm, (uint64_t)i * 10, 4, RW, ANON_NR);
	g_assert_cmpuint(naive_map_count(nm), ==, 4);
	g_assert_cmpint(naive_mmap(nm, A + 50 * P, P, RW, ANON_NR, 0, 0), ==, -ENOMEM);
	g_assert_cmpint(naive_mprotect(nm, A + P, P, MM_PROT_READ), ==, -ENOMEM);
	g_assert_cmpint(naive_madvise(nm, A + P, P, MM_MADV_DONTFORK), ==, -EAGAIN);
	g_assert_cmpint(naive_munmap(nm, A + P, P), ==, -ENOMEM); /* 3-way split */
	g_assert_cmpint(naive_munmap(nm, A + 3 * P, P), ==, 0);   /* a tail trim is not limited */
	g_assert_cmpint(naive_mremap(nm, A, P, P, MF, A + 100 * P), ==, -ENOMEM);
	naive_destroy(nm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/naive/errno/mmap", test_mmap_errno);
	g_test_add_func("/naive/errno/munmap-mprotect", test_munmap_mprotect_errno);
	g_test_add_func("/naive/errno/mremap", test_mremap_errno);
	g_test_add_func("/naive/errno/madvise-mlock-mseal", test_madvise_mlock_mseal_errno);
	g_test_add_func("/naive/merge/mprotect-unfaulted-left", test_merge_mprotect_unfaulted_left);
	g_test_add_func("/naive/merge/mprotect-unfaulted-right", test_merge_mprotect_unfaulted_right);
	g_test_add_func("/naive/merge/mprotect-unfaulted-both", test_merge_mprotect_unfaulted_both);
	g_test_add_func("/naive/merge/new-two-anon-vmas", test_merge_new_two_anon_vmas);
	g_test_add_func("/naive/merge/mremap-unfaulted", test_merge_mremap_unfaulted);
	g_test_add_func("/naive/merge/mremap-correct-placed-faulted", test_merge_mremap_correct_placed_faulted);
	g_test_add_func("/naive/merge/mremap-dontunmap", test_merge_mremap_dontunmap);
	g_test_add_func("/naive/mprotect/partial", test_mprotect_partial);
	g_test_add_func("/naive/mremap/shapes", test_mremap_shapes);
	g_test_add_func("/naive/touch/matrix", test_touch_matrix);
	g_test_add_func("/naive/touch/fault-around", test_fault_around);
	g_test_add_func("/naive/touch/thp", test_thp);
	g_test_add_func("/naive/mmap/thp-placement", test_thp_placement);
	g_test_add_func("/naive/touch/stack-growth", test_stack_growth);
	g_test_add_func("/naive/limits/map-count", test_map_count_limits);
	return g_test_run();
}

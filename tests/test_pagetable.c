/* Demand paging and the page-table side of the VMA operations, through the
 * public API. Expected values are the live kernel's (Linux 6.18.44, x86-64)
 * as recorded in /work/shared/notes/linux-mm-semantics.md §8.1 and §9.2
 * [LIVE], plus one checked here with a small program (write after read in a
 * MADV_HUGEPAGE VMA gives a THP: do_huge_zero_wp_pmd). mm_check runs after
 * every step. REG_ERR values: P=1 W=2 U=4 I=0x10.
 */
#include <glib.h>

#include "mmref/mmref.h"

#define PROT_RW (MM_PROT_READ | MM_PROT_WRITE)
#define ANON_PRIV (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS)
#define PG MM_PAGE_SIZE

static void check_clean(mm_state *mm)
{
	mm_violation v[8];
	size_t n = mm_check(mm, v, G_N_ELEMENTS(v));
	for (size_t i = 0; i < n && i < G_N_ELEMENTS(v); i++)
		g_printerr("I%d [%#llx,%#llx): %s\n", v[i].invariant, (unsigned long long)v[i].vma_start,
		           (unsigned long long)v[i].vma_end, v[i].what);
	g_assert_cmpuint(n, ==, 0);
}

static void touch_is(mm_state *mm, uint64_t addr, mm_access acc, mm_touch_outcome out, uint32_t err)
{
	mm_touch_result r = mm_touch(mm, addr, acc);
	if (r.outcome != out || r.pf_error != err)
		g_error("touch %#llx acc %d: got %d/%#x, want %d/%#x", (unsigned long long)addr, acc, r.outcome,
		        r.pf_error, out, err);
	check_clean(mm);
}

static uint64_t map(mm_state *mm, uint64_t len, uint64_t prot, uint64_t flags, int file, uint64_t off)
{
	int64_t a = mm_mmap(mm, 0, len, prot, flags, file, off);
	g_assert_cmpint(a, >, 0);
	check_clean(mm);
	return (uint64_t)a;
}

/* §8.1: read → zero page; write → fresh anon page; write after read → COW. */
static void test_anon_private(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 4 * PG, PROT_RW, ANON_PRIV, 0, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_NONE);
	touch_is(mm, a, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_ZERO);
	touch_is(mm, a, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_ANON);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_ANON);
	g_assert_cmpint(mm_page(mm, a + 2 * PG), ==, MM_PAGE_NONE);
	/* §9.7: DONTNEED drops them; the next read sees the zero page again. */
	g_assert_cmpint(mm_madvise(mm, a, 4 * PG, MM_MADV_DONTNEED), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_NONE);
	touch_is(mm, a, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_ZERO);
	g_assert_cmpint(mm_munmap(mm, a, 4 * PG), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_NONE);
	mm_destroy(mm);
}

/* §9.2 live matrix. */
static void test_fault_matrix(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 8 * PG, PROT_RW, ANON_PRIV, 0, 0);
	g_assert_cmpint(mm_munmap(mm, a + 4 * PG, 4 * PG), ==, 0); /* a hole to hit */
	uint64_t hole = a + 4 * PG;
	touch_is(mm, hole, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	touch_is(mm, hole, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x6);
	touch_is(mm, hole, MM_ACCESS_EXEC, MM_TOUCH_SEGV_MAPERR, 0x14);
	touch_is(mm, 0, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	touch_is(mm, 0x7ffffffff000ull, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x5);
	touch_is(mm, 0x7ffffffff000ull, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x7);
	touch_is(mm, 0xffffffff81000000ull, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x5);
	/* Non-canonical: #GP, REG_ERR 0 (SI_KERNEL has no outcome of its own). */
	touch_is(mm, 0x0000800000000000ull, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0);

	/* PROT_NONE, populated or not: ACCERR with P=0. */
	touch_is(mm, a, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_mprotect(mm, a, 2 * PG, MM_PROT_NONE), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_ANON); /* protnone keeps the page */
	for (int i = 0; i < 2; i++) {
		touch_is(mm, a + i * PG, MM_ACCESS_READ, MM_TOUCH_SEGV_ACCERR, 0x4);
		touch_is(mm, a + i * PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x6);
		touch_is(mm, a + i * PG, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x14);
	}
	/* Back to RW: the exclusive anon page is writable without a fault. */
	g_assert_cmpint(mm_mprotect(mm, a, 2 * PG, PROT_RW), ==, 0);
	check_clean(mm);
	touch_is(mm, a, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_ANON);

	/* PROT_READ: write to none 0x6, after a read 0x7, exec 0x15. */
	g_assert_cmpint(mm_mprotect(mm, a + 2 * PG, 2 * PG, MM_PROT_READ), ==, 0);
	touch_is(mm, a + 2 * PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x6);
	touch_is(mm, a + 2 * PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	touch_is(mm, a + 2 * PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	touch_is(mm, a + 2 * PG, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x15);
	/* Exec of an unpopulated page in a non-exec VMA: mapped, then 0x15. */
	touch_is(mm, a + 3 * PG, MM_ACCESS_EXEC, MM_TOUCH_SEGV_ACCERR, 0x15);
	g_assert_cmpint(mm_page(mm, a + 3 * PG), ==, MM_PAGE_ZERO);
	mm_destroy(mm);
}

/* §9.5: PROT_WRITE-only reads; PROT_EXEC-only reads, write after read 0x7. */
static void test_write_only_exec_only(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t w = map(mm, PG, MM_PROT_WRITE, ANON_PRIV, 0, 0);
	touch_is(mm, w, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, w), ==, MM_PAGE_ZERO);
	touch_is(mm, w, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	uint64_t x = map(mm, PG, MM_PROT_EXEC, ANON_PRIV, 0, 0);
	touch_is(mm, x, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	touch_is(mm, x, MM_ACCESS_EXEC, MM_TOUCH_OK, 0);
	touch_is(mm, x, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	mm_destroy(mm);
}

/* §8.1 / §9.2: guard markers read as GUARD, fault MAPERR, survive DONTNEED,
 * go with GUARD_REMOVE. */
static void test_guard(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 4 * PG, PROT_RW, ANON_PRIV, 0, 0);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_madvise(mm, a + PG, PG, MM_MADV_GUARD_INSTALL), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_GUARD);
	touch_is(mm, a + PG, MM_ACCESS_READ, MM_TOUCH_SEGV_MAPERR, 0x4);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_MAPERR, 0x6);
	g_assert_cmpint(mm_madvise(mm, a, 4 * PG, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_GUARD);
	g_assert_cmpint(mm_madvise(mm, a, 4 * PG, MM_MADV_POPULATE_READ), ==, -EFAULT);
	g_assert_cmpint(mm_madvise(mm, a + PG, PG, MM_MADV_GUARD_REMOVE), ==, 0);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_NONE);
	touch_is(mm, a + PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	mm_destroy(mm);
}

/* §8.1: file mappings. Shared read/write and private read map the
 * page-cache page (FILE); a private write makes an anon copy; beyond EOF is
 * SIGBUS; a read fault maps the cached neighbours (fault-around). */
static void test_file(void)
{
	mm_state *mm = mm_create(NULL);
	int fd = mm_file_create(mm, 4 * PG + 100); /* 5 pages of file, the last partial */
	g_assert_cmpint(fd, >, 0);
	uint64_t s = map(mm, 8 * PG, PROT_RW, MM_MAP_SHARED, fd, 0);
	touch_is(mm, s, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, s), ==, MM_PAGE_FILE);
	for (int i = 1; i < 5; i++) {
		touch_is(mm, s + i * PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
		g_assert_cmpint(mm_page(mm, s + i * PG), ==, MM_PAGE_FILE);
	}
	touch_is(mm, s + 5 * PG, MM_ACCESS_READ, MM_TOUCH_SIGBUS, 0x4);
	touch_is(mm, s + 5 * PG, MM_ACCESS_WRITE, MM_TOUCH_SIGBUS, 0x6);

	/* A private mapping: one read maps all five cached pages. */
	uint64_t p = map(mm, 8 * PG, PROT_RW, MM_MAP_PRIVATE, fd, 0);
	touch_is(mm, p + 2 * PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	for (int i = 0; i < 5; i++)
		g_assert_cmpint(mm_page(mm, p + i * PG), ==, MM_PAGE_FILE);
	g_assert_cmpint(mm_page(mm, p + 5 * PG), ==, MM_PAGE_NONE);
	touch_is(mm, p + 2 * PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, p + 2 * PG), ==, MM_PAGE_ANON);
	touch_is(mm, p + 6 * PG, MM_ACCESS_READ, MM_TOUCH_SIGBUS, 0x4);
	/* DONTNEED loses the private copy; the file page comes back. */
	g_assert_cmpint(mm_madvise(mm, p, 8 * PG, MM_MADV_DONTNEED), ==, 0);
	check_clean(mm);
	touch_is(mm, p + 2 * PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, p + 2 * PG), ==, MM_PAGE_FILE);
	/* A private write to a page not yet cached: anon copy. */
	uint64_t q = map(mm, PG, PROT_RW, MM_MAP_PRIVATE, fd, 0);
	touch_is(mm, q, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, q), ==, MM_PAGE_ANON);
	mm_destroy(mm);
}

/* §8.1: shared anonymous memory is shmem: FILE pages, shared by every
 * mapping of the object. */
static void test_shmem(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 4 * PG, PROT_RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS, 0, 0);
	touch_is(mm, a, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_FILE);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_FILE);
	/* mprotect RO then RW: the written (dirty) shared page stays writable. */
	g_assert_cmpint(mm_mprotect(mm, a, 4 * PG, MM_PROT_READ), ==, 0);
	check_clean(mm);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	g_assert_cmpint(mm_mprotect(mm, a, 4 * PG, PROT_RW), ==, 0);
	check_clean(mm);
	touch_is(mm, a + PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	mm_destroy(mm);
}

/* §8.1 / §9.3: THP in a MADV_HUGEPAGE VMA: read → huge zero page, write →
 * THP; write after read → THP [LIVE, checked on this machine]. */
static void test_thp(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t m = map(mm, 6ull << 20, PROT_RW, ANON_PRIV, 0, 0);
	uint64_t h = (m + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1);
	g_assert_cmpint(mm_madvise(mm, m, 6ull << 20, MM_MADV_HUGEPAGE), ==, 0);
	touch_is(mm, h + 5 * PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, h), ==, MM_PAGE_ZERO);
	g_assert_cmpint(mm_page(mm, h + MM_PMD_SIZE - PG), ==, MM_PAGE_ZERO);
	touch_is(mm, h, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, h + MM_PMD_SIZE - PG), ==, MM_PAGE_ANON);
	touch_is(mm, h + MM_PMD_SIZE, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, h + 2 * MM_PMD_SIZE - PG), ==, MM_PAGE_ANON);
	/* Partial mprotect and munmap split the PMD. */
	g_assert_cmpint(mm_mprotect(mm, h + PG, PG, MM_PROT_READ), ==, 0);
	check_clean(mm);
	touch_is(mm, h + PG, MM_ACCESS_WRITE, MM_TOUCH_SEGV_ACCERR, 0x7);
	touch_is(mm, h + 2 * PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_munmap(mm, h + MM_PMD_SIZE + PG, PG), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, h + MM_PMD_SIZE), ==, MM_PAGE_ANON);
	g_assert_cmpint(mm_page(mm, h + MM_PMD_SIZE + PG), ==, MM_PAGE_NONE);
	g_assert_cmpint(mm_page(mm, h + MM_PMD_SIZE + 2 * PG), ==, MM_PAGE_ANON);
	/* Without MADV_HUGEPAGE: 4 KiB pages only. */
	uint64_t n = map(mm, 4ull << 20, PROT_RW, ANON_PRIV, 0, 0);
	uint64_t nh = (n + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1);
	touch_is(mm, nh, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, nh + PG), ==, MM_PAGE_NONE);
	mm_destroy(mm);
}

/* mremap moves the entries with their pages. */
static void test_mremap(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 4 * PG, PROT_RW, ANON_PRIV, 0, 0);
	touch_is(mm, a, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	touch_is(mm, a + 2 * PG, MM_ACCESS_READ, MM_TOUCH_OK, 0);
	/* A neighbour above forces the move. */
	g_assert_cmpint(mm_mmap(mm, a + 4 * PG, PG, MM_PROT_READ, ANON_PRIV | MM_MAP_FIXED, 0, 0), ==,
	                (int64_t)(a + 4 * PG));
	int64_t b = mm_mremap(mm, a, 4 * PG, 64 * PG, MM_MREMAP_MAYMOVE, 0);
	g_assert_cmpint(b, >, 0);
	check_clean(mm);
	g_assert_cmphex((uint64_t)b, !=, a);
	g_assert_cmpint(mm_page(mm, a), ==, MM_PAGE_NONE);
	g_assert_cmpint(mm_page(mm, (uint64_t)b), ==, MM_PAGE_ANON);
	g_assert_cmpint(mm_page(mm, (uint64_t)b + 2 * PG), ==, MM_PAGE_ZERO);
	touch_is(mm, (uint64_t)b + PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	mm_destroy(mm);
}

/* MAP_GROWSDOWN: an access just below grows the VMA. */
static void test_stack_growth(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t s = map(mm, 4 * PG, PROT_RW, ANON_PRIV | MM_MAP_GROWSDOWN, 0, 0);
	touch_is(mm, s - PG, MM_ACCESS_WRITE, MM_TOUCH_OK, 0);
	g_assert_cmpint(mm_page(mm, s - PG), ==, MM_PAGE_ANON);
	mm_vma_info vi;
	g_assert_cmpuint(mm_vmas(mm, s - PG, s, &vi, 1), ==, 1);
	g_assert_cmphex(vi.start, ==, s - PG);
	mm_destroy(mm);
}

/* MAP_POPULATE / MADV_POPULATE_WRITE fault every page. */
static void test_populate(void)
{
	mm_state *mm = mm_create(NULL);
	uint64_t a = map(mm, 8 * PG, PROT_RW, ANON_PRIV | MM_MAP_POPULATE, 0, 0);
	for (int i = 0; i < 8; i++)
		g_assert_cmpint(mm_page(mm, a + i * PG), ==, MM_PAGE_ANON);
	uint64_t b = map(mm, 8 * PG, PROT_RW, ANON_PRIV, 0, 0);
	g_assert_cmpint(mm_madvise(mm, b, 8 * PG, MM_MADV_POPULATE_READ), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, b + 7 * PG), ==, MM_PAGE_ZERO);
	g_assert_cmpint(mm_madvise(mm, b, 8 * PG, MM_MADV_POPULATE_WRITE), ==, 0);
	check_clean(mm);
	g_assert_cmpint(mm_page(mm, b + 7 * PG), ==, MM_PAGE_ANON);
	mm_destroy(mm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pagetable/anon-private", test_anon_private);
	g_test_add_func("/pagetable/fault-matrix", test_fault_matrix);
	g_test_add_func("/pagetable/write-only-exec-only", test_write_only_exec_only);
	g_test_add_func("/pagetable/guard", test_guard);
	g_test_add_func("/pagetable/file", test_file);
	g_test_add_func("/pagetable/shmem", test_shmem);
	g_test_add_func("/pagetable/thp", test_thp);
	g_test_add_func("/pagetable/mremap", test_mremap);
	g_test_add_func("/pagetable/stack-growth", test_stack_growth);
	g_test_add_func("/pagetable/populate", test_populate);
	return g_test_run();
}

/* Tests of libmmref's internals, white-box: they reach into the model's
 * private structures (model/internal.h, model/pagetable.h), which only code
 * under model/ may include (docs/architecture.md). The behaviour of the
 * public API is tested from outside, in tests/test_model.c.
 *
 *   - the checker (mm_check) finds what is broken: VMAs and page-table
 *     entries corrupted behind the model's back, one invariant at a time;
 *   - no frame or table page outlives the mappings (issue 4).
 *
 * Layouts in pages relative to BASE, as in tests/test_model.c. */
#include <glib.h>

#include "contents.h"
#include "frames.h"
#include "pgtable.h"
#include "vma.h"
#include "mmref/mmref.h"
#include "mm_test.h"

#define BASE 0x100000000000ull
#define P(n) ((uint64_t)(n) * MM_PAGE_SIZE)
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define RO MM_PROT_READ
#define ANON_FIXED (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED)

static mm_state *new_mm(void)
{
	mm_config cfg = mmt_config(BASE);
	mm_state *mm = mm_create(&cfg);
	g_assert_nonnull(mm);
	return mm;
}

static void map(mm_state *mm, uint64_t first_page, uint64_t pages, uint64_t prot, uint64_t extra)
{
	/* extra may carry its own map type (MM_MAP_SHARED) instead of private. */
	uint64_t flags = (extra & MM_MAP_TYPE) ? (ANON_FIXED & ~(uint64_t)MM_MAP_TYPE) | extra : ANON_FIXED | extra;
	int64_t r = mm_mmap(mm, BASE + P(first_page), P(pages), prot, flags, 0, 0);
	g_assert_cmpint(r, ==, (int64_t)(BASE + P(first_page)));
}

/* ---- the checker finds what is broken --------------------------------------- */

static size_t check_finds(const mm_state *mm, int invariant)
{
	mm_violation v[32];
	size_t n = mm_check(mm, v, 32), found = 0;
	for (size_t i = 0; i < n && i < 32; i++)
		found += v[i].invariant == invariant;
	return found;
}

static void test_checker_reports_corruption(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 8, 4, RO, 0);
	mmt_assert_checked(mm);
	struct vma *a = vt_lookup(&mm->vt, BASE), *b = vt_lookup(&mm->vt, BASE + P(8));

	a->vm_flags &= ~MM_VM_MAYWRITE; /* I8: write without maywrite */
	g_assert_cmpuint(check_finds(mm, 8), ==, 1);
	a->vm_flags |= MM_VM_MAYWRITE;

	b->vm_end += 1; /* I6: unaligned end */
	g_assert_cmpuint(check_finds(mm, 6), ==, 1);
	b->vm_end -= 1;

	a->vm_end = BASE + P(9); /* I1: overlap (bounds changed behind the tree) */
	g_assert_cmpuint(check_finds(mm, 1) + check_finds(mm, 4), >=, 1);
	a->vm_end = BASE + P(4);

	/* I9: two mergeable VMAs left apart at a boundary the last operation
	 * touched. */
	b->vm_flags = a->vm_flags;
	vt_set_bounds(&mm->vt, b, BASE + P(4), BASE + P(12));
	b->vm_pgoff = a->vm_pgoff + 4;
	mm->touched[0] = BASE + P(4);
	mm->n_touched = 1;
	g_assert_cmpuint(check_finds(mm, 9), ==, 1);
	mm->n_touched = 0;
	mmt_assert_checked(mm);

	/* I10: a reference count that lies. */
	g_assert_cmpint(vma_anon_vma_prepare(mm, a), ==, 0);
	a->anon_vma->refs++;
	g_assert_cmpuint(check_finds(mm, 10), ==, 1);
	a->anon_vma->refs--;
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* The page part of the checker (I11-I15, model/pgcheck.c) on entries
 * corrupted behind the model's back. */
static void test_checker_reports_page_corruption(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_READ).outcome, ==, MM_TOUCH_OK); /* zero page */
	mmt_assert_checked(mm);
	unsigned level;
	uint64_t wi = pg_lookup(mm, BASE, &level);
	g_assert_cmpuint(level, ==, 1);
	uint64_t *w = pg_words(mm), saved = w[wi];

	w[wi] = saved | X86_RW; /* the zero page made writable */
	g_assert_cmpuint(check_finds(mm, 13), ==, 1);
	g_assert_cmpuint(check_finds(mm, 12), >=, 1);
	w[wi] = saved;
	mmt_assert_checked(mm);

	w[wi + 4] = saved; /* a mapping past the VMA's end, uncounted */
	g_assert_cmpuint(check_finds(mm, 11), ==, 1);
	w[wi + 4] = 0;

	w[wi] = 0; /* an entry gone without its frame's map count */
	g_assert_cmpuint(check_finds(mm, 14), ==, 1);
	w[wi] = saved;
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* The contents part of the checker (I18-I20, issue 18) on entries and
 * records planted behind the model's back. */
static void test_checker_reports_content_corruption(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 2, RW, 0);
	g_assert_cmpint(mm_write(mm, BASE, 0xc0de01).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_write(mm, BASE + P(1), 0xc0de02).outcome, ==, MM_TOUCH_OK);
	mmt_assert_checked(mm);
	unsigned level;
	uint64_t wi = pg_lookup(mm, BASE, &level);
	g_assert_cmpuint(level, ==, 1);
	uint64_t *w = pg_words(mm), e0 = w[wi];
	/* I18: page 0's anonymous page mapped at page 1 too (its own is freed) */
	pg_set_entry(mm, wi + 1, 1, e0);
	g_assert_cmpuint(check_finds(mm, 18), >=, 1);
	pg_set_entry(mm, wi + 1, 1, 0);
	mmt_assert_checked(mm);

	/* I19: a shared file mapping whose page 1 maps the file's page 0 */
	int f = mm_file_create(mm, P(2));
	g_assert_cmpint(mm_mmap(mm, BASE + P(16), P(2), RW, MM_MAP_SHARED | MM_MAP_FIXED, f, 0), ==,
	                (int64_t)(BASE + P(16)));
	g_assert_cmpint(mm_write(mm, BASE + P(16), 1).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_write(mm, BASE + P(17), 2).outcome, ==, MM_TOUCH_OK);
	mmt_assert_checked(mm);
	uint64_t fi = pg_lookup(mm, BASE + P(16), &level), f1 = pg_words(mm)[fi + 1];
	pg_set_entry(mm, fi + 1, 1, pg_words(mm)[fi]);
	g_assert_cmpuint(check_finds(mm, 19), ==, 1);
	pg_set_entry(mm, fi + 1, 1, f1);
	mmt_assert_checked(mm);

	/* I20: contents kept for a frame that was freed */
	uint64_t pfn = lx_pfn(e0, PG_PFN_MASK);
	g_assert_cmpint(mm_munmap(mm, BASE, P(2)), ==, 0);
	mmt_assert_checked(mm);
	g_assert_cmpint(ct_store(mm, pfn, 0, 7, ~0ull), ==, 0);
	g_assert_cmpuint(check_finds(mm, 20), ==, 1);
	ct_drop(mm, pfn);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* Issue 4: no frame or table page outlives the mappings. Map, fault
 * (4 KiB pages, a THP, shared pages), move and protect, then unmap
 * everything: one table page (the PML4) and no anonymous frame remain. */
static void test_no_leak_after_unmapping_everything(void)
{
	mm_state *mm = new_mm();
	uint64_t tables0 = pg_table_pages(mm);
	map(mm, 0, 16, RW, 0);
	map(mm, 512, 1024, RW, 0); /* 4 MiB, a 2 MiB block inside */
	g_assert_cmpint(mm_madvise(mm, BASE + P(512), P(1024), MM_MADV_HUGEPAGE), ==, 0);
	map(mm, 4096, 8, RW, MM_MAP_SHARED);
	for (uint64_t p = 0; p < 16; p += 3)
		g_assert_cmpint(mm_touch(mm, BASE + P(p), p % 2 ? MM_ACCESS_WRITE : MM_ACCESS_READ).outcome, ==,
		                MM_TOUCH_OK);
	g_assert_cmpint(mm_touch(mm, BASE + P(1024), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK); /* THP */
	g_assert_cmpint(mm_touch(mm, BASE + P(4097), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_mremap(mm, BASE, P(16), P(16), MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + P(9000)), ==,
	                (int64_t)(BASE + P(9000)));
	g_assert_cmpint(mm_mprotect(mm, BASE + P(1024), P(8), RO), ==, 0);
	g_assert_cmpuint(pg_table_pages(mm), >, tables0);
	g_assert_cmpuint(fr_anon_frames(mm), >, 0);
	mmt_assert_checked(mm);
	g_assert_cmpint(mm_munmap(mm, BASE, 1ull << 30), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 0);
	g_assert_cmpuint(pg_table_pages(mm), ==, 1);
	g_assert_cmpuint(fr_anon_frames(mm), ==, 0);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/model/checker-reports-corruption", test_checker_reports_corruption);
	g_test_add_func("/model/checker-reports-page-corruption", test_checker_reports_page_corruption);
	g_test_add_func("/model/no-leak-after-unmapping-everything", test_no_leak_after_unmapping_everything);
	g_test_add_func("/model/checker-reports-content-corruption", test_checker_reports_content_corruption);
	return g_test_run();
}

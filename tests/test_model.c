/* Tests of libmmref's VMA operations: per-operation behaviour, an errno table
 * per call, the merge scenarios of Linux's own tests
 * (tools/testing/selftests/mm/merge.c, tools/testing/vma) re-expressed on the
 * model, map_count edges, and "a failed call changes nothing".
 *
 * Expected layouts are worked out by hand from the kernel's rules (each case
 * names the rule) and were checked against this machine's kernel with the
 * corpus traces in corpus/traces/ (replayed by test_corpus on the live
 * kernel). Layouts are written in pages relative to BASE:
 * "0-4 rw-p ac" is [BASE, BASE + 4 pages), rw-p, VmFlags containing ac.
 *
 * Public API only; the checker's corruption tests and the leak test, which
 * reach into the model's structures, are model/tests/test_model_internals.c. */
#include <errno.h>
#include <glib.h>
#include <string.h>

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

/* "0-4 rw-p 4-8 r--p": every VMA in pages from BASE, with its perms. */
static char *layout(const mm_state *mm)
{
	mm_vma_info info[64];
	size_t n = mm_vmas(mm, BASE, BASE + (1ull << 30), info, 64);
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < n && i < 64; i++) {
		char perms[5];
		mm_format_perms(info[i].flags, perms);
		g_string_append_printf(s, "%s%llu-%llu %s", i ? " " : "",
		                       (unsigned long long)((info[i].start - BASE) / MM_PAGE_SIZE),
		                       (unsigned long long)((info[i].end - BASE) / MM_PAGE_SIZE), perms);
	}
	return g_string_free(s, FALSE);
}

#define assert_layout(mm, expect)                                                                          \
	do {                                                                                                   \
		char *got_ = layout(mm);                                                                       \
		g_assert_cmpstr(got_, ==, expect);                                                             \
		g_free(got_);                                                                                  \
		mmt_assert_checked(mm);                                                                            \
	} while (0)

static uint64_t flags_at(const mm_state *mm, uint64_t addr)
{
	mm_vma_info info;
	g_assert_cmpuint(mm_vmas(mm, addr, addr + 1, &info, 1), ==, 1);
	return info.flags;
}

static void map(mm_state *mm, uint64_t first_page, uint64_t pages, uint64_t prot, uint64_t extra)
{
	/* extra may carry its own map type (MM_MAP_SHARED) instead of private. */
	uint64_t flags = (extra & MM_MAP_TYPE) ? (ANON_FIXED & ~(uint64_t)MM_MAP_TYPE) | extra : ANON_FIXED | extra;
	int64_t r = mm_mmap(mm, BASE + P(first_page), P(pages), prot, flags, 0, 0);
	g_assert_cmpint(r, ==, (int64_t)(BASE + P(first_page)));
}

/* ---- mm_reset ----------------------------------------------------------------- */

/* Results, layout with VmFlags, page states, map count and locked_vm of a
 * scenario that uses files, shared anonymous memory, THP, mlock and mseal. */
static char *reset_scenario(mm_state *mm)
{
	GString *s = g_string_new(NULL);
	int f = mm_file_create(mm, P(8));
	g_string_append_printf(s, "file %d;", f);
	uint64_t huge = BASE + (4ull << 20);
	int64_t r[] = {
		mm_mmap(mm, BASE, P(4), RW, ANON_FIXED, 0, 0),
		mm_mmap(mm, BASE + P(8), P(4), RW, MM_MAP_SHARED | MM_MAP_FIXED, f, 0),
		mm_mmap(mm, BASE + P(16), P(2), RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0),
		mm_mmap(mm, huge, 2ull << 20, RW, ANON_FIXED, 0, 0),
		mm_madvise(mm, huge, 2ull << 20, MM_MADV_HUGEPAGE),
		mm_mlock2(mm, BASE + P(1), P(2), MM_MLOCK_ONFAULT),
		mm_mseal(mm, BASE + P(16), P(2), 0),
		mm_mmap(mm, 0, P(3), RO, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0),
	};
	for (size_t i = 0; i < G_N_ELEMENTS(r); i++)
		g_string_append_printf(s, " %" G_GINT64_FORMAT, r[i]);
	uint64_t touches[] = {BASE, BASE + P(2), BASE + P(9), BASE + P(16), huge + P(3), BASE + P(40)};
	for (size_t i = 0; i < G_N_ELEMENTS(touches); i++) {
		mm_touch_result t = mm_touch(mm, touches[i], i % 2 ? MM_ACCESS_READ : MM_ACCESS_WRITE);
		g_string_append_printf(s, " t%d/%x", (int)t.outcome, t.pf_error);
	}
	mm_vma_info info[64];
	size_t n = mm_vmas(mm, BASE, BASE + (1ull << 30), info, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		char fl[256];
		mm_format_vmflags(info[i].flags, fl, sizeof(fl));
		size_t np = (info[i].end - info[i].start) / MM_PAGE_SIZE;
		uint8_t *pg = g_malloc(np);
		mm_pages(mm, info[i].start, np, pg);
		g_string_append_printf(s, "\n%llx-%llx %s pgoff %llu backing %d object %u :",
		                       (unsigned long long)info[i].start, (unsigned long long)info[i].end, fl,
		                       (unsigned long long)info[i].pgoff, (int)info[i].backing, info[i].object);
		for (size_t k = 0; k < np; k++)
			g_string_append_c(s, (char)('0' + pg[k]));
		g_free(pg);
	}
	g_string_append_printf(s, "\nmap_count %zu locked %llu", mm_map_count(mm),
	                       (unsigned long long)mm_locked_vm(mm));
	mmt_assert_checked(mm);
	return g_string_free(s, FALSE);
}

/* mm_reset gives what mm_create gives: the same scenario after a reset (under
 * the same config or another one) has the same results and state as on a
 * fresh address space, and the checker finds nothing. */
static void test_reset(void)
{
	mm_config cfg, nozero;
	mm_config_default(&cfg);
	cfg.mmap_low = BASE;
	cfg.mmap_base = BASE + (1ull << 30);
	nozero = cfg;
	nozero.zero_page = false;
	nozero.thp_mode = MM_THP_ALWAYS;
	mm_state *fresh = mm_create(&cfg), *fresh2 = mm_create(&nozero);
	char *want = reset_scenario(fresh), *want2 = reset_scenario(fresh2);
	g_assert_cmpstr(want, !=, want2);
	mm_state *mm = mm_create(&cfg);
	for (int round = 0; round < 4; round++) {
		char *got = reset_scenario(mm);
		g_assert_cmpstr(got, ==, round % 2 ? want2 : want);
		g_free(got);
		g_assert_cmpint(mm_reset(mm, round % 2 ? &cfg : &nozero), ==, 0);
		assert_layout(mm, "");
		g_assert_cmpuint(mm_map_count(mm), ==, 0);
		g_assert_cmpuint(mm_locked_vm(mm), ==, 0);
	}
	g_assert_cmpint(mm_reset(mm, NULL), ==, 0); /* NULL: defaults, as mm_create */
	mm_destroy(mm);
	mm_destroy(fresh);
	mm_destroy(fresh2);
	g_free(want);
	g_free(want2);
}

/* ---- mmap ------------------------------------------------------------------ */

static void test_mmap_adjacent_anon_merge(void)
{
	/* do_mmap(): private anon pgoff = addr >> 12, so independently made
	 * neighbours are pgoff-linear and merge (vma_merge_new_range). */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 4, 4, RW, 0);
	map(mm, 12, 4, RW, 0);
	map(mm, 8, 4, RW, 0); /* fills the hole: merges both sides */
	assert_layout(mm, "0-16 rw-p");
	g_assert_cmpuint(mm_map_count(mm), ==, 1);
	mm_destroy(mm);
}

static void test_mmap_incompatible_neighbours(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 4, 4, RO, 0);                   /* different prot, and no "ac" */
	map(mm, 8, 4, RW, MM_MAP_NORESERVE);    /* "nr" instead of "ac" */
	map(mm, 12, 4, RW, 0);
	assert_layout(mm, "0-4 rw-p 4-8 r--p 8-12 rw-p 12-16 rw-p");
	g_assert_true(flags_at(mm, BASE) & MM_VM_ACCOUNT);
	g_assert_false(flags_at(mm, BASE + P(4)) & MM_VM_ACCOUNT);
	g_assert_true(flags_at(mm, BASE + P(8)) & MM_VM_NORESERVE);
	g_assert_false(flags_at(mm, BASE + P(8)) & MM_VM_ACCOUNT);
	mm_destroy(mm);
}

static void test_mmap_shared_anon_never_merges(void)
{
	/* Each shared anonymous mmap gets its own shmem file. */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, MM_MAP_SHARED);
	map(mm, 4, 4, RW, MM_MAP_SHARED);
	assert_layout(mm, "0-4 rw-s 4-8 rw-s");
	mm_vma_info info[2];
	g_assert_cmpuint(mm_vmas(mm, BASE, BASE + P(8), info, 2), ==, 2);
	g_assert_cmpint(info[0].backing, ==, MM_BACKING_SHMEM);
	g_assert_cmpuint(info[0].object, !=, info[1].object);
	g_assert_cmpuint(info[0].pgoff, ==, 0);
	mm_destroy(mm);
}

static void test_mmap_file_offsets(void)
{
	/* Same struct file and contiguous offsets merge; a gap in offsets
	 * does not (can_vma_merge_after: pgoff contiguity). */
	mm_state *mm = new_mm();
	int f = mm_file_create(mm, P(64));
	g_assert_cmpint(f, >, 0);
	uint64_t shared = MM_MAP_SHARED | MM_MAP_FIXED;
	g_assert_cmpint(mm_mmap(mm, BASE, P(4), RW, shared, f, 0), ==, (int64_t)BASE);
	g_assert_cmpint(mm_mmap(mm, BASE + P(4), P(4), RW, shared, f, P(4)), ==, (int64_t)(BASE + P(4)));
	g_assert_cmpint(mm_mmap(mm, BASE + P(8), P(4), RW, shared, f, P(16)), ==, (int64_t)(BASE + P(8)));
	assert_layout(mm, "0-8 rw-s 8-12 rw-s");
	mm_destroy(mm);
}

static void test_mmap_no_hint_topdown(void)
{
	/* Top-down from mmap_base; consecutive mappings pack downwards. */
	mm_state *mm = new_mm();
	uint64_t top = BASE + (1ull << 30);
	g_assert_cmpint(mm_mmap(mm, 0, P(4), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0), ==, (int64_t)(top - P(4)));
	g_assert_cmpint(mm_mmap(mm, 0, P(4), RO, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0), ==, (int64_t)(top - P(8)));
	/* __thp_get_unmapped_area(): a 2 MiB multiple searches for 4 MiB,
	 * gets [top-8p-4M, top-8p), not aligned, rounds up to a 2 MiB
	 * boundary: top - 4 MiB. */
	g_assert_cmpint(mm_mmap(mm, 0, 2ull << 20, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0), ==,
	                (int64_t)(top - (4ull << 20)));
	/* A hint into a free range is taken as is. */
	g_assert_cmpint(mm_mmap(mm, BASE + P(100), P(1), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0), ==,
	                (int64_t)(BASE + P(100)));
	/* A hint into an occupied range falls back to the search, whose
	 * highest gap is now the hole the THP alignment left above the 2 MiB
	 * mapping, [top - 2 MiB, top - 8 pages): the page goes at its top. */
	g_assert_cmpint(mm_mmap(mm, BASE + P(100), P(1), RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0), ==,
	                (int64_t)(top - P(9)));
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

static void test_mmap_fixed_replaces(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 12, RW, 0);
	map(mm, 4, 4, RO, 0);
	assert_layout(mm, "0-4 rw-p 4-8 r--p 8-12 rw-p");
	map(mm, 4, 4, RW, 0); /* replaced, then merged with both sides */
	assert_layout(mm, "0-12 rw-p");
	g_assert_cmpint(mm_mmap(mm, BASE + P(2), P(2), RW, ANON_FIXED | MM_MAP_FIXED_NOREPLACE, 0, 0), ==, -EEXIST);
	mm_destroy(mm);
}

static void test_mmap_flags(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, MM_PROT_WRITE, MM_MAP_STACK);
	/* PROT_WRITE alone has no VM_READ; MAP_STACK sets VM_NOHUGEPAGE. */
	g_assert_cmphex(flags_at(mm, BASE), ==,
	                MM_VM_WRITE | MM_VM_MAYREAD | MM_VM_MAYWRITE | MM_VM_MAYEXEC | MM_VM_ACCOUNT | MM_VM_NOHUGEPAGE);
	int64_t r = mm_mmap(mm, BASE + P(8), P(4), RW, MM_MAP_DROPPABLE | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0);
	g_assert_cmpint(r, ==, (int64_t)(BASE + P(8)));
	char buf[128];
	mm_format_vmflags(flags_at(mm, BASE + P(8)), buf, sizeof buf);
	g_assert_cmpstr(buf, ==, "rd wr mr mw me nr wf dd dp ");
	map(mm, 16, 4, RW, MM_MAP_GROWSDOWN);
	g_assert_true(flags_at(mm, BASE + P(16)) & MM_VM_GROWSDOWN);
	mm_destroy(mm);
}

/* ---- munmap ------------------------------------------------------------------ */

static void test_munmap_split_and_holes(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 16, RW, 0);
	g_assert_cmpint(mm_munmap(mm, BASE + P(4), P(4)), ==, 0);
	assert_layout(mm, "0-4 rw-p 8-16 rw-p");
	/* A range with holes and no VMA at all is fine. */
	g_assert_cmpint(mm_munmap(mm, BASE + P(2), P(8)), ==, 0);
	assert_layout(mm, "0-2 rw-p 10-16 rw-p");
	g_assert_cmpint(mm_munmap(mm, BASE + P(100), P(1)), ==, 0);
	/* The upper piece of a split keeps pgoff-linear: re-mapping the hole
	 * merges everything again. */
	map(mm, 2, 8, RW, 0);
	assert_layout(mm, "0-16 rw-p");
	mm_destroy(mm);
}

static void test_map_count_edges(void)
{
	/* 6 VMAs, max_map_count 6: mmap may still make the 7th (> check),
	 * a 3-way munmap split may not (>= check), head and tail trims may. */
	mm_config cfg;
	mm_config_default(&cfg);
	cfg.mmap_low = BASE;
	cfg.mmap_base = BASE + (1ull << 30);
	cfg.max_map_count = 6;
	mm_state *mm = mm_create(&cfg);
	for (int i = 0; i < 6; i++)
		map(mm, (uint64_t)i * 8, 4, i % 2 ? RO : RW, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 6);
	g_assert_cmpint(mm_munmap(mm, BASE + P(1), P(1)), ==, -ENOMEM);
	g_assert_cmpint(mm_mprotect(mm, BASE + P(1), P(1), RO), ==, -ENOMEM);
	g_assert_cmpint(mm_madvise(mm, BASE + P(1), P(1), MM_MADV_DONTFORK), ==, -EAGAIN);
	map(mm, 100, 1, RW, 0); /* map_count 7 = max + 1 */
	g_assert_cmpuint(mm_map_count(mm), ==, 7);
	g_assert_cmpint(mm_mmap(mm, BASE + P(200), P(1), RW, ANON_FIXED, 0, 0), ==, -ENOMEM);
	g_assert_cmpint(mm_munmap(mm, BASE, P(1)), ==, 0); /* head trim: no limit */
	g_assert_cmpint(mm_munmap(mm, BASE + P(3), P(1)), ==, 0); /* tail trim */
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* ---- mprotect ------------------------------------------------------------------ */

static void test_mprotect_split_merge(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 12, RW, 0);
	g_assert_cmpint(mm_mprotect(mm, BASE + P(4), P(4), RO), ==, 0);
	assert_layout(mm, "0-4 rw-p 4-8 r--p 8-12 rw-p");
	/* Never faulted, so dropping write dropped VM_ACCOUNT too, and
	 * getting it back re-adds it: all three merge again. */
	g_assert_false(flags_at(mm, BASE + P(4)) & MM_VM_ACCOUNT);
	g_assert_cmpint(mm_mprotect(mm, BASE + P(4), P(4), RW), ==, 0);
	assert_layout(mm, "0-12 rw-p");
	mm_destroy(mm);
}

static void test_mprotect_faulted_keeps_account(void)
{
	/* mprotect_fixup(): VM_ACCOUNT is dropped only without an anon_vma. */
	mm_state *mm = new_mm();
	map(mm, 0, 8, RW, 0);
	g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_mprotect(mm, BASE, P(8), RO), ==, 0);
	g_assert_true(flags_at(mm, BASE) & MM_VM_ACCOUNT);
	mm_destroy(mm);
}

static void test_mprotect_partial(void)
{
	/* Work before a hole stays done, and the result is ENOMEM. */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 6, 4, RW, 0);
	g_assert_cmpint(mm_mprotect(mm, BASE, P(10), RO), ==, -ENOMEM);
	assert_layout(mm, "0-4 r--p 6-10 rw-p");
	/* A hole at the very start changes nothing. */
	g_assert_cmpint(mm_mprotect(mm, BASE + P(5), P(3), RO), ==, -ENOMEM);
	assert_layout(mm, "0-4 r--p 6-10 rw-p");
	mm_destroy(mm);
}

static void test_mprotect_noop_does_not_merge(void)
{
	/* A no-op mprotect returns before any merge attempt: two adjacent
	 * mergeable VMAs left apart stay apart. Make them with different
	 * flags, then make the flags equal with a no-op on one side. */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 4, 4, RO, 0);
	g_assert_cmpint(mm_mprotect(mm, BASE, P(4), RW), ==, 0);
	assert_layout(mm, "0-4 rw-p 4-8 r--p");
	mm_destroy(mm);
}

/* merge.c: mprotect_unfaulted_left / _right / _both. NORESERVE keeps
 * VM_ACCOUNT out of the picture; the faulted side has an anon_vma, the other
 * none, and that is compatible. */
static void test_merge_mprotect_unfaulted(void)
{
	for (int variant = 0; variant < 3; variant++) {
		mm_state *mm = new_mm();
		map(mm, 0, 10, RW, MM_MAP_NORESERVE);
		if (variant == 0) { /* left RO unfaulted, right faulted */
			g_assert_cmpint(mm_mprotect(mm, BASE, P(5), RO), ==, 0);
			g_assert_cmpint(mm_touch(mm, BASE + P(5), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
			g_assert_cmpint(mm_mprotect(mm, BASE + P(5), P(5), RO), ==, 0);
		} else if (variant == 1) { /* right RO unfaulted, left faulted */
			g_assert_cmpint(mm_mprotect(mm, BASE + P(5), P(5), RO), ==, 0);
			g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
			g_assert_cmpint(mm_mprotect(mm, BASE, P(5), RO), ==, 0);
		} else { /* RO | RW faulted | RO */
			g_assert_cmpint(mm_mprotect(mm, BASE, P(3), RO), ==, 0);
			g_assert_cmpint(mm_mprotect(mm, BASE + P(6), P(4), RO), ==, 0);
			g_assert_cmpint(mm_touch(mm, BASE + P(3), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
			g_assert_cmpint(mm_mprotect(mm, BASE + P(3), P(3), RO), ==, 0);
		}
		assert_layout(mm, "0-10 r--p");
		mm_destroy(mm);
	}
}

static void test_merge_different_anon_vmas(void)
{
	/* Two separately faulted VMAs A and C; a new mapping B between them
	 * merges only with A (prev and next must share the anon_vma). */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 8, 4, RW, 0);
	g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_touch(mm, BASE + P(8), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	map(mm, 4, 4, RW, 0);
	assert_layout(mm, "0-8 rw-p 8-12 rw-p");
	mm_destroy(mm);
}

/* ---- mremap --------------------------------------------------------------------- */

static void test_mremap_basic(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 8, 4, RO, 0);
	/* Expand in place into the free pages after it. */
	g_assert_cmpint(mm_mremap(mm, BASE, P(4), P(6), 0, 0), ==, (int64_t)BASE);
	assert_layout(mm, "0-6 rw-p 8-12 r--p");
	/* Blocked without MAYMOVE. */
	g_assert_cmpint(mm_mremap(mm, BASE, P(6), P(10), 0, 0), ==, -ENOMEM);
	/* Shrink: only trims. */
	g_assert_cmpint(mm_mremap(mm, BASE, P(6), P(2), 0, 0), ==, (int64_t)BASE);
	assert_layout(mm, "0-2 rw-p 8-12 r--p");
	/* No resize, no move: addr must be in a VMA, but the range may then
	 * run over holes and other VMAs (check_prep_vma stops early). */
	g_assert_cmpint(mm_mremap(mm, BASE + P(1), P(20), P(20), 0, 0), ==, (int64_t)(BASE + P(1)));
	g_assert_cmpint(mm_mremap(mm, BASE + P(3), P(1), P(1), 0, 0), ==, -EFAULT);
	/* A range crossing the end of the VMA is EFAULT; no VMA is EFAULT. */
	g_assert_cmpint(mm_mremap(mm, BASE, P(4), P(8), MM_MREMAP_MAYMOVE, 0), ==, -EFAULT);
	g_assert_cmpint(mm_mremap(mm, BASE + P(4), P(1), P(2), MM_MREMAP_MAYMOVE, 0), ==, -EFAULT);
	mm_destroy(mm);
}

static void test_mremap_unfaulted_move_merges(void)
{
	/* merge.c mremap_unfaulted_to_faulted: an unfaulted VMA moved right
	 * after a faulted one takes pgoff = new_addr >> 12 (copy_vma) and
	 * merges. */
	mm_state *mm = new_mm();
	map(mm, 0, 5, RW, 0);
	map(mm, 20, 5, RW, 0);
	g_assert_cmpint(mm_touch(mm, BASE, MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_mremap(mm, BASE + P(20), P(5), P(5), MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + P(5)),
	                ==, (int64_t)(BASE + P(5)));
	assert_layout(mm, "0-10 rw-p");
	mm_destroy(mm);
}

static void test_mremap_faulted_move_keeps_pgoff(void)
{
	/* A faulted VMA keeps its pgoff when it moves: next to an unfaulted
	 * VMA it is no longer linear, so they stay apart; moved back to where
	 * it came from it is linear again and re-merges. */
	mm_state *mm = new_mm();
	map(mm, 0, 10, RW, 0);
	g_assert_cmpint(mm_touch(mm, BASE + P(5), MM_ACCESS_WRITE).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_mremap(mm, BASE + P(5), P(5), P(5), MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + P(30)),
	                ==, (int64_t)(BASE + P(30)));
	assert_layout(mm, "0-5 rw-p 30-35 rw-p");
	map(mm, 35, 5, RW, 0);
	assert_layout(mm, "0-5 rw-p 30-35 rw-p 35-40 rw-p");
	g_assert_cmpint(mm_mremap(mm, BASE + P(30), P(5), P(5), MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + P(5)),
	                ==, (int64_t)(BASE + P(5)));
	assert_layout(mm, "0-10 rw-p 35-40 rw-p");
	mm_destroy(mm);
}

static void test_mremap_dontunmap(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, MM_MAP_LOCKED);
	int64_t r = mm_mremap(mm, BASE, P(4), P(4), MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP, BASE + P(10));
	g_assert_cmpint(r, ==, (int64_t)(BASE + P(10)));
	/* The old VMA stays, unlocked; the new one keeps the lock. */
	g_assert_false(flags_at(mm, BASE) & MM_VM_LOCKED);
	g_assert_true(flags_at(mm, BASE + P(10)) & MM_VM_LOCKED);
	g_assert_cmpint(mm_mremap(mm, BASE, P(4), P(4), MM_MREMAP_DONTUNMAP, BASE + P(20)), ==, -EINVAL);
	mm_destroy(mm);
}

/* ---- madvise, mlock, mseal ------------------------------------------------------ */

static void test_madvise_flags_and_holes(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	map(mm, 6, 4, RW, 0);
	/* Holes do not stop the walk: both pieces get dc, result ENOMEM. */
	g_assert_cmpint(mm_madvise(mm, BASE, P(10), MM_MADV_DONTFORK), ==, -ENOMEM);
	g_assert_true(flags_at(mm, BASE) & MM_VM_DONTCOPY);
	g_assert_true(flags_at(mm, BASE + P(6)) & MM_VM_DONTCOPY);
	/* Interior advice splits in three; undoing it merges back. */
	g_assert_cmpint(mm_madvise(mm, BASE + P(1), P(2), MM_MADV_HUGEPAGE), ==, 0);
	assert_layout(mm, "0-1 rw-p 1-3 rw-p 3-4 rw-p 6-10 rw-p");
	g_assert_cmpint(mm_madvise(mm, BASE + P(1), P(2), MM_MADV_NOHUGEPAGE), ==, 0);
	g_assert_cmpint(mm_madvise(mm, BASE, P(4), MM_MADV_NORMAL), ==, 0); /* does not touch hg/nh */
	assert_layout(mm, "0-1 rw-p 1-3 rw-p 3-4 rw-p 6-10 rw-p");
	g_assert_cmpint(mm_madvise(mm, BASE, P(4), MM_MADV_WIPEONFORK), ==, 0);
	g_assert_cmpint(mm_madvise(mm, BASE, P(1), 999), ==, -EINVAL);
	g_assert_cmpint(mm_madvise(mm, BASE + P(100), P(1), MM_MADV_DONTNEED), ==, -ENOMEM);
	mm_destroy(mm);
}

static void test_madvise_guard_sticky(void)
{
	/* guard_install sets "gu" on the whole VMA without splitting; "gu" is
	 * ignored by merge and carried over to the merged VMA. */
	mm_state *mm = new_mm();
	map(mm, 0, 4, RW, 0);
	g_assert_cmpint(mm_madvise(mm, BASE + P(1), P(1), MM_MADV_GUARD_INSTALL), ==, 0);
	assert_layout(mm, "0-4 rw-p");
	g_assert_true(flags_at(mm, BASE) & MM_VM_MAYBE_GUARD);
	map(mm, 4, 4, RW, 0);
	assert_layout(mm, "0-8 rw-p");
	g_assert_true(flags_at(mm, BASE + P(6)) & MM_VM_MAYBE_GUARD);
	/* Locked memory refuses guards. */
	map(mm, 10, 2, RW, MM_MAP_LOCKED);
	g_assert_cmpint(mm_madvise(mm, BASE + P(10), P(1), MM_MADV_GUARD_INSTALL), ==, -EINVAL);
	mm_destroy(mm);
}

static void test_mlock(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 8, RW, 0);
	/* The start is rounded down, not refused. */
	g_assert_cmpint(mm_mlock2(mm, BASE + P(2) + 5, P(2), 0), ==, 0);
	assert_layout(mm, "0-2 rw-p 2-5 rw-p 5-8 rw-p");
	g_assert_cmpint(mm_munlock(mm, BASE, P(8)), ==, 0);
	assert_layout(mm, "0-8 rw-p");
	g_assert_cmpint(mm_mlock2(mm, BASE, P(1), MM_MLOCK_ONFAULT), ==, 0);
	g_assert_cmphex(flags_at(mm, BASE) & MM_VM_LOCKED_MASK, ==, MM_VM_LOCKED_MASK);
	g_assert_cmpint(mm_mlock2(mm, BASE, P(1), 2), ==, -EINVAL);
	g_assert_cmpint(mm_mlock2(mm, BASE, P(10), 0), ==, -ENOMEM);
	mm_destroy(mm);
}

static void test_mseal(void)
{
	mm_state *mm = new_mm();
	map(mm, 0, 8, RW, 0);
	map(mm, 10, 2, RW, 0);
	/* A hole anywhere: nothing sealed. */
	g_assert_cmpint(mm_mseal(mm, BASE, P(12), 0), ==, -ENOMEM);
	g_assert_false(flags_at(mm, BASE) & MM_VM_SEALED);
	g_assert_cmpint(mm_mseal(mm, BASE + P(2), P(2), 0), ==, 0);
	assert_layout(mm, "0-2 rw-p 2-4 rw-p 4-8 rw-p 10-12 rw-p");
	/* Sealed VMAs refuse unmapping, any mprotect, mremap, MAP_FIXED. */
	g_assert_cmpint(mm_munmap(mm, BASE, P(8)), ==, -EPERM);
	g_assert_cmpint(mm_mprotect(mm, BASE + P(2), P(2), RW), ==, -EPERM);
	g_assert_cmpint(mm_mremap(mm, BASE + P(2), P(2), P(1), 0, 0), ==, -EPERM);
	g_assert_cmpint(mm_mmap(mm, BASE + P(3), P(1), RW, ANON_FIXED, 0, 0), ==, -EPERM);
	/* Sealing the neighbour merges with the sealed piece. */
	g_assert_cmpint(mm_mseal(mm, BASE + P(4), P(4), 0), ==, 0);
	assert_layout(mm, "0-2 rw-p 2-8 rw-p 10-12 rw-p");
	/* A failed munmap keeps the head split it made before seeing the seal
	 * (vms_gather_munmap_vmas): here no split was needed. */
	g_assert_cmpint(mm_munmap(mm, BASE + P(1), P(4)), ==, -EPERM);
	assert_layout(mm, "0-1 rw-p 1-2 rw-p 2-8 rw-p 10-12 rw-p");
	g_assert_cmpint(mm_mseal(mm, BASE, P(1), 1), ==, -EINVAL);
	mm_destroy(mm);
}

/* ---- errno table: each failing call, and the state unchanged after it ----- */

typedef struct errno_case {
	const char *what;
	int expect;
	int64_t (*call)(mm_state *mm);
} errno_case;

#define CASE(name, err, body)                                                                              \
	static int64_t call_##name(mm_state *mm) { return (body); }
CASE(mmap_len0, EINVAL, mm_mmap(mm, BASE, 0, RW, ANON_FIXED, 0, 0))
CASE(mmap_off_unaligned, EINVAL, mm_mmap(mm, BASE, P(1), RW, MM_MAP_SHARED, 1, 100))
CASE(mmap_badf, EBADF, mm_mmap(mm, BASE, P(1), RW, MM_MAP_SHARED, 99, 0))
CASE(mmap_fixed_unaligned, EINVAL, mm_mmap(mm, BASE + 1, P(1), RW, ANON_FIXED, 0, 0))
CASE(mmap_len_wraps, ENOMEM, mm_mmap(mm, 0, UINT64_MAX, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0))
CASE(mmap_too_big, ENOMEM, mm_mmap(mm, 0, 1ull << 47, RW, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS, 0, 0))
CASE(mmap_anon_validate, EINVAL, mm_mmap(mm, BASE, P(1), RW, MM_MAP_SHARED_VALIDATE | MM_MAP_ANONYMOUS, 0, 0))
CASE(mmap_type0, EINVAL, mm_mmap(mm, BASE, P(1), RW, MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0))
CASE(mmap_noreplace, EEXIST, mm_mmap(mm, BASE, P(1), RW, ANON_FIXED | MM_MAP_FIXED_NOREPLACE, 0, 0))
CASE(mmap_file_growsdown, EINVAL, mm_mmap(mm, BASE + P(20), P(1), RW, MM_MAP_PRIVATE | MM_MAP_GROWSDOWN, 1, 0))
CASE(mmap_validate_unknown, EOPNOTSUPP, mm_mmap(mm, BASE + P(20), P(1), RW, MM_MAP_SHARED_VALIDATE | 0x200000, 1, 0))
CASE(mmap_shared_anon_growsdown, EINVAL,
     mm_mmap(mm, BASE + P(20), P(1), RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_GROWSDOWN, 0, 0))
CASE(mmap_droppable_locked, EINVAL,
     mm_mmap(mm, BASE + P(20), P(1), RW, MM_MAP_DROPPABLE | MM_MAP_ANONYMOUS | MM_MAP_LOCKED, 0, 0))
CASE(munmap_unaligned, EINVAL, mm_munmap(mm, BASE + 1, P(1)))
CASE(munmap_len0, EINVAL, mm_munmap(mm, BASE, 0))
CASE(munmap_beyond, EINVAL, mm_munmap(mm, MM_TASK_SIZE, P(1)))
CASE(mprotect_unaligned, EINVAL, mm_mprotect(mm, BASE + 1, P(1), RO))
CASE(mprotect_badprot, EINVAL, mm_mprotect(mm, BASE, P(1), 0x100))
CASE(mprotect_hole_start, ENOMEM, mm_mprotect(mm, BASE + P(4), P(2), RO))
CASE(mprotect_wrap, ENOMEM, mm_mprotect(mm, BASE, UINT64_MAX - BASE, RO))
CASE(mprotect_growsdown_plain, EINVAL, mm_mprotect(mm, BASE, P(1), RO | MM_PROT_GROWSDOWN))
CASE(mprotect_both_grows, EINVAL, mm_mprotect(mm, BASE, P(1), RO | MM_PROT_GROWSDOWN | MM_PROT_GROWSUP))
CASE(mremap_badflags, EINVAL, mm_mremap(mm, BASE, P(1), P(2), 8, 0))
CASE(mremap_newlen0, EINVAL, mm_mremap(mm, BASE, P(1), 0, 0, 0))
CASE(mremap_unaligned, EINVAL, mm_mremap(mm, BASE + 1, P(1), P(2), 0, 0))
CASE(mremap_fixed_nomaymove, EINVAL, mm_mremap(mm, BASE, P(1), P(1), MM_MREMAP_FIXED, BASE + P(50)))
CASE(mremap_overlap, EINVAL,
     mm_mremap(mm, BASE, P(4), P(4), MM_MREMAP_FIXED | MM_MREMAP_MAYMOVE, BASE + P(2)))
CASE(mremap_dontunmap_resize, EINVAL,
     mm_mremap(mm, BASE, P(2), P(4), MM_MREMAP_DONTUNMAP | MM_MREMAP_MAYMOVE, BASE + P(50)))
CASE(mremap_nomove_blocked, ENOMEM, mm_mremap(mm, BASE, P(4), P(10), 0, 0))
CASE(mremap_novma, EFAULT, mm_mremap(mm, BASE + P(4), P(1), P(2), MM_MREMAP_MAYMOVE, 0))
CASE(mremap_across, EFAULT, mm_mremap(mm, BASE, P(8), P(9), MM_MREMAP_MAYMOVE, 0))
CASE(mremap_private_oldlen0, EINVAL, mm_mremap(mm, BASE, 0, P(1), MM_MREMAP_MAYMOVE, 0))
CASE(madvise_bad, EINVAL, mm_madvise(mm, BASE, P(1), 77))
CASE(madvise_unaligned, EINVAL, mm_madvise(mm, BASE + 1, P(1), MM_MADV_DONTNEED))
CASE(madvise_len_wraps, EINVAL, mm_madvise(mm, BASE, UINT64_MAX, MM_MADV_DONTNEED))
CASE(madvise_novma, ENOMEM, mm_madvise(mm, BASE + P(4), P(2), MM_MADV_DONTNEED))
CASE(madvise_wipe_shared, EINVAL, mm_madvise(mm, BASE + P(10), P(1), MM_MADV_WIPEONFORK))
CASE(madvise_free_shared, EINVAL, mm_madvise(mm, BASE + P(10), P(1), MM_MADV_FREE))
CASE(madvise_populate_ro, EINVAL, mm_madvise(mm, BASE + P(12), P(1), MM_MADV_POPULATE_WRITE))
CASE(madvise_remove_private, EINVAL, mm_madvise(mm, BASE, P(1), MM_MADV_REMOVE))
CASE(mlock_flags, EINVAL, mm_mlock2(mm, BASE, P(1), 4))
CASE(mlock_hole, ENOMEM, mm_mlock2(mm, BASE + P(3), P(2), 0))
CASE(mseal_flags, EINVAL, mm_mseal(mm, BASE, P(1), 1))
CASE(mseal_unaligned, EINVAL, mm_mseal(mm, BASE + 1, P(1), 0))
CASE(mseal_hole, ENOMEM, mm_mseal(mm, BASE, P(11), 0))
CASE(mseal_wrap, EINVAL, mm_mseal(mm, BASE, UINT64_MAX, 0))

static const errno_case errno_cases[] = {
#define E(name, err) {#name, err, call_##name}
	E(mmap_len0, EINVAL), E(mmap_off_unaligned, EINVAL), E(mmap_badf, EBADF), E(mmap_fixed_unaligned, EINVAL),
	E(mmap_len_wraps, ENOMEM), E(mmap_too_big, ENOMEM), E(mmap_anon_validate, EINVAL), E(mmap_type0, EINVAL),
	E(mmap_noreplace, EEXIST), E(mmap_file_growsdown, EINVAL), E(mmap_validate_unknown, EOPNOTSUPP),
	E(mmap_shared_anon_growsdown, EINVAL), E(mmap_droppable_locked, EINVAL), E(munmap_unaligned, EINVAL),
	E(munmap_len0, EINVAL), E(munmap_beyond, EINVAL), E(mprotect_unaligned, EINVAL),
	E(mprotect_badprot, EINVAL), E(mprotect_hole_start, ENOMEM), E(mprotect_wrap, ENOMEM),
	E(mprotect_growsdown_plain, EINVAL), E(mprotect_both_grows, EINVAL), E(mremap_badflags, EINVAL),
	E(mremap_newlen0, EINVAL), E(mremap_unaligned, EINVAL), E(mremap_fixed_nomaymove, EINVAL),
	E(mremap_overlap, EINVAL), E(mremap_dontunmap_resize, EINVAL), E(mremap_nomove_blocked, ENOMEM),
	E(mremap_novma, EFAULT), E(mremap_across, EFAULT), E(mremap_private_oldlen0, EINVAL), E(madvise_bad, EINVAL),
	E(madvise_unaligned, EINVAL), E(madvise_len_wraps, EINVAL), E(madvise_novma, ENOMEM),
	E(madvise_wipe_shared, EINVAL), E(madvise_free_shared, EINVAL), E(madvise_populate_ro, EINVAL),
	E(madvise_remove_private, EINVAL), E(mlock_flags, EINVAL), E(mlock_hole, ENOMEM), E(mseal_flags, EINVAL),
	E(mseal_unaligned, EINVAL), E(mseal_hole, ENOMEM), E(mseal_wrap, EINVAL),
#undef E
};

/* The fixture every errno case runs on: [0,4) rw anon, [4,8) hole, then
 * [8,10) rw anon, [10,12) rw shared anon, [12,13) r-- anon (pages from BASE),
 * and file 1 of 64 pages. */
static mm_state *errno_fixture(void)
{
	mm_state *mm = new_mm();
	g_assert_cmpint(mm_file_create(mm, P(64)), ==, 1);
	map(mm, 0, 4, RW, 0);
	map(mm, 8, 2, RW, 0);
	map(mm, 10, 2, RW, MM_MAP_SHARED);
	map(mm, 12, 1, RO, 0);
	return mm;
}

static gboolean same_vmas(const mm_state *a, const mm_state *b)
{
	mm_vma_info x[64], y[64];
	size_t n = mm_vmas(a, 0, MM_TASK_SIZE, x, 64), m = mm_vmas(b, 0, MM_TASK_SIZE, y, 64);
	if (n != m)
		return FALSE;
	for (size_t i = 0; i < n; i++)
		if (x[i].start != y[i].start || x[i].end != y[i].end || x[i].flags != y[i].flags ||
		    x[i].pgoff != y[i].pgoff || x[i].backing != y[i].backing)
			return FALSE;
	return TRUE;
}

static void test_errno_table(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(errno_cases); i++) {
		const errno_case *c = &errno_cases[i];
		mm_state *mm = errno_fixture(), *ref = errno_fixture();
		int64_t r = c->call(mm);
		if (r != -c->expect)
			g_error("%s: got %lld, expected -%d", c->what, (long long)r, c->expect);
		/* None of these applies anything before failing, except mlock
		 * over a hole, which locks the part before it, as Linux does
		 * (apply_vma_lock_flags). */
		if (strcmp(c->what, "mlock_hole") && !same_vmas(mm, ref))
			g_error("%s: the failed call changed the state", c->what);
		mmt_assert_checked(mm);
		mm_destroy(mm);
		mm_destroy(ref);
	}
}

/* Every allocation an operation makes may fail: the call then returns
 * -ENOMEM, the checker still holds, and single-step operations (one mmap,
 * one split) leave the state as it was. */
static void test_alloc_failure_paths(void)
{
	for (uint64_t n = 1; n <= 4; n++) {
		mm_state *mm = new_mm(), *ref = new_mm();
		map(mm, 0, 8, RW, 0);
		map(ref, 0, 8, RW, 0);
		mm_fail_alloc_after(mm, n);
		int64_t r = mm_mmap(mm, BASE + P(20), P(2), RW, ANON_FIXED, 0, 0);
		mm_fail_alloc_after(mm, 0);
		if (r < 0) {
			g_assert_cmpint(r, ==, -ENOMEM);
			g_assert_true(same_vmas(mm, ref));
		}
		mmt_assert_checked(mm);
		size_t before = mm_map_count(mm);
		mm_fail_alloc_after(mm, n);
		r = mm_mprotect(mm, BASE + P(6), P(2), RO); /* one split: one allocation */
		mm_fail_alloc_after(mm, 0);
		if (r < 0) {
			g_assert_cmpint(r, ==, -ENOMEM);
			g_assert_cmpuint(mm_map_count(mm), ==, before);
			g_assert_cmphex(flags_at(mm, BASE + P(6)) & MM_VM_WRITE, ==, MM_VM_WRITE);
		} else {
			g_assert_cmpuint(mm_map_count(mm), ==, before + 1);
		}
		mmt_assert_checked(mm);
		mm_destroy(mm);
		mm_destroy(ref);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/model/mmap/adjacent-anon-merge", test_mmap_adjacent_anon_merge);
	g_test_add_func("/model/mmap/incompatible-neighbours", test_mmap_incompatible_neighbours);
	g_test_add_func("/model/mmap/shared-anon-never-merges", test_mmap_shared_anon_never_merges);
	g_test_add_func("/model/mmap/file-offsets", test_mmap_file_offsets);
	g_test_add_func("/model/mmap/no-hint-topdown", test_mmap_no_hint_topdown);
	g_test_add_func("/model/mmap/fixed-replaces", test_mmap_fixed_replaces);
	g_test_add_func("/model/mmap/flags", test_mmap_flags);
	g_test_add_func("/model/munmap/split-and-holes", test_munmap_split_and_holes);
	g_test_add_func("/model/map-count-edges", test_map_count_edges);
	g_test_add_func("/model/mprotect/split-merge", test_mprotect_split_merge);
	g_test_add_func("/model/mprotect/faulted-keeps-account", test_mprotect_faulted_keeps_account);
	g_test_add_func("/model/mprotect/partial", test_mprotect_partial);
	g_test_add_func("/model/mprotect/noop-does-not-merge", test_mprotect_noop_does_not_merge);
	g_test_add_func("/model/merge/mprotect-unfaulted", test_merge_mprotect_unfaulted);
	g_test_add_func("/model/merge/different-anon-vmas", test_merge_different_anon_vmas);
	g_test_add_func("/model/mremap/basic", test_mremap_basic);
	g_test_add_func("/model/mremap/unfaulted-move-merges", test_mremap_unfaulted_move_merges);
	g_test_add_func("/model/mremap/faulted-move-keeps-pgoff", test_mremap_faulted_move_keeps_pgoff);
	g_test_add_func("/model/mremap/dontunmap", test_mremap_dontunmap);
	g_test_add_func("/model/madvise/flags-and-holes", test_madvise_flags_and_holes);
	g_test_add_func("/model/madvise/guard-sticky", test_madvise_guard_sticky);
	g_test_add_func("/model/mlock", test_mlock);
	g_test_add_func("/model/reset", test_reset);
	g_test_add_func("/model/mseal", test_mseal);
	g_test_add_func("/model/errno-table", test_errno_table);
	g_test_add_func("/model/alloc-failure-paths", test_alloc_failure_paths);
	return g_test_run();
}

/* Fault handlers (issue 20, part 1): a device whose mappings take their
 * page faults from a caller's vm_ops->fault (mm_device_create). Each
 * expected answer is worked out from mm/memory.c (do_read_fault,
 * do_cow_fault, do_shared_fault, __do_fault, should_fault_around) and
 * mm/vma.c (is_mergeable_vma), as the comments say; mm_check runs after
 * every scenario. */
#include <glib.h>
#include <string.h>

#include "mmref/mmref.h"

#define PG MM_PAGE_SIZE
#define BASE 0x10000000ull
#define NPAGES 8

/* The handler: page p, word w holds 0x1000 * p + w + 1; page 5 is a hole
 * (SIGBUS), page 6 refuses (SIGSEGV), page 7 runs out of memory. */
typedef struct handler_log {
	unsigned calls;
	mm_fault_info last;
} handler_log;

static mm_fault_status serve(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	handler_log *log = ctx;
	log->calls++;
	log->last = *vmf;
	for (unsigned w = 0; w < 512; w++)
		g_assert_cmpuint(words[w], ==, 0); /* zero on entry */
	switch (vmf->pgoff) {
	case 5:
		return MM_FAULT_SIGBUS;
	case 6:
		return MM_FAULT_SIGSEGV;
	case 7:
		return MM_FAULT_OOM;
	default:
		break;
	}
	for (unsigned w = 0; w < 512; w++)
		words[w] = 0x1000 * vmf->pgoff + w + 1;
	return MM_FAULT_OK;
}

static const mm_vm_ops ops = {.fault = serve};

static uint64_t expect_word(uint64_t pgoff, unsigned w) { return 0x1000 * pgoff + w + 1; }

static void assert_clean(const mm_state *mm)
{
	mm_violation v[4];
	size_t n = mm_check(mm, v, 4);
	for (size_t i = 0; i < n && i < 4; i++)
		g_printerr("I%d [%#llx,%#llx): %s\n", v[i].invariant, (unsigned long long)v[i].vma_start,
		           (unsigned long long)v[i].vma_end, v[i].what);
	g_assert_cmpuint(n, ==, 0);
}

static uint64_t read_ok(mm_state *mm, uint64_t addr)
{
	uint64_t val = 0;
	mm_touch_result r = mm_read(mm, addr, &val);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_OK);
	return val;
}

static uint64_t map_dev(mm_state *mm, uint64_t addr, uint64_t npages, uint64_t flags, int dev, uint64_t pgoff)
{
	int64_t a = mm_mmap(mm, addr, npages * PG, MM_PROT_READ | MM_PROT_WRITE, flags | MM_MAP_FIXED, dev,
	                    pgoff * PG);
	g_assert_cmpint(a, ==, (int64_t)addr);
	return addr;
}

static void test_create(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	g_assert_cmpint(mm_device_create(mm, PG, NULL, &log), ==, -EINVAL);
	mm_vm_ops none = {0};
	g_assert_cmpint(mm_device_create(mm, PG, &none, &log), ==, -EINVAL);
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	g_assert_cmpint(dev, >=, 1);
	/* Files and devices share the id space, as both are struct files. */
	int file = mm_file_create(mm, PG);
	g_assert_cmpint(file, ==, dev + 1);
	/* No ->write: vfs_write() is -EINVAL; a bad id stays -EBADF. */
	uint64_t w = 1;
	g_assert_cmpint(mm_file_write(mm, dev, 0, &w, 1), ==, -EINVAL);
	g_assert_cmpint(mm_file_write(mm, 99, 0, &w, 1), ==, -EBADF);
	g_assert_cmpuint(log.calls, ==, 0);
	mm_destroy(mm);
}

/* do_read_fault(): the handler fills the page; it is the device's page
 * from then on, so the next fault on it (after MADV_DONTNEED zapped the
 * PTE) finds it without asking again. */
static void test_read(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);
	g_assert_cmpuint(read_ok(mm, BASE + 2 * PG + 3 * 8), ==, expect_word(2, 3));
	g_assert_cmpuint(log.calls, ==, 1);
	g_assert_cmpint(log.last.file, ==, dev);
	g_assert_cmpuint(log.last.pgoff, ==, 2);
	g_assert_cmphex(log.last.address, ==, BASE + 2 * PG);
	g_assert_false(log.last.write);
	g_assert_true(log.last.shared);
	g_assert_cmpint(log.last.proc, ==, 1);
	g_assert_cmpint(mm_page(mm, BASE + 2 * PG), ==, MM_PAGE_FILE);
	g_assert_cmpint(mm_page(mm, BASE + 3 * PG), ==, MM_PAGE_NONE);
	g_assert_cmpuint(read_ok(mm, BASE + 2 * PG + 511 * 8), ==, expect_word(2, 511));
	g_assert_cmpint(mm_madvise(mm, BASE, NPAGES * PG, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpint(mm_page(mm, BASE + 2 * PG), ==, MM_PAGE_NONE);
	g_assert_cmpuint(read_ok(mm, BASE + 2 * PG), ==, expect_word(2, 0));
	g_assert_cmpuint(log.calls, ==, 1);
	assert_clean(mm);
	mm_destroy(mm);
}

/* should_fault_around() wants vm_ops->map_pages: a memfd's read fault maps
 * the cached neighbours (filemap_map_pages), a device's does not. */
static void test_no_fault_around(void)
{
	for (int device = 0; device <= 1; device++) {
		mm_state *mm = mm_create(NULL);
		handler_log log = {0};
		int f = device ? mm_device_create(mm, NPAGES * PG, &ops, &log) : mm_file_create(mm, NPAGES * PG);
		uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, f, 0);
		uint64_t b = map_dev(mm, BASE + 0x100000, NPAGES, MM_MAP_SHARED, f, 0);
		read_ok(mm, a + 2 * PG);
		read_ok(mm, a + 3 * PG);
		read_ok(mm, b + 2 * PG);
		g_assert_cmpint(mm_page(mm, b + 2 * PG), ==, MM_PAGE_FILE);
		g_assert_cmpint(mm_page(mm, b + 3 * PG), ==, device ? MM_PAGE_NONE : MM_PAGE_FILE);
		if (device)
			g_assert_cmpuint(log.calls, ==, 2);
		assert_clean(mm);
		mm_destroy(mm);
	}
}

/* The handler's answers become the access's signal (do_user_addr_fault:
 * VM_FAULT_SIGBUS -> do_sigbus, VM_FAULT_SIGSEGV -> bad_area_nosemaphore,
 * VM_FAULT_OOM reported as SIGBUS by the model); no page is made. Beyond
 * the device's size the fault is SIGBUS before the handler is asked. */
static void test_errors(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	map_dev(mm, BASE, NPAGES + 1, MM_MAP_SHARED, dev, 0);
	mm_touch_result r = mm_touch(mm, BASE + 5 * PG, MM_ACCESS_READ);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmphex(r.pf_error, ==, MM_PF_USER);
	r = mm_touch(mm, BASE + 6 * PG, MM_ACCESS_WRITE);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_SEGV_MAPERR);
	g_assert_cmphex(r.pf_error, ==, MM_PF_USER | MM_PF_WRITE);
	g_assert_true(log.last.write);
	r = mm_touch(mm, BASE + 7 * PG, MM_ACCESS_READ);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmpuint(log.calls, ==, 3);
	for (uint64_t p = 5; p <= 7; p++)
		g_assert_cmpint(mm_page(mm, BASE + p * PG), ==, MM_PAGE_NONE);
	/* The page past the 8-page device: SIGBUS, handler not called. */
	r = mm_touch(mm, BASE + 8 * PG, MM_ACCESS_READ);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmpuint(log.calls, ==, 3);
	/* A hole stays a hole: asked again, answers again. */
	r = mm_touch(mm, BASE + 5 * PG, MM_ACCESS_READ);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmpuint(log.calls, ==, 4);
	/* MAP_POPULATE faults every page of the range through the handler
	 * (populate_vma_page_range -> handle_mm_fault). */
	handler_log log2 = {0};
	int dev2 = mm_device_create(mm, NPAGES * PG, &ops, &log2);
	int64_t a = mm_mmap(mm, BASE + 0x100000, 4 * PG, MM_PROT_READ, MM_MAP_SHARED | MM_MAP_FIXED | MM_MAP_POPULATE,
	                    dev2, 0);
	g_assert_cmpint(a, ==, (int64_t)(BASE + 0x100000));
	g_assert_cmpuint(log2.calls, ==, 4);
	for (uint64_t p = 0; p < 4; p++)
		g_assert_cmpint(mm_page(mm, BASE + 0x100000 + p * PG), ==, MM_PAGE_FILE);
	assert_clean(mm);
	mm_destroy(mm);
}

/* do_cow_fault(): a private write takes the device's page from the handler
 * (write set, shared not) and maps an anonymous copy; the device's page is
 * untouched. do_read_fault() then wp_page_copy() for a read first. */
static void test_private(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	uint64_t priv = map_dev(mm, BASE, NPAGES, MM_MAP_PRIVATE, dev, 0);
	uint64_t shared = map_dev(mm, BASE + 0x100000, NPAGES, MM_MAP_SHARED, dev, 0);
	g_assert_cmpuint(read_ok(mm, priv + PG + 8), ==, expect_word(1, 1));
	g_assert_cmpint(mm_page(mm, priv + PG), ==, MM_PAGE_FILE);
	g_assert_cmpint(mm_write(mm, priv + PG, 42).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_page(mm, priv + PG), ==, MM_PAGE_ANON);
	g_assert_cmpuint(read_ok(mm, priv + PG), ==, 42);
	g_assert_cmpuint(read_ok(mm, priv + PG + 8), ==, expect_word(1, 1));
	g_assert_cmpuint(read_ok(mm, shared + PG), ==, expect_word(1, 0));
	g_assert_cmpuint(log.calls, ==, 1);

	g_assert_cmpint(mm_write(mm, priv + 4 * PG + 16, 7).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(log.calls, ==, 2);
	g_assert_true(log.last.write);
	g_assert_false(log.last.shared);
	g_assert_cmpuint(log.last.pgoff, ==, 4);
	g_assert_cmpint(mm_page(mm, priv + 4 * PG), ==, MM_PAGE_ANON);
	g_assert_cmpuint(read_ok(mm, priv + 4 * PG + 8), ==, expect_word(4, 1));
	g_assert_cmpuint(read_ok(mm, priv + 4 * PG + 16), ==, 7);
	g_assert_cmpuint(read_ok(mm, shared + 4 * PG + 16), ==, expect_word(4, 2));
	g_assert_cmpuint(log.calls, ==, 2);
	/* A handler's SIGBUS on a private write: do_cow_fault() prepared the
	 * anon_vma first, nothing else changes. */
	g_assert_cmpint(mm_write(mm, priv + 5 * PG, 1).outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmpint(mm_page(mm, priv + 5 * PG), ==, MM_PAGE_NONE);
	assert_clean(mm);
	mm_destroy(mm);
}

/* do_shared_fault(): the page is the device's; a store through one shared
 * mapping is seen through another. */
static void test_shared_write(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);
	uint64_t b = map_dev(mm, BASE + 0x100000, NPAGES, MM_MAP_SHARED, dev, 0);
	g_assert_cmpint(mm_write(mm, a, 77).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(log.calls, ==, 1);
	g_assert_true(log.last.write);
	g_assert_true(log.last.shared);
	g_assert_cmpuint(read_ok(mm, b), ==, 77);
	g_assert_cmpuint(read_ok(mm, b + 8), ==, expect_word(0, 1));
	g_assert_cmpuint(log.calls, ==, 1);
	assert_clean(mm);
	mm_destroy(mm);
}

/* The VMA's operations through split, merge, mremap and fork: the
 * handler's device goes with every VMA made from one of it. */
static void test_vma_ops(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0}, log2 = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
	int dev2 = mm_device_create(mm, NPAGES * PG, &ops, &log2);
	map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);
	/* Split (__split_vma: vm_area_dup copies vm_ops): three VMAs, each
	 * served by the handler at its own pgoff. */
	g_assert_cmpint(mm_mprotect(mm, BASE + 3 * PG, PG, MM_PROT_READ), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 3);
	g_assert_cmpuint(read_ok(mm, BASE + 3 * PG), ==, expect_word(3, 0));
	g_assert_cmpuint(log.last.pgoff, ==, 3);
	g_assert_cmpuint(read_ok(mm, BASE + 4 * PG), ==, expect_word(4, 0));
	g_assert_cmpuint(log.last.pgoff, ==, 4);
	/* ...and merge again: same file, same vm_ops, pgoff in line. */
	g_assert_cmpint(mm_mprotect(mm, BASE + 3 * PG, PG, MM_PROT_READ | MM_PROT_WRITE), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 1);
	assert_clean(mm);

	/* Next to it: the same device at the following offset merges (one
	 * VMA); another device with the same ops does not (is_mergeable_vma:
	 * vm_file differs), nor anonymous memory. */
	map_dev(mm, BASE + NPAGES * PG, 2, MM_MAP_SHARED, dev, NPAGES - 2);
	g_assert_cmpuint(mm_map_count(mm), ==, 2); /* pgoff 6 after pgoff 7: no merge */
	g_assert_cmpint(mm_munmap(mm, BASE + NPAGES * PG, 2 * PG), ==, 0);
	g_assert_cmpint(mm_munmap(mm, BASE + 6 * PG, 2 * PG), ==, 0);
	map_dev(mm, BASE + 6 * PG, 2, MM_MAP_SHARED, dev, 6);
	g_assert_cmpuint(mm_map_count(mm), ==, 1);
	map_dev(mm, BASE + NPAGES * PG, 2, MM_MAP_SHARED, dev2, NPAGES);
	g_assert_cmpuint(mm_map_count(mm), ==, 2);
	int64_t an = mm_mmap(mm, BASE + (NPAGES + 2) * PG, PG, MM_PROT_READ | MM_PROT_WRITE,
	                     MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0);
	g_assert_cmpint(an, ==, (int64_t)(BASE + (NPAGES + 2) * PG));
	g_assert_cmpuint(mm_map_count(mm), ==, 3);
	g_assert_cmpint(mm_munmap(mm, BASE + NPAGES * PG, 3 * PG), ==, 0);
	assert_clean(mm);

	/* mremap moves the VMA and its operations: a page the device holds
	 * reads back without a call, a new one is asked at the new address. */
	unsigned calls = log.calls;
	uint64_t to = BASE + 0x400000;
	g_assert_cmpint(mm_mremap(mm, BASE, NPAGES * PG, NPAGES * PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, to), ==,
	                (int64_t)to);
	g_assert_cmpuint(read_ok(mm, to + 3 * PG), ==, expect_word(3, 0));
	g_assert_cmpuint(log.calls, ==, calls);
	g_assert_cmpuint(read_ok(mm, to + PG), ==, expect_word(1, 0));
	g_assert_cmpuint(log.calls, ==, calls + 1);
	g_assert_cmphex(log.last.address, ==, to + PG);
	g_assert_cmpuint(log.last.pgoff, ==, 1);
	assert_clean(mm);

	/* fork: the child's VMA has the operations (dup_mmap -> vm_area_dup);
	 * its fault on a page the device lacks asks the handler, in process
	 * 2; a store in the child is seen by the parent (a shared mapping). */
	int child = mm_fork(mm);
	g_assert_cmpint(child, ==, 2);
	g_assert_cmpint(mm_proc(mm, child), ==, 0);
	g_assert_cmpuint(read_ok(mm, to + 2 * PG), ==, expect_word(2, 0));
	g_assert_cmpint(log.last.proc, ==, 2);
	g_assert_cmpuint(log.last.pgoff, ==, 2);
	g_assert_cmpint(mm_write(mm, to + 2 * PG, 9).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_proc(mm, 1), ==, 0);
	g_assert_cmpuint(read_ok(mm, to + 2 * PG), ==, 9);
	g_assert_cmpint(mm_exit(mm, child), ==, 0);
	assert_clean(mm);
	mm_destroy(mm);
}

/* What the device does not have: ->fallocate (MADV_REMOVE), huge pages
 * (MADV_COLLAPSE). */
static void test_madvise(void)
{
	mm_state *mm = mm_create(NULL);
	handler_log log = {0};
	int dev = mm_device_create(mm, 4 * MM_PMD_SIZE, &ops, &log);
	uint64_t at = 0x40000000ull;
	int64_t a = mm_mmap(mm, at, 2 * MM_PMD_SIZE, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_SHARED | MM_MAP_FIXED, dev, 0);
	g_assert_cmpint(a, ==, (int64_t)at);
	read_ok(mm, at);
	g_assert_cmpint(mm_madvise(mm, at, PG, MM_MADV_REMOVE), ==, -EOPNOTSUPP);
	g_assert_cmpint(mm_madvise(mm, at, MM_PMD_SIZE, MM_MADV_COLLAPSE), ==, -EINVAL);
	g_assert_cmpint(mm_page(mm, at), ==, MM_PAGE_FILE);
	/* A memfd allows both. */
	int file = mm_file_create(mm, 4 * MM_PMD_SIZE);
	a = mm_mmap(mm, at, 2 * MM_PMD_SIZE, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_SHARED | MM_MAP_FIXED, file, 0);
	g_assert_cmpint(a, ==, (int64_t)at);
	g_assert_cmpint(mm_madvise(mm, at, PG, MM_MADV_REMOVE), ==, 0);
	assert_clean(mm);
	mm_destroy(mm);
}

/* Every allocation of a device fault failing in turn: the fault is SIGBUS
 * (the model's VM_FAULT_OOM), nothing is left behind, and the next try
 * serves the page. */
static void test_enomem(void)
{
	bool done = false;
	unsigned failed = 0;
	for (uint64_t n = 1; n < 64 && !done; n++) {
		mm_state *mm = mm_create(NULL);
		handler_log log = {0};
		int dev = mm_device_create(mm, NPAGES * PG, &ops, &log);
		uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_PRIVATE, dev, 0);
		mm_fail_alloc_after(mm, n);
		uint64_t val = 0;
		mm_touch_result r = mm_read(mm, a + PG + 8, &val);
		mm_touch_result w = mm_write(mm, a + 2 * PG, 5);
		mm_fail_alloc_after(mm, 0);
		done = r.outcome == MM_TOUCH_OK && w.outcome == MM_TOUCH_OK;
		failed += !done;
		g_assert_true(r.outcome == MM_TOUCH_OK || r.outcome == MM_TOUCH_SIGBUS);
		g_assert_true(w.outcome == MM_TOUCH_OK || w.outcome == MM_TOUCH_SIGBUS);
		assert_clean(mm);
		g_assert_cmpuint(read_ok(mm, a + PG + 8), ==, expect_word(1, 1));
		g_assert_cmpint(mm_write(mm, a + 2 * PG, 5).outcome, ==, MM_TOUCH_OK);
		g_assert_cmpuint(read_ok(mm, a + 2 * PG), ==, 5);
		g_assert_cmpuint(read_ok(mm, a + 2 * PG + 8), ==, expect_word(2, 1));
		assert_clean(mm);
		mm_destroy(mm);
	}
	g_assert_true(done);
	g_assert_cmpuint(failed, >=, 3); /* table, cache, contents, copy: each failed once */
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vmops/create", test_create);
	g_test_add_func("/vmops/read", test_read);
	g_test_add_func("/vmops/no-fault-around", test_no_fault_around);
	g_test_add_func("/vmops/errors", test_errors);
	g_test_add_func("/vmops/private", test_private);
	g_test_add_func("/vmops/shared-write", test_shared_write);
	g_test_add_func("/vmops/vma-ops", test_vma_ops);
	g_test_add_func("/vmops/madvise", test_madvise);
	g_test_add_func("/vmops/enomem", test_enomem);
	return g_test_run();
}

/* Fault handlers (issue 20, part 1): a device whose mappings take their
 * page faults from a caller's vm_ops->fault (mm_device_create). Each
 * expected answer is worked out from mm/memory.c (do_read_fault,
 * do_cow_fault, do_shared_fault, __do_fault, should_fault_around) and
 * mm/vma.c (is_mergeable_vma), as the comments say; mm_check runs after
 * every scenario. */
#include <glib.h>
#include <string.h>

#include "mmref/mmref.h"
#include "mmref/x86.h"

#include "mm_test.h"

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
	mmt_assert_checked(mm);
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
		mmt_assert_checked(mm);
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
	mmt_assert_checked(mm);
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
	mmt_assert_checked(mm);
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
	mmt_assert_checked(mm);
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
	mmt_assert_checked(mm);

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
	mmt_assert_checked(mm);

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
	mmt_assert_checked(mm);

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
	mmt_assert_checked(mm);
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
	mmt_assert_checked(mm);
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
		mmt_assert_checked(mm);
		g_assert_cmpuint(read_ok(mm, a + PG + 8), ==, expect_word(1, 1));
		g_assert_cmpint(mm_write(mm, a + 2 * PG, 5).outcome, ==, MM_TOUCH_OK);
		g_assert_cmpuint(read_ok(mm, a + 2 * PG), ==, 5);
		g_assert_cmpuint(read_ok(mm, a + 2 * PG + 8), ==, expect_word(2, 1));
		mmt_assert_checked(mm);
		mm_destroy(mm);
	}
	g_assert_true(done);
	g_assert_cmpuint(failed, >=, 3); /* table, cache, contents, copy: each failed once */
}

/* ---- The other callbacks (issue 20, part 1 finished) ------------------------ */

/* A device that records every callback: page p, word w holds
 * 0x1000 * p + w + 1 (as serve); map_pages supplies even pages only;
 * page_mkwrite refuses page 3 (SIGBUS) and page 4 (SIGSEGV); may_split
 * refuses addresses not a multiple of 4 pages from the VMA's start
 * (hugetlb_vm_op_split's -EINVAL, with 4 pages for 2 MiB); mremap refuses
 * (-EPERM) a move to `no_mremap_to`. */
typedef struct rec {
	unsigned faults, around, mkwrites, opens, closes, splits, mremaps;
	mm_fault_info last_fault, last_around, last_mkwrite;
	mm_vma_info last_open, last_close, last_mremap;
	int open_proc, close_proc;
	uint64_t around_pgoffs[64];
	uint64_t no_mremap_to;
} rec;

static void fill(const mm_fault_info *vmf, uint64_t words[512])
{
	for (unsigned w = 0; w < 512; w++)
		words[w] = expect_word(vmf->pgoff, w);
}

static mm_fault_status rec_fault(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	rec *r = ctx;
	r->faults++;
	r->last_fault = *vmf;
	fill(vmf, words);
	return MM_FAULT_OK;
}

static bool rec_map_pages(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	rec *r = ctx;
	g_assert_false(vmf->write);
	if (r->around < 64)
		r->around_pgoffs[r->around] = vmf->pgoff;
	r->around++;
	r->last_around = *vmf;
	if (vmf->pgoff % 2)
		return false;
	fill(vmf, words);
	return true;
}

static mm_fault_status rec_mkwrite(void *ctx, const mm_fault_info *vmf)
{
	rec *r = ctx;
	r->mkwrites++;
	r->last_mkwrite = *vmf;
	g_assert_true(vmf->write);
	g_assert_true(vmf->shared);
	return vmf->pgoff == 3 ? MM_FAULT_SIGBUS : vmf->pgoff == 4 ? MM_FAULT_SIGSEGV : MM_FAULT_OK;
}

static void rec_open(void *ctx, int proc, const mm_vma_info *vma)
{
	rec *r = ctx;
	r->opens++;
	r->last_open = *vma;
	r->open_proc = proc;
}

static void rec_close(void *ctx, int proc, const mm_vma_info *vma)
{
	rec *r = ctx;
	r->closes++;
	r->last_close = *vma;
	r->close_proc = proc;
}

static int rec_may_split(void *ctx, const mm_vma_info *vma, uint64_t addr)
{
	rec *r = ctx;
	r->splits++;
	g_assert_cmphex(addr, >, vma->start);
	g_assert_cmphex(addr, <, vma->end);
	return (addr - vma->start) % (4 * PG) ? -EINVAL : 0;
}

static int rec_mremap(void *ctx, const mm_vma_info *new_vma)
{
	rec *r = ctx;
	r->mremaps++;
	r->last_mremap = *new_vma;
	return new_vma->start == r->no_mremap_to ? -EPERM : 0;
}

/* The leaf entry mapping addr (0 if none), from the model's own tables. */
static uint64_t pte_of(const mm_state *mm, uint64_t addr)
{
	mm_phys_mem pm;
	uint64_t cr3;
	unsigned level = 0;
	mm_page_tables(mm, &pm, &cr3);
	return x86_lookup(&pm, cr3, addr, &level);
}

static bool pte_writable(const mm_state *mm, uint64_t addr) { return (pte_of(mm, addr) & (X86_P | X86_RW)) == (X86_P | X86_RW); }
static bool pte_readonly(const mm_state *mm, uint64_t addr) { return (pte_of(mm, addr) & (X86_P | X86_RW)) == X86_P; }

/* page_mkwrite (mm/memory.c): a shared writable VMA write-notifies
 * (mm/vma.c vma_wants_writenotify: vm_ops->page_mkwrite), so its
 * vm_page_prot is read-only (vma_set_page_prot drops VM_SHARED: PAGE_COPY);
 * a read fault maps read-only (do_read_fault -> finish_fault); the first
 * write asks page_mkwrite: on a read-only entry from do_wp_page ->
 * wp_page_shared -> do_page_mkwrite, then wp_page_reuse (RW, dirty); on an
 * empty entry from do_shared_fault, after __do_fault. A refusal is the
 * access's signal and leaves the entry as it was. mprotect
 * (change_pte_range, MM_CP_TRY_CHANGE_WRITABLE because
 * vma_wants_manual_pte_write_upgrade) makes dirty entries writable again
 * without asking (can_change_shared_pte_writable: pte_dirty) and leaves
 * clean ones read-only. A private mapping's write copies without asking
 * (do_cow_fault / wp_page_copy); without page_mkwrite a read fault maps a
 * shared writable page RW at once (PAGE_SHARED). */
static void test_page_mkwrite(void)
{
	static const mm_vm_ops mk = {.fault = rec_fault, .page_mkwrite = rec_mkwrite};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &mk, &r);
	uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);

	/* Read, then write: read-only first, page_mkwrite on the write. */
	g_assert_cmpuint(read_ok(mm, a + 8), ==, expect_word(0, 1));
	g_assert_true(pte_readonly(mm, a));
	g_assert_cmpuint(r.faults, ==, 1);
	g_assert_cmpuint(r.mkwrites, ==, 0);
	g_assert_cmpint(mm_write(mm, a, 11).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.mkwrites, ==, 1);
	g_assert_cmpuint(r.last_mkwrite.pgoff, ==, 0);
	g_assert_cmphex(r.last_mkwrite.address, ==, a);
	g_assert_true(pte_writable(mm, a));
	g_assert_true(pte_of(mm, a) & X86_D);
	g_assert_cmpint(mm_write(mm, a + 8, 12).outcome, ==, MM_TOUCH_OK); /* writable now: no call */
	g_assert_cmpuint(r.mkwrites, ==, 1);

	/* A write on an empty entry: fault, then page_mkwrite, then RW. */
	g_assert_cmpint(mm_write(mm, a + PG, 13).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.faults, ==, 2);
	g_assert_cmpuint(r.mkwrites, ==, 2);
	g_assert_true(pte_writable(mm, a + PG));

	/* Refusals: the page was made by fault and stays the device's, but no
	 * entry is written; a read maps it read-only without a new fault, and
	 * the next write asks page_mkwrite again and is refused again. */
	mm_touch_result t = mm_touch(mm, a + 3 * PG, MM_ACCESS_WRITE);
	g_assert_cmpint(t.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmpuint(r.faults, ==, 3);
	g_assert_cmpuint(r.mkwrites, ==, 3);
	g_assert_cmpint(mm_page(mm, a + 3 * PG), ==, MM_PAGE_NONE);
	g_assert_cmpuint(read_ok(mm, a + 3 * PG), ==, expect_word(3, 0));
	g_assert_cmpuint(r.faults, ==, 3);
	g_assert_true(pte_readonly(mm, a + 3 * PG));
	t = mm_touch(mm, a + 3 * PG, MM_ACCESS_WRITE);
	g_assert_cmpint(t.outcome, ==, MM_TOUCH_SIGBUS);
	g_assert_cmphex(t.pf_error, ==, MM_PF_USER | MM_PF_WRITE | MM_PF_PROT);
	g_assert_cmpuint(r.mkwrites, ==, 4);
	g_assert_true(pte_readonly(mm, a + 3 * PG));
	t = mm_touch(mm, a + 4 * PG, MM_ACCESS_WRITE);
	g_assert_cmpint(t.outcome, ==, MM_TOUCH_SEGV_MAPERR);
	g_assert_cmpint(mm_page(mm, a + 4 * PG), ==, MM_PAGE_NONE);

	/* mprotect: page 0 is dirty, page 2 (read only) clean. */
	g_assert_cmpuint(read_ok(mm, a + 2 * PG), ==, expect_word(2, 0));
	g_assert_cmpint(mm_mprotect(mm, a, NPAGES * PG, MM_PROT_READ), ==, 0);
	g_assert_true(pte_readonly(mm, a));
	g_assert_cmpint(mm_mprotect(mm, a, NPAGES * PG, MM_PROT_READ | MM_PROT_WRITE), ==, 0);
	g_assert_true(pte_writable(mm, a));        /* dirty: writable again */
	g_assert_true(pte_readonly(mm, a + 2 * PG)); /* clean: still read-only */
	unsigned before = r.mkwrites;
	g_assert_cmpint(mm_write(mm, a + 16, 14).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.mkwrites, ==, before);
	g_assert_cmpint(mm_write(mm, a + 2 * PG, 15).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.mkwrites, ==, before + 1);
	g_assert_cmpuint(r.last_mkwrite.pgoff, ==, 2);

	/* Private: the write copies, page_mkwrite is not asked. */
	uint64_t p = map_dev(mm, BASE + 0x100000, NPAGES, MM_MAP_PRIVATE, dev, 0);
	before = r.mkwrites;
	g_assert_cmpuint(read_ok(mm, p + 5 * PG), ==, expect_word(5, 0));
	g_assert_true(pte_readonly(mm, p + 5 * PG));
	g_assert_cmpint(mm_write(mm, p + 5 * PG, 16).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_write(mm, p + 6 * PG, 17).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.mkwrites, ==, before);
	g_assert_cmpint(mm_page(mm, p + 6 * PG), ==, MM_PAGE_ANON);
	mmt_assert_checked(mm);

	/* Without page_mkwrite: a read fault maps shared writable pages RW
	 * (clean), and a write on it asks nobody. */
	handler_log log = {0};
	int plain = mm_device_create(mm, NPAGES * PG, &ops, &log);
	uint64_t b = map_dev(mm, BASE + 0x200000, NPAGES, MM_MAP_SHARED, plain, 0);
	read_ok(mm, b);
	g_assert_true(pte_writable(mm, b));
	g_assert_false(pte_of(mm, b) & X86_D);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* map_pages (mm/memory.c do_read_fault -> should_fault_around ->
 * do_fault_around): the window is the 16-page block around the fault
 * (fault_around_bytes 64 KiB), clipped to the VMA and its page table, and
 * by the device's size (as filemap_map_pages clips to i_size). What
 * map_pages supplies is mapped as a read fault maps (vm_page_prot, clean);
 * the faulting page, if not
 * supplied, comes from fault; pages the device holds are mapped without
 * asking. A write fault does no fault-around (do_shared_fault,
 * do_cow_fault). */
static void test_map_pages(void)
{
	static const mm_vm_ops around = {.fault = rec_fault, .map_pages = rec_map_pages};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, 20 * PG, &around, &r);
	uint64_t a = map_dev(mm, BASE, 32, MM_MAP_SHARED, dev, 0);

	/* Page 5: pages 0..15 offered in order, even ones supplied; 5 is odd,
	 * so fault serves it. */
	g_assert_cmpuint(read_ok(mm, a + 5 * PG), ==, expect_word(5, 0));
	g_assert_cmpuint(r.around, ==, 16);
	for (unsigned i = 0; i < 16; i++)
		g_assert_cmpuint(r.around_pgoffs[i], ==, i);
	g_assert_cmpuint(r.faults, ==, 1);
	g_assert_cmpuint(r.last_fault.pgoff, ==, 5);
	for (unsigned i = 0; i < 32; i++) {
		bool mapped = i == 5 || (i < 16 && i % 2 == 0);
		g_assert_cmpint(mm_page(mm, a + i * PG), ==, mapped ? MM_PAGE_FILE : MM_PAGE_NONE);
		if (mapped) /* set_pte_range(), not a write: vm_page_prot, rw- shared */
			g_assert_true(pte_writable(mm, a + i * PG) && !(pte_of(mm, a + i * PG) & X86_D));
	}
	g_assert_cmpuint(read_ok(mm, a + 6 * PG + 8), ==, expect_word(6, 1));

	/* After a zap, page 3: the held pages (0, 2, .., 14, and 5) are mapped
	 * without asking; the others (1, 3, 7, 9, 11, 13, 15) are offered and
	 * refused, and fault serves 3. */
	g_assert_cmpint(mm_madvise(mm, a, 32 * PG, MM_MADV_DONTNEED), ==, 0);
	r.around = 0;
	g_assert_cmpuint(read_ok(mm, a + 3 * PG), ==, expect_word(3, 0));
	g_assert_cmpuint(r.around, ==, 7);
	g_assert_cmpuint(r.faults, ==, 2);
	for (unsigned i = 0; i < 16; i++)
		g_assert_cmpint(mm_page(mm, a + i * PG), ==,
		                (i % 2 == 0 || i == 5 || i == 3) ? MM_PAGE_FILE : MM_PAGE_NONE);

	/* Page 17 of a 20-page device: the window 16..31 stops at 19. */
	r.around = 0;
	g_assert_cmpuint(read_ok(mm, a + 17 * PG), ==, expect_word(17, 0));
	g_assert_cmpuint(r.around, ==, 4);
	g_assert_cmpuint(r.around_pgoffs[0], ==, 16);
	g_assert_cmpuint(r.around_pgoffs[3], ==, 19);
	g_assert_cmpint(mm_page(mm, a + 16 * PG), ==, MM_PAGE_FILE);
	g_assert_cmpint(mm_page(mm, a + 18 * PG), ==, MM_PAGE_FILE);
	g_assert_cmpint(mm_page(mm, a + 19 * PG), ==, MM_PAGE_NONE);

	/* A 4-page VMA two pages into a page table, at device page 8: the
	 * window is the VMA, pages 8..11; 8 and 10 are held (not offered), 9
	 * and 11 offered and refused, and fault serves 9. */
	uint64_t b = BASE + 0x200000 + 2 * PG;
	map_dev(mm, b, 4, MM_MAP_SHARED, dev, 8);
	r.around = 0;
	g_assert_cmpuint(read_ok(mm, b + PG), ==, expect_word(9, 0));
	g_assert_cmpuint(r.around, ==, 2);
	g_assert_cmpuint(r.around_pgoffs[0], ==, 9);
	g_assert_cmpuint(r.around_pgoffs[1], ==, 11);
	g_assert_cmpuint(r.last_fault.pgoff, ==, 9);
	for (unsigned i = 0; i < 4; i++)
		g_assert_cmpint(mm_page(mm, b + i * PG), ==, i == 3 ? MM_PAGE_NONE : MM_PAGE_FILE);

	/* A write fault: no fault-around. */
	uint64_t c = map_dev(mm, BASE + 0x400000, 16, MM_MAP_PRIVATE, dev, 0);
	r.around = 0;
	g_assert_cmpint(mm_write(mm, c + 7 * PG, 1).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.around, ==, 0);
	g_assert_cmpint(mm_page(mm, c + 6 * PG), ==, MM_PAGE_NONE);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* open and close (mm/vma.c __split_vma: open on the new piece; remove_vma:
 * close; kernel/fork.c dup_mmap: open on the child's VMA; mm/vma.c
 * copy_vma: open on the moved VMA). A close callback forbids every merge
 * that would remove a VMA (can_merge_remove_vma): mprotect back cannot
 * re-merge a piece, and an mmap between two pieces only grows the one
 * before it (vma_merge_new_range). Each open has its close by the end. */
static void test_open_close(void)
{
	static const mm_vm_ops oc = {.fault = rec_fault, .open = rec_open, .close = rec_close};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, 64 * PG, &oc, &r);
	uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);
	g_assert_cmpuint(r.opens, ==, 0); /* mmap: the driver's ->mmap, no open */

	/* Split in three: two new pieces, two opens. */
	g_assert_cmpint(mm_mprotect(mm, a + 3 * PG, PG, MM_PROT_READ), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 3);
	g_assert_cmpuint(r.opens, ==, 2);
	/* The second split: [3, 8) split at 4, the new piece [4, 8). */
	g_assert_cmphex(r.last_open.start, ==, a + 4 * PG);
	g_assert_cmphex(r.last_open.end, ==, a + 8 * PG);
	g_assert_cmpuint(r.last_open.pgoff, ==, 4);
	/* Back to rw-: the merge would remove [3, 4): refused, three stay. */
	g_assert_cmpint(mm_mprotect(mm, a + 3 * PG, PG, MM_PROT_READ | MM_PROT_WRITE), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 3);
	g_assert_cmpuint(r.opens, ==, 2);
	g_assert_cmpuint(r.closes, ==, 0);

	/* fork: one open per VMA, in the child; its exit closes them. */
	int child = mm_fork(mm);
	g_assert_cmpint(child, ==, 2);
	g_assert_cmpuint(r.opens, ==, 5);
	g_assert_cmpint(r.open_proc, ==, 2);
	g_assert_cmpint(mm_exit(mm, child), ==, 0);
	g_assert_cmpuint(r.closes, ==, 3);
	g_assert_cmpint(r.close_proc, ==, 2);

	/* munmap of the first page: a split (open [0, 1)) and its close. */
	g_assert_cmpint(mm_munmap(mm, a, PG), ==, 0);
	g_assert_cmpuint(r.opens, ==, 6);
	g_assert_cmpuint(r.closes, ==, 4);
	g_assert_cmphex(r.last_close.start, ==, a);
	g_assert_cmphex(r.last_close.end, ==, a + PG);
	g_assert_cmpint(r.close_proc, ==, 1);

	/* mremap of [4, 8) elsewhere: open the copy, close the source. */
	uint64_t to = BASE + 0x400000;
	g_assert_cmpint(mm_mremap(mm, a + 4 * PG, 4 * PG, 4 * PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, to), ==,
	                (int64_t)to);
	g_assert_cmpuint(r.opens, ==, 7);
	g_assert_cmphex(r.last_open.start, ==, to);
	g_assert_cmpuint(r.last_open.pgoff, ==, 4);
	g_assert_cmpuint(r.closes, ==, 5);
	g_assert_cmphex(r.last_close.start, ==, a + 4 * PG);

	/* [1, 3) and [3, 4) are left. An mmap of [4, 6) at pgoff 4 merges
	 * into [3, 4) by growing it (no VMA removed): [3, 6). Unmapping
	 * [3, 4) splits it (open [3, 4)) and closes that piece. An mmap of
	 * [3, 4) at pgoff 3 between [1, 3) and [4, 6), both in line: the
	 * merge of all three would remove [4, 6), which has close, so only
	 * [1, 3) grows: [1, 4) and [4, 6). */
	map_dev(mm, a + 4 * PG, 2, MM_MAP_SHARED, dev, 4);
	g_assert_cmpuint(mm_map_count(mm), ==, 3); /* [1, 3) [3, 6) and the moved one */
	g_assert_cmpint(mm_munmap(mm, a + 3 * PG, PG), ==, 0);
	g_assert_cmpuint(r.opens, ==, 8);
	g_assert_cmpuint(r.closes, ==, 6);
	map_dev(mm, a + 3 * PG, 1, MM_MAP_SHARED, dev, 3);
	mm_vma_info vi[4];
	g_assert_cmpuint(mm_vmas(mm, a, a + 8 * PG, vi, 4), ==, 2);
	g_assert_cmphex(vi[0].start, ==, a + PG);
	g_assert_cmphex(vi[0].end, ==, a + 4 * PG);
	g_assert_cmphex(vi[1].start, ==, a + 4 * PG);
	g_assert_cmphex(vi[1].end, ==, a + 6 * PG);
	g_assert_cmpuint(r.opens, ==, 8);
	mmt_assert_checked(mm);

	/* mm_destroy closes what is left: [1, 4), [4, 6) and the moved one.
	 * Every VMA ever made -- the first mmap's and the 8 opened -- has
	 * been closed once (the mmaps that merged made none). */
	unsigned closes = r.closes;
	mm_destroy(mm);
	g_assert_cmpuint(r.closes, ==, closes + 3);
	g_assert_cmpuint(r.closes, ==, 1 + r.opens);
}

/* may_split (mm/vma.c __split_vma: vm_ops->may_split before anything; its
 * error is the caller's, e.g. hugetlb's -EINVAL for an unaligned split).
 * munmap (vms_gather_munmap_vmas) keeps a first split done before the
 * second one is refused; mremap asks at both ends first (prep_move_vma);
 * madvise passes the error up (madvise_update_vma). */
static void test_may_split(void)
{
	static const mm_vm_ops ms = {.fault = rec_fault, .may_split = rec_may_split};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, 64 * PG, &ms, &r);
	uint64_t a = map_dev(mm, BASE, 16, MM_MAP_SHARED, dev, 0);
	read_ok(mm, a + PG);

	g_assert_cmpint(mm_mprotect(mm, a + PG, PG, MM_PROT_READ), ==, -EINVAL);
	g_assert_cmpint(mm_munmap(mm, a + PG, PG), ==, -EINVAL);
	g_assert_cmpint(mm_madvise(mm, a + 2 * PG, 4 * PG, MM_MADV_DONTFORK), ==, -EINVAL);
	g_assert_cmpint(mm_mremap(mm, a + PG, PG, PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, BASE + 0x400000), ==,
	                -EINVAL);
	g_assert_cmpuint(mm_map_count(mm), ==, 1);
	g_assert_cmpint(mm_page(mm, a + PG), ==, MM_PAGE_FILE);
	g_assert_cmpuint(r.splits, ==, 4);

	/* Aligned: allowed. [0, 8) [8, 16). */
	g_assert_cmpint(mm_mprotect(mm, a + 8 * PG, 8 * PG, MM_PROT_READ), ==, 0);
	g_assert_cmpuint(mm_map_count(mm), ==, 2);
	/* munmap [4, 10): the split at 4 is allowed and done, the one at 10
	 * refused: -EINVAL, with [0, 4) [4, 8) [8, 16) left, all mapped. */
	g_assert_cmpint(mm_munmap(mm, a + 4 * PG, 6 * PG), ==, -EINVAL);
	mm_vma_info vi[4];
	g_assert_cmpuint(mm_vmas(mm, a, a + 16 * PG, vi, 4), ==, 3);
	g_assert_cmphex(vi[1].start, ==, a + 4 * PG);
	g_assert_cmphex(vi[1].end, ==, a + 8 * PG);
	/* mremap of [8, 12) (the split at 12 is 4 pages into [8, 16)):
	 * allowed; the move leaves [12, 16). */
	uint64_t to = BASE + 0x400000;
	g_assert_cmpint(mm_mremap(mm, a + 8 * PG, 4 * PG, 4 * PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, to), ==,
	                (int64_t)to);
	g_assert_cmpuint(mm_vmas(mm, a, a + 16 * PG, vi, 4), ==, 3);
	g_assert_cmphex(vi[2].start, ==, a + 12 * PG);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* mremap (mm/mremap.c copy_vma_and_data: vm_ops->mremap(new_vma) after the
 * page tables moved; an error moves them back, and the new VMA is unmapped
 * (move_vma -> unmap_source_vma on the destination): the old mapping is as
 * it was, with its pages, and mremap returns the error. */
static void test_mremap_callback(void)
{
	static const mm_vm_ops mr = {.fault = rec_fault, .open = rec_open, .close = rec_close, .mremap = rec_mremap};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, 64 * PG, &mr, &r);
	uint64_t a = map_dev(mm, BASE, 4, MM_MAP_SHARED, dev, 0);
	g_assert_cmpint(mm_write(mm, a + PG, 21).outcome, ==, MM_TOUCH_OK);
	uint64_t to = BASE + 0x400000, no = BASE + 0x800000;
	r.no_mremap_to = no;
	g_assert_cmpint(mm_mremap(mm, a, 4 * PG, 4 * PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, to), ==, (int64_t)to);
	g_assert_cmpuint(r.mremaps, ==, 1);
	g_assert_cmphex(r.last_mremap.start, ==, to);
	g_assert_cmpuint(r.faults, ==, 1);
	g_assert_cmpuint(read_ok(mm, to + PG), ==, 21);
	g_assert_cmpuint(r.faults, ==, 1); /* the entry moved with it */

	g_assert_cmpint(mm_mremap(mm, to, 4 * PG, 4 * PG, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, no), ==, -EPERM);
	g_assert_cmpuint(r.mremaps, ==, 2);
	mm_vma_info vi[2];
	g_assert_cmpuint(mm_vmas(mm, no, no + 4 * PG, vi, 2), ==, 0);
	g_assert_cmpuint(mm_vmas(mm, to, to + 4 * PG, vi, 2), ==, 1);
	g_assert_cmpint(mm_page(mm, to + PG), ==, MM_PAGE_FILE);
	g_assert_cmpuint(read_ok(mm, to + PG), ==, 21);
	g_assert_cmpuint(r.faults, ==, 1);
	/* Opens: the two copies; closes: the first source and the refused
	 * copy. */
	g_assert_cmpuint(r.opens, ==, 2);
	g_assert_cmpuint(r.closes, ==, 2);
	g_assert_cmphex(r.last_close.start, ==, no);
	mmt_assert_checked(mm);
	mm_destroy(mm);
}

/* Writeback (mm_device_writeback): write_cache_pages ->
 * folio_clear_dirty_for_io -> folio_mkclean -> page_mkclean_one: each
 * dirty page is write-protected and cleaned in every shared VMA of every
 * process (invalid_mkclean_vma skips private ones); entries already clean
 * and read-only are not counted. The next write asks page_mkwrite again
 * (wp_page_shared). Without page_mkwrite it simply becomes writable again
 * (wp_page_reuse). */
static void test_writeback(void)
{
	static const mm_vm_ops mk = {.fault = rec_fault, .page_mkwrite = rec_mkwrite};
	mm_state *mm = mm_create(NULL);
	rec r = {0};
	int dev = mm_device_create(mm, NPAGES * PG, &mk, &r);
	uint64_t a = map_dev(mm, BASE, NPAGES, MM_MAP_SHARED, dev, 0);
	uint64_t b = map_dev(mm, BASE + 0x100000, NPAGES, MM_MAP_SHARED, dev, 0);
	uint64_t c = map_dev(mm, BASE + 0x200000, NPAGES, MM_MAP_PRIVATE, dev, 0);
	g_assert_cmpint(mm_write(mm, a, 1).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_write(mm, a + PG, 2).outcome, ==, MM_TOUCH_OK);
	read_ok(mm, a + 2 * PG);
	g_assert_cmpuint(read_ok(mm, b), ==, 1);
	g_assert_true(pte_readonly(mm, b));
	g_assert_cmpint(mm_write(mm, c + 5 * PG, 3).outcome, ==, MM_TOUCH_OK); /* an anonymous copy */
	g_assert_cmpuint(r.mkwrites, ==, 2);

	/* Pages 0 and 1 are dirty (through a); b's entry for 0 is clean and
	 * read-only already, page 2 clean, c's copy private: 2 entries. */
	g_assert_cmpint(mm_device_writeback(mm, dev), ==, 2);
	g_assert_true(pte_readonly(mm, a));
	g_assert_false(pte_of(mm, a) & X86_D);
	g_assert_true(pte_readonly(mm, a + PG));
	g_assert_true(pte_writable(mm, c + 5 * PG));
	g_assert_cmpint(mm_device_writeback(mm, dev), ==, 0);
	/* The next write asks again. */
	g_assert_cmpint(mm_write(mm, a + 8, 4).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(r.mkwrites, ==, 3);
	g_assert_cmpuint(read_ok(mm, b), ==, 1);
	g_assert_cmpuint(read_ok(mm, b + 8), ==, 4);

	/* Every process: a child's dirty entry is cleaned from the parent. */
	int child = mm_fork(mm);
	g_assert_cmpint(mm_proc(mm, child), ==, 0);
	g_assert_cmpint(mm_write(mm, a + 3 * PG, 5).outcome, ==, MM_TOUCH_SIGBUS); /* page 3 refuses */
	g_assert_cmpint(mm_write(mm, a + 6 * PG, 6).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_proc(mm, 1), ==, 0);
	/* dirty: page 0 in the parent's a, page 6 in the child's (fork copied
	 * no entry of a: a shared VMA without anon_vma, vma_needs_copy): 2. */
	g_assert_cmpint(mm_device_writeback(mm, dev), ==, 2);
	g_assert_cmpint(mm_proc(mm, child), ==, 0);
	g_assert_true(pte_readonly(mm, a + 6 * PG));
	g_assert_cmpint(mm_exit(mm, child), ==, 0);

	/* Without page_mkwrite: writable again on the next store, no callback. */
	handler_log log = {0};
	int plain = mm_device_create(mm, NPAGES * PG, &ops, &log);
	uint64_t d = map_dev(mm, BASE + 0x300000, NPAGES, MM_MAP_SHARED, plain, 0);
	read_ok(mm, d);
	g_assert_cmpint(mm_device_writeback(mm, plain), ==, 0); /* writable but clean: not dirty */
	g_assert_cmpint(mm_write(mm, d, 7).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpint(mm_device_writeback(mm, plain), ==, 1);
	g_assert_true(pte_readonly(mm, d));
	g_assert_cmpint(mm_write(mm, d, 8).outcome, ==, MM_TOUCH_OK);
	g_assert_true(pte_writable(mm, d));

	int file = mm_file_create(mm, PG);
	g_assert_cmpint(mm_device_writeback(mm, file), ==, -EINVAL);
	g_assert_cmpint(mm_device_writeback(mm, 99), ==, -EBADF);
	mmt_assert_checked(mm);
	mm_destroy(mm);
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
	g_test_add_func("/vmops/page-mkwrite", test_page_mkwrite);
	g_test_add_func("/vmops/map-pages", test_map_pages);
	g_test_add_func("/vmops/open-close", test_open_close);
	g_test_add_func("/vmops/may-split", test_may_split);
	g_test_add_func("/vmops/mremap", test_mremap_callback);
	g_test_add_func("/vmops/writeback", test_writeback);
	return g_test_run();
}

/* fork (issue 18): the `fork`, `proc N` and `exit N` statements in the
 * format, and fork's rules in the model (mm_check after every step) and in
 * the naive oracle, each scenario's expected answers worked out from the
 * kernel's rules and checked against the kernel (corpus/traces/fork/ holds
 * them recorded). */
#include <glib.h>
#include <string.h>

#include "mmref/mmref.h"
#include "naive.h"
#include "trace.h"

/* ---- The format ---------------------------------------------------------- */

static trace *parse(const char *text, GError **err) { return trace_parse("t.trace", text, strlen(text), err); }

static void test_format_roundtrip(void)
{
	const char *text = "mmtrace 1\n"
	                   "fork => 2\n"
	                   "fork => EAGAIN\n"
	                   "proc 2 => 0\n"
	                   "proc 9 => ESRCH\n"
	                   "exit 0x2 => 0\n"
	                   "exit 1 => EINVAL\n"
	                   "fork => 12\n";
	GError *err = NULL;
	trace *t = parse(text, &err);
	g_assert_no_error(err);
	const tr_stmt *f = &g_array_index(t->stmts, tr_stmt, 0), *p = &g_array_index(t->stmts, tr_stmt, 2);
	g_assert_cmpint(f->kind, ==, TR_FORK);
	g_assert_cmpint(f->expect.kind, ==, TR_RES_VALUE);
	g_assert_cmpuint(f->expect.value, ==, 2);
	g_assert_cmpint(g_array_index(t->stmts, tr_stmt, 1).expect.kind, ==, TR_RES_ERRNO);
	g_assert_cmpint(p->kind, ==, TR_PROC);
	g_assert_cmpuint(p->value, ==, 2);
	g_assert_cmpint(g_array_index(t->stmts, tr_stmt, 4).kind, ==, TR_EXIT);
	char *out = trace_to_string(t);
	g_assert_cmpstr(out, ==,
	                "mmtrace 1\n"
	                "fork => 2\n"
	                "fork => EAGAIN\n"
	                "proc 2 => 0\n"
	                "proc 9 => ESRCH\n"
	                "exit 2 => 0\n"
	                "exit 1 => EINVAL\n"
	                "fork => 12\n");
	g_free(out);
	trace_free(t);
}

static void test_format_errors(void)
{
	static const struct {
		const char *line, *what;
	} bad[] = {
		{"fork 2", "too many arguments"},
		{"proc", "missing arguments"},
		{"proc 0", "process number 0 out of range"},
		{"exit 2000000", "out of range"},
		{"proc x", "bad process number"},
		{"fork => 1", "fork returns a process number from 2"},
		{"fork => +0x2000", "bad result"},
		{"proc 2 => 3", "returns 0 or an errno name"},
		{"exit 2 => ok", "bad result"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *text = g_strdup_printf("mmtrace 1\n%s\n", bad[i].line);
		GError *err = NULL;
		trace *t = parse(text, &err);
		g_assert_null(t);
		g_assert_nonnull(err);
		if (!strstr(err->message, bad[i].what) || !g_str_has_prefix(err->message, "t.trace:2: error: "))
			g_error("'%s': got '%s', wanted '%s'", bad[i].line, err->message, bad[i].what);
		g_error_free(err);
		g_free(text);
	}
}

/* ---- The rules, on the model and the naive oracle ------------------------- */

/* One implementation of the API: the model or the naive oracle. */
typedef struct impl {
	const char *name;
	void *(*create)(const mm_config *cfg);
	void (*destroy)(void *mm);
	int64_t (*mmap)(void *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file, uint64_t off);
	int (*mprotect)(void *mm, uint64_t addr, uint64_t len, uint64_t prot);
	int (*madvise)(void *mm, uint64_t addr, uint64_t len, int64_t advice);
	int (*mlock2)(void *mm, uint64_t addr, uint64_t len, uint64_t flags);
	mm_touch_result (*write)(void *mm, uint64_t addr, uint64_t value);
	mm_touch_result (*read)(void *mm, uint64_t addr, uint64_t *value);
	int (*fork)(void *mm);
	int (*proc)(void *mm, int proc);
	int (*exit)(void *mm, int proc);
	size_t (*vmas)(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap);
	mm_page_state (*page)(const void *mm, uint64_t addr);
	uint64_t (*locked_vm)(const void *mm);
	bool check; /* mm_check after every step */
} impl;

#define WRAP(P)                                                                                            \
	static void *P##_create_(const mm_config *c) { return P##_create(c); }                             \
	static void P##_destroy_(void *m) { P##_destroy(m); }                                               \
	static int64_t P##_mmap_(void *m, uint64_t a, uint64_t l, uint64_t p, uint64_t f, int fd, uint64_t o) \
	{                                                                                                  \
		return P##_mmap(m, a, l, p, f, fd, o);                                                     \
	}                                                                                                  \
	static int P##_mprotect_(void *m, uint64_t a, uint64_t l, uint64_t p) { return P##_mprotect(m, a, l, p); } \
	static int P##_madvise_(void *m, uint64_t a, uint64_t l, int64_t v) { return P##_madvise(m, a, l, v); } \
	static int P##_mlock2_(void *m, uint64_t a, uint64_t l, uint64_t f) { return P##_mlock2(m, a, l, f); } \
	static mm_touch_result P##_write_(void *m, uint64_t a, uint64_t v) { return P##_write(m, a, v); }  \
	static mm_touch_result P##_read_(void *m, uint64_t a, uint64_t *v) { return P##_read(m, a, v); }   \
	static int P##_fork_(void *m) { return P##_fork(m); }                                               \
	static int P##_proc_(void *m, int n) { return P##_proc(m, n); }                                     \
	static int P##_exit_(void *m, int n) { return P##_exit(m, n); }                                     \
	static size_t P##_vmas_(const void *m, uint64_t lo, uint64_t hi, mm_vma_info *o, size_t c)         \
	{                                                                                                  \
		return P##_vmas(m, lo, hi, o, c);                                                          \
	}                                                                                                  \
	static mm_page_state P##_page_(const void *m, uint64_t a) { return P##_page(m, a); }               \
	static uint64_t P##_locked_vm_(const void *m) { return P##_locked_vm(m); }

WRAP(mm)
WRAP(naive)

static const impl impls[] = {
	{"model", mm_create_, mm_destroy_, mm_mmap_, mm_mprotect_, mm_madvise_, mm_mlock2_, mm_write_, mm_read_,
	 mm_fork_, mm_proc_, mm_exit_, mm_vmas_, mm_page_, mm_locked_vm_, true},
	{"naive", naive_create_, naive_destroy_, naive_mmap_, naive_mprotect_, naive_madvise_, naive_mlock2_,
	 naive_write_, naive_read_, naive_fork_, naive_proc_, naive_exit_, naive_vmas_, naive_page_,
	 naive_locked_vm_, false},
};

#define BASE 0x100000000000ull
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define ANON (MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE)

static void check(const impl *im, void *mm, const char *where)
{
	if (!im->check)
		return;
	mm_violation v[8];
	size_t n = mm_check(mm, v, G_N_ELEMENTS(v));
	for (size_t i = 0; i < n && i < G_N_ELEMENTS(v); i++)
		g_printerr("%s: I%d %llx-%llx %s\n", where, v[i].invariant, (unsigned long long)v[i].vma_start,
		           (unsigned long long)v[i].vma_end, v[i].what);
	g_assert_cmpuint(n, ==, 0);
}

static void *start(const impl *im)
{
	mm_config cfg;
	mm_config_default(&cfg);
	cfg.zero_page = false; /* as recorded: the kernel forbids the zero page */
	void *mm = im->create(&cfg);
	g_assert_nonnull(mm);
	return mm;
}

static uint64_t rd(const impl *im, void *mm, uint64_t a)
{
	uint64_t v = 0xdead;
	g_assert_cmpint(im->read(mm, a, &v).outcome, ==, MM_TOUCH_OK);
	return v;
}

static void wr(const impl *im, void *mm, uint64_t a, uint64_t v)
{
	g_assert_cmpint(im->write(mm, a, v).outcome, ==, MM_TOUCH_OK);
}

static size_t nvmas(const impl *im, void *mm, mm_vma_info *out, size_t cap)
{
	return im->vmas(mm, BASE, BASE + (1ull << 30), out, cap);
}

/* fork-anon-cow.trace: each process sees its own stores after the fork. */
static void test_cow(gconstpointer data)
{
	const impl *im = data;
	void *mm = start(im);
	g_assert_cmpint(im->mmap(mm, BASE, 16384, RW, ANON, 0, 0), ==, (int64_t)BASE);
	wr(im, mm, BASE, 0x1111);
	wr(im, mm, BASE + 0x1000, 0x2222);
	g_assert_cmpint(im->fork(mm), ==, 2);
	check(im, mm, "after fork");
	wr(im, mm, BASE, 0xaaaa);
	check(im, mm, "parent's store");
	g_assert_cmpuint(rd(im, mm, BASE), ==, 0xaaaa);
	g_assert_cmpint(im->proc(mm, 2), ==, 0);
	g_assert_cmpuint(rd(im, mm, BASE), ==, 0x1111);
	g_assert_cmpuint(rd(im, mm, BASE + 0x1000), ==, 0x2222);
	wr(im, mm, BASE + 0x1000, 0xbbbb);
	check(im, mm, "child's store");
	g_assert_cmpint(im->proc(mm, 1), ==, 0);
	g_assert_cmpuint(rd(im, mm, BASE + 0x1000), ==, 0x2222);
	/* the child exits: the parent's pages are its own again */
	g_assert_cmpint(im->exit(mm, 2), ==, 0);
	check(im, mm, "after exit");
	wr(im, mm, BASE + 0x1000, 0xcccc);
	g_assert_cmpuint(rd(im, mm, BASE + 0x1000), ==, 0xcccc);
	check(im, mm, "end");
	im->destroy(mm);
}

/* fork-dontfork, fork-wipeonfork, fork-mlock-not-inherited. */
static void test_flags(gconstpointer data)
{
	const impl *im = data;
	void *mm = start(im);
	mm_vma_info v[8];
	g_assert_cmpint(im->mmap(mm, BASE, 16384, RW, ANON, 0, 0), ==, (int64_t)BASE);
	for (unsigned i = 0; i < 4; i++)
		wr(im, mm, BASE + i * 0x1000, 0x10 + i);
	g_assert_cmpint(im->madvise(mm, BASE + 0x1000, 4096, MM_MADV_DONTFORK), ==, 0);
	g_assert_cmpint(im->madvise(mm, BASE + 0x2000, 4096, MM_MADV_WIPEONFORK), ==, 0);
	g_assert_cmpint(im->mlock2(mm, BASE + 0x3000, 4096, 0), ==, 0);
	g_assert_cmpuint(im->locked_vm(mm), ==, 1);
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 4);
	g_assert_cmpint(im->fork(mm), ==, 2);
	check(im, mm, "after fork");
	g_assert_cmpint(im->proc(mm, 2), ==, 0);
	check(im, mm, "the child");
	/* |0: copied|1: left out|2: wiped|3: unlocked| */
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 3);
	g_assert_cmpuint(v[0].end, ==, BASE + 0x1000);
	g_assert_cmpuint(v[1].start, ==, BASE + 0x2000);
	g_assert_true(v[1].flags & MM_VM_WIPEONFORK);
	g_assert_false(v[2].flags & MM_VM_LOCKED);
	g_assert_cmpuint(im->locked_vm(mm), ==, 0);
	g_assert_cmpint(im->page(mm, BASE), ==, MM_PAGE_ANON);
	g_assert_cmpint(im->page(mm, BASE + 0x2000), ==, MM_PAGE_NONE);
	g_assert_cmpint(im->page(mm, BASE + 0x3000), ==, MM_PAGE_ANON);
	g_assert_cmpuint(rd(im, mm, BASE), ==, 0x10);
	g_assert_cmpuint(rd(im, mm, BASE + 0x2000), ==, 0);
	g_assert_cmpuint(rd(im, mm, BASE + 0x3000), ==, 0x13);
	g_assert_cmpint(im->read(mm, BASE + 0x1000, &(uint64_t){0}).outcome, ==, MM_TOUCH_SEGV_MAPERR);
	check(im, mm, "end");
	im->destroy(mm); /* with the child still there */
}

/* fork-merge-child-mprotect, fork-merge-child-new-neighbour: a forked VMA
 * merges only with its own anon_vma. */
static void test_merge(gconstpointer data)
{
	const impl *im = data;
	void *mm = start(im);
	mm_vma_info v[8];
	g_assert_cmpint(im->mmap(mm, BASE, 12288, RW, ANON, 0, 0), ==, (int64_t)BASE);
	wr(im, mm, BASE, 1);
	g_assert_cmpint(im->mprotect(mm, BASE + 0x1000, 4096, MM_PROT_READ), ==, 0);
	g_assert_cmpint(im->fork(mm), ==, 2);
	g_assert_cmpint(im->proc(mm, 2), ==, 0);
	g_assert_cmpint(im->mprotect(mm, BASE + 0x1000, 4096, RW), ==, 0);
	check(im, mm, "child mprotect");
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 3);
	g_assert_cmpint(im->mmap(mm, BASE + 0x3000, 8192, RW, ANON, 0, 0), ==, (int64_t)(BASE + 0x3000));
	check(im, mm, "child mmap");
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 4);
	/* a split of the child's own merges back */
	g_assert_cmpint(im->mprotect(mm, BASE + 0x3000, 4096, MM_PROT_READ), ==, 0);
	g_assert_cmpint(im->mprotect(mm, BASE + 0x3000, 4096, RW), ==, 0);
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 4);
	g_assert_cmpint(im->proc(mm, 1), ==, 0);
	g_assert_cmpint(im->mprotect(mm, BASE + 0x1000, 4096, RW), ==, 0);
	g_assert_cmpint(im->mmap(mm, BASE + 0x3000, 8192, RW, ANON, 0, 0), ==, (int64_t)(BASE + 0x3000));
	check(im, mm, "parent");
	g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 1);
	im->destroy(mm);
}

/* fork-shared-anon, fork-free-shared-pageout. */
static void test_shared(gconstpointer data)
{
	const impl *im = data;
	void *mm = start(im);
	uint64_t sh = BASE + (1ull << 20);
	g_assert_cmpint(im->mmap(mm, sh, 8192, RW, MM_MAP_SHARED | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0), ==,
	                (int64_t)sh);
	g_assert_cmpint(im->mmap(mm, BASE, 8192, RW, ANON, 0, 0), ==, (int64_t)BASE);
	wr(im, mm, sh, 0x10);
	wr(im, mm, BASE, 1);
	g_assert_cmpint(im->fork(mm), ==, 2);
	g_assert_cmpint(im->madvise(mm, BASE, 8192, MM_MADV_FREE), ==, 0);
	g_assert_cmpint(im->madvise(mm, BASE, 8192, MM_MADV_PAGEOUT), ==, 0);
	g_assert_cmpuint(rd(im, mm, BASE), ==, 1); /* shared: left alone */
	g_assert_cmpint(im->proc(mm, 2), ==, 0);
	g_assert_cmpint(im->page(mm, sh), ==, MM_PAGE_NONE); /* not copied: no anon_vma */
	g_assert_cmpuint(rd(im, mm, sh), ==, 0x10);
	wr(im, mm, sh + 0x1000, 0x20);
	check(im, mm, "child");
	g_assert_cmpint(im->exit(mm, 2), ==, 0);
	g_assert_cmpuint(rd(im, mm, sh + 0x1000), ==, 0x20);
	/* the child is gone: the clean lazily freed page goes */
	g_assert_cmpint(im->madvise(mm, BASE, 8192, MM_MADV_PAGEOUT), ==, 0);
	g_assert_cmpuint(rd(im, mm, BASE), ==, 0);
	check(im, mm, "end");
	im->destroy(mm);
}

/* fork-limits */
static void test_limits(gconstpointer data)
{
	const impl *im = data;
	void *mm = start(im);
	for (int i = 2; i <= 8; i++)
		g_assert_cmpint(im->fork(mm), ==, i);
	g_assert_cmpint(im->fork(mm), ==, -EAGAIN);
	g_assert_cmpint(im->exit(mm, 1), ==, -EINVAL);
	g_assert_cmpint(im->exit(mm, 9), ==, -ESRCH);
	g_assert_cmpint(im->proc(mm, 9), ==, -ESRCH);
	g_assert_cmpint(im->exit(mm, 5), ==, 0);
	g_assert_cmpint(im->fork(mm), ==, 9);
	g_assert_cmpint(im->proc(mm, 9), ==, 0);
	g_assert_cmpint(im->exit(mm, 9), ==, 0);
	g_assert_cmpint(im->proc(mm, 9), ==, -ESRCH);
	check(im, mm, "end");
	im->destroy(mm);
}

/* mm_fork under every allocation failure: -ENOMEM, the parent as it was
 * (values, VMAs, a clean checker), the child gone, and the next fork works. */
static void test_model_enomem(void)
{
	const impl *im = &impls[0];
	for (uint64_t k = 1;; k++) {
		void *mm = start(im);
		mm_vma_info v[8];
		g_assert_cmpint(im->mmap(mm, BASE, 16384, RW, ANON, 0, 0), ==, (int64_t)BASE);
		g_assert_cmpint(im->mmap(mm, BASE + 0x6000, 8192, RW, ANON, 0, 0), ==, (int64_t)(BASE + 0x6000));
		wr(im, mm, BASE, 1);
		wr(im, mm, BASE + 0x3000, 2);
		wr(im, mm, BASE + 0x7000, 3);
		mm_fail_alloc_after(mm, k);
		int rc = im->fork(mm);
		mm_fail_alloc_after(mm, 0);
		check(im, mm, "after the fork");
		g_assert_cmpuint(nvmas(im, mm, v, 8), ==, 2);
		g_assert_cmpuint(rd(im, mm, BASE), ==, 1);
		g_assert_cmpuint(rd(im, mm, BASE + 0x3000), ==, 2);
		wr(im, mm, BASE + 0x7000, 4);
		check(im, mm, "a store after the fork");
		if (rc == 2) {
			g_assert_cmpint(im->proc(mm, 2), ==, 0);
			g_assert_cmpuint(rd(im, mm, BASE + 0x7000), ==, 3);
			im->destroy(mm);
			break;
		}
		g_assert_cmpint(rc, ==, -ENOMEM);
		g_assert_cmpint(im->proc(mm, 2), ==, -ESRCH);
		g_assert_cmpint(im->fork(mm), ==, 2);
		check(im, mm, "the next fork");
		im->destroy(mm);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fork/format/roundtrip", test_format_roundtrip);
	g_test_add_func("/fork/format/errors", test_format_errors);
	g_test_add_func("/fork/model/enomem", test_model_enomem);
	for (size_t i = 0; i < G_N_ELEMENTS(impls); i++) {
		const impl *im = &impls[i];
		char *p;
#define ADD(NAME, FN)                                                 \
	p = g_strdup_printf("/fork/%s/" NAME, im->name);              \
	g_test_add_data_func(p, im, FN);                              \
	g_free(p)
		ADD("cow", test_cow);
		ADD("flags", test_flags);
		ADD("merge", test_merge);
		ADD("shared", test_shared);
		ADD("limits", test_limits);
	}
	return g_test_run();
}

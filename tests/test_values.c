/* Values (issue 18): the `write`/`read` statements and file contents in the
 * format, and the same data rules in the model and the naive oracle, each
 * scenario checked against the answer the kernel gives
 * (corpus/traces/values/ holds them recorded) with mm_check after every step. */
#include <glib.h>
#include <string.h>

#include "mmref/mmref.h"
#include "mm_api.h"
#include "trace.h"

/* ---- The format ---------------------------------------------------------- */

static trace *parse(const char *text, GError **err)
{
	return trace_parse("t.trace", text, strlen(text), err);
}

static void test_format_roundtrip(void)
{
	const char *text = "mmtrace 1\n"
	                   "file f1 64K pattern=0x7\n"
	                   "file f2 6144 fill=0x5a\n"
	                   "file f3 4K\n"
	                   "write +0x8 0xc0de000000000001 => ok\n"
	                   "write +0x10 0x0 => SEGV_MAPERR pf=0x6\n"
	                   "read +0x8 => 0xc0de000000000001\n"
	                   "read +0x18 => 0x0\n"
	                   "read +0x20 => SEGV_ACCERR pf=0x5\n"
	                   "read +0x28 => SIGBUS\n";
	GError *err = NULL;
	trace *t = parse(text, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->files->len, ==, 3);
	const tr_file *f1 = &g_array_index(t->files, tr_file, 0), *f2 = &g_array_index(t->files, tr_file, 1);
	g_assert_cmpint(f1->init, ==, TR_FILE_PATTERN);
	g_assert_cmpuint(f1->init_value, ==, 7);
	g_assert_cmpint(f2->init, ==, TR_FILE_FILL);
	g_assert_cmpint(g_array_index(t->files, tr_file, 2).init, ==, TR_FILE_EMPTY);
	const tr_stmt *w = &g_array_index(t->stmts, tr_stmt, 0), *r = &g_array_index(t->stmts, tr_stmt, 2);
	g_assert_cmpint(w->kind, ==, TR_WRITE);
	g_assert_cmpuint(w->value, ==, 0xc0de000000000001ull);
	g_assert_cmpint(w->expect.kind, ==, TR_RES_TOUCH);
	g_assert_cmpint(r->kind, ==, TR_READ);
	g_assert_cmpint(r->expect.kind, ==, TR_RES_DATA);
	g_assert_cmpuint(r->expect.value, ==, 0xc0de000000000001ull);
	g_assert_cmpint(g_array_index(t->stmts, tr_stmt, 4).expect.kind, ==, TR_RES_TOUCH);
	char *out = trace_to_string(t);
	g_assert_cmpstr(out, ==,
	                "mmtrace 1\n"
	                "file f1 64K pattern=0x7\n"
	                "file f2 6K fill=0x5a\n"
	                "file f3 4K\n"
	                "write +0x8 0xc0de000000000001 => ok\n"
	                "write +0x10 0x0 => SEGV_MAPERR pf=0x6\n"
	                "read +0x8 => 0xc0de000000000001\n"
	                "read +0x18 => 0x0\n"
	                "read +0x20 => SEGV_ACCERR pf=0x5\n"
	                "read +0x28 => SIGBUS\n");
	g_free(out);
	trace_free(t);
}

static void test_format_errors(void)
{
	static const char *const bad[] = {
		"mmtrace 1\nwrite +0x4 0x1\n",                 /* not 8-byte aligned */
		"mmtrace 1\nread +0x3\n",                      /* not 8-byte aligned */
		"mmtrace 1\nread +0x8 => ok\n",                /* a read answers its value */
		"mmtrace 1\nread +0x8 => 17\n",                /* values are 0x... */
		"mmtrace 1\nwrite +0x8\n",                     /* no value */
		"mmtrace 1\nwrite +0x8 0x1 => 0x1\n",          /* a write answers ok or a fault */
		"mmtrace 1\nfile f1 4K fill=0x100\n",          /* not a byte */
		"mmtrace 1\nfile f1 4K pattern=0\n",           /* N from 1 */
		"mmtrace 1\nfile f1 4K colour=1\n",            /* unknown */
		"mmtrace 1\nfile f1 128M fill=0x1\n",          /* contents only up to 64 MiB */
		"mmtrace 1\nread 0x8\n",                       /* outside the arena */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		GError *err = NULL;
		trace *t = parse(bad[i], &err);
		if (t)
			g_error("accepted: %s", bad[i]);
		g_assert_error(err, TRACE_ERROR, TRACE_ERROR_PARSE);
		g_error_free(err);
	}
}

static void test_file_word(void)
{
	tr_file p = {.size = 6144, .init = TR_FILE_PATTERN, .init_value = 3};
	g_assert_cmpuint(tr_file_word(&p, 0), ==, 0x300000000ull);
	g_assert_cmpuint(tr_file_word(&p, 0x1000), ==, 0x300000200ull);
	g_assert_cmpuint(tr_file_word(&p, 0x17f8), ==, 0x3000002ffull);
	g_assert_cmpuint(tr_file_word(&p, 0x1800), ==, 0); /* past EOF */
	tr_file f = {.size = 12, .init = TR_FILE_FILL, .init_value = 0xab};
	g_assert_cmpuint(tr_file_word(&f, 0), ==, 0xababababababababull);
	g_assert_cmpuint(tr_file_word(&f, 8), ==, 0xababababull); /* 4 bytes left */
	tr_file e = {.size = 4096};
	g_assert_cmpuint(tr_file_word(&e, 8), ==, 0);
}

/* ---- The model and the naive oracle --------------------------------------- */

#define A 0x100000000000ull

/* The two in-process implementations through the harness's own table
 * (harness/mm_api.h), with the checker where there is one. */
typedef struct impl {
	const char *name;
	const mm_api *(*api)(void);
	size_t (*check)(void *mm); /* violations; the naive oracle has no checker */
} impl;

static size_t m_check(void *mm)
{
	mm_violation v[4];
	size_t n = mm_check(mm, v, G_N_ELEMENTS(v));
	for (size_t i = 0; i < n && i < G_N_ELEMENTS(v); i++)
		g_printerr("I%d: %s\n", v[i].invariant, v[i].what);
	return n;
}

static size_t n_check(void *mm)
{
	(void)mm;
	return 0;
}

static const impl impls[] = {
	{"model", mm_api_model, m_check},
	{"naive", mm_api_naive, n_check},
};

static uint64_t rd(const impl *im, void *mm, uint64_t addr)
{
	uint64_t v = 0xdeadbeef;
	mm_touch_result r = im->api()->read(mm, addr, &v);
	g_assert_cmpint(r.outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(im->check(mm), ==, 0);
	return v;
}

static void wr(const impl *im, void *mm, uint64_t addr, uint64_t v)
{
	g_assert_cmpint(im->api()->write(mm, addr, v).outcome, ==, MM_TOUCH_OK);
	g_assert_cmpuint(im->check(mm), ==, 0);
}

/* A file whose word i is 0x700000000 + i, as `file f1 64K pattern=0x7`. */
static int pattern_file(const impl *im, void *mm)
{
	int f = im->api()->file_create(mm, 64 << 10);
	g_assert_cmpint(f, >, 0);
	static uint64_t w[8192];
	for (unsigned i = 0; i < G_N_ELEMENTS(w); i++)
		w[i] = 0x700000000ull + i;
	g_assert_cmpint(im->api()->file_write(mm, f, 0, w, G_N_ELEMENTS(w)), ==, 0);
	return f;
}

/* corpus/traces/values/private-sees-later-shared-writes-pattern.trace and
 * private-written-page-ignores-shared-writes-pattern.trace, as the kernel
 * answered them. */
static void test_cow_private_file(gconstpointer data)
{
	const impl *im = data;
	void *mm = im->api()->create(NULL);
	int f = pattern_file(im, mm);
	g_assert_cmpint(im->api()->mmap(mm, A, 64 << 10, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_PRIVATE | MM_MAP_FIXED, f, 0),
	                ==, (int64_t)A);
	g_assert_cmpint(im->api()->mmap(mm, A + (1 << 20), 64 << 10, MM_PROT_READ | MM_PROT_WRITE,
	                         MM_MAP_SHARED | MM_MAP_FIXED, f, 0),
	                ==, (int64_t)(A + (1 << 20)));
	g_assert_cmpuint(rd(im, mm, A + 0x100), ==, 0x700000020ull);
	wr(im, mm, A + (1 << 20) + 0x108, 0xc0de000000000001ull); /* the file, through the shared view */
	g_assert_cmpuint(rd(im, mm, A + 0x108), ==, 0xc0de000000000001ull); /* seen: not yet copied */
	wr(im, mm, A + 0x110, 0xc0de000000000002ull);                   /* the private copy */
	wr(im, mm, A + (1 << 20) + 0x118, 0xc0de000000000003ull);
	g_assert_cmpuint(rd(im, mm, A + 0x118), ==, 0x700000023ull); /* the copy does not see it */
	g_assert_cmpuint(rd(im, mm, A + 0x108), ==, 0xc0de000000000001ull);
	g_assert_cmpuint(rd(im, mm, A + (1 << 20) + 0x110), ==, 0x700000022ull);
	/* DONTNEED drops the copy: the file shows through again */
	g_assert_cmpint(im->api()->madvise(mm, A, 4096, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpuint(rd(im, mm, A + 0x110), ==, 0x700000022ull);
	g_assert_cmpuint(rd(im, mm, A + 0x118), ==, 0xc0de000000000003ull);
	im->api()->destroy(mm);
}

/* mremap moves data; DONTNEED zeroes anonymous memory; FREE keeps it until
 * PAGEOUT drops the clean page. */
static void test_anon(gconstpointer data)
{
	const impl *im = data;
	void *mm = im->api()->create(NULL);
	uint64_t rw = MM_PROT_READ | MM_PROT_WRITE, fl = MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED;
	g_assert_cmpint(im->api()->mmap(mm, A, 16 << 10, rw, fl, 0, 0), ==, (int64_t)A);
	g_assert_cmpuint(rd(im, mm, A), ==, 0);
	wr(im, mm, A + 0x3ff8, 0xc0de000000000010ull);
	wr(im, mm, A + 0x1000, 0xc0de000000000011ull);
	g_assert_cmpint(im->api()->mremap(mm, A, 16 << 10, 16 << 10, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, A + (1 << 20)), ==,
	                (int64_t)(A + (1 << 20)));
	uint64_t B = A + (1 << 20);
	g_assert_cmpuint(rd(im, mm, B + 0x3ff8), ==, 0xc0de000000000010ull);
	g_assert_cmpint(im->api()->madvise(mm, B + 0x3000, 4096, MM_MADV_DONTNEED), ==, 0);
	g_assert_cmpuint(rd(im, mm, B + 0x3ff8), ==, 0);
	g_assert_cmpint(im->api()->madvise(mm, B, 16 << 10, MM_MADV_FREE), ==, 0);
	g_assert_cmpuint(rd(im, mm, B + 0x1000), ==, 0xc0de000000000011ull);
	g_assert_cmpint(im->api()->madvise(mm, B, 16 << 10, MM_MADV_PAGEOUT), ==, 0);
	g_assert_cmpuint(rd(im, mm, B + 0x1000), ==, 0);
	im->api()->destroy(mm);
}

/* A THP with one written subpage, split by MADV_FREE of a part of it: the
 * written subpage keeps its data (it is not mapped to the zero page);
 * MADV_COLLAPSE copies the small pages back into one THP. */
static void test_thp_split_collapse(gconstpointer data)
{
	const impl *im = data;
	void *mm = im->api()->create(NULL);
	uint64_t H = A + (2 << 20);
	uint64_t rw = MM_PROT_READ | MM_PROT_WRITE, fl = MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED;
	g_assert_cmpint(im->api()->mmap(mm, H, 2 << 20, rw, fl, 0, 0), ==, (int64_t)H);
	g_assert_cmpint(im->api()->madvise(mm, H, 2 << 20, MM_MADV_HUGEPAGE), ==, 0);
	wr(im, mm, H + 0x1008, 0xc0de000000000020ull);
	g_assert_cmpint(im->api()->madvise(mm, H + (1 << 20), 4096, MM_MADV_FREE), ==, 0);
	g_assert_cmpuint(rd(im, mm, H + 0x1008), ==, 0xc0de000000000020ull);
	g_assert_cmpuint(rd(im, mm, H + 0x2000), ==, 0);
	g_assert_cmpint(im->api()->madvise(mm, H, 2 << 20, MM_MADV_COLLAPSE), ==, 0);
	g_assert_cmpuint(rd(im, mm, H + 0x1008), ==, 0xc0de000000000020ull);
	im->api()->destroy(mm);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/values/format/roundtrip", test_format_roundtrip);
	g_test_add_func("/values/format/errors", test_format_errors);
	g_test_add_func("/values/format/file-word", test_file_word);
	for (size_t i = 0; i < G_N_ELEMENTS(impls); i++) {
		char *p = g_strdup_printf("/values/%s/cow-private-file", impls[i].name);
		g_test_add_data_func(p, &impls[i], test_cow_private_file);
		g_free(p);
		p = g_strdup_printf("/values/%s/anon", impls[i].name);
		g_test_add_data_func(p, &impls[i], test_anon);
		g_free(p);
		p = g_strdup_printf("/values/%s/thp-split-collapse", impls[i].name);
		g_test_add_data_func(p, &impls[i], test_thp_split_collapse);
		g_free(p);
	}
	return g_test_run();
}

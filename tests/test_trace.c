/* The mmtrace parser and printer: every class of malformed input is an
 * error with the right FILE:LINE, the spec's example parses, and printing
 * round-trips. */
#include <string.h>

#include "gen.h"
#include "trace.h"

#include "spec_example.h"

static trace *parse(const char *text, GError **err) { return trace_parse("t.trace", text, strlen(text), err); }

static const tr_stmt *stmt(const trace *t, guint i) { return &g_array_index(t->stmts, tr_stmt, i); }

static void test_spec_example(void)
{
	GError *err = NULL;
	trace *t = parse(spec_example, &err);
	g_assert_no_error(err);
	g_assert_nonnull(t);
	g_assert_cmpuint(t->arena_base, ==, TR_DEFAULT_ARENA_BASE);
	g_assert_cmpuint(t->arena_size, ==, TR_DEFAULT_ARENA_SIZE);
	g_assert_cmpuint(t->stmts->len, ==, 7);

	const tr_stmt *s = stmt(t, 0);
	g_assert_cmpint(s->kind, ==, TR_MMAP);
	g_assert_cmpint(s->line, ==, 3);
	g_assert_cmpuint(s->addr, ==, TR_DEFAULT_ARENA_BASE);
	g_assert_cmpuint(s->len, ==, 16384);
	g_assert_cmpuint(s->prot, ==, MM_PROT_READ | MM_PROT_WRITE);
	g_assert_cmpuint(s->flags, ==, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED_NOREPLACE);
	g_assert_cmpint(s->expect.kind, ==, TR_RES_VALUE);
	g_assert_cmpuint(s->expect.value, ==, TR_DEFAULT_ARENA_BASE);

	s = stmt(t, 1);
	g_assert_cmpint(s->kind, ==, TR_TOUCH);
	g_assert_cmpuint(s->addr, ==, TR_DEFAULT_ARENA_BASE + 4096);
	g_assert_cmpint(s->access, ==, MM_ACCESS_WRITE);
	g_assert_cmpint(s->expect.kind, ==, TR_RES_TOUCH);
	g_assert_cmpint(s->expect.touch.outcome, ==, MM_TOUCH_OK);

	s = stmt(t, 3);
	g_assert_cmpint(s->kind, ==, TR_MPROTECT);
	g_assert_cmpuint(s->prot, ==, MM_PROT_READ);
	g_assert_cmpint(s->expect.kind, ==, TR_RES_VALUE);
	g_assert_cmpuint(s->expect.value, ==, 0);

	s = stmt(t, 4);
	g_assert_cmpint(s->expect.touch.outcome, ==, MM_TOUCH_SEGV_ACCERR);
	g_assert_cmpuint(s->expect.touch.pf_error, ==, 7);

	s = stmt(t, 5);
	g_assert_cmpint(s->kind, ==, TR_MAPS);
	g_assert_cmpint(s->line, ==, 8);
	g_assert_nonnull(s->expect_lines);
	g_assert_cmpuint(s->expect_lines->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(s->expect_lines, 1), ==, "100000001000-100000002000 r--p 00000000 anon");

	s = stmt(t, 6);
	g_assert_cmpint(s->kind, ==, TR_PAGES);
	g_assert_cmpuint(s->len, ==, 16384);
	g_assert_cmpuint(s->expect_lines->len, ==, 4);
	g_assert_cmpstr(g_ptr_array_index(s->expect_lines, 0), ==, "+0x0 zero");
	trace_free(t);
}

static void test_numbers(void)
{
	static const struct {
		const char *tok;
		uint64_t value;
	} cases[] = {
		{"4096", 4096},         {"0x1000", 4096},      {"16K", 16384},      {"0x10K", 16384},
		{"2M", 2u << 20},       {"1G", 1u << 30},      {"0", 0},             {"0X1f", 31},
		{"0755", 755},          {"16777215G", 16777215ull << 30},
	};
	/* An arena must end inside the user address space (docs/security.md),
	 * so numbers beyond it are checked on their own. */
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t v = 1;
		g_assert_true(tr_parse_number(cases[i].tok, &v));
		g_assert_cmpuint(v, ==, cases[i].value);
	}
}

typedef struct bad_case {
	const char *text;
	int line;
	const char *what; /* a substring of the message after "error: " */
} bad_case;

static const bad_case bad_cases[] = {
	/* header */
	{"", 1, "missing 'mmtrace 1'"},
	{"# only a comment\n\n", 1, "missing 'mmtrace 1'"},
	{"munmap +0 4K\n", 1, "mmtrace 1"},
	{"arena 0x100000000000 1G\nmmtrace 1\n", 1, "mmtrace 1"},
	{"mmtrace 2\n", 1, "version"},
	{"mmtrace\n", 1, "usage"},
	{"mmtrace 1\nmmtrace 1\n", 2, "twice"},
	/* lexical */
	{"mmtrace 1\nfrobnicate +0 4K\n", 2, "unknown statement 'frobnicate'"},
	{"mmtrace 1\nMMAP +0 4K rw- private,anon\n", 2, "unknown statement"},
	{"mmtrace 1\n\n# c\nmunmap +0 12Q\n", 4, "bad length '12Q'"},
	{"mmtrace 1\nmunmap +0 4k\n", 2, "bad length"},
	{"mmtrace 1\nmunmap +0 0x\n", 2, "bad length"},
	{"mmtrace 1\nmunmap +0 -1\n", 2, "bad length"},
	{"mmtrace 1\nmunmap +0 18446744073709551616\n", 2, "does not fit"},
	{"mmtrace 1\nmunmap +0 0x10000000000000000\n", 2, "does not fit"},
	{"mmtrace 1\nmunmap +0 0xffffffffffffffffK\n", 2, "does not fit"},
	{"mmtrace 1\nmunmap +0 17179869184G\n", 2, "does not fit"},
	{"mmtrace 1\nmunmap +0xffffffffffffffff 4K\n", 2, "does not fit"},
	{"mmtrace 1\nmunmap + 4K\n", 2, "bad address"},
	{"mmtrace 1\nmunmap +0 4K\xff\n", 2, "UTF-8"},
	/* arena */
	{"mmtrace 1\nmunmap 0x1000 4K\n", 2, "outside the arena"},
	{"mmtrace 1\nmunmap 0x100040001000 4K\n", 2, "outside the arena"},
	{"mmtrace 1\nmunmap +1G 4K\n", 2, "past the end of the arena"},
	{"mmtrace 1\nmunmap +0x3ffff000 8K\n", 2, "past the end of the arena"},
	{"mmtrace 1\nmunmap +0x1000 0xffffffffffffffff\n", 2, "past the end of the arena"},
	{"mmtrace 1\nmadvise +0 0xfffffffffffff000 dontneed\n", 2, "past the end"},
	{"mmtrace 1\ntouch +1G r\n", 2, "outside the arena"},
	{"mmtrace 1\nmmap 0x1000 4K rw- private,anon,fixed\n", 2, "outside the arena"},
	{"mmtrace 1\nmmap +0 2G rw- private,anon\n", 2, "past the end"},
	{"mmtrace 1\nmremap +0 4K 2G maymove\n", 2, "past the end"},
	{"mmtrace 1\nmremap +0 4K 8K maymove,fixed +0x3ffff000\n", 2, "past the end"},
	{"mmtrace 1\nmremap +0 4K 8K maymove,fixed 0x1000\n", 2, "outside the arena"},
	{"mmtrace 1\npages +0x3fffe000 12K\n", 2, "past the end"},
	{"mmtrace 1\narena 0x1000 16K\nmunmap 0x5000 4K\n", 3, "past the end"},
	{"mmtrace 1\narena 0x1000 16K\nmunmap 0x6000 0\n", 3, "outside the arena"},
	/* directives */
	{"mmtrace 1\nmunmap +0 4K\narena 0x200000000000 1G\n", 3, "after the first operation"},
	{"mmtrace 1\nmaps\nfile f 4K\n", 3, "after the first operation"},
	{"mmtrace 1\narena 0x1000 4K\narena 0x1000 4K\n", 3, "twice"},
	{"mmtrace 1\narena 0x1001 4K\n", 2, "multiples of the page size"},
	{"mmtrace 1\narena 0x1000 100\n", 2, "multiples of the page size"},
	{"mmtrace 1\narena 0 4K\n", 2, "must not be 0"},
	{"mmtrace 1\narena 0xfffffffffffff000 8K\n", 2, "does not fit"},
	{"mmtrace 1\narena 0x1000\n", 2, "missing arguments"},
	{"mmtrace 1\narena 0x1000 4K 4K\n", 2, "too many arguments"},
	{"mmtrace 1\nfile f\n", 2, "missing arguments"},
	{"mmtrace 1\nfile a-b 4K\n", 2, "bad file name"},
	{"mmtrace 1\nfile f 4K\nfile f 8K\n", 3, "declared twice"},
	{"mmtrace 1\nfile f 4Q\n", 2, "bad file size"},
	{"mmtrace 1\nmmap +0 4K rw- private file=nope\n", 2, "unknown file 'nope'"},
	{"mmtrace 1\nfile f 4K\nmmap +0 4K rw- private file=f file=f\n", 3, "twice"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon off=4K off=8K\n", 2, "twice"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon bogus\n", 2, "unexpected argument 'bogus'"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon off=4Q\n", 2, "bad offset"},
	/* arguments */
	{"mmtrace 1\nmmap +0 4K rw-\n", 2, "missing arguments"},
	{"mmtrace 1\nmunmap +0\n", 2, "missing arguments"},
	{"mmtrace 1\nmunmap +0 4K 5\n", 2, "too many arguments"},
	{"mmtrace 1\nmprotect +0 4K\n", 2, "missing arguments"},
	{"mmtrace 1\nmaps all\n", 2, "too many arguments"},
	{"mmtrace 1\nstate 1\n", 2, "too many arguments"},
	{"mmtrace 1\ntouch +0\n", 2, "missing arguments"},
	{"mmtrace 1\ntouch +0 q\n", 2, "bad access 'q'"},
	{"mmtrace 1\ntouch +0 rw\n", 2, "bad access"},
	{"mmtrace 1\nmprotect +0 4K rwz\n", 2, "bad PROT"},
	{"mmtrace 1\nmprotect +0 4K rw\n", 2, "bad PROT"},
	{"mmtrace 1\nmprotect +0 4K wr-\n", 2, "bad PROT"},
	{"mmtrace 1\nmmap +0 4K rw- private,anonymus\n", 2, "unknown FLAGS name 'anonymus'"},
	{"mmtrace 1\nmmap +0 4K rw- private,,anon\n", 2, "empty name"},
	{"mmtrace 1\nmmap +0 4K rw- private,0xQ\n", 2, "bad FLAGS"},
	{"mmtrace 1\nmremap +0 4K 8K maybemove\n", 2, "unknown MFLAGS name"},
	{"mmtrace 1\nmremap +0 4K 8K maymove +0x1000 +0x2000\n", 2, "too many arguments"},
	{"mmtrace 1\nmadvise +0 4K dont_need\n", 2, "unknown ADVICE 'dont_need'"},
	{"mmtrace 1\nmadvise +0 4K 0xZ\n", 2, "bad ADVICE"},
	{"mmtrace 1\nmlock +0 4K sometimes\n", 2, "bad mlock flag"},
	{"mmtrace 1\nmseal +0 4K seal\n", 2, "bad mseal flags"},
	/* results */
	{"mmtrace 1\nmunmap +0 4K =>\n", 2, "missing result"},
	{"mmtrace 1\nmunmap +0 4K => 5\n", 2, "bad result '5'"},
	{"mmtrace 1\nmunmap +0 4K => +0x0\n", 2, "bad result"},
	{"mmtrace 1\nmunmap +0 4K => EFOO\n", 2, "unknown errno name 'EFOO'"},
	{"mmtrace 1\nmunmap +0 4K => EINVAL EPERM\n", 2, "unexpected 'EPERM'"},
	{"mmtrace 1\nmunmap +0 4K => einval\n", 2, "bad result"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon => banana\n", 2, "bad result"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon => +0xffffffffffffffff\n", 2, "bad result"},
	{"mmtrace 1\ntouch +0 r => SEGV_MAPERR\n", 2, "pf=0xN"},
	{"mmtrace 1\ntouch +0 r => SEGV_ACCERR pf=\n", 2, "pf=0xN"},
	{"mmtrace 1\ntouch +0 r => SEGV_ACCERR pf=0x100000000\n", 2, "pf=0xN"},
	{"mmtrace 1\ntouch +0 r => ok 1\n", 2, "unexpected '1'"},
	{"mmtrace 1\ntouch +0 r => SEGV_MAPERR pf=0x6 x\n", 2, "unexpected 'x'"},
	{"mmtrace 1\ntouch +0 r => 0\n", 2, "bad touch result '0'"},
	{"mmtrace 1\ntouch +0 r => EFAULT\n", 2, "bad touch result"},
	{"mmtrace 1\nmaps => 0\n", 2, "observation"},
	/* expectation lines */
	{"mmtrace 1\n| 100000000000-100000001000 rw-p 00000000 anon\n", 2, "before any observation"},
	{"mmtrace 1\nmunmap +0 4K\n| 100000000000-100000001000 rw-p 00000000 anon\n", 3, "not an observation"},
	{"mmtrace 1\nmaps\n| x\nmunmap +0 4K\n# c\n| y\n", 6, "not an observation"},
	{"mmtrace 1\nmmap +0 4K rw- private,anon\n\n# comment\n  | x\n", 5, "not an observation"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		const bad_case *c = &bad_cases[i];
		GError *err = NULL;
		trace *t = parse(c->text, &err);
		if (t || !err)
			g_error("case %zu should fail: %s", i, c->text);
		g_assert_error(err, TRACE_ERROR, TRACE_ERROR_PARSE);
		char *prefix = g_strdup_printf("t.trace:%d: error: ", c->line);
		if (!g_str_has_prefix(err->message, prefix) || !strstr(err->message + strlen(prefix), c->what))
			g_error("case %zu (%s): got '%s', want prefix '%s' and '%s'", i, c->text, err->message, prefix,
			        c->what);
		g_free(prefix);
		g_error_free(err);
	}
}

static const char rich_trace[] =
        "mmtrace 1   # header\n"
        "arena 0x200000000000 64M\n"
        "file data 10000\n"
        "file lib_2 2M\n"
        "mmap 0 16K rw- private,anon => +0x3ffc000\n"
        "mmap +0 0x1001 r-x private,fixed file=lib_2 off=0x2000 => ENOMEM\n"
        "mmap +4K 4K rwx shared,anonymous,fixed_noreplace,populate,locked => 0x7f0000000000\n"
        "mmap +8K 4K 0x9 shared_validate,sync,0x800000 file=data\n"
        "mmap +12K 4K --- droppable,anon,stack,growsdown,noreserve,hugetlb,32bit,nonblock,uninitialized,"
        "denywrite,executable => EOPNOTSUPP\n"
        "mmap +16K 8K -w- 0x3,anon => EINVAL\n"
        "mmap +0x30000 4K r-- 0 => EBADF\n"
        "munmap +0 0 => EINVAL\n"
        "mprotect +0x1000 1M 0x1000001 => 0\n"
        "mremap +0 4K 8K - => ENOMEM\n"
        "mremap +0 4K 8K maymove,fixed,dontunmap +0x100000 => +0x100000\n"
        "mremap +0 4K 8K 0x18 => EINVAL\n"
        "mremap +0 4K 8K maymove,0x10 +0x2000\n"
        "madvise +0 4K guard_install => 0\n"
        "madvise +0 4K populate_write\n"
        "madvise +0 4K 0xffffffffffffffff => EINVAL\n"
        "madvise +0 4K 77 => EINVAL\n"
        "mlock +0 4K\n"
        "mlock +0 4K onfault => EAGAIN\n"
        "mlock +0 4K 0x6 => EINVAL\n"
        "munlock +0 4K => 0\n"
        "mseal +0 4K => EPERM\n"
        "mseal +0 4K 0x1 => EINVAL\n"
        "touch +0 r => SEGV_MAPERR pf=0x4\n"
        "touch +0x3ffffff w => SIGBUS\n"
        "touch +1 x => SEGV_ACCERR pf=0x15\n"
        "munmap +0 4K => E200\n"
        "maps\n"
        "|   200000000000-200000001000    rw-p 00000000 anon   # comment\n"
        "|\n"
        "smaps\n"
        "pages +0x1000 0x1800\n"
        "| +0x1000 guard\n"
        "| +0x2000 none\n"
        "state\n"
        "| 200000000000-200000001000 rw-p 00000000 anon rd wr mr mw me ac : g1\n";

static void stmt_equal(const tr_stmt *a, const tr_stmt *b)
{
	g_assert_cmpint(a->kind, ==, b->kind);
	g_assert_cmpuint(a->addr, ==, b->addr);
	g_assert_cmpuint(a->len, ==, b->len);
	g_assert_cmpuint(a->new_len, ==, b->new_len);
	g_assert_cmpint(a->has_new_addr, ==, b->has_new_addr);
	g_assert_cmpuint(a->new_addr, ==, b->new_addr);
	g_assert_cmpuint(a->prot, ==, b->prot);
	g_assert_cmpuint(a->flags, ==, b->flags);
	g_assert_cmpint(a->advice, ==, b->advice);
	g_assert_cmpint(a->file, ==, b->file);
	g_assert_cmpuint(a->off, ==, b->off);
	g_assert_cmpint(a->access, ==, b->access);
	g_assert_cmpint(a->expect.kind, ==, b->expect.kind);
	g_assert_true(tr_result_equal(&a->expect, &b->expect));
	g_assert_cmpint(!a->expect_lines, ==, !b->expect_lines);
	if (a->expect_lines) {
		g_assert_cmpuint(a->expect_lines->len, ==, b->expect_lines->len);
		for (guint i = 0; i < a->expect_lines->len; i++)
			g_assert_cmpstr(g_ptr_array_index(a->expect_lines, i), ==, g_ptr_array_index(b->expect_lines, i));
	}
}

static void round_trip(const char *text)
{
	GError *err = NULL;
	trace *t = parse(text, &err);
	g_assert_no_error(err);
	char *printed = trace_to_string(t);
	trace *u = trace_parse("t.trace", printed, strlen(printed), &err);
	if (!u)
		g_error("re-parse failed: %s\n%s", err->message, printed);
	g_assert_cmpuint(t->arena_base, ==, u->arena_base);
	g_assert_cmpuint(t->arena_size, ==, u->arena_size);
	g_assert_cmpuint(t->files->len, ==, u->files->len);
	for (guint i = 0; i < t->files->len; i++) {
		g_assert_cmpstr(g_array_index(t->files, tr_file, i).name, ==, g_array_index(u->files, tr_file, i).name);
		g_assert_cmpuint(g_array_index(t->files, tr_file, i).size, ==, g_array_index(u->files, tr_file, i).size);
	}
	g_assert_cmpuint(t->stmts->len, ==, u->stmts->len);
	for (guint i = 0; i < t->stmts->len; i++)
		stmt_equal(stmt(t, i), stmt(u, i));
	char *again = trace_to_string(u);
	g_assert_cmpstr(printed, ==, again);
	g_free(again);
	g_free(printed);
	trace_free(u);
	trace_free(t);
}

static void test_round_trip(void)
{
	round_trip(spec_example);
	round_trip(rich_trace);
	for (guint64 seed = 1; seed <= 50; seed++) {
		char *text = gen_trace_text(seed, 200);
		round_trip(text);
		g_free(text);
	}
	/* with values, processes and the userfaultfd; 14144107 once made a
	 * `uffd continue` past the arena's end at its statement 720 (the
	 * minor-fault scenario on a mapping at the arena's top) */
	static const guint64 uffd_seeds[] = {1, 2, 3, 4, 5, 14144107};
	for (guint i = 0; i < G_N_ELEMENTS(uffd_seeds); i++) {
		char *text = gen_trace_text_uffd(uffd_seeds[i], 1000, TRUE, TRUE, FALSE, TRUE);
		round_trip(text);
		g_free(text);
	}
}

static void test_printer(void)
{
	GError *err = NULL;
	trace *t = parse(rich_trace, &err);
	g_assert_no_error(err);
	char *s = trace_to_string(t);
	/* arena-relative inside the arena, absolute outside; names where bits have them */
	g_assert_nonnull(strstr(s, "arena 0x200000000000 64M\n"));
	g_assert_nonnull(strstr(s, "file data 0x2710\n"));
	g_assert_nonnull(strstr(s, "mmap 0 16K rw- private,anonymous => +0x3ffc000\n"));
	g_assert_nonnull(strstr(s, "=> 0x7f0000000000\n"));
	g_assert_nonnull(strstr(s, "mmap +0x2000 4K 0x9 shared_validate,sync,0x800000 file=data\n"));
	g_assert_nonnull(strstr(s, "mmap +0x4000 8K -w- shared_validate,anonymous => EINVAL\n"));
	g_assert_nonnull(strstr(s, "mmap +0x30000 4K r-- 0 => EBADF\n"));
	g_assert_nonnull(strstr(s, "mremap +0x0 4K 8K maymove,fixed,dontunmap +0x100000 => +0x100000\n"));
	g_assert_nonnull(strstr(s, "mremap +0x0 4K 8K 0x18 => EINVAL\n"));
	g_assert_nonnull(strstr(s, "mremap +0x0 4K 8K - => ENOMEM\n"));
	g_assert_nonnull(strstr(s, "madvise +0x0 4K 0xffffffffffffffff => EINVAL\n"));
	g_assert_nonnull(strstr(s, "madvise +0x0 4K 0x4d => EINVAL\n"));
	g_assert_nonnull(strstr(s, "mlock +0x0 4K onfault => EAGAIN\n"));
	g_assert_nonnull(strstr(s, "mseal +0x0 4K 0x1 => EINVAL\n"));
	g_assert_nonnull(strstr(s, "touch +0x1 x => SEGV_ACCERR pf=0x15\n"));
	g_assert_nonnull(strstr(s, "touch +0x3ffffff w => SIGBUS\n"));
	g_assert_nonnull(strstr(s, "maps\n| 200000000000-200000001000 rw-p 00000000 anon\n|\nsmaps\n"));
	g_free(s);
	trace_free(t);
}

static void test_errno_names(void)
{
	static const char *const names[] = {"ENOMEM", "EINVAL", "EEXIST", "EPERM",     "EACCES", "EAGAIN",
	                                    "EFAULT", "EBADF",  "ENODEV", "EOVERFLOW", "EOPNOTSUPP",
	                                    "ETXTBSY", "EBUSY", "ENOSPC", "EINTR",     "ENXIO"};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		int e = tr_errno_from_name(names[i]);
		g_assert_cmpint(e, >, 0);
		g_assert_cmpstr(tr_errno_name(e), ==, names[i]);
	}
	g_assert_cmpint(tr_errno_from_name("ENOTSUP"), ==, tr_errno_from_name("EOPNOTSUPP"));
	g_assert_cmpint(tr_errno_from_name("EBANANA"), ==, 0);
	g_assert_null(tr_errno_name(4000));
}

static void test_result_parse(void)
{
	trace *t = parse("mmtrace 1\n", NULL);
	tr_result r;
	GError *err = NULL;
	g_assert_true(tr_result_parse(t, TR_MMAP, " +0x1000 ", &r, &err));
	g_assert_cmpint(r.kind, ==, TR_RES_VALUE);
	g_assert_cmpuint(r.value, ==, TR_DEFAULT_ARENA_BASE + 0x1000);
	g_assert_true(tr_result_parse(t, TR_TOUCH, "SEGV_MAPERR   pf=0x6", &r, &err));
	g_assert_cmpint(r.touch.outcome, ==, MM_TOUCH_SEGV_MAPERR);
	g_assert_cmpuint(r.touch.pf_error, ==, 6);
	g_assert_true(tr_result_parse(t, TR_MUNMAP, "ENOMEM", &r, &err));
	g_assert_cmpint(r.kind, ==, TR_RES_ERRNO);
	g_assert_false(tr_result_parse(t, TR_MUNMAP, "1", &r, &err));
	g_assert_error(err, TRACE_ERROR, TRACE_ERROR_PARSE);
	g_clear_error(&err);
	g_assert_false(tr_result_parse(t, TR_MAPS, "0", &r, &err));
	g_clear_error(&err);

	/* pf= matters for SEGV results only */
	tr_result a = {.kind = TR_RES_TOUCH, .touch = {.outcome = MM_TOUCH_OK, .pf_error = 0}};
	tr_result b = {.kind = TR_RES_TOUCH, .touch = {.outcome = MM_TOUCH_OK, .pf_error = 4}};
	g_assert_true(tr_result_equal(&a, &b));
	a.touch.outcome = b.touch.outcome = MM_TOUCH_SEGV_ACCERR;
	g_assert_false(tr_result_equal(&a, &b));
	trace_free(t);
}

static void test_streaming(void)
{
	trace_parser *p = trace_parser_new("<stdin>");
	tr_stmt s;
	const char *dir = NULL;
	GError *err = NULL;
	g_assert_cmpint(trace_parser_feed(p, "munmap +0 4K", &s, &dir, &err), ==, -1);
	g_assert_true(g_str_has_prefix(err->message, "<stdin>:1: error: "));
	g_clear_error(&err);
	g_assert_cmpint(trace_parser_feed(p, "mmtrace 1\n", &s, &dir, &err), ==, 0);
	g_assert_cmpstr(dir, ==, "mmtrace");
	g_assert_cmpint(trace_parser_feed(p, "arena 0x200000000000 1M", &s, &dir, &err), ==, 0);
	g_assert_cmpstr(dir, ==, "arena");
	g_assert_cmpint(trace_parser_feed(p, "file f 4K", &s, &dir, &err), ==, 0);
	g_assert_cmpstr(dir, ==, "file");
	g_assert_cmpint(trace_parser_feed(p, "# comment", &s, &dir, &err), ==, 0);
	g_assert_null(dir);
	g_assert_cmpint(trace_parser_feed(p, "", &s, &dir, &err), ==, 0);
	g_assert_cmpint(trace_parser_feed(p, "mmap +4K 4K rw- shared file=f => +0x1000", &s, &dir, &err), ==, 1);
	g_assert_no_error(err);
	g_assert_cmpint(s.kind, ==, TR_MMAP);
	g_assert_cmpint(s.line, ==, 7);
	g_assert_cmpuint(s.addr, ==, 0x200000001000ull);
	g_assert_cmpint(s.file, ==, 1);
	g_assert_cmpint(s.expect.kind, ==, TR_RES_VALUE);
	g_assert_null(s.expect_lines);
	g_assert_cmpint(trace_parser_feed(p, "maps", &s, &dir, &err), ==, 1);
	g_assert_cmpint(trace_parser_feed(p, "| x", &s, &dir, &err), ==, -1);
	g_clear_error(&err);
	g_assert_cmpint(trace_parser_feed(p, "munmap +1M 4K", &s, &dir, &err), ==, -1);
	g_assert_true(strstr(err->message, "past the end") || strstr(err->message, "outside"));
	g_clear_error(&err);
	g_assert_cmpint(trace_parser_feed(p, "arena 0x1000 4K", &s, &dir, &err), ==, -1);
	g_clear_error(&err);
	/* a new trace: the defaults again, files forgotten */
	g_assert_cmpint(trace_parser_feed(p, "mmtrace 1", &s, &dir, &err), ==, 0);
	g_assert_cmpuint(trace_parser_trace(p)->arena_base, ==, TR_DEFAULT_ARENA_BASE);
	g_assert_cmpuint(trace_parser_trace(p)->files->len, ==, 0);
	g_assert_cmpint(trace_parser_feed(p, "mmap +0 4K rw- shared file=f", &s, &dir, &err), ==, -1);
	g_clear_error(&err);
	g_assert_cmpint(trace_parser_feed(p, "arena 0x1000 4K", &s, &dir, &err), ==, 0);
	g_assert_cmpint(trace_parser_feed(p, "touch +0 r", &s, &dir, &err), ==, 1);
	g_assert_cmpuint(s.addr, ==, 0x1000);
	trace_parser_free(p);
}

static void test_generator(void)
{
	char *a = gen_trace_text(42, 300), *b = gen_trace_text(42, 300), *c = gen_trace_text(43, 300);
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpstr(a, !=, c);
	for (guint64 seed = 0; seed < 300; seed++) {
		trace *t = gen_trace(seed, 100, "gen.trace");
		g_assert_nonnull(t);
		g_assert_cmpuint(t->stmts->len, ==, 100);
		trace_free(t);
	}
	g_free(a);
	g_free(b);
	g_free(c);
}

static void test_load(void)
{
	GError *err = NULL;
	g_assert_null(trace_load("/nonexistent/x.trace", &err));
	g_assert_error(err, TRACE_ERROR, TRACE_ERROR_IO);
	g_assert_true(g_str_has_prefix(err->message, "/nonexistent/x.trace"));
	g_clear_error(&err);
	/* CRLF and a last line without newline */
	trace *t = parse("mmtrace 1\r\nmunmap +0 4K => 0\r\nmaps", &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->stmts->len, ==, 2);
	trace_free(t);
	g_assert_null(trace_parse("t.trace", "mmtrace 1\nmaps\0x\n", 17, &err));
	g_assert_true(g_str_has_prefix(err->message, "t.trace:2: error: "));
	g_clear_error(&err);
}


/* uffd wp ADDR LEN MODE (UFFDIO_WRITEPROTECT; docs/trace-format.md). */
static void test_uffd_wp(void)
{
	static const char text[] = "mmtrace 1\n"
	                           "uffd wp +16K 16K on => 0\n"
	                           "uffd wp +16K 16K off => ENOENT\n"
	                           "uffd wp +0 4K off,dontwake => 0\n"
	                           "uffd wp +0 4K on,dontwake => EINVAL\n"
	                           "uffd wp +0 4K 4 => EINVAL\n"
	                           "uffd wp +0 4K on,0x8 => EINVAL\n";
	GError *err = NULL;
	trace *t = trace_parse("w.trace", text, strlen(text), &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->stmts->len, ==, 6);
	static const uint64_t modes[] = {1, 0, 2, 3, 4, 9};
	for (guint i = 0; i < 6; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		g_assert_cmpint(s->kind, ==, TR_UFFD_WP);
		g_assert_cmpuint(s->flags, ==, modes[i]);
	}
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 0).addr, ==, t->arena_base + 0x4000);
	g_assert_cmpint(g_array_index(t->stmts, tr_stmt, 1).expect.err, ==, ENOENT);
	char *printed = trace_to_string(t);
	g_assert_nonnull(strstr(printed, "uffd wp +0x4000 16K on => 0\n"));
	g_assert_nonnull(strstr(printed, "uffd wp +0x4000 16K off => ENOENT\n"));
	g_assert_nonnull(strstr(printed, "uffd wp +0x0 4K off,dontwake => 0\n"));
	g_assert_nonnull(strstr(printed, "uffd wp +0x0 4K on,dontwake => EINVAL\n"));
	g_assert_nonnull(strstr(printed, "uffd wp +0x0 4K off,0x4 => EINVAL\n"));
	g_assert_nonnull(strstr(printed, "uffd wp +0x0 4K on,0x8 => EINVAL\n"));
	trace *u = trace_parse("again", printed, strlen(printed), &err);
	g_assert_no_error(err);
	char *again = trace_to_string(u);
	g_assert_cmpstr(again, ==, printed);
	g_free(again);
	g_free(printed);
	trace_free(u);
	trace_free(t);

	static const char *const bad[] = {
		"mmtrace 1\nuffd wp +0 4K\n",        /* no mode */
		"mmtrace 1\nuffd wp +0 4K maybe\n",  /* unknown mode */
		"mmtrace 1\nuffd wp +0 4K on,\n",    /* empty part */
		"mmtrace 1\nuffd wp +0 4K on x\n",   /* too many arguments */
		"mmtrace 1\nuffd wp +1G 4K on\n",    /* outside the arena */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		trace *b = trace_parse("bad.trace", bad[i], strlen(bad[i]), &err);
		g_assert_null(b);
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err->message, "bad.trace:2: error:"));
		g_clear_error(&err);
	}
}

/* The userfaultfd statements and the uffd result (docs/trace-format.md). */
/* uffd continue and uffd wake (docs/trace-format.md, "userfaultfd"). */
static void test_uffd_continue_wake(void)
{
	static const char text[] = "mmtrace 1\n"
	                           "uffd continue +8K 8K => EAGAIN\n"
	                           "uffd wake +0x1000 4K => 0\n"
	                           "uffd wake +0x1001 4K => EINVAL\n"
	                           "uffd continue +0 4K dontwake => EFAULT\n"
	                           "uffd continue +0 4K 0x5 => EINVAL\n"
	                           "uffd continue +0 4K 0x3 => 0\n";
	GError *err = NULL;
	trace *t = trace_parse("c.trace", text, strlen(text), &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->stmts->len, ==, 6);
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, 0);
	g_assert_cmpint(s->kind, ==, TR_UFFD_CONTINUE);
	g_assert_cmpuint(s->flags, ==, 0);
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 3).flags, ==, MM_UFFD_CONTINUE_MODE_DONTWAKE);
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 4).flags, ==, 5);
	g_assert_cmpuint(s->addr, ==, t->arena_base + 0x2000);
	g_assert_cmpuint(s->len, ==, 0x2000);
	g_assert_cmpint(s->expect.err, ==, EAGAIN);
	s = &g_array_index(t->stmts, tr_stmt, 2);
	g_assert_cmpint(s->kind, ==, TR_UFFD_WAKE);
	g_assert_cmpuint(s->addr, ==, t->arena_base + 0x1001);
	char *printed = trace_to_string(t);
	g_assert_nonnull(strstr(printed, "uffd continue +0x2000 8K => EAGAIN\n"));
	g_assert_nonnull(strstr(printed, "uffd wake +0x1000 4K => 0\n"));
	g_assert_nonnull(strstr(printed, "uffd continue +0x0 4K dontwake => EFAULT\n"));
	g_assert_nonnull(strstr(printed, "uffd continue +0x0 4K dontwake,0x4 => EINVAL\n"));
	g_assert_nonnull(strstr(printed, "uffd continue +0x0 4K dontwake,wp => 0\n"));
	trace *u = trace_parse("again", printed, strlen(printed), &err);
	g_assert_no_error(err);
	char *again = trace_to_string(u);
	g_assert_cmpstr(again, ==, printed);
	g_free(again);
	g_free(printed);
	trace_free(u);
	trace_free(t);
	static const char *const bad[] = {
		"mmtrace 1\nuffd continue +0\n",       /* no length */
		"mmtrace 1\nuffd wake +0 4K 1\n",      /* a third argument */
		"mmtrace 1\nuffd continue +0 4K minor\n", /* not a continue mode name */
		"mmtrace 1\nuffd continue +0 4K 1 2\n", /* too many */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		trace *b = trace_parse("bad.trace", bad[i], strlen(bad[i]), &err);
		g_assert_null(b);
		g_assert_nonnull(err);
		g_clear_error(&err);
	}
}

static void test_uffd(void)
{
	static const char text[] = "mmtrace 1\n"
	                           "uffd register +16K 16K missing,minor => 0\n"
	                           "uffd register +0 4K 0x9 => EINVAL\n"
	                           "uffd unregister +16K 4K => 0\n"
	                           "uffd copy +20K 8K 0xabc => EAGAIN\n"
	                           "uffd zeropage +24K 4K => EEXIST\n"
	                           "touch +0x5123 w => uffd missing,write +0x5000\n"
	                           "read +0x6008 => uffd minor +0x6000\n"
	                           "write +0x7000 0x1 => uffd wp,write +0x7000\n";
	GError *err = NULL;
	trace *t = trace_parse("u.trace", text, strlen(text), &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->stmts->len, ==, 8);
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, 0);
	g_assert_cmpint(s->kind, ==, TR_UFFD_REGISTER);
	g_assert_cmpuint(s->flags, ==, MM_UFFD_MODE_MISSING | MM_UFFD_MODE_MINOR);
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 1).flags, ==, 9);
	s = &g_array_index(t->stmts, tr_stmt, 3);
	g_assert_cmpint(s->kind, ==, TR_UFFD_COPY);
	g_assert_cmpuint(s->value, ==, 0xabc);
	g_assert_cmpint(s->expect.err, ==, EAGAIN);
	s = &g_array_index(t->stmts, tr_stmt, 5);
	g_assert_cmpint(s->expect.touch.outcome, ==, MM_TOUCH_UFFD);
	g_assert_cmpuint(s->expect.touch.uffd_flags, ==, MM_UFFD_FLAG_WRITE);
	g_assert_cmpuint(s->expect.touch.uffd_addr, ==, t->arena_base + 0x5000);
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 6).expect.touch.uffd_flags, ==, MM_UFFD_FLAG_MINOR);
	g_assert_cmpuint(g_array_index(t->stmts, tr_stmt, 7).expect.touch.uffd_flags, ==,
	                 MM_UFFD_FLAG_WP | MM_UFFD_FLAG_WRITE);
	char *printed = trace_to_string(t);
	g_assert_nonnull(strstr(printed, "uffd register +0x4000 16K missing,minor => 0\n"));
	g_assert_nonnull(strstr(printed, "uffd register +0x0 4K missing,0x8 => EINVAL\n"));
	g_assert_nonnull(strstr(printed, "touch +0x5123 w => uffd missing,write +0x5000\n"));
	g_assert_nonnull(strstr(printed, "write +0x7000 0x1 => uffd wp,write +0x7000\n"));
	trace *u = trace_parse("again", printed, strlen(printed), &err);
	g_assert_no_error(err);
	char *again = trace_to_string(u);
	g_assert_cmpstr(again, ==, printed);
	g_free(again);
	g_free(printed);
	trace_free(u);
	trace_free(t);

	static const char *const bad[] = {
		"mmtrace 1\nuffd\n",                                /* no operation */
		"mmtrace 1\nuffd frob\n",                           /* unknown operation */
		"mmtrace 1\nuffd register +0 4K maybe\n",           /* unknown mode */
		"mmtrace 1\nuffd copy +0 4K\n",                     /* no value */
		"mmtrace 1\ntouch +0 r => uffd missing\n",          /* no address */
		"mmtrace 1\ntouch +0 r => uffd write +0x0\n",       /* no reason */
		"mmtrace 1\ntouch +0 r => uffd missing,minor +0x0\n", /* two reasons */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		trace *b = trace_parse("bad.trace", bad[i], strlen(bad[i]), &err);
		g_assert_null(b);
		g_assert_error(err, TRACE_ERROR, TRACE_ERROR_PARSE);
		g_assert_true(g_str_has_prefix(err->message, "bad.trace:2: error: "));
		g_clear_error(&err);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/trace/spec-example", test_spec_example);
	g_test_add_func("/trace/numbers", test_numbers);
	g_test_add_func("/trace/errors", test_errors);
	g_test_add_func("/trace/round-trip", test_round_trip);
	g_test_add_func("/trace/uffd", test_uffd);
	g_test_add_func("/trace/uffd-continue-wake", test_uffd_continue_wake);
	g_test_add_func("/trace/uffd-wp", test_uffd_wp);
	g_test_add_func("/trace/printer", test_printer);
	g_test_add_func("/trace/errno-names", test_errno_names);
	g_test_add_func("/trace/result-parse", test_result_parse);
	g_test_add_func("/trace/streaming", test_streaming);
	g_test_add_func("/trace/generator", test_generator);
	g_test_add_func("/trace/load", test_load);
	return g_test_run();
}

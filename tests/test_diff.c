/* The diff engine, replay, snapshots and the exec targets: a failed
 * expectation names its line, model and naive agree on hand traces, and a
 * misbehaving external target is reported, never waited for. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "diff.h"
#include "gen.h"
#include "snapshot.h"
#include "target.h"
#include "target_internal.h"
#include "trace.h"

static trace *parse(const char *text)
{
	GError *err = NULL;
	trace *t = trace_parse("t.trace", text, strlen(text), &err);
	g_assert_no_error(err);
	return t;
}

#include "spec_example.h"

/* Simple traces whose outcome any correct implementation agrees on. */
static const char *const hand_traces[] = {
	spec_example,
	"mmtrace 1\n"
	"mmap +0 32K rw- private,anon,fixed\n"
	"munmap +8K 8K\n"
	"touch +8K r\n"
	"touch +0 w\n"
	"mprotect +16K 16K r--\n"
	"touch +16K w\n"
	"state\n"
	"maps\n"
	"smaps\n"
	"pages +0 32K\n",
	"mmtrace 1\n"
	"mmap 0 8K rw- private,anon\n"
	"mmap 0 8K r-- shared,anon\n"
	"munmap +0 0\n"
	"mmap +0x1001 4K rw- private,anon,fixed\n"
	"mmap +0 4K rw- 0\n"
	"maps\n",
	"mmtrace 1\n"
	"file f 16K\n"
	"mmap +0 16K r-- private,fixed file=f\n"
	"touch +0 r\n"
	"mmap +64K 8K rw- shared,fixed file=f off=4K\n"
	"touch +64K w\n"
	"state\n",
};

/* ---- replay ------------------------------------------------------------------------ */

static void test_replay_holds(void)
{
	trace *t = parse(spec_example);
	target *tg = target_model_new();
	GString *failures = g_string_new(NULL), *annotated = g_string_new(NULL);
	replay_options opt = {.check = TRUE, .annotate = TRUE, .source = spec_example, .source_len = strlen(spec_example)};
	diff_status st = replay_run(t, tg, &opt, failures, annotated, NULL);
	if (st != DIFF_SAME)
		g_error("replay failed:\n%s", failures->str);
	g_assert_cmpstr(failures->str, ==, "");
	/* the annotation of a trace whose expectations hold is the trace */
	g_assert_cmpstr(annotated->str, ==, spec_example);
	g_string_free(failures, TRUE);
	g_string_free(annotated, TRUE);
	target_free(tg);
	trace_free(t);
}

static void test_replay_fails_with_line(void)
{
	static const char text[] = "mmtrace 1\n"
	                           "# wrong on purpose\n"
	                           "mmap +0 4K rw- private,anon,fixed => +0x1000\n"
	                           "touch +0 w => ok  # right\n"
	                           "munmap +0 4K => EINVAL\n"
	                           "maps\n"
	                           "| 100000000000-100000001000 rw-p 00000000 anon\n";
	trace *t = parse(text);
	target *tg = target_model_new();
	GString *failures = g_string_new(NULL), *annotated = g_string_new(NULL);
	replay_options opt = {.annotate = TRUE, .source = text, .source_len = strlen(text)};
	guint64 n = 0;
	g_assert_cmpint(replay_run(t, tg, &opt, failures, annotated, &n), ==, DIFF_DIVERGED);
	g_assert_cmpuint(n, ==, 4);
	g_assert_nonnull(strstr(failures->str, "t.trace:3: expected => +0x1000, model gave => +0x0"));
	g_assert_null(strstr(failures->str, "t.trace:4:"));
	g_assert_nonnull(strstr(failures->str, "t.trace:5: expected => EINVAL, model gave => 0"));
	g_assert_nonnull(strstr(failures->str, "t.trace:6: maps: expected line 1"));
	/* annotated: comments kept, results replaced, observation lines refilled */
	g_assert_nonnull(strstr(annotated->str, "# wrong on purpose\nmmap +0 4K rw- private,anon,fixed => +0x0\n"));
	g_assert_nonnull(strstr(annotated->str, "touch +0 w => ok  # right\n"));
	g_assert_nonnull(strstr(annotated->str, "munmap +0 4K => 0\nmaps\n"));
	g_assert_null(strstr(annotated->str, "| 1000"));
	g_string_free(failures, TRUE);
	g_string_free(annotated, TRUE);
	target_free(tg);
	trace_free(t);
}

static void test_replay_annotate_reprinted(void)
{
	trace *t = parse("mmtrace 1\nmmap +0 4K rw- private,anon,fixed\nstate\n");
	target *tg = target_naive_new();
	GString *failures = g_string_new(NULL), *annotated = g_string_new(NULL);
	replay_options opt = {.annotate = TRUE};
	g_assert_cmpint(replay_run(t, tg, &opt, failures, annotated, NULL), ==, DIFF_SAME);
	g_assert_true(g_str_has_prefix(annotated->str, "mmtrace 1\nmmap +0x0 4K rw- private,fixed,anonymous => +0x0\n"
	                                               "state\n| 100000000000-100000001000 rw-p 00000000 anon "));
	g_string_free(failures, TRUE);
	g_string_free(annotated, TRUE);
	target_free(tg);
	trace_free(t);
}

/* ---- diff ---------------------------------------------------------------------------- */

/* Exec targets get timeout_ms to answer: short where a test waits for a broken
 * target to time out, long where a working one (mmref serve under ASan on a
 * loaded machine) only has to start. */
static diff_status run_diff_timeout(const char *text, const char *const *names, guint n, char **report,
                                    guint timeout_ms)
{
	trace *t = parse(text);
	target **tgs = g_new0(target *, n);
	for (guint i = 0; i < n; i++) {
		GError *err = NULL;
		tgs[i] = target_new(names[i], &err);
		g_assert_no_error(err);
		target_exec_set_timeout(tgs[i], timeout_ms);
	}
	diff_options opt = {.check = TRUE};
	diff_status st = diff_run(t, tgs, n, &opt, report, NULL);
	for (guint i = 0; i < n; i++)
		target_free(tgs[i]);
	g_free(tgs);
	trace_free(t);
	return st;
}

static diff_status run_diff(const char *text, const char *const *names, guint n, char **report)
{
	return run_diff_timeout(text, names, n, report, 20000);
}

static void test_diff_model_naive(void)
{
	static const char *const names[] = {"model", "naive"};
	for (size_t i = 0; i < G_N_ELEMENTS(hand_traces); i++) {
		char *report = NULL;
		if (run_diff(hand_traces[i], names, 2, &report) != DIFF_SAME)
			g_error("hand trace %zu diverged:\n%s", i, report);
		g_assert_null(report);
	}
}

/* An external target that answers EINVAL to everything. */
#define EINVAL_SCRIPT                                                                                                 \
	"exec:while read l; do case \"$l\" in mmtrace*|arena*|file*) printf '%s\\n\\n' \"$l\";; "                        \
	"*) printf '%s => EINVAL\\n\\n' \"$l\";; esac; done"

static void test_diff_reports_divergence(void)
{
	static const char *const names[] = {"model", EINVAL_SCRIPT};
	char *report = NULL;
	g_assert_cmpint(run_diff("mmtrace 1\n\nmmap +0 4K rw- private,anon,fixed\n", names, 2, &report), ==,
	                DIFF_DIVERGED);
	g_assert_true(g_str_has_prefix(report, "t.trace:3: results differ: mmap +0x0 4K rw- private,fixed,anonymous\n"));
	g_assert_nonnull(strstr(report, "model    => +0x0\n"));
	g_assert_nonnull(strstr(report, "=> EINVAL\n"));
	g_free(report);
}

static void test_diff_exec_failures(void)
{
	static const char *const bad[] = {
		"exec:true",                                          /* exits at once */
		"exec:sleep 1000",                                    /* never answers */
		"exec:cat",                                           /* answers without the empty line */
		"exec:exec 0<&-; sleep 1000",                          /* closes its input */
		"exec:printf 'mmtrace 1\\n\\n# error: no\\n\\n'; sleep 1000", /* refuses the arena */
		"exec:while read l; do printf '%s => banana\\n\\n' \"$l\"; done", /* nonsense results */
		"exec:while read l; do printf '%s\\n\\n' \"$l\"; done",            /* no result at all */
		"exec:/nonexistent/mmref-kernel",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		const char *names[] = {"naive", bad[i]};
		char *report = NULL;
		gint64 t0 = g_get_monotonic_time();
		g_assert_cmpint(
		    run_diff_timeout("mmtrace 1\nmmap +0 4K rw- private,anon,fixed\nmaps\n", names, 2, &report, 500), ==,
		    DIFF_DIVERGED);
		/* Not a speed goal: whether diff gave up at its deadline or
		 * waited for the target to end (1000 s). The margin holds on a
		 * machine many times slower than this one (under qemu's TCG a
		 * start alone took 8 s). */
		g_assert_cmpint(g_get_monotonic_time() - t0, <, 300 * G_USEC_PER_SEC);
		if (!strstr(report, bad[i]) || !strstr(report, "failed"))
			g_error("%s: report does not name the failing target:\n%s", bad[i], report);
		g_free(report);
	}
}

static void test_exec_respawn(void)
{
	/* Fails the first time it is started, works afterwards: start() after a
	 * failure must spawn a fresh child. */
	char *dir = g_dir_make_tmp("mmref-test-XXXXXX", NULL);
	char *flag = g_build_filename(dir, "started", NULL);
	char *name = g_strdup_printf("exec:if [ -e %s ]; then while read l; do case \"$l\" in "
	                             "mmtrace*|arena*|file*) printf '%%s\\n\\n' \"$l\";; "
	                             "*) printf '%%s => 0\\n\\n' \"$l\";; esac; done; else touch %s; exit 3; fi",
	                             flag, flag);
	trace *t = parse("mmtrace 1\nmunmap +0 4K\n");
	GError *err = NULL;
	target *tg = target_new(name, &err);
	g_assert_no_error(err);
	GString *failures = g_string_new(NULL);
	g_assert_cmpint(replay_run(t, tg, NULL, failures, NULL, NULL), ==, DIFF_DIVERGED);
	g_assert_nonnull(strstr(failures->str, "status 3"));
	g_string_truncate(failures, 0);
	if (replay_run(t, tg, NULL, failures, NULL, NULL) != DIFF_SAME)
		g_error("no respawn: %s", failures->str);
	target_free(tg);
	trace_free(t);
	g_string_free(failures, TRUE);
	g_unlink(flag);
	g_rmdir(dir);
	g_free(name);
	g_free(flag);
	g_free(dir);
}

static char *mmref_binary(void)
{
	char *path = g_build_filename(MMREF_BINARY_DIR, "mmref", NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
		g_free(path);
		return NULL;
	}
	return path;
}

static void test_diff_over_serve(void)
{
	char *bin = mmref_binary();
	if (!bin) {
		g_test_skip("no mmref binary");
		return;
	}
	char *exec_naive = g_strdup_printf("exec:%s serve --target naive", bin);
	const char *names[] = {"model", exec_naive, "naive"};
	for (size_t i = 0; i < G_N_ELEMENTS(hand_traces); i++) {
		char *report = NULL;
		if (run_diff(hand_traces[i], names, 3, &report) != DIFF_SAME)
			g_error("hand trace %zu diverged:\n%s", i, report);
	}
	/* generated traces: model against the naive oracle behind the exec protocol */
	const char *two[] = {"naive", exec_naive};
	for (guint64 seed = 1; seed <= 5; seed++) {
		char *text = gen_trace_text(seed, 100);
		char *report = NULL;
		if (run_diff(text, two, 2, &report) != DIFF_SAME)
			g_error("generated trace %" G_GUINT64_FORMAT " diverged over exec:\n%s", seed, report);
		g_free(text);
	}
	g_free(exec_naive);
	g_free(bin);
}

/* ---- nondeterminism (issue 15 case 5) ------------------------------------------------ */

/* A fake live target: the model behind the exec protocol, with the answer
 * (or state line) matching re rewritten to repl by sed -- the first time it
 * appears only ("once"), or every time. Reruns of the trace then see the
 * target disagree with itself, or not. */
static char *fake_name(const char *re, const char *repl, gboolean once)
{
	char *bin = mmref_binary();
	/* 0,/RE/s//REPL/: the first match in the whole stream only */
	char *name = once ? g_strdup_printf("exec:%s serve --target model | sed -u '0,/%s/s//%s/'", bin, re, repl)
	                  : g_strdup_printf("exec:%s serve --target model | sed -u 's/%s/%s/'", bin, re, repl);
	g_free(bin);
	return name;
}

static diff_status run_fake(const char *text, const char *re, const char *repl, gboolean once, guint reruns,
                            divergence *d)
{
	char *name = fake_name(re, repl, once);
	trace *t = parse(text);
	GError *err = NULL;
	target *tgs[2] = {target_model_new(), target_new(name, &err)};
	g_assert_no_error(err);
	target_exec_set_timeout(tgs[1], 20000);
	diff_options opt = {.check = TRUE, .nondet_reruns = reruns};
	diff_status st = diff_run_data(t, tgs, 2, &opt, d, NULL);
	target_free(tgs[0]);
	target_free(tgs[1]);
	trace_free(t);
	g_free(name);
	return st;
}

static const char collapse_trace[] = "mmtrace 1\n"
                                     "mmap +0 4M rw- private,anonymous,fixed\n"
                                     "madvise +0 4M hugepage\n"
                                     "touch +0 w\n"
                                     "madvise +0 2M collapse\n"
                                     "state\n";
static const char touch_trace[] = "mmtrace 1\n"
                                  "mmap +0 2M rw- private,anonymous,fixed\n"
                                  "touch +0 w\n"
                                  "mmap +4M 4K rw- private,anonymous,fixed\n"
                                  "state\n";

static void test_nondet(void)
{
	char *bin = mmref_binary();
	if (!bin) {
		g_test_skip("no mmref binary");
		return;
	}
	g_free(bin);
	divergence d;
	/* MADV_COLLAPSE's result, different on the first run only: nondeterministic. */
	diff_status st = run_fake(collapse_trace, " collapse => 0$", " collapse => ENOMEM", TRUE, 0, &d);
	if (st != DIFF_NONDETERMINISTIC)
		g_error("not found nondeterministic:\n%s", d.report);
	g_assert_cmpint(d.cls, ==, DIV_NONDET);
	g_assert_cmpint(d.nondet_of, ==, DIV_RESULT);
	g_assert_cmpint(d.line, ==, 5);
	g_assert_cmpuint(d.target, ==, 1);
	g_assert_cmpuint(d.nondet_rerun, ==, 1);
	g_assert_nonnull(strstr(d.report, "nondeterministic at 5: madvise +0x0 2M collapse"));
	g_assert_nonnull(strstr(d.report, "first run => ENOMEM"));
	divergence_clear(&d);
	/* The same answer on every run: a divergence. */
	g_assert_cmpint(run_fake(collapse_trace, " collapse => 0$", " collapse => ENOMEM", FALSE, 0, &d), ==,
	                DIFF_DIVERGED);
	g_assert_cmpint(d.cls, ==, DIV_RESULT);
	divergence_clear(&d);
	/* Page states after a fault, different on the first run only (a THP
	 * allocation or reclaim could do that): nondeterministic. */
	st = run_fake(touch_trace, ": a1n511$", ": n512", TRUE, 0, &d);
	if (st != DIFF_NONDETERMINISTIC)
		g_error("not found nondeterministic:\n%s", d.report);
	g_assert_cmpint(d.nondet_of, ==, DIV_STATE);
	g_assert_cmpint(d.line, ==, 3);
	g_assert_nonnull(strstr(d.report, "nondeterministic at 3"));
	divergence_clear(&d);
	/* A result no timing-dependent mechanism changes (mmap's) is never
	 * rerun: a divergence even when only the first run said it. */
	g_assert_cmpint(run_fake(touch_trace, "=> +0x400000$", "=> ENOMEM", TRUE, 0, &d), ==, DIFF_DIVERGED);
	g_assert_cmpint(d.cls, ==, DIV_RESULT);
	g_assert_cmpint(d.line, ==, 4);
	divergence_clear(&d);
	/* Reruns off: the first run's difference is a divergence. */
	g_assert_cmpint(run_fake(collapse_trace, " collapse => 0$", " collapse => ENOMEM", TRUE, G_MAXUINT, &d), ==,
	                DIFF_DIVERGED);
	divergence_clear(&d);
}

/* mmref gen --coverage: every row of the table reached (issue 15). */
static void test_gen_coverage(void)
{
	guint zeros = 99;
	char *table = gen_coverage(1, 300, 300, FALSE, &zeros);
	if (zeros)
		g_error("coverage rows at zero:\n%s", table);
	g_assert_nonnull(strstr(table, "| interaction | operation on a huge page, partly |"));
	g_assert_nonnull(strstr(table, "0 rows of "));
	g_free(table);
}

/* mmref gen --uffd --coverage: every row reached, among them the minor
 * faults and the continues that resolve them (issue 20). */
static void test_gen_coverage_uffd(void)
{
	guint zeros = 99;
	char *table = gen_coverage_uffd(1, 100, 300, FALSE, FALSE, TRUE, &zeros);
	if (zeros)
		g_error("coverage rows at zero:\n%s", table);
	g_assert_nonnull(strstr(table, "| statement | uffd continue |"));
	g_assert_nonnull(strstr(table, "| statement | uffd wake |"));
	g_assert_nonnull(strstr(table, "| result | a minor fault (a cached page) delivered to the userfaultfd |"));
	g_assert_nonnull(strstr(table, "| result | uffd continue that mapped every page |"));
	g_free(table);
}

/* ---- the command line ------------------------------------------------------------------ */

static int run_cli(const char *const *args, char **out, char **err)
{
	char *bin = mmref_binary();
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, bin);
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	int status = -1;
	GError *e = NULL;
	g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status, &e));
	g_assert_no_error(e);
	g_ptr_array_unref(argv);
	g_free(bin);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli(void)
{
	char *bin = mmref_binary();
	if (!bin) {
		g_test_skip("no mmref binary");
		return;
	}
	g_free(bin);
	char *dir = g_dir_make_tmp("mmref-cli-XXXXXX", NULL);
	char *good = g_build_filename(dir, "good.trace", NULL);
	char *wrong = g_build_filename(dir, "wrong.trace", NULL);
	char *bad = g_build_filename(dir, "bad.trace", NULL);
	g_assert_true(g_file_set_contents(good, spec_example, -1, NULL));
	g_assert_true(g_file_set_contents(wrong, "mmtrace 1\nmmap +0 4K rw- private,anon,fixed => ENOMEM\n", -1, NULL));
	g_assert_true(g_file_set_contents(bad, "mmtrace 1\n\nmunmap +0 4K 4K\n", -1, NULL));
	char *out = NULL, *err = NULL;

	const char *version[] = {"--version", NULL};
	g_assert_cmpint(run_cli(version, &out, &err), ==, 0);
	g_assert_true(g_str_has_prefix(out, "mmref "));
	g_free(out);
	g_free(err);

	static const char *const cmds[] = {"replay", "diff", "gen", "serve"};
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		const char *help[] = {cmds[i], "--help", NULL};
		g_assert_cmpint(run_cli(help, &out, &err), ==, 0);
		g_assert_nonnull(strstr(out, "Usage:"));
		g_free(out);
		g_free(err);
	}

	const char *replay_good[] = {"replay", good, NULL};
	g_assert_cmpint(run_cli(replay_good, &out, &err), ==, 0);
	g_free(out);
	g_free(err);

	const char *replay_wrong[] = {"replay", "--target", "naive", wrong, NULL};
	g_assert_cmpint(run_cli(replay_wrong, &out, &err), ==, 1);
	char *where = g_strdup_printf("%s:2: expected => ENOMEM", wrong);
	g_assert_nonnull(strstr(err, where));
	g_free(where);
	g_free(out);
	g_free(err);

	/* an invalid trace among valid ones: reported, and nothing is run */
	const char *replay_bad[] = {"replay", "--annotate", good, bad, NULL};
	g_assert_cmpint(run_cli(replay_bad, &out, &err), ==, 2);
	where = g_strdup_printf("%s:3: error: too many arguments", bad);
	g_assert_true(g_str_has_prefix(err, where));
	g_assert_cmpstr(out, ==, "");
	g_free(where);
	g_free(out);
	g_free(err);

	const char *diff_good[] = {"diff", "--check", good, wrong, NULL};
	g_assert_cmpint(run_cli(diff_good, &out, &err), ==, 0);
	g_free(out);
	g_free(err);

	const char *diff_gen[] = {"diff", "--gen", "3", "--seed", "9", "--length", "50", NULL};
	g_assert_cmpint(run_cli(diff_gen, &out, &err), ==, 0);
	g_assert_nonnull(strstr(err, "3 generated traces"));
	g_free(out);
	g_free(err);

	const char *usage[] = {"diff", "--targets", "model", good, NULL};
	g_assert_cmpint(run_cli(usage, &out, &err), ==, 2);
	g_free(out);
	g_free(err);
	const char *unknown[] = {"frob", NULL};
	g_assert_cmpint(run_cli(unknown, &out, &err), ==, 2);
	g_free(out);
	g_free(err);
	const char *badtarget[] = {"replay", "--target", "qemu", good, NULL};
	g_assert_cmpint(run_cli(badtarget, &out, &err), ==, 2);
	g_free(out);
	g_free(err);

	char *gendir = g_build_filename(dir, "gen", NULL);
	const char *gen[] = {"gen", "--seed", "5", "--count", "2", "--length", "20", "--out", gendir, NULL};
	g_assert_cmpint(run_cli(gen, &out, &err), ==, 0);
	g_free(out);
	g_free(err);
	char *g1 = g_build_filename(gendir, "gen-5-1.trace", NULL);
	char *text = NULL;
	g_assert_true(g_file_get_contents(g1, &text, NULL, NULL));
	char *expect = gen_trace_text(6, 20);
	g_assert_cmpstr(text, ==, expect);
	g_free(expect);
	g_free(text);
	g_unlink(g1);
	g_free(g1);
	g1 = g_build_filename(gendir, "gen-5-0.trace", NULL);
	g_unlink(g1);
	g_free(g1);
	g_rmdir(gendir);
	g_free(gendir);

	g_unlink(good);
	g_unlink(wrong);
	g_unlink(bad);
	g_rmdir(dir);
	g_free(good);
	g_free(wrong);
	g_free(bad);
	g_free(dir);
}

/* ---- snapshots --------------------------------------------------------------------------- */

static void test_snapshot_render_parse(void)
{
	trace *t = parse("mmtrace 1\nfile lib 64K\n");
	snapshot a, b;
	snapshot_init(&a);
	snapshot_init(&b);
	guint8 pages1[4] = {MM_PAGE_ZERO, MM_PAGE_ANON, MM_PAGE_NONE, MM_PAGE_NONE};
	guint8 pages2[2] = {MM_PAGE_FILE, MM_PAGE_GUARD};
	snap_vma v1 = {.start = 0x100000000000ull, .end = 0x100000004000ull, .flags = 0x100073, .backing = MM_BACKING_ANON};
	snap_vma v2 = {.start = 0x100000010000ull, .end = 0x100000012000ull, .flags = 0xfb, .offset = 0x2000,
	               .backing = MM_BACKING_SHMEM, .object = 7};
	snap_vma v3 = {.start = 0x100000020000ull, .end = 0x100000021000ull, .flags = 0x75, .offset = 0x1000,
	               .backing = MM_BACKING_FILE, .object = 1};
	snap_vma v4 = {.start = 0x100000030000ull, .end = 0x100000031000ull, .flags = 0xfb, .backing = MM_BACKING_SHMEM,
	               .object = 3};
	snapshot_add_vma(&a, &v1, pages1);
	snapshot_add_vma(&a, &v2, pages2);
	snapshot_add_vma(&a, &v3, NULL);
	snapshot_add_vma(&a, &v4, NULL);

	tr_stmt maps = {.kind = TR_MAPS}, smaps = {.kind = TR_SMAPS}, state = {.kind = TR_STATE};
	tr_stmt pages = {.kind = TR_PAGES, .addr = 0x100000003000ull, .len = 0xf001};
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	snapshot_render(&a, t, &maps, lines);
	g_assert_cmpuint(lines->len, ==, 4);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "100000000000-100000004000 rw-p 00000000 anon");
	g_assert_cmpstr(g_ptr_array_index(lines, 1), ==, "100000010000-100000012000 rw-s 00002000 shmem:1");
	g_assert_cmpstr(g_ptr_array_index(lines, 2), ==, "100000020000-100000021000 r-xp 00001000 file:lib");
	g_assert_cmpstr(g_ptr_array_index(lines, 3), ==, "100000030000-100000031000 rw-s 00000000 shmem:2");
	g_ptr_array_set_size(lines, 0);
	snapshot_render(&a, t, &smaps, lines);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "100000000000-100000004000 rd wr mr mw me ac");
	g_assert_cmpstr(g_ptr_array_index(lines, 1), ==, "100000010000-100000012000 rd wr sh mr mw me ms");
	g_ptr_array_set_size(lines, 0);
	snapshot_render(&a, t, &pages, lines);
	g_assert_cmpuint(lines->len, ==, 16);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==, "+0x3000 none");
	g_assert_cmpstr(g_ptr_array_index(lines, 13), ==, "+0x10000 file");
	g_assert_cmpstr(g_ptr_array_index(lines, 14), ==, "+0x11000 guard");
	g_assert_cmpstr(g_ptr_array_index(lines, 15), ==, "+0x12000 none");
	g_ptr_array_set_size(lines, 0);
	snapshot_render(&a, t, &state, lines);
	g_assert_cmpstr(g_ptr_array_index(lines, 0), ==,
	                "100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : z1a1n2");
	GError *err = NULL;
	g_assert_true(snapshot_parse_state(&b, t, lines, &err));
	g_assert_no_error(err);
	/* shmem objects come back numbered by appearance: same state */
	g_assert_null(snapshot_diff(&a, &b, t));

	/* differences name the VMA, the field and both values */
	g_array_index(b.vmas, snap_vma, 0).flags |= MM_VM_LOCKED;
	char *d = snapshot_diff_labeled(&a, "model", &b, "kernel", t);
	g_assert_nonnull(d);
	g_assert_nonnull(strstr(d, "VMA #1 differs in its flags"));
	g_assert_nonnull(strstr(d, "only kernel: lo"));
	g_free(d);
	g_array_index(b.vmas, snap_vma, 0).flags &= ~MM_VM_LOCKED;
	g_array_index(b.pages, guint8, 1) = MM_PAGE_ZERO;
	d = snapshot_diff_labeled(&a, "model", &b, "kernel", t);
	g_assert_nonnull(strstr(d, "page +0x1000 of VMA #1 differs: model anon, kernel zero"));
	g_free(d);
	g_array_index(b.pages, guint8, 1) = MM_PAGE_ANON;
	g_array_set_size(b.vmas, 3);
	d = snapshot_diff(&a, &b, t);
	g_assert_nonnull(strstr(d, "VMA #4 only in first"));
	g_free(d);

	/* malformed state lines */
	static const char *const bad[] = {
		"100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : z1a1n1",
		"100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : z1a1n3",
		"100000000000-100000004000 rw-p 00000000 anon rd wr xx : z4",
		"100000000000-100000004000 r--p 00000000 anon rd wr : z4",
		"100000000000-100000004000 rw-p 00000000 anon rd wr",
		"100000000000-100000004000 rw-p 00000000 file:nope rd wr : z4",
		"100000000000-100000004000 rw-p 00000000 shmem:x rd wr : z4",
		"100000004000-100000000000 rw-p 00000000 anon rd wr : z4",
		"100000000000-100000004000 rw-p 00000000 anon rd wr : q4",
		"100000000000-100000004000 rw-p 00000000 anon rd wr : z",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_ptr_array_set_size(lines, 0);
		g_ptr_array_add(lines, g_strdup(bad[i]));
		if (snapshot_parse_state(&b, t, lines, &err))
			g_error("state line accepted: %s", bad[i]);
		g_assert_true(g_str_has_prefix(err->message, "state line 1: "));
		g_clear_error(&err);
	}
	g_ptr_array_unref(lines);
	snapshot_free(&a);
	snapshot_free(&b);
	trace_free(t);
}


/* ---- The incremental comparison: a planted divergence outside the statement's range ---- */

/* A model whose mprotect, after doing its work, plants an effect elsewhere:
 * PLANT_NEIGHBOUR mprotects the first page of the VMA that now holds
 * addr - 4K (a merged neighbour split at its far end, 64K away);
 * PLANT_FAR mprotects one page in the middle of the VMA two VMAs after the
 * range (a split of a VMA the statement never named). */
enum { PLANT_NONE, PLANT_NEIGHBOUR, PLANT_FAR };
static int plant_mode;
static mm_api planted_api;

static int planted_mprotect(void *mm, uint64_t addr, uint64_t len, uint64_t prot)
{
	int r = mm_mprotect(mm, addr, len, prot);
	mm_vma_info v[4];
	if (plant_mode == PLANT_NEIGHBOUR && mm_vmas(mm, addr - 4096, addr, v, 1) == 1)
		mm_mprotect(mm, v[0].start, 4096, MM_PROT_READ);
	if (plant_mode == PLANT_FAR && mm_vmas(mm, addr + len, UINT64_MAX, v, 4) >= 2) {
		uint64_t mid = v[1].start + ((v[1].end - v[1].start) / 2 & ~4095ull);
		mm_mprotect(mm, mid, 4096, MM_PROT_READ | MM_PROT_WRITE);
	}
	return r;
}

static target *planted_target(int mode)
{
	target *model = target_model_new();
	planted_api = *target_api_of(model);
	target_free(model);
	planted_api.mprotect = planted_mprotect;
	plant_mode = mode;
	return target_api_new(&planted_api, "planted");
}

static void run_planted(const char *text, int mode, guint want_index, gboolean without_changed)
{
	trace *t = parse(text);
	target *tv[2] = {target_model_new(), planted_target(mode)};
	if (without_changed)
		tv[1]->changed = NULL; /* as a target that cannot say what it changed */
	divergence d;
	diff_options opt = {0}; /* the default: whole state every 32 statements and at the end */
	diff_status st = diff_run_data(t, tv, 2, &opt, &d, NULL);
	if (g_test_verbose())
		g_printerr("%s", d.report ? d.report : "(agree)\n");
	g_assert_cmpint(st, ==, DIFF_DIVERGED);
	g_assert_cmpint(d.cls, ==, DIV_STATE);
	g_assert_cmpuint(d.target, ==, 1);
	g_assert_true(d.have_state);
	if (without_changed) {
		/* Found later (by a later statement's window or the whole
		 * comparison at the end), not at the statement that caused it. */
		g_assert_cmpuint(d.index, >, want_index);
	} else {
		/* Found by the incremental comparison at the statement. */
		g_assert_cmpuint(d.index, ==, want_index);
		g_assert_false(d.full);
		snapshot b;
		snapshot_init(&b);
		g_assert_true(divergence_state(&d, 1, FALSE, &b)); /* kept on the way, not asked for again */
		snapshot_free(&b);
	}
	char *again = divergence_render(&d, t);
	g_assert_cmpstr(again, ==, d.report);
	g_free(again);
	divergence_clear(&d);
	target_free(tv[0]);
	target_free(tv[1]);
	trace_free(t);
}

static void test_incremental_planted(void)
{
	/* A merge with a neighbour: mprotect of B to A's protection merges them;
	 * the plant splits the merged VMA at its far end (64K below the range). */
	static const char merge[] = "mmtrace 1\n"
	                            "mmap +0 64K rw- private,anon,fixed\n"
	                            "mmap +64K 8K r-- private,anon,fixed\n"
	                            "mprotect +64K 8K rw-\n" /* statement 2 */
	                            "mmap +1M 8K rw- private,anon,fixed\n"
	                            "touch +1M w\n"
	                            "munmap +1M 4K\n";
	run_planted(merge, PLANT_NEIGHBOUR, 2, FALSE);
	/* A split two VMAs away: mprotect of B; the plant splits D (B, C, D). */
	static const char far[] = "mmtrace 1\n"
	                          "mmap +0 8K rw- private,anon,fixed\n"
	                          "mmap +16K 8K rw- private,anon,fixed\n"
	                          "mmap +32K 8K rw- private,anon,fixed\n"
	                          "mmap +48K 16K r-- private,anon,fixed\n"
	                          "mprotect +16K 8K r--\n" /* statement 4 */
	                          "mmap +1M 8K rw- private,anon,fixed\n"
	                          "touch +1M w\n"
	                          "munmap +1M 4K\n";
	run_planted(far, PLANT_FAR, 4, FALSE);
	/* The control: a target that cannot say what it changed leaves the far
	 * split to a later comparison. */
	run_planted(far, PLANT_FAR, 4, TRUE);
	/* Every N statements: --full-every 1 finds it where the window does. */
	trace *t = parse(far);
	target *tv[2] = {target_model_new(), planted_target(PLANT_FAR)};
	tv[1]->changed = NULL;
	divergence d;
	diff_options opt = {.full_every = 1};
	g_assert_cmpint(diff_run_data(t, tv, 2, &opt, &d, NULL), ==, DIFF_DIVERGED);
	g_assert_cmpuint(d.index, ==, 4);
	g_assert_true(d.full);
	divergence_clear(&d);
	target_free(tv[0]);
	target_free(tv[1]);
	trace_free(t);
}

/* Agreement is unchanged by the incremental comparison: the hand traces and
 * generated ones agree whatever full_every is, and mm_check's local mode
 * finds nothing the whole one does not. */
static void test_incremental_agrees(void)
{
	target *tv[2] = {target_model_new(), target_naive_new()};
	for (guint fe = 1; fe <= 64; fe *= 8)
		for (guint seed = 1; seed <= 60; seed++) {
			trace *t = gen_trace(seed, 60, "gen.trace");
			diff_options opt = {.check = TRUE, .full_every = fe};
			char *report = NULL;
			diff_status st = diff_run(t, tv, 2, &opt, &report, NULL);
			if (st != DIFF_SAME)
				g_error("seed %u full_every %u:\n%s", seed, fe, report);
			g_free(report);
			trace_free(t);
		}
	target_free(tv[0]);
	target_free(tv[1]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/diff/replay/holds", test_replay_holds);
	g_test_add_func("/diff/replay/fails-with-line", test_replay_fails_with_line);
	g_test_add_func("/diff/replay/annotate-reprinted", test_replay_annotate_reprinted);
	g_test_add_func("/diff/model-naive", test_diff_model_naive);
	g_test_add_func("/diff/divergence", test_diff_reports_divergence);
	g_test_add_func("/diff/exec-failures", test_diff_exec_failures);
	g_test_add_func("/diff/exec-respawn", test_exec_respawn);
	g_test_add_func("/diff/over-serve", test_diff_over_serve);
	g_test_add_func("/diff/nondet", test_nondet);
	g_test_add_func("/gen/coverage", test_gen_coverage);
	g_test_add_func("/gen/coverage-uffd", test_gen_coverage_uffd);
	g_test_add_func("/diff/cli", test_cli);
	g_test_add_func("/snapshot/render-parse", test_snapshot_render_parse);
	g_test_add_func("/diff/incremental/planted", test_incremental_planted);
	g_test_add_func("/diff/incremental/agrees", test_incremental_agrees);
	return g_test_run();
}

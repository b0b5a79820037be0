/* The shrinker (harness/shrink.c), on a planted divergence: a target that is
 * the model except that a successful mprotect which leaves three or more
 * VMAs answers EPERM. The smallest trace that shows it is two statements:
 * an mmap of at least three pages and an mprotect in its middle. Random
 * traces (hand-written, and decoded fuzz inputs) that hit the plant must
 * shrink to that or, ddmin being 1-minimal, to at most three statements. */
#include <glib.h>
#include <string.h>

#include "decode.h"
#include "shrink.h"

/* ddmin is 1-minimal, not globally minimal: a trace may also stop at
 * three statements (two mmaps and an mprotect that splits one of them). */
#define MAX_SHRUNK 3

/* ---- The planted target: the model, wrong about one thing -------------------- */

static gboolean plant_start(target *tg, const trace *t, GError **error)
{
	target *in = tg->priv;
	return in->ops->start(in, t, error);
}

static gboolean plant_exec(target *tg, const trace *t, const tr_stmt *s, tr_result *res, GError **error)
{
	target *in = tg->priv;
	if (!in->ops->exec(in, t, s, res, error))
		return FALSE;
	if (s->kind == TR_MPROTECT && res->kind == TR_RES_VALUE && res->value == 0 &&
	    mm_vmas(target_model_mm(in), t->arena_base, t->arena_base + t->arena_size, NULL, 0) >= 3) {
		res->kind = TR_RES_ERRNO;
		res->err = 1; /* EPERM */
	}
	/* the blind variant also reports no page-fault error code, as gVisor does */
	if (strcmp(tg->name, "blind") == 0 && res->kind == TR_RES_TOUCH && res->touch.outcome != MM_TOUCH_OK)
		res->touch.pf_error = 0;
	return TRUE;
}

static gboolean plant_snapshot(target *tg, const trace *t, snapshot *snap, GError **error)
{
	target *in = tg->priv;
	return in->ops->snapshot(in, t, snap, error);
}

static gboolean plant_observe(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines, GError **error)
{
	target *in = tg->priv;
	return in->ops->observe(in, t, s, lines, error);
}

static void plant_destroy(target *tg) { target_free(tg->priv); }

static const target_ops plant_ops = {plant_start, plant_exec, plant_snapshot, plant_observe, plant_destroy};

static target *plant_named(const char *name)
{
	target *tg = g_new0(target, 1);
	tg->ops = &plant_ops;
	tg->name = g_strdup(name);
	tg->priv = target_model_new();
	return tg;
}

static target *plant_new(void) { return plant_named("planted"); }

/* ---- Tests ---------------------------------------------------------------------- */

/* A hand-written trace: noise around the two statements that matter. */
static const char planted_text[] =
        "mmtrace 1\n"
        "file f1 16K\n"
        "mmap +0x40000 8K r-- private,anonymous,fixed_noreplace\n"
        "touch +0x40000 r\n"
        "mmap +0x10000 16K rw- private,anonymous,fixed\n" /* the one */
        "madvise +0x40000 4K dontneed\n"
        "mmap 0 4K rw- shared file=f1\n"
        "touch +0x11000 w\n"
        "munmap +0x40000 4K\n"
        "state\n"
        "mlock +0x41000 4K onfault\n"
        "mprotect +0x11000 8K r-- \n" /* three VMAs besides the others */
        "touch +0x12000 r\n"
        "mremap +0x41000 4K 8K maymove\n";

static void test_planted(void)
{
	target *tgs[2] = {target_model_new(), plant_new()};
	trace *t = trace_parse("planted", planted_text, strlen(planted_text), NULL);
	g_assert_nonnull(t);
	divergence d;
	g_assert_true(divergence_find(t, tgs, 2, TRUE, &d));
	g_assert_cmpint(d.cls, ==, DIV_RESULT);
	g_assert_cmpint(d.kind, ==, TR_MPROTECT);
	char *sig = divergence_signature(&d);
	g_assert_cmpstr(sig, ==, "model-planted-mprotect-result-difference");
	g_free(sig);
	divergence_clear(&d);

	shrink_stats st;
	trace *m = shrink_trace(t, tgs, 2, NULL, &st);
	g_assert_nonnull(m);
	char *text = trace_to_string(m);
	g_test_message("%u -> %u statements in %u runs:\n%s", st.stmts_before, st.stmts_after, st.runs, text);
	/* the mmap, simplified as far as it goes, and a one-page mprotect in it */
	g_assert_cmpstr(text, ==,
	                "mmtrace 1\n"
	                "mmap +0x0 12K --- private,anonymous\n"
	                "mprotect +0x1000 4K r--\n");
	g_assert_cmpint(st.found.cls, ==, DIV_RESULT);
	g_assert_cmpint(st.found.kind, ==, TR_MPROTECT);
	GError *err = NULL;
	trace *p = trace_parse("shrunk", text, strlen(text), &err);
	g_assert_no_error(err);
	trace_free(p);
	divergence_clear(&st.found);
	g_free(text);
	trace_free(m);
	trace_free(t);
	target_free(tgs[0]);
	target_free(tgs[1]);
}

static void test_no_divergence(void)
{
	target *tgs[2] = {target_model_new(), target_naive_new()};
	static const char text[] = "mmtrace 1\nmmap +0 16K rw- private,anonymous,fixed_noreplace\ntouch +0 w\n";
	trace *t = trace_parse("same", text, strlen(text), NULL);
	g_assert_nonnull(t);
	shrink_stats st;
	g_assert_null(shrink_trace(t, tgs, 2, NULL, &st));
	g_assert_cmpint(st.found.cls, ==, DIV_NONE);
	trace_free(t);
	target_free(tgs[0]);
	target_free(tgs[1]);
}

/* A decoded fuzz input that hits the plant shrinks the same way. */
static void test_decoded(void)
{
	target *tgs[2] = {target_model_new(), plant_new()};
	GRand *r = g_rand_new_with_seed(7);
	gboolean done = FALSE;
	for (int i = 0; i < 2000 && !done; i++) {
		guint8 buf[DECODE_HEADER_SIZE + 48 * DECODE_RECORD_SIZE];
		for (gsize k = 0; k < sizeof(buf); k++)
			buf[k] = (guint8)g_rand_int(r);
		/* mostly mmaps (r0 0..7) and mprotects (r0 11..14): the plant's ground */
		for (gsize k = DECODE_HEADER_SIZE; k < sizeof(buf); k += DECODE_RECORD_SIZE)
			buf[k] = (guint8)(g_rand_boolean(r) ? g_rand_int_range(r, 0, 8) : g_rand_int_range(r, 11, 15));
		trace *t = decode_trace(buf, sizeof(buf));
		trace *m = shrink_trace(t, tgs, 2, NULL, NULL);
		if (m) {
			g_assert_cmpuint(m->stmts->len, <=, MAX_SHRUNK);
			done = TRUE;
			trace_free(m);
		}
		trace_free(t);
	}
	g_assert_true(done);
	g_rand_free(r);
	target_free(tgs[0]);
	target_free(tgs[1]);
}

/* mmref shrink --ignore pf: a target that shows no page-fault error code
 * ("blind") differs at the first faulting touch; with the error code left
 * out, the shrinker goes past it to the plant and reduces to that. */
static void test_ignore(void)
{
	target *tgs[2] = {target_model_new(), plant_named("blind")};
	static const char text[] = "mmtrace 1\n"
	                           "mmap +0x40000 8K --- private,anonymous,fixed\n"
	                           "touch +0x40000 r\n" /* SEGV_ACCERR pf=0x4; blind: pf=0x0 */
	                           "mmap +0x10000 16K rw- private,anonymous,fixed\n"
	                           "touch +0x41000 w\n"
	                           "mprotect +0x11000 8K r--\n";
	trace *t = trace_parse("blind", text, strlen(text), NULL);
	g_assert_nonnull(t);
	divergence d;
	g_assert_true(divergence_find(t, tgs, 2, TRUE, &d));
	g_assert_cmpint(d.cls, ==, DIV_RESULT);
	g_assert_cmpint(d.kind, ==, TR_TOUCH);
	g_assert_cmpuint(d.index, ==, 1);
	divergence_clear(&d);
	diff_ignore ig = {.pf = TRUE};
	g_assert_true(divergence_find_ignoring(t, tgs, 2, TRUE, &ig, &d));
	g_assert_cmpint(d.cls, ==, DIV_RESULT);
	g_assert_cmpint(d.kind, ==, TR_MPROTECT);
	divergence_clear(&d);

	shrink_options opt = {.check = TRUE, .ignore = &ig};
	shrink_stats st;
	trace *m = shrink_trace(t, tgs, 2, &opt, &st);
	g_assert_nonnull(m);
	char *out = trace_to_string(m);
	g_assert_cmpstr(out, ==,
	                "mmtrace 1\n"
	                "mmap +0x0 12K --- private,anonymous\n"
	                "mprotect +0x1000 4K r--\n");
	g_assert_cmpint(st.found.kind, ==, TR_MPROTECT);
	divergence_clear(&st.found);
	g_free(out);
	trace_free(m);
	/* without --ignore the same trace shrinks to the touch */
	m = shrink_trace(t, tgs, 2, NULL, &st);
	g_assert_nonnull(m);
	g_assert_cmpint(st.found.kind, ==, TR_TOUCH);
	divergence_clear(&st.found);
	trace_free(m);
	trace_free(t);
	target_free(tgs[0]);
	target_free(tgs[1]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shrink/planted", test_planted);
	g_test_add_func("/shrink/no-divergence", test_no_divergence);
	g_test_add_func("/shrink/decoded", test_decoded);
	g_test_add_func("/shrink/ignore", test_ignore);
	return g_test_run();
}

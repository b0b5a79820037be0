/* The seeded model-vs-naive differential: 2,000 generated traces (seeds
 * 1..2000, 40 statements each), run side by side on the model and the naive
 * oracle with mm_check after every statement. Any divergence fails with the
 * report and the command that reproduces it. */
#include <glib.h>

#include "diff.h"
#include "gen.h"
#include "target.h"

#define TRACES 2000
#define LENGTH 40

static void test_model_vs_naive(void)
{
	GError *error = NULL;
	target *targets[2] = {target_new("model", &error), target_new("naive", &error)};
	g_assert_no_error(error);
	diff_options opt = {.check = TRUE};
	guint64 statements = 0;
	for (guint64 seed = 1; seed <= TRACES; seed++) {
		char *name = g_strdup_printf("gen-%" G_GUINT64_FORMAT ".trace", seed);
		trace *t = gen_trace(seed, LENGTH, name);
		g_assert_nonnull(t);
		char *report = NULL;
		guint64 run = 0;
		if (diff_run(t, targets, 2, &opt, &report, &run) != DIFF_SAME)
			g_error("model and naive diverge (mmref gen --seed %" G_GUINT64_FORMAT " --count 1 --length %d):\n%s",
			        seed, LENGTH, report);
		statements += run;
		trace_free(t);
		g_free(name);
	}
	g_test_message("%d traces, %" G_GUINT64_FORMAT " statements agree", TRACES, statements);
	g_assert_cmpuint(statements, >=, (guint64)TRACES * LENGTH / 2);
	target_free(targets[0]);
	target_free(targets[1]);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/differential/model-vs-naive", test_model_vs_naive);
	return g_test_run();
}

/* mmref decode and mmref shrink: the fuzzing commands.
 *
 *   mmref decode [--out DIR] FILE...
 *   mmref shrink [--targets T,T] [--decode] [--annotate T] [--out FILE] TRACE
 *
 * Declared in cli/cli.h; cli/mmref.c's command table dispatches to them;
 * each gets argv with argv[0] the command name, as the other
 * commands do. docs/fuzzing.md describes both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "decode.h"
#include "diff.h"
#include "shrink.h"
#include "target.h"
#include "cli_limits.h"
#include "trace.h"


static gboolean parse_opts(GOptionContext *ctx, int *argc, char ***argv, const char *cmd)
{
	GError *err = NULL;
	cli_add_limit_options(ctx);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		fprintf(stderr, "mmref %s: %s (see --help)\n", cmd, err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

/* ---- decode ------------------------------------------------------------------------ */

int cmd_decode(int argc, char **argv)
{
	char *out_dir = NULL;
	char **files = NULL;
	GOptionEntry entries[] = {
		{"out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Write DIR/NAME.trace for each input instead of stdout",
		 "DIR"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "FILE..."},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("- print fuzzer inputs as traces");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(
	        ctx, "Any byte string is a fuzzer input of the diff_model_* targets; this prints the trace it\n"
	             "decodes to (harness/decode.c, docs/fuzzing.md). With several inputs and no --out, each\n"
	             "trace is preceded by a '# FILE' comment.\n"
	             "Exit status: 0 done, 2 an input could not be read or bad usage.");
	int rc = MMREF_EXIT_INVALID;
	if (!parse_opts(ctx, &argc, &argv, "decode"))
		goto out;
	if (!files || !files[0]) {
		fprintf(stderr, "mmref decode: no input given (see --help)\n");
		goto out;
	}
	if (out_dir && g_mkdir_with_parents(out_dir, 0777) != 0) {
		fprintf(stderr, "mmref decode: cannot create %s\n", out_dir);
		goto out;
	}
	rc = MMREF_EXIT_OK;
	guint n = g_strv_length(files);
	for (char **f = files; *f; f++) {
		gchar *buf;
		gsize len;
		GError *err = NULL;
		if (!g_file_get_contents(*f, &buf, &len, &err)) {
			fprintf(stderr, "%s:0: error: %s\n", *f, err->message);
			g_error_free(err);
			rc = MMREF_EXIT_INVALID;
			continue;
		}
		trace *t = decode_trace((const guint8 *)buf, len);
		char *text = trace_to_string(t);
		if (out_dir) {
			char *base = g_path_get_basename(*f);
			char *name = g_strdup_printf("%s.trace", base);
			char *path = g_build_filename(out_dir, name, NULL);
			if (!g_file_set_contents(path, text, -1, &err)) {
				fprintf(stderr, "mmref decode: %s\n", err->message);
				g_clear_error(&err);
				rc = MMREF_EXIT_INVALID;
			}
			g_free(path);
			g_free(name);
			g_free(base);
		} else {
			if (n > 1) {
				char *safe = cli_comment_text(*f);
				printf("# %s\n", safe);
				g_free(safe);
			}
			fputs(text, stdout);
		}
		g_free(text);
		trace_free(t);
		g_free(buf);
	}
	fflush(stdout);
out:
	g_strfreev(files);
	g_free(out_dir);
	g_option_context_free(ctx);
	return rc;
}

/* ---- shrink ---------------------------------------------------------------------- */

/* The trace with every result and observation filled in from tg, or NULL. */
static char *annotate_with(const trace *t, const char *target_name)
{
	GError *err = NULL;
	target *tg = target_new(target_name, &err);
	if (!tg) {
		fprintf(stderr, "mmref shrink: %s\n", err->message);
		g_error_free(err);
		return NULL;
	}
	replay_options opt = {.annotate = TRUE};
	GString *failures = g_string_new(NULL), *annotated = g_string_new(NULL);
	replay_run(t, tg, &opt, failures, annotated, NULL);
	target_free(tg);
	if (failures->len)
		fputs(failures->str, stderr);
	g_string_free(failures, TRUE);
	return g_string_free(annotated, FALSE);
}

int cmd_shrink(int argc, char **argv)
{
	char *targets_opt = NULL, *out = NULL, *annotate = NULL, *ignore_opt = NULL;
	diff_ignore ignore = {0};
	char *ignored = NULL; /* what --ignore leaves out, in words */
	gboolean decode = FALSE, quiet = FALSE, verbose = FALSE, no_check = FALSE;
	gint max_runs = 0;
	char **files = NULL;
	GOptionEntry entries[] = {
		{"targets", 't', 0, G_OPTION_ARG_STRING, &targets_opt, "Targets to diff (default model,naive)", "T,T"},
		{"decode", 'd', 0, G_OPTION_ARG_NONE, &decode, "The input is a fuzzer input: decode it first", NULL},
		{"out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the minimal trace to FILE instead of stdout", "FILE"},
		{"annotate", 'a', 0, G_OPTION_ARG_STRING, &annotate,
		 "Record target T's results and observations in the minimal trace (e.g. kernel)", "T"},
		{"no-check", 0, 0, G_OPTION_ARG_NONE, &no_check, "Do not run mm_check after every statement", NULL},
		{"ignore", 0, 0, G_OPTION_ARG_STRING, &ignore_opt,
		 "Leave facets out of the comparison, as mmref diff --ignore does: pages, pf, vmflags=MN+MN", "LIST"},
		{"max-runs", 0, 0, G_OPTION_ARG_INT, &max_runs, "Give up after N runs of the trace (default 20000)", "N"},
		{"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Report progress", NULL},
		{"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no summary", NULL},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "TRACE"},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("- reduce a diverging trace to a minimal one");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(
	        ctx, "Runs TRACE on the targets side by side and reduces it, by delta debugging over its\n"
	             "statements and then by simplifying their arguments, to a minimal trace that shows the\n"
	             "same divergence: a divergence of the same class (results, state, observation, mm_check,\n"
	             "target failure) at a statement of the same kind. Prints the minimal trace, with a\n"
	             "comment naming the divergence, on stdout (or --out FILE); its diff report on stderr.\n"
	             "A crash of a fuzz target becomes a regression trace with:\n"
	             "  mmref shrink --decode --annotate kernel --out corpus/traces/NAME.trace CRASH\n"
	             "Exit status: 0 shrunk (it diverges), 1 it does not diverge at all, 2 invalid trace\n"
	             "or usage.");
	int rc = MMREF_EXIT_INVALID;
	trace *t = NULL, *m = NULL;
	GPtrArray *tgs = g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
	char **names = NULL;
	if (!parse_opts(ctx, &argc, &argv, "shrink"))
		goto out;
	if (!files || !files[0] || files[1]) {
		fprintf(stderr, "mmref shrink: give exactly one trace (see --help)\n");
		goto out;
	}
	gchar *buf;
	gsize len;
	GError *err = NULL;
	if (ignore_opt && !diff_ignore_parse(ignore_opt, &ignore, &err)) {
		fprintf(stderr, "mmref shrink: %s\n", err->message);
		g_error_free(err);
		goto out;
	}
	ignored = diff_ignore_describe(ignore_opt ? &ignore : NULL);
	if (ignored) /* nothing is skipped silently: said at the start and in the summary */
		fprintf(stderr, "mmref shrink: not compared (--ignore): %s\n", ignored);
	if (!g_file_get_contents(files[0], &buf, &len, &err)) {
		fprintf(stderr, "%s:0: error: %s\n", files[0], err->message);
		g_error_free(err);
		goto out;
	}
	if (decode) {
		t = decode_trace((const guint8 *)buf, len);
		g_free(t->filename);
		t->filename = g_strdup(files[0]);
	} else {
		t = trace_parse(files[0], buf, len, &err);
	}
	g_free(buf);
	if (!t) {
		fprintf(stderr, "%s\n", err->message);
		g_error_free(err);
		goto out;
	}
	names = g_strsplit(targets_opt ? targets_opt : "model,naive", ",", -1);
	for (char **nm = names; *nm; nm++) {
		target *tg = target_new(*nm, &err);
		if (!tg) {
			fprintf(stderr, "mmref shrink: %s\n", err->message);
			g_error_free(err);
			goto out;
		}
		g_ptr_array_add(tgs, tg);
	}
	if (tgs->len < 2) {
		fprintf(stderr, "mmref shrink: needs at least two targets (see --help)\n");
		goto out;
	}
	/* The model follows a live target's profile, as in diff. */
	if (!targets_setup_profiles((target *const *)tgs->pdata, tgs->len, NULL, &err)) {
		fprintf(stderr, "mmref shrink: %s\n", err->message);
		g_error_free(err);
		goto out;
	}

	shrink_options opt = {.check = !no_check,
	                      .max_runs = max_runs > 0 ? (guint)max_runs : 0,
	                      .verbose = verbose,
	                      .ignore = ignore_opt ? &ignore : NULL};
	shrink_stats st;
	gint64 t0 = g_get_monotonic_time();
	target *const *tv = (target *const *)tgs->pdata;
	m = shrink_trace(t, tv, tgs->len, &opt, &st);
	if (!m) {
		if (!quiet)
			fprintf(stderr, "mmref shrink: %s does not diverge on %s\n", files[0],
			        targets_opt ? targets_opt : "model,naive");
		rc = MMREF_EXIT_NO_DIVERGENCE;
		goto out;
	}
	char *sig = divergence_signature(&st.found);
	char *body = annotate ? annotate_with(m, annotate) : trace_to_string(m);
	if (!body) {
		g_free(sig);
		divergence_clear(&st.found);
		goto out;
	}
	GString *text = g_string_new(NULL);
	/* the comment goes after "mmtrace 1": the first statement must be that */
	const char *nl = strchr(body, '\n');
	gsize head = nl ? (gsize)(nl - body) + 1 : strlen(body);
	g_string_append_len(text, body, (gssize)head);
	char *safe_sig = cli_comment_text(sig), *safe_name = cli_comment_text(files[0]);
	char *safe_ign = ignore_opt ? cli_comment_text(ignore_opt) : NULL;
	g_string_append_printf(text, "# %s: shrunk by mmref shrink%s%s from %s (%u statements)\n", safe_sig,
	                       safe_ign ? " --ignore " : "", safe_ign ? safe_ign : "", safe_name, st.stmts_before);
	g_free(safe_ign);
	g_free(safe_sig);
	g_free(safe_name);
	g_string_append(text, body + head);
	if (out) {
		if (!g_file_set_contents(out, text->str, (gssize)text->len, &err)) {
			fprintf(stderr, "mmref shrink: %s\n", err->message);
			g_error_free(err);
		} else {
			rc = MMREF_EXIT_OK;
		}
	} else {
		fputs(text->str, stdout);
		fflush(stdout);
		rc = MMREF_EXIT_OK;
	}
	if (!quiet) {
		fputs(st.found.report ? st.found.report : "", stderr);
		fprintf(stderr, "mmref shrink: %s: %u -> %u statements in %u runs, %.1f s\n", sig, st.stmts_before,
		        st.stmts_after, st.runs, (double)(g_get_monotonic_time() - t0) / 1e6);
		if (ignored)
			fprintf(stderr, "mmref shrink: not compared (--ignore): %s\n", ignored);
	}
	g_string_free(text, TRUE);
	g_free(body);
	g_free(sig);
	divergence_clear(&st.found);
out:
	trace_free(m);
	trace_free(t);
	g_ptr_array_unref(tgs);
	g_strfreev(names);
	g_strfreev(files);
	g_free(targets_opt);
	g_free(out);
	g_free(annotate);
	g_free(ignore_opt);
	g_free(ignored);
	g_option_context_free(ctx);
	return rc;
}

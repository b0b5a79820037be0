/* mmref: replay, diff and generate mmtrace traces.
 *
 *   mmref replay [--target T] [--annotate] [--check] TRACE...
 *   mmref diff [--targets T,T,...] [--check] [--quiet] [--report FILE.html] TRACE...
 *   mmref diff --gen N [--seed S] [--length L] [--targets ...] [--out DIR]
 *   mmref gen [--seed N] [--count N] [--length N] [--out DIR] [--coverage N]
 *   mmref serve [--target T]      (the exec protocol on stdin/stdout)
 *
 * Exit status: 0 all held / no divergence, 1 a result differed / a
 * divergence, 2 an invalid trace or bad usage (nothing is run then). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_limits.h"
#include "diff.h"
#include "gen.h"
#include "report.h"
#include "serve.h"
#include "target.h"
#include "trace.h"

#ifndef MMREF_VERSION
#define MMREF_VERSION "0.1.0"
#endif

#ifdef MMREF_CHECK_DEFAULT
#define CHECK_DEFAULT TRUE
#else
#define CHECK_DEFAULT FALSE
#endif


static const char usage_text[] =
        "Usage: mmref COMMAND [OPTION...] ARGS\n"
        "\n"
        "Commands:\n"
        "  replay [--target T] [--annotate] [--check] TRACE...\n"
        "        run each trace on one target and check its expectations\n"
        "  diff [--targets T,T,...] [--check] [--quiet] [--report FILE.html] TRACE...\n"
        "        run each trace on several targets side by side (default model,naive)\n"
        "  diff --gen N [--values] [--fork] [--uffd] [--seed S] [--length L] [--targets T,T,...] [--out DIR]\n"
        "        the same on N generated traces\n"
        "  gen [--seed N] [--count N] [--length N] [--values] [--fork] [--uffd] [--out DIR] [--coverage N]\n"
        "        write random traces\n"
        "  serve [--target T]\n"
        "        answer statements on stdin (the exec protocol), e.g. exec:'mmref serve'\n"
        "  decode [--out DIR] FILE...\n"
        "        print fuzzer inputs as traces\n"
        "  shrink [--targets T,T,...] [--ignore LIST] [--decode] [--out FILE] TRACE\n"
        "        reduce a diverging trace to a minimal one with the same divergence\n"
        "  profile [--target T]\n"
        "        the profile of a target (default the running kernel: detected, not assumed)\n"
        "  profile-deps [--recorded KEY=VALUE,...] [--write] TRACE...\n"
        "        the profile keys each recorded trace depends on (found on the model)\n"
        "  walkcheck [--seed N] [--cases N] | walkcheck --trace TRACE\n"
        "        random page walks on the model walker, the naive walker and the MMU (KVM);\n"
        "        or a trace's page tables, built by the model, walked on the MMU\n"
        "\n"
        "Targets: model, naive, kernel, exec:COMMAND.\n"
        "Profiles: the model and the naive oracle run under the documented default profile, or the\n"
        "live target's (kernel, exec:...) when one takes part, or --profile KEY=VALUE,...; a trace's\n"
        "own 'profile' line overrides them (docs/profiles.md).\n"
        "Exit status: 0 all held, 1 a result differed, 2 invalid trace or usage,\n"
        "3 not applicable (a trace's profile does not match a live target's).\n"
        "'mmref COMMAND --help' describes each command's options.\n";

/* ---- Common ------------------------------------------------------------------- */

typedef struct loaded {
	trace *t;
	char *text;
	gsize len;
} loaded;

/* Loads and parses every trace; reports every invalid one. FALSE if any. */
static gboolean load_all(char **paths, GArray *out)
{
	gboolean ok = TRUE;
	for (char **p = paths; p && *p; p++) {
		loaded l = {0};
		GError *err = NULL;
		if (!g_file_get_contents(*p, &l.text, &l.len, &err)) {
			fprintf(stderr, "%s:0: error: %s\n", *p, err->message);
			g_error_free(err);
			ok = FALSE;
			continue;
		}
		l.t = trace_parse(*p, l.text, l.len, &err);
		if (!l.t) {
			fprintf(stderr, "%s\n", err->message);
			g_error_free(err);
			g_free(l.text);
			ok = FALSE;
			continue;
		}
		g_array_append_val(out, l);
	}
	return ok;
}

static void free_loaded(GArray *a)
{
	for (guint i = 0; i < a->len; i++) {
		loaded *l = &g_array_index(a, loaded, i);
		trace_free(l->t);
		g_free(l->text);
	}
	g_array_unref(a);
}

static target *make_target(const char *name, double timeout)
{
	GError *err = NULL;
	target *tg = target_new(name, &err);
	if (!tg) {
		fprintf(stderr, "mmref: %s\n", err->message);
		g_error_free(err);
		return NULL;
	}
	if (!cli_check_timeout(g_get_prgname(), timeout)) {
		target_free(tg);
		return NULL;
	}
	if (timeout > 0)
		target_exec_set_timeout(tg, (int)(timeout * 1000));
	return tg;
}

/* --profile KEY=VALUE,...: FALSE (and a message) when it does not parse. */
static gboolean parse_profile_option(const char *cmd, const char *text, tr_profile *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return TRUE;
	GError *err = NULL;
	if (!tr_profile_parse(out, text, &err)) {
		fprintf(stderr, "mmref %s: --profile: %s\n", cmd, err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

/* Makes the model and the naive oracle follow the live targets' profile
 * (and --profile); says so unless quiet. FALSE (and a message) when the
 * live targets disagree or cannot start. */
static gboolean setup_profiles(const char *cmd, target *const *tv, guint n, const tr_profile *cli, gboolean quiet)
{
	GError *err = NULL;
	if (!targets_setup_profiles(tv, n, cli, &err)) {
		fprintf(stderr, "mmref %s: %s\n", cmd, err->message);
		g_error_free(err);
		return FALSE;
	}
	/* Name the targets that follow (model, naive, exec:… built on them):
	 * with none among the targets, nothing follows and nothing is said. */
	GString *followers = g_string_new(NULL);
	for (guint i = 0; i < n; i++)
		if (tv[i]->adapts_profile)
			g_string_append_printf(followers, "%s%s", followers->len ? ", " : "", tv[i]->name);
	for (guint i = 0; i < n && !quiet && followers->len; i++) {
		if (tv[i]->adapts_profile || tr_profile_empty(&tv[i]->announced))
			continue;
		GString *g = g_string_new(NULL);
		tr_profile_format(g, &tv[i]->announced);
		fprintf(stderr, "mmref %s: %s announced profile %s; %s follow%s it\n", cmd, tv[i]->name, g->str,
		        followers->str, strchr(followers->str, ',') ? "" : "s");
		g_string_free(g, TRUE);
		break;
	}
	g_string_free(followers, TRUE);
	/* Live targets only (kernels against each other, docs/versions.md):
	 * each runs under its own profile, so name the keys on which they
	 * differ; differences those keys explain are the configurations', not
	 * a finding (--ignore hides the observations they touch). */
	for (guint i = 0; i < n && !quiet; i++)
		for (guint j = i + 1; j < n; j++) {
			const tr_profile *a = &tv[i]->announced, *b = &tv[j]->announced;
			if (tv[i]->adapts_profile || tv[j]->adapts_profile)
				continue;
			GString *keys = g_string_new(NULL);
			for (int k = 0; k < TR_PK_COUNT; k++) {
				if (!tr_profile_has(a, (tr_profile_key)k) || !tr_profile_has(b, (tr_profile_key)k) ||
				    a->value[k] == b->value[k])
					continue;
				char *x = tr_profile_item(a, (tr_profile_key)k), *y = tr_profile_item(b, (tr_profile_key)k);
				g_string_append_printf(keys, "%s%s against %s", keys->len ? ", " : "", x, y);
				g_free(x);
				g_free(y);
			}
			if (keys->len)
				fprintf(stderr,
				        "mmref %s: note: %s and %s run under different profiles (%s); what those keys "
				        "decide differs between them by configuration\n",
				        cmd, tv[i]->name, tv[j]->name, keys->str);
			g_string_free(keys, TRUE);
		}
	return TRUE;
}

static gboolean parse_options(GOptionContext *ctx, int *argc, char ***argv)
{
	GError *err = NULL;
	cli_add_limit_options(ctx);
	if (!g_option_context_parse(ctx, argc, argv, &err)) {
		fprintf(stderr, "mmref: %s (see --help)\n", err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

/* ---- --ignore (targets that cannot see everything, harness/diff.h) ------------------ */

static gboolean parse_ignore_option(const char *cmd, const char *spec, diff_ignore *ig)
{
	GError *err = NULL;
	memset(ig, 0, sizeof(*ig));
	if (!spec)
		return TRUE;
	if (!diff_ignore_parse(spec, ig, &err)) {
		fprintf(stderr, "mmref %s: %s\n", cmd, err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

/* Nothing is skipped silently: every run with --ignore says what it left out. */
static void print_ignored(const char *cmd, const diff_ignore *ig)
{
	char *d = diff_ignore_describe(ig);
	if (d)
		fprintf(stderr, "mmref %s: not compared (--ignore): %s\n", cmd, d);
	g_free(d);
}

#define IGNORE_ENTRY(var)                                                                                     \
	{"ignore", 0, 0, G_OPTION_ARG_STRING, &(var),                                                              \
	 "Leave facets out of the comparison, for targets that cannot show them: pages (page states), pf (the "  \
	 "page-fault error code), vmflags=MN+MN (VmFlags mnemonics); comma-separated, printed in the summary",  \
	 "pages,pf,vmflags=nr+nh"}

/* ---- replay --------------------------------------------------------------------- */

static int cmd_replay(int argc, char **argv)
{
	char *target_name = NULL, *profile_opt = NULL, *ignore_opt = NULL;
	diff_ignore ignore;
	gboolean annotate = FALSE, check = CHECK_DEFAULT, quiet = FALSE;
	double timeout = 0;
	char **files = NULL;
	tr_profile cli_profile;
	GOptionEntry entries[] = {
		{"target", 't', 0, G_OPTION_ARG_STRING, &target_name, "Target to run on (default model)", "T"},
		{"profile", 'p', 0, G_OPTION_ARG_STRING, &profile_opt,
		 "Kernel profile for traces without those keys (e.g. zero_page=off,thp=always)", "KEY=VALUE,..."},
		{"annotate", 'a', 0, G_OPTION_ARG_NONE, &annotate, "Print the trace back with every result filled in",
		 NULL},
		{"check", 0, 0, G_OPTION_ARG_NONE, &check, "Run mm_check after every statement (model)", NULL},
		{"no-check", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &check, "Do not run mm_check", NULL},
		{"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print no summary", NULL},
		IGNORE_ENTRY(ignore_opt),
		{"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds to wait for an exec target (default 10)", "S"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "TRACE..."},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("TRACE... - run traces on one target and check their expectations");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Exit status: 0 all held, 1 a result differed, 2 invalid trace or usage, "
	                                      "3 not applicable on this target (its profile differs; nothing else failed).");
	int rc = MMREF_EXIT_INVALID;
	GArray *traces = g_array_new(FALSE, TRUE, sizeof(loaded));
	target *tg = NULL;
	if (!parse_options(ctx, &argc, &argv) || !parse_profile_option("replay", profile_opt, &cli_profile) ||
	    !parse_ignore_option("replay", ignore_opt, &ignore))
		goto out;
	if (!files || !files[0]) {
		fprintf(stderr, "mmref replay: no trace given (see --help)\n");
		goto out;
	}
	if (!load_all(files, traces))
		goto out;
	tg = make_target(target_name ? target_name : "model", timeout);
	if (!tg || !setup_profiles("replay", &tg, 1, &cli_profile, TRUE))
		goto out;
	rc = MMREF_EXIT_OK;
	guint failed = 0, skipped = 0;
	for (guint i = 0; i < traces->len; i++) {
		loaded *l = &g_array_index(traces, loaded, i);
		replay_options opt = {.check = check,
		                      .annotate = annotate,
		                      .source = l->text,
		                      .source_len = l->len,
		                      .profile = &cli_profile,
		                      .ignore = ignore_opt ? &ignore : NULL};
		GString *failures = g_string_new(NULL);
		GString *annotated = g_string_new(NULL);
		switch (replay_run(l->t, tg, &opt, failures, annotated, NULL)) {
		case DIFF_SAME:
			break;
		case DIFF_NOT_APPLICABLE:
			skipped++;
			if (rc == MMREF_EXIT_OK)
				rc = MMREF_EXIT_NOT_APPLICABLE;
			break;
		default:
			rc = MMREF_EXIT_DIFFERED;
			failed++;
			break;
		}
		if (annotate)
			fputs(annotated->str, stdout);
		fputs(failures->str, stderr);
		g_string_free(failures, TRUE);
		g_string_free(annotated, TRUE);
	}
	fflush(stdout);
	if (!quiet && traces->len > 1)
		fprintf(stderr, "mmref replay: %u trace%s on %s, %u failed, %u not applicable\n", traces->len,
		        traces->len == 1 ? "" : "s", tg->name, failed, skipped);
	print_ignored("replay", &ignore);
out:
	target_free(tg);
	free_loaded(traces);
	g_strfreev(files);
	g_free(target_name);
	g_free(profile_opt);
	g_free(ignore_opt);
	g_option_context_free(ctx);
	return rc;
}

/* ---- diff ------------------------------------------------------------------------- */

typedef struct progress {
	gint64 start, last;
	guint64 stmts;
	guint done, total, shown;
	gboolean tty;
} progress;

static void progress_show(progress *p, gboolean final)
{
	gint64 now = g_get_monotonic_time();
	if (!final && now - p->last < (p->tty ? 200000 : 10000000))
		return;
	if (final && !p->tty && p->shown == p->done && p->last)
		return; /* that line is already out */
	p->last = now;
	p->shown = p->done;
	double secs = (double)(now - p->start) / 1e6;
	double rate = secs > 0 ? (double)p->stmts / secs : 0;
	double eta = p->done ? secs * (double)(p->total - p->done) / (double)p->done : 0;
	fprintf(stderr, "%straces %u/%u  statements %" G_GUINT64_FORMAT "  %.0f stmt/s  ETA %dm%02ds%s",
	        p->tty ? "\r" : "", p->done, p->total, p->stmts, rate, (int)eta / 60, (int)eta % 60,
	        p->tty && !final ? "   " : "\n");
}

/* --report: the first divergence as one HTML page (harness/report.h), drawn
 * from the divergence the diff engine filled (nothing is run again). FALSE
 * (and a message) if the page could not be written. */
static gboolean write_report(const char *path, const trace *t, const divergence *d)
{
	GError *err = NULL;
	fflush(stdout); /* the text finding first, whatever drawing it costs */
	if (!report_write_divergence(path, d, t, &err)) {
		fprintf(stderr, "mmref diff: --report %s: %s\n", path, err->message);
		g_error_free(err);
		return FALSE;
	}
	fprintf(stderr, "mmref diff: the divergence of %s is drawn in %s\n", t->filename, path);
	return TRUE;
}

static int cmd_diff(int argc, char **argv)
{
	char *targets_opt = NULL, *out_dir = NULL, *report_path = NULL, *profile_opt = NULL, *ignore_opt = NULL;
	diff_ignore ignore;
	tr_profile cli_profile;
	gboolean report_written = FALSE;
	gboolean check = CHECK_DEFAULT, quiet = FALSE;
	gint full_every = 0;
	gint gen_count = 0, length = 100;
	gboolean gen_values = FALSE, gen_fork = FALSE, gen_uffd = FALSE;
	gint64 seed = -1;
	double timeout = 0;
	char **files = NULL;
	GOptionEntry entries[] = {
		{"targets", 't', 0, G_OPTION_ARG_STRING, &targets_opt, "Targets, comma-separated (default model,naive)",
		 "T,T,..."},
		{"profile", 'p', 0, G_OPTION_ARG_STRING, &profile_opt,
		 "Kernel profile for traces without those keys (default: the live target's, else the documented one)",
		 "KEY=VALUE,..."},
		{"check", 0, 0, G_OPTION_ARG_NONE, &check, "Run mm_check after every statement (model)", NULL},
		{"no-check", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &check, "Do not run mm_check", NULL},
		{"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the summary, not the divergences", NULL},
		IGNORE_ENTRY(ignore_opt),
		{"full-every", 0, 0, G_OPTION_ARG_INT, &full_every,
		 "Compare the whole state (and run the whole mm_check) every N statements; 1: after every one; "
		 "default 32 (in between: the ranges each statement may have changed)",
		 "N"},
		{"gen", 0, 0, G_OPTION_ARG_INT, &gen_count, "Also run N generated traces", "N"},
		{"values", 0, 0, G_OPTION_ARG_NONE, &gen_values,
		 "Generated traces store and load values (write, read, files with contents)", NULL},
		{"fork", 0, 0, G_OPTION_ARG_NONE, &gen_fork, "Generated traces fork (fork, proc N, exit N; no THP)", NULL},
		{"uffd", 0, 0, G_OPTION_ARG_NONE, &gen_uffd,
		 "Generated traces use the process's userfaultfd (uffd register/unregister/copy/zeropage/continue/wake/wp)", NULL},
		{"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the first generated trace (default: random)", "S"},
		{"length", 0, 0, G_OPTION_ARG_INT, &length, "Statements per generated trace (default 100)", "L"},
		{"out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Save diverging generated traces in DIR", "DIR"},
		{"report", 'r', 0, G_OPTION_ARG_FILENAME, &report_path,
		 "Write the first divergence as a self-contained HTML page to FILE", "FILE.html"},
		{"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout, "Seconds to wait for an exec target (default 10)", "S"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "TRACE..."},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("TRACE... - run traces on several targets side by side");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Exit status: 0 no divergence, 1 a divergence, 2 invalid trace or usage, "
	                                      "3 no divergence but some trace was not applicable (its profile differs "
	                                      "from a live target's).");
	int rc = MMREF_EXIT_INVALID;
	GArray *traces = g_array_new(FALSE, TRUE, sizeof(loaded));
	GPtrArray *tgs = g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
	char **names = NULL;
	if (!parse_options(ctx, &argc, &argv) || !parse_profile_option("diff", profile_opt, &cli_profile) ||
	    !parse_ignore_option("diff", ignore_opt, &ignore))
		goto out;
	if ((!files || !files[0]) && gen_count <= 0) {
		fprintf(stderr, "mmref diff: no trace given and no --gen N (see --help)\n");
		goto out;
	}
	if (gen_count < 0 || length < 0) {
		fprintf(stderr, "mmref diff: --gen and --length must not be negative\n");
		goto out;
	}
	if (!cli_check_length("mmref diff", length))
		goto out;
	if (!load_all(files, traces))
		goto out;
	names = g_strsplit(targets_opt ? targets_opt : "model,naive", ",", -1);
	for (char **n = names; *n; n++) {
		target *tg = make_target(*n, timeout);
		if (!tg)
			goto out;
		g_ptr_array_add(tgs, tg);
	}
	if (tgs->len < 2) {
		fprintf(stderr, "mmref diff: needs at least two targets\n");
		goto out;
	}
	if (!setup_profiles("diff", (target *const *)tgs->pdata, tgs->len, &cli_profile, quiet))
		goto out;
	if (out_dir && g_mkdir_with_parents(out_dir, 0777) != 0) {
		fprintf(stderr, "mmref diff: cannot create %s\n", out_dir);
		goto out;
	}
	if (seed < 0)
		seed = (gint64)((guint64)g_get_real_time() ^ ((guint64)getpid() << 32)) & G_MAXINT64;

	rc = MMREF_EXIT_OK;
	/* Three reruns, 0, 2 and 4 s apart, for a live target's timing-
	 * dependent difference (harness/diff.h, nondet_reruns). */
	diff_options opt = {.nondet_reruns = 3, .nondet_backoff_ms = 2000, .check = check,
	                    .profile = &cli_profile,
	                    .full_every = full_every > 0 ? (guint)full_every : 0,
	                    .ignore = ignore_opt ? &ignore : NULL};
	print_ignored("diff", &ignore);
	target *const *tv = (target *const *)tgs->pdata;
	guint diverged = 0, skipped = 0, nondet = 0;
	guint64 stmts = 0;
	for (guint i = 0; i < traces->len; i++) {
		loaded *l = &g_array_index(traces, loaded, i);
		divergence d;
		diff_status st = diff_run_data(l->t, tv, tgs->len, &opt, &d, &stmts);
		char *report = d.report;
		if (st == DIFF_NOT_APPLICABLE) {
			/* Reported, never counted as agreeing. */
			skipped++;
			if (rc == MMREF_EXIT_OK)
				rc = MMREF_EXIT_NOT_APPLICABLE;
			if (!quiet)
				fputs(report, stderr);
		} else if (st == DIFF_NONDETERMINISTIC) {
			/* Not a divergence: counted and shown apart. */
			nondet++;
			if (!quiet)
				fputs(report, stdout);
		} else if (st != DIFF_SAME) {
			rc = MMREF_EXIT_DIFFERED;
			diverged++;
			if (!quiet)
				fputs(report, stdout);
			if (report_path && !report_written)
				report_written = write_report(report_path, l->t, &d);
		}
		divergence_clear(&d);
	}
	if (gen_count > 0) {
		/* Targets with CONFIG_MEMORY_FAILURE (a live one announcing
		 * memory_failure=on, or --profile): no hwpoison/soft_offline in the
		 * generated traces -- the model implements only their absence. */
		gboolean gen_memory_failure = tr_profile_has(&cli_profile, TR_PK_MEMORY_FAILURE) &&
		                              cli_profile.value[TR_PK_MEMORY_FAILURE];
		for (guint k = 0; k < tgs->len; k++)
			if (!tv[k]->adapts_profile && tr_profile_has(&tv[k]->announced, TR_PK_MEMORY_FAILURE) &&
			    tv[k]->announced.value[TR_PK_MEMORY_FAILURE])
				gen_memory_failure = TRUE;
		progress p = {.start = g_get_monotonic_time(), .total = (guint)gen_count, .tty = isatty(2)};
		guint gen_diverged = 0, gen_nondet = 0;
		for (guint i = 0; i < (guint)gen_count; i++) {
			guint64 s = (guint64)seed + i;
			char *name = g_strdup_printf("gen-%" G_GINT64_FORMAT "-%u.trace", seed, i);
			char *text = gen_trace_text_uffd(s, (guint)length, gen_values, gen_fork, gen_memory_failure, gen_uffd);
			GError *err = NULL;
			trace *t = trace_parse(name, text, strlen(text), &err);
			if (!t) {
				fprintf(stderr, "\nmmref diff: the generator made an invalid trace (seed %" G_GUINT64_FORMAT "): %s\n",
				        s, err->message);
				g_error_free(err);
				rc = MMREF_EXIT_INVALID;
				g_free(text);
				g_free(name);
				break;
			}
			divergence d;
			diff_status gst = diff_run_data(t, tv, tgs->len, &opt, &d, &p.stmts);
			char *report = d.report;
			if (gst == DIFF_NONDETERMINISTIC) {
				gen_nondet++;
				if (out_dir) { /* kept with its report, apart from the divergences */
					char *base = g_strdup_printf("%s.nondet", name);
					char *tp = g_build_filename(out_dir, base, NULL);
					char *rp = g_strdup_printf("%s.report", tp);
					(void)g_file_set_contents(tp, text, -1, NULL);
					(void)g_file_set_contents(rp, report, -1, NULL);
					g_free(rp);
					g_free(tp);
					g_free(base);
				}
				if (!quiet) {
					if (p.tty)
						fputc('\n', stderr);
					fputs(report, stdout);
					printf("  (trace: mmref gen --seed %" G_GUINT64_FORMAT " --count 1 --length %d)\n", s, length);
					fflush(stdout);
				}
			} else if (gst != DIFF_SAME) {
				rc = rc == MMREF_EXIT_INVALID ? rc : MMREF_EXIT_DIFFERED;
				gen_diverged++;
				if (report_path && !report_written)
					report_written = write_report(report_path, t, &d);
				char *saved = NULL;
				if (out_dir) {
					saved = g_build_filename(out_dir, name, NULL);
					if (!g_file_set_contents(saved, text, -1, NULL)) {
						g_free(saved);
						saved = NULL;
					} else { /* and what diverged, also under -q */
						char *rp = g_strdup_printf("%s.report", saved);
						(void)g_file_set_contents(rp, report, -1, NULL);
						g_free(rp);
					}
				}
				if (!quiet) {
					if (p.tty)
						fputc('\n', stderr);
					fputs(report, stdout);
					printf("  (trace: mmref gen --seed %" G_GUINT64_FORMAT " --count 1 --length %d%s%s)\n", s,
					       length, saved ? "; saved as " : "", saved ? saved : "");
					fflush(stdout);
				}
				g_free(saved);
			}
			divergence_clear(&d);
			trace_free(t);
			g_free(text);
			g_free(name);
			p.done = i + 1;
			progress_show(&p, FALSE);
		}
		progress_show(&p, TRUE);
		double secs = (double)(g_get_monotonic_time() - p.start) / 1e6;
		fprintf(stderr,
		        "mmref diff: %u generated trace%s (seed %" G_GINT64_FORMAT ", length %d), %" G_GUINT64_FORMAT
		        " statements in %.1f s, %u diverged, %u kernel nondeterministic\n",
		        p.done, p.done == 1 ? "" : "s", seed, length, p.stmts, secs, gen_diverged, gen_nondet);
		diverged += gen_diverged;
		nondet += gen_nondet;
	}
	if (!quiet && traces->len > 1)
		fprintf(stderr,
		        "mmref diff: %u trace%s, %" G_GUINT64_FORMAT
		        " statements, %u diverged, %u kernel nondeterministic, %u not applicable\n",
		        traces->len, traces->len == 1 ? "" : "s", stmts, diverged, nondet, skipped);
	else if (quiet && traces->len)
		fprintf(stderr, "mmref diff: %u diverged, %u kernel nondeterministic, %u not applicable\n", diverged, nondet,
		        skipped);
	print_ignored("diff", &ignore);
out:
	g_free(profile_opt);
	g_ptr_array_unref(tgs);
	g_strfreev(names);
	free_loaded(traces);
	g_strfreev(files);
	g_free(targets_opt);
	g_free(out_dir);
	g_free(report_path);
	g_free(ignore_opt);
	g_option_context_free(ctx);
	return rc;
}

/* ---- serve: the exec protocol over stdin/stdout ------------------------------------ */

static int cmd_serve(int argc, char **argv)
{
	char *target_name = NULL;
	char **rest = NULL;
	GOptionEntry entries[] = {
		{"target", 't', 0, G_OPTION_ARG_STRING, &target_name, "Target that answers (default model)", "T"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new(
	        "- answer statements on stdin with a target's results (the exec protocol of docs/trace-format.md)");
	g_option_context_add_main_entries(ctx, entries, NULL);
	int rc = MMREF_EXIT_INVALID;
	target *tg = NULL;
	if (!parse_options(ctx, &argc, &argv))
		goto out;
	if (rest && rest[0]) {
		fprintf(stderr, "mmref serve: unexpected argument '%s' (see --help)\n", rest[0]);
		goto out;
	}
	tg = make_target(target_name ? target_name : "model", 0);
	if (!tg)
		goto out;
	serve_run(tg, stdin, stdout);
	rc = MMREF_EXIT_OK;
out:
	target_free(tg);
	g_strfreev(rest);
	g_free(target_name);
	g_option_context_free(ctx);
	return rc;
}

/* ---- gen ---------------------------------------------------------------------------- */

static int cmd_gen(int argc, char **argv)
{
	gint64 seed = 1;
	gint count = 1, length = 100, coverage = 0;
	gboolean values = FALSE, fork = FALSE, uffd = FALSE;
	char *out_dir = NULL;
	char **rest = NULL;
	GOptionEntry entries[] = {
		{"coverage", 0, 0, G_OPTION_ARG_INT, &coverage,
		 "Run N generated traces (from --seed, of --length) on the model and print which statement kinds, flags, "
		 "advice, VMA kinds and interactions they reached (exit 1 when a row is zero)",
		 "N"},
		{"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the first trace (default 1); trace i uses SEED+i",
		 "N"},
		{"count", 'n', 0, G_OPTION_ARG_INT, &count, "Number of traces (default 1)", "N"},
		{"values", 0, 0, G_OPTION_ARG_NONE, &values,
		 "Traces that store and load values (write, read, files with contents)", NULL},
		{"fork", 0, 0, G_OPTION_ARG_NONE, &fork, "Traces that fork (fork, proc N, exit N; no THP)", NULL},
		{"uffd", 0, 0, G_OPTION_ARG_NONE, &uffd,
		 "Traces that use the process's userfaultfd (uffd register/unregister/copy/zeropage/continue/wake/wp)", NULL},
		{"length", 'l', 0, G_OPTION_ARG_INT, &length, "Statements per trace (default 100)", "N"},
		{"out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Write DIR/gen-SEED-i.trace instead of stdout", "DIR"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("- write random traces");
	g_option_context_add_main_entries(ctx, entries, NULL);
	int rc = MMREF_EXIT_INVALID;
	if (!parse_options(ctx, &argc, &argv))
		goto out;
	if (rest && rest[0]) {
		fprintf(stderr, "mmref gen: unexpected argument '%s' (see --help)\n", rest[0]);
		goto out;
	}
	if (count < 0 || length < 0 || seed < 0) {
		fprintf(stderr, "mmref gen: --seed, --count and --length must not be negative\n");
		goto out;
	}
	if (!cli_check_length("mmref gen", length))
		goto out;
	if (out_dir && g_mkdir_with_parents(out_dir, 0777) != 0) {
		fprintf(stderr, "mmref gen: cannot create %s\n", out_dir);
		goto out;
	}
	if (coverage < 0) {
		fprintf(stderr, "mmref gen: --coverage must not be negative\n");
		goto out;
	}
	if (coverage > 0) {
		guint zeros = 0;
		char *table = gen_coverage_uffd((guint64)seed, (guint)coverage, (guint)length, values, fork, uffd, &zeros);
		fputs(table, stdout);
		g_free(table);
		rc = zeros ? MMREF_EXIT_DIFFERED : MMREF_EXIT_OK;
		goto out;
	}
	rc = MMREF_EXIT_OK;
	for (gint i = 0; i < count; i++) {
		char *text = gen_trace_text_uffd((guint64)seed + (guint64)i, (guint)length, values, fork, FALSE, uffd);
		if (out_dir) {
			char *name = g_strdup_printf("gen-%" G_GINT64_FORMAT "-%d.trace", seed, i);
			char *path = g_build_filename(out_dir, name, NULL);
			GError *err = NULL;
			if (!g_file_set_contents(path, text, -1, &err)) {
				fprintf(stderr, "mmref gen: %s\n", err->message);
				g_error_free(err);
				rc = MMREF_EXIT_INVALID;
			}
			g_free(path);
			g_free(name);
		} else {
			fputs(text, stdout);
		}
		g_free(text);
		if (rc != MMREF_EXIT_OK)
			break;
	}
out:
	g_strfreev(rest);
	g_free(out_dir);
	g_option_context_free(ctx);
	return rc;
}


int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return MMREF_EXIT_INVALID;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("mmref %s (mmtrace 1)\n", MMREF_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {{"replay", cmd_replay}, {"diff", cmd_diff},     {"gen", cmd_gen},
	            {"serve", cmd_serve},   {"decode", cmd_decode}, {"shrink", cmd_shrink},
	            {"walkcheck", cmd_walkcheck}, {"profile-deps", cmd_profile_deps},
	            {"profile", cmd_profile}};
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
		if (strcmp(cmd, cmds[i].name) == 0) {
			char *prg = g_strdup_printf("mmref %s", cmd);
			g_set_prgname(prg);
			g_free(prg);
			return cmds[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "mmref: unknown command '%s'\n\n%s", cmd, usage_text);
	return MMREF_EXIT_INVALID;
}

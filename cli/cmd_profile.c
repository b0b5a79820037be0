/* mmref profile [--target T]: the profile of a target (shared/spec/trace-format.md,
 * Profiles) as one `profile KEY=VALUE ...` line on standard output, and how
 * each key was found (`# profile KEY: HOW`) on standard error.
 *
 * A live target (kernel, exec:COMMAND) is started on an empty trace and
 * announces what it detected in its answer to `mmtrace 1`
 * (docs/exec-protocol.md); `kernel` is build/mmref-kernel next to this binary,
 * or $MMREF_KERNEL. The model and the naive oracle run under any profile:
 * for them this prints the documented default they run under unless told
 * otherwise. Exit status 0, or 2 when the profile cannot be had (the target
 * does not start, or announces nothing) or on bad usage. */
#include <stdio.h>

#include "cli.h"
#include "target.h"
#include "trace.h"


int cmd_profile(int argc, char **argv)
{
	char *target_opt = NULL;
	char **rest = NULL;
	GOptionEntry entries[] = {
		{"target", 't', 0, G_OPTION_ARG_STRING, &target_opt,
		 "The target: kernel (default), exec:COMMAND, model or naive", "T"},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("- the profile of a target (default the running kernel)");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(
	        ctx, "Prints one 'profile KEY=VALUE ...' line on standard output, every key the target\n"
	             "detected, and one '# profile KEY: HOW' line per key on standard error, saying how it\n"
	             "was found or why it could not be. model and naive print the documented default.\n"
	             "Exit status: 0, or 2 when the profile cannot be detected or on bad usage.");
	int rc = MMREF_EXIT_INVALID;
	GError *err = NULL;
	target *tg = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "mmref profile: %s (see --help)\n", err->message);
		g_error_free(err);
		goto out;
	}
	if (rest && rest[0]) {
		fprintf(stderr, "mmref profile: unexpected argument '%s' (see --help)\n", rest[0]);
		goto out;
	}
	const char *name = target_opt ? target_opt : "kernel";
	tg = target_new(name, &err);
	if (!tg) {
		fprintf(stderr, "mmref profile: %s\n", err->message);
		g_error_free(err);
		goto out;
	}
	GString *line = g_string_new("profile ");
	if (tg->adapts_profile) {
		tr_profile p;
		tr_profile_default(&p);
		tr_profile_format(line, &p);
		printf("%s\n", line->str);
		fprintf(stderr, "# profile: target %s runs under any profile; this is the documented default it runs "
		                "under when neither a trace, --profile nor a live target says otherwise\n",
		        name);
		rc = MMREF_EXIT_OK;
	} else if (!target_probe_profile(tg, &err)) {
		fprintf(stderr, "mmref profile: target %s: %s\n", name, err->message);
		g_error_free(err);
	} else if (tr_profile_empty(&tg->announced)) {
		fprintf(stderr,
		        "mmref profile: target %s announced no profile (a live target announces it in its answer "
		        "to 'mmtrace 1': docs/exec-protocol.md)\n",
		        name);
	} else {
		tr_profile_format(line, &tg->announced);
		printf("%s\n", line->str);
		for (guint i = 0; tg->profile_how && i < tg->profile_how->len; i++)
			fprintf(stderr, "# profile %s\n", (const char *)g_ptr_array_index(tg->profile_how, i));
		rc = fflush(stdout) == 0 ? 0 : 2;
	}
	g_string_free(line, TRUE);
out:
	if (tg)
		target_free(tg);
	g_strfreev(rest);
	g_free(target_opt);
	g_option_context_free(ctx);
	return rc;
}

/* mmref profile-deps: which profile keys a recorded trace depends on, and
 * (--write) the trace's `profile` line set to them. This is how the corpus
 * says what it depends on (docs/profiles.md): a trace recorded on a live
 * kernel is replayed on the model under the recording kernel's profile, then
 * under every other value of each key; the keys whose other values change an
 * answer are the ones its `profile` line names. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "profile_deps.h"
#include "trace.h"


/* text with its profile line replaced by (or, after "mmtrace 1", given)
 * "profile DEPS". */
static char *with_profile_line(const char *text, const trace *t, const tr_profile *deps)
{
	GString *line = g_string_new("profile ");
	tr_profile_format(line, deps);
	char **lines = g_strsplit(text, "\n", -1);
	GString *out = g_string_new(NULL);
	gboolean placed = FALSE;
	for (int i = 0; lines[i]; i++) {
		int lineno = i + 1;
		if (t->profile_line && lineno == t->profile_line) {
			g_string_append(out, line->str);
			placed = TRUE;
		} else {
			g_string_append(out, lines[i]);
		}
		if (lines[i + 1])
			g_string_append_c(out, '\n');
		const char *l = lines[i] + strspn(lines[i], " \t");
		if (!placed && !t->profile_line && g_str_has_prefix(l, "mmtrace")) {
			g_string_append_printf(out, "%s\n", line->str);
			placed = TRUE;
		}
	}
	g_strfreev(lines);
	g_string_free(line, TRUE);
	return g_string_free(out, FALSE);
}

int cmd_profile_deps(int argc, char **argv)
{
	char *recorded_opt = NULL;
	gboolean write = FALSE;
	char **files = NULL;
	GOptionEntry entries[] = {
		{"recorded", 'r', 0, G_OPTION_ARG_STRING, &recorded_opt,
		 "The profile the traces were recorded under, for keys their own profile line does not give "
		 "(default: the documented default profile)",
		 "KEY=VALUE,..."},
		{"write", 'w', 0, G_OPTION_ARG_NONE, &write, "Set each trace's profile line to the keys it depends on",
		 NULL},
		{G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "TRACE..."},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *ctx = g_option_context_new("TRACE... - the profile keys each trace's answers depend on");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(
	        ctx, "Each trace is replayed on the model under the profile it was recorded under (--recorded,\n"
	             "overlaid with the trace's own profile line), then under each other value of each key.\n"
	             "Prints 'FILE: profile KEY=VALUE ...' with the kernel version and every key whose other\n"
	             "values change an answer. Exit status: 0 done, 1 a trace does not hold on the model under\n"
	             "its recorded profile (nothing written for it), 2 invalid trace or usage.");
	int rc = MMREF_EXIT_INVALID;
	GError *err = NULL;
	tr_profile recorded = {0};
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "mmref profile-deps: %s (see --help)\n", err->message);
		g_error_free(err);
		goto out;
	}
	if (recorded_opt && !tr_profile_parse(&recorded, recorded_opt, &err)) {
		fprintf(stderr, "mmref profile-deps: --recorded: %s\n", err->message);
		g_error_free(err);
		goto out;
	}
	if (!files || !files[0]) {
		fprintf(stderr, "mmref profile-deps: no trace given (see --help)\n");
		goto out;
	}
	rc = MMREF_EXIT_OK;
	for (char **f = files; *f; f++) {
		char *text = NULL;
		gsize len = 0;
		if (!g_file_get_contents(*f, &text, &len, &err)) {
			fprintf(stderr, "%s:0: error: %s\n", *f, err->message);
			g_clear_error(&err);
			rc = MMREF_EXIT_INVALID;
			continue;
		}
		trace *t = trace_parse(*f, text, len, &err);
		if (!t) {
			fprintf(stderr, "%s\n", err->message);
			g_clear_error(&err);
			g_free(text);
			rc = MMREF_EXIT_INVALID;
			continue;
		}
		tr_profile under = recorded, deps;
		tr_profile_overlay(&under, &t->profile);
		if (!profile_dependencies(t, &under, &deps, &err)) {
			fprintf(stderr, "mmref profile-deps: %s\n", err->message);
			g_clear_error(&err);
			if (rc == 0)
				rc = MMREF_EXIT_DIFFERED;
		} else {
			GString *g = g_string_new(NULL);
			tr_profile_format(g, &deps);
			printf("%s: profile %s\n", *f, g->str);
			g_string_free(g, TRUE);
			if (write) {
				char *out = with_profile_line(text, t, &deps);
				if (!g_file_set_contents(*f, out, -1, &err)) {
					fprintf(stderr, "mmref profile-deps: %s\n", err->message);
					g_clear_error(&err);
					rc = MMREF_EXIT_INVALID;
				}
				g_free(out);
			}
		}
		trace_free(t);
		g_free(text);
	}
out:
	g_strfreev(files);
	g_free(recorded_opt);
	g_option_context_free(ctx);
	return rc;
}

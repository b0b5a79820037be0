/* The --max-* options every command takes (trace/tr_limits.h,
 * docs/security.md), and the checks of --timeout and --length against them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_limits.h"
#include "tr_limits.h"
#include "trace.h"

static gboolean set_limit(const char *name, const char *value, gpointer data, GError **error)
{
	(void)data;
	uint64_t v;
	if (!tr_parse_number(value, &v) || v == 0) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
		            "%s: '%s' is not a positive number (K, M, G suffixes allowed)", name, value);
		return FALSE;
	}
	const char *n = name + 2; /* "--" */
	if (strcmp(n, "max-arena") == 0)
		tr_limit.max_arena = v;
	else if (strcmp(n, "max-statements") == 0)
		tr_limit.max_stmts = v;
	else if (strcmp(n, "max-line") == 0)
		tr_limit.max_line = v;
	else if (strcmp(n, "max-answer-bytes") == 0)
		tr_limit.max_answer_bytes = v;
	else if (strcmp(n, "max-answer-lines") == 0)
		tr_limit.max_answer_lines = v;
	else if (strcmp(n, "max-snapshot-pages") == 0)
		tr_limit.max_snapshot_pages = v;
	return TRUE;
}

void cli_add_limit_options(GOptionContext *ctx)
{
	static const GOptionEntry entries[] = {
		{"max-arena", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Largest arena a trace may declare (default 64G)", "BYTES"},
		{"max-statements", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Most statements per trace, and largest --length (default 4M)", "N"},
		{"max-line", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Longest line of trace input (default 4M bytes)", "BYTES"},
		{"max-answer-bytes", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Most bytes read from an exec target per statement (default 64M)", "BYTES"},
		{"max-answer-lines", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Most lines read from an exec target per statement (default 1M)", "N"},
		{"max-snapshot-pages", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)set_limit,
		 "Most pages of mappings one state snapshot describes (default 64M)", "N"},
		{NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionGroup *g = g_option_group_new("limits", "Resource limits (docs/security.md):",
	                                     "Show the resource limits", NULL, NULL);
	g_option_group_add_entries(g, entries);
	g_option_context_add_group(ctx, g);
}

gboolean cli_check_timeout(const char *who, double timeout)
{
	if (isnan(timeout) || timeout < 0 || timeout > tr_limit.max_timeout) {
		fprintf(stderr, "%s: --timeout %g is outside 0..%g seconds (the limit on --timeout)\n", who, timeout,
		        tr_limit.max_timeout);
		return FALSE;
	}
	return TRUE;
}

gboolean cli_check_length(const char *who, gint64 length)
{
	if (length < 0 || (guint64)length > tr_limit.max_stmts) {
		fprintf(stderr,
		        "%s: --length %" G_GINT64_FORMAT " is outside 0..%" G_GUINT64_FORMAT
		        " statements (--max-statements)\n",
		        who, length, (guint64)tr_limit.max_stmts);
		return FALSE;
	}
	return TRUE;
}

char *cli_comment_text(const char *s)
{
	/* Control characters (a newline in a file name would start a statement
	 * line in the trace written) are escaped as C escapes. */
	GString *g = g_string_new(NULL);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			g_string_append_printf(g, "\\x%02x", *p);
		else
			g_string_append_c(g, (char)*p);
	}
	return g_string_free(g, FALSE);
}

/* The exec-protocol server loop (serve.h). */
#define _GNU_SOURCE /* getline */
#include "serve.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Answers one statement on tg; the answer lines go to out. */
static void serve_stmt(target *tg, const trace *t, const tr_stmt *st, GString *out)
{
	GError *err = NULL;
	GString *line = g_string_new(NULL);
	trace_print_stmt(line, t, st, false);
	if (!tr_is_observation(st->kind)) {
		tr_result res;
		if (tg->ops->exec(tg, t, st, &res, &err)) {
			g_string_append_printf(out, "%s => ", line->str);
			trace_print_result(out, t, st->kind, &res);
			g_string_append_c(out, '\n');
		}
	} else {
		GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
		if (tg->ops->observe(tg, t, st, lines, &err)) {
			g_string_append_printf(out, "%s\n", line->str);
			for (guint i = 0; i < lines->len; i++)
				g_string_append_printf(out, "| %s\n", (const char *)g_ptr_array_index(lines, i));
		}
		g_ptr_array_unref(lines);
	}
	if (err) {
		g_string_append_printf(out, "# error: %s\n", err->message);
		g_error_free(err);
	}
	g_string_free(line, TRUE);
}

void serve_run(target *tg, FILE *in, FILE *out)
{
	trace_parser *parser = trace_parser_new("<stdin>");
	gboolean started = FALSE;
	GString *answer = g_string_new(NULL);
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	guint lineno = 0;
	while ((n = getline(&buf, &cap, in)) >= 0) {
		tr_stmt st;
		lineno++;
		const char *directive = NULL;
		GError *err = NULL;
		g_string_truncate(answer, 0);
		/* A NUL byte would cut the line short: refuse it (and count it). */
		int r = memchr(buf, '\0', (size_t)n) ? -2 : trace_parser_feed(parser, buf, &st, &directive, &err);
		if (r == -2) {
			trace_parser_feed(parser, "", &st, &directive, NULL);
			g_set_error(&err, TRACE_ERROR, TRACE_ERROR_PARSE, "<stdin>:%u: error: NUL byte in the line", lineno);
			r = -1;
		}
		if (r < 0) {
			g_string_append_printf(answer, "# error: %s\n", err->message);
			g_error_free(err);
		} else if (r == 0) {
			g_strchomp(buf);
			if (directive)
				started = FALSE; /* a new arena or file: a fresh address space */
			if (*buf)
				g_string_append_printf(answer, "%s\n", buf);
		} else {
			const trace *t = trace_parser_trace(parser);
			if (!started) {
				started = tg->ops->start(tg, t, &err);
				if (!started) {
					g_string_append_printf(answer, "# error: %s\n", err->message);
					g_clear_error(&err);
				}
			}
			if (started)
				serve_stmt(tg, t, &st, answer);
		}
		g_string_append_c(answer, '\n'); /* every answer ends with an empty line */
		fputs(answer->str, out);
		fflush(out);
	}
	g_string_free(answer, TRUE);
	free(buf);
	trace_parser_free(parser);
}

/* Fuzz target trace_parser: arbitrary text through the trace parser, whole
 * (trace_parse) and line by line (the exec protocol's trace_parser_feed).
 * It must never crash, leak or hang; every rejection is a clean error
 * ("FILE:LINE: error: WHAT"); and an accepted trace must survive printing:
 * parse(print(t)) is accepted and prints the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_INPUT (64 * 1024)

static G_NORETURN void fail(const char *sig, const char *what, const char *a, const char *b)
{
	fprintf(stderr, "mmref: %s\n%s\n--- first ---\n%s--- second ---\n%s--- end ---\n", sig, what, a ? a : "",
	        b ? b : "");
	abort();
}

static void check_error(GError *err)
{
	if (!err || err->domain != TRACE_ERROR || !err->message || !strstr(err->message, ": error: "))
		fail("trace-parser-bad-error", err ? err->message : "rejected without an error", NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	GError *err = NULL;
	trace *t = trace_parse("fuzz", (const char *)data, size, &err);
	if (!t) {
		check_error(err);
		g_clear_error(&err);
	} else {
		char *text = trace_to_string(t);
		trace *t2 = trace_parse("printed", text, strlen(text), &err);
		if (!t2)
			fail("trace-parser-reprint-rejected", err->message, text, NULL);
		char *text2 = trace_to_string(t2);
		if (strcmp(text, text2) != 0)
			fail("trace-parser-round-trip", "print(parse(print(t))) != print(t)", text, text2);
		if (t2->stmts->len != t->stmts->len)
			fail("trace-parser-round-trip", "statement count changed", text, text2);
		g_free(text2);
		trace_free(t2);
		g_free(text);
		trace_free(t);
	}

	/* The streaming parser on the same lines (NUL bytes end a line there). */
	trace_parser *p = trace_parser_new("stream");
	const char *s = (const char *)data, *end = s + size;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *line = g_strndup(s, len);
		tr_stmt st;
		const char *directive = NULL;
		int rc = trace_parser_feed(p, line, &st, &directive, &err);
		if (rc < 0) {
			check_error(err);
			g_clear_error(&err);
		} else if (rc == 1 && st.expect_lines) {
			fail("trace-parser-stream-lines", "feed returned observation lines", line, NULL);
		}
		g_free(line);
		s += len + 1;
	}
	trace_parser_free(p);
	return 0;
}

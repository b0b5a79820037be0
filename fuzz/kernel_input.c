/* Fuzz target kernel_input: arbitrary bytes as mmref-kernel's standard input,
 * through the executor's own line reader (oracle/kernel/linereader.c) and the
 * streaming trace parser (trace_parser_feed), as oracle/kernel/main.c runs
 * them -- without the system calls. The reader is checked against a plain
 * split of the input at '\n': every line comes back whole, in order, with its
 * number (refused lines counted: overlong, NUL); an overlong line is refused
 * and skipped to its newline; the parser refuses with "FILE:LINE: error: ".
 * The first input byte picks the reader's geometry and how many bytes each
 * read returns, so that lines straddle buffer refills at every offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "linereader.h"

#define KI_MAX_INPUT (512 * 1024)
#define EXEC_MAX_LINE (1 << 16) /* oracle/kernel/main.c: LINE_MAX_LEN */

static char big_buf[EXEC_MAX_LINE * 2], big_line[EXEC_MAX_LINE + 1];
static char small_buf[96], small_line[64 + 1];

typedef struct source {
	const uint8_t *data;
	size_t size, pos, chunk;
} source;

static ssize_t read_source(void *ctx, char *buf, size_t n)
{
	source *s = ctx;
	size_t left = s->size - s->pos;
	if (n > left)
		n = left;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static G_NORETURN void fail(const char *sig, uint64_t lineno, const char *what)
{
	fprintf(stderr, "mmref: %s\nline %llu: %s\n", sig, (unsigned long long)lineno, what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > KI_MAX_INPUT)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	/* bit 7: the executor's line limit (64 KiB; a buffer of twice that here,
	 * 4 MiB there) or a small one (64 bytes in a 96-byte buffer); bytes per
	 * read: with bit 3, 1 + 13 * bits 4-6, else chunks[bits 0-2] (0: as
	 * many as fit) */
	static const size_t chunks[8] = {0, 1, 2, 3, 7, 64, 4096, 65537};
	source src = {.data = data, .size = size, .chunk = chunks[mode & 7] ? chunks[mode & 7] : SIZE_MAX};
	if (mode & 8)
		src.chunk = 1 + ((mode >> 4) & 7) * 13;
	linereader r;
	if (mode & 0x80)
		lr_init(&r, big_buf, sizeof(big_buf), big_line, EXEC_MAX_LINE, read_source, &src, NULL);
	else
		lr_init(&r, small_buf, sizeof(small_buf), small_line, sizeof(small_line) - 1, read_source, &src, NULL);

	trace_parser *p = trace_parser_new("<stdin>");
	size_t pos = 0;        /* the reference split */
	uint64_t expect_no = 0;
	lr_status st;
	while ((st = lr_next(&r)) != LR_EOF) {
		if (pos >= size)
			fail("kernel-input-extra-line", r.lineno, "a line after the end of input");
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		expect_no++;
		if (r.lineno != expect_no)
			fail("kernel-input-line-number", r.lineno, "wrong line number");
		if (len > r.max_line) {
			if (st != LR_TOOLONG)
				fail("kernel-input-overlong-accepted", r.lineno, "an overlong line was not refused");
		} else if (st == LR_TOOLONG) {
			fail("kernel-input-short-refused", r.lineno, "a line within the limit was refused as too long");
		} else {
			if (r.len != len || memcmp(r.line, data + pos, len) != 0 || r.line[len] != '\0')
				fail("kernel-input-line-content", r.lineno, "the line differs from the input");
			bool has_nul = memchr(data + pos, '\0', len) != NULL;
			if (has_nul != (st == LR_NUL))
				fail("kernel-input-nul", r.lineno, "NUL byte not reported (or reported falsely)");
		}
		pos += len + (nl ? 1 : 0);
		if (st != LR_LINE)
			continue;
		/* what main.c's handle_line does with it */
		size_t l = strlen(r.line);
		if (l && r.line[l - 1] == '\r')
			r.line[--l] = '\0';
		tr_stmt s;
		memset(&s, 0, sizeof(s));
		const char *dir = NULL;
		GError *err = NULL;
		int rc = trace_parser_feed(p, r.line, &s, &dir, &err);
		if (rc < 0) {
			if (!err || err->domain != TRACE_ERROR || !err->message || !g_str_has_prefix(err->message, "<stdin>:") ||
			    !strstr(err->message, ": error: "))
				fail("kernel-input-bad-error", r.lineno, err && err->message ? err->message : "(no error)");
			g_clear_error(&err);
		} else if (err) {
			fail("kernel-input-error-on-success", r.lineno, err->message);
		} else if (rc == 1 && s.expect_lines) {
			fail("kernel-input-expect-lines", r.lineno, "the parser returned '|' lines");
		}
	}
	if (pos < size)
		fail("kernel-input-lost-input", r.lineno, "input left when the reader ended");
	trace_parser_free(p);
	return 0;
}

/* Fuzz target exec_reader: arbitrary bytes as an external target's answers.
 * The input is what the target writes on its standard output for a whole
 * trace (the handshake, every operation, a `state`, a `maps`); the harness's
 * exec-protocol reader (harness/target_exec.c: read_block, the echo check,
 * tr_result_parse, snapshot_parse_state) must treat any of it as, at worst,
 * the target's failure: never crash, leak, hang or allocate beyond its
 * limits. The target is `cat` of a file holding the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "tr_limits.h"

#define MAX_INPUT (256 * 1024)

static const char trace_text[] = "mmtrace 1\n"
                                 "file f 16K\n"
                                 "mmap +0 16K rw- private,anon,fixed\n"
                                 "touch +4K w\n"
                                 "mremap +0 4K 8K maymove\n"
                                 "state\n"
                                 "maps\n"
                                 "pages +0 16K\n";

static trace *the_trace;
static char *input_path;
static target *tg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	GError *err = NULL;
	the_trace = trace_parse("exec_reader.trace", trace_text, strlen(trace_text), &err);
	if (!the_trace)
		abort();
	int fd = g_file_open_tmp("mmref-exec-reader-XXXXXX", &input_path, &err);
	if (fd < 0)
		abort();
	close(fd);
	/* What one statement may cost, kept small so that runs are fast. */
	tr_limit.max_answer_bytes = 1 << 20;
	tr_limit.max_answer_lines = 1 << 14;
	tr_limit.max_snapshot_pages = 1 << 16;
	char *quoted = g_shell_quote(input_path);
	char *cmd = g_strdup_printf("exec cat %s", quoted);
	tg = target_exec_new("exec:reader", cmd, &err);
	target_exec_set_timeout(tg, 2000);
	g_free(cmd);
	g_free(quoted);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	if (!g_file_set_contents(input_path, (const char *)data, (gssize)size, NULL))
		abort();
	GError *err = NULL;
	const trace *t = the_trace;
	if (tg->ops->start(tg, t, &err)) {
		for (guint i = 0; i < t->stmts->len && !err; i++) {
			const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
			if (s->kind == TR_STATE) {
				snapshot snap;
				snapshot_init(&snap);
				tg->ops->snapshot(tg, t, &snap, &err);
				snapshot_free(&snap);
			} else if (tr_is_observation(s->kind)) {
				GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
				tg->ops->observe(tg, t, s, lines, &err);
				g_ptr_array_unref(lines);
			} else {
				tr_result r;
				tg->ops->exec(tg, t, s, &r, &err);
			}
		}
	}
	if (err && (err->domain != TRACE_ERROR || !err->message)) {
		fprintf(stderr, "mmref: exec-reader-bad-error\n%s\n", err->message ? err->message : "(null)");
		abort();
	}
	g_clear_error(&err);
	/* The next input starts a fresh child: end this one. */
	target_free(tg);
	char *quoted = g_shell_quote(input_path);
	char *cmd = g_strdup_printf("exec cat %s", quoted);
	tg = target_exec_new("exec:reader", cmd, NULL);
	target_exec_set_timeout(tg, 2000);
	g_free(cmd);
	g_free(quoted);
	return 0;
}

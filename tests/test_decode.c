/* The fuzz decoder (harness/decode.c): any byte string decodes, the same way
 * every time, to a valid trace (its printed text parses back to the same
 * text) whose every address and range lies in the arena and which never
 * asks for what the model does not model. */
#include <glib.h>
#include <string.h>

#include "decode.h"

#define ROUNDS 4000

static guint8 *random_bytes(GRand *r, gsize *size)
{
	/* mostly record-sized inputs, some ragged, a few long */
	gsize n = (gsize)g_rand_int_range(r, 0, 40) * DECODE_RECORD_SIZE + DECODE_HEADER_SIZE;
	if (g_rand_int_range(r, 0, 4) == 0)
		n = (gsize)g_rand_int_range(r, 0, 64);
	if (g_rand_int_range(r, 0, 50) == 0)
		n = (gsize)g_rand_int_range(r, 0, 4000);
	guint8 *b = g_malloc(n + 1);
	/* biased bytes: runs of one value, extremes, noise */
	for (gsize i = 0; i < n; i++) {
		switch (g_rand_int_range(r, 0, 8)) {
		case 0:
			b[i] = 0;
			break;
		case 1:
			b[i] = 0xff;
			break;
		default:
			b[i] = (guint8)g_rand_int(r);
		}
	}
	*size = n;
	return b;
}

static void check_in_arena(const trace *t)
{
	uint64_t lo = t->arena_base, hi = t->arena_base + t->arena_size;
	for (guint i = 0; i < t->stmts->len; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		switch (s->kind) {
		case TR_MAPS:
		case TR_SMAPS:
		case TR_STATE:
			break;
		case TR_FORK:
		case TR_PROC:
		case TR_EXIT: /* no address; proc/exit name a process that may exist */
			g_assert_cmpuint(s->value, <=, 1 + DECODE_MAX_STMTS);
			continue;
		case TR_TOUCH:
			g_assert_cmpuint(s->addr, >=, lo);
			g_assert_cmpuint(s->addr, <, hi);
			break;
		case TR_MMAP:
			if (s->addr == 0)
				break;
			/* fall through */
		default:
			g_assert_cmpuint(s->addr, >=, lo);
			g_assert_cmpuint(s->len, <=, hi - s->addr);
			break;
		}
		if (s->kind == TR_MREMAP) {
			uint64_t to = s->has_new_addr ? s->new_addr : s->addr;
			g_assert_cmpuint(to, >=, lo);
			g_assert_cmpuint(s->new_len, <=, hi - to);
		}
		if (s->kind == TR_MADVISE) {
			g_assert_cmpint(s->advice, !=, MM_MADV_HWPOISON);
			g_assert_cmpint(s->advice, !=, MM_MADV_SOFT_OFFLINE);
			g_assert_cmpint(s->advice, !=, MM_MADV_COLLAPSE);
		}
		/* lengths of a few pages: at most 4 MiB */
		g_assert_cmpuint(s->len, <=, 2 * MM_PMD_SIZE);
		g_assert_cmpuint(s->new_len, <=, 2 * MM_PMD_SIZE);
	}
}

/* Linux 6.18 loops in madvise_guard_install() over a shmem uffd-wp marker,
 * so once a trace may have left uffd-wp bits (`uffd wp … on`, or a continue
 * in WP mode) the decoder emits no guard_install (harness/decode.c wp_on).
 * TRUE when t arms such bits. */
static gboolean check_no_guard_after_wp(const trace *t)
{
	gboolean armed = FALSE;
	for (guint i = 0; i < t->stmts->len; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		if (armed && s->kind == TR_MADVISE)
			g_assert_cmpint(s->advice, !=, MM_MADV_GUARD_INSTALL);
		if ((s->kind == TR_UFFD_WP && (s->flags & MM_UFFDIO_WP_MODE_WP)) ||
		    (s->kind == TR_UFFD_CONTINUE && (s->flags & MM_UFFD_CONTINUE_MODE_WP)))
			armed = TRUE;
	}
	return armed;
}

static void test_random_inputs(void)
{
	GRand *r = g_rand_new_with_seed(5);
	guint64 stmts = 0, kinds[TR_STATE + 1] = {0}, armed = 0;
	for (int round = 0; round < ROUNDS; round++) {
		gsize n;
		guint8 *b = random_bytes(r, &n);
		trace *t = decode_trace(b, n);
		trace *again = decode_trace(b, n);
		char *text = trace_to_string(t);
		char *text2 = trace_to_string(again);
		g_assert_cmpstr(text, ==, text2); /* deterministic */
		g_assert_cmpuint(t->stmts->len, <=, DECODE_MAX_STMTS);
		if (n >= DECODE_HEADER_SIZE)
			g_assert_cmpuint(t->stmts->len, ==, MIN(DECODE_MAX_STMTS, (n - DECODE_HEADER_SIZE) / DECODE_RECORD_SIZE));
		check_in_arena(t);
		armed += check_no_guard_after_wp(t);

		GError *err = NULL;
		trace *p = trace_parse("decoded", text, strlen(text), &err);
		if (!p)
			g_error("decoded trace does not parse: %s\n%s", err->message, text);
		char *text3 = trace_to_string(p);
		g_assert_cmpstr(text, ==, text3); /* the parsed text means the same */
		g_assert_cmpuint(p->stmts->len, ==, t->stmts->len);
		for (guint i = 0; i < t->stmts->len; i++) {
			const tr_stmt *a = &g_array_index(t->stmts, tr_stmt, i), *c = &g_array_index(p->stmts, tr_stmt, i);
			g_assert_cmpint(a->line, ==, c->line);
			kinds[a->kind]++;
		}
		stmts += t->stmts->len;
		g_free(text3);
		trace_free(p);
		g_free(text);
		g_free(text2);
		trace_free(t);
		trace_free(again);
		g_free(b);
	}
	/* every operation the decoder can emit was emitted */
	for (int k = TR_MMAP; k <= TR_TOUCH; k++)
		g_assert_cmpuint(kinds[k], >, 0);
	g_assert_cmpuint(kinds[TR_STATE], >, 0);
	g_assert_cmpuint(armed, >, 0); /* the guard rule was exercised */
	g_test_message("%" G_GUINT64_FORMAT " statements decoded", stmts);
	g_rand_free(r);
}

static void test_empty_and_short(void)
{
	static const guint8 zeros[DECODE_HEADER_SIZE + DECODE_RECORD_SIZE - 1] = {0};
	for (gsize n = 0; n <= sizeof(zeros); n++) {
		trace *t = decode_trace(n ? zeros : NULL, n);
		g_assert_cmpuint(t->stmts->len, ==, 0);
		trace_free(t);
	}
	trace *t = decode_trace(zeros, sizeof(zeros) + 0);
	char *text = trace_to_string(t);
	g_assert_cmpstr(text, ==, "mmtrace 1\n");
	g_free(text);
	trace_free(t);
}

/* One record decodes to the statement the layout in decode.c promises. */
static void test_known_record(void)
{
	/* header: no files; mmap (r0 = 0), low window page 2, 4 pages (r3 = 3),
	 * rw- (r4 = 3), private fixed_noreplace (r5 = 0x10), nothing extra. */
	static const guint8 in[] = {0, 0, 0, 0, 0x00, 0x03, 0x02, 0x03, 0x03, 0x10, 0x00, 0x00,
	                            /* touch (r0 = 26) inside that region, write (r3 = 200), byte 0 */
	                            26, 0x00, 0x01, 200, 0x00, 0, 0, 0};
	trace *t = decode_trace(in, sizeof(in));
	char *text = trace_to_string(t);
	g_assert_cmpstr(text, ==,
	                "mmtrace 1\n"
	                "mmap +0x2000 16K rw- private,anonymous,fixed_noreplace\n"
	                "touch +0x3000 w\n");
	g_free(text);
	trace_free(t);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/decode/random-inputs", test_random_inputs);
	g_test_add_func("/decode/empty-and-short", test_empty_and_short);
	g_test_add_func("/decode/known-record", test_known_record);
	return g_test_run();
}

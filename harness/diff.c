/* The diff engine and replay. */
#include "diff.h"

#include <string.h>

static char *stmt_text(const trace *t, const tr_stmt *s, const tr_result *res)
{
	GString *g = g_string_new(NULL);
	trace_print_stmt(g, t, s, false);
	if (res && res->kind != TR_RES_NONE) {
		g_string_append(g, " => ");
		trace_print_result(g, t, s->kind, res);
	}
	return g_string_free(g, FALSE);
}

static char *result_text(const trace *t, tr_kind kind, const tr_result *r)
{
	GString *g = g_string_new(NULL);
	trace_print_result(g, t, kind, r);
	return g_string_free(g, FALSE);
}

/* Appends text with every line indented. */
static void append_indented(GString *out, const char *text, const char *indent)
{
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++)
		if (**l)
			g_string_append_printf(out, "%s%s\n", indent, *l);
	g_strfreev(lines);
}

static gboolean lines_equal(GPtrArray *a, GPtrArray *b, guint *first)
{
	guint n = MIN(a->len, b->len);
	for (guint i = 0; i < n; i++)
		if (strcmp(g_ptr_array_index(a, i), g_ptr_array_index(b, i)) != 0) {
			*first = i;
			return FALSE;
		}
	*first = n;
	return a->len == b->len;
}

static const char *line_or_none(GPtrArray *a, guint i)
{
	return i < a->len ? (const char *)g_ptr_array_index(a, i) : "(no line)";
}

/* mm_check on every model target; a report of the violations, or NULL. */
static char *check_targets(const trace *t, const tr_stmt *s, target *const *targets, guint n)
{
	char *report = NULL;
	for (guint k = 0; k < n && !report; k++) {
		if (!target_is_model(targets[k]))
			continue;
		GString *v = g_string_new(NULL);
		size_t nv = target_model_check(targets[k], v);
		if (nv) {
			char *st = stmt_text(t, s, NULL);
			GString *r = g_string_new(NULL);
			g_string_append_printf(r, "%s:%d: %s: mm_check found %zu violation%s after: %s\n", t->filename, s->line,
			                       targets[k]->name, nv, nv == 1 ? "" : "s", st);
			append_indented(r, v->str, "  ");
			report = g_string_free(r, FALSE);
			g_free(st);
		}
		g_string_free(v, TRUE);
	}
	return report;
}

diff_status diff_run(const trace *t, target *const *targets, guint n, const diff_options *opt, char **report,
                     guint64 *stmts_run)
{
	*report = NULL;
	GError *err = NULL;
	for (guint k = 0; k < n; k++) {
		char *why = target_not_applicable(targets[k], t, opt ? opt->profile : NULL);
		if (why) {
			*report = g_strdup_printf("%s:%d: not applicable on %s: %s\n", t->filename, t->profile_line,
			                          targets[k]->name, why);
			g_free(why);
			return DIFF_NOT_APPLICABLE;
		}
	}
	for (guint k = 0; k < n; k++)
		if (!targets[k]->ops->start(targets[k], t, &err)) {
			*report = g_strdup_printf("%s:0: %s failed to start: %s\n", t->filename, targets[k]->name,
			                          err->message);
			g_error_free(err);
			return DIFF_DIVERGED;
		}

	tr_result *res = g_new0(tr_result, n);
	snapshot *snaps = g_new0(snapshot, n);
	GPtrArray **obs = g_new0(GPtrArray *, n);
	for (guint k = 0; k < n; k++) {
		snapshot_init(&snaps[k]);
		obs[k] = g_ptr_array_new_with_free_func(g_free);
	}
	GString *r = g_string_new(NULL);
	guint64 done = 0;

	for (guint i = 0; i < t->stmts->len && !r->len; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		char *st = stmt_text(t, s, NULL);
		done++;
		if (!tr_is_observation(s->kind)) {
			/* Run it everywhere, then compare results and state. */
			for (guint k = 0; k < n && !r->len; k++)
				if (!targets[k]->ops->exec(targets[k], t, s, &res[k], &err)) {
					g_string_append_printf(r, "%s:%d: %s failed at: %s\n  %s\n", t->filename, s->line,
					                       targets[k]->name, st, err->message);
					g_clear_error(&err);
				}
			gboolean failed = r->len > 0;
			for (guint k = 1; k < n && !r->len; k++)
				if (!tr_result_equal(&res[0], &res[k])) {
					g_string_append_printf(r, "%s:%d: results differ: %s\n", t->filename, s->line, st);
					for (guint j = 0; j < n; j++) {
						char *rt = result_text(t, s->kind, &res[j]);
						g_string_append_printf(r, "  %-8s => %s\n", targets[j]->name, rt);
						g_free(rt);
					}
				}
			/* The state after it, also when the results differ: it tells what
			 * the different results did. */
			gboolean results_differ = r->len > 0 && !failed;
			gboolean snapped = !failed;
			for (guint k = 0; k < n && snapped; k++)
				if (!targets[k]->ops->snapshot(targets[k], t, &snaps[k], &err)) {
					if (!results_differ)
						g_string_append_printf(r, "%s:%d: %s failed to report its state after: %s\n  %s\n",
						                       t->filename, s->line, targets[k]->name, st, err->message);
					g_clear_error(&err);
					snapped = FALSE;
				}
			for (guint k = 1; k < n && snapped; k++) {
				char *d = snapshot_diff_labeled(&snaps[0], targets[0]->name, &snaps[k], targets[k]->name, t);
				if (d) {
					if (results_differ) {
						g_string_append(r, "  and the state differs after it:\n");
					} else {
						char *sr = stmt_text(t, s, &res[0]);
						g_string_append_printf(r, "%s:%d: state differs after: %s\n", t->filename, s->line, sr);
						g_free(sr);
					}
					append_indented(r, d, results_differ ? "    " : "  ");
					g_free(d);
					break;
				}
			}
		} else {
			for (guint k = 0; k < n && !r->len; k++) {
				g_ptr_array_set_size(obs[k], 0);
				if (!targets[k]->ops->observe(targets[k], t, s, obs[k], &err)) {
					g_string_append_printf(r, "%s:%d: %s failed at: %s\n  %s\n", t->filename, s->line,
					                       targets[k]->name, st, err->message);
					g_clear_error(&err);
				}
			}
			guint at;
			for (guint k = 1; k < n && !r->len; k++)
				if (!lines_equal(obs[0], obs[k], &at)) {
					g_string_append_printf(r, "%s:%d: observation differs at its line %u: %s\n", t->filename,
					                       s->line, at + 1, st);
					for (guint j = 0; j < n; j++)
						g_string_append_printf(r, "  %-8s | %s\n", targets[j]->name, line_or_none(obs[j], at));
				}
		}
		if (!r->len && opt && opt->check) {
			char *c = check_targets(t, s, targets, n);
			if (c) {
				g_string_append(r, c);
				g_free(c);
			}
		}
		g_free(st);
	}

	for (guint k = 0; k < n; k++) {
		snapshot_free(&snaps[k]);
		g_ptr_array_unref(obs[k]);
	}
	g_free(obs);
	g_free(snaps);
	g_free(res);
	if (stmts_run)
		*stmts_run += done;
	if (!r->len) {
		g_string_free(r, TRUE);
		return DIFF_SAME;
	}
	*report = g_string_free(r, FALSE);
	return DIFF_DIVERGED;
}

/* ---- Replay ---------------------------------------------------------------------- */

typedef struct stmt_outcome {
	gboolean ran;
	tr_result res;
	GPtrArray *lines; /* observations */
} stmt_outcome;

/* Everything from "=>" on is the old result. */
static void strip_result(GString *code)
{
	const char *arrow = strstr(code->str, "=>");
	if (arrow)
		g_string_truncate(code, (gsize)(arrow - code->str));
	while (code->len && (code->str[code->len - 1] == ' ' || code->str[code->len - 1] == '\t'))
		g_string_truncate(code, code->len - 1);
}

static void annotate_bars(GString *out, const stmt_outcome *o)
{
	for (guint j = 0; o->lines && j < o->lines->len; j++) {
		const char *l = g_ptr_array_index(o->lines, j);
		g_string_append_printf(out, *l ? "| %s\n" : "|\n", l);
	}
}

static void annotate(GString *out, const trace *t, const replay_options *opt, const stmt_outcome *oc)
{
	if (!opt->source) {
		trace_print_header(out, t);
		for (guint i = 0; i < t->stmts->len; i++) {
			const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
			char *st = stmt_text(t, s, oc[i].ran ? &oc[i].res : &s->expect);
			g_string_append_printf(out, "%s\n", st);
			g_free(st);
			if (oc[i].ran)
				annotate_bars(out, &oc[i]);
		}
		return;
	}
	/* Keep the source's lines, comments and layout; replace results and "| " lines. */
	GHashTable *by_line = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (guint i = 0; i < t->stmts->len; i++)
		g_hash_table_insert(by_line, GINT_TO_POINTER(g_array_index(t->stmts, tr_stmt, i).line),
		                    GUINT_TO_POINTER(i + 1));
	const char *p = opt->source, *end = opt->source + opt->source_len;
	gboolean keep_bars = TRUE;
	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char *line = g_strndup(p, (gsize)(le - p));
		p = nl ? nl + 1 : end;
		const char *q = line;
		while (*q == ' ' || *q == '\t')
			q++;
		guint idx = GPOINTER_TO_UINT(g_hash_table_lookup(by_line, GINT_TO_POINTER(lineno)));
		if (*q == '|') {
			if (keep_bars)
				g_string_append_printf(out, "%s\n", line);
		} else if (idx && oc[idx - 1].ran) {
			const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, idx - 1);
			char *hash = strchr(line, '#');
			GString *code = g_string_new_len(line, hash ? hash - line : (gssize)strlen(line));
			if (!tr_is_observation(s->kind)) {
				strip_result(code);
				g_string_append(code, " => ");
				trace_print_result(code, t, s->kind, &oc[idx - 1].res);
				if (hash)
					g_string_append(code, "  ");
			}
			g_string_append_printf(out, "%s%s\n", code->str, hash ? hash : "");
			g_string_free(code, TRUE);
			keep_bars = !tr_is_observation(s->kind);
			if (!keep_bars)
				annotate_bars(out, &oc[idx - 1]);
		} else {
			if (idx)
				keep_bars = TRUE;
			g_string_append_printf(out, "%s\n", line);
		}
		g_free(line);
	}
	g_hash_table_unref(by_line);
}

diff_status replay_run(const trace *t, target *tg, const replay_options *opt, GString *failures,
                       GString *annotated, guint64 *stmts_run)
{
	static const replay_options defaults = {0};
	if (!opt)
		opt = &defaults;
	GError *err = NULL;
	diff_status status = DIFF_SAME;
	stmt_outcome *oc = g_new0(stmt_outcome, t->stmts->len + 1);
	guint64 done = 0;

	char *why = target_not_applicable(tg, t, opt->profile);
	if (why) {
		g_string_append_printf(failures, "%s:%d: not applicable on %s: %s\n", t->filename, t->profile_line, tg->name,
		                       why);
		g_free(why);
		status = DIFF_NOT_APPLICABLE;
		goto out;
	}
	if (!tg->ops->start(tg, t, &err)) {
		g_string_append_printf(failures, "%s:0: %s failed to start: %s\n", t->filename, tg->name, err->message);
		g_clear_error(&err);
		status = DIFF_DIVERGED;
		goto out;
	}
	for (guint i = 0; i < t->stmts->len; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		stmt_outcome *o = &oc[i];
		done++;
		if (!tr_is_observation(s->kind)) {
			if (!tg->ops->exec(tg, t, s, &o->res, &err)) {
				char *st = stmt_text(t, s, NULL);
				g_string_append_printf(failures, "%s:%d: %s failed at: %s: %s\n", t->filename, s->line, tg->name,
				                       st, err->message);
				g_free(st);
				g_clear_error(&err);
				status = DIFF_DIVERGED;
				break;
			}
			o->ran = TRUE;
			if (s->expect.kind != TR_RES_NONE && !tr_result_equal(&s->expect, &o->res)) {
				char *st = stmt_text(t, s, NULL);
				char *want = result_text(t, s->kind, &s->expect);
				char *got = result_text(t, s->kind, &o->res);
				g_string_append_printf(failures, "%s:%d: expected => %s, %s gave => %s: %s\n", t->filename,
				                       s->line, want, tg->name, got, st);
				g_free(st);
				g_free(want);
				g_free(got);
				status = DIFF_DIVERGED;
			}
		} else {
			o->lines = g_ptr_array_new_with_free_func(g_free);
			if (!tg->ops->observe(tg, t, s, o->lines, &err)) {
				char *st = stmt_text(t, s, NULL);
				g_string_append_printf(failures, "%s:%d: %s failed at: %s: %s\n", t->filename, s->line, tg->name,
				                       st, err->message);
				g_free(st);
				g_clear_error(&err);
				status = DIFF_DIVERGED;
				break;
			}
			o->ran = TRUE;
			guint at;
			if (s->expect_lines && !lines_equal(s->expect_lines, o->lines, &at)) {
				g_string_append_printf(failures,
				                       "%s:%d: %s: expected line %u '| %s', %s gave '| %s' (%u lines expected, %u "
				                       "given)\n",
				                       t->filename, s->line, tr_kind_name(s->kind), at + 1,
				                       line_or_none(s->expect_lines, at), tg->name, line_or_none(o->lines, at),
				                       s->expect_lines->len, o->lines->len);
				status = DIFF_DIVERGED;
			}
		}
		if (opt->check) {
			char *c = check_targets(t, s, &tg, 1);
			if (c) {
				g_string_append(failures, c);
				g_free(c);
				status = DIFF_DIVERGED;
				break;
			}
		}
	}
out:
	if (opt->annotate && annotated)
		annotate(annotated, t, opt, oc);
	for (guint i = 0; i < t->stmts->len; i++)
		if (oc[i].lines)
			g_ptr_array_unref(oc[i].lines);
	g_free(oc);
	if (stmts_run)
		*stmts_run += done;
	return status;
}

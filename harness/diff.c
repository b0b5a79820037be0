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

/* ---- ignored facets (--ignore) ---------------------------------------------------- */

gboolean diff_ignore_parse(const char *spec, diff_ignore *ig, GError **error)
{
	memset(ig, 0, sizeof(*ig));
	char **parts = g_strsplit(spec ? spec : "", ",", -1);
	gboolean ok = TRUE;
	for (char **p = parts; *p && ok; p++) {
		if (strcmp(*p, "pages") == 0) {
			ig->pages = TRUE;
		} else if (strcmp(*p, "pf") == 0) {
			ig->pf = TRUE;
		} else if (g_str_has_prefix(*p, "vmflags=")) {
			char **mn = g_strsplit(*p + 8, "+", -1);
			for (char **m = mn; *m && ok; m++) {
				int bit = snapshot_vmflag_bit(*m);
				if (bit < 0 || bit <= 7) { /* rd wr ex sh mr mw me ms: the permissions */
					g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
					            "--ignore vmflags=: '%s' is %s", *m,
					            bit < 0 ? "not a VmFlags mnemonic" : "a permission, which cannot be ignored");
					ok = FALSE;
				} else {
					ig->vmflags |= 1ull << bit;
				}
			}
			if (ok && !mn[0]) {
				g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "--ignore vmflags= needs mnemonics (vmflags=nr+nh)");
				ok = FALSE;
			}
			g_strfreev(mn);
		} else {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
			            "--ignore: unknown facet '%s' (pages, pf, vmflags=MN+MN...)", *p);
			ok = FALSE;
		}
	}
	g_strfreev(parts);
	return ok;
}

char *diff_ignore_describe(const diff_ignore *ig)
{
	if (!ig || (!ig->pages && !ig->pf && !ig->vmflags))
		return NULL;
	GString *g = g_string_new(NULL);
	if (ig->pages)
		g_string_append(g, "page states (state pages, 'pages' lines)");
	if (ig->pf)
		g_string_append_printf(g, "%sthe page-fault error code of SIGSEGV (pf=)", g->len ? ", " : "");
	if (ig->vmflags) {
		g_string_append_printf(g, "%sVmFlags", g->len ? ", " : "");
		for (int b = 0; b < 64; b++)
			if (ig->vmflags >> b & 1)
				g_string_append_printf(g, " %s", snapshot_vmflag_name(b));
	}
	return g_string_free(g, FALSE);
}

static void ignore_result(const diff_ignore *ig, tr_result *r)
{
	if (ig && ig->pf && r->kind == TR_RES_TOUCH)
		r->touch.pf_error = 0;
}

/* An observation's lines with the ignored facets blanked: page states ('?'
 * in 'pages', after ' : ' in 'state'), ignored VmFlags mnemonics dropped. */
static void ignore_lines(const diff_ignore *ig, tr_kind kind, GPtrArray *lines)
{
	if (!ig || !lines || (!ig->pages && !ig->vmflags))
		return;
	for (guint i = 0; i < lines->len; i++) {
		char *l = g_ptr_array_index(lines, i);
		char **w = g_strsplit(l, " ", -1);
		GString *g = g_string_new(NULL);
		gboolean after_colon = FALSE;
		guint nw = g_strv_length(w);
		for (guint k = 0; k < nw; k++) {
			const char *tok = w[k];
			if (kind == TR_PAGES && ig->pages && k == nw - 1 && k > 0)
				tok = "?";
			else if (after_colon && ig->pages)
				tok = "?";
			else if (!after_colon && k >= 2 && ig->vmflags && kind != TR_PAGES && kind != TR_MAPS) {
				int bit = snapshot_vmflag_bit(tok);
				if (bit >= 0 && (ig->vmflags >> bit & 1))
					continue;
			}
			if (strcmp(w[k], ":") == 0 && kind == TR_STATE)
				after_colon = TRUE;
			if (g->len)
				g_string_append_c(g, ' ');
			g_string_append(g, tok);
		}
		g_strfreev(w);
		g_free(l);
		g_ptr_array_index(lines, i) = g_string_free(g, FALSE);
	}
}

static const char *line_or_none(GPtrArray *a, guint i)
{
	return i < a->len ? (const char *)g_ptr_array_index(a, i) : "(no line)";
}

/* mm_check on every model target (locally over r[0..nr) when r is not NULL);
 * the index of the first target with violations, or n. */
static guint check_targets(target *const *targets, guint n, const snap_range *r, guint nr, GString *violations,
                           gsize *nv)
{
	for (guint k = 0; k < n; k++) {
		if (!target_is_model(targets[k]))
			continue;
		g_string_truncate(violations, 0);
		size_t c = r ? target_model_check_ranges(targets[k], r, nr, violations)
		             : target_model_check(targets[k], violations);
		if (c) {
			*nv = c;
			return k;
		}
	}
	return n;
}

/* A violation report for replay (one target). */
static char *check_report(const trace *t, const tr_stmt *s, target *tg)
{
	GString *v = g_string_new(NULL);
	gsize nv = 0;
	char *report = NULL;
	if (check_targets(&tg, 1, NULL, 0, v, &nv) == 0) {
		char *st = stmt_text(t, s, NULL);
		GString *r = g_string_new(NULL);
		g_string_append_printf(r, "%s:%d: %s: mm_check found %zu violation%s after: %s\n", t->filename, s->line,
		                       tg->name, (size_t)nv, nv == 1 ? "" : "s", st);
		append_indented(r, v->str, "  ");
		report = g_string_free(r, FALSE);
		g_free(st);
	}
	g_string_free(v, TRUE);
	return report;
}

/* ---- The ranges a statement may have changed ---------------------------------- */

static void add_range(GArray *a, const trace *t, uint64_t lo, uint64_t len, gboolean huge)
{
	uint64_t base = t->arena_base, top = t->arena_base + t->arena_size;
	uint64_t hi = lo + len;
	if (hi < lo)
		hi = UINT64_MAX;
	if (len == 0)
		hi = lo + 1;
	uint64_t align = huge ? MM_PMD_SIZE : MM_PAGE_SIZE;
	lo &= ~(align - 1);
	hi = hi > UINT64_MAX - (align - 1) ? UINT64_MAX & ~(align - 1) : (hi + align - 1) & ~(align - 1);
	lo = MAX(lo, base);
	hi = MIN(hi, top);
	if (lo < hi) {
		snap_range r = {lo, hi};
		g_array_append_val(a, r);
	}
}

/* The statement's own ranges (res: each target's result, or NULL before it
 * ran). FALSE when its effect reaches beyond them (compare everything). */
static gboolean stmt_ranges(const trace *t, const tr_stmt *s, const tr_result *res, guint n, GArray *a)
{
	switch (s->kind) {
	case TR_MMAP:
		if (s->addr)
			add_range(a, t, s->addr, s->len, TRUE);
		for (guint k = 0; res && k < n; k++)
			if (res[k].kind == TR_RES_VALUE)
				add_range(a, t, res[k].value, s->len, TRUE);
		return TRUE;
	case TR_MREMAP:
		add_range(a, t, s->addr, MAX(s->len, s->new_len), FALSE);
		if (s->has_new_addr)
			add_range(a, t, s->new_addr, s->new_len, FALSE);
		for (guint k = 0; res && k < n; k++)
			if (res[k].kind == TR_RES_VALUE)
				add_range(a, t, res[k].value, s->new_len, FALSE);
		return TRUE;
	case TR_MADVISE:
		/* A hole punched in a shared object unmaps it from every VMA. */
		if (s->advice == MM_MADV_REMOVE)
			return FALSE;
		add_range(a, t, s->addr, s->len, TRUE);
		return TRUE;
	case TR_MLOCK:
	case TR_TOUCH:
	case TR_WRITE:
	case TR_READ:
		add_range(a, t, s->addr, s->kind == TR_MLOCK ? s->len : 1, TRUE);
		return TRUE;
	case TR_MUNMAP:
	case TR_MPROTECT:
	case TR_MUNLOCK:
	case TR_MSEAL:
		add_range(a, t, s->addr, s->len, FALSE);
		return TRUE;
	default:
		return FALSE;
	}
}

/* ---- What the engine saw of each target (divergence_state) ---------------------------- */

/* Each target's states as the engine took them, kept at no extra request to
 * the target: the last whole snapshot, and the window snapshots taken
 * since, copied one after another into flat arrays (a window is a few VMA
 * records and the pages of its ranges). A whole comparison (every
 * full_every statements) starts it afresh; past HIST_FOLD windows (a large
 * full_every), or HIST_PAGES_MIN page states, they are laid on the whole
 * one. */
typedef struct div_win {
	guint vma0, nvma, page0, npage, range0, nrange;
	unsigned kernel_version;
} div_win;

struct div_history {
	snapshot base; /* at the start: empty, as every target's arena is */
	GArray *wins;  /* div_win */
	GArray *vmas;  /* snap_vma, first_page relative to the window's page0 */
	GArray *pages; /* guint8 */
	GArray *ranges; /* snap_range */
};

#define HIST_FOLD 64
/* The windows' page states kept, at most: as many as the whole snapshot
 * holds, or this many (4 GiB of ranges) -- a trace whose every statement
 * names a huge range keeps about twice one snapshot, not 32 of them. */
#define HIST_PAGES_MIN (1u << 20)

static void hist_init(struct div_history *h)
{
	snapshot_init(&h->base);
	h->wins = g_array_new(FALSE, FALSE, sizeof(div_win));
	h->vmas = g_array_new(FALSE, FALSE, sizeof(snap_vma));
	h->pages = g_array_new(FALSE, FALSE, sizeof(guint8));
	h->ranges = g_array_new(FALSE, FALSE, sizeof(snap_range));
}

static void hist_free(struct div_history *h)
{
	snapshot_free(&h->base);
	g_array_unref(h->wins);
	g_array_unref(h->vmas);
	g_array_unref(h->pages);
	g_array_unref(h->ranges);
}

static void hist_restart(struct div_history *h)
{
	g_array_set_size(h->wins, 0);
	g_array_set_size(h->vmas, 0);
	g_array_set_size(h->pages, 0);
	g_array_set_size(h->ranges, 0);
}

/* The state after the last window kept: base with every window laid on it. */
static void hist_replay(const struct div_history *h, snapshot *out)
{
	snapshot_copy(out, &h->base);
	snapshot view;
	snapshot_init(&view);
	for (guint i = 0; i < h->wins->len; i++) {
		const div_win *w = &g_array_index(h->wins, div_win, i);
		snapshot_clear(&view);
		g_array_append_vals(view.vmas, &g_array_index(h->vmas, snap_vma, w->vma0), w->nvma);
		g_array_append_vals(view.pages, &g_array_index(h->pages, guint8, w->page0), w->npage);
		view.kernel_version = w->kernel_version;
		snapshot_apply_window(out, &view, &g_array_index(h->ranges, snap_range, w->range0), w->nrange);
	}
	snapshot_free(&view);
}

/* After a statement every target agreed at: its snapshot there becomes the
 * latest. A whole one is taken over (snap gets the old buffers back,
 * cleared); a window is copied. */
static void hist_push(struct div_history *h, snapshot *snap, gboolean full, const GArray *ranges)
{
	if (full) {
		snapshot old = h->base;
		h->base = *snap;
		*snap = old;
		snapshot_clear(snap);
		hist_restart(h);
		return;
	}
	if (h->wins->len >= HIST_FOLD ||
	    (guint64)h->pages->len + snap->pages->len > MAX((guint64)h->base.pages->len, HIST_PAGES_MIN)) {
		snapshot folded;
		snapshot_init(&folded);
		hist_replay(h, &folded);
		snapshot_free(&h->base);
		h->base = folded;
		hist_restart(h);
	}
	div_win w = {h->vmas->len, snap->vmas->len, h->pages->len, snap->pages->len, h->ranges->len, ranges->len,
	             snap->kernel_version};
	g_array_append_val(h->wins, w);
	g_array_append_vals(h->vmas, snap->vmas->data, snap->vmas->len);
	g_array_append_vals(h->pages, snap->pages->data, snap->pages->len);
	g_array_append_vals(h->ranges, ranges->data, ranges->len);
}

gboolean divergence_state(const divergence *d, guint k, gboolean after, snapshot *out)
{
	if (!d->hist || k >= d->ntargets || d->index == G_MAXUINT || d->failure == DIV_FAIL_START)
		return FALSE;
	hist_replay(&d->hist[k], out);
	if (!after || tr_is_observation(d->kind))
		return TRUE;
	if (!d->after)
		return FALSE;
	if (d->full)
		snapshot_copy(out, &d->after[k]);
	else
		snapshot_apply_window(out, &d->after[k], (const snap_range *)(void *)d->ranges->data, d->ranges->len);
	return TRUE;
}

/* ---- The engine ---------------------------------------------------------------------- */

static void set_failure(divergence *d, guint k, div_failure f, const char *msg)
{
	d->cls = DIV_FAILURE;
	d->target = k;
	d->failure = f;
	d->detail = g_strdup(msg);
}

/* The states after the diverging statement move into d. */
static void take_state(divergence *d, snapshot *snaps, guint n, gboolean full, GArray *ranges)
{
	d->full = full;
	d->after = g_new0(snapshot, n);
	for (guint k = 0; k < n; k++) {
		d->after[k] = snaps[k];
		snapshot_init(&snaps[k]);
	}
	if (!full)
		g_array_append_vals(d->ranges, ranges->data, ranges->len);
}

/* ---- Nondeterminism (diff_options.nondet_reruns) ------------------------------------------ */

/* A live target is one that runs under its own profile: kernel, exec:, vm:. */
static gboolean is_live(const target *tg)
{
	return !tg->adapts_profile;
}

static gboolean vma_records_equal(const snapshot *a, const snapshot *b)
{
	if (a->vmas->len != b->vmas->len)
		return FALSE;
	for (guint i = 0; i < a->vmas->len; i++) {
		const snap_vma *x = &g_array_index(a->vmas, snap_vma, i), *y = &g_array_index(b->vmas, snap_vma, i);
		if (x->start != y->start || x->end != y->end || x->flags != y->flags || x->offset != y->offset ||
		    x->backing != y->backing || x->object != y->object)
			return FALSE;
	}
	return TRUE;
}

/* Whether target k's difference from targets[0] at d's statement is one that
 * a kernel mechanism working at times the trace does not control can make:
 * page states alone (THP allocation falling back to 4 KiB pages, the
 * deferred-split shrinker, LRU batching keeping a folio from MADV_PAGEOUT,
 * reclaim), or MADV_COLLAPSE's result (a huge page not allocated: ENOMEM; a
 * folio not on the LRU yet: EAGAIN). A VMA layout or any other result is
 * never timing-dependent. */
/* The part of a `state` (or `maps`/`smaps`) line before its page states. */
static gsize record_len(const char *line)
{
	const char *c = strstr(line, " : ");
	return c ? (gsize)(c - line) : strlen(line);
}

static gboolean timing_sensitive(const divergence *d, const trace *t, guint k)
{
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, d->index);
	if (d->cls == DIV_OBSERVATION) {
		/* A `state` line whose VMA record agrees and whose page states do
		 * not (khugepaged collapsing a VM_HUGEPAGE range in between, a
		 * THP that fell back, a deferred split). */
		const char *a = d->obs[0], *b = d->obs[k];
		gsize la = record_len(a), lb = record_len(b);
		return s->kind == TR_STATE && la == lb && la < strlen(a) && lb < strlen(b) && memcmp(a, b, la) == 0;
	}
	gboolean result_same = tr_result_equal(&d->results[0], &d->results[k]);
	if (!result_same && !(s->kind == TR_MADVISE && s->advice == MM_MADV_COLLAPSE))
		return FALSE;
	if (d->have_state && !vma_records_equal(&d->after[0], &d->after[k]))
		return FALSE;
	return !result_same || d->have_state;
}

/* Runs statements 0..d->index of t on tg again from a fresh start; TRUE and
 * *detail (g_free) when its result or its state there differs from its
 * first run (d->results[k], d->after[k] over the same window). */
static gboolean rerun_differs(const trace *t, target *tg, guint k, divergence *d, tr_result *res, char **detail,
                              const diff_ignore *ig)
{
	GError *err = NULL;
	*detail = NULL;
	if (!tg->ops->start(tg, t, &err)) {
		*detail = g_strdup_printf("rerun failed to start: %s", err->message);
		g_error_free(err);
		return FALSE; /* a failure is not evidence of nondeterminism */
	}
	for (guint i = 0; i <= d->index; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		if (tr_is_observation(s->kind) && i == d->index) {
			/* DIV_OBSERVATION: the line that differed, again */
			GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
			gboolean ok = tg->ops->observe(tg, t, s, lines, &err);
			if (!ok)
				g_clear_error(&err);
			const char *now = ok && d->obs_line < lines->len ? g_ptr_array_index(lines, d->obs_line) : "(none)";
			gboolean differs = ok && strcmp(now, d->obs[k]) != 0;
			if (differs)
				*detail = g_strdup_printf("first run | %s\nrerun     | %s", d->obs[k], now);
			g_ptr_array_unref(lines);
			return differs;
		}
		if (tr_is_observation(s->kind))
			continue;
		if (!tg->ops->exec(tg, t, s, res, &err)) {
			g_error_free(err);
			return FALSE;
		}
	}
	ignore_result(ig, res);
	if (!tr_result_equal(res, &d->results[k])) {
		*detail = g_strdup("the result differs from the first run");
		return TRUE;
	}
	if (!d->have_state)
		return FALSE;
	snapshot now, win;
	snapshot_init(&now);
	snapshot_init(&win);
	gboolean differs = FALSE;
	if (tg->ops->snapshot(tg, t, &now, &err)) {
		snapshot *cmp = &now;
		if (ig)
			snapshot_ignore(&now, ig->pages, ig->vmflags);
		if (!d->full) {
			snapshot_window_extract(&win, &now, (const snap_range *)(void *)d->ranges->data, d->ranges->len);
			cmp = &win;
		}
		char *diff = snapshot_diff_labeled(&d->after[k], "first run", cmp, "rerun", t);
		if (diff) {
			differs = TRUE;
			*detail = diff;
		}
	} else {
		g_error_free(err);
	}
	snapshot_free(&now);
	snapshot_free(&win);
	return differs;
}

/* d is a DIV_RESULT or DIV_STATE divergence: rerun each live target that
 * differs from targets[0] in a timing-sensitive way; the first that
 * disagrees with itself turns d into DIV_NONDET. */
static void check_nondeterminism(const trace *t, target *const *targets, guint n, const diff_options *opt,
                                 divergence *d)
{
	guint reruns = opt && opt->nondet_reruns ? opt->nondet_reruns : DIFF_NONDET_RERUNS_DEFAULT;
	if (reruns == G_MAXUINT || (d->cls != DIV_RESULT && d->cls != DIV_STATE && d->cls != DIV_OBSERVATION) ||
	    d->index >= t->stmts->len)
		return;
	for (guint k = 0; k < n; k++) {
		if (!is_live(targets[k]) || (d->cls != DIV_OBSERVATION && !d->ran[k]))
			continue;
		/* Compared with targets[0]; a live targets[0] is compared with the
		 * diverging target's side of it. */
		guint other = k == 0 ? d->target : k;
		if (other == 0)
			continue;
		gboolean differs;
		if (d->cls == DIV_OBSERVATION)
			differs = strcmp(d->obs[0], d->obs[other]) != 0;
		else
			differs = !tr_result_equal(&d->results[0], &d->results[other]);
		if (!differs && d->cls != DIV_OBSERVATION && d->have_state) {
			char *diff = snapshot_diff(&d->after[0], &d->after[other], t);
			differs = diff != NULL;
			g_free(diff);
		}
		if (!differs || !timing_sensitive(d, t, other))
			continue;
		for (guint r = 1; r <= reruns; r++) {
			/* Memory pressure comes in bursts (other processes, the
			 * deferred-split shrinker): later reruns wait a little. */
			if (r > 1 && opt && opt->nondet_backoff_ms)
				g_usleep((gulong)opt->nondet_backoff_ms * 1000ul * (r - 1));
			tr_result res;
			memset(&res, 0, sizeof(res));
			char *detail = NULL;
			if (rerun_differs(t, targets[k], k, d, &res, &detail, opt ? opt->ignore : NULL)) {
				d->nondet_of = d->cls;
				d->nondet_other = k == 0 ? d->target : 0;
				d->cls = DIV_NONDET;
				d->target = k;
				d->nondet_rerun = r;
				d->nondet_result = res;
				d->nondet_detail = detail;
				return;
			}
			g_free(detail);
		}
	}
}

diff_status diff_run_data(const trace *t, target *const *targets, guint n, const diff_options *opt, divergence *d,
                          guint64 *stmts_run)
{
	memset(d, 0, sizeof(*d));
	d->index = G_MAXUINT;
	d->ntargets = n;
	d->names = g_new0(char *, n + 1);
	for (guint k = 0; k < n; k++)
		d->names[k] = g_strdup(targets[k]->name);
	d->ran = g_new0(gboolean, n);
	d->results = g_new0(tr_result, n);
	d->ranges = g_array_new(FALSE, FALSE, sizeof(snap_range));
	d->ref_results = g_array_new(FALSE, TRUE, sizeof(tr_result));
	GError *err = NULL;
	for (guint k = 0; k < n; k++) {
		char *why = target_not_applicable(targets[k], t, opt ? opt->profile : NULL);
		if (why) {
			d->report = g_strdup_printf("%s:%d: not applicable on %s: %s\n", t->filename, t->profile_line,
			                            targets[k]->name, why);
			g_free(why);
			return DIFF_NOT_APPLICABLE;
		}
	}
	for (guint k = 0; k < n; k++)
		if (!targets[k]->ops->start(targets[k], t, &err)) {
			set_failure(d, k, DIV_FAIL_START, err->message);
			g_error_free(err);
			d->report = divergence_render(d, t);
			return DIFF_DIVERGED;
		}
	d->hist = g_new0(struct div_history, n);
	for (guint k = 0; k < n; k++)
		hist_init(&d->hist[k]);

	guint full_every = opt && opt->full_every ? opt->full_every : DIFF_FULL_EVERY_DEFAULT;
	guint last_op = G_MAXUINT;
	for (guint i = 0; i < t->stmts->len; i++)
		if (!tr_is_observation(g_array_index(t->stmts, tr_stmt, i).kind))
			last_op = i;
	tr_result *res = d->results;
	snapshot *snaps = g_new0(snapshot, n);
	snapshot scratch;
	snapshot_init(&scratch);
	GPtrArray **obs = g_new0(GPtrArray *, n);
	for (guint k = 0; k < n; k++) {
		snapshot_init(&snaps[k]);
		obs[k] = g_ptr_array_new_with_free_func(g_free);
	}
	GArray *ranges = g_array_new(FALSE, FALSE, sizeof(snap_range));
	GArray *own = g_array_new(FALSE, FALSE, sizeof(snap_range));
	GString *violations = g_string_new(NULL);
	guint64 done = 0;

	for (guint i = 0; i < t->stmts->len && d->cls == DIV_NONE; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		done++;
		d->index = i;
		d->kind = s->kind;
		d->line = s->line;
		gboolean full = FALSE, snapped = FALSE;
		if (!tr_is_observation(s->kind)) {
			g_array_set_size(own, 0);
			full = !stmt_ranges(t, s, NULL, 0, own) || full_every == 1 || (i + 1) % full_every == 0 ||
			       i == last_op;
			/* Run it everywhere, then compare results and state. */
			for (guint k = 0; k < n && d->cls == DIV_NONE; k++) {
				if (!targets[k]->ops->exec(targets[k], t, s, &res[k], &err)) {
					set_failure(d, k, DIV_FAIL_EXEC, err->message);
					g_clear_error(&err);
				} else {
					d->ran[k] = TRUE;
					ignore_result(opt ? opt->ignore : NULL, &res[k]);
				}
			}
			gboolean failed = d->cls != DIV_NONE;
			for (guint k = 1; k < n && d->cls == DIV_NONE; k++)
				if (!tr_result_equal(&res[0], &res[k])) {
					d->cls = DIV_RESULT;
					d->target = k;
					d->results_differ = TRUE;
				}
			/* The ranges to compare: what each target knows it changed and
			 * what the statement names. */
			g_array_set_size(ranges, 0);
			if (!full && !failed) {
				full = !stmt_ranges(t, s, res, n, ranges);
				for (guint k = 0; k < n && !full; k++)
					if (targets[k]->changed) {
						const snap_range *c;
						guint nc = targets[k]->changed(targets[k], &c);
						g_array_append_vals(ranges, c, nc);
					}
				snap_ranges_normalize(ranges);
			}
			const snap_range *rv = (const snap_range *)(void *)ranges->data;
			/* The state after it, also when the results differ: it tells what
			 * the different results did. */
			snapped = !failed;
			for (guint k = 0; k < n && snapped; k++) {
				gboolean ok;
				if (full)
					ok = targets[k]->ops->snapshot(targets[k], t, &snaps[k], &err);
				else if (targets[k]->snapshot_window)
					ok = targets[k]->snapshot_window(targets[k], t, rv, ranges->len, &snaps[k], &err);
				else if ((ok = targets[k]->ops->snapshot(targets[k], t, &scratch, &err)))
					snapshot_window_extract(&snaps[k], &scratch, rv, ranges->len);
				if (!ok) {
					if (!d->results_differ)
						set_failure(d, k, DIV_FAIL_STATE, err->message);
					g_clear_error(&err);
					snapped = FALSE;
				}
			}
			for (guint k = 0; k < n && snapped && opt && opt->ignore; k++)
				snapshot_ignore(&snaps[k], opt->ignore->pages, opt->ignore->vmflags);
			for (guint k = 1; k < n && snapped; k++) {
				char *diff = snapshot_diff_labeled(&snaps[0], targets[0]->name, &snaps[k], targets[k]->name, t);
				if (diff) {
					g_free(diff);
					if (!d->results_differ) {
						d->cls = DIV_STATE;
						d->target = k;
					}
					d->have_state = TRUE;
					break;
				}
			}
		} else {
			for (guint k = 0; k < n && d->cls == DIV_NONE; k++) {
				g_ptr_array_set_size(obs[k], 0);
				if (!targets[k]->ops->observe(targets[k], t, s, obs[k], &err)) {
					set_failure(d, k, DIV_FAIL_EXEC, err->message);
					g_clear_error(&err);
				}
				ignore_lines(opt ? opt->ignore : NULL, s->kind, obs[k]);
			}
			guint at;
			for (guint k = 1; k < n && d->cls == DIV_NONE; k++)
				if (!lines_equal(obs[0], obs[k], &at)) {
					d->cls = DIV_OBSERVATION;
					d->target = k;
					d->obs_line = at;
					d->obs = g_new0(char *, n + 1);
					d->obs_lines = g_new0(GPtrArray *, n + 1);
					for (guint j = 0; j < n; j++) {
						d->obs[j] = g_strdup(line_or_none(obs[j], at));
						d->obs_lines[j] = g_ptr_array_ref(obs[j]);
					}
				}
		}
		if (d->cls == DIV_NONE && opt && opt->check) {
			gboolean local = !tr_is_observation(s->kind) && !full;
			gsize nv = 0;
			guint k = check_targets(targets, n, local ? (const snap_range *)(void *)ranges->data : NULL,
			                        ranges->len, violations, &nv);
			if (k < n) {
				d->cls = DIV_CHECK;
				d->target = k;
				d->nviolations = nv;
				d->detail = g_strdup(violations->str);
			}
		}
		/* Keep what was seen: the states after a diverging statement in d,
		 * else in each target's history (divergence_state). */
		if (snapped && d->cls != DIV_NONE)
			take_state(d, snaps, n, full, ranges);
		else if (snapped)
			for (guint k = 0; k < n; k++)
				hist_push(&d->hist[k], &snaps[k], full, ranges);
		if (d->cls == DIV_NONE) {
			tr_result r0;
			memset(&r0, 0, sizeof(r0));
			if (!tr_is_observation(s->kind))
				r0 = res[0];
			g_array_append_val(d->ref_results, r0);
		}
	}
	if (d->cls == DIV_RESULT || d->cls == DIV_STATE || d->cls == DIV_OBSERVATION)
		check_nondeterminism(t, targets, n, opt, d);
	for (guint k = 0; k < n; k++) {
		snapshot_free(&snaps[k]);
		g_ptr_array_unref(obs[k]);
	}
	snapshot_free(&scratch);
	g_free(obs);
	g_free(snaps);
	g_array_unref(ranges);
	g_array_unref(own);
	g_string_free(violations, TRUE);
	if (stmts_run)
		*stmts_run += done;
	if (d->cls == DIV_NONE)
		return DIFF_SAME;
	d->report = divergence_render(d, t);
	return d->cls == DIV_NONDET ? DIFF_NONDETERMINISTIC : DIFF_DIVERGED;
}

char *divergence_render(const divergence *d, const trace *t)
{
	if (d->cls == DIV_NONE)
		return NULL;
	GString *r = g_string_new(NULL);
	if (d->failure == DIV_FAIL_START) {
		g_string_append_printf(r, "%s:0: %s failed to start: %s\n", t->filename, d->names[d->target], d->detail);
		return g_string_free(r, FALSE);
	}
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, d->index);
	char *st = stmt_text(t, s, NULL);
	switch (d->cls) {
	case DIV_FAILURE:
		if (d->failure == DIV_FAIL_STATE)
			g_string_append_printf(r, "%s:%d: %s failed to report its state after: %s\n  %s\n", t->filename,
			                       s->line, d->names[d->target], st, d->detail);
		else
			g_string_append_printf(r, "%s:%d: %s failed at: %s\n  %s\n", t->filename, s->line,
			                       d->names[d->target], st, d->detail);
		break;
	case DIV_RESULT:
	case DIV_STATE:
		if (d->cls == DIV_RESULT) {
			g_string_append_printf(r, "%s:%d: results differ: %s\n", t->filename, s->line, st);
			for (guint j = 0; j < d->ntargets; j++) {
				char *rt = result_text(t, s->kind, &d->results[j]);
				g_string_append_printf(r, "  %-8s => %s\n", d->names[j], rt);
				g_free(rt);
			}
		}
		if (d->have_state) {
			char *diff = snapshot_diff_labeled(&d->after[0], d->names[0], &d->after[d->target],
			                                   d->names[d->target], t);
			if (d->cls == DIV_RESULT) {
				g_string_append(r, "  and the state differs after it:\n");
			} else {
				char *sr = stmt_text(t, s, &d->results[0]);
				g_string_append_printf(r, "%s:%d: state differs after: %s\n", t->filename, s->line, sr);
				g_free(sr);
			}
			append_indented(r, diff ? diff : "", d->cls == DIV_RESULT ? "    " : "  ");
			g_free(diff);
		}
		break;
	case DIV_OBSERVATION:
		g_string_append_printf(r, "%s:%d: observation differs at its line %u: %s\n", t->filename, s->line,
		                       d->obs_line + 1, st);
		for (guint j = 0; j < d->ntargets; j++)
			g_string_append_printf(r, "  %-8s | %s\n", d->names[j], d->obs[j]);
		break;
	case DIV_NONDET: {
		gboolean obs = d->nondet_of == DIV_OBSERVATION;
		char *r0 = obs ? g_strdup("(an observation)") : result_text(t, s->kind, &d->results[d->target]);
		char *r1 = obs ? g_strdup("(an observation)") : result_text(t, s->kind, &d->nondet_result);
		g_string_append_printf(r, "%s:%d: %s nondeterministic at %d: %s\n", t->filename, s->line,
		                       d->names[d->target], s->line, st);
		g_string_append_printf(r, "  it differed from %s here (%s); run again from a fresh start, it disagreed "
		                       "with itself (rerun %u)\n  first run => %s\n  rerun %u   => %s\n",
		                       d->names[d->nondet_other],
		                       d->nondet_of == DIV_RESULT        ? "results differ"
		                       : d->nondet_of == DIV_OBSERVATION ? "observation differs"
		                                                         : "state differs",
		                       d->nondet_rerun, r0,
		                       d->nondet_rerun, r1);
		if (d->nondet_detail)
			append_indented(r, d->nondet_detail, "  ");
		g_free(r0);
		g_free(r1);
		break;
	}
	case DIV_CHECK:
		g_string_append_printf(r, "%s:%d: %s: mm_check found %zu violation%s after: %s\n", t->filename, s->line,
		                       d->names[d->target], (size_t)d->nviolations, d->nviolations == 1 ? "" : "s", st);
		append_indented(r, d->detail, "  ");
		break;
	default:
		break;
	}
	g_free(st);
	return g_string_free(r, FALSE);
}

void divergence_clear(divergence *d)
{
	if (d->after)
		for (guint k = 0; k < d->ntargets; k++)
			snapshot_free(&d->after[k]);
	g_free(d->after);
	if (d->ranges)
		g_array_unref(d->ranges);
	if (d->hist)
		for (guint k = 0; k < d->ntargets; k++)
			hist_free(&d->hist[k]);
	g_free(d->hist);
	if (d->ref_results)
		g_array_unref(d->ref_results);
	if (d->obs_lines)
		for (guint k = 0; k < d->ntargets; k++)
			g_ptr_array_unref(d->obs_lines[k]);
	g_free(d->obs_lines);
	g_strfreev(d->names);
	g_strfreev(d->obs);
	g_free(d->ran);
	g_free(d->results);
	g_free(d->detail);
	g_free(d->nondet_detail);
	g_free(d->report);
	guint index = d->index;
	memset(d, 0, sizeof(*d));
	d->index = index;
}

diff_status diff_run(const trace *t, target *const *targets, guint n, const diff_options *opt, char **report,
                     guint64 *stmts_run)
{
	divergence d;
	diff_status st = diff_run_data(t, targets, n, opt, &d, stmts_run);
	*report = d.report;
	d.report = NULL;
	divergence_clear(&d);
	return st;
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
			tr_result want_res = s->expect;
			tr_result got_res = o->res;
			ignore_result(opt->ignore, &want_res);
			ignore_result(opt->ignore, &got_res);
			if (s->expect.kind != TR_RES_NONE && !tr_result_equal(&want_res, &got_res)) {
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
			GPtrArray *want = NULL, *got = o->lines;
			if (s->expect_lines && opt->ignore) { /* compared without the ignored facets; annotated whole */
				want = g_ptr_array_new_with_free_func(g_free);
				got = g_ptr_array_new_with_free_func(g_free);
				for (guint j = 0; j < s->expect_lines->len; j++)
					g_ptr_array_add(want, g_strdup(g_ptr_array_index(s->expect_lines, j)));
				for (guint j = 0; j < o->lines->len; j++)
					g_ptr_array_add(got, g_strdup(g_ptr_array_index(o->lines, j)));
				ignore_lines(opt->ignore, s->kind, want);
				ignore_lines(opt->ignore, s->kind, got);
			}
			gboolean same = !s->expect_lines || lines_equal(want ? want : s->expect_lines, got, &at);
			if (want) {
				g_ptr_array_unref(want);
				g_ptr_array_unref(got);
			}
			if (!same) {
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
			char *c = check_report(t, s, tg);
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

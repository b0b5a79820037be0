/* The divergence report (report.h): one self-contained HTML page.
 *
 * The address space is drawn on one axis shared by every lane of both
 * pictures (before, after), so that the same address is at the same x in
 * every lane: the axis is cut at every VMA boundary of every snapshot, at
 * the arena's ends and at the diverging statement's range, and each piece
 * gets a width by how much it holds (a piece some VMA covers grows with the
 * log of its size, an empty gap is narrow), not by its size, which would
 * leave a 4 KiB VMA invisible in a 1 GiB arena.
 *
 *   lane  | name  |  ▭▭▭▭ VMA bar (fill: rwx)  ▭▭▭▭▭▭▭▭  |
 *         |       |  ▪▪▪▪ page states          ▪▪▪▪▪▪▪▪  |
 *
 * A VMA that has no identical VMA in the reference (sides[0]; identical:
 * same range, flags, offset and backing) is outlined in red in both lanes; a
 * page whose state differs from the reference's at the same address gets a
 * red mark over its lane's page strip. */
#include "report.h"

#include <string.h>

#define SVG_WIDTH 540.0
#define LABEL_WIDTH 92.0
#define PLOT_LEFT (LABEL_WIDTH + 6.0)
#define PLOT_RIGHT (SVG_WIDTH - 8.0)
#define AXIS_TOP 30.0
#define LANE_HEIGHT 46.0
#define BAR_HEIGHT 20.0
#define STRIP_TOP 23.0
#define STRIP_HEIGHT 9.0
#define MARK_TOP 34.0
#define MARK_HEIGHT 5.0

/* ---- Text -------------------------------------------------------------------------- */

static void esc(GString *out, const char *text)
{
	char *e = g_markup_escape_text(text ? text : "", -1);
	g_string_append(out, e);
	g_free(e);
}

static char *stmt_text(const trace *t, const tr_stmt *s)
{
	GString *g = g_string_new(NULL);
	trace_print_stmt(g, t, s, false);
	return g_string_free(g, FALSE);
}

static char *result_text(const trace *t, tr_kind kind, const tr_result *r)
{
	GString *g = g_string_new(NULL);
	trace_print_result(g, t, kind, r);
	return g_string_free(g, FALSE);
}

static char *size_text(uint64_t bytes)
{
	if (bytes >= (64ull << 20) && bytes % (1ull << 20) != 0)
		return g_strdup_printf("~%" G_GUINT64_FORMAT "M", (guint64)((bytes + (1ull << 19)) >> 20));
	if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
		return g_strdup_printf("%" G_GUINT64_FORMAT "G", bytes >> 30);
	if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
		return g_strdup_printf("%" G_GUINT64_FORMAT "M", bytes >> 20);
	return g_strdup_printf("%" G_GUINT64_FORMAT "K", bytes >> 10);
}

static char *addr_text(const trace *t, uint64_t a)
{
	if (a >= t->arena_base && a - t->arena_base <= t->arena_size)
		return g_strdup_printf("+0x%" G_GINT64_MODIFIER "x", a - t->arena_base);
	return g_strdup_printf("0x%" G_GINT64_MODIFIER "x", a);
}

/* ---- What differs -------------------------------------------------------------------- */

/* One VMA's identity: its `state` line without the pages. */
typedef struct vma_keys {
	gboolean known;   /* the snapshot is known */
	GPtrArray *keys;  /* char *, one per VMA */
	GPtrArray *lines; /* the full `state` lines */
} vma_keys;

static void keys_init(vma_keys *k, const snapshot *s, const trace *t)
{
	k->keys = g_ptr_array_new_with_free_func(g_free);
	k->lines = g_ptr_array_new_with_free_func(g_free);
	k->known = s != NULL;
	if (!s)
		return;
	tr_stmt st = {.kind = TR_STATE};
	snapshot_render(s, t, &st, k->lines);
	for (guint i = 0; i < k->lines->len; i++) {
		const char *l = g_ptr_array_index(k->lines, i);
		const char *colon = strstr(l, " :");
		g_ptr_array_add(k->keys, colon ? g_strndup(l, (gsize)(colon - l)) : g_strdup(l));
	}
}

static void keys_clear(vma_keys *k)
{
	g_ptr_array_unref(k->keys);
	g_ptr_array_unref(k->lines);
}

static gboolean keys_has(const vma_keys *k, const char *key)
{
	for (guint i = 0; i < k->keys->len; i++)
		if (strcmp(g_ptr_array_index(k->keys, i), key) == 0)
			return TRUE;
	return FALSE;
}

/* Whether VMA i of side k has a twin in every side it is compared with:
 * the reference for k > 0, every other side for the reference. */
static gboolean vma_matches(const vma_keys *keys, guint n, guint k, guint i)
{
	const char *key = g_ptr_array_index(keys[k].keys, i);
	if (k > 0)
		return !keys[0].known || keys_has(&keys[0], key);
	for (guint j = 1; j < n; j++)
		if (keys[j].known && !keys_has(&keys[j], key))
			return FALSE;
	return TRUE;
}

/* A page not seen on one side differs from nothing. */
static gboolean pages_differ(mm_page_state x, mm_page_state y)
{
	return x != y && (int)x != SNAP_PAGE_UNKNOWN && (int)y != SNAP_PAGE_UNKNOWN;
}

/* Whether the page at a differs between side k and the reference (for the
 * reference: from any side). */
static gboolean page_differs(const snapshot *const *snaps, guint n, guint k, uint64_t a)
{
	if (!snaps[k])
		return FALSE;
	if (k > 0)
		return snaps[0] && pages_differ(snapshot_page(snaps[0], a), snapshot_page(snaps[k], a));
	for (guint j = 1; j < n; j++)
		if (snaps[j] && pages_differ(snapshot_page(snaps[0], a), snapshot_page(snaps[j], a)))
			return TRUE;
	return FALSE;
}

/* ---- The axis ------------------------------------------------------------------------ */

typedef struct axis {
	GArray *b; /* uint64_t boundaries, sorted, unique */
	double *x; /* x of each boundary */
} axis;

static int cmp_u64(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static gboolean covered(const snapshot *const *snaps, guint ns, uint64_t lo, uint64_t hi)
{
	uint64_t mid = lo + (hi - lo) / 2;
	for (guint k = 0; k < ns; k++) {
		if (!snaps[k])
			continue;
		for (guint i = 0; i < snaps[k]->vmas->len; i++) {
			const snap_vma *v = &g_array_index(snaps[k]->vmas, snap_vma, i);
			if (v->start <= mid && mid < v->end)
				return TRUE;
		}
	}
	return FALSE;
}

static void add_bound(GArray *b, const trace *t, uint64_t a)
{
	uint64_t lo = t->arena_base, hi = t->arena_base + t->arena_size;
	a &= ~(MM_PAGE_SIZE - 1);
	if (a >= lo && a <= hi)
		g_array_append_val(b, a);
}

/* The statement's ranges: up to two [lo, hi) (mremap: old and new). */
static guint stmt_ranges(const trace *t, const tr_stmt *s, const report_side *ref, uint64_t lo[2], uint64_t hi[2])
{
	if (!s)
		return 0;
	guint n = 0;
	uint64_t page = MM_PAGE_SIZE;
	switch (s->kind) {
	case TR_MMAP:
		if (s->addr) {
			lo[n] = s->addr;
			hi[n++] = s->addr + MAX(s->len, 1);
		} else if (ref && ref->ran && ref->result.kind == TR_RES_VALUE) {
			lo[n] = ref->result.value;
			hi[n++] = ref->result.value + MAX(s->len, 1);
		}
		break;
	case TR_MREMAP:
		lo[n] = s->addr;
		hi[n++] = s->addr + MAX(s->len, 1);
		if (s->has_new_addr) {
			lo[n] = s->new_addr;
			hi[n++] = s->new_addr + MAX(s->new_len, 1);
		} else if (ref && ref->ran && ref->result.kind == TR_RES_VALUE && ref->result.value != s->addr) {
			lo[n] = ref->result.value;
			hi[n++] = ref->result.value + MAX(s->new_len, 1);
		}
		break;
	case TR_TOUCH:
	case TR_WRITE:
	case TR_READ:
		lo[n] = s->addr;
		hi[n++] = s->addr + 1;
		break;
	case TR_MAPS:
	case TR_SMAPS:
	case TR_STATE:
		break;
	default: /* munmap mprotect madvise mlock munlock mseal pages */
		lo[n] = s->addr;
		hi[n++] = s->addr + MAX(s->len, 1);
		break;
	}
	uint64_t end = t->arena_base + t->arena_size;
	for (guint i = 0; i < n; i++) {
		if (hi[i] < lo[i] || hi[i] > end)
			hi[i] = end;
		lo[i] &= ~(page - 1);
		hi[i] = hi[i] > UINT64_MAX - page ? end : (hi[i] + page - 1) & ~(page - 1);
		if (lo[i] < t->arena_base)
			lo[i] = t->arena_base;
		if (hi[i] > end)
			hi[i] = end;
	}
	return n;
}

static void axis_build(axis *ax, const trace *t, const snapshot *const *snaps, guint ns, const uint64_t *rlo,
                       const uint64_t *rhi, guint nr)
{
	ax->b = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	add_bound(ax->b, t, t->arena_base);
	add_bound(ax->b, t, t->arena_base + t->arena_size);
	for (guint k = 0; k < ns; k++)
		for (guint i = 0; snaps[k] && i < snaps[k]->vmas->len; i++) {
			const snap_vma *v = &g_array_index(snaps[k]->vmas, snap_vma, i);
			add_bound(ax->b, t, v->start);
			add_bound(ax->b, t, v->end);
		}
	for (guint i = 0; i < nr; i++) {
		add_bound(ax->b, t, rlo[i]);
		add_bound(ax->b, t, rhi[i]);
	}
	g_array_sort(ax->b, cmp_u64);
	guint w = 0;
	for (guint i = 0; i < ax->b->len; i++)
		if (!w || g_array_index(ax->b, uint64_t, i) != g_array_index(ax->b, uint64_t, w - 1))
			g_array_index(ax->b, uint64_t, w++) = g_array_index(ax->b, uint64_t, i);
	g_array_set_size(ax->b, w);
	guint nb = ax->b->len;
	double *weight = g_new0(double, nb + 1);
	double total = 0;
	for (guint i = 0; i + 1 < nb; i++) {
		uint64_t lo = g_array_index(ax->b, uint64_t, i), hi = g_array_index(ax->b, uint64_t, i + 1);
		guint log2_pages = 0;
		for (uint64_t pages = (hi - lo) >> MM_PAGE_SHIFT; pages > 1; pages >>= 1)
			log2_pages++;
		weight[i] = covered(snaps, ns, lo, hi) ? 1.0 + log2_pages / 3.0 : 0.6;
		total += weight[i];
	}
	ax->x = g_new0(double, nb + 1);
	double x = PLOT_LEFT, span = PLOT_RIGHT - PLOT_LEFT;
	for (guint i = 0; i < nb; i++) {
		ax->x[i] = x;
		if (i + 1 < nb)
			x += total > 0 ? span * weight[i] / total : 0;
	}
	g_free(weight);
}

static void axis_clear(axis *ax)
{
	g_array_unref(ax->b);
	g_free(ax->x);
}

static double axis_x(const axis *ax, uint64_t a)
{
	guint nb = ax->b->len;
	if (nb == 0)
		return PLOT_LEFT;
	if (a <= g_array_index(ax->b, uint64_t, 0))
		return ax->x[0];
	if (a >= g_array_index(ax->b, uint64_t, nb - 1))
		return ax->x[nb - 1];
	guint lo = 0, hi = nb - 1; /* b[lo] <= a < b[hi] */
	while (hi - lo > 1) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(ax->b, uint64_t, mid) <= a)
			lo = mid;
		else
			hi = mid;
	}
	uint64_t b0 = g_array_index(ax->b, uint64_t, lo), b1 = g_array_index(ax->b, uint64_t, hi);
	return ax->x[lo] + (ax->x[hi] - ax->x[lo]) * (double)(a - b0) / (double)(b1 - b0);
}

/* ---- SVG ------------------------------------------------------------------------------- */

static const char *perm_fill(uint64_t flags)
{
	static const char *const fills[8] = {
		"#d4d4d4", /* --- */
		"#9ecae1", /* r-- */
		"#c7e9c0", /* -w- */
		"#74c476", /* rw- */
		"#fdd0a2", /* --x */
		"#fd8d3c", /* r-x */
		"#fc9272", /* -wx */
		"#e34a33", /* rwx */
	};
	return fills[flags & MM_VM_ACCESS_FLAGS];
}

/* by mm_page_state; the last is SNAP_PAGE_UNKNOWN */
static const char *const page_fill[] = {"#ffffff", "#bdbdbd", "#3182bd", "#756bb1", "#111111", "#f1e4bf"};
static const char *const page_name[] = {"none", "zero", "anon", "file", "guard", "not seen"};

/* How much a page state shows when several share one pixel. */
static int page_rank(int st)
{
	static const int rank[] = {0, 1, 3, 2, 4};
	return st >= 0 && st < 5 ? rank[st] : 0;
}

/* Runs over [lo, hi) of a per-page value, sampled to at most one run per
 * pixel column; calls emit(x0, x1, value) for each run of equal values. */
typedef int (*page_value_fn)(const void *ctx, uint64_t a);
#define COLUMN_SAMPLES 64
typedef void (*emit_fn)(GString *out, double x0, double x1, int value, const void *ctx);

static void page_runs(GString *out, const axis *ax, uint64_t lo, uint64_t hi, page_value_fn value, emit_fn emit,
                      const void *ctx, gboolean by_rank)
{
	for (guint i = 0; i + 1 < ax->b->len; i++) {
		uint64_t s0 = MAX(lo, g_array_index(ax->b, uint64_t, i));
		uint64_t s1 = MIN(hi, g_array_index(ax->b, uint64_t, i + 1));
		if (s0 >= s1)
			continue;
		double x0 = axis_x(ax, s0), x1 = axis_x(ax, s1);
		uint64_t np = (s1 - s0) >> MM_PAGE_SHIFT;
		guint cols = (guint)(x1 - x0) + 1;
		gboolean sample = np > 2ull * cols;
		uint64_t steps = sample ? cols : np;
		int run_v = -1;
		double run_x = x0;
		for (uint64_t c = 0; c < steps; c++) {
			int v;
			double cx = x0 + (x1 - x0) * (double)c / (double)steps;
			if (!sample) {
				v = value(ctx, s0 + (c << MM_PAGE_SHIFT));
			} else { /* the most telling state among the column's pages */
				uint64_t p0 = c * np / steps, p1 = (c + 1) * np / steps;
				/* At most COLUMN_SAMPLES pages per pixel column, evenly
				 * spaced: a huge arena costs no more than a small one. */
				uint64_t stride = MAX((MAX(p1, p0 + 1) - p0) / COLUMN_SAMPLES, 1);
				v = -1;
				for (uint64_t p = p0; p < MAX(p1, p0 + 1); p += stride) {
					int pv = value(ctx, s0 + (p << MM_PAGE_SHIFT));
					if (v < 0 || (by_rank ? page_rank(pv) > page_rank(v) : pv > v))
						v = pv;
				}
			}
			if (v != run_v) {
				if (run_v >= 0)
					emit(out, run_x, cx, run_v, ctx);
				run_v = v;
				run_x = cx;
			}
		}
		if (run_v >= 0)
			emit(out, run_x, x1, run_v, ctx);
	}
}

typedef struct lane_ctx {
	const snapshot *const *snaps;
	guint n, k;
	double y;
} lane_ctx;

static int page_state_at(const void *ctx, uint64_t a)
{
	const lane_ctx *c = ctx;
	return (int)snapshot_page(c->snaps[c->k], a);
}

static int page_diff_at(const void *ctx, uint64_t a)
{
	const lane_ctx *c = ctx;
	return page_differs(c->snaps, c->n, c->k, a);
}

static void emit_page(GString *out, double x0, double x1, int v, const void *ctx)
{
	const lane_ctx *c = ctx;
	if (v == MM_PAGE_NONE)
		return; /* the strip's background */
	g_string_append_printf(out,
	                       "<rect class=\"pg\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"><title>%s"
	                       "</title></rect>\n",
	                       x0, c->y + STRIP_TOP, MAX(x1 - x0, 0.6), STRIP_HEIGHT, page_fill[v < 6 ? v : 0],
	                       page_name[v < 6 ? v : 0]);
}

static void emit_mark(GString *out, double x0, double x1, int v, const void *ctx)
{
	const lane_ctx *c = ctx;
	if (!v)
		return;
	g_string_append_printf(out,
	                       "<rect class=\"pd\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.1f\"><title>page state "
	                       "differs</title></rect>\n",
	                       x0, c->y + MARK_TOP, MAX(x1 - x0, 1.5), MARK_HEIGHT);
}

static void svg_lane(GString *out, const trace *t, const axis *ax, const snapshot *const *snaps, const vma_keys *keys,
                     guint n, guint k, const char *name, double y)
{
	g_string_append_printf(out, "<g class=\"lane\" data-target=\"%u\">\n", k);
	g_string_append_printf(out, "<text class=\"name\" x=\"4\" y=\"%.1f\">", y + 15);
	char *shortname = g_utf8_strlen(name, -1) > 13 ? g_strdup_printf("%.12s…", name) : g_strdup(name);
	esc(out, shortname);
	g_free(shortname);
	g_string_append(out, "<title>");
	esc(out, name);
	g_string_append(out, "</title></text>\n");
	g_string_append_printf(out, "<line class=\"base\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PLOT_LEFT,
	                       y + BAR_HEIGHT / 2, PLOT_RIGHT, y + BAR_HEIGHT / 2);
	const snapshot *s = snaps[k];
	if (!s) {
		g_string_append_printf(out, "<text class=\"na\" x=\"%.1f\" y=\"%.1f\">state unknown</text>\n</g>\n",
		                       PLOT_LEFT + 8, y + 15);
		return;
	}
	lane_ctx ctx = {.snaps = snaps, .n = n, .k = k, .y = y};
	for (guint i = 0; i < s->vmas->len; i++) {
		const snap_vma *v = &g_array_index(s->vmas, snap_vma, i);
		double x0 = axis_x(ax, v->start), x1 = axis_x(ax, v->end);
		gboolean same = vma_matches(keys, n, k, i);
		gboolean shared = (v->flags & MM_VM_MAYSHARE) != 0;
		g_string_append_printf(out,
		                       "<rect class=\"vma%s%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
		                       "fill=\"%s\"><title>",
		                       same ? "" : " diff", shared ? " shared" : "", x0, y, MAX(x1 - x0, 1.0), BAR_HEIGHT,
		                       perm_fill(v->flags));
		esc(out, g_ptr_array_index(keys[k].lines, i));
		g_string_append(out, "</title></rect>\n");
		/* the page strip's background, then the pages */
		g_string_append_printf(out,
		                       "<rect class=\"strip\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>\n", x0,
		                       y + STRIP_TOP, MAX(x1 - x0, 1.0), STRIP_HEIGHT);
		page_runs(out, ax, v->start, v->end, page_state_at, emit_page, &ctx, TRUE);
		if (x1 - x0 > 34) {
			char perms[5];
			mm_format_perms(v->flags, perms);
			g_string_append_printf(out, "<text class=\"perm\" x=\"%.2f\" y=\"%.1f\">%.4s</text>\n",
			                       (x0 + x1) / 2, y + 14, perms);
		}
	}
	/* red marks where a page's state differs, anywhere in the arena */
	page_runs(out, ax, t->arena_base, t->arena_base + t->arena_size, page_diff_at, emit_mark, &ctx, FALSE);
	g_string_append(out, "</g>\n");
}

static void svg_phase(GString *out, const report_page *p, const axis *ax, gboolean after, const uint64_t *rlo,
                      const uint64_t *rhi, guint nr)
{
	const trace *t = p->t;
	const snapshot **snaps = g_new0(const snapshot *, p->n + 1);
	vma_keys *keys = g_new0(vma_keys, p->n + 1);
	for (guint k = 0; k < p->n; k++) {
		snaps[k] = after ? p->sides[k].after : p->sides[k].before;
		keys_init(&keys[k], snaps[k], t);
	}
	double height = AXIS_TOP + LANE_HEIGHT * p->n + 8;
	g_string_append_printf(out,
	                       "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"space\" width=\"%.0f\" height=\"%.0f\" "
	                       "viewBox=\"0 0 %.0f %.0f\">\n",
	                       SVG_WIDTH, height, SVG_WIDTH, height);
	/* the statement's range, behind everything */
	for (guint i = 0; i < nr; i++) {
		double x0 = axis_x(ax, rlo[i]), x1 = axis_x(ax, rhi[i]);
		g_string_append_printf(out,
		                       "<rect class=\"range\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"><title>the "
		                       "statement's range</title></rect>\n",
		                       x0, AXIS_TOP - 6, MAX(x1 - x0, 2.0), height - AXIS_TOP + 4);
	}
	/* axis: a tick at every boundary, a label where there is room */
	double last_label = -1e9;
	for (guint i = 0; i < ax->b->len; i++) {
		double x = ax->x[i];
		g_string_append_printf(out, "<line class=\"tick\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n", x,
		                       AXIS_TOP - 4, x, height - 4);
		gboolean last = i + 1 == ax->b->len;
		if ((x - last_label >= 58 && (!last || x - last_label >= 80)) || i == 0) {
			char *a = addr_text(t, g_array_index(ax->b, uint64_t, i));
			g_string_append_printf(out, "<text class=\"addr%s\" x=\"%.2f\" y=\"%.1f\">%s</text>\n",
			                       last ? " end" : "", x, AXIS_TOP - 10, a);
			g_free(a);
			last_label = x;
		}
		if (i + 1 < ax->b->len && ax->x[i + 1] - x > 30) {
			uint64_t sz = g_array_index(ax->b, uint64_t, i + 1) - g_array_index(ax->b, uint64_t, i);
			char *st = size_text(sz);
			g_string_append_printf(out, "<text class=\"size\" x=\"%.2f\" y=\"%.1f\">%s</text>\n",
			                       (x + ax->x[i + 1]) / 2, height - 1, st);
			g_free(st);
		}
	}
	for (guint k = 0; k < p->n; k++)
		svg_lane(out, t, ax, snaps, keys, p->n, k, p->sides[k].name, AXIS_TOP + LANE_HEIGHT * k + 4);
	g_string_append(out, "</svg>\n");
	for (guint k = 0; k < p->n; k++)
		keys_clear(&keys[k]);
	g_free(keys);
	g_free(snaps);
}

/* What the engine compared after the statement, and where the lanes come from. */
static void window_note(GString *out, const report_page *p)
{
	if (!p->window && !p->window_full)
		return;
	g_string_append(out, "<p class=\"window\">");
	if (p->window_full) {
		g_string_append(out, "After it the diff engine compared the whole state.");
	} else {
		g_string_append(out, "After it the diff engine compared the range");
		g_string_append(out, p->window->len == 1 ? " " : "s ");
		for (guint i = 0; i < p->window->len; i++) {
			const snap_range *r = &g_array_index(p->window, snap_range, i);
			char *lo = addr_text(p->t, r->lo), *hi = addr_text(p->t, r->hi);
			g_string_append_printf(out, "%s<code>%s</code>&#8211;<code>%s</code>", i ? ", " : "", lo, hi);
			g_free(lo);
			g_free(hi);
		}
		g_string_append(out, " (every VMA touching them whole, their pages inside them); elsewhere each lane "
		                     "shows what that target reported there last.");
	}
	g_string_append(out, " Pages no snapshot held are drawn as <i>not seen</i>.</p>\n");
}

/* ---- The listings ----------------------------------------------------------------------- */

static void state_listing(GString *out, const report_page *p, gboolean after)
{
	vma_keys *keys = g_new0(vma_keys, p->n + 1);
	const snapshot **snaps = g_new0(const snapshot *, p->n + 1);
	for (guint k = 0; k < p->n; k++) {
		snaps[k] = after ? p->sides[k].after : p->sides[k].before;
		keys_init(&keys[k], snaps[k], p->t);
	}
	g_string_append(out, "<table class=\"listing\"><tr>");
	for (guint k = 0; k < p->n; k++) {
		g_string_append(out, "<th>");
		esc(out, p->sides[k].name);
		g_string_append(out, "</th>");
	}
	g_string_append(out, "</tr>\n<tr>");
	for (guint k = 0; k < p->n; k++) {
		g_string_append(out, "<td><pre>");
		if (!snaps[k])
			g_string_append(out, "(state unknown)");
		else if (!keys[k].lines->len)
			g_string_append(out, "(no VMA in the arena)");
		for (guint i = 0; snaps[k] && i < keys[k].lines->len; i++) {
			const char *line = g_ptr_array_index(keys[k].lines, i);
			gboolean same = vma_matches(keys, p->n, k, i);
			gboolean pages_same = TRUE;
			if (same) {
				/* same VMA: are its pages the same? */
				for (guint j = 0; j < p->n && pages_same; j++) {
					if (j == k || (k > 0 && j > 0) || !snaps[j])
						continue;
					for (guint m = 0; m < keys[j].lines->len; m++)
						if (strcmp(g_ptr_array_index(keys[j].keys, m), g_ptr_array_index(keys[k].keys, i)) == 0 &&
						    strcmp(g_ptr_array_index(keys[j].lines, m), line) != 0)
							pages_same = FALSE;
				}
			}
			g_string_append_printf(out, "<span class=\"%s\">", !same ? "d" : !pages_same ? "p" : "s");
			esc(out, line);
			g_string_append(out, "</span>");
		}
		g_string_append(out, "</pre></td>");
	}
	g_string_append(out, "</tr></table>\n");
	for (guint k = 0; k < p->n; k++)
		keys_clear(&keys[k]);
	g_free(keys);
	g_free(snaps);
}

static void trace_listing(GString *out, const report_page *p, const GArray *ref_results)
{
	const trace *t = p->t;
	GString *hdr = g_string_new(NULL);
	trace_print_header(hdr, t);
	g_string_append(out, "<pre class=\"trace\">");
	char **hl = g_strsplit(hdr->str, "\n", -1);
	for (char **l = hl; *l; l++)
		if (**l) {
			g_string_append(out, "<span class=\"st\"><span class=\"ln\">    </span>");
			esc(out, *l);
			g_string_append(out, "</span>");
		}
	g_strfreev(hl);
	g_string_free(hdr, TRUE);
	guint upto = p->index == G_MAXUINT ? 0 : MIN(p->index + 1, t->stmts->len);
	for (guint i = 0; i < upto; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		char *st = stmt_text(t, s);
		gboolean here = i == p->index;
		g_string_append_printf(out, "<span class=\"%s\"><span class=\"ln\">%4d</span>", here ? "here" : "st",
		                       s->line);
		esc(out, st);
		const tr_result *r = ref_results && i < ref_results->len ? &g_array_index(ref_results, tr_result, i) : NULL;
		if (!here && r && r->kind != TR_RES_NONE) {
			char *rt = result_text(t, s->kind, r);
			g_string_append(out, "<span class=\"res\"> =&gt; ");
			esc(out, rt);
			g_string_append(out, "</span>");
			g_free(rt);
		}
		g_string_append(out, "</span>");
		g_free(st);
	}
	if (upto < t->stmts->len)
		g_string_append_printf(out, "<span class=\"more\">     … %u more statement%s not run</span>",
		                       t->stmts->len - upto, t->stmts->len - upto == 1 ? "" : "s");
	g_string_append(out, "</pre>\n");
}

static void results_table(GString *out, const report_page *p)
{
	const trace *t = p->t;
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, p->index);
	gboolean obs = tr_is_observation(s->kind);
	char *ref = NULL;
	g_string_append_printf(out, "<table class=\"results\"><tr><th>target</th><th>%s</th></tr>\n",
	                       obs ? "lines" : "result");
	for (guint k = 0; k < p->n; k++) {
		const report_side *sd = &p->sides[k];
		GString *cell = g_string_new(NULL);
		if (sd->failure)
			g_string_printf(cell, "failed: %s", sd->failure);
		else if (!sd->ran)
			g_string_assign(cell, "(not run)");
		else if (!obs) {
			char *r = result_text(t, s->kind, &sd->result);
			g_string_assign(cell, r);
			g_free(r);
		} else {
			for (guint i = 0; sd->lines && i < sd->lines->len; i++)
				g_string_append_printf(cell, "| %s\n", (const char *)g_ptr_array_index(sd->lines, i));
		}
		if (k == 0)
			ref = g_strdup(cell->str);
		gboolean differs = k > 0 && strcmp(ref, cell->str) != 0;
		g_string_append_printf(out, "<tr class=\"%s\"><td>", differs ? "d" : "s");
		esc(out, sd->name);
		g_string_append(out, obs ? "</td><td><pre>" : "</td><td><code>");
		esc(out, cell->str);
		g_string_append(out, obs ? "</pre></td></tr>\n" : "</code></td></tr>\n");
		g_string_free(cell, TRUE);
	}
	g_string_append(out, "</table>\n");
	g_free(ref);
}

static const char style[] =
        "body{font-family:system-ui,sans-serif;margin:16px 20px;color:#222;background:#fff}"
        "h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #ddd}"
        "h3{font-size:14px;margin:4px 0}"
        "pre,code{font-family:ui-monospace,monospace;font-size:12px}"
        "pre.summary{background:#fff4f4;border-left:4px solid #d62728;padding:6px 8px;white-space:pre-wrap}"
        "pre.trace{background:#f7f7f7;padding:6px 8px;max-height:360px;overflow:auto}"
        "pre.trace .ln{color:#999;margin-right:10px}pre.trace .res{color:#2c7a2c}"
        "pre.trace .st,pre.trace .here,pre.trace .more{display:block}"
        "pre.trace .here{background:#ffe08a;font-weight:bold}pre.trace .more{color:#999}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;"
        "vertical-align:top}"
        "tr.d td{background:#ffe3e3}table.listing pre{margin:0;white-space:pre-wrap;word-break:break-all}"
        "th,td{overflow-wrap:anywhere}table.results pre{white-space:pre-wrap;margin:0}table.results code{white-space:nowrap}"
        "table.listing span{display:block}table.listing span.d{background:#ffd0d0}"
        "table.listing span.p{background:#fff0c0}"
        ".phases{display:flex;gap:14px;flex-wrap:wrap}.phase{border:1px solid #eee;padding:4px}"
        "svg.space text{font-family:ui-monospace,monospace;font-size:10px}"
        "svg.space text.name{font-size:11px;font-weight:bold}"
        "svg.space text.addr{text-anchor:middle;fill:#555}svg.space text.addr.end{text-anchor:end}svg.space text.size{text-anchor:middle;fill:#999;"
        "font-size:9px}"
        "svg.space text.perm{text-anchor:middle;fill:#222}svg.space text.na{fill:#999}"
        "svg.space line.tick{stroke:#eee}svg.space line.base{stroke:#ccc;stroke-dasharray:2 3}"
        "svg.space rect.vma{stroke:#555;stroke-width:0.6}"
        "svg.space rect.vma.shared{stroke-dasharray:3 2;stroke-width:1.2}"
        "svg.space rect.vma.diff{stroke:#d62728;stroke-width:2.6}"
        "svg.space rect.strip{fill:#fff;stroke:#bbb;stroke-width:0.5}"
        "svg.space rect.pd{fill:#d62728}"
        "svg.space rect.range{fill:#ffe08a;fill-opacity:0.45;stroke:#e0a800;stroke-dasharray:4 2}"
        ".legend span{display:inline-block;margin-right:10px;font-size:12px}"
        ".legend i{display:inline-block;width:14px;height:10px;border:1px solid #777;margin-right:4px;"
        "vertical-align:middle}";

static void legend(GString *out)
{
	static const char *const perms[] = {"---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"};
	g_string_append(out, "<p class=\"legend\">");
	for (guint i = 0; i < 8; i++)
		g_string_append_printf(out, "<span><i style=\"background:%s\"></i>%s</span>", perm_fill(i), perms[i]);
	g_string_append(out, "<span><i style=\"border-style:dashed\"></i>shared</span><br/>");
	for (guint i = 0; i < 6; i++)
		g_string_append_printf(out, "<span><i style=\"background:%s\"></i>%s page</span>", page_fill[i],
		                       page_name[i]);
	g_string_append(out,
	                "<span><i style=\"border:2px solid #d62728\"></i>differs between targets</span>"
	                "<span><i style=\"background:#d62728\"></i>page state differs</span>"
	                "<span><i style=\"background:#ffe08a\"></i>the statement's range</span></p>\n");
}

static char *render(const report_page *p, const GArray *ref_results)
{
	const trace *t = p->t;
	GString *out = g_string_new(NULL);
	const tr_stmt *s = p->index != G_MAXUINT && p->index < t->stmts->len
	                           ? &g_array_index(t->stmts, tr_stmt, p->index)
	                           : NULL;
	char *where = s ? g_strdup_printf("%s:%d", t->filename, s->line) : g_strdup_printf("%s", t->filename);
	g_string_append(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>mmref: ");
	esc(out, where);
	g_string_append_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Divergence at ", style);
	esc(out, where);
	g_string_append(out, "</h1>\n");
	if (s) {
		char *st = stmt_text(t, s);
		g_string_append(out, "<p>The targets ");
		for (guint k = 0; k < p->n; k++) {
			g_string_append(out, k == 0 ? "<b>" : k + 1 == p->n ? " and <b>" : ", <b>");
			esc(out, p->sides[k].name);
			g_string_append(out, "</b>");
		}
		g_string_append(out, " part ways at <code>");
		esc(out, st);
		g_string_append(out, "</code>.</p>\n");
		g_free(st);
	}
	if (p->summary) {
		g_string_append(out, "<pre class=\"summary\">");
		esc(out, p->summary);
		g_string_append(out, "</pre>\n");
	}
	if (s) {
		uint64_t rlo[2], rhi[2];
		guint nr = stmt_ranges(t, s, p->n ? &p->sides[0] : NULL, rlo, rhi);
		const snapshot **all = g_new0(const snapshot *, 2 * p->n + 1);
		for (guint k = 0; k < p->n; k++) {
			all[2 * k] = p->sides[k].before;
			all[2 * k + 1] = p->sides[k].after;
		}
		axis ax;
		axis_build(&ax, t, all, 2 * p->n, rlo, rhi, nr);
		g_string_append(out, "<h2>The address space before and after it</h2>\n");
		legend(out);
		g_string_append(out, "<div class=\"phases\">\n<div class=\"phase before\"><h3>Before line ");
		g_string_append_printf(out, "%d</h3>\n", s->line);
		svg_phase(out, p, &ax, FALSE, rlo, rhi, nr);
		g_string_append_printf(out, "</div>\n<div class=\"phase after\"><h3>After line %d</h3>\n", s->line);
		svg_phase(out, p, &ax, TRUE, rlo, rhi, nr);
		g_string_append(out, "</div>\n</div>\n");
		axis_clear(&ax);
		g_free(all);
		window_note(out, p);
		g_string_append(out, "<h2>What each target did</h2>\n");
		results_table(out, p);
	}
	g_string_append(out, "<h2>The trace up to the diverging statement</h2>\n");
	trace_listing(out, p, ref_results);
	if (s) {
		g_string_append(out, "<h2>VMAs before (as <code>state</code> prints them)</h2>\n");
		state_listing(out, p, FALSE);
		g_string_append(out, "<h2>VMAs after</h2>\n");
		state_listing(out, p, TRUE);
	}
	g_string_append(out, "<p class=\"foot\">Written by <code>mmref diff --report</code>.</p>\n</body>\n</html>\n");
	g_free(where);
	return g_string_free(out, FALSE);
}

char *report_render_html(const report_page *p) { return render(p, p->ref_results); }

static gboolean write_page(const char *path, const char *html, GError **error)
{
	return g_file_set_contents(path, html, -1, error);
}

gboolean report_write_html(const char *path, const report_page *p, GError **error)
{
	char *html = report_render_html(p);
	gboolean ok = write_page(path, html, error);
	g_free(html);
	return ok;
}

/* ---- A divergence the diff engine found -------------------------------------------------- */

/* The page is a rendering of the divergence alone: the engine's results,
 * lines and states (divergence_state puts each target's state before and
 * after together from what the engine kept); no target is asked anything. */
char *report_render_divergence(const divergence *d, const trace *t)
{
	guint n = d->ntargets;
	report_side *sides = g_new0(report_side, n + 1);
	snapshot *before = g_new0(snapshot, n + 1), *after = g_new0(snapshot, n + 1);
	char **failures = g_new0(char *, n + 1);
	guint index = d->failure == DIV_FAIL_START || d->index >= t->stmts->len ? G_MAXUINT : d->index;
	gboolean obs = index != G_MAXUINT && tr_is_observation(d->kind);
	for (guint k = 0; k < n; k++) {
		report_side *sd = &sides[k];
		snapshot_init(&before[k]);
		snapshot_init(&after[k]);
		sd->name = d->names[k];
		if (d->cls == DIV_FAILURE && k == d->target)
			failures[k] = d->failure == DIV_FAIL_STATE
			                      ? g_strdup_printf("its state after it: %s", d->detail ? d->detail : "")
			                      : g_strdup(d->detail ? d->detail : "");
		sd->failure = failures[k];
		if (obs) {
			sd->lines = d->obs_lines ? d->obs_lines[k] : NULL;
			sd->ran = sd->lines != NULL;
		} else {
			sd->ran = d->ran && d->ran[k];
			if (sd->ran)
				sd->result = d->results[k];
		}
		if (index != G_MAXUINT) {
			sd->before = divergence_state(d, k, FALSE, &before[k]) ? &before[k] : NULL;
			sd->after = divergence_state(d, k, TRUE, &after[k]) ? &after[k] : NULL;
		}
	}
	report_page p = {.t = t,
	                 .index = index,
	                 .summary = d->report,
	                 .sides = sides,
	                 .n = n,
	                 .window = d->after && !obs ? d->ranges : NULL,
	                 .window_full = d->after && !obs && d->full};
	char *html = render(&p, d->ref_results);
	for (guint k = 0; k < n; k++) {
		snapshot_free(&before[k]);
		snapshot_free(&after[k]);
		g_free(failures[k]);
	}
	g_free(failures);
	g_free(before);
	g_free(after);
	g_free(sides);
	return html;
}

gboolean report_write_divergence(const char *path, const divergence *d, const trace *t, GError **error)
{
	if (d->cls == DIV_NONE) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: no divergence to report", t->filename);
		return FALSE;
	}
	char *html = report_render_divergence(d, t);
	gboolean ok = write_page(path, html, error);
	g_free(html);
	return ok;
}

gboolean diff_write_report(const char *path, const trace *t, target *const *targets, guint n,
                           const diff_options *opt, GError **error)
{
	divergence d;
	diff_status st = diff_run_data(t, targets, n, opt, &d, NULL);
	gboolean ok;
	if (st != DIFF_DIVERGED) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: no divergence to report", t->filename);
		ok = FALSE;
	} else {
		ok = report_write_divergence(path, &d, t, error);
	}
	divergence_clear(&d);
	return ok;
}

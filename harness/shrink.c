/* The shrinker (shrink.h): delta debugging over statements, then argument
 * simplification, keeping the same divergence.
 *
 *   1. Run the trace; remember the divergence (class, statement kind).
 *      Everything after the diverging statement is dropped at once, and
 *      again after every accepted step.
 *   2. ddmin (Zeller and Hildebrandt 2002, complement removal): split the
 *      statements into n chunks, try the trace without each chunk; on
 *      success keep it and coarsen (n - 1), else refine (2n) until the
 *      chunks are single statements.
 *   3. Simplify each statement's arguments, one change at a time, each
 *      accepted only if it keeps the divergence: lengths toward one page,
 *      addresses toward the arena base (+0), flag and protection bits
 *      cleared one by one, file mappings made anonymous, offsets to 0,
 *      touches to reads. Repeat while anything changes (bounded).
 *   4. Move all addresses down together toward the arena base.
 *   Steps 2-4 repeat while they change anything (at most 4 rounds).
 *   5. Drop the files no statement maps.
 * Every candidate is a valid trace: statements are only removed (each is
 * valid on its own) and changed arguments are checked against the
 * format's range rules before they are run. */
#include "shrink.h"

#include <string.h>

#define PAGE MM_PAGE_SIZE
#define DEFAULT_MAX_RUNS 20000
#define MAX_SIMPLIFY_PASSES 8

/* ---- Divergences ------------------------------------------------------------------ */

const char *div_class_name(div_class cls)
{
	switch (cls) {
	case DIV_NONE:
		return "none";
	case DIV_RESULT:
		return "result-difference";
	case DIV_STATE:
		return "state-difference";
	case DIV_OBSERVATION:
		return "observation-difference";
	case DIV_CHECK:
		return "check-violation";
	case DIV_FAILURE:
		return "target-failure";
	case DIV_NONDET:
		return "kernel-nondeterministic";
	}
	return "unknown";
}

gboolean divergence_find(const trace *t, target *const *targets, guint n, gboolean check, divergence *d)
{
	return divergence_find_ignoring(t, targets, n, check, NULL, d);
}

gboolean divergence_find_ignoring(const trace *t, target *const *targets, guint n, gboolean check,
                                  const diff_ignore *ignore, divergence *d)
{
	diff_options opt = {.check = check, .ignore = ignore};
	guint64 run = 0;
	/* A trace that is not applicable on a target shows no divergence. */
	if (diff_run_data(t, targets, n, &opt, d, &run) != DIFF_DIVERGED) {
		divergence_clear(d);
		d->cls = DIV_NONE;
		d->index = G_MAXUINT;
		return FALSE;
	}
	if (d->failure == DIV_FAIL_START) {
		d->index = G_MAXUINT;
		d->kind = TR_MMAP;
	}
	return TRUE;
}

gboolean divergence_same(const divergence *a, const divergence *b)
{
	if (a->cls == DIV_NONE || b->cls == DIV_NONE)
		return FALSE;
	if (a->cls != b->cls)
		return FALSE;
	if ((a->index == G_MAXUINT) != (b->index == G_MAXUINT))
		return FALSE;
	return a->index == G_MAXUINT || a->kind == b->kind;
}

char *divergence_signature(const divergence *d)
{
	GString *s = g_string_new(NULL);
	for (guint k = 0; k < d->ntargets; k++) {
		const char *name = d->names[k];
		if (g_str_has_prefix(name, "exec:"))
			name = "exec";
		g_string_append_printf(s, "%s-", name);
	}
	g_string_append_printf(s, "%s-%s", d->index == G_MAXUINT ? "start" : tr_kind_name(d->kind),
	                       div_class_name(d->cls));
	return g_string_free(s, FALSE);
}

/* ---- Traces ------------------------------------------------------------------------- */

static trace *trace_empty_like(const trace *t)
{
	trace *c = g_new0(trace, 1);
	c->filename = g_strdup(t->filename);
	c->arena_base = t->arena_base;
	c->arena_size = t->arena_size;
	c->files = g_array_new(FALSE, TRUE, sizeof(tr_file));
	for (guint i = 0; i < t->files->len; i++) {
		tr_file f = g_array_index(t->files, tr_file, i);
		f.name = g_strdup(f.name);
		g_array_append_val(c->files, f);
	}
	c->stmts = g_array_new(FALSE, TRUE, sizeof(tr_stmt));
	return c;
}

static void renumber(trace *t)
{
	int line = 2 + (int)t->files->len + (t->arena_base != TR_DEFAULT_ARENA_BASE ||
	                                      t->arena_size != TR_DEFAULT_ARENA_SIZE);
	for (guint i = 0; i < t->stmts->len; i++)
		g_array_index(t->stmts, tr_stmt, i).line = line++;
}

trace *trace_copy_bare(const trace *t, guint from, guint to)
{
	trace *c = trace_empty_like(t);
	for (guint i = from; i < to && i < t->stmts->len; i++) {
		tr_stmt s = g_array_index(t->stmts, tr_stmt, i);
		s.expect_lines = NULL;
		memset(&s.expect, 0, sizeof(s.expect));
		g_array_append_val(c->stmts, s);
	}
	renumber(c);
	return c;
}

/* The format's rules for one statement's addresses (harness/trace.c). */
static gboolean range_ok(const trace *t, uint64_t addr, uint64_t len)
{
	uint64_t end = t->arena_base + t->arena_size;
	return addr >= t->arena_base && addr <= end && len <= end - addr;
}

static gboolean stmt_valid(const trace *t, const tr_stmt *s)
{
	switch (s->kind) {
	case TR_MAPS:
	case TR_SMAPS:
	case TR_STATE:
		return TRUE;
	case TR_TOUCH:
	case TR_WRITE:
	case TR_READ:
		return s->addr >= t->arena_base && s->addr - t->arena_base < t->arena_size;
	case TR_MMAP:
		return s->addr == 0 || range_ok(t, s->addr, s->len);
	case TR_MREMAP:
		return range_ok(t, s->addr, s->len) &&
		       range_ok(t, s->has_new_addr ? s->new_addr : s->addr, s->new_len);
	default:
		return range_ok(t, s->addr, s->len);
	}
}

/* ---- The search ------------------------------------------------------------------- */

typedef struct shrinker {
	target *const *targets;
	guint n;
	gboolean check;
	const diff_ignore *ignore;
	divergence goal;
	guint runs, max_runs;
	gboolean verbose;
	trace *cur; /* the smallest diverging trace so far */
} shrinker;

/* Does cand show the goal's divergence? On TRUE, cand is cut after the
 * diverging statement. */
static gboolean interesting(shrinker *sh, trace *cand)
{
	if (sh->runs >= sh->max_runs)
		return FALSE;
	sh->runs++;
	renumber(cand);
	divergence d;
	gboolean hit = divergence_find_ignoring(cand, sh->targets, sh->n, sh->check, sh->ignore, &d) && divergence_same(&d, &sh->goal);
	if (hit && d.index != G_MAXUINT && d.index + 1 < cand->stmts->len)
		g_array_set_size(cand->stmts, d.index + 1);
	divergence_clear(&d);
	return hit;
}

static void accept(shrinker *sh, trace *cand)
{
	trace_free(sh->cur);
	sh->cur = cand;
	if (sh->verbose)
		g_printerr("mmref shrink: %u statements (%u runs)\n", cand->stmts->len, sh->runs);
}

/* cur without statements [from, to). */
static trace *without(const trace *t, guint from, guint to)
{
	trace *c = trace_copy_bare(t, 0, from);
	for (guint i = to; i < t->stmts->len; i++)
		g_array_append_val(c->stmts, g_array_index(t->stmts, tr_stmt, i));
	return c;
}

static void ddmin(shrinker *sh)
{
	guint n = 2;
	while (sh->cur->stmts->len >= 2 && sh->runs < sh->max_runs) {
		guint len = sh->cur->stmts->len;
		n = MIN(n, len);
		guint chunk = (len + n - 1) / n;
		gboolean reduced = FALSE;
		/* from the end: later statements depend on earlier ones less often */
		for (guint i = (len + chunk - 1) / chunk; i-- > 0 && !reduced;) {
			guint from = i * chunk, to = MIN(len, from + chunk);
			trace *cand = without(sh->cur, from, to);
			if (interesting(sh, cand)) {
				accept(sh, cand);
				n = MAX(n - 1, 2);
				reduced = TRUE;
			} else {
				trace_free(cand);
			}
		}
		if (!reduced) {
			if (n >= len)
				break;
			n = MIN(2 * n, len);
		}
	}
}

/* Candidate simplifications of one statement: fills out[] with changed
 * copies, returns how many. Each strictly simplifies (addresses and lengths
 * only go down or to one page, bits only get cleared), so the search ends. */
#define MAX_CANDIDATES 64
static guint candidates(const trace *t, const tr_stmt *s, tr_stmt *out)
{
	guint k = 0;
	uint64_t base = t->arena_base;
#define ADD(stmt) (out[k++] = (stmt))
	tr_stmt c;
	gboolean has_addr = !tr_is_observation(s->kind) && !(s->kind == TR_MMAP && s->addr == 0);
	if (s->kind == TR_PAGES)
		has_addr = TRUE;
	if (has_addr && s->addr > base) {
		c = *s, c.addr = base, ADD(c);
		uint64_t half = base + (((s->addr - base) / 2) & ~(PAGE - 1));
		if (half != base && half < s->addr)
			c = *s, c.addr = half, ADD(c);
		if (s->addr - base >= PAGE && (s->addr & (PAGE - 1)) == 0)
			c = *s, c.addr = s->addr - PAGE, ADD(c);
		if (s->addr & (PAGE - 1))
			c = *s, c.addr = s->addr & ~(PAGE - 1), ADD(c);
	}
	if (s->kind != TR_TOUCH && s->kind != TR_WRITE && s->kind != TR_READ && !tr_is_observation(s->kind)) {
		if (s->len != PAGE)
			c = *s, c.len = PAGE, ADD(c);
		if (s->len > PAGE && (s->len & (PAGE - 1)) == 0)
			c = *s, c.len = s->len - PAGE, ADD(c);
		if (s->len > 2 * PAGE && (s->len & (PAGE - 1)) == 0)
			c = *s, c.len = (s->len / 2) & ~(PAGE - 1), ADD(c);
		if (s->len & (PAGE - 1))
			c = *s, c.len = (s->len + PAGE - 1) & ~(PAGE - 1), ADD(c);
	}
	switch (s->kind) {
	case TR_MMAP:
		for (int b = 0; b < 64 && k < MAX_CANDIDATES - 8; b++)
			if (s->flags & (1ull << b))
				c = *s, c.flags &= ~(1ull << b), ADD(c);
		for (int b = 0; b < 32 && k < MAX_CANDIDATES - 6; b++)
			if (s->prot & (1ull << b))
				c = *s, c.prot &= ~(1ull << b), ADD(c);
		if (s->file)
			c = *s, c.file = 0, c.off = 0, c.flags |= MM_MAP_ANONYMOUS, ADD(c);
		if (s->file && s->off)
			c = *s, c.file = 0, c.flags |= MM_MAP_ANONYMOUS, ADD(c); /* the offset may matter */
		if (s->off)
			c = *s, c.off = 0, ADD(c);
		break;
	case TR_MPROTECT:
		for (int b = 0; b < 32 && k < MAX_CANDIDATES - 4; b++)
			if (s->prot & (1ull << b))
				c = *s, c.prot &= ~(1ull << b), ADD(c);
		break;
	case TR_MREMAP:
		if (s->new_len != PAGE)
			c = *s, c.new_len = PAGE, ADD(c);
		if (s->new_len > PAGE && (s->new_len & (PAGE - 1)) == 0)
			c = *s, c.new_len = s->new_len - PAGE, ADD(c);
		if (s->has_new_addr && s->new_addr > base)
			c = *s, c.new_addr = base, ADD(c);
		if (s->has_new_addr && s->new_addr - base >= PAGE)
			c = *s, c.new_addr = (s->new_addr - PAGE) & ~(PAGE - 1), ADD(c);
		if (s->has_new_addr && !(s->flags & MM_MREMAP_FIXED))
			c = *s, c.has_new_addr = FALSE, c.new_addr = 0, ADD(c);
		for (int b = 0; b < 64 && k < MAX_CANDIDATES - 4; b++)
			if (s->flags & (1ull << b)) {
				c = *s, c.flags &= ~(1ull << b);
				if (!(c.flags & MM_MREMAP_FIXED))
					c.has_new_addr = FALSE, c.new_addr = 0;
				ADD(c);
			}
		break;
	case TR_MADVISE:
		if (s->advice != MM_MADV_DONTNEED && s->advice != MM_MADV_NORMAL)
			c = *s, c.advice = MM_MADV_DONTNEED, ADD(c);
		break;
	case TR_MLOCK:
	case TR_MSEAL:
		if (s->flags)
			c = *s, c.flags = 0, ADD(c);
		break;
	case TR_TOUCH:
		if (s->access != MM_ACCESS_READ)
			c = *s, c.access = MM_ACCESS_READ, ADD(c);
		break;
	default:
		break;
	}
#undef ADD
	g_assert(k <= MAX_CANDIDATES);
	return k;
}

static void simplify(shrinker *sh)
{
	tr_stmt cand_stmts[MAX_CANDIDATES];
	for (int pass = 0; pass < MAX_SIMPLIFY_PASSES && sh->runs < sh->max_runs; pass++) {
		gboolean changed = FALSE;
		for (guint i = 0; i < sh->cur->stmts->len && sh->runs < sh->max_runs; i++) {
			/* try each candidate of statement i; after a success, start again
			 * from the new statement i */
			for (gboolean again = TRUE; again && i < sh->cur->stmts->len;) {
				again = FALSE;
				const tr_stmt *s = &g_array_index(sh->cur->stmts, tr_stmt, i);
				guint nc = candidates(sh->cur, s, cand_stmts);
				for (guint j = 0; j < nc && sh->runs < sh->max_runs; j++) {
					if (!stmt_valid(sh->cur, &cand_stmts[j]))
						continue;
					trace *cand = trace_copy_bare(sh->cur, 0, sh->cur->stmts->len);
					g_array_index(cand->stmts, tr_stmt, i) = cand_stmts[j];
					if (interesting(sh, cand)) {
						accept(sh, cand);
						changed = again = TRUE;
						break;
					}
					trace_free(cand);
				}
			}
		}
		if (!changed)
			break;
	}
}

/* Moves every address of the trace down by the same amount, toward the
 * arena base: a divergence rarely depends on where it happens, but single
 * statements cannot move while the others stay. */
static void translate(shrinker *sh)
{
	for (int round = 0; round < 16 && sh->runs < sh->max_runs; round++) {
		uint64_t base = sh->cur->arena_base, low = UINT64_MAX;
		for (guint i = 0; i < sh->cur->stmts->len; i++) {
			const tr_stmt *s = &g_array_index(sh->cur->stmts, tr_stmt, i);
			if (tr_is_observation(s->kind) && s->kind != TR_PAGES)
				continue;
			if (!(s->kind == TR_MMAP && s->addr == 0))
				low = MIN(low, s->addr - base);
			if (s->kind == TR_MREMAP && s->has_new_addr)
				low = MIN(low, s->new_addr - base);
		}
		low &= ~(PAGE - 1);
		if (low == UINT64_MAX || low == 0)
			return;
		gboolean moved = FALSE;
		uint64_t shifts[2] = {low, (low / 2) & ~(PAGE - 1)};
		for (int k = 0; k < 2 && !moved && shifts[k]; k++) {
			trace *cand = trace_copy_bare(sh->cur, 0, sh->cur->stmts->len);
			for (guint i = 0; i < cand->stmts->len; i++) {
				tr_stmt *s = &g_array_index(cand->stmts, tr_stmt, i);
				if (tr_is_observation(s->kind) && s->kind != TR_PAGES)
					continue;
				if (!(s->kind == TR_MMAP && s->addr == 0))
					s->addr -= shifts[k];
				if (s->kind == TR_MREMAP && s->has_new_addr)
					s->new_addr -= shifts[k];
			}
			if (interesting(sh, cand)) {
				accept(sh, cand);
				moved = TRUE;
			} else {
				trace_free(cand);
			}
		}
		if (!moved)
			return;
	}
}

/* Drops the files no statement maps (renumbering the others). */
static void drop_unused_files(shrinker *sh)
{
	for (guint f = sh->cur->files->len; f-- > 0;) {
		gboolean used = FALSE;
		for (guint i = 0; i < sh->cur->stmts->len; i++) {
			const tr_stmt *s = &g_array_index(sh->cur->stmts, tr_stmt, i);
			used |= s->kind == TR_MMAP && s->file == (int)f + 1;
		}
		if (used)
			continue;
		trace *cand = trace_copy_bare(sh->cur, 0, sh->cur->stmts->len);
		g_free(g_array_index(cand->files, tr_file, f).name);
		g_array_remove_index(cand->files, f);
		for (guint i = 0; i < cand->stmts->len; i++) {
			tr_stmt *s = &g_array_index(cand->stmts, tr_stmt, i);
			if (s->kind == TR_MMAP && s->file > (int)f + 1)
				s->file--;
		}
		if (interesting(sh, cand))
			accept(sh, cand);
		else
			trace_free(cand);
	}
}

trace *shrink_trace(const trace *t, target *const *targets, guint n, const shrink_options *opt,
                    shrink_stats *stats)
{
	static const shrink_options defaults = {.check = TRUE};
	if (!opt)
		opt = &defaults;
	shrinker sh = {
		.targets = targets,
		.n = n,
		.check = opt->check,
		.ignore = opt->ignore,
		.max_runs = opt->max_runs ? opt->max_runs : DEFAULT_MAX_RUNS,
		.verbose = opt->verbose,
	};
	if (stats)
		memset(stats, 0, sizeof(*stats));
	sh.cur = trace_copy_bare(t, 0, t->stmts->len);
	sh.runs = 1;
	if (!divergence_find_ignoring(sh.cur, targets, n, opt->check, opt->ignore, &sh.goal)) {
		divergence_clear(&sh.goal);
		trace_free(sh.cur);
		if (stats)
			stats->runs = sh.runs, stats->stmts_before = t->stmts->len;
		return NULL;
	}
	if (sh.goal.index != G_MAXUINT)
		g_array_set_size(sh.cur->stmts, sh.goal.index + 1);
	if (sh.goal.index != G_MAXUINT) { /* a start failure has nothing to shrink */
		/* simpler arguments can make more statements unnecessary, and
		 * fewer statements more arguments simpler: until nothing changes */
		for (int round = 0; round < 4; round++) {
			guint before = sh.runs;
			char *was = trace_to_string(sh.cur);
			ddmin(&sh);
			translate(&sh);
			simplify(&sh);
			char *now = trace_to_string(sh.cur);
			gboolean same = strcmp(was, now) == 0;
			g_free(was);
			g_free(now);
			if (same || sh.runs == before)
				break;
		}
		drop_unused_files(&sh);
	}
	renumber(sh.cur);
	if (stats) {
		stats->runs = sh.runs;
		stats->stmts_before = t->stmts->len;
		stats->stmts_after = sh.cur->stmts->len;
		divergence_find_ignoring(sh.cur, targets, n, opt->check, opt->ignore, &stats->found);
		stats->runs++;
	}
	divergence_clear(&sh.goal);
	return sh.cur;
}

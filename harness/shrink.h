/* The shrinker: reduces a trace on which targets diverge to a minimal one
 * that still shows "the same divergence" (below), and the divergence
 * classification the fuzz targets abort with.
 *
 * The same divergence: diff_run still reports DIFF_DIVERGED, at a statement
 * of the same kind (mmap, mremap, touch, ...), of the same class (results
 * differ, state differs, an observation differs, mm_check found a violation,
 * a target failed). Where in the trace and with which arguments may change:
 * that is what shrinking is for. */
#ifndef MMREF_SHRINK_H
#define MMREF_SHRINK_H

#include <glib.h>

#include "diff.h"
#include "target.h"
#include "trace.h"

/* Runs t on the targets and classifies the first divergence. Returns TRUE
 * when there is one. d->report must be freed with divergence_clear. */
gboolean divergence_find(const trace *t, target *const *targets, guint n, gboolean check, divergence *d);
/* The same, leaving the facets of ignore out of the comparison (NULL:
 * compare everything), as mmref diff --ignore does. */
gboolean divergence_find_ignoring(const trace *t, target *const *targets, guint n, gboolean check,
                                  const diff_ignore *ignore, divergence *d);
gboolean divergence_same(const divergence *a, const divergence *b);
/* "result-difference", "state-difference", ... */
const char *div_class_name(div_class cls);
/* The stable signature a fuzz target aborts with:
 * "model-naive-mremap-result-difference" (target names joined by '-',
 * "exec:..." targets as "exec"). g_free. */
char *divergence_signature(const divergence *d);

typedef struct shrink_options {
	gboolean check;   /* mm_check after every statement, as the fuzz targets do */
	guint max_runs;   /* budget of diff_run calls; 0 = 20000 */
	gboolean verbose; /* progress on stderr */
	const diff_ignore *ignore; /* facets left out of the comparison (mmref shrink --ignore), or NULL */
} shrink_options;

typedef struct shrink_stats {
	guint runs;             /* diff_run calls made */
	guint stmts_before, stmts_after;
	divergence found;       /* the divergence of the result (report included) */
} shrink_stats;

/* The minimal trace: a new trace without expectations, whose statements
 * are renumbered as trace_to_string prints them. NULL when t does not
 * diverge on the targets at all. stats (may be NULL) is filled; free
 * stats->found with divergence_clear. */
trace *shrink_trace(const trace *t, target *const *targets, guint n, const shrink_options *opt,
                    shrink_stats *stats);

/* A copy of t without expectations or observation lines, its statements
 * [from, to) only. */
trace *trace_copy_bare(const trace *t, guint from, guint to);

#endif

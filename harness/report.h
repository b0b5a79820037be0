/* The divergence report: one self-contained HTML page (no scripts, no
 * external resources) for the first divergence of a trace on several
 * targets: the trace up to the diverging statement, every target's result
 * there, and every target's address space before and after it drawn side by
 * side as inline SVG (one lane per target, a bar per VMA coloured by its
 * permissions, a strip of page states under it), with what differs from the
 * first target outlined in red. `mmref diff --report FILE.html` writes it. */
#ifndef MMREF_REPORT_H
#define MMREF_REPORT_H

#include <glib.h>

#include "diff.h"
#include "snapshot.h"
#include "target.h"
#include "trace.h"

/* What one target did at the diverging statement. */
typedef struct report_side {
	const char *name;
	gboolean ran;           /* it ran the statement: result / lines are valid */
	tr_result result;       /* operations */
	GPtrArray *lines;       /* observations: the lines it printed (may be NULL) */
	const char *failure;    /* the target failed there (NULL if not) */
	const snapshot *before; /* its state before the statement (NULL: unknown) */
	const snapshot *after;  /* and after it (NULL: unknown) */
} report_side;

typedef struct report_page {
	const trace *t;
	guint index;         /* the diverging statement (index into t->stmts); G_MAXUINT: none (start failed) */
	const char *summary; /* the text report, shown as is (may be NULL) */
	const report_side *sides;
	guint n; /* sides[0] is the reference the others are compared with */
	const GArray *ref_results; /* tr_result: sides[0]'s result of each statement before index (may be NULL) */
	const GArray *window;      /* snap_range: what the engine compared after the statement (may be NULL) */
	gboolean window_full;      /* it compared the whole state */
} report_page;

/* The page as a string (g_free). It is well-formed XML as well as HTML. */
char *report_render_html(const report_page *p);
gboolean report_write_html(const char *path, const report_page *p, GError **error);

/* The page of a divergence the diff engine found (diff_run_data): a
 * rendering of d alone -- its results, its observation lines, and every
 * target's state before and after the statement as divergence_state puts
 * them together from what the engine kept. No target is started or asked
 * anything, no trace is run again. */
char *report_render_divergence(const divergence *d, const trace *t);
/* The same into a file; FALSE and *error if d is DIV_NONE or the file cannot
 * be written. */
gboolean report_write_divergence(const char *path, const divergence *d, const trace *t, GError **error);

/* Runs t once on the targets (diff_run_data, with opt) and writes the page
 * of its divergence. FALSE with *error if t does not diverge, or the file
 * cannot be written. */
gboolean diff_write_report(const char *path, const trace *t, target *const *targets, guint n,
                           const diff_options *opt, GError **error);

#endif

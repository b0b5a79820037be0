/* The diff engine: one trace on several targets side by side, compared after
 * every statement; and replay: one trace on one target, checked against its
 * expectations. */
#ifndef MMREF_DIFF_H
#define MMREF_DIFF_H

#include <glib.h>

#include "target.h"
#include "trace.h"

typedef enum diff_status {
	DIFF_SAME = 0,     /* every target agreed / every expectation held */
	DIFF_DIVERGED = 1, /* results or state differ, a target failed, or mm_check found a violation */
	DIFF_NOT_APPLICABLE = 3, /* the trace's profile does not match a target's: nothing was run */
} diff_status;

typedef struct diff_options {
	gboolean check; /* run mm_check on every model target after every statement */
	const tr_profile *profile; /* the command line's --profile (keys a trace without them asks for), or NULL */
} diff_options;

/* A trace whose profile (with the command line's) does not match one of the
 * targets is not run: DIFF_NOT_APPLICABLE, and the report says which key
 * differs ("FILE:LINE: not applicable on kernel: zero_page=on (kernel has
 * zero_page=off)"). Call targets_setup_profiles() first so that the model and
 * the naive oracle follow the live targets' profile.
 *
 * Runs t on targets[0..n) (each is started afresh), comparing after every
 * statement the results, the snapshots (each against targets[0]) and the
 * lines of observations. On the first divergence returns DIFF_DIVERGED and
 * sets *report (g_free) to "FILE:LINE: what: STATEMENT" followed by each
 * target's result and the difference of state. *stmts_run (may be NULL)
 * counts the statements run. */
diff_status diff_run(const trace *t, target *const *targets, guint n, const diff_options *opt, char **report,
                     guint64 *stmts_run);

typedef struct replay_options {
	gboolean check;     /* mm_check after every statement (model target) */
	gboolean annotate;  /* fill *annotated */
	const char *source; /* the trace's text: the annotation keeps its comments and layout; NULL: reprinted */
	gsize source_len;
	const tr_profile *profile; /* the command line's --profile, or NULL */
} replay_options;

/* Runs t on tg and checks every expectation it carries. Appends one
 * "FILE:LINE: ..." line per failure to failures; with opt->annotate, appends
 * to annotated the trace with every operation's result and every
 * observation's lines from tg. Returns DIFF_SAME when all held. */
diff_status replay_run(const trace *t, target *tg, const replay_options *opt, GString *failures,
                       GString *annotated, guint64 *stmts_run);

#endif

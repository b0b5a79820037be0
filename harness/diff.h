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
	DIFF_NONDETERMINISTIC = 4, /* a live target disagreed with itself on a rerun (DIV_NONDET): not a divergence */
} diff_status;

/* Comparison is incremental: after each operation the targets' results,
 * then their states over the ranges the statement may have changed -- the
 * union of what each target knows it changed (the in-process targets: every
 * VMA record that appeared or went, exactly) and of the statement's own
 * ranges (its range, mremap's old and new ranges, each target's resulting
 * address; 2 MiB blocks for what can fault in memory), each VMA touching
 * them compared whole (its record) and its pages inside them; see
 * snapshot.h. The whole state is compared after the last operation of the
 * trace, after every full_every-th statement, and after statements whose
 * effect reaches other VMAs of the same object (MADV_REMOVE). mm_check runs
 * likewise: locally (mm_check_ranges) over the same ranges, wholly at the
 * same points. */
#define DIFF_FULL_EVERY_DEFAULT 32

/* Facets left out of the comparison (mmref diff/replay --ignore), for
 * targets that cannot show everything (gVisor: no pagemap): page states
 * (in states and 'pages' observations), the page-fault error code of a
 * SIGSEGV (pf=), VmFlags by mnemonic. Applied to every target alike. */
typedef struct diff_ignore {
	gboolean pages, pf;
	uint64_t vmflags; /* bits, by snapshot_vmflag_bit */
} diff_ignore;
/* "pages,pf,vmflags=nr+nh": FALSE and *error on an unknown facet or mnemonic
 * (rd wr ex sh mr mw me ms cannot be ignored: they are the permissions). */
gboolean diff_ignore_parse(const char *spec, diff_ignore *ig, GError **error);
/* "page states, the page-fault error code (pf=), VmFlags nr nh" or NULL. */
char *diff_ignore_describe(const diff_ignore *ig);

typedef struct diff_options {
	const diff_ignore *ignore; /* NULL: compare everything */
	gboolean check; /* run mm_check on every model target after every statement */
	const tr_profile *profile; /* the command line's --profile (keys a trace without them asks for), or NULL */
	guint full_every; /* 0: DIFF_FULL_EVERY_DEFAULT; 1: the whole state after every statement; G_MAXUINT: at the end only */
	/* Nondeterminism detection (issue 15 case 5): a live target (kernel,
	 * exec:, vm:) that differs from targets[0] on page states only, or on
	 * MADV_COLLAPSE's result -- what THP allocation fallback, the deferred-
	 * split shrinker, LRU batching and reclaim can change at times the
	 * trace does not control; a `state` line likewise -- is run again that many times from a fresh
	 * start up to the statement; if its result or its state there differs
	 * from its first run, the trace ends in DIV_NONDET, not a divergence.
	 * 0: DIFF_NONDET_RERUNS_DEFAULT; G_MAXUINT: never rerun. */
	guint nondet_reruns;
	/* Milliseconds before the second rerun, twice that before the third,
	 * and so on (0: none): a burst of memory pressure passes. */
	guint nondet_backoff_ms;
} diff_options;

#define DIFF_NONDET_RERUNS_DEFAULT 2

typedef enum div_class {
	DIV_NONE = 0,
	DIV_RESULT,      /* "results differ" */
	DIV_STATE,       /* "state differs after" */
	DIV_OBSERVATION, /* "observation differs" */
	DIV_CHECK,       /* mm_check found a violation */
	DIV_FAILURE,     /* a target failed (died, refused, failed to start) */
	DIV_NONDET,      /* "kernel nondeterministic at LINE": a live target's rerun disagreed with its first
	                    run at the statement where it differed from targets[0] (diff_options.nondet_reruns) */
} div_class;

typedef enum div_failure {
	DIV_FAIL_NONE = 0,
	DIV_FAIL_START, /* failed to start */
	DIV_FAIL_EXEC,  /* failed at an operation or observation */
	DIV_FAIL_STATE, /* failed to report its state after an operation */
} div_failure;

/* A divergence as data: the diff engine fills it, and the text report,
 * the HTML report, the shrinker's classification and the fuzzers' crash
 * signature are renderings of it. */
typedef struct divergence {
	div_class cls;  /* DIV_NONE: every target agreed */
	tr_kind kind;   /* the statement it happened at (undefined for a start failure) */
	guint index;    /* that statement's index in the trace; G_MAXUINT for a start failure */
	int line;       /* its line */
	guint target;   /* the target that differs from targets[0] (or failed, or broke mm_check) */
	div_failure failure;
	guint ntargets;
	char **names;        /* the targets' names */
	gboolean *ran;       /* per target: results[k] holds its result */
	tr_result *results;  /* per target */
	gboolean results_differ;
	/* The states after the statement, per target, over the ranges compared
	 * (a window, or everything when full): after is set whenever every
	 * target reported its state there (also when they agree: DIV_RESULT
	 * with the same state, DIV_CHECK); have_state when they differ. */
	gboolean have_state, full;
	snapshot *after;
	GArray *ranges; /* snap_range: the window compared (empty when full) */
	/* What the engine saw of each target on the way (no target is asked
	 * again, no trace is run again): the last whole snapshot and every
	 * window since, up to the statement before this one; see
	 * divergence_state. NULL after a start failure. */
	struct div_history *hist;
	/* targets[0]'s result of every statement before index (TR_RES_NONE for
	 * observations), for the listing of the HTML report. */
	GArray *ref_results; /* tr_result */
	guint obs_line;   /* DIV_OBSERVATION: the line (0-based) that differs */
	char **obs;       /* DIV_OBSERVATION: each target's line there */
	GPtrArray **obs_lines; /* DIV_OBSERVATION: each target's lines, all of them */
	char *detail;     /* DIV_FAILURE: the target's message; DIV_CHECK: the violations */
	gsize nviolations;
	char *report;     /* the text rendering (divergence_render) */
	/* DIV_NONDET: the divergence the reruns explained (DIV_RESULT or
	 * DIV_STATE, target as above), which rerun (1-based) disagreed, and its
	 * result there and what differed from the first run. */
	div_class nondet_of;
	guint nondet_other; /* the target it differed from */
	guint nondet_rerun;
	tr_result nondet_result;
	char *nondet_detail;
} divergence;

/* Runs t like diff_run and fills *d (divergence_clear it): DIV_NONE when
 * every target agreed. */
diff_status diff_run_data(const trace *t, target *const *targets, guint n, const diff_options *opt, divergence *d,
                          guint64 *stmts_run);
void divergence_clear(divergence *d);
/* Target k's whole state (the arena, as snapshots hold it) just before d's
 * statement, or just after it (after), put together from what the engine
 * kept: the last whole snapshot it took of k, with every window snapshot
 * since laid on it (snapshot_apply_window), and for after, the window of
 * d->after[k]. Inside the windows compared this is what k reported; outside
 * them it is what k reported last there -- the premise of the incremental
 * comparison (a statement changes nothing outside the ranges it may have
 * changed), which the whole comparison every full_every statements checks.
 * Pages never seen read SNAP_PAGE_UNKNOWN. FALSE when unknown (a start
 * failure; after a statement k failed at or could not report its state
 * after). After an observation the state is the one before it. */
gboolean divergence_state(const divergence *d, guint k, gboolean after, snapshot *out);
/* The text report of d, as diff_run gives it (g_free). */
char *divergence_render(const divergence *d, const trace *t);

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
	const diff_ignore *ignore; /* NULL: check everything */
} replay_options;

/* Runs t on tg and checks every expectation it carries. Appends one
 * "FILE:LINE: ..." line per failure to failures; with opt->annotate, appends
 * to annotated the trace with every operation's result and every
 * observation's lines from tg. Returns DIFF_SAME when all held. */
diff_status replay_run(const trace *t, target *tg, const replay_options *opt, GString *failures,
                       GString *annotated, guint64 *stmts_run);

#endif

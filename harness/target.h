/* The target interface: one implementation of an address space that a trace
 * runs on: model, naive, kernel, exec:CMD. */
#ifndef MMREF_TARGET_H
#define MMREF_TARGET_H

#include <glib.h>

#include "snapshot.h"
#include "trace.h"

typedef struct target target;

typedef struct target_ops {
	/* Begins a trace: a fresh address space with t's arena and files. */
	gboolean (*start)(target *tg, const trace *t, GError **error);
	/* Runs one operation (not an observation). FALSE only when the target
	 * itself failed (died, spoke nonsense): that is a divergence. */
	gboolean (*exec)(target *tg, const trace *t, const tr_stmt *s, tr_result *res, GError **error);
	/* Fills *snap with the state inside the arena. */
	gboolean (*snapshot)(target *tg, const trace *t, snapshot *snap, GError **error);
	/* The lines an observation prints (without "| "). */
	gboolean (*observe)(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines, GError **error);
	void (*destroy)(target *tg);
} target_ops;

struct target {
	const target_ops *ops;
	char *name;
	void *priv;
};

/* "model", "naive", "kernel", "exec:COMMAND". NULL and *error if unknown. */
target *target_new(const char *name, GError **error);
void target_free(target *tg);

target *target_model_new(void);
target *target_naive_new(void);
target *target_exec_new(const char *name, const char *command, GError **error);

/* The model target's address space (NULL for other targets or before
 * start). */
mm_state *target_model_mm(target *tg);
gboolean target_is_model(const target *tg);
/* Runs mm_check on a model target; appends one line per violation to
 * report (may be NULL) and returns how many there are (0 for other targets). */
size_t target_model_check(target *tg, GString *report);

/* Exec targets: how long to wait for an answer (default 10 s, or
 * $MMREF_EXEC_TIMEOUT seconds). No effect on other targets. */
void target_exec_set_timeout(target *tg, int timeout_ms);
gboolean target_is_exec(const target *tg);

/* The default observe for targets with a snapshot: renders it. */
gboolean target_observe_from_snapshot(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines,
                                      GError **error);

#endif

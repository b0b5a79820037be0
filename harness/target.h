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
	/* Profiles (docs/profiles.md). An adaptable target (model, naive) runs
	 * each trace under base_profile overlaid with the trace's own keys; a
	 * live target runs under the profile it announced, and a trace whose
	 * keys differ from it is not applicable there. */
	gboolean adapts_profile;
	tr_profile base_profile; /* adaptable: every key (the documented default until set) */
	tr_profile announced;    /* live: the keys it announced (none: it announced nothing) */
	GPtrArray *profile_how;  /* live: its "KEY: how it was found" texts, or NULL */
	/* Optional (the incremental comparison, diff.h): a window snapshot over
	 * sorted disjoint ranges (snapshot.h); NULL: the engine takes a full
	 * snapshot and cuts the window out of it. */
	gboolean (*snapshot_window)(target *tg, const trace *t, const snap_range *r, guint nr, snapshot *snap,
	                            GError **error);
	/* Optional: the ranges whose VMAs the last exec changed, exactly (every
	 * VMA record that appeared or disappeared, old and new); NULL: the
	 * target does not know, and the engine derives them from the statement.
	 * Returns how many; *out points to them until the next exec. */
	guint (*changed)(target *tg, const snap_range **out);
};

/* $env_var if set, else the executable `name` in the running program's
 * directory (where the build puts mmref, mmref-kernel and their siblings). */
char *target_sibling_executable(const char *env_var, const char *name);

/* "model", "naive", "kernel", "exec:COMMAND". NULL and *error if unknown. */
target *target_new(const char *name, GError **error);
void target_free(target *tg);

target *target_model_new(void);
target *target_naive_new(void);
target *target_exec_new(const char *name, const char *command, GError **error);
/* vm:VERSION, vm:PATH (target_vm.c): a kernel booted under QEMU with
 * mmref-kernel-static as its /init, an exec target over the serial port. */
target *target_vm_new(const char *name, GError **error);
/* Why vm:SPEC cannot run here (qemu, the static executor, the image;
 * spec NULL: the first two only), or NULL (g_free). */
char *target_vm_missing(const char *spec);
char *target_vm_kernel_dir(void);
char *target_vm_image(const char *spec, GError **error);
/* Exec targets: a line the child prints, in a block of its own, when it is
 * ready for input; the harness sends nothing before it (NULL: none). */
void target_exec_set_banner(target *tg, const char *line);

/* The model target's address space (NULL for other targets or before
 * start). */
mm_state *target_model_mm(target *tg);
gboolean target_is_model(const target *tg);
/* Runs mm_check on a model target; appends one line per violation to
 * report (may be NULL) and returns how many there are (0 for other targets). */
size_t target_model_check(target *tg, GString *report);
/* The same in mm_check_ranges' local mode, over sorted disjoint ranges. */
size_t target_model_check_ranges(target *tg, const snap_range *r, guint nr, GString *report);

/* Exec targets: how long to wait for an answer (default 10 s, or
 * $MMREF_EXEC_TIMEOUT seconds). No effect on other targets. */
void target_exec_set_timeout(target *tg, int timeout_ms);
gboolean target_is_exec(const target *tg);

/* ---- Profiles ---------------------------------------------------------------- */
/* Makes a live target announce its profile (an exec target is started on an
 * empty trace, if it was not started yet). No-op for adaptable targets. */
gboolean target_probe_profile(target *tg, GError **error);

/* The profile a trace runs under on the adaptable targets of a run, given the
 * live targets' announced profiles and the command line's --profile (may be
 * NULL): probes every live target, checks that they agree with each other,
 * and sets each adaptable target's base profile to the documented default
 * overlaid with the live profile, then with cli. FALSE and *error when the
 * live targets disagree. */
gboolean targets_setup_profiles(target *const *targets, guint n, const tr_profile *cli, GError **error);

/* The keys a trace asks for: cli (may be NULL) overlaid with its own. */
void trace_wanted_profile(const trace *t, const tr_profile *cli, tr_profile *out);

/* NULL when t can run on tg; else why not, e.g. "zero_page=on (kernel has
 * zero_page=off)" (g_free). Adaptable targets run any profile of the kernel
 * versions the model implements. */
char *target_not_applicable(const target *tg, const trace *t, const tr_profile *cli);

/* The default observe for targets with a snapshot: renders it. */
gboolean target_observe_from_snapshot(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines,
                                      GError **error);

#endif

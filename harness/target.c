/* Targets by name: model, naive, kernel, gvisor, vm:VERSION, exec:COMMAND. */
#include "target.h"

#include <string.h>

char *target_sibling_executable(const char *env_var, const char *name)
{
	const char *env = g_getenv(env_var);
	if (env && *env)
		return g_strdup(env);
	char *self = g_file_read_link("/proc/self/exe", NULL);
	if (!self)
		return NULL;
	char *dir = g_path_get_dirname(self);
	char *path = g_build_filename(dir, name, NULL);
	g_free(dir);
	g_free(self);
	return path;
}

/* mmref-kernel next to the running executable, or $MMREF_KERNEL. */
static char *kernel_path(void) { return target_sibling_executable("MMREF_KERNEL", "mmref-kernel"); }

/* gvisor: mmref-kernel inside gVisor's sandbox (runsc do), with the options
 * it needs there (docs/implementations/gvisor.md): not the guest's /init
 * though PID 1, no pagemap (page states '?'), the top of the address space
 * probed, and the profile shown, not announced (gVisor is compared under the
 * profile of the Linux it imitates). $MMREF_RUNSC names another runsc. */
static target *gvisor_new(GError **error)
{
	const char *env = g_getenv("MMREF_RUNSC");
	char *runsc = env && *env ? g_strdup(env) : g_find_program_in_path("runsc");
	if (!runsc || !g_file_test(runsc, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
		            "target gvisor: runsc (gVisor) is not installed%s%s (apt-get install runsc, or set MMREF_RUNSC; "
		            "docs/implementations/gvisor.md)",
		            runsc ? ": no executable " : "", runsc ? runsc : "");
		g_free(runsc);
		return NULL;
	}
	char *path = kernel_path();
	if (!path || !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
		            "target gvisor: no executable mmref-kernel at %s (build it, or set MMREF_KERNEL)",
		            path ? path : "(unknown)");
		g_free(path);
		g_free(runsc);
		return NULL;
	}
	char *qr = g_shell_quote(runsc), *qk = g_shell_quote(path);
	char *cmd = g_strdup_printf("exec %s --network=none do %s --no-init --no-pagemap --task-size=probe "
	                            "--profile-comments",
	                            qr, qk);
	target *tg = target_exec_new("gvisor", cmd, error);
	g_free(cmd);
	g_free(qr);
	g_free(qk);
	g_free(path);
	g_free(runsc);
	return tg;
}

target *target_new(const char *name, GError **error)
{
	if (strcmp(name, "gvisor") == 0)
		return gvisor_new(error);
	if (strcmp(name, "model") == 0)
		return target_model_new();
	if (strcmp(name, "naive") == 0)
		return target_naive_new();
	if (strcmp(name, "kernel") == 0) {
		char *path = kernel_path();
		if (!path || !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
			            "target kernel: no executable mmref-kernel at %s (build it, or set MMREF_KERNEL)",
			            path ? path : "(unknown)");
			g_free(path);
			return NULL;
		}
		char *cmd = g_shell_quote(path);
		target *tg = target_exec_new("kernel", cmd, error);
		g_free(cmd);
		g_free(path);
		return tg;
	}
	if (strncmp(name, "vm:", 3) == 0)
		return target_vm_new(name, error);
	if (strncmp(name, "exec:", 5) == 0) {
		if (!name[5]) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "target exec: needs a command (exec:COMMAND)");
			return NULL;
		}
		return target_exec_new(name, name + 5, error);
	}
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
	            "unknown target '%s' (expected model, naive, kernel, gvisor, vm:VERSION or exec:COMMAND)", name);
	return NULL;
}

void target_free(target *tg)
{
	if (!tg)
		return;
	if (tg->ops && tg->ops->destroy)
		tg->ops->destroy(tg);
	if (tg->profile_how)
		g_ptr_array_unref(tg->profile_how);
	g_free(tg->name);
	g_free(tg);
}

/* ---- Profiles ---------------------------------------------------------------------- */

gboolean target_probe_profile(target *tg, GError **error)
{
	if (tg->adapts_profile || !tr_profile_empty(&tg->announced) || !target_is_exec(tg))
		return TRUE;
	/* An exec target announces its profile in its answer to "mmtrace 1":
	 * start it on an empty trace to hear it. */
	trace *empty = trace_parse("(profile probe)", "mmtrace 1\n", 10, error);
	if (!empty)
		return FALSE;
	gboolean ok = tg->ops->start(tg, empty, error);
	trace_free(empty);
	return ok;
}

gboolean targets_setup_profiles(target *const *targets, guint n, const tr_profile *cli, GError **error)
{
	tr_profile live = {0};
	const target *first_live = NULL;
	/* Live targets only (vm:6.1,vm:6.12,kernel: kernels against each
	 * other, docs/versions.md) may run under different profiles. */
	gboolean any_adaptable = FALSE;
	for (guint i = 0; i < n; i++)
		any_adaptable = any_adaptable || targets[i]->adapts_profile;
	for (guint i = 0; i < n; i++) {
		target *tg = targets[i];
		if (!target_probe_profile(tg, error))
			return FALSE;
		if (tg->adapts_profile || tr_profile_empty(&tg->announced))
			continue;
		int k = tr_profile_conflict(&tg->announced, &live);
		if (k >= 0 && !any_adaptable)
			continue;
		if (k >= 0) {
			char *a = tr_profile_item(&live, (tr_profile_key)k), *b = tr_profile_item(&tg->announced, (tr_profile_key)k);
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
			            "targets %s and %s run under different profiles (%s, %s): the model cannot follow both",
			            first_live->name, tg->name, a, b);
			g_free(a);
			g_free(b);
			return FALSE;
		}
		tr_profile_overlay(&live, &tg->announced);
		if (!first_live)
			first_live = tg;
	}
	for (guint i = 0; i < n; i++) {
		target *tg = targets[i];
		if (!tg->adapts_profile)
			continue;
		tr_profile_default(&tg->base_profile);
		tr_profile_overlay(&tg->base_profile, &live);
		if (cli)
			tr_profile_overlay(&tg->base_profile, cli);
	}
	return TRUE;
}

void trace_wanted_profile(const trace *t, const tr_profile *cli, tr_profile *out)
{
	memset(out, 0, sizeof(*out));
	if (cli)
		tr_profile_overlay(out, cli);
	tr_profile_overlay(out, &t->profile);
}

char *target_not_applicable(const target *tg, const trace *t, const tr_profile *cli)
{
	tr_profile want;
	trace_wanted_profile(t, cli, &want);
	if (tg->adapts_profile) {
		/* The versions whose rules are modelled (docs/versions.md): the
		 * trace's own, else the one the run gives the model (a live
		 * target's, e.g. vm:PATH booting another release). */
		tr_profile run = {0};
		if (tr_profile_has(&want, TR_PK_KERNEL))
			run = want;
		else if (tr_profile_has(&tg->base_profile, TR_PK_KERNEL))
			run = tg->base_profile;
		if (tr_profile_has(&run, TR_PK_KERNEL)) {
			mm_config cfg;
			mm_config_default(&cfg);
			cfg.kernel_version = (unsigned)run.value[TR_PK_KERNEL];
			if (!mm_config_supported(&cfg)) {
				char *a = tr_profile_item(&run, TR_PK_KERNEL);
				char *why = g_strdup_printf("%s (%s implements kernel=6.1, 6.12 and 6.18 only)", a, tg->name);
				g_free(a);
				return why;
			}
		}
		/* shmem_thp: huge shmem folios at fault time are not modelled
		 * (mm_config_supported): only never and deny can be followed. */
		const tr_profile *sp = tr_profile_has(&want, TR_PK_SHMEM_THP) ? &want : &tg->base_profile;
		if (tr_profile_has(sp, TR_PK_SHMEM_THP) && sp->value[TR_PK_SHMEM_THP] != MM_SHMEM_THP_NEVER &&
		    sp->value[TR_PK_SHMEM_THP] != MM_SHMEM_THP_DENY) {
			char *a = tr_profile_item(sp, TR_PK_SHMEM_THP);
			char *why = g_strdup_printf("%s (%s implements shmem_thp=never and deny only)", a, tg->name);
			g_free(a);
			return why;
		}
		/* CONFIG_MEMORY_FAILURE (profile memory_failure=on): MADV_HWPOISON and
		 * MADV_SOFT_OFFLINE poison or migrate pages (mm/madvise.c
		 * madvise_inject_error, mm/memory-failure.c); the model and the
		 * naive oracle implement only their absence (EINVAL). */
		tr_profile eff = tg->base_profile;
		tr_profile_overlay(&eff, &want);
		if (tr_profile_has(&eff, TR_PK_MEMORY_FAILURE) && eff.value[TR_PK_MEMORY_FAILURE])
			for (guint i = 0; i < t->stmts->len; i++) {
				const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
				if (s->kind == TR_MADVISE &&
				    (s->advice == MM_MADV_HWPOISON || s->advice == MM_MADV_SOFT_OFFLINE))
					return g_strdup_printf("memory_failure=on (%s implements memory_failure=off only: "
					                       "madvise %s at line %d)",
					                       tg->name, s->advice == MM_MADV_HWPOISON ? "hwpoison" : "soft_offline",
					                       s->line);
			}
		return NULL;
	}
	int k = tr_profile_conflict(&want, &tg->announced);
	if (k < 0)
		return NULL;
	char *a = tr_profile_item(&want, (tr_profile_key)k), *b = tr_profile_item(&tg->announced, (tr_profile_key)k);
	char *why = g_strdup_printf("%s (%s has %s)", a, tg->name, b);
	g_free(a);
	g_free(b);
	return why;
}

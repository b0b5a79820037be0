/* Targets by name: model, naive, kernel, exec:COMMAND. */
#include "target.h"

#include <string.h>

/* mmref-kernel next to the running executable, or $MMREF_KERNEL. */
static char *kernel_path(void)
{
	const char *env = g_getenv("MMREF_KERNEL");
	if (env && *env)
		return g_strdup(env);
	char *self = g_file_read_link("/proc/self/exe", NULL);
	if (!self)
		return NULL;
	char *dir = g_path_get_dirname(self);
	char *path = g_build_filename(dir, "mmref-kernel", NULL);
	g_free(dir);
	g_free(self);
	return path;
}

target *target_new(const char *name, GError **error)
{
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
	if (strncmp(name, "exec:", 5) == 0) {
		if (!name[5]) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "target exec: needs a command (exec:COMMAND)");
			return NULL;
		}
		return target_exec_new(name, name + 5, error);
	}
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
	            "unknown target '%s' (expected model, naive, kernel or exec:COMMAND)", name);
	return NULL;
}

void target_free(target *tg)
{
	if (!tg)
		return;
	if (tg->ops && tg->ops->destroy)
		tg->ops->destroy(tg);
	g_free(tg->name);
	g_free(tg);
}

/* The installed library (docs/api.md): `cmake --install` of this build tree
 * into a temporary prefix gives libmmref, its headers and mmref.pc; the
 * example examples/check_impl.c builds against that tree with pkg-config
 * alone, agrees with the model, and finds the mistake planted with --bug.
 *
 * Skips (77) when cmake, pkg-config or the C compiler is missing. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

static char *prefix;
static const char *skip_reason;

/* Runs argv; returns its exit status (or -1), its output in *out (g_free). */
static int run(const char *const *argv, char **out)
{
	char *o = NULL, *e = NULL;
	int status = -1;
	GError *err = NULL;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, &status, &err)) {
		g_test_message("cannot run %s: %s", argv[0], err->message);
		g_error_free(err);
		g_free(o);
		g_free(e);
		if (out)
			*out = g_strdup("");
		return -1;
	}
	char *both = g_strconcat(o ? o : "", e ? e : "", NULL);
	g_free(o);
	g_free(e);
	if (out)
		*out = both;
	else
		g_free(both);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* A value from this build's CMakeCache.txt ("" if absent). */
static char *cache_value(const char *key)
{
	char *path = g_build_filename(MMREF_BINARY_DIR, "CMakeCache.txt", NULL);
	char *text = NULL;
	char *value = NULL;
	if (g_file_get_contents(path, &text, NULL, NULL)) {
		char **lines = g_strsplit(text, "\n", -1);
		size_t kl = strlen(key);
		for (char **l = lines; *l && !value; l++)
			if (strncmp(*l, key, kl) == 0 && (*l)[kl] == ':') {
				const char *eq = strchr(*l, '=');
				if (eq)
					value = g_strdup(eq + 1);
			}
		g_strfreev(lines);
	}
	g_free(text);
	g_free(path);
	return value ? value : g_strdup("");
}

static void test_install_tree(void)
{
	char *out = NULL;
	const char *argv[] = {"cmake", "--install", MMREF_BINARY_DIR, "--prefix", prefix, NULL};
	int rc = run(argv, &out);
	if (rc != 0)
		g_printerr("%s\n", out);
	g_assert_cmpint(rc, ==, 0);
	g_free(out);
	static const char *const files[] = {"lib/libmmref.a", "include/mmref/mmref.h", "include/mmref/walk.h",
	                                    "lib/pkgconfig/mmref.pc", "bin/mmref"};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		char *p = g_build_filename(prefix, files[i], NULL);
		if (!g_file_test(p, G_FILE_TEST_EXISTS))
			g_error("not installed: %s", p);
		g_free(p);
	}
}

static void test_example(void)
{
	/* pkg-config finds the library from the prefix alone. */
	char *pcdir = g_build_filename(prefix, "lib", "pkgconfig", NULL);
	char *env = g_strdup_printf("PKG_CONFIG_PATH=%s", pcdir);
	char *out = NULL;
	const char *pc[] = {"env", env, "pkg-config", "--cflags", "--libs", "mmref", NULL};
	g_assert_cmpint(run(pc, &out), ==, 0);
	g_strstrip(out);
	g_assert_nonnull(strstr(out, "-lmmref"));
	char *flags = out;

	/* The same compiler (and sanitizers) this build used: the installed
	 * library is what this build made. */
	char *cc = cache_value("CMAKE_C_COMPILER");
	char *sanitize = cache_value("MMREF_SANITIZE");
	char *coverage = cache_value("MMREF_COVERAGE");
	GString *cmd = g_string_new(NULL);
	char *src = g_build_filename(MMREF_SOURCE_DIR, "examples", "check_impl.c", NULL);
	char *exe = g_build_filename(prefix, "check_impl", NULL);
	char *qsrc = g_shell_quote(src), *qexe = g_shell_quote(exe);
	g_string_printf(cmd, "%s -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror %s%s%s -o %s %s",
	                *cc ? cc : "cc", qsrc,
	                g_ascii_strcasecmp(sanitize, "ON") == 0 ? " -fsanitize=address,undefined" : "",
	                g_ascii_strcasecmp(coverage, "ON") == 0 ? " -fprofile-instr-generate" : "", qexe, flags);
	g_test_message("%s", cmd->str);
	const char *build[] = {"sh", "-c", cmd->str, NULL};
	char *bout = NULL;
	int rc = run(build, &bout);
	if (rc != 0)
		g_printerr("%s\n%s\n", cmd->str, bout);
	g_assert_cmpint(rc, ==, 0);
	g_free(bout);

	/* It agrees with the model... */
	char *rout = NULL;
	const char *ok[] = {exe, "--steps", "20000", NULL};
	rc = run(ok, &rout);
	if (rc != 0)
		g_printerr("%s\n", rout);
	g_assert_cmpint(rc, ==, 0);
	g_assert_nonnull(strstr(rout, "agrees with the model"));
	g_free(rout);
	/* ...and catches the planted mistake: after an mprotect into a hole,
	 * the pages before the hole differ. */
	const char *bug[] = {exe, "--bug", NULL};
	rc = run(bug, &rout);
	g_assert_cmpint(rc, ==, 1);
	g_assert_nonnull(strstr(rout, "mprotect("));
	g_assert_nonnull(strstr(rout, "model => -12, tiny_mm => -12"));
	g_free(rout);

	g_free(qsrc);
	g_free(qexe);
	g_free(src);
	g_free(exe);
	g_string_free(cmd, TRUE);
	g_free(cc);
	g_free(sanitize);
	g_free(coverage);
	g_free(flags);
	g_free(env);
	g_free(pcdir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	static const char *const tools[] = {"cmake", "pkg-config", "sh", "env"};
	for (size_t i = 0; i < G_N_ELEMENTS(tools) && !skip_reason; i++) {
		char *p = g_find_program_in_path(tools[i]);
		if (!p)
			skip_reason = tools[i];
		g_free(p);
	}
	if (skip_reason) {
		g_printerr("skipped: %s not found\n", skip_reason);
		return 77;
	}
	GError *err = NULL;
	prefix = g_dir_make_tmp("mmref-install-XXXXXX", &err);
	g_assert_no_error(err);
	g_test_add_func("/install/tree", test_install_tree);
	g_test_add_func("/install/example", test_example);
	int rc = g_test_run();
	if (rc == 0) {
		const char *rm[] = {"rm", "-rf", prefix, NULL};
		run(rm, NULL);
	} else {
		g_printerr("install tree kept in %s\n", prefix);
	}
	g_free(prefix);
	return rc;
}

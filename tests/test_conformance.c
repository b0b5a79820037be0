/* The conformance test for external targets (docs/exec-protocol.md): a
 * fixed set of traces, each run side by side on the model and on
 * exec:COMMAND, compared after every statement (results, state, the lines of
 * observations). One test case per trace, so the TAP output says pass or
 * fail per trace, and a failure prints the divergence.
 *
 *   test_conformance [--target COMMAND] [--gen N] [GTest options]
 *
 * COMMAND defaults to $MMREF_CONFORMANCE_TARGET, else the mmref-naive built
 * next to mmref (the worked example, which must pass). The traces:
 *   /conformance/builtin/NAME   a few hand traces, one per area of the format
 *   /conformance/corpus/NAME    every corpus/traces/NAME.trace of the source tree
 *   /conformance/gen/SEED       N generated traces (default 25, or $MMREF_CONFORMANCE_GEN)
 * Exit status: 0 every trace passed, 1 some failed, 77 no target to run. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "gen.h"
#include "target.h"
#include "trace.h"

#define GEN_LENGTH 100
#define GEN_FIRST_SEED 8000

typedef struct conf_case {
	char *name;
	char *source; /* a file to load, or NULL */
	char *text;   /* the trace's text, when built in */
	guint64 seed; /* generated */
	gboolean generated;
} conf_case;

static target *model_tg, *impl_tg;
static guint n_pass, n_fail;

/* One area of the format each; no expectations: the model is the reference. */
static const struct {
	const char *name;
	const char *text;
} builtin[] = {
	{"split-and-fault",
	 "mmtrace 1\n"
	 "mmap +0 16K rw- private,anonymous,fixed_noreplace\n"
	 "touch +4K w\n"
	 "touch +0 r\n"
	 "mprotect +4K 4K r--\n"
	 "touch +4K w\n"
	 "touch +64K r\n"
	 "maps\n"
	 "pages +0 16K\n"
	 "state\n"},
	{"merge-and-unmap",
	 "mmtrace 1\n"
	 "mmap +0 8K rw- private,anonymous,fixed\n"
	 "mmap +8K 8K rw- private,anonymous,fixed\n"
	 "mmap +16K 8K r-- private,anonymous,fixed\n"
	 "mprotect +16K 8K rw-\n"
	 "munmap +4K 4K\n"
	 "munmap +1M 4K\n"
	 "munmap +1 4K\n"
	 "smaps\n"},
	{"mremap",
	 "mmtrace 1\n"
	 "mmap +0 8K rw- private,anonymous,fixed\n"
	 "touch +0 w\n"
	 "mremap +0 8K 16K -\n"
	 "mmap +64K 4K r-- private,anonymous,fixed\n"
	 "mremap +0 16K 128K -\n"
	 "mremap +0 16K 128K maymove\n"
	 "mremap +0 4K 4K maymove,fixed +1M\n"
	 "mmap +2M 8K rw- private,anonymous,fixed\n"
	 "touch +2M w\n"
	 "mremap +2M 8K 8K maymove,dontunmap +4M\n"
	 "state\n"},
	{"madvise",
	 "mmtrace 1\n"
	 "mmap +0 32K rw- private,anonymous,fixed\n"
	 "touch +0 w\n"
	 "touch +4K w\n"
	 "madvise +0 8K dontneed\n"
	 "madvise +8K 4K guard_install\n"
	 "touch +8K r\n"
	 "madvise +8K 4K guard_remove\n"
	 "touch +8K r\n"
	 "madvise +0 32K hugepage\n"
	 "madvise +0 64K dontfork\n"
	 "madvise +0 4K 0x77\n"
	 "madvise +16K 8K populate_write\n"
	 "state\n"},
	{"files",
	 "mmtrace 1\n"
	 "file f 16K\n"
	 "file g 8K\n"
	 "mmap +0 16K r-- private,fixed file=f\n"
	 "touch +0 r\n"
	 "mmap +64K 8K rw- shared,fixed file=f off=4K\n"
	 "touch +64K w\n"
	 "mmap +128K 16K rw- private,fixed file=g\n"
	 "touch +128K w\n"
	 "touch +140K r\n"
	 "mmap +256K 8K rw- shared,fixed file=g off=0x1001\n"
	 "state\n"
	 "maps\n"},
	{"lock-and-seal",
	 "mmtrace 1\n"
	 "mmap +0 16K rw- private,anonymous,fixed\n"
	 "mlock +0 8K\n"
	 "mlock +8K 8K onfault\n"
	 "munlock +4K 4K\n"
	 "mseal +0 8K\n"
	 "munmap +0 4K\n"
	 "mprotect +0 8K r--\n"
	 "madvise +0 8K dontneed\n"
	 "mremap +0 8K 4K -\n"
	 "smaps\n"
	 "state\n"},
	{"mmap-errors",
	 "mmtrace 1\n"
	 "mmap +0 0 rw- private,anonymous,fixed\n"
	 "mmap +0 4K rw- anonymous,fixed\n"
	 "mmap +0 4K rw- private,anonymous,fixed\n"
	 "mmap +0 4K rw- private,anonymous,fixed_noreplace\n"
	 "mmap +1 4K rw- private,anonymous,fixed\n"
	 "mmap +8K 4K rw- private,anonymous,fixed,0x80000000\n"
	 "mmap +8K 4K rw- shared_validate,anonymous,fixed,sync\n"
	 "mmap +16K 4K rwx private,anonymous,fixed,growsdown\n"
	 "maps\n"},
	{"no-hint-and-shmem",
	 "mmtrace 1\n"
	 "arena 0x100000000000 64M\n"
	 "mmap 0 8K rw- private,anonymous\n"
	 "mmap 0 16K rw- shared,anonymous\n"
	 "mmap 0 2M rw- private,anonymous\n"
	 "mmap 0 4K r-- shared,anonymous\n"
	 "touch +0x3ffe000 w\n"
	 "maps\n"
	 "state\n"},
	{"exec-touch",
	 "mmtrace 1\n"
	 "mmap +0 8K r-x private,anonymous,fixed\n"
	 "mmap +8K 8K rw- private,anonymous,fixed\n"
	 "touch +0 x\n"
	 "touch +4K r\n"
	 "touch +8K x\n"
	 "touch +8K w\n"
	 "touch +8K x\n"
	 "touch +16K x\n"
	 "mprotect +8K 4K --x\n"
	 "touch +8K x\n"
	 "touch +8K w\n"
	 "pages +0 16K\n"},
};

static void run_case(gconstpointer data)
{
	const conf_case *c = data;
	GError *err = NULL;
	trace *t;
	if (c->source)
		t = trace_load(c->source, &err);
	else if (c->generated)
		t = gen_trace(c->seed, GEN_LENGTH, c->name);
	else
		t = trace_parse(c->name, c->text, strlen(c->text), &err);
	if (!t) {
		g_test_message("invalid trace: %s", err->message);
		g_error_free(err);
		n_fail++;
		g_test_fail();
		return;
	}
	target *tv[2] = {model_tg, impl_tg};
	char *report = NULL;
	if (diff_run(t, tv, 2, NULL, &report, NULL) == DIFF_SAME) {
		n_pass++;
	} else {
		/* The divergence, for the implementer: the statement, both results, the state. */
		g_test_message("%s", report);
		g_printerr("%s: FAIL\n%s", c->name, report);
		n_fail++;
		g_test_fail();
	}
	g_free(report);
	trace_free(t);
}

static char *default_target(void)
{
	const char *env = g_getenv("MMREF_CONFORMANCE_TARGET");
	if (env && *env)
		return g_strdup(env);
	char *path = g_build_filename(MMREF_BINARY_DIR, "mmref-naive", NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
		g_free(path);
		return NULL;
	}
	char *cmd = g_shell_quote(path);
	g_free(path);
	return cmd;
}

/* --target CMD and --gen N, taken out of argv before GTest sees it. */
static void take_options(int *argc, char **argv, char **command, int *gen)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--target") == 0 && i + 1 < *argc) {
			g_free(*command);
			*command = g_strdup(argv[++i]);
		} else if (strcmp(argv[i], "--gen") == 0 && i + 1 < *argc) {
			*gen = atoi(argv[++i]);
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
}

static void add_case(GPtrArray *cases, conf_case *c, const char *path)
{
	g_ptr_array_add(cases, c);
	g_test_add_data_func(path, c, run_case);
}

static void free_case(gpointer p)
{
	conf_case *c = p;
	g_free(c->name);
	g_free(c->source);
	g_free(c->text);
	g_free(c);
}

int main(int argc, char **argv)
{
	char *command = default_target();
	const char *genv = g_getenv("MMREF_CONFORMANCE_GEN");
	int gen = genv && *genv ? atoi(genv) : 25;
	take_options(&argc, argv, &command, &gen);
	/* Every trace runs and reports, whatever failed before it. */
	char **args = g_new0(char *, (gsize)argc + 2);
	int nargs = 0;
	for (int i = 0; i < argc; i++)
		args[nargs++] = argv[i];
	args[nargs++] = (char *)"--keep-going";
	g_test_init(&nargs, &args, NULL);
	if (!command) {
		g_printerr("skipped: no target (build mmref-naive, or pass --target COMMAND)\n");
		return 77;
	}
	char *name = g_strconcat("exec:", command, NULL);
	GError *err = NULL;
	model_tg = target_model_new();
	impl_tg = target_new(name, &err);
	g_assert_no_error(err);

	GPtrArray *cases = g_ptr_array_new_with_free_func(free_case);
	for (size_t i = 0; i < G_N_ELEMENTS(builtin); i++) {
		conf_case *c = g_new0(conf_case, 1);
		c->name = g_strdup_printf("%s.trace", builtin[i].name);
		c->text = g_strdup(builtin[i].text);
		char *path = g_strdup_printf("/conformance/builtin/%s", builtin[i].name);
		add_case(cases, c, path);
		g_free(path);
	}
	char *dir = g_build_filename(MMREF_SOURCE_DIR, "corpus", "traces", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	for (const char *f; d && (f = g_dir_read_name(d));)
		if (g_str_has_suffix(f, ".trace"))
			g_ptr_array_add(names, g_strdup(f));
	if (d)
		g_dir_close(d);
	g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < names->len; i++) {
		const char *f = g_ptr_array_index(names, i);
		conf_case *c = g_new0(conf_case, 1);
		c->source = g_build_filename(dir, f, NULL);
		c->name = g_strdup(f);
		char *base = g_strndup(f, strlen(f) - strlen(".trace"));
		char *path = g_strdup_printf("/conformance/corpus/%s", base);
		add_case(cases, c, path);
		g_free(path);
		g_free(base);
	}
	for (int i = 0; i < gen; i++) {
		conf_case *c = g_new0(conf_case, 1);
		c->generated = TRUE;
		c->seed = GEN_FIRST_SEED + (guint64)i;
		c->name = g_strdup_printf("gen-%" G_GUINT64_FORMAT ".trace", c->seed);
		char *path = g_strdup_printf("/conformance/gen/%" G_GUINT64_FORMAT, c->seed);
		add_case(cases, c, path);
		g_free(path);
	}

	int rc = g_test_run();
	g_printerr("conformance: %s: %u traces passed, %u failed\n", name, n_pass, n_fail);
	target_free(impl_tg);
	target_free(model_tg);
	g_ptr_array_unref(names);
	g_ptr_array_unref(cases);
	g_free(dir);
	g_free(name);
	g_free(command);
	g_free(args);
	return rc;
}

/* The regression corpus: every *.trace under corpus/traces/ (recursively),
 * whose expectations were recorded from the live kernel, replayed against the
 * model (with mm_check after every statement), the naive oracle and, where it
 * can run, the live kernel itself. One test case per trace and target, so a failure
 * names both:
 *
 *     /corpus/model/merge-mprotect-unfaulted-left.trace
 *     /corpus/naive/merge-mprotect-unfaulted-left.trace
 *     /corpus/kernel/merge-mprotect-unfaulted-left.trace
 *
 * corpus/traces/KNOWN-DIVERGENCES lists traces that are known to fail on the
 * model or the naive oracle (bugs not fixed yet): they are reported as
 * incomplete, not failed. A listed trace that agrees again fails, so that the
 * list stays honest. The kernel part skips, with the reason, unless the
 * kernel target can run here: root (pagemap shows PFNs) and a working
 * mmref-kernel.
 *
 * Profiles (docs/profiles.md): each trace names the keys of the kernel
 * profile its recorded answers depend on. The model and the naive oracle
 * replay it under that profile; the live kernel replays it only where its own
 * announced profile matches, and a trace whose key differs is reported as
 * skipped with the key (never as passed). docs/corpus.md describes the corpus
 * and the list. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diff.h"
#include "target.h"
#include "trace.h"

#define TRACES_DIR MMREF_SOURCE_DIR "/corpus/traces"
#define KNOWN_FILE TRACES_DIR "/KNOWN-DIVERGENCES"
#define KERNEL_BIN MMREF_BINARY_DIR "/mmref-kernel"
/* The issue asks for at least this many recorded traces. */
#define MIN_TRACES 150

enum which { MODEL, NAIVE, KERNEL, NTARGETS };
static const char *const target_names[NTARGETS] = {"model", "naive", "kernel"};

/* One line of KNOWN-DIVERGENCES: "NAME [model,naive] REASON". */
typedef struct known {
	char *reason;
	bool on[NTARGETS]; /* the targets it is expected to fail on */
	bool seen;	   /* NAME exists in the corpus */
} known;

typedef struct corpus_case {
	char *rel;  /* path relative to corpus/traces: the trace's name */
	char *path; /* absolute */
	enum which which;
} corpus_case;

static GHashTable *known_divergences; /* rel -> known */
static GPtrArray *trace_names;	      /* rel, sorted */
static target *targets[NTARGETS];     /* made on first use, kept across traces */
static char *kernel_skip;	      /* why the kernel part cannot run, or NULL */

/* ---- the corpus on disk ----------------------------------------------------------- */

static void collect(const char *dir, const char *prefix, GPtrArray *out)
{
	GError *err = NULL;
	GDir *d = g_dir_open(dir, 0, &err);
	g_assert_no_error(err);
	const char *name;
	while ((name = g_dir_read_name(d))) {
		char *full = g_build_filename(dir, name, NULL);
		char *rel = *prefix ? g_strconcat(prefix, "/", name, NULL) : g_strdup(name);
		if (g_file_test(full, G_FILE_TEST_IS_DIR))
			collect(full, rel, out);
		else if (g_str_has_suffix(name, ".trace"))
			g_ptr_array_add(out, g_strdup(rel));
		g_free(rel);
		g_free(full);
	}
	g_dir_close(d);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void known_free(gpointer p)
{
	known *k = p;
	g_free(k->reason);
	g_free(k);
}

/* Lines: blank, "# comment", or "NAME [TARGETS] REASON" where TARGETS is an
 * optional bracketed comma list of model/naive (default: both). */
static void load_known(void)
{
	known_divergences = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, known_free);
	char *text = NULL;
	if (!g_file_get_contents(KNOWN_FILE, &text, NULL, NULL))
		return; /* no file: nothing is known to diverge */
	char **lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]);
		if (!*l || *l == '#')
			continue;
		char *rest = l + strcspn(l, " \t");
		char *name = g_strndup(l, (gsize)(rest - l));
		rest += strspn(rest, " \t");
		known *k = g_new0(known, 1);
		if (*rest == '[') {
			char *close = strchr(rest, ']');
			if (!close)
				g_error("%s:%d: unterminated [targets]", KNOWN_FILE, i + 1);
			char *list = g_strndup(rest + 1, (gsize)(close - rest - 1));
			char **ts = g_strsplit(list, ",", -1);
			for (int j = 0; ts[j]; j++) {
				char *tname = g_strstrip(ts[j]);
				if (strcmp(tname, "model") == 0)
					k->on[MODEL] = true;
				else if (strcmp(tname, "naive") == 0)
					k->on[NAIVE] = true;
				else
					g_error("%s:%d: unknown target '%s' (model or naive)", KNOWN_FILE,
						i + 1, tname);
			}
			g_strfreev(ts);
			g_free(list);
			rest = close + 1;
			rest += strspn(rest, " \t");
		} else {
			k->on[MODEL] = k->on[NAIVE] = true;
		}
		if (!*rest)
			g_error("%s:%d: '%s' needs a reason", KNOWN_FILE, i + 1, name);
		k->reason = g_strdup(rest);
		g_hash_table_replace(known_divergences, name, k);
	}
	g_strfreev(lines);
	g_free(text);
}

/* ---- can the kernel target run here? (as ci/main and test_kernel_target probe) ------ */

static char *probe_kernel(void)
{
	/* The corpus's page states need the zero page told apart from anonymous
	 * pages: PFNs in pagemap, visible only with CAP_SYS_ADMIN. */
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return g_strdup("/proc/self/pagemap is not readable");
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(p != MAP_FAILED);
	p[0] = 1;
	uint64_t e = 0;
	bool pfns = pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) == 8 && (e >> 63) &&
		    (e & ((1ull << 55) - 1)) != 0;
	munmap((void *)p, 4096);
	close(fd);
	if (!pfns)
		return g_strdup("/proc/self/pagemap hides PFNs (needs root / CAP_SYS_ADMIN)");

	/* target_new("kernel") looks next to its own executable or at
	 * $MMREF_KERNEL; this test lives in tests/, the binary one level up. */
	if (!g_getenv("MMREF_KERNEL"))
		g_setenv("MMREF_KERNEL", KERNEL_BIN, TRUE);
	const char *bin = g_getenv("MMREF_KERNEL");
	if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE))
		return g_strdup_printf("no mmref-kernel at %s (build it)", bin);

	/* The probe of ci/main: a no-hint mmap must land in the arena. */
	static const char probe[] = "mmtrace 1\nmmap 0 4K rw- private,anonymous\n";
	GError *err = NULL;
	trace *t = trace_parse("kernel-probe", probe, sizeof(probe) - 1, &err);
	g_assert_no_error(err);
	target *tg = target_new("kernel", &err);
	if (!tg) {
		char *why = g_strdup_printf("the kernel target cannot start: %s", err->message);
		g_clear_error(&err);
		trace_free(t);
		return why;
	}
	const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, 0);
	tr_result res = {0};
	char *why = NULL;
	if (!tg->ops->start(tg, t, &err) || !tg->ops->exec(tg, t, s, &res, &err)) {
		why = g_strdup_printf("mmref-kernel does not run here: %s", err ? err->message : "?");
		g_clear_error(&err);
	} else if (res.kind != TR_RES_VALUE || res.value < t->arena_base ||
		   res.value >= t->arena_base + t->arena_size) {
		why = g_strdup("mmref-kernel cannot confine mmaps to its arena here");
	}
	trace_free(t);
	if (!why && !target_probe_profile(tg, &err)) {
		why = g_strdup_printf("mmref-kernel did not announce its profile: %s", err->message);
		g_clear_error(&err);
	}
	if (why) {
		target_free(tg);
	} else {
		targets[KERNEL] = tg; /* keep it: one process serves every trace */
		GString *g = g_string_new(NULL);
		tr_profile_format(g, &tg->announced);
		g_printerr("test_corpus: the live kernel's profile: %s\n", g->str);
		g_string_free(g, TRUE);
	}
	return why;
}

/* ---- the cases ---------------------------------------------------------------------- */

static target *get_target(enum which w)
{
	if (!targets[w]) {
		GError *err = NULL;
		targets[w] = target_new(target_names[w], &err);
		g_assert_no_error(err);
	}
	return targets[w];
}

static void run_case(gconstpointer data)
{
	const corpus_case *c = data;
	if (c->which == KERNEL && kernel_skip) {
		g_test_skip(kernel_skip);
		return;
	}
	GError *err = NULL;
	trace *t = trace_load(c->path, &err);
	if (!t) {
		g_test_fail_printf("invalid trace: %s", err->message);
		g_clear_error(&err);
		return;
	}
	replay_options opt = {.check = c->which == MODEL};
	GString *failures = g_string_new(NULL);
	diff_status st = replay_run(t, get_target(c->which), &opt, failures, NULL, NULL);
	trace_free(t);
	if (st == DIFF_NOT_APPLICABLE) {
		/* Recorded under another profile than this kernel's. */
		g_strchomp(failures->str);
		g_test_skip(failures->str);
		g_string_free(failures, TRUE);
		return;
	}

	known *k = g_hash_table_lookup(known_divergences, c->rel);
	bool expected = k && k->on[c->which];
	if (st == DIFF_SAME && expected)
		g_test_fail_printf(
		    "%s agrees with the kernel on %s again but is listed in %s (%s): remove it from "
		    "the list",
		    c->rel, target_names[c->which], KNOWN_FILE, k->reason);
	else if (st != DIFF_SAME && expected)
		g_test_incomplete_printf("known divergence (%s):\n%s", k->reason, failures->str);
	else if (st != DIFF_SAME)
		g_test_fail_printf("%s disagrees with the kernel's recorded answers:\n%s",
				   target_names[c->which], failures->str);
	g_string_free(failures, TRUE);
}

/* The corpus is big enough, and KNOWN-DIVERGENCES names only traces that exist. */
static void test_inventory(void)
{
	g_test_message("%u traces in %s", trace_names->len, TRACES_DIR);
	g_assert_cmpuint(trace_names->len, >=, MIN_TRACES);
	GHashTableIter it;
	gpointer key, value;
	g_hash_table_iter_init(&it, known_divergences);
	while (g_hash_table_iter_next(&it, &key, &value))
		if (!((known *)value)->seen)
			g_test_fail_printf("%s lists %s, which is not in the corpus", KNOWN_FILE,
					   (const char *)key);
}

int main(int argc, char **argv)
{
	/* Report every failing trace, not just the first: GLib stops at the first
	 * failed case unless --keep-going. */
	char **args = g_new0(char *, (gsize)argc + 2);
	args[0] = argv[0];
	args[1] = (char *)"--keep-going";
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	argc++;
	argv = args;
	g_test_init(&argc, &argv, NULL);
	load_known();
	trace_names = g_ptr_array_new_with_free_func(g_free);
	collect(TRACES_DIR, "", trace_names);
	g_ptr_array_sort(trace_names, cmp_str);
	for (guint i = 0; i < trace_names->len; i++) {
		known *k = g_hash_table_lookup(known_divergences, trace_names->pdata[i]);
		if (k)
			k->seen = true;
	}
	kernel_skip = probe_kernel();

	g_test_add_func("/corpus/inventory", test_inventory);
	GPtrArray *cases = g_ptr_array_new();
	for (int w = 0; w < NTARGETS; w++) {
		for (guint i = 0; i < trace_names->len; i++) {
			corpus_case *c = g_new0(corpus_case, 1);
			c->rel = trace_names->pdata[i];
			c->path = g_build_filename(TRACES_DIR, c->rel, NULL);
			c->which = (enum which)w;
			g_ptr_array_add(cases, c);
			char *path = g_strdup_printf("/corpus/%s/%s", target_names[w], c->rel);
			g_test_add_data_func(path, c, run_case);
			g_free(path);
		}
	}
	int rc = g_test_run();
	if (kernel_skip)
		g_printerr("test_corpus: the kernel part was skipped: %s\n", kernel_skip);
	for (int w = 0; w < NTARGETS; w++)
		target_free(targets[w]);
	for (guint i = 0; i < cases->len; i++) {
		corpus_case *c = cases->pdata[i];
		g_free(c->path);
		g_free(c);
	}
	g_ptr_array_free(cases, TRUE);
	g_ptr_array_free(trace_names, TRUE);
	g_hash_table_destroy(known_divergences);
	g_free(kernel_skip);
	g_free(args);
	return rc;
}

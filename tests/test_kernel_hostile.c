/* mmref-kernel against hostile input (issue 12): confinement with the
 * kernel's own rounding (hugetlb), no executor addresses in messages, limits
 * (arena, populated bytes, file bytes), the executor's heap kept out of the
 * arena, and max_map_count agreeing with the model. The exhausting ones run
 * the executor inside a memory cgroup, or skip naming what is missing.
 * Skips (77) unless root with visible PFNs on Linux 6.18. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile.h"

#include "kernel_child.h"

/* ---- a memory cgroup for the tests that could exhaust the machine ------------------------ */

static char cg_dir[1024];

/* cgroupfs files take plain writes (g_file_set_contents renames a temporary file) */
static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}
static const char *cg_skip;

/* A child memory cgroup (v2 at /sys/fs/cgroup or its unified mount, else v1)
 * limited to `bytes`; the executor is moved into it before it starts. */
static void cg_setup(uint64_t bytes)
{
	char path[1200], cur[512] = "", line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");
	bool v1 = false;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0 && !cur[0])
			snprintf(cur, sizeof(cur), "%s", line + 3);
		char *m = strstr(line, ":memory:");
		if (m) {
			snprintf(cur, sizeof(cur), "%s", m + 8);
			v1 = true;
		}
	}
	if (f)
		fclose(f);
	const char *root = v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
	snprintf(cg_dir, sizeof(cg_dir), "%s%s/mmref-hostile-%d", root, strcmp(cur, "/") ? cur : "", (int)getpid());
	if (mkdir(cg_dir, 0755) != 0) {
		cg_skip = "cannot create a memory cgroup (needs root and the memory controller)";
		cg_dir[0] = '\0';
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", cg_dir, v1 ? "memory.limit_in_bytes" : "memory.max");
	char *val = g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
	if (!write_file(path, val)) {
		cg_skip = "the memory cgroup has no memory limit file (memory controller not enabled)";
		rmdir(cg_dir);
		cg_dir[0] = '\0';
	}
	g_free(val);
	if (!v1 && cg_dir[0]) {
		snprintf(path, sizeof(path), "%s/memory.swap.max", cg_dir);
		write_file(path, "0");
	}
}

static void cg_teardown(void)
{
	if (cg_dir[0])
		rmdir(cg_dir);
	cg_dir[0] = '\0';
	cg_skip = NULL;
}

/* Starts the executor with arguments, inside the cgroup when there is one. */
static kt *kt_start_args(const char *const *args)
{
	int in[2], out[2];
	g_assert_cmpint(pipe(in), ==, 0);
	g_assert_cmpint(pipe(out), ==, 0);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		if (cg_dir[0]) {
			char path[1100];
			snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
			FILE *f = fopen(path, "w");
			if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
				_exit(126);
		}
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		char *argv[16];
		int n = 0;
		argv[n++] = (char *)"mmref-kernel";
		for (const char *const *a = args; a && *a && n < 15; a++)
			argv[n++] = (char *)*a;
		argv[n] = NULL;
		execv(KERNEL_BIN, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	kt *k = g_new0(kt, 1);
	k->pid = pid;
	k->to = in[1];
	k->from = out[0];
	k->pending = g_string_new(NULL);
	return k;
}

static void kt_expect_error_naming(kt *k, const char *line, const char *name)
{
	char *a = kt_ask(k, line);
	if (!g_str_has_prefix(a, "# error: ") || !strstr(a, name))
		g_error("for '%s' expected '# error: …%s…', got:\n%s", line, name, a);
	g_free(a);
}

static void kt_expect_ok(kt *k, const char *line)
{
	char *a = kt_ask(k, line);
	if (g_str_has_prefix(a, "# error"))
		g_error("for '%s' expected a result, got:\n%s", line, a);
	g_free(a);
}

/* The mapping of the child that contains or follows addr (its first line
 * with end > addr): true and its range and name. */
static bool child_vma_after(kt *k, uint64_t addr, uint64_t *s, uint64_t *e, char *name, size_t nlen)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)k->pid);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	bool found = false;
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && !found; l++) {
		uint64_t a, b;
		if (sscanf(*l, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &a, &b) == 2 && b > addr) {
			*s = a;
			*e = b;
			snprintf(name, nlen, "%s", *l);
			found = true;
		}
	}
	g_strfreev(lines);
	g_free(text);
	return found;
}

/* ---- 1. confinement with the kernel's rounding ---------------------------------------------- */

static void expect_nothing_past(kt *k, uint64_t arena_end)
{
	uint64_t s, e;
	char name[256];
	g_assert_true(child_vma_after(k, arena_end - 1, &s, &e, name, sizeof(name)));
	/* the first VMA at or after the arena's last page must end inside the
	 * arena, or be the placeholder above it */
	if (e > arena_end && !(s >= arena_end && strstr(name, "mmref-placeholder")))
		g_error("a mapping %" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %s runs past the arena end", s, e,
		        name);
}

static void test_hugetlb(void)
{
	if (!live())
		return;
	kt *k = kt_start_args(NULL);
	/* an arena whose end is not 2 MiB-aligned: 2 MiB + 4 KiB */
	const uint64_t base = 0x200000000000ull, end = base + 0x201000;
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "arena 0x200000000000 0x201000", "arena 0x200000000000 0x201000");
	/* 4 KiB, rounded by the kernel to 2 MiB: would cover [+2M, +4M) */
	kt_expect_error_naming(k, "mmap +0x200000 4K rw- private,anonymous,hugetlb,noreserve,fixed", "huge page");
	expect_nothing_past(k, end);
	/* MAP_HUGE_2MB and MAP_HUGE_1GB spelled as numbers */
	kt_expect_error_naming(k, "mmap +0x200000 4K rw- private,anonymous,hugetlb,noreserve,fixed,0x54000000",
	                       "huge page");
	kt_expect_error_naming(k, "mmap +0x200000 4K rw- shared,anonymous,hugetlb,noreserve,fixed_noreplace", "huge page");
	expect_nothing_past(k, end);
	/* a hugetlb VMA that fits, then mremap of it: the new length is rounded too */
	kt_expect(k, "mmap +0 4K rw- private,anonymous,hugetlb,noreserve,fixed",
	          "mmap +0x0 4K rw- private,fixed,anonymous,noreserve,hugetlb => +0x0");
	kt_expect_error_naming(k, "mremap +0 4K 4K maymove,fixed +0x200000", "huge page");
	kt_expect_error_naming(k, "mremap +0 0x201000 4K -", "huge page");
	expect_nothing_past(k, end);
	/* 1 GiB pages at a 1 GiB-aligned address 4 KiB before the end */
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "arena 0x3fffc0000000 0x40001000", "arena 0x3fffc0000000 0x40001000");
	kt_expect_error_naming(k, "mmap +0x40000000 4K rw- private,anonymous,hugetlb,noreserve,fixed,0x78000000",
	                       "huge page");
	expect_nothing_past(k, 0x3fffc0000000ull + 0x40001000);
	g_assert_true(kt_alive(k));
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "mmap +0 16K rw- private,anonymous,fixed", "mmap +0x0 16K rw- private,fixed,anonymous => +0x0");
	kt_stop(k);
}

/* ---- 2. no addresses of the executor in any message ----------------------------------------- */

static bool has_long_hex(const char *s)
{
	int run = 0;
	for (; *s; s++) {
		run = g_ascii_isxdigit(*s) ? run + 1 : 0;
		if (run >= 8)
			return true;
	}
	return false;
}

static void test_no_addresses(void)
{
	if (!live())
		return;
	kt *k = kt_start_args(NULL);
	kt_expect(k, "mmtrace 1", NULL);
	const char *own[] = {"[stack]", "[heap]", "mmref-kernel", "libc", "[vdso]", "mmref-placeholder"};
	int tried = 0;
	for (size_t i = 0; i < G_N_ELEMENTS(own); i++) {
		uint64_t s, e;
		char path[64], *text = NULL;
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)k->pid);
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		bool found = false;
		char **lines = g_strsplit(text, "\n", -1);
		for (char **l = lines; *l && !found; l++)
			if (strstr(*l, own[i]))
				found = sscanf(*l, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &s, &e) == 2;
		g_strfreev(lines);
		g_free(text);
		if (!found || s >= 0x7ffffffff000ull)
			continue;
		for (int pass = 0; pass < 2; pass++) {
			/* over the mapping, and just below it (the stack's window, a probe) */
			uint64_t a = pass ? (s > 0x110000 ? s - 0x100000 : s) : s;
			char *line = g_strdup_printf("arena 0x%" G_GINT64_MODIFIER "x 0x4000", a & ~(uint64_t)0xfff);
			kt_expect(k, "mmtrace 1", NULL);
			char *ans = kt_ask(k, line);
			/* an accepted arena is echoed (the trace's own address); a refusal
			 * must not show any */
			if (g_str_has_prefix(ans, "# error") && has_long_hex(ans))
				g_error("the answer to '%s' shows an address: %s", line, ans);
			g_free(ans);
			char *st = kt_ask(k, "state");
			if (g_str_has_prefix(st, "# error") && has_long_hex(st))
				g_error("a refusal after '%s' shows an address: %s", line, st);
			g_free(st);
			g_free(line);
			tried++;
		}
	}
	g_assert_cmpint(tried, >=, 6);
	kt_expect(k, "mmtrace 1", NULL);
	char *ans = kt_ask(k, "arena 0x7fff00000000 1G"); /* above mmap_base: the probe lands outside */
	g_assert_true(g_str_has_prefix(ans, "# error"));
	if (has_long_hex(ans))
		g_error("the refusal shows an address: %s", ans);
	g_free(ans);
	kt_stop(k);
}

/* ---- 3. limits ---------------------------------------------------------------------------- */

static void test_limits(void)
{
	if (!live())
		return;
	cg_setup(768ull << 20);
	if (cg_skip) {
		g_test_skip(cg_skip);
		return;
	}
	/* defaults: the 4-line trace of the review (64 GiB is the largest arena) */
	kt *k = kt_start_args(NULL);
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect_error_naming(k, "arena 0x100000000000 0x100000000000", "--max-arena");
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "arena 0x100000000000 64G", "arena 0x100000000000 64G");
	kt_expect_error_naming(k, "mmap +0 64G rw- private,anonymous,fixed,noreserve,populate", "--max-populate");
	kt_expect_error_naming(k, "mmap 0 64G rw- private,anonymous,noreserve,locked", "--max-populate");
	kt_expect(k, "mmap +0 64G rw- private,anonymous,fixed,noreserve",
	          "mmap +0x0 64G rw- private,fixed,anonymous,noreserve => +0x0");
	kt_expect_error_naming(k, "madvise +0 64G populate_write", "--max-populate");
	kt_expect_error_naming(k, "mlock +0 64G", "--max-populate");
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect_error_naming(k, "file big 0x10000000000", "--max-file-bytes");
	g_assert_true(kt_alive(k));
	kt_stop(k);

	/* lowered: 64 MiB populated, 16 MiB of files, 1 GiB arenas */
	const char *args[] = {"--max-populate=64M", "--max-file-bytes=16M", "--max-arena=1G", NULL};
	k = kt_start_args(args);
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect_error_naming(k, "arena 0x100000000000 2G", "--max-arena");
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "file f 8M", "file f 8M");
	kt_expect(k, "file g 8M", "file g 8M");
	kt_expect_error_naming(k, "file h 4K", "--max-file-bytes");
	kt_expect(k, "mmtrace 1", NULL);
	/* the file trace of the review: each mapping of a fresh offset keeps its
	 * page cache; the populated bound stops it */
	kt_expect_error_naming(k, "file f 1G", "--max-file-bytes");
	kt_stop(k);

	const char *args2[] = {"--max-populate=64M", NULL};
	k = kt_start_args(args2);
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "file f 1G", "file f 1G");
	bool refused = false;
	for (int i = 0; i < 64 && !refused; i++) {
		char *line = g_strdup_printf("mmap +0 16M rw- shared,fixed,populate file=f off=%dM", 16 * i);
		char *a = kt_ask(k, line);
		if (g_str_has_prefix(a, "# error")) {
			g_assert_nonnull(strstr(a, "--max-populate"));
			refused = true;
		}
		g_free(a);
		g_free(line);
	}
	g_assert_true(refused);
	/* touches count too */
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "mmap +0 1G rw- private,anonymous,fixed,noreserve",
	          "mmap +0x0 1G rw- private,fixed,anonymous,noreserve => +0x0");
	refused = false;
	for (int i = 0; i < 8192 && !refused; i++) {
		char *line = g_strdup_printf("touch +%#x w", i * 0x20000);
		char *a = kt_ask(k, line);
		refused = g_str_has_prefix(a, "# error");
		if (refused)
			g_assert_nonnull(strstr(a, "--max-populate"));
		g_free(a);
		g_free(line);
	}
	g_assert_true(refused);
	/* a new trace starts from zero */
	kt_expect(k, "mmtrace 1", NULL);
	kt_expect(k, "mmap +0 16M rw- private,anonymous,fixed,populate",
	          "mmap +0x0 16M rw- private,fixed,anonymous,populate => +0x0");
	g_assert_true(kt_alive(k));
	kt_stop(k);
	cg_teardown();
}

/* ---- 4. the executor's own memory stays out of the arena ------------------------------------- */

static void test_heap(void)
{
	if (!live())
		return;
	cg_setup(1ull << 30);
	if (cg_skip) {
		g_test_skip(cg_skip);
		return;
	}
	kt *k = kt_start_args(NULL);
	kt_expect(k, "mmtrace 1", NULL);
	/* ~78 MB of file lines: 1300 names of 60,000 bytes */
	GString *line = g_string_new(NULL);
	for (int i = 0; i < 1300; i++) {
		g_string_assign(line, "file ");
		for (int j = 0; j < 60000; j++)
			g_string_append_c(line, 'a' + (j + i) % 26);
		g_string_append_printf(line, "_%d 4K", i);
		char *a = kt_ask(k, line->str);
		g_assert_true(g_str_has_prefix(a, "# error"));
		g_free(a);
	}
	/* and 1100 valid ones, more than the limit */
	kt_expect(k, "mmtrace 1", NULL);
	for (int i = 0; i < 1100; i++) {
		g_string_printf(line, "file f%d 4K", i);
		char *a = kt_ask(k, line->str);
		g_assert_true(i < 1024 ? !g_str_has_prefix(a, "# error") : g_str_has_prefix(a, "# error"));
		g_free(a);
	}
	g_string_free(line, TRUE);
	/* the next traces unmap the whole arena: the executor must survive */
	for (int r = 0; r < 2; r++) {
		kt_expect(k, "mmtrace 1", NULL);
		kt_expect(k, "mmap +0 1G rw- private,anonymous,fixed", "mmap +0x0 1G rw- private,fixed,anonymous => +0x0");
		kt_expect(k, "munmap +0 1G", "munmap +0x0 1G => 0");
		kt_expect_ok(k, "state");
	}
	g_assert_true(kt_alive(k));
	kt_stop(k);
	cg_teardown();
}

/* ---- 5. max_map_count: model and kernel agree at the limit ------------------------------------- */

static void test_max_map_count(void)
{
	if (!live())
		return;
	/* the executor announces vm.max_map_count - its own VMA budget + 2; a
	 * budget close to the limit (--own-vmas) lowers what a trace can have to
	 * about 1000 without touching the sysctl */
	char *text = NULL;
	g_assert_true(g_file_get_contents("/proc/sys/vm/max_map_count", &text, NULL, NULL));
	long sysctl = atol(text);
	g_free(text);
	if (sysctl < 3000) {
		g_test_skip("vm.max_map_count is below 3000");
		return;
	}
	char *budget = g_strdup_printf("--own-vmas=%ld", sysctl - 1000);
	const char *args[] = {budget, NULL};
	kt *k = kt_start_args(args);
	char *a = kt_ask(k, "mmtrace 1");
	char *want = g_strdup_printf("max_map_count=1002 ");
	if (!k->announcement || !strstr(k->announcement, want))
		g_error("expected the announcement to say %s: %s", want, k->announcement);
	g_free(want);
	g_free(a);
	int first_enomem = -1;
	for (int i = 0; i < 1100; i++) {
		char *line = g_strdup_printf("mmap +%#x 4K rw- private,anonymous,fixed", i * 8192);
		a = kt_ask(k, line);
		if (first_enomem < 0 && strstr(a, "ENOMEM"))
			first_enomem = i;
		g_free(a);
		g_free(line);
	}
	kt_stop(k);
	/* 1002 = max_map_count in the model's terms: the model has its 2 fences,
	 * so 1001 mappings of the trace succeed (mmap may reach max + 1) */
	g_assert_cmpint(first_enomem, ==, 1001);

	/* the same trace through the diff engine */
	char *path = g_build_filename(g_get_tmp_dir(), "mmref-maxmap-XXXXXX", NULL);
	int fd = g_mkstemp(path);
	g_assert_cmpint(fd, >=, 0);
	GString *tr = g_string_new("mmtrace 1\n");
	for (int i = 0; i < 1100; i++)
		g_string_append_printf(tr, "mmap +%#x 4K rw- private,anonymous,fixed\n", i * 8192);
	g_string_append(tr, "maps\n");
	g_assert_true(write(fd, tr->str, tr->len) == (ssize_t)tr->len);
	close(fd);
	g_string_free(tr, TRUE);
	char *targets = g_strdup_printf("model,exec:%s %s", KERNEL_BIN, budget);
	char *argv[] = {(char *)MMREF_BINARY_DIR "/mmref", (char *)"diff", (char *)"--targets", targets, path, NULL};
	int status = -1;
	char *out = NULL, *err = NULL;
	g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("mmref diff --targets %s: %s%s", targets, out, err);
	unlink(path);
	g_free(out);
	g_free(err);
	g_free(path);
	g_free(targets);
	g_free(budget);
}

/* ---- line numbers (issue 12 item 6) ------------------------------------------------------ */

/* Expects "# error: line N: ..." containing what. */
static void expect_line_error(kt *k, unsigned n, const char *what)
{
	char *a = kt_answer(k);
	char *prefix = g_strdup_printf("# error: line %u: ", n);
	if (!g_str_has_prefix(a, prefix) || !strstr(a, what))
		g_error("expected '%s...%s...', got:\n%s", prefix, what, a);
	g_free(prefix);
	g_free(a);
}

/* The executor numbers the lines it refuses before parsing (a NUL byte, a
 * line over 64 KiB, one longer than its 4 MiB input buffer) and goes on
 * counting across the re-exec after mseal; f8fdc99..066dd59 counted only the
 * lines its parser saw and restarted at 1 after a re-exec. */
static void test_line_numbers(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");                       /* 1 */
	kt_send(k, "bogus\n", 6);                                      /* 2 */
	expect_line_error(k, 2, "unknown statement 'bogus'");
	kt_send(k, "munmap +0 4K\0junk\n", 18);                       /* 3 */
	expect_line_error(k, 3, "NUL byte");
	kt_send(k, "bogus\n", 6);                                      /* 4 */
	expect_line_error(k, 4, "unknown statement");
	GString *g = g_string_new("# ");                               /* 5: exactly 64 KiB, a comment */
	while (g->len < 65536)
		g_string_append_c(g, 'x');
	char *a = kt_ask(k, g->str);
	g_assert_cmpstr(a, ==, g->str);
	g_free(a);
	g_string_append_c(g, 'x');                                     /* 6: 64 KiB + 1 */
	g_string_append_c(g, '\n');
	kt_send(k, g->str, g->len);
	expect_line_error(k, 6, "longer than 64 KiB");
	kt_send(k, "bogus\n", 6);                                      /* 7 */
	expect_line_error(k, 7, "unknown statement");
	g_string_truncate(g, 0);                                       /* 8: longer than the input buffer */
	while (g->len < (6u << 20))
		g_string_append(g, "mmap +0 4K rw- private,anonymous,fixed ");
	g_string_append_c(g, '\n');
	kt_send(k, g->str, g->len);
	expect_line_error(k, 8, "longer than 64 KiB");
	kt_send(k, "bogus\r\n", 7);                                    /* 9: CRLF */
	expect_line_error(k, 9, "unknown statement 'bogus'");
	kt_expect(k, "mmap +0 4K rw- private,anonymous,fixed", NULL);  /* 10 */
	kt_expect(k, "mseal +0 4K", "mseal +0x0 4K => 0");             /* 11 */
	kt_expect(k, "mmtrace 1", "mmtrace 1");                       /* 12: a fresh process */
	kt_send(k, "bogus\n", 6);                                      /* 13 */
	expect_line_error(k, 13, "unknown statement");
	kt_send(k, "bad\0\nmunmap +0 3K\n", 19);                      /* 14, 15 */
	expect_line_error(k, 14, "NUL byte");
	a = kt_answer(k);
	g_assert_true(g_str_has_prefix(a, "munmap +0x0 3K => "));
	g_free(a);
	g_assert_true(kt_alive(k));
	g_string_free(g, TRUE);
	kt_stop(k);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	check_live();
	g_test_add_func("/kernel-hostile/hugetlb-confined", test_hugetlb);
	g_test_add_func("/kernel-hostile/no-addresses", test_no_addresses);
	g_test_add_func("/kernel-hostile/limits", test_limits);
	g_test_add_func("/kernel-hostile/heap", test_heap);
	g_test_add_func("/kernel-hostile/max-map-count", test_max_map_count);
	g_test_add_func("/kernel-hostile/line-numbers", test_line_numbers);
	int rc = g_test_run();
	cg_teardown();
	if (skip_reason) {
		g_printerr("skipped: %s\n", skip_reason);
		return 77;
	}
	return rc;
}

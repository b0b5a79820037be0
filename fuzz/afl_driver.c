/* The driver that runs a fuzz target (LLVMFuzzerTestOneInput) outside
 * libFuzzer, from the same source file:
 *
 * - built with afl-clang-fast / afl-clang-lto (__AFL_HAVE_MANUAL_CONTROL):
 *   AFL++ persistent mode with shared-memory test cases: one process runs
 *   up to 10000 inputs, each handed over in memory, no fork, no file I/O;
 * - built with any other compiler: a replayer that runs every FILE given
 *   (a directory: every file in it; none: standard input) once, and prints
 *   how many inputs it ran at what rate. That is how a crash found by either
 *   fuzzer is rerun under gdb or a plain gcc build.
 *
 * We use our own driver rather than AFL++'s libAFLDriver.a so that the
 * replay mode needs no AFL++ at all and the AFL build needs no
 * -fsanitize=fuzzer (docs/fuzzing.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

#ifdef __AFL_HAVE_MANUAL_CONTROL
__AFL_FUZZ_INIT();

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1 && !getenv("__AFL_SHM_FUZZ_ID") && !getenv("__AFL_SHM_ID")) {
		/* outside afl-fuzz: replay files, as below */
		for (int i = 1; i < argc; i++) {
			gchar *buf;
			gsize len;
			if (g_file_get_contents(argv[i], &buf, &len, NULL)) {
				LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
				g_free(buf);
			}
		}
		return 0;
	}
	__AFL_INIT();
	unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF; /* after __AFL_INIT */
	while (__AFL_LOOP(10000)) {
		int len = __AFL_FUZZ_TESTCASE_LEN;
		LLVMFuzzerTestOneInput(buf, (size_t)len);
	}
	return 0;
}

#else

static guint64 ran, bytes;

static void run_file(const char *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		GDir *dir = g_dir_open(path, 0, NULL);
		const char *name;
		GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
		while (dir && (name = g_dir_read_name(dir)))
			g_ptr_array_add(names, g_build_filename(path, name, NULL));
		if (dir)
			g_dir_close(dir);
		for (guint i = 0; i < names->len; i++)
			run_file(g_ptr_array_index(names, i));
		g_ptr_array_unref(names);
		return;
	}
	gchar *buf;
	gsize len;
	GError *err = NULL;
	if (!g_file_get_contents(path, &buf, &len, &err)) {
		fprintf(stderr, "%s: %s\n", path, err->message);
		g_error_free(err);
		exit(2);
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	ran++;
	bytes += len;
	g_free(buf);
}

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	/* -runs=N (as libFuzzer spells it): run the inputs N times over, for timing */
	long rounds = 1;
	int first = 1;
	if (argc > 1 && strncmp(argv[1], "-runs=", 6) == 0) {
		rounds = strtol(argv[1] + 6, NULL, 10);
		first = 2;
	}
	gint64 t0 = g_get_monotonic_time();
	if (first >= argc) {
		GByteArray *in = g_byte_array_new();
		guint8 chunk[65536];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			g_byte_array_append(in, chunk, (guint)n);
		for (long r = 0; r < rounds; r++, ran++)
			LLVMFuzzerTestOneInput(in->data, in->len);
		g_byte_array_unref(in);
	} else {
		for (long r = 0; r < rounds; r++)
			for (int i = first; i < argc; i++)
				run_file(argv[i]);
	}
	double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
	fprintf(stderr, "%s: %" G_GUINT64_FORMAT " inputs in %.2f s: %.0f exec/s\n", argv[0], ran, secs,
	        secs > 0 ? (double)ran / secs : 0.0);
	return 0;
}
#endif

/* libFuzzer's optional hook; the targets that need set-up define their own
 * (weak here, so either works). */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Fuzz target diff_model_kernel: decoded statements on the model and on
 * the live kernel (the mmref-kernel exec target) side by side, mm_check on
 * the model after every statement. The kernel target is one process kept
 * alive across inputs: each input starts with `mmtrace 1`, which makes it
 * reset its arena instead of being restarted (a dead or stalled one is
 * respawned by the next start). Aborts with a signature such as
 * "mmref: model-kernel-mremap-result-difference" and the trace.
 *
 * It finds mmref-kernel in $MMREF_KERNEL, else next to this executable or
 * one directory up (build/PRESET/mmref-kernel for build/PRESET/fuzz/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz_common.h"

static target *targets[2];

static void set_kernel_path(void)
{
	if (g_getenv("MMREF_KERNEL"))
		return;
	char *self = g_file_read_link("/proc/self/exe", NULL);
	if (!self)
		return;
	char *dir = g_path_get_dirname(self);
	char *here = g_build_filename(dir, "mmref-kernel", NULL);
	char *up = g_build_filename(dir, "..", "mmref-kernel", NULL);
	if (g_file_test(here, G_FILE_TEST_IS_EXECUTABLE))
		g_setenv("MMREF_KERNEL", here, TRUE);
	else if (g_file_test(up, G_FILE_TEST_IS_EXECUTABLE))
		g_setenv("MMREF_KERNEL", up, TRUE);
	g_free(up);
	g_free(here);
	g_free(dir);
	g_free(self);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	set_kernel_path();
	GError *err = NULL;
	targets[0] = target_model_new();
	targets[1] = target_new("kernel", &err);
	if (!targets[1]) {
		fprintf(stderr, "diff_model_kernel: %s\n", err->message);
		exit(1);
	}
	target_exec_set_timeout(targets[1], 5000);
	/* The model follows the kernel's profile (zero page, THP mode, ...), so
	 * that only real divergences are found on any machine. */
	if (!targets_setup_profiles(targets, 2, NULL, &err)) {
		fprintf(stderr, "diff_model_kernel: %s\n", err->message);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!targets[0])
		LLVMFuzzerInitialize(NULL, NULL);
	trace *t = decode_trace(data, size);
	divergence d;
	if (divergence_find(t, targets, 2, TRUE, &d))
		fuzz_report_divergence(t, &d);
	divergence_clear(&d);
	trace_free(t);
	return 0;
}

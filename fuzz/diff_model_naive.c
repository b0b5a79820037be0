/* Fuzz target diff_model_naive: decoded statements on the model and the
 * naive oracle side by side, mm_check after every statement; aborts on the
 * first divergence or checker violation with a signature such as
 * "mmref: model-naive-mremap-result-difference" and the trace. */
#include "decode.h"
#include "fuzz_common.h"

static target *targets[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!targets[0]) {
		targets[0] = target_model_new();
		targets[1] = target_naive_new();
	}
	trace *t = decode_trace(data, size);
	divergence d;
	if (divergence_find(t, targets, 2, TRUE, &d))
		fuzz_report_divergence(t, &d);
	divergence_clear(&d);
	trace_free(t);
	return 0;
}

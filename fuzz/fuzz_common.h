/* What the fuzz targets share: the abort on a finding, with a stable
 * signature line and the trace that reproduces it. */
#ifndef MMREF_FUZZ_COMMON_H
#define MMREF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "shrink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints "mmref: SIGNATURE", the report and the trace on stderr, then
 * aborts: the fuzzer records the input, and `mmref decode` / `mmref shrink
 * --decode` turn it back into this trace.
 * With MMREF_FUZZ_CONTINUE=1 in the environment it does not abort: it
 * prints each distinct signature once (with its first trace) and returns,
 * for measuring throughput and for surveying a tree with known findings. */
void fuzz_report_divergence(const trace *t, const divergence *d);

#endif

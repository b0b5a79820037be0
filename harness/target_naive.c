/* The naive target: the naive oracle (naive_*). */
#include "target_internal.h"
#include "naive.h"

MM_API_TABLE(naive_api_table, naive);

target *target_naive_new(void) { return target_api_new(&naive_api_table, "naive"); }

const mm_api *mm_api_naive(void) { return &naive_api_table; }

/* Set-up shared by the tests of the model and of the naive oracle
 * (tests/ and model/tests/): the configuration they start from and the
 * checker assertion. Public API only (mmref/mmref.h) and glib. */
#ifndef MMREF_TESTS_MM_TEST_H
#define MMREF_TESTS_MM_TEST_H

#include <glib.h>

#include "mmref/mmref.h"

/* The default profile, written out field by field (the naive oracle's tests
 * do not link libmmref's mm_config_default), with the mmap area at base:
 * top-down allocations below base + 1 GiB, bottom-up ones from base. */
static inline mm_config mmt_config(uint64_t base)
{
	mm_config cfg = {.max_map_count = MM_DEFAULT_MAX_MAP_COUNT,
	                 .mmap_min_addr = MM_DEFAULT_MMAP_MIN_ADDR,
	                 .stack_guard_gap = MM_DEFAULT_STACK_GUARD_GAP,
	                 .mmap_base = base + (1ull << 30),
	                 .mmap_low = base,
	                 .stack_rlimit = 8ull << 20,
	                 .thp_enabled = true,
	                 .kernel_version = MM_DEFAULT_KERNEL_VERSION,
	                 .zero_page = true,
	                 .thp_mode = MM_THP_MADVISE,
	                 .thp_zero_page = true,
	                 .overcommit = 0,
	                 .memlock = MM_MEMLOCK_UNLIMITED,
	                 .soft_dirty = false,
	                 .guard_flag = true};
	return cfg;
}

/* Checks every invariant of the model; a violation fails the test with the
 * full report. */
static inline void mmt_assert_checked(const mm_state *mm)
{
	mm_violation v[16];
	size_t n = mm_check(mm, v, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		g_printerr("I%d %#llx-%#llx: %s\n", v[i].invariant, (unsigned long long)v[i].vma_start,
		           (unsigned long long)v[i].vma_end, v[i].what);
	g_assert_cmpuint(n, ==, 0);
}

#endif

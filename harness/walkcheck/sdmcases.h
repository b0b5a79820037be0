/* Hand-written cases with the outcome the SDM gives, run on the model's
 * walker, the naive walker and the KVM oracle: a calibration of the
 * oracle (does this KVM behave like the SDM?) as much as a test of the
 * walkers. Used by tests/test_kvm.c and `mmref walkcheck --sdm`.
 *
 * Every case maps one linear address through PML4 frame 1, PDPT frame 2,
 * PD frame 3 and PT frame 4 (or a 2 MiB / 1 GiB leaf) into the data window.
 */
#ifndef MMREF_KVM_SDMCASES_H
#define MMREF_KVM_SDMCASES_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_oracle.h"

typedef struct sdm_case {
	const char *name; /* test-path friendly */
	const char *what; /* the rule, with its SDM section */
	/* Flags at each level (address bits are filled in); leaf_level 2 or
	 * 3 makes the PDE or PDPTE a leaf (PS is added). */
	uint64_t f4, f3, f2, f1;
	unsigned leaf_level;
	bool high;     /* PML4 slot 256 (upper half) instead of slot 1 */
	bool noncanon; /* flip bit 63 of the address */
	mm_walk_access acc;
	bool user, ac;
	bool wp, nxe, smep, smap;
	bool needs_gbpages;
	bool needs_user_high; /* a CPL 3 access in the upper half */
	/* What the SDM says. */
	mm_walk_outcome outcome;
	uint32_t err;
} sdm_case;

extern const sdm_case sdm_cases[];
extern const unsigned sdm_ncases;

typedef struct sdm_result {
	bool skipped;			 /* needs what the guest lacks */
	bool model_ok, naive_ok, kvm_ok; /* each matches the SDM */
	char detail[512];		 /* what each gave, and the A/D bits */
} sdm_result;

/* Runs case c three ways. 0, or a negative errno if the oracle failed. */
int sdm_run(kvm_oracle *o, const sdm_case *c, sdm_result *r);

#endif

/* The three-way walk check: random page-table structures and accesses,
 * each run on the model's walker (mm_walk), the naive walker (naive_walk)
 * and the MMU through the KVM oracle, compared on outcome, #PF error code,
 * CR2 and the accessed/dirty bits left in the tables.
 *
 * A case is one table structure in its own 8 frames plus 1..4 accesses
 * through it. Everything about case i comes from (seed, i) and whether the
 * guest has 1 GiB pages: its tables,
 * its accesses, its slot in the guest (i % WC_BATCH) and its CPU mode
 * (from its batch i / WC_BATCH), so any case can be run again alone.
 *
 * Table structure of a case (frames base .. base+7, entries only at the
 * indexes wc_idx[]; every other word is zero):
 *
 *   frames 0,1: PML4s (the roots)   2,3: PDPTs   4,5: PDs   6,7: PTs
 *   a non-leaf entry points at one of the two frames of the next level,
 *   or at frame 0 (all zeros); a leaf (PTE, PDE with PS, PDPTE with PS)
 *   points into the data window; random flags, XD, ignored bits, reserved
 *   bits (address bits at or above MAXPHYADDR, bits 20:13 / 29:13 of large
 *   leaves, PS in a PML4E) and non-present entries with junk.
 */
#ifndef MMREF_WALKCHECK_H
#define MMREF_WALKCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_oracle.h"
#include "mmref/walk.h"

#define WC_BATCH 500 /* cases per guest entry (8 frames each, after frame 0) */
#define WC_FRAMES 8  /* table frames per case */
#define WC_NIDX 5    /* entries per frame */
#define WC_MAX_ACC 4 /* accesses per case */

extern const unsigned wc_idx[WC_NIDX]; /* 0, 1, 255, 256, 511 */

typedef struct wc_case {
	uint64_t index;
	unsigned slot;
	uint64_t base_pfn; /* frame of entry[0] */
	mm_cpu_mode mode;  /* eflags_ac unused: it is per access */
	uint64_t entry[WC_FRAMES][WC_NIDX];
	unsigned nacc;
	kvm_access acc[WC_MAX_ACC];
} wc_case;

/* CPU mode of batch b: WP, NXE, SMEP, SMAP cycle through all 16 settings
 * every 16 batches. */
mm_cpu_mode wc_batch_mode(uint64_t seed, uint64_t batch, unsigned maxphyaddr);
/* gbpages false: no present PDPTE is a leaf (the guest lacks 1 GiB
 * pages), so the cases differ from those of a machine that has them. */
void wc_generate(uint64_t seed, uint64_t index, unsigned maxphyaddr, bool gbpages, wc_case *c);

typedef struct wc_stats {
	uint64_t cases, walks;
	uint64_t ok, pf, gp, rsvd, large; /* model's outcomes; large: OK via a 2M/1G leaf */
	uint64_t per_mode[32];		  /* walks per WP|NXE<<1|SMEP<<2|SMAP<<3|AC<<4 */
	uint64_t disagree_cases;
	uint64_t disagree_walker; /* cases where model and naive differ */
	uint64_t disagree_hw;	  /* cases where the MMU differs from the model */
	/* Cases whose A/D bits matched only because a faulting walk may leave
	 * the tables alone (see wc_checker_set_strict_ad). */
	uint64_t ad_fault_relaxed;
	/* CPL 3 accesses to the upper half left out because the guest cannot
	 * run them (kvm_oracle_has_user_high). */
	uint64_t skipped_user_high;
	double hw_seconds; /* inside kvm_oracle_run */
} wc_stats;

typedef struct wc_checker wc_checker;
wc_checker *wc_checker_new(kvm_oracle *o);
void wc_checker_free(wc_checker *w);

/* A/D bits on faulting walks. The SDM does not say whether a walk that
 * ends in #PF sets A in the entries it used above the faulting one; the
 * walkers do (mmref/x86.h: mm_walk), KVM's software walker does not. By
 * default an entry may hold either result, and stats count the cases that
 * needed the second; strict requires the walkers' rule. */
void wc_checker_set_strict_ad(wc_checker *w, bool strict);

/* Which privilege levels to run the generated accesses at: 1 CPL 0 only,
 * 2 CPL 3 only, 3 both (the default, as generated). Forcing one keeps the
 * tables and addresses of every case and changes only that flag. */
void wc_checker_set_cpl(wc_checker *w, unsigned mask);

/* Called for each disagreeing case with a one-line signature that groups
 * alike disagreements (e.g. "write cpl3: model #PF 0x6, kvm #PF 0x4") and
 * the full text of the case (several lines, each ending in '\n'). */
typedef void (*wc_report_fn)(void *ctx, uint64_t index, const char *signature, const char *text);

/* Checks cases first .. first+count-1. 0, or a negative errno when the
 * oracle failed (kvm_oracle_error says why). Adds to *st. */
int wc_check(wc_checker *w, uint64_t seed, uint64_t first, uint64_t count, wc_stats *st, wc_report_fn report,
	     void *ctx);

/* The same for hand-built cases: c->entry, c->acc, c->mode as given (c->slot
 * and c->base_pfn must agree: base_pfn = 1 + slot * WC_FRAMES). */
int wc_check_cases(wc_checker *w, const wc_case *cases, unsigned ncases, wc_stats *st, wc_report_fn report,
		   void *ctx);

#endif

/* The trace check: the page tables the model's Linux fault path builds for
 * a trace, loaded into the KVM guest and walked by its MMU (issue 7, second
 * bullet).
 *
 * A trace runs on the model (harness/target.h, target "model"). After every
 * operation the model's tables (mm_page_tables: the PML4 at its CR3, its
 * frames) are copied into the guest's table area as a snapshot: the
 * reachable table frames are packed after each other (non-leaf entries
 * rewritten to the new frame numbers), every present leaf's frame address
 * is moved into the data window (the data pfns start at 64 GiB, past every
 * table frame), and every other bit of every entry (P, R/W, U/S, XD, A, D, PS, PAT, G, the software bits,
 * the PROT_NONE and swap/marker encodings of non-present entries, bits 51:M)
 * is kept. Many snapshots share one guest entry.
 *
 * Through each snapshot, at CPL 3 under Linux's user mode (CR0.WP, EFER.NXE,
 * CR4.SMEP, CR4.SMAP set; EFLAGS.AC clear):
 *   - a touch: the access it made, as retried after the model's fault
 *     handling, i.e. on the tables as the fault left them. The model's
 *     walker on the snapshot must agree with the touch's result too (a
 *     check of the relocation);
 *   - the sweep: a load, a store and a fetch at every page of every VMA in
 *     the arena. Pages whose walks read the same entries (a missing table,
 *     one 2 MiB leaf) are walked once: the others would repeat that walk.
 * Each access is walked by the model's walker (mm_walk) on a host copy of
 * the snapshot and by the guest; outcome, #PF error code and CR2 must be
 * equal. After the guest entry, every table word must be equal in the two
 * copies, except an accessed bit the walker set in an entry where a walk
 * faulted further down and KVM's walker did not (docs/kvm-oracle.md: the SDM
 * leaves it open); an entry of a successful walk must have A in both.
 */
#ifndef MMREF_TRACECHECK_H
#define MMREF_TRACECHECK_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm_oracle.h"

typedef struct tc_stats {
	uint64_t traces, statements, snapshots;
	uint64_t touches;	     /* touch statements whose retried access ran */
	uint64_t touch_walks;	     /* = touches, minus the ones left out */
	uint64_t sweep_walks;	     /* walks of the sweeps */
	uint64_t sweep_pages;	     /* page x access pairs the sweeps covered */
	uint64_t ok, pf, gp;	     /* the model's outcomes of all walks */
	uint64_t disagree;	     /* walks where the guest differs from the model's walker */
	uint64_t disagree_touch;     /* touches whose snapshot walk differs from the touch's result */
	uint64_t disagree_words;     /* table words whose final values differ */
	uint64_t ad_fault_relaxed;   /* words equal only under KVM's A rule for faulting walks */
	uint64_t skipped_user_high;  /* touches in the upper half this KVM cannot run at CPL 3 */
	double hw_seconds;
} tc_stats;

typedef enum tc_sweep {
	TC_SWEEP_EVERY = 0, /* after every operation (default) */
	TC_SWEEP_TOUCH,	    /* after touches and at the end */
	TC_SWEEP_END,	    /* at the end of the trace only */
} tc_sweep;

typedef struct tc_checker tc_checker;
tc_checker *tc_checker_new(kvm_oracle *o);
void tc_checker_free(tc_checker *c);
void tc_checker_set_sweep(tc_checker *c, tc_sweep when);

/* Called once per disagreement with one line of text (ending in '\n'):
 * "FILE:LINE: after `STATEMENT`: WHAT". */
typedef void (*tc_report_fn)(void *ctx, const char *text);

/* Runs the trace at path on the model and checks it. 0 when it ran (look
 * at st for disagreements), 1 with *error set when the trace could not be
 * loaded or the model target failed, a negative errno when the guest
 * failed (kvm_oracle_error says why). Adds to *st. */
int tc_check_trace(tc_checker *c, const char *path, tc_stats *st, tc_report_fn report, void *ctx,
		   GError **error);

#endif

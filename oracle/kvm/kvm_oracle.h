/* The hardware oracle for the page walker: a small 64-bit KVM guest, driven
 * through the KVM API directly, whose page tables are the walkers'
 * mm_phys_mem (mmref/walk.h) and which performs loads, stores and
 * instruction fetches at CPL 0 and CPL 3 through them, recording each
 * outcome (completed, #PF with error code and CR2, #GP) and leaving the
 * accessed/dirty bits the MMU wrote in the tables.
 *
 * Layout and limits: kvm_layout.h and docs/kvm-oracle.md. Linux only;
 * needs /dev/kvm.
 */
#ifndef MMREF_KVM_ORACLE_H
#define MMREF_KVM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm_layout.h"
#include "mmref/walk.h"

typedef struct kvm_oracle kvm_oracle;

/* One access, as the guest performs it. cr3 must be a frame of the table
 * area whose entry KVM_HARNESS_SLOT is zero (the oracle puts the harness
 * mapping there for the run and clears it after). */
typedef struct kvm_access {
	uint64_t cr3;
	uint64_t va;
	mm_walk_access acc; /* MM_WALK_READ, _WRITE or _FETCH only */
	bool user;	    /* CPL 3, else CPL 0 */
	bool ac;	    /* EFLAGS.AC during the access */
} kvm_access;

typedef struct kvm_outcome {
	uint32_t vector; /* KVM_VEC_OK, 14 (#PF), 13 (#GP), other: unexpected */
	uint64_t error;	 /* the exception's error code */
	uint64_t cr2;	 /* CR2 after a #PF */
	uint64_t rip;	 /* the faulting RIP (diagnostic) */
} kvm_outcome;

/* Opens /dev/kvm and builds the VM. 0, or a negative errno with a message
 * in err (e.g. "/dev/kvm: No such file or directory"). */
int kvm_oracle_open(kvm_oracle **out, char *err, size_t errlen);
void kvm_oracle_close(kvm_oracle *o);

/* The guest's physical-address width (CPUID 0x80000008 EAX[7:0], as KVM
 * reports it): the walkers must be run with this maxphyaddr. */
unsigned kvm_oracle_maxphyaddr(const kvm_oracle *o);

/* Whether the guest has 1 GiB pages (probed at open: KVM may lack them
 * even though the CPU has them, e.g. under kvm_pvm). The walkers always
 * assume them (mmref/walk.h). */
bool kvm_oracle_has_gbpages(const kvm_oracle *o);

/* Whether CPL 3 accesses to the upper half (bit 47 set) are translated by
 * the guest's tables (probed at open). kvm_pvm cannot: it runs guest user
 * mode natively below the host kernel's half and faults every user access
 * above it without a walk. */
bool kvm_oracle_has_user_high(const kvm_oracle *o);

/* The guest's page-table area as physical memory (frames 0 ..
 * KVM_TABLE_FRAMES-1), writable in place: write the tables here; after
 * kvm_oracle_run it holds the A/D bits the MMU set. Leaves should point
 * into the data window (KVM_DATA_GPA ..): a store writes KVM_DATA_BYTE to
 * its target, and a fetch executes it. */
mm_phys_mem kvm_oracle_tables(kvm_oracle *o);

/* Runs n accesses (at most KVM_MAX_ACCESSES) in order, in one guest
 * entry, under mode (cr0_wp, efer_nxe, cr4_smep, cr4_smap; eflags_ac is
 * per access; maxphyaddr must be kvm_oracle_maxphyaddr). Every access
 * starts with a MOV to CR3, so no translation is cached from the one
 * before, and all shadow state is dropped before the run, so the tables
 * may change between runs. 0, or a negative errno with
 * kvm_oracle_error() saying what went wrong. */
int kvm_oracle_run(kvm_oracle *o, const mm_cpu_mode *mode, const kvm_access *acc, size_t n, kvm_outcome *out);

const char *kvm_oracle_error(const kvm_oracle *o);

/* Counters since open: guest entries and exits other than the final HLT. */
typedef struct kvm_oracle_stats {
	uint64_t runs;
	uint64_t accesses;
	uint64_t mmio_exits;
	double setup_seconds; /* dropping shadow state, setting registers */
	double guest_seconds; /* in KVM_RUN */
} kvm_oracle_stats;
kvm_oracle_stats kvm_oracle_get_stats(const kvm_oracle *o);

#endif

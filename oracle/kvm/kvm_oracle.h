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
	bool user;          /* CPL 3, else CPL 0 */
	bool ac;            /* EFLAGS.AC during the access */
} kvm_access;

typedef struct kvm_outcome {
	uint32_t vector; /* KVM_VEC_OK, 14 (#PF), 13 (#GP), other: unexpected */
	uint64_t error;  /* the exception's error code */
	uint64_t cr2;    /* CR2 after a #PF */
	uint64_t rip;    /* the faulting RIP (diagnostic) */
} kvm_outcome;

/* Opens /dev/kvm and builds the VM. 0, or a negative errno with a message
 * in err (e.g. "/dev/kvm: No such file or directory"). */
int kvm_oracle_open(kvm_oracle **out, char *err, size_t errlen);
void kvm_oracle_close(kvm_oracle *o);

/* The guest's physical-address width (CPUID 0x80000008 EAX[7:0], as KVM
 * reports it): the walkers must be run with this maxphyaddr. */
unsigned kvm_oracle_maxphyaddr(const kvm_oracle *o);

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

/* How translations are flushed between accesses: KVM_FLUSH_CR3 (the
 * default), KVM_FLUSH_INVLPG (INVLPG when the root is unchanged: it also
 * empties the paging-structure caches, SDM 3A 4.10.4.1, so the next access
 * walks all four levels again) or KVM_FLUSH_NONE (for measurements). */
void kvm_oracle_set_flush(kvm_oracle *o, unsigned flush);

/* Counters since open: guest entries and exits other than the final HLT. */
typedef struct kvm_oracle_stats {
	uint64_t runs;
	uint64_t accesses;
	uint64_t mmio_exits;
} kvm_oracle_stats;
kvm_oracle_stats kvm_oracle_get_stats(const kvm_oracle *o);

#endif

/* The guest's code (kvm_guest.c) and the harness image built around it. */
#ifndef MMREF_KVM_GUEST_H
#define MMREF_KVM_GUEST_H

#include <stdint.h>

/* Writes the harness (tables, GDT, TSS, IDT, code, stacks) into h, the
 * KVM_HARNESS_SIZE bytes at guest-physical KVM_HARNESS_GPA. */
void kvm_guest_build_harness(uint8_t *h);

/* The PML4 entry that maps the harness (slot KVM_HARNESS_SLOT). */
uint64_t kvm_guest_harness_pml4e(void);

/* Linear addresses of the runner's entry point and its final HLT. */
uint64_t kvm_guest_entry_la(void);
uint64_t kvm_guest_halt_la(void);

#endif

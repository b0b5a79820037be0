/* The guest's code (kvm_guest.c) and the harness image built around it. */
#ifndef MMREF_KVM_GUEST_H
#define MMREF_KVM_GUEST_H

#include <stdbool.h>
#include <stdint.h>

/* Writes the harness (tables, GDT, TSS, IDT, code, stacks) into h, the
 * KVM_HARNESS_SIZE bytes at guest-physical KVM_HARNESS_GPA. */
void kvm_guest_build_harness(uint8_t *h);

/* The PML4 entry that maps the harness (slot KVM_HARNESS_SLOT). */
uint64_t kvm_guest_harness_pml4e(void);

/* The code an access record points at (kind 0 read, 1 write, 2 fetch),
 * and the offset in the control block of the IRETQ frame a CPL 3 access
 * uses. */
uint64_t kvm_guest_snippet_la(unsigned kind, bool user, bool ac);
uint64_t kvm_guest_frame_off(unsigned kind, bool ac);

/* Linear addresses of the runner's entry point and its final HLT. */
uint64_t kvm_guest_entry_la(void);
uint64_t kvm_guest_halt_la(void);

#endif

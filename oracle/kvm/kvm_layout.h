/* The KVM oracle's guest: its physical and linear layout. Plain numbers
 * only (no C suffixes or casts), because the guest's assembly in
 * kvm_guest.c uses these too. docs/kvm-oracle.md draws the picture.
 *
 * Guest-physical memory, three memory slots:
 *
 *   0x00000000 +---------------------------+ slot 0: the page-table area
 *              | frame 0 (kept zero)       |  = the walkers' mm_phys_mem,
 *              | the test's table frames   |  KVM_TABLE_FRAMES frames
 *   0x01000000 +---------------------------+ slot 1: the harness
 *              | harness tables, GDT, TSS, |  mapped at KVM_HBASE through
 *              | IDT, code, stacks, access |  PML4 slot KVM_HARNESS_SLOT
 *              | list, results             |  of every root the test uses
 *   0x01400000 +---------------------------+
 *                (nothing)
 *   0x40000000 +---------------------------+ slot 2: the data window
 *              | 1 GiB, every byte 0xC3    |  (one 2 MiB buffer mapped 512
 *   0x80000000 +---------------------------+  times): where leaves point
 */
#ifndef MMREF_KVM_LAYOUT_H
#define MMREF_KVM_LAYOUT_H

/* ---- Guest-physical ---- */
#define KVM_TABLE_FRAMES 4096        /* slot 0: 16 MiB of page tables */
#define KVM_HARNESS_GPA 0x1000000    /* slot 1 */
#define KVM_HARNESS_SIZE 0x400000
#define KVM_DATA_GPA 0x40000000      /* slot 2 */
#define KVM_DATA_SIZE 0x40000000
#define KVM_DATA_BYTE 0xc3           /* ret: a fetch that succeeds returns */

/* ---- The harness: linear KVM_HBASE + off is physical KVM_HARNESS_GPA + off.
 * PML4 slot 384 (0xffffc000_00000000): upper half, away from the slots the
 * random accesses use (0, 1, 255, 256, 511). */
#define KVM_HARNESS_SLOT 384
#define KVM_HBASE 0xffffc00000000000
#define KVM_H_PDPT 0x000000          /* harness PDPT, PD, two PTs: not */
#define KVM_H_PD 0x001000            /* mapped in linear space         */
#define KVM_H_PT0 0x002000
#define KVM_H_PT1 0x003000
#define KVM_H_GDT 0x004000           /* supervisor RW */
#define KVM_H_TSS 0x005000           /* supervisor RW */
#define KVM_H_IDT 0x006000           /* supervisor RO */
#define KVM_H_PML4 0x007000          /* the idle root: only slot 384 */
#define KVM_H_CODE 0x008000          /* supervisor RX, 8 KiB */
#define KVM_H_UCODE 0x00a000         /* user RX */
#define KVM_H_CTRL 0x00b000          /* supervisor RW: the control block */
#define KVM_H_KSTACK 0x00c000        /* supervisor RW, 16 KiB */
#define KVM_H_KSTACK_TOP 0x010000
#define KVM_H_USTACK 0x011000        /* user RW (0x10000: unmapped guard) */
#define KVM_H_USTACK_TOP 0x012000
#define KVM_H_ACC 0x020000           /* access records, 32 bytes each */
#define KVM_H_RES 0x200000           /* result records, 32 bytes each */
#define KVM_MAX_ACCESSES 32768

/* The control block: the number of accesses, then six IRETQ frames to the
 * user trampolines (RIP, CS, RFLAGS, RSP, SS), one per kind and value of AC, 64
 * bytes apart. */
#define KVM_CTRL_N 0
#define KVM_CTRL_FRAMES 64

/* An access record (32 bytes): cr3 (8), va (8), the linear address of the
 * code that performs it (8: kvm_guest_snippet_la), the IRETQ frame of a
 * user access (8). A result record (32 bytes): vector (4), pad (4), error
 * code (8), CR2 (8), RIP (8). Vector KVM_VEC_OK: the access completed. */
#define KVM_VEC_OK 0x100
#define KVM_VEC_NOT_RUN 0xffff

/* GDT selectors. */
#define KVM_SEL_KCODE 0x08
#define KVM_SEL_KDATA 0x10
#define KVM_SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define KVM_SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define KVM_SEL_TSS 0x28

#endif

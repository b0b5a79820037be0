/* x86-64 4-level paging as the hardware sees it (Intel SDM Vol. 3A ch. 4):
 * the entry bits, the split of a linear address, the model's page walker
 * (mm_walk) and the tables of a model address space (mm_page_tables).
 *
 * This is the public half of the model's page layer: the KVM oracle, the
 * walk checkers, the fuzz targets and the tests use it. Linux's reading of
 * the entries (pte_special, PROT_NONE, swap entries) stays private to the
 * model (model/pagetable.h). Needs only <stdint.h> and <stdbool.h>.
 */
#ifndef MMREF_X86_H
#define MMREF_X86_H

#include <stdbool.h>
#include <stdint.h>

#include "mmref/walk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Entry bits (SDM 3A 4.5; kernel names: arch/x86/include/asm/pgtable_types.h) */
#define X86_P (1ull << 0)      /* _PAGE_PRESENT */
#define X86_RW (1ull << 1)     /* _PAGE_RW */
#define X86_US (1ull << 2)     /* _PAGE_USER */
#define X86_PWT (1ull << 3)    /* _PAGE_PWT */
#define X86_PCD (1ull << 4)    /* _PAGE_PCD */
#define X86_A (1ull << 5)      /* _PAGE_ACCESSED */
#define X86_D (1ull << 6)      /* _PAGE_DIRTY (leaf only) */
#define X86_PS (1ull << 7)     /* _PAGE_PSE in a PDE/PDPTE; PAT in a PTE */
#define X86_G (1ull << 8)      /* _PAGE_GLOBAL (leaf only) */
#define X86_AVL9 (1ull << 9)   /* Linux _PAGE_SPECIAL */
#define X86_AVL10 (1ull << 10) /* Linux _PAGE_UFFD_WP */
#define X86_AVL11 (1ull << 11) /* Linux _PAGE_SOFT_DIRTY */
#define X86_LPAT (1ull << 12)  /* PAT bit of a 2 MiB / 1 GiB leaf */
#define X86_XD (1ull << 63)    /* _PAGE_NX */
#define X86_PK_SHIFT 59        /* bits 62:59: protection key */

/* ---- Address split (SDM 3A 4.5.4, figure 4-8) ---- */
/* Level l = 1 (page table) .. 4 (PML4): the first address bit it indexes. */
#define X86_LEVEL_SHIFT(l) (12u + 9u * ((unsigned)(l) - 1u))
/* The index of va's entry in its level-l table. */
#define X86_PT_INDEX(va, l) ((unsigned)(((va) >> X86_LEVEL_SHIFT(l)) & 511u))
#define X86_PT_ENTRIES 512u

static inline bool x86_is_canonical48(uint64_t va)
{
	/* SDM 3A 3.3.7.1: bits 63:47 all equal. */
	uint64_t top = va >> 47;
	return top == 0 || top == 0x1ffff;
}

/* Bits M-1:12 of an entry or of CR3. */
static inline uint64_t x86_addr_mask(unsigned maxphyaddr)
{
	return ((maxphyaddr >= 64 ? ~0ull : (1ull << maxphyaddr)) - 1) & ~0xfffull;
}

/* ---- The walker (model/pagetable.c) ---- */
/* Translates va as the processor would for an access of kind acc at CPL cpl
 * (0..3; 3 is user mode) under mode, setting A/D in pm as the hardware
 * does. A/D rule (the SDM leaves faulting walks loose; this is ours, and the
 * naive walker's): A is set in every entry the walk used to reach the next
 * level; the entry at which the walk stops with a fault (not present,
 * reserved bit, or the leaf of a permission fault) is left unchanged. A
 * successful walk sets A in every entry, and D in the leaf on a write.
 * Never allocates. */
mm_walk_result mm_walk(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc, unsigned cpl,
                       const mm_cpu_mode *mode);

/* ---- A model address space's tables ---- */
struct mm_state;
/* The simulated physical memory holding mm's page tables and the CR3 that
 * locates its PML4. The words are the model's own, valid until its next
 * operation: read them, or copy them before walking (mm_walk writes A/D
 * bits). Data pages have pfns beyond out->nframes (unbacked: the model
 * keeps no page contents). */
void mm_page_tables(const struct mm_state *mm, mm_phys_mem *out, uint64_t *cr3);

/* The entry that maps va, read without touching anything: the last entry
 * the walk from cr3 reaches (a not-present upper entry, a large leaf with
 * PS, or the PTE), and its level in *level (4..1). Unlike mm_walk it
 * ignores permissions, reserved bits and MAXPHYADDR: for looking, not for
 * translating. */
static inline uint64_t x86_lookup(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, unsigned *level)
{
	uint64_t table = cr3 & x86_addr_mask(52);
	for (unsigned l = 4;; l--) {
		uint64_t pa = table | ((uint64_t)X86_PT_INDEX(va, l) << 3);
		uint64_t e = (pa >> 12) < pm->nframes ? pm->words[pa >> 3] : 0;
		if (l == 1 || !(e & X86_P) || (l < 4 && (e & X86_PS))) {
			*level = l;
			return e;
		}
		table = e & x86_addr_mask(52);
	}
}

#ifdef __cplusplus
}
#endif
#endif

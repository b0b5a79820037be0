/* x86-64 4-level paging in simulated physical memory: a pool of page-table
 * frames, and Linux's page layer on top of the hardware format. The
 * hardware half (entry format, Intel SDM Vol. 3A 4.5; the walker, SDM
 * 4.5-4.8) is public, in mmref/x86.h; Linux's policy on top of it is
 * pages.c and fault.c.
 *
 * Depends on libc only. The walker never allocates.
 */
#ifndef MMREF_PAGETABLE_H
#define MMREF_PAGETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmref/x86.h"

/* The entry bits, the address split, x86_is_canonical48, x86_addr_mask and
 * the walker (mm_walk) are public: mmref/x86.h. The short names below are
 * the model's own. */
#define PT_LEVEL_SHIFT(l) X86_LEVEL_SHIFT(l)
#define PT_INDEX(va, l) X86_PT_INDEX(va, l)
#define PT_ENTRIES X86_PT_ENTRIES
#define pt_walk mm_walk

/* Linux's software meanings of the free bits. */
#define LX_PAGE_SPECIAL X86_AVL9 /* pte_special: no struct page behind it */
#define LX_PAGE_PROTNONE X86_G   /* bit 8 when P=0: PROT_NONE (pte_protnone) */

/* ---- Simulated physical memory holding page tables ---- */
/* One flat array of frames (mm_phys_mem), grown by doubling through the
 * alloc/release seam. Growth moves the array: callers hold pfns, never
 * entry pointers, across pt_phys_alloc. Frame 0 is never handed out, so
 * pfn 0 means failure. Freed frames are zeroed and reused. */
struct pt_phys {
	mm_phys_mem mem;     /* what the walker reads */
	uint64_t cap;        /* frames allocated in mem.words */
	uint64_t *free_pfns; /* stack of free pfns (capacity cap) */
	uint64_t nfree;
	uint64_t in_use; /* frames handed out */
	void *(*alloc)(void *ctx, size_t size); /* zeroed memory or NULL */
	void (*release)(void *ctx, void *p);
	void *ctx;
};

void pt_phys_init(struct pt_phys *ph, void *(*alloc)(void *ctx, size_t size), void (*release)(void *ctx, void *p),
                  void *ctx);
void pt_phys_fini(struct pt_phys *ph);
/* Every frame free again, as after pt_phys_init, keeping the memory: the
 * frames ever handed out are zeroed (only those). */
void pt_phys_reset(struct pt_phys *ph);
/* A zeroed frame: its pfn, or 0 when the seam fails (nothing changed). */
uint64_t pt_phys_alloc(struct pt_phys *ph);
/* Zeroes the frame and puts it back. */
void pt_phys_free(struct pt_phys *ph, uint64_t pfn);
/* The 512 words of a handed-out frame; valid until the next pt_phys_alloc. */
static inline uint64_t *pt_phys_table(const struct pt_phys *ph, uint64_t pfn) { return ph->mem.words + pfn * PT_ENTRIES; }

/* ---- Linux's page layer (pages.c, fault.c) --------------------------------
 * The process's tables live in a struct pt_phys; data pages (anonymous,
 * page-cache, the zero pages) have pfns from PG_DATA_PFN_BASE up and no
 * backing words (the model keeps no page contents). Entries are addressed by
 * word index (pfn * 512 + index), never by pointer, because table
 * allocation may move the memory. Word index 0 means "no entry". */
#define PG_DATA_PFN_BASE (1ull << 24) /* 64 GiB: above every table frame */
#define PG_PFN_MASK 0x000ffffffffff000ull /* PTE_PFN_MASK (__PHYSICAL_MASK_SHIFT 52) */
#define PG_PMD_PFN_MASK 0x000fffffffe00000ull
/* arch/x86/include/asm/pgtable_types.h: _PAGE_TABLE for upper levels. */
#define PG_TABLE_FLAGS (X86_P | X86_RW | X86_US | X86_A | X86_D)
/* The cpu mode Linux runs user space under here (WP, NXE, SMEP, SMAP on). */
#define PG_MAXPHYADDR 48

struct mm_state;
struct vma;
struct mm_object;

/* Flags of a fault (include/linux/mm_types.h FAULT_FLAG_*). */
#define PG_FAULT_WRITE 1u
#define PG_FAULT_INSTRUCTION 2u
/* handle_mm_fault() results (VM_FAULT_*), reduced. */
enum pg_fault_result { PG_FAULT_OK = 0, PG_FAULT_SIGSEGV, PG_FAULT_SIGBUS, PG_FAULT_OOM };

/* fault.c: mm/memory.c handle_mm_fault() for addr inside v. */
enum pg_fault_result pg_handle_mm_fault(struct mm_state *mm, struct vma *v, uint64_t addr, unsigned flags);

/* pages.c primitives used by fault.c. */
struct page_tables;
uint64_t *pg_words(struct mm_state *mm);
uint64_t pg_cr3(const struct mm_state *mm);
const mm_phys_mem *pg_mem(const struct mm_state *mm);
/* The leaf slot for va: the PDE (*level 2) if a huge PMD maps it, else the
 * PTE (*level 1) if the page table exists; 0 if a table is missing. */
uint64_t pg_lookup(const struct mm_state *mm, uint64_t va, unsigned *level);
/* The PDE slot of va, allocating the PDPT and PD: 0 on -ENOMEM. */
uint64_t pg_alloc_pmd(struct mm_state *mm, uint64_t va);
/* The PTE slot of va, allocating tables and splitting a huge PMD: 0 on
 * -ENOMEM. */
uint64_t pg_alloc_pte(struct mm_state *mm, uint64_t va);
/* Replaces the entry at wi (a PTE, or a PDE leaf when level is 2),
 * moving frame map counts from the old entry to the new one. */
void pg_set_entry(struct mm_state *mm, uint64_t wi, unsigned level, uint64_t val);
/* protection_map[] (arch/x86/mm/pgprot.c) for these vm_flags. */
uint64_t pg_vm_page_prot(uint64_t vm_flags);
/* Frames. Return a pfn, or 0 on -ENOMEM. */
uint64_t pg_alloc_anon(struct mm_state *mm);
uint64_t pg_alloc_thp(struct mm_state *mm); /* 512 frames, 2 MiB aligned */
uint64_t pg_zero_pfn(const struct mm_state *mm);
uint64_t pg_huge_zero_pfn(const struct mm_state *mm);
/* The page-cache page of obj at pgoff, created (shmem_get_folio) if create. */
uint64_t pg_cache_page(struct mm_state *mm, struct mm_object *obj, uint64_t pgoff, bool create);
/* An anonymous page mapped by exactly one entry (PageAnonExclusive). */
bool pg_anon_exclusive(const struct mm_state *mm, uint64_t pfn);
bool pg_is_anon(const struct mm_state *mm, uint64_t pfn);
/* Drops a frame that was allocated but never mapped. */
void pg_free_unmapped(struct mm_state *mm, uint64_t pfn);

/* Linux's reading of an entry (arch/x86/include/asm/pgtable.h). */
static inline bool lx_none(uint64_t e) { return (e & ~(X86_A | X86_D)) == 0; } /* _PAGE_KNL_ERRATUM_MASK */
static inline bool lx_present(uint64_t e) { return (e & (X86_P | LX_PAGE_PROTNONE)) != 0; }
static inline bool lx_protnone(uint64_t e) { return (e & (X86_P | LX_PAGE_PROTNONE)) == LX_PAGE_PROTNONE; }
/* The pfn of a present entry; PROT_NONE entries hold it inverted (L1TF:
 * arch/x86/include/asm/pgtable-invert.h). mask: PG_PFN_MASK or, for a huge
 * PMD, PG_PMD_PFN_MASK. */
static inline uint64_t lx_pfn(uint64_t e, uint64_t mask)
{
	return ((lx_protnone(e) ? ~e : e) & mask) >> 12;
}
/* The guard marker: swap type SWP_PTE_MARKER (31) with offset
 * PTE_MARKER_GUARD (4) in the x86-64 swap format (type in bits 63:59,
 * offset inverted in bits 58:9): arch/x86/include/asm/pgtable_64.h. */
#define LX_SWP_TYPE_BITS 5
#define LX_SWP_OFFSET_SHIFT 14 /* first offset bit 9, plus the type bits */
static inline uint64_t lx_swp_entry(uint64_t type, uint64_t offset)
{
	return ((~offset << LX_SWP_OFFSET_SHIFT) >> LX_SWP_TYPE_BITS) | (type << (64 - LX_SWP_TYPE_BITS));
}
#define LX_GUARD_MARKER lx_swp_entry(31, 4)

#endif

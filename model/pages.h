/* Linux's page layer: the vocabulary shared by the files that keep the
 * pages under the VMAs. Types and Linux's reading of an entry only; each
 * file declares its own functions in its own header:
 *
 *   frames.c     (fr_)      the data frames: allocator, kinds, map counts
 *   pagecache.c  (pc_)      the page cache of each backing object
 *   pgtable.c    (pg_)      entries and tables: lookup, allocation, the
 *                           range operations of munmap, mremap, mprotect,
 *                           MADV_DONTNEED, guards, hole punch
 *   pages.c      (mm_)      the public page API: mm_page, mm_pages,
 *                           mm_page_tables
 *   pgcheck.c    (pgcheck_) the page-table part of the checker
 *   pagepolicy.c (pp_)      madvise / khugepaged policy on folios:
 *                           MADV_FREE, COLD, PAGEOUT, COLLAPSE, mlocked
 *                           pages, huge page-cache folios
 *
 * Layering (each uses only those above it): contents.c, frames.c,
 * pagecache.c, pgtable.c, then pages.c, pgcheck.c and pagepolicy.c; the
 * fault handler (fault.c) and populate (gup.c) sit above them, as in Linux.
 * ci/check-layers rejects an include cycle inside model/.
 *
 * Frames: table frames live in a struct pt_phys (pagetable.h: real words the
 * walker reads); data frames (anonymous, page-cache, the zero pages) have
 * pfns from PG_DATA_PFN_BASE up, a struct frame each and their contents in
 * contents.c. mapcount of a data frame = the leaf entries whose mapped range
 * covers it (a PMD leaf covers 512 frames), which is what pgcheck_tables
 * recounts. Entries are addressed by word index (pfn * 512 + index), never
 * by pointer, because table allocation may move the memory. Word index 0
 * means "no entry".
 */
#ifndef MMREF_PAGES_H
#define MMREF_PAGES_H

#include "internal.h"
#include "pagetable.h"

#define PG_DATA_PFN_BASE (1ull << 24) /* 64 GiB: above every table frame */
#define PG_PFN_MASK 0x000ffffffffff000ull /* PTE_PFN_MASK (__PHYSICAL_MASK_SHIFT 52) */
#define PG_PMD_PFN_MASK 0x000fffffffe00000ull
/* arch/x86/include/asm/pgtable_types.h: _PAGE_TABLE for upper levels. */
#define PG_TABLE_FLAGS (X86_P | X86_RW | X86_US | X86_A | X86_D)

#define PMD_PAGES 512u
#define USER_TOP (1ull << 47)

/* Linux's software meanings of the free bits. */
#define LX_PAGE_SPECIAL X86_AVL9 /* pte_special: no struct page behind it */
#define LX_PAGE_PROTNONE X86_G   /* bit 8 when P=0: PROT_NONE (pte_protnone) */

enum frame_kind { FR_FREE = 0, FR_ANON, FR_CACHE, FR_ZERO, FR_HZERO };

struct frame {
	uint32_t mapcount;   /* leaf entries covering the frame */
	uint8_t kind;        /* enum frame_kind */
	uint8_t in_block;    /* part of a 2 MiB block (THP / huge zero) */
	uint16_t block_live; /* block head only: frames of the block in use */
	uint8_t dirty;       /* page cache: written back to the folio from a dirty PTE */
	uint8_t lazyfree;    /* anon: MADV_FREE'd (no longer swap-backed) */
	uint8_t split;       /* block head only: the THP folio was split into order-0 folios */
	uint8_t mlocked;     /* PG_mlocked kept after its VMA lost VM_LOCKED without munlock (pp_mark_mlocked) */
};

/* The pages of one object in the page cache: an open-addressing table
 * pgoff -> pfn. Keys hold pgoff + 2; 0 is empty, 1 a deleted slot. */
struct page_cache {
	uint64_t *keys, *pfns;
	uint64_t cap, used, count;
	struct page_cache *next; /* page_tables.caches */
	/* The large folios (order > 0), each `first << 4 | order`: the huge
	 * ones (order 9) MADV_COLLAPSE made (collapse_file; shmem_thp=never
	 * makes none at fault time), whose 512 frames are one 2 MiB block so
	 * that a PMD can map them, and the pieces a hole punch leaves of one
	 * (pg_punch_hole). Pages in none of them are small folios. */
	uint64_t *huge;
	size_t nhuge, huge_cap;
};

struct page_tables {
	struct pt_phys phys;
	uint64_t pml4; /* pfn of the PML4 (CR3) */
	struct frame *fm;
	uint64_t nfm, fm_cap;
	uint64_t *free4k, nfree4k; /* capacity fm_cap */
	uint64_t *free2m, nfree2m; /* capacity fm_cap / 512 + 1 */
	uint64_t zero_pfn, hzero_pfn;
	struct page_cache *caches;
	uint64_t total_mapcount; /* the sum of every frame's mapcount */
	uint64_t n_anon, n_cache; /* frames of each kind handed out (the leak checks) */
	uint32_t *check_counts;  /* pgcheck_tables's scratch: map counts per frame (zero between calls) */
	uint64_t *check_seen;    /* pgcheck_tables's scratch: the frames it counted */
	uint8_t *check_owner;    /* pgcheck_tables's scratch: the last process that mapped a frame */
	uint64_t check_cap;
};

/* The words of the process's tables: valid until the next table allocation. */
#define W(mm) ((mm)->pt->phys.mem.words)

/* Linux's reading of an entry (arch/x86/include/asm/pgtable.h). */
static inline bool lx_none(uint64_t e) { return (e & ~(X86_A | X86_D)) == 0; } /* _PAGE_KNL_ERRATUM_MASK */
static inline bool lx_present(uint64_t e) { return (e & (X86_P | LX_PAGE_PROTNONE)) != 0; }
static inline bool lx_protnone(uint64_t e) { return (e & (X86_P | LX_PAGE_PROTNONE)) == LX_PAGE_PROTNONE; }
/* A present huge PMD leaf (pmd_trans_huge). */
static inline bool lx_pmd_huge(uint64_t e) { return (e & X86_PS) && lx_present(e); }
/* The pfn of the table an upper-level entry points to. */
static inline uint64_t lx_table_pfn(uint64_t e) { return (e & PG_PFN_MASK) >> 12; }
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
/* The uffd-wp PTE marker (PTE_MARKER_UFFD_WP, 1): an empty entry of a
 * file/shmem VMA that the userfaultfd write-protected (change_pte_range with
 * MM_CP_UFFD_WP and userfaultfd_wp_use_markers()). */
#define LX_UFFD_WP_MARKER lx_swp_entry(31, 1)
/* _PAGE_UFFD_WP (_PAGE_BIT_SOFTW2, bit 10) on a present PTE or PMD. */
#define LX_PAGE_UFFD_WP X86_AVL10
/* pte_mkuffd_wp() (arch/x86/include/asm/pgtable.h): the bit, and the entry
 * write-protected with it. */
static inline uint64_t lx_mkuffd_wp(uint64_t e) { return (e | LX_PAGE_UFFD_WP) & ~(uint64_t)X86_RW; }

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

#endif

/* pagepolicy.c: what madvise and khugepaged do to folios (mm/madvise.c,
 * mm/huge_memory.c, mm/khugepaged.c, mm/vmscan.c), and the huge page-cache
 * folios they make. Private. */
#ifndef MMREF_PAGEPOLICY_H
#define MMREF_PAGEPOLICY_H

#include "pages.h"

/* MADV_PAGEOUT: unmap the page-cache pages of [start, end) mapped only
 * there (no swap: anonymous pages stay unless not swap-backed). */
void pp_pageout(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MADV_FREE: anonymous pages mapped only here become lazily freeable. */
void pp_mark_lazyfree(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MADV_COLD: splits the THPs the range covers in part. */
void pp_cold(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MADV_COLLAPSE of the aligned 2 MiB block at h of an anonymous VMA, in two
 * steps around anon_vma_prepare (vma_anon_vma_prepare, the caller's, madvise.c):
 * pp_collapse_scan() says 0 (done: already PMD-mapped), -EINVAL (no page
 * table, or a guard marker) or 1 (go on); then pp_collapse() collapses,
 * 0 or -ENOMEM. */
int pp_collapse_scan(mm_state *mm, const struct vma *v, uint64_t h);
int pp_collapse(mm_state *mm, struct vma *v, uint64_t h);
/* MADV_COLLAPSE of block h of a shmem/memfd VMA: 0, 1 (go on, but EINVAL at
 * the end) or a negative errno (stop). */
int pp_collapse_file(mm_state *mm, struct vma *v, uint64_t h);
/* PG_mlocked of the pages mapped in [start, end): set (MREMAP_DONTUNMAP
 * leaves them mlocked in an unlocked VMA) or cleared (munlock). */
void pp_mark_mlocked(mm_state *mm, uint64_t start, uint64_t end, bool on);
/* A fault on a huge page-cache folio's block that maps it whole; true when
 * it handled the fault. */
bool pp_fault_cache_block(mm_state *mm, const struct vma *v, uint64_t addr, bool write);
/* The large folio (order > 0) of obj's cache holding pgoff: its first page
 * offset and size in pages; false for a small folio. */
bool pp_cache_folio(const mm_state *mm, const struct mm_object *obj, uint64_t pgoff, uint64_t *first, uint64_t *npages);

#endif

/* gup.c: populate (mm/gup.c), above the fault handler as in Linux:
 * MAP_POPULATE, mlock, MADV_POPULATE_*, mprotect of a locked VMA, mremap of
 * a locked VMA. Private. */
#ifndef MMREF_GUP_H
#define MMREF_GUP_H

#include "internal.h"

/* __get_user_pages(): fault in [start, end) within v, for writing if
 * write. Returns 0, -EFAULT (a guard marker or SIGBUS-type failure) or
 * -ENOMEM. */
int gup_get_pages(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, bool write);
/* populate_vma_page_range() for [start, end) within v. */
int gup_populate_vma(mm_state *mm, struct vma *v, uint64_t start, uint64_t end);
/* __mm_populate(): gup_populate_vma over the VMAs of [start, end). Returns
 * 0 or the first error (-EFAULT) unless ignore_errors. */
int gup_populate(mm_state *mm, uint64_t start, uint64_t end, bool ignore_errors);

#endif

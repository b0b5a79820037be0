/* mmap.c: mmap(2) (public) and the placement of new mappings. Private. */
#ifndef MMREF_MMAP_H
#define MMREF_MMAP_H

#include "internal.h"

/* mm/mmap.c: __get_unmapped_area() with the x86 top-down allocator. */
int64_t mmap_get_unmapped_area(mm_state *mm, const struct mm_object *obj, bool shared_anon, uint64_t addr,
                               uint64_t len, uint64_t pgoff, uint64_t flags);

#endif

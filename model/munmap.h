/* munmap.c: munmap(2) (public) and the unmapping of a range. Private. */
#ifndef MMREF_MUNMAP_H
#define MMREF_MUNMAP_H

#include "internal.h"

/* do_vmi_munmap(): unmaps [start, end) (split, remove, zap). 0 or -errno. */
int munmap_range(mm_state *mm, uint64_t start, uint64_t end);

#endif

/* mlock.c: mlock(2), munlock(2) (public) and, for the checker, the pages
 * of VM_LOCKED VMAs. RLIMIT_MEMLOCK's checks are internal.h's
 * (can_do_mlock, mlock_future_ok): VMAs and mmap need them too. Private. */
#ifndef MMREF_MLOCK_H
#define MMREF_MLOCK_H

#include "internal.h"

uint64_t mlock_locked_pages(const mm_state *mm);

#endif

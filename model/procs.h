/* procs.c: the processes of one machine (issue 18), as the page layer and
 * the checker see them. Private. */
#ifndef MMREF_PROCS_H
#define MMREF_PROCS_H

#include "pages.h"

/* Swaps the current process's own part with the process waiting in
 * mm->procs[slot]: that one becomes current. */
void procs_swap(mm_state *mm, unsigned slot);
/* Calls fn on every live process, the current one first, each made current
 * for the call (the others swapped in one at a time and back): the rules
 * that reach every process (unmap_mapping_range of a hole punched, the
 * checker's recount). mm is as it was when this returns; the checker calls
 * it through a const pointer for that reason. */
void procs_each(const mm_state *mm, void (*fn)(mm_state *mm, void *ctx), void *ctx);

#endif

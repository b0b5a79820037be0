/* fork.c: the processes of one machine (issue 18). Private. */
#ifndef MMREF_FORK_H
#define MMREF_FORK_H

#include "internal.h"

/* Every process but the current one ends (mm_destroy, mm_reset). */
void fork_release_procs(mm_state *mm);

#endif

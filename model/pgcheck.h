/* pgcheck.c: the checker's page part (I11-I16, I18, I19). Private. */
#ifndef MMREF_PGCHECK_H
#define MMREF_PGCHECK_H

#include "pages.h"

/* Reports through the same callback as vt_check; returns the violations. */
size_t pgcheck_tables(const mm_state *mm, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                      void *ctx);

#endif

/* Internal to harness/: the in-process targets (model, naive) share one
 * implementation over a table of the mm_*-shaped functions. */
#ifndef MMREF_TARGET_INTERNAL_H
#define MMREF_TARGET_INTERNAL_H

#include "mm_api.h"
#include "target.h"

/* A target over api, named name. */
target *target_api_new(const mm_api *api, const char *name);
/* The address space of such a target, NULL before start. */
void *target_api_handle(const target *tg);
const mm_api *target_api_of(const target *tg);

#endif

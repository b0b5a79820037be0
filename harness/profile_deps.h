/* Which profile keys a recorded trace depends on (docs/profiles.md, "The
 * corpus says what it depends on"): the trace is replayed on the model under
 * the profile it was recorded under, then under each other value of each
 * key; a key whose other values change an answer is one the trace depends
 * on. The kernel version is always named (answers were recorded on one). */
#ifndef MMREF_PROFILE_DEPS_H
#define MMREF_PROFILE_DEPS_H

#include <glib.h>

#include "trace.h"

/* *deps gets the keys of `recorded` that t's expectations depend on. FALSE
 * and *error when t does not hold on the model under `recorded` itself (then
 * nothing can be concluded). */
gboolean profile_dependencies(const trace *t, const tr_profile *recorded, tr_profile *deps, GError **error);

#endif

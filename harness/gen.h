/* A seeded random trace generator: the same seed and length give the same
 * trace, on every machine. Generated traces are valid (every address and
 * range inside the arena) and mostly operate near the VMAs they made. */
#ifndef MMREF_GEN_H
#define MMREF_GEN_H

#include <glib.h>

#include "trace.h"

/* The text of a trace of `length` statements (g_free). */
char *gen_trace_text(guint64 seed, guint length);
/* The same, parsed; `name` is its file name in messages. */
trace *gen_trace(guint64 seed, guint length, const char *name);

#endif

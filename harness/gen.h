/* A seeded random trace generator: the same seed and length give the same
 * trace, on every machine. Generated traces are valid (every address and
 * range inside the arena) and mostly operate near the VMAs they made. */
#ifndef MMREF_GEN_H
#define MMREF_GEN_H

#include <glib.h>

#include "trace.h"

/* The text of a trace of `length` statements (g_free). */
char *gen_trace_text(guint64 seed, guint length);
/* With values (issue 18): files with initial contents, `write` (a distinct
 * value each) and `read` in place of most touches -- so that data lost,
 * copied or shared wrongly shows in a read -- and no `touch x` (it would
 * execute the data mmref-kernel stored). values FALSE: gen_trace_text. */
char *gen_trace_text_values(guint64 seed, guint length, gboolean values);
/* fork (issue 18): also `fork`, `proc N`, `exit N` (6% of the statements),
 * and no THP sequences or MADV_HUGEPAGE/COLLAPSE (fork of huge pages is
 * left to hand-written traces). */
char *gen_trace_text_opts(guint64 seed, guint length, gboolean values, gboolean fork);
/* With fork as gen_trace_text_opts, and for targets with CONFIG_MEMORY_FAILURE
 * (profile memory_failure=on: vm:6.12) no MADV_HWPOISON or MADV_SOFT_OFFLINE,
 * which the model does not implement there (dontneed in place of their
 * numbers, the named advice drawn from the others). */
char *gen_trace_text_for(guint64 seed, guint length, gboolean values, gboolean fork, gboolean memory_failure);
/* With the process's userfaultfd (docs/trace-format.md "userfaultfd"): 10% of
 * the statements are uffd register/unregister/copy/zeropage/continue/wake/wp. */
char *gen_trace_text_uffd(guint64 seed, guint length, gboolean values, gboolean fork, gboolean memory_failure,
                          gboolean uffd);
/* The same, parsed; `name` is its file name in messages. */
trace *gen_trace(guint64 seed, guint length, const char *name);

/* mmref gen --coverage: runs `count` generated traces (seeds seed, seed + 1,
 * ...) on the model and counts, per row -- statement kinds, mmap/mremap/mlock2
 * flags, madvise advice, the kinds of VMA an operation reached, interactions
 * (an operation over k VMAs of mixed kinds, over a hole, on huge pages
 * partly and wholly, mremap over several VMAs or merging, collapse), results
 * -- the statements and traces that reached it, classified from the model's
 * state before and after each statement. A Markdown table (g_free);
 * *zero_rows (may be NULL) gets the rows nothing reached. `values`: traces
 * with write/read (gen_trace_text_values); without, those two rows are left out. */
char *gen_coverage(guint64 seed, guint count, guint length, gboolean values, guint *zero_rows);
/* The same with fork traces (gen_trace_text_opts); the fork, proc and exit
 * rows are left out without. */
char *gen_coverage_opts(guint64 seed, guint count, guint length, gboolean values, gboolean fork, guint *zero_rows);
/* The same with userfaultfd traces; the uffd rows are left out without. */
char *gen_coverage_uffd(guint64 seed, guint count, guint length, gboolean values, gboolean fork, gboolean uffd,
                        guint *zero_rows);

#endif

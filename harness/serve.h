/* The exec-protocol server (docs/exec-protocol.md): statements in, a
 * target's answers out. One loop for `mmref serve --target T` and for
 * mmref-naive (cli/mmref_naive.c). mmref-kernel keeps its own loop
 * (oracle/kernel/main.c): it cannot allocate inside its arena.
 *
 *   mmtrace 1 / arena / file   echoed; the next operation starts afresh
 *   comment                    echoed
 *   operation                  "STATEMENT => RESULT"
 *   observation                "STATEMENT" then one "| LINE" per line
 *   bad line, failed target    "# error: WHAT"
 *   every answer               ends with an empty line
 */
#ifndef MMREF_SERVE_H
#define MMREF_SERVE_H

#include <stdio.h>

#include "target.h"

/* Answers every line of in on out (flushed after each answer) until the
 * end of in. tg is started afresh with the trace so far at the first
 * statement after each directive; a start that fails is answered with
 * "# error: ..." and tried again at the next statement. Lines with a NUL
 * byte are refused (and counted as lines). */
void serve_run(target *tg, FILE *in, FILE *out);

#endif

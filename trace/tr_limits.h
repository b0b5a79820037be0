/* Resource limits of the tools around the executor (docs/security.md): what a
 * hostile or careless trace, or an external target, may make the harness
 * allocate or wait for. One process-wide set; the command line's --max-*
 * options change it before anything is parsed or run. Every refusal names the
 * limit and the option that raises it. */
#ifndef MMREF_TR_LIMITS_H
#define MMREF_TR_LIMITS_H

#include <stdint.h>

typedef struct tr_limits {
	uint64_t max_arena;          /* bytes of arena a trace may declare (--max-arena) */
	uint64_t max_stmts;          /* statements per trace, and --length (--max-statements) */
	uint64_t max_line;           /* bytes per line of trace input (--max-line) */
	uint64_t max_answer_bytes;   /* bytes read from an exec target per statement (--max-answer-bytes) */
	uint64_t max_answer_lines;   /* lines read from an exec target per statement (--max-answer-lines) */
	uint64_t max_snapshot_pages; /* pages of mappings one snapshot may describe (--max-snapshot-pages) */
	double max_timeout;          /* seconds an exec target may be given per statement (--timeout's ceiling) */
} tr_limits;

/* Defaults for a 2-core 24 GiB machine: */
#define TR_LIMIT_MAX_ARENA (64ull << 30)            /* 64 GiB */
#define TR_LIMIT_MAX_STMTS (4ull << 20)             /* 4 Mi statements */
#define TR_LIMIT_MAX_LINE (4ull << 20)              /* 4 MiB */
#define TR_LIMIT_MAX_ANSWER_BYTES (64ull << 20)     /* 64 MiB */
#define TR_LIMIT_MAX_ANSWER_LINES (1ull << 20)      /* 1 Mi lines */
#define TR_LIMIT_MAX_SNAPSHOT_PAGES (64ull << 20)   /* 64 Mi pages = 256 GiB mapped, 64 MiB of states */
#define TR_LIMIT_MAX_TIMEOUT 86400.0                /* one day */

/* The limits in force (initially the defaults). */
extern tr_limits tr_limit;

#endif

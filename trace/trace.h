/* The mmtrace format, version 1 (docs/trace-format.md): parsed form,
 * parser and printer. Uses glib. */
#ifndef MMREF_TRACE_H
#define MMREF_TRACE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmref/mmref.h"
#include "profile.h"

#define TR_DEFAULT_ARENA_BASE 0x100000000000ull
#define TR_DEFAULT_ARENA_SIZE (1ull << 30)

typedef enum tr_kind {
	TR_MMAP,
	TR_MUNMAP,
	TR_MPROTECT,
	TR_MREMAP,
	TR_MADVISE,
	TR_MLOCK,
	TR_MUNLOCK,
	TR_MSEAL,
	TR_TOUCH,
	TR_WRITE, /* extension: store a 64-bit value (faults as touch w) */
	TR_READ,  /* extension: load a 64-bit value (faults as touch r) */
	TR_FORK,  /* extension: fork the current process => the child's number */
	TR_PROC,  /* extension: select process `value` for what follows => 0 */
	TR_EXIT,  /* extension: process `value` exits => 0 */
	/* extension: the process's userfaultfd (docs/trace-format.md) */
	TR_UFFD_REGISTER,   /* uffd register ADDR LEN MODES (flags: MM_UFFD_MODE_*) */
	TR_UFFD_UNREGISTER, /* uffd unregister ADDR LEN */
	TR_UFFD_COPY,       /* uffd copy ADDR LEN VALUE: every word of the pages is VALUE */
	TR_UFFD_ZEROPAGE,   /* uffd zeropage ADDR LEN */
	TR_UFFD_CONTINUE,   /* uffd continue ADDR LEN [MODE]: map the pages already in the shmem cache
	                     * (flags: MM_UFFD_CONTINUE_MODE_*) */
	TR_UFFD_WAKE,       /* uffd wake ADDR LEN */
	TR_UFFD_WP,         /* uffd wp ADDR LEN on|off[,dontwake] (flags: MM_UFFDIO_WP_MODE_*) */
	/* observations */
	TR_MAPS,
	TR_SMAPS,
	TR_PAGES,
	TR_STATE, /* extension: maps + VmFlags + page states of every VMA in one listing */
} tr_kind;

static inline bool tr_is_observation(tr_kind k) { return k >= TR_MAPS; }

typedef enum tr_result_kind {
	TR_RES_NONE = 0, /* not given */
	TR_RES_VALUE,    /* 0 or an address */
	TR_RES_ERRNO,    /* an errno name */
	TR_RES_TOUCH,    /* ok, SEGV_MAPERR pf=, SEGV_ACCERR pf=, SIGBUS */
	TR_RES_DATA,     /* read: the value loaded, in `value` (printed 0x...) */
} tr_result_kind;

typedef struct tr_result {
	tr_result_kind kind;
	uint64_t value;          /* TR_RES_VALUE, TR_RES_DATA */
	int err;                 /* TR_RES_ERRNO: positive errno */
	mm_touch_result touch;   /* TR_RES_TOUCH */
} tr_result;

/* A file's initial contents (`file NAME SIZE fill=0xNN|pattern=N`,
 * docs/trace-format.md): none (never written: every page reads zero and
 * none is in the page cache), or written at declaration -- every byte 0xNN,
 * or the word at byte offset o is (N << 32) | (o / 8) -- so that every page
 * of the file is in the page cache, dirty. */
typedef enum tr_file_init { TR_FILE_EMPTY = 0, TR_FILE_FILL = 1, TR_FILE_PATTERN = 2 } tr_file_init;
#define TR_FILE_CONTENTS_MAX (64ull << 20) /* the largest file with initial contents */

typedef struct tr_file {
	char *name;
	uint64_t size;
	tr_file_init init;
	uint64_t init_value; /* FILL: the byte; PATTERN: N (1 .. 0xffffffff) */
} tr_file;

/* Processes (fork, proc, exit; docs/trace-format.md): process 1 is the
 * first; each fork numbers its child with the next number, never reused. At
 * most TR_MAX_PROCS live at once (a fork beyond them: EAGAIN). */
#define TR_MAX_PROCS 8
#define TR_MAX_PROC_NUMBER 1000000u

/* The initial word of f at the 8-aligned byte offset off (bytes at or past
 * the file's size read zero). */
uint64_t tr_file_word(const tr_file *f, uint64_t off);

typedef struct tr_stmt {
	tr_kind kind;
	int line;        /* 1-based line in the source */
	uint64_t addr;   /* absolute; mmap: 0 means no hint */
	uint64_t len;    /* LEN, OLDLEN */
	uint64_t new_len;  /* mremap */
	uint64_t new_addr; /* mremap, when has_new_addr */
	bool has_new_addr;
	uint64_t prot;   /* PROT_* bits */
	uint64_t flags;  /* MAP_* / MREMAP_* / MLOCK_* bits */
	int64_t advice;  /* MADV_* */
	int file;        /* index into trace.files + 1; 0 = none */
	uint64_t off;    /* mmap file offset, bytes */
	mm_access access; /* touch */
	uint64_t value;   /* write: the 64-bit value stored; proc, exit: the process number */
	tr_result expect; /* operations: => RESULT, kind NONE when absent */
	GPtrArray *expect_lines; /* observations: the "| " lines (without "| "), NULL when none */
} tr_stmt;

typedef struct trace {
	char *filename;
	uint64_t arena_base, arena_size;
	GArray *files; /* tr_file */
	GArray *stmts; /* tr_stmt */
	tr_profile profile; /* the `profile` line's keys; none set when absent */
	int profile_line;   /* its line, 0 when absent */
} trace;

/* Decimal or 0x hexadecimal with an optional K/M/G suffix, as the format
 * writes numbers; false on bad syntax or overflow. */
bool tr_parse_number(const char *s, uint64_t *out);

/* Parses text; on error returns NULL and sets *error to
 * "FILE:LINE: error: WHAT". */
trace *trace_parse(const char *filename, const char *text, size_t len, GError **error);
trace *trace_load(const char *path, GError **error);
void trace_free(trace *t);

/* Printing: statements as the format writes them; addresses inside the arena
 * arena-relative. trace_print_stmt appends one line without its newline and
 * without an observation's "| " lines; with_expect adds " => RESULT". */
void trace_print_header(GString *out, const trace *t);
void trace_print_stmt(GString *out, const trace *t, const tr_stmt *s, bool with_expect);
void trace_print_result(GString *out, const trace *t, const tr_kind kind, const tr_result *r);
/* The whole trace, with expectations. */
char *trace_to_string(const trace *t);

/* Line-at-a-time parsing, for the exec protocol (a target reads one line,
 * answers it, reads the next). A parser starts with the default arena and
 * no files; directives update its trace. */
typedef struct trace_parser trace_parser;
trace_parser *trace_parser_new(const char *filename);
void trace_parser_free(trace_parser *p);
/* Feeds the next line (without its newline). Returns 1 and fills *out when
 * the line is an operation or observation (out->expect_lines stays NULL;
 * "| " lines are rejected), 0 for a blank line, a comment or a directive
 * (then *directive says which: "mmtrace", "arena", "file", "profile", or NULL), and -1
 * with *error set ("FILE:LINE: error: WHAT") for bad input. A "mmtrace 1"
 * line resets the parser's trace to the defaults. */
int trace_parser_feed(trace_parser *p, const char *line, tr_stmt *out, const char **directive, GError **error);
const trace *trace_parser_trace(const trace_parser *p);

bool tr_result_equal(const tr_result *a, const tr_result *b);
const char *tr_errno_name(int err);  /* "ENOMEM"; NULL if unknown */
int tr_errno_from_name(const char *name); /* 0 if unknown */

/* Parses one result (the tokens after "=>", joined by single spaces) as the
 * format writes it for a statement of `kind`; FALSE and *error ("WHAT",
 * without a location) on bad syntax. Used by the exec target. */
gboolean tr_result_parse(const trace *t, tr_kind kind, const char *text, tr_result *r, GError **error);

/* The format's names of flag bits and values, in the order the printer
 * writes them (trace.c's own tables: the generator's coverage report lists
 * its rows from them). */
typedef struct tr_name_value {
	const char *name;
	uint64_t value;
} tr_name_value;
typedef enum tr_names {
	TR_NAMES_MAP_TYPE,    /* MAP_ type values: shared, private, ... */
	TR_NAMES_MAP_FLAG,    /* MAP_ single-bit flags */
	TR_NAMES_MREMAP_FLAG, /* MREMAP_ flags */
	TR_NAMES_MADVISE,     /* MADV_ advice values */
	TR_NAMES_UFFD_MODE,   /* UFFDIO_REGISTER modes */
} tr_names;
const tr_name_value *tr_name_table(tr_names which, size_t *n);

/* The statement keyword ("mmap", "maps", ...). */
const char *tr_kind_name(tr_kind kind);

/* Maps/renders page states as the format names them ("none", "zero", ...). */
const char *tr_page_state_name(mm_page_state st);

GQuark trace_error_quark(void);
#define TRACE_ERROR trace_error_quark()
typedef enum trace_error_code {
	TRACE_ERROR_PARSE = 1,  /* an invalid trace: "FILE:LINE: error: WHAT" */
	TRACE_ERROR_IO,         /* a trace file could not be read */
	TRACE_ERROR_TARGET,     /* a target failed (died, timed out, spoke nonsense) */
} trace_error_code;

#endif

/* mmref-kernel's line reader: splits the exec protocol's input into lines
 * from a caller-owned buffer (the executor never allocates for its input),
 * refuses an overlong line or one holding a NUL byte without losing its
 * place, and numbers every line it returns -- refused ones too -- so that
 * "line N" in an answer is line N of the input. Free of system calls: the
 * bytes come from a read function, which lets fuzz/kernel_input.c run it on
 * fuzzer input. */
#ifndef MMREF_KERNEL_LINEREADER_H
#define MMREF_KERNEL_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to n bytes into buf: the count, 0 at the end of input, -1 on an
 * error (errno EINTR: tried again). */
typedef ssize_t (*lr_read_fn)(void *ctx, char *buf, size_t n);

typedef struct linereader {
	char *buf;       /* input: [lo, hi) unread */
	size_t cap, lo, hi;
	bool eof;
	char *line;      /* the current line, NUL-terminated, max_line + 1 bytes */
	size_t max_line; /* longest line accepted, without its newline */
	size_t len;      /* the current line's length (LR_LINE, LR_NUL) */
	uint64_t lineno; /* the current line's number: 1 for the first */
	lr_read_fn read;
	void *ctx;
	void (*before_read)(void); /* called before every read (may block): flush answers */
} linereader;

typedef enum {
	LR_EOF = 0,     /* no more input */
	LR_LINE = 1,    /* r->line holds the next line, without its newline */
	LR_TOOLONG = 2, /* the line was longer than max_line: consumed, r->line empty */
	LR_NUL = 3,     /* the line holds a NUL byte: r->line has its r->len bytes */
} lr_status;

/* buf of cap bytes, line of max_line + 1 bytes; cap must exceed max_line. */
void lr_init(linereader *r, char *buf, size_t cap, char *line, size_t max_line, lr_read_fn read, void *ctx,
             void (*before_read)(void));
/* The next line; a last line without a newline counts too. */
lr_status lr_next(linereader *r);
/* Before the first lr_next: reads everything `read` gives (up to the buffer's
 * size) as input that comes before the reader's own source. */
void lr_preload(linereader *r, lr_read_fn read, void *ctx);
/* The input read but not yet returned as a line. */
const char *lr_unread(const linereader *r, size_t *n);

#endif

/* linereader.h. */
#include "linereader.h"

#include <errno.h>
#include <string.h>

void lr_init(linereader *r, char *buf, size_t cap, char *line, size_t max_line, lr_read_fn read, void *ctx,
             void (*before_read)(void))
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = cap;
	r->line = line;
	r->max_line = max_line;
	r->read = read;
	r->ctx = ctx;
	r->before_read = before_read;
	r->line[0] = '\0';
}

static ssize_t read_some(lr_read_fn read, void *ctx, char *buf, size_t n)
{
	for (;;) {
		ssize_t got = read(ctx, buf, n);
		if (got < 0 && errno == EINTR)
			continue;
		return got;
	}
}

/* More input at hi (the unread part moved to the front first). false at the
 * end of input; true without reading when the buffer is full. */
static bool fill(linereader *r)
{
	if (r->eof)
		return false;
	if (r->lo > 0) {
		memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
		r->hi -= r->lo;
		r->lo = 0;
	}
	if (r->hi == r->cap)
		return true;
	if (r->before_read)
		r->before_read();
	ssize_t n = read_some(r->read, r->ctx, r->buf + r->hi, r->cap - r->hi);
	if (n <= 0) {
		r->eof = true;
		return false;
	}
	r->hi += (size_t)n;
	return true;
}

void lr_preload(linereader *r, lr_read_fn read, void *ctx)
{
	while (r->hi < r->cap) {
		ssize_t n = read_some(read, ctx, r->buf + r->hi, r->cap - r->hi);
		if (n <= 0)
			break;
		r->hi += (size_t)n;
	}
}

const char *lr_unread(const linereader *r, size_t *n)
{
	*n = r->hi - r->lo;
	return r->buf + r->lo;
}

lr_status lr_next(linereader *r)
{
	r->line[0] = '\0';
	r->len = 0;
	for (;;) {
		size_t avail = r->hi - r->lo;
		char *nl = memchr(r->buf + r->lo, '\n', avail);
		size_t len = nl ? (size_t)(nl - (r->buf + r->lo)) : avail;
		if (len > r->max_line) {
			/* Overlong: swallow it up to and including its newline. */
			r->lineno++;
			while (!nl) {
				r->lo = r->hi;
				if (!fill(r))
					return LR_TOOLONG;
				nl = memchr(r->buf + r->lo, '\n', r->hi - r->lo);
			}
			r->lo = (size_t)(nl - r->buf) + 1;
			return LR_TOOLONG;
		}
		if (nl || (r->eof && avail > 0)) {
			r->lineno++;
			memcpy(r->line, r->buf + r->lo, len);
			r->line[len] = '\0';
			r->len = len;
			r->lo += len + (nl ? 1 : 0);
			return memchr(r->line, '\0', len) ? LR_NUL : LR_LINE;
		}
		if (!fill(r)) {
			if (r->hi > r->lo)
				continue; /* the last line, without a newline */
			return LR_EOF;
		}
	}
}

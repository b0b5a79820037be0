/* The fuzz decoder: fuzzer bytes -> a trace. One decoder, shared by every
 * fuzz target, `mmref decode` and the tests, so that every crash is a
 * readable, replayable trace (docs/fuzzing.md describes the byte layout).
 *
 * Any byte string decodes to a valid trace (it re-parses from its printed
 * text) in the default arena: every address and range lies inside it.
 * Decoding is deterministic and reads the input front to back in fixed
 * 8-byte records, one statement each, so a mutation of one byte changes one
 * statement and inserting or deleting a record inserts or deletes one.
 * A short input simply gives a short trace. */
#ifndef MMREF_DECODE_H
#define MMREF_DECODE_H

#include <glib.h>

#include "trace.h"

/* Bytes the header takes (files), and each statement record. */
#define DECODE_HEADER_SIZE 4
#define DECODE_RECORD_SIZE 8
/* At most this many statements are decoded; the rest of the input is
 * ignored (a bound on the time one input takes). */
#define DECODE_MAX_STMTS 256
/* Addresses chosen "in a window" are a page index in the first (or the
 * last) DECODE_WINDOW_PAGES pages of the arena. */
#define DECODE_WINDOW_PAGES 64

typedef struct decode_options {
	guint max_stmts;       /* 0: DECODE_MAX_STMTS */
	gboolean observations; /* emit `state` observations (default TRUE via decode_trace) */
} decode_options;

/* The trace the bytes encode, named "fuzz-input" in messages. Never NULL. */
trace *decode_trace(const guint8 *data, gsize size);
trace *decode_trace_opts(const guint8 *data, gsize size, const decode_options *opt);

/* A cryptofuzz-style data source: bounded reads from the input that return
 * zeros once it has run out and remember that they did, so a decoder can
 * stop cleanly at the first read past the end. */
typedef struct decode_source {
	const guint8 *p;
	gsize left;
	gboolean exhausted; /* a read asked for more than was left */
} decode_source;

void decode_source_init(decode_source *ds, const guint8 *data, gsize size);
guint8 decode_u8(decode_source *ds);
guint16 decode_u16(decode_source *ds);
guint32 decode_u32(decode_source *ds);
guint64 decode_u64(decode_source *ds);
/* A value in [0, n) (n > 0); 0 when exhausted. */
guint64 decode_below(decode_source *ds, guint64 n);
/* n bytes (a pointer into the input), or NULL (and exhausted) if fewer are left. */
const guint8 *decode_bytes(decode_source *ds, gsize n);

#endif

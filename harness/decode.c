/* The fuzz decoder (decode.h). The byte layout, in docs/fuzzing.md:
 *
 *   header  4 bytes   h0 % 3 files; h1, h2 their sizes; h3 values: bit 0 on,
 *                     bits 1, 2 file 1, 2 has contents (pattern=1, 2); bit 3
 *                     processes (fork, proc, exit: a touch record with r5 >= 232);
 *                     bit 4 the userfaultfd (uffd register/unregister/copy/
 *                     zeropage/wp/continue/wake: a munmap/mprotect/mlock/
 *                     munlock/mseal record with r5 >= 192; dec_uffd)
 *   record  8 bytes   r0 the operation (r0 % 32; "raw" when r0 >= 0xe0), r1 r2
 *                     the address, r3 a length, r4..r7 the operation's own
 *
 * Every field is bounded by a modulus or a table; every address is an
 * arena-relative page offset clamped into the arena. Addresses are chosen
 * mostly around the ranges the trace has mapped so far (the decoder keeps
 * a small ring of them, as it cannot know where a non-fixed mmap lands it
 * guesses top-down from the arena end, where the in-process targets put
 * it), otherwise by a page index in a 64-page window at either end of the
 * arena. Lengths are a few pages; flags, protections and advice come from
 * the real sets, with occasional raw numbers for the errno paths.
 * MADV_HWPOISON, MADV_SOFT_OFFLINE and MADV_COLLAPSE are never emitted
 * (not modelled). */
#include "decode.h"

#include <string.h>

#define PAGE MM_PAGE_SIZE
#define MAX_REGIONS 16

/* ---- The data source ------------------------------------------------------- */

void decode_source_init(decode_source *ds, const guint8 *data, gsize size)
{
	ds->p = data;
	ds->left = data ? size : 0;
	ds->exhausted = FALSE;
}

const guint8 *decode_bytes(decode_source *ds, gsize n)
{
	if (ds->left < n) {
		ds->exhausted = TRUE;
		ds->left = 0;
		return NULL;
	}
	const guint8 *p = ds->p;
	ds->p += n;
	ds->left -= n;
	return p;
}

static guint64 read_le(decode_source *ds, gsize n)
{
	const guint8 *p = decode_bytes(ds, n);
	guint64 v = 0;
	for (gsize i = 0; p && i < n; i++)
		v |= (guint64)p[i] << (8 * i);
	return v;
}

guint8 decode_u8(decode_source *ds) { return (guint8)read_le(ds, 1); }
guint16 decode_u16(decode_source *ds) { return (guint16)read_le(ds, 2); }
guint32 decode_u32(decode_source *ds) { return (guint32)read_le(ds, 4); }
guint64 decode_u64(decode_source *ds) { return read_le(ds, 8); }

guint64 decode_below(decode_source *ds, guint64 n)
{
	guint64 v = n <= 0x100 ? decode_u8(ds) : n <= 0x10000 ? decode_u16(ds) : decode_u64(ds);
	return n ? v % n : 0;
}

/* ---- Decoder state ------------------------------------------------------------ */

typedef struct region {
	uint64_t start, end; /* arena-relative, page-aligned, end > start */
} region;

typedef struct decoder {
	trace *t;
	uint64_t size; /* arena size */
	region regions[MAX_REGIONS];
	guint nregions, next_region; /* a ring: the most recent MAX_REGIONS */
	uint64_t file_size[2];
	int nfiles;
	gboolean raw; /* this record may use raw numeric values */
	gboolean values;  /* h3 & 1: touches become write/read (issue 18) */
	gboolean fork;    /* h3 & 8: some touches become fork, proc N, exit N */
	gboolean uffd;    /* h3 & 16: some range records become userfaultfd statements */
	/* a `uffd wp` with the WP bit was made: no guard_install after it (Linux
	 * loops over a shmem uffd-wp marker; harness/gen.c, gen.wp_on) */
	gboolean wp_on;
	uint32_t next_proc; /* fork: the numbers handed out so far + 1 (a guess: a fork may fail) */
	uint64_t nwrites; /* values: the writes so far (each value distinct) */
} decoder;

static uint64_t page_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

static void remember(decoder *d, uint64_t start, uint64_t len)
{
	if (!len || start >= d->size)
		return;
	region rg = {start & ~(PAGE - 1), MIN(d->size, page_up(start + len))};
	if (rg.end <= rg.start)
		return;
	d->regions[d->next_region] = rg;
	d->next_region = (d->next_region + 1) % MAX_REGIONS;
	if (d->nregions < MAX_REGIONS)
		d->nregions++;
}

/* An arena-relative address < size from two bytes:
 *   a & 7: 0 a region's start +-4 pages, 1 its end +-4 pages, 2 inside it,
 *          3..5 page (b % 64) of the low window, 6 of the high window,
 *          7 the low window page plus an odd sub-page offset.
 *   a >> 3: which region (modulo how many there are). */
static uint64_t pick_addr(decoder *d, guint8 a, guint8 b)
{
	unsigned mode = a & 7;
	uint64_t off;
	if (mode <= 2 && d->nregions) {
		const region *rg = &d->regions[(a >> 3) % d->nregions];
		int64_t delta = ((int64_t)(b % 9) - 4) * (int64_t)PAGE;
		uint64_t pages = (rg->end - rg->start) / PAGE;
		if (mode == 2)
			off = rg->start + (b % pages) * PAGE;
		else {
			uint64_t base = mode == 0 ? rg->start : rg->end;
			off = delta < 0 && (uint64_t)-delta > base ? 0 : base + (uint64_t)delta;
		}
	} else if (mode == 6) {
		off = d->size - (1 + b % DECODE_WINDOW_PAGES) * PAGE;
	} else if (mode == 7) {
		off = (b % DECODE_WINDOW_PAGES) * PAGE + 1 + ((uint64_t)(a >> 3) * 131) % (PAGE - 1);
	} else {
		off = (b % DECODE_WINDOW_PAGES) * PAGE;
	}
	if (off >= d->size)
		off = d->size - PAGE;
	return off;
}

/* A length for a range at off, off + len <= size:
 *   < 192 1..8 pages, < 208 zero, < 224 not a page multiple,
 *   < 240 16..76 pages, < 250 2 MiB, < 255 9..13 pages, 255 4 MiB.
 * (Big lengths are rare: every page of every VMA is compared after every
 * statement, so they cost throughput.) */
static uint64_t pick_len(decoder *d, guint8 v, uint64_t off)
{
	uint64_t len;
	if (v < 192)
		len = (1 + v % 8) * PAGE;
	else if (v < 208)
		len = 0;
	else if (v < 224)
		len = (v % 4) * PAGE + 1 + ((uint64_t)v * 37) % (PAGE - 1);
	else if (v < 240)
		len = (16 + (v % 16) * 4) * PAGE;
	else if (v < 250)
		len = MM_PMD_SIZE;
	else if (v < 255)
		len = (uint64_t)(v - 241) * PAGE;
	else
		len = 2 * MM_PMD_SIZE;
	return MIN(len, d->size - off);
}

/* PROT: the three rwx bits; raw records may add an odd bit. */
static uint64_t pick_prot(decoder *d, guint8 v)
{
	static const uint64_t odd[] = {MM_PROT_SEM, MM_PROT_GROWSDOWN, MM_PROT_GROWSUP, 0x10};
	uint64_t prot = v & 7;
	if (d->raw && (v & 0x80))
		prot |= odd[(v >> 3) % G_N_ELEMENTS(odd)];
	return prot;
}

static tr_stmt *new_stmt(decoder *d, tr_kind kind)
{
	tr_stmt s;
	memset(&s, 0, sizeof(s));
	s.kind = kind;
	g_array_append_val(d->t->stmts, s);
	return &g_array_index(d->t->stmts, tr_stmt, d->t->stmts->len - 1);
}

/* mmap: r5 the type and placement, r6 extra flags and the file, r7 the
 * file offset. */
static void dec_mmap(decoder *d, const guint8 *r)
{
	tr_stmt *s = new_stmt(d, TR_MMAP);
	unsigned place = (r[5] >> 3) & 3; /* 0 hint, 1 fixed, 2 fixed_noreplace, 3 no hint */
	uint64_t off = pick_addr(d, r[1], r[2]);
	s->len = pick_len(d, r[3], off);
	s->prot = pick_prot(d, r[4]);

	static const uint64_t types[8] = {MM_MAP_PRIVATE, MM_MAP_PRIVATE, MM_MAP_PRIVATE, MM_MAP_PRIVATE,
	                                  MM_MAP_SHARED,  MM_MAP_SHARED,  MM_MAP_SHARED_VALIDATE, MM_MAP_DROPPABLE};
	s->flags = types[r[5] & 7];
	if (d->raw && (r[5] & 7) == 7 && (r[5] & 0x80))
		s->flags = r[5] & 0x40 ? 0 : 0x0f; /* invalid map types */
	if (place == 1)
		s->flags |= MM_MAP_FIXED;
	else if (place == 2)
		s->flags |= MM_MAP_FIXED_NOREPLACE;

	/* r6 & 3: file 1 or 2 (when declared), else anonymous. */
	int file = r[6] & 3;
	if (file >= 1 && file <= d->nfiles) {
		s->file = file;
		uint64_t pages = d->file_size[file - 1] / PAGE + 2;
		s->off = (r[7] % pages) * PAGE;
		if (d->raw && (r[7] & 0x80))
			s->off += 1 + r[7]; /* not page-aligned: EINVAL */
		if (r[5] & 0x20)
			s->flags |= MM_MAP_ANONYMOUS; /* file + anonymous: the file is ignored */
	} else {
		s->flags |= MM_MAP_ANONYMOUS;
	}

	/* r6 >> 4: 0..9 nothing more, then one extra flag; raw records one rarer bit. */
	static const uint64_t extra[6] = {MM_MAP_POPULATE, MM_MAP_LOCKED,  MM_MAP_NORESERVE,
	                                  MM_MAP_GROWSDOWN, MM_MAP_STACK,  MM_MAP_POPULATE | MM_MAP_LOCKED};
	static const uint64_t rare[] = {MM_MAP_HUGETLB,    MM_MAP_SYNC,       MM_MAP_NONBLOCK, MM_MAP_UNINITIALIZED,
	                                MM_MAP_DENYWRITE,  MM_MAP_EXECUTABLE, MM_MAP_32BIT,    0x200000,
	                                0x800000};
	unsigned e = r[6] >> 4;
	if (e >= 10)
		s->flags |= extra[e - 10];
	if (d->raw && (r[6] & 4))
		s->flags |= rare[(r[6] >> 3) % G_N_ELEMENTS(rare)];

	if (place == 3) {
		s->addr = 0;
		remember(d, d->size - MIN(d->size, page_up(s->len)), s->len);
	} else {
		s->addr = d->t->arena_base + off;
		remember(d, off, s->len);
	}
}

/* mremap: r4 the new length, r5 the flags, r6 r7 the new address. */
static void dec_mremap(decoder *d, const guint8 *r)
{
	tr_stmt *s = new_stmt(d, TR_MREMAP);
	uint64_t off = pick_addr(d, r[1], r[2]);
	s->len = pick_len(d, r[3], off);
	unsigned f = r[5] % 16;
	s->flags = f < 5    ? 0
	           : f < 10 ? MM_MREMAP_MAYMOVE
	           : f < 13 ? MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED
	           : f < 14 ? MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED | MM_MREMAP_DONTUNMAP
	                    : MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP;
	if (d->raw && (r[5] & 0x80))
		s->flags = (r[5] >> 4) & 0xf; /* raw: any combination of the bits, and an unknown one */
	uint64_t to = off;
	s->has_new_addr = (s->flags & MM_MREMAP_FIXED) || (d->raw && (r[5] & 0x40));
	if (s->has_new_addr)
		to = pick_addr(d, r[6], r[7]);
	s->new_len = pick_len(d, r[4], to);
	s->addr = d->t->arena_base + off;
	if (s->has_new_addr)
		s->new_addr = d->t->arena_base + to;
	remember(d, to, s->new_len);
}

/* madvise: r4 the advice (raw records: a raw number). */
static void dec_madvise(decoder *d, const guint8 *r)
{
	static const int64_t advice[] = {
		MM_MADV_DONTNEED,       MM_MADV_DONTNEED,      MM_MADV_FREE,          MM_MADV_GUARD_INSTALL,
		MM_MADV_GUARD_INSTALL,  MM_MADV_GUARD_REMOVE,  MM_MADV_POPULATE_READ, MM_MADV_POPULATE_WRITE,
		MM_MADV_WILLNEED,       MM_MADV_NORMAL,        MM_MADV_RANDOM,        MM_MADV_SEQUENTIAL,
		MM_MADV_DONTFORK,       MM_MADV_DOFORK,        MM_MADV_WIPEONFORK,    MM_MADV_KEEPONFORK,
		MM_MADV_HUGEPAGE,       MM_MADV_NOHUGEPAGE,    MM_MADV_MERGEABLE,     MM_MADV_UNMERGEABLE,
		MM_MADV_COLD,           MM_MADV_PAGEOUT,       MM_MADV_DONTDUMP,      MM_MADV_DODUMP,
		MM_MADV_REMOVE,         MM_MADV_DONTNEED_LOCKED,
	};
	tr_stmt *s = new_stmt(d, TR_MADVISE);
	uint64_t off = pick_addr(d, r[1], r[2]);
	s->addr = d->t->arena_base + off;
	s->len = pick_len(d, r[3], off);
	s->advice = advice[r[4] % G_N_ELEMENTS(advice)];
	if (d->wp_on && s->advice == MM_MADV_GUARD_INSTALL)
		s->advice = MM_MADV_GUARD_REMOVE;
	if (d->raw && (r[5] & 1)) {
		int64_t v = r[4];
		/* never the unmodelled ones: collapse, hwpoison, soft_offline */
		if (v == MM_MADV_COLLAPSE || v == MM_MADV_HWPOISON || v == MM_MADV_SOFT_OFFLINE)
			v += 50;
		if (d->wp_on && v == MM_MADV_GUARD_INSTALL)
			v = MM_MADV_GUARD_REMOVE;
		s->advice = v;
	}
}

/* A userfaultfd statement (h3 bit 4, r5 >= 192): r6 % 5 the operation
 * (register, unregister, copy, zeropage, wp) -- unless r6 bits 2-4 are all
 * set, then continue (bit 5 clear; r4 bits 5-6 its DONTWAKE and WP, raw mode bits 1 in
 * 8) or wake -- r4 the registration modes or the wp mode (raw bits 1 in 8),
 * r7 varies a copy's value. */
static void dec_uffd(decoder *d, const guint8 *r)
{
	if ((r[6] & 0x1c) == 0x1c) { /* one in 8: continue or wake */
		tr_stmt *c = new_stmt(d, (r[6] & 0x20) ? TR_UFFD_WAKE : TR_UFFD_CONTINUE);
		uint64_t off = pick_addr(d, r[1], r[2]);
		c->addr = d->t->arena_base + off;
		c->len = pick_len(d, r[3], off);
		if (c->kind == TR_UFFD_CONTINUE) /* DONTWAKE and WP, raw bits 1 in 8 */
			c->flags = d->raw && (r[4] & 0x80) ? (uint64_t)(r[4] & 0xf) : (r[4] >> 5) & 3u;
		/* a continue in WP mode leaves uffd-wp bits as `uffd wp … on` does
		 * (the zap of such a page leaves a marker): see wp_on */
		if (c->kind == TR_UFFD_CONTINUE && (c->flags & MM_UFFD_CONTINUE_MODE_WP))
			d->wp_on = TRUE;
		return;
	}
	static const tr_kind kinds[5] = {TR_UFFD_REGISTER, TR_UFFD_UNREGISTER, TR_UFFD_COPY, TR_UFFD_ZEROPAGE,
	                                 TR_UFFD_WP};
	tr_stmt *s = new_stmt(d, kinds[r[6] % 5]);
	uint64_t off = pick_addr(d, r[1], r[2]);
	s->addr = d->t->arena_base + off;
	s->len = pick_len(d, r[3], off);
	if (s->kind == TR_UFFD_REGISTER)
		s->flags = d->raw && (r[4] & 0x80) ? (uint64_t)(r[4] & 0xf) : 1u + r[4] % 7u;
	if (s->kind == TR_UFFD_WP) /* on 3 times in 4, else off; raw: any of the low 3 bits */
		s->flags = d->raw && (r[4] & 0x80) ? (uint64_t)(r[4] & 7) : (r[4] % 4 ? MM_UFFDIO_WP_MODE_WP : 0);
	if (s->kind == TR_UFFD_WP && (s->flags & MM_UFFDIO_WP_MODE_WP))
		d->wp_on = TRUE;
	if (s->kind == TR_UFFD_COPY) {
		if (s->len > (2ull << 20)) /* mmref-kernel copies at most 2 MiB at once */
			s->len = 2ull << 20;
		s->value = 0xcafe000000000000ull | ++d->nwrites << 16 | (uint64_t)r[7];
	}
}

/* mprotect, munmap, mlock, munlock, mseal: r4 the protection or flags. */
static void dec_range(decoder *d, const guint8 *r, tr_kind kind)
{
	if (d->uffd && r[5] >= 192) {
		dec_uffd(d, r);
		return;
	}
	tr_stmt *s = new_stmt(d, kind);
	uint64_t off = pick_addr(d, r[1], r[2]);
	s->addr = d->t->arena_base + off;
	s->len = pick_len(d, r[3], off);
	switch (kind) {
	case TR_MPROTECT:
		s->prot = pick_prot(d, r[4]);
		break;
	case TR_MLOCK:
		s->flags = r[4] % 4 == 3 ? MM_MLOCK_ONFAULT : 0;
		if (d->raw && (r[4] & 0x80))
			s->flags = (r[4] >> 4) & 7;
		break;
	case TR_MSEAL:
		if (d->raw && (r[4] & 0x80))
			s->flags = 1;
		break;
	default:
		break;
	}
}

/* touch: mostly inside a region; r3 the access, r4 the byte in the page. */
static void dec_touch(decoder *d, const guint8 *r)
{
	if (d->fork && r[5] >= 232) {
		/* r6 % 4: fork (twice as often), proc or exit of a number up to
		 * the last one handed out (r7) */
		static const tr_kind kinds[4] = {TR_FORK, TR_FORK, TR_PROC, TR_EXIT};
		tr_stmt *p = new_stmt(d, kinds[r[6] % 4]);
		if (p->kind == TR_FORK)
			d->next_proc++;
		else
			p->value = 1 + r[7] % d->next_proc;
		return;
	}
	tr_stmt *s = new_stmt(d, TR_TOUCH);
	uint64_t off;
	if (d->nregions && (r[1] & 7) < 5) {
		const region *rg = &d->regions[(r[1] >> 3) % d->nregions];
		off = rg->start + (r[2] % ((rg->end - rg->start) / PAGE)) * PAGE;
	} else {
		off = pick_addr(d, r[1], r[2]) & ~(PAGE - 1);
	}
	off += (uint64_t)r[4] * 16;
	if (off >= d->size)
		off = d->size - 1;
	s->addr = d->t->arena_base + off;
	s->access = r[3] < 128 ? MM_ACCESS_READ : r[3] < 220 ? MM_ACCESS_WRITE : MM_ACCESS_EXEC;
	/* values: r5 < 192 makes it a store (r3 >= 128) or a load of the word
	 * at off, the value distinct per write (r6, r7 vary it); no `touch x`
	 * (it would execute the stored data on the kernel). */
	if (d->values && r[5] < 192) {
		s->kind = r[3] < 128 ? TR_READ : TR_WRITE;
		s->addr &= ~(uint64_t)7;
		s->value = 0xfa11000000000000ull | ++d->nwrites << 16 | (uint64_t)r[6] << 8 | r[7];
	} else if (d->values && s->access == MM_ACCESS_EXEC) {
		s->access = MM_ACCESS_READ;
	}
}

/* r0 % 32 picks the operation from this table (weights by repetition). */
typedef enum op {
	OP_MMAP,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_MREMAP,
	OP_MADVISE,
	OP_MLOCK,
	OP_MUNLOCK,
	OP_MSEAL,
	OP_TOUCH,
	OP_STATE,
} op;
static const guint8 op_table[32] = {
	OP_MMAP,     OP_MMAP,     OP_MMAP,     OP_MMAP,     OP_MMAP,     OP_MMAP,    OP_MMAP,    OP_MMAP,
	OP_MUNMAP,   OP_MUNMAP,   OP_MUNMAP,   OP_MPROTECT, OP_MPROTECT, OP_MPROTECT, OP_MPROTECT, OP_MREMAP,
	OP_MREMAP,   OP_MREMAP,   OP_MADVISE,  OP_MADVISE,  OP_MADVISE,  OP_MADVISE, OP_MLOCK,   OP_MLOCK,
	OP_MUNLOCK,  OP_MSEAL,    OP_TOUCH,    OP_TOUCH,    OP_TOUCH,    OP_TOUCH,   OP_TOUCH,   OP_STATE,
};

static void dec_record(decoder *d, const guint8 *r, const decode_options *opt)
{
	d->raw = r[0] >= 0xe0; /* 224..255: every operation, 1 in 8 */
	switch ((op)op_table[r[0] % 32]) {
	case OP_MMAP:
		dec_mmap(d, r);
		break;
	case OP_MUNMAP:
		dec_range(d, r, TR_MUNMAP);
		break;
	case OP_MPROTECT:
		dec_range(d, r, TR_MPROTECT);
		break;
	case OP_MREMAP:
		dec_mremap(d, r);
		break;
	case OP_MADVISE:
		dec_madvise(d, r);
		break;
	case OP_MLOCK:
		dec_range(d, r, TR_MLOCK);
		break;
	case OP_MUNLOCK:
		dec_range(d, r, TR_MUNLOCK);
		break;
	case OP_MSEAL:
		dec_range(d, r, TR_MSEAL);
		break;
	case OP_TOUCH:
		dec_touch(d, r);
		break;
	case OP_STATE:
		if (opt->observations)
			new_stmt(d, TR_STATE);
		else
			dec_touch(d, r);
		break;
	}
}

trace *decode_trace_opts(const guint8 *data, gsize size, const decode_options *opt)
{
	decode_options defaults = {.max_stmts = DECODE_MAX_STMTS, .observations = TRUE};
	if (!opt)
		opt = &defaults;
	guint max = opt->max_stmts ? opt->max_stmts : DECODE_MAX_STMTS;

	trace *t = g_new0(trace, 1);
	t->filename = g_strdup("fuzz-input");
	t->arena_base = TR_DEFAULT_ARENA_BASE;
	t->arena_size = TR_DEFAULT_ARENA_SIZE;
	t->files = g_array_new(FALSE, TRUE, sizeof(tr_file));
	t->stmts = g_array_new(FALSE, TRUE, sizeof(tr_stmt));

	decoder d = {.t = t, .size = t->arena_size, .next_proc = 1};
	decode_source ds;
	decode_source_init(&ds, data, size);
	const guint8 *h = decode_bytes(&ds, DECODE_HEADER_SIZE);
	if (h) {
		/* h1, h2: 1..16 pages, sometimes ending half-way into the last
		 * page (SIGBUS beyond EOF). */
		d.nfiles = h[0] % 3;
		for (int i = 0; i < d.nfiles; i++) {
			guint8 v = h[1 + i];
			tr_file f = {.name = g_strdup_printf("f%d", i + 1), .size = (1 + v % 16) * PAGE};
			if (v & 0x80)
				f.size -= PAGE / 2;
			d.file_size[i] = f.size;
			if ((h[3] & 1) && (h[3] >> (1 + i) & 1)) {
				f.init = TR_FILE_PATTERN;
				f.init_value = (uint64_t)i + 1;
			}
			g_array_append_val(t->files, f);
		}
		d.values = h[3] & 1;
		d.fork = (h[3] & 8) != 0;
		d.uffd = (h[3] & 16) != 0;
	}
	for (const guint8 *r; t->stmts->len < max && (r = decode_bytes(&ds, DECODE_RECORD_SIZE));)
		dec_record(&d, r, opt);

	/* Line numbers as trace_to_string prints the trace. */
	int line = 2 + (int)t->files->len;
	for (guint i = 0; i < t->stmts->len; i++)
		g_array_index(t->stmts, tr_stmt, i).line = line++;
	return t;
}

trace *decode_trace(const guint8 *data, gsize size) { return decode_trace_opts(data, size, NULL); }

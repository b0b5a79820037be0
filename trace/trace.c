/* The mmtrace format, version 1: parser and printer.
 *
 * shared/spec/trace-format.md is the contract; docs/trace-format.md records
 * our decisions where it is silent and the extensions. Every bad input is
 * reported as "FILE:LINE: error: WHAT" and nothing of the trace is kept. */
#include "trace.h"
#include "tr_limits.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK(mmref-trace-error-quark, trace_error)

/* ---- Name tables ----------------------------------------------------------- */

typedef tr_name_value name_value;

/* MAP_ type values (the MAP_TYPE field), printed as a name when whole. */
static const name_value map_types[] = {
	{"shared", MM_MAP_SHARED},
	{"private", MM_MAP_PRIVATE},
	{"shared_validate", MM_MAP_SHARED_VALIDATE},
	{"droppable", MM_MAP_DROPPABLE},
};

/* MAP_ single-bit flags, in printing order. */
static const name_value map_bits[] = {
	{"fixed", MM_MAP_FIXED},
	{"anonymous", MM_MAP_ANONYMOUS},
	{"32bit", MM_MAP_32BIT},
	{"growsdown", MM_MAP_GROWSDOWN},
	{"denywrite", MM_MAP_DENYWRITE},
	{"executable", MM_MAP_EXECUTABLE},
	{"locked", MM_MAP_LOCKED},
	{"noreserve", MM_MAP_NORESERVE},
	{"populate", MM_MAP_POPULATE},
	{"nonblock", MM_MAP_NONBLOCK},
	{"stack", MM_MAP_STACK},
	{"hugetlb", MM_MAP_HUGETLB},
	{"sync", MM_MAP_SYNC},
	{"fixed_noreplace", MM_MAP_FIXED_NOREPLACE},
	{"uninitialized", MM_MAP_UNINITIALIZED},
};

static const name_value mremap_bits[] = {
	{"maymove", MM_MREMAP_MAYMOVE},
	{"fixed", MM_MREMAP_FIXED},
	{"dontunmap", MM_MREMAP_DONTUNMAP},
};

static const name_value uffd_modes[] = {
	{"missing", MM_UFFD_MODE_MISSING},
	{"wp", MM_UFFD_MODE_WP},
	{"minor", MM_UFFD_MODE_MINOR},
};

/* UFFDIO_CONTINUE modes */
static const name_value uffd_continue_modes[] = {
	{"dontwake", MM_UFFD_CONTINUE_MODE_DONTWAKE},
	{"wp", MM_UFFD_CONTINUE_MODE_WP},
};

static const name_value madv_names[] = {
	{"normal", MM_MADV_NORMAL},
	{"random", MM_MADV_RANDOM},
	{"sequential", MM_MADV_SEQUENTIAL},
	{"willneed", MM_MADV_WILLNEED},
	{"dontneed", MM_MADV_DONTNEED},
	{"free", MM_MADV_FREE},
	{"remove", MM_MADV_REMOVE},
	{"dontfork", MM_MADV_DONTFORK},
	{"dofork", MM_MADV_DOFORK},
	{"mergeable", MM_MADV_MERGEABLE},
	{"unmergeable", MM_MADV_UNMERGEABLE},
	{"hugepage", MM_MADV_HUGEPAGE},
	{"nohugepage", MM_MADV_NOHUGEPAGE},
	{"dontdump", MM_MADV_DONTDUMP},
	{"dodump", MM_MADV_DODUMP},
	{"wipeonfork", MM_MADV_WIPEONFORK},
	{"keeponfork", MM_MADV_KEEPONFORK},
	{"cold", MM_MADV_COLD},
	{"pageout", MM_MADV_PAGEOUT},
	{"populate_read", MM_MADV_POPULATE_READ},
	{"populate_write", MM_MADV_POPULATE_WRITE},
	{"dontneed_locked", MM_MADV_DONTNEED_LOCKED},
	{"collapse", MM_MADV_COLLAPSE},
	{"hwpoison", MM_MADV_HWPOISON},
	{"soft_offline", MM_MADV_SOFT_OFFLINE},
	{"guard_install", MM_MADV_GUARD_INSTALL},
	{"guard_remove", MM_MADV_GUARD_REMOVE},
};

const tr_name_value *tr_name_table(tr_names which, size_t *n)
{
	switch (which) {
	case TR_NAMES_MAP_TYPE:
		*n = G_N_ELEMENTS(map_types);
		return map_types;
	case TR_NAMES_MAP_FLAG:
		*n = G_N_ELEMENTS(map_bits);
		return map_bits;
	case TR_NAMES_MREMAP_FLAG:
		*n = G_N_ELEMENTS(mremap_bits);
		return mremap_bits;
	case TR_NAMES_MADVISE:
		*n = G_N_ELEMENTS(madv_names);
		return madv_names;
	case TR_NAMES_UFFD_MODE:
		*n = G_N_ELEMENTS(uffd_modes);
		return uffd_modes;
	}
	*n = 0;
	return NULL;
}

typedef struct errno_name {
	const char *name;
	int err;
} errno_name;

/* The first name of a value is the one printed; aliases follow. */
static const errno_name errno_names[] = {
	{"EPERM", EPERM},
	{"ENOENT", ENOENT},
	{"ESRCH", ESRCH},
	{"EINTR", EINTR},
	{"EIO", EIO},
	{"ENXIO", ENXIO},
	{"E2BIG", E2BIG},
	{"ENOEXEC", ENOEXEC},
	{"EBADF", EBADF},
	{"ECHILD", ECHILD},
	{"EAGAIN", EAGAIN},
	{"ENOMEM", ENOMEM},
	{"EACCES", EACCES},
	{"EFAULT", EFAULT},
	{"EBUSY", EBUSY},
	{"EEXIST", EEXIST},
	{"EXDEV", EXDEV},
	{"ENODEV", ENODEV},
	{"ENOTDIR", ENOTDIR},
	{"EISDIR", EISDIR},
	{"EINVAL", EINVAL},
	{"ENFILE", ENFILE},
	{"EMFILE", EMFILE},
	{"ENOTTY", ENOTTY},
	{"ETXTBSY", ETXTBSY},
	{"EFBIG", EFBIG},
	{"ENOSPC", ENOSPC},
	{"ESPIPE", ESPIPE},
	{"EROFS", EROFS},
	{"EMLINK", EMLINK},
	{"EPIPE", EPIPE},
	{"EDOM", EDOM},
	{"ERANGE", ERANGE},
	{"EDEADLK", EDEADLK},
	{"ENAMETOOLONG", ENAMETOOLONG},
	{"ENOLCK", ENOLCK},
	{"ENOSYS", ENOSYS},
	{"ENOTEMPTY", ENOTEMPTY},
	{"ELOOP", ELOOP},
	{"ENOMSG", ENOMSG},
	{"EIDRM", EIDRM},
	{"EOVERFLOW", EOVERFLOW},
	{"EILSEQ", EILSEQ},
	{"ENOTSUP", ENOTSUP},
	{"EOPNOTSUPP", EOPNOTSUPP},
	{"ETIMEDOUT", ETIMEDOUT},
	{"EWOULDBLOCK", EWOULDBLOCK},
#ifdef EHWPOISON
	{"EHWPOISON", EHWPOISON},
#endif
#ifdef ENOTBLK
	{"ENOTBLK", ENOTBLK},
#endif
};

const char *tr_errno_name(int err)
{
	/* Linux has ENOTSUP == EOPNOTSUPP; the system calls document the latter. */
	if (err == EOPNOTSUPP)
		return "EOPNOTSUPP";
	for (size_t i = 0; i < G_N_ELEMENTS(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return NULL;
}

int tr_errno_from_name(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(errno_names); i++)
		if (strcmp(errno_names[i].name, name) == 0)
			return errno_names[i].err;
	return 0;
}

static const char *const page_state_names[] = {"none", "zero", "anon", "file", "guard"};

const char *tr_page_state_name(mm_page_state st)
{
	if ((unsigned)st < G_N_ELEMENTS(page_state_names))
		return page_state_names[st];
	return "?";
}

/* ---- Statement table --------------------------------------------------------- */

typedef struct stmt_desc {
	const char *name;
	tr_kind kind;
	int min_args, max_args;
	const char *usage;
} stmt_desc;

static const stmt_desc stmt_descs[] = {
	{"mmap", TR_MMAP, 4, 6, "mmap ADDR LEN PROT FLAGS [file=NAME] [off=OFF]"},
	{"munmap", TR_MUNMAP, 2, 2, "munmap ADDR LEN"},
	{"mprotect", TR_MPROTECT, 3, 3, "mprotect ADDR LEN PROT"},
	{"mremap", TR_MREMAP, 4, 5, "mremap ADDR OLDLEN NEWLEN MFLAGS [NEWADDR]"},
	{"madvise", TR_MADVISE, 3, 3, "madvise ADDR LEN ADVICE"},
	{"mlock", TR_MLOCK, 2, 3, "mlock ADDR LEN [onfault|FLAGS]"},
	{"munlock", TR_MUNLOCK, 2, 2, "munlock ADDR LEN"},
	{"mseal", TR_MSEAL, 2, 3, "mseal ADDR LEN [FLAGS]"},
	{"touch", TR_TOUCH, 2, 2, "touch ADDR r|w|x"},
	{"write", TR_WRITE, 2, 2, "write ADDR VALUE"},
	{"read", TR_READ, 1, 1, "read ADDR"},
	{"fork", TR_FORK, 0, 0, "fork"},
	{"proc", TR_PROC, 1, 1, "proc N"},
	{"exit", TR_EXIT, 1, 1, "exit N"},
	{"uffd register", TR_UFFD_REGISTER, 3, 3, "uffd register ADDR LEN missing[,wp][,minor]"},
	{"uffd unregister", TR_UFFD_UNREGISTER, 2, 2, "uffd unregister ADDR LEN"},
	{"uffd copy", TR_UFFD_COPY, 3, 3, "uffd copy ADDR LEN VALUE"},
	{"uffd zeropage", TR_UFFD_ZEROPAGE, 2, 2, "uffd zeropage ADDR LEN"},
	{"uffd continue", TR_UFFD_CONTINUE, 2, 3, "uffd continue ADDR LEN [dontwake][,wp]"},
	{"uffd wake", TR_UFFD_WAKE, 2, 2, "uffd wake ADDR LEN"},
	{"uffd wp", TR_UFFD_WP, 3, 3, "uffd wp ADDR LEN on|off[,dontwake]"},
	{"maps", TR_MAPS, 0, 0, "maps"},
	{"smaps", TR_SMAPS, 0, 0, "smaps"},
	{"pages", TR_PAGES, 2, 2, "pages ADDR LEN"},
	{"state", TR_STATE, 0, 0, "state"},
};

const char *tr_kind_name(tr_kind kind)
{
	for (size_t i = 0; i < G_N_ELEMENTS(stmt_descs); i++)
		if (stmt_descs[i].kind == kind)
			return stmt_descs[i].name;
	return "?";
}

static bool returns_address(tr_kind kind) { return kind == TR_MMAP || kind == TR_MREMAP; }

/* ---- Parser state ------------------------------------------------------------ */

typedef struct parse_ctx {
	trace *t;
	const char *filename;
	int line;
	bool seen_header; /* "mmtrace 1" */
	bool seen_stmt;   /* an operation or observation */
	bool seen_arena;
} parse_ctx;

static bool G_GNUC_PRINTF(3, 4) fail(const parse_ctx *c, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_PARSE, "%s:%d: error: %s", c->filename, c->line, what);
	g_free(what);
	return false;
}

static uint64_t arena_end(const trace *t) { return t->arena_base + t->arena_size; }

tr_limits tr_limit = {
	.max_arena = TR_LIMIT_MAX_ARENA,
	.max_stmts = TR_LIMIT_MAX_STMTS,
	.max_line = TR_LIMIT_MAX_LINE,
	.max_answer_bytes = TR_LIMIT_MAX_ANSWER_BYTES,
	.max_answer_lines = TR_LIMIT_MAX_ANSWER_LINES,
	.max_snapshot_pages = TR_LIMIT_MAX_SNAPSHOT_PAGES,
	.max_timeout = TR_LIMIT_MAX_TIMEOUT,
};

/* ---- Lexical level ------------------------------------------------------------- */

enum { NUM_OK, NUM_BAD, NUM_OVERFLOW };

static int digit_value(char ch, int base)
{
	int d;
	if (ch >= '0' && ch <= '9')
		d = ch - '0';
	else if (ch >= 'a' && ch <= 'f')
		d = ch - 'a' + 10;
	else if (ch >= 'A' && ch <= 'F')
		d = ch - 'A' + 10;
	else
		return -1;
	return d < base ? d : -1;
}

/* Decimal or 0x hexadecimal, optional K/M/G suffix; unsigned 64-bit. */
static int parse_u64(const char *s, uint64_t *out)
{
	const char *p = s;
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (digit_value(*p, base) < 0)
		return NUM_BAD;
	uint64_t v = 0;
	bool overflow = false;
	for (int d; (d = digit_value(*p, base)) >= 0; p++) {
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			overflow = true;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	unsigned shift = 0;
	if (*p == 'K')
		shift = 10;
	else if (*p == 'M')
		shift = 20;
	else if (*p == 'G')
		shift = 30;
	if (shift)
		p++;
	if (*p != '\0')
		return NUM_BAD;
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return NUM_OVERFLOW;
	*out = v << shift;
	return NUM_OK;
}

bool tr_parse_number(const char *s, uint64_t *out) { return parse_u64(s, out) == NUM_OK; }

static bool number(const parse_ctx *c, const char *what, const char *tok, uint64_t *out, GError **error)
{
	switch (parse_u64(tok, out)) {
	case NUM_OK:
		return true;
	case NUM_OVERFLOW:
		return fail(c, error, "%s '%s' does not fit in 64 bits", what, tok);
	default:
		return fail(c, error, "bad %s '%s'", what, tok);
	}
}

/* An absolute address or +N relative to the arena base. */
static bool address(const parse_ctx *c, const char *tok, uint64_t *out, bool *relative, GError **error)
{
	uint64_t v;
	bool rel = tok[0] == '+';
	if (!number(c, "address", rel ? tok + 1 : tok, &v, error))
		return false;
	if (rel) {
		if (v > UINT64_MAX - c->t->arena_base)
			return fail(c, error, "address '%s' does not fit in 64 bits", tok);
		v += c->t->arena_base;
	}
	*out = v;
	if (relative)
		*relative = rel;
	return true;
}

/* ADDR LEN must lie in the arena: base <= ADDR, ADDR + LEN <= end (no overflow). */
static bool check_range(const parse_ctx *c, const char *addr_tok, uint64_t addr, uint64_t len, GError **error)
{
	const trace *t = c->t;
	if (addr < t->arena_base || addr > arena_end(t))
		return fail(c, error, "address %s is outside the arena", addr_tok);
	if (len > arena_end(t) - addr)
		return fail(c, error, "range %s + 0x%" G_GINT64_MODIFIER "x runs past the end of the arena",
		            addr_tok, len);
	return true;
}

static bool check_addr(const parse_ctx *c, const char *addr_tok, uint64_t addr, GError **error)
{
	if (addr < c->t->arena_base || addr >= arena_end(c->t))
		return fail(c, error, "address %s is outside the arena", addr_tok);
	return true;
}

static bool prot_arg(const parse_ctx *c, const char *tok, uint64_t *out, GError **error)
{
	if (g_ascii_isdigit(tok[0]))
		return number(c, "PROT", tok, out, error);
	static const char letters[3] = {'r', 'w', 'x'};
	if (strlen(tok) != 3)
		return fail(c, error, "bad PROT '%s' (expected rwx, r--, --- ... or a number)", tok);
	uint64_t prot = 0;
	for (int i = 0; i < 3; i++) {
		if (tok[i] == letters[i])
			prot |= 1u << i;
		else if (tok[i] != '-')
			return fail(c, error, "bad PROT '%s' (expected rwx, r--, --- ... or a number)", tok);
	}
	*out = prot;
	return true;
}

static const name_value *lookup(const name_value *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

/* Names and numbers joined by commas. */
static bool flag_list(const parse_ctx *c, const char *what, const char *tok, const name_value *a, size_t na,
                      const name_value *b, size_t nb, bool dash, uint64_t *out, GError **error)
{
	if (strcmp(tok, "-") == 0 && dash) {
		*out = 0;
		return true;
	}
	uint64_t v = 0;
	char **parts = g_strsplit(tok, ",", -1);
	bool ok = true;
	for (char **p = parts; *p && ok; p++) {
		const name_value *nv = NULL;
		uint64_t n;
		if (**p == '\0') {
			ok = fail(c, error, "bad %s '%s': empty name", what, tok);
		} else if ((nv = lookup(a, na, *p)) || (b && (nv = lookup(b, nb, *p)))) {
			v |= nv->value; /* before numbers: "32bit" is a name */
		} else if (g_ascii_isdigit(**p)) {
			ok = number(c, what, *p, &n, error);
			v |= n;
		} else if (a == map_types && strcmp(*p, "anon") == 0) {
			v |= MM_MAP_ANONYMOUS;
		} else {
			ok = fail(c, error, "unknown %s name '%s'", what, *p);
		}
	}
	g_strfreev(parts);
	if (ok)
		*out = v;
	return ok;
}

/* The mode of `uffd wp`: `on` (UFFDIO_WRITEPROTECT_MODE_WP) or `off`, then
 * `,dontwake` (UFFDIO_WRITEPROTECT_MODE_DONTWAKE), or numbers for the raw
 * bits (so that the kernel's EINVAL for unknown bits can be written). */
static bool wp_mode(const parse_ctx *c, const char *tok, uint64_t *out, GError **error)
{
	uint64_t v = 0;
	char **parts = g_strsplit(tok, ",", -1);
	bool ok = true;
	for (char **p = parts; *p && ok; p++) {
		uint64_t n;
		if (strcmp(*p, "on") == 0) {
			v |= MM_UFFDIO_WP_MODE_WP;
		} else if (strcmp(*p, "off") == 0) {
			/* no bit */
		} else if (strcmp(*p, "dontwake") == 0) {
			v |= MM_UFFDIO_WP_MODE_DONTWAKE;
		} else if (g_ascii_isdigit(**p)) {
			ok = number(c, "uffd wp mode", *p, &n, error);
			v |= n;
		} else {
			ok = fail(c, error, "bad uffd wp mode '%s' (expected on or off, then ',dontwake')", tok);
		}
	}
	g_strfreev(parts);
	if (ok)
		*out = v;
	return ok;
}

static int file_by_name(const trace *t, const char *name)
{
	for (guint i = 0; i < t->files->len; i++)
		if (strcmp(g_array_index(t->files, tr_file, i).name, name) == 0)
			return (int)i + 1;
	return 0;
}

static bool valid_file_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '_')
			return false;
	return true;
}

/* ---- Results ----------------------------------------------------------------- */

static bool parse_result_tokens(const trace *t, tr_kind kind, char **tok, int n, tr_result *r, char **what)
{
	memset(r, 0, sizeof(*r));
	if (n == 0) {
		*what = g_strdup("missing result after '=>'");
		return false;
	}
	if (kind == TR_READ && strcmp(tok[0], "ok") != 0 && strcmp(tok[0], "SIGBUS") != 0 && strcmp(tok[0], "uffd") != 0 &&
	    strncmp(tok[0], "SEGV_", 5) != 0) {
		/* read => VALUE: the loaded value, 0x... as the printer writes it */
		uint64_t v;
		if (strncmp(tok[0], "0x", 2) != 0 || parse_u64(tok[0], &v) != NUM_OK) {
			*what = g_strdup_printf("bad read result '%s' (expected 0xHEX, SEGV_MAPERR pf=0xN, "
			                        "SEGV_ACCERR pf=0xN, SEGV_PKUERR pf=0xN or SIGBUS)",
			                        tok[0]);
			return false;
		}
		if (n != 1) {
			*what = g_strdup_printf("unexpected '%s' after the result", tok[1]);
			return false;
		}
		r->kind = TR_RES_DATA;
		r->value = v;
		return true;
	}
	if ((kind == TR_TOUCH || kind == TR_WRITE || kind == TR_READ) && strcmp(tok[0], "uffd") == 0) {
		/* uffd missing|wp|minor[,write] ADDR: the fault went to the userfaultfd */
		r->kind = TR_RES_TOUCH;
		r->touch.outcome = MM_TOUCH_UFFD;
		if (n != 3) {
			*what = g_strdup(n < 3 ? "bad touch result: uffd needs a reason and an address "
			                         "(uffd missing|wp|minor[,write] ADDR)"
			                       : "unexpected token after the uffd result");
			return false;
		}
		char **parts = g_strsplit(tok[1], ",", -1);
		bool ok = parts[0] != NULL;
		int reasons = 0;
		for (char **q = parts; ok && *q; q++) {
			if (strcmp(*q, "missing") == 0)
				reasons++;
			else if (strcmp(*q, "wp") == 0)
				reasons++, r->touch.uffd_flags |= MM_UFFD_FLAG_WP;
			else if (strcmp(*q, "minor") == 0)
				reasons++, r->touch.uffd_flags |= MM_UFFD_FLAG_MINOR;
			else if (strcmp(*q, "write") == 0 && q != parts)
				r->touch.uffd_flags |= MM_UFFD_FLAG_WRITE;
			else
				ok = false;
		}
		g_strfreev(parts);
		if (!ok || reasons != 1) {
			*what = g_strdup_printf("bad uffd reason '%s' (expected missing, wp or minor, then ',write' "
			                        "for a write fault)",
			                        tok[1]);
			return false;
		}
		uint64_t v;
		bool rel = tok[2][0] == '+';
		if (parse_u64(rel ? tok[2] + 1 : tok[2], &v) != NUM_OK || (rel && v > UINT64_MAX - t->arena_base)) {
			*what = g_strdup_printf("bad uffd address '%s'", tok[2]);
			return false;
		}
		r->touch.uffd_addr = rel ? v + t->arena_base : v;
		return true;
	}
	if (kind == TR_TOUCH || kind == TR_WRITE || kind == TR_READ) {
		r->kind = TR_RES_TOUCH;
		if (kind == TR_READ && strcmp(tok[0], "ok") == 0) {
			*what = g_strdup("a read answers its value (0x...), not 'ok'");
			return false;
		}
		if (strcmp(tok[0], "ok") == 0 || strcmp(tok[0], "SIGBUS") == 0) {
			r->touch.outcome = tok[0][0] == 'o' ? MM_TOUCH_OK : MM_TOUCH_SIGBUS;
			if (n != 1) {
				*what = g_strdup_printf("unexpected '%s' after the result", tok[1]);
				return false;
			}
			return true;
		}
		if (strcmp(tok[0], "SEGV_MAPERR") == 0 || strcmp(tok[0], "SEGV_ACCERR") == 0 ||
		    strcmp(tok[0], "SEGV_PKUERR") == 0) {
			r->touch.outcome = tok[0][5] == 'M'   ? MM_TOUCH_SEGV_MAPERR
			                   : tok[0][5] == 'A' ? MM_TOUCH_SEGV_ACCERR
			                                      : MM_TOUCH_SEGV_PKUERR;
			uint64_t pf;
			if (n < 2 || strncmp(tok[1], "pf=", 3) != 0 || parse_u64(tok[1] + 3, &pf) != NUM_OK ||
			    pf > UINT32_MAX) {
				*what = g_strdup_printf("bad touch result: %s needs pf=0xN", tok[0]);
				return false;
			}
			if (n > 2) {
				*what = g_strdup_printf("unexpected '%s' after the result", tok[2]);
				return false;
			}
			r->touch.pf_error = (uint32_t)pf;
			return true;
		}
		*what = g_strdup_printf("bad touch result '%s' (expected ok, SEGV_MAPERR pf=0xN, "
		                        "SEGV_ACCERR pf=0xN, SEGV_PKUERR pf=0xN or SIGBUS)",
		                        tok[0]);
		return false;
	}
	if (n != 1) {
		*what = g_strdup_printf("unexpected '%s' after the result", tok[1]);
		return false;
	}
	const char *s = tok[0];
	if (s[0] == 'E' && g_ascii_isupper(s[1])) {
		int err = tr_errno_from_name(s);
		if (!err) {
			*what = g_strdup_printf("unknown errno name '%s'", s);
			return false;
		}
		r->kind = TR_RES_ERRNO;
		r->err = err;
		return true;
	}
	if (s[0] == 'E' && g_ascii_isdigit(s[1])) { /* E<n>: an errno without a name */
		uint64_t v;
		if (parse_u64(s + 1, &v) != NUM_OK || v == 0 || v > 4095) {
			*what = g_strdup_printf("bad result '%s'", s);
			return false;
		}
		r->kind = TR_RES_ERRNO;
		r->err = (int)v;
		return true;
	}
	uint64_t v;
	bool rel = s[0] == '+';
	if ((rel && !returns_address(kind)) || parse_u64(rel ? s + 1 : s, &v) != NUM_OK) {
		*what = g_strdup_printf("bad result '%s'", s);
		return false;
	}
	if (rel) {
		if (v > UINT64_MAX - t->arena_base) {
			*what = g_strdup_printf("bad result '%s'", s);
			return false;
		}
		v += t->arena_base;
	}
	if (kind == TR_FORK && (v < 2 || v > TR_MAX_PROC_NUMBER)) {
		*what = g_strdup_printf("bad result '%s' (fork returns a process number from 2, or an errno name)", s);
		return false;
	}
	if (!returns_address(kind) && kind != TR_FORK && v != 0) {
		*what = g_strdup_printf("bad result '%s' (%s returns 0 or an errno name)", s, tr_kind_name(kind));
		return false;
	}
	r->kind = TR_RES_VALUE;
	r->value = v;
	return true;
}

gboolean tr_result_parse(const trace *t, tr_kind kind, const char *text, tr_result *r, GError **error)
{
	char **tok = g_strsplit_set(text, " \t", -1);
	char *toks[8];
	int n = 0;
	for (char **p = tok; *p; p++)
		if (**p && n < (int)G_N_ELEMENTS(toks))
			toks[n++] = *p;
	char *what = NULL;
	bool ok;
	if (tr_is_observation(kind)) {
		what = g_strdup("an observation has no result");
		ok = false;
	} else {
		ok = parse_result_tokens(t, kind, toks, n, r, &what);
	}
	if (!ok)
		g_set_error_literal(error, TRACE_ERROR, TRACE_ERROR_PARSE, what);
	g_free(what);
	g_strfreev(tok);
	return ok;
}

bool tr_result_equal(const tr_result *a, const tr_result *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case TR_RES_NONE:
		return true;
	case TR_RES_VALUE:
	case TR_RES_DATA:
		return a->value == b->value;
	case TR_RES_ERRNO:
		return a->err == b->err;
	case TR_RES_TOUCH:
		if (a->touch.outcome != b->touch.outcome)
			return false;
		if (a->touch.outcome == MM_TOUCH_UFFD)
			return a->touch.uffd_flags == b->touch.uffd_flags && a->touch.uffd_addr == b->touch.uffd_addr;
		/* pf= is only part of the SEGV results. */
		if (mm_touch_is_segv(a->touch.outcome))
			return a->touch.pf_error == b->touch.pf_error;
		return true;
	}
	return false;
}

/* ---- Lines ------------------------------------------------------------------- */

#define MAX_TOKENS 24

typedef enum line_kind {
	LINE_ERROR = -1,
	LINE_BLANK = 0,
	LINE_DIRECTIVE,
	LINE_STMT,
	LINE_EXPECT,
} line_kind;

/* Splits buf in place into tokens; the comment is cut off. Returns -1 when
 * there are too many. */
static int tokenize(char *buf, char **tok)
{
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	int n = 0;
	char *p = buf;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == MAX_TOKENS)
			return -1;
		tok[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* The text of a "| " line: after the bar, whitespace runs collapsed to one
 * space, no leading or trailing space, comment removed. */
static char *expect_text(const char *after_bar)
{
	char *buf = g_strdup(after_bar);
	GString *s = g_string_new(NULL);
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	char **parts = g_strsplit_set(buf, " \t", -1);
	for (char **p = parts; *p; p++) {
		if (!**p)
			continue;
		if (s->len)
			g_string_append_c(s, ' ');
		g_string_append(s, *p);
	}
	g_strfreev(parts);
	g_free(buf);
	return g_string_free(s, FALSE);
}

static bool parse_directive(parse_ctx *c, char **tok, int n, bool streaming, const char **directive, GError **error)
{
	trace *t = c->t;
	if (strcmp(tok[0], "mmtrace") == 0) {
		if (n != 2)
			return fail(c, error, "usage: mmtrace 1");
		uint64_t v;
		if (parse_u64(tok[1], &v) != NUM_OK)
			return fail(c, error, "bad version '%s'", tok[1]);
		if (v != 1)
			return fail(c, error, "unsupported mmtrace version %s (this is version 1)", tok[1]);
		if (c->seen_header && !streaming)
			return fail(c, error, "'mmtrace 1' given twice");
		if (streaming) { /* a new trace: back to the defaults */
			t->arena_base = TR_DEFAULT_ARENA_BASE;
			t->arena_size = TR_DEFAULT_ARENA_SIZE;
			for (guint i = 0; i < t->files->len; i++)
				g_free(g_array_index(t->files, tr_file, i).name);
			g_array_set_size(t->files, 0);
			memset(&t->profile, 0, sizeof(t->profile));
			t->profile_line = 0;
			c->seen_stmt = false;
			c->seen_arena = false;
		}
		c->seen_header = true;
		*directive = "mmtrace";
		return true;
	}
	bool is_arena = strcmp(tok[0], "arena") == 0;
	if (!c->seen_header)
		return fail(c, error, "the first statement must be 'mmtrace 1'");
	if (c->seen_stmt)
		return fail(c, error, "directive '%s' after the first operation", tok[0]);
	if (is_arena) {
		if (n != 3)
			return fail(c, error, "%s arguments: usage: arena BASE SIZE", n < 3 ? "missing" : "too many");
		uint64_t base, size;
		if (c->seen_arena)
			return fail(c, error, "'arena' given twice");
		if (!number(c, "arena base", tok[1], &base, error) || !number(c, "arena size", tok[2], &size, error))
			return false;
		if (base == 0 || size == 0)
			return fail(c, error, "arena base and size must not be 0");
		if ((base | size) & (MM_PAGE_SIZE - 1))
			return fail(c, error, "arena base and size must be multiples of the page size");
		if (size > UINT64_MAX - base)
			return fail(c, error, "arena %s + %s does not fit in 64 bits", tok[1], tok[2]);
		if (base + size > MM_TASK_SIZE)
			return fail(c, error,
			            "arena %s + %s ends above the user address space (0x%llx)", tok[1], tok[2],
			            (unsigned long long)MM_TASK_SIZE);
		if (size > tr_limit.max_arena)
			return fail(c, error,
			            "arena size %s is larger than the limit of 0x%llx bytes (--max-arena)", tok[2],
			            (unsigned long long)tr_limit.max_arena);
		t->arena_base = base;
		t->arena_size = size;
		c->seen_arena = true;
		*directive = "arena";
		return true;
	}
	if (strcmp(tok[0], "profile") == 0) {
		/* profile KEY=VALUE ...: at most one (spec: Profiles). */
		if (t->profile_line)
			return fail(c, error, "'profile' given twice (first on line %d)", t->profile_line);
		if (n < 2)
			return fail(c, error, "missing arguments: usage: profile KEY=VALUE ...");
		tr_profile p = {0};
		for (int i = 1; i < n; i++) {
			GError *perr = NULL;
			if (!tr_profile_parse_item(&p, tok[i], &perr)) {
				bool r = fail(c, error, "%s", perr->message);
				g_error_free(perr);
				return r;
			}
		}
		t->profile = p;
		t->profile_line = c->line;
		*directive = "profile";
		return true;
	}
	/* file NAME SIZE [fill=0xNN|pattern=N] */
	if (n != 3 && n != 4)
		return fail(c, error, "%s arguments: usage: file NAME SIZE [fill=0xNN|pattern=N]",
		            n < 3 ? "missing" : "too many");
	if (!valid_file_name(tok[1]))
		return fail(c, error, "bad file name '%s' (expected [A-Za-z0-9_]+)", tok[1]);
	if (file_by_name(t, tok[1]))
		return fail(c, error, "file '%s' declared twice", tok[1]);
	tr_file f = {0};
	if (!number(c, "file size", tok[2], &f.size, error))
		return false;
	if (n == 4) {
		bool fill = strncmp(tok[3], "fill=", 5) == 0, pattern = strncmp(tok[3], "pattern=", 8) == 0;
		if (!fill && !pattern)
			return fail(c, error, "unexpected argument '%s': usage: file NAME SIZE [fill=0xNN|pattern=N]",
			            tok[3]);
		if (!number(c, fill ? "fill byte" : "pattern", tok[3] + (fill ? 5 : 8), &f.init_value, error))
			return false;
		if (fill && f.init_value > 0xff)
			return fail(c, error, "fill byte %s is not a byte (0 .. 0xff)", tok[3] + 5);
		if (pattern && (f.init_value == 0 || f.init_value > 0xffffffffull))
			return fail(c, error, "pattern %s out of range (1 .. 0xffffffff)", tok[3] + 8);
		if (f.size > TR_FILE_CONTENTS_MAX)
			return fail(c, error, "a file with contents is at most 0x%llx bytes",
			            (unsigned long long)TR_FILE_CONTENTS_MAX);
		f.init = fill ? TR_FILE_FILL : TR_FILE_PATTERN;
	}
	f.name = g_strdup(tok[1]);
	g_array_append_val(t->files, f);
	*directive = "file";
	return true;
}

static bool parse_stmt(parse_ctx *c, char **tok, int n, tr_stmt *s, GError **error)
{
	const trace *t = c->t;
	const stmt_desc *d = NULL;
	char uffd_name[40];
	const char *name = tok[0];
	if (strcmp(tok[0], "uffd") == 0) { /* "uffd OP": the statement is named by both words */
		if (n < 2 || strcmp(tok[1], "=>") == 0)
			return fail(c, error, "missing userfaultfd operation: usage: uffd register|unregister|copy|zeropage|continue|wake|wp ...");
		g_snprintf(uffd_name, sizeof(uffd_name), "uffd %s", tok[1]);
		name = uffd_name;
		tok++;
		n--;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(stmt_descs); i++)
		if (strcmp(stmt_descs[i].name, name) == 0)
			d = &stmt_descs[i];
	if (!d)
		return fail(c, error, "unknown statement '%s'", name);
	if (!c->seen_header)
		return fail(c, error, "the first statement must be 'mmtrace 1'");

	int arrow = n;
	for (int i = 1; i < n; i++)
		if (strcmp(tok[i], "=>") == 0) {
			arrow = i;
			break;
		}
	int nargs = arrow - 1;
	char **a = tok + 1;
	if (nargs < d->min_args)
		return fail(c, error, "missing arguments: usage: %s", d->usage);
	if (nargs > d->max_args && d->kind != TR_MMAP)
		return fail(c, error, "too many arguments ('%s'): usage: %s", a[d->max_args], d->usage);

	memset(s, 0, sizeof(*s));
	s->kind = d->kind;
	s->line = c->line;

	switch (d->kind) {
	case TR_MMAP: {
		if (!address(c, a[0], &s->addr, NULL, error) || !number(c, "length", a[1], &s->len, error))
			return false;
		if (s->addr != 0 && !check_range(c, a[0], s->addr, s->len, error))
			return false;
		if (!prot_arg(c, a[2], &s->prot, error) ||
		    !flag_list(c, "FLAGS", a[3], map_types, G_N_ELEMENTS(map_types), map_bits,
		               G_N_ELEMENTS(map_bits), true, &s->flags, error))
			return false;
		/* 0 is "no hint" only without MAP_FIXED: with it, 0 is the address 0,
		 * outside every arena. */
		if (s->addr == 0 && (s->flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)))
			return fail(c, error, "mmap at address 0 with '%s' is outside the arena",
			            (s->flags & MM_MAP_FIXED) ? "fixed" : "fixed_noreplace");
		bool seen_file = false, seen_off = false;
		for (int i = 4; i < nargs; i++) {
			if (strncmp(a[i], "file=", 5) == 0 && !seen_file) {
				seen_file = true;
				s->file = file_by_name(t, a[i] + 5);
				if (!s->file)
					return fail(c, error, "unknown file '%s' (declare it with 'file NAME SIZE')", a[i] + 5);
			} else if (strncmp(a[i], "off=", 4) == 0 && !seen_off) {
				seen_off = true;
				if (!number(c, "offset", a[i] + 4, &s->off, error))
					return false;
			} else if (strncmp(a[i], "file=", 5) == 0 || strncmp(a[i], "off=", 4) == 0) {
				return fail(c, error, "'%s' given twice: usage: %s", a[i], d->usage);
			} else {
				return fail(c, error, "unexpected argument '%s': usage: %s", a[i], d->usage);
			}
		}
		break;
	}
	case TR_MUNMAP:
	case TR_MUNLOCK:
	case TR_MSEAL:
	case TR_MLOCK:
	case TR_MPROTECT:
	case TR_MADVISE:
	case TR_PAGES:
		if (!address(c, a[0], &s->addr, NULL, error) || !number(c, "length", a[1], &s->len, error) ||
		    !check_range(c, a[0], s->addr, s->len, error))
			return false;
		if (d->kind == TR_MPROTECT && !prot_arg(c, a[2], &s->prot, error))
			return false;
		if (d->kind == TR_MADVISE) {
			const name_value *nv = lookup(madv_names, G_N_ELEMENTS(madv_names), a[2]);
			uint64_t v;
			if (nv)
				s->advice = (int64_t)nv->value;
			else if (g_ascii_isdigit(a[2][0]) && number(c, "ADVICE", a[2], &v, error))
				s->advice = (int64_t)v;
			else if (g_ascii_isdigit(a[2][0]))
				return false;
			else
				return fail(c, error, "unknown ADVICE '%s'", a[2]);
		}
		if (d->kind == TR_MLOCK && nargs == 3) {
			if (strcmp(a[2], "onfault") == 0)
				s->flags = MM_MLOCK_ONFAULT;
			else if (!g_ascii_isdigit(a[2][0]))
				return fail(c, error, "bad mlock flag '%s' (expected onfault or a number)", a[2]);
			else if (!number(c, "mlock flags", a[2], &s->flags, error))
				return false;
		}
		if (d->kind == TR_MSEAL && nargs == 3 && !number(c, "mseal flags", a[2], &s->flags, error))
			return false;
		break;
	case TR_MREMAP:
		if (!address(c, a[0], &s->addr, NULL, error) || !number(c, "length", a[1], &s->len, error) ||
		    !check_range(c, a[0], s->addr, s->len, error) || !number(c, "length", a[2], &s->new_len, error) ||
		    !flag_list(c, "MFLAGS", a[3], mremap_bits, G_N_ELEMENTS(mremap_bits), NULL, 0, true, &s->flags,
		               error))
			return false;
		if (nargs == 5) {
			s->has_new_addr = true;
			if (!address(c, a[4], &s->new_addr, NULL, error) ||
			    !check_range(c, a[4], s->new_addr, s->new_len, error))
				return false;
		} else if (s->flags & MM_MREMAP_FIXED) {
			/* Without NEWADDR, 'fixed' would move the mapping to address 0. */
			return fail(c, error, "mremap with 'fixed' needs NEWADDR: usage: %s", d->usage);
		} else if (!check_range(c, a[0], s->addr, s->new_len, error)) {
			return false;
		}
		break;
	case TR_TOUCH:
		if (!address(c, a[0], &s->addr, NULL, error) || !check_addr(c, a[0], s->addr, error))
			return false;
		if (strcmp(a[1], "r") == 0)
			s->access = MM_ACCESS_READ;
		else if (strcmp(a[1], "w") == 0)
			s->access = MM_ACCESS_WRITE;
		else if (strcmp(a[1], "x") == 0)
			s->access = MM_ACCESS_EXEC;
		else
			return fail(c, error, "bad access '%s' (expected r, w or x)", a[1]);
		break;
	case TR_WRITE:
	case TR_READ:
		if (!address(c, a[0], &s->addr, NULL, error) || !check_addr(c, a[0], s->addr, error))
			return false;
		if (s->addr & 7)
			return fail(c, error, "%s address %s is not 8-byte aligned", d->name, a[0]);
		if (d->kind == TR_WRITE && !number(c, "value", a[1], &s->value, error))
			return false;
		break;
	case TR_PROC:
	case TR_EXIT:
		if (!number(c, "process number", a[0], &s->value, error))
			return false;
		if (s->value == 0 || s->value > TR_MAX_PROC_NUMBER)
			return fail(c, error, "process number %s out of range (1 .. %u)", a[0], TR_MAX_PROC_NUMBER);
		break;
	case TR_UFFD_REGISTER:
	case TR_UFFD_UNREGISTER:
	case TR_UFFD_COPY:
	case TR_UFFD_ZEROPAGE:
	case TR_UFFD_CONTINUE:
	case TR_UFFD_WAKE:
	case TR_UFFD_WP:
		if (!address(c, a[0], &s->addr, NULL, error) || !number(c, "length", a[1], &s->len, error) ||
		    !check_range(c, a[0], s->addr, s->len, error))
			return false;
		if (d->kind == TR_UFFD_WP && !wp_mode(c, a[2], &s->flags, error))
			return false;
		if (d->kind == TR_UFFD_REGISTER &&
		    !flag_list(c, "MODES", a[2], uffd_modes, G_N_ELEMENTS(uffd_modes), NULL, 0, true, &s->flags, error))
			return false;
		if (d->kind == TR_UFFD_COPY && !number(c, "value", a[2], &s->value, error))
			return false;
		if (d->kind == TR_UFFD_CONTINUE && nargs == 3) {
			if (!flag_list(c, "continue mode", a[2], uffd_continue_modes, G_N_ELEMENTS(uffd_continue_modes), NULL,
			               0, false, &s->flags, error))
				return false;
		}
		break;
	case TR_FORK:
	case TR_MAPS:
	case TR_SMAPS:
	case TR_STATE:
		break;
	}

	if (arrow < n) {
		if (tr_is_observation(d->kind))
			return fail(c, error, "'%s' is an observation: its expectation is '| ' lines, not '=>'",
			            d->name);
		char *what = NULL;
		if (!parse_result_tokens(t, d->kind, tok + arrow + 1, n - arrow - 1, &s->expect, &what)) {
			fail(c, error, "%s", what);
			g_free(what);
			return false;
		}
	}
	c->seen_stmt = true;
	return true;
}

/* One line of input. buf is modified. */
static line_kind parse_line(parse_ctx *c, char *buf, bool streaming, tr_stmt *s, const char **directive,
                            char **expect, GError **error)
{
	char *tok[MAX_TOKENS];
	*directive = NULL;
	if (!g_utf8_validate(buf, -1, NULL)) {
		fail(c, error, "the line is not valid UTF-8");
		return LINE_ERROR;
	}
	char *p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '|') {
		*expect = expect_text(p + 1);
		return LINE_EXPECT;
	}
	int n = tokenize(p, tok);
	if (n < 0) {
		fail(c, error, "too many tokens");
		return LINE_ERROR;
	}
	if (n == 0)
		return LINE_BLANK;
	if (strcmp(tok[0], "mmtrace") == 0 || strcmp(tok[0], "arena") == 0 || strcmp(tok[0], "file") == 0 ||
	    strcmp(tok[0], "profile") == 0)
		return parse_directive(c, tok, n, streaming, directive, error) ? LINE_DIRECTIVE : LINE_ERROR;
	return parse_stmt(c, tok, n, s, error) ? LINE_STMT : LINE_ERROR;
}

static trace *trace_new_default(const char *filename)
{
	trace *t = g_new0(trace, 1);
	t->filename = g_strdup(filename);
	t->arena_base = TR_DEFAULT_ARENA_BASE;
	t->arena_size = TR_DEFAULT_ARENA_SIZE;
	t->files = g_array_new(FALSE, TRUE, sizeof(tr_file));
	t->stmts = g_array_new(FALSE, TRUE, sizeof(tr_stmt));
	return t;
}

void trace_free(trace *t)
{
	if (!t)
		return;
	for (guint i = 0; i < t->files->len; i++)
		g_free(g_array_index(t->files, tr_file, i).name);
	for (guint i = 0; i < t->stmts->len; i++) {
		tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		if (s->expect_lines)
			g_ptr_array_unref(s->expect_lines);
	}
	g_array_unref(t->files);
	g_array_unref(t->stmts);
	g_free(t->filename);
	g_free(t);
}

trace *trace_parse(const char *filename, const char *text, size_t len, GError **error)
{
	trace *t = trace_new_default(filename);
	parse_ctx c = {.t = t, .filename = filename};
	size_t pos = 0;
	bool ok = true;
	for (int lineno = 1; pos < len && ok; lineno++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t l = end - pos;
		c.line = lineno;
		if (l > tr_limit.max_line) {
			ok = fail(&c, error, "line of %zu bytes is longer than the limit of %llu bytes (--max-line)", l,
			          (unsigned long long)tr_limit.max_line);
			break;
		}
		if (memchr(text + pos, '\0', l)) {
			ok = fail(&c, error, "NUL byte in the line");
			break;
		}
		char *buf = g_strndup(text + pos, l);
		if (l && buf[l - 1] == '\r')
			buf[l - 1] = '\0';
		pos = end + 1;

		tr_stmt s;
		const char *directive;
		char *expect = NULL;
		switch (parse_line(&c, buf, false, &s, &directive, &expect, error)) {
		case LINE_ERROR:
			ok = false;
			break;
		case LINE_BLANK:
		case LINE_DIRECTIVE:
			break;
		case LINE_STMT:
			if (t->stmts->len >= tr_limit.max_stmts) {
				ok = fail(&c, error, "more than %llu statements (--max-statements)",
				          (unsigned long long)tr_limit.max_stmts);
				if (s.expect_lines)
					g_ptr_array_unref(s.expect_lines);
				break;
			}
			g_array_append_val(t->stmts, s);
			break;
		case LINE_EXPECT: {
			tr_stmt *last = t->stmts->len ? &g_array_index(t->stmts, tr_stmt, t->stmts->len - 1) : NULL;
			if (!last)
				ok = fail(&c, error, "'|' line before any observation");
			else if (!tr_is_observation(last->kind))
				ok = fail(&c, error, "'|' line after '%s' (line %d), which is not an observation",
				          tr_kind_name(last->kind), last->line);
			else {
				if (!last->expect_lines)
					last->expect_lines = g_ptr_array_new_with_free_func(g_free);
				g_ptr_array_add(last->expect_lines, expect);
				expect = NULL;
			}
			g_free(expect);
			break;
		}
		}
		g_free(buf);
	}
	if (ok && !c.seen_header) {
		c.line = 1;
		ok = fail(&c, error, "missing 'mmtrace 1'");
	}
	if (!ok) {
		trace_free(t);
		return NULL;
	}
	return t;
}

trace *trace_load(const char *path, GError **error)
{
	char *text;
	gsize len;
	GError *err = NULL;
	if (!g_file_get_contents(path, &text, &len, &err)) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_IO, "%s:0: error: %s", path, err->message);
		g_error_free(err);
		return NULL;
	}
	trace *t = trace_parse(path, text, len, error);
	g_free(text);
	return t;
}

/* ---- Streaming ---------------------------------------------------------------- */

struct trace_parser {
	trace *t;
	parse_ctx c;
};

trace_parser *trace_parser_new(const char *filename)
{
	trace_parser *p = g_new0(trace_parser, 1);
	p->t = trace_new_default(filename);
	p->c.t = p->t;
	p->c.filename = p->t->filename;
	return p;
}

void trace_parser_free(trace_parser *p)
{
	if (!p)
		return;
	trace_free(p->t);
	g_free(p);
}

int trace_parser_feed(trace_parser *p, const char *line, tr_stmt *out, const char **directive, GError **error)
{
	p->c.line++;
	size_t l = strlen(line);
	if (l > tr_limit.max_line) {
		fail(&p->c, error, "line of %zu bytes is longer than the limit of %llu bytes (--max-line)", l,
		     (unsigned long long)tr_limit.max_line);
		if (directive)
			*directive = NULL;
		return -1;
	}
	char *buf = g_strdup(line);
	if (l && buf[l - 1] == '\n')
		buf[--l] = '\0';
	if (l && buf[l - 1] == '\r')
		buf[--l] = '\0';
	char *expect = NULL;
	const char *dir = NULL;
	int rc;
	switch (parse_line(&p->c, buf, true, out, &dir, &expect, error)) {
	case LINE_STMT:
		rc = 1;
		break;
	case LINE_BLANK:
	case LINE_DIRECTIVE:
		rc = 0;
		break;
	case LINE_EXPECT:
		g_free(expect);
		fail(&p->c, error, "'|' lines are not accepted here");
		rc = -1;
		break;
	default:
		rc = -1;
		break;
	}
	if (directive)
		*directive = dir;
	g_free(buf);
	return rc;
}

const trace *trace_parser_trace(const trace_parser *p) { return p->t; }

uint64_t tr_file_word(const tr_file *f, uint64_t off)
{
	uint64_t w = 0;
	if (f->init == TR_FILE_FILL)
		w = f->init_value * 0x0101010101010101ull;
	else if (f->init == TR_FILE_PATTERN)
		w = f->init_value << 32 | off >> 3;
	if (off >= f->size)
		return 0;
	if (f->size - off < 8) /* the bytes past the end of the file read zero */
		w &= (1ull << ((f->size - off) * 8)) - 1;
	return w;
}

/* ---- Printer ------------------------------------------------------------------- */

static void print_hex(GString *out, uint64_t v) { g_string_append_printf(out, "0x%" G_GINT64_MODIFIER "x", v); }

static void print_addr(GString *out, const trace *t, uint64_t a)
{
	if (a >= t->arena_base && a - t->arena_base < t->arena_size)
		g_string_append_printf(out, "+0x%" G_GINT64_MODIFIER "x", a - t->arena_base);
	else
		print_hex(out, a);
}

/* Lengths and sizes: 16K, 2M, 1G when exact and small, hex otherwise. */
static void print_size(GString *out, uint64_t v)
{
	static const struct {
		unsigned shift;
		char suffix;
	} units[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
	if (v == 0) {
		g_string_append_c(out, '0');
		return;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
		uint64_t unit = 1ull << units[i].shift;
		if (v % unit == 0 && v / unit < 65536) {
			g_string_append_printf(out, "%" G_GINT64_MODIFIER "u%c", v / unit, units[i].suffix);
			return;
		}
	}
	print_hex(out, v);
}

static void print_prot(GString *out, uint64_t prot)
{
	if (prot & ~(uint64_t)7) {
		print_hex(out, prot);
		return;
	}
	g_string_append_c(out, (prot & MM_PROT_READ) ? 'r' : '-');
	g_string_append_c(out, (prot & MM_PROT_WRITE) ? 'w' : '-');
	g_string_append_c(out, (prot & MM_PROT_EXEC) ? 'x' : '-');
}

static void print_bits(GString *out, uint64_t v, const name_value *tab, size_t n, bool *first)
{
	for (size_t i = 0; i < n; i++)
		if (v & tab[i].value) {
			g_string_append_printf(out, "%s%s", *first ? "" : ",", tab[i].name);
			*first = false;
		}
}

static void print_map_flags(GString *out, uint64_t flags)
{
	bool first = true;
	uint64_t type = flags & MM_MAP_TYPE;
	uint64_t rest = flags;
	for (size_t i = 0; i < G_N_ELEMENTS(map_types); i++)
		if (type == map_types[i].value) {
			g_string_append(out, map_types[i].name);
			first = false;
			rest &= ~(uint64_t)MM_MAP_TYPE;
		}
	print_bits(out, rest, map_bits, G_N_ELEMENTS(map_bits), &first);
	for (size_t i = 0; i < G_N_ELEMENTS(map_bits); i++)
		rest &= ~map_bits[i].value;
	if (rest || first) {
		if (!first)
			g_string_append_c(out, ',');
		if (rest)
			print_hex(out, rest);
		else
			g_string_append_c(out, '0');
	}
}

static void print_mremap_flags(GString *out, uint64_t flags)
{
	if (!flags) {
		g_string_append_c(out, '-');
		return;
	}
	bool first = true;
	print_bits(out, flags, mremap_bits, G_N_ELEMENTS(mremap_bits), &first);
	uint64_t rest = flags & ~(uint64_t)(MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED | MM_MREMAP_DONTUNMAP);
	if (rest) {
		if (!first)
			g_string_append_c(out, ',');
		print_hex(out, rest);
	}
}

void trace_print_result(GString *out, const trace *t, const tr_kind kind, const tr_result *r)
{
	switch (r->kind) {
	case TR_RES_NONE:
		break;
	case TR_RES_VALUE:
		if (r->value == 0)
			g_string_append_c(out, '0');
		else if (kind == TR_FORK) /* a process number */
			g_string_append_printf(out, "%llu", (unsigned long long)r->value);
		else if (returns_address(kind))
			print_addr(out, t, r->value);
		else
			print_hex(out, r->value);
		break;
	case TR_RES_ERRNO: {
		const char *name = tr_errno_name(r->err);
		if (name)
			g_string_append(out, name);
		else
			g_string_append_printf(out, "E%d", r->err);
		break;
	}
	case TR_RES_DATA:
		print_hex(out, r->value);
		break;
	case TR_RES_TOUCH:
		switch (r->touch.outcome) {
		case MM_TOUCH_OK:
			g_string_append(out, "ok");
			break;
		case MM_TOUCH_SEGV_MAPERR:
			g_string_append_printf(out, "SEGV_MAPERR pf=0x%x", r->touch.pf_error);
			break;
		case MM_TOUCH_SEGV_ACCERR:
			g_string_append_printf(out, "SEGV_ACCERR pf=0x%x", r->touch.pf_error);
			break;
		case MM_TOUCH_SEGV_PKUERR:
			g_string_append_printf(out, "SEGV_PKUERR pf=0x%x", r->touch.pf_error);
			break;
		case MM_TOUCH_SIGBUS:
			g_string_append(out, "SIGBUS");
			break;
		case MM_TOUCH_UFFD:
			g_string_append_printf(out, "uffd %s%s ",
			                       (r->touch.uffd_flags & MM_UFFD_FLAG_WP)      ? "wp"
			                       : (r->touch.uffd_flags & MM_UFFD_FLAG_MINOR) ? "minor"
			                                                                    : "missing",
			                       (r->touch.uffd_flags & MM_UFFD_FLAG_WRITE) ? ",write" : "");
			print_addr(out, t, r->touch.uffd_addr);
			break;
		}
		break;
	}
}

void trace_print_stmt(GString *out, const trace *t, const tr_stmt *s, bool with_expect)
{
	g_string_append(out, tr_kind_name(s->kind));
	switch (s->kind) {
	case TR_MAPS:
	case TR_SMAPS:
	case TR_STATE:
	case TR_FORK:
		break;
	case TR_PROC:
	case TR_EXIT:
		g_string_append_printf(out, " %llu", (unsigned long long)s->value);
		break;
	case TR_TOUCH:
		g_string_append_c(out, ' ');
		print_addr(out, t, s->addr);
		g_string_append_c(out, ' ');
		g_string_append_c(out, "rwx"[s->access <= MM_ACCESS_EXEC ? s->access : 0]);
		break;
	case TR_WRITE:
	case TR_READ:
		g_string_append_c(out, ' ');
		print_addr(out, t, s->addr);
		if (s->kind == TR_WRITE) {
			g_string_append_c(out, ' ');
			print_hex(out, s->value);
		}
		break;
	default:
		g_string_append_c(out, ' ');
		if (s->kind == TR_MMAP && s->addr == 0)
			g_string_append_c(out, '0');
		else
			print_addr(out, t, s->addr);
		g_string_append_c(out, ' ');
		print_size(out, s->len);
		break;
	}
	switch (s->kind) {
	case TR_MMAP:
		g_string_append_c(out, ' ');
		print_prot(out, s->prot);
		g_string_append_c(out, ' ');
		print_map_flags(out, s->flags);
		if (s->file > 0 && (guint)s->file <= t->files->len)
			g_string_append_printf(out, " file=%s", g_array_index(t->files, tr_file, s->file - 1).name);
		if (s->off) {
			g_string_append(out, " off=");
			print_hex(out, s->off);
		}
		break;
	case TR_MPROTECT:
		g_string_append_c(out, ' ');
		print_prot(out, s->prot);
		break;
	case TR_MREMAP:
		g_string_append_c(out, ' ');
		print_size(out, s->new_len);
		g_string_append_c(out, ' ');
		print_mremap_flags(out, s->flags);
		if (s->has_new_addr) {
			g_string_append_c(out, ' ');
			print_addr(out, t, s->new_addr);
		}
		break;
	case TR_MADVISE: {
		const char *name = NULL;
		for (size_t i = 0; i < G_N_ELEMENTS(madv_names); i++)
			if ((int64_t)madv_names[i].value == s->advice)
				name = madv_names[i].name;
		g_string_append_c(out, ' ');
		if (name)
			g_string_append(out, name);
		else
			print_hex(out, (uint64_t)s->advice);
		break;
	}
	case TR_MLOCK:
		if (s->flags == MM_MLOCK_ONFAULT)
			g_string_append(out, " onfault");
		else if (s->flags) {
			g_string_append_c(out, ' ');
			print_hex(out, s->flags);
		}
		break;
	case TR_MSEAL:
		if (s->flags) {
			g_string_append_c(out, ' ');
			print_hex(out, s->flags);
		}
		break;
	case TR_UFFD_REGISTER: {
		bool first = true;
		g_string_append_c(out, ' ');
		print_bits(out, s->flags, uffd_modes, G_N_ELEMENTS(uffd_modes), &first);
		uint64_t rest = s->flags & ~(uint64_t)(MM_UFFD_MODE_MISSING | MM_UFFD_MODE_WP | MM_UFFD_MODE_MINOR);
		if (rest || first) {
			if (!first)
				g_string_append_c(out, ',');
			print_hex(out, rest);
		}
		break;
	}
	case TR_UFFD_COPY:
		g_string_append_c(out, ' ');
		print_hex(out, s->value);
		break;
	case TR_UFFD_CONTINUE:
		if (s->flags) {
			bool first = true;
			g_string_append_c(out, ' ');
			print_bits(out, s->flags, uffd_continue_modes, G_N_ELEMENTS(uffd_continue_modes), &first);
			uint64_t rest = s->flags & ~(uint64_t)(MM_UFFD_CONTINUE_MODE_DONTWAKE | MM_UFFD_CONTINUE_MODE_WP);
			if (rest) {
				if (!first)
					g_string_append_c(out, ',');
				print_hex(out, rest);
			}
		}
		break;
	case TR_UFFD_WP: {
		/* on|off, then ,dontwake, then any other bits in hex */
		uint64_t rest = s->flags & ~(uint64_t)(MM_UFFDIO_WP_MODE_WP | MM_UFFDIO_WP_MODE_DONTWAKE);
		g_string_append(out, (s->flags & MM_UFFDIO_WP_MODE_WP) ? " on" : " off");
		if (s->flags & MM_UFFDIO_WP_MODE_DONTWAKE)
			g_string_append(out, ",dontwake");
		if (rest) {
			g_string_append_c(out, ',');
			print_hex(out, rest);
		}
		break;
	}
	default:
		break;
	}
	if (with_expect && !tr_is_observation(s->kind) && s->expect.kind != TR_RES_NONE) {
		g_string_append(out, " => ");
		trace_print_result(out, t, s->kind, &s->expect);
	}
}

void trace_print_header(GString *out, const trace *t)
{
	g_string_append(out, "mmtrace 1\n");
	if (!tr_profile_empty(&t->profile)) {
		g_string_append(out, "profile ");
		tr_profile_format(out, &t->profile);
		g_string_append_c(out, '\n');
	}
	if (t->arena_base != TR_DEFAULT_ARENA_BASE || t->arena_size != TR_DEFAULT_ARENA_SIZE) {
		g_string_append(out, "arena ");
		print_hex(out, t->arena_base);
		g_string_append_c(out, ' ');
		print_size(out, t->arena_size);
		g_string_append_c(out, '\n');
	}
	for (guint i = 0; i < t->files->len; i++) {
		const tr_file *f = &g_array_index(t->files, tr_file, i);
		g_string_append_printf(out, "file %s ", f->name);
		print_size(out, f->size);
		if (f->init == TR_FILE_FILL)
			g_string_append_printf(out, " fill=0x%02x", (unsigned)f->init_value);
		else if (f->init == TR_FILE_PATTERN)
			g_string_append_printf(out, " pattern=0x%" G_GINT64_MODIFIER "x", f->init_value);
		g_string_append_c(out, '\n');
	}
}

char *trace_to_string(const trace *t)
{
	GString *out = g_string_new(NULL);
	trace_print_header(out, t);
	for (guint i = 0; i < t->stmts->len; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		trace_print_stmt(out, t, s, true);
		g_string_append_c(out, '\n');
		if (s->expect_lines)
			for (guint j = 0; j < s->expect_lines->len; j++) {
				const char *l = g_ptr_array_index(s->expect_lines, j);
				g_string_append_printf(out, *l ? "| %s\n" : "|%s\n", l);
			}
	}
	return g_string_free(out, FALSE);
}

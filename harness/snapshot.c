/* Snapshots: the structured state of one target inside the arena, its
 * renderings (maps, smaps, pages, state), the parser of `state` and the
 * comparison the diff engine runs after every statement. */
#include "snapshot.h"
#include "tr_limits.h"

#include <stdarg.h>
#include <string.h>

/* The smaps VmFlags mnemonics, by bit: mmref.h (fs/proc/task_mmu.c,
 * show_smap_vma_flags). */
static const struct {
	unsigned bit;
	char mn[3];
} vmflag_names[] = {
	{0, "rd"},  {1, "wr"},  {2, "ex"},  {3, "sh"},  {4, "mr"},  {5, "mw"},  {6, "me"},
	{7, "ms"},  {8, "gd"},  {9, "um"},  {10, "pf"}, {11, "gu"}, {12, "uw"}, {13, "lo"},
	{14, "io"}, {15, "sr"}, {16, "rr"}, {17, "dc"}, {18, "de"}, {19, "lf"}, {20, "ac"},
	{21, "nr"}, {22, "ht"}, {23, "sf"}, {24, "ar"}, {25, "wf"}, {26, "dd"}, {27, "sd"},
	{28, "mm"}, {29, "hg"}, {30, "nh"}, {31, "mg"}, {38, "ui"}, {40, "dp"}, {42, "sl"},
};

uint64_t snapshot_visible_vmflags(void)
{
	static uint64_t mask; /* computed once: it is asked for every snapshot */
	if (!mask) {
		uint64_t m = 0;
		for (size_t i = 0; i < G_N_ELEMENTS(vmflag_names); i++)
			m |= 1ull << vmflag_names[i].bit;
		mask = m;
	}
	return mask;
}

static const char page_letters[] = "nzafg?"; /* by mm_page_state; ? (5): unobservable (a target without pagemap) */

int snapshot_vmflag_bit(const char *mnemonic)
{
	for (size_t k = 0; k < G_N_ELEMENTS(vmflag_names); k++)
		if (strcmp(vmflag_names[k].mn, mnemonic) == 0)
			return (int)vmflag_names[k].bit;
	return -1;
}

const char *snapshot_vmflag_name(int bit)
{
	for (size_t k = 0; k < G_N_ELEMENTS(vmflag_names); k++)
		if ((int)vmflag_names[k].bit == bit)
			return vmflag_names[k].mn;
	return "?";
}

void snapshot_ignore(snapshot *s, gboolean pages, uint64_t vmflags)
{
	for (guint i = 0; vmflags && i < s->vmas->len; i++)
		g_array_index(s->vmas, snap_vma, i).flags &= ~vmflags;
	if (pages && s->pages->len)
		memset(s->pages->data, 5, s->pages->len); /* '?': unobservable */
}

void snapshot_init(snapshot *s)
{
	s->vmas = g_array_new(FALSE, TRUE, sizeof(snap_vma));
	s->pages = g_array_new(FALSE, TRUE, sizeof(guint8));
	s->kernel_version = 0;
}

void snapshot_clear(snapshot *s)
{
	g_array_set_size(s->vmas, 0);
	g_array_set_size(s->pages, 0);
}

void snapshot_free(snapshot *s)
{
	if (s->vmas)
		g_array_unref(s->vmas);
	if (s->pages)
		g_array_unref(s->pages);
	s->vmas = NULL;
	s->pages = NULL;
}

int snapshot_has_room(const snapshot *s, uint64_t npages)
{
	uint64_t max = MIN(tr_limit.max_snapshot_pages, (uint64_t)G_MAXUINT - 1);
	return npages <= max && s->pages->len <= max - npages;
}

void snapshot_add_vma(snapshot *s, const snap_vma *v, const guint8 *pages)
{
	snap_vma copy = *v;
	copy.page_lo = v->start;
	copy.page_hi = v->end;
	snapshot_add_vma_window(s, &copy, pages);
}

void snapshot_add_vma_window(snapshot *s, const snap_vma *v, const guint8 *pages)
{
	snap_vma copy = *v;
	if (copy.page_hi <= copy.page_lo)
		copy.page_lo = copy.page_hi = v->start;
	guint n = (guint)((copy.page_hi - copy.page_lo) >> MM_PAGE_SHIFT);
	copy.first_page = s->pages->len;
	g_array_append_val(s->vmas, copy);
	if (pages) {
		g_array_append_vals(s->pages, pages, n);
	} else {
		guint old = s->pages->len;
		g_array_set_size(s->pages, old + n); /* zeroed: MM_PAGE_NONE */
	}
}

static const snap_vma *find_vma(const snapshot *s, uint64_t addr)
{
	guint lo = 0, hi = s->vmas->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		const snap_vma *v = &g_array_index(s->vmas, snap_vma, mid);
		if (addr < v->start)
			hi = mid;
		else if (addr >= v->end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

static mm_page_state vma_page(const snapshot *s, const snap_vma *v, uint64_t addr)
{
	if (addr < v->page_lo || addr >= v->page_hi)
		return (mm_page_state)SNAP_PAGE_UNKNOWN;
	guint i = v->first_page + (guint)((addr - v->page_lo) >> MM_PAGE_SHIFT);
	return i < s->pages->len ? (mm_page_state)g_array_index(s->pages, guint8, i) : MM_PAGE_NONE;
}

mm_page_state snapshot_page(const snapshot *s, uint64_t addr)
{
	const snap_vma *v = find_vma(s, addr);
	return v ? vma_page(s, v, addr) : MM_PAGE_NONE;
}

/* ---- Rendering ------------------------------------------------------------------ */

/* Lowercase hex, at least mindigits digits (printf's %0Nx without printf:
 * the observations of every statement go through here). */
static void append_hex(GString *out, uint64_t v, int mindigits)
{
	char buf[17];
	int n = 0;
	do {
		buf[16 - n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n < mindigits && n < 16)
		buf[16 - n++] = '0';
	g_string_append_len(out, buf + 17 - n, n);
}

static void append_dec(GString *out, uint64_t v)
{
	char buf[20];
	int n = 0;
	do {
		buf[19 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	g_string_append_len(out, buf + 20 - n, n);
}

static void render_range(GString *out, uint64_t start, uint64_t end)
{
	append_hex(out, start, 8);
	g_string_append_c(out, '-');
	append_hex(out, end, 8);
}

static void render_flags(GString *out, uint64_t flags, unsigned kernel_version)
{
	char buf[256];
	size_t n = mm_format_vmflags_for(flags, kernel_version, buf, sizeof(buf));
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	buf[n] = '\0';
	while (n && buf[n - 1] == ' ')
		buf[--n] = '\0';
	if (n)
		g_string_append_printf(out, " %s", buf);
}

static void render_backing(GString *out, const trace *t, const snap_vma *v, uint32_t shmem_no)
{
	switch (v->backing) {
	case MM_BACKING_ANON:
		g_string_append(out, "anon");
		break;
	case MM_BACKING_SHMEM:
		g_string_append_printf(out, "shmem:%u", shmem_no);
		break;
	case MM_BACKING_FILE:
		if (t && v->object >= 1 && v->object <= t->files->len)
			g_string_append_printf(out, "file:%s", g_array_index(t->files, tr_file, v->object - 1).name);
		else
			g_string_append_printf(out, "file:#%u", v->object);
		break;
	}
}

static void render_maps_line(GString *out, const trace *t, const snap_vma *v, uint32_t shmem_no)
{
	char perms[5];
	mm_format_perms(v->flags, perms);
	render_range(out, v->start, v->end);
	g_string_append_c(out, ' ');
	g_string_append_len(out, perms, 4);
	g_string_append_c(out, ' ');
	append_hex(out, v->offset, 8);
	g_string_append_c(out, ' ');
	render_backing(out, t, v, shmem_no);
}

void snapshot_render_vma(GString *out, const snapshot *s, const trace *t, const snap_vma *v, uint32_t shmem_no,
                         gboolean with_pages)
{
	render_maps_line(out, t, v, shmem_no);
	render_flags(out, v->flags, s->kernel_version);
	if (!with_pages)
		return;
	g_string_append(out, " :");
	uint64_t n = (v->end - v->start) >> MM_PAGE_SHIFT;
	uint64_t i = 0;
	if (n)
		g_string_append_c(out, ' ');
	while (i < n) {
		guint8 st = (guint8)vma_page(s, v, v->start + (i << MM_PAGE_SHIFT));
		uint64_t j = i + 1;
		while (j < n && (guint8)vma_page(s, v, v->start + (j << MM_PAGE_SHIFT)) == st)
			j++;
		g_string_append_c(out, st < 5 ? page_letters[st] : '?');
		append_dec(out, j - i);
		i = j;
	}
}

void snap_shmem_numbering_init(snap_shmem_numbering *sn)
{
	sn->n = 0;
	sn->next = 1;
	sn->more = NULL;
}

uint32_t snap_shmem_number(snap_shmem_numbering *sn, uint32_t object)
{
	for (guint i = 0; i < sn->n; i++)
		if (sn->key[i] == object)
			return sn->no[i];
	if (sn->n < SNAP_SHMEM_INLINE) {
		sn->key[sn->n] = object;
		sn->no[sn->n++] = sn->next;
		return sn->next++;
	}
	if (!sn->more)
		sn->more = g_hash_table_new(g_direct_hash, g_direct_equal);
	gpointer key = GUINT_TO_POINTER(object + 1u);
	gpointer val = g_hash_table_lookup(sn->more, key);
	if (!val) {
		val = GUINT_TO_POINTER(sn->next++);
		g_hash_table_insert(sn->more, key, val);
	}
	return GPOINTER_TO_UINT(val);
}

void snap_shmem_numbering_fini(snap_shmem_numbering *sn)
{
	if (sn->more)
		g_hash_table_unref(sn->more);
	sn->more = NULL;
}

/* N of shmem:N for every VMA, by order of first appearance in the listing:
 * in buf when it has room for every VMA, else allocated (free_shmem_numbers). */
#define SHMEM_NUMBERS_BUF 128
static uint32_t *shmem_numbers(const snapshot *s, uint32_t *buf)
{
	guint n = s->vmas->len;
	uint32_t *no = n + 1 <= SHMEM_NUMBERS_BUF ? buf : g_new(uint32_t, n + 1);
	snap_shmem_numbering sn;
	snap_shmem_numbering_init(&sn);
	for (guint i = 0; i < n; i++) {
		const snap_vma *v = &g_array_index(s->vmas, snap_vma, i);
		no[i] = v->backing == MM_BACKING_SHMEM ? snap_shmem_number(&sn, v->object) : 0;
	}
	no[n] = 0;
	snap_shmem_numbering_fini(&sn);
	return no;
}

static void free_shmem_numbers(uint32_t *no, uint32_t *buf)
{
	if (no != buf)
		g_free(no);
}

static void add_line(GPtrArray *lines, GString *g)
{
	g_ptr_array_add(lines, g_strdup(g->str));
	g_string_truncate(g, 0);
}

static void print_page_addr(GString *out, const trace *t, uint64_t a)
{
	if (t && a >= t->arena_base && a - t->arena_base < t->arena_size) {
		g_string_append(out, "+0x");
		append_hex(out, a - t->arena_base, 1);
	} else {
		g_string_append(out, "0x");
		append_hex(out, a, 1);
	}
}

void snapshot_render(const snapshot *s, const trace *t, const tr_stmt *obs, GPtrArray *lines)
{
	GString *g = g_string_new(NULL);
	if (obs->kind == TR_PAGES) {
		uint64_t start = obs->addr & ~(MM_PAGE_SIZE - 1);
		uint64_t end = obs->addr + obs->len;
		if (end > UINT64_MAX - (MM_PAGE_SIZE - 1))
			end = UINT64_MAX & ~(MM_PAGE_SIZE - 1);
		else
			end = (end + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
		for (uint64_t a = start; a < end; a += MM_PAGE_SIZE) {
			print_page_addr(g, t, a);
			g_string_append_c(g, ' ');
			g_string_append(g, tr_page_state_name(snapshot_page(s, a)));
			add_line(lines, g);
			if (a + MM_PAGE_SIZE < a)
				break;
		}
		g_string_free(g, TRUE);
		return;
	}
	uint32_t nobuf[SHMEM_NUMBERS_BUF];
	uint32_t *no = shmem_numbers(s, nobuf);
	for (guint i = 0; i < s->vmas->len; i++) {
		const snap_vma *v = &g_array_index(s->vmas, snap_vma, i);
		switch (obs->kind) {
		case TR_MAPS:
			render_maps_line(g, t, v, no[i]);
			break;
		case TR_SMAPS:
			render_range(g, v->start, v->end);
			render_flags(g, v->flags, s->kernel_version);
			break;
		case TR_STATE:
			snapshot_render_vma(g, s, t, v, no[i], TRUE);
			break;
		default:
			break;
		}
		if (g->len)
			add_line(lines, g);
	}
	free_shmem_numbers(no, nobuf);
	g_string_free(g, TRUE);
}

/* ---- Parsing `state` -------------------------------------------------------------- */

static gboolean G_GNUC_PRINTF(3, 4) state_fail(GError **error, guint lineno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "state line %u: %s", lineno, what);
	g_free(what);
	return FALSE;
}

static gboolean parse_hex(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (s == end)
		return FALSE;
	for (; s < end; s++) {
		int d = g_ascii_xdigit_value(*s);
		if (d < 0 || v > (UINT64_MAX >> 4))
			return FALSE;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return TRUE;
}

static gboolean parse_state_line(snapshot *s, const trace *t, const char *line, guint lineno, GError **error)
{
	char **tok = g_strsplit_set(line, " \t", -1);
	GPtrArray *a = g_ptr_array_new();
	gboolean ok = FALSE;
	guint8 *pages = NULL;
	for (char **p = tok; *p; p++)
		if (**p)
			g_ptr_array_add(a, *p);
	char **w = (char **)a->pdata;
	guint n = a->len;
	snap_vma v = {0};

	if (n < 6) {
		state_fail(error, lineno, "too few fields in '%s'", line);
		goto out;
	}
	const char *dash = strchr(w[0], '-');
	if (!dash || !parse_hex(w[0], dash, &v.start) || !parse_hex(dash + 1, dash + strlen(dash), &v.end) ||
	    v.start >= v.end || ((v.start | v.end) & (MM_PAGE_SIZE - 1))) {
		state_fail(error, lineno, "bad range '%s'", w[0]);
		goto out;
	}
	/* A state lists the VMAs inside the arena: an answer cannot make the
	 * harness describe more than the arena (or the snapshot limit). */
	if (t && (v.start < t->arena_base || v.end > t->arena_base + t->arena_size)) {
		state_fail(error, lineno, "VMA %s is not inside the arena", w[0]);
		goto out;
	}
	if (s->vmas->len && g_array_index(s->vmas, snap_vma, s->vmas->len - 1).end > v.start) {
		state_fail(error, lineno, "VMA %s is not after the previous one", w[0]);
		goto out;
	}
	if (!parse_hex(w[2], w[2] + strlen(w[2]), &v.offset)) {
		state_fail(error, lineno, "bad offset '%s'", w[2]);
		goto out;
	}
	if (strcmp(w[3], "anon") == 0) {
		v.backing = MM_BACKING_ANON;
	} else if (strncmp(w[3], "shmem:", 6) == 0) {
		guint64 no;
		if (!g_ascii_string_to_unsigned(w[3] + 6, 10, 1, G_MAXUINT32, &no, NULL)) {
			state_fail(error, lineno, "bad backing '%s'", w[3]);
			goto out;
		}
		v.backing = MM_BACKING_SHMEM;
		v.object = (uint32_t)no;
	} else if (strncmp(w[3], "file:", 5) == 0) {
		v.backing = MM_BACKING_FILE;
		for (guint i = 0; t && i < t->files->len; i++)
			if (strcmp(g_array_index(t->files, tr_file, i).name, w[3] + 5) == 0)
				v.object = i + 1;
		if (!v.object) {
			state_fail(error, lineno, "unknown file in '%s'", w[3]);
			goto out;
		}
	} else {
		state_fail(error, lineno, "bad backing '%s'", w[3]);
		goto out;
	}
	guint i = 4;
	for (; i < n && strcmp(w[i], ":") != 0; i++) {
		size_t k;
		for (k = 0; k < G_N_ELEMENTS(vmflag_names); k++)
			if (strcmp(vmflag_names[k].mn, w[i]) == 0)
				break;
		/* Linux 6.1 has no mnemonic for VM_LOCKONFAULT and prints "??"
		 * ("lf" came in 6.2, 8614d6c5eda0); no other flag of a trace
		 * lacks one there (docs/versions.md). */
		if (k == G_N_ELEMENTS(vmflag_names) && strcmp(w[i], "??") == 0) {
			v.flags |= 1ull << 19;
			continue;
		}
		if (k == G_N_ELEMENTS(vmflag_names)) {
			state_fail(error, lineno, "unknown VmFlags mnemonic '%s'", w[i]);
			goto out;
		}
		v.flags |= 1ull << vmflag_names[k].bit;
	}
	if (i + 2 != n) {
		state_fail(error, lineno, "expected ': PAGES' at the end of '%s'", line);
		goto out;
	}
	char perms[5];
	mm_format_perms(v.flags, perms);
	if (strlen(w[1]) != 4 || memcmp(perms, w[1], 4) != 0) {
		state_fail(error, lineno, "permissions '%s' do not match the flags (%.4s)", w[1], perms);
		goto out;
	}
	uint64_t npages = (v.end - v.start) >> MM_PAGE_SHIFT;
	if (!snapshot_has_room(s, npages)) {
		state_fail(error, lineno,
		           "VMA %s takes the snapshot past its limit of %" G_GUINT64_FORMAT " pages (--max-snapshot-pages)",
		           w[0], (guint64)tr_limit.max_snapshot_pages);
		goto out;
	}
	pages = g_malloc(npages ? npages : 1);
	uint64_t got = 0;
	for (const char *p = w[i + 1]; *p;) {
		const char *l = strchr(page_letters, *p);
		if (!l) {
			state_fail(error, lineno, "bad page state '%c' in '%s'", *p, w[i + 1]);
			goto out;
		}
		p++;
		uint64_t cnt = 0;
		if (!g_ascii_isdigit(*p)) {
			state_fail(error, lineno, "missing count in '%s'", w[i + 1]);
			goto out;
		}
		while (g_ascii_isdigit(*p)) {
			cnt = cnt * 10 + (uint64_t)(*p - '0');
			if (cnt > npages) {
				state_fail(error, lineno, "more pages than the VMA has in '%s'", w[i + 1]);
				goto out;
			}
			p++;
		}
		if (cnt == 0 || got + cnt > npages) {
			state_fail(error, lineno, "bad page count in '%s'", w[i + 1]);
			goto out;
		}
		memset(pages + got, (int)(l - page_letters), cnt);
		got += cnt;
	}
	if (got != npages) {
		state_fail(error, lineno, "%" G_GINT64_MODIFIER "u page states for a VMA of %" G_GINT64_MODIFIER "u pages",
		           got, npages);
		goto out;
	}
	snapshot_add_vma(s, &v, pages);
	ok = TRUE;
out:
	g_free(pages);
	g_ptr_array_unref(a);
	g_strfreev(tok);
	return ok;
}

gboolean snapshot_parse_state(snapshot *s, const trace *t, GPtrArray *lines, GError **error)
{
	snapshot_clear(s);
	for (guint i = 0; i < lines->len; i++) {
		const char *l = g_ptr_array_index(lines, i);
		if (!parse_state_line(s, t, l, i + 1, error)) {
			snapshot_clear(s);
			return FALSE;
		}
	}
	return TRUE;
}

/* ---- Comparison -------------------------------------------------------------------- */

static void describe_vma(GString *out, const snapshot *s, const trace *t, const snap_vma *v, uint32_t no)
{
	snapshot_render_vma(out, s, t, v, no, TRUE);
}

char *snapshot_diff_labeled(const snapshot *a, const char *la, const snapshot *b, const char *lb, const trace *t)
{
	uint32_t bufa[SHMEM_NUMBERS_BUF], bufb[SHMEM_NUMBERS_BUF];
	uint32_t *na = shmem_numbers(a, bufa), *nb = shmem_numbers(b, bufb);
	GString *out = g_string_new(NULL);
	guint n = MIN(a->vmas->len, b->vmas->len);
	int w = (int)MIN(MAX(strlen(la), strlen(lb)), 16); /* long exec: names are not padded */
	for (guint i = 0; i < n && !out->len; i++) {
		const snap_vma *va = &g_array_index(a->vmas, snap_vma, i);
		const snap_vma *vb = &g_array_index(b->vmas, snap_vma, i);
		const char *field = NULL;
		if (va->start != vb->start)
			field = "start";
		else if (va->end != vb->end)
			field = "end";
		else if (va->flags != vb->flags)
			field = "flags";
		else if (va->offset != vb->offset)
			field = "offset";
		else if (va->backing != vb->backing || (va->backing == MM_BACKING_FILE && va->object != vb->object) ||
		         (va->backing == MM_BACKING_SHMEM && na[i] != nb[i]))
			field = "backing";
		if (field) {
			g_string_append_printf(out, "VMA #%u differs in its %s:\n  %-*s | ", i + 1, field, w, la);
			describe_vma(out, a, t, va, na[i]);
			g_string_append_printf(out, "\n  %-*s | ", w, lb);
			describe_vma(out, b, t, vb, nb[i]);
			if (strcmp(field, "flags") == 0) {
				GString *fa = g_string_new(NULL), *fb = g_string_new(NULL);
				render_flags(fa, va->flags & ~vb->flags, 0);
				render_flags(fb, vb->flags & ~va->flags, 0);
				g_string_append_printf(out, "\n  only %s:%s; only %s:%s", la, fa->len ? fa->str : " -", lb,
				                       fb->len ? fb->str : " -");
				g_string_free(fa, TRUE);
				g_string_free(fb, TRUE);
			}
			break;
		}
		/* Equal records: compare the pages both hold, at once when equal. */
		uint64_t plo = MAX(va->page_lo, vb->page_lo), phi = MIN(va->page_hi, vb->page_hi);
		if (plo >= phi)
			continue;
		const guint8 *ra = &g_array_index(a->pages, guint8, va->first_page) + ((plo - va->page_lo) >> MM_PAGE_SHIFT);
		const guint8 *rb = &g_array_index(b->pages, guint8, vb->first_page) + ((plo - vb->page_lo) >> MM_PAGE_SHIFT);
		if (memcmp(ra, rb, (size_t)((phi - plo) >> MM_PAGE_SHIFT)) == 0)
			continue;
		for (uint64_t p = plo; p < phi; p += MM_PAGE_SIZE) {
			mm_page_state pa = vma_page(a, va, p), pb = vma_page(b, vb, p);
			if (pa != pb) {
				GString *addr = g_string_new(NULL);
				print_page_addr(addr, t, p);
				g_string_append_printf(out, "page %s of VMA #%u differs: %s %s, %s %s\n  %-*s | ", addr->str,
				                       i + 1, la, tr_page_state_name(pa), lb, tr_page_state_name(pb), w, la);
				describe_vma(out, a, t, va, na[i]);
				g_string_append_printf(out, "\n  %-*s | ", w, lb);
				describe_vma(out, b, t, vb, nb[i]);
				g_string_free(addr, TRUE);
				break;
			}
		}
	}
	if (!out->len && a->vmas->len != b->vmas->len) {
		const snapshot *more = a->vmas->len > b->vmas->len ? a : b;
		const uint32_t *nm = more == a ? na : nb;
		g_string_append_printf(out, "%s has %u VMAs, %s has %u; VMA #%u only in %s:\n  %-*s | ", la, a->vmas->len,
		                       lb, b->vmas->len, n + 1, more == a ? la : lb, w, more == a ? la : lb);
		describe_vma(out, more, t, &g_array_index(more->vmas, snap_vma, n), nm[n]);
	}
	free_shmem_numbers(na, bufa);
	free_shmem_numbers(nb, bufb);
	if (!out->len) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* ---- Windows ------------------------------------------------------------------------ */

static gint range_cmp(gconstpointer a, gconstpointer b)
{
	const snap_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void snap_ranges_normalize(GArray *ranges)
{
	if (ranges->len < 2)
		return;
	g_array_sort(ranges, range_cmp);
	guint o = 0;
	for (guint i = 1; i < ranges->len; i++) {
		snap_range *last = &g_array_index(ranges, snap_range, o);
		const snap_range *r = &g_array_index(ranges, snap_range, i);
		if (r->lo <= last->hi + 2 * SNAP_WINDOW_MARGIN && last->hi + 2 * SNAP_WINDOW_MARGIN > last->hi) {
			last->hi = MAX(last->hi, r->hi);
		} else {
			o++;
			g_array_index(ranges, snap_range, o) = *r;
		}
	}
	g_array_set_size(ranges, o + 1);
}

gboolean snap_window_hull(uint64_t start, uint64_t end, const snap_range *r, guint nr, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = UINT64_MAX, h = 0;
	for (guint i = 0; i < nr; i++) {
		uint64_t a = MAX(start, r[i].lo), b = MIN(end, r[i].hi);
		if (a < b) {
			l = MIN(l, a);
			h = MAX(h, b);
		}
	}
	if (l >= h)
		return FALSE;
	*lo = l;
	*hi = h;
	return TRUE;
}

void snapshot_window_extract(snapshot *out, const snapshot *full, const snap_range *r, guint nr)
{
	snapshot_clear(out);
	guint nv = full->vmas->len;
	for (guint i = 0; i < nv; i++) {
		const snap_vma *v = &g_array_index(full->vmas, snap_vma, i);
		gboolean in = FALSE;
		for (guint k = 0; k < nr && !in; k++)
			in = v->start < r[k].hi + SNAP_WINDOW_MARGIN && v->end + SNAP_WINDOW_MARGIN > r[k].lo;
		if (!in)
			continue;
		snap_vma w = *v;
		uint64_t lo, hi;
		if (!snap_window_hull(MAX(v->start, v->page_lo), MIN(v->end, v->page_hi), r, nr, &lo, &hi))
			lo = hi = v->start;
		w.page_lo = lo;
		w.page_hi = hi;
		const guint8 *pages = lo < hi ? &g_array_index(full->pages, guint8, v->first_page) +
		                                        ((lo - v->page_lo) >> MM_PAGE_SHIFT)
		                              : NULL;
		snapshot_add_vma_window(out, &w, pages);
	}
}

void snapshot_copy(snapshot *out, const snapshot *in)
{
	snapshot_clear(out);
	g_array_append_vals(out->vmas, in->vmas->data, in->vmas->len);
	g_array_append_vals(out->pages, in->pages->data, in->pages->len);
	out->kernel_version = in->kernel_version;
}

static gboolean overlaps_window(const snap_vma *v, const snapshot *win, const snap_range *r, guint nr)
{
	for (guint k = 0; k < nr; k++)
		if (v->start < r[k].hi + SNAP_WINDOW_MARGIN && v->end + SNAP_WINDOW_MARGIN > r[k].lo)
			return TRUE;
	for (guint i = 0; i < win->vmas->len; i++) {
		const snap_vma *w = &g_array_index(win->vmas, snap_vma, i);
		if (v->start < w->end && w->start < v->end)
			return TRUE;
	}
	return FALSE;
}

void snapshot_apply_window(snapshot *s, const snapshot *win, const snap_range *r, guint nr)
{
	snapshot out;
	snapshot_init(&out);
	out.kernel_version = win->kernel_version ? win->kernel_version : s->kernel_version;
	GByteArray *buf = g_byte_array_new();
	guint i = 0, j = 0, ns = s->vmas->len, nw = win->vmas->len;
	while (i < ns || j < nw) {
		const snap_vma *a = i < ns ? &g_array_index(s->vmas, snap_vma, i) : NULL;
		const snap_vma *b = j < nw ? &g_array_index(win->vmas, snap_vma, j) : NULL;
		if (a && (!b || a->start < b->start)) {
			i++;
			if (!overlaps_window(a, win, r, nr))
				snapshot_add_vma_window(&out, a,
				                        a->page_hi > a->page_lo
				                                ? &g_array_index(s->pages, guint8, a->first_page)
				                                : NULL);
			continue;
		}
		/* b: its whole record, its pages from win where held, else from s */
		j++;
		guint np = (guint)((b->end - b->start) >> MM_PAGE_SHIFT);
		g_byte_array_set_size(buf, np);
		for (guint p = 0; p < np; p++) {
			uint64_t addr = b->start + ((uint64_t)p << MM_PAGE_SHIFT);
			if (addr >= b->page_lo && addr < b->page_hi)
				buf->data[p] = g_array_index(win->pages, guint8,
				                             b->first_page + (guint)((addr - b->page_lo) >> MM_PAGE_SHIFT));
			else
				buf->data[p] = find_vma(s, addr) ? (guint8)snapshot_page(s, addr) : SNAP_PAGE_UNKNOWN;
		}
		snapshot_add_vma(&out, b, buf->data);
	}
	g_byte_array_unref(buf);
	snapshot_free(s);
	*s = out;
}

char *snapshot_diff(const snapshot *a, const snapshot *b, const trace *t)
{
	return snapshot_diff_labeled(a, "first", b, "second", t);
}

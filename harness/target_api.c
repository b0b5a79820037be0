/* The in-process targets: one implementation of the target interface over
 * a table of mm_*-shaped functions (the model, the naive oracle). */
#include <string.h>

#include "target_internal.h"
#include "tr_limits.h"

typedef struct api_priv {
	const mm_api *api;
	void *mm;
	GArray *file_ids; /* int: the id of trace file i+1 */
	GArray *vmas;     /* mm_vma_info scratch */
	GArray *pages;    /* guint8 scratch */
	/* The exact changes of the last exec: the VMA records before and after
	 * it (mm_vma_info over the arena) and the ranges of those that differ. */
	GArray *before, *after;
	GArray *changed; /* snap_range */
	uint64_t lo, hi; /* the arena */
} api_priv;

static api_priv *priv_of(const target *tg) { return tg->priv; }
static void list_vmas(api_priv *p, GArray *a);

static void drop_mm(api_priv *p)
{
	if (p->mm)
		p->api->destroy(p->mm);
	p->mm = NULL;
	g_array_set_size(p->file_ids, 0);
}

/* The file's initial contents (`file NAME SIZE fill=|pattern=`), written
 * as mmref-kernel writes them into its memfd: page by page, the whole file. */
static gboolean write_file_contents(api_priv *p, int id, const tr_file *f)
{
	uint64_t words[MM_PAGE_SIZE / 8];
	for (uint64_t off = 0; off < f->size; off += MM_PAGE_SIZE) {
		for (unsigned i = 0; i < G_N_ELEMENTS(words); i++)
			words[i] = tr_file_word(f, off + i * 8);
		if (p->api->file_write(p->mm, id, off, words, G_N_ELEMENTS(words)) != 0)
			return FALSE;
	}
	return TRUE;
}

static gboolean api_start(target *tg, const trace *t, GError **error)
{
	api_priv *p = priv_of(tg);
	mm_config cfg;
	mm_config_default(&cfg);
	/* The profile: the run's base (the documented default, or the live
	 * target's, or the command line's), then the trace's own keys. */
	tr_profile_to_config(&tg->base_profile, &cfg);
	tr_profile_to_config(&t->profile, &cfg);
	/* No-hint mmaps land in the arena: the search runs top-down from its end. */
	cfg.mmap_base = t->arena_base + t->arena_size;
	cfg.mmap_low = t->arena_base;
	/* An address space from the last trace is emptied rather than
	 * re-made where the implementation can (mm_reset: no allocation, no
	 * zeroing of memory it did not use). */
	g_array_set_size(p->file_ids, 0);
	if (p->mm && (!p->api->reset || p->api->reset(p->mm, &cfg) != 0))
		drop_mm(p);
	if (!p->mm)
		p->mm = p->api->create(&cfg);
	if (!p->mm) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: cannot create an address space", tg->name);
		return FALSE;
	}
	for (guint i = 0; i < t->files->len; i++) {
		const tr_file *f = &g_array_index(t->files, tr_file, i);
		int id = p->api->file_create(p->mm, f->size);
		if (id <= 0) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: cannot create file %s (%d)", tg->name,
			            f->name, id);
			drop_mm(p);
			return FALSE;
		}
		g_array_append_val(p->file_ids, id);
		if (f->init != TR_FILE_EMPTY && !write_file_contents(p, id, f)) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: cannot write the contents of file %s",
			            tg->name, f->name);
			drop_mm(p);
			return FALSE;
		}
	}
	/* The kernel target fills the address space around its arena with
	 * PROT_NONE placeholders (a private mapping of an empty file of its own,
	 * so nothing merges with them): mirror the two that touch the arena, so
	 * that growing past either edge is refused here as it is there. */
	uint64_t arena_end = t->arena_base + t->arena_size;
	int holder = p->api->file_create(p->mm, MM_PAGE_SIZE);
	uint64_t fixed = MM_MAP_PRIVATE | MM_MAP_FIXED;
	if (holder <= 0 ||
	    (t->arena_base >= 2 * MM_PAGE_SIZE &&
	     p->api->mmap(p->mm, t->arena_base - MM_PAGE_SIZE, MM_PAGE_SIZE, 0, fixed, holder, 0) < 0) ||
	    (arena_end + MM_PAGE_SIZE <= MM_TASK_SIZE &&
	     p->api->mmap(p->mm, arena_end, MM_PAGE_SIZE, 0, fixed, holder, 0) < 0)) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: cannot fence the arena", tg->name);
		drop_mm(p);
		return FALSE;
	}
	p->lo = t->arena_base;
	p->hi = arena_end;
	list_vmas(p, p->before);
	g_array_set_size(p->changed, 0);
	return TRUE;
}

/* The VMA records over the arena into a (mm_vma_info). */
static void list_vmas(api_priv *p, GArray *a)
{
	g_array_set_size(a, MAX(a->len, 256)); /* not cleared: a capacity */
	size_t n = p->api->vmas(p->mm, p->lo, p->hi, (mm_vma_info *)(void *)a->data, a->len);
	if (n > a->len) {
		g_array_set_size(a, (guint)n);
		n = p->api->vmas(p->mm, p->lo, p->hi, (mm_vma_info *)(void *)a->data, a->len);
	}
	g_array_set_size(a, (guint)n);
}

static gboolean vma_info_equal(const mm_vma_info *a, const mm_vma_info *b)
{
	return a->start == b->start && a->end == b->end && a->flags == b->flags && a->pgoff == b->pgoff &&
	       a->backing == b->backing && a->object == b->object;
}

static void add_changed(api_priv *p, const mm_vma_info *v)
{
	snap_range r = {v->start, v->end};
	g_array_append_val(p->changed, r);
}

/* After an exec: every record of before not in after and of after not in
 * before (a merge walk by start address). */
static void note_changes(api_priv *p)
{
	g_array_set_size(p->changed, 0);
	list_vmas(p, p->after);
	const mm_vma_info *a = (const mm_vma_info *)(const void *)p->before->data;
	const mm_vma_info *b = (const mm_vma_info *)(const void *)p->after->data;
	guint na = p->before->len, nb = p->after->len, i = 0, j = 0;
	while (i < na || j < nb) {
		if (i < na && j < nb && a[i].start == b[j].start) {
			if (!vma_info_equal(&a[i], &b[j])) {
				add_changed(p, &a[i]);
				add_changed(p, &b[j]);
			}
			i++;
			j++;
		} else if (j >= nb || (i < na && a[i].start < b[j].start)) {
			add_changed(p, &a[i++]);
		} else {
			add_changed(p, &b[j++]);
		}
	}
	GArray *tmp = p->before;
	p->before = p->after;
	p->after = tmp;
}

static guint api_changed(target *tg, const snap_range **out)
{
	api_priv *p = priv_of(tg);
	*out = (const snap_range *)(const void *)p->changed->data;
	return p->changed->len;
}

static gboolean need_mm(target *tg, GError **error)
{
	if (priv_of(tg)->mm)
		return TRUE;
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: not started", tg->name);
	return FALSE;
}

static void set_ret(tr_result *res, int64_t ret)
{
	memset(res, 0, sizeof(*res));
	if (ret < 0) {
		res->kind = TR_RES_ERRNO;
		res->err = (int)-ret;
	} else {
		res->kind = TR_RES_VALUE;
		res->value = (uint64_t)ret;
	}
}

static gboolean api_exec(target *tg, const trace *t, const tr_stmt *s, tr_result *res, GError **error)
{
	(void)t;
	if (!need_mm(tg, error))
		return FALSE;
	api_priv *p = priv_of(tg);
	const mm_api *a = p->api;
	void *mm = p->mm;
	switch (s->kind) {
	case TR_MMAP: {
		int file = 0;
		if (s->file > 0 && (guint)s->file <= p->file_ids->len)
			file = g_array_index(p->file_ids, int, s->file - 1);
		set_ret(res, a->mmap(mm, s->addr, s->len, s->prot, s->flags, file, s->off));
		break;
	}
	case TR_MUNMAP:
		set_ret(res, a->munmap(mm, s->addr, s->len));
		break;
	case TR_MPROTECT:
		set_ret(res, a->mprotect(mm, s->addr, s->len, s->prot));
		break;
	case TR_MREMAP:
		set_ret(res, a->mremap(mm, s->addr, s->len, s->new_len, s->flags, s->has_new_addr ? s->new_addr : 0));
		break;
	case TR_MADVISE:
		set_ret(res, a->madvise(mm, s->addr, s->len, s->advice));
		break;
	case TR_MLOCK:
		set_ret(res, a->mlock2(mm, s->addr, s->len, s->flags));
		break;
	case TR_MUNLOCK:
		set_ret(res, a->munlock(mm, s->addr, s->len));
		break;
	case TR_MSEAL:
		set_ret(res, a->mseal(mm, s->addr, s->len, s->flags));
		break;
	case TR_UFFD_REGISTER:
		set_ret(res, a->uffd_register(mm, s->addr, s->len, s->flags));
		break;
	case TR_UFFD_UNREGISTER:
		set_ret(res, a->uffd_unregister(mm, s->addr, s->len));
		break;
	case TR_UFFD_COPY:
		set_ret(res, a->uffd_copy(mm, s->addr, s->len, s->value));
		break;
	case TR_UFFD_ZEROPAGE:
		set_ret(res, a->uffd_zeropage(mm, s->addr, s->len));
		break;
	case TR_UFFD_CONTINUE:
		set_ret(res, a->uffd_continue(mm, s->addr, s->len, s->flags));
		break;
	case TR_UFFD_WAKE:
		set_ret(res, a->uffd_wake(mm, s->addr, s->len));
		break;
	case TR_UFFD_WP:
		set_ret(res, a->uffd_writeprotect(mm, s->addr, s->len, s->flags));
		break;
	case TR_TOUCH: {
		mm_touch_result r = a->touch(mm, s->addr, s->access);
		memset(res, 0, sizeof(*res));
		res->kind = TR_RES_TOUCH;
		res->touch = r;
		/* pf= belongs to the SEGV results only. */
		if (!mm_touch_is_segv(r.outcome))
			res->touch.pf_error = 0;
		break;
	}
	case TR_WRITE:
	case TR_READ: {
		uint64_t value = 0;
		mm_touch_result r = s->kind == TR_WRITE ? a->write(mm, s->addr, s->value) : a->read(mm, s->addr, &value);
		memset(res, 0, sizeof(*res));
		res->kind = TR_RES_TOUCH;
		res->touch = r;
		if (!mm_touch_is_segv(r.outcome))
			res->touch.pf_error = 0;
		if (s->kind == TR_READ && r.outcome == MM_TOUCH_OK) {
			res->kind = TR_RES_DATA;
			res->value = value;
		}
		break;
	}
	case TR_FORK:
		set_ret(res, a->fork(mm));
		break;
	case TR_PROC:
	case TR_EXIT: {
		int n = s->value > INT32_MAX ? INT32_MAX : (int)s->value;
		set_ret(res, s->kind == TR_PROC ? a->proc(mm, n) : a->exit(mm, n));
		break;
	}
	default:
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "%s: '%s' is not an operation", tg->name,
		            tr_kind_name(s->kind));
		return FALSE;
	}
	note_changes(p);
	return TRUE;
}

/* The snapshot of the VMAs in p->vmas[0..n): whole (r NULL) or the window
 * of ranges r[0..nr). */
static gboolean fill_snapshot(target *tg, const trace *t, size_t n, const snap_range *r, guint nr,
                              snapshot *snap, GError **error)
{
	(void)t;
	api_priv *p = priv_of(tg);
	snapshot_clear(snap);
	uint64_t visible = snapshot_visible_vmflags();
	snap_shmem_numbering shmem;
	snap_shmem_numbering_init(&shmem);
	for (size_t i = 0; i < n; i++) {
		const mm_vma_info *vi = &g_array_index(p->vmas, mm_vma_info, i);
		snap_vma v = {
			.start = vi->start,
			.end = vi->end,
			.flags = vi->flags & visible,
			.offset = vi->backing == MM_BACKING_ANON ? 0 : vi->pgoff << MM_PAGE_SHIFT,
			.backing = vi->backing,
		};
		if (vi->backing == MM_BACKING_FILE) {
			v.object = 0x80000000u | vi->object; /* an id the trace did not declare */
			for (guint k = 0; k < p->file_ids->len; k++)
				if ((uint32_t)g_array_index(p->file_ids, int, k) == vi->object)
					v.object = k + 1;
		} else if (vi->backing == MM_BACKING_SHMEM) {
			/* shmem:N numbers objects by first appearance in the listing. */
			v.object = snap_shmem_number(&shmem, vi->object);
		}
		uint64_t plo = vi->start, phi = vi->end;
		if (r && !snap_window_hull(vi->start, vi->end, r, nr, &plo, &phi))
			plo = phi = vi->start;
		v.page_lo = plo;
		v.page_hi = phi;
		uint64_t npages64 = (phi - plo) >> MM_PAGE_SHIFT;
		/* One page state per page: a huge mapping (with --max-arena raised)
		 * is refused rather than exhausting memory. */
		if (!snapshot_has_room(snap, npages64)) {
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
			            "%s: the state takes more than %" G_GUINT64_FORMAT
			            " pages, the snapshot limit (--max-snapshot-pages)",
			            tg->name, (guint64)tr_limit.max_snapshot_pages);
			snapshot_clear(snap);
			snap_shmem_numbering_fini(&shmem);
			return FALSE;
		}
		guint npages = (guint)npages64;
		g_array_set_size(p->pages, npages);
		if (npages)
			p->api->pages(p->mm, plo, npages, (uint8_t *)(void *)p->pages->data);
		snapshot_add_vma_window(snap, &v, (const guint8 *)p->pages->data);
	}
	snap_shmem_numbering_fini(&shmem);
	return TRUE;
}

static gboolean api_snapshot(target *tg, const trace *t, snapshot *snap, GError **error)
{
	if (!need_mm(tg, error))
		return FALSE;
	api_priv *p = priv_of(tg);
	uint64_t lo = t->arena_base, hi = t->arena_base + t->arena_size;
	size_t n = p->api->vmas(p->mm, lo, hi, (mm_vma_info *)(void *)p->vmas->data, p->vmas->len);
	if (n > p->vmas->len) {
		g_array_set_size(p->vmas, (guint)n);
		n = p->api->vmas(p->mm, lo, hi, (mm_vma_info *)(void *)p->vmas->data, p->vmas->len);
	}
	return fill_snapshot(tg, t, n, NULL, 0, snap, error);
}

/* The VMAs overlapping the ranges widened by the margin (sorted, each once),
 * then their pages inside the ranges. */
static gboolean api_snapshot_window(target *tg, const trace *t, const snap_range *r, guint nr, snapshot *snap,
                                    GError **error)
{
	if (!need_mm(tg, error))
		return FALSE;
	api_priv *p = priv_of(tg);
	uint64_t alo = t->arena_base, ahi = t->arena_base + t->arena_size;
	size_t n = 0;
	for (guint k = 0; k < nr; k++) {
		uint64_t lo = MAX(alo, r[k].lo > SNAP_WINDOW_MARGIN ? r[k].lo - SNAP_WINDOW_MARGIN : 0);
		uint64_t hi = MIN(ahi, r[k].hi + SNAP_WINDOW_MARGIN);
		if (lo >= hi)
			continue;
		for (;;) {
			size_t room = p->vmas->len - n;
			size_t got = p->api->vmas(p->mm, lo, hi, (mm_vma_info *)(void *)p->vmas->data + n, room);
			if (got <= room) {
				/* Drop the ones the previous range already listed. */
				const mm_vma_info *all = (const mm_vma_info *)(const void *)p->vmas->data;
				size_t skip = 0;
				while (skip < got && n && all[n + skip].start <= all[n - 1].start)
					skip++;
				if (skip)
					memmove((mm_vma_info *)(void *)p->vmas->data + n,
					        (mm_vma_info *)(void *)p->vmas->data + n + skip, (got - skip) * sizeof(mm_vma_info));
				n += got - skip;
				break;
			}
			g_array_set_size(p->vmas, (guint)(n + got));
		}
	}
	return fill_snapshot(tg, t, n, r, nr, snap, error);
}

gboolean target_observe_from_snapshot(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines,
                                      GError **error)
{
	snapshot snap;
	snapshot_init(&snap);
	gboolean ok = tg->ops->snapshot(tg, t, &snap, error);
	/* /proc's text as the profile's kernel writes it (docs/versions.md, 11). */
	mm_config cfg;
	mm_config_default(&cfg);
	tr_profile_to_config(&tg->base_profile, &cfg);
	tr_profile_to_config(&t->profile, &cfg);
	snap.kernel_version = cfg.kernel_version;
	if (ok)
		snapshot_render(&snap, t, s, lines);
	snapshot_free(&snap);
	return ok;
}

static void api_destroy(target *tg)
{
	api_priv *p = priv_of(tg);
	drop_mm(p);
	g_array_unref(p->file_ids);
	g_array_unref(p->vmas);
	g_array_unref(p->pages);
	g_array_unref(p->before);
	g_array_unref(p->after);
	g_array_unref(p->changed);
	g_free(p);
}

static const target_ops api_ops = {
	.start = api_start,
	.exec = api_exec,
	.snapshot = api_snapshot,
	.observe = target_observe_from_snapshot,
	.destroy = api_destroy,
};

target *target_api_new(const mm_api *api, const char *name)
{
	target *tg = g_new0(target, 1);
	api_priv *p = g_new0(api_priv, 1);
	p->api = api;
	p->file_ids = g_array_new(FALSE, TRUE, sizeof(int));
	p->vmas = g_array_sized_new(FALSE, TRUE, sizeof(mm_vma_info), 64);
	g_array_set_size(p->vmas, 64);
	p->pages = g_array_new(FALSE, TRUE, sizeof(guint8));
	p->before = g_array_sized_new(FALSE, FALSE, sizeof(mm_vma_info), 256);
	p->after = g_array_sized_new(FALSE, FALSE, sizeof(mm_vma_info), 256);
	p->changed = g_array_new(FALSE, TRUE, sizeof(snap_range));
	tg->ops = &api_ops;
	tg->snapshot_window = api_snapshot_window;
	tg->changed = api_changed;
	tg->name = g_strdup(name);
	tg->priv = p;
	tg->adapts_profile = TRUE;
	tr_profile_default(&tg->base_profile);
	return tg;
}

void *target_api_handle(const target *tg)
{
	return tg->ops == &api_ops ? priv_of(tg)->mm : NULL;
}

const mm_api *target_api_of(const target *tg)
{
	return tg->ops == &api_ops ? priv_of(tg)->api : NULL;
}

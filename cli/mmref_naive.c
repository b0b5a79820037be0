/* mmref-naive: the naive oracle as an external target, speaking the exec
 * protocol (docs/exec-protocol.md) on standard input and output.
 *
 * This is the worked example for implementers: replace the naive_* calls
 * with your own implementation and `mmref diff --targets model,exec:./yours`
 * checks it. It is a target (harness/target.h: start, exec, snapshot) served
 * by the harness's protocol loop (harness/serve.c, the loop `mmref serve`
 * runs), which parses each line (trace_parser_feed), prints the results and
 * renders the snapshots; all this file does is the mapping from statements
 * to system calls and from the naive address space to a snapshot. The
 * protocol, as serve.h has it:
 *
 *   mmtrace 1 / arena / file   echoed; the next operation starts afresh
 *   operation                  "STATEMENT => RESULT"
 *   observation                "STATEMENT" then one "| LINE" per line
 *   bad line                   "# error: WHAT"
 *   every answer               ends with an empty line
 */
#include <stdio.h>
#include <string.h>

#include "naive.h"
#include "serve.h"
#include "snapshot.h"
#include "target.h"
#include "trace.h"

typedef struct session {
	naive_mm *mm; /* NULL until the first operation after a directive */
	GArray *file_ids; /* int: naive's id of trace file i + 1 */
} session;

/* A fresh address space for t: its arena, its files, and a PROT_NONE page
 * right outside each end of the arena, as mmref-kernel's placeholders are
 * there (so that nothing grows or merges across the arena's edges). */
static gboolean session_start(session *ss, const trace *t)
{
	if (ss->mm)
		naive_destroy(ss->mm);
	ss->mm = NULL;
	g_array_set_size(ss->file_ids, 0);
	mm_config cfg;
	mm_config_default(&cfg);
	cfg.mmap_base = t->arena_base + t->arena_size; /* no-hint mmaps land in the arena, top-down */
	cfg.mmap_low = t->arena_base;
	ss->mm = naive_create(&cfg);
	if (!ss->mm)
		return FALSE;
	for (guint i = 0; i < t->files->len; i++) {
		int id = naive_file_create(ss->mm, g_array_index(t->files, tr_file, i).size);
		if (id <= 0)
			return FALSE;
		g_array_append_val(ss->file_ids, id);
		const tr_file *f = &g_array_index(t->files, tr_file, i);
		uint64_t words[MM_PAGE_SIZE / 8];
		for (uint64_t off = 0; f->init != TR_FILE_EMPTY && off < f->size; off += MM_PAGE_SIZE) {
			for (unsigned w = 0; w < G_N_ELEMENTS(words); w++)
				words[w] = tr_file_word(f, off + w * 8);
			if (naive_file_write(ss->mm, id, off, words, G_N_ELEMENTS(words)) != 0)
				return FALSE;
		}
	}
	int fence = naive_file_create(ss->mm, MM_PAGE_SIZE);
	uint64_t end = t->arena_base + t->arena_size, fixed = MM_MAP_PRIVATE | MM_MAP_FIXED;
	if (fence <= 0)
		return FALSE;
	if (t->arena_base >= 2 * MM_PAGE_SIZE &&
	    naive_mmap(ss->mm, t->arena_base - MM_PAGE_SIZE, MM_PAGE_SIZE, 0, fixed, fence, 0) < 0)
		return FALSE;
	if (end + MM_PAGE_SIZE <= MM_TASK_SIZE && naive_mmap(ss->mm, end, MM_PAGE_SIZE, 0, fixed, fence, 0) < 0)
		return FALSE;
	return TRUE;
}

static tr_result sys_result(int64_t ret)
{
	tr_result r = {.kind = ret < 0 ? TR_RES_ERRNO : TR_RES_VALUE};
	if (ret < 0)
		r.err = (int)-ret;
	else
		r.value = (uint64_t)ret;
	return r;
}

/* One operation: the system call it names, on the naive address space. */
static tr_result run_op(session *ss, const tr_stmt *s)
{
	naive_mm *mm = ss->mm;
	switch (s->kind) {
	case TR_MMAP: {
		int file = s->file > 0 ? g_array_index(ss->file_ids, int, s->file - 1) : 0;
		return sys_result(naive_mmap(mm, s->addr, s->len, s->prot, s->flags, file, s->off));
	}
	case TR_MUNMAP:
		return sys_result(naive_munmap(mm, s->addr, s->len));
	case TR_MPROTECT:
		return sys_result(naive_mprotect(mm, s->addr, s->len, s->prot));
	case TR_MREMAP:
		return sys_result(
		        naive_mremap(mm, s->addr, s->len, s->new_len, s->flags, s->has_new_addr ? s->new_addr : 0));
	case TR_MADVISE:
		return sys_result(naive_madvise(mm, s->addr, s->len, s->advice));
	case TR_MLOCK:
		return sys_result(naive_mlock2(mm, s->addr, s->len, s->flags));
	case TR_MUNLOCK:
		return sys_result(naive_munlock(mm, s->addr, s->len));
	case TR_MSEAL:
		return sys_result(naive_mseal(mm, s->addr, s->len, s->flags));
	case TR_FORK:
		return sys_result(naive_fork(mm));
	case TR_PROC:
	case TR_EXIT: {
		int n = s->value > INT32_MAX ? INT32_MAX : (int)s->value;
		return sys_result(s->kind == TR_PROC ? naive_proc(mm, n) : naive_exit(mm, n));
	}
	case TR_WRITE:
	case TR_READ: {
		uint64_t value = 0;
		tr_result r = {.kind = TR_RES_TOUCH,
		               .touch = s->kind == TR_WRITE ? naive_write(mm, s->addr, s->value)
		                                            : naive_read(mm, s->addr, &value)};
		if (!mm_touch_is_segv(r.touch.outcome))
			r.touch.pf_error = 0;
		if (s->kind == TR_READ && r.touch.outcome == MM_TOUCH_OK)
			r = (tr_result){.kind = TR_RES_DATA, .value = value};
		return r;
	}
	default: { /* TR_TOUCH */
		tr_result r = {.kind = TR_RES_TOUCH, .touch = naive_touch(mm, s->addr, s->access)};
		if (!mm_touch_is_segv(r.touch.outcome))
			r.touch.pf_error = 0; /* pf= belongs to the SEGV results only */
		return r;
	}
	}
}

/* The VMAs and page states inside the arena as a snapshot, which the
 * harness renders as maps, smaps, pages or state. */
static void take_snapshot(session *ss, const trace *t, snapshot *snap)
{
	uint64_t lo = t->arena_base, hi = t->arena_base + t->arena_size;
	size_t n = naive_vmas(ss->mm, lo, hi, NULL, 0);
	mm_vma_info *vi = g_new0(mm_vma_info, n ? n : 1);
	naive_vmas(ss->mm, lo, hi, vi, n);
	GHashTable *shmem = g_hash_table_new(g_direct_hash, g_direct_equal); /* object -> N of shmem:N */
	for (size_t i = 0; i < n; i++) {
		snap_vma v = {
		        .start = vi[i].start,
		        .end = vi[i].end,
		        .flags = vi[i].flags & snapshot_visible_vmflags(),
		        .offset = vi[i].backing == MM_BACKING_ANON ? 0 : vi[i].pgoff << MM_PAGE_SHIFT,
		        .backing = vi[i].backing,
		};
		if (vi[i].backing == MM_BACKING_FILE) {
			for (guint k = 0; k < ss->file_ids->len; k++)
				if ((uint32_t)g_array_index(ss->file_ids, int, k) == vi[i].object)
					v.object = k + 1;
		} else if (vi[i].backing == MM_BACKING_SHMEM) {
			gpointer key = GUINT_TO_POINTER(vi[i].object + 1u);
			if (!g_hash_table_contains(shmem, key))
				g_hash_table_insert(shmem, key, GUINT_TO_POINTER(g_hash_table_size(shmem) + 1));
			v.object = GPOINTER_TO_UINT(g_hash_table_lookup(shmem, key));
		}
		guint npages = (guint)((v.end - v.start) >> MM_PAGE_SHIFT);
		guint8 *pages = g_new(guint8, npages ? npages : 1);
		for (guint k = 0; k < npages; k++)
			pages[k] = (guint8)naive_page(ss->mm, v.start + ((uint64_t)k << MM_PAGE_SHIFT));
		snapshot_add_vma(snap, &v, pages);
		g_free(pages);
	}
	g_hash_table_unref(shmem);
	g_free(vi);
}

/* ---- The target the protocol loop drives ---- */

static gboolean naive_start(target *tg, const trace *t, GError **error)
{
	if (!session_start(tg->priv, t)) {
		g_set_error_literal(error, TRACE_ERROR, TRACE_ERROR_TARGET, "cannot create the address space");
		return FALSE;
	}
	return TRUE;
}

static gboolean naive_exec(target *tg, const trace *t, const tr_stmt *s, tr_result *res, GError **error)
{
	(void)t;
	(void)error;
	*res = run_op(tg->priv, s);
	return TRUE;
}

static gboolean naive_snapshot(target *tg, const trace *t, snapshot *snap, GError **error)
{
	(void)error;
	take_snapshot(tg->priv, t, snap);
	return TRUE;
}

static const target_ops naive_ops = {
        .start = naive_start,
        .exec = naive_exec,
        .snapshot = naive_snapshot,
        .observe = target_observe_from_snapshot, /* snapshot_render: maps, smaps, pages, state */
};

int main(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "usage: %s < TRACE\nThe naive oracle as an exec target (docs/exec-protocol.md).\n",
		        argv[0]);
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	session ss = {.file_ids = g_array_new(FALSE, TRUE, sizeof(int))};
	target tg = {.ops = &naive_ops, .name = "mmref-naive", .priv = &ss};
	serve_run(&tg, stdin, stdout);
	if (ss.mm)
		naive_destroy(ss.mm);
	g_array_unref(ss.file_ids);
	return 0;
}

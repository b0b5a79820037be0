/* The trace check (tracecheck.h): a trace's page tables, as the model's
 * Linux fault path built them, walked by the KVM guest's MMU. */
#define _POSIX_C_SOURCE 200809L
#include "tracecheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmref/x86.h"
#include "target.h"
#include "trace.h"

#define AREA_WORDS ((size_t)KVM_TABLE_FRAMES * X86_PT_ENTRIES)
#define AREA_FULL UINT64_MAX
#define MAX_WORD_REPORTS 8 /* per guest entry */

typedef struct tc_meta {
	mm_walk_result model; /* the model's walker on the host copy */
	uint32_t snap;	      /* index into texts */
	bool sweep;
	uint64_t vma_start, vma_end; /* sweep: the VMA */
} tc_meta;

struct tc_checker {
	kvm_oracle *o;
	tc_sweep when;
	mm_cpu_mode mode;
	uint64_t *mirror;     /* the host copy of the guest's table area: the model walks here */
	uint8_t *okpath;      /* per word of the area: read by a successful walk */
	uint32_t *frame_snap; /* per frame of the area: the snapshot it belongs to */
	uint64_t next_pfn;    /* first free frame of the area */
	uint32_t *map;	      /* model pfn -> area pfn, for the snapshot being copied */
	size_t map_cap;
	GArray *acc;	  /* kvm_access, pending */
	GArray *meta;	  /* tc_meta, pending */
	kvm_outcome *out; /* KVM_MAX_ACCESSES */
	GPtrArray *texts; /* per snapshot: "FILE:LINE: after `STATEMENT`" */
	/* The trace being checked. */
	tc_stats *st;
	tc_report_fn report;
	void *ctx;
};

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

tc_checker *tc_checker_new(kvm_oracle *o)
{
	tc_checker *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->o = o;
	c->mode = (mm_cpu_mode){.cr0_wp = true,
				.efer_nxe = true,
				.cr4_smep = true,
				.cr4_smap = true,
				.eflags_ac = false,
				.maxphyaddr = (uint8_t)kvm_oracle_maxphyaddr(o)};
	c->mirror = calloc(AREA_WORDS, sizeof(uint64_t));
	c->okpath = calloc(AREA_WORDS, 1);
	c->frame_snap = calloc(KVM_TABLE_FRAMES, sizeof(uint32_t));
	c->out = calloc(KVM_MAX_ACCESSES, sizeof(kvm_outcome));
	c->acc = g_array_new(FALSE, FALSE, sizeof(kvm_access));
	c->meta = g_array_new(FALSE, FALSE, sizeof(tc_meta));
	c->texts = g_ptr_array_new_with_free_func(g_free);
	c->next_pfn = 1;
	if (!c->mirror || !c->okpath || !c->frame_snap || !c->out) {
		tc_checker_free(c);
		return NULL;
	}
	mm_phys_mem g = kvm_oracle_tables(o);
	memset(g.words, 0, AREA_WORDS * sizeof(uint64_t));
	return c;
}

void tc_checker_free(tc_checker *c)
{
	if (!c)
		return;
	free(c->mirror);
	free(c->okpath);
	free(c->frame_snap);
	free(c->out);
	free(c->map);
	g_array_free(c->acc, TRUE);
	g_array_free(c->meta, TRUE);
	g_ptr_array_free(c->texts, TRUE);
	free(c);
}

void tc_checker_set_sweep(tc_checker *c, tc_sweep when) { c->when = when; }

static void report(tc_checker *c, uint32_t snap, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void report(tc_checker *c, uint32_t snap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	const char *where = snap < c->texts->len ? g_ptr_array_index(c->texts, snap) : "?";
	char *line = g_strdup_printf("%s: %s\n", where, what);
	if (c->report)
		c->report(c->ctx, line);
	g_free(line);
	g_free(what);
}

static const char *acc_name(mm_walk_access a)
{
	return a == MM_WALK_WRITE ? "write" : a == MM_WALK_FETCH ? "fetch" : "read";
}

static void describe_model(char *buf, size_t n, const mm_walk_result *r)
{
	if (r->outcome == MM_WALK_OK)
		snprintf(buf, n, "ok (leaf level %u)", r->leaf_level);
	else if (r->outcome == MM_WALK_PF)
		snprintf(buf, n, "#PF %#x", r->pf_error);
	else
		snprintf(buf, n, "#GP");
}

static void describe_kvm(char *buf, size_t n, const kvm_outcome *k)
{
	if (k->vector == KVM_VEC_OK)
		snprintf(buf, n, "ok");
	else if (k->vector == 14)
		snprintf(buf, n, "#PF %#" PRIx64 " cr2 %#" PRIx64, k->error, k->cr2);
	else if (k->vector == 13)
		snprintf(buf, n, "#GP(%#" PRIx64 ")", k->error);
	else if (k->vector == KVM_VEC_NOT_RUN)
		snprintf(buf, n, "not run");
	else
		snprintf(buf, n, "vector %u error %#" PRIx64 " rip %#" PRIx64, k->vector, k->error, k->rip);
}

static bool same_outcome(const mm_walk_result *r, const kvm_outcome *k, uint64_t va)
{
	switch (r->outcome) {
	case MM_WALK_OK:
		return k->vector == KVM_VEC_OK;
	case MM_WALK_PF:
		return k->vector == 14 && k->error == r->pf_error && k->cr2 == va;
	case MM_WALK_GP:
		return k->vector == 13 && k->error == 0;
	}
	return false;
}

/* The guest's table area and the mirror back to empty. */
static void reset_area(tc_checker *c)
{
	mm_phys_mem g = kvm_oracle_tables(c->o);
	size_t words = (size_t)c->next_pfn * X86_PT_ENTRIES;
	memset(g.words, 0, words * sizeof(uint64_t));
	memset(c->mirror, 0, words * sizeof(uint64_t));
	memset(c->okpath, 0, words);
	c->next_pfn = 1;
	g_ptr_array_set_size(c->texts, 0);
	g_array_set_size(c->acc, 0);
	g_array_set_size(c->meta, 0);
}

/* Runs the pending accesses in one guest entry and compares; then the
 * guest's tables are made equal to the mirror again, so later accesses
 * through the same snapshots start from the same words on both sides. */
static int flush(tc_checker *c)
{
	size_t n = c->acc->len;
	if (n == 0)
		return 0;
	double t0 = seconds();
	int rc = kvm_oracle_run(c->o, &c->mode, (const kvm_access *)(void *)c->acc->data, n, c->out);
	c->st->hw_seconds += seconds() - t0;
	if (rc < 0)
		return rc;
	tc_stats *st = c->st;
	for (size_t i = 0; i < n; i++) {
		const kvm_access *a = &g_array_index(c->acc, kvm_access, i);
		const tc_meta *m = &g_array_index(c->meta, tc_meta, i);
		const kvm_outcome *k = &c->out[i];
		if (same_outcome(&m->model, k, a->va))
			continue;
		st->disagree++;
		char mb[64], kb[96];
		describe_model(mb, sizeof(mb), &m->model);
		describe_kvm(kb, sizeof(kb), k);
		if (m->sweep)
			report(c, m->snap,
			       "sweep %s at %#" PRIx64 " (VMA %#" PRIx64 "-%#" PRIx64 "), CPL 3: model %s, kvm %s",
			       acc_name(a->acc), a->va, m->vma_start, m->vma_end, mb, kb);
		else
			report(c, m->snap, "touch %s at %#" PRIx64 " (retried), CPL 3: model %s, kvm %s",
			       acc_name(a->acc), a->va, mb, kb);
	}
	/* The words the MMU and the walker left. */
	mm_phys_mem g = kvm_oracle_tables(c->o);
	size_t words = (size_t)c->next_pfn * X86_PT_ENTRIES, reported = 0;
	for (size_t w = 0; w < words; w++) {
		uint64_t gv = g.words[w], mv = c->mirror[w];
		if (gv == mv)
			continue;
		if ((gv ^ mv) == X86_A && (mv & X86_A) && !c->okpath[w]) {
			st->ad_fault_relaxed++;
			continue;
		}
		st->disagree_words++;
		if (reported++ < MAX_WORD_REPORTS)
			report(c, c->frame_snap[w / X86_PT_ENTRIES],
			       "table word at pa %#zx (entry %zu): model %#" PRIx64
			       ", kvm %#" PRIx64,
			       w * 8, w % X86_PT_ENTRIES, mv, gv);
	}
	memcpy(g.words, c->mirror, words * sizeof(uint64_t));
	memset(c->okpath, 0, words);
	g_array_set_size(c->acc, 0);
	g_array_set_size(c->meta, 0);
	return 0;
}

/* The bits of an entry that hold a frame address of a leaf at level lvl. */
static uint64_t leaf_addr_mask(unsigned maxphyaddr, unsigned lvl)
{
	return x86_addr_mask(maxphyaddr) & ~((1ull << X86_LEVEL_SHIFT(lvl)) - 1);
}

/* A present leaf moved into the data window: the address modulo the
 * window's size (which keeps a large leaf's alignment), every other bit as
 * it was. All of the window reads 0xC3, so which page a leaf names there
 * changes nothing an access can see. */
static uint64_t relocate_leaf(uint64_t e, unsigned maxphyaddr, unsigned lvl)
{
	uint64_t mask = leaf_addr_mask(maxphyaddr, lvl);
	uint64_t pa = KVM_DATA_GPA + ((e & mask) & (KVM_DATA_SIZE - 1ull));
	return (e & ~mask) | pa;
}

/* Copies the model's table frame pfn (a table of level lvl) and the tables
 * below it into the area; its area pfn, or AREA_FULL. */
static uint64_t copy_table(tc_checker *c, const mm_phys_mem *pm, uint64_t pfn, unsigned lvl, uint32_t snap)
{
	if (pfn >= pm->nframes)
		return 0; /* unbacked: reads as zeros, as frame 0 does */
	if (c->map[pfn])
		return c->map[pfn];
	if (c->next_pfn >= KVM_TABLE_FRAMES)
		return AREA_FULL;
	uint64_t np = c->next_pfn++;
	c->map[pfn] = (uint32_t)np;
	c->frame_snap[np] = snap;
	const unsigned M = c->mode.maxphyaddr;
	const uint64_t amask = x86_addr_mask(M);
	for (unsigned i = 0; i < X86_PT_ENTRIES; i++) {
		uint64_t e = pm->words[pfn * X86_PT_ENTRIES + i], v = e;
		if ((e & X86_P) && !(lvl == 4 && (e & X86_PS))) { /* PS in a PML4E: reserved, not followed */
			if (lvl == 1 || ((e & X86_PS) && lvl <= 3)) {
				v = relocate_leaf(e, M, lvl);
			} else {
				uint64_t child = copy_table(c, pm, (e & amask) >> 12, lvl - 1, snap);
				if (child == AREA_FULL)
					return AREA_FULL;
				v = (e & ~amask) | (child << 12);
			}
		}
		c->mirror[np * X86_PT_ENTRIES + i] = v;
	}
	return np;
}

/* The end of the run of pages from va whose walks read the same entries
 * as va's: where the walk stops at a non-present entry, a large leaf or an
 * entry with address bits at or above MAXPHYADDR, the region that entry
 * maps; else the page. */
static uint64_t same_walk_end(const tc_checker *c, uint64_t root, uint64_t va)
{
	const uint64_t amask = x86_addr_mask(c->mode.maxphyaddr);
	const uint64_t high = ((1ull << 52) - 1) & ~amask & ~0xfffull; /* bits 51:M */
	uint64_t pfn = root;
	for (unsigned lvl = 4; lvl >= 1; lvl--) {
		uint64_t e = c->mirror[pfn * X86_PT_ENTRIES + X86_PT_INDEX(va, lvl)];
		uint64_t size = 1ull << X86_LEVEL_SHIFT(lvl);
		uint64_t end = (va & ~(size - 1)) + size;
		uint64_t child = (e & amask) >> 12;
		if (lvl == 1 || !(e & X86_P) || (e & X86_PS) || (e & high) || child == 0 ||
		    child >= KVM_TABLE_FRAMES)
			return end;
		pfn = child;
	}
	return va + 4096;
}

static const mm_walk_result *queue(tc_checker *c, uint64_t root, uint32_t snap, uint64_t va, mm_walk_access acc,
				   bool sweep, uint64_t vs, uint64_t ve, int *rc)
{
	if (c->acc->len >= KVM_MAX_ACCESSES && (*rc = flush(c)) < 0)
		return NULL;
	mm_phys_mem m = {c->mirror, KVM_TABLE_FRAMES};
	tc_meta meta = {.snap = snap, .sweep = sweep, .vma_start = vs, .vma_end = ve};
	meta.model = mm_walk(&m, root << 12, va, acc, 3, &c->mode);
	if (meta.model.outcome == MM_WALK_OK) {
		c->st->ok++;
		for (unsigned i = 0; i < meta.model.nread; i++)
			c->okpath[meta.model.entry_pa[i] / 8] = 1;
	} else if (meta.model.outcome == MM_WALK_PF) {
		c->st->pf++;
	} else {
		c->st->gp++;
	}
	kvm_access a = {.cr3 = root << 12, .va = va, .acc = acc, .user = true, .ac = false};
	g_array_append_val(c->acc, a);
	g_array_append_val(c->meta, meta);
	return &g_array_index(c->meta, tc_meta, c->meta->len - 1).model;
}

static bool user_high(uint64_t va) { return x86_is_canonical48(va) && (va >> 47); }

/* One snapshot of mm's tables, with the retried access of a touch (touch
 * and res, or NULL) and the sweep of the arena's VMAs (sweep). */
static int take_snapshot(tc_checker *c, const mm_state *mm, const trace *t, const char *text, const tr_stmt *touch,
		    const tr_result *res, bool sweep)
{
	mm_phys_mem tables;
	uint64_t cr3;
	mm_page_tables(mm, &tables, &cr3);
	const mm_phys_mem *pm = &tables;
	uint64_t mroot = cr3 >> 12;
	if (pm->nframes > c->map_cap) {
		free(c->map);
		c->map_cap = pm->nframes;
		c->map = malloc(c->map_cap * sizeof(uint32_t));
		if (!c->map) {
			c->map_cap = 0;
			return -ENOMEM;
		}
	}
	int rc = 0;
	uint32_t snap = c->texts->len;
	if (mroot >= pm->nframes || pm->words[mroot * X86_PT_ENTRIES + KVM_HARNESS_SLOT] != 0) {
		g_ptr_array_add(c->texts, g_strdup(text));
		c->st->disagree_words++;
		report(c, snap, "the model's root (pfn %#" PRIx64 ") is unbacked or uses PML4 slot %d: not loaded",
		       mroot, KVM_HARNESS_SLOT);
		return 0;
	}
	uint64_t start = c->next_pfn;
	memset(c->map, 0, pm->nframes * sizeof(uint32_t));
	uint64_t root = copy_table(c, pm, mroot, 4, snap);
	if (root == AREA_FULL) {
		/* Drop the partial copy (the guest never saw it), run what is
		 * pending, and start over in an empty area. */
		memset(c->mirror + start * X86_PT_ENTRIES, 0,
		       (c->next_pfn - start) * X86_PT_ENTRIES * sizeof(uint64_t));
		c->next_pfn = start;
		if ((rc = flush(c)) < 0)
			return rc;
		reset_area(c);
		snap = 0;
		start = 1;
		memset(c->map, 0, pm->nframes * sizeof(uint32_t));
		root = copy_table(c, pm, mroot, 4, snap);
		if (root == AREA_FULL) {
			g_ptr_array_add(c->texts, g_strdup(text));
			c->st->disagree_words++;
			report(c, snap, "the model's tables need more than %d frames: not loaded",
			       KVM_TABLE_FRAMES - 1);
			reset_area(c);
			return 0;
		}
	}
	g_ptr_array_add(c->texts, g_strdup(text));
	c->st->snapshots++;
	mm_phys_mem g = kvm_oracle_tables(c->o);
	memcpy(g.words + start * X86_PT_ENTRIES, c->mirror + start * X86_PT_ENTRIES,
	       (c->next_pfn - start) * X86_PT_ENTRIES * sizeof(uint64_t));

	if (touch) {
		static const mm_walk_access acc_of[] = {MM_WALK_READ, MM_WALK_WRITE, MM_WALK_FETCH};
		mm_walk_access acc = acc_of[touch->access <= MM_ACCESS_EXEC ? touch->access : 0];
		uint64_t va = touch->addr;
		if (user_high(va) && !kvm_oracle_has_user_high(c->o)) {
			c->st->skipped_user_high++;
		} else {
			c->st->touches++;
			c->st->touch_walks++;
			const mm_walk_result *r = queue(c, root, snap, va, acc, false, 0, 0, &rc);
			if (!r)
				return rc;
			/* The walk on the copy against what the touch reported: the
			 * last walk of mm_touch (fault.c) was on the same tables. */
			/* A protection-key refusal (pkeys=on) is not compared: the
			 * KVM guest runs without CR4.PKE. */
			if (res->kind == TR_RES_TOUCH && res->touch.outcome != MM_TOUCH_SEGV_PKUERR && !user_high(va) &&
			    x86_is_canonical48(va)) {
				const mm_touch_result *tr = &res->touch;
				/* SIGBUS carries no error code in the trace; a
				 * SIGSEGV with error code 0 is a #GP. */
				bool agree = tr->outcome == MM_TOUCH_OK ? r->outcome == MM_WALK_OK
					     : tr->outcome == MM_TOUCH_SIGBUS ? r->outcome == MM_WALK_PF
					     : tr->pf_error == 0	      ? r->outcome == MM_WALK_GP
					     : r->outcome == MM_WALK_PF &&
						   (r->pf_error | MM_PF_USER) == tr->pf_error;
				if (!agree) {
					char mb[64];
					describe_model(mb, sizeof(mb), r);
					c->st->disagree_touch++;
					report(c, snap,
					       "touch %s at %#" PRIx64 ": the touch reported outcome %d pf %#x, the "
					       "walk on the loaded tables gives %s",
					       acc_name(acc), va, (int)tr->outcome, tr->pf_error, mb);
				}
			}
		}
	}
	if (sweep) {
		uint64_t lo = t->arena_base, hi = t->arena_base + t->arena_size;
		size_t nv = mm_vmas(mm, lo, hi, NULL, 0);
		mm_vma_info *v = g_new(mm_vma_info, nv ? nv : 1);
		nv = mm_vmas(mm, lo, hi, v, nv);
		for (size_t i = 0; i < nv && rc >= 0; i++) {
			uint64_t s = v[i].start < lo ? lo : v[i].start, e = v[i].end > hi ? hi : v[i].end;
			for (uint64_t va = s; va < e && rc >= 0;) {
				if (user_high(va) && !kvm_oracle_has_user_high(c->o))
					break;
				uint64_t next = same_walk_end(c, root, va);
				if (next > e)
					next = e;
				for (unsigned a = 0; a < 3; a++) {
					if (!queue(c, root, snap, va, (mm_walk_access)a, true, v[i].start, v[i].end, &rc))
						break;
					c->st->sweep_walks++;
					c->st->sweep_pages += (next - va) / 4096;
				}
				va = next;
			}
		}
		g_free(v);
	}
	return rc;
}

int tc_check_trace(tc_checker *c, const char *path, tc_stats *st, tc_report_fn report_fn, void *ctx,
		   GError **error)
{
	trace *t = trace_load(path, error);
	if (!t)
		return 1;
	c->st = st;
	c->report = report_fn;
	c->ctx = ctx;
	target *tg = target_model_new();
	int rc = 0;
	if (!tg->ops->start(tg, t, error)) {
		rc = 1;
		goto out;
	}
	st->traces++;
	GString *text = g_string_new(NULL);
	const tr_stmt *last = NULL;
	for (guint i = 0; i < t->stmts->len && rc == 0; i++) {
		const tr_stmt *s = &g_array_index(t->stmts, tr_stmt, i);
		if (tr_is_observation(s->kind))
			continue;
		tr_result res;
		memset(&res, 0, sizeof(res));
		if (!tg->ops->exec(tg, t, s, &res, error)) {
			rc = 1;
			break;
		}
		st->statements++;
		last = s;
		g_string_printf(text, "%s:%d: after `", path, s->line);
		trace_print_stmt(text, t, s, true);
		g_string_append_c(text, '`');
		bool is_touch = s->kind == TR_TOUCH;
		bool sweep = c->when == TC_SWEEP_EVERY || (c->when == TC_SWEEP_TOUCH && is_touch);
		if (!is_touch && !sweep)
			continue;
		rc = take_snapshot(c, target_model_mm(tg), t, text->str, is_touch ? s : NULL, &res, sweep);
	}
	if (rc == 0 && last && c->when != TC_SWEEP_EVERY) {
		g_string_printf(text, "%s: at the end", path);
		rc = take_snapshot(c, target_model_mm(tg), t, text->str, NULL, NULL, true);
	}
	g_string_free(text, TRUE);
	if (rc == 0)
		rc = flush(c);
	reset_area(c);
out:
	target_free(tg);
	trace_free(t);
	c->st = NULL;
	return rc;
}

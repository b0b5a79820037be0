/* The three-way walk check (walkcheck.h): generator and comparison. */
#define _POSIX_C_SOURCE 200809L
#include "walkcheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmref/x86.h"
#include "walker_naive.h"

const unsigned wc_idx[WC_NIDX] = {0, 1, 255, 256, 511};

/* ---- Randomness: splitmix64, so a case depends on (seed, index) only. ---- */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t next(rng *r)
{
	return mix(r->s += 0x9e3779b97f4a7c15ull);
}
static unsigned below(rng *r, unsigned n)
{
	return (unsigned)(next(r) % n);
}
static bool one_in(rng *r, unsigned n)
{
	return below(r, n) == 0;
}

mm_cpu_mode wc_batch_mode(uint64_t seed, uint64_t batch, unsigned maxphyaddr)
{
	unsigned bits = (unsigned)((batch + mix(seed)) & 15);
	return (mm_cpu_mode){.cr0_wp = bits & 1,
			     .efer_nxe = (bits >> 1) & 1,
			     .cr4_smep = (bits >> 2) & 1,
			     .cr4_smap = (bits >> 3) & 1,
			     .eflags_ac = false,
			     .maxphyaddr = (uint8_t)maxphyaddr};
}

/* Level of frame k of a case: 0,1 PML4 (4); 2,3 PDPT (3); 4,5 PD (2); 6,7 PT (1). */
static unsigned frame_level(unsigned k)
{
	return 4 - k / 2;
}

static uint64_t gen_entry(rng *r, unsigned level, uint64_t base_pfn, unsigned maxphyaddr, bool gbpages)
{
	/* Flags: R/W U/S PWT PCD A D G(8), available 9..11 at random, then
	 * the usual biases for P, U/S, R/W and XD. */
	uint64_t e = next(r) & 0xe7eull;
	if (!one_in(r, 10))
		e |= X86_P;
	e = one_in(r, 4) ? e & ~X86_US : e | X86_US;
	e = one_in(r, 4) ? e & ~X86_RW : e | X86_RW;
	if (one_in(r, 8))
		e |= X86_XD;
	bool leaf = level == 1 || ((level == 3 || level == 2) && one_in(r, 3));
	if (level == 3 && !gbpages)
		leaf = false;
	if (level == 1 && one_in(r, 4))
		e |= X86_PS; /* PAT in a PTE */
	if (level == 4 && one_in(r, 30))
		e |= X86_PS; /* reserved in a PML4E */
	if (leaf && level > 1)
		e |= X86_PS;
	if (leaf) {
		uint64_t data = KVM_DATA_GPA;
		if (level == 1)
			data += (uint64_t)below(r, KVM_DATA_SIZE >> 12) << 12;
		else if (level == 2)
			data += (uint64_t)below(r, KVM_DATA_SIZE >> 21) << 21;
		e |= data;
		if (level > 1 && one_in(r, 4))
			e |= X86_LPAT;
		if (level > 1 && one_in(r, 8)) /* reserved bits 20:13 / 29:13 */
			e |= (next(r) << 13) & (level == 2 ? 0x1fe000ull : 0x3fffe000ull);
	} else {
		/* One of the two frames of the next level, or frame 0. */
		unsigned k = (4 - (level - 1)) * 2 + below(r, 2);
		e |= one_in(r, 6) ? 0 : (base_pfn + k) << 12;
	}
	if (maxphyaddr < 52 && one_in(r, 16)) /* an address bit at or above M */
		e |= 1ull << (maxphyaddr + below(r, 52 - maxphyaddr));
	if (one_in(r, 8)) /* ignored bits 62:52 */
		e |= (next(r) << 52) & 0x7ff0000000000000ull;
	if (!(e & X86_P) && one_in(r, 2))
		e |= next(r) & ~X86_P; /* junk in a non-present entry */
	return e;
}

void wc_generate(uint64_t seed, uint64_t index, unsigned maxphyaddr, bool gbpages, wc_case *c)
{
	rng r = {mix(seed ^ mix(index))};
	memset(c, 0, sizeof(*c));
	c->index = index;
	c->slot = (unsigned)(index % WC_BATCH);
	c->base_pfn = 1 + (uint64_t)c->slot * WC_FRAMES;
	c->mode = wc_batch_mode(seed, index / WC_BATCH, maxphyaddr);
	for (unsigned k = 0; k < WC_FRAMES; k++)
		for (unsigned j = 0; j < WC_NIDX; j++)
			c->entry[k][j] = gen_entry(&r, frame_level(k), c->base_pfn, maxphyaddr, gbpages);
	c->nacc = one_in(&r, 2) ? 1 : 2 + below(&r, WC_MAX_ACC - 1);
	for (unsigned a = 0; a < c->nacc; a++) {
		kvm_access *x = &c->acc[a];
		x->cr3 = (c->base_pfn + below(&r, 2)) << 12;
		uint64_t va = 0;
		for (unsigned l = 4; l >= 1; l--)
			va |= (uint64_t)wc_idx[below(&r, WC_NIDX)] << X86_LEVEL_SHIFT(l);
		va |= below(&r, 4096);
		if (va & (1ull << 47))
			va |= 0xffff000000000000ull;
		if (one_in(&r, 20))
			va ^= 1ull << (48 + below(&r, 16)); /* non-canonical */
		x->va = va;
		x->acc = (mm_walk_access)below(&r, 3);
		x->user = one_in(&r, 2);
		x->ac = one_in(&r, 2);
	}
}

/* ---- The checker ---- */
struct wc_checker {
	kvm_oracle *o;
	bool strict_ad;
	unsigned cpl_mask;
	mm_phys_mem hw, model, naive;
	mm_phys_mem relaxed; /* the model's walks, with faulting walks' A/D undone */
	kvm_access acc[WC_BATCH * WC_MAX_ACC];
	kvm_outcome out[WC_BATCH * WC_MAX_ACC];
	mm_walk_result rm[WC_BATCH * WC_MAX_ACC], rn[WC_BATCH * WC_MAX_ACC];
};

wc_checker *wc_checker_new(kvm_oracle *o)
{
	wc_checker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->o = o;
	w->cpl_mask = 3;
	w->hw = kvm_oracle_tables(o);
	w->model = (mm_phys_mem){calloc(w->hw.nframes * 512, 8), w->hw.nframes};
	w->naive = (mm_phys_mem){calloc(w->hw.nframes * 512, 8), w->hw.nframes};
	w->relaxed = (mm_phys_mem){calloc(w->hw.nframes * 512, 8), w->hw.nframes};
	if (!w->model.words || !w->naive.words || !w->relaxed.words) {
		wc_checker_free(w);
		return NULL;
	}
	return w;
}

void wc_checker_free(wc_checker *w)
{
	if (!w)
		return;
	free(w->model.words);
	free(w->naive.words);
	free(w->relaxed.words);
	free(w);
}

void wc_checker_set_strict_ad(wc_checker *w, bool strict)
{
	w->strict_ad = strict;
}
void wc_checker_set_cpl(wc_checker *w, unsigned mask)
{
	w->cpl_mask = mask & 3;
}

static uint64_t *word(const mm_phys_mem *m, uint64_t pa)
{
	return &m->words[pa >> 3];
}
static uint64_t entry_pa(const wc_case *c, unsigned k, unsigned j)
{
	return ((c->base_pfn + k) << 12) + 8 * wc_idx[j];
}

/* A growing text buffer for one report. */
typedef struct text {
	char *s;
	size_t len, cap;
} text;

static void tprintf(text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = (t->len + (size_t)n + 1) * 2;
		char *s = realloc(t->s, cap);
		if (!s)
			return;
		t->s = s;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static const char *acc_name(mm_walk_access a)
{
	return a == MM_WALK_READ ? "read" : a == MM_WALK_WRITE ? "write" : a == MM_WALK_FETCH ? "fetch" : "?";
}

static void print_walker(text *t, const char *who, const mm_walk_result *r)
{
	if (r->outcome == MM_WALK_OK)
		tprintf(t, "%s ok pa %#" PRIx64 " (leaf level %u)", who, r->pa, r->leaf_level);
	else if (r->outcome == MM_WALK_PF)
		tprintf(t, "%s #PF err %#x", who, r->pf_error);
	else
		tprintf(t, "%s #GP", who);
}

/* The walker's result without its physical address (for signatures). */
static void print_signature(text *t, const char *who, const mm_walk_result *r)
{
	if (r->outcome == MM_WALK_OK)
		tprintf(t, "%s ok (leaf level %u)", who, r->leaf_level);
	else
		print_walker(t, who, r);
}

static void print_hw(text *t, const kvm_outcome *h)
{
	if (h->vector == KVM_VEC_OK)
		tprintf(t, "kvm ok");
	else if (h->vector == 14)
		tprintf(t, "kvm #PF err %#" PRIx64 " cr2 %#" PRIx64, h->error, h->cr2);
	else if (h->vector == 13)
		tprintf(t, "kvm #GP err %#" PRIx64, h->error);
	else
		tprintf(t, "kvm vector %u err %#" PRIx64 " rip %#" PRIx64, h->vector, h->error, h->rip);
}

static bool same_walk(const mm_walk_result *a, const mm_walk_result *b)
{
	if (a->outcome != b->outcome || a->pf_error != b->pf_error || a->pa != b->pa ||
	    a->nread != b->nread || a->leaf_level != b->leaf_level)
		return false;
	for (unsigned i = 0; i < a->nread; i++)
		if (a->entry_pa[i] != b->entry_pa[i])
			return false;
	return true;
}

static bool hw_agrees(const mm_walk_result *m, const kvm_outcome *h, uint64_t va)
{
	switch (m->outcome) {
	case MM_WALK_OK:
		return h->vector == KVM_VEC_OK;
	case MM_WALK_PF:
		return h->vector == 14 && h->error == m->pf_error && h->cr2 == va;
	case MM_WALK_GP:
		return h->vector == 13 && h->error == 0;
	}
	return false;
}

/* The initial value of the entry at pa: a case entry, or zero. */
static uint64_t initial(const wc_case *c, uint64_t pa)
{
	for (unsigned k = 0; k < WC_FRAMES; k++)
		for (unsigned j = 0; j < WC_NIDX; j++)
			if (entry_pa(c, k, j) == pa)
				return c->entry[k][j];
	return 0;
}

static void report_case(wc_checker *w, const wc_case *c, size_t first_acc, uint64_t seed, bool generated,
			text *t)
{
	static const char *lv[] = {"", "PTE", "PDE", "PDPTE", "PML4E"};
	const mm_cpu_mode *m = &c->mode;
	tprintf(t, "case %" PRIu64 ": slot %u, mode wp%d nxe%d smep%d smap%d M%u\n", c->index, c->slot,
		m->cr0_wp, m->efer_nxe, m->cr4_smep, m->cr4_smap, m->maxphyaddr);
	for (unsigned a = 0; a < c->nacc; a++) {
		const kvm_access *x = &c->acc[a];
		const mm_walk_result *rm = &w->rm[first_acc + a], *rn = &w->rn[first_acc + a];
		const kvm_outcome *h = &w->out[first_acc + a];
		bool bad = !same_walk(rm, rn) || !hw_agrees(rm, h, x->va);
		tprintf(t, "  %s access %u: cr3 %#" PRIx64 " va %#" PRIx64 " %s cpl%d ac%d\n",
			bad ? "*" : " ", a, x->cr3, x->va, acc_name(x->acc), x->user ? 3 : 0, x->ac);
		tprintf(t, "      ");
		print_walker(t, "model", rm);
		tprintf(t, " | ");
		print_walker(t, "naive", rn);
		tprintf(t, " | ");
		print_hw(t, h);
		tprintf(t, "\n");
		for (unsigned i = 0; i < rm->nread; i++) {
			uint64_t pa = rm->entry_pa[i];
			tprintf(t, "      %-5s @%#" PRIx64 " = %#018" PRIx64, lv[4 - i], pa, initial(c, pa));
			tprintf(t, "\n");
		}
	}
	bool header = false;
	for (unsigned k = 0; k < WC_FRAMES; k++)
		for (unsigned j = 0; j < WC_NIDX; j++) {
			uint64_t pa = entry_pa(c, k, j);
			uint64_t vm = *word(&w->model, pa), vn = *word(&w->naive, pa), vh = *word(&w->hw, pa);
			if (vm == vn && vm == vh)
				continue;
			if (!header)
				tprintf(t, "  after the accesses (initial, model, naive, kvm):\n");
			header = true;
			tprintf(t,
				"    @%#" PRIx64 " %#018" PRIx64 " %#018" PRIx64 " %#018" PRIx64
				" %#018" PRIx64 "  (A/D: model %c%c naive %c%c kvm %c%c)\n",
				pa, c->entry[k][j], vm, vn, vh, vm & X86_A ? 'A' : '-',
				vm & X86_D ? 'D' : '-', vn & X86_A ? 'A' : '-', vn & X86_D ? 'D' : '-',
				vh & X86_A ? 'A' : '-', vh & X86_D ? 'D' : '-');
		}
	if (generated)
		tprintf(t, "  again: mmref walkcheck --seed %" PRIu64 " --case %" PRIu64 "%s\n", seed,
			c->index,
			w->cpl_mask == 1   ? " --cpl 0"
			: w->cpl_mask == 2 ? " --cpl 3"
					   : "");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One guest entry for up to WC_BATCH cases of the same mode, in distinct
 * slots. */
static int check_batch(wc_checker *w, const wc_case *cases, unsigned n, uint64_t seed, bool generated,
		       wc_stats *st, wc_report_fn report, void *ctx)
{
	size_t nacc = 0;
	for (unsigned i = 0; i < n; i++) {
		const wc_case *c = &cases[i];
		for (unsigned k = 0; k < WC_FRAMES; k++)
			for (unsigned j = 0; j < WC_NIDX; j++) {
				uint64_t pa = entry_pa(c, k, j);
				*word(&w->hw, pa) = *word(&w->model, pa) = *word(&w->naive, pa) =
				    *word(&w->relaxed, pa) = c->entry[k][j];
			}
		for (unsigned a = 0; a < c->nacc; a++)
			w->acc[nacc++] = c->acc[a];
	}
	const mm_cpu_mode mode = cases[0].mode;
	size_t ai = 0;
	for (unsigned i = 0; i < n; i++)
		for (unsigned a = 0; a < cases[i].nacc; a++, ai++) {
			const kvm_access *x = &w->acc[ai];
			mm_cpu_mode md = mode;
			md.eflags_ac = x->ac;
			unsigned cpl = x->user ? 3 : 0;
			w->rm[ai] = mm_walk(&w->model, x->cr3, x->va, x->acc, cpl, &md);
			w->rn[ai] = naive_walk(&w->naive, x->cr3, x->va, x->acc, cpl, &md);
			/* The same walk, leaving the tables as they were if it faults. */
			uint64_t before[4];
			for (unsigned e = 0; e < w->rm[ai].nread; e++)
				before[e] = *word(&w->relaxed, w->rm[ai].entry_pa[e]);
			mm_walk_result rr = mm_walk(&w->relaxed, x->cr3, x->va, x->acc, cpl, &md);
			if (rr.outcome == MM_WALK_PF)
				for (unsigned e = 0; e < rr.nread; e++)
					*word(&w->relaxed, rr.entry_pa[e]) = before[e];
		}
	double t0 = now();
	int rc = kvm_oracle_run(w->o, &mode, w->acc, nacc, w->out);
	st->hw_seconds += now() - t0;
	if (rc < 0)
		return rc;

	ai = 0;
	for (unsigned i = 0; i < n; i++) {
		const wc_case *c = &cases[i];
		bool walker_bad = false, hw_bad = false;
		for (unsigned a = 0; a < c->nacc; a++) {
			const mm_walk_result *rm = &w->rm[ai + a];
			walker_bad |= !same_walk(rm, &w->rn[ai + a]);
			hw_bad |= !hw_agrees(rm, &w->out[ai + a], c->acc[a].va);
			st->walks++;
			st->ok += rm->outcome == MM_WALK_OK;
			st->pf += rm->outcome == MM_WALK_PF;
			st->gp += rm->outcome == MM_WALK_GP;
			st->rsvd += rm->outcome == MM_WALK_PF && (rm->pf_error & MM_WALK_PF_RSVD);
			st->large += rm->outcome == MM_WALK_OK && rm->leaf_level > 1;
			st->per_mode[mode.cr0_wp | mode.efer_nxe << 1 | mode.cr4_smep << 2 |
				     mode.cr4_smap << 3 | (unsigned)c->acc[a].ac << 4]++;
		}
		bool relaxed_used = false;
		char sig[160] = "";
		for (unsigned a = 0; a < c->nacc && !sig[0]; a++) {
			const mm_walk_result *rm = &w->rm[ai + a], *rn = &w->rn[ai + a];
			const kvm_outcome *h = &w->out[ai + a];
			const kvm_access *x = &c->acc[a];
			if (same_walk(rm, rn) && hw_agrees(rm, h, x->va))
				continue;
			text t = {0};
			tprintf(&t, "%s cpl%d %s: ", acc_name(x->acc), x->user ? 3 : 0,
				(x->va >> 47) & 1 ? "high" : "low");
			if (!same_walk(rm, rn)) {
				print_signature(&t, "model", rm);
				tprintf(&t, ", ");
				print_signature(&t, "naive", rn);
			} else {
				print_signature(&t, "model", rm);
				tprintf(&t, ", ");
				print_hw(&t, h);
				/* Addresses vary from case to case: keep the kinds only. */
				char *p = t.s ? strstr(t.s, " cr2 ") : NULL;
				if (p)
					*p = 0;
				p = t.s ? strstr(t.s, " rip ") : NULL;
				if (p)
					*p = 0;
			}
			snprintf(sig, sizeof(sig), "%s", t.s ? t.s : "?");
			free(t.s);
		}
		for (unsigned k = 0; k < WC_FRAMES; k++)
			for (unsigned j = 0; j < WC_NIDX; j++) {
				uint64_t pa = entry_pa(c, k, j);
				uint64_t vm = *word(&w->model, pa), vh = *word(&w->hw, pa);
				walker_bad |= vm != *word(&w->naive, pa);
				if (vm == vh)
					continue;
				if (!w->strict_ad && vh == *word(&w->relaxed, pa)) {
					relaxed_used = true;
					continue;
				}
				hw_bad = true;
				if (!sig[0])
					snprintf(sig, sizeof(sig),
						 "A/D: level %u entry: model %c%c, kvm %c%c", frame_level(k),
						 vm & X86_A ? 'A' : '-', vm & X86_D ? 'D' : '-',
						 vh & X86_A ? 'A' : '-', vh & X86_D ? 'D' : '-');
			}
		st->ad_fault_relaxed += relaxed_used && !hw_bad;
		st->cases++;
		if (walker_bad || hw_bad) {
			st->disagree_cases++;
			st->disagree_walker += walker_bad;
			st->disagree_hw += hw_bad;
			if (report) {
				text t = {0};
				report_case(w, c, ai, seed, generated, &t);
				report(ctx, c->index, sig[0] ? sig : "A/D: model vs naive",
				       t.s ? t.s : "(out of memory)\n");
				free(t.s);
			}
		}
		ai += c->nacc;
	}
	return 0;
}

int wc_check(wc_checker *w, uint64_t seed, uint64_t first, uint64_t count, wc_stats *st, wc_report_fn report,
	     void *ctx)
{
	static wc_case cases[WC_BATCH];
	unsigned M = kvm_oracle_maxphyaddr(w->o);
	uint64_t i = first, end = first + count;
	while (i < end) {
		uint64_t batch_end = (i / WC_BATCH + 1) * WC_BATCH;
		if (batch_end > end)
			batch_end = end;
		unsigned n = 0;
		for (; i < batch_end; i++, n++) {
			wc_generate(seed, i, M, kvm_oracle_has_gbpages(w->o), &cases[n]);
			wc_case *c = &cases[n];
			for (unsigned a = 0; a < c->nacc && w->cpl_mask != 3; a++)
				c->acc[a].user = w->cpl_mask == 2;
			/* Leave out what this KVM cannot run: user accesses to the
			 * upper half (canonical ones; non-canonical ones are #GP). */
			unsigned kept = 0;
			for (unsigned a = 0; a < c->nacc; a++) {
				bool high = c->acc[a].user && x86_is_canonical48(c->acc[a].va) &&
					    (c->acc[a].va >> 47);
				if (high && !kvm_oracle_has_user_high(w->o))
					st->skipped_user_high++;
				else
					c->acc[kept++] = c->acc[a];
			}
			c->nacc = kept;
		}
		int rc = check_batch(w, cases, n, seed, true, st, report, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int wc_check_cases(wc_checker *w, const wc_case *cases, unsigned ncases, wc_stats *st, wc_report_fn report,
		   void *ctx)
{
	for (unsigned i = 0; i < ncases; i++) {
		if (cases[i].base_pfn != 1 + (uint64_t)cases[i].slot * WC_FRAMES ||
		    cases[i].slot >= WC_BATCH || cases[i].nacc > WC_MAX_ACC)
			return -EINVAL;
		int rc = check_batch(w, &cases[i], 1, 0, false, st, report, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

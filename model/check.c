/* mm_check(): every structural invariant of one address space, each
 * violation reported with the VMA it concerns -- all of them, not just the
 * first (in the manner of SQLite's checkTreePage()).
 *
 *   I1..I5 the VMA index, a B-tree (vt_check; vma_tree.h states T1..T5):
 *   I1  the leaves hold the VMAs sorted by vm_start, not overlapping,
 *       each non-empty                                             (T1)
 *   I2  the address-order list matches the leaves' order               (T2)
 *   I3  the shape: every leaf at depth height-1 and nothing else there;
 *       every node but the root between VT_MIN and VT_SLOTS entries
 *       (an internal root at least 2); unused slots empty           (T3)
 *   I4  keys and gaps: a leaf entry's key is its VMA's vm_end and its gap
 *       the hole below the VMA; an internal entry's key is its child's
 *       last key and its gap the largest of the child's gaps        (T4)
 *   I5  the count: the leaves hold map_count VMAs, no node reached twice,
 *       every allocated node in the tree or spare; the lookup finger a
 *       root-to-leaf path covering [fp_lo, fp_hi)                   (T5)
 *   I6  vm_start < vm_end, both page aligned, vm_end <= TASK_SIZE
 *   I7  map_count <= max_map_count + 1 (mmap may reach max + 1)
 *   I8  flag consistency: VM_x needs VM_MAYx; VM_SHARED needs VM_MAYSHARE;
 *       shared anonymous VMAs have a shmem object and private anonymous
 *       ones none; VM_ACCOUNT only on private, reserved memory; no VM_SPECIAL
 *   I9  merge correctness: at every boundary the last operation touched,
 *       the two VMAs there could not have been merged (mm/vma.c rules)
 *   I10 reference counts: every object and anon_vma is referenced by
 *       exactly the VMAs that point to it (+1 for a declared file)
 *   I11..I16, I23 the page tables (pgcheck_tables, model/pgcheck.c): entries inside VMAs,
 *       no entry granting more than its VMA, zero pages never writable (nor
 *       mapped where the profile forbids them), map counts exact, nothing
 *       leaked (frames, cache pages, table pages)
 *   I17 the profile: locked_vm is the pages of the VM_LOCKED VMAs plus what
 *       MREMAP_DONTUNMAP left charged; VM_SOFTDIRTY only with soft_dirty,
 *       VM_MAYBE_GUARD only with guard_flag
 *   I18..I20 page contents (issue 18; pgcheck_tables in model/pgcheck.c, ct_check in model/contents.c):
 *       no anonymous page mapped twice in a process (no data shared where Linux copies),
 *       every view of an object maps that object's page at that offset (no
 *       store hidden from the other views), contents kept only for frames
 *       that hold data (none outlive their page or sit on the zero page)
 *   I21, I22 fork (issue 18; pgcheck_tables): an anonymous page that several
 *       processes share copy-on-write is writable in none of them (no store
 *       reaches another process where Linux copies); an anonymous page lies
 *       only in a VMA with an anon_vma
 * Every process is checked (procs.c): I1..I10 and I17 on each one's own
 * part, I10's object references and I11..I22 over the machine. The local
 * mode (mm_check_ranges) looks at the current process only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "contents.h"
#include "frames.h"
#include "mlock.h"
#include "pgcheck.h"
#include "pgtable.h"
#include "procs.h"

struct report {
	mm_violation *out;
	size_t cap, n;
};

static void vreport(struct report *r, int inv, uint64_t start, uint64_t end, const char *fmt, va_list ap)
{
	if (r->n < r->cap) {
		mm_violation *v = &r->out[r->n];
		v->invariant = inv;
		v->vma_start = start;
		v->vma_end = end;
		vsnprintf(v->what, sizeof(v->what), fmt, ap);
	}
	r->n++;
}

static void report(struct report *r, int inv, const struct vma *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(r, inv, v ? v->vm_start : 0, v ? v->vm_end : 0, fmt, ap);
	va_end(ap);
}

/* Adapter for vt_check and pgcheck_tables: T1..T5 are I1..I5. */
static void report_cb(void *ctx, int inv, const struct vma *v, const char *what)
{
	report(ctx, inv, v, "%s", what);
}

/* The pairwise merge rule (is_mergeable_vma, is_mergeable_anon_vma,
 * pgoff contiguity, VM_SPECIAL). */
static bool could_merge(const mm_state *mm, const struct vma *a, const struct vma *b)
{
	if (a->vm_end != b->vm_start)
		return false;
	/* 6.1 and 6.12: whether one with an anon_vma and one without merge
	 * depends on which was the range (vma.c anon_vma_mergeable_into) */
	if (!mm_kernel_at_least(mm, 613) && !a->anon_vma != !b->anon_vma)
		return false;
	if ((a->vm_flags | b->vm_flags) & MM_VM_SPECIAL)
		return false;
	if ((a->vm_flags ^ b->vm_flags) & ~MM_VM_IGNORE_MERGE)
		return false;
	if (a->obj != b->obj)
		return false;
	/* can_merge_remove_vma(): joining two VMAs removes one, which a
	 * vm_ops->close forbids (same object: both have it or neither). */
	const struct vm_operations *ops = vma_vm_ops(a);
	if (ops && ops->close)
		return false;
	if (a->anon_vma && b->anon_vma && a->anon_vma != b->anon_vma)
		return false;
	/* is_mergeable_anon_vma(): neither lends a forked chain's anon_vma */
	if (!a->anon_vma != !b->anon_vma && (a->anon_vma ? a->anon_vma : b->anon_vma)->forked)
		return false;
	return a->vm_pgoff + vma_pages(a) == b->vm_pgoff;
}

/* I17: flags that only some kernels set (profile soft_dirty, guard_flag). */
static void check_profile_flags(struct report *r, const mm_state *mm, const struct vma *v)
{
	if (!mm->cfg.soft_dirty && (v->vm_flags & MM_VM_SOFTDIRTY))
		report(r, 17, v, "VM_SOFTDIRTY without CONFIG_MEM_SOFT_DIRTY");
	if (!mm->cfg.guard_flag && (v->vm_flags & MM_VM_MAYBE_GUARD))
		report(r, 17, v, "VM_MAYBE_GUARD on a kernel without it (profile guard_flag=off)");
	if (!mm->cfg.pkeys && (v->vm_flags & MM_VM_PKEY_MASK))
		report(r, 17, v, "a protection key on a kernel without OSPKE (profile pkeys=off)");
}

static void check_flags(struct report *r, const struct vma *v)
{
	uint64_t f = v->vm_flags;
	if ((f & ~(f >> 4)) & MM_VM_ACCESS_FLAGS)
		report(r, 8, v, "VM_x without VM_MAYx (flags %#llx)", (unsigned long long)f);
	if ((f & MM_VM_SHARED) && !(f & MM_VM_MAYSHARE))
		report(r, 8, v, "VM_SHARED without VM_MAYSHARE");
	if (!v->obj && (f & MM_VM_MAYSHARE))
		report(r, 8, v, "shared VMA without a backing object");
	if (v->obj && v->obj->kind == MM_BACKING_SHMEM && !(f & MM_VM_MAYSHARE))
		report(r, 8, v, "private VMA of a shmem object");
	if ((f & MM_VM_ACCOUNT) && (f & (MM_VM_SHARED | MM_VM_NORESERVE)))
		report(r, 8, v, "VM_ACCOUNT on shared or noreserve memory");
	if (f & MM_VM_SPECIAL)
		report(r, 8, v, "VM_SPECIAL flags on a model VMA");
	if (v->anon_vma && v->anon_vma->refs == 0)
		report(r, 10, v, "anon_vma with no references");
}

/* I10: count the references the VMAs hold and compare. An object is the
 * machine's: the VMAs of every process count (fork takes a reference for
 * each copy). An anon_vma belongs to one process (fork gives the child's
 * VMAs their own). */
struct obj_count {
	const struct mm_object *o;
	unsigned n;
};

static void count_obj_refs(mm_state *mm, void *ctx)
{
	struct obj_count *c = ctx;
	for (const struct vma *v = vt_first(&mm->vt); v; v = v->node.next)
		c->n += v->obj == c->o;
}

static void check_obj_refs(struct report *r, const mm_state *mm)
{
	for (const struct mm_object *o = mm->objects; o; o = o->next_in_list) {
		struct obj_count c = {o, o->kind == MM_BACKING_FILE ? 1 : 0};
		procs_each(mm, count_obj_refs, &c);
		if (c.n != o->refs)
			report(r, 10, NULL, "object %s:%u has %u references, %u expected",
			       o->kind == MM_BACKING_FILE ? "file" : "shmem", o->id, o->refs, c.n);
	}
}

static void check_anon_refs(struct report *r, const mm_state *mm)
{
	for (const struct vma *v = vt_first(&mm->vt); v; v = v->node.next) {
		if (!v->anon_vma)
			continue;
		/* Count once per anon_vma: at its first VMA in address order. */
		bool first = true;
		for (const struct vma *w = vt_first(&mm->vt); w != v; w = w->node.next)
			if (w->anon_vma == v->anon_vma)
				first = false;
		if (!first)
			continue;
		unsigned n = 0;
		for (const struct vma *w = v; w; w = w->node.next)
			n += w->anon_vma == v->anon_vma;
		if (n != v->anon_vma->refs)
			report(r, 10, v, "anon_vma %llu has %u references, %u VMAs use it",
			       (unsigned long long)v->anon_vma->id, v->anon_vma->refs, n);
	}
}

/* What mm_check asks of each process's own part: its index, VMAs, map
 * count, anon_vmas, locked_vm; the merge rule at the last operation's
 * boundaries for the current process (the first one called). */
struct proc_report {
	struct report *r;
	bool current;
};

static void check_process(mm_state *mm, void *ctx)
{
	struct proc_report *pr = ctx;
	struct report *r = pr->r;
	vt_check(&mm->vt, report_cb, r);
	for (const struct vma *v = vt_first(&mm->vt); v; v = v->node.next) {
		if (v->vm_start >= v->vm_end || offset_in_page(v->vm_start) || offset_in_page(v->vm_end) ||
		    v->vm_end > MM_TASK_SIZE)
			report(r, 6, v, "bad bounds");
		check_flags(r, v);
	}
	if (mm->vt.count > mm->cfg.max_map_count + 1)
		report(r, 7, NULL, "map_count %zu exceeds max_map_count + 1", mm->vt.count);
	for (unsigned i = 0; pr->current && i < mm->n_touched; i++) {
		const struct vma *b = vt_lookup(&mm->vt, mm->touched[i]);
		const struct vma *a = b ? b->node.prev : NULL;
		if (a && b && b->vm_start == mm->touched[i] && could_merge(mm, a, b))
			report(r, 9, b, "mergeable with the VMA before it (%#llx-%#llx) after the last operation",
			       (unsigned long long)a->vm_start, (unsigned long long)a->vm_end);
	}
	pr->current = false;
	check_anon_refs(r, mm);
	uint64_t locked = mlock_locked_pages(mm);
	if (mm->locked_vm != locked + mm->locked_vm_leaked)
		report(r, 17, NULL, "locked_vm %llu pages, VM_LOCKED VMAs hold %llu (+%llu left by DONTUNMAP)",
		       (unsigned long long)mm->locked_vm, (unsigned long long)locked,
		       (unsigned long long)mm->locked_vm_leaked);
	if (!mm->cfg.soft_dirty || !mm->cfg.guard_flag)
		for (const struct vma *v = vt_first(&mm->vt); v; v = v->node.next)
			check_profile_flags(r, mm, v);
}

size_t mm_check(const mm_state *mm, mm_violation *out, size_t cap)
{
	struct report r = {.out = out, .cap = cap};
	/* Every process's own part (procs.c), then what the machine holds. */
	struct proc_report pr = {&r, true};
	procs_each(mm, check_process, &pr);
	check_obj_refs(&r, mm);
	pgcheck_tables(mm, report_cb, &r);
	ct_check(mm, fr_holds_data, report_cb, &r);
	return r.n;
}

/* ---- The local mode ------------------------------------------------------- */

/* I11..I13 for the entries under [lo, hi): the per-entry rules of pgcheck_tables
 * (model/pgcheck.c), entry by entry through pg_lookup. The frame-level rules
 * (I14 map counts, I15 table format of the whole tree, I16 leaks) are global:
 * mm_check only. */
static void check_entry(struct report *r, const mm_state *mm, const struct vma **vp, uint64_t e, uint64_t at,
                        unsigned level, uint64_t zero, uint64_t hzero)
{
	uint64_t step = level == 2 ? MM_PMD_SIZE : PAGE_SIZE;
	const struct vma *v = *vp;
	if (!v || at < v->vm_start || at >= v->vm_end)
		*vp = v = vt_lookup(&mm->vt, at);
	if (!v || at + step > v->vm_end) {
		report(r, 11, v, "entry outside every VMA");
		return;
	}
	if (e == LX_UFFD_WP_MARKER) {
		if (level != 1 || vma_is_anonymous(v))
			report(r, 23, v, "uffd-wp marker outside a file VMA's page table");
		return;
	}
	if (!lx_present(e)) {
		if (level != 1 || e != LX_GUARD_MARKER)
			report(r, 12, v, "unknown non-present entry");
		return;
	}
	uint64_t f = v->vm_flags;
	uint64_t pfn = lx_pfn(e, level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK);
	if (lx_protnone(e) != !(f & MM_VM_ACCESS_FLAGS))
		report(r, 12, v, "PROT_NONE encoding disagrees with the VMA");
	if ((e & X86_P) && !(e & X86_US))
		report(r, 12, v, "user page without U/S");
	if ((e & X86_RW) && !(f & MM_VM_WRITE))
		report(r, 12, v, "RW without VM_WRITE");
	if ((e & X86_RW) && !(f & MM_VM_SHARED) && !fr_is_anon(mm, pfn))
		report(r, 12, v, "RW on a non-anonymous page of a private VMA");
	if ((e & X86_P) && !!(e & X86_XD) != !(f & MM_VM_EXEC))
		report(r, 12, v, "NX disagrees with VM_EXEC");
	if ((e & X86_P) && ((e >> X86_PK_SHIFT) & 15u) != (f & MM_VM_PKEY_MASK) >> MM_VM_PKEY_SHIFT)
		report(r, 12, v, "protection key of the entry disagrees with the VMA");
	if ((pfn == zero || pfn == hzero) && (e & X86_RW))
		report(r, 13, v, "zero page mapped writable");
	if (pfn == hzero && !mm->cfg.zero_page)
		report(r, 13, v, "zero page mapped under zero_page=off");
	if (pfn == hzero && !mm->cfg.thp_zero_page)
		report(r, 13, v, "huge zero page mapped under thp_zero_page=off");
}

static void check_entries(struct report *r, const mm_state *mm, uint64_t lo, uint64_t hi)
{
	mm_state *m = (mm_state *)mm; /* pg_words: read only here */
	const uint64_t *w = pg_words(m);
	uint64_t zero = fr_zero_pfn(mm), hzero = fr_huge_zero_pfn(mm);
	const struct vma *v = NULL;
	for (uint64_t va = lo & PAGE_MASK; va < hi;) {
		unsigned level = 0;
		uint64_t wi = pg_lookup(mm, va, &level);
		if (!wi) { /* no table here: on to the next PMD */
			va = (va | (MM_PMD_SIZE - 1)) + 1;
			continue;
		}
		/* A huge leaf, or the entries of one PTE table up to hi. */
		uint64_t at = level == 2 ? va & ~(MM_PMD_SIZE - 1) : va;
		uint64_t step = level == 2 ? MM_PMD_SIZE : PAGE_SIZE;
		uint64_t pmd_end = (va | (MM_PMD_SIZE - 1)) + 1;
		uint64_t stop = level == 2 ? at + MM_PMD_SIZE : (pmd_end < hi ? pmd_end : hi);
		if (stop < at)
			stop = UINT64_MAX;
		for (; at < stop; at += step, wi++) {
			uint64_t e = w[wi];
			if (lx_none(e))
				continue;
			check_entry(r, mm, &v, e, at, level, zero, hzero);
		}
		if (stop <= va)
			break;
		va = stop;
	}
}

size_t mm_check_ranges(const mm_state *mm, const uint64_t (*ranges)[2], size_t nranges, mm_violation *out,
                       size_t cap)
{
	struct report r = {.out = out, .cap = cap};
	for (size_t k = 0; k < nranges; k++) {
		uint64_t lo = ranges[k][0] > PAGE_SIZE ? ranges[k][0] - PAGE_SIZE : 0;
		uint64_t hi = ranges[k][1] + PAGE_SIZE < ranges[k][1] ? UINT64_MAX : ranges[k][1] + PAGE_SIZE;
		if (lo >= hi)
			continue;
		/* The VMAs overlapping the widened range and one on each side. */
		const struct vma *v = vt_find(&mm->vt, lo);
		const struct vma *first = v && v->node.prev ? v->node.prev : v;
		if (!v)
			first = vt_last(&mm->vt);
		for (const struct vma *x = first; x; x = x->node.next) {
			const struct vma *prev = x->node.prev;
			if (x->vm_start >= x->vm_end || offset_in_page(x->vm_start) || offset_in_page(x->vm_end) ||
			    x->vm_end > MM_TASK_SIZE)
				report(&r, 6, x, "bad bounds");
			if (prev && prev->vm_end > x->vm_start)
				report(&r, 1, x, "overlaps or precedes the VMA before it");
			if (prev && prev->node.next != x)
				report(&r, 2, x, "list links disagree");
			check_flags(&r, x);
			check_profile_flags(&r, mm, x);
			if (x->vm_start >= hi)
				break; /* the one after */
		}
		check_entries(&r, mm, ranges[k][0], ranges[k][1]);
	}
	if (mm->vt.count > mm->cfg.max_map_count + 1)
		report(&r, 7, NULL, "map_count %zu exceeds max_map_count + 1", mm->vt.count);
	for (unsigned i = 0; i < mm->n_touched; i++) {
		const struct vma *b = vt_lookup(&mm->vt, mm->touched[i]);
		const struct vma *a = b ? b->node.prev : NULL;
		if (a && b && b->vm_start == mm->touched[i] && could_merge(mm, a, b))
			report(&r, 9, b, "mergeable with the VMA before it (%#llx-%#llx) after the last operation",
			       (unsigned long long)a->vm_start, (unsigned long long)a->vm_end);
	}
	return r.n;
}

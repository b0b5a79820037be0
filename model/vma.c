/* VMA objects, split and merge: the rules of mm/vma.c (Linux 6.18.y).
 *
 * Every operation that creates or changes VMAs comes through here: a new
 * range tries vma_merge_new_range(), an attribute change over part of a VMA
 * goes through vma_modify(), which merges with a neighbour when it can and
 * otherwise splits the range out. The merge state of one attempt travels in
 * one struct vma_merge, as the kernel's struct vma_merge_struct does.
 */
#include <string.h>

#include "alloc.h"
#include "object.h"
#include "pgtable.h"
#include "vma.h"

struct vma *vma_alloc(mm_state *mm)
{
	return mm_vma_alloc(mm);
}

static void anon_vma_put(mm_state *mm, struct anon_vma *av)
{
	if (av && --av->refs == 0)
		mm_free(mm, av);
}

static struct anon_vma *anon_vma_get(struct anon_vma *av)
{
	if (av)
		av->refs++;
	return av;
}

/* Points v at av (which may be NULL), dropping what v had. */
void vma_set_anon_vma(mm_state *mm, struct vma *v, struct anon_vma *av)
{
	if (v->anon_vma == av)
		return;
	anon_vma_get(av);
	anon_vma_put(mm, v->anon_vma);
	v->anon_vma = av;
}

void vma_free(mm_state *mm, struct vma *v)
{
	if (!v)
		return;
	anon_vma_put(mm, v->anon_vma);
	mm_object_put(mm, v->obj);
	mm_vma_free(mm, v);
}

void vma_close(mm_state *mm, const struct vma *v)
{
	const struct vm_operations *ops = vma_vm_ops(v);
	if (ops && ops->close)
		ops->close(mm, v);
}

void vma_open(mm_state *mm, const struct vma *v)
{
	const struct vm_operations *ops = vma_vm_ops(v);
	if (ops && ops->open)
		ops->open(mm, v);
}

void vma_unmap_all(mm_state *mm)
{
	struct vma *v = vt_first(&mm->vt);
	while (v) {
		struct vma *next = v->node.next;
		/* exit_mmap() -> remove_vma(): vm_ops->close, after the
		 * entries went (unmap_vmas first). */
		pg_unmap_range(mm, v->vm_start, v->vm_end);
		vma_close(mm, v);
		vt_erase(&mm->vt, v);
		vma_free(mm, v);
		v = next;
	}
}

/* Moves v's bounds, splitting any huge page that a new boundary would cut
 * (mm/vma.c: vma_adjust_trans_huge before the VMA changes). */
static void vma_set_bounds(mm_state *mm, struct vma *v, uint64_t start, uint64_t end)
{
	if (start != v->vm_start)
		pg_split_huge_at(mm, start);
	if (end != v->vm_end)
		pg_split_huge_at(mm, end);
	vt_set_bounds(&mm->vt, v, start, end);
}

/* v grows over victim, its neighbour in the index (nothing between them),
 * which goes: one erase, no transient hole. */
static void vma_absorb(mm_state *mm, struct vma *v, struct vma *victim)
{
	vt_absorb(&mm->vt, v, victim);
	vma_free(mm, victim);
}

/* The boundary between v and its adjacent next moves to addr, splitting a
 * huge page that the new boundary would cut. */
static void vma_move_boundary(mm_state *mm, struct vma *v, uint64_t addr)
{
	pg_split_huge_at(mm, addr);
	vt_move_boundary(&mm->vt, v, addr);
}

/* Unlinks v from the index and frees it. Its pages must be gone already. */
void vma_remove(mm_state *mm, struct vma *v)
{
	vt_erase(&mm->vt, v);
	vma_free(mm, v);
}

void vma_note_touched(mm_state *mm, uint64_t addr)
{
	if (mm->n_touched < sizeof(mm->touched) / sizeof(mm->touched[0]))
		mm->touched[mm->n_touched++] = addr;
}

/* Before 6.13 a VMA with an anon_vma and one without were kept apart when
 * the operation's range was the one without (anon_vma_mergeable, the merge
 * check's could_merge). A populate after that merge attempt (mlock's
 * __mm_populate, a locked VMA made writable, MAP_POPULATE) writes to the
 * pages of the one without: anon_vma_prepare() gives it its neighbour's
 * anon_vma (find_mergeable_anon_vma), and the pair left apart then looks
 * mergeable -- which the kernel leaves as it is [LIVE: 6.12, mprotect rw-
 * of an unfaulted VMA beside a faulted one, then mlock of both]. The merge
 * check (I9) judges the boundaries as they were at the attempt: those whose
 * two VMAs differ in having an anon_vma come off its list. */
void vma_forget_anon_apart(mm_state *mm)
{
	if (mm_kernel_at_least(mm, 613))
		return;
	unsigned k = 0;
	for (unsigned i = 0; i < mm->n_touched; i++) {
		const struct vma *b = vt_lookup(&mm->vt, mm->touched[i]);
		const struct vma *a = b && b->vm_start == mm->touched[i] ? b->node.prev : NULL;
		if (a && a->vm_end == b->vm_start && !a->anon_vma != !b->anon_vma)
			continue;
		mm->touched[k++] = mm->touched[i];
	}
	mm->n_touched = k;
}

/* mm/vma.c: __split_vma(). Splits v at addr: with new_below the new VMA
 * takes [vm_start, addr), otherwise [addr, vm_end). The upper piece's pgoff
 * advances by the pages below it. Both pieces share the anon_vma and the
 * file. No map_count check (that is split_vma's). */
int vma_split_unchecked(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new)
{
	/* vm_ops->may_split first: its refusal is the split's error. */
	const struct vm_operations *ops = vma_vm_ops(v);
	if (ops && ops->may_split) {
		int err = ops->may_split(mm, v, addr);
		if (err)
			return err;
	}
	struct vma *n = vma_alloc(mm);
	if (!n)
		return -ENOMEM;
	n->vm_flags = v->vm_flags;
	n->obj = v->obj;
	if (n->obj)
		n->obj->refs++;
	n->anon_vma = anon_vma_get(v->anon_vma);
	uint64_t delta = (addr - v->vm_start) >> PAGE_SHIFT;
	pg_split_huge_at(mm, addr);
	if (new_below) {
		n->vm_start = v->vm_start;
		n->vm_end = addr;
		n->vm_pgoff = v->vm_pgoff;
		v->vm_pgoff += delta;
	} else {
		n->vm_start = addr;
		n->vm_end = v->vm_end;
		n->vm_pgoff = v->vm_pgoff + delta;
	}
	/* One insertion, no transient hole for the gap augmentation. */
	vt_split(&mm->vt, v, n);
	vma_note_touched(mm, addr);
	/* vm_ops->open on the new piece (vm_area_dup copied vm_ops). */
	vma_open(mm, n);
	if (out_new)
		*out_new = n;
	return 0;
}

/* mm/vma.c: split_vma(): refuses at map_count >= max_map_count. */
int vma_split(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new)
{
	if (mm->vt.count >= mm->cfg.max_map_count)
		return -ENOMEM;
	return vma_split_unchecked(mm, v, addr, new_below, out_new);
}

/* ---- Merge predicates ------------------------------------------------------ */

/* mm/vma.c: is_mergeable_vma(). Flags must match except the sticky bits
 * (VM_IGNORE_MERGE, 6.18.37+), and the file must be the same struct file.
 * The model has no mempolicy, userfaultfd context, anon name or ->close. */
static bool is_mergeable_vma(const struct vma_merge *g, const struct vma *v)
{
	if ((v->vm_flags ^ g->flags) & ~MM_VM_IGNORE_MERGE)
		return false;
	return v->obj == g->obj;
}

/* Either side without an anon_vma, or the same one: what can_vma_merge_right()
 * asks of prev and next when both merge. */
static bool anon_vmas_compatible(const struct anon_vma *a, const struct anon_vma *b)
{
	return !a || !b || a == b;
}

/* mm/vma.c: is_mergeable_anon_vma() for a merge of the range g into tgt.
 * A VMA takes the other's anon_vma only from one whose chain is singular
 * (vma_had_uncowed_parents(): a VMA forked with an anon_vma, or split or
 * copied from one, also links its parent's -- anon_vma.forked); otherwise
 * the two must be the same. The range is an existing VMA (g->middle) in
 * mprotect/madvise/mlock merges; a new range -- mmap, and mremap's
 * copy_vma() with vmg.middle = NULL -- has no chain of its own. */
static bool anon_vma_mergeable(const mm_state *mm, const struct vma_merge *g, const struct vma *tgt)
{
	const struct anon_vma *src = g->anon_vma, *t = tgt->anon_vma;
	/* 6.1 and 6.12 is_mergeable_anon_vma(range, tgt->anon_vma, tgt): a
	 * missing anon_vma passes only when tgt's anon_vma_chain is a single
	 * entry -- never for a tgt without an anon_vma (an empty chain) -- so
	 * a faulted range does not merge into an unfaulted neighbour there
	 * (6.1 mm/mmap.c, 6.12 mm/vma.c can_vma_merge_after/before). By 6.18
	 * tgt takes the range's anon_vma (dup_anon_vma); the boundary between
	 * 6.12 and 6.18 is the vma_merge rewrite (6.13), not bisected [LIVE:
	 * versions/minimal/anon-vma-merge-unfaulted.*.trace]. */
	if (!mm_kernel_at_least(mm, 613) && !t && src)
		return false;
	if (!t && src)
		return !(g->middle && src->forked);
	if (t && !src)
		return !t->forked;
	return t == src;
}

/* can_vma_merge_after(): prev, then the range. */
static bool can_merge_left(const mm_state *mm, const struct vma_merge *g)
{
	const struct vma *prev = g->prev;
	return prev && prev->vm_end == g->start && is_mergeable_vma(g, prev) &&
	       anon_vma_mergeable(mm, g, prev) &&
	       prev->vm_pgoff + vma_pages(prev) == g->pgoff;
}

/* can_vma_merge_before(): the range, then next. When prev merges too, prev
 * and next must also agree on the anon_vma (can_vma_merge_right()). */
static bool can_merge_right(const mm_state *mm, const struct vma_merge *g, bool merge_left)
{
	const struct vma *next = g->next;
	if (!next || g->end != next->vm_start || !is_mergeable_vma(g, next) ||
	    !anon_vma_mergeable(mm, g, next) ||
	    next->vm_pgoff != g->pgoff + ((g->end - g->start) >> PAGE_SHIFT))
		return false;
	if (merge_left)
		return anon_vmas_compatible(g->prev->anon_vma, next->anon_vma);
	return true;
}

/* mm/vma.c: dup_anon_vma(): a target without an anon_vma adopts src's. */
static void dup_anon_vma(mm_state *mm, struct vma *dst, const struct anon_vma *src)
{
	if (!dst->anon_vma && src)
		vma_set_anon_vma(mm, dst, (struct anon_vma *)src);
}

/* mm/vma.c: vma_merge_new_range(). A new range [start, end) with the
 * attributes in g, between g->prev and g->next (either may be NULL or not
 * adjacent). Returns the VMA that now covers the range, or NULL if no merge
 * was possible (the caller then makes a new VMA). Cannot fail otherwise:
 * the model allocates nothing here.
 *
 *   left + right    left only      right only
 *   |prev|new|next| |prev|new|     |new|next|
 *   |<---------->|  |<------>|     |<------>|
 *   prev grows,     prev grows     next grows down
 *   next removed
 */
/* mm/vma.c can_merge_remove_vma(): a merge may remove a VMA only if its
 * vm_ops have no close (a removal by merge calls no close, so opens and
 * closes would no longer pair up). */
static bool can_merge_remove_vma(const struct vma *v)
{
	const struct vm_operations *ops = vma_vm_ops(v);
	return !ops || !ops->close;
}

struct vma *vma_merge_new_range(mm_state *mm, struct vma_merge *g)
{
	struct vma *prev = g->prev, *next = g->next;
	if ((g->flags & MM_VM_SPECIAL) || (!prev && !next))
		return NULL;
	bool left = can_merge_left(mm, g);
	bool right = !g->just_expand && can_merge_right(mm, g, left);
	if (!left && !right)
		return NULL;
	/* Both would remove next: without that, prev alone grows. */
	if (left && right && !can_merge_remove_vma(next))
		right = false;

	uint64_t sticky = g->flags & MM_VM_STICKY;
	struct vma *target;
	if (left && right) {
		target = prev;
		sticky |= next->vm_flags & MM_VM_STICKY;
		dup_anon_vma(mm, target, next->anon_vma ? next->anon_vma : g->anon_vma);
		vma_absorb(mm, target, next); /* over the new range too */
	} else if (left) {
		target = prev;
		dup_anon_vma(mm, target, g->anon_vma);
		vma_set_bounds(mm, target, target->vm_start, g->end);
	} else {
		/* 6.18.y copied_from fix: next adopts the source's anon_vma. */
		target = next;
		dup_anon_vma(mm, target, g->anon_vma);
		target->vm_pgoff = g->pgoff;
		vma_set_bounds(mm, target, g->start, target->vm_end);
	}
	target->vm_flags |= sticky;
	/* Only the range's own edges were merge candidates; the far ends of
	 * the VMAs it merged into were not looked at. */
	vma_note_touched(mm, g->start);
	vma_note_touched(mm, g->end);
	return target;
}

/* mm/vma.c: vma_merge_existing_range(). [g->start, g->end) lies inside
 * g->middle and is to get g->flags. Returns the merged VMA, or NULL when no
 * merge applies.
 *
 *   both:   |prev|**middle**|next|  -> prev covers all, middle and next go
 *   left:   |prev|****|middle|      -> prev grows, middle shrinks (or goes)
 *   right:  |middle|****|next|      -> next grows down, middle shrinks (or goes)
 */
static struct vma *vma_merge_existing_range(mm_state *mm, struct vma_merge *g)
{
	struct vma *middle = g->middle, *prev = g->prev, *next = g->next;
	bool left_side = g->start == middle->vm_start;
	bool right_side = g->end == middle->vm_end;
	if ((g->flags & MM_VM_SPECIAL) || (!left_side && !right_side))
		return NULL;
	bool merge_left = left_side && can_merge_left(mm, g);
	bool merge_right = right_side && can_merge_right(mm, g, merge_left);
	if (!merge_left && !merge_right)
		return NULL;
	/* A merge over the whole of middle removes it; both sides also next. */
	if (left_side && right_side && !can_merge_remove_vma(middle))
		return NULL;
	if (merge_left && merge_right && !can_merge_remove_vma(next))
		merge_right = false;

	uint64_t sticky = g->flags & MM_VM_STICKY;
	struct vma *target;
	if (merge_left && merge_right) {
		target = prev;
		sticky |= (prev->vm_flags | next->vm_flags) & MM_VM_STICKY;
		dup_anon_vma(mm, target, next->anon_vma ? next->anon_vma : middle->anon_vma);
		vma_absorb(mm, target, middle);
		vma_absorb(mm, target, next);
	} else if (merge_left) {
		target = prev;
		sticky |= prev->vm_flags & MM_VM_STICKY;
		dup_anon_vma(mm, target, middle->anon_vma);
		if (right_side) {
			vma_absorb(mm, target, middle);
		} else {
			middle->vm_pgoff += (g->end - middle->vm_start) >> PAGE_SHIFT;
			vma_move_boundary(mm, target, g->end);
		}
	} else {
		target = next;
		sticky |= next->vm_flags & MM_VM_STICKY;
		dup_anon_vma(mm, target, middle->anon_vma);
		target->vm_pgoff -= (target->vm_start - g->start) >> PAGE_SHIFT;
		if (left_side) {
			vma_absorb(mm, target, middle);
		} else {
			vma_move_boundary(mm, middle, g->start);
		}
	}
	target->vm_flags |= sticky;
	g->flags |= sticky;
	vma_note_touched(mm, g->start);
	vma_note_touched(mm, g->end);
	return target;
}

/* mm/vma.c: vma_modify(). Makes [start, end) of middle a VMA of its own with
 * new flags in g->flags: merge if possible, else split at start then at end.
 * The caller writes the flags. A failed second split leaves the first done,
 * as in Linux. Returns the VMA or NULL with *err set. */
struct vma *vma_modify(mm_state *mm, struct vma_merge *g, int *err)
{
	struct vma *middle = g->middle;
	g->obj = middle->obj;
	g->anon_vma = middle->anon_vma;
	g->pgoff = middle->vm_pgoff + ((g->start - middle->vm_start) >> PAGE_SHIFT);
	g->prev = middle->vm_start < g->start ? middle : middle->node.prev;
	if (g->prev == middle)
		g->prev = NULL; /* interior start: no left merge */
	g->next = middle->vm_end > g->end ? NULL : middle->node.next;
	struct vma *merged = vma_merge_existing_range(mm, g);
	if (merged)
		return merged;
	vma_note_touched(mm, g->start);
	vma_note_touched(mm, g->end);
	if (middle->vm_start < g->start) {
		*err = vma_split(mm, middle, g->start, true, NULL);
		if (*err)
			return NULL;
	}
	if (middle->vm_end > g->end) {
		*err = vma_split(mm, middle, g->end, false, NULL);
		if (*err)
			return NULL;
	}
	return middle;
}

/* Sets new vm_flags on [start, end) of v, the way mprotect_fixup,
 * madvise_update_vma, mlock_fixup and mseal_apply do: no-op when nothing
 * changes, else vma_modify and write the flags (keeping the sticky bits the
 * merge gathered). Returns the VMA now covering the range (or v for a no-op)
 * and NULL with *err on failure. */
struct vma *vma_modify_flags(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, uint64_t new_flags,
                             int *err)
{
	if (new_flags == v->vm_flags)
		return v;
	struct vma_merge g = {.middle = v, .start = start, .end = end, .flags = new_flags};
	struct vma *r = vma_modify(mm, &g, err);
	if (!r)
		return NULL;
	r->vm_flags = g.flags | (r->vm_flags & MM_VM_STICKY);
	return r;
}

/* ---- anon_vma ----------------------------------------------------------- */

/* mm/vma.c: anon_vma_compatible(): a directly precedes b, same file, flags
 * equal but for access rights and ignored bits, linear pgoff. */
static bool anon_vma_compatible(const struct vma *a, const struct vma *b)
{
	return a->vm_end == b->vm_start && a->obj == b->obj &&
	       !((a->vm_flags ^ b->vm_flags) & ~(MM_VM_ACCESS_FLAGS | MM_VM_IGNORE_MERGE)) &&
	       b->vm_pgoff == a->vm_pgoff + ((b->vm_start - a->vm_start) >> PAGE_SHIFT);
}

/* mm/vma.c: find_mergeable_anon_vma(): next first, then prev. */
static struct anon_vma *find_mergeable_anon_vma(const struct vma *v)
{
	/* reusable_anon_vma(): only a neighbour whose chain is singular lends
	 * its anon_vma (not one forked). */
	const struct vma *next = v->node.next, *prev = v->node.prev;
	if (next && anon_vma_compatible(v, next) && next->anon_vma && !next->anon_vma->forked)
		return next->anon_vma;
	if (prev && anon_vma_compatible(prev, v) && prev->anon_vma && !prev->anon_vma->forked)
		return prev->anon_vma;
	return NULL;
}

/* mm/rmap.c: __anon_vma_prepare(). */
int vma_anon_vma_prepare(mm_state *mm, struct vma *v)
{
	if (v->anon_vma)
		return 0;
	struct anon_vma *av = find_mergeable_anon_vma(v);
	if (av) {
		vma_set_anon_vma(mm, v, av);
		return 0;
	}
	av = vma_anon_vma_new(mm);
	if (!av)
		return -ENOMEM;
	av->refs = 1;
	v->anon_vma = av;
	return 0;
}

struct anon_vma *vma_anon_vma_new(mm_state *mm)
{
	struct anon_vma *av = mm_alloc(mm, sizeof(*av));
	if (av)
		av->id = mm->next_anon_vma_id++;
	return av;
}

/* mm/mmap.c: expand_downwards(). */
int vma_expand_downwards(mm_state *mm, struct vma *v, uint64_t addr)
{
	if (!(v->vm_flags & MM_VM_GROWSDOWN))
		return -EFAULT;
	addr &= PAGE_MASK;
	if (addr < mm->cfg.mmap_min_addr)
		return -EPERM;
	const struct vma *prev = v->node.prev;
	/* Enforce stack_guard_gap against an accessible non-stack prev. */
	if (prev && !(prev->vm_flags & MM_VM_GROWSDOWN) && (prev->vm_flags & MM_VM_ACCESS_FLAGS) &&
	    addr - prev->vm_end < mm->cfg.stack_guard_gap)
		return -ENOMEM;
	if (prev && addr < prev->vm_end)
		return -ENOMEM;
	int err = vma_anon_vma_prepare(mm, v);
	if (err)
		return err;
	if (addr >= v->vm_start)
		return 0;
	uint64_t grow = (v->vm_start - addr) >> PAGE_SHIFT;
	if (grow > v->vm_pgoff)
		return -ENOMEM;
	/* acct_stack_growth(): RLIMIT_STACK bounds the whole VMA, then
	 * RLIMIT_MEMLOCK the growth of a locked one (mlock_future_ok). */
	if (v->vm_end - addr > mm->cfg.stack_rlimit)
		return -ENOMEM;
	if (!mlock_future_ok(mm, v->vm_flags, grow << PAGE_SHIFT))
		return -ENOMEM;
	v->vm_pgoff -= grow;
	vma_set_bounds(mm, v, addr, v->vm_end);
	/* expand_downwards(): a locked stack charges its growth. */
	if (v->vm_flags & MM_VM_LOCKED)
		mm->locked_vm += grow;
	return 0;
}

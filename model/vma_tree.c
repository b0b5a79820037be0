/* The VMA index: a B-tree of ranges keyed by vm_end, with the largest raw
 * hole below each slot, threaded on an address-order list (vma_tree.h
 * states the layout and the invariants T1..T5). The node layout follows the
 * maple tree (lib/maple_tree.c: pivots, slots and gaps per node, 16 slots);
 * the searches follow Linux 6.18 (mm/vma.c: unmapped_area(),
 * unmapped_area_topdown()).
 *
 * Every change descends once to the leaf of the VMA it concerns, recording
 * the path, changes that leaf, and repairs the summaries (last key, max gap)
 * bottom-up along the path, stopping where a summary comes out unchanged.
 * A change to one VMA's bounds also changes gap_before() of its successor:
 * when the successor sits in the same leaf (all but the last entry of a
 * leaf) the same repair covers it; otherwise a second descent repairs it
 * (update_entry()). The path of the last descent is kept (the finger): the
 * lookups and changes of one operation mostly land in one leaf, and then
 * descend from there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static inline uint64_t compute_gap(const struct vma *v)
{
	const struct vma *prev = v->node.prev;
	uint64_t start = prev ? prev->vm_end : 0;
	return v->vm_start > start ? v->vm_start - start : 0;
}

/* include/linux/mm.h: vm_start_gap() */
static inline uint64_t vm_start_gap(const struct vma_tree *vt, const struct vma *v)
{
	if (!(v->vm_flags & MM_VM_GROWSDOWN))
		return v->vm_start;
	return v->vm_start > vt->stack_guard_gap ? v->vm_start - vt->stack_guard_gap : 0;
}

/* The number of keys <= addr in x (unused slots hold VT_KEY_NONE, above
 * any addr a search asks for, so the answer is at most x->n for addr <
 * VT_KEY_NONE). A linear scan with a branch: the streams of real programs
 * come back to the same few places, where the branches predict and the CPU
 * runs ahead down the tree. Branchless searches (a binary one, a count of
 * all 16 compares, a branchless first half-step) measured 1.1-1.5x slower
 * on those streams and no faster on uniformly random addresses. */
static inline unsigned rank(const struct vt_node *x, uint64_t addr)
{
	unsigned i;

	/* Fully unrolled: a compare and a branch per key, without the
	 * counter's increment and bound test (callgrind: half the
	 * instructions of the loop; the same branches). */
#pragma GCC unroll 16
	for (i = 0; i < VT_SLOTS; i++)
		if (x->key[i] > addr)
			break;
	return i;
}

static inline uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* The largest gap in x (unused slots hold gap 0): a tree of maxima, four
 * levels of independent compares rather than a chain of sixteen. */
static inline uint64_t max_gap(const struct vt_node *x)
{
	const uint64_t *g = x->gap;
	uint64_t a = max2(max2(g[0], g[1]), max2(g[2], g[3]));
	uint64_t b = max2(max2(g[4], g[5]), max2(g[6], g[7]));
	uint64_t c = max2(max2(g[8], g[9]), max2(g[10], g[11]));
	uint64_t d = max2(max2(g[12], g[13]), max2(g[14], g[15]));

	_Static_assert(VT_SLOTS == 16, "max_gap() reads 16 slots");
	return max2(max2(a, b), max2(c, d));
}

static inline uint64_t last_key(const struct vt_node *x) { return x->key[x->n - 1]; }

/* A descent reads a node's keys, then one slot: ask for the second key
 * line and both slot lines at once, so that their misses overlap the
 * first key line's instead of following it. */
static inline void prefetch_node(const struct vt_node *x)
{
	__builtin_prefetch(&x->key[VT_SLOTS / 2]);
	__builtin_prefetch(&x->slot[0]);
	__builtin_prefetch(&x->slot[VT_SLOTS / 2]);
}

static inline void clear_slot(struct vt_node *x, unsigned i)
{
	x->key[i] = VT_KEY_NONE;
	x->gap[i] = 0;
	x->slot[i] = NULL;
}

/* ---- node memory ------------------------------------------------------- */

enum { CHUNK_NODES = 63 }; /* + a 64-byte header: 28 KiB blocks */

struct vt_chunk {
	_Alignas(64) struct vt_chunk *next;
};

static int grow_pool(struct vma_tree *vt)
{
	struct vt_chunk *c = aligned_alloc(64, sizeof(struct vt_chunk) + CHUNK_NODES * sizeof(struct vt_node));
	struct vt_node *nodes;

	if (!c)
		return -ENOMEM;
	c->next = vt->chunks;
	vt->chunks = c;
	nodes = (struct vt_node *)(c + 1);
	for (unsigned i = 0; i < CHUNK_NODES; i++) {
		nodes[i].slot[0] = vt->spare;
		vt->spare = &nodes[i];
	}
	vt->nspare += CHUNK_NODES;
	vt->nnodes += CHUNK_NODES;
	return 0;
}

static struct vt_node *node_alloc(struct vma_tree *vt, bool leaf)
{
	struct vt_node *x;

	if (!vt->spare && grow_pool(vt) < 0)
		abort(); /* only without vt_reserve(): see vma_tree.h */
	x = vt->spare;
	vt->spare = x->slot[0];
	vt->nspare--;
	for (unsigned i = 0; i < VT_SLOTS; i++)
		clear_slot(x, i);
	x->n = 0;
	x->leaf = leaf;
	return x;
}

static void node_free(struct vma_tree *vt, struct vt_node *x)
{
	x->n = 0;
	x->slot[0] = vt->spare;
	vt->spare = x;
	vt->nspare++;
}

/* vt_reserve() (vma_tree.h) when the pool is short of need nodes. */
int vt_reserve_slow(struct vma_tree *vt, size_t need)
{
	while (vt->nspare < need)
		if (grow_pool(vt) < 0)
			return -ENOMEM;
	return 0;
}

void vt_init(struct vma_tree *vt, uint64_t stack_guard_gap)
{
	memset(vt, 0, sizeof(*vt));
	vt->stack_guard_gap = stack_guard_gap;
}

void vt_destroy(struct vma_tree *vt)
{
	struct vt_chunk *c = vt->chunks;

	while (c) {
		struct vt_chunk *next = c->next;
		free(c);
		c = next;
	}
	vt_init(vt, vt->stack_guard_gap);
}

/* ---- descent and repair ------------------------------------------------ */

/* ---- the finger ---------------------------------------------------------
 *
 * vt->fp is the path of the last descent. Its range [fp_lo, fp_hi) is the
 * set of addresses whose first key above them lies in its leaf: fp_hi is
 * the leaf's last key and fp_lo the key left of the leaf on the way down
 * (the end of the VMA before the leaf, or 0). A descent for an address in
 * that range starts at the leaf. An operation that changes the tree drops
 * the range when it starts (its own further descents go from the root),
 * fp_valid when it splits, merges or borrows, and settles at its end: the
 * range is restored if the path is still one of the tree. fp_lo is taken
 * on the way down and stays right: it is the last key of the subtree left
 * of the leaf, and a change after the descent touches keys on the path and
 * in the leaf only (a change elsewhere descends again, or drops fp_valid). */
static void finger_settle(struct vma_tree *vt)
{
	if (!vt->fp_valid || !vt->root) {
		vt->fp_hi = 0;
		return;
	}
	vt->fp_hi = last_key(vt->fp.node[vt->height - 1]);
}

static inline bool finger_hit(const struct vma_tree *vt, uint64_t addr)
{
	return addr >= vt->fp_lo && addr < vt->fp_hi;
}

/* Descends towards the first entry whose key is > addr (in every internal
 * node the last child if there is none), recording the path in vt->fp;
 * returns the leaf. The leaf's idx may be n (addr at or above every key).
 * Starts at the finger's leaf when addr is in its range. Drops the range:
 * the caller is about to change the tree, and settles the finger after. */
static struct vt_node *descend(struct vma_tree *vt, uint64_t addr)
{
	struct vt_path *p = &vt->fp;
	struct vt_node *x;
	int l;

	if (finger_hit(vt, addr)) {
		l = vt->height - 1;
		x = p->node[l];
	} else {
		uint64_t lo = 0;

		x = vt->root;
		for (l = 0; l < vt->height - 1; l++) {
			unsigned i = rank(x, addr);

			if (i >= x->n)
				i = x->n - 1u;
			p->node[l] = x;
			p->idx[l] = i;
			if (i > 0)
				lo = x->key[i - 1];
			x = x->slot[i];
			prefetch_node(x);
		}
		p->node[l] = x;
		vt->fp_valid = true;
		vt->fp_lo = lo;
	}
	p->idx[l] = rank(x, addr);
	vt->fp_hi = 0;
	return x;
}

/* The leaf position of v, which is in the tree and whose key in the tree
 * is > its vm_start (true unless vm_start moved up past the old key). */
static struct vt_node *descend_to(struct vma_tree *vt, const struct vma *v)
{
	struct vt_node *x = descend(vt, v->vm_start);
	unsigned i = vt->fp.idx[vt->height - 1];

	if (i >= x->n || x->slot[i] != v)
		abort(); /* v is not in this tree: a caller's bug */
	return x;
}

/* Node p->node[level] changed: refresh the summaries (last key, max gap)
 * of it and its ancestors in their parents, up to the first that comes out
 * unchanged. Above the changed node only one slot per level changes, so an
 * ancestor's new max gap follows from its old one (recorded one level up)
 * without a scan, unless the slot that held the max went down. */
static void repair_up_g(struct vt_path *p, int level, uint64_t g)
{
	const struct vt_node *c = p->node[level];
	uint64_t k = last_key(c);

	for (int l = level - 1; l >= 0; l--) {
		struct vt_node *parent = p->node[l];
		unsigned i = p->idx[l];
		uint64_t old_g = parent->gap[i], old_max;

		if (parent->key[i] == k && old_g == g)
			return;
		parent->key[i] = k;
		parent->gap[i] = g;
		if (l == 0)
			return;
		old_max = p->node[l - 1]->gap[p->idx[l - 1]];
		k = last_key(parent);
		if (g < old_max)
			g = old_g < old_max ? old_max : max_gap(parent);
	}
}

static void repair_up(struct vt_path *p, int level)
{
	repair_up_g(p, level, max_gap(p->node[level]));
}

/* A leaf's new max gap without a scan of its 16 gaps, where the changes
 * allow it: the old max is recorded in the parent (T4), and each change of
 * one slot's gap from old to new either sets the max (new >= max), leaves
 * it (old < max: another slot holds it), or takes the slot that held it
 * down, and only then is a scan needed. An entry inserted is a change from
 * 0, one removed a change to 0 (unused slots hold gap 0). */
struct gapfix {
	uint64_t max;
	bool scan;
};

static inline struct gapfix gapfix_start(const struct vt_path *p, int level)
{
	struct gapfix f = {0, false}; /* a root has no summary to repair */

	if (level > 0)
		f.max = p->node[level - 1]->gap[p->idx[level - 1]];
	return f;
}

static inline void gapfix_change(struct gapfix *f, uint64_t old, uint64_t new)
{
	if (new >= f->max)
		f->max = new;
	else if (old >= f->max)
		f->scan = true;
}

static inline uint64_t gapfix_end(const struct gapfix *f, const struct vt_node *x)
{
	return f->scan ? max_gap(x) : f->max;
}

static inline void set_summary(struct vt_node *parent, unsigned i, const struct vt_node *c)
{
	parent->key[i] = last_key(c);
	parent->gap[i] = max_gap(c);
}

/* Puts (key, gap, slot) at position pos of p->node[level], splitting the
 * node when it is full, and the parent after it, as far up as needed. */
/* f: the leaf's gap changes before this one (NULL above the leaves, or for
 * a scan). */
static void insert_entry(struct vma_tree *vt, struct vt_path *p, int level, unsigned pos, uint64_t key,
                         uint64_t gap, void *slot, struct gapfix *f)
{
	struct vt_node *x = p->node[level], *y;
	uint64_t tk[VT_SLOTS + 1], tg[VT_SLOTS + 1];
	void *ts[VT_SLOTS + 1];
	unsigned total = VT_SLOTS + 1, left;

	if (x->n < VT_SLOTS) {
		unsigned m = x->n - pos;

		memmove(&x->key[pos + 1], &x->key[pos], m * sizeof(x->key[0]));
		memmove(&x->gap[pos + 1], &x->gap[pos], m * sizeof(x->gap[0]));
		memmove(&x->slot[pos + 1], &x->slot[pos], m * sizeof(x->slot[0]));
		x->key[pos] = key;
		x->gap[pos] = gap;
		x->slot[pos] = slot;
		x->n++;
		if (f) {
			gapfix_change(f, 0, gap);
			repair_up_g(p, level, gapfix_end(f, x));
		} else {
			repair_up(p, level);
		}
		return;
	}
	/* Full: 17 entries into two nodes. An append (pos 16) or a prepend
	 * (pos 0) -- address-ordered growth, bottom-up or top-down -- leaves
	 * the node it grows away from nearly full; otherwise halves. */
	memcpy(tk, x->key, pos * sizeof(tk[0]));
	memcpy(tg, x->gap, pos * sizeof(tg[0]));
	memcpy(ts, x->slot, pos * sizeof(ts[0]));
	tk[pos] = key, tg[pos] = gap, ts[pos] = slot;
	memcpy(tk + pos + 1, x->key + pos, (VT_SLOTS - pos) * sizeof(tk[0]));
	memcpy(tg + pos + 1, x->gap + pos, (VT_SLOTS - pos) * sizeof(tg[0]));
	memcpy(ts + pos + 1, x->slot + pos, (VT_SLOTS - pos) * sizeof(ts[0]));
	if (pos == VT_SLOTS)
		left = total - VT_MIN;
	else if (pos == 0)
		left = VT_MIN;
	else
		left = total / 2;

	vt->fp_valid = false;
	y = node_alloc(vt, x->leaf);
	for (unsigned i = 0; i < VT_SLOTS; i++) {
		if (i < left) {
			x->key[i] = tk[i], x->gap[i] = tg[i], x->slot[i] = ts[i];
		} else {
			clear_slot(x, i);
		}
		if (left + i < total) {
			y->key[i] = tk[left + i], y->gap[i] = tg[left + i], y->slot[i] = ts[left + i];
		}
	}
	x->n = (uint8_t)left;
	y->n = (uint8_t)(total - left);

	if (level == 0) {
		struct vt_node *r = node_alloc(vt, false);

		r->slot[0] = x, r->slot[1] = y;
		set_summary(r, 0, x);
		set_summary(r, 1, y);
		r->n = 2;
		vt->root = r;
		vt->height++;
		return;
	}
	set_summary(p->node[level - 1], p->idx[level - 1], x);
	insert_entry(vt, p, level - 1, p->idx[level - 1] + 1, last_key(y), max_gap(y), y, NULL);
}

/* Moves entries so that a (left) and b (its right sibling) hold total/2 and
 * the rest, keeping their order. */
static void redistribute(struct vt_node *a, struct vt_node *b)
{
	unsigned total = a->n + b->n, want = total / 2;

	if (a->n < want) {
		unsigned k = want - a->n;

		memcpy(&a->key[a->n], b->key, k * sizeof(a->key[0]));
		memcpy(&a->gap[a->n], b->gap, k * sizeof(a->gap[0]));
		memcpy(&a->slot[a->n], b->slot, k * sizeof(a->slot[0]));
		memmove(b->key, &b->key[k], (b->n - k) * sizeof(b->key[0]));
		memmove(b->gap, &b->gap[k], (b->n - k) * sizeof(b->gap[0]));
		memmove(b->slot, &b->slot[k], (b->n - k) * sizeof(b->slot[0]));
		for (unsigned i = b->n - k; i < b->n; i++)
			clear_slot(b, i);
	} else if (a->n > want) {
		unsigned k = a->n - want;

		memmove(&b->key[k], b->key, b->n * sizeof(b->key[0]));
		memmove(&b->gap[k], b->gap, b->n * sizeof(b->gap[0]));
		memmove(&b->slot[k], b->slot, b->n * sizeof(b->slot[0]));
		memcpy(b->key, &a->key[want], k * sizeof(b->key[0]));
		memcpy(b->gap, &a->gap[want], k * sizeof(b->gap[0]));
		memcpy(b->slot, &a->slot[want], k * sizeof(b->slot[0]));
		for (unsigned i = want; i < a->n; i++)
			clear_slot(a, i);
	}
	a->n = (uint8_t)want;
	b->n = (uint8_t)(total - want);
}

/* Removes entry pos of p->node[level]; a node left with fewer than VT_MIN
 * entries borrows from a sibling or merges with it, as far up as needed. */
static void remove_entry(struct vma_tree *vt, struct vt_path *p, int level, unsigned pos, struct gapfix *f)
{
	struct vt_node *x = p->node[level], *parent, *a, *b;
	unsigned m = x->n - pos - 1u, i, ia;

	if (f)
		gapfix_change(f, x->gap[pos], 0);
	memmove(&x->key[pos], &x->key[pos + 1], m * sizeof(x->key[0]));
	memmove(&x->gap[pos], &x->gap[pos + 1], m * sizeof(x->gap[0]));
	memmove(&x->slot[pos], &x->slot[pos + 1], m * sizeof(x->slot[0]));
	x->n--;
	clear_slot(x, x->n);

	if (level == 0) {
		if (x->n == 0 || (!x->leaf && x->n == 1))
			vt->fp_valid = false;
		if (x->n == 0) {
			node_free(vt, x);
			vt->root = NULL;
			vt->height = 0;
		} else if (!x->leaf && x->n == 1) {
			vt->root = x->slot[0];
			vt->height--;
			node_free(vt, x);
		}
		return;
	}
	if (x->n >= VT_MIN) {
		if (f)
			repair_up_g(p, level, gapfix_end(f, x));
		else
			repair_up(p, level);
		return;
	}
	vt->fp_valid = false;
	parent = p->node[level - 1];
	i = p->idx[level - 1];
	ia = i > 0 ? i - 1 : i; /* the pair (a, b) = (parent slot ia, ia + 1) */
	a = parent->slot[ia];
	b = parent->slot[ia + 1];
	if (a->n + b->n <= VT_SLOTS) {
		/*  |a ...|b ...|  =>  |a ... b ...|  and b's slot goes */
		memcpy(&a->key[a->n], b->key, b->n * sizeof(a->key[0]));
		memcpy(&a->gap[a->n], b->gap, b->n * sizeof(a->gap[0]));
		memcpy(&a->slot[a->n], b->slot, b->n * sizeof(a->slot[0]));
		a->n = (uint8_t)(a->n + b->n);
		node_free(vt, b);
		set_summary(parent, ia, a);
		p->idx[level - 1] = ia;
		remove_entry(vt, p, level - 1, ia + 1, NULL);
		return;
	}
	redistribute(a, b);
	set_summary(parent, ia, a);
	set_summary(parent, ia + 1, b);
	repair_up(p, level - 1);
}

/* w's key or gap in the tree is stale (w in another leaf than the change
 * that made it so): a second descent sets them and repairs. */
static void update_entry(struct vma_tree *vt, struct vma *w)
{
	struct vt_node *x = descend_to(vt, w);
	unsigned i = vt->fp.idx[vt->height - 1];

	struct gapfix f = gapfix_start(&vt->fp, vt->height - 1);
	uint64_t g = compute_gap(w);

	gapfix_change(&f, x->gap[i], g);
	x->key[i] = w->vm_end;
	x->gap[i] = g;
	repair_up_g(&vt->fp, vt->height - 1, gapfix_end(&f, x));
}

/* ---- the operations ---------------------------------------------------- */

static inline void list_insert(struct vma_tree *vt, struct vma *v, struct vma *prev, struct vma *next)
{
	v->node.prev = prev;
	v->node.next = next;
	if (prev)
		prev->node.next = v;
	else
		vt->first = v;
	if (next)
		next->node.prev = v;
	else
		vt->last = v;
	vt->count++;
}

void vt_insert(struct vma_tree *vt, struct vma *v)
{
	struct vt_node *x;
	struct vma *next, *prev;
	struct gapfix f;
	unsigned pos;
	int leaf;

	if (!vt->root) {
		x = node_alloc(vt, true);
		vt->root = x;
		vt->height = 1;
		vt->fp_valid = false;
		list_insert(vt, v, NULL, NULL);
		x->key[0] = v->vm_end;
		x->gap[0] = compute_gap(v);
		x->slot[0] = v;
		x->n = 1;
		finger_settle(vt);
		return;
	}
	x = descend(vt, v->vm_start);
	leaf = vt->height - 1;
	pos = vt->fp.idx[leaf];
	/* The first key above v->vm_start is next's: every internal node on
	 * the way held one, so the leaf does too unless v goes last. */
	next = pos < x->n ? x->slot[pos] : NULL;
	prev = next ? next->node.prev : vt->last;
	list_insert(vt, v, prev, next);
	f = gapfix_start(&vt->fp, leaf);
	if (next) {
		uint64_t g = compute_gap(next);

		gapfix_change(&f, x->gap[pos], g);
		x->gap[pos] = g;
	}
	insert_entry(vt, &vt->fp, leaf, pos, v->vm_end, compute_gap(v), v, &f);
	finger_settle(vt);
}

/* Unlinks v, found at the finger (its leaf x, position pos), and repairs
 * the gap of v's successor. */
static void erase_at(struct vma_tree *vt, struct vt_node *x, unsigned pos, struct vma *v)
{
	struct vma *prev = v->node.prev, *next = v->node.next;
	struct gapfix f = gapfix_start(&vt->fp, vt->height - 1);
	bool next_here = false;

	if (prev)
		prev->node.next = next;
	else
		vt->first = next;
	if (next) {
		next->node.prev = prev;
		if (pos + 1u < x->n) {
			uint64_t g = compute_gap(next);

			gapfix_change(&f, x->gap[pos + 1], g);
			x->gap[pos + 1] = g;
			next_here = true;
		}
	} else {
		vt->last = prev;
	}
	vt->count--;
	remove_entry(vt, &vt->fp, vt->height - 1, pos, &f);
	if (next && !next_here)
		update_entry(vt, next);
	v->node.prev = v->node.next = NULL;
}

void vt_erase(struct vma_tree *vt, struct vma *v)
{
	struct vt_node *x = descend_to(vt, v);

	erase_at(vt, x, vt->fp.idx[vt->height - 1], v);
	finger_settle(vt);
}

void vt_split(struct vma_tree *vt, struct vma *v, struct vma *n)
{
	struct vt_node *x = descend_to(vt, v);
	int leaf = vt->height - 1;
	unsigned pos = vt->fp.idx[leaf];
	struct gapfix f = gapfix_start(&vt->fp, leaf);

	if (n->vm_start == v->vm_start) {
		/*  |v        |  =>  |n |v     |  n takes v's gap, v's is 0 */
		uint64_t gap = x->gap[pos];

		v->vm_start = n->vm_end;
		gapfix_change(&f, gap, 0);
		x->gap[pos] = 0;
		list_insert(vt, n, v->node.prev, v);
		insert_entry(vt, &vt->fp, leaf, pos, n->vm_end, gap, n, &f);
	} else {
		/*  |v        |  =>  |v     |n |  v's key is n's start, n's gap 0 */
		v->vm_end = n->vm_start;
		x->key[pos] = v->vm_end;
		list_insert(vt, n, v, v->node.next);
		insert_entry(vt, &vt->fp, leaf, pos + 1, n->vm_end, 0, n, &f);
	}
	finger_settle(vt);
}

void vt_move_boundary(struct vma_tree *vt, struct vma *v, uint64_t addr)
{
	struct vt_node *x = descend_to(vt, v);
	int leaf = vt->height - 1;

	struct gapfix f = gapfix_start(&vt->fp, leaf);

	v->vm_end = addr;
	v->node.next->vm_start = addr;
	x->key[vt->fp.idx[leaf]] = addr;
	repair_up_g(&vt->fp, leaf, gapfix_end(&f, x)); /* no gap changed */
	finger_settle(vt);
}

void vt_absorb(struct vma_tree *vt, struct vma *v, struct vma *victim)
{
	struct vt_node *x;
	unsigned pos;

	if (victim == v->node.next) {
		/* v's key in the tree, its old end, is victim's start: the
		 * descent to victim still finds victim. erase_at() computes the
		 * gap of victim's successor from v's new end, which is
		 * victim's: unchanged. */
		v->vm_end = victim->vm_end;
		x = descend_to(vt, victim);
		pos = vt->fp.idx[vt->height - 1];
		if (pos > 0) {
			x->key[pos - 1] = v->vm_end;
			erase_at(vt, x, pos, victim);
		} else {
			erase_at(vt, x, pos, victim);
			update_entry(vt, v);
		}
	} else {
		/* victim below v: v's key stays, and erase_at() gives v
		 * victim's gap. */
		v->vm_start = victim->vm_start;
		x = descend_to(vt, victim);
		erase_at(vt, x, vt->fp.idx[vt->height - 1], victim);
	}
	finger_settle(vt);
}

void vt_set_bounds(struct vma_tree *vt, struct vma *v, uint64_t start, uint64_t end)
{
	struct vt_node *x = descend_to(vt, v);
	int leaf = vt->height - 1;
	unsigned pos = vt->fp.idx[leaf];
	struct vma *next = v->node.next;
	bool next_elsewhere = false;

	struct gapfix f = gapfix_start(&vt->fp, leaf);
	uint64_t g;

	v->vm_start = start;
	v->vm_end = end;
	x->key[pos] = end;
	g = compute_gap(v);
	gapfix_change(&f, x->gap[pos], g);
	x->gap[pos] = g;
	if (next) {
		if (pos + 1u < x->n) {
			g = compute_gap(next);
			gapfix_change(&f, x->gap[pos + 1], g);
			x->gap[pos + 1] = g;
		} else {
			next_elsewhere = true;
		}
	}
	repair_up_g(&vt->fp, leaf, gapfix_end(&f, x));
	if (next_elsewhere)
		update_entry(vt, next);
	finger_settle(vt);
}

/* find_vma(): no change to the tree, but the finger moves to the leaf
 * found (vt is not const for that; see struct vma_tree). */
struct vma *vt_find(const struct vma_tree *cvt, uint64_t addr)
{
	struct vma_tree *vt = (struct vma_tree *)cvt;
	struct vt_path *p = &vt->fp;
	const struct vt_node *x;
	uint64_t lo = 0;
	unsigned i;
	int l;

	if (finger_hit(vt, addr)) {
		x = p->node[vt->height - 1];
		return x->slot[rank(x, addr)];
	}
	x = vt->root;
	if (!x)
		return NULL;
	i = rank(x, addr);
	if (i >= x->n)
		return NULL; /* at or above the last vm_end */
	/* T4: the parent's key of a child is the child's last key, so the
	 * leaf's range ends at hi without reading the leaf's count. */
	uint64_t hi = 0;
	for (l = 0; l < vt->height - 1; l++) {
		p->node[l] = (struct vt_node *)x;
		p->idx[l] = i;
		if (i > 0)
			lo = x->key[i - 1];
		hi = x->key[i];
		x = x->slot[i];
		prefetch_node(x);
		i = rank(x, addr);
	}
	p->node[l] = (struct vt_node *)x;
	p->idx[l] = i;
	vt->fp_valid = true;
	vt->fp_lo = lo;
	vt->fp_hi = l > 0 ? hi : last_key(x);
	return x->slot[i];
}

struct vma *vt_lookup(const struct vma_tree *vt, uint64_t addr)
{
	struct vma *v = vt_find(vt, addr);

	return v && v->vm_start <= addr ? v : NULL;
}

/* mm/mmap.c: find_vma_intersection() is mt_find(start, end - 1): the first
 * VMA holding an address in [start, end - 1], with end - 1 wrapping. */
struct vma *vt_find_intersection(const struct vma_tree *vt, uint64_t start, uint64_t end)
{
	uint64_t last = end - 1;
	struct vma *v;

	if (start > last)
		return NULL;
	v = vt_find(vt, start);
	return v && v->vm_start <= last ? v : NULL;
}

/* ---- free-area search ---------------------------------------------------
 *
 * The maple tree's mas_empty_area{,_rev}(min, max, size) find the lowest or
 * highest hole that keeps at least size bytes inside the window [min, max]
 * (inclusive, as the maple tree counts). For the hole below a VMA, [gs, ge)
 * with gs = prev's end and ge = the VMA's vm_start, that is exactly:
 *   (a) ge - gs >= size              the hole itself is big enough,
 *   (b) ge - min >= size (ge > min)  it reaches far enough above min,
 *   (c) max - gs >= size - 1         it starts far enough below max,
 * together with max - min >= size - 1 for the window. (b) holds for a suffix
 * of the holes in address order and (c) for a prefix. Below slot i of a
 * node, every hole has gs >= lo_i (the key left of the slot) and ge <
 * key[i]; so a slot is skipped when its gap fails (a), when (c) fails at
 * lo_i, or when (b) fails at key[i], and the scan stops where the failing
 * test fails for every slot beyond. Only the slots straddling the window's
 * two ends can be entered and come back empty, so a search enters O(log n)
 * nodes. The hole above the last VMA, [last->vm_end, 2^64), is nobody's
 * gap_before() and is checked on its own.
 */
struct area_query {
	uint64_t min, max; /* window, inclusive */
	uint64_t size;     /* >= 1 */
	/* The search records its way down in the finger's path (node[l],
	 * idx[l] of the level it is at), and the key left of the leaf where
	 * it found the hole: the mapping goes into that hole next, and the
	 * lookups and changes that place it start from that leaf. */
	struct vt_path *path;
	uint64_t leaf_lo;
};

static inline bool reaches_above_min(uint64_t ge, const struct area_query *q)
{
	return ge > q->min && ge - q->min >= q->size;
}

static inline bool starts_below_max(uint64_t gs, const struct area_query *q)
{
	return gs <= q->max && q->max - gs >= q->size - 1;
}

/* The lowest VMA whose hole fits, or NULL; *gs gets the hole's start. A
 * depth-first search from the root, left to right, without recursion: the
 * path records the slot taken on each level, and lo[l] the end of the VMA
 * before node l's subtree (0 if none). A node whose slots all fail goes back
 * up and the scan of its parent goes on right of the slot it had taken. */
static struct vma *lowest_fit(const struct vma_tree *vt, struct area_query *q, uint64_t *gs)
{
	struct vt_path *p = q->path;
	const uint64_t size = q->size;
	const int leaf = vt->height - 1;
	uint64_t lo[VT_MAX_HEIGHT];
	const struct vt_node *x = vt->root;
	unsigned i = 0;
	int l = 0;

	lo[0] = 0;
	p->node[0] = (struct vt_node *)x;
	for (;;) {
		for (; i < x->n; i++) {
			uint64_t lo_i;

			if (x->gap[i] < size)
				continue; /* the common case first: no load of the key */
			lo_i = i ? x->key[i - 1] : lo[l];
			if (!starts_below_max(lo_i, q))
				break; /* (c) fails here, so for everything to the right */
			if (!reaches_above_min(x->key[i], q))
				continue; /* (b) fails for every hole below slot i */
			p->idx[l] = i;
			if (l == leaf) {
				if (reaches_above_min(lo_i + x->gap[i], q)) {
					*gs = lo_i;
					q->leaf_lo = lo[l];
					return x->slot[i];
				}
				continue;
			}
			lo[l + 1] = lo_i;
			x = x->slot[i];
			p->node[++l] = (struct vt_node *)x;
			i = 0;
			goto down;
		}
		if (l == 0)
			return NULL;
		x = p->node[--l];
		i = p->idx[l] + 1;
	down:;
	}
}

/* The highest VMA whose hole fits, or NULL: the same search, right to
 * left. */
static struct vma *highest_fit(const struct vma_tree *vt, struct area_query *q, uint64_t *gs)
{
	struct vt_path *p = q->path;
	const uint64_t size = q->size;
	const int leaf = vt->height - 1;
	uint64_t lo[VT_MAX_HEIGHT];
	const struct vt_node *x = vt->root;
	unsigned i = x->n;
	int l = 0;

	lo[0] = 0;
	p->node[0] = (struct vt_node *)x;
	for (;;) {
		while (i-- > 0) {
			uint64_t lo_i;

			if (x->gap[i] < size)
				continue; /* the common case first: no load of the key */
			if (!reaches_above_min(x->key[i], q))
				break; /* (b) fails here, so for everything to the left */
			lo_i = i ? x->key[i - 1] : lo[l];
			if (!starts_below_max(lo_i, q))
				continue; /* (c) fails for every hole below slot i */
			p->idx[l] = i;
			if (l == leaf) {
				if (reaches_above_min(lo_i + x->gap[i], q)) {
					*gs = lo_i;
					q->leaf_lo = lo[l];
					return x->slot[i];
				}
				continue;
			}
			lo[l + 1] = lo_i;
			x = x->slot[i];
			p->node[++l] = (struct vt_node *)x;
			i = x->n;
			goto down;
		}
		if (l == 0)
			return NULL;
		x = p->node[--l];
		i = p->idx[l];
	down:;
	}
}

/* Runs lowest_fit or highest_fit from the root. The search writes the
 * finger's path as it goes, so the finger is dropped first; when a hole is
 * found the finger is that leaf (vt is not const for that, as in vt_find). */
static struct vma *fit(const struct vma_tree *cvt, struct area_query *q, uint64_t *gs, bool highest)
{
	struct vma_tree *vt = (struct vma_tree *)cvt;
	struct vma *v;

	if (!vt->root)
		return NULL;
	vt->fp_hi = 0;
	vt->fp_valid = false;
	q->path = &vt->fp;
	v = highest ? highest_fit(vt, q, gs) : lowest_fit(vt, q, gs);
	if (v) {
		vt->fp_valid = true;
		vt->fp_lo = q->leaf_lo;
		vt->fp_hi = last_key(vt->fp.node[vt->height - 1]);
	}
	return v;
}

static inline bool window_fits(const struct area_query *q)
{
	return q->size && q->min <= q->max && q->max - q->min >= q->size - 1;
}

static inline uint64_t top_gap_start(const struct vma_tree *vt) { return vt->last ? vt->last->vm_end : 0; }

/* mm/vma.c: unmapped_area_topdown(). The kernel asks the maple tree for the
 * highest hole in [low_limit, high_limit - 1] that fits length (the request
 * plus worst-case alignment and start_gap), places the mapping at the top of
 * it, and retries below vm_start_gap() of the VMA above the hole when that
 * VMA's guard gap reaches into the hole. The retry lowers high_limit for the
 * whole rest of the search, not just for that hole. */
int64_t vt_unmapped_area_topdown(const struct vma_tree *vt, const struct unmapped_area_info *info)
{
	uint64_t length = info->length + info->align_mask + info->start_gap;
	struct area_query q;

	if (length < info->length)
		return -ENOMEM;
	q.min = info->low_limit;
	q.max = info->high_limit - 1; /* vma_iter_area_highest(): max - 1 */
	q.size = length;
	for (;;) {
		struct vma *above;
		uint64_t gap_end, gap, guard, gs;

		if (!window_fits(&q))
			return -ENOMEM;
		if (starts_below_max(top_gap_start(vt), &q)) {
			above = NULL;
			gap_end = q.max + 1; /* 0 when max is ULONG_MAX, as in the kernel */
		} else {
			above = fit(vt, &q, &gs, true);
			if (!above)
				return -ENOMEM;
			gap_end = above->vm_start - 1 < q.max ? above->vm_start : q.max + 1;
		}
		gap = gap_end - info->length;
		gap -= (gap - info->align_offset) & info->align_mask;
		if (above && (above->vm_flags & MM_VM_GROWSDOWN)) {
			guard = vm_start_gap(vt, above);
			if (guard < gap_end) {
				/* high_limit = vm_start_gap(tmp): max falls
				 * strictly, except that a guard reaching 0
				 * makes it ULONG_MAX, as in the kernel. A second
				 * such retry would repeat the same search
				 * forever there; here it is -ENOMEM. */
				if (guard == 0 && q.max == UINT64_MAX)
					return -ENOMEM;
				q.max = guard - 1;
				continue;
			}
		}
		/* The kernel's other branch re-checks vm_end_gap(prev) > gap,
		 * which only VM_GROWSUP can make true: never on x86. */
		return (int64_t)gap;
	}
}

/* mm/vma.c: unmapped_area(). The lowest hole in [low_limit, high_limit - 1]
 * that fits length; the mapping starts start_gap above its bottom, rounded
 * up to the alignment. If the VMA above the hole is VM_GROWSDOWN and its
 * guard gap comes below gap + length - 1 (the kernel's test, which counts
 * start_gap and the alignment slack twice), the search resumes above that
 * VMA. */
int64_t vt_unmapped_area(const struct vma_tree *vt, const struct unmapped_area_info *info)
{
	uint64_t length = info->length + info->align_mask + info->start_gap;
	struct area_query q;

	if (length < info->length)
		return -ENOMEM;
	q.min = info->low_limit;
	q.max = info->high_limit - 1; /* vma_iter_area_lowest(): max - 1 */
	q.size = length;
	for (;;) {
		struct vma *above;
		uint64_t gap = 0;

		if (!window_fits(&q))
			return -ENOMEM;
		above = fit(vt, &q, &gap, false);
		if (!above) {
			gap = top_gap_start(vt);
			if (!starts_below_max(gap, &q))
				return -ENOMEM;
		}
		if (gap < q.min)
			gap = q.min;
		gap += info->start_gap;
		gap += (info->align_offset - gap) & info->align_mask;
		if (above && (above->vm_flags & MM_VM_GROWSDOWN) && vm_start_gap(vt, above) < gap + length - 1) {
			/* low_limit = tmp->vm_end */
			q.min = above->vm_end;
			continue;
		}
		/* As above: the vm_end_gap(prev) > gap re-check is for
		 * VM_GROWSUP only. */
		return (int64_t)gap;
	}
}

/* ---- the checker --------------------------------------------------------- */

struct check_ctx {
	const struct vma_tree *vt;
	void (*report)(void *ctx, int inv, const struct vma *v, const char *what);
	void *report_ctx;
	size_t errors;
	size_t visited;           /* nodes */
	size_t entries;           /* VMAs in the leaves */
	bool aborted;             /* the shape is too broken to walk on */
	const struct vma *last;   /* the previous VMA in leaf order */
	const struct vma *cursor; /* the list walk, in step with leaf order */
	bool list_broken;         /* T2 already reported a divergence */
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
fail(struct check_ctx *c, int inv, const struct vma *v, const char *fmt, ...)
{
	char msg[200];
	int n = 0;
	va_list ap;

	if (v)
		n = snprintf(msg, sizeof(msg), "T%d vma [%#llx, %#llx): ", inv, (unsigned long long)v->vm_start,
		             (unsigned long long)v->vm_end);
	else
		n = snprintf(msg, sizeof(msg), "T%d: ", inv);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	c->errors++;
	if (c->report)
		c->report(c->report_ctx, inv, v, msg);
}

/* One VMA, in leaf order: T1, T2, and the leaf entry's key and gap (T4). */
static void check_vma(struct check_ctx *c, const struct vt_node *x, unsigned i)
{
	const struct vma *v = x->slot[i];
	uint64_t start = c->last ? c->last->vm_end : 0;
	uint64_t gap = v->vm_start > start ? v->vm_start - start : 0;

	c->entries++;
	if (v->vm_start >= v->vm_end)
		fail(c, 1, v, "empty or inverted");
	if (c->last && c->last->vm_start >= v->vm_start)
		fail(c, 1, v, "not sorted: follows [%#llx, %#llx)", (unsigned long long)c->last->vm_start,
		     (unsigned long long)c->last->vm_end);
	else if (c->last && c->last->vm_end > v->vm_start)
		fail(c, 1, v, "overlaps [%#llx, %#llx)", (unsigned long long)c->last->vm_start,
		     (unsigned long long)c->last->vm_end);
	if (!c->list_broken) {
		if (c->cursor != v) {
			fail(c, 2, v, "leaf-order position holds list entry %p", (const void *)c->cursor);
			c->list_broken = true;
		} else if (v->node.prev != c->last) {
			fail(c, 2, v, "prev %p, leaf-order predecessor %p", (const void *)v->node.prev,
			     (const void *)c->last);
			c->list_broken = true;
		}
		if (!c->list_broken)
			c->cursor = v->node.next;
	}
	if (x->key[i] != v->vm_end)
		fail(c, 4, v, "leaf key %#llx, vm_end %#llx", (unsigned long long)x->key[i],
		     (unsigned long long)v->vm_end);
	if (x->gap[i] != gap)
		fail(c, 4, v, "gap %#llx, expected %#llx", (unsigned long long)x->gap[i], (unsigned long long)gap);
	c->last = v;
}

/* Checks x's subtree in order (x at depth `depth`); returns its max gap
 * (its last key is x->key[n - 1], checked against the VMA by then). */
static uint64_t check_node(struct check_ctx *c, const struct vt_node *x, int depth)
{
	const struct vma_tree *vt = c->vt;
	bool is_root = depth == 0, want_leaf = depth == vt->height - 1;
	unsigned min = is_root ? (x->leaf ? 1u : 2u) : VT_MIN;
	uint64_t gmax = 0;

	if (c->aborted)
		return 0;
	if (++c->visited > vt->nnodes) {
		fail(c, 5, NULL, "more nodes reachable than the %zu allocated (a cycle or a shared node)", vt->nnodes);
		c->aborted = true;
		return 0;
	}
	if (depth >= vt->height || (bool)x->leaf != want_leaf) {
		fail(c, 3, NULL, "node %p at depth %d of %d is %s", (const void *)x, depth, vt->height,
		     x->leaf ? "a leaf" : "internal");
		c->aborted = true; /* its slots cannot be trusted as nodes or VMAs */
		return 0;
	}
	if (x->n < min || x->n > VT_SLOTS) {
		fail(c, 3, NULL, "node %p at depth %d holds %u entries, not %u..%u", (const void *)x, depth, x->n,
		     min, VT_SLOTS);
		if (x->n > VT_SLOTS) {
			c->aborted = true;
			return 0;
		}
	}
	for (unsigned i = x->n; i < VT_SLOTS; i++)
		if (x->key[i] != VT_KEY_NONE || x->gap[i] != 0 || x->slot[i] != NULL)
			fail(c, 3, NULL, "node %p: unused slot %u not cleared", (const void *)x, i);
	for (unsigned i = 0; i < x->n && !c->aborted; i++) {
		if (!x->slot[i]) {
			fail(c, 3, NULL, "node %p: slot %u of %u is NULL", (const void *)x, i, x->n);
			c->aborted = true;
			return 0;
		}
		if (i && x->key[i] <= x->key[i - 1])
			fail(c, 4, NULL, "node %p: key %u (%#llx) not above key %u (%#llx)", (const void *)x, i,
			     (unsigned long long)x->key[i], i - 1, (unsigned long long)x->key[i - 1]);
		if (x->leaf) {
			check_vma(c, x, i);
		} else {
			const struct vt_node *child = x->slot[i];
			uint64_t g = check_node(c, child, depth + 1);

			if (c->aborted)
				return 0;
			if (x->key[i] != last_key(child))
				fail(c, 4, NULL, "node %p slot %u: key %#llx, the child's last key %#llx",
				     (const void *)x, i, (unsigned long long)x->key[i],
				     (unsigned long long)last_key(child));
			if (x->gap[i] != g)
				fail(c, 4, NULL, "node %p slot %u: gap %#llx, the child's max gap %#llx",
				     (const void *)x, i, (unsigned long long)x->gap[i], (unsigned long long)g);
		}
		gmax = x->gap[i] > gmax ? x->gap[i] : gmax;
	}
	return gmax;
}

/* The finger, when it has a range, is a path of the tree and its range is
 * that of its leaf (T5). Run after the tree itself checked out. */
static void check_finger(struct check_ctx *c)
{
	const struct vma_tree *vt = c->vt;
	const struct vt_path *p = &vt->fp;
	uint64_t lo = 0;

	if (!vt->fp_hi)
		return;
	if (!vt->fp_valid || !vt->root || p->node[0] != vt->root) {
		fail(c, 5, NULL, "the finger has a range but is not a path from the root");
		return;
	}
	for (int l = 0; l < vt->height - 1; l++) {
		if (p->idx[l] >= p->node[l]->n || p->node[l]->slot[p->idx[l]] != p->node[l + 1]) {
			fail(c, 5, NULL, "the finger's path breaks at depth %d", l);
			return;
		}
		if (p->idx[l] > 0)
			lo = p->node[l]->key[p->idx[l] - 1];
	}
	if (vt->fp_lo != lo || vt->fp_hi != last_key(p->node[vt->height - 1]))
		fail(c, 5, NULL, "the finger's range [%#llx, %#llx), its leaf's [%#llx, %#llx)",
		     (unsigned long long)vt->fp_lo, (unsigned long long)vt->fp_hi, (unsigned long long)lo,
		     (unsigned long long)last_key(p->node[vt->height - 1]));
}

size_t vt_check(const struct vma_tree *vt, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx)
{
	struct check_ctx c = {
		.vt = vt,
		.report = report,
		.report_ctx = ctx,
		.cursor = vt->first,
	};
	size_t spare = 0;

	for (const struct vt_node *x = vt->spare; x && spare <= vt->nnodes; x = x->slot[0])
		spare++;
	if (spare != vt->nspare)
		fail(&c, 5, NULL, "%zu spare nodes on the list, nspare %zu", spare, vt->nspare);
	if (!vt->root) {
		if (vt->height != 0)
			fail(&c, 3, NULL, "empty tree of height %d", vt->height);
	} else if (vt->height < 1 || vt->height > VT_MAX_HEIGHT) {
		fail(&c, 3, NULL, "height %d", vt->height);
		return c.errors;
	} else {
		check_node(&c, vt->root, 0);
	}
	if (c.aborted)
		return c.errors;
	check_finger(&c);
	if (c.entries != vt->count)
		fail(&c, 5, NULL, "%zu VMAs in the leaves, count %zu", c.entries, vt->count);
	if (c.visited + vt->nspare != vt->nnodes)
		fail(&c, 5, NULL, "%zu nodes in the tree + %zu spare, %zu allocated", c.visited, vt->nspare,
		     vt->nnodes);
	if (!c.list_broken && c.cursor)
		fail(&c, 2, c.cursor, "list continues past the last leaf entry");
	if (vt->last != c.last)
		fail(&c, 2, vt->last, "last is %p, the leaves end at %p", (const void *)vt->last,
		     (const void *)c.last);
	return c.errors;
}

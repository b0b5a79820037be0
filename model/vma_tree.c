/* The VMA index: an AVL tree keyed by vm_start, threaded on an address-order
 * list and augmented with the largest raw hole in each subtree (vma_tree.h
 * states the invariants T1..T5). The augmentation follows the rbtree design
 * of Linux before the maple tree (v5.x mm/mmap.c: vma_compute_subtree_gap),
 * the searches follow Linux 6.18 (mm/vma.c: unmapped_area(),
 * unmapped_area_topdown()).
 *
 * Every change repairs the augmentation bottom-up along one path to the
 * root: inserting or erasing v changes gap_before() of v's successor, and
 * vt_set_bounds() changes it for v and its successor; each of those nodes
 * lies on the repaired path (see the comment at each call site).
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define NODE_PARENT(v) ((v)->node.parent)
#define NODE_LEFT(v) ((v)->node.left)
#define NODE_RIGHT(v) ((v)->node.right)

static inline int height_of(const struct vma *v) { return v ? v->node.height : 0; }
static inline uint64_t subtree_gap_of(const struct vma *v) { return v ? v->node.subtree_gap : 0; }

/* The raw hole below v: [gap_start, v->vm_start). */
static inline uint64_t gap_start_of(const struct vma *v) { return v->vm_start - v->node.gap; }

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

/* Recomputes height and subtree_gap of x from its children. */
static inline void recompute(struct vma *x)
{
	const struct vma *l = NODE_LEFT(x), *r = NODE_RIGHT(x);
	int hl = height_of(l), hr = height_of(r);
	uint64_t g = x->node.gap;

	if (subtree_gap_of(l) > g)
		g = subtree_gap_of(l);
	if (subtree_gap_of(r) > g)
		g = subtree_gap_of(r);
	x->node.height = 1 + (hl > hr ? hl : hr);
	x->node.subtree_gap = g;
}

static inline void replace_child(struct vma_tree *vt, struct vma *parent, struct vma *old, struct vma *new)
{
	if (!parent)
		vt->root = new;
	else if (NODE_LEFT(parent) == old)
		NODE_LEFT(parent) = new;
	else
		NODE_RIGHT(parent) = new;
}

/*      x              y
 *     / \            / \
 *    a   y    =>    x   c
 *       / \        / \
 *      b   c      a   b
 */
static void rotate_left(struct vma_tree *vt, struct vma *x)
{
	struct vma *y = NODE_RIGHT(x), *b = NODE_LEFT(y), *p = NODE_PARENT(x);

	NODE_RIGHT(x) = b;
	if (b)
		NODE_PARENT(b) = x;
	NODE_LEFT(y) = x;
	NODE_PARENT(x) = y;
	NODE_PARENT(y) = p;
	replace_child(vt, p, x, y);
	recompute(x);
	recompute(y);
}

/* The mirror image of rotate_left(). */
static void rotate_right(struct vma_tree *vt, struct vma *x)
{
	struct vma *y = NODE_LEFT(x), *b = NODE_RIGHT(y), *p = NODE_PARENT(x);

	NODE_LEFT(x) = b;
	if (b)
		NODE_PARENT(b) = x;
	NODE_RIGHT(y) = x;
	NODE_PARENT(x) = y;
	NODE_PARENT(y) = p;
	replace_child(vt, p, x, y);
	recompute(x);
	recompute(y);
}

/* Restores the AVL rule at x, whose subtrees are valid AVL trees differing
 * in height by at most 2; returns the node now at x's place. */
static struct vma *rebalance(struct vma_tree *vt, struct vma *x)
{
	struct vma *l = NODE_LEFT(x), *r = NODE_RIGHT(x);
	int balance = height_of(l) - height_of(r);

	if (balance > 1) {
		if (height_of(NODE_LEFT(l)) < height_of(NODE_RIGHT(l)))
			rotate_left(vt, l);
		rotate_right(vt, x);
		return NODE_PARENT(x);
	}
	if (balance < -1) {
		if (height_of(NODE_RIGHT(r)) < height_of(NODE_LEFT(r)))
			rotate_right(vt, r);
		rotate_left(vt, x);
		return NODE_PARENT(x);
	}
	recompute(x);
	return x;
}

/* Rebalances and repairs the augmentation from x up. It may stop early, at
 * a subtree whose height and subtree_gap came out unchanged, but only after
 * it has passed must_pass (a node whose own gap changed), since everything
 * above an unchanged subtree is then unchanged too. */
static void fix_up(struct vma_tree *vt, struct vma *x, const struct vma *must_pass)
{
	bool passed = must_pass == NULL;

	while (x) {
		int old_height = x->node.height;
		uint64_t old_gap = x->node.subtree_gap;

		if (x == must_pass)
			passed = true;
		x = rebalance(vt, x);
		if (passed && x->node.height == old_height && x->node.subtree_gap == old_gap)
			return;
		x = NODE_PARENT(x);
	}
}

/* Repairs subtree_gap on the path from x to the root (no shape change),
 * stopping at the first subtree whose subtree_gap came out unchanged once
 * the walk has passed must_pass (the highest node whose own gap changed). */
static void update_path(struct vma *x, const struct vma *must_pass)
{
	bool passed = false;

	for (; x; x = NODE_PARENT(x)) {
		uint64_t old_gap = x->node.subtree_gap;

		if (x == must_pass)
			passed = true;
		recompute(x);
		if (passed && x->node.subtree_gap == old_gap)
			return;
	}
}

void vt_init(struct vma_tree *vt, uint64_t stack_guard_gap)
{
	vt->root = vt->first = vt->last = NULL;
	vt->count = 0;
	vt->stack_guard_gap = stack_guard_gap;
}

void vt_insert(struct vma_tree *vt, struct vma *v)
{
	struct vma *parent = NULL, **link = &vt->root;
	struct vma *prev = NULL, *next = NULL;

	while (*link) {
		parent = *link;
		if (v->vm_start < parent->vm_start) {
			next = parent;
			link = &NODE_LEFT(parent);
		} else {
			prev = parent;
			link = &NODE_RIGHT(parent);
		}
	}
	*link = v;
	v->node.parent = parent;
	v->node.left = v->node.right = NULL;
	v->node.height = 1;

	/* The in-order neighbours are the last ancestors we passed on the right
	 * and on the left. */
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

	v->node.gap = compute_gap(v);
	v->node.subtree_gap = v->node.gap;
	if (next)
		next->node.gap = compute_gap(next);
	/* v is a leaf, so next (if any) is an ancestor of v: the walk from the
	 * parent up passes it. */
	fix_up(vt, parent, next);
}

void vt_split(struct vma_tree *vt, struct vma *v, struct vma *n)
{
	/* v's key only moves within its old range, so the order holds. Below:
	 * v's gap becomes 0, and vt_insert() recomputes it (v is n's next, an
	 * ancestor of the new leaf). Above: v's own gap does not change and
	 * n's next keeps its gap (n ends where v ended). */
	if (n->vm_start == v->vm_start)
		v->vm_start = n->vm_end;
	else
		v->vm_end = n->vm_start;
	vt_insert(vt, n);
}

void vt_move_boundary(struct vma_tree *vt, struct vma *v, uint64_t addr)
{
	(void)vt;
	v->vm_end = addr;
	v->node.next->vm_start = addr;
}

void vt_absorb(struct vma_tree *vt, struct vma *v, struct vma *victim)
{
	/* v's key moves (growing down) only over victim's range, which leaves
	 * with it. vt_erase() recomputes the gap of victim's successor from
	 * victim's predecessor: v's new gap when v grows down, and unchanged
	 * when v grows up (v now ends where victim ended). */
	if (victim == v->node.next)
		v->vm_end = victim->vm_end;
	else
		v->vm_start = victim->vm_start;
	vt_erase(vt, victim);
}

void vt_erase(struct vma_tree *vt, struct vma *v)
{
	struct vma *prev = v->node.prev, *next = v->node.next;
	struct vma *l = NODE_LEFT(v), *r = NODE_RIGHT(v), *p = NODE_PARENT(v);
	struct vma *start;

	if (prev)
		prev->node.next = next;
	else
		vt->first = next;
	if (next) {
		next->node.prev = prev;
		next->node.gap = compute_gap(next);
	} else {
		vt->last = prev;
	}
	vt->count--;

	if (!l || !r) {
		struct vma *child = l ? l : r;

		/* Without a left subtree, next is the leftmost node of r (or an
		 * ancestor when r is NULL too): repair r's part of its path now,
		 * the rest lies on the walk from p. */
		if (!l && r)
			for (struct vma *x = next; x != v; x = NODE_PARENT(x))
				recompute(x);
		replace_child(vt, p, v, child);
		if (child)
			NODE_PARENT(child) = p;
		start = p;
	} else {
		/* next, the leftmost node of r, takes v's place:
		 *
		 *        v              next
		 *       / \             /  \
		 *      l   r    =>     l    r
		 *         /                /
		 *       ...              ...
		 *       /                /
		 *     next             nr
		 *        \
		 *        nr
		 */
		struct vma *s = next;

		if (s == r) {
			start = s;
		} else {
			struct vma *sp = NODE_PARENT(s), *sr = NODE_RIGHT(s);

			NODE_LEFT(sp) = sr;
			if (sr)
				NODE_PARENT(sr) = sp;
			NODE_RIGHT(s) = r;
			NODE_PARENT(r) = s;
			start = sp;
		}
		NODE_LEFT(s) = l;
		NODE_PARENT(l) = s;
		NODE_PARENT(s) = p;
		replace_child(vt, p, v, s);
		/* Seen from above, s stands where v stood: fix_up() compares
		 * against v's values once it has passed s. */
		s->node.height = v->node.height;
		s->node.subtree_gap = v->node.subtree_gap;
	}
	/* Whatever changed lies on the walk from start: next is s, on that
	 * walk, or (r == NULL) an ancestor of v, or was repaired above. */
	fix_up(vt, start, (l || !r) ? next : NULL);

	v->node.parent = v->node.left = v->node.right = NULL;
	v->node.prev = v->node.next = NULL;
}

void vt_set_bounds(struct vma_tree *vt, struct vma *v, uint64_t start, uint64_t end)
{
	struct vma *next = v->node.next;

	(void)vt;
	v->vm_start = start;
	v->vm_end = end;
	v->node.gap = compute_gap(v);
	if (!next) {
		update_path(v, v);
		return;
	}
	next->node.gap = compute_gap(next);
	/* next is the leftmost node of v's right subtree, or else an ancestor
	 * of v: one walk from the lower of the two covers both. */
	if (NODE_RIGHT(v))
		update_path(next, v);
	else
		update_path(v, next);
}

struct vma *vt_find(const struct vma_tree *vt, uint64_t addr)
{
	struct vma *x = vt->root, *found = NULL;

	while (x) {
		if (x->vm_end > addr) {
			found = x;
			if (x->vm_start <= addr)
				break;
			x = NODE_LEFT(x);
		} else {
			x = NODE_RIGHT(x);
		}
	}
	return found;
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
 * (inclusive, as the maple tree counts). For the hole below v, [gs, ge) with
 * gs = prev's end and ge = v->vm_start, that is exactly:
 *   (a) ge - gs >= size              the hole itself is big enough,
 *   (b) ge - min >= size (ge > min)  it reaches far enough above min,
 *   (c) max - gs >= size - 1         it starts far enough below max,
 * together with max - min >= size - 1 for the window. (b) holds for a suffix
 * of the holes in address order and (c) for a prefix, so a descent that
 * prunes subtrees by subtree_gap < size (a) and by (b)/(c) at each node
 * visits O(log n) nodes: only subtrees straddling the two boundaries can fail
 * after passing the subtree_gap test. The hole above the last VMA,
 * [last->vm_end, 2^64), is nobody's gap_before() and is checked on its own.
 */
struct area_query {
	uint64_t min, max; /* window, inclusive */
	uint64_t size;     /* >= 1 */
};

static inline bool reaches_above_min(const struct vma *v, const struct area_query *q)
{
	return v->vm_start > q->min && v->vm_start - q->min >= q->size;
}

static inline bool starts_below_max(uint64_t gs, const struct area_query *q)
{
	return gs <= q->max && q->max - gs >= q->size - 1;
}

/* The lowest VMA in x's subtree whose hole fits, or NULL. */
static struct vma *lowest_fit(struct vma *x, const struct area_query *q)
{
	while (x && x->node.subtree_gap >= q->size) {
		if (reaches_above_min(x, q)) {
			struct vma *found = lowest_fit(NODE_LEFT(x), q);

			if (found)
				return found;
			/* (c) fails here, so for everything to the right too. */
			if (!starts_below_max(gap_start_of(x), q))
				return NULL;
			if (x->node.gap >= q->size)
				return x;
		}
		x = NODE_RIGHT(x);
	}
	return NULL;
}

/* The highest VMA in x's subtree whose hole fits, or NULL. */
static struct vma *highest_fit(struct vma *x, const struct area_query *q)
{
	while (x && x->node.subtree_gap >= q->size) {
		if (starts_below_max(gap_start_of(x), q)) {
			struct vma *found = highest_fit(NODE_RIGHT(x), q);

			if (found)
				return found;
			/* (b) fails here, so for everything to the left too. */
			if (!reaches_above_min(x, q))
				return NULL;
			if (x->node.gap >= q->size)
				return x;
		}
		x = NODE_LEFT(x);
	}
	return NULL;
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
		uint64_t gap_end, gap, guard;

		if (!window_fits(&q))
			return -ENOMEM;
		if (starts_below_max(top_gap_start(vt), &q)) {
			above = NULL;
			gap_end = q.max + 1; /* 0 when max is ULONG_MAX, as in the kernel */
		} else {
			above = highest_fit(vt->root, &q);
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
		uint64_t gap;

		if (!window_fits(&q))
			return -ENOMEM;
		above = lowest_fit(vt->root, &q);
		if (above) {
			gap = gap_start_of(above);
		} else {
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
	size_t visited;
	size_t visit_limit;
	bool aborted;             /* the shape is too broken to walk on */
	const struct vma *last;   /* the previous node in in-order */
	const struct vma *cursor; /* the list walk, in step with in-order */
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

struct subtree_facts {
	int height;
	uint64_t max_gap;
};

/* Checks x's subtree, visiting it in order; returns its real height and
 * max gap so that the parent can check its own fields against them. */
static struct subtree_facts check_subtree(struct check_ctx *c, const struct vma *x, const struct vma *parent,
                                          int depth)
{
	struct subtree_facts f = {0, 0}, lf, rf;
	uint64_t gap;

	if (!x || c->aborted)
		return f;
	if (++c->visited > c->visit_limit) {
		fail(c, 5, x, "more nodes reachable than count %zu (a cycle or a shared node)", c->vt->count);
		c->aborted = true;
		return f;
	}
	if (depth > 100) {
		fail(c, 3, x, "deeper than 100 levels");
		c->aborted = true;
		return f;
	}
	if (x->node.parent != parent)
		fail(c, 5, x, "parent link %p, expected %p", (const void *)x->node.parent, (const void *)parent);

	lf = check_subtree(c, x->node.left, x, depth + 1);
	if (c->aborted)
		return f;

	/* In-order visit of x. */
	if (x->vm_start >= x->vm_end)
		fail(c, 1, x, "empty or inverted");
	if (c->last && c->last->vm_start >= x->vm_start)
		fail(c, 1, x, "not sorted: follows [%#llx, %#llx)", (unsigned long long)c->last->vm_start,
		     (unsigned long long)c->last->vm_end);
	else if (c->last && c->last->vm_end > x->vm_start)
		fail(c, 1, x, "overlaps [%#llx, %#llx)", (unsigned long long)c->last->vm_start,
		     (unsigned long long)c->last->vm_end);
	if (!c->list_broken) {
		if (c->cursor != x) {
			fail(c, 2, x, "in-order position holds list entry %p", (const void *)c->cursor);
			c->list_broken = true;
		} else if (x->node.prev != c->last) {
			fail(c, 2, x, "prev %p, in-order predecessor %p", (const void *)x->node.prev,
			     (const void *)c->last);
			c->list_broken = true;
		}
		if (!c->list_broken)
			c->cursor = x->node.next;
	}
	{
		uint64_t start = c->last ? c->last->vm_end : 0;
		gap = x->vm_start > start ? x->vm_start - start : 0;
	}
	if (x->node.gap != gap)
		fail(c, 4, x, "gap %#llx, expected %#llx", (unsigned long long)x->node.gap,
		     (unsigned long long)gap);
	c->last = x;

	rf = check_subtree(c, x->node.right, x, depth + 1);
	if (c->aborted)
		return f;

	f.height = 1 + (lf.height > rf.height ? lf.height : rf.height);
	f.max_gap = gap;
	if (lf.max_gap > f.max_gap)
		f.max_gap = lf.max_gap;
	if (rf.max_gap > f.max_gap)
		f.max_gap = rf.max_gap;
	if (x->node.height != f.height)
		fail(c, 3, x, "height %d, expected %d", x->node.height, f.height);
	if (lf.height - rf.height > 1 || rf.height - lf.height > 1)
		fail(c, 3, x, "unbalanced: left height %d, right height %d", lf.height, rf.height);
	if (x->node.subtree_gap != f.max_gap)
		fail(c, 4, x, "subtree_gap %#llx, expected %#llx", (unsigned long long)x->node.subtree_gap,
		     (unsigned long long)f.max_gap);
	return f;
}

size_t vt_check(const struct vma_tree *vt, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx)
{
	struct check_ctx c = {
		.vt = vt,
		.report = report,
		.report_ctx = ctx,
		.visit_limit = vt->count,
		.cursor = vt->first,
	};

	if (vt->root && vt->root->node.parent)
		fail(&c, 5, vt->root, "root has parent %p", (const void *)vt->root->node.parent);
	check_subtree(&c, vt->root, vt->root ? vt->root->node.parent : NULL, 0);
	if (c.aborted)
		return c.errors;
	if (c.visited != vt->count)
		fail(&c, 5, NULL, "%zu nodes in the tree, count %zu", c.visited, vt->count);
	if (!c.list_broken && c.cursor)
		fail(&c, 2, c.cursor, "list continues past the last node of the tree");
	if (vt->last != c.last)
		fail(&c, 2, vt->last, "last is %p, the tree ends at %p", (const void *)vt->last, (const void *)c.last);
	return c.errors;
}

/* The VMA index: a B-tree of ranges in the manner of the maple tree
 * (lib/maple_tree.c), sized to cache lines, with the largest free gap
 * tracked per slot so that get_unmapped_area is O(log n). The VMAs are also
 * threaded on a doubly linked list in address order, so prev/next are O(1).
 *
 * A node holds up to VT_SLOTS entries in three arrays (key, gap, slot): 7
 * cache lines, 64-byte aligned; a descent reads the keys (2 lines) and one
 * slot. Entries are sorted by address.
 *   leaf entry:     slot = the VMA, key = its vm_end,
 *                   gap = gap_before(the VMA);
 *   internal entry: slot = a child node, key = the child's last key (the
 *                   highest vm_end below it), gap = the largest gap below.
 * A leaf's gap belongs to its VMA, not to the node, so entries move between
 * nodes (split, merge, borrow) as (key, gap, slot) triples, unchanged. The
 * hole below leaf entry i starts at the key before it: key[i-1] in the same
 * leaf, else the key left of the subtree on the way down (0 at the far left),
 * so the gap searches never touch a VMA until they have chosen one.
 *
 * Invariants (checked by vt_check, and so by mm_check):
 *   T1 the leaves, left to right, hold the VMAs sorted by vm_start, not
 *      overlapping, each non-empty (vm_start < vm_end);
 *   T2 the list order equals that order (prev/next agree, first and last are
 *      its ends);
 *   T3 the shape: every node at depth height-1 is a leaf and no other; every
 *      node but the root holds VT_MIN..VT_SLOTS entries, an internal root at
 *      least 2, a leaf root at least 1 (an empty tree has no root); unused
 *      slots hold key VT_KEY_NONE, gap 0 and NULL;
 *   T4 the keys and gaps: a leaf entry's key is its VMA's vm_end and its gap
 *      gap_before() of its VMA; an internal entry's key is its child's last
 *      key and its gap the max of the child's gaps;
 *   T5 the count: the leaves hold vt->count VMAs; no node is reached twice;
 *      the nodes in the tree plus the spare nodes are all the nodes the tree
 *      allocated; the finger, when set, is a path from the root to a leaf
 *      and [fp_lo, fp_hi) the addresses whose find_vma() lies in that leaf.
 *
 * gap_before(v) = v->vm_start - (prev ? prev->vm_end : 0): the raw hole
 * below v. The stack guard gap is deliberately NOT folded in: Linux 6.18
 * searches raw holes (the maple tree's gaps) and applies vm_start_gap() of
 * the VMA above a candidate hole by retrying (mm/vma.c:
 * unmapped_area_topdown(), unmapped_area()), and that retry is observably
 * different from searching guard-adjusted holes when a VM_GROWSDOWN VMA's
 * guard region reaches below the VMA under it. vm_start_gap(v) =
 * vm_start - stack_guard_gap for VM_GROWSDOWN VMAs, clamped at 0
 * (include/linux/mm.h: vm_start_gap).
 *
 * Memory: insertions take nodes from a spare pool (node chunks from
 * malloc). vt_reserve() fills the pool ahead of time, which makes every
 * insertion that follows infallible -- the kernel's vma_iter_prealloc();
 * the model reserves when it allocates a VMA (model/alloc.c), so an
 * allocation failure happens before anything changes. Without a
 * reservation an insertion allocates on demand and aborts if malloc fails.
 */
#ifndef MMREF_VMA_TREE_H
#define MMREF_VMA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vma;

#define VT_SLOTS 16 /* entries per node */
#define VT_MIN 6    /* fewest entries in a node other than the root */
#define VT_MAX_HEIGHT 32
#define VT_KEY_NONE UINT64_MAX /* the key of an unused slot */

struct vt_node {
	_Alignas(64) uint64_t key[VT_SLOTS];
	uint64_t gap[VT_SLOTS];
	void *slot[VT_SLOTS]; /* struct vma * in a leaf, struct vt_node * above */
	uint8_t n;            /* entries in use */
	uint8_t leaf;
};

/* A descent from the root to one leaf: node[0] is the root, node[height-1]
 * the leaf; idx[l] is the slot taken (in the leaf, the position found). */
struct vt_path {
	struct vt_node *node[VT_MAX_HEIGHT];
	unsigned idx[VT_MAX_HEIGHT];
};

/* The part of struct vma the index owns: the address-order list. */
struct vma_node {
	struct vma *prev, *next;
};

struct vma_tree {
	struct vt_node *root;
	int height; /* levels: 0 when empty, 1 when the root is a leaf */
	struct vma *first, *last;
	size_t count;
	uint64_t stack_guard_gap; /* for vm_start_gap() */
	/* The finger: the path of the last descent, reused by the next one
	 * when its address falls in [fp_lo, fp_hi), the range the leaf
	 * answers for (fp_hi = 0: none). An operation usually finds a VMA,
	 * then changes it or its neighbour, in the same leaf. Kept by
	 * vt_find too, through a const pointer: a tree is not thread-safe. */
	struct vt_path fp;
	uint64_t fp_lo, fp_hi;
	bool fp_valid; /* fp is a path of the current shape */
	/* node memory */
	struct vt_node *spare; /* free nodes, chained through slot[0] */
	size_t nspare;
	size_t nnodes;         /* nodes allocated: in the tree or spare */
	void *chunks;          /* the malloc'd blocks, chained */
};

/* Search parameters, as struct vm_unmapped_area_info (include/linux/mm.h). */
struct unmapped_area_info {
	uint64_t length;
	uint64_t low_limit;  /* lowest allowed start; the caller applies
	                      * mmap_min_addr (mm/vma.c does it here) */
	uint64_t high_limit; /* highest allowed end */
	uint64_t align_mask; /* start & align_mask == align_offset & align_mask */
	uint64_t align_offset;
	uint64_t start_gap; /* extra room required below the mapping */
};

void vt_init(struct vma_tree *vt, uint64_t stack_guard_gap);
/* Frees the tree's nodes (not the VMAs); vt is then empty, as after vt_init. */
void vt_destroy(struct vma_tree *vt);
/* Makes the next `inserts` insertions (vt_insert, vt_split) infallible:
 * enough spare nodes for each to split a node on every level and add a
 * root. Returns 0, or -ENOMEM with nothing changed. */
int vt_reserve_slow(struct vma_tree *vt, size_t need);
static inline int vt_reserve(struct vma_tree *vt, size_t inserts)
{
	size_t need = inserts * (size_t)(vt->height + 2);

	return vt->nspare >= need ? 0 : vt_reserve_slow(vt, need); /* the pool mostly holds enough */
}
/* Links v (its vm_start/vm_end/vm_flags already set, not overlapping any
 * VMA in the tree). */
void vt_insert(struct vma_tree *vt, struct vma *v);
void vt_erase(struct vma_tree *vt, struct vma *v);
/* Splits v in two: n (its bounds set, not linked) takes the part of v below
 * or above n's boundary and v keeps the rest. One descent: n goes into v's
 * leaf beside v, and no hole appears even for a moment. */
void vt_split(struct vma_tree *vt, struct vma *v, struct vma *n);
/* v and its successor are adjacent; the boundary between them moves to addr
 * (strictly inside the pair). No gap changes; v's key does. */
void vt_move_boundary(struct vma_tree *vt, struct vma *v, uint64_t addr);
/* victim, v's adjacent successor or predecessor, leaves the index and v
 * grows over its range: one erase, no hole in between. The caller frees
 * victim. */
void vt_absorb(struct vma_tree *vt, struct vma *v, struct vma *victim);
/* Changes v's bounds in place; the new bounds must keep the order and not
 * overlap the neighbours. Repairs v's key and gap and the gap of v's next. */
void vt_set_bounds(struct vma_tree *vt, struct vma *v, uint64_t start, uint64_t end);
/* find_vma(): the first VMA with vm_end > addr, or NULL. */
struct vma *vt_find(const struct vma_tree *vt, uint64_t addr);
/* vma_lookup(): the VMA containing addr, or NULL. */
struct vma *vt_lookup(const struct vma_tree *vt, uint64_t addr);
/* find_vma_intersection(): the first VMA overlapping [start, end), or NULL. */
struct vma *vt_find_intersection(const struct vma_tree *vt, uint64_t start, uint64_t end);
/* unmapped_area_topdown() / unmapped_area() (mm/vma.c): the chosen start, or
 * -ENOMEM (as a negative int64_t) if no gap fits. Exactly the kernel's
 * result, including its retry when the VMA above the chosen hole is
 * VM_GROWSDOWN. One corner is kept too: when that VMA's guard gap reaches
 * address 0, the top-down retry runs with high_limit 0, which the maple tree
 * reads as "up to ULONG_MAX", and the kernel returns an address near 2^64.
 * That value comes back here as a page-aligned negative number other than
 * -ENOMEM; the kernel's callers see a page-aligned address (no bottom-up
 * fallback) and __get_unmapped_area fails it with -ENOMEM (addr > TASK_SIZE
 * - len). */
int64_t vt_unmapped_area_topdown(const struct vma_tree *vt, const struct unmapped_area_info *info);
int64_t vt_unmapped_area(const struct vma_tree *vt, const struct unmapped_area_info *info);
/* Reports every broken T1..T5 invariant through report() (inv = 1..5);
 * returns the number found. */
size_t vt_check(const struct vma_tree *vt, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx);

static inline struct vma *vt_first(const struct vma_tree *vt) { return vt->first; }
static inline struct vma *vt_last(const struct vma_tree *vt) { return vt->last; }

#endif

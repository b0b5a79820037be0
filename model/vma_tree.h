/* The VMA index: a balanced search tree keyed by vm_start, augmented with the
 * largest free gap in each subtree so that get_unmapped_area is O(log n) --
 * the design Linux used before the maple tree (mm/mmap.c, rb_subtree_gap).
 * The VMAs are also threaded on a doubly linked list in address order, so
 * prev/next are O(1).
 *
 * Invariants (checked by vt_check, and so by mm_check):
 *   T1 in-order traversal is sorted by vm_start and VMAs do not overlap
 *      (and every VMA is non-empty: vm_start < vm_end);
 *   T2 the list order equals the in-order traversal (prev/next agree, first
 *      and last are its ends);
 *   T3 the balance rule of the tree holds at every node (AVL: height is
 *      1 + the taller child, children differ in height by at most 1);
 *   T4 every node's gap is gap_before() and its subtree_gap is the max of
 *      gap_before() over its subtree;
 *   T5 parent links are consistent; the node count equals vt->count.
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
 */
#ifndef MMREF_VMA_TREE_H
#define MMREF_VMA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vma;

struct vma_node {
	/* Ordered so that a lookup touches left, right and then vm_start and
	 * vm_end (struct vma places them right after the node), and a gap
	 * search gap..vm_start: one cache line when the VMA is well aligned. */
	int height; /* AVL height (leaf = 1) */
	struct vma *parent;
	struct vma *prev, *next; /* address order */
	uint64_t gap;            /* gap_before() of this VMA, cached */
	uint64_t subtree_gap;    /* max gap_before() over this subtree */
	struct vma *left, *right;
};

struct vma_tree {
	struct vma *root;
	struct vma *first, *last;
	size_t count;
	uint64_t stack_guard_gap; /* for vm_start_gap() */
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
/* Links v (its vm_start/vm_end/vm_flags already set, not overlapping any
 * VMA in the tree). */
void vt_insert(struct vma_tree *vt, struct vma *v);
void vt_erase(struct vma_tree *vt, struct vma *v);
/* Splits v in two: n (its bounds set, not linked) takes the part of v below
 * or above n's boundary and v keeps the rest. The range stays covered, so
 * no hole appears even for a moment: the repair is that of one insertion. */
void vt_split(struct vma_tree *vt, struct vma *v, struct vma *n);
/* v and its successor are adjacent; the boundary between them moves to addr
 * (strictly inside the pair). No gap changes, so nothing to repair. */
void vt_move_boundary(struct vma_tree *vt, struct vma *v, uint64_t addr);
/* victim, v's adjacent successor or predecessor, leaves the index and v
 * grows over its range: one erase, no hole in between. The caller frees
 * victim. */
void vt_absorb(struct vma_tree *vt, struct vma *v, struct vma *victim);
/* Changes v's bounds in place; the new bounds must keep the order and not
 * overlap the neighbours. Repairs the gap augmentation of v and of v's next. */
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
/* Writes up to cap messages about broken T1..T5 invariants through report();
 * returns the number found. */
size_t vt_check(const struct vma_tree *vt, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx);

static inline struct vma *vt_first(const struct vma_tree *vt) { return vt->first; }
static inline struct vma *vt_last(const struct vma_tree *vt) { return vt->last; }

#endif

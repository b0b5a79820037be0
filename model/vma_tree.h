/* The VMA index: a balanced search tree keyed by vm_start, augmented with the
 * largest free gap in each subtree so that get_unmapped_area is O(log n) --
 * the design Linux used before the maple tree (mm/mmap.c, rb_subtree_gap).
 * The VMAs are also threaded on a doubly linked list in address order, so
 * prev/next are O(1).
 *
 * Invariants (checked by vt_check, and so by mm_check):
 *   T1 in-order traversal is sorted by vm_start and VMAs do not overlap;
 *   T2 the list order equals the in-order traversal;
 *   T3 the balance rule of the tree holds at every node;
 *   T4 every node's subtree_gap is the max of gap_before() over its subtree;
 *   T5 parent links are consistent; the node count equals vt->count.
 *
 * gap_before(v) = vm_start_gap(v) - (prev ? prev->vm_end : 0), clamped at 0,
 * where vm_start_gap(v) = vm_start - stack_guard_gap for VM_GROWSDOWN VMAs
 * (include/linux/mm.h: vm_start_gap), clamped at 0.
 */
#ifndef MMREF_VMA_TREE_H
#define MMREF_VMA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vma;

struct vma_node {
	struct vma *parent, *left, *right;
	struct vma *prev, *next; /* address order */
	int height;              /* AVL height (leaf = 1) */
	uint64_t subtree_gap;    /* max gap_before() over this subtree */
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
	uint64_t low_limit;  /* lowest allowed start */
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
 * -ENOMEM (as a negative int64_t) if no gap fits. */
int64_t vt_unmapped_area_topdown(const struct vma_tree *vt, const struct unmapped_area_info *info);
int64_t vt_unmapped_area(const struct vma_tree *vt, const struct unmapped_area_info *info);
/* Writes up to cap messages about broken T1..T5 invariants through report();
 * returns the number found. */
size_t vt_check(const struct vma_tree *vt, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx);

static inline struct vma *vt_first(const struct vma_tree *vt) { return vt->first; }
static inline struct vma *vt_last(const struct vma_tree *vt) { return vt->last; }

#endif

/* VMA merging, written as the cases of mm/vma.c (Linux 6.18.y with the
 * 6.18.37 sticky-flag backport). Pictures: P = prev, M = middle, N = next,
 * the new or modified range is marked with *.
 *
 * Pointers into nm->vmas die on every insert or remove; every function here
 * works from addresses and re-finds VMAs after changing the array. */
#include "naive_internal.h"

/* Either side without an anon_vma, or the same one (the prev/next check of
 * can_vma_merge_right). */
bool nv_anon_compatible(uint32_t a, uint32_t b) { return a == 0 || b == 0 || a == b; }

/* mm/vma.c: is_mergeable_anon_vma(): tgt is the VMA merged into; p the
 * range, with its anon_vma, and src_forked when it is an existing VMA whose
 * chain is not singular (vma_had_uncowed_parents; a new range, mremap's
 * copy_vma included, has none). Taking the other's anon_vma is allowed only
 * from a VMA with a singular chain; otherwise the anon_vmas must be equal. */
static bool anon_mergeable(const naive_mm *nm, const nvma *tgt, uint32_t src_anon, bool src_forked)
{
	/* 6.1/6.12 is_mergeable_anon_vma(src's, tgt's, tgt): a missing
	 * anon_vma passes only if tgt's anon_vma_chain has exactly one entry --
	 * so a tgt without any never takes a range that has one */
	if (!nv_has(nm, NV_ANON_MERGE_INTO_UNFAULTED) && !tgt->anon_vma && src_anon)
		return false;
	if (!tgt->anon_vma && src_anon)
		return !src_forked;
	if (tgt->anon_vma && !src_anon)
		return !tgt->forked;
	return tgt->anon_vma == src_anon;
}

/* mm/vma.c: is_mergeable_vma(): flags equal outside VM_IGNORE_MERGE, the same
 * struct file (file id / shmem object), mempolicy/uffd/anon name always equal
 * here; plus the anon_vma rule. */
static bool is_mergeable(const naive_mm *nm, const nvma *v, const nvma *p, bool src_forked)
{
	if ((v->flags ^ p->flags) & ~MM_VM_IGNORE_MERGE)
		return false;
	if (v->backing != p->backing || v->object != p->object)
		return false;
	return anon_mergeable(nm, v, p->anon_vma, src_forked);
}

/* can_vma_merge_after(): p continues prev, in addresses and in pgoff. */
static bool can_merge_left(const naive_mm *nm, const nvma *prev, const nvma *p, bool src_forked)
{
	return prev && prev->end == p->start && is_mergeable(nm, prev, p, src_forked) &&
	       prev->pgoff + nv_pages(prev->end - prev->start) == p->pgoff;
}

/* can_vma_merge_right(): next continues p; if prev also merges, prev and next
 * must have compatible anon_vmas with each other. */
static bool can_merge_right(const naive_mm *nm, const nvma *prev, bool merge_left, const nvma *next, const nvma *p,
                            bool src_forked)
{
	if (!next || next->start != p->end || !is_mergeable(nm, next, p, src_forked) ||
	    next->pgoff != p->pgoff + nv_pages(p->end - p->start))
		return false;
	return !merge_left || nv_anon_compatible(prev->anon_vma, next->anon_vma);
}

static uint32_t first_anon(uint32_t a, uint32_t b, uint32_t c) { return a ? a : b ? b : c; }

/* The merged VMA's chain: its own, or the one it took with the anon_vma
 * (dup_anon_vma clones the source's chain): not singular if any VMA taking
 * part had one that is not (the merge rules allow that only where they share
 * the anon_vma, or where it is the one taken). */
static bool merged_forked(const nvma *a, const nvma *b, const nvma *c)
{
	return (a->anon_vma && a->forked) || (b && b->anon_vma && b->forked) || (c && c->anon_vma && c->forked);
}

/* mm/vma.c: vma_merge_new_range(). `proposed` is a range not yet in the
 * array (nothing overlaps it). Returns the VMA that now covers it, or NULL
 * when the caller must insert a new VMA. just_expand: left side only.
 * The merged VMA gets every sticky flag of the participants (vma_expand). */
nvma *nv_merge_new_range(naive_mm *nm, const nvma *proposed, bool just_expand)
{
	return nv_merge_new_range_apart(nm, proposed, just_expand, 0, 0);
}

nvma *nv_merge_new_range_apart(naive_mm *nm, const nvma *proposed, bool just_expand, uint64_t apart_start,
                               uint64_t apart_end)
{
	if (proposed->flags & MM_VM_SPECIAL)
		return NULL;
	nvma *next = nv_find_vma(nm, proposed->start); /* first VMA after the hole */
	nvma *prev = next ? nv_prev_of(nm, next) : (nm->nvmas ? &nm->vmas[nm->nvmas - 1] : NULL);
	/* the VMA [apart_start, apart_end) takes no part (apart_end 0: none) */
	if (apart_end && prev && prev->start == apart_start && prev->end == apart_end)
		prev = NULL;
	if (apart_end && next && next->start == apart_start && next->end == apart_end)
		next = NULL;
	if (!prev && !next)
		return NULL;
	bool left = can_merge_left(nm, prev, proposed, false);
	bool right = !just_expand && can_merge_right(nm, prev, left, next, proposed, false);
	uint64_t sticky = proposed->flags & MM_VM_STICKY;

	if (left && right) {
		/*   PPPP****NNNN  ->  PPPPPPPPPPPP   (next removed) */
		uint64_t next_end = next->end;
		sticky |= (prev->flags | next->flags) & MM_VM_STICKY;
		prev->anon_vma = first_anon(prev->anon_vma, proposed->anon_vma, next->anon_vma);
		prev->forked = merged_forked(prev, proposed, next);
		prev->end = next_end;
		prev->flags |= sticky;
		uint64_t at = prev->start;
		nv_remove_vma(nm, next);
		return nv_vma_at(nm, at);
	}
	if (left) {
		/*   PPPP****      ->  PPPPPPPP */
		prev->anon_vma = first_anon(prev->anon_vma, proposed->anon_vma, 0);
		prev->forked = merged_forked(prev, proposed, NULL);
		prev->end = proposed->end;
		prev->flags |= sticky | (prev->flags & MM_VM_STICKY);
		return prev;
	}
	if (right) {
		/*       ****NNNN  ->      NNNNNNNN   (next's pgoff moves down;
		 * 6.18.y copied_from: next takes the source's anon_vma) */
		next->anon_vma = first_anon(next->anon_vma, proposed->anon_vma, 0);
		next->forked = merged_forked(next, proposed, NULL);
		next->start = proposed->start;
		next->pgoff = proposed->pgoff;
		next->flags |= sticky;
		return next;
	}
	return NULL;
}

/* mm/vma.c: vma_modify() = vma_merge_existing_range(), else split_vma() at
 * each edge. [start, end) lies inside `middle`; newflags are the flags the
 * range should get. On success *result is the VMA that now holds exactly
 * the range's attributes (possibly merged), with newflags (plus sticky bits)
 * written. On failure (-ENOMEM: split at the map limit) an earlier split is
 * kept, as in the kernel. */
int nv_modify_flags(naive_mm *nm, nvma *middle, uint64_t start, uint64_t end, uint64_t newflags,
                    nvma **result)
{
	bool left_side = start == middle->start;
	bool right_side = end == middle->end;

	nvma p = *middle; /* the proposed range with its new attributes */
	p.start = start;
	p.end = end;
	p.flags = newflags;
	p.pgoff = nv_vma_file_index(middle, start);

	if (!(newflags & MM_VM_SPECIAL) && (left_side || right_side)) {
		nvma *prev = nv_prev_of(nm, middle);
		nvma *next = nv_next_of(nm, middle);
		bool merge_left = left_side && can_merge_left(nm, prev, &p, middle->forked);
		bool merge_right = right_side && can_merge_right(nm, prev, merge_left, next, &p, middle->forked);
		/* the merged VMA keeps every sticky flag of the VMAs taking part */
		uint64_t sticky = (newflags | middle->flags) & MM_VM_STICKY;
		if (merge_left)
			sticky |= prev->flags & MM_VM_STICKY;
		if (merge_right)
			sticky |= next->flags & MM_VM_STICKY;

		if (merge_left && merge_right) {
			/*   PPPP MMMM NNNN  ->  PPPPPPPPPPPPPP
			 *        ****          (middle and next removed) */
			uint64_t at = prev->start, new_end = next->end;
			prev->anon_vma = first_anon(prev->anon_vma, middle->anon_vma, next->anon_vma);
			prev->forked = merged_forked(prev, middle, next);
			prev->end = new_end;
			prev->flags = newflags | sticky;
			nv_remove_vma(nm, next);
			nv_remove_vma(nm, middle);
			*result = nv_vma_at(nm, at);
			return 0;
		}
		if (merge_left) {
			/*   PPPP MMMM       ->  PPPPPPPP MM  (middle shrinks from the left)
			 *        **             or PPPPPPPPPP when middle is covered */
			uint64_t at = prev->start;
			prev->anon_vma = first_anon(prev->anon_vma, middle->anon_vma, 0);
			prev->forked = merged_forked(prev, middle, NULL);
			prev->end = end;
			prev->flags = newflags | sticky;
			if (right_side) {
				nv_remove_vma(nm, middle);
			} else {
				middle->pgoff += nv_pages(end - middle->start);
				middle->start = end;
				/* the boundary moved inside middle: a huge page
				 * straddling it is split first (commit_merge() ->
				 * vma_adjust_trans_huge()), as for a split */
				if (end % NV_PMD)
					nv_regions_split_partial(nm, end, end);
			}
			*result = nv_vma_at(nm, at);
			return 0;
		}
		if (merge_right) {
			/*   MMMM NNNN       ->  MM NNNNNNNN  (next's start and pgoff move down)
			 *     **                or NNNNNNNNNN when middle is covered */
			next->anon_vma = first_anon(next->anon_vma, middle->anon_vma, 0);
			next->forked = merged_forked(next, middle, NULL);
			next->start = start;
			next->pgoff = p.pgoff;
			next->flags = newflags | sticky;
			if (left_side) {
				nv_remove_vma(nm, middle);
			} else {
				middle->end = start;
				if (start % NV_PMD) /* as above */
					nv_regions_split_partial(nm, start, start);
			}
			*result = nv_vma_at(nm, start);
			return 0;
		}
	}

	/* No merge: split_vma() at start, then at end. split_vma() refuses at
	 * map_count >= max_map_count. */
	if (middle->start < start) {
		if (nm->nvmas >= nm->cfg.max_map_count)
			return -ENOMEM;
		nv_split(nm, middle, start);
	}
	middle = nv_vma_at(nm, start);
	if (middle->end > end) {
		if (nm->nvmas >= nm->cfg.max_map_count)
			return -ENOMEM;
		nv_split(nm, middle, end);
	}
	middle = nv_vma_at(nm, start);
	middle->flags = newflags | (middle->flags & MM_VM_STICKY);
	*result = middle;
	return 0;
}

/* mm/rmap.c: anon_vma_prepare() with find_mergeable_anon_vma(): reuse the
 * anon_vma of the next VMA, else of the previous one, when the neighbour is
 * adjacent, has the same file, flags equal outside R/W/X and the ignored
 * bits, and a linear pgoff (anon_vma_compatible); else a new one. */
static bool anon_vma_compatible(const nvma *a, const nvma *b)
{
	return a->end == b->start && a->backing == b->backing && a->object == b->object &&
	       !((a->flags ^ b->flags) & ~(MM_VM_ACCESS_FLAGS | MM_VM_IGNORE_MERGE)) &&
	       b->pgoff == a->pgoff + nv_pages(b->start - a->start);
}

uint32_t nv_anon_vma_prepare(naive_mm *nm, nvma *v)
{
	if (v->anon_vma)
		return v->anon_vma;
	nvma *next = nv_next_of(nm, v);
	nvma *prev = nv_prev_of(nm, v);
	/* reusable_anon_vma(): only a neighbour whose chain is singular */
	if (next && next->anon_vma && !next->forked && anon_vma_compatible(v, next))
		v->anon_vma = next->anon_vma;
	else if (prev && prev->anon_vma && !prev->forked && anon_vma_compatible(prev, v))
		v->anon_vma = prev->anon_vma;
	else
		v->anon_vma = ++nm->last_anon_vma;
	return v->anon_vma;
}

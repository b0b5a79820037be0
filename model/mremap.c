/* mremap(2): mm/mremap.c (6.18.y): check_mremap_params(), remap_move(),
 * check_prep_vma(), mremap_to(), mremap_at(), move_vma(); and mm/vma.c
 * copy_vma(), vma_merge_extend(). One struct remap carries the call, as the
 * kernel's struct vma_remap_struct does. */
#include "gup.h"
#include "mmap.h"
#include "munmap.h"
#include "pagepolicy.h"
#include "pgtable.h"
#include "vma.h"

enum remap_type { REMAP_NO_RESIZE, REMAP_SHRINK, REMAP_EXPAND };

struct remap {
	uint64_t addr;     /* source start */
	uint64_t old_len;  /* page aligned */
	uint64_t new_len;  /* page aligned */
	uint64_t flags;    /* MREMAP_* */
	uint64_t new_addr; /* destination (a hint without MREMAP_FIXED) */
	uint64_t delta;    /* |new_len - old_len| */
	enum remap_type type;
	struct vma *vma;      /* the source VMA */
	bool populate_expand; /* locked VMA grew: populate the new part */
};

static bool implies_new_addr(const struct remap *r)
{
	return r->flags & (MM_MREMAP_FIXED | MM_MREMAP_DONTUNMAP);
}

/* check_mremap_params() */
static int check_params(const mm_state *mm, const struct remap *r)
{
	if (r->flags & ~(uint64_t)(MM_MREMAP_FIXED | MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP))
		return -EINVAL;
	if (offset_in_page(r->addr))
		return -EINVAL;
	if (!r->new_len || r->new_len > MM_TASK_SIZE)
		return -EINVAL;
	if (!implies_new_addr(r))
		return 0;
	if (r->new_addr > MM_TASK_SIZE - r->new_len)
		return -EINVAL;
	if (offset_in_page(r->new_addr))
		return -EINVAL;
	if (!(r->flags & MM_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((r->flags & MM_MREMAP_DONTUNMAP) && r->old_len != r->new_len)
		return -EINVAL;
	if (r->addr + r->old_len > r->new_addr && r->new_addr + r->new_len > r->addr)
		return -EINVAL; /* overlapping source and destination */
	/* Stay clear of the limit: both sides may split in three. */
	if (mm->vt.count + 2 >= mm->cfg.max_map_count - 3)
		return -ENOMEM;
	return 0;
}

/* check_prep_vma() */
static int check_prep_vma(const mm_state *mm, struct remap *r)
{
	struct vma *v = r->vma;
	if (!v)
		return -EFAULT;
	if (v->vm_flags & MM_VM_SEALED)
		return -EPERM;
	r->delta = r->old_len > r->new_len ? r->old_len - r->new_len : r->new_len - r->old_len;
	r->type = r->delta == 0 ? REMAP_NO_RESIZE : r->old_len > r->new_len ? REMAP_SHRINK : REMAP_EXPAND;
	if (!implies_new_addr(r))
		r->new_addr = r->addr;
	/* Only an expansion or a move goes further. */
	if (r->type != REMAP_EXPAND && !implies_new_addr(r))
		return 0;
	/* old_len 0 "duplicates" only shared mappings. */
	if (!r->old_len && !(v->vm_flags & (MM_VM_SHARED | MM_VM_MAYSHARE)))
		return -EINVAL;
	if ((r->flags & MM_MREMAP_DONTUNMAP) && (v->vm_flags & (MM_VM_DONTEXPAND | MM_VM_PFNMAP)))
		return -EINVAL;
	/* Not across the end of the VMA -- except that a shrink may span any
	 * VMAs and gaps as long as the part kept lies in this one (6.17:
	 * "allow undocumented mremap() shrink behaviour"). */
	uint64_t kept = r->type == REMAP_SHRINK ? r->new_len : r->old_len;
	if (kept > v->vm_end - r->addr)
		return -EFAULT;
	if (r->new_len == r->old_len)
		return 0;
	if (r->type == REMAP_EXPAND && (v->vm_flags & MM_VM_LOCKED))
		r->populate_expand = true;
	uint64_t pgoff = v->vm_pgoff + ((r->addr - v->vm_start) >> PAGE_SHIFT);
	if (pgoff + (r->new_len >> PAGE_SHIFT) < pgoff)
		return -EINVAL;
	if (v->vm_flags & (MM_VM_DONTEXPAND | MM_VM_PFNMAP))
		return -EFAULT;
	/* The growth of a VM_LOCKED VMA must fit RLIMIT_MEMLOCK. (The kernel
	 * reaches this only when growing: for a shrink its old_len is
	 * new_len by now and it returned above.) may_expand_vm() holds: the
	 * model has no RLIMIT_AS/RLIMIT_DATA. */
	if (r->type == REMAP_EXPAND && !mlock_future_ok(mm, v->vm_flags, r->delta))
		return -EAGAIN;
	return 0;
}

/* vrm_set_new_addr(): where the moved range goes. */
static int set_new_addr(mm_state *mm, struct remap *r)
{
	struct vma *v = r->vma;
	uint64_t pgoff = v->vm_pgoff + ((r->addr - v->vm_start) >> PAGE_SHIFT);
	uint64_t hint = implies_new_addr(r) ? r->new_addr : 0;
	uint64_t map_flags = (r->flags & MM_MREMAP_FIXED ? MM_MAP_FIXED : 0);
	bool shared = v->vm_flags & MM_VM_MAYSHARE;
	/* get_unmapped_area(vma->vm_file, ...): a shared anonymous VMA has its
	 * shmem file, so only private anonymous memory takes the anon paths. */
	int64_t res = mmap_get_unmapped_area(mm, v->obj, false, hint, r->new_len, pgoff,
	                                map_flags | (shared ? MM_MAP_SHARED : 0));
	if (res < 0)
		return (int)res;
	r->new_addr = (uint64_t)res;
	return 0;
}

/* Takes the boundaries at a and b off the merge check's list (I9): the
 * kernel made no merge attempt there. */
static void forget_boundaries(mm_state *mm, uint64_t a, uint64_t b)
{
	unsigned k = 0;
	for (unsigned i = 0; i < mm->n_touched; i++)
		if (mm->touched[i] != a && mm->touched[i] != b)
			mm->touched[k++] = mm->touched[i];
	mm->n_touched = k;
}

/* mm/vma.c: copy_vma(): the VMA for [addr, addr+len) at the destination,
 * merged with its neighbours there if possible. */
static struct vma *copy_vma(mm_state *mm, struct vma *src, uint64_t addr, uint64_t len, uint64_t pgoff,
                            bool keep_source)
{
	/* An anonymous VMA never faulted takes the pgoff of its new place, so
	 * that it can merge there. */
	bool unfaulted = vma_is_anonymous(src) && !src->anon_vma;
	if (unfaulted)
		pgoff = addr >> PAGE_SHIFT;
	struct vma *next = vt_find(&mm->vt, addr);
	struct vma *prev = next ? next->node.prev : vt_last(&mm->vt);
	if (next && next->vm_start < addr + len)
		return NULL; /* cannot happen: the destination is free */
	/* copy_vma(keep_source) of Debian's 6.1.192 (mm/mmap.c) and 6.12.118
	 * (mm/vma.c), a stable fix: with MREMAP_DONTUNMAP (the source kept) an
	 * unfaulted anonymous source must stay apart from its copy -- 6.1
	 * tries no merge at all when the copy touches the source, 6.12 leaves
	 * the source out as prev or next. This host's 6.18 merges them [LIVE:
	 * dontunmap-unfaulted-adjacent, docs/versions.md]. */
	bool apart = keep_source && unfaulted && !mm_kernel_at_least(mm, 613);
	bool try_merge = true;
	if (apart && !mm_kernel_at_least(mm, 612) && (addr == src->vm_end || src->vm_start == addr + len))
		try_merge = false;
	if (apart && mm_kernel_at_least(mm, 612)) {
		if (prev == src)
			prev = NULL;
		if (next == src)
			next = NULL;
	}
	struct vma_merge g = {
		.prev = prev, .next = next, .start = addr, .end = addr + len, .pgoff = pgoff,
		.flags = src->vm_flags, .obj = src->obj, .anon_vma = src->anon_vma,
	};
	struct vma *n = try_merge ? vma_merge_new_range(mm, &g) : NULL;
	if (n && apart) /* the merge check must not judge the boundary with
	                 * the source that was kept out of the merge */
		forget_boundaries(mm, src->vm_start, src->vm_end);
	if (n)
		return n;
	n = vma_alloc(mm);
	if (!n)
		return NULL;
	n->vm_start = addr;
	n->vm_end = addr + len;
	n->vm_pgoff = pgoff;
	n->vm_flags = src->vm_flags;
	n->obj = src->obj;
	if (n->obj)
		n->obj->refs++;
	vma_set_anon_vma(mm, n, src->anon_vma);
	/* vm_ops->open on the new VMA (not when it merged). */
	vma_open(mm, n);
	vt_insert(&mm->vt, n);
	/* (the merge check: not where the source was kept apart, nor at all
	 * where 6.1 tried no merge) */
	if (try_merge && !(apart && addr == src->vm_end))
		vma_note_touched(mm, addr);
	if (try_merge && !(apart && src->vm_start == addr + len))
		vma_note_touched(mm, addr + len);
	return n;
}

/* move_vma() */
static int64_t move_vma(mm_state *mm, struct remap *r)
{
	/* prep_move_vma(): keep clear of do_munmap()'s 3-way split failure. */
	if (mm->vt.count >= mm->cfg.max_map_count - 3)
		return -ENOMEM;
	struct vma *v = r->vma;
	/* prep_move_vma(): vm_ops->may_split at each end of the range that
	 * is not an end of the VMA (the unmapping would split there). */
	const struct vm_operations *ops = vma_vm_ops(v);
	if (ops && ops->may_split) {
		int err = 0;
		if (v->vm_start != r->addr)
			err = ops->may_split(mm, v, r->addr);
		if (!err && v->vm_end != r->addr + r->old_len)
			err = ops->may_split(mm, v, r->addr + r->old_len);
		if (err)
			return err;
	}
	bool dontunmap = r->flags & MM_MREMAP_DONTUNMAP;
	/* Before 6.13 (6.1 and 6.12 move_vma()): "to account mlock()'d pages
	 * correctly in the MREMAP_DONTUNMAP case", a locked source is split
	 * to the moved range first, so only that part is unlocked below. */
	bool legacy = !mm_kernel_at_least(mm, 613);
	if (legacy && dontunmap && (v->vm_flags & MM_VM_LOCKED)) {
		int err = 0;
		if (v->vm_start != r->addr)
			err = vma_split(mm, v, r->addr, true, NULL);
		if (!err && v->vm_end != r->addr + r->old_len)
			err = vma_split(mm, v, r->addr + r->old_len, false, NULL);
		if (err)
			return err;
		v = r->vma = vt_lookup(&mm->vt, r->addr);
	}
	uint64_t pgoff = v->vm_pgoff + ((r->addr - v->vm_start) >> PAGE_SHIFT);
	bool locked = v->vm_flags & MM_VM_LOCKED;
	/* move_ptes() and move_huge_pmd() on the source VMA:
	 * vma_has_uffd_without_event_remap() -- registered in any mode. */
	bool clear_uffd_wp = (v->vm_flags & MM_VM_UFFD_FLAGS) != 0;
	struct vma *n = copy_vma(mm, v, r->new_addr, r->new_len, pgoff, dontunmap);
	if (!n)
		return -ENOMEM;
	/* mremap_userfaultfd_prep(new_vma): without UFFD_FEATURE_EVENT_REMAP
	 * the moved VMA is not registered (userfaultfd_reset_ctx(), no merge
	 * attempt). */
	if (n->vm_flags & MM_VM_UFFD_FLAGS) {
		forget_boundaries(mm, n->vm_start, n->vm_end);
		n->vm_flags &= ~MM_VM_UFFD_FLAGS;
	}
	/* vrm_stat_account(vrm, new_len): the new range is charged to
	 * locked_vm by the source's flags, before the source goes (its
	 * unmapping uncharges it) -- and also when the move then fails, the
	 * new range being unmapped instead. 6.1 and 6.12 move_vma() charge
	 * it after the unmapping and not at all for MREMAP_DONTUNMAP (the
	 * source's unlocked pages pay for it). */
	if (locked && !(legacy && dontunmap))
		mm->locked_vm += r->new_len >> PAGE_SHIFT;
	/* copy_vma_and_data(): the tables move; then vm_ops->mremap hears of
	 * the new VMA and may refuse. On either failure the kernel moves the
	 * tables back and unmaps the new VMA (unmap_source_vma on the
	 * destination), and mremap returns the error. */
	int err = pg_move_range(mm, r->addr, r->new_addr, r->old_len, clear_uffd_wp) < 0 ? -ENOMEM : 0;
	if (!err && ops && ops->mremap && (err = ops->mremap(mm, n)) != 0)
		(void)pg_move_range(mm, r->new_addr, r->addr, r->old_len, false);
	if (err) {
		(void)munmap_range(mm, r->new_addr, r->new_addr + r->new_len);
		return err;
	}
	if (r->flags & MM_MREMAP_DONTUNMAP) {
		/* dontunmap_complete(): the old VMA stays, unlocked (all of it),
		 * and loses its anon_vma if it moved whole. */
		struct vma *old = vt_lookup(&mm->vt, r->addr);
		if (old) {
			/* "Because we won't unmap we don't need to touch
			 * locked_vm": the pages that lose VM_LOCKED here stay
			 * charged [LIVE: VmLck 32 kB -> 36 kB after a 1-page
			 * DONTUNMAP out of an 8-page locked VMA, and 32 kB
			 * after unmapping everything]. */
			if (old->vm_flags & MM_VM_LOCKED) {
				/* (6.1, 6.12: the split source's charge is the
				 * copy's now: locked_vm unchanged) */
				if (!legacy)
					mm->locked_vm_leaked += vma_pages(old);
				/* no munlock either: the pages stay mlocked */
				pp_mark_mlocked(mm, old->vm_start, old->vm_end, true);
			}
			/* vm_flags_clear() with no merge attempt: neighbours it
			 * now matches stay apart [LIVE: corpus
			 * mremap-dontunmap-locked-unmerged.trace], so the merge
			 * check must not judge its edges. */
			if (old->vm_flags & MM_VM_LOCKED_MASK)
				forget_boundaries(mm, old->vm_start, old->vm_end);
			old->vm_flags &= ~MM_VM_LOCKED_MASK;
			if (old != n && old->vm_start == r->addr && old->vm_end == r->addr + r->old_len) {
				vma_set_anon_vma(mm, old, NULL);
				/* 6.1 and 6.12 move_vma(): an anonymous source
				 * left without its anon_vma takes pgoff_unfaulted,
				 * its start's page number */
				if (legacy && vma_is_anonymous(old))
					old->vm_pgoff = old->vm_start >> PAGE_SHIFT;
			}
		}
	} else {
		/* unmap_source_vma(); the VM_ACCOUNT juggling there leaves the
		 * flags of the remaining pieces as they were. */
		(void)munmap_range(mm, r->addr, r->addr + r->old_len);
	}
	return (int64_t)r->new_addr;
}

/* shrink_vma(): unmap the tail. */
static int shrink(mm_state *mm, struct remap *r)
{
	int err = munmap_range(mm, r->addr + r->new_len, r->addr + r->old_len);
	if (err)
		return err;
	r->vma = vt_lookup(&mm->vt, r->addr);
	return r->vma ? 0 : -EFAULT;
}

/* mremap_to(): MREMAP_FIXED or MREMAP_DONTUNMAP. */
static int64_t mremap_to(mm_state *mm, struct remap *r)
{
	if (r->flags & MM_MREMAP_FIXED) {
		int err = mm_munmap(mm, r->new_addr, r->new_len);
		if (err)
			return err;
		r->vma = vt_lookup(&mm->vt, r->addr);
		if (!r->vma)
			return -EFAULT;
	}
	if (r->type == REMAP_SHRINK) {
		int err = shrink(mm, r);
		if (err)
			return err;
		r->old_len = r->new_len;
	}
	int err = set_new_addr(mm, r);
	if (err)
		return err;
	return move_vma(mm, r);
}

/* vma_expandable() */
static bool can_expand_in_place(const mm_state *mm, const struct remap *r)
{
	const struct vma *v = r->vma;
	if (v->vm_end - r->addr != r->old_len)
		return false;
	uint64_t end = v->vm_end + r->delta;
	if (end < v->vm_end)
		return false;
	if (vt_find_intersection(&mm->vt, v->vm_end, end))
		return false;
	/* get_unmapped_area(MAP_FIXED) only bounds the end. */
	return end <= MM_TASK_SIZE;
}

/* mremap_at(): no new address given. */
static int64_t mremap_at(mm_state *mm, struct remap *r)
{
	switch (r->type) {
	case REMAP_NO_RESIZE:
		return (int64_t)r->addr;
	case REMAP_SHRINK: {
		int err = shrink(mm, r);
		return err ? err : (int64_t)r->addr;
	}
	case REMAP_EXPAND:
		break;
	}
	if (can_expand_in_place(mm, r)) {
		/* vma_merge_extend(): the extension is a new range after the VMA
		 * that merges into it, and into next if that fits too. */
		struct vma *v = r->vma;
		struct vma_merge g = {
			.prev = v, .next = v->node.next, .start = v->vm_end, .end = v->vm_end + r->delta,
			.pgoff = v->vm_pgoff + vma_pages(v), .flags = v->vm_flags, .obj = v->obj,
			.anon_vma = v->anon_vma,
		};
		bool locked = v->vm_flags & MM_VM_LOCKED;
		if (!vma_merge_new_range(mm, &g))
			return -ENOMEM;
		/* expand_vma_in_place() -> vrm_stat_account(vrm, delta). */
		if (locked)
			mm->locked_vm += r->delta >> PAGE_SHIFT;
		return (int64_t)r->addr;
	}
	if (!(r->flags & MM_MREMAP_MAYMOVE))
		return -ENOMEM;
	int err = set_new_addr(mm, r);
	if (err)
		return err;
	return move_vma(mm, r);
}

/* remap_move(): MREMAP_FIXED with old_len == new_len moves every VMA in the
 * range, keeping the gaps between them (6.17+). */
static int64_t remap_move(mm_state *mm, struct remap *r)
{
	uint64_t start = r->addr, end = r->addr + r->old_len, target = r->new_addr, last_end = 0;
	int64_t res = -EFAULT;
	bool seen = false;
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	while (v && v->vm_start < end) {
		uint64_t addr = v->vm_start > start ? v->vm_start : start;
		uint64_t len = (end < v->vm_end ? end : v->vm_end) - addr;
		if (!seen && start < v->vm_start)
			return -EFAULT; /* a gap at the start */
		uint64_t offset = seen ? v->vm_start - last_end : 0;
		last_end = v->vm_end;
		uint64_t next_start = v->vm_end;
		/* vma_multi_allowed(): not a userfaultfd-armed VMA ("notify
		 * requires mmap lock to be dropped"). One that is moves as the
		 * only VMA, the whole length (EFAULT past its end) [LIVE], and
		 * one met later stops the move. */
		bool allowed = !(v->vm_flags & MM_VM_UFFD_FLAGS);
		if (seen && !allowed)
			return -EFAULT;
		/* ... and one that does not reach the range's end is EFAULT
		 * before check_prep_vma() looks at it -- a seal's EPERM
		 * included [LIVE: uffd-mremap-armed-sealed.trace] */
		if (!allowed && v->vm_end < end)
			return -EFAULT;
		struct remap piece = {
			.addr = addr, .old_len = allowed ? len : r->old_len, .new_len = allowed ? len : r->old_len,
			.flags = r->flags, .new_addr = target + offset, .vma = v,
		};
		int64_t rv = check_prep_vma(mm, &piece);
		if (!rv)
			rv = mremap_to(mm, &piece);
		if (rv < 0)
			return rv;
		if (!seen)
			res = rv;
		seen = true;
		target = (uint64_t)rv + len;
		/* for_each_vma_range() goes on from the handled VMA's old end
		 * (vma_iter_invalidate() pauses the iterator there when the move
		 * changed the tree) and stops once that reaches `end`: the copy
		 * may have merged into the very VMA just handled (DONTUNMAP, the
		 * destination right after it), which must not be visited twice. */
		if (next_start >= end)
			break;
		v = vt_find(&mm->vt, next_start);
	}
	return res;
}

/* Before 6.16 (the mremap rework, "mm/mremap: check remap conditions
 * earlier" and the vma_remap_struct series): 6.1 and 6.12 mm/mremap.c
 * SYSCALL_DEFINE5(mremap) -> mremap_to() -> vma_to_resize(). The order
 * differs from check_params()/check_prep_vma(): the VMA at addr is looked
 * up (EFAULT) and checked for a seal (6.12 can_modify_vma, EPERM) before the
 * new_addr checks; mremap_to() unmaps the destination (MREMAP_FIXED) and the
 * source's tail (a shrink) *before* vma_to_resize() checks the source, so
 * a move failing there (EFAULT, EINVAL) has already unmapped them; a shrink
 * without a move unmaps [addr + new_len, addr + old_len) whatever VMAs it
 * spans. r->old_len and r->new_len are aligned; raw_old_len and raw_new_len
 * are the caller's (the MREMAP_DONTUNMAP size check compares those). */
static int64_t mremap_legacy(mm_state *mm, struct remap *r, uint64_t raw_old_len, uint64_t raw_new_len)
{
	const uint64_t known = MM_MREMAP_FIXED | MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP;
	if (r->flags & ~known)
		return -EINVAL;
	if ((r->flags & MM_MREMAP_FIXED) && !(r->flags & MM_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((r->flags & MM_MREMAP_DONTUNMAP) && (!(r->flags & MM_MREMAP_MAYMOVE) || raw_old_len != raw_new_len))
		return -EINVAL;
	if (offset_in_page(r->addr) || !r->new_len)
		return -EINVAL;
	struct vma *v = vt_lookup(&mm->vt, r->addr);
	if (!v)
		return -EFAULT;
	if (v->vm_flags & MM_VM_SEALED) /* 6.12 can_modify_vma(); 6.1 has no mseal */
		return -EPERM;
	if (implies_new_addr(r)) {
		/* mremap_to() */
		if (offset_in_page(r->new_addr))
			return -EINVAL;
		if (r->new_len > MM_TASK_SIZE || r->new_addr > MM_TASK_SIZE - r->new_len)
			return -EINVAL;
		if (r->addr + r->old_len > r->new_addr && r->new_addr + r->new_len > r->addr)
			return -EINVAL;
		if (mm->vt.count + 2 >= mm->cfg.max_map_count - 3)
			return -ENOMEM;
		if (r->flags & MM_MREMAP_FIXED) {
			int err = mm_munmap(mm, r->new_addr, r->new_len);
			if (err)
				return err;
		}
		if (r->old_len > r->new_len) {
			int err = mm_munmap(mm, r->addr + r->new_len, r->old_len - r->new_len);
			if (err)
				return err;
			r->old_len = r->new_len;
		}
		/* vma_to_resize(): the same checks as check_prep_vma() */
		r->vma = vt_lookup(&mm->vt, r->addr);
		int err = check_prep_vma(mm, r);
		if (!err)
			err = set_new_addr(mm, r);
		if (err)
			return err;
		return move_vma(mm, r);
	}
	if (r->old_len >= r->new_len) {
		if (r->old_len == r->new_len)
			return (int64_t)r->addr;
		int err = mm_munmap(mm, r->addr + r->new_len, r->old_len - r->new_len);
		return err ? err : (int64_t)r->addr;
	}
	r->vma = v;
	int err = check_prep_vma(mm, r);
	if (err)
		return err;
	return mremap_at(mm, r);
}

/* The syscall's body by version; the caller finishes both alike. */
static int64_t mremap_dispatch(mm_state *mm, struct remap *r, uint64_t old_len, uint64_t new_len)
{
	/* Before 6.16 ("mm/mremap: check remap conditions earlier" and the
	 * rest of the rework): mremap_legacy(), 6.1's and 6.12's order and
	 * side effects. docs/versions.md rows 6 and 13-15. */
	if (!mm_kernel_at_least(mm, 616))
		return mremap_legacy(mm, r, old_len, new_len);
	/* PAGE_ALIGN of a length near 2^64 wraps to 0, as in the kernel. */
	int64_t res = check_params(mm, r);
	if (res)
		return res;
	/* A move of several VMAs at once came in 6.17, d23cb648e365
	 * ("mm/mremap: permit mremap() move of multiple VMAs"); before it a
	 * same-size MREMAP_FIXED move is the one-VMA move of mremap_to(). */
	if ((r->flags & MM_MREMAP_FIXED) && r->old_len == r->new_len && mm_kernel_at_least(mm, 617))
		return remap_move(mm, r);
	r->vma = vt_lookup(&mm->vt, r->addr);
	res = check_prep_vma(mm, r);
	if (!res)
		res = implies_new_addr(r) ? mremap_to(mm, r) : mremap_at(mm, r);
	return res;
}

int64_t mm_mremap(mm_state *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                  uint64_t new_addr)
{
	mm->n_touched = 0;
	struct remap r = {
		.addr = addr, .old_len = PAGE_ALIGN(old_len), .new_len = PAGE_ALIGN(new_len),
		.flags = flags, .new_addr = new_addr,
	};
	int64_t res = mremap_dispatch(mm, &r, old_len, new_len);
	if (res < 0) {
		mm->n_touched = 0;
		return res;
	}
	if (r.populate_expand)
		(void)gup_populate(mm, (uint64_t)res + r.old_len, (uint64_t)res + r.new_len, true);
	return res;
}

/* mremap (mm/mremap.c, 6.18: struct vma_remap_struct, remap_move). */
#include "naive_internal.h"

typedef enum remap_type { REMAP_NO_RESIZE, REMAP_SHRINK, REMAP_EXPAND } remap_type;

/* One mremap in progress, as struct vma_remap_struct. */
typedef struct nv_remap {
	uint64_t addr;      /* source start */
	uint64_t old_len;   /* page aligned */
	uint64_t new_len;   /* page aligned */
	uint64_t flags;     /* MREMAP_* */
	uint64_t new_addr;  /* destination (a hint without FIXED) */
	uint64_t delta;     /* |new_len - old_len| */
	remap_type type;
	bool populate_expand; /* VM_LOCKED and growing: populate the growth */
} nv_remap;

static bool implies_new_addr(const nv_remap *rm) { return rm->flags & (MM_MREMAP_FIXED | MM_MREMAP_DONTUNMAP); }

static int64_t signed_count(const naive_mm *nm) { return (int64_t)nm->nvmas; }
static int64_t signed_max(const naive_mm *nm) { return (int64_t)nm->cfg.max_map_count; }

/* check_prep_vma() */
static int check_prep_vma(naive_mm *nm, nv_remap *rm)
{
	nvma *v = nv_vma_at(nm, rm->addr);
	if (!v)
		return -EFAULT;
	if (v->flags & MM_VM_SEALED)
		return -EPERM;
	rm->delta = rm->new_len > rm->old_len ? rm->new_len - rm->old_len : rm->old_len - rm->new_len;
	rm->type = rm->delta == 0 ? REMAP_NO_RESIZE : rm->old_len > rm->new_len ? REMAP_SHRINK : REMAP_EXPAND;
	if (!implies_new_addr(rm))
		rm->new_addr = rm->addr;
	if (rm->type != REMAP_EXPAND && !implies_new_addr(rm))
		return 0; /* !vrm_will_map_new() */
	if (!rm->old_len && !(v->flags & (MM_VM_SHARED | MM_VM_MAYSHARE)))
		return -EINVAL; /* no duplicating a private mapping */
	if ((rm->flags & MM_MREMAP_DONTUNMAP) && (v->flags & (MM_VM_DONTEXPAND | MM_VM_PFNMAP)))
		return -EINVAL;
	/* a shrink only needs the kept part inside the VMA */
	uint64_t need = rm->type == REMAP_SHRINK ? rm->new_len : rm->old_len;
	if (need > v->end - rm->addr)
		return -EFAULT;
	if (rm->new_len <= rm->old_len)
		return 0;
	if (v->flags & MM_VM_LOCKED)
		rm->populate_expand = true;
	if (v->flags & (MM_VM_DONTEXPAND | MM_VM_PFNMAP))
		return -EFAULT;
	/* growing a VM_LOCKED VMA must fit RLIMIT_MEMLOCK [LIVE] */
	if (!nv_mlock_future_ok(nm, v->flags, rm->delta))
		return -EAGAIN;
	return 0; /* may_expand_vm: RLIMIT_AS/DATA are not modelled */
}

/* move_page_tables(): pages and guard markers of [from, from+len) move to
 * [to, to+len) with their states. A whole, 2 MiB-aligned PMD (a PTE table
 * or a PMD-mapped THP or huge page-cache folio) moves as it is when the
 * destination PMD is none (move_normal_pmd / move_huge_pmd); any other
 * PMD-mapped THP in the range is split first (a page-cache one is zapped),
 * and destination regions that get 4 KiB pages get a table. */
static void move_page_tables(naive_mm *nm, uint64_t from, uint64_t to, uint64_t len, bool registered)
{
	if (!len) /* mremap(old_len 0) duplicates a shared mapping: nothing moves */
		return;
	for (uint64_t a = from & ~(NV_PMD - 1); a < from + len; a += NV_PMD) {
		nregion *r = nv_region_get(nm, a);
		if (!r)
			continue;
		bool whole = a >= from && a + NV_PMD <= from + len && (to - from) % NV_PMD == 0;
		uint64_t dst = a + (to - from);
		/* move_normal_pmd() refuses a registered VMA (its entries must
		 * lose their uffd-wp state one by one); move_huge_pmd() does not */
		if (whole && !nv_region_get(nm, dst) && !(registered && r->kind == NV_REGION_PTE)) {
			nregion_kind kind = r->kind;
			nv_region_drop(nm, a);
			nv_region_set(nm, dst, kind);
		} else if (r->kind == NV_REGION_PMD_FILE) {
			/* split_huge_pmd() of a file PMD zaps it: nothing of it
			 * moves and the source PMD is none, so no destination
			 * table is made [LIVE: huge-shmem-pmd-split.trace] */
			nv_region_zap_file(nm, a);
		} else {
			if (r->kind != NV_REGION_PTE)
				nv_region_pmd_to_ptes(nm, r);
			/* the part of this table the move covers lands in tables
			 * at the destination, made even when no page moves: a
			 * later fault there maps 4 KiB pages [LIVE:
			 * mremap-empty-table-moves.trace] */
			uint64_t lo = a > from ? a : from, hi = a + NV_PMD < from + len ? a + NV_PMD : from + len;
			for (uint64_t d = lo + (to - from); d < hi + (to - from); d += NV_PAGE)
				if (!nv_region_get(nm, d))
					nv_region_set(nm, d, NV_REGION_PTE);
		}
	}
	/* move_ptes() of a VMA registered without UFFD_FEATURE_EVENT_REMAP:
	 * the entries lose their uffd-wp bit, and uffd-wp markers are dropped */
	if (registered)
		for (uint64_t a = from; a < from + len; a += NV_PAGE)
			if (nv_uffd_wp_get(nm, a))
				nv_uffd_wp_set(nm, a, false);
	for (size_t i = 0; i < nm->npages; i++) {
		npage *p = &nm->pages[i];
		if (p->addr >= from && p->addr < from + len)
			p->addr = p->addr - from + to;
	}
	nv_pages_resort(nm);
	for (uint64_t a = to; a < to + len; a += NV_PAGE)
		if (nv_page_get(nm, a) != MM_PAGE_NONE && !nv_region_get(nm, a))
			nv_region_set(nm, a, NV_REGION_PTE);
}

/* move_vma(): copy_vma() at rm->new_addr, move the pages, then unmap the
 * source (or, for DONTUNMAP, keep it with VM_LOCKED* cleared). */
static int64_t move_vma(naive_mm *nm, nv_remap *rm)
{
	/* prep_move_vma(): room for do_munmap's 3-way split */
	if (signed_count(nm) >= signed_max(nm) - 3)
		return -ENOMEM;
	nvma *v = nv_vma_at(nm, rm->addr);
	bool locked = (v->flags & MM_VM_LOCKED) != 0;
	bool dontunmap = (rm->flags & MM_MREMAP_DONTUNMAP) != 0;
	bool registered = (v->flags & MM_VM_UFFD_FLAGS) != 0; /* vma_has_uffd_without_event_remap() */
	/* 6.1/6.12 move_vma(): a locked DONTUNMAP source is cut to the moved
	 * range first (split_vma at both ends), so only that part is unlocked */
	if (dontunmap && locked && !nv_has(nm, NV_DONTUNMAP_UNLOCKS_WHOLE)) {
		/* split_vma() refuses at map_count >= max_map_count */
		if (v->start != rm->addr) {
			if (nm->nvmas >= nm->cfg.max_map_count)
				return -ENOMEM;
			nv_split(nm, v, rm->addr);
		}
		v = nv_vma_at(nm, rm->addr);
		if (v->end != rm->addr + rm->old_len) {
			if (nm->nvmas >= nm->cfg.max_map_count)
				return -ENOMEM;
			nv_split(nm, v, rm->addr + rm->old_len);
		}
		v = nv_vma_at(nm, rm->addr);
	}

	/* mm/vma.c: copy_vma(): an anonymous VMA never faulted takes the pgoff
	 * of its new address so that it can merge there */
	nvma p = *v;
	p.start = rm->new_addr;
	p.end = rm->new_addr + rm->new_len;
	p.pgoff = nv_vma_file_index(v, rm->addr);
	bool unfaulted = v->backing == MM_BACKING_ANON && !v->anon_vma;
	if (unfaulted)
		p.pgoff = rm->new_addr >> MM_PAGE_SHIFT;
	nvma *nv;
	if (dontunmap && unfaulted && !nv_has(nm, NV_DONTUNMAP_SELF_MERGE)) {
		/* copy_vma(keep_source), Debian 6.1.192 / 6.12.118: the copy of
		 * an unfaulted source that stays is not merged with it */
		bool touching = p.start == v->end || p.end == v->start;
		if (nv_has(nm, NV_DONTUNMAP_APART_ONE_SIDE))
			nv = nv_merge_new_range_apart(nm, &p, false, v->start, v->end);
		else
			nv = touching ? NULL : nv_merge_new_range(nm, &p, false);
	} else {
		nv = nv_merge_new_range(nm, &p, false);
	}
	if (!nv)
		nv = nv_insert_vma(nm, &p);
	uint64_t new_vma_start = nv->start;
	/* mremap_userfaultfd_prep(new_vma): not registered any more */
	nv->flags &= ~MM_VM_UFFD_FLAGS;

	move_page_tables(nm, rm->addr, rm->new_addr, rm->old_len, registered);

	/* vrm_stat_account(new_len): a locked source adds the new length to
	 * locked_vm; the unmap of the source below takes old_len off again,
	 * but DONTUNMAP unlocks the source without touching locked_vm ("we
	 * won't unmap"), so locked_vm ends new_len higher [LIVE]. 6.1/6.12:
	 * no charge for a DONTUNMAP copy -- the unlocked source part keeps
	 * paying for it. */
	if (locked && !(dontunmap && !nv_has(nm, NV_DONTUNMAP_UNLOCKS_WHOLE)))
		nm->locked_vm += nv_pages(rm->new_len);

	if (rm->flags & MM_MREMAP_DONTUNMAP) {
		/* dontunmap_complete() on the VMA now holding the source */
		nvma *src = nv_vma_at(nm, rm->addr);
		if (src->flags & MM_VM_LOCKED) /* its pages were mlocked and stay so */
			for (uint64_t a = src->start; a < src->end; a += NV_PAGE) {
				npage *pg = nv_page_find(nm, a);
				/* but not a THP mapped by PTEs: splitting the PMD of
				 * an mlocked THP in a VM_LOCKED VMA munlocks it, and
				 * PTE mappings do not mlock a large folio again
				 * [LIVE: dontunmap-split-thp-not-mlocked.trace] */
				nregion *r = nv_region_get(nm, a);
				if (pg && pg->thp && pg->state == MM_PAGE_ANON && (!r || r->kind != NV_REGION_PMD_ANON))
					continue;
				if (pg && pg->state == MM_PAGE_ANON)
					pg->mlocked = true;
				if (pg && pg->state == MM_PAGE_FILE)
					nv_cache_set_mlocked(nm, src, a, true);
			}
		src->flags &= ~MM_VM_LOCKED_MASK;
		if (src->start != new_vma_start && rm->addr == src->start && rm->addr + rm->old_len == src->end) {
			src->anon_vma = 0; /* unlink_anon_vmas() */
			src->forked = false;
			/* 6.1/6.12: and pgoff_unfaulted for anonymous memory */
			if (!nv_has(nm, NV_DONTUNMAP_UNLOCKS_WHOLE) && src->backing == MM_BACKING_ANON)
				src->pgoff = src->start >> MM_PAGE_SHIFT;
		}
	} else if (rm->old_len) {
		/* unmap_source_vma(): VM_ACCOUNT is taken off for the unmap and put
		 * back on the remaining pieces, so flags end as they were */
		(void)nv_do_munmap(nm, rm->addr, rm->old_len);
	}
	return (int64_t)rm->new_addr;
}

/* vrm_set_new_addr(): get_unmapped_area() with the source's pgoff,
 * MAP_FIXED for FIXED, MAP_SHARED when VM_MAYSHARE. */
static int set_new_addr(naive_mm *nm, nv_remap *rm)
{
	nvma *v = nv_vma_at(nm, rm->addr);
	uint64_t map_flags = 0;
	if (rm->flags & MM_MREMAP_FIXED)
		map_flags |= MM_MAP_FIXED;
	if (v->flags & MM_VM_MAYSHARE)
		map_flags |= MM_MAP_SHARED;
	int64_t r = nv_get_unmapped_area(nm, v->backing, implies_new_addr(rm) ? rm->new_addr : 0, rm->new_len,
	                                 nv_vma_file_index(v, rm->addr), map_flags);
	if (r < 0)
		return (int)r;
	rm->new_addr = (uint64_t)r;
	return 0;
}

/* mremap_to(): FIXED unmaps the destination first; a shrink is done in
 * place before the move. */
static int64_t mremap_to(naive_mm *nm, nv_remap *rm)
{
	if (rm->flags & MM_MREMAP_FIXED) {
		int err = nv_do_munmap(nm, rm->new_addr, rm->new_len);
		if (err)
			return err;
		if (!nv_vma_at(nm, rm->addr))
			return -EFAULT;
	}
	if (rm->type == REMAP_SHRINK) {
		int err = nv_do_munmap(nm, rm->addr + rm->new_len, rm->delta);
		if (err)
			return err;
		rm->old_len = rm->new_len;
	}
	int err = set_new_addr(nm, rm);
	if (err)
		return err;
	return move_vma(nm, rm);
}

/* expand_vma(): in place when the range ends at vm_end and the growth is
 * free (vma_expandable), merging with a compatible next VMA
 * (vma_merge_extend); else move with MAYMOVE; else ENOMEM. */
static int64_t expand_vma(naive_mm *nm, nv_remap *rm)
{
	nvma *v = nv_vma_at(nm, rm->addr);
	uint64_t new_end = v->end + rm->delta;
	if (v->end - rm->addr == rm->old_len && new_end > v->end && !nv_range_has_vma(nm, v->end, new_end) &&
	    new_end <= NV_TASK_SIZE) {
		nvma ext = *v;
		ext.start = v->end;
		ext.end = new_end;
		ext.pgoff = v->pgoff + nv_pages(v->end - v->start);
		if (!nv_merge_new_range(nm, &ext, false))
			return -ENOMEM; /* only for VM_SPECIAL, which we never have */
		/* expand_vma_in_place() → vrm_stat_account(delta) */
		if (ext.flags & MM_VM_LOCKED)
			nm->locked_vm += nv_pages(rm->delta);
		return (int64_t)rm->addr;
	}
	if (!(rm->flags & MM_MREMAP_MAYMOVE))
		return -ENOMEM;
	int err = set_new_addr(nm, rm);
	if (err)
		return err;
	return move_vma(nm, rm);
}

/* mremap_at(): no resize, shrink or expand, without a new address. */
static int64_t mremap_at(naive_mm *nm, nv_remap *rm)
{
	switch (rm->type) {
	case REMAP_NO_RESIZE:
		return (int64_t)rm->addr;
	case REMAP_SHRINK: {
		int err = nv_do_munmap(nm, rm->addr + rm->new_len, rm->delta);
		return err ? err : (int64_t)rm->addr;
	}
	case REMAP_EXPAND:
		return expand_vma(nm, rm);
	}
	return -EINVAL;
}

/* remap_move() (6.17+): FIXED with old_len == new_len moves every VMA in
 * [addr, addr+len), split at the edges, keeping the gaps between them. A gap
 * at the start is EFAULT; work done before an error stays done. */
static int64_t remap_move(naive_mm *nm, const nv_remap *whole)
{
	uint64_t start = whole->addr, end = whole->addr + whole->old_len;
	uint64_t target = whole->new_addr;
	uint64_t last_end = 0, cur = start;
	int64_t res = -EFAULT;
	bool seen = false;
	for (;;) {
		nvma *v = nv_find_vma(nm, cur);
		if (!v || v->start >= end)
			break;
		uint64_t vaddr = v->start > start ? v->start : start;
		uint64_t vlen = (end < v->end ? end : v->end) - vaddr;
		if (!seen && start < v->start)
			return -EFAULT;
		uint64_t offset = seen ? v->start - last_end : 0;
		last_end = v->end;
		/* mm/mremap.c vma_multi_allowed(): a VMA with a userfaultfd is
		 * moved alone, as mremap_to() moves one VMA (its whole length) */
		bool armed = (v->flags & MM_VM_UFFD_FLAGS) != 0;
		if (seen && armed)
			return -EFAULT;
		if (armed && v->end < end) /* past its end: EFAULT before the seal's EPERM */
			return -EFAULT;
		if (armed)
			vlen = whole->old_len;
		nv_remap rm = {.addr = vaddr, .old_len = vlen, .new_len = vlen, .flags = whole->flags,
		               .new_addr = target + offset};
		int err = check_prep_vma(nm, &rm);
		if (err)
			return err;
		int64_t r = mremap_to(nm, &rm);
		if (r < 0)
			return r;
		if (!seen)
			res = r;
		seen = true;
		target = (uint64_t)r + vlen;
		/* The kernel's iterator only goes forward: the next VMA is looked
		 * for from where the one just handled ended, and nothing is
		 * looked for once that point is past the range. With DONTUNMAP the
		 * source stays, and the copy may have grown it (a merge with the
		 * destination right after it) [LIVE: mmap +0 8K; mremap +4K 4K 4K
		 * maymove,fixed,dontunmap +8K => +0x2000, one VMA [0,12K)]. */
		cur = last_end;
		if (cur >= end)
			break;
	}
	return res;
}

/* 6.1 and 6.12 (before the 6.16 rework, NV_MREMAP_CHECKS_EARLY):
 * sys_mremap() looks the VMA up and checks its seal first; mremap_to()
 * checks new_addr, then unmaps the destination (FIXED) and the tail of the
 * source (a shrink) before vma_to_resize() checks the source, which may
 * then fail with those gone; a shrink in place unmaps the tail over
 * whatever it spans, with no VMA check. */
static int64_t old_mremap(naive_mm *nm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                          uint64_t new_addr)
{
	if (flags & ~(uint64_t)(MM_MREMAP_FIXED | MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MM_MREMAP_FIXED) && !(flags & MM_MREMAP_MAYMOVE))
		return -EINVAL;
	/* the lengths as given, before PAGE_ALIGN */
	if ((flags & MM_MREMAP_DONTUNMAP) && (!(flags & MM_MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (addr & ~NV_PAGE_MASK)
		return -EINVAL;
	nv_remap rm = {.addr = addr, .flags = flags, .new_addr = new_addr,
	               .old_len = nv_page_align(old_len), .new_len = nv_page_align(new_len)};
	if (!rm.new_len)
		return -EINVAL;
	nvma *v = nv_vma_at(nm, addr);
	if (!v)
		return -EFAULT;
	if (v->flags & MM_VM_SEALED)
		return -EPERM;
	int64_t res;
	if (implies_new_addr(&rm)) {
		if (new_addr & ~NV_PAGE_MASK)
			return -EINVAL;
		if (rm.new_len > NV_TASK_SIZE || new_addr > NV_TASK_SIZE - rm.new_len)
			return -EINVAL;
		if (addr + rm.old_len > new_addr && new_addr + rm.new_len > addr)
			return -EINVAL;
		if (signed_count(nm) + 2 >= signed_max(nm) - 3)
			return -ENOMEM;
		if (flags & MM_MREMAP_FIXED) {
			int err = nv_do_munmap(nm, new_addr, rm.new_len);
			if (err)
				return err;
		}
		if (rm.old_len > rm.new_len) {
			int err = nv_do_munmap(nm, addr + rm.new_len, rm.old_len - rm.new_len);
			if (err)
				return err;
			rm.old_len = rm.new_len;
		}
		int err = check_prep_vma(nm, &rm); /* vma_to_resize() */
		if (!err)
			err = set_new_addr(nm, &rm);
		if (err)
			return err;
		res = move_vma(nm, &rm);
	} else if (rm.old_len >= rm.new_len) {
		if (rm.old_len == rm.new_len)
			return (int64_t)addr;
		int err = nv_do_munmap(nm, addr + rm.new_len, rm.old_len - rm.new_len);
		return err ? err : (int64_t)addr;
	} else {
		int err = check_prep_vma(nm, &rm);
		if (err)
			return err;
		res = expand_vma(nm, &rm);
	}
	if (res >= 0 && rm.populate_expand)
		(void)nv_mm_populate(nm, rm.new_addr + rm.old_len, rm.delta, true);
	return res;
}

int64_t naive_mremap(naive_mm *nm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                     uint64_t new_addr)
{
	if (!nv_has(nm, NV_MREMAP_CHECKS_EARLY))
		return old_mremap(nm, addr, old_len, new_len, flags, new_addr);
	nv_remap rm = {.addr = addr, .flags = flags, .new_addr = new_addr};
	/* check_mremap_params() */
	if (flags & ~(uint64_t)(MM_MREMAP_FIXED | MM_MREMAP_MAYMOVE | MM_MREMAP_DONTUNMAP))
		return -EINVAL;
	if (addr & ~NV_PAGE_MASK)
		return -EINVAL;
	rm.old_len = nv_page_align(old_len);
	rm.new_len = nv_page_align(new_len);
	if (!rm.new_len || rm.new_len > NV_TASK_SIZE)
		return -EINVAL;
	if (implies_new_addr(&rm)) {
		if (new_addr & ~NV_PAGE_MASK)
			return -EINVAL;
		if (new_addr > NV_TASK_SIZE - rm.new_len)
			return -EINVAL;
		if (!(flags & MM_MREMAP_MAYMOVE))
			return -EINVAL;
		if ((flags & MM_MREMAP_DONTUNMAP) && rm.old_len != rm.new_len)
			return -EINVAL;
		if (addr + rm.old_len > new_addr && new_addr + rm.new_len > addr)
			return -EINVAL; /* vrm_overlaps() */
		if (signed_count(nm) + 2 >= signed_max(nm) - 3)
			return -ENOMEM;
	}

	int64_t res;
	if ((flags & MM_MREMAP_FIXED) && rm.old_len == rm.new_len && nv_has(nm, NV_MREMAP_MULTI_VMA)) {
		res = remap_move(nm, &rm); /* vrm_move_only() */
	} else {
		int err = check_prep_vma(nm, &rm);
		if (err)
			return err;
		res = implies_new_addr(&rm) ? mremap_to(nm, &rm) : mremap_at(nm, &rm);
	}
	if (res >= 0 && rm.populate_expand)
		(void)nv_mm_populate(nm, rm.new_addr + rm.old_len, rm.delta, true);
	return res;
}

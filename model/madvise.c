/* madvise(2): mm/madvise.c (6.18.y) do_madvise(), madvise_walk_vmas(),
 * madvise_vma_behavior(), madvise_populate(). */
#include "gup.h"
#include "pagepolicy.h"
#include "pgtable.h"
#include "vma.h"
#include "mmref/x86.h"

/* madvise_behavior_valid(). MADV_HWPOISON and MADV_SOFT_OFFLINE exist only
 * with CONFIG_MEMORY_FAILURE, which this kernel lacks: EINVAL [LIVE]. */
static bool behavior_valid(int64_t b)
{
	switch (b) {
	case MM_MADV_DOFORK: case MM_MADV_DONTFORK: case MM_MADV_NORMAL: case MM_MADV_SEQUENTIAL:
	case MM_MADV_RANDOM: case MM_MADV_REMOVE: case MM_MADV_WILLNEED: case MM_MADV_DONTNEED:
	case MM_MADV_DONTNEED_LOCKED: case MM_MADV_FREE: case MM_MADV_COLD: case MM_MADV_PAGEOUT:
	case MM_MADV_POPULATE_READ: case MM_MADV_POPULATE_WRITE: case MM_MADV_MERGEABLE:
	case MM_MADV_UNMERGEABLE: case MM_MADV_HUGEPAGE: case MM_MADV_NOHUGEPAGE: case MM_MADV_COLLAPSE:
	case MM_MADV_DONTDUMP: case MM_MADV_DODUMP: case MM_MADV_WIPEONFORK: case MM_MADV_KEEPONFORK:
	case MM_MADV_GUARD_INSTALL: case MM_MADV_GUARD_REMOVE:
		return true;
	default:
		return false;
	}
}

/* 6.1 and 6.12 hpage_collapse_scan_pmd() (mm/khugepaged.c): a block mapped
 * through a PTE table needs one present, writable PTE of a normal page
 * (pte_write; none and zero-page PTEs do not count), else SCAN_PAGE_RO --
 * madvise_collapse() goes on to the next block and answers EINVAL
 * (madvise_collapse_errno). By 6.18 such a table collapses too [LIVE on
 * 6.18; vm:6.12 and vm:6.1: versions/minimal/collapse-read-only.*.trace];
 * the boundary between 6.12 and 6.18 is not bisected. Read from the tables
 * without touching them (x86_lookup). */
static bool collapse_scan_read_only(const mm_state *mm, uint64_t h)
{
	mm_phys_mem pm;
	uint64_t cr3;
	mm_page_tables(mm, &pm, &cr3);
	unsigned level;
	(void)x86_lookup(&pm, cr3, h, &level);
	if (level != 1)
		return false; /* PMD-mapped, or no table: pt_collapse decides */
	for (uint64_t a = h; a < h + MM_PMD_SIZE; a += PAGE_SIZE) {
		uint64_t e = x86_lookup(&pm, cr3, a, &level);
		mm_page_state st = mm_page(mm, a);
		if ((e & X86_P) && (e & X86_RW) && (st == MM_PAGE_ANON || st == MM_PAGE_FILE))
			return false;
	}
	return true;
}

/* is_discard(): advice that a sealed read-only anonymous VMA refuses. */
static bool is_discard(int64_t b)
{
	switch (b) {
	case MM_MADV_FREE: case MM_MADV_DONTNEED: case MM_MADV_DONTNEED_LOCKED: case MM_MADV_REMOVE:
	case MM_MADV_DONTFORK: case MM_MADV_WIPEONFORK: case MM_MADV_GUARD_INSTALL:
		return true;
	default:
		return false;
	}
}

/* can_madvise_modify() */
static bool can_madvise_modify(const struct vma *v, int64_t b)
{
	if (!(v->vm_flags & MM_VM_SEALED) || !is_discard(b))
		return true;
	if (v->obj)
		return true;
	return v->vm_flags & MM_VM_WRITE;
}

/* mm/ksm.c: vma_ksm_compatible() */
static bool vma_ksm_compatible(const struct vma *v)
{
	return !(v->vm_flags & (MM_VM_SHARED | MM_VM_MAYSHARE | MM_VM_SPECIAL | MM_VM_HUGETLB | MM_VM_DROPPABLE));
}

/* madvise_vma_behavior() on [start, end) of v. *out is the VMA covering the
 * range afterwards (for the walk to continue after it). */
static int madvise_vma_behavior(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, int64_t b,
                                struct vma **out)
{
	uint64_t f = v->vm_flags;
	*out = v;
	if (!can_madvise_modify(v, b))
		return -EPERM;
	switch (b) {
	case MM_MADV_REMOVE:
		/* madvise_remove() */
		if (f & MM_VM_LOCKED)
			return -EINVAL;
		if (!v->obj)
			return -EINVAL;
		if (!((f & MM_VM_MAYSHARE) && (f & MM_VM_MAYWRITE)))
			return -EACCES;
		/* vfs_fallocate(FALLOC_FL_PUNCH_HOLE): a device has no
		 * ->fallocate. */
		if (mm_object_is_device(v->obj))
			return -EOPNOTSUPP;
		pg_punch_hole(mm, v->obj, v->vm_pgoff + ((start - v->vm_start) >> PAGE_SHIFT), (end - start) >> PAGE_SHIFT);
		return 0;
	case MM_MADV_WILLNEED:
		return 0; /* readahead / swap-in: no visible change */
	case MM_MADV_COLD:
	case MM_MADV_PAGEOUT:
		/* can_madvise_cold() */
		if (f & (MM_VM_LOCKED | MM_VM_PFNMAP | MM_VM_HUGETLB))
			return -EINVAL;
		if (b == MM_MADV_PAGEOUT)
			pp_pageout(mm, v, start, end);
		else
			pp_cold(mm, v, start, end);
		return 0;
	case MM_MADV_FREE:
	case MM_MADV_DONTNEED:
	case MM_MADV_DONTNEED_LOCKED: {
		/* madvise_dontneed_free_valid_vma() */
		uint64_t forbidden = MM_VM_PFNMAP | (b != MM_MADV_DONTNEED_LOCKED ? MM_VM_LOCKED : 0);
		if (f & forbidden)
			return -EINVAL;
		if (b == MM_MADV_FREE) {
			/* madvise_free_single_vma(): anonymous only. Pages
			 * become lazily freeable but stay mapped until reclaim
			 * (MADV_PAGEOUT here: the model has no memory pressure). */
			if (v->obj)
				return -EINVAL;
			pp_mark_lazyfree(mm, v, start, end);
			return 0;
		}
		pg_zap_pages(mm, v, start, end);
		return 0;
	}
	case MM_MADV_COLLAPSE: {
		/* madvise_collapse() (mm/khugepaged.c): anonymous VMAs only
		 * here (shmem THP is "never"), not VM_NOHUGEPAGE, and the VMA
		 * must be able to hold an aligned 2 MiB (thp_vma_allowable_order
		 * with TVA_FORCED_COLLAPSE ignores the sysfs mode). Then every
		 * whole aligned block of the range becomes a THP [LIVE]. */
		uint64_t first = (v->vm_start + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1);
		if ((f & (MM_VM_NOHUGEPAGE | MM_VM_SPECIAL | MM_VM_HUGETLB)) || first + MM_PMD_SIZE > v->vm_end ||
		    first < v->vm_start)
			return -EINVAL;
		/* __thp_vma_allowable_orders(): a file VMA that is neither shmem
		 * nor file_thp_enabled() (a device) allows no order. */
		if (mm_object_is_device(v->obj))
			return -EINVAL;
		if (v->obj) {
			/* shmem and memfd, shared or private (issue 15 case 4):
			 * forced collapse overrides shmem_enabled=never
			 * (shmem_allowable_huge_orders: only `deny` refuses);
			 * thp_vma_suitable_order() wants the file offset
			 * congruent with the address modulo 2 MiB; no anon_vma
			 * needed. Then collapse_file() per block (pp_collapse_file).
			 * mm/shmem.c shmem_huge_global_enabled(): `deny` returns
			 * no order even to a forced collapse (profile shmem_thp). */
			if (mm->cfg.shmem_thp == MM_SHMEM_THP_DENY)
				return -EINVAL;
			if (((v->vm_start >> PAGE_SHIFT) - v->vm_pgoff) & (MM_PMD_SIZE / PAGE_SIZE - 1))
				return -EINVAL;
			uint64_t fs = (start + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1), fe = end & ~(MM_PMD_SIZE - 1);
			if (fs > fe)
				return -EINVAL; /* the wrapped count, as below */
			bool failed = false;
			for (uint64_t h = fs; h < fe; h += MM_PMD_SIZE) {
				int r = pp_collapse_file(mm, v, h);
				if (r < 0)
					return r;
				failed = failed || r > 0;
			}
			return failed ? -EINVAL : 0;
		}
		/* __thp_vma_allowable_orders(): an anonymous VMA without an
		 * anon_vma passes only for smaps and page faults [LIVE:
		 * collapse of 4K of a never-faulted VMA is EINVAL]. */
		if (!v->anon_vma)
			return -EINVAL;
		uint64_t hstart = (start + MM_PMD_SIZE - 1) & ~(MM_PMD_SIZE - 1), hend = end & ~(MM_PMD_SIZE - 1);
		/* The answer is "thps == (hend - hstart) >> HPAGE_PMD_SHIFT ?
		 * 0 : madvise_collapse_errno(last_fail)" in unsigned longs: a
		 * VMA's part that lies inside one block without reaching its
		 * end (hstart > hend) wraps and is EINVAL (SCAN_FAIL), before
		 * the walk reaches a hole's ENOMEM or the next VMA; a part that
		 * ends exactly at the block boundary is 0 [LIVE:
		 * madvise-collapse-errno.trace]. */
		if (hstart > hend)
			return -EINVAL;
		bool read_only = false;
		for (uint64_t h = hstart; h < hend; h += MM_PMD_SIZE) {
			/* hpage_collapse_scan_pmd(), then collapse_huge_page()
			 * with the VMA's anon_vma prepared. */
			int err = pp_collapse_scan(mm, v, h);
			if (err < 0)
				return err;
			if (err == 0)
				continue;
			if (!mm_kernel_at_least(mm, 613) && collapse_scan_read_only(mm, h)) {
				read_only = true; /* SCAN_PAGE_RO: whitelisted, go on */
				continue;
			}
			if (vma_anon_vma_prepare(mm, v))
				return -ENOMEM;
			err = pp_collapse(mm, v, h);
			if (err)
				return err;
		}
		return read_only ? -EINVAL : 0;
	}
	case MM_MADV_GUARD_INSTALL: {
		/* madvise_guard_install(): the whole VMA gets the sticky
		 * VM_MAYBE_GUARD without a split -- on kernels that have the
		 * flag (profile guard_flag; 6.19's, taken by later 6.18
		 * stables). */
		if (f & (MM_VM_SPECIAL | MM_VM_HUGETLB | MM_VM_LOCKED))
			return -EINVAL;
		if (mm->cfg.guard_flag)
			v->vm_flags |= MM_VM_MAYBE_GUARD;
		if (!v->obj) {
			int err = vma_anon_vma_prepare(mm, v);
			if (err)
				return err;
		}
		return pg_guard_install(mm, v, start, end);
	}
	case MM_MADV_GUARD_REMOVE:
		if (f & (MM_VM_SPECIAL | MM_VM_HUGETLB))
			return -EINVAL;
		pg_guard_remove(mm, start, end);
		return 0;
	case MM_MADV_NORMAL:
		f &= ~(MM_VM_RAND_READ | MM_VM_SEQ_READ);
		break;
	case MM_MADV_SEQUENTIAL:
		f = (f & ~MM_VM_RAND_READ) | MM_VM_SEQ_READ;
		break;
	case MM_MADV_RANDOM:
		f = (f & ~MM_VM_SEQ_READ) | MM_VM_RAND_READ;
		break;
	case MM_MADV_DONTFORK:
		f |= MM_VM_DONTCOPY;
		break;
	case MM_MADV_DOFORK:
		if (f & MM_VM_IO)
			return -EINVAL;
		f &= ~MM_VM_DONTCOPY;
		break;
	case MM_MADV_WIPEONFORK:
		if (v->obj || (f & MM_VM_SHARED))
			return -EINVAL;
		f |= MM_VM_WIPEONFORK;
		break;
	case MM_MADV_KEEPONFORK:
		if (f & MM_VM_DROPPABLE)
			return -EINVAL;
		f &= ~MM_VM_WIPEONFORK;
		break;
	case MM_MADV_DONTDUMP:
		f |= MM_VM_DONTDUMP;
		break;
	case MM_MADV_DODUMP:
		if ((f & MM_VM_SPECIAL) || (f & MM_VM_DROPPABLE))
			return -EINVAL;
		f &= ~MM_VM_DONTDUMP;
		break;
	case MM_MADV_MERGEABLE:
		/* ksm_madvise(): incompatible VMAs are left alone, silently. */
		if (!(f & MM_VM_MERGEABLE) && vma_ksm_compatible(v))
			f |= MM_VM_MERGEABLE;
		break;
	case MM_MADV_UNMERGEABLE:
		f &= ~MM_VM_MERGEABLE;
		break;
	case MM_MADV_HUGEPAGE:
		f = (f & ~MM_VM_NOHUGEPAGE) | MM_VM_HUGEPAGE;
		break;
	case MM_MADV_NOHUGEPAGE:
		f = (f & ~MM_VM_HUGEPAGE) | MM_VM_NOHUGEPAGE;
		break;
	default:
		return -EINVAL;
	}
	/* madvise_update_vma(); ENOMEM from a split becomes EAGAIN. */
	if (f == v->vm_flags)
		return 0;
	int err = 0;
	struct vma *r = vma_modify_flags(mm, v, start, end, f, &err);
	if (!r)
		return err == -ENOMEM ? -EAGAIN : err;
	*out = r;
	return 0;
}

/* madvise_populate(): fault the range in, VMA by VMA; a hole is ENOMEM, an
 * incompatible VMA EINVAL, a SIGSEGV/SIGBUS-type fault EFAULT. */
static int madvise_populate(mm_state *mm, uint64_t start, uint64_t end, bool write)
{
	while (start < end) {
		struct vma *v = vt_lookup(&mm->vt, start);
		if (!v)
			return -ENOMEM;
		/* mm/gup.c: check_vma_flags() without FOLL_FORCE. */
		uint64_t f = v->vm_flags;
		if ((f & (MM_VM_IO | MM_VM_PFNMAP)) || (write && !(f & MM_VM_WRITE)) || (!write && !(f & MM_VM_READ)))
			return -EINVAL;
		uint64_t e = end < v->vm_end ? end : v->vm_end;
		int err = gup_get_pages(mm, v, start, e, write);
		if (err)
			return err;
		start = e;
	}
	return 0;
}

int mm_madvise(mm_state *mm, uint64_t start, uint64_t len, int64_t b)
{
	mm->n_touched = 0;
	/* is_valid_madvise(). MADV_GUARD_INSTALL/REMOVE came in 6.13,
	 * 662df3e5c376 ("mm: madvise: implement lightweight guard page
	 * mechanism"): before it they are unknown advice (docs/versions.md). */
	if (!behavior_valid(b) || offset_in_page(start))
		return -EINVAL;
	if ((b == MM_MADV_GUARD_INSTALL || b == MM_MADV_GUARD_REMOVE) && !mm_kernel_at_least(mm, 613))
		return -EINVAL;
	uint64_t alen = PAGE_ALIGN(len);
	if (len && !alen)
		return -EINVAL;
	if (start + alen < start)
		return -EINVAL;
	uint64_t end = start + alen;
	if (end == start)
		return 0;
	/* Version rule: MADV_POPULATE_(READ|WRITE) left the VMA walk in 6.9,
	 * 631426ba1d45 ("mm/madvise: make MADV_POPULATE_(READ|WRITE) handle
	 * VM_FAULT_RETRY properly"): since then a hole stops it (ENOMEM); before,
	 * madvise_walk_vmas() went on past holes to populate (or refuse, EINVAL)
	 * the VMAs after them, and ENOMEM came at the end (docs/versions.md). */
	bool populate = b == MM_MADV_POPULATE_READ || b == MM_MADV_POPULATE_WRITE;
	if (populate && mm_kernel_at_least(mm, 609))
		return madvise_populate(mm, start, end, b == MM_MADV_POPULATE_WRITE);

	/* madvise_walk_vmas(): holes do not stop the walk, they make the
	 * result ENOMEM at the end; a per-VMA error stops it at once. */
	int unmapped_error = 0;
	struct vma *v = vt_find(&mm->vt, start);
	for (;;) {
		if (!v) {
			mm->n_touched = 0;
			return -ENOMEM;
		}
		if (start < v->vm_start) {
			unmapped_error = -ENOMEM;
			start = v->vm_start;
			if (start >= end)
				break;
		}
		uint64_t e = v->vm_end < end ? v->vm_end : end;
		struct vma *r = v;
		int err = populate ? madvise_populate(mm, start, e, b == MM_MADV_POPULATE_WRITE)
		                   : madvise_vma_behavior(mm, v, start, e, b, &r);
		if (err) {
			mm->n_touched = 0;
			return err;
		}
		/* A merge may have carried r past e: continue after it. */
		start = r->vm_end > e ? r->vm_end : e;
		if (start >= end)
			break;
		v = vt_find(&mm->vt, start);
	}
	if (unmapped_error)
		mm->n_touched = 0;
	return unmapped_error;
}

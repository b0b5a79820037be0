/* mmap(2): arch/x86/kernel/sys_x86_64.c sys_mmap, mm/util.c vm_mmap_pgoff,
 * mm/mmap.c do_mmap and __get_unmapped_area, mm/vma.c __mmap_region. */
#include "gup.h"
#include "mmap.h"
#include "munmap.h"
#include "object.h"
#include "vma.h"

/* include/linux/mm.h: vm_start_gap() */
static uint64_t vm_start_gap(const mm_state *mm, const struct vma *v)
{
	if (!(v->vm_flags & MM_VM_GROWSDOWN))
		return v->vm_start;
	return v->vm_start > mm->cfg.stack_guard_gap ? v->vm_start - mm->cfg.stack_guard_gap : 0;
}

/* arch/x86/kernel/sys_x86_64.c: mmap_address_hint_valid() */
static bool hint_valid(uint64_t addr, uint64_t len)
{
	if (MM_TASK_SIZE - len < addr)
		return false;
	return (addr > MM_TASK_SIZE) == (addr + len > MM_TASK_SIZE);
}

/* arch/x86/kernel/sys_x86_64.c: arch_get_unmapped_area() as MAP_32BIT uses
 * it: bottom-up in [1 GiB, 2 GiB) (find_start_end; the kernel randomises the
 * start within 32 MiB, the model takes the lowest), intersected with the
 * model's search window. */
static int64_t bottomup_32bit(mm_state *mm, uint64_t addr, uint64_t len, uint64_t pgoff, uint64_t align_mask)
{
	const uint64_t begin = 0x40000000ull, end = 0x80000000ull;
	if (len > end)
		return -ENOMEM;
	if (addr) {
		addr &= PAGE_MASK;
		if (hint_valid(addr, len) && end - len >= addr) {
			struct vma *v = vt_find(&mm->vt, addr);
			if (!v || addr + len <= vm_start_gap(mm, v))
				return (int64_t)addr;
		}
	}
	uint64_t low = begin;
	if (low < mm->cfg.mmap_low)
		low = mm->cfg.mmap_low;
	if (low < mm->cfg.mmap_min_addr)
		low = mm->cfg.mmap_min_addr;
	struct unmapped_area_info info = {
		.length = len,
		.low_limit = low,
		.high_limit = end < mm->cfg.mmap_base ? end : mm->cfg.mmap_base,
		.align_offset = pgoff << PAGE_SHIFT,
		.align_mask = align_mask,
	};
	if (info.high_limit <= info.low_limit)
		return -ENOMEM;
	int64_t r = vt_unmapped_area(&mm->vt, &info);
	return r < 0 ? -ENOMEM : r;
}

/* arch/x86/kernel/sys_x86_64.c: arch_get_unmapped_area_topdown(). The
 * bottom-up fallback (legacy base .. TASK_SIZE) lies outside the model's
 * search window, so a failed top-down search is ENOMEM here. */
static int64_t topdown_aligned(mm_state *mm, uint64_t addr, uint64_t len, uint64_t pgoff, uint64_t flags,
                               uint64_t align_mask)
{
	if (len > MM_TASK_SIZE)
		return -ENOMEM;
	if (flags & MM_MAP_FIXED)
		return (int64_t)addr;
	if (flags & MM_MAP_32BIT)
		return bottomup_32bit(mm, addr, len, pgoff, align_mask);
	if (addr) {
		addr &= PAGE_MASK;
		if (hint_valid(addr, len)) {
			struct vma *v = vt_find(&mm->vt, addr);
			if (!v || addr + len <= vm_start_gap(mm, v))
				return (int64_t)addr;
		}
	}
	uint64_t low = mm->cfg.mmap_low > mm->cfg.mmap_min_addr ? mm->cfg.mmap_low : mm->cfg.mmap_min_addr;
	struct unmapped_area_info info = {
		.length = len,
		.low_limit = low,
		.high_limit = mm->cfg.mmap_base,
		.align_offset = pgoff << PAGE_SHIFT,
		.align_mask = align_mask,
	};
	int64_t r = vt_unmapped_area_topdown(&mm->vt, &info);
	/* A search that wrapped below 0 (a stack guard reaching address 0)
	 * yields an address near 2^64, which __get_unmapped_area() refuses as
	 * beyond TASK_SIZE: ENOMEM either way. */
	return r < 0 ? -ENOMEM : r;
}

static int64_t topdown(mm_state *mm, uint64_t addr, uint64_t len, uint64_t pgoff, uint64_t flags)
{
	return topdown_aligned(mm, addr, len, pgoff, flags, 0);
}

/* mm/huge_memory.c: __thp_get_unmapped_area() for anonymous memory (off 0):
 * search for len + 2 MiB, then place the mapping on a 2 MiB boundary --
 * at the top of the padded gap when the gap start is already aligned. */
static int64_t thp_get_unmapped_area(mm_state *mm, uint64_t len, uint64_t flags)
{
	uint64_t len_pad = len + MM_PMD_SIZE;
	if (len_pad >= len) {
		int64_t ret = topdown(mm, 0, len_pad, 0, flags);
		if (ret >= 0) {
			uint64_t r = (uint64_t)ret;
			uint64_t off_sub = (0 - r) & (MM_PMD_SIZE - 1);
			if (!off_sub)
				return (int64_t)(r + MM_PMD_SIZE);
			return (int64_t)(r + off_sub);
		}
	}
	return topdown(mm, 0, len, 0, flags);
}

int64_t mmap_get_unmapped_area(mm_state *mm, const struct mm_object *obj, bool shared_anon, uint64_t addr, uint64_t len,
                          uint64_t pgoff, uint64_t flags)
{
	if (len > MM_TASK_SIZE)
		return -ENOMEM;
	if (!obj)
		pgoff = 0; /* always zero for anonymous memory */
	int64_t r;
	/* Files here are shmem (memfd) and shared anonymous memory goes to
	 * shmem_get_unmapped_area(); with shmem THP "never" both reduce to
	 * the plain allocator. Private anonymous no-hint 2 MiB multiples get
	 * THP alignment, whatever the THP mode: since 6.7, efa7df3e3bb5 ("mm:
	 * align larger anonymous mappings on THP boundaries"; its 6.1-rc
	 * version was reverted before 6.1), limited to PMD multiples by
	 * d4148aeab412 (6.12). 6.1 places them like any other mapping. */
	if (!obj && !shared_anon && !addr && mm->cfg.thp_enabled && len % MM_PMD_SIZE == 0 &&
	    mm_kernel_at_least(mm, 607))
		r = thp_get_unmapped_area(mm, len, flags);
	else
		r = topdown(mm, addr, len, pgoff, flags);
	if (r < 0)
		return r;
	if ((uint64_t)r > MM_TASK_SIZE - len)
		return -ENOMEM;
	if (offset_in_page((uint64_t)r))
		return -EINVAL;
	return r;
}

/* mm/mmap.c: round_hint_to_min() */
static uint64_t round_hint_to_min(const mm_state *mm, uint64_t hint)
{
	hint &= PAGE_MASK;
	if (hint && hint < mm->cfg.mmap_min_addr)
		return PAGE_ALIGN(mm->cfg.mmap_min_addr);
	return hint;
}

/* include/linux/mman.h: LEGACY_MAP_MASK */
#define LEGACY_MAP_MASK                                                                                      \
	((uint64_t)(MM_MAP_SHARED | MM_MAP_PRIVATE | MM_MAP_FIXED | MM_MAP_ANONYMOUS | MM_MAP_DENYWRITE |      \
	            MM_MAP_EXECUTABLE | MM_MAP_UNINITIALIZED | MM_MAP_GROWSDOWN | MM_MAP_LOCKED |               \
	            MM_MAP_NORESERVE | MM_MAP_POPULATE | MM_MAP_NONBLOCK | MM_MAP_STACK | MM_MAP_HUGETLB |     \
	            MM_MAP_32BIT | MM_MAP_ABOVE4G | MM_MAP_HUGE_2MB | MM_MAP_HUGE_1GB))

/* Anonymous MAP_HUGETLB (ksys_mmap_pgoff, hugetlbfs): hugetlb VMAs are not
 * modelled, only the answers this machine gives -- 2 MiB and 1 GiB page
 * sizes exist (hstate_sizelog), their pools are empty, so once the size,
 * length and MAP_FIXED alignment pass, hugetlbfs cannot reserve: ENOMEM
 * [LIVE]. (With MAP_NORESERVE the kernel would make a hugetlb VMA; traces
 * for the model do not combine the two.) */
static int64_t hugetlb_anon_mmap(mm_state *mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t pgoff)
{
	uint64_t log = (flags >> 26) & 0x3f;
	uint64_t hsize = (log == 0 || log == 21) ? MM_PMD_SIZE : log == 30 ? (1ull << 30) : 0;
	if (!hsize)
		return -EINVAL;
	len = (len + hsize - 1) & ~(hsize - 1);
	if (!len)
		return -EINVAL; /* do_mmap(): len 0 */
	if (flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) {
		if (addr & (hsize - 1))
			return -EINVAL; /* hugetlb_get_unmapped_area() */
		if ((flags & MM_MAP_FIXED_NOREPLACE) && vt_find_intersection(&mm->vt, addr, addr + len))
			return -EEXIST;
	} else {
		/* hugetlb_get_unmapped_area(): the x86 allocator with the huge
		 * page alignment (get_align_mask); no room is ENOMEM before the
		 * checks below. */
		uint64_t hint = (round_hint_to_min(mm, addr) + hsize - 1) & ~(hsize - 1);
		int64_t r = topdown_aligned(mm, hint, len, 0, flags, hsize - 1);
		if (r < 0)
			return r;
	}
	/* do_mmap(): MAP_LOCKED's can_do_mlock() and mlock_future_ok() come
	 * before the file checks. */
	if (flags & MM_MAP_LOCKED) {
		if (!can_do_mlock(mm))
			return -EPERM;
		if (!mlock_future_ok(mm, MM_VM_LOCKED, len))
			return -EAGAIN;
	}
	/* do_mmap()'s checks for a file: the hugetlbfs file of the mapping. */
	switch (flags & MM_MAP_TYPE) {
	case MM_MAP_SHARED_VALIDATE:
		if (flags & ~LEGACY_MAP_MASK)
			return -EOPNOTSUPP;
		break;
	case MM_MAP_SHARED:
	case MM_MAP_PRIVATE:
		break;
	default:
		return -EINVAL;
	}
	if (flags & MM_MAP_GROWSDOWN)
		return -EINVAL;
	/* hugetlbfs_file_mmap(): the offset (the caller's, even for
	 * anonymous memory) must be huge-page aligned. */
	if (pgoff & ((hsize >> PAGE_SHIFT) - 1))
		return -EINVAL;
	/* __mmap_region(): a MAP_FIXED range is unmapped first; the mapping
	 * then fails to reserve, and the old VMAs are not restored [LIVE]. */
	if (flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) {
		int err = munmap_range(mm, addr, addr + len);
		/* no merge was tried at the edges (a refused unmap keeps its
		 * head split, #1): nothing for the merge check (I9) */
		mm->n_touched = 0;
		if (err)
			return err;
	}
	return -ENOMEM;
}

/* mm/mmap.c: accountable_mapping() */
static bool accountable_mapping(uint64_t vm_flags)
{
	return (vm_flags & (MM_VM_NORESERVE | MM_VM_SHARED | MM_VM_WRITE)) == MM_VM_WRITE;
}

/* mm/vma.c: __mmap_region(), for a range already checked and placed. */
static int64_t mmap_region(mm_state *mm, struct mm_object *file, uint64_t addr, uint64_t len, uint64_t vm_flags,
                           uint64_t pgoff)
{
	uint64_t end = addr + len;
	bool shared_anon = !file && (vm_flags & MM_VM_SHARED);
	struct vma *v = NULL;
	struct mm_object *shm = NULL;
	/* The common case: nothing to unmap under a private mapping and no
	 * allocation set to fail. The VMA is allocated only if the range does
	 * not merge, and an allocation failure then (malloc's own) still leaves
	 * everything as it was: the merge attempt that came first changed
	 * nothing. */
	bool lazy = !shared_anon && !mm->fail_alloc_countdown && !vt_find_intersection(&mm->vt, addr, end);
	if (!lazy) {
		/* Allocate first so that nothing can fail after the old VMAs go. */
		v = vma_alloc(mm);
		if (!v)
			return -ENOMEM;
		if (shared_anon && !(shm = mm_object_new(mm, MM_BACKING_SHMEM, len))) {
			vma_free(mm, v);
			return -ENOMEM;
		}
		/* vms_gather_munmap_vmas(): sealed VMAs and the split limit
		 * refuse, after the head split is done, and that split stays
		 * [LIVE]. */
		int err = munmap_range(mm, addr, end);
		if (err) {
			mm->n_touched = 0;
			vma_free(mm, v);
			mm_object_put(mm, shm);
			return err;
		}
	}
	mm->n_touched = 0;
	if (accountable_mapping(vm_flags))
		vm_flags |= MM_VM_ACCOUNT;

	struct vma *next = vt_find(&mm->vt, addr);
	struct vma *prev = next ? next->node.prev : vt_last(&mm->vt);
	struct vma *merged = NULL;
	if (!shared_anon) {
		/* shmem_zero_setup() runs after the merge attempt, so shared
		 * anonymous memory never finds a partner; skip straight to new. */
		struct vma_merge g = {
			.prev = prev, .next = next, .start = addr, .end = end,
			.pgoff = pgoff, .flags = vm_flags, .obj = file,
		};
		merged = vma_merge_new_range(mm, &g);
	}
	if (merged) {
		vma_free(mm, v);
		v = merged;
	} else {
		if (!v && !(v = vma_alloc(mm)))
			return -ENOMEM;
		v->vm_start = addr;
		v->vm_end = end;
		v->vm_flags = vm_flags;
		v->vm_pgoff = pgoff;
		v->obj = shared_anon ? shm : file;
		if (file)
			file->refs++;
		vt_insert(&mm->vt, v);
		vma_note_touched(mm, addr);
		vma_note_touched(mm, end);
	}
	/* __mmap_complete(): the new pages count in mm->locked_vm (VM_SPECIAL,
	 * DAX, hugetlb would lose VM_LOCKED instead; the model makes none of
	 * those here). With CONFIG_MEM_SOFT_DIRTY the VMA -- the merged one as
	 * a whole when the range merged -- gets VM_SOFTDIRTY: "new (or
	 * expanded) vma always get soft dirty status". */
	if (vm_flags & MM_VM_LOCKED)
		mm->locked_vm += len >> PAGE_SHIFT;
	if (mm->cfg.soft_dirty)
		v->vm_flags |= MM_VM_SOFTDIRTY;
	return (int64_t)addr;
}

int64_t mm_mmap(mm_state *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file_id, uint64_t off)
{
	mm->n_touched = 0;
	/* sys_mmap(): the byte offset must be page aligned. */
	if (offset_in_page(off))
		return -EINVAL;
	uint64_t pgoff = off >> PAGE_SHIFT;
	struct mm_object *file = NULL;
	/* ksys_mmap_pgoff() */
	if (!(flags & MM_MAP_ANONYMOUS)) {
		file = file_id > 0 ? mm_object_file(mm, file_id) : NULL;
		if (!file)
			return -EBADF;
		if (flags & MM_MAP_HUGETLB)
			return -EINVAL; /* not a hugetlbfs file */
	} else if (flags & MM_MAP_HUGETLB) {
		return hugetlb_anon_mmap(mm, addr, len, flags, off >> PAGE_SHIFT);
	}

	/* do_mmap() */
	if (!len)
		return -EINVAL;
	if (flags & MM_MAP_FIXED_NOREPLACE)
		flags |= MM_MAP_FIXED;
	if (!(flags & MM_MAP_FIXED))
		addr = round_hint_to_min(mm, addr);
	len = PAGE_ALIGN(len);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	if (mm->vt.count > mm->cfg.max_map_count)
		return -ENOMEM;

	/* calc_vm_prot_bits() | calc_vm_flag_bits() | VM_MAY*. MAP_STACK gives
	 * VM_NOHUGEPAGE since 6.7, c4608d1bf7c6 ("mm: mmap: map MAP_STACK to
	 * VM_NOHUGEPAGE"); before it, nothing (docs/versions.md). */
	uint64_t vm_flags = (prot & MM_PROT_READ ? MM_VM_READ : 0) | (prot & MM_PROT_WRITE ? MM_VM_WRITE : 0) |
	                    (prot & MM_PROT_EXEC ? MM_VM_EXEC : 0) |
	                    (flags & MM_MAP_GROWSDOWN ? MM_VM_GROWSDOWN : 0) |
	                    (flags & MM_MAP_LOCKED ? MM_VM_LOCKED : 0) | (flags & MM_MAP_SYNC ? MM_VM_SYNC : 0) |
	                    (flags & MM_MAP_STACK && mm_kernel_at_least(mm, 607) ? MM_VM_NOHUGEPAGE : 0) |
	                    MM_VM_MAYREAD | MM_VM_MAYWRITE |
	                    MM_VM_MAYEXEC;
	/* do_mmap(): with OSPKE, prot exactly PROT_EXEC takes the mm's
	 * execute-only key (execute_only_pkey). */
	if (mm->cfg.pkeys && prot == MM_PROT_EXEC)
		vm_flags |= MM_VM_PKEY_EXEC_ONLY;

	bool shared_anon = !file && (flags & MM_MAP_TYPE) == MM_MAP_SHARED;
	int64_t got = mmap_get_unmapped_area(mm, file, shared_anon, addr, len, pgoff, flags);
	if (got < 0)
		return got;
	addr = (uint64_t)got;
	if ((flags & MM_MAP_FIXED_NOREPLACE) && vt_find_intersection(&mm->vt, addr, addr + len))
		return -EEXIST;
	/* do_mmap(): MAP_LOCKED needs can_do_mlock() (EPERM), and the VMA's
	 * VM_LOCKED pages must fit RLIMIT_MEMLOCK (mlock_future_ok: EAGAIN),
	 * before the file and type checks. */
	if ((flags & MM_MAP_LOCKED) && !can_do_mlock(mm))
		return -EPERM;
	if (!mlock_future_ok(mm, vm_flags, len))
		return -EAGAIN;

	if (file) {
		/* file_mmap_ok(): offset and length within MAX_LFS_FILESIZE. */
		const uint64_t max_lfs = 0x7fffffffffffffffull;
		if (len > max_lfs || pgoff > (max_lfs - len) >> PAGE_SHIFT)
			return -EOVERFLOW;
		/* The file is opened read-write and is shmem: no MAP_SYNC support,
		 * not append-only, not a swapfile, executable mount. */
		switch (flags & MM_MAP_TYPE) {
		case MM_MAP_SHARED:
			/* Unknown flags are dropped silently for MAP_SHARED... */
			flags &= LEGACY_MAP_MASK;
			/* fall through */
		case MM_MAP_SHARED_VALIDATE:
			/* ...and refused for MAP_SHARED_VALIDATE (shmem has no MAP_SYNC). */
			if (flags & ~LEGACY_MAP_MASK)
				return -EOPNOTSUPP;
			vm_flags |= MM_VM_SHARED | MM_VM_MAYSHARE;
			/* fall through */
		case MM_MAP_PRIVATE:
			if (vm_flags & MM_VM_GROWSDOWN)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}

	} else {
		switch (flags & MM_MAP_TYPE) {
		case MM_MAP_SHARED:
			if (vm_flags & MM_VM_GROWSDOWN)
				return -EINVAL;
			pgoff = 0;
			vm_flags |= MM_VM_SHARED | MM_VM_MAYSHARE;
			break;
		case MM_MAP_DROPPABLE:
			/* 6.11, 9651fcedf7b9 ("mm: add MAP_DROPPABLE for designating
			 * always lazily freeable mappings"); before it the type is
			 * unknown: EINVAL (docs/versions.md). */
			if (!mm_kernel_at_least(mm, 611))
				return -EINVAL;
			if ((flags & MM_MAP_LOCKED) || (vm_flags & MM_VM_GROWSDOWN))
				return -EINVAL;
			vm_flags |= MM_VM_DROPPABLE | MM_VM_NORESERVE | MM_VM_WIPEONFORK | MM_VM_DONTDUMP;
			/* fall through */
		case MM_MAP_PRIVATE:
			pgoff = addr >> PAGE_SHIFT; /* for the anon_vma */
			break;
		default:
			return -EINVAL;
		}
	}
	/* do_mmap(): MAP_NORESERVE gives VM_NORESERVE unless
	 * vm.overcommit_memory is OVERCOMMIT_NEVER (2); then the mapping is
	 * accounted (accountable_mapping: `ac`) like any private writable one.
	 * (hugetlbfs files would get it always; they are not modelled.) */
	if ((flags & MM_MAP_NORESERVE) && mm->cfg.overcommit != 2)
		vm_flags |= MM_VM_NORESERVE;

	int64_t r = mmap_region(mm, file, addr, len, vm_flags, pgoff);
	if (r < 0)
		return r;
	if ((vm_flags & MM_VM_LOCKED) || (flags & (MM_MAP_POPULATE | MM_MAP_NONBLOCK)) == MM_MAP_POPULATE)
		(void)gup_populate(mm, addr, addr + len, true);
	return r;
}

/* mmap, munmap and address selection (mm/mmap.c, mm/vma.c,
 * arch/x86/kernel/sys_x86_64.c, mm/huge_memory.c). */
#include "naive_internal.h"

/* LEGACY_MAP_MASK (include/linux/mman.h): the flags MAP_SHARED accepts
 * silently and MAP_SHARED_VALIDATE accepts at all. */
#define NV_LEGACY_MAP_MASK                                                                                 \
	(MM_MAP_SHARED | MM_MAP_PRIVATE | MM_MAP_FIXED | MM_MAP_ANONYMOUS | MM_MAP_DENYWRITE |             \
	 MM_MAP_EXECUTABLE | MM_MAP_UNINITIALIZED | MM_MAP_GROWSDOWN | MM_MAP_LOCKED | MM_MAP_NORESERVE | \
	 MM_MAP_POPULATE | MM_MAP_NONBLOCK | MM_MAP_STACK | MM_MAP_HUGETLB | MM_MAP_32BIT |            \
	 MM_MAP_ABOVE4G | MM_MAP_HUGE_2MB | MM_MAP_HUGE_1GB)


/* include/linux/mm.h: vm_start_gap() */
static uint64_t vm_start_gap(const naive_mm *nm, const nvma *v)
{
	if (!(v->flags & MM_VM_GROWSDOWN))
		return v->start;
	return v->start > nm->cfg.stack_guard_gap ? v->start - nm->cfg.stack_guard_gap : 0;
}

/* mm/vma.c: unmapped_area_topdown(), literally: take the highest free gap
 * (between raw VMA bounds) of at least len inside [low, high); if the VMA
 * above it is a stack whose guard gap reaches below the gap's end, lower
 * high to that guard and search again from scratch -- which can skip free
 * gaps above the new high (an ENOMEM that a per-gap scan would not give). */
static int64_t search_topdown(naive_mm *nm, uint64_t len, uint64_t low, uint64_t high)
{
retry:
	if (high < low || high - low < len)
		return -ENOMEM;
	for (size_t k = nm->nvmas + 1; k-- > 0;) {
		/* the gap below vmas[k] (k == nvmas: above the last VMA) */
		const nvma *next = k < nm->nvmas ? &nm->vmas[k] : NULL;
		const nvma *prev = k > 0 ? &nm->vmas[k - 1] : NULL;
		uint64_t gap_end = next ? next->start : UINT64_MAX;
		uint64_t gap_start = prev ? prev->end : 0;
		if (gap_end > high)
			gap_end = high;
		if (gap_start < low)
			gap_start = low;
		if (gap_end < gap_start || gap_end - gap_start < len)
			continue;
		if (next && (next->flags & MM_VM_GROWSDOWN) && vm_start_gap(nm, next) < gap_end) {
			high = vm_start_gap(nm, next);
			goto retry;
		}
		return (int64_t)(gap_end - len);
	}
	return -ENOMEM;
}

/* arch/x86/kernel/sys_x86_64.c: arch_get_unmapped_area_topdown() */
/* arch_get_unmapped_area() as MAP_32BIT uses it: the lowest free range in
 * [1 GiB, 2 GiB) (find_start_end; the kernel's 32 MiB randomisation of the
 * start is not modelled), within the configured window. */
static int64_t search_32bit(naive_mm *nm, uint64_t addr, uint64_t len)
{
	const uint64_t begin = 0x40000000ull, end = 0x80000000ull;
	if (len > end)
		return -ENOMEM;
	if (addr) {
		addr &= NV_PAGE_MASK;
		if (addr <= NV_TASK_SIZE - len && end - len >= addr) {
			nvma *v = nv_find_vma(nm, addr);
			if (!v || addr + len <= vm_start_gap(nm, v))
				return (int64_t)addr;
		}
	}
	uint64_t low = begin;
	if (low < nm->cfg.mmap_low)
		low = nm->cfg.mmap_low;
	if (low < nm->cfg.mmap_min_addr)
		low = nm->cfg.mmap_min_addr;
	uint64_t high = end < nm->cfg.mmap_base ? end : nm->cfg.mmap_base;
	/* from the bottom: each candidate start is the end of a VMA (or low) */
	for (size_t k = 0; k <= nm->nvmas; k++) {
		uint64_t gap_start = k == 0 ? 0 : nm->vmas[k - 1].end;
		uint64_t gap_end = k < nm->nvmas ? vm_start_gap(nm, &nm->vmas[k]) : UINT64_MAX;
		if (gap_start < low)
			gap_start = low;
		if (gap_end > high)
			gap_end = high;
		if (gap_end > gap_start && gap_end - gap_start >= len)
			return (int64_t)gap_start;
	}
	return -ENOMEM;
}

static int64_t arch_get_unmapped_area_topdown(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t flags)
{
	if (len > NV_TASK_SIZE)
		return -ENOMEM;
	if (flags & MM_MAP_FIXED)
		return (int64_t)addr;
	if (flags & MM_MAP_32BIT)
		return search_32bit(nm, addr, len);
	if (addr) {
		/* mmap_address_hint_valid(); only the next VMA's start gap counts */
		addr &= NV_PAGE_MASK;
		if (addr <= NV_TASK_SIZE - len) {
			nvma *v = nv_find_vma(nm, addr);
			if (!v || addr + len <= vm_start_gap(nm, v))
				return (int64_t)addr;
		}
	}
	uint64_t low = nm->cfg.mmap_low;
	if (low < nm->cfg.mmap_min_addr)
		low = nm->cfg.mmap_min_addr;
	return search_topdown(nm, len, low, nm->cfg.mmap_base);
}

/* mm/huge_memory.c: __thp_get_unmapped_area() for anonymous memory: ask for
 * len + 2 MiB, then place the mapping on a 2 MiB boundary (at the top of the
 * padded gap when it is already aligned, top-down layout). 0: not done. */
static int64_t thp_get_unmapped_area(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t pgoff, uint64_t flags)
{
	uint64_t off = pgoff << MM_PAGE_SHIFT;
	uint64_t off_end = off + len;
	uint64_t off_align = (off + NV_PMD - 1) & ~(NV_PMD - 1);
	if (off_end <= off_align || off_end - off_align < NV_PMD)
		return 0;
	uint64_t len_pad = len + NV_PMD;
	if (len_pad < len || off + len_pad < off)
		return 0;
	int64_t ret = arch_get_unmapped_area_topdown(nm, addr, len_pad, flags);
	if (ret < 0)
		return 0; /* the caller retries without the padding */
	if ((uint64_t)ret == addr)
		return ret;
	uint64_t off_sub = (off - (uint64_t)ret) & (NV_PMD - 1);
	if (!off_sub)
		return ret + (int64_t)NV_PMD;
	return ret + (int64_t)off_sub;
}

/* mm/mmap.c: __get_unmapped_area(). backing is what the mapping will be:
 * shmem (shared anonymous) and our files use the plain search (shmem with
 * huge=never); private anonymous with no hint and len % 2 MiB == 0 the THP
 * path. */
int64_t nv_get_unmapped_area(naive_mm *nm, mm_backing backing, uint64_t addr, uint64_t len, uint64_t pgoff,
                             uint64_t flags)
{
	int64_t r = 0;
	if (len > NV_TASK_SIZE)
		return -ENOMEM;
	if (backing == MM_BACKING_ANON)
		pgoff = 0; /* "Always treat pgoff as zero for anonymous memory." */
	if (backing == MM_BACKING_ANON && !(flags & MM_MAP_SHARED) && nm->cfg.thp_enabled && !addr &&
	    len % NV_PMD == 0 && nv_has(nm, NV_ANON_THP_ALIGN))
		r = thp_get_unmapped_area(nm, addr, len, pgoff, flags);
	if (!r)
		r = arch_get_unmapped_area_topdown(nm, addr, len, flags);
	if (r < 0)
		return r;
	if ((uint64_t)r > NV_TASK_SIZE - len)
		return -ENOMEM;
	if ((uint64_t)r & ~NV_PAGE_MASK)
		return -EINVAL;
	return r;
}

/* ---- munmap ---------------------------------------------------------------- */

/* Remove [start, end) once gathered: pages and guard markers go, then page
 * tables no VMA spans any more (vms_complete_munmap_vmas). */
static void unmap_pieces(naive_mm *nm, uint64_t start, uint64_t end)
{
	size_t i = 0;
	while (i < nm->nvmas) {
		if (nm->vmas[i].start >= start && nm->vmas[i].end <= end) {
			/* vms_gather_munmap_vmas() counts the VM_LOCKED pages,
			 * vms_complete_munmap_vmas() takes them off locked_vm */
			if (nm->vmas[i].flags & MM_VM_LOCKED)
				nm->locked_vm -= nv_pages(nm->vmas[i].end - nm->vmas[i].start);
			nv_remove_vma(nm, &nm->vmas[i]);
		} else {
			i++;
		}
	}
	nv_regions_split_partial(nm, start, end);
	nv_pages_clear(nm, start, end, false);
	nv_regions_free_unspanned(nm);
}

/* mm/vma.c: vms_gather_munmap_vmas(): split the first VMA at start (refused
 * at map_count >= max only when it would be a 3-way split; EPERM if sealed),
 * then every VMA in range must be unsealed, and the last is split at end
 * without a limit check. A failure after the first split keeps that split.
 * Returns 0 or -errno; on 0 the range [start, end) holds whole VMAs only. */
static int gather_munmap(naive_mm *nm, uint64_t start, uint64_t end)
{
	nvma *v = nv_find_vma(nm, start);
	if (!v || v->start >= end)
		return 0;
	if (start > v->start) {
		if (end < v->end && nm->nvmas >= nm->cfg.max_map_count)
			return -ENOMEM;
		if (v->flags & MM_VM_SEALED)
			return -EPERM;
		nv_split(nm, v, start);
	}
	for (size_t i = 0; i < nm->nvmas; i++) {
		nvma *w = &nm->vmas[i];
		if (w->end <= start || w->start >= end)
			continue;
		if (w->flags & MM_VM_SEALED)
			return -EPERM;
	}
	nvma *last = NULL;
	for (size_t i = 0; i < nm->nvmas; i++)
		if (nm->vmas[i].start < end && nm->vmas[i].end > end)
			last = &nm->vmas[i];
	if (last)
		nv_split(nm, last, end);
	return 0;
}

/* mm/vma.c: do_vmi_munmap() after the argument checks. */
static int do_vmi_align_munmap(naive_mm *nm, uint64_t start, uint64_t end)
{
	int err = gather_munmap(nm, start, end);
	if (err)
		return err;
	unmap_pieces(nm, start, end);
	return 0;
}

/* mm/vma.c: do_vmi_munmap() */
int nv_do_munmap(naive_mm *nm, uint64_t start, uint64_t len)
{
	if ((start & ~NV_PAGE_MASK) || start > NV_TASK_SIZE || len > NV_TASK_SIZE - start)
		return -EINVAL;
	uint64_t end = start + nv_page_align(len);
	if (end == start)
		return -EINVAL;
	return do_vmi_align_munmap(nm, start, end);
}

int naive_munmap(naive_mm *nm, uint64_t addr, uint64_t len) { return nv_do_munmap(nm, addr, len); }

/* ---- mmap ------------------------------------------------------------------ */

/* mm/vma.c: __mmap_region(): replace whatever is in [addr, addr+len), then
 * merge with the neighbours or insert a new VMA. */
static int64_t mmap_region(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t vm_flags, uint64_t pgoff,
                           mm_backing backing, uint32_t object)
{
	uint64_t end = addr + len;
	/* __mmap_setup: gather the VMAs to replace (EPERM sealed, ENOMEM 3-way) */
	int err = gather_munmap(nm, addr, end);
	if (err)
		return err;
	/* __mmap_setup: accountable_mapping() gives VM_ACCOUNT */
	if ((vm_flags & (MM_VM_NORESERVE | MM_VM_SHARED | MM_VM_WRITE)) == MM_VM_WRITE)
		vm_flags |= MM_VM_ACCOUNT;
	/* the old VMAs and their pages go before the new one is linked */
	unmap_pieces(nm, addr, end);

	if (backing == MM_BACKING_SHMEM) {
		/* shmem_zero_setup(): a new shmem object of exactly len bytes */
		nm->objects = nv_grow(nm->objects, &nm->cap_objects, nm->nobjects + 1, sizeof(nobject));
		nobject *o = &nm->objects[nm->nobjects++];
		o->kind = MM_BACKING_SHMEM;
		o->id = ++nm->last_shmem_id;
		o->size = len;
		object = o->id;
	}

	nvma p = {.start = addr, .end = end, .flags = vm_flags, .pgoff = pgoff, .backing = backing,
	          .object = object, .anon_vma = 0};
	nvma *v = NULL;
	/* A shared anonymous mapping is merged before it gets its shmem file,
	 * and so never merges (vm_file NULL vs the neighbour's shmem file). */
	if (backing != MM_BACKING_SHMEM)
		v = nv_merge_new_range(nm, &p, false);
	if (!v)
		v = nv_insert_vma(nm, &p);
	/* __mmap_complete(): locked_vm counts a VM_LOCKED mapping's pages; the
	 * new (or expanded) VMA always gets VM_SOFTDIRTY when the kernel has
	 * soft-dirty tracking (profile soft_dirty). The merge ignored it
	 * (VM_IGNORE_MERGE), and a merged VMA keeps it (VM_STICKY). */
	if (vm_flags & MM_VM_LOCKED)
		nm->locked_vm += nv_pages(len);
	if (nm->cfg.soft_dirty)
		v->flags |= MM_VM_SOFTDIRTY;
	return (int64_t)addr;
}

int64_t naive_mmap(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file,
                   uint64_t off)
{
	/* arch/x86/kernel/sys_x86_64.c: sys_mmap */
	if (off & ~NV_PAGE_MASK)
		return -EINVAL;
	uint64_t pgoff = off >> MM_PAGE_SHIFT;

	/* mm/mmap.c: ksys_mmap_pgoff() */
	nobject *fobj = NULL;
	if (!(flags & MM_MAP_ANONYMOUS)) {
		fobj = file > 0 ? nv_object(nm, MM_BACKING_FILE, (uint32_t)file) : NULL;
		if (!fobj)
			return -EBADF;
		if (flags & MM_MAP_HUGETLB)
			return -EINVAL;
	} else if (flags & MM_MAP_HUGETLB) {
		/* ksys_mmap_pgoff(): hstate_sizelog() knows 2 MiB (also the
		 * default, log 0) and 1 GiB; len is aligned up to the huge page
		 * size; do_mmap() refuses len 0; hugetlb_get_unmapped_area()
		 * refuses a misaligned MAP_FIXED; then the empty pool makes the
		 * reservation fail [LIVE]. Hugetlb VMAs are out of scope. */
		uint64_t log = (flags >> 26) & 0x3f;
		uint64_t hsize = 0;
		if (log == 0 || log == 21)
			hsize = 2ull << 20;
		else if (log == 30)
			hsize = 1ull << 30;
		if (hsize == 0)
			return -EINVAL;
		uint64_t hlen = (len + hsize - 1) / hsize * hsize;
		if (hlen == 0)
			return -EINVAL;
		bool fixed = (flags & (MM_MAP_FIXED | MM_MAP_FIXED_NOREPLACE)) != 0;
		if (fixed && addr % hsize != 0)
			return -EINVAL;
		if ((flags & MM_MAP_FIXED_NOREPLACE) != 0) {
			for (size_t i = 0; i < nm->nvmas; i++)
				if (nm->vmas[i].start < addr + hlen && addr < nm->vmas[i].end)
					return -EEXIST;
		}
		/* hugetlb_get_unmapped_area() without MAP_FIXED: a free hint, or
		 * a top-down search with room for the huge page alignment; no
		 * room is ENOMEM before the type checks. */
		if (!fixed) {
			uint64_t hint = addr & NV_PAGE_MASK;
			if (hint && hint < nm->cfg.mmap_min_addr)
				hint = nm->cfg.mmap_min_addr;
			hint = (hint + hsize - 1) / hsize * hsize; /* ALIGN(addr, huge page) */
			bool hint_ok = hint && hint <= NV_TASK_SIZE - hlen;
			for (size_t i = 0; hint_ok && i < nm->nvmas; i++)
				if (vm_start_gap(nm, &nm->vmas[i]) < hint + hlen && hint < nm->vmas[i].end)
					hint_ok = false;
			uint64_t low = nm->cfg.mmap_low > nm->cfg.mmap_min_addr ? nm->cfg.mmap_low : nm->cfg.mmap_min_addr;
			if (!hint_ok && search_topdown(nm, hlen + hsize - NV_PAGE, low, nm->cfg.mmap_base) < 0)
				return -ENOMEM;
		}
		/* do_mmap(): after the address, MAP_LOCKED needs can_do_mlock()
		 * (EPERM) and room under RLIMIT_MEMLOCK for the rounded length
		 * (mlock_future_ok: EAGAIN), before the file's checks. Found by
		 * the profile matrix with memlock=64K (live: EAGAIN). */
		if ((flags & MM_MAP_LOCKED) && !nv_can_do_mlock(nm))
			return -EPERM;
		if ((flags & MM_MAP_LOCKED) && !nv_mlock_future_ok(nm, MM_VM_LOCKED, hlen))
			return -EAGAIN;
		/* do_mmap() then checks the mapping type as for any file */
		uint64_t type = flags & MM_MAP_TYPE;
		if (type == MM_MAP_SHARED_VALIDATE && (flags & ~(uint64_t)NV_LEGACY_MAP_MASK) != 0)
			return -EOPNOTSUPP;
		if (type != MM_MAP_SHARED && type != MM_MAP_SHARED_VALIDATE && type != MM_MAP_PRIVATE)
			return -EINVAL;
		if ((flags & MM_MAP_GROWSDOWN) != 0)
			return -EINVAL;
		/* hugetlbfs_file_mmap(): the caller's offset must be huge-aligned */
		if (pgoff % (hsize >> MM_PAGE_SHIFT) != 0)
			return -EINVAL;
		/* __mmap_region(): the MAP_FIXED range is unmapped first and not
		 * restored when the reservation then fails [LIVE] */
		if (fixed) {
			int err = do_vmi_align_munmap(nm, addr, addr + hlen);
			if (err)
				return err;
		}
		return -ENOMEM;
	}

	/* mm/mmap.c: do_mmap() */
	if (!len)
		return -EINVAL;
	if (flags & MM_MAP_FIXED_NOREPLACE)
		flags |= MM_MAP_FIXED;
	if (!(flags & MM_MAP_FIXED)) {
		/* round_hint_to_min() */
		addr &= NV_PAGE_MASK;
		if (addr && addr < nm->cfg.mmap_min_addr)
			addr = nv_page_align(nm->cfg.mmap_min_addr);
	}
	len = nv_page_align(len);
	if (!len)
		return -ENOMEM;
	if (pgoff + nv_pages(len) < pgoff)
		return -EOVERFLOW;
	if (nm->nvmas > nm->cfg.max_map_count)
		return -ENOMEM;

	/* calc_vm_prot_bits() | calc_vm_flag_bits() | VM_MAY* */
	uint64_t vm_flags = (prot & MM_PROT_READ ? MM_VM_READ : 0) | (prot & MM_PROT_WRITE ? MM_VM_WRITE : 0) |
	                    (prot & MM_PROT_EXEC ? MM_VM_EXEC : 0);
	/* do_mmap(): "if (prot == PROT_EXEC)" the mapping takes the mm's
	 * execute-only protection key (on a CPU with OSPKE). */
	if (nm->cfg.pkeys && prot == MM_PROT_EXEC)
		vm_flags |= NV_EXEC_ONLY_KEY_FLAGS;
	if (flags & MM_MAP_GROWSDOWN)
		vm_flags |= MM_VM_GROWSDOWN;
	if (flags & MM_MAP_LOCKED)
		vm_flags |= MM_VM_LOCKED;
	if (flags & MM_MAP_SYNC)
		vm_flags |= MM_VM_SYNC;
	if ((flags & MM_MAP_STACK) && nv_has(nm, NV_MAP_STACK_NOHUGEPAGE))
		vm_flags |= MM_VM_NOHUGEPAGE;
	vm_flags |= MM_VM_MAYREAD | MM_VM_MAYWRITE | MM_VM_MAYEXEC;

	mm_backing backing = fobj ? MM_BACKING_FILE : ((flags & MM_MAP_SHARED) ? MM_BACKING_SHMEM : MM_BACKING_ANON);
	/* __get_unmapped_area: shared anonymous passes pgoff 0 */
	int64_t got = nv_get_unmapped_area(nm, backing, addr, len, backing == MM_BACKING_SHMEM ? 0 : pgoff, flags);
	if (got < 0)
		return got;
	addr = (uint64_t)got;

	if ((flags & MM_MAP_FIXED_NOREPLACE) && nv_range_has_vma(nm, addr, addr + len))
		return -EEXIST;
	/* do_mmap(): MAP_LOCKED needs can_do_mlock() (profile memlock 0 without
	 * CAP_IPC_LOCK: EPERM), and the locked total must stay within
	 * RLIMIT_MEMLOCK (mlock_future_ok: EAGAIN) [LIVE]. The pages of a
	 * locked VMA that MAP_FIXED replaces still count here. */
	if ((flags & MM_MAP_LOCKED) && !nv_can_do_mlock(nm))
		return -EPERM;
	if (!nv_mlock_future_ok(nm, vm_flags, len))
		return -EAGAIN;

	if (fobj) {
		/* file_mmap_ok(): MAX_LFS_FILESIZE */
		const uint64_t maxsize = INT64_MAX;
		if (pgoff > (maxsize >> MM_PAGE_SHIFT) || len > maxsize - (pgoff << MM_PAGE_SHIFT))
			return -EOVERFLOW;
		switch (flags & MM_MAP_TYPE) {
		case MM_MAP_SHARED:
			flags &= NV_LEGACY_MAP_MASK;
			/* fallthrough */
		case MM_MAP_SHARED_VALIDATE:
			if (flags & ~NV_LEGACY_MAP_MASK)
				return -EOPNOTSUPP;
			/* opened O_RDWR: FMODE_WRITE, no EACCES, VM_SHARED kept */
			vm_flags |= MM_VM_SHARED | MM_VM_MAYSHARE;
			/* fallthrough */
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
			if (!nv_has(nm, NV_MAP_DROPPABLE))
				return -EINVAL; /* an unknown map type */
			if (flags & (MM_MAP_LOCKED | MM_MAP_HUGETLB))
				return -EINVAL;
			if (vm_flags & MM_VM_GROWSDOWN)
				return -EINVAL;
			vm_flags |= MM_VM_DROPPABLE | MM_VM_NORESERVE | MM_VM_WIPEONFORK | MM_VM_DONTDUMP;
			pgoff = addr >> MM_PAGE_SHIFT;
			break;
		case MM_MAP_PRIVATE:
			pgoff = addr >> MM_PAGE_SHIFT; /* for the anon_vma */
			break;
		default:
			return -EINVAL;
		}
	}
	/* do_mmap(): "We honor MAP_NORESERVE if allowed to overcommit":
	 * not under vm.overcommit_memory == 2 (OVERCOMMIT_NEVER). */
	if ((flags & MM_MAP_NORESERVE) && nm->cfg.overcommit != 2)
		vm_flags |= MM_VM_NORESERVE;

	int64_t r = mmap_region(nm, addr, len, vm_flags, pgoff, backing, fobj ? fobj->id : 0);
	if (r < 0)
		return r;
	/* do_mmap: populate when VM_LOCKED or MAP_POPULATE without MAP_NONBLOCK;
	 * errors are ignored (mm_populate) */
	if ((vm_flags & MM_VM_LOCKED) || (flags & (MM_MAP_POPULATE | MM_MAP_NONBLOCK)) == MM_MAP_POPULATE)
		(void)nv_mm_populate(nm, addr, len, true);
	return r;
}

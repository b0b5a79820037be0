/* The process's userfaultfd in the naive oracle: UFFDIO_REGISTER,
 * UFFDIO_UNREGISTER, UFFDIO_COPY and UFFDIO_ZEROPAGE (and UFFDIO_CONTINUE,
 * UFFDIO_WAKE, UFFDIO_WRITEPROTECT below) (fs/userfaultfd.c,
 * mm/userfaultfd.c). One context per process: a VMA belongs to it exactly
 * when it has a VM_UFFD_* flag. */
#include "naive_internal.h"

#include <stdlib.h>
#include <string.h>

/* the three registration modes as VMA flags */
static uint64_t vm_modes(uint64_t mode)
{
	uint64_t f = 0;
	if (mode & MM_UFFD_MODE_MISSING)
		f |= MM_VM_UFFD_MISSING;
	if (mode & MM_UFFD_MODE_WP)
		f |= MM_VM_UFFD_WP;
	if (mode & MM_UFFD_MODE_MINOR)
		f |= MM_VM_UFFD_MINOR;
	return f;
}

/* vma_can_userfault(): anonymous or shmem (every file here is a memfd), not
 * VM_DROPPABLE; VM_UFFD_MINOR wants shmem. */
static bool can_userfault(const nvma *v, uint64_t modes)
{
	if (v->flags & MM_VM_DROPPABLE)
		return false;
	if ((modes & MM_VM_UFFD_MINOR) && v->backing == MM_BACKING_ANON)
		return false;
	return true;
}

/* validate_range(): page-aligned, not empty, above mmap_min_addr, below TASK_SIZE */
static bool range_ok(const naive_mm *nm, uint64_t start, uint64_t len)
{
	if (start % NV_PAGE || len % NV_PAGE || len == 0)
		return false;
	return start >= nm->cfg.mmap_min_addr && start < NV_TASK_SIZE && len <= NV_TASK_SIZE - start;
}

/* The VMAs overlapping [start, end), checked by ok(); false if none. */
static int check_vmas(naive_mm *nm, uint64_t start, uint64_t end, uint64_t modes, bool reg)
{
	bool any = false;
	for (size_t i = 0; i < nm->nvmas; i++) {
		nvma *v = &nm->vmas[i];
		if (v->end <= start || v->start >= end)
			continue;
		any = true;
		if (!can_userfault(v, reg ? modes : (v->flags & MM_VM_UFFD_FLAGS)))
			return -EINVAL;
		if (reg && !(v->flags & MM_VM_MAYWRITE))
			return -EPERM;
	}
	return any ? 0 : -EINVAL;
}

/* ---- write protection, page by page ---- */

bool nv_uffd_wp_get(naive_mm *nm, uint64_t addr)
{
	const npage *p = nv_page_find(nm, addr & NV_PAGE_MASK);
	return p && p->uffd_wp && p->state != MM_PAGE_GUARD;
}

bool nv_uffd_wp_marker(naive_mm *nm, uint64_t addr)
{
	const npage *p = nv_page_find(nm, addr & NV_PAGE_MASK);
	return p && p->uffd_wp && p->state == MM_PAGE_NONE;
}

void nv_uffd_wp_set(naive_mm *nm, uint64_t addr, bool on)
{
	addr &= NV_PAGE_MASK;
	npage *p = nv_page_find(nm, addr);
	if (p && p->state == MM_PAGE_GUARD)
		return;
	if (p && p->state != MM_PAGE_NONE) {
		p->uffd_wp = on;
		return;
	}
	if (!on) {
		if (p) /* the marker goes: the entry is empty again */
			nv_page_set(nm, addr, MM_PAGE_NONE);
		return;
	}
	if (p)
		return;
	/* a marker: an entry of state none, in address order with the pages */
	nv_page_set(nm, addr, MM_PAGE_GUARD);
	p = nv_page_find(nm, addr);
	p->state = MM_PAGE_NONE;
	p->uffd_wp = true;
}

/* uffd_wp_range() over [start, end) of v: change_protection() with
 * MM_CP_UFFD_WP or MM_CP_UFFD_WP_RESOLVE, seen page by page. */
static void wp_range(naive_mm *nm, nvma *v, uint64_t start, uint64_t end, bool on)
{
	bool file = v->backing != MM_BACKING_ANON;
	/* change_pmd_range(): a PMD mapping the range covers in part is split
	 * (a file one zapped); a file one being protected is split too
	 * (pgtable_split_needed), so it goes whole */
	nv_regions_split_partial(nm, start, end);
	if (on && file)
		for (uint64_t a = start & ~(NV_PMD - 1); a < end; a += NV_PMD)
			nv_region_zap_file(nm, a);
	for (uint64_t a = start; a < end; a += NV_PAGE) {
		mm_page_state st = nv_page_get(nm, a);
		if (st == MM_PAGE_GUARD)
			continue; /* guard markers are left alone */
		if (st != MM_PAGE_NONE) {
			nv_uffd_wp_set(nm, a, on); /* a present page: the bit */
			continue;
		}
		/* an empty entry: a marker only for file-backed memory (anonymous
		 * memory would need UFFD_FEATURE_WP_UNPOPULATED); off drops one */
		if (!on || file) {
			nv_uffd_wp_set(nm, a, on);
			if (on && !nv_region_get(nm, a))
				nv_region_set(nm, a, NV_REGION_PTE); /* the marker's table */
		}
	}
}

/* Every VMA piece in [start, end) gets the modes (0: none). */
static int apply(naive_mm *nm, uint64_t start, uint64_t end, uint64_t modes)
{
	uint64_t cur = start;
	while (cur < end) {
		nvma *v = nv_find_vma(nm, cur);
		if (!v || v->start >= end)
			break;
		if (v->start > cur)
			cur = v->start;
		uint64_t piece_end = v->end < end ? v->end : end;
		bool leave = modes ? (v->flags & modes) == modes : !(v->flags & MM_VM_UFFD_FLAGS);
		if (!leave) {
			/* unregister (userfaultfd_clear_vma): a wp VMA's pages lose
			 * their protection first */
			if (!modes && (v->flags & MM_VM_UFFD_WP))
				wp_range(nm, v, cur, piece_end, false);
			nvma *r;
			int err = nv_modify_flags(nm, v, cur, piece_end, (v->flags & ~MM_VM_UFFD_FLAGS) | modes, &r);
			if (err)
				return err;
			if (r->end > piece_end)
				piece_end = r->end;
		}
		cur = piece_end;
	}
	return 0;
}

int naive_uffd_register(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode)
{
	if (!nm->cfg.userfaultfd) /* no such system call */
		return -ENOSYS;
	if (mode == 0 || (mode & ~(uint64_t)(MM_UFFD_MODE_MISSING | MM_UFFD_MODE_WP | MM_UFFD_MODE_MINOR)))
		return -EINVAL;
	if (!range_ok(nm, addr, len))
		return -EINVAL;
	uint64_t modes = vm_modes(mode);
	int err = check_vmas(nm, addr, addr + len, modes, true);
	return err ? err : apply(nm, addr, addr + len, modes);
}

int naive_uffd_unregister(naive_mm *nm, uint64_t addr, uint64_t len)
{
	if (!nm->cfg.userfaultfd)
		return -ENOSYS;
	if (!range_ok(nm, addr, len))
		return -EINVAL;
	int err = check_vmas(nm, addr, addr + len, 0, false);
	return err ? err : apply(nm, addr, addr + len, 0);
}

/* mfill_atomic(): the range inside one registered VMA (-ENOENT), its
 * anon_vma for private memory, then page by page; stopping after some pages
 * is -EAGAIN. */
/* uffd_mfill_lock(): find_vma_and_prepare_anon() -- a private VMA at addr
 * gets its anon_vma even when the range is refused after -- then
 * validate_dst_vma(): the range in one registered VMA. NULL: -ENOENT. */
static nvma *fill_dst_vma(naive_mm *nm, uint64_t addr, uint64_t len)
{
	nvma *v = nv_vma_at(nm, addr);
	if (!v)
		return NULL;
	if (!(v->flags & MM_VM_SHARED))
		nv_anon_vma_prepare(nm, v);
	if (addr + len > v->end || !(v->flags & MM_VM_UFFD_FLAGS))
		return NULL;
	return v;
}

static int fill(naive_mm *nm, uint64_t addr, uint64_t len, bool zeropage, uint64_t value)
{
	if (!nm->cfg.userfaultfd)
		return -ENOSYS;
	if (!range_ok(nm, addr, len))
		return -EINVAL;
	nvma *v = fill_dst_vma(nm, addr, len);
	if (!v)
		return -ENOENT;
	uint64_t done = 0;
	int err = 0;
	for (uint64_t a = addr; a < addr + len; a += NV_PAGE) {
		v = nv_vma_at(nm, addr);
		err = nv_uffd_fill_page(nm, v, a, zeropage, value);
		if (err)
			break;
		done += NV_PAGE;
	}
	if (err && done)
		return -EAGAIN;
	return err;
}

int naive_uffd_copy(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t value)
{
	return fill(nm, addr, len, false, value);
}

int naive_uffd_zeropage(naive_mm *nm, uint64_t addr, uint64_t len)
{
	return fill(nm, addr, len, true, 0);
}

/* UFFDIO_CONTINUE (fs/userfaultfd.c userfaultfd_continue, mm/userfaultfd.c
 * mfill_atomic with MFILL_ATOMIC_CONTINUE): one registered shmem VMA holds
 * the range; its cached pages get mapped one by one. */
int naive_uffd_continue(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode)
{
	if (!nm->cfg.userfaultfd)
		return -ENOSYS;
	if (!range_ok(nm, addr, len))
		return -EINVAL;
	/* userfaultfd_continue(): mode bits other than DONTWAKE (1) and WP (2) */
	if (mode > 3)
		return -EINVAL;
	nvma *v = fill_dst_vma(nm, addr, len);
	if (!v)
		return -ENOENT;
	/* mfill_atomic(): a write-protected continue into a VMA not registered
	 * for write protection is -EINVAL */
	if ((mode & MM_UFFD_CONTINUE_MODE_WP) && !(v->flags & MM_VM_UFFD_WP))
		return -EINVAL;
	/* continuing is for shmem only: anonymous memory is -EINVAL */
	if (v->backing == MM_BACKING_ANON)
		return -EINVAL;
	uint64_t n = 0;
	int err = 0;
	for (uint64_t a = addr; a < addr + len; a += NV_PAGE) {
		err = nv_uffd_continue_page(nm, nv_vma_at(nm, addr), a, (mode & MM_UFFD_CONTINUE_MODE_WP) != 0);
		if (err)
			break;
		n++;
	}
	if (err && n)
		return -EAGAIN; /* the ioctl's `mapped` was short of len */
	return err;
}

/* UFFDIO_WAKE (userfaultfd_wake): the range is checked, then the waiting
 * faults in it woken -- a trace never leaves one waiting. */
int naive_uffd_wake(naive_mm *nm, uint64_t addr, uint64_t len)
{
	if (!nm->cfg.userfaultfd)
		return -ENOSYS;
	return range_ok(nm, addr, len) ? 0 : -EINVAL;
}

/* UFFDIO_WRITEPROTECT (userfaultfd_writeprotect, mwriteprotect_range) */
int naive_uffd_writeprotect(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode)
{
	if (!nm->cfg.userfaultfd)
		return -ENOSYS;
	if (!range_ok(nm, addr, len))
		return -EINVAL;
	uint64_t known = MM_UFFDIO_WP_MODE_WP | MM_UFFDIO_WP_MODE_DONTWAKE;
	if (mode & ~known)
		return -EINVAL;
	if (mode == known) /* WP together with DONTWAKE */
		return -EINVAL;
	bool on = mode & MM_UFFDIO_WP_MODE_WP;
	/* the VMAs in the range, in order: each must be registered with wp
	 * (-ENOENT, the ones before it done); none at all is -ENOENT */
	int ret = -ENOENT;
	uint64_t end = addr + len;
	for (size_t i = 0; i < nm->nvmas; i++) {
		nvma *v = &nm->vmas[i];
		if (v->end <= addr || v->start >= end)
			continue;
		if (!(v->flags & MM_VM_UFFD_WP))
			return -ENOENT;
		wp_range(nm, v, v->start > addr ? v->start : addr, v->end < end ? v->end : end, on);
		ret = 0;
	}
	return ret;
}

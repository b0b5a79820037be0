/* The process's userfaultfd (docs/trace-format.md, "userfaultfd"): the
 * ioctls UFFDIO_REGISTER, UFFDIO_UNREGISTER, UFFDIO_COPY and
 * UFFDIO_ZEROPAGE (and UFFDIO_CONTINUE, UFFDIO_WAKE, UFFDIO_WRITEPROTECT
 * below) of fs/userfaultfd.c and mm/userfaultfd.c.
 *
 * One userfaultfd per process, opened without features (UFFD_API with
 * features 0) and with UFFD_USER_MODE_ONLY: so its context is the same for
 * every VMA of the process that is registered, a VMA is registered exactly
 * when it has one of the VM_UFFD_* flags, and a fault the kernel itself
 * takes (populate, GUP) in a registered range is VM_FAULT_SIGBUS
 * (handle_userfault). The faults of user accesses are in fault.c.
 */
#include "fault.h"
#include "pages.h"
#include "pgtable.h"
#include "vma.h"

/* include/linux/userfaultfd_k.h vma_can_userfault() (no wp_async, x86-64
 * with CONFIG_PTE_MARKER_UFFD_WP): anonymous or shmem memory, not
 * droppable; minor faults only for shmem. Every file of the model is a
 * memfd (shmem); a device's VMAs are neither. */
static bool vma_can_userfault(const struct vma *v, uint64_t modes)
{
	bool shmem = v->obj && !mm_object_is_device(v->obj);
	if (v->vm_flags & MM_VM_DROPPABLE)
		return false;
	if ((modes & MM_VM_UFFD_MINOR) && !shmem)
		return false;
	return vma_is_anonymous(v) || shmem;
}

/* fs/userfaultfd.c validate_unaligned_range() + validate_range(). */
static int validate_range(const mm_state *mm, uint64_t start, uint64_t len)
{
	if ((start & ~PAGE_MASK) || (len & ~PAGE_MASK) || !len)
		return -EINVAL;
	if (start < mm->cfg.mmap_min_addr || start >= MM_TASK_SIZE || len > MM_TASK_SIZE - start)
		return -EINVAL;
	return 0;
}

/* The start of every ioctl but UFFDIO_REGISTER (which checks its modes
 * first): nothing touched yet, -ENOSYS without the system call (profile
 * userfaultfd=off), then validate_range(). */
static int uffd_ioctl_range(mm_state *mm, uint64_t start, uint64_t len)
{
	mm->n_touched = 0;
	if (!mm->cfg.userfaultfd)
		return -ENOSYS;
	return validate_range(mm, start, len);
}

/* Sets the registration modes of every VMA in [start, end) to `modes` (0:
 * unregistered), splitting at the range's ends and merging as
 * vma_modify_flags_uffd() does. A VMA that has them already is left alone. */
static int set_modes(mm_state *mm, uint64_t start, uint64_t end, uint64_t modes)
{
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	while (v && v->vm_start < end) {
		struct vma *r = v;
		/* userfaultfd_register_range(): "(vma->vm_flags & vm_flags) ==
		 * vm_flags" skips; userfaultfd_clear_vma() only for a VMA with a
		 * context. */
		bool skip = modes ? (v->vm_flags & modes) == modes : !(v->vm_flags & MM_VM_UFFD_FLAGS);
		if (!skip) {
			uint64_t s = v->vm_start > start ? v->vm_start : start;
			uint64_t e = v->vm_end < end ? v->vm_end : end;
			int err = 0;
			/* userfaultfd_clear_vma(): "Reset ptes for the whole vma
			 * range if wr-protected" -- uffd_wp_range(false) first. */
			if (!modes && (v->vm_flags & MM_VM_UFFD_WP) && (err = pg_uffd_wp_range(mm, v, s, e, false)) != 0)
				return err;
			r = vma_modify_flags(mm, v, s, e, (v->vm_flags & ~MM_VM_UFFD_FLAGS) | modes, &err);
			if (!r)
				return err;
		}
		v = r->node.next;
	}
	return 0;
}

static uint64_t modes_of(uint64_t mode)
{
	return ((mode & MM_UFFD_MODE_MISSING) ? MM_VM_UFFD_MISSING : 0) |
	       ((mode & MM_UFFD_MODE_WP) ? MM_VM_UFFD_WP : 0) | ((mode & MM_UFFD_MODE_MINOR) ? MM_VM_UFFD_MINOR : 0);
}

/* fs/userfaultfd.c userfaultfd_register(). */
int mm_uffd_register(mm_state *mm, uint64_t start, uint64_t len, uint64_t mode)
{
	mm->n_touched = 0;
	if (!mm->cfg.userfaultfd) /* profile userfaultfd=off: no userfaultfd() */
		return -ENOSYS;
	if (!mode || (mode & ~(uint64_t)(MM_UFFD_MODE_MISSING | MM_UFFD_MODE_WP | MM_UFFD_MODE_MINOR)))
		return -EINVAL;
	int err = validate_range(mm, start, len);
	if (err)
		return err;
	uint64_t end = start + len, modes = modes_of(mode);
	/* "check that there's at least one vma in the range" */
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v)
		return -EINVAL;
	for (; v && v->vm_start < end; v = v->node.next) {
		if (!vma_can_userfault(v, modes))
			return -EINVAL;
		/* UFFDIO_COPY fills holes without PROT_WRITE: a shared mapping
		 * must be one the process may write. */
		if (!(v->vm_flags & MM_VM_MAYWRITE))
			return -EPERM;
		/* -EBUSY for another context's VMA: one context per process. */
	}
	err = set_modes(mm, start, end, modes);
	if (err)
		mm->n_touched = 0;
	return err;
}

/* fs/userfaultfd.c userfaultfd_unregister(). */
int mm_uffd_unregister(mm_state *mm, uint64_t start, uint64_t len)
{
	int err = uffd_ioctl_range(mm, start, len);
	if (err)
		return err;
	uint64_t end = start + len;
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v)
		return -EINVAL;
	for (; v && v->vm_start < end; v = v->node.next)
		if (!vma_can_userfault(v, v->vm_flags & MM_VM_UFFD_FLAGS))
			return -EINVAL;
	err = set_modes(mm, start, end, 0);
	if (err)
		mm->n_touched = 0;
	return err;
}

/* uffd_mfill_lock() and validate_dst_vma() (mm/userfaultfd.c), the start
 * of mfill_atomic() for UFFDIO_COPY, ZEROPAGE and CONTINUE: the VMA at dst
 * (-ENOENT without one), its anon_vma prepared if private ("We know we're
 * going to need to use anon_vma": find_vma_and_prepare_anon), and only
 * then the range in that VMA and the VMA this context's, else -ENOENT --
 * with the anon_vma made all the same [LIVE: an ENOENT copy lets the VMA
 * merge with a faulted neighbour]. */
static int mfill_dst_vma(mm_state *mm, uint64_t dst, uint64_t len, struct vma **out)
{
	struct vma *v = vt_find(&mm->vt, dst);
	if (!v || v->vm_start > dst)
		return -ENOENT;
	if (!(v->vm_flags & MM_VM_SHARED) && vma_anon_vma_prepare(mm, v))
		return -ENOMEM;
	if (dst + len > v->vm_end || !(v->vm_flags & MM_VM_UFFD_FLAGS))
		return -ENOENT;
	*out = v;
	return 0;
}

/* userfaultfd_copy(), _zeropage(), _continue(): `done` bytes filled before
 * err stopped the walk; short of len is -EAGAIN, nothing done the error. */
static int mfill_result(uint64_t done, uint64_t len, int err)
{
	if (done && done < len)
		return -EAGAIN;
	return done ? 0 : err;
}

/* mm/userfaultfd.c mfill_atomic() for UFFDIO_COPY (zeropage false: every
 * word of each page is `value`) and UFFDIO_ZEROPAGE. */
static int mfill(mm_state *mm, uint64_t dst, uint64_t len, bool zeropage, uint64_t value)
{
	int err = uffd_ioctl_range(mm, dst, len);
	if (err)
		return err;
	struct vma *v;
	err = mfill_dst_vma(mm, dst, len, &v);
	if (err)
		return err;
	uint64_t copied = 0;
	for (uint64_t a = dst; a < dst + len; a += PAGE_SIZE) {
		err = fault_uffd_fill(mm, v, a, zeropage, value);
		if (err)
			break;
		copied += PAGE_SIZE;
	}
	return mfill_result(copied, len, err);
}

int mm_uffd_copy(mm_state *mm, uint64_t dst, uint64_t len, uint64_t value)
{
	return mfill(mm, dst, len, false, value);
}

int mm_uffd_zeropage(mm_state *mm, uint64_t dst, uint64_t len)
{
	return mfill(mm, dst, len, true, 0);
}

/* fs/userfaultfd.c userfaultfd_continue() -> mm/userfaultfd.c
 * mfill_atomic_continue(): mfill_atomic() with MFILL_ATOMIC_CONTINUE. */
int mm_uffd_continue(mm_state *mm, uint64_t dst, uint64_t len, uint64_t mode)
{
	/* validate_range(); the wraparound check after it cannot fail once
	 * the range lies below TASK_SIZE; then the mode: DONTWAKE and WP only.
	 * DONTWAKE changes nothing here (no fault is ever left waiting). */
	int err = uffd_ioctl_range(mm, dst, len);
	if (err)
		return err;
	if (mode & ~(uint64_t)(MM_UFFD_CONTINUE_MODE_DONTWAKE | MM_UFFD_CONTINUE_MODE_WP))
		return -EINVAL;
	/* uffd_mfill_lock(), validate_dst_vma(): as for UFFDIO_COPY (a VMA
	 * registered in any mode will do). */
	struct vma *v;
	err = mfill_dst_vma(mm, dst, len, &v);
	if (err)
		return err;
	/* mfill_atomic(): "don't allow a wrprotect copy if the userfaultfd
	 * didn't register as WP" -- -EINVAL. */
	if ((mode & MM_UFFD_CONTINUE_MODE_WP) && !(v->vm_flags & MM_VM_UFFD_WP))
		return -EINVAL;
	/* Then "!vma_is_shmem(dst_vma) && MFILL_ATOMIC_CONTINUE" is -EINVAL: a
	 * registered anonymous VMA, whatever its modes. */
	if (!v->obj || mm_object_is_device(v->obj))
		return -EINVAL;
	uint64_t mapped = 0;
	for (uint64_t a = dst; a < dst + len; a += PAGE_SIZE) {
		err = fault_uffd_continue(mm, v, a, (mode & MM_UFFD_CONTINUE_MODE_WP) != 0);
		if (err)
			break;
		mapped += PAGE_SIZE;
	}
	return mfill_result(mapped, len, err);
}

/* fs/userfaultfd.c userfaultfd_wake(): validate_range(), then
 * wake_userfault() of the range. A trace's faults are abandoned, never
 * waiting (docs/trace-format.md), so there is nobody to wake: 0. */
int mm_uffd_wake(mm_state *mm, uint64_t start, uint64_t len)
{
	return uffd_ioctl_range(mm, start, len);
}

/* fs/userfaultfd.c userfaultfd_writeprotect() -> mm/userfaultfd.c
 * mwriteprotect_range(). */
int mm_uffd_writeprotect(mm_state *mm, uint64_t start, uint64_t len, uint64_t mode)
{
	int err = uffd_ioctl_range(mm, start, len);
	if (err)
		return err;
	if (mode & ~(uint64_t)(MM_UFFDIO_WP_MODE_WP | MM_UFFDIO_WP_MODE_DONTWAKE))
		return -EINVAL;
	/* "if (mode_wp && mode_dontwake) return -EINVAL" */
	if ((mode & MM_UFFDIO_WP_MODE_WP) && (mode & MM_UFFDIO_WP_MODE_DONTWAKE))
		return -EINVAL;
	/* for_each_vma_range(): holes are skipped; no VMA at all is -ENOENT;
	 * a VMA not registered with wp stops the walk with -ENOENT, those
	 * before it already changed (uffd_wp_range per VMA, clipped). */
	uint64_t end = start + len;
	err = -ENOENT;
	for (struct vma *v = vt_find_intersection(&mm->vt, start, end); v && v->vm_start < end; v = v->node.next) {
		if (!(v->vm_flags & MM_VM_UFFD_WP))
			return -ENOENT;
		uint64_t s = v->vm_start > start ? v->vm_start : start;
		uint64_t e = v->vm_end < end ? v->vm_end : end;
		err = pg_uffd_wp_range(mm, v, s, e, (mode & MM_UFFDIO_WP_MODE_WP) != 0);
		if (err)
			return err;
	}
	return err;
}

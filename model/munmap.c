/* munmap(2) and the unmapping core shared with mmap(MAP_FIXED) and mremap:
 * mm/vma.c do_vmi_munmap(), vms_gather_munmap_vmas(). */
#include "munmap.h"
#include "pgtable.h"
#include "vma.h"

static bool vma_is_sealed(const struct vma *v)
{
	return v->vm_flags & MM_VM_SEALED;
}

/* do_vmi_align_munmap() on the page-aligned range [start, end). Holes are
 * fine. On failure Linux keeps the split of the first VMA if it already
 * happened, and so does this. */
int munmap_range(mm_state *mm, uint64_t start, uint64_t end)
{
	struct vma *v = vt_find_intersection(&mm->vt, start, end);
	if (!v)
		return 0;
	if (start > v->vm_start) {
		/* Only a split of one VMA in three is limited: map_count may go
		 * just above the limit to let munmap free resources. */
		if (end < v->vm_end && mm->vt.count >= mm->cfg.max_map_count)
			return -ENOMEM;
		if (vma_is_sealed(v))
			return -EPERM;
		int err = vma_split_unchecked(mm, v, start, true, NULL);
		if (err)
			return err;
	}
	struct vma *last = v;
	for (struct vma *w = v; w && w->vm_start < end; w = w->node.next) {
		if (vma_is_sealed(w))
			return -EPERM;
		last = w;
	}
	if (last->vm_end > end) {
		int err = vma_split_unchecked(mm, last, end, false, NULL);
		if (err)
			return err;
	}
	pg_unmap_range(mm, start, end);
	while (v && v->vm_start < end) {
		struct vma *next = v->node.next;
		/* vms_gather_munmap_vmas() counts the locked pages going,
		 * vms_complete_munmap_vmas() takes them off mm->locked_vm. */
		if (v->vm_flags & MM_VM_LOCKED)
			mm->locked_vm -= vma_pages(v);
		/* remove_vma(): vm_ops->close, the entries gone already. */
		vma_close(mm, v);
		vma_remove(mm, v);
		v = next;
	}
	return 0;
}

/* mm/vma.c: do_vmi_munmap() argument checks. */
int mm_munmap(mm_state *mm, uint64_t addr, uint64_t len)
{
	mm->n_touched = 0;
	if (offset_in_page(addr) || addr > MM_TASK_SIZE || len > MM_TASK_SIZE - addr)
		return -EINVAL;
	uint64_t end = addr + PAGE_ALIGN(len);
	if (end == addr)
		return -EINVAL;
	int err = munmap_range(mm, addr, end);
	if (err)
		mm->n_touched = 0; /* a failed munmap may leave its head split */
	return err;
}

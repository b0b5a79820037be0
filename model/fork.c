/* Processes: fork, proc, exit (issue 18).
 *
 * An mm_state is the machine: the frames, the page caches, the objects and
 * the contents belong to it, and every process maps them. A process's own
 * part is its VMA index, its page tables (a PML4 in the shared table pool)
 * and its locked_vm. The current process's part lives in mm_state itself
 * (mm->vt, mm->pt->pml4, mm->locked_vm ...), so every operation of the model
 * works on it unchanged; the other processes' parts are saved in
 * mm->procs[] and swapped in by mm_proc (and, for a moment, by the few
 * rules that reach every process: procs_each, procs.c).
 *
 * fork follows kernel/fork.c dup_mmap() and mm/memory.c copy_page_range():
 *
 *   - VMAs are copied one for one, in order, never merged with each other;
 *     a VM_DONTCOPY VMA is left out; the copy loses VM_LOCKED and
 *     VM_LOCKONFAULT (mlock is not inherited) and the child's locked_vm is
 *     0; every other flag stays (VM_SEALED, VM_WIPEONFORK, VM_ACCOUNT ...).
 *   - a VM_WIPEONFORK copy gets no anon_vma and no entries (a clean slate);
 *     any other copy of a VMA with an anon_vma gets a new anon_vma whose
 *     chain holds the parent's too (anon_vma_fork): anon_vma.forked.
 *   - entries are copied only where vma_needs_copy() says so: the VMA has
 *     an anon_vma, or a flag of VM_COPY_ON_FORK (VM_MAYBE_GUARD here: guard
 *     markers live only in the tables). Every table of the parent under the
 *     VMA gets one in the child (copy_pte_range allocates it even when the
 *     VMA's part of it is empty); every entry is copied (copy_present_pte,
 *     copy_nonpresent_pte: guard markers; copy_huge_pmd: PMD leaves), and in
 *     a COW mapping (private, VM_MAYWRITE) a writable entry is
 *     write-protected on both sides, so the next store to an anonymous page
 *     faults and do_wp_page copies it while another process maps it
 *     (wp_can_reuse_anon_folio). The child's copy is old (pte_mkold) and, in
 *     a shared mapping, clean (pte_mkclean).
 *
 * exit tears the process down as exit_mmap() does: every VMA unmapped, its
 * tables freed. */
#include <string.h>

#include "alloc.h"
#include "fork.h"
#include "pgtable.h"
#include "procs.h"
#include "vma.h"

int mm_current_proc(const mm_state *mm) { return mm->cur_proc; }

int mm_proc(mm_state *mm, int proc)
{
	mm->n_touched = 0; /* the merge check (I9) is about the last operation's process */
	if (proc == mm->cur_proc)
		return 0;
	for (unsigned i = 0; i < mm->nprocs; i++)
		if (mm->procs[i].no == proc) {
			procs_swap(mm, i);
			return 0;
		}
	return -ESRCH;
}

/* exit_mmap(): every VMA of the current process goes, with its entries and
 * tables; then its PML4 and index. */
static void teardown_current(mm_state *mm)
{
	vma_unmap_all(mm);
	/* Tables that the per-VMA unmaps left (none should be): free the rest. */
	pg_unmap_range(mm, 0, USER_TOP);
	pt_phys_free(&mm->pt->phys, mm->pt->pml4);
	vt_destroy(&mm->vt);
}

int mm_exit(mm_state *mm, int proc)
{
	mm->n_touched = 0;
	if (proc == 1)
		return -EINVAL; /* the trace format: process 1 stays */
	unsigned i;
	for (i = 0; i < mm->nprocs && mm->procs[i].no != proc; i++)
		;
	if (proc != mm->cur_proc && i == mm->nprocs)
		return -ESRCH;
	if (proc != mm->cur_proc)
		procs_swap(mm, i); /* the exiting process is current, the old one in slot i */
	else
		for (i = 0; i < mm->nprocs && mm->procs[i].no != 1; i++)
			;
	/* Now proc is current; slot i holds the process to return to. */
	teardown_current(mm);
	struct mm_proc back = mm->procs[i];
	mm->procs[i] = mm->procs[--mm->nprocs];
	mm->cur_proc = back.no;
	mm->vt = back.vt;
	mm->pt->pml4 = back.pml4;
	mm->locked_vm = back.locked_vm;
	mm->locked_vm_leaked = back.locked_vm_leaked;
	return 0;
}

void fork_release_procs(mm_state *mm)
{
	while (mm->nprocs) {
		procs_swap(mm, 0); /* process procs[0] current, the old current saved in slot 0 */
		teardown_current(mm);
		struct mm_proc back = mm->procs[0];
		mm->procs[0] = mm->procs[--mm->nprocs];
		mm->cur_proc = back.no;
		mm->vt = back.vt;
		mm->pt->pml4 = back.pml4;
		mm->locked_vm = back.locked_vm;
		mm->locked_vm_leaked = back.locked_vm_leaked;
	}
}

/* mm/memory.c: vma_needs_copy(), with VM_COPY_ON_FORK = VM_PFNMAP |
 * VM_MIXEDMAP | VM_UFFD_WP | VM_MAYBE_GUARD (6.18.y). */
static bool vma_needs_copy(const struct vma *dst, const struct vma *src)
{
	/* The flags are the child's (dst_vma): dup_userfaultfd() has taken
	 * VM_UFFD_WP off it already [LIVE: uffd-fshared-fork-wp.trace]. */
	if (dst->vm_flags & (MM_VM_PFNMAP | MM_VM_MIXEDMAP | MM_VM_UFFD_WP | MM_VM_MAYBE_GUARD))
		return true;
	return src->anon_vma != NULL;
}

static bool is_cow_mapping(uint64_t flags) { return (flags & (MM_VM_SHARED | MM_VM_MAYWRITE)) == MM_VM_MAYWRITE; }

/* The child's copy of entry e of a VMA with flags (copy_present_pte,
 * copy_huge_pmd); the parent's entry at pwi is write-protected with it. */
static uint64_t copy_entry(mm_state *mm, uint64_t pwi, uint64_t e, uint64_t flags)
{
	/* copy_pte_marker(): a guard marker is copied; a uffd-wp one only
	 * into a VMA registered with wp, which the child's never are. */
	if (e == LX_UFFD_WP_MARKER)
		return 0;
	if (!lx_present(e))
		return e;
	/* copy_present_pte() / copy_huge_pmd(): "if (!userfaultfd_wp(dst_vma))"
	 * the child's entry loses the uffd-wp bit; the parent's keeps it. */
	e &= ~LX_PAGE_UFFD_WP;
	if (is_cow_mapping(flags) && (e & X86_RW)) {
		e &= ~(uint64_t)X86_RW;
		pg_words(mm)[pwi] = e;
	}
	if (flags & MM_VM_SHARED)
		e &= ~(uint64_t)X86_D;
	return e & ~(uint64_t)X86_A;
}

/* copy_page_range() for one VMA: the parent's tables are those of
 * parent_pml4, the child's are current. 0 or -ENOMEM. */
static int copy_page_range(mm_state *mm, uint64_t parent_pml4, const struct vma *v)
{
	uint64_t child_pml4 = mm->pt->pml4;
	uint64_t va = v->vm_start;
	int err = 0;
	while (va < v->vm_end && !err) {
		unsigned level = 0;
		mm->pt->pml4 = parent_pml4;
		uint64_t pwi = pg_lookup(mm, va, &level);
		uint64_t next_pmd = (va | (MM_PMD_SIZE - 1)) + 1;
		if (!pwi) {
			uint64_t skip = pg_skip_missing(mm, va);
			mm->pt->pml4 = child_pml4;
			va = skip;
			continue;
		}
		mm->pt->pml4 = child_pml4;
		if (level == 2) {
			uint64_t e = copy_entry(mm, pwi, pg_words(mm)[pwi], v->vm_flags);
			uint64_t cwi = pg_alloc_pmd(mm, va);
			if (!cwi) {
				err = -ENOMEM;
				break;
			}
			pg_set_entry(mm, cwi, 2, e);
			va = next_pmd;
			continue;
		}
		/* A page table: the child gets one too, then every entry. */
		uint64_t stop = next_pmd < v->vm_end ? next_pmd : v->vm_end;
		uint64_t cwi = pg_alloc_pte(mm, va);
		if (!cwi) {
			err = -ENOMEM;
			break;
		}
		/* pg_alloc_pte may have moved the table pool: word indices stay. */
		for (; va < stop; va += PAGE_SIZE, pwi++, cwi++) {
			uint64_t e = pg_words(mm)[pwi];
			if (lx_none(e))
				continue;
			pg_set_entry(mm, cwi, 1, copy_entry(mm, pwi, e, v->vm_flags));
		}
	}
	mm->pt->pml4 = child_pml4;
	return err;
}

int mm_fork(mm_state *mm)
{
	mm->n_touched = 0;
	if (mm->nprocs + 1 >= MM_MAX_PROCS)
		return -EAGAIN; /* the trace format: at most 8 live processes */
	uint64_t child_pml4 = pt_phys_alloc(&mm->pt->phys);
	if (!child_pml4)
		return -ENOMEM;
	/* The child is built as the current process; the parent waits in the
	 * next free slot, which swap_with would give back. */
	unsigned slot = mm->nprocs++;
	mm->procs[slot] = (struct mm_proc){
		.no = mm->next_proc,
		.pml4 = child_pml4,
	};
	vt_init(&mm->procs[slot].vt, mm->cfg.stack_guard_gap);
	procs_swap(mm, slot);
	const struct mm_proc *parent = &mm->procs[slot];
	int err = 0;
	for (const struct vma *pv = vt_first(&parent->vt); pv && !err; pv = pv->node.next) {
		if (pv->vm_flags & MM_VM_DONTCOPY)
			continue;
		struct vma *c = vma_alloc(mm); /* index nodes reserved in the child's tree */
		if (!c) {
			err = -ENOMEM;
			break;
		}
		c->vm_start = pv->vm_start;
		c->vm_end = pv->vm_end;
		/* dup_userfaultfd(): without UFFD_FEATURE_EVENT_FORK the child's
		 * VMAs are not registered. */
		c->vm_flags = pv->vm_flags & ~(MM_VM_LOCKED_MASK | MM_VM_UFFD_FLAGS);
		c->vm_pgoff = pv->vm_pgoff;
		c->obj = pv->obj;
		if (c->obj)
			c->obj->refs++;
		c->anon_vma = NULL;
		if (!(pv->vm_flags & MM_VM_WIPEONFORK) && pv->anon_vma) {
			struct anon_vma *av = vma_anon_vma_new(mm);
			if (!av) {
				vt_insert(&mm->vt, c);
				err = -ENOMEM;
				break;
			}
			av->forked = true;
			vma_set_anon_vma(mm, c, av);
		}
		/* dup_mmap(): vm_ops->open on the child's VMA (the child is
		 * current here), before its entries are copied. */
		vma_open(mm, c);
		vt_insert(&mm->vt, c);
		if (!(pv->vm_flags & MM_VM_WIPEONFORK) && vma_needs_copy(c, pv))
			err = copy_page_range(mm, parent->pml4, pv);
	}
	if (err) {
		/* dup_mmap failed: the child goes (its VMAs, entries, tables);
		 * the parent keeps what the copy did to it (write-protected
		 * entries: the next store reuses its exclusive pages). */
		teardown_current(mm);
		procs_swap(mm, slot);
		mm->nprocs--;
		return err;
	}
	procs_swap(mm, slot); /* the parent current again, the child in the slot */
	return mm->next_proc++;
}

/* The processes of one machine (issue 18): the swap of a process's own part
 * in and out of mm_state. fork, proc and exit themselves are fork.c. */
#include "procs.h"

void procs_swap(mm_state *mm, unsigned slot)
{
	struct mm_proc *p = &mm->procs[slot];
	struct mm_proc cur = {
		.no = mm->cur_proc,
		.vt = mm->vt,
		.pml4 = mm->pt->pml4,
		.locked_vm = mm->locked_vm,
		.locked_vm_leaked = mm->locked_vm_leaked,
	};
	mm->cur_proc = p->no;
	mm->vt = p->vt;
	mm->pt->pml4 = p->pml4;
	mm->locked_vm = p->locked_vm;
	mm->locked_vm_leaked = p->locked_vm_leaked;
	*p = cur;
}

void procs_each(const mm_state *cmm, void (*fn)(mm_state *mm, void *ctx), void *ctx)
{
	mm_state *mm = (mm_state *)cmm;
	fn(mm, ctx);
	for (unsigned i = 0; i < mm->nprocs; i++) {
		procs_swap(mm, i);
		fn(mm, ctx);
		procs_swap(mm, i);
	}
}

/* Processes: fork, proc, exit (issue 18), stated from what each process
 * sees.
 *
 *   - fork copies the current process's VMAs in order (kernel/fork.c:
 *     dup_mmap): a VM_DONTCOPY VMA is left out; the copy loses VM_LOCKED and
 *     VM_LOCKONFAULT (mlock is not inherited) and keeps every other flag
 *     (VM_SEALED, VM_WIPEONFORK, VM_ACCOUNT ...); the copies are not merged
 *     with each other. The child's locked_vm starts at 0.
 *   - the pages are copied only for VMAs with an anon_vma or with flags whose
 *     page tables cannot be rebuilt by faults (mm/memory.c: vma_needs_copy,
 *     VM_COPY_ON_FORK: here VM_MAYBE_GUARD, the guard markers), and never
 *     for VM_WIPEONFORK ones (the child starts them empty, without an
 *     anon_vma). Copied: every present page and guard marker as it is (the
 *     zero page, page-cache pages, anonymous pages -- these now shared
 *     copy-on-write: copy_present_pte); the page tables of the 2 MiB regions
 *     with them (copy_pmd_range allocates the child's table), PMD mappings
 *     (copy_huge_pmd).
 *   - a copied VMA with an anon_vma gets one of its own whose chain holds
 *     the parent's too (anon_vma_fork): `forked` (naive_merge.c).
 *   - a store to a shared anonymous folio copies it (do_wp_page:
 *     wp_can_reuse_anon_folio is false while another process maps it); a
 *     store to one no longer shared reuses it.
 *   - exit unmaps everything of the process (exit_mmap).
 *
 * The current process's state lives in naive_mm itself; the others' parts
 * are saved in nm->others and swapped in when selected. */
#include "naive_internal.h"

#include <stdlib.h>
#include <string.h>

#define NV_MAX_PROCS 8 /* docs/trace-format.md: at most 8 live processes */

static void save_current(naive_mm *nm, nproc *p)
{
	*p = (nproc){.no = nm->cur_proc,
	             .vmas = nm->vmas,
	             .nvmas = nm->nvmas,
	             .cap_vmas = nm->cap_vmas,
	             .pages = nm->pages,
	             .npages = nm->npages,
	             .cap_pages = nm->cap_pages,
	             .regions = nm->regions,
	             .nregions = nm->nregions,
	             .cap_regions = nm->cap_regions,
	             .locked_vm = nm->locked_vm};
}

static void load_current(naive_mm *nm, const nproc *p)
{
	nm->cur_proc = p->no;
	nm->vmas = p->vmas;
	nm->nvmas = p->nvmas;
	nm->cap_vmas = p->cap_vmas;
	nm->pages = p->pages;
	nm->npages = p->npages;
	nm->cap_pages = p->cap_pages;
	nm->regions = p->regions;
	nm->nregions = p->nregions;
	nm->cap_regions = p->cap_regions;
	nm->locked_vm = p->locked_vm;
}

/* Swaps the current process with saved process i. */
static void swap_with(naive_mm *nm, size_t i)
{
	nproc cur;
	save_current(nm, &cur);
	load_current(nm, &nm->others[i]);
	nm->others[i] = cur;
}

void nv_for_each_process(naive_mm *nm, void (*fn)(naive_mm *nm, void *ctx), void *ctx)
{
	fn(nm, ctx);
	for (size_t i = 0; i < nm->nothers; i++) {
		swap_with(nm, i);
		fn(nm, ctx);
		swap_with(nm, i);
	}
}

struct cow_count {
	uint32_t cow;
	unsigned n;
};

static void count_cow(naive_mm *nm, void *ctx)
{
	struct cow_count *c = ctx;
	for (size_t i = 0; i < nm->npages; i++)
		c->n += nm->pages[i].state == MM_PAGE_ANON && nm->pages[i].cow == c->cow;
}

unsigned nv_anon_mapcount(naive_mm *nm, const npage *p)
{
	if (p->state != MM_PAGE_ANON || !p->cow)
		return 1;
	struct cow_count c = {p->cow, 0};
	nv_for_each_process(nm, count_cow, &c);
	return c.n;
}

void nv_anon_cow_break(naive_mm *nm, npage *p)
{
	if (p->state != MM_PAGE_ANON || !p->cow)
		return;
	if (nv_anon_mapcount(nm, p) > 1) {
		/* wp_page_copy(): a new folio with the data, in this process only */
		p->lazyfree = false;
		p->mlocked = false;
		p->thp = 0;
		p->thp_idx = 0;
	}
	p->cow = 0; /* exclusive now: reused (wp_can_reuse_anon_folio) */
}

/* mm/memory.c: vma_needs_copy(dst_vma, src_vma): the flags are the
 * child's, which has no VM_UFFD_WP any more. */
static bool needs_copy(const nvma *child, const nvma *v)
{
	if (child->flags & (MM_VM_PFNMAP | MM_VM_MIXEDMAP | MM_VM_UFFD_WP | MM_VM_MAYBE_GUARD))
		return true;
	return v->anon_vma != 0;
}

int naive_fork(naive_mm *nm)
{
	if (nm->nothers + 1 >= NV_MAX_PROCS)
		return -EAGAIN;
	/* The child's state, built beside the parent's. */
	nproc child = {.no = nm->next_proc, .locked_vm = 0};
	for (size_t i = 0; i < nm->nvmas; i++) {
		const nvma *v = &nm->vmas[i];
		if (v->flags & MM_VM_DONTCOPY)
			continue;
		nvma c = *v;
		c.flags &= ~MM_VM_LOCKED_MASK;
		c.flags &= ~MM_VM_UFFD_FLAGS; /* dup_userfaultfd(): no UFFD_FEATURE_EVENT_FORK */
		if (c.flags & MM_VM_WIPEONFORK) {
			c.anon_vma = 0;
			c.forked = false;
		} else if (v->anon_vma) {
			c.anon_vma = ++nm->last_anon_vma; /* anon_vma_fork(): a new one, chained to the parent's */
			c.forked = true;
		}
		child.vmas = nv_grow(child.vmas, &child.cap_vmas, child.nvmas + 1, sizeof(nvma));
		child.vmas[child.nvmas++] = c;
		if ((v->flags & MM_VM_WIPEONFORK) || !needs_copy(&c, v))
			continue;
		for (size_t k = 0; k < nm->npages; k++) {
			npage *p = &nm->pages[k];
			if (p->addr < v->start || p->addr >= v->end)
				continue;
			/* copy_pte_marker(): a uffd-wp marker only into a VMA
			 * registered with wp -- a child's never is; and
			 * copy_present_pte() drops the bit for such a VMA */
			if (p->state == MM_PAGE_NONE)
				continue;
			npage q = *p;
			q.uffd_wp = false;
			if (p->state == MM_PAGE_ANON) {
				if (!p->cow)
					p->cow = ++nm->last_cow;
				q.cow = p->cow;
				if (p->data) {
					q.data = malloc(NV_PAGE);
					if (!q.data)
						abort();
					memcpy(q.data, p->data, NV_PAGE);
				}
			} else {
				q.data = NULL;
			}
			child.pages = nv_grow(child.pages, &child.cap_pages, child.npages + 1, sizeof(npage));
			child.pages[child.npages++] = q;
		}
		/* the regions holding the VMA: a table where the parent has one
		 * (copy_pte_range allocates it), a PMD mapping copied */
		for (size_t k = 0; k < nm->nregions; k++) {
			const nregion *r = &nm->regions[k];
			if (r->base + NV_PMD <= v->start || r->base >= v->end)
				continue;
			bool have = false;
			for (size_t j = 0; j < child.nregions; j++)
				have |= child.regions[j].base == r->base;
			if (have)
				continue;
			child.regions = nv_grow(child.regions, &child.cap_regions, child.nregions + 1, sizeof(nregion));
			child.regions[child.nregions++] = *r;
		}
	}
	/* Pages were collected VMA by VMA in address order: sorted already. */
	nm->others = nv_grow(nm->others, &nm->cap_others, nm->nothers + 1, sizeof(nproc));
	nm->others[nm->nothers++] = child;
	return (int)nm->next_proc++;
}

int naive_proc(naive_mm *nm, int proc)
{
	if (proc == (int)nm->cur_proc)
		return 0;
	for (size_t i = 0; i < nm->nothers; i++)
		if ((int)nm->others[i].no == proc) {
			swap_with(nm, i);
			return 0;
		}
	return -ESRCH;
}

static void free_state(nproc *p)
{
	for (size_t i = 0; i < p->npages; i++)
		free(p->pages[i].data);
	free(p->pages);
	free(p->vmas);
	free(p->regions);
}

int naive_exit(naive_mm *nm, int proc)
{
	if (proc == 1)
		return -EINVAL; /* the format: process 1 stays */
	if (proc == (int)nm->cur_proc) {
		if (naive_proc(nm, 1) != 0)
			return -EINVAL;
	}
	for (size_t i = 0; i < nm->nothers; i++)
		if ((int)nm->others[i].no == proc) {
			free_state(&nm->others[i]);
			nm->others[i] = nm->others[--nm->nothers];
			return 0;
		}
	return -ESRCH;
}

void nv_free_processes(naive_mm *nm)
{
	for (size_t i = 0; i < nm->nothers; i++)
		free_state(&nm->others[i]);
	free(nm->others);
	nm->others = NULL;
	nm->nothers = nm->cap_others = 0;
}

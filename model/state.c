/* Life cycle of an address space and the read-only views (the VMA list,
 * /proc-style formatting). Backing objects are object.c's. */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fork.h"
#include "object.h"
#include "pgtable.h"
#include "vma.h"

void mm_config_default(mm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_map_count = MM_DEFAULT_MAX_MAP_COUNT;
	cfg->mmap_min_addr = MM_DEFAULT_MMAP_MIN_ADDR;
	cfg->stack_guard_gap = MM_DEFAULT_STACK_GUARD_GAP;
	/* A typical mmap_base below the stack (arch/x86/mm/mmap.c: mmap_base);
	 * callers that compare with a live process set their own. */
	cfg->mmap_base = 0x7f0000000000ull;
	cfg->mmap_low = MM_PAGE_SIZE;
	cfg->stack_rlimit = 8ull << 20;
	cfg->thp_enabled = true;
	/* The default profile: docs/profiles.md. */
	cfg->kernel_version = MM_DEFAULT_KERNEL_VERSION;
	cfg->zero_page = true;
	cfg->thp_mode = MM_THP_MADVISE;
	cfg->thp_zero_page = true;
	cfg->overcommit = 0;
	cfg->memlock = MM_MEMLOCK_UNLIMITED;
	cfg->soft_dirty = false;
	cfg->guard_flag = true;
	cfg->shmem_thp = MM_SHMEM_THP_NEVER;
	cfg->memory_failure = false;
	cfg->userfaultfd = true;
	cfg->pkeys = false;
}

bool mm_config_supported(const mm_config *cfg)
{
	/* Version rules live behind mm_kernel_at_least() (internal.h): Linux
	 * 6.1, 6.12 and 6.18 are modelled and checked (docs/versions.md). */
	bool version = cfg->kernel_version == 601 || cfg->kernel_version == 612 || cfg->kernel_version == 618;
	/* shmem: huge folios come from MADV_COLLAPSE only (shmem_get_folio_gfp
	 * allocating a huge folio at fault time is not modelled). */
	bool shmem = cfg->shmem_thp == MM_SHMEM_THP_NEVER || cfg->shmem_thp == MM_SHMEM_THP_DENY;
	return version && shmem && cfg->thp_mode <= MM_THP_ALWAYS &&
	       cfg->overcommit <= 2;
}

mm_state *mm_create(const mm_config *cfg)
{
	mm_state *mm = mm_alloc(NULL, sizeof(*mm));
	if (!mm)
		return NULL;
	if (cfg)
		mm->cfg = *cfg;
	else
		mm_config_default(&mm->cfg);
	vt_init(&mm->vt, mm->cfg.stack_guard_gap);
	mm->next_anon_vma_id = 1;
	mm->next_shmem_id = 1;
	mm->next_file_id = 1;
	mm->cur_proc = 1;
	mm->next_proc = 2;
	if (pg_create(mm) < 0) {
		mm_free(NULL, mm);
		return NULL;
	}
	return mm;
}

static void mm_empty(mm_state *mm);

int mm_reset(mm_state *mm, const mm_config *cfg)
{
	fork_release_procs(mm);
	mm_empty(mm);
	/* Every field as mm_create leaves it, except the memory kept: the VMA
	 * slab, the index's node pool (the tree is empty) and the page layer. */
	struct vma_tree vt = mm->vt;
	struct mm_vma_slab slab = mm->vma_slab;
	struct page_tables *pt = mm->pt;
	memset(mm, 0, sizeof(*mm));
	if (cfg)
		mm->cfg = *cfg;
	else
		mm_config_default(&mm->cfg);
	mm->vt = vt;
	mm->vt.stack_guard_gap = mm->cfg.stack_guard_gap;
	mm->vt.fp_valid = false;
	mm->vt.fp_lo = mm->vt.fp_hi = 0;
	mm->vma_slab = slab;
	mm->pt = pt;
	mm->next_anon_vma_id = 1;
	mm->next_shmem_id = 1;
	mm->next_file_id = 1;
	mm->cur_proc = 1;
	mm->next_proc = 2;
	return pg_reset(mm);
}

/* Every VMA and object gone, their entries and frames with them. */
static void mm_empty(mm_state *mm)
{
	vma_unmap_all(mm);
	/* Declared files hold one reference of their own. */
	while (mm->objects)
		mm_object_put(mm, mm->objects);
}

void mm_destroy(mm_state *mm)
{
	if (!mm)
		return;
	fork_release_procs(mm);
	mm_empty(mm);
	pg_destroy(mm);
	mm_alloc_release(mm);
	mm_free(mm, mm);
}

size_t mm_map_count(const mm_state *mm)
{
	return mm->vt.count;
}

uint64_t mm_locked_vm(const mm_state *mm)
{
	return mm->locked_vm;
}

size_t mm_vmas(const mm_state *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap)
{
	size_t n = 0;
	for (struct vma *v = vt_find(&mm->vt, lo); v && v->vm_start < hi; v = v->node.next) {
		if (n < cap)
			out[n] = (mm_vma_info){
			        .start = v->vm_start,
			        .end = v->vm_end,
			        .flags = v->vm_flags,
			        .pgoff = v->vm_pgoff,
			        .backing = v->obj ? v->obj->kind : MM_BACKING_ANON,
			        .object = v->obj ? v->obj->id : 0,
			};
		n++;
		/* The next VMA starts at or above this one's end: when that is
		 * hi already, stop without reading it (a cache miss when one
		 * VMA is asked for). */
		if (v->vm_end >= hi)
			break;
	}
	return n;
}

/* fs/proc/task_mmu.c: show_smap_vma_flags() walks the bits in order. */
static const char *const vmflag_mnemonics[64] = {
	[0] = "rd",  [1] = "wr",  [2] = "ex",  [3] = "sh",  [4] = "mr",  [5] = "mw",  [6] = "me",  [7] = "ms",
	[8] = "gd",  [9] = "um",  [10] = "pf", [11] = "gu", [12] = "uw", [13] = "lo", [14] = "io", [15] = "sr",
	[16] = "rr", [17] = "dc", [18] = "de", [19] = "lf", [20] = "ac", [21] = "nr", [22] = "ht", [23] = "sf",
	[24] = "ar", [25] = "wf", [26] = "dd", [27] = "sd", [28] = "mm", [29] = "hg", [30] = "nh", [31] = "mg",
	[37] = "ss", [38] = "ui", [40] = "dp", [42] = "sl",
};

size_t mm_format_vmflags(uint64_t flags, char *buf, size_t size)
{
	return mm_format_vmflags_for(flags, 0, buf, size);
}

size_t mm_format_vmflags_for(uint64_t flags, unsigned kernel_version, char *buf, size_t size)
{
	size_t n = 0;
	if (size)
		buf[0] = '\0';
	for (int bit = 0; bit < 64; bit++) {
		if (!(flags & (1ull << bit)) || !vmflag_mnemonics[bit])
			continue;
		const char *mn = vmflag_mnemonics[bit];
		/* Version rule: VM_LOCKONFAULT had no mnemonic before 6.2
		 * (6.2, 8614d6c5eda0 "mm: do not show fs mm pc for VM_LOCKONFAULT
		 * pages" added "lf"); show_smap_vma_flags printed its "??" filler. */
		if (bit == 19 && kernel_version && kernel_version < 602)
			mn = "??";
		int w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s ", mn);
		n += (size_t)w;
	}
	return n;
}

void mm_format_perms(uint64_t flags, char buf[5])
{
	/* show_map_vma(): 's' iff VM_MAYSHARE */
	buf[0] = flags & MM_VM_READ ? 'r' : '-';
	buf[1] = flags & MM_VM_WRITE ? 'w' : '-';
	buf[2] = flags & MM_VM_EXEC ? 'x' : '-';
	buf[3] = flags & MM_VM_MAYSHARE ? 's' : 'p';
	buf[4] = '\0';
}

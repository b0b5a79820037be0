/* Internal types of libmmref, shared by the files of model/. Not installed. */
#ifndef MMREF_INTERNAL_H
#define MMREF_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmref/mmref.h"
#include "vma_tree.h"

#define PAGE_SIZE MM_PAGE_SIZE
#define PAGE_SHIFT MM_PAGE_SHIFT
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & PAGE_MASK)
#define offset_in_page(x) ((x) & (PAGE_SIZE - 1))
#define PHYS_PFN(x) ((x) >> PAGE_SHIFT)

/* handle_mm_fault() results (VM_FAULT_*), reduced. */
enum fault_result {
	FAULT_OK = 0,
	FAULT_SIGSEGV,
	FAULT_SIGBUS,
	FAULT_OOM,
	/* handle_userfault(): the fault goes to the process's userfaultfd
	 * (VM_UFFD_MISSING, VM_UFFD_MINOR); for a fault the kernel takes
	 * itself (GUP) the UFFD_USER_MODE_ONLY context answers VM_FAULT_SIGBUS. */
	FAULT_UFFD_MISSING,
	FAULT_UFFD_MINOR,
	/* handle_userfault(vmf, VM_UFFD_WP): a write to a page the
	 * userfaultfd write-protected (do_wp_page, wp_huge_pmd). */
	FAULT_UFFD_WP,
};

struct vma;

/* The fault being served: include/linux/mm.h struct vm_fault, reduced. */
struct vm_fault {
	struct vma *vma;
	uint64_t address; /* page aligned */
	uint64_t pgoff;   /* the page's offset in the object */
	bool write;       /* FAULT_FLAG_WRITE */
};

/* include/linux/mm.h struct vm_operations_struct: how the VMAs of an object
 * are served. Every object has one table (mm_object.vm_ops), set when it is
 * made, as the file's ->mmap sets vma->vm_ops: object.c's shmem_vm_ops for
 * the model's files and shmem (mm/shmem.c), a device's own for
 * mm_device_create. mm/memory.c (fault.c) and mm/vma.c, mm/mremap.c,
 * kernel/fork.c call them where Linux does; a NULL entry is a callback the
 * object does not have, with Linux's meaning of its absence. */
struct vm_operations {
	/* ->fault, from __do_fault(): the page vmf->pgoff (inside i_size),
	 * its pfn in *pfn; no entry is written. */
	enum fault_result (*fault)(mm_state *mm, const struct vm_fault *vmf, uint64_t *pfn);
	/* ->map_pages, from do_fault_around(): maps, into empty PTEs, the pages
	 * of [start_pgoff, end_pgoff] (inclusive) that are ready, vmf->address
	 * being the address of vmf->pgoff. NULL: no fault-around
	 * (should_fault_around). */
	void (*map_pages)(mm_state *mm, const struct vm_fault *vmf, uint64_t start_pgoff, uint64_t end_pgoff);
	/* ->page_mkwrite, from do_page_mkwrite(): the page vmf->pgoff is about
	 * to become writable in a shared mapping. Its presence makes shared
	 * writable VMAs write-notify (vma_wants_writenotify). */
	enum fault_result (*page_mkwrite)(mm_state *mm, const struct vm_fault *vmf);
	/* ->open: a VMA of the object was made by a split, mremap or fork. */
	void (*open)(mm_state *mm, const struct vma *v);
	/* ->close: a VMA of the object is being unmapped (remove_vma). */
	void (*close)(mm_state *mm, const struct vma *v);
	/* ->may_split: may v be split at addr? 0 or -errno (__split_vma). */
	int (*may_split)(mm_state *mm, const struct vma *v, uint64_t addr);
	/* ->mremap: v was moved here by mremap; 0 or -errno (copy_vma_and_data). */
	int (*mremap)(mm_state *mm, const struct vma *v);
};

/* A backing object: a declared file, or the shmem file behind one shared
 * anonymous mmap. Identity of the object is identity of struct file. */
struct mm_object {
	mm_backing kind; /* MM_BACKING_FILE or MM_BACKING_SHMEM */
	uint32_t id;     /* file id, or shmem object id */
	uint64_t size;   /* i_size in bytes */
	unsigned refs;   /* VMAs that map it (+1 for a declared file) */
	struct mm_object *next_in_list;
	struct page_cache *cache; /* pages present in the page cache (pagecache.c) */
	/* The vm_operations every VMA of the object has (see above): a
	 * static table, or dev_vm_ops for a device. */
	const struct vm_operations *vm_ops;
	struct vm_operations dev_vm_ops;
	/* A device (mm_device_create): the caller's operations, which its
	 * vm_ops call, and their context. ops.fault is NULL for the model's
	 * own files and shmem objects. */
	mm_vm_ops ops;
	void *ops_ctx;
};
static inline bool mm_object_is_device(const struct mm_object *obj) { return obj && obj->ops.fault; }

/* An anon_vma: only its identity matters to merging (mm/vma.c:
 * is_mergeable_anon_vma), and whether the chains of the VMAs that use it
 * are singular. An anon_vma made by fork for a child's VMA (anon_vma_fork)
 * is `forked`: that VMA's chain holds the parent's anon_vmas too, and so do
 * the chains of the VMAs split or mremap-copied from it (anon_vma_clone),
 * which all use the same anon_vma. Every other chain is singular. */
struct anon_vma {
	uint64_t id;
	unsigned refs;
	bool forked;
};

/* fork.c: a process's own part of the machine while another process is
 * current: its VMA index, its page tables' root (a PML4 in the shared
 * table pool), its locked memory (docs/semantics.md, "Processes"). */
struct mm_proc {
	int no;
	struct vma_tree vt;
	uint64_t pml4;
	uint64_t locked_vm, locked_vm_leaked;
};
#define MM_MAX_PROCS 8 /* live processes at once (the trace format's limit) */

/* 64 bytes, one cache line in the slab (alloc.c). */
struct vma {
	struct vma_node node; /* the index's address-order list; see vma_tree.h */
	uint64_t vm_start, vm_end;
	uint64_t vm_flags;
	uint64_t vm_pgoff;
	struct mm_object *obj;      /* NULL for private anonymous memory */
	struct anon_vma *anon_vma;  /* NULL until the first fault that needs one */
};

/* alloc.c: the VMA slab. */
struct mm_vma_slab {
	void *free;   /* free VMAs, chained */
	void *blocks; /* the blocks, chained */
	size_t live;  /* VMAs handed out */
};

struct mm_state {
	mm_config cfg;
	struct vma_tree vt;
	struct mm_vma_slab vma_slab;
	uint64_t next_anon_vma_id;
	uint32_t next_shmem_id;
	uint32_t next_file_id;
	struct mm_object *objects; /* every live object */
	uint64_t fail_alloc_countdown; /* 0: off; else the allocation that fails */
	struct page_tables *pt;         /* the page layer: pages.h */
	/* Boundaries where the last operation tried a merge, for the merge
	 * check (I9): the first eight only, enough for the edges of any
	 * single-VMA change; a change over many VMAs is checked at its first. */
	uint64_t touched[8];
	unsigned n_touched;
	/* mm->locked_vm, in pages, moved exactly where Linux moves it (mlock.c
	 * mlock_fixup, vma.c __mmap_complete / vms_complete_munmap_vmas,
	 * mremap.c vrm_stat_account, mmap.c expand_downwards). It is the
	 * pages of VM_LOCKED VMAs plus locked_vm_leaked: MREMAP_DONTUNMAP
	 * unlocks the whole source VMA without uncharging it (mremap.c
	 * dontunmap_complete) [LIVE: VmLck stays up after the munmap]. */
	uint64_t locked_vm;
	uint64_t locked_vm_leaked;
	struct ct_store *contents; /* contents.c: page contents; NULL while none is held */
	/* Processes (fork.c). The fields above that are a process's own (vt,
	 * pt->pml4, touched, locked_vm, locked_vm_leaked) are the current
	 * process's; the other live processes wait in procs[0..nprocs). The
	 * frames, page caches, objects and contents are the machine's. */
	int cur_proc, next_proc;
	struct mm_proc procs[MM_MAX_PROCS - 1];
	unsigned nprocs;
};

/* ---- The kernel profile (mm_config; docs/profiles-model.md) -------------- */
/* Version rules: the one place a rule asks which kernel it is modelling.
 * VERSION is MAJOR * 100 + MINOR. 6.1, 6.12 and 6.18 are modelled
 * (mm_config_supported); each call names the commit or release that changed
 * the rule it guards, and docs/versions.md lists them with a trace each. */
static inline bool mm_kernel_at_least(const mm_state *mm, unsigned version)
{
	return mm->cfg.kernel_version >= version;
}
/* include/linux/mm.h mm_forbids_zeropage(): true when the kernel boots with
 * the zero page forbidden (profile zero_page=off). */
static inline bool mm_forbids_zeropage(const mm_state *mm)
{
	return !mm->cfg.zero_page;
}
/* RLIMIT_MEMLOCK is RLIM_INFINITY or the process has CAP_IPC_LOCK: the
 * model does not tell the two apart (see mm_config.memlock). */
static inline bool mm_memlock_unlimited(const mm_state *mm)
{
	return mm->cfg.memlock == MM_MEMLOCK_UNLIMITED;
}

/* ---- VMAs ---------------------------------------------------------------- */
static inline uint64_t vma_pages(const struct vma *v) { return (v->vm_end - v->vm_start) >> PAGE_SHIFT; }
static inline bool vma_is_anonymous(const struct vma *v) { return v->obj == NULL; }
/* The object's vm_operations, or NULL for private anonymous memory. */
static inline const struct vm_operations *vma_vm_ops(const struct vma *v) { return v->obj ? v->obj->vm_ops : NULL; }
/* mm/vma.c vma_wants_writenotify(): a shared writable VMA whose vm_ops have
 * page_mkwrite (vm_ops_needs_writenotify) maps its pages read-only until
 * the first write asks. The other reasons do not arise here: soft-dirty
 * tracking is never enabled (VMAs keep VM_SOFTDIRTY), and shmem and devices
 * cannot write back (vma_fs_can_writeback: mapping_can_writeback). */
static inline bool vma_wants_writenotify(const struct vma *v)
{
	const struct vm_operations *ops = vma_vm_ops(v);
	if ((v->vm_flags & (MM_VM_WRITE | MM_VM_SHARED)) != (MM_VM_WRITE | MM_VM_SHARED))
		return false;
	if (ops && ops->page_mkwrite)
		return true;
	/* mm/mmap.c vma_wants_writenotify(): "Do we need write faults for
	 * uffd-wp tracking?" -- userfaultfd_wp(vma) (shmem itself has no
	 * writeback to track). */
	return (v->vm_flags & MM_VM_UFFD_WP) != 0;
}

/* ---- RLIMIT_MEMLOCK (mm/mlock.c, mm/mmap.c) ------------------------------- */
/* mm/mlock.c can_do_mlock(): RLIMIT_MEMLOCK not 0, or CAP_IPC_LOCK. */
static inline bool can_do_mlock(const mm_state *mm)
{
	/* mm/mlock.c can_do_mlock(): rlimit(RLIMIT_MEMLOCK) != 0 or
	 * capable(CAP_IPC_LOCK). */
	return mm->cfg.memlock != 0;
}
/* mm/mmap.c mlock_future_ok(): may `bytes` more become VM_LOCKED? */
static inline bool mlock_future_ok(const mm_state *mm, uint64_t vm_flags, uint64_t bytes)
{
	/* mm/mmap.c mlock_future_ok(): pages, not bytes, are compared; the
	 * pages about to be unmapped (MAP_FIXED) are still counted. */
	if (!(vm_flags & MM_VM_LOCKED) || mm_memlock_unlimited(mm))
		return true;
	uint64_t locked = (bytes >> PAGE_SHIFT) + mm->locked_vm;
	return locked <= mm->cfg.memlock >> PAGE_SHIFT;
}

/* The files of model/ and their private headers, from the bottom up (each
 * uses only those before it; ci/check-layers rejects an include cycle):
 *   internal.h (types only), alloc.h, vma_tree.h, pagetable.h, contents.h, the page
 *   layer (pages.h: procs.h, frames.h, pagecache.h, pgtable.h, pgcheck.h,
 *   pagepolicy.h), object.h, vma.h, fault.h, access.c, gup.h, then the
 *   system calls (mmap.h, munmap.h, mlock.h, mprotect.c, mremap.c,
 *   madvise.c, mseal.c, userfaultfd.c), fork.h (processes), state.c and check.c. */

/* The mm's execute-only protection key as VM_PKEY bits (profile pkeys=on).
 * arch/x86/mm/pkeys.c __execute_only_pkey() takes it from mm_pkey_alloc(),
 * the lowest free key; key 0 is always taken and no trace allocates keys,
 * so it is key 1, and PKRU denies its data access (init_pkru_value already
 * has AD for keys 1..15; __execute_only_pkey sets it again). */
#define MM_VM_PKEY_EXEC_ONLY (1ull << MM_VM_PKEY_SHIFT)
/* init_pkru_value (arch/x86/mm/pkeys.c): access disabled for keys 1..15. */
#define MM_PKRU_INIT 0x55555554u

/* arch/x86/include/asm/mmu_context.h arch_vma_access_permitted() for the
 * current mm: fetches are always allowed; a data access needs PKRU to allow
 * the VMA's key (__pkru_allows_pkey: AD clear, and WD clear for a write).
 * Without OSPKE every VMA has key 0, which PKRU allows. */
static inline bool mm_vma_access_permitted(uint64_t vm_flags, bool write, bool execute)
{
	if (execute)
		return true;
	unsigned key = (unsigned)((vm_flags & MM_VM_PKEY_MASK) >> MM_VM_PKEY_SHIFT);
	uint32_t bits = MM_PKRU_INIT >> (2 * key);
	return !(bits & 1u) && !(write && (bits & 2u));
}

#endif

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

/* A backing object: a declared file, or the shmem file behind one shared
 * anonymous mmap. Identity of the object is identity of struct file. */
struct mm_object {
	mm_backing kind; /* MM_BACKING_FILE or MM_BACKING_SHMEM */
	uint32_t id;     /* file id, or shmem object id */
	uint64_t size;   /* i_size in bytes */
	unsigned refs;   /* VMAs that map it (+1 for a declared file) */
	struct mm_object *next_in_list;
	struct page_cache *cache; /* pages present in the page cache (pages.c) */
};

/* An anon_vma: only its identity matters to merging (mm/vma.c:
 * is_mergeable_anon_vma). There is no fork in the model, so every chain is
 * singular. */
struct anon_vma {
	uint64_t id;
	unsigned refs;
};

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
	struct page_tables *pt;         /* pages.c */
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

/* ---- alloc.c: the one allocation seam ---------------------------------- */
void *mm_alloc(mm_state *mm, size_t size); /* zeroed; NULL if the seam fails it */
void mm_free(mm_state *mm, void *p);
/* A zeroed VMA from the slab, with index nodes reserved for its insertion;
 * NULL if the seam fails it (one allocation, as mm_alloc). */
struct vma *mm_vma_alloc(mm_state *mm);
void mm_vma_free(mm_state *mm, struct vma *v);
/* mm_destroy: frees the slab and the index's nodes. */
void mm_alloc_release(mm_state *mm);

/* ---- state.c: backing objects --------------------------------------------- */
struct mm_object *mm_object_new(mm_state *mm, mm_backing kind, uint64_t size); /* refs = 1 */
void mm_object_put(mm_state *mm, struct mm_object *obj);
struct mm_object *mm_file_lookup(mm_state *mm, int id);

/* ---- vma.c: VMA objects, split and merge (mm/vma.c) ---------------------- */
static inline uint64_t vma_pages(const struct vma *v) { return (v->vm_end - v->vm_start) >> PAGE_SHIFT; }
static inline bool vma_is_anonymous(const struct vma *v) { return v->obj == NULL; }
/* One merge attempt: mm/vma.h struct vma_merge_struct. */
struct vma_merge {
	struct vma *prev;   /* the VMA before the range, or NULL */
	struct vma *middle; /* existing-range merges: the VMA holding the range */
	struct vma *next;   /* the VMA after the range, or NULL */
	uint64_t start, end; /* the range */
	uint64_t pgoff;      /* vm_pgoff the range would have */
	uint64_t flags;      /* vm_flags the range would have */
	struct mm_object *obj;
	struct anon_vma *anon_vma; /* the range's anon_vma (mremap: the source's) */
	bool just_expand;          /* merge with prev only (brk, mremap in place) */
};

struct vma *vma_alloc(mm_state *mm);
void vma_free(mm_state *mm, struct vma *v);
void vma_remove(mm_state *mm, struct vma *v);
void vma_set_anon_vma(mm_state *mm, struct vma *v, struct anon_vma *av);
void mm_note_touched(mm_state *mm, uint64_t addr);
int vma_split_unchecked(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new);
int vma_split(mm_state *mm, struct vma *v, uint64_t addr, bool new_below, struct vma **out_new);
struct vma *vma_merge_new_range(mm_state *mm, struct vma_merge *g);
struct vma *vma_modify(mm_state *mm, struct vma_merge *g, int *err);
struct vma *vma_modify_flags(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, uint64_t new_flags,
                             int *err);
/* Creates the anon_vma of v if it has none, reusing a compatible neighbour's
 * (mm/rmap.c: __anon_vma_prepare, mm/vma.c: find_mergeable_anon_vma).
 * Returns 0 or -ENOMEM. */
int anon_vma_prepare(mm_state *mm, struct vma *v);
/* Grows a VM_GROWSDOWN VMA down to addr (mm/mmap.c: expand_downwards).
 * Returns 0 or -errno; on failure nothing changes. */
int vma_expand_downwards(mm_state *mm, struct vma *v, uint64_t addr);

/* ---- mlock.c: RLIMIT_MEMLOCK -------------------------------------------- */
/* mm/mlock.c can_do_mlock(): RLIMIT_MEMLOCK not 0, or CAP_IPC_LOCK. */
bool can_do_mlock(const mm_state *mm);
/* mm/mmap.c mlock_future_ok(): may `bytes` more become VM_LOCKED? */
bool mlock_future_ok(const mm_state *mm, uint64_t vm_flags, uint64_t bytes);
/* Pages of all VM_LOCKED VMAs, for the checker. */
uint64_t mm_locked_pages(const mm_state *mm);

/* ---- munmap.c / mmap.c ------------------------------------------------------ */
int unmap_range(mm_state *mm, uint64_t start, uint64_t end);
/* mm/mmap.c: __get_unmapped_area() with the x86 top-down allocator. */
int64_t get_unmapped_area(mm_state *mm, const struct mm_object *obj, bool shared_anon, uint64_t addr, uint64_t len,
                          uint64_t pgoff, uint64_t flags);
/* mm/gup.c: __mm_populate(): populate_vma_page_range() over the VMAs of
 * [start, end). Returns 0 or the first error (-EFAULT) unless ignore_errors. */
int mm_populate_range(mm_state *mm, uint64_t start, uint64_t end, bool ignore_errors);
int populate_vma_range(mm_state *mm, struct vma *v, uint64_t start, uint64_t end);

/* ---- pages.c / fault.c: page tables under the VMAs ----------------------- */
int pt_create(mm_state *mm);
void pt_destroy(mm_state *mm);
/* mm_reset: the page layer as pt_create leaves it, in its own memory (every
 * VMA and object already gone). 0 or -ENOMEM. */
int pt_reset(mm_state *mm);
/* munmap: drop every entry (pages and guard markers) in [start, end). */
void pt_unmap_range(mm_state *mm, uint64_t start, uint64_t end);
/* MADV_DONTNEED: drop pages, keep guard markers. */
void pt_zap_pages(mm_state *mm, uint64_t start, uint64_t end);
/* mremap: move the entries of [old, old+len) to [new, new+len). */
int pt_move_range(mm_state *mm, uint64_t old_start, uint64_t new_start, uint64_t len);
/* mprotect: re-encode present entries in [start, end) for v's new flags. */
void pt_change_protection(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MAP_POPULATE, mlock, MADV_POPULATE_*: fault in [start, end) within v.
 * Returns 0 or -EFAULT (a guard marker or SIGBUS-type failure). */
int pt_populate(mm_state *mm, struct vma *v, uint64_t start, uint64_t end, bool write);
int pt_guard_install(mm_state *mm, struct vma *v, uint64_t start, uint64_t end);
void pt_guard_remove(mm_state *mm, uint64_t start, uint64_t end);
/* MADV_REMOVE (fallocate PUNCH_HOLE on shmem): drop pages [pgoff, pgoff +
 * npages) of obj from its page cache and unmap them from every VMA that maps
 * them; private COW copies and guard markers stay. */
void pt_punch_hole(mm_state *mm, struct mm_object *obj, uint64_t pgoff, uint64_t npages);
/* The checker's page part: reports through the same callback as vt_check. */
/* MADV_PAGEOUT: unmap the page-cache pages of [start, end) mapped only
 * there (no swap: anonymous pages stay). */
void pt_pageout(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MADV_FREE: anonymous pages mapped only here become lazily freeable. */
void pt_mark_lazyfree(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* MADV_COLD: splits the THPs the range covers in part. */
void pt_cold(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* A VMA boundary is about to fall at addr: split a huge PMD spanning it. */
void pt_split_huge_at(mm_state *mm, uint64_t addr);
/* MADV_COLLAPSE of the aligned 2 MiB block at h inside v. */
int pt_collapse(mm_state *mm, struct vma *v, uint64_t h);
/* MADV_COLLAPSE of block h of a shmem/memfd VMA (pages.c): 0, 1 (go on, but
 * EINVAL at the end) or a negative errno (stop). */
int pt_collapse_file(mm_state *mm, struct vma *v, uint64_t h);
/* PG_mlocked of the pages mapped in [start, end): set (MREMAP_DONTUNMAP
 * leaves them mlocked in an unlocked VMA) or cleared (munlock). */
void pt_mark_mlocked(mm_state *mm, uint64_t start, uint64_t end, bool on);
/* A fault on a huge page-cache folio's block that maps it whole; true when
 * it handled the fault. */
bool pt_fault_cache_block(mm_state *mm, const struct vma *v, uint64_t addr, bool write);
/* Page-table pages and anonymous frames in use (for the leak tests). */
uint64_t pt_table_pages(const mm_state *mm);
uint64_t pt_anon_frames(const mm_state *mm);
/* The object's last reference is gone: free its page cache (pages.c). */
void pt_object_release(mm_state *mm, struct mm_object *obj);
size_t pt_check(const mm_state *mm, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx);

/* ---- contents.c: page contents (issue 18) --------------------------------- */
/* Word `word` (0..511) of data frame pfn: 0 for a frame never written. */
uint64_t ct_load(const mm_state *mm, uint64_t pfn, unsigned word);
/* Stores the bytes of value under mask into word `word` of pfn; 0 or -ENOMEM. */
int ct_store(mm_state *mm, uint64_t pfn, unsigned word, uint64_t value, uint64_t mask);
/* dst's contents become src's (a copy on write, a collapse); 0 or -ENOMEM. */
int ct_copy(mm_state *mm, uint64_t dst, uint64_t src);
/* The frame is freed: its contents go (pages.c free_frame). */
void ct_drop(mm_state *mm, uint64_t pfn);
/* Whether the frame holds only zeroes (try_to_map_unused_to_zeropage). */
bool ct_is_zero(const mm_state *mm, uint64_t pfn);
/* `touch ADDR w` stores one zero byte at addr (mmref-kernel: movb $0). */
void ct_touch_store_byte(mm_state *mm, uint64_t addr);
/* I20: records only for frames that hold data. */
size_t ct_check(const mm_state *mm, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx);
/* pages.c, for contents.c: a page-cache frame written by write(2) is dirty;
 * whether a frame is an anonymous or page-cache frame in use. */
void pg_mark_dirty(mm_state *mm, uint64_t pfn);
bool pg_frame_holds_data(const mm_state *mm, uint64_t pfn);

#endif

/* The naive oracle's private state. Everything is a plain array scanned
 * linearly: a reader should be able to check each rule against the kernel
 * function named beside it without knowing any data structure. */
#ifndef MMREF_NAIVE_INTERNAL_H
#define MMREF_NAIVE_INTERNAL_H

#include "naive.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NV_PAGE MM_PAGE_SIZE
#define NV_PAGE_MASK (~(MM_PAGE_SIZE - 1))
#define NV_PMD MM_PMD_SIZE
#define NV_TASK_SIZE MM_TASK_SIZE
/* mm/memory.c: fault_around_bytes (64 KiB) */
#define NV_FAULT_AROUND_PAGES 16u

static inline uint64_t nv_page_align(uint64_t x) { return (x + NV_PAGE - 1) & NV_PAGE_MASK; }
static inline uint64_t nv_pages(uint64_t bytes) { return bytes >> MM_PAGE_SHIFT; }

/* One VMA. [start, end) with end exclusive, as vm_start/vm_end. */
typedef struct nvma {
	uint64_t start;
	uint64_t end;
	uint64_t flags;     /* vm_flags */
	uint64_t pgoff;     /* vm_pgoff, in pages */
	mm_backing backing; /* ANON: vm_file NULL; SHMEM/FILE: vm_file is that object */
	uint32_t object;    /* file id or shmem id; 0 for ANON */
	uint32_t anon_vma;  /* 0: none yet; otherwise an anon_vma identity */
	/* anon_vma set and its chain not singular: the VMA was copied by fork
	 * with an anon_vma (anon_vma_fork links the parent's anon_vmas too),
	 * or split or mremap-copied from one that was (anon_vma_clone). Such a
	 * VMA merges only with one of the same anon_vma, and no neighbour
	 * takes its anon_vma (mm/vma.c: vma_had_uncowed_parents). */
	bool forked;
} nvma;

/* One present page or guard marker; pages not listed are MM_PAGE_NONE. */
typedef struct npage {
	uint64_t addr;
	mm_page_state state;
	bool lazyfree; /* anon: MADV_FREE'd and not written since */
	/* PG_mlocked still set while the page's VMA is no longer VM_LOCKED:
	 * MREMAP_DONTUNMAP unlocks its source VMA without munlocking its pages.
	 * Such a page is unevictable: MADV_FREE does not mark it, MADV_PAGEOUT
	 * does not take it [LIVE: mremap-dontunmap-mlocked-pages.trace]. */
	bool mlocked;
	uint32_t thp;     /* anon: the THP (huge folio) this page is part of, 0: a page of its own */
	uint16_t thp_idx; /* its place in that THP, 0..511 */
	uint64_t *data;   /* anon: the page's 512 words; NULL while it holds only zeroes */
	/* anon: 0, or the folio this page shares copy-on-write with the same
	 * page of other processes since a fork: every page with this number,
	 * in any process, maps one folio (its map count is how many there
	 * are). Each process keeps its own copy of the data, which is what a
	 * shared folio reads until one of them writes. */
	uint32_t cow;
	/* userfaultfd write protection (UFFDIO_WRITEPROTECT): on a present
	 * page, the entry's uffd-wp bit; with state MM_PAGE_NONE, the entry is
	 * a uffd-wp marker (a protected empty entry of a shmem VMA), which
	 * reads as none everywhere else. */
	bool uffd_wp;
} npage;

/* What lies at the PMD level of one 2 MiB region (absent: pmd_none). */
typedef enum nregion_kind {
	NV_REGION_PTE = 1,     /* a PTE table exists: faults here map 4 KiB pages */
	NV_REGION_PMD_ZERO = 2, /* the huge zero page is PMD-mapped */
	NV_REGION_PMD_ANON = 3, /* an anonymous THP is PMD-mapped */
	/* A huge page-cache folio is PMD-mapped: one entry maps all 512 pages,
	 * and whatever splits that PMD (an operation on part of it) removes it
	 * whole -- a file PMD is never turned into PTEs
	 * (mm/huge_memory.c __split_huge_pmd_locked, !vma_is_anonymous). */
	NV_REGION_PMD_FILE = 4,
} nregion_kind;

typedef struct nregion {
	uint64_t base; /* 2 MiB aligned */
	nregion_kind kind;
} nregion;

/* A file or shmem object: what vm_file points at. */
typedef struct nobject {
	mm_backing kind; /* SHMEM or FILE */
	uint32_t id;
	uint64_t size; /* i_size in bytes */
} nobject;

/* One page of an object that is in its page cache. */
typedef struct ncached {
	mm_backing kind;
	uint32_t id;
	uint64_t index; /* page index in the object */
	bool dirty;     /* written through a shared mapping since it was cached */
	/* The folio holding the page: 2^order pages from index rounded down to
	 * 2^order. 9: a huge folio (MADV_COLLAPSE made it); 1..8: a piece of one
	 * left by a hole punch (a buddy-style split); 0: a small folio. */
	uint8_t order;
	uint64_t *data; /* the page's 512 words; NULL while it holds only zeroes */
	/* PG_mlocked is the folio's, not a mapping's: a cached page that an
	 * MREMAP_DONTUNMAP left mlocked in an unlocked VMA stays unevictable
	 * after that mapping goes, and a later fault (fault-around) maps it
	 * mlocked again; munlock of a range mapping it clears it. */
	bool mlocked;
} ncached;

/* The per-process part of the state of a process that is not the current
 * one (naive_fork.c): saved here, and swapped back in by naive_proc. */
typedef struct nproc {
	uint32_t no;
	nvma *vmas;
	size_t nvmas, cap_vmas;
	npage *pages;
	size_t npages, cap_pages;
	nregion *regions;
	size_t nregions, cap_regions;
	uint64_t locked_vm;
} nproc;

struct naive_mm {
	mm_config cfg;
	/* The current process's state: its VMAs, pages, regions, locked_vm.
	 * The objects and their page caches below are shared by every process. */

	nvma *vmas; /* sorted by start, never overlapping */
	size_t nvmas, cap_vmas;

	npage *pages; /* unsorted */
	size_t npages, cap_pages;

	nregion *regions; /* unsorted */
	size_t nregions, cap_regions;

	nobject *objects;
	size_t nobjects, cap_objects;

	ncached *cached;
	size_t ncached, cap_cached;

	uint32_t last_file_id, last_shmem_id, last_anon_vma, last_thp;

	/* mm->locked_vm, in pages: kept the way the kernel keeps it (mmap,
	 * munmap, mlock_fixup, mremap), not recomputed from the VMAs -- an
	 * MREMAP_DONTUNMAP move of a locked VMA leaves it higher than the
	 * locked VMAs add up to [LIVE]. */
	uint64_t locked_vm;

	/* Processes (naive_fork.c): the current one's number, the next
	 * number a fork gives, and the others, saved. */
	uint32_t cur_proc, next_proc;
	nproc *others;
	size_t nothers, cap_others;
	uint32_t last_cow;
};

/* ---- naive_core.c: arrays, lookups, pages ---- */
void *nv_grow(void *arr, size_t *cap, size_t need, size_t elem);
nvma *nv_find_vma(naive_mm *nm, uint64_t addr);        /* first VMA with end > addr (find_vma) */
nvma *nv_vma_at(naive_mm *nm, uint64_t addr);          /* the VMA containing addr, or NULL */
nvma *nv_prev_of(naive_mm *nm, const nvma *v);         /* the VMA before v in address order */
nvma *nv_next_of(naive_mm *nm, const nvma *v);         /* the VMA after v */
nvma *nv_insert_vma(naive_mm *nm, const nvma *v);      /* keeps the array sorted */
void nv_remove_vma(naive_mm *nm, nvma *v);
nvma *nv_split(naive_mm *nm, nvma *v, uint64_t addr); /* __split_vma; returns the upper piece */
bool nv_range_has_vma(naive_mm *nm, uint64_t start, uint64_t end);

mm_page_state nv_page_get(const naive_mm *nm, uint64_t addr);
void nv_page_set(naive_mm *nm, uint64_t addr, mm_page_state st); /* NONE removes */
/* MADV_FREE's mark on an anonymous page, cleared by the next store. */
void nv_page_set_lazyfree(naive_mm *nm, uint64_t addr, bool lazyfree);
bool nv_page_is_lazyfree(const naive_mm *nm, uint64_t addr);
/* The 512 anonymous pages of [haddr, haddr + 2 MiB) become one new THP. */
void nv_pages_make_thp(naive_mm *nm, uint64_t haddr);
npage *nv_page_find(naive_mm *nm, uint64_t addr);
/* Restores the address order of the pages array after addresses changed. */
void nv_pages_resort(naive_mm *nm);
/* keep_guards: keep guard markers and uffd-wp markers (a zap that is not an unmap) */
void nv_pages_clear(naive_mm *nm, uint64_t start, uint64_t end, bool keep_guards);
/* userfaultfd write protection of the page at addr (naive_uffd.c): whether
 * the entry is protected (a page with the bit or a marker); set or clear
 * it (clearing a marker removes it; setting on an empty entry makes one). */
bool nv_uffd_wp_get(naive_mm *nm, uint64_t addr);
void nv_uffd_wp_set(naive_mm *nm, uint64_t addr, bool on);
/* A uffd-wp marker at addr (an empty entry, protected). */
bool nv_uffd_wp_marker(naive_mm *nm, uint64_t addr);

nregion *nv_region_get(naive_mm *nm, uint64_t addr);
void nv_region_set(naive_mm *nm, uint64_t addr, nregion_kind kind);
void nv_region_drop(naive_mm *nm, uint64_t addr);
void nv_regions_split_partial(naive_mm *nm, uint64_t start, uint64_t end);
void nv_regions_free_unspanned(naive_mm *nm);

nobject *nv_object(naive_mm *nm, mm_backing kind, uint32_t id);
bool nv_is_cached(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index);
void nv_cache_add(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index);
/* The page of v at addr was written through v (a shared mapping). */
void nv_cache_mark_dirty(naive_mm *nm, const nvma *v, uint64_t addr);
bool nv_cache_is_dirty(const naive_mm *nm, const nvma *v, uint64_t addr);
/* PG_mlocked of the cached page v maps at addr (ncached.mlocked). */
void nv_cache_set_mlocked(naive_mm *nm, const nvma *v, uint64_t addr, bool on);
bool nv_cache_is_mlocked(const naive_mm *nm, const nvma *v, uint64_t addr);
void nv_cache_remove_range(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first, uint64_t last_excl);

uint64_t nv_vma_file_index(const nvma *v, uint64_t addr); /* vm_pgoff + page offset in VMA */
/* Huge page-cache folios: the 512 pages from `first` (a multiple of 512)
 * are one folio. Removing any of them (nv_cache_remove_range) splits it. */
bool nv_cache_is_huge(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first);
/* Makes [first, first + 512) one dirty huge folio, adding missing pages. */
void nv_cache_make_huge(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first);
/* The order of the cached folio holding page index (0 if not cached or small). */
unsigned nv_cache_order(const naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index);
void nv_cache_set_order(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index, unsigned order);
/* The folio holding index (order > 0) leaves every mapping of the object
 * and becomes small folios (split_folio of a file folio). */
void nv_cache_split_folio(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t index);
/* Every mapping of the cached pages [first, first + n) of the object goes:
 * page states `file` there become none, PMD mappings of them are dropped. */
void nv_unmap_cache_pages(naive_mm *nm, mm_backing kind, uint32_t id, uint64_t first, uint64_t n);
/* A PMD-mapped huge page-cache folio at the 2 MiB region of addr is zapped:
 * its pages are no longer mapped there and the PMD is none. */
void nv_region_zap_file(naive_mm *nm, uint64_t addr);
/* A PMD mapping of r becomes a PTE table (__split_huge_pmd_locked); for an
 * anonymous THP the dirty PMD dirties every page (see naive_core.c). */
void nv_region_pmd_to_ptes(naive_mm *nm, nregion *r);
/* naive_fault.c: a fault that maps a whole huge page-cache folio (true: done). */
bool nv_fault_huge_cache(naive_mm *nm, nvma *v, uint64_t addr, bool write);

/* ---- naive_data.c: page contents ---- */
/* A private file page was copied on write: the anonymous page now at addr
 * in v gets the contents of the file's page (do_cow_fault, wp_page_copy). */
void nv_page_copy_file(naive_mm *nm, const nvma *v, uint64_t addr);
/* Whether the page holds only zeroes (try_to_map_unused_to_zeropage). */
bool nv_page_zero_filled(const npage *p);
/* `touch ADDR w` stores one zero byte (mmref-kernel: movb $0). */
void nv_store_zero_byte(naive_mm *nm, uint64_t addr);

/* ---- naive_core.c: the profile's limits (mm_config: memlock) ---- */
/* capable(CAP_IPC_LOCK): the profile gives MM_MEMLOCK_UNLIMITED for it too */
bool nv_capable_ipc_lock(const naive_mm *nm);
/* mm/mlock.c: can_do_mlock(): RLIMIT_MEMLOCK != 0 or CAP_IPC_LOCK */
bool nv_can_do_mlock(const naive_mm *nm);
/* rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT */
uint64_t nv_memlock_pages(const naive_mm *nm);
/* mm/mmap.c: mlock_future_ok(mm, vm_flags, bytes) */
bool nv_mlock_future_ok(const naive_mm *nm, uint64_t vm_flags, uint64_t bytes);

/* ---- naive_fork.c: other processes ---- */
/* Calls fn on every process's state, the current one's included (with nm
 * itself, the others swapped in one at a time and back). */
void nv_for_each_process(naive_mm *nm, void (*fn)(naive_mm *nm, void *ctx), void *ctx);
/* How many pages, in every process, map the folio of anonymous page p:
 * 1 for a page of its own. */
unsigned nv_anon_mapcount(naive_mm *nm, const npage *p);
/* A store to anonymous page p: a folio shared with another process is
 * copied first (do_wp_page -> wp_page_copy); the copy is a new folio, clean
 * of the old one's lazyfree and mlocked marks. */
void nv_anon_cow_break(naive_mm *nm, npage *p);
/* naive_destroy: the saved processes go. */
void nv_free_processes(naive_mm *nm);

/* ---- naive_merge.c ---- */
bool nv_anon_compatible(uint32_t a, uint32_t b);
nvma *nv_merge_new_range(naive_mm *nm, const nvma *proposed, bool just_expand);
/* The same with the VMA [apart_start, apart_end) kept out as prev or next
 * (apart_end 0: none). */
nvma *nv_merge_new_range_apart(naive_mm *nm, const nvma *proposed, bool just_expand, uint64_t apart_start,
                               uint64_t apart_end);
int nv_modify_flags(naive_mm *nm, nvma *middle, uint64_t start, uint64_t end, uint64_t newflags,
                    nvma **result);
uint32_t nv_anon_vma_prepare(naive_mm *nm, nvma *v);

/* ---- naive_mmap.c ---- */
int64_t nv_get_unmapped_area(naive_mm *nm, mm_backing backing, uint64_t addr, uint64_t len, uint64_t pgoff,
                             uint64_t flags);
int nv_do_munmap(naive_mm *nm, uint64_t start, uint64_t len);

/* ---- naive_fault.c ---- */
/* NV_FAULT_UFFD_*: fs/userfaultfd.c handle_userfault() -- the fault is the
 * userfaultfd's (a user access reports it; a populate gets SIGBUS, the
 * context being UFFD_USER_MODE_ONLY). */
typedef enum nv_fault_result {
	NV_FAULT_OK = 0,
	NV_FAULT_SIGSEGV,
	NV_FAULT_SIGBUS,
	NV_FAULT_UFFD_MISSING,
	NV_FAULT_UFFD_MINOR,
	NV_FAULT_UFFD_WP, /* a write to a write-protected page */
} nv_fault_result;
nv_fault_result nv_handle_fault(naive_mm *nm, nvma *v, uint64_t addr, bool write);
/* UFFDIO_COPY (every word `value`) or UFFDIO_ZEROPAGE of the page at addr
 * of v: 0 or -EEXIST/-EFAULT (mm/userfaultfd.c mfill_atomic_pte). */
int nv_uffd_fill_page(naive_mm *nm, nvma *v, uint64_t addr, bool zeropage, uint64_t value);
/* UFFDIO_CONTINUE of the page at addr of the shmem VMA v: the cached page
 * mapped (write-protected if wp). 0 or -EEXIST/-EFAULT/-EINVAL (mfill_atomic_pte_continue). */
int nv_uffd_continue_page(naive_mm *nm, nvma *v, uint64_t addr, bool wp);
/* Every word of the (anonymous or cached) page mapped at addr becomes value. */
void nv_fill_page(naive_mm *nm, uint64_t addr, uint64_t value);
/* __mm_populate(start, len, ignore_errors): 0 or -EFAULT/-ENOMEM as gup reports */
int nv_mm_populate(naive_mm *nm, uint64_t start, uint64_t len, bool ignore_errors);

/* ---- kernel versions (profile kernel=6.1|6.12|6.18; docs/versions.md) ---- */
/* Each feature with the release that brought it, read off the kernels'
 * sources (Debian's linux-source-6.1 and -6.12, and 6.18). */
typedef enum nv_feature {
	NV_MAP_STACK_NOHUGEPAGE, /* 6.7: calc_vm_flag_bits() maps MAP_STACK to VM_NOHUGEPAGE */
	NV_MSEAL,                /* 6.10: the mseal system call (ENOSYS before) */
	NV_MAP_DROPPABLE,        /* 6.11: map type MAP_DROPPABLE (EINVAL before) */
	NV_GUARD_REGIONS,        /* 6.13: MADV_GUARD_INSTALL/REMOVE (EINVAL before) */
	NV_ANON_THP_ALIGN,       /* 6.7: no-hint private anonymous 2 MiB multiples placed 2 MiB-aligned */
	NV_MREMAP_CHECKS_EARLY,  /* 6.16: mremap checks new_addr before looking the VMA up (EFAULT) */
	NV_MREMAP_MULTI_VMA,     /* 6.17: a same-size MREMAP_FIXED move may span several VMAs */
	NV_SPLIT_TO_ZEROPAGE,    /* 6.12: a split anonymous THP maps its zero-filled pages to the zero page */
	NV_HUGE_ZERO_WP_THP,     /* 6.13: a write to the huge zero page maps a THP (before: split, one page) */
	NV_MPROTECT_UNACCOUNT,   /* 6.7, 9b9143298585: removing write from an anon VMA without anon_vma drops VM_ACCOUNT */
	NV_POPULATE_STOPS_AT_HOLE, /* 6.9: MADV_POPULATE_* outside madvise_walk_vmas: a hole ends it (before: skipped, ENOMEM at the end) */
	NV_DONTUNMAP_SELF_MERGE, /* by 6.18: a DONTUNMAP copy may merge with its unfaulted source (6.1.192, 6.12.118 keep_source: not) */
	NV_DONTUNMAP_APART_ONE_SIDE, /* 6.12: keep_source leaves only the source out of the merge (6.1: no merge when touching it) */
	NV_ANON_MERGE_INTO_UNFAULTED, /* by 6.18: a faulted range may merge into a neighbour without anon_vma (6.1, 6.12: no) */
	NV_COLLAPSE_WITHOUT_WRITABLE, /* by 6.18: MADV_COLLAPSE of a table with no writable page makes a THP (6.1, 6.12: SCAN_PAGE_RO, EINVAL) */
	NV_PT_RECLAIM, /* 6.14: MADV_DONTNEED frees the PTE tables it empties (CONFIG_PT_RECLAIM) */
	NV_LAZYFREE_BATCH_UNMAP, /* 6.15, 354dffd29575: PAGEOUT of a lazyfree THP mapped by PTEs keeps all of it when a page was written (before: the pages before that one go) */
	NV_THP_PTE_BATCH, /* 6.10: FREE/COLD/PAGEOUT take a PTE-mapped THP as a batch, split only one covered in part (before: split each one met, stop at one that looks shared) */
	NV_DONTUNMAP_UNLOCKS_WHOLE, /* by 6.18: DONTUNMAP unlocks the whole locked source VMA, charge kept (6.1, 6.12: split first) */
} nv_feature;
static inline bool nv_has(const naive_mm *nm, nv_feature f)
{
	static const unsigned since[] = {
		[NV_MAP_STACK_NOHUGEPAGE] = 607,
		[NV_MSEAL] = 610,
		[NV_MAP_DROPPABLE] = 611,
		[NV_GUARD_REGIONS] = 613,
		[NV_ANON_THP_ALIGN] = 607,
		[NV_MREMAP_CHECKS_EARLY] = 616,
		[NV_MREMAP_MULTI_VMA] = 617,
		[NV_SPLIT_TO_ZEROPAGE] = 612,
		[NV_HUGE_ZERO_WP_THP] = 613,
		[NV_MPROTECT_UNACCOUNT] = 607,
		[NV_POPULATE_STOPS_AT_HOLE] = 609,
		[NV_DONTUNMAP_SELF_MERGE] = 613,
		[NV_DONTUNMAP_APART_ONE_SIDE] = 612,
		[NV_DONTUNMAP_UNLOCKS_WHOLE] = 613,
		[NV_ANON_MERGE_INTO_UNFAULTED] = 613,
		[NV_COLLAPSE_WITHOUT_WRITABLE] = 613,
		[NV_PT_RECLAIM] = 614,
		[NV_THP_PTE_BATCH] = 610,
		[NV_LAZYFREE_BATCH_UNMAP] = 615,
	};
	return nm->cfg.kernel_version >= since[f];
}

/* Protection keys (profile pkeys): the key of a VMA sits in its flags as
 * VM_PKEY_BIT0..3 do in the kernel's vm_flags (so unequal keys never
 * merge). The only key a trace can give a VMA is the execute-only one, 1
 * (arch/x86/mm/pkeys.c: mm_pkey_alloc hands out the lowest free key and 0
 * is always taken). */
#define NV_EXEC_ONLY_KEY_FLAGS ((uint64_t)1 << MM_VM_PKEY_SHIFT)

/* arch_vma_access_permitted() for a data access of this process to v: every
 * task's PKRU starts as init_pkru_value, which disables access for every key
 * except 0; execute_only_pkey() disables it (again) for its key. */
static inline bool nv_key_allows_data(const nvma *v)
{
	return ((v->flags & MM_VM_PKEY_MASK) >> MM_VM_PKEY_SHIFT) == 0;
}

#endif

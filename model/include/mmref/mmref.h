/* libmmref: a reference model of Linux 6.18 (x86-64) memory management.
 *
 * One address space (struct mm_state) with Linux's VMA operations and
 * demand paging. Every operation returns what the system call returns:
 * 0 or an address on success, -errno on failure, and a failed call leaves
 * the state as Linux leaves it (unchanged, except where Linux itself applies
 * part of a call before failing: mprotect, madvise, munmap, mremap; see
 * docs/semantics.md).
 *
 * This header needs only <stdint.h>, <stdbool.h> and <stddef.h>: the model
 * depends on libc alone. Flag values are the Linux uapi values, so raw
 * system-call arguments can be passed through unchanged.
 */
#ifndef MMREF_MMREF_H
#define MMREF_MMREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Constants of x86-64 with 4-level paging ---------------------------- */
#define MM_PAGE_SHIFT 12
#define MM_PAGE_SIZE (1ull << MM_PAGE_SHIFT)
#define MM_PMD_SIZE (1ull << 21)
#define MM_TASK_SIZE 0x7ffffffff000ull /* TASK_SIZE_MAX, DEFAULT_MAP_WINDOW */
#define MM_DEFAULT_MMAP_MIN_ADDR 0x10000ull /* CONFIG_LSM_MMAP_MIN_ADDR floor */
#define MM_DEFAULT_STACK_GUARD_GAP (256ull << MM_PAGE_SHIFT)
#define MM_DEFAULT_MAX_MAP_COUNT 65530u

/* ---- vm_flags bits: include/linux/mm.h, 6.18.y (with the 6.18.37 backport
 * of VM_MAYBE_GUARD). The smaps mnemonic of each is in the comment. ------- */
#define MM_VM_READ (1ull << 0)         /* rd */
#define MM_VM_WRITE (1ull << 1)        /* wr */
#define MM_VM_EXEC (1ull << 2)         /* ex */
#define MM_VM_SHARED (1ull << 3)       /* sh */
#define MM_VM_MAYREAD (1ull << 4)      /* mr */
#define MM_VM_MAYWRITE (1ull << 5)     /* mw */
#define MM_VM_MAYEXEC (1ull << 6)      /* me */
#define MM_VM_MAYSHARE (1ull << 7)     /* ms */
#define MM_VM_GROWSDOWN (1ull << 8)    /* gd */
#define MM_VM_UFFD_MISSING (1ull << 9) /* um */
#define MM_VM_PFNMAP (1ull << 10)      /* pf */
#define MM_VM_MAYBE_GUARD (1ull << 11) /* gu: sticky, ignored by merge */
#define MM_VM_UFFD_WP (1ull << 12)     /* uw */
#define MM_VM_LOCKED (1ull << 13)      /* lo */
#define MM_VM_IO (1ull << 14)          /* io */
#define MM_VM_SEQ_READ (1ull << 15)    /* sr */
#define MM_VM_RAND_READ (1ull << 16)   /* rr */
#define MM_VM_DONTCOPY (1ull << 17)    /* dc */
#define MM_VM_DONTEXPAND (1ull << 18)  /* de */
#define MM_VM_LOCKONFAULT (1ull << 19) /* lf */
#define MM_VM_ACCOUNT (1ull << 20)     /* ac */
#define MM_VM_NORESERVE (1ull << 21)   /* nr */
#define MM_VM_HUGETLB (1ull << 22)     /* ht */
#define MM_VM_SYNC (1ull << 23)        /* sf */
#define MM_VM_ARCH_1 (1ull << 24)      /* ar */
#define MM_VM_WIPEONFORK (1ull << 25)  /* wf */
#define MM_VM_DONTDUMP (1ull << 26)    /* dd */
#define MM_VM_SOFTDIRTY (1ull << 27)   /* sd: only with mm_config.soft_dirty */
#define MM_VM_MIXEDMAP (1ull << 28)    /* mm */
#define MM_VM_HUGEPAGE (1ull << 29)    /* hg */
#define MM_VM_NOHUGEPAGE (1ull << 30)  /* nh */
#define MM_VM_MERGEABLE (1ull << 31)   /* mg */
#define MM_VM_UFFD_MINOR (1ull << 38)  /* ui */
#define MM_VM_DROPPABLE (1ull << 40)   /* dp */
#define MM_VM_SEALED (1ull << 42)      /* sl */
/* VM_PKEY_BIT0..3 (VM_HIGH_ARCH_0..3, x86): the VMA's protection key; no
 * VmFlags mnemonic (smaps shows it as ProtectionKey:). Only under profile
 * pkeys=on, where the execute-only key is the only one a trace can get. */
#define MM_VM_PKEY_SHIFT 32
#define MM_VM_PKEY_MASK (15ull << MM_VM_PKEY_SHIFT)

#define MM_VM_ACCESS_FLAGS (MM_VM_READ | MM_VM_WRITE | MM_VM_EXEC)
#define MM_VM_SPECIAL (MM_VM_IO | MM_VM_DONTEXPAND | MM_VM_PFNMAP | MM_VM_MIXEDMAP)
#define MM_VM_LOCKED_MASK (MM_VM_LOCKED | MM_VM_LOCKONFAULT)
#define MM_VM_STICKY (MM_VM_SOFTDIRTY | MM_VM_MAYBE_GUARD)
/* __VM_UFFD_FLAGS: the registration modes of a VMA (userfaultfd_k.h) */
#define MM_VM_UFFD_FLAGS (MM_VM_UFFD_MISSING | MM_VM_UFFD_WP | MM_VM_UFFD_MINOR)
#define MM_VM_IGNORE_MERGE MM_VM_STICKY

/* ---- System-call argument values (Linux uapi, x86-64) ------------------- */
#define MM_PROT_NONE 0x0
#define MM_PROT_READ 0x1
#define MM_PROT_WRITE 0x2
#define MM_PROT_EXEC 0x4
#define MM_PROT_SEM 0x8
#define MM_PROT_GROWSDOWN 0x01000000
#define MM_PROT_GROWSUP 0x02000000

#define MM_MAP_SHARED 0x01
#define MM_MAP_PRIVATE 0x02
#define MM_MAP_SHARED_VALIDATE 0x03
#define MM_MAP_DROPPABLE 0x08
#define MM_MAP_TYPE 0x0f
#define MM_MAP_FIXED 0x10
#define MM_MAP_ANONYMOUS 0x20
#define MM_MAP_32BIT 0x40
#define MM_MAP_ABOVE4G 0x80
#define MM_MAP_GROWSDOWN 0x0100
#define MM_MAP_DENYWRITE 0x0800
#define MM_MAP_EXECUTABLE 0x1000
#define MM_MAP_LOCKED 0x2000
#define MM_MAP_NORESERVE 0x4000
#define MM_MAP_POPULATE 0x8000
#define MM_MAP_NONBLOCK 0x10000
#define MM_MAP_STACK 0x20000
#define MM_MAP_HUGETLB 0x40000
#define MM_MAP_SYNC 0x80000
#define MM_MAP_FIXED_NOREPLACE 0x100000
#define MM_MAP_UNINITIALIZED 0x4000000
#define MM_MAP_HUGE_SHIFT 26
#define MM_MAP_HUGE_2MB (21u << MM_MAP_HUGE_SHIFT)
#define MM_MAP_HUGE_1GB (30u << MM_MAP_HUGE_SHIFT)

#define MM_MREMAP_MAYMOVE 1
#define MM_MREMAP_FIXED 2
#define MM_MREMAP_DONTUNMAP 4

#define MM_MLOCK_ONFAULT 1

#define MM_MADV_NORMAL 0
#define MM_MADV_RANDOM 1
#define MM_MADV_SEQUENTIAL 2
#define MM_MADV_WILLNEED 3
#define MM_MADV_DONTNEED 4
#define MM_MADV_FREE 8
#define MM_MADV_REMOVE 9
#define MM_MADV_DONTFORK 10
#define MM_MADV_DOFORK 11
#define MM_MADV_MERGEABLE 12
#define MM_MADV_UNMERGEABLE 13
#define MM_MADV_HUGEPAGE 14
#define MM_MADV_NOHUGEPAGE 15
#define MM_MADV_DONTDUMP 16
#define MM_MADV_DODUMP 17
#define MM_MADV_WIPEONFORK 18
#define MM_MADV_KEEPONFORK 19
#define MM_MADV_COLD 20
#define MM_MADV_PAGEOUT 21
#define MM_MADV_POPULATE_READ 22
#define MM_MADV_POPULATE_WRITE 23
#define MM_MADV_DONTNEED_LOCKED 24
#define MM_MADV_COLLAPSE 25
#define MM_MADV_HWPOISON 100
#define MM_MADV_SOFT_OFFLINE 101
#define MM_MADV_GUARD_INSTALL 102
#define MM_MADV_GUARD_REMOVE 103

/* x86 page-fault error code bits: Intel SDM 3A 4.7 */
#define MM_PF_PROT (1u << 0)
#define MM_PF_WRITE (1u << 1)
#define MM_PF_USER (1u << 2)
#define MM_PF_RSVD (1u << 3)
#define MM_PF_INSTR (1u << 4)
#define MM_PF_PK (1u << 5)

/* ---- Types --------------------------------------------------------------- */
typedef struct mm_state mm_state;

/* How transparent_hugepage/enabled is set (mm/huge_memory.c). */
typedef enum mm_thp_mode {
	MM_THP_NEVER = 0,   /* no THP at fault time; MADV_COLLAPSE still works */
	MM_THP_MADVISE = 1, /* only VMAs with VM_HUGEPAGE (MADV_HUGEPAGE) */
	MM_THP_ALWAYS = 2,  /* every eligible anonymous VMA without VM_NOHUGEPAGE */
} mm_thp_mode;

/* Whether shmem (memfd, shared anonymous memory) allocates PMD-sized folios
 * when it faults a page in: transparent_hugepage/shmem_enabled, or
 * transparent_hugepage/hugepages-2048kB/shmem_enabled where that is not
 * "inherit" (mm/shmem.c shmem_allowable_huge_orders, shmem_huge_global_enabled;
 * the internal mount behind memfd and shared anonymous memory follows the
 * sysfs setting). `deny` also refuses MADV_COLLAPSE there; under every other
 * value a forced collapse still makes huge folios. The model implements
 * `never` and `deny` (mm_config_supported). */
typedef enum mm_shmem_thp {
	MM_SHMEM_THP_NEVER = 0,
	MM_SHMEM_THP_ALWAYS = 1,
	MM_SHMEM_THP_WITHIN_SIZE = 2,
	MM_SHMEM_THP_ADVISE = 3,
	MM_SHMEM_THP_DENY = 4,
	MM_SHMEM_THP_FORCE = 5,
} mm_shmem_thp;

#define MM_MEMLOCK_UNLIMITED UINT64_MAX
#define MM_DEFAULT_KERNEL_VERSION 618u /* MAJOR * 100 + MINOR: Linux 6.18 */

/* Limits, layout and kernel profile of one address space.
 * mm_config_default() fills in the documented default profile (docs/profiles.md:
 * the kernel the project was first checked on); a caller that models another
 * kernel sets the profile fields (the harness does it from a `profile` line or
 * from a live target's detected profile), and may narrow the search window. */
typedef struct mm_config {
	uint64_t max_map_count;   /* vm.max_map_count */
	uint64_t mmap_min_addr;   /* effective floor (LSM), 0x10000 here */
	uint64_t stack_guard_gap; /* bytes kept below a VM_GROWSDOWN VMA */
	uint64_t mmap_base;       /* top of the top-down search (mm->mmap_base) */
	uint64_t mmap_low;        /* bottom of the search (low_limit), >= PAGE_SIZE */
	uint64_t stack_rlimit;    /* RLIMIT_STACK, bytes: bounds stack growth */
	bool thp_enabled;         /* CONFIG_TRANSPARENT_HUGEPAGE (anon 2 MiB alignment) */
	/* ---- the kernel profile (trace-format spec, Profiles; docs/profiles.md) ---- */
	unsigned kernel_version; /* profile `kernel`: MAJOR * 100 + MINOR (618) */
	bool zero_page;          /* profile `zero_page`: false = mm_forbids_zeropage() */
	mm_thp_mode thp_mode;    /* profile `thp`: transparent_hugepage/enabled */
	bool thp_zero_page;      /* profile `thp_zero_page`: transparent_hugepage/use_zero_page */
	unsigned overcommit;     /* profile `overcommit`: vm.overcommit_memory, 0..2 */
	uint64_t memlock;        /* profile `memlock`: RLIMIT_MEMLOCK in bytes as it binds this
	                          * process; MM_MEMLOCK_UNLIMITED for RLIM_INFINITY or when the
	                          * process has CAP_IPC_LOCK (mm/mlock.c: can_do_mlock()) */
	bool soft_dirty;         /* profile `soft_dirty`: CONFIG_MEM_SOFT_DIRTY (`sd` on new VMAs) */
	bool guard_flag;         /* profile `guard_flag`: MADV_GUARD_INSTALL marks the VMA
	                          * VM_MAYBE_GUARD (`gu`): 6.19+, and the 6.18 stable kernels
	                          * that took it (6.18.44 has it, 6.18.15 not) */
	mm_shmem_thp shmem_thp;  /* profile `shmem_thp`: shmem's PMD-sized folios (above) */
	bool memory_failure;     /* profile `memory_failure`: CONFIG_MEMORY_FAILURE (MADV_HWPOISON and
	                          * MADV_SOFT_OFFLINE exist); the model implements only `off`: a trace
	                          * using them under `on` is not applicable (target_not_applicable) */
	bool userfaultfd;        /* profile `userfaultfd`: the system call exists (CONFIG_USERFAULTFD,
	                          * and not a sandbox without it); off: every mm_uffd_* is -ENOSYS */
	bool pkeys;              /* profile `pkeys`: the CPU has PKU and the kernel turned it on
	                          * (OSPKE): a mapping whose prot is exactly PROT_EXEC gets the
	                          * mm's execute-only protection key, whose PKRU bits deny data
	                          * access (arch/x86/mm/pkeys.c execute_only_pkey) */
} mm_config;

typedef enum mm_backing {
	MM_BACKING_ANON = 0,  /* private anonymous */
	MM_BACKING_SHMEM = 1, /* shared anonymous: a shmem object of its own */
	MM_BACKING_FILE = 2,  /* a file object made with mm_file_create */
} mm_backing;

/* What a caller sees of one VMA: the facts /proc/self/{maps,smaps} show,
 * plus vm_pgoff (which maps hides for anonymous memory). */
typedef struct mm_vma_info {
	uint64_t start; /* vm_start */
	uint64_t end;   /* vm_end, exclusive */
	uint64_t flags; /* vm_flags */
	uint64_t pgoff; /* vm_pgoff, in pages */
	mm_backing backing;
	uint32_t object; /* FILE: the file id; SHMEM: the shmem object id; ANON: 0 */
} mm_vma_info;

typedef enum mm_page_state {
	MM_PAGE_NONE = 0,  /* not present */
	MM_PAGE_ZERO = 1,  /* the shared zero page (4 KiB or huge) */
	MM_PAGE_ANON = 2,  /* an anonymous page */
	MM_PAGE_FILE = 3,  /* a page-cache or shmem page */
	MM_PAGE_GUARD = 4, /* a guard marker (MADV_GUARD_INSTALL) */
} mm_page_state;

typedef enum mm_access { MM_ACCESS_READ = 0, MM_ACCESS_WRITE = 1, MM_ACCESS_EXEC = 2 } mm_access;

typedef enum mm_touch_outcome {
	MM_TOUCH_OK = 0,
	MM_TOUCH_SEGV_MAPERR = 1,
	MM_TOUCH_SEGV_ACCERR = 2,
	MM_TOUCH_SIGBUS = 3,
	/* The fault went to the process's userfaultfd (handle_userfault): the
	 * access did not happen; uffd_flags and uffd_addr say what the handler
	 * read (docs/trace-format.md, "userfaultfd"). */
	MM_TOUCH_UFFD = 4,
	/* SIGSEGV with si_code SEGV_PKUERR (4): a data access refused by a
	 * protection key (arch/x86/mm/fault.c bad_area_access_error ->
	 * bad_area_access_from_pkeys); only under profile pkeys=on */
	MM_TOUCH_SEGV_PKUERR = 5,
} mm_touch_outcome;

/* The SIGSEGV outcomes, which carry the page-fault error code (pf=). */
static inline bool mm_touch_is_segv(mm_touch_outcome o)
{
	return o == MM_TOUCH_SEGV_MAPERR || o == MM_TOUCH_SEGV_ACCERR || o == MM_TOUCH_SEGV_PKUERR;
}

/* uffd_msg.arg.pagefault.flags (include/uapi/linux/userfaultfd.h) */
#define MM_UFFD_FLAG_WRITE 1u
#define MM_UFFD_FLAG_WP 2u
#define MM_UFFD_FLAG_MINOR 4u

typedef struct mm_touch_result {
	mm_touch_outcome outcome;
	uint32_t pf_error;   /* REG_ERR as the signal context reports it (U always set) */
	uint32_t uffd_flags; /* MM_TOUCH_UFFD: MM_UFFD_FLAG_* */
	uint64_t uffd_addr;  /* MM_TOUCH_UFFD: the faulting page's address */
} mm_touch_result;

/* UFFDIO_REGISTER modes (include/uapi/linux/userfaultfd.h) */
#define MM_UFFD_MODE_MISSING 1u
#define MM_UFFD_MODE_WP 2u
#define MM_UFFD_MODE_MINOR 4u
/* UFFDIO_CONTINUE modes (include/uapi/linux/userfaultfd.h) */
#define MM_UFFD_CONTINUE_MODE_DONTWAKE 1u
#define MM_UFFD_CONTINUE_MODE_WP 2u
/* UFFDIO_WRITEPROTECT modes (include/uapi/linux/userfaultfd.h) */
#define MM_UFFDIO_WP_MODE_WP 1u
#define MM_UFFDIO_WP_MODE_DONTWAKE 2u

/* ---- Life cycle ------------------------------------------------------------ */
void mm_config_default(mm_config *cfg);
/* Whether the model has the rules of this profile: kernel_version 618 only
 * (docs/profiles-model.md), thp_mode and overcommit in range. mm_create
 * runs any config; a caller that must not run unmodelled rules asks here. */
bool mm_config_supported(const mm_config *cfg);
mm_state *mm_create(const mm_config *cfg); /* NULL: defaults. NULL on no memory. */
void mm_destroy(mm_state *mm);
/* Returns mm to what mm_create(cfg) gives (cfg NULL: defaults), keeping its
 * memory: every VMA and file goes, and only the page-table frames and frame
 * records that were used are cleared -- no allocation and no zeroing of the
 * rest, which is what makes a fresh address space per trace cheap (fuzzers).
 * 0, or -ENOMEM when re-making the zero pages fails (mm is then unusable:
 * mm_destroy it). */
int mm_reset(mm_state *mm, const mm_config *cfg);

/* A regular file of `size` bytes, opened read-write, that mm_mmap can map.
 * Returns its id (>= 1) or -ENOMEM. Every mapping of one id shares one
 * struct file, as one open file descriptor does. */
int mm_file_create(mm_state *mm, uint64_t size);

/* ---- Fault handlers: a mapping's own vm_operations (issue 20) ---------------- */
/* What a fault handler answers: include/linux/mm_types.h vm_fault_t. OK: the
 * page is supplied (its words filled in); SIGBUS / SIGSEGV: the access that
 * faulted gets that signal (VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV); OOM:
 * VM_FAULT_OOM, which the model reports as SIGBUS as for its own OOM. */
typedef enum mm_fault_status {
	MM_FAULT_OK = 0,
	MM_FAULT_SIGBUS = 1,
	MM_FAULT_SIGSEGV = 2,
	MM_FAULT_OOM = 3,
} mm_fault_status;

/* The fault a handler is asked to serve: the parts of struct vm_fault a
 * driver's ->fault reads. */
typedef struct mm_fault_info {
	int file;         /* the device's id (mm_device_create) */
	uint64_t pgoff;   /* vmf->pgoff: the page's offset in the device, in pages */
	uint64_t address; /* vmf->address: the faulting address, page aligned */
	bool write;       /* FAULT_FLAG_WRITE */
	bool shared;      /* the VMA is VM_SHARED (do_shared_fault), else a read or a COW */
	int proc;         /* the process that faulted (mm_current_proc) */
} mm_fault_info;

/* The operations of every VMA that maps a device: struct
 * vm_operations_struct, as the device's ->mmap installs it on the VMA. Only
 * fault is required; a NULL callback is one the device does not have, with
 * Linux's meaning of its absence. No callback may call back into the
 * mm_state. docs/api.md has the rules, each with its kernel function.
 *
 * fault: ->fault, called from __do_fault() (mm/memory.c) when a fault needs
 *   page vmf->pgoff and the device does not hold it yet: words (512 64-bit
 *   words, little endian, zero on entry) are the page's contents. The page
 *   it fills stays the device's (as the pages a driver or filemap_fault
 *   hands out), so every mapping of it -- shared, private, in any process --
 *   sees that one page and the handler is not asked again for it; a private
 *   mapping's write copies it (do_cow_fault).
 * map_pages: ->map_pages, fault-around (do_fault_around): on a read fault,
 *   before fault, the pages of the 16-page window around it (clipped to the
 *   VMA, its page table and the device's size) whose entries are empty are
 *   mapped as the read fault would map them (clean): those the device holds without asking, the others if
 *   map_pages fills their words and answers true (false: left alone, no
 *   signal). The faulting page is one of them; if it is not supplied, fault
 *   is asked. Without map_pages there is no fault-around.
 * page_mkwrite: ->page_mkwrite (do_page_mkwrite): the page vmf->pgoff is
 *   about to become writable in a shared mapping -- a write fault on an
 *   empty entry (do_shared_fault, after fault) or on a read-only one
 *   (wp_page_shared). Anything but MM_FAULT_OK refuses: the access gets
 *   that signal and the entry stays as it was. Having it makes every shared
 *   writable VMA of the device write-notify (vma_wants_writenotify): its
 *   pages are mapped read-only until written, and mprotect leaves clean
 *   ones read-only (can_change_shared_pte_writable).
 * open: ->open: a VMA of the device was made by a split (__split_vma: the
 *   new piece), an mremap move (copy_vma: unless it merged) or a fork
 *   (dup_mmap: the child's VMA; proc is the child). Not on mmap.
 * close: ->close: a VMA of the device goes: munmap, mmap over it, the
 *   source of an mremap move, exit (remove_vma); mm_destroy and mm_reset
 *   close as exit does. A device with close never has a VMA removed by a
 *   merge (can_merge_remove_vma), so every open is matched by a close.
 * may_split: ->may_split (__split_vma, and prep_move_vma for the ends of an
 *   mremap move): 0 allows splitting vma at addr, a negative errno refuses
 *   and is what the call that wanted the split returns (munmap, mprotect,
 *   madvise, mlock, mremap, mseal), with what it did before unchanged.
 * mremap: ->mremap (copy_vma_and_data): the VMA was moved to new_vma by
 *   mremap, its page tables already moved. A negative errno refuses: the
 *   tables move back, the new VMA is unmapped (and closed), the old one
 *   stays, and mremap returns the errno. */
typedef struct mm_vm_ops {
	mm_fault_status (*fault)(void *ctx, const mm_fault_info *vmf, uint64_t words[512]);
	bool (*map_pages)(void *ctx, const mm_fault_info *vmf, uint64_t words[512]);
	mm_fault_status (*page_mkwrite)(void *ctx, const mm_fault_info *vmf);
	void (*open)(void *ctx, int proc, const mm_vma_info *vma);
	void (*close)(void *ctx, int proc, const mm_vma_info *vma);
	int (*may_split)(void *ctx, const mm_vma_info *vma, uint64_t addr);
	int (*mremap)(void *ctx, const mm_vma_info *new_vma);
} mm_vm_ops;

/* A device of `size` bytes whose mappings take their page faults from ops
 * (copied; ctx is passed to each call). Returns its id (>= 1), which
 * mm_mmap maps as a file id, or -EINVAL (no ops->fault), -ENOMEM. Such VMAs
 * split, move and fork with their ops, and merge only with VMAs of the same
 * device (mm/vma.c is_mergeable_vma compares vm_file and vm_ops); the
 * device has no ->write, ->fallocate or huge pages: mm_file_write gives
 * -EINVAL, MADV_REMOVE -EOPNOTSUPP, MADV_COLLAPSE -EINVAL (docs/api.md). */
int mm_device_create(mm_state *mm, uint64_t size, const mm_vm_ops *ops, void *ctx);

/* Writes back the device's dirty pages, as the kernel's writeback does for a
 * file (write_cache_pages -> folio_clear_dirty_for_io -> folio_mkclean):
 * every page that some shared mapping maps dirty is write-protected and
 * cleaned in every shared mapping of every process (page_mkclean_one), so
 * the next write to it faults again -- and asks page_mkwrite, if the device
 * has it. The model keeps no dirty flag apart from the entries: a page whose
 * dirty entries were zapped (MADV_DONTNEED) counts as clean. Returns the
 * number of entries changed, or -EBADF (no such id), -EINVAL (not a device),
 * -ENOMEM (nothing changed). */
int mm_device_writeback(mm_state *mm, int dev);

/* ---- The system calls ------------------------------------------------------ */
/* file: a file id, or 0 for none (anonymous). off is in bytes. */
int64_t mm_mmap(mm_state *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file,
                uint64_t off);
int mm_munmap(mm_state *mm, uint64_t addr, uint64_t len);
int mm_mprotect(mm_state *mm, uint64_t addr, uint64_t len, uint64_t prot);
int64_t mm_mremap(mm_state *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                  uint64_t new_addr);
int mm_madvise(mm_state *mm, uint64_t addr, uint64_t len, int64_t advice);
int mm_mlock2(mm_state *mm, uint64_t addr, uint64_t len, uint64_t flags); /* mlock == flags 0 */
int mm_munlock(mm_state *mm, uint64_t addr, uint64_t len);
int mm_mseal(mm_state *mm, uint64_t addr, uint64_t len, uint64_t flags);
/* The process's userfaultfd (one per process, no features, user-mode faults
 * only; docs/trace-format.md "userfaultfd"): UFFDIO_REGISTER with
 * MM_UFFD_MODE_* bits, UFFDIO_UNREGISTER, UFFDIO_COPY of pages whose every
 * 64-bit word is `value`, UFFDIO_ZEROPAGE. 0 or -errno as the ioctl. */
int mm_uffd_register(mm_state *mm, uint64_t addr, uint64_t len, uint64_t mode);
int mm_uffd_unregister(mm_state *mm, uint64_t addr, uint64_t len);
int mm_uffd_copy(mm_state *mm, uint64_t addr, uint64_t len, uint64_t value);
int mm_uffd_zeropage(mm_state *mm, uint64_t addr, uint64_t len);
/* UFFDIO_CONTINUE with `mode` (MM_UFFD_CONTINUE_MODE_*): maps the pages the
 * shmem object already has in its page cache at [addr, addr + len)
 * (read-only in a private mapping), the way out of a minor fault; with
 * MM_UFFD_CONTINUE_MODE_WP (-EINVAL unless the VMA is registered wp) they
 * are mapped write-protected, as by mm_uffd_writeprotect. UFFDIO_WAKE: wakes the faults waiting in the range -- none here, as a
 * fault in a trace is abandoned -- so only its range checks show. 0 or
 * -errno as the ioctl (-EAGAIN after some pages). */
int mm_uffd_continue(mm_state *mm, uint64_t addr, uint64_t len, uint64_t mode);
int mm_uffd_wake(mm_state *mm, uint64_t addr, uint64_t len);
/* UFFDIO_WRITEPROTECT of [addr, addr + len) with MM_UFFDIO_WP_MODE_* bits:
 * WP on write-protects the pages of VM_UFFD_WP VMAs, WP off resolves. 0 or
 * -errno as the ioctl (a VMA met before an unregistered one keeps the change,
 * as in Linux). */
int mm_uffd_writeprotect(mm_state *mm, uint64_t addr, uint64_t len, uint64_t mode);

/* One byte accessed at addr from user mode, as a CPU would: walks the page
 * tables, takes the fault if there is one, and reports what the process sees. */
mm_touch_result mm_touch(mm_state *mm, uint64_t addr, mm_access access);

/* ---- Contents (issue 18) ------------------------------------------------------ */
/* A 64-bit little-endian store or load at addr (8-byte aligned; the low three
 * bits are ignored): it faults exactly as mm_touch(addr, WRITE / READ) does
 * and, when the access succeeds, stores value or sets *value (0 otherwise).
 * A page never written reads zero, or its file's contents. (mm_touch with
 * MM_ACCESS_WRITE stores one zero byte, as a `movb $0` would.) */
mm_touch_result mm_write(mm_state *mm, uint64_t addr, uint64_t value);
mm_touch_result mm_read(mm_state *mm, uint64_t addr, uint64_t *value);
/* pwrite(2) of nwords words at the 8-aligned byte offset off of a file made
 * by mm_file_create: the pages come into the page cache, dirty, as a write
 * to a memfd brings them. The range must lie within the file's size rounded
 * up to a page. 0, -EBADF (no such file), -EINVAL or -ENOMEM. */
int mm_file_write(mm_state *mm, int file, uint64_t off, const uint64_t *words, size_t nwords);

/* ---- Processes (issue 18) ------------------------------------------------------ */
/* An mm_state is a machine: the frames, page caches and contents are
 * shared by its processes, each with its own address space. Process 1 is
 * the one mm_create makes; every other call acts on the current process.
 * mm_fork copies the current process as fork(2) does (kernel/fork.c:
 * dup_mmap, copy_page_range) and returns the child's number (2, 3, ...,
 * never reused), or -ENOMEM, or -EAGAIN when 8 are live; mm_proc makes
 * process `proc` current (-ESRCH: no such live process); mm_exit ends one
 * (exit_mmap; -EINVAL for process 1, -ESRCH) -- if it was current, process
 * 1 becomes current. */
int mm_fork(mm_state *mm);
int mm_proc(mm_state *mm, int proc);
int mm_exit(mm_state *mm, int proc);
/* The current process's number. */
int mm_current_proc(const mm_state *mm);

/* ---- Observation ------------------------------------------------------------- */
size_t mm_map_count(const mm_state *mm);
/* mm->locked_vm in pages, as /proc/self/status VmLck shows it (in kB). */
uint64_t mm_locked_vm(const mm_state *mm);
/* The VMAs overlapping [lo, hi), in address order; returns how many there are
 * (which may exceed cap: only cap are written). */
size_t mm_vmas(const mm_state *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap);
mm_page_state mm_page(const mm_state *mm, uint64_t addr);
/* The states of npages pages from start (page aligned) into out, as
 * mm_page would give them one by one, in one pass over the tables. */
void mm_pages(const mm_state *mm, uint64_t start, size_t npages, uint8_t *out);

/* "rd wr mr mw me ac " style: each set bit's mnemonic followed by a space, in
 * bit order, as show_smap_vma_flags prints them (fs/proc/task_mmu.c). */
size_t mm_format_vmflags(uint64_t flags, char *buf, size_t size);
/* The same as kernel kernel_version (mm_config.kernel_version; 0: the newest
 * modelled) prints them: below 6.2 VM_LOCKONFAULT is "??" (docs/versions.md). */
size_t mm_format_vmflags_for(uint64_t flags, unsigned kernel_version, char *buf, size_t size);
/* "rw-p" as show_map_vma prints it: 's' iff VM_MAYSHARE. buf holds 5 bytes. */
void mm_format_perms(uint64_t flags, char buf[5]);

/* ---- The checker ----------------------------------------------------------- */
typedef struct mm_violation {
	int invariant; /* I1, I2, ...: see model/check.c */
	uint64_t vma_start, vma_end;
	char what[112];
} mm_violation;
/* Every broken invariant, up to cap written; returns the total found. */
size_t mm_check(const mm_state *mm, mm_violation *out, size_t cap);
/* The local mode: the invariants of the neighbourhood of each range
 * [ranges[i][0], ranges[i][1]) -- bounds, order, links and flags of the VMAs
 * overlapping it (widened by a page) and of one VMA on each side; the merge
 * rule at every boundary the last operation touched; the page-table entries
 * under the range (I11..I13, whole 2 MiB blocks) -- and map_count. What only
 * the whole can show (tree balance and gaps, reference counts, locked_vm,
 * frame map counts, leaks) is left to mm_check, which a caller runs at the
 * end and every so many operations. */
size_t mm_check_ranges(const mm_state *mm, const uint64_t (*ranges)[2], size_t nranges, mm_violation *out,
                       size_t cap);

/* ---- The allocation seam ---------------------------------------------------- */
/* Make the n-th allocation from now fail (1 = the next one); 0 disarms.
 * Lets tests and fuzzers drive every -ENOMEM path. */
void mm_fail_alloc_after(mm_state *mm, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif

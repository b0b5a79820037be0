/* mmref-kernel: the live-kernel target. Internal interfaces between the
 * pieces of the executable (docs/kernel-target.md describes the method). */
#ifndef MMREF_KERNEL_H
#define MMREF_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "trace.h"

#define K_PAGE 4096ull
#define K_TASK_SIZE 0x7ffffffff000ull  /* TASK_SIZE_MAX, 4-level paging */
#define K_MMAP_MIN_ADDR 0x10000ull     /* the effective floor (CONFIG_LSM_MMAP_MIN_ADDR) */
#define K_STACK_GUARD_GAP (1ull << 20) /* stack_guard_gap: 256 pages */

/* ---- PAGEMAP_SCAN (uapi linux/fs.h, 6.7+; the system headers may predate it) ------------ */
struct k_page_region {
	uint64_t start, end, categories;
};
struct k_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define K_PAGEMAP_SCAN _IOWR('f', 16, struct k_pm_scan_arg)
#define K_PAGE_IS_FILE (1ull << 2)
#define K_PAGE_IS_PRESENT (1ull << 3)
#define K_PAGE_IS_SWAPPED (1ull << 4)
#define K_PAGE_IS_PFNZERO (1ull << 5)
#define K_PAGE_IS_HUGE (1ull << 6)
#define K_PAGE_IS_GUARD (1ull << 8)

/* ---- output (out.c) ------------------------------------------------------------ */
void out_mem(const char *s, size_t n);
void out_str(const char *s);
void out_chr(char c);
void out_hex(uint64_t v);             /* lowercase, no prefix, no padding */
void out_dec(uint64_t v);
void out_flush(void);
void out_set_quiet(bool quiet);       /* drop output (replaying lines after a re-exec) */

/* ---- arena (arena.c) ------------------------------------------------------------ */
typedef enum {
	ARENA_OK = 0,
	ARENA_REFUSED = 1, /* *why says why; the arena is unusable until the next reset */
	ARENA_REEXEC = 2,  /* the old arena could not be emptied (sealed VMAs): start a fresh process */
} arena_status;

extern uint64_t k_arena_base, k_arena_end;
extern bool k_arena_ok;
extern uint64_t k_task_size;    /* K_TASK_SIZE, or probed (--task-size=probe) */
extern uint64_t k_stack_window; /* left free below [stack] (--stack-window; K_STACK_GUARD_GAP) */
extern bool k_no_pagemap;       /* --no-pagemap: page states unobservable, answered '?' */
/* --task-size=probe: sets k_task_size to the top found by probing. */
bool arena_probe_task_size(char *why, size_t whylen);

/* Called once at start-up, before anything else allocates: pins the heap. */
void arena_init_process(void);
/* Empties the old arena and installs [base, base + size) with placeholders
 * around it so that the kernel's no-hint search lands inside it. */
arena_status arena_setup(uint64_t base, uint64_t size, char *why, size_t whylen);
/* Empties the current arena (munmap); false when that failed (sealed). */
bool arena_clear(void);
/* True when none of the process's own memory moved since the arena was set
 * up (the heap did not grow, malloc did not fall back to mmap). */
bool arena_own_memory_intact(char *why, size_t whylen);
/* The cheap part of it, run after every line: malloc has not grown past the
 * pinned heap (its fallback mmap would land in the arena). */
bool arena_heap_intact(char *why, size_t whylen);
/* Number of VMAs of the process outside the arena (its own + placeholders + padding). */
unsigned arena_own_vma_count(void);
/* The own-VMA budget every arena is padded to (0 before the first arena);
 * a re-executed process takes its predecessor's (--own-vmas). */
unsigned arena_vma_budget(void);
void arena_set_vma_budget(unsigned budget);
/* The max_map_count a trace sees, in the model's terms (which counts its two
 * fences as VMAs): vm.max_map_count − budget + 2. */
uint64_t arena_trace_max_map_count(uint64_t sysctl);
/* true iff [a, a + len) lies in the arena (no overflow). len 0: a in [base, end]. */
bool arena_contains(uint64_t a, uint64_t len);

/* ---- limits (ops.c; options of main.c; docs/kernel-target.md "Limits") ------------------ */
#define K_MAX_FILES 1024                  /* files per trace */
#define K_MAX_FILE_NAME 249               /* memfd_create's limit on a name */
#define K_LIMIT_POPULATE (4ull << 30)     /* --max-populate: bytes a trace may make the kernel allocate */
#define K_LIMIT_FILE_BYTES (64ull << 30)  /* --max-file-bytes: total size of the files a trace declares */
extern uint64_t k_limit_populate, k_limit_file_bytes;

/* ---- files (ops.c) --------------------------------------------------------------- */
bool files_add(const char *name, uint64_t size, char *why, size_t whylen);
/* Writes f's initial contents into the file files_add made last. */
bool files_write_contents(const tr_file *f, char *why, size_t whylen);
void files_close_all(void);
int files_count(void);
/* Index (0-based) of the declared file with this inode, or -1. */
int files_find_inode(uint64_t dev, uint64_t ino);

/* ---- operations (ops.c) ------------------------------------------------------------ */
void touch_init(void);
/* In a child just forked: its own userfaultfd and worker, when it needs them. */
void ops_after_fork(void);
/* Runs one operation; false and *why when it was refused. */
bool op_exec(const trace *t, const tr_stmt *s, tr_result *res, char *why, size_t whylen);

/* ---- observations (observe.c) -------------------------------------------------------- */
bool observe_init(char *why, size_t whylen);
/* Prints the "| " lines of an observation; false and *why on failure. */
bool observe(const trace *t, const tr_stmt *s, char *why, size_t whylen);
/* After an operation: the ranges whose VMAs it may have changed (none for a
 * touch or page-only advice), whose VmFlags a windowed state reads afresh. */
void observe_note_op(const tr_stmt *s, const tr_result *res);
/* `state LO-HI ...` (docs/exec-protocol.md, the windowed state): the VMAs
 * within a page of the ranges, their pages inside them ('?' outside). */
/* A child just forked: reopens /proc/self files, forgets cached VmFlags. */
bool observe_after_fork(char *why, size_t whylen);
bool observe_window_parse(const char *args, char *why, size_t whylen); /* first */
bool observe_state_window(const trace *t, char *why, size_t whylen);

/* PROCMAP_QUERY (uapi linux/fs.h, 6.11+; the system headers may predate it). */
struct k_procmap_query {
	uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define K_PROCMAP_QUERY _IOWR('f', 17, struct k_procmap_query)
#define K_PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#define K_PROCMAP_QUERY_VMA_READABLE 0x1
#define K_PROCMAP_QUERY_VMA_WRITABLE 0x2
#define K_PROCMAP_QUERY_VMA_EXECUTABLE 0x4
#define K_PROCMAP_QUERY_VMA_SHARED 0x8

/* ---- profile (profile.c) --------------------------------------------------------------- */
extern tr_profile k_profile; /* the keys detected */
/* Detects every key of the running kernel's profile (before the arena exists). */
void profile_detect(void);
/* "profile KEY=VALUE ...\n" and one "# profile KEY: HOW\n" per key. */
const char *profile_announcement(void);
/* After the first arena: max_map_count becomes what a trace can really have. */
void profile_apply_own_vmas(void);
/* The 4 KiB zero page's PFN when detection saw it, else 0. */
uint64_t profile_zero_pfn(void);
/* --memlock: RLIMIT_MEMLOCK = bytes (MM_MEMLOCK_UNLIMITED: RLIM_INFINITY), and
 * CAP_IPC_LOCK dropped from every set so that the limit applies. */
bool profile_set_memlock(uint64_t bytes, char *why, size_t whylen);

/* As PID 1 (the /init of a vm:VERSION guest, init.c): mounts /proc, /sys and
 * /dev, takes the serial port as standard input and output, forks; returns
 * in the child. No-op otherwise. */
void k_init_if_pid1(void);

#endif

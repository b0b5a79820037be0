/* The in-process implementations (the model, the naive oracle) as one table
 * of mm_*-shaped functions: what the harness's in-process targets
 * (target_api.c) and the benchmarks (bench/) drive. */
#ifndef MMREF_MM_API_H
#define MMREF_MM_API_H

#include <stddef.h>
#include <stdint.h>

#include "mmref/mmref.h"

typedef struct mm_api {
	void *(*create)(const mm_config *cfg);
	void (*destroy)(void *mm);
	int (*file_create)(void *mm, uint64_t size);
	int64_t (*mmap)(void *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file, uint64_t off);
	int (*munmap)(void *mm, uint64_t addr, uint64_t len);
	int (*mprotect)(void *mm, uint64_t addr, uint64_t len, uint64_t prot);
	int64_t (*mremap)(void *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
	                  uint64_t new_addr);
	int (*madvise)(void *mm, uint64_t addr, uint64_t len, int64_t advice);
	int (*mlock2)(void *mm, uint64_t addr, uint64_t len, uint64_t flags);
	int (*munlock)(void *mm, uint64_t addr, uint64_t len);
	int (*mseal)(void *mm, uint64_t addr, uint64_t len, uint64_t flags);
	/* The process's userfaultfd (docs/trace-format.md, "userfaultfd"). */
	int (*uffd_register)(void *mm, uint64_t addr, uint64_t len, uint64_t mode);
	int (*uffd_unregister)(void *mm, uint64_t addr, uint64_t len);
	int (*uffd_copy)(void *mm, uint64_t addr, uint64_t len, uint64_t value);
	int (*uffd_zeropage)(void *mm, uint64_t addr, uint64_t len);
	int (*uffd_continue)(void *mm, uint64_t addr, uint64_t len, uint64_t mode);
	int (*uffd_wake)(void *mm, uint64_t addr, uint64_t len);
	int (*uffd_writeprotect)(void *mm, uint64_t addr, uint64_t len, uint64_t mode);
	mm_touch_result (*touch)(void *mm, uint64_t addr, mm_access access);
	/* Contents (issue 18): a 64-bit store and load, pwrite of a file. */
	mm_touch_result (*write)(void *mm, uint64_t addr, uint64_t value);
	mm_touch_result (*read)(void *mm, uint64_t addr, uint64_t *value);
	int (*file_write)(void *mm, int file, uint64_t off, const uint64_t *words, size_t nwords);
	/* Processes (issue 18): fork => the child's number, proc selects, exit ends. */
	int (*fork)(void *mm);
	int (*proc)(void *mm, int proc);
	int (*exit)(void *mm, int proc);
	size_t (*vmas)(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap);
	mm_page_state (*page)(const void *mm, uint64_t addr);
	void (*pages)(const void *mm, uint64_t start, size_t npages, uint8_t *out);
	/* Optional (NULL: destroy and create): returns mm to what create(cfg)
	 * gives, keeping its memory; 0 or a negative errno (mm unusable). */
	int (*reset)(void *mm, const mm_config *cfg);
} mm_api;

/* Defines `static const mm_api TABLE` over an implementation whose functions
 * are PREFIX_create, PREFIX_mmap, ... with the signatures of mmref.h -- the
 * model's mm_* and the naive oracle's naive_* -- converting the handle to and
 * from void *. The one place where an implementation is wired in. */
#define MM_API_TABLE(TABLE, PREFIX) MM_API_TABLE_(TABLE, PREFIX, MM_API_NO_RESET, NULL)
/* The same for an implementation that also has PREFIX_reset (mm_reset). */
#define MM_API_TABLE_WITH_RESET(TABLE, PREFIX) MM_API_TABLE_(TABLE, PREFIX, MM_API_HAS_RESET, TABLE##_reset)
#define MM_API_NO_RESET(TABLE, PREFIX)
#define MM_API_HAS_RESET(TABLE, PREFIX)                                                                    \
	static int TABLE##_reset(void *mm, const mm_config *cfg) { return PREFIX##_reset(mm, cfg); }
#define MM_API_TABLE_(TABLE, PREFIX, RESET, RESETFN)                                                              \
	RESET(TABLE, PREFIX)                                                                               \
	static void *TABLE##_create(const mm_config *cfg) { return PREFIX##_create(cfg); }                 \
	static void TABLE##_destroy(void *mm) { PREFIX##_destroy(mm); }                                    \
	static int TABLE##_file_create(void *mm, uint64_t size) { return PREFIX##_file_create(mm, size); } \
	static int64_t TABLE##_mmap(void *mm, uint64_t a, uint64_t l, uint64_t p, uint64_t f, int fd, uint64_t o) \
	{                                                                                                  \
		return PREFIX##_mmap(mm, a, l, p, f, fd, o);                                               \
	}                                                                                                  \
	static int TABLE##_munmap(void *mm, uint64_t a, uint64_t l) { return PREFIX##_munmap(mm, a, l); } \
	static int TABLE##_mprotect(void *mm, uint64_t a, uint64_t l, uint64_t p)                          \
	{                                                                                                  \
		return PREFIX##_mprotect(mm, a, l, p);                                                     \
	}                                                                                                  \
	static int64_t TABLE##_mremap(void *mm, uint64_t a, uint64_t ol, uint64_t nl, uint64_t f, uint64_t na) \
	{                                                                                                  \
		return PREFIX##_mremap(mm, a, ol, nl, f, na);                                              \
	}                                                                                                  \
	static int TABLE##_madvise(void *mm, uint64_t a, uint64_t l, int64_t adv)                          \
	{                                                                                                  \
		return PREFIX##_madvise(mm, a, l, adv);                                                    \
	}                                                                                                  \
	static int TABLE##_mlock2(void *mm, uint64_t a, uint64_t l, uint64_t f)                            \
	{                                                                                                  \
		return PREFIX##_mlock2(mm, a, l, f);                                                       \
	}                                                                                                  \
	static int TABLE##_munlock(void *mm, uint64_t a, uint64_t l) { return PREFIX##_munlock(mm, a, l); } \
	static int TABLE##_mseal(void *mm, uint64_t a, uint64_t l, uint64_t f) { return PREFIX##_mseal(mm, a, l, f); } \
	static int TABLE##_uffd_register(void *mm, uint64_t a, uint64_t l, uint64_t m) { return PREFIX##_uffd_register(mm, a, l, m); } \
	static int TABLE##_uffd_unregister(void *mm, uint64_t a, uint64_t l) { return PREFIX##_uffd_unregister(mm, a, l); } \
	static int TABLE##_uffd_copy(void *mm, uint64_t a, uint64_t l, uint64_t v) { return PREFIX##_uffd_copy(mm, a, l, v); } \
	static int TABLE##_uffd_zeropage(void *mm, uint64_t a, uint64_t l) { return PREFIX##_uffd_zeropage(mm, a, l); } \
	static int TABLE##_uffd_continue(void *mm, uint64_t a, uint64_t l, uint64_t m) { return PREFIX##_uffd_continue(mm, a, l, m); } \
	static int TABLE##_uffd_wake(void *mm, uint64_t a, uint64_t l) { return PREFIX##_uffd_wake(mm, a, l); } \
	static int TABLE##_uffd_writeprotect(void *mm, uint64_t a, uint64_t l, uint64_t m) { return PREFIX##_uffd_writeprotect(mm, a, l, m); } \
	static mm_touch_result TABLE##_touch(void *mm, uint64_t a, mm_access acc)                          \
	{                                                                                                  \
		return PREFIX##_touch(mm, a, acc);                                                         \
	}                                                                                                  \
	static mm_touch_result TABLE##_write(void *mm, uint64_t a, uint64_t v) { return PREFIX##_write(mm, a, v); } \
	static mm_touch_result TABLE##_read(void *mm, uint64_t a, uint64_t *v) { return PREFIX##_read(mm, a, v); } \
	static int TABLE##_file_write(void *mm, int f, uint64_t o, const uint64_t *w, size_t n)            \
	{                                                                                                  \
		return PREFIX##_file_write(mm, f, o, w, n);                                                \
	}                                                                                                  \
	static int TABLE##_fork(void *mm) { return PREFIX##_fork(mm); }                                   \
	static int TABLE##_proc(void *mm, int n) { return PREFIX##_proc(mm, n); }                          \
	static int TABLE##_exit(void *mm, int n) { return PREFIX##_exit(mm, n); }                          \
	static size_t TABLE##_vmas(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap) \
	{                                                                                                  \
		return PREFIX##_vmas(mm, lo, hi, out, cap);                                                \
	}                                                                                                  \
	static mm_page_state TABLE##_page(const void *mm, uint64_t a) { return PREFIX##_page(mm, a); }    \
	static void TABLE##_pages(const void *mm, uint64_t s, size_t n, uint8_t *out)                      \
	{                                                                                                  \
		PREFIX##_pages(mm, s, n, out);                                                             \
	}                                                                                                  \
	static const mm_api TABLE = {                                                                      \
	        .reset = RESETFN,                                                                          \
	        .create = TABLE##_create,                                                                  \
	        .destroy = TABLE##_destroy,                                                                \
	        .file_create = TABLE##_file_create,                                                        \
	        .mmap = TABLE##_mmap,                                                                      \
	        .munmap = TABLE##_munmap,                                                                  \
	        .mprotect = TABLE##_mprotect,                                                              \
	        .mremap = TABLE##_mremap,                                                                  \
	        .madvise = TABLE##_madvise,                                                                \
	        .mlock2 = TABLE##_mlock2,                                                                  \
	        .munlock = TABLE##_munlock,                                                                \
	        .mseal = TABLE##_mseal,                                                                    \
	        .uffd_register = TABLE##_uffd_register,                                                    \
	        .uffd_unregister = TABLE##_uffd_unregister,                                                \
	        .uffd_copy = TABLE##_uffd_copy,                                                            \
	        .uffd_zeropage = TABLE##_uffd_zeropage,                                                    \
	        .uffd_continue = TABLE##_uffd_continue,                                                    \
	        .uffd_wake = TABLE##_uffd_wake,                                                            \
	        .uffd_writeprotect = TABLE##_uffd_writeprotect,                                            \
	        .touch = TABLE##_touch,                                                                    \
	        .write = TABLE##_write,                                                                    \
	        .read = TABLE##_read,                                                                      \
	        .file_write = TABLE##_file_write,                                                          \
	        .fork = TABLE##_fork,                                                                      \
	        .proc = TABLE##_proc,                                                                      \
	        .exit = TABLE##_exit,                                                                      \
	        .vmas = TABLE##_vmas,                                                                      \
	        .page = TABLE##_page,                                                                      \
	        .pages = TABLE##_pages,                                                                    \
	}

/* The model (libmmref: mm_*) and the naive oracle (naive_*). */
const mm_api *mm_api_model(void);
const mm_api *mm_api_naive(void);

#endif

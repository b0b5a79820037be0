/* The naive oracle: the same address space as libmmref, written to be read
 * and believed. A sorted array of intervals and a per-page table; every
 * operation a linear scan. It shares nothing with the model but the public
 * types and constants of mmref/mmref.h. The functions mirror mm_* exactly. */
#ifndef MMREF_NAIVE_H
#define MMREF_NAIVE_H

#include "mmref/mmref.h"

typedef struct naive_mm naive_mm;

naive_mm *naive_create(const mm_config *cfg);
void naive_destroy(naive_mm *nm);
int naive_file_create(naive_mm *nm, uint64_t size);

int64_t naive_mmap(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file,
                   uint64_t off);
int naive_munmap(naive_mm *nm, uint64_t addr, uint64_t len);
int naive_mprotect(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t prot);
int64_t naive_mremap(naive_mm *nm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                     uint64_t new_addr);
int naive_madvise(naive_mm *nm, uint64_t addr, uint64_t len, int64_t advice);
int naive_mlock2(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t flags);
int naive_munlock(naive_mm *nm, uint64_t addr, uint64_t len);
int naive_mseal(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t flags);
/* The process's userfaultfd (naive_uffd.c). */
int naive_uffd_register(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode);
int naive_uffd_unregister(naive_mm *nm, uint64_t addr, uint64_t len);
int naive_uffd_copy(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t value);
int naive_uffd_zeropage(naive_mm *nm, uint64_t addr, uint64_t len);
int naive_uffd_continue(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode);
int naive_uffd_wake(naive_mm *nm, uint64_t addr, uint64_t len);
int naive_uffd_writeprotect(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode);
mm_touch_result naive_touch(naive_mm *nm, uint64_t addr, mm_access access);
/* Contents (naive_data.c): a 64-bit store and load, pwrite of a file. */
mm_touch_result naive_write(naive_mm *nm, uint64_t addr, uint64_t value);
mm_touch_result naive_read(naive_mm *nm, uint64_t addr, uint64_t *value);
int naive_file_write(naive_mm *nm, int file, uint64_t off, const uint64_t *words, size_t nwords);

/* Processes (issue 18; docs/trace-format.md): fork copies the current
 * process (dup_mmap) and returns the child's number (2, 3, ...); proc
 * selects the process every other call acts on (-ESRCH: none such); exit
 * ends one (-EINVAL for process 1, -ESRCH). At most 8 live (-EAGAIN). */
int naive_fork(naive_mm *nm);
int naive_proc(naive_mm *nm, int proc);
int naive_exit(naive_mm *nm, int proc);

size_t naive_map_count(const naive_mm *nm);
/* mm->locked_vm, in pages (VmLck / 4 KiB) */
uint64_t naive_locked_vm(const naive_mm *nm);
size_t naive_vmas(const naive_mm *nm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap);
mm_page_state naive_page(const naive_mm *nm, uint64_t addr);
void naive_pages(const naive_mm *nm, uint64_t start, size_t npages, uint8_t *out);

#endif

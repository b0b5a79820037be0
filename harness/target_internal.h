/* Internal to harness/: the in-process targets (model, naive) share one
 * implementation over a table of the mm_*-shaped functions. */
#ifndef MMREF_TARGET_INTERNAL_H
#define MMREF_TARGET_INTERNAL_H

#include "target.h"

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
	mm_touch_result (*touch)(void *mm, uint64_t addr, mm_access access);
	size_t (*vmas)(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap);
	mm_page_state (*page)(const void *mm, uint64_t addr);
	void (*pages)(const void *mm, uint64_t start, size_t npages, uint8_t *out);
} mm_api;

/* A target over api, named name. */
target *target_api_new(const mm_api *api, const char *name);
/* The address space of such a target, NULL before start. */
void *target_api_handle(const target *tg);
const mm_api *target_api_of(const target *tg);

#endif

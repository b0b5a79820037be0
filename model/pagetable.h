/* x86-64 4-level paging in simulated physical memory: the pool of frames
 * that hold page tables (pagetable.c). The hardware format (entry format,
 * Intel SDM Vol. 3A 4.5; the walker, SDM 4.5-4.8) is public, in
 * mmref/x86.h; Linux's page layer on top of it is pages.h and the files it
 * names.
 *
 * Depends on libc only. The walker never allocates.
 */
#ifndef MMREF_PAGETABLE_H
#define MMREF_PAGETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmref/x86.h"

/* The entry bits, the address split, x86_is_canonical48, x86_addr_mask and
 * the walker (mm_walk) are public: mmref/x86.h. The short names below are
 * the model's own. */
#define PT_LEVEL_SHIFT(l) X86_LEVEL_SHIFT(l)
#define PT_INDEX(va, l) X86_PT_INDEX(va, l)
#define PT_ENTRIES X86_PT_ENTRIES
#define pt_walk mm_walk

/* The cpu mode Linux runs user space under here (WP, NXE, SMEP, SMAP on). */
#define PG_MAXPHYADDR 48
extern const mm_cpu_mode pt_linux_user_mode;

/* mm_walk(pm, cr3, va, acc, 3, &pt_linux_user_mode), the same walk with the
 * same A/D updates, compiled for that mode alone (a user access's hot
 * path); it returns the outcome and the error code only. */
typedef struct {
	mm_walk_outcome outcome;
	uint32_t pf_error;
} pt_user_walk;
pt_user_walk pt_walk_linux_user(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc);

/* ---- Simulated physical memory holding page tables ---- */
/* One flat array of frames (mm_phys_mem), grown by doubling through the
 * alloc/release seam. Growth moves the array: callers hold pfns, never
 * entry pointers, across pt_phys_alloc. Frame 0 is never handed out, so
 * pfn 0 means failure. Freed frames are zeroed and reused. */
struct pt_phys {
	mm_phys_mem mem;     /* what the walker reads */
	uint64_t cap;        /* frames allocated in mem.words */
	uint64_t *free_pfns; /* stack of free pfns (capacity cap) */
	uint64_t nfree;
	uint64_t in_use; /* frames handed out */
	void *(*alloc)(void *ctx, size_t size); /* zeroed memory or NULL */
	void (*release)(void *ctx, void *p);
	void *ctx;
};

void pt_phys_init(struct pt_phys *ph, void *(*alloc)(void *ctx, size_t size), void (*release)(void *ctx, void *p),
                  void *ctx);
void pt_phys_fini(struct pt_phys *ph);
/* Every frame free again, as after pt_phys_init, keeping the memory: the
 * frames ever handed out are zeroed (only those). */
void pt_phys_reset(struct pt_phys *ph);
/* A zeroed frame: its pfn, or 0 when the seam fails (nothing changed). */
uint64_t pt_phys_alloc(struct pt_phys *ph);
/* Zeroes the frame and puts it back. */
void pt_phys_free(struct pt_phys *ph, uint64_t pfn);
/* The 512 words of a handed-out frame; valid until the next pt_phys_alloc. */
static inline uint64_t *pt_phys_table(const struct pt_phys *ph, uint64_t pfn) { return ph->mem.words + pfn * PT_ENTRIES; }

#endif

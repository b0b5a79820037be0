/* The naive x86-64 4-level page walker: a plain, literal reading of Intel SDM
 * Vol. 3A 4.5-4.8, slow on purpose, sharing no code with the model's walker
 * (model/pagetable.c). Same inputs and outputs as mm_walk (mmref/x86.h; the
 * types are in mmref/walk.h), so the two can be run side by side. */
#ifndef MMREF_WALKER_NAIVE_H
#define MMREF_WALKER_NAIVE_H

#include "mmref/walk.h"

mm_walk_result naive_walk(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc, unsigned cpl,
                          const mm_cpu_mode *mode);

#endif

/* contents.c: page contents (issue 18), by data frame. Below the frames:
 * a frame that is freed drops its record (fr_free -> ct_drop). Private. */
#ifndef MMREF_CONTENTS_H
#define MMREF_CONTENTS_H

#include "internal.h"

/* Word `word` (0..511) of data frame pfn: 0 for a frame never written. */
uint64_t ct_load(const mm_state *mm, uint64_t pfn, unsigned word);
/* Stores the bytes of value under mask into word `word` of pfn; 0 or -ENOMEM. */
int ct_store(mm_state *mm, uint64_t pfn, unsigned word, uint64_t value, uint64_t mask);
/* dst's contents become src's (a copy on write, a collapse); 0 or -ENOMEM. */
int ct_copy(mm_state *mm, uint64_t dst, uint64_t src);
/* The frame is freed: its contents go (frames.c fr_free). */
void ct_drop(mm_state *mm, uint64_t pfn);
/* Whether the frame holds only zeroes (try_to_map_unused_to_zeropage). */
bool ct_is_zero(const mm_state *mm, uint64_t pfn);
/* I20: records only for frames that hold data, as holds_data (the frame
 * layer's fr_holds_data, passed by the checker, which sits above both)
 * says. */
size_t ct_check(const mm_state *mm, bool (*holds_data)(const mm_state *mm, uint64_t pfn),
                void (*report)(void *ctx, int inv, const struct vma *v, const char *what), void *ctx);

#endif

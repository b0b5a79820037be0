/* frames.c: the data frames (anonymous pages, page-cache pages, the zero
 * page and the huge zero page) behind the leaf entries. Private. */
#ifndef MMREF_FRAMES_H
#define MMREF_FRAMES_H

#include "pages.h"

/* The frame of a data pfn, or NULL (a table pfn, or out of range). */
struct frame *fr_get(const struct page_tables *pt, uint64_t pfn);
/* One frame of kind: its pfn, or 0 on -ENOMEM. */
uint64_t fr_alloc(mm_state *mm, enum frame_kind kind);
/* 512 frames at a 512-aligned index (a THP or the huge zero folio): the
 * first pfn, or 0 on -ENOMEM. */
uint64_t fr_alloc_block(mm_state *mm, enum frame_kind kind);
/* The frame goes back, with its contents (ct_drop). */
void fr_free(struct page_tables *pt, uint64_t pfn);
uint64_t fr_alloc_anon(mm_state *mm);
uint64_t fr_alloc_thp(mm_state *mm); /* 512 frames, 2 MiB aligned */
uint64_t fr_zero_pfn(const mm_state *mm);
uint64_t fr_huge_zero_pfn(const mm_state *mm);
bool fr_is_anon(const mm_state *mm, uint64_t pfn);
/* An anonymous page mapped by exactly one entry (PageAnonExclusive). */
bool fr_anon_exclusive(const mm_state *mm, uint64_t pfn);
/* A page-cache frame written by write(2) is dirty. */
void fr_mark_dirty(mm_state *mm, uint64_t pfn);
/* An anonymous or page-cache frame in use (I20: only those hold contents). */
bool fr_holds_data(const mm_state *mm, uint64_t pfn);
/* Drops a frame (or THP) that was allocated but never mapped. */
void fr_free_unmapped(mm_state *mm, uint64_t pfn);
/* Anonymous frames in use (the leak tests). */
uint64_t fr_anon_frames(const mm_state *mm);

#endif

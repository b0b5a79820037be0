/* pagecache.c: the page cache of each backing object (shmem, memfd, the
 * declared files): page offset -> frame, and the huge folios MADV_COLLAPSE
 * made. Private. */
#ifndef MMREF_PAGECACHE_H
#define MMREF_PAGECACHE_H

#include "pages.h"

/* The slot holding the pfn of page pgoff, or NULL. */
uint64_t *pc_slot(const struct page_cache *c, uint64_t pgoff);
/* The large folio (order > 0) holding pgoff: its first page offset and
 * order (its index in c->huge in *at); false for a small folio. */
bool pc_folio(const struct page_cache *c, uint64_t pgoff, uint64_t *first, unsigned *order, size_t *at);
/* Whether pgoff lies in a huge (PMD-sized) folio (its index in c->huge in *at). */
bool pc_huge_at(const struct page_cache *c, uint64_t pgoff, size_t *at);
/* The 512 pages from base are one huge folio from now on (replacing any
 * smaller large folio there). 0 or -ENOMEM. */
int pc_mark_huge(mm_state *mm, struct page_cache *c, uint64_t base);
/* The large folio holding pgoff is small folios from now on. */
void pc_unmark(struct page_cache *c, uint64_t pgoff);
/* Splits the large folio holding page around it, buddy-style (pagecache.c). */
int pc_split_at(mm_state *mm, struct page_cache *c, uint64_t page);
/* The page-cache page of obj at pgoff, created (shmem_get_folio) if create;
 * 0 when absent or on -ENOMEM. */
uint64_t pc_page(mm_state *mm, struct mm_object *obj, uint64_t pgoff, bool create);
/* Drops page pgoff of the cache (it must be unmapped everywhere). */
void pc_drop(mm_state *mm, struct page_cache *c, uint64_t pgoff);
/* shmem_undo_range(): drops pages [pgoff, pend) from the cache. */
void pc_punch(mm_state *mm, struct page_cache *c, uint64_t pgoff, uint64_t pend);
/* The object's last reference is gone: its page cache goes. */
void pc_object_release(mm_state *mm, struct mm_object *obj);
/* Every object's cache goes (mm_reset, mm_destroy). */
void pc_free_all(mm_state *mm);

#endif

/* pgtable.c: Linux's page tables over the x86 tables of pagetable.c:
 * entries and their encodings, table allocation, and the range operations
 * of munmap, mremap, mprotect, MADV_DONTNEED, guard markers and hole
 * punching. Private. */
#ifndef MMREF_PGTABLE_H
#define MMREF_PGTABLE_H

#include "pages.h"

/* The life cycle of the page layer (mm_create, mm_reset, mm_destroy). */
int pg_create(mm_state *mm);
void pg_destroy(mm_state *mm);
/* mm_reset: the page layer as pg_create leaves it, in its own memory (every
 * VMA and object already gone). 0 or -ENOMEM. */
int pg_reset(mm_state *mm);

uint64_t *pg_words(mm_state *mm);
uint64_t pg_cr3(const mm_state *mm);
const mm_phys_mem *pg_mem(const mm_state *mm);
/* protection_map[] (arch/x86/mm/pgprot.c) for these vm_flags. */
uint64_t pg_vm_page_prot(uint64_t vm_flags);
/* A VMA's vm_page_prot: pg_vm_page_prot, read-only where it write-notifies. */
uint64_t pg_vma_page_prot(const struct vma *v);
/* An entry for pfn with flags (PROT_NONE entries hold the pfn inverted). */
uint64_t pg_mk_entry(uint64_t pfn, uint64_t flags, uint64_t pfn_mask);
/* The leaf slot for va: the PDE (*level 2) if a huge PMD maps it, else the
 * PTE (*level 1) if the page table exists; 0 if a table is missing. */
uint64_t pg_lookup(const mm_state *mm, uint64_t va, unsigned *level);
/* Where to look next when pg_lookup(va) found no table. */
uint64_t pg_skip_missing(const mm_state *mm, uint64_t va);
/* The first address of the next PMD after va's. */
uint64_t pg_pmd_end(uint64_t va);
/* A walk over the leaves of [start, end), in the manner of mm/pagewalk.c's
 * pmd_entry/pte_entry: pg_walk looks up each address, skips what has no
 * table and hands a PMD leaf (pmd) or a page table's run of PTEs from va up
 * to stop, the range's end within that table (ptes), to the walker. Each
 * callback returns the address to look at next: pg_pmd_end(va) or stop to
 * go on, va itself to look again (it split the leaf), or an address at or
 * past the range's end to stop the walk. */
struct pg_walker {
	uint64_t (*pmd)(mm_state *mm, uint64_t va, uint64_t wi, void *ctx);
	uint64_t (*ptes)(mm_state *mm, uint64_t va, uint64_t wi, uint64_t stop, void *ctx);
	void *ctx;
};
void pg_walk(mm_state *mm, uint64_t start, uint64_t end, const struct pg_walker *w);
/* The PDE slot of va, allocating the PDPT and PD: 0 on -ENOMEM. */
uint64_t pg_alloc_pmd(mm_state *mm, uint64_t va);
/* The PTE slot of va, allocating tables and splitting a huge PMD: 0 on
 * -ENOMEM. */
uint64_t pg_alloc_pte(mm_state *mm, uint64_t va);
/* Replaces the entry at wi (a PTE, or a PDE leaf when level is 2),
 * moving frame map counts from the old entry to the new one. */
void pg_set_entry(mm_state *mm, uint64_t wi, unsigned level, uint64_t val);
/* __split_huge_pmd_locked(): the PMD leaf at pde_wi becomes 512 PTEs, or,
 * mapping a page-cache folio, is cleared. 0 or -ENOMEM (nothing changed). */
int pg_split_huge_pmd(mm_state *mm, uint64_t pde_wi);
/* Whether the table at pfn holds no entry. */
bool pg_table_empty(const mm_state *mm, uint64_t pfn);
/* The PDE at pde_wi points to an (empty) page table: free it, clear the PDE.
 * A none or huge PDE is left alone. */
void pg_drop_page_table(mm_state *mm, uint64_t pde_wi);
/* Zaps the leaves of [start, end): pages always, guard markers only when
 * markers_too. */
void pg_zap_range(mm_state *mm, uint64_t start, uint64_t end, bool markers_too);
/* munmap: drop every entry (pages and guard markers) in [start, end) and
 * the tables free_pgtables() frees. */
void pg_unmap_range(mm_state *mm, uint64_t start, uint64_t end);
/* MADV_DONTNEED: drop pages, keep guard markers. */
void pg_zap_pages(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* mremap: move the entries of [old, old+len) to [new, new+len);
 * clear_uffd_wp for a VMA registered with the userfaultfd (move_ptes():
 * need_clear_uffd_wp): the entries lose their uffd-wp bit, uffd-wp markers
 * are dropped, and no page table moves whole. */
int pg_move_range(mm_state *mm, uint64_t old_start, uint64_t new_start, uint64_t len, bool clear_uffd_wp);
/* mprotect: re-encode present entries in [start, end) for v's new flags. */
void pg_change_protection(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end);
/* UFFDIO_WRITEPROTECT on (on) or off over [start, end) of v (uffd_wp_range).
 * 0 or -ENOMEM. */
int pg_uffd_wp_range(mm_state *mm, const struct vma *v, uint64_t start, uint64_t end, bool on);
int pg_guard_install(mm_state *mm, struct vma *v, uint64_t start, uint64_t end);
void pg_guard_remove(mm_state *mm, uint64_t start, uint64_t end);
/* Unmaps the page-cache pages of obj at [pgoff, pend) from every VMA that
 * maps them (unmap_mapping_range, even_cows = 0); COW copies stay. */
void pg_unmap_cache_pages(mm_state *mm, const struct mm_object *obj, uint64_t pgoff, uint64_t pend);
/* MADV_REMOVE (fallocate PUNCH_HOLE on shmem): drop pages [pgoff, pgoff +
 * npages) of obj from its page cache and unmap them from every VMA that maps
 * them; private COW copies and guard markers stay. */
void pg_punch_hole(mm_state *mm, struct mm_object *obj, uint64_t pgoff, uint64_t npages);
/* Writeback of every dirty page of obj (write_cache_pages ->
 * folio_clear_dirty_for_io -> folio_mkclean): a page is dirty while a shared
 * VMA maps it dirty; each such page is write-protected and cleaned in every
 * shared VMA of every process (page_mkclean_one), so that the next write
 * faults (and asks page_mkwrite). 0 or -ENOMEM (nothing done); *cleaned:
 * the entries changed. 4 KiB entries only (a device has no huge pages). */
int pg_mkclean_object(mm_state *mm, const struct mm_object *obj, unsigned *cleaned);
/* A VMA boundary is about to fall at addr: split a huge PMD spanning it. */
void pg_split_huge_at(mm_state *mm, uint64_t addr);
/* Page-table pages in use (the leak tests). */
uint64_t pg_table_pages(const mm_state *mm);

#endif

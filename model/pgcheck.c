/* The checker's page part (check.c runs it after the VMA part): every
 * entry, table and frame of the page layer against the VMAs and the
 * profile, and the map counts recounted.
 */
#include <stdlib.h>

#include "frames.h"
#include "pagecache.h"
#include "pgcheck.h"
#include "procs.h"

/* I11 every entry (page or marker) lies inside a VMA;
 * I12 no entry grants more than its VMA: P=1 needs an accessible VMA and
 *     U=1; RW only with VM_WRITE (private: only on an anonymous page); NX
 *     exactly when the VMA lacks VM_EXEC; PROT_NONE entries only in VMAs
 *     without R/W/X;
 * I13 the zero pages are never mapped writable, nor at all where the profile
 *     forbids them (zero_page=off; thp_zero_page=off for the huge one);
 * I14 every data frame's map count equals the entries that map it, and no
 *     entry maps a free frame;
 * I15 upper-level entries are tables in Linux's _PAGE_TABLE format;
 * I16 nothing leaks: every anonymous frame is mapped, every page-cache frame
 *     in its object's cache, every table page pointed to;
 * I18 (contents) no anonymous page is mapped twice in one process: an
 *     anonymous page belongs to one address of a process, and a second
 *     mapping would share data that Linux copies;
 * I19 (contents) every view of an object sees the same data: a shared
 *     mapping maps only page-cache pages, and a page-cache page is mapped
 *     only where its own object's page at that file offset belongs;
 * I21 (fork) an anonymous page that several processes map (shared
 *     copy-on-write since a fork) is writable in none of them: a store
 *     must fault and copy it (do_wp_page), or it would reach the others;
 * I22 (fork) an anonymous page lies only in a VMA with an anon_vma (the
 *     rmap that fork, reclaim and the COW reuse check go through);
 * I23 (userfaultfd wp) a uffd-wp marker is a PTE of a file (shmem) VMA:
 *     anonymous memory has none without UFFD_FEATURE_WP_UNPOPULATED
 *     (userfaultfd_wp_use_markers). (An entry with the uffd-wp bit may be
 *     writable: registering another mode drops VM_UFFD_WP without resolving,
 *     and a write then reuses the page with the bit kept, pte_mkwrite --
 *     [LIVE: corpus/traces/uffd/uffd-wp-*-unreg.trace].)
 * The walk covers every process's tables (procs_each): the frames are the
 * machine's, so I14 and I16 count over all processes. */
/* The recount's state across the processes' walks. */
struct pgc {
	void (*report)(void *ctx, int inv, const struct vma *v, const char *what);
	void *ctx;
	size_t n;
	uint32_t *counts; /* entries seen per frame, over every process */
	uint8_t *owner;   /* the ordinal of the last process that mapped the frame */
	uint64_t nseen, anon_seen, tables_seen;
	uint8_t ordinal;  /* of the process being walked, from 1 */
};

/* One process's tables: every entry against its VMAs, frames counted. */
static void walk_process(mm_state *mm, void *vctx)
{
	struct pgc *c = vctx;
	const struct page_tables *pt = mm->pt;
	struct page_tables *ptm = mm->pt;
	const uint64_t *w = pt->phys.mem.words;
	uint32_t *counts = c->counts;
	const struct vma *v = NULL; /* the VMA of the last entry, reused while it covers */
	c->ordinal++;
	c->tables_seen++; /* the PML4 */
#define REPORT(inv, v, what)                         \
	do {                                         \
		c->n++;                              \
		if (c->report)                       \
			c->report(c->ctx, inv, v, what); \
	} while (0)
	for (unsigned i4 = 0; i4 < 256; i4++) {
		uint64_t e4 = w[pt->pml4 * 512 + i4];
		if (!e4)
			continue;
		if ((e4 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
			REPORT(15, NULL, "PML4E not in _PAGE_TABLE format");
			continue;
		}
		c->tables_seen++;
		for (unsigned i3 = 0; i3 < 512; i3++) {
			uint64_t e3 = w[lx_table_pfn(e4) * 512 + i3];
			if (!e3)
				continue;
			if ((e3 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
				REPORT(15, NULL, "PDPTE not in _PAGE_TABLE format");
				continue;
			}
			c->tables_seen++;
			for (unsigned i2 = 0; i2 < 512; i2++) {
				uint64_t e2 = w[lx_table_pfn(e3) * 512 + i2];
				uint64_t va2 = ((uint64_t)i4 << 39) | ((uint64_t)i3 << 30) | ((uint64_t)i2 << 21);
				if (!e2)
					continue;
				unsigned nleaf = lx_pmd_huge(e2) ? 1 : 512;
				if (!lx_pmd_huge(e2) && (e2 & ~PG_PFN_MASK) != PG_TABLE_FLAGS) {
					REPORT(15, NULL, "PDE neither a table nor a huge leaf");
					continue;
				}
				c->tables_seen += !lx_pmd_huge(e2);
				for (unsigned i1 = 0; i1 < nleaf; i1++) {
					unsigned level = nleaf == 1 ? 2 : 1;
					uint64_t e = nleaf == 1 ? e2 : w[lx_table_pfn(e2) * 512 + i1];
					uint64_t va = va2 | ((uint64_t)i1 << 12);
					if (lx_none(e))
						continue;
					if (!v || va < v->vm_start || va >= v->vm_end)
						v = vt_lookup(&mm->vt, va);
					uint64_t vend = va + (level == 2 ? MM_PMD_SIZE : PAGE_SIZE);
					if (!v || vend > v->vm_end) {
						REPORT(11, v, "entry outside every VMA");
						continue;
					}
					if (e == LX_UFFD_WP_MARKER) {
						if (level != 1 || vma_is_anonymous(v))
							REPORT(23, v, "uffd-wp marker outside a file VMA's page table");
						continue;
					}
					if (!lx_present(e)) {
						if (level != 1 || e != LX_GUARD_MARKER)
							REPORT(12, v, "unknown non-present entry");
						continue;
					}
					uint64_t f = v->vm_flags;
					uint64_t pfn = lx_pfn(e, level == 2 ? PG_PMD_PFN_MASK : PG_PFN_MASK);
					if (lx_protnone(e) != !(f & MM_VM_ACCESS_FLAGS))
						REPORT(12, v, "PROT_NONE encoding disagrees with the VMA");
					if ((e & X86_P) && !(e & X86_US))
						REPORT(12, v, "user page without U/S");
					if ((e & X86_RW) && !(f & MM_VM_WRITE))
						REPORT(12, v, "RW without VM_WRITE");
					if ((e & X86_RW) && !(f & MM_VM_SHARED) && !fr_is_anon(mm, pfn))
						REPORT(12, v, "RW on a non-anonymous page of a private VMA");
					if ((e & X86_P) && !!(e & X86_XD) != !(f & MM_VM_EXEC))
						REPORT(12, v, "NX disagrees with VM_EXEC");
					if ((pfn == pt->zero_pfn || pfn == pt->hzero_pfn) && (e & X86_RW))
						REPORT(13, v, "zero page mapped writable");
					/* The profile: no zero page at all under
					 * mm_forbids_zeropage(), no huge one without
					 * use_zero_page. */
					/* (The 4 KiB one may still appear: a THP split
					 * maps zero-filled subpages to it whatever the
					 * profile [LIVE, pvm_no_zero_page=1].) */
					if (pfn == pt->hzero_pfn && !mm->cfg.zero_page)
						REPORT(13, v, "zero page mapped under zero_page=off");
					if (pfn == pt->hzero_pfn && !mm->cfg.thp_zero_page)
						REPORT(13, v, "huge zero page mapped under thp_zero_page=off");
					for (unsigned k = 0; k < (level == 2 ? PMD_PAGES : 1u); k++) {
						const struct frame *fr = fr_get(pt, pfn + k);
						if (!fr || fr->kind == FR_FREE)
							REPORT(14, v, "entry maps a free or unknown frame");
						/* I18, I19: contents (issue 18); I21, I22: fork. */
						else if (fr->kind == FR_ANON && c->owner &&
						         c->owner[pfn + k - PG_DATA_PFN_BASE] == c->ordinal)
							REPORT(18, v, "an anonymous page mapped twice in one process: shared where Linux copies");
						else if (fr->kind == FR_ANON && fr->mapcount > 1 && (e & X86_RW))
							REPORT(21, v, "an anonymous page another process maps is writable here: a store would reach it");
						else if (fr->kind == FR_ANON && !v->anon_vma)
							REPORT(22, v, "an anonymous page in a VMA without an anon_vma: no rmap reaches it");
						else if ((f & MM_VM_SHARED) && fr->kind != FR_CACHE)
							REPORT(19, v, "a shared mapping maps a page outside its object's cache");
						else if (fr->kind == FR_CACHE && level == 1 &&
						         (!v->obj || !pc_slot(v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT)) ||
						          *pc_slot(v->obj->cache, v->vm_pgoff + ((va - v->vm_start) >> PAGE_SHIFT)) != pfn))
							REPORT(19, v, "a page-cache page mapped at another file offset or object");
						if (counts && fr && fr->kind != FR_FREE) {
							uint64_t fi = pfn + k - PG_DATA_PFN_BASE;
							if (counts[fi]++ == 0) {
								ptm->check_seen[c->nseen++] = fi;
								c->anon_seen += fr->kind == FR_ANON;
							}
							c->owner[fi] = c->ordinal;
						}
					}
				}
			}
		}
	}
#undef REPORT
}

size_t pgcheck_tables(const mm_state *mm, void (*report)(void *ctx, int inv, const struct vma *v, const char *what),
                void *ctx)
{
	const struct page_tables *pt = mm->pt;
	/* The scratch arrays are kept between calls: the checker runs after
	 * every statement of a fuzz run. Outside the allocation seam: the
	 * checker must not change what the model's allocations do. */
	struct page_tables *ptm = mm->pt;
	if (ptm->check_cap < pt->nfm + 1) {
		free(ptm->check_counts);
		free(ptm->check_seen);
		free(ptm->check_owner);
		ptm->check_cap = pt->nfm + 1;
		ptm->check_counts = calloc(ptm->check_cap, sizeof(*ptm->check_counts));
		ptm->check_seen = malloc(ptm->check_cap * sizeof(*ptm->check_seen));
		ptm->check_owner = calloc(ptm->check_cap, sizeof(*ptm->check_owner));
		if (!ptm->check_counts || !ptm->check_seen || !ptm->check_owner) {
			free(ptm->check_counts);
			free(ptm->check_seen);
			free(ptm->check_owner);
			ptm->check_counts = NULL;
			ptm->check_seen = NULL;
			ptm->check_owner = NULL;
			ptm->check_cap = 0;
		}
	}
	struct pgc c = {.report = report, .ctx = ctx, .counts = ptm->check_counts, .owner = ptm->check_owner};
	/* Every process's tables: the frames are the machine's, so their map
	 * counts add up over all of them (procs.c). */
	procs_each(mm, walk_process, &c);
	uint32_t *counts = c.counts;
	size_t n = c.n;
#define REPORT(inv, v, what)                   \
	do {                                   \
		n++;                           \
		if (report)                    \
			report(ctx, inv, v, what); \
	} while (0)
	if (counts) {
		/* Every frame an entry maps has exactly that many entries; and
		 * since the map counts of all frames add up to no more than those
		 * seen, no frame counts a mapping that is not there. O(entries),
		 * not O(frames): the scratch array is zeroed as it is read. */
		uint64_t seen_total = 0;
		for (uint64_t i = 0; i < c.nseen; i++) {
			uint64_t f = ptm->check_seen[i];
			if (counts[f] != pt->fm[f].mapcount)
				REPORT(14, NULL, "frame map count differs from the entries that map it");
			seen_total += pt->fm[f].mapcount;
			counts[f] = 0;
			c.owner[f] = 0;
		}
		if (seen_total != pt->total_mapcount)
			REPORT(14, NULL, "frames count mappings that no entry makes");
		/* I16: nothing leaks. An anonymous frame lives only while mapped
		 * (zap frees it), a page-cache frame while in its object's cache,
		 * a table page while a table entry points to it. */
		if (c.anon_seen != pt->n_anon)
			REPORT(16, NULL, "anonymous frames that no entry maps");
	}
	uint64_t cached = 0;
	for (const struct page_cache *pc = pt->caches; pc; pc = pc->next)
		cached += pc->count;
	if (cached != pt->n_cache)
		REPORT(16, NULL, "page-cache frames in no object's cache");
	if (c.tables_seen != pt->phys.in_use)
		REPORT(16, NULL, "page-table pages that no table entry points to");
#undef REPORT
	return n;
}

/* A structured snapshot of one target's address space inside the arena:
 * what the diff engine compares after every statement. */
#ifndef MMREF_SNAPSHOT_H
#define MMREF_SNAPSHOT_H

#include <glib.h>
#include <stdint.h>

#include "mmref/mmref.h"
#include "trace.h"

typedef struct snap_vma {
	uint64_t start, end;
	uint64_t flags;   /* vm_flags as smaps shows them (mnemonics parsed back) */
	uint64_t offset;  /* the maps offset column, bytes (0 for private anon) */
	mm_backing backing;
	uint32_t object;  /* FILE: file index + 1 in the trace; SHMEM: N of shmem:N (listing order); ANON: 0 */
	guint first_page; /* index into snapshot.pages of this VMA's first page held */
	/* The pages held: [page_lo, page_hi) (a window snapshot holds only the
	 * part inside its ranges); 0, 0 when filled by snapshot_add_vma from a
	 * caller that does not set them: the whole VMA. */
	uint64_t page_lo, page_hi;
} snap_vma;

/* One range of addresses, [lo, hi). */
typedef struct snap_range {
	uint64_t lo, hi;
} snap_range;

typedef struct snapshot {
	GArray *vmas;  /* snap_vma, in address order */
	GArray *pages; /* guint8 mm_page_state, for every page of every VMA, in order */
	unsigned kernel_version; /* whose /proc text snapshot_render writes (VmFlags mnemonics); 0: the newest */
} snapshot;

/* A window snapshot (the diff engine's incremental comparison) holds, for
 * sorted disjoint ranges R, every VMA overlapping some [lo - 4K, hi + 4K) of
 * R -- its whole record -- and the states of its pages inside R only (the
 * hull of its parts inside R). A page not held reads as SNAP_PAGE_UNKNOWN. */
#define SNAP_PAGE_UNKNOWN 5
#define SNAP_WINDOW_MARGIN MM_PAGE_SIZE

void snapshot_init(snapshot *s);
void snapshot_clear(snapshot *s);
void snapshot_free(snapshot *s);

/* Renders observation lines (without the "| " prefix) from a snapshot:
 * maps, smaps, pages ADDR LEN, state. */
void snapshot_render(const snapshot *s, const trace *t, const tr_stmt *obs, GPtrArray *lines);
/* Parses the lines of a `state` observation back into a snapshot; FALSE and
 * *error on malformed input. */
gboolean snapshot_parse_state(snapshot *s, const trace *t, GPtrArray *lines, GError **error);
/* Describes the first difference between a and b, or returns NULL if equal. */
char *snapshot_diff(const snapshot *a, const snapshot *b, const trace *t);
/* The same, naming the two sides (e.g. "model", "naive"). */
char *snapshot_diff_labeled(const snapshot *a, const char *la, const snapshot *b, const char *lb, const trace *t);

/* The vm_flags bits /proc/self/smaps shows (those with a mnemonic): a target
 * masks its flags with this before filling a snapshot. */
uint64_t snapshot_visible_vmflags(void);
/* Appends a VMA and its page states (npages = (end - start) / page size);
 * fills first_page. */
void snapshot_add_vma(snapshot *s, const snap_vma *v, const guint8 *pages);
/* Whether s can take npages more page states within tr_limit's
 * max_snapshot_pages (--max-snapshot-pages). */
int snapshot_has_room(const snapshot *s, uint64_t npages);
/* The state of the page at addr: MM_PAGE_NONE outside every VMA. */
mm_page_state snapshot_page(const snapshot *s, uint64_t addr);
/* One VMA as a `state` line (without "| "); shmem_no is its N in shmem:N. */
void snapshot_render_vma(GString *out, const snapshot *s, const trace *t, const snap_vma *v, uint32_t shmem_no,
                         gboolean with_pages);

/* shmem:N numbering: objects numbered 1, 2, ... in order of first
 * appearance. A few distinct objects (the usual case) cost a linear search of
 * a small array and no allocation; more spill into a hash table. */
#define SNAP_SHMEM_INLINE 16
typedef struct snap_shmem_numbering {
	uint32_t key[SNAP_SHMEM_INLINE], no[SNAP_SHMEM_INLINE];
	guint n;
	uint32_t next;
	GHashTable *more; /* object + 1 -> N, past the first SNAP_SHMEM_INLINE */
} snap_shmem_numbering;
void snap_shmem_numbering_init(snap_shmem_numbering *sn);
uint32_t snap_shmem_number(snap_shmem_numbering *sn, uint32_t object);
void snap_shmem_numbering_fini(snap_shmem_numbering *sn);

/* Sorts and merges ranges (those closer than 2 margins become one). */
void snap_ranges_normalize(GArray *ranges);
/* The window of full over ranges (normalized) into out. */
void snapshot_window_extract(snapshot *out, const snapshot *full, const snap_range *r, guint nr);
/* out becomes a copy of in. */
void snapshot_copy(snapshot *out, const snapshot *in);
/* Lays the window snapshot win, taken over ranges r (normalized), on s: what
 * s would be had it been taken when win was, if nothing changed outside the
 * window in between. Every VMA of s that overlaps a range (with the window's
 * margin) or a VMA of win is replaced by win's VMAs; a page of a VMA of win
 * outside win's held pages keeps the state s had at its address
 * (SNAP_PAGE_UNKNOWN where s had none). The diff engine keeps each target's
 * state this way (divergence_state, diff.h). */
void snapshot_apply_window(snapshot *s, const snapshot *win, const snap_range *r, guint nr);
/* The page hull of one VMA [start, end) inside ranges: FALSE when none. */
gboolean snap_window_hull(uint64_t start, uint64_t end, const snap_range *r, guint nr, uint64_t *lo, uint64_t *hi);
/* Appends a VMA with the page states of [v->page_lo, v->page_hi) (pages holds
 * that many, or NULL: none present). */
void snapshot_add_vma_window(snapshot *s, const snap_vma *v, const guint8 *pages);

/* The bit of a VmFlags mnemonic ("nr" -> 32?), or -1. */
int snapshot_vmflag_bit(const char *mnemonic);
const char *snapshot_vmflag_name(int bit); /* "?" if none */
/* Comparison of targets that cannot see everything (mmref diff --ignore):
 * every page state becomes '?', the vmflags bits are cleared. */
void snapshot_ignore(snapshot *s, gboolean pages, uint64_t vmflags);

#endif

/* Fuzz target pagewalk: random page tables and accesses, the model's
 * walker (model/pagetable.c: mm_walk) against the naive walker
 * (oracle/naive/walker_naive.c: naive_walk). Each walker runs on its own
 * copy of physical memory, so the A/D bits each sets are compared too.
 *
 * Input: a 4-byte header (control bits, MAXPHYADDR, CR3), then 8-byte
 * records. A record whose first byte is even writes one paging-structure
 * entry: mostly a present entry pointing at another frame (so walks go
 * deep), with flag bits from the input and now and then XD, a protection
 * key, reserved bits above MAXPHYADDR or a large-page leaf. An odd first
 * byte makes an access: its address is built from the entry indices the
 * input has written (so it reaches them), with a kind, a CPL and an offset.
 * Frames NFRAMES..NFRAMES+1 are pointed at but unbacked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz_common.h"
#include "mmref/x86.h"
#include "walker_naive.h"

#define NFRAMES 8
#define WORDS (NFRAMES * 512)
#define MAX_RECORDS 128

static uint64_t mem_a[WORDS], mem_b[WORDS];

static G_NORETURN void walk_differs(const char *what, uint64_t va, mm_walk_access acc, unsigned cpl,
                                    const mm_cpu_mode *m, uint64_t cr3, const mm_walk_result *a,
                                    const mm_walk_result *b)
{
	fprintf(stderr,
	        "mmref: pagewalk-model-naive-%s\n"
	        "va=0x%016" G_GINT64_MODIFIER "x acc=%d cpl=%u cr3=0x%" G_GINT64_MODIFIER "x wp=%d nxe=%d smep=%d "
	        "smap=%d ac=%d M=%u\n"
	        "  mm_walk    outcome=%d pf=0x%x pa=0x%" G_GINT64_MODIFIER "x nread=%u leaf=%u\n"
	        "  naive_walk outcome=%d pf=0x%x pa=0x%" G_GINT64_MODIFIER "x nread=%u leaf=%u\n",
	        what, va, (int)acc, cpl, cr3, m->cr0_wp, m->efer_nxe, m->cr4_smep, m->cr4_smap, m->eflags_ac,
	        m->maxphyaddr, a->outcome, a->pf_error, a->pa, a->nread, a->leaf_level, b->outcome, b->pf_error, b->pa,
	        b->nread, b->leaf_level);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_source ds;
	decode_source_init(&ds, data, size);
	const guint8 *h = decode_bytes(&ds, 4);
	if (!h)
		return 0;
	mm_cpu_mode mode = {
		.cr0_wp = h[0] & 1,
		.efer_nxe = (h[0] & 2) != 0,
		.cr4_smep = (h[0] & 4) != 0,
		.cr4_smap = (h[0] & 8) != 0,
		.eflags_ac = (h[0] & 16) != 0,
		.maxphyaddr = (uint8_t)(32 + h[1] % 21),
	};
	if (h[0] & 0x80) /* the common machines */
		mode.maxphyaddr = (h[0] & 0x40) ? 46 : 52;
	uint64_t cr3 = (uint64_t)(1 + h[2] % (NFRAMES - 1)) << 12 | (h[3] & 0x18); /* PWT, PCD */
	memset(mem_a, 0, sizeof(mem_a));
	unsigned idx[4][4] = {{0}};
	unsigned nidx[4] = {0};
	const guint8 *r;
	for (int n = 0; n < MAX_RECORDS && (r = decode_bytes(&ds, 8)); n++) {
		if (!(r[0] & 1)) {
			/* an entry: frame f, index i (one of a few per level) */
			unsigned f = 1 + r[1] % (NFRAMES - 1);
			unsigned level = 1 + (r[0] >> 1) % 4; /* the level it is meant for: only picks its index */
			unsigned i = (r[2] | (unsigned)(r[3] & 1) << 8);
			if (nidx[level - 1] < 4)
				idx[level - 1][nidx[level - 1]++] = i;
			else
				idx[level - 1][r[3] >> 6] = i;
			uint64_t to = (uint64_t)(r[4] % (NFRAMES + 2)); /* 8, 9: unbacked */
			uint64_t e = to << 12 | (uint64_t)r[5] | (uint64_t)(r[6] & 0x1f) << 8;
			if (r[3] & 2)
				e |= X86_P | X86_US; /* mostly present and user: walks go on */
			if (r[3] & 4)
				e |= X86_RW;
			if ((r[7] & 7) == 0)
				e |= X86_XD;
			if ((r[7] & 0x18) == 0x18)
				e |= (uint64_t)(r[7] >> 5) << X86_PK_SHIFT; /* protection key bits */
			if ((r[7] & 0x60) == 0x60)
				e |= 1ull << (32 + r[6] % 20); /* maybe a reserved bit at or above M */
			if (r[3] & 8) /* a large leaf's frame: 2 MiB or 1 GiB aligned, or not (reserved bits) */
				e = (e & ~0x1ff000ull) | ((uint64_t)r[4] << 21) | X86_PS;
			mem_a[f * 512 + i] = e;
		} else {
			/* an access */
			uint64_t va = 0;
			for (unsigned l = 4; l >= 1; l--) {
				/* the level's indices as written; r2 when none was */
				unsigned k = r[2];
				if (nidx[l - 1])
					k = idx[l - 1][((r[1] >> (2 * (l - 1))) & 3) % nidx[l - 1]];
				va |= (uint64_t)(k & 511) << X86_LEVEL_SHIFT(l);
			}
			va |= (uint64_t)(r[3] | (r[4] & 0xf) << 8); /* page offset */
			if (va & (1ull << 47))
				va |= 0xffff000000000000ull; /* canonical */
			if ((r[5] & 0x1f) == 0x1f)
				va ^= 1ull << (48 + r[6] % 16); /* non-canonical: #GP */
			mm_walk_access acc = (mm_walk_access)((r[0] >> 1) % 5);
			unsigned cpl = (r[0] & 0x80) ? 0 : 3;
			if ((r[5] & 0xe0) == 0xe0)
				cpl = 1 + r[6] % 2;
			memcpy(mem_b, mem_a, sizeof(mem_a));
			mm_phys_mem pa = {mem_a, NFRAMES}, pb = {mem_b, NFRAMES};
			mm_walk_result ra = mm_walk(&pa, cr3, va, acc, cpl, &mode);
			mm_walk_result rb = naive_walk(&pb, cr3, va, acc, cpl, &mode);
			if (ra.outcome != rb.outcome)
				walk_differs("outcome", va, acc, cpl, &mode, cr3, &ra, &rb);
			if (ra.outcome == MM_WALK_PF && ra.pf_error != rb.pf_error)
				walk_differs("pf-error", va, acc, cpl, &mode, cr3, &ra, &rb);
			if (ra.outcome == MM_WALK_OK && (ra.pa != rb.pa || ra.leaf_level != rb.leaf_level))
				walk_differs("translation", va, acc, cpl, &mode, cr3, &ra, &rb);
			if (ra.nread != rb.nread || memcmp(ra.entry_pa, rb.entry_pa, sizeof(ra.entry_pa[0]) * ra.nread))
				walk_differs("entries-read", va, acc, cpl, &mode, cr3, &ra, &rb);
			if (memcmp(mem_a, mem_b, sizeof(mem_a)) != 0)
				walk_differs("accessed-dirty-bits", va, acc, cpl, &mode, cr3, &ra, &rb);
		}
	}
	return 0;
}

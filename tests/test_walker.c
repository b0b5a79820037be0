/* The x86-64 page walker: model/pagetable.c (mm_walk) against the SDM, by
 * hand-worked cases run on both walkers, and against the naive walker
 * (oracle/naive/walker_naive.c) by a seeded differential over random tables,
 * addresses, accesses and control-register settings.
 *
 * Every expected value below was worked out from Intel SDM Vol. 3A 4.5-4.8;
 * the section is cited with each case. Error codes: P=1 W=2 U=4 RSVD=8 I=0x10.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mmref/walk.h"
#include "mmref/x86.h"
#include "walker_naive.h"

typedef mm_walk_result (*walker_fn)(const mm_phys_mem *, uint64_t, uint64_t, mm_walk_access, unsigned,
                                    const mm_cpu_mode *);

static const struct {
	const char *name;
	walker_fn fn;
} walkers[] = {{"mm_walk", mm_walk}, {"naive_walk", naive_walk}};

/* ---- A small physical memory ------------------------------------------- */
#define NFRAMES 16
struct tmem {
	uint64_t words[NFRAMES][512];
	mm_phys_mem pm;
};

static struct tmem *tmem_new(uint64_t backed)
{
	struct tmem *m = g_new0(struct tmem, 1);
	m->pm.words = &m->words[0][0];
	m->pm.nframes = backed;
	return m;
}

/* The address used by the hand cases: PML4 index 255, PDPT 0x1a2, PD 0x0c3,
 * PT 0x1d4, offset 0xabc. */
#define VA ((0x0ffull << 39) | (0x1a2ull << 30) | (0x0c3ull << 21) | (0x1d4ull << 12) | 0xabcull)
/* Frames: PML4 1, PDPT 2, PD 3, PT 4; the 4 KiB page is at 0x5000. */
#define PML4E(m) (&(m)->words[1][0x0ff])
#define PDPTE(m) (&(m)->words[2][0x1a2])
#define PDE(m) (&(m)->words[3][0x0c3])
#define PTE(m) (&(m)->words[4][0x1d4])
#define CR3 0x1000ull
#define UW (X86_P | X86_RW | X86_US)

/* A 4 KiB mapping of VA with the given low flags at each level. */
static struct tmem *map4k(uint64_t f4, uint64_t f3, uint64_t f2, uint64_t f1)
{
	struct tmem *m = tmem_new(NFRAMES);
	*PML4E(m) = 0x2000 | f4;
	*PDPTE(m) = 0x3000 | f3;
	*PDE(m) = 0x4000 | f2;
	*PTE(m) = 0x5000 | f1;
	return m;
}

static const mm_cpu_mode linux_mode = {true, true, true, true, false, 46, false, 0};

struct expect {
	mm_walk_outcome outcome;
	uint32_t err;
	uint64_t pa;
};

/* Runs the access on a fresh copy of m with each walker and checks the
 * outcome, the error code and the physical address; returns the copy the
 * model's walker ran on (caller frees) so A/D can be checked. */
static struct tmem *run_both(const struct tmem *m, uint64_t cr3, uint64_t va, mm_walk_access acc, unsigned cpl,
                             const mm_cpu_mode *mode, struct expect want)
{
	struct tmem *copies[2];
	for (unsigned w = 0; w < 2; w++) {
		struct tmem *c = g_memdup2(m, sizeof(*m));
		c->pm.words = &c->words[0][0];
		mm_walk_result r = walkers[w].fn(&c->pm, cr3, va, acc, cpl, mode);
		if (r.outcome != want.outcome || r.pf_error != want.err || r.pa != want.pa)
			g_error("%s: va %#" PRIx64 " acc %d cpl %u: got outcome %d err %#x pa %#" PRIx64
			        ", want %d %#x %#" PRIx64,
			        walkers[w].name, va, acc, cpl, r.outcome, r.pf_error, r.pa, want.outcome, want.err,
			        want.pa);
		copies[w] = c;
	}
	g_assert_cmpmem(copies[0]->words, sizeof(copies[0]->words), copies[1]->words, sizeof(copies[1]->words));
	g_free(copies[1]);
	return copies[0];
}

static void check(const struct tmem *m, mm_walk_access acc, unsigned cpl, const mm_cpu_mode *mode,
                  struct expect want)
{
	g_free(run_both(m, CR3, VA, acc, cpl, mode, want));
}

#define OK(pa) ((struct expect){MM_WALK_OK, 0, (pa)})
#define PF(e) ((struct expect){MM_WALK_PF, (e), 0})
#define PA4K (0x5000ull | 0xabc)

/* SDM 4.5.4: a 4 KiB translation; 4.8: A in all four entries, D only on a
 * write and only in the PTE. */
static void test_translate_4k(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	struct tmem *r = run_both(m, CR3, VA, MM_WALK_READ, 3, &linux_mode, OK(PA4K));
	g_assert_cmphex(*PML4E(r), ==, 0x2000 | UW | X86_A);
	g_assert_cmphex(*PDPTE(r), ==, 0x3000 | UW | X86_A);
	g_assert_cmphex(*PDE(r), ==, 0x4000 | UW | X86_A);
	g_assert_cmphex(*PTE(r), ==, 0x5000 | UW | X86_A);
	g_free(r);
	r = run_both(m, CR3, VA, MM_WALK_WRITE, 3, &linux_mode, OK(PA4K));
	g_assert_cmphex(*PDE(r), ==, 0x4000 | UW | X86_A); /* no D above the leaf */
	g_assert_cmphex(*PTE(r), ==, 0x5000 | UW | X86_A | X86_D);
	g_free(r);
	g_free(m);
}

/* SDM 4.5.4 / table 4-19: a 2 MiB page, address bits M-1:21; bit 12 is PAT,
 * not address. Table 4-17: a 1 GiB page, bits M-1:30. */
static void test_translate_large(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	*PDE(m) = 0x40000000ull | X86_LPAT | X86_PS | UW;
	struct tmem *r = run_both(m, CR3, VA, MM_WALK_WRITE, 3, &linux_mode,
	                          OK(0x40000000ull | (VA & 0x1fffff)));
	g_assert_cmphex(*PDE(r), ==, 0x40000000ull | X86_LPAT | X86_PS | UW | X86_A | X86_D);
	g_assert_cmphex(*PTE(r), ==, 0x5000 | UW); /* not used */
	g_free(r);
	*PDPTE(m) = 0x1c0000000ull | X86_LPAT | X86_PS | UW;
	check(m, MM_WALK_READ, 3, &linux_mode, OK(0x1c0000000ull | (VA & 0x3fffffff)));
	g_free(m);
}

/* SDM 4.7: a non-present entry at any level gives P=0; the entries above
 * it get A (our rule), the non-present one is unchanged. */
static void test_not_present(void)
{
	for (int level = 4; level >= 1; level--) {
		struct tmem *m = map4k(UW, UW, UW, UW);
		uint64_t *e[] = {NULL, PTE(m), PDE(m), PDPTE(m), PML4E(m)};
		*e[level] &= ~X86_P;
		*e[level] |= 0xfff0000000000000ull; /* ignored when P=0 */
		struct tmem *r = run_both(m, CR3, VA, MM_WALK_WRITE, 3, &linux_mode, PF(0x6));
		uint64_t *re[] = {NULL, PTE(r), PDE(r), PDPTE(r), PML4E(r)};
		for (int l = 4; l >= 1; l--)
			g_assert_cmphex(*re[l] & X86_A, ==, l > level ? X86_A : 0);
		g_assert_cmphex(*re[1] & X86_D, ==, 0);
		g_free(r);
		check(m, MM_WALK_READ, 3, &linux_mode, PF(0x4));
		check(m, MM_WALK_FETCH, 3, &linux_mode, PF(0x14));
		check(m, MM_WALK_READ, 0, &linux_mode, PF(0x0));
		g_free(m);
	}
}

/* SDM 4.6.1: U/S=0 at any level makes a supervisor-mode address; a user
 * access to it faults with P=1. */
static void test_user_supervisor(void)
{
	for (int level = 4; level >= 1; level--) {
		uint64_t f[5] = {0, UW, UW, UW, UW};
		f[level] &= ~X86_US;
		struct tmem *m = map4k(f[4], f[3], f[2], f[1]);
		struct tmem *r = run_both(m, CR3, VA, MM_WALK_READ, 3, &linux_mode, PF(0x5));
		g_assert_cmphex(*PTE(r) & X86_A, ==, 0); /* the leaf of a faulting walk */
		g_assert_cmphex(*PDE(r) & X86_A, ==, X86_A);
		g_free(r);
		check(m, MM_WALK_WRITE, 3, &linux_mode, PF(0x7));
		check(m, MM_WALK_FETCH, 3, &linux_mode, PF(0x15));
		/* Supervisor: fine (not a user-mode address, so no SMAP/SMEP). */
		check(m, MM_WALK_READ, 0, &linux_mode, OK(PA4K));
		check(m, MM_WALK_FETCH, 0, &linux_mode, OK(PA4K));
		check(m, MM_WALK_WRITE, 0, &linux_mode, OK(PA4K));
		g_free(m);
	}
}

/* SDM 4.6.1: R/W=0 at any level forbids user writes; supervisor writes too
 * iff CR0.WP=1 (here on a supervisor-mode page, so SMAP stays out). */
static void test_read_write(void)
{
	for (int level = 4; level >= 1; level--) {
		uint64_t f[5] = {0, UW, UW, UW, UW};
		f[level] &= ~X86_RW;
		struct tmem *m = map4k(f[4], f[3], f[2], f[1]);
		struct tmem *r = run_both(m, CR3, VA, MM_WALK_WRITE, 3, &linux_mode, PF(0x7));
		g_assert_cmphex(*PTE(r) & (X86_A | X86_D), ==, 0); /* no D on a fault */
		g_free(r);
		check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K));
		f[1] &= ~X86_US;
		g_free(m);
		m = map4k(f[4], f[3], f[2], f[1]);
		mm_cpu_mode wp0 = linux_mode;
		wp0.cr0_wp = false;
		check(m, MM_WALK_WRITE, 0, &linux_mode, PF(0x3));
		r = run_both(m, CR3, VA, MM_WALK_WRITE, 0, &wp0, OK(PA4K));
		g_assert_cmphex(*PTE(r) & X86_D, ==, X86_D); /* the write went through */
		g_free(r);
		/* User writes ignore WP: still a fault. */
		g_free(m);
		m = map4k(UW, UW, UW, UW & ~X86_RW);
		check(m, MM_WALK_WRITE, 3, &wp0, PF(0x7));
		g_free(m);
	}
}

/* SDM 4.6.1: XD=1 at any level forbids fetches when NXE=1; SDM 4.5.4: with
 * NXE=0 bit 63 is reserved (RSVD fault for every access). SDM 4.7: I only
 * when NXE or SMEP is on. */
static void test_execute_disable(void)
{
	for (int level = 4; level >= 1; level--) {
		uint64_t f[5] = {0, UW, UW, UW, UW};
		f[level] |= X86_XD;
		struct tmem *m = map4k(f[4], f[3], f[2], f[1]);
		check(m, MM_WALK_FETCH, 3, &linux_mode, PF(0x15));
		check(m, MM_WALK_FETCH, 0, &(mm_cpu_mode){true, true, false, false, false, 46, false, 0}, PF(0x11));
		check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K));
		mm_cpu_mode nxe0 = linux_mode;
		nxe0.efer_nxe = false;
		nxe0.cr4_smep = false;
		check(m, MM_WALK_READ, 3, &nxe0, PF(0xd));
		check(m, MM_WALK_FETCH, 3, &nxe0, PF(0xd)); /* no I: neither NXE nor SMEP */
		nxe0.cr4_smep = true;
		check(m, MM_WALK_FETCH, 3, &nxe0, PF(0x1d));
		g_free(m);
	}
	/* NXE=0, SMEP=0: fetches are plain reads (no I even on a fault). */
	struct tmem *m = map4k(UW, UW, UW, UW & ~X86_P);
	check(m, MM_WALK_FETCH, 3, &(mm_cpu_mode){true, false, false, false, false, 46, false, 0}, PF(0x4));
	check(m, MM_WALK_FETCH, 3, &(mm_cpu_mode){true, true, false, false, false, 46, false, 0}, PF(0x14));
	check(m, MM_WALK_FETCH, 3, &(mm_cpu_mode){true, false, true, false, false, 46, false, 0}, PF(0x14));
	g_free(m);
}

/* SDM 4.6.1: SMEP forbids supervisor fetches from user-mode addresses. */
static void test_smep(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	check(m, MM_WALK_FETCH, 0, &linux_mode, PF(0x11));
	mm_cpu_mode off = linux_mode;
	off.cr4_smep = false;
	check(m, MM_WALK_FETCH, 0, &off, OK(PA4K));
	/* SMAP and AC do not matter to fetches. */
	off.cr4_smap = true;
	off.eflags_ac = true;
	check(m, MM_WALK_FETCH, 0, &off, OK(PA4K));
	check(m, MM_WALK_FETCH, 3, &linux_mode, OK(PA4K)); /* user fetch */
	g_free(m);
}

/* SDM 4.6.1: SMAP forbids supervisor data accesses to user-mode addresses
 * unless EFLAGS.AC=1 and the access is explicit; implicit accesses are
 * supervisor-mode whatever the CPL (error code U=0). */
static void test_smap(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	mm_cpu_mode ac = linux_mode;
	ac.eflags_ac = true;
	mm_cpu_mode nosmap = linux_mode;
	nosmap.cr4_smap = false;
	check(m, MM_WALK_READ, 0, &linux_mode, PF(0x1));
	check(m, MM_WALK_WRITE, 0, &linux_mode, PF(0x3));
	check(m, MM_WALK_READ, 0, &ac, OK(PA4K));
	check(m, MM_WALK_WRITE, 0, &ac, OK(PA4K));
	check(m, MM_WALK_IMPLICIT_READ, 0, &ac, PF(0x1));
	check(m, MM_WALK_IMPLICIT_READ, 3, &ac, PF(0x1));
	check(m, MM_WALK_IMPLICIT_WRITE, 3, &linux_mode, PF(0x3));
	check(m, MM_WALK_READ, 0, &nosmap, OK(PA4K));
	check(m, MM_WALK_IMPLICIT_READ, 3, &nosmap, OK(PA4K));
	check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K)); /* user: no SMAP */
	check(m, MM_WALK_READ, 1, &linux_mode, PF(0x1)); /* CPL 1 and 2 are supervisor */
	check(m, MM_WALK_READ, 2, &ac, OK(PA4K));
	/* SMAP with AC=1 on a read-only user page: WP decides the write. */
	*PTE(m) &= ~X86_RW;
	check(m, MM_WALK_WRITE, 0, &ac, PF(0x3));
	ac.cr0_wp = false;
	check(m, MM_WALK_WRITE, 0, &ac, OK(PA4K));
	/* Implicit accesses to a supervisor page are fine. */
	*PTE(m) &= ~X86_US;
	check(m, MM_WALK_IMPLICIT_WRITE, 3, &linux_mode, PF(0x3)); /* WP=1, R/W=0 */
	check(m, MM_WALK_IMPLICIT_READ, 3, &linux_mode, OK(PA4K));
	g_free(m);
}

/* SDM 4.5.4 tables 4-15..4-20: reserved bits give P=1 RSVD=1 and stop the
 * walk; they are not checked in a non-present entry. */
static void test_reserved(void)
{
	mm_cpu_mode m39 = linux_mode;
	m39.maxphyaddr = 39;
	/* Bit 45 of the PTE: an address bit at M=46, reserved at M=39. */
	struct tmem *m = map4k(UW, UW, UW, UW | (1ull << 45));
	check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K | (1ull << 45)));
	struct tmem *r = run_both(m, CR3, VA, MM_WALK_READ, 3, &m39, PF(0xd));
	g_assert_cmphex(*PTE(r) & X86_A, ==, 0);
	g_assert_cmphex(*PDE(r) & X86_A, ==, X86_A);
	g_free(r);
	check(m, MM_WALK_WRITE, 0, &m39, PF(0xb));
	check(m, MM_WALK_FETCH, 3, &m39, PF(0x1d));
	/* Bit 51 is reserved below M=52; at 52 it is address. */
	*PTE(m) = 0x5000 | UW | (1ull << 51);
	check(m, MM_WALK_READ, 3, &linux_mode, PF(0xd));
	m39.maxphyaddr = 52;
	check(m, MM_WALK_READ, 3, &m39, OK(PA4K | (1ull << 51)));
	/* Reserved bits win over permission faults: RSVD in the PTE of a
	 * supervisor page. */
	*PDE(m) &= ~X86_US;
	check(m, MM_WALK_READ, 3, &linux_mode, PF(0xd));
	g_free(m);

	/* PS in a PML4E is reserved. */
	m = map4k(UW | X86_PS, UW, UW, UW);
	check(m, MM_WALK_READ, 3, &linux_mode, PF(0xd));
	g_free(m);
	/* Bits 20:13 of a 2 MiB leaf; bit 12 (PAT) is fine. */
	for (int bit = 12; bit <= 21; bit++) {
		m = map4k(UW, UW, UW, UW);
		*PDE(m) = 0x40000000ull | (1ull << bit) | X86_PS | UW;
		uint64_t pa = ((0x40000000ull | (1ull << bit)) & ~0x1fffffull) | (VA & 0x1fffff);
		check(m, MM_WALK_READ, 3, &linux_mode, bit >= 13 && bit <= 20 ? PF(0xd) : OK(pa));
		g_free(m);
	}
	/* Bits 29:13 of a 1 GiB leaf. */
	for (int bit = 12; bit <= 30; bit++) {
		m = map4k(UW, UW, UW, UW);
		*PDPTE(m) = 0x80000000ull | (1ull << bit) | X86_PS | UW;
		uint64_t pa = ((0x80000000ull | (1ull << bit)) & ~0x3fffffffull) | (VA & 0x3fffffff);
		check(m, MM_WALK_READ, 3, &linux_mode, bit >= 13 && bit <= 29 ? PF(0xd) : OK(pa));
		g_free(m);
	}
	/* Bits 20:13 of a PDE without PS are address bits: no fault (the next
	 * table sits at an unbacked frame, so the walk ends not present). */
	m = map4k(UW, UW, UW, UW);
	*PDE(m) |= 1ull << 13;
	check(m, MM_WALK_READ, 3, &linux_mode, PF(0x4));
	g_free(m);
	/* Bit 7 of a PTE is PAT, not reserved; bits 52..62 are ignored. */
	m = map4k(UW, UW, UW, UW | X86_PS | X86_G | (0x7ffull << 52));
	check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K));
	g_free(m);
	/* Ignored bits of upper levels: 6, 8, 52..62. */
	m = map4k(UW | X86_D | X86_G | (0x7ffull << 52), UW | X86_D | X86_G, UW | X86_D | X86_G, UW);
	check(m, MM_WALK_READ, 3, &linux_mode, OK(PA4K));
	g_free(m);
	/* A reserved bit in a non-present entry is not looked at. */
	m = map4k(UW, UW, UW, (UW & ~X86_P) | (1ull << 51) | X86_XD);
	mm_cpu_mode nxe0 = linux_mode;
	nxe0.efer_nxe = false;
	check(m, MM_WALK_READ, 3, &nxe0, PF(0x4));
	g_free(m);
}

/* SDM 3A 3.3.7.1: a non-canonical address is #GP, with no memory access. */
static void test_non_canonical(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	uint64_t bad[] = {0x0000800000000000ull, 0xffff7fffffffffffull, 0x0001000000000000ull | (VA & 0x7fffffffffff),
	                  0x8000000000000000ull};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct tmem *r = run_both(m, CR3, bad[i], MM_WALK_READ, 3, &linux_mode,
		                          (struct expect){MM_WALK_GP, 0, 0});
		g_assert_cmpmem(r->words, sizeof(r->words), m->words, sizeof(m->words));
		g_free(r);
	}
	/* The upper half is canonical: PML4 index 256..511. */
	struct tmem *u = tmem_new(NFRAMES);
	uint64_t hi = 0xffff800000000000ull | (VA & 0x7fffffffffull);
	u->words[1][256] = 0x2000 | UW;
	u->words[2][0x1a2] = 0x3000 | UW;
	u->words[3][0x0c3] = 0x4000 | UW;
	u->words[4][0x1d4] = 0x5000 | UW;
	g_free(run_both(u, CR3, hi, MM_WALK_READ, 3, &linux_mode, OK(PA4K)));
	g_free(u);
	g_free(m);
}

/* CR3: bits 11:0 are flags/ignored (PCIDE=0), bits above M are not part of
 * the address. An unbacked frame reads as zero (walk.h). */
static void test_cr3_and_unbacked(void)
{
	struct tmem *m = map4k(UW, UW, UW, UW);
	g_free(run_both(m, CR3 | 0x18 | 0xfe7, VA, MM_WALK_READ, 3, &linux_mode, OK(PA4K)));
	g_free(run_both(m, CR3 | (1ull << 50), VA, MM_WALK_READ, 3, &linux_mode, OK(PA4K)));
	*PDE(m) = 0x400000ull | UW; /* next table beyond the backed frames */
	struct tmem *r = run_both(m, CR3, VA, MM_WALK_READ, 3, &linux_mode, PF(0x4));
	g_assert_cmphex(*PDE(r) & X86_A, ==, X86_A);
	g_free(r);
	m->pm.nframes = 4; /* the PT frame (4) is now unbacked */
	*PDE(m) = 0x4000 | UW;
	g_free(run_both(m, CR3, VA, MM_WALK_READ, 3, &linux_mode, PF(0x4)));
	g_free(m);
}

/* ---- The differential --------------------------------------------------- */
/* Memory: frames 0..7 backed; entries point at frames 0..9 (8, 9 unbacked).
 * Only the entries at the indexes in idx[] are ever non-zero, and every
 * address uses only those indexes, so comparing those entries after each
 * access compares every word a walker could have written. */
#define DF_BACKED 8
static const unsigned idx[] = {0, 1, 255, 256, 511};
#define NIDX G_N_ELEMENTS(idx)

static uint64_t rnd_entry(GRand *g)
{
	uint64_t e = (uint64_t)g_rand_int(g) & 0x1fffull; /* flags 0..8, avail 9..11, bit 12 */
	if (g_rand_int_range(g, 0, 10) < 9)
		e |= X86_P;
	if (g_rand_int_range(g, 0, 4))
		e |= X86_US;
	if (g_rand_int_range(g, 0, 4))
		e |= X86_RW;
	if (g_rand_int_range(g, 0, 3))
		e &= ~X86_PS;
	if (g_rand_int_range(g, 0, 8) == 0)
		e |= X86_XD;
	uint64_t frame = (uint64_t)g_rand_int_range(g, 0, 10);
	switch (g_rand_int_range(g, 0, 12)) {
	case 0: /* a large-page-style address with junk low address bits */
		e |= ((uint64_t)g_rand_int(g) << 13) & 0x3fffe000ull;
		break;
	case 1: /* a high address bit: reserved for some M */
		e |= 1ull << g_rand_int_range(g, 32, 52);
		break;
	case 2: /* ignored / protection-key bits */
		e |= ((uint64_t)g_rand_int(g) << 52) & 0x7ff0000000000000ull;
		break;
	case 3: /* a 2 MiB / 1 GiB aligned frame in the low frames */
		e &= ~0x1000ull;
		break;
	default:
		break;
	}
	if (!(e & X86_PS) || g_rand_int_range(g, 0, 2))
		e |= frame << 12;
	if (g_rand_int_range(g, 0, 3) == 0)
		e &= ~0x1000ull; /* keep some large leaves free of the PAT/bit 12 noise */
	return e;
}

static uint64_t rnd_va(GRand *g)
{
	uint64_t va = 0;
	for (int l = 4; l >= 1; l--)
		va |= (uint64_t)idx[g_rand_int_range(g, 0, NIDX)] << X86_LEVEL_SHIFT(l);
	va |= (uint64_t)g_rand_int_range(g, 0, 4096);
	if (va & (1ull << 47))
		va |= 0xffff000000000000ull;
	if (g_rand_int_range(g, 0, 20) == 0)
		va ^= 1ull << g_rand_int_range(g, 48, 64); /* non-canonical */
	return va;
}

static void test_differential(void)
{
	static const uint8_t widths[] = {36, 39, 40, 46, 48, 52};
	const guint32 seed = 20251118;
	GRand *g = g_rand_new_with_seed(seed);
	struct tmem *a = tmem_new(DF_BACKED), *b = tmem_new(DF_BACKED);
	uint64_t n = 0, faults = 0, oks = 0, gps = 0, rsvd = 0, large = 0;
	uint64_t per_mode[32] = {0};
	const uint64_t total = 1000000;
	while (n < total) {
		for (unsigned f = 0; f < DF_BACKED; f++)
			for (unsigned i = 0; i < NIDX; i++)
				a->words[f][idx[i]] = b->words[f][idx[i]] = rnd_entry(g);
		for (int k = 0; k < 32 && n < total; k++, n++) {
			unsigned bits = (unsigned)g_rand_int_range(g, 0, 32);
			mm_cpu_mode mode = {bits & 1, (bits >> 1) & 1, (bits >> 2) & 1, (bits >> 3) & 1, (bits >> 4) & 1,
			                    widths[g_rand_int_range(g, 0, G_N_ELEMENTS(widths))], false, 0};
			/* protection keys on for half the walks, under any PKRU */
			mode.cr4_pke = g_rand_boolean(g);
			mode.pkru = g_rand_int(g);
			per_mode[bits]++;
			uint64_t cr3 = ((uint64_t)g_rand_int_range(g, 0, DF_BACKED) << 12);
			if (g_rand_int_range(g, 0, 8) == 0)
				cr3 |= (uint64_t)g_rand_int(g) & 0xfff;
			uint64_t va = rnd_va(g);
			mm_walk_access acc = (mm_walk_access)g_rand_int_range(g, 0, 5);
			unsigned cpl = g_rand_int_range(g, 0, 2) ? 3 : (unsigned)g_rand_int_range(g, 0, 3);
			mm_walk_result ra = mm_walk(&a->pm, cr3, va, acc, cpl, &mode);
			mm_walk_result rb = naive_walk(&b->pm, cr3, va, acc, cpl, &mode);
			bool same = ra.outcome == rb.outcome && ra.pf_error == rb.pf_error && ra.pa == rb.pa &&
			            ra.nread == rb.nread && ra.leaf_level == rb.leaf_level;
			for (unsigned i = 0; same && i < ra.nread; i++)
				same = ra.entry_pa[i] == rb.entry_pa[i];
			for (unsigned f = 0; same && f < DF_BACKED; f++)
				for (unsigned i = 0; same && i < NIDX; i++)
					same = a->words[f][idx[i]] == b->words[f][idx[i]];
			if (!same)
				g_error("differential #%" PRIu64 " (seed %u): cr3 %#" PRIx64 " va %#" PRIx64
				        " acc %d cpl %u mode wp%d nxe%d smep%d smap%d ac%d M%u: "
				        "mm_walk %d/%#x/%#" PRIx64 " leaf %u, naive %d/%#x/%#" PRIx64 " leaf %u",
				        n, seed, cr3, va, acc, cpl, mode.cr0_wp, mode.efer_nxe, mode.cr4_smep, mode.cr4_smap,
				        mode.eflags_ac, mode.maxphyaddr, ra.outcome, ra.pf_error, ra.pa, ra.leaf_level,
				        rb.outcome, rb.pf_error, rb.pa, rb.leaf_level);
			oks += ra.outcome == MM_WALK_OK;
			gps += ra.outcome == MM_WALK_GP;
			faults += ra.outcome == MM_WALK_PF;
			rsvd += (ra.pf_error & MM_WALK_PF_RSVD) != 0;
			large += ra.outcome == MM_WALK_OK && ra.leaf_level > 1;
		}
		if (n % 65536 < 32) /* now and then: no stray write anywhere */
			g_assert_cmpmem(a->words, sizeof(a->words), b->words, sizeof(b->words));
	}
	g_assert_cmpmem(a->words, sizeof(a->words), b->words, sizeof(b->words));
	for (unsigned i = 0; i < 32; i++)
		g_assert_cmpuint(per_mode[i], >, 0);
	/* The mix must exercise every outcome. */
	g_assert_cmpuint(oks, >, total / 50);
	g_assert_cmpuint(faults, >, total / 10);
	g_assert_cmpuint(gps, >, total / 100);
	g_assert_cmpuint(rsvd, >, total / 100);
	g_assert_cmpuint(large, >, total / 1000);
	g_test_message("%" PRIu64 " walks: %" PRIu64 " ok (%" PRIu64 " large), %" PRIu64 " #PF (%" PRIu64
	               " RSVD), %" PRIu64 " #GP",
	               n, oks, large, faults, rsvd, gps);
	g_rand_free(g);
	g_free(a);
	g_free(b);
}

/* ---- Throughput ------------------------------------------------------------ */
/* 64 MiB of user 4 KiB pages mapped through one PML4E/PDPTE and 32 PDEs. */
static void test_throughput(void)
{
	enum { NPT = 32 };
	uint64_t (*words)[512] = g_malloc0((4 + NPT) * sizeof(*words));
	mm_phys_mem pm = {&words[0][0], 4 + NPT};
	words[1][0] = 0x2000 | UW;
	words[2][1] = 0x3000 | UW;
	for (unsigned d = 0; d < NPT; d++) {
		words[3][d] = ((uint64_t)(4 + d) << 12) | UW;
		for (unsigned p = 0; p < 512; p++)
			words[4 + d][p] = (0x100000000ull + (((uint64_t)d * 512 + p) << 12)) | UW | X86_XD;
	}
	const uint64_t base = 1ull << 30;
	/* The full count only as a benchmark (MMREF_WALK_BENCH; bench_streams
	 * --stream walk is the maintained one): a test must not take minutes on
	 * a slow machine (under qemu's TCG this one did). */
	const uint64_t count = g_getenv("MMREF_WALK_BENCH") ? 20000000 : 200000;
	uint64_t x = 88172645463325252ull, sum = 0;
	gint64 t0 = g_get_monotonic_time();
	for (uint64_t i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t va = base + (x & ((NPT * 2ull << 20) - 1));
		mm_walk_result r = mm_walk(&pm, 0x1000, va, (mm_walk_access)(i & 1), 3, &linux_mode);
		sum += r.pa;
	}
	double s = (double)(g_get_monotonic_time() - t0) * 1e-6;
	g_assert_cmpuint(sum, !=, 0);
	g_test_message("mm_walk: %.1f million translations/s", (double)count / s / 1e6);
	if (g_getenv("MMREF_WALK_BENCH"))
		printf("mm_walk: %.1f million translations/s\n", (double)count / s / 1e6);
	g_free(words);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/walker/translate-4k", test_translate_4k);
	g_test_add_func("/walker/translate-large", test_translate_large);
	g_test_add_func("/walker/not-present", test_not_present);
	g_test_add_func("/walker/user-supervisor", test_user_supervisor);
	g_test_add_func("/walker/read-write-wp", test_read_write);
	g_test_add_func("/walker/execute-disable", test_execute_disable);
	g_test_add_func("/walker/smep", test_smep);
	g_test_add_func("/walker/smap", test_smap);
	g_test_add_func("/walker/reserved", test_reserved);
	g_test_add_func("/walker/non-canonical", test_non_canonical);
	g_test_add_func("/walker/cr3-unbacked", test_cr3_and_unbacked);
	g_test_add_func("/walker/differential", test_differential);
	g_test_add_func("/walker/throughput", test_throughput);
	return g_test_run();
}

/* x86-64 4-level paging: the walker (mm_walk, public: mmref/x86.h) and the
 * page-table frame pool.
 *
 * The walker follows Intel SDM Vol. 3A: 4.5 (4-level paging, entry formats
 * in tables 4-15..4-20), 4.6 (access rights), 4.7 (page-fault exceptions)
 * and 4.8 (accessed and dirty flags). It is written for speed: one pass down
 * the four levels that accumulates the AND of R/W and U/S and the OR of XD,
 * one reserved-bit mask per level, then one permission decision. The naive
 * walker (oracle/naive/walker_naive.c) is the slow, literal reading it is
 * checked against.
 */
#include "pagetable.h"

#include <string.h>

/* Bits 20:13 of a 2 MiB leaf and 29:13 of a 1 GiB leaf are reserved
 * (SDM 3A table 4-17 and 4-18); bit 12 is PAT. */
#define RSVD_2M 0x00000000001fe000ull
#define RSVD_1G 0x000000003fffe000ull
#define ADDR_BITS_51_12 0x000ffffffffff000ull

static inline uint64_t *entry_word(const mm_phys_mem *pm, uint64_t epa)
{
	if ((epa >> 12) >= pm->nframes)
		return NULL; /* unbacked: reads as 0, writes dropped */
	return &pm->words[epa >> 3];
}

/* The walker's one body. Always inlined, so that pt_walk_linux_user gets
 * a copy with the cpu mode folded in (constants, no loads) and without the
 * result fields it does not return; mm_walk is the general copy. */
static inline __attribute__((always_inline)) mm_walk_result walk(const mm_phys_mem *pm, uint64_t cr3, uint64_t va,
                                                                 mm_walk_access acc, unsigned cpl,
                                                                 const mm_cpu_mode *mode)
{
	/* Scalars only until the single return at the end: building the result
	 * in place avoids store-forwarding stalls on a copied struct. */
	uint64_t epa_of[4] = {0, 0, 0, 0};
	uint64_t *used[4];
	uint64_t seen[4];
	unsigned nread = 0, level = 4;
	uint64_t pa = 0;
	uint32_t pf_error = 0;
	mm_walk_outcome outcome = MM_WALK_OK;

	/* SDM 3A 3.3.7.1 / 6.15: a non-canonical linear address is #GP(0)
	 * before any paging-structure access. */
	if (!x86_is_canonical48(va)) {
		outcome = MM_WALK_GP;
		goto out;
	}

	const bool implicit = acc == MM_WALK_IMPLICIT_READ || acc == MM_WALK_IMPLICIT_WRITE;
	const bool write = acc == MM_WALK_WRITE || acc == MM_WALK_IMPLICIT_WRITE;
	const bool fetch = acc == MM_WALK_FETCH;
	/* SDM 3A 4.6.1: implicit supervisor-mode accesses are supervisor-mode
	 * whatever the CPL. */
	const bool user = cpl == 3 && !implicit;
	/* SDM 3A 4.7: W for writes, U for user-mode accesses, I for fetches
	 * only when SMEP or (PAE and) NXE is on. */
	const uint32_t ec = (write ? MM_WALK_PF_W : 0u) | (user ? MM_WALK_PF_U : 0u) |
	                    (fetch && (mode->efer_nxe || mode->cr4_smep) ? MM_WALK_PF_I : 0u);

	const uint64_t amask = x86_addr_mask(mode->maxphyaddr);
	uint64_t rsvd = ADDR_BITS_51_12 & ~amask; /* bits 51:M */
	if (!mode->efer_nxe)
		rsvd |= X86_XD; /* SDM 3A 4.5.4: XD is reserved when NXE=0 */

	uint64_t table = cr3 & amask;
	uint64_t and_bits = X86_RW | X86_US, or_bits = 0;
	for (;; level--) {
		uint64_t epa = table | ((uint64_t)PT_INDEX(va, level) << 3);
		uint64_t *w = entry_word(pm, epa);
		uint64_t e = w ? *w : 0;
		epa_of[nread] = epa;
		used[nread] = w;
		seen[nread] = e;
		nread++;
		if (!(e & X86_P)) {
			pf_error = ec;
			goto fault;
		}
		uint64_t rs = rsvd;
		if (level == 4)
			rs |= X86_PS; /* PS must be 0 in a PML4E */
		else if (level == 3 && (e & X86_PS))
			rs |= RSVD_1G;
		else if (level == 2 && (e & X86_PS))
			rs |= RSVD_2M;
		if (e & rs) {
			pf_error = ec | MM_WALK_PF_P | MM_WALK_PF_RSVD;
			goto fault;
		}
		and_bits &= e;
		or_bits |= e;
		if (level == 1 || (e & X86_PS)) {
			uint64_t size_mask = (1ull << PT_LEVEL_SHIFT(level)) - 1;
			pa = (e & amask & ~size_mask) | (va & size_mask);
			break;
		}
		table = e & amask;
	}

	/* SDM 3A 4.6.1: access rights, combined over every level. */
	const bool user_addr = (and_bits & X86_US) != 0;
	const bool writable = (and_bits & X86_RW) != 0;
	const bool no_exec = mode->efer_nxe && (or_bits & X86_XD);
	bool ok;
	if (user)
		ok = user_addr && (!write || writable) && (!fetch || !no_exec);
	else if (fetch)
		ok = !(user_addr && mode->cr4_smep) && !no_exec;
	else
		ok = !(user_addr && mode->cr4_smap && (implicit || !mode->eflags_ac)) &&
		     (!write || !mode->cr0_wp || writable);
	/* SDM 3A 4.6.2: with CR4.PKE, a data access to a user-mode address is
	 * also checked against PKRU for the leaf's protection key (bits 62:59):
	 * AD refuses any data access, WD a write by user mode (or by supervisor
	 * mode with CR0.WP). Fetches are never checked. The #PF then has PK
	 * (SDM 3A 4.7), also when the R/W, U/S or XD check failed too. */
	bool pk_denied = false;
	if (mode->cr4_pke && user_addr && !fetch) {
		unsigned key = (unsigned)(seen[nread - 1] >> X86_PK_SHIFT) & 15u;
		uint32_t ad = (mode->pkru >> (2 * key)) & 1u, wd = (mode->pkru >> (2 * key + 1)) & 1u;
		pk_denied = ad || (wd && write && (user || mode->cr0_wp));
	}
	if (!ok || pk_denied) {
		pf_error = ec | MM_WALK_PF_P | (pk_denied ? MM_WALK_PF_PK : 0u);
		goto fault;
	}

	/* SDM 3A 4.8: A in every entry used, D in the leaf of a write. The
	 * processor writes a flag only when it is clear, which also keeps the
	 * common walk free of stores. */
	for (unsigned i = 0; i < nread; i++)
		if (!(seen[i] & X86_A) && used[i])
			*used[i] |= X86_A;
	if (write && !(seen[nread - 1] & X86_D) && used[nread - 1])
		*used[nread - 1] |= X86_D;
	goto out;

fault:
	/* Our rule for faulting walks: the entries used to reach the faulting
	 * one get A; the faulting entry is left as it was. */
	for (unsigned i = 0; i + 1 < nread; i++)
		if (!(seen[i] & X86_A) && used[i])
			*used[i] |= X86_A;
	outcome = MM_WALK_PF;
	pa = 0;
out:
	return (mm_walk_result){
	        .outcome = outcome,
	        .pf_error = pf_error,
	        .pa = pa,
	        .entry_pa = {epa_of[0], epa_of[1], epa_of[2], epa_of[3]},
	        .nread = (uint8_t)nread,
	        .leaf_level = (uint8_t)(outcome == MM_WALK_OK ? level : 0),
	};
}

mm_walk_result mm_walk(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc, unsigned cpl,
                       const mm_cpu_mode *mode)
{
	return walk(pm, cr3, va, acc, cpl, mode);
}

const mm_cpu_mode pt_linux_user_mode = {true, true, true, true, false, PG_MAXPHYADDR, false, 0};

pt_user_walk pt_walk_linux_user(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc)
{
	/* The common case first: a user read, write or fetch that walk()
	 * would let through without writing anything -- every entry present,
	 * user, already accessed, writable for a write and not XD for a fetch
	 * (SDM 3A 4.6.1 under NXE), no reserved bit (bits 51:48 with
	 * MAXPHYADDR 48; PS in the PML4E and, for this path, the PDPTE; bits
	 * 20:13 of a 2 MiB leaf), dirty already for a write (4.8), inside
	 * the simulated memory. Anything else goes to walk(), which starts
	 * again from nothing: this path has changed nothing. */
	if (x86_is_canonical48(va) && (acc == MM_WALK_READ || acc == MM_WALK_WRITE || acc == MM_WALK_FETCH)) {
		const uint64_t amask = x86_addr_mask(PG_MAXPHYADDR);
		const uint64_t rsvd = ADDR_BITS_51_12 & ~amask;
		const uint64_t need = X86_P | X86_US | X86_A | (acc == MM_WALK_WRITE ? X86_RW : 0);
		const uint64_t bad = rsvd | (acc == MM_WALK_FETCH ? X86_XD : 0);
		const uint64_t nframes = pm->nframes;
		uint64_t table = cr3 & amask;
#pragma GCC unroll 4
		for (unsigned level = 4; level >= 1; level--) {
			uint64_t epa = table | ((uint64_t)PT_INDEX(va, level) << 3);
			if ((epa >> 12) >= nframes)
				break;
			uint64_t e = pm->words[epa >> 3];
			if ((e & need) != need)
				break;
			if (level == 1 || (level == 2 && (e & X86_PS))) {
				if (e & (bad | (level == 2 ? RSVD_2M : 0)))
					break;
				if (acc == MM_WALK_WRITE && !(e & X86_D))
					break;
				return (pt_user_walk){MM_WALK_OK, 0};
			}
			if (e & (bad | X86_PS))
				break;
			table = e & amask;
		}
	}
	mm_walk_result r = walk(pm, cr3, va, acc, 3, &pt_linux_user_mode);
	return (pt_user_walk){r.outcome, r.pf_error};
}

/* ---- The frame pool ------------------------------------------------------ */

void pt_phys_init(struct pt_phys *ph, void *(*alloc)(void *ctx, size_t size), void (*release)(void *ctx, void *p),
                  void *ctx)
{
	memset(ph, 0, sizeof(*ph));
	ph->alloc = alloc;
	ph->release = release;
	ph->ctx = ctx;
}

void pt_phys_fini(struct pt_phys *ph)
{
	if (ph->mem.words)
		ph->release(ph->ctx, ph->mem.words);
	if (ph->free_pfns)
		ph->release(ph->ctx, ph->free_pfns);
	memset(ph, 0, sizeof(*ph));
}

void pt_phys_reset(struct pt_phys *ph)
{
	/* Freed frames are zero already, but which frames are free is a stack,
	 * not a map: zeroing [0, nframes) is bounded by what was ever used. */
	if (ph->mem.words)
		memset(ph->mem.words, 0, ph->mem.nframes * PT_ENTRIES * sizeof(uint64_t));
	ph->mem.nframes = ph->cap ? 1 : 0; /* frame 0: never handed out */
	ph->nfree = 0;
	ph->in_use = 0;
}

uint64_t pt_phys_alloc(struct pt_phys *ph)
{
	uint64_t pfn;
	if (ph->nfree) {
		pfn = ph->free_pfns[--ph->nfree];
	} else {
		if (ph->mem.nframes == ph->cap) {
			uint64_t ncap = ph->cap ? 2 * ph->cap : 64;
			uint64_t *w = ph->alloc(ph->ctx, ncap * PT_ENTRIES * sizeof(uint64_t));
			uint64_t *f = ph->alloc(ph->ctx, ncap * sizeof(uint64_t));
			if (!w || !f) {
				if (w)
					ph->release(ph->ctx, w);
				if (f)
					ph->release(ph->ctx, f);
				return 0;
			}
			if (ph->mem.words) {
				memcpy(w, ph->mem.words, ph->cap * PT_ENTRIES * sizeof(uint64_t));
				ph->release(ph->ctx, ph->mem.words);
			}
			if (ph->free_pfns) {
				memcpy(f, ph->free_pfns, ph->nfree * sizeof(uint64_t));
				ph->release(ph->ctx, ph->free_pfns);
			}
			ph->mem.words = w;
			ph->free_pfns = f;
			ph->cap = ncap;
			if (ph->mem.nframes == 0)
				ph->mem.nframes = 1; /* frame 0: never handed out */
		}
		pfn = ph->mem.nframes++;
	}
	ph->in_use++;
	return pfn;
}

void pt_phys_free(struct pt_phys *ph, uint64_t pfn)
{
	memset(pt_phys_table(ph, pfn), 0, PT_ENTRIES * sizeof(uint64_t));
	ph->free_pfns[ph->nfree++] = pfn;
	ph->in_use--;
}

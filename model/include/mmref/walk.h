/* The inputs and outputs of an x86-64 4-level page walk (Intel SDM Vol. 3A
 * ch. 4), shared by the model's walker (mmref/x86.h: mm_walk) and the
 * naive walker (oracle/naive/walker_naive.c: naive_walk). Types only.
 *
 * Physical memory is nframes 4 KiB frames in one flat array of u64 words:
 * physical address pa is words[pa / 8] (so the memory could be loaded as a
 * guest's RAM as is). A frame at or beyond nframes is unbacked: it reads as
 * zeros and the walker's A/D writes to it are dropped. Walks never allocate.
 */
#ifndef MMREF_WALK_H
#define MMREF_WALK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mm_phys_mem {
	uint64_t *words;  /* nframes * 512 words */
	uint64_t nframes; /* backed frames: pfn 0 .. nframes-1 */
} mm_phys_mem;

typedef enum mm_walk_access {
	MM_WALK_READ = 0,
	MM_WALK_WRITE = 1,
	MM_WALK_FETCH = 2,
	/* Implicit supervisor-mode accesses (SDM 3A 4.6.1: e.g. GDT/IDT/TSS
	 * loads): supervisor-mode whatever the CPL, and SMAP applies to them
	 * regardless of EFLAGS.AC. */
	MM_WALK_IMPLICIT_READ = 3,
	MM_WALK_IMPLICIT_WRITE = 4,
} mm_walk_access;

/* The control bits that change translation (4-level paging is implied:
 * CR0.PG=1, CR4.PAE=1, EFER.LME=1, CR4.LA57=0, CR4.PKS=0, CR4.PGE ignored,
 * 1 GiB pages supported). The last two fields were added later: an
 * initializer that leaves them out gets CR4.PKE=0, as before. */
typedef struct mm_cpu_mode {
	bool cr0_wp;        /* supervisor writes honour R/W */
	bool efer_nxe;      /* XD (bit 63) is honoured; else it is reserved */
	bool cr4_smep;      /* no supervisor fetch from user-mode addresses */
	bool cr4_smap;      /* no supervisor data access to user-mode addresses... */
	bool eflags_ac;     /* ...unless EFLAGS.AC=1 and the access is explicit */
	uint8_t maxphyaddr; /* M, 32..52: physical-address width */
	bool cr4_pke;       /* protection keys for user-mode addresses (SDM 3A 4.6.2) */
	uint32_t pkru;      /* with cr4_pke: AD (bit 2k) and WD (bit 2k+1) of key k */
} mm_cpu_mode;

typedef enum mm_walk_outcome {
	MM_WALK_OK = 0,
	MM_WALK_PF = 1, /* #PF, error code in pf_error */
	MM_WALK_GP = 2, /* #GP(0): non-canonical linear address */
} mm_walk_outcome;

/* #PF error code bits (SDM 3A 4.7) are MM_PF_* in mmref.h; repeated here so
 * this header stands alone. */
#define MM_WALK_PF_P (1u << 0)
#define MM_WALK_PF_W (1u << 1)
#define MM_WALK_PF_U (1u << 2)
#define MM_WALK_PF_RSVD (1u << 3)
#define MM_WALK_PF_I (1u << 4)
#define MM_WALK_PF_PK (1u << 5)

typedef struct mm_walk_result {
	mm_walk_outcome outcome;
	uint32_t pf_error; /* MM_WALK_PF only */
	uint64_t pa;       /* MM_WALK_OK only: the physical address */
	/* The paging-structure entries read, PML4E first (physical addresses);
	 * nread of them. On OK the last one is the leaf, and leaf_level says
	 * which level it sat at: 1 = 4 KiB PTE, 2 = 2 MiB PDE, 3 = 1 GiB PDPTE. */
	uint64_t entry_pa[4];
	uint8_t nread;
	uint8_t leaf_level;
} mm_walk_result;

#ifdef __cplusplus
}
#endif
#endif

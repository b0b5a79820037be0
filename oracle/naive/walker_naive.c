/* The naive walker. Each step below is one sentence of Intel SDM Vol. 3A,
 * chapter 4 (4-level paging), applied in the order the SDM describes:
 *
 *   4.5.4  the linear address is split into four 9-bit indexes and an
 *          offset; CR3 locates the PML4 table; each entry locates the next
 *          table or maps a page (figures 4-8..4-10, tables 4-15..4-20);
 *   4.5.4  a present entry with a reserved bit set stops the walk (RSVD);
 *   4.6.1  access rights: supervisor/user mode of the address and of the
 *          access, R/W, XD, CR0.WP, SMEP, SMAP, EFLAGS.AC;
 *   4.6.2  protection keys (CR4.PKE, PKRU);
 *   4.7    the page-fault error code;
 *   4.8    accessed and dirty flags (plus our rule for faulting walks, the
 *          same as mm_walk's: see mmref/x86.h).
 *
 * Nothing here is shared with the model's walker (model/pagetable.c):
 * entries are decoded into named fields one bit at a time.
 */
#include "walker_naive.h"

#include <stddef.h>

/* One paging-structure entry, decoded field by field. */
struct naive_entry {
	int present;        /* bit 0 */
	int read_write;     /* bit 1 */
	int user;           /* bit 2 */
	int page_size;      /* bit 7 (PS) in a PML4E, PDPTE or PDE */
	int execute_disable; /* bit 63 */
	int protection_key; /* bits 62:59 (tables 4-17, 4-18, 4-20: of a page; ignored elsewhere) */
	int reserved_set;   /* some bit that must be 0 is 1 */
	uint64_t address;   /* the physical address the entry holds */
};

static int bit_of(uint64_t value, int n) { return (int)((value >> n) & 1u); }

/* Bits lo..hi inclusive of value, left in place. */
static uint64_t bits_in_place(uint64_t value, int hi, int lo)
{
	uint64_t result = 0;
	for (int n = lo; n <= hi; n++)
		if (bit_of(value, n))
			result |= (uint64_t)1 << n;
	return result;
}

/* Reads the 8-byte entry at physical address pa; an unbacked frame reads as
 * zero (walk.h). */
static uint64_t read_phys(const mm_phys_mem *pm, uint64_t pa)
{
	uint64_t frame = pa / 4096;
	if (frame >= pm->nframes)
		return 0;
	return pm->words[pa / 8];
}

static void set_bit_in_phys(const mm_phys_mem *pm, uint64_t pa, int n)
{
	uint64_t frame = pa / 4096;
	if (frame >= pm->nframes)
		return;
	pm->words[pa / 8] |= (uint64_t)1 << n;
}

/* Bits M..51 of an entry are reserved (SDM 3A 4.5.4: "reserved (must be
 * 0)" above the physical-address width); bit 63 is reserved when NXE=0. */
static int common_reserved_bits_set(uint64_t raw, const mm_cpu_mode *mode)
{
	for (int n = mode->maxphyaddr; n <= 51; n++)
		if (bit_of(raw, n))
			return 1;
	if (!mode->efer_nxe && bit_of(raw, 63))
		return 1;
	return 0;
}

/* Table 4-15: PML4E. Bit 7 is reserved. Address bits M-1:12 locate the PDPT. */
static struct naive_entry decode_pml4e(uint64_t raw, const mm_cpu_mode *mode)
{
	struct naive_entry e;
	e.present = bit_of(raw, 0);
	e.read_write = bit_of(raw, 1);
	e.user = bit_of(raw, 2);
	e.page_size = 0;
	e.execute_disable = bit_of(raw, 63);
	e.protection_key = bit_of(raw, 59) | bit_of(raw, 60) << 1 | bit_of(raw, 61) << 2 | bit_of(raw, 62) << 3;
	e.reserved_set = common_reserved_bits_set(raw, mode) || bit_of(raw, 7);
	e.address = bits_in_place(raw, mode->maxphyaddr - 1, 12);
	return e;
}

/* Tables 4-16 and 4-17: PDPTE. PS=1 maps a 1 GiB page (address bits
 * M-1:30; bits 29:13 reserved; bit 12 PAT). PS=0 locates a page directory. */
static struct naive_entry decode_pdpte(uint64_t raw, const mm_cpu_mode *mode)
{
	struct naive_entry e;
	e.present = bit_of(raw, 0);
	e.read_write = bit_of(raw, 1);
	e.user = bit_of(raw, 2);
	e.page_size = bit_of(raw, 7);
	e.execute_disable = bit_of(raw, 63);
	e.protection_key = bit_of(raw, 59) | bit_of(raw, 60) << 1 | bit_of(raw, 61) << 2 | bit_of(raw, 62) << 3;
	e.reserved_set = common_reserved_bits_set(raw, mode);
	if (e.page_size) {
		if (bits_in_place(raw, 29, 13) != 0)
			e.reserved_set = 1;
		e.address = bits_in_place(raw, mode->maxphyaddr - 1, 30);
	} else {
		e.address = bits_in_place(raw, mode->maxphyaddr - 1, 12);
	}
	return e;
}

/* Tables 4-18 and 4-19: PDE. PS=1 maps a 2 MiB page (address bits M-1:21;
 * bits 20:13 reserved; bit 12 PAT). PS=0 locates a page table. */
static struct naive_entry decode_pde(uint64_t raw, const mm_cpu_mode *mode)
{
	struct naive_entry e;
	e.present = bit_of(raw, 0);
	e.read_write = bit_of(raw, 1);
	e.user = bit_of(raw, 2);
	e.page_size = bit_of(raw, 7);
	e.execute_disable = bit_of(raw, 63);
	e.protection_key = bit_of(raw, 59) | bit_of(raw, 60) << 1 | bit_of(raw, 61) << 2 | bit_of(raw, 62) << 3;
	e.reserved_set = common_reserved_bits_set(raw, mode);
	if (e.page_size) {
		if (bits_in_place(raw, 20, 13) != 0)
			e.reserved_set = 1;
		e.address = bits_in_place(raw, mode->maxphyaddr - 1, 21);
	} else {
		e.address = bits_in_place(raw, mode->maxphyaddr - 1, 12);
	}
	return e;
}

/* Table 4-20: PTE. Bit 7 is PAT, not PS. Address bits M-1:12. */
static struct naive_entry decode_pte(uint64_t raw, const mm_cpu_mode *mode)
{
	struct naive_entry e;
	e.present = bit_of(raw, 0);
	e.read_write = bit_of(raw, 1);
	e.user = bit_of(raw, 2);
	e.page_size = 0;
	e.execute_disable = bit_of(raw, 63);
	e.protection_key = bit_of(raw, 59) | bit_of(raw, 60) << 1 | bit_of(raw, 61) << 2 | bit_of(raw, 62) << 3;
	e.reserved_set = common_reserved_bits_set(raw, mode);
	e.address = bits_in_place(raw, mode->maxphyaddr - 1, 12);
	return e;
}

mm_walk_result naive_walk(const mm_phys_mem *pm, uint64_t cr3, uint64_t va, mm_walk_access acc, unsigned cpl,
                          const mm_cpu_mode *mode)
{
	mm_walk_result result = {0};
	result.outcome = MM_WALK_OK;

	/* Canonical check (SDM 3A 3.3.7.1): bits 63:48 must equal bit 47. */
	for (int n = 48; n <= 63; n++) {
		if (bit_of(va, n) != bit_of(va, 47)) {
			result.outcome = MM_WALK_GP;
			return result;
		}
	}

	/* What kind of access this is (SDM 3A 4.6.1). */
	int is_write = (acc == MM_WALK_WRITE || acc == MM_WALK_IMPLICIT_WRITE);
	int is_fetch = (acc == MM_WALK_FETCH);
	int is_implicit = (acc == MM_WALK_IMPLICIT_READ || acc == MM_WALK_IMPLICIT_WRITE);
	int is_user_access;
	if (is_implicit)
		is_user_access = 0; /* implicit supervisor-mode access */
	else if (cpl == 3)
		is_user_access = 1;
	else
		is_user_access = 0;

	/* The error-code bits that describe the access (SDM 3A 4.7). */
	uint32_t access_bits = 0;
	if (is_write)
		access_bits |= MM_WALK_PF_W;
	if (is_user_access)
		access_bits |= MM_WALK_PF_U;
	if (is_fetch && (mode->efer_nxe || mode->cr4_smep))
		access_bits |= MM_WALK_PF_I;

	/* The four indexes (SDM 3A figure 4-8). */
	unsigned pml4_index = (unsigned)(bits_in_place(va, 47, 39) >> 39);
	unsigned pdpt_index = (unsigned)(bits_in_place(va, 38, 30) >> 30);
	unsigned pd_index = (unsigned)(bits_in_place(va, 29, 21) >> 21);
	unsigned pt_index = (unsigned)(bits_in_place(va, 20, 12) >> 12);

	struct naive_entry path[4];
	uint64_t path_pa[4];
	int entries = 0;
	int is_leaf = 0;
	uint64_t page_size = 0;
	uint64_t table = bits_in_place(cr3, mode->maxphyaddr - 1, 12);

	for (int level = 4; level >= 1 && !is_leaf; level--) {
		unsigned index;
		if (level == 4)
			index = pml4_index;
		else if (level == 3)
			index = pdpt_index;
		else if (level == 2)
			index = pd_index;
		else
			index = pt_index;
		uint64_t entry_pa = table + 8u * index;
		uint64_t raw = read_phys(pm, entry_pa);
		struct naive_entry e;
		if (level == 4)
			e = decode_pml4e(raw, mode);
		else if (level == 3)
			e = decode_pdpte(raw, mode);
		else if (level == 2)
			e = decode_pde(raw, mode);
		else
			e = decode_pte(raw, mode);
		path[entries] = e;
		path_pa[entries] = entry_pa;
		result.entry_pa[entries] = entry_pa;
		entries++;
		result.nread = (uint8_t)entries;

		if (!e.present) {
			/* Not present: P=0 in the error code. */
			result.outcome = MM_WALK_PF;
			result.pf_error = access_bits;
			break;
		}
		if (e.reserved_set) {
			/* Reserved bit: P=1 and RSVD=1. */
			result.outcome = MM_WALK_PF;
			result.pf_error = access_bits | MM_WALK_PF_P | MM_WALK_PF_RSVD;
			break;
		}
		if (level == 1) {
			is_leaf = 1;
			page_size = 4096;
		} else if ((level == 3 || level == 2) && e.page_size) {
			is_leaf = 1;
			page_size = (level == 3) ? ((uint64_t)1 << 30) : ((uint64_t)1 << 21);
		} else {
			table = e.address;
		}
		if (is_leaf) {
			result.pa = e.address + (va % page_size);
			result.leaf_level = (uint8_t)level;
		}
	}

	if (result.outcome == MM_WALK_OK) {
		/* SDM 3A 4.6.1. A user-mode address has U/S=1 in every entry;
		 * R/W=0 anywhere makes it read-only; XD=1 anywhere (with NXE)
		 * makes it non-executable. */
		int user_mode_address = 1, writable = 1, executable = 1;
		for (int i = 0; i < entries; i++) {
			if (!path[i].user)
				user_mode_address = 0;
			if (!path[i].read_write)
				writable = 0;
			if (mode->efer_nxe && path[i].execute_disable)
				executable = 0;
		}

		int allowed;
		if (is_user_access) {
			if (!user_mode_address)
				allowed = 0; /* user accesses never reach supervisor addresses */
			else if (is_write)
				allowed = writable;
			else if (is_fetch)
				allowed = executable;
			else
				allowed = 1;
		} else if (is_fetch) {
			if (user_mode_address && mode->cr4_smep)
				allowed = 0;
			else
				allowed = executable;
		} else {
			/* Supervisor data access. */
			allowed = 1;
			if (user_mode_address && mode->cr4_smap) {
				if (is_implicit || !mode->eflags_ac)
					allowed = 0;
			}
			if (is_write && mode->cr0_wp && !writable)
				allowed = 0;
		}
		/* SDM 3A 4.6.2. With CR4.PKE=1, each data access to a
		 * user-mode address is also checked against PKRU for the
		 * protection key of the page (the leaf's bits 62:59): if ADi
		 * is 1, no data access is permitted; if WDi is 1, user-mode
		 * writes are not permitted, nor supervisor-mode writes when
		 * CR0.WP is 1. Instruction fetches are not checked. */
		int key_refuses = 0;
		if (mode->cr4_pke && user_mode_address && !is_fetch) {
			int key = path[entries - 1].protection_key;
			int access_disable = (int)((mode->pkru >> (2 * key)) & 1u);
			int write_disable = (int)((mode->pkru >> (2 * key + 1)) & 1u);
			if (access_disable)
				key_refuses = 1;
			if (write_disable && is_write && (is_user_access || mode->cr0_wp))
				key_refuses = 1;
		}
		if (!allowed || key_refuses) {
			result.outcome = MM_WALK_PF;
			/* SDM 3A 4.7: PK (bit 5) when the protection key refused it. */
			result.pf_error = access_bits | MM_WALK_PF_P | (key_refuses ? MM_WALK_PF_PK : 0u);
			result.pa = 0;
			result.leaf_level = 0;
		}
	}

	/* SDM 3A 4.8 and our rule for faults (model/pagetable.h). */
	if (result.outcome == MM_WALK_OK) {
		for (int i = 0; i < entries; i++)
			set_bit_in_phys(pm, path_pa[i], 5);
		if (is_write)
			set_bit_in_phys(pm, path_pa[entries - 1], 6);
	} else {
		for (int i = 0; i < entries - 1; i++)
			set_bit_in_phys(pm, path_pa[i], 5);
	}
	return result;
}

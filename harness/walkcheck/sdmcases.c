/* The hand-written SDM cases (sdmcases.h). Expected values: Intel SDM Vol.
 * 3A 4.6.1 (access rights), 4.7 (error code: P=1 W=2 U=4 RSVD=8 I=0x10),
 * 4.8 (A in every entry used by a successful walk, D in the leaf of a
 * write; a faulting access never sets D), 3.3.7.1 (canonical addresses). */
#include "sdmcases.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mmref/x86.h"
#include "walker_naive.h"

#define P X86_P
#define W X86_RW
#define U X86_US
#define UW (P | W | U)
#define OK MM_WALK_OK, 0
#define PF(e) MM_WALK_PF, (e)
#define GP MM_WALK_GP, 0

/* name, what, f4 f3 f2 f1, leaf, high, noncanon, acc, user, ac, wp nxe smep smap, gb, user_high, outcome */
const sdm_case sdm_cases[] = {
    {"user-read", "user read of a user RW page: ok, A in all four entries, no D (4.6.1, 4.8)", UW, UW, UW, UW,
     1, false, false, MM_WALK_READ, true, false, true, true, false, false, false, false, OK},
    {"user-write", "user write of a user RW page: ok, A everywhere, D in the PTE (4.8)", UW, UW, UW, UW, 1,
     false, false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, OK},
    {"user-read-supervisor", "user read of a supervisor page: #PF P|U (4.6.1)", UW, UW, UW, P | W, 1, false,
     false, MM_WALK_READ, true, false, true, true, false, false, false, false, PF(0x5)},
    {"user-write-pte-not-present", "user write, PTE not present: #PF W|U (4.7)", UW, UW, UW, 0, 1, false,
     false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, PF(0x6)},
    {"user-fetch-pte-not-present", "user fetch, PTE not present, NXE=1: #PF U|I (4.7)", UW, UW, UW, 0, 1,
     false, false, MM_WALK_FETCH, true, false, true, true, false, false, false, false, PF(0x14)},
    {"user-write-readonly-pte", "user write, R/W=0 in the PTE: #PF P|W|U (4.6.1)", UW, UW, UW, P | U, 1,
     false, false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, PF(0x7)},
    {"user-write-readonly-pml4e",
     "user write, R/W=0 in the PML4E only: #PF P|W|U (4.6.1: R/W of every level)", P | U, UW, UW, UW, 1,
     false, false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, PF(0x7)},
    {"user-write-readonly-pdpte", "user write, R/W=0 in the PDPTE only: #PF P|W|U (4.6.1)", UW, P | U, UW, UW,
     1, false, false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, PF(0x7)},
    {"user-fetch-nx-pte", "user fetch, XD=1 in the PTE, NXE=1: #PF P|U|I (4.6.1)", UW, UW, UW, UW | X86_XD, 1,
     false, false, MM_WALK_FETCH, true, false, true, true, false, false, false, false, PF(0x15)},
    {"user-fetch-nx-pml4e", "user fetch, XD=1 in the PML4E only, NXE=1: #PF P|U|I (4.6.1: XD of any level)",
     UW | X86_XD, UW, UW, UW, 1, false, false, MM_WALK_FETCH, true, false, true, true, false, false, false,
     false, PF(0x15)},
    {"smep-fetch", "supervisor fetch from a user page, SMEP=1: #PF P|I (4.6.1)", UW, UW, UW, UW, 1, false,
     false, MM_WALK_FETCH, false, false, true, true, true, false, false, false, PF(0x11)},
    {"smap-read-ac0", "supervisor read of a user page, SMAP=1, AC=0: #PF P (4.6.1)", UW, UW, UW, UW, 1, false,
     false, MM_WALK_READ, false, false, true, true, false, true, false, false, PF(0x1)},
    {"smap-read-ac1", "supervisor read of a user page, SMAP=1, AC=1: ok (4.6.1)", UW, UW, UW, UW, 1, false,
     false, MM_WALK_READ, false, true, true, true, false, true, false, false, OK},
    {"supervisor-write-readonly-wp0", "supervisor write, R/W=0, CR0.WP=0: ok (4.6.1)", P, P, P, P, 1, false,
     false, MM_WALK_WRITE, false, false, false, true, false, false, false, false, OK},
    {"supervisor-write-readonly-wp1", "supervisor write, R/W=0, CR0.WP=1: #PF P|W (4.6.1)", P | W, P | W,
     P | W, P, 1, false, false, MM_WALK_WRITE, false, false, true, true, false, false, false, false, PF(0x3)},
    {"reserved-bit-51", "user read, bit 51 set in the PTE (M < 52): #PF P|U|RSVD (4.5.4, 4.7)", UW, UW, UW,
     UW | (1ull << 51), 1, false, false, MM_WALK_READ, true, false, true, true, false, false, false, false,
     PF(0xd)},
    {"reserved-xd-nxe0", "user read, XD=1 with NXE=0: #PF P|U|RSVD (4.5.4)", UW, UW, UW, UW | X86_XD, 1,
     false, false, MM_WALK_READ, true, false, true, false, false, false, false, false, PF(0xd)},
    {"non-canonical", "read of a non-canonical address: #GP(0) (3.3.7.1)", UW, UW, UW, UW, 1, false, true,
     MM_WALK_READ, true, false, true, true, false, false, false, false, GP},
    {"large-2m-user-write", "user write through a 2 MiB leaf: ok, D in the PDE (4.5.4, 4.8)", UW, UW, UW, 0,
     2, false, false, MM_WALK_WRITE, true, false, true, true, false, false, false, false, OK},
    {"large-1g-read", "supervisor read through a 1 GiB leaf: ok (4.5.4)", UW, UW, 0, 0, 3, false, false,
     MM_WALK_READ, false, false, true, true, false, false, true, false, OK},
    {"user-read-upper-half", "user read of a user page at PML4 slot 256 (upper half): ok (4.5.4)", UW, UW, UW,
     UW, 1, true, false, MM_WALK_READ, true, false, true, true, false, false, false, true, OK},
};
const unsigned sdm_ncases = sizeof(sdm_cases) / sizeof(sdm_cases[0]);

/* Slot indexes of the address: PML4 1 (or 256), PDPT 2, PD 3, PT 4. */
static uint64_t case_va(const sdm_case *c)
{
	uint64_t va = ((c->high ? 256ull : 1ull) << 39) | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0x567;
	if (c->high)
		va |= 0xffff000000000000ull;
	if (c->noncanon)
		va ^= 1ull << 63;
	return va;
}

static void fill(const sdm_case *c, mm_phys_mem *m)
{
	uint64_t va = case_va(c);
	memset(m->words, 0, 5 * 4096);
	m->words[512 + X86_PT_INDEX(va, 4)] = 0x2000 | c->f4;
	if (c->leaf_level == 3) {
		m->words[1024 + X86_PT_INDEX(va, 3)] = KVM_DATA_GPA | X86_PS | c->f3;
		return;
	}
	m->words[1024 + X86_PT_INDEX(va, 3)] = 0x3000 | c->f3;
	if (c->leaf_level == 2) {
		m->words[1536 + X86_PT_INDEX(va, 2)] = (KVM_DATA_GPA + 0x200000) | X86_PS | c->f2;
		return;
	}
	m->words[1536 + X86_PT_INDEX(va, 2)] = 0x4000 | c->f2;
	m->words[2048 + X86_PT_INDEX(va, 1)] = (KVM_DATA_GPA + 0x5000) | c->f1;
}

/* The A/D rule of 4.8 for the four entries after the access. */
static bool ad_ok(const sdm_case *c, const mm_phys_mem *m, char *why, size_t n)
{
	uint64_t va = case_va(c);
	uint64_t e[5] = {0, 0, 0, 0, m->words[512 + X86_PT_INDEX(va, 4)]};
	e[3] = m->words[1024 + X86_PT_INDEX(va, 3)];
	e[2] = c->leaf_level <= 2 ? m->words[1536 + X86_PT_INDEX(va, 2)] : 0;
	e[1] = c->leaf_level == 1 ? m->words[2048 + X86_PT_INDEX(va, 1)] : 0;
	unsigned leaf = c->leaf_level;
	snprintf(why, n, "A/D %c%c %c%c %c%c %c%c", e[4] & X86_A ? 'A' : '-', e[4] & X86_D ? 'D' : '-',
		 e[3] & X86_A ? 'A' : '-', e[3] & X86_D ? 'D' : '-', e[2] & X86_A ? 'A' : '-',
		 e[2] & X86_D ? 'D' : '-', e[1] & X86_A ? 'A' : '-', e[1] & X86_D ? 'D' : '-');
	if (c->outcome != MM_WALK_OK)
		return !(e[leaf] & X86_D); /* a faulting access never sets D; A is not pinned down */
	for (unsigned l = 4; l >= leaf; l--)
		if (!(e[l] & X86_A))
			return false;
	return (e[leaf] & X86_D) ? c->acc == MM_WALK_WRITE : c->acc != MM_WALK_WRITE;
}

static const char *outcome_text(mm_walk_outcome o, uint32_t err, char *buf, size_t n)
{
	if (o == MM_WALK_OK)
		snprintf(buf, n, "ok");
	else if (o == MM_WALK_GP)
		snprintf(buf, n, "#GP");
	else
		snprintf(buf, n, "#PF %#x", err);
	return buf;
}

int sdm_run(kvm_oracle *o, const sdm_case *c, sdm_result *r)
{
	memset(r, 0, sizeof(*r));
	if (c->needs_gbpages && !kvm_oracle_has_gbpages(o)) {
		r->skipped = true;
		snprintf(r->detail, sizeof(r->detail), "this KVM has no 1 GiB pages");
		return 0;
	}
	if (c->needs_user_high && !kvm_oracle_has_user_high(o)) {
		r->skipped = true;
		snprintf(r->detail, sizeof(r->detail),
			 "this KVM cannot run user-mode accesses in the upper half");
		return 0;
	}
	const uint64_t va = case_va(c);
	mm_cpu_mode mode = {c->wp, c->nxe, c->smep, c->smap, c->ac, (uint8_t)kvm_oracle_maxphyaddr(o), false, 0};
	static uint64_t words[2][5 * 512];
	char a[3][64], ad[3][64], want[32];
	outcome_text(c->outcome, c->err, want, sizeof(want));

	/* The walkers. */
	for (unsigned i = 0; i < 2; i++) {
		mm_phys_mem m = {words[i], 5};
		fill(c, &m);
		mm_walk_result res =
		    (i ? naive_walk : mm_walk)(&m, 0x1000, va, c->acc, c->user ? 3 : 0, &mode);
		bool ad_good = ad_ok(c, &m, ad[i], sizeof(ad[i]));
		bool good = res.outcome == c->outcome && res.pf_error == c->err && ad_good;
		outcome_text(res.outcome, res.pf_error, a[i], sizeof(a[i]));
		if (i)
			r->naive_ok = good;
		else
			r->model_ok = good;
	}

	/* The guest: frames 1..4 of its table area. */
	mm_phys_mem t = kvm_oracle_tables(o);
	mm_phys_mem m = {t.words, 5};
	fill(c, &m);
	kvm_access x = {.cr3 = 0x1000, .va = va, .acc = c->acc, .user = c->user, .ac = c->ac};
	kvm_outcome h;
	int rc = kvm_oracle_run(o, &mode, &x, 1, &h);
	if (rc < 0)
		return rc;
	mm_walk_outcome ho = h.vector == KVM_VEC_OK ? MM_WALK_OK : h.vector == 14 ? MM_WALK_PF : MM_WALK_GP;
	bool vec_ok = h.vector == KVM_VEC_OK || h.vector == 14 || h.vector == 13;
	bool ad_good = ad_ok(c, &m, ad[2], sizeof(ad[2]));
	r->kvm_ok = vec_ok && ho == c->outcome && (ho != MM_WALK_PF || (h.error == c->err && h.cr2 == va)) &&
		    (ho != MM_WALK_GP || h.error == 0) && ad_good;
	if (vec_ok)
		outcome_text(ho, (uint32_t)h.error, a[2], sizeof(a[2]));
	else
		snprintf(a[2], sizeof(a[2]), "vector %u", h.vector);
	snprintf(r->detail, sizeof(r->detail), "%s; SDM: %s | model: %s, %s | naive: %s, %s | kvm: %s, %s",
		 c->what, want, a[0], ad[0], a[1], ad[1], a[2], ad[2]);
	memset(t.words, 0, 5 * 4096);
	return 0;
}

/* Fuzz target pagewalk_kvm: fuzzer bytes become one page-table structure
 * and up to four accesses, run on the model's walker, the naive walker and
 * the MMU of a KVM guest (oracle/kvm, docs/kvm-oracle.md); any disagreement
 * aborts with "mmref: pagewalk-kvm: SIGNATURE" and the case.
 *
 * Input: 2 bytes of mode (WP NXE SMEP SMAP), then 8 bytes per entry for the
 * case's 8 frames x 5 entries (walkcheck.h: PML4s, PDPTs, PDs, PTs at
 * indexes 0, 1, 255, 256, 511), then 8 bytes per access. Missing bytes are
 * zero. Each entry keeps the input's flag bits, bit 12, the large-leaf
 * junk bits, the bits at or above MAXPHYADDR and bits 63:52, but its
 * address is made safe for the guest: a leaf (a PTE, or a PDE/PDPTE with
 * PS) points into the data window, any other entry at one of the two
 * frames of the next level or at the zero frame.
 *
 * Without a usable /dev/kvm every input is a no-op (said once on stderr).
 * With MMREF_FUZZ_CONTINUE=1 a disagreement is printed and the run goes on.
 *
 * fuzz/CMakeLists.txt links it with mmref_walkcheck (harness/walkcheck/,
 * the drivers on the KVM oracle).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kvm_oracle.h"
#include "mmref/x86.h"
#include "walkcheck.h"

static kvm_oracle *oracle;
static wc_checker *checker;
static bool unusable;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[256];
	if (kvm_oracle_open(&oracle, err, sizeof(err)) < 0 || !(checker = wc_checker_new(oracle))) {
		fprintf(stderr,
			"fuzz_pagewalk_kvm: the KVM oracle is not usable (%s): every input is a no-op\n",
			err);
		unusable = true;
	}
	return 0;
}

static uint64_t take(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++, (*p)++, (*n)--)
		if (*n)
			v |= (uint64_t) * *p << (8 * i);
		else
			break;
	return v;
}

static uint64_t safe_entry(uint64_t raw, unsigned level, unsigned k, const wc_case *c, unsigned M,
			   bool gbpages)
{
	const uint64_t high = M < 52 ? (((1ull << 52) - 1) & ~((1ull << M) - 1)) : 0; /* bits 51:M */
	uint64_t e = (raw & 0xfffull) | (raw & high) | (raw & 0xfff0000000000000ull);
	if (level == 3 && !gbpages)
		e &= ~X86_PS;
	bool leaf = level == 1 || ((level == 2 || level == 3) && (e & X86_PS));
	if (leaf && level == 1)
		e |= KVM_DATA_GPA + (((raw >> 12) & ((KVM_DATA_SIZE >> 12) - 1)) << 12);
	else if (leaf && level == 2)
		e |= KVM_DATA_GPA + (((raw >> 21) & ((KVM_DATA_SIZE >> 21) - 1)) << 21) + (raw & 0x1ff000ull);
	else if (leaf)
		e |= KVM_DATA_GPA + (raw & 0x3ffff000ull);
	else {
		unsigned pick =
		    (unsigned)((raw >> 12) % 3); /* frame a, frame b of the next level, or frame 0 */
		if (pick < 2)
			e |= (c->base_pfn + (4 - (level - 1)) * 2 + pick) << 12;
	}
	(void)k;
	return e;
}

static void report(void *ctx, uint64_t index, const char *signature, const char *text)
{
	(void)ctx;
	(void)index;
	fprintf(stderr, "mmref: pagewalk-kvm: %s\n%s", signature, text);
	if (!getenv("MMREF_FUZZ_CONTINUE"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!oracle && !unusable)
		LLVMFuzzerInitialize(NULL, NULL);
	if (unusable)
		return 0;
	const unsigned M = kvm_oracle_maxphyaddr(oracle);
	const bool gbpages = kvm_oracle_has_gbpages(oracle);
	wc_case c;
	memset(&c, 0, sizeof(c));
	c.slot = 0;
	c.base_pfn = 1;
	uint8_t m = size ? data[0] : 0;
	data += size ? 1 : 0;
	size -= size ? 1 : 0;
	data += size ? 1 : 0; /* reserved */
	size -= size ? 1 : 0;
	c.mode = (mm_cpu_mode){m & 1, (m >> 1) & 1, (m >> 2) & 1, (m >> 3) & 1, false, (uint8_t)M, false, 0};
	for (unsigned k = 0; k < WC_FRAMES; k++)
		for (unsigned j = 0; j < WC_NIDX; j++)
			c.entry[k][j] = safe_entry(take(&data, &size), 4 - k / 2, k, &c, M, gbpages);
	while (size && c.nacc < WC_MAX_ACC) {
		uint64_t r = take(&data, &size);
		kvm_access *x = &c.acc[c.nacc];
		x->cr3 = (c.base_pfn + (r & 1)) << 12;
		uint64_t va = 0;
		for (unsigned l = 4; l >= 1; l--)
			va |= (uint64_t)wc_idx[((r >> (1 + 3 * (4 - l))) & 7) % WC_NIDX]
			      << X86_LEVEL_SHIFT(l);
		va |= (r >> 16) & 0xfff;
		if (va & (1ull << 47))
			va |= 0xffff000000000000ull;
		if ((r >> 28) & 1)
			va ^= 1ull << (48 + ((r >> 29) & 15)); /* non-canonical */
		x->va = va;
		x->acc = (mm_walk_access)(((r >> 33) & 3) % 3);
		x->user = (r >> 35) & 1;
		x->ac = (r >> 36) & 1;
		if (x->user && x86_is_canonical48(va) && (va >> 47) && !kvm_oracle_has_user_high(oracle))
			x->user = false; /* this KVM cannot run it */
		c.nacc++;
	}
	wc_stats st;
	memset(&st, 0, sizeof(st));
	if (wc_check_cases(checker, &c, 1, &st, report, NULL) < 0) {
		fprintf(stderr, "mmref: pagewalk-kvm: the KVM guest failed: %s\n", kvm_oracle_error(oracle));
		abort();
	}
	return 0;
}

/* check_impl: check your own implementation of mmap/munmap/mprotect and
 * page faults against libmmref, the reference model, by driving both with
 * the same random operations and comparing after every one.
 *
 * "Your implementation" here is tiny_mm: a teaching kernel's address space,
 * one protection byte per page of a 256 KiB window, anonymous private
 * mappings at fixed addresses only. Replace the tiny_* functions with calls
 * into yours. Build it against an installed libmmref (docs/api.md):
 *
 *   cc -std=c11 check_impl.c $(pkg-config --cflags --libs mmref) -o check_impl
 *   ./check_impl [--seed N] [--steps N] [--bug]
 *
 * --bug plants the mistake QEMU's user-mode emulator makes
 * (docs/implementations/qemu-user.md): an mprotect whose range runs into a
 * hole changes nothing, where Linux changes the pages before the hole and
 * then fails with ENOMEM. Exit status: 0 agreed, 1 a divergence, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmref/mmref.h>

#define WINDOW_BASE 0x10000000ull
#define WINDOW_PAGES 64
#define PAGE MM_PAGE_SIZE
#define PROT_UNMAPPED 0xff

/* ---- The implementation under test ---------------------------------------- */

static unsigned char tiny_prot[WINDOW_PAGES]; /* PROT_* bits, or PROT_UNMAPPED */
static int tiny_bug;

static void tiny_init(void) { memset(tiny_prot, PROT_UNMAPPED, sizeof(tiny_prot)); }

static unsigned page_of(uint64_t addr) { return (unsigned)((addr - WINDOW_BASE) / PAGE); }

static uint64_t pages_of(uint64_t len) { return (len + PAGE - 1) / PAGE; }

static int64_t tiny_mmap_fixed(uint64_t addr, uint64_t len, uint64_t prot)
{
	if (addr % PAGE || len == 0)
		return -EINVAL;
	for (uint64_t i = 0; i < pages_of(len); i++)
		tiny_prot[page_of(addr) + i] = (unsigned char)prot;
	return (int64_t)addr;
}

static int tiny_munmap(uint64_t addr, uint64_t len)
{
	if (addr % PAGE || len == 0)
		return -EINVAL;
	for (uint64_t i = 0; i < pages_of(len); i++)
		tiny_prot[page_of(addr) + i] = PROT_UNMAPPED;
	return 0;
}

static int tiny_mprotect(uint64_t addr, uint64_t len, uint64_t prot)
{
	if (addr % PAGE)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (prot & ~(uint64_t)(MM_PROT_READ | MM_PROT_WRITE | MM_PROT_EXEC | MM_PROT_SEM))
		return -EINVAL;
	uint64_t n = pages_of(len);
	if (tiny_bug) {
		for (uint64_t i = 0; i < n; i++)
			if (tiny_prot[page_of(addr) + i] == PROT_UNMAPPED)
				return -ENOMEM; /* the planted mistake: nothing changed */
	}
	/* mm/mprotect.c: VMA by VMA from the start; a hole ends it with ENOMEM,
	 * and what came before the hole stays changed. */
	for (uint64_t i = 0; i < n; i++) {
		if (tiny_prot[page_of(addr) + i] == PROT_UNMAPPED)
			return -ENOMEM;
		tiny_prot[page_of(addr) + i] = (unsigned char)(prot & ~(uint64_t)MM_PROT_SEM);
	}
	return 0;
}

static mm_touch_outcome tiny_touch(uint64_t addr, mm_access access)
{
	unsigned char p = tiny_prot[page_of(addr)];
	if (p == PROT_UNMAPPED)
		return MM_TOUCH_SEGV_MAPERR;
	/* x86: any access right implies read; write and execute are their own. */
	if ((access == MM_ACCESS_READ && !p) || (access == MM_ACCESS_WRITE && !(p & MM_PROT_WRITE)) ||
	    (access == MM_ACCESS_EXEC && !(p & MM_PROT_EXEC)))
		return MM_TOUCH_SEGV_ACCERR;
	return MM_TOUCH_OK;
}

/* ---- The check ---------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (rng_state >> 33) % n;
}

static const char *outcome_name(int o)
{
	static const char *const names[] = {"ok", "SEGV_MAPERR", "SEGV_ACCERR", "SIGBUS", "UFFD", "SEGV_PKUERR"};
	return o >= 0 && o < 6 ? names[o] : "?";
}

/* The model's protection of the page at addr, the same way tiny_prot has it. */
static unsigned model_prot(const mm_state *mm, uint64_t addr)
{
	mm_vma_info vi;
	if (mm_vmas(mm, addr, addr + PAGE, &vi, 1) == 0)
		return PROT_UNMAPPED;
	return (unsigned)(vi.flags & MM_VM_ACCESS_FLAGS); /* VM_READ..VM_EXEC == PROT_READ..PROT_EXEC */
}

static void print_model(const mm_state *mm)
{
	mm_vma_info v[WINDOW_PAGES];
	size_t n = mm_vmas(mm, WINDOW_BASE, WINDOW_BASE + WINDOW_PAGES * PAGE, v, WINDOW_PAGES);
	for (size_t i = 0; i < n && i < WINDOW_PAGES; i++) {
		char perms[5];
		mm_format_perms(v[i].flags, perms);
		printf("    model VMA %llx-%llx %s\n", (unsigned long long)v[i].start, (unsigned long long)v[i].end, perms);
	}
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1, steps = 10000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			steps = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--bug") == 0)
			tiny_bug = 1;
		else {
			fprintf(stderr, "usage: %s [--seed N] [--steps N] [--bug]\n", argv[0]);
			return 2;
		}
	}
	rng_state = seed;
	mm_state *mm = mm_create(NULL);
	if (!mm) {
		fprintf(stderr, "check_impl: mm_create failed\n");
		return 2;
	}
	tiny_init();
	static const char *const op_names[] = {"mmap", "munmap", "mprotect", "touch"};
	for (unsigned long long step = 1; step <= steps; step++) {
		/* An operation inside the window; now and then an unaligned
		 * address, a zero length or an unknown protection bit. */
		int op = (int)rnd(4);
		uint64_t first = rnd(WINDOW_PAGES);
		uint64_t addr = WINDOW_BASE + first * PAGE + (rnd(16) == 0 ? 1 : 0);
		uint64_t len = rnd(20) == 0 ? 0 : (1 + rnd(WINDOW_PAGES - first < 12 ? WINDOW_PAGES - first : 12)) * PAGE;
		uint64_t prot = rnd(8) | (op == 2 && rnd(20) == 0 ? 0x10 : 0);
		int64_t want = 0, got = 0;
		mm_access acc = (mm_access)rnd(3);
		switch (op) {
		case 0:
			want = mm_mmap(mm, addr, len, prot, MM_MAP_PRIVATE | MM_MAP_ANONYMOUS | MM_MAP_FIXED, 0, 0);
			got = tiny_mmap_fixed(addr, len, prot);
			break;
		case 1:
			want = mm_munmap(mm, addr, len);
			got = tiny_munmap(addr, len);
			break;
		case 2:
			want = mm_mprotect(mm, addr, len, prot);
			got = tiny_mprotect(addr, len, prot);
			break;
		default:
			addr = WINDOW_BASE + first * PAGE + rnd(PAGE);
			want = mm_touch(mm, addr, acc).outcome;
			got = tiny_touch(addr, acc);
			break;
		}
		int bad_page = -1;
		for (unsigned p = 0; p < WINDOW_PAGES && bad_page < 0; p++)
			if (model_prot(mm, WINDOW_BASE + p * PAGE) != tiny_prot[p])
				bad_page = (int)p;
		mm_violation v;
		size_t broken = mm_check(mm, &v, 1); /* the model checks itself too */
		if (want == got && bad_page < 0 && broken == 0)
			continue;
		printf("step %llu (seed %llu): %s(0x%llx, 0x%llx, %s%llu)\n", step, seed, op_names[op],
		       (unsigned long long)addr, (unsigned long long)len, op == 3 ? "access " : "prot ",
		       op == 3 ? (unsigned long long)acc : (unsigned long long)prot);
		if (op == 3)
			printf("  model => %s, tiny_mm => %s\n", outcome_name((int)want), outcome_name((int)got));
		else
			printf("  model => %lld, tiny_mm => %lld\n", (long long)want, (long long)got);
		if (bad_page >= 0) {
			uint64_t a = WINDOW_BASE + (uint64_t)bad_page * PAGE;
			printf("  page 0x%llx: model prot %u, tiny_mm prot %u (%u = unmapped)\n", (unsigned long long)a,
			       model_prot(mm, a), tiny_prot[bad_page], PROT_UNMAPPED);
			print_model(mm);
		}
		if (broken)
			printf("  mm_check: I%d %s\n", v.invariant, v.what);
		mm_destroy(mm);
		return 1;
	}
	printf("check_impl: tiny_mm agrees with the model on %llu operations (seed %llu)\n", steps, seed);
	mm_destroy(mm);
	return 0;
}

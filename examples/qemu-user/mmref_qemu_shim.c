/* mmref_qemu_shim: lets mmref-kernel set up its arena under QEMU 7.2's
 * user-mode emulator (docs/implementations/qemu-user.md). Preload it into
 * the guest:
 *
 *   gcc -O2 -shared -fPIC -o build/mmref_qemu_shim.so examples/qemu-user/mmref_qemu_shim.c
 *   qemu-x86_64 -E LD_PRELOAD=$PWD/build/mmref_qemu_shim.so -E MMREF_KERNEL_PAGEMAP=read build/mmref-kernel
 *
 * Why: mmref-kernel fills every free gap of the address space outside its
 * arena with PROT_NONE placeholder mappings made with MAP_FIXED_NOREPLACE,
 * so that the kernel's no-hint search can only land in the arena
 * (docs/kernel-target.md, "The arena"). Under QEMU that cannot work:
 *   - QEMU 7.2 treats MAP_FIXED_NOREPLACE as a hint (finding 1 of the QEMU
 *     page): a placeholder over a range QEMU uses for itself is put elsewhere,
 *     and mmref-kernel refuses the arena;
 *   - the guest's "free" gaps include QEMU's own memory, invisible to the
 *     guest, so they cannot be filled anyway;
 *   - QEMU places no-hint mappings by its own policy, which placeholders do
 *     not steer.
 * So the shim makes the placeholders imaginary: their mmaps (PROT_NONE,
 * MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE of mmref-kernel's memfd)
 * succeed without mapping anything, their munmaps do nothing, and the
 * set-up probe (a no-hint 4 KiB PROT_NONE anonymous mmap) is answered with
 * the address mmref-kernel checks for, the last page of the arena. Every
 * other call, in particular every statement of a trace (raw syscalls, not
 * libc), goes to QEMU unchanged. The cost: no-hint mmaps and moving mremaps
 * are not confined to the arena, so a comparison must give them the
 * kernel's address (the QEMU page says how). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096ull
#define MAX_PLACEHOLDERS 512

static uint64_t ph_start[MAX_PLACEHOLDERS], ph_end[MAX_PLACEHOLDERS];
static int n_ph;
static uint64_t probe_at; /* the faked probe's address, 0 when none */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void *addr, size_t len);

/* The arena: the gap between two placeholders that no mapping of the
 * process covers and that is not the stack's growth window (the other
 * uncovered gap mmref-kernel leaves). Its end, or 0. */
static uint64_t arena_end(void)
{
	static uint64_t ms[4096], me[4096];
	int nm = 0;
	uint64_t stack = 0;
	FILE *f = fopen("/proc/self/maps", "r"); /* QEMU's view: the guest's mappings */
	char line[512];
	while (f && nm < 4096 && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		ms[nm] = s;
		me[nm] = e;
		nm++;
		if (strstr(line, "[stack]"))
			stack = s;
	}
	if (f)
		fclose(f);
	for (int i = 0; i < n_ph; i++) {
		uint64_t lo = ph_end[i], hi = UINT64_MAX;
		for (int j = 0; j < n_ph; j++)
			if (ph_start[j] >= lo && ph_start[j] < hi)
				hi = ph_start[j];
		if (hi == UINT64_MAX || hi == lo || hi == stack)
			continue;
		int covered = 0;
		for (int j = 0; j < nm && !covered; j++)
			covered = ms[j] < hi && lo < me[j];
		if (!covered)
			return hi;
	}
	return 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	uint64_t a = (uint64_t)(uintptr_t)addr;
	int placeholder = MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE;
	if (prot == PROT_NONE && fd >= 0 && flags == placeholder && n_ph < MAX_PLACEHOLDERS) {
		ph_start[n_ph] = a;
		ph_end[n_ph] = a + len;
		n_ph++;
		return addr;
	}
	if (!addr && len == PAGE && prot == PROT_NONE && flags == (MAP_PRIVATE | MAP_ANONYMOUS) && n_ph) {
		uint64_t end = arena_end();
		if (end) {
			probe_at = end - PAGE;
			return (void *)(uintptr_t)probe_at;
		}
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	uint64_t a = (uint64_t)(uintptr_t)addr;
	if (probe_at && a == probe_at && len == PAGE) {
		probe_at = 0;
		return 0;
	}
	for (int i = 0; i < n_ph; i++)
		if (ph_start[i] == a && ph_end[i] == a + len) {
			n_ph--;
			ph_start[i] = ph_start[n_ph];
			ph_end[i] = ph_end[n_ph];
			return 0;
		}
	return (int)syscall(SYS_munmap, addr, len);
}

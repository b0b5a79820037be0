/* The arena: an address range of this process that belongs to the trace.
 *
 * Everything else of the user address space is either the process's own
 * memory or a PROT_NONE placeholder mapping, so that the kernel's no-hint
 * search (top-down below mmap_base, then bottom-up above mmap_legacy_base)
 * finds no free gap outside the arena: `mmap 0 …` lands in the arena, at the
 * highest gap that fits, just as the model predicts with mmap_base = arena
 * end and mmap_low = arena base. See docs/kernel-target.md. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"
#include "procmaps.h"

uint64_t k_arena_base, k_arena_end;
bool k_arena_ok;
/* The top of the user address space: TASK_SIZE, or probed (--task-size=probe) */
uint64_t k_task_size = K_TASK_SIZE;
/* The window below [stack] that placeholders leave free (--stack-window) */
uint64_t k_stack_window = K_STACK_GUARD_GAP;

#define HEAP_RESERVE (64u << 20)
#define MAX_OWN 4096
#define MAX_PH 256

static void *brk_pinned;
static size_t heap_pinned;
static int ph_fd = -1;
static uint64_t ph_start[MAX_PH], ph_end[MAX_PH];
static int n_ph;
static bool ph_valid;
static uint64_t ph_base, ph_top; /* the arena the placeholders were made for */
static unsigned own_vmas;

typedef struct own_map {
	uint64_t start, end;
	bool stack;
	char name[64];
} own_map;
static own_map own[MAX_OWN];
static char mapsbuf[1 << 18];

void arena_init_process(void)
{
	/* malloc: never mmap (every later mmap of ours would land in the arena),
	 * never trim, and grow the brk heap now, while there are no placeholders
	 * above it, by more than the process will ever use. */
	mallopt(M_MMAP_MAX, 0);
	mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
	mallopt(M_TOP_PAD, 0);
	void *p = malloc(HEAP_RESERVE);
	if (!p) {
		fprintf(stderr, "mmref-kernel: cannot reserve the heap\n");
		exit(3);
	}
	free(p);
	brk_pinned = sbrk(0);
	struct mallinfo2 mi = mallinfo2();
	heap_pinned = mi.arena;
	ph_fd = (int)syscall(SYS_memfd_create, "mmref-placeholder", MFD_CLOEXEC);
	if (ph_fd < 0) {
		fprintf(stderr, "mmref-kernel: memfd_create: %s\n", strerror(errno));
		exit(3);
	}
}

bool arena_own_memory_intact(char *why, size_t whylen)
{
	if (sbrk(0) != brk_pinned) {
		snprintf(why, whylen, "internal: the heap moved (its pinned %u MiB were outgrown)", HEAP_RESERVE >> 20);
		return false;
	}
	struct mallinfo2 mi = mallinfo2();
	if (mi.arena != heap_pinned || mi.hblkhd != 0) {
		snprintf(why, whylen, "internal: malloc grew beyond the pinned heap (%zu > %zu bytes, %zu mmapped)",
		         mi.arena, heap_pinned, mi.hblkhd);
		return false;
	}
	return true;
}

bool arena_heap_intact(char *why, size_t whylen)
{
	struct mallinfo2 mi = mallinfo2();
	if (sbrk(0) != brk_pinned || mi.arena > heap_pinned || mi.hblkhd != 0) {
		snprintf(why, whylen,
		         "internal: the executor's memory outgrew its reserved heap of %u MiB; it stops here, before "
		         "the trace can reach it",
		         HEAP_RESERVE >> 20);
		return false;
	}
	return true;
}

unsigned arena_own_vma_count(void) { return own_vmas; }

bool arena_contains(uint64_t a, uint64_t len)
{
	return a >= k_arena_base && a <= k_arena_end && len <= k_arena_end - a;
}

/* Reads /proc/self/maps whole: this process's mappings (the arena is empty
 * when this runs). Returns the count, or -1. */
static int read_own_maps(void)
{
	if (tr_maps_read_file("/proc/self/maps", mapsbuf, sizeof(mapsbuf)) < 0)
		return -1;
	int count = 0;
	for (char *line = mapsbuf; *line && count < MAX_OWN;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		tr_maps_entry e;
		if (tr_maps_parse(line, &e)) {
			own_map *m = &own[count];
			m->start = e.start;
			m->end = e.end;
			snprintf(m->name, sizeof(m->name), "%s", e.name);
			/* The stack is the VMA the stack pointer is in: [stack] on
			 * Linux and gVisor; under Valgrind the client's stack is an
			 * unnamed VMA and [stack] is Valgrind's own. */
			uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
			m->stack = m->start <= sp && sp < m->end;
			if (m->end <= k_task_size)
				count++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return count;
}

static void placeholders_remove(void)
{
	for (int i = 0; i < n_ph; i++)
		munmap((void *)(uintptr_t)ph_start[i], ph_end[i] - ph_start[i]);
	n_ph = 0;
	ph_valid = false;
}

static bool placeholder_add(uint64_t s, uint64_t e)
{
	if (s >= e)
		return true;
	if (n_ph == MAX_PH)
		return false;
	void *r = mmap((void *)(uintptr_t)s, e - s, PROT_NONE, MAP_PRIVATE | MAP_FIXED_NOREPLACE | MAP_NORESERVE,
	               ph_fd, 0);
	if (r == MAP_FAILED && s < K_MMAP_MIN_ADDR && e > K_MMAP_MIN_ADDR) /* below the floor: not searched anyway */
		return placeholder_add(K_MMAP_MIN_ADDR, e);
	if (r == MAP_FAILED || (uint64_t)(uintptr_t)r != s) {
		if (r != MAP_FAILED)
			munmap(r, e - s);
		return false;
	}
	ph_start[n_ph] = s;
	ph_end[n_ph] = e;
	n_ph++;
	return true;
}

/* Fills [s, e) minus the arena and minus the stack's guard window. */
static bool fill_gap(uint64_t s, uint64_t e, uint64_t base, uint64_t end, uint64_t guard_lo, uint64_t guard_hi)
{
	if (s >= e)
		return true;
	if (s < guard_hi && guard_lo < e) /* cut out the window below the stack */
		return fill_gap(s, guard_lo, base, end, 0, 0) && fill_gap(guard_hi, e, base, end, 0, 0);
	if (s < end && base < e)
		return placeholder_add(s, base > s ? base : s) && placeholder_add(end < e ? end : e, e);
	return placeholder_add(s, e);
}

/* --task-size=probe: the highest page a MAP_FIXED_NOREPLACE mmap can take,
 * searched above the highest mapping of the process (nothing is mapped
 * there, so a probe that lands elsewhere or fails means "beyond the top").
 * gVisor's address space ends below Linux's TASK_SIZE. */
bool arena_probe_task_size(char *why, size_t whylen)
{
	int n = read_own_maps();
	if (n < 0) {
		snprintf(why, whylen, "cannot read /proc/self/maps");
		return false;
	}
	uint64_t lo = K_PAGE, hi = 1ull << 47; /* lo: known below the top; hi: known beyond */
	for (int i = 0; i < n; i++)
		if (own[i].end < hi && own[i].end > lo)
			lo = own[i].end;
	while (hi - lo > K_PAGE) {
		uint64_t mid = (lo + (hi - lo) / 2) & ~(K_PAGE - 1);
		if (mid <= lo)
			mid = lo + K_PAGE;
		void *r = mmap((void *)(uintptr_t)mid, K_PAGE, PROT_NONE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
		if (r != MAP_FAILED)
			munmap(r, K_PAGE);
		if (r == (void *)(uintptr_t)mid)
			lo = mid + K_PAGE;
		else
			hi = mid;
	}
	k_task_size = lo;
	return true;
}

bool arena_clear(void)
{
	if (k_arena_end <= k_arena_base)
		return true;
	return munmap((void *)(uintptr_t)k_arena_base, k_arena_end - k_arena_base) == 0;
}

/* ---- the process's own VMAs, padded to a fixed budget ---------------------------------------
 *
 * They count against vm.max_map_count with the trace's. Their natural number
 * depends on the arena (it splits a gap, or fills one) and on the layout of
 * this process (a re-exec may differ by one), so every arena is padded to one
 * budget, fixed at the first arena: budget − 2 + (the model's fences for this
 * arena, see harness/target_api.c api_start). The model, which counts its
 * fences as VMAs, then refuses at the same statement as the kernel when its
 * max_map_count is vm.max_map_count − budget + 2 (arena_trace_max_map_count). */

#define VMA_SLACK 4 /* room for the arena's and the re-exec's variations */

static unsigned vma_budget;
static int pad_fd = -1;

void arena_set_vma_budget(unsigned budget) { vma_budget = budget; }
unsigned arena_vma_budget(void) { return vma_budget; }

uint64_t arena_trace_max_map_count(uint64_t sysctl)
{
	if (!vma_budget)
		return sysctl;
	return sysctl > vma_budget ? sysctl - vma_budget + 2 : 2;
}

static unsigned model_fences(uint64_t base, uint64_t end)
{
	return (base >= 2 * K_PAGE) + (end + K_PAGE <= K_TASK_SIZE) /* the model's TASK_SIZE */;
}

/* Splits the largest placeholder not next to the arena into one-page
 * PROT_NONE mappings of another empty memfd (nothing merges with them: a
 * different file, and each at offset 0) until the process has its budget. */
static void pad_own_vmas(uint64_t base, uint64_t end, unsigned natural)
{
	own_vmas = natural;
	if (!vma_budget)
		vma_budget = natural + VMA_SLACK;
	unsigned want = vma_budget - 2 + model_fences(base, end);
	if (natural >= want)
		return;
	int best = -1;
	for (int i = 0; i < n_ph; i++) {
		if (ph_end[i] == base || ph_start[i] == end)
			continue;
		if (best < 0 || ph_end[i] - ph_start[i] > ph_end[best] - ph_start[best])
			best = i;
	}
	if (pad_fd < 0)
		pad_fd = (int)syscall(SYS_memfd_create, "mmref-pad", MFD_CLOEXEC);
	if (best < 0 || pad_fd < 0 || ph_end[best] - ph_start[best] < (uint64_t)(want - natural + 1) * K_PAGE)
		return;
	for (unsigned k = 0; k < want - natural; k++) {
		uint64_t a = ph_start[best] + (uint64_t)k * K_PAGE;
		if (mmap((void *)(uintptr_t)a, K_PAGE, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, pad_fd, 0) ==
		    MAP_FAILED)
			break;
		own_vmas++;
	}
}

arena_status arena_setup(uint64_t base, uint64_t size, char *why, size_t whylen)
{
	uint64_t end = base + size;
	k_arena_ok = false;
	if (size == 0 || ((base | size) & (K_PAGE - 1)) || end < base) {
		snprintf(why, whylen, "arena must be page-aligned and non-empty");
		return ARENA_REFUSED;
	}
	if (base < K_MMAP_MIN_ADDR) {
		snprintf(why, whylen, "arena starts below mmap_min_addr (0x%llx)", (unsigned long long)K_MMAP_MIN_ADDR);
		return ARENA_REFUSED;
	}
	if (end > k_task_size) {
		snprintf(why, whylen, "arena ends above the user address space (0x%llx)", (unsigned long long)k_task_size);
		return ARENA_REFUSED;
	}
	if (!arena_clear())
		return ARENA_REEXEC;
	if (ph_valid && ph_base == base && ph_top == end) {
		k_arena_base = base;
		k_arena_end = end;
		k_arena_ok = true;
		return ARENA_OK;
	}
	placeholders_remove();
	k_arena_base = k_arena_end = 0;
	int n = read_own_maps();
	if (n < 0) {
		snprintf(why, whylen, "internal: cannot read /proc/self/maps");
		return ARENA_REFUSED;
	}
	uint64_t guard_lo = 0, guard_hi = 0;
	for (int i = 0; i < n; i++) {
		if (own[i].start < end && base < own[i].end) {
			/* no addresses of this process in any message (they would defeat ASLR) */
			const char *nm = strrchr(own[i].name, '/');
			snprintf(why, whylen, "arena overlaps the process's own mapping %s",
			         nm ? nm + 1 : own[i].name[0] ? own[i].name : "(anonymous)");
			return ARENA_REFUSED;
		}
		if (own[i].stack) {
			guard_hi = own[i].start;
			guard_lo = guard_hi > k_stack_window ? guard_hi - k_stack_window : 0;
		}
	}
	/* The arena keeps a stack guard gap away from the growth window, so that
	 * (a) the stack can grow through the whole window, whatever the trace maps
	 * at the arena's top, and (b) the page above the arena is always a
	 * placeholder: in-place growth (mremap) can never leave the arena. */
	uint64_t keep_lo = guard_lo > K_STACK_GUARD_GAP ? guard_lo - K_STACK_GUARD_GAP : 0;
	if (guard_hi && keep_lo < end && base < guard_hi) {
		snprintf(why, whylen, "arena overlaps the stack's growth window or its guard gap (the %llu MiB below "
		         "[stack])", (unsigned long long)((k_stack_window + K_STACK_GUARD_GAP) >> 20));
		return ARENA_REFUSED;
	}
	uint64_t prev = K_PAGE;
	bool ok = true;
	for (int i = 0; i < n && ok; i++) {
		ok = fill_gap(prev, own[i].start, base, end, guard_lo, guard_hi);
		if (own[i].end > prev)
			prev = own[i].end;
	}
	if (ok)
		ok = fill_gap(prev, k_task_size, base, end, guard_lo, guard_hi);
	if (!ok) {
		snprintf(why, whylen, "internal: cannot place the placeholder mappings around the arena: %s",
		         strerror(errno));
		placeholders_remove();
		return ARENA_REFUSED;
	}
	/* Check: a no-hint mapping must now land at the top of the arena. */
	void *probe = mmap(NULL, K_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe != MAP_FAILED)
		munmap(probe, K_PAGE);
	if ((uint64_t)(uintptr_t)probe != end - K_PAGE) {
		snprintf(why, whylen, "no-hint mmaps cannot be confined to this arena (a probe landed outside it)");
		placeholders_remove();
		return ARENA_REFUSED;
	}
	pad_own_vmas(base, end, (unsigned)n + (unsigned)n_ph);
	ph_valid = true;
	ph_base = base;
	ph_top = end;
	k_arena_base = base;
	k_arena_end = end;
	k_arena_ok = true;
	return ARENA_OK;
}

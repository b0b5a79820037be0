/* ondemand: a mapping whose pages are computed when first touched, served
 * by a fault handler of your own (libmmref's mm_device_create: the
 * vm_operations_struct ->fault a driver installs in its ->mmap).
 *
 * The "device" is a 1 GiB table of squares: 64-bit word n holds n * n.
 * Nothing is computed at mmap time; each page is filled by square_fault()
 * the first time any mapping of the device faults on it, and is the
 * device's page from then on (every mapping sees it). Pages from 1 MiB up
 * to 2 MiB are "bad": the handler answers SIGBUS for them, as a driver
 * answers VM_FAULT_SIGBUS. The program maps the table shared and private,
 * reads, writes, forks, and checks every answer; it prints what happened.
 *
 *   cc -std=c11 ondemand.c $(pkg-config --cflags --libs mmref) -o ondemand
 *   ./ondemand      # exit status 0: every check held; 1: one did not
 *
 * (docs/api.md, "Serving a mapping's faults".) */
#include <stdio.h>
#include <stdlib.h>

#include <mmref/mmref.h>

#define TABLE_SIZE (1ull << 30)
#define BAD_FROM (1ull << 20) /* bytes: the bad range's start... */
#define BAD_TO (2ull << 20)   /* ...and end */

struct table {
	unsigned computed; /* pages the handler filled */
};

/* vm_ops->fault: fill page vmf->pgoff of the table, or refuse it. */
static mm_fault_status square_fault(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	struct table *t = ctx;
	uint64_t off = vmf->pgoff * MM_PAGE_SIZE;
	if (off >= BAD_FROM && off < BAD_TO)
		return MM_FAULT_SIGBUS;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t n = off / 8 + i;
		words[i] = n * n;
	}
	t->computed++;
	return MM_FAULT_OK;
}

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	failures += !ok;
}

/* Reads word n of the table through the mapping at base. */
static int read_square(mm_state *mm, uint64_t base, uint64_t n, uint64_t *v)
{
	return mm_read(mm, base + n * 8, v).outcome == MM_TOUCH_OK;
}

int main(void)
{
	mm_state *mm = mm_create(NULL);
	if (!mm)
		return 2;
	struct table t = {0};
	static const mm_vm_ops square_ops = {.fault = square_fault};
	int dev = mm_device_create(mm, TABLE_SIZE, &square_ops, &t);
	if (dev < 0)
		return 2;

	/* A shared mapping of the whole table: a gigabyte of address space,
	 * no page yet. */
	int64_t shared = mm_mmap(mm, 0, TABLE_SIZE, MM_PROT_READ, MM_MAP_SHARED, dev, 0);
	check(shared > 0, "mmap of the 1 GiB table");
	check(t.computed == 0, "no page computed at mmap time");

	/* Sparse reads: one page computed per page touched. */
	uint64_t v = 0, sum = 0;
	static const uint64_t probes[] = {0, 1, 511, 512, 100000, 100001, 123456789};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		int ok = read_square(mm, (uint64_t)shared, probes[i], &v);
		check(ok && v == probes[i] * probes[i], "a square read through the shared mapping");
		sum += v;
	}
	printf("     %u pages computed for %zu reads (sum of squares read: %llu)\n", t.computed,
	       sizeof(probes) / sizeof(probes[0]), (unsigned long long)sum);
	check(t.computed == 4, "four pages computed (0, 1, 195, 241126)");
	check(mm_page(mm, (uint64_t)shared + MM_PAGE_SIZE * 2) == MM_PAGE_NONE, "page 2 never touched: not present");

	/* The bad range: SIGBUS, and no page. */
	mm_touch_result r = mm_touch(mm, (uint64_t)shared + BAD_FROM + 8, MM_ACCESS_READ);
	check(r.outcome == MM_TOUCH_SIGBUS, "the handler's SIGBUS reaches the reader");
	check(mm_page(mm, (uint64_t)shared + BAD_FROM) == MM_PAGE_NONE, "no page at the bad offset");

	/* A private mapping of the same table: reads see the device's pages
	 * (computed once), a write gets a private copy (do_cow_fault /
	 * wp_page_copy) and the table is unchanged. */
	int64_t priv = mm_mmap(mm, 0, 4 * MM_PAGE_SIZE, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_PRIVATE, dev, 0);
	check(priv > 0, "private mapping of the first 16 KiB");
	unsigned before = t.computed;
	check(read_square(mm, (uint64_t)priv, 7, &v) && v == 49, "7 * 7 through the private mapping");
	check(t.computed == before, "the page was the device's already: not computed again");
	check(mm_write(mm, (uint64_t)priv + 7 * 8, 1234).outcome == MM_TOUCH_OK, "a private write");
	check(read_square(mm, (uint64_t)priv, 7, &v) && v == 1234, "the private copy holds it");
	check(read_square(mm, (uint64_t)priv, 8, &v) && v == 64, "the rest of the copy is the table's");
	check(read_square(mm, (uint64_t)shared, 7, &v) && v == 49, "the table is unchanged");
	check(mm_page(mm, (uint64_t)priv) == MM_PAGE_ANON, "the private page is anonymous now");

	/* fork: the child's mapping has the same operations; a page it
	 * touches first is computed for it, and the parent then finds it. */
	int child = mm_fork(mm);
	check(child > 1 && mm_proc(mm, child) == 0, "fork, and run the child");
	before = t.computed;
	check(read_square(mm, (uint64_t)shared, 1000000, &v) && v == 1000000000000ull, "the child reads a square");
	check(t.computed == before + 1, "one page computed for the child");
	check(mm_proc(mm, 1) == 0 && read_square(mm, (uint64_t)shared, 1000001, &v) && v == 1000002000001ull,
	      "the parent reads the next square on that page");
	check(t.computed == before + 1, "not computed again for the parent");
	check(mm_exit(mm, child) == 0, "the child exits");

	mm_violation viol[4];
	check(mm_check(mm, viol, 4) == 0, "the model's invariants hold");
	mm_destroy(mm);
	printf("ondemand: %s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}

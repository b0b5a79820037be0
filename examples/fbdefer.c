/* fbdefer: a framebuffer with deferred I/O, the way Linux's fbdev deferred
 * I/O (drivers/video/fbdev/core/fb_defio.c) learns which pages a program
 * drew on: every callback of libmmref's mm_vm_ops at work.
 *
 *   fault         a page of the screen, filled with the background colour
 *   map_pages     fault-around: the neighbours of a read fault, supplied too
 *   page_mkwrite  the first write to a page in a shared mapping: the page
 *                 goes on the dirty list (fb_deferred_io_mkwrite); pages
 *                 past the visible screen refuse writes with SIGBUS
 *   open/close    the driver counts the VMAs that map it
 *   may_split     the mapping must stay whole: a split is -EINVAL
 *   mremap        a move is allowed, and the driver hears where to
 *
 * After a flush the driver re-arms the tracking as Linux does with
 * page_mkclean(): mm_device_writeback write-protects and cleans the dirty
 * pages in every shared mapping, so the next write to each asks
 * page_mkwrite again.
 *
 *   cc -std=c11 fbdefer.c $(pkg-config --cflags --libs mmref) -o fbdefer
 *   ./fbdefer      # exit status 0: every check held; 1: one did not
 *
 * (docs/api.md, "Serving a mapping's faults".) */
#include <errno.h>
#include <stdio.h>

#include <mmref/mmref.h>

#define SCREEN_PAGES 64u  /* the device */
#define VISIBLE_PAGES 60u /* writes past these are refused */
#define BACKGROUND 0x00203040u
#define FB_ADDR 0x20000000ull  /* where it is mapped... */
#define FB_MOVED 0x30000000ull /* ...and moved to */

struct fb {
	unsigned faults, around, mkwrites, vmas, moves;
	int dirty[SCREEN_PAGES]; /* the deferred-I/O dirty list */
	uint64_t moved_to;
};

static void paint(uint64_t words[512])
{
	for (unsigned i = 0; i < 512; i++)
		words[i] = (uint64_t)BACKGROUND << 32 | BACKGROUND;
}

static mm_fault_status fb_fault(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	struct fb *fb = ctx;
	fb->faults++;
	(void)vmf;
	paint(words);
	return MM_FAULT_OK;
}

static bool fb_map_pages(void *ctx, const mm_fault_info *vmf, uint64_t words[512])
{
	struct fb *fb = ctx;
	fb->around++;
	(void)vmf;
	paint(words);
	return true;
}

static mm_fault_status fb_mkwrite(void *ctx, const mm_fault_info *vmf)
{
	struct fb *fb = ctx;
	fb->mkwrites++;
	if (vmf->pgoff >= VISIBLE_PAGES)
		return MM_FAULT_SIGBUS;
	fb->dirty[vmf->pgoff] = 1;
	return MM_FAULT_OK;
}

static void fb_open(void *ctx, int proc, const mm_vma_info *vma)
{
	(void)proc, (void)vma;
	((struct fb *)ctx)->vmas++;
}

static void fb_close(void *ctx, int proc, const mm_vma_info *vma)
{
	(void)proc, (void)vma;
	((struct fb *)ctx)->vmas--;
}

static int fb_may_split(void *ctx, const mm_vma_info *vma, uint64_t addr)
{
	(void)ctx, (void)vma, (void)addr;
	return -EINVAL;
}

static int fb_mremap(void *ctx, const mm_vma_info *new_vma)
{
	struct fb *fb = ctx;
	fb->moves++;
	fb->moved_to = new_vma->start;
	return 0;
}

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	failures += !ok;
}

/* Takes the dirty list: how many pages were drawn on since the last flush. */
static unsigned flush(struct fb *fb)
{
	unsigned n = 0;
	for (unsigned p = 0; p < SCREEN_PAGES; p++) {
		n += fb->dirty[p];
		fb->dirty[p] = 0;
	}
	return n;
}

int main(void)
{
	static const mm_vm_ops fb_ops = {
		.fault = fb_fault,
		.map_pages = fb_map_pages,
		.page_mkwrite = fb_mkwrite,
		.open = fb_open,
		.close = fb_close,
		.may_split = fb_may_split,
		.mremap = fb_mremap,
	};
	mm_state *mm = mm_create(NULL);
	struct fb fb = {0};
	int dev = mm ? mm_device_create(mm, SCREEN_PAGES * MM_PAGE_SIZE, &fb_ops, &fb) : -1;
	if (dev < 0)
		return 2;
	const uint64_t size = SCREEN_PAGES * MM_PAGE_SIZE;
	int64_t m = mm_mmap(mm, FB_ADDR, size, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_SHARED | MM_MAP_FIXED, dev, 0);
	check(m == (int64_t)FB_ADDR, "mmap of the framebuffer, shared and writable");
	fb.vmas = 1; /* a driver's ->mmap counts the first VMA itself (no open) */
	uint64_t fbase = (uint64_t)m;

	/* A read: one fault-around window of 16 pages, all supplied by
	 * map_pages, so fault is never asked. The pages are mapped
	 * read-only: the mapping write-notifies (it has page_mkwrite). */
	uint64_t v = 0;
	check(mm_read(mm, fbase + 5 * MM_PAGE_SIZE, &v).outcome == MM_TOUCH_OK && v >> 32 == BACKGROUND,
	      "a read sees the background");
	printf("     read fault: %u pages mapped around it, %u faults\n", fb.around, fb.faults);
	check(fb.faults == 0, "fault-around supplied the faulting page too");

	/* Draw a line across pages 3..9 (two stores a page): one page_mkwrite
	 * per page, only on its first store. */
	for (unsigned p = 3; p <= 9; p++)
		for (unsigned k = 0; k < 2; k++)
			if (mm_write(mm, fbase + p * MM_PAGE_SIZE + k * 8, 0xffffffff).outcome != MM_TOUCH_OK)
				check(0, "a store to the screen");
	check(fb.mkwrites == 7, "seven pages drawn on: seven page_mkwrite calls");
	check(fb.faults == 0, "no fault: pages 3..9 were mapped by fault-around, read-only");
	unsigned drawn = flush(&fb);
	printf("     flush: %u dirty pages sent to the display\n", drawn);
	check(drawn == 7, "the dirty list holds exactly pages 3..9");

	/* Re-arm (see the top), then one store: one page dirty again. */
	check(mm_device_writeback(mm, dev) == 7, "re-arm the tracking: seven entries cleaned");
	check(mm_write(mm, fbase + 4 * MM_PAGE_SIZE, 1).outcome == MM_TOUCH_OK, "a store after the flush");
	check(flush(&fb) == 1 && fb.mkwrites == 8, "one page dirty after it");

	/* Past the visible screen: page_mkwrite refuses with SIGBUS. */
	mm_touch_result r = mm_touch(mm, fbase + 62 * MM_PAGE_SIZE, MM_ACCESS_WRITE);
	check(r.outcome == MM_TOUCH_SIGBUS && fb.faults == 1, "a store past the visible screen gets SIGBUS");

	/* The mapping must stay whole; it may move. */
	check(mm_mprotect(mm, fbase, MM_PAGE_SIZE, MM_PROT_READ) == -EINVAL, "mprotect of one page: -EINVAL");
	check(mm_munmap(mm, fbase + size - MM_PAGE_SIZE, MM_PAGE_SIZE) == -EINVAL, "munmap of one page: -EINVAL");
	int64_t away = mm_mremap(mm, fbase, size, size, MM_MREMAP_MAYMOVE | MM_MREMAP_FIXED, FB_MOVED);
	check(away == (int64_t)FB_MOVED && fb.moves == 1 && fb.moved_to == FB_MOVED,
	      "mremap elsewhere: the driver hears the new address");
	check(fb.vmas == 1, "the move opened the new VMA and closed the old one");
	fbase = FB_MOVED;
	check(mm_read(mm, fbase + 4 * MM_PAGE_SIZE, &v).outcome == MM_TOUCH_OK && v == 1,
	      "the drawing moved with it");

	/* fork: the child's VMA is opened, and closed when it exits. */
	int child = mm_fork(mm);
	check(child > 1 && fb.vmas == 2, "fork opens the child's VMA");
	check(mm_exit(mm, child) == 0 && fb.vmas == 1, "its exit closes it");

	mm_violation viol[4];
	check(mm_check(mm, viol, 4) == 0, "the model's invariants hold");
	mm_destroy(mm);
	check(fb.vmas == 0, "mm_destroy closed the last VMA");
	printf("fbdefer: %s\n", failures ? "FAILED" : "all checks held");
	return failures ? 1 : 0;
}

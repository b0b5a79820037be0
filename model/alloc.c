/* The one allocation seam of libmmref. Every object the model allocates goes
 * through mm_alloc, so a test or fuzzer can make any chosen allocation fail
 * (mm_fail_alloc_after) and drive every -ENOMEM path, the way the kernel's
 * VMA tests use fail_prealloc. */
#include <stdlib.h>

#include "internal.h"

void *mm_alloc(mm_state *mm, size_t size)
{
	if (mm && mm->fail_alloc_countdown) {
		if (--mm->fail_alloc_countdown == 0)
			return NULL;
	}
	return calloc(1, size);
}

void mm_free(mm_state *mm, void *p)
{
	(void)mm;
	free(p);
}

void mm_fail_alloc_after(mm_state *mm, uint64_t n)
{
	mm->fail_alloc_countdown = n;
}

/* Processes: fork, proc, exit (issue 18). Placeholder until the page layer
 * is split (see docs/semantics.md). */
#include "internal.h"

int mm_fork(mm_state *mm)
{
	(void)mm;
	return -ENOSYS;
}

int mm_proc(mm_state *mm, int proc)
{
	(void)mm;
	return proc == 1 ? 0 : -ESRCH;
}

int mm_exit(mm_state *mm, int proc)
{
	(void)mm;
	return proc == 1 ? -EINVAL : -ESRCH;
}

int mm_current_proc(const mm_state *mm)
{
	(void)mm;
	return 1;
}

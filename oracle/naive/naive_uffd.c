/* The process's userfaultfd in the naive oracle: not written yet -- every
 * ioctl answers ENOSYS, so a trace using it diverges from the model here. */
#include <errno.h>

#include "naive.h"

int naive_uffd_register(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t mode)
{
	(void)nm, (void)addr, (void)len, (void)mode;
	return -ENOSYS;
}

int naive_uffd_unregister(naive_mm *nm, uint64_t addr, uint64_t len)
{
	(void)nm, (void)addr, (void)len;
	return -ENOSYS;
}

int naive_uffd_copy(naive_mm *nm, uint64_t addr, uint64_t len, uint64_t value)
{
	(void)nm, (void)addr, (void)len, (void)value;
	return -ENOSYS;
}

int naive_uffd_zeropage(naive_mm *nm, uint64_t addr, uint64_t len)
{
	(void)nm, (void)addr, (void)len;
	return -ENOSYS;
}

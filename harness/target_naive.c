/* The naive target: the naive oracle (naive_*). */
#include "target_internal.h"
#include "naive.h"

/* Adapters from the naive_* signatures to the shared table. */
static void *api_create(const mm_config *cfg) { return naive_create(cfg); }
static void api_destroy(void *mm) { naive_destroy(mm); }
static int api_file_create(void *mm, uint64_t size) { return naive_file_create(mm, size); }
static int64_t api_mmap(void *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file, uint64_t off)
{
	return naive_mmap(mm, addr, len, prot, flags, file, off);
}
static int api_munmap(void *mm, uint64_t addr, uint64_t len) { return naive_munmap(mm, addr, len); }
static int api_mprotect(void *mm, uint64_t addr, uint64_t len, uint64_t prot)
{
	return naive_mprotect(mm, addr, len, prot);
}
static int64_t api_mremap(void *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                          uint64_t new_addr)
{
	return naive_mremap(mm, addr, old_len, new_len, flags, new_addr);
}
static int api_madvise(void *mm, uint64_t addr, uint64_t len, int64_t advice)
{
	return naive_madvise(mm, addr, len, advice);
}
static int api_mlock2(void *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
	return naive_mlock2(mm, addr, len, flags);
}
static int api_munlock(void *mm, uint64_t addr, uint64_t len) { return naive_munlock(mm, addr, len); }
static int api_mseal(void *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
	return naive_mseal(mm, addr, len, flags);
}
static mm_touch_result api_touch(void *mm, uint64_t addr, mm_access access)
{
	return naive_touch(mm, addr, access);
}
static size_t api_vmas(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap)
{
	return naive_vmas(mm, lo, hi, out, cap);
}
static void api_pages(const void *mm, uint64_t start, size_t npages, uint8_t *out)
{
	naive_pages(mm, start, npages, out);
}

static mm_page_state api_page(const void *mm, uint64_t addr) { return naive_page(mm, addr); }

static const mm_api naive_api_table = {
	.create = api_create,
	.destroy = api_destroy,
	.file_create = api_file_create,
	.mmap = api_mmap,
	.munmap = api_munmap,
	.mprotect = api_mprotect,
	.mremap = api_mremap,
	.madvise = api_madvise,
	.mlock2 = api_mlock2,
	.munlock = api_munlock,
	.mseal = api_mseal,
	.touch = api_touch,
	.vmas = api_vmas,
	.page = api_page,
	.pages = api_pages,
};

target *target_naive_new(void) { return target_api_new(&naive_api_table, "naive"); }

/* The model target: libmmref, the reference model (mm_*). */
#include "target_internal.h"

/* Adapters from the mm_* signatures to the shared table. */
static void *api_create(const mm_config *cfg) { return mm_create(cfg); }
static void api_destroy(void *mm) { mm_destroy(mm); }
static int api_file_create(void *mm, uint64_t size) { return mm_file_create(mm, size); }
static int64_t api_mmap(void *mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int file, uint64_t off)
{
	return mm_mmap(mm, addr, len, prot, flags, file, off);
}
static int api_munmap(void *mm, uint64_t addr, uint64_t len) { return mm_munmap(mm, addr, len); }
static int api_mprotect(void *mm, uint64_t addr, uint64_t len, uint64_t prot)
{
	return mm_mprotect(mm, addr, len, prot);
}
static int64_t api_mremap(void *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, uint64_t flags,
                          uint64_t new_addr)
{
	return mm_mremap(mm, addr, old_len, new_len, flags, new_addr);
}
static int api_madvise(void *mm, uint64_t addr, uint64_t len, int64_t advice)
{
	return mm_madvise(mm, addr, len, advice);
}
static int api_mlock2(void *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
	return mm_mlock2(mm, addr, len, flags);
}
static int api_munlock(void *mm, uint64_t addr, uint64_t len) { return mm_munlock(mm, addr, len); }
static int api_mseal(void *mm, uint64_t addr, uint64_t len, uint64_t flags)
{
	return mm_mseal(mm, addr, len, flags);
}
static mm_touch_result api_touch(void *mm, uint64_t addr, mm_access access)
{
	return mm_touch(mm, addr, access);
}
static size_t api_vmas(const void *mm, uint64_t lo, uint64_t hi, mm_vma_info *out, size_t cap)
{
	return mm_vmas(mm, lo, hi, out, cap);
}
static void api_pages(const void *mm, uint64_t start, size_t npages, uint8_t *out)
{
	mm_pages(mm, start, npages, out);
}

static mm_page_state api_page(const void *mm, uint64_t addr) { return mm_page(mm, addr); }

static const mm_api mm_api_table = {
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

target *target_model_new(void) { return target_api_new(&mm_api_table, "model"); }

gboolean target_is_model(const target *tg) { return target_api_of(tg) == &mm_api_table; }

mm_state *target_model_mm(target *tg) { return target_is_model(tg) ? target_api_handle(tg) : NULL; }

size_t target_model_check(target *tg, GString *report)
{
	mm_state *mm = target_model_mm(tg);
	if (!mm)
		return 0;
	mm_violation v[64];
	size_t n = mm_check(mm, v, G_N_ELEMENTS(v));
	for (size_t i = 0; report && i < n && i < G_N_ELEMENTS(v); i++)
		g_string_append_printf(report, "I%d [%08" G_GINT64_MODIFIER "x-%08" G_GINT64_MODIFIER "x]: %.*s\n",
		                       v[i].invariant, v[i].vma_start, v[i].vma_end, (int)sizeof(v[i].what), v[i].what);
	if (report && n > G_N_ELEMENTS(v))
		g_string_append_printf(report, "... and %zu more\n", n - G_N_ELEMENTS(v));
	return n;
}

/* Backing objects: the declared files (mm_file_create), the shmem object
 * behind each shared anonymous mapping, and devices (mm_device_create). An
 * object's identity is its struct file's; its pages are in its page cache
 * (pagecache.c), which goes with its last reference. Each object has the
 * vm_operations its VMAs are served by (internal.h struct vm_operations):
 * the files' and shmem's are here as mm/shmem.c and mm/filemap.c have
 * them, a device's call the caller's mm_vm_ops. */
#include "alloc.h"
#include "contents.h"
#include "object.h"
#include "pagecache.h"
#include "pagepolicy.h"
#include "pgtable.h"

/* ---- The operations of the model's files and shmem (mm/shmem.c) ---------- */

/* set_pte_range() for a page fault-around maps: not a write, the VMA's
 * vm_page_prot. */
static void map_around_page(mm_state *mm, uint64_t wi, const struct vma *v, uint64_t pfn)
{
	pg_set_entry(mm, wi, 1, (pfn << PAGE_SHIFT) | pg_vma_page_prot(v));
}

/* mm/filemap.c filemap_map_folio_range() (6.18, "map entire large folio
 * faultaround"): a large folio of which fault-around maps a page is mapped
 * whole -- every page whose PTE is none -- when it lies in the VMA and in
 * one page table [LIVE: huge-shmem-pmd-split.trace, the pieces a hole punch
 * leaves of a huge folio]. */
static void map_cache_folio_whole(mm_state *mm, const struct vma *v, uint64_t addr, uint64_t pgoff)
{
	uint64_t first, npages;
	if (!pp_cache_folio(mm, v->obj, pgoff, &first, &npages))
		return;
	uint64_t a0 = addr - ((pgoff - first) << PAGE_SHIFT), size = npages << PAGE_SHIFT;
	if (a0 < v->vm_start || a0 + size > v->vm_end || (a0 & ~(MM_PMD_SIZE - 1)) != ((a0 + size - 1) & ~(MM_PMD_SIZE - 1)))
		return;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t pfn = pc_page(mm, v->obj, first + i, false);
		uint64_t wi = pfn ? pg_alloc_pte(mm, a0 + (i << PAGE_SHIFT)) : 0;
		if (wi && lx_none(pg_words(mm)[wi]))
			map_around_page(mm, wi, v, pfn);
	}
}

/* The address of page pgoff of vmf's VMA. */
static uint64_t vmf_addr_of(const struct vm_fault *vmf, uint64_t pgoff)
{
	return vmf->address + ((pgoff - vmf->pgoff) << PAGE_SHIFT);
}

/* mm/filemap.c filemap_map_pages(): the window clipped to i_size; each page
 * already in the page cache is mapped into an empty PTE (pages not cached
 * are left to ->fault), a large folio met there whole. */
static void filemap_map_pages(mm_state *mm, const struct vm_fault *vmf, uint64_t start_pgoff, uint64_t end_pgoff)
{
	const struct vma *v = vmf->vma;
	uint64_t file_pages = (v->obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	for (uint64_t p = start_pgoff; p <= end_pgoff && p < file_pages; p++) {
		uint64_t pfn = pc_page(mm, v->obj, p, false);
		if (!pfn)
			continue;
		uint64_t addr = vmf_addr_of(vmf, p);
		uint64_t wi = pg_alloc_pte(mm, addr);
		if (wi && lx_none(pg_words(mm)[wi])) {
			map_around_page(mm, wi, v, pfn);
			map_cache_folio_whole(mm, v, addr, p);
		}
	}
}

/* mm/shmem.c shmem_fault() -> shmem_get_folio(): the cached page, or a new
 * zeroed one. */
static enum fault_result shmem_fault(mm_state *mm, const struct vm_fault *vmf, uint64_t *pfn)
{
	*pfn = pc_page(mm, vmf->vma->obj, vmf->pgoff, true);
	return *pfn ? FAULT_OK : FAULT_OOM;
}

/* mm/shmem.c shmem_vm_ops (and shmem_anon_vm_ops, the same here): fault and
 * map_pages; no page_mkwrite (shmem does not write back), no open, close,
 * may_split or mremap. */
static const struct vm_operations shmem_vm_ops = {
	.fault = shmem_fault,
	.map_pages = filemap_map_pages,
};

/* ---- A device's operations: the caller's mm_vm_ops behind them ------------ */

/* What the caller's callbacks are told of a fault. */
static mm_fault_info device_fault_info(const mm_state *mm, const struct vm_fault *vmf, uint64_t pgoff)
{
	const struct vma *v = vmf->vma;
	return (mm_fault_info){
		.file = (int)v->obj->id,
		.pgoff = pgoff,
		.address = vmf_addr_of(vmf, pgoff),
		.write = vmf->write,
		.shared = (v->vm_flags & MM_VM_SHARED) != 0,
		.proc = mm->cur_proc,
	};
}

static enum fault_result from_status(mm_fault_status st)
{
	switch (st) {
	case MM_FAULT_OK:
		return FAULT_OK;
	case MM_FAULT_SIGSEGV:
		return FAULT_SIGSEGV;
	case MM_FAULT_OOM:
		return FAULT_OOM;
	case MM_FAULT_SIGBUS:
	default: /* an answer that is not a vm_fault_t the model knows */
		return FAULT_SIGBUS;
	}
}

/* The device's page pgoff with the words the caller filled in, kept in its
 * page cache as the pages a driver hands out stay its own. 0 on -ENOMEM
 * (nothing kept). */
static uint64_t device_keep_page(mm_state *mm, struct mm_object *obj, uint64_t pgoff, const uint64_t *words)
{
	uint64_t pfn = pc_page(mm, obj, pgoff, true);
	if (!pfn)
		return 0;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
		if (words[i] && ct_store(mm, pfn, i, words[i], ~0ull)) {
			/* Not mapped anywhere yet: the page goes again. */
			pc_drop(mm, obj->cache, pgoff);
			return 0;
		}
	}
	return pfn;
}

/* ->fault: the page the device holds, else the caller's fault fills one;
 * on an error no page is made. */
static enum fault_result device_fault(mm_state *mm, const struct vm_fault *vmf, uint64_t *pfn)
{
	struct mm_object *obj = vmf->vma->obj;
	*pfn = pc_page(mm, obj, vmf->pgoff, false);
	if (*pfn)
		return FAULT_OK;
	uint64_t words[PAGE_SIZE / 8] = {0};
	mm_fault_info info = device_fault_info(mm, vmf, vmf->pgoff);
	enum fault_result r = from_status(obj->ops.fault(obj->ops_ctx, &info, words));
	if (r != FAULT_OK)
		return r;
	*pfn = device_keep_page(mm, obj, vmf->pgoff, words);
	return *pfn ? FAULT_OK : FAULT_OOM;
}

struct mm_object *mm_object_new(mm_state *mm, mm_backing kind, uint64_t size)
{
	struct mm_object *obj = mm_alloc(mm, sizeof(*obj));
	if (!obj)
		return NULL;
	obj->kind = kind;
	obj->size = size;
	obj->refs = 1;
	obj->vm_ops = &shmem_vm_ops;
	obj->dev_vm_ops = (struct vm_operations){0};
	obj->ops = (mm_vm_ops){0};
	obj->ops_ctx = NULL;
	obj->id = kind == MM_BACKING_FILE ? mm->next_file_id++ : mm->next_shmem_id++;
	obj->next_in_list = mm->objects;
	mm->objects = obj;
	return obj;
}

int mm_file_create(mm_state *mm, uint64_t size)
{
	struct mm_object *obj = mm_object_new(mm, MM_BACKING_FILE, size);
	return obj ? (int)obj->id : -ENOMEM;
}

/* ->map_pages (filemap_map_pages' shape): the window clipped to the
 * device's size; a page the device holds is mapped, one it does not is
 * offered to the caller's map_pages, and kept and mapped if supplied. */
static void device_map_pages(mm_state *mm, const struct vm_fault *vmf, uint64_t start_pgoff, uint64_t end_pgoff)
{
	const struct vma *v = vmf->vma;
	struct mm_object *obj = v->obj;
	uint64_t dev_pages = (obj->size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	for (uint64_t p = start_pgoff; p <= end_pgoff && p < dev_pages; p++) {
		uint64_t addr = vmf_addr_of(vmf, p);
		unsigned level = 0;
		uint64_t wi = pg_lookup(mm, addr, &level);
		if (wi && (level != 1 || !lx_none(pg_words(mm)[wi])))
			continue; /* mapped already */
		uint64_t pfn = pc_page(mm, obj, p, false);
		if (!pfn) {
			uint64_t words[PAGE_SIZE / 8] = {0};
			mm_fault_info info = device_fault_info(mm, vmf, p);
			if (!obj->ops.map_pages(obj->ops_ctx, &info, words))
				continue;
			pfn = device_keep_page(mm, obj, p, words);
			if (!pfn)
				continue;
		}
		/* The page table is made for the first page mapped
		 * (filemap_map_pmd, with do_fault_around's prealloc_pte). */
		wi = pg_alloc_pte(mm, addr);
		if (wi)
			map_around_page(mm, wi, v, pfn);
	}
}

static enum fault_result device_page_mkwrite(mm_state *mm, const struct vm_fault *vmf)
{
	struct mm_object *obj = vmf->vma->obj;
	mm_fault_info info = device_fault_info(mm, vmf, vmf->pgoff);
	return from_status(obj->ops.page_mkwrite(obj->ops_ctx, &info));
}

/* The VMA as the caller's open/close/may_split/mremap see it. */
static mm_vma_info device_vma_info(const struct vma *v)
{
	return (mm_vma_info){
		.start = v->vm_start,
		.end = v->vm_end,
		.flags = v->vm_flags,
		.pgoff = v->vm_pgoff,
		.backing = v->obj->kind,
		.object = v->obj->id,
	};
}

static void device_open(mm_state *mm, const struct vma *v)
{
	mm_vma_info info = device_vma_info(v);
	v->obj->ops.open(v->obj->ops_ctx, mm->cur_proc, &info);
}

static void device_close(mm_state *mm, const struct vma *v)
{
	mm_vma_info info = device_vma_info(v);
	v->obj->ops.close(v->obj->ops_ctx, mm->cur_proc, &info);
}

static int device_may_split(mm_state *mm, const struct vma *v, uint64_t addr)
{
	(void)mm;
	mm_vma_info info = device_vma_info(v);
	int err = v->obj->ops.may_split(v->obj->ops_ctx, &info, addr);
	return err > 0 ? -EINVAL : err; /* only 0 or -errno are answers */
}

static int device_mremap(mm_state *mm, const struct vma *v)
{
	(void)mm;
	mm_vma_info info = device_vma_info(v);
	int err = v->obj->ops.mremap(v->obj->ops_ctx, &info);
	return err > 0 ? -EINVAL : err;
}

int mm_device_create(mm_state *mm, uint64_t size, const mm_vm_ops *ops, void *ctx)
{
	if (!ops || !ops->fault)
		return -EINVAL;
	struct mm_object *obj = mm_object_new(mm, MM_BACKING_FILE, size);
	if (!obj)
		return -ENOMEM;
	obj->ops = *ops;
	obj->ops_ctx = ctx;
	/* The driver's ->mmap installs its vm_operations_struct: only the
	 * callbacks the caller gave exist. */
	obj->dev_vm_ops = (struct vm_operations){
		.fault = device_fault,
		.map_pages = ops->map_pages ? device_map_pages : NULL,
		.page_mkwrite = ops->page_mkwrite ? device_page_mkwrite : NULL,
		.open = ops->open ? device_open : NULL,
		.close = ops->close ? device_close : NULL,
		.may_split = ops->may_split ? device_may_split : NULL,
		.mremap = ops->mremap ? device_mremap : NULL,
	};
	obj->vm_ops = &obj->dev_vm_ops;
	return (int)obj->id;
}

int mm_device_writeback(mm_state *mm, int dev)
{
	struct mm_object *obj = mm_object_file(mm, dev);
	if (!obj)
		return -EBADF;
	if (!mm_object_is_device(obj))
		return -EINVAL;
	unsigned cleaned;
	int err = pg_mkclean_object(mm, obj, &cleaned);
	return err ? err : (int)cleaned;
}

struct mm_object *mm_object_file(mm_state *mm, int id)
{
	for (struct mm_object *o = mm->objects; o; o = o->next_in_list)
		if (o->kind == MM_BACKING_FILE && o->id == (uint32_t)id)
			return o;
	return NULL;
}

void mm_object_put(mm_state *mm, struct mm_object *obj)
{
	if (!obj || --obj->refs)
		return;
	for (struct mm_object **pp = &mm->objects; *pp; pp = &(*pp)->next_in_list) {
		if (*pp == obj) {
			*pp = obj->next_in_list;
			break;
		}
	}
	pc_object_release(mm, obj);
	mm_free(mm, obj);
}

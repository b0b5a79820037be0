/* Backing objects: the declared files (mm_file_create) and the shmem
 * object behind each shared anonymous mapping. An object's identity is its
 * struct file's; its pages are in its page cache (pagecache.c), which goes
 * with its last reference. */
#include "alloc.h"
#include "object.h"
#include "pagecache.h"

struct mm_object *mm_object_new(mm_state *mm, mm_backing kind, uint64_t size)
{
	struct mm_object *obj = mm_alloc(mm, sizeof(*obj));
	if (!obj)
		return NULL;
	obj->kind = kind;
	obj->size = size;
	obj->refs = 1;
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

int mm_device_create(mm_state *mm, uint64_t size, const mm_vm_ops *ops, void *ctx)
{
	if (!ops || !ops->fault)
		return -EINVAL;
	struct mm_object *obj = mm_object_new(mm, MM_BACKING_FILE, size);
	if (!obj)
		return -ENOMEM;
	obj->ops = *ops;
	obj->ops_ctx = ctx;
	return (int)obj->id;
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

/* object.c: backing objects (declared files, the shmem object behind a
 * shared anonymous mapping). Private. */
#ifndef MMREF_OBJECT_H
#define MMREF_OBJECT_H

#include "internal.h"

struct mm_object *mm_object_new(mm_state *mm, mm_backing kind, uint64_t size); /* refs = 1 */
/* Drops a reference; the last one frees the object and its page cache. */
void mm_object_put(mm_state *mm, struct mm_object *obj);
/* The declared file with this id, or NULL. */
struct mm_object *mm_object_file(mm_state *mm, int id);

#endif

/* fault.c: the page-fault handler (mm/memory.c handle_mm_fault). Private. */
#ifndef MMREF_FAULT_H
#define MMREF_FAULT_H

#include "internal.h"

/* Flags of a fault (include/linux/mm_types.h FAULT_FLAG_*). */
#define FAULT_FLAG_WRITE 1u
#define FAULT_FLAG_INSTRUCTION 2u

/* mm/memory.c handle_mm_fault() for addr inside v. */
enum fault_result fault_handle_mm_fault(mm_state *mm, struct vma *v, uint64_t addr, unsigned flags);

/* mm/userfaultfd.c mfill_atomic_pte() for one page at addr of v (a VMA of
 * the process's userfaultfd; its anon_vma prepared if private): UFFDIO_COPY
 * with every word `value`, or UFFDIO_ZEROPAGE. 0 or -EEXIST, -EFAULT,
 * -ENOMEM; nothing changes on failure. */
int fault_uffd_fill(mm_state *mm, struct vma *v, uint64_t addr, bool zeropage, uint64_t value);

/* mm/userfaultfd.c mfill_atomic_pte_continue() for one page at addr of v (a
 * shmem VMA of the process's userfaultfd): maps the page the object has in
 * its cache there (write-protected with its uffd-wp bit if wp). 0 or -EEXIST, -EFAULT (no page in the cache), -EINVAL
 * (at or beyond EOF), -ENOMEM; nothing changes on failure. */
int fault_uffd_continue(mm_state *mm, struct vma *v, uint64_t addr, bool wp);

#endif

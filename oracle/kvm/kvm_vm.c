/* The KVM oracle's VM: /dev/kvm, three memory slots, one vCPU in long
 * mode set up through its special registers (no firmware, no QEMU), and
 * the run loop. See kvm_oracle.h for the contract and kvm_guest.c for the
 * code the guest runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_guest.h"
#include "kvm_oracle.h"

#define TABLE_BYTES ((size_t)KVM_TABLE_FRAMES * 4096)
#define DATA_CHUNK ((size_t)2 << 20)

enum { SLOT_TABLES = 0, SLOT_HARNESS = 1, SLOT_DATA = 2 };

struct kvm_oracle {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *tables;  /* KVM_TABLE_FRAMES frames at guest-physical 0 */
	uint8_t *harness; /* KVM_HARNESS_SIZE at KVM_HARNESS_GPA */
	uint8_t *data;	  /* KVM_DATA_SIZE at KVM_DATA_GPA: DATA_CHUNK mapped repeatedly */
	int data_fd;
	unsigned maxphyaddr;
	bool gbpages;	/* 1 GiB pages work (probed at open) */
	bool user_high; /* CPL 3 accesses to the upper half work (probed at open) */
	kvm_oracle_stats stats;
	char error[256];
};

static int fail(kvm_oracle *o, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

static int set_slot(kvm_oracle *o, unsigned slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot, .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)host};
	if (ioctl(o->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return fail(o, -errno, "KVM_SET_USER_MEMORY_REGION slot %u: %s", slot, strerror(errno));
	return 0;
}

/* The CPUID the guest sees: KVM's supported set plus SMEP, SMAP (leaf 7
 * EBX bits 7, 20) and 1 GiB pages (0x80000001 EDX bit 26), which the walker
 * assumes; KVM may leave them out of its supported list when the host's
 * hypervisor does (kvm_pvm does) yet still accept CR4.SMEP/SMAP. */
static int set_cpuid(kvm_oracle *o)
{
	enum { MAXENT = 256 };
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAXENT * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return fail(o, -ENOMEM, "out of memory");
	c->nent = MAXENT;
	if (ioctl(o->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int e = errno;
		free(c);
		return fail(o, -e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
	}
	o->maxphyaddr = 36; /* SDM: the width without leaf 0x80000008 */
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 7 && e->index == 0)
			e->ebx |= (1u << 7) | (1u << 20);
		if (e->function == 0x80000001)
			e->edx |= 1u << 26;
		if (e->function == 0x80000008)
			o->maxphyaddr = e->eax & 0xff;
	}
	int rc = 0;
	if (ioctl(o->vcpu_fd, KVM_SET_CPUID2, c) < 0)
		rc = fail(o, -errno, "KVM_SET_CPUID2: %s", strerror(errno));
	free(c);
	return rc;
}

/* The data window: one DATA_CHUNK of KVM_DATA_BYTE in a memfd, mapped
 * KVM_DATA_SIZE / DATA_CHUNK times side by side, so 1 GiB of guest memory
 * costs 2 MiB. */
static int map_data(kvm_oracle *o)
{
	o->data_fd = memfd_create("mmref-kvm-data", MFD_CLOEXEC);
	if (o->data_fd < 0)
		return fail(o, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(o->data_fd, (off_t)DATA_CHUNK) < 0)
		return fail(o, -errno, "ftruncate: %s", strerror(errno));
	void *base = mmap(NULL, KVM_DATA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return fail(o, -errno, "mmap: %s", strerror(errno));
	o->data = base;
	for (size_t off = 0; off < KVM_DATA_SIZE; off += DATA_CHUNK) {
		void *p = mmap(o->data + off, DATA_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       o->data_fd, 0);
		if (p == MAP_FAILED)
			return fail(o, -errno, "mmap data window: %s", strerror(errno));
	}
	memset(o->data, KVM_DATA_BYTE, DATA_CHUNK);
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	if (code) {
		s->type = 11; /* execute/read, accessed */
		s->l = 1;
	} else {
		s->type = 3; /* read/write, accessed */
		s->db = 1;
	}
}

/* Long mode through the special registers (SDM 3A 10.8.5 describes the
 * software path; KVM takes the end state directly). */
static int set_mode(kvm_oracle *o, const mm_cpu_mode *mode)
{
	struct kvm_sregs s;
	if (ioctl(o->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return fail(o, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	seg(&s.cs, KVM_SEL_KCODE, true);
	seg(&s.ds, KVM_SEL_KDATA, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.selector = KVM_SEL_TSS;
	s.tr.base = KVM_HBASE + KVM_H_TSS;
	s.tr.limit = 0x67;
	s.tr.type = 11; /* busy 64-bit TSS */
	s.tr.present = 1;
	memset(&s.ldt, 0, sizeof(s.ldt));
	s.ldt.unusable = 1;
	s.gdt.base = KVM_HBASE + KVM_H_GDT;
	s.gdt.limit = 0x37;
	s.idt.base = KVM_HBASE + KVM_H_IDT;
	s.idt.limit = 0xfff;
	/* CR0: PE MP ET NE PG (+WP). CR4: PAE (+SMEP +SMAP); PGE=0 and
	 * PCIDE=0, so a MOV to CR3 flushes every translation. EFER: LME LMA
	 * (+NXE). */
	s.cr0 = 0x80000033ull | (mode->cr0_wp ? 1ull << 16 : 0);
	s.cr4 = 0x20ull | (mode->cr4_smep ? 1ull << 20 : 0) | (mode->cr4_smap ? 1ull << 21 : 0);
	s.efer = 0x500ull | (mode->efer_nxe ? 1ull << 11 : 0);
	s.cr3 = KVM_HARNESS_GPA + KVM_H_PML4;
	memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
	if (ioctl(o->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return fail(o, -errno, "KVM_SET_SREGS (cr0 %#llx cr4 %#llx efer %#llx): %s", s.cr0, s.cr4,
			    s.efer, strerror(errno));
	struct kvm_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = kvm_guest_entry_la();
	r.rsp = KVM_HBASE + KVM_H_KSTACK_TOP;
	r.rflags = 2;
	if (ioctl(o->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return fail(o, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

/* Does a 1 GiB leaf translate? KVM leaves the feature out when its host
 * does, and then PS in a PDPTE is a reserved bit (SDM 3A table 4-16),
 * whatever the guest's CPUID says. A supervisor read of linear 0 through
 * PML4 frame 1 and a PDPTE leaf in frame 2. */
static int probe_gbpages(kvm_oracle *o)
{
	mm_phys_mem t = kvm_oracle_tables(o);
	t.words[512] = 0x2000 | 0x27;		    /* PML4E: P RW US A */
	t.words[1024] = KVM_DATA_GPA | 0x80 | 0x67; /* PDPTE: PS P RW US A D */
	kvm_access a = {.cr3 = 0x1000, .va = 0x1234, .acc = MM_WALK_READ};
	kvm_outcome out;
	mm_cpu_mode m = {.cr0_wp = true, .efer_nxe = true, .maxphyaddr = (uint8_t)o->maxphyaddr};
	int rc = kvm_oracle_run(o, &m, &a, 1, &out);
	t.words[512] = t.words[1024] = 0;
	if (rc < 0)
		return rc;
	o->gbpages = out.vector == KVM_VEC_OK;
	return 0;
}

bool kvm_oracle_has_gbpages(const kvm_oracle *o)
{
	return o->gbpages;
}

/* Does a CPL 3 read in the upper half translate? kvm_pvm runs guest user
 * mode natively in the lower half of the host's address space and faults
 * every user access to the upper half (where the host kernel lives) without
 * walking the guest's tables. A user read of 0xffff8000_00001234 through
 * user RW entries at every level, into the data window. */
static int probe_user_high(kvm_oracle *o)
{
	mm_phys_mem t = kvm_oracle_tables(o);
	t.words[512 + 256] = 0x2000 | 0x27;
	t.words[1024] = 0x3000 | 0x27;
	t.words[1536] = 0x4000 | 0x27;
	t.words[2048 + 1] = KVM_DATA_GPA | 0x67;
	kvm_access a = {.cr3 = 0x1000, .va = 0xffff800000001234ull, .acc = MM_WALK_READ, .user = true};
	kvm_outcome out;
	mm_cpu_mode m = {.cr0_wp = true, .efer_nxe = true, .maxphyaddr = (uint8_t)o->maxphyaddr};
	int rc = kvm_oracle_run(o, &m, &a, 1, &out);
	t.words[512 + 256] = t.words[1024] = t.words[1536] = t.words[2048 + 1] = 0;
	if (rc < 0)
		return rc;
	o->user_high = out.vector == KVM_VEC_OK;
	return 0;
}

bool kvm_oracle_has_user_high(const kvm_oracle *o)
{
	return o->user_high;
}

int kvm_oracle_open(kvm_oracle **out, char *err, size_t errlen)
{
	kvm_oracle *o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->kvm_fd = o->vm_fd = o->vcpu_fd = o->data_fd = -1;
	int rc;
	o->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (o->kvm_fd < 0) {
		rc = fail(o, -errno, "/dev/kvm: %s", strerror(errno));
		goto out_err;
	}
	if (ioctl(o->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		rc = fail(o, -ENOTSUP, "/dev/kvm: unexpected KVM API version");
		goto out_err;
	}
	o->vm_fd = ioctl(o->kvm_fd, KVM_CREATE_VM, 0);
	if (o->vm_fd < 0) {
		rc = fail(o, -errno, "KVM_CREATE_VM: %s", strerror(errno));
		goto out_err;
	}
	o->tables = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o->harness = mmap(NULL, KVM_HARNESS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (o->tables == MAP_FAILED || o->harness == MAP_FAILED) {
		rc = fail(o, -ENOMEM, "mmap: out of memory");
		goto out_err;
	}
	if ((rc = map_data(o)) < 0)
		goto out_err;
	kvm_guest_build_harness(o->harness);
	if ((rc = set_slot(o, SLOT_TABLES, 0, TABLE_BYTES, o->tables)) < 0 ||
	    (rc = set_slot(o, SLOT_HARNESS, KVM_HARNESS_GPA, KVM_HARNESS_SIZE, o->harness)) < 0 ||
	    (rc = set_slot(o, SLOT_DATA, KVM_DATA_GPA, KVM_DATA_SIZE, o->data)) < 0)
		goto out_err;
	o->vcpu_fd = ioctl(o->vm_fd, KVM_CREATE_VCPU, 0);
	if (o->vcpu_fd < 0) {
		rc = fail(o, -errno, "KVM_CREATE_VCPU: %s", strerror(errno));
		goto out_err;
	}
	int sz = ioctl(o->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0) {
		rc = fail(o, -EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed");
		goto out_err;
	}
	o->run_size = (size_t)sz;
	o->run = mmap(NULL, o->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, o->vcpu_fd, 0);
	if (o->run == MAP_FAILED) {
		o->run = NULL;
		rc = fail(o, -errno, "mmap kvm_run: %s", strerror(errno));
		goto out_err;
	}
	if ((rc = set_cpuid(o)) < 0)
		goto out_err;
	/* A trial of the strictest mode: fails early if KVM refuses it. */
	if ((rc = set_mode(o, &(mm_cpu_mode){true, true, true, true, false, 0, false, 0})) < 0)
		goto out_err;
	if ((rc = probe_gbpages(o)) < 0 || (rc = probe_user_high(o)) < 0)
		goto out_err;
	*out = o;
	return 0;

out_err:
	snprintf(err, errlen, "%s", o->error);
	kvm_oracle_close(o);
	return rc;
}

void kvm_oracle_close(kvm_oracle *o)
{
	if (!o)
		return;
	if (o->run)
		munmap(o->run, o->run_size);
	if (o->vcpu_fd >= 0)
		close(o->vcpu_fd);
	if (o->vm_fd >= 0)
		close(o->vm_fd);
	if (o->kvm_fd >= 0)
		close(o->kvm_fd);
	if (o->tables && o->tables != MAP_FAILED)
		munmap(o->tables, TABLE_BYTES);
	if (o->harness && o->harness != MAP_FAILED)
		munmap(o->harness, KVM_HARNESS_SIZE);
	if (o->data)
		munmap(o->data, KVM_DATA_SIZE);
	if (o->data_fd >= 0)
		close(o->data_fd);
	free(o);
}

unsigned kvm_oracle_maxphyaddr(const kvm_oracle *o)
{
	return o->maxphyaddr;
}
const char *kvm_oracle_error(const kvm_oracle *o)
{
	return o->error;
}
kvm_oracle_stats kvm_oracle_get_stats(const kvm_oracle *o)
{
	return o->stats;
}

mm_phys_mem kvm_oracle_tables(kvm_oracle *o)
{
	return (mm_phys_mem){(uint64_t *)(void *)o->tables, KVM_TABLE_FRAMES};
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t *table_word(kvm_oracle *o, uint64_t pa)
{
	return (uint64_t *)(void *)(o->tables + (pa & ~7ull));
}

int kvm_oracle_run(kvm_oracle *o, const mm_cpu_mode *mode, const kvm_access *acc, size_t n, kvm_outcome *out)
{
	int rc;
	if (n > KVM_MAX_ACCESSES)
		return fail(o, -EINVAL, "%zu accesses: at most %d a run", n, KVM_MAX_ACCESSES);
	if (mode->maxphyaddr != o->maxphyaddr)
		return fail(o, -EINVAL, "maxphyaddr %u: the guest has %u", mode->maxphyaddr, o->maxphyaddr);
	const uint64_t root_mask = 0x000ffffffffff000ull;
	for (size_t i = 0; i < n; i++) {
		uint64_t root = acc[i].cr3 & root_mask;
		if (root >= TABLE_BYTES || (acc[i].cr3 & ~root_mask) || acc[i].acc > MM_WALK_FETCH)
			return fail(o, -EINVAL, "access %zu: cr3 %#llx or kind %d out of range", i,
				    (unsigned long long)acc[i].cr3, (int)acc[i].acc);
		uint64_t *slot = table_word(o, root + 8 * KVM_HARNESS_SLOT);
		if (*slot != 0 && *slot != kvm_guest_harness_pml4e())
			return fail(o, -EINVAL, "access %zu: root %#llx uses PML4 slot %d, the harness's", i,
				    (unsigned long long)root, KVM_HARNESS_SLOT);
	}
	/* Map the harness in every root, write the access list. */
	uint8_t *rec = o->harness + KVM_H_ACC;
	for (size_t i = 0; i < n; i++, rec += 32) {
		*table_word(o, (acc[i].cr3 & root_mask) + 8 * KVM_HARNESS_SLOT) = kvm_guest_harness_pml4e();
		unsigned kind = (unsigned)acc[i].acc;
		uint64_t code = kvm_guest_snippet_la(kind, acc[i].user, acc[i].ac);
		uint64_t frame = KVM_HBASE + KVM_H_CTRL + kvm_guest_frame_off(kind, acc[i].ac);
		memcpy(rec, &acc[i].cr3, 8);
		memcpy(rec + 8, &acc[i].va, 8);
		memcpy(rec + 16, &code, 8);
		memcpy(rec + 24, &frame, 8);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t v = KVM_VEC_NOT_RUN;
		memset(o->harness + KVM_H_RES + 32 * i, 0, 32);
		memcpy(o->harness + KVM_H_RES + 32 * i, &v, 4);
	}
	uint64_t nn = n;
	memcpy(o->harness + KVM_H_CTRL + KVM_CTRL_N, &nn, 8);

	/* The host wrote the tables behind KVM's back: a shadow MMU would keep
	 * translations built from the old ones. Deleting and re-adding the
	 * slot makes KVM drop every shadow page (kvm_arch_flush_shadow_memslot). */
	double t0 = seconds();
	if ((rc = set_slot(o, SLOT_TABLES, 0, 0, o->tables)) < 0 ||
	    (rc = set_slot(o, SLOT_TABLES, 0, TABLE_BYTES, o->tables)) < 0)
		goto out;
	if ((rc = set_mode(o, mode)) < 0)
		goto out;
	double t1 = seconds();
	o->stats.setup_seconds += t1 - t0;

	for (;;) {
		o->stats.runs++;
		if (ioctl(o->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = fail(o, -errno, "KVM_RUN: %s", strerror(errno));
			goto out;
		}
		struct kvm_run *r = o->run;
		if (r->exit_reason == KVM_EXIT_HLT)
			break;
		if (r->exit_reason == KVM_EXIT_MMIO) {
			/* A leaf outside guest memory: reads see zeros. */
			o->stats.mmio_exits++;
			if (!r->mmio.is_write)
				memset(r->mmio.data, 0, sizeof(r->mmio.data));
			continue;
		}
		struct kvm_regs regs;
		ioctl(o->vcpu_fd, KVM_GET_REGS, &regs);
		rc = fail(o, -EIO, "guest stopped: exit reason %u at rip %#llx (suberror %u)", r->exit_reason,
			  regs.rip, r->exit_reason == KVM_EXIT_INTERNAL_ERROR ? r->internal.suberror : 0);
		goto out;
	}
	o->stats.guest_seconds += seconds() - t1;
	struct kvm_regs regs;
	if (ioctl(o->vcpu_fd, KVM_GET_REGS, &regs) < 0 || regs.rip != kvm_guest_halt_la() + 1) {
		rc = fail(o, -EIO, "guest halted at rip %#llx, not at the end", regs.rip);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *res = o->harness + KVM_H_RES + 32 * i;
		uint32_t v;
		memcpy(&v, res, 4);
		out[i].vector = v;
		memcpy(&out[i].error, res + 8, 8);
		memcpy(&out[i].cr2, res + 16, 8);
		memcpy(&out[i].rip, res + 24, 8);
	}
	o->stats.accesses += n;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		*table_word(o, (acc[i].cr3 & root_mask) + 8 * KVM_HARNESS_SLOT) = 0;
	return rc;
}

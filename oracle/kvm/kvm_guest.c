/* The guest: a runner at CPL 0 that performs a list of accesses, a ring-3
 * stub for user-mode accesses, and exception handlers that record what
 * happened. Written in GNU assembler (AT&T) inside a top-level __asm__,
 * emitted into .rodata as plain bytes and copied into the harness; all
 * references to harness data are absolute (movabs), all jumps relative,
 * so the bytes run wherever kvm_layout.h puts them.
 *
 * Per access (record at ACC + 32*i, result at RES + 32*i):
 *   MOV CR3 <- record.cr3 (a full TLB flush: PCIDE=0, PGE=0)
 *   CPL 0: EFLAGS.AC = record.ac (POPF); then movb (va),%al | movb $0xc3,(va) |
 *          call *va; mark the result OK
 *   CPL 3: IRETQ to the user stub with AC = record.ac; the stub does the
 *          same access and then UD2; the #UD handler sees the stub's
 *          RIP and marks the result OK (INT $0x80 would be the classic
 *          way back, but kvm_pvm turns INT n from guest user mode into #UD)
 *   any exception: the handler records vector, error code, CR2 and RIP,
 *          then resumes the runner at its next access with the stack
 *          pointer it saved (no IRETQ: the runner never returns into the
 *          faulting instruction).
 * A fetch executes the byte at the target; every data byte is 0xC3 (RET),
 * so a fetch that translates returns to the caller at once.
 */
#include "kvm_guest.h"

#include <string.h>

#include "kvm_layout.h"

#define XSTR(x) STR(x)
#define STR(x) #x
#define H(off) XSTR(KVM_HBASE + off)

extern const uint8_t kvm_guest_text[], kvm_guest_text_end[], kvm_guest_halt[];
extern const uint8_t kvm_guest_user[], kvm_guest_user_end[];
extern const uint8_t kvm_guest_vectors[];

/* The vectors that push an error code (SDM 3A 6.15). */
#define ERRCODE_VECTORS "8,10,11,12,13,14,17,21,29,30"

__asm__(".pushsection .rodata\n"
        ".balign 64\n"
        ".globl kvm_guest_text, kvm_guest_text_end, kvm_guest_halt\n"
        ".globl kvm_guest_user, kvm_guest_user_end, kvm_guest_vectors\n"
        "kvm_guest_text:\n"
        "	movabs $(" H(KVM_H_CTRL) "), %rbx\n"
        "	mov " XSTR(KVM_CTRL_N) "(%rbx), %r12\n"
        "	xor %r13d, %r13d\n"
        "	xor %r10d, %r10d\n"
        "	movabs $(" H(KVM_H_ACC) "), %r14\n"
        "	movabs $(" H(KVM_H_RES) "), %r15\n"
        "kvm_guest_loop:\n"
        "	cmp %r12, %r13\n"
        "	jae kvm_guest_halt\n"
        "	mov %r13, %rax\n"
        "	shl $5, %rax\n"
        "	lea (%r14,%rax), %rsi\n"
        "	lea (%r15,%rax), %rdi\n"
        "	mov %rdi, " XSTR(KVM_CTRL_RES) "(%rbx)\n"
        "	mov %rsp, " XSTR(KVM_CTRL_RSP) "(%rbx)\n"
        "	mov 8(%rsi), %rdx\n"
        "	mov 0(%rsi), %rax\n"
        "	testb $2, " XSTR(KVM_CTRL_FLAGS) "(%rbx)\n"
        "	jnz 7f\n"
        "	testb $1, " XSTR(KVM_CTRL_FLAGS) "(%rbx)\n"
        "	jz 6f\n"
        "	cmp %rax, %r10\n"
        "	jne 6f\n"
        "	invlpg (%rdx)\n"
        "	jmp 7f\n"
        "6:	mov %rax, %cr3\n"
        "	mov %rax, %r10\n"
        "7:\n"
        "	movzbl 16(%rsi), %ecx\n"
        "	movzbl 17(%rsi), %r8d\n"
        "	movzbl 18(%rsi), %r9d\n"
        "	test %r8d, %r8d\n"
        "	jnz 5f\n"
        "	test %r9d, %r9d\n"
        "	jz 2f\n"
        "	pushq $0x40002\n" /* AC=1: POPF, as STAC is not emulated everywhere */
        "	popfq\n"
        "2:	cmp $1, %ecx\n"
        "	je 3f\n"
        "	cmp $2, %ecx\n"
        "	je 4f\n"
        "	movb (%rdx), %al\n"
        "	jmp 8f\n"
        "3:	movb $" XSTR(KVM_DATA_BYTE) ", (%rdx)\n"
        "	jmp 8f\n"
        "4:	call *%rdx\n"
        "8:	movl $" XSTR(KVM_VEC_OK) ", (%rdi)\n"
        "kvm_guest_next:\n"
        "	pushq $2\n" /* RFLAGS: AC=0, IF=0 */
        "	popfq\n"
        "	inc %r13\n"
        "	jmp kvm_guest_loop\n"
        /* CPL 3: an IRETQ frame for the user stub; rdx/ecx carry the access. */
        "5:	pushq $" XSTR(KVM_SEL_UDATA) "\n"
        "	movabs $(" H(KVM_H_USTACK_TOP) "), %rax\n"
        "	push %rax\n"
        "	mov $2, %eax\n"
        "	test %r9d, %r9d\n"
        "	jz 6f\n"
        "	or $0x40000, %eax\n"
        "6:	push %rax\n"
        "	pushq $" XSTR(KVM_SEL_UCODE) "\n"
        "	movabs $(" H(KVM_H_UCODE) "), %rax\n"
        "	push %rax\n"
        "	iretq\n"
        "kvm_guest_halt:\n"
        "	hlt\n"
        "	jmp kvm_guest_halt\n"
        /* Exceptions: [rsp] vector, error code, RIP, CS, RFLAGS, RSP, SS. */
        "kvm_guest_common:\n"
        "	movabs $(" H(KVM_H_CTRL) "), %rbx\n"
        "	mov " XSTR(KVM_CTRL_RES) "(%rbx), %rdi\n"
        "	mov (%rsp), %rax\n"
        /* #UD at the user stub's UD2: the user access completed. */
        "	cmp $6, %rax\n"
        "	jne 1f\n"
        "	movabs $(" H(KVM_H_UCODE) " + (kvm_guest_user_done - kvm_guest_user)), %rcx\n"
        "	cmp 16(%rsp), %rcx\n"
        "	jne 1f\n"
        "	movl $" XSTR(KVM_VEC_OK) ", (%rdi)\n"
        "	jmp 2f\n"
        "1:	mov %eax, 0(%rdi)\n"
        "	mov 8(%rsp), %rax\n"
        "	mov %rax, 8(%rdi)\n"
        "	mov %cr2, %rax\n"
        "	mov %rax, 16(%rdi)\n"
        "	mov 16(%rsp), %rax\n"
        "	mov %rax, 24(%rdi)\n"
        "2:	mov " XSTR(KVM_CTRL_RSP) "(%rbx), %rsp\n"
        "	jmp kvm_guest_next\n"
        /* Vectors 0..31: 16 bytes each; a dummy error code where the CPU
         * pushes none. */
        ".balign 16\n"
        "kvm_guest_vectors:\n"
        ".irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
        ".balign 16\n"
        ".if \\v-8 && \\v-10 && \\v-11 && \\v-12 && \\v-13 && \\v-14 && \\v-17 && \\v-21 && \\v-29 && \\v-30\n"
        "	pushq $0\n"
        ".endif\n"
        "	pushq $\\v\n"
        "	jmp kvm_guest_common\n"
        ".endr\n"
        "kvm_guest_text_end:\n"
        /* The ring-3 stub (its own user page). */
        ".balign 16\n"
        "kvm_guest_user:\n"
        "	cmp $1, %ecx\n"
        "	je 1f\n"
        "	cmp $2, %ecx\n"
        "	je 2f\n"
        "	movb (%rdx), %al\n"
        "	jmp 3f\n"
        "1:	movb $" XSTR(KVM_DATA_BYTE) ", (%rdx)\n"
        "	jmp 3f\n"
        "2:	call *%rdx\n"
        "kvm_guest_user_done:\n"
        "3:	ud2\n"
        "kvm_guest_user_end:\n"
        ".popsection\n");

/* Entry bits (SDM 3A 4.5). */
#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define A 0x20ull
#define D 0x40ull

static void put64(uint8_t *h, uint64_t off, uint64_t v) { memcpy(h + off, &v, sizeof(v)); }

/* A 64-bit interrupt gate (SDM 3A figure 6-8) to linear address la. */
static void idt_gate(uint8_t *h, unsigned vector, uint64_t la, unsigned dpl)
{
	uint64_t lo = (la & 0xffff) | ((uint64_t)KVM_SEL_KCODE << 16) | ((uint64_t)(0x8e | (dpl << 5)) << 40) |
	              (((la >> 16) & 0xffff) << 48);
	put64(h, KVM_H_IDT + 16ull * vector, lo);
	put64(h, KVM_H_IDT + 16ull * vector + 8, la >> 32);
}

uint64_t kvm_guest_harness_pml4e(void) { return (KVM_HARNESS_GPA + KVM_H_PDPT) | P | RW | US | A; }
uint64_t kvm_guest_entry_la(void) { return KVM_HBASE + KVM_H_CODE; }
uint64_t kvm_guest_halt_la(void)
{
	return KVM_HBASE + KVM_H_CODE + (uint64_t)(kvm_guest_halt - kvm_guest_text);
}

void kvm_guest_build_harness(uint8_t *h)
{
	memset(h, 0, KVM_HARNESS_SIZE);
	/* Tables: PML4[384] -> PDPT[0] -> PD[0..1] -> PT0, PT1: 4 KiB pages,
	 * linear KVM_HBASE + off -> physical KVM_HARNESS_GPA + off. U/S=1 above
	 * the PTEs so the user pages can be user pages; A and D preset so the
	 * MMU never writes here. No XD: the guest may run with NXE=0. */
	put64(h, KVM_H_PML4 + 8 * KVM_HARNESS_SLOT, kvm_guest_harness_pml4e());
	put64(h, KVM_H_PDPT, (KVM_HARNESS_GPA + KVM_H_PD) | P | RW | US | A);
	put64(h, KVM_H_PD, (KVM_HARNESS_GPA + KVM_H_PT0) | P | RW | US | A);
	put64(h, KVM_H_PD + 8, (KVM_HARNESS_GPA + KVM_H_PT1) | P | RW | US | A);
	static const struct {
		uint64_t off, size, flags;
	} pages[] = {
	        {KVM_H_GDT, 0x1000, P | RW},
	        {KVM_H_TSS, 0x1000, P | RW},
	        {KVM_H_IDT, 0x1000, P},
	        {KVM_H_CODE, 0x2000, P},
	        {KVM_H_UCODE, 0x1000, P | US},
	        {KVM_H_CTRL, 0x1000, P | RW},
	        {KVM_H_KSTACK, KVM_H_KSTACK_TOP - KVM_H_KSTACK, P | RW},
	        {KVM_H_USTACK, 0x1000, P | RW | US},
	        {KVM_H_ACC, 32ull * KVM_MAX_ACCESSES, P},
	        {KVM_H_RES, 32ull * KVM_MAX_ACCESSES, P | RW},
	};
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		for (uint64_t off = pages[i].off; off < pages[i].off + pages[i].size; off += 0x1000)
			put64(h, KVM_H_PT0 + 8 * (off >> 12), (KVM_HARNESS_GPA + off) | pages[i].flags | A | D);

	/* GDT (SDM 3A 3.4.5, 7.2.3): accessed bits preset, so loading a
	 * segment never writes the table. */
	put64(h, KVM_H_GDT + 0x08, 0x00af9b000000ffffull); /* kernel code, L=1 */
	put64(h, KVM_H_GDT + 0x10, 0x00cf93000000ffffull); /* kernel data */
	put64(h, KVM_H_GDT + 0x18, 0x00cff3000000ffffull); /* user data, DPL 3 */
	put64(h, KVM_H_GDT + 0x20, 0x00affb000000ffffull); /* user code, DPL 3, L=1 */
	uint64_t tss = KVM_HBASE + KVM_H_TSS;
	put64(h, KVM_H_GDT + 0x28, 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56));
	put64(h, KVM_H_GDT + 0x30, tss >> 32);
	/* TSS: RSP0 for entries from CPL 3; no I/O bitmap. */
	put64(h, KVM_H_TSS + 4, KVM_HBASE + KVM_H_KSTACK_TOP);
	h[KVM_H_TSS + 0x66] = 0x68;

	/* Code. */
	memcpy(h + KVM_H_CODE, kvm_guest_text, (size_t)(kvm_guest_text_end - kvm_guest_text));
	memcpy(h + KVM_H_UCODE, kvm_guest_user, (size_t)(kvm_guest_user_end - kvm_guest_user));
	uint64_t code = KVM_HBASE + KVM_H_CODE;
	for (unsigned v = 0; v < 32; v++)
		idt_gate(h, v, code + (uint64_t)(kvm_guest_vectors - kvm_guest_text) + 16ull * v, 0);
}

/* The guest: a runner at CPL 0 that performs a list of accesses, a ring-3
 * trampoline for user-mode accesses, and exception handlers that record what
 * happened. Written in GNU assembler (AT&T) inside a top-level __asm__,
 * emitted into .rodata as plain bytes and copied into the harness; all
 * references to harness data are absolute (movabs), all jumps relative,
 * so the bytes run wherever kvm_layout.h puts them.
 *
 * Per access (record at ACC + 32*i, result at RES + 32*i):
 *   MOV CR3 <- record.cr3: a full flush (PCIDE=0, PGE=0), so the access
 *          walks all four levels from memory
 *   JMP to the record's snippet (the host picked it by kind, CPL and AC):
 *   CPL 0: [POPF AC=1] movb (va),%al | movb $0xc3,(va) | call *va; mark
 *          the result OK [POPF AC=0]
 *   CPL 3: IRETQ through the record's frame (user CS/SS, user stack, AC)
 *          to the user trampoline for the kind, which does the access and then
 *          UD2; the #UD handler sees the trampolines' UD2 and marks the result OK
 *          (INT $0x80 would be the classic way back, but kvm_pvm turns INT n
 *          from guest user mode into #UD)
 *   any exception: the handler records vector, error code, CR2 and RIP,
 *          then resumes the runner at its next access on a fresh stack (no
 *          IRETQ: the runner never returns into the faulting instruction).
 * The path of an access is kept short (10 instructions for a CPL 0 load)
 * because a hypervisor may emulate it instruction by instruction (kvm_pvm
 * does: docs/kvm-oracle.md).
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
extern const uint8_t kvm_guest_k_read[], kvm_guest_k_write[], kvm_guest_k_fetch[];
extern const uint8_t kvm_guest_ka_read[], kvm_guest_ka_write[], kvm_guest_ka_fetch[], kvm_guest_u_enter[];
extern const uint8_t kvm_guest_u_read[], kvm_guest_u_write[], kvm_guest_u_fetch[];
extern const uint8_t kvm_guest_user[], kvm_guest_user_end[];
extern const uint8_t kvm_guest_vectors[];

/* The vectors that push an error code (SDM 3A 6.15). */
#define ERRCODE_VECTORS "8,10,11,12,13,14,17,21,29,30"

__asm__(".pushsection .rodata\n"
        ".balign 64\n"
        ".globl kvm_guest_text, kvm_guest_text_end, kvm_guest_halt, kvm_guest_vectors\n"
        ".globl kvm_guest_k_read, kvm_guest_k_write, kvm_guest_k_fetch\n"
        ".globl kvm_guest_ka_read, kvm_guest_ka_write, kvm_guest_ka_fetch, kvm_guest_u_enter\n"
        ".globl kvm_guest_user, kvm_guest_user_end, kvm_guest_u_read, kvm_guest_u_write, kvm_guest_u_fetch\n"
        ".globl kvm_guest_user_done\n"
        "kvm_guest_text:\n"
        "	movabs $(" H(KVM_H_ACC) "), %rsi\n"
        "	movabs $(" H(KVM_H_RES) "), %rdi\n"
        "	movabs $(" H(KVM_H_CTRL) "), %rbx\n"
        "	mov " XSTR(KVM_CTRL_N) "(%rbx), %r12\n"
        "	shl $5, %r12\n"
        "	add %rsi, %r12\n" /* end of the access list */
        "	cmp %rsi, %r12\n"
        "	je kvm_guest_halt\n"
        /* One access: flush, then the record's snippet. */
        "kvm_guest_loop:\n"
        "	mov 8(%rsi), %rdx\n"
        "	mov (%rsi), %rax\n"
        "	mov %rax, %cr3\n"
        "	jmp *16(%rsi)\n"
        /* CPL 0, AC=0. */
        "kvm_guest_k_read:\n"
        "	movb (%rdx), %al\n"
        "	jmp 1f\n"
        "kvm_guest_k_write:\n"
        "	movb $" XSTR(KVM_DATA_BYTE) ", (%rdx)\n"
        "	jmp 1f\n"
        "kvm_guest_k_fetch:\n"
        "	call *%rdx\n"
        "1:	movl $" XSTR(KVM_VEC_OK) ", (%rdi)\n"
        "kvm_guest_next:\n"
        "	add $32, %rsi\n"
        "	add $32, %rdi\n"
        "	cmp %rsi, %r12\n"
        "	jne kvm_guest_loop\n"
        "kvm_guest_halt:\n"
        "	hlt\n"
        "	jmp kvm_guest_halt\n"
        /* CPL 0, AC=1 (by POPF: kvm_pvm does not emulate STAC). */
        "kvm_guest_ka_read:\n"
        "	pushq $0x40002\n"
        "	popfq\n"
        "	movb (%rdx), %al\n"
        "	jmp 2f\n"
        "kvm_guest_ka_write:\n"
        "	pushq $0x40002\n"
        "	popfq\n"
        "	movb $" XSTR(KVM_DATA_BYTE) ", (%rdx)\n"
        "	jmp 2f\n"
        "kvm_guest_ka_fetch:\n"
        "	pushq $0x40002\n"
        "	popfq\n"
        "	call *%rdx\n"
        "2:	movl $" XSTR(KVM_VEC_OK) ", (%rdi)\n"
        "	pushq $2\n" /* AC=0 */
        "	popfq\n"
        "	jmp kvm_guest_next\n"
        /* CPL 3: IRETQ through the frame the record points at (user CS and
         * SS, the user stack, RFLAGS with the record's AC, the trampoline for the
         * record's kind). */
        "kvm_guest_u_enter:\n"
        "	mov 24(%rsi), %rsp\n"
        "	iretq\n"
        /* Exceptions: [rsp] vector, error code, RIP, CS, RFLAGS, RSP, SS.
         * rsi, rdi (the result record) and rbx are the runner's still: the
         * accesses and the trampolines change only rax and rdx. */
        "kvm_guest_common:\n"
        "	cmpl $6, (%rsp)\n"
        "	jne 1f\n"
        /* #UD at the user trampolines' UD2: the user access completed. */
        "	movabs $(" H(KVM_H_UCODE) " + (kvm_guest_user_done - kvm_guest_user)), %rax\n"
        "	cmp 16(%rsp), %rax\n"
        "	jne 1f\n"
        "	movl $" XSTR(KVM_VEC_OK) ", (%rdi)\n"
        "	jmp 2f\n"
        "1:	mov (%rsp), %eax\n"
        "	mov %eax, 0(%rdi)\n"
        "	mov 8(%rsp), %rax\n"
        "	mov %rax, 8(%rdi)\n"
        "	mov %cr2, %rax\n"
        "	mov %rax, 16(%rdi)\n"
        "	mov 16(%rsp), %rax\n"
        "	mov %rax, 24(%rdi)\n"
        "2:	movabs $(" H(KVM_H_KSTACK_TOP) "), %rsp\n"
        "	pushq $2\n" /* AC=0 */
        "	popfq\n"
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
        /* The ring-3 trampolines (their own user page), one per kind. */
        ".balign 16\n"
        "kvm_guest_user:\n"
        "kvm_guest_u_read:\n"
        "	movb (%rdx), %al\n"
        "	jmp kvm_guest_user_done\n"
        "kvm_guest_u_write:\n"
        "	movb $" XSTR(KVM_DATA_BYTE) ", (%rdx)\n"
        "	jmp kvm_guest_user_done\n"
        "kvm_guest_u_fetch:\n"
        "	call *%rdx\n"
        "kvm_guest_user_done:\n"
        "	ud2\n"
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

uint64_t kvm_guest_frame_off(unsigned kind, bool ac) { return KVM_CTRL_FRAMES + 64ull * (2 * kind + ac); }

uint64_t kvm_guest_snippet_la(unsigned kind, bool user, bool ac)
{
	static const uint8_t *const k[2][3] = {{kvm_guest_k_read, kvm_guest_k_write, kvm_guest_k_fetch},
	                                       {kvm_guest_ka_read, kvm_guest_ka_write, kvm_guest_ka_fetch}};
	const uint8_t *p = user ? kvm_guest_u_enter : k[ac][kind];
	return KVM_HBASE + KVM_H_CODE + (uint64_t)(p - kvm_guest_text);
}
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

	/* The six IRETQ frames to the user trampolines (SDM 3A 6.14.3): one per
	 * kind and value of AC. */
	const uint8_t *tramp[3] = {kvm_guest_u_read, kvm_guest_u_write, kvm_guest_u_fetch};
	for (unsigned kind = 0; kind < 3; kind++)
		for (unsigned ac = 0; ac < 2; ac++) {
			uint64_t f = KVM_H_CTRL + kvm_guest_frame_off(kind, ac);
			put64(h, f, KVM_HBASE + KVM_H_UCODE + (uint64_t)(tramp[kind] - kvm_guest_user));
			put64(h, f + 8, KVM_SEL_UCODE);
			put64(h, f + 16, ac ? 0x40002 : 0x2);
			put64(h, f + 24, KVM_HBASE + KVM_H_USTACK_TOP);
			put64(h, f + 32, KVM_SEL_UDATA);
		}

	/* Code. */
	memcpy(h + KVM_H_CODE, kvm_guest_text, (size_t)(kvm_guest_text_end - kvm_guest_text));
	memcpy(h + KVM_H_UCODE, kvm_guest_user, (size_t)(kvm_guest_user_end - kvm_guest_user));
	uint64_t code = KVM_HBASE + KVM_H_CODE;
	for (unsigned v = 0; v < 32; v++)
		idt_gate(h, v, code + (uint64_t)(kvm_guest_vectors - kvm_guest_text) + 16ull * v, 0);
}

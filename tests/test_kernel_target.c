/* mmref-kernel, the live-kernel target, spoken to over its exec protocol:
 * the spec's example, hostile input, no-hint placement, the fault matrix of
 * the semantics note (§9.2), reset after mseal, PAGEMAP_SCAN against
 * /proc/self/pagemap, and the profile it detects and announces, checked
 * against independent probes. Expectations that depend on the profile follow
 * the announced one (zero_page; kt_expect leaves out the VmFlags of
 * soft_dirty and guard_flag). Skips (77) unless root with visible PFNs on
 * Linux 6.18. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile.h"

#include "kernel_child.h"
#include "procmaps.h"

/* ---- tests -------------------------------------------------------------------------------- */

/* on or off, after the zero_page key k announced. A read fault on private
 * anonymous memory (also an instruction fetch: not FAULT_FLAG_WRITE) maps the
 * shared zero page unless mm_forbids_zeropage(), and a fresh zero-filled
 * anonymous page then (mm/memory.c, do_anonymous_page). */
static const char *zp(const kt *k, const char *on, const char *off)
{
	if (!tr_profile_has(&k->profile, TR_PK_ZERO_PAGE))
		g_error("mmref-kernel did not announce zero_page");
	return k->profile.value[TR_PK_ZERO_PAGE] ? on : off;
}

static void run_spec_example(kt *k)
{
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "# an mprotect in the middle of a VMA splits it in three",
	          "# an mprotect in the middle of a VMA splits it in three");
	kt_expect(k, "mmap +0 16K rw- private,anonymous,fixed_noreplace",
	          "mmap +0x0 16K rw- private,anonymous,fixed_noreplace => +0x0");
	kt_expect(k, "touch +4K w", "touch +0x1000 w => ok");
	kt_expect(k, "touch +0 r", "touch +0x0 r => ok");
	kt_expect(k, "mprotect +4K 4K r--", "mprotect +0x1000 4K r-- => 0");
	kt_expect(k, "touch +4K w", "touch +0x1000 w => SEGV_ACCERR pf=0x7");
	kt_expect(k, "maps",
	          "maps\n"
	          "| 100000000000-100000001000 rw-p 00000000 anon\n"
	          "| 100000001000-100000002000 r--p 00000000 anon\n"
	          "| 100000002000-100000004000 rw-p 00000000 anon");
	kt_expect(k, "pages +0 16K",
	          zp(k,
	             "pages +0x0 16K\n"
	             "| +0x0 zero\n"
	             "| +0x1000 anon\n"
	             "| +0x2000 none\n"
	             "| +0x3000 none",
	             "pages +0x0 16K\n"
	             "| +0x0 anon\n"
	             "| +0x1000 anon\n"
	             "| +0x2000 none\n"
	             "| +0x3000 none"));
}

static void spec_example_in(kt *k)
{
	run_spec_example(k);
	kt_expect(k, "smaps",
	          "smaps\n"
	          "| 100000000000-100000001000 rd wr mr mw me ac\n"
	          "| 100000001000-100000002000 rd mr mw me ac\n"
	          "| 100000002000-100000004000 rd wr mr mw me ac");
	char *state = g_strdup_printf("state\n"
	                              "| 100000000000-100000001000 rw-p 00000000 anon rd wr mr mw me ac : %s\n"
	                              "| 100000001000-100000002000 r--p 00000000 anon rd mr mw me ac : a1\n"
	                              "| 100000002000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : n2",
	                              zp(k, "z1", "a1"));
	kt_expect(k, "state", state);
	g_free(state);
	/* a second trace in the same process starts from an empty arena */
	run_spec_example(k);
	kt_expect(k, "", "");
}

static void test_spec_example(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	spec_example_in(k);
	kt_stop(k);
}

/* Regression: read_vmas() took the whole lines left in its buffer after the
 * listing passed the arena for an overlong line, when a read returned more
 * than a page of them (the kernel's seq_file returns about a page per read;
 * other implementations' /proc, or this copy, return the whole file). */
static void test_proc_read_whole(void)
{
	if (!live())
		return;
	kt *k = kt_start_env("MMREF_KERNEL_PROC_COPY=1");
	spec_example_in(k);
	kt_expect(k, "maps", "maps\n"
	                     "| 100000000000-100000001000 rw-p 00000000 anon\n"
	                     "| 100000001000-100000002000 r--p 00000000 anon\n"
	                     "| 100000002000-100000004000 rw-p 00000000 anon");
	/* an arena low in the address space: most of the listing follows it */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "arena 0x10000000 1M", "arena 0x10000000 1M");
	kt_expect(k, "mmap 0 16K rw- private,anonymous", "mmap 0 16K rw- private,anonymous => +0xfc000");
	kt_expect(k, "state", "state\n| 100fc000-10100000 rw-p 00000000 anon rd wr mr mw me ac : n4");
	kt_stop(k);
}

/* `state LO-HI ...` (docs/exec-protocol.md): the VMAs within a page of the
 * ranges, whole records, their pages inside the ranges and '?' around them;
 * after a touch from the VmFlags cache (PROCMAP_QUERY confirming the
 * ranges), after an mprotect read afresh; a VMA a merge changed outside the
 * statement's range is seen; bad ranges are refused. */
static void test_state_window(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "arena 0x100000000000 1G", "arena 0x100000000000 1G");
	kt_expect(k, "mmap +0 16K rw- private,anonymous,fixed", NULL);
	kt_expect(k, "mmap +0x10000 8K r-- private,anonymous,fixed", NULL);
	kt_expect(k, "touch +0x1000 w", NULL);
	kt_expect(k, "state 100000001000-100000002000",
	          "state 100000001000-100000002000\n"
	          "| 100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : ?1a1?2");
	kt_expect(k, "state 100000004000-100000005000 100000011000-100000012000",
	          "state 100000004000-100000005000 100000011000-100000012000\n"
	          "| 100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : ?4\n"
	          "| 100000010000-100000012000 r--p 00000000 anon rd mr mw me : ?1n1");
	kt_expect(k, "touch +0x2000 w", NULL); /* the cache answers */
	kt_expect(k, "state 100000002000-100000003000",
	          "state 100000002000-100000003000\n"
	          "| 100000000000-100000004000 rw-p 00000000 anon rd wr mr mw me ac : ?2a1?1");
	kt_expect(k, "mprotect +0x10000 8K rw-", NULL); /* merges with nothing: a gap */
	kt_expect(k, "mprotect +0 4K rw- # the VmFlags of +0 unchanged", NULL);
	kt_expect(k, "state 100000010000-100000012000",
	          "state 100000010000-100000012000\n"
	          "| 100000010000-100000012000 rw-p 00000000 anon rd wr mr mw me ac : n2");
	/* a mapping that fills the gap merges all three: the record outside the
	 * statement's range changed, PROCMAP_QUERY tells */
	kt_expect(k, "mmap +0x4000 48K rw- private,anonymous,fixed", NULL);
	kt_expect(k, "state 100000011000-100000012000",
	          "state 100000011000-100000012000\n"
	          "| 100000000000-100000012000 rw-p 00000000 anon rd wr mr mw me ac : ?17n1");
	kt_expect(k, "state", "state\n"
	                      "| 100000000000-100000012000 rw-p 00000000 anon rd wr mr mw me ac : n1a2n15");
	kt_expect_error(k, "state 100000002000-100000001000");
	kt_expect_error(k, "state 100000002000-100000003000 100000001000-100000002000");
	kt_expect_error(k, "state 100000002001-100000003000");
	kt_stop(k);
}

/* The child's own mappings, from /proc/PID/maps: the first line matching. */
static bool child_mapping(kt *k, const char *what, uint64_t *start, uint64_t *end)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)k->pid);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	bool found = false;
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && !found; l++) {
		tr_maps_entry e;
		if (strstr(*l, what) && tr_maps_parse(*l, &e)) {
			*start = e.start;
			*end = e.end;
			found = true;
		}
	}
	g_strfreev(lines);
	g_free(text);
	return found;
}

static void test_hostile(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect_error(k, "mmap +0 4K rw- private,anonymous,fixed"); /* before mmtrace 1 */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	static const char *const bad[] = {
		"mmap 0x7f0000000000 4K rw- private,anonymous,fixed",
		"mmap 0x0 4K rw- private,anonymous,fixed",
		"mmap 0 4K rw- private,anonymous,fixed_noreplace",
		"mmap 0xfffffffffffff000 8K rw- private,anonymous,fixed",
		"mmap +0 0xffffffffffffffff rw- private,anonymous,fixed",
		"mmap +0 2G rw- private,anonymous,fixed",
		"munmap +0 0xffffffffffffffff",
		"munmap +0x3ffff000 8K",
		"munmap 0x10000 4K",
		"mprotect 0xffffffffffff0000 0x20000 rw-",
		"madvise +0 0x8000000000000000 dontneed",
		"mlock 0x7ffffffde000 4K",
		"mseal +1G 4K",
		"mremap +0 4K 2G maymove",
		"mremap +0 4K 4K maymove,fixed",
		"mremap +0 4K 4K maymove,fixed 0x1000",
		"mremap +0x3ffff000 4K 8K maymove,fixed +0x3ffff000",
		"touch 0x10 r",
		"touch +1G w",
		"touch 0xffffffffff600000 x",
		"pages +0 2G",
		"garbage",
		"mmap +0 4K",
		"mmap +0 4K rw- private,anonymous,fixed => +0x0 extra",
		"mmap +0 4K rw- private,nonsense",
		"| +0x0 zero",
		"|",
		"state => 0",
		"touch +0 q",
		"mmtrace 2",
		"munmap +0x-1 4K",
		"munmap +99999999999999999999999 4K",
	};
	/* directives: a second arena, an arena after an operation */
	kt_expect(k, "arena 0x200000000000 1G", "arena 0x200000000000 1G");
	kt_expect_error(k, "arena 0x300000000000 1G");
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "mmap +0 4K rw- private,anonymous,fixed", "mmap +0x0 4K rw- private,fixed,anonymous => +0x0");
	kt_expect_error(k, "arena 0x300000000000 1G");
	kt_expect_error(k, "file late 4K");
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		kt_expect_error(k, bad[i]);
	/* an overlong line and a NUL byte */
	GString *longline = g_string_new("mmap +0 4K rw- private,anonymous,fixed # ");
	while (longline->len < 200000)
		g_string_append(longline, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	kt_expect_error(k, longline->str);
	g_string_free(longline, TRUE);
	kt_send(k, "munmap +0 4K\0junk\n", 18);
	char *a = kt_answer(k);
	g_assert_true(g_str_has_prefix(a, "# error: "));
	g_free(a);

	/* arenas over the process's own memory, or where no-hint mmaps cannot
	 * be confined, are refused; operations are refused until a new trace */
	uint64_t s, e;
	const char *own[] = {"[stack]", "[heap]", "mmref-kernel", "libc", "[vdso]"};
	for (size_t i = 0; i < G_N_ELEMENTS(own); i++) {
		if (!child_mapping(k, own[i], &s, &e))
			continue;
		char *line = g_strdup_printf("arena 0x%" G_GINT64_MODIFIER "x 0x%" G_GINT64_MODIFIER "x",
		                             s & ~(uint64_t)0xfff, (uint64_t)16384);
		kt_expect(k, "mmtrace 1", "mmtrace 1");
		kt_expect_error(k, line);
		kt_expect_error(k, "mmap +0 4K rw- private,anonymous,fixed");
		kt_expect_error(k, "state");
		g_free(line);
	}
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect_error(k, "arena 0x0 1G");
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect_error(k, "arena 0x1000 1G"); /* below mmap_min_addr */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect_error(k, "arena 0x7fff00000000 1G"); /* above mmap_base */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect_error(k, "arena 0x7ffffffff000 4K"); /* beyond TASK_SIZE */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect_error(k, "file bad 0xffffffffffffffff");
	kt_expect_error(k, "mmap +0 4K rw- private,anonymous,fixed");

	g_assert_true(kt_alive(k));
	run_spec_example(k);
	kt_stop(k);
}

static void test_nohint(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "mmap 0 16K rw- private,anonymous", "mmap 0 16K rw- private,anonymous => +0x3fffc000");
	kt_expect(k, "mmap 0 16K rw- private,anonymous", "mmap 0 16K rw- private,anonymous => +0x3fff8000");
	/* THP: 2 MiB-multiple private anonymous no-hint mmaps are 2 MiB-aligned */
	kt_expect(k, "mmap 0 2M rw- private,anonymous", "mmap 0 2M rw- private,anonymous => +0x3fc00000");
	/* a hint on an occupied range falls back to the search */
	kt_expect(k, "mmap +0x3fffc000 4K rw- private,anonymous",
	          "mmap +0x3fffc000 4K rw- private,anonymous => +0x3fff7000");
	/* a full arena: ENOMEM rather than a mapping elsewhere */
	kt_expect(k, "mmap 0 1G rw- private,anonymous", "mmap 0 1G rw- private,anonymous => ENOMEM");
	kt_expect_error(k, "mremap +0x3fffc000 4K 2G maymove");

	/* another arena, and again after the reset */
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "arena 0x200000000000 1M", "arena 0x200000000000 1M");
	kt_expect(k, "mmap 0 16K rw- private,anonymous", "mmap 0 16K rw- private,anonymous => +0xfc000");
	kt_expect(k, "mmap 0 1M rw- private,anonymous", "mmap 0 1M rw- private,anonymous => ENOMEM");
	kt_expect(k, "mmap +0xe0000 16K rw- private,anonymous,fixed",
	          "mmap +0xe0000 16K rw- private,fixed,anonymous => +0xe0000");
	kt_expect(k, "mmap +0xe4000 4K r-- private,anonymous,fixed",
	          "mmap +0xe4000 4K r-- private,fixed,anonymous => +0xe4000");
	/* a move goes through the same search */
	kt_expect(k, "mremap +0xe0000 16K 32K maymove", "mremap +0xe0000 16K 32K maymove => +0xf4000");
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "mmap 0 16K rw- private,anonymous", "mmap 0 16K rw- private,anonymous => +0x3fffc000");
	kt_expect(k, "state",
	          "state\n| 10003fffc000-100040000000 rw-p 00000000 anon rd wr mr mw me ac : n4");
	kt_stop(k);
}

/* The fault matrix of linux-mm-semantics.md §9.2, plus exec probes. */
static void test_touch_matrix(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	/* {line, answer, answer under zero_page=off when it differs} */
	static const char *const lines[][3] = {
		{"mmtrace 1", "mmtrace 1"},
		{"file f 8K", "file f 8K"},
		/* unmapped */
		{"touch +0 r", "touch +0x0 r => SEGV_MAPERR pf=0x4"},
		{"touch +0 w", "touch +0x0 w => SEGV_MAPERR pf=0x6"},
		{"touch +0 x", "touch +0x0 x => SEGV_MAPERR pf=0x14"},
		/* PROT_NONE, unpopulated and populated */
		{"mmap +0x10000 16K --- private,anonymous,fixed", "mmap +0x10000 16K --- private,fixed,anonymous => +0x10000"},
		{"touch +0x10000 r", "touch +0x10000 r => SEGV_ACCERR pf=0x4"},
		{"touch +0x10000 w", "touch +0x10000 w => SEGV_ACCERR pf=0x6"},
		{"touch +0x10000 x", "touch +0x10000 x => SEGV_ACCERR pf=0x14"},
		{"mprotect +0x10000 4K rw-", "mprotect +0x10000 4K rw- => 0"},
		{"touch +0x10000 w", "touch +0x10000 w => ok"},
		{"mprotect +0x10000 4K ---", "mprotect +0x10000 4K --- => 0"},
		{"touch +0x10000 r", "touch +0x10000 r => SEGV_ACCERR pf=0x4"},
		{"touch +0x10000 w", "touch +0x10000 w => SEGV_ACCERR pf=0x6"},
		{"touch +0x10000 x", "touch +0x10000 x => SEGV_ACCERR pf=0x14"},
		/* PROT_READ */
		{"mmap +0x20000 16K r-- private,anonymous,fixed", "mmap +0x20000 16K r-- private,fixed,anonymous => +0x20000"},
		{"touch +0x20000 w", "touch +0x20000 w => SEGV_ACCERR pf=0x6"},
		{"touch +0x21000 r", "touch +0x21000 r => ok"},
		{"touch +0x21000 w", "touch +0x21000 w => SEGV_ACCERR pf=0x7"},
		{"touch +0x21000 x", "touch +0x21000 x => SEGV_ACCERR pf=0x15"},
		/* exec of a non-present page in a non-exec VMA maps it first */
		{"touch +0x22000 x", "touch +0x22000 x => SEGV_ACCERR pf=0x15"},
		{"pages +0x20000 16K", "pages +0x20000 16K\n| +0x20000 none\n| +0x21000 zero\n| +0x22000 zero\n| +0x23000 none",
		 "pages +0x20000 16K\n| +0x20000 none\n| +0x21000 anon\n| +0x22000 anon\n| +0x23000 none"},
		/* PROT_WRITE only: reads succeed */
		{"mmap +0x30000 16K -w- private,anonymous,fixed", "mmap +0x30000 16K -w- private,fixed,anonymous => +0x30000"},
		{"touch +0x30000 r", "touch +0x30000 r => ok"},
		{"touch +0x30000 x", "touch +0x30000 x => SEGV_ACCERR pf=0x15"},
		/* PROT_EXEC only: reads and fetches succeed, writes do not */
		{"mmap +0x40000 16K --x private,anonymous,fixed", "mmap +0x40000 16K --x private,fixed,anonymous => +0x40000"},
		{"touch +0x40000 r", "touch +0x40000 r => ok"},
		{"touch +0x40000 w", "touch +0x40000 w => SEGV_ACCERR pf=0x7"},
		{"touch +0x41000 x", "touch +0x41000 x => ok"},
		/* the last byte of a page: the probe must not fetch from the next page */
		{"touch +0x42fff x", "touch +0x42fff x => ok"},
		{"pages +0x40000 16K", "pages +0x40000 16K\n| +0x40000 zero\n| +0x41000 zero\n| +0x42000 zero\n| +0x43000 none",
		 "pages +0x40000 16K\n| +0x40000 anon\n| +0x41000 anon\n| +0x42000 anon\n| +0x43000 none"},
		/* exec on written (anonymous, zero-filled) pages of an rwx VMA */
		{"mmap +0x70000 16K rwx private,anonymous,fixed", "mmap +0x70000 16K rwx private,fixed,anonymous => +0x70000"},
		{"touch +0x70000 w", "touch +0x70000 w => ok"},
		{"touch +0x70000 x", "touch +0x70000 x => ok"},
		{"touch +0x70ffe x", "touch +0x70ffe x => ok"},
		{"touch +0x71000 x", "touch +0x71000 x => ok"},
		{"touch +0x72fff x", "touch +0x72fff x => ok"},
		{"pages +0x70000 16K", "pages +0x70000 16K\n| +0x70000 anon\n| +0x71000 zero\n| +0x72000 zero\n| +0x73000 none",
		 "pages +0x70000 16K\n| +0x70000 anon\n| +0x71000 anon\n| +0x72000 anon\n| +0x73000 none"},
		/* rw- anonymous: exec of a written page */
		{"mmap +0x80000 8K rw- private,anonymous,fixed", "mmap +0x80000 8K rw- private,fixed,anonymous => +0x80000"},
		{"touch +0x80000 w", "touch +0x80000 w => ok"},
		{"touch +0x80000 x", "touch +0x80000 x => SEGV_ACCERR pf=0x15"},
		{"touch +0x80000 w", "touch +0x80000 w => ok"},
		/* guard regions */
		{"madvise +0x80000 4K guard_install", "madvise +0x80000 4K guard_install => 0"},
		{"touch +0x80000 r", "touch +0x80000 r => SEGV_MAPERR pf=0x4"},
		{"touch +0x80000 w", "touch +0x80000 w => SEGV_MAPERR pf=0x6"},
		{"touch +0x80000 x", "touch +0x80000 x => SEGV_MAPERR pf=0x14"},
		{"pages +0x80000 8K", "pages +0x80000 8K\n| +0x80000 guard\n| +0x81000 none"},
		/* beyond the end of a file */
		{"mmap +0x90000 16K rw- shared file=f", "mmap +0x90000 16K rw- shared file=f => +0x90000"},
		{"touch +0x90000 r", "touch +0x90000 r => ok"},
		{"touch +0x91000 w", "touch +0x91000 w => ok"},
		{"touch +0x92000 r", "touch +0x92000 r => SIGBUS"},
		{"touch +0x93000 w", "touch +0x93000 w => SIGBUS"},
		/* a shared anonymous mapping */
		{"mmap +0xa0000 8K rw- shared,anonymous,fixed", "mmap +0xa0000 8K rw- shared,fixed,anonymous => +0xa0000"},
		{"touch +0xa0000 r", "touch +0xa0000 r => ok"},
		{"state",
		 "state\n"
		 /* VM_ACCOUNT survives dropping write: no merge back */
		 "| 100000010000-100000011000 ---p 00000000 anon mr mw me ac : a1\n"
		 "| 100000011000-100000014000 ---p 00000000 anon mr mw me : n3\n"
		 "| 100000020000-100000024000 r--p 00000000 anon rd mr mw me : n1z2n1\n"
		 "| 100000030000-100000034000 -w-p 00000000 anon wr mr mw me ac : z1n3\n"
		 "| 100000040000-100000044000 --xp 00000000 anon ex mr mw me : z3n1\n"
		 "| 100000070000-100000074000 rwxp 00000000 anon rd wr ex mr mw me ac : a1z2n1\n"
		 "| 100000080000-100000082000 rw-p 00000000 anon rd wr mr mw me gu ac : g1n1\n"
		 "| 100000090000-100000094000 rw-s 00000000 file:f rd wr sh mr mw me ms : f2n2\n"
		 "| 1000000a0000-1000000a2000 rw-s 00000000 shmem:1 rd wr sh mr mw me ms : f1n1",
		 "state\n"
		 "| 100000010000-100000011000 ---p 00000000 anon mr mw me ac : a1\n"
		 "| 100000011000-100000014000 ---p 00000000 anon mr mw me : n3\n"
		 "| 100000020000-100000024000 r--p 00000000 anon rd mr mw me : n1a2n1\n"
		 "| 100000030000-100000034000 -w-p 00000000 anon wr mr mw me ac : a1n3\n"
		 "| 100000040000-100000044000 --xp 00000000 anon ex mr mw me : a3n1\n"
		 "| 100000070000-100000074000 rwxp 00000000 anon rd wr ex mr mw me ac : a3n1\n"
		 "| 100000080000-100000082000 rw-p 00000000 anon rd wr mr mw me gu ac : g1n1\n"
		 "| 100000090000-100000094000 rw-s 00000000 file:f rd wr sh mr mw me ms : f2n2\n"
		 "| 1000000a0000-1000000a2000 rw-s 00000000 shmem:1 rd wr sh mr mw me ms : f1n1"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
		kt_expect(k, lines[i][0], lines[i][2] ? zp(k, lines[i][1], lines[i][2]) : lines[i][1]);
	kt_stop(k);
}

/* A sealed VMA cannot be unmapped: the next trace runs in a fresh process
 * (re-exec), still on the same pipes, with the input that followed intact. */
static void test_reset_after_mseal(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	kt_expect(k, "mmap +0 8K rw- private,anonymous,fixed", "mmap +0x0 8K rw- private,fixed,anonymous => +0x0");
	kt_expect(k, "mseal +0 4K", "mseal +0x0 4K => 0");
	kt_expect(k, "munmap +0 8K", "munmap +0x0 8K => EPERM");
	/* several lines in one write: the ones after the reset must survive it */
	const char *batch = "mmtrace 1\nstate\nmmap 0 4K rw- private,anonymous\nstate\n";
	kt_send(k, batch, strlen(batch));
	char *a;
	a = kt_answer(k);
	g_assert_cmpstr(a, ==, "mmtrace 1");
	g_free(a);
	a = kt_answer(k);
	g_assert_cmpstr(a, ==, "state");
	g_free(a);
	a = kt_answer(k);
	g_assert_cmpstr(a, ==, "mmap 0 4K rw- private,anonymous => +0x3ffff000");
	g_free(a);
	a = kt_answer(k);
	kt_answer_to_reference(k, a);
	g_assert_cmpstr(a, ==, "state\n| 10003ffff000-100040000000 rw-p 00000000 anon rd wr mr mw me ac : n1");
	g_free(a);
	run_spec_example(k);
	kt_stop(k);
}

/* PAGEMAP_SCAN (the fast path) against /proc/self/pagemap, at every state,
 * over a pseudo-random trace with THP, the huge zero page, guards, files
 * and shared memory. */
static void test_crosscheck(void)
{
	if (!live())
		return;
	kt *k = kt_start_env("MMREF_KERNEL_CROSSCHECK=1");
	GRand *r = g_rand_new_with_seed(1);
	static const char *const prots[] = {"rw-", "r--", "---", "r-x", "rwx", "-w-"};
	static const char *const adv[] = {"dontneed", "guard_install", "guard_remove", "hugepage", "populate_read",
	                                  "populate_write", "pageout", "free"};
	char *a;
	GString *last = g_string_new(NULL);
	for (int trace = 0; trace < 4; trace++) {
		g_string_truncate(last, 0); /* the statements of this trace, for the report */
		kt_expect(k, "mmtrace 1", "mmtrace 1");
		kt_expect(k, "file f 1M", "file f 1M");
		kt_expect(k, "mmap +0 8M r-- private,anonymous,fixed", "mmap +0x0 8M r-- private,fixed,anonymous => +0x0");
		kt_expect(k, "madvise +0 8M hugepage", "madvise +0x0 8M hugepage => 0");
		kt_expect(k, "touch +2M r", "touch +0x200000 r => ok"); /* the huge zero page */
		for (int i = 0; i < 400; i++) {
			uint64_t addr = (uint64_t)g_rand_int_range(r, 0, 4096) * 4096;
			uint64_t len = (uint64_t)g_rand_int_range(r, 1, 600) * 4096;
			char *line;
			switch (g_rand_int_range(r, 0, 8)) {
			case 0:
				line = g_strdup_printf("mmap +0x%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "u %s private,anonymous,fixed",
				                       addr, len, prots[g_rand_int_range(r, 0, 6)]);
				break;
			case 1:
				line = g_strdup_printf("mmap +0x%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "u rw- %s,fixed file=f",
				                       addr, len, g_rand_boolean(r) ? "shared" : "private");
				break;
			case 2:
				line = g_strdup_printf("mmap +0x%" G_GINT64_MODIFIER "x 32K rw- shared,anonymous,fixed", addr);
				break;
			case 3:
				line = g_strdup_printf("madvise +0x%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "u %s", addr, len,
				                       adv[g_rand_int_range(r, 0, 8)]);
				break;
			case 4:
				line = g_strdup_printf("mprotect +0x%" G_GINT64_MODIFIER "x %" G_GINT64_MODIFIER "u %s", addr, len,
				                       prots[g_rand_int_range(r, 0, 6)]);
				break;
			default:
				line = g_strdup_printf("touch +0x%" G_GINT64_MODIFIER "x %c", addr + (uint64_t)g_rand_int_range(r, 0, 4096),
				                       "rwx"[g_rand_int_range(r, 0, 3)]);
				break;
			}
			a = kt_ask(k, line);
			g_assert_false(g_str_has_prefix(a, "# error"));
			g_string_append_printf(last, "%s\n", a);
			g_free(a);
			g_free(line);
			a = kt_ask(k, "state");
			if (g_str_has_prefix(a, "state\n# error") || strstr(a, "\n# error"))
				g_error("crosscheck (trace %d, after the operations:\n%s): %s", trace, last->str, a);
			g_free(a);
		}
	}
	g_rand_free(r);
	g_string_free(last, TRUE);
	kt_stop(k);
}

/* ---- the profile -------------------------------------------------------------------------- */

static char *text_of(const char *path)
{
	char *t = NULL;
	if (!g_file_get_contents(path, &t, NULL, NULL))
		return NULL;
	return g_strstrip(t);
}

/* The zero page, probed here independently of mmref-kernel: a read fault on
 * private anonymous memory, its PFN from /proc/self/pagemap, KPF_ZERO_PAGE
 * (bit 24) from /proc/kpageflags. 1, 0, or -1 when it cannot tell. */
static int probe_zero_page(void)
{
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int on = -1;
	uint64_t e = 0, f = 0;
	if (pm >= 0 && kf >= 0 && p != MAP_FAILED) {
		(void)p[0];
		if (pread(pm, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) == 8 && (e >> 63) &&
		    pread(kf, &f, 8, (off_t)((e & ((1ull << 55) - 1)) * 8)) == 8)
			on = (f >> 24) & 1;
	}
	if (p != MAP_FAILED)
		munmap((void *)p, 4096);
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return on;
}

/* The bracketed word of a sysfs mode file. */
static char *bracketed(const char *text)
{
	const char *a = text ? strchr(text, '[') : NULL, *b = a ? strchr(a, ']') : NULL;
	return b ? g_strndup(a + 1, (gsize)(b - a - 1)) : NULL;
}

/* The THP mode for 2 MiB pages from sysfs: hugepages-2048kB/enabled, unless
 * it says inherit (or is absent), then enabled. -1 if unreadable. */
static int sysfs_thp(void)
{
	char *top = text_of("/sys/kernel/mm/transparent_hugepage/enabled");
	char *pmd = text_of("/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/enabled");
	char *wt = bracketed(top), *wp = bracketed(pmd);
	const char *w = wp && strcmp(wp, "inherit") != 0 ? wp : wt;
	int mode = !w ? -1 : strcmp(w, "never") == 0 ? 0 : strcmp(w, "madvise") == 0 ? 1 : strcmp(w, "always") == 0 ? 2 : -1;
	g_free(top);
	g_free(pmd);
	g_free(wt);
	g_free(wp);
	return mode;
}

static uint64_t sysctl_num(const char *path)
{
	char *t = text_of(path);
	g_assert_nonnull(t);
	uint64_t v = g_ascii_strtoull(t, NULL, 10);
	g_free(t);
	return v;
}

/* A CONFIG_ line's value from /proc/config.gz (NULL if absent or unset). */
static char *kconfig(const char *name)
{
	static char *config;
	static bool tried;
	if (!tried) {
		tried = true;
		if (g_file_test("/proc/config.gz", G_FILE_TEST_EXISTS) &&
		    !g_spawn_command_line_sync("zcat /proc/config.gz", &config, NULL, NULL, NULL))
			config = NULL;
	}
	if (!config)
		return NULL;
	char *key = g_strdup_printf("\n%s=", name);
	const char *at = strstr(config, key);
	char *v = NULL;
	if (at) {
		at += strlen(key);
		v = g_strndup(at, strcspn(at, "\n"));
	}
	g_free(key);
	return v;
}

/* Capability bit n in /proc/PID/status's line FIELD (CapEff, CapPrm, CapBnd). */
static bool cap_bit(pid_t pid, const char *field, int n)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	char *key = g_strdup_printf("\n%s:", field);
	const char *at = strstr(text, key);
	g_assert_nonnull(at);
	uint64_t v = g_ascii_strtoull(at + strlen(key), NULL, 16);
	g_free(key);
	g_free(text);
	return (v >> n) & 1;
}

/* The announcement: "profile ..." with every key, then one "# profile KEY: "
 * line per key, in key order. */
static void check_announcement(const kt *k)
{
	g_assert_cmpuint(k->profile.set, ==, (1u << TR_PK_COUNT) - 1);
	char **lines = g_strsplit(k->announcement, "\n", -1);
	/* then what it can do beyond the format (docs/exec-protocol.md) */
	g_assert_cmpuint(g_strv_length(lines), ==, 1 + TR_PK_COUNT + 1);
	g_assert_cmpstr(lines[1 + TR_PK_COUNT], ==, "# capability state-window");
	g_assert_true(g_str_has_prefix(lines[0], "profile "));
	for (int key = 0; key < TR_PK_COUNT; key++) {
		char *prefix = g_strdup_printf("# profile %s: ", tr_profile_key_name((tr_profile_key)key));
		if (!g_str_has_prefix(lines[1 + key], prefix) || strlen(lines[1 + key]) <= strlen(prefix))
			g_error("expected '%s…', got '%s'", prefix, lines[1 + key]);
		g_assert_null(strstr(lines[1 + key], "not detected"));
		g_free(prefix);
	}
	g_strfreev(lines);
}

static void test_profile_announced(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	check_announcement(k);
	/* every "mmtrace 1" announces it again, the same */
	tr_profile first = k->profile;
	kt_expect(k, "mmap +0 4K rw- private,anonymous,fixed", "mmap +0x0 4K rw- private,fixed,anonymous => +0x0");
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	g_assert_cmpint(tr_profile_conflict(&first, &k->profile), ==, -1);
	/* --profile-only prints the same detection and exits 0 (another engineer
	 * may toggle THP meanwhile: thp is compared in test_profile_probes) */
	char *out = NULL;
	int status = -1;
	char *argv[] = {(char *)KERNEL_BIN, (char *)"--profile-only", NULL};
	g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, NULL, &status, NULL));
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_true(g_str_has_prefix(out, "profile "));
	tr_profile only = {0};
	char *eol = strchr(out, '\n');
	g_assert_nonnull(eol);
	*eol = '\0';
	g_assert_true(tr_profile_parse(&only, out + 8, NULL));
	g_assert_cmpuint(only.set, ==, (1u << TR_PK_COUNT) - 1);
	only.value[TR_PK_THP] = first.value[TR_PK_THP];
	g_assert_cmpint(tr_profile_conflict(&first, &only), ==, -1);
	char **how = g_strsplit(eol + 1, "# profile ", -1);
	g_assert_cmpuint(g_strv_length(how), ==, 1 + TR_PK_COUNT);
	g_strfreev(how);
	g_free(out);
	kt_stop(k);
}

/* Every key against an independent look at the same thing. */
static void test_profile_probes(void)
{
	if (!live())
		return;
	kt *k = NULL;
	int thp = -1;
	for (int attempt = 0; attempt < 5 && !k; attempt++) { /* THP may be toggled meanwhile */
		int before = sysfs_thp();
		k = kt_start();
		kt_expect(k, "mmtrace 1", "mmtrace 1");
		if (before == sysfs_thp()) {
			thp = before;
		} else {
			kt_stop(k);
			k = NULL;
		}
	}
	g_assert_nonnull(k);
	check_announcement(k);
	const uint64_t *v = k->profile.value;

	struct utsname u;
	g_assert_cmpint(uname(&u), ==, 0);
	unsigned major = 0, minor = 0;
	g_assert_cmpint(sscanf(u.release, "%u.%u", &major, &minor), ==, 2);
	g_assert_cmpuint(v[TR_PK_KERNEL], ==, major * 100 + minor);

	int zero = probe_zero_page();
	g_assert_cmpint(zero, >=, 0);
	g_assert_cmpuint(v[TR_PK_ZERO_PAGE], ==, (uint64_t)zero);

	g_assert_cmpint(thp, >=, 0);
	g_assert_cmpuint(v[TR_PK_THP], ==, (uint64_t)thp);
	g_assert_cmpuint(v[TR_PK_THP_ZERO_PAGE], ==, sysctl_num("/sys/kernel/mm/transparent_hugepage/use_zero_page"));
	g_assert_cmpuint(v[TR_PK_OVERCOMMIT], ==, sysctl_num("/proc/sys/vm/overcommit_memory"));
	/* max_map_count as a trace sees it: vm.max_map_count less the VMAs the
	 * process has outside its (empty) arena, plus the two arena fences the
	 * model counts ([vsyscall] is no VMA) */
	char path[64], *maps = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)k->pid);
	g_assert_true(g_file_get_contents(path, &maps, NULL, NULL));
	uint64_t own = 0;
	for (const char *l = maps; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		own += strncmp(l, "ffffffffff600000-", 17) != 0;
	g_free(maps);
	g_assert_cmpuint(v[TR_PK_MAX_MAP_COUNT], ==, sysctl_num("/proc/sys/vm/max_map_count") - own + 2);

	/* memlock: the child inherits this process's limit and capabilities */
	struct rlimit rl;
	g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &rl), ==, 0);
	bool ipc_lock = cap_bit(getpid(), "CapEff", 14);
	g_assert_cmpuint(v[TR_PK_MEMLOCK], ==, ipc_lock || rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur);

	/* mmap_min_addr: the larger of vm.mmap_min_addr and, with CONFIG_SECURITY,
	 * CONFIG_LSM_MMAP_MIN_ADDR (security/min_addr.c) */
	uint64_t dac = sysctl_num("/proc/sys/vm/mmap_min_addr");
	char *security = kconfig("CONFIG_SECURITY"), *lsm = kconfig("CONFIG_LSM_MMAP_MIN_ADDR");
	if (security) {
		uint64_t l = lsm && strcmp(security, "y") == 0 ? g_ascii_strtoull(lsm, NULL, 10) : 0;
		g_assert_cmpuint(v[TR_PK_MMAP_MIN_ADDR], ==, MAX(dac, l));
	} else {
		g_test_message("no /proc/config.gz: mmap_min_addr only checked against vm.mmap_min_addr");
		g_assert_cmpuint(v[TR_PK_MMAP_MIN_ADDR], >=, dac);
	}
	g_free(security);
	g_free(lsm);

	/* soft_dirty: CONFIG_MEM_SOFT_DIRTY, when the configuration is readable */
	char *sd = kconfig("CONFIG_MEM_SOFT_DIRTY"), *mmu = kconfig("CONFIG_MMU"); /* MMU: the config is readable */
	if (mmu)
		g_assert_cmpuint(v[TR_PK_SOFT_DIRTY], ==, sd && strcmp(sd, "y") == 0);
	g_free(sd);
	g_free(mmu);

	/* pkeys: mmref-kernel reads /proc/cpuinfo's ospke; the system call says
	 * the same (mm_pkey_alloc: a key only when arch_max_pkey() > 1) */
	long key = syscall(SYS_pkey_alloc, 0ul, 0ul);
	if (key >= 0)
		syscall(SYS_pkey_free, key);
	g_assert_cmpuint(v[TR_PK_PKEYS], ==, key >= 0);
	kt_stop(k);
}

/* --memlock: RLIMIT_MEMLOCK lowered and CAP_IPC_LOCK dropped, the announced
 * memlock follows, and mlock beyond it fails with ENOMEM (mm/mlock.c
 * do_mlock), also in the process re-executed after mseal. */
static void test_profile_memlock(void)
{
	if (!live())
		return;
	const char *const args[] = {"--memlock", "64K", NULL};
	kt *k = kt_start_full(NULL, args);
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	check_announcement(k);
	g_assert_cmpuint(k->profile.value[TR_PK_MEMLOCK], ==, 65536);
	g_assert_nonnull(strstr(k->announcement, "memlock=64K"));
	g_assert_false(cap_bit(k->pid, "CapEff", 14));
	g_assert_false(cap_bit(k->pid, "CapPrm", 14));
	g_assert_false(cap_bit(k->pid, "CapBnd", 14));
	static const char *const lines[][2] = {
		{"mmap +0 128K rw- private,anonymous,fixed", "mmap +0x0 128K rw- private,fixed,anonymous => +0x0"},
		{"mlock +0 64K", "mlock +0x0 64K => 0"},
		{"mlock +0 68K", "mlock +0x0 68K => ENOMEM"},
		{"munlock +0 128K", "munlock +0x0 128K => 0"},
		{"mlock +0 128K", "mlock +0x0 128K => ENOMEM"},
		{"mlock +0 64K onfault", "mlock +0x0 64K onfault => 0"},
		{"mmap +0 4K rw- private,anonymous,fixed,locked", "mmap +0x0 4K rw- private,fixed,anonymous,locked => EAGAIN"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
		kt_expect(k, lines[i][0], lines[i][1]);
	/* a sealed VMA: the next trace runs in a re-executed process, still limited */
	kt_expect(k, "mseal +64K 4K", "mseal +0x10000 4K => 0");
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	g_assert_cmpuint(k->profile.value[TR_PK_MEMLOCK], ==, 65536);
	kt_expect(k, "mmap +0 128K rw- private,anonymous,fixed", "mmap +0x0 128K rw- private,fixed,anonymous => +0x0");
	kt_expect(k, "mlock +0 128K", "mlock +0x0 128K => ENOMEM");
	kt_stop(k);

	/* without the option the limit of this process applies (root: unlimited) */
	if (cap_bit(getpid(), "CapEff", 14)) {
		k = kt_start();
		kt_expect(k, "mmtrace 1", "mmtrace 1");
		g_assert_cmpuint(k->profile.value[TR_PK_MEMLOCK], ==, UINT64_MAX);
		kt_expect(k, "mmap +0 128K rw- private,anonymous,fixed", "mmap +0x0 128K rw- private,fixed,anonymous => +0x0");
		kt_expect(k, "mlock +0 128K", "mlock +0x0 128K => 0");
		kt_stop(k);
	}
	/* a bad size is refused */
	int status = -1;
	char *argv[] = {(char *)KERNEL_BIN, (char *)"--memlock", (char *)"lots", (char *)"--profile-only", NULL};
	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL));
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

/* Regression: read_own_maps() skipped five fields after START-END where
 * /proc prints four (PERMS OFFSET DEV INODE), so it never saw "[stack]" and
 * the placeholders ran right up to the stack. The 1 MiB below it stays free
 * (docs/kernel-target.md: the stack keeps room to grow). */
static void test_stack_window(void)
{
	if (!live())
		return;
	kt *k = kt_start();
	kt_expect(k, "mmtrace 1", "mmtrace 1");
	uint64_t ss, se;
	g_assert_true(child_mapping(k, "[stack]", &ss, &se));
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)k->pid);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	uint64_t below_end = 0; /* the end of the highest mapping below the stack */
	bool placeholder = false;
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		uint64_t s, e;
		if (sscanf(*l, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", &s, &e) == 2 && e <= ss && e > below_end) {
			below_end = e;
			placeholder = strstr(*l, "mmref-placeholder") != NULL;
		}
	}
	g_strfreev(lines);
	g_free(text);
	g_assert_true(placeholder);
	g_assert_cmphex(below_end, ==, ss - (1u << 20));
	kt_stop(k);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	check_live();
	g_test_add_func("/kernel/spec-example", test_spec_example);
	g_test_add_func("/kernel/hostile", test_hostile);
	g_test_add_func("/kernel/nohint", test_nohint);
	g_test_add_func("/kernel/touch-matrix", test_touch_matrix);
	g_test_add_func("/kernel/reset-after-mseal", test_reset_after_mseal);
	g_test_add_func("/kernel/crosscheck", test_crosscheck);
	g_test_add_func("/kernel/proc-read-whole", test_proc_read_whole);
	g_test_add_func("/kernel/state-window", test_state_window);
	g_test_add_func("/kernel/stack-window", test_stack_window);
	g_test_add_func("/kernel/profile/announced", test_profile_announced);
	g_test_add_func("/kernel/profile/probes", test_profile_probes);
	g_test_add_func("/kernel/profile/memlock", test_profile_memlock);
	int rc = g_test_run();
	if (skip_reason) {
		g_printerr("skipped: %s\n", skip_reason);
		return 77;
	}
	return rc;
}

/* mmref-kernel: the live Linux kernel as a trace target.
 *
 * Reads the mmtrace format on standard input one line at a time, performs
 * each statement with raw system calls inside an arena of this process, and
 * answers in the exec protocol (docs/trace-format.md): the statement echoed
 * with ` => RESULT`, an observation with its `| ` lines, `# error: WHAT` for
 * input it refuses; every answer ends with an empty line. The method is in
 * docs/kernel-target.md. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "linereader.h"
#include "tr_limits.h"

bool observe_pfns_visible(void);

#define LINE_MAX_LEN (1 << 16)
/* The input, in static buffers: reading never allocates (linereader.h). */
static char inbuf[4 << 20];
static char linebuf[LINE_MAX_LEN + 1];
static linereader in;

static trace_parser *parser;
static bool profile_comments; /* --profile-comments */
static char broken[1024]; /* non-empty: the current trace is unusable, and why */

/* ---- input ---------------------------------------------------------------------------------- */

static ssize_t read_fd(void *ctx, char *buf, size_t n) { return read((int)(intptr_t)ctx, buf, n); }

/* ---- a fresh process when the old arena cannot be emptied ------------------------------------ */

/* mseal'd VMAs cannot be unmapped: the next trace needs a new address space.
 * Re-executes this program with the current line and the unread input handed
 * over in a memfd, which the new process reads before standard input. */
static void reexec(const char *line)
{
	int fd = (int)syscall(SYS_memfd_create, "mmref-kernel-resume", 0);
	if (fd < 0) {
		out_str("# error: internal: cannot start a fresh process (memfd_create)\n\n");
		out_flush();
		exit(3);
	}
	size_t ll = strlen(line), rest;
	const char *unread = lr_unread(&in, &rest);
	if (write(fd, line, ll) != (ssize_t)ll || write(fd, "\n", 1) != 1 ||
	    write(fd, unread, rest) != (ssize_t)rest || lseek(fd, 0, SEEK_SET) != 0) {
		out_str("# error: internal: cannot start a fresh process (resume data)\n\n");
		out_flush();
		exit(3);
	}
	out_flush();
	char arg[64], lineno[64], budget[64], lim[3][96];
	snprintf(arg, sizeof(arg), "--resume-fd=%d", fd);
	/* the resumed process goes on counting lines from this one */
	snprintf(lineno, sizeof(lineno), "--resume-line=%llu", (unsigned long long)(in.lineno - 1));
	snprintf(budget, sizeof(budget), "--own-vmas=%u", arena_vma_budget());
	snprintf(lim[0], sizeof(lim[0]), "--max-populate=%llu", (unsigned long long)k_limit_populate);
	snprintf(lim[1], sizeof(lim[1]), "--max-file-bytes=%llu", (unsigned long long)k_limit_file_bytes);
	snprintf(lim[2], sizeof(lim[2]), "--max-arena=%llu", (unsigned long long)tr_limit.max_arena);
	char tsz[64], win[64];
	snprintf(tsz, sizeof(tsz), "--task-size=%llu", (unsigned long long)k_task_size);
	snprintf(win, sizeof(win), "--stack-window=%llu", (unsigned long long)k_stack_window);
	/* a re-executed process is never a guest's /init: it keeps its pid */
	char *argv[12] = {(char *)"mmref-kernel", arg, lineno, budget, lim[0], lim[1], lim[2], tsz, win, (char *)"--no-init"};
	int argc = 10;
	if (k_no_pagemap)
		argv[argc++] = (char *)"--no-pagemap";
	if (profile_comments)
		argv[argc++] = (char *)"--profile-comments";
	argv[argc] = NULL;
	execv("/proc/self/exe", argv);
	out_str("# error: internal: cannot start a fresh process (exec)\n\n");
	out_flush();
	exit(3);
}

static void load_resume(int fd)
{
	lr_preload(&in, read_fd, (void *)(intptr_t)fd);
	close(fd);
}

/* ---- answers ---------------------------------------------------------------------------------- */

static void answer_error(const char *what)
{
	out_str("# error: ");
	/* "FILE:LINE: error: WHAT" from the parser becomes "line N: WHAT", N
	 * the reader's count: it counts the refused lines the parser never saw
	 * (overlong, NUL) and goes on counting across a re-exec. */
	const char *e = strstr(what, ": error: ");
	const char *colon = e ? memchr(what, ':', (size_t)(e - what)) : NULL;
	if (e && colon) {
		out_str("line ");
		out_dec(in.lineno);
		out_str(": ");
		out_str(e + 9);
	} else {
		out_str(what);
	}
	out_str("\n\n");
}

static void echo_line(const char *line)
{
	out_str(line);
	out_str("\n\n");
}

static void out_gstring(GString *g)
{
	out_mem(g->str, g->len);
}

/* ---- processes: fork, proc, exit (docs/kernel-target.md, "Processes") ------------------------ */

/* This executor is process 1 of every trace. `fork` forks the current
 * process for real: the child keeps a copy of the executor (its parser, its
 * files, its arena -- now the child's copy of it) and serves statements on
 * its end of a socket pair, which takes the place of its standard input and
 * output; the executor keeps the other end and, while another process is
 * selected (`proc N`), forwards each line to it and copies its answer out.
 * A process that is not the executor forks the same way and hands the new
 * channel to the executor with its answer (SCM_RIGHTS), so the executor
 * speaks to every process directly, whoever its parent is. `exit N` kills
 * the process and waits for its channel to close: do_exit() runs exit_mm()
 * before exit_files(), so the address space is gone by then. */
typedef struct kproc {
	uint32_t no; /* its number in the trace */
	pid_t pid;
	int chan; /* the executor's end of its channel */
} kproc;
static kproc procs[TR_MAX_PROCS]; /* the live processes other than 1 (the executor only) */
static int n_procs;
static uint32_t cur_proc = 1, next_proc = 2;
static bool in_child; /* this is a forked process of the trace, serving its channel */

static kproc *proc_find(uint32_t no)
{
	for (int i = 0; i < n_procs; i++)
		if (procs[i].no == no)
			return &procs[i];
	return NULL;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Kills p and waits until its channel closes (its address space is gone). */
static void proc_end(kproc *p)
{
	char buf[4096];
	kill(p->pid, SIGKILL);
	for (;;) {
		ssize_t n = read(p->chan, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	close(p->chan);
	reap();
	*p = procs[--n_procs];
}

static void procs_end_all(void)
{
	while (n_procs)
		proc_end(&procs[0]);
	cur_proc = 1;
	next_proc = 2;
}

static void child_main(int chan);

/* fork(2) of this process: the parent gets the child's pid and its channel
 * end, the child goes on in child_main and never returns. -errno on failure. */
static pid_t fork_process(int *chan)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	out_flush();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		for (int i = 0; i < n_procs; i++) /* the executor's channels stay with it */
			close(procs[i].chan);
		n_procs = 0;
		child_main(sv[1]);
	}
	close(sv[1]);
	*chan = sv[0];
	return pid;
}

static void answer_result(const tr_stmt *st, const tr_result *res)
{
	const trace *t = trace_parser_trace(parser);
	GString *g = g_string_sized_new(64);
	trace_print_stmt(g, t, st, false);
	g_string_append(g, " => ");
	trace_print_result(g, t, st->kind, res);
	g_string_append(g, "\n\n");
	out_gstring(g);
	g_string_free(g, TRUE);
}

static void set_errno_result(tr_result *res, int err)
{
	memset(res, 0, sizeof(*res));
	res->kind = TR_RES_ERRNO;
	res->err = err;
}

/* `fork` in a forked process: answers "fork => PID" (or the errno) with the
 * executor's end of the new channel attached. */
static void child_fork(const tr_stmt *st)
{
	int chan = -1;
	pid_t pid = fork_process(&chan);
	if (pid < 0) {
		tr_result res;
		set_errno_result(&res, (int)-pid);
		answer_result(st, &res);
		return;
	}
	out_flush();
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "fork => %d\n\n", (int)pid);
	struct iovec iov = {.iov_base = msg, .iov_len = (size_t)len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &chan, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(1, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	close(chan);
	if (n != len)
		_exit(3); /* the executor went away */
}

/* Sends line to process p and copies its answer out (up to the empty line
 * that ends it). For a `fork`, takes the new channel from the answer and
 * answers with the new process's number instead. false: p is gone. */
static bool forward(kproc *p, const char *line, const tr_stmt *fork_st)
{
	size_t len = strlen(line);
	const char nl = '\n';
	struct iovec iov[2] = {{.iov_base = (void *)line, .iov_len = len}, {.iov_base = (void *)&nl, .iov_len = 1}};
	struct msghdr out = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;
	do
		n = sendmsg(p->chan, &out, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len + 1)
		return false;
	static char buf[1 << 16];
	char fork_answer[128];
	size_t fork_len = 0;
	int got_fd = -1;
	char last = 0, before_last = 0;
	for (;;) {
		struct iovec in_iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = {.msg_iov = &in_iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
		n = recvmsg(p->chan, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (got_fd >= 0)
				close(got_fd);
			return false;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && got_fd < 0)
				memcpy(&got_fd, CMSG_DATA(c), sizeof(int));
		if (fork_st) {
			size_t k = (size_t)n < sizeof(fork_answer) - 1 - fork_len ? (size_t)n : sizeof(fork_answer) - 1 - fork_len;
			memcpy(fork_answer + fork_len, buf, k);
			fork_len += k;
		} else {
			out_mem(buf, (size_t)n);
		}
		if (n >= 2) {
			before_last = buf[n - 2];
			last = buf[n - 1];
		} else {
			before_last = last;
			last = buf[0];
		}
		if (before_last == '\n' && last == '\n')
			break;
	}
	if (!fork_st)
		return true;
	fork_answer[fork_len] = '\0';
	long pid = 0;
	if (got_fd >= 0 && strncmp(fork_answer, "fork => ", 8) == 0 && (pid = strtol(fork_answer + 8, NULL, 10)) > 0) {
		procs[n_procs++] = (kproc){.no = next_proc, .pid = (pid_t)pid, .chan = got_fd};
		tr_result res = {.kind = TR_RES_VALUE, .value = next_proc++};
		answer_result(fork_st, &res);
	} else {
		if (got_fd >= 0)
			close(got_fd);
		out_mem(fork_answer, fork_len); /* an errno or an error, as the process gave it */
	}
	return true;
}

/* The executor's part of fork, proc and exit; true when it handled the line
 * (the statement is not for the selected process to run). */
static bool exec_handle_process(const char *line, const tr_stmt *st, bool window)
{
	tr_result res = {.kind = TR_RES_VALUE, .value = 0};
	if (!window && st->kind == TR_PROC) {
		if (st->value != 1 && !proc_find((uint32_t)st->value))
			set_errno_result(&res, ESRCH);
		else
			cur_proc = (uint32_t)st->value;
		answer_result(st, &res);
		return true;
	}
	if (!window && st->kind == TR_EXIT) {
		kproc *p = proc_find((uint32_t)st->value);
		if (st->value == 1)
			set_errno_result(&res, EINVAL); /* the format: process 1 stays */
		else if (!p)
			set_errno_result(&res, ESRCH);
		else {
			if (cur_proc == p->no)
				cur_proc = 1;
			proc_end(p);
		}
		answer_result(st, &res);
		return true;
	}
	bool is_fork = !window && st->kind == TR_FORK;
	if (is_fork && n_procs + 1 >= TR_MAX_PROCS) {
		set_errno_result(&res, EAGAIN); /* the format's limit on live processes */
		answer_result(st, &res);
		return true;
	}
	if (cur_proc != 1) {
		kproc *p = proc_find(cur_proc);
		if (!p || !forward(p, line, is_fork ? st : NULL)) {
			char msg[128];
			snprintf(msg, sizeof(msg), "process %u died or stopped answering", cur_proc);
			if (p)
				proc_end(p);
			cur_proc = 1;
			snprintf(broken, sizeof(broken), "%s", msg);
			answer_error(msg);
		}
		return true;
	}
	if (is_fork) {
		int chan = -1;
		pid_t pid = fork_process(&chan);
		if (pid < 0) {
			set_errno_result(&res, (int)-pid);
		} else {
			procs[n_procs++] = (kproc){.no = next_proc, .pid = pid, .chan = chan};
			res.value = next_proc++;
		}
		answer_result(st, &res);
		return true;
	}
	return false;
}

/* The CPUs this process may run on, as it was started (cpus_pin_for_trace
 * narrows that to one and widens it again at the next trace). */
static cpu_set_t cpus_allowed;
static bool cpus_known;

/* Runs a trace, and every process it forks, on one CPU. Linux keeps folios
 * that are being added to, or moved between, LRU lists in per-CPU batches
 * (mm/swap.c: folio_batch_add_and_move, lru_add_drain), and MADV_PAGEOUT
 * and MADV_COLD drain only the local CPU's batches before they isolate pages
 * (mm/madvise.c: madvise_pageout, madvise_cold -> lru_add_drain). A page left
 * in another CPU's batch (MADV_FREE's lru_lazyfree batch, the putback after
 * a failed isolation) is not on an LRU list, cannot be isolated and is not
 * reclaimed: whether pageout takes a page would depend on where the
 * scheduler happened to move the process. Pinned, every batch the trace
 * fills is the one its own pageout drains. The CPU is the one the process
 * runs on when the trace starts (so that parallel executors spread as the
 * scheduler placed them), chosen anew for every trace. */
static void cpus_pin_for_trace(void)
{
	if (!cpus_known) {
		if (sched_getaffinity(0, sizeof(cpus_allowed), &cpus_allowed) != 0)
			return; /* nothing to pin with (a sandbox without affinity) */
		cpus_known = true;
	} else {
		(void)sched_setaffinity(0, sizeof(cpus_allowed), &cpus_allowed);
		sched_yield(); /* a chance to be placed elsewhere */
	}
	int cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &cpus_allowed))
		return;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	(void)sched_setaffinity(0, sizeof(one), &one);
}

static void handle_directive(const char *dir, const char *line)
{
	const trace *t = trace_parser_trace(parser);
	char why[512];
	if (strcmp(dir, "mmtrace") == 0) {
		procs_end_all();
		files_close_all();
		cpus_pin_for_trace();
		broken[0] = '\0';
		if (!arena_clear())
			reexec(line);
		arena_status st = arena_setup(t->arena_base, t->arena_size, why, sizeof(why));
		if (st == ARENA_REEXEC)
			reexec(line);
		if (st != ARENA_OK) {
			snprintf(broken, sizeof(broken), "%s", why);
			answer_error(why);
			return;
		}
		/* A live target announces its profile (docs/exec-protocol.md);
		 * --profile-comments: a sandbox under test is compared under the
		 * profile of the Linux it imitates, its own is only shown. */
		out_str(line);
		out_chr('\n');
		if (profile_comments)
			out_str("# not announced (--profile-comments): ");
		out_str(profile_announcement());
		/* What it answers beyond the trace format: `state LO-HI ...`, the
		 * windowed state (docs/exec-protocol.md). */
		out_str("# capability state-window\n");
		out_chr('\n');
	} else if (strcmp(dir, "arena") == 0) {
		arena_status st = arena_setup(t->arena_base, t->arena_size, why, sizeof(why));
		if (st != ARENA_OK) {
			if (st == ARENA_REEXEC)
				snprintf(why, sizeof(why), "internal: the previous arena could not be emptied");
			snprintf(broken, sizeof(broken), "the arena was refused: %s", why);
			answer_error(why);
			return;
		}
		echo_line(line);
	} else if (strcmp(dir, "file") == 0) {
		guint n = t->files->len;
		if (n == 0 || (int)n != files_count() + 1) {
			snprintf(broken, sizeof(broken), "internal: file table out of step");
			answer_error(broken);
			return;
		}
		const tr_file *f = &g_array_index(t->files, tr_file, n - 1);
		if (!files_add(f->name, f->size, why, sizeof(why)) || !files_write_contents(f, why, sizeof(why))) {
			snprintf(broken, sizeof(broken), "file %s was refused: %s", f->name, why);
			answer_error(why);
			return;
		}
		echo_line(line);
	} else {
		echo_line(line);
	}
}

/* Whether a statement or request may run now: not after the executor
 * broke (answered "not run: ..."), and only in the arena the trace set up
 * (answered as an internal error). */
static bool ready_to_run(const trace *t)
{
	if (broken[0]) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "not run: %s (send 'mmtrace 1' to start afresh)", broken);
		answer_error(msg);
		return false;
	}
	if (!k_arena_ok || t->arena_base != k_arena_base || t->arena_base + t->arena_size != k_arena_end) {
		answer_error("internal: the arena is not set up");
		return false;
	}
	return true;
}

static void handle_stmt(tr_stmt *st)
{
	const trace *t = trace_parser_trace(parser);
	char why[512];
	if (!ready_to_run(t))
		return;
	GString *g = g_string_sized_new(128);
	if (tr_is_observation(st->kind)) {
		trace_print_stmt(g, t, st, false);
		g_string_append_c(g, '\n');
		out_gstring(g);
		if (!observe(t, st, why, sizeof(why)))
			answer_error(why);
		else
			out_chr('\n');
	} else {
		tr_result res;
		bool done = op_exec(t, st, &res, why, sizeof(why));
		observe_note_op(st, done ? &res : NULL);
		if (!done) {
			answer_error(why);
		} else {
			trace_print_stmt(g, t, st, false);
			g_string_append(g, " => ");
			trace_print_result(g, t, st->kind, &res);
			g_string_append(g, "\n\n");
			out_gstring(g);
		}
	}
	g_string_free(g, TRUE);
}

/* `state LO-HI ...`: the windowed state, a request of the exec protocol
 * (docs/exec-protocol.md), not a statement of the trace format. */
static void handle_state_window(const char *line, const char *args)
{
	const trace *t = trace_parser_trace(parser);
	char why[512];
	if (!broken[0] && !in_child && cur_proc != 1) {
		exec_handle_process(line, NULL, true);
		return;
	}
	if (!ready_to_run(t))
		return;
	if (!observe_window_parse(args, why, sizeof(why))) {
		answer_error(why);
		return;
	}
	out_str(line);
	out_chr('\n');
	if (!observe_state_window(t, why, sizeof(why)))
		answer_error(why);
	else
		out_chr('\n');
}

static void handle_line(char *line)
{
	size_t l = strlen(line);
	if (l && line[l - 1] == '\r')
		line[--l] = '\0';
	const char *sw = line + strspn(line, " \t");
	if (strncmp(sw, "state", 5) == 0 && (sw[5] == ' ' || sw[5] == '\t')) {
		const char *args = sw + 5 + strspn(sw + 5, " \t");
		if (g_ascii_isxdigit(*args)) {
			handle_state_window(line, args);
			return;
		}
	}
	tr_stmt st;
	memset(&st, 0, sizeof(st));
	const char *dir = NULL;
	GError *err = NULL;
	/* The parser keeps every declared file (its name) until the next
	 * 'mmtrace 1': once a file was refused, or at the limit, later 'file'
	 * lines are not parsed, so the executor's heap stays bounded. */
	const char *w = line + strspn(line, " \t");
	if (strncmp(w, "file", 4) == 0 && (w[4] == ' ' || w[4] == '\t') &&
	    (broken[0] || files_count() >= K_MAX_FILES)) {
		answer_error(broken[0] ? "not parsed: an earlier 'file' or 'arena' was refused (send 'mmtrace 1')"
		                       : "too many files (at most 1024 per trace)");
		return;
	}
	int rc = trace_parser_feed(parser, line, &st, &dir, &err);
	if (rc < 0) {
		answer_error(err ? err->message : "bad input");
		g_clear_error(&err);
		return;
	}
	if (rc == 0) {
		if (dir) {
			handle_directive(dir, line);
		} else {
			const char *p = line;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p) { /* a comment: echoed */
				out_str(line);
				out_chr('\n');
			}
			out_chr('\n');
		}
		return;
	}
	if (st.kind == TR_FORK || st.kind == TR_PROC || st.kind == TR_EXIT || (!in_child && cur_proc != 1)) {
		if (broken[0]) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "not run: %s (send 'mmtrace 1' to start afresh)", broken);
			answer_error(msg);
		} else if (in_child && st.kind == TR_FORK) {
			child_fork(&st);
		} else if (in_child) {
			answer_error("internal: proc and exit go to the executor");
		} else if (!exec_handle_process(line, &st, false)) {
			handle_stmt(&st);
		}
	} else {
		handle_stmt(&st);
	}
	if (st.expect_lines)
		g_ptr_array_unref(st.expect_lines);
}

/* A forked process of the trace: serves statements on its channel until
 * the executor closes it or kills it. */
static void child_main(int chan)
{
	in_child = true;
	if (dup2(chan, 0) < 0 || dup2(chan, 1) < 0)
		_exit(3);
	close(chan);
	char why[512];
	ops_after_fork();
	if (!observe_after_fork(why, sizeof(why)))
		snprintf(broken, sizeof(broken), "%s", why);
	lr_init(&in, inbuf, sizeof(inbuf), linebuf, LINE_MAX_LEN, read_fd, (void *)(intptr_t)0, out_flush);
	lr_status st;
	while ((st = lr_next(&in)) != LR_EOF) {
		if (st == LR_LINE)
			handle_line(linebuf);
		else
			answer_error("<stdin>:0: error: bad line");
		if (!arena_heap_intact(why, sizeof(why))) {
			answer_error(why);
			out_flush();
			_exit(3);
		}
	}
	out_flush();
	_exit(0);
}

/* --max-populate=BYTES, --max-file-bytes=BYTES, --max-arena=BYTES (K, M, G
 * allowed), and --own-vmas=N (internal: a re-executed process keeps its
 * predecessor's VMA budget). */
static bool limit_option(const char *arg)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;
	if (!eq || !tr_parse_number(eq + 1, &v) || v == 0) {
		fprintf(stderr, "mmref-kernel: %s: expected --OPTION=NUMBER (K, M, G allowed), not 0\n", arg);
		return false;
	}
	size_t n = (size_t)(eq - arg);
	if (n == 14 && strncmp(arg, "--max-populate", n) == 0)
		k_limit_populate = v;
	else if (n == 16 && strncmp(arg, "--max-file-bytes", n) == 0)
		k_limit_file_bytes = v;
	else if (n == 11 && strncmp(arg, "--max-arena", n) == 0)
		tr_limit.max_arena = v;
	else if (n == 10 && strncmp(arg, "--own-vmas", n) == 0 && v < 1000000)
		arena_set_vma_budget((unsigned)v);
	else {
		fprintf(stderr, "mmref-kernel: unknown argument '%s' (see --help)\n", arg);
		return false;
	}
	return true;
}

static const char usage[] =
	"usage: mmref-kernel [--memlock SIZE] [--profile-only] [--max-populate=BYTES]\n"
	"                    [--max-file-bytes=BYTES] [--max-arena=BYTES] [--no-pagemap]\n"
	"                    [--task-size=probe|ADDR] [--stack-window=BYTES] [--no-init]\n"
	"  --no-pagemap       do not read /proc/self/pagemap (gVisor has none): every page\n"
	"                     state is answered '?' (unobservable), never 'none'\n"
	"  --task-size=probe  find the top of the address space by probing (default\n"
	"                     0x7ffffffff000, Linux's TASK_SIZE); or give it\n"
	"  --stack-window=B   leave B bytes below [stack] free of placeholders (default 1M)\n"
	"  --no-init          do not act as a guest's /init when run as PID 1 (in a sandbox)\n"
	"  --profile-comments show the detected profile as '#' comments only: the program is\n"
	"                     compared under the profile of the Linux it imitates (gVisor)\n"
	"  --max-populate=B   refuse a statement that could make the kernel allocate more than\n"
	"                     B bytes in one trace (populate, mlock, touches; default 4G)\n"
	"  --max-file-bytes=B refuse 'file' declarations totalling more than B (default 64G)\n"
	"  --max-arena=B      refuse arenas larger than B bytes (default 64G)\n"
	"Reads an mmtrace on standard input and runs it on the live kernel, answering in\n"
	"the exec protocol (docs/exec-protocol.md, docs/kernel-target.md). Its answer to\n"
	"every 'mmtrace 1' announces the kernel's profile, detected at start-up.\n"
	"  --memlock SIZE   set RLIMIT_MEMLOCK to SIZE bytes (K, M, G; or unlimited) and drop\n"
	"                   CAP_IPC_LOCK (effective, permitted, bounding), so that the\n"
	"                   memlock limit applies; the announced profile follows\n"
	"  --profile-only   print the detected profile ('profile ...' and one\n"
	"                   '# profile KEY: HOW' line per key) and exit\n"
	"Environment: MMREF_KERNEL_PAGEMAP=read reads /proc/self/pagemap instead of the\n"
	"PAGEMAP_SCAN ioctl; MMREF_KERNEL_CROSSCHECK=1 compares both at every state;\n"
	"MMREF_KERNEL_PROC_COPY=1 parses maps and smaps from a copy that reads return\n"
	"whole (a test of the parser).\n";

int main(int argc, char **argv)
{
	int resume_fd = -1;
	uint64_t resume_line = 0;
	bool profile_only = false, no_init = false, probe_top = false;
	const char *memlock = NULL;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--resume-fd=", 12) == 0) {
			resume_fd = atoi(argv[i] + 12);
		} else if (strncmp(argv[i], "--resume-line=", 14) == 0) {
			resume_line = strtoull(argv[i] + 14, NULL, 10);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strncmp(argv[i], "--max-", 6) == 0 || strncmp(argv[i], "--own-vmas=", 11) == 0) {
			if (!limit_option(argv[i]))
				return 2;
		} else if (strcmp(argv[i], "--no-pagemap") == 0) {
			k_no_pagemap = true;
		} else if (strcmp(argv[i], "--profile-comments") == 0) {
			profile_comments = true;
		} else if (strcmp(argv[i], "--no-init") == 0) {
			no_init = true;
		} else if (strcmp(argv[i], "--task-size=probe") == 0) {
			probe_top = true;
		} else if (strncmp(argv[i], "--task-size=", 12) == 0 || strncmp(argv[i], "--stack-window=", 15) == 0) {
			uint64_t v;
			const char *val = strchr(argv[i], '=') + 1;
			if (!tr_parse_number(val, &v) || (v & (K_PAGE - 1)) || v > K_TASK_SIZE) {
				fprintf(stderr, "mmref-kernel: %s: expected a page-aligned number up to 0x%llx\n", argv[i],
				        (unsigned long long)K_TASK_SIZE);
				return 2;
			}
			if (argv[i][2] == 't')
				k_task_size = v;
			else
				k_stack_window = v;
		} else if (strcmp(argv[i], "--profile-only") == 0) {
			profile_only = true;
		} else if (strcmp(argv[i], "--memlock") == 0 && i + 1 < argc) {
			memlock = argv[++i];
		} else if (strncmp(argv[i], "--memlock=", 10) == 0) {
			memlock = argv[i] + 10;
		} else {
			fprintf(stderr, "mmref-kernel: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (!no_init)
		k_init_if_pid1(); /* the /init of a vm:VERSION guest (init.c) */
	/* The trace's processes whose parent exits are reparented here and reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	char why[512];
	if (memlock) {
		uint64_t bytes;
		if (strcmp(memlock, "unlimited") == 0)
			bytes = MM_MEMLOCK_UNLIMITED;
		else if (!tr_parse_number(memlock, &bytes) || bytes == MM_MEMLOCK_UNLIMITED) {
			fprintf(stderr, "mmref-kernel: --memlock: bad size '%s' (bytes, K, M, G or unlimited)\n", memlock);
			return 2;
		}
		if (!profile_set_memlock(bytes, why, sizeof(why))) {
			fprintf(stderr, "mmref-kernel: --memlock: %s\n", why);
			return 3;
		}
	}
	/* Order matters: the heap is pinned before anything allocates, the scratch
	 * mappings of observe_init are made before the placeholders exist. */
	arena_init_process();
	if (probe_top && !arena_probe_task_size(why, sizeof(why))) {
		fprintf(stderr, "mmref-kernel: --task-size=probe: %s\n", why);
		return 3;
	}
	profile_detect(); /* before observe_init, which takes the zero page's PFN from it */
	if (!observe_init(why, sizeof(why))) {
		fprintf(stderr, "mmref-kernel: %s\n", why);
		return 3;
	}
	touch_init();
	lr_init(&in, inbuf, sizeof(inbuf), linebuf, LINE_MAX_LEN, read_fd, (void *)(intptr_t)0, out_flush);
	in.lineno = resume_line;
	if (resume_fd >= 0)
		load_resume(resume_fd);
	parser = trace_parser_new("<stdin>");
	if (arena_setup(TR_DEFAULT_ARENA_BASE, TR_DEFAULT_ARENA_SIZE, why, sizeof(why)) != ARENA_OK) {
		fprintf(stderr, "mmref-kernel: cannot set up the default arena: %s\n", why);
		return 3;
	}
	profile_apply_own_vmas(); /* the announced max_map_count: what a trace can really have */
	if (profile_only) { /* the announcement as a trace would get it (after the arena) */
		fputs(profile_announcement(), stdout);
		return fflush(stdout) == 0 ? 0 : 3;
	}
	if (getenv("MMREF_KERNEL_VERBOSE"))
		fprintf(stderr, "mmref-kernel: %u VMAs of its own outside the arena; PFNs %s\n", arena_own_vma_count(),
		        observe_pfns_visible() ? "visible" : "hidden");
	/* Not harness/serve.c's loop: that one allocates, and nothing may map inside the arena. */
	lr_status st;
	while ((st = lr_next(&in)) != LR_EOF) {
		if (st == LR_TOOLONG)
			answer_error("<stdin>:0: error: the line is longer than 64 KiB");
		else if (st == LR_NUL)
			answer_error("<stdin>:0: error: NUL byte in the line");
		else
			handle_line(linebuf);
		if (!arena_heap_intact(why, sizeof(why))) {
			/* malloc outgrew the pinned heap: its next memory could come
			 * from the arena. Stop before the trace can touch it. */
			answer_error(why);
			out_flush();
			return 3;
		}
	}
	out_flush();
	trace_parser_free(parser);
	return 0;
}

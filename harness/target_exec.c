/* exec:COMMAND targets: a child process that speaks the exec protocol of
 * docs/trace-format.md on its standard input and output. A child that dies,
 * stalls or speaks nonsense is the target's failure (a GError), never a hang
 * of the harness; the next start() spawns a fresh child. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target.h"
#include "tr_limits.h"

#define EXEC_DEFAULT_TIMEOUT_MS 10000

typedef struct exec_priv {
	char *command;
	GPid pid;
	int to_child, from_child;
	gboolean alive;
	GString *rbuf; /* read but not yet consumed */
	int timeout_ms;
	char *banner; /* a line the child prints when it is ready to read (NULL: none) */
	gboolean window; /* it announced "# capability state-window" */
} exec_priv;

static const target_ops exec_ops;

static exec_priv *priv_of(target *tg) { return tg->priv; }

static void G_GNUC_PRINTF(3, 4) target_fail(target *tg, GError **error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "target %s: %s", tg->name, what);
	g_free(what);
}

/* ---- Every process a target started ------------------------------------------------
 * A target may start processes that leave its process group (setsid) and
 * outlive it. The harness is a child subreaper (PR_SET_CHILD_SUBREAPER): an
 * orphan of any target is re-parented to the harness rather than to init, so
 * that it stays findable. Ending a target kills its process group, every
 * process descended from it (found through /proc's parent links), and every
 * orphan the harness adopted that is not itself a live target. */

static GHashTable *live_children; /* pid -> pid: the exec targets' own processes */

/* The parent of /proc/PID (-1 if gone); *zombie if it has ended. */
static pid_t ppid_of(const char *pid_dir, gboolean *zombie)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%s/stat", pid_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')'); /* the command name may hold anything */
	int ppid;
	char state;
	if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	*zombie = state == 'Z' || state == 'X';
	return (pid_t)ppid;
}

/* Kills root's descendants and the orphans the harness adopted; reaps the
 * adopted ones. Returns how many processes it killed. */
static guint kill_leftovers(pid_t root)
{
	guint killed = 0;
	pid_t self = getpid();
	for (int round = 0; round < 4; round++) {
		GHashTable *parent = g_hash_table_new(g_direct_hash, g_direct_equal);
		GArray *adopted = g_array_new(FALSE, FALSE, sizeof(pid_t));
		GDir *d = g_dir_open("/proc", 0, NULL);
		const char *e;
		while (d && (e = g_dir_read_name(d))) {
			if (!g_ascii_isdigit(e[0]))
				continue;
			gboolean zombie = FALSE;
			pid_t pid = (pid_t)atoi(e), pp = ppid_of(e, &zombie);
			if (pid == root)
				continue;
			if (pp == self && !(live_children && g_hash_table_contains(live_children, GINT_TO_POINTER(pid)))) {
				g_array_append_val(adopted, pid);
				if (!zombie && kill(pid, SIGKILL) == 0)
					killed++;
			} else if (pp > 0 && !zombie)
				g_hash_table_insert(parent, GINT_TO_POINTER(pid), GINT_TO_POINTER(pp));
		}
		if (d)
			g_dir_close(d);
		/* root's descendants: every process whose chain of parents reaches root */
		GArray *victims = g_array_new(FALSE, FALSE, sizeof(pid_t));
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, parent);
		while (root > 0 && g_hash_table_iter_next(&it, &k, &v)) {
			pid_t q = GPOINTER_TO_INT(v);
			for (int depth = 0; q > 1 && q != self && depth < 4096; depth++) {
				if (q == root) {
					pid_t pid = GPOINTER_TO_INT(k);
					g_array_append_val(victims, pid);
					break;
				}
				q = GPOINTER_TO_INT(g_hash_table_lookup(parent, GINT_TO_POINTER(q)));
			}
		}
		for (guint i = 0; i < victims->len; i++)
			if (kill(g_array_index(victims, pid_t, i), SIGKILL) == 0)
				killed++;
		for (guint i = 0; i < adopted->len; i++) {
			int st;
			while (waitpid(g_array_index(adopted, pid_t, i), &st, 0) < 0 && errno == EINTR)
				;
		}
		gboolean none = victims->len == 0 && adopted->len == 0;
		g_array_unref(victims);
		g_array_unref(adopted);
		g_hash_table_unref(parent);
		if (none)
			break;
		g_usleep(1000); /* descendants re-parented to the harness are reaped next round */
	}
	return killed;
}

/* Ends the child (its whole process group) and forgets it. Returns a
 * description of how it ended. */
static char *reap(exec_priv *p, gboolean wait_a_little)
{
	if (!p->alive)
		return g_strdup("not running");
	if (p->to_child >= 0)
		close(p->to_child);
	if (p->from_child >= 0)
		close(p->from_child);
	p->to_child = p->from_child = -1;
	int status = 0;
	pid_t r = 0;
	/* A child that closed its output is usually exiting: let it, so that the
	 * report says how it ended rather than "killed by us". */
	for (int i = 0; wait_a_little && i < 50 && (r = waitpid(p->pid, &status, WNOHANG)) == 0; i++)
		g_usleep(2000);
	/* Its descendants, while their parent links still lead to it. */
	guint left = kill_leftovers(r == p->pid ? 0 : p->pid);
	char *how;
	if (r == p->pid) {
		kill(-p->pid, SIGKILL); /* anything it left behind */
		if (WIFEXITED(status))
			how = g_strdup_printf("exited with status %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			how = g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status), g_strsignal(WTERMSIG(status)));
		else
			how = g_strdup("ended");
	} else {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
		how = g_strdup("was killed");
	}
	if (live_children)
		g_hash_table_remove(live_children, GINT_TO_POINTER(p->pid));
	/* Those re-parented to the harness when it ended. */
	left += kill_leftovers(0);
	if (left) {
		char *more = g_strdup_printf("%s; %u process%s it left behind killed", how, left, left == 1 ? "" : "es");
		g_free(how);
		how = more;
	}
	g_spawn_close_pid(p->pid);
	p->alive = FALSE;
	g_string_truncate(p->rbuf, 0);
	return how;
}

static void child_setup(gpointer data)
{
	(void)data;
	setpgid(0, 0); /* its own group, so that a timeout kills everything it started */
}

static gboolean spawn(target *tg, GError **error)
{
	exec_priv *p = priv_of(tg);
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", p->command, NULL};
	GError *err = NULL;
	if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL, &p->pid,
	                              &p->to_child, &p->from_child, NULL, &err)) {
		target_fail(tg, error, "cannot start '%s': %s", p->command, err->message);
		g_error_free(err);
		return FALSE;
	}
	p->alive = TRUE;
	if (!live_children)
		live_children = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_hash_table_add(live_children, GINT_TO_POINTER(p->pid));
	g_string_truncate(p->rbuf, 0);
	return TRUE;
}

static gint64 deadline_of(exec_priv *p) { return g_get_monotonic_time() + (gint64)p->timeout_ms * 1000; }

static int remaining_ms(gint64 deadline)
{
	gint64 left = deadline - g_get_monotonic_time();
	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* A failure of the conversation: reports it, ends the child. */
static gboolean lost(target *tg, GError **error, const char *line, const char *what, gboolean wait_a_little)
{
	char *how = reap(priv_of(tg), wait_a_little);
	target_fail(tg, error, "%s at '%s' (the target %s)", what, line, how);
	g_free(how);
	return FALSE;
}

static gboolean send_line(target *tg, const char *line, gint64 deadline, GError **error)
{
	exec_priv *p = priv_of(tg);
	char *buf = g_strconcat(line, "\n", NULL);
	size_t len = strlen(buf), done = 0;
	gboolean ok = TRUE;
	while (done < len) {
		struct pollfd pfd = {.fd = p->to_child, .events = POLLOUT};
		int pr = poll(&pfd, 1, remaining_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			char *what = g_strdup_printf("no room to write within %d ms", p->timeout_ms);
			ok = lost(tg, error, line, what, FALSE);
			g_free(what);
			break;
		}
		ssize_t w = write(p->to_child, buf + done, len - done);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0) {
			ok = lost(tg, error, line, "cannot write (the target closed its input)", TRUE);
			break;
		}
		done += (size_t)w;
	}
	g_free(buf);
	return ok;
}

/* Reads one answer block: lines up to the empty line, which is consumed.
 * Bounded by the deadline (whether or not the target keeps writing) and by
 * tr_limit's bytes and lines per statement. */
static gboolean read_block(target *tg, const char *sent, gint64 deadline, GPtrArray *lines, GError **error)
{
	exec_priv *p = priv_of(tg);
	guint64 bytes = 0; /* of this block, consumed lines and the partial one */
	for (;;) {
		char *nl;
		while ((nl = memchr(p->rbuf->str, '\n', p->rbuf->len))) {
			size_t l = (size_t)(nl - p->rbuf->str);
			bytes += l + 1;
			if (lines->len >= tr_limit.max_answer_lines) {
				char *what = g_strdup_printf("answer longer than %" G_GUINT64_FORMAT " lines (--max-answer-lines)",
				                             (guint64)tr_limit.max_answer_lines);
				lost(tg, error, sent, what, FALSE);
				g_free(what);
				return FALSE;
			}
			char *line = g_strndup(p->rbuf->str, l);
			g_string_erase(p->rbuf, 0, (gssize)l + 1);
			if (l && line[l - 1] == '\r')
				line[l - 1] = '\0';
			if (!*line) {
				g_free(line);
				return TRUE;
			}
			g_ptr_array_add(lines, line);
		}
		if (bytes + p->rbuf->len > tr_limit.max_answer_bytes) {
			char *what = g_strdup_printf("answer larger than %" G_GUINT64_FORMAT " bytes (--max-answer-bytes)",
			                             (guint64)tr_limit.max_answer_bytes);
			lost(tg, error, sent, what, FALSE);
			g_free(what);
			return FALSE;
		}
		struct pollfd pfd = {.fd = p->from_child, .events = POLLIN};
		/* The deadline holds for the whole answer: a target that trickles
		 * output keeps the pipe busy but does not get more time. */
		int pr = g_get_monotonic_time() >= deadline ? 0 : poll(&pfd, 1, remaining_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			char *what = g_strdup_printf("no complete answer within %d ms", p->timeout_ms);
			lost(tg, error, sent, what, FALSE);
			g_free(what);
			return FALSE;
		}
		char buf[4096];
		ssize_t r = read(p->from_child, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return lost(tg, error, sent, "end of output", TRUE);
		g_string_append_len(p->rbuf, buf, r);
	}
}

/* One request, one answer block; "# error:" becomes the target's failure. */
static gboolean converse(target *tg, const char *line, GPtrArray *answer, GError **error)
{
	exec_priv *p = priv_of(tg);
	if (!p->alive) {
		target_fail(tg, error, "not running (at '%s')", line);
		return FALSE;
	}
	gint64 deadline = deadline_of(p);
	if (!send_line(tg, line, deadline, error) || !read_block(tg, line, deadline, answer, error))
		return FALSE;
	for (guint i = 0; i < answer->len; i++) {
		const char *l = g_ptr_array_index(answer, i);
		if (g_str_has_prefix(l, "# error:")) {
			const char *what = l + 8;
			while (*what == ' ')
				what++;
			target_fail(tg, error, "error at '%s': %s", line, what);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean exec_snapshot_window(target *tg, const trace *t, const snap_range *r, guint nr, snapshot *snap,
                                     GError **error);

/* A live target may announce its profile in its answer to "mmtrace 1"
 * (docs/exec-protocol.md): a "profile KEY=VALUE ..." line, and one
 * "# profile KEY: HOW" comment per key saying how it was detected. */
static gboolean read_announced_profile(target *tg, GPtrArray *answer, GError **error)
{
	/* "# capability state-window": it answers `state LO-HI ...` with the
	 * window of its state (docs/exec-protocol.md); the engine then asks for
	 * that instead of the whole state. */
	priv_of(tg)->window = FALSE;
	for (guint i = 0; i < answer->len; i++)
		if (strcmp(g_ptr_array_index(answer, i), "# capability state-window") == 0)
			priv_of(tg)->window = TRUE;
	tg->snapshot_window = priv_of(tg)->window ? exec_snapshot_window : NULL;
	for (guint i = 0; i < answer->len; i++) {
		const char *l = g_ptr_array_index(answer, i);
		if (g_str_has_prefix(l, "profile ")) {
			tr_profile p = {0};
			GError *err = NULL;
			if (!tr_profile_parse(&p, l + 8, &err)) {
				target_fail(tg, error, "bad profile announcement '%s': %s", l, err->message);
				g_error_free(err);
				return FALSE;
			}
			tg->announced = p;
			if (tg->profile_how) /* a fresh announcement: its how-lines follow */
				g_ptr_array_set_size(tg->profile_how, 0);
		} else if (g_str_has_prefix(l, "# profile ")) {
			if (!tg->profile_how)
				tg->profile_how = g_ptr_array_new_with_free_func(g_free);
			if (tg->profile_how->len < TR_PK_COUNT * 4)
				g_ptr_array_add(tg->profile_how, g_strdup(l + 10));
		}
	}
	return TRUE;
}

static gboolean exec_start(target *tg, const trace *t, GError **error)
{
	exec_priv *p = priv_of(tg);
	if (!p->alive) {
		if (!spawn(tg, error))
			return FALSE;
		/* A child that cannot take input yet (a guest booting, whose serial
		 * port drops what arrives before it is opened) says when it can. */
		if (p->banner) {
			gint64 deadline = deadline_of(p);
			gboolean ready = FALSE;
			while (!ready) {
				GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
				gboolean ok = read_block(tg, "(start)", deadline, lines, error);
				for (guint i = 0; ok && i < lines->len; i++)
					ready = ready || strcmp(g_ptr_array_index(lines, i), p->banner) == 0;
				g_ptr_array_unref(lines);
				if (!ok)
					return FALSE;
			}
		}
	}
	GString *g = g_string_new(NULL);
	GPtrArray *answer = g_ptr_array_new_with_free_func(g_free);
	gboolean ok = converse(tg, "mmtrace 1", answer, error) && read_announced_profile(tg, answer, error);
	if (ok) {
		g_string_printf(g, "arena 0x%" G_GINT64_MODIFIER "x 0x%" G_GINT64_MODIFIER "x", t->arena_base,
		                t->arena_size);
		g_ptr_array_set_size(answer, 0);
		ok = converse(tg, g->str, answer, error);
	}
	for (guint i = 0; ok && i < t->files->len; i++) {
		const tr_file *f = &g_array_index(t->files, tr_file, i);
		g_string_printf(g, "file %s 0x%" G_GINT64_MODIFIER "x", f->name, f->size);
		if (f->init == TR_FILE_FILL)
			g_string_append_printf(g, " fill=0x%02x", (unsigned)f->init_value);
		else if (f->init == TR_FILE_PATTERN)
			g_string_append_printf(g, " pattern=0x%" G_GINT64_MODIFIER "x", f->init_value);
		g_ptr_array_set_size(answer, 0);
		ok = converse(tg, g->str, answer, error);
	}
	g_ptr_array_unref(answer);
	g_string_free(g, TRUE);
	return ok;
}

static gboolean is_comment(const char *l)
{
	while (*l == ' ' || *l == '\t')
		l++;
	return *l == '#';
}

/* Whether echo (an answer line, up to "=>") is the statement sent, token
 * for token: an answer to another statement is the target's failure. */
static gboolean echo_matches(const char *echo, const char *sent)
{
	char **a = g_strsplit_set(echo, " \t", -1), **b = g_strsplit_set(sent, " \t", -1);
	char **p = a, **q = b;
	gboolean same = TRUE;
	for (;;) {
		while (*p && !**p)
			p++;
		while (*q && !**q)
			q++;
		gboolean pend = !*p || strcmp(*p, "=>") == 0 || **p == '#', qend = !*q;
		if (pend || qend) {
			same = pend && qend;
			break;
		}
		if (strcmp(*p, *q) != 0) {
			same = FALSE;
			break;
		}
		p++;
		q++;
	}
	g_strfreev(a);
	g_strfreev(b);
	return same;
}

static gboolean exec_exec(target *tg, const trace *t, const tr_stmt *s, tr_result *res, GError **error)
{
	GString *g = g_string_new(NULL);
	trace_print_stmt(g, t, s, false);
	GPtrArray *answer = g_ptr_array_new_with_free_func(g_free);
	gboolean ok = converse(tg, g->str, answer, error);
	const char *echo = NULL;
	for (guint i = 0; ok && i < answer->len && !echo; i++)
		if (!is_comment(g_ptr_array_index(answer, i)))
			echo = g_ptr_array_index(answer, i);
	if (ok && !echo) {
		target_fail(tg, error, "no answer line for '%s'", g->str);
		ok = FALSE;
	}
	if (ok) {
		const char *arrow = strstr(echo, "=>");
		GError *err = NULL;
		if (!arrow) {
			target_fail(tg, error, "answer '%s' to '%s' has no '=> RESULT'", echo, g->str);
			ok = FALSE;
		} else if (!echo_matches(echo, g->str)) {
			target_fail(tg, error, "answer '%s' is not for '%s' (it echoes another statement)", echo, g->str);
			ok = FALSE;
		} else {
			char *text = g_strdup(arrow + 2);
			char *hash = strchr(text, '#');
			if (hash)
				*hash = '\0';
			if (!tr_result_parse(t, s->kind, text, res, &err)) {
				target_fail(tg, error, "answer '%s' to '%s': %s", echo, g->str, err->message);
				g_error_free(err);
				ok = FALSE;
			}
			g_free(text);
		}
	}
	g_ptr_array_unref(answer);
	g_string_free(g, TRUE);
	return ok;
}

/* "| a  b" -> "a b", as the trace parser keeps expectation lines. */
static char *normalize_bar_line(const char *l)
{
	while (*l == ' ' || *l == '\t')
		l++;
	l++; /* the bar */
	char *buf = g_strdup(l);
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	char **parts = g_strsplit_set(buf, " \t", -1);
	GString *s = g_string_new(NULL);
	for (char **q = parts; *q; q++) {
		if (!**q)
			continue;
		if (s->len)
			g_string_append_c(s, ' ');
		g_string_append(s, *q);
	}
	g_strfreev(parts);
	g_free(buf);
	return g_string_free(s, FALSE);
}

static gboolean exec_observe(target *tg, const trace *t, const tr_stmt *s, GPtrArray *lines, GError **error)
{
	GString *g = g_string_new(NULL);
	trace_print_stmt(g, t, s, false);
	GPtrArray *answer = g_ptr_array_new_with_free_func(g_free);
	gboolean ok = converse(tg, g->str, answer, error);
	for (guint i = 0; ok && i < answer->len; i++) {
		const char *l = g_ptr_array_index(answer, i);
		const char *q = l;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '|')
			g_ptr_array_add(lines, normalize_bar_line(l));
	}
	g_ptr_array_unref(answer);
	g_string_free(g, TRUE);
	return ok;
}

static gboolean exec_snapshot(target *tg, const trace *t, snapshot *snap, GError **error)
{
	tr_stmt st = {.kind = TR_STATE};
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
	gboolean ok = exec_observe(tg, t, &st, lines, error);
	GError *err = NULL;
	if (ok && !snapshot_parse_state(snap, t, lines, &err)) {
		target_fail(tg, error, "bad answer to 'state': %s", err->message);
		g_error_free(err);
		ok = FALSE;
	}
	g_ptr_array_unref(lines);
	return ok;
}

/* The window of the state over sorted disjoint ranges: `state LO-HI ...`
 * to a target that announced it can (its answer: the VMAs near the ranges,
 * '?' for pages it did not read), else the whole state, cut. */
#define EXEC_WINDOW_MAX_RANGES 1024
static gboolean exec_snapshot_window(target *tg, const trace *t, const snap_range *r, guint nr, snapshot *snap,
                                     GError **error)
{
	snapshot whole;
	snapshot_init(&whole);
	gboolean ok;
	if (!priv_of(tg)->window || nr == 0 || nr > EXEC_WINDOW_MAX_RANGES) {
		ok = exec_snapshot(tg, t, &whole, error);
	} else {
		GString *g = g_string_new("state");
		for (guint i = 0; i < nr; i++)
			g_string_append_printf(g, " %" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x", r[i].lo, r[i].hi);
		GPtrArray *answer = g_ptr_array_new_with_free_func(g_free), *lines = g_ptr_array_new_with_free_func(g_free);
		ok = converse(tg, g->str, answer, error);
		for (guint i = 0; ok && i < answer->len; i++) {
			const char *l = g_ptr_array_index(answer, i);
			const char *q = l;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '|')
				g_ptr_array_add(lines, normalize_bar_line(l));
		}
		GError *err = NULL;
		if (ok && !snapshot_parse_state(&whole, t, lines, &err)) {
			target_fail(tg, error, "bad answer to '%s': %s", g->str, err->message);
			g_error_free(err);
			ok = FALSE;
		}
		g_ptr_array_unref(lines);
		g_ptr_array_unref(answer);
		g_string_free(g, TRUE);
	}
	if (ok)
		snapshot_window_extract(snap, &whole, r, nr);
	snapshot_free(&whole);
	return ok;
}

static void exec_destroy(target *tg)
{
	exec_priv *p = priv_of(tg);
	g_free(reap(p, FALSE));
	g_string_free(p->rbuf, TRUE);
	g_free(p->banner);
	g_free(p->command);
	g_free(p);
}

static const target_ops exec_ops = {
	.start = exec_start,
	.exec = exec_exec,
	.snapshot = exec_snapshot,
	.observe = exec_observe,
	.destroy = exec_destroy,
};

target *target_exec_new(const char *name, const char *command, GError **error)
{
	(void)error;
	/* A child that dies must be an error from write(), not SIGPIPE. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	exec_priv *p = g_new0(exec_priv, 1);
	p->command = g_strdup(command);
	p->to_child = p->from_child = -1;
	p->rbuf = g_string_new(NULL);
	p->timeout_ms = EXEC_DEFAULT_TIMEOUT_MS;
	const char *env = g_getenv("MMREF_EXEC_TIMEOUT");
	if (env && *env) {
		double sec = g_ascii_strtod(env, NULL);
		if (sec > 0) /* NaN fails this too */
			p->timeout_ms = (int)(MIN(sec, tr_limit.max_timeout) * 1000);
	}
	/* Orphans of a target come back to the harness, which kills them
	 * (kill_leftovers): a target cannot leave processes behind. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	target *tg = g_new0(target, 1);
	tg->ops = &exec_ops;
	tg->name = g_strdup(name);
	tg->priv = p;
	return tg;
}

gboolean target_is_exec(const target *tg) { return tg->ops == &exec_ops; }

void target_exec_set_banner(target *tg, const char *line)
{
	if (target_is_exec(tg)) {
		g_free(priv_of(tg)->banner);
		priv_of(tg)->banner = g_strdup(line);
	}
}

void target_exec_set_timeout(target *tg, int timeout_ms)
{
	if (target_is_exec(tg) && timeout_ms > 0)
		priv_of(tg)->timeout_ms = (int)MIN((double)timeout_ms, tr_limit.max_timeout * 1000);
}

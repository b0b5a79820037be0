/* A child mmref-kernel spoken to over its exec protocol, for the tests of
 * the live-kernel target (test_kernel_target.c, test_kernel_hostile.c):
 * start it (with an environment entry and arguments), send lines, read the
 * answers (the profile announced after "mmtrace 1" kept aside), expect
 * results or refusals, stop it; and whether the live kernel can be tested
 * here at all (check_live / live). Static functions in a header: each test
 * program is one translation unit and not every program uses every helper. */
#ifndef MMREF_TESTS_KERNEL_CHILD_H
#define MMREF_TESTS_KERNEL_CHILD_H

#pragma GCC diagnostic ignored "-Wunused-function"

#define KERNEL_BIN MMREF_BINARY_DIR "/mmref-kernel"

typedef struct kt {
	pid_t pid;
	int to, from;
	GString *pending; /* bytes read but not yet consumed */
	tr_profile profile; /* announced in the last answer to "mmtrace 1" */
	char *announcement; /* that answer's profile and "# profile" lines */
} kt;

/* env (may be NULL) is put into the child's environment; args (NULL-ended,
 * may be NULL) follow the program name. */
static kt *kt_start_full(const char *env, const char *const *args)
{
	int in[2], out[2];
	g_assert_cmpint(pipe(in), ==, 0);
	g_assert_cmpint(pipe(out), ==, 0);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		if (env)
			putenv((char *)env);
		const char *argv[16] = {"mmref-kernel"};
		for (int i = 0; args && args[i] && i < 14; i++)
			argv[i + 1] = args[i];
		execv(KERNEL_BIN, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	kt *k = g_new0(kt, 1);
	k->pid = pid;
	k->to = in[1];
	k->from = out[0];
	k->pending = g_string_new(NULL);
	return k;
}

static kt *kt_start_env(const char *env) { return kt_start_full(env, NULL); }
static kt *kt_start(void) { return kt_start_full(NULL, NULL); }

static void kt_send(kt *k, const char *data, size_t n)
{
	while (n) {
		ssize_t w = write(k->to, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(w, >, 0);
		data += w;
		n -= (size_t)w;
	}
}

/* The answer to "mmtrace 1" announces the profile (docs/exec-protocol.md):
 * "mmtrace 1", "profile KEY=VALUE ...", one "# profile KEY: HOW" per key.
 * Keeps the announcement in k and returns the answer without it. */
static char *take_announcement(kt *k, char *a)
{
	if (!g_str_has_prefix(a, "mmtrace 1\n"))
		return a;
	const char *rest = a + strlen("mmtrace 1\n");
	if (!g_str_has_prefix(rest, "profile "))
		g_error("the answer to 'mmtrace 1' announces no profile:\n%s", a);
	memset(&k->profile, 0, sizeof(k->profile));
	const char *eol = strchr(rest, '\n');
	char *line = g_strndup(rest + 8, eol ? (gsize)(eol - rest - 8) : strlen(rest + 8));
	GError *err = NULL;
	if (!tr_profile_parse(&k->profile, line, &err))
		g_error("the announced profile '%s' does not parse: %s", line, err->message);
	g_free(line);
	g_free(k->announcement);
	k->announcement = g_strdup(rest);
	a[strlen("mmtrace 1")] = '\0';
	return a;
}

static char *kt_answer_raw(kt *k);

/* One answer: everything up to the empty line that ends it (without it). */
static char *kt_answer(kt *k) { return take_announcement(k, kt_answer_raw(k)); }

static char *kt_answer_raw(kt *k)
{
	for (;;) {
		const char *s = k->pending->str;
		const char *end = NULL;
		if (k->pending->len >= 1 && s[0] == '\n')
			end = s; /* an empty answer */
		else
			end = strstr(s, "\n\n");
		if (end) {
			size_t alen = (size_t)(end - s) + (end == s ? 0 : 1);
			char *a = g_strndup(s, alen ? alen - (end == s ? 0 : 1) : 0);
			g_string_erase(k->pending, 0, (gssize)(end - s) + (end == s ? 1 : 2));
			return a;
		}
		struct pollfd p = {.fd = k->from, .events = POLLIN};
		int r = poll(&p, 1, 30000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			g_error("mmref-kernel did not answer within 30 s; so far: '%s'", k->pending->str);
		char buf[65536];
		ssize_t n = read(k->from, buf, sizeof(buf) - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			g_error("mmref-kernel closed its output; so far: '%s'", k->pending->str);
		g_string_append_len(k->pending, buf, n);
	}
}

/* Sends one line and returns the answer. */
static char *kt_ask(kt *k, const char *line)
{
	kt_send(k, line, strlen(line));
	kt_send(k, "\n", 1);
	return kt_answer(k);
}

/* Removes the VmFlags mnemonic tok (" tok" followed by a space or the end
 * of the line) from the lines of text that start with "| ". */
static void drop_vmflag(char *text, const char *tok)
{
	size_t n = strlen(tok);
	for (char *line = text; line && *line;) {
		char *eol = strchr(line, '\n');
		if (g_str_has_prefix(line, "| ")) {
			for (char *p = line; (p = strstr(p, " ")) && (!eol || p < eol);) {
				if (strncmp(p + 1, tok, n) == 0 && (p[1 + n] == ' ' || p[1 + n] == '\n' || p[1 + n] == '\0')) {
					memmove(p, p + 1 + n, strlen(p + 1 + n) + 1);
					if (eol)
						eol -= 1 + n;
				} else {
					p++;
				}
			}
		}
		line = eol ? eol + 1 : NULL;
	}
}

/* The expectations are written for this machine kind's profile, where
 * soft_dirty=off and guard_flag=on. Under another profile (the zero-page
 * kernel of docs/profiles.md, a user's machine), the VmFlags those keys
 * govern are left out of the comparison: `sd` (every VMA, with
 * CONFIG_MEM_SOFT_DIRTY) and `gu` (VM_MAYBE_GUARD, 6.18.44 on). The keys
 * themselves are checked against independent probes (test_profile_detection). */
static void kt_answer_to_reference(const kt *k, char *answer)
{
	if (tr_profile_has(&k->profile, TR_PK_SOFT_DIRTY) && k->profile.value[TR_PK_SOFT_DIRTY])
		drop_vmflag(answer, "sd");
}

static void kt_expectation_to_profile(const kt *k, char *expected)
{
	if (tr_profile_has(&k->profile, TR_PK_GUARD_FLAG) && !k->profile.value[TR_PK_GUARD_FLAG])
		drop_vmflag(expected, "gu");
}

static void kt_expect(kt *k, const char *line, const char *answer)
{
	char *a = kt_ask(k, line);
	char *want = answer ? g_strdup(answer) : NULL;
	kt_answer_to_reference(k, a);
	if (want)
		kt_expectation_to_profile(k, want);
	if (want ? strcmp(a, want) != 0 : g_str_has_prefix(a, "# error"))
		g_error("for '%s' expected:\n%s\ngot:\n%s", line, want ? want : "(a result)", a);
	g_free(want);
	g_free(a);
}

static void kt_expect_error(kt *k, const char *line)
{
	char *a = kt_ask(k, line);
	if (!g_str_has_prefix(a, "# error: ") || strchr(a, '\n'))
		g_error("for '%s' expected '# error: …', got:\n%s", line, a);
	g_free(a);
}

static bool kt_alive(kt *k) { return kill(k->pid, 0) == 0 && waitpid(k->pid, NULL, WNOHANG) == 0; }

static void kt_stop(kt *k)
{
	close(k->to);
	int status = 0;
	g_assert_cmpint(waitpid(k->pid, &status, 0), ==, k->pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	close(k->from);
	g_string_free(k->pending, TRUE);
	g_free(k->announcement);
	g_free(k);
}

/* ---- preconditions ------------------------------------------------------------------ */

static const char *skip_reason;

static void check_live(void)
{
	struct utsname u;
	if (uname(&u) != 0 || strncmp(u.release, "6.18", 4) != 0 || (u.release[4] != '.' && u.release[4] != '-' &&
	                                                               u.release[4] != '\0')) {
		skip_reason = "the live kernel is not Linux 6.18";
		return;
	}
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0) {
		skip_reason = "/proc/self/pagemap is not readable";
		return;
	}
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	uint64_t e = 0;
	if (pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8 || !(e >> 63) || (e & ((1ull << 55) - 1)) == 0)
		skip_reason = "/proc/self/pagemap hides PFNs (needs CAP_SYS_ADMIN)";
	munmap((void *)p, 4096);
	close(fd);
}

static bool live(void)
{
	if (skip_reason) {
		g_test_skip(skip_reason);
		return false;
	}
	return true;
}

#endif

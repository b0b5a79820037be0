/* Kernel profiles (docs/profiles.md): the KEY=VALUE sets, the `profile`
 * directive, the documented default, and how the harness uses them -- the
 * model and naive oracle follow a live target's announced profile, a trace's
 * own keys override it, and a trace whose keys differ from a live target's is
 * not applicable there (never run, never passed). */
#include <string.h>

#include "diff.h"
#include "target.h"
#include "trace.h"

static trace *parse(const char *text)
{
	GError *err = NULL;
	trace *t = trace_parse("t.trace", text, strlen(text), &err);
	g_assert_no_error(err);
	return t;
}

static char *parse_error(const char *text)
{
	GError *err = NULL;
	trace *t = trace_parse("t.trace", text, strlen(text), &err);
	g_assert_null(t);
	g_assert_nonnull(err);
	char *msg = g_strdup(err->message);
	g_error_free(err);
	return msg;
}

static char *format(const tr_profile *p)
{
	GString *g = g_string_new(NULL);
	tr_profile_format(g, p);
	return g_string_free(g, FALSE);
}

/* ---- the sets ------------------------------------------------------------------------- */

static void test_parse_and_print(void)
{
	tr_profile p = {0};
	GError *err = NULL;
	g_assert_true(tr_profile_parse(&p, "zero_page=off,thp=always memlock=64K kernel=6.18", &err));
	g_assert_no_error(err);
	g_assert_true(tr_profile_has(&p, TR_PK_ZERO_PAGE));
	g_assert_cmpuint(p.value[TR_PK_ZERO_PAGE], ==, 0);
	g_assert_cmpuint(p.value[TR_PK_THP], ==, MM_THP_ALWAYS);
	g_assert_cmpuint(p.value[TR_PK_MEMLOCK], ==, 64 << 10);
	g_assert_cmpuint(p.value[TR_PK_KERNEL], ==, 618);
	g_assert_false(tr_profile_has(&p, TR_PK_SOFT_DIRTY));
	/* printed in key order, whatever order they were given in */
	char *s = format(&p);
	g_assert_cmpstr(s, ==, "kernel=6.18 zero_page=off thp=always memlock=64K");
	tr_profile q = {0};
	g_assert_true(tr_profile_parse(&q, s, NULL));
	g_assert_cmpmem(&p, sizeof(p), &q, sizeof(q));
	g_free(s);

	tr_profile u = {0};
	g_assert_true(tr_profile_parse(&u, "memlock=unlimited max_map_count=300 overcommit=2", NULL));
	s = format(&u);
	g_assert_cmpstr(s, ==, "overcommit=2 max_map_count=300 memlock=unlimited");
	g_free(s);
}

static void test_bad_items(void)
{
	static const struct {
		const char *item, *says;
	} bad[] = {
		{"zero_page=maybe", "expected on or off"},
		{"thp=sometimes", "expected always, madvise or never"},
		{"kernel=6", "MAJOR.MINOR"},
		{"kernel=6.x", "MAJOR.MINOR"},
		{"overcommit=3", "0, 1 or 2"},
		{"max_map_count=0", "from 1"},
		{"memlock=lots", "unlimited"},
		{"colour=blue", "unknown profile key 'colour'"},
		{"zero_page", "expected KEY=VALUE"},
		{"=on", "expected KEY=VALUE"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		tr_profile p = {0};
		GError *err = NULL;
		g_assert_false(tr_profile_parse_item(&p, bad[i].item, &err));
		g_assert_nonnull(err);
		if (!strstr(err->message, bad[i].says))
			g_error("'%s': message '%s' does not say '%s'", bad[i].item, err->message, bad[i].says);
		g_error_free(err);
		g_assert_cmpuint(p.set, ==, 0);
	}
}

/* The trace library writes the default out (it does not link the model):
 * it must be the model's own mm_config_default(). */
static void test_default_is_the_models(void)
{
	mm_config cfg;
	mm_config_default(&cfg);
	tr_profile a, b;
	tr_profile_default(&a);
	tr_profile_from_config(&b, &cfg);
	g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
	char *s = format(&a);
	g_assert_cmpstr(s, ==,
	                "kernel=6.18 zero_page=on thp=madvise thp_zero_page=on overcommit=0 max_map_count=65530 "
	                "memlock=unlimited soft_dirty=off mmap_min_addr=0x10000 guard_flag=on shmem_thp=never memory_failure=off "
	                "userfaultfd=on pkeys=off");
	g_free(s);
	/* and back: every key lands in its field */
	mm_config c2;
	memset(&c2, 0xa5, sizeof(c2));
	tr_profile_to_config(&a, &c2);
	g_assert_cmpuint(c2.zero_page, ==, cfg.zero_page);
	g_assert_cmpuint(c2.thp_mode, ==, cfg.thp_mode);
	g_assert_cmpuint(c2.memlock, ==, cfg.memlock);
	g_assert_cmpuint(c2.max_map_count, ==, cfg.max_map_count);
	g_assert_cmpuint(c2.kernel_version, ==, cfg.kernel_version);
	g_assert_cmpuint(c2.memory_failure, ==, cfg.memory_failure);
	g_assert_cmpuint(c2.pkeys, ==, cfg.pkeys);
}

static void test_overlay_and_conflict(void)
{
	tr_profile base, over = {0};
	tr_profile_default(&base);
	g_assert_true(tr_profile_parse(&over, "zero_page=off thp=never", NULL));
	g_assert_cmpint(tr_profile_conflict(&over, &base), ==, TR_PK_ZERO_PAGE);
	tr_profile_overlay(&base, &over);
	g_assert_cmpint(tr_profile_conflict(&over, &base), ==, -1);
	g_assert_cmpuint(base.value[TR_PK_THP], ==, MM_THP_NEVER);
	/* a key only one side gives is no conflict */
	tr_profile only = {0};
	g_assert_true(tr_profile_parse(&only, "soft_dirty=on", NULL));
	g_assert_cmpint(tr_profile_conflict(&only, &over), ==, -1);
}

/* ---- the directive ---------------------------------------------------------------------- */

static void test_directive(void)
{
	trace *t = parse("mmtrace 1\n"
	                 "# recorded on a kernel without the zero page\n"
	                 "profile kernel=6.18 zero_page=off\n"
	                 "arena 0x200000000000 64M\n"
	                 "mmap +0 4K rw- private,anonymous,fixed => +0x0\n");
	g_assert_cmpint(t->profile_line, ==, 3);
	g_assert_cmpuint(t->profile.value[TR_PK_ZERO_PAGE], ==, 0);
	char *text = trace_to_string(t);
	g_assert_nonnull(strstr(text, "mmtrace 1\nprofile kernel=6.18 zero_page=off\n"));
	trace *again = parse(text);
	g_assert_cmpmem(&t->profile, sizeof(t->profile), &again->profile, sizeof(again->profile));
	trace_free(again);
	g_free(text);
	trace_free(t);

	t = parse("mmtrace 1\nmmap +0 4K rw- private,anonymous,fixed\n");
	g_assert_cmpint(t->profile_line, ==, 0);
	g_assert_true(tr_profile_empty(&t->profile));
	trace_free(t);

	static const struct {
		const char *text, *says;
	} bad[] = {
		{"mmtrace 1\nprofile zero_page=off\nprofile thp=never\n", "t.trace:3: error: 'profile' given twice (first on line 2)"},
		{"mmtrace 1\nmmap +0 4K rw- private,anonymous,fixed\nprofile thp=never\n",
		 "t.trace:3: error: directive 'profile' after the first operation"},
		{"mmtrace 1\nprofile\n", "t.trace:2: error: missing arguments"},
		{"mmtrace 1\nprofile zero_page=of\n", "t.trace:2: error: bad value 'of' for profile key zero_page"},
		{"profile zero_page=off\nmmtrace 1\n", "t.trace:1: error: the first statement must be 'mmtrace 1'"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *msg = parse_error(bad[i].text);
		if (!g_str_has_prefix(msg, bad[i].says))
			g_error("got '%s', expected '%s...'", msg, bad[i].says);
		g_free(msg);
	}
}

/* ---- the harness -------------------------------------------------------------------------- */

/* A live target that announced zero_page=off and thp=never (the announcement
 * is set by hand: the target is never started in these tests). */
static target *fake_live_target(void)
{
	target *tg = target_exec_new("live", "false", NULL);
	g_assert_true(tr_profile_parse(&tg->announced, "kernel=6.18 zero_page=off thp=never", NULL));
	return tg;
}

static void test_not_applicable(void)
{
	target *live = fake_live_target();
	trace *t = parse("mmtrace 1\nprofile zero_page=on\nmmap +0 4K rw- private,anonymous,fixed => +0x0\n");
	GString *failures = g_string_new(NULL);
	g_assert_cmpint(replay_run(t, live, NULL, failures, NULL, NULL), ==, DIFF_NOT_APPLICABLE);
	g_assert_cmpstr(failures->str, ==, "t.trace:2: not applicable on live: zero_page=on (live has zero_page=off)\n");
	/* so is the diff; the model alone runs it */
	target *model = target_model_new();
	target *both[2] = {model, live};
	char *report = NULL;
	g_assert_cmpint(diff_run(t, both, 2, NULL, &report, NULL), ==, DIFF_NOT_APPLICABLE);
	g_assert_nonnull(strstr(report, "zero_page=on (live has zero_page=off)"));
	g_free(report);
	g_string_truncate(failures, 0);
	g_assert_cmpint(replay_run(t, model, NULL, failures, NULL, NULL), ==, DIFF_SAME);
	trace_free(t);

	/* --profile asks for a key the trace leaves out */
	t = parse("mmtrace 1\nmmap +0 4K rw- private,anonymous,fixed => +0x0\n");
	tr_profile cli = {0};
	g_assert_true(tr_profile_parse(&cli, "thp=always", NULL));
	replay_options ro = {.profile = &cli};
	g_string_truncate(failures, 0);
	g_assert_cmpint(replay_run(t, live, &ro, failures, NULL, NULL), ==, DIFF_NOT_APPLICABLE);
	g_assert_nonnull(strstr(failures->str, "thp=always (live has thp=never)"));
	trace_free(t);

	/* the model implements three kernel versions (docs/versions.md) */
	t = parse("mmtrace 1\nprofile kernel=6.1\nmmap +0 4K rw- private,anonymous,fixed => +0x0\n");
	g_string_truncate(failures, 0);
	g_assert_cmpint(replay_run(t, model, NULL, failures, NULL, NULL), ==, DIFF_SAME);
	trace_free(t);
	t = parse("mmtrace 1\nprofile kernel=6.6\nmmap +0 4K rw- private,anonymous,fixed => +0x0\n");
	g_string_truncate(failures, 0);
	g_assert_cmpint(replay_run(t, model, NULL, failures, NULL, NULL), ==, DIFF_NOT_APPLICABLE);
	g_assert_cmpstr(failures->str, ==,
	                "t.trace:2: not applicable on model: kernel=6.6 (model implements kernel=6.1, 6.12 and 6.18 only)\n");
	trace_free(t);
	g_string_free(failures, TRUE);
	target_free(model);
	target_free(live);
}

/* The model and the naive oracle take the live target's profile; --profile
 * overrides it; the documented default applies without either. */
static void test_setup_follows_live_target(void)
{
	target *model = target_model_new(), *naive = target_naive_new(), *live = fake_live_target();
	tr_profile def;
	tr_profile_default(&def);
	g_assert_cmpmem(&model->base_profile, sizeof(def), &def, sizeof(def));
	target *tv[3] = {model, naive, live};
	g_assert_true(targets_setup_profiles(tv, 3, NULL, NULL));
	for (int i = 0; i < 2; i++) {
		g_assert_cmpuint(tv[i]->base_profile.value[TR_PK_ZERO_PAGE], ==, 0);
		g_assert_cmpuint(tv[i]->base_profile.value[TR_PK_THP], ==, MM_THP_NEVER);
		g_assert_cmpuint(tv[i]->base_profile.value[TR_PK_MAX_MAP_COUNT], ==, MM_DEFAULT_MAX_MAP_COUNT);
	}
	tr_profile cli = {0};
	g_assert_true(tr_profile_parse(&cli, "max_map_count=300", NULL));
	g_assert_true(targets_setup_profiles(tv, 3, &cli, NULL));
	g_assert_cmpuint(naive->base_profile.value[TR_PK_MAX_MAP_COUNT], ==, 300);
	g_assert_cmpuint(naive->base_profile.value[TR_PK_ZERO_PAGE], ==, 0);

	/* two live targets that disagree cannot both be followed */
	target *other = target_exec_new("other", "false", NULL);
	g_assert_true(tr_profile_parse(&other->announced, "zero_page=on", NULL));
	target *tv2[3] = {model, live, other};
	GError *err = NULL;
	g_assert_false(targets_setup_profiles(tv2, 3, NULL, &err));
	g_assert_nonnull(strstr(err->message, "live and other run under different profiles"));
	g_error_free(err);
	target_free(other);
	target_free(model);
	target_free(naive);
	target_free(live);
}

/* A trace's own profile reaches the model's fault path: with the zero page
 * forbidden, a read fault on private anonymous memory maps a fresh anonymous
 * page (mm/memory.c do_anonymous_page(): mm_forbids_zeropage() sends the read
 * down the allocating path); with it allowed, the zero page. Both observed
 * on live kernels (the zero-page-off corpus, and the spec's example). The
 * naive oracle must agree. */
static void test_trace_profile_reaches_fault_path(void)
{
	static const char *const texts[] = {
		"mmtrace 1\nprofile zero_page=off\nmmap +0 8K rw- private,anonymous,fixed => +0x0\n"
		"touch +0 r => ok\npages +0 8K\n| +0x0 anon\n| +0x1000 none\n",
		"mmtrace 1\nprofile zero_page=on\nmmap +0 8K rw- private,anonymous,fixed => +0x0\n"
		"touch +0 r => ok\npages +0 8K\n| +0x0 zero\n| +0x1000 none\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
		trace *t = parse(texts[i]);
		target *tgs[2] = {target_model_new(), target_naive_new()};
		for (int k = 0; k < 2; k++) {
			GString *failures = g_string_new(NULL);
			if (replay_run(t, tgs[k], NULL, failures, NULL, NULL) != DIFF_SAME)
				g_error("%s on trace %zu:\n%s", tgs[k]->name, i, failures->str);
			g_string_free(failures, TRUE);
			target_free(tgs[k]);
		}
		trace_free(t);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/profile/parse-and-print", test_parse_and_print);
	g_test_add_func("/profile/bad-items", test_bad_items);
	g_test_add_func("/profile/default-is-the-models", test_default_is_the_models);
	g_test_add_func("/profile/overlay-and-conflict", test_overlay_and_conflict);
	g_test_add_func("/profile/directive", test_directive);
	g_test_add_func("/profile/not-applicable", test_not_applicable);
	g_test_add_func("/profile/setup-follows-live-target", test_setup_follows_live_target);
	g_test_add_func("/profile/trace-profile-reaches-fault-path", test_trace_profile_reaches_fault_path);
	return g_test_run();
}

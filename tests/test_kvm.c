/* The hardware oracle (oracle/kvm): the page walker checked three ways,
 * model (pt_walk), naive (naive_walk) and the MMU of a KVM guest.
 *
 *   /kvm/sdm/NAME   hand-written cases with the SDM's answer (sdmcases.c):
 *                   a present user RW page read and written at CPL 3, a
 *                   supervisor page at CPL 3, SMEP, SMAP with AC=0 and 1, NX
 *                   with NXE, R/W and XD in upper levels, reserved bits,
 *                   a non-canonical address, 2 MiB and 1 GiB leaves.
 *   /kvm/seeds/cpl0, /kvm/seeds/cpl3
 *                   20,000 generated cases each (walkcheck.c), the same
 *                   tables and addresses run at CPL 0 and at CPL 3.
 *   /kvm/traces     corpus traces (pages-*, touch-*, guard-*) run on the
 *                   model, their page tables loaded into the guest after
 *                   every operation and walked there (tracecheck.c): each
 *                   touch's retried access and a load, store and fetch at
 *                   every VMA page, model's walker against the MMU.
 *
 * The walkers must give the SDM's answer and agree with each other: any
 * difference fails. The KVM guest is held to the same only where it proved
 * itself: a privilege level's seed set is strict when every hand-written
 * case at that level came out as the SDM says on this KVM; otherwise its
 * disagreements are printed and the test is skipped with the reason (a
 * hypervisor such as kvm_pvm walks guest user-mode accesses its own way:
 * docs/kvm-oracle.md). MMREF_KVM_STRICT=1 makes every KVM deviation fail.
 *
 * Without a usable /dev/kvm the whole program is skipped (exit 77).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kvm_oracle.h"
#include "sdmcases.h"
#include "tracecheck.h"
#include "walkcheck.h"

#define TRACES_DIR MMREF_SOURCE_DIR "/corpus/traces"

#define SEED 20251126
#define CASES 20000

static kvm_oracle *oracle;
static bool strict;
static bool trusted[2]; /* [0] CPL 0, [1] CPL 3: every hand case there as the SDM */

static void test_sdm(gconstpointer data)
{
	const sdm_case *c = data;
	sdm_result r;
	g_assert_cmpint(sdm_run(oracle, c, &r), ==, 0);
	if (r.skipped) {
		g_test_skip(r.detail);
		return;
	}
	g_test_message("%s", r.detail);
	if (!r.model_ok || !r.naive_ok)
		g_test_fail_printf("walker differs from the SDM: %s", r.detail);
	else if (!r.kvm_ok && strict)
		g_test_fail_printf("KVM differs from the SDM: %s", r.detail);
	else if (!r.kvm_ok)
		g_test_skip_printf("KVM differs from the SDM (the walkers agree with it): %s", r.detail);
}

static void note(void *ctx, uint64_t index, const char *signature, const char *text)
{
	GHashTable *sigs = ctx;
	(void)text;
	if (!g_hash_table_contains(sigs, signature))
		g_hash_table_insert(sigs, g_strdup(signature), GUINT_TO_POINTER((guint)index + 1));
}

static void print_sig(gpointer key, gpointer value, gpointer user)
{
	(void)user;
	g_test_message("  %s (first: case %u)", (const char *)key, GPOINTER_TO_UINT(value) - 1);
}

static void test_seeds(gconstpointer data)
{
	const unsigned user = GPOINTER_TO_UINT(data);
	wc_checker *w = wc_checker_new(oracle);
	g_assert_nonnull(w);
	wc_checker_set_cpl(w, user ? 2 : 1);
	GHashTable *sigs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	wc_stats st;
	memset(&st, 0, sizeof(st));
	int rc = wc_check(w, SEED, 0, CASES, &st, note, sigs);
	if (rc < 0)
		g_error("the KVM guest failed: %s", kvm_oracle_error(oracle));
	g_test_message("%" PRIu64 " cases, %" PRIu64 " walks: %" PRIu64 " ok (%" PRIu64 " large), %" PRIu64
		       " #PF (%" PRIu64 " RSVD), %" PRIu64 " #GP; %.0f walks/s in the guest",
		       st.cases, st.walks, st.ok, st.large, st.pf, st.rsvd, st.gp,
		       st.hw_seconds > 0 ? (double)st.walks / st.hw_seconds : 0.0);
	/* The mix must exercise every outcome and every mode. */
	g_assert_cmpuint(st.ok, >, st.walks / 50);
	g_assert_cmpuint(st.pf, >, st.walks / 10);
	g_assert_cmpuint(st.gp, >, st.walks / 100);
	g_assert_cmpuint(st.rsvd, >, st.walks / 100);
	g_assert_cmpuint(st.large, >, st.walks / 1000);
	for (unsigned m = 0; m < 32; m++)
		g_assert_cmpuint(st.per_mode[m], >, 0);
	if (st.disagree_cases) {
		g_test_message("%" PRIu64
			       " disagreeing cases (seed %d; mmref walkcheck --seed %d --case N --cpl %u):",
			       st.disagree_cases, SEED, SEED, user ? 3 : 0);
		g_hash_table_foreach(sigs, print_sig, NULL);
	}
	g_hash_table_destroy(sigs);
	wc_checker_free(w);
	g_assert_cmpuint(st.disagree_walker, ==, 0);
	if (st.disagree_hw && (strict || trusted[user]))
		g_test_fail_printf("%" PRIu64 " cases where KVM differs from the walkers", st.disagree_hw);
	else if (st.disagree_hw)
		g_test_skip_printf("KVM differs from the walkers in %" PRIu64
				   " cases at CPL %u, where it also differs "
				   "from the SDM's hand-written cases: not a trustworthy oracle there",
				   st.disagree_hw, user ? 3 : 0);
}

static void print_trace_disagreement(void *ctx, const char *text)
{
	(void)ctx;
	g_test_message("%s", text);
}

static void test_traces(void)
{
	GDir *dir = g_dir_open(TRACES_DIR, 0, NULL);
	g_assert_nonnull(dir);
	GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
	const char *name;
	while ((name = g_dir_read_name(dir)))
		if (g_str_has_suffix(name, ".trace") &&
		    (g_str_has_prefix(name, "pages-") || g_str_has_prefix(name, "touch-") ||
		     g_str_has_prefix(name, "guard-")))
			g_ptr_array_add(paths, g_build_filename(TRACES_DIR, name, NULL));
	g_dir_close(dir);
	g_assert_cmpuint(paths->len, >, 0);
	tc_checker *c = tc_checker_new(oracle);
	g_assert_nonnull(c);
	tc_stats st;
	memset(&st, 0, sizeof(st));
	for (guint i = 0; i < paths->len; i++) {
		GError *err = NULL;
		int rc = tc_check_trace(c, g_ptr_array_index(paths, i), &st, print_trace_disagreement, NULL, &err);
		if (rc > 0)
			g_error("%s", err->message);
		if (rc < 0)
			g_error("the KVM guest failed: %s", kvm_oracle_error(oracle));
	}
	g_test_message("%" PRIu64 " traces, %" PRIu64 " snapshots, %" PRIu64 " touch walks, %" PRIu64
		       " sweep walks (%" PRIu64 " ok, %" PRIu64 " #PF)",
		       st.traces, st.snapshots, st.touch_walks, st.sweep_walks, st.ok, st.pf);
	g_assert_cmpuint(st.traces, ==, paths->len);
	/* The traces must exercise both outcomes through touches and sweeps. */
	g_assert_cmpuint(st.touch_walks, >, 20);
	g_assert_cmpuint(st.sweep_walks, >, 1000);
	g_assert_cmpuint(st.ok, >, 100);
	g_assert_cmpuint(st.pf, >, 100);
	tc_checker_free(c);
	g_ptr_array_free(paths, TRUE);
	g_assert_cmpuint(st.disagree_touch, ==, 0);
	if ((st.disagree || st.disagree_words) && !trusted[1] && !strict)
		g_test_skip_printf("KVM differs from the model's walker in %" PRIu64 " walks and %" PRIu64
				   " table words, where it also differs from the SDM's hand-written "
				   "CPL 3 cases",
				   st.disagree, st.disagree_words);
	else {
		g_assert_cmpuint(st.disagree, ==, 0);
		g_assert_cmpuint(st.disagree_words, ==, 0);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	char err[256];
	if (kvm_oracle_open(&oracle, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_kvm: skipped: the KVM oracle is not usable: %s\n", err);
		return 77;
	}
	strict = g_strcmp0(g_getenv("MMREF_KVM_STRICT"), "1") == 0;
	trusted[0] = trusted[1] = true;
	for (unsigned i = 0; i < sdm_ncases; i++) {
		sdm_result r;
		if (sdm_run(oracle, &sdm_cases[i], &r) < 0) {
			fprintf(stderr, "test_kvm: the KVM guest failed: %s\n", kvm_oracle_error(oracle));
			return 1;
		}
		if (!r.skipped && !r.kvm_ok)
			trusted[sdm_cases[i].user] = false;
		char *path = g_strdup_printf("/kvm/sdm/%s", sdm_cases[i].name);
		g_test_add_data_func(path, &sdm_cases[i], test_sdm);
		g_free(path);
	}
	g_test_add_data_func("/kvm/seeds/cpl0", GUINT_TO_POINTER(0), test_seeds);
	g_test_add_data_func("/kvm/seeds/cpl3", GUINT_TO_POINTER(1), test_seeds);
	g_test_add_func("/kvm/traces", test_traces);
	int rc = g_test_run();
	kvm_oracle_close(oracle);
	return rc;
}

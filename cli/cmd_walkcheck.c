/* mmref walkcheck: the page walker checked three ways — the model's walker
 * (pt_walk), the naive walker (naive_walk) and the MMU through a KVM guest
 * (oracle/kvm) — on random page-table structures and accesses.
 *
 *   mmref walkcheck [--seed N] [--cases N] [--first N] [--case N] [--max-reports N]
 *                   [--cpl 0|3|both] [--strict-ad] [--sdm] [--quiet]
 *   mmref walkcheck --trace FILE.trace [--trace FILE ...] [--sweep every|touch|end]
 *                   [--max-reports N] [--quiet]
 *
 * --trace: the trace runs on the model and the page tables its Linux fault
 * path built are loaded into the guest and walked there after every
 * operation (harness/walkcheck/tracecheck.h): each touch's retried access and a
 * load, store and fetch at every page of every VMA in the arena, model's
 * walker against the MMU. Disagreements name the trace line and address.
 *
 * Exit status: 0 all agree, 1 a disagreement (each printed on stdout as a
 * reproducible case), 2 bad usage, 3 /dev/kvm unusable (said on stderr).
 * Progress goes to stderr. docs/kvm-oracle.md describes the guest.
 *
 * The drivers are harness/walkcheck/ (mmref_walkcheck, linked by
 * cli/CMakeLists.txt) on the KVM oracle (oracle/kvm).
 */
#define _POSIX_C_SOURCE 200809L
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kvm_oracle.h"
#include "sdmcases.h"
#include "tracecheck.h"
#include "walkcheck.h"



/* Disagreements grouped by signature: how many, and the first case. */
typedef struct sig_count {
	uint64_t count, first;
} sig_count;

typedef struct reporter {
	uint64_t printed, max;
	GHashTable *sigs; /* signature -> sig_count */
} reporter;

static void print_report(void *ctx, uint64_t index, const char *signature, const char *text)
{
	reporter *r = ctx;
	sig_count *c = g_hash_table_lookup(r->sigs, signature);
	if (!c) {
		c = g_new0(sig_count, 1);
		c->first = index;
		g_hash_table_insert(r->sigs, g_strdup(signature), c);
	}
	c->count++;
	if (r->printed++ < r->max) {
		fputs(text, stdout);
		fflush(stdout);
	}
}

static gint by_count(gconstpointer a, gconstpointer b, gpointer sigs)
{
	const sig_count *x = g_hash_table_lookup(sigs, *(char *const *)a);
	const sig_count *y = g_hash_table_lookup(sigs, *(char *const *)b);
	return x->count != y->count ? (x->count < y->count ? 1 : -1)
				    : strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_signatures(reporter *r, gint64 seed)
{
	guint n = 0;
	gpointer *keys = g_hash_table_get_keys_as_array(r->sigs, &n);
	g_qsort_with_data(keys, (gint)n, sizeof(gpointer), by_count, r->sigs);
	if (n)
		printf("disagreements by kind (count, kind, first case: mmref walkcheck --seed %" PRId64
		       " --case N):\n",
		       seed);
	for (guint i = 0; i < n; i++) {
		const sig_count *c = g_hash_table_lookup(r->sigs, keys[i]);
		printf("  %9" PRIu64 "  %s  [case %" PRIu64 "]\n", c->count, (const char *)keys[i], c->first);
	}
	g_free(keys);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct trace_reporter {
	uint64_t printed, max;
} trace_reporter;

static void print_trace_report(void *ctx, const char *text)
{
	trace_reporter *r = ctx;
	if (r->printed++ < r->max) {
		fputs(text, stdout);
		fflush(stdout);
	}
}

/* mmref walkcheck --trace: the model's tables for each trace walked by the MMU. */
static int walkcheck_traces(char **paths, const char *sweep, gint64 max_reports, gboolean quiet)
{
	tc_sweep when = TC_SWEEP_EVERY;
	if (sweep && strcmp(sweep, "touch") == 0)
		when = TC_SWEEP_TOUCH;
	else if (sweep && strcmp(sweep, "end") == 0)
		when = TC_SWEEP_END;
	else if (sweep && strcmp(sweep, "every") != 0) {
		fprintf(stderr, "mmref walkcheck: --sweep takes every, touch or end\n");
		return MMREF_EXIT_INVALID;
	}
	char msg[256];
	kvm_oracle *o = NULL;
	if (kvm_oracle_open(&o, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "mmref walkcheck: the KVM oracle is not usable: %s\n", msg);
		return MMREF_EXIT_NOT_APPLICABLE;
	}
	tc_checker *c = tc_checker_new(o);
	if (!c) {
		fprintf(stderr, "mmref walkcheck: out of memory\n");
		kvm_oracle_close(o);
		return MMREF_EXIT_NOT_APPLICABLE;
	}
	tc_checker_set_sweep(c, when);
	trace_reporter rep = {0, (uint64_t)max_reports};
	tc_stats st;
	memset(&st, 0, sizeof(st));
	int status = MMREF_EXIT_OK;
	double t0 = seconds();
	for (char **p = paths; *p && status != MMREF_EXIT_NOT_APPLICABLE; p++) {
		GError *err = NULL;
		int rc = tc_check_trace(c, *p, &st, print_trace_report, &rep, &err);
		if (rc > 0) {
			fprintf(stderr, "mmref walkcheck: %s\n", err ? err->message : *p);
			g_clear_error(&err);
			status = MMREF_EXIT_INVALID;
		} else if (rc < 0) {
			fprintf(stderr, "mmref walkcheck: the KVM guest failed in %s: %s\n", *p, kvm_oracle_error(o));
			status = MMREF_EXIT_NOT_APPLICABLE;
		}
	}
	double total = seconds() - t0;
	uint64_t bad = st.disagree + st.disagree_touch + st.disagree_words;
	if (status == MMREF_EXIT_OK && bad)
		status = MMREF_EXIT_DIFFERED;
	if (rep.printed > rep.max)
		printf("(%" PRIu64 " more disagreements not printed)\n", rep.printed - rep.max);
	if (!quiet || bad)
		printf("walkcheck traces %" PRIu64 ": %" PRIu64 " operations, %" PRIu64 " snapshots, %" PRIu64
		       " walks (%" PRIu64 " touches, %" PRIu64 " sweep walks covering %" PRIu64
		       " page accesses; %" PRIu64 " ok, %" PRIu64 " #PF, %" PRIu64 " #GP)\n"
		       "disagreements: %" PRIu64 " (kvm vs model walker: %" PRIu64 ", touch result vs walk: %" PRIu64
		       ", table words: %" PRIu64 ")\n",
		       st.traces, st.statements, st.snapshots, st.touch_walks + st.sweep_walks, st.touch_walks,
		       st.sweep_walks, st.sweep_pages, st.ok, st.pf, st.gp, bad, st.disagree, st.disagree_touch,
		       st.disagree_words);
	if (!quiet) {
		if (st.skipped_user_high)
			printf("touches in the upper half left out (this KVM cannot run them): %" PRIu64 "\n",
			       st.skipped_user_high);
		if (st.ad_fault_relaxed)
			printf("table words equal only because KVM left A clear after a faulting walk: %" PRIu64 "\n",
			       st.ad_fault_relaxed);
		kvm_oracle_stats ks = kvm_oracle_get_stats(o);
		printf("guest: %" PRIu64 " entries, %.2f s in kvm_oracle_run, %.2f s in all\n", ks.runs,
		       st.hw_seconds, total);
	}
	tc_checker_free(c);
	kvm_oracle_close(o);
	return status;
}

int cmd_walkcheck(int argc, char **argv)
{
	gint64 seed = 1, cases = 100000, first = 0, one = -1, max_reports = 20;
	gboolean quiet = FALSE, strict_ad = FALSE, sdm = FALSE;
	gchar *cpl = NULL, *sweep = NULL;
	gchar **traces = NULL;
	GOptionEntry entries[] = {
	    {"trace", 't', 0, G_OPTION_ARG_FILENAME_ARRAY, &traces,
	     "run FILE on the model and walk the tables it builds on the MMU (repeatable)", "FILE"},
	    {"sweep", 0, 0, G_OPTION_ARG_STRING, &sweep,
	     "with --trace: walk every VMA page after every operation (default), after touches, or at the "
	     "end",
	     "every|touch|end"},
	    {"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "random seed (default 1)", "N"},
	    {"cases", 'n', 0, G_OPTION_ARG_INT64, &cases, "number of cases (default 100000)", "N"},
	    {"first", 0, 0, G_OPTION_ARG_INT64, &first, "index of the first case (default 0)", "N"},
	    {"case", 'c', 0, G_OPTION_ARG_INT64, &one, "run only case N (as reported) and print it", "N"},
	    {"max-reports", 0, 0, G_OPTION_ARG_INT64, &max_reports,
	     "print at most N disagreeing cases (default 20)", "N"},
	    {"strict-ad", 0, 0, G_OPTION_ARG_NONE, &strict_ad,
	     "require the walkers' A/D rule on faulting walks too (the SDM leaves it open)", NULL},
	    {"cpl", 0, 0, G_OPTION_ARG_STRING, &cpl,
	     "run the accesses at CPL 0 only, 3 only, or both (default)", "0|3|both"},
	    {"sdm", 0, 0, G_OPTION_ARG_NONE, &sdm,
	     "print the hand-written SDM cases three ways (the oracle's calibration) first", NULL},
	    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress on stderr", NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *oc = g_option_context_new("- check the page walker three ways");
	g_option_context_set_summary(
	    oc,
	    "Generates random x86-64 4-level page-table structures (4 KiB, 2 MiB and 1 GiB leaves, mixed\n"
	    "permissions, reserved bits, non-present entries, non-canonical addresses) and loads, stores "
	    "and\n"
	    "instruction fetches at CPL 0 and 3 under every combination of CR0.WP, CR4.SMEP, CR4.SMAP,\n"
	    "EFLAGS.AC and EFER.NXE, and runs each on the model's walker, the naive walker and the MMU of a\n"
	    "KVM guest, comparing outcomes, #PF error codes, CR2 and the accessed/dirty bits.\n"
	    "A case is one table structure and 1-4 accesses; case N depends only on --seed and N (and on\n"
	    "whether the KVM has 1 GiB pages; user-mode accesses to the upper half are left out where it\n"
	    "cannot run them). docs/kvm-oracle.md describes the guest.");
	g_option_context_set_description(
	    oc, "Exit status: 0 all agree, 1 a disagreement (printed on stdout), 2 bad "
		"usage,\n3 /dev/kvm is not usable (said on stderr).\n");
	g_option_context_add_main_entries(oc, entries, NULL);
	GError *err = NULL;
	gboolean parsed = g_option_context_parse(oc, &argc, &argv, &err);
	g_option_context_free(oc);
	if (!parsed) {
		fprintf(stderr, "mmref walkcheck: %s\n", err->message);
		g_error_free(err);
		return MMREF_EXIT_INVALID;
	}
	if (argc > 1) {
		fprintf(stderr, "mmref walkcheck: unexpected argument '%s'\n", argv[1]);
		g_strfreev(traces);
		g_free(sweep);
		g_free(cpl);
		return MMREF_EXIT_INVALID;
	}
	if (traces) {
		int rc = max_reports < 0 ? MMREF_EXIT_INVALID : walkcheck_traces(traces, sweep, max_reports, quiet);
		if (max_reports < 0)
			fprintf(stderr, "mmref walkcheck: --max-reports takes a number >= 0\n");
		g_strfreev(traces);
		g_free(sweep);
		g_free(cpl);
		return rc;
	}
	if (sweep) {
		fprintf(stderr, "mmref walkcheck: --sweep goes with --trace\n");
		g_free(sweep);
		g_free(cpl);
		return MMREF_EXIT_INVALID;
	}
	if (seed < 0 || cases < 0 || first < 0 || max_reports < 0) {
		fprintf(stderr,
			"mmref walkcheck: --seed, --cases, --first and --max-reports take numbers >= 0\n");
		return MMREF_EXIT_INVALID;
	}
	unsigned cpl_mask = 3;
	if (cpl && strcmp(cpl, "0") == 0)
		cpl_mask = 1;
	else if (cpl && strcmp(cpl, "3") == 0)
		cpl_mask = 2;
	else if (cpl && strcmp(cpl, "both") != 0) {
		fprintf(stderr, "mmref walkcheck: --cpl takes 0, 3 or both\n");
		g_free(cpl);
		return MMREF_EXIT_INVALID;
	}
	g_free(cpl);
	if (one >= 0) {
		first = one;
		cases = 1;
		max_reports = 1;
	}

	char msg[256];
	kvm_oracle *o = NULL;
	if (kvm_oracle_open(&o, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "mmref walkcheck: the KVM oracle is not usable: %s\n", msg);
		return MMREF_EXIT_NOT_APPLICABLE;
	}
	/* Calibration: the hand-written SDM cases. */
	unsigned sdm_pass = 0, sdm_run_n = 0, walker_fail = 0;
	for (unsigned i = 0; i < sdm_ncases; i++) {
		sdm_result r;
		if (sdm_run(o, &sdm_cases[i], &r) < 0) {
			fprintf(stderr, "mmref walkcheck: the KVM guest failed: %s\n", kvm_oracle_error(o));
			kvm_oracle_close(o);
			return MMREF_EXIT_NOT_APPLICABLE;
		}
		if (r.skipped) {
			if (sdm)
				printf("sdm %-32s skipped: %s\n", sdm_cases[i].name, r.detail);
			continue;
		}
		sdm_run_n++;
		sdm_pass += r.kvm_ok;
		walker_fail += !r.model_ok || !r.naive_ok;
		if (sdm || !r.model_ok || !r.naive_ok)
			printf("sdm %-32s %s%s%s: %s\n", sdm_cases[i].name,
			       r.kvm_ok ? "kvm as the SDM" : "KVM DEVIATES",
			       r.model_ok ? "" : ", MODEL WRONG", r.naive_ok ? "" : ", NAIVE WRONG",
			       r.detail);
	}
	if (!quiet || sdm_pass != sdm_run_n)
		fprintf(stderr,
			"mmref walkcheck: SDM calibration: kvm as the SDM in %u of %u hand-written cases%s\n",
			sdm_pass, sdm_run_n,
			sdm_pass == sdm_run_n
			    ? ""
			    : " (--sdm lists them): its disagreements below may be its own");
	wc_checker *w = wc_checker_new(o);
	if (!w) {
		fprintf(stderr, "mmref walkcheck: out of memory\n");
		kvm_oracle_close(o);
		return MMREF_EXIT_NOT_APPLICABLE;
	}
	wc_checker_set_strict_ad(w, strict_ad);
	wc_checker_set_cpl(w, cpl_mask);
	if (!kvm_oracle_has_user_high(o))
		fprintf(stderr,
			"mmref walkcheck: this KVM cannot run user-mode accesses in the upper half: they are "
			"left out\n");
	if (!kvm_oracle_has_gbpages(o))
		fprintf(stderr, "mmref walkcheck: this KVM has no 1 GiB pages: the cases use 4 KiB and 2 MiB "
				"leaves only\n");
	reporter rep = {0, (uint64_t)max_reports,
			g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)};
	wc_stats st;
	memset(&st, 0, sizeof(st));
	int status = MMREF_EXIT_OK;
	double t0 = seconds(), last = t0;
	const uint64_t chunk = 16 * WC_BATCH;
	uint64_t done = 0;
	while (done < (uint64_t)cases) {
		uint64_t n = (uint64_t)cases - done < chunk ? (uint64_t)cases - done : chunk;
		int rc = wc_check(w, (uint64_t)seed, (uint64_t)first + done, n, &st, print_report, &rep);
		if (rc < 0) {
			fprintf(stderr, "mmref walkcheck: the KVM guest failed near case %" PRIu64 ": %s\n",
				(uint64_t)first + done, kvm_oracle_error(o));
			status = MMREF_EXIT_NOT_APPLICABLE;
			break;
		}
		done += n;
		double t = seconds();
		if (!quiet && (t - last >= 2.0 || done == (uint64_t)cases)) {
			fprintf(stderr,
				"walkcheck: %" PRIu64 "/%" PRId64 " cases, %" PRIu64 " walks, %" PRIu64
				" disagreeing cases, %.0f walks/s\n",
				done, cases, st.walks, st.disagree_cases, (double)st.walks / (t - t0));
			last = t;
		}
	}
	double total = seconds() - t0;
	if (status == MMREF_EXIT_OK && (st.disagree_cases || walker_fail))
		status = MMREF_EXIT_DIFFERED;
	if (st.disagree_cases > rep.max)
		printf("(%" PRIu64 " more disagreeing cases not printed)\n", st.disagree_cases - rep.max);
	printf("walkcheck seed %" PRId64 " cases %" PRId64 "..%" PRId64 ": %" PRIu64 " walks (%" PRIu64
	       " ok, %" PRIu64 " via large pages; %" PRIu64 " #PF, %" PRIu64 " of them RSVD; %" PRIu64
	       " #GP), M=%u\n",
	       seed, first, first + (gint64)st.cases - 1, st.walks, st.ok, st.large, st.pf, st.rsvd, st.gp,
	       kvm_oracle_maxphyaddr(o));
	printf("disagreeing cases: %" PRIu64 " (model vs naive: %" PRIu64 ", kvm vs model: %" PRIu64 ")\n",
	       st.disagree_cases, st.disagree_walker, st.disagree_hw);
	if (st.skipped_user_high)
		printf("user-mode accesses to the upper half left out (this KVM cannot run them): %" PRIu64
		       "\n",
		       st.skipped_user_high);
	if (st.ad_fault_relaxed)
		printf("cases that agree only because a faulting walk left A clear where the walkers set it: "
		       "%" PRIu64 " (--strict-ad counts them)\n",
		       st.ad_fault_relaxed);
	print_signatures(&rep, seed);
	g_hash_table_destroy(rep.sigs);
	if (total > 0)
		printf("throughput: %.0f walks/s three ways, %.0f walks/s inside the guest runs\n",
		       (double)st.walks / total, st.hw_seconds > 0 ? (double)st.walks / st.hw_seconds : 0.0);
	kvm_oracle_stats ks = kvm_oracle_get_stats(o);
	printf("guest: %" PRIu64
	       " entries, %.1f s dropping shadow state and setting registers, %.1f s in KVM_RUN, "
	       "%.1f s in all\n",
	       ks.runs, ks.setup_seconds, ks.guest_seconds, total);
	wc_checker_free(w);
	kvm_oracle_close(o);
	return status;
}

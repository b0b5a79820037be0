/* mmref walkcheck: the page walker checked three ways — the model's walker
 * (pt_walk), the naive walker (naive_walk) and the MMU through a KVM guest
 * (oracle/kvm) — on random page-table structures and accesses.
 *
 *   mmref walkcheck [--seed N] [--cases N] [--first N] [--case N] [--max-reports N]
 *
 * Exit status: 0 all agree, 1 a disagreement (each printed on stdout as a
 * reproducible case), 2 bad usage, 3 /dev/kvm unusable (said on stderr).
 * Progress goes to stderr. docs/kvm-oracle.md describes the guest.
 *
 * Wiring (for cli/mmref.c, not done here): declare
 *     int cmd_walkcheck(int argc, char **argv);
 * and in the dispatcher, where argv[1] names the command,
 *     if (strcmp(argv[1], "walkcheck") == 0)
 *             return cmd_walkcheck(argc - 1, argv + 1);
 * (argv[0] is then "walkcheck"), plus a usage line:
 *     walkcheck [--seed N] [--cases N] [--case N]
 *           check the page walker against the naive walker and the MMU (KVM)
 * The mmref_kvm library is linked into mmref-cli by oracle/kvm/CMakeLists.txt.
 */
#define _POSIX_C_SOURCE 200809L
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kvm_oracle.h"
#include "walkcheck.h"

int cmd_walkcheck(int argc, char **argv);

enum { WC_EXIT_AGREE = 0, WC_EXIT_DISAGREE = 1, WC_EXIT_USAGE = 2, WC_EXIT_NO_KVM = 3 };

typedef struct reporter {
	uint64_t printed, max;
} reporter;

static void print_report(void *ctx, uint64_t index, const char *text)
{
	reporter *r = ctx;
	(void)index;
	if (r->printed++ < r->max) {
		fputs(text, stdout);
		fflush(stdout);
	}
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cmd_walkcheck(int argc, char **argv)
{
	gint64 seed = 1, cases = 100000, first = 0, one = -1, max_reports = 20;
	gboolean quiet = FALSE;
	GOptionEntry entries[] = {
	        {"seed", 's', 0, G_OPTION_ARG_INT64, &seed, "random seed (default 1)", "N"},
	        {"cases", 'n', 0, G_OPTION_ARG_INT64, &cases, "number of cases (default 100000)", "N"},
	        {"first", 0, 0, G_OPTION_ARG_INT64, &first, "index of the first case (default 0)", "N"},
	        {"case", 'c', 0, G_OPTION_ARG_INT64, &one, "run only case N (as reported) and print it", "N"},
	        {"max-reports", 0, 0, G_OPTION_ARG_INT64, &max_reports, "print at most N disagreeing cases (default 20)",
	         "N"},
	        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress on stderr", NULL},
	        {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	GOptionContext *oc = g_option_context_new("- check the page walker three ways");
	g_option_context_set_summary(
	        oc, "Generates random x86-64 4-level page-table structures (4 KiB, 2 MiB and 1 GiB leaves, mixed\n"
	            "permissions, reserved bits, non-present entries, non-canonical addresses) and loads, stores and\n"
	            "instruction fetches at CPL 0 and 3 under every combination of CR0.WP, CR4.SMEP, CR4.SMAP,\n"
	            "EFLAGS.AC and EFER.NXE, and runs each on the model's walker, the naive walker and the MMU of a\n"
	            "KVM guest, comparing outcomes, #PF error codes, CR2 and the accessed/dirty bits.\n"
	            "A case is one table structure and 1-4 accesses; case N depends only on --seed and N.");
	g_option_context_set_description(oc, "Exit status: 0 all agree, 1 a disagreement (printed on stdout), 2 bad "
	                                     "usage,\n3 /dev/kvm is not usable (said on stderr).\n");
	g_option_context_add_main_entries(oc, entries, NULL);
	GError *err = NULL;
	gboolean parsed = g_option_context_parse(oc, &argc, &argv, &err);
	g_option_context_free(oc);
	if (!parsed) {
		fprintf(stderr, "mmref walkcheck: %s\n", err->message);
		g_error_free(err);
		return WC_EXIT_USAGE;
	}
	if (argc > 1) {
		fprintf(stderr, "mmref walkcheck: unexpected argument '%s'\n", argv[1]);
		return WC_EXIT_USAGE;
	}
	if (seed < 0 || cases < 0 || first < 0 || max_reports < 0) {
		fprintf(stderr, "mmref walkcheck: --seed, --cases, --first and --max-reports take numbers >= 0\n");
		return WC_EXIT_USAGE;
	}
	if (one >= 0) {
		first = one;
		cases = 1;
		max_reports = 1;
	}

	char msg[256];
	kvm_oracle *o = NULL;
	if (kvm_oracle_open(&o, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "mmref walkcheck: the KVM oracle is not usable: %s\n", msg);
		return WC_EXIT_NO_KVM;
	}
	wc_checker *w = wc_checker_new(o);
	if (!w) {
		fprintf(stderr, "mmref walkcheck: out of memory\n");
		kvm_oracle_close(o);
		return WC_EXIT_NO_KVM;
	}
	reporter rep = {0, (uint64_t)max_reports};
	wc_stats st;
	memset(&st, 0, sizeof(st));
	int status = WC_EXIT_AGREE;
	double t0 = seconds(), last = t0;
	const uint64_t chunk = 16 * WC_BATCH;
	uint64_t done = 0;
	while (done < (uint64_t)cases) {
		uint64_t n = (uint64_t)cases - done < chunk ? (uint64_t)cases - done : chunk;
		int rc = wc_check(w, (uint64_t)seed, (uint64_t)first + done, n, &st, print_report, &rep);
		if (rc < 0) {
			fprintf(stderr, "mmref walkcheck: the KVM guest failed near case %" PRIu64 ": %s\n",
			        (uint64_t)first + done, kvm_oracle_error(o));
			status = WC_EXIT_NO_KVM;
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
	if (status == WC_EXIT_AGREE && st.disagree_cases)
		status = WC_EXIT_DISAGREE;
	if (st.disagree_cases > rep.max)
		printf("(%" PRIu64 " more disagreeing cases not printed)\n", st.disagree_cases - rep.max);
	printf("walkcheck seed %" PRId64 " cases %" PRId64 "..%" PRId64 ": %" PRIu64 " walks (%" PRIu64 " ok, %" PRIu64
	       " via large pages; %" PRIu64 " #PF, %" PRIu64 " of them RSVD; %" PRIu64 " #GP), M=%u\n",
	       seed, first, first + (gint64)st.cases - 1, st.walks, st.ok, st.large, st.pf, st.rsvd, st.gp,
	       kvm_oracle_maxphyaddr(o));
	printf("disagreeing cases: %" PRIu64 " (model vs naive: %" PRIu64 ", kvm vs model: %" PRIu64 ")\n",
	       st.disagree_cases, st.disagree_walker, st.disagree_hw);
	if (total > 0)
		printf("throughput: %.0f walks/s three ways, %.0f walks/s inside the guest runs\n",
		       (double)st.walks / total, st.hw_seconds > 0 ? (double)st.walks / st.hw_seconds : 0.0);
	wc_checker_free(w);
	kvm_oracle_close(o);
	return status;
}

/* fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>

void fuzz_report_divergence(const trace *t, const divergence *d)
{
	static int keep_going = -1;
	static GHashTable *seen;
	if (keep_going < 0) {
		const char *env = getenv("MMREF_FUZZ_CONTINUE");
		keep_going = env && *env && *env != '0';
	}
	char *sig = divergence_signature(d);
	if (keep_going) {
		if (!seen)
			seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		if (g_hash_table_contains(seen, sig)) {
			g_free(sig);
			return;
		}
		g_hash_table_add(seen, g_strdup(sig));
	}
	char *text = trace_to_string(t);
	fprintf(stderr, "mmref: %s\n%s--- trace (decoded input) ---\n%s--- end ---\n", sig,
	        d->report ? d->report : "", text);
	fflush(stderr);
	g_free(sig);
	g_free(text);
	if (!keep_going)
		abort();
}

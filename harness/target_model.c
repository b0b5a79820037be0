/* The model target: libmmref, the reference model (mm_*). */
#include "target_internal.h"

MM_API_TABLE_WITH_RESET(mm_api_table, mm);

target *target_model_new(void) { return target_api_new(&mm_api_table, "model"); }

const mm_api *mm_api_model(void) { return &mm_api_table; }

gboolean target_is_model(const target *tg) { return target_api_of(tg) == &mm_api_table; }

mm_state *target_model_mm(target *tg) { return target_is_model(tg) ? target_api_handle(tg) : NULL; }

static size_t render_violations(const mm_violation *v, size_t cap, size_t n, GString *report);

size_t target_model_check(target *tg, GString *report)
{
	mm_state *mm = target_model_mm(tg);
	if (!mm)
		return 0;
	mm_violation v[64];
	return render_violations(v, G_N_ELEMENTS(v), mm_check(mm, v, G_N_ELEMENTS(v)), report);
}

size_t target_model_check_ranges(target *tg, const snap_range *r, guint nr, GString *report)
{
	mm_state *mm = target_model_mm(tg);
	if (!mm)
		return 0;
	typedef uint64_t pair[2];
	pair *ranges = g_new(pair, nr ? nr : 1);
	for (guint i = 0; i < nr; i++) {
		ranges[i][0] = r[i].lo;
		ranges[i][1] = r[i].hi;
	}
	mm_violation v[64];
	size_t n = mm_check_ranges(mm, (const uint64_t(*)[2])ranges, nr, v, G_N_ELEMENTS(v));
	g_free(ranges);
	return render_violations(v, G_N_ELEMENTS(v), n, report);
}

static size_t render_violations(const mm_violation *v, size_t cap, size_t n, GString *report)
{
	for (size_t i = 0; report && i < n && i < cap; i++)
		g_string_append_printf(report, "I%d [%08" G_GINT64_MODIFIER "x-%08" G_GINT64_MODIFIER "x]: %.*s\n",
		                       v[i].invariant, v[i].vma_start, v[i].vma_end, (int)sizeof(v[i].what), v[i].what);
	if (report && n > cap)
		g_string_append_printf(report, "... and %zu more\n", n - cap);
	return n;
}

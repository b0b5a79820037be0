/* Finding the profile keys a trace depends on, mechanically (profile_deps.h). */
#include <string.h>

#include "diff.h"
#include "profile_deps.h"
#include "target.h"

/* Values tried for each key besides the recorded one. A limit is tried at a
 * value small enough for a trace of a few hundred statements to reach it. */
static const uint64_t other_values[TR_PK_COUNT][4] = {
	[TR_PK_ZERO_PAGE] = {0, 1},
	[TR_PK_THP] = {MM_THP_NEVER, MM_THP_MADVISE, MM_THP_ALWAYS},
	[TR_PK_THP_ZERO_PAGE] = {0, 1},
	[TR_PK_OVERCOMMIT] = {0, 1, 2},
	[TR_PK_MAX_MAP_COUNT] = {64, MM_DEFAULT_MAX_MAP_COUNT},
	[TR_PK_MEMLOCK] = {0, 64 << 10, MM_MEMLOCK_UNLIMITED},
	[TR_PK_SOFT_DIRTY] = {0, 1},
	[TR_PK_MMAP_MIN_ADDR] = {0x1000, MM_DEFAULT_MMAP_MIN_ADDR},
	[TR_PK_GUARD_FLAG] = {0, 1},
	[TR_PK_SHMEM_THP] = {MM_SHMEM_THP_NEVER, MM_SHMEM_THP_DENY}, /* the values the model implements */
	[TR_PK_MEMORY_FAILURE] = {0, 1},
	[TR_PK_USERFAULTFD] = {0, 1},
	[TR_PK_PKEYS] = {0, 1},
};
static const guint n_other_values[TR_PK_COUNT] = {
	[TR_PK_ZERO_PAGE] = 2, [TR_PK_THP] = 3,     [TR_PK_THP_ZERO_PAGE] = 2, [TR_PK_OVERCOMMIT] = 3,
	[TR_PK_MAX_MAP_COUNT] = 2, [TR_PK_MEMLOCK] = 3, [TR_PK_SOFT_DIRTY] = 2,    [TR_PK_MMAP_MIN_ADDR] = 2,
	[TR_PK_GUARD_FLAG] = 2,
	[TR_PK_SHMEM_THP] = 2,
	[TR_PK_MEMORY_FAILURE] = 2,
	[TR_PK_USERFAULTFD] = 2,
	[TR_PK_PKEYS] = 2,
};

/* Does t hold on the model under p (t's own profile line ignored)? */
static gboolean holds_under(const trace *t, target *model, const tr_profile *p)
{
	trace copy = *t;
	memset(&copy.profile, 0, sizeof(copy.profile));
	copy.profile_line = 0;
	model->base_profile = *p;
	GString *failures = g_string_new(NULL);
	diff_status st = replay_run(&copy, model, NULL, failures, NULL, NULL);
	g_string_free(failures, TRUE);
	return st == DIFF_SAME;
}

gboolean profile_dependencies(const trace *t, const tr_profile *recorded, tr_profile *deps, GError **error)
{
	tr_profile base;
	tr_profile_default(&base);
	tr_profile_overlay(&base, recorded);
	memset(deps, 0, sizeof(*deps));
	target *model = target_model_new();
	gboolean ok = holds_under(t, model, &base);
	if (!ok) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
		            "%s does not hold on the model under its recorded profile: fix that first", t->filename);
	} else {
		deps->set = 1u << TR_PK_KERNEL;
		deps->value[TR_PK_KERNEL] = base.value[TR_PK_KERNEL];
		for (int k = 0; k < TR_PK_COUNT; k++) {
			for (guint i = 0; i < n_other_values[k]; i++) {
				if (other_values[k][i] == base.value[k])
					continue;
				tr_profile p = base;
				p.value[k] = other_values[k][i];
				if (!holds_under(t, model, &p)) {
					deps->set |= 1u << k;
					deps->value[k] = base.value[k];
					break;
				}
			}
		}
	}
	target_free(model);
	return ok;
}

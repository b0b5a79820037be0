/* Kernel profiles: parsing, printing and applying KEY=VALUE sets
 * (profile.h; docs/profiles.md says what each key changes and how it is
 * detected). */
#include <string.h>

#include "profile.h"
#include "trace.h"

static const char *const key_names[TR_PK_COUNT] = {
	[TR_PK_KERNEL] = "kernel",
	[TR_PK_ZERO_PAGE] = "zero_page",
	[TR_PK_THP] = "thp",
	[TR_PK_THP_ZERO_PAGE] = "thp_zero_page",
	[TR_PK_OVERCOMMIT] = "overcommit",
	[TR_PK_MAX_MAP_COUNT] = "max_map_count",
	[TR_PK_MEMLOCK] = "memlock",
	[TR_PK_SOFT_DIRTY] = "soft_dirty",
	[TR_PK_MMAP_MIN_ADDR] = "mmap_min_addr",
	[TR_PK_GUARD_FLAG] = "guard_flag",
	[TR_PK_SHMEM_THP] = "shmem_thp",
	[TR_PK_MEMORY_FAILURE] = "memory_failure",
	[TR_PK_USERFAULTFD] = "userfaultfd",
	[TR_PK_PKEYS] = "pkeys",
};

static const char *const thp_names[] = {[MM_THP_NEVER] = "never", [MM_THP_MADVISE] = "madvise", [MM_THP_ALWAYS] = "always"};
static const char *const shmem_thp_names[] = {
	[MM_SHMEM_THP_NEVER] = "never", [MM_SHMEM_THP_ALWAYS] = "always", [MM_SHMEM_THP_WITHIN_SIZE] = "within_size",
	[MM_SHMEM_THP_ADVISE] = "advise", [MM_SHMEM_THP_DENY] = "deny",   [MM_SHMEM_THP_FORCE] = "force"};

const char *tr_profile_key_name(tr_profile_key k) { return k < TR_PK_COUNT ? key_names[k] : "?"; }

int tr_profile_key_from_name(const char *name)
{
	for (int k = 0; k < TR_PK_COUNT; k++)
		if (strcmp(key_names[k], name) == 0)
			return k;
	return -1;
}

static bool is_switch(tr_profile_key k)
{
	return k == TR_PK_ZERO_PAGE || k == TR_PK_THP_ZERO_PAGE || k == TR_PK_SOFT_DIRTY ||
	       k == TR_PK_GUARD_FLAG || k == TR_PK_MEMORY_FAILURE || k == TR_PK_USERFAULTFD ||
	       k == TR_PK_PKEYS;
}

static gboolean bad_value(GError **error, const char *key, const char *value, const char *expected)
{
	g_set_error(error, TRACE_ERROR, TRACE_ERROR_PARSE, "bad value '%s' for profile key %s (expected %s)", value,
	            key, expected);
	return FALSE;
}

static gboolean parse_value(tr_profile_key k, const char *key, const char *v, uint64_t *out, GError **error)
{
	if (is_switch(k)) {
		if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
			*out = strcmp(v, "on") == 0;
			return TRUE;
		}
		return bad_value(error, key, v, "on or off");
	}
	switch (k) {
	case TR_PK_KERNEL: {
		/* MAJOR.MINOR, both small decimal numbers. */
		char *dot = strchr(v, '.');
		uint64_t major, minor;
		if (!dot || dot == v || !dot[1])
			return bad_value(error, key, v, "MAJOR.MINOR, e.g. 6.18");
		char *maj = g_strndup(v, (gsize)(dot - v));
		bool ok = !strchr(maj, 'x') && !strchr(dot + 1, 'x') && tr_parse_number(maj, &major) &&
		          tr_parse_number(dot + 1, &minor) && major >= 2 && major < 100 && minor < 100;
		g_free(maj);
		if (!ok)
			return bad_value(error, key, v, "MAJOR.MINOR, e.g. 6.18");
		*out = major * 100 + minor;
		return TRUE;
	}
	case TR_PK_THP:
		for (size_t i = 0; i < G_N_ELEMENTS(thp_names); i++)
			if (strcmp(v, thp_names[i]) == 0) {
				*out = i;
				return TRUE;
			}
		return bad_value(error, key, v, "always, madvise or never");
	case TR_PK_SHMEM_THP:
		for (size_t i = 0; i < G_N_ELEMENTS(shmem_thp_names); i++)
			if (strcmp(v, shmem_thp_names[i]) == 0) {
				*out = i;
				return TRUE;
			}
		return bad_value(error, key, v, "never, always, within_size, advise, deny or force");
	case TR_PK_OVERCOMMIT:
		if (tr_parse_number(v, out) && *out <= 2)
			return TRUE;
		return bad_value(error, key, v, "0, 1 or 2");
	case TR_PK_MEMLOCK:
		if (strcmp(v, "unlimited") == 0) {
			*out = MM_MEMLOCK_UNLIMITED;
			return TRUE;
		}
		if (tr_parse_number(v, out) && *out != MM_MEMLOCK_UNLIMITED)
			return TRUE;
		return bad_value(error, key, v, "a size in bytes (K, M, G allowed) or unlimited");
	case TR_PK_MAX_MAP_COUNT:
		if (tr_parse_number(v, out) && *out >= 1 && *out <= INT32_MAX)
			return TRUE;
		return bad_value(error, key, v, "a number from 1 to 2147483647");
	case TR_PK_MMAP_MIN_ADDR:
		if (tr_parse_number(v, out) && *out < MM_TASK_SIZE)
			return TRUE;
		return bad_value(error, key, v, "an address below TASK_SIZE");
	default:
		return bad_value(error, key, v, "a known value");
	}
}

gboolean tr_profile_parse_item(tr_profile *p, const char *item, GError **error)
{
	const char *eq = strchr(item, '=');
	if (!eq || eq == item) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_PARSE, "bad profile item '%s' (expected KEY=VALUE)", item);
		return FALSE;
	}
	char *key = g_strndup(item, (gsize)(eq - item));
	int k = tr_profile_key_from_name(key);
	gboolean ok = FALSE;
	uint64_t v = 0;
	if (k < 0)
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_PARSE,
		            "unknown profile key '%s' (known: kernel, zero_page, thp, thp_zero_page, overcommit, "
		            "max_map_count, memlock, soft_dirty, mmap_min_addr, guard_flag, shmem_thp, memory_failure, userfaultfd, pkeys)",
		            key);
	else if ((ok = parse_value((tr_profile_key)k, key, eq + 1, &v, error))) {
		p->set |= 1u << k;
		p->value[k] = v;
	}
	g_free(key);
	return ok;
}

gboolean tr_profile_parse(tr_profile *p, const char *text, GError **error)
{
	char **items = g_strsplit_set(text, " \t,", -1);
	gboolean ok = TRUE;
	for (char **it = items; ok && *it; it++)
		if (**it)
			ok = tr_profile_parse_item(p, *it, error);
	g_strfreev(items);
	return ok;
}

void tr_profile_format_value(GString *out, tr_profile_key k, uint64_t v)
{
	if (is_switch(k)) {
		g_string_append(out, v ? "on" : "off");
		return;
	}
	switch (k) {
	case TR_PK_KERNEL:
		g_string_append_printf(out, "%u.%u", (unsigned)(v / 100), (unsigned)(v % 100));
		break;
	case TR_PK_THP:
		g_string_append(out, v < G_N_ELEMENTS(thp_names) ? thp_names[v] : "?");
		break;
	case TR_PK_SHMEM_THP:
		g_string_append(out, v < G_N_ELEMENTS(shmem_thp_names) ? shmem_thp_names[v] : "?");
		break;
	case TR_PK_MEMLOCK:
		if (v == MM_MEMLOCK_UNLIMITED)
			g_string_append(out, "unlimited");
		else if (v && v % (1u << 10) == 0)
			g_string_append_printf(out, "%" G_GUINT64_FORMAT "K", v >> 10);
		else
			g_string_append_printf(out, "%" G_GUINT64_FORMAT, v);
		break;
	case TR_PK_MMAP_MIN_ADDR:
		g_string_append_printf(out, "0x%" G_GINT64_MODIFIER "x", v);
		break;
	default:
		g_string_append_printf(out, "%" G_GUINT64_FORMAT, v);
		break;
	}
}

void tr_profile_format(GString *out, const tr_profile *p)
{
	bool first = true;
	for (int k = 0; k < TR_PK_COUNT; k++) {
		if (!tr_profile_has(p, (tr_profile_key)k))
			continue;
		g_string_append_printf(out, "%s%s=", first ? "" : " ", key_names[k]);
		tr_profile_format_value(out, (tr_profile_key)k, p->value[k]);
		first = false;
	}
}

char *tr_profile_item(const tr_profile *p, tr_profile_key k)
{
	GString *s = g_string_new(key_names[k]);
	g_string_append_c(s, '=');
	if (tr_profile_has(p, k))
		tr_profile_format_value(s, k, p->value[k]);
	else
		g_string_append(s, "(any)");
	return g_string_free(s, FALSE);
}

void tr_profile_from_config(tr_profile *p, const mm_config *cfg)
{
	memset(p, 0, sizeof(*p)); /* padding too: profiles are compared with memcmp in tests */
	p->set = (1u << TR_PK_COUNT) - 1;
	p->value[TR_PK_KERNEL] = cfg->kernel_version;
	p->value[TR_PK_ZERO_PAGE] = cfg->zero_page;
	p->value[TR_PK_THP] = (uint64_t)cfg->thp_mode;
	p->value[TR_PK_THP_ZERO_PAGE] = cfg->thp_zero_page;
	p->value[TR_PK_OVERCOMMIT] = cfg->overcommit;
	p->value[TR_PK_MAX_MAP_COUNT] = cfg->max_map_count;
	p->value[TR_PK_MEMLOCK] = cfg->memlock;
	p->value[TR_PK_SOFT_DIRTY] = cfg->soft_dirty;
	p->value[TR_PK_MMAP_MIN_ADDR] = cfg->mmap_min_addr;
	p->value[TR_PK_GUARD_FLAG] = cfg->guard_flag;
	p->value[TR_PK_SHMEM_THP] = (uint64_t)cfg->shmem_thp;
	p->value[TR_PK_MEMORY_FAILURE] = cfg->memory_failure;
	p->value[TR_PK_USERFAULTFD] = cfg->userfaultfd;
	p->value[TR_PK_PKEYS] = cfg->pkeys;
}

/* The same values as the model's mm_config_default() (test_trace checks that
 * they agree); written out here because this library does not link the model. */
void tr_profile_default(tr_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->set = (1u << TR_PK_COUNT) - 1;
	p->value[TR_PK_KERNEL] = MM_DEFAULT_KERNEL_VERSION;
	p->value[TR_PK_ZERO_PAGE] = 1;
	p->value[TR_PK_THP] = MM_THP_MADVISE;
	p->value[TR_PK_THP_ZERO_PAGE] = 1;
	p->value[TR_PK_OVERCOMMIT] = 0;
	p->value[TR_PK_MAX_MAP_COUNT] = MM_DEFAULT_MAX_MAP_COUNT;
	p->value[TR_PK_MEMLOCK] = MM_MEMLOCK_UNLIMITED;
	p->value[TR_PK_SOFT_DIRTY] = 0;
	p->value[TR_PK_MMAP_MIN_ADDR] = MM_DEFAULT_MMAP_MIN_ADDR;
	p->value[TR_PK_GUARD_FLAG] = 1;
	p->value[TR_PK_SHMEM_THP] = MM_SHMEM_THP_NEVER;
	p->value[TR_PK_MEMORY_FAILURE] = 0;
	p->value[TR_PK_USERFAULTFD] = 1;
	p->value[TR_PK_PKEYS] = 0;
}

void tr_profile_to_config(const tr_profile *p, mm_config *cfg)
{
	const uint64_t *v = p->value;
	if (tr_profile_has(p, TR_PK_KERNEL))
		cfg->kernel_version = (unsigned)v[TR_PK_KERNEL];
	if (tr_profile_has(p, TR_PK_ZERO_PAGE))
		cfg->zero_page = v[TR_PK_ZERO_PAGE] != 0;
	if (tr_profile_has(p, TR_PK_THP))
		cfg->thp_mode = (mm_thp_mode)v[TR_PK_THP];
	if (tr_profile_has(p, TR_PK_THP_ZERO_PAGE))
		cfg->thp_zero_page = v[TR_PK_THP_ZERO_PAGE] != 0;
	if (tr_profile_has(p, TR_PK_OVERCOMMIT))
		cfg->overcommit = (unsigned)v[TR_PK_OVERCOMMIT];
	if (tr_profile_has(p, TR_PK_MAX_MAP_COUNT))
		cfg->max_map_count = v[TR_PK_MAX_MAP_COUNT];
	if (tr_profile_has(p, TR_PK_MEMLOCK))
		cfg->memlock = v[TR_PK_MEMLOCK];
	if (tr_profile_has(p, TR_PK_SOFT_DIRTY))
		cfg->soft_dirty = v[TR_PK_SOFT_DIRTY] != 0;
	if (tr_profile_has(p, TR_PK_MMAP_MIN_ADDR))
		cfg->mmap_min_addr = v[TR_PK_MMAP_MIN_ADDR];
	if (tr_profile_has(p, TR_PK_GUARD_FLAG))
		cfg->guard_flag = v[TR_PK_GUARD_FLAG] != 0;
	if (tr_profile_has(p, TR_PK_SHMEM_THP))
		cfg->shmem_thp = (mm_shmem_thp)v[TR_PK_SHMEM_THP];
	if (tr_profile_has(p, TR_PK_MEMORY_FAILURE))
		cfg->memory_failure = v[TR_PK_MEMORY_FAILURE] != 0;
	if (tr_profile_has(p, TR_PK_USERFAULTFD))
		cfg->userfaultfd = v[TR_PK_USERFAULTFD] != 0;
	if (tr_profile_has(p, TR_PK_PKEYS))
		cfg->pkeys = v[TR_PK_PKEYS] != 0;
}

void tr_profile_overlay(tr_profile *dst, const tr_profile *src)
{
	for (int k = 0; k < TR_PK_COUNT; k++)
		if (tr_profile_has(src, (tr_profile_key)k)) {
			dst->set |= 1u << k;
			dst->value[k] = src->value[k];
		}
}

int tr_profile_conflict(const tr_profile *want, const tr_profile *have)
{
	for (int k = 0; k < TR_PK_COUNT; k++)
		if (tr_profile_has(want, (tr_profile_key)k) && tr_profile_has(have, (tr_profile_key)k) &&
		    want->value[k] != have->value[k])
			return k;
	return -1;
}

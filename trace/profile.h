/* Kernel profiles (shared/spec/trace-format.md, Profiles; docs/profiles.md):
 * the configuration of a kernel that its answers depend on, as a set of
 * KEY=VALUE pairs. A trace carries the keys its expectations depend on; a
 * live target announces all of its own; the model runs under the documented
 * default, overlaid with the live target's profile, overlaid with the
 * trace's. Uses glib. */
#ifndef MMREF_PROFILE_H
#define MMREF_PROFILE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmref/mmref.h"

typedef enum tr_profile_key {
	TR_PK_KERNEL = 0,    /* MAJOR * 100 + MINOR, written MAJOR.MINOR */
	TR_PK_ZERO_PAGE,     /* 0/1, written off/on */
	TR_PK_THP,           /* mm_thp_mode, written never/madvise/always */
	TR_PK_THP_ZERO_PAGE, /* 0/1 */
	TR_PK_OVERCOMMIT,    /* 0, 1, 2 */
	TR_PK_MAX_MAP_COUNT, /* a number */
	TR_PK_MEMLOCK,       /* bytes, UINT64_MAX written unlimited */
	TR_PK_SOFT_DIRTY,    /* 0/1 */
	TR_PK_MMAP_MIN_ADDR, /* a number (this project's addition) */
	TR_PK_GUARD_FLAG,    /* 0/1: VM_MAYBE_GUARD (`gu`) on guard install */
	TR_PK_SHMEM_THP,     /* mm_shmem_thp, written never/always/within_size/advise/deny/force */
	TR_PK_MEMORY_FAILURE, /* 0/1: CONFIG_MEMORY_FAILURE (this project's addition) */
	TR_PK_USERFAULTFD,    /* 0/1: the userfaultfd system call exists (this project's addition) */
	TR_PK_PKEYS,          /* 0/1: OSPKE, x86 memory protection keys (this project's addition) */
	TR_PK_COUNT
} tr_profile_key;

typedef struct tr_profile {
	uint32_t set;               /* bit k: key k is given */
	uint64_t value[TR_PK_COUNT];
} tr_profile;

static inline bool tr_profile_has(const tr_profile *p, tr_profile_key k) { return p->set & (1u << k); }
static inline bool tr_profile_empty(const tr_profile *p) { return p->set == 0; }

const char *tr_profile_key_name(tr_profile_key k);
/* The key named `name`, or -1. */
int tr_profile_key_from_name(const char *name);

/* Sets one key from "KEY=VALUE". FALSE and *error ("WHAT", no location) for
 * an unknown key or a bad value. A key given again replaces the old value. */
gboolean tr_profile_parse_item(tr_profile *p, const char *item, GError **error);
/* Items separated by spaces, tabs or commas ("zero_page=off,thp=always"). */
gboolean tr_profile_parse(tr_profile *p, const char *text, GError **error);

/* "KEY=VALUE KEY=VALUE", the given keys in key order (no "profile" word). */
void tr_profile_format(GString *out, const tr_profile *p);
void tr_profile_format_value(GString *out, tr_profile_key k, uint64_t value);
/* A newly allocated "KEY=VALUE" for one key. */
char *tr_profile_item(const tr_profile *p, tr_profile_key k);

/* Every key set to the documented default (mm_config_default's profile). */
void tr_profile_default(tr_profile *p);
/* Every key of cfg's profile. */
void tr_profile_from_config(tr_profile *p, const mm_config *cfg);
/* Writes the keys p gives into cfg; the others keep their values. */
void tr_profile_to_config(const tr_profile *p, mm_config *cfg);
/* dst takes every key src gives (src wins). */
void tr_profile_overlay(tr_profile *dst, const tr_profile *src);
/* The first key that both give with different values, or -1. */
int tr_profile_conflict(const tr_profile *want, const tr_profile *have);

#endif

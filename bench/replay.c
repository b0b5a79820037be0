/* The model and the naive oracle replay a stream through the harness's
 * table of in-process implementations (harness/mm_api.h): one loop for
 * both, one call through the table per op. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

/* callgrind --instr-atstart=no counts the timed replay alone and skips the
 * (long) build of the layout: bench/callgrind.sh --sim.  The requests are a
 * few no-op instructions when not under valgrind. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

mm_config bench_config(void)
{
	mm_config cfg;
	mm_config_default(&cfg);
	cfg.mmap_base = ARENA_END;
	cfg.mmap_low = ARENA_BASE;
	cfg.max_map_count = 1ull << 32; /* the 1,000,000 layout; the kernel-sized ones stay below 65,530 */
	return cfg;
}

void *replay_create(const mm_api *api, const stream *s, int *files)
{
	mm_config cfg = bench_config();
	void *mm = api->create(&cfg);
	if (!mm) {
		fprintf(stderr, "bench_streams: cannot create an address space\n");
		exit(1);
	}
	for (guint f = 0; f < s->t->files->len; f++)
		files[f] = api->file_create(mm, g_array_index(s->t->files, tr_file, f).size);
	return mm;
}

int64_t replay_stmt(const mm_api *api, void *mm, const int *files, const tr_stmt *st)
{
	switch (st->kind) {
	case TR_MMAP:
		return api->mmap(mm, st->addr, st->len, st->prot, st->flags, st->file ? files[st->file - 1] : 0, st->off);
	case TR_MUNMAP:
		return api->munmap(mm, st->addr, st->len);
	case TR_MPROTECT:
		return api->mprotect(mm, st->addr, st->len, st->prot);
	case TR_MREMAP:
		return api->mremap(mm, st->addr, st->len, st->new_len, st->flags, st->has_new_addr ? st->new_addr : 0);
	case TR_MADVISE:
		return api->madvise(mm, st->addr, st->len, st->advice);
	case TR_MLOCK:
		return api->mlock2(mm, st->addr, st->len, st->flags);
	case TR_MUNLOCK:
		return api->munlock(mm, st->addr, st->len);
	case TR_MSEAL:
		return api->mseal(mm, st->addr, st->len, st->flags);
	case TR_TOUCH:
		return -(int64_t)api->touch(mm, st->addr, st->access).outcome;
	default:
		return -EINVAL; /* not in a stream (streams_load_mixed refuses them) */
	}
}

static inline int64_t find(const mm_api *api, void *mm, uint64_t a)
{
	mm_vma_info vi;
	return api->vmas(mm, a, a + 1, &vi, 1) ? (int64_t)vi.start : -ENOENT;
}

NOINLINE void replay(const mm_api *api, void *mm, const int *files, const stream *s, int64_t *res, size_t from,
                     size_t to)
{
	size_t i = from;
	for (; i < to && (i < s->nsetup || !s->find); i++)
		res[i] = replay_stmt(api, mm, files, stream_stmt(s, i));
	for (; i < to; i++)
		res[i] = find(api, mm, s->find[i - s->nsetup]);
}

NOINLINE void timed_replay_model(const mm_api *api, void *mm, const int *files, const stream *s, int64_t *res,
                                 size_t from, size_t to)
{
	CALLGRIND_START_INSTRUMENTATION;
	replay(api, mm, files, s, res, from, to);
	CALLGRIND_STOP_INSTRUMENTATION;
}

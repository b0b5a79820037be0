/* The VMA index (model/vma_tree.c, a B-tree of ranges) against a sorted
 * array: random inserts, erases, splits, absorbs, boundary moves and bound
 * changes, with vt_check after every step and every query compared with a
 * linear scan; then trees broken on purpose, which vt_check must report
 * under the right invariant number; then the corners of Linux 6.18's gap
 * search that the model keeps on purpose. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define P PAGE_SIZE

/* ---- helpers ------------------------------------------------------------- */

static struct vma *new_vma(uint64_t start, uint64_t end, uint64_t flags)
{
	struct vma *v = calloc(1, sizeof(*v));

	g_assert_nonnull(v);
	v->vm_start = start;
	v->vm_end = end;
	v->vm_flags = flags;
	return v;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

struct reports {
	size_t count;
	unsigned mask; /* bit i: invariant Ti reported */
	bool print;
};

static void collect(void *ctx, int inv, const struct vma *v, const char *what)
{
	struct reports *r = ctx;

	(void)v;
	r->count++;
	if (inv >= 0 && inv < 32)
		r->mask |= 1u << inv;
	if (r->print)
		g_printerr("vt_check: %s\n", what);
}

static struct reports check(const struct vma_tree *vt, bool print)
{
	struct reports r = {0, 0, print};
	size_t n = vt_check(vt, collect, &r);

	g_assert_cmpuint(n, ==, r.count);
	return r;
}

/* ---- the oracle: a sorted array and linear scans ------------------------- */

struct oracle {
	struct vma **v; /* sorted by vm_start */
	size_t n, cap;
	uint64_t guard;
};

static void oracle_insert(struct oracle *o, struct vma *v)
{
	size_t i = 0;

	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		o->v = realloc(o->v, o->cap * sizeof(*o->v));
		g_assert_nonnull(o->v);
	}
	while (i < o->n && o->v[i]->vm_start < v->vm_start)
		i++;
	memmove(o->v + i + 1, o->v + i, (o->n - i) * sizeof(*o->v));
	o->v[i] = v;
	o->n++;
}

static void oracle_erase(struct oracle *o, size_t i)
{
	memmove(o->v + i, o->v + i + 1, (o->n - i - 1) * sizeof(*o->v));
	o->n--;
}

static bool oracle_is_free(const struct oracle *o, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i]->vm_start < end && start < o->v[i]->vm_end)
			return false;
	return true;
}

static struct vma *oracle_find(const struct oracle *o, uint64_t addr)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i]->vm_end > addr)
			return o->v[i];
	return NULL;
}

static struct vma *oracle_lookup(const struct oracle *o, uint64_t addr)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i]->vm_start <= addr && addr < o->v[i]->vm_end)
			return o->v[i];
	return NULL;
}

/* mt_find(start, end - 1): any VMA holding an address in [start, end - 1]. */
static struct vma *oracle_intersection(const struct oracle *o, uint64_t start, uint64_t end)
{
	uint64_t last = end - 1;

	if (start > last)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i]->vm_end - 1 >= start && o->v[i]->vm_start <= last)
			return o->v[i];
	return NULL;
}

static uint64_t oracle_vm_start_gap(const struct oracle *o, const struct vma *v)
{
	if (!(v->vm_flags & MM_VM_GROWSDOWN))
		return v->vm_start;
	return v->vm_start > o->guard ? v->vm_start - o->guard : 0;
}

/* Hole i is below o->v[i] (i == n: above the last VMA). Its part inside the
 * window [min, max] (inclusive) is [*lo, *hi]; true if that holds size. */
static bool hole_fits(const struct oracle *o, size_t i, uint64_t min, uint64_t max, uint64_t size,
		      uint64_t *lo, uint64_t *hi)
{
	uint64_t gs = i ? o->v[i - 1]->vm_end : 0, ge_incl;

	if (i < o->n) {
		if (o->v[i]->vm_start <= gs)
			return false;
		ge_incl = o->v[i]->vm_start - 1;
	} else {
		ge_incl = UINT64_MAX;
	}
	*lo = gs > min ? gs : min;
	*hi = ge_incl < max ? ge_incl : max;
	return *lo <= *hi && *hi - *lo >= size - 1;
}

/* mas_empty_area_rev() / mas_empty_area() by scanning every hole. */
static bool oracle_highest(const struct oracle *o, uint64_t min, uint64_t max, uint64_t size, size_t *idx,
			   uint64_t *lo, uint64_t *hi)
{
	for (size_t i = o->n + 1; i-- > 0;)
		if (hole_fits(o, i, min, max, size, lo, hi)) {
			*idx = i;
			return true;
		}
	return false;
}

static bool oracle_lowest(const struct oracle *o, uint64_t min, uint64_t max, uint64_t size, size_t *idx,
			  uint64_t *lo, uint64_t *hi)
{
	for (size_t i = 0; i <= o->n; i++)
		if (hole_fits(o, i, min, max, size, lo, hi)) {
			*idx = i;
			return true;
		}
	return false;
}

/* mm/vma.c unmapped_area_topdown(), transcribed over the array. */
static int64_t oracle_topdown(const struct oracle *o, const struct unmapped_area_info *info)
{
	uint64_t length = info->length + info->align_mask + info->start_gap;
	uint64_t min = info->low_limit, max = info->high_limit - 1;

	if (length < info->length)
		return -ENOMEM;
	for (;;) {
		uint64_t lo, hi, gap_end, gap;
		size_t i;

		if (length == 0 || min > max || max - min < length - 1)
			return -ENOMEM;
		if (!oracle_highest(o, min, max, length, &i, &lo, &hi))
			return -ENOMEM;
		gap_end = hi + 1;
		gap = gap_end - info->length;
		gap -= (gap - info->align_offset) & info->align_mask;
		if (i < o->n && (o->v[i]->vm_flags & MM_VM_GROWSDOWN)) {
			uint64_t guard = oracle_vm_start_gap(o, o->v[i]);
			if (guard < gap_end) {
				if (guard == 0 && max == UINT64_MAX)
					return -ENOMEM; /* the kernel would spin */
				max = guard - 1;
				continue;
			}
		}
		return (int64_t)gap;
	}
}

/* mm/vma.c unmapped_area(), transcribed over the array. */
static int64_t oracle_bottomup(const struct oracle *o, const struct unmapped_area_info *info)
{
	uint64_t length = info->length + info->align_mask + info->start_gap;
	uint64_t min = info->low_limit, max = info->high_limit - 1;

	if (length < info->length)
		return -ENOMEM;
	for (;;) {
		uint64_t lo, hi, gap;
		size_t i;

		if (length == 0 || min > max || max - min < length - 1)
			return -ENOMEM;
		if (!oracle_lowest(o, min, max, length, &i, &lo, &hi))
			return -ENOMEM;
		gap = lo + info->start_gap;
		gap += (info->align_offset - gap) & info->align_mask;
		if (i < o->n && (o->v[i]->vm_flags & MM_VM_GROWSDOWN) &&
		    oracle_vm_start_gap(o, o->v[i]) < gap + length - 1) {
			min = o->v[i]->vm_end;
			continue;
		}
		return (int64_t)gap;
	}
}

static bool is_page_mask(uint64_t m)
{
	return !(m & (P - 1)) && !((m / P) & (m / P + 1));
}

/* What any answer must satisfy, independent of the transcription above:
 * inside the window (high_limit 0 reads as 2^64, as in the maple tree),
 * clear of every VMA, aligned, and clear of the guard gap of the VMA right
 * above it. Bottom-up keeps the last two only for page-granular requests. */
static void check_placement(const struct oracle *o, const struct unmapped_area_info *info, int64_t ret,
			    bool topdown, bool pages)
{
	uint64_t r = (uint64_t)ret, end = r + info->length;
	const struct vma *above;
	bool strict;

	if (ret < 0 || info->length == 0 || end < r)
		return;
	g_assert_cmpuint(r, >=, info->low_limit);
	if (info->high_limit)
		g_assert_cmpuint(end, <=, info->high_limit);
	g_assert_true(oracle_is_free(o, r, end));
	strict =
	    topdown || (pages && is_page_mask(info->align_mask) &&
			!((info->length | info->start_gap | info->align_offset | info->low_limit) & (P - 1)));
	if (!strict)
		return;
	g_assert_cmpuint((r - info->align_offset) & info->align_mask, ==, 0);
	above = oracle_find(o, r);
	if (above)
		g_assert_cmpuint(end, <=, oracle_vm_start_gap(o, above));
}

/* ---- the randomized test ------------------------------------------------- */

struct space {
	uint64_t base;	/* where VMAs live */
	uint64_t pages; /* how far they spread */
	uint64_t unit;	/* address granularity: PAGE_SIZE, or 1 */
};

static uint64_t rnd_addr(const struct space *s)
{
	switch (rnd_below(16)) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX - rnd_below(4) * s->unit;
	case 2:
		return rnd();
	default:
		/* a little beyond the populated span on both sides */
		return s->base + (rnd_below(s->pages + 64) - 32) * s->unit;
	}
}

static uint64_t rnd_near_vma(const struct oracle *o, const struct space *s)
{
	const struct vma *v;

	if (!o->n || rnd_below(2))
		return rnd_addr(s);
	v = o->v[rnd_below(o->n)];
	switch (rnd_below(6)) {
	case 0:
		return v->vm_start;
	case 1:
		return v->vm_start - 1;
	case 2:
		return v->vm_end;
	case 3:
		return v->vm_end - 1;
	case 4:
		return oracle_vm_start_gap(o, v);
	default:
		return v->vm_start + rnd_below(3 * s->unit);
	}
}

static void rnd_info(const struct oracle *o, const struct space *s, struct unmapped_area_info *info)
{
	static const uint64_t masks[] = {0, 0, 0, P - P, 2 * P - P, 4 * P - P, 16 * P - P, 512 * P - P};

	memset(info, 0, sizeof(*info));
	info->length = (1 + rnd_below(24)) * s->unit;
	if (!rnd_below(20))
		info->length = rnd_below(4) ? rnd_below(3) : rnd();
	info->low_limit = rnd_near_vma(o, s);
	info->high_limit = rnd_near_vma(o, s);
	if (info->low_limit > info->high_limit && rnd_below(4)) {
		uint64_t t = info->low_limit;
		info->low_limit = info->high_limit;
		info->high_limit = t;
	}
	if (!rnd_below(8))
		info->low_limit = 0;
	if (!rnd_below(8))
		info->high_limit = rnd_below(2) ? UINT64_MAX : 0;
	info->align_mask = masks[rnd_below(G_N_ELEMENTS(masks))];
	if (!rnd_below(16))
		info->align_mask = rnd_below(2) ? rnd() : rnd_below(P);
	info->align_offset = rnd_below(2) ? rnd_below(64) * P : rnd();
	if (!rnd_below(4))
		info->start_gap = rnd_below(4) ? rnd_below(4) * P : rnd_below(2 * P);
}

static void compare_queries(const struct vma_tree *vt, const struct oracle *o, const struct space *s)
{
	for (int k = 0; k < 4; k++) {
		uint64_t a = rnd_near_vma(o, s), b = rnd_near_vma(o, s);

		g_assert_true(vt_find(vt, a) == oracle_find(o, a));
		g_assert_true(vt_lookup(vt, a) == oracle_lookup(o, a));
		g_assert_true(vt_find_intersection(vt, a, b) == oracle_intersection(o, a, b));
		b = a + rnd_below(8) * s->unit;
		g_assert_true(vt_find_intersection(vt, a, b) == oracle_intersection(o, a, b));
	}
	for (int k = 0; k < 4; k++) {
		struct unmapped_area_info info;
		int64_t got, want;

		rnd_info(o, s, &info);
		got = vt_unmapped_area_topdown(vt, &info);
		want = oracle_topdown(o, &info);
		if (got != want)
			g_error("topdown len %#llx low %#llx high %#llx mask %#llx off %#llx sg %#llx: got "
				"%#llx, want %#llx",
				(unsigned long long)info.length, (unsigned long long)info.low_limit,
				(unsigned long long)info.high_limit, (unsigned long long)info.align_mask,
				(unsigned long long)info.align_offset, (unsigned long long)info.start_gap,
				(unsigned long long)got, (unsigned long long)want);
		check_placement(o, &info, got, true, s->unit == P);

		got = vt_unmapped_area(vt, &info);
		want = oracle_bottomup(o, &info);
		if (got != want)
			g_error("bottomup len %#llx low %#llx high %#llx mask %#llx off %#llx sg %#llx: got "
				"%#llx, want %#llx",
				(unsigned long long)info.length, (unsigned long long)info.low_limit,
				(unsigned long long)info.high_limit, (unsigned long long)info.align_mask,
				(unsigned long long)info.align_offset, (unsigned long long)info.start_gap,
				(unsigned long long)got, (unsigned long long)want);
		check_placement(o, &info, got, false, s->unit == P);
	}
	/* first/last and the list walk */
	g_assert_true(vt_first(vt) == (o->n ? o->v[0] : NULL));
	g_assert_true(vt_last(vt) == (o->n ? o->v[o->n - 1] : NULL));
}

/* Half the time, a lookup of addr first, as the model's operations do: the
 * change that follows then starts from the finger's leaf. */
static void prime(const struct vma_tree *vt, uint64_t addr)
{
	if (rnd_below(2))
		(void)vt_find(vt, addr);
}

/* Inserts, half the time after vt_reserve(): then the insertion must not
 * allocate (it takes reserved nodes only). */
static void step_insert(struct vma_tree *vt, struct oracle *o, const struct space *s)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t start = s->base + rnd_below(s->pages) * s->unit;
		uint64_t len = (1 + rnd_below(rnd_below(4) ? 8 : 64)) * s->unit;
		uint64_t flags = rnd_below(4) ? 0 : MM_VM_GROWSDOWN;
		struct vma *v;

		if (start + len < start || start + len > s->base + s->pages * s->unit)
			continue;
		if (!oracle_is_free(o, start, start + len))
			continue;
		v = new_vma(start, start + len, flags);
		prime(vt, start);
		if (rnd_below(2)) {
			size_t nodes;

			g_assert_cmpint(vt_reserve(vt, 1), ==, 0);
			nodes = vt->nnodes;
			vt_insert(vt, v);
			g_assert_cmpuint(vt->nnodes, ==, nodes);
		} else {
			vt_insert(vt, v);
		}
		oracle_insert(o, v);
		return;
	}
}

static void step_erase(struct vma_tree *vt, struct oracle *o)
{
	size_t i;

	if (!o->n)
		return;
	i = rnd_below(o->n);
	prime(vt, o->v[i]->vm_start);
	vt_erase(vt, o->v[i]);
	free(o->v[i]);
	oracle_erase(o, i);
}

/* Splits a VMA of two units or more: the new piece takes the part below or
 * above a boundary strictly inside it (vma.c: vma_split_unchecked). */
static void step_split(struct vma_tree *vt, struct oracle *o, const struct space *s)
{
	struct vma *v, *n;
	uint64_t units, addr;

	if (!o->n)
		return;
	v = o->v[rnd_below(o->n)];
	units = (v->vm_end - v->vm_start) / s->unit;
	if (units < 2)
		return;
	addr = v->vm_start + (1 + rnd_below(units - 1)) * s->unit;
	if (rnd_below(2))
		n = new_vma(v->vm_start, addr, v->vm_flags);
	else
		n = new_vma(addr, v->vm_end, v->vm_flags);
	prime(vt, v->vm_start);
	vt_split(vt, v, n);
	g_assert_cmpuint(v->vm_start < n->vm_start ? v->vm_end : n->vm_end, ==, addr);
	oracle_insert(o, n);
}

/* The index of a VMA whose next is adjacent, or o->n if none was found. */
static size_t rnd_adjacent_pair(const struct oracle *o)
{
	for (int tries = 0; tries < 16 && o->n > 1; tries++) {
		size_t i = rnd_below(o->n - 1);

		if (o->v[i]->vm_end == o->v[i + 1]->vm_start)
			return i;
	}
	return o->n;
}

/* Two adjacent VMAs: one absorbs the other (vma.c merges). */
static void step_absorb(struct vma_tree *vt, struct oracle *o)
{
	size_t i = rnd_adjacent_pair(o);
	size_t victim = i + 1;

	if (i >= o->n)
		return;
	prime(vt, o->v[i + rnd_below(2)]->vm_start);
	if (rnd_below(2)) {
		vt_absorb(vt, o->v[i], o->v[i + 1]);
	} else {
		vt_absorb(vt, o->v[i + 1], o->v[i]);
		victim = i;
	}
	free(o->v[victim]);
	oracle_erase(o, victim);
}

/* Two adjacent VMAs trade pages: their boundary moves. */
static void step_move_boundary(struct vma_tree *vt, struct oracle *o, const struct space *s)
{
	size_t i = rnd_adjacent_pair(o);
	uint64_t lo, hi;

	if (i >= o->n)
		return;
	lo = o->v[i]->vm_start;
	hi = o->v[i + 1]->vm_end;
	if ((hi - lo) / s->unit < 3)
		return;
	prime(vt, lo);
	vt_move_boundary(vt, o->v[i], lo + (1 + rnd_below((hi - lo) / s->unit - 1)) * s->unit);
}

/* Moves one or both bounds of a VMA within the room its neighbours leave. */
static void step_set_bounds(struct vma_tree *vt, struct oracle *o, const struct space *s)
{
	struct vma *v;
	uint64_t lo, hi, start, end, room;
	size_t i;

	if (!o->n)
		return;
	i = rnd_below(o->n);
	v = o->v[i];
	lo = i ? o->v[i - 1]->vm_end : s->base;
	hi = i + 1 < o->n ? o->v[i + 1]->vm_start : s->base + s->pages * s->unit;
	room = (hi - lo) / s->unit;
	start = v->vm_start;
	end = v->vm_end;
	switch (rnd_below(3)) {
	case 0: /* a new start, keeping the end */
		start = lo + rnd_below((end - lo) / s->unit) * s->unit;
		break;
	case 1: /* a new end, keeping the start */
		end = start + (1 + rnd_below((hi - start) / s->unit)) * s->unit;
		break;
	default: /* anywhere in the room */
		start = lo + rnd_below(room) * s->unit;
		end = start + (1 + rnd_below((hi - start) / s->unit)) * s->unit;
		break;
	}
	g_assert_cmpuint(start, <, end);
	g_assert_cmpuint(lo, <=, start);
	g_assert_cmpuint(end, <=, hi);
	prime(vt, v->vm_start);
	vt_set_bounds(vt, v, start, end);
}

static void run_seed(uint64_t seed, int ops)
{
	struct vma_tree vt;
	struct oracle o = {0};
	struct space s;
	size_t target;

	rng_state = seed * 0x2545f4914f6cdd1dull;
	/* Guards from none to wider than most holes, so a guard often
	 * reaches below the VMA under a stack. */
	static const uint64_t guards[] = {0, 1 * P, 4 * P, 16 * P, 256 * P};
	o.guard = guards[seed % G_N_ELEMENTS(guards)];
	vt_init(&vt, o.guard);
	s.unit = seed % 7 == 3 ? 1 : P;
	s.pages = 1024 + rnd_below(8192);
	switch (seed % 4) {
	case 0: /* from address 0: the guard clamps at 0, holes start at 0 */
		s.base = 0;
		break;
	case 1: /* up against 2^64 */
		s.base = UINT64_MAX - s.pages * s.unit - rnd_below(4) * s.unit + 1;
		s.base -= s.base % s.unit;
		break;
	default:
		s.base = 0x7f0000000000ull + rnd_below(1024) * P;
		break;
	}
	target = 16 + rnd_below(400);

	for (int op = 0; op < ops; op++) {
		uint64_t dice = rnd_below(100);
		struct reports r;

		if (!rnd_below(500))
			target = rnd_below(600); /* sometimes drain, sometimes fill */
		if (dice < (o.n < target ? 40u : 20u))
			step_insert(&vt, &o, &s);
		else if (dice < 50)
			step_erase(&vt, &o);
		else if (dice < 62)
			step_split(&vt, &o, &s);
		else if (dice < 72)
			step_absorb(&vt, &o);
		else if (dice < 82)
			step_move_boundary(&vt, &o, &s);
		else
			step_set_bounds(&vt, &o, &s);

		r = check(&vt, true);
		if (r.count)
			g_error("seed %llu op %d: vt_check reported %zu violations", (unsigned long long)seed,
				op, r.count);
		g_assert_cmpuint(vt.count, ==, o.n);
		compare_queries(&vt, &o, &s);
	}
	/* The list, once through. */
	{
		size_t i = 0;
		for (struct vma *v = vt_first(&vt); v; v = v->node.next)
			g_assert_true(v == o.v[i++]);
		g_assert_cmpuint(i, ==, o.n);
	}
	while (o.n)
		step_erase(&vt, &o);
	g_assert_null(vt.root);
	g_assert_cmpint(vt.height, ==, 0);
	g_assert_cmpuint(check(&vt, true).count, ==, 0);
	g_assert_cmpuint(vt.nspare, ==, vt.nnodes); /* every node back in the pool */
	vt_destroy(&vt);
	free(o.v);
}

static void test_random(void)
{
	for (int seed = 1; seed <= 20; seed++)
		run_seed((uint64_t)seed, 5000);
}

/* Inserts in address order, ascending and descending (the append and
 * prepend splits), then erases every other VMA and the rest from the front:
 * the shapes that most exercise splits, borrows and merges. */
static void test_sequential(void)
{
	enum { N = 4096 };
	static struct vma *v[N];

	for (int descending = 0; descending < 2; descending++) {
		struct vma_tree vt;

		vt_init(&vt, 256 * P);
		for (int k = 0; k < N; k++) {
			int i = descending ? N - 1 - k : k;

			v[i] = new_vma((uint64_t)(2 * i + 1) * P, (uint64_t)(2 * i + 2) * P,
				       i % 5 ? 0 : MM_VM_GROWSDOWN);
			vt_insert(&vt, v[i]);
		}
		g_assert_cmpuint(check(&vt, true).count, ==, 0);
		/* 11 of 16 slots used after an append or prepend split: 4096
		 * VMAs in 373 leaves, 34 nodes above them, 4 and a root. */
		g_assert_cmpint(vt.height, <=, 4);
		for (int i = N - 1; i >= 0; i -= 2) {
			vt_erase(&vt, v[i]);
			free(v[i]);
		}
		g_assert_cmpuint(check(&vt, true).count, ==, 0);
		for (int i = 0; i < N; i += 2) {
			vt_erase(&vt, v[i]);
			free(v[i]);
			if (i % 256 == 0)
				g_assert_cmpuint(check(&vt, true).count, ==, 0);
		}
		g_assert_null(vt.root);
		g_assert_cmpuint(vt.count, ==, 0);
		g_assert_cmpuint(check(&vt, true).count, ==, 0);
		vt_destroy(&vt);
	}
}

/* ---- trees broken on purpose --------------------------------------------- */

enum { FIX_N = 400 }; /* a tree of three levels */

struct fixture {
	struct vma_tree vt;
	struct vma *v[FIX_N];
};

static void build(struct fixture *f)
{
	vt_init(&f->vt, 16 * P);
	rng_state = 42;
	for (int i = 0; i < FIX_N; i++) {
		/* unequal gaps, so that the max gaps differ between slots */
		uint64_t start = (uint64_t)(1000 * i + (i * 37) % 300) * P;
		f->v[i] = new_vma(start, start + (1 + i % 3) * P, i % 4 ? 0 : MM_VM_GROWSDOWN);
	}
	for (int i = 0; i < FIX_N; i++) {
		int j = (i * 61) % FIX_N; /* a permutation: 61 is prime to 400 */
		vt_insert(&f->vt, f->v[j]);
	}
	g_assert_cmpint(f->vt.height, ==, 3);
	g_assert_cmpuint(check(&f->vt, true).count, ==, 0);
}

static void teardown(struct fixture *f)
{
	g_assert_cmpuint(check(&f->vt, true).count, ==, 0);
	for (int i = 0; i < FIX_N; i++)
		vt_erase(&f->vt, f->v[i]);
	vt_destroy(&f->vt);
	for (int i = 0; i < FIX_N; i++)
		free(f->v[i]);
}

/* A leaf: the first child of the root's child k. */
static struct vt_node *some_leaf(struct fixture *f, unsigned k)
{
	struct vt_node *x = f->vt.root->slot[k % f->vt.root->n];

	x = x->slot[1];
	g_assert_true(x->leaf);
	return x;
}

static void expect(struct fixture *f, unsigned want_mask, unsigned allowed_mask)
{
	struct reports r = check(&f->vt, false);

	if (g_test_verbose())
		check(&f->vt, true);
	g_assert_cmpuint(r.count, >, 0);
	g_assert_cmpuint(r.mask & want_mask, ==, want_mask);
	g_assert_cmpuint(r.mask & ~(want_mask | allowed_mask), ==, 0);
}

static void test_corrupt_gap(void)
{
	struct fixture f;
	struct vt_node *leaf;
	uint64_t saved;

	build(&f);
	/* An internal slot's max gap (T4). */
	saved = f.vt.root->gap[1];
	f.vt.root->gap[1] = saved + 1;
	expect(&f, 1u << 4, 0);
	f.vt.root->gap[1] = saved;

	/* A leaf entry's gap: its own (T4) and the max above it (T4). */
	leaf = some_leaf(&f, 0);
	leaf->gap[2] += P;
	expect(&f, 1u << 4, 0);
	leaf->gap[2] -= P;
	teardown(&f);
}

static void test_corrupt_key(void)
{
	struct fixture f;
	struct vma *a, *b;
	struct vt_node *leaf;
	uint64_t s, e;

	build(&f);
	/* Swap the ranges of two neighbours: the leaf order goes down. The
	 * keys and gaps no longer match either (T4). */
	a = f.v[40];
	b = a->node.next;
	s = a->vm_start, e = a->vm_end;
	a->vm_start = b->vm_start, a->vm_end = b->vm_end;
	b->vm_start = s, b->vm_end = e;
	expect(&f, 1u << 1, 1u << 4);
	b->vm_start = a->vm_start, b->vm_end = a->vm_end;
	a->vm_start = s, a->vm_end = e;

	/* An overlap: grow a VMA into its neighbour. */
	e = a->vm_end;
	a->vm_end = b->vm_start + P;
	expect(&f, 1u << 1, 1u << 4);
	a->vm_end = e;

	/* A leaf key that is not its VMA's vm_end, and an internal key that
	 * is not its child's last key (T4 alone). */
	leaf = some_leaf(&f, 1);
	leaf->key[3] -= 1;
	expect(&f, 1u << 4, 0);
	leaf->key[3] += 1;
	f.vt.root->key[0] += 1;
	expect(&f, 1u << 4, 0);
	f.vt.root->key[0] -= 1;
	teardown(&f);
}

static void test_corrupt_shape(void)
{
	struct fixture f;
	struct vt_node *leaf;

	build(&f);
	/* An unused slot not cleared. */
	leaf = some_leaf(&f, 2);
	leaf->gap[VT_SLOTS - 1] = P;
	expect(&f, 1u << 3, 0);
	leaf->gap[VT_SLOTS - 1] = 0;

	/* A leaf where an internal node should be, and the wrong height. */
	leaf->leaf = 0;
	expect(&f, 1u << 3, ~0u);
	leaf->leaf = 1;
	f.vt.height++;
	expect(&f, 1u << 3, ~0u);
	f.vt.height--;

	/* Honest keys, gaps and links, but two leaves under VT_MIN: a root
	 * with two leaves of one VMA each. */
	{
		struct vma_tree vt;
		struct vma *a = new_vma(1 * P, 2 * P, 0), *b = new_vma(3 * P, 4 * P, 0);
		static struct vt_node nodes[3];

		vt_init(&vt, 0);
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < VT_SLOTS; i++)
				nodes[k].key[i] = VT_KEY_NONE, nodes[k].gap[i] = 0, nodes[k].slot[i] = NULL;
		nodes[1].leaf = nodes[2].leaf = 1;
		nodes[1].n = nodes[2].n = 1;
		nodes[1].slot[0] = a, nodes[1].key[0] = 2 * P, nodes[1].gap[0] = 1 * P;
		nodes[2].slot[0] = b, nodes[2].key[0] = 4 * P, nodes[2].gap[0] = 1 * P;
		nodes[0].n = 2;
		nodes[0].slot[0] = &nodes[1], nodes[0].key[0] = 2 * P, nodes[0].gap[0] = 1 * P;
		nodes[0].slot[1] = &nodes[2], nodes[0].key[1] = 4 * P, nodes[0].gap[1] = 1 * P;
		vt.root = &nodes[0], vt.height = 2, vt.nnodes = 3;
		a->node.next = b, b->node.prev = a;
		vt.first = a, vt.last = b, vt.count = 2;
		struct reports r = check(&vt, false);
		g_assert_cmpuint(r.count, ==, 2);
		g_assert_cmpuint(r.mask, ==, 1u << 3);
		free(a), free(b);
	}
	teardown(&f);
}

static void test_corrupt_links(void)
{
	struct fixture f;
	struct vma *saved, *a;
	struct vt_node *x, *sx;

	build(&f);
	/* T5: a wrong count. */
	f.vt.count++;
	expect(&f, 1u << 5, 0);
	f.vt.count -= 2;
	expect(&f, 1u << 5, 0);
	f.vt.count++;

	/* T5: the finger's range is not its leaf's. */
	g_assert_nonnull(vt_find(&f.vt, f.v[200]->vm_start));
	g_assert_cmpuint(f.vt.fp_hi, !=, 0);
	f.vt.fp_hi += 1;
	expect(&f, 1u << 5, 0);
	f.vt.fp_hi -= 1;
	f.vt.fp_lo += 1;
	expect(&f, 1u << 5, 0);
	f.vt.fp_lo -= 1;

	/* T5: a spare node lost. */
	f.vt.nspare++;
	expect(&f, 1u << 5, 0);
	f.vt.nspare--;

	/* T2: the list skips a VMA. */
	a = f.v[10];
	saved = a->node.next;
	a->node.next = saved->node.next;
	expect(&f, 1u << 2, 0);
	a->node.next = saved;

	/* T2: last is wrong. */
	saved = f.vt.last;
	f.vt.last = saved->node.prev;
	expect(&f, 1u << 2, 0);
	f.vt.last = saved;

	/* Not a hang: a node reached twice (the root's second child in place
	 * of its first). */
	x = f.vt.root;
	sx = x->slot[0];
	x->slot[0] = x->slot[1];
	expect(&f, 0, ~0u);
	x->slot[0] = sx;

	/* Not a hang: an internal node pointing back at the root. */
	x = f.vt.root->slot[0];
	sx = x->slot[0];
	x->slot[0] = f.vt.root;
	expect(&f, 1u << 3, ~0u);
	x->slot[0] = sx;
	teardown(&f);
}

/* ---- Linux 6.18 corners that the model keeps ----------------------------- */

/* A stack's guard reaching below the VMA under it: the kernel's retry lowers
 * high_limit to vm_start_gap(stack) for the rest of the search, so the
 * mapping lands below the guard, not in the hole right under the small VMA.
 *
 *   0 ... |p 100-101| hole 101-110 |stack 110-120 (guard 94-110)
 *   4 pages top-down under 120: raw hole 101-110 fits, the guard cuts it,
 *   retry under 94: [90, 94). (v5.x's rbtree search gave [96, 100).)
 */
static void test_topdown_guard_retry(void)
{
	struct vma_tree vt;
	struct vma *p = new_vma(100 * P, 101 * P, 0), *stack = new_vma(110 * P, 120 * P, MM_VM_GROWSDOWN);
	struct unmapped_area_info info = {.length = 4 * P, .low_limit = P, .high_limit = 120 * P};

	vt_init(&vt, 16 * P);
	vt_insert(&vt, p);
	vt_insert(&vt, stack);
	g_assert_cmpint(vt_unmapped_area_topdown(&vt, &info), ==, (int64_t)(90 * P));
	/* Without the guard the hole under the stack is used. */
	stack->vm_flags = 0;
	g_assert_cmpint(vt_unmapped_area_topdown(&vt, &info), ==, (int64_t)(106 * P));
	/* Nothing fits: -ENOMEM. */
	info.length = 200 * P;
	g_assert_cmpint(vt_unmapped_area_topdown(&vt, &info), ==, -ENOMEM);
	vt_erase(&vt, p);
	vt_erase(&vt, stack);
	vt_destroy(&vt);
	free(p), free(stack);
}

/* unmapped_area() tests vm_start_gap(next) < gap + length - 1 with length
 * already holding start_gap and gap already past it, so a request that
 * would fit under the guard is sent above the stack:
 *
 *   |p ..101| hole 101-120 |stack 120-130 (guard 108-120)
 *   4 pages, start_gap 2 pages: gap = 103, [103, 107) is clear of 108, but
 *   108 < 103 + 6 - 1 pages, so the search resumes at 130.
 */
static void test_bottomup_guard_check(void)
{
	struct vma_tree vt;
	struct vma *p = new_vma(100 * P, 101 * P, 0), *stack = new_vma(120 * P, 130 * P, MM_VM_GROWSDOWN);
	struct unmapped_area_info info = {
	    .length = 4 * P, .low_limit = 101 * P, .high_limit = 1000 * P, .start_gap = 2 * P};

	vt_init(&vt, 12 * P);
	vt_insert(&vt, p);
	vt_insert(&vt, stack);
	g_assert_cmpint(vt_unmapped_area(&vt, &info), ==, (int64_t)(132 * P));
	info.start_gap = 0;
	g_assert_cmpint(vt_unmapped_area(&vt, &info), ==, (int64_t)(101 * P));
	vt_erase(&vt, p);
	vt_erase(&vt, stack);
	vt_destroy(&vt);
	free(p), free(stack);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vma_tree/random", test_random);
	g_test_add_func("/vma_tree/sequential", test_sequential);
	g_test_add_func("/vma_tree/corrupt/gap", test_corrupt_gap);
	g_test_add_func("/vma_tree/corrupt/key", test_corrupt_key);
	g_test_add_func("/vma_tree/corrupt/shape", test_corrupt_shape);
	g_test_add_func("/vma_tree/corrupt/links", test_corrupt_links);
	g_test_add_func("/vma_tree/topdown_guard_retry", test_topdown_guard_retry);
	g_test_add_func("/vma_tree/bottomup_guard_check", test_bottomup_guard_check);
	return g_test_run();
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "hist.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define STARS 40

void hist__reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

int hist__bucket_of(uint64_t ns)
{
	return ns ? 63 - __builtin_clzll(ns) : 0;
}

uint64_t hist__bucket_low(int i)
{
	if (i <= 0)
		return 0;
	if (i >= HIST_BUCKETS)
		return UINT64_MAX;
	return 1ULL << i;
}

uint64_t hist__bucket_high(int i)
{
	if (i <= 0)
		return 1;
	if (i >= HIST_BUCKETS)
		return UINT64_MAX;
	return (1ULL << i) | ((1ULL << i) - 1);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void hist__add(struct hist *h, uint64_t ns)
{
	int b = hist__bucket_of(ns);

	if (!h->count || ns < h->min)
		h->min = ns;
	if (!h->count || ns > h->max)
		h->max = ns;
	if (!h->n[b] || ns < h->lo[b])
		h->lo[b] = ns;
	if (!h->n[b] || ns > h->hi[b])
		h->hi[b] = ns;
	h->n[b]++;
	h->count++;
	h->sum = sat_add(h->sum, ns);
}

void hist__merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (!dst->count || src->max > dst->max)
		dst->max = src->max;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		if (!src->n[b])
			continue;
		if (!dst->n[b] || src->lo[b] < dst->lo[b])
			dst->lo[b] = src->lo[b];
		if (!dst->n[b] || src->hi[b] > dst->hi[b])
			dst->hi[b] = src->hi[b];
		dst->n[b] += src->n[b];
	}
	dst->count += src->count;
	dst->sum = sat_add(dst->sum, src->sum);
}

uint64_t hist__quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	double r;

	if (!h->count)
		return 0;
	if (!(q > 0))		/* also NaN */
		return h->min;
	if (q >= 1)
		return h->max;
	/* Nearest rank, 1-based, in double as the caller wrote q: 0.9 * 10000
	 * must be 9000, not 9000.0000000000002 (q's error, in long double). */
	r = q * (double)h->count;
	if (r >= (double)h->count)
		rank = h->count;
	else
		rank = (uint64_t)r + ((double)(uint64_t)r < r);	/* ceil */
	if (rank < 1)
		rank = 1;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		uint64_t c = h->n[b], k, span, off;
		long double x;

		if (seen + c < rank) {
			seen += c;
			continue;
		}
		/* The rank is the k-th of the c samples in this bucket: place it
		 * linearly between the bucket's smallest and largest. */
		k = rank - seen;
		span = h->hi[b] - h->lo[b];
		if (c == 1 || span == 0)
			return h->lo[b];
		x = (long double)span * (long double)(k - 1) / (long double)(c - 1);
		if (x >= (long double)span)
			return h->hi[b];
		off = (uint64_t)x;
		return h->lo[b] + (off > span ? span : off);
	}
	return h->max;		/* counts disagree with count: not reached */
}

uint64_t hist__mean(const struct hist *h)
{
	return h->count ? h->sum / h->count : 0;
}

bool hist__span(const struct hist *h, int *first, int *last)
{
	int a = -1, z = -1;

	for (int b = 0; b < HIST_BUCKETS; b++) {
		if (!h->n[b])
			continue;
		if (a < 0)
			a = b;
		z = b;
	}
	if (a < 0)
		return false;
	*first = a;
	*last = z;
	return true;
}

struct unit {
	const char *name, *abbr;
	uint64_t ns;
	uint64_t below;		/* chosen while max is below this */
};

static const struct unit units[] = {
	{ "nsecs", "ns", 1, 10000ULL },
	{ "usecs", "us", 1000ULL, 10000000ULL },
	{ "msecs", "ms", 1000000ULL, 10000000000ULL },
	{ "secs", "s", 1000000000ULL, UINT64_MAX },
};

static const struct unit *unit_of(const struct hist *h)
{
	size_t i = 0;

	while (i + 1 < sizeof(units) / sizeof(units[0]) && h->max >= units[i].below)
		i++;
	return &units[i];
}

const char *hist__unit(const struct hist *h, uint64_t *ns_per_unit)
{
	const struct unit *u = unit_of(h);

	if (ns_per_unit)
		*ns_per_unit = u->ns;
	return u->name;
}

/* ns in unit u: exact integers for nanoseconds, else three significant
 * digits (more for large values, never in exponent form). */
static const char *fmt(char *buf, size_t len, uint64_t ns, const struct unit *u)
{
	long double v;

	if (u->ns == 1) {
		snprintf(buf, len, "%" PRIu64, ns);
		return buf;
	}
	v = (long double)ns / (long double)u->ns;
	snprintf(buf, len, v < 0.9995L ? "%.3Lf" : v < 9.995L ? "%.2Lf" : v < 99.95L ? "%.1Lf" :
			   "%.0Lf", v);
	return buf;
}

static int count_width(uint64_t v)
{
	int w = 1;

	while (v >= 10) {
		v /= 10;
		w++;
	}
	return w;
}

/* Buckets too small to tell apart in unit u print as one row from 0: the
 * first bucket whose upper bound shows as at least 0.01. */
static int fold_bucket(const struct unit *u)
{
	int b = 0;

	while (hist__bucket_high(b) < u->ns / 100)
		b++;
	return b;
}

int hist__print(FILE *f, const struct hist *h, const char *title)
{
	char lo[32], hi[32], q[4][32];
	const struct unit *u = unit_of(h);
	uint64_t peak = 0, rows[HIST_BUCKETS] = { 0 };
	int first, last, fold = fold_bucket(u), w = 5, cw = 8, pre;

	if (title)
		fprintf(f, "%s\n", title);
	if (!hist__span(h, &first, &last)) {
		fprintf(f, "     (no samples)\n");
		return ferror(f) ? (errno ? -errno : -EIO) : 0;
	}
	for (int b = 0; b <= last; b++)
		rows[b > fold ? b : fold] += h->n[b];
	if (first < fold)
		first = fold;
	if (last < fold)
		last = fold;
	for (int b = first; b <= last; b++) {
		int l = (int)strlen(fmt(lo, sizeof(lo), b == fold ? 0 : hist__bucket_low(b), u));
		int r = (int)strlen(fmt(hi, sizeof(hi), hist__bucket_high(b), u));

		w = l > w ? l : w;
		w = r > w ? r : w;
		peak = rows[b] > peak ? rows[b] : peak;
	}
	if (count_width(peak) > cw)
		cw = count_width(peak);
	/* The unit name sits above the lower bounds, ending with them. */
	pre = 2 + w - (int)strlen(u->name);
	fprintf(f, "%*s%-*s : %-*s distribution\n", pre, "", 2 * w + 6 - pre, u->name, cw,
		"count");
	for (int b = first; b <= last; b++) {
		int stars = (int)((long double)rows[b] * STARS / (long double)peak);
		char bar[STARS + 1];

		memset(bar, ' ', STARS);
		memset(bar, '*', (size_t)stars);
		bar[STARS] = 0;
		fprintf(f, "  %*s -> %-*s : %-*" PRIu64 " |%s|\n", w,
			fmt(lo, sizeof(lo), b == fold ? 0 : hist__bucket_low(b), u), w,
			fmt(hi, sizeof(hi), hist__bucket_high(b), u), cw, rows[b], bar);
	}
	fprintf(f, "count %" PRIu64 ", p50 %s %s, p90 %s %s, p99 %s %s, max %s %s\n", h->count,
		fmt(q[0], sizeof(q[0]), hist__quantile(h, 0.50), u), u->abbr,
		fmt(q[1], sizeof(q[1]), hist__quantile(h, 0.90), u), u->abbr,
		fmt(q[2], sizeof(q[2]), hist__quantile(h, 0.99), u), u->abbr,
		fmt(q[3], sizeof(q[3]), h->max, u), u->abbr);
	return ferror(f) ? (errno ? -errno : -EIO) : 0;
}

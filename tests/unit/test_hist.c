// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Log2 histograms: buckets, quantiles, merging, the bcc-style table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted values, the definition hist uses. */
static uint64_t true_quantile(const uint64_t *v, size_t n, double q)
{
	double r = q * (double)n;
	size_t rank = (size_t)r + ((double)(size_t)r < r);	/* ceil, without libm */

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void bucket_layout(void **state)
{
	assert_int_equal(hist__bucket_of(0), 0);
	assert_int_equal(hist__bucket_of(1), 0);
	assert_int_equal(hist__bucket_of(2), 1);
	assert_int_equal(hist__bucket_of(3), 1);
	assert_int_equal(hist__bucket_of(4), 2);
	assert_int_equal(hist__bucket_of(1000), 9);
	assert_int_equal(hist__bucket_of(UINT64_MAX), 63);
	assert_int_equal(hist__bucket_low(0), 0);
	assert_int_equal(hist__bucket_high(0), 1);
	assert_int_equal(hist__bucket_high(63), UINT64_MAX);
	for (int i = 0; i < HIST_BUCKETS; i++) {
		assert_int_equal(hist__bucket_of(hist__bucket_low(i)), i);
		assert_int_equal(hist__bucket_of(hist__bucket_high(i)), i);
		if (i + 1 < HIST_BUCKETS)
			assert_int_equal(hist__bucket_high(i) + 1, hist__bucket_low(i + 1));
	}
}

static void empty(void **state)
{
	struct hist h;
	int a, z;

	hist__reset(&h);
	assert_int_equal(hist__quantile(&h, 0.5), 0);
	assert_int_equal(hist__quantile(&h, 1), 0);
	assert_int_equal(hist__mean(&h), 0);
	assert_false(hist__span(&h, &a, &z));
}

static void all_equal(void **state)
{
	struct hist h = { 0 };
	int a, z;

	for (int i = 0; i < 1000; i++)
		hist__add(&h, 12345);
	assert_int_equal(h.count, 1000);
	assert_int_equal(h.sum, 12345000);
	assert_int_equal(hist__mean(&h), 12345);
	assert_int_equal(hist__quantile(&h, 0.5), 12345);
	assert_int_equal(hist__quantile(&h, 0.9), 12345);
	assert_int_equal(hist__quantile(&h, 0.99), 12345);
	assert_int_equal(h.max, 12345);
	assert_int_equal(h.min, 12345);
	assert_true(hist__span(&h, &a, &z));
	assert_int_equal(a, 13);
	assert_int_equal(z, 13);
}

/* Every value from 1 to 10000 once: the buckets are full, the
 * interpolation between each bucket's ends is exact. */
static void uniform_dense(void **state)
{
	struct hist h = { 0 };

	for (uint64_t v = 1; v <= 10000; v++)
		hist__add(&h, v);
	assert_int_equal(hist__quantile(&h, 0.5), 5000);
	assert_int_equal(hist__quantile(&h, 0.9), 9000);
	assert_int_equal(hist__quantile(&h, 0.99), 9900);
	assert_int_equal(hist__quantile(&h, 1), 10000);
	assert_int_equal(hist__quantile(&h, 0), 1);
	assert_int_equal(hist__mean(&h), 5000);
}

/* Random uniform samples: each answer lies in the true quantile's bucket,
 * between that bucket's smallest and largest samples. */
static void uniform_random(void **state)
{
	static const double qs[] = { 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999 };
	enum { N = 20000 };
	uint64_t *v = malloc(N * sizeof(*v));
	struct hist h = { 0 };

	srand(7);
	for (int i = 0; i < N; i++) {
		v[i] = 1000 + (uint64_t)rand() % 5000000;
		hist__add(&h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t want = true_quantile(v, N, qs[k]), got = hist__quantile(&h, qs[k]);
		int b = hist__bucket_of(want);

		assert_int_equal(hist__bucket_of(got), b);
		assert_true(got >= h.lo[b] && got <= h.hi[b]);
		/* Dense uniform samples: interpolation is within 1%. */
		assert_true((got > want ? got - want : want - got) <= want / 100);
	}
	assert_int_equal(hist__quantile(&h, 1), v[N - 1]);
	assert_int_equal(hist__quantile(&h, 0), v[0]);
	free(v);
}

static void powers_of_two(void **state)
{
	struct hist h = { 0 };

	for (int i = 0; i < 64; i++)
		hist__add(&h, 1ULL << i);
	assert_int_equal(h.count, 64);
	/* ranks 32, 58, 64 of 2^0 .. 2^63 */
	assert_int_equal(hist__quantile(&h, 0.5), 1ULL << 31);
	assert_int_equal(hist__quantile(&h, 0.9), 1ULL << 57);
	assert_int_equal(hist__quantile(&h, 0.99), 1ULL << 63);
	assert_int_equal(h.max, 1ULL << 63);
	assert_int_equal(h.sum, UINT64_MAX);	/* 2^64 - 1 exactly */
	for (int i = 1; i < 64; i++)
		assert_int_equal(h.n[i], 1);
	assert_int_equal(h.n[0], 1);	/* 1 */
}

static void zero_ns(void **state)
{
	struct hist h = { 0 };

	hist__add(&h, 0);
	hist__add(&h, 0);
	hist__add(&h, 0);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.n[0], 3);
	assert_int_equal(hist__quantile(&h, 0.5), 0);
	assert_int_equal(hist__quantile(&h, 0.99), 0);
	assert_int_equal(h.max, 0);
	hist__add(&h, 1);
	assert_int_equal(hist__quantile(&h, 0.5), 0);
	assert_int_equal(hist__quantile(&h, 1), 1);
}

static void uint64_max(void **state)
{
	struct hist h = { 0 };

	hist__add(&h, UINT64_MAX);
	hist__add(&h, UINT64_MAX);
	assert_int_equal(h.n[63], 2);
	assert_int_equal(h.sum, UINT64_MAX);	/* saturated */
	assert_int_equal(hist__quantile(&h, 0.5), UINT64_MAX);
	assert_int_equal(hist__quantile(&h, 0.99), UINT64_MAX);
	assert_int_equal(h.max, UINT64_MAX);
	hist__add(&h, 1ULL << 63);
	assert_int_equal(hist__quantile(&h, 0.1), 1ULL << 63);
	assert_int_equal(hist__quantile(&h, 0.5), (1ULL << 63) + ((1ULL << 62) - 1));
	assert_int_equal(hist__quantile(&h, 1), UINT64_MAX);
}

static void odd_q(void **state)
{
	struct hist h = { 0 };

	hist__add(&h, 10);
	hist__add(&h, 20);
	assert_int_equal(hist__quantile(&h, -1), 10);
	assert_int_equal(hist__quantile(&h, __builtin_nan("")), 10);
	assert_int_equal(hist__quantile(&h, 2), 20);
	assert_int_equal(hist__quantile(&h, 0.5), 10);
	assert_int_equal(hist__quantile(&h, 0.51), 20);
}

static void merge(void **state)
{
	struct hist a = { 0 }, b = { 0 }, all = { 0 }, e = { 0 }, m;

	for (uint64_t i = 0; i < 3000; i++) {
		uint64_t v = i * i * 977 + 13;

		hist__add(i % 3 ? &a : &b, v);
		hist__add(&all, v);
	}
	m = a;
	hist__merge(&m, &b);
	assert_memory_equal(&m, &all, sizeof(m));
	m = b;
	hist__merge(&m, &a);
	assert_memory_equal(&m, &all, sizeof(m));
	/* Empty on either side. */
	m = all;
	hist__merge(&m, &e);
	assert_memory_equal(&m, &all, sizeof(m));
	hist__reset(&m);
	hist__merge(&m, &all);
	assert_memory_equal(&m, &all, sizeof(m));
	hist__reset(&m);
	assert_memory_equal(&m, &e, sizeof(m));
}

static char *render(const struct hist *h, const char *title)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(hist__print(f, h, title), 0);
	fclose(f);
	return out;
}

static void print_nsecs(void **state)
{
	struct hist h = { 0 };
	char *s;

	for (int i = 0; i < 3; i++)
		hist__add(&h, 100);
	hist__add(&h, 700);
	hist__add(&h, 1000);
	hist__add(&h, 1000);
	s = render(&h, "connect latency");
	assert_string_equal(s,
		"connect latency\n"
		"  nsecs          : count    distribution\n"
		"     64 -> 127   : 3        |****************************************|\n"
		"    128 -> 255   : 0        |                                        |\n"
		"    256 -> 511   : 0        |                                        |\n"
		"    512 -> 1023  : 3        |****************************************|\n"
		"count 6, p50 100 ns, p90 1000 ns, p99 1000 ns, max 1000 ns\n");
	free(s);
}

static void print_usecs(void **state)
{
	struct hist h = { 0 };
	char *s;

	hist__add(&h, 1500);
	hist__add(&h, 3000);
	hist__add(&h, 3500);
	hist__add(&h, 3900);	/* p50 is the 2nd of 3000, 3500, 3900: 3450 by interpolation */
	hist__add(&h, 40000);
	s = render(&h, NULL);
	assert_string_equal(s,
		"  usecs          : count    distribution\n"
		"   1.02 -> 2.05  : 1        |*************                           |\n"
		"   2.05 -> 4.09  : 3        |****************************************|\n"
		"   4.10 -> 8.19  : 0        |                                        |\n"
		"   8.19 -> 16.4  : 0        |                                        |\n"
		"   16.4 -> 32.8  : 0        |                                        |\n"
		"   32.8 -> 65.5  : 1        |*************                           |\n"
		"count 5, p50 3.45 us, p90 40.0 us, p99 40.0 us, max 40.0 us\n");
	free(s);
}

/* Samples far below the unit share one row from 0. */
static void print_folds_tiny(void **state)
{
	struct hist h = { 0 };
	char *s;

	hist__add(&h, 3);
	hist__add(&h, 9);
	hist__add(&h, 20000);
	s = render(&h, "x");
	assert_non_null(strstr(s, "  0.000 -> 0.015 : 2 "));
	free(s);
}

static void units(void **state)
{
	struct hist h = { 0 };
	uint64_t per;

	hist__add(&h, 9999);
	assert_string_equal(hist__unit(&h, &per), "nsecs");
	assert_int_equal(per, 1);
	hist__add(&h, 10000);
	assert_string_equal(hist__unit(&h, &per), "usecs");
	hist__add(&h, 10000000);
	assert_string_equal(hist__unit(&h, &per), "msecs");
	hist__add(&h, 60000000000ULL);
	assert_string_equal(hist__unit(&h, &per), "secs");
	assert_int_equal(per, 1000000000ULL);
}

static void print_empty_and_errors(void **state)
{
	struct hist h = { 0 };
	char *s = render(&h, "TIME_WAIT");
	FILE *f;

	assert_string_equal(s, "TIME_WAIT\n     (no samples)\n");
	free(s);
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	hist__add(&h, 5);
	assert_int_equal(hist__print(f, &h, "x"), -ENOSPC);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bucket_layout),
		cmocka_unit_test(empty),
		cmocka_unit_test(all_equal),
		cmocka_unit_test(uniform_dense),
		cmocka_unit_test(uniform_random),
		cmocka_unit_test(powers_of_two),
		cmocka_unit_test(zero_ns),
		cmocka_unit_test(uint64_max),
		cmocka_unit_test(odd_q),
		cmocka_unit_test(merge),
		cmocka_unit_test(print_nsecs),
		cmocka_unit_test(print_usecs),
		cmocka_unit_test(print_folds_tiny),
		cmocka_unit_test(units),
		cmocka_unit_test(print_empty_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

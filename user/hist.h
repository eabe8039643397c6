/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Log2 histograms of durations in nanoseconds, bcc style: connect latency,
 * time in CLOSE_WAIT, TIME_WAIT, ... Fixed size, no allocation: adding a
 * sample is a few stores. An all-zero struct hist is an empty histogram.
 *
 * Bucket i holds [2^i, 2^(i+1) - 1] ns, bucket 0 holds 0 and 1 (bcc's
 * buckets); bucket 63 ends at UINT64_MAX, so every value has a bucket.
 * Each bucket also keeps its smallest and largest sample, which makes the
 * quantiles exact in the common cases (see hist__quantile()). */
#ifndef HIST_H
#define HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_BUCKETS 64

struct hist {
	uint64_t count;
	uint64_t sum;			/* saturates at UINT64_MAX (584 years) */
	uint64_t min, max;		/* exact; 0 when empty */
	uint64_t n[HIST_BUCKETS];	/* samples per bucket */
	uint64_t lo[HIST_BUCKETS];	/* smallest sample in the bucket (if n) */
	uint64_t hi[HIST_BUCKETS];	/* largest sample in the bucket (if n) */
};

void hist__reset(struct hist *h);
void hist__add(struct hist *h, uint64_t ns);
/* dst += src, as if src's samples had been added to dst. */
void hist__merge(struct hist *dst, const struct hist *src);

/* The q-quantile (q in [0, 1]; p99 is 0.99) by nearest rank: the sample
 * of rank ceil(q * count). Found from the buckets: the bucket holding that
 * rank is exact, and within it the value is interpolated linearly between
 * the bucket's smallest and largest samples. So the answer is exact when
 * that bucket's samples are all equal (one value, exact powers of two, 0,
 * UINT64_MAX), is always between two samples of the same bucket (within a
 * factor of 2 of the true quantile), and q = 0 gives min, q = 1 max,
 * exactly. 0 when empty. */
uint64_t hist__quantile(const struct hist *h, double q);
/* sum / count, rounded down; 0 when empty. */
uint64_t hist__mean(const struct hist *h);

/* Bucket layout, for renderers (JSON). Bounds are inclusive. */
int hist__bucket_of(uint64_t ns);
uint64_t hist__bucket_low(int i);
uint64_t hist__bucket_high(int i);
/* First and last non-empty buckets: the span worth showing. false if the
 * histogram is empty. */
bool hist__span(const struct hist *h, int *first, int *last);

/* The display unit chosen from the largest sample: "nsecs" below 10 us,
 * "usecs" below 10 ms, "msecs" below 10 s, else "secs"; *ns_per_unit gets
 * its size. */
const char *hist__unit(const struct hist *h, uint64_t *ns_per_unit);

/* The histogram as text: title (if not NULL) on its own line, then the
 * bcc table of the non-empty span in the unit above,
 *
 *   usecs          : count    distribution
 *    1.02 -> 2.05  : 1        |*************                           |
 *    2.05 -> 4.09  : 3        |****************************************|
 *    4.10 -> 8.19  : 0        |                                        |
 *    8.19 -> 16.4  : 1        |*************                           |
 *   count 5, p50 3.45 us, p90 10.0 us, p99 10.0 us, max 10.0 us
 *
 * Bounds are the nanosecond bounds divided by the unit, to three
 * significant digits (whole integer parts from 100 up), so neighbouring
 * rows may show the same bound; the
 * buckets below 0.01 of the unit share the first row, from 0. An empty
 * histogram prints "(no samples)". 0, or -errno if the stream reports an
 * error. */
int hist__print(FILE *f, const struct hist *h, const char *title);

#endif /* HIST_H */

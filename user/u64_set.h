/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Sorted arrays of u64 (cookies, socket keys, inodes) as sets: sorted once,
 * then searched. Empty sets are safe: qsort and bsearch are undefined on a
 * NULL array even with no elements. */
#ifndef U64_SET_H
#define U64_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int u64_set__cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static inline void u64_set__sort(uint64_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), u64_set__cmp);
}

static inline bool u64_set__has(const uint64_t *v, size_t n, uint64_t x)
{
	return n && bsearch(&x, v, n, sizeof(*v), u64_set__cmp);
}

#endif /* U64_SET_H */

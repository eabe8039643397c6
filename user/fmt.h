/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Text appended at a cursor, for the record serializers: each call writes
 * at p and returns the new end, with no bounds check and no NUL. The
 * caller reserves the worst case first. Inline: one record is dozens of
 * these, and a call each was where the time went. */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* "00".."99": two digits per division. */
extern const char fmt__digits2[200];

/* A string literal, its length known at compile time. */
#define fmt__lit(p, s) ((char *)memcpy((p), (s), sizeof(s) - 1) + sizeof(s) - 1)

static inline char *fmt__mem(char *p, const char *s, size_t n)
{
	return (char *)memcpy(p, s, n) + n;
}

static inline char *fmt__str(char *p, const char *s)
{
	return fmt__mem(p, s, strlen(s));
}

static inline int fmt__ndigits(uint64_t v)
{
	int n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* v in decimal, exactly width digits (leading zeros): v < 10^width. */
static inline char *fmt__u64w(char *p, uint64_t v, int width)
{
	char *d = p + width;

	while (v >= 100) {
		d -= 2;
		memcpy(d, fmt__digits2 + (v % 100) * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		d -= 2;
		memcpy(d, fmt__digits2 + v * 2, 2);
	} else {
		*--d = (char)('0' + v);
	}
	while (d > p)
		*--d = '0';
	return p + width;
}

/* At most 20 bytes. */
static inline char *fmt__u64(char *p, uint64_t v)
{
	return fmt__u64w(p, v, fmt__ndigits(v));
}

static inline char *fmt__i64(char *p, int64_t v)
{
	if (v >= 0)
		return fmt__u64(p, (uint64_t)v);
	*p++ = '-';
	return fmt__u64(p, 0 - (uint64_t)v);
}

/* Spaces after the field that began at start, to width bytes, as printf's
 * "%-*s" pads. */
static inline char *fmt__pad(char *start, char *p, int width)
{
	if (p - start < width) {
		memset(p, ' ', (size_t)(width - (p - start)));
		p = start + width;
	}
	return p;
}

/* An address as inet_ntop writes it (family AF_INET6, else IPv4): at most
 * INET_ADDR_STRLEN - 1 bytes, and nothing written past that. IPv4 by hand
 * (bytes past the returned end may be scribbled on); IPv6 by inet_ntop. */
char *fmt__addr(char *p, int family, const uint8_t *addr);
/* "addr:port", "[addr]:port" for IPv6 (inet_endpoint__format). */
char *fmt__endpoint(char *p, int family, const uint8_t *addr, uint16_t port);

#endif /* FMT_H */

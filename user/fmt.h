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

/* The length of the valid UTF-8 sequence at s (n bytes available): 2 to 4,
 * or 0 when s does not start one (an ASCII byte included). */
size_t fmt__utf8_len(const unsigned char *s, size_t n);

/* The one escape of every text output (the table, alerts, reports, the
 * summary, error messages) for strings the tracer does not control: a comm,
 * a /proc or cgroup name, anything read from a recording. Printable ASCII
 * and UTF-8 characters go through as they are; a control byte (C0, DEL, or
 * a C1 control in UTF-8), a Unicode bidi or line-separator control, and
 * every byte that is not valid UTF-8 are written as \xHH, one per byte,
 * and a backslash as \\, so that nothing reaches a terminal as a control
 * and the result reads back unambiguously. n bytes of s (a NUL included:
 * pass strnlen()); at most FMT_TEXT_MAX(n) bytes written, no NUL. */
#define FMT_TEXT_MAX(n) (4 * (n))
char *fmt__text(char *p, const char *s, size_t n);
/* The same into buf (len > 0 bytes), NUL-terminated, of s up to its NUL or
 * max bytes; cut before the first escape or character that does not fit.
 * Returns buf, for printf's "%s". */
const char *fmt__text_z(char *buf, size_t len, const char *s, size_t max);

/* An address as inet_ntop writes it (family AF_INET6, else IPv4): at most
 * INET_ADDR_STRLEN - 1 bytes, and nothing written past that. IPv4 by hand
 * (bytes past the returned end may be scribbled on); IPv6 by inet_ntop. */
char *fmt__addr(char *p, int family, const uint8_t *addr);
/* "addr:port", "[addr]:port" for IPv6 (inet_endpoint__format). */
char *fmt__endpoint(char *p, int family, const uint8_t *addr, uint16_t port);

#endif /* FMT_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fmt.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "tcp_names.h"

#define D2(t) t "0" t "1" t "2" t "3" t "4" t "5" t "6" t "7" t "8" t "9"
const char fmt__digits2[200] = D2("0") D2("1") D2("2") D2("3") D2("4") D2("5") D2("6") D2("7")
	D2("8") D2("9");

/* "0." to "255.", and the length without the dot: an IPv4 address is
 * then four copies, no division. */
struct octet {
	char s[4];
	uint8_t n;
};

static const struct octet *octets(void)
{
	static struct octet t[256];

	if (!t[255].n) {
		for (int i = 0; i < 256; i++) {
			char *e = fmt__u64(t[i].s, (uint64_t)i);

			*e = '.';
			t[i].n = (uint8_t)(e - t[i].s);
		}
	}
	return t;
}

char *fmt__addr(char *p, int family, const uint8_t *a)
{
	const struct octet *t;
	uint8_t b[4];

	if (family == AF_INET6) {
		if (!inet_ntop(AF_INET6, a, p, INET_ADDR_STRLEN))
			return fmt__lit(p, "?");
		return p + strlen(p);
	}
	/* The bytes in registers: p may alias a, so the compiler would
	 * reload each after every store. */
	memcpy(b, a, sizeof(b));
	t = octets();
	for (int i = 0; i < 3; i++) {
		memcpy(p, t[b[i]].s, 4);
		p += t[b[i]].n + 1;
	}
	memcpy(p, t[b[3]].s, 4);
	return p + t[b[3]].n;
}

char *fmt__endpoint(char *p, int family, const uint8_t *addr, uint16_t port)
{
	if (family == AF_INET6) {
		*p++ = '[';
		p = fmt__addr(p, family, addr);
		*p++ = ']';
	} else {
		p = fmt__addr(p, family, addr);
	}
	*p++ = ':';
	return fmt__u64(p, port);
}

size_t fmt__utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A valid UTF-8 character (k bytes at s) a terminal would act on rather
 * than show: C1 controls (U+0080-U+009F, 8-bit CSI among them), and the
 * controls that reorder or break a line as it is displayed (U+061C,
 * U+200E-U+200F, U+2028-U+202E, U+2066-U+2069). */
static bool utf8_control(const unsigned char *s, size_t k)
{
	if (k == 2)
		return (s[0] == 0xc2 && s[1] <= 0x9f) || (s[0] == 0xd8 && s[1] == 0x9c);
	if (k != 3 || s[0] != 0xe2)
		return false;
	if (s[1] == 0x80)
		return s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xa8 && s[2] <= 0xae);
	return s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9;
}

static char *hex_byte(char *p, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	p[0] = '\\';
	p[1] = 'x';
	p[2] = hex[c >> 4];
	p[3] = hex[c & 0xf];
	return p + 4;
}

/* The escaped form of the character at s (n bytes left) into out (room
 * for 16 bytes); its length in *used. */
static size_t text_char(char *out, const unsigned char *s, size_t n, size_t *used)
{
	size_t k;
	char *p = out;

	if (s[0] >= 0x20 && s[0] < 0x7f) {
		*used = 1;
		if (s[0] == '\\')
			*p++ = '\\';
		*p++ = (char)s[0];
		return (size_t)(p - out);
	}
	k = s[0] >= 0x80 ? fmt__utf8_len(s, n) : 0;
	if (k && !utf8_control(s, k)) {
		*used = k;
		return (size_t)(fmt__mem(p, (const char *)s, k) - out);
	}
	*used = k ? k : 1;
	for (size_t i = 0; i < *used; i++)
		p = hex_byte(p, s[i]);
	return (size_t)(p - out);
}

char *fmt__text(char *p, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, used;

	while (i < n) {
		if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\') {
			*p++ = (char)u[i++];	/* the common case, inline */
			continue;
		}
		p += text_char(p, u + i, n - i, &used);
		i += used;
	}
	return p;
}

const char *fmt__text_z(char *buf, size_t len, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = s ? strnlen(s, max) : 0, i = 0, o = 0, used;
	char one[16];

	while (i < n) {
		size_t k = text_char(one, u + i, n - i, &used);

		if (o + k >= len)
			break;
		memcpy(buf + o, one, k);
		o += k;
		i += used;
	}
	buf[o] = '\0';
	return buf;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fmt.h"

#include <arpa/inet.h>
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

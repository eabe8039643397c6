// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "fmt.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "tcp_names.h"

#define D2(t) t "0" t "1" t "2" t "3" t "4" t "5" t "6" t "7" t "8" t "9"
const char fmt__digits2[200] = D2("0") D2("1") D2("2") D2("3") D2("4") D2("5") D2("6") D2("7")
	D2("8") D2("9");

char *fmt__addr(char *p, int family, const uint8_t *a)
{
	if (family == AF_INET6) {
		if (!inet_ntop(AF_INET6, a, p, INET_ADDR_STRLEN))
			return fmt__lit(p, "?");
		return p + strlen(p);
	}
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = fmt__u64(p, a[i]);
	}
	return p;
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

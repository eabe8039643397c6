// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tcp_names.h"
#include "fmt.h"
#include "tcpstate.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define STATE(x) [TS_TCP_##x] = { #x, sizeof(#x) - 1 }
static const struct {
	const char *s;
	size_t n;
} state_names[TS_TCP_MAX_STATES] = {
	STATE(ESTABLISHED), STATE(SYN_SENT), STATE(SYN_RECV), STATE(FIN_WAIT1),
	STATE(FIN_WAIT2), STATE(TIME_WAIT), STATE(CLOSE), STATE(CLOSE_WAIT), STATE(LAST_ACK),
	STATE(LISTEN), STATE(CLOSING), STATE(NEW_SYN_RECV), STATE(BOUND_INACTIVE),
};

const char *tcp_state__name(int state)
{
	if (state < 0 || state >= TS_TCP_MAX_STATES)
		return NULL;
	return state_names[state].s;
}

char *tcp_state__put(char *p, int state)
{
	if (state < 0 || state >= TS_TCP_MAX_STATES || !state_names[state].s)
		return fmt__i64(fmt__lit(p, "STATE_"), state);
	return fmt__mem(p, state_names[state].s, state_names[state].n);
}

int tcp_state__from_name(const char *name)
{
	for (int i = 0; i < TS_TCP_MAX_STATES; i++)
		if (state_names[i].s && strcmp(state_names[i].s, name) == 0)
			return i;
	return -1;
}

const char *tcp_state__str(int state, char *buf, size_t len)
{
	const char *n = tcp_state__name(state);

	if (n)
		return n;
	snprintf(buf, len, "STATE_%d", state);
	return buf;
}

const char *ts_how__name(uint8_t how)
{
	switch (how) {
	case 0: return "SHUT_RD";
	case 1: return "SHUT_WR";
	case 2: return "SHUT_RDWR";
	default: return "SHUT_?";
	}
}

const char *ts_via__name(uint8_t via)
{
	switch (via) {
	case TS_VIA_CLOSE: return "close";
	case TS_VIA_EXIT: return "exit";
	default: return "other";
	}
}

const char *ts_tw_reason__name(uint8_t reason)
{
	switch (reason) {
	case TS_TW_EXPIRED: return "expired";
	case TS_TW_REUSED: return "reused";
	default: return "killed";
	}
}

const char *inet_addr__format(int family, const uint8_t *addr, char *buf, size_t len)
{
	char t[INET_ADDR_STRLEN];

	*fmt__addr(t, family, addr) = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

const char *inet_endpoint__format(int family, const uint8_t *addr, uint16_t port, char *buf,
				  size_t len)
{
	char t[INET_ENDPOINT_STRLEN];

	*fmt__endpoint(t, family, addr, port) = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tcp_names.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char *const state_names[TS_TCP_MAX_STATES] = {
	[TS_TCP_ESTABLISHED] = "ESTABLISHED",
	[TS_TCP_SYN_SENT] = "SYN_SENT",
	[TS_TCP_SYN_RECV] = "SYN_RECV",
	[TS_TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TS_TCP_FIN_WAIT2] = "FIN_WAIT2",
	[TS_TCP_TIME_WAIT] = "TIME_WAIT",
	[TS_TCP_CLOSE] = "CLOSE",
	[TS_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TS_TCP_LAST_ACK] = "LAST_ACK",
	[TS_TCP_LISTEN] = "LISTEN",
	[TS_TCP_CLOSING] = "CLOSING",
	[TS_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
	[TS_TCP_BOUND_INACTIVE] = "BOUND_INACTIVE",
};

const char *tcp_state__name(int state)
{
	if (state < 0 || state >= TS_TCP_MAX_STATES)
		return NULL;
	return state_names[state];
}

int tcp_state__from_name(const char *name)
{
	for (int i = 0; i < TS_TCP_MAX_STATES; i++)
		if (state_names[i] && strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

const char *inet_addr__format(int family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

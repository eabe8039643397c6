/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TCP state names as the kernel spells them, and address formatting. */
#ifndef TCP_NAMES_H
#define TCP_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Kernel state numbering (include/net/tcp_states.h). */
enum tcp_state {
	TS_TCP_ESTABLISHED = 1,
	TS_TCP_SYN_SENT,
	TS_TCP_SYN_RECV,
	TS_TCP_FIN_WAIT1,
	TS_TCP_FIN_WAIT2,
	TS_TCP_TIME_WAIT,
	TS_TCP_CLOSE,
	TS_TCP_CLOSE_WAIT,
	TS_TCP_LAST_ACK,
	TS_TCP_LISTEN,
	TS_TCP_CLOSING,
	TS_TCP_NEW_SYN_RECV,
	TS_TCP_BOUND_INACTIVE,
	TS_TCP_MAX_STATES,
};

/* "ESTABLISHED", ...; "UNKNOWN(n)" is never returned: unknown numbers give
 * NULL so the caller decides how to print them. */
const char *tcp_state__name(int state);
/* Inverse of tcp_state__name(); -1 if the name is not a state. */
int tcp_state__from_name(const char *name);

/* The name, or "STATE_<n>", at p, no NUL; returns the end. At most 17
 * bytes. */
char *tcp_state__put(char *p, int state);
/* The name, or "STATE_<n>" formatted into buf. */
const char *tcp_state__str(int state, char *buf, size_t len);

/* Names of record fields' values (bpf/tcpstate.h). */
const char *ts_how__name(uint8_t how);		/* "SHUT_RD", "SHUT_WR", "SHUT_RDWR" */
const char *ts_via__name(uint8_t via);		/* "close", "exit", "other" */
const char *ts_tw_reason__name(uint8_t reason);	/* "expired", "reused", "killed" */

#define INET_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */

/* Format a 4- or 16-byte address (family AF_INET/AF_INET6) into buf. */
const char *inet_addr__format(int family, const uint8_t *addr, char *buf, size_t len);
/* "addr:port", "[addr]:port" for IPv6. */
#define INET_ENDPOINT_STRLEN (INET_ADDR_STRLEN + 8)
const char *inet_endpoint__format(int family, const uint8_t *addr, uint16_t port, char *buf,
				  size_t len);

#endif /* TCP_NAMES_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sockets that were there before tracing began, from sock_diag, seeded
 * into the connection table so their later records join them by cookie. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include "conn_table.h"
#include "tcp_names.h"

struct snapshot {
	uint32_t by_state[TS_TCP_MAX_STATES];	/* connections, by state */
	uint32_t total;
	uint32_t seeded;	/* new to the table (live records had not made them) */
	uint32_t netns;		/* namespaces dumped */
	uint32_t netns_failed;	/* namespaces that could not be dumped */
};

/* Dump every TCP socket of this network namespace, or of all of them, and
 * seed t at now_ns. Request sockets and bound-only sockets are left out.
 * Ages are lower bounds: TIME_WAIT from the timer left, CLOSE_WAIT from the
 * last segment heard (tcp_info), others from now. 0 or -errno. */
int snapshot__take(struct snapshot *s, struct conn_table *t, bool all_netns, uint64_t now_ns);

#endif /* SNAPSHOT_H */

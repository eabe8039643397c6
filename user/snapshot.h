/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The sockets that were there before tracing began, from sock_diag, seeded
 * into the connection table so their later records join them by cookie. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include "conn_table.h"
#include "sock_key.h"
#include "tcp_names.h"

struct snapshot {
	uint32_t by_state[TS_TCP_MAX_STATES];	/* connections, by state */
	uint32_t total;
	uint32_t seeded;	/* new to the table (live records had not made them) */
	uint32_t netns;		/* namespaces dumped */
	uint32_t netns_failed;	/* namespaces that could not be dumped */
};

/* One connection found, as it is seeded: what conn_table__seed() takes. */
struct snapshot_seed {
	struct ts_event ident;	/* type TS_EV_STATE: cookie, addresses, netns, ino */
	int state;
	uint64_t since_ns;	/* in state since (at the latest, if bounded) */
	bool bounded;
};

/* The tracer's own filters, for the sockets the snapshot keeps. */
struct snapshot_filter {
	int family;			/* 0: any */
	const uint16_t *sports;		/* local ports; nsports 0: any */
	int nsports;
	const uint16_t *dports;		/* remote ports; ndports 0: any */
	int ndports;
	uint32_t pid;			/* 0: any; else the sockets this process holds */
	/* NULL: any; else the sockets held by the processes in this cgroup v2
	 * directory and below it now (-c). */
	const char *cgroup_path;
};

/* Dump every TCP socket of this network namespace, or of all of them, and
 * seed t at now_ns. Request sockets, bound-only sockets and states this
 * build cannot name are left out. Ages are lower bounds: TIME_WAIT from
 * the timer left, CLOSE_WAIT from the last segment heard (tcp_info),
 * others from now. If seeds is not NULL, *seeds gets the s->total seeds in
 * the order they were seeded (malloc'd, the caller frees; NULL if none), so
 * a recording can plant the same ones later. Only the sockets filter
 * (NULL: all) lets through are counted and seeded. 0 or -errno. */
int snapshot__take(struct snapshot *s, struct conn_table *t, bool all_netns, uint64_t now_ns,
		   const struct snapshot_filter *filter, struct snapshot_seed **seeds);
/* Seed one connection into t, as snapshot__take() does each: true if it
 * was new to the table (counted as seeded). */
bool snapshot__seed(struct conn_table *t, const struct snapshot_seed *sd);
/* Every socket there is now (in this network namespace, or in all of
 * them), as key sets (sock_key.h) into *out; free with sock_census__free().
 * 0, or -errno when any namespace could not be dumped whole. */
int snapshot__census(bool all_netns, struct sock_census *out);

#endif /* SNAPSHOT_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The user-space picture of every connection, keyed by socket cookie: its
 * current state and since when, its owner, the close()/shutdown() calls
 * made on it. Pure: records in, connections out, no libbpf, so unit tests
 * and replays drive the same code as live tracing. */
#ifndef CONN_TABLE_H
#define CONN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpstate.h"

#define CONN_CALLS_MAX 4	/* most connections see one or two */

/* A close or shutdown made on the connection. */
struct conn_call {
	uint64_t mono_ns;
	uint32_t pid;
	uint32_t refs;
	int32_t fd;
	uint8_t type;		/* TS_EV_CLOSE or TS_EV_SHUTDOWN */
	uint8_t how;
	uint8_t final;
	uint8_t via;
	char comm[TS_COMM_LEN];
};

struct conn {
	/* The connection as the kernel last described it: cookie, addresses,
	 * owner. mono_ns and the per-record fields are not meaningful. */
	struct ts_event ident;
	int state;			/* 0 until a transition is seen */
	uint64_t state_since_ns;	/* when it entered state, if since_known; the
					 * latest it can have, if since_bound */
	bool since_known;
	bool since_bound;		/* state_since_ns bounds the entry from above */
	bool before_start;		/* found by the snapshot, opened before tracing */
	uint32_t ncalls;		/* calls seen; the last CONN_CALLS_MAX kept */
	struct conn_call calls[CONN_CALLS_MAX];
	bool alerted;			/* the CLOSE_WAIT alert was given */

	struct conn *hnext;		/* hash chain, or free list */
	struct conn *lru_prev, *lru_next;	/* least recently updated first */
	struct conn *cw_prev, *cw_next;	/* in CLOSE_WAIT, not alerted: oldest first */
};

struct conn_table {
	struct conn **buckets;
	size_t nbuckets;	/* a power of two */
	size_t count, cap;
	struct conn *free;
	struct conn lru;	/* list heads (sentinels) */
	struct conn cw;
	uint64_t evictions;	/* connections dropped to stay within cap */
};

int conn_table__init(struct conn_table *t, size_t cap);
void conn_table__free(struct conn_table *t);
struct conn *conn_table__find(struct conn_table *t, uint64_t cookie);
/* Fold one kernel record in. Returns its connection, or NULL when the
 * record ends one (it reached CLOSE and was removed) or never starts one (a
 * final close or a reset for a connection not in the table). */
struct conn *conn_table__apply(struct conn_table *t, const struct ts_event *e);
/* A connection found by the start-up snapshot, in state since (at the
 * latest) since_ns: inserted unless live records already made it. NULL if
 * it was there already or memory ran out. Seed in order of since_ns. */
struct conn *conn_table__seed(struct conn_table *t, const struct ts_event *ident, int state,
			      uint64_t since_ns, bool bounded);
/* The connection longest in CLOSE_WAIT and not yet alerted, if it has been
 * there at least min_age_ns at now_ns; mark it alerted. NULL otherwise. */
struct conn *conn_table__next_close_wait(struct conn_table *t, uint64_t now_ns,
					 uint64_t min_age_ns);
/* Calls in order, oldest first: i from 0 to conn__ncalls_kept() - 1. */
uint32_t conn__ncalls_kept(const struct conn *c);
const struct conn_call *conn__call(const struct conn *c, uint32_t i);

#endif /* CONN_TABLE_H */

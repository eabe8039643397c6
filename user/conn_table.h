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
#define CONN_STEPS_MAX 8	/* a whole lifecycle takes at most six */

/* A state transition of the connection, as a state record gave it. */
struct conn_step {
	uint64_t mono_ns;
	uint64_t prev_ns;	/* time in oldstate, if prev_known */
	uint8_t oldstate, newstate;
	bool prev_known;
	bool from_dump;		/* not reported: mono_ns is when a dump found it */
	uint8_t tw_reason;	/* TIME_WAIT -> CLOSE: enum ts_tw_reason */
};

/* Why a connection leaves the table (the sink is told). */
enum conn_exit {
	CONN_EXIT_CLOSED = 1,	/* reached CLOSE (and a round passed for late records) */
	CONN_EXIT_EVICTED,	/* dropped to keep the table within its cap */
	CONN_EXIT_OPEN,		/* still open when the run ended */
	CONN_EXIT_GONE,		/* the kernel no longer had it after records were lost */
};

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

	/* The lifecycle: transitions in time order, whatever order the
	 * records came in (a multi-CPU ring reorders them slightly). */
	uint8_t nsteps;
	uint32_t steps_dropped;		/* transitions past CONN_STEPS_MAX, not kept */
	struct conn_step steps[CONN_STEPS_MAX];
	uint64_t first_ns;		/* the earliest record's time; 0: none yet */
	uint64_t last_ns;		/* the latest record's time */
	uint32_t drop_gen;		/* the first record's ts_event.drop_gen */
	bool lost;			/* records were dropped while it lived */
	uint8_t reset_dir;		/* the first reset: enum ts_reset_dir, 0 if none */
	uint64_t reset_ns;
	uint8_t seed_state;		/* the state the snapshot found, 0 if not seeded */
	bool closed;			/* reached CLOSE; in the done list */
	bool unhashed;			/* a reconnect took its cookie */

	struct conn *hnext;		/* free list */
	struct conn *lru_prev, *lru_next;	/* least recently updated first; or
						 * the done list once closed */
	struct conn *cw_prev, *cw_next;	/* in CLOSE_WAIT, not alerted: oldest first */
};

/* Told of every connection leaving the table, before it is freed. */
typedef void (*conn_sink_fn)(void *ctx, const struct conn *c, enum conn_exit why);
/* Told of every change to an open connection's state or identity: with
 * enter false just before it, true just after. A watcher that takes away on
 * leaving what it added on entering keeps exact counts without walking. */
typedef void (*conn_watch_fn)(void *ctx, const struct conn *c, bool enter);

/* A hash slot: the cookie beside its connection, so a probe stays in the
 * slot array. */
struct conn_slot {
	uint64_t cookie;	/* 0: empty */
	struct conn *c;
};

struct conn_table {
	struct conn_slot *slots;
	size_t nslots;		/* 1 << slot_bits */
	unsigned slot_bits;
	size_t nhashed;		/* slots taken */
	size_t count, cap;	/* count: open and closed-not-yet-reaped */
	struct conn *free;
	struct conn lru;	/* list heads (sentinels) */
	struct conn done;	/* closed, awaiting late records for a round */
	struct conn cw;		/* in CLOSE_WAIT, not alerted: oldest first */
	struct conn cw_alerted;	/* in CLOSE_WAIT, alerted: oldest first */
	uint64_t evictions;	/* connections dropped to stay within cap */
	uint64_t seen;		/* connections ever inserted */
	conn_sink_fn sink;
	void *sink_ctx;
	conn_watch_fn watch;
	void *watch_ctx;
};

int conn_table__init(struct conn_table *t, size_t cap);
/* Frees every connection without telling the sink (see conn_table__drain). */
void conn_table__free(struct conn_table *t);
void conn_table__set_sink(struct conn_table *t, conn_sink_fn fn, void *ctx);
/* Set before the first record: the connections open already are not told. */
void conn_table__set_watch(struct conn_table *t, conn_watch_fn fn, void *ctx);
/* How late a record may come and still join its closed connection: records
 * reserved on other CPUs trail by microseconds. */
#define CONN_LATE_NS 100000000ULL

/* The connections that reached CLOSE before before_ns go to the sink. Called
 * with each record's time less CONN_LATE_NS before the record is looked up,
 * so what a record joins depends on the records alone, live or replayed;
 * and now and then with the clock, for a quiet host. */
void conn_table__expire(struct conn_table *t, uint64_t before_ns);
/* End of the run: every connection to the sink, closed ones first, then
 * the open ones (CONN_EXIT_OPEN), oldest first; the table is left empty. */
void conn_table__drain(struct conn_table *t);
struct conn *conn_table__find(struct conn_table *t, uint64_t cookie);
/* Hints for a lookup of cookie to come: the slot it starts at, then (once
 * that slot is in the cache) the connection found there. They change
 * nothing; a batch of records overlaps its cache misses with them. */
void conn_table__prefetch_slot(const struct conn_table *t, uint64_t cookie);
void conn_table__prefetch_conn(const struct conn_table *t, uint64_t cookie);
/* Fold one kernel record in. Returns its connection, or NULL when the
 * record never starts one (a final close, a reset or a CLOSE for a
 * connection not in the table). A connection that reaches CLOSE stays
 * findable, closed, until conn_table__expire() hands it to the sink. */
struct conn *conn_table__apply(struct conn_table *t, const struct ts_event *e);
/* The same, for a caller that has looked the cookie up already: c is what
 * conn_table__find() gave for e->cookie since the table last changed. */
struct conn *conn_table__apply_found(struct conn_table *t, struct conn *c, const struct ts_event *e);
/* A connection found by the start-up snapshot, in state since (at the
 * latest) since_ns: inserted unless live records already made it. NULL if
 * it was there already or memory ran out. Seed in order of since_ns. */
struct conn *conn_table__seed(struct conn_table *t, const struct ts_event *ident, int state,
			      uint64_t since_ns, bool bounded);
/* To check against a sock_diag dump taken at checked_ns: the cookies of
 * the open connections with no record at or after it, into *out (malloc'd,
 * the caller frees); the count, or -ENOMEM. */
long conn_table__find_stale(struct conn_table *t, uint64_t checked_ns, uint64_t **out);
/* End an open connection as gone (CONN_EXIT_GONE): its end's records were
 * lost. False if it is not open in the table. */
bool conn_table__end_gone(struct conn_table *t, uint64_t cookie);
/* The connection longest in CLOSE_WAIT and not yet alerted, if it has been
 * there at least min_age_ns at now_ns; mark it alerted. NULL otherwise. */
struct conn *conn_table__next_close_wait(struct conn_table *t, uint64_t now_ns,
					 uint64_t min_age_ns);
/* When the connection that closed first closed (conn_table__expire() with
 * a before_ns past it hands it on); UINT64_MAX if none is closed. */
uint64_t conn_table__oldest_closed_ns(const struct conn_table *t);
/* Since when the connection longest in CLOSE_WAIT and not yet alerted has
 * been there (conn_table__next_close_wait() looks at it alone); UINT64_MAX
 * if there is none. */
uint64_t conn_table__oldest_close_wait_ns(const struct conn_table *t);
/* Iterate the open connections (not the closed ones awaiting the sink). */
#define conn_table__for_each_open(t, c) \
	for (struct conn *c = (t)->lru.lru_next; c != &(t)->lru; c = c->lru_next)
/* Iterate the connections in CLOSE_WAIT: those not alerted, then the rest. */
#define conn_table__for_each_close_wait(t, c)                                      \
	for (struct conn *c = (t)->cw.cw_next; c != &(t)->cw_alerted;              \
	     c = c->cw_next == &(t)->cw ? (t)->cw_alerted.cw_next : c->cw_next)     \
		if (c != &(t)->cw)
/* Calls in order, oldest first: i from 0 to conn__ncalls_kept() - 1. */
uint32_t conn__ncalls_kept(const struct conn *c);
const struct conn_call *conn__call(const struct conn *c, uint32_t i);

#endif /* CONN_TABLE_H */

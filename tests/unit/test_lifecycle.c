// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lifecycles from synthetic record streams: every close path, records out
 * of order, records missing, connections evicted. The streams are what
 * the BPF side emits for each path (see bpf/tcpstate.bpf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_table.h"
#include "lifecycle.h"
#include "tcp_names.h"

#define US 1000ULL
#define MS 1000000ULL

/* ---- building streams ---------------------------------------------------- */

struct stream {
	struct ts_event ev[32];
	int n;
};

static struct ts_event *push(struct stream *s, int type, uint64_t t)
{
	struct ts_event *e = &s->ev[s->n++];

	memset(e, 0, sizeof(*e));
	e->type = (uint8_t)type;
	e->cookie = 42;
	e->mono_ns = t;
	e->family = AF_INET;
	e->sport = 40000;
	e->dport = 80;
	e->pid = 100;
	e->owner_src = TS_OWNER_SYSCALL;
	e->fd = -1;
	memcpy(e->comm, "app", 4);
	return e;
}

/* A transition; prev_ns is the kernel's time in oldstate (0: not known). */
static void st(struct stream *s, uint64_t t, int old, int new, uint64_t prev_ns)
{
	struct ts_event *e = push(s, TS_EV_STATE, t);

	e->oldstate = (uint8_t)old;
	e->newstate = (uint8_t)new;
	if (prev_ns) {
		e->prev_state_ns = prev_ns;
		e->flags |= TS_EVF_PREV_KNOWN;
	}
}

static void closecall(struct stream *s, uint64_t t, uint32_t pid, uint32_t refs, int via, int cur)
{
	struct ts_event *e = push(s, TS_EV_CLOSE, t);

	e->pid = pid;
	e->refs = refs;
	e->final = refs == 1;
	e->via = (uint8_t)via;
	e->fd = 5;
	e->newstate = (uint8_t)cur;
}

static void shut(struct stream *s, uint64_t t, int how, int cur)
{
	struct ts_event *e = push(s, TS_EV_SHUTDOWN, t);

	e->how = (uint8_t)how;
	e->refs = 1;
	e->fd = 5;
	e->newstate = (uint8_t)cur;
}

static void reset(struct stream *s, uint64_t t, int dir, int cur)
{
	struct ts_event *e = push(s, TS_EV_RESET, t);

	e->reset_dir = (uint8_t)dir;
	e->newstate = (uint8_t)cur;
}

/* The record at i never arrives. */
static void lose(struct stream *s, int i)
{
	memmove(&s->ev[i], &s->ev[i + 1], (size_t)(s->n - i - 1) * sizeof(s->ev[0]));
	s->n--;
}

/* ---- running them -------------------------------------------------------- */

struct ended {
	struct conn c;
	enum conn_exit why;
	struct lifecycle l;
};

struct sink {
	struct ended out[8];
	int n;
};

static void on_end(void *ctx, const struct conn *c, enum conn_exit why)
{
	struct sink *k = ctx;
	struct ended *x;

	assert_true(k->n < 8);
	x = &k->out[k->n++];
	x->c = *c;
	x->why = why;
	lifecycle__derive(&x->l, &x->c, why);
}

/* Feed the records in the order given by idx (NULL: as built), end the
 * run, and return the sink's lifecycles. */
static void run(struct stream *s, const int *idx, size_t cap, struct sink *k)
{
	struct conn_table t;

	memset(k, 0, sizeof(*k));
	assert_int_equal(conn_table__init(&t, cap), 0);
	conn_table__set_sink(&t, on_end, k);
	for (int i = 0; i < s->n; i++)
		conn_table__apply(&t, &s->ev[idx ? idx[i] : i]);
	conn_table__expire(&t, UINT64_MAX);
	conn_table__drain(&t);
	conn_table__free(&t);
}

static void expect_visits(const struct lifecycle *l, const int *states, const int64_t *durs, int n)
{
	assert_int_equal(l->nvisits, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(l->visits[i].state, states[i]);
		if (durs[i] < 0) {
			assert_false(l->visits[i].dur_known);
		} else {
			assert_true(l->visits[i].dur_known);
			assert_int_equal(l->visits[i].dur_ns, (uint64_t)durs[i]);
		}
	}
}

/* ---- close paths --------------------------------------------------------- */

static void client_stream(struct stream *s)
{
	s->n = 0;
	st(s, 1 * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	st(s, 2 * MS, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 1 * MS);
	closecall(s, 10 * MS, 100, 1, TS_VIA_CLOSE, TS_TCP_ESTABLISHED);
	st(s, 10 * MS + 5 * US, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1, 8 * MS + 5 * US);
	st(s, 10 * MS + 40 * US, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, 35 * US);
	st(s, 10 * MS + 90 * US, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT, 50 * US);
	s->ev[s->n - 1].flags |= TS_EVF_TIMEWAIT;
	st(s, 70 * 1000 * MS, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, 0);
	s->ev[s->n - 1].tw_reason = TS_TW_EXPIRED;
}

static void active_close(void **state_)
{
	static const int states[] = { TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1,
				      TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT };
	static const int64_t durs[] = { 1 * MS, 8 * MS + 5 * US, 35 * US, 50 * US,
					70 * 1000 * MS - 10 * MS - 90 * US };
	struct stream s;
	struct sink k;

	client_stream(&s);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.out[0].why, CONN_EXIT_CLOSED);
	expect_visits(&k.out[0].l, states, durs, 5);
	assert_int_equal(k.out[0].l.role, ROLE_CLIENT);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_LOCAL);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_true(k.out[0].l.complete);
	assert_int_equal(k.out[0].l.missing, 0);
	assert_true(k.out[0].l.start_known);
	assert_int_equal(k.out[0].l.start_ns, 1 * MS);
	assert_int_equal(k.out[0].l.end_ns, 70 * 1000 * MS);
	assert_int_equal(k.out[0].c.ncalls, 1);
}

static void passive_close(void **state_)
{
	static const int states[] = { TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT,
				      TS_TCP_LAST_ACK };
	static const int64_t durs[] = { 10 * US, 990 * US, 4 * MS, 50 * US };
	struct stream s = { .n = 0 };
	struct sink k;

	st(&s, 1 * MS, TS_TCP_LISTEN, TS_TCP_SYN_RECV, 0);
	st(&s, 1 * MS + 10 * US, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 10 * US);
	st(&s, 2 * MS, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, 990 * US);
	closecall(&s, 6 * MS - 1 * US, 100, 1, TS_VIA_CLOSE, TS_TCP_CLOSE_WAIT);
	st(&s, 6 * MS, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, 4 * MS);
	st(&s, 6 * MS + 50 * US, TS_TCP_LAST_ACK, TS_TCP_CLOSE, 50 * US);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.n, 1);
	expect_visits(&k.out[0].l, states, durs, 4);
	assert_int_equal(k.out[0].l.role, ROLE_SERVER);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_PEER);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_true(k.out[0].l.complete);
}

/* Both ends close at once: up to CLOSING. */
static void crossed_fins(struct stream *s)
{
	st(s, 1 * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	st(s, 2 * MS, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 1 * MS);
	st(s, 3 * MS, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1, 1 * MS);
	st(s, 3 * MS + 20 * US, TS_TCP_FIN_WAIT1, TS_TCP_CLOSING, 20 * US);
}

static void simultaneous_close(void **state_)
{
	static const int states[] = { TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1,
				      TS_TCP_CLOSING, TS_TCP_TIME_WAIT };
	static const int64_t durs[] = { 1 * MS, 1 * MS, 20 * US, 30 * US, 60000 * MS - 50 * US };
	struct stream s = { .n = 0 };
	struct sink k;

	crossed_fins(&s);
	st(&s, 3 * MS + 50 * US, TS_TCP_CLOSING, TS_TCP_TIME_WAIT, 30 * US);
	st(&s, 60003 * MS, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, 0);
	run(&s, NULL, 16, &k);
	expect_visits(&k.out[0].l, states, durs, 5);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_SIMULTANEOUS);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_true(k.out[0].l.complete);
}

/* shutdown(SHUT_WR), the peer keeps sending, then closes. */
static void half_close(void **state_)
{
	struct stream s, one;
	struct sink k;

	client_stream(&s);
	/* the shutdown comes before the FIN, instead of the close */
	one.n = 0;
	shut(&one, 10 * MS, 1, TS_TCP_ESTABLISHED);
	s.ev[2] = one.ev[0];
	closecall(&s, 10 * MS + 60 * US, 100, 1, TS_VIA_CLOSE, TS_TCP_FIN_WAIT2);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].c.ncalls, 2);
	assert_int_equal(conn__call(&k.out[0].c, 0)->type, TS_EV_SHUTDOWN);
	assert_int_equal(conn__call(&k.out[0].c, 0)->how, 1);
	assert_int_equal(conn__call(&k.out[0].c, 1)->type, TS_EV_CLOSE);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_LOCAL);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_true(k.out[0].l.complete);
}

static void abortive(void **state_)
{
	struct stream s = { .n = 0 };
	struct sink k;

	/* SO_LINGER 0 or unread data: close() sends a reset. */
	st(&s, 1 * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	st(&s, 2 * MS, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 1 * MS);
	closecall(&s, 5 * MS, 100, 1, TS_VIA_CLOSE, TS_TCP_ESTABLISHED);
	reset(&s, 5 * MS + 1 * US, TS_RESET_SENT, TS_TCP_ESTABLISHED);
	st(&s, 5 * MS + 2 * US, TS_TCP_ESTABLISHED, TS_TCP_CLOSE, 3 * MS);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.end, END_RESET_SENT);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_LOCAL);
	assert_true(k.out[0].l.complete);

	/* The peer resets. */
	s.n = 2;
	reset(&s, 5 * MS + 1 * US, TS_RESET_RECEIVED, TS_TCP_ESTABLISHED);
	st(&s, 5 * MS + 2 * US, TS_TCP_ESTABLISHED, TS_TCP_CLOSE, 3 * MS);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.end, END_RESET_RECEIVED);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_PEER);
}

static void connect_fails(void **state_)
{
	struct stream s = { .n = 0 };
	struct sink k;

	/* No answer: the stack gives up. */
	st(&s, 1 * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	st(&s, 130000 * MS, TS_TCP_SYN_SENT, TS_TCP_CLOSE, 0);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.end, END_TIMEOUT);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_LOCAL);
	assert_int_equal(k.out[0].l.role, ROLE_CLIENT);

	/* close() before the handshake finished: no FIN, no reset. */
	s.n = 1;
	closecall(&s, 2 * MS, 100, 1, TS_VIA_CLOSE, TS_TCP_SYN_SENT);
	st(&s, 2 * MS + 1 * US, TS_TCP_SYN_SENT, TS_TCP_CLOSE, 0);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.end, END_ABORT);
	assert_true(k.out[0].l.complete);
}

/* Fork: the parent's close drops one reference, the child's exit the last. */
static void fork_inherited(void **state_)
{
	struct stream s = { .n = 0 };
	struct sink k;

	st(&s, 1 * MS, TS_TCP_LISTEN, TS_TCP_SYN_RECV, 0);
	st(&s, 1 * MS + 10 * US, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 10 * US);
	closecall(&s, 2 * MS, 100, 2, TS_VIA_CLOSE, TS_TCP_ESTABLISHED);
	st(&s, 3 * MS, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, 2 * MS - 10 * US);
	closecall(&s, 50 * MS, 101, 1, TS_VIA_EXIT, TS_TCP_CLOSE_WAIT);
	st(&s, 50 * MS + 1 * US, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, 47 * MS + 1 * US);
	st(&s, 50 * MS + 40 * US, TS_TCP_LAST_ACK, TS_TCP_CLOSE, 39 * US);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].c.ncalls, 2);
	assert_int_equal(conn__call(&k.out[0].c, 0)->refs, 2);
	assert_int_equal(conn__call(&k.out[0].c, 1)->via, TS_VIA_EXIT);
	assert_int_equal(conn__call(&k.out[0].c, 1)->pid, 101);
	assert_int_equal(k.out[0].l.visits[2].state, TS_TCP_CLOSE_WAIT);
	assert_int_equal(k.out[0].l.visits[2].dur_ns, 47 * MS + 1 * US);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_true(k.out[0].l.complete);
}

static void timewait_reused(void **state_)
{
	struct stream s;
	struct sink k;

	client_stream(&s);
	s.ev[s.n - 1].mono_ns = 2000 * MS;
	s.ev[s.n - 1].tw_reason = TS_TW_REUSED;
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_int_equal(k.out[0].c.steps[k.out[0].c.nsteps - 1].tw_reason, TS_TW_REUSED);
	assert_int_equal(k.out[0].l.visits[4].dur_ns, 2000 * MS - 10 * MS - 90 * US);
}

static void listener(void **state_)
{
	struct stream s = { .n = 0 };
	struct sink k;

	st(&s, 1 * MS, TS_TCP_CLOSE, TS_TCP_LISTEN, 0);
	closecall(&s, 9 * MS, 100, 1, TS_VIA_CLOSE, TS_TCP_LISTEN);
	st(&s, 9 * MS + 1 * US, TS_TCP_LISTEN, TS_TCP_CLOSE, 0);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].l.role, ROLE_LISTENER);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	assert_int_equal(k.out[0].l.nvisits, 1);
	assert_int_equal(k.out[0].l.visits[0].dur_ns, 8 * MS + 1 * US);
}

/* ---- out of order, missing, evicted -------------------------------------- */

/* Records reserved on different CPUs arrive a little out of order: every
 * order with each record at most two places from its own gives the same
 * lifecycle. */
static void reordered(void **state_)
{
	struct stream s;
	struct sink ref, k;
	unsigned int seed = 1;

	client_stream(&s);
	run(&s, NULL, 16, &ref);
	for (int round = 0; round < 200; round++) {
		int idx[32];

		for (int i = 0; i < s.n; i++)
			idx[i] = i;
		for (int i = 0; i + 1 < s.n; i++) {
			int j = i + 1 + (int)(rand_r(&seed) % 2);

			if (j < s.n && rand_r(&seed) % 2) {
				int x = idx[i];

				idx[i] = idx[j];
				idx[j] = x;
			}
		}
		run(&s, idx, 16, &k);
		assert_int_equal(k.n, 1);
		assert_int_equal(k.out[0].l.nvisits, ref.out[0].l.nvisits);
		for (int i = 0; i < ref.out[0].l.nvisits; i++) {
			assert_int_equal(k.out[0].l.visits[i].state, ref.out[0].l.visits[i].state);
			assert_int_equal(k.out[0].l.visits[i].dur_ns, ref.out[0].l.visits[i].dur_ns);
		}
		assert_int_equal(k.out[0].l.end, END_GRACEFUL);
		assert_true(k.out[0].l.complete);
		assert_int_equal(k.out[0].c.state, TS_TCP_CLOSE);
	}
}

/* A transition lost: the lifecycle says so, and no duration spans it. */
static void missing_transition(void **state_)
{
	static const int states[] = { TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1,
				      TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT };
	/* FIN_WAIT1 -> FIN_WAIT2 is gone: FIN_WAIT1's end is not known;
	 * FIN_WAIT2's stay is, from the kernel's prev_state_ns. */
	static const int64_t durs[] = { 1 * MS, 8 * MS + 5 * US, -1, 50 * US,
					70 * 1000 * MS - 10 * MS - 90 * US };
	struct stream s;
	struct sink k;

	client_stream(&s);
	lose(&s, 4);
	run(&s, NULL, 16, &k);
	expect_visits(&k.out[0].l, states, durs, 5);
	assert_false(k.out[0].l.visits[3].enter_ns != 10 * MS + 40 * US);
	assert_true(k.out[0].l.missing & LC_MISS_GAP);
	assert_false(k.out[0].l.complete);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);

	/* Without the kernel's measure, FIN_WAIT2 has no known stay either. */
	client_stream(&s);
	lose(&s, 4);
	s.ev[4].flags &= (uint8_t)~TS_EVF_PREV_KNOWN;
	run(&s, NULL, 16, &k);
	assert_false(k.out[0].l.visits[3].dur_known);
	assert_false(k.out[0].l.visits[3].enter_known);
}

/* The handoff never reported, found later by a dump: CLOSING's stay and
 * TIME_WAIT's entry are not known, and the timeline says gap. */
static void handoff_from_dump(void **state_)
{
	static const int states[] = { TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1,
				      TS_TCP_CLOSING, TS_TCP_TIME_WAIT };
	static const int64_t durs[] = { 1 * MS, 1 * MS, 20 * US, -1, -1 };
	struct stream s = { .n = 0 };
	struct sink k;

	crossed_fins(&s);
	st(&s, 5000 * MS, TS_TCP_CLOSING, TS_TCP_TIME_WAIT, 0);
	s.ev[s.n - 1].flags |= TS_EVF_TIMEWAIT | TS_EVF_FROM_DUMP;
	st(&s, 60003 * MS, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, 0);
	run(&s, NULL, 16, &k);
	expect_visits(&k.out[0].l, states, durs, 5);
	assert_false(k.out[0].l.visits[4].enter_known);
	assert_true(k.out[0].l.missing & LC_MISS_GAP);
	assert_false(k.out[0].l.complete);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
}

static void missing_birth(void **state_)
{
	struct stream s;
	struct sink k;

	client_stream(&s);
	lose(&s, 0);
	run(&s, NULL, 16, &k);
	assert_true(k.out[0].l.missing & LC_MISS_BIRTH);
	assert_false(k.out[0].l.start_known);
	assert_false(k.out[0].l.complete);
	/* SYN_SENT's stay is known from the kernel; its role still shows. */
	assert_int_equal(k.out[0].l.visits[0].state, TS_TCP_SYN_SENT);
	assert_true(k.out[0].l.visits[0].dur_known);
	assert_int_equal(k.out[0].l.role, ROLE_CLIENT);
}

/* Records dropped by the ring while the connection lived. */
static void dropped_records(void **state_)
{
	struct stream s;
	struct sink k;

	client_stream(&s);
	for (int i = 3; i < s.n; i++)
		s.ev[i].drop_gen = 7;
	run(&s, NULL, 16, &k);
	assert_true(k.out[0].l.missing & LC_MISS_LOST);
	assert_false(k.out[0].l.complete);

	/* Drops before it began are not its loss. */
	client_stream(&s);
	for (int i = 0; i < s.n; i++)
		s.ev[i].drop_gen = 7;
	run(&s, NULL, 16, &k);
	assert_true(k.out[0].l.complete);
}

static void still_open_at_exit(void **state_)
{
	struct stream s;
	struct sink k;

	client_stream(&s);
	s.n = 3;
	run(&s, NULL, 16, &k);
	assert_int_equal(k.out[0].why, CONN_EXIT_OPEN);
	assert_true(k.out[0].l.missing & LC_MISS_OPEN);
	assert_false(k.out[0].l.end_known);
	assert_int_equal(k.out[0].l.end, END_NONE);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_NONE);
	/* ESTABLISHED is entered, its end not yet seen. */
	assert_int_equal(k.out[0].l.nvisits, 2);
	assert_false(k.out[0].l.visits[1].dur_known);
}

static void eviction(void **state_)
{
	struct stream s = { .n = 0 };
	struct sink k;

	for (int c = 1; c <= 3; c++) {
		st(&s, (uint64_t)c * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
		s.ev[s.n - 1].cookie = (uint64_t)c;
	}
	run(&s, NULL, 2, &k);
	assert_int_equal(k.n, 3);
	assert_int_equal(k.out[0].why, CONN_EXIT_EVICTED);
	assert_int_equal(k.out[0].c.ident.cookie, 1);
	assert_true(k.out[0].l.missing & LC_MISS_EVICTED);
	assert_int_equal(k.out[1].why, CONN_EXIT_OPEN);
	assert_int_equal(k.out[2].why, CONN_EXIT_OPEN);
}

/* The snapshot found it in CLOSE_WAIT; then it closes. */
static void seeded(void **state_)
{
	struct stream s = { .n = 0 };
	struct conn_table t;
	struct sink k = { .n = 0 };
	struct ts_event id;

	st(&s, 5 * MS, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, 0);
	st(&s, 5 * MS + 40 * US, TS_TCP_LAST_ACK, TS_TCP_CLOSE, 40 * US);
	id = s.ev[0];
	assert_int_equal(conn_table__init(&t, 16), 0);
	conn_table__set_sink(&t, on_end, &k);
	assert_non_null(conn_table__seed(&t, &id, TS_TCP_CLOSE_WAIT, 1 * MS, true));
	for (int i = 0; i < s.n; i++)
		conn_table__apply(&t, &s.ev[i]);
	conn_table__drain(&t);
	conn_table__free(&t);
	assert_int_equal(k.n, 1);
	assert_true(k.out[0].l.missing & LC_MISS_BIRTH);
	assert_false(k.out[0].l.complete);
	assert_int_equal(k.out[0].l.closed_by, CLOSED_BY_PEER);
	assert_int_equal(k.out[0].l.end, END_GRACEFUL);
	/* CLOSE_WAIT's entry is only bounded: no duration. */
	assert_int_equal(k.out[0].l.visits[0].state, TS_TCP_CLOSE_WAIT);
	assert_false(k.out[0].l.visits[0].dur_known);
	assert_int_equal(k.out[0].l.visits[1].dur_ns, 40 * US);
}

/* A late record after CLOSE joins within the round; a reconnect on the
 * same cookie starts a second lifecycle. */
static void late_and_reborn(void **state_)
{
	struct stream s;
	struct sink k;
	int idx[32];

	client_stream(&s);
	for (int i = 0; i < s.n; i++)
		idx[i] = i;
	/* the TIME_WAIT entry arrives after the end */
	idx[5] = 6;
	idx[6] = 5;
	run(&s, idx, 16, &k);
	assert_int_equal(k.n, 1);
	assert_true(k.out[0].l.complete);

	client_stream(&s);
	st(&s, 80000 * MS, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	run(&s, NULL, 16, &k);
	assert_int_equal(k.n, 2);
	assert_true(k.out[0].l.complete);
	assert_int_equal(k.out[1].why, CONN_EXIT_OPEN);
	assert_int_equal(k.out[1].l.start_ns, 80000 * MS);
}

static void stats_count(void **state_)
{
	struct lifecycle_stats st_ = { 0 };
	struct stream s;
	struct sink k;

	client_stream(&s);
	run(&s, NULL, 16, &k);
	lifecycle_stats__add(&st_, &k.out[0].l);
	s.n = 3;
	run(&s, NULL, 16, &k);
	lifecycle_stats__add(&st_, &k.out[0].l);
	assert_int_equal(st_.total, 2);
	assert_int_equal(st_.incomplete, 1);
	assert_int_equal(st_.by_role[ROLE_CLIENT], 2);
	assert_int_equal(st_.by_end[END_GRACEFUL], 1);
	assert_int_equal(st_.by_end[END_NONE], 1);
	assert_int_equal(st_.by_missing[4], 1);
	assert_string_equal(lifecycle_missing__name(4), "open");
	assert_null(conn_end__name(END_NONE));
	assert_string_equal(conn_end__name(END_RESET_RECEIVED), "reset_received");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(active_close),
		cmocka_unit_test(passive_close),
		cmocka_unit_test(simultaneous_close),
		cmocka_unit_test(half_close),
		cmocka_unit_test(abortive),
		cmocka_unit_test(connect_fails),
		cmocka_unit_test(fork_inherited),
		cmocka_unit_test(timewait_reused),
		cmocka_unit_test(listener),
		cmocka_unit_test(reordered),
		cmocka_unit_test(missing_transition),
		cmocka_unit_test(handoff_from_dump),
		cmocka_unit_test(missing_birth),
		cmocka_unit_test(dropped_records),
		cmocka_unit_test(still_open_at_exit),
		cmocka_unit_test(eviction),
		cmocka_unit_test(seeded),
		cmocka_unit_test(late_and_reborn),
		cmocka_unit_test(stats_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The engine, driven as a source drives it: records in, JSON lines out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"
#include "tcp_names.h"
#include "u64_set.h"

#define SEC 1000000000ULL

struct fx {
	char *buf;
	size_t len;
	FILE *f;
	struct output out;
	struct engine *e;
};

static void fx_open(struct fx *x, const struct holder_finder *holders, uint64_t alert_after_ns)
{
	struct engine_opts eo = { .conn_cap = 1024, .alert_after_ns = alert_after_ns,
				  .holders = holders };

	memset(x, 0, sizeof(*x));
	x->f = open_memstream(&x->buf, &x->len);
	assert_non_null(x->f);
	output__init(&x->out, x->f, true, false);
	assert_int_equal(engine__new(&x->e, &eo, &x->out), 0);
	engine__start(x->e, SEC);
}

static void fx_close(struct fx *x)
{
	engine__free(x->e);
	output__free(&x->out);
	fclose(x->f);
	free(x->buf);
}

/* The n-th line of type `type` written so far (0 first), or NULL. */
static json_t *line_of(struct fx *x, const char *type, int n)
{
	char *save = NULL, *copy;
	json_t *hit = NULL;

	fflush(x->f);
	copy = strndup(x->buf, x->len);
	for (char *l = strtok_r(copy, "\n", &save); l && !hit; l = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(l, 0, NULL);

		assert_non_null(j);	/* every line is valid JSON */
		if (strcmp(json_string_value(json_object_get(j, "type")), type) == 0 && n-- == 0)
			hit = j;
		else
			json_decref(j);
	}
	free(copy);
	return hit;
}

static struct ts_event rec_state(uint64_t cookie, uint64_t at, uint8_t from, uint8_t to)
{
	struct ts_event e = { .type = TS_EV_STATE, .mono_ns = at, .cookie = cookie,
			      .oldstate = from, .newstate = to, .family = AF_INET,
			      .sport = 8080, .dport = 50000, .ino = 4242, .fd = -1 };

	inet_pton(AF_INET, "127.0.0.1", e.saddr);
	inet_pton(AF_INET, "127.0.0.1", e.daddr);
	return e;
}

/* A server connection the peer closed at 2 s, still open. */
static void feed_close_wait(struct fx *x)
{
	struct ts_event a = rec_state(7, SEC + 1000, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
			b = rec_state(7, 2 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);

	assert_int_equal(engine__feed(x->e, &a), 0);
	assert_int_equal(engine__feed(x->e, &b), 0);
}

/* A holder scan as the engine sees one: every socket held by pid 77 as
 * fd 5 (or /proc unreadable), over at once or only once `over` is set. */
struct fake_scan {
	struct holder_finder f;
	int err;		/* the scan's result */
	bool slow;		/* not over until over is set (or waited for) */
	bool over, running;
	int starts;
	struct holder_query *q;
	int n;
};

static int by_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct holder_query *)a)->ino;
	uint64_t y = ((const struct holder_query *)b)->ino;

	return x < y ? -1 : x > y;
}

static int fake_start(void *ctx, struct holder_query *q, int n)
{
	struct fake_scan *s = ctx;

	assert_false(s->running);	/* one scan at a time */
	s->running = true;
	s->over = !s->slow;
	s->q = q;
	s->n = n;
	s->starts++;
	return 0;
}

static bool fake_take(void *ctx, bool wait, int *err, struct holder_scan_stats *st)
{
	struct fake_scan *s = ctx;

	if (!s->running || (!s->over && !wait))
		return false;
	qsort(s->q, (size_t)s->n, sizeof(*s->q), by_ino);	/* as holders__scan */
	for (int i = 0; i < s->n; i++) {
		s->q[i].n = s->err ? 0 : 1;
		s->q[i].h[0] = (struct holder){ .pid = 77, .ppid = 1, .fd = 5, .comm = "worker" };
	}
	s->running = false;
	*err = s->err;
	*st = (struct holder_scan_stats){ .scans = 1, .procs = 3, .fds = 10, .ns = 5,
					  .max_ns = 5 };
	return true;
}

static struct holder_finder *fake_scan(struct fake_scan *s, int err, bool slow)
{
	*s = (struct fake_scan){ .err = err, .slow = slow };
	s->f = (struct holder_finder){ .start = fake_start, .take = fake_take, .ctx = s };
	return &s->f;
}

/* The alert on a connection 4 s in CLOSE_WAIT, with these holders. */
static json_t *alert_with(const struct holder_finder *holders)
{
	struct fx x;
	json_t *a;

	fx_open(&x, holders, 3 * SEC);
	feed_close_wait(&x);
	assert_int_equal(engine__tick(x.e, 6 * SEC), 0);
	assert_int_equal(engine__tick(x.e, 6 * SEC + 100), 0);	/* the scan taken */
	a = line_of(&x, "alert", 0);
	assert_non_null(a);
	fx_close(&x);
	return a;
}

static void alert_without_proc_says_unknown(void **state)
{
	struct fake_scan s;
	json_t *a = alert_with(fake_scan(&s, -EACCES, false));
	const char *diag = json_string_value(json_object_get(a, "diagnosis"));

	assert_true(json_is_null(json_object_get(a, "holders")));
	assert_true(json_is_null(json_object_get(a, "holders_total")));
	assert_non_null(strstr(diag, "not known"));
	assert_null(strstr(diag, "no process"));
	json_decref(a);
}

static void alert_in_replay_does_not_look(void **state)
{
	json_t *a = alert_with(NULL);

	assert_true(json_is_null(json_object_get(a, "holders_total")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "diagnosis")), "a replay"));
	json_decref(a);
}

/* The scan looks a second ahead: at 4 s (2 s in CLOSE_WAIT of 3) it
 * looks, and the alert comes when the threshold passes. */
static void alert_names_the_holder(void **state)
{
	struct fake_scan s;
	struct fx x;
	json_t *a, *h;

	fx_open(&x, fake_scan(&s, 0, false), 3 * SEC);
	feed_close_wait(&x);
	assert_int_equal(engine__tick(x.e, 4 * SEC), 0);
	assert_int_equal(s.starts, 1);
	assert_null(line_of(&x, "alert", 0));	/* 2 s in CLOSE_WAIT: not yet */
	assert_int_equal(engine__tick(x.e, 5 * SEC), 0);
	assert_int_equal(s.starts, 1);
	a = line_of(&x, "alert", 0);
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(a, "age_ns")), 3 * SEC);
	assert_int_equal(json_integer_value(json_object_get(a, "holders_total")), 1);
	h = json_array_get(json_object_get(a, "holders"), 0);
	assert_int_equal(json_integer_value(json_object_get(h, "pid")), 77);
	assert_non_null(strstr(json_string_value(json_object_get(a, "diagnosis")), "pid 77"));
	json_decref(a);
	fx_close(&x);
}

/* A connection with this cookie and server port in CLOSE_WAIT from at. */
static void feed_close_wait_at(struct fx *x, uint64_t cookie, uint64_t at)
{
	struct ts_event a = rec_state(cookie, at - 1000, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
			b = rec_state(cookie, at, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);

	a.ino = b.ino = 1000 + cookie;
	a.dport = b.dport = (uint16_t)(40000 + cookie);
	assert_int_equal(engine__feed(x->e, &a), 0);
	assert_int_equal(engine__feed(x->e, &b), 0);
}

/* A leak of one socket a round: scans at most once a second, and each
 * alert within a round of its threshold, naming its holder. */
static void leak_scans_once_a_second(void **state)
{
	struct fake_scan s;
	struct fx x;
	json_t *sum;
	uint64_t t;
	int n = 0;

	fx_open(&x, fake_scan(&s, 0, false), 3 * SEC);
	for (t = 2 * SEC; t <= 9 * SEC; t += ENGINE_ROUND_NS) {
		if (t < 6 * SEC)
			feed_close_wait_at(&x, 1 + (t - 2 * SEC) / ENGINE_ROUND_NS, t - 50000000);
		assert_int_equal(engine__tick(x.e, t), 0);
	}
	for (json_t *a; (a = line_of(&x, "alert", n)); n++) {
		json_int_t age = json_integer_value(json_object_get(a, "age_ns"));

		assert_true(age >= (json_int_t)(3 * SEC) && age <= (json_int_t)(3 * SEC + ENGINE_ROUND_NS));
		assert_int_equal(json_integer_value(json_object_get(a, "holders_total")), 1);
		json_decref(a);
	}
	assert_int_equal(n, 40);
	assert_true(s.starts >= 4 && s.starts <= 7);	/* 7 s of ticks */
	assert_int_equal(engine__finish(x.e, 9 * SEC), 0);
	sum = line_of(&x, "summary", 0);
	assert_int_equal(json_integer_value(json_object_get(sum, "holder_scans")), s.starts);
	assert_int_equal(json_integer_value(json_object_get(sum, "holder_scan_fds")), 10 * s.starts);
	json_decref(sum);
	fx_close(&x);
}

/* A scan that takes long holds up the alerts, not the rounds: none starts
 * beside it, and its alerts come at the round after it ends. */
static void slow_scan_holds_only_the_alerts(void **state)
{
	struct fake_scan s;
	struct fx x;
	json_t *a;

	fx_open(&x, fake_scan(&s, 0, true), 3 * SEC);
	feed_close_wait(&x);
	for (uint64_t t = 5 * SEC; t < 8 * SEC; t += ENGINE_ROUND_NS)
		assert_int_equal(engine__tick(x.e, t), 0);
	assert_int_equal(s.starts, 1);
	assert_null(line_of(&x, "alert", 0));
	s.over = true;
	assert_int_equal(engine__tick(x.e, 8 * SEC), 0);
	a = line_of(&x, "alert", 0);
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(a, "age_ns")), 6 * SEC);
	json_decref(a);
	fx_close(&x);
}

/* The run ends while a scan runs: it is waited for, and its due alerts
 * come before the summary. */
static void finish_waits_for_the_scan(void **state)
{
	struct fake_scan s;
	struct fx x;
	json_t *a;

	fx_open(&x, fake_scan(&s, 0, true), 3 * SEC);
	feed_close_wait(&x);
	assert_int_equal(engine__tick(x.e, 5 * SEC), 0);
	assert_null(line_of(&x, "alert", 0));
	assert_int_equal(engine__finish(x.e, 5 * SEC + 1), 0);
	a = line_of(&x, "alert", 0);
	assert_non_null(a);
	json_decref(a);
	a = line_of(&x, "summary", 0);
	assert_int_equal(json_integer_value(json_object_get(a, "holder_scans")), 1);
	json_decref(a);
	fx_close(&x);
}

/* Looked for ahead, then out of CLOSE_WAIT before the threshold: no
 * alert. */
static void left_before_the_threshold_no_alert(void **state)
{
	struct fake_scan s;
	struct fx x;
	struct ts_event last_ack = rec_state(7, 4 * SEC + 500, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK);

	fx_open(&x, fake_scan(&s, 0, false), 3 * SEC);
	feed_close_wait(&x);
	assert_int_equal(engine__tick(x.e, 4 * SEC), 0);
	assert_int_equal(s.starts, 1);
	assert_int_equal(engine__feed(x.e, &last_ack), 0);
	for (uint64_t t = 4 * SEC + ENGINE_ROUND_NS; t < 7 * SEC; t += ENGINE_ROUND_NS)
		assert_int_equal(engine__tick(x.e, t), 0);
	assert_null(line_of(&x, "alert", 0));
	fx_close(&x);
}

/* A close() after its scan began: the holders it found may be gone (the
 * closer's own descriptor), so the alert waits for the next scan. */
static void close_after_the_scan_looks_again(void **state)
{
	struct fake_scan s;
	struct fx x;
	struct ts_event cl = rec_state(7, 4 * SEC + 500, 0, 0);
	json_t *a;

	cl.type = TS_EV_CLOSE;
	cl.pid = 10;
	cl.fd = 5;
	cl.refs = 2;
	cl.via = TS_VIA_CLOSE;
	fx_open(&x, fake_scan(&s, 0, false), 3 * SEC);
	feed_close_wait(&x);
	assert_int_equal(engine__tick(x.e, 4 * SEC), 0);
	assert_int_equal(engine__feed(x.e, &cl), 0);
	assert_int_equal(engine__tick(x.e, 5 * SEC), 0);
	assert_int_equal(s.starts, 2);
	assert_null(line_of(&x, "alert", 0));	/* the second scan runs */
	assert_int_equal(engine__tick(x.e, 5 * SEC + ENGINE_ROUND_NS), 0);
	a = line_of(&x, "alert", 0);
	assert_non_null(a);
	assert_non_null(strstr(json_string_value(json_object_get(a, "diagnosis")), "called close()"));
	json_decref(a);
	fx_close(&x);
}

static struct ts_event tw_end(uint64_t cookie, uint64_t at, uint8_t type)
{
	struct ts_event e = rec_state(cookie, at, TS_TCP_TIME_WAIT, TS_TCP_CLOSE);

	e.type = type;
	e.flags = TS_EVF_TIMEWAIT | TS_EVF_TENTATIVE;
	e.tw_reason = TS_TW_KILLED;
	return e;
}

/* An early TIME_WAIT end waits out the next round; a re-arm then undoes it. */
static void tentative_end_held_a_round(void **state)
{
	struct fx x;
	struct ts_event a = tw_end(7, 2 * SEC, TS_EV_STATE), b = tw_end(8, 2 * SEC, TS_EV_STATE),
			rearm = tw_end(8, 2 * SEC + 1000, TS_EV_TW_REARM);
	json_t *l;

	fx_open(&x, NULL, 0);
	assert_int_equal(engine__feed(x.e, &a), 0);
	assert_int_equal(engine__feed(x.e, &b), 0);
	assert_int_equal(engine__tick(x.e, 2 * SEC + ENGINE_ROUND_NS), 0);
	assert_null(line_of(&x, "state", 0));		/* its own round: held */
	assert_int_equal(engine__feed(x.e, &rearm), 0);
	assert_int_equal(engine__tick(x.e, 2 * SEC + 2 * ENGINE_ROUND_NS), 0);
	l = line_of(&x, "state", 0);
	assert_non_null(l);
	assert_int_equal(json_integer_value(json_object_get(l, "cookie")), 7);
	json_decref(l);
	assert_null(line_of(&x, "state", 1));		/* 8 was moved, not killed */
	assert_int_equal(engine__summary(x.e)->internal, 1);
	fx_close(&x);
}

static void finish_counts_every_record(void **state)
{
	struct fx x;
	struct ts_event bad = rec_state(9, 2 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);
	json_t *s;

	fx_open(&x, NULL, 0);
	feed_close_wait(&x);
	bad.type = TS_EV__MAX + 1;
	assert_int_equal(engine__feed(x.e, &bad), 0);
	assert_int_equal(engine__finish(x.e, 3 * SEC), 0);
	s = line_of(&x, "summary", 0);
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "events")), 3);
	assert_int_equal(json_integer_value(json_object_get(s, "malformed")), 1);
	assert_int_equal(json_integer_value(json_object_get(s, "transitions")), 2);
	json_decref(s);
	assert_null(line_of(&x, "state", 2));		/* the bad one was not printed */
	fx_close(&x);
}

/* After a loss, the kernel no longer has connection 7: it ends as gone,
 * and its timeline says so; 8 is alive and stays open, and so does one the
 * tracer knows by a made-up cookie, matched by its addresses and ports. */
static void reconcile_ends_the_gone(void **state)
{
	struct ts_event a = rec_state(7, 2 * SEC, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED),
			b = rec_state(8, 2 * SEC, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED),
			m = rec_state(TS_SYNTH_COOKIE_BIT | 5, 2 * SEC, TS_TCP_SYN_SENT,
				      TS_TCP_ESTABLISHED);
	uint64_t alive[] = { 8, sock_key__of(&m) };
	struct sock_census k = { .alive = alive, .nalive = 2 };
	struct fx x;
	json_t *s, *c;

	fx_open(&x, NULL, 0);
	m.flags = TS_EVF_SYNTH_COOKIE;
	assert_int_equal(engine__feed(x.e, &a), 0);
	assert_int_equal(engine__feed(x.e, &b), 0);
	assert_int_equal(engine__feed(x.e, &m), 0);
	qsort(alive, 2, sizeof(alive[0]), u64_set__cmp);
	assert_int_equal(engine__reconcile(x.e, &k, 3 * SEC), 1);
	assert_int_equal(engine__reconcile(x.e, &k, 3 * SEC), 0);
	assert_int_equal(engine__finish(x.e, 4 * SEC), 0);
	s = line_of(&x, "summary", 0);
	assert_non_null(s);
	c = json_object_get(s, "connections");
	assert_int_equal(json_integer_value(json_object_get(c, "open")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "missing"),
							    "gone")), 1);
	json_decref(s);
	/* The stream says it too: one gone line, for 7, in its last state. */
	s = line_of(&x, "gone", 0);
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(s, "cookie")), 7);
	assert_int_equal(json_integer_value(json_object_get(s, "mono_ns")), 3 * SEC);
	assert_int_equal(json_integer_value(json_object_get(s, "sport")), 8080);
	assert_string_equal(json_string_value(json_object_get(s, "last_state")), "ESTABLISHED");
	json_decref(s);
	assert_null(line_of(&x, "gone", 1));
	fx_close(&x);
}

/* The kernel holds 9, 10 and 14 as timewait sockets, but what they did
 * there never came: each enters the state the dump shows at the dump's
 * time, marked from the dump: 9 TIME_WAIT, 10 FIN_WAIT2 (the FIN_WAIT2
 * substate is FIN_WAIT2, as ss says), 14 TIME_WAIT (the peer's FIN moved
 * its timer unseen). 11's handoff came; 12 is not a timewait socket; 13
 * is in FIN_WAIT2 as the dump says. The summary counts them apart from
 * the kernel's records. Nothing changes twice. */
static void reconcile_enters_timewait(void **state)
{
	struct ts_event ev[] = {
		rec_state(9, 2 * SEC, TS_TCP_FIN_WAIT1, TS_TCP_CLOSING),
		rec_state(10, 2 * SEC, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1),
		rec_state(11, 2 * SEC, TS_TCP_CLOSING, TS_TCP_TIME_WAIT),
		rec_state(12, 2 * SEC, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1),
		rec_state(13, 2 * SEC, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2),
		rec_state(14, 2 * SEC, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2),
	};
	static const struct { uint64_t cookie; const char *old, *new, *sub; } want[] = {
		{ 9, "CLOSING", "TIME_WAIT", "TIME_WAIT" },
		{ 10, "FIN_WAIT1", "FIN_WAIT2", "FIN_WAIT2" },
		{ 14, "FIN_WAIT2", "TIME_WAIT", "TIME_WAIT" },
	};
	uint64_t alive[] = { 9, 10, 11, 12, 13, 14 }, tw[] = { 9, 11, 14 }, fin2[] = { 10, 13 };
	struct sock_census k = { alive, 6, tw, 3, fin2, 2, NULL, 0 };
	struct fx x;
	json_t *s;

	fx_open(&x, NULL, 0);
	ev[2].flags = TS_EVF_TIMEWAIT;
	ev[2].tw_substate = TS_TCP_TIME_WAIT;
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(engine__feed(x.e, &ev[i]), 0);
	assert_int_equal(engine__reconcile(x.e, &k, 3 * SEC), 3);
	assert_int_equal(engine__reconcile(x.e, &k, 4 * SEC), 0);
	assert_int_equal(engine__finish(x.e, 5 * SEC), 0);
	for (int n = 0; n < 3; n++) {
		s = line_of(&x, "state", 6 + n);
		assert_non_null(s);
		assert_int_equal(json_integer_value(json_object_get(s, "cookie")), want[n].cookie);
		assert_int_equal(json_integer_value(json_object_get(s, "mono_ns")), 3 * SEC);
		assert_string_equal(json_string_value(json_object_get(s, "old")), want[n].old);
		assert_string_equal(json_string_value(json_object_get(s, "new")), want[n].new);
		assert_string_equal(json_string_value(json_object_get(s, "tw_substate")),
				    want[n].sub);
		assert_null(json_object_get(s, "gap"));
		assert_true(json_is_true(json_object_get(s, "from_dump")));
		assert_true(json_is_null(json_object_get(s, "prev_state_ns")));
		json_decref(s);
	}
	assert_null(line_of(&x, "state", 9));
	s = line_of(&x, "summary", 0);
	assert_int_equal(json_integer_value(json_object_get(s, "from_dump")), 3);
	assert_int_equal(json_integer_value(json_object_get(s, "events")), 6);
	json_decref(s);
	fx_close(&x);
}

/* A timewait socket's end that says its FIN came unseen (the timer moved
 * silently): FIN_WAIT2 -> TIME_WAIT is reported first, at the moment the
 * end's prev_state_ns gives, timed from FIN_WAIT2's entry, both marked
 * derived; the summary counts it apart from the kernel's records. A
 * connection already in TIME_WAIT gets no such record. */
static void derived_fin_before_the_end(void **state)
{
	struct ts_event a = rec_state(5, 2 * SEC, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2),
			end = rec_state(5, 65 * SEC, TS_TCP_TIME_WAIT, TS_TCP_CLOSE);
	struct fx x;
	json_t *s;

	fx_open(&x, NULL, 0);
	end.flags = TS_EVF_TIMEWAIT | TS_EVF_DERIVED | TS_EVF_PREV_KNOWN;
	end.prev_state_ns = 60 * SEC;
	end.tw_substate = TS_TCP_TIME_WAIT;
	end.tw_reason = TS_TW_EXPIRED;
	assert_int_equal(engine__feed(x.e, &a), 0);
	assert_int_equal(engine__feed(x.e, &end), 0);
	end.cookie = 6;		/* no FIN_WAIT2 seen: the end alone */
	assert_int_equal(engine__feed(x.e, &end), 0);
	assert_int_equal(engine__finish(x.e, 70 * SEC), 0);
	s = line_of(&x, "state", 1);
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "old")), "FIN_WAIT2");
	assert_string_equal(json_string_value(json_object_get(s, "new")), "TIME_WAIT");
	assert_int_equal(json_integer_value(json_object_get(s, "mono_ns")), 5 * SEC);
	assert_int_equal(json_integer_value(json_object_get(s, "prev_state_ns")), 3 * SEC);
	assert_true(json_is_true(json_object_get(s, "derived")));
	json_decref(s);
	s = line_of(&x, "state", 2);
	assert_string_equal(json_string_value(json_object_get(s, "old")), "TIME_WAIT");
	assert_true(json_is_true(json_object_get(s, "derived")));
	json_decref(s);
	s = line_of(&x, "state", 3);
	assert_int_equal(json_integer_value(json_object_get(s, "cookie")), 6);
	assert_string_equal(json_string_value(json_object_get(s, "old")), "TIME_WAIT");
	json_decref(s);
	assert_null(line_of(&x, "state", 4));
	s = line_of(&x, "summary", 0);
	assert_int_equal(json_integer_value(json_object_get(s, "derived")), 1);
	assert_int_equal(json_integer_value(json_object_get(s, "events")), 3);
	json_decref(s);
	fx_close(&x);
}

/* A FIN_WAIT2 connection whose timewait socket a dump finds in TIME_WAIT:
 * FIN_WAIT2 -> TIME_WAIT at the moment the dump's timer gives (derived, a
 * known entry); the socket's end, derived from the same timer, is timed
 * from that one moment. */
static void reconcile_times_the_fin_from_the_timer(void **state)
{
	struct ts_event a = rec_state(15, 2 * SEC, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2),
			end = rec_state(15, 62 * SEC + SEC / 2, TS_TCP_TIME_WAIT, TS_TCP_CLOSE);
	uint64_t alive[] = { 15 }, tw[] = { 15 };
	struct tw_since since[] = { { 15, 2 * SEC + SEC / 2 } };
	struct sock_census k = { alive, 1, tw, 1, NULL, 0, since, 1 };
	struct fx x;
	json_t *s;

	fx_open(&x, NULL, 0);
	assert_int_equal(engine__feed(x.e, &a), 0);
	assert_int_equal(engine__reconcile(x.e, &k, 3 * SEC), 1);
	end.flags = TS_EVF_TIMEWAIT | TS_EVF_DERIVED | TS_EVF_PREV_KNOWN;
	end.prev_state_ns = 60 * SEC - 3000000;	/* a jiffy off the dump's */
	end.tw_substate = TS_TCP_TIME_WAIT;
	end.tw_reason = TS_TW_EXPIRED;
	assert_int_equal(engine__feed(x.e, &end), 0);
	assert_int_equal(engine__finish(x.e, 70 * SEC), 0);
	s = line_of(&x, "state", 1);
	assert_string_equal(json_string_value(json_object_get(s, "old")), "FIN_WAIT2");
	assert_string_equal(json_string_value(json_object_get(s, "new")), "TIME_WAIT");
	assert_int_equal(json_integer_value(json_object_get(s, "mono_ns")), 2 * SEC + SEC / 2);
	assert_int_equal(json_integer_value(json_object_get(s, "prev_state_ns")), SEC / 2);
	assert_true(json_is_true(json_object_get(s, "derived")));
	json_decref(s);
	s = line_of(&x, "state", 2);
	assert_string_equal(json_string_value(json_object_get(s, "old")), "TIME_WAIT");
	assert_int_equal(json_integer_value(json_object_get(s, "prev_state_ns")), 60 * SEC);
	json_decref(s);
	assert_null(line_of(&x, "state", 3));
	fx_close(&x);
}

/* A ring record with the socket's identity and owner. */
static struct ts_wire_full wire_full(uint64_t cookie, uint64_t at, uint8_t from, uint8_t to)
{
	struct ts_wire_full f;

	memset(&f, 0, sizeof(f));
	f.w = (struct ts_wire){ .type = TS_EV_STATE, .mono_ns = at, .cookie = cookie,
				.oldstate = from, .newstate = to,
				.wflags = TS_WF_IDENT | TS_WF_OWNER };
	f.o = (struct ts_wire_owner){ .pid = 42, .owner_src = TS_OWNER_SYSCALL, .comm = "server" };
	f.id = (struct ts_wire_ident){ .family = AF_INET, .sport = 8080, .dport = 51000, .ino = 99 };
	inet_pton(AF_INET, "127.0.0.1", f.id.saddr);
	inet_pton(AF_INET, "127.0.0.1", f.id.daddr);
	return f;
}

static struct ts_wire wire_head(uint64_t cookie, uint64_t at, uint8_t from, uint8_t to)
{
	return (struct ts_wire){ .type = TS_EV_STATE, .mono_ns = at, .cookie = cookie,
				 .oldstate = from, .newstate = to };
}

static void assert_line_is(struct fx *x, int n, int sport, int pid)
{
	json_t *l = line_of(x, "state", n);

	assert_non_null(l);
	assert_int_equal(json_integer_value(json_object_get(l, "sport")), sport);
	if (pid)
		assert_int_equal(json_integer_value(json_object_get(l, "pid")), pid);
	else
		assert_true(json_is_null(json_object_get(l, "pid")));
	json_decref(l);
}

/* The ring leaves out what the connection table already knows: a head
 * alone prints whole; a port of 0 (connect() had not picked one) does not
 * wipe a known one; once the connection has ended and left, a head alone
 * has no identity, and the summary counts it. */
static void ring_records_take_identity_from_the_table(void **state)
{
	struct ts_wire_full a = wire_full(7, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
			    c = wire_full(7, 3 * SEC, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK);
	struct ts_wire b = wire_head(7, 2 * SEC + 5, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT),
		       d = wire_head(7, 3 * SEC + 5, TS_TCP_LAST_ACK, TS_TCP_CLOSE),
		       late = wire_head(7, 9 * SEC, TS_TCP_LAST_ACK, TS_TCP_CLOSE);
	struct fx x;

	fx_open(&x, NULL, 0);
	assert_int_equal(engine__feed_wire(x.e, &a, sizeof(a)), 0);
	assert_int_equal(engine__feed_wire(x.e, &b, sizeof(b)), 0);
	c.id.sport = 0;
	c.id.ino = 0;
	assert_int_equal(engine__feed_wire(x.e, &c, sizeof(c)), 0);
	assert_int_equal(engine__feed_wire(x.e, &d, sizeof(d)), 0);
	assert_int_equal(engine__feed_wire(x.e, &late, sizeof(late)), 0);
	assert_int_equal(engine__feed_wire(x.e, &late, sizeof(late) - 1), 0);
	assert_int_equal(engine__tick(x.e, 10 * SEC), 0);
	assert_line_is(&x, 0, 8080, 42);
	assert_line_is(&x, 1, 8080, 42);
	assert_line_is(&x, 2, 0, 42);		/* as the kernel said */
	assert_line_is(&x, 3, 8080, 42);
	assert_line_is(&x, 4, 0, 0);
	assert_null(line_of(&x, "state", 5));
	assert_int_equal(engine__summary(x.e)->unidentified, 1);
	assert_int_equal(engine__summary(x.e)->malformed, 1);
	fx_close(&x);
}

/* A close of a socket the tracer first meets there (open before tracing)
 * starts its connection: the transitions that follow rely on its identity.
 * The close's caller is not taken for the owner. */
static void close_first_names_a_live_socket(void **state)
{
	struct ts_wire_full c = wire_full(11, 2 * SEC, 0, TS_TCP_ESTABLISHED);
	struct ts_wire w = wire_head(11, 2 * SEC + 5, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1);
	struct fx x;

	fx_open(&x, NULL, 0);
	c.w.type = TS_EV_CLOSE;
	c.w.fd = 3;
	c.w.refs = 1;
	c.w.final = 1;
	c.w.arg = TS_VIA_CLOSE;
	assert_int_equal(engine__feed_wire(x.e, &c, sizeof(c)), 0);
	assert_int_equal(engine__feed_wire(x.e, &w, sizeof(w)), 0);
	assert_int_equal(engine__tick(x.e, 3 * SEC), 0);
	assert_line_is(&x, 0, 8080, 0);
	assert_int_equal(engine__summary(x.e)->unidentified, 0);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alert_without_proc_says_unknown),
		cmocka_unit_test(alert_in_replay_does_not_look),
		cmocka_unit_test(alert_names_the_holder),
		cmocka_unit_test(leak_scans_once_a_second),
		cmocka_unit_test(slow_scan_holds_only_the_alerts),
		cmocka_unit_test(finish_waits_for_the_scan),
		cmocka_unit_test(left_before_the_threshold_no_alert),
		cmocka_unit_test(close_after_the_scan_looks_again),
		cmocka_unit_test(tentative_end_held_a_round),
		cmocka_unit_test(finish_counts_every_record),
		cmocka_unit_test(ring_records_take_identity_from_the_table),
		cmocka_unit_test(close_first_names_a_live_socket),
		cmocka_unit_test(reconcile_ends_the_gone),
		cmocka_unit_test(reconcile_enters_timewait),
		cmocka_unit_test(derived_fin_before_the_end),
		cmocka_unit_test(reconcile_times_the_fin_from_the_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics, as the engine renders them: records in, the exposition text
 * out (through --metrics-file), checked line by line against the format
 * and against what the records said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "tcp_names.h"

#define SEC 1000000000ULL
#define MS 1000000ULL

struct fx {
	char dir[32], path[64];
	char *buf;
	size_t len;
	FILE *f;
	struct output out;
	struct engine *e;
	struct metrics_prog prog;
};

static int health(void *ctx, struct run_summary *s, struct metrics_prog *progs, int max)
{
	struct fx *x = ctx;

	s->stats[TS_STAT_DROPPED] = 3;
	progs[0] = x->prog;
	return 1;
}

/* --metrics-labels for the next fx_open(); 0: the default. */
static unsigned labels;

static void fx_open(struct fx *x)
{
	struct engine_opts eo = { .conn_cap = 1024, .alert_after_ns = 5 * SEC,
				  .metrics_file_ns = SEC, .health = health, .health_ctx = x,
				  .metrics_labels = labels };

	memset(x, 0, sizeof(*x));
	strcpy(x->dir, "/tmp/tcpst-mtest-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->path, sizeof(x->path), "%s/m.prom", x->dir);
	eo.metrics_file = x->path;
	snprintf(x->prog.name, sizeof(x->prog.name), "state_btf");
	x->prog.run_ns = 1500000000ULL;
	x->f = open_memstream(&x->buf, &x->len);
	assert_non_null(x->f);
	output__init(&x->out, x->f, true, false);
	assert_int_equal(engine__new(&x->e, &eo, &x->out), 0);
	engine__start(x->e, SEC);
}

static char *fx_file(struct fx *x)
{
	FILE *f = fopen(x->path, "r");
	char *text = NULL;
	size_t cap = 0;

	assert_non_null(f);
	assert_true(getdelim(&text, &cap, '\0', f) > 0);
	fclose(f);
	return text;
}

/* A fresh engine fed the n records, then ticked (or finished) at now: the
 * metrics file it wrote. */
static char *fx_run(struct fx *x, const struct ts_event *r, size_t n, uint64_t now, bool finish)
{
	fx_open(x);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(engine__feed(x->e, &r[i]), 0);
	if (finish)
		assert_int_equal(engine__finish(x->e, now), 0);
	else
		assert_int_equal(engine__tick(x->e, now), 0);
	return fx_file(x);
}

static void fx_close(struct fx *x)
{
	engine__free(x->e);
	output__free(&x->out);
	fclose(x->f);
	free(x->buf);
	unlink(x->path);
	rmdir(x->dir);
}

static struct ts_event rec(uint64_t cookie, uint64_t at, uint8_t from, uint8_t to,
			   const char *comm)
{
	struct ts_event e = { .type = TS_EV_STATE, .mono_ns = at, .cookie = cookie,
			      .oldstate = from, .newstate = to, .family = AF_INET,
			      .sport = 8080, .dport = 50000, .fd = -1,
			      .flags = TS_EVF_PREV_KNOWN, .prev_state_ns = 10 * MS };

	if (comm) {
		e.pid = 42;
		e.owner_src = TS_OWNER_SYSCALL;
		memcpy(e.comm, comm, strnlen(comm, sizeof(e.comm)));
	}
	inet_pton(AF_INET, "127.0.0.1", e.saddr);
	inet_pton(AF_INET, "127.0.0.1", e.daddr);
	return e;
}

/* The value of the line that starts with series and a space; -1 if none. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* Every line is a comment (# HELP, # TYPE, each family once) or
 * name{labels} value with a name the last TYPE announced. */
static void well_formed(const char *text)
{
	char family[128] = "", *copy = strdup(text), *save = NULL;
	int types = 0, helps = 0;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "# HELP ", 7) == 0) {
			helps++;
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(l + 7, "%127s", family), 1);
			assert_null(strstr(strstr(text, l) + 1, l));	/* once */
			types++;
			continue;
		}
		assert_int_equal(strncmp(l, family, strlen(family)), 0);
		assert_non_null(strrchr(l, ' '));
		assert_true(strrchr(l, ' ')[1] == '-' || strrchr(l, ' ')[1] == '+' ||
			    (strrchr(l, ' ')[1] >= '0' && strrchr(l, ' ')[1] <= '9'));
	}
	assert_int_equal(types, helps);
	assert_true(types > 10);
	free(copy);
}

/* Two connections of a server named "web", one ended, one reset; the
 * counters, the histogram and the health lines say so. */
static void counts_and_histograms(void **state)
{
	struct fx x;
	struct ts_event r[] = {
		rec(1, 2 * SEC, TS_TCP_LISTEN, TS_TCP_SYN_RECV, "web"),
		rec(1, 2 * SEC + 1, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, "web"),
		rec(1, 3 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, "web"),
		rec(1, 3 * SEC + 10 * MS, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, "web"),
		rec(1, 3 * SEC + 11 * MS, TS_TCP_LAST_ACK, TS_TCP_CLOSE, "web"),
		rec(2, 4 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, "web"),
		rec(2, 4 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, "web"),
		{ 0 },	/* the reset, below */
	};
	struct ts_event rst = { .type = TS_EV_RESET, .mono_ns = 4 * SEC + 2, .cookie = 2,
				.reset_dir = TS_RESET_RECEIVED };
	char *text;

	r[7] = rst;
	text = fx_run(&x, r, 8, 5 * SEC, false);
	well_formed(text);
	assert_true(sample(text, "tcpstate_transitions_total{from=\"ESTABLISHED\",to=\"CLOSE_WAIT\"}") == 2);
	assert_true(sample(text, "tcpstate_connections{state=\"CLOSE_WAIT\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"web\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_oldest_seconds{comm=\"web\"}") == 1.0);
	assert_true(sample(text, "tcpstate_resets_total{direction=\"received\"}") == 1);
	assert_true(sample(text, "tcpstate_connections_ended_total{role=\"server\",end=\"graceful\"}") == 1);
	/* 10 ms in CLOSE_WAIT: below the 16.8 ms bound, not the 4.2 ms one. */
	assert_true(sample(text, "tcpstate_state_duration_seconds_bucket{state=\"CLOSE_WAIT\","
				 "comm=\"web\",le=\"0.004194303\"}") == 0);
	assert_true(sample(text, "tcpstate_state_duration_seconds_bucket{state=\"CLOSE_WAIT\","
				 "comm=\"web\",le=\"0.016777215\"}") == 1);
	assert_true(sample(text, "tcpstate_state_duration_seconds_bucket{state=\"CLOSE_WAIT\","
				 "comm=\"web\",le=\"+Inf\"}") == 1);
	assert_true(sample(text, "tcpstate_state_duration_seconds_sum{state=\"CLOSE_WAIT\","
				 "comm=\"web\"}") == 0.01);
	assert_true(sample(text, "tcpstate_events_total") == 8);
	assert_true(sample(text, "tcpstate_events_lost_total") == 3);
	assert_true(sample(text, "tcpstate_bpf_run_seconds_total{program=\"state_btf\"}") == 1.5);
	free(text);
	fx_close(&x);
}

/* A CLOSE_WAIT alert counts under its cause; a comm with a quote, a
 * backslash and a byte that is not UTF-8 stays one well-formed label (the
 * backslash doubled, the byte as \xff in the value). */
static void alerts_and_escaping(void **state)
{
	struct fx x;
	struct ts_event r[] = {
		rec(9, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, "a\"b\\c\xff"),
		rec(9, 2 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, "a\"b\\c\xff"),
	};
	char *text = fx_run(&x, r, 2, 8 * SEC, false);	/* past the 5 s alert */

	well_formed(text);
	assert_true(sample(text, "tcpstate_close_wait_alerts_total{comm=\"a\\\"b\\\\\\\\c\\\\xff\","
				 "cause=\"unknown\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"a\\\"b\\\\\\\\c\\\\xff\"}") == 1);
	free(text);
	fx_close(&x);
}

/* At the end the file is written once more and agrees with the summary. */
static void final_file_equals_summary(void **state)
{
	struct fx x;
	struct ts_event r[] = {
		rec(5, 2 * SEC, TS_TCP_CLOSE, TS_TCP_SYN_SENT, "cli"),
		rec(5, 2 * SEC + 5, TS_TCP_SYN_SENT, TS_TCP_CLOSE, "cli"),
	};
	char *text = fx_run(&x, r, 2, 3 * SEC, true);

	assert_true(sample(text, "tcpstate_events_total") == 2);
	assert_true(sample(text, "tcpstate_connections_ended_total{role=\"client\",end=\"timeout\"}") +
			    sample(text, "tcpstate_connections_ended_total{role=\"client\",end=\"abort\"}") +
			    sample(text, "tcpstate_connections_ended_total{role=\"client\",end=\"none\"}") ==
		    engine__summary(x.e)->conns.ended.total);
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"SYN_SENT\","
				 "comm=\"cli\"}") == 1);
	free(text);
	fx_close(&x);
}

/* The gauges kept as the table changes equal a walk of the table, through
 * evictions, alerts, seeds, reconnects and records out of order. */
static void gauges_equal_a_walk(void **state)
{
	static const uint8_t path[] = { TS_TCP_CLOSE, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED,
					TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, TS_TCP_FIN_WAIT1,
					TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT, TS_TCP_CLOSE };
	struct conn_table t;
	struct metrics m;
	uint64_t now = SEC;
	unsigned seed = 7;

	assert_int_equal(conn_table__init(&t, 300), 0);
	assert_int_equal(metrics__init(&m), 0);
	metrics__watch(&m, &t, 40000, 49999);
	for (int i = 0; i < 20000; i++) {
		uint64_t cookie = 1 + rand_r(&seed) % 500;
		int k = rand_r(&seed) % (sizeof(path) - 1);
		struct ts_event e = rec(cookie, now += 1000 - rand_r(&seed) % 1500, path[k],
					path[k + 1], rand_r(&seed) % 3 ? "web" : NULL);

		e.dport = 80 + cookie % 30;
		e.sport = 39990 + (uint16_t)(cookie % 40);
		if (i % 97 == 0) {
			conn_table__seed(&t, &e, TS_TCP_CLOSE_WAIT, now, true);
			continue;
		}
		conn_table__apply(&t, &e);
		conn_table__next_close_wait(&t, now, 50000);
		if (i % 50 == 0)
			conn_table__expire(&t, now - CONN_LATE_NS / 1000);
	}
	assert_true(t.evictions > 0);
	{
		uint64_t open[TS_TCP_MAX_STATES] = { 0 }, cw = 0;
		struct tw_group *g;
		struct tw_report r;
		size_t n;

		conn_table__for_each_open(&t, c)
			if (c->state > 0 && c->state < TS_TCP_MAX_STATES)
				open[c->state]++;
		conn_table__for_each_close_wait(&t, c) {
			assert_int_equal(c->state, TS_TCP_CLOSE_WAIT);
			cw++;
		}
		assert_memory_equal(open, m.open, sizeof(open));
		assert_true(open[TS_TCP_TIME_WAIT] > 0);
		assert_int_equal(cw, open[TS_TCP_CLOSE_WAIT]);
		assert_int_equal(tw_report__build(&r, &t, 40000, 49999), 0);
		assert_int_equal(tw_tally__sorted(&m.tw, &g, &n), 0);
		assert_int_equal(n, r.nremote);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(g[i].count, r.by_remote[i].count);
			assert_int_equal(g[i].ephemeral, r.by_remote[i].ephemeral);
			assert_int_equal(g[i].port, r.by_remote[i].port);
		}
		free(g);
		tw_report__free(&r);
	}
	conn_table__drain(&t);
	for (int s = 0; s < TS_TCP_MAX_STATES; s++)
		assert_int_equal(m.open[s], 0);
	metrics__free(&m);
	conn_table__free(&t);
}

/* --metrics-labels: container alone, or with comm. The engine here has no
 * cgroup names, so every owner's container is "" (in none); the unknown
 * owner is [unknown] in each label. */
static void label_choice(void **state)
{
	struct fx x;
	struct ts_event r[] = {
		rec(1, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, "web"),
		rec(1, 2 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, "web"),
		rec(2, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, NULL),
		rec(2, 2 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, NULL),
	};
	char *text;

	labels = LATENCY_KEY_CONTAINER;
	text = fx_run(&x, r, 4, 3 * SEC, false);
	well_formed(text);
	assert_true(sample(text, "tcpstate_close_wait_connections{container=\"\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{container=\"[unknown]\"}") == 1);
	assert_null(strstr(text, "comm="));
	free(text);
	fx_close(&x);
	labels = LATENCY_KEY_COMM | LATENCY_KEY_CONTAINER;
	text = fx_run(&x, r, 4, 3 * SEC, false);
	well_formed(text);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"web\",container=\"\"}") == 1);
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"ESTABLISHED\","
				 "comm=\"web\",container=\"\"}") == -1);	/* not a measured state */
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"[unknown]\","
				 "container=\"[unknown]\"}") == 1);
	free(text);
	fx_close(&x);
	labels = 0;
}

/* No two samples of the text have the same name and labels. */
static void no_duplicate_series(const char *text)
{
	char *copy = strdup(text), *save = NULL, *lines[20000];
	size_t n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l && n < 20000; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] == '#')
			continue;
		*strrchr(l, ' ') = '\0';
		lines[n++] = l;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(lines[i], lines[k]) == 0)
				fail_msg("duplicate series: %s", lines[i]);
	free(copy);
}

/* Owners named as the reserved groups, names whose invalid bytes differ,
 * one with the bytes of U+FFFD and one with a literal backslash: each a
 * series of its own, in either label set. */
static void owner_names_never_collide(void **state)
{
	static const char *const names[] = { "[other]", "[unknown]", "a\xfe", "a\xff",
					     "a\xef\xbf\xbd", "a\\xff", "a\\\\xff", "\\[other]" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct ts_event r[2 * N + 2];
	struct fx x;
	char *text;

	for (int i = 0; i < N; i++) {
		r[2 * i] = rec(10 + i, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, names[i]);
		r[2 * i + 1] = rec(10 + i, 2 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT,
				   names[i]);
	}
	r[2 * N] = rec(99, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, NULL);
	r[2 * N + 1] = rec(99, 2 * SEC + 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, NULL);
	for (unsigned l = 0; l < 2; l++) {
		labels = l ? LATENCY_KEY_COMM | LATENCY_KEY_CONTAINER : 0;
		text = fx_run(&x, r, 2 * N + 2, 3 * SEC, false);
		well_formed(text);
		no_duplicate_series(text);
		free(text);
		fx_close(&x);
	}
	labels = 0;
	text = fx_run(&x, r, 2 * N + 2, 3 * SEC, false);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"[other]\"}") == 0);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"\\\\[other]\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"[unknown]\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"\\\\[unknown]\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"a\\\\xfe\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"a\xef\xbf\xbd\"}") == 1);
	assert_true(sample(text, "tcpstate_close_wait_connections{comm=\"a\\\\\\\\xff\"}") == 1);
	free(text);
	fx_close(&x);
}

/* The engine ticked at now: the metrics file it wrote. */
static char *tick_file(struct fx *x, uint64_t now)
{
	assert_int_equal(engine__tick(x->e, now), 0);
	return fx_file(x);
}

/* More owners than there are groups, all of them idle for longer than
 * METRICS_OWNER_IDLE_NS: their series go, and a new owner gets a group
 * of its own, with none of the counts of the one whose place it takes. */
static void idle_owners_expire(void **state)
{
	enum { NAMES = LATENCY_GROUPS_MAX + 44 };
	uint64_t later = 2 * SEC + METRICS_OWNER_IDLE_NS + 5 * SEC;
	struct fx x;
	char *text, name[16];

	fx_open(&x);
	for (int i = 0; i < NAMES; i++) {
		struct ts_event e;

		snprintf(name, sizeof(name), "own%d", i);
		e = rec(1000 + i, 2 * SEC + i, TS_TCP_SYN_SENT, TS_TCP_CLOSE, name);
		assert_int_equal(engine__feed(x.e, &e), 0);
		e.type = TS_EV_CLOSE;
		e.final = false;
		assert_int_equal(engine__feed(x.e, &e), 0);
	}
	text = tick_file(&x, 3 * SEC);
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"SYN_SENT\","
				 "comm=\"own0\"}") == 1);
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"SYN_SENT\","
				 "comm=\"[other]\"}") == NAMES - LATENCY_GROUPS_MAX);
	free(text);
	/* Still in use a minute before the idle time is up. */
	text = tick_file(&x, later - 65 * SEC);
	assert_non_null(strstr(text, "comm=\"own0\""));
	free(text);
	text = tick_file(&x, later);
	assert_null(strstr(text, "comm=\"own"));
	{
		struct ts_event e = rec(5000, later + 1, TS_TCP_SYN_SENT, TS_TCP_CLOSE, "late");

		assert_int_equal(engine__feed(x.e, &e), 0);
	}
	free(text);
	text = tick_file(&x, later + 2 * SEC);
	well_formed(text);
	no_duplicate_series(text);
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"SYN_SENT\","
				 "comm=\"late\"}") == 1);
	assert_true(sample(text, "tcpstate_closes_not_final_total{comm=\"late\"}") == -1);
	/* The overflow's counts stay: they are no owner's. */
	assert_true(sample(text, "tcpstate_state_duration_seconds_count{state=\"SYN_SENT\","
				 "comm=\"[other]\"}") == NAMES - LATENCY_GROUPS_MAX);
	free(text);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_and_histograms),
		cmocka_unit_test(alerts_and_escaping),
		cmocka_unit_test(final_file_equals_summary),
		cmocka_unit_test(gauges_equal_a_walk),
		cmocka_unit_test(label_choice),
		cmocka_unit_test(owner_names_never_collide),
		cmocka_unit_test(idle_owners_expire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

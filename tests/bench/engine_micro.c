// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The user-space engine alone, no kernel, no root: ns per record through
 * conn_table__apply() and the end-of-connection sink (lifecycle derived and
 * counted), with and without a JSON timeline written to /dev/null; through
 * output__event() alone, JSON and text, into /dev/null; the whole path a
 * live record takes (find, apply, sink, output -j); and the heap bytes an
 * open connection costs. Runs of each kind are interleaved and the median
 * is printed, so a noisy machine shifts them alike.
 *
 *   make build/tests/bench/engine_micro && build/tests/bench/engine_micro */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conn_table.h"
#include "lifecycle.h"
#include "metrics.h"
#include "output.h"
#include "tcp_names.h"
#include "timeline.h"

/* Why an output could not be opened (outfile.h). */
static char open_why[256];

#define CONNS 200000
#define LIVE 64		/* connections open at once, their records interleaved */
#define PER_CONN 7	/* six transitions and a close() */

static struct ts_event *stream;
static size_t nstream;

static const uint8_t path[6][2] = {
	{ TS_TCP_CLOSE, TS_TCP_SYN_SENT }, { TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED },
	{ TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1 }, { TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2 },
	{ TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT }, { TS_TCP_TIME_WAIT, TS_TCP_CLOSE },
};

/* LIVE connections at a time, each record of one following a record of
 * each of the others: what a busy host's ring gives. */
static void build(void)
{
	uint64_t t = 1000;

	stream = calloc((size_t)CONNS * PER_CONN, sizeof(*stream));
	for (int base = 0; base < CONNS; base += LIVE) {
		for (int step = 0; step < PER_CONN; step++) {
			for (int k = 0; k < LIVE && base + k < CONNS; k++) {
				struct ts_event *e = &stream[nstream++];

				e->cookie = 1000 + (uint64_t)(base + k);
				/* 275k records/s: the tracer's rate in make bench */
				e->mono_ns = (t += 3636);
				e->family = AF_INET;
				e->sport = (uint16_t)(30000 + k);
				e->dport = 80;
				e->saddr[0] = e->daddr[0] = 127;
				e->saddr[3] = e->daddr[3] = 1;
				e->netns = 4026531840U;
				e->pid = 4242;
				e->owner_src = TS_OWNER_SYSCALL;
				memcpy(e->comm, "client", 7);
				if (step == 2) {
					e->type = TS_EV_CLOSE;
					e->refs = 1;
					e->final = 1;
					e->via = TS_VIA_CLOSE;
					e->fd = 7;
					e->newstate = TS_TCP_ESTABLISHED;
					continue;
				}
				int s = step < 2 ? step : step - 1;

				e->type = TS_EV_STATE;
				e->oldstate = path[s][0];
				e->newstate = path[s][1];
				e->prev_state_ns = 3636 * LIVE;
				e->flags = s ? TS_EVF_PREV_KNOWN : 0;
			}
		}
	}
}

struct ctx {
	struct lifecycle_stats st;
	struct timeline *tl;
	struct metrics *m;
};

static void sink(void *arg, const struct conn *c, enum conn_exit why)
{
	struct ctx *x = arg;
	struct lifecycle l;

	lifecycle__derive(&l, c, why);
	lifecycle_stats__add(&x->st, &l);
	if (x->m)
		metrics__ended(x->m, &l);
	if (x->tl)
		timeline__write(x->tl, &l);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

enum pass_kind { P_ENGINE, P_METRICS, P_TIMELINE, P_JSON, P_TEXT, P_WHOLE, P__MAX };

static const char *const pass_name[P__MAX] = {
	[P_ENGINE] = "apply + lifecycle sink:",
	[P_METRICS] = "the same + metrics (--metrics):",
	[P_TIMELINE] = "the same + JSON timeline (/dev/null):",
	[P_JSON] = "output__event -j (/dev/null):",
	[P_TEXT] = "output__event text (/dev/null):",
	[P_WHOLE] = "find + apply + sink + output -j:",
};

/* ns per record through output__event() alone, or with the engine in
 * front of it as a live record goes (main.c's report()). */
static double output_pass(bool json, bool engine)
{
	FILE *f = fopen("/dev/null", "w");
	struct conn_table t;
	struct ctx x = {};
	struct output o;
	double t0, t1;

	conn_table__init(&t, 1 << 20);
	conn_table__set_sink(&t, sink, &x);
	output__init(&o, f, json, false);
	t0 = now_ns();
	for (size_t i = 0; i < nstream; i++) {
		const struct ts_event *e = &stream[i];
		struct conn *c = NULL;

		if (engine) {
			if (e->mono_ns > CONN_LATE_NS)
				conn_table__expire(&t, e->mono_ns - CONN_LATE_NS);
			c = conn_table__find(&t, e->cookie);
			conn_table__apply(&t, e);
		}
		if (output__event(&o, e, c && c->before_start))
			fprintf(stderr, "engine_micro: output__event failed\n");
		if ((i & 1023) == 1023)	/* main flushes once a poll round */
			output__flush(&o);
	}
	output__flush(&o);
	conn_table__drain(&t);
	t1 = now_ns();
	output__free(&o);
	conn_table__free(&t);
	fclose(f);
	return (t1 - t0) / (double)nstream;
}

/* Records between two renders of the metrics: about a second's worth
 * under make bench's churn, as 50 scrapers in a loop cause. */
#define RENDER_EVERY 200000

/* ns per record for one pass over the stream; with metrics, counted as
 * the engine counts them (the record before its connection takes it) with
 * the gauges kept and a render every RENDER_EVERY records. */
static void render(struct metrics *m, const struct conn_table *t, uint64_t now)
{
	struct run_summary sum = { .state_hook = "tp_btf", .close_hook = "tracepoint" };
	struct metrics_render r = { .conns = t, .sum = &sum, .kernel = "bench", .now_ns = now };
	FILE *f = fopen("/dev/null", "w");

	if (f) {
		metrics__render(m, &r, f);
		fclose(f);
	}
}

static double pass(bool timeline, bool metrics)
{
	struct conn_table t;
	struct timeline tl;
	struct metrics m;
	struct ctx x = { .tl = timeline ? &tl : NULL, .m = metrics ? &m : NULL };
	double t0, t1;

	conn_table__init(&t, 1 << 20);
	conn_table__set_sink(&t, sink, &x);
	if (timeline)
		timeline__open(&tl, "/dev/null", TIMELINE_JSON, open_why, sizeof(open_why));
	if (metrics && metrics__init(&m))
		return 0;
	if (metrics)
		metrics__watch(&m, &t, 32768, 60999);
	t0 = now_ns();
	for (size_t i = 0; i < nstream; i++) {
		struct conn *c;

		if (stream[i].mono_ns > CONN_LATE_NS)
			conn_table__expire(&t, stream[i].mono_ns - CONN_LATE_NS);
		if (!metrics) {
			conn_table__apply(&t, &stream[i]);
			continue;
		}
		c = conn_table__find(&t, stream[i].cookie);
		metrics__record(&m, &stream[i], c);
		conn_table__apply_found(&t, c, &stream[i]);
		if (i % RENDER_EVERY == RENDER_EVERY - 1)
			render(&m, &t, stream[i].mono_ns);
	}
	conn_table__drain(&t);
	if (timeline)
		timeline__close(&tl);
	t1 = now_ns();
	if (x.st.total != CONNS || x.st.incomplete)
		fprintf(stderr, "engine_micro: %llu lifecycles, %llu incomplete: the stream is wrong\n",
			(unsigned long long)x.st.total, (unsigned long long)x.st.incomplete);
	conn_table__free(&t);
	if (metrics)
		metrics__free(&m);
	return (t1 - t0) / (double)nstream;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per conn_table__find() of an open connection, 200,000 open, looked
 * up in a scattered order as records of many live ones come. */
static double find_ns(void)
{
	const int n = 200000, lookups = 2000000;
	struct conn_table t;
	uint64_t hits = 0;
	double t0, t1;

	conn_table__init(&t, 1 << 20);
	for (int i = 0; i < n; i++) {
		struct ts_event e = stream[(size_t)i % LIVE];

		e.cookie = 5000000 + (uint64_t)i;
		conn_table__apply(&t, &e);
	}
	t0 = now_ns();
	for (int i = 0; i < lookups; i++)
		hits += conn_table__find(&t, 5000000 + (uint64_t)(((uint32_t)i * 2654435761u) % n)) != NULL;
	t1 = now_ns();
	if (hits != (uint64_t)lookups)
		fprintf(stderr, "engine_micro: %llu of %d found\n", (unsigned long long)hits, lookups);
	conn_table__free(&t);
	return (t1 - t0) / lookups;
}

/* Heap bytes per open connection: 100,000 of them in SYN_SENT. */
static double bytes_per_open(void)
{
	struct conn_table t;
	struct mallinfo2 a, b;
	const int n = 100000;

	conn_table__init(&t, 1 << 20);
	a = mallinfo2();
	for (int i = 0; i < n; i++) {
		struct ts_event e = stream[(size_t)i % LIVE];

		e.cookie = 5000000 + (uint64_t)i;
		conn_table__apply(&t, &e);
	}
	b = mallinfo2();
	conn_table__free(&t);
	return (double)(b.uordblks - a.uordblks) / n;
}

int main(void)
{
	double ns[P__MAX][5];

	build();
	for (int r = 0; r < 5; r++) {
		ns[P_ENGINE][r] = pass(false, false);
		ns[P_METRICS][r] = pass(false, true);
		ns[P_TIMELINE][r] = pass(true, false);
		ns[P_JSON][r] = output_pass(true, false);
		ns[P_TEXT][r] = output_pass(false, false);
		ns[P_WHOLE][r] = output_pass(true, true);
	}
	printf("engine: %zu records, %d connections, median of 5 interleaved runs\n", nstream,
	       CONNS);
	for (int k = 0; k < P__MAX; k++) {
		qsort(ns[k], 5, sizeof(double), cmp_double);
		printf("  %-38s %6.1f ns/record  %7.1f ns/connection\n", pass_name[k], ns[k][2],
		       ns[k][2] * PER_CONN);
	}
	printf("  conn_table__find, 200,000 open:         %6.1f ns/lookup\n", find_ns());
	printf("  open connection: %zu bytes (struct conn), %.0f bytes of heap each\n",
	       sizeof(struct conn), bytes_per_open());
	free(stream);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The user-space engine alone, no kernel, no root: ns per record through
 * conn_table__apply() and the end-of-connection sink (lifecycle derived and
 * counted), with and without a JSON timeline written to /dev/null; and the
 * heap bytes an open connection costs. Runs of each kind are interleaved
 * and the median is printed, so a noisy machine shifts them alike.
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
#include "tcp_names.h"
#include "timeline.h"

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
};

static void sink(void *arg, const struct conn *c, enum conn_exit why)
{
	struct ctx *x = arg;
	struct lifecycle l;

	lifecycle__derive(&l, c, why);
	lifecycle_stats__add(&x->st, &l);
	if (x->tl)
		timeline__write(x->tl, &l);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per record for one pass over the stream. */
static double pass(bool timeline)
{
	struct conn_table t;
	struct timeline tl;
	struct ctx x = { .tl = timeline ? &tl : NULL };
	double t0, t1;

	conn_table__init(&t, 1 << 20);
	conn_table__set_sink(&t, sink, &x);
	if (timeline)
		timeline__open(&tl, "/dev/null", TIMELINE_JSON);
	t0 = now_ns();
	for (size_t i = 0; i < nstream; i++) {
		if (stream[i].mono_ns > CONN_LATE_NS)
			conn_table__expire(&t, stream[i].mono_ns - CONN_LATE_NS);
		conn_table__apply(&t, &stream[i]);
	}
	conn_table__drain(&t);
	if (timeline)
		timeline__close(&tl);
	t1 = now_ns();
	if (x.st.total != CONNS || x.st.incomplete)
		fprintf(stderr, "engine_micro: %llu lifecycles, %llu incomplete: the stream is wrong\n",
			(unsigned long long)x.st.total, (unsigned long long)x.st.incomplete);
	conn_table__free(&t);
	return (t1 - t0) / (double)nstream;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
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
	double plain[5], with_tl[5];

	build();
	for (int r = 0; r < 5; r++) {
		plain[r] = pass(false);
		with_tl[r] = pass(true);
	}
	qsort(plain, 5, sizeof(double), cmp_double);
	qsort(with_tl, 5, sizeof(double), cmp_double);
	printf("engine: %zu records, %d connections, median of 5 interleaved runs\n", nstream,
	       CONNS);
	printf("  apply + lifecycle sink:             %6.1f ns/record  %7.1f ns/connection\n",
	       plain[2], plain[2] * PER_CONN);
	printf("  the same + JSON timeline (/dev/null): %6.1f ns/record  %7.1f ns/connection\n",
	       with_tl[2], with_tl[2] * PER_CONN);
	printf("  open connection: %zu bytes (struct conn), %.0f bytes of heap each\n",
	       sizeof(struct conn), bytes_per_open());
	free(stream);
	return 0;
}

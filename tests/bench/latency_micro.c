// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Micro benchmark of latency__add(), the work --hist adds to every record,
 * over a synthetic stream of whole connection lifecycles (both ends of a
 * graceful close, records interleaved across connections as a busy host's
 * are). Each record comes with its connection as main's report() passes
 * it; the connections are built beforehand so only latency__add() is
 * timed. Prints ns per record with --hist and with --hist-by comm.
 *
 * usage: latency_micro [CONNS [COMMS [ROUNDS]]]   (default 200000 64 5; ROUNDS <= 64)
 *
 * Build: make build/tests/bench/latency_micro */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conn_table.h"
#include "latency.h"
#include "tcp_names.h"

#define PER_CONN 11	/* records each connection makes, both ends */
#define ROUNDS_MAX 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void put(struct ts_event *e, uint64_t cookie, const char *comm, int type, int old,
		int new, uint64_t t, uint64_t prev)
{
	memset(e, 0, sizeof(*e));
	e->type = (uint8_t)type;
	e->cookie = cookie;
	e->mono_ns = t;
	e->oldstate = (uint8_t)old;
	e->newstate = (uint8_t)new;
	e->family = AF_INET;
	e->pid = 100 + (uint32_t)(cookie % 1000);
	e->owner_src = TS_OWNER_SYSCALL;
	memcpy(e->comm, comm, strnlen(comm, sizeof(e->comm)));
	if (prev) {
		e->flags = TS_EVF_PREV_KNOWN;
		e->prev_state_ns = prev;
	}
	if (type == TS_EV_CLOSE) {
		e->final = 1;
		e->refs = 1;
		e->via = TS_VIA_CLOSE;
	}
}

/* One connection's records: the client (cookie 2n + 1) connects and closes
 * first, the server (2n + 2) sits in CLOSE_WAIT, closes, LAST_ACK. sc: the
 * server as the table has it before its last record. */
static void lifecycle(struct ts_event *e, struct conn *sc, uint64_t n, const char *comm,
		      uint64_t t)
{
	uint64_t c = 2 * n + 1, s = 2 * n + 2;

	put(&e[0], c, comm, TS_EV_STATE, TS_TCP_CLOSE, TS_TCP_SYN_SENT, t, 0);
	put(&e[1], s, comm, TS_EV_STATE, TS_TCP_LISTEN, TS_TCP_SYN_RECV, t + 10000, 0);
	put(&e[2], c, comm, TS_EV_STATE, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, t + 20000, 20000);
	put(&e[3], s, comm, TS_EV_STATE, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, t + 30000, 20000);
	put(&e[4], c, comm, TS_EV_CLOSE, 0, TS_TCP_ESTABLISHED, t + 40000, 0);
	put(&e[5], c, comm, TS_EV_STATE, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1, t + 41000, 21000);
	put(&e[6], s, comm, TS_EV_STATE, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, t + 50000, 20000);
	put(&e[7], c, comm, TS_EV_STATE, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, t + 51000, 10000);
	put(&e[8], s, comm, TS_EV_CLOSE, 0, TS_TCP_CLOSE_WAIT, t + 900000, 0);
	put(&e[9], s, comm, TS_EV_STATE, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, t + 901000, 851000);
	put(&e[10], s, comm, TS_EV_STATE, TS_TCP_LAST_ACK, TS_TCP_CLOSE, t + 950000, 49000);
	memset(sc, 0, sizeof(*sc));
	sc->ident = e[9];
	sc->state = TS_TCP_LAST_ACK;
	sc->ncalls = 1;
	sc->calls[0].type = TS_EV_CLOSE;
	sc->calls[0].final = 1;
	sc->calls[0].mono_ns = e[8].mono_ns;
}

enum mode { HIST, HIST_BY_COMM, MODES };

static double run(const struct ts_event *ev, struct conn *const *cp, size_t n, enum mode m,
		  uint64_t *samples)
{
	struct latency *l = calloc(1, sizeof(*l));
	uint64_t t0, t1;

	if (!l || latency__init(l, m == HIST_BY_COMM ? LATENCY_BY_COMM : LATENCY_BY_NONE)) {
		fprintf(stderr, "latency_micro: out of memory\n");
		exit(1);
	}
	t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		latency__add(l, &ev[i], cp[i]);
	t1 = now_ns();
	*samples = latency__samples(l);
	latency__free(l);
	free(l);
	return (double)(t1 - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t conns = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	size_t ncomms = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	double ns[MODES][ROUNDS_MAX];
	uint64_t samples[MODES] = { 0 };
	static const char *names[] = { "--hist", "--hist-by comm" };
	size_t n = conns * PER_CONN, w = 64;	/* connections open at once */
	struct ts_event *ev = calloc(n, sizeof(*ev));
	struct conn **cp = calloc(n, sizeof(*cp));
	struct conn *conn = calloc(conns, sizeof(*conn));
	char (*comms)[TS_COMM_LEN] = calloc(ncomms ? ncomms : 1, TS_COMM_LEN);

	if (!ev || !cp || !conn || !comms || !conns || !ncomms || rounds < 1 ||
	    rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: latency_micro [CONNS [COMMS [ROUNDS]]]\n");
		return 2;
	}
	for (size_t i = 0; i < ncomms; i++)
		snprintf(comms[i], TS_COMM_LEN, "worker-%u", (unsigned int)(i % 100000));
	/* w connections at a time, their records interleaved round robin. */
	for (size_t base = 0; base < conns; base += w) {
		size_t k = conns - base < w ? conns - base : w;
		struct ts_event one[PER_CONN];

		for (size_t j = 0; j < k; j++) {
			size_t id = base + j;

			lifecycle(one, &conn[id], id, comms[(id * 2654435761U) % ncomms],
				  id * 1000000ULL);
			for (int r = 0; r < PER_CONN; r++) {
				ev[base * PER_CONN + r * k + j] = one[r];
				cp[base * PER_CONN + r * k + j] = &conn[id];
			}
		}
	}
	printf("%zu records, %zu connections, %zu comms, %d rounds (modes interleaved)\n", n,
	       conns, ncomms, rounds);
	for (int r = 0; r < rounds; r++)
		for (int m = 0; m < MODES; m++)
			ns[m][r] = run(ev, cp, n, (enum mode)m, &samples[m]);
	for (int m = 0; m < MODES; m++) {
		qsort(ns[m], (size_t)rounds, sizeof(ns[m][0]), cmp_double);
		printf("  %-16s min %6.1f  median %6.1f ns/record  (%llu samples)\n", names[m],
		       ns[m][0], ns[m][rounds / 2], (unsigned long long)samples[m]);
	}
	free(comms);
	free(conn);
	free(cp);
	free(ev);
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Fleet metrics, in Prometheus's text exposition format (0.0.4): counters
 * kept as records pass and connections end, gauges read off the connection
 * table when rendered. Pure: the engine feeds and renders; metrics_export
 * writes the text to a file or serves it. Cardinality is low by design: no
 * label per connection or pid, and comm is capped as in --hist-by comm;
 * owners idle for METRICS_OWNER_IDLE_NS leave (their series with them), so
 * the cap is on owners active at once, not on all seen in the run. */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "conn_table.h"
#include "diagnose.h"
#include "latency.h"
#include "metrics_export.h"
#include "lifecycle.h"
#include "tcp_names.h"
#include "tw_report.h"

struct run_summary;

/* An owner's series are dropped after this long without a sample, a
 * close, an alert or a connection in CLOSE_WAIT: a dead container's go,
 * and its place serves a new owner. Long enough that a scrape every few
 * minutes sees an owner with sparse activity as one series. */
#define METRICS_OWNER_IDLE_NS (10 * 60 * 1000000000ULL)

struct metrics {
	uint64_t transitions[TS_TCP_MAX_STATES][TS_TCP_MAX_STATES];	/* [from][to] */
	uint64_t ended[ROLE__MAX][END__MAX];
	uint64_t resets[3];			/* by enum ts_reset_dir */
	struct latency lat;			/* state durations, by owner's comm */
	/* By latency group (lat.groups), so names are capped the same way. */
	uint64_t closes_not_final[LATENCY_GROUPS_ALL];
	uint64_t alerts[LATENCY_GROUPS_ALL][DIAG_CAUSE__MAX];
	/* Gauges kept as the table changes (metrics__watch), so a scrape
	 * never walks every connection. */
	uint64_t open[TS_TCP_MAX_STATES];	/* open connections by state */
	struct tw_tally tw;			/* TIME_WAIT by remote address:port */
	uint32_t port_lo, port_hi;		/* the ephemeral range, at the start */
	uint64_t next_expire_ns;		/* metrics__expire's next pass */
};

/* What the source knows of the BPF programs (the live ring's tracer). */
struct metrics_prog {
	char name[24];
	uint64_t run_ns;	/* with kernel.bpf_stats_enabled; else 0 */
};

/* 0, or -ENOMEM. */
int metrics__init(struct metrics *m);
void metrics__free(struct metrics *m);
/* Keep the table's gauges from now on, t empty yet; port_lo..port_hi is
 * the ephemeral port range. */
void metrics__watch(struct metrics *m, struct conn_table *t, uint32_t port_lo, uint32_t port_hi);
/* A record, before it is folded into c, its connection (NULL if none). */
void metrics__record(struct metrics *m, const struct ts_event *e, const struct conn *c);
/* A connection that left the table, ended (not still open at exit). */
void metrics__ended(struct metrics *m, const struct lifecycle *l);
/* A CLOSE_WAIT alert was given for c. */
void metrics__alert(struct metrics *m, const struct conn *c, enum diag_cause why);
/* Owners idle for METRICS_OWNER_IDLE_NS at now_ns leave (a pass a second
 * at most); returns how many. */
size_t metrics__expire(struct metrics *m, uint64_t now_ns);

/* The exposition text: everything counted, the gauges at now_ns,
 * the tracer's own health from s (its progs, nprogs of them, if the source
 * has any). 0, or -errno from writing f. */
struct metrics_render {
	const struct conn_table *conns;
	const struct run_summary *sum;
	const struct metrics_prog *progs;
	int nprogs;
	const char *kernel;	/* uname -r */
	uint64_t now_ns;
	const struct metrics_http_stats *http;	/* the server's; NULL: none */
};
/* Names first seen here (owners of CLOSE_WAIT sockets) get their group. */
int metrics__render(struct metrics *m, const struct metrics_render *r, FILE *f);

#endif /* METRICS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Live output: the human table or NDJSON records, on one stream. */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cgroup.h"
#include "clock.h"
#include "conn_summary.h"
#include "conn_table.h"
#include "holders.h"
#include "latency.h"
#include "snapshot.h"
#include "tw_report.h"
#include "json_writer.h"
#include "outbuf.h"
#include "tcpstate.h"

struct output {
	FILE *f;
	bool json;
	bool timestamps;
	bool header_done;
	struct clock_map clk;
	struct json j;		/* the records that are not events */
	struct outbuf ob;	/* the event lines, ahead of f */
	/* Owners' cgroup ids to paths and containers; NULL: ids only. The
	 * caller's, set after output__init(). */
	struct cgroup_names *cg;
};

struct run_summary {
	uint64_t records;	/* records received from the kernel */
	uint64_t transitions;	/* of which state transitions */
	uint64_t malformed;	/* records too short or of an unknown type */
	uint64_t internal;	/* records consumed by the tracer itself (re-arms) */
	uint64_t from_dump;	/* transitions the kernel did not report, found by a
				 * sock_diag dump (not counted in records) */
	uint64_t derived;	/* FIN_WAIT2 -> TIME_WAIT of timewait sockets timed
				 * from their timer at their end (not counted in
				 * records) */
	uint64_t unidentified;	/* records whose socket's identity was not known */
	uint64_t stats[TS_STAT__MAX];	/* kernel counters */
	uint64_t missed;	/* program runs the kernel skipped (recursion) */
	bool missed_counted;	/* missed counts every skipped run (see tracer.h) */
	uint64_t start_mono_ns, end_mono_ns;
	const char *state_hook;
	const char *cookie_mode;
	const char *close_hook;
	bool exit_scan;
	bool timewait;
	uint64_t tw_rearms;	/* tentative TIME_WAIT ends undone by a re-arm */
	struct cgroup_lookup_stats cgroup_lookups;	/* failed for a passing reason */

	struct holder_scan_stats holder_scans;	/* /proc walked for alerts' holders */
	struct conn_summary conns;
};

void output__init(struct output *o, FILE *f, bool json, bool timestamps);
void output__free(struct output *o);

/* Each returns 0 or -errno from writing (EPIPE: the reader went away). */
/* A record from the kernel, of any type; before_start: its connection was
 * found by the start-up snapshot. */
int output__event(struct output *o, const struct ts_event *e, bool before_start);
/* A connection whose end the kernel never reported (records lost, runs
 * skipped): gone from the kernel when it checked at checked_ns. */
int output__gone(struct output *o, const struct conn *c, uint64_t checked_ns);
/* The latency histograms that have samples: bcc-style tables, or one
 * "hist" record each. */
int output__latency(struct output *o, const struct latency *l, uint64_t now_ns);
/* What the start-up snapshot found. */
int output__snapshot(struct output *o, const struct snapshot *s, uint64_t now_ns);
/* A connection in CLOSE_WAIT too long: its history, holders, diagnosis. */
int output__alert(struct output *o, const struct conn *c, const struct holder_query *q,
		  const char *diagnosis, uint64_t now_ns);
/* TIME_WAIT accounting: a record in JSON, a short table otherwise. */
int output__tw_report(struct output *o, const struct tw_report *r, uint64_t now_ns);
/* Events lost since the last report: delta of total. JSON goes to the
 * stream; the human form is a warning on stderr. */
int output__lost(struct output *o, uint64_t delta, uint64_t total, uint32_t ringbuf_bytes);
/* The connections so far (every -i): a "connections" record, or a few
 * lines of text. lost: records dropped so far. */
int output__connections(struct output *o, const struct conn_summary *cs, uint64_t lost,
			uint64_t now_ns);
/* The JSON summary record (no-op in human mode). */
int output__summary_record(struct output *o, const struct run_summary *s);
/* The summary line for stderr, in both modes. */
void output__summary_text(FILE *f, const struct run_summary *s);
int output__flush(struct output *o);

#endif /* OUTPUT_H */

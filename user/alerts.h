/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The CLOSE_WAIT alerts: which connections are due, and the scans of /proc
 * for their holders that they wait for. Pure: the scan itself is a
 * capability the source hands in (holders.h), run where it likes.
 *
 * A scan reads every process's descriptors (0.6 s for 100,000 of them on a
 * 2-CPU VM), so scans start at most once per ALERTS_SCAN_EVERY_NS, and a
 * scan looks ahead: it takes every connection that will be due before the
 * next one may start (none younger than half the threshold). An alert
 * comes at the first round after both its threshold and its scan: a round
 * and a scan after the threshold (half a second more with a threshold under
 * 2 s); where scans take longer than that second, up to two scans' time.
 * An alert whose connection saw a close() or shutdown() after its scan
 * began waits for the next scan once: the holders it names are never older
 * than the calls it tells. */
#ifndef ALERTS_H
#define ALERTS_H

#include <stdbool.h>
#include <stdint.h>
#include "conn_table.h"
#include "holders.h"
#include "metrics.h"
#include "output.h"

/* At most one scan of /proc this often. */
#define ALERTS_SCAN_EVERY_NS 1000000000ULL
/* Connections awaiting or holding a scan's result at once; more wait for
 * the next scan. */
#define ALERTS_WAITING_MAX 1024

struct alert_wait;

struct alerts {
	struct conn_table *conns;
	struct output *out;
	struct metrics *m;		/* NULL: none counted */
	uint64_t after_ns;		/* the threshold */
	const struct holder_finder *finder;	/* NULL: a replay, nothing to look at */
	struct holder_scan_stats *stats;	/* the scans, added up */
	struct alert_wait *w;		/* ALERTS_WAITING_MAX, once needed */
	int nw;
	struct holder_query *q;		/* the scan's queries while it runs */
	int nq;
	bool scanning;
	uint64_t next_scan;		/* no scan starts before then */
};

/* 0, or -ENOMEM. */
int alerts__init(struct alerts *a, struct conn_table *conns, struct output *out,
		 struct metrics *m, uint64_t after_ns, const struct holder_finder *finder,
		 struct holder_scan_stats *stats);
/* Waits for a running scan (it writes to a's memory), then frees. */
void alerts__free(struct alerts *a);
/* A round at now: a finished scan taken, a new one started if due and
 * allowed, and every alert that is due and has its holders out. 0, or the
 * first write error. */
int alerts__tick(struct alerts *a, uint64_t now);
/* The end: a running scan waited for, and the alerts due by now out. */
int alerts__finish(struct alerts *a, uint64_t now);
/* Every connection at least min_age_ns in CLOSE_WAIT, up to
 * ALERTS_WAITING_MAX of them, diagnosed now, the scan waited for
 * (--snapshot). *count (if set) says how many. */
int alerts__now(struct alerts *a, uint64_t now, uint64_t min_age_ns, int *count);

#endif /* ALERTS_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CLOSE_WAIT alerts and their holder scans (alerts.h). */
#include "alerts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"

/* A replay's alerts per round (it has no /proc to wait for). */
#define UNLOOKED_BATCH 64

/* A connection whose alert waits for, or holds, its scan's result. */
struct alert_wait {
	uint64_t cookie;
	uint64_t scan_ns;	/* when the scan that looked for it began */
	bool in_scan;		/* the running scan looks for it */
	bool scanned;		/* hq (or err) is that scan's result */
	bool rescanned;		/* sent back once for a call after its scan */
	int err;		/* 0, or why the scan could not look */
	struct holder_query hq;	/* hq.ino: its socket's inode (0: never seen) */
};

int alerts__init(struct alerts *a, struct conn_table *conns, struct output *out,
		 struct metrics *m, uint64_t after_ns, const struct holder_finder *finder,
		 struct holder_scan_stats *stats)
{
	*a = (struct alerts){ .conns = conns, .out = out, .m = m, .after_ns = after_ns,
			      .finder = finder, .stats = stats };
	if (!finder)
		return 0;
	a->w = calloc(ALERTS_WAITING_MAX, sizeof(*a->w));
	a->q = calloc(ALERTS_WAITING_MAX, sizeof(*a->q));
	if (!a->w || !a->q) {
		alerts__free(a);
		return -ENOMEM;
	}
	return 0;
}

static void scan_poll(struct alerts *a, bool wait);

void alerts__free(struct alerts *a)
{
	scan_poll(a, true);
	free(a->w);
	free(a->q);
	a->w = NULL;
	a->q = NULL;
	a->nw = 0;
}

/* One alert on c: its diagnosis with the holders hq, or without them (hq
 * NULL) for the reason nh gives. */
static int alert_one(struct alerts *a, const struct conn *c, const struct holder_query *hq,
		     int nh, uint64_t now)
{
	char diag[1024];
	enum diag_cause why;

	diagnose__close_wait(c, hq ? hq->h : NULL, nh, now, diag, sizeof(diag), &why);
	if (a->m)
		metrics__alert(a->m, c, why);
	return output__alert(a->out, c, hq, diag, now);
}

static int unknown_holders(const struct conn *c)
{
	return c->ident.ino ? DIAG_HOLDERS_NOT_LOOKED : DIAG_HOLDERS_NO_INODE;
}

/* Without a scan (a replay): each due connection's alert at once, the
 * holders not known. */
static int alerts_unlooked(struct alerts *a, uint64_t now, uint64_t min_age_ns, int max,
			   int *count)
{
	struct conn *c;
	int n = 0, err = 0;

	while (!err && n < max && (c = conn_table__next_close_wait(a->conns, now, min_age_ns))) {
		n++;
		err = alert_one(a, c, NULL, unknown_holders(c), now);
	}
	if (count)
		*count = n;
	return err;
}

static int by_ino(const void *x, const void *y)
{
	uint64_t p = ((const struct holder_query *)x)->ino;
	uint64_t q = ((const struct holder_query *)y)->ino;

	return p < q ? -1 : p > q;
}

/* The scan is over: its result to each connection it looked for (the
 * scan sorted its queries by inode). */
static void scan_taken(struct alerts *a, int err, const struct holder_scan_stats *st)
{
	a->scanning = false;
	holder_scan_stats__add(a->stats, st);
	for (int i = 0; i < a->nw; i++) {
		struct alert_wait *w = &a->w[i];
		const struct holder_query *hit;

		if (!w->in_scan)
			continue;
		w->in_scan = false;
		w->scanned = true;
		hit = err ? NULL : bsearch(&w->hq, a->q, (size_t)a->nq, sizeof(*a->q), by_ino);
		w->err = hit ? 0 : err ? err : -ENOENT;
		if (hit)
			w->hq = *hit;
	}
}

static void scan_poll(struct alerts *a, bool wait)
{
	struct holder_scan_stats st = { 0 };
	int err = 0;

	if (a->scanning && a->finder->take(a->finder->ctx, wait, &err, &st))
		scan_taken(a, err, &st);
}

/* The connections at least min_age_ns in CLOSE_WAIT at now, into the wait
 * list while it has room. */
static void gather(struct alerts *a, uint64_t now, uint64_t min_age_ns)
{
	struct conn *c;

	while (a->nw < ALERTS_WAITING_MAX &&
	       (c = conn_table__next_close_wait(a->conns, now, min_age_ns)))
		a->w[a->nw++] = (struct alert_wait){ .cookie = c->ident.cookie,
						     .hq.ino = c->ident.ino };
}

/* A scan for every waiting connection not looked for yet. One whose inode
 * was never seen has nothing to look for. */
static void scan_start(struct alerts *a, uint64_t now)
{
	int n = 0, err;

	for (int i = 0; i < a->nw; i++) {
		struct alert_wait *w = &a->w[i];

		if (w->scanned || w->in_scan)
			continue;
		w->scan_ns = now;
		if (!w->hq.ino) {
			w->scanned = true;
			continue;
		}
		a->q[n++] = (struct holder_query){ .ino = w->hq.ino };
		w->in_scan = true;
	}
	if (!n)
		return;
	a->nq = n;
	a->next_scan = now + ALERTS_SCAN_EVERY_NS;
	err = a->finder->start(a->finder->ctx, a->q, n);
	if (!err) {
		a->scanning = true;
		return;
	}
	for (int i = 0; i < a->nw; i++)
		if (a->w[i].in_scan)
			a->w[i] = (struct alert_wait){ .cookie = a->w[i].cookie, .scan_ns = now,
						       .scanned = true, .err = err,
						       .hq.ino = a->w[i].hq.ino };
}

/* A close() or shutdown() on c since at: the holders a scan from then
 * found may no longer be (the caller's own descriptor among them). */
static bool called_since(const struct conn *c, uint64_t at)
{
	for (uint32_t i = 0; i < conn__ncalls_kept(c); i++)
		if (conn__call(c, i)->mono_ns >= at)
			return true;
	return false;
}

/* What to do with a waiting connection at now. */
enum wait_fate { WAIT_KEEP, WAIT_DROP, WAIT_ALERT };

static enum wait_fate fate(struct alert_wait *w, const struct conn *c, uint64_t now,
			   uint64_t min_age_ns)
{
	/* It left CLOSE_WAIT before its threshold or its scan: no alert (a
	 * connection made anew under its cookie is gathered again). */
	if (!c || c->state != TS_TCP_CLOSE_WAIT || !c->alerted)
		return WAIT_DROP;
	if (!w->scanned || now < c->state_since_ns || now - c->state_since_ns < min_age_ns)
		return WAIT_KEEP;
	if (!w->err && w->hq.ino && !w->rescanned && called_since(c, w->scan_ns)) {
		w->scanned = false;	/* to the next scan */
		w->rescanned = true;
		return WAIT_KEEP;
	}
	return WAIT_ALERT;
}

/* The alerts due at now whose scans are over; the connections that left
 * CLOSE_WAIT leave the list. */
static int emit_due(struct alerts *a, uint64_t now, uint64_t min_age_ns)
{
	int kept = 0, err = 0;

	for (int i = 0; i < a->nw; i++) {
		struct alert_wait *w = &a->w[i];
		struct conn *c = conn_table__find(a->conns, w->cookie);
		enum wait_fate f = err ? WAIT_KEEP : fate(w, c, now, min_age_ns);

		if (f == WAIT_ALERT && w->err)
			err = alert_one(a, c, NULL, DIAG_HOLDERS_NOT_LOOKED, now);
		else if (f == WAIT_ALERT)
			err = alert_one(a, c, w->hq.ino ? &w->hq : NULL,
					w->hq.ino ? w->hq.n : DIAG_HOLDERS_NO_INODE, now);
		if (f == WAIT_KEEP && kept != i)
			a->w[kept] = *w;
		kept += f == WAIT_KEEP;
	}
	a->nw = kept;
	return err;
}

/* How far ahead a scan looks: connections due before the next scan may
 * start, but no younger than half the threshold, so that a short threshold
 * does not scan for every connection that passes through CLOSE_WAIT. */
static uint64_t lookahead_age(uint64_t after_ns)
{
	uint64_t ahead = after_ns / 2 < ALERTS_SCAN_EVERY_NS ? after_ns / 2 : ALERTS_SCAN_EVERY_NS;

	return after_ns - ahead;
}

int alerts__tick(struct alerts *a, uint64_t now)
{
	int err;

	if (!a->finder)
		return alerts_unlooked(a, now, a->after_ns, UNLOOKED_BATCH, NULL);
	scan_poll(a, false);
	/* Before a scan starts: those to look for again go with it. */
	err = emit_due(a, now, a->after_ns);
	if (err || a->scanning || now < a->next_scan)
		return err;
	gather(a, now, lookahead_age(a->after_ns));
	scan_start(a, now);
	return emit_due(a, now, a->after_ns);	/* no inode: nothing to wait for */
}

int alerts__finish(struct alerts *a, uint64_t now)
{
	int err;

	/* A replay's last round may end after the recording does: the alerts
	 * due by its end come out, as the live run's last tick gave them. */
	if (!a->finder)
		return alerts_unlooked(a, now, a->after_ns, INT_MAX, NULL);
	scan_poll(a, true);
	err = emit_due(a, now, a->after_ns);
	a->nw = 0;
	return err;
}

int alerts__now(struct alerts *a, uint64_t now, uint64_t min_age_ns, int *count)
{
	int before;

	if (!a->finder)
		return alerts_unlooked(a, now, min_age_ns, ALERTS_WAITING_MAX, count);
	scan_poll(a, true);
	before = a->nw;
	gather(a, now, min_age_ns);
	if (count)
		*count = a->nw - before;
	scan_start(a, now);
	scan_poll(a, true);
	return emit_due(a, now, min_age_ns);
}

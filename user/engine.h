/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The engine: records in, every output out. It owns the connection table,
 * the held TIME_WAIT ends, latency, the timeline, CLOSE_WAIT alerts and the
 * run summary. A source - the live ring buffer or a recording - drives it
 * with the same three calls, so live and replay are one code path:
 *   engine__feed()   each record, in order (engine__feed_wire() as the
 *                    ring has it);
 *   engine__tick()   once per round (a poll, or 100 ms of recorded time);
 *   engine__finish() once, at the end.
 * What only a live system has (the holders of a socket in /proc) is a
 * capability the source hands in, which may run off the source's thread. */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alerts.h"
#include "conn_table.h"
#include "holders.h"
#include "latency.h"
#include "metrics.h"
#include "metrics_export.h"
#include "output.h"
#include "recording.h"
#include "sock_key.h"
#include "tcpstate.h"
#include "timeline.h"

/* A record's round: the live loop polls about this often, and a replay
 * cuts recorded time into rounds this long. */
#define ENGINE_ROUND_NS 100000000ULL

/* Brings the kernel's counters in s up to date and fills progs (at most
 * max) with the BPF programs' run times, for the metrics; returns how many. */
typedef int (*engine_health_fn)(void *ctx, struct run_summary *s, struct metrics_prog *progs,
				int max);

/* How often --metrics-file is written without -i. */
#define ENGINE_METRICS_NS 1000000000ULL

struct engine_opts {
	size_t conn_cap;		/* connections followed at once */
	uint64_t alert_after_ns;	/* CLOSE_WAIT alerts past this age; 0: none */
	bool hist;			/* latency histograms */
	enum latency_by hist_by;
	bool timewait_report;		/* with every report */
	uint64_t interval_ns;		/* periodic reports; 0: at the end only */
	const char *timeline_path;	/* NULL: no timeline */
	enum timeline_format timeline_format;
	/* The holders of sockets, looked for in /proc, at most once a second
	 * (alerts.h); NULL: a replay, no live system to look at. */
	const struct holder_finder *holders;
	struct recording_writer *rec;	/* every record is also written here; NULL: not */
	bool quiet;			/* no event lines */
	const struct metrics_listen *metrics_listen;	/* serve metrics here; NULL: not */
	const char *metrics_file;	/* and write them here; NULL: not */
	uint64_t metrics_file_ns;	/* that often */
	unsigned metrics_labels;	/* enum latency_key: the per-owner metrics' labels */
	engine_health_fn health;	/* the source's own counters; NULL: none to add */
	void *health_ctx;
};

struct engine;

/* The engine writes to out, which the caller keeps. 0, or -errno with the
 * reason printed (a timeline that cannot be opened, a metrics port in use). */
int engine__new(struct engine **e, const struct engine_opts *o, struct output *out);
void engine__free(struct engine *e);

/* The run starts at now (kernel monotonic ns). */
void engine__start(struct engine *e, uint64_t now);
/* One record from the source. 0, or the first write error, which ends the
 * run. */
int engine__feed(struct engine *e, const struct ts_event *ev);
/* The same for a record as the ring has it (wire.h): what it leaves out of
 * its connection's identity and owner comes from the connection table. */
int engine__feed_wire(struct engine *e, const void *data, size_t len);
/* n of them in order, their connections looked up ahead so that the cache
 * misses overlap. Stops at the first error. */
struct engine_wire {
	const void *data;
	size_t len;
};
int engine__feed_wire_n(struct engine *e, const struct engine_wire *w, size_t n);
/* A round has passed; now is the source's time. */
int engine__tick(struct engine *e, uint64_t now);
/* The earliest time a tick has more to do than repeat the last one: hand
 * on a held TIME_WAIT end, expire a closed connection, give an alert. A
 * tick at now >= this may act; one before it only flushes nothing and
 * writes the periodic reports and the metrics file again unchanged. 0: the
 * next tick may act; UINT64_MAX: no tick will until a record comes. A
 * replay skips the rounds before it (a crafted recording's gap of
 * centuries costs nothing). */
uint64_t engine__quiet_until(const struct engine *e);
/* The kernel says total records were dropped so far. */
int engine__lost(struct engine *e, uint64_t total, uint32_t ringbuf_bytes);
/* The end: held ends out, the final reports, the connections' picture,
 * the summary record and line. The caller fills engine__summary() with
 * what only it knows first. */
int engine__finish(struct engine *e, uint64_t now);

/* The kernel's sockets at checked_ns (a dump taken then) against the open
 * connections with no record since: those it no longer has end as gone;
 * those it holds as timewait sockets while the table has them in another
 * state enter TIME_WAIT, marked from the dump. Both are recorded.
 * Returns how many changed, or -errno. */
long engine__reconcile(struct engine *e, const struct sock_census *k, uint64_t checked_ns);
/* One connection ended as gone, its end never reported, when the kernel
 * no longer had it at checked_ns: a "gone" line, then the timeline and the
 * counts (a live reconcile, or a replay's gone frame). */
void engine__gone(struct engine *e, uint64_t cookie, uint64_t checked_ns);

/* Every CLOSE_WAIT connection older than min_age_ns diagnosed now, the
 * holder scan waited for, up to ENGINE_ALERT_BATCH of them; *count (if set)
 * says how many were (--snapshot). Rounds give the alerts themselves. */
#define ENGINE_ALERT_BATCH ALERTS_WAITING_MAX
int engine__alerts(struct engine *e, uint64_t now, uint64_t min_age_ns, int *count);
/* The TIME_WAIT report now. */
int engine__tw_report(struct engine *e, uint64_t now);

struct conn_table *engine__conns(struct engine *e);
struct run_summary *engine__summary(struct engine *e);
/* The first error from writing the timeline, said on stderr; 0 if none. */
int engine__timeline_err(const struct engine *e);

#endif /* ENGINE_H */

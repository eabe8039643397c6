// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpstate-trace: parse options, start the tracer, stream its records to
 * the output until a signal or a closed output ends the run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "conn_table.h"
#include "diagnose.h"
#include "holders.h"
#include "latency.h"
#include "lifecycle.h"
#include "recording.h"
#include "tw_pending.h"
#include "tw_report.h"
#include "output.h"
#include "timeline.h"
#include "tracer.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

#define ALERT_BATCH 64
#define RECORDS_PER_ROUND 65536
/* Closed connections leave after this long without a later record: far
 * longer than records trail, so live and replayed timelines agree. */
#define QUIET_EXPIRE_NS 2000000000ULL

struct app {
	struct output out;
	struct conn_table conns;
	uint64_t alert_after_ns;	/* 0: no CLOSE_WAIT alerts */
	struct tw_pending tw;		/* early TIME_WAIT ends awaiting a possible re-arm */
	uint64_t round;			/* poll rounds so far */
	uint32_t budget;		/* records left this round; 0: no limit */
	struct run_summary sum;
	int write_err;		/* first output error; ends the run */
	struct latency lat;
	bool hist;
	struct recording_writer rec;
	bool recording;
	bool replaying;		/* no live system: holders cannot be looked up */
	struct lifecycle_stats ended;	/* connections that left the table */
	struct timeline tl;
	const char *timeline_path;	/* NULL: no --timeline */
	bool events_quiet;	/* the timeline has standard output: no event lines */
	int timeline_err;
	uint64_t lost;		/* records dropped so far, as far as known */
};

/* Every connection leaving the table: counted, and to the timeline. */
static void on_conn_end(void *ctx, const struct conn *c, enum conn_exit why)
{
	struct app *a = ctx;
	struct lifecycle l;

	lifecycle__derive(&l, c, why);
	if (why != CONN_EXIT_OPEN)
		lifecycle_stats__add(&a->ended, &l);
	if (a->timeline_path && !a->timeline_err)
		a->timeline_err = timeline__write(&a->tl, &l);
}

static int timeline_start(struct app *a, const struct cli_opts *opts)
{
	int err;

	a->timeline_path = opts->timeline_path;
	if (!a->timeline_path)
		return 0;
	err = timeline__open(&a->tl, a->timeline_path, opts->timeline_format);
	if (err) {
		fprintf(stderr, "tcpstate-trace: cannot write the timeline to %s: %s\n",
			a->timeline_path, strerror(-err));
		a->timeline_path = NULL;
		return err;
	}
	a->events_quiet = strcmp(a->timeline_path, "-") == 0;
	return 0;
}

/* Once per round: the timeline's entries out. A write error ends the run,
 * whatever it is: a timeline that stops silently would be worse. */
static int timeline_flush(struct app *a)
{
	if (!a->timeline_path)
		return 0;
	if (!a->timeline_err)
		a->timeline_err = timeline__flush(&a->tl);
	return a->timeline_err;
}

/* The end of the run for the connections: the summary's picture of them,
 * then every one still in the table to the timeline, which is closed.
 * Returns the timeline's first error. */
static int conns_finish(struct app *a, struct conn_summary *cs)
{
	int err;

	conn_table__expire(&a->conns, UINT64_MAX);	/* the closed ones count as ended */
	conn_summary__build(cs, &a->conns, &a->ended);
	conn_table__drain(&a->conns);
	if (!a->timeline_path)
		return 0;
	err = timeline__close(&a->tl);
	if (!a->timeline_err)
		a->timeline_err = err;
	if (a->timeline_err)
		fprintf(stderr, "tcpstate-trace: writing the timeline to %s: %s\n",
			a->timeline_path, strerror(-a->timeline_err));
	a->timeline_path = NULL;
	return a->timeline_err;
}

/* A record, into the connection table and out. */
static int report(struct app *a, const struct ts_event *e)
{
	struct conn *c;
	bool before_start;
	int err;

	if (e->mono_ns > CONN_LATE_NS)
		conn_table__expire(&a->conns, e->mono_ns - CONN_LATE_NS);
	c = e->cookie ? conn_table__find(&a->conns, e->cookie) : NULL;
	before_start = c && c->before_start;

	if (e->type == TS_EV_STATE)
		a->sum.transitions++;
	if (a->hist)
		latency__add(&a->lat, e, c);
	conn_table__apply_found(&a->conns, c, e);
	if (a->events_quiet)
		return 0;
	err = output__event(&a->out, e, before_start);
	if (err)
		a->write_err = err;
	return err;
}

static int take_record(struct app *a, const struct ts_event *e);

static int on_record(void *ctx, const struct ts_event *e)
{
	struct app *a = ctx;
	int err;

	a->sum.records++;
	err = take_record(a, e);
	/* Under a flood the ring refills as fast as it drains: stop now and
	 * then so alerts, flushes and signals still get their turn. */
	if (!err && a->budget && --a->budget == 0)
		return -EAGAIN;
	return err;
}

static int take_record(struct app *a, const struct ts_event *e)
{
	if (e->type < TS_EV_STATE || e->type > TS_EV__MAX) {
		a->sum.malformed++;
		return 0;
	}
	if (a->recording) {
		int err = recording__write(&a->rec, e);

		if (err == -EINVAL)
			a->sum.malformed++;
		else if (err)
			return a->write_err = err;
	}
	if (e->type == TS_EV_TW_REARM) {
		a->sum.internal++;
		tw_pending__rearm(&a->tw, e);
		return 0;
	}
	if (e->flags & TS_EVF_TENTATIVE) {
		struct ts_event oldest;

		/* Held a round; when the holding area is full its oldest
		 * end is reported now. */
		if (tw_pending__add(&a->tw, e, a->round, &oldest))
			return report(a, &oldest);
		return 0;
	}
	return report(a, e);
}

/* Report the early TIME_WAIT ends no re-arm has withdrawn since the last
 * round (all of them with round UINT64_MAX). */
static int flush_tw(struct app *a, uint64_t round)
{
	struct ts_event e;
	int err = 0;

	while (!err && tw_pending__take_due(&a->tw, round, &e))
		err = report(a, &e);
	return err;
}

static int report_lost(struct tracer *t, struct app *a, uint64_t *seen, uint32_t ringbuf_bytes)
{
	uint64_t stats[TS_STAT__MAX];

	if (tracer__stats(t, stats))
		return 0;
	if (stats[TS_STAT_DROPPED] > *seen) {
		uint64_t delta = stats[TS_STAT_DROPPED] - *seen;

		*seen = stats[TS_STAT_DROPPED];
		a->lost = *seen;
		return output__lost(&a->out, delta, *seen, ringbuf_bytes);
	}
	return 0;
}

/* Diagnose every connection that has sat in CLOSE_WAIT past the threshold:
 * one /proc walk finds the holders of a whole batch. */
static int check_alerts(struct app *a, uint64_t now, uint64_t min_age_ns, int *count)
{
	struct holder_query q[ALERT_BATCH];
	struct conn *due[ALERT_BATCH];
	char diag[1024];
	int n = 0, err = 0;

	while (n < ALERT_BATCH &&
	       (due[n] = conn_table__next_close_wait(&a->conns, now, min_age_ns)))
		n++;
	if (count)
		*count = n;
	if (!n)
		return 0;
	for (int i = 0; i < n; i++)
		q[i].ino = due[i]->ident.ino;
	/* A replay's holders are not this host's: it does not look. When
	 * /proc cannot be read, the holders are unknown, not none. */
	bool scanned = !a->replaying && holders__scan(q, n, NULL) == 0;

	for (int i = 0; i < n && !err; i++) {
		struct holder_query *hq = NULL;

		/* holders__scan sorted q: find this connection's query by inode. */
		for (int k = 0; scanned && due[i]->ident.ino && k < n; k++)
			if (q[k].ino == due[i]->ident.ino)
				hq = &q[k];
		diagnose__close_wait(due[i], hq ? hq->h : NULL, hq ? hq->n : -1, now, diag,
				     sizeof(diag));
		err = output__alert(&a->out, due[i], hq, diag, now);
	}
	return err;
}

static int report_timewait(struct app *a)
{
	struct tw_report r;
	uint32_t lo = 0, hi = 0;
	int err;

	tw_report__port_range(&lo, &hi);
	err = tw_report__build(&r, &a->conns, lo, hi);
	if (err)
		return err;
	err = output__tw_report(&a->out, &r, clock__mono_now());
	tw_report__free(&r);
	return err;
}

/* The sockets there are, the start of the picture: seeded into the table,
 * reported in one record. */
static int take_snapshot(struct app *a, const struct cli_opts *opts)
{
	struct snapshot snap;
	struct snapshot_seed *seeds = NULL;
	struct snapshot_filter filter = {
		.family = opts->family, .pid = opts->pid,
		.sports = opts->sports, .nsports = opts->nsports,
		.dports = opts->dports, .ndports = opts->ndports,
	};
	uint64_t now = clock__mono_now();
	int err = snapshot__take(&snap, &a->conns, opts->all_netns, now, &filter,
				 a->recording ? &seeds : NULL);

	if (err == -ENOENT)
		fprintf(stderr, "tcpstate-trace: warning: no snapshot of existing sockets: this "
			"kernel has no TCP sock_diag loaded (modprobe tcp_diag)\n");
	else if (err)
		fprintf(stderr, "tcpstate-trace: warning: the snapshot of existing sockets is "
			"incomplete: %s\n", strerror(-err));
	if (a->recording) {
		/* So a replay seeds the same connections and prints this record. */
		err = recording__write_snapshot(&a->rec, &snap, now, seeds, snap.total);
		free(seeds);
		if (err) {
			fprintf(stderr, "tcpstate-trace: writing %s: %s\n", opts->record_path,
				strerror(-err));
			return err;
		}
	}
	return output__snapshot(&a->out, &snap, now);
}

/* --snapshot: the picture now, every CLOSE_WAIT diagnosed, no tracing. */
static int run_snapshot(struct app *a, const struct cli_opts *opts)
{
	int err = take_snapshot(a, opts), n = ALERT_BATCH;

	while (!err && n == ALERT_BATCH)
		err = check_alerts(a, clock__mono_now(), 0, &n);
	if (!err)
		err = report_timewait(a);
	if (!err)
		err = output__flush(&a->out);
	return err;
}

/* The periodic and final reports the options ask for. */
static int reports(struct app *a, const struct cli_opts *opts, uint64_t now, bool periodic)
{
	int err = 0;

	if (opts->timewait_report)
		err = report_timewait(a);
	if (!err && opts->hist)
		err = output__latency(&a->out, &a->lat, now);
	if (!err && periodic) {
		struct conn_summary cs;

		conn_summary__build(&cs, &a->conns, &a->ended);
		err = output__connections(&a->out, &cs, a->lost, now);
	}
	return err;
}

/* --replay: the recorded records through the same engine and outputs. A
 * poll round is 100 ms of recorded time; "now" is the last record's. */
static int run_replay(struct app *a, const struct cli_opts *opts)
{
	struct recording_reader r;
	struct recording_meta meta;
	struct recording_item it;
	uint64_t round_end = 0, now = 0, next_report = 0, interval = opts->interval_s * 1000000000ULL;
	char msg[256];
	int got, err;

	err = recording__open(&r, opts->replay_path, &meta, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "tcpstate-trace: %s\n", msg);
		return err;
	}
	a->replaying = true;
	now = meta.start_mono_ns;	/* a file without records ends where it began */
	a->out.clk.real_minus_mono_ns = meta.start_realtime_ns - (int64_t)meta.start_mono_ns;
	a->sum.start_mono_ns = meta.start_mono_ns;
	a->sum.state_hook = a->sum.cookie_mode = a->sum.close_hook = "replay";
	while ((got = recording__next(&r, &it, msg, sizeof(msg))) == 1) {
		const struct ts_event *e = &it.event;

		/* The live run's snapshot: the same record, the same seeds. */
		if (it.kind == RECORDING_KIND_SNAPSHOT) {
			now = it.snapshot.now_ns;
			if ((err = output__snapshot(&a->out, &it.snapshot.counts, now)))
				goto out;
			continue;
		}
		if (it.kind == RECORDING_KIND_SEED) {
			snapshot__seed(&a->conns, &it.seed);
			continue;
		}
		now = e->mono_ns;
		if (!round_end)
			round_end = now + 100000000ULL;
		while (now >= round_end) {
			a->round++;
			round_end += 100000000ULL;
			if ((err = flush_tw(a, a->round)))
				goto out;
			if ((err = timeline_flush(a)))
				goto out;
		}
		a->sum.records++;
		if (e->drop_gen > a->lost)
			a->lost = e->drop_gen;
		if ((err = take_record(a, e)))
			goto out;
		if (a->alert_after_ns && (err = check_alerts(a, now, a->alert_after_ns, NULL)))
			goto out;
		if (interval && !next_report)
			next_report = now + interval;
		if (interval && now >= next_report) {
			next_report += interval;
			if ((err = reports(a, opts, now, true)))
				goto out;
		}
	}
	if (got < 0)
		fprintf(stderr, "tcpstate-trace: %s; the results cover the records before it\n", msg);
	err = flush_tw(a, UINT64_MAX);
	if (!err)
		err = reports(a, opts, now, false);
	if (recording__end(&r)) {
		const struct recording_end *end = recording__end(&r);

		for (uint32_t i = 0; i < end->nstats && i < TS_STAT__MAX; i++)
			a->sum.stats[i] = end->stats[i];
	}
	a->sum.end_mono_ns = now;
	a->sum.tw_rearms = a->tw.undone;
	if (conns_finish(a, &a->sum.conns) && !err)
		err = a->timeline_err;
	if (!err)
		err = output__summary_record(&a->out, &a->sum);
	if (!err)
		err = output__flush(&a->out);
	output__summary_text(stderr, &a->sum);
	if (!err && got < 0)
		err = got;
out:
	if (a->timeline_path)
		conns_finish(a, &a->sum.conns);
	recording__close_reader(&r);
	return err;
}

static bool reader_gone(int err)
{
	return err == -EPIPE;
}

int main(int argc, char **argv)
{
	struct cli_opts opts;
	struct tracer *t = NULL;
	struct app a = {};
	char msg[512];
	uint64_t lost_seen = 0, next_check, next_report = 0;
	int err, timeout_ms = 100;

	switch (cli__parse(argc, argv, &opts)) {
	case CLI_OK: break;
	case CLI_EXIT_OK: return 0;
	default: return 2;
	}

	/* A closed stdout must end the run through EPIPE, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	output__init(&a.out, stdout, opts.json, opts.timestamps);
	a.alert_after_ns = (uint64_t)opts.close_wait_alert_s * 1000000000ULL;
	tw_pending__init(&a.tw);
	if (conn_table__init(&a.conns, cli__conn_cap(&opts)) || latency__init(&a.lat, opts.hist_by)) {
		fprintf(stderr, "tcpstate-trace: out of memory\n");
		return 1;
	}
	a.hist = opts.hist;
	conn_table__set_sink(&a.conns, on_conn_end, &a);
	if (opts.replay_path) {
		err = timeline_start(&a, &opts);
		if (!err)
			err = run_replay(&a, &opts);
		output__free(&a.out);
		conn_table__free(&a.conns);
		latency__free(&a.lat);
		if (reader_gone(err) && !a.timeline_err)
			return 0;
		return err ? 1 : 0;
	}
	if (opts.snapshot_only) {
		err = run_snapshot(&a, &opts);
		output__free(&a.out);
		conn_table__free(&a.conns);
		latency__free(&a.lat);
		if (err && !reader_gone(err))
			fprintf(stderr, "tcpstate-trace: %s\n", strerror(-err));
		return err && !reader_gone(err) ? 1 : 0;
	}
	err = tracer__open(&t, &opts, on_record, &a, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "tcpstate-trace: %s\n", msg);
		output__free(&a.out);
		return 1;
	}
	if (opts.record_path) {
		struct recording_meta meta;

		recording__meta_now(&meta);
		/* The output's own clock mapping, so replayed times print the
		 * same to the microsecond. */
		meta.start_realtime_ns = clock__to_realtime_ns(&a.out.clk, meta.start_mono_ns);
		err = recording__create(&a.rec, opts.record_path, &meta);
		if (err) {
			fprintf(stderr, "tcpstate-trace: cannot record to %s: %s\n", opts.record_path,
				strerror(-err));
			tracer__close(t);
			output__free(&a.out);
			return 1;
		}
		a.recording = true;
	}
	if (timeline_start(&a, &opts)) {
		if (a.recording)
			recording__close(&a.rec, NULL, 0);
		tracer__close(t);
		output__free(&a.out);
		return 1;
	}
	a.sum.state_hook = state_hook__name(tracer__choices(t)->state_hook);
	a.sum.cookie_mode = cookie_mode__name(tracer__choices(t)->cookie_mode);
	a.sum.close_hook = close_hook__name(tracer__choices(t)->close_hook);
	a.sum.exit_scan = tracer__choices(t)->exit_scan;
	a.sum.timewait = tracer__choices(t)->timewait;
	a.sum.missed_counted = tracer__choices(t)->misses_counted;
	a.sum.start_mono_ns = clock__mono_now();
	/* Attached first, then the snapshot: no socket falls in between. */
	err = take_snapshot(&a, &opts);
	if (!err)
		err = output__flush(&a.out);
	if (err) {
		conns_finish(&a, &a.sum.conns);
		tracer__close(t);
		output__free(&a.out);
		conn_table__free(&a.conns);
		latency__free(&a.lat);
		return reader_gone(err) ? 0 : 1;
	}
	fprintf(stderr, "tcpstate-trace: tracing TCP state transitions; Ctrl-C to end\n");

	next_check = a.sum.start_mono_ns + 1000000000ULL;
	if (opts.interval_s)
		next_report = a.sum.start_mono_ns + opts.interval_s * 1000000000ULL;
	while (!exiting) {
		/* 100 ms bounds the delivery delay: records are submitted
		 * without wakeups until a quarter of the ring is full. After
		 * a round cut short by the budget, come straight back. */
		a.round++;
		a.budget = RECORDS_PER_ROUND;
		err = tracer__poll(t, timeout_ms);
		timeout_ms = err == -EAGAIN ? 0 : 100;
		if (err < 0 && err != -EINTR && err != -EAGAIN)
			break;
		err = a.write_err ? a.write_err : flush_tw(&a, a.round);
		/* A quiet host: no record comes to expire them. */
		conn_table__expire(&a.conns, clock__mono_now() - QUIET_EXPIRE_NS);
		if (!err)
			err = timeline_flush(&a);
		if (!err && a.recording)
			err = recording__flush(&a.rec);
		if (!err && a.alert_after_ns)
			err = check_alerts(&a, clock__mono_now(), a.alert_after_ns, NULL);
		if (!err)
			err = output__flush(&a.out);
		if (err)
			break;
		if (next_report && clock__mono_now() >= next_report) {
			next_report += opts.interval_s * 1000000000ULL;
			if ((err = reports(&a, &opts, clock__mono_now(), true)))
				break;
		}
		if (clock__mono_now() >= next_check) {
			next_check += 1000000000ULL;
			err = report_lost(t, &a, &lost_seen, opts.ringbuf_bytes);
			if (err)
				break;
		}
	}
	if (err == -EINTR || err == -EAGAIN)
		err = 0;
	if (!err) {
		/* Stop the programs, then drain: nothing is produced after
		 * the drain, so the counts in the summary are exact. */
		tracer__detach(t);
		a.budget = 0;
		tracer__poll(t, 0);
		err = a.write_err ? a.write_err : flush_tw(&a, UINT64_MAX);
		if (!err)
			err = report_lost(t, &a, &lost_seen, opts.ringbuf_bytes);
	}

	if (!err)
		err = reports(&a, &opts, clock__mono_now(), false);
	a.sum.end_mono_ns = clock__mono_now();
	a.sum.tw_rearms = a.tw.undone;
	tracer__stats(t, a.sum.stats);
	a.sum.missed = tracer__missed(t);
	{
		struct tracer_decode_stats ds;

		tracer__decode_stats(t, &ds);
		a.sum.records += ds.malformed;
		a.sum.malformed += ds.malformed;
		a.sum.unidentified = ds.unidentified;
	}
	if (conns_finish(&a, &a.sum.conns) && !err)
		err = a.timeline_err;
	if (a.recording) {
		int rerr = recording__close(&a.rec, a.sum.stats, TS_STAT__MAX);

		a.recording = false;
		if (rerr && !err) {
			fprintf(stderr, "tcpstate-trace: writing %s: %s\n", opts.record_path,
				strerror(-rerr));
			err = rerr;
		}
	}
	if (!err) {
		err = output__summary_record(&a.out, &a.sum);
		if (!err)
			err = output__flush(&a.out);
	}
	output__summary_text(stderr, &a.sum);
	tracer__close(t);
	output__free(&a.out);
	conn_table__free(&a.conns);
	latency__free(&a.lat);

	if (a.timeline_err)
		return 1;	/* said by conns_finish() */
	if (reader_gone(err))
		return 0;
	if (err) {
		fprintf(stderr, "tcpstate-trace: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

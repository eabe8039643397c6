// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The live source: the tracer's ring buffer into the engine, a poll round
 * at a time, until a signal or a closed output ends the run. */
#include "run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census_job.h"
#include "clock.h"
#include "holder_job.h"
#include "privs.h"
#include "tracer.h"

/* Under a flood the ring refills as fast as it drains: a round ends after
 * this many records so the round's work and signals still get their turn. */
#define RECORDS_PER_ROUND 65536
/* Records are copied out of the ring and fed this many at a time: the
 * connection table is looked up for all of them ahead (engine__feed_wire_n). */
#define BATCH 32
#define BATCH_REC_MAX sizeof(struct ts_wire_full)

struct batch {
	size_t n;
	struct engine_wire w[BATCH];
	unsigned char rec[BATCH][BATCH_REC_MAX];
};

struct live {
	const struct cli_opts *o;
	struct output *out;
	struct tracer *t;
	struct engine *e;
	struct recording_writer rec;
	bool recording;
	uint32_t budget;	/* records left this round; 0: no limit */
	uint64_t dropped;	/* records the kernel dropped, at the last check */
	uint64_t unseen;	/* gaps and skipped runs, at the last check */
	bool reconcile_due;	/* records were lost since the last reconcile */
	uint64_t next_reconcile;	/* not before then */
	uint64_t next_audit;	/* reconcile then even with nothing lost */
	struct census_job census;	/* the reconcile's dump, while it runs */
	struct holder_job holder_job;	/* the alerts' scan of /proc, while it runs */
	struct holder_finder holders;	/* that job, as the engine takes it */
	struct batch batch;
};

/* A sock_diag dump of every socket costs: after a loss, reconcile at most
 * this often. */
#define RECONCILE_EVERY_NS (5 * 1000000000ULL)
/* Some kernels now and then run no program for a transition and count no
 * miss (seen on 6.18 with tp_btf): nothing says a reconcile is due, so one
 * comes this often anyway. */
#define AUDIT_EVERY_NS (60 * 1000000000ULL)

static int batch_flush(struct live *l)
{
	int err = engine__feed_wire_n(l->e, l->batch.w, l->batch.n);

	l->batch.n = 0;
	return err;
}

/* Into the batch; a record longer than its slots (none the BPF side makes
 * today) goes alone, in its turn. */
static int batch_add(struct live *l, const void *data, size_t len)
{
	struct batch *b = &l->batch;

	if (len > BATCH_REC_MAX) {
		int err = batch_flush(l);

		return err ? err : engine__feed_wire(l->e, data, len);
	}
	memcpy(b->rec[b->n], data, len);
	b->w[b->n] = (struct engine_wire){ b->rec[b->n], len };
	return ++b->n == BATCH ? batch_flush(l) : 0;
}

static int on_record(void *ctx, const void *data, size_t len)
{
	struct live *l = ctx;
	int err = batch_add(l, data, len);

	if (!err && l->budget && --l->budget == 0)
		return -EAGAIN;
	return err;
}

/* One poll of the ring, every record it took fed. */
static int live_poll(struct live *l, int timeout_ms)
{
	int err = tracer__poll(l->t, timeout_ms), ferr = batch_flush(l);

	return ferr ? ferr : err;
}

static int recording_open(struct live *l)
{
	struct recording_meta meta;
	char why[512];
	int err;

	if (!l->o->record_path)
		return 0;
	recording__meta_now(&meta);
	/* The output's own clock mapping, so replayed times print the same
	 * to the microsecond. */
	meta.start_realtime_ns = clock__to_realtime_ns(&l->out->clk, meta.start_mono_ns);
	err = recording__create(&l->rec, l->o->record_path, &meta, why, sizeof(why));
	if (err) {
		fprintf(stderr, "tcpstate-trace: cannot record: %s\n", why);
		return err;
	}
	l->recording = true;
	return 0;
}

static int recording_close(struct live *l, const uint64_t *stats)
{
	int err;

	if (!l->recording)
		return 0;
	l->recording = false;
	err = recording__close(&l->rec, stats, TS_STAT__MAX);
	if (err)
		fprintf(stderr, "tcpstate-trace: writing %s: %s\n", l->o->record_path,
			strerror(-err));
	return err;
}

/* The tracer's own counters, for the metrics. */
static int live_health(void *ctx, struct run_summary *s, struct metrics_prog *progs, int max)
{
	struct live *l = ctx;

	tracer__stats(l->t, s->stats);
	s->missed = tracer__missed(l->t);
	return tracer__prog_runs(l->t, progs, max);
}

/* Tracer, recording, engine, in that order: the first failure says why. */
static int live_open(struct live *l)
{
	struct engine_opts eo;
	char msg[512];

	if (tracer__open(&l->t, l->o, on_record, l, msg, sizeof(msg))) {
		fprintf(stderr, "tcpstate-trace: %s\n", msg);
		return -1;
	}
	if (recording_open(l))
		return -1;
	holder_job__finder(&l->holder_job, &l->holders);
	run__engine_opts(&eo, l->o, &l->holders, l->recording ? &l->rec : NULL);
	eo.health = live_health;
	eo.health_ctx = l;
	if (engine__new(&l->e, &eo, l->out))
		return -1;

	const struct plan *c = tracer__plan(l->t);
	struct run_summary *s = engine__summary(l->e);

	s->state_hook = state_hook__name(c->state_hook);
	s->cookie_mode = cookie_mode__name(c->cookie_mode);
	s->close_hook = close_hook__name(c->close_hook);
	s->exit_scan = c->exit_scan;
	s->timewait = c->timewait;
	s->missed_counted = c->misses_counted;
	return 0;
}

/* Whether reading the maps needs CAP_BPF: before 6.5, with
 * kernel.unprivileged_bpf_disabled set, every bpf() command does. Tried
 * with it lowered for the call. */
static bool bpf_reads_need_cap(struct live *l)
{
	uint64_t stats[TS_STAT__MAX], eff, prm;
	bool need;

	if (privs__get(&eff, &prm))
		return true;
	privs__lower(CAP_BPF_NR);
	privs__lower(CAP_SYS_ADMIN_NR);
	need = tracer__stats(l->t, stats) != 0;
	if (eff & PRIVS_CAP(CAP_BPF_NR))
		privs__raise(CAP_BPF_NR);
	if (eff & PRIVS_CAP(CAP_SYS_ADMIN_NR))
		privs__raise(CAP_SYS_ADMIN_NR);
	return need;
}

static void live_close(struct live *l)
{
	census_job__cancel(&l->census);
	recording_close(l, NULL);
	engine__free(l->e);
	tracer__close(l->t);
}

static int check_lost(struct live *l)
{
	uint64_t stats[TS_STAT__MAX];

	uint64_t unseen;

	if (tracer__stats(l->t, stats))
		return 0;
	/* Transitions the kernel did not report are a loss too: a
	 * connection's end among them would leave it open. */
	unseen = stats[TS_STAT_GAPS] + tracer__missed(l->t);
	if (stats[TS_STAT_DROPPED] > l->dropped || unseen > l->unseen) {
		l->dropped = stats[TS_STAT_DROPPED];
		l->unseen = unseen;
		l->reconcile_due = true;
	}
	return engine__lost(l->e, stats[TS_STAT_DROPPED], l->o->ringbuf_bytes);
}

/* Everything in the ring now, however many rounds' budget it takes. */
static int drain(struct live *l)
{
	int err;

	do {
		l->budget = RECORDS_PER_ROUND;
		err = live_poll(l, 0);
	} while (err == -EAGAIN);
	return err < 0 && err != -EINTR ? err : 0;
}

/* After a loss, the connections whose end was lost would stay open for
 * ever: end those the kernel no longer has. The dump runs on a thread of
 * its own while the rounds go on; a thread that cannot start is tried
 * again later. */
static void reconcile_start(struct live *l, uint64_t now)
{
	l->reconcile_due = false;
	l->next_reconcile = now + RECONCILE_EVERY_NS;
	l->next_audit = now + AUDIT_EVERY_NS;
	if (census_job__start(&l->census, l->o->all_netns, now))
		l->reconcile_due = true;
}

/* A finished dump against the table. A drain first, so every record made
 * before the dump ended is in: a connection with none since the dump began
 * and no socket did not just report late. A dump that failed leaves the
 * table as it is, to try again later. wait: for a dump still running. */
static int reconcile_finish(struct live *l, bool wait)
{
	struct sock_census k = { 0 };
	uint64_t checked;
	long changed;
	int err;

	if (!census_job__take(&l->census, wait, &k, &checked, &err))
		return 0;
	if (err) {
		l->reconcile_due = true;
		return 0;
	}
	err = drain(l);
	changed = err ? 0 : engine__reconcile(l->e, &k, checked);
	sock_census__free(&k);
	return err ? err : changed < 0 ? (int)changed : 0;
}

/* A dump of the kernel now, waited for (a running one is stale). */
static int reconcile_now(struct live *l)
{
	census_job__cancel(&l->census);
	reconcile_start(l, clock__mono_now());
	return reconcile_finish(l, true);
}

/* Poll rounds until the end. 100 ms bounds the delivery delay: records are
 * submitted without wakeups until a quarter of the ring is full. After a
 * round cut short by the budget, come straight back. */
static int live_loop(struct live *l, volatile sig_atomic_t *exiting)
{
	uint64_t now = clock__mono_now(), next_check = now + 1000000000ULL;
	int err = 0, timeout_ms = 100;

	l->next_audit = now + AUDIT_EVERY_NS;
	while (!*exiting) {
		l->budget = RECORDS_PER_ROUND;
		err = live_poll(l, timeout_ms);
		timeout_ms = err == -EAGAIN ? 0 : 100;
		if (err < 0 && err != -EINTR && err != -EAGAIN)
			return err;
		now = clock__mono_now();
		if ((err = engine__tick(l->e, now)))
			return err;
		if (now >= next_check) {
			next_check += 1000000000ULL;
			if ((err = check_lost(l)))
				return err;
		}
		if ((err = reconcile_finish(l, false)))
			return err;
		if ((l->reconcile_due || now >= l->next_audit) && now >= l->next_reconcile &&
		    !census_job__running(&l->census))
			reconcile_start(l, now);
	}
	return 0;
}

/* After a clean end, stop the programs, then drain: nothing is produced
 * after the drain, so the counts in the summary are exact. Either way the
 * summary gets the kernel's counters. */
static int live_drain(struct live *l, int err)
{
	struct run_summary *s = engine__summary(l->e);

	if (!err) {
		tracer__detach(l->t);
		l->budget = 0;
		live_poll(l, 0);	/* a write error stays in the engine */
		err = check_lost(l);
		/* Whatever was lost or not reported since the last
		 * reconcile: the final picture is the kernel's. */
		if (!err)
			err = reconcile_now(l);
	}
	tracer__stats(l->t, s->stats);
	s->missed = tracer__missed(l->t);
	return err;
}

static int exit_status(int err, const struct engine *e)
{
	if (engine__timeline_err(e))
		return 1;	/* said when the timeline closed */
	if (!err || run__reader_gone(err))
		return 0;
	fprintf(stderr, "tcpstate-trace: %s\n", strerror(-err));
	return 1;
}

int run__live(const struct cli_opts *o, struct output *out, volatile sig_atomic_t *exiting)
{
	struct live l = { .o = o, .out = out };
	int err, rerr, ferr, status;

	/* Attached, outputs open, the metrics server listening: from here
	 * on, only what the rest of the run uses. */
	if (live_open(&l) || run__limit_privs(o, true, bpf_reads_need_cap(&l))) {
		live_close(&l);
		return 1;
	}
	/* Attached first, then the snapshot: no socket falls in between. */
	engine__start(l.e, clock__mono_now());
	err = run__take_snapshot(l.e, o, out, l.recording ? &l.rec : NULL);
	if (!err)
		err = output__flush(out);
	if (err) {
		live_close(&l);
		return run__reader_gone(err) ? 0 : 1;
	}
	fprintf(stderr, "tcpstate-trace: tracing TCP state transitions; Ctrl-C to end\n");
	err = live_loop(&l, exiting);
	if (err == -EINTR || err == -EAGAIN)
		err = 0;
	err = live_drain(&l, err);
	rerr = recording_close(&l, engine__summary(l.e)->stats);
	ferr = engine__finish(l.e, clock__mono_now());
	if (!err)
		err = rerr ? rerr : ferr;
	status = exit_status(err, l.e);
	live_close(&l);
	return status;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The engine shared by live runs and replays (engine.h). */
#include "engine.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "lifecycle.h"
#include "tw_pending.h"
#include "tw_report.h"
#include "u64_set.h"
#include "wire.h"

/* Closed connections leave after this long without a later record: far
 * longer than records trail, so live and replayed timelines agree. */
#define QUIET_EXPIRE_NS 2000000000ULL

struct engine {
	struct engine_opts o;
	struct output *out;
	struct conn_table conns;
	struct tw_pending tw;		/* early TIME_WAIT ends awaiting a possible re-arm */
	struct latency lat;
	struct timeline tl;
	bool timeline_open;
	bool events_quiet;		/* the timeline has standard output: no event lines */
	int timeline_err;
	struct lifecycle_stats ended;	/* connections that left the table */
	struct run_summary sum;
	struct alerts al;		/* CLOSE_WAIT alerts and their holder scans */
	uint64_t round;			/* rounds so far */
	uint64_t next_report;		/* 0: none due */
	uint64_t lost;			/* records dropped so far, as far as known */
	uint64_t lost_said;		/* ... of which a "lost" record told */
	int write_err;			/* first output error; ends the run */
	struct metrics *m;		/* NULL: no metrics asked for */
	struct metrics_export *mx;
	uint64_t next_metrics_file;
	struct metrics_prog progs[64];
	int nprogs;
	char kernel[65];
	/* The cgroup ids whose names went to the recording, by the names'
	 * cache slot: what a replay's cache holds when the id's records come. */
	uint64_t rec_cg[CGROUP_NAMES_SLOTS];
};

/* Every connection leaving the table: counted, and to the timeline. */
static void on_conn_end(void *ctx, const struct conn *c, enum conn_exit why)
{
	struct engine *e = ctx;
	struct lifecycle l;

	lifecycle__derive(&l, c, why);
	if (why != CONN_EXIT_OPEN)
		lifecycle_stats__add(&e->ended, &l);
	if (why != CONN_EXIT_OPEN && e->m)
		metrics__ended(e->m, &l);
	if (e->timeline_open && !e->timeline_err)
		e->timeline_err = timeline__write(&e->tl, &l);
}

/* The container of an owner's cgroup, for the metrics' labels. */
static const char *owner_container(void *names, uint64_t cgroup_id)
{
	const struct cgroup_name *n = cgroup_names__get(names, cgroup_id);

	return n && n->has_container ? n->container.id : NULL;
}

static int timeline_open(struct engine *e)
{
	char why[512];
	int err;

	if (!e->o.timeline_path)
		return 0;
	err = timeline__open(&e->tl, e->o.timeline_path, e->o.timeline_format, why, sizeof(why));
	if (err) {
		fprintf(stderr, "tcpstate-trace: cannot write the timeline: %s\n", why);
		return err;
	}
	e->timeline_open = true;
	e->tl.cg = e->out->cg;
	e->events_quiet = e->events_quiet || strcmp(e->o.timeline_path, "-") == 0;
	return 0;
}

static int metrics_open(struct engine *e)
{
	struct utsname u;
	uint32_t lo, hi;
	char msg[512];
	int err;

	if (!e->o.metrics_listen && !e->o.metrics_file)
		return 0;
	e->m = calloc(1, sizeof(*e->m));
	if (!e->m || metrics__init(e->m)) {
		fprintf(stderr, "tcpstate-trace: out of memory\n");
		return -ENOMEM;
	}
	if (tw_report__port_range(&lo, &hi))
		lo = 1, hi = 0;	/* unknown: no ratio */
	metrics__watch(e->m, &e->conns, lo, hi);
	if (e->o.metrics_labels)
		latency__set_key(&e->m->lat, e->o.metrics_labels, owner_container, e->out->cg);
	err = metrics_export__new(&e->mx, e->o.metrics_listen, e->o.metrics_file, msg,
				  sizeof(msg));
	if (err) {
		fprintf(stderr, "tcpstate-trace: %s\n", msg);
		return err;
	}
	if (!uname(&u))
		snprintf(e->kernel, sizeof(e->kernel), "%s", u.release);
	return 0;
}

int engine__new(struct engine **out, const struct engine_opts *o, struct output *output)
{
	struct engine *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		goto nomem;
	e->o = *o;
	e->out = output;
	/* The source names its hooks; these stand until it does. */
	e->sum.state_hook = e->sum.cookie_mode = e->sum.close_hook = "unknown";
	tw_pending__init(&e->tw);
	if (conn_table__init(&e->conns, o->conn_cap)) {
		free(e);
		goto nomem;
	}
	if (latency__init(&e->lat, o->hist_by)) {
		conn_table__free(&e->conns);
		free(e);
		goto nomem;
	}
	conn_table__set_sink(&e->conns, on_conn_end, e);
	e->events_quiet = o->quiet;
	err = timeline_open(e);
	if (!err)
		err = metrics_open(e);
	if (!err && (err = alerts__init(&e->al, &e->conns, e->out, e->m, o->alert_after_ns,
					o->holders, &e->sum.holder_scans)))
		fprintf(stderr, "tcpstate-trace: out of memory\n");
	if (err) {
		engine__free(e);
		return err;
	}
	*out = e;
	return 0;
nomem:
	fprintf(stderr, "tcpstate-trace: out of memory\n");
	return -ENOMEM;
}

/* The metrics now, rendered and handed out (and written to the file when
 * file_due). A failure to render leaves the last text standing. */
static void metrics_out(struct engine *e, uint64_t now, bool file_due)
{
	struct metrics_render r = {
		.conns = &e->conns, .sum = &e->sum, .kernel = e->kernel, .now_ns = now,
	};
	struct metrics_http_stats http;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (metrics_export__http_stats(e->mx, &http))
		r.http = &http;
	if (e->o.health)
		e->nprogs = e->o.health(e->o.health_ctx, &e->sum, e->progs, 64);
	r.progs = e->progs;
	r.nprogs = e->nprogs;
	f = open_memstream(&text, &len);
	if (!f)
		return;
	if (!metrics__render(e->m, &r, f) && !fclose(f))
		metrics_export__publish(e->mx, text, len, file_due);
	else
		fclose(f);
	free(text);
}

/* Rendering walks the table: only when the file is due or a scrape asks. */
static void metrics_tick(struct engine *e, uint64_t now)
{
	bool file_due = e->o.metrics_file && now >= e->next_metrics_file;

	if (e->m)
		metrics__expire(e->m, now);
	if (!e->m || (!file_due && !metrics_export__wanted(e->mx)))
		return;
	if (file_due)
		e->next_metrics_file = now + (e->o.metrics_file_ns ? e->o.metrics_file_ns :
					      ENGINE_METRICS_NS);
	metrics_out(e, now, file_due);
}

/* The end of the run for the connections: the summary's picture of them
 * (and the final metrics, which agree with it), then every one still in
 * the table to the timeline, which is closed. */
static void conns_finish(struct engine *e, uint64_t now)
{
	int err;

	conn_table__expire(&e->conns, UINT64_MAX);	/* the closed ones count as ended */
	conn_summary__build(&e->sum.conns, &e->conns, &e->ended);
	if (e->m && now)
		metrics_out(e, now, true);
	conn_table__drain(&e->conns);
	if (!e->timeline_open)
		return;
	err = timeline__close(&e->tl);
	e->timeline_open = false;
	if (!e->timeline_err)
		e->timeline_err = err;
	if (e->timeline_err)
		fprintf(stderr, "tcpstate-trace: writing the timeline to %s: %s\n",
			e->o.timeline_path, strerror(-e->timeline_err));
}

void engine__free(struct engine *e)
{
	if (!e)
		return;
	alerts__free(&e->al);	/* first: a running scan writes to its memory */
	if (e->timeline_open)
		conns_finish(e, 0);
	conn_table__free(&e->conns);
	latency__free(&e->lat);
	metrics_export__free(e->mx);
	if (e->m)
		metrics__free(e->m);
	free(e->m);
	free(e);
}

void engine__start(struct engine *e, uint64_t now)
{
	e->sum.start_mono_ns = now;
	if (e->o.interval_ns)
		e->next_report = now + e->o.interval_ns;
	if (e->m)
		metrics_out(e, now, e->o.metrics_file != NULL);	/* something from the start */
}

/* The record's connection, once those closed long enough before it have
 * left: what a record joins depends on the records alone, live or replayed. */
static struct conn *conn_of(struct engine *e, const struct ts_event *ev)
{
	if (ev->mono_ns > CONN_LATE_NS)
		conn_table__expire(&e->conns, ev->mono_ns - CONN_LATE_NS);
	return ev->cookie ? conn_table__find(&e->conns, ev->cookie) : NULL;
}

static int report_one(struct engine *e, const struct ts_event *ev, struct conn *c);

/* A timewait socket's end whose FIN_WAIT2 -> TIME_WAIT the kernel side did
 * not see (TS_EVF_DERIVED): the transition at the moment its timer gives
 * (the end's mono_ns - prev_state_ns), reported first. Made from the end
 * alone, never recorded: a replay derives it again the same way. */
static int derived_fin(struct engine *e, const struct ts_event *end, struct conn *c)
{
	struct ts_event ev = *end;

	if (!c || c->state != TS_TCP_FIN_WAIT2 || !(end->flags & TS_EVF_PREV_KNOWN) ||
	    end->prev_state_ns > end->mono_ns)
		return 0;
	ev.mono_ns = end->mono_ns - end->prev_state_ns;
	ev.oldstate = TS_TCP_FIN_WAIT2;
	ev.newstate = TS_TCP_TIME_WAIT;
	ev.tw_substate = TS_TCP_TIME_WAIT;
	ev.tw_reason = 0;
	ev.flags = (end->flags & TS_EVF_SYNTH_COOKIE) | TS_EVF_TIMEWAIT | TS_EVF_DERIVED;
	ev.prev_state_ns = 0;
	if (c->since_known && c->state_since_ns <= ev.mono_ns) {
		ev.prev_state_ns = ev.mono_ns - c->state_since_ns;
		ev.flags |= TS_EVF_PREV_KNOWN;
	}
	e->sum.derived++;
	return report_one(e, &ev, c);
}

/* A record, into its connection c and out. */
static int report(struct engine *e, const struct ts_event *ev, struct conn *c)
{
	struct ts_event end;
	int err;

	if (ev->type != TS_EV_STATE || !(ev->flags & TS_EVF_DERIVED) ||
	    ev->oldstate != TS_TCP_TIME_WAIT)
		return report_one(e, ev, c);
	if (c && c->state == TS_TCP_TIME_WAIT && c->since_known && c->state_since_ns <= ev->mono_ns) {
		/* A dump already timed the FIN from the same timer: one moment
		 * for both records, the one reported first. */
		end = *ev;
		end.prev_state_ns = ev->mono_ns - c->state_since_ns;
		end.flags |= TS_EVF_PREV_KNOWN;
		return report_one(e, &end, c);
	}
	err = derived_fin(e, ev, c);
	return err ? err : report_one(e, ev, c);
}

static int report_one(struct engine *e, const struct ts_event *ev, struct conn *c)
{
	bool before_start = c && c->before_start;
	int err;

	if (ev->type == TS_EV_STATE)
		e->sum.transitions++;
	if (e->o.hist)
		latency__add(&e->lat, ev, c);
	if (e->m)
		metrics__record(e->m, ev, c);
	conn_table__apply_found(&e->conns, c, ev);
	if (e->events_quiet)
		return 0;
	err = output__event(e->out, ev, before_start);
	if (err)
		e->write_err = err;
	return err;
}

/* The recording gets what an owner's cgroup id names before the record
 * that carries it, so a replay elsewhere, or after the cgroup is gone,
 * names it the same. */
static int record_cgroup(struct engine *e, uint64_t id)
{
	uint64_t *slot = &e->rec_cg[cgroup_names__slot(id) % CGROUP_NAMES_SLOTS];
	const struct cgroup_name *n;

	if (!id || *slot == id)
		return 0;
	n = cgroup_names__get(e->out->cg, id);
	if (n && !n->settled)
		return 0;	/* a lookup to try again: recorded once it is known */
	*slot = id;
	return recording__write_cgroup(e->o.rec, id, n && n->found ? n->path : NULL);
}

/* ev, whose connection is c (looked up by conn_of()). */
static int feed(struct engine *e, const struct ts_event *ev, struct conn *c)
{
	if (ev->flags & TS_EVF_FROM_DUMP)
		e->sum.from_dump++;	/* the tracer's, not the kernel's */
	else
		e->sum.records++;
	if (ev->type < TS_EV_STATE || ev->type > TS_EV__MAX) {
		e->sum.malformed++;
		return 0;
	}
	if (ev->drop_gen > e->lost)
		e->lost = ev->drop_gen;
	if (e->o.rec) {
		int err = record_cgroup(e, ev->cgroup_id);

		if (err && err != -EINVAL)
			return e->write_err = err;
		err = recording__write(e->o.rec, ev);

		if (err == -EINVAL)
			e->sum.malformed++;
		else if (err)
			return e->write_err = err;
	}
	if (ev->type == TS_EV_TW_REARM) {
		e->sum.internal++;
		tw_pending__rearm(&e->tw, ev);
		return 0;
	}
	if (ev->flags & TS_EVF_TENTATIVE) {
		struct ts_event oldest;

		/* Held a round; when the holding area is full its oldest
		 * end is reported now. */
		if (tw_pending__add(&e->tw, ev, e->round, &oldest))
			return report(e, &oldest, conn_of(e, &oldest));
		return 0;
	}
	return report(e, ev, c);
}

int engine__feed(struct engine *e, const struct ts_event *ev)
{
	return feed(e, ev, conn_of(e, ev));
}

int engine__feed_wire(struct engine *e, const void *data, size_t len)
{
	struct ts_event ev;
	int parts = wire__decode(data, len, &ev);
	struct conn *c;

	if (parts < 0) {
		e->sum.records++;
		e->sum.malformed++;
		return 0;
	}
	c = conn_of(e, &ev);
	if (!wire__complete(&ev, parts, c ? &c->ident : NULL))
		e->sum.unidentified++;
	return feed(e, &ev, c);
}

int engine__feed_wire_n(struct engine *e, const struct engine_wire *w, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++)
		conn_table__prefetch_slot(&e->conns, wire__cookie(w[i].data, w[i].len));
	for (size_t i = 0; i < n; i++)
		conn_table__prefetch_conn(&e->conns, wire__cookie(w[i].data, w[i].len));
	for (size_t i = 0; i < n && !err; i++)
		err = engine__feed_wire(e, w[i].data, w[i].len);
	return err;
}

/* Report the early TIME_WAIT ends no re-arm has withdrawn since the last
 * round (all of them with round UINT64_MAX). */
static int flush_tw(struct engine *e, uint64_t round)
{
	struct ts_event ev;
	int err = e->write_err;

	while (!err && tw_pending__take_due(&e->tw, round, &ev))
		err = report(e, &ev, conn_of(e, &ev));
	return err;
}

int engine__alerts(struct engine *e, uint64_t now, uint64_t min_age_ns, int *count)
{
	return alerts__now(&e->al, now, min_age_ns, count);
}

int engine__tw_report(struct engine *e, uint64_t now)
{
	struct tw_report r;
	uint32_t lo = 0, hi = 0;
	int err;

	tw_report__port_range(&lo, &hi);
	err = tw_report__build(&r, &e->conns, lo, hi);
	if (err)
		return err;
	err = output__tw_report(e->out, &r, now);
	tw_report__free(&r);
	return err;
}

/* The periodic and final reports the options ask for. */
static int reports(struct engine *e, uint64_t now, bool periodic)
{
	int err = 0;

	if (e->o.timewait_report)
		err = engine__tw_report(e, now);
	if (!err && e->o.hist)
		err = output__latency(e->out, &e->lat, now);
	if (!err && periodic) {
		struct conn_summary cs;

		conn_summary__build(&cs, &e->conns, &e->ended);
		err = output__connections(e->out, &cs, e->lost, now);
	}
	return err;
}

/* Once per round: the timeline's entries out. A write error ends the run,
 * whatever it is: a timeline that stops silently would be worse. */
static int timeline_flush(struct engine *e)
{
	if (!e->timeline_open)
		return 0;
	if (!e->timeline_err)
		e->timeline_err = timeline__flush(&e->tl);
	return e->timeline_err;
}

/* The first of due, due + every, due + 2 every, ... after now: one report
 * after a stall or the rounds a replay skipped, not one per round to catch
 * up. UINT64_MAX past the clock's end. */
static uint64_t next_due(uint64_t due, uint64_t now, uint64_t every)
{
	uint64_t k = (now - due) / every + 1, next;

	if (__builtin_mul_overflow(k, every, &k) || __builtin_add_overflow(due, k, &next))
		return UINT64_MAX;
	return next;
}

/* t + d, or UINT64_MAX past the clock's end. */
static uint64_t add_sat(uint64_t t, uint64_t d)
{
	return t > UINT64_MAX - d ? UINT64_MAX : t + d;
}

uint64_t engine__quiet_until(const struct engine *e)
{
	uint64_t closed = conn_table__oldest_closed_ns(&e->conns);
	uint64_t due = closed == UINT64_MAX ? UINT64_MAX : add_sat(closed, QUIET_EXPIRE_NS + 1);

	if (e->tw.n || e->write_err)
		return 0;
	if (e->o.alert_after_ns) {
		uint64_t cw = conn_table__oldest_close_wait_ns(&e->conns);

		if (cw != UINT64_MAX && add_sat(cw, e->o.alert_after_ns) < due)
			due = add_sat(cw, e->o.alert_after_ns);
	}
	return due;
}

int engine__tick(struct engine *e, uint64_t now)
{
	int err;

	/* Ends held in this round wait for the next one's tick. */
	err = flush_tw(e, e->round++);
	/* A quiet source: no record comes to expire them. */
	if (now > QUIET_EXPIRE_NS)
		conn_table__expire(&e->conns, now - QUIET_EXPIRE_NS);
	if (!err)
		err = timeline_flush(e);
	if (!err && e->o.rec)
		err = recording__flush(e->o.rec);
	if (!err && e->o.alert_after_ns)
		err = alerts__tick(&e->al, now);
	if (!err && e->next_report && now >= e->next_report) {
		e->next_report = next_due(e->next_report, now, e->o.interval_ns);
		err = reports(e, now, true);
	}
	if (!err)
		metrics_tick(e, now);
	if (!err)
		err = output__flush(e->out);
	if (err && !e->write_err)
		e->write_err = err;	/* nothing more is written */
	return err;
}

int engine__lost(struct engine *e, uint64_t total, uint32_t ringbuf_bytes)
{
	uint64_t said = e->lost_said;

	if (total <= said)
		return 0;
	e->lost_said = total;
	if (total > e->lost)
		e->lost = total;
	return output__lost(e->out, total - said, total, ringbuf_bytes);
}

/* A connection whose socket the kernel holds as a timewait socket, in
 * another state in the table: the handoff's record never came (a run the
 * kernel skipped). state: TIME_WAIT, or FIN_WAIT2 for the FIN_WAIT2
 * substate (as ss says). The transition as the dump shows it, at the dump's time,
 * fed as a record so a replay makes it too. Not marked gap: nothing
 * before it is missing, it is the one not seen. */
static int timewait_from_dump(struct engine *e, const struct conn *c, uint8_t state,
			      uint8_t substate, uint64_t checked_ns)
{
	struct ts_event ev = c->ident;

	ev.type = TS_EV_STATE;
	ev.mono_ns = checked_ns;
	ev.prev_state_ns = 0;
	ev.oldstate = (uint8_t)c->state;
	ev.newstate = state;
	ev.flags = (c->ident.flags & TS_EVF_SYNTH_COOKIE) | TS_EVF_TIMEWAIT | TS_EVF_FROM_DUMP;
	ev.tw_substate = substate;
	ev.tw_reason = 0;
	ev.fd = -1;
	ev.refs = ev.how = ev.final = ev.via = ev.reset_dir = 0;
	return engine__feed(e, &ev);
}

/* A FIN_WAIT2 connection whose timewait socket the dump found in TIME_WAIT:
 * the peer's FIN moved its timer unseen. FIN_WAIT2 -> TIME_WAIT when the
 * timer says (since_ns, from the dump's expiry), marked derived; at the
 * dump's time, as any dump's finding, when that cannot be. */
static int fin_from_dump(struct engine *e, const struct conn *c, uint64_t since_ns,
			 uint64_t checked_ns)
{
	struct ts_event ev = c->ident;

	if (!since_ns || since_ns > checked_ns || (c->since_known && since_ns < c->state_since_ns))
		return timewait_from_dump(e, c, TS_TCP_TIME_WAIT, TS_TCP_TIME_WAIT, checked_ns);
	ev.type = TS_EV_STATE;
	ev.mono_ns = since_ns;
	ev.oldstate = TS_TCP_FIN_WAIT2;
	ev.newstate = TS_TCP_TIME_WAIT;
	ev.flags = (c->ident.flags & TS_EVF_SYNTH_COOKIE) | TS_EVF_TIMEWAIT | TS_EVF_FROM_DUMP |
		   TS_EVF_DERIVED;
	ev.prev_state_ns = 0;
	if (c->since_known) {
		ev.prev_state_ns = since_ns - c->state_since_ns;
		ev.flags |= TS_EVF_PREV_KNOWN;
	}
	ev.tw_substate = TS_TCP_TIME_WAIT;
	ev.tw_reason = 0;
	ev.fd = -1;
	ev.refs = ev.how = ev.final = ev.via = ev.reset_dir = 0;
	return engine__feed(e, &ev);
}

/* One stale connection against the dump: 1 if it changed, 0 if not. */
static int check_one(struct engine *e, const struct sock_census *k, uint64_t cookie,
		     uint64_t checked_ns)
{
	const struct conn *c = conn_table__find(&e->conns, cookie);
	uint64_t key;
	int err;

	if (!c || c->closed)
		return 0;
	key = sock_key__of(&c->ident);
	if (!u64_set__has(k->alive, k->nalive, key)) {
		/* So a replay ends the same connections at the same point. */
		if (e->o.rec && !e->write_err &&
		    (err = recording__write_gone(e->o.rec, cookie, checked_ns)))
			e->write_err = err;
		engine__gone(e, cookie, checked_ns);
		return 1;
	}
	if (!c->state || c->state == TS_TCP_TIME_WAIT)
		return 0;
	/* FIN_WAIT2 in a timewait socket is FIN_WAIT2. One in TIME_WAIT
	 * had the peer's FIN unseen (a timer moved silently): the end would
	 * time it, but the counts must agree with the kernel's now. */
	if (c->state == TS_TCP_FIN_WAIT2 && !u64_set__has(k->tw, k->ntw, key))
		return 0;
	if (c->state == TS_TCP_FIN_WAIT2 && u64_set__has(k->tw, k->ntw, key))
		err = fin_from_dump(e, c, sock_census__tw_since(k, key), checked_ns);
	else if (u64_set__has(k->tw, k->ntw, key))
		err = timewait_from_dump(e, c, TS_TCP_TIME_WAIT, TS_TCP_TIME_WAIT, checked_ns);
	else if (u64_set__has(k->tw_fin2, k->ntw_fin2, key))
		err = timewait_from_dump(e, c, TS_TCP_FIN_WAIT2, TS_TCP_FIN_WAIT2, checked_ns);
	else
		return 0;
	return err ? err : 1;
}

long engine__reconcile(struct engine *e, const struct sock_census *k, uint64_t checked_ns)
{
	uint64_t held[TW_PENDING_SLOTS], *stale;
	size_t nheld = tw_pending__cookies(&e->tw, held, TW_PENDING_SLOTS);
	long n = conn_table__find_stale(&e->conns, checked_ns, &stale), changed = 0;
	int r = 0;

	u64_set__sort(held, nheld);
	for (long i = 0; i < n && r >= 0; i++) {
		/* Its end is here, held a round for a possible re-arm. */
		if (u64_set__has(held, nheld, stale[i]))
			continue;
		r = check_one(e, k, stale[i], checked_ns);
		changed += r > 0;
	}
	if (n > 0)
		free(stale);
	return n < 0 ? n : r < 0 ? r : changed;
}

void engine__gone(struct engine *e, uint64_t cookie, uint64_t checked_ns)
{
	const struct conn *c = conn_table__find(&e->conns, cookie);
	int err;

	if (!c || c->closed)
		return;
	/* The stream says so too, not only the timeline and the counts. */
	if (!e->events_quiet && !e->write_err && (err = output__gone(e->out, c, checked_ns)))
		e->write_err = err;
	conn_table__end_gone(&e->conns, cookie);
}

int engine__finish(struct engine *e, uint64_t now)
{
	int err = flush_tw(e, UINT64_MAX);

	if (!err && e->o.alert_after_ns)
		err = alerts__finish(&e->al, now);	/* those a scan still held up */
	if (!err)
		err = reports(e, now, false);
	e->sum.end_mono_ns = now;
	e->sum.tw_rearms = e->tw.undone;
	e->sum.cgroup_lookups = cgroup_names__stats(e->out->cg);
	conns_finish(e, now);
	if (!err)
		err = e->timeline_err;
	if (!err)
		err = output__summary_record(e->out, &e->sum);
	if (!err)
		err = output__flush(e->out);
	output__summary_text(stderr, &e->sum);
	return err;
}

struct conn_table *engine__conns(struct engine *e)
{
	return &e->conns;
}

struct run_summary *engine__summary(struct engine *e)
{
	return &e->sum;
}

int engine__timeline_err(const struct engine *e)
{
	return e->timeline_err;
}

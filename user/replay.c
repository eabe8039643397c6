// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The replay source: a recording's records into the engine. A round is
 * ENGINE_ROUND_NS of recorded time; "now" is the recording's time. Rounds
 * in which the engine would do nothing new are skipped: a replay costs
 * what its records and outputs cost, never what its clock's gaps span. */
#include "run.h"
#include <stdio.h>

#include "fmt.h"

#include "snapshot.h"

struct replay {
	struct recording_reader r;
	struct engine *e;
	struct output *out;
	uint64_t now;		/* the newest record's time */
	uint64_t round_end;	/* 0: before the first record; UINT64_MAX: the
				 * clock has no round left (a crafted time) */
};

#define ROUND ENGINE_ROUND_NS

/* The first round end at or after t, counting from the round end base
 * (t >= base); UINT64_MAX past the clock's end. */
static uint64_t round_at_or_after(uint64_t base, uint64_t t)
{
	uint64_t k = (t - base) / ROUND + ((t - base) % ROUND != 0);

	return k > (UINT64_MAX - base) / ROUND ? UINT64_MAX : base + k * ROUND;
}

/* The last round end at or before t (t >= base). */
static uint64_t round_at_or_before(uint64_t base, uint64_t t)
{
	return base + (t - base) / ROUND * ROUND;
}

/* The round to tick after the one ending at rp->round_end, with the next
 * record at mono_ns: the next round, unless the engine says those before
 * some later one would only repeat themselves; then that one, or the last
 * before the record, whichever comes first (so a report due in the gap is
 * written once, before the record changes anything). */
static uint64_t next_round(struct replay *rp, uint64_t mono_ns)
{
	uint64_t next, quiet, last;

	if (rp->round_end > UINT64_MAX - ROUND)
		return UINT64_MAX;
	next = rp->round_end + ROUND;
	if (next >= mono_ns)
		return next;
	quiet = engine__quiet_until(rp->e);
	if (quiet <= next)
		return next;
	last = round_at_or_before(next, mono_ns);
	if (quiet == UINT64_MAX)
		return last;
	quiet = round_at_or_after(next, quiet);
	return quiet < last ? quiet : last;
}

/* The rounds that ended before a record at mono_ns, each ticked at its
 * end (those that would do nothing skipped). */
static int rounds_before(struct replay *rp, uint64_t mono_ns)
{
	int err = 0;

	if (!rp->round_end)
		rp->round_end = mono_ns > UINT64_MAX - ROUND ? UINT64_MAX : mono_ns + ROUND;
	while (!err && rp->round_end != UINT64_MAX && mono_ns >= rp->round_end) {
		err = engine__tick(rp->e, rp->round_end);
		rp->round_end = next_round(rp, mono_ns);
	}
	return err;
}

static int replay_item(struct replay *rp, const struct recording_item *it)
{
	int err;

	switch (it->kind) {
	case RECORDING_KIND_SNAPSHOT:
		/* The live run's snapshot: the same record, the same seeds. */
		rp->now = it->snapshot.now_ns;
		return output__snapshot(rp->out, &it->snapshot.counts, rp->now);
	case RECORDING_KIND_SEED:
		snapshot__seed(engine__conns(rp->e), &it->seed);
		return 0;
	case RECORDING_KIND_GONE:
		engine__gone(rp->e, it->gone.cookie, it->gone.checked_ns);
		return 0;
	case RECORDING_KIND_CGROUP:
		cgroup_names__put(rp->out->cg, it->cgroup.id,
				  it->cgroup.found ? it->cgroup.path : NULL);
		return 0;
	default:
		rp->now = it->event.mono_ns;
		err = rounds_before(rp, rp->now);
		return err ? err : engine__feed(rp->e, &it->event);
	}
}

/* The kernel's counters, as the live run ended with them. */
static void copy_stats(struct replay *rp)
{
	const struct recording_end *end = recording__end(&rp->r);
	struct run_summary *s = engine__summary(rp->e);

	for (uint32_t i = 0; end && i < end->nstats && i < TS_STAT__MAX; i++)
		s->stats[i] = end->stats[i];
}

static int replay_all(struct replay *rp)
{
	struct recording_item it;
	char msg[256], text[FMT_TEXT_MAX(sizeof(msg)) + 1];
	int got, err = 0, ferr;

	while (!err && (got = recording__next(&rp->r, &it, msg, sizeof(msg))) == 1)
		err = replay_item(rp, &it);
	if (err)
		return err;
	if (got < 0)
		fprintf(stderr, "tcpstate-trace: %s; the results cover the records before it\n",
			fmt__text_z(text, sizeof(text), msg, sizeof(msg)));
	copy_stats(rp);
	/* To where the live run ended, as it ticked on after its last record:
	 * the alerts and reports of its quiet end come out too. */
	if (got == 0 && recording__end(&rp->r) && recording__end(&rp->r)->end_mono_ns > rp->now) {
		rp->now = recording__end(&rp->r)->end_mono_ns;
		if ((err = rounds_before(rp, rp->now)))
			return err;
	}
	ferr = engine__finish(rp->e, rp->now);
	return ferr ? ferr : got < 0 ? got : 0;
}

/* The recording opened in rp->r (meta its header) through the engine. */
/* drop_privs: a replay from the command line needs no capability once the
 * recording and the outputs are open, run as root or not; the fuzz target
 * (run__replay_stream) keeps its own. */
static int replay_opened(struct replay *rp, const struct cli_opts *o,
			 const struct recording_meta *meta, bool drop_privs)
{
	struct engine_opts eo;
	int err;

	run__engine_opts(&eo, o, NULL, NULL);
	if (engine__new(&rp->e, &eo, rp->out)) {
		recording__close_reader(&rp->r);
		return 1;
	}
	if (drop_privs && run__limit_privs(o, false, false)) {
		engine__free(rp->e);
		recording__close_reader(&rp->r);
		return 1;
	}
	struct run_summary *s = engine__summary(rp->e);

	s->state_hook = s->cookie_mode = s->close_hook = "replay";
	rp->out->clk.real_minus_mono_ns = clock__clamp_ns((__int128)meta->start_realtime_ns -
							  meta->start_mono_ns);
	rp->now = meta->start_mono_ns;	/* a file without records ends where it began */
	engine__start(rp->e, meta->start_mono_ns);
	err = replay_all(rp);
	int status = engine__timeline_err(rp->e) || (err && !run__reader_gone(err)) ? 1 : 0;

	engine__free(rp->e);
	recording__close_reader(&rp->r);
	return status;
}

/* The message quotes the file (its name, its host): escaped. */
static void open_failed(const char *msg, size_t len)
{
	char text[FMT_TEXT_MAX(256) + 1];

	fprintf(stderr, "tcpstate-trace: %s\n", fmt__text_z(text, sizeof(text), msg, len));
}

int run__replay(const struct cli_opts *o, struct output *out)
{
	struct replay rp = { .out = out };
	struct recording_meta meta;
	char msg[256];

	if (recording__open(&rp.r, o->replay_path, &meta, msg, sizeof(msg))) {
		open_failed(msg, sizeof(msg));
		return 1;
	}
	return replay_opened(&rp, o, &meta, true);
}

int run__replay_stream(const struct cli_opts *o, struct output *out, FILE *f)
{
	struct replay rp = { .out = out };
	struct recording_meta meta;
	char msg[256];

	if (recording__open_stream(&rp.r, f, &meta, msg, sizeof(msg))) {
		open_failed(msg, sizeof(msg));
		return 1;
	}
	return replay_opened(&rp, o, &meta, false);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The replay source: a recording's records into the engine. A round is
 * ENGINE_ROUND_NS of recorded time; "now" is the recording's time. */
#include "run.h"
#include <stdio.h>

#include "snapshot.h"

struct replay {
	struct recording_reader r;
	struct engine *e;
	struct output *out;
	uint64_t now;		/* the newest record's time */
	uint64_t round_end;	/* 0: before the first record */
};

/* The rounds that ended before ev, each ticked at its end. */
static int rounds_before(struct replay *rp, uint64_t mono_ns)
{
	int err = 0;

	if (!rp->round_end)
		rp->round_end = mono_ns + ENGINE_ROUND_NS;
	while (!err && mono_ns >= rp->round_end) {
		err = engine__tick(rp->e, rp->round_end);
		rp->round_end += ENGINE_ROUND_NS;
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
	char msg[256];
	int got, err = 0, ferr;

	while (!err && (got = recording__next(&rp->r, &it, msg, sizeof(msg))) == 1)
		err = replay_item(rp, &it);
	if (err)
		return err;
	if (got < 0)
		fprintf(stderr, "tcpstate-trace: %s; the results cover the records before it\n",
			msg);
	copy_stats(rp);
	ferr = engine__finish(rp->e, rp->now);
	return ferr ? ferr : got < 0 ? got : 0;
}

int run__replay(const struct cli_opts *o, struct output *out)
{
	struct replay rp = { .out = out };
	struct recording_meta meta;
	struct engine_opts eo;
	char msg[256];
	int err;

	if (recording__open(&rp.r, o->replay_path, &meta, msg, sizeof(msg))) {
		fprintf(stderr, "tcpstate-trace: %s\n", msg);
		return 1;
	}
	run__engine_opts(&eo, o, false, NULL);
	if (engine__new(&rp.e, &eo, out)) {
		recording__close_reader(&rp.r);
		return 1;
	}
	/* The recording and the outputs are open: a replay needs nothing
	 * more, run as root or not. */
	if (run__limit_privs(o, false, false)) {
		engine__free(rp.e);
		recording__close_reader(&rp.r);
		return 1;
	}
	struct run_summary *s = engine__summary(rp.e);

	s->state_hook = s->cookie_mode = s->close_hook = "replay";
	out->clk.real_minus_mono_ns = meta.start_realtime_ns - (int64_t)meta.start_mono_ns;
	rp.now = meta.start_mono_ns;	/* a file without records ends where it began */
	engine__start(rp.e, meta.start_mono_ns);
	err = replay_all(&rp);
	int status = engine__timeline_err(rp.e) || (err && !run__reader_gone(err)) ? 1 : 0;

	engine__free(rp.e);
	recording__close_reader(&rp.r);
	return status;
}

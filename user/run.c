// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the sources share (run.h), and the --snapshot mode. */
#include "run.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "holder_job.h"
#include "privs.h"
#include "snapshot.h"

void run__engine_opts(struct engine_opts *eo, const struct cli_opts *o,
		      const struct holder_finder *holders, struct recording_writer *rec)
{
	*eo = (struct engine_opts){
		.conn_cap = cli__conn_cap(o),
		.alert_after_ns = (uint64_t)o->close_wait_alert_s * 1000000000ULL,
		.hist = o->hist,
		.hist_by = o->hist_by,
		.timewait_report = o->timewait_report,
		.interval_ns = (uint64_t)o->interval_s * 1000000000ULL,
		.timeline_path = o->timeline_path,
		.timeline_format = o->timeline_format,
		.holders = holders,
		.rec = rec,
		.quiet = o->quiet,
		.metrics_listen = o->metrics ? &o->metrics_listen : NULL,
		.metrics_file = o->metrics_file,
		.metrics_labels = o->metrics_labels,
		.metrics_file_ns = (uint64_t)(o->interval_s ? o->interval_s : 1) * 1000000000ULL,
	};
}

bool run__reader_gone(int err)
{
	return err == -EPIPE;
}

static void snapshot_warn(int err)
{
	if (err == -ENOENT)
		fprintf(stderr, "tcpstate-trace: warning: no snapshot of existing sockets: this "
			"kernel has no TCP sock_diag loaded (modprobe tcp_diag)\n");
	else if (err)
		fprintf(stderr, "tcpstate-trace: warning: the snapshot of existing sockets is "
			"incomplete: %s\n", strerror(-err));
}

int run__take_snapshot(struct engine *e, const struct cli_opts *o, struct output *out,
		       struct recording_writer *rec)
{
	struct snapshot snap;
	struct snapshot_seed *seeds = NULL;
	struct snapshot_filter filter = {
		.family = o->family, .pid = o->pid, .cgroup_path = o->cgroup_path,
		.sports = o->sports, .nsports = o->nsports,
		.dports = o->dports, .ndports = o->ndports,
	};
	uint64_t now = clock__mono_now();
	int err;

	snapshot_warn(snapshot__take(&snap, engine__conns(e), o->all_netns, now, &filter,
				     rec ? &seeds : NULL));
	if (rec) {
		/* So a replay seeds the same connections and prints this record. */
		err = recording__write_snapshot(rec, &snap, now, seeds, snap.total);
		free(seeds);
		if (err) {
			fprintf(stderr, "tcpstate-trace: writing %s: %s\n", o->record_path,
				strerror(-err));
			return err;
		}
	}
	return output__snapshot(out, &snap, now);
}

int run__limit_privs(const struct cli_opts *o, bool live, bool bpf_syscall)
{
	struct privs_need n = { 0 };
	uint64_t eff, prm;
	char err[256], names[512];

	/* A replay reads a file and writes outputs already open: none. */
	if (live) {
		n.holders = o->close_wait_alert_s || o->pid || o->cgroup_path;
		n.cgroups = true;
		n.all_netns = o->all_netns;
		n.metrics_file = o->metrics_file;
		n.bpf_syscall = bpf_syscall;
	}
	privs__sets(&n, &eff, &prm);
	if (privs__limit(eff, prm, err, sizeof(err))) {
		fprintf(stderr, "tcpstate-trace: %s\n", err);
		return -1;
	}
	if (o->verbose && !privs__get(&eff, &prm)) {
		privs__names(eff, names, sizeof(names));
		fprintf(stderr, "tcpstate-trace: capabilities kept: %s", names);
		privs__names(prm & ~eff, names, sizeof(names));
		fprintf(stderr, "; permitted, raised only for a call: %s\n", names);
	}
	return 0;
}

/* --snapshot: the picture now, every CLOSE_WAIT diagnosed, no tracing. */
int run__snapshot(const struct cli_opts *o, struct output *out)
{
	struct holder_job job = { 0 };
	struct holder_finder holders;
	struct engine_opts eo;
	struct engine *e;
	int err, n = ENGINE_ALERT_BATCH;

	holder_job__finder(&job, &holders);
	run__engine_opts(&eo, o, &holders, NULL);
	eo.timeline_path = NULL;
	if (engine__new(&e, &eo, out))
		return 1;
	if (run__limit_privs(o, true, false)) {
		engine__free(e);
		return 1;
	}
	err = run__take_snapshot(e, o, out, NULL);
	while (!err && n == ENGINE_ALERT_BATCH)
		err = engine__alerts(e, clock__mono_now(), 0, &n);
	if (!err)
		err = engine__tw_report(e, clock__mono_now());
	if (!err)
		err = output__flush(out);
	engine__free(e);
	if (err && !run__reader_gone(err)) {
		fprintf(stderr, "tcpstate-trace: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

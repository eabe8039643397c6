// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpstate-trace: parse the options and run the source they ask for - the
 * live tracer, a recording, or a snapshot - through the engine (run.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "cli.h"
#include "output.h"
#include "run.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

int main(int argc, char **argv)
{
	struct cli_opts opts;
	struct output out;
	int status;

	switch (cli__parse(argc, argv, &opts)) {
	case CLI_OK: break;
	case CLI_EXIT_OK: return 0;
	default: return 2;
	}

	/* A closed stdout must end the run through EPIPE, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* --record -: standard output carries the recording and nothing else
	 * (a line of text in it would damage it); what would be printed
	 * there goes to standard error instead. */
	output__init(&out, opts.record_path && strcmp(opts.record_path, "-") == 0 ? stderr : stdout,
		     opts.json, opts.timestamps);
	/* A replay names cgroups as its recording says, never as this host
	 * would; live without a cgroup2 mount, records keep their ids, paths
	 * are null. */
	out.cg = opts.replay_path ? cgroup_names__new_offline() : cgroup_names__new(NULL);
	if (opts.replay_path)
		status = run__replay(&opts, &out);
	else if (opts.snapshot_only)
		status = run__snapshot(&opts, &out);
	else
		status = run__live(&opts, &out, &exiting);
	output__free(&out);
	cgroup_names__free(out.cg);
	return status;
}

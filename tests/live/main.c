// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests: the real tracer, as root, on this kernel, against real
 * loopback connections. Every assertion is on what the kernel did.
 *
 * usage: livetest --tracer PATH --scenarios DIR [--timeout-ms N] [--only NAME[,NAME...]]
 *                 [--repeat N] [-- EXTRA TRACER OPTIONS]
 * Prints one line per test run and "N passed, N failed"; exit 1 on any
 * failure. --repeat runs each test N times in a row (timing-sensitive tests
 * looped). */
#include "harness.h"
#include "tests.h"
#include "../netns.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- runner ------------------------------------------------------------ */

static const struct test tests[] = {
	{ "lifecycle_ipv4", t_lifecycle_ipv4, 0, 0 },
	{ "lifecycle_ipv6", t_lifecycle_ipv6, 0, 0 },
	{ "filter_ipv4", t_filter_ipv4, 0, 0 },
	{ "filter_ipv6", t_filter_ipv6, 0, 0 },
	{ "filter_localport", t_filter_localport, 0, 0 },
	{ "filter_remoteport", t_filter_remoteport, 0, 0 },
	{ "filter_pid", t_filter_pid, 0, 0 },
	{ "bad_options", t_bad_options, 0, 0 },
	{ "unprivileged", t_unprivileged, 0, 0 },
	{ "human_output", t_human_output, 0, 0 },
	{ "closed_stdout", t_closed_stdout, 0, 0 },
	{ "preexisting_socket", t_preexisting_socket, 0, 0 },
	{ "lost_events", t_lost_events, 0, 0 },
	{ "no_phantoms_after_loss", t_no_phantoms_after_loss, 0, 0 },
	{ "close_fork_inherited", t_close_fork_inherited, 0, 0 },
	{ "close_eof_never_closed", t_close_eof_never_closed, 0, 0 },
	{ "close_halfclose", t_close_halfclose, 0, 0 },
	{ "close_shared_rdwr", t_close_shared_rdwr, 0, 0 },
	{ "close_linger_reset", t_close_linger_reset, 0, 0 },
	{ "close_unread_reset", t_close_unread_reset, 0, 0 },
	{ "close_dup", t_close_dup, 0, 0 },
	{ "timewait_reused", t_timewait_reused, 0, 0 },
	{ "timewait_count", t_timewait_count, 0, 0 },
	{ "timewait_rearm", t_timewait_rearm, 0, 0 },
	{ "timewait_simultaneous", t_timewait_simultaneous, 0, 0 },
	{ "finwait2_held", t_finwait2_held, 1, 0 },
	{ "finwait2_timeout", t_finwait2_timeout, 0, 0 },
	{ "finwait2_brief", t_finwait2_brief, 1, 0 },
	{ "finwait2_killed", t_finwait2_killed, 0, 0 },
	{ "snapshot_start", t_snapshot_start, 0, 0 },
	{ "snapshot_netns", t_snapshot_netns, 0, 0 },
	{ "record_replay", t_record_replay, 0, 0 },
	{ "timeline_live_replay", t_timeline_live_replay, 0, 0 },
	{ "timeline_write_errors", t_timeline_write_errors, 0, 0 },
	{ "hist_by_comm", t_hist_by_comm, 0, 0 },
	{ "metrics", t_metrics, 0, 0 },
	{ "metrics_bad_input", t_metrics_bad_input, 0, 0 },
	{ "metrics_prometheus", t_metrics_prometheus, 0, 0 },
	{ "snapshot_replay", t_snapshot_replay, 0, 0 },
	{ "snapshot_filtered", t_snapshot_filtered, 0, 0 },
	{ "delivery_bound", t_delivery_bound, 0, 0 },
	{ "cgroup_container", t_cgroup_container, 0, 0 },
	{ "cgroup_filter", t_cgroup_filter, 0, 0 },
	{ "cgroup_snapshot", t_cgroup_snapshot, 0, 0 },
	{ "text_escape", t_text_escape, 0, 1 },
	{ "record_stdout", t_record_stdout, 0, 1 },
	{ "listeners_by_address", t_listeners_by_address, 0, 0 },
	{ "listeners_reuseport", t_listeners_reuseport, 0, 0 },
	{ "listeners_table_full", t_listeners_table_full, 0, 0 },
	{ "exit_walk_high_fd", t_exit_walk_high_fd, 0, 0 },
	{ "exit_walk_cost", t_exit_walk_cost, 0, 0 },
	{ "exit_walk_bound", t_exit_walk_bound, 0, 0 },
	{ "hardening_scan_rate", t_hardening_scan_rate, 0, 1 },
	{ "hardening_scan_stall", t_hardening_scan_stall, 0, 1 },
	{ "metrics_trickle", t_metrics_trickle, 0, 1 },
	{ "metrics_owner_names", t_metrics_owner_names, 0, 1 },
	{ "timewait_expired", t_timewait_expired, 1, 0 },
	{ "files_planted_links", t_files_planted_links, 0, 1 },
	{ "files_modes", t_files_modes, 0, 1 },
	{ "privs_dropped", t_privs_dropped, 0, 1 },
	{ "privs_dropped_all_netns", t_privs_dropped_all_netns, 0, 1 },
};

enum result { PASS, FAIL, SKIP };

/* Each test in a network namespace of its own, with only lo up: no other
 * test's sockets, TIME_WAIT leftovers, ports or sysctls reach it, and the
 * tracer (which follows its own namespace) sees only the test's sockets. */
static bool fresh_netns(void)
{
	const char *what;

	if (netns__fresh(&what)) {
		EXPECT(0, "%s: %s", what, strerror(errno));
		return false;
	}
	return true;
}

/* The suite's run with "--attach tracepoint" alone (run-modes.sh and the
 * VM matrix), or with no mode forced (a run by hand). */
static bool tracepoint_mode(void)
{
	bool attach_tp = false;

	for (int i = 0; i < cfg.nextra; i++) {
		if (strcmp(cfg.extra[i], "--state-hook") == 0)
			return false;
		if (strcmp(cfg.extra[i], "--attach") == 0 && i + 1 < cfg.nextra)
			attach_tp = strcmp(cfg.extra[i + 1], "tracepoint") == 0;
	}
	return attach_tp || !cfg.nextra;
}

/* Each test's time is printed: the suite runs in every mode on every
 * kernel, and CI has a time limit. */
static enum result run_one(const struct test *t)
{
	int64_t start = mono_now_ns();

	check_failed = 0;
	skip_reason = NULL;
	if (t->one_mode && !tracepoint_mode())
		test_skip("the attach mode changes nothing here: run in tracepoint mode only");
	else if (fresh_netns())
		t->fn();
	printf("#   %s took %.1f s\n", t->name, (double)(mono_now_ns() - start) / 1e9);
	if (check_failed)
		return FAIL;
	return skip_reason ? SKIP : PASS;
}

static void print_result(FILE *f, enum result r, int n, const char *name)
{
	if (r == SKIP)
		fprintf(f, "ok %d - %s # SKIP %s\n", n, name, skip_reason);
	else
		fprintf(f, "%s %d - %s\n", r == PASS ? "ok" : "not ok", n, name);
	fflush(f);
}

/* --only: a comma-separated list of names; NULL: every test. */
static bool selected(const char *only, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return !only;
}

static void usage(void)
{
	fprintf(stderr, "usage: livetest --tracer PATH --scenarios DIR [--timeout-ms N] "
			"[--only NAME[,NAME...]] [--repeat N] [-- TRACER OPTIONS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int passed = 0, failed = 0, n = 0, repeat = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tracer") == 0 && i + 1 < argc)
			cfg.tracer = argv[++i];
		else if (strcmp(argv[i], "--scenarios") == 0 && i + 1 < argc)
			cfg.scenarios = argv[++i];
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			cfg.timeout_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc &&
			 (repeat = atoi(argv[i + 1])) > 0)
			i++;
		else if (strcmp(argv[i], "--") == 0) {
			while (++i < argc && cfg.nextra < 8)
				cfg.extra[cfg.nextra++] = argv[i];
		} else
			usage();
	}
	if (!cfg.tracer || !cfg.scenarios)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("livetest: the live tests trace the kernel and need root; run 'sudo make "
		       "test'\n0 passed, 1 failed\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* A forced attach mode this kernel cannot do is "unsupported" (exit
	 * 77, the reason last), not a failure: the kernel matrix shows it. */
	if (cfg.nextra) {
		const char *jargs[] = { "-j", NULL };
		struct tracer_run t;

		if (tracer_start(&t, jargs)) {
			const char *why = t.errbuf ? t.errbuf : "";
			const char *line = strstr(why, "tcpstate-trace: ");
			bool forced = strstr(why, "--attach ") || strstr(why, "--state-hook ");

			if (forced)
				printf("unsupported: %s", line ? line + 16 : why);
			else
				printf("0 passed, 1 failed\n");
			tracer_free(&t);
			return forced ? 77 : 1;
		}
		tracer_stop(&t, SIGINT);
		tracer_free(&t);
		check_failed = 0;
	}

	/* Slow tests wait on kernel timers (TIME_WAIT's 60 s): a child runs
	 * them while the rest run here; its lines are printed at the end. */
	FILE *slow_out = tmpfile();
	pid_t slow = -1;
	size_t ntests = sizeof(tests) / sizeof(tests[0]);
	int counts[3] = { 0, 0, 0 };

	if (!slow_out) {
		perror("livetest: tmpfile");
		return 1;
	}
	for (size_t i = 0; i < ntests && slow < 0; i++) {
		if (!tests[i].slow || !selected(only, tests[i].name))
			continue;
		fflush(stdout);
		slow = fork();
		if (slow == 0) {
			int c[3] = { 0, 0, 0 };

			dup2(fileno(slow_out), 1);
			for (size_t k = 0; k < ntests; k++) {
				enum result r;

				if (!tests[k].slow || !selected(only, tests[k].name))
					continue;
				for (int rep = 0; rep < repeat; rep++) {
					r = run_one(&tests[k]);
					c[r]++;
					print_result(stdout, r, (int)k + 1, tests[k].name);
				}
			}
			printf("#counts %d %d %d\n", c[PASS], c[FAIL], c[SKIP]);
			fflush(stdout);
			_exit(0);
		}
	}
	for (size_t i = 0; i < ntests; i++) {
		enum result r;

		if (tests[i].slow || !selected(only, tests[i].name))
			continue;
		for (int rep = 0; rep < repeat; rep++) {
			r = run_one(&tests[i]);
			counts[r]++;
			n++;
			print_result(stdout, r, (int)i + 1, tests[i].name);
		}
	}
	if (slow > 0) {
		char line[512];
		int st, c[3];

		waitpid(slow, &st, 0);
		rewind(slow_out);
		while (fgets(line, sizeof(line), slow_out)) {
			if (sscanf(line, "#counts %d %d %d", &c[0], &c[1], &c[2]) == 3) {
				for (int k = 0; k < 3; k++)
					counts[k] += c[k];
				n += c[0] + c[1] + c[2];
			} else {
				fputs(line, stdout);
			}
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("not ok - slow tests died (status %d)\n", st);
			counts[FAIL]++;
		}
	}
	fclose(slow_out);
	passed = counts[PASS];
	failed = counts[FAIL];
	if (n == 0) {
		printf("livetest: no test named '%s'\n", only ? only : "");
		failed = 1;
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, counts[SKIP]);
	return failed ? 1 : 0;
}

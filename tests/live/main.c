// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests: the real tracer, as root, on this kernel, against real
 * loopback connections. Every assertion is on what the kernel did.
 *
 * usage: livetest --tracer PATH --scenarios DIR [--timeout-ms N] [--only NAME]
 *                 [-- EXTRA TRACER OPTIONS]
 * Prints one line per test and "N passed, N failed"; exit 1 on any failure. */
#include "harness.h"
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- runner ------------------------------------------------------------ */

static const struct test tests[] = {
	{ "lifecycle_ipv4", t_lifecycle_ipv4 },
	{ "lifecycle_ipv6", t_lifecycle_ipv6 },
	{ "filter_ipv4", t_filter_ipv4 },
	{ "filter_ipv6", t_filter_ipv6 },
	{ "filter_localport", t_filter_localport },
	{ "filter_remoteport", t_filter_remoteport },
	{ "filter_pid", t_filter_pid },
	{ "bad_options", t_bad_options },
	{ "unprivileged", t_unprivileged },
	{ "human_output", t_human_output },
	{ "closed_stdout", t_closed_stdout },
	{ "preexisting_socket", t_preexisting_socket },
	{ "lost_events", t_lost_events },
	{ "close_fork_inherited", t_close_fork_inherited },
	{ "close_eof_never_closed", t_close_eof_never_closed },
	{ "close_halfclose", t_close_halfclose },
	{ "close_shared_rdwr", t_close_shared_rdwr },
	{ "close_linger_reset", t_close_linger_reset },
	{ "close_unread_reset", t_close_unread_reset },
	{ "close_dup", t_close_dup },
};

static void usage(void)
{
	fprintf(stderr, "usage: livetest --tracer PATH --scenarios DIR [--timeout-ms N] "
			"[--only NAME] [-- TRACER OPTIONS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int passed = 0, failed = 0, n = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tracer") == 0 && i + 1 < argc)
			cfg.tracer = argv[++i];
		else if (strcmp(argv[i], "--scenarios") == 0 && i + 1 < argc)
			cfg.scenarios = argv[++i];
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			cfg.timeout_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
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

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		check_failed = 0;
		tests[i].fn();
		n++;
		if (check_failed) {
			failed++;
			printf("not ok %d - %s\n", n, tests[i].name);
		} else {
			passed++;
			printf("ok %d - %s\n", n, tests[i].name);
		}
	}
	if (n == 0) {
		printf("livetest: no test named '%s'\n", only ? only : "");
		failed = 1;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

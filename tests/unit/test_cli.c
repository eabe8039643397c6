// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Option parsing: accepted values land in the options, bad ones are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

static enum cli_result parse(struct cli_opts *o, int argc, const char **argv)
{
	return cli__parse(argc, (char **)argv, o);
}

static void defaults(void **state)
{
	const char *argv[] = { "tcpstate-trace" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 1, argv), CLI_OK);
	assert_int_equal(o.pid, 0);
	assert_int_equal(o.nsports, 0);
	assert_int_equal(o.family, 0);
	assert_false(o.json);
	assert_int_equal(o.state_hook, STATE_HOOK_AUTO);
	assert_int_equal(o.ringbuf_bytes, 8 << 20);
	assert_int_equal(o.max_sockets, 65536);
}

static void all_options(void **state)
{
	const char *argv[] = { "t", "-p", "181", "-L", "80,443", "-D", "5432", "-6", "-T", "-j",
			       "-v", "--state-hook", "tracepoint", "--ringbuf", "16",
			       "--max-sockets", "2048" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 17, argv), CLI_OK);
	assert_int_equal(o.pid, 181);
	assert_int_equal(o.nsports, 2);
	assert_int_equal(o.sports[0], 80);
	assert_int_equal(o.sports[1], 443);
	assert_int_equal(o.ndports, 1);
	assert_int_equal(o.dports[0], 5432);
	assert_int_equal(o.family, AF_INET6);
	assert_true(o.timestamps && o.json && o.verbose);
	assert_int_equal(o.state_hook, STATE_HOOK_TRACEPOINT);
	assert_int_equal(o.ringbuf_bytes, 16 << 20);
	assert_int_equal(o.max_sockets, 2048);
}

static void bad_usage(void **state)
{
	static const char *cases[][3] = {
		{ "t", "--nope" }, { "t", "-p", "-1" }, { "t", "-p", "12x" }, { "t", "-p", "0" },
		{ "t", "-L", "" }, { "t", "-L", "1,0" }, { "t", "-D", ",80" }, { "t", "-D", "80," },
		{ "t", "--ringbuf", "0" }, { "t", "--ringbuf", "12" }, { "t", "--max-sockets", "5" },
		{ "t", "--state-hook", "fentry" }, { "t", "positional" },
		{ "t", "--timeline-format", "csv" }, { "t", "--timeline" },
		{ "t", "--hist-by" },
		{ "t", "--hist-by", "pid" }, { "t", "--hist-by", "COMM" }, { "t", "--hist-by", "" },
		/* -c: a cgroup v2 directory, nothing else. */
		{ "t", "-c", "/nonexistent" }, { "t", "-c", "/tmp" }, { "t", "-c", "/etc/hostname" },
		{ "t", "--cgroup" },
		{ "t", "--metrics-labels", "pid" }, { "t", "--metrics-labels", "" },
		{ "t", "--metrics-labels", "comm,pod" }, { "t", "--metrics-labels", "," },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_opts o;
		int argc = cases[i][2] ? 3 : 2;

		assert_int_equal(parse(&o, argc, cases[i]), CLI_USAGE);
	}
}

static void timeline_options(void **state)
{
	const char *ok[] = { "t", "--timeline", "-", "--timeline-format", "perfetto" };
	const char *bad_fmt[] = { "t", "--timeline", "x", "--timeline-format", "xml" };
	const char *with_snapshot[] = { "t", "--timeline", "x", "--snapshot" };
	const char *both_stdout[] = { "t", "--timeline", "-", "--record", "-" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 5, ok), CLI_OK);
	assert_string_equal(o.timeline_path, "-");
	assert_int_equal(o.timeline_format, TIMELINE_PERFETTO);
	assert_int_equal(parse(&o, 3, ok), CLI_OK);
	assert_int_equal(o.timeline_format, TIMELINE_JSON);
	assert_int_equal(parse(&o, 5, bad_fmt), CLI_USAGE);
	assert_int_equal(parse(&o, 4, with_snapshot), CLI_USAGE);
	assert_int_equal(parse(&o, 5, both_stdout), CLI_USAGE);
}

static void family_conflict(void **state)
{
	const char *argv[] = { "t", "-4", "-6" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 3, argv), CLI_USAGE);
}

static void hist_by(void **state)
{
	const char *plain[] = { "t", "--hist" }, *by[] = { "t", "--hist-by", "comm" };
	const char *eq[] = { "t", "--hist-by=comm", "-j" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 2, plain), CLI_OK);
	assert_true(o.hist);
	assert_int_equal(o.hist_by, LATENCY_BY_NONE);
	/* --hist-by implies --hist. */
	assert_int_equal(parse(&o, 3, by), CLI_OK);
	assert_true(o.hist);
	assert_int_equal(o.hist_by, LATENCY_BY_COMM);
	assert_int_equal(parse(&o, 3, eq), CLI_OK);
	assert_int_equal(o.hist_by, LATENCY_BY_COMM);
	assert_true(o.json);
}

/* An unknown key: one line on stderr naming the key there is. */
static void hist_by_error_line(void **state)
{
	const char *argv[] = { "t", "--hist-by", "pid" };
	FILE *err = tmpfile();
	char buf[256] = "";
	int saved = dup(2);
	struct cli_opts o;
	enum cli_result r;
	size_t n;

	assert_non_null(err);
	assert_true(saved >= 0);
	fflush(stderr);
	dup2(fileno(err), 2);
	r = parse(&o, 3, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(err);
	n = fread(buf, 1, sizeof(buf) - 1, err);
	fclose(err);
	buf[n] = '\0';
	assert_int_equal(r, CLI_USAGE);
	assert_string_equal(buf,
			    "tcpstate-trace: invalid --hist-by 'pid' (the only key is comm)\n");
}

static void help_and_version_exit_zero(void **state)
{
	const char *h[] = { "t", "--help" }, *v[] = { "t", "--version" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 2, h), CLI_EXIT_OK);
	assert_int_equal(parse(&o, 2, v), CLI_EXIT_OK);
}

static void port_lists(void **state)
{
	uint16_t ports[TS_MAX_PORTS];
	char many[TS_MAX_PORTS * 6 + 8] = "";
	const char *msg = NULL;

	assert_int_equal(cli__parse_ports("1,65535", ports, TS_MAX_PORTS, &msg), 2);
	assert_int_equal(ports[1], 65535);
	assert_int_equal(cli__parse_ports("65536", ports, TS_MAX_PORTS, &msg), -1);
	assert_non_null(msg);
	assert_int_equal(cli__parse_ports("80 ", ports, TS_MAX_PORTS, &msg), -1);
	for (int i = 0; i <= TS_MAX_PORTS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%d", i ? "," : "",
			 1000 + i);
	assert_int_equal(cli__parse_ports(many, ports, TS_MAX_PORTS, &msg), -1);
}

static void sizes(void **state)
{
	uint32_t v;

	assert_int_equal(cli__parse_size("8", &v), 0);
	assert_int_equal(v, 8 << 20);
	assert_int_equal(cli__parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli__parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(cli__parse_size("1024M", &v), 0);
	assert_int_equal(v, 1U << 30);
	assert_int_equal(cli__parse_size("2K", &v), -1);	/* under a page */
	assert_int_equal(cli__parse_size("2048M", &v), -1);
	assert_int_equal(cli__parse_size("3", &v), -1);
	assert_int_equal(cli__parse_size("K", &v), -1);
	assert_int_equal(cli__parse_size("", &v), -1);
}

static void numbers(void **state)
{
	uint32_t v;

	assert_int_equal(cli__parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(cli__parse_u32("4294967296", 0, UINT32_MAX, &v), -1);
	assert_int_equal(cli__parse_u32("+5", 0, 10, &v), -1);
	assert_int_equal(cli__parse_u32("", 0, 10, &v), -1);
	assert_int_equal(cli__parse_u32(" 5", 0, 10, &v), -1);
}

static void metrics_labels(void **state)
{
	const char *both[] = { "t", "--metrics-labels", "comm,container" };
	const char *cont[] = { "t", "--metrics-labels", "container" };
	const char *replay_c[] = { "t", "--replay", "x", "-c", "/" };
	struct cli_opts o;

	assert_int_equal(parse(&o, 1, both), CLI_OK);
	assert_int_equal(o.metrics_labels, LATENCY_KEY_COMM);
	assert_null(o.cgroup_path);
	assert_int_equal(parse(&o, 3, both), CLI_OK);
	assert_int_equal(o.metrics_labels, LATENCY_KEY_COMM | LATENCY_KEY_CONTAINER);
	assert_int_equal(parse(&o, 3, cont), CLI_OK);
	assert_int_equal(o.metrics_labels, LATENCY_KEY_CONTAINER);
	/* "/" is no cgroup2 mount's root here unless the host is pure v2;
	 * either way a replay takes no -c. */
	assert_int_equal(parse(&o, 5, replay_c), CLI_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(all_options),
		cmocka_unit_test(bad_usage),
		cmocka_unit_test(family_conflict),
		cmocka_unit_test(timeline_options),
		cmocka_unit_test(hist_by),
		cmocka_unit_test(metrics_labels),
		cmocka_unit_test(hist_by_error_line),
		cmocka_unit_test(help_and_version_exit_zero),
		cmocka_unit_test(port_lists),
		cmocka_unit_test(sizes),
		cmocka_unit_test(numbers),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}

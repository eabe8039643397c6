// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The record formats users' scripts rely on, from synthetic events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "output.h"
#include "tcp_names.h"

static struct ts_event v4_event(void)
{
	struct ts_event e = {
		.type = TS_EV_STATE, .mono_ns = 5000000000ULL, .cookie = 42, .pid = 181,
		.owner_src = TS_OWNER_SYSCALL, .family = AF_INET, .sport = 8080, .dport = 51000,
		.oldstate = TS_TCP_ESTABLISHED, .newstate = TS_TCP_CLOSE_WAIT,
		.prev_state_ns = 1500000, .flags = TS_EVF_PREV_KNOWN, .netns = 4026531840U,
	};

	inet_pton(AF_INET, "127.0.0.1", e.saddr);
	inet_pton(AF_INET, "10.1.2.3", e.daddr);
	memcpy(e.comm, "nginx", 6);
	return e;
}

static char *render(struct ts_event *e, bool json, bool ts)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct output o;

	output__init(&o, f, json, ts);
	o.clk.real_minus_mono_ns = 1700000000LL * 1000000000LL;	/* fixed wall clock */
	assert_int_equal(output__event(&o, e, false), 0);
	output__free(&o);
	fclose(f);
	return buf;
}

static void json_state_record(void **state)
{
	struct ts_event e = v4_event();
	char *s;

	e.cgroup_id = 77;	/* no cgroup names here: the id, null path */
	s = render(&e, true, false);
	assert_string_equal(s,
		"{\"type\":\"state\",\"ts\":\"2023-11-14T22:13:25.000000Z\",\"mono_ns\":5000000000,"
		"\"cookie\":42,\"pid\":181,\"comm\":\"nginx\",\"owner_src\":\"syscall\","
		"\"cgroup_id\":77,\"cgroup\":null,\"container\":null,"
		"\"family\":4,\"saddr\":\"127.0.0.1\",\"sport\":8080,\"daddr\":\"10.1.2.3\","
		"\"dport\":51000,\"netns\":4026531840,\"old\":\"ESTABLISHED\","
		"\"new\":\"CLOSE_WAIT\",\"prev_state_ns\":1500000}\n");
	free(s);
}

static void json_unknown_owner_and_duration(void **state)
{
	struct ts_event e = v4_event();
	char *s;

	e.owner_src = TS_OWNER_NONE;
	e.pid = 0;
	e.flags = 0;
	e.family = AF_INET6;
	inet_pton(AF_INET6, "fe80::1", e.saddr);
	inet_pton(AF_INET6, "::1", e.daddr);
	e.newstate = 99;
	s = render(&e, true, false);
	assert_non_null(strstr(s, "\"pid\":null,\"comm\":null,\"owner_src\":null"));
	assert_non_null(strstr(s, "\"family\":6,\"saddr\":\"fe80::1\""));
	assert_non_null(strstr(s, "\"daddr\":\"::1\""));
	assert_non_null(strstr(s, "\"new\":\"STATE_99\",\"prev_state_ns\":null}"));
	free(s);
}

static void comm_with_quote_is_escaped(void **state)
{
	struct ts_event e = v4_event();
	char *s;

	memcpy(e.comm, "a\"b\\0123456789ab", 16);	/* no NUL: all 16 bytes */
	s = render(&e, true, false);
	assert_non_null(strstr(s, "\"comm\":\"a\\\"b\\\\0123456789ab\""));
	free(s);
}

/* PR_SET_NAME takes any bytes: the record must stay JSON. */
static void comm_not_utf8_stays_json(void **state)
{
	struct ts_event e = v4_event();
	json_error_t err;
	json_t *v;
	char *s;

	memcpy(e.comm, "ng\xffinx\xe2\x82", 8);
	s = render(&e, true, false);
	v = json_loads(s, 0, &err);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "comm")),
			    "ng\xc3\xbfinx\xc3\xa2\xc2\x82");
	json_decref(v);
	free(s);
}

/* A full disk or a reader gone: the error comes back, from the record
 * that met it (many records) or from the flush (one), in both modes. */
static void write_error_reported(void **state)
{
	struct ts_event e = v4_event();

	for (int json = 0; json < 2; json++) {
		FILE *f = fopen("/dev/full", "w");
		struct output o;
		int err = 0;

		assert_non_null(f);
		output__init(&o, f, json, false);
		for (int i = 0; i < (json ? 10000 : 1) && !err; i++)
			err = output__event(&o, &e, false);
		if (!err)
			err = output__flush(&o);
		assert_int_equal(err, -ENOSPC);
		output__free(&o);
		fclose(f);
	}
}

/* An alert names before_start once, the connection's own, whatever the
 * record written before it said (it used to repeat the last one's). */
static void alert_before_start_once(void **state)
{
	struct ts_event e = v4_event();
	struct conn_table t;
	struct output o;
	char *buf = NULL, *alert;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	conn_table__init(&t, 10);
	output__init(&o, f, true, false);
	assert_int_equal(output__event(&o, &e, true), 0);
	assert_int_equal(output__alert(&o, conn_table__apply(&t, &e), NULL, "d", 9000000000ULL), 0);
	assert_int_equal(output__flush(&o), 0);
	output__free(&o);
	fclose(f);
	alert = strstr(buf, "{\"type\":\"alert\"");
	assert_non_null(alert);
	assert_non_null(strstr(alert, "\"before_start\":false"));
	assert_null(strstr(strstr(alert, "\"before_start\"") + 1, "\"before_start\""));
	free(buf);
	conn_table__free(&t);
}

/* The text alert: "at least" for an age from before tracing, and where the
 * owner runs when its cgroup names a container (the id cut to 12, as the
 * runtimes' tools show it; a service's name whole). */
static char *text_alert(uint64_t cgroup_id, const char *path, bool since_known)
{
	struct ts_event e = v4_event();
	struct conn_table t;
	struct conn *c;
	struct output o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	e.cgroup_id = cgroup_id;
	conn_table__init(&t, 10);
	output__init(&o, f, false, false);
	o.cg = cgroup_names__new_offline();
	assert_non_null(o.cg);
	if (path)
		cgroup_names__put(o.cg, cgroup_id, path);
	c = conn_table__apply(&t, &e);
	c->since_known = since_known;
	c->since_bound = !since_known;	/* a snapshot's lower bound */
	assert_int_equal(output__alert(&o, c, NULL, "the peer closed", 17000000000ULL), 0);
	assert_int_equal(output__flush(&o), 0);
	cgroup_names__free(o.cg);
	output__free(&o);
	fclose(f);
	conn_table__free(&t);
	return buf;
}

static void alert_text_names_container(void **state)
{
	static const char docker[] = "/system.slice/docker-"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope";
	char *s;

	s = text_alert(9, docker, true);
	assert_non_null(strstr(s, "ALERT CLOSE_WAIT in docker 0123456789ab for 12.0 s: the peer closed\n"));
	free(s);
	s = text_alert(9, "/system.slice/nginx.service", false);
	assert_non_null(strstr(s, "ALERT CLOSE_WAIT in service nginx.service for at least 12.0 s:"));
	free(s);
	s = text_alert(9, "/user.slice", true);		/* no container */
	assert_non_null(strstr(s, "ALERT CLOSE_WAIT for 12.0 s:"));
	free(s);
	s = text_alert(9, NULL, true);			/* a path not known */
	assert_non_null(strstr(s, "ALERT CLOSE_WAIT for 12.0 s:"));
	free(s);
}

static void human_line(void **state)
{
	struct ts_event e = v4_event();
	char *s = render(&e, false, false);
	char *second = strchr(s, '\n') + 1;

	assert_true(strncmp(s, "PID", 3) == 0);
	assert_non_null(strstr(second, "181     nginx"));
	assert_non_null(strstr(second, "127.0.0.1:8080"));
	assert_non_null(strstr(second, "10.1.2.3:51000"));
	assert_non_null(strstr(second, "ESTABLISHED -> CLOSE_WAIT"));
	assert_non_null(strstr(second, " 1.500\n"));
	free(s);
}

static void human_unknown_owner(void **state)
{
	struct ts_event e = v4_event();
	char *s;

	e.owner_src = TS_OWNER_NONE;
	e.flags = 0;
	s = render(&e, false, true);
	assert_true(strncmp(s, "TIME", 4) == 0);
	assert_non_null(strstr(strchr(s, '\n'), " -       -    "));
	assert_non_null(strstr(s, "CLOSE_WAIT  -\n"));
	free(s);
}

/* A transition after ones the kernel skipped says so in both forms. */
static void gap_marked(void **state)
{
	struct ts_event e = v4_event();
	char *s;

	e.flags |= TS_EVF_GAP;
	s = render(&e, true, false);
	assert_non_null(strstr(s, "\"prev_state_ns\":1500000,\"gap\":true}\n"));
	free(s);
	s = render(&e, false, false);
	assert_non_null(strstr(s, " 1.500 (gap: earlier transitions not reported)\n"));
	free(s);
	e.flags &= ~TS_EVF_GAP;
	s = render(&e, true, false);
	assert_null(strstr(s, "gap"));
	free(s);
}

static char *summary_text(const struct run_summary *sum)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	output__summary_text(f, sum);
	fclose(f);
	return buf;
}

/* The summary counts gaps and says whether skipped runs are counted. */
static void summary_gaps(void **state)
{
	struct run_summary sum = { .state_hook = "tracepoint", .cookie_mode = "read",
				   .close_hook = "tracepoint" };
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct output o;

	sum.stats[TS_STAT_GAPS] = 3;
	output__init(&o, f, true, false);
	assert_int_equal(output__summary_record(&o, &sum), 0);
	output__free(&o);
	fclose(f);
	assert_non_null(strstr(buf, "\"missed\":0,\"missed_counted\":false,\"gaps\":3,"));
	free(buf);
	s = summary_text(&sum);
	assert_non_null(strstr(s, "WARNING: 3 times a socket's transition started in another "
				  "state"));
	free(s);
	sum.stats[TS_STAT_GAPS] = 0;
	s = summary_text(&sum);
	assert_null(strstr(s, "WARNING"));
	free(s);
}

static void state_names(void **state)
{
	assert_string_equal(tcp_state__name(TS_TCP_FIN_WAIT1), "FIN_WAIT1");
	assert_string_equal(tcp_state__name(TS_TCP_NEW_SYN_RECV), "NEW_SYN_RECV");
	assert_null(tcp_state__name(0));
	assert_null(tcp_state__name(-1));
	assert_null(tcp_state__name(TS_TCP_MAX_STATES));
	for (int i = 1; i < TS_TCP_MAX_STATES; i++)
		assert_int_equal(tcp_state__from_name(tcp_state__name(i)), i);
	assert_int_equal(tcp_state__from_name("ESTABLISHEDX"), -1);
}

static void rfc3339(void **state)
{
	char b[CLOCK_RFC3339_LEN];

	assert_string_equal(clock__rfc3339(0, b, sizeof(b)), "1970-01-01T00:00:00.000000Z");
	assert_string_equal(clock__rfc3339(1700000000123456789LL, b, sizeof(b)),
			    "2023-11-14T22:13:20.123456Z");
	assert_string_equal(clock__rfc3339(-1000, b, sizeof(b)), "1969-12-31T23:59:59.999999Z");
}

static void clock_tracks_realtime(void **state)
{
	struct clock_map c;
	struct timespec ts;
	int64_t real, mapped;

	clock__init(&c);
	mapped = clock__to_realtime_ns(&c, clock__mono_now());
	clock_gettime(CLOCK_REALTIME, &ts);
	real = ts.tv_sec * 1000000000LL + ts.tv_nsec;
	/* Both read within the same few microseconds; allow a scheduler hiccup. */
	assert_true(llabs(real - mapped) < 50000000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_state_record),
		cmocka_unit_test(json_unknown_owner_and_duration),
		cmocka_unit_test(comm_with_quote_is_escaped),
		cmocka_unit_test(comm_not_utf8_stays_json),
		cmocka_unit_test(write_error_reported),
		cmocka_unit_test(alert_before_start_once),
		cmocka_unit_test(alert_text_names_container),
		cmocka_unit_test(human_line),
		cmocka_unit_test(human_unknown_owner),
		cmocka_unit_test(gap_marked),
		cmocka_unit_test(summary_gaps),
		cmocka_unit_test(state_names),
		cmocka_unit_test(rfc3339),
		cmocka_unit_test(clock_tracks_realtime),
	};

	return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}

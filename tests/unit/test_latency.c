// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Close-path latency: which records become which samples, and the hist
 * output, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_table.h"
#include "latency.h"
#include "output.h"
#include "tcp_names.h"

#define MS 1000000ULL

#define COOKIES 64

struct rig {
	struct conn_table conns;
	struct latency lat;
	uint64_t now;
	uint64_t since[COOKIES];	/* when a cookie entered its state; 0: unknown */
};

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r || conn_table__init(&r->conns, 1024))
		return -1;
	r->now = 1000 * MS;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	conn_table__free(&r->conns);
	free(r);
	return 0;
}

/* What main's report() does with a record: latency first, then the table. */
static void feed(struct rig *r, const struct ts_event *e)
{
	latency__add(&r->lat, e, conn_table__find(&r->conns, e->cookie));
	conn_table__apply(&r->conns, e);
}

static struct ts_event ev(uint64_t cookie, const char *comm, uint32_t pid)
{
	struct ts_event e = {
		.type = TS_EV_STATE, .cookie = cookie, .family = AF_INET, .sport = 8080,
		.dport = 51000, .pid = pid, .owner_src = pid ? TS_OWNER_SYSCALL : TS_OWNER_NONE,
	};

	if (comm)
		memcpy(e.comm, comm, strnlen(comm, sizeof(e.comm)));
	return e;
}

/* A transition dt ns after the last record; the time in old is known from
 * the cookie's previous transition, if any. */
static void step(struct rig *r, uint64_t cookie, const char *comm, uint32_t pid, int old,
		 int new, uint64_t dt)
{
	struct ts_event e = ev(cookie, comm, pid);

	assert_true(cookie < COOKIES);
	r->now += dt;
	e.mono_ns = r->now;
	e.oldstate = (uint8_t)old;
	e.newstate = (uint8_t)new;
	if (r->since[cookie]) {
		e.flags = TS_EVF_PREV_KNOWN;
		e.prev_state_ns = r->now - r->since[cookie];
	}
	r->since[cookie] = r->now;
	feed(r, &e);
}

static void final_close(struct rig *r, uint64_t cookie, const char *comm, uint32_t pid,
			uint64_t dt)
{
	struct ts_event e = ev(cookie, comm, pid);

	r->now += dt;
	e.type = TS_EV_CLOSE;
	e.mono_ns = r->now;
	e.fd = 5;
	e.refs = 1;
	e.final = 1;
	e.via = TS_VIA_CLOSE;
	feed(r, &e);
}

/* The passive side of one graceful close: CLOSE_WAIT cw ns, close(), LAST_ACK. */
static void passive_close(struct rig *r, uint64_t cookie, const char *comm, uint32_t pid,
			  uint64_t cw)
{
	step(r, cookie, comm, pid, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 0);
	step(r, cookie, comm, pid, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, 3 * MS);
	final_close(r, cookie, comm, pid, cw - 100000);
	step(r, cookie, comm, pid, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, 100000);
	step(r, cookie, comm, pid, TS_TCP_LAST_ACK, TS_TCP_CLOSE, 40000);
}

static char *render(const struct latency *l, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct output o;

	output__init(&o, f, json, false);
	o.clk.real_minus_mono_ns = 1700000000LL * 1000000000LL;	/* fixed wall clock */
	assert_int_equal(output__latency(&o, l, 5000 * MS), 0);
	output__free(&o);
	fclose(f);
	return buf;
}

static void samples_by_state(void **state)
{
	struct rig *r = *state;

	passive_close(r, 1, "nginx", 10, 20 * MS);
	passive_close(r, 2, "nginx", 10, 5 * MS);
	/* An active close: connect, then FIN_WAIT1 and 2 into TIME_WAIT. */
	step(r, 3, "curl", 11, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	step(r, 3, "curl", 11, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 250000);
	final_close(r, 3, "curl", 11, MS);
	step(r, 3, "curl", 11, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1, 1);
	step(r, 3, "curl", 11, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, 30000);
	step(r, 3, "curl", 11, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT, 60000);
	/* Not a sample: the time in SYN_SENT is unknown. */
	step(r, 4, "curl", 11, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 0);

	assert_int_equal(r->lat.h[LAT_CLOSE_WAIT].count, 2);
	assert_int_equal(r->lat.h[LAT_CLOSE_WAIT].max, 20 * MS);
	assert_int_equal(r->lat.h[LAT_LAST_ACK].count, 2);
	assert_int_equal(r->lat.h[LAT_SYN_SENT].count, 1);
	assert_int_equal(r->lat.h[LAT_FIN_WAIT1].count, 1);
	assert_int_equal(r->lat.h[LAT_FIN_WAIT2].count, 1);
	assert_int_equal(r->lat.h[LAT_TIME_WAIT].count, 0);
	/* close() to CLOSE: 100 us in CLOSE_WAIT after close, 40 us in LAST_ACK. */
	assert_int_equal(r->lat.h[LAT_CLOSE_TO_CLOSED].count, 2);
	assert_int_equal(r->lat.h[LAT_CLOSE_TO_CLOSED].min, 140000);
}

/* The output without --hist-by, as it was before grouping existed. */
static const char ungrouped_text[] =
	"time in SYN_SENT\n"
	"  usecs          : count    distribution\n"
	"    131 -> 262   : 1        |****************************************|\n"
	"count 1, p50 250 us, p90 250 us, p99 250 us, max 250 us\n"
	"time in CLOSE_WAIT\n"
	"  msecs          : count    distribution\n"
	"   4.19 -> 8.39  : 1        |****************************************|\n"
	"   8.39 -> 16.8  : 0        |                                        |\n"
	"   16.8 -> 33.6  : 1        |****************************************|\n"
	"count 2, p50 5.00 ms, p90 20.0 ms, p99 20.0 ms, max 20.0 ms\n"
	"time in LAST_ACK\n"
	"  usecs          : count    distribution\n"
	"   32.8 -> 65.5  : 2        |****************************************|\n"
	"count 2, p50 40.0 us, p90 40.0 us, p99 40.0 us, max 40.0 us\n"
	"close() to CLOSE\n"
	"  usecs          : count    distribution\n"
	"    131 -> 262   : 2        |****************************************|\n"
	"count 2, p50 140 us, p90 140 us, p99 140 us, max 140 us\n";

static const char ungrouped_json[] =
	"{\"type\":\"hist\",\"ts\":\"2023-11-14T22:13:25.000000Z\",\"mono_ns\":5000000000,"
	"\"name\":\"SYN_SENT\",\"unit\":\"ns\",\"count\":1,\"min\":250000,\"p50\":250000,"
	"\"p90\":250000,\"p99\":250000,\"max\":250000,\"buckets\":[{\"lo\":131072,"
	"\"hi\":262143,\"count\":1}]}\n"
	"{\"type\":\"hist\",\"ts\":\"2023-11-14T22:13:25.000000Z\",\"mono_ns\":5000000000,"
	"\"name\":\"CLOSE_WAIT\",\"unit\":\"ns\",\"count\":2,\"min\":5000000,\"p50\":5000000,"
	"\"p90\":20000000,\"p99\":20000000,\"max\":20000000,\"buckets\":[{\"lo\":4194304,"
	"\"hi\":8388607,\"count\":1},{\"lo\":8388608,\"hi\":16777215,\"count\":0},"
	"{\"lo\":16777216,\"hi\":33554431,\"count\":1}]}\n"
	"{\"type\":\"hist\",\"ts\":\"2023-11-14T22:13:25.000000Z\",\"mono_ns\":5000000000,"
	"\"name\":\"LAST_ACK\",\"unit\":\"ns\",\"count\":2,\"min\":40000,\"p50\":40000,"
	"\"p90\":40000,\"p99\":40000,\"max\":40000,\"buckets\":[{\"lo\":32768,\"hi\":65535,"
	"\"count\":2}]}\n"
	"{\"type\":\"hist\",\"ts\":\"2023-11-14T22:13:25.000000Z\",\"mono_ns\":5000000000,"
	"\"name\":\"close_to_closed\",\"unit\":\"ns\",\"count\":2,\"min\":140000,"
	"\"p50\":140000,\"p90\":140000,\"p99\":140000,\"max\":140000,"
	"\"buckets\":[{\"lo\":131072,\"hi\":262143,\"count\":2}]}\n";

static void ungrouped_output(void **state)
{
	struct rig *r = *state;
	char *s;

	passive_close(r, 1, "nginx", 10, 20 * MS);
	passive_close(r, 2, "nginx", 10, 5 * MS);
	step(r, 3, "curl", 11, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	step(r, 3, "curl", 11, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 250000);

	s = render(&r->lat, false);
	assert_string_equal(s, ungrouped_text);
	free(s);
	s = render(&r->lat, true);
	assert_string_equal(s, ungrouped_json);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(samples_by_state, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(ungrouped_output, rig_setup, rig_teardown),
	};

	return cmocka_run_group_tests_name("latency", tests, NULL, NULL);
}

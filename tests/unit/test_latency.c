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

	if (!r || conn_table__init(&r->conns, 1024) || latency__init(&r->lat, LATENCY_BY_NONE))
		return -1;
	r->now = 1000 * MS;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	conn_table__free(&r->conns);
	latency__free(&r->lat);
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


static int grouped_setup(void **state)
{
	struct rig *r;

	if (rig_setup(state))
		return -1;
	r = *state;
	return latency__init(&r->lat, LATENCY_BY_COMM);
}

static const struct latency_group *group_named(const struct latency *l, const char *comm)
{
	const struct latency_group *g[LATENCY_GROUPS_ALL];
	size_t n = latency__groups(l, g);

	for (size_t i = 0; i < n; i++)
		if (g[i]->kind == LAT_GROUP_COMM && strncmp(g[i]->comm, comm, TS_COMM_LEN) == 0)
			return g[i];
	return NULL;
}

/* Samples go to the owner's group; close() to CLOSE too, whoever closed. */
static void grouped_by_owner(void **state)
{
	struct rig *r = *state;
	const struct latency_group *g[LATENCY_GROUPS_ALL], *nginx, *curl;
	struct ts_event e;

	passive_close(r, 1, "nginx", 10, 20 * MS);
	passive_close(r, 2, "nginx", 10, 5 * MS);
	step(r, 3, "curl", 11, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	step(r, 3, "curl", 11, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 250000);
	/* nginx's socket, closed last by a child that inherited it. */
	step(r, 5, "nginx", 10, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 0);
	step(r, 5, "nginx", 10, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, MS);
	final_close(r, 5, "worker", 12, MS);
	/* A record without its owner: the table knows it. */
	e = ev(5, NULL, 0);
	r->now += 1000;
	e.mono_ns = r->now;
	e.oldstate = TS_TCP_CLOSE_WAIT;
	e.newstate = TS_TCP_CLOSE;
	e.flags = TS_EVF_PREV_KNOWN;
	e.prev_state_ns = MS + 1000;
	feed(r, &e);
	/* No owner anywhere. */
	step(r, 6, NULL, 0, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 0);
	step(r, 6, NULL, 0, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, MS);
	step(r, 6, NULL, 0, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, MS);

	nginx = group_named(&r->lat, "nginx");
	curl = group_named(&r->lat, "curl");
	assert_non_null(nginx);
	assert_non_null(curl);
	assert_null(group_named(&r->lat, "worker"));
	assert_int_equal(nginx->h[LAT_CLOSE_WAIT].count, 3);
	assert_int_equal(nginx->h[LAT_LAST_ACK].count, 2);
	assert_int_equal(nginx->h[LAT_CLOSE_TO_CLOSED].count, 3);
	assert_int_equal(nginx->h[LAT_CLOSE_TO_CLOSED].min, 1000);
	assert_int_equal(latency__group_samples(nginx), 8);
	assert_int_equal(curl->h[LAT_SYN_SENT].count, 1);
	assert_int_equal(latency__group_samples(curl), 1);
	/* Largest first; at equal size names first, then the unknown owner. */
	assert_int_equal(latency__groups(&r->lat, g), 3);
	assert_ptr_equal(g[0], nginx);
	assert_ptr_equal(g[1], curl);
	assert_int_equal(g[2]->kind, LAT_GROUP_UNKNOWN);
	assert_int_equal(g[2]->h[LAT_CLOSE_WAIT].count, 1);
	/* Nothing in the ungrouped set, and every sample counted once. */
	for (int k = 0; k < LAT__MAX; k++)
		assert_int_equal(r->lat.h[k].count, 0);
	assert_int_equal(latency__samples(&r->lat), 10);
}

/* A name is its bytes up to the NUL; one of all 16 bytes is whole. */
static void grouped_name_bytes(void **state)
{
	struct rig *r = *state;
	const struct latency_group *g[LATENCY_GROUPS_ALL];
	struct ts_event e = ev(1, "app", 10);

	e.flags = TS_EVF_PREV_KNOWN;
	e.oldstate = TS_TCP_CLOSE_WAIT;
	e.newstate = TS_TCP_LAST_ACK;
	latency__add(&r->lat, &e, NULL);
	memcpy(e.comm, "app\0garbage", 12);
	latency__add(&r->lat, &e, NULL);
	memcpy(e.comm, "0123456789abcdef", 16);
	latency__add(&r->lat, &e, NULL);
	memcpy(e.comm, "0123456789abcdeX", 16);
	latency__add(&r->lat, &e, NULL);

	assert_int_equal(latency__groups(&r->lat, g), 3);
	assert_int_equal(latency__group_samples(group_named(&r->lat, "app")), 2);
	assert_int_equal(latency__group_samples(group_named(&r->lat, "0123456789abcdef")), 1);
	assert_int_equal(latency__group_samples(group_named(&r->lat, "0123456789abcdeX")), 1);
}

/* Past LATENCY_GROUPS_MAX names, new names share [other]; names that
 * have a group keep it. */
static void grouped_cap(void **state)
{
	struct rig *r = *state;
	const struct latency_group *g[LATENCY_GROUPS_ALL];
	struct ts_event e = ev(1, NULL, 10);
	const int extra = 44;
	size_t n;

	e.flags = TS_EVF_PREV_KNOWN;
	e.oldstate = TS_TCP_FIN_WAIT2;
	e.newstate = TS_TCP_TIME_WAIT;
	for (int i = 0; i < LATENCY_GROUPS_MAX + extra; i++) {
		snprintf(e.comm, sizeof(e.comm), "proc-%d", i);
		e.prev_state_ns = (uint64_t)i;
		latency__add(&r->lat, &e, NULL);
		if (i == 0 || i == LATENCY_GROUPS_MAX)	/* twice each */
			latency__add(&r->lat, &e, NULL);
	}
	/* Seen before the cap: still its own group. */
	snprintf(e.comm, sizeof(e.comm), "proc-%d", 7);
	latency__add(&r->lat, &e, NULL);

	n = latency__groups(&r->lat, g);
	assert_int_equal(n, LATENCY_GROUPS_MAX + 1);
	assert_int_equal(g[n - 1]->kind, LAT_GROUP_OTHER);
	assert_int_equal(latency__group_samples(g[n - 1]), extra + 1);
	assert_int_equal(g[n - 1]->h[LAT_FIN_WAIT2].min, LATENCY_GROUPS_MAX);
	assert_int_equal(latency__group_samples(group_named(&r->lat, "proc-0")), 2);
	assert_int_equal(latency__group_samples(group_named(&r->lat, "proc-7")), 2);
	assert_non_null(group_named(&r->lat, "proc-255"));
	assert_null(group_named(&r->lat, "proc-256"));
	/* Ties in size go by name. */
	assert_string_equal(g[0]->comm, "proc-0");
	assert_string_equal(g[1]->comm, "proc-7");
	assert_string_equal(g[2]->comm, "proc-1");
	assert_string_equal(g[3]->comm, "proc-10");
	assert_int_equal(latency__samples(&r->lat), LATENCY_GROUPS_MAX + extra + 3);
}

static const char grouped_text[] =
	"comm = nginx\n"
	"time in CLOSE_WAIT\n"
	"  usecs          : count    distribution\n"
	"   4194 -> 8389  : 1        |****************************************|\n"
	"count 1, p50 5000 us, p90 5000 us, p99 5000 us, max 5000 us\n"
	"time in LAST_ACK\n"
	"  usecs          : count    distribution\n"
	"   32.8 -> 65.5  : 1        |****************************************|\n"
	"count 1, p50 40.0 us, p90 40.0 us, p99 40.0 us, max 40.0 us\n"
	"close() to CLOSE\n"
	"  usecs          : count    distribution\n"
	"    131 -> 262   : 1        |****************************************|\n"
	"count 1, p50 140 us, p90 140 us, p99 140 us, max 140 us\n"
	"\n"
	"comm = curl\n"
	"time in SYN_SENT\n"
	"  usecs          : count    distribution\n"
	"    131 -> 262   : 1        |****************************************|\n"
	"count 1, p50 250 us, p90 250 us, p99 250 us, max 250 us\n"
	"\n"
	"comm = - (owner not seen)\n"
	"time in CLOSE_WAIT\n"
	"  nsecs          : count    distribution\n"
	"      0 -> 1     : 1        |****************************************|\n"
	"count 1, p50 0 ns, p90 0 ns, p99 0 ns, max 0 ns\n"
	"\n"
	"comm = [other] (process names after the first 256)\n"
	"time in CLOSE_WAIT\n"
	"  nsecs          : count    distribution\n"
	"      0 -> 1     : 1        |****************************************|\n"
	"count 1, p50 0 ns, p90 0 ns, p99 0 ns, max 0 ns\n";

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One group per name with a header line, largest first, [other] last; in
 * JSON a "comm" in every record. */
static void grouped_output(void **state)
{
	struct rig *r = *state;
	static const char head[] = "{\"type\":\"hist\",\"ts\":\"2023-11-14T22:13:25.000000Z\","
				   "\"mono_ns\":5000000000,\"comm\":";
	const size_t hl = sizeof(head) - 1;
	struct ts_event e = ev(100, NULL, 0);
	char *s, *line;
	int records = 0;

	passive_close(r, 1, "nginx", 10, 5 * MS);
	step(r, 3, "curl", 11, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 0);
	step(r, 3, "curl", 11, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, 250000);
	e.flags = TS_EVF_PREV_KNOWN;
	e.oldstate = TS_TCP_CLOSE_WAIT;
	e.newstate = TS_TCP_LAST_ACK;
	latency__add(&r->lat, &e, NULL);	/* the unknown owner */
	e.pid = 10;
	e.owner_src = TS_OWNER_SYSCALL;
	/* nginx and curl have two of the groups: the last name is [other]. */
	for (int i = 0; i <= LATENCY_GROUPS_MAX - 2; i++) {
		snprintf(e.comm, sizeof(e.comm), "p%d", i);
		latency__add(&r->lat, &e, NULL);
	}

	s = render(&r->lat, false);
	assert_true(strlen(s) > strlen(grouped_text));
	/* Groups of one sample sort by name: curl, p0, p1, p10 ..., then the
	 * unknown owner. */
	assert_non_null(strstr(s, "\n\ncomm = p0\n"));
	assert_true(strstr(s, "comm = p0\n") < strstr(s, "comm = p1\n"));
	assert_true(strstr(s, "comm = p1\n") < strstr(s, "comm = p10\n"));
	assert_true(strstr(s, "comm = p99\n") < strstr(s, "comm = - (owner not seen)"));
	/* Without the p-groups, what is left is the expected text. */
	for (char *p; (p = strstr(s, "\ncomm = p"));) {
		char *end = strstr(p + 1, "\n\n");

		memmove(p, end + 1, strlen(end + 1) + 1);
	}
	assert_string_equal(s, grouped_text);
	free(s);

	s = render(&r->lat, true);
	for (line = s; *line; line = strchr(line, '\n') + 1) {
		assert_true(starts(line, head));
		records++;
	}
	assert_int_equal(records, 3 + 1 + 1 + LATENCY_GROUPS_MAX - 2 + 1);
	assert_true(starts(s + hl, "\"nginx\",\"name\":\"CLOSE_WAIT\",\"unit\":\"ns\","));
	assert_non_null(strstr(s, ",\"comm\":\"curl\",\"name\":\"SYN_SENT\","));
	assert_non_null(strstr(s, ",\"comm\":null,\"name\":\"CLOSE_WAIT\","));
	assert_non_null(strstr(s, ",\"comm\":\"p253\",\"name\":\"CLOSE_WAIT\","));
	/* [other] is last, and says it is not a process name. */
	for (line = s + strlen(s) - 1; line > s && line[-1] != '\n'; line--)
		;
	assert_true(starts(line + hl, "\"[other]\",\"other\":true,\"name\":\"CLOSE_WAIT\","));
	free(s);
}

/* Groups keyed by container (--metrics-labels container): the owner's
 * cgroup names it; different comms in one container share a group, one
 * comm in two containers does not; names past the cap go to [other]. */
static const char *fake_container(void *ctx, uint64_t cgroup_id)
{
	static char buf[32];

	if (cgroup_id == 1)
		return NULL;	/* in no container */
	snprintf(buf, sizeof(buf), "c%llu", (unsigned long long)cgroup_id);
	return buf;
}

static struct ts_event owned(const char *comm, uint64_t cgroup_id)
{
	struct ts_event e = { .pid = 7, .owner_src = TS_OWNER_SYSCALL, .cgroup_id = cgroup_id };

	strncpy(e.comm, comm, sizeof(e.comm) - 1);
	return e;
}

static void container_keys(void **state)
{
	struct latency l;
	struct ts_event a = owned("web", 5), b = owned("worker", 5), c = owned("web", 6);
	struct ts_event host = owned("web", 1);
	struct latency_group *g;

	assert_int_equal(latency__init(&l, LATENCY_BY_COMM), 0);
	latency__set_key(&l, LATENCY_KEY_CONTAINER, fake_container, NULL);
	g = latency__group_of(&l, &a);
	assert_ptr_equal(latency__group_of(&l, &b), g);
	assert_ptr_not_equal(latency__group_of(&l, &c), g);
	assert_string_equal(g->container, "c5");
	assert_string_equal(g->comm, "");
	assert_int_equal(g->key, LATENCY_KEY_CONTAINER);
	assert_string_equal(latency__group_of(&l, &host)->container, "");
	assert_int_equal(latency__group_of(&l, NULL)->kind, LAT_GROUP_UNKNOWN);
	latency__free(&l);

	assert_int_equal(latency__init(&l, LATENCY_BY_COMM), 0);
	latency__set_key(&l, LATENCY_KEY_COMM | LATENCY_KEY_CONTAINER, fake_container, NULL);
	g = latency__group_of(&l, &a);
	assert_ptr_not_equal(latency__group_of(&l, &b), g);
	assert_string_equal(g->comm, "web");
	assert_string_equal(g->container, "c5");
	/* Capped as names are: the 257th key and on share [other]. */
	for (uint64_t id = 100; id < 100 + LATENCY_GROUPS_MAX; id++) {
		struct ts_event e = owned("web", id);

		latency__group_of(&l, &e);
	}
	assert_int_equal(l.ngroups, LATENCY_GROUPS_ALL);
	c = owned("web", 99999);
	assert_int_equal(latency__group_of(&l, &c)->kind, LAT_GROUP_OTHER);
	latency__free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(container_keys),
		cmocka_unit_test_setup_teardown(samples_by_state, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(ungrouped_output, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(grouped_by_owner, grouped_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(grouped_name_bytes, grouped_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(grouped_cap, grouped_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(grouped_output, grouped_setup, rig_teardown),
	};

	return cmocka_run_group_tests_name("latency", tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The connection table and the CLOSE_WAIT diagnosis, from synthetic records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_table.h"
#include "diagnose.h"
#include "holders.h"
#include "sock_key.h"
#include "tcp_names.h"

#define SEC 1000000000ULL

static struct ts_event state(uint64_t cookie, uint64_t t, int old, int new)
{
	struct ts_event e = { .type = TS_EV_STATE, .cookie = cookie, .mono_ns = t,
			      .oldstate = (uint8_t)old, .newstate = (uint8_t)new,
			      .family = AF_INET, .sport = 80, .dport = 5000, .pid = 10,
			      .owner_src = TS_OWNER_SYSCALL, .ino = 777 };

	memcpy(e.comm, "srv", 4);
	return e;
}

static struct ts_event call(uint64_t cookie, uint64_t t, int type, uint32_t pid, int fd,
			    uint32_t refs)
{
	struct ts_event e = { .type = (uint32_t)type, .cookie = cookie, .mono_ns = t, .pid = pid,
			      .fd = fd, .refs = refs, .final = refs == 1, .via = TS_VIA_CLOSE,
			      .family = AF_INET, .owner_src = TS_OWNER_SYSCALL };

	memcpy(e.comm, "srv", 4);
	return e;
}

static void count_exits(void *ctx, const struct conn *c, enum conn_exit why)
{
	int *n = ctx;

	if (why >= 0 && why <= CONN_EXIT_GONE)
		n[why]++;
}

static void lifecycle_and_removal(void **state_)
{
	int exits[CONN_EXIT_GONE + 1] = { 0 };
	struct conn_table t;
	struct ts_event e;
	struct conn *c;

	assert_int_equal(conn_table__init(&t, 16), 0);
	e = state(1, 1 * SEC, TS_TCP_LISTEN, TS_TCP_SYN_RECV);
	c = conn_table__apply(&t, &e);
	assert_non_null(c);
	assert_int_equal(c->state, TS_TCP_SYN_RECV);
	e = state(1, 2 * SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED);
	assert_ptr_equal(conn_table__apply(&t, &e), c);
	assert_int_equal(c->state_since_ns, 2 * SEC);
	assert_int_equal(t.count, 1);
	e = state(1, 3 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE);
	assert_ptr_equal(conn_table__apply(&t, &e), c);
	assert_true(c->closed);
	/* Kept for late records, then handed over. */
	conn_table__expire(&t, 3 * SEC);
	assert_ptr_equal(conn_table__find(&t, 1), c);
	conn_table__set_sink(&t, count_exits, &exits);
	conn_table__expire(&t, 3 * SEC + 1);
	assert_int_equal(exits[CONN_EXIT_CLOSED], 1);
	assert_int_equal(t.count, 0);
	assert_null(conn_table__find(&t, 1));
	/* Records after the end, of a socket in CLOSE, start nothing. */
	e = call(1, 4 * SEC, TS_EV_CLOSE, 10, 5, 1);
	e.newstate = TS_TCP_CLOSE;
	assert_null(conn_table__apply(&t, &e));
	e.type = TS_EV_RESET;
	assert_null(conn_table__apply(&t, &e));
	assert_int_equal(t.count, 0);
	/* No cookie, no connection. */
	e = state(0, 5 * SEC, TS_TCP_CLOSE, TS_TCP_SYN_SENT);
	assert_null(conn_table__apply(&t, &e));
	conn_table__free(&t);
}

static void close_wait_alerts_oldest_first_once(void **state_)
{
	struct conn_table t;
	struct ts_event e;
	struct conn *c;

	conn_table__init(&t, 16);
	for (uint64_t k = 1; k <= 3; k++) {
		e = state(k, k * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);
		conn_table__apply(&t, &e);
	}
	/* Connection 2 leaves CLOSE_WAIT: never alerted. */
	e = state(2, 4 * SEC, TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK);
	conn_table__apply(&t, &e);
	assert_null(conn_table__next_close_wait(&t, 10 * SEC, 10 * SEC));	/* 9 s old */
	c = conn_table__next_close_wait(&t, 11 * SEC + 1, 10 * SEC);
	assert_non_null(c);
	assert_int_equal(c->ident.cookie, 1);
	assert_true(c->alerted);
	assert_null(conn_table__next_close_wait(&t, 11 * SEC + 1, 10 * SEC));
	c = conn_table__next_close_wait(&t, 100 * SEC, 10 * SEC);
	assert_int_equal(c->ident.cookie, 3);
	assert_null(conn_table__next_close_wait(&t, 100 * SEC, 10 * SEC));
	conn_table__free(&t);
}

static void calls_kept_in_order_bounded(void **state_)
{
	struct conn_table t;
	struct ts_event e = state(9, SEC, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED);
	struct conn *c;

	conn_table__init(&t, 4);
	c = conn_table__apply(&t, &e);
	for (int i = 0; i < CONN_CALLS_MAX + 3; i++) {
		e = call(9, (uint64_t)(2 + i) * SEC, TS_EV_CLOSE, 20 + (uint32_t)i, i, 2);
		conn_table__apply(&t, &e);
	}
	assert_int_equal(c->ncalls, CONN_CALLS_MAX + 3);
	assert_int_equal(conn__ncalls_kept(c), CONN_CALLS_MAX);
	assert_int_equal(conn__call(c, 0)->fd, 3);
	assert_int_equal(conn__call(c, CONN_CALLS_MAX - 1)->fd, CONN_CALLS_MAX + 2);
	assert_null(conn__call(c, CONN_CALLS_MAX));
	/* A caller is not the owner. */
	assert_int_equal(c->ident.pid, 10);
	conn_table__free(&t);
}

static void cap_evicts_least_recent(void **state_)
{
	struct conn_table t;
	struct ts_event e;

	conn_table__init(&t, 3);
	for (uint64_t k = 1; k <= 3; k++) {
		e = state(k, k, TS_TCP_CLOSE, TS_TCP_SYN_SENT);
		conn_table__apply(&t, &e);
	}
	e = state(1, 10, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED);	/* 1 is fresh again */
	conn_table__apply(&t, &e);
	e = state(4, 11, TS_TCP_CLOSE, TS_TCP_SYN_SENT);
	conn_table__apply(&t, &e);
	assert_int_equal(t.count, 3);
	assert_int_equal(t.evictions, 1);
	assert_null(conn_table__find(&t, 2));
	assert_non_null(conn_table__find(&t, 1));
	assert_non_null(conn_table__find(&t, 4));
	conn_table__free(&t);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* To check against a dump: the open connections with no record since it;
 * one taken away as gone leaves the table once. */
static void stale_since_the_dump(void **state_)
{
	int exits[CONN_EXIT_GONE + 1] = { 0 };
	uint64_t *stale = NULL;
	struct conn_table t;
	struct ts_event e;

	conn_table__init(&t, 16);
	conn_table__set_sink(&t, count_exits, exits);
	for (uint64_t k = 1; k <= 4; k++) {
		e = state(k, k * SEC, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED);
		conn_table__apply(&t, &e);
	}
	e = state(3, 20 * SEC, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1);	/* after the dump */
	conn_table__apply(&t, &e);
	e = state(2, 6 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE);	/* closed: not open */
	conn_table__apply(&t, &e);
	assert_int_equal(conn_table__find_stale(&t, 10 * SEC, &stale), 2);
	qsort(stale, 2, sizeof(*stale), cmp_u64);
	assert_true(stale[0] == 1 && stale[1] == 4);
	free(stale);
	assert_true(conn_table__end_gone(&t, 1));
	assert_false(conn_table__end_gone(&t, 1));		/* once */
	assert_false(conn_table__end_gone(&t, 2));		/* closed, not gone */
	assert_int_equal(exits[CONN_EXIT_GONE], 1);
	assert_null(conn_table__find(&t, 1));
	assert_int_equal(conn_table__find_stale(&t, 10 * SEC, &stale), 1);
	assert_int_equal(stale[0], 4);
	free(stale);
	assert_int_equal(conn_table__find_stale(&t, 1, &stale), 0);
	conn_table__free(&t);
}

/* Removing from the open-addressed hash keeps every other cookie
 * findable: closed connections leave in a scattered order, sequential and
 * colliding cookies alike. */
static void removal_keeps_the_rest_findable(void **state_)
{
	struct conn_table t;
	struct ts_event e;
	const uint64_t n = 20000;

	conn_table__init(&t, 100000);
	for (uint64_t k = 1; k <= n; k++) {
		/* every fourth one far away: the top hash bits differ little */
		uint64_t cookie = k % 4 ? k : k << 40;

		e = state(cookie, k, TS_TCP_CLOSE, TS_TCP_SYN_SENT);
		conn_table__apply(&t, &e);
	}
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t cookie = k % 4 ? k : k << 40;

		if ((k * 7919) % 3 == 0) {
			e = state(cookie, n + k, TS_TCP_SYN_SENT, TS_TCP_CLOSE);
			conn_table__apply(&t, &e);
		}
	}
	conn_table__expire(&t, UINT64_MAX);
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t cookie = k % 4 ? k : k << 40;

		if ((k * 7919) % 3 == 0)
			assert_null(conn_table__find(&t, cookie));
		else
			assert_non_null(conn_table__find(&t, cookie));
	}
	assert_int_equal(t.nhashed, t.count);
	conn_table__free(&t);
}

static void many_connections_grow_the_table(void **state_)
{
	struct conn_table t;
	struct ts_event e;

	conn_table__init(&t, 100000);
	for (uint64_t k = 1; k <= 50000; k++) {
		e = state(k, k, TS_TCP_CLOSE, TS_TCP_SYN_SENT);
		conn_table__apply(&t, &e);
	}
	assert_int_equal(t.count, 50000);
	assert_true(t.nslots >= 2 * 50000);	/* at most half full */
	for (uint64_t k = 1; k <= 50000; k += 997)
		assert_non_null(conn_table__find(&t, k));
	assert_null(conn_table__find(&t, 50001));
	conn_table__free(&t);
}

static struct conn close_wait_conn(void)
{
	struct conn_table t;
	struct ts_event e = state(5, 100 * SEC, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);
	struct conn c;

	conn_table__init(&t, 4);
	c = *conn_table__apply(&t, &e);
	conn_table__free(&t);
	return c;
}

static void diagnosis_no_close(void **state_)
{
	struct conn c = close_wait_conn();
	struct holder h[] = { { .pid = 10, .ppid = 1, .fd = 7, .comm = "srv" } };
	enum diag_cause why;
	char buf[512];

	diagnose__close_wait(&c, h, 1, 112 * SEC + SEC / 2, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_NO_CLOSE);
	assert_string_equal(buf, "the peer closed 12.5 s ago and no process has called close(): "
				 "pid 10 (srv) still holds it as fd 7; the application has not "
				 "noticed EOF or leaks the descriptor");
}

static void diagnosis_fork_inherited_and_exec(void **state_)
{
	struct conn c = close_wait_conn();
	struct holder h[] = { { .pid = 11, .ppid = 10, .fd = 7, .comm = "worker" },
			      { .pid = 12, .ppid = 10, .fd = 7, .comm = "worker" } };
	struct conn_call *k = &c.calls[0];
	enum diag_cause why;
	char buf[512];

	memset(k, 0, sizeof(*k));
	k->type = TS_EV_CLOSE;
	k->via = TS_VIA_CLOSE;
	k->pid = 10;
	k->fd = 7;
	k->refs = 3;
	k->mono_ns = 101 * SEC;
	memcpy(k->comm, "srv", 4);
	c.ncalls = 1;
	diagnose__close_wait(&c, h, 2, 161 * SEC, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_EXEC);
	assert_string_equal(diag_cause__name(why), "exec");
	assert_string_equal(buf, "pid 10 (srv) called close() on fd 7 1 min 0 s ago but 3 "
				 "references existed, so no FIN was sent; pid 11 (worker) still "
				 "holds it as fd 7, inherited across fork from pid 10 and kept "
				 "across exec (no FD_CLOEXEC) (and 1 more)");
	memcpy(k->comm, "worker", 7);
	diagnose__close_wait(&c, h, 2, 161 * SEC, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_FORK);
	assert_null(strstr(buf, "exec"));
	h[0].ppid = 1;
	diagnose__close_wait(&c, h, 2, 161 * SEC, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_SHARED);
}

static void diagnosis_dup_and_unknown(void **state_)
{
	struct conn c = close_wait_conn();
	struct holder h[] = { { .pid = 10, .ppid = 1, .fd = 9, .comm = "srv" } };
	struct conn_call *k = &c.calls[0];
	enum diag_cause why;
	char buf[512];

	memset(k, 0, sizeof(*k));
	k->type = TS_EV_CLOSE;
	k->via = TS_VIA_CLOSE;
	k->pid = 10;
	k->fd = 7;
	k->refs = 2;
	k->mono_ns = 100 * SEC;
	c.ncalls = 1;
	diagnose__close_wait(&c, h, 1, 100 * SEC + 5000000, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_DUP);
	assert_non_null(strstr(buf, "pid 10 (srv) still refers to it through fd 9, another "
				    "descriptor of the same process (a dup())"));
	assert_non_null(strstr(buf, "on fd 7 5 ms ago"));
	diagnose__close_wait(&c, NULL, -1, 101 * SEC, buf, sizeof(buf), &why);
	assert_int_equal(why, DIAG_CAUSE_UNKNOWN);
	assert_non_null(strstr(buf, "not known"));
	c.ncalls = 0;
	c.since_known = false;
	diagnose__close_wait(&c, NULL, 0, 101 * SEC, buf, sizeof(buf), NULL);
	assert_non_null(strstr(buf, "closed before tracing began and no process holds the socket"));
}

static void durations(void **state_)
{
	char b[32];

	assert_string_equal(diagnose__duration(999999999ULL, b, sizeof(b)), "999 ms");
	assert_string_equal(diagnose__duration(59 * SEC, b, sizeof(b)), "59.0 s");
	assert_string_equal(diagnose__duration(61 * SEC, b, sizeof(b)), "1 min 1 s");
	assert_string_equal(diagnose__duration(7500 * SEC, b, sizeof(b)), "2 h 5 min");
}

/* holders__scan on a /proc-shaped tree of real directories and links. */
static void mkproc(const char *root, int pid, int ppid, const char *comm, int fd,
		   const char *target)
{
	char p[512], l[64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%d/fd", root, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%d/stat", root, pid);
	f = fopen(p, "w");
	fprintf(f, "%d (%s) S %d 1 1 0\n", pid, comm, ppid);
	fclose(f);
	snprintf(p, sizeof(p), "%s/%d/fd/%d", root, pid, fd);
	snprintf(l, sizeof(l), "%s", target);
	assert_int_equal(symlink(l, p), 0);
}

static void holders_from_proc_tree(void **state_)
{
	char root[] = "/tmp/tcpstate-holders-XXXXXX";
	struct holder_query q[2] = { { .ino = 555 }, { .ino = 444 } };
	struct holder_scan_stats st = { .scans = 2, .max_ns = UINT64_MAX };
	char cmd[600];

	assert_non_null(mkdtemp(root));
	mkproc(root, 100, 1, "srv", 4, "socket:[444]");
	mkproc(root, 101, 100, "odd) name (x", 9, "socket:[555]");
	mkproc(root, 102, 1, "other", 3, "/dev/null");
	snprintf(cmd, sizeof(cmd), "%s/self", root);
	mkdir(cmd, 0755);	/* not a pid: skipped */
	assert_int_equal(holders__scan(q, 2, root, &st), 0);
	/* added to what was there: 3 processes, one descriptor each */
	assert_int_equal(st.scans, 3);
	assert_int_equal(st.procs, 3);
	assert_int_equal(st.fds, 3);
	assert_true(st.ns > 0 && st.max_ns == UINT64_MAX);
	/* sorted by inode */
	assert_int_equal(q[0].ino, 444);
	assert_int_equal(q[0].n, 1);
	assert_int_equal(q[0].h[0].pid, 100);
	assert_int_equal(q[0].h[0].fd, 4);
	assert_string_equal(q[0].h[0].comm, "srv");
	assert_int_equal(q[1].n, 1);
	assert_int_equal(q[1].h[0].ppid, 100);
	assert_string_equal(q[1].h[0].comm, "odd) name (x");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(holders__scan(q, 2, "/nonexistent-proc", NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle_and_removal),
		cmocka_unit_test(close_wait_alerts_oldest_first_once),
		cmocka_unit_test(calls_kept_in_order_bounded),
		cmocka_unit_test(cap_evicts_least_recent),
		cmocka_unit_test(stale_since_the_dump),
		cmocka_unit_test(many_connections_grow_the_table),
		cmocka_unit_test(removal_keeps_the_rest_findable),
		cmocka_unit_test(diagnosis_no_close),
		cmocka_unit_test(diagnosis_fork_inherited_and_exec),
		cmocka_unit_test(diagnosis_dup_and_unknown),
		cmocka_unit_test(durations),
		cmocka_unit_test(holders_from_proc_tree),
	};

	return cmocka_run_group_tests_name("conn_table", tests, NULL, NULL);
}

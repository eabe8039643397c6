// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the close path: close() with reference counts, shutdown,
 * resets, and the CLOSE_WAIT diagnosis, one way of ending per test
 * (tests/scenario/closepath.c makes the connections). */
#include "harness.h"
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

struct cp {
	json_t *rep;
	int port, cport;
	int64_t server_pid, client_pid, holder_pid, server_fd;
};

static bool cp_from(struct cp *c, json_t *rep)
{
	json_decref(c->rep);
	c->rep = rep;
	if (!rep)
		return false;
	c->port = (int)jint(rep, "port");
	c->cport = (int)jint(rep, "client_port");
	c->server_pid = jint(rep, "server_pid");
	c->client_pid = jint(rep, "client_pid");
	c->holder_pid = jint(rep, "holder_pid");
	c->server_fd = jint(rep, "server_fd");
	return c->port > 0 && c->cport > 0;
}

struct want_state {
	int sport, dport;
	const char *state;
};

static bool has_state(struct tracer_run *t, void *arg)
{
	struct want_state *w = arg;

	return cookie_by_ports(t, w->sport, w->dport, w->state) != 0;
}

static bool has_alert(struct tracer_run *t, void *arg)
{
	return record_find(t, "alert", *(uint64_t *)arg, -1, NULL) != NULL;
}

static bool ended(struct tracer_run *t, int sport, int dport)
{
	return cookie_by_ports(t, sport, dport, "CLOSE") ||
	       cookie_by_ports(t, sport, dport, "TIME_WAIT");
}

/* Its end unreported, and said so: a "gone" record. */
static bool gone(struct tracer_run *t, int sport, int dport)
{
	return cookie_gone(t, cookie_by_ports(t, sport, dport, "ESTABLISHED"));
}

/* Both ends of the connection ended: CLOSE, or TIME_WAIT for the side
 * that closed first; or gone, when the kernel did not report the end. */
static bool both_closed(struct tracer_run *t, void *arg)
{
	struct cp *c = arg;

	return (ended(t, c->port, c->cport) || gone(t, c->port, c->cport)) &&
	       (ended(t, c->cport, c->port) || gone(t, c->cport, c->port));
}

/* This end reached CLOSE or TIME_WAIT, or its records say gap or gone. */
static bool end_excused(struct tracer_run *t, int sport, int dport)
{
	return ended(t, sport, dport) || gone(t, sport, dport) ||
	       cookie_says_gap(t, cookie_by_ports(t, sport, dport, "ESTABLISHED"));
}

static uint64_t server_cookie(struct tracer_run *t, struct cp *c)
{
	return cookie_by_ports(t, c->port, c->cport, "ESTABLISHED");
}

static uint64_t client_cookie(struct tracer_run *t, struct cp *c)
{
	return cookie_by_ports(t, c->cport, c->port, "ESTABLISHED");
}

static void expect_seq(struct tracer_run *t, uint64_t cookie, const char *who, const char *want)
{
	json_t *list = records_of_cookie(t, cookie);
	char got[512];

	transitions_str(list, got, sizeof(got));
	EXPECT(transitions_match(t, list, got, want), "%s: transitions '%s', expected '%s'", who, got,
	       want);
	json_decref(list);
}

/* The index of the first state record of cookie that enters state. */
static int state_index(struct tracer_run *t, uint64_t cookie, const char *state)
{
	int idx = -1;
	json_t *r;

	while ((r = record_find(t, "state", cookie, idx, &idx)))
		if (strcmp(jstr(r, "new"), state) == 0)
			return idx;
	return -1;
}

/* Run a closepath mode to its end with a tracer watching; leaves the
 * tracer stopped with every record read. */
static bool run_mode(struct tracer_run *t, struct cp *c, const char *mode)
{
	const char *targs[] = { "-j", NULL };
	const char *sargs[] = { mode, NULL };

	if (tracer_start(t, targs))
		return false;
	if (!cp_from(c, scenario_run("closepath", sargs))) {
		check_fail(__FILE__, __LINE__, "closepath %s failed", mode);
		return false;
	}
	bool done = tracer_wait(t, both_closed, c);

	tracer_stop(t, SIGINT);
	check_summary(t);
	/* An end that never arrived is excused only by its own connection:
	 * records of it marked gap (a run the kernel skipped). What the run
	 * lost elsewhere excuses nothing; it is in the message. */
	EXPECT(done || (end_excused(t, c->port, c->cport) && end_excused(t, c->cport, c->port)),
	       "both ends did not reach CLOSE (server %s, client %s); the summary reports %lld "
	       "skipped program runs and gaps", ended(t, c->port, c->cport) ? "did" : "did not",
	       ended(t, c->cport, c->port) ? "did" : "did not", (long long)tracer_runs_lost(t));
	return true;
}

/* close records of comm that left their socket open. */
static int nonfinal_closes(struct tracer_run *t, const char *comm)
{
	json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(t->records, i, r)
		n += jstr(r, "type") && strcmp(jstr(r, "type"), "close") == 0 && jstr(r, "comm") &&
		     strcmp(jstr(r, "comm"), comm) == 0 && json_is_false(json_object_get(r, "final"));
	return n;
}

/* The metrics written at exit count the alert under its cause, and every
 * close() that left a socket open (the parent's among them). */
static void expect_fork_metrics(struct tracer_run *t, const char *path)
{
	char *text = read_text_file(path);
	int want = nonfinal_closes(t, "closepath");
	const char *alert = "tcpstate_close_wait_alerts_total{comm=\"closepath\",cause=\"fork\"}",
		   *closes = "tcpstate_closes_not_final_total{comm=\"closepath\"}";

	EXPECT(text, "no metrics file %s", path);
	if (!text)
		return;
	EXPECT(prom_sample(text, alert) == 1, "%s %g, expected 1", alert, prom_sample(text, alert));
	EXPECT(want >= 1 && prom_sample(text, closes) == want, "%s %g, expected %d (the close "
	       "records)", closes, prom_sample(text, closes), want);
	free(text);
}

/* Fork-inherited socket: the parent's close() drops one of two references
 * and sends nothing; the alert names the child; the child's exit ends it. */
void t_close_fork_inherited(void)
{
	char dir[] = "/tmp/tcpst-fork-XXXXXX", mfile[64];
	const char *targs[] = { "-j", "--close-wait-alert", "1", "--metrics-file", mfile, NULL };
	const char *sargs[] = { "fork", NULL };
	struct tracer_run t = {};
	struct scenario s;
	struct cp c = {};
	uint64_t sc;
	json_t *alert, *r, *calls;
	const char *diag;
	char want[64];

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(mfile, sizeof(mfile), "%s/m.prom", dir);
	if (tracer_start(&t, targs))
		goto out;
	if (scenario_start(&s, "closepath", sargs) || !cp_from(&c, scenario_read(&s))) {
		check_fail(__FILE__, __LINE__, "closepath fork did not reach CLOSE_WAIT");
		goto out;
	}
	struct want_state cw = { c.port, c.cport, "CLOSE_WAIT" };

	EXPECT(tracer_wait(&t, has_state, &cw), "server socket never entered CLOSE_WAIT");
	sc = server_cookie(&t, &c);
	EXPECT(tracer_wait(&t, has_alert, &sc), "no CLOSE_WAIT alert within %d ms", cfg.timeout_ms);

	r = record_find(&t, "close", sc, -1, NULL);
	EXPECT(r && jint(r, "pid") == c.server_pid && jint(r, "fd") == c.server_fd &&
	       jint(r, "refs_before") == 2 && json_is_false(json_object_get(r, "final")),
	       "parent's close: want pid %lld fd %lld refs_before 2 final false",
	       (long long)c.server_pid, (long long)c.server_fd);
	/* No FIN went out: the socket is still in CLOSE_WAIT. */
	expect_seq(&t, sc, "server before the child exits",
		   "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT");

	alert = record_find(&t, "alert", sc, -1, NULL);
	if (alert) {
		diag = jstr(alert, "diagnosis");
		EXPECT(jstr(alert, "kind") && strcmp(jstr(alert, "kind"), "close_wait") == 0,
		       "alert kind %s", jstr(alert, "kind"));
		EXPECT(jint(alert, "age_ns") >= 1000000000LL, "alert age %lld ns < 1 s",
		       (long long)jint(alert, "age_ns"));
		EXPECT(holder_in(json_object_get(alert, "holders"), c.holder_pid, c.server_fd),
		       "holders do not name the child %lld with fd %lld", (long long)c.holder_pid,
		       (long long)c.server_fd);
		EXPECT(!holder_in(json_object_get(alert, "holders"), c.server_pid,
					 c.server_fd), "holders name the parent, which closed it");
		calls = json_object_get(alert, "close_calls");
		EXPECT(json_array_size(calls) == 1 &&
		       jint(json_array_get(calls, 0), "refs_before") == 2 &&
		       jint(json_array_get(calls, 0), "pid") == c.server_pid,
		       "close_calls should hold the parent's close with 2 references");
		snprintf(want, sizeof(want), "pid %lld", (long long)c.holder_pid);
		EXPECT(diag && strstr(diag, want) && strstr(diag, "inherited across fork") &&
		       strstr(diag, "2 references"), "diagnosis: %s", diag ? diag : "(none)");
	}

	/* The child exits: the last reference goes, FIN, LAST_ACK, CLOSE. */
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	EXPECT(scenario_finish(&s), "closepath fork failed");
	struct want_state done = { c.port, c.cport, "CLOSE" };

	EXPECT(tracer_wait(&t, has_state, &done), "server socket never reached CLOSE");
	tracer_stop(&t, SIGINT);
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT "
				     "CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE");
	r = record_find(&t, "state", sc, state_index(&t, sc, "LAST_ACK") - 1, NULL);
	EXPECT(r && jint(r, "pid") == c.holder_pid,
	       "CLOSE_WAIT>LAST_ACK should be owned by the exiting child %lld",
	       (long long)c.holder_pid);
	{
		int idx = -1;
		bool found = false;

		while ((r = record_find(&t, "close", sc, idx, &idx))) {
			if (jint(r, "pid") != c.holder_pid)
				continue;
			found = true;
			EXPECT(jstr(r, "via") && strcmp(jstr(r, "via"), "exit") == 0 &&
			       json_is_true(json_object_get(r, "final")) &&
			       jint(r, "refs_before") == 1,
			       "child's exit: want via exit, final, refs_before 1");
			/* tcp_close alone (no bpf_loop) does not know the descriptor */
			EXPECT(jint(r, "fd") == c.server_fd || jnull(r, "fd"), "child's exit: fd %lld",
			       (long long)jint(r, "fd"));
		}
		/* Exits are invisible only with neither a descriptor walk nor a
		 * tcp_close hook, and the summary must say so. */
		EXPECT(found || (t.summary && json_is_false(json_object_get(t.summary, "exit_scan")) &&
				 strcmp(jstr(t.summary, "close_hook"), "tracepoint") == 0),
		       "no close record for the child's exit");
	}
	check_summary(&t);
	expect_fork_metrics(&t, mfile);
out:
	json_decref(c.rep);
	tracer_free(&t);
	unlink(mfile);
	rmdir(dir);
}

/* Read EOF, never close: the alert says no close() was called. */
/* A periodic "connections" record naming pid among the CLOSE_WAIT owners. */
static bool owns_close_wait(struct tracer_run *t, void *arg)
{
	int64_t pid = *(int64_t *)arg;
	json_t *r, *w;
	size_t i, k;

	json_array_foreach(t->records, i, r) {
		if (!jstr(r, "type") || strcmp(jstr(r, "type"), "connections") != 0)
			continue;
		json_array_foreach(json_object_get(r, "close_wait_owners"), k, w)
			if (jint(w, "pid") == pid && jint(w, "count") >= 1 &&
			    jint(json_object_get(r, "states"), "CLOSE_WAIT") >= 1)
				return true;
	}
	return false;
}

void t_close_eof_never_closed(void)
{
	const char *targs[] = { "-j", "--close-wait-alert", "1", "-i", "1", NULL };
	const char *sargs[] = { "eof", NULL };
	struct tracer_run t = {};
	struct scenario s;
	struct cp c = {};
	uint64_t sc;
	json_t *alert;
	const char *diag;

	if (tracer_start(&t, targs))
		return;
	if (scenario_start(&s, "closepath", sargs) || !cp_from(&c, scenario_read(&s))) {
		check_fail(__FILE__, __LINE__, "closepath eof did not reach CLOSE_WAIT");
		goto out;
	}
	struct want_state cw = { c.port, c.cport, "CLOSE_WAIT" };

	EXPECT(tracer_wait(&t, has_state, &cw), "server socket never entered CLOSE_WAIT");
	sc = server_cookie(&t, &c);
	EXPECT(tracer_wait(&t, has_alert, &sc), "no CLOSE_WAIT alert");
	alert = record_find(&t, "alert", sc, -1, NULL);
	if (alert) {
		diag = jstr(alert, "diagnosis");
		EXPECT(diag && strstr(diag, "no process has called close()"), "diagnosis: %s",
		       diag ? diag : "(none)");
		EXPECT(holder_in(json_object_get(alert, "holders"), c.server_pid, c.server_fd),
		       "holders do not name the server %lld fd %lld", (long long)c.server_pid,
		       (long long)c.server_fd);
		EXPECT(json_array_size(json_object_get(alert, "close_calls")) == 0,
		       "close_calls not empty");
		EXPECT(jint(alert, "pid") == c.server_pid, "alert owner %lld, expected %lld",
		       (long long)jint(alert, "pid"), (long long)c.server_pid);
	}
	EXPECT(tracer_wait(&t, owns_close_wait, &c.server_pid),
	       "no connections record names pid %lld among the CLOSE_WAIT owners",
	       (long long)c.server_pid);
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	EXPECT(scenario_finish(&s), "closepath eof failed");
	struct want_state done = { c.port, c.cport, "CLOSE" };

	EXPECT(tracer_wait(&t, has_state, &done), "server socket never reached CLOSE");
	tracer_stop(&t, SIGINT);
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT "
				     "CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE");
	check_summary(&t);
out:
	json_decref(c.rep);
	tracer_free(&t);
}

/* shutdown(SHUT_WR): the FIN goes out, the reply still comes back. */
void t_close_halfclose(void)
{
	struct tracer_run t = {};
	struct cp c = {};
	uint64_t cc, sc;
	json_t *r;

	if (!run_mode(&t, &c, "halfclose"))
		goto out;
	cc = client_cookie(&t, &c);
	sc = server_cookie(&t, &c);
	EXPECT(jint(c.rep, "client_received") == 5, "client received %lld bytes after its "
	       "shutdown, expected 5", (long long)jint(c.rep, "client_received"));
	r = record_find(&t, "shutdown", cc, -1, NULL);
	EXPECT(r && strcmp(jstr(r, "how"), "SHUT_WR") == 0 && jint(r, "pid") == c.client_pid &&
	       jint(r, "fd") >= 0 && jint(r, "refs") == 1,
	       "client shutdown record: want SHUT_WR by pid %lld, fd, refs 1",
	       (long long)c.client_pid);
	expect_seq(&t, cc, "client", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 "
				     "FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>TIME_WAIT");
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT "
				     "CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE");
out:
	json_decref(c.rep);
	tracer_free(&t);
}

/* shutdown(SHUT_RDWR) on a socket two processes share: the FIN goes out
 * although two references exist, and both processes see it. */
void t_close_shared_rdwr(void)
{
	struct tracer_run t = {};
	struct cp c = {};
	uint64_t sc;
	json_t *r;
	int sh_idx = -1;

	if (!run_mode(&t, &c, "rdwr"))
		goto out;
	sc = server_cookie(&t, &c);
	EXPECT(json_is_true(json_object_get(c.rep, "client_eof")) &&
	       json_is_true(json_object_get(c.rep, "holder_eof")),
	       "client and sharing child must both see EOF");
	r = record_find(&t, "shutdown", sc, -1, &sh_idx);
	EXPECT(r && strcmp(jstr(r, "how"), "SHUT_RDWR") == 0 && jint(r, "refs") == 2 &&
	       jint(r, "pid") == c.server_pid && jint(r, "fd") == c.server_fd,
	       "server shutdown record: want SHUT_RDWR, refs 2, pid %lld, fd %lld",
	       (long long)c.server_pid, (long long)c.server_fd);
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>FIN_WAIT1 "
				     "FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>TIME_WAIT");
	r = record_find(&t, "state", sc, state_index(&t, sc, "FIN_WAIT1") - 1, NULL);
	EXPECT(r && jint(r, "pid") == c.server_pid, "FIN_WAIT1 not owned by the caller");
out:
	json_decref(c.rep);
	tracer_free(&t);
}

static void expect_reset(struct tracer_run *t, uint64_t cookie, const char *dir, const char *who,
			 int64_t owner)
{
	int idx = -1;
	json_t *r;
	bool found = false;

	while ((r = record_find(t, "reset", cookie, idx, &idx)))
		if (strcmp(jstr(r, "direction"), dir) == 0)
			found = jint(r, "pid") == owner;
	EXPECT(found, "%s: no reset %s owned by %lld", who, dir, (long long)owner);
}

/* SO_LINGER {1, 0}: close() aborts with a reset; the peer receives it. */
void t_close_linger_reset(void)
{
	struct tracer_run t = {};
	struct cp c = {};
	uint64_t cc, sc;
	json_t *r;

	if (!run_mode(&t, &c, "linger"))
		goto out;
	cc = client_cookie(&t, &c);
	sc = server_cookie(&t, &c);
	EXPECT(json_is_true(json_object_get(c.rep, "reset")), "server read did not fail with "
	       "ECONNRESET (errno %lld)", (long long)jint(c.rep, "server_read_errno"));
	expect_reset(&t, cc, "sent", "client", c.client_pid);
	expect_reset(&t, sc, "received", "server", c.server_pid);
	r = record_find(&t, "close", cc, -1, NULL);
	EXPECT(r && json_is_true(json_object_get(r, "final")) && jint(r, "refs_before") == 1,
	       "client close: want final, refs_before 1");
	expect_seq(&t, cc, "client", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>CLOSE");
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE");
out:
	json_decref(c.rep);
	tracer_free(&t);
}

/* close() with unread data: the kernel resets instead of a FIN. */
void t_close_unread_reset(void)
{
	struct tracer_run t = {};
	struct cp c = {};
	uint64_t cc, sc;

	if (!run_mode(&t, &c, "unread"))
		goto out;
	cc = client_cookie(&t, &c);
	sc = server_cookie(&t, &c);
	EXPECT(json_is_true(json_object_get(c.rep, "reset")), "client read did not fail with "
	       "ECONNRESET (errno %lld)", (long long)jint(c.rep, "client_read_errno"));
	expect_reset(&t, sc, "sent", "server", c.server_pid);
	expect_reset(&t, cc, "received", "client", c.client_pid);
	expect_seq(&t, sc, "server", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE");
	expect_seq(&t, cc, "client", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>CLOSE");
out:
	json_decref(c.rep);
	tracer_free(&t);
}

/* dup(): closing one of two descriptors drops a reference; the second
 * close is the final one, and only then does the FIN go out. */
void t_close_dup(void)
{
	struct tracer_run t = {};
	struct cp c = {};
	uint64_t sc;
	json_t *first, *second, *fin1;
	int i1 = -1, i2 = -1, fin;

	if (!run_mode(&t, &c, "dup"))
		goto out;
	sc = server_cookie(&t, &c);
	first = record_find(&t, "close", sc, -1, &i1);
	second = first ? record_find(&t, "close", sc, i1, &i2) : NULL;
	/* Records made on two CPUs may leave the ring in either order: their
	 * kernel times order them. */
	if (second && jint(second, "mono_ns") < jint(first, "mono_ns")) {
		json_t *x = first;

		first = second;
		second = x;
	}
	fin = state_index(&t, sc, "FIN_WAIT1");
	fin1 = fin >= 0 ? json_array_get(t.records, (size_t)fin) : NULL;
	EXPECT(first && jint(first, "fd") == c.server_fd && jint(first, "refs_before") == 2 &&
	       json_is_false(json_object_get(first, "final")),
	       "first close: want fd %lld refs_before 2 final false", (long long)c.server_fd);
	EXPECT(second && jint(second, "fd") == jint(c.rep, "dup_fd") &&
	       jint(second, "refs_before") == 1 && json_is_true(json_object_get(second, "final")),
	       "second close: want fd %lld refs_before 1 final true",
	       (long long)jint(c.rep, "dup_fd"));
	EXPECT(fin1 && second && jint(fin1, "mono_ns") >= jint(second, "mono_ns"),
	       "FIN_WAIT1 (at %lld ns) must follow the final close (at %lld ns)",
	       (long long)(fin1 ? jint(fin1, "mono_ns") : -1),
	       (long long)(second ? jint(second, "mono_ns") : -1));
out:
	json_decref(c.rep);
	tracer_free(&t);
}

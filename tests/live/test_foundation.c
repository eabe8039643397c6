// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the foundation: transitions, owners, filters, output,
 * errors, lost events. */
#include "harness.h"
#include "tests.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- one connection's expected life ----------------------------------- */

struct pair_run {
	json_t *rep;		/* the scenario's report */
	int port, cport, family;
	int64_t server_pid, client_pid;
};

static bool pair_from_report(struct pair_run *p, json_t *rep)
{
	p->rep = rep;
	if (!rep)
		return false;
	p->port = (int)jint(rep, "port");
	p->cport = (int)jint(rep, "client_port");
	p->family = (int)jint(rep, "family");
	p->server_pid = jint(rep, "server_pid");
	p->client_pid = jint(rep, "client_pid");
	return p->port > 0 && p->cport > 0;
}

/* The three sockets of a pair have all ended: the listener and the server
 * in CLOSE, the client (the active closer) in TIME_WAIT. */
static bool pair_closed(struct tracer_run *t, void *arg)
{
	struct pair_run *p = arg;

	return cookie_by_ports(t, p->port, 0, "CLOSE") &&
	       cookie_by_ports(t, p->port, p->cport, "CLOSE") &&
	       cookie_by_ports(t, p->cport, p->port, "TIME_WAIT");
}

/* Only the server side: listener and accepted socket closed. */
static bool pair_server_closed(struct tracer_run *t, void *arg)
{
	struct pair_run *p = arg;

	return cookie_by_ports(t, p->port, 0, "CLOSE") &&
	       cookie_by_ports(t, p->port, p->cport, "CLOSE");
}

static bool pair_client_closed(struct tracer_run *t, void *arg)
{
	struct pair_run *p = arg;

	return cookie_by_ports(t, p->cport, p->port, "TIME_WAIT");
}

struct expect_conn {
	const char *name;
	uint64_t cookie;
	const char *seq;	/* "OLD>NEW ..." */
	int64_t pid;		/* expected owner */
	int listener_owned;	/* leading records owned through the listener;
				 * the rest up to its accept record may be too */
	int sport, dport;	/* expected ports (0 where the kernel has none yet) */
	const char *daddr;	/* expected remote address */
};

/* When accept() took the connection: 0 if that was not seen. */
static int64_t accepted_ns(struct tracer_run *t, uint64_t cookie)
{
	int idx = -1;
	json_t *r = record_find(t, "accept", cookie, -1, &idx);

	return r ? jint(r, "mono_ns") : 0;
}

static void check_conn(struct tracer_run *t, const struct expect_conn *x, const char *addr)
{
	json_t *list = records_of_cookie(t, x->cookie), *r, *prev = NULL;
	/* A peer's FIN may come before the server gets to accept(): the
	 * listener still owns the connection then. */
	int64_t accepted = x->listener_owned ? accepted_ns(t, x->cookie) : 0;
	char got[512];
	size_t i;

	transitions_str(list, got, sizeof(got));
	EXPECT(transitions_match(t, list, got, x->seq), "%s socket: transitions '%s', expected '%s'", x->name,
	       got, x->seq);
	json_array_foreach(list, i, r) {
		const char *src = jstr(r, "owner_src");
		const char *want_src = (int)i < x->listener_owned ? "listener" : "syscall";
		const char *ts = jstr(r, "ts");

		/* The kernel hands the socket over inside accept(), before
		 * its record: in between, either owner is right. */
		if (src && jint(r, "mono_ns") < accepted && (int)i >= x->listener_owned &&
		    strcmp(src, "listener") == 0)
			want_src = "listener";

		EXPECT(jint(r, "pid") == x->pid, "%s %s>%s: pid %lld, expected owner %lld (%s)",
		       x->name, jstr(r, "old"), jstr(r, "new"), (long long)jint(r, "pid"),
		       (long long)x->pid, jstr(r, "comm") ? jstr(r, "comm") : "null");
		EXPECT(src && strcmp(src, want_src) == 0, "%s %s>%s: owner_src %s, expected %s",
		       x->name, jstr(r, "old"), jstr(r, "new"), src ? src : "null", want_src);
		EXPECT(jstr(r, "comm") && strcmp(jstr(r, "comm"), "pair") == 0,
		       "%s: comm %s, expected pair", x->name, jstr(r, "comm"));
		EXPECT(jstr(r, "saddr") && strcmp(jstr(r, "saddr"), addr) == 0,
		       "%s: saddr %s, expected %s", x->name, jstr(r, "saddr"), addr);
		/* connect() moves to SYN_SENT before it picks the local port.
		 * On older kernels (5.10) a listener's child enters SYN_RECV
		 * before its remote address and port are copied in. */
		bool child_born = strcmp(jstr(r, "new"), "SYN_RECV") == 0;

		if (!child_born || jint(r, "dport") != 0) {
			EXPECT(jstr(r, "daddr") && strcmp(jstr(r, "daddr"), x->daddr) == 0,
			       "%s: daddr %s, expected %s", x->name, jstr(r, "daddr"), x->daddr);
			EXPECT(jint(r, "dport") == x->dport, "%s: dport %lld, expected %d", x->name,
			       (long long)jint(r, "dport"), x->dport);
		}
		if (!(strcmp(jstr(r, "new"), "SYN_SENT") == 0))
			EXPECT(jint(r, "sport") == x->sport, "%s %s>%s: sport %lld, expected %d",
			       x->name, jstr(r, "old"), jstr(r, "new"),
			       (long long)jint(r, "sport"), x->sport);
		EXPECT(ts && strlen(ts) == 27 && ts[10] == 'T' && ts[26] == 'Z',
		       "%s: ts '%s' is not RFC 3339 UTC with microseconds", x->name, ts);
		if (!prev) {
			EXPECT(jnull(r, "prev_state_ns"), "%s: first record has prev_state_ns %lld",
			       x->name, (long long)jint(r, "prev_state_ns"));
		} else {
			int64_t d = jint(r, "mono_ns") - jint(prev, "mono_ns");

			EXPECT(jint(r, "prev_state_ns") == d,
			       "%s %s>%s: prev_state_ns %lld, records %lld ns apart", x->name,
			       jstr(r, "old"), jstr(r, "new"), (long long)jint(r, "prev_state_ns"),
			       (long long)d);
		}
		prev = r;
	}
	json_decref(list);
}

/* Every record of one pair run, checked against what the scenario did. */
static void check_pair(struct tracer_run *t, struct pair_run *p)
{
	const char *lo = p->family == 6 ? "::1" : "127.0.0.1";
	const char *any = p->family == 6 ? "::" : "0.0.0.0";
	struct expect_conn client = {
		"client", cookie_by_ports(t, p->cport, p->port, "ESTABLISHED"),
		"CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 "
		"FIN_WAIT2>TIME_WAIT",
		p->client_pid, 0, p->cport, p->port, lo,
	};
	struct expect_conn server = {
		"server", cookie_by_ports(t, p->port, p->cport, "ESTABLISHED"),
		"LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK "
		"LAST_ACK>CLOSE",
		p->server_pid, 2, p->port, p->cport, lo,
	};
	struct expect_conn listener = {
		"listener", cookie_by_ports(t, p->port, 0, "LISTEN"), "CLOSE>LISTEN LISTEN>CLOSE",
		p->server_pid, 0, p->port, 0, any,
	};

	EXPECT(client.cookie && server.cookie && listener.cookie,
	       "sockets not found by ports: client %llu server %llu listener %llu",
	       (unsigned long long)client.cookie, (unsigned long long)server.cookie,
	       (unsigned long long)listener.cookie);
	EXPECT(client.cookie != server.cookie && server.cookie != listener.cookie &&
	       client.cookie != listener.cookie, "cookies are not distinct");
	check_conn(t, &client, lo);
	/* The client's last record comes from the timewait socket that took
	 * over from it, orphaned in FIN_WAIT2 until the server's FIN. */
	{
		json_t *r, *last = NULL;
		int idx = -1;

		while ((r = record_find(t, "state", client.cookie, idx, &idx)))
			last = r;
		EXPECT(last && json_is_true(json_object_get(last, "timewait")) &&
		       jstr(last, "tw_substate"), "client's FIN_WAIT2>TIME_WAIT is not marked "
		       "as derived from the timewait socket");
	}
	check_conn(t, &server, lo);
	check_conn(t, &listener, lo);

	/* With the kernel's cookie helper, the cookie is the one the
	 * application sees with SO_COOKIE. */
	/* (Kernels that copy the listener's cookie into its children, 6.1 and
	 * 6.12, give the server the listener's SO_COOKIE: the tracer names the
	 * child by a cookie of its own there.) */
	if (t->summary && jstr(t->summary, "cookie_mode") &&
	    strcmp(jstr(t->summary, "cookie_mode"), "helper") == 0 &&
	    jint(p->rep, "server_cookie") != jint(p->rep, "listen_cookie")) {
		EXPECT((int64_t)client.cookie == jint(p->rep, "client_cookie"),
		       "client cookie %llu != SO_COOKIE %lld", (unsigned long long)client.cookie,
		       (long long)jint(p->rep, "client_cookie"));
		EXPECT((int64_t)server.cookie == jint(p->rep, "server_cookie"),
		       "server cookie %llu != SO_COOKIE %lld", (unsigned long long)server.cookie,
		       (long long)jint(p->rep, "server_cookie"));
		EXPECT((int64_t)listener.cookie == jint(p->rep, "listen_cookie"),
		       "listener cookie %llu != SO_COOKIE %lld",
		       (unsigned long long)listener.cookie, (long long)jint(p->rep, "listen_cookie"));
	}
}

/* ---- tests ------------------------------------------------------------- */

static void lifecycle(const char *family_flag, int sig)
{
	const char *jargs[] = { "-j", NULL };
	const char *sargs[] = { family_flag, NULL };
	struct tracer_run t;
	struct pair_run p;

	if (tracer_start(&t, jargs))
		return;
	if (!pair_from_report(&p, scenario_run("pair", sargs))) {
		check_fail(__FILE__, __LINE__, "pair scenario failed");
		goto out;
	}
	if (!tracer_wait(&t, pair_closed, &p))
		check_fail(__FILE__, __LINE__, "not every socket of the pair reached CLOSE within "
			   "%d ms", cfg.timeout_ms);
	EXPECT(exited_ok(tracer_stop(&t, sig)), "tracer exit status %d on signal %d; stderr: %s",
	       t.status, sig, t.errbuf ? t.errbuf : "");
	check_pair(&t, &p);
	check_summary(&t);
	EXPECT(t.errbuf && strstr(t.errbuf, "events (") , "no summary line on stderr");
out:
	json_decref(p.rep);
	tracer_free(&t);
}

void t_lifecycle_ipv4(void) { lifecycle("-p0", SIGINT); }
void t_lifecycle_ipv6(void) { lifecycle("-6", SIGTERM); }

/* Run an excluded pair, then an included one; when the included one's
 * records are all in, the excluded one's would have been too. */
static void filter_case(const char *const targs[], const char *excl_flag, const char *incl_flag,
			bool (*done)(struct tracer_run *, void *),
			void (*verify)(struct tracer_run *, struct pair_run *, struct pair_run *))
{
	const char *eargs[] = { excl_flag, NULL }, *iargs[] = { incl_flag, NULL };
	struct tracer_run t;
	struct pair_run excl = {}, incl = {};

	if (tracer_start(&t, targs))
		return;
	if (!pair_from_report(&excl, scenario_run("pair", eargs)) ||
	    !pair_from_report(&incl, scenario_run("pair", iargs))) {
		check_fail(__FILE__, __LINE__, "pair scenario failed");
		goto out;
	}
	EXPECT(tracer_wait(&t, done, &incl), "included connection's records did not all arrive");
	tracer_stop(&t, SIGINT);
	verify(&t, &excl, &incl);
	check_summary(&t);
out:
	json_decref(excl.rep);
	json_decref(incl.rep);
	tracer_free(&t);
}

static void verify_family(struct tracer_run *t, struct pair_run *excl, struct pair_run *incl)
{
	EXPECT(count_ports(t, excl->port, -1) == 0 && count_ports(t, excl->cport, -1) == 0,
	       "IPv%d connection was not filtered out", excl->family);
	check_pair(t, incl);
}

void t_filter_ipv4(void)
{
	const char *a[] = { "-j", "-4", NULL };

	filter_case(a, "-6", "-p0", pair_closed, verify_family);
}

void t_filter_ipv6(void)
{
	const char *a[] = { "-j", "-6", NULL };

	filter_case(a, "-p0", "-6", pair_closed, verify_family);
}

static void verify_localport(struct tracer_run *t, struct pair_run *excl, struct pair_run *incl)
{
	EXPECT(count_ports(t, excl->port, -1) + count_ports(t, -1, excl->port) == 0,
	       "connection to the other port was not filtered out");
	EXPECT(count_ports(t, incl->cport, -1) == 0, "client socket (local port %d) not filtered",
	       incl->cport);
	EXPECT(count_cookie(t, cookie_by_ports(t, incl->port, incl->cport, "ESTABLISHED")) == 5,
	       "server socket: %d records, expected 5",
	       count_cookie(t, cookie_by_ports(t, incl->port, incl->cport, "ESTABLISHED")));
	EXPECT(count_cookie(t, cookie_by_ports(t, incl->port, 0, "LISTEN")) == 2,
	       "listener: %d records, expected 2",
	       count_cookie(t, cookie_by_ports(t, incl->port, 0, "LISTEN")));
	EXPECT(count_ports(t, -1, -1) == 7, "%d records in all, expected 7", count_ports(t, -1, -1));
}

/* A pair on a port given to -L/-D, and one on another port. */
static void port_filter_case(const char *opt, bool (*done)(struct tracer_run *, void *),
			     void (*verify)(struct tracer_run *, struct pair_run *, struct pair_run *))
{
	char port[12], flag[16], other[16];
	const char *a[] = { "-j", opt, port, NULL };
	int p = free_port(AF_INET), q = free_port(AF_INET);

	CHECK(p > 0 && q > 0 && p != q, "no free ports");
	snprintf(port, sizeof(port), "%d", p);
	snprintf(flag, sizeof(flag), "-p%d", p);
	snprintf(other, sizeof(other), "-p%d", q);
	filter_case(a, other, flag, done, verify);
}

void t_filter_localport(void)
{
	port_filter_case("-L", pair_server_closed, verify_localport);
}

static void verify_remoteport(struct tracer_run *t, struct pair_run *excl, struct pair_run *incl)
{
	EXPECT(count_ports(t, excl->port, -1) + count_ports(t, -1, excl->port) == 0,
	       "connection to the other port was not filtered out");
	EXPECT(count_ports(t, incl->port, -1) == 0, "server side (local port %d) not filtered",
	       incl->port);
	/* SYN_SENT has no local port yet: count by remote port only */
	EXPECT(count_ports(t, -1, incl->port) == 5, "client socket: %d records, expected 5",
	       count_ports(t, -1, incl->port));
	EXPECT(count_ports(t, -1, -1) == 5, "%d records in all, expected 5", count_ports(t, -1, -1));
}

void t_filter_remoteport(void)
{
	port_filter_case("-D", pair_client_closed, verify_remoteport);
}

/* -p PID: the scenario waits until the tracer runs with its pid. */
void t_filter_pid(void)
{
	const char *wargs[] = { "-w", NULL };
	char pid[16];
	const char *targs[] = { "-j", "-p", pid, NULL };
	struct scenario s;
	struct tracer_run t = {};
	struct pair_run p = {};
	json_t *hello;

	CHECK(scenario_start(&s, "pair", wargs) == 0, "cannot start pair");
	hello = scenario_read(&s);
	if (!hello) {
		check_fail(__FILE__, __LINE__, "pair -w did not report its pid");
		scenario_finish(&s);
		return;
	}
	snprintf(pid, sizeof(pid), "%lld", (long long)jint(hello, "server_pid"));
	json_decref(hello);
	if (scenario_go_traced(&s, &t, targs, &hello))
		return;
	pair_from_report(&p, hello);
	if (p.rep) {
		EXPECT(tracer_wait(&t, pair_server_closed, &p), "server records did not arrive");
		tracer_stop(&t, SIGINT);
		EXPECT(count_ports(&t, p.cport, -1) == 0 && count_ports(&t, -1, p.port) == 0,
		       "client's records (pid %lld) were not filtered out", (long long)p.client_pid);
		EXPECT(count_cookie(&t, cookie_by_ports(&t, p.port, p.cport, "ESTABLISHED")) == 5,
		       "server socket: %d records, expected 5",
		       count_cookie(&t, cookie_by_ports(&t, p.port, p.cport, "ESTABLISHED")));
		EXPECT(count_ports(&t, -1, -1) == 7, "%d records in all, expected 7",
		       count_ports(&t, -1, -1));
		check_summary(&t);
	}
	json_decref(p.rep);
	tracer_free(&t);
}

void t_bad_options(void)
{
	static const char *const cases[][4] = {
		{ "--bogus" }, { "-p" }, { "-p", "abc" }, { "-p", "0" }, { "-L", "0" },
		{ "-L", "80,,81" }, { "-D", "65536" }, { "-4", "-6" }, { "--state-hook", "x" },
		{ "--ringbuf", "3" }, { "stray" }, { "--hist-by", "pid" }, { "--hist-by" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[6] = { cfg.tracer };
		char *out, *err;
		int st, lines = 0;

		for (int k = 0; k < 4 && cases[i][k]; k++)
			argv[k + 1] = cases[i][k];
		st = run_capture(argv, &out, &err);
		for (char *c = err; *c; c++)
			lines += *c == '\n';
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 2, "'%s %s': exit status %d, expected 2",
		       cases[i][0], cases[i][1] ? cases[i][1] : "", WEXITSTATUS(st));
		EXPECT(lines == 1, "'%s %s': %d lines on stderr, expected one: %s", cases[i][0],
		       cases[i][1] ? cases[i][1] : "", lines, err);
		EXPECT(*out == '\0', "'%s': wrote to stdout: %s", cases[i][0], out);
		free(out);
		free(err);
	}
}

/* Without privileges: one sentence naming what is missing, exit 1. */
void t_unprivileged(void)
{
	const char *argv[] = { cfg.tracer, "-j", NULL };
	char *out, *err;
	int st = run_capture_as(65534, argv, &out, &err);

	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %d as nobody, expected 1",
	       WEXITSTATUS(st));
	EXPECT(strstr(err, "root") && strstr(err, "CAP_BPF") && !strstr(err, "libbpf"),
	       "unhelpful error as nobody: %s", err);
	EXPECT(*out == '\0', "wrote to stdout: %s", out);
	free(out);
	free(err);
}

static bool human_has_close_wait(struct tracer_run *t, void *arg)
{
	struct pair_run *p = arg;
	char want[64];
	json_t *r;
	size_t i;

	snprintf(want, sizeof(want), "127.0.0.1:%d", p->port);
	json_array_foreach(t->records, i, r) {
		const char *line = json_string_value(r);

		if (line && strstr(line, want) && strstr(line, "ESTABLISHED -> CLOSE_WAIT"))
			return true;
	}
	return false;
}

/* The human table: a header, then the server's CLOSE_WAIT line naming the
 * accepting process. */
void t_human_output(void)
{
	const char *targs[] = { "-T", NULL };
	struct tracer_run t;
	struct pair_run p = {};
	char pidstr[16];
	json_t *r;
	size_t i;
	bool found = false;

	if (tracer_start(&t, targs))
		return;
	if (!pair_from_report(&p, scenario_run("pair", NULL))) {
		check_fail(__FILE__, __LINE__, "pair scenario failed");
		goto out;
	}
	EXPECT(tracer_wait(&t, human_has_close_wait, &p), "no CLOSE_WAIT line for port %d", p.port);
	tracer_stop(&t, SIGINT);
	/* The snapshot's line, then the table's header. */
	r = json_array_get(t.records, 0);
	EXPECT(json_string_value(r) && strncmp(json_string_value(r), "snapshot: ", 10) == 0,
	       "first line is not the snapshot");
	r = json_array_get(t.records, 1);
	EXPECT(json_string_value(r) && strstr(json_string_value(r), "TIME") &&
	       strstr(json_string_value(r), "OLDSTATE"), "second line is not the header");
	snprintf(pidstr, sizeof(pidstr), " %lld ", (long long)p.server_pid);
	json_array_foreach(t.records, i, r) {
		const char *line = json_string_value(r);
		char port[32];

		snprintf(port, sizeof(port), "127.0.0.1:%d ", p.port);
		if (line && strstr(line, port) && strstr(line, "ESTABLISHED -> CLOSE_WAIT")) {
			char padded[24];

			snprintf(padded, sizeof(padded), " %s", line);
			found = strstr(padded, pidstr) != NULL;
			EXPECT(found, "CLOSE_WAIT line does not name pid %lld: %s",
			       (long long)p.server_pid, line);
		}
	}
	EXPECT(t.errbuf && strstr(t.errbuf, "events ("), "no summary on stderr");
out:
	json_decref(p.rep);
	tracer_free(&t);
}

/* `tcpstate-trace -j | head -1`: when the reader goes away the tracer ends
 * by itself with status 0. */
void t_closed_stdout(void)
{
	const char *targs[] = { "-j", NULL };
	struct tracer_run t;
	json_t *rep;

	if (tracer_start(&t, targs))
		return;
	tracer_close_stdout(&t);
	for (int i = 0; i < 3 && t.pid; i++) {
		rep = scenario_run("pair", NULL);
		EXPECT(rep, "pair scenario failed");
		json_decref(rep);
		if (tracer_reap(&t))
			break;
	}
	EXPECT(t.pid == 0, "tracer still running after its stdout was closed");
	if (t.pid == 0)
		EXPECT(exited_ok(t.status), "tracer exit status %d after stdout closed; stderr: %s",
		       WEXITSTATUS(t.status), t.errbuf ? t.errbuf : "");
	tracer_free(&t);
}

/* Sockets that existed before the tracer: transitions whose owner was never
 * seen say so, durations are not invented, and the summary counts them. */
void t_preexisting_socket(void)
{
	const char *wargs[] = { "-W", NULL }, *targs[] = { "-j", NULL };
	struct scenario s;
	struct tracer_run t = {};
	struct pair_run p = {};
	json_t *list, *rep;
	char got[512];
	uint64_t sc, cc, lc;

	CHECK(scenario_start(&s, "pair", wargs) == 0, "cannot start pair");
	json_decref(scenario_read(&s));	/* established: now start tracing */
	if (scenario_go_traced(&s, &t, targs, &rep))
		return;
	pair_from_report(&p, rep);
	if (!p.rep)
		goto out;
	EXPECT(tracer_wait(&t, pair_closed, &p), "not every socket reached CLOSE");
	tracer_stop(&t, SIGINT);
	sc = cookie_by_ports(&t, p.port, p.cport, "CLOSE_WAIT");
	cc = cookie_by_ports(&t, p.cport, p.port, "FIN_WAIT1");
	lc = cookie_by_ports(&t, p.port, 0, "CLOSE");

	list = records_of_cookie(&t, sc);
	transitions_str(list, got, sizeof(got));
	EXPECT(transitions_match(&t, list, got, "ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE"),
	       "server: %s", got);
	if (json_array_size(list) == 3) {
		json_t *first = json_array_get(list, 0), *second = json_array_get(list, 1);

		/* softirq, owner never seen: no pid, and no invented duration */
		EXPECT(jnull(first, "pid") && jnull(first, "comm") && jnull(first, "owner_src"),
		       "ESTABLISHED>CLOSE_WAIT of a socket opened before tracing names pid %lld",
		       (long long)jint(first, "pid"));
		EXPECT(jnull(first, "prev_state_ns"), "time in ESTABLISHED was invented");
		EXPECT(jint(second, "pid") == p.server_pid, "close() did not record the owner");
		EXPECT(jint(second, "prev_state_ns") == jint(second, "mono_ns") - jint(first, "mono_ns"),
		       "time in CLOSE_WAIT is not the time between the records");
	}
	json_decref(list);

	list = records_of_cookie(&t, cc);
	transitions_str(list, got, sizeof(got));
	EXPECT(transitions_match(&t, list, got, "ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>TIME_WAIT"),
	       "client: %s", got);
	if (json_array_size(list) == 3)
		EXPECT(jint(json_array_get(list, 0), "pid") == p.client_pid &&
		       jnull(json_array_get(list, 0), "prev_state_ns"),
		       "client's close() is its own syscall: owner known, duration unknown");
	json_decref(list);

	list = records_of_cookie(&t, lc);
	transitions_str(list, got, sizeof(got));
	EXPECT(transitions_match(&t, list, got, "LISTEN>CLOSE"), "listener: %s", got);
	json_decref(list);

	check_summary(&t);
	EXPECT(t.summary && jint(t.summary, "untracked") >= 3,
	       "summary untracked %lld, expected at least the 3 sockets opened before tracing",
	       (long long)jint(t.summary, "untracked"));
out:
	json_decref(p.rep);
	tracer_free(&t);
}

static bool has_lost_record(struct tracer_run *t, void *arg)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && strcmp(jstr(r, "type"), "lost") == 0)
			return true;
	return false;
}

/* A consumer that cannot keep up loses records, and says so: live "lost"
 * records and the summary account for every record the kernel dropped. */
void t_lost_events(void)
{
	const char *targs[] = { "-j", "--ringbuf", "4K", NULL };
	struct tracer_run t;
	int64_t lost_sum = 0, last_total = -1, states = 0;	/* records of any kind */
	int64_t anonymous = 0;	/* connection records without addresses */
	json_t *r;
	size_t i;

	if (tracer_start(&t, targs))
		return;
	/* A stopped consumer drains nothing: 20 connections (240 records)
	 * cannot fit in 4 KiB. */
	kill(t.pid, SIGSTOP);
	for (int k = 0; k < 20; k++) {
		json_t *rep = scenario_run("pair", NULL);

		EXPECT(rep, "pair scenario failed");
		json_decref(rep);
	}
	kill(t.pid, SIGCONT);
	EXPECT(tracer_wait(&t, has_lost_record, NULL), "no lost record after a full ring");
	tracer_stop(&t, SIGINT);
	json_array_foreach(t.records, i, r) {
		const char *type = jstr(r, "type");

		if (type && strcmp(type, "lost") == 0) {
			lost_sum += jint(r, "count");
			last_total = jint(r, "total");
		} else if (type && strcmp(type, "summary") != 0 && strcmp(type, "alert") != 0 &&
			   strcmp(type, "snapshot") != 0 && strcmp(type, "gone") != 0 &&
			   !json_is_true(json_object_get(r, "from_dump"))) {
			states++;
			if (!jstr(r, "saddr") || strcmp(jstr(r, "saddr"), "127.0.0.1") != 0)
				anonymous++;
		}
	}
	CHECK(t.summary, "no summary");
	EXPECT(lost_sum > 0 && lost_sum == last_total && lost_sum == jint(t.summary, "lost"),
	       "lost records add up to %lld (last total %lld), summary says %lld",
	       (long long)lost_sum, (long long)last_total, (long long)jint(t.summary, "lost"));
	EXPECT(jint(t.summary, "kernel_events") == states,
	       "kernel submitted %lld records, %lld arrived",
	       (long long)jint(t.summary, "kernel_events"), (long long)states);
	EXPECT(states + lost_sum >= 240, "%lld records + %lld lost < the 240 transitions made",
	       (long long)states, (long long)lost_sum);
	/* A socket's identity goes out again after every loss: none of the
	 * records that arrived may lack it. */
	EXPECT(anonymous == 0 && jint(t.summary, "unidentified") == 0,
	       "%lld records without addresses, summary counts %lld unidentified",
	       (long long)anonymous, (long long)jint(t.summary, "unidentified"));
	tracer_free(&t);
}


/* The 4-tuples of every IPv4 TCP socket the kernel has in this namespace,
 * TIME_WAIT ones included, one "local peer" per line: from
 * /proc/net/tcp, which every kernel and guest has (ss may be missing). */
static char *kernel_tuples(void)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512], *out = NULL;
	size_t len = 0;
	FILE *o;

	if (!f)
		return NULL;
	o = open_memstream(&out, &len);
	while (o && fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp;

		if (sscanf(line, " %*d: %8X:%4X %8X:%4X", &la, &lp, &ra, &rp) != 4)
			continue;	/* the header */
		/* The addresses are in network order, printed as host words. */
		fprintf(o, "%u.%u.%u.%u:%u %u.%u.%u.%u:%u\n", la & 255, la >> 8 & 255,
			la >> 16 & 255, la >> 24, lp, ra & 255, ra >> 8 & 255, ra >> 16 & 255,
			ra >> 24, rp);
	}
	fclose(f);
	if (o)
		fclose(o);
	return out;
}

static bool timeline_missing(json_t *o, const char *what)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(o, "missing"), i, m)
		if (strcmp(json_string_value(m), what) == 0)
			return true;
	return false;
}

static bool two_established(struct tracer_run *t, void *arg)
{
	json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(t->records, i, r)
		n += jstr(r, "new") && strcmp(jstr(r, "new"), "ESTABLISHED") == 0;
	return n >= 2;
}

/* The state record the tracer's dump made for sport>dport, or NULL. */
static json_t *from_dump_record(struct tracer_run *t, int sport, int dport)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (json_is_true(json_object_get(r, "from_dump")) && jint(r, "sport") == sport &&
		    jint(r, "dport") == dport)
			return r;
	return NULL;
}

/* The held pair, whose end went into a full ring: the server's socket is
 * gone from the kernel, and says so; the client's is a timewait socket, and
 * the tracer's dump puts the connection in TIME_WAIT, marked from_dump. */
static void check_held_pair(struct tracer_run *t, json_t *rep)
{
	struct pair_run p;
	json_t *r;

	if (!pair_from_report(&p, rep)) {
		check_fail(__FILE__, __LINE__, "the held pair made no report");
		return;
	}
	EXPECT(cookie_gone(t, cookie_by_ports(t, p.port, p.cport, "ESTABLISHED")),
	       "the held server %d>%d did not end as gone", p.port, p.cport);
	r = from_dump_record(t, p.cport, p.port);
	EXPECT(r && !strcmp(jstr(r, "new"), "TIME_WAIT") &&
	       json_is_true(json_object_get(r, "timewait")) &&
	       !strcmp(jstr(r, "old"), "ESTABLISHED"),
	       "the held client %d>%d: no ESTABLISHED>TIME_WAIT found by the dump", p.cport,
	       p.port);
}

/* Records of connections' ends lost in a full ring: the tracer must not
 * hold them open for ever. At exit every connection it still calls open is
 * one the kernel has (by its 4-tuple in /proc/net/tcp), the rest end as
 * gone; one the kernel holds in TIME_WAIT is in TIME_WAIT. */
void t_no_phantoms_after_loss(void)
{
	char path[] = "/tmp/tcpstate-phantom-XXXXXX";
	int fd = mkstemp(path);
	const char *targs[] = { "-j", "--ringbuf", "4K", "--timeline", path, NULL };
	const char *hargs[] = { "-W", NULL };
	struct scenario held;
	struct tracer_run t = {};
	char *tuples = NULL, line[8192];
	json_t *rep;
	int open = 0, phantoms = 0, gone = 0;
	FILE *f;

	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	if (tracer_start(&t, targs))
		goto out;
	/* A connection the tracer sees established... */
	if (scenario_start(&held, "pair", hargs) || !(rep = scenario_read(&held))) {
		check_fail(__FILE__, __LINE__, "pair -W did not get established");
		goto out;
	}
	json_decref(rep);
	EXPECT(tracer_wait(&t, two_established, NULL), "the held pair's records never came");
	/* ...whose end goes into a ring already full. */
	kill(t.pid, SIGSTOP);
	for (int k = 0; k < 20; k++)
		json_decref(scenario_run("pair", NULL));
	scenario_send(&held, "go\n");
	rep = scenario_read(&held);
	EXPECT(scenario_finish(&held), "the held pair failed");
	kill(t.pid, SIGCONT);
	EXPECT(tracer_wait(&t, has_lost_record, NULL), "no lost record after a full ring");
	tuples = kernel_tuples();
	EXPECT(tuples, "/proc/net/tcp unreadable");
	tracer_stop(&t, SIGINT);
	check_held_pair(&t, rep);
	json_decref(rep);
	f = fopen(path, "r");
	EXPECT(f, "no timeline at %s", path);
	while (f && tuples && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		char tuple[200];

		if (!o)
			continue;
		gone += timeline_missing(o, "gone");
		if (timeline_missing(o, "open")) {
			open++;
			snprintf(tuple, sizeof(tuple), "%s:%lld %s:%lld\n", jstr(o, "saddr"),
				 (long long)jint(o, "sport"), jstr(o, "daddr"),
				 (long long)jint(o, "dport"));
			if (!strstr(tuples, tuple)) {
				phantoms++;
				printf("#   open at exit, unknown to the kernel: %s", tuple);
			}
		}
		json_decref(o);
	}
	if (f)
		fclose(f);
	EXPECT(phantoms == 0, "%d of %d connections open at exit are not in the kernel (%d gone)",
	       phantoms, open, gone);
	if (tuples && !phantoms)
		printf("#   note: %d open at exit, all in the kernel; %d ended as gone\n", open,
		       gone);
out:
	free(tuples);
	unlink(path);
	tracer_free(&t);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of starting on a sick host: sockets already in CLOSE_WAIT and
 * TIME_WAIT when the tracer starts are reported, diagnosed and followed;
 * other network namespaces only with --all-netns. */
#include "harness.h"
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

static json_t *first_of_type(struct tracer_run *t, const char *type)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && strcmp(jstr(r, "type"), type) == 0)
			return r;
	return NULL;
}

struct ports {
	int sport, dport;
	const char *type;
};

static json_t *find_ports(struct tracer_run *t, struct ports *p)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && strcmp(jstr(r, "type"), p->type) == 0 &&
		    jint(r, "sport") == p->sport && jint(r, "dport") == p->dport)
			return r;
	return NULL;
}

static bool has_ports(struct tracer_run *t, void *arg)
{
	return find_ports(t, arg) != NULL;
}

static bool has_close(struct tracer_run *t, void *arg)
{
	uint64_t *cookie = arg;
	int idx = -1;
	json_t *r;

	while ((r = record_find(t, "state", *cookie, idx, &idx)))
		if (strcmp(jstr(r, "new"), "CLOSE") == 0)
			return true;
	return false;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A fork-inherited CLOSE_WAIT socket and TIME_WAIT sockets made before the
 * tracer starts: reported at once, diagnosed with the child as holder, and
 * followed by cookie when the child exits. */
void t_snapshot_start(void)
{
	const char *targs[] = { "-j", "--close-wait-alert", "1", "--timewait-report", NULL };
	const char *fargs[] = { "fork", NULL }, *bargs[] = { "burst", "3", NULL };
	struct tracer_run t = {};
	struct scenario s;
	struct ports cw;
	json_t *hello, *snap, *alert, *r, *rep;
	uint64_t cookie;
	int64_t holder, fd, started;
	struct timespec pause = { 1, 200000000 };

	CHECK(scenario_start(&s, "closepath", fargs) == 0, "cannot start closepath fork");
	hello = scenario_read(&s);
	if (!hello) {
		check_fail(__FILE__, __LINE__, "closepath fork did not reach CLOSE_WAIT");
		scenario_finish(&s);
		return;
	}
	cw = (struct ports){ (int)jint(hello, "port"), (int)jint(hello, "client_port"), "alert" };
	holder = jint(hello, "holder_pid");
	fd = jint(hello, "server_fd");
	json_decref(hello);
	rep = scenario_run("timewait", bargs);
	EXPECT(rep, "timewait burst failed");
	json_decref(rep);
	/* Old enough for the 1 s alert threshold before the tracer starts:
	 * the point is that it does not wait a second time. */
	nanosleep(&pause, NULL);

	if (tracer_start(&t, targs)) {
		scenario_send(&s, "go\n");
		scenario_finish(&s);
		return;
	}
	started = now_ms();
	EXPECT(tracer_wait(&t, has_ports, &cw), "no alert for the CLOSE_WAIT socket");
	EXPECT(now_ms() - started <= 1000LL * cfg.timeout_ms / 10000,
	       "alert came %lld ms after start", (long long)(now_ms() - started));
	snap = first_of_type(&t, "snapshot");
	EXPECT(snap && jint(json_object_get(snap, "states"), "CLOSE_WAIT") >= 1 &&
	       jint(json_object_get(snap, "states"), "TIME_WAIT") >= 3,
	       "snapshot record missing or without the CLOSE_WAIT and TIME_WAIT sockets");
	alert = find_ports(&t, &cw);
	if (!alert)
		goto out;
	cookie = (uint64_t)jint(alert, "cookie");
	EXPECT(json_is_true(json_object_get(alert, "before_start")) &&
	       json_is_true(json_object_get(alert, "age_is_lower_bound")),
	       "alert does not say the socket predates tracing and its age is a lower bound");
	EXPECT(jint(alert, "age_ns") >= 1000000000LL, "age lower bound %lld ns, expected >= 1 s",
	       (long long)jint(alert, "age_ns"));
	{
		bool found = false;
		size_t i;

		json_array_foreach(json_object_get(alert, "holders"), i, r)
			found |= jint(r, "pid") == holder && jint(r, "fd") == fd;
		EXPECT(found, "holders do not name the child %lld (fd %lld): %s", (long long)holder,
		       (long long)fd, jstr(alert, "diagnosis"));
	}
	/* The child exits: LAST_ACK, CLOSE, on the same cookie, marked. */
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	EXPECT(scenario_finish(&s), "closepath fork failed");
	EXPECT(tracer_wait(&t, has_close, &cookie), "the CLOSE_WAIT socket never reached CLOSE");
	tracer_stop(&t, SIGINT);
	{
		json_t *list = records_of_cookie(&t, cookie);
		char got[256];
		size_t i;

		transitions_str(list, got, sizeof(got));
		EXPECT(transitions_match(&t, list, got, "CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE"),
		       "followed by cookie: '%s'", got);
		json_array_foreach(list, i, r)
			EXPECT(json_is_true(json_object_get(r, "before_start")),
			       "%s>%s not marked before_start", jstr(r, "old"), jstr(r, "new"));
		json_decref(list);
	}
	r = first_of_type(&t, "timewait_report");
	EXPECT(r && jint(r, "total") >= 3, "TIME_WAIT report does not count the sockets there "
	       "before tracing");
	check_summary(&t);
	tracer_free(&t);
	return;
out:
	scenario_send(&s, "go\n");
	scenario_finish(&s);
	tracer_free(&t);
}

/* A connection in another network namespace: only --all-netns sees it. */
void t_snapshot_netns(void)
{
	/* --all-netns sees the host too, however busy: only the pair's port,
	 * outside the ephemeral range (the pair's namespace is new: it is free
	 * there), so what the host does cannot flood it. */
	char port[8];
	const char *own_args[] = { "-j", NULL };
	const char *all_args[] = { "-j", "--all-netns", "-L", port, NULL };
	const char *sargs[] = { "-n", "-p", port, NULL };
	struct tracer_run own = {}, all = {};
	struct scenario_ports p;
	struct stat st;
	json_t *r;

	snprintf(port, sizeof(port), "%d", 20000 + (int)(getpid() % 10000));
	if (tracer_start(&own, own_args))
		return;
	if (tracer_start(&all, all_args)) {
		tracer_free(&own);
		return;
	}
	if (!scenario_run_until(&all, "pair", sargs, server_end_closed, &p))
		goto out;
	tracer_stop(&all, SIGINT);
	tracer_stop(&own, SIGINT);
	EXPECT(count_ports(&own, p.port, -1) + count_ports(&own, -1, p.port) == 0,
	       "the default (own namespace) saw a connection of another namespace");
	r = record_find(&all, "state", cookie_by_ports(&all, p.port, p.cport, "CLOSE"), -1, NULL);
	EXPECT(r && stat("/proc/self/ns/net", &st) == 0 && jint(r, "netns") > 0 &&
	       (uint64_t)jint(r, "netns") != (uint64_t)st.st_ino,
	       "the record does not name the other namespace");
	check_summary(&own);
	check_summary(&all);
out:
	tracer_free(&own);
	tracer_free(&all);
}

/* --record, then --replay of the file: the replay, offline and through the
 * same engine, gives the records the live run gave. */
void t_record_replay(void)
{
	char path[] = "/tmp/tcpstate-replay-XXXXXX";
	const char *sargs[] = { NULL };
	struct tracer_run t = {};
	char *out = NULL, *err = NULL;
	json_t *live_rec, *r;
	int fd = mkstemp(path), st, nlive = 0, nsame = 0;
	size_t i;

	CHECK(fd >= 0, "mkstemp");
	close(fd);
	{
		const char *targs[] = { "-j", "--record", path, NULL };

		if (tracer_start(&t, targs))
			goto out;
	}
	{
		struct scenario_ports p;

		scenario_run_until(&t, "pair", sargs, server_end_closed, &p);
	}
	tracer_stop(&t, SIGINT);
	{
		const char *argv[] = { cfg.tracer, "--replay", path, "-j", NULL };

		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "replay failed: %s", err);
	}
	/* Every live state record is in the replay, byte for byte, the
	 * snapshot's before_start marks included (the snapshot is recorded). */
	json_array_foreach(t.records, i, live_rec) {
		char *line;

		if (!jstr(live_rec, "type") || strcmp(jstr(live_rec, "type"), "state") != 0)
			continue;
		line = json_dumps(live_rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
		nlive++;
		if (line && strstr(out, line))
			nsame++;
		free(line);
	}
	EXPECT(nlive > 0 && nsame == nlive, "%d of %d live state records found in the replay",
	       nsame, nlive);
	/* A cut file: the records before the cut and one clear sentence. */
	{
		const char *argv[] = { cfg.tracer, "--replay", path, "-j", NULL };
		struct stat sb;

		free(out);
		free(err);
		out = err = NULL;
		CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 7) == 0, "truncate");
		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "cut file: exit status %d",
		       WEXITSTATUS(st));
		EXPECT(strstr(err, "tcpstate-trace: ") && strstr(out, "\"type\":\"state\""),
		       "cut file: no records or no error: %s", err);
	}
	(void)r;
out:
	unlink(path);
	free(out);
	free(err);
	tracer_free(&t);
}

/* The line of out that is this JSON record, printed as the tracer prints. */
static bool has_line(const char *out, json_t *rec)
{
	char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *at = line ? strstr(out, line) : NULL;
	bool whole = at && (at == out || at[-1] == '\n') && at[strlen(line)] == '\n';

	free(line);
	return whole;
}

/* A connection opened before tracing, traced with --record: the replay
 * prints the live run's snapshot record byte for byte, and the records of
 * that connection carry before_start as the live ones do. */
void t_snapshot_replay(void)
{
	char path[] = "/tmp/tcpstate-snapreplay-XXXXXX";
	const char *wargs[] = { "-W", NULL };
	struct tracer_run t = {};
	struct scenario s;
	struct scenario_ports p;
	char *out = NULL, *err = NULL, *snap_line = NULL;
	json_t *ready, *rep = NULL, *snap, *r;
	uint64_t sc;
	int fd = mkstemp(path), st, nmarked = 0, nsame = 0, nserver = 0;
	size_t i;

	CHECK(fd >= 0, "mkstemp");
	close(fd);
	if (scenario_start(&s, "pair", wargs)) {
		check_fail(__FILE__, __LINE__, "cannot start pair -W");
		goto out;
	}
	ready = scenario_read(&s);	/* established: now start tracing */
	p.port = (int)jint(ready, "port");
	p.cport = (int)jint(ready, "client_port");
	json_decref(ready);
	{
		const char *targs[] = { "-j", "--record", path, NULL };

		if (scenario_go_traced(&s, &t, targs, &rep))
			goto out;
	}
	EXPECT(rep, "pair -W failed");
	EXPECT(tracer_wait(&t, server_end_closed, &p), "the connection made before tracing "
	       "never reached CLOSE");
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d: %s", t.status,
	       t.errbuf ? t.errbuf : "");
	{
		const char *argv[] = { cfg.tracer, "--replay", path, "-j", NULL };

		st = run_capture(argv, &out, &err);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "replay failed: %s", err);
	}
	/* The snapshot record first, as live, the same bytes. */
	snap = first_of_type(&t, "snapshot");
	EXPECT(snap && jint(json_object_get(snap, "states"), "ESTABLISHED") >= 2,
	       "the live snapshot does not count the connection's two ends");
	snap_line = snap ? json_dumps(snap, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	EXPECT(snap_line && strncmp(out, snap_line, strlen(snap_line)) == 0 &&
	       out[strlen(snap_line)] == '\n',
	       "the replay's first line is not the live snapshot record %s: %.300s",
	       snap_line ? snap_line : "(none)", out);
	/* The server end: every live record marked, and found in the replay,
	 * mark included. So is every other record live marked. */
	sc = cookie_by_ports(&t, p.port, p.cport, "CLOSE_WAIT");
	EXPECT(sc, "no CLOSE_WAIT for the server end");
	json_array_foreach(t.records, i, r) {
		bool marked = json_is_true(json_object_get(r, "before_start"));

		if ((uint64_t)jint(r, "cookie") == sc) {
			nserver++;
			EXPECT(marked, "live %s record of the server end not marked before_start",
			       jstr(r, "type"));
		}
		/* Alerts are not replayed alike: no holders, the records' clock. */
		if (!marked || strcmp(jstr(r, "type"), "alert") == 0)
			continue;
		nmarked++;
		if (has_line(out, r))
			nsame++;
	}
	EXPECT(nserver >= 3, "%d live records of the server end, expected its 3 transitions",
	       nserver);
	EXPECT(nmarked >= nserver && nsame == nmarked,
	       "%d of %d live records marked before_start are in the replay", nsame, nmarked);
	{
		/* ... and the replay marks no more than live did. */
		const char *at = out;
		int nreplay = 0;

		for (; at && *at; at = strchr(at, '\n'), at = at ? at + 1 : NULL) {
			const char *nl = strchr(at, '\n'), *m = strstr(at, "\"before_start\":true");

			if (m && (!nl || m < nl) && strncmp(at, "{\"type\":\"alert\",", 16) != 0)
				nreplay++;
		}
		EXPECT(nreplay == nmarked, "the replay marks %d records before_start, live %d",
		       nreplay, nmarked);
	}
out:
	json_decref(rep);
	unlink(path);
	free(snap_line);
	free(out);
	free(err);
	tracer_free(&t);
}

/* The snapshot keeps only what the filters let through, as tracing does:
 * an established pair, seen through -L, -D, -6 and -p. */
void t_snapshot_filtered(void)
{
	const char *wargs[] = { "-W", NULL };
	struct scenario s;
	json_t *rep;
	char port[16], spid[16];
	struct {
		const char *args[3];
		int want;
		const char *state;	/* one state it must count, or NULL */
	} cases[] = {
		{ { "-L", port }, 2, "LISTEN" }, { { "-D", port }, 1, "ESTABLISHED" },
		{ { "-6", "-L", port }, 0, NULL }, { { "-p", spid }, 2, "LISTEN" },
	};

	CHECK(scenario_start(&s, "pair", wargs) == 0, "cannot start pair");
	rep = scenario_read(&s);
	if (!rep || jint(rep, "port") <= 0) {
		check_fail(__FILE__, __LINE__, "pair did not report its port");
		goto out;
	}
	snprintf(port, sizeof(port), "%lld", (long long)jint(rep, "port"));
	snprintf(spid, sizeof(spid), "%lld", (long long)jint(rep, "server_pid"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = { cfg.tracer, "--snapshot", "-j", cases[i].args[0],
				       cases[i].args[1], cases[i].args[2], NULL };
		char *out = NULL, *err = NULL;
		json_t *snap;
		int st;

		st = run_capture(argv, &out, &err);
		snap = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && snap, "--snapshot %s: status %d: %s",
		       cases[i].args[0], WEXITSTATUS(st), err);
		/* Earlier tests' TIME_WAIT sockets may share the port. */
		int64_t tw = jint(json_object_get(snap, "states"), "TIME_WAIT");

		EXPECT(jint(snap, "connections") - (tw > 0 ? tw : 0) == cases[i].want,
		       "--snapshot %s %s: %lld connections (%lld in TIME_WAIT), want %d",
		       cases[i].args[0], cases[i].args[1], (long long)jint(snap, "connections"),
		       (long long)tw, cases[i].want);
		if (cases[i].state)
			EXPECT(jint(json_object_get(snap, "states"), cases[i].state) == 1,
			       "--snapshot %s: no %s socket", cases[i].args[0], cases[i].state);
		json_decref(snap);
		free(out);
		free(err);
	}
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
out:
	json_decref(rep);
	EXPECT(scenario_finish(&s), "pair failed");
}

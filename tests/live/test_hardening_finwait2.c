// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* FIN_WAIT2 held by the peer (issue 26, item 12). An orphaned client in
 * FIN_WAIT2 is a timewait socket in its FIN_WAIT2 substate: ss shows it as
 * FIN-WAIT-2 until the peer's FIN, and so must the tracer: its records, its
 * timeline and its --snapshot. tests/scenario/timewait.c "hold" makes the
 * connection: the client closes, the server holds its end until told. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tests.h"

#define HOLD_NS 2000000000LL

static const char *const state_names[] = {
	"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};
#define NSTATES (int)(sizeof(state_names) / sizeof(state_names[0]))

/* ss's name of a state, as the kernel spells it. */
static int ss_state(const char *w)
{
	char k[32];
	size_t i;

	if (strcmp(w, "ESTAB") == 0)
		return 1;
	size_t j = 0;

	/* FIN-WAIT-2 is FIN_WAIT2; TIME-WAIT is TIME_WAIT */
	for (i = 0; w[i] && j < sizeof(k) - 1; i++)
		if (w[i] != '-' || !isdigit((unsigned char)w[i + 1]))
			k[j++] = w[i] == '-' ? '_' : w[i];
	k[j] = 0;
	for (int s = 1; s < NSTATES; s++)
		if (strcmp(k, state_names[s]) == 0)
			return s;
	return 0;
}

/* The kernel's count of this namespace's TCP sockets by state: ss -tan
 * where it is installed, else /proc/net/tcp{,6} (whose st is the timewait
 * substate too). false if neither can be read. */
static bool kernel_states(int n[NSTATES], const char **how)
{
	const char *argv[] = { "ss", "-Htan", NULL }, *ss = NULL;
	char *out = NULL, *err = NULL, word[32];
	int st;

	memset(n, 0, sizeof(int) * NSTATES);
	if (access("/usr/bin/ss", X_OK) == 0)
		ss = "/usr/bin/ss";
	else if (access("/bin/ss", X_OK) == 0)
		ss = "/bin/ss";
	if (ss) {
		*how = "ss -tan";
		argv[0] = ss;
		st = run_capture(argv, &out, &err);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !out) {
			free(out);
			free(err);
			return false;
		}
		for (char *l = out; l && *l;) {
			char *nl = strchr(l, '\n');

			if (sscanf(l, "%31s", word) == 1)
				n[ss_state(word)]++;
			l = nl ? nl + 1 : NULL;
		}
		free(out);
		free(err);
		return true;
	}
	*how = "/proc/net/tcp";
	for (int v = 0; v < 2; v++) {
		FILE *f = fopen(v ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
		char line[512];
		unsigned int s;

		if (!f)
			return v == 1;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %*d: %*s %*s %x", &s) == 1 && s < (unsigned)NSTATES)
				n[s]++;
		fclose(f);
	}
	return true;
}

/* The tracer's --snapshot by state, against the kernel's count. */
static void expect_snapshot_matches(void)
{
	const char *argv[] = { cfg.tracer, "--snapshot", "-j", NULL }, *how = "";
	char *out = NULL, *err = NULL;
	int k[NSTATES], st;
	json_t *snap = NULL, *states;

	st = run_capture(argv, &out, &err);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--snapshot failed: %s", err ? err : "");
	for (char *l = out; l && *l && !snap;) {
		char *nl = strchr(l, '\n');
		json_t *o;

		if (nl)
			*nl = 0;
		o = json_loads(l, 0, NULL);
		if (o && jstr(o, "type") && strcmp(jstr(o, "type"), "snapshot") == 0)
			snap = o;
		else
			json_decref(o);
		l = nl ? nl + 1 : NULL;
	}
	free(out);
	free(err);
	if (!snap) {
		check_fail(__FILE__, __LINE__, "--snapshot printed no snapshot record");
		return;
	}
	if (!kernel_states(k, &how)) {
		check_fail(__FILE__, __LINE__, "cannot count the kernel's sockets (%s)", how);
		json_decref(snap);
		return;
	}
	EXPECT(k[5] >= 1, "%s shows no FIN-WAIT-2 socket while the peer holds its end", how);
	states = json_object_get(snap, "states");
	for (int s = 1; s < NSTATES; s++) {
		int64_t ours = json_integer_value(json_object_get(states, state_names[s]));

		EXPECT(ours == k[s], "--snapshot counts %lld %s, %s %d", (long long)ours,
		       state_names[s], how, k[s]);
	}
	json_decref(snap);
}

/* A gauge's value in a Prometheus text file; -1 if absent. */
static long long gauge(const char *path, const char *series)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t n = strlen(series);
	long long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			v = atoll(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

#define GAUGE_FW2 "tcpstate_connections{state=\"FIN_WAIT2\"}"
#define GAUGE_TW "tcpstate_connections{state=\"TIME_WAIT\"}"

/* The tracer's gauges (--metrics-file, written every second) against the
 * kernel's count, once the file has caught up (a deadline, not a sleep). */
static void expect_gauges(const char *mf)
{
	int64_t deadline = mono_now_ns() + 5000000000LL;
	const char *how = "";
	int k[NSTATES];
	long long fw2, tw;

	CHECK(kernel_states(k, &how), "cannot count the kernel's sockets (%s)", how);
	do {
		struct timespec d = { 0, 50000000 };

		fw2 = gauge(mf, GAUGE_FW2);
		tw = gauge(mf, GAUGE_TW);
		if (fw2 == k[5] && tw <= k[6])
			break;
		nanosleep(&d, NULL);
	} while (mono_now_ns() < deadline);
	EXPECT(fw2 == k[5], "the FIN_WAIT2 gauge says %lld, %s %d", fw2, how, k[5]);
	EXPECT(tw <= 0 ? k[6] == 0 : tw == k[6], "the TIME_WAIT gauge says %lld, %s %d", tw, how,
	       k[6]);
}

/* The FIN_WAIT2 histogram at exit: the client's one stay, want_ns long. */
static void expect_hist(struct tracer_run *t, int64_t want_ns)
{
	json_t *r, *h = NULL;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && strcmp(jstr(r, "type"), "hist") == 0 && jstr(r, "name") &&
		    strcmp(jstr(r, "name"), "FIN_WAIT2") == 0)
			h = r;
	CHECK(h, "no FIN_WAIT2 histogram at exit");
	EXPECT(jint(h, "count") == 1 && jint(h, "max") >= want_ns - 50000000LL &&
	       jint(h, "max") <= want_ns + 300000000LL,
	       "the FIN_WAIT2 histogram has %lld samples, max %lld ns; the peer held %lld ns",
	       (long long)jint(h, "count"), (long long)jint(h, "max"), (long long)want_ns);
}

static bool has_state(struct tracer_run *t, void *arg)
{
	int *p = arg;	/* sport, dport, then the state's index */

	return cookie_by_ports(t, p[0], p[1], state_names[p[2]]) != 0;
}

/* The first state record of cookie into state. */
static json_t *entry_of(struct tracer_run *t, uint64_t cookie, const char *state)
{
	int idx = -1;
	json_t *r;

	while ((r = record_find(t, "state", cookie, idx, &idx)))
		if (strcmp(jstr(r, "new"), state) == 0)
			return r;
	return NULL;
}

static void sleep_until(int64_t mono_ns)
{
	struct timespec ts = { mono_ns / 1000000000LL, mono_ns % 1000000000LL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/* Where fentry or kprobes are allowed the FIN is seen live; with the
 * tracepoints alone it is seen when the timer moves, else derived. */
static bool fin_hook_live(struct tracer_run *t)
{
	const char *h = jstr(t->summary, "close_hook");

	return h && (strcmp(h, "fentry") == 0 || strcmp(h, "kprobe") == 0);
}

static json_t *read_timeline(const char *path, int sport, int dport)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	json_t *found = NULL;

	while (f && !found && getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);

		if (o && jint(o, "sport") == sport && jint(o, "dport") == dport)
			found = o;
		else
			json_decref(o);
	}
	free(line);
	if (f)
		fclose(f);
	return found;
}

/* The client's timeline: FIN_WAIT2 for the hold, then TIME_WAIT. */
static void expect_timeline(const char *path, int cport, int port, int64_t want_ns)
{
	json_t *tl = read_timeline(path, cport, port), *states, *s;
	int64_t fw2 = -1;
	size_t i;
	bool tw_after = false;

	CHECK(tl, "no timeline of the client %d>%d in %s", cport, port, path);
	states = json_object_get(tl, "states");
	json_array_foreach(states, i, s) {
		if (strcmp(jstr(s, "state"), "FIN_WAIT2") == 0)
			fw2 = jint(s, "dur_ns");
		if (fw2 >= 0 && strcmp(jstr(s, "state"), "TIME_WAIT") == 0)
			tw_after = true;
	}
	EXPECT(fw2 >= want_ns - 50000000LL && fw2 <= want_ns + 300000000LL,
	       "the client's timeline says FIN_WAIT2 lasted %lld ns; the peer held %lld ns: %s",
	       (long long)fw2, (long long)want_ns, json_dumps(tl, JSON_COMPACT));
	EXPECT(tw_after, "the client's timeline has no TIME_WAIT after FIN_WAIT2");
	json_decref(tl);
}

/* The client closes, the peer holds its end for hold_ns: FIN_WAIT2 for
 * that long, then TIME_WAIT; and while held, --snapshot counts what ss
 * counts. */
static bool has_killed_end(struct tracer_run *t, void *arg)
{
	int idx = -1;
	json_t *r;

	while ((r = record_find(t, "state", *(uint64_t *)arg, idx, &idx)))
		if (strcmp(jstr(r, "old"), "TIME_WAIT") == 0 && jstr(r, "reason") &&
		    strcmp(jstr(r, "reason"), "killed") == 0)
			return true;
	return false;
}

/* kill: the client's timewait socket is destroyed 100 ms after the
 * server's close, so its end comes at once. */
static void held(int64_t hold_ns, bool snapshot, bool kill)
{
	char tl[64] = "/tmp/tcpstate-fw2-XXXXXX", dir[64] = "/tmp/tcpstate-fw2m-XXXXXX", mf[96] = "";
	const char *targs[] = { "-j", "--hist", "--timeline", tl, "--metrics-file", mf, NULL };
	const char *sargs[] = { "hold", kill ? "kill" : NULL, NULL };
	struct tracer_run t;
	struct scenario s;
	json_t *rep, *fin2, *tw;
	int64_t closed, server_closed = 0, saved = cfg.timeout_ms;
	int p[3];
	uint64_t cookie;
	int fd = mkstemp(tl);

	CHECK(fd >= 0, "mkstemp");
	close(fd);
	if (!mkdtemp(dir)) {
		check_fail(__FILE__, __LINE__, "mkdtemp");
		goto out_file;
	}
	snprintf(mf, sizeof(mf), "%s/metrics.prom", dir);
	if (tracer_start(&t, targs))
		goto out_file;
	if (scenario_start(&s, "timewait", sargs)) {
		check_fail(__FILE__, __LINE__, "timewait hold did not start");
		goto out;
	}
	rep = scenario_read(&s);
	if (!rep) {
		check_fail(__FILE__, __LINE__, "timewait hold reported nothing");
		goto out_scenario;
	}
	p[0] = (int)jint(rep, "client_port");
	p[1] = (int)jint(rep, "port");
	closed = jint(rep, "closed_ns");
	json_decref(rep);
	p[2] = 5;	/* FIN_WAIT2 */
	EXPECT(tracer_wait(&t, has_state, p), "the client never entered FIN_WAIT2");
	cookie = cookie_by_ports(&t, p[0], p[1], "FIN_WAIT2");
	/* Held: what the kernel shows and what --snapshot counts. */
	if (snapshot) {
		expect_snapshot_matches();
		expect_gauges(mf);
	}
	sleep_until(closed + hold_ns);
	scenario_send(&s, "go\n");
	rep = scenario_read(&s);
	server_closed = rep ? jint(rep, "server_closed_ns") : 0;
	if (kill && rep && jstr(rep, "kill_error")) {
		/* Without CONFIG_INET_DIAG_DESTROY, or a tcp_abort() that does
		 * not take timewait sockets (seen on 5.10) */
		if (strstr(jstr(rep, "kill_error"), "not supported"))
			test_skip("this kernel's sock_diag cannot destroy a timewait socket");
		else
			check_fail(__FILE__, __LINE__, "SOCK_DESTROY: %s", jstr(rep, "kill_error"));
		json_decref(rep);
		goto out_scenario;
	}
	json_decref(rep);
	EXPECT(server_closed > 0, "the server's close was not reported");
	/* Derived from the timer at the socket's end when no event showed
	 * the FIN: up to the kernel's 60 s of TIME_WAIT. */
	p[2] = 6;
	cfg.timeout_ms = 75000;
	EXPECT(tracer_wait(&t, has_state, p), "the client never entered TIME_WAIT");
	cfg.timeout_ms = (int)saved;
	if (kill)
		EXPECT(tracer_wait(&t, has_killed_end, &cookie), "no TIME_WAIT -> CLOSE 'killed'");
	tracer_stop(&t, SIGINT);
	fin2 = entry_of(&t, cookie, "FIN_WAIT2");
	tw = entry_of(&t, cookie, "TIME_WAIT");
	CHECK(fin2 && tw, "records of FIN_WAIT2 or TIME_WAIT missing");
	/* Not a few µs after the handoff to the timewait socket: the FIN. */
	EXPECT(!entry_of(&t, cookie, "CLOSE") || jint(entry_of(&t, cookie, "CLOSE"), "mono_ns") >
	       server_closed, "the client reached CLOSE while the peer held its end");
	EXPECT(strcmp(jstr(tw, "old"), "FIN_WAIT2") == 0, "TIME_WAIT entered from %s",
	       jstr(tw, "old"));
	/* The FIN left after server_closed; derived, it is as exact as a
	 * jiffy (at most 10 ms at HZ 100), and the timer's wheel has not moved
	 * it (mod_timer_pending() keeps the exact expiry). */
	EXPECT(jint(tw, "mono_ns") >= server_closed - 10000000LL &&
	       jint(tw, "mono_ns") - server_closed < 200000000LL,
	       "FIN_WAIT2 -> TIME_WAIT at %lld, the server closed at %lld",
	       (long long)jint(tw, "mono_ns"), (long long)server_closed);
	EXPECT(jint(tw, "prev_state_ns") == jint(tw, "mono_ns") - jint(fin2, "mono_ns"),
	       "prev_state_ns %lld, records %lld ns apart", (long long)jint(tw, "prev_state_ns"),
	       (long long)(jint(tw, "mono_ns") - jint(fin2, "mono_ns")));
	EXPECT(!fin_hook_live(&t) || !json_is_true(json_object_get(tw, "derived")),
	       "with fentry/kprobe hooks the FIN must be seen live, not derived");
	printf("#   FIN_WAIT2 for %lld ns, ending %lld us after the server's close(), %s\n",
	       (long long)jint(tw, "prev_state_ns"),
	       (long long)((jint(tw, "mono_ns") - server_closed) / 1000),
	       !json_is_true(json_object_get(tw, "derived")) ? "seen live" :
	       json_is_true(json_object_get(tw, "from_dump")) ? "derived from the timer by a dump" :
	       "derived from the timer at the socket's end");
	check_summary(&t);
	/* A transition the kernel left unreported (a program run skipped, seen
	 * in emulated guests) leaves the timeline a state without a start: a
	 * note with the records, as the other live tests hold it. */
	if (cookie_says_gap(&t, cookie)) {
		printf("#   note: the client's records say a transition went unreported (%lld "
		       "skipped runs and gaps): its timeline and histogram not checked\n",
		       (long long)tracer_runs_lost(&t));
	} else {
		expect_timeline(tl, p[0], p[1], server_closed - jint(fin2, "mono_ns"));
		expect_hist(&t, server_closed - jint(fin2, "mono_ns"));
	}
out_scenario:
	scenario_send(&s, "go\n");
	scenario_finish(&s);
out:
	tracer_free(&t);
out_file:
	unlink(tl);
	unlink(mf);
	rmdir(dir);
}

void t_finwait2_held(void)
{
	held(HOLD_NS, true, false);
}

/* Held 30 ms: the FIN moves the timer within its wheel bucket (2 s wide
 * at HZ 250 for 60 s), so no timer tracepoint fires: with tracepoints
 * alone the transition is derived from the timer at the socket's end, 60 s
 * later, and must still say when the FIN came. Slow. */
void t_finwait2_brief(void)
{
	held(30000000LL, false, false);
}

/* Held 30 ms, and the client's timewait socket destroyed 100 ms after the
 * FIN (the way ss -K does): with tracepoints alone, the FIN that moved its
 * timer silently is derived at that end, from the timer, by the kernel
 * side; and still says when the FIN came. */
void t_finwait2_killed(void)
{
	held(30000000LL, false, true);
}

#define FIN_TIMEOUT "/proc/sys/net/ipv4/tcp_fin_timeout"

static bool write_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fputs(v, f) >= 0;

	if (f && fclose(f))
		ok = false;
	return ok;
}

static bool has_close(struct tracer_run *t, void *arg)
{
	int *p = arg;

	return cookie_by_ports(t, p[0], p[1], "CLOSE") != 0;
}

/* The peer never closes: the FIN_WAIT2 timeout (tcp_fin_timeout, 1 s in
 * this test's namespace) ends the client as FIN_WAIT2 -> CLOSE, never
 * through TIME_WAIT: a timeout, from its timewait socket. When the peer's
 * ACK found close() still holding the socket (slow guests), the full
 * socket waits instead, on its keepalive timer, which ends it with a
 * reset (tcp_keepalive_timer()): reset_sent, not from a timewait socket. */
void t_finwait2_timeout(void)
{
	char tl[64] = "/tmp/tcpstate-fw2t-XXXXXX", saved[16] = "";
	const char *targs[] = { "-j", "--timeline", tl, NULL }, *sargs[] = { "hold", NULL };
	struct tracer_run t;
	struct scenario s;
	json_t *rep, *end, *o;
	uint64_t cookie;
	int p[2], fd = mkstemp(tl);
	FILE *f = fopen(FIN_TIMEOUT, "r");

	CHECK(fd >= 0, "mkstemp");
	close(fd);
	CHECK(f && fgets(saved, sizeof(saved), f), "cannot read " FIN_TIMEOUT);
	fclose(f);
	CHECK(write_sysctl(FIN_TIMEOUT, "1"), "cannot set " FIN_TIMEOUT);
	if (tracer_start(&t, targs))
		goto restore;
	if (scenario_start(&s, "timewait", sargs)) {
		check_fail(__FILE__, __LINE__, "timewait hold did not start");
		goto out;
	}
	rep = scenario_read(&s);
	p[0] = rep ? (int)jint(rep, "client_port") : 0;
	p[1] = rep ? (int)jint(rep, "port") : 0;
	json_decref(rep);
	EXPECT(rep && tracer_wait(&t, has_close, p), "the client's FIN_WAIT2 never ended");
	tracer_stop(&t, SIGINT);
	cookie = cookie_by_ports(&t, p[0], p[1], "CLOSE");
	end = entry_of(&t, cookie, "CLOSE");
	if (end) {
		EXPECT(strcmp(jstr(end, "old"), "FIN_WAIT2") == 0,
		       "the client ended from %s, not FIN_WAIT2", jstr(end, "old"));
		EXPECT(!entry_of(&t, cookie, "TIME_WAIT"), "the client entered TIME_WAIT");
		/* 1 s, or 3.5 retransmission timeouts if longer, plus the wheel */
		EXPECT(jint(end, "prev_state_ns") >= 900000000LL &&
		       jint(end, "prev_state_ns") <= 3000000000LL,
		       "FIN_WAIT2 lasted %lld ns with tcp_fin_timeout 1",
		       (long long)jint(end, "prev_state_ns"));
	} else {
		check_fail(__FILE__, __LINE__, "no CLOSE record of the client");
	}
	check_summary(&t);
	o = read_timeline(tl, p[0], p[1]);
	{
		bool tw = end && json_is_true(json_object_get(end, "timewait"));
		const char *want = tw ? "timeout" : "reset_sent";

		EXPECT(o && jstr(o, "end") && strcmp(jstr(o, "end"), want) == 0,
		       "the client's timeline does not end as %s: %s", want,
		       o ? json_dumps(o, JSON_COMPACT) : "(none)");
		printf("#   FIN_WAIT2 timed out %s\n", tw ? "in a timewait socket" :
		       "in the full socket (keepalive timer, reset)");
	}
	json_decref(o);
	scenario_send(&s, "go\n");
	scenario_send(&s, "go\n");
	scenario_finish(&s);
out:
	tracer_free(&t);
restore:
	write_sysctl(FIN_TIMEOUT, saved);
	unlink(tl);
}

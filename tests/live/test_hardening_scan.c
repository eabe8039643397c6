// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the holder scans behind the CLOSE_WAIT alerts (issue 26,
 * item 7): a process leaking one CLOSE_WAIT socket every 100 ms gets an
 * alert for each, in time and naming it as the holder, while the tracer
 * reads /proc at most about once a second (its summary counts the scans);
 * and on a host of many processes and descriptors, where one scan takes
 * most of a second, the records still come within their delivery bound. */
#include "harness.h"
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#define LEAKS 40
#define THRESHOLD_NS 1000000000LL
/* The man page: an alert comes within a second of its threshold while a
 * scan of /proc is quick; where scans take longer, up to two of them and
 * a round more (one running when it came due, then its own). */
#define ALERT_LATE_NS 1000000000LL
/* The delivery bound of a record (tcpstate-trace(8), RECORDS). */
#define DELIVERY_BOUND_NS 200000000LL
#define ROUND_NS 100000000LL

struct leak {
	int cport, fd;
	int64_t closed_ns;	/* just before the client's close() */
};

struct leak_run {
	struct scenario sc;
	int pid, port;
	struct leak l[LEAKS];
	int n;
	int64_t go_ns, end_ns;	/* the leak began; its holder was told to exit */
};

/* The emulated VM guests run the harness 3 times slower (--timeout-ms
 * 30000): bounds on time scale with it. */
static int64_t scaled(int64_t ns)
{
	return ns * (cfg.timeout_ms > 10000 ? cfg.timeout_ms / 10000 : 1);
}

/* The alert on the leaked server end with this client port, or NULL. */
static json_t *alert_of(struct tracer_run *t, int port, int cport)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && !strcmp(jstr(r, "type"), "alert") &&
		    jint(r, "sport") == port && jint(r, "dport") == cport)
			return r;
	return NULL;
}

static int alerts_on(struct tracer_run *t, int port)
{
	json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(t->records, i, r)
		n += jstr(r, "type") && !strcmp(jstr(r, "type"), "alert") && jint(r, "sport") == port;
	return n;
}

static bool all_alerted(struct tracer_run *t, void *arg)
{
	return alerts_on(t, *(int *)arg) >= LEAKS;
}

/* The leak's lines: one per socket, then "done". */
static bool read_leaks(struct leak_run *lr)
{
	json_t *j;

	while ((j = scenario_read(&lr->sc)) && jint(j, "leak") >= 0 && lr->n < LEAKS) {
		lr->l[lr->n++] = (struct leak){ (int)jint(j, "client_port"), (int)jint(j, "fd"),
						 jint(j, "closed_ns") };
		json_decref(j);
	}
	EXPECT(j && json_is_true(json_object_get(j, "done")), "the leak did not finish");
	json_decref(j);
	EXPECT(lr->n == LEAKS, "%d leaks reported, expected %d", lr->n, LEAKS);
	return lr->n == LEAKS;
}

/* Each leaked socket's alert: there, in time, naming the leaking process
 * and its descriptor as the one holder. late_ns: how late it may come. */
static void check_alerts(struct tracer_run *t, struct leak_run *lr, int64_t late_ns)
{
	int64_t worst = 0;

	for (int i = 0; i < lr->n; i++) {
		json_t *a = alert_of(t, lr->port, lr->l[i].cport);
		int64_t age, came;

		EXPECT(a, "no alert for leak %d (client port %d)", i, lr->l[i].cport);
		if (!a)
			continue;
		age = jint(a, "age_ns");
		came = record_arrival(t, a) - lr->l[i].closed_ns;
		if (came > worst)
			worst = came;
		EXPECT(age >= THRESHOLD_NS && age <= THRESHOLD_NS + late_ns,
		       "leak %d: alert at age %lld ms, expected %lld to %lld", i,
		       (long long)(age / 1000000), (long long)(THRESHOLD_NS / 1000000),
		       (long long)((THRESHOLD_NS + late_ns) / 1000000));
		EXPECT(came <= THRESHOLD_NS + late_ns,
		       "leak %d: alert read %lld ms after the peer closed, expected at most %lld", i,
		       (long long)(came / 1000000), (long long)((THRESHOLD_NS + late_ns) / 1000000));
		EXPECT(jint(a, "holders_total") == 1 &&
			       holder_in(json_object_get(a, "holders"), lr->pid, lr->l[i].fd),
		       "leak %d: holders %lld do not name pid %d fd %d alone", i,
		       (long long)jint(a, "holders_total"), lr->pid, lr->l[i].fd);
	}
	printf("# %d alerts, the latest read %lld ms after its peer closed\n", lr->n,
	       (long long)(worst / 1000000));
}

/* Every state record read while the leak ran came within the delivery
 * bound of its event. */
static void check_delivery(struct tracer_run *t, struct leak_run *lr)
{
	int64_t bound = scaled(DELIVERY_BOUND_NS), worst = -1;
	json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(t->records, i, r) {
		int64_t at = record_arrival(t, r), d = at - jint(r, "mono_ns");

		if (!jstr(r, "type") || strcmp(jstr(r, "type"), "state") || at > lr->end_ns ||
		    jint(r, "mono_ns") < lr->go_ns)
			continue;
		n++;
		if (d > worst)
			worst = d;
	}
	printf("# %d records, the latest read %lld ms after its event\n", n,
	       (long long)(worst / 1000000));
	EXPECT(n >= 3 * LEAKS, "only %d state records during the leak", n);
	EXPECT(worst <= bound, "a record was read %lld ms after its event, bound %lld ms",
	       (long long)(worst / 1000000), (long long)(bound / 1000000));
}

/* The summary's count of scans: about one a second of the run at most. */
static void check_scans(struct tracer_run *t)
{
	json_t *s = t->summary;
	int64_t scans = s ? jint(s, "holder_scans") : -1;
	int64_t secs = s ? (jint(s, "duration_ns") + 999999999) / 1000000000 : 0;

	CHECK(s, "no summary");
	printf("# %lld scans in %.1f s: %lld processes, %lld fds, %.3f s, the longest %.3f s\n",
	       (long long)scans, (double)jint(s, "duration_ns") / 1e9,
	       (long long)jint(s, "holder_scan_processes"), (long long)jint(s, "holder_scan_fds"),
	       (double)jint(s, "holder_scan_ns") / 1e9, (double)jint(s, "holder_scan_max_ns") / 1e9);
	CHECK(scans >= 0, "the summary does not count holder scans");
	EXPECT(scans >= 1 && scans <= secs + 1, "%lld scans of /proc in a run of %lld s",
	       (long long)scans, (long long)secs);
	EXPECT(jint(s, "holder_scan_processes") >= scans && jint(s, "holder_scan_fds") >= scans,
	       "the scans read %lld processes and %lld fds",
	       (long long)jint(s, "holder_scan_processes"), (long long)jint(s, "holder_scan_fds"));
}

static bool leak_start(struct leak_run *lr)
{
	const char *args[] = { "-n", "40", "-e", "100", NULL };
	json_t *j;

	memset(lr, 0, sizeof(*lr));
	if (scenario_start(&lr->sc, "cwleak", args)) {
		EXPECT(0, "cannot start cwleak");
		return false;
	}
	j = scenario_read(&lr->sc);
	if (!j || !json_is_true(json_object_get(j, "ready"))) {
		EXPECT(0, "cwleak did not get ready");
		json_decref(j);
		scenario_finish(&lr->sc);
		return false;
	}
	lr->pid = (int)jint(j, "pid");
	lr->port = (int)jint(j, "port");
	json_decref(j);
	return true;
}

/* The leak traced to its last alert, the tracer stopped; false (the
 * failure recorded) when it did not run. */
static bool leak_traced(struct leak_run *lr, struct tracer_run *t)
{
	const char *targs[] = { "-j", "--close-wait-alert", "1", NULL };
	bool ok, read;

	if (!leak_start(lr))
		return false;
	if (tracer_start(t, targs)) {
		scenario_send(&lr->sc, "go\n");
		scenario_send(&lr->sc, "go\n");
		scenario_finish(&lr->sc);
		return false;
	}
	lr->go_ns = mono_now_ns();
	scenario_send(&lr->sc, "go\n");
	ok = tracer_wait(t, all_alerted, &lr->port);
	lr->end_ns = mono_now_ns();
	read = read_leaks(lr);
	scenario_send(&lr->sc, "go\n");
	EXPECT(scenario_finish(&lr->sc), "cwleak failed");
	tracer_stop(t, SIGINT);
	EXPECT(ok, "%d alerts of %d within %d ms", alerts_on(t, lr->port), LEAKS, cfg.timeout_ms);
	return read;
}

/* One socket leaked every 100 ms for 4 s, an alert threshold of 1 s. */
void t_hardening_scan_rate(void)
{
	struct leak_run lr;
	struct tracer_run t = { 0 };

	if (leak_traced(&lr, &t)) {
		check_scans(&t);
		check_alerts(&t, &lr, scaled(ALERT_LATE_NS));
		check_delivery(&t, &lr);
	}
	tracer_free(&t);
}

/* The same beside 2,000 more processes of 50 descriptors each (500 in the
 * slower VM guests): one scan of /proc then takes most of a second here.
 * The records still come in time, and each alert within a second of its
 * threshold plus two of the longest scan and a round. */
void t_hardening_scan_stall(void)
{
	const char *hargs[] = { "-p", cfg.timeout_ms > 10000 ? "500" : "2000", "-f", "50", NULL };
	struct scenario hog;
	struct leak_run lr;
	struct tracer_run t = { 0 };
	json_t *j;

	CHECK(scenario_start(&hog, "fdhog", hargs) == 0, "cannot start fdhog");
	j = scenario_read(&hog);
	EXPECT(j && json_is_true(json_object_get(j, "ready")), "fdhog did not get ready");
	json_decref(j);
	if (!check_failed && leak_traced(&lr, &t)) {
		int64_t longest = t.summary ? jint(t.summary, "holder_scan_max_ns") : 0;

		check_scans(&t);
		check_alerts(&t, &lr, scaled(ALERT_LATE_NS) + 2 * (longest > 0 ? longest : 0) +
					      ROUND_NS);
		check_delivery(&t, &lr);
	}
	tracer_free(&t);
	scenario_send(&hog, "go\n");
	EXPECT(scenario_finish(&hog), "fdhog failed");
}

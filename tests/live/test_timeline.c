// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --timeline against real connections: what each lifecycle says, that a
 * replay of the recorded records writes the same timelines, the CSV and
 * Perfetto forms, and that write errors end the run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tests.h"

/* The file's lines, each parsed; NULL if it cannot be read. */
static json_t *read_lines(const char *path, json_t **raw)
{
	json_t *all = json_array();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		json_decref(all);
		return NULL;
	}
	if (raw)
		*raw = json_array();
	while ((n = getline(&line, &cap, f)) > 0) {
		json_t *o;

		if (line[n - 1] == '\n')
			line[--n] = 0;
		o = json_loads(line, 0, NULL);
		if (o)
			json_array_append_new(all, o);
		else
			json_array_append_new(all, json_string("(not JSON)"));
		if (raw)
			json_array_append_new(*raw, json_string(line));
	}
	free(line);
	fclose(f);
	return all;
}

/* The timeline of the connection with these local and remote ports. */
static json_t *tl_find(json_t *tl, int sport, int dport)
{
	json_t *o;
	size_t i;

	json_array_foreach(tl, i, o)
		if (jint(o, "sport") == sport && jint(o, "dport") == dport)
			return o;
	return NULL;
}

/* "SYN_SENT ESTABLISHED ..." of a timeline, and whether every stay has a
 * duration; *sum gets their total. */
static const char *tl_states(json_t *o, char *buf, size_t len, bool *all_durs, int64_t *sum)
{
	json_t *v;
	size_t i, off = 0;

	buf[0] = 0;
	*all_durs = true;
	*sum = 0;
	json_array_foreach(json_object_get(o, "states"), i, v) {
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", i ? " " : "",
					jstr(v, "state") ? jstr(v, "state") : "?");
		if (jint(v, "dur_ns") < 0)
			*all_durs = false;
		else
			*sum += jint(v, "dur_ns");
	}
	return buf;
}

/* One finished connection, seen whole: its states, durations that add up
 * from start to end, and how it went. */
/* The timeline owns up to missing records: gap or lost among its missing. */
static bool tl_says_missing(json_t *o)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(o, "missing"), i, m)
		if (strcmp(json_string_value(m), "gap") == 0 ||
		    strcmp(json_string_value(m), "lost") == 0)
			return true;
	return false;
}

static void expect_whole(struct tracer_run *t, json_t *o, const char *who, const char *role,
			 const char *states, const char *closed_by, const char *end)
{
	char got[256];
	bool durs;
	int64_t sum;

	EXPECT(o, "%s: no timeline", who);
	if (!o)
		return;
	EXPECT(jstr(o, "role") && strcmp(jstr(o, "role"), role) == 0, "%s: role %s, want %s",
	       who, jstr(o, "role"), role);
	EXPECT(jstr(o, "closed_by") && strcmp(jstr(o, "closed_by"), closed_by) == 0,
	       "%s: closed_by %s, want %s", who, jstr(o, "closed_by"), closed_by);
	EXPECT(jstr(o, "end") && strcmp(jstr(o, "end"), end) == 0, "%s: end %s, want %s", who,
	       jstr(o, "end"), end);
	tl_states(o, got, sizeof(got), &durs, &sum);
	if (tl_says_missing(o))
		return;	/* records are missing, and this timeline says so */
	EXPECT(strcmp(got, states) == 0, "%s: states '%s', want '%s'", who, got, states);
	EXPECT(json_is_true(json_object_get(o, "complete")), "%s: not complete", who);
	EXPECT(durs && sum == jint(o, "end_mono_ns") - jint(o, "start_mono_ns"),
	       "%s: stays add up to %lld ns, start to end is %lld ns", who, (long long)sum,
	       (long long)(jint(o, "end_mono_ns") - jint(o, "start_mono_ns")));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines, sorted, in one string. */
static char *sorted_lines(json_t *raw)
{
	size_t n = json_array_size(raw), len = 0, i;
	const char **v = calloc(n + 1, sizeof(*v));
	char *out;

	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(raw, i));
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	out = calloc(len + 1, 1);
	for (i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	free(v);
	return out;
}

static void tmpname(char *buf, size_t len, const char *what)
{
	int fd;

	snprintf(buf, len, "/tmp/tcpstate-%s-XXXXXX", what);
	fd = mkstemp(buf);
	if (fd >= 0)
		close(fd);
}

/* A graceful pair and an abortive close, live; then the replay. */
void t_timeline_live_replay(void)
{
	char tl[64], tl2[64], rec[64], csv[64], pf[64];
	struct tracer_run t = {};
	struct scenario_ports pp = { 0 }, lp = { 0 };
	json_t *live = NULL, *live_raw = NULL, *again = NULL, *again_raw = NULL, *o;
	char *out = NULL, *err = NULL, *a = NULL, *b = NULL;
	int st;

	tmpname(tl, sizeof(tl), "tl");
	tmpname(tl2, sizeof(tl2), "tl2");
	tmpname(rec, sizeof(rec), "rec");
	tmpname(csv, sizeof(csv), "csv");
	tmpname(pf, sizeof(pf), "pf");
	{
		const char *targs[] = { "-j", "--timeline", tl, "--record", rec, NULL };

		if (tracer_start(&t, targs))
			goto out;
	}
	{
		const char *sargs[] = { "linger", NULL };

		scenario_run_until(&t, "pair", NULL, server_end_closed, &pp);
		scenario_run_until(&t, "closepath", sargs, both_ends_closed, &lp);
	}
	tracer_stop(&t, SIGINT);
	CHECK(exited_ok(t.status), "tracer exit status %d: %s", WEXITSTATUS(t.status), t.errbuf);

	if (t.summary) {
		json_t *conns = json_object_get(t.summary, "connections");
		json_t *by_end = json_object_get(conns, "by_end"), *by_role = json_object_get(conns, "by_role");

		EXPECT(jint(by_end, "graceful") >= 3 && jint(by_end, "reset_sent") >= 1 &&
		       jint(by_end, "reset_received") >= 1 && jint(by_role, "server") >= 2 &&
		       jint(by_role, "listener") >= 2 && jint(conns, "seen") >= 6,
		       "summary connections do not count what ended: %s",
		       json_dumps(conns, JSON_COMPACT));
	}
	live = read_lines(tl, &live_raw);
	CHECK(live && json_array_size(live) > 0, "no timeline written to %s", tl);
	expect_whole(&t, tl_find(live, pp.port, pp.cport), "pair server", "server",
		     "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK", "peer", "graceful");
	o = tl_find(live, pp.port, 0);
	expect_whole(&t, o, "pair listener", "listener", "LISTEN", "local", "graceful");
	o = tl_find(live, pp.cport, pp.port);
	EXPECT(o && strcmp(jstr(o, "role"), "client") == 0 &&
	       strcmp(jstr(o, "closed_by"), "local") == 0 && jnull(o, "end") &&
	       json_is_false(json_object_get(o, "complete")),
	       "pair client: want a client closed locally, still in TIME_WAIT, incomplete");
	if (o) {
		json_t *miss = json_object_get(o, "missing"), *states = json_object_get(o, "states");
		json_t *last = json_array_get(states, json_array_size(states) - 1);

		bool open = false;
		json_t *m;
		size_t k;

		json_array_foreach(miss, k, m)
			open |= json_is_string(m) && strcmp(json_string_value(m), "open") == 0;
		EXPECT(open, "pair client: 'open' not among what is missing");
		EXPECT(last && strcmp(jstr(last, "state"), "TIME_WAIT") == 0 &&
		       jnull(last, "dur_ns"), "pair client: last state not an open TIME_WAIT");
	}
	expect_whole(&t, tl_find(live, lp.cport, lp.port), "linger client", "client",
		     "SYN_SENT ESTABLISHED", "local", "reset_sent");
	expect_whole(&t, tl_find(live, lp.port, lp.cport), "linger server", "server",
		     "SYN_RECV ESTABLISHED", "peer", "reset_received");
	o = tl_find(live, lp.cport, lp.port);
	if (o) {
		json_t *call = json_array_get(json_object_get(o, "calls"), 0);

		EXPECT(call && strcmp(jstr(call, "call"), "shutdown") != 0 &&
		       jint(call, "refs_before") == 1 && json_is_true(json_object_get(call, "final")),
		       "linger client: its close() is not in the timeline");
	}

	/* The replay writes the same timelines, line for line. */
	{
		const char *argv[] = { cfg.tracer, "--replay", rec, "--timeline", tl2, NULL };

		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "replay failed: %s", err);
	}
	again = read_lines(tl2, &again_raw);
	CHECK(again, "replay wrote no timeline");
	a = sorted_lines(live_raw);
	b = sorted_lines(again_raw);
	EXPECT(strcmp(a, b) == 0, "replayed timelines differ from the live ones:\nlive:\n%s\n"
	       "replay:\n%s", a, b);

	/* CSV: a header, then a row per state visit. */
	{
		const char *argv[] = { cfg.tracer, "--replay", rec, "--timeline", csv,
				       "--timeline-format", "csv", NULL };
		char want[128], *text = NULL, *p;
		FILE *f;
		size_t cap = 0;
		int rows = 0;

		free(out);
		free(err);
		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "csv replay failed: %s", err);
		f = fopen(csv, "r");
		CHECK(f, "no csv");
		snprintf(want, sizeof(want), ",%d,127.0.0.1,%d,server,", pp.port, pp.cport);
		EXPECT(getline(&text, &cap, f) > 0 && strncmp(text, "cookie,family,saddr,", 20) == 0,
		       "csv header: %s", text);
		while (getline(&text, &cap, f) > 0)
			if ((p = strstr(text, want)) && strstr(p, ",peer,graceful,true"))
				rows++;
		/* Fewer only when the server's own timeline says what it lacks. */
		EXPECT(rows == 4 || tl_says_missing(tl_find(live, pp.port, pp.cport)),
		       "csv: %d rows of the pair server, want 4 (the summary reports %lld skipped "
		       "runs and gaps)", rows, (long long)tracer_runs_lost(&t));
		free(text);
		fclose(f);
	}

	/* Perfetto: one JSON document, a slice per state of the server. */
	{
		const char *argv[] = { cfg.tracer, "--replay", rec, "--timeline", pf,
				       "--timeline-format", "perfetto", NULL };
		json_error_t je;
		json_t *doc, *ev;
		size_t i;
		int slices = 0;

		free(out);
		free(err);
		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "perfetto replay failed: %s", err);
		doc = json_load_file(pf, 0, &je);
		CHECK(json_is_array(doc), "perfetto file is not a JSON array: %s (line %d)", je.text,
		      je.line);
		json_array_foreach(doc, i, ev)
			if (jstr(ev, "ph") && strcmp(jstr(ev, "ph"), "X") == 0 &&
			    json_is_number(json_object_get(ev, "dur")))
				slices++;
		EXPECT(slices >= 5, "perfetto: %d slices", slices);
		json_decref(doc);
	}
out:
	free(a);
	free(b);
	free(out);
	free(err);
	json_decref(live);
	json_decref(live_raw);
	json_decref(again);
	json_decref(again_raw);
	unlink(tl);
	unlink(tl2);
	unlink(rec);
	unlink(csv);
	unlink(pf);
	tracer_free(&t);
}

/* A full disk and a closed pipe end the run with status 1 and a message. */
void t_timeline_write_errors(void)
{
	char rec[64];
	struct tracer_run t = {};
	char *out = NULL, *err = NULL;
	json_t *rep;
	int st;

	tmpname(rec, sizeof(rec), "rec");
	{
		const char *targs[] = { "-j", "--record", rec, NULL };
		struct scenario_ports pp;

		if (tracer_start(&t, targs))
			goto out;
		scenario_run_until(&t, "pair", NULL, server_end_closed, &pp);
		tracer_stop(&t, SIGINT);
		tracer_free(&t);
	}
	{
		const char *argv[] = { cfg.tracer, "--replay", rec, "--timeline", "/dev/full", NULL };

		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "/dev/full: exit status %d",
		       WEXITSTATUS(st));
		EXPECT(strstr(err, "timeline") && strstr(err, strerror(ENOSPC)),
		       "/dev/full: no message naming the timeline and the error: %s", err);
	}
	/* Standard output closed under --timeline -: a timeline that stops
	 * silently would be worse than an exit. */
	{
		const char *targs[] = { "--timeline", "-", NULL };

		memset(&t, 0, sizeof(t));
		if (tracer_start(&t, targs))
			goto out;
		tracer_close_stdout(&t);
		for (int i = 0; i < 5 && t.pid; i++) {
			rep = scenario_run("pair", NULL);
			json_decref(rep);
			if (tracer_reap(&t))
				break;
		}
		EXPECT(t.pid == 0, "tracer still running after its timeline's pipe was closed");
		if (t.pid == 0)
			EXPECT(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 1 &&
			       strstr(t.errbuf, "timeline"),
			       "closed pipe: exit status %d, stderr: %s", WEXITSTATUS(t.status),
			       t.errbuf ? t.errbuf : "");
	}
out:
	free(out);
	free(err);
	unlink(rec);
	tracer_free(&t);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the fleet metrics: --metrics served over HTTP and
 * --metrics-file, against real connections, checked against what the
 * scenario did and against the run's own summary. */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define METRICS_PAIRS 3

/* GET path from 127.0.0.1:port, HTTP/1.0: the whole response, or NULL. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[256], *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	for (;;) {
		if (len + 4097 > cap) {
			char *p = realloc(buf, cap = cap * 2 + 8192);

			if (!p)
				goto out;
			buf = p;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Sum of every sample of the family name (any labels). */
static double family_sum(const char *text, const char *name)
{
	size_t n = strlen(name);
	double sum = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == '{' || p[n] == ' '))
			sum += strtod(strchr(p, ' ') + 1, NULL);
	return sum;
}

/* promtool, where it is installed (the host's set-up installs it; the VM
 * guests have none), accepts the text. */
static void promtool_accepts(const char *text, const char *dir)
{
	char path[256], *out = NULL, *err = NULL, cmd[512];
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE *f;
	int st;

	if (access("/usr/bin/promtool", X_OK))
		return;
	snprintf(path, sizeof(path), "%s/scrape.prom", dir);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		check_fail(__FILE__, __LINE__, "cannot write %s", path);
		return;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
	st = run_capture(argv, &out, &err);
	EXPECT(exited_ok(st), "promtool check metrics refused the text: %s%s", out ? out : "",
	       err ? err : "");
	free(out);
	free(err);
}

/* Records that -q leaves out: state, close, shutdown, reset and accept. */
static int event_lines(struct tracer_run *t)
{
	static const char *const types[] = { "state", "close", "shutdown", "reset", "accept" };
	json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(t->records, i, r)
		for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			n += jstr(r, "type") && strcmp(jstr(r, "type"), types[k]) == 0;
	return n;
}

/* The served text mid-run: 200, the exposition content type, and series
 * that follow what the scenario did. */
static char *scrape_ok(int port, const char *comm)
{
	char series[256], *resp = http_get(port, "/metrics"), *body;

	if (!resp) {
		check_fail(__FILE__, __LINE__, "no answer from the metrics server on port %d", port);
		return NULL;
	}
	body = strstr(resp, "\r\n\r\n");
	EXPECT(strncmp(resp, "HTTP/1.1 200", 12) == 0 || strncmp(resp, "HTTP/1.0 200", 12) == 0,
	       "metrics answer: %.60s", resp);
	EXPECT(strstr(resp, "text/plain; version=0.0.4"), "no exposition content type");
	snprintf(series, sizeof(series),
		 "tcpstate_state_duration_seconds_count{state=\"CLOSE_WAIT\",comm=\"%s\"}", comm);
	EXPECT(body && prom_sample(body, series) == METRICS_PAIRS, "%s: %g, expected %d", series,
	       body ? prom_sample(body, series) : -1.0, METRICS_PAIRS);
	if (!body) {
		free(resp);
		return NULL;
	}
	memmove(resp, body + 4, strlen(body + 4) + 1);
	return resp;
}

/* The final file equals the summary: every counter the summary has. */
static void file_matches_summary(const char *text, json_t *sum, const char *comm)
{
	json_t *conns = json_object_get(sum, "connections");
	char series[256];

	EXPECT(prom_sample(text, "tcpstate_events_total") == jint(sum, "events"),
	       "events_total %g, summary %lld", prom_sample(text, "tcpstate_events_total"),
	       (long long)jint(sum, "events"));
	EXPECT(prom_sample(text, "tcpstate_events_lost_total") == jint(sum, "lost"), "lost differs");
	EXPECT(prom_sample(text, "tcpstate_gaps_total") == jint(sum, "gaps"), "gaps differ");
	EXPECT(family_sum(text, "tcpstate_transitions_total") == jint(sum, "transitions"),
	       "transitions_total sum %g, summary %lld",
	       family_sum(text, "tcpstate_transitions_total"), (long long)jint(sum, "transitions"));
	EXPECT(family_sum(text, "tcpstate_connections_ended_total") == jint(conns, "ended"),
	       "connections_ended_total sum %g, summary %lld",
	       family_sum(text, "tcpstate_connections_ended_total"), (long long)jint(conns, "ended"));
	EXPECT(prom_sample(text, "tcpstate_connections_ended_total{role=\"server\",end=\"graceful\"}") >=
		       METRICS_PAIRS, "fewer graceful server ends than the scenario made");
	snprintf(series, sizeof(series),
		 "tcpstate_state_duration_seconds_count{state=\"FIN_WAIT2\",comm=\"%s\"}", comm);
	EXPECT(prom_sample(text, series) == METRICS_PAIRS, "%s: %g", series, prom_sample(text, series));
	snprintf(series, sizeof(series),
		 "tcpstate_state_duration_seconds_bucket{state=\"FIN_WAIT2\",comm=\"%s\",le=\"+Inf\"}",
		 comm);
	EXPECT(prom_sample(text, series) == METRICS_PAIRS, "%s: %g", series, prom_sample(text, series));
}

/* Three pairs named apart; the metrics served mid-run count them, and the
 * file written at exit agrees with the summary. */
void t_metrics(void)
{
	char dir[] = "/tmp/tcpst-metrics-XXXXXX", file[64], listen[32], comm[16];
	const char *targs[] = { "-j", "-q", "--metrics", listen, "--metrics-file", file, NULL };
	struct tracer_run t = { 0 };
	char *text = NULL, *resp;
	int port = free_port(AF_INET);

	CHECK(mkdtemp(dir) && port > 0, "no temporary directory or free port");
	snprintf(file, sizeof(file), "%s/m.prom", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(comm, sizeof(comm), "mX%d", (int)getpid());
	if (tracer_start(&t, targs))
		goto out;
	for (int k = 0; k < METRICS_PAIRS; k++) {
		const char *sargs[] = { "-N", comm, NULL };
		json_t *rep = scenario_run("pair", sargs);

		EXPECT(rep, "pair -N %s failed", comm);
		json_decref(rep);
	}
	/* -q: no records to wait on. The metrics are rendered once a
	 * second; wait until they count every pair's FIN_WAIT2 and
	 * CLOSE_WAIT (both ends done with the close). */
	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000; mono_now_ns() < end;
	     usleep(100000)) {
		char cw[128], fw2[128];

		free(text);
		text = http_get(port, "/metrics");
		snprintf(cw, sizeof(cw), "tcpstate_state_duration_seconds_count"
			 "{state=\"CLOSE_WAIT\",comm=\"%s\"} %d\n", comm, METRICS_PAIRS);
		snprintf(fw2, sizeof(fw2), "tcpstate_state_duration_seconds_count"
			 "{state=\"FIN_WAIT2\",comm=\"%s\"} %d\n", comm, METRICS_PAIRS);
		if (text && strstr(text, cw) && strstr(text, fw2))
			break;
	}
	free(text);
	text = scrape_ok(port, comm);
	if (text)
		promtool_accepts(text, dir);
	resp = http_get(port, "/nope");
	EXPECT(resp && strstr(resp, " 404 "), "an unknown path: %.40s", resp ? resp : "no answer");
	free(resp);
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d; stderr: %s", t.status,
	       t.errbuf ? t.errbuf : "");
	EXPECT(t.summary && !event_lines(&t), "-q: %d event lines on stdout", event_lines(&t));
	free(text);
	text = read_text_file(file);
	EXPECT(text, "no metrics file %s", file);
	if (text && t.summary)
		file_matches_summary(text, t.summary, comm);
	/* check_summary() compares the summary with the records: -q has none. */
out:
	free(text);
	tracer_free(&t);
	unlink(file);
	snprintf(file, sizeof(file), "%s/scrape.prom", dir);
	unlink(file);
	rmdir(dir);
}

/* A port already taken: one line, exit 1. A bad --metrics: exit 2. */
void t_metrics_bad_input(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	char port[32], *out = NULL, *err = NULL;
	const char *bad[] = { "70000", "1.2.3:80", "[::1:80", "", NULL };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), st;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) && !listen(fd, 1) &&
	      !getsockname(fd, (struct sockaddr *)&a, &len), "cannot take a port");
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	{
		const char *argv[] = { cfg.tracer, "--metrics", port, NULL };

		st = run_capture(argv, &out, &err);
	}
	close(fd);
	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "port in use: status %d", st);
	EXPECT(err && strstr(err, "in use") && strchr(err, '\n') == strrchr(err, '\n'),
	       "port in use: stderr %s", err ? err : "");
	free(out);
	free(err);
	for (int i = 0; bad[i]; i++) {
		const char *argv[] = { cfg.tracer, "--metrics", bad[i], NULL };

		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 2, "--metrics '%s': status %d", bad[i], st);
		EXPECT(err && strstr(err, "invalid --metrics"), "--metrics '%s': stderr %s", bad[i],
		       err ? err : "");
		free(out);
		free(err);
	}
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the fleet metrics: --metrics served over HTTP and
 * --metrics-file, against real connections, checked against what the
 * scenario did and against the run's own summary. */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
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

/* The request req sent to 127.0.0.1:port: the whole response, or NULL. */
static char *http_raw(int port, const char *req)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		goto out;
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

/* GET path, HTTP/1.0. */
static char *http_get(int port, const char *path)
{
	char req[1200];

	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	return http_raw(port, req);
}

/* What the server refuses, and how (man page, --metrics). */
static void refusals(int port)
{
	static char big[9200];
	const struct {
		const char *req, *status;
	} cases[] = {
		{ "DELETE /metrics HTTP/1.0\r\n\r\n", " 501 " },
		{ "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", " 413 " },
		{ big, " 400 " },
		{ "GET /nope HTTP/1.0\r\n\r\n", " 404 " },
	};

	snprintf(big, sizeof(big), "GET /metrics HTTP/1.0\r\nX: %09000d\r\n\r\n", 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *resp = http_raw(port, cases[i].req);
		char *eol = resp ? strstr(resp, "\r\n") : NULL;

		if (eol)
			*eol = '\0';
		EXPECT(resp && strstr(resp, cases[i].status), "%.20s...: %s, expected%s",
		       cases[i].req, resp ? resp : "no answer", cases[i].status);
		free(resp);
	}
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
	EXPECT(prom_sample(text, "tcpstate_transitions_from_dump_total") == jint(sum, "from_dump"),
	       "from_dump differs");
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
	char *text = NULL;
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
	refusals(port);
	/* As the service unit stops it: SIGTERM ends the run with the summary. */
	EXPECT(exited_ok(tracer_stop(&t, SIGTERM)), "tracer exit status %d; stderr: %s", t.status,
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

/* ---- a real Prometheus server scraping the tracer ------------------------ */

#define PROM_HOLDS 2
#define PROM_HOLD_US 1500000	/* in CLOSE_WAIT: within the 1.07-4.29 s bucket */

struct prom {
	pid_t pid;
	int port;
	char dir[40];
};

/* prometheus with a config that scrapes 127.0.0.1:target every second, its
 * storage in a directory of its own; ready once /-/ready answers 200. */
static bool prom_start(struct prom *p, int target)
{
	char cfgpath[96], dbpath[96], cfgarg[128], dbarg[128], listen[64], *r = NULL;
	FILE *f;

	snprintf(p->dir, sizeof(p->dir), "/tmp/tcpst-prom-XXXXXX");
	p->port = free_port(AF_INET);
	if (!mkdtemp(p->dir) || p->port <= 0)
		return false;
	snprintf(cfgpath, sizeof(cfgpath), "%s/prometheus.yml", p->dir);
	snprintf(dbpath, sizeof(dbpath), "%s/data", p->dir);
	f = fopen(cfgpath, "w");
	if (!f)
		return false;
	fprintf(f, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
		   "scrape_configs:\n  - job_name: tcpstate\n    static_configs:\n"
		   "      - targets: ['127.0.0.1:%d']\n", target);
	if (fclose(f))
		return false;
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", cfgpath);
	snprintf(dbarg, sizeof(dbarg), "--storage.tsdb.path=%s", dbpath);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", p->port);
	p->pid = fork();
	if (p->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/bin/prometheus", "prometheus", cfgarg, dbarg, listen, (char *)NULL);
		_exit(127);
	}
	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000;
	     p->pid > 0 && mono_now_ns() < end; usleep(100000)) {
		free(r);
		r = http_get(p->port, "/-/ready");
		if (r && strncmp(r + 9, "200", 3) == 0) {
			free(r);
			return true;
		}
	}
	free(r);
	return false;
}

static void prom_stop(struct prom *p)
{
	const char *argv[] = { "/bin/rm", "-rf", p->dir, NULL };
	char *out = NULL, *err = NULL;

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	if (p->dir[0])
		run_capture(argv, &out, &err);
	free(out);
	free(err);
}

/* The query's single value from Prometheus's HTTP API, or -1. */
static double prom_query(struct prom *p, const char *query)
{
	char path[1024], *q = path, *resp, *body;
	json_t *j, *res;
	double v = -1;

	q += sprintf(q, "/api/v1/query?query=");
	for (const unsigned char *s = (const unsigned char *)query; *s && q < path + 1000; s++)
		q += isalnum(*s) || strchr("_.-", *s) ? sprintf(q, "%c", *s) : sprintf(q, "%%%02X", *s);
	resp = http_get(p->port, path);
	body = resp ? strstr(resp, "\r\n\r\n") : NULL;
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	res = json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0);
	if (json_array_size(json_object_get(json_object_get(j, "data"), "result")) == 1)
		v = strtod(json_string_value(json_array_get(json_object_get(res, "value"), 1)) ?: "-1",
			   NULL);
	json_decref(j);
	free(resp);
	return v;
}

/* Wait until query gives want (the scrape lands within a second or two). */
static double prom_wait(struct prom *p, const char *query, double want)
{
	double v = -1;

	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000;
	     mono_now_ns() < end && v != want; usleep(200000))
		v = prom_query(p, query);
	return v;
}

/* Prometheus scrapes the tracer while pairs come and go and CLOSE_WAIT
 * sockets are held 1.5 s: what it stores equals what the scenarios did. */
void t_metrics_prometheus(void)
{
	char listen[32], comm[16], q[256];
	const char *targs[] = { "-q", "--metrics", listen, NULL };
	struct tracer_run t = { 0 };
	struct prom p = { 0 };
	int port = free_port(AF_INET);
	double v;

	if (access("/usr/bin/prometheus", X_OK)) {
		test_skip("no /usr/bin/prometheus (make deps installs it on the host)");
		return;
	}
	CHECK(port > 0, "no free port");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(comm, sizeof(comm), "mP%d", (int)getpid());
	if (tracer_start(&t, targs))
		return;
	if (!prom_start(&p, port)) {
		check_fail(__FILE__, __LINE__, "prometheus did not become ready on port %d", p.port);
		goto done;
	}
	for (int k = 0; k < METRICS_PAIRS; k++) {
		const char *sargs[] = { "-N", comm, NULL };

		json_decref(scenario_run("pair", sargs));
	}
	for (int k = 0; k < PROM_HOLDS; k++) {
		const char *sargs[] = { "eof", NULL };
		struct scenario s;

		if (scenario_start(&s, "closepath", sargs))
			continue;
		json_decref(scenario_read(&s));	/* in CLOSE_WAIT now */
		usleep(PROM_HOLD_US);
		scenario_send(&s, "go\n");
		json_decref(scenario_read(&s));
		EXPECT(scenario_finish(&s), "closepath eof failed");
	}
	snprintf(q, sizeof(q), "tcpstate_state_duration_seconds_count{state=\"FIN_WAIT2\","
		 "comm=\"%s\"}", comm);
	v = prom_wait(&p, q, METRICS_PAIRS);
	EXPECT(v == METRICS_PAIRS, "%s: %g, expected %d", q, v, METRICS_PAIRS);
	snprintf(q, sizeof(q), "tcpstate_state_duration_seconds_count{state=\"CLOSE_WAIT\","
		 "comm=\"closepath\"}");
	v = prom_wait(&p, q, PROM_HOLDS);
	EXPECT(v == PROM_HOLDS, "%s: %g, expected %d", q, v, PROM_HOLDS);
	/* Each hold is 1.5 s and more: the median lies in their bucket. */
	v = prom_query(&p, "histogram_quantile(0.5, sum by (le) (tcpstate_state_duration_seconds_"
			   "bucket{state=\"CLOSE_WAIT\",comm=\"closepath\"}))");
	EXPECT(v >= 1.073741823 && v <= 4.294967295, "CLOSE_WAIT median %g s, outside the "
	       "bucket of the 1.5 s holds", v);
	snprintf(q, sizeof(q), "sum(tcpstate_connections_ended_total{role=\"server\","
		 "end=\"graceful\"})");
	v = prom_wait(&p, q, METRICS_PAIRS + PROM_HOLDS);
	EXPECT(v == METRICS_PAIRS + PROM_HOLDS, "%s: %g, expected %d (pairs and holds)", q, v,
	       METRICS_PAIRS + PROM_HOLDS);
	v = prom_query(&p, "tcpstate_events_lost_total");
	EXPECT(v == 0, "Prometheus has %g lost events", v);
done:
	prom_stop(&p);
	EXPECT(exited_ok(tracer_stop(&t, SIGTERM)), "tracer exit status %d", t.status);
	tracer_free(&t);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics server under hostile clients, and owner labels that must not
 * collide: live, against the real tracer at the file limit systemd gives a
 * service (1024). */
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRICKLERS 2000
#define TRACER_NOFILE 1024
#define TRICKLE_MS 4000
/* A scrape must be answered whole within this long, however many clients
 * trickle. */
#define SCRAPE_MS_HOST 1000
/* "Near idle": the server thread's share of one CPU while they trickle. */
#define SERVER_CPU_MAX_HOST 0.10
/* A one-CPU emulated guest (the VM matrix) runs the 2,000 clients, the
 * tracer and the kernel's loopback on one CPU about ten times slower: the
 * server did the same work there at 5-11 % and answered in 0.6-1.0 s. The
 * bounds above are the host's; a guest gets twice and two and a half
 * times them, still far from the old server's 94 % and unanswered scrapes. */
#define ONE_CPU (sysconf(_SC_NPROCESSORS_ONLN) < 2)
#define SCRAPE_MS (ONE_CPU ? 2 * SCRAPE_MS_HOST : SCRAPE_MS_HOST)
#define SERVER_CPU_MAX (ONE_CPU ? 2.5 * SERVER_CPU_MAX_HOST : SERVER_CPU_MAX_HOST)
/* stderr lines a whole run may write: the start, nothing per client. */
#define STDERR_LINES_MAX 12

static int64_t ms_now(void)
{
	return mono_now_ns() / 1000000;
}

/* A loopback connection to port, started without waiting; -1 on error. */
static int connect_nb(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for fd to be ready for ev until the absolute deadline (ms). */
static bool wait_fd(int fd, short ev, int64_t until)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left = until - ms_now();

	return left > 0 && poll(&p, 1, (int)left) == 1;
}

/* GET /metrics, answered whole within SCRAPE_MS: the body, or NULL with
 * why said in *why. *ms: how long it took. */
static char *scrape_within(int port, int64_t *ms, const char **why)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	int64_t start = ms_now(), until = start + SCRAPE_MS;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int fd = connect_nb(port);
	int err = 0;
	socklen_t el = sizeof(err);

	*why = "no socket";
	if (fd < 0 || !buf)
		goto fail;
	*why = "connect did not complete in time";
	if (!wait_fd(fd, POLLOUT, until) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err)
		goto fail;
	*why = "cannot send the request";
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		goto fail;
	*why = "no whole answer in time";
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *p = realloc(buf, cap *= 2);

			if (!p)
				goto fail;
			buf = p;
		}
		if (!wait_fd(fd, POLLIN, until))
			goto fail;
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*why = "not a 200 answer";
	if (strncmp(buf, "HTTP/1.1 200", 12) && strncmp(buf, "HTTP/1.0 200", 12))
		goto fail;
	*why = NULL;
	close(fd);
	*ms = ms_now() - start;
	return buf;
fail:
	*ms = ms_now() - start;
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* utime + stime of one thread, in clock ticks; -1 if unreadable. */
static long long thread_ticks(pid_t pid, pid_t tid)
{
	char path[64], *text, *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	text = read_text_file(path);
	p = text ? strrchr(text, ')') : NULL;
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2) {
		free(text);
		return -1;
	}
	free(text);
	return (long long)(ut + st);
}

/* The server thread: named metrics-http, or (before it had a name) the one
 * thread at nice 10. 0 if none. */
static pid_t server_thread(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	pid_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char f[400], *text, *p;
		int nice;

		if (d->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s/comm", path, d->d_name);
		text = read_text_file(f);
		if (text && strncmp(text, "metrics-http", 12) == 0) {
			found = atoi(d->d_name);
			free(text);
			break;
		}
		free(text);
		snprintf(f, sizeof(f), "%s/%s/stat", path, d->d_name);
		text = read_text_file(f);
		p = text ? strrchr(text, ')') : NULL;
		/* nice is field 19: the 16th after the state. */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
				"%*d %d", &nice) == 1 && nice == 10)
			found = atoi(d->d_name);
		free(text);
	}
	if (dir)
		closedir(dir);
	return found;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir)))
		n += d->d_name[0] != '.';
	if (dir)
		closedir(dir);
	return dir ? n : -1;
}

/* A field of /proc/PID/status in kB ("VmRSS"); -1 if none. */
static long status_kb(pid_t pid, const char *field)
{
	char path[64], *text, *p;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = read_text_file(path);
	p = text ? strstr(text, field) : NULL;
	if (p)
		v = strtol(p + strlen(field) + 1, NULL, 10);
	free(text);
	return v;
}

struct trickle {
	int fds[TRICKLERS];
	int port, next, open;
	int64_t until, next_scrape, next_step;
	int scrapes, slow_scrapes, max_fds;
	int64_t worst_ms;
	const char *why;
	pid_t tracer;
	long max_rss_kb;
	char *last;	/* the last text scraped */
};

/* Called between reads of the tracer's output (at most 100 ms apart, so
 * its stderr is drained as a journal would). Every 200 ms, a byte from the
 * next fifth of the clients (each sends one a second, never a whole
 * request); a client the server closed stays closed, as one that gave up.
 * A scrape each second. Done when time is up, or early once stderr floods
 * (a megabyte: the test has failed by then). */
static bool trickle_step(struct tracer_run *t, void *arg)
{
	struct trickle *k = arg;
	int64_t ms;
	char *body;
	int fds;
	long rss;

	/* At least 3 scrapes, however slow the host (a VM under emulation). */
	if (t->errlen > (1 << 20) || (ms_now() >= k->until && k->scrapes >= 3) ||
	    ms_now() >= k->until + 3 * TRICKLE_MS)
		return true;
	if (ms_now() < k->next_step)
		return false;
	k->next_step = ms_now() + 200;
	for (int i = 0; i < TRICKLERS / 5; i++, k->next = (k->next + 1) % TRICKLERS) {
		int fd = k->fds[k->next];

		if (fd >= 0 && send(fd, "G", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
			close(fd);
			k->fds[k->next] = -1;
			k->open--;
		}
	}
	fds = count_fds(k->tracer);
	if (fds > k->max_fds)
		k->max_fds = fds;
	rss = status_kb(k->tracer, "VmRSS:");
	if (rss > k->max_rss_kb)
		k->max_rss_kb = rss;
	if (ms_now() >= k->next_scrape) {
		const char *why;

		body = scrape_within(k->port, &ms, &why);
		k->scrapes++;
		k->slow_scrapes += !body;
		if (!body)
			k->why = why;
		if (ms > k->worst_ms)
			k->worst_ms = ms;
		free(body);
		k->next_scrape = ms_now() + 1000;
	}
	return false;
}

/* Between reads of the tracer's output: a scrape every half second, until
 * one counts clients the server closed to make room (kept in k->last). */
static bool evictions_counted(struct tracer_run *t, void *arg)
{
	struct trickle *k = arg;
	const char *why;
	int64_t ms;

	if (ms_now() < k->next_scrape)
		return false;
	k->next_scrape = ms_now() + 500;
	free(k->last);
	k->last = scrape_within(k->port, &ms, &why);
	return k->last && prom_sample(k->last, "tcpstate_metrics_http_connections_closed_total"
				      "{reason=\"evicted\"}") > 0;
}

static int lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* 2,000 clients that each send a byte a second and never a whole request,
 * at the file limit of a systemd service: a real scrape is still answered
 * within a second, the server thread stays near idle, stderr quiet, the
 * tracer's descriptors bounded, and no record is lost. */
void t_metrics_trickle(void)
{
	static struct trickle k;
	struct rlimit old, lim;
	char listen[32];
	const char *targs[] = { "-j", "--metrics", listen, NULL };
	struct tracer_run t = { 0 };
	struct scenario_ports p;
	const char *sargs[] = { NULL };
	long long ticks0, ticks1;
	int64_t ms, t0, t1;
	pid_t tid;
	char *body;
	int base_fds, started;

	memset(&k, 0, sizeof(k));
	k.port = free_port(AF_INET);
	CHECK(k.port > 0, "no free port");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", k.port);
	CHECK(!getrlimit(RLIMIT_NOFILE, &old) && old.rlim_max >= TRICKLERS + 256,
	      "the file limit (hard %llu) leaves no room for %d clients",
	      (unsigned long long)old.rlim_max, TRICKLERS);
	/* The tracer inherits systemd's default soft limit; the clients get
	 * room of their own. */
	lim = old;
	lim.rlim_cur = TRACER_NOFILE;
	CHECK(!setrlimit(RLIMIT_NOFILE, &lim), "setrlimit: %s", strerror(errno));
	started = tracer_start(&t, targs);
	lim.rlim_cur = old.rlim_max;
	setrlimit(RLIMIT_NOFILE, &lim);
	if (started)
		goto out;
	k.tracer = t.pid;
	body = scrape_within(k.port, &ms, &k.why);
	EXPECT(body, "the first scrape failed: %s", k.why);
	free(body);
	tid = server_thread(t.pid);
	EXPECT(tid > 0, "no metrics server thread found in /proc/%d/task", (int)t.pid);
	base_fds = count_fds(t.pid);
	for (int i = 0; i < TRICKLERS; i++)
		k.fds[i] = connect_nb(k.port);
	k.open = TRICKLERS;
	t0 = mono_now_ns();
	ticks0 = tid > 0 ? thread_ticks(t.pid, tid) : -1;
	k.until = ms_now() + TRICKLE_MS;
	k.next_scrape = ms_now() + 200;
	/* Real records while they trickle: none may be lost. */
	scenario_run_until(&t, "pair", sargs, pair_ended, &p);
	tracer_wait(&t, trickle_step, &k);
	ticks1 = tid > 0 ? thread_ticks(t.pid, tid) : -1;
	t1 = mono_now_ns();
	{
		double cpu = ticks0 >= 0 && ticks1 >= 0 ?
			(double)(ticks1 - ticks0) / sysconf(_SC_CLK_TCK) / ((t1 - t0) / 1e9) : -1;

		printf("# %d trickling clients, %d still connected at the end; server thread "
		       "%.1f %% of a CPU; tracer fds %d before, at most %d during; max RSS %ld kB; "
		       "%d scrapes, worst %lld ms\n", TRICKLERS, k.open, cpu * 100, base_fds,
		       k.max_fds, k.max_rss_kb, k.scrapes, (long long)k.worst_ms);
		EXPECT(cpu >= 0 && cpu <= SERVER_CPU_MAX, "server thread used %.1f %% of a CPU "
		       "(at most %.0f %%)", cpu * 100, SERVER_CPU_MAX * 100);
	}
	EXPECT(k.scrapes >= 3 && k.slow_scrapes == 0, "%d of %d scrapes not answered within "
	       "%d ms (worst %lld ms): %s", k.slow_scrapes, k.scrapes, (int)SCRAPE_MS,
	       (long long)k.worst_ms, k.why ? k.why : "");
	/* Its own connections are bounded: 64 at once, up to 8 more being
	 * closed, and a few to spare (the census's netlink sockets). */
	EXPECT(k.max_fds <= base_fds + 64 + 8 + 8, "the tracer held %d descriptors (%d before the "
	       "clients)", k.max_fds, base_fds);
	/* The text is rendered once a second while the consumer keeps up with
	 * the records we read: scrape, reading them, until it counts them. */
	EXPECT(tracer_wait(&t, evictions_counted, &k), "no count of the clients the server "
	       "closed: %s", k.last ? (strstr(k.last, "tcpstate_metrics_http") ?: k.last) : "");
	free(k.last);
	for (int i = 0; i < TRICKLERS; i++)
		if (k.fds[i] >= 0)
			close(k.fds[i]);
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d", t.status);
	EXPECT(lines(t.errbuf) <= STDERR_LINES_MAX, "%d lines on stderr (at most %d), first: %.200s",
	       lines(t.errbuf), STDERR_LINES_MAX, t.errbuf ? t.errbuf : "");
	check_summary(&t);
out:
	tracer_free(&t);
}

/* Each sample's series (name and labels) once in text; the first repeated
 * one in *dup (NULL if none). */
static bool series_unique(const char *text, char **dup)
{
	char *copy = strdup(text ? text : ""), *save = NULL, **seen = NULL;
	size_t n = 0;
	bool ok = true;

	*dup = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l && ok; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(l, ' '), **p;

		if (l[0] == '#' || !sp)
			continue;
		*sp = '\0';
		for (size_t i = 0; i < n && ok; i++)
			if (strcmp(seen[i], l) == 0) {
				*dup = strdup(l);
				ok = false;
			}
		p = realloc(seen, (n + 1) * sizeof(*seen));
		if (!p)
			break;
		seen = p;
		seen[n++] = l;
	}
	free(seen);
	free(copy);
	return ok;
}

/* The served text, its head cut off; NULL if none. */
static char *scrape_body(int port)
{
	int64_t ms;
	const char *why;
	char *resp = scrape_within(port, &ms, &why), *body = resp ? strstr(resp, "\r\n\r\n") : NULL;

	if (!body) {
		free(resp);
		return NULL;
	}
	memmove(resp, body + 4, strlen(body + 4) + 1);
	return resp;
}

/* promtool (installed on the host by make deps, absent in the VM guests)
 * checks the text. */
static void promtool_check(const char *text, const char *dir)
{
	char path[96], cmd[160], *out = NULL, *err = NULL;
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE *f;

	if (access("/usr/bin/promtool", X_OK))
		return;
	snprintf(path, sizeof(path), "%s/scrape.prom", dir);
	f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && !fclose(f), "cannot write %s", path);
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
	EXPECT(exited_ok(run_capture(argv, &out, &err)), "promtool check metrics: %s%s",
	       out ? out : "", err ? err : "");
	free(out);
	free(err);
}

/* Real processes named as the tracer's own groups ([other], [unknown]) and
 * two whose names differ only in bytes that are not UTF-8: each is a series
 * of its own, no series is there twice, and promtool accepts the text. */
void t_metrics_owner_names(void)
{
	static const char *const names[] = { "[other]", "[unknown]", "q\xfe", "q\xff" };
	/* Their comm label values as served. */
	static const char *const labels[] = { "\\\\[other]", "\\\\[unknown]", "q\\\\xfe",
					      "q\\\\xff" };
	enum { N = sizeof(names) / sizeof(names[0]) };
	char listen[32], series[160], *text = NULL, *dup = NULL, dir[] = "/tmp/tcpst-names-XXXXXX";
	const char *targs[] = { "-q", "--metrics", listen, NULL };
	struct tracer_run t = { 0 };
	int port = free_port(AF_INET), found = 0;

	CHECK(port > 0 && mkdtemp(dir), "no free port or temporary directory");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	if (tracer_start(&t, targs))
		goto out;
	for (int i = 0; i < N; i++) {
		const char *sargs[] = { "-N", names[i], NULL };

		json_decref(scenario_run("pair", sargs));
	}
	/* Rendered once a second: wait for every pair's CLOSE_WAIT. */
	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000;
	     found < N && mono_now_ns() < end; usleep(200000)) {
		free(text);
		text = scrape_body(port);
		found = 0;
		for (int i = 0; text && i < N; i++) {
			snprintf(series, sizeof(series), "tcpstate_state_duration_seconds_count"
				 "{state=\"CLOSE_WAIT\",comm=\"%s\"}", labels[i]);
			found += prom_sample(text, series) == 1;
		}
	}
	EXPECT(found == N, "%d of %d owners have a series of their own: %.3000s", found, N,
	       text ? text : "(no answer)");
	EXPECT(text && series_unique(text, &dup), "a series twice: %s", dup ? dup : "");
	if (text)
		promtool_check(text, dir);
	EXPECT(exited_ok(tracer_stop(&t, SIGTERM)), "tracer exit status %d", t.status);
out:
	free(dup);
	free(text);
	tracer_free(&t);
	snprintf(series, sizeof(series), "%s/scrape.prom", dir);
	unlink(series);
	rmdir(dir);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics server: the request parser's verdicts, and the server itself
 * on a real loopback socket in this process, at its connection bound and
 * out of file descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_request.h"
#include "metrics_export.h"

static void verdict(const char *req, int status, bool keep, bool head)
{
	struct http_request r;
	size_t n = http_request__parse(req, strlen(req), &r);

	if (n != strlen(req) || r.status != status || r.keep_alive != keep || r.head != head)
		fail_msg("%s: took %zu of %zu, status %d keep %d head %d; expected %d %d %d", req,
			 n, strlen(req), r.status, r.keep_alive, r.head, status, keep, head);
}

static void parser_verdicts(void **state)
{
	static char big[HTTP_HEAD_MAX + 100];
	struct http_request r;

	verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, true, false);
	verdict("GET /metrics HTTP/1.0\r\n\r\n", 200, false, false);
	verdict("GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 200, true, false);
	verdict("GET /metrics HTTP/1.1\r\nConnection: foo, close\r\n\r\n", 200, false, false);
	verdict("HEAD /metrics?x=1 HTTP/1.1\n\n", 200, true, true);
	verdict("\r\nGET /metrics HTTP/1.1\r\n\r\n", 200, true, false);
	verdict("GET /metricsx HTTP/1.1\r\n\r\n", 404, false, false);
	verdict("GET / HTTP/1.1\r\n\r\n", 404, false, false);
	verdict("DELETE /metrics HTTP/1.0\r\n\r\n", 501, false, false);
	verdict("get /metrics HTTP/1.0\r\n\r\n", 400, false, false);
	verdict("POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n", 413, false, false);
	verdict("GET /metrics HTTP/1.1\r\nContent-Length: 00\r\n\r\n", 200, true, false);
	verdict("GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, false, false);
	verdict("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 413, false, false);
	verdict("GET /metrics HTTP/2.0\r\n\r\n", 505, false, false);
	verdict("GET /metrics HTTP/1.1\r\n folded\r\n\r\n", 400, false, false);
	verdict("GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n", 400, false, false);
	verdict("GET  /metrics HTTP/1.1\r\n\r\n", 400, false, false);
	verdict("GET /metrics\r\n\r\n", 400, false, false);
	/* Not whole yet: nothing taken. */
	assert_int_equal(http_request__parse("GET /metrics HTTP/1.1\r\n", 23, &r), 0);
	/* A head that does not end within the bound: refused, all taken. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_int_equal(http_request__parse(big, HTTP_HEAD_MAX, &r), HTTP_HEAD_MAX);
	assert_int_equal(r.status, 400);
	/* A second request after the first is left for later. */
	assert_int_equal(http_request__parse("GET /metrics HTTP/1.1\r\n\r\nGET /", 31, &r), 25);
}

/* ---- the server, live in this process ------------------------------------ */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int connect_to(int port, bool block)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (block ? 0 : SOCK_NONBLOCK), 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* GET /metrics: the whole answer, or NULL. */
static char *get(int port)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct timeval tv = { .tv_sec = 5 };
	char *buf = calloc(1, 1 << 16);
	size_t len = 0;
	ssize_t n;
	int fd = connect_to(port, true);

	if (fd < 0 || !buf) {
		free(buf);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
		while (len < (1 << 16) - 1 && (n = read(fd, buf + len, (1 << 16) - 1 - len)) > 0)
			len += (size_t)n;
	close(fd);
	return buf;
}

static struct metrics_export *serve(int *port)
{
	struct metrics_export *x;
	struct metrics_listen l;
	const char *why;
	char arg[16], err[256];

	*port = free_port();
	snprintf(arg, sizeof(arg), "%d", *port);
	assert_int_equal(metrics_listen__parse(arg, &l, &why), 0);
	assert_int_equal(metrics_export__new(&x, &l, NULL, err, sizeof(err)), 0);
	assert_int_equal(metrics_export__publish(x, "up 1\n", 5, false), 0);
	return x;
}

/* The server thread's /proc stat file, opened (reads must work at the
 * file limit too); -1 if not found. */
static int server_stat(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int fd = -1;

	while (dir && fd < 0 && (d = readdir(dir))) {
		char path[300], buf[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && strncmp(buf, "metrics-http", 12) == 0) {
			snprintf(path, sizeof(path), "/proc/self/task/%s/stat", d->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return fd;
}

/* utime + stime in clock ticks; -1 if unreadable. */
static long long ticks(int stat_fd)
{
	char buf[512], *p;
	unsigned long long ut, st;
	ssize_t n = pread(stat_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };

	nanosleep(&ts, NULL);
}

/* Past HTTP_CONNS_MAX connections that send nothing, a scrape still gets
 * its answer: the oldest silent one makes room, and is counted. */
static void bound_evicts_silent(void **state)
{
	int port, fds[HTTP_CONNS_MAX + 20];
	struct metrics_export *x = serve(&port);
	struct metrics_http_stats s;
	char *body;

	for (int i = 0; i < HTTP_CONNS_MAX + 20; i++)
		assert_true((fds[i] = connect_to(port, true)) >= 0);
	sleep_ms(200);
	body = get(port);
	assert_non_null(body);
	assert_non_null(strstr(body, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(body, "\r\n\r\nup 1\n"));
	free(body);
	assert_true(metrics_export__http_stats(x, &s));
	assert_true(s.evicted >= 21);
	assert_int_equal(s.refused, 0);
	for (int i = 0; i < HTTP_CONNS_MAX + 20; i++)
		close(fds[i]);
	metrics_export__free(x);
}

/* Out of descriptors, the server pauses (said once on stderr, counted),
 * takes no CPU, and serves again once descriptors are free. */
static void nofile_pauses(void **state)
{
	enum { CLIENTS = 40 };
	int port, fds[CLIENTS], err_pipe[2], saved_err, open_now = 0, stat_fd;
	struct metrics_export *x = serve(&port);
	struct metrics_http_stats s;
	struct rlimit old, lim;
	long long t0, t1;
	char errtext[4096] = "", *body;
	ssize_t n;
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;

	stat_fd = server_stat();
	assert_true(stat_fd >= 0);
	while (dir && (d = readdir(dir)))
		open_now += d->d_name[0] != '.';
	closedir(dir);
	assert_int_equal(pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	saved_err = dup(2);
	dup2(err_pipe[1], 2);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)open_now + CLIENTS + 8;	/* the clients and a few accepted */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	for (int i = 0; i < CLIENTS; i++)
		fds[i] = connect_to(port, false);
	sleep_ms(300);
	t0 = ticks(stat_fd);
	sleep_ms(1000);
	t1 = ticks(stat_fd);
	assert_true(metrics_export__http_stats(x, &s));
	for (int i = 0; i < CLIENTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	body = get(port);
	dup2(saved_err, 2);
	close(saved_err);
	n = read(err_pipe[0], errtext, sizeof(errtext) - 1);
	errtext[n > 0 ? n : 0] = '\0';
	close(err_pipe[0]);
	close(err_pipe[1]);
	print_message("server thread: %lld ticks in 1 s at the limit; %" PRIu64 " pauses\n",
		      t1 - t0, s.accept_pauses);
	assert_true(s.accept_pauses >= 1);
	assert_true(t0 >= 0 && t1 - t0 <= 5);	/* at most 5 % of a CPU */
	assert_non_null(strstr(errtext, "cannot accept connections"));
	assert_ptr_equal(strchr(errtext, '\n'), strrchr(errtext, '\n'));	/* one line */
	assert_non_null(body);
	assert_non_null(strstr(body, "HTTP/1.1 200 OK"));
	free(body);
	close(stat_fd);
	metrics_export__free(x);
}

/* The process's resident memory, kB. */
static long rss_kb(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	long kb = -1;

	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* As many clients as there are places ask for a large text and never read
 * it: the answers share the one copy published, none is copied per
 * request; one more client is closed at once, counted as refused. */
static void answers_share_the_text(void **state)
{
	enum { CLIENTS = HTTP_CONNS_MAX, TEXT = 4 << 20 };
	struct metrics_http_stats s;
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
	int port, fds[CLIENTS];
	struct metrics_export *x = serve(&port);
	char *text = malloc(TEXT);
	long before, after;

	assert_non_null(text);
	memset(text, 'x', TEXT);
	text[TEXT - 1] = '\n';
	assert_int_equal(metrics_export__publish(x, text, TEXT, false), 0);
	free(text);
	before = rss_kb();
	for (int i = 0; i < CLIENTS; i++) {
		int small = 4096;

		fds[i] = connect_to(port, true);
		assert_true(fds[i] >= 0);
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		assert_int_equal(write(fds[i], req, sizeof(req) - 1), sizeof(req) - 1);
	}
	/* Every one answered (its first bytes here), none read. */
	for (int i = 0; i < CLIENTS; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	sleep_ms(200);
	after = rss_kb();
	print_message("%d unread answers of a %d MiB text: RSS %ld kB more\n", CLIENTS,
		      TEXT >> 20, after - before);
	assert_true(after - before < 3 * (TEXT >> 10));
	{
		int extra = connect_to(port, true);
		struct pollfd p = { .fd = extra, .events = POLLIN };
		char c;

		assert_true(extra >= 0);
		assert_int_equal(poll(&p, 1, 2000), 1);
		assert_true(read(extra, &c, 1) <= 0);	/* closed, nothing said */
		close(extra);
	}
	assert_true(metrics_export__http_stats(x, &s));
	assert_int_equal(s.refused, 1);
	assert_int_equal(s.evicted, 0);
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);
	metrics_export__free(x);
}

/* A client that sends a byte of its request every half second is closed
 * at the deadline, HTTP_DEADLINE_S after it connected: a byte does not
 * buy it more time. */
static void trickle_meets_deadline(void **state)
{
	int port, fd;
	struct metrics_export *x = serve(&port);
	struct metrics_http_stats s;
	struct timespec t0, t1;
	bool closed = false;
	double secs;

	fd = connect_to(port, true);
	assert_true(fd >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2 * (HTTP_DEADLINE_S + 5) && !closed; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (send(fd, "G", 1, MSG_NOSIGNAL) != 1 ||
		    (poll(&p, 1, 500) == 1 && read(fd, &c, 1) <= 0))
			closed = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("the trickling client was %s after %.1f s\n", closed ? "closed" : "open",
		      secs);
	assert_true(closed);
	assert_true(secs >= HTTP_DEADLINE_S - 0.5 && secs <= HTTP_DEADLINE_S + 1.5);
	assert_true(metrics_export__http_stats(x, &s));
	assert_int_equal(s.deadline, 1);
	assert_int_equal(s.idle, 0);
	close(fd);
	metrics_export__free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parser_verdicts),
		cmocka_unit_test(bound_evicts_silent),
		cmocka_unit_test(nofile_pauses),
		cmocka_unit_test(answers_share_the_text),
		cmocka_unit_test(trickle_meets_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

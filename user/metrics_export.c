// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics_export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cli.h"
#include "outfile.h"
#include "privs.h"

/* A client that sends half a request is dropped after this long. */
#define HTTP_TIMEOUT_S 10
#define HTTP_MAX_HEADERS 8192
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A scrape takes a text this fresh as it is; an older one is rendered anew
 * by the consumer at its next round (within 100 ms), waited for this long
 * at most: so no scrape means no rendering, and scrapers in a loop get one
 * render a second. */
#define FRESH_NS 1000000000LL
#define RENDER_WAIT_NS 500000000LL

struct metrics_export {
	const char *file;
	struct outfile_atomic out;	/* file's directory, held from the start */
	bool file_failed;	/* said once */
	pthread_mutex_t lock;	/* text, len, published_ns, gen, wanted */
	pthread_cond_t fresh;	/* a new text was published */
	char *text;
	size_t len, cap;
	int64_t published_ns;	/* CLOCK_MONOTONIC */
	uint64_t gen;		/* texts published */
	bool wanted;		/* a scrape waits for a new text */
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int stop_pipe[2];
	pthread_t thread;
	bool running;
};

int metrics_listen__parse(const char *s, struct metrics_listen *l, const char **why)
{
	const char *colon = strrchr(s, ':'), *port = colon ? colon + 1 : s;
	char host[64];
	uint32_t p;

	memset(l, 0, sizeof(*l));
	*why = "expected PORT, ADDR:PORT or [ADDR6]:PORT";
	if (cli__parse_u32(port, 1, 65535, &p))
		return -1;
	l->port = (uint16_t)p;
	l->family = AF_INET;
	if (!colon)
		return inet_pton(AF_INET, "127.0.0.1", l->addr) == 1 ? 0 : -1;
	if ((size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		l->family = AF_INET6;
		return inet_pton(AF_INET6, host + 1, l->addr) == 1 ? 0 : -1;
	}
	return inet_pton(AF_INET, host, l->addr) == 1 ? 0 : -1;
}

/* ---- the server thread ----------------------------------------------------- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Under the lock: a text no older than FRESH_NS, asked of the consumer
 * and waited for if need be; the last one if it does not come in time. */
static void await_fresh(struct metrics_export *x)
{
	int64_t now = mono_ns(), until = now + RENDER_WAIT_NS;
	uint64_t gen = x->gen;
	struct timespec ts;

	if (x->gen && now - x->published_ns <= FRESH_NS)
		return;
	x->wanted = true;
	clock_gettime(CLOCK_REALTIME, &ts);	/* pthread_cond_timedwait's clock */
	ts.tv_sec += (ts.tv_nsec + RENDER_WAIT_NS) / 1000000000LL;
	ts.tv_nsec = (ts.tv_nsec + RENDER_WAIT_NS) % 1000000000LL;
	while (x->gen == gen && mono_ns() < until)
		if (pthread_cond_timedwait(&x->fresh, &x->lock, &ts))
			break;
}

static void serve_metrics(struct metrics_export *x, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	pthread_mutex_lock(&x->lock);
	await_fresh(x);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET)
		evbuffer_add(body, x->text, x->len);
	pthread_mutex_unlock(&x->lock);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (path && strcmp(path, "/metrics") == 0)
		serve_metrics(arg, req);
	else
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Scrapers in a loop must not take the consumer's CPU on a busy host: the
 * server thread yields to it (and to the traced workload) first. */
#define SERVER_NICE 10

static void *server_main(void *arg)
{
	struct metrics_export *x = arg;
	char err[128];

	/* Before any request: the server parses what any local user sends,
	 * and needs no capability for it. */
	if (privs__limit(0, 0, err, sizeof(err)))
		fprintf(stderr, "tcpstate-trace: metrics server: %s\n", err);
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SERVER_NICE);
	event_base_dispatch(x->base);
	return NULL;
}

/* The listening socket, made here so that the error can say what failed. */
static int listen_on(const struct metrics_listen *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char a[INET6_ADDRSTRLEN] = "?";
	int fd, one = 1, e;

	if (l->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(l->port);
		memcpy(&s6->sin6_addr, l->addr, 16);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(l->port);
		memcpy(&s4->sin_addr, l->addr, 4);
		len = sizeof(*s4);
	}
	inet_ntop(l->family, l->addr, a, sizeof(a));
	fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		e = -errno;
		snprintf(err, errlen, "cannot serve metrics on %s%s%s:%u: %s%s",
			 l->family == AF_INET6 ? "[" : "", a, l->family == AF_INET6 ? "]" : "",
			 l->port, strerror(-e), e == -EADDRINUSE ? " (another process listens "
			 "there; choose another --metrics port)" : "");
		if (fd >= 0)
			close(fd);
		return e;
	}
	return fd;
}

static int server_start(struct metrics_export *x, const struct metrics_listen *l, char *err,
			size_t errlen)
{
	int fd = listen_on(l, err, errlen);

	if (fd < 0)
		return fd;
	x->base = event_base_new();
	x->http = x->base ? evhttp_new(x->base) : NULL;
	if (!x->http || pipe2(x->stop_pipe, O_CLOEXEC) ||
	    !(x->stop_ev = event_new(x->base, x->stop_pipe[0], EV_READ, on_stop, x->base)) ||
	    event_add(x->stop_ev, NULL) || !evhttp_accept_socket_with_handle(x->http, fd)) {
		snprintf(err, errlen, "cannot set up the metrics server: %s", strerror(errno));
		close(fd);
		return -ENOMEM;
	}
	evhttp_set_timeout(x->http, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(x->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(x->http, 0);
	evhttp_set_allowed_methods(x->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(x->http, on_request, x);
	/* Signals (SIGINT, SIGTERM) go to the consumer's thread: the server's
	 * starts with all of them blocked. */
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&x->thread, NULL, server_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		snprintf(err, errlen, "cannot start the metrics server: %s", strerror(e));
		return -e;
	}
	x->running = true;
	return 0;
}

int metrics_export__new(struct metrics_export **out, const struct metrics_listen *listen,
			const char *file, char *err, size_t errlen)
{
	struct metrics_export *x = calloc(1, sizeof(*x));
	int e;

	*out = NULL;
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	x->stop_pipe[0] = x->stop_pipe[1] = -1;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->fresh, NULL);
	x->out.dirfd = -1;
	x->file = file;
	if (file && (e = outfile__atomic_open(&x->out, file, OUTFILE_MODE_SHARED, err, errlen))) {
		metrics_export__free(x);
		return e;
	}
	if (listen && (e = server_start(x, listen, err, errlen))) {
		metrics_export__free(x);
		return e;
	}
	*out = x;
	return 0;
}

/* ---- publishing ------------------------------------------------------------ */

static int keep_text(struct metrics_export *x, const char *text, size_t len)
{
	int e = 0;

	pthread_mutex_lock(&x->lock);
	if (len > x->cap) {
		char *p = realloc(x->text, len);

		if (p) {
			x->text = p;
			x->cap = len;
		} else {
			e = -ENOMEM;
		}
	}
	if (!e) {
		memcpy(x->text, text, len);
		x->len = len;
		x->published_ns = mono_ns();
		x->gen++;
		x->wanted = false;
		pthread_cond_broadcast(&x->fresh);
	}
	pthread_mutex_unlock(&x->lock);
	return e;
}

bool metrics_export__wanted(struct metrics_export *x)
{
	bool w;

	if (!x->running)
		return false;
	pthread_mutex_lock(&x->lock);
	w = x->wanted;
	pthread_mutex_unlock(&x->lock);
	return w;
}

int metrics_export__publish(struct metrics_export *x, const char *text, size_t len,
			    bool file_due)
{
	int e = x->running ? keep_text(x, text, len) : 0;

	if (!x->file || !file_due)
		return e;
	/* Written whole, then renamed over PATH: a reader sees the old text
	 * or the new, never part of one. */
	e = outfile__atomic_write(&x->out, text, len);
	if (e && !x->file_failed)
		fprintf(stderr, "tcpstate-trace: cannot write the metrics to %s: %s\n", x->file,
			strerror(-e));
	x->file_failed = e != 0;
	return e;
}

void metrics_export__free(struct metrics_export *x)
{
	if (!x)
		return;
	if (x->running) {
		char c = 1;

		if (write(x->stop_pipe[1], &c, 1) == 1)
			pthread_join(x->thread, NULL);
	}
	if (x->http)
		evhttp_free(x->http);
	if (x->stop_ev)
		event_free(x->stop_ev);
	if (x->base)
		event_base_free(x->base);
	for (int i = 0; i < 2; i++)
		if (x->stop_pipe[i] >= 0)
			close(x->stop_pipe[i]);
	outfile__atomic_close(&x->out);
	pthread_cond_destroy(&x->fresh);
	pthread_mutex_destroy(&x->lock);
	free(x->text);
	free(x);
}

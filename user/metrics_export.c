// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics_export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cli.h"
#include "http_request.h"
#include "outfile.h"
#include "privs.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A scrape takes a text this fresh as it is; an older one is rendered anew
 * by the consumer at its next round (within 100 ms), waited for this long
 * at most: so no scrape means no rendering, and scrapers in a loop get one
 * render a second. */
#define FRESH_NS 1000000000LL
#define RENDER_WAIT_NS 500000000LL
/* Connections taken per wake-up: a burst cannot push out, before they
 * could send a byte, the connections taken just before it. A connection
 * closed is let go at the end of the wake-up (libevent finalizes it then),
 * so the server holds at most HTTP_CONNS_MAX + ACCEPT_BATCH descriptors
 * for a moment. */
#define ACCEPT_BATCH 8
/* Connections the kernel holds for accept(): a burst of clients waits
 * there rather than having its SYNs dropped (a dropped SYN is retried
 * after a second, too late for a scrape). Within net.core.somaxconn. */
#define LISTEN_BACKLOG 1024
/* The kernel's send buffer of a connection (it doubles it): a client that
 * does not read holds this much kernel memory at most, not the 4 MiB that
 * autotuning allows; plenty for a fast answer on loopback or a LAN. */
#define CONN_SNDBUF (128 * 1024)
/* Accepting pauses this long when descriptors run out, doubling up to
 * the most while they stay out. */
#define ACCEPT_PAUSE_MIN_MS 10
#define ACCEPT_PAUSE_MAX_MS 1000
/* After the last answer, the rest of what the client sent is read and
 * dropped this long at most, so that closing does not reset the answer. */
#define LINGER_MS 1000

/* One published text, shared by every answer that refers to it. */
struct shared_text {
	atomic_int refs;
	size_t len;
	char data[];
};

struct http_conn;

struct metrics_export {
	const char *file;
	struct outfile_atomic out;	/* file's directory, held from the start */
	bool file_failed;	/* said once */
	pthread_mutex_t lock;	/* text, published_ns, gen, wanted */
	pthread_cond_t fresh;	/* a new text was published */
	struct shared_text *text;
	int64_t published_ns;	/* CLOCK_MONOTONIC */
	uint64_t gen;		/* texts published */
	bool wanted;		/* a scrape waits for a new text */
	struct event_base *base;
	int listen_fd;
	struct event *accept_ev, *resume_ev, *stop_ev;
	int pause_ms;		/* the next pause when descriptors run out */
	bool said_nofile;
	struct http_conn *conns[HTTP_CONNS_MAX];
	/* Written by the server thread, read by the consumer. */
	atomic_uint_fast64_t evicted, refused, deadline, idle, accept_pauses, requests;
	int stop_pipe[2];
	pthread_t thread;
	bool running;
};

static void text_put(struct shared_text *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}

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

/* The text to answer with, one more reference taken; NULL if none yet. */
static struct shared_text *text_get(struct metrics_export *x)
{
	struct shared_text *t;

	pthread_mutex_lock(&x->lock);
	await_fresh(x);
	t = x->text;
	if (t)
		atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&x->lock);
	return t;
}

static void text_unref(const void *data, size_t len, void *t)
{
	text_put(t);
}

enum conn_phase {
	CONN_READING,		/* waiting for a whole request */
	CONN_ANSWERING,		/* its answer being written */
	CONN_LINGERING,		/* answered for the last time, closing */
};

struct http_conn {
	struct metrics_export *x;
	struct bufferevent *bev;
	struct event *timer;	/* the request's deadline; the linger's end */
	int64_t started_ns;	/* the request's start */
	enum conn_phase phase;
	bool keep_alive;
	int slot;
};

static void conn_close(struct http_conn *c, atomic_uint_fast64_t *why)
{
	if (why)
		atomic_fetch_add(why, 1);
	c->x->conns[c->slot] = NULL;
	/* Frees whatever answer was not written, and so its text reference. */
	bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
}

static void arm(struct http_conn *c, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* A request begins: its deadline runs from now. */
static void request_start(struct http_conn *c)
{
	c->phase = CONN_READING;
	c->started_ns = mono_ns();
	arm(c, HTTP_DEADLINE_S * 1000);
	bufferevent_enable(c->bev, EV_READ);
}

static void answer(struct http_conn *c, const struct http_request *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct shared_text *t = r->status == 200 ? text_get(c->x) : NULL;
	int status = r->status == 200 && !t ? 503 : r->status;
	size_t len = t ? t->len : 0;

	atomic_fetch_add(&c->x->requests, 1);
	c->phase = CONN_ANSWERING;
	c->keep_alive = r->keep_alive && status == 200;
	/* Nothing more is read until the answer is out. */
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: %s\r\n\r\n", status, http_request__reason(status),
			    status == 200 ? CONTENT_TYPE : "text/plain", len,
			    c->keep_alive ? "keep-alive" : "close");
	if (t && !r->head && len &&
	    !evbuffer_add_reference(out, t->data, len, text_unref, t))
		return;	/* the reference is the buffer's now */
	text_put(t);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct http_request r;
	size_t len = evbuffer_get_length(in), took;

	if (c->phase == CONN_LINGERING) {
		evbuffer_drain(in, len);
		return;
	}
	if (c->phase != CONN_READING || !len)
		return;
	if (len > HTTP_HEAD_MAX)
		len = HTTP_HEAD_MAX;
	took = http_request__parse((const char *)evbuffer_pullup(in, (ssize_t)len), len, &r);
	if (!took)
		return;
	evbuffer_drain(in, took);
	answer(c, &r);
}

/* The answer is out: the next request, or a lingering close. */
static void on_written(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->phase != CONN_ANSWERING)
		return;
	if (c->keep_alive) {
		request_start(c);
		if (evbuffer_get_length(bufferevent_get_input(bev)))
			on_read(bev, c);	/* a request sent early */
		return;
	}
	c->phase = CONN_LINGERING;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ);
	arm(c, LINGER_MS);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	/* A client that half-closes after its request still gets the answer. */
	if ((what & BEV_EVENT_EOF) && c->phase == CONN_ANSWERING) {
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_close(c, NULL);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	atomic_uint_fast64_t *why = &c->x->deadline;

	/* Not a byte of a request: a kept-alive connection left idle (as
	 * Prometheus leaves its own between scrapes), or one that never spoke. */
	if (c->phase == CONN_READING && !evbuffer_get_length(bufferevent_get_input(c->bev)))
		why = &c->x->idle;
	conn_close(c, c->phase == CONN_LINGERING ? NULL : why);
}

/* A place for one more connection: a free one, else the one of the oldest
 * connection still waiting for its request (closed), else -1. */
static int free_slot(struct metrics_export *x)
{
	int oldest = -1;

	for (int i = 0; i < HTTP_CONNS_MAX; i++) {
		struct http_conn *c = x->conns[i];

		if (!c)
			return i;
		if (c->phase != CONN_ANSWERING &&
		    (oldest < 0 || c->started_ns < x->conns[oldest]->started_ns))
			oldest = i;
	}
	if (oldest >= 0)
		conn_close(x->conns[oldest], &x->evicted);
	return oldest;
}

static void conn_new(struct metrics_export *x, int fd)
{
	int slot = free_slot(x), sndbuf = CONN_SNDBUF;
	struct http_conn *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (slot < 0)
		atomic_fetch_add(&x->refused, 1);
	if (!c || !(c->bev = bufferevent_socket_new(x->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		close(fd);
		return;
	}
	c->timer = evtimer_new(x->base, on_timer, c);
	if (!c->timer) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	c->x = x;
	c->slot = slot;
	x->conns[slot] = c;
	bufferevent_setcb(c->bev, on_read, on_written, on_event, c);
	/* A head longer than the parser takes is never read into memory. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_HEAD_MAX + 1);
	request_start(c);
}

/* Out of descriptors: stop accepting for a while (the kernel keeps the
 * connections waiting in the backlog), said once. */
static void accept_pause(struct metrics_export *x, int err)
{
	struct timeval tv = { .tv_sec = x->pause_ms / 1000, .tv_usec = x->pause_ms % 1000 * 1000 };

	atomic_fetch_add(&x->accept_pauses, 1);
	if (!x->said_nofile)
		fprintf(stderr, "tcpstate-trace: the metrics server cannot accept connections: %s; "
			"it pauses and retries (raise the file limit, LimitNOFILE=)\n", strerror(err));
	x->said_nofile = true;
	event_del(x->accept_ev);
	evtimer_add(x->resume_ev, &tv);
	x->pause_ms = x->pause_ms * 2 > ACCEPT_PAUSE_MAX_MS ? ACCEPT_PAUSE_MAX_MS : x->pause_ms * 2;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_export *x = arg;

	event_add(x->accept_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct metrics_export *x = arg;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			x->pause_ms = ACCEPT_PAUSE_MIN_MS;
			conn_new(x, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			accept_pause(x, errno);	/* EMFILE, ENFILE, ENOBUFS, ENOMEM */
		return;
	}
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
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, LISTEN_BACKLOG)) {
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
	sigset_t all, old;
	int fd = listen_on(l, err, errlen), e;

	if (fd < 0)
		return fd;
	x->listen_fd = fd;
	x->pause_ms = ACCEPT_PAUSE_MIN_MS;
	x->base = event_base_new();
	if (!x->base || pipe2(x->stop_pipe, O_CLOEXEC) ||
	    !(x->stop_ev = event_new(x->base, x->stop_pipe[0], EV_READ, on_stop, x->base)) ||
	    !(x->accept_ev = event_new(x->base, fd, EV_READ | EV_PERSIST, on_accept, x)) ||
	    !(x->resume_ev = evtimer_new(x->base, on_resume, x)) ||
	    event_add(x->stop_ev, NULL) || event_add(x->accept_ev, NULL)) {
		snprintf(err, errlen, "cannot set up the metrics server: %s", strerror(errno));
		return -ENOMEM;
	}
	/* Signals (SIGINT, SIGTERM) go to the consumer's thread: the server's
	 * starts with all of them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&x->thread, NULL, server_main, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		snprintf(err, errlen, "cannot start the metrics server: %s", strerror(e));
		return -e;
	}
	/* Its name in /proc/PID/task/TID/comm (top -H, the tests), set before
	 * this returns. */
	pthread_setname_np(x->thread, "metrics-http");
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
	x->stop_pipe[0] = x->stop_pipe[1] = x->listen_fd = -1;
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

/* The new text, one block the answers share; the last one is let go
 * (freed once no answer refers to it). */
static int keep_text(struct metrics_export *x, const char *text, size_t len)
{
	struct shared_text *t = malloc(sizeof(*t) + len), *old;

	if (!t)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	t->len = len;
	memcpy(t->data, text, len);
	pthread_mutex_lock(&x->lock);
	old = x->text;
	x->text = t;
	x->published_ns = mono_ns();
	x->gen++;
	x->wanted = false;
	pthread_cond_broadcast(&x->fresh);
	pthread_mutex_unlock(&x->lock);
	text_put(old);
	return 0;
}

bool metrics_export__http_stats(struct metrics_export *x, struct metrics_http_stats *s)
{
	if (!x || !x->running)
		return false;
	s->evicted = atomic_load(&x->evicted);
	s->refused = atomic_load(&x->refused);
	s->deadline = atomic_load(&x->deadline);
	s->idle = atomic_load(&x->idle);
	s->accept_pauses = atomic_load(&x->accept_pauses);
	s->requests = atomic_load(&x->requests);
	return true;
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
	for (int i = 0; i < HTTP_CONNS_MAX; i++)
		if (x->conns[i])
			conn_close(x->conns[i], NULL);
	if (x->accept_ev)
		event_free(x->accept_ev);
	if (x->resume_ev)
		event_free(x->resume_ev);
	if (x->stop_ev)
		event_free(x->stop_ev);
	if (x->base)
		event_base_free(x->base);
	if (x->listen_fd >= 0)
		close(x->listen_fd);
	for (int i = 0; i < 2; i++)
		if (x->stop_pipe[i] >= 0)
			close(x->stop_pipe[i]);
	outfile__atomic_close(&x->out);
	pthread_cond_destroy(&x->fresh);
	pthread_mutex_destroy(&x->lock);
	text_put(x->text);
	free(x);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Two listeners on one port, each made by a process of its own, and
 * connections to each that wait to be accepted.
 *
 * usage: listeners addr       server 0 listens on 0.0.0.0:P, then server 1
 *                             on [::1]:P; 3 clients to each
 *        listeners reuseport  servers 0 and 1 on 127.0.0.1:P, SO_REUSEPORT;
 *                             24 clients, which the kernel spreads
 *        listeners many N     one process opens N listeners (a SO_REUSEPORT
 *                             group on one port), prints a first line, and
 *                             closes them all when a line comes on stdin;
 *                             then one listener and one client
 * addr and reuseport: once every client's connection is queued, each server
 * accepts its own and names their peers; then one server closes its
 * listener (server 1 in addr, server 0 in reuseport), and 3 more clients
 * connect to the one left, which accepts them. One JSON report line: the
 * port, and each server's pid and the peers ([family, port]) it accepted. */
#include "scenario.h"

#include <poll.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_PEERS 64

struct peer {
	uint16_t family;	/* 4 or 6 */
	uint16_t port;
};

struct server {
	pid_t pid;
	struct chan cmd, reply;
	struct peer peers[MAX_PEERS];
	int npeers;
	bool closed;
};

static int listener(int family, const char *addr, uint16_t port, bool reuseport)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("socket");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		die("SO_REUSEPORT");
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			die("address %s", addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			die("address %s", addr);
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind %s port %u", addr, port);
	if (listen(fd, 128))
		die("listen");
	return fd;
}

/* Accept what is queued now; the peers go back on reply. */
static void server_accept(int lfd, struct chan *reply)
{
	struct peer got[MAX_PEERS];
	uint32_t n = 0;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);

		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (fd < 0)
			die("accept");
		if (n == MAX_PEERS)
			die("more than %d connections", MAX_PEERS);
		/* Kept open: the server holds what it accepted until it exits. */
		got[n].family = ss.ss_family == AF_INET6 ? 6 : 4;
		got[n++].port = ss.ss_family == AF_INET6 ?
				ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
				ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	chan_send(reply, &n, sizeof(n));
	if (n)
		chan_send(reply, got, n * sizeof(got[0]));
}

/* A server process: makes its listener, says its port, then obeys. */
static void server_start(struct server *s, int family, const char *addr, uint16_t port,
			 bool reuseport, uint16_t *bound)
{
	chan_open(&s->cmd);
	chan_open(&s->reply);
	s->pid = fork();
	if (s->pid < 0)
		die("fork");
	if (s->pid == 0) {
		int lfd = listener(family, addr, port, reuseport);
		uint16_t p = local_port(lfd);
		char c;

		chan_send(&s->reply, &p, sizeof(p));
		for (;;) {
			chan_recv(&s->cmd, &c, 1);
			if (c == 'a')
				server_accept(lfd, &s->reply);
			else if (c == 'c') {
				close(lfd);
				chan_send(&s->reply, "k", 1);
			} else
				_exit(0);
		}
	}
	chan_recv(&s->reply, bound, sizeof(*bound));
}

static int server_take(struct server *s)
{
	uint32_t n;

	chan_send(&s->cmd, "a", 1);
	chan_recv(&s->reply, &n, sizeof(n));
	if (n > MAX_PEERS || s->npeers + (int)n > MAX_PEERS)
		die("too many peers");
	if (n)
		chan_recv(&s->reply, &s->peers[s->npeers], n * sizeof(s->peers[0]));
	s->npeers += (int)n;
	return (int)n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The servers accept until they have want connections between them: a
 * connection reaches a queue once the server end has the client's ACK. */
static void accept_all(struct server *sv, int nsv, int want)
{
	int64_t deadline = now_ms() + 10000;
	int got = 0;

	while (got < want) {
		for (int i = 0; i < nsv; i++)
			if (!sv[i].closed)
				got += server_take(&sv[i]);
		if (got >= want)
			break;
		if (now_ms() > deadline)
			die("accepted %d of %d connections", got, want);
		poll(NULL, 0, 10);
	}
}

static void connect_n(int *fds, int *n, int family, uint16_t port, int count)
{
	for (int i = 0; i < count; i++)
		fds[(*n)++] = connect_to(family, port);
}

static void report(const char *mode, uint16_t port, struct server *sv, int nsv)
{
	printf("{\"mode\":\"%s\",\"port\":%u,\"servers\":[", mode, port);
	for (int i = 0; i < nsv; i++) {
		printf("%s{\"pid\":%d,\"closed\":%s,\"peers\":[", i ? "," : "", sv[i].pid,
		       sv[i].closed ? "true" : "false");
		for (int k = 0; k < sv[i].npeers; k++)
			printf("%s[%u,%u]", k ? "," : "", sv[i].peers[k].family,
			       sv[i].peers[k].port);
		printf("]}");
	}
	printf("]}\n");
	fflush(stdout);
}

static void mode_pair(bool reuseport)
{
	struct server sv[2] = {};
	int clients[MAX_PEERS], nc = 0;
	int closing = reuseport ? 0 : 1, phase1;
	uint16_t port, p1;

	if (reuseport) {
		server_start(&sv[0], AF_INET, "127.0.0.1", 0, true, &port);
		server_start(&sv[1], AF_INET, "127.0.0.1", port, true, &p1);
		connect_n(clients, &nc, AF_INET, port, 24);
	} else {
		server_start(&sv[0], AF_INET, "0.0.0.0", 0, false, &port);
		server_start(&sv[1], AF_INET6, "::1", port, false, &p1);
		connect_n(clients, &nc, AF_INET, port, 3);
		connect_n(clients, &nc, AF_INET6, port, 3);
	}
	if (p1 != port)
		die("second listener on port %u, not %u", p1, port);
	phase1 = nc;
	accept_all(sv, 2, phase1);
	/* One listener goes: the other keeps its own connections' owner. */
	chan_send(&sv[closing].cmd, "c", 1);
	chan_recv(&sv[closing].reply, &(char){ 0 }, 1);
	sv[closing].closed = true;
	connect_n(clients, &nc, AF_INET, port, 3);
	accept_all(sv, 2, nc - phase1);
	report(reuseport ? "reuseport" : "addr", port, sv, 2);
	for (int i = 0; i < 2; i++) {
		chan_send(&sv[i].cmd, "q", 1);
		if (!waitpid_ok(sv[i].pid))
			die("server %d failed", i);
	}
	for (int i = 0; i < nc; i++)
		close(clients[i]);
}

static void mode_many(int n)
{
	struct rlimit r = { (rlim_t)n + 64, (rlim_t)n + 64 };
	struct rlimit cur;
	int *fds = calloc((size_t)n, sizeof(*fds)), lfd, cfd, afd = -1;
	uint16_t port = 0, cport;

	if (!fds)
		die("calloc");
	if (getrlimit(RLIMIT_NOFILE, &cur))
		die("getrlimit");
	if (cur.rlim_cur < r.rlim_cur && setrlimit(RLIMIT_NOFILE, &r))
		die("setrlimit(RLIMIT_NOFILE, %d)", n + 64);
	for (int i = 0; i < n; i++) {
		fds[i] = listener(AF_INET, "127.0.0.1", port, true);
		port = local_port(fds[i]);
	}
	printf("{\"mode\":\"many\",\"listeners\":%d,\"port\":%u,\"pid\":%d}\n", n, port, getpid());
	fflush(stdout);
	wait_go();
	for (int i = 0; i < n; i++)
		close(fds[i]);
	/* After them all, a listener of its own still has room. */
	lfd = listener(AF_INET, "127.0.0.1", 0, false);
	cfd = connect_to(AF_INET, local_port(lfd));
	cport = local_port(cfd);
	for (int64_t deadline = now_ms() + 10000; afd < 0; poll(NULL, 0, 10)) {
		afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (afd < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			die("accept");
		if (afd < 0 && now_ms() > deadline)
			die("nothing to accept");
	}
	printf("{\"mode\":\"many\",\"after_port\":%u,\"client_port\":%u,\"pid\":%d}\n",
	       local_port(lfd), cport, getpid());
	fflush(stdout);
	close(afd);
	close(cfd);
	close(lfd);
	free(fds);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "addr") == 0)
		mode_pair(false);
	else if (argc == 2 && strcmp(argv[1], "reuseport") == 0)
		mode_pair(true);
	else if (argc == 3 && strcmp(argv[1], "many") == 0 && atoi(argv[2]) > 0)
		mode_many(atoi(argv[2]));
	else {
		fprintf(stderr, "usage: listeners addr | reuseport | many N\n");
		return 2;
	}
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections that end in TIME_WAIT, on loopback.
 *
 * usage: timewait MODE [N]
 *   active    one connection, the client closes first: its side ends in
 *             TIME_WAIT for 60 s
 *   burst N   N such connections to one server port
 *   reuse     as active, from a fixed local port; then, once the kernel
 *             allows it (tcp_tw_reuse needs the timewait socket to be a
 *             second old), a new connection from the same port to the same
 *             server takes over the 4-tuple
 *   simultaneous N
 *             N connections whose two ends shut down writing at the same
 *             moment from two threads: when each FIN arrives while the
 *             other end is inside its own shutdown(), the FINs cross and
 *             both ends pass CLOSING. Whether they crossed is for the
 *             tracer's records to say; N attempts make it all but certain
 * Prints one JSON line: the server port, the client port(s). */
#include "scenario.h"

#include <pthread.h>
#include <time.h>

/* One connection from fd (already bound or not) to port: the client closes
 * first, the server reads EOF and closes. Returns the client's port. */
static uint16_t one(int lfd, int cfd, uint16_t port)
{
	struct endpoint ep;
	uint16_t cport;
	int afd;

	loopback(&ep, AF_INET, port);
	if (connect(cfd, (struct sockaddr *)&ep.ss, ep.len))
		die("connect");
	cport = local_port(cfd);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	close(cfd);		/* active close: the client keeps TIME_WAIT */
	expect_eof(afd);
	close(afd);
	return cport;
}

#define NO_BIND 0xffffffffU

/* bind_port 0: bind() picks the port (so a later bind() may take it again). */
static int client_socket(uint32_t bind_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one_ = 1;
	struct endpoint ep;

	if (fd < 0)
		die("socket");
	/* Both sockets of a reuse need it, or bind() refuses the port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
	if (bind_port != NO_BIND) {
		loopback(&ep, AF_INET, (uint16_t)bind_port);
		if (bind(fd, (struct sockaddr *)&ep.ss, ep.len))
			die("bind %u", bind_port);
	}
	return fd;
}

struct half {
	int fd;
	pthread_barrier_t *go;
};

static void *shut_and_drain(void *arg)
{
	struct half *h = arg;

	pthread_barrier_wait(h->go);
	if (shutdown(h->fd, SHUT_WR))
		die("shutdown");
	expect_eof(h->fd);
	return NULL;
}

/* Both ends shut down at once; returns the client's port. */
static uint16_t crossed(int lfd, uint16_t port)
{
	pthread_barrier_t go;
	struct half a, b;
	pthread_t ta, tb;
	uint16_t cport;

	a.fd = connect_to(AF_INET, port);
	cport = local_port(a.fd);
	b.fd = accept(lfd, NULL, NULL);
	if (b.fd < 0)
		die("accept");
	pthread_barrier_init(&go, NULL, 2);
	a.go = b.go = &go;
	if (pthread_create(&ta, NULL, shut_and_drain, &a) ||
	    pthread_create(&tb, NULL, shut_and_drain, &b))
		die("pthread_create");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	close(a.fd);
	close(b.fd);
	return cport;
}

int main(int argc, char **argv)
{
	int lfd;
	uint16_t port;

	if (argc < 2) {
		fprintf(stderr, "usage: timewait active|burst N|reuse\n");
		return 2;
	}
	lfd = listen_on(AF_INET, 0);
	port = local_port(lfd);

	if (strcmp(argv[1], "active") == 0) {
		uint16_t cport = one(lfd, client_socket(NO_BIND), port);

		printf("{\"port\":%u,\"client_port\":%u}\n", port, cport);
	} else if (strcmp(argv[1], "burst") == 0 && argc == 3) {
		int n = atoi(argv[2]);

		for (int i = 0; i < n; i++)
			one(lfd, client_socket(NO_BIND), port);
		printf("{\"port\":%u,\"count\":%d}\n", port, n);
	} else if (strcmp(argv[1], "simultaneous") == 0 && argc == 3) {
		int n = atoi(argv[2]);

		printf("{\"port\":%u,\"client_ports\":[", port);
		for (int i = 0; i < n; i++)
			printf("%s%u", i ? "," : "", crossed(lfd, port));
		printf("]}\n");
	} else if (strcmp(argv[1], "reuse") == 0) {
		uint16_t cport = one(lfd, client_socket(0), port);
		struct timespec until;
		uint16_t again;

		/* tcp_twsk_unique() lets a connect() take the 4-tuple once the
		 * timewait socket's last timestamp is a whole second old. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 2;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
		again = one(lfd, client_socket(cport), port);
		printf("{\"port\":%u,\"client_port\":%u,\"second_client_port\":%u}\n", port, cport,
		       again);
	} else {
		fprintf(stderr, "timewait: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	close(lfd);
	return 0;
}

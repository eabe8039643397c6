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
 * Prints one JSON line: the server port, the client port(s). */
#include "scenario.h"

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

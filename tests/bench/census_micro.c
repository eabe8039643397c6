// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the reconcile's sock_diag census costs, and whom: in a network
 * namespace of its own (root), N loopback connections are made and closed
 * client first, so N TIME_WAIT sockets stay for 60 s (they need no
 * descriptor: a container's file limit does not cap them). Then the census
 * is timed: what the ring's reader once paid in full, as the dump's time
 * on its thread; and what it pays now, polling census_job until the thread
 * is done, as its longest poll. Prints the sockets, the dump's median ms and
 * ns per socket, and the reader's longest poll.
 *
 *   make build/tests/bench/census_micro
 *   sudo build/tests/bench/census_micro [N ...]     (default 10000 100000 300000) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "census_job.h"
#include "clock.h"
#include "snapshot.h"
#include "../netns.h"

#define RUNS 5
/* Connections to one address of 127/8: few enough of the range's 64,512
 * ports that connect() finds a free one at once. */
#define PER_DEST 20000

static void die(const char *what)
{
	fprintf(stderr, "census_micro: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* On every address: each 127/8 address a destination of its own. */
static int listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("listener");
	return fd;
}

/* One more TIME_WAIT socket: a connection to the listener lfd at 127.0.0.1
 * plus dest, closed by the client first. */
static void tw_one(int lfd, uint32_t dest)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s;

	if (c < 0 || getsockname(lfd, (struct sockaddr *)&a, &len))
		die("socket");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK + dest);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) ||
	    (s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		die("connect/accept");
	close(c);
	close(s);
}

static void grow_to(long n)
{
	static long made;
	static int lfd = -1;

	if (lfd < 0)
		lfd = listener();
	for (; made < n; made++)
		tw_one(lfd, (uint32_t)(made / PER_DEST));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void measure(long n)
{
	uint64_t dump[RUNS], worst_poll = 0, polls = 0;
	size_t sockets = 0;

	for (int r = 0; r < RUNS; r++) {
		struct sock_census k = { 0 };
		struct census_job j = { 0 };
		uint64_t t0 = clock__mono_now(), at;
		int err;

		if (census_job__start(&j, false, t0))
			die("census_job__start");
		for (;;) {
			uint64_t p0 = clock__mono_now();
			bool taken = census_job__take(&j, false, &k, &at, &err);
			uint64_t p = clock__mono_now() - p0;

			worst_poll = p > worst_poll ? p : worst_poll;
			polls++;
			if (taken)
				break;
			usleep(1000);	/* the reader's round, shortened */
		}
		dump[r] = clock__mono_now() - t0;
		if (err)
			die("census");
		sockets = k.nalive / 2;	/* two keys a socket */
		sock_census__free(&k);
	}
	qsort(dump, RUNS, sizeof(dump[0]), cmp_u64);
	printf("%8ld made %8zu sockets: dump %8.1f ms (%5.0f ns/socket), reader's longest poll %5.1f us over %llu polls\n",
	       n, sockets, dump[RUNS / 2] / 1e6, (double)dump[RUNS / 2] / (sockets ? sockets : 1),
	       worst_poll / 1e3, (unsigned long long)polls);
}

/* A sysctl of this namespace. */
static void set(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%s\n", v) < 0 || fclose(f))
		die(path);
}

int main(int argc, char **argv)
{
	static const long defaults[] = { 10000, 100000, 300000 };
	const char *what;
	int n = argc > 1 ? argc - 1 : 3;

	for (int i = 1; i < argc; i++) {
		long v = strtol(argv[i], NULL, 10);

		if (v <= 0 || v > 900000 || (i > 1 && v < strtol(argv[i - 1], NULL, 10))) {
			fprintf(stderr, "census_micro: N from 1 to 900000, rising, not '%s'\n", argv[i]);
			return 2;
		}
	}
	if (netns__fresh(&what))
		die(what);
	set("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535");
	set("/proc/sys/net/ipv4/tcp_max_tw_buckets", "1000000");
	/* Loopback's default (2) would let connect() take over the TIME_WAIT
	 * sockets made before. */
	set("/proc/sys/net/ipv4/tcp_tw_reuse", "0");
	for (int i = 0; i < n; i++) {
		long v = argc > 1 ? strtol(argv[i + 1], NULL, 10) : defaults[i];

		grow_to(v);
		measure(v);
	}
	return 0;
}

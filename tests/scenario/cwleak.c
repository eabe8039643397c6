// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A CLOSE_WAIT leak at a steady pace, as a server that never closes the
 * connections its clients end leaks them.
 *
 * usage: cwleak [-n COUNT] [-e MS]
 *   Listens on loopback, prints {"ready":true,"pid":P,"port":L} and waits
 *   for a line on stdin. Then every MS ms (default 100), COUNT times
 *   (default 40): a connection is made and accepted, its client closes, and
 *   the accepted descriptor is kept open for ever: one more socket in
 *   CLOSE_WAIT, held by this process. One line per leak:
 *   {"leak":I,"client_port":C,"fd":F,"closed_ns":T}, T the CLOCK_MONOTONIC
 *   time just before the client's close(). Then {"done":true,...} and it
 *   waits for another line; its exit then closes them all. */
#include "scenario.h"

#include <time.h>

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t at_ns)
{
	struct timespec ts = { .tv_sec = at_ns / 1000000000LL, .tv_nsec = at_ns % 1000000000LL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One connection whose server end stays in CLOSE_WAIT. */
static void leak_one(int lfd, uint16_t port, int i)
{
	int c = connect_to(AF_INET, port), s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	uint16_t cport = local_port(c);
	int64_t closed;

	if (s < 0)
		die("accept");
	closed = mono_ns();
	close(c);
	printf("{\"leak\":%d,\"client_port\":%u,\"fd\":%d,\"closed_ns\":%lld}\n", i, cport, s,
	       (long long)closed);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int count = 40, every_ms = 100, opt, lfd;
	uint16_t port;
	int64_t start;

	while ((opt = getopt(argc, argv, "n:e:")) != -1) {
		if (opt == 'n')
			count = atoi(optarg);
		else if (opt == 'e')
			every_ms = atoi(optarg);
		else
			die("usage: cwleak [-n COUNT] [-e MS]");
	}
	if (count < 1 || count > 10000 || every_ms < 1)
		die("usage: cwleak [-n COUNT] [-e MS]");
	lfd = listen_on(AF_INET, 0);
	port = local_port(lfd);
	printf("{\"ready\":true,\"pid\":%d,\"port\":%u}\n", getpid(), port);
	fflush(stdout);
	wait_go();
	start = mono_ns();
	for (int i = 0; i < count; i++) {
		sleep_until(start + (int64_t)i * every_ms * 1000000LL);
		leak_one(lfd, port, i);
	}
	printf("{\"done\":true,\"pid\":%d,\"port\":%u,\"count\":%d}\n", getpid(), port, count);
	fflush(stdout);
	wait_go();
	return 0;
}

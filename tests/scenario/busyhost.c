// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A busy host, as issue 14 describes it: TIME_WAIT sockets on every port of
 * the ephemeral range and a steady rate of connections besides, in the
 * network namespace it runs in (tests/live/busy-host.sh runs it in the
 * host's, around the live suite, whose tests each have their own).
 *
 * usage: busyhost [RATE [nofill]]
 *	RATE: connections/s in the background; default 100
 *	nofill: the background alone, no TIME_WAIT fill (a load paced at
 *	RATE, where an unpaced fill would take a small machine's every CPU)
 *
 * A fill pass makes a connection from each port of ip_local_port_range to
 * a listener; the client closes first, so it keeps TIME_WAIT for 60 s.
 * connect() picks the even ports, as it prefers them: ports taken that way
 * stay shareable with connections to anywhere else, so the host still
 * works. The odd ones, which connect() leaves to bind(), are bound. A pass
 * every 50 s keeps every port covered. Once the first pass is done it
 * prints one JSON line: the listeners' ports (the fill's, then the
 * background's), the range, how many of its ports have a TIME_WAIT socket. Runs until SIGINT
 * or SIGTERM; the TIME_WAIT sockets stay (the wrapper script kills them). */
#include "scenario.h"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#define PASS_EVERY_S 50

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void port_range(int *lo, int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (!f || fscanf(f, "%d %d", lo, hi) != 2)
		die("ip_local_port_range");
	fclose(f);
}

/* One connection to the listener lfd on port, from local port from (0:
 * connect() picks): the client closes first. false when bind() or
 * connect() failed (the port is taken, ports ran out, a signal). */
static bool one(int lfd, uint16_t port, uint16_t from)
{
	struct endpoint ep;
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), afd, on = 1;

	if (cfd < 0)
		die("socket");
	/* Binding over the last pass's TIME_WAIT socket needs it on both. */
	setsockopt(cfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	loopback(&ep, AF_INET, from);
	if (from && bind(cfd, (struct sockaddr *)&ep.ss, ep.len)) {
		close(cfd);
		return false;
	}
	loopback(&ep, AF_INET, port);
	if (connect(cfd, (struct sockaddr *)&ep.ss, ep.len)) {
		close(cfd);
		return false;
	}
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	close(cfd);
	expect_eof(afd);
	close(afd);
	return true;
}

#define NFILL 4

/* Ports of [lo, hi] with a TIME_WAIT socket to one of the fill listeners. */
static int tw_ports(int lo, int hi, const uint16_t fill[NFILL])
{
	static unsigned char seen[65536];
	FILE *f = fopen("/proc/net/tcp", "r");
	unsigned lport, rport, st;
	char line[256];
	int n = 0;

	if (!f)
		die("/proc/net/tcp");
	memset(seen, 0, sizeof(seen));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x", &lport, &rport, &st) != 3 || st != 6 ||
		    (int)lport < lo || (int)lport > hi || seen[lport])
			continue;
		for (int i = 0; i < NFILL; i++)
			if (rport == fill[i]) {
				seen[lport] = 1;
				n++;
				break;
			}
	}
	fclose(f);
	return n;
}

/* One pass: the odd ports bound; then walks of connect()'s own choice of
 * even port, each to another listener (its next start is random: one walk
 * misses about a tenth of them), until a walk covers no new port. Returns
 * the ports covered. */
static int fill_pass(int lo, int hi, const int fl[NFILL], const uint16_t fill[NFILL])
{
	int covered = 0, before = -1;

	for (int p = lo | 1; p <= hi && !stop; p += 2)
		one(fl[0], fill[0], (uint16_t)p);
	for (int k = 0; k < NFILL && !stop && covered > before; k++) {
		before = covered;
		for (int p = lo; p <= hi && !stop; p += 2)
			one(fl[k], fill[k], 0);
		covered = tw_ports(lo, hi, fill);
	}
	return covered;
}

/* RATE connections a second to the listener lfd, until told to stop. */
static void churn(int lfd, uint16_t port, int rate)
{
	struct timespec next;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		next.tv_nsec += 1000000000L / rate;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		one(lfd, port, 0);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	_exit(0);
}

/* Until s seconds after start (a signal ends the wait). */
static void sleep_from(const struct timespec *start, int s)
{
	struct timespec until = *start;

	until.tv_sec += s;
	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int rate = argc > 1 ? atoi(argv[1]) : 100, lo, hi, fl[NFILL], cl;
	bool nofill = argc > 2 && strcmp(argv[2], "nofill") == 0;
	uint16_t fill[NFILL], cport;
	pid_t child;

	if (rate <= 0 || argc > 3 || (argc > 2 && !nofill)) {
		fprintf(stderr, "usage: busyhost [RATE [nofill]]\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	port_range(&lo, &hi);
	for (int i = 0; i < NFILL; i++) {
		fl[i] = listen_on(AF_INET, 0);
		fill[i] = local_port(fl[i]);
	}
	cl = listen_on(AF_INET, 0);
	cport = local_port(cl);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		churn(cl, cport, rate);
	for (int pass = 0; !stop; pass++) {
		struct timespec start;
		int covered;

		clock_gettime(CLOCK_MONOTONIC, &start);
		covered = nofill ? 0 : fill_pass(lo, hi, fl, fill);
		if (pass == 0) {
			printf("{\"ports\":[");
			for (int i = 0; i < NFILL; i++)
				printf("%u,", fill[i]);
			printf("%u],\"range\":[%d,%d],\"tw_ports\":%d,\"rate\":%d}\n", cport, lo,
			       hi, covered, rate);
			fflush(stdout);
		}
		sleep_from(&start, PASS_EVERY_S);
	}
	kill(child, SIGTERM);
	waitpid_ok(child);
	return 0;
}

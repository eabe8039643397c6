// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One loopback connection with a graceful close, client first:
 *   server (this process): listen, accept, read, read EOF, close
 *   client (a forked child): connect, write, close
 * so the client passes FIN_WAIT1/FIN_WAIT2 and the server CLOSE_WAIT/LAST_ACK.
 * The server's CLOSE_WAIT transition runs in softirq while the client is the
 * current task: the test of owner attribution.
 *
 * usage: pair [-6] [-p PORT] [-w|-W] [-n] [-N NAME]
 *   -6  IPv6 (default IPv4)   -p  listen on PORT (default: any free port)
 *   -w  print {"server_pid":N} and wait for a line on stdin before starting
 *   -W  the same, but once the connection is established (before any close)
 *   -n  in a new network namespace of its own
 *   -N  process name (comm) NAME for both ends, instead of "pair"
 * Prints one JSON line: pids, ports and SO_COOKIE of the three sockets. */
#include "scenario.h"

#include <getopt.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	int family = AF_INET, opt, lfd, afd, cfd;
	uint16_t port = 0, cport;
	uint64_t lcookie, scookie, ccookie;
	bool wait = false, wait_established = false;
	struct chan c2s, s2c;
	pid_t client;
	char tok, x;

	while ((opt = getopt(argc, argv, "6p:wWnN:")) != -1) {
		switch (opt) {
		case '6': family = AF_INET6; break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'w': wait = true; break;
		case 'W': wait_established = true; break;
		case 'n': enter_new_netns(); break;
		case 'N':
			/* Before the fork: the client inherits it. */
			if (prctl(PR_SET_NAME, optarg, 0, 0, 0))
				die("prctl(PR_SET_NAME)");
			break;
		default:
			fprintf(stderr, "usage: pair [-6] [-p PORT] [-w|-W] [-n] [-N NAME]\n");
			return 2;
		}
	}
	if (wait) {
		printf("{\"server_pid\":%d}\n", getpid());
		fflush(stdout);
		wait_go();
	}

	lfd = listen_on(family, port);
	port = local_port(lfd);
	lcookie = sock_cookie(lfd);
	chan_open(&c2s);
	chan_open(&s2c);

	client = fork();
	if (client < 0)
		die("fork");
	if (client == 0) {
		cfd = connect_to(family, port);
		cport = local_port(cfd);
		ccookie = sock_cookie(cfd);
		chan_send(&c2s, &cport, sizeof(cport));
		chan_send(&c2s, &ccookie, sizeof(ccookie));
		write_all(cfd, "x", 1);
		chan_recv(&s2c, &tok, 1);	/* server has read */
		close(cfd);
		chan_recv(&s2c, &tok, 1);	/* server has closed */
		_exit(0);
	}

	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	scookie = sock_cookie(afd);
	if (read_full(afd, &x, 1) != 1)
		die("read");
	chan_recv(&c2s, &cport, sizeof(cport));
	chan_recv(&c2s, &ccookie, sizeof(ccookie));
	if (wait_established) {
		printf("{\"server_pid\":%d,\"port\":%u,\"client_port\":%u}\n", getpid(), port,
		       cport);
		fflush(stdout);
		wait_go();
	}
	chan_send(&s2c, "r", 1);
	expect_eof(afd);
	close(afd);
	chan_send(&s2c, "c", 1);
	if (!waitpid_ok(client))
		die("client failed");
	close(lfd);

	printf("{\"server_pid\":%d,\"client_pid\":%d,\"family\":%d,\"port\":%u,"
	       "\"client_port\":%u,\"listen_cookie\":%llu,\"server_cookie\":%llu,"
	       "\"client_cookie\":%llu}\n",
	       getpid(), client, family == AF_INET6 ? 6 : 4, port, cport,
	       (unsigned long long)lcookie, (unsigned long long)scookie,
	       (unsigned long long)ccookie);
	return 0;
}

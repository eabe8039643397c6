// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process exits with a descriptor table grown far past what it holds.
 *
 * usage: exitwalk high FD
 *          a connection whose accepted socket is moved to descriptor FD
 *          (RLIMIT_NOFILE raised to fit); a child inherits it, the parent
 *          closes its copy, the child exits holding it: the socket's last
 *          reference goes at that exit, from descriptor FD
 *        exitwalk churn FD N [OPEN]
 *          dup2(0, FD), and OPEN more copies of descriptor 0 (the lowest
 *          free descriptors), then N times: fork a child that exits at
 *          once, and reap it
 * FD "max": 500000, or the highest the hard limit allows without
 * CAP_SYS_RESOURCE. Both print one JSON report line: pids, ports,
 * descriptors; churn the wall time per fork, exit and reap. */
#include "scenario.h"

#include <sys/resource.h>
#include <time.h>

static void fit_fd(int fd)
{
	struct rlimit r = { (rlim_t)fd + 1, (rlim_t)fd + 1 };
	struct rlimit cur;

	if (getrlimit(RLIMIT_NOFILE, &cur))
		die("getrlimit");
	if (cur.rlim_cur > (rlim_t)fd && cur.rlim_max > (rlim_t)fd)
		return;
	if (setrlimit(RLIMIT_NOFILE, &r))
		die("setrlimit(RLIMIT_NOFILE, %d)", fd + 1);
}

/* The descriptor FD names: "max" is 500000 where the limit can be raised
 * that far, else the highest the hard limit allows. */
static int pick_fd(const char *arg)
{
	struct rlimit want = { 500001, 500001 }, cur;

	if (strcmp(arg, "max") != 0)
		return atoi(arg);
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return 500000;
	if (getrlimit(RLIMIT_NOFILE, &cur))
		die("getrlimit");
	if (cur.rlim_max > 500001)
		return 500000;
	return (int)cur.rlim_max - 1;
}

static void move_fd(int from, int to)
{
	fit_fd(to);
	if (dup2(from, to) != to)
		die("dup2(%d, %d)", from, to);
}

static void mode_high(int hfd)
{
	int lfd = listen_on(AF_INET, 0), cfd, afd;
	uint16_t port = local_port(lfd), cport;
	struct chan go;
	pid_t child;

	cfd = connect_to(AF_INET, port);
	cport = local_port(cfd);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	move_fd(afd, hfd);
	close(afd);
	chan_open(&go);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char t;

		/* Holds the socket at hfd, inherited, until told to exit. */
		chan_recv(&go, &t, 1);
		_exit(0);
	}
	close(hfd);		/* 2 references: only drops one */
	chan_send(&go, "g", 1);	/* the child's exit drops the last */
	if (!waitpid_ok(child))
		die("child failed");
	printf("{\"mode\":\"high\",\"port\":%u,\"client_port\":%u,\"fd\":%d,\"exit_pid\":%d,"
	       "\"parent_pid\":%d}\n", port, cport, hfd, child, getpid());
	fflush(stdout);
	close(cfd);
	close(lfd);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void mode_churn(int hfd, int n, int open)
{
	int64_t t0;

	if (hfd > 0)
		move_fd(0, hfd);
	for (int i = 0; i < open; i++)
		if (dup(0) < 0)
			die("dup");
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		pid_t c = fork();

		if (c < 0)
			die("fork");
		if (c == 0)
			_exit(0);
		if (!waitpid_ok(c))
			die("child failed");
	}
	printf("{\"mode\":\"churn\",\"fd\":%d,\"n\":%d,\"open\":%d,\"ns_per_exit\":%lld}\n",
	       hfd, n, open, (long long)((now_ns() - t0) / n));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int fd = argc > 2 ? pick_fd(argv[2]) : 0;

	if (argc == 3 && strcmp(argv[1], "high") == 0 && fd > 2)
		mode_high(fd);
	else if ((argc == 4 || argc == 5) && strcmp(argv[1], "churn") == 0 && fd >= 0 &&
		 atoi(argv[3]) > 0 && (argc == 4 || atoi(argv[4]) >= 0))
		mode_churn(fd, atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 0);
	else {
		fprintf(stderr, "usage: exitwalk high FD | churn FD N [OPEN]\n");
		return 2;
	}
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A host with many processes and descriptors, for what reads all of /proc.
 *
 * usage: fdhog [-p PROCS] [-f FDS]
 *   Starts PROCS processes (default 1), each holding FDS descriptors
 *   (default 1000) that refer to one socket of its own, as a busy server's
 *   connections do; prints {"ready":true,"procs":N,"fds":M} once all hold
 *   them, and waits for a line on stdin (or its end). Then they all exit
 *   (they die with it too). */
#include "scenario.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Room for fds descriptors and a few more. */
static void allow_fds(int fds)
{
	struct rlimit r = { (rlim_t)fds + 64, (rlim_t)fds + 64 };
	struct rlimit cur;

	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur >= r.rlim_cur)
		return;
	if (cur.rlim_max > r.rlim_max)
		r.rlim_max = cur.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r))
		die("setrlimit(RLIMIT_NOFILE, %d)", fds + 64);
}

/* The child: fds descriptors, then wait to be killed. */
static void hold(int fds, int ready_fd)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		die("prctl");
	if (s < 0)
		die("socket");
	for (int i = 1; i < fds; i++)
		if (dup(s) < 0)
			die("dup %d", i);
	if (write(ready_fd, "r", 1) != 1)
		die("write");
	close(ready_fd);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int procs = 1, fds = 1000, opt, p[2];
	pid_t *kids;
	char c, line[16];

	while ((opt = getopt(argc, argv, "p:f:")) != -1) {
		if (opt == 'p')
			procs = atoi(optarg);
		else if (opt == 'f')
			fds = atoi(optarg);
		else
			die("usage: fdhog [-p PROCS] [-f FDS]");
	}
	if (procs < 1 || procs > 10000 || fds < 1 || fds > 1000000)
		die("usage: fdhog [-p PROCS] [-f FDS]");
	allow_fds(fds);
	kids = calloc((size_t)procs, sizeof(*kids));
	if (!kids || pipe(p))
		die("setup");
	for (int i = 0; i < procs; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork %d", i);
		if (kids[i] == 0) {
			close(p[0]);
			hold(fds, p[1]);
		}
	}
	close(p[1]);
	for (int i = 0; i < procs; i++)
		if (read(p[0], &c, 1) != 1)
			die("a child did not get ready");
	printf("{\"ready\":true,\"pid\":%d,\"procs\":%d,\"fds\":%d}\n", getpid(), procs, fds);
	fflush(stdout);
	(void)!fgets(line, sizeof(line), stdin);
	for (int i = 0; i < procs; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < procs; i++)
		waitpid(kids[i], NULL, 0);
	return 0;
}

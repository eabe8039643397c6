// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ways a TCP connection ends, each on a real loopback connection.
 *
 * usage: closepath [-N NAME] [-C CGROUP_DIR] MODE [UID]
 *   -N  process name (comm) NAME for every process of the scenario
 *   -C  move into the cgroup v2 directory CGROUP_DIR first
 *   UID       run as this user (and its group id), as a service's
 *             unprivileged worker would: its /proc/PID/fd is not root's
 *   fork      the server's accepted socket is inherited by a child; the
 *             parent closes it (2 references: no FIN), the client closes:
 *             CLOSE_WAIT until the child exits
 *   eof       the server reads EOF and never closes until told to exit
 *   halfclose the client shuts down writing; the server still replies
 *   rdwr      the server shuts down both ways on a socket its child shares
 *   linger    the client closes with SO_LINGER {1, 0}: a reset
 *   unread    the server closes with unread data: a reset
 *   dup       the server dup()s its socket and closes both descriptors
 * Modes fork and eof print a first JSON line once the server socket is in
 * CLOSE_WAIT and wait for a line on stdin before finishing. Every mode ends
 * with one JSON report line: pids, ports, descriptors, what was observed. */
#include <grp.h>
#include "scenario.h"

#include <getopt.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct run {
	int family;
	int lfd, afd;
	uint16_t port, cport;
	pid_t server, client;
	struct chan c2s, s2c;	/* client <-> server tokens */
	char extra[256];	/* mode-specific report members */
};

static void token_wait(struct chan *c)
{
	char t;

	chan_recv(c, &t, 1);
}

static void token_send(struct chan *c)
{
	chan_send(c, "t", 1);
}

/* Listen, fork the client (which runs client_fn), accept. */
static void setup(struct run *r, void (*client_fn)(struct run *r, int fd))
{
	r->family = AF_INET;
	r->server = getpid();
	r->lfd = listen_on(r->family, 0);
	r->port = local_port(r->lfd);
	chan_open(&r->c2s);
	chan_open(&r->s2c);
	r->client = fork();
	if (r->client < 0)
		die("fork");
	if (r->client == 0) {
		int fd = connect_to(r->family, r->port);
		uint16_t cport = local_port(fd);

		chan_send(&r->c2s, &cport, sizeof(cport));
		client_fn(r, fd);
		_exit(0);
	}
	r->afd = accept(r->lfd, NULL, NULL);
	if (r->afd < 0)
		die("accept");
	chan_recv(&r->c2s, &r->cport, sizeof(r->cport));
}

static void report(struct run *r, const char *mode)
{
	printf("{\"mode\":\"%s\",\"server_pid\":%d,\"client_pid\":%d,\"port\":%u,"
	       "\"client_port\":%u,\"server_fd\":%d%s}\n",
	       mode, r->server, r->client, r->port, r->cport, r->afd, r->extra);
	fflush(stdout);
}

static void finish(struct run *r)
{
	if (!waitpid_ok(r->client))
		die("client failed");
	close(r->lfd);
}

/* ---- fork: the inherited descriptor ------------------------------------ */

static void client_close_on_token(struct run *r, int fd)
{
	token_wait(&r->s2c);
	close(fd);
	token_send(&r->c2s);
}

static void mode_fork(void)
{
	struct run r = {};
	struct chan hold;
	pid_t holder;

	setup(&r, client_close_on_token);
	chan_open(&hold);
	holder = fork();
	if (holder < 0)
		die("fork");
	if (holder == 0) {
		/* Keeps the inherited descriptor until told to exit. */
		token_wait(&hold);
		_exit(0);
	}
	close(r.afd);		/* 2 references: only drops one */
	token_send(&r.s2c);	/* client closes: FIN to a socket nobody closes */
	token_wait(&r.c2s);
	snprintf(r.extra, sizeof(r.extra), ",\"holder_pid\":%d", holder);
	report(&r, "fork");
	wait_go();
	token_send(&hold);	/* the holder exits: the last reference goes */
	if (!waitpid_ok(holder))
		die("holder failed");
	finish(&r);
	report(&r, "fork");
}

/* ---- eof: read EOF, never close ---------------------------------------- */

static void client_close_now(struct run *r, int fd)
{
	close(fd);
}

static void mode_eof(void)
{
	struct run r = {};

	setup(&r, client_close_now);
	expect_eof(r.afd);
	report(&r, "eof");
	wait_go();
	finish(&r);
	report(&r, "eof");
	_exit(0);	/* exit closes it: the application never called close() */
}

/* ---- halfclose: shutdown(SHUT_WR), data still flows back ---------------- */

static void client_halfclose(struct run *r, int fd)
{
	char buf[16];
	size_t n;

	if (shutdown(fd, SHUT_WR))
		die("shutdown");
	n = read_full(fd, buf, 5);
	chan_send(&r->c2s, &n, sizeof(n));
	expect_eof(fd);
	close(fd);
}

static void mode_halfclose(void)
{
	struct run r = {};
	size_t got;

	setup(&r, client_halfclose);
	expect_eof(r.afd);		/* the client's FIN */
	write_all(r.afd, "reply", 5);	/* the other direction still works */
	chan_recv(&r.c2s, &got, sizeof(got));
	close(r.afd);
	finish(&r);
	snprintf(r.extra, sizeof(r.extra), ",\"client_received\":%zu", got);
	report(&r, "halfclose");
}

/* ---- rdwr: shutdown(SHUT_RDWR) on a shared socket ---------------------- */

static void client_wait_eof(struct run *r, int fd)
{
	char c;
	int eof = read_full(fd, &c, 1) == 0;

	chan_send(&r->c2s, &eof, sizeof(eof));
	close(fd);
}

static void mode_rdwr(void)
{
	struct run r = {};
	struct chan res;
	int client_eof, holder_eof;
	pid_t holder;

	setup(&r, client_wait_eof);
	chan_open(&res);
	holder = fork();
	if (holder < 0)
		die("fork");
	if (holder == 0) {
		/* Shares the socket; its reads end too once the parent shuts
		 * it down. */
		char c;
		int eof = read_full(r.afd, &c, 1) == 0;

		chan_send(&res, &eof, sizeof(eof));
		_exit(0);
	}
	if (shutdown(r.afd, SHUT_RDWR))
		die("shutdown");
	chan_recv(&r.c2s, &client_eof, sizeof(client_eof));
	chan_recv(&res, &holder_eof, sizeof(holder_eof));
	if (!waitpid_ok(holder))
		die("holder failed");
	close(r.afd);
	finish(&r);
	snprintf(r.extra, sizeof(r.extra),
		 ",\"holder_pid\":%d,\"client_eof\":%s,\"holder_eof\":%s", holder,
		 client_eof ? "true" : "false", holder_eof ? "true" : "false");
	report(&r, "rdwr");
}

/* ---- linger: SO_LINGER {1, 0} ------------------------------------------ */

static void client_linger_close(struct run *r, int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)))
		die("SO_LINGER");
	close(fd);
	token_send(&r->c2s);
}

static void mode_linger(void)
{
	struct run r = {};
	char c;
	ssize_t n;
	int err;

	setup(&r, client_linger_close);
	token_wait(&r.c2s);
	n = read(r.afd, &c, 1);
	err = n < 0 ? errno : 0;
	close(r.afd);
	finish(&r);
	snprintf(r.extra, sizeof(r.extra), ",\"server_read_errno\":%d,\"reset\":%s", err,
		 err == ECONNRESET ? "true" : "false");
	report(&r, "linger");
}

/* ---- unread: close with data in the receive queue ----------------------- */

static void client_send_then_read(struct run *r, int fd)
{
	char c;
	ssize_t n;
	int err;

	write_all(fd, "unread", 6);
	token_send(&r->c2s);
	token_wait(&r->s2c);		/* the server has closed */
	n = read(fd, &c, 1);
	err = n < 0 ? errno : 0;
	chan_send(&r->c2s, &err, sizeof(err));
	close(fd);
}

static void mode_unread(void)
{
	struct run r = {};
	int err, avail = 0;

	setup(&r, client_send_then_read);
	token_wait(&r.c2s);
	/* Wait until the bytes are in our receive queue, unread. */
	while (avail < 6) {
		char buf[8];

		avail = (int)recv(r.afd, buf, sizeof(buf), MSG_PEEK);
		if (avail <= 0)
			die("peek");
	}
	close(r.afd);
	token_send(&r.s2c);
	chan_recv(&r.c2s, &err, sizeof(err));
	finish(&r);
	snprintf(r.extra, sizeof(r.extra), ",\"client_read_errno\":%d,\"reset\":%s", err,
		 err == ECONNRESET ? "true" : "false");
	report(&r, "unread");
}

/* ---- dup: two descriptors, one socket ---------------------------------- */

static void mode_dup(void)
{
	struct run r = {};
	int d;

	setup(&r, client_wait_eof);
	d = dup(r.afd);
	if (d < 0)
		die("dup");
	close(r.afd);	/* 2 references: nothing happens */
	close(d);	/* the last one: tcp_close, FIN */
	{
		int eof;

		chan_recv(&r.c2s, &eof, sizeof(eof));
	}
	finish(&r);
	snprintf(r.extra, sizeof(r.extra), ",\"dup_fd\":%d", d);
	report(&r, "dup");
}

/* Move this process into a cgroup v2 directory (its children follow). */
static void enter_cgroup(const char *dir)
{
	char path[4096], pid[32];
	int fd, n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, (size_t)n) != n)
		die("moving into %s", dir);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} modes[] = {
		{ "fork", mode_fork }, { "eof", mode_eof }, { "halfclose", mode_halfclose },
		{ "rdwr", mode_rdwr }, { "linger", mode_linger }, { "unread", mode_unread },
		{ "dup", mode_dup },
	};

	int opt;

	while ((opt = getopt(argc, argv, "N:C:")) != -1) {
		switch (opt) {
		case 'N':
			/* Before any fork: every process inherits it. */
			if (prctl(PR_SET_NAME, optarg, 0, 0, 0))
				die("prctl(PR_SET_NAME)");
			break;
		case 'C':
			enter_cgroup(optarg);
			break;
		default:
			optind = argc + 1;
			break;
		}
	}
	if (optind != argc - 1 && optind != argc - 2) {
		fprintf(stderr, "usage: closepath [-N NAME] [-C CGROUP_DIR] "
			"fork|eof|halfclose|rdwr|linger|unread|dup [UID]\n");
		return 2;
	}
	if (optind == argc - 2) {
		uid_t uid = (uid_t)atoi(argv[optind + 1]);

		if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) {
			perror("closepath: setuid");
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[optind], modes[i].name) == 0) {
			modes[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "closepath: unknown mode '%s'\n", argv[optind]);
	return 2;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the scenario programs: small, static-linkable, no
 * dependencies. Each scenario does real socket work on loopback and prints
 * what it did (pids, ports, cookies) as one JSON line for the harness. */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "scenario: ");
	vfprintf(stderr, fmt, ap);
	if (errno)
		fprintf(stderr, ": %s", strerror(errno));
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

struct endpoint {
	int family;
	struct sockaddr_storage ss;
	socklen_t len;
};

static inline void loopback(struct endpoint *ep, int family, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = family;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ep->ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		ep->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ep->ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		ep->len = sizeof(*a);
	}
}

static inline uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		die("getsockname");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static inline uint64_t sock_cookie(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len))
		die("getsockopt(SO_COOKIE)");
	return c;
}

static inline int listen_on(int family, uint16_t port)
{
	struct endpoint ep;
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	loopback(&ep, family, port);
	if (bind(fd, (struct sockaddr *)&ep.ss, ep.len))
		die("bind port %u", port);
	if (listen(fd, 16))
		die("listen");
	return fd;
}

static inline int connect_to(int family, uint16_t port)
{
	struct endpoint ep;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	loopback(&ep, family, port);
	if (connect(fd, (struct sockaddr *)&ep.ss, ep.len))
		die("connect port %u", port);
	return fd;
}

static inline void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		p += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes; returns 0 at EOF before any byte. */
static inline size_t read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static inline void expect_eof(int fd)
{
	char c;

	if (read_full(fd, &c, 1) != 0)
		die("expected EOF");
}

/* A pipe whose two ends are used to hand values between processes. */
struct chan {
	int rd, wr;
};

static inline void chan_open(struct chan *c)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	c->rd = p[0];
	c->wr = p[1];
}

static inline void chan_send(struct chan *c, const void *v, size_t len)
{
	write_all(c->wr, v, len);
}

static inline void chan_recv(struct chan *c, void *v, size_t len)
{
	if (read_full(c->rd, v, len) != len)
		die("channel closed");
}

/* Block until the harness writes a line on stdin ("go"). */
static inline void wait_go(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		die("no go line on stdin");
}

/* Move this process into a new network namespace with lo up (root). */
static inline void enter_new_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("lo flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("lo up");
	close(fd);
}

static inline int waitpid_ok(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		die("waitpid");
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

#endif /* SCENARIO_H */

/* selftest-net.h — a TCP loopback round trip, shared by the VM self-tests. */
#ifndef TCPST_VM_SELFTEST_NET_H
#define TCPST_VM_SELFTEST_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void selftest_set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * Listen on an ephemeral loopback port of family AF_INET or AF_INET6,
 * connect, accept, send a message each way, and close both ends.
 * Returns 0 on success; on failure prints why to stderr and returns -1.
 */
static int selftest_tcp_roundtrip(int family)
{
	const char *name = family == AF_INET ? "ipv4" : "ipv6";
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = -1, cfd = -1, afd = -1, ret = -1;
	char buf[16];
	const char *step;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}

	step = "socket";
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		goto out;
	step = "bind";
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0)
		goto out;
	step = "getsockname";
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0)
		goto out;
	step = "listen";
	if (listen(lfd, 4) < 0)
		goto out;
	step = "socket";
	cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		goto out;
	selftest_set_timeouts(cfd);
	step = "connect";
	if (connect(cfd, (struct sockaddr *)&ss, len) < 0)
		goto out;
	step = "accept";
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto out;
	selftest_set_timeouts(afd);
	step = "send";
	if (send(cfd, "ping", 4, MSG_NOSIGNAL) != 4)
		goto out;
	step = "recv";
	if (recv(afd, buf, 4, MSG_WAITALL) != 4)
		goto out;
	step = "send";
	if (send(afd, "pong", 4, MSG_NOSIGNAL) != 4)
		goto out;
	/* The active close: the client's FIN after reading the reply. */
	step = "recv";
	if (recv(cfd, buf, 4, MSG_WAITALL) != 4 || memcmp(buf, "pong", 4) != 0) {
		errno = EPROTO;
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		fprintf(stderr, "tcp %s: %s: %s\n", name, step, strerror(errno));
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
	if (lfd >= 0)
		close(lfd);
	return ret;
}

#endif

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sockdiag.h"
#include "privs.h"

#include <errno.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C	/* linux/sockios.h, Linux 4.9 */
#endif

/* The kernel fills at most 32 KiB per dump part (netlink_dump() sizes the
 * part by the reader's buffer, capped there); twice that leaves room. */
#define RECV_BUF_SIZE 65536

struct dump {
	int sock;
	uint32_t seq;
	uint32_t netns;
	sockdiag_fn fn;
	void *ctx;
	char *buf;
};

static int diag_socket(void)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return s < 0 ? -errno : s;
}

/* The namespace a socket lives in. SIOCGSKNS needs CAP_NET_ADMIN there, so
 * without it fall back to fallback_path (the caller's own namespace). */
static uint32_t socket_netns(int sock, const char *fallback_path)
{
	struct stat st;
	int nsfd = ioctl(sock, SIOCGSKNS);

	if (nsfd >= 0) {
		int r = fstat(nsfd, &st);

		close(nsfd);
		if (r == 0)
			return (uint32_t)st.st_ino;
	}
	if (fallback_path && stat(fallback_path, &st) == 0)
		return (uint32_t)st.st_ino;
	return 0;
}

static int send_request(const struct dump *d, uint8_t family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = d->seq;
	msg.req.sdiag_family = family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	/* Every state bit: TIME_WAIT, SYN_RECV (which brings in request
	 * sockets) and, on 6.8+, BOUND_INACTIVE (bound-only sockets). */
	msg.req.idiag_states = ~0U;
	/* tcp_info: when the socket last heard from its peer. */
	msg.req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
	do {
		n = sendto(d->sock, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
			   sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(msg) ? 0 : -EIO;
}

static void fill(struct sockdiag_sock *s, const struct inet_diag_msg *m, uint32_t netns)
{
	memset(s, 0, sizeof(*s));
	s->cookie = m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	s->ino = m->idiag_inode;
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	s->timer = m->idiag_timer;
	s->sport = ntohs(m->id.idiag_sport);
	s->dport = ntohs(m->id.idiag_dport);
	memcpy(s->saddr, m->id.idiag_src, sizeof(s->saddr));
	memcpy(s->daddr, m->id.idiag_dst, sizeof(s->daddr));
	/* Only 4 bytes mean anything in IPv4: clear the rest, whatever the
	 * kernel left there, so addresses compare with memcmp(). */
	if (s->family == AF_INET) {
		memset(s->saddr + 4, 0, 12);
		memset(s->daddr + 4, 0, 12);
	}
	s->uid = m->idiag_uid;
	s->expires_ms = s->timer ? m->idiag_expires : 0;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->netns = netns;
}

/* From the INET_DIAG_INFO attribute (full sockets only): milliseconds since
 * the last segment from the peer, data or ACK. */
static void last_recv(struct sockdiag_sock *s, const struct nlmsghdr *nlh)
{
	int left = (int)nlh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(struct inet_diag_msg));
	const struct rtattr *a = (const void *)((const char *)NLMSG_DATA(nlh) +
						NLMSG_ALIGN(sizeof(struct inet_diag_msg)));

	s->last_recv_ms = UINT32_MAX;
	for (; left > 0 && RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		struct tcp_info ti;
		size_t have;

		if (a->rta_type != INET_DIAG_INFO)
			continue;
		memset(&ti, 0, sizeof(ti));
		have = RTA_PAYLOAD(a) < sizeof(ti) ? RTA_PAYLOAD(a) : sizeof(ti);
		memcpy(&ti, RTA_DATA(a), have);
		if (have >= offsetof(struct tcp_info, tcpi_last_ack_recv) + sizeof(uint32_t))
			s->last_recv_ms = ti.tcpi_last_data_recv < ti.tcpi_last_ack_recv
						  ? ti.tcpi_last_data_recv : ti.tcpi_last_ack_recv;
	}
}

/* One netlink message answering request seq: > 0 when the dump is done, 0
 * to read on, < 0 to stop with that value. */
static int handle(const struct nlmsghdr *nlh, uint32_t netns, sockdiag_fn fn, void *ctx)
{
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		return -EINTR;
	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
		return 0;
	case NLMSG_DONE:
		/* The dump's own error, if any, is an int after the header. */
		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
			int err;

			memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
			if (err < 0)
				return err;
		}
		return 1;
	case NLMSG_ERROR: {
		struct nlmsgerr e;

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
			return -EPROTO;
		memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
		/* 0 is an acknowledgement; a dump ends with NLMSG_DONE. */
		return e.error < 0 ? e.error : 0;
	}
	case SOCK_DIAG_BY_FAMILY: {
		struct inet_diag_msg m;
		struct sockdiag_sock s;
		int r;

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(m)))
			return -EPROTO;
		memcpy(&m, NLMSG_DATA(nlh), sizeof(m));
		fill(&s, &m, netns);
		last_recv(&s, nlh);
		r = fn(ctx, &s);
		return r < 0 ? r : 0;
	}
	default:
		return -EPROTO;
	}
}

int sockdiag__parse(const void *buf, size_t len, uint32_t seq, uint32_t netns,
		    sockdiag_fn fn, void *ctx)
{
	const struct nlmsghdr *nlh = buf;
	int left = len > INT_MAX ? INT_MAX : (int)len;

	for (; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
		int r;

		if (nlh->nlmsg_seq != seq)
			continue;	/* not an answer to this request */
		r = handle(nlh, netns, fn, ctx);
		if (r)
			return r;
	}
	/* A message cut short: the kernel never sends one. */
	return left <= 0 ? 0 : -EPROTO;
}

static int dump_family(struct dump *d, uint8_t family)
{
	int r;

	d->seq++;
	r = send_request(d, family);
	if (r)
		return r;
	for (;;) {
		struct iovec iov = { .iov_base = d->buf, .iov_len = RECV_BUF_SIZE };
		struct sockaddr_nl from;
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(d->sock, &mh, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the kernel could not queue a part; what
			 * follows would be inconsistent. Report, don't retry:
			 * a retry would hand fn the same sockets twice. */
			return -errno;
		}
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (n == 0)
			return -EPROTO;
		if (from.nl_pid != 0)	/* not from the kernel */
			continue;
		r = sockdiag__parse(d->buf, (size_t)n, d->seq, d->netns, d->fn, d->ctx);
		if (r)
			return r > 0 ? 0 : r;
	}
}

static int dump_on(int sock, uint32_t netns, sockdiag_fn fn, void *ctx)
{
	struct dump d = { .sock = sock, .netns = netns, .fn = fn, .ctx = ctx };
	int r;

	d.buf = malloc(RECV_BUF_SIZE);
	if (!d.buf)
		return -ENOMEM;
	r = dump_family(&d, AF_INET);
	if (r == 0)
		r = dump_family(&d, AF_INET6);
	free(d.buf);
	return r;
}

int sockdiag__dump(sockdiag_fn fn, void *ctx)
{
	int sock, r;

	if (!fn)
		return -EINVAL;
	sock = diag_socket();
	if (sock < 0)
		return sock;
	r = dump_on(sock, socket_netns(sock, "/proc/thread-self/ns/net"), fn, ctx);
	close(sock);
	return r;
}

struct netns_open {
	int netns_fd;
	int result;		/* the socket, or -errno */
};

/* Runs in a thread of its own: setns() moves only this thread, which then
 * exits, so no thread of the caller ever changes namespace. */
static void *open_in_netns(void *arg)
{
	struct netns_open *o = arg;

	/* The one call that takes CAP_SYS_ADMIN after attaching: raised in
	 * this thread only (privs.h), which ends here. */
	privs__raise(CAP_SYS_ADMIN_NR);
	if (setns(o->netns_fd, CLONE_NEWNET))
		o->result = -errno;
	else
		o->result = diag_socket();
	return NULL;
}

int sockdiag__dump_netns(int netns_fd, sockdiag_fn fn, void *ctx)
{
	struct netns_open o = { .netns_fd = netns_fd, .result = -EIO };
	struct stat st, own;
	pthread_t t;
	int r;

	if (!fn)
		return -EINVAL;
	if (fstat(netns_fd, &st))
		return -errno;
	/* Our own namespace needs no setns(), nor the privilege it takes. */
	if (stat("/proc/thread-self/ns/net", &own) == 0 && own.st_dev == st.st_dev &&
	    own.st_ino == st.st_ino)
		return sockdiag__dump(fn, ctx);
	r = pthread_create(&t, NULL, open_in_netns, &o);
	if (r)
		return -r;
	pthread_join(t, NULL);
	if (o.result < 0)
		return o.result;
	r = dump_on(o.result, (uint32_t)st.st_ino, fn, ctx);
	close(o.result);
	return r;
}

bool sockdiag_sock__v4mapped(const struct sockdiag_sock *s)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return s->family == AF_INET6 && memcmp(s->saddr, prefix, sizeof(prefix)) == 0;
}

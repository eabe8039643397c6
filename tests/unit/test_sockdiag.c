// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The sock_diag snapshot against real loopback sockets made here: each must
 * be found with its state, ports, cookie (SO_COOKIE) and inode (fstat).
 * Only the network namespace test needs root, and fails without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockdiag.h"
#include "../netns.h"

/* cmocka's test signature takes a state most tests ignore; the Makefile
 * builds with -Wno-unused-parameter, this keeps a bare -Wextra quiet too. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

/* Kernel state numbers (include/net/tcp_states.h). */
enum {
	ESTABLISHED = 1,
	SYN_RECV = 3,
	FIN_WAIT2 = 5,
	TIME_WAIT = 6,
	CLOSE_WAIT = 8,
	LISTEN = 10,
};

#define WAIT_MS 5000	/* longest wait for the kernel to reach a state */

/* --- a snapshot collected into an array --------------------------------- */

struct snap {
	struct sockdiag_sock *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct sockdiag_sock *s)
{
	struct snap *sn = ctx;

	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? sn->cap * 2 : 1024;
		struct sockdiag_sock *v = realloc(sn->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sn->v = v;
		sn->cap = cap;
	}
	sn->v[sn->n++] = *s;
	return 0;
}

static void snap_take(struct snap *sn)
{
	sn->n = 0;
	assert_int_equal(sockdiag__dump(collect, sn), 0);
}

static void snap_free(struct snap *sn)
{
	free(sn->v);
	memset(sn, 0, sizeof(*sn));
}

static size_t snap_count(const struct snap *sn, uint64_t cookie)
{
	size_t n = 0;

	for (size_t i = 0; i < sn->n; i++)
		n += sn->v[i].cookie == cookie;
	return n;
}

static const struct sockdiag_sock *snap_find(const struct snap *sn, uint64_t cookie)
{
	for (size_t i = 0; i < sn->n; i++)
		if (sn->v[i].cookie == cookie)
			return &sn->v[i];
	return NULL;
}

/* Dump until the socket with this cookie is in state, for up to WAIT_MS:
 * loopback packets are processed in softirq, not always before the
 * syscall that sent them returns. */
static const struct sockdiag_sock *wait_state(struct snap *sn, uint64_t cookie, int state)
{
	for (int ms = 0; ms < WAIT_MS; ms += 10) {
		const struct sockdiag_sock *s;

		snap_take(sn);
		s = snap_find(sn, cookie);
		if (s && s->state == state)
			return s;
		usleep(10000);
	}
	return NULL;
}

/* --- sockets ------------------------------------------------------------- */

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len), 0);
	assert_true(c != 0);
	return c;
}

static uint64_t ino_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static uint32_t own_netns(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return (uint32_t)st.st_ino;
}

/* Loopback address of family, as the dump reports it (16 bytes). */
static void loopback(int family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (family == AF_INET) {
		addr[0] = 127;
		addr[3] = 1;
	} else {
		addr[15] = 1;
	}
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static socklen_t loopback_sockaddr(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_addr = in6addr_loopback;
	a6->sin6_port = htons(port);
	return sizeof(*a6);
}

/* A listener on the loopback address of family, on an ephemeral port.
 * Skips the test when IPv6 is not available here. */
static int listener(int family, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback_sockaddr(family, 0, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 && family == AF_INET6 && errno == EAFNOSUPPORT)
		skip();
	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		if (family == AF_INET6 && errno == EADDRNOTAVAIL)
			skip();
		fail_msg("bind: %s", strerror(errno));
	}
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback_sockaddr(family, port, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* An established loopback connection: listener, client and accepted end. */
struct pair {
	int family;
	int lfd, cfd, sfd;
	uint16_t lport, cport;
};

static void pair_open(struct pair *p, int family)
{
	p->family = family;
	p->lfd = listener(family, 8);
	p->lport = port_of(p->lfd);
	p->cfd = connect_to(family, p->lport);
	p->cport = port_of(p->cfd);
	p->sfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(p->sfd >= 0);
}

static void pair_close(struct pair *p)
{
	if (p->cfd >= 0)
		close(p->cfd);
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->lfd >= 0)
		close(p->lfd);
}

/* A live socket's entry: cookie, inode, owner, family, addresses, ports. */
static void assert_live(const struct sockdiag_sock *s, int fd, int family, int state,
			uint16_t sport, uint16_t dport)
{
	uint8_t lo[16], any[16] = { 0 };

	assert_non_null(s);
	loopback(family, lo);
	assert_int_equal(s->cookie, cookie_of(fd));
	assert_int_equal(s->ino, ino_of(fd));
	assert_int_equal(s->uid, geteuid());
	assert_int_equal(s->family, family);
	assert_int_equal(s->state, state);
	assert_int_equal(s->sport, sport);
	assert_int_equal(s->dport, dport);
	assert_memory_equal(s->saddr, lo, 16);
	assert_memory_equal(s->daddr, state == LISTEN ? any : lo, 16);
	assert_int_equal(s->netns, own_netns());
}

/* --- tests --------------------------------------------------------------- */

static void listeners(void **state)
{
	int l4 = listener(AF_INET, 7);
	int l6 = listener(AF_INET6, 9);
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;

	snap_take(&sn);
	s = snap_find(&sn, cookie_of(l4));
	assert_live(s, l4, AF_INET, LISTEN, port_of(l4), 0);
	assert_int_equal(s->wqueue, 7);		/* the backlog */
	assert_int_equal(s->rqueue, 0);
	assert_int_equal(s->timer, SOCKDIAG_TIMER_NONE);
	assert_int_equal(s->expires_ms, 0);
	s = snap_find(&sn, cookie_of(l6));
	assert_live(s, l6, AF_INET6, LISTEN, port_of(l6), 0);
	assert_int_equal(s->wqueue, 9);
	assert_false(sockdiag_sock__v4mapped(s));
	snap_free(&sn);
	close(l4);
	close(l6);
}

static void established(int family)
{
	struct pair p;
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;

	pair_open(&p, family);
	/* 3 unread bytes at the server end show in its receive queue. */
	assert_int_equal(write(p.cfd, "abc", 3), 3);
	for (int ms = 0; ms < WAIT_MS; ms += 10) {
		snap_take(&sn);
		s = snap_find(&sn, cookie_of(p.sfd));
		if (s && s->rqueue == 3)
			break;
		usleep(10000);
	}
	s = snap_find(&sn, cookie_of(p.cfd));
	assert_live(s, p.cfd, family, ESTABLISHED, p.cport, p.lport);
	assert_int_equal(snap_count(&sn, s->cookie), 1);
	s = snap_find(&sn, cookie_of(p.sfd));
	assert_live(s, p.sfd, family, ESTABLISHED, p.lport, p.cport);
	assert_int_equal(s->rqueue, 3);
	assert_int_equal(snap_count(&sn, s->cookie), 1);
	assert_false(sockdiag_sock__v4mapped(s));
	snap_free(&sn);
	pair_close(&p);
}

static void established_v4(void **state)
{
	established(AF_INET);
}

static void established_v6(void **state)
{
	established(AF_INET6);
}

/* Active close by the client, then the server: the client's end becomes a
 * timewait socket, which keeps the full socket's cookie. */
static void time_wait(int family)
{
	struct pair p;
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;
	uint8_t lo[16];
	uint64_t cookie;
	char c;

	pair_open(&p, family);
	cookie = cookie_of(p.cfd);
	close(p.cfd);
	p.cfd = -1;
	assert_int_equal(read(p.sfd, &c, 1), 0);	/* the client's FIN */
	close(p.sfd);
	p.sfd = -1;
	s = wait_state(&sn, cookie, TIME_WAIT);
	if (!s)
		fail_msg("the client's cookie %llu never showed in TIME_WAIT",
			 (unsigned long long)cookie);
	loopback(family, lo);
	assert_int_equal(s->family, family);
	assert_int_equal(s->sport, p.cport);
	assert_int_equal(s->dport, p.lport);
	assert_memory_equal(s->saddr, lo, 16);
	assert_memory_equal(s->daddr, lo, 16);
	assert_int_equal(s->timer, SOCKDIAG_TIMER_TIME_WAIT);
	assert_in_range(s->expires_ms, 1, 60000);
	assert_int_equal(s->ino, 0);
	assert_int_equal(s->uid, 0);
	assert_int_equal(snap_count(&sn, cookie), 1);
	snap_free(&sn);
	pair_close(&p);
}

static void time_wait_v4(void **state)
{
	time_wait(AF_INET);
}

static void time_wait_v6(void **state)
{
	time_wait(AF_INET6);
}

static int fin_timeout_s(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_fin_timeout", "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The client closes, the server does not: the server's end sits in
 * CLOSE_WAIT; the client's, orphaned, waits in FIN_WAIT2. */
static void close_wait(void **state)
{
	struct pair p;
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;
	uint64_t client;
	int fin_timeout = fin_timeout_s();

	pair_open(&p, AF_INET);
	client = cookie_of(p.cfd);
	close(p.cfd);
	p.cfd = -1;
	s = wait_state(&sn, cookie_of(p.sfd), CLOSE_WAIT);
	if (!s)
		fail_msg("the server end never showed in CLOSE_WAIT");
	assert_live(s, p.sfd, AF_INET, CLOSE_WAIT, p.lport, p.cport);
	assert_int_equal(s->rqueue, 1);		/* the FIN, unread */
	s = wait_state(&sn, client, FIN_WAIT2);
	if (!s)
		fail_msg("the closed client end never showed in FIN_WAIT2");
	assert_int_equal(s->sport, p.cport);
	assert_int_equal(s->dport, p.lport);
	assert_int_equal(s->ino, 0);		/* orphan: no file */
	/* With tcp_fin_timeout <= 60 s the kernel moves an orphan's FIN_WAIT2
	 * into a timewait socket (substate FIN_WAIT2); longer, the full socket
	 * waits on its keepalive timer first. */
	if (fin_timeout >= 0 && fin_timeout <= 60) {
		assert_int_equal(s->timer, SOCKDIAG_TIMER_TIME_WAIT);
		assert_in_range(s->expires_ms, 1, 60000);
	} else {
		assert_int_equal(s->timer, SOCKDIAG_TIMER_KEEPALIVE);
	}
	snap_free(&sn);
	pair_close(&p);
}

/* TCP_DEFER_ACCEPT keeps a handshake's request socket (NEW_SYN_RECV) until
 * data arrives: it is reported as SYN_RECV, and the accepted socket made
 * from it later carries the cookie the dump gave it. */
static void syn_recv(void **state)
{
	int lfd = listener(AF_INET, 8);
	int defer = 10, cfd, sfd;
	uint16_t lport = port_of(lfd), cport;
	struct snap sn = { 0 };
	const struct sockdiag_sock *req = NULL;
	uint64_t req_cookie;

	assert_int_equal(setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)), 0);
	cfd = connect_to(AF_INET, lport);
	cport = port_of(cfd);
	for (int ms = 0; ms < WAIT_MS && !req; ms += 10) {
		snap_take(&sn);
		for (size_t i = 0; i < sn.n; i++) {
			const struct sockdiag_sock *s = &sn.v[i];

			if (s->family == AF_INET && s->sport == lport && s->dport == cport &&
			    s->state == SYN_RECV)
				req = s;
		}
		if (!req)
			usleep(10000);
	}
	if (!req)
		fail_msg("no request socket for 127.0.0.1:%u -> :%u", lport, cport);
	assert_int_equal(req->timer, SOCKDIAG_TIMER_RETRANS);
	assert_int_equal(req->ino, 0);
	assert_true(req->cookie != cookie_of(lfd));
	assert_true(req->cookie != cookie_of(cfd));
	req_cookie = req->cookie;
	/* The client end completed its handshake. */
	assert_live(snap_find(&sn, cookie_of(cfd)), cfd, AF_INET, ESTABLISHED, cport, lport);
	assert_int_equal(write(cfd, "x", 1), 1);	/* completes the accept */
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);
	assert_int_equal(cookie_of(sfd), req_cookie);
	snap_free(&sn);
	close(sfd);
	close(cfd);
	close(lfd);
}

/* A dual-stack listener accepting an IPv4 connection: the accepted end is
 * AF_INET6 with ::ffff:127.0.0.1 addresses, listed once. */
static void v4mapped(void **state)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	static const uint8_t mapped_lo[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	int off = 0, lfd, cfd, sfd;
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;
	uint16_t lport, cport;

	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 && errno == EAFNOSUPPORT)
		skip();
	assert_true(lfd >= 0);
	assert_int_equal(setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	lport = port_of(lfd);
	cfd = connect_to(AF_INET, lport);
	cport = port_of(cfd);
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);

	snap_take(&sn);
	s = snap_find(&sn, cookie_of(sfd));
	assert_non_null(s);
	assert_int_equal(s->family, AF_INET6);
	assert_int_equal(s->state, ESTABLISHED);
	assert_int_equal(s->sport, lport);
	assert_int_equal(s->dport, cport);
	assert_int_equal(s->ino, ino_of(sfd));
	assert_memory_equal(s->saddr, mapped_lo, 16);
	assert_memory_equal(s->daddr, mapped_lo, 16);
	assert_true(sockdiag_sock__v4mapped(s));
	assert_int_equal(snap_count(&sn, s->cookie), 1);
	assert_live(snap_find(&sn, cookie_of(cfd)), cfd, AF_INET, ESTABLISHED, cport, lport);
	s = snap_find(&sn, cookie_of(lfd));
	assert_non_null(s);
	assert_int_equal(s->family, AF_INET6);
	assert_false(sockdiag_sock__v4mapped(s));
	snap_free(&sn);
	close(sfd);
	close(cfd);
	close(lfd);
}

/* More sockets than one netlink message holds (~300 per 32 KiB part): the
 * dump spans parts and loses or repeats none of them. */
#define MANY 700
static void multi_part(void **state)
{
	int fds[MANY];
	struct snap sn = { 0 };

	for (int i = 0; i < MANY; i++)
		fds[i] = listener(AF_INET, 1);
	snap_take(&sn);
	assert_true(sn.n >= MANY);
	for (int i = 0; i < MANY; i++) {
		uint64_t c = cookie_of(fds[i]);

		if (snap_count(&sn, c) != 1)
			fail_msg("listener %d (cookie %llu) listed %zu times", i,
				 (unsigned long long)c, snap_count(&sn, c));
	}
	snap_free(&sn);
	for (int i = 0; i < MANY; i++)
		close(fds[i]);
}

struct stop {
	int calls;
};

static int stop_at_first(void *ctx, const struct sockdiag_sock *s)
{
	((struct stop *)ctx)->calls++;
	return -42;
}

static void callback_stops_dump(void **state)
{
	int lfd = listener(AF_INET, 1);		/* at least one socket */
	struct stop st = { 0 };

	assert_int_equal(sockdiag__dump(stop_at_first, &st), -42);
	assert_int_equal(st.calls, 1);
	assert_int_equal(sockdiag__dump(NULL, NULL), -EINVAL);
	close(lfd);
}

static void bad_netns_fd(void **state)
{
	struct stop st = { 0 };
	int fd;

	assert_int_equal(sockdiag__dump_netns(-1, stop_at_first, &st), -EBADF);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(sockdiag__dump_netns(fd, stop_at_first, &st), -EINVAL);
	close(fd);
	/* A namespace, but not a network one. */
	fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(sockdiag__dump_netns(fd, stop_at_first, &st), -EINVAL);
	close(fd);
	assert_int_equal(sockdiag__dump_netns(0, NULL, NULL), -EINVAL);
	assert_int_equal(st.calls, 0);
}

/* Our own namespace by fd: no setns(), so no privilege needed. */
static void own_netns_by_fd(void **state)
{
	int lfd = listener(AF_INET, 3);
	int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;

	assert_true(nsfd >= 0);
	assert_int_equal(sockdiag__dump_netns(nsfd, collect, &sn), 0);
	s = snap_find(&sn, cookie_of(lfd));
	assert_live(s, lfd, AF_INET, LISTEN, port_of(lfd), 0);
	snap_free(&sn);
	close(nsfd);
	close(lfd);
}

/* --- the message walk, on crafted replies -------------------------------- */

struct msgbuf {
	_Alignas(struct nlmsghdr) char b[4096];
	size_t len;
};

static void put(struct msgbuf *m, uint16_t type, uint16_t flags, uint32_t seq,
		const void *payload, size_t plen)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_LENGTH(plen), .nlmsg_type = type,
			      .nlmsg_flags = flags, .nlmsg_seq = seq };

	assert_true(m->len + NLMSG_SPACE(plen) <= sizeof(m->b));
	memset(m->b + m->len, 0, NLMSG_SPACE(plen));
	memcpy(m->b + m->len, &h, sizeof(h));
	memcpy(m->b + m->len + NLMSG_HDRLEN, payload, plen);
	m->len += NLMSG_SPACE(plen);
}

static struct inet_diag_msg diag_msg(int family, int state, uint16_t sport, uint64_t cookie)
{
	struct inet_diag_msg d = { .idiag_family = (uint8_t)family,
				   .idiag_state = (uint8_t)state, .idiag_timer = 3,
				   .idiag_expires = 1234, .idiag_rqueue = 5,
				   .idiag_wqueue = 6, .idiag_uid = 1000, .idiag_inode = 99 };

	d.id.idiag_sport = htons(sport);
	d.id.idiag_dport = htons(443);
	d.id.idiag_cookie[0] = (uint32_t)cookie;
	d.id.idiag_cookie[1] = (uint32_t)(cookie >> 32);
	d.id.idiag_src[0] = htonl(0x7f000001);
	d.id.idiag_dst[0] = htonl(0x0a000002);
	d.id.idiag_src[3] = 0xdeadbeef;		/* stale bytes past an IPv4 address */
	return d;
}

static void parse_messages(void **state)
{
	struct msgbuf m = { .len = 0 };
	struct inet_diag_msg d1 = diag_msg(AF_INET, TIME_WAIT, 40000, 0x1122334455667788ULL);
	struct inet_diag_msg d2 = diag_msg(AF_INET6, LISTEN, 80, 7);
	struct inet_diag_msg other = diag_msg(AF_INET, LISTEN, 1, 8);
	static const uint8_t v4src[16] = { 127, 0, 0, 1 }, v4dst[16] = { 10, 0, 0, 2 };
	struct snap sn = { 0 };
	int done = 0;

	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 5, &d1, sizeof(d1));
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 4, &other, sizeof(other));	/* stale */
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 5, &d2, sizeof(d2));
	assert_int_equal(sockdiag__parse(m.b, m.len, 5, 4242, collect, &sn), 0);
	assert_int_equal(sn.n, 2);
	assert_int_equal(sn.v[0].cookie, 0x1122334455667788ULL);
	assert_int_equal(sn.v[0].family, AF_INET);
	assert_int_equal(sn.v[0].state, TIME_WAIT);
	assert_int_equal(sn.v[0].sport, 40000);
	assert_int_equal(sn.v[0].dport, 443);
	assert_memory_equal(sn.v[0].saddr, v4src, 16);
	assert_memory_equal(sn.v[0].daddr, v4dst, 16);
	assert_int_equal(sn.v[0].timer, 3);
	assert_int_equal(sn.v[0].expires_ms, 1234);
	assert_int_equal(sn.v[0].rqueue, 5);
	assert_int_equal(sn.v[0].wqueue, 6);
	assert_int_equal(sn.v[0].uid, 1000);
	assert_int_equal(sn.v[0].ino, 99);
	assert_int_equal(sn.v[0].netns, 4242);
	assert_int_equal(sn.v[1].cookie, 7);
	assert_int_equal(sn.v[1].family, AF_INET6);
	assert_int_equal(sn.v[1].saddr[12], 0xef);	/* IPv6 keeps all 16 bytes */

	/* NLMSG_DONE ends it, with the dump's own status (0) after it. */
	m.len = 0;
	put(&m, NLMSG_DONE, NLM_F_MULTI, 5, &done, sizeof(done));
	assert_int_equal(sockdiag__parse(m.b, m.len, 5, 0, collect, &sn), 1);
	assert_int_equal(sn.n, 2);
	snap_free(&sn);
}

static void parse_errors(void **state)
{
	struct msgbuf m = { .len = 0 };
	struct nlmsgerr e = { .error = -EPERM };
	struct inet_diag_msg d = diag_msg(AF_INET, LISTEN, 80, 1);
	int enoent = -ENOENT;
	struct stop st = { 0 };
	struct snap sn = { 0 };

	put(&m, NLMSG_ERROR, 0, 9, &e, sizeof(e));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), -EPERM);
	/* An acknowledgement (error 0) is no error. */
	m.len = 0;
	e.error = 0;
	put(&m, NLMSG_ERROR, 0, 9, &e, sizeof(e));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), 0);
	/* The dump's failure, carried by NLMSG_DONE. */
	m.len = 0;
	put(&m, NLMSG_DONE, NLM_F_MULTI, 9, &enoent, sizeof(enoent));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), -ENOENT);
	/* The kernel flagged the dump inconsistent. */
	m.len = 0;
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | NLM_F_DUMP_INTR, 9, &d, sizeof(d));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), -EINTR);
	/* A socket message too short to hold an inet_diag_msg. */
	m.len = 0;
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 9, &d, sizeof(d) - 4);
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), -EPROTO);
	/* A datagram cut inside a header. */
	m.len = 0;
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 9, &d, sizeof(d));
	assert_int_equal(sockdiag__parse(m.b, m.len + 8, 9, 0, collect, &sn), -EPROTO);
	/* An unknown message type. */
	m.len = 0;
	put(&m, 0x99, 0, 9, &d, sizeof(d));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, collect, &sn), -EPROTO);
	/* The callback's stop value comes back as is; nothing after it runs. */
	m.len = 0;
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 9, &d, sizeof(d));
	put(&m, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 9, &d, sizeof(d));
	assert_int_equal(sockdiag__parse(m.b, m.len, 9, 0, stop_at_first, &st), -42);
	assert_int_equal(st.calls, 1);
	snap_free(&sn);
}

/* What the child in a new network namespace reports to the parent. */
struct child_report {
	int err;		/* errno of the step that failed, 0 if none */
	char step[32];
	uint64_t cookie, ino;
	uint16_t port;
};

static void child_fail(int fd, struct child_report *r, const char *step)
{
	r->err = errno;
	snprintf(r->step, sizeof(r->step), "%s", step);
	if (write(fd, r, sizeof(*r)) != sizeof(*r))
		_exit(1);
	_exit(1);
}

/* In a forked child: a new network namespace, lo up, a listener on
 * 127.0.0.1; report it, then wait for the parent to close the pipe. */
static void netns_child(int report_fd, int wait_fd)
{
	struct child_report r = { 0 };
	struct sockaddr_storage ss;
	struct stat st;
	socklen_t len;
	int fd;
	char c;

	const char *what;

	if (netns__fresh(&what))
		child_fail(report_fd, &r, what);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = loopback_sockaddr(AF_INET, 0, &ss);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4))
		child_fail(report_fd, &r, "listener");
	len = sizeof(r.cookie);
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &r.cookie, &len))
		child_fail(report_fd, &r, "SO_COOKIE");
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		child_fail(report_fd, &r, "getsockname");
	r.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (fstat(fd, &st))
		child_fail(report_fd, &r, "fstat");
	r.ino = st.st_ino;
	if (write(report_fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	while (read(wait_fd, &c, 1) > 0)
		;
	_exit(0);
}

static void netns_dump(void **state)
{
	int report[2], hold[2], nsfd, status;
	struct child_report r;
	struct snap sn = { 0 };
	const struct sockdiag_sock *s;
	char path[64];
	struct stat nsst;
	uint32_t mine = own_netns();
	pid_t pid;

	if (geteuid() != 0)
		fail_msg("needs root: creates a network namespace (unshare(CLONE_NEWNET)) "
			 "and dumps it through setns(); run the unit tests as root");
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(report[0]);
		close(hold[1]);
		netns_child(report[1], hold[0]);
	}
	close(report[1]);
	close(hold[0]);
	assert_int_equal(read(report[0], &r, sizeof(r)), sizeof(r));
	if (r.err)
		fail_msg("child: %s: %s", r.step, strerror(r.err));

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(nsfd >= 0);
	assert_int_equal(fstat(nsfd, &nsst), 0);
	assert_true(nsst.st_ino != mine);

	/* The child's namespace: its listener, and everything tagged with it. */
	assert_int_equal(sockdiag__dump_netns(nsfd, collect, &sn), 0);
	s = snap_find(&sn, r.cookie);
	if (!s)
		fail_msg("the dump of netns %llu lacks the child's listener",
			 (unsigned long long)nsst.st_ino);
	assert_int_equal(s->state, LISTEN);
	assert_int_equal(s->sport, r.port);
	assert_int_equal(s->ino, r.ino);
	for (size_t i = 0; i < sn.n; i++)
		assert_int_equal(sn.v[i].netns, (uint32_t)nsst.st_ino);

	/* Our own namespace: not the child's listener; and this thread never
	 * left it. */
	snap_take(&sn);
	assert_null(snap_find(&sn, r.cookie));
	for (size_t i = 0; i < sn.n; i++)
		assert_int_equal(sn.v[i].netns, mine);
	assert_int_equal(own_netns(), mine);

	snap_free(&sn);
	close(nsfd);
	close(hold[1]);		/* the child exits */
	close(report[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listeners),
		cmocka_unit_test(established_v4),
		cmocka_unit_test(established_v6),
		cmocka_unit_test(time_wait_v4),
		cmocka_unit_test(time_wait_v6),
		cmocka_unit_test(close_wait),
		cmocka_unit_test(syn_recv),
		cmocka_unit_test(v4mapped),
		cmocka_unit_test(multi_part),
		cmocka_unit_test(callback_stops_dump),
		cmocka_unit_test(parse_messages),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(bad_netns_fd),
		cmocka_unit_test(own_netns_by_fd),
		cmocka_unit_test(netns_dump),
	};

	const char *what;

	/* The tests listen and connect on loopback: in a namespace of their
	 * own, a host whose ports are all taken cannot fail them. */
	if (geteuid() == 0 && netns__fresh(&what)) {
		fprintf(stderr, "test_sockdiag: %s: %s\n", what, strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}

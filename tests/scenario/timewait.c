// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections that end in TIME_WAIT, on loopback.
 *
 * usage: timewait MODE [N]
 *   active    one connection, the client closes first: its side ends in
 *             TIME_WAIT for 60 s; closed_ns is when (CLOCK_MONOTONIC)
 *   burst N   N such connections to one server port
 *   rearm N   N connections whose client's timewait socket is born in the
 *             FIN_WAIT2 substate and has its timer moved: the client shuts
 *             down writing, waits for the ACK (FIN_WAIT2), then closes; the
 *             server's FIN comes after
 *   reuse     as active, from a fixed local port; then, once the kernel
 *             allows it (tcp_tw_reuse needs the timewait socket to be a
 *             second old), a new connection from the same port to the same
 *             server takes over the 4-tuple
 *   simultaneous N
 *             N connections whose FINs cross by construction: lo's queue
 *             holds packets (below), both ends shut down writing, and
 *             neither FIN is delivered before both are sent, so each end
 *             gets the other's FIN in FIN_WAIT1 with its own unacked and
 *             passes CLOSING. Needs a network namespace of its own (the
 *             live tests give it theirs): it changes lo's qdisc and MTU.
 *             Reports the client ports of the connections it made so, and
 *             the tries it took (a try fails when a FIN got through early:
 *             the process was held up for longer than the hold)
 *   hold      one connection, the client closes first; the server reads
 *             the EOF and holds its end (the client's is a timewait socket
 *             in the FIN_WAIT2 substate): a first line with the ports and
 *             closed_ns; then, on a line on stdin, the server closes (its
 *             FIN ends the client's FIN_WAIT2) and a second line says
 *             when (server_closed_ns); another line on stdin ends it
 *   hold kill as hold, but after the server's close the client's timewait
 *             socket (in TIME_WAIT by then) is destroyed through sock_diag
 *             (SOCK_DESTROY, as ss -K does): killed_ns, or kill_error
 * Prints one JSON line: the server port, the client port(s). */
#include "scenario.h"

#include <linux/inet_diag.h>
#include <linux/pkt_sched.h>
#include <linux/sock_diag.h>
#include <linux/rtnetlink.h>
#include <linux/tcp.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>

/* CLOCK_MONOTONIC (the records' mono_ns clock) just before the last
 * client's close(). */
static long long closed_ns;

static long long mono_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* Destroy the IPv4 loopback socket sport -> dport through sock_diag, a
 * timewait socket included: 0 or -errno. */
static int sock_destroy(uint16_t sport, uint16_t dport)
{
	struct {
		struct nlmsghdr n;
		struct inet_diag_req_v2 r;
	} req = {
		.n = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DESTROY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.r = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0U,
		       .id = { .idiag_sport = htons(sport), .idiag_dport = htons(dport),
			       .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
	};
	struct {
		struct nlmsghdr n;
		struct nlmsgerr e;
	} ack;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), err = -EIO;

	if (fd < 0)
		return -errno;
	req.r.id.idiag_src[0] = req.r.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	if (send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req) &&
	    recv(fd, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack) && ack.n.nlmsg_type == NLMSG_ERROR)
		err = ack.e.error;
	close(fd);
	return err;
}

/* The client closes; the server holds its end until told, then closes;
 * with kill, the client's timewait socket is then destroyed. */
static void hold(int lfd, uint16_t port, bool kill)
{
	int cfd = connect_to(AF_INET, port), afd = accept(lfd, NULL, NULL);
	uint16_t cport = local_port(cfd);

	if (afd < 0)
		die("accept");
	closed_ns = mono_ns();
	close(cfd);
	expect_eof(afd);	/* the client's FIN is in, and acknowledged */
	printf("{\"port\":%u,\"client_port\":%u,\"closed_ns\":%lld}\n", port, cport, closed_ns);
	fflush(stdout);
	wait_go();
	{
		long long at = mono_ns();

		close(afd);
		if (!kill) {
			printf("{\"server_closed_ns\":%lld}\n", at);
		} else {
			struct timespec d = { 0, 100000000 };	/* its FIN in, over lo */
			int err;

			nanosleep(&d, NULL);
			err = sock_destroy(cport, port);
			if (err)
				printf("{\"server_closed_ns\":%lld,\"kill_error\":\"%s\"}\n", at,
				       strerror(-err));
			else
				printf("{\"server_closed_ns\":%lld,\"killed_ns\":%lld}\n", at,
				       mono_ns());
		}
	}
	fflush(stdout);
	wait_go();
}

/* One connection from fd (already bound or not) to port: the client closes
 * first, the server reads EOF and closes. Returns the client's port. */
static uint16_t one(int lfd, int cfd, uint16_t port)
{
	struct endpoint ep;
	uint16_t cport;
	int afd;

	loopback(&ep, AF_INET, port);
	if (connect(cfd, (struct sockaddr *)&ep.ss, ep.len))
		die("connect");
	cport = local_port(cfd);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	{
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		closed_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
	}
	close(cfd);		/* active close: the client keeps TIME_WAIT */
	expect_eof(afd);
	close(afd);
	return cport;
}

#define FIN_WAIT2 5	/* include/net/tcp_states.h */

/* The client's TCP state, from TCP_INFO. */
static int tcp_state_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		die("TCP_INFO");
	return ti.tcpi_state;
}

/* As one(), but the client is in FIN_WAIT2 when it closes: its timewait
 * socket is born in that substate, and the server's FIN moves its timer. */
static void one_rearmed(int lfd, int cfd, uint16_t port)
{
	struct endpoint ep;
	int afd;

	loopback(&ep, AF_INET, port);
	if (connect(cfd, (struct sockaddr *)&ep.ss, ep.len))
		die("connect");
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	if (shutdown(cfd, SHUT_WR))
		die("shutdown");
	expect_eof(afd);
	/* The server's ACK of the FIN is on its way over lo, not yet in. */
	while (tcp_state_of(cfd) != FIN_WAIT2)
		sched_yield();
	close(cfd);
	close(afd);
}

#define NO_BIND 0xffffffffU

/* bind_port 0: bind() picks the port (so a later bind() may take it again). */
static int client_socket(uint32_t bind_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one_ = 1;
	struct endpoint ep;

	if (fd < 0)
		die("socket");
	/* Both sockets of a reuse need it, or bind() refuses the port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_));
	if (bind_port != NO_BIND) {
		loopback(&ep, AF_INET, (uint16_t)bind_port);
		if (bind(fd, (struct sockaddr *)&ep.ss, ep.len))
			die("bind %u", bind_port);
	}
	return fd;
}

/* The hold: a token bucket filter (tbf) as lo's root qdisc, HOLD_RATE
 * bytes a second with a bucket of HOLD_BURST bytes, which is lo's MTU
 * (lowered to HOLD_MTU for it) plus its link header. A datagram that
 * empties the bucket, then every packet after it waits its size's worth of
 * refill, in order: a FIN (66 bytes) about 30 ms. The handshake fits in a
 * full bucket and passes at once. */
#define HOLD_MTU 256
#define HOLD_BURST (HOLD_MTU + 14)
#define HOLD_RATE 2000
#define DRAIN_LEN (HOLD_BURST - 4 - 14 - 20 - 8)	/* UDP payload: 4 bytes short */

struct nlreq {
	struct nlmsghdr n;
	struct tcmsg t;
	char attrs[256];
};

static struct rtattr *rta_add(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

/* Send one request and read its ack: 0 or -errno. */
static int rtnl_call(struct nlreq *r)
{
	struct {
		struct nlmsghdr n;
		struct nlmsgerr e;
	} ack;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), err = -EIO;

	if (fd < 0)
		die("netlink socket");
	if (send(fd, r, r->n.nlmsg_len, 0) == (ssize_t)r->n.nlmsg_len &&
	    recv(fd, &ack, sizeof(ack), 0) >= (ssize_t)sizeof(ack) && ack.n.nlmsg_type == NLMSG_ERROR)
		err = ack.e.error;
	close(fd);
	return err;
}

/* lo's root qdisc: a tbf (add) or the default (!add). 0 or -errno. */
static int lo_qdisc(bool add)
{
	struct nlreq r = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		       .nlmsg_type = add ? RTM_NEWQDISC : RTM_DELQDISC,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0) },
		.t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = (int)if_nametoindex("lo"),
		       .tcm_parent = TC_H_ROOT },
	};
	struct tc_tbf_qopt q = { .rate = { .linklayer = TC_LINKLAYER_ETHERNET, .rate = HOLD_RATE },
				 .limit = 65536 };
	uint32_t burst = HOLD_BURST;
	struct rtattr *opts;

	if (!add)
		return rtnl_call(&r);
	rta_add(&r, TCA_KIND, "tbf", 4);
	opts = rta_add(&r, TCA_OPTIONS, NULL, 0);
	rta_add(&r, TCA_TBF_PARMS, &q, sizeof(q));
	rta_add(&r, TCA_TBF_BURST, &burst, sizeof(burst));
	opts->rta_len = (unsigned short)((char *)&r + r.n.nlmsg_len - (char *)opts);
	return rtnl_call(&r);
}

static void lo_mtu(int mtu)
{
	struct ifreq ifr = { .ifr_name = "lo", .ifr_mtu = mtu };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || ioctl(fd, SIOCSIFMTU, &ifr))
		die("lo mtu %d", mtu);
	close(fd);
}

/* lo's qdisc and MTU are the namespace's: never the host's. kthreadd
 * (pid 2) is in the first namespace, and readable where init may not be. */
static void need_own_netns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/2/ns/net", &init))
		die("network namespace");
	if (self.st_ino == init.st_ino) {
		errno = 0;
		die("simultaneous changes lo's qdisc: run it in a network namespace of its own");
	}
}

static struct tcp_info tcp_info_of(int fd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		die("TCP_INFO");
	return ti;
}

#define STATE_FIN_WAIT1 4	/* the kernel's TCP_FIN_WAIT1 (net/tcp_states.h) */

/* Its FIN is out (in lo's queue) and no FIN has come in. */
static bool fin_in_flight(int fd)
{
	struct tcp_info ti = tcp_info_of(fd);

	return ti.tcpi_state == STATE_FIN_WAIT1 && ti.tcpi_notsent_bytes == 0;
}

/* One connection whose FINs cross; returns the client's port, or 0 when a
 * FIN got through before both were sent (the connection still ends). */
static uint16_t crossed(int lfd, uint16_t port, int udp, const struct endpoint *sink)
{
	static const char drain[DRAIN_LEN];
	int a = connect_to(AF_INET, port), b = accept(lfd, NULL, NULL);
	uint16_t cport = local_port(a);
	bool held;

	if (b < 0)
		die("accept");
	/* Whatever is in the bucket, this leaves it empty behind it. */
	if (sendto(udp, drain, sizeof(drain), 0, (const struct sockaddr *)&sink->ss, sink->len) < 0)
		die("sendto");
	if (shutdown(a, SHUT_WR) || shutdown(b, SHUT_WR))
		die("shutdown");
	held = fin_in_flight(a) && fin_in_flight(b);
	expect_eof(a);
	expect_eof(b);
	close(a);
	close(b);
	return held ? cport : 0;
}

/* want connections whose FINs crossed, in at most 4 * want tries. */
static void simultaneous(int lfd, uint16_t port, int want)
{
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err, made = 0, tries = 0;
	struct endpoint sink;

	need_own_netns();
	loopback(&sink, AF_INET, 0);
	if (udp < 0 || bind(udp, (struct sockaddr *)&sink.ss, sink.len) ||
	    getsockname(udp, (struct sockaddr *)&sink.ss, &sink.len))
		die("udp sink");
	lo_mtu(HOLD_MTU);
	if ((err = lo_qdisc(true))) {
		printf("{\"port\":%u,\"error\":\"tbf qdisc on lo: %s\"}\n", port, strerror(-err));
		return;
	}
	printf("{\"port\":%u,\"client_ports\":[", port);
	while (made < want && tries++ < 4 * want) {
		uint16_t cport = crossed(lfd, port, udp, &sink);

		if (cport)
			printf("%s%u", made++ ? "," : "", cport);
	}
	printf("],\"tries\":%d}\n", tries);
	lo_qdisc(false);
	lo_mtu(65536);
	close(udp);
}

int main(int argc, char **argv)
{
	int lfd;
	uint16_t port;

	if (argc < 2) {
		fprintf(stderr, "usage: timewait active|burst N|rearm N|simultaneous N|reuse|hold\n");
		return 2;
	}
	lfd = listen_on(AF_INET, 0);
	port = local_port(lfd);

	if (strcmp(argv[1], "active") == 0) {
		uint16_t cport = one(lfd, client_socket(NO_BIND), port);

		printf("{\"port\":%u,\"client_port\":%u,\"closed_ns\":%lld}\n", port, cport,
		       closed_ns);
	} else if (strcmp(argv[1], "burst") == 0 && argc == 3) {
		int n = atoi(argv[2]);

		for (int i = 0; i < n; i++)
			one(lfd, client_socket(NO_BIND), port);
		printf("{\"port\":%u,\"count\":%d}\n", port, n);
	} else if (strcmp(argv[1], "rearm") == 0 && argc == 3) {
		int n = atoi(argv[2]);

		for (int i = 0; i < n; i++)
			one_rearmed(lfd, client_socket(NO_BIND), port);
		printf("{\"port\":%u,\"count\":%d}\n", port, n);
	} else if (strcmp(argv[1], "hold") == 0) {
		hold(lfd, port, argc == 3 && strcmp(argv[2], "kill") == 0);
	} else if (strcmp(argv[1], "simultaneous") == 0 && argc == 3) {
		simultaneous(lfd, port, atoi(argv[2]));
	} else if (strcmp(argv[1], "reuse") == 0) {
		uint16_t cport = one(lfd, client_socket(0), port);
		struct timespec until;
		uint16_t again;

		/* tcp_twsk_unique() lets a connect() take the 4-tuple once the
		 * timewait socket's last timestamp is a whole second old. */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 2;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
		again = one(lfd, client_socket(cport), port);
		printf("{\"port\":%u,\"client_port\":%u,\"second_client_port\":%u}\n", port, cport,
		       again);
	} else {
		fprintf(stderr, "timewait: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	close(lfd);
	return 0;
}

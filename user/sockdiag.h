/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A snapshot of every TCP socket of a network namespace, taken through
 * sock_diag netlink as `ss -tan` does. Tracing only sees transitions: this
 * shows the sockets that were already there when tracing started, TIME_WAIT
 * sockets (no state tracepoint reports them) and request sockets, each with
 * the cookie that ties it to traced records. Plain netlink, no libmnl:
 * Debian ships no libmnl.a and the static binary must link. */
#ifndef SOCKDIAG_H
#define SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values of sockdiag_sock.timer (idiag_timer). */
enum sockdiag_timer {
	SOCKDIAG_TIMER_NONE = 0,
	SOCKDIAG_TIMER_RETRANS = 1,	/* also SYN-ACK retransmit of a request */
	SOCKDIAG_TIMER_KEEPALIVE = 2,	/* also the FIN_WAIT2 timer of an orphan */
	SOCKDIAG_TIMER_TIME_WAIT = 3,	/* a timewait socket */
	SOCKDIAG_TIMER_PROBE0 = 4,	/* zero window probe */
};

/* One socket as the kernel reports it. Four kinds of kernel object come
 * through, told apart by state, timer and ino:
 * - full sockets: any state; ino and uid are 0 once no file refers to
 *   the socket (orphans after close()).
 * - timewait sockets (timer 3, ino 0, uid 0): state is TIME_WAIT, or
 *   FIN_WAIT2 for an orphan whose FIN_WAIT2 wait the kernel moved into
 *   a timewait socket. The cookie is the full socket's: it is copied over.
 * - request sockets (NEW_SYN_RECV in the kernel) are reported with state
 *   SYN_RECV (3), timer 1, ino 0. The full socket made from one when the
 *   handshake completes inherits its cookie (inet_csk_clone_lock()).
 * - on 6.8+, bound-only sockets (bind() without listen or connect) with
 *   state CLOSE (7): the kernel selects them by TCPF_BOUND_INACTIVE but
 *   reports their real state.
 * A dual-stack AF_INET6 socket carrying IPv4 keeps family AF_INET6 and
 * ::ffff:a.b.c.d addresses, as the tracer's records show it; it is
 * reported once, in the AF_INET6 part of the dump. */
struct sockdiag_sock {
	uint64_t cookie;	/* never 0: the dump makes one for a socket that
				 * had none, the same bpf_get_socket_cookie()
				 * returns for it later */
	uint64_t ino;		/* socket inode; 0 if no file refers to it */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t state;		/* kernel TCP state number, see above */
	uint8_t timer;		/* enum sockdiag_timer */
	uint8_t pad;
	uint16_t sport;		/* host order */
	uint16_t dport;		/* host order; 0 for listeners */
	uint8_t saddr[16];	/* IPv4 in the first 4 bytes, the rest 0 */
	uint8_t daddr[16];
	uint32_t uid;
	uint32_t expires_ms;	/* until the timer fires; 0 without a timer */
	uint32_t rqueue;	/* unread bytes (a FIN counts one); listeners:
				 * accept queue length */
	uint32_t wqueue;	/* unacked bytes; listeners: the backlog */
	uint32_t netns;		/* inode of the namespace dumped (nsfs); 0 if unknown */
	uint32_t last_recv_ms;	/* since the last segment from the peer (tcp_info);
				 * UINT32_MAX when the kernel gave none */
};

/* Return 0 to go on, < 0 to stop the dump. */
typedef int (*sockdiag_fn)(void *ctx, const struct sockdiag_sock *s);

/* Dump every TCP socket of the calling thread's network namespace, AF_INET
 * then AF_INET6, calling fn for each. Needs no privileges. Like ss, the
 * dump is not atomic: a socket that changes meanwhile may be missed or seen
 * twice (key by cookie). Returns 0; fn's value if it stopped the dump; or
 * -errno: -ENOENT the kernel has no TCP sock_diag (tcp_diag not loaded),
 * -ENOBUFS the kernel dropped part of the dump (sockets already passed to
 * fn are real but the set is incomplete: call again), -EINTR the kernel
 * flagged the dump inconsistent, -EPROTO a malformed reply, -EINVAL fn is
 * NULL, or socket()'s errors (-EMFILE, ...). */
int sockdiag__dump(sockdiag_fn fn, void *ctx);

/* The same for the network namespace behind netns_fd (/proc/PID/ns/net or
 * a bind mount of it). A short-lived helper thread enters the namespace and
 * creates the netlink socket there; the socket keeps that namespace, and
 * the calling thread never leaves its own, even on error. Needs
 * CAP_SYS_ADMIN over the target namespace unless it is the caller's own:
 * -EPERM otherwise; -EINVAL if the fd is not a network namespace; -EBADF
 * if it is not an open fd. */
int sockdiag__dump_netns(int netns_fd, sockdiag_fn fn, void *ctx);

/* The message walk of a dump, pure so tests can feed it crafted replies:
 * one received datagram answering request seq, fn called for each socket
 * with netns stored in it. Messages of other sequence numbers are skipped.
 * Returns 0 when more is to come, 1 at NLMSG_DONE, or < 0 as above. */
int sockdiag__parse(const void *buf, size_t len, uint32_t seq, uint32_t netns,
		    sockdiag_fn fn, void *ctx);

/* An AF_INET6 socket whose local address is IPv4-mapped: it carries IPv4. */
bool sockdiag_sock__v4mapped(const struct sockdiag_sock *s);

#endif /* SOCKDIAG_H */

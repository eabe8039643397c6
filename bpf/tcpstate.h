/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Records passed from the BPF programs to user space through the ring buffer.
 * Included by both sides: only fixed-width kernel UAPI types here. */
#ifndef TCPSTATE_H
#define TCPSTATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TS_COMM_LEN 16
#define TS_MAX_PORTS 64
/* Ways per bucket of the kernel's socket and timewait tables. */
#define TS_TABLE_WAYS 4
/* Listening sockets whose owners the kernel side keeps (all namespaces
 * traced together). */
#define TS_MAX_LISTENERS 16384

enum ts_event_type {
	TS_EV_STATE = 1,	/* sock:inet_sock_set_state for a TCP socket */
	TS_EV_CLOSE,		/* a file reference to a TCP socket dropped */
	TS_EV_SHUTDOWN,		/* shutdown() reached TCP */
	TS_EV_RESET,		/* RST sent or received */
	TS_EV_ACCEPT,		/* accept() returned the socket: its owner and inode */
	TS_EV_TW_REARM,		/* a timewait socket's timer was set again (internal) */
	TS_EV__MAX = TS_EV_TW_REARM,
};

/* Why a timewait socket ended (TIME_WAIT -> CLOSE records). */
enum ts_tw_reason {
	TS_TW_EXPIRED = 1,	/* the timer ran out */
	TS_TW_REUSED,		/* connect() took the 4-tuple (tcp_tw_reuse) */
	TS_TW_KILLED,		/* reset, a SYN reusing it, netns teardown, ... */
};

/* How a close record's reference was dropped. */
enum ts_close_via {
	TS_VIA_CLOSE = 1,	/* close(2) */
	TS_VIA_EXIT,		/* the process exited holding the descriptor */
	TS_VIA_OTHER,		/* seen only by tcp_close: dup2, close_range, ... */
};

enum ts_reset_dir {
	TS_RESET_SENT = 1,
	TS_RESET_RECEIVED,
};

/* Which hook reports the final close and shutdown as TCP sees them. */
enum ts_close_hook {
	TS_CLOSE_HOOK_TRACEPOINT = 0,	/* syscall tracepoints and process exit */
	TS_CLOSE_HOOK_FENTRY,
	TS_CLOSE_HOOK_KPROBE,
};

/* Where the owner (pid, comm) of an event came from. */
enum ts_owner_src {
	TS_OWNER_NONE = 0,	/* not known: no syscall-context moment seen yet */
	TS_OWNER_SYSCALL = 1,	/* recorded at connect/listen/accept/close/shutdown */
	TS_OWNER_LISTENER = 2,	/* not yet accepted: the listening socket's owner */
};

enum ts_event_flags {
	TS_EVF_PREV_KNOWN = 1 << 0,	/* prev_state_ns is valid */
	TS_EVF_SYNTH_COOKIE = 1 << 1,	/* cookie assigned by the tracer, not the kernel */
	TS_EVF_TIMEWAIT = 1 << 2,	/* derived from the timewait socket, not the tracepoint */
	TS_EVF_TENTATIVE = 1 << 3,	/* a TIME_WAIT end a TW_REARM record may still cancel */
	TS_EVF_GAP = 1 << 4,		/* transitions of this socket before this one were not seen */
	TS_EVF_FROM_DUMP = 1 << 5,	/* user space only: not reported; a sock_diag dump
					 * found the socket in newstate (time: the dump's) */
	TS_EVF_DERIVED = 1 << 6,	/* a timewait socket's FIN_WAIT2 -> TIME_WAIT not
					 * seen as it happened: its time is derived from
					 * the timer (re-armed to 60 s by the peer's FIN).
					 * On TIME_WAIT -> CLOSE: prev_state_ns counts from
					 * that derived moment */
};

/* Per-CPU counters; summed by user space. */
enum ts_stat {
	TS_STAT_EVENTS,		/* records submitted to the ring buffer */
	TS_STAT_DROPPED,	/* records lost: ring buffer full */
	TS_STAT_UNTRACKED,	/* transitions of sockets the tracer had no entry for */
	TS_STAT_SOCK_FULL,	/* a live socket's entry taken by another: owner/timing lost */
	TS_STAT_TW_HANDOFFS,	/* full sockets replaced by a timewait socket */
	TS_STAT_TW_FULL,	/* a followed timewait socket's entry taken by another */
	TS_STAT_GAPS,		/* transitions not seen: a later one started elsewhere */
	TS_STAT_LISTEN_FULL,	/* a listener the listeners map had no room for: its
				 * children carry no owner until accepted */
	TS_STAT_EXIT_SCAN_CUT,	/* process exits whose descriptor walk hit its bound:
				 * closes of the descriptors past it not reported */
	TS_STAT__MAX,
};

/* How the state program computes socket cookies; chosen by user space. */
enum ts_cookie_mode {
	TS_COOKIE_HELPER = 0,	/* bpf_get_socket_cookie() (tp_btf, kernel >= 5.12) */
	TS_COOKIE_READ = 1,	/* skc_cookie when set, else a tracer-assigned id */
};

/* Tracer-assigned cookies: bit 52 set, the CPU in bits 40-51, the time in
 * ns below. Kernel cookies are a counter that never gets near 2^52,
 * and everything stays below 2^53, exact in a JSON reader's doubles. */
#define TS_SYNTH_COOKIE_BIT (1ULL << 52)

/* What the BPF programs put in the ring: a 40-byte head every record has,
 * then, where wflags say so, the owner and the socket's identity. A socket's
 * identity goes out with its first record and again whenever it may have
 * changed or records were dropped since; its owner whenever it changes.
 * User space (user/wire.c) keeps both per cookie and rebuilds a whole
 * struct ts_event from every record. */
enum ts_wire_flags {
	TS_WF_OWNER = 1 << 0,	/* struct ts_wire_owner follows the head */
	TS_WF_IDENT = 1 << 1,	/* and struct ts_wire_ident after it (implies OWNER) */
};

struct ts_wire {
	__u64 mono_ns;
	__u64 cookie;
	union {
		__u64 prev_state_ns;	/* state: if TS_EVF_PREV_KNOWN */
		struct {
			__s32 fd;	/* close, shutdown, accept: -1 if not known */
			__u32 refs;	/* close: before; shutdown: at the call */
		};
	};
	__u32 drop_gen;		/* as ts_event.drop_gen */
	__u8 type;		/* enum ts_event_type */
	__u8 flags;		/* enum ts_event_flags */
	__u8 oldstate;
	__u8 newstate;
	__u8 wflags;		/* enum ts_wire_flags */
	__u8 tw_substate;
	__u8 tw_reason;
	__u8 arg;		/* close: via; shutdown: how; reset: direction */
	__u8 final;		/* close: the last reference */
	__u8 pad[3];
};

/* The socket's owner, or for close and shutdown the caller. */
struct ts_wire_owner {
	__u32 pid;
	__u8 owner_src;		/* enum ts_owner_src */
	__u8 pad[3];
	char comm[TS_COMM_LEN];
	__u64 cgroup_id;	/* the owner's cgroup v2 id; 0: not known */
};

struct ts_wire_ident {
	__u64 skaddr;
	__u64 ino;		/* 0: not known yet */
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 pad2;
};

struct ts_wire_owned {
	struct ts_wire w;
	struct ts_wire_owner o;
};

struct ts_wire_full {
	struct ts_wire w;
	struct ts_wire_owner o;
	struct ts_wire_ident id;
};

/* User space's decoded record, one type for every kind: what the engine,
 * the outputs and recordings take. pid/comm: the socket's owner for state
 * and reset records, the calling process for close and shutdown. */
struct ts_event {
	__u64 mono_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;
	__u64 skaddr;
	__u64 prev_state_ns;	/* time spent in oldstate, if TS_EVF_PREV_KNOWN */
	__u8 type;		/* enum ts_event_type */
	__u8 oldstate;
	__u8 newstate;		/* other records: the socket's state at the time */
	__u8 owner_src;		/* enum ts_owner_src */
	__u32 pid;		/* owner tgid; 0 when owner_src is TS_OWNER_NONE */
	__u32 netns;		/* network namespace inode number */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 sport;		/* host order */
	__u16 dport;		/* host order */
	__u8 flags;		/* enum ts_event_flags */
	__u8 pad;
	__u32 drop_gen;		/* records dropped (ring full) before this one was
				 * made: two records with different values have
				 * lost records between them */
	__u8 saddr[16];		/* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char comm[TS_COMM_LEN];
	__u64 ino;		/* socket inode number; 0 if not known */
	__s32 fd;		/* close/shutdown: descriptor, -1 if not known */
	__u32 refs;		/* close: references before; shutdown: at the call */
	__u8 how;		/* shutdown: SHUT_RD, SHUT_WR, SHUT_RDWR */
	__u8 final;		/* close: the last reference; tcp_close follows */
	__u8 via;		/* close: enum ts_close_via */
	__u8 reset_dir;		/* reset: enum ts_reset_dir */
	__u8 tw_substate;	/* timewait records: FIN_WAIT2 or TIME_WAIT */
	__u8 tw_reason;		/* TIME_WAIT -> CLOSE: enum ts_tw_reason */
	__u8 pad2[2];
	/* Last, so that recordings of versions 2 and 3, whose records end
	 * before it, are this layout's prefix. */
	__u64 cgroup_id;	/* the owner's (close, shutdown: the caller's) cgroup
				 * v2 id; 0: not known */
};

#endif /* TCPSTATE_H */

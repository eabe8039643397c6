/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Configuration set by user space before load, and every map. */
#ifndef MAPS_BPF_H
#define MAPS_BPF_H

#include "tcpstate.h"

const volatile __u32 cookie_mode = TS_COOKIE_HELPER;
const volatile __u32 close_hook = TS_CLOSE_HOOK_TRACEPOINT;
/* Address of tw_timer_handler (kallsyms): marks timewait sockets' timers.
 * 0: TIME_WAIT is not followed. */
const volatile __u64 tw_timer_fn;
/* bpf_loop() (5.17) is there: process exit can walk the descriptor table. */
const volatile bool has_bpf_loop;
const volatile __u32 filter_pid;
const volatile __u16 filter_family;
/* Network namespace inode to trace; 0: every namespace (--all-netns). */
const volatile __u32 filter_netns;
const volatile bool filter_sport;
const volatile bool filter_dport;
/* -c: only sockets whose owner (or, for calls, caller) runs under the
 * cgroup in cgroup_filter[0]. */
const volatile bool filter_cgroup;
/* Buckets in socks and tw_live, less one: powers of two set by user space. */
const volatile __u32 sock_buckets_mask = 0;
const volatile __u32 tw_buckets_mask = 0;
/* Wake the consumer only when this much is waiting; it polls on a timer
 * otherwise. A wakeup per event costs ten times the rest of the program. */
const volatile __u64 wakeup_bytes = 1;
/* Set by the consumer before it waits, cleared by the record that wakes
 * it: one wakeup per wait, however far the backlog jumps between records. */
__u32 wake_armed;
/* Records dropped so far, stamped in every record (ts_event.drop_gen):
 * user space tells which connections may have lost records. Written only
 * on a drop, so sharing it across CPUs costs nothing in the common case. */
__u32 drop_gen;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);	/* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TS_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TS_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} sports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TS_MAX_PORTS);
	__type(key, __u16);
	__type(value, __u8);
} dports SEC(".maps");

struct owner {
	__u32 pid;
	__u8 src;		/* enum ts_owner_src */
	__u8 in_cgroup;		/* under -c's cgroup when recorded (1 without -c) */
	__u8 pad[2];
	char comm[TS_COMM_LEN];
	__u64 cgroup_id;	/* cgroup v2 id of the owner's cgroup; 0: not known */
};

/* -c's cgroup, as libbpf-tools take it: a cgroup directory's fd in slot 0,
 * tested with bpf_current_task_under_cgroup() (descendants count too). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* What the tracer keeps per socket. */
struct sock_info {
	__u64 cookie;		/* 0 until first set */
	__u64 last_ns;		/* time of the last transition; 0 if none seen */
	__u64 ino;		/* socket inode; 0 until seen */
	__u8 synth_cookie;
	__u8 birth_pending;	/* a listener's child whose SYN_RECV is not reported yet */
	__u8 state;		/* the kernel's state after the last transition (last_ns set) */
	__u8 owner_dirty;	/* the owner changed since it last went out */
	__u8 close_seen;	/* its final close was reported: tcp_close need not */
	__u8 pad[3];
	__u32 ident_gen;	/* drop_gen + 1 when the identity last went out; 0: never */
	__u32 pad2;
	struct owner owner;
};

/* Entries are found by socket address in a four-way set-associative
 * array: a lookup is four compares within one cache line of keys, with no
 * helper call, no lock and nothing to free, from trusted and untrusted
 * pointers alike. Two ways overflowed a bucket for about one socket in two
 * hundred at a twentieth of the capacity; four, for about one in ten
 * thousand. The address repeats after the socket is freed, so a socket's
 * birth (connect, listen, a listener's child) starts its entry afresh; a new
 * entry takes the place of a closed socket's, or of the least recent live
 * one (counted). */
#define TABLE_WAYS TS_TABLE_WAYS

struct sock_bucket {
	__u64 sk[TABLE_WAYS];		/* 0: empty */
	struct sock_info info[TABLE_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* set by user space */
	__type(key, __u32);
	__type(value, struct sock_bucket);
} socks SEC(".maps");

/* The state program's stand-in entry for a socket the table cannot hold
 * (a failed lookup: never, with every index in range). Off the stack, which
 * the owner's cgroup id pushed past 512 bytes; a nested run that shares it
 * can only garble a record that had no entry anyway. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_info);
} sock_spare SEC(".maps");

/* Owner of each listening socket, by the socket's address, for the
 * children it creates before any accept(): those transitions run in softirq
 * with no owner of their own. By socket, not by port: listeners on one port
 * ([::1] beside 0.0.0.0, a SO_REUSEPORT group) belong to different
 * processes, and a child finds its own (child_listener()). A listener that
 * finds the map full is counted (TS_STAT_LISTEN_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TS_MAX_LISTENERS);
	__type(key, __u64);
	__type(value, struct owner);
} listeners SEC(".maps");

/* A shutdown() in progress, by thread: the syscall knows the descriptor,
 * tcp_shutdown (or the syscall's return) knows it reached TCP. */
struct pending_shutdown {
	__u64 sk;
	__s32 fd;
	__u32 refs;
	__u8 how;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_shutdown);
} shutdowns SEC(".maps");

/* Timewait sockets just created on this CPU, not yet matched to the full
 * socket's X -> CLOSE: tcp_time_wait() starts the timer, then closes the
 * full socket, in one call on one CPU. A few slots: a softirq may do the
 * same for another socket in between. */
#define TW_BORN_SLOTS 4

struct tw_born_slot {
	__u64 tw;
	__u64 ns;		/* when its timer started */
	__u32 daddr;		/* the remote address, folded to 32 bits */
	__u16 sport, dport;
	__u8 substate;
	__u8 pad[7];
};

struct tw_born {
	struct tw_born_slot slot[TW_BORN_SLOTS];
	__u32 next;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_born);
} tw_born SEC(".maps");

/* Timewait sockets the tracer follows, by address. */
struct tw_live {
	__u64 cookie;
	__u64 enter_ns;
	__u8 synth_cookie;
	__u8 substate;
	__u8 cancelled;		/* a timer_cancel that was not expiry: a kill or a re-arm */
	__u8 pad;
	__u32 cancel_tuple;	/* its addresses and ports then (tw_tuple()) */
	__u64 cancel_ns;	/* when, on which CPU, and that CPU's records */
	__u64 cancel_sends;	/* sent or dropped by then (cpu_sends()) */
	__u32 cancel_cpu;
	__u32 ident_gen;	/* as sock_info's */
	struct owner owner;
};

/* By timewait socket address, as socks. */
struct tw_bucket {
	__u64 tw[TABLE_WAYS];		/* 0: empty */
	struct tw_live live[TABLE_WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* set by user space */
	__type(key, __u32);
	__type(value, struct tw_bucket);
} tw_live SEC(".maps");

/* Threads inside connect(): a timewait socket killed there was reused.
 * A slot per thread id modulo the size, holding the id: an array costs a
 * fraction of a hash, and two threads sharing a slot inside connect() at
 * once only lose the "reused" label. */
#define CONNECTING_SLOTS 65536

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONNECTING_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} connecting SEC(".maps");

#endif /* MAPS_BPF_H */

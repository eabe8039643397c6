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
/* Wake the consumer only when this much is waiting; it polls on a timer
 * otherwise. A wakeup per event costs ten times the rest of the program. */
const volatile __u64 wakeup_bytes = 1;
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
	__u8 pad[3];
	char comm[TS_COMM_LEN];
};

/* What the tracer keeps per socket, keyed by socket address. The entry
 * outlives the CLOSE transition (resets and close() can follow it) and goes
 * at tcp_destroy_sock. The address repeats after the socket is freed, so a
 * socket's birth (connect, listen, a listener's child) also starts its entry
 * afresh; LRU bounds what a missed destroy could leave. */
struct sock_info {
	__u64 cookie;		/* 0 until first set */
	__u64 last_ns;		/* time of the last transition; 0 if none seen */
	__u64 ino;		/* socket inode; 0 until seen */
	__u8 synth_cookie;
	__u8 birth_pending;	/* a listener's child whose SYN_RECV is not reported yet */
	__u8 state;		/* the kernel's state after the last transition (last_ns set) */
	__u8 pad[5];
	struct owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);	/* resized by user space */
	__type(key, __u64);
	__type(value, struct sock_info);
} socks SEC(".maps");

struct listen_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
};

/* Owner of each listening socket, for the children it creates before any
 * accept(): those transitions run in softirq with no owner of their own. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listen_key);
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

/* Final closes already reported from the syscall or exit path, so the
 * tcp_close hook that follows does not report them again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} closes_seen SEC(".maps");

/* A connection's 4-tuple in its namespace: what a full socket and the
 * timewait socket that replaces it have in common, in every cookie mode. */
struct tuple_key {
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Timewait sockets just created, not yet matched to the full socket's
 * CLOSE transition (the timer starts first, in tcp_time_wait()). */
struct tw_new {
	__u64 tw;
	__u8 substate;
	__u8 pad[7];
};

/* Entries live microseconds. A plain hash: an LRU map may drop a fresh
 * entry to refill a CPU's free list. Entries left by re-arms of timewait
 * sockets the tracer does not follow go when their timer is cancelled. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple_key);
	__type(value, struct tw_new);
} tw_new SEC(".maps");


/* Timewait sockets the tracer follows, by address. */
struct tw_live {
	__u64 cookie;
	__u64 enter_ns;
	__u8 synth_cookie;
	__u8 substate;
	__u8 cancelled;		/* a timer_cancel that was not expiry: a kill or a re-arm */
	__u8 pad[5];
	__u64 cancel_ns;	/* when, and on which CPU */
	__u32 cancel_cpu;
	__u32 pad2;
	struct owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);	/* resized by user space */
	__type(key, __u64);
	__type(value, struct tw_live);
} tw_live SEC(".maps");

/* Threads inside connect(): a timewait socket killed there was reused. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} connecting SEC(".maps");

#endif /* MAPS_BPF_H */

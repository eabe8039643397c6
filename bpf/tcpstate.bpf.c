// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP state transitions, with the socket's owner and the time spent in the
 * previous state, streamed through one ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpstate.h"
#include "core_fixes.bpf.h"
#include "sock_fd.bpf.h"

#define PF_KTHREAD 0x00200000

/* Set by user space before load. */
const volatile __u32 cookie_mode = TS_COOKIE_HELPER;
const volatile __u32 filter_pid;
const volatile __u16 filter_family;
const volatile bool filter_sport;
const volatile bool filter_dport;
/* Wake the consumer only when this much is waiting; it polls on a timer
 * otherwise. A wakeup per event costs ten times the rest of the program. */
const volatile __u64 wakeup_bytes = 1;

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

/* What the tracer keeps per live socket, keyed by socket address. The
 * address repeats after the socket is freed, so the entry is deleted at the
 * socket's CLOSE transition; LRU bounds what is left by sockets we never
 * saw close. */
struct sock_info {
	__u64 cookie;		/* 0 until the first transition sets it */
	__u64 last_ns;		/* time of the last transition; 0 if none seen */
	__u8 synth_cookie;
	__u8 pad[7];
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

/* Counter for tracer-assigned cookies, per CPU: kernels that need them
 * (before 5.12) have no fetching atomics in BPF. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} synth_seq SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* The current task, when it is a user process acting on its own socket. */
static __always_inline bool current_owner(struct owner *o)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();

	if ((__u32)id == 0 || (BPF_CORE_READ(task, flags) & PF_KTHREAD))
		return false;
	o->pid = id >> 32;
	o->src = TS_OWNER_SYSCALL;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return true;
}

/* Transitions that only a system call on the socket makes (connect, listen,
 * close, shutdown): the current task is the socket's owner. Everything else
 * may run in softirq, on behalf of whatever task was interrupted. */
static __always_inline bool syscall_transition(int oldstate, int newstate)
{
	return newstate == TCP_SYN_SENT || newstate == TCP_LISTEN ||
	       newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK ||
	       (oldstate == TCP_LISTEN && newstate == TCP_CLOSE);
}

static __always_inline bool port_wanted(void *map, __u16 port)
{
	return bpf_map_lookup_elem(map, &port) != NULL;
}

static __always_inline __u64 read_cookie(const struct sock *sk, __u8 *synth)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	if (cookie) {
		*synth = 0;
		return cookie;
	}
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&synth_seq, &zero);

	if (!seq)
		return 0;
	*synth = 1;
	*seq += 1;
	return TS_SYNTH_COOKIE_BIT | ((__u64)(bpf_get_smp_processor_id() & 0xfff) << 40) |
	       (*seq & ((1ULL << 40) - 1));
}

static __always_inline int handle_state(const struct sock *sk, int oldstate, int newstate,
					__u64 helper_cookie)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 key = (__u64)sk;
	struct sock_info *si, fresh = {};
	struct ts_event *e;
	__u16 family, sport, dport;
	__u64 flags = BPF_RB_NO_WAKEUP;
	struct owner cur;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != TS_AF_INET && family != TS_AF_INET6)
		return 0;

	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		/* First sight. Only a socket being born (connect, listen, a
		 * listener's child) has no earlier history to have missed. */
		if (!(oldstate == TCP_CLOSE || (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV)))
			stat_inc(TS_STAT_UNTRACKED);
		if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
			struct listen_key lk = {
				.netns = sk_netns(sk),
				.port = sk_sport(sk),
			};
			struct owner *lo = bpf_map_lookup_elem(&listeners, &lk);

			if (lo) {
				fresh.owner = *lo;
				fresh.owner.src = TS_OWNER_LISTENER;
			}
		}
		if (newstate != TCP_CLOSE) {
			if (bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST) &&
			    bpf_map_update_elem(&socks, &key, &fresh, BPF_ANY))
				stat_inc(TS_STAT_SOCK_FULL);
			si = bpf_map_lookup_elem(&socks, &key);
		}
		if (!si)
			si = &fresh;
	}

	if (!si->cookie) {
		if (cookie_mode == TS_COOKIE_HELPER) {
			si->cookie = helper_cookie;
		} else {
			si->cookie = read_cookie(sk, &si->synth_cookie);
		}
	}

	if (syscall_transition(oldstate, newstate) && current_owner(&cur)) {
		si->owner = cur;
		if (newstate == TCP_LISTEN || oldstate == TCP_LISTEN) {
			struct listen_key lk = {
				.netns = sk_netns(sk),
				.port = sk_sport(sk),
			};

			if (newstate == TCP_LISTEN)
				bpf_map_update_elem(&listeners, &lk, &cur, BPF_ANY);
			else
				bpf_map_delete_elem(&listeners, &lk);
		}
	}

	__u64 last_ns = si->last_ns;
	struct owner owner = si->owner;
	__u64 cookie = si->cookie;
	__u8 synth = si->synth_cookie;

	si->last_ns = now;
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&socks, &key);

	if (filter_family && family != filter_family)
		return 0;
	if (filter_pid && owner.pid != filter_pid)
		return 0;
	sport = sk_sport(sk);
	dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (filter_sport && !port_wanted(&sports, sport))
		return 0;
	if (filter_dport && !port_wanted(&dports, dport))
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(TS_STAT_DROPPED);
		return 0;
	}
	e->type = TS_EV_STATE;
	e->mono_ns = now;
	e->cookie = cookie;
	e->skaddr = key;
	e->flags = synth ? TS_EVF_SYNTH_COOKIE : 0;
	if (last_ns) {
		e->prev_state_ns = now - last_ns;
		e->flags |= TS_EVF_PREV_KNOWN;
	} else {
		e->prev_state_ns = 0;
	}
	e->pid = owner.pid;
	e->owner_src = owner.pid ? owner.src : TS_OWNER_NONE;
	__builtin_memcpy(e->comm, owner.comm, sizeof(e->comm));
	e->netns = sk_netns(sk);
	e->family = family;
	e->sport = sport;
	e->dport = dport;
	e->oldstate = oldstate;
	e->newstate = newstate;
	e->pad[0] = e->pad[1] = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == TS_AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	stat_inc(TS_STAT_EVENTS);
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, struct sock *sk, int oldstate, int newstate)
{
	__u64 cookie = 0;

	if (sk_protocol(sk) != IPPROTO_TCP)
		return 0;
	/* With TS_COOKIE_READ this branch is dead and the verifier never sees
	 * the helper, which kernels before 5.12 refuse in tracing programs. */
	if (cookie_mode == TS_COOKIE_HELPER)
		cookie = bpf_get_socket_cookie(sk);
	return handle_state(sk, oldstate, newstate, cookie);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return handle_state((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, 0);
}

/* accept() and accept4() return a new socket: its caller owns it. */
static __always_inline int record_accept(long ret)
{
	struct sock *sk;
	struct sock_info *si, fresh = {};
	__u64 key;

	if (ret < 0)
		return 0;
	sk = file_tcp_sock(fd_file((int)ret));
	if (!sk)
		return 0;
	key = (__u64)sk;
	si = bpf_map_lookup_elem(&socks, &key);
	if (!si) {
		if (!current_owner(&fresh.owner))
			return 0;
		if (bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST))
			stat_inc(TS_STAT_SOCK_FULL);
		return 0;
	}
	current_owner(&si->owner);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return record_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return record_accept(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

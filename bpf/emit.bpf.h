/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Filtering, filling and submitting records. */
#ifndef EMIT_BPF_H
#define EMIT_BPF_H

#include "sock_table.bpf.h"

struct sock_id {
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
};

static __always_inline void sock_id(const struct sock *sk, struct sock_id *id)
{
	id->netns = sk_netns(sk);
	id->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	id->sport = sk_sport(sk);
	id->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline bool port_wanted(void *map, __u16 port)
{
	return bpf_map_lookup_elem(map, &port) != NULL;
}

/* The user's filters. pid matches the socket's owner or, for calls on the
 * socket, the caller. */
static __always_inline bool wanted(const struct sock_id *id, __u32 owner_pid, __u32 caller_pid)
{
	if (filter_netns && id->netns != filter_netns)
		return false;
	if (filter_family && id->family != filter_family)
		return false;
	if (filter_pid && owner_pid != filter_pid && caller_pid != filter_pid)
		return false;
	if (filter_sport && !port_wanted(&sports, id->sport))
		return false;
	if (filter_dport && !port_wanted(&dports, id->dport))
		return false;
	return true;
}

static __always_inline struct ts_event *event_new(__u32 type, __u64 now)
{
	/* Read before reserving: a drop after this read shows in a later
	 * record, never in none. */
	__u32 gen = *(volatile __u32 *)&drop_gen;
	struct ts_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(TS_STAT_DROPPED);
		__sync_fetch_and_add(&drop_gen, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->drop_gen = gen;
	e->mono_ns = now;
	e->fd = -1;
	return e;
}

/* Socket identity and owner. si may be a copy of an entry already deleted. */
static __always_inline void event_sock(struct ts_event *e, const struct sock *sk,
				       const struct sock_id *id, const struct sock_info *si)
{
	e->skaddr = (__u64)sk;
	e->family = id->family;
	e->sport = id->sport;
	e->dport = id->dport;
	e->netns = id->netns;
	if (id->family == TS_AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (!si)
		return;
	e->cookie = si->cookie;
	e->ino = si->ino;
	if (si->synth_cookie)
		e->flags |= TS_EVF_SYNTH_COOKIE;
	if (si->owner.pid) {
		e->pid = si->owner.pid;
		e->owner_src = si->owner.src;
		__builtin_memcpy(e->comm, si->owner.comm, sizeof(e->comm));
	}
}

static __always_inline void event_caller(struct ts_event *e, const struct owner *caller)
{
	e->pid = caller->pid;
	e->owner_src = TS_OWNER_SYSCALL;
	__builtin_memcpy(e->comm, caller->comm, sizeof(e->comm));
}

/* A record about one socket, past the filters: its entry (created if
 * missing), identity and owner filled in, and the calling process as
 * pid/comm when there is one. NULL when filtered out or the ring is full. */
static __always_inline struct ts_event *sock_event(__u32 type, const struct sock *sk,
						   __u64 trusted_cookie, const struct owner *caller)
{
	struct sock_info *si, none = {};
	struct ts_event *e;
	struct sock_id id;

	sock_id(sk, &id);
	si = sock_entry(sk, trusted_cookie);
	if (!si)
		si = &none;
	if (!wanted(&id, si->owner.pid, caller ? caller->pid : 0))
		return NULL;
	e = event_new(type, bpf_ktime_get_ns());
	if (!e)
		return NULL;
	event_sock(e, sk, &id, si);
	e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (caller && caller->pid)
		event_caller(e, caller);
	return e;
}

static __always_inline void event_submit(struct ts_event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	stat_inc(TS_STAT_EVENTS);
	/* Wake once, as the backlog crosses a quarter of the ring: a consumer
	 * that is awake drains it, and a wakeup per record costs more than
	 * the rest of the program and starves the consumer. Past half, the
	 * consumer is behind: wake it with every record. */
	if ((avail >= wakeup_bytes && avail < wakeup_bytes + 2 * (sizeof(*e) + 8)) ||
	    avail >= 2 * wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

#endif /* EMIT_BPF_H */

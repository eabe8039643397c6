/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Following timewait sockets with the timer tracepoints alone: the state
 * tracepoint goes blind when tcp_time_wait() swaps the full socket for an
 * inet_timewait_sock. Its timer (function tw_timer_handler) starts as it is
 * born; timer_cancel fires when the wheel detaches it at expiry, when it is
 * killed early, and when it is moved (re-armed: a FIN arriving in the
 * FIN_WAIT2 substate, a retransmitted FIN) - then timer_start follows. */
#ifndef TIMEWAIT_BPF_H
#define TIMEWAIT_BPF_H

#include "emit.bpf.h"

static __always_inline struct inet_timewait_sock *timer_tw(struct timer_list *timer)
{
	return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
}

static __always_inline bool is_tw_timer(struct timer_list *timer)
{
	return tw_timer_fn && (__u64)BPF_CORE_READ(timer, function) == tw_timer_fn;
}

/* The same key from either kind of socket; sport is passed in because the
 * full socket's skc_num is already zero at its CLOSE transition. */
static __always_inline void tuple_of(struct tuple_key *k, const struct sock_common *skc,
				     __u16 family, __u16 sport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	k->family = family;
	k->sport = sport;
	k->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (family == TS_AF_INET) {
		bpf_core_read(k->saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(k->daddr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(k->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(k->daddr, 16, &skc->skc_v6_daddr);
	}
}

static __always_inline __u16 tw_sport(const struct inet_timewait_sock *tw)
{
	return bpf_ntohs(BPF_CORE_READ(tw, tw_sport));
}

/* From handle_state(): is this X -> CLOSE the full socket handing over to
 * a timewait socket? If so the connection lives on: record the timewait
 * socket as followed and return its substate, else 0. */
static __always_inline __u8 tw_handoff(const struct sock *sk, const struct sock_id *id,
				       const struct sock_info *si, __u64 now)
{
	struct tuple_key k;
	struct tw_new *n;
	struct tw_live live = {};
	__u64 tw;

	tuple_of(&k, &sk->__sk_common, id->family, id->sport);
	n = bpf_map_lookup_elem(&tw_new, &k);
	if (!n)
		return 0;
	tw = n->tw;
	live.substate = n->substate;
	bpf_map_delete_elem(&tw_new, &k);
	live.cookie = si->cookie;
	live.synth_cookie = si->synth_cookie;
	live.enter_ns = now;
	live.owner = si->owner;
	bpf_map_update_elem(&tw_live, &tw, &live, BPF_ANY);
	stat_inc(TS_STAT_TW_HANDOFFS);
	return live.substate;
}

static __always_inline void tw_event_sock(struct ts_event *e, struct inet_timewait_sock *tw)
{
	const struct sock_common *skc = &tw->__tw_common;

	e->skaddr = (__u64)tw;
	e->family = BPF_CORE_READ(skc, skc_family);
	e->sport = tw_sport(tw);
	e->dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	e->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (e->family == TS_AF_INET) {
		bpf_core_read(e->saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &skc->skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &skc->skc_v6_daddr);
	}
	e->tw_substate = BPF_CORE_READ(tw, tw_substate);
	e->flags |= TS_EVF_TIMEWAIT;
}

static __always_inline bool tw_wanted(struct inet_timewait_sock *tw, __u32 owner_pid)
{
	struct sock_id id = {
		.netns = BPF_CORE_READ(tw, __tw_common.skc_net.net, ns.inum),
		.family = BPF_CORE_READ(tw, __tw_common.skc_family),
		.sport = tw_sport(tw),
		.dport = bpf_ntohs(BPF_CORE_READ(tw, __tw_common.skc_dport)),
	};

	return wanted(&id, owner_pid, 0);
}

/* mod_timer() moving a pending timer detaches it (timer_cancel) and queues
 * it again (timer_start) in one critical section, on one CPU. A timer_start
 * on a followed address that is not such a pair is a new timewait socket
 * allocated where a killed one was (they are SLAB_TYPESAFE_BY_RCU). */
#define TW_REARM_WINDOW_NS 50000

static __always_inline bool is_rearm(const struct tw_live *live,
				     const struct inet_timewait_sock *tw)
{
	__u64 cookie = BPF_CORE_READ(tw, __tw_common.skc_cookie.counter);

	if (!live->cancelled || live->cancel_cpu != bpf_get_smp_processor_id())
		return false;
	if (cookie && !live->synth_cookie && cookie != live->cookie)
		return false;
	return bpf_ktime_get_ns() - live->cancel_ns < TW_REARM_WINDOW_NS;
}

static __always_inline int on_timer_start(struct timer_list *timer)
{
	struct inet_timewait_sock *tw;
	struct tw_live *live;
	struct ts_event *e;
	struct tuple_key k;
	struct tw_new n = {};
	__u64 key;

	if (!is_tw_timer(timer))
		return 0;
	tw = timer_tw(timer);
	key = (__u64)tw;
	live = bpf_map_lookup_elem(&tw_live, &key);
	if (live && !is_rearm(live, tw)) {
		/* A new timewait socket in the memory of one that died. */
		bpf_map_delete_elem(&tw_live, &key);
		live = NULL;
	}
	if (live) {
		/* Moved, not killed: undo the cancel user space holds. */
		live->cancelled = 0;
		live->substate = BPF_CORE_READ(tw, tw_substate);
		if (!tw_wanted(tw, live->owner.pid))
			return 0;
		e = event_new(TS_EV_TW_REARM, bpf_ktime_get_ns());
		if (!e)
			return 0;
		tw_event_sock(e, tw);
		e->cookie = live->cookie;
		event_submit(e);
		return 0;
	}
	n.tw = key;
	n.substate = BPF_CORE_READ(tw, tw_substate);
	tuple_of(&k, &tw->__tw_common, BPF_CORE_READ(tw, __tw_common.skc_family), tw_sport(tw));
	if (bpf_map_update_elem(&tw_new, &k, &n, BPF_ANY))
		stat_inc(TS_STAT_TW_FULL);
	return 0;
}

static __always_inline int on_timer_cancel(struct timer_list *timer)
{
	struct inet_timewait_sock *tw;
	struct tw_live *found, copy = {};
	struct ts_event *e;
	struct tw_live *live = &copy;
	__u32 tid;
	__u64 key, now;
	bool expired;

	if (!is_tw_timer(timer))
		return 0;
	tw = timer_tw(timer);
	key = (__u64)tw;
	now = bpf_ktime_get_ns();
	/* The wheel detaches a timer at expiry only once it is due. */
	expired = (long)(bpf_jiffies64() - BPF_CORE_READ(timer, expires)) >= 0;
	found = bpf_map_lookup_elem(&tw_live, &key);
	if (found) {
		copy = *found;
		if (expired) {
			bpf_map_delete_elem(&tw_live, &key);
		} else {
			/* a kill, or a re-arm if timer_start follows at once */
			found->cancelled = 1;
			found->cancel_ns = now;
			found->cancel_cpu = bpf_get_smp_processor_id();
		}
	} else {
		/* Born before tracing, or its handoff never came: forget it. */
		struct tuple_key k;

		tuple_of(&k, &tw->__tw_common, BPF_CORE_READ(tw, __tw_common.skc_family),
			 tw_sport(tw));
		bpf_map_delete_elem(&tw_new, &k);
		copy.cookie = read_cookie((const struct sock *)tw, &copy.synth_cookie);
	}
	if (!tw_wanted(tw, live->owner.pid))
		return 0;
	e = event_new(TS_EV_STATE, now);
	if (!e)
		return 0;
	tw_event_sock(e, tw);
	e->cookie = live->cookie;
	if (live->synth_cookie)
		e->flags |= TS_EVF_SYNTH_COOKIE;
	if (live->owner.pid) {
		e->pid = live->owner.pid;
		e->owner_src = live->owner.src;
		__builtin_memcpy(e->comm, live->owner.comm, sizeof(e->comm));
	}
	e->oldstate = TCP_TIME_WAIT;
	e->newstate = TCP_CLOSE;
	if (live->enter_ns) {
		e->prev_state_ns = now - live->enter_ns;
		e->flags |= TS_EVF_PREV_KNOWN;
	}
	if (expired) {
		e->tw_reason = TS_TW_EXPIRED;
	} else {
		tid = (__u32)bpf_get_current_pid_tgid();
		e->tw_reason = bpf_map_lookup_elem(&connecting, &tid) ? TS_TW_REUSED : TS_TW_KILLED;
		e->flags |= TS_EVF_TENTATIVE;
	}
	event_submit(e);
	return 0;
}

#endif /* TIMEWAIT_BPF_H */

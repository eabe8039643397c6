/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Following timewait sockets with the timer tracepoints alone: the state
 * tracepoint goes blind when tcp_time_wait() swaps the full socket for an
 * inet_timewait_sock. Its timer (function tw_timer_handler) starts as it is
 * born; timer_cancel fires when the wheel detaches it at expiry, when it is
 * killed early, and when it is moved (re-armed: a FIN arriving in the
 * FIN_WAIT2 substate, a retransmitted FIN) - then timer_start follows.
 * The timer tracepoints fire for every timer in the kernel: the programs
 * reject the others first, with the fewest instructions. */
#ifndef TIMEWAIT_BPF_H
#define TIMEWAIT_BPF_H

#include "emit.bpf.h"

/* A timewait socket's timer starts and the full socket's X -> CLOSE follow
 * each other closely; anything older in a slot is left over. */
#define TW_BORN_WINDOW_NS 10000000

/* A jiffy in ns and TCP_TIMEWAIT_LEN (60 s) in jiffies, set by user space
 * (the coarse clocks' resolution is a jiffy); 0: not known. */
const volatile __u64 jiffy_ns = 0;
const volatile __u64 tw_len_jiffies = 0;

static __always_inline struct inet_timewait_sock *timer_tw(struct timer_list *timer)
{
	return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
}

static __always_inline __u16 tw_sport(const struct inet_timewait_sock *tw)
{
	return bpf_ntohs(KREAD(struct inet_timewait_sock, tw, tw_sport));
}

static __always_inline __u8 tw_substate_of(const struct inet_timewait_sock *tw)
{
	return KREAD(struct inet_timewait_sock, tw, tw_substate);
}

/* The remote address folded to 32 bits: with both ports, enough to tell
 * apart the few timewait sockets born on one CPU at once. */
static __always_inline __u32 addr_fold(const __u8 a[16], __u16 family)
{
	const __u32 *w = (const __u32 *)a;

	return family == TS_AF_INET ? w[0] : w[0] ^ w[1] ^ w[2] ^ w[3];
}

static __always_inline __u32 skc_daddr_fold(const struct sock_common *skc, __u16 family)
{
	__u8 s[16] = {}, d[16] = {};

	skc_addrs(skc, family, s, d);
	return addr_fold(d, family);
}

/* The remote address and both ports folded to 32 bits; skc: tw's common
 * fields (skc_of()). */
static __always_inline __u32 tw_tuple(const struct inet_timewait_sock *tw,
				      const struct sock_common *skc)
{
	return skc_daddr_fold(skc, skc_family(skc)) ^
	       ((__u32)tw_sport(tw) << 16 | skc_dport(skc));
}

static __always_inline struct tw_bucket *tw_bucket(__u64 tw)
{
	__u32 i = bucket_of(tw, tw_buckets_mask);

	return bpf_map_lookup_elem(&tw_live, &i);
}

/* A followed timewait socket: its bucket and way. */
struct tw_ref {
	struct tw_bucket *b;
	__u32 way;
};

/* The followed timewait socket at this address: false if none. */
static __always_inline bool tw_find(__u64 tw, struct tw_ref *r)
{
	int w;

	r->b = tw_bucket(tw);
	if (!r->b)
		return false;
	w = way_of(r->b->tw, tw);
	r->way = w & (TABLE_WAYS - 1);
	return w >= 0;
}

static __always_inline struct tw_live *tw_ref_live(const struct tw_ref *r)
{
	return &r->b->live[r->way & (TABLE_WAYS - 1)];
}

static __always_inline void tw_ref_forget(const struct tw_ref *r)
{
	r->b->tw[r->way & (TABLE_WAYS - 1)] = 0;
}

/* Follow a timewait socket: its own way, an empty one, else the one
 * followed longest (its end is then reported as if it was born before
 * tracing; counted). */
static __always_inline void tw_follow(__u64 tw, const struct tw_live *live)
{
	struct tw_bucket *b = tw_bucket(tw);
	__u32 v = 0;
	int w;

	if (!b)
		return;
	w = way_of(b->tw, tw);
	if (w < 0)
		w = way_of(b->tw, 0);
	if (w >= 0) {
		v = w;
	} else {
		stat_inc(TS_STAT_TW_FULL);
		for (__u32 i = 1; i < TABLE_WAYS; i++)
			if (b->live[i].enter_ns < b->live[v & (TABLE_WAYS - 1)].enter_ns)
				v = i;
	}
	v &= TABLE_WAYS - 1;
	b->tw[v] = tw;
	b->live[v] = *live;
}

/* A new timewait socket: into this CPU's slots, for the handoff. */
static __always_inline void tw_born_add(struct inet_timewait_sock *tw,
					const struct sock_common *skc)
{
	__u16 family = skc_family(skc);
	struct tw_born_slot *s;
	struct tw_born *b;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&tw_born, &zero);
	if (!b)
		return;
	s = &b->slot[b->next & (TW_BORN_SLOTS - 1)];
	b->next++;
	s->tw = addr_of(tw);
	s->ns = bpf_ktime_get_ns();
	s->sport = tw_sport(tw);
	s->dport = skc_dport(skc);
	s->daddr = skc_daddr_fold(skc, family);
	s->substate = tw_substate_of(tw);
}

/* From handle_state(): is this X -> CLOSE the full socket handing over to
 * a timewait socket born just now on this CPU? If so the connection lives
 * on: follow the timewait socket and return its substate, else 0.
 * fin2_ns: when the full socket entered FIN_WAIT2 (0: not seen). A
 * timewait socket in the FIN_WAIT2 substate goes on in that state; one in
 * TIME_WAIT enters it now. */
static __always_inline __u8 tw_handoff(const struct sock *sk, const struct sock_common *skc,
				       const struct sock_id *id, const struct sock_info *si,
				       __u64 now, __u64 fin2_ns)
{
	struct tw_live live = {};
	struct tw_born *b;
	__u32 zero = 0, daddr;
	__u16 sport, dport;
	__u64 tw = 0;

	b = bpf_map_lookup_elem(&tw_born, &zero);
	if (!b)
		return 0;
	sport = sk_sport(sk);
	dport = id->dport;
	daddr = skc_daddr_fold(skc, id->family);
	for (int i = 0; i < TW_BORN_SLOTS; i++) {
		struct tw_born_slot *s = &b->slot[i];

		if (s->tw && s->sport == sport && s->dport == dport && s->daddr == daddr &&
		    now - s->ns < TW_BORN_WINDOW_NS) {
			tw = s->tw;
			live.substate = s->substate;
			s->tw = 0;
			break;
		}
	}
	if (!tw)
		return 0;
	live.cookie = si->cookie;
	live.synth_cookie = si->synth_cookie;
	live.enter_ns = live.substate == TCP_FIN_WAIT2 ? fin2_ns : now;
	live.owner = si->owner;
	live.ident_gen = si->ident_gen;
	tw_follow(tw, &live);
	stat_inc(TS_STAT_TW_HANDOFFS);
	return live.substate;
}

/* skc: the timewait socket's common fields (skc_of()). */
static __always_inline void tw_sock_id(const struct inet_timewait_sock *tw,
				       const struct sock_common *skc, struct sock_id *id)
{
	id->netns = skc_netns(skc, false);
	id->family = skc_family(skc);
	id->sport = filter_sport ? tw_sport(tw) : 0;
	id->dport = skc_dport(skc);
}

/* mod_timer() moving a pending timer detaches it (timer_cancel) and queues
 * it again (timer_start) in one critical section, on one CPU, with
 * interrupts off. A timer_start on a followed address that is not such a
 * pair is a new timewait socket allocated where a killed one was (they are
 * SLAB_TYPESAFE_BY_RCU, and a CPU's freed object is its next one).
 * - A real cookie settles it (the timewait socket inherits the full
 *   socket's), even when the cancel's run was skipped.
 * - Without one: the same CPU, no record sent there since the cancel, and
 *   the same addresses and ports. A new socket in that memory comes after
 *   other records on that CPU: the connect() that took the 4-tuple, the
 *   state changes before the new socket's birth; and most likely with
 *   another 4-tuple. Time misjudged a pair: a CPU preempted by the
 *   hypervisor (guests, and this shared host) can take longer than a tight
 *   window between the two; the window only bounds what the count and the
 *   tuple cannot see. */
#define TW_REARM_WINDOW_NS 1000000000

static __always_inline bool is_rearm(const struct tw_live *live,
				     const struct inet_timewait_sock *tw,
				     const struct sock_common *skc)
{
	__u64 cookie = KREAD(struct inet_timewait_sock, tw, __tw_common.skc_cookie.counter);

	if (cookie && !live->synth_cookie)
		return cookie == live->cookie;
	if (!live->cancelled || live->cancel_cpu != bpf_get_smp_processor_id() ||
	    live->cancel_sends != cpu_sends() || live->cancel_tuple != tw_tuple(tw, skc))
		return false;
	return bpf_ktime_get_ns() - live->cancel_ns < TW_REARM_WINDOW_NS;
}

/* The peer's FIN reached a timewait socket in the FIN_WAIT2 substate, at
 * now: FIN_WAIT2 -> TIME_WAIT, seen as it happened (the FIN hook, or the
 * timer moved to another wheel bucket). */
static __always_inline void tw_fin_send(struct inet_timewait_sock *tw,
					const struct sock_common *skc, struct tw_live *live,
					__u64 now)
{
	struct ts_wire_ident ident = {};
	struct ts_wire w;
	struct sock_id id;

	wire_head(&w, TS_EV_STATE, now, live->cookie);
	w.flags = TS_EVF_TIMEWAIT | (live->synth_cookie ? TS_EVF_SYNTH_COOKIE : 0);
	w.oldstate = TCP_FIN_WAIT2;
	w.newstate = TCP_TIME_WAIT;
	w.tw_substate = TCP_TIME_WAIT;
	if (live->enter_ns) {
		w.prev_state_ns = now - live->enter_ns;
		w.flags |= TS_EVF_PREV_KNOWN;
	}
	live->substate = TCP_TIME_WAIT;
	live->enter_ns = now;
	tw_sock_id(tw, skc, &id);
	if (!wanted(&id, live->owner.pid, 0, live->owner.in_cgroup))
		return;
	w.wflags = wire_parts(&w, live->ident_gen, false);
	if (w.wflags & TS_WF_IDENT)
		wire_ident(&ident, tw, skc, &id, tw_sport(tw), 0);
	if (wire_send(&w, &live->owner, &ident) && (w.wflags & TS_WF_IDENT))
		live->ident_gen = w.drop_gen + 1;
}

/* When the peer's FIN came to a timewait socket whose FIN_WAIT2 -> TIME_WAIT
 * was not seen: mod_timer_pending() moves the timer silently when the new
 * expiry falls in the same wheel bucket, and the FIN sets it to
 * TCP_TIMEWAIT_LEN from then. Bounded by what is known: not before
 * FIN_WAIT2 began (enter_ns), not after now. */
static __always_inline __u64 tw_fin_derived(unsigned long expires, __u64 enter_ns, __u64 now)
{
	__s64 ago_j = (__s64)(bpf_jiffies64() - (expires - tw_len_jiffies));
	__u64 ago;

	if (!jiffy_ns || !tw_len_jiffies || ago_j < 0)
		return now;
	ago = (__u64)ago_j * jiffy_ns;
	if (ago > now || (enter_ns && now - ago < enter_ns))
		return enter_ns ? enter_ns : now;
	return now - ago;
}

/* A followed timewait socket's timer set again: tell user space, which
 * holds the cancel it saw as a possible early end. */
static __always_inline void tw_rearmed(struct inet_timewait_sock *tw,
				       const struct sock_common *skc, struct tw_live *live)
{
	__u8 sub = tw_substate_of(tw);
	__u64 now = bpf_ktime_get_ns();
	struct ts_wire w;
	struct sock_id id;

	live->cancelled = 0;
	/* User space forgot it at the cancel it holds: the end says all. */
	live->ident_gen = 0;
	tw_sock_id(tw, skc, &id);
	if (wanted(&id, live->owner.pid, 0, live->owner.in_cgroup)) {
		wire_head(&w, TS_EV_TW_REARM, now, live->cookie);
		w.flags = TS_EVF_TIMEWAIT;
		w.tw_substate = sub;
		wire_send(&w, &live->owner, NULL);
	}
	/* The peer's FIN moved it (FIN_WAIT2 -> TIME_WAIT, just now). */
	if (live->substate == TCP_FIN_WAIT2 && sub == TCP_TIME_WAIT)
		tw_fin_send(tw, skc, live, now);
}

static __always_inline int on_timer_start(struct timer_list *timer)
{
	struct inet_timewait_sock *tw = timer_tw(timer);
	union skc_copy c;
	const struct sock_common *skc = skc_of((const struct sock *)tw, false, &c);
	struct tw_ref r;
	bool found = tw_find(addr_of(tw), &r);

	if (found && !is_rearm(tw_ref_live(&r), tw, skc)) {
		/* A new timewait socket in the memory of one that died. */
		tw_ref_forget(&r);
		found = false;
	}
	if (found)
		tw_rearmed(tw, skc, tw_ref_live(&r));	/* moved, not killed */
	else
		tw_born_add(tw, skc);
	return 0;
}

/* Why a timewait socket that was not due went away: inside connect(), the
 * 4-tuple was reused; anything else killed it. */
static __always_inline __u8 tw_kill_reason(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 slot = tid & (CONNECTING_SLOTS - 1);
	__u32 *in = bpf_map_lookup_elem(&connecting, &slot);

	return in && *in == tid ? TS_TW_REUSED : TS_TW_KILLED;
}

/* The end of a timewait socket: TIME_WAIT -> CLOSE, or FIN_WAIT2 -> CLOSE
 * when the peer's FIN never came (the FIN_WAIT2 timeout, or a kill).
 * A FIN that came unseen (TS_EVF_DERIVED) moves the start of TIME_WAIT to
 * the moment the timer says; user space adds the FIN_WAIT2 -> TIME_WAIT.
 * live: what the tracer kept of it (a copy), or only its cookie when it was
 * born before tracing. */
static __always_inline void tw_end_send(struct inet_timewait_sock *tw,
					const struct sock_common *skc, const struct tw_live *live,
					bool found, bool expired, unsigned long expires, __u64 now)
{
	struct ts_wire_ident ident = {};
	__u8 sub = tw_substate_of(tw), was = found ? live->substate : sub;
	__u64 enter = live->enter_ns;
	struct ts_wire w;
	struct sock_id id;

	tw_sock_id(tw, skc, &id);
	if (!wanted(&id, live->owner.pid, 0, live->owner.in_cgroup))
		return;
	wire_head(&w, TS_EV_STATE, now, live->cookie);
	w.flags = TS_EVF_TIMEWAIT | (live->synth_cookie ? TS_EVF_SYNTH_COOKIE : 0);
	w.oldstate = sub == TCP_FIN_WAIT2 ? TCP_FIN_WAIT2 : TCP_TIME_WAIT;
	w.newstate = TCP_CLOSE;
	w.tw_substate = sub;
	if (was == TCP_FIN_WAIT2 && sub == TCP_TIME_WAIT) {
		enter = tw_fin_derived(expires, enter, now);
		w.flags |= TS_EVF_DERIVED;
	}
	if (enter) {
		w.prev_state_ns = now - enter;
		w.flags |= TS_EVF_PREV_KNOWN;
	}
	if (expired) {
		w.tw_reason = TS_TW_EXPIRED;
	} else {
		w.tw_reason = tw_kill_reason();
		w.flags |= TS_EVF_TENTATIVE;
	}
	w.wflags = found ? wire_parts(&w, live->ident_gen, false) : TS_WF_IDENT | TS_WF_OWNER;
	if (w.wflags & TS_WF_IDENT)
		wire_ident(&ident, tw, skc, &id, tw_sport(tw), 0);
	wire_send(&w, &live->owner, &ident);
}

static __always_inline int on_timer_cancel(struct timer_list *timer, unsigned long expires,
					   bool expired)
{
	struct inet_timewait_sock *tw = timer_tw(timer);
	__u64 now = bpf_ktime_get_ns();
	struct tw_live copy = {};
	union skc_copy c;
	const struct sock_common *skc = skc_of((const struct sock *)tw, false, &c);
	struct tw_ref r;
	bool found = tw_find(addr_of(tw), &r);

	if (found) {
		copy = *tw_ref_live(&r);
		if (expired)
			tw_ref_forget(&r);
	} else {
		/* Born before tracing, or its handoff never came. */
		copy.cookie = read_cookie(skc, &copy.synth_cookie);
	}
	tw_end_send(tw, skc, &copy, found, expired, expires, now);
	if (found && !expired) {
		struct tw_live *live = tw_ref_live(&r);

		/* a kill, or a re-arm if timer_start follows at once */
		live->cancelled = 1;
		live->cancel_ns = now;
		live->cancel_sends = cpu_sends();
		live->cancel_cpu = bpf_get_smp_processor_id();
		live->cancel_tuple = tw_tuple(tw, skc);
	}
	return 0;
}

/* Where fentry or kprobes are allowed: the peer's FIN as it comes.
 * tcp_timewait_state_process() sets tw_substate to TIME_WAIT, then re-arms
 * the timer through inet_twsk_reschedule() (__inet_twsk_schedule(tw,
 * TCP_TIMEWAIT_LEN, true)); a retransmitted FIN in TIME_WAIT re-arms it
 * too, hence the substate the tracer last reported is checked. */
static __always_inline int on_tw_schedule(struct inet_timewait_sock *tw, bool rearm)
{
	union skc_copy c;
	const struct sock_common *skc;
	struct tw_live *live;
	struct tw_ref r;

	if (!rearm || !tw_find(addr_of(tw), &r))
		return 0;
	live = tw_ref_live(&r);
	if (live->substate != TCP_FIN_WAIT2 || tw_substate_of(tw) != TCP_TIME_WAIT)
		return 0;
	skc = skc_of((const struct sock *)tw, false, &c);
	tw_fin_send(tw, skc, live, bpf_ktime_get_ns());
	return 0;
}

SEC("fentry/__inet_twsk_schedule")
int BPF_PROG(fentry_tw_schedule, struct inet_timewait_sock *tw, int timeo, bool rearm)
{
	return on_tw_schedule(tw, rearm);
}

SEC("kprobe/__inet_twsk_schedule")
int BPF_KPROBE(kprobe_tw_schedule, struct inet_timewait_sock *tw, int timeo, bool rearm)
{
	return on_tw_schedule(tw, rearm);
}

#endif /* TIMEWAIT_BPF_H */

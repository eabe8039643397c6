/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Filtering, building and submitting records (struct ts_wire and the parts
 * that may follow it; see tcpstate.h). */
#ifndef EMIT_BPF_H
#define EMIT_BPF_H

#include "sock_table.bpf.h"

/* What the filters look at. sport is read only when a port filter needs it. */
struct sock_id {
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
};

/* skc: sk's common fields (skc_of()); trusted as given to it. */
static __always_inline void sock_id(const struct sock *sk, const struct sock_common *skc,
				    bool trusted, struct sock_id *id)
{
	id->netns = skc_netns(skc, trusted);
	id->family = skc_family(skc);
	id->sport = filter_sport ? sk_sport(sk) : 0;
	id->dport = skc_dport(skc);
}

static __always_inline bool port_wanted(void *map, __u16 port)
{
	return bpf_map_lookup_elem(map, &port) != NULL;
}

/* The user's filters. pid matches the socket's owner or, for calls on the
 * socket, the caller; in_cgroup is that owner's or caller's. */
static __always_inline bool wanted(const struct sock_id *id, __u32 owner_pid, __u32 caller_pid,
				   bool in_cgroup)
{
	if (filter_cgroup && !in_cgroup)
		return false;
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

/* A record's head, before it is sent: on the stack, so that one copy moves
 * it into whichever size of record the parts need. */
static __always_inline void wire_head(struct ts_wire *w, __u32 type, __u64 now, __u64 cookie)
{
	__builtin_memset(w, 0, sizeof(*w));
	/* Read before reserving: a drop after this read shows in a later
	 * record, never in none. */
	w->drop_gen = *(volatile __u32 *)&drop_gen;
	w->type = type;
	w->mono_ns = now;
	w->cookie = cookie;
	w->fd = -1;
}

/* The parts a socket's record carries: its identity when user space may not
 * have it (never sent, or records were dropped since), its owner when that
 * changed. ident_gen and dirty are the socket's, from sock_info or tw_live. */
static __always_inline __u8 wire_parts(const struct ts_wire *w, __u32 ident_gen, bool dirty)
{
	if (ident_gen != w->drop_gen + 1)
		return TS_WF_IDENT | TS_WF_OWNER;
	return dirty ? TS_WF_OWNER : 0;
}

static __always_inline void wire_owner(struct ts_wire_owner *wo, const struct owner *o)
{
	wo->pid = o->pid;
	wo->owner_src = o->pid ? o->src : TS_OWNER_NONE;
	__builtin_memcpy(wo->comm, o->comm, sizeof(wo->comm));
	wo->cgroup_id = o->pid ? o->cgroup_id : 0;
}

/* The identity of the socket at sk, whose common fields are skc and sid
 * (sock_id()). */
static __always_inline void wire_ident(struct ts_wire_ident *id, const void *sk,
				       const struct sock_common *skc, const struct sock_id *sid,
				       __u16 sport, __u64 ino)
{
	__builtin_memset(id, 0, sizeof(*id));
	id->skaddr = (__u64)sk;
	id->ino = ino;
	id->family = sid->family;
	id->sport = sport;
	id->dport = sid->dport;
	id->netns = sid->netns;
	skc_addrs(skc, sid->family, id->saddr, id->daddr);
}

static __always_inline void record_dropped(void)
{
	stat_inc(TS_STAT_DROPPED);
	__sync_fetch_and_add(&drop_gen, 1);
}

static __always_inline void wire_commit(void *rec)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	stat_inc(TS_STAT_EVENTS);
	/* Wake the consumer once per wait, as the backlog passes a quarter
	 * of the ring; it polls on a timer otherwise. A wakeup per record
	 * costs more than the rest of the program and starves the consumer. */
	if (*(volatile __u32 *)&wake_armed &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
		wake_armed = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(rec, flags);
}

/* Send the head with the parts its wflags name: the owner o, the identity
 * id. Each size reserves and fills on its own path, so the verifier sees
 * every write within its record. Returns false when the ring is full. */
static __always_inline bool wire_send(const struct ts_wire *w, const struct owner *o,
				      const struct ts_wire_ident *id)
{
	if (w->wflags & TS_WF_IDENT) {
		struct ts_wire_full *f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);

		if (!f)
			goto full;
		f->w = *w;
		wire_owner(&f->o, o);
		f->id = *id;
		wire_commit(f);
	} else if (w->wflags & TS_WF_OWNER) {
		struct ts_wire_owned *f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);

		if (!f)
			goto full;
		f->w = *w;
		wire_owner(&f->o, o);
		wire_commit(f);
	} else {
		struct ts_wire *f = bpf_ringbuf_reserve(&events, sizeof(*f), 0);

		if (!f)
			goto full;
		*f = *w;
		wire_commit(f);
	}
	return true;
full:
	record_dropped();
	return false;
}

/* A record about a call on a socket (close, shutdown, accept) or a reset,
 * past the filters. skc, trusted: its common fields (skc_of()). o: the
 * caller, or the socket's owner. si: the socket's entry, or NULL. The
 * identity goes along unless user space has it and still keeps it: after
 * CLOSE it forgets the connection, and a close() may come long after a
 * reset. */
static __always_inline bool sock_call_send(struct ts_wire *w, const struct sock *sk,
					   const struct sock_common *skc, bool trusted,
					   const struct owner *o, __u32 caller_pid,
					   struct sock_info *si, __u64 ino)
{
	struct ts_wire_ident id = {};
	struct sock_id sid;

	sock_id(sk, skc, trusted, &sid);
	if (!wanted(&sid, o->pid, caller_pid, o->in_cgroup))
		return false;
	w->newstate = skc_state(skc);
	w->wflags = TS_WF_OWNER;
	if (!si || w->newstate == TCP_CLOSE || w->type != TS_EV_CLOSE)
		w->wflags |= TS_WF_IDENT;
	else
		w->wflags = wire_parts(w, si->ident_gen, true);
	if (w->wflags & TS_WF_IDENT)
		wire_ident(&id, sk, skc, &sid, sk_sport(sk), ino);
	if (!wire_send(w, o, &id))
		return false;
	if (si && (w->wflags & TS_WF_IDENT) && w->newstate != TCP_CLOSE)
		si->ident_gen = w->drop_gen + 1;
	return true;
}

#endif /* EMIT_BPF_H */

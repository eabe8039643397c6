/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-socket state kept in the kernel: cookie, owner, time of the last
 * transition. */
#ifndef SOCK_TABLE_BPF_H
#define SOCK_TABLE_BPF_H

#include "maps.bpf.h"
#include "core_fixes.bpf.h"

#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* Records this CPU's programs sent or dropped so far. */
static __always_inline __u64 cpu_sends(void)
{
	__u32 ev = TS_STAT_EVENTS, dr = TS_STAT_DROPPED;
	__u64 *e = bpf_map_lookup_elem(&stats, &ev), *d = bpf_map_lookup_elem(&stats, &dr);

	return (e ? *e : 0) + (d ? *d : 0);
}

static __always_inline unsigned int current_flags(void)
{
	if (has_task_btf)
		return bpf_get_current_task_btf()->flags;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags);
}

/* The current task, when it is a user process acting on its own socket. */
static __always_inline bool current_owner(struct owner *o)
{
	__u64 id = bpf_get_current_pid_tgid();

	if ((__u32)id == 0 || (current_flags() & PF_KTHREAD))
		return false;
	o->pid = id >> 32;
	o->src = TS_OWNER_SYSCALL;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->cgroup_id = bpf_get_current_cgroup_id();
	/* Tested here, where the owner is recorded: the records that follow
	 * run in softirq, in whatever task's cgroup. */
	o->in_cgroup = !filter_cgroup || bpf_current_task_under_cgroup(&cgroup_filter, 0) == 1;
	return true;
}

/* A cookie of the tracer's own, never equal to a kernel cookie: the CPU and
 * the nanosecond. A per-CPU counter is not enough: a softirq's program can
 * interrupt a task's on the same CPU mid-increment (kernels that need these
 * cookies have no fetching atomics), while no two runs on one CPU share a
 * nanosecond. The low 40 bits wrap every 18 minutes. */
static __always_inline __u64 synth_cookie(void)
{
	return TS_SYNTH_COOKIE_BIT | ((__u64)(bpf_get_smp_processor_id() & 0xfff) << 40) |
	       (bpf_ktime_get_ns() & ((1ULL << 40) - 1));
}

/* The kernel's cookie if something already asked for it, else one of ours. */
static __always_inline __u64 read_cookie(const struct sock_common *skc, __u8 *synth)
{
	__u64 cookie = skc_cookie(skc);

	*synth = !cookie;
	return cookie ? cookie : synth_cookie();
}

/* Give si a cookie if it has none: the helper's (trusted_cookie, when the
 * caller could call it) or read_cookie(). */
static __always_inline void sock_set_cookie(struct sock_info *si, const struct sock_common *skc,
					    __u64 trusted_cookie)
{
	if (si->cookie)
		return;
	if (trusted_cookie) {
		si->cookie = trusted_cookie;
		si->synth_cookie = 0;
	} else {
		si->cookie = read_cookie(skc, &si->synth_cookie);
	}
}

/* A pointer's value as a plain number, to key and hash by: the verifier
 * refuses arithmetic on typed (trusted) pointers. Read back from the stack
 * it is a number; a shared scratch slot would not do, since a program in a
 * softirq can run in between on the same CPU. */
static __always_inline __u64 addr_of(const void *p)
{
	const void *in = p;
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &in);
	return v;
}

/* Slab objects: the low bits of an address say little, so every bit is
 * mixed into the ones kept (a multiply alone left buckets uneven). */
static __always_inline __u32 bucket_of(__u64 addr, __u32 mask)
{
	addr ^= addr >> 33;
	addr *= 0xff51afd7ed558ccdULL;
	addr ^= addr >> 33;
	return (__u32)addr & mask;
}

/* The way of keys[] holding key, or -1. */
static __always_inline int way_of(const __u64 keys[TABLE_WAYS], __u64 key)
{
	for (int i = 0; i < TABLE_WAYS; i++)
		if (keys[i] == key)
			return i;
	return -1;
}

static __always_inline struct sock_bucket *sock_bucket(__u64 key)
{
	__u32 i = bucket_of(key, sock_buckets_mask);

	return bpf_map_lookup_elem(&socks, &i);
}

static __always_inline struct sock_info *bucket_find(struct sock_bucket *b, __u64 key)
{
	int w = way_of(b->sk, key);

	return w < 0 ? NULL : &b->info[w & (TABLE_WAYS - 1)];
}

/* The socket's entry, or NULL if the tracer has none. */
static __always_inline struct sock_info *sock_find(const struct sock *sk)
{
	__u64 key = addr_of(sk);
	struct sock_bucket *b = sock_bucket(key);

	return b ? bucket_find(b, key) : NULL;
}

/* Which way a new entry takes: an empty one, a closed socket's, else the
 * one that changed least recently - a live socket's, whose owner and
 * timing are then lost (counted). */
static __always_inline __u32 sock_victim(const struct sock_bucket *b)
{
	__u32 oldest = 0;

	for (__u32 i = 0; i < TABLE_WAYS; i++) {
		const struct sock_info *si = &b->info[i];

		if (!b->sk[i] || (si->state == TCP_CLOSE && si->last_ns))
			return i;
		if (si->last_ns < b->info[oldest & (TABLE_WAYS - 1)].last_ns)
			oldest = i;
	}
	stat_inc(TS_STAT_SOCK_FULL);
	return oldest & (TABLE_WAYS - 1);
}

/* The socket's entry, created if missing, with no cookie yet. */
static __always_inline struct sock_info *sock_entry_unnamed(const struct sock *sk)
{
	__u64 key = addr_of(sk);
	struct sock_bucket *b = sock_bucket(key);
	struct sock_info *si;
	__u32 v;

	if (!b)
		return NULL;
	si = bucket_find(b, key);
	if (si)
		return si;
	v = sock_victim(b);
	b->sk[v] = key;
	si = &b->info[v];
	__builtin_memset(si, 0, sizeof(*si));
	return si;
}

/* The socket's entry, created if missing, named. NULL only if the map
 * could not be read. skc: its common fields (skc_of()). */
static __always_inline struct sock_info *sock_entry(const struct sock *sk,
						    const struct sock_common *skc,
						    __u64 trusted_cookie)
{
	struct sock_info *si = sock_entry_unnamed(sk);

	if (!si)
		return NULL;
	sock_set_cookie(si, skc, trusted_cookie);
	if (!si->ino)
		si->ino = sk_ino(sk);
	return si;
}

/* A socket's cookie as the tracer named it in si (its entry, or NULL),
 * else the kernel's or a new one. */
static __always_inline __u64 entry_cookie(const struct sock_info *si,
					  const struct sock_common *skc, __u8 *synth)
{
	if (si && si->cookie) {
		*synth = si->synth_cookie;
		return si->cookie;
	}
	return read_cookie(skc, synth);
}

static __always_inline __u64 sock_cookie(const struct sock *sk, const struct sock_common *skc,
					 __u8 *synth)
{
	return entry_cookie(sock_find(sk), skc, synth);
}

#endif /* SOCK_TABLE_BPF_H */

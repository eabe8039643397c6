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
static __always_inline __u64 read_cookie(const struct sock *sk, __u8 *synth)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	*synth = !cookie;
	return cookie ? cookie : synth_cookie();
}

/* Give si a cookie if it has none: the helper's (trusted_cookie, when the
 * caller could call it) or read_cookie(). */
static __always_inline void sock_set_cookie(struct sock_info *si, const struct sock *sk,
					    __u64 trusted_cookie)
{
	if (si->cookie)
		return;
	if (trusted_cookie) {
		si->cookie = trusted_cookie;
		si->synth_cookie = 0;
	} else {
		si->cookie = read_cookie(sk, &si->synth_cookie);
	}
}

/* The socket's entry in the socks hash, created if missing, with no cookie
 * yet. NULL only if the table is full. */
static __always_inline struct sock_info *sock_hash_entry(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct sock_info *si = bpf_map_lookup_elem(&socks, &key);

	if (!si) {
		struct sock_info fresh = {};

		bpf_map_update_elem(&socks, &key, &fresh, BPF_NOEXIST);
		si = bpf_map_lookup_elem(&socks, &key);
	}
	return si;
}

/* The socket's entry, created if missing: in its own storage where the
 * pointer is trusted and the kernel allows it, else in the hash. NULL only
 * if there is no room. */
static __always_inline struct sock_info *sock_entry_unnamed(const struct sock *sk, bool trusted)
{
	struct sock_info *si;

	if (trusted && use_sk_storage)
		si = bpf_sk_storage_get(&sk_stor, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	else
		si = sock_hash_entry(sk);
	if (!si)
		stat_inc(TS_STAT_SOCK_FULL);
	return si;
}

/* The socket's entry, created if missing, named. NULL only if there is no room. */
static __always_inline struct sock_info *sock_entry(const struct sock *sk, bool trusted,
						    __u64 trusted_cookie)
{
	struct sock_info *si = sock_entry_unnamed(sk, trusted);

	if (!si)
		return NULL;
	sock_set_cookie(si, sk, trusted_cookie);
	if (!si->ino)
		si->ino = sk_ino(sk);
	return si;
}

/* A socket's cookie from a path with an untrusted pointer (system calls).
 * With socket storage the state program has asked the kernel for every
 * socket it saw, so the socket holds it; else the hash entry has it. */
static __always_inline __u64 sock_cookie_untrusted(const struct sock *sk, __u8 *synth)
{
	struct sock_info *si;

	if (use_sk_storage)
		return read_cookie(sk, synth);
	si = sock_entry(sk, false, 0);
	if (!si)
		return read_cookie(sk, synth);
	*synth = si->synth_cookie;
	return si->cookie;
}

/* Whether the tracer knows the socket: it made a transition the tracer saw. */
static __always_inline bool sock_known_untrusted(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (use_sk_storage)
		return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) != 0;
	return bpf_map_lookup_elem(&socks, &key) != NULL;
}

#endif /* SOCK_TABLE_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One accessor per kernel change the BPF side must survive, each naming the change.
 * Everything version-dependent goes here so the programs read straight. */
#ifndef CORE_FIXES_BPF_H
#define CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* sk_protocol was an 8-bit bitfield until 5.6, when commit bf9765145b85
 * ("sock: Make sk_protocol a 16-bit value") made it a plain u16. The probed
 * bitfield read handles both layouts. */
static __always_inline __u16 sk_protocol(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* Network namespace inode number; skc_net is a possible_net_t on every
 * kernel we support, with .net present when CONFIG_NET_NS=y. */
static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Local port, host order. inet_sport rather than skc_num: unhashing at
 * CLOSE zeroes skc_num before the state tracepoint fires, and the
 * tracepoint's own sport field reads inet_sport too. */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

#endif /* CORE_FIXES_BPF_H */

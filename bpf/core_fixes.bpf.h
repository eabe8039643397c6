/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One accessor per kernel change the BPF side must survive, each naming the change.
 * Everything version-dependent goes here so the programs read straight. */
#ifndef CORE_FIXES_BPF_H
#define CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* Macros vmlinux.h cannot carry. */
#define TS_AF_INET 2
#define TS_AF_INET6 10
#define TS_S_IFMT 00170000
#define TS_S_IFSOCK 0140000

/* sk_protocol was an 8-bit bitfield until 5.6, when commit bf9765145b85
 * ("sock: Make sk_protocol a 16-bit value") made it a plain u16. The probed
 * bitfield read handles both layouts. */
static __always_inline __u16 sk_protocol(const struct sock *sk, bool trusted)
{
	/* A trusted pointer reads the plain u16 of 5.6+ (ring buffers need 5.8). */
	if (trusted)
		return sk->sk_protocol;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* Socket fields, read with a plain load where the pointer is trusted
 * (tp_btf, fentry: the verifier knows its type) and with a probe read where
 * it is not (classic tracepoints, pointers found by walking memory). A probe
 * read is a helper call; a plain load is one instruction. trusted is always
 * a constant, so each program keeps one of the two. */
static __always_inline __u16 sk_family(const struct sock *sk, bool trusted)
{
	return trusted ? sk->__sk_common.skc_family : BPF_CORE_READ(sk, __sk_common.skc_family);
}

static __always_inline __u8 sk_state(const struct sock *sk, bool trusted)
{
	return trusted ? sk->__sk_common.skc_state : BPF_CORE_READ(sk, __sk_common.skc_state);
}

/* Remote port, host order. */
static __always_inline __u16 sk_dport(const struct sock *sk, bool trusted)
{
	return bpf_ntohs(trusted ? sk->__sk_common.skc_dport
				 : BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* Network namespace inode number; skc_net is a possible_net_t on every
 * kernel we support, with .net present when CONFIG_NET_NS=y. */
static __always_inline __u32 sk_netns(const struct sock *sk, bool trusted)
{
	return trusted ? sk->__sk_common.skc_net.net->ns.inum
		       : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Local port, host order. inet_sport rather than skc_num: unhashing at
 * CLOSE zeroes skc_num before the state tracepoint fires, and the
 * tracepoint's own sport field reads inet_sport too. inet_sock lies past
 * struct sock, where a trusted pointer's plain loads may not go. */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/* Local and remote address: 4 bytes for IPv4, 16 for IPv6. */
static __always_inline void sk_addrs(const struct sock_common *skc, bool trusted, __u16 family,
				     __u8 saddr[16], __u8 daddr[16])
{
	if (family == TS_AF_INET && trusted) {
		*(__u32 *)saddr = skc->skc_rcv_saddr;
		*(__u32 *)daddr = skc->skc_daddr;
	} else if (family == TS_AF_INET) {
		bpf_core_read(saddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(daddr, 4, &skc->skc_daddr);
	} else if (trusted) {
		/* word by word: plain loads must match the fields' types */
		for (int i = 0; i < 4; i++) {
			((__u32 *)saddr)[i] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((__u32 *)daddr)[i] = skc->skc_v6_daddr.in6_u.u6_addr32[i];
		}
	} else {
		bpf_core_read(saddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &skc->skc_v6_daddr);
	}
}

/* The socket's inode number, as /proc/PID/fd shows it ("socket:[N]"); 0
 * while no struct socket is attached (a child not yet accepted). The inode
 * sits beside the socket in struct socket_alloc (SOCK_INODE()). */
static __always_inline __u64 sk_ino(const struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!sock)
		return 0;
	sa = (void *)sock - bpf_core_field_offset(struct socket_alloc, socket);
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* struct file's reference count: f_count (atomic_long_t) until 6.13, when
 * commit 90ee6ed776c0 ("fs: port files to file_ref") replaced it with f_ref,
 * a file_ref_t whose counter holds references - 1 (negative once dead). */
struct file___pre_6_13 {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline __u32 file_refs(const struct file *file)
{
	if (bpf_core_field_exists(struct file, f_ref)) {
		long v = BPF_CORE_READ(file, f_ref.refcnt.counter);

		return v >= 0 && v < 0x7fffffff ? (__u32)v + 1 : 0;
	}
	return (__u32)BPF_CORE_READ((const struct file___pre_6_13 *)file, f_count.counter);
}

#endif /* CORE_FIXES_BPF_H */

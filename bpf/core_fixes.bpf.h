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

/* Features user space found (user/probe.c). */
/* bpf_get_current_task_btf() (5.11): the current task by plain loads. */
const volatile bool has_task_btf;
/* bpf_rdonly_cast() (6.2, commit a35b9af4ec2c "bpf: Add a kfunc for generic
 * type cast"): a pointer the verifier does not trust, cast to its kernel
 * type, is read with plain loads the verifier makes fault-safe, instead of
 * one helper call per field. The verifier inlines the call; where it is
 * missing the call is dead code, which libbpf leaves unresolved. */
const volatile bool has_rdonly_cast;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define KCAST(T, p) ((T *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(T)))
/* Field f (a path such as a.b) of the kernel's T at p, any pointer. */
#define KREAD(T, p, f) (has_rdonly_cast ? KCAST(T, p)->f : BPF_CORE_READ((T *)(p), f))

/* sk_protocol was an 8-bit bitfield until 5.6, when commit bf9765145b85
 * ("sock: Make sk_protocol a 16-bit value") made it a plain u16. The probed
 * bitfield read handles both layouts. */
static __always_inline __u16 sk_protocol(const struct sock *sk, bool trusted)
{
	/* Plain loads read the u16 of 5.6+ (ring buffers need 5.8). */
	if (trusted)
		return sk->sk_protocol;
	if (has_rdonly_cast)
		return KCAST(struct sock, sk)->sk_protocol;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

/* The struct sock_common fields the programs read, from one place: the
 * socket itself where the pointer is trusted (tp_btf, fentry: plain loads),
 * else a copy of its head made with one probe read - one helper call
 * instead of one per field. The head runs to skc_cookie, past the family,
 * state, ports, addresses and namespace. */
union skc_copy {
	struct sock_common skc;
	__u8 raw[sizeof(struct sock_common)];
};

static __always_inline const struct sock_common *skc_of(const struct sock *sk, bool trusted,
							union skc_copy *c)
{
	__u32 n = bpf_core_field_offset(struct sock_common, skc_cookie) + sizeof(__u64);

	if (trusted)
		return &sk->__sk_common;
	if (has_rdonly_cast)
		return &KCAST(struct sock, sk)->__sk_common;
	if (n > sizeof(*c))
		n = sizeof(*c);
	/* On a fault the helper zeroes the copy: family 0, no socket. */
	bpf_probe_read_kernel(c, n, sk);
	return &c->skc;
}

static __always_inline __u16 skc_family(const struct sock_common *skc)
{
	return skc->skc_family;
}

static __always_inline __u8 skc_state(const struct sock_common *skc)
{
	return skc->skc_state;
}

/* Remote port, host order. */
static __always_inline __u16 skc_dport(const struct sock_common *skc)
{
	return bpf_ntohs(skc->skc_dport);
}

static __always_inline __u64 skc_cookie(const struct sock_common *skc)
{
	return skc->skc_cookie.counter;
}

/* Network namespace inode number; skc_net is a possible_net_t on every
 * kernel we support, with .net present when CONFIG_NET_NS=y. In a copy the
 * namespace pointer is a plain number: one probe read. */
static __always_inline __u32 skc_netns(const struct sock_common *skc, bool trusted)
{
	if (trusted || has_rdonly_cast)
		return skc->skc_net.net->ns.inum;
	return BPF_CORE_READ(skc->skc_net.net, ns.inum);
}

/* Local and remote address: 4 bytes for IPv4, 16 for IPv6; word by word,
 * as plain loads through a trusted pointer must match the fields' types. */
static __always_inline void skc_addrs(const struct sock_common *skc, __u16 family,
				      __u8 saddr[16], __u8 daddr[16])
{
	if (family == TS_AF_INET) {
		*(__u32 *)saddr = skc->skc_rcv_saddr;
		*(__u32 *)daddr = skc->skc_daddr;
		return;
	}
	for (int i = 0; i < 4; i++) {
		((__u32 *)saddr)[i] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
		((__u32 *)daddr)[i] = skc->skc_v6_daddr.in6_u.u6_addr32[i];
	}
}

/* Local port, host order. inet_sport rather than skc_num: unhashing at
 * CLOSE zeroes skc_num before the state tracepoint fires, and the
 * tracepoint's own sport field reads inet_sport too. inet_sock lies past
 * struct sock, where a trusted pointer's plain loads may not go. */
static __always_inline __u16 sk_sport(const struct sock *sk)
{
	return bpf_ntohs(KREAD(struct inet_sock, sk, inet_sport));
}

/* The socket's inode number, as /proc/PID/fd shows it ("socket:[N]"); 0
 * while no struct socket is attached (a child not yet accepted). The inode
 * sits beside the socket in struct socket_alloc (SOCK_INODE()). */
static __always_inline __u64 sk_ino(const struct sock *sk)
{
	struct socket *sock = KREAD(struct sock, sk, sk_socket);
	void *sa;

	if (!sock)
		return 0;
	sa = (void *)sock - bpf_core_field_offset(struct socket_alloc, socket);
	return KREAD(struct socket_alloc, sa, vfs_inode.i_ino);
}

/* The listener a child was cloned from, while its LISTEN -> SYN_RECV runs
 * (inet_csk_clone_lock()). sk_clone_lock() copies the listener whole, and
 * tcp_create_openreq_child() re-initialises the child's tsorted_sent_queue
 * only after that: until then the child's list head is the listener's,
 * which, empty as a listener's always is, links to itself - inside the
 * listener. The list came with 4.15 (commit e2080072ed2d "tcp: new list for
 * sent but unacked skbs for RACK recovery"); the order holds on 5.10, 6.1,
 * 6.12, 6.18 and 7.3 (the live test listeners_own_children proves it in
 * every mode). A request sock's rsk_listener would say the same, but no
 * hook sees the request sock on every kernel in every mode. 0 when the head
 * does not link to itself. */
static __always_inline __u64 child_listener(const struct sock *child)
{
	__u32 off = bpf_core_field_offset(struct tcp_sock, tsorted_sent_queue);
	struct {
		__u64 next, prev;
	} head = {};

	if (bpf_probe_read_kernel(&head, sizeof(head), (const void *)child + off) ||
	    !head.next || head.next != head.prev)
		return 0;
	return head.next - off;
}

static __always_inline struct inode *file_inode_of(const struct file *file)
{
	return KREAD(struct file, file, f_inode);
}

static __always_inline __u64 file_ino(const struct file *file)
{
	struct inode *inode = file_inode_of(file);

	return KREAD(struct inode, inode, i_ino);
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
		long v = KREAD(struct file, file, f_ref.refcnt.counter);

		return v >= 0 && v < 0x7fffffff ? (__u32)v + 1 : 0;
	}
	return (__u32)KREAD(struct file___pre_6_13, file, f_count.counter);
}

#endif /* CORE_FIXES_BPF_H */

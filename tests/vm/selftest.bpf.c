/* selftest.bpf.c — trivial BPF programs for the VM self-test (selftest-bpf). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/*
 * Just the fields used, relocated against the running kernel's BTF by
 * libbpf (CO-RE), so no vmlinux.h is needed.
 */
struct sock_common {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

/* Indexes into counters; keep in step with selftest-bpf.c. */
enum {
	C_GETPPID,         /* tracepoint syscalls:sys_enter_getppid */
	C_STATE_CHANGES,   /* tp_btf inet_sock_set_state, any */
	C_ESTABLISHED_V4,  /* ... to ESTABLISHED, AF_INET */
	C_ESTABLISHED_V6,  /* ... to ESTABLISHED, AF_INET6 */
	C_KPROBE,          /* kprobe tcp_close */
	C_FENTRY,          /* fentry tcp_close */
	C_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	bump(C_GETPPID);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(btf_set_state, struct sock *sk, int oldstate, int newstate)
{
	bump(C_STATE_CHANGES);
	if (newstate == 1 /* TCP_ESTABLISHED */) {
		unsigned short family = sk->__sk_common.skc_family;

		if (family == 2 /* AF_INET */)
			bump(C_ESTABLISHED_V4);
		else if (family == 10 /* AF_INET6 */)
			bump(C_ESTABLISHED_V6);
	}
	return 0;
}

SEC("kprobe/tcp_close")
int kp_tcp_close(void *ctx)
{
	bump(C_KPROBE);
	return 0;
}

SEC("fentry/tcp_close")
int BPF_PROG(fe_tcp_close, struct sock *sk, long timeout)
{
	bump(C_FENTRY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

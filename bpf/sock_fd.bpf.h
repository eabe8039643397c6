/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* From a file descriptor of the current task to its TCP socket, for the
 * syscall tracepoints, where only the fd is known. The pointer this returns
 * came from probe reads: it is not trusted, so the cookie helper and
 * sk_storage refuse it; key maps by its address instead. */
#ifndef SOCK_FD_BPF_H
#define SOCK_FD_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "core_fixes.bpf.h"


static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* The TCP socket behind a file, or NULL if the file is anything else. */
static __always_inline struct sock *file_tcp_sock(struct file *file)
{
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & TS_S_IFMT) != TS_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != TS_AF_INET && family != TS_AF_INET6)
		return NULL;
	if (sk_protocol(sk) != IPPROTO_TCP)
		return NULL;
	return sk;
}

#endif /* SOCK_FD_BPF_H */

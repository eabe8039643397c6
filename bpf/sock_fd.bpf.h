/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* From a file descriptor of the current task to its TCP socket, for the
 * syscall tracepoints, where only the fd is known. The pointer this returns
 * came from probe reads: it is not trusted, so the cookie helper refuses
 * it; the socket table is keyed by its address for that reason. */
#ifndef SOCK_FD_BPF_H
#define SOCK_FD_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "core_fixes.bpf.h"


static __always_inline struct file *fd_file(int fd)
{
	struct file *file = NULL;
	struct file **fds;

	if (fd < 0)
		return NULL;
	if (has_task_btf) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct files_struct *files = task->files;
		struct fdtable *fdt;

		if (!files)
			return NULL;
		fdt = files->fdt;
		if (!fdt || (unsigned int)fd >= fdt->max_fds)
			return NULL;
		fds = fdt->fd;
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

		if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
			return NULL;
		fds = BPF_CORE_READ(fdt, fd);
	}
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* The TCP socket behind a file, or NULL if the file is anything else; its
 * common fields in *skc, from skc_of() with c. */
static __always_inline struct sock *file_tcp_sock(struct file *file, union skc_copy *c,
						  const struct sock_common **skc)
{
	struct socket *sock;
	struct inode *inode;
	struct sock *sk;
	__u16 family;

	if (!file)
		return NULL;
	inode = file_inode_of(file);
	if ((KREAD(struct inode, inode, i_mode) & TS_S_IFMT) != TS_S_IFSOCK)
		return NULL;
	sock = KREAD(struct file, file, private_data);
	sk = KREAD(struct socket, sock, sk);
	if (!sk)
		return NULL;
	*skc = skc_of(sk, false, c);
	family = skc_family(*skc);
	if (family != TS_AF_INET && family != TS_AF_INET6)
		return NULL;
	if (sk_protocol(sk, false) != IPPROTO_TCP)
		return NULL;
	return sk;
}

#endif /* SOCK_FD_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What this kernel and this process can do, asked once at start-up. */
#ifndef PROBE_H
#define PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kernel BTF at /sys/kernel/btf/vmlinux (CO-RE needs it). */
bool probe__kernel_btf(void);
/* Root, or CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN). On false, missing
 * names what is lacking. */
bool probe__privileges(char *missing, size_t len);
/* BPF ring buffer maps (Linux 5.8). */
bool probe__ringbuf(void);
/* A tp_btf program can load on the named raw tracepoint. */
bool probe__tp_btf(const char *tp);
/* tp_btf programs may call bpf_get_socket_cookie() on a socket argument
 * (Linux 5.12). */
bool probe__tp_btf_cookie(const char *tp);
/* An fentry program can load and attach on kernel function fn. On false,
 * why says what failed (e.g. "load: Operation not permitted"). */
bool probe__fentry(const char *fn, char *why, size_t len);
/* A kprobe can be placed on fn (perf kprobe PMU). */
bool probe__kprobe(const char *fn, char *why, size_t len);
/* bpf_get_current_task_btf() (5.11): a trusted pointer to the current task. */
bool probe__task_btf(void);
/* Tracepoint and kprobe programs may call the bpf_rdonly_cast() kfunc
 * (Linux 6.2). */
bool probe__rdonly_cast(void);
/* The bpf_loop() helper (Linux 5.17). */
bool probe__bpf_loop(void);
/* The kernel counts the runs it skips of classic tracepoint and kprobe
 * programs (bpf_prog_info.recursion_misses; Linux 6.7). Before, a classic
 * tracepoint firing while another BPF program runs on its CPU is skipped
 * without a trace. Told from kernel BTF: the same change gave
 * struct bpf_link_info its "missed" members. */
bool probe__classic_misses_counted(void);
/* Inode of this process's network namespace (what BPF sees as
 * sk->__sk_common.skc_net.net->ns.inum); 0 if unknown. */
uint32_t probe__own_netns(void);
/* Address of a kernel text symbol from /proc/kallsyms; 0 if not found (or
 * hidden by kptr_restrict). */
uint64_t probe__ksym(const char *name);
/* Make sure tracefs is reachable for classic tracepoints, mounting it at
 * /sys/kernel/tracing if nothing is mounted. 0, or -errno. */
int probe__ensure_tracefs(bool verbose);
/* A classic tracepoint "category/name" exists (tracefs must be mounted). */
bool probe__tracepoint(const char *category, const char *name);

/* Free what the probes keep between calls (the kernel's BTF). */
void probe__release(void);

#endif /* PROBE_H */

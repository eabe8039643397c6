/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The capabilities the tracer holds once its programs are attached: only
 * those a later step still uses (tcpstate-trace(8), SECURITY). Capability
 * sets are per thread: a thread started afterwards inherits the calling
 * thread's; a thread that must hold none calls privs__limit(0, 0). */
#ifndef PRIVS_H
#define PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIVS_CAP(c) (1ULL << (c))
/* Numbers from linux/capability.h, for callers that do not include it
 * (CAP_BPF is missing from older headers). */
#define CAP_SYS_PTRACE_NR 19
#define CAP_SYS_ADMIN_NR 21
#define CAP_BPF_NR 39
/* Around the --metrics-file rename (outfile.c). */
#define PRIVS_FILE_CAP 1	/* CAP_DAC_OVERRIDE */

/* This thread's sets limited to effective and permitted (effective is
 * kept within permitted, both within what it holds now); the bounding
 * set to permitted, the ambient and inheritable sets emptied, and
 * no_new_privs set. 0, or -errno with why in err. */
int privs__limit(uint64_t effective, uint64_t permitted, char *err, size_t errlen);
/* cap into this thread's effective set, when it is permitted and not
 * there yet: true if it was raised, to be lowered after the call. */
bool privs__raise(int cap);
void privs__lower(int cap);
/* This thread's sets now. 0 or -errno. */
int privs__get(uint64_t *effective, uint64_t *permitted);

/* What a run needs after attaching. */
struct privs_need {
	bool holders;		/* /proc/PID/fd of any process: holders, -p, -c */
	bool cgroups;		/* cgroups opened by id (open_by_handle_at) */
	bool all_netns;		/* setns() into each namespace, /proc/PID/ns/net */
	bool metrics_file;	/* files renamed into a directory root may not own */
	bool bpf_syscall;	/* map and program reads need bpf_capable() */
};
void privs__sets(const struct privs_need *n, uint64_t *effective, uint64_t *permitted);
/* The sets, as a sentence for -v: "CAP_X CAP_Y". */
void privs__names(uint64_t caps, char *buf, size_t len);

#endif /* PRIVS_H */

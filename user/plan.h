/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The setup plan: from what the kernel can do and what the options ask, the
 * hooks to load. plan__make() is pure, so every kernel's plan is unit-tested
 * (tests/unit/test_plan.c); the tracer probes, then applies it. */
#ifndef PLAN_H
#define PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cli.h"
#include "tcpstate.h"

/* What the probes found. A feature the options rule out is not probed and
 * stays false. */
struct features {
	bool tp_btf;			/* tp_btf on inet_sock_set_state (5.5) */
	bool tp_btf_cookie;		/* bpf_get_socket_cookie() there (5.12) */
	bool classic_misses_counted;	/* recursion_misses of classic hooks (6.7) */
	bool fentry;			/* fentry on tcp_close and tcp_shutdown */
	char why_no_fentry[160];
	bool kprobe;			/* kprobes on them */
	char why_no_kprobe[160];
	int tracefs_err;		/* 0: tracefs mounted (or mounted now) */
	bool syscall_tps;		/* the syscall tracepoints (CONFIG_FTRACE_SYSCALLS) */
	uint64_t tw_timer_fn;		/* tw_timer_handler's address; 0: not in kallsyms */
	bool tw_fin_fentry;		/* fentry on __inet_twsk_schedule (the peer's FIN */
	bool tw_fin_kprobe;		/* to a FIN_WAIT2 timewait socket); a kprobe there */
	bool bpf_loop;			/* bpf_loop() (5.17) */
	bool task_btf;			/* bpf_get_current_task_btf() (5.11) */
	bool rdonly_cast;		/* the bpf_rdonly_cast() kfunc (6.2) */
};

#define PLAN_WARNINGS 3

struct plan {
	enum state_hook state_hook;	/* TP_BTF or TRACEPOINT */
	enum ts_cookie_mode cookie_mode;
	enum ts_close_hook close_hook;
	bool syscalls;			/* the syscall tracepoints are loaded */
	bool exit_scan;			/* process exit walks its descriptors */
	bool timewait;			/* timer hooks follow timewait sockets */
	enum ts_close_hook tw_fin_hook;	/* how the FIN ending FIN_WAIT2 in a timewait
					 * socket is seen: FENTRY, KPROBE, or
					 * TRACEPOINT (derived from the timer) */
	bool misses_counted;		/* every skipped run is counted */
	bool task_btf;
	bool rdonly_cast;		/* untrusted pointers read by plain loads */
	uint64_t tw_timer_fn;
	/* Degradations the user is told about, each a sentence. */
	char warning[PLAN_WARNINGS][256];
	int nwarnings;
};

/* The plan for features f and options o: 0, or -EOPNOTSUPP (-ENOENT for
 * tracefs) with one sentence in err saying what is missing and what to do. */
int plan__make(struct plan *p, const struct features *f, const struct cli_opts *o,
	       char *err, size_t errlen);

#endif /* PLAN_H */

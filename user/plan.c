// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The setup plan (plan.h). Pure: no probing, no I/O. */
#include "plan.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STATE_TP "inet_sock_set_state"

static void warn(struct plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nwarnings >= PLAN_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(p->warning[p->nwarnings++], sizeof(p->warning[0]), fmt, ap);
	va_end(ap);
}

/* How to reach inet_sock_set_state and how to name sockets. */
static int plan_state(struct plan *p, const struct features *f, const struct cli_opts *o,
		      char *err, size_t errlen)
{
	bool tp_btf = o->state_hook != STATE_HOOK_TRACEPOINT && f->tp_btf;

	if (o->state_hook == STATE_HOOK_TP_BTF && !tp_btf) {
		snprintf(err, errlen, "--state-hook tp_btf: this kernel cannot attach tp_btf/" STATE_TP
			 " (needs Linux 5.5+ with BTF); use --state-hook tracepoint");
		return -EOPNOTSUPP;
	}
	p->state_hook = tp_btf ? STATE_HOOK_TP_BTF : STATE_HOOK_TRACEPOINT;
	/* The classic hooks run in softirq too, where they can interrupt
	 * another BPF program: then the kernel skips them. */
	p->misses_counted = tp_btf || f->classic_misses_counted;
	if (!p->misses_counted)
		warn(p, "WARNING: this kernel does not count the classic tracepoint runs it skips "
		     "(Linux 6.7 does): a transition missed so shows only as a gap in its "
		     "socket's history%s", o->state_hook == STATE_HOOK_TRACEPOINT ?
		     "; drop --state-hook tracepoint" : "");
	p->cookie_mode = tp_btf && f->tp_btf_cookie ? TS_COOKIE_HELPER : TS_COOKIE_READ;
	if (!tp_btf && f->tracefs_err) {
		snprintf(err, errlen, "tracefs is not mounted and mounting it at /sys/kernel/tracing "
			 "failed (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'",
			 strerror(-f->tracefs_err));
		return -ENOENT;
	}
	return 0;
}

/* fentry where the kernel allows, else kprobes, else the syscall
 * tracepoints alone; a forced kind that cannot attach is an error. */
static int plan_close(struct plan *p, const struct features *f, const struct cli_opts *o,
		      char *err, size_t errlen)
{
	bool fentry = (o->attach == ATTACH_AUTO || o->attach == ATTACH_FENTRY) && f->fentry;
	bool kprobe = !fentry && (o->attach == ATTACH_AUTO || o->attach == ATTACH_KPROBE) &&
		      f->kprobe;

	if (o->attach == ATTACH_FENTRY && !fentry) {
		snprintf(err, errlen, "--attach fentry: %s; use --attach kprobe or tracepoint",
			 f->why_no_fentry);
		return -EOPNOTSUPP;
	}
	if (o->attach == ATTACH_KPROBE && !kprobe) {
		snprintf(err, errlen, "--attach kprobe: %s; use --attach fentry or tracepoint",
			 f->why_no_kprobe);
		return -EOPNOTSUPP;
	}
	p->close_hook = fentry ? TS_CLOSE_HOOK_FENTRY : kprobe ? TS_CLOSE_HOOK_KPROBE
							 : TS_CLOSE_HOOK_TRACEPOINT;
	return 0;
}

/* Without syscall tracepoints the tracer loses owners of accepted sockets
 * and every close(2) that is not the last: a degradation, said aloud. */
static void plan_syscalls(struct plan *p, const struct features *f)
{
	p->syscalls = !f->tracefs_err && f->syscall_tps;
	if (!p->syscalls)
		warn(p, "warning: syscall tracepoints unavailable (%s); accepted sockets are "
		     "attributed to the listener's owner and only final closes are seen",
		     f->tracefs_err ? "tracefs not mounted" : "kernel without CONFIG_FTRACE_SYSCALLS");
	/* sched_process_exit is a classic tracepoint too. */
	p->exit_scan = f->bpf_loop && p->syscalls;
}

static void plan_timewait(struct plan *p, const struct features *f)
{
	p->tw_timer_fn = f->tw_timer_fn;
	p->timewait = f->tw_timer_fn != 0;
	/* The same kind of hook as tcp_close's, where the function is there. */
	if (p->timewait && p->close_hook == TS_CLOSE_HOOK_FENTRY && f->tw_fin_fentry)
		p->tw_fin_hook = TS_CLOSE_HOOK_FENTRY;
	else if (p->timewait && p->close_hook == TS_CLOSE_HOOK_KPROBE && f->tw_fin_kprobe)
		p->tw_fin_hook = TS_CLOSE_HOOK_KPROBE;
	else
		p->tw_fin_hook = TS_CLOSE_HOOK_TRACEPOINT;
	if (!p->timewait)
		warn(p, "warning: tw_timer_handler not in /proc/kallsyms; TIME_WAIT is not "
		     "followed (connections end at FIN_WAIT2 -> CLOSE)");
}

int plan__make(struct plan *p, const struct features *f, const struct cli_opts *o,
	       char *err, size_t errlen)
{
	int e;

	memset(p, 0, sizeof(*p));
	if ((e = plan_state(p, f, o, err, errlen)) || (e = plan_close(p, f, o, err, errlen)))
		return e;
	plan_syscalls(p, f);
	plan_timewait(p, f);
	p->task_btf = f->task_btf;
	p->rdonly_cast = f->rdonly_cast;
	return 0;
}

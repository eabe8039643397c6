// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"
#include "tcpstate.skel.h"
#include "wire.h"

#define STATE_TP "inet_sock_set_state"

struct tracer {
	struct tcpstate_bpf *skel;
	struct ring_buffer *rb;
	struct tracer_choices choices;
	tracer_record_fn fn;
	void *ctx;
	int ncpus;
	struct wire_decoder wire;
};

const char *cookie_mode__name(enum ts_cookie_mode m)
{
	return m == TS_COOKIE_HELPER ? "helper" : "read";
}

const char *close_hook__name(enum ts_close_hook h)
{
	switch (h) {
	case TS_CLOSE_HOOK_FENTRY: return "fentry";
	case TS_CLOSE_HOOK_KPROBE: return "kprobe";
	default: return "tracepoint";
	}
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fputs("tcpstate-trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	struct ts_event e;

	if (!wire_decoder__decode(&t->wire, data, len, &e))
		return 0;
	return t->fn(t->ctx, &e);
}

/* Decide how to reach inet_sock_set_state and how to name sockets. */
static int choose(struct tracer *t, const struct cli_opts *o, char *err, size_t errlen)
{
	bool tp_btf = o->state_hook != STATE_HOOK_TRACEPOINT && probe__tp_btf(STATE_TP);

	if (o->state_hook == STATE_HOOK_TP_BTF && !tp_btf) {
		snprintf(err, errlen, "--state-hook tp_btf: this kernel cannot attach tp_btf/" STATE_TP
			 " (needs Linux 5.5+ with BTF); use --state-hook tracepoint");
		return -EOPNOTSUPP;
	}
	if (tp_btf) {
		t->choices.state_hook = STATE_HOOK_TP_BTF;
		note("state hook: tp_btf/" STATE_TP "%s",
		     o->state_hook == STATE_HOOK_AUTO ? " (available)" : " (forced)");
	} else {
		t->choices.state_hook = STATE_HOOK_TRACEPOINT;
		note("state hook: tracepoint sock/" STATE_TP "%s",
		     o->state_hook == STATE_HOOK_TRACEPOINT ? " (forced)" : " (tp_btf unavailable)");
	}
	/* The classic hooks run in softirq too, where they can interrupt
	 * another BPF program: then the kernel skips them. */
	t->choices.misses_counted = tp_btf || probe__classic_misses_counted();
	if (!t->choices.misses_counted)
		fprintf(stderr, "tcpstate-trace: WARNING: this kernel does not count the classic "
			"tracepoint runs it skips (Linux 6.7 does): a transition missed so shows "
			"only as a gap in its socket's history%s\n",
			o->state_hook == STATE_HOOK_TRACEPOINT ? "; drop --state-hook tracepoint"
							       : "");

	if (tp_btf && probe__tp_btf_cookie(STATE_TP)) {
		t->choices.cookie_mode = TS_COOKIE_HELPER;
		note("socket cookie: bpf_get_socket_cookie()");
	} else {
		t->choices.cookie_mode = TS_COOKIE_READ;
		note("socket cookie: skc_cookie where the kernel set it, else tracer-assigned ids "
		     "(%s)", tp_btf ? "kernel before 5.12: no cookie helper in tracing programs"
				    : "classic tracepoint: socket pointer not trusted");
	}
	return 0;
}

/* fentry where the kernel allows, else kprobes, else the syscall
 * tracepoints alone; a forced kind that cannot attach is an error. */
static int choose_close_hook(struct tracer *t, const struct cli_opts *o, char *err, size_t errlen)
{
	char why_f[160] = "not tried", why_k[160] = "not tried";
	bool fentry = false, kprobe = false;

	if (o->attach == ATTACH_AUTO || o->attach == ATTACH_FENTRY)
		fentry = probe__fentry("tcp_close", why_f, sizeof(why_f)) &&
			 probe__fentry("tcp_shutdown", why_f, sizeof(why_f));
	if (o->attach == ATTACH_FENTRY && !fentry) {
		snprintf(err, errlen, "--attach fentry: %s; use --attach kprobe or tracepoint", why_f);
		return -EOPNOTSUPP;
	}
	if (!fentry && (o->attach == ATTACH_AUTO || o->attach == ATTACH_KPROBE))
		kprobe = probe__kprobe("tcp_close", why_k, sizeof(why_k)) &&
			 probe__kprobe("tcp_shutdown", why_k, sizeof(why_k));
	if (o->attach == ATTACH_KPROBE && !kprobe) {
		snprintf(err, errlen, "--attach kprobe: %s; use --attach fentry or tracepoint", why_k);
		return -EOPNOTSUPP;
	}
	if (fentry)
		t->choices.close_hook = TS_CLOSE_HOOK_FENTRY;
	else if (kprobe)
		t->choices.close_hook = TS_CLOSE_HOOK_KPROBE;
	else
		t->choices.close_hook = TS_CLOSE_HOOK_TRACEPOINT;
	if (o->attach != ATTACH_AUTO)
		note("close hook: %s (forced)", close_hook__name(t->choices.close_hook));
	else if (fentry)
		note("close hook: fentry/tcp_close, fentry/tcp_shutdown");
	else if (kprobe)
		note("close hook: kprobe/tcp_close, kprobe/tcp_shutdown (fentry: %s)", why_f);
	else
		note("close hook: syscall tracepoints only (fentry: %s; kprobe: %s)", why_f, why_k);
	t->choices.exit_scan = probe__bpf_loop();
	note("process exit: %s", t->choices.exit_scan ? "descriptor walk with bpf_loop()"
			: "no bpf_loop() (Linux 5.17): exits seen only through tcp_close");
	return 0;
}

static int need_tracefs(struct tracer *t, char *err, size_t errlen)
{
	int e = probe__ensure_tracefs(verbose);

	if (e) {
		snprintf(err, errlen, "tracefs is not mounted and mounting it at /sys/kernel/tracing "
			 "failed (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing'",
			 strerror(-e));
		return e;
	}
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1U << 31))
		p <<= 1;
	return p;
}

static int fill_ports(int map_fd, const uint16_t *ports, int n)
{
	uint8_t one = 1;

	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(map_fd, &ports[i], &one, BPF_ANY))
			return -errno;
	return 0;
}

static void explain_load_error(int e, char *err, size_t errlen)
{
	char missing[128];

	if ((e == -EPERM || e == -EACCES) && !probe__privileges(missing, sizeof(missing)))
		snprintf(err, errlen, "loading BPF programs needs root or %s: run as root (sudo)",
			 missing);
	else if (e == -EPERM)
		snprintf(err, errlen, "the kernel refused the BPF programs (%s): a lockdown or LSM "
			 "policy may forbid BPF tracing; -v shows libbpf's detail", strerror(-e));
	else if (e == -EACCES || e == -EINVAL)
		snprintf(err, errlen, "the BPF verifier of this kernel rejected a program (%s): "
			 "please report it with the output of -v, which holds the verifier log",
			 strerror(-e));
	else
		snprintf(err, errlen, "failed to load the BPF programs (%s); -v shows libbpf's "
			 "detail", strerror(-e));
}

int tracer__open(struct tracer **out, const struct cli_opts *o, tracer_record_fn fn, void *ctx,
		 char *err, size_t errlen)
{
	struct tracer *t;
	struct tcpstate_bpf *s;
	char missing[128];
	int e;

	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	*out = NULL;

	if (!probe__privileges(missing, sizeof(missing))) {
		snprintf(err, errlen, "tracing needs root or %s: run as root (sudo)", missing);
		return -EPERM;
	}
	if (!probe__kernel_btf()) {
		snprintf(err, errlen, "kernel BTF not found at /sys/kernel/btf/vmlinux: this kernel "
			 "was built without CONFIG_DEBUG_INFO_BTF; use a kernel with BTF (most "
			 "distribution kernels since 5.4 have it)");
		return -ENOENT;
	}
	if (!probe__ringbuf()) {
		snprintf(err, errlen, "this kernel has no BPF ring buffer: Linux 5.8 or later is "
			 "required");
		return -EOPNOTSUPP;
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ctx = ctx;
	/* Every socket the kernel may still tell about, the timewait ones too. */
	if (wire_decoder__init(&t->wire, cli__conn_cap(o))) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		e = t->ncpus ? t->ncpus : -EINVAL;
		snprintf(err, errlen, "cannot count possible CPUs: %s", strerror(-e));
		goto fail;
	}

	e = choose(t, o, err, errlen);
	if (!e)
		e = choose_close_hook(t, o, err, errlen);
	if (e)
		goto fail;

	s = t->skel = tcpstate_bpf__open();
	if (!s) {
		e = -errno;
		snprintf(err, errlen, "failed to open the BPF object: %s", strerror(-e));
		goto fail;
	}
	s->rodata->cookie_mode = t->choices.cookie_mode;
	s->rodata->close_hook = t->choices.close_hook;
	s->rodata->has_bpf_loop = t->choices.exit_scan;
	s->rodata->has_task_btf = probe__task_btf();
	s->rodata->filter_pid = o->pid;
	s->rodata->filter_family = (uint16_t)o->family;
	s->rodata->filter_netns = o->all_netns ? 0 : probe__own_netns();
	s->rodata->filter_sport = o->nsports > 0;
	s->rodata->filter_dport = o->ndports > 0;
	s->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	/* Room for twice --max-sockets, and for four times as many
	 * timewait sockets, in buckets of TS_TABLE_WAYS. */
	uint32_t sb = pow2_at_least(o->max_sockets * 2 / TS_TABLE_WAYS),
		 twb = pow2_at_least(o->max_sockets * 4 / TS_TABLE_WAYS);

	s->rodata->sock_buckets_mask = sb - 1;
	s->rodata->tw_buckets_mask = twb - 1;
	bpf_map__set_max_entries(s->maps.socks, sb);
	bpf_map__set_max_entries(s->maps.tw_live, twb);

	bool btf = t->choices.state_hook == STATE_HOOK_TP_BTF;
	enum ts_close_hook ch = t->choices.close_hook;

	bpf_program__set_autoload(s->progs.state_btf, btf);
	bpf_program__set_autoload(s->progs.reset_send_btf, btf);
	bpf_program__set_autoload(s->progs.reset_recv_btf, btf);
	bpf_program__set_autoload(s->progs.state_tp, !btf);
	bpf_program__set_autoload(s->progs.reset_send_tp, !btf);
	bpf_program__set_autoload(s->progs.reset_recv_tp, !btf);
	bpf_program__set_autoload(s->progs.fentry_tcp_close, ch == TS_CLOSE_HOOK_FENTRY);
	bpf_program__set_autoload(s->progs.fentry_tcp_shutdown, ch == TS_CLOSE_HOOK_FENTRY);
	bpf_program__set_autoload(s->progs.kprobe_tcp_close, ch == TS_CLOSE_HOOK_KPROBE);
	bpf_program__set_autoload(s->progs.kprobe_tcp_shutdown, ch == TS_CLOSE_HOOK_KPROBE);

	/* Classic tracepoints (the syscalls' and the state fallback) are found
	 * through tracefs. Without syscall tracepoints the tracer loses owners
	 * of accepted sockets and every close(2) that is not the last: a
	 * degradation, said aloud. */
	e = need_tracefs(t, err, errlen);
	if (e && !btf)
		goto fail;
	t->choices.syscalls = !e;
	static const char *const sys_tps[] = { "sys_exit_accept4", "sys_exit_accept",
					       "sys_enter_close", "sys_enter_shutdown",
					       "sys_exit_shutdown", "sys_enter_connect",
					       "sys_exit_connect" };
	for (size_t i = 0; i < sizeof(sys_tps) / sizeof(sys_tps[0]); i++)
		if (t->choices.syscalls && !probe__tracepoint("syscalls", sys_tps[i]))
			t->choices.syscalls = false;
	if (!t->choices.syscalls) {
		fprintf(stderr, "tcpstate-trace: warning: syscall tracepoints unavailable (%s); "
			"accepted sockets are attributed to the listener's owner and only final "
			"closes are seen\n",
			e ? "tracefs not mounted" : "kernel without CONFIG_FTRACE_SYSCALLS");
		bpf_program__set_autoload(s->progs.exit_accept4, false);
		bpf_program__set_autoload(s->progs.exit_accept, false);
		bpf_program__set_autoload(s->progs.enter_close, false);
		bpf_program__set_autoload(s->progs.enter_shutdown, false);
		bpf_program__set_autoload(s->progs.exit_shutdown, false);
		bpf_program__set_autoload(s->progs.enter_connect, false);
		bpf_program__set_autoload(s->progs.exit_connect, false);
	}
	note("syscalls: %s", t->choices.syscalls ? "accept, accept4, close, shutdown" : "none");
	/* TIME_WAIT: timers whose function is tw_timer_handler. */
	uint64_t tw_fn = probe__ksym("tw_timer_handler");

	t->choices.timewait = tw_fn != 0;
	s->rodata->tw_timer_fn = tw_fn;
	bpf_program__set_autoload(s->progs.timer_start_btf, tw_fn && btf);
	bpf_program__set_autoload(s->progs.timer_cancel_btf, tw_fn && btf);
	bpf_program__set_autoload(s->progs.timer_start_tp, tw_fn && !btf);
	bpf_program__set_autoload(s->progs.timer_cancel_tp, tw_fn && !btf);
	if (!tw_fn)
		fprintf(stderr, "tcpstate-trace: warning: tw_timer_handler not in /proc/kallsyms; "
			"TIME_WAIT is not followed (connections end at FIN_WAIT2 -> CLOSE)\n");
	note("TIME_WAIT: %s", tw_fn ? "timer_start/timer_cancel on tw_timer_handler" : "off");
	/* sched_process_exit is a classic tracepoint too. */
	t->choices.exit_scan = t->choices.exit_scan && t->choices.syscalls;
	bpf_program__set_autoload(s->progs.sched_exit, t->choices.exit_scan);

	e = tcpstate_bpf__load(s);
	if (e) {
		explain_load_error(e, err, errlen);
		goto fail;
	}
	if (fill_ports(bpf_map__fd(s->maps.sports), o->sports, o->nsports) ||
	    fill_ports(bpf_map__fd(s->maps.dports), o->dports, o->ndports)) {
		e = -errno;
		snprintf(err, errlen, "failed to set the port filters: %s", strerror(errno));
		goto fail;
	}
	e = tcpstate_bpf__attach(s);
	if (e) {
		snprintf(err, errlen, "failed to attach the BPF programs (%s); -v shows libbpf's "
			 "detail", strerror(-e));
		goto fail;
	}
	t->rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_sample, t, NULL);
	if (!t->rb) {
		e = -errno;
		snprintf(err, errlen, "failed to set up the ring buffer: %s", strerror(errno));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tracer__close(t);
	return e;
}

int tracer__poll(struct tracer *t, int timeout_ms)
{
	int n;

	/* Before waiting: the next record past the threshold wakes us. */
	__atomic_store_n(&t->skel->bss->wake_armed, 1, __ATOMIC_SEQ_CST);
	n = ring_buffer__poll(t->rb, timeout_ms);

	if (n < 0)
		return n;	/* the callback's -EAGAIN included: more is waiting */
	/* Programs submit without a wakeup until data piles up, so a poll
	 * that timed out may still leave records waiting. */
	int m = ring_buffer__consume(t->rb);

	return m < 0 ? m : n + m;
}

int tracer__stats(struct tracer *t, uint64_t out[TS_STAT__MAX])
{
	int fd = bpf_map__fd(t->skel->maps.stats);
	uint64_t *vals = calloc((size_t)t->ncpus, sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < TS_STAT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			free(vals);
			return -errno;
		}
		for (int c = 0; c < t->ncpus; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

uint64_t tracer__missed(struct tracer *t)
{
	struct bpf_program *p;
	uint64_t missed = 0;

	bpf_object__for_each_program(p, t->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			missed += info.recursion_misses;
	}
	return missed;
}

void tracer__detach(struct tracer *t)
{
	tcpstate_bpf__detach(t->skel);
}

const struct tracer_choices *tracer__choices(const struct tracer *t)
{
	return &t->choices;
}

void tracer__decode_stats(const struct tracer *t, struct tracer_decode_stats *s)
{
	s->malformed = t->wire.malformed;
	s->unidentified = t->wire.unidentified;
}

void tracer__close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcpstate_bpf__destroy(t->skel);
	wire_decoder__free(&t->wire);
	free(t);
}

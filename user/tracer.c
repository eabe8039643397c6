// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"
#include "probe.h"
#include "tcpstate.skel.h"

#define STATE_TP "inet_sock_set_state"
/* Re-arms a timewait socket's timer: the peer's FIN in FIN_WAIT2. */
#define TW_FIN_FN "__inet_twsk_schedule"

/* A jiffy (the coarse clocks tick with it) and TCP_TIMEWAIT_LEN, 60 s, in
 * jiffies: the BPF side derives when a FIN re-armed a timer; 0 if not known. */
static void tw_clock(__u64 *jiffy_ns, __u64 *tw_len_jiffies)
{
	struct timespec res;

	*jiffy_ns = *tw_len_jiffies = 0;
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || res.tv_nsec <= 0)
		return;
	*jiffy_ns = (__u64)res.tv_nsec;
	*tw_len_jiffies = (60000000000ULL + *jiffy_ns / 2) / *jiffy_ns;
}

struct tracer {
	struct tcpstate_bpf *skel;
	struct ring_buffer *rb;
	struct plan plan;
	tracer_record_fn fn;
	void *ctx;
	int ncpus;
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

	return t->fn(t->ctx, data, len);
}

static const char *const sys_tps[] = { "sys_exit_accept4", "sys_exit_accept",
				       "sys_enter_close", "sys_enter_shutdown",
				       "sys_exit_shutdown", "sys_enter_connect",
				       "sys_exit_connect" };

static bool syscall_tps_exist(void)
{
	for (size_t i = 0; i < sizeof(sys_tps) / sizeof(sys_tps[0]); i++)
		if (!probe__tracepoint("syscalls", sys_tps[i]))
			return false;
	return true;
}

/* Everything the plan needs to know, probed once; what the options rule
 * out is not probed (an fentry probe loads a program). */
static void probe_features(struct features *f, const struct cli_opts *o)
{
	memset(f, 0, sizeof(*f));
	if (o->state_hook != STATE_HOOK_TRACEPOINT)
		f->tp_btf = probe__tp_btf(STATE_TP);
	if (f->tp_btf)
		f->tp_btf_cookie = probe__tp_btf_cookie(STATE_TP);
	else
		f->classic_misses_counted = probe__classic_misses_counted();
	snprintf(f->why_no_fentry, sizeof(f->why_no_fentry), "not tried");
	snprintf(f->why_no_kprobe, sizeof(f->why_no_kprobe), "not tried");
	if (o->attach == ATTACH_AUTO || o->attach == ATTACH_FENTRY)
		f->fentry = probe__fentry("tcp_close", f->why_no_fentry, sizeof(f->why_no_fentry)) &&
			    probe__fentry("tcp_shutdown", f->why_no_fentry, sizeof(f->why_no_fentry));
	if (!f->fentry && (o->attach == ATTACH_AUTO || o->attach == ATTACH_KPROBE))
		f->kprobe = probe__kprobe("tcp_close", f->why_no_kprobe, sizeof(f->why_no_kprobe)) &&
			    probe__kprobe("tcp_shutdown", f->why_no_kprobe, sizeof(f->why_no_kprobe));
	/* Classic tracepoints (the syscalls' and the state fallback) are
	 * found through tracefs. */
	f->tracefs_err = probe__ensure_tracefs(verbose);
	f->syscall_tps = !f->tracefs_err && syscall_tps_exist();
	f->tw_timer_fn = probe__ksym("tw_timer_handler");
	{
		char why[160];

		if (f->fentry)
			f->tw_fin_fentry = probe__fentry(TW_FIN_FN, why, sizeof(why));
		if (f->kprobe)
			f->tw_fin_kprobe = probe__kprobe(TW_FIN_FN, why, sizeof(why));
	}
	f->bpf_loop = probe__bpf_loop();
	f->task_btf = probe__task_btf();
	f->rdonly_cast = probe__rdonly_cast();
	probe__release();
}

/* -v: what the plan chose, and why. */
static void plan_notes(const struct plan *p, const struct features *f, const struct cli_opts *o)
{
	bool btf = p->state_hook == STATE_HOOK_TP_BTF;

	if (btf)
		note("state hook: tp_btf/" STATE_TP "%s",
		     o->state_hook == STATE_HOOK_AUTO ? " (available)" : " (forced)");
	else
		note("state hook: tracepoint sock/" STATE_TP "%s",
		     o->state_hook == STATE_HOOK_TRACEPOINT ? " (forced)" : " (tp_btf unavailable)");
	if (p->cookie_mode == TS_COOKIE_HELPER)
		note("socket cookie: bpf_get_socket_cookie()");
	else
		note("socket cookie: skc_cookie where the kernel set it, else tracer-assigned ids "
		     "(%s)", btf ? "kernel before 5.12: no cookie helper in tracing programs"
				 : "classic tracepoint: socket pointer not trusted");
	if (o->attach != ATTACH_AUTO)
		note("close hook: %s (forced)", close_hook__name(p->close_hook));
	else if (p->close_hook == TS_CLOSE_HOOK_FENTRY)
		note("close hook: fentry/tcp_close, fentry/tcp_shutdown");
	else if (p->close_hook == TS_CLOSE_HOOK_KPROBE)
		note("close hook: kprobe/tcp_close, kprobe/tcp_shutdown (fentry: %s)",
		     f->why_no_fentry);
	else
		note("close hook: syscall tracepoints only (fentry: %s; kprobe: %s)",
		     f->why_no_fentry, f->why_no_kprobe);
	note("process exit: %s", p->exit_scan ? "descriptor walk with bpf_loop()"
		: "no descriptor walk (needs bpf_loop(), Linux 5.17, and syscall tracepoints)");
	note("syscalls: %s", p->syscalls ? "accept, accept4, close, shutdown" : "none");
	note("TIME_WAIT: %s", p->timewait ? "timer_start/timer_cancel on tw_timer_handler" : "off");
	if (p->timewait)
		note("FIN_WAIT2 -> TIME_WAIT of timewait sockets: %s",
		     p->tw_fin_hook == TS_CLOSE_HOOK_FENTRY ? "fentry/" TW_FIN_FN :
		     p->tw_fin_hook == TS_CLOSE_HOOK_KPROBE ? "kprobe/" TW_FIN_FN :
		     "from the timer (a re-arm seen, else derived at the socket's end)");
	note("untrusted kernel pointers: %s", p->rdonly_cast ? "plain loads (bpf_rdonly_cast())"
		: "bpf_probe_read_kernel() per field (no bpf_rdonly_cast(), Linux 6.2)");
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

/* What no plan can do without: said before anything is probed. */
static int check_basics(char *err, size_t errlen)
{
	char missing[128];

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
	return 0;
}

/* The options into the programs' constants and the maps' sizes. */
static void configure(struct tcpstate_bpf *s, const struct plan *p, const struct cli_opts *o)
{
	s->rodata->cookie_mode = p->cookie_mode;
	s->rodata->close_hook = p->close_hook;
	s->rodata->has_bpf_loop = p->exit_scan;
	s->rodata->has_task_btf = p->task_btf;
	s->rodata->has_rdonly_cast = p->rdonly_cast;
	s->rodata->tw_timer_fn = p->tw_timer_fn;
	tw_clock(&s->rodata->jiffy_ns, &s->rodata->tw_len_jiffies);
	s->rodata->filter_pid = o->pid;
	s->rodata->filter_family = (uint16_t)o->family;
	s->rodata->filter_netns = o->all_netns ? 0 : probe__own_netns();
	s->rodata->filter_sport = o->nsports > 0;
	s->rodata->filter_dport = o->ndports > 0;
	s->rodata->filter_cgroup = o->cgroup_path != NULL;
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
}

/* Load exactly the programs the plan names. */
static void select_programs(struct tcpstate_bpf *s, const struct plan *p)
{
	bool btf = p->state_hook == STATE_HOOK_TP_BTF, sys = p->syscalls, tw = p->timewait;
	enum ts_close_hook ch = p->close_hook;
	const struct { struct bpf_program *prog; bool on; } sel[] = {
		{ s->progs.state_btf, btf },
		{ s->progs.reset_send_btf, btf },
		{ s->progs.reset_recv_btf, btf },
		{ s->progs.state_tp, !btf },
		{ s->progs.reset_send_tp, !btf },
		{ s->progs.reset_recv_tp, !btf },
		{ s->progs.fentry_tcp_close, ch == TS_CLOSE_HOOK_FENTRY },
		{ s->progs.fentry_tcp_shutdown, ch == TS_CLOSE_HOOK_FENTRY },
		{ s->progs.kprobe_tcp_close, ch == TS_CLOSE_HOOK_KPROBE },
		{ s->progs.kprobe_tcp_shutdown, ch == TS_CLOSE_HOOK_KPROBE },
		{ s->progs.exit_accept4, sys },
		{ s->progs.exit_accept, sys },
		{ s->progs.enter_close, sys },
		{ s->progs.enter_shutdown, sys },
		{ s->progs.exit_shutdown, sys },
		{ s->progs.enter_connect, sys },
		{ s->progs.exit_connect, sys },
		{ s->progs.timer_start_btf, tw && btf },
		{ s->progs.timer_cancel_btf, tw && btf },
		{ s->progs.timer_start_tp, tw && !btf },
		{ s->progs.timer_cancel_tp, tw && !btf },
		{ s->progs.sched_exit, p->exit_scan },
		{ s->progs.fentry_tw_schedule, tw && p->tw_fin_hook == TS_CLOSE_HOOK_FENTRY },
		{ s->progs.kprobe_tw_schedule, tw && p->tw_fin_hook == TS_CLOSE_HOOK_KPROBE },
	};

	for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++)
		bpf_program__set_autoload(sel[i].prog, sel[i].on);
}

/* -c: the cgroup's directory in the filter map, as libbpf-tools do. The
 * map keeps its own reference: the fd is closed at once. */
static int fill_cgroup(int map_fd, const char *path)
{
	__u32 key = 0;
	int fd, e = 0;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (bpf_map_update_elem(map_fd, &key, &fd, BPF_ANY))
		e = -1;
	close(fd);
	return e;
}

/* Open the skeleton, apply the plan, load, fill the filters, attach, and
 * open the ring buffer. */
static int load_and_attach(struct tracer *t, const struct cli_opts *o, char *err, size_t errlen)
{
	struct tcpstate_bpf *s;
	int e;

	s = t->skel = tcpstate_bpf__open();
	if (!s) {
		e = -errno;
		snprintf(err, errlen, "failed to open the BPF object: %s", strerror(errno));
		return e;
	}
	configure(s, &t->plan, o);
	select_programs(s, &t->plan);
	e = tcpstate_bpf__load(s);
	if (e) {
		explain_load_error(e, err, errlen);
		return e;
	}
	if (fill_ports(bpf_map__fd(s->maps.sports), o->sports, o->nsports) ||
	    fill_ports(bpf_map__fd(s->maps.dports), o->dports, o->ndports)) {
		e = -errno;
		snprintf(err, errlen, "failed to set the port filters: %s", strerror(errno));
		return e;
	}
	if (fill_cgroup(bpf_map__fd(s->maps.cgroup_filter), o->cgroup_path)) {
		e = -errno;
		snprintf(err, errlen, "failed to set the cgroup filter %s: %s", o->cgroup_path,
			 strerror(errno));
		return e;
	}
	e = tcpstate_bpf__attach(s);
	if (e) {
		snprintf(err, errlen, "failed to attach the BPF programs (%s); -v shows libbpf's "
			 "detail", strerror(-e));
		return e;
	}
	t->rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_sample, t, NULL);
	if (!t->rb) {
		e = -errno;
		snprintf(err, errlen, "failed to set up the ring buffer: %s", strerror(errno));
		return e;
	}
	return 0;
}

int tracer__open(struct tracer **out, const struct cli_opts *o, tracer_record_fn fn, void *ctx,
		 char *err, size_t errlen)
{
	struct features f;
	struct tracer *t;
	int e;

	verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	*out = NULL;
	if ((e = check_basics(err, errlen)))
		return e;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fn = fn;
	t->ctx = ctx;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		e = t->ncpus ? t->ncpus : -EINVAL;
		snprintf(err, errlen, "cannot count possible CPUs: %s", strerror(-e));
		goto fail;
	}
	probe_features(&f, o);
	if ((e = plan__make(&t->plan, &f, o, err, errlen)))
		goto fail;
	plan_notes(&t->plan, &f, o);
	for (int i = 0; i < t->plan.nwarnings; i++)
		fprintf(stderr, "tcpstate-trace: %s\n", t->plan.warning[i]);
	if ((e = load_and_attach(t, o, err, errlen)))
		goto fail;
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

/* The kernel's counters of a loaded program; false if it is not loaded. */
static bool prog_info(const struct bpf_program *p, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_program__fd(p);

	memset(info, 0, sizeof(*info));
	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, info, &len);
}

uint64_t tracer__missed(struct tracer *t)
{
	struct bpf_prog_info info;
	struct bpf_program *p;
	uint64_t missed = 0;

	bpf_object__for_each_program(p, t->skel->obj)
		if (prog_info(p, &info))
			missed += info.recursion_misses;
	return missed;
}

int tracer__prog_runs(struct tracer *t, struct metrics_prog *out, int max)
{
	struct bpf_prog_info info;
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, t->skel->obj) {
		if (n >= max || !prog_info(p, &info))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(p));
		out[n++].run_ns = info.run_time_ns;
	}
	return n;
}

void tracer__detach(struct tracer *t)
{
	tcpstate_bpf__detach(t->skel);
}

const struct plan *tracer__plan(const struct tracer *t)
{
	return &t->plan;
}

void tracer__close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcpstate_bpf__destroy(t->skel);
	free(t);
}

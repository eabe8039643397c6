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

#define STATE_TP "inet_sock_set_state"

struct tracer {
	struct tcpstate_bpf *skel;
	struct ring_buffer *rb;
	struct tracer_choices choices;
	tracer_record_fn fn;
	void *ctx;
	int ncpus;
};

const char *cookie_mode__name(enum ts_cookie_mode m)
{
	return m == TS_COOKIE_HELPER ? "helper" : "read";
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
	else if (e == -EPERM || e == -EACCES)
		snprintf(err, errlen, "the kernel refused the BPF programs (%s): a lockdown or LSM "
			 "policy may forbid BPF tracing; -v shows libbpf's detail", strerror(-e));
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
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		e = t->ncpus ? t->ncpus : -EINVAL;
		snprintf(err, errlen, "cannot count possible CPUs: %s", strerror(-e));
		goto fail;
	}

	e = choose(t, o, err, errlen);
	if (e)
		goto fail;

	s = t->skel = tcpstate_bpf__open();
	if (!s) {
		e = -errno;
		snprintf(err, errlen, "failed to open the BPF object: %s", strerror(-e));
		goto fail;
	}
	s->rodata->cookie_mode = t->choices.cookie_mode;
	s->rodata->filter_pid = o->pid;
	s->rodata->filter_family = (uint16_t)o->family;
	s->rodata->filter_sport = o->nsports > 0;
	s->rodata->filter_dport = o->ndports > 0;
	s->rodata->wakeup_bytes = o->ringbuf_bytes / 4;
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	bpf_map__set_max_entries(s->maps.socks, o->max_sockets);

	bpf_program__set_autoload(s->progs.state_btf, t->choices.state_hook == STATE_HOOK_TP_BTF);
	bpf_program__set_autoload(s->progs.state_tp, t->choices.state_hook == STATE_HOOK_TRACEPOINT);

	/* Classic tracepoints (the syscalls' and the state fallback) are found
	 * through tracefs. Without syscall tracepoints accepted sockets get
	 * their owner from the listener only: a degradation, said aloud. */
	e = need_tracefs(t, err, errlen);
	if (e && t->choices.state_hook == STATE_HOOK_TRACEPOINT)
		goto fail;
	t->choices.accept_owner = !e && probe__tracepoint("syscalls", "sys_exit_accept4") &&
				  probe__tracepoint("syscalls", "sys_exit_accept");
	if (!t->choices.accept_owner) {
		fprintf(stderr, "tcpstate-trace: warning: syscall tracepoints unavailable (%s); "
			"accepted sockets are attributed to the listener's owner\n",
			e ? "tracefs not mounted" : "kernel without CONFIG_FTRACE_SYSCALLS");
		bpf_program__set_autoload(s->progs.exit_accept4, false);
		bpf_program__set_autoload(s->progs.exit_accept, false);
	}
	note("accept owner: %s", t->choices.accept_owner ? "syscalls:sys_exit_accept{,4}" : "none");

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
	int n = ring_buffer__poll(t->rb, timeout_ms);

	if (n < 0)
		return n;
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

const struct tracer_choices *tracer__choices(const struct tracer *t)
{
	return &t->choices;
}

void tracer__close(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	tcpstate_bpf__destroy(t->skel);
	free(t);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The setup plan for the feature sets of the kernels the tracer is tested
 * on (DESIGN.md, tests/vm): what each loads, and what each refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "plan.h"

#define TW_FN 0xffffffff81234560ULL

/* Debian's kernels as the probes see them. */
static struct features kernel(const char *version)
{
	struct features f = { .tp_btf = true, .fentry = true, .kprobe = true,
			      .syscall_tps = true, .tw_timer_fn = TW_FN,
			      .tw_fin_fentry = true, .tw_fin_kprobe = true };

	if (strcmp(version, "5.10") != 0) {
		f.tp_btf_cookie = true;		/* 5.12 */
		f.bpf_loop = true;		/* 5.17 */
	}
	f.task_btf = strcmp(version, "5.10") != 0;	/* 5.11 */
	f.rdonly_cast = strcmp(version, "6.1") != 0 && strcmp(version, "5.10") != 0;	/* 6.2 */
	f.classic_misses_counted = strcmp(version, "6.1") != 0 && strcmp(version, "5.10") != 0;
	if (strcmp(version, "host") == 0) {
		/* This machine's 6.18: no kprobes, fentry refused. */
		f.fentry = f.kprobe = f.tw_fin_fentry = f.tw_fin_kprobe = false;
		strcpy(f.why_no_fentry, "fentry/tcp_close refused at load: Operation not permitted");
		strcpy(f.why_no_kprobe, "no kprobe support in this kernel (CONFIG_KPROBES)");
	}
	return f;
}

static struct cli_opts opts(void)
{
	struct cli_opts o;

	cli__defaults(&o);
	return o;
}

static void make_ok(struct plan *p, const struct features *f, const struct cli_opts *o)
{
	char err[256] = "";

	assert_int_equal(plan__make(p, f, o, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void linux_5_10(void **state)
{
	struct features f = kernel("5.10");
	struct cli_opts o = opts();
	struct plan p;

	make_ok(&p, &f, &o);
	assert_int_equal(p.state_hook, STATE_HOOK_TP_BTF);
	assert_int_equal(p.cookie_mode, TS_COOKIE_READ);	/* no helper before 5.12 */
	assert_int_equal(p.close_hook, TS_CLOSE_HOOK_FENTRY);
	assert_false(p.exit_scan);				/* no bpf_loop() */
	assert_false(p.task_btf);
	assert_false(p.rdonly_cast);
	assert_true(p.misses_counted);				/* tp_btf is not skipped */
	assert_true(p.timewait);
	assert_int_equal(p.nwarnings, 0);
}

static void linux_6_1_classic_warns_of_uncounted_misses(void **state)
{
	struct features f = kernel("6.1");
	struct cli_opts o = opts();
	struct plan p;

	make_ok(&p, &f, &o);
	assert_int_equal(p.cookie_mode, TS_COOKIE_HELPER);
	assert_true(p.exit_scan);
	assert_int_equal(p.nwarnings, 0);
	o.state_hook = STATE_HOOK_TRACEPOINT;
	make_ok(&p, &f, &o);
	assert_int_equal(p.state_hook, STATE_HOOK_TRACEPOINT);
	assert_int_equal(p.cookie_mode, TS_COOKIE_READ);	/* untrusted socket pointer */
	assert_false(p.misses_counted);
	assert_int_equal(p.nwarnings, 1);
	assert_non_null(strstr(p.warning[0], "drop --state-hook tracepoint"));
}

static void linux_6_12_and_7_x(void **state)
{
	const char *v[] = { "6.12", "7.3" };

	for (int i = 0; i < 2; i++) {
		struct features f = kernel(v[i]);
		struct cli_opts o = opts();
		struct plan p;

		o.state_hook = STATE_HOOK_TRACEPOINT;
		o.attach = ATTACH_KPROBE;
		make_ok(&p, &f, &o);
		assert_true(p.misses_counted);			/* 6.7 counts them */
		assert_true(p.rdonly_cast);
		assert_int_equal(p.close_hook, TS_CLOSE_HOOK_KPROBE);
		assert_int_equal(p.nwarnings, 0);
		assert_int_equal(p.tw_timer_fn, TW_FN);
	}
}

static void this_host_falls_back_to_the_syscalls(void **state)
{
	struct features f = kernel("host");
	struct cli_opts o = opts();
	char err[256];
	struct plan p;

	make_ok(&p, &f, &o);
	assert_int_equal(p.close_hook, TS_CLOSE_HOOK_TRACEPOINT);
	assert_true(p.syscalls);
	o.attach = ATTACH_FENTRY;
	assert_int_equal(plan__make(&p, &f, &o, err, sizeof(err)), -EOPNOTSUPP);
	assert_string_equal(err, "--attach fentry: fentry/tcp_close refused at load: Operation "
			    "not permitted; use --attach kprobe or tracepoint");
	o.attach = ATTACH_KPROBE;
	assert_int_equal(plan__make(&p, &f, &o, err, sizeof(err)), -EOPNOTSUPP);
	assert_non_null(strstr(err, "CONFIG_KPROBES"));
	o.attach = ATTACH_TRACEPOINT;		/* fentry works elsewhere, not wanted */
	f = kernel("6.12");
	make_ok(&p, &f, &o);
	assert_int_equal(p.close_hook, TS_CLOSE_HOOK_TRACEPOINT);
}

static void no_tp_btf(void **state)
{
	struct features f = kernel("6.12");
	struct cli_opts o = opts();
	char err[256];
	struct plan p;

	f.tp_btf = f.tp_btf_cookie = false;
	make_ok(&p, &f, &o);
	assert_int_equal(p.state_hook, STATE_HOOK_TRACEPOINT);
	o.state_hook = STATE_HOOK_TP_BTF;
	assert_int_equal(plan__make(&p, &f, &o, err, sizeof(err)), -EOPNOTSUPP);
	assert_non_null(strstr(err, "use --state-hook tracepoint"));
}

static void no_tracefs(void **state)
{
	struct features f = kernel("6.12");
	struct cli_opts o = opts();
	char err[256];
	struct plan p;

	f.tracefs_err = -EPERM;
	f.syscall_tps = false;
	make_ok(&p, &f, &o);			/* tp_btf needs no tracefs */
	assert_false(p.syscalls);
	assert_false(p.exit_scan);		/* sched_process_exit is classic too */
	assert_int_equal(p.nwarnings, 1);
	assert_non_null(strstr(p.warning[0], "tracefs not mounted"));
	o.state_hook = STATE_HOOK_TRACEPOINT;
	assert_int_equal(plan__make(&p, &f, &o, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "mount -t tracefs"));
}

static void no_syscall_tracepoints_nor_tw_symbol(void **state)
{
	struct features f = kernel("6.12");
	struct cli_opts o = opts();
	struct plan p;

	f.syscall_tps = false;
	f.tw_timer_fn = 0;
	make_ok(&p, &f, &o);
	assert_false(p.syscalls);
	assert_false(p.timewait);
	assert_int_equal(p.nwarnings, 2);
	assert_non_null(strstr(p.warning[0], "CONFIG_FTRACE_SYSCALLS"));
	assert_non_null(strstr(p.warning[1], "TIME_WAIT is not followed"));
}

/* The FIN that ends FIN_WAIT2 in a timewait socket: seen with the same
 * kind of hook as tcp_close, where __inet_twsk_schedule can be hooked;
 * else derived from the timer (and never without TIME_WAIT followed). */
static void fin_hook_follows_the_close_hook(void **state)
{
	struct features f = kernel("6.12"), host = kernel("host");
	struct cli_opts o = opts();
	struct plan p;

	make_ok(&p, &f, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_FENTRY);
	o.attach = ATTACH_KPROBE;
	make_ok(&p, &f, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_KPROBE);
	f.tw_fin_kprobe = false;
	make_ok(&p, &f, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_TRACEPOINT);
	o.attach = ATTACH_TRACEPOINT;
	f = kernel("6.12");
	make_ok(&p, &f, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_TRACEPOINT);
	o = opts();
	make_ok(&p, &host, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_TRACEPOINT);
	f.tw_timer_fn = 0;
	make_ok(&p, &f, &o);
	assert_int_equal(p.tw_fin_hook, TS_CLOSE_HOOK_TRACEPOINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linux_5_10),
		cmocka_unit_test(linux_6_1_classic_warns_of_uncounted_misses),
		cmocka_unit_test(linux_6_12_and_7_x),
		cmocka_unit_test(this_host_falls_back_to_the_syscalls),
		cmocka_unit_test(no_tp_btf),
		cmocka_unit_test(no_tracefs),
		cmocka_unit_test(no_syscall_tracepoints_nor_tw_symbol),
		cmocka_unit_test(fin_hook_follows_the_close_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The kernel side: load, configure and attach the BPF programs, and read
 * their ring buffer and counters. The only module that talks to libbpf. */
#ifndef TRACER_H
#define TRACER_H

#include <stddef.h>
#include <stdint.h>
#include "cli.h"
#include "metrics.h"
#include "plan.h"
#include "tcpstate.h"

struct tracer;

/* Called for each record in the ring buffer, as the kernel wrote it
 * (wire.h); return < 0 to stop consuming (the record counts as consumed). */
typedef int (*tracer_record_fn)(void *ctx, const void *data, size_t len);

/* Open, load and attach. On failure returns -errno and writes one sentence
 * saying what is missing and what to do into err. */
int tracer__open(struct tracer **out, const struct cli_opts *o, tracer_record_fn fn, void *ctx,
		 char *err, size_t errlen);
/* Wait up to timeout_ms for a wakeup, then consume everything waiting.
 * Returns records consumed, or -errno: the callback's error, which stopped
 * the consumption early. */
int tracer__poll(struct tracer *t, int timeout_ms);
/* Runs the kernel skipped because a BPF program was already running on
 * that CPU: a classic tracepoint (bpf_prog_active) that fires in a softirq
 * interrupting another one. Their records never existed. Counted by
 * kernels since 6.7 (plan.misses_counted); tp_btf programs are not
 * skipped before 6.2, and counted since. */
uint64_t tracer__missed(struct tracer *t);
/* Each loaded program's name and time run so far (kept by the kernel while
 * kernel.bpf_stats_enabled is on), up to max; returns how many. */
int tracer__prog_runs(struct tracer *t, struct metrics_prog *out, int max);
/* Stop every program; records already in the ring stay to be read. */
void tracer__detach(struct tracer *t);
/* Sum the per-CPU counters (enum ts_stat). */
int tracer__stats(struct tracer *t, uint64_t out[TS_STAT__MAX]);
/* The hooks chosen and loaded. */
const struct plan *tracer__plan(const struct tracer *t);
void tracer__close(struct tracer *t);

const char *cookie_mode__name(enum ts_cookie_mode m);
const char *close_hook__name(enum ts_close_hook h);

#endif /* TRACER_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line: options and their validation. No side effects beyond
 * printing help or a one-line error. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "latency.h"
#include "metrics_export.h"
#include "tcpstate.h"
#include "timeline.h"

enum state_hook {
	STATE_HOOK_AUTO,
	STATE_HOOK_TP_BTF,	/* tp_btf/inet_sock_set_state */
	STATE_HOOK_TRACEPOINT,	/* classic tracepoint sock/inet_sock_set_state */
};

enum close_attach {
	ATTACH_AUTO,
	ATTACH_FENTRY,		/* fentry/tcp_close, fentry/tcp_shutdown */
	ATTACH_KPROBE,		/* kprobe/tcp_close, kprobe/tcp_shutdown */
	ATTACH_TRACEPOINT,	/* syscall tracepoints and process exit only */
};

struct cli_opts {
	uint32_t pid;			/* 0: any */
	const char *cgroup_path;	/* -c: only owners under this cgroup v2 directory */
	uint16_t sports[TS_MAX_PORTS];
	int nsports;
	uint16_t dports[TS_MAX_PORTS];
	int ndports;
	int family;			/* 0, AF_INET or AF_INET6 */
	bool timestamps;
	bool json;
	bool verbose;
	enum state_hook state_hook;
	enum close_attach attach;
	uint32_t close_wait_alert_s;	/* 0: no CLOSE_WAIT alerts */
	bool timewait_report;		/* TIME_WAIT accounting at exit (and every interval) */
	uint32_t interval_s;		/* periodic reports; 0: at exit only */
	bool all_netns;			/* every network namespace, not just ours */
	bool snapshot_only;		/* --snapshot: the picture now, no tracing */
	bool hist;			/* latency histograms at exit (and every interval) */
	enum latency_by hist_by;	/* --hist-by: one set of histograms per key */
	const char *record_path;	/* --record FILE: the raw records, for --replay */
	const char *replay_path;	/* --replay FILE: no tracing, the same outputs */
	const char *timeline_path;	/* --timeline FILE: lifecycles as they end */
	enum timeline_format timeline_format;
	bool timeline_format_set;
	uint32_t ringbuf_bytes;		/* ring buffer size, a power of two >= 4 KiB */
	uint32_t max_sockets;		/* socket table entries in the kernel */
	bool quiet;			/* -q: no event lines */
	bool metrics;			/* --metrics: serve at metrics_listen */
	struct metrics_listen metrics_listen;
	const char *metrics_file;	/* --metrics-file PATH */
	unsigned metrics_labels;	/* --metrics-labels: enum latency_key bits; default comm */
};

enum cli_result {
	CLI_OK = 0,
	CLI_EXIT_OK = 1,	/* --help, --version: exit 0 */
	CLI_USAGE = 2,		/* bad usage: the error is printed; exit 2 */
};

void cli__defaults(struct cli_opts *o);

/* Connections user space follows at once: five times --max-sockets, near
 * what the kernel's tables hold (twice as many sockets, four times as many
 * in TIME_WAIT), so that live and replay alike keep what the kernel kept. */
static inline size_t cli__conn_cap(const struct cli_opts *o)
{
	return (size_t)o->max_sockets * 5;
}
/* Parse argv into o. Errors are printed to stderr as one line. */
enum cli_result cli__parse(int argc, char **argv, struct cli_opts *o);

/* Parse "80,443,8080" into ports; returns count, or -1 with msg set. */
int cli__parse_ports(const char *s, uint16_t *ports, int max, const char **msg);
/* Parse a size: a number of MiB, or with a K or M suffix; 0 or -1. */
int cli__parse_size(const char *s, uint32_t *bytes);
/* Parse a decimal number in [min, max]; 0 on success, -1 if invalid. */
int cli__parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* Parse "comm", "container" or both, comma-separated, into enum
 * latency_key bits; 0 or -1. */
int cli__parse_labels(const char *s, unsigned *labels);

const char *state_hook__name(enum state_hook h);
const char *close_attach__name(enum close_attach a);

#endif /* CLI_H */

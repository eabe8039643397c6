// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cli.h"

#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup.h"
#include "metrics_export.h"

#define PROG "tcpstate-trace"

static const char doc[] =
"Trace TCP state transitions with the process that owns each socket.\n"
"\v"
"EXAMPLES:\n"
"    tcpstate-trace                # trace every TCP state change\n"
"    tcpstate-trace -T             # with a time column\n"
"    tcpstate-trace -j | jq .      # one JSON object per line\n"
"    tcpstate-trace -p 181         # only sockets owned by PID 181\n"
"    tcpstate-trace -c /sys/fs/cgroup/system.slice/nginx.service  # only that cgroup\n"
"    tcpstate-trace -L 80,443      # only local ports 80 and 443\n"
"    tcpstate-trace -D 5432        # only remote port 5432\n"
"    tcpstate-trace -4             # IPv4 only\n"
"    tcpstate-trace --close-wait-alert 30 # explain CLOSE_WAIT over 30 s\n"
"    tcpstate-trace --timewait-report -i 10 # TIME_WAIT by destination\n"
"    tcpstate-trace --snapshot     # the sockets now, CLOSE_WAIT explained\n"
"    tcpstate-trace --hist -i 60   # close-path latency histograms every minute\n"
"    tcpstate-trace --hist-by comm # the same, one set per process name\n"
"    tcpstate-trace --record t.rec # keep the records; later: --replay t.rec -j\n"
"    tcpstate-trace --timeline c.json # a line per connection, as it ends\n"
"    tcpstate-trace --replay t.rec --timeline-format perfetto --timeline t.json\n"
"                                  # then open t.json in ui.perfetto.dev\n"
"    tcpstate-trace -q --metrics 9977 # serve Prometheus metrics on 127.0.0.1:9977\n"
"    tcpstate-trace -q --metrics-file /var/lib/node_exporter/tcpstate.prom -i 15\n"
"                                  # for node_exporter's textfile collector\n"
"    tcpstate-trace -v             # show attach choices and libbpf output";

enum {
	OPT_STATE_HOOK = 0x100,
	OPT_ATTACH,
	OPT_CLOSE_WAIT_ALERT,
	OPT_TIMEWAIT_REPORT,
	OPT_ALL_NETNS,
	OPT_SNAPSHOT,
	OPT_HIST,
	OPT_HIST_BY,
	OPT_RECORD,
	OPT_REPLAY,
	OPT_TIMELINE,
	OPT_TIMELINE_FORMAT,
	OPT_RINGBUF,
	OPT_MAX_SOCKETS,
	OPT_METRICS,
	OPT_METRICS_FILE,
	OPT_METRICS_LABELS,
	OPT_USAGE,
	OPT_VERSION,
};

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0, "Only sockets owned by this process", 0 },
	{ "cgroup", 'c', "PATH", 0,
	  "Only sockets whose owners run under this cgroup v2 directory (or below it)", 0 },
	{ "localport", 'L', "PORTS", 0, "Only these local ports (comma-separated, up to 64)", 0 },
	{ "remoteport", 'D', "PORTS", 0, "Only these remote ports (comma-separated, up to 64)", 0 },
	{ "ipv4", '4', NULL, 0, "IPv4 only", 0 },
	{ "ipv6", '6', NULL, 0, "IPv6 only", 0 },
	{ "timestamp", 'T', NULL, 0, "Include a time column (HH:MM:SS.ms)", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line (NDJSON)", 0 },
	{ "verbose", 'v', NULL, 0, "Show attach choices and libbpf debug output", 0 },
	{ "state-hook", OPT_STATE_HOOK, "HOOK", 0,
	  "auto (default), tp_btf or tracepoint: how to attach to inet_sock_set_state", 0 },
	{ "attach", OPT_ATTACH, "KIND", 0,
	  "auto (default), fentry, kprobe or tracepoint: how to see tcp_close/tcp_shutdown "
	  "(and the FIN that ends a timewait socket's FIN_WAIT2)", 0 },
	{ "close-wait-alert", OPT_CLOSE_WAIT_ALERT, "SECS", 0,
	  "Diagnose sockets in CLOSE_WAIT longer than SECS (default 10; 0: never)", 0 },
	{ "timewait-report", OPT_TIMEWAIT_REPORT, NULL, 0,
	  "At exit (and every -i SECS): TIME_WAIT sockets by local and remote address", 0 },
	{ "interval", 'i', "SECS", 0, "Print reports every SECS seconds too", 0 },
	{ "all-netns", OPT_ALL_NETNS, NULL, 0,
	  "Every network namespace (default: the one tcpstate-trace runs in)", 0 },
	{ "snapshot", OPT_SNAPSHOT, NULL, 0,
	  "Print the sockets there are now (states, CLOSE_WAIT diagnosis, TIME_WAIT) and exit", 0 },
	{ "hist", OPT_HIST, NULL, 0,
	  "At exit (and every -i SECS): histograms of time in SYN_SENT, CLOSE_WAIT, FIN_WAIT1, "
	  "FIN_WAIT2, LAST_ACK, CLOSING, TIME_WAIT and of close() to CLOSE", 0 },
	{ "hist-by", OPT_HIST_BY, "KEY", 0,
	  "--hist with one set of histograms per KEY: comm (the socket owner's process name)",
	  0 },
	{ "record", OPT_RECORD, "FILE", 0,
	  "Also write every raw record to FILE, for --replay (-: standard output, and the text "
	  "that would go there to standard error)", 0 },
	{ "replay", OPT_REPLAY, "FILE", 0,
	  "Read records from FILE (made by --record) instead of tracing; no root needed", 0 },
	{ "timeline", OPT_TIMELINE, "FILE", 0,
	  "Write each connection's lifecycle to FILE as it ends (and the open ones at exit); "
	  "- for standard output", 0 },
	{ "timeline-format", OPT_TIMELINE_FORMAT, "FMT", 0,
	  "json (one object per line, the default), csv (a row per state) or perfetto "
	  "(trace events for ui.perfetto.dev)", 0 },
	{ "ringbuf", OPT_RINGBUF, "SIZE", 0,
	  "Ring buffer size: MiB, or with a K/M suffix; a power of two (default 8)", 0 },
	{ "max-sockets", OPT_MAX_SOCKETS, "N", 0,
	  "Sockets tracked in the kernel at once (default 65536)", 0 },
	{ "quiet", 'q', NULL, 0, "No event lines (reports, alerts and the summary stay)", 0 },
	{ "metrics", OPT_METRICS, "[ADDR:]PORT", 0,
	  "Serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR default 127.0.0.1)", 0 },
	{ "metrics-file", OPT_METRICS_FILE, "PATH", 0,
	  "Write the same metrics to PATH atomically every -i SECS (default 1) and at exit", 0 },
	{ "metrics-labels", OPT_METRICS_LABELS, "LABELS", 0,
	  "Labels of the per-owner metrics: comm (default), container, or comm,container", 0 },
	{ "help", 'h', NULL, 0, "Show this help", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Show a short usage message", -1 },
	{ "version", OPT_VERSION, NULL, 0, "Show the version", -1 },
	{},
};

struct parse_ctx {
	struct cli_opts *o;
	enum cli_result result;
	FILE *devnull;
};

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

int cli__parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cli__parse_size(const char *s, uint32_t *bytes)
{
	char num[16];
	size_t n = s ? strlen(s) : 0;
	unsigned int shift = 20;
	uint32_t v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	if (num[n - 1] == 'K' || num[n - 1] == 'k')
		shift = 10;
	if (strchr("KkMm", num[n - 1]))
		num[--n] = '\0';
	if (cli__parse_u32(num, 1, shift == 10 ? 1U << 20 : 1024, &v) || (v & (v - 1)))
		return -1;
	if ((uint64_t)v << shift < 4096 || (uint64_t)v << shift > (1ULL << 30))
		return -1;
	*bytes = v << shift;
	return 0;
}

int cli__parse_ports(const char *s, uint16_t *ports, int max, const char **msg)
{
	char buf[512];
	char *save = NULL, *tok;
	int n = 0;

	if (!s || !*s || strlen(s) >= sizeof(buf)) {
		*msg = "expected a comma-separated list of ports";
		return -1;
	}
	strcpy(buf, s);
	if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,")) {
		*msg = "empty entry in port list";
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t v;

		if (cli__parse_u32(tok, 1, 65535, &v)) {
			*msg = "ports are numbers from 1 to 65535";
			return -1;
		}
		if (n == max) {
			*msg = "too many ports (at most 64)";
			return -1;
		}
		ports[n++] = (uint16_t)v;
	}
	return n;
}

int cli__parse_labels(const char *s, unsigned *labels)
{
	char buf[64], *save = NULL;
	unsigned v = 0;

	if (!s || !*s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "comm") == 0)
			v |= LATENCY_KEY_COMM;
		else if (strcmp(t, "container") == 0)
			v |= LATENCY_KEY_CONTAINER;
		else
			return -1;
	}
	if (!v)
		return -1;
	*labels = v;
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct parse_ctx *ctx = state->input;
	struct cli_opts *o = ctx->o;
	const char *msg;
	uint32_t v;
	int n;

	switch (key) {
	case 'p':
		if (cli__parse_u32(arg, 1, 0x7fffffff, &o->pid)) {
			usage_error("invalid PID '%s'", arg);
			return EINVAL;
		}
		break;
	case 'c':
		/* Checked now so that a typo is a usage error, not a load failure. */
		if (!cgroup__id_of(arg)) {
			fprintf(stderr, PROG ": invalid cgroup '%s': %s\n", arg,
				errno == ENOTDIR ? "not a cgroup v2 directory" : strerror(errno));
			return EINVAL;
		}
		o->cgroup_path = arg;
		break;
	case OPT_METRICS_LABELS:
		if (cli__parse_labels(arg, &o->metrics_labels)) {
			usage_error("invalid --metrics-labels '%s': comm, container or "
				    "comm,container", arg);
			return EINVAL;
		}
		break;
	case 'L':
	case 'D':
		n = cli__parse_ports(arg, key == 'L' ? o->sports : o->dports, TS_MAX_PORTS, &msg);
		if (n < 0) {
			fprintf(stderr, PROG ": invalid %s port list '%s': %s\n",
				key == 'L' ? "local" : "remote", arg, msg);
			return EINVAL;
		}
		if (key == 'L')
			o->nsports = n;
		else
			o->ndports = n;
		break;
	case '4':
	case '6':
		if (o->family) {
			usage_error("%s", "-4 and -6 exclude each other");
			return EINVAL;
		}
		o->family = key == '4' ? AF_INET : AF_INET6;
		break;
	case 'T':
		o->timestamps = true;
		break;
	case 'j':
		o->json = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case OPT_STATE_HOOK:
		if (strcmp(arg, "auto") == 0)
			o->state_hook = STATE_HOOK_AUTO;
		else if (strcmp(arg, "tp_btf") == 0)
			o->state_hook = STATE_HOOK_TP_BTF;
		else if (strcmp(arg, "tracepoint") == 0)
			o->state_hook = STATE_HOOK_TRACEPOINT;
		else {
			usage_error("invalid --state-hook '%s' (auto, tp_btf or tracepoint)", arg);
			return EINVAL;
		}
		break;
	case OPT_ATTACH:
		if (strcmp(arg, "auto") == 0)
			o->attach = ATTACH_AUTO;
		else if (strcmp(arg, "fentry") == 0)
			o->attach = ATTACH_FENTRY;
		else if (strcmp(arg, "kprobe") == 0)
			o->attach = ATTACH_KPROBE;
		else if (strcmp(arg, "tracepoint") == 0)
			o->attach = ATTACH_TRACEPOINT;
		else {
			usage_error("invalid --attach '%s' (auto, fentry, kprobe or tracepoint)", arg);
			return EINVAL;
		}
		break;
	case OPT_CLOSE_WAIT_ALERT:
		if (cli__parse_u32(arg, 0, 86400 * 365, &o->close_wait_alert_s)) {
			usage_error("invalid --close-wait-alert '%s' (seconds, 0 to turn off)", arg);
			return EINVAL;
		}
		break;
	case OPT_ALL_NETNS:
		o->all_netns = true;
		break;
	case OPT_SNAPSHOT:
		o->snapshot_only = true;
		break;
	case OPT_HIST:
		o->hist = true;
		break;
	case OPT_HIST_BY:
		if (strcmp(arg, "comm") != 0) {
			usage_error("invalid --hist-by '%s' (the only key is comm)", arg);
			return EINVAL;
		}
		o->hist_by = LATENCY_BY_COMM;
		o->hist = true;
		break;
	case OPT_RECORD:
		o->record_path = arg;
		break;
	case 'q':
		o->quiet = true;
		break;
	case OPT_METRICS:
		if (metrics_listen__parse(arg, &o->metrics_listen, &msg)) {
			fprintf(stderr, PROG ": invalid --metrics '%s': %s\n", arg, msg);
			return EINVAL;
		}
		o->metrics = true;
		break;
	case OPT_METRICS_FILE:
		if (!*arg) {
			usage_error("%s", "--metrics-file needs a path");
			return EINVAL;
		}
		o->metrics_file = arg;
		break;
	case OPT_REPLAY:
		o->replay_path = arg;
		break;
	case OPT_TIMEWAIT_REPORT:
		o->timewait_report = true;
		break;
	case OPT_TIMELINE:
		o->timeline_path = arg;
		break;
	case OPT_TIMELINE_FORMAT:
		if (timeline_format__parse(arg, &o->timeline_format)) {
			usage_error("invalid --timeline-format '%s' (json, csv or perfetto)", arg);
			return EINVAL;
		}
		o->timeline_format_set = true;
		break;
	case 'i':
		if (cli__parse_u32(arg, 1, 86400, &o->interval_s)) {
			usage_error("invalid interval '%s' (seconds, 1 to 86400)", arg);
			return EINVAL;
		}
		break;
	case OPT_RINGBUF:
		if (cli__parse_size(arg, &v)) {
			usage_error("invalid --ringbuf '%s' (a power of two from 4K to 1024M)", arg);
			return EINVAL;
		}
		o->ringbuf_bytes = v;
		break;
	case OPT_MAX_SOCKETS:
		if (cli__parse_u32(arg, 1024, 1 << 24, &o->max_sockets)) {
			usage_error("invalid --max-sockets '%s' (1024 to 16777216)", arg);
			return EINVAL;
		}
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP & ~ARGP_HELP_EXIT_OK);
		ctx->result = CLI_EXIT_OK;
		return EINTR;
	case OPT_USAGE:
		argp_state_help(state, stdout, ARGP_HELP_USAGE);
		ctx->result = CLI_EXIT_OK;
		return EINTR;
	case OPT_VERSION:
		printf(PROG " %s\n", TS_VERSION);
		ctx->result = CLI_EXIT_OK;
		return EINTR;
	case ARGP_KEY_INIT:
		if (ctx->devnull)
			state->err_stream = ctx->devnull;
		break;
	case ARGP_KEY_END:
		if (o->timeline_format_set && !o->timeline_path) {
			usage_error("%s", "--timeline-format needs --timeline FILE");
			return EINVAL;
		}
		if (o->snapshot_only && (o->metrics || o->metrics_file)) {
			usage_error("%s", "--snapshot takes no --metrics or --metrics-file: it traces "
				    "nothing");
			return EINVAL;
		}
		if (o->snapshot_only && o->timeline_path) {
			usage_error("%s", "--snapshot takes no --timeline: it traces nothing");
			return EINVAL;
		}
		if (o->timeline_path && o->record_path && strcmp(o->timeline_path, "-") == 0 &&
		    strcmp(o->record_path, "-") == 0) {
			usage_error("%s", "--timeline and --record cannot both write to standard output");
			return EINVAL;
		}
		if (o->replay_path && o->metrics) {
			usage_error("%s", "--replay takes no --metrics (nothing stays running to be "
				    "scraped); --metrics-file writes the replay's metrics");
			return EINVAL;
		}
		if (o->replay_path && (o->pid || o->nsports || o->ndports || o->family ||
				       o->all_netns || o->snapshot_only || o->record_path ||
				       o->cgroup_path)) {
			usage_error("%s", "--replay takes no -p, -c, -L, -D, -4, -6, --all-netns, "
				    "--snapshot or --record: filters ran when the file was recorded");
			return EINVAL;
		}
		break;
	case ARGP_KEY_ARG:
		usage_error("unexpected argument '%s' (see --help)", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

void cli__defaults(struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->state_hook = STATE_HOOK_AUTO;
	o->ringbuf_bytes = 8U << 20;
	o->attach = ATTACH_AUTO;
	o->close_wait_alert_s = 10;
	o->max_sockets = 65536;
	o->metrics_labels = LATENCY_KEY_COMM;
}

enum cli_result cli__parse(int argc, char **argv, struct cli_opts *o)
{
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	struct parse_ctx ctx = { .o = o, .result = CLI_OK };
	int err;

	cli__defaults(o);
	/* ARGP_NO_HELP: we print help ourselves and decide the exit. getopt
	 * reports unknown options and missing arguments in one line on stderr;
	 * argp's second "Try --help" line goes to /dev/null (ARGP_NO_ERRS would
	 * silence getopt's line too). */
	ctx.devnull = fopen("/dev/null", "w");
	err = argp_parse(&argp, argc, argv, ARGP_NO_HELP | ARGP_NO_EXIT, NULL, &ctx);
	if (ctx.devnull)
		fclose(ctx.devnull);
	if (ctx.result != CLI_OK)
		return ctx.result;
	return err ? CLI_USAGE : CLI_OK;
}

const char *close_attach__name(enum close_attach a)
{
	switch (a) {
	case ATTACH_FENTRY: return "fentry";
	case ATTACH_KPROBE: return "kprobe";
	case ATTACH_TRACEPOINT: return "tracepoint";
	default: return "auto";
	}
}

const char *state_hook__name(enum state_hook h)
{
	switch (h) {
	case STATE_HOOK_TP_BTF: return "tp_btf";
	case STATE_HOOK_TRACEPOINT: return "tracepoint";
	default: return "auto";
	}
}

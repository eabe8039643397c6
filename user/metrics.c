// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "json_writer.h"
#include "output.h"
#include "tw_report.h"

/* Destinations with a TIME_WAIT series of their own; the rest are [other]. */
#define TW_TOP 20
/* Histogram bounds: log2 buckets 11, 13, ..., 37 end at 4.1 us, 16 us, ...
 * 275 s (hist.h's buckets, every fourfold). */
#define LE_FIRST 11
#define LE_LAST 37
#define LE_STEP 2

int metrics__init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	return latency__init(&m->lat, LATENCY_BY_COMM);
}

void metrics__free(struct metrics *m)
{
	latency__free(&m->lat);
	tw_tally__free(&m->tw);
}

/* An open connection entering (enter) or leaving its state. */
static void on_watch(void *ctx, const struct conn *c, bool enter)
{
	struct metrics *m = ctx;
	struct tw_group remote;

	if (c->state <= 0 || c->state >= TS_TCP_MAX_STATES)
		return;
	if (enter)
		m->open[c->state]++;
	else if (m->open[c->state])
		m->open[c->state]--;
	if (c->state != TS_TCP_TIME_WAIT)
		return;
	tw_report__remote_key(c, m->port_lo, m->port_hi, &remote);
	/* Out of memory: the destination is left out, and so never taken away. */
	tw_tally__add(&m->tw, &remote, enter ? 1 : -1);
}

void metrics__watch(struct metrics *m, struct conn_table *t, uint32_t port_lo, uint32_t port_hi)
{
	m->port_lo = port_lo;
	m->port_hi = port_hi;
	conn_table__set_watch(t, on_watch, m);
}

/* owner: the record naming the owner (or caller); NULL if not known. */
static size_t group_index(struct metrics *m, const struct ts_event *owner)
{
	struct latency_group *g = latency__group_of(&m->lat, owner);

	return g ? (size_t)(g - m->lat.groups) : 0;
}

/* The owners' groups are marked used at the latest time seen. */
static void clock_to(struct metrics *m, uint64_t now_ns)
{
	if (now_ns > m->lat.now_ns)
		m->lat.now_ns = now_ns;
}

void metrics__record(struct metrics *m, const struct ts_event *e, const struct conn *c)
{
	clock_to(m, e->mono_ns);
	switch (e->type) {
	case TS_EV_STATE:
		if (e->oldstate < TS_TCP_MAX_STATES && e->newstate < TS_TCP_MAX_STATES)
			m->transitions[e->oldstate][e->newstate]++;
		latency__add(&m->lat, e, c);
		break;
	case TS_EV_RESET:
		if (e->reset_dir == TS_RESET_SENT || e->reset_dir == TS_RESET_RECEIVED)
			m->resets[e->reset_dir]++;
		break;
	case TS_EV_CLOSE:
		/* The caller's name: who closed a socket others still hold. */
		if (!e->final)
			m->closes_not_final[group_index(m, e->pid ? e : NULL)]++;
		break;
	default:
		break;
	}
}

void metrics__ended(struct metrics *m, const struct lifecycle *l)
{
	if (l->role < ROLE__MAX && l->end < END__MAX)
		m->ended[l->role][l->end]++;
}

void metrics__alert(struct metrics *m, const struct conn *c, enum diag_cause why)
{
	if ((unsigned)why < DIAG_CAUSE__MAX)
		m->alerts[group_index(m, latency__owner(&c->ident, NULL))][why]++;
}

/* The counts kept beside an expired group go with it. */
static void group_expired(void *ctx, uint32_t g)
{
	struct metrics *m = ctx;

	if (g >= LATENCY_GROUPS_ALL)
		return;
	m->closes_not_final[g] = 0;
	memset(m->alerts[g], 0, sizeof(m->alerts[g]));
}

size_t metrics__expire(struct metrics *m, uint64_t now_ns)
{
	clock_to(m, now_ns);
	if (now_ns < m->next_expire_ns)
		return 0;
	m->next_expire_ns = now_ns + 1000000000ULL;
	return latency__expire(&m->lat, METRICS_OWNER_IDLE_NS, group_expired, m);
}

/* ---- rendering ------------------------------------------------------------ */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it (backslash, quote and newline
 * escaped), and one to one: in the value, a name's backslash is doubled
 * and a byte that is not valid UTF-8 is a backslash, x and two hex digits,
 * so that no two names share a value (U+FFFD would fold the bytes fe and ff
 * into one). */
static void label_value(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t k = 1;

		if (c == '\\')
			fputs("\\\\\\\\", f);
		else if (c == '"')
			fputs("\\\"", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x80)
			fputc(c, f);
		else if ((k = json__utf8_len((const unsigned char *)s + i, strnlen(s + i, n - i))))
			fwrite(s + i, 1, k, f);
		else
			fprintf(f, "\\\\x%02x", c), k = 1;
		i += k - 1;
	}
}

/* The labels the tracer gives groups of its own. */
static const char *const reserved[] = { "[other]", "[unknown]" };

/* An owner's name or container: as label_value, and one that is spelled as
 * a reserved label gets a backslash before it in the value, which no other
 * name's value starts with: a process named [other] stays apart. */
static void name_value(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strnlen(s, n) == strlen(reserved[i]) && !strncmp(s, reserved[i], n))
			fputs("\\\\", f);
	label_value(f, s, n);
}

/* The group's labels (--metrics-labels): comm, container or both; a
 * container is "" for an owner in none. */
static void comm_label(FILE *f, const struct latency_group *g)
{
	const char *fixed = g->kind == LAT_GROUP_OTHER ? "[other]" : "[unknown]";
	bool comm = !g->key || (g->key & LATENCY_KEY_COMM);

	if (comm) {
		fputs("comm=\"", f);
		if (g->kind == LAT_GROUP_COMM)
			name_value(f, g->comm, sizeof(g->comm));
		else
			fputs(fixed, f);
		fputc('"', f);
	}
	if (!(g->key & LATENCY_KEY_CONTAINER))
		return;
	fputs(comm ? ",container=\"" : "container=\"", f);
	if (g->kind == LAT_GROUP_COMM)
		name_value(f, g->container, sizeof(g->container));
	else
		fputs(fixed, f);
	fputc('"', f);
}

static const char *state_label(int s)
{
	const char *n = tcp_state__name(s);

	return n ? n : "UNKNOWN";
}

static void transitions(FILE *f, const struct metrics *m)
{
	family(f, "tcpstate_transitions_total", "counter", "TCP state transitions seen.");
	for (int a = 0; a < TS_TCP_MAX_STATES; a++)
		for (int b = 0; b < TS_TCP_MAX_STATES; b++)
			if (m->transitions[a][b])
				fprintf(f, "tcpstate_transitions_total{from=\"%s\",to=\"%s\"} %" PRIu64
					"\n", state_label(a), state_label(b), m->transitions[a][b]);
}

static void ended(FILE *f, const struct metrics *m)
{
	family(f, "tcpstate_connections_ended_total", "counter",
	       "Connections that left the table, by role and how they ended (none: evicted, "
	       "or gone after lost records).");
	for (int r = 0; r < ROLE__MAX; r++)
		for (int e = 0; e < END__MAX; e++)
			fprintf(f, "tcpstate_connections_ended_total{role=\"%s\",end=\"%s\"} %" PRIu64
				"\n", conn_role__name(r), e ? conn_end__name(e) : "none",
				m->ended[r][e]);
}

static void resets(FILE *f, const struct metrics *m)
{
	family(f, "tcpstate_resets_total", "counter", "Resets sent and received.");
	fprintf(f, "tcpstate_resets_total{direction=\"sent\"} %" PRIu64 "\n",
		m->resets[TS_RESET_SENT]);
	fprintf(f, "tcpstate_resets_total{direction=\"received\"} %" PRIu64 "\n",
		m->resets[TS_RESET_RECEIVED]);
}

static void buckets(FILE *f, const char *name, const char *state,
		    const struct latency_group *g, const struct hist *h)
{
	uint64_t cum = 0;
	int i = 0;

	for (int le = LE_FIRST; le <= LE_LAST; le += LE_STEP) {
		for (; i <= le; i++)
			cum += h->n[i];
		fprintf(f, "%s_bucket{", name);
		if (state)
			fprintf(f, "state=\"%s\",", state);
		comm_label(f, g);
		fprintf(f, ",le=\"%.12g\"} %" PRIu64 "\n", (double)hist__bucket_high(le) / 1e9, cum);
	}
	fprintf(f, "%s_bucket{", name);
	if (state)
		fprintf(f, "state=\"%s\",", state);
	comm_label(f, g);
	fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n%s_sum{", h->count, name);
	if (state)
		fprintf(f, "state=\"%s\",", state);
	comm_label(f, g);
	fprintf(f, "} %.9f\n%s_count{", (double)h->sum / 1e9, name);
	if (state)
		fprintf(f, "state=\"%s\",", state);
	comm_label(f, g);
	fprintf(f, "} %" PRIu64 "\n", h->count);
}

static void durations(FILE *f, const struct metrics *m)
{
	const struct latency *l = &m->lat;

	family(f, "tcpstate_state_duration_seconds", "histogram",
	       "Time connections spent in a state, measured at both ends, by owner (--metrics-labels).");
	for (int k = 0; k < LAT_CLOSE_TO_CLOSED; k++)
		for (uint32_t g = 0; g < l->ngroups; g++)
			if (l->groups[g].h[k].count)
				buckets(f, "tcpstate_state_duration_seconds", latency__name(k),
					&l->groups[g], &l->groups[g].h[k]);
	family(f, "tcpstate_close_to_closed_seconds", "histogram",
	       "From the final close() to CLOSE, by owner (--metrics-labels).");
	for (uint32_t g = 0; g < l->ngroups; g++)
		if (l->groups[g].h[LAT_CLOSE_TO_CLOSED].count)
			buckets(f, "tcpstate_close_to_closed_seconds", NULL, &l->groups[g],
				&l->groups[g].h[LAT_CLOSE_TO_CLOSED]);
}

static void per_comm(FILE *f, const struct metrics *m)
{
	const struct latency *l = &m->lat;

	family(f, "tcpstate_closes_not_final_total", "counter",
	       "close() calls that left the socket open (other references), by caller (--metrics-labels).");
	for (uint32_t g = 0; g < l->ngroups; g++) {
		if (!m->closes_not_final[g])
			continue;
		fputs("tcpstate_closes_not_final_total{", f);
		comm_label(f, &l->groups[g]);
		fprintf(f, "} %" PRIu64 "\n", m->closes_not_final[g]);
	}
	family(f, "tcpstate_close_wait_alerts_total", "counter",
	       "CLOSE_WAIT alerts given, by owner (--metrics-labels) and the cause diagnosed.");
	for (uint32_t g = 0; g < l->ngroups; g++)
		for (int c = 0; c < DIAG_CAUSE__MAX; c++) {
			if (!m->alerts[g][c])
				continue;
			fputs("tcpstate_close_wait_alerts_total{", f);
			comm_label(f, &l->groups[g]);
			fprintf(f, ",cause=\"%s\"} %" PRIu64 "\n", diag_cause__name(c),
				m->alerts[g][c]);
		}
}

/* The open connections by state as kept, and those in CLOSE_WAIT by owner's
 * comm with the oldest's age: a walk of those in CLOSE_WAIT alone. */
static void open_conns(FILE *f, struct metrics *m, const struct metrics_render *r)
{
	uint64_t cw[LATENCY_GROUPS_ALL] = { 0 }, oldest[LATENCY_GROUPS_ALL] = { 0 };

	clock_to(m, r->now_ns);	/* an owner with CLOSE_WAIT connections is not idle */
	conn_table__for_each_close_wait(r->conns, c) {
		size_t g = group_index(m, latency__owner(&c->ident, NULL));

		cw[g]++;
		if ((c->since_known || c->since_bound) && r->now_ns > c->state_since_ns &&
		    r->now_ns - c->state_since_ns > oldest[g])
			oldest[g] = r->now_ns - c->state_since_ns;
	}
	family(f, "tcpstate_connections", "gauge", "Open connections by state, TIME_WAIT included.");
	for (int s = 1; s < TS_TCP_MAX_STATES; s++)
		if (s != TS_TCP_CLOSE && tcp_state__name(s))
			fprintf(f, "tcpstate_connections{state=\"%s\"} %" PRIu64 "\n", state_label(s),
				m->open[s]);
	family(f, "tcpstate_close_wait_connections", "gauge",
	       "Connections in CLOSE_WAIT now, by owner (--metrics-labels).");
	for (uint32_t g = 0; g < m->lat.ngroups; g++) {
		if (m->lat.groups[g].kind == LAT_GROUP_FREE)
			continue;
		fputs("tcpstate_close_wait_connections{", f);
		comm_label(f, &m->lat.groups[g]);
		fprintf(f, "} %" PRIu64 "\n", cw[g]);
	}
	family(f, "tcpstate_close_wait_oldest_seconds", "gauge",
	       "Age of the oldest connection in CLOSE_WAIT (at least, for one open before "
	       "tracing), by owner (--metrics-labels); 0 if none.");
	for (uint32_t g = 0; g < m->lat.ngroups; g++) {
		if (m->lat.groups[g].kind == LAT_GROUP_FREE)
			continue;
		fputs("tcpstate_close_wait_oldest_seconds{", f);
		comm_label(f, &m->lat.groups[g]);
		fprintf(f, "} %.3f\n", (double)oldest[g] / 1e9);
	}
}

static void remote_label(FILE *f, const struct tw_group *g)
{
	char ep[INET_ENDPOINT_STRLEN];

	fprintf(f, "{remote=\"%s\"}",
		inet_endpoint__format(g->family == 6 ? 10 : 2, g->addr, g->port, ep, sizeof(ep)));
}

static void timewait(FILE *f, const struct metrics *m)
{
	struct tw_report tw = { 0 };
	uint32_t other = 0, range = m->port_hi >= m->port_lo ? m->port_hi - m->port_lo + 1 : 0;

	if (tw_tally__sorted(&m->tw, &tw.by_remote, &tw.nremote))
		return;
	family(f, "tcpstate_timewait_connections", "gauge",
	       "Connections in TIME_WAIT by remote address and port: the top 20, then [other].");
	for (size_t i = 0; i < tw.nremote; i++) {
		if (i >= TW_TOP) {
			other += tw.by_remote[i].count;
			continue;
		}
		fputs("tcpstate_timewait_connections", f);
		remote_label(f, &tw.by_remote[i]);
		fprintf(f, " %" PRIu32 "\n", tw.by_remote[i].count);
	}
	if (other)
		fprintf(f, "tcpstate_timewait_connections{remote=\"[other]\"} %" PRIu32 "\n", other);
	family(f, "tcpstate_ephemeral_ports_used_ratio", "gauge",
	       "Share of the ephemeral port range held in TIME_WAIT towards a destination "
	       "(the top 20 above).");
	for (size_t i = 0; range && i < tw.nremote && i < TW_TOP; i++) {
		fputs("tcpstate_ephemeral_ports_used_ratio", f);
		remote_label(f, &tw.by_remote[i]);
		fprintf(f, " %.6f\n", (double)tw.by_remote[i].ephemeral / range);
	}
	tw_report__free(&tw);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	family(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void health(FILE *f, const struct metrics_render *r)
{
	const struct run_summary *s = r->sum;

	counter(f, "tcpstate_events_total", "Records received from the kernel.", s->records);
	counter(f, "tcpstate_events_lost_total", "Records lost: the ring buffer was full.",
		s->stats[TS_STAT_DROPPED]);
	counter(f, "tcpstate_program_runs_missed_total",
		"BPF program runs the kernel skipped (recursion).", s->missed);
	counter(f, "tcpstate_gaps_total", "Transitions not seen: a later one started elsewhere.",
		s->stats[TS_STAT_GAPS]);
	counter(f, "tcpstate_transitions_from_dump_total",
		"Transitions the kernel did not report, found by a sock_diag dump.", s->from_dump);
	counter(f, "tcpstate_listener_table_full_total",
		"Listeners the kernel-side table had no room for: their connections have no "
		"owner until accepted.", s->stats[TS_STAT_LISTEN_FULL]);
	counter(f, "tcpstate_exit_scans_cut_total",
		"Process exits whose descriptor walk stopped at its bound: later closes not seen.",
		s->stats[TS_STAT_EXIT_SCAN_CUT]);
	counter(f, "tcpstate_connection_table_evictions_total",
		"Connections dropped from the table to stay within its cap.", r->conns->evictions);
	counter(f, "tcpstate_holder_scans_total",
		"Scans of /proc for the processes holding CLOSE_WAIT sockets.",
		s->holder_scans.scans);
	counter(f, "tcpstate_holder_scan_processes_total", "Processes those scans read.",
		s->holder_scans.procs);
	counter(f, "tcpstate_holder_scan_fds_total", "Descriptors those scans read.",
		s->holder_scans.fds);
	family(f, "tcpstate_holder_scan_seconds_total", "counter", "Time those scans took.");
	fprintf(f, "tcpstate_holder_scan_seconds_total %.9f\n", (double)s->holder_scans.ns / 1e9);
	if (r->nprogs) {
		family(f, "tcpstate_bpf_run_seconds_total", "counter",
		       "Time the kernel spent in each BPF program (kernel.bpf_stats_enabled).");
		for (int i = 0; i < r->nprogs; i++)
			fprintf(f, "tcpstate_bpf_run_seconds_total{program=\"%s\"} %.9f\n",
				r->progs[i].name, (double)r->progs[i].run_ns / 1e9);
	}
	family(f, "tcpstate_build_info", "gauge", "The tracer's version, kernel and hooks.");
	fprintf(f, "tcpstate_build_info{version=\"%s\",kernel=\"", TS_VERSION);
	label_value(f, r->kernel ? r->kernel : "", 64);
	fprintf(f, "\",state_hook=\"%s\",close_hook=\"%s\"} 1\n", s->state_hook, s->close_hook);
}

/* What the metrics server turned away (metrics_export.h). */
static void http(FILE *f, const struct metrics_http_stats *h)
{
	const struct {
		const char *reason;
		uint64_t n;
	} closed[] = {
		{ "evicted", h->evicted }, { "refused", h->refused }, { "deadline", h->deadline },
		{ "idle", h->idle },
	};

	family(f, "tcpstate_metrics_http_connections_closed_total", "counter",
	       "Metrics server connections closed by the server: evicted (the oldest without a "
	       "whole request, for a new one), refused (every place answering), deadline (a "
	       "request not answered in time), idle (no request in time).");
	for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
		fprintf(f, "tcpstate_metrics_http_connections_closed_total{reason=\"%s\"} %" PRIu64
			"\n", closed[i].reason, closed[i].n);
	counter(f, "tcpstate_metrics_http_accept_pauses_total",
		"Times the metrics server paused accepting: no file descriptor left.",
		h->accept_pauses);
	counter(f, "tcpstate_metrics_http_requests_total",
		"Requests the metrics server answered, refusals included.", h->requests);
}

int metrics__render(struct metrics *m, const struct metrics_render *r, FILE *f)
{
	transitions(f, m);
	open_conns(f, m, r);
	ended(f, m);
	durations(f, m);
	per_comm(f, m);
	resets(f, m);
	timewait(f, m);
	health(f, r);
	if (r->http)
		http(f, r->http);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_json.h"
#include "event_json.h"
#include "event_text.h"
#include "fmt.h"
#include "diagnose.h"
#include "tcp_names.h"

void output__init(struct output *o, FILE *f, bool json, bool timestamps)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = json;
	o->timestamps = timestamps;
	clock__init(&o->clk);
	json__init(&o->j);
	outbuf__init(&o->ob, f);
}

void output__free(struct output *o)
{
	outbuf__free(&o->ob);
	json__free(&o->j);
}

/* The buffered record lines go first: whatever is written next to the
 * stream directly must follow them. */
static int drain(struct output *o)
{
	return outbuf__drain(&o->ob);
}

static int write_err(FILE *f)
{
	return ferror(f) ? (errno ? -errno : -EIO) : 0;
}

/* The members every record of the tracer's own starts with. */
static void json_head(struct output *o, const char *type, uint64_t mono_ns)
{
	char ts[CLOCK_RFC3339_LEN];
	struct json *j = &o->j;

	json__begin_object(j);
	json__kv_string(j, "type", type);
	json__kv_string(j, "ts", clock__rfc3339(clock__to_realtime_ns(&o->clk, mono_ns), ts,
						 sizeof(ts)));
	json__kv_uint(j, "mono_ns", mono_ns);
}

/* A connection record's members "type" to "netns" through the record
 * serializer, then the generic writer for the rest. */
static void json_common(struct output *o, const char *type, const struct ts_event *e)
{
	const struct cgroup_name *cg = cgroup_names__get(o->cg, e->cgroup_id);
	char b[EVENT_JSON_MAX];

	json__begin_object(&o->j);
	json__members(&o->j, b, (size_t)(event_json__head(b, type, e, &o->clk, false, cg) - b));
}

/* A header and a line, or a JSON line, fit the room outbuf__space() gives. */
_Static_assert(EVENT_TEXT_MAX * 2 <= OUTBUF_LINE_MAX && EVENT_JSON_MAX <= OUTBUF_LINE_MAX,
	       "record lines longer than the output buffer's line room");

/* The column header goes before the first text line. */
static char *text_header_once(struct output *o, char *p)
{
	if (o->header_done)
		return p;
	o->header_done = true;
	return event_text__header(p, o->timestamps);
}

int output__event(struct output *o, const struct ts_event *e, bool before_start)
{
	char *p = outbuf__space(&o->ob);

	if (e->type == TS_EV_TW_REARM)
		return 0;	/* internal: consumed by the caller */
	if (!p)
		return -ENOMEM;
	if (o->json) {
		p = event_json__line(p, e, &o->clk, before_start,
				     cgroup_names__get(o->cg, e->cgroup_id));
	} else {
		p = event_text__line(text_header_once(o, p), e, &o->clk, o->timestamps);
	}
	return outbuf__commit(&o->ob, p);
}

int output__gone(struct output *o, const struct conn *c, uint64_t checked_ns)
{
	struct ts_event id = c->ident;
	char *p = outbuf__space(&o->ob);

	if (!p)
		return -ENOMEM;
	id.mono_ns = checked_ns;
	if (o->json) {
		p = event_json__gone(p, &id, c->state, &o->clk, c->before_start,
				     cgroup_names__get(o->cg, id.cgroup_id));
	} else {
		p = event_text__gone(text_header_once(o, p), &id, c->state, &o->clk,
				     o->timestamps);
	}
	return outbuf__commit(&o->ob, p);
}

/* The holders found; null, not an empty list, when none could be looked for. */
static void alert_holders(struct json *j, const struct holder_query *q)
{
	if (!q) {
		json__kv_null(j, "holders");
		json__kv_null(j, "holders_total");
		return;
	}
	json__key(j, "holders");
	json__begin_array(j);
	for (int i = 0; i < q->n && i < HOLDERS_MAX; i++) {
		json__begin_object(j);
		json__kv_int(j, "pid", q->h[i].pid);
		json__kv_string(j, "comm", q->h[i].comm);
		json__kv_int(j, "fd", q->h[i].fd);
		json__end_object(j);
	}
	json__end_array(j);
	json__kv_int(j, "holders_total", q->n);
}

/* " in docker 0123456789ab" (a runtime's id cut as its CLI shows it), or ""
 * outside a container: where the text alert's owner runs. */
static const char *container_words(const struct cgroup_name *cg, char *b, size_t len)
{
	const struct cgroup_container *k = cg && cg->has_container ? &cg->container : NULL;
	const char *rt = k ? cgroup__runtime_name(k->runtime) : NULL;
	bool hex_id = k && (k->runtime == CGROUP_RT_DOCKER || k->runtime == CGROUP_RT_CONTAINERD ||
			    k->runtime == CGROUP_RT_CRIO);

	char id[FMT_TEXT_MAX(sizeof(k->id)) + 1];

	if (!rt)
		return "";
	/* A service's name is any directory name a delegated user made. */
	fmt__text_z(id, sizeof(id), k->id, hex_id ? 12 : sizeof(k->id));
	snprintf(b, len, " in %s %s", rt, id);
	return b;
}

int output__alert(struct output *o, const struct conn *c, const struct holder_query *q,
		  const char *diagnosis, uint64_t now_ns)
{
	int err;
	struct ts_event id = c->ident;
	struct json *j = &o->j;
	char age[32], where[FMT_TEXT_MAX(CGROUP_CONTAINER_MAX) + 32];
	uint64_t age_ns = (c->since_known || c->since_bound) && now_ns > c->state_since_ns
				  ? now_ns - c->state_since_ns : 0;

	if ((err = drain(o)))
		return err;
	id.mono_ns = now_ns;
	if (!o->json) {
		char *p = outbuf__space(&o->ob), text[FMT_TEXT_MAX(DIAGNOSIS_MAX) + 1];

		if (!p)
			return -ENOMEM;
		if (!o->header_done)
			p = event_text__header(p, o->timestamps);
		o->header_done = true;
		p = event_text__prefix(p, &id, &o->clk, o->timestamps);
		if ((err = outbuf__commit(&o->ob, p)) || (err = drain(o)))
			return err;
		/* The sentence names processes by comm: escaped whole. */
		fprintf(o->f, "ALERT CLOSE_WAIT%s for %s%s: %s\n",
			container_words(cgroup_names__get(o->cg, id.cgroup_id), where, sizeof(where)),
			c->since_known ? "" : "at least ",
			diagnose__duration(age_ns, age, sizeof(age)),
			fmt__text_z(text, sizeof(text), diagnosis, SIZE_MAX));
		return write_err(o->f);
	}
	json_common(o, "alert", &id);
	json__kv_string(j, "kind", "close_wait");
	json__kv_uint(j, "age_ns", age_ns);
	json__kv_bool(j, "age_is_lower_bound", !c->since_known);
	json__kv_bool(j, "before_start", c->before_start);
	json__key(j, "close_calls");
	conn_json__calls(j, c);
	json__kv_uint(j, "close_calls_total", c->ncalls);
	alert_holders(j, q);
	json__kv_string(j, "diagnosis", diagnosis);
	json__end_object(j);
	return json__write_line(j, o->f);
}

#define TW_REPORT_TOP 20

int output__tw_report(struct output *o, const struct tw_report *r, uint64_t now_ns)
{
	int err;
	uint32_t range = r->range_hi >= r->range_lo ? r->range_hi - r->range_lo + 1 : 0;
	char a[INET_ADDR_STRLEN];
	struct json *j = &o->j;

	if ((err = drain(o)))
		return err;
	if (!o->json) {
		fprintf(o->f, "TIME_WAIT: %u connections\n", r->total);
		for (size_t i = 0; i < r->nlocal && i < TW_REPORT_TOP; i++)
			fprintf(o->f, "  local %-39s %8u\n",
				inet_addr__format(r->by_local[i].family, r->by_local[i].addr, a,
						  sizeof(a)), r->by_local[i].count);
		for (size_t i = 0; i < r->nremote && i < TW_REPORT_TOP; i++) {
			char ep[64];

			inet_endpoint__format(r->by_remote[i].family, r->by_remote[i].addr,
					      r->by_remote[i].port, ep, sizeof(ep));
			fprintf(o->f, "  remote %-38s %8u  %5.1f%% of ephemeral ports %u-%u\n", ep,
				r->by_remote[i].count,
				range ? 100.0 * r->by_remote[i].ephemeral / range : 0.0, r->range_lo,
				r->range_hi);
		}
		return write_err(o->f);
	}
	json_head(o, "timewait_report", now_ns);
	json__kv_uint(j, "total", r->total);
	json__key(j, "port_range");
	json__begin_array(j);
	json__uint(j, r->range_lo);
	json__uint(j, r->range_hi);
	json__end_array(j);
	json__key(j, "by_local");
	json__begin_array(j);
	for (size_t i = 0; i < r->nlocal && i < TW_REPORT_TOP; i++) {
		json__begin_object(j);
		json__kv_string(j, "saddr", inet_addr__format(r->by_local[i].family,
							       r->by_local[i].addr, a, sizeof(a)));
		json__kv_uint(j, "count", r->by_local[i].count);
		json__end_object(j);
	}
	json__end_array(j);
	json__key(j, "by_remote");
	json__begin_array(j);
	for (size_t i = 0; i < r->nremote && i < TW_REPORT_TOP; i++) {
		json__begin_object(j);
		json__kv_string(j, "daddr", inet_addr__format(r->by_remote[i].family,
							       r->by_remote[i].addr, a, sizeof(a)));
		json__kv_uint(j, "dport", r->by_remote[i].port);
		json__kv_uint(j, "count", r->by_remote[i].count);
		json__kv_uint(j, "ephemeral_ports", r->by_remote[i].ephemeral);
		json__key(j, "ephemeral_share");
		{
			char b[32];

			snprintf(b, sizeof(b), "%.6f",
				 range ? (double)r->by_remote[i].ephemeral / range : 0.0);
			json__raw(j, b);
		}
		json__end_object(j);
	}
	json__end_array(j);
	json__kv_uint(j, "groups_local", r->nlocal);
	json__kv_uint(j, "groups_remote", r->nremote);
	json__end_object(j);
	return json__write_line(j, o->f);
}

/* The histograms of one set that have samples: bcc tables, or one "hist"
 * record each, with the group's comm when grouped (g not NULL). */
static int latency_hists(struct output *o, const struct hist *hs,
			 const struct latency_group *g, uint64_t now_ns)
{
	char title[64];
	struct json *j = &o->j;
	int err = 0;

	for (int k = 0; k < LAT__MAX && !err; k++) {
		const struct hist *h = &hs[k];
		int first, last;

		if (!h->count)
			continue;
		if (!o->json) {
			snprintf(title, sizeof(title), k == LAT_CLOSE_TO_CLOSED
				 ? "close() to CLOSE" : "time in %s", latency__name(k));
			err = hist__print(o->f, h, title);
			continue;
		}
		json_head(o, "hist", now_ns);
		if (g && g->kind == LAT_GROUP_COMM) {
			json__key(j, "comm");
			json__string_n(j, g->comm, strnlen(g->comm, sizeof(g->comm)));
		} else if (g && g->kind == LAT_GROUP_OTHER) {
			json__kv_string(j, "comm", "[other]");
			json__kv_bool(j, "other", true);
		} else if (g) {
			json__kv_null(j, "comm");
		}
		json__kv_string(j, "name", latency__name(k));
		json__kv_string(j, "unit", "ns");
		json__kv_uint(j, "count", h->count);
		json__kv_uint(j, "min", h->min);
		json__kv_uint(j, "p50", hist__quantile(h, 0.50));
		json__kv_uint(j, "p90", hist__quantile(h, 0.90));
		json__kv_uint(j, "p99", hist__quantile(h, 0.99));
		json__kv_uint(j, "max", h->max);
		json__key(j, "buckets");
		json__begin_array(j);
		if (hist__span(h, &first, &last)) {
			for (int b = first; b <= last; b++) {
				json__begin_object(j);
				json__kv_uint(j, "lo", hist__bucket_low(b));
				json__kv_uint(j, "hi", hist__bucket_high(b));
				json__kv_uint(j, "count", h->n[b]);
				json__end_object(j);
			}
		}
		json__end_array(j);
		json__end_object(j);
		err = json__write_line(j, o->f);
	}
	return err;
}

/* A group's header line in the table, bcc style ("comm = nginx"). */
static void latency_group_header(struct output *o, const struct latency_group *g, bool first)
{
	if (!first)
		fputc('\n', o->f);
	char comm[FMT_TEXT_MAX(TS_COMM_LEN) + 1];

	switch (g->kind) {
	case LAT_GROUP_COMM:
		fprintf(o->f, "comm = %s\n", fmt__text_z(comm, sizeof(comm), g->comm, TS_COMM_LEN));
		break;
	case LAT_GROUP_UNKNOWN:
		fprintf(o->f, "comm = - (owner not seen)\n");
		break;
	default:
		fprintf(o->f, "comm = [other] (process names after the first %d)\n",
			LATENCY_GROUPS_MAX);
		break;
	}
}

int output__latency(struct output *o, const struct latency *l, uint64_t now_ns)
{
	const struct latency_group *order[LATENCY_GROUPS_ALL];
	size_t n;
	int err = 0;

	if ((err = drain(o)))
		return err;
	if (l->by == LATENCY_BY_NONE)
		return latency_hists(o, l->h, NULL, now_ns);
	n = latency__groups(l, order);
	for (size_t i = 0; i < n && !err; i++) {
		if (!o->json)
			latency_group_header(o, order[i], i == 0);
		err = latency_hists(o, order[i]->h, order[i], now_ns);
	}
	return err;
}

int output__snapshot(struct output *o, const struct snapshot *s, uint64_t now_ns)
{
	int err;
	struct json *j = &o->j;

	if ((err = drain(o)))
		return err;
	if (!o->json) {
		fprintf(o->f, "snapshot: %u TCP connections when tracing began:", s->total);
		for (int i = 1; i < TS_TCP_MAX_STATES; i++)
			if (s->by_state[i])
				fprintf(o->f, " %u %s", s->by_state[i], tcp_state__name(i));
		if (s->netns_failed)
			fprintf(o->f, " (%u network namespaces could not be read)", s->netns_failed);
		fputc('\n', o->f);
		return write_err(o->f);
	}
	json_head(o, "snapshot", now_ns);
	json__kv_uint(j, "connections", s->total);
	json__key(j, "states");
	json__begin_object(j);
	for (int i = 1; i < TS_TCP_MAX_STATES; i++)
		if (s->by_state[i])
			json__kv_uint(j, tcp_state__name(i), s->by_state[i]);
	json__end_object(j);
	json__kv_uint(j, "netns", s->netns);
	json__kv_uint(j, "netns_failed", s->netns_failed);
	json__end_object(j);
	return json__write_line(j, o->f);
}

int output__lost(struct output *o, uint64_t delta, uint64_t total, uint32_t ringbuf_bytes)
{
	int err;
	struct json *j = &o->j;
	uint64_t now = clock__mono_now();

	if ((err = drain(o)))
		return err;
	if (!o->json) {
		fprintf(stderr, "tcpstate-trace: WARNING: %" PRIu64 " events lost (ring buffer "
			"full; %" PRIu64 " in all); a larger --ringbuf than %uK may help\n",
			delta, total, ringbuf_bytes >> 10);
		return 0;
	}
	json_head(o, "lost", now);
	json__kv_uint(j, "count", delta);
	json__kv_uint(j, "total", total);
	json__end_object(j);
	return json__write_line(j, o->f);
}

static void json_counts(struct json *j, const char *key, const uint64_t *n, int count,
			const char *(*name)(int i), bool skip_zero)
{
	json__key(j, key);
	json__begin_object(j);
	for (int i = 0; i < count; i++) {
		if ((skip_zero && !n[i]) || !name(i))
			continue;
		json__kv_uint(j, name(i), n[i]);
	}
	json__end_object(j);
}

static const char *role_key(int i) { return conn_role__name((enum conn_role)i); }
static const char *end_key(int i) { return i == END_NONE ? "none" : conn_end__name((enum conn_end)i); }
static const char *state_key(int i) { return i == TS_TCP_CLOSE ? NULL : tcp_state__name(i); }

/* The "connections", "states" and "close_wait_owners" members. */
static void json_connections(struct json *j, const struct conn_summary *cs)
{
	json__key(j, "connections");
	json__begin_object(j);
	json__kv_uint(j, "seen", cs->seen);
	json__kv_uint(j, "open", cs->open);
	json__kv_uint(j, "ended", cs->ended.total);
	json__kv_uint(j, "incomplete", cs->ended.incomplete);
	json__kv_uint(j, "evictions", cs->evictions);
	json_counts(j, "by_role", cs->ended.by_role, ROLE__MAX, role_key, false);
	json_counts(j, "by_end", cs->ended.by_end, END__MAX, end_key, false);
	json_counts(j, "missing", cs->ended.by_missing, LC_MISS__COUNT, lifecycle_missing__name,
		    false);
	json__end_object(j);
	json_counts(j, "states", cs->by_state, TS_TCP_MAX_STATES, state_key, true);
	json__key(j, "close_wait_owners");
	json__begin_array(j);
	for (int i = 0; i < cs->nowners; i++) {
		const struct owner_count *w = &cs->owners[i];

		json__begin_object(j);
		if (w->pid) {
			json__kv_uint(j, "pid", w->pid);
			json__key(j, "comm");
			json__string_n(j, w->comm, strnlen(w->comm, sizeof(w->comm)));
		} else {
			json__kv_null(j, "pid");
			json__kv_null(j, "comm");
		}
		json__kv_uint(j, "count", w->count);
		json__end_object(j);
	}
	json__end_array(j);
}

static void text_counts(FILE *f, const uint64_t *n, int count, const char *(*name)(int i))
{
	const char *sep = "";

	for (int i = 0; i < count; i++) {
		if (!n[i] || !name(i))
			continue;
		fprintf(f, "%s%s %" PRIu64, sep, name(i), n[i]);
		sep = ", ";
	}
	if (!*sep)
		fprintf(f, "none");
}

static void text_connections(FILE *f, const char *prefix, const struct conn_summary *cs)
{
	fprintf(f, "%sconnections: %" PRIu64 " seen, %" PRIu64 " open, %" PRIu64 " ended (",
		prefix, cs->seen, cs->open, cs->ended.total);
	text_counts(f, cs->ended.by_role, ROLE__MAX, role_key);
	fprintf(f, "; ");
	text_counts(f, cs->ended.by_end, END__MAX, end_key);
	fprintf(f, "), %" PRIu64 " incomplete\n", cs->ended.incomplete);
	fprintf(f, "%sopen by state: ", prefix);
	text_counts(f, cs->by_state, TS_TCP_MAX_STATES, state_key);
	fputc('\n', f);
	if (cs->nowners) {
		fprintf(f, "%smost CLOSE_WAIT: ", prefix);
		for (int i = 0; i < cs->nowners; i++) {
			char comm[FMT_TEXT_MAX(TS_COMM_LEN) + 1];

			fprintf(f, "%s%s %u (%" PRIu64 ")", i ? ", " : "",
				cs->owners[i].pid ? fmt__text_z(comm, sizeof(comm), cs->owners[i].comm,
								TS_COMM_LEN) : "?",
				cs->owners[i].pid, cs->owners[i].count);
		}
		fputc('\n', f);
	}
	if (cs->evictions)
		fprintf(f, "%sWARNING: %" PRIu64 " connections evicted to keep the table within "
			"its cap: their timelines are incomplete\n", prefix, cs->evictions);
	if (cs->ended.by_missing[__builtin_ctz(LC_MISS_GONE)])
		fprintf(f, "%sWARNING: %" PRIu64 " connections ended unseen: records were lost and "
			"the kernel no longer had them (missing \"gone\")\n", prefix,
			cs->ended.by_missing[__builtin_ctz(LC_MISS_GONE)]);
}

int output__connections(struct output *o, const struct conn_summary *cs, uint64_t lost,
			uint64_t now_ns)
{
	int err;
	struct json *j = &o->j;

	if ((err = drain(o)))
		return err;
	if (!o->json) {
		text_connections(o->f, "", cs);
		return write_err(o->f);
	}
	json_head(o, "connections", now_ns);
	json__kv_uint(j, "lost", lost);
	json_connections(j, cs);
	json__end_object(j);
	return json__write_line(j, o->f);
}

int output__summary_record(struct output *o, const struct run_summary *s)
{
	int err;
	struct json *j = &o->j;

	if ((err = drain(o)))
		return err;
	if (!o->json)
		return 0;
	json_head(o, "summary", s->end_mono_ns);
	json__kv_uint(j, "duration_ns", s->end_mono_ns - s->start_mono_ns);
	json__kv_uint(j, "events", s->records);
	json__kv_uint(j, "transitions", s->transitions);
	json__kv_uint(j, "lost", s->stats[TS_STAT_DROPPED]);
	json__kv_uint(j, "missed", s->missed);
	json__kv_bool(j, "missed_counted", s->missed_counted);
	json__kv_uint(j, "gaps", s->stats[TS_STAT_GAPS]);
	json__kv_uint(j, "from_dump", s->from_dump);
	json__kv_uint(j, "derived", s->derived);
	json__kv_uint(j, "kernel_events", s->stats[TS_STAT_EVENTS]);
	json__kv_uint(j, "untracked", s->stats[TS_STAT_UNTRACKED]);
	json__kv_uint(j, "socket_table_full", s->stats[TS_STAT_SOCK_FULL]);
	json__kv_uint(j, "timewait_table_full", s->stats[TS_STAT_TW_FULL]);
	json__kv_uint(j, "listener_table_full", s->stats[TS_STAT_LISTEN_FULL]);
	json__kv_uint(j, "exit_scans_cut", s->stats[TS_STAT_EXIT_SCAN_CUT]);
	json__kv_uint(j, "malformed", s->malformed);
	json__kv_uint(j, "internal", s->internal);
	json__kv_uint(j, "unidentified", s->unidentified);
	json__kv_uint(j, "timewait_rearms", s->tw_rearms);
	json__kv_uint(j, "cgroup_lookups_failed", s->cgroup_lookups.transient);
	json__kv_uint(j, "cgroup_lookups_given_up", s->cgroup_lookups.given_up);
	json__kv_string(j, "state_hook", s->state_hook);
	json__kv_string(j, "cookie_mode", s->cookie_mode);
	json__kv_string(j, "close_hook", s->close_hook);
	json__kv_bool(j, "exit_scan", s->exit_scan);
	json__kv_bool(j, "timewait", s->timewait);
	json__kv_uint(j, "timewait_handoffs", s->stats[TS_STAT_TW_HANDOFFS]);
	json__kv_uint(j, "holder_scans", s->holder_scans.scans);
	json__kv_uint(j, "holder_scan_processes", s->holder_scans.procs);
	json__kv_uint(j, "holder_scan_fds", s->holder_scans.fds);
	json__kv_uint(j, "holder_scan_ns", s->holder_scans.ns);
	json__kv_uint(j, "holder_scan_max_ns", s->holder_scans.max_ns);
	json_connections(j, &s->conns);
	json__end_object(j);
	return json__write_line(j, o->f);
}

void output__summary_text(FILE *f, const struct run_summary *s)
{
	bool full = s->stats[TS_STAT_SOCK_FULL] || s->stats[TS_STAT_TW_FULL];

	fprintf(f, "tcpstate-trace: %" PRIu64 " events (%" PRIu64 " transitions), %" PRIu64
		" lost, %" PRIu64 " on untracked sockets (opened before tracing began%s)\n",
		s->records, s->transitions, s->stats[TS_STAT_DROPPED], s->stats[TS_STAT_UNTRACKED],
		full ? ", or pushed out of a full table" : "");
	text_connections(f, "tcpstate-trace: ", &s->conns);
	if (s->holder_scans.scans)
		fprintf(f, "tcpstate-trace: %" PRIu64 " scans of /proc for the holders of "
			"CLOSE_WAIT sockets: %" PRIu64 " processes, %" PRIu64 " descriptors, %.3f s "
			"(the longest %.3f s)\n", s->holder_scans.scans, s->holder_scans.procs,
			s->holder_scans.fds, (double)s->holder_scans.ns / 1e9,
			(double)s->holder_scans.max_ns / 1e9);
	if (s->stats[TS_STAT_TW_FULL])
		fprintf(f, "tcpstate-trace: WARNING: timewait table full %" PRIu64 " times: those "
			"TIME_WAIT ends are reported without their time in TIME_WAIT; raise "
			"--max-sockets\n", s->stats[TS_STAT_TW_FULL]);
	if (s->stats[TS_STAT_SOCK_FULL])
		fprintf(f, "tcpstate-trace: WARNING: socket table full %" PRIu64
			" times: owners and durations missing; raise --max-sockets\n",
			s->stats[TS_STAT_SOCK_FULL]);
	if (s->stats[TS_STAT_LISTEN_FULL])
		fprintf(f, "tcpstate-trace: WARNING: listener table full %" PRIu64 " times: "
			"those listeners' connections have no owner until accepted\n",
			s->stats[TS_STAT_LISTEN_FULL]);
	if (s->stats[TS_STAT_EXIT_SCAN_CUT])
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " process exits had more "
			"descriptors than the exit walk reads: closes past its bound are not "
			"reported\n", s->stats[TS_STAT_EXIT_SCAN_CUT]);
	if (s->malformed)
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " malformed records ignored\n",
			s->malformed);
	if (s->cgroup_lookups.given_up)
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " owners' cgroups left unnamed: "
			"their lookups failed %d times for passing reasons (out of descriptors "
			"or memory); %" PRIu64 " lookups failed in all\n",
			s->cgroup_lookups.given_up, CGROUP_LOOKUP_TRIES, s->cgroup_lookups.transient);
	if (s->unidentified)
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " records of sockets whose "
			"addresses were not known (forgotten after lost records): shown without "
			"them\n", s->unidentified);
	if (s->missed)
		fprintf(f, "tcpstate-trace: WARNING: the kernel skipped %" PRIu64 " program runs "
			"(one classic tracepoint firing inside another on a CPU); their records "
			"are missing. tp_btf (the default state hook) does not lose these\n",
			s->missed);
	if (s->stats[TS_STAT_GAPS])
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " times a socket's transition "
			"started in another state than its last seen one ended in: transitions "
			"the kernel did not report are missing (marked \"gap\")\n",
			s->stats[TS_STAT_GAPS]);
	if (s->from_dump)
		fprintf(f, "tcpstate-trace: WARNING: %" PRIu64 " transitions the kernel did not "
			"report were found by a sock_diag dump (marked \"from_dump\")\n",
			s->from_dump);
}

int output__flush(struct output *o)
{
	int err = drain(o);

	if (err)
		return err;
	if (fflush(o->f))
		return errno ? -errno : -EIO;
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "timeline.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_json.h"
#include "event_json.h"
#include "tcp_names.h"

#define FLUSH_AT (64 * 1024)

static const char *const format_names[] = {
	[TIMELINE_JSON] = "json", [TIMELINE_CSV] = "csv", [TIMELINE_PERFETTO] = "perfetto",
};

int timeline_format__parse(const char *s, enum timeline_format *fmt)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(s, format_names[i]) == 0) {
			*fmt = (enum timeline_format)i;
			return 0;
		}
	}
	return -1;
}

const char *timeline_format__name(enum timeline_format fmt)
{
	return fmt <= TIMELINE_PERFETTO ? format_names[fmt] : "?";
}

/* ---- the buffer: whole entries only ------------------------------------ */

static void put(struct timeline *tl, const char *s, size_t n)
{
	if (tl->err)
		return;
	if (tl->len + n > tl->cap) {
		size_t cap = tl->cap ? tl->cap : 2 * FLUSH_AT;
		char *b;

		while (cap < tl->len + n)
			cap *= 2;
		b = realloc(tl->buf, cap);
		if (!b) {
			tl->err = -ENOMEM;
			return;
		}
		tl->buf = b;
		tl->cap = cap;
	}
	memcpy(tl->buf + tl->len, s, n);
	tl->len += n;
}

static void puts_(struct timeline *tl, const char *s)
{
	put(tl, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void putf(struct timeline *tl, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(tl, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

int timeline__flush(struct timeline *tl)
{
	size_t off = 0;

	if (tl->err || !tl->len)
		return tl->err;
	/* stdio may hold the other records' bytes: they go first, whole. */
	if (tl->is_stdout && fflush(stdout))
		tl->err = errno ? -errno : -EIO;
	while (!tl->err && off < tl->len) {
		ssize_t n = write(tl->fd, tl->buf + off, tl->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct stat st;

			tl->err = n < 0 ? -errno : -EIO;
			/* Keep the file whole: cut the half-written batch. */
			if (!fstat(tl->fd, &st) && S_ISREG(st.st_mode) &&
			    !ftruncate(tl->fd, (off_t)tl->committed))
				lseek(tl->fd, (off_t)tl->committed, SEEK_SET);
			break;
		}
		off += (size_t)n;
	}
	if (!tl->err)
		tl->committed += tl->len;
	tl->len = 0;
	return tl->err;
}

/* ---- json --------------------------------------------------------------- */

static void json_opt_uint(struct json *j, const char *key, bool known, uint64_t v)
{
	if (known)
		json__kv_uint(j, key, v);
	else
		json__kv_null(j, key);
}

/* "cgroup_id", "cgroup", "container": as the records have them. */
static void json_cgroup(struct json *j, const struct ts_event *id, struct cgroup_names *cg)
{
	char b[EVENT_JSON_MAX];
	char *end = event_json__cgroup(b, id->cgroup_id, cgroup_names__get(cg, id->cgroup_id));

	json__members(j, b + 1, (size_t)(end - b - 1));	/* past its leading comma */
}

static void json_owner(struct json *j, const struct ts_event *id, struct cgroup_names *cg)
{
	json__key(j, "owner");
	if (id->owner_src == TS_OWNER_NONE || !id->pid) {
		json__null(j);
		return;
	}
	json__begin_object(j);
	json__kv_uint(j, "pid", id->pid);
	json__key(j, "comm");
	json__string_n(j, id->comm, strnlen(id->comm, sizeof(id->comm)));
	json_cgroup(j, id, cg);
	json__end_object(j);
}

/* The TIME_WAIT end's reason, when it ended from TIME_WAIT. */
static const char *timewait_end(const struct lifecycle *l)
{
	const struct conn *c = l->c;
	const struct conn_step *s = c->nsteps ? &c->steps[c->nsteps - 1] : NULL;

	if (!l->end_known || !s || s->oldstate != TS_TCP_TIME_WAIT || !s->tw_reason)
		return NULL;
	return ts_tw_reason__name(s->tw_reason);
}

static void write_json(struct timeline *tl, const struct lifecycle *l)
{
	const struct conn *c = l->c;
	struct json *j = &tl->j;
	const char *s;
	char b[16];

	json__begin_object(j);
	json__kv_uint(j, "cookie", c->ident.cookie);
	conn_json__addrs(j, &c->ident);
	json__kv_string(j, "role", conn_role__name(l->role));
	json_owner(j, &c->ident, tl->cg);
	json_opt_uint(j, "start_mono_ns", l->start_known, l->start_ns);
	json_opt_uint(j, "end_mono_ns", l->end_known, l->end_ns);
	json_opt_uint(j, "first_seen_mono_ns", c->first_ns != 0, c->first_ns);
	json__key(j, "states");
	json__begin_array(j);
	for (int i = 0; i < l->nvisits; i++) {
		const struct lc_visit *v = &l->visits[i];

		json__begin_object(j);
		json__kv_string(j, "state", tcp_state__str(v->state, b, sizeof(b)));
		json_opt_uint(j, "enter_mono_ns", v->enter_known, v->enter_ns);
		json_opt_uint(j, "dur_ns", v->dur_known, v->dur_ns);
		json__end_object(j);
	}
	json__end_array(j);
	json__key(j, "calls");
	conn_json__calls(j, c);
	json__kv_uint(j, "calls_total", c->ncalls);
	s = conn_closed_by__name(l->closed_by);
	s ? json__kv_string(j, "closed_by", s) : json__kv_null(j, "closed_by");
	s = conn_end__name(l->end);
	s ? json__kv_string(j, "end", s) : json__kv_null(j, "end");
	if ((s = timewait_end(l)))
		json__kv_string(j, "timewait_end", s);
	json__kv_bool(j, "before_start", c->before_start);
	json__kv_bool(j, "complete", l->complete);
	json__key(j, "missing");
	json__begin_array(j);
	for (int bit = 0; bit < LC_MISS__COUNT; bit++)
		if (l->missing & (1u << bit))
			json__string(j, lifecycle_missing__name(bit));
	json__end_array(j);
	json__end_object(j);
	if (j->oom) {
		json__reset(j);
		tl->err = -ENOMEM;
		return;
	}
	put(tl, json__str(j), j->len);
	put(tl, "\n", 1);
	json__reset(j);
}

/* ---- csv ---------------------------------------------------------------- */

static const char csv_head[] = "cookie,family,saddr,sport,daddr,dport,role,pid,comm,state,"
			       "enter_mono_ns,dur_ns,closed_by,end,complete,cgroup_id,cgroup,"
			       "container\n";

/* A field quoted when it has to be (RFC 4180). */
static void csv_text(struct timeline *tl, const char *s, size_t n)
{
	bool quote = strcspn(s, ",\"\r\n") < n;

	if (quote)
		put(tl, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			put(tl, "\"", 1);
		put(tl, &s[i], 1);
	}
	if (quote)
		put(tl, "\"", 1);
}

static void csv_opt_uint(struct timeline *tl, bool known, uint64_t v)
{
	if (known)
		putf(tl, "%" PRIu64, v);
	put(tl, ",", 1);
}

/* ,cgroup_id,cgroup,container: empty when not known. Last, so that readers
 * of the columns before them are not disturbed. */
static void csv_cgroup(struct timeline *tl, const struct ts_event *id)
{
	const struct cgroup_name *cg = cgroup_names__get(tl->cg, id->cgroup_id);

	put(tl, ",", 1);
	if (id->cgroup_id && id->pid)
		putf(tl, "%" PRIu64, (uint64_t)id->cgroup_id);
	put(tl, ",", 1);
	if (id->pid && cg && cg->found)
		csv_text(tl, cg->path, strnlen(cg->path, sizeof(cg->path)));
	put(tl, ",", 1);
	if (id->pid && cg && cg->has_container)
		csv_text(tl, cg->container.id, strnlen(cg->container.id, sizeof(cg->container.id)));
	put(tl, "\n", 1);
}

static void csv_row(struct timeline *tl, const struct lifecycle *l, const struct lc_visit *v)
{
	const struct ts_event *id = &l->c->ident;
	char sa[INET_ADDR_STRLEN], da[INET_ADDR_STRLEN], b[16];
	const char *by = conn_closed_by__name(l->closed_by), *end = conn_end__name(l->end);

	putf(tl, "%" PRIu64 ",%d,%s,%u,%s,%u,%s,", (uint64_t)id->cookie,
	     id->family == AF_INET6 ? 6 : 4,
	     inet_addr__format(id->family, id->saddr, sa, sizeof(sa)), id->sport,
	     inet_addr__format(id->family, id->daddr, da, sizeof(da)), id->dport,
	     conn_role__name(l->role));
	if (id->owner_src != TS_OWNER_NONE && id->pid) {
		putf(tl, "%u,", id->pid);
		csv_text(tl, id->comm, strnlen(id->comm, sizeof(id->comm)));
	} else {
		put(tl, ",", 1);
	}
	put(tl, ",", 1);
	if (v)
		puts_(tl, tcp_state__str(v->state, b, sizeof(b)));
	put(tl, ",", 1);
	csv_opt_uint(tl, v && v->enter_known, v ? v->enter_ns : 0);
	csv_opt_uint(tl, v && v->dur_known, v ? v->dur_ns : 0);
	putf(tl, "%s,%s,%s", by ? by : "", end ? end : "", l->complete ? "true" : "false");
	csv_cgroup(tl, id);
}

static void write_csv(struct timeline *tl, const struct lifecycle *l)
{
	if (!l->nvisits)
		csv_row(tl, l, NULL);
	for (int i = 0; i < l->nvisits; i++)
		csv_row(tl, l, &l->visits[i]);
}

/* ---- perfetto (Chrome trace events) -------------------------------------- */

static void ev_begin(struct timeline *tl, const char *ph, const char *name, uint32_t pid,
		     uint64_t tid)
{
	struct json *j = &tl->j;

	json__begin_object(j);
	json__kv_string(j, "ph", ph);
	json__kv_string(j, "name", name);
	json__kv_uint(j, "pid", pid);
	json__kv_uint(j, "tid", tid);
}

/* Trace-event times are microseconds: printed exactly from nanoseconds. */
static void ev_us(struct json *j, const char *key, uint64_t ns)
{
	char b[32];

	snprintf(b, sizeof(b), "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
	json__key(j, key);
	json__raw(j, b);
}

static void ev_end(struct timeline *tl)
{
	struct json *j = &tl->j;

	json__end_object(j);
	if (j->oom) {
		tl->err = -ENOMEM;
	} else {
		put(tl, tl->first_event ? "\n" : ",\n", tl->first_event ? 1 : 2);
		put(tl, json__str(j), j->len);
		tl->first_event = false;
	}
	json__reset(j);
}

static void ev_instant(struct timeline *tl, const char *name, uint32_t pid, uint64_t tid,
		       uint64_t ns)
{
	ev_begin(tl, "i", name, pid, tid);
	json__kv_string(&tl->j, "s", "t");
	ev_us(&tl->j, "ts", ns);
}

static void write_perfetto(struct timeline *tl, const struct lifecycle *l)
{
	const struct conn *c = l->c;
	const struct ts_event *id = &c->ident;
	bool owned = id->owner_src != TS_OWNER_NONE && id->pid;
	uint32_t pid = owned ? id->pid : 0;
	uint64_t tid = ++tl->tracks;
	char sa[INET_ADDR_STRLEN + 8], da[INET_ADDR_STRLEN + 8], name[160], b[16];
	struct json *j = &tl->j;

	ev_begin(tl, "M", "process_name", pid, 0);
	json__key(j, "args");
	json__begin_object(j);
	json__key(j, "name");
	if (owned)
		json__string_n(j, id->comm, strnlen(id->comm, sizeof(id->comm)));
	else
		json__string(j, "owner unknown");
	json__end_object(j);
	ev_end(tl);

	snprintf(name, sizeof(name), "%s %s -> %s", conn_role__name(l->role),
		 inet_endpoint__format(id->family, id->saddr, id->sport, sa, sizeof(sa)),
		 inet_endpoint__format(id->family, id->daddr, id->dport, da, sizeof(da)));
	ev_begin(tl, "M", "thread_name", pid, tid);
	json__key(j, "args");
	json__begin_object(j);
	json__kv_string(j, "name", name);
	json__end_object(j);
	ev_end(tl);

	for (int i = 0; i < l->nvisits; i++) {
		const struct lc_visit *v = &l->visits[i];
		const char *st = tcp_state__str(v->state, b, sizeof(b));

		if (!v->enter_known)
			continue;	/* nowhere to put it */
		if (v->dur_known) {
			ev_begin(tl, "X", st, pid, tid);
			ev_us(j, "ts", v->enter_ns);
			ev_us(j, "dur", v->dur_ns);
		} else {
			/* Entered, then not seen leaving: a mark, no slice. */
			ev_instant(tl, st, pid, tid, v->enter_ns);
		}
		json__kv_string(j, "cat", "tcp");
		json__key(j, "args");
		json__begin_object(j);
		json__kv_uint(j, "cookie", id->cookie);
		json__kv_bool(j, "duration_known", v->dur_known);
		json__end_object(j);
		ev_end(tl);
	}
	for (uint32_t i = 0; i < conn__ncalls_kept(c); i++) {
		const struct conn_call *k = conn__call(c, i);

		ev_instant(tl, conn_call__name(k), pid, tid, k->mono_ns);
		json__kv_string(j, "cat", "call");
		json__key(j, "args");
		json__begin_object(j);
		json__kv_uint(j, "pid", k->pid);
		json__key(j, "comm");
		json__string_n(j, k->comm, strnlen(k->comm, sizeof(k->comm)));
		conn_json__fd(j, k->fd);
		json__kv_uint(j, "refs_before", k->refs);
		json__end_object(j);
		ev_end(tl);
	}
	if (l->end_known) {
		const char *end = conn_end__name(l->end), *by = conn_closed_by__name(l->closed_by);

		snprintf(name, sizeof(name), "end: %s", end ? end : "?");
		ev_instant(tl, name, pid, tid, l->end_ns);
		json__kv_string(j, "cat", "tcp");
		json__key(j, "args");
		json__begin_object(j);
		by ? json__kv_string(j, "closed_by", by) : json__kv_null(j, "closed_by");
		json__kv_bool(j, "complete", l->complete);
		json__end_object(j);
		ev_end(tl);
	}
}

/* ---- the file ------------------------------------------------------------ */

int timeline__open_fd(struct timeline *tl, int fd, enum timeline_format fmt)
{
	memset(tl, 0, sizeof(*tl));
	tl->fd = fd;
	tl->fmt = fmt;
	tl->first_event = true;
	tl->is_stdout = fd == STDOUT_FILENO;
	json__init(&tl->j);
	if (fmt == TIMELINE_CSV)
		puts_(tl, csv_head);
	else if (fmt == TIMELINE_PERFETTO)
		puts_(tl, "[");
	return tl->err;
}

int timeline__open(struct timeline *tl, const char *path, enum timeline_format fmt, char *why,
		   size_t whylen)
{
	bool owned;
	int fd = outfile__open(path, OUTFILE_MODE, &owned, why, whylen), err;

	if (fd < 0)
		return fd;
	err = timeline__open_fd(tl, fd, fmt);
	tl->own_fd = owned;
	if (err) {
		snprintf(why, whylen, "%s: %s", path, strerror(-err));
		timeline__close(tl);
		return err;
	}
	return 0;
}

int timeline__write(struct timeline *tl, const struct lifecycle *l)
{
	if (tl->err)
		return tl->err;
	switch (tl->fmt) {
	case TIMELINE_JSON: write_json(tl, l); break;
	case TIMELINE_CSV: write_csv(tl, l); break;
	case TIMELINE_PERFETTO: write_perfetto(tl, l); break;
	}
	tl->entries++;
	if (tl->len >= FLUSH_AT)
		return timeline__flush(tl);
	return tl->err;
}

int timeline__close(struct timeline *tl)
{
	int err;

	if (tl->fmt == TIMELINE_PERFETTO)
		puts_(tl, "\n]\n");
	timeline__flush(tl);
	err = tl->err;
	if (tl->own_fd && close(tl->fd) && !err)
		err = -errno;
	free(tl->buf);
	json__free(&tl->j);
	memset(tl, 0, sizeof(*tl));
	tl->fd = -1;
	return err;
}

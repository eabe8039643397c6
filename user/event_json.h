/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A kernel record as one NDJSON line, written straight into a buffer: one
 * serializer per record type, the member names as literal chunks, the
 * numbers by hand. The bytes are those of the documented records
 * (doc/tcpstate-trace.8, RECORDS). */
#ifndef EVENT_JSON_H
#define EVENT_JSON_H

#include <stdbool.h>
#include "cgroup.h"
#include "clock.h"
#include "tcpstate.h"

/* The longest line event_json__line() writes, newline included. */
#define EVENT_JSON_MAX 4096

/* The line for e (state, close, shutdown, accept; any other type as a
 * reset) at p; returns its end. before_start: its connection predates
 * tracing. cg: what e->cgroup_id names (NULL: not known). */
char *event_json__line(char *p, const struct ts_event *e, const struct clock_map *clk,
		       bool before_start, const struct cgroup_name *cg);
/* The members a connection record starts with, "type" to "netns" (and
 * "before_start" when set), without braces, for records built with the
 * generic writer (alerts); at most EVENT_JSON_MAX - 200 bytes. */
char *event_json__head(char *p, const char *type, const struct ts_event *e,
		       const struct clock_map *clk, bool before_start,
		       const struct cgroup_name *cg);
/* ,"cgroup_id":...,"cgroup":...,"container":... of an owner: null when
 * not known (id 0, or cg NULL or not found). */
char *event_json__cgroup(char *p, uint64_t id, const struct cgroup_name *cg);
/* A connection whose end was never reported, gone from the kernel at
 * id->mono_ns; state: the last one seen. */
char *event_json__gone(char *p, const struct ts_event *id, int state, const struct clock_map *clk,
		       bool before_start, const struct cgroup_name *cg);
/* "family" to "netns": a connection's addresses (timelines too). */
char *event_json__addrs(char *p, const struct ts_event *id);

#endif /* EVENT_JSON_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The JSON members that describe a connection, written the same way in
 * the record stream (output) and in the timelines. */
#ifndef CONN_JSON_H
#define CONN_JSON_H

#include "conn_table.h"
#include "json_writer.h"

/* family (4 or 6), saddr, sport, daddr, dport, netns. */
void conn_json__addrs(struct json *j, const struct ts_event *id);
/* "fd": the descriptor, or null when not known (negative). */
void conn_json__fd(struct json *j, int32_t fd);
/* The kept close() and shutdown() calls, oldest first, as an array value:
 * call, pid, comm, fd, refs_before, how (shutdown) or final (close),
 * mono_ns. */
void conn_json__calls(struct json *j, const struct conn *c);
/* "close", "exit" (the process exited holding it), "tcp_close" (seen
 * only by tcp_close: dup2, close_range, ...), "shutdown". */
const char *conn_call__name(const struct conn_call *k);

#endif /* CONN_JSON_H */

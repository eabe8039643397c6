/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A kernel record as a line of the human table, written straight into a
 * buffer, column for column as printf's "%-7s %-16s ..." laid them out. */
#ifndef EVENT_TEXT_H
#define EVENT_TEXT_H

#include <stdbool.h>
#include "clock.h"
#include "tcpstate.h"

/* The longest line any of these writes, newline included. */
#define EVENT_TEXT_MAX 512

/* The column titles and a newline; -T adds TIME. */
char *event_text__header(char *p, bool timestamps);
/* The leading columns every kind of line shares: [time] pid comm local
 * remote, each padded, a space after each. */
char *event_text__prefix(char *p, const struct ts_event *e, const struct clock_map *clk,
			 bool timestamps);
/* The line for a connection whose end was never reported (see
 * event_json__gone()). */
char *event_text__gone(char *p, const struct ts_event *id, int state, const struct clock_map *clk,
		       bool timestamps);
/* The whole line for e, prefix included. */
char *event_text__line(char *p, const struct ts_event *e, const struct clock_map *clk,
		       bool timestamps);

#endif /* EVENT_TEXT_H */

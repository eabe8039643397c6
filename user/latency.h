/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Close-path latency histograms: time spent in SYN_SENT (connect latency),
 * CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING and TIME_WAIT, and
 * from the final close() to the connection's end. Pure: fed records and
 * the connection they belong to. */
#ifndef LATENCY_H
#define LATENCY_H

#include "conn_table.h"
#include "hist.h"

enum latency_kind {
	LAT_SYN_SENT,
	LAT_CLOSE_WAIT,
	LAT_FIN_WAIT1,
	LAT_FIN_WAIT2,
	LAT_LAST_ACK,
	LAT_CLOSING,
	LAT_TIME_WAIT,
	LAT_CLOSE_TO_CLOSED,
	LAT__MAX,
};

struct latency {
	struct hist h[LAT__MAX];
};

/* Take one record; c is its connection as it was before the record (NULL
 * if not in the table). Only measured times are taken, never guessed ones. */
void latency__add(struct latency *l, const struct ts_event *e, const struct conn *c);
/* "CLOSE_WAIT", ..., "close_to_closed". */
const char *latency__name(enum latency_kind k);

#endif /* LATENCY_H */

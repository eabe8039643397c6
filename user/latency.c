// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "latency.h"

#include "tcp_names.h"

static const struct {
	int state;
	const char *name;
} kinds[LAT__MAX] = {
	[LAT_SYN_SENT] = { TS_TCP_SYN_SENT, "SYN_SENT" },
	[LAT_CLOSE_WAIT] = { TS_TCP_CLOSE_WAIT, "CLOSE_WAIT" },
	[LAT_FIN_WAIT1] = { TS_TCP_FIN_WAIT1, "FIN_WAIT1" },
	[LAT_FIN_WAIT2] = { TS_TCP_FIN_WAIT2, "FIN_WAIT2" },
	[LAT_LAST_ACK] = { TS_TCP_LAST_ACK, "LAST_ACK" },
	[LAT_CLOSING] = { TS_TCP_CLOSING, "CLOSING" },
	[LAT_TIME_WAIT] = { TS_TCP_TIME_WAIT, "TIME_WAIT" },
	[LAT_CLOSE_TO_CLOSED] = { -1, "close_to_closed" },
};

const char *latency__name(enum latency_kind k)
{
	return k < LAT__MAX ? kinds[k].name : "?";
}

/* The last close() that released the last reference, if the table kept it. */
static const struct conn_call *final_close(const struct conn *c)
{
	for (uint32_t i = conn__ncalls_kept(c); i-- > 0;) {
		const struct conn_call *k = conn__call(c, i);

		if (k->type == TS_EV_CLOSE && k->final)
			return k;
	}
	return NULL;
}

void latency__add(struct latency *l, const struct ts_event *e, const struct conn *c)
{
	if (e->type != TS_EV_STATE)
		return;
	if (e->flags & TS_EVF_PREV_KNOWN) {
		for (int k = 0; k < LAT_CLOSE_TO_CLOSED; k++) {
			if (kinds[k].state == e->oldstate) {
				hist__add(&l->h[k], e->prev_state_ns);
				break;
			}
		}
	}
	if (e->newstate == TS_TCP_CLOSE && c) {
		const struct conn_call *k = final_close(c);

		if (k && e->mono_ns >= k->mono_ns)
			hist__add(&l->h[LAT_CLOSE_TO_CLOSED], e->mono_ns - k->mono_ns);
	}
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A connection's lifecycle as told at its end: the states it went through
 * and how long it sat in each, its role, who closed first, how it ended,
 * and what the tracer may have missed. Pure: derived from a conn alone.
 * A duration is given only when both of its ends were seen (or the kernel
 * measured it); otherwise it is unknown, never guessed. */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include "conn_table.h"

enum conn_role {
	ROLE_UNKNOWN,
	ROLE_CLIENT,		/* connect() */
	ROLE_SERVER,		/* a listener's child */
	ROLE_LISTENER,
	ROLE__MAX,
};

enum conn_closed_by {
	CLOSED_BY_NONE,		/* not closing, or not known */
	CLOSED_BY_LOCAL,	/* this side sent the first FIN or reset, or gave up */
	CLOSED_BY_PEER,
	CLOSED_BY_SIMULTANEOUS,	/* FINs crossed (CLOSING) */
	CLOSED_BY__MAX,
};

enum conn_end {
	END_NONE,		/* not ended */
	END_GRACEFUL,		/* through TIME_WAIT, LAST_ACK or CLOSING; a listener closed */
	END_RESET_SENT,
	END_RESET_RECEIVED,
	END_TIMEOUT,		/* the stack gave up: retransmissions, FIN_WAIT timers */
	END_ABORT,		/* close() before any FIN was exchanged, no reset */
	END__MAX,
};

/* What a lifecycle may lack: any of these makes it incomplete. */
enum lifecycle_missing {
	LC_MISS_BIRTH = 1 << 0,		/* opened before tracing, or its start was not seen */
	LC_MISS_GAP = 1 << 1,		/* a transition between two seen ones is missing */
	LC_MISS_LOST = 1 << 2,		/* records were dropped (ring buffer full) while it lived */
	LC_MISS_EVICTED = 1 << 3,	/* dropped from the table to stay within its cap */
	LC_MISS_OPEN = 1 << 4,		/* still open when the run ended */
	LC_MISS_STEPS = 1 << 5,		/* more transitions than are kept */
	LC_MISS_GONE = 1 << 6,		/* its end was lost: the kernel no longer had it */
	LC_MISS__COUNT = 7,
};

/* A stay in one state. */
struct lc_visit {
	int state;
	bool enter_known, dur_known;
	uint64_t enter_ns, dur_ns;
};

#define LC_VISITS_MAX (2 * CONN_STEPS_MAX + 1)

struct lifecycle {
	const struct conn *c;
	enum conn_role role;
	enum conn_closed_by closed_by;
	enum conn_end end;
	unsigned int missing;		/* enum lifecycle_missing bits */
	bool complete;			/* seen whole, from birth to CLOSE */
	bool start_known, end_known;
	uint64_t start_ns, end_ns;
	int nvisits;
	struct lc_visit visits[LC_VISITS_MAX];
};

void lifecycle__derive(struct lifecycle *l, const struct conn *c, enum conn_exit why);

const char *conn_role__name(enum conn_role r);		/* "client", ... */
const char *conn_closed_by__name(enum conn_closed_by b);	/* NULL for NONE */
const char *conn_end__name(enum conn_end e);		/* NULL for END_NONE */
/* "birth", "gap", "lost", "evicted", "open", "steps", "gone": bit i of missing. */
const char *lifecycle_missing__name(int bit);

/* Counts of ended (or at exit, unfinished) lifecycles, for the summary. */
struct lifecycle_stats {
	uint64_t total;
	uint64_t incomplete;
	uint64_t by_role[ROLE__MAX];
	uint64_t by_end[END__MAX];	/* END_NONE: still open at exit, or evicted */
	uint64_t by_missing[LC_MISS__COUNT];
};

void lifecycle_stats__add(struct lifecycle_stats *s, const struct lifecycle *l);

#endif /* LIFECYCLE_H */

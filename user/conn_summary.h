/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The connections at a glance, for the summary (at exit and every -i):
 * how the ended ones went, how many are open in each state, and who owns
 * the most CLOSE_WAIT sockets. Pure: from the table and the lifecycle
 * counts. */
#ifndef CONN_SUMMARY_H
#define CONN_SUMMARY_H

#include <stdint.h>
#include "conn_table.h"
#include "lifecycle.h"
#include "tcp_names.h"

#define CONN_SUMMARY_OWNERS 5

struct owner_count {
	uint32_t pid;		/* 0: owner not known */
	char comm[TS_COMM_LEN];
	uint64_t count;
};

struct conn_summary {
	uint64_t seen;			/* connections ever in the table */
	uint64_t open;			/* in it now, not closed */
	uint64_t evictions;
	struct lifecycle_stats ended;	/* those that left the table */
	uint64_t by_state[TS_TCP_MAX_STATES];	/* open ones, by current state */
	int nowners;
	struct owner_count owners[CONN_SUMMARY_OWNERS];	/* most CLOSE_WAIT first */
};

/* 0, or -ENOMEM (then the owners are left out). */
int conn_summary__build(struct conn_summary *s, const struct conn_table *t,
			const struct lifecycle_stats *ended);

#endif /* CONN_SUMMARY_H */

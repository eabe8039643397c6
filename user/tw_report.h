/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TIME_WAIT accounting: how many connections sit in TIME_WAIT now, by local
 * address and by remote address:port, and for each destination the share
 * of the ephemeral port range it holds (the port-exhaustion risk). Pure:
 * computed from the connection table. */
#ifndef TW_REPORT_H
#define TW_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "conn_table.h"

struct tw_group {
	uint16_t family;
	uint8_t addr[16];
	uint16_t port;		/* by_remote only */
	uint32_t count;
	uint32_t ephemeral;	/* by_remote: of those, local ports in the ephemeral range */
};

struct tw_report {
	uint32_t total;
	uint32_t range_lo, range_hi;	/* ip_local_port_range */
	struct tw_group *by_local, *by_remote;	/* most first */
	size_t nlocal, nremote;
};

/* Groups by key, counted up and down as connections enter and leave
 * TIME_WAIT: what a walk of the table would find, without the walk. */
struct tw_tally {
	struct tw_group *g;
	size_t n, cap;
	uint32_t *slot;		/* index + 1 into g; 0: free */
	size_t nslots;		/* a power of two, at least twice n */
	size_t nempty;		/* groups whose count fell back to 0 */
};

/* k's count and ephemeral added to its group (sign > 0) or taken from it;
 * taking from a group not there, or below 0, is ignored. 0 or -ENOMEM. */
int tw_tally__add(struct tw_tally *t, const struct tw_group *k, int sign);
/* The groups with a count, most first, copied: *out malloc'd (NULL if
 * none), *n of them. 0 or -ENOMEM. */
int tw_tally__sorted(const struct tw_tally *t, struct tw_group **out, size_t *n);
void tw_tally__free(struct tw_tally *t);
/* A connection's keys: by local address, and by remote address and port
 * (ephemeral: its local port is in range_lo..range_hi). */
void tw_report__keys(const struct conn *c, uint32_t range_lo, uint32_t range_hi,
		     struct tw_group *local, struct tw_group *remote);
/* The remote key alone. */
void tw_report__remote_key(const struct conn *c, uint32_t range_lo, uint32_t range_hi,
			   struct tw_group *remote);

/* Build the report; range_lo/range_hi from ip_local_port_range. 0 or -ENOMEM. */
int tw_report__build(struct tw_report *r, const struct conn_table *t, uint32_t range_lo,
		     uint32_t range_hi);
void tw_report__free(struct tw_report *r);
/* The ephemeral port range of this network namespace; 0, or -errno. */
int tw_report__port_range(uint32_t *lo, uint32_t *hi);

#endif /* TW_REPORT_H */

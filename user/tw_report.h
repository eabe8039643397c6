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

/* Build the report; range_lo/range_hi from ip_local_port_range. 0 or -ENOMEM. */
int tw_report__build(struct tw_report *r, const struct conn_table *t, uint32_t range_lo,
		     uint32_t range_hi);
void tw_report__free(struct tw_report *r);
/* The ephemeral port range of this network namespace; 0, or -errno. */
int tw_report__port_range(uint32_t *lo, uint32_t *hi);

#endif /* TW_REPORT_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tw_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_names.h"

static int by_key(const void *a, const void *b)
{
	const struct tw_group *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (c)
		return c;
	return (x->port > y->port) - (x->port < y->port);
}

static int by_count(const void *a, const void *b)
{
	const struct tw_group *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return by_key(a, b);
}

/* Sort by key, fold equal keys into one group, then sort by count. */
static size_t fold(struct tw_group *g, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(g, n, sizeof(*g), by_key);
	for (size_t i = 1; i < n; i++) {
		if (by_key(&g[out], &g[i]) == 0) {
			g[out].count += g[i].count;
			g[out].ephemeral += g[i].ephemeral;
		} else {
			g[++out] = g[i];
		}
	}
	out++;
	qsort(g, out, sizeof(*g), by_count);
	return out;
}

int tw_report__build(struct tw_report *r, const struct conn_table *t, uint32_t range_lo,
		     uint32_t range_hi)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->range_lo = range_lo;
	r->range_hi = range_hi;
	conn_table__for_each_open(t, c)
		n += c->state == TS_TCP_TIME_WAIT;
	r->total = (uint32_t)n;
	if (!n)
		return 0;
	r->by_local = calloc(n, sizeof(*r->by_local));
	r->by_remote = calloc(n, sizeof(*r->by_remote));
	if (!r->by_local || !r->by_remote) {
		tw_report__free(r);
		return -ENOMEM;
	}
	n = 0;
	conn_table__for_each_open(t, c) {
		const struct ts_event *id = &c->ident;

		if (c->state != TS_TCP_TIME_WAIT)
			continue;
		r->by_local[n].family = id->family;
		memcpy(r->by_local[n].addr, id->saddr, sizeof(id->saddr));
		r->by_local[n].count = 1;
		r->by_remote[n].family = id->family;
		memcpy(r->by_remote[n].addr, id->daddr, sizeof(id->daddr));
		r->by_remote[n].port = id->dport;
		r->by_remote[n].count = 1;
		r->by_remote[n].ephemeral = id->sport >= range_lo && id->sport <= range_hi;
		n++;
	}
	r->nlocal = fold(r->by_local, n);
	r->nremote = fold(r->by_remote, n);
	return 0;
}

void tw_report__free(struct tw_report *r)
{
	free(r->by_local);
	free(r->by_remote);
	memset(r, 0, sizeof(*r));
}

int tw_report__port_range(uint32_t *lo, uint32_t *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%u %u", lo, hi) == 2;
	fclose(f);
	return ok && *lo <= *hi ? 0 : -EINVAL;
}

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

/* Groups by key in an open-addressing hash over their array: one pass over
 * the table, whatever the number of connections (a host in trouble holds
 * tens of thousands in TIME_WAIT, towards a few destinations). */
struct fold {
	struct tw_group *g;
	size_t n, cap;
	uint32_t *slot;		/* index + 1 into g; 0: free */
	size_t nslots;		/* a power of two, at least twice n */
};

static uint64_t key_hash(const struct tw_group *k)
{
	uint64_t w[2], h;

	memcpy(w, k->addr, sizeof(w));
	h = w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)k->port << 16 | k->family);
	/* Every bit into the low ones the table indexes by (fmix64). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static int fold_grow(struct fold *f)
{
	size_t ns = f->nslots ? f->nslots * 2 : 64;
	struct tw_group *g = realloc(f->g, ns / 2 * sizeof(*g));
	uint32_t *slot = calloc(ns, sizeof(*slot));

	if (g)
		f->g = g;
	if (!g || !slot) {
		free(slot);
		return -ENOMEM;
	}
	f->cap = ns / 2;
	free(f->slot);
	f->slot = slot;
	f->nslots = ns;
	for (size_t i = 0; i < f->n; i++) {
		size_t j = key_hash(&g[i]) & (ns - 1);

		while (slot[j])
			j = (j + 1) & (ns - 1);
		slot[j] = (uint32_t)i + 1;
	}
	return 0;
}

/* One connection's k into its group. */
static int fold_add(struct fold *f, const struct tw_group *k)
{
	size_t j;

	if (f->n + 1 > f->cap && fold_grow(f))
		return -ENOMEM;
	for (j = key_hash(k) & (f->nslots - 1); f->slot[j]; j = (j + 1) & (f->nslots - 1)) {
		struct tw_group *g = &f->g[f->slot[j] - 1];

		if (by_key(g, k) == 0) {
			g->count += k->count;
			g->ephemeral += k->ephemeral;
			return 0;
		}
	}
	f->g[f->n] = *k;
	f->slot[j] = (uint32_t)++f->n;
	return 0;
}

/* The groups, most first; the hash goes. */
static struct tw_group *fold_done(struct fold *f, size_t *n)
{
	free(f->slot);
	if (f->n)
		qsort(f->g, f->n, sizeof(*f->g), by_count);
	*n = f->n;
	return f->g;
}

int tw_report__build(struct tw_report *r, const struct conn_table *t, uint32_t range_lo,
		     uint32_t range_hi)
{
	struct fold local = { 0 }, remote = { 0 };
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->range_lo = range_lo;
	r->range_hi = range_hi;
	conn_table__for_each_open(t, c) {
		const struct ts_event *id = &c->ident;
		struct tw_group l = { .family = id->family, .count = 1 };
		struct tw_group m = { .family = id->family, .port = id->dport, .count = 1,
				      .ephemeral = id->sport >= range_lo && id->sport <= range_hi };

		if (c->state != TS_TCP_TIME_WAIT)
			continue;
		memcpy(l.addr, id->saddr, sizeof(l.addr));
		memcpy(m.addr, id->daddr, sizeof(m.addr));
		r->total++;
		if ((err = fold_add(&local, &l)) || (err = fold_add(&remote, &m)))
			break;
	}
	r->by_local = fold_done(&local, &r->nlocal);
	r->by_remote = fold_done(&remote, &r->nremote);
	if (err)
		tw_report__free(r);
	return err;
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

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

/* Groups by key in an open-addressing hash over their array: counting needs
 * no walk of the table, whatever the number of connections (a host in
 * trouble holds tens of thousands in TIME_WAIT, towards a few destinations). */
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

/* The slots for the groups kept, into nslots; groups with no count are
 * dropped when drop_empty. */
static int rehash(struct tw_tally *t, size_t nslots, bool drop_empty)
{
	uint32_t *slot = calloc(nslots, sizeof(*slot));
	size_t n = 0;

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = key_hash(&t->g[i]) & (nslots - 1);

		if (drop_empty && !t->g[i].count)
			continue;
		t->g[n] = t->g[i];
		while (slot[j])
			j = (j + 1) & (nslots - 1);
		slot[j] = (uint32_t)++n;
	}
	free(t->slot);
	t->slot = slot;
	t->nslots = nslots;
	t->n = n;
	if (drop_empty)
		t->nempty = 0;
	return 0;
}

static int grow(struct tw_tally *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 64;
	struct tw_group *g = realloc(t->g, ns / 2 * sizeof(*g));

	if (!g)
		return -ENOMEM;
	t->g = g;
	t->cap = ns / 2;
	return rehash(t, ns, false);
}

static struct tw_group *find(const struct tw_tally *t, const struct tw_group *k, size_t *at)
{
	size_t j;

	for (j = key_hash(k) & (t->nslots - 1); t->slot[j]; j = (j + 1) & (t->nslots - 1)) {
		struct tw_group *g = &t->g[t->slot[j] - 1];

		if (by_key(g, k) == 0)
			return g;
	}
	*at = j;
	return NULL;
}

static void take(struct tw_tally *t, struct tw_group *g, const struct tw_group *k)
{
	if (g->count < k->count)
		return;
	g->count -= k->count;
	g->ephemeral -= g->ephemeral < k->ephemeral ? g->ephemeral : k->ephemeral;
	/* Destinations come and go: the empty ones go once they are half. */
	if (!g->count && ++t->nempty * 2 > t->n && t->n >= 64)
		rehash(t, t->nslots, true);
}

int tw_tally__add(struct tw_tally *t, const struct tw_group *k, int sign)
{
	struct tw_group *g;
	size_t at = 0;

	if (sign < 0) {
		if (t->nslots && (g = find(t, k, &at)))
			take(t, g, k);
		return 0;
	}
	if (t->n + 1 > t->cap && grow(t))
		return -ENOMEM;
	g = find(t, k, &at);
	if (g) {
		t->nempty -= !g->count;
		g->count += k->count;
		g->ephemeral += k->ephemeral;
		return 0;
	}
	t->g[t->n] = *k;
	t->slot[at] = (uint32_t)++t->n;
	return 0;
}

int tw_tally__sorted(const struct tw_tally *t, struct tw_group **out, size_t *n)
{
	struct tw_group *v = t->n ? malloc(t->n * sizeof(*v)) : NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (t->n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		if (t->g[i].count)
			v[k++] = t->g[i];
	if (k)
		qsort(v, k, sizeof(*v), by_count);
	*out = v;
	*n = k;
	return 0;
}

void tw_tally__free(struct tw_tally *t)
{
	free(t->g);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

void tw_report__remote_key(const struct conn *c, uint32_t range_lo, uint32_t range_hi,
			   struct tw_group *remote)
{
	const struct ts_event *id = &c->ident;

	memset(remote, 0, sizeof(*remote));
	remote->family = id->family;
	remote->count = 1;
	memcpy(remote->addr, id->daddr, sizeof(remote->addr));
	remote->port = id->dport;
	remote->ephemeral = id->sport >= range_lo && id->sport <= range_hi;
}

void tw_report__keys(const struct conn *c, uint32_t range_lo, uint32_t range_hi,
		     struct tw_group *local, struct tw_group *remote)
{
	memset(local, 0, sizeof(*local));
	local->family = c->ident.family;
	local->count = 1;
	memcpy(local->addr, c->ident.saddr, sizeof(local->addr));
	tw_report__remote_key(c, range_lo, range_hi, remote);
}

int tw_report__build(struct tw_report *r, const struct conn_table *t, uint32_t range_lo,
		     uint32_t range_hi)
{
	struct tw_tally local = { 0 }, remote = { 0 };
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->range_lo = range_lo;
	r->range_hi = range_hi;
	conn_table__for_each_open(t, c) {
		struct tw_group l, m;

		if (c->state != TS_TCP_TIME_WAIT)
			continue;
		tw_report__keys(c, range_lo, range_hi, &l, &m);
		r->total++;
		if ((err = tw_tally__add(&local, &l, 1)) || (err = tw_tally__add(&remote, &m, 1)))
			break;
	}
	if (!err)
		err = tw_tally__sorted(&local, &r->by_local, &r->nlocal);
	if (!err)
		err = tw_tally__sorted(&remote, &r->by_remote, &r->nremote);
	tw_tally__free(&local);
	tw_tally__free(&remote);
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

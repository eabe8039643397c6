// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "latency.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_names.h"

/* Fixed places in groups[]; names follow from 2. */
#define GROUP_UNKNOWN 0
#define GROUP_OTHER 1

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

int latency__init(struct latency *l, enum latency_by by)
{
	memset(l, 0, sizeof(*l));
	l->by = by;
	if (by == LATENCY_BY_NONE)
		return 0;
	/* ~3 MiB, but calloc'd pages are only backed once a group uses them. */
	l->groups = calloc(LATENCY_GROUPS_ALL, sizeof(*l->groups));
	if (!l->groups)
		return -ENOMEM;
	l->groups[GROUP_UNKNOWN].kind = LAT_GROUP_UNKNOWN;
	l->groups[GROUP_OTHER].kind = LAT_GROUP_OTHER;
	l->ngroups = 2;
	return 0;
}

void latency__free(struct latency *l)
{
	free(l->groups);
	memset(l, 0, sizeof(*l));
}

void latency__set_key(struct latency *l, unsigned key, latency_container_fn container_of,
		      void *ctx)
{
	l->key = key;
	l->container_of = container_of;
	l->container_ctx = ctx;
	for (uint32_t g = 0; l->groups && g < l->ngroups; g++)
		l->groups[g].key = key;
}

const struct ts_event *latency__owner(const struct ts_event *e, const struct conn *c)
{
	if (e->owner_src != TS_OWNER_NONE && e->pid)
		return e;
	if (c && c->ident.owner_src != TS_OWNER_NONE && c->ident.pid)
		return &c->ident;
	return NULL;
}

const char *latency__owner_comm(const struct ts_event *e, const struct conn *c)
{
	const struct ts_event *o = latency__owner(e, c);

	return o ? o->comm : NULL;
}

/* comm NUL-padded: two words; a container, when there is one, mixed in. */
static uint64_t key_hash(const char comm[TS_COMM_LEN], const char *container)
{
	uint64_t k[2], h;

	memcpy(k, comm, sizeof(k));
	h = k[0] ^ (k[1] * 0x9e3779b97f4a7c15ULL);
	for (size_t i = 0; i < CGROUP_CONTAINER_MAX && container[i]; i++)
		h = (h ^ (unsigned char)container[i]) * 0x100000001b3ULL;
	return h * 0xff51afd7ed558ccdULL;
}

static uint32_t slot_of(const struct latency_group *g)
{
	return (uint32_t)(key_hash(g->comm, g->container) >> 32) & (LATENCY_SLOTS - 1);
}

/* A place in groups[] for a new name: an expired group's, else the next
 * one; 0 when there is none. */
static uint32_t new_place(struct latency *l)
{
	for (uint32_t g = GROUP_OTHER + 1; g < l->ngroups; g++)
		if (l->groups[g].kind == LAT_GROUP_FREE)
			return g;
	return l->ngroups < LATENCY_GROUPS_ALL ? l->ngroups++ : 0;
}

/* The group of a comm and container (NULL: none), both NUL-padded here. */
static struct latency_group *group_by(struct latency *l, const char comm[TS_COMM_LEN],
				      const char container[CGROUP_CONTAINER_MAX])
{
	uint32_t i = (uint32_t)(key_hash(comm, container) >> 32) & (LATENCY_SLOTS - 1), p;
	struct latency_group *g;

	for (; l->slots[i]; i = (i + 1) & (LATENCY_SLOTS - 1)) {
		g = &l->groups[l->slots[i]];
		if (memcmp(g->comm, comm, TS_COMM_LEN) == 0 &&
		    memcmp(g->container, container, CGROUP_CONTAINER_MAX) == 0) {
			g->used_ns = l->now_ns;
			return g;
		}
	}
	p = new_place(l);
	g = &l->groups[p ? p : GROUP_OTHER];
	g->used_ns = l->now_ns;
	if (!p)
		return g;
	l->slots[i] = (uint16_t)p;
	memcpy(g->comm, comm, TS_COMM_LEN);
	memcpy(g->container, container, CGROUP_CONTAINER_MAX);
	g->key = l->key;
	g->kind = LAT_GROUP_COMM;
	return g;
}

/* The name slots anew, after groups left: linear probing has no holes. */
static void slots_rebuild(struct latency *l)
{
	memset(l->slots, 0, sizeof(l->slots));
	for (uint32_t g = GROUP_OTHER + 1; g < l->ngroups; g++) {
		uint32_t i;

		if (l->groups[g].kind != LAT_GROUP_COMM)
			continue;
		for (i = slot_of(&l->groups[g]); l->slots[i]; i = (i + 1) & (LATENCY_SLOTS - 1))
			;
		l->slots[i] = (uint16_t)g;
	}
}

size_t latency__expire(struct latency *l, uint64_t idle_ns, latency_expired_fn expired, void *ctx)
{
	size_t n = 0;

	for (uint32_t g = GROUP_OTHER + 1; l->groups && g < l->ngroups; g++) {
		struct latency_group *x = &l->groups[g];

		if (x->kind != LAT_GROUP_COMM || l->now_ns < idle_ns ||
		    x->used_ns >= l->now_ns - idle_ns)
			continue;
		if (expired)
			expired(ctx, g);
		memset(x, 0, sizeof(*x));
		x->kind = LAT_GROUP_FREE;
		n++;
	}
	if (n)
		slots_rebuild(l);
	return n;
}

struct latency_group *latency__group(struct latency *l, const char *comm)
{
	char c[TS_COMM_LEN] = { 0 }, none[CGROUP_CONTAINER_MAX] = { 0 };

	if (!l->groups)
		return NULL;
	if (!comm)
		return &l->groups[GROUP_UNKNOWN];
	/* Only the bytes up to the NUL: whatever follows it is not the name. */
	memcpy(c, comm, strnlen(comm, TS_COMM_LEN));
	return group_by(l, c, none);
}

struct latency_group *latency__group_of(struct latency *l, const struct ts_event *owner)
{
	char c[TS_COMM_LEN] = { 0 }, k[CGROUP_CONTAINER_MAX] = { 0 };
	const char *cont;

	if (!l->groups)
		return NULL;
	if (!owner)
		return &l->groups[GROUP_UNKNOWN];
	if (!l->key || (l->key & LATENCY_KEY_COMM))
		memcpy(c, owner->comm, strnlen(owner->comm, TS_COMM_LEN));
	if ((l->key & LATENCY_KEY_CONTAINER) && l->container_of &&
	    (cont = l->container_of(l->container_ctx, owner->cgroup_id)))
		memcpy(k, cont, strnlen(cont, sizeof(k) - 1));
	return group_by(l, c, k);
}

/* Where a record's samples go: its owner's group, or the one set. */
static struct hist *hists_of(struct latency *l, const struct ts_event *e, const struct conn *c)
{
	if (l->by == LATENCY_BY_NONE || !l->groups)
		return l->h;
	return latency__group_of(l, latency__owner(e, c))->h;
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
	struct hist *h = NULL;

	if (e->type != TS_EV_STATE)
		return;
	if (e->flags & TS_EVF_PREV_KNOWN) {
		for (int k = 0; k < LAT_CLOSE_TO_CLOSED; k++) {
			if (kinds[k].state == e->oldstate) {
				h = hists_of(l, e, c);
				hist__add(&h[k], e->prev_state_ns);
				break;
			}
		}
	}
	if (e->newstate == TS_TCP_CLOSE && c) {
		const struct conn_call *k = final_close(c);

		if (k && e->mono_ns >= k->mono_ns) {
			if (!h)
				h = hists_of(l, e, c);
			hist__add(&h[LAT_CLOSE_TO_CLOSED], e->mono_ns - k->mono_ns);
		}
	}
}

uint64_t latency__group_samples(const struct latency_group *g)
{
	uint64_t n = 0;

	for (int k = 0; k < LAT__MAX; k++)
		n += g->h[k].count;
	return n;
}

uint64_t latency__samples(const struct latency *l)
{
	uint64_t n = 0;

	for (int k = 0; k < LAT__MAX; k++)
		n += l->h[k].count;
	for (uint32_t g = 0; l->groups && g < l->ngroups; g++)
		n += latency__group_samples(&l->groups[g]);
	return n;
}

/* Largest first, ties by name (the unknown owner after names), [other] last. */
static int group_cmp(const void *a, const void *b)
{
	const struct latency_group *x = *(const struct latency_group *const *)a;
	const struct latency_group *y = *(const struct latency_group *const *)b;
	uint64_t nx = latency__group_samples(x), ny = latency__group_samples(y);

	if ((x->kind == LAT_GROUP_OTHER) != (y->kind == LAT_GROUP_OTHER))
		return x->kind == LAT_GROUP_OTHER ? 1 : -1;
	if (nx != ny)
		return nx > ny ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (memcmp(x->comm, y->comm, TS_COMM_LEN))
		return memcmp(x->comm, y->comm, TS_COMM_LEN);
	return memcmp(x->container, y->container, CGROUP_CONTAINER_MAX);
}

size_t latency__groups(const struct latency *l,
		       const struct latency_group *out[LATENCY_GROUPS_ALL])
{
	size_t n = 0;

	for (uint32_t g = 0; l->groups && g < l->ngroups && g < LATENCY_GROUPS_ALL; g++)
		if (latency__group_samples(&l->groups[g]))
			out[n++] = &l->groups[g];
	qsort(out, n, sizeof(*out), group_cmp);
	return n;
}

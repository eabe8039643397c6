// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sock_key.h"
#include "tcp_names.h"

#define WIRE_MIN_SLOTS 1024

int wire_decoder__init(struct wire_decoder *d, size_t cap)
{
	size_t n = WIRE_MIN_SLOTS;

	memset(d, 0, sizeof(*d));
	d->slots = calloc(n, sizeof(*d->slots));
	if (!d->slots)
		return -ENOMEM;
	d->mask = n - 1;
	d->cap = cap;
	return 0;
}

void wire_decoder__free(struct wire_decoder *d)
{
	free(d->slots);
	d->slots = NULL;
}

/* Cookies are a counter: a multiplicative hash spreads them. */
static size_t home(const struct wire_decoder *d, uint64_t cookie)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> 29) & d->mask;
}

static struct wire_sock *find(struct wire_decoder *d, uint64_t cookie)
{
	for (size_t i = home(d, cookie);; i = (i + 1) & d->mask) {
		struct wire_sock *s = &d->slots[i];

		if (s->cookie == cookie)
			return s;
		if (!s->cookie)
			return NULL;
	}
}

/* Linear probing's deletion: pull back the entries after it whose home
 * does not lie between the hole and them, so that no probe stops early. */
static void erase(struct wire_decoder *d, struct wire_sock *s)
{
	size_t hole = (size_t)(s - d->slots);

	for (size_t i = (hole + 1) & d->mask; d->slots[i].cookie; i = (i + 1) & d->mask) {
		size_t h = home(d, d->slots[i].cookie);

		if (((i - h) & d->mask) >= ((i - hole) & d->mask)) {
			d->slots[hole] = d->slots[i];
			hole = i;
		}
	}
	memset(&d->slots[hole], 0, sizeof(d->slots[hole]));
	d->count--;
}

static struct wire_sock *place(struct wire_decoder *d, uint64_t cookie)
{
	size_t i = home(d, cookie);

	while (d->slots[i].cookie)
		i = (i + 1) & d->mask;
	d->slots[i].cookie = cookie;
	d->count++;
	return &d->slots[i];
}

/* The oldest quarter's newest time, from a sample. */
static uint64_t oldest_quarter(const struct wire_decoder *d)
{
	uint64_t sample[64], cut = 0;
	size_t n = 0, slots = d->mask + 1, step = slots / 64;

	for (size_t i = 0; i < slots && n < 64; i += step ? step : 1)
		for (size_t k = i; k < slots; k++)
			if (d->slots[k].cookie) {
				sample[n++] = d->slots[k].last_ns;
				break;
			}
	for (size_t k = 0; k < n; k++) {
		size_t below = 0;

		for (size_t m = 0; m < n; m++)
			below += sample[m] < sample[k];
		if (below <= n / 4 && sample[k] > cut)
			cut = sample[k];
	}
	return cut;
}

/* Into a table of nslots, leaving out the sockets last heard from at or
 * before cut (0: none). Memory short: the old table stays. */
static void rehash(struct wire_decoder *d, size_t nslots, uint64_t cut)
{
	struct wire_sock *old = d->slots;
	size_t oldn = d->mask + 1;

	d->slots = calloc(nslots, sizeof(*d->slots));
	if (!d->slots) {
		d->slots = old;
		return;
	}
	d->mask = nslots - 1;
	d->count = 0;
	for (size_t k = 0; k < oldn; k++) {
		if (!old[k].cookie)
			continue;
		if (cut && old[k].last_ns <= cut) {
			d->pruned++;
			continue;
		}
		*place(d, old[k].cookie) = old[k];
	}
	free(old);
}

static struct wire_sock *insert(struct wire_decoder *d, uint64_t cookie)
{
	size_t slots = d->mask + 1;

	/* Full: forget the quarter of the sockets heard from longest ago
	 * (their last records were lost, most likely). */
	if (d->count >= d->cap)
		rehash(d, slots, oldest_quarter(d));
	else if (2 * (d->count + 1) > slots)
		rehash(d, 2 * slots, 0);
	if (d->count >= d->cap || 2 * (d->count + 1) > d->mask + 1)
		return NULL;
	return place(d, cookie);
}

/* Record sizes by the parts they carry. */
static size_t wire_size(uint8_t wflags)
{
	if (wflags & TS_WF_IDENT)
		return sizeof(struct ts_wire_full);
	if (wflags & TS_WF_OWNER)
		return sizeof(struct ts_wire_owned);
	return sizeof(struct ts_wire);
}

static bool wire_valid(const struct ts_wire *w, size_t len)
{
	if (len < sizeof(*w) || (w->wflags & ~(TS_WF_OWNER | TS_WF_IDENT)))
		return false;
	if ((w->wflags & TS_WF_IDENT) && !(w->wflags & TS_WF_OWNER))
		return false;
	return len >= wire_size(w->wflags) && w->type >= TS_EV_STATE && w->type <= TS_EV__MAX;
}

static void head_to_event(const struct ts_wire *w, struct ts_event *e)
{
	memset(e, 0, sizeof(*e));
	e->mono_ns = w->mono_ns;
	e->cookie = w->cookie;
	e->type = w->type;
	e->flags = w->flags;
	e->oldstate = w->oldstate;
	e->newstate = w->newstate;
	e->drop_gen = w->drop_gen;
	e->tw_substate = w->tw_substate;
	e->tw_reason = w->tw_reason;
	e->fd = -1;
	switch (w->type) {
	case TS_EV_STATE:
		e->prev_state_ns = w->prev_state_ns;
		break;
	case TS_EV_CLOSE:
		e->fd = w->fd;
		e->refs = w->refs;
		e->final = w->final;
		e->via = w->arg;
		break;
	case TS_EV_SHUTDOWN:
		e->fd = w->fd;
		e->refs = w->refs;
		e->how = w->arg;
		break;
	case TS_EV_ACCEPT:
		e->fd = w->fd;
		break;
	case TS_EV_RESET:
		e->reset_dir = w->arg;
		break;
	}
}

static void ident_to_event(const struct ts_wire_ident *id, struct ts_event *e)
{
	e->skaddr = id->skaddr;
	e->ino = id->ino;
	e->netns = id->netns;
	e->family = id->family;
	e->sport = id->sport;
	e->dport = id->dport;
	memcpy(e->saddr, id->saddr, sizeof(e->saddr));
	memcpy(e->daddr, id->daddr, sizeof(e->daddr));
}

/* The kernel reports a port or inode once it is assigned: 0 keeps the old. */
static void ident_keep(struct wire_sock *s, const struct ts_wire_ident *id)
{
	uint64_t ino = s->id.ino;
	uint16_t sport = s->id.sport;

	s->id = *id;
	if (!id->ino)
		s->id.ino = ino;
	if (!id->sport)
		s->id.sport = sport;
}

static void owner_to_event(uint32_t pid, uint8_t src, const char *comm, struct ts_event *e)
{
	e->pid = pid;
	e->owner_src = pid ? src : TS_OWNER_NONE;
	memcpy(e->comm, comm, sizeof(e->comm));
}

/* Close and shutdown carry their caller, who need not be the owner; a
 * reset's owner part is empty where the kernel could not reach it. */
static void take_owner(struct wire_sock *s, const struct ts_wire *w,
		       const struct ts_wire_owner *o, struct ts_event *e)
{
	bool caller = w->type == TS_EV_CLOSE || w->type == TS_EV_SHUTDOWN;

	if (o && (caller || o->pid)) {
		owner_to_event(o->pid, o->owner_src, o->comm, e);
		if (s && !caller) {
			s->pid = o->pid;
			s->owner_src = e->owner_src;
			memcpy(s->comm, o->comm, sizeof(s->comm));
		}
	} else if (s) {
		owner_to_event(s->pid, s->owner_src, s->comm, e);
	} else if (o) {
		owner_to_event(0, TS_OWNER_NONE, o->comm, e);
	}
}

/* A socket not yet in CLOSE is added by any record with its identity (the
 * kernel counts on it from then on); one in CLOSE is not: nothing would
 * ever remove it. */
static bool starts_sock(const struct ts_wire *w)
{
	return w->type != TS_EV_TW_REARM && w->newstate != TS_TCP_CLOSE;
}

bool wire_decoder__decode(struct wire_decoder *d, const void *data, size_t len,
			  struct ts_event *e)
{
	const struct ts_wire *w = data;
	const struct ts_wire_owner *o = NULL;
	const struct ts_wire_ident *id = NULL;
	struct wire_sock *s;

	if (!wire_valid(w, len)) {
		d->malformed++;
		return false;
	}
	if (w->wflags & TS_WF_OWNER)
		o = &((const struct ts_wire_owned *)data)->o;
	if (w->wflags & TS_WF_IDENT)
		id = &((const struct ts_wire_full *)data)->id;
	head_to_event(w, e);
	s = w->cookie ? find(d, w->cookie) : NULL;
	if (id) {
		if (!s && w->cookie && starts_sock(w))
			s = insert(d, w->cookie);
		if (s)
			ident_keep(s, id);
		ident_to_event(id, e);
	} else if (s) {
		ident_to_event(&s->id, e);
	} else if (w->type != TS_EV_TW_REARM) {
		d->unidentified++;
	}
	take_owner(s, w, o, e);
	if (s)
		s->last_ns = w->mono_ns;
	if (s && w->type == TS_EV_STATE && e->newstate == TS_TCP_CLOSE)
		erase(d, s);
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

long wire_decoder__forget_gone(struct wire_decoder *d, const uint64_t *alive, size_t nalive,
			       uint64_t checked_ns)
{
	size_t n = 0, slots = d->mask + 1;
	uint64_t *gone = malloc(d->count * sizeof(*gone) + 1);

	if (!gone)
		return -ENOMEM;
	/* Collected first: an erase pulls later entries back over the scan. */
	for (size_t i = 0; i < slots; i++) {
		const struct wire_sock *s = &d->slots[i];

		uint64_t key;

		if (!s->cookie || s->last_ns >= checked_ns)
			continue;
		key = s->cookie & TS_SYNTH_COOKIE_BIT ?
			sock_key__tuple(s->id.netns, s->id.family, s->id.saddr, s->id.sport,
					s->id.daddr, s->id.dport) : s->cookie;
		if (!nalive || !bsearch(&key, alive, nalive, sizeof(*alive), cmp_u64))
			gone[n++] = s->cookie;
	}
	for (size_t k = 0; k < n; k++)
		erase(d, find(d, gone[k]));
	free(gone);
	return (long)n;
}

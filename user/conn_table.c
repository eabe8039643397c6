// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "conn_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sock_key.h"
#include "tcp_names.h"
#include "u64_set.h"

static void list_init(struct conn *head, bool cw)
{
	if (cw)
		head->cw_prev = head->cw_next = head;
	else
		head->lru_prev = head->lru_next = head;
}

static void lru_unlink(struct conn *c)
{
	c->lru_prev->lru_next = c->lru_next;
	c->lru_next->lru_prev = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void list_append(struct conn *head, struct conn *c)
{
	c->lru_prev = head->lru_prev;
	c->lru_next = head;
	head->lru_prev->lru_next = c;
	head->lru_prev = c;
}

static void cw_unlink(struct conn *c)
{
	if (!c->cw_next)
		return;
	c->cw_prev->cw_next = c->cw_next;
	c->cw_next->cw_prev = c->cw_prev;
	c->cw_prev = c->cw_next = NULL;
}

static void cw_append(struct conn *head, struct conn *c)
{
	c->cw_prev = head->cw_prev;
	c->cw_next = head;
	head->cw_prev->cw_next = c;
	head->cw_prev = c;
}

/* A watcher hears of open connections only. */
static void watch(const struct conn_table *t, const struct conn *c, bool enter)
{
	if (t->watch && !c->closed)
		t->watch(t->watch_ctx, c, enter);
}

/* The hash is open addressing with linear probing over {cookie, conn}
 * slots, at most half full: a lookup reads one or two adjacent slots and
 * touches no connection but the one it finds (a chain walk missed the
 * cache once per connection on it). Cookie 0 marks an empty slot; records
 * with cookie 0 never get here. */
static size_t slot_of(const struct conn_table *t, uint64_t cookie)
{
	/* Fibonacci hashing: cookies are sequential, the top bits of the
	 * product spread them. */
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> (64 - t->slot_bits));
}

static int slots_alloc(struct conn_table *t, unsigned bits)
{
	struct conn_slot *s = calloc((size_t)1 << bits, sizeof(*s));

	if (!s)
		return -ENOMEM;
	t->slots = s;
	t->slot_bits = bits;
	t->nslots = (size_t)1 << bits;
	return 0;
}

static void slot_put(struct conn_table *t, struct conn *c)
{
	size_t mask = t->nslots - 1, i = slot_of(t, c->ident.cookie);

	while (t->slots[i].cookie)
		i = (i + 1) & mask;
	t->slots[i].cookie = c->ident.cookie;
	t->slots[i].c = c;
	t->nhashed++;
}

int conn_table__init(struct conn_table *t, size_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap ? cap : 1;
	if (slots_alloc(t, 11))
		return -ENOMEM;
	list_init(&t->lru, false);
	list_init(&t->done, false);
	list_init(&t->cw, true);
	list_init(&t->cw_alerted, true);
	return 0;
}

void conn_table__set_sink(struct conn_table *t, conn_sink_fn fn, void *ctx)
{
	t->sink = fn;
	t->sink_ctx = ctx;
}

void conn_table__set_watch(struct conn_table *t, conn_watch_fn fn, void *ctx)
{
	t->watch = fn;
	t->watch_ctx = ctx;
}

static void free_list(struct conn *head)
{
	for (struct conn *c = head->lru_next, *n; c && c != head; c = n) {
		n = c->lru_next;
		free(c);
	}
}

void conn_table__free(struct conn_table *t)
{
	/* Every connection is on the open or the closed list, hashed or not. */
	free_list(&t->lru);
	free_list(&t->done);
	for (struct conn *c = t->free, *n; c; c = n) {
		n = c->hnext;
		free(c);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

struct conn *conn_table__find(struct conn_table *t, uint64_t cookie)
{
	size_t mask = t->nslots - 1;

	for (size_t i = slot_of(t, cookie); t->slots[i].cookie; i = (i + 1) & mask)
		if (t->slots[i].cookie == cookie)
			return t->slots[i].c;
	return NULL;
}

void conn_table__prefetch_slot(const struct conn_table *t, uint64_t cookie)
{
	__builtin_prefetch(&t->slots[slot_of(t, cookie)]);
}

void conn_table__prefetch_conn(const struct conn_table *t, uint64_t cookie)
{
	const struct conn_slot *s = &t->slots[slot_of(t, cookie)];

	/* The home slot only: most lookups end there. A record touches the
	 * identity, the state and steps, and the list links. */
	if (s->cookie == cookie && s->c) {
		__builtin_prefetch(s->c);
		__builtin_prefetch((const char *)s->c + 128);
		__builtin_prefetch(&s->c->lru_prev, 1);
	}
}

/* Twice the slots when more than half are taken. */
static void grow(struct conn_table *t)
{
	struct conn_slot *old = t->slots;
	size_t oldn = t->nslots;

	if (slots_alloc(t, t->slot_bits + 1)) {
		t->slots = old;	/* fuller, still correct while a slot is free */
		return;
	}
	t->nhashed = 0;
	for (size_t i = 0; i < oldn; i++)
		if (old[i].cookie)
			slot_put(t, old[i].c);
	free(old);
}

/* Out of the hash; the slots after it that probed past it move back, so
 * every lookup still meets its cookie before an empty slot. */
static void unhash(struct conn_table *t, struct conn *c)
{
	size_t mask = t->nslots - 1, i = slot_of(t, c->ident.cookie), j;

	if (c->unhashed)
		return;
	c->unhashed = true;
	while (t->slots[i].c != c) {
		if (!t->slots[i].cookie)
			return;
		i = (i + 1) & mask;
	}
	for (j = (i + 1) & mask; t->slots[j].cookie; j = (j + 1) & mask) {
		size_t home = slot_of(t, t->slots[j].cookie);

		/* Move j back to i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].cookie = 0;
	t->slots[i].c = NULL;
	t->nhashed--;
}

/* Tell the sink, then free. */
static void remove_conn(struct conn_table *t, struct conn *c, enum conn_exit why)
{
	if (t->sink)
		t->sink(t->sink_ctx, c, why);
	watch(t, c, false);
	unhash(t, c);
	lru_unlink(c);
	cw_unlink(c);
	c->hnext = t->free;
	t->free = c;
	t->count--;
}

static struct conn *insert(struct conn_table *t, const struct ts_event *e)
{
	struct conn *c;

	if (t->count >= t->cap) {
		/* Closed ones first: they are finished anyway. */
		if (t->done.lru_next != &t->done) {
			remove_conn(t, t->done.lru_next, CONN_EXIT_CLOSED);
		} else {
			remove_conn(t, t->lru.lru_next, CONN_EXIT_EVICTED);
			t->evictions++;
		}
	}
	if (t->free) {
		c = t->free;
		t->free = c->hnext;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->ident = *e;
	if (e->type == TS_EV_CLOSE || e->type == TS_EV_SHUTDOWN) {
		/* The caller, who need not be the owner. */
		c->ident.pid = 0;
		c->ident.owner_src = TS_OWNER_NONE;
		memset(c->ident.comm, 0, sizeof(c->ident.comm));
		c->ident.cgroup_id = 0;
	}
	if (2 * (t->nhashed + 1) > t->nslots)
		grow(t);
	if (t->nhashed + 1 >= t->nslots) {
		c->hnext = t->free;	/* no slot left: grow failed */
		t->free = c;
		return NULL;
	}
	slot_put(t, c);
	list_append(&t->lru, c);
	t->count++;
	t->seen++;
	return c;
}

/* Keep the identity current: ports and addresses appear as the kernel
 * assigns them (connect() picks the local port after SYN_SENT). */
static void refresh_ident(struct conn *c, const struct ts_event *e)
{
	if (e->family) {
		/* A record that carried it, or one completed from it. */
		c->ident.skaddr = e->skaddr;
		c->ident.netns = e->netns;
		c->ident.family = e->family;
	}
	if (e->sport)
		c->ident.sport = e->sport;
	c->ident.dport = e->dport;
	memcpy(c->ident.saddr, e->saddr, sizeof(e->saddr));
	memcpy(c->ident.daddr, e->daddr, sizeof(e->daddr));
	if (e->ino)
		c->ident.ino = e->ino;
	/* Owner: state, reset and accept records carry it; close and
	 * shutdown carry the caller, who may not be the owner. */
	if (e->type != TS_EV_CLOSE && e->type != TS_EV_SHUTDOWN && e->owner_src != TS_OWNER_NONE) {
		c->ident.pid = e->pid;
		c->ident.owner_src = e->owner_src;
		memcpy(c->ident.comm, e->comm, sizeof(e->comm));
		c->ident.cgroup_id = e->cgroup_id;
	}
}

static void add_call(struct conn *c, const struct ts_event *e)
{
	struct conn_call *k = &c->calls[c->ncalls % CONN_CALLS_MAX];

	k->mono_ns = e->mono_ns;
	k->pid = e->pid;
	k->refs = e->refs;
	k->fd = e->fd;
	k->type = (uint8_t)e->type;
	k->how = e->how;
	k->final = e->final;
	k->via = e->via;
	memcpy(k->comm, e->comm, sizeof(k->comm));
	c->ncalls++;
}

/* Keep the transitions in time order: records from different CPUs come
 * close to, not exactly in, the order they were made. */
static void add_step(struct conn *c, const struct ts_event *e)
{
	struct conn_step *k;
	int i;

	if (c->nsteps == CONN_STEPS_MAX) {
		c->steps_dropped++;
		return;
	}
	for (i = c->nsteps; i > 0 && c->steps[i - 1].mono_ns > e->mono_ns; i--)
		c->steps[i] = c->steps[i - 1];
	k = &c->steps[i];
	k->mono_ns = e->mono_ns;
	k->prev_ns = e->prev_state_ns;
	k->prev_known = e->flags & TS_EVF_PREV_KNOWN;
	/* A dump's finding timed from the timewait timer is a known entry. */
	k->from_dump = (e->flags & TS_EVF_FROM_DUMP) && !(e->flags & TS_EVF_DERIVED);
	k->oldstate = e->oldstate;
	k->newstate = e->newstate;
	k->tw_reason = e->tw_reason;
	c->nsteps++;
}

/* The newest transition so far sets the current state; a late one only
 * fills in the history. */
static void take_state(struct conn_table *t, struct conn *c, const struct ts_event *e)
{
	if (c->since_known && e->mono_ns < c->state_since_ns)
		return;
	if (c->state == TS_TCP_CLOSE_WAIT)
		cw_unlink(c);
	c->state = e->newstate;
	c->state_since_ns = e->mono_ns;
	c->since_known = true;
	c->since_bound = false;
	if (e->newstate == TS_TCP_CLOSE_WAIT)
		cw_append(c->alerted ? &t->cw_alerted : &t->cw, c);
	if (e->newstate == TS_TCP_CLOSE) {
		c->closed = true;
		lru_unlink(c);
		list_append(&t->done, c);
	}
}

/* A closed connection's cookie starting over (connect() after a
 * disconnect): the old lifecycle keeps its place in the done list, out of
 * the hash, and a new one begins. */
static bool reborn(const struct conn *c, const struct ts_event *e)
{
	return c->closed && e->type == TS_EV_STATE && e->oldstate == TS_TCP_CLOSE &&
	       e->mono_ns >= c->state_since_ns;
}

struct conn *conn_table__apply(struct conn_table *t, const struct ts_event *e)
{
	return conn_table__apply_found(t, e->cookie ? conn_table__find(t, e->cookie) : NULL, e);
}

struct conn *conn_table__apply_found(struct conn_table *t, struct conn *c, const struct ts_event *e)
{
	if (!e->cookie || e->type == TS_EV_TW_REARM)
		return NULL;
	if (c && reborn(c, e)) {
		unhash(t, c);
		c = NULL;
	}
	if (!c) {
		/* A socket already closed (a reset can beat accept()) starts
		 * nothing: nothing would remove it. Any other record starts
		 * its connection: its identity is kept here, and later
		 * records of the socket leave it out. */
		if (e->newstate == TS_TCP_CLOSE)
			return NULL;
		c = insert(t, e);
		if (!c)
			return NULL;
	} else if (!c->closed) {
		watch(t, c, false);
		lru_unlink(c);
		list_append(&t->lru, c);
	}
	refresh_ident(c, e);
	if (e->mono_ns > c->last_ns)
		c->last_ns = e->mono_ns;
	if (!c->first_ns) {
		c->first_ns = e->mono_ns;
		c->drop_gen = e->drop_gen;
	} else {
		c->lost |= e->drop_gen != c->drop_gen;
		if (e->mono_ns < c->first_ns)
			c->first_ns = e->mono_ns;
	}

	switch (e->type) {
	case TS_EV_STATE:
		add_step(c, e);
		take_state(t, c, e);
		break;
	case TS_EV_CLOSE:
	case TS_EV_SHUTDOWN:
		add_call(c, e);
		break;
	case TS_EV_RESET:
		if (!c->reset_dir || e->mono_ns < c->reset_ns) {
			c->reset_dir = e->reset_dir;
			c->reset_ns = e->mono_ns;
		}
		break;
	default:
		break;
	}
	watch(t, c, true);
	return c;
}

void conn_table__expire(struct conn_table *t, uint64_t before_ns)
{
	/* In the order they closed (give or take the reordering). */
	while (t->done.lru_next != &t->done && t->done.lru_next->state_since_ns < before_ns)
		remove_conn(t, t->done.lru_next, CONN_EXIT_CLOSED);
}

void conn_table__drain(struct conn_table *t)
{
	while (t->done.lru_next != &t->done)
		remove_conn(t, t->done.lru_next, CONN_EXIT_CLOSED);
	while (t->lru.lru_next != &t->lru)
		remove_conn(t, t->lru.lru_next, CONN_EXIT_OPEN);
}

struct conn *conn_table__seed(struct conn_table *t, const struct ts_event *ident, int state,
			      uint64_t since_ns, bool bounded)
{
	struct conn *c;

	if (!ident->cookie || conn_table__find(t, ident->cookie))
		return NULL;
	c = insert(t, ident);
	if (!c)
		return NULL;
	c->state = state;
	c->state_since_ns = since_ns;
	c->since_bound = bounded;
	c->before_start = true;
	c->seed_state = (uint8_t)state;
	if (state == TS_TCP_CLOSE_WAIT)
		cw_append(&t->cw, c);
	watch(t, c, true);
	return c;
}

struct conn *conn_table__next_close_wait(struct conn_table *t, uint64_t now_ns,
					 uint64_t min_age_ns)
{
	struct conn *c = t->cw.cw_next;

	/* Oldest first: if the head is too young, so is everything after it
	 * (give or take the few microseconds of ring-buffer reordering). */
	if (c == &t->cw || now_ns < c->state_since_ns || now_ns - c->state_since_ns < min_age_ns)
		return NULL;
	cw_unlink(c);
	cw_append(&t->cw_alerted, c);
	c->alerted = true;
	return c;
}

uint32_t conn__ncalls_kept(const struct conn *c)
{
	return c->ncalls < CONN_CALLS_MAX ? c->ncalls : CONN_CALLS_MAX;
}

const struct conn_call *conn__call(const struct conn *c, uint32_t i)
{
	uint32_t kept = conn__ncalls_kept(c);
	uint32_t first = c->ncalls - kept;

	if (i >= kept)
		return NULL;
	return &c->calls[(first + i) % CONN_CALLS_MAX];
}

long conn_table__find_stale(struct conn_table *t, uint64_t checked_ns, uint64_t **out)
{
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;

	for (struct conn *c = t->lru.lru_next; c != &t->lru; c = c->lru_next) {
		if (c->last_ns >= checked_ns)
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = c->ident.cookie;
	}
	*out = v;
	return (long)n;
}

bool conn_table__end_gone(struct conn_table *t, uint64_t cookie)
{
	struct conn *c = conn_table__find(t, cookie);

	if (!c || c->closed)
		return false;
	c->lost = true;
	remove_conn(t, c, CONN_EXIT_GONE);
	return true;
}

uint64_t conn_table__oldest_closed_ns(const struct conn_table *t)
{
	return t->done.lru_next != &t->done ? t->done.lru_next->state_since_ns : UINT64_MAX;
}

uint64_t conn_table__oldest_close_wait_ns(const struct conn_table *t)
{
	return t->cw.cw_next != &t->cw ? t->cw.cw_next->state_since_ns : UINT64_MAX;
}

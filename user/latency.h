/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Close-path latency histograms: time spent in SYN_SENT (connect latency),
 * CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING and TIME_WAIT, and
 * from the final close() to the connection's end; one set in all, or one
 * per owner's process name (--hist-by comm). Pure: fed records and the
 * connection they belong to. */
#ifndef LATENCY_H
#define LATENCY_H

#include <stddef.h>
#include <stdint.h>
#include "cgroup.h"
#include "conn_table.h"
#include "hist.h"

enum latency_kind {
	LAT_SYN_SENT,
	LAT_CLOSE_WAIT,
	LAT_FIN_WAIT1,
	LAT_FIN_WAIT2,
	LAT_LAST_ACK,
	LAT_CLOSING,
	LAT_TIME_WAIT,
	LAT_CLOSE_TO_CLOSED,
	LAT__MAX,
};

/* What the histograms are grouped by (--hist-by). */
enum latency_by {
	LATENCY_BY_NONE,	/* one set of histograms */
	LATENCY_BY_COMM,	/* one set per process name of the socket's owner */
};

/* Distinct process names with a group of their own; samples of names seen
 * after that many go to the [other] group, so memory stays bounded. */
#define LATENCY_GROUPS_MAX 256
/* With the unknown owner's and [other]: every group there can be. */
#define LATENCY_GROUPS_ALL (LATENCY_GROUPS_MAX + 2)

enum latency_group_kind {
	LAT_GROUP_COMM,		/* one process name */
	LAT_GROUP_UNKNOWN,	/* the owner was never seen */
	LAT_GROUP_OTHER,	/* names past LATENCY_GROUPS_MAX */
	LAT_GROUP_FREE,		/* expired (latency__expire): its place is free */
};

/* What a group's key is made of (--metrics-labels): the owner's comm, its
 * container, or both. --hist-by comm groups by comm alone. */
enum latency_key {
	LATENCY_KEY_COMM = 1 << 0,
	LATENCY_KEY_CONTAINER = 1 << 1,
};

/* The container of a cgroup id (cgroup.h's id), NULL if none. */
typedef const char *(*latency_container_fn)(void *ctx, uint64_t cgroup_id);

struct latency_group {
	char comm[TS_COMM_LEN];	/* LAT_GROUP_COMM: the name, NUL-padded */
	/* With LATENCY_KEY_CONTAINER: the owner's container, NUL-padded;
	 * empty when it runs in none. */
	char container[CGROUP_CONTAINER_MAX];
	unsigned key;		/* enum latency_key: the labels it has */
	enum latency_group_kind kind;
	uint64_t used_ns;	/* last given a sample or looked up (latency.now_ns) */
	struct hist h[LAT__MAX];
};

/* Twice the groups: linear probing stays short. A power of two. */
#define LATENCY_SLOTS 512

struct latency {
	struct hist h[LAT__MAX];	/* LATENCY_BY_NONE */
	enum latency_by by;
	/* Grouped: [0] unknown owner, [1] [other], then names as first seen. */
	struct latency_group *groups;
	uint32_t ngroups;
	uint16_t slots[LATENCY_SLOTS];	/* names to groups by hash; 0: free */
	unsigned key;			/* enum latency_key; 0 is comm */
	latency_container_fn container_of;
	void *container_ctx;
	/* The time (monotonic ns) lookups mark groups used at: the caller
	 * keeps it current for latency__expire. */
	uint64_t now_ns;
};

/* Ready to take records, grouped by by. An all-zero struct latency is an
 * ungrouped one too. 0, or -ENOMEM. */
int latency__init(struct latency *l, enum latency_by by);
void latency__free(struct latency *l);
/* Group by key (enum latency_key bits) from now on, before any sample;
 * container_of names the containers. */
void latency__set_key(struct latency *l, unsigned key, latency_container_fn container_of,
		      void *ctx);
/* Take one record; c is its connection as it was before the record (NULL
 * if not in the table). Only measured times are taken, never guessed ones.
 * Grouped, a sample goes to the group of the socket's owner: the record's
 * owner, else the one the table last knew. No allocation. */
void latency__add(struct latency *l, const struct ts_event *e, const struct conn *c);
/* The owner's name a record's samples go under: the record's owner, else
 * the one the table last knew (c may be NULL); NULL if neither is known. */
const char *latency__owner_comm(const struct ts_event *e, const struct conn *c);
/* The group of an owner's name (NULL: not known), made on first sight while
 * there is room, [other] after; NULL when not grouped. Its place in
 * groups[] (below LATENCY_GROUPS_ALL) can index tables kept alongside. */
struct latency_group *latency__group(struct latency *l, const char *comm);
/* The record (e, else c's identity) that names the socket's owner; NULL if
 * neither does. */
const struct ts_event *latency__owner(const struct ts_event *e, const struct conn *c);
/* The group of owner (NULL: not known) by the key set, as latency__group(). */
struct latency_group *latency__group_of(struct latency *l, const struct ts_event *owner);
/* Called with the place in groups[] of each group that expires, before
 * it is cleared: tables kept alongside clear theirs. */
typedef void (*latency_expired_fn)(void *ctx, uint32_t index);
/* Frees the named groups not used for idle_ns up to now_ns: their samples
 * are dropped and their places taken by the next new names (the unknown
 * owner's and [other] stay). Returns how many expired. */
size_t latency__expire(struct latency *l, uint64_t idle_ns, latency_expired_fn expired, void *ctx);
/* Samples taken in all, and in one group (in all its histograms). */
uint64_t latency__samples(const struct latency *l);
uint64_t latency__group_samples(const struct latency_group *g);
/* The groups that have samples, largest first (most samples; ties by
 * name, the unknown owner after names), [other] last; returns how many. */
size_t latency__groups(const struct latency *l,
		       const struct latency_group *out[LATENCY_GROUPS_ALL]);
/* "CLOSE_WAIT", ..., "close_to_closed". */
const char *latency__name(enum latency_kind k);

#endif /* LATENCY_H */

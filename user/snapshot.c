// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockdiag.h"

#define TW_LEN_MS 60000	/* TCP_TIMEWAIT_LEN */

struct collect {
	struct snapshot_seed *v;
	size_t n, cap;
	uint64_t now_ns;
	int err;
};

static int on_sock(void *ctx, const struct sockdiag_sock *s)
{
	struct collect *c = ctx;
	struct snapshot_seed *sd;
	uint64_t age_ms = 0;

	/* Request sockets become connections only when accepted (their birth
	 * is traced); bound-only sockets never were one. A state this build
	 * has no name for cannot be reported or recorded. */
	if ((s->state == TS_TCP_SYN_RECV && !s->ino) || s->state == TS_TCP_CLOSE ||
	    !s->state || s->state >= TS_TCP_MAX_STATES)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct snapshot_seed *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
			return -ENOMEM;
		}
		c->v = v;
		c->cap = cap;
	}
	sd = &c->v[c->n++];
	memset(sd, 0, sizeof(*sd));
	sd->ident.type = TS_EV_STATE;
	sd->ident.cookie = s->cookie;
	sd->ident.family = s->family;
	sd->ident.sport = s->sport;
	sd->ident.dport = s->dport;
	memcpy(sd->ident.saddr, s->saddr, sizeof(s->saddr));
	memcpy(sd->ident.daddr, s->daddr, sizeof(s->daddr));
	sd->ident.netns = s->netns;
	sd->ident.ino = s->ino;
	sd->ident.fd = -1;
	sd->state = s->state;
	if (s->timer == SOCKDIAG_TIMER_TIME_WAIT) {
		/* The timewait socket's timer started at 60 s when it entered. */
		sd->state = TS_TCP_TIME_WAIT;
		if (s->expires_ms <= TW_LEN_MS)
			age_ms = TW_LEN_MS - s->expires_ms;
	} else if (s->state == TS_TCP_CLOSE_WAIT && s->last_recv_ms != UINT32_MAX) {
		/* The peer's FIN came no later than the last segment heard. */
		age_ms = s->last_recv_ms;
	}
	sd->since_ns = c->now_ns > age_ms * 1000000ULL ? c->now_ns - age_ms * 1000000ULL : 0;
	/* sock_diag gives no entry time: every age is a lower bound. */
	sd->bounded = true;
	return 0;
}

static int by_since(const void *a, const void *b)
{
	const struct snapshot_seed *x = a, *y = b;

	return (x->since_ns > y->since_ns) - (x->since_ns < y->since_ns);
}

/* Every distinct network namespace some process is in. */
static void dump_all(struct collect *c, struct snapshot *s)
{
	uint64_t seen[4096];
	size_t nseen = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d) {
		s->netns_failed++;
		return;
	}
	while ((de = readdir(d))) {
		char path[300];
		struct stat st;
		size_t i;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st))
			continue;
		for (i = 0; i < nseen && seen[i] != st.st_ino; i++)
			;
		if (i < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nseen++] = st.st_ino;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || sockdiag__dump_netns(fd, on_sock, c) || c->err)
			s->netns_failed++;
		else
			s->netns++;
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
}

bool snapshot__seed(struct conn_table *t, const struct snapshot_seed *sd)
{
	return conn_table__seed(t, &sd->ident, sd->state, sd->since_ns, sd->bounded) != NULL;
}

int snapshot__take(struct snapshot *s, struct conn_table *t, bool all_netns, uint64_t now_ns,
		   struct snapshot_seed **seeds)
{
	struct collect c = { .now_ns = now_ns };
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (all_netns) {
		dump_all(&c, s);
	} else {
		err = sockdiag__dump(on_sock, &c);
		if (err)
			s->netns_failed++;
		else
			s->netns++;
	}
	/* Oldest first, so CLOSE_WAIT alerts come due in order. */
	qsort(c.v, c.n, sizeof(*c.v), by_since);
	for (size_t i = 0; i < c.n; i++) {
		s->total++;
		s->by_state[c.v[i].state]++;
		if (snapshot__seed(t, &c.v[i]))
			s->seeded++;
	}
	if (seeds)
		*seeds = c.v;
	else
		free(c.v);
	return c.err ? c.err : err;
}

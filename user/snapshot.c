// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sock_key.h"
#include "sockdiag.h"
#include "u64_set.h"

#define TW_LEN_MS 60000	/* TCP_TIMEWAIT_LEN */

struct collect {
	struct snapshot_seed *v;
	size_t n, cap;
	uint64_t now_ns;
	int err;
	const struct snapshot_filter *f;
	uint64_t *inos;		/* -p: the socket inodes the process holds, sorted */
	size_t ninos;
	uint64_t *cg_inos;	/* -c: those the cgroup's processes hold, sorted */
	size_t ncg_inos;
};

static bool port_in(uint16_t port, const uint16_t *ports, int n)
{
	for (int i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* A growing list of socket inodes. */
struct ino_list {
	uint64_t *v;
	size_t n, cap;
};

static int ino_add(struct ino_list *l, uint64_t ino)
{
	if (l->n == l->cap) {
		uint64_t *v = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 64) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
	}
	l->v[l->n++] = ino;
	return 0;
}

/* The socket inodes in /proc/PID/fd, added to l. */
static int pid_sockets_into(uint32_t pid, struct ino_list *l)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char fdpath[330];
		unsigned long long ino;
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		if (ino_add(l, ino)) {
			closedir(d);
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

/* The socket inodes in /proc/PID/fd, sorted. */
static int pid_sockets(uint32_t pid, uint64_t **inos, size_t *n)
{
	struct ino_list l = { 0 };
	int err = pid_sockets_into(pid, &l);

	u64_set__sort(l.v, l.n);
	*inos = l.v;
	*n = l.n;
	return err;
}

/* How far the walk of a -c cgroup's subtree goes: deeper or wider trees
 * are cut there (their processes' sockets left out of the snapshot). */
#define CG_DEPTH_MAX 16
#define CG_DIRS_MAX 4096

/* The sockets of every process in the cgroup dir and below it. Processes
 * that exit meanwhile hold nothing. *dirs counts the directories seen. */
static int cgroup_sockets_into(const char *dir, int depth, int *dirs, struct ino_list *l)
{
	char path[4096];
	struct dirent *de;
	unsigned pid;
	FILE *f;
	DIR *d;
	int err = 0;

	if (depth > CG_DEPTH_MAX || ++*dirs > CG_DIRS_MAX)
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	while (f && !err && fscanf(f, "%u", &pid) == 1) {
		err = pid_sockets_into(pid, l);
		err = err == -ENOENT || err == -EACCES ? 0 : err;
	}
	if (f)
		fclose(f);
	d = err ? NULL : opendir(dir);
	while (d && !err && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		err = cgroup_sockets_into(path, depth + 1, dirs, l);
	}
	if (d)
		closedir(d);
	return err;
}

static int cgroup_sockets(const char *dir, uint64_t **inos, size_t *n)
{
	struct ino_list l = { 0 };
	int dirs = 0, err = cgroup_sockets_into(dir, 0, &dirs, &l);

	u64_set__sort(l.v, l.n);
	*inos = l.v;
	*n = l.n;
	return err;
}

static bool wanted(const struct collect *c, const struct sockdiag_sock *s)
{
	const struct snapshot_filter *f = c->f;

	if (!f)
		return true;
	if (f->family && s->family != f->family)
		return false;
	if (f->nsports && !port_in(s->sport, f->sports, f->nsports))
		return false;
	if (f->ndports && !port_in(s->dport, f->dports, f->ndports))
		return false;
	if (f->cgroup_path && !(s->ino && u64_set__has(c->cg_inos, c->ncg_inos, s->ino)))
		return false;
	if (f->pid) {
		uint64_t ino = s->ino;

		return ino && u64_set__has(c->inos, c->ninos, ino);
	}
	return true;
}

static int on_sock(void *ctx, const struct sockdiag_sock *s)
{
	struct collect *c = ctx;
	struct snapshot_seed *sd;
	uint64_t age_ms = 0;

	/* Request sockets become connections only when accepted (their birth
	 * is traced); bound-only sockets never were one. A state this build
	 * has no name for cannot be reported or recorded. */
	if ((s->state == TS_TCP_SYN_RECV && !s->ino) || s->state == TS_TCP_CLOSE ||
	    !s->state || s->state >= TS_TCP_MAX_STATES || !wanted(c, s))
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
	if (s->timer == SOCKDIAG_TIMER_TIME_WAIT && s->state == TS_TCP_FIN_WAIT2) {
		/* A timewait socket in its FIN_WAIT2 substate (idiag_state is
		 * tw_substate): FIN_WAIT2, as ss shows it. Its timer ran from
		 * tcp_fin_timeout, which may differ per namespace: no age. */
	} else if (s->timer == SOCKDIAG_TIMER_TIME_WAIT) {
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

/* The namespaces seen: a tree of inode numbers, each stored as the key
 * pointer's value itself. */
static int cmp_ino(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return (x > y) - (x < y);
}

static void no_free(void *p)
{
	(void)p;
}

/* Every distinct network namespace some process is in, however many:
 * each socket to fn(ctx), each namespace counted in s. */
static void dump_all(sockdiag_fn fn, void *ctx, struct snapshot *s)
{
	void *seen = NULL;
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d) {
		s->netns_failed++;
		return;
	}
	while ((de = readdir(d))) {
		char path[300];
		struct stat st;
		void *key, **hit;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st))
			continue;
		key = (void *)(uintptr_t)st.st_ino;
		if (tfind(key, &seen, cmp_ino))
			continue;
		hit = tsearch(key, &seen, cmp_ino);
		if (!hit) {	/* out of memory: this one is not dumped */
			s->netns_failed++;
			continue;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || sockdiag__dump_netns(fd, fn, ctx))
			s->netns_failed++;
		else
			s->netns++;
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	tdestroy(seen, no_free);
}

bool snapshot__seed(struct conn_table *t, const struct snapshot_seed *sd)
{
	return conn_table__seed(t, &sd->ident, sd->state, sd->since_ns, sd->bounded) != NULL;
}

int snapshot__take(struct snapshot *s, struct conn_table *t, bool all_netns, uint64_t now_ns,
		   const struct snapshot_filter *filter, struct snapshot_seed **seeds)
{
	struct collect c = { .now_ns = now_ns, .f = filter };
	int err = 0;

	memset(s, 0, sizeof(*s));
	/* A process that is gone holds nothing: an empty picture. */
	if (filter && filter->pid && (err = pid_sockets(filter->pid, &c.inos, &c.ninos)) &&
	    err != -ENOENT)
		return err;
	if (filter && filter->cgroup_path &&
	    (err = cgroup_sockets(filter->cgroup_path, &c.cg_inos, &c.ncg_inos))) {
		free(c.inos);
		free(c.cg_inos);
		return err;
	}
	err = 0;
	if (all_netns) {
		dump_all(on_sock, &c, s);
	} else {
		err = sockdiag__dump(on_sock, &c);
		if (err)
			s->netns_failed++;
		else
			s->netns++;
	}
	/* Oldest first, so CLOSE_WAIT alerts come due in order. */
	if (c.n > 1)
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
	free(c.inos);
	free(c.cg_inos);
	return c.err ? c.err : err;
}

struct key_vec {
	uint64_t *v;
	size_t n, cap;
};

static int key_vec__push2(struct key_vec *k, uint64_t a, uint64_t b)
{
	if (k->n + 2 > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 4096;
		uint64_t *v = realloc(k->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = a;
	k->v[k->n++] = b;
	return 0;
}

struct census_build {
	struct key_vec alive, tw, tw_fin2;
	struct tw_since *since;
	size_t nsince, capsince;
	int err;
};

/* A timewait socket in TIME_WAIT: when it entered, from its timer (set to
 * TCP_TIMEWAIT_LEN then; re-armed by a retransmitted FIN, which restarts
 * it). Both keys. */
static int push_since(struct census_build *b, const struct sockdiag_sock *s, uint64_t tuple)
{
	struct timespec now;
	uint64_t now_ns, since;

	if (s->expires_ms > TW_LEN_MS || clock_gettime(CLOCK_MONOTONIC, &now))
		return 0;
	now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	since = now_ns + (uint64_t)s->expires_ms * 1000000ULL;
	if (since < (uint64_t)TW_LEN_MS * 1000000ULL)
		return 0;
	since -= (uint64_t)TW_LEN_MS * 1000000ULL;
	if (b->nsince + 2 > b->capsince) {
		size_t cap = b->capsince ? b->capsince * 2 : 64;
		struct tw_since *v = realloc(b->since, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->since = v;
		b->capsince = cap;
	}
	b->since[b->nsince++] = (struct tw_since){ s->cookie, since };
	b->since[b->nsince++] = (struct tw_since){ tuple, since };
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct tw_since *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* Both keys of each socket: its cookie, and its tuple for the connections
 * the tracer knows by a made-up cookie. */
static int on_census(void *ctx, const struct sockdiag_sock *s)
{
	struct census_build *b = ctx;
	uint64_t tuple = sock_key__tuple(s->netns, s->family, s->saddr, s->sport, s->daddr,
					 s->dport);
	struct key_vec *tw = s->state == TS_TCP_FIN_WAIT2 ? &b->tw_fin2 : &b->tw;
	int err = key_vec__push2(&b->alive, s->cookie, tuple);

	if (!err && s->timer == SOCKDIAG_TIMER_TIME_WAIT)
		err = key_vec__push2(tw, s->cookie, tuple);
	if (!err && s->timer == SOCKDIAG_TIMER_TIME_WAIT && s->state == TS_TCP_TIME_WAIT)
		err = push_since(b, s, tuple);
	return err;
}

static void key_vec__take(struct key_vec *k, uint64_t **out, size_t *n)
{
	u64_set__sort(k->v, k->n);
	*out = k->v;
	*n = k->n;
}

int snapshot__census(bool all_netns, struct sock_census *out)
{
	struct census_build b = { 0 };
	struct snapshot s = { 0 };
	int err = 0;

	if (all_netns)
		dump_all(on_census, &b, &s);
	else
		err = sockdiag__dump(on_census, &b);
	if (err || s.netns_failed) {
		free(b.alive.v);
		free(b.tw.v);
		free(b.tw_fin2.v);
		free(b.since);
		return err ? err : -EIO;
	}
	key_vec__take(&b.alive, &out->alive, &out->nalive);
	key_vec__take(&b.tw, &out->tw, &out->ntw);
	key_vec__take(&b.tw_fin2, &out->tw_fin2, &out->ntw_fin2);
	if (b.nsince)
		qsort(b.since, b.nsince, sizeof(*b.since), by_key);
	out->tw_since = b.since;
	out->ntw_since = b.nsince;
	return 0;
}

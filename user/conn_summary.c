// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "conn_summary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_pid(const void *a, const void *b)
{
	const struct conn *x = *(const struct conn *const *)a, *y = *(const struct conn *const *)b;

	if (x->ident.pid != y->ident.pid)
		return x->ident.pid < y->ident.pid ? -1 : 1;
	return strncmp(x->ident.comm, y->ident.comm, TS_COMM_LEN);
}

/* Keep the top CONN_SUMMARY_OWNERS, most first (ties: lower pid first). */
static void consider(struct conn_summary *s, const struct conn *c, uint64_t count)
{
	int i = s->nowners < CONN_SUMMARY_OWNERS ? s->nowners++ : CONN_SUMMARY_OWNERS;

	if (i == CONN_SUMMARY_OWNERS) {
		if (count <= s->owners[i - 1].count)
			return;
		i--;
	}
	for (; i > 0 && s->owners[i - 1].count < count; i--)
		s->owners[i] = s->owners[i - 1];
	s->owners[i].pid = c->ident.owner_src != TS_OWNER_NONE ? c->ident.pid : 0;
	memcpy(s->owners[i].comm, c->ident.comm, TS_COMM_LEN);
	if (!s->owners[i].pid)
		memset(s->owners[i].comm, 0, TS_COMM_LEN);
	s->owners[i].count = count;
}

int conn_summary__build(struct conn_summary *s, const struct conn_table *t,
			const struct lifecycle_stats *ended)
{
	const struct conn **cw;
	size_t ncw = 0, i, j;

	memset(s, 0, sizeof(*s));
	s->seen = t->seen;
	s->evictions = t->evictions;
	if (ended)
		s->ended = *ended;
	conn_table__for_each_open(t, c) {
		s->open++;
		if (c->state > 0 && c->state < TS_TCP_MAX_STATES)
			s->by_state[c->state]++;
	}
	if (!s->by_state[TS_TCP_CLOSE_WAIT])
		return 0;
	cw = malloc(s->by_state[TS_TCP_CLOSE_WAIT] * sizeof(*cw));
	if (!cw)
		return -ENOMEM;
	conn_table__for_each_open(t, c)
		if (c->state == TS_TCP_CLOSE_WAIT)
			cw[ncw++] = c;
	qsort(cw, ncw, sizeof(*cw), by_pid);
	for (i = 0; i < ncw; i = j) {
		for (j = i + 1; j < ncw && !by_pid(&cw[i], &cw[j]); j++)
			;
		consider(s, cw[i], j - i);
	}
	free(cw);
	return 0;
}

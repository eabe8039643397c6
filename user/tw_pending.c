// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tw_pending.h"

#include <string.h>

void tw_pending__init(struct tw_pending *p)
{
	p->head = p->used = p->n = 0;
	p->undone = 0;
}

/* The k-th slot from the oldest. */
static int slot(const struct tw_pending *p, int k)
{
	return (p->head + k) % TW_PENDING_SLOTS;
}

/* The oldest slot out; then any dead ones behind it. */
static void pop(struct tw_pending *p)
{
	do {
		p->head = slot(p, 1);
		p->used--;
	} while (p->used && p->dead[p->head]);
}

/* Squeeze the dead out, order kept: every slot moves at most once. */
static void compact(struct tw_pending *p)
{
	int w = 0;

	for (int k = 0; k < p->used; k++) {
		int from = slot(p, k), to = slot(p, w);

		if (p->dead[from])
			continue;
		if (from != to) {
			p->ev[to] = p->ev[from];
			p->round[to] = p->round[from];
			p->dead[to] = false;
		}
		w++;
	}
	p->used = w;
}

bool tw_pending__add(struct tw_pending *p, const struct ts_event *e, uint64_t round,
		     struct ts_event *out)
{
	bool pushed = false;
	int i;

	if (p->n == TW_PENDING_MAX) {
		*out = p->ev[p->head];
		pop(p);
		p->n--;
		pushed = true;
	}
	if (p->used == TW_PENDING_SLOTS)
		compact(p);
	i = slot(p, p->used);
	p->ev[i] = *e;
	p->round[i] = round;
	p->dead[i] = false;
	p->used++;
	p->n++;
	return pushed;
}

bool tw_pending__rearm(struct tw_pending *p, const struct ts_event *rearm)
{
	/* Newest first: a re-arm follows its cancel within microseconds. */
	for (int k = p->used - 1; k >= 0; k--) {
		int i = slot(p, k);

		/* By cookie alone: the re-arm carries no identity, and what
		 * user space knows of the socket's address may be the full
		 * socket's or the timewait socket's. */
		if (!p->dead[i] && p->ev[i].cookie == rearm->cookie) {
			p->dead[i] = true;
			p->n--;
			p->undone++;
			if (k == 0)
				pop(p);
			return true;
		}
	}
	return false;
}

bool tw_pending__take_due(struct tw_pending *p, uint64_t round, struct ts_event *out)
{
	if (p->n == 0 || p->round[p->head] >= round)
		return false;
	*out = p->ev[p->head];
	pop(p);
	p->n--;
	return true;
}

size_t tw_pending__cookies(const struct tw_pending *p, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (int k = 0; k < p->used && n < max; k++) {
		int i = slot(p, k);

		if (!p->dead[i])
			out[n++] = p->ev[i].cookie;
	}
	return n;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "tw_pending.h"

#include <string.h>

void tw_pending__init(struct tw_pending *p)
{
	p->n = 0;
	p->undone = 0;
}

static void remove_at(struct tw_pending *p, int i)
{
	memmove(&p->ev[i], &p->ev[i + 1], (size_t)(p->n - i - 1) * sizeof(p->ev[0]));
	memmove(&p->round[i], &p->round[i + 1], (size_t)(p->n - i - 1) * sizeof(p->round[0]));
	p->n--;
}

bool tw_pending__add(struct tw_pending *p, const struct ts_event *e, uint64_t round,
		     struct ts_event *out)
{
	bool pushed = false;

	if (p->n == TW_PENDING_MAX) {
		*out = p->ev[0];
		remove_at(p, 0);
		pushed = true;
	}
	p->ev[p->n] = *e;
	p->round[p->n] = round;
	p->n++;
	return pushed;
}

bool tw_pending__rearm(struct tw_pending *p, const struct ts_event *rearm)
{
	/* Newest first: a re-arm follows its cancel within microseconds. */
	for (int i = p->n - 1; i >= 0; i--) {
		if (p->ev[i].skaddr == rearm->skaddr && p->ev[i].cookie == rearm->cookie) {
			remove_at(p, i);
			p->undone++;
			return true;
		}
	}
	return false;
}

bool tw_pending__take_due(struct tw_pending *p, uint64_t round, struct ts_event *out)
{
	if (p->n == 0 || p->round[0] >= round)
		return false;
	*out = p->ev[0];
	remove_at(p, 0);
	return true;
}

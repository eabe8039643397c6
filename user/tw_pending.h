/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TIME_WAIT ends that may not be ends. A timewait socket's timer is
 * detached (timer_cancel) both when the socket is killed and when its timer
 * is moved; a move is followed at once by timer_start, which the kernel
 * side reports as a TW_REARM record. Early ends are held for one more poll
 * round and dropped if a re-arm arrives. Pure: no I/O. */
#ifndef TW_PENDING_H
#define TW_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpstate.h"

#define TW_PENDING_MAX 1024
/* A ring in insertion order. A withdrawn end is marked dead in place, not
 * moved over (a memmove of up to 128 KB per record was most of the
 * consumer's time under load); the slack past TW_PENDING_MAX lets the dead
 * be squeezed out at most once per TW_PENDING_MAX / 4 withdrawals. */
#define TW_PENDING_SLOTS (TW_PENDING_MAX + TW_PENDING_MAX / 4)

struct tw_pending {
	struct ts_event ev[TW_PENDING_SLOTS];
	uint64_t round[TW_PENDING_SLOTS];
	bool dead[TW_PENDING_SLOTS];
	int head, used;		/* the oldest slot; slots in use, dead ones too */
	int n;			/* ends held */
	uint64_t undone;	/* ends withdrawn by a re-arm */
};

void tw_pending__init(struct tw_pending *p);
/* Hold a tentative end seen in round. When full, the oldest is pushed out
 * into *out and true is returned: the caller reports it now. */
bool tw_pending__add(struct tw_pending *p, const struct ts_event *e, uint64_t round,
		     struct ts_event *out);
/* A re-arm: withdraw the held end of the same timewait socket. */
bool tw_pending__rearm(struct tw_pending *p, const struct ts_event *rearm);
/* Take one end held from a round before `round` (all of them when round is
 * UINT64_MAX) into *out; false when none is due. Oldest first. */
bool tw_pending__take_due(struct tw_pending *p, uint64_t round, struct ts_event *out);

/* The cookies of the ends held, up to max, into out; how many. */
size_t tw_pending__cookies(const struct tw_pending *p, uint64_t *out, size_t max);

#endif /* TW_PENDING_H */

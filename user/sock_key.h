/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One number per socket, to match the tracer's view against a sock_diag
 * dump: the kernel's cookie where the tracer has it; for a cookie the
 * tracer made up (which the kernel never heard of), a hash of the socket's
 * namespace, family, addresses and ports, marked with TS_SYNTH_COOKIE_BIT
 * so that it can never equal a kernel cookie. Pure. */
#ifndef SOCK_KEY_H
#define SOCK_KEY_H

#include <stdint.h>
#include <stdlib.h>
#include "tcpstate.h"

static inline uint64_t sock_key__mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static inline uint64_t sock_key__tuple(uint32_t netns, uint16_t family, const uint8_t saddr[16],
				       uint16_t sport, const uint8_t daddr[16], uint16_t dport)
{
	uint64_t h = sock_key__mix(0, ((uint64_t)netns << 32) | ((uint64_t)family << 16) | sport);

	for (int i = 0; i < 16; i += 8) {
		uint64_t s = 0, d = 0;

		for (int k = 0; k < 8; k++) {
			s = s << 8 | saddr[i + k];
			d = d << 8 | daddr[i + k];
		}
		h = sock_key__mix(sock_key__mix(h, s), d);
	}
	h = sock_key__mix(h, dport);
	return (h & ~TS_SYNTH_COOKIE_BIT & ((1ULL << 63) - 1)) | TS_SYNTH_COOKIE_BIT;
}

/* The key of a connection the tracer knows by cookie and identity ev. */
static inline uint64_t sock_key__of(const struct ts_event *ev)
{
	if (!(ev->cookie & TS_SYNTH_COOKIE_BIT))
		return ev->cookie;
	return sock_key__tuple(ev->netns, ev->family, ev->saddr, ev->sport, ev->daddr, ev->dport);
}

/* What one sock_diag dump found, as sorted key sets: every socket, and
 * among them the timewait sockets by substate (their key is the full
 * socket's: the cookie is copied over). */
/* When a timewait socket in TIME_WAIT entered it, from its timer: the
 * peer's FIN (or the handoff) set it to 60 s from then. By key, sorted. */
struct tw_since {
	uint64_t key;
	uint64_t since_ns;	/* CLOCK_MONOTONIC */
};

struct sock_census {
	uint64_t *alive;
	size_t nalive;
	uint64_t *tw;		/* substate TIME_WAIT */
	size_t ntw;
	uint64_t *tw_fin2;	/* substate FIN_WAIT2 */
	size_t ntw_fin2;
	struct tw_since *tw_since;	/* of those in tw, both keys each */
	size_t ntw_since;
};

/* When the timewait socket with this key entered TIME_WAIT; 0: not known. */
static inline uint64_t sock_census__tw_since(const struct sock_census *c, uint64_t key)
{
	size_t lo = 0, hi = c->ntw_since;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->tw_since[mid].key == key)
			return c->tw_since[mid].since_ns;
		if (c->tw_since[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static inline void sock_census__free(struct sock_census *c)
{
	free(c->alive);
	free(c->tw);
	free(c->tw_fin2);
	free(c->tw_since);
}

#endif /* SOCK_KEY_H */

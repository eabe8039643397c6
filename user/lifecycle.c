// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lifecycle.h"

#include <string.h>

#include "tcp_names.h"

static const char *const role_names[ROLE__MAX] = {
	[ROLE_UNKNOWN] = "unknown", [ROLE_CLIENT] = "client",
	[ROLE_SERVER] = "server", [ROLE_LISTENER] = "listener",
};
static const char *const closed_by_names[CLOSED_BY__MAX] = {
	[CLOSED_BY_LOCAL] = "local", [CLOSED_BY_PEER] = "peer",
	[CLOSED_BY_SIMULTANEOUS] = "simultaneous",
};
static const char *const end_names[END__MAX] = {
	[END_GRACEFUL] = "graceful", [END_RESET_SENT] = "reset_sent",
	[END_RESET_RECEIVED] = "reset_received", [END_TIMEOUT] = "timeout",
	[END_ABORT] = "abort",
};
static const char *const missing_names[LC_MISS__COUNT] = {
	"birth", "gap", "lost", "evicted", "open", "steps", "gone",
};

const char *conn_role__name(enum conn_role r)
{
	return r < ROLE__MAX ? role_names[r] : "unknown";
}

const char *conn_closed_by__name(enum conn_closed_by b)
{
	return b < CLOSED_BY__MAX ? closed_by_names[b] : NULL;
}

const char *conn_end__name(enum conn_end e)
{
	return e < END__MAX ? end_names[e] : NULL;
}

const char *lifecycle_missing__name(int bit)
{
	return bit >= 0 && bit < LC_MISS__COUNT ? missing_names[bit] : "?";
}

/* The transitions a socket can begin with: connect() or listen() on a
 * closed socket, or a listener's child. */
static bool is_birth(const struct conn_step *s)
{
	return s->oldstate == TS_TCP_CLOSE ||
	       (s->oldstate == TS_TCP_LISTEN && s->newstate == TS_TCP_SYN_RECV);
}

static struct lc_visit *add_visit(struct lifecycle *l, int state)
{
	struct lc_visit *v;

	if (l->nvisits >= LC_VISITS_MAX)
		return NULL;
	v = &l->visits[l->nvisits++];
	memset(v, 0, sizeof(*v));
	v->state = state;
	return v;
}

/* A state left by step s, entered at a time not seen: known only when the
 * kernel measured the stay. */
static void add_unseen_entry(struct lifecycle *l, const struct conn_step *s)
{
	struct lc_visit *v = add_visit(l, s->oldstate);

	if (v && s->prev_known && s->prev_ns <= s->mono_ns) {
		v->enter_known = v->dur_known = true;
		v->enter_ns = s->mono_ns - s->prev_ns;
		v->dur_ns = s->prev_ns;
	}
}

static void build_visits(struct lifecycle *l, const struct conn *c)
{
	const struct conn_step *s = c->steps;
	int n = c->nsteps;

	if (!n) {
		/* Seeded and never heard from again: its state, since when
		 * is not known exactly. */
		if (c->state && c->state != TS_TCP_CLOSE)
			add_visit(l, c->state);
		if (c->state)
			l->missing |= LC_MISS_BIRTH;
		return;
	}
	if (!is_birth(&s[0])) {
		l->missing |= LC_MISS_BIRTH;
		add_unseen_entry(l, &s[0]);
	}
	for (int i = 0; i < n; i++) {
		struct lc_visit *v;

		if (s[i].newstate == TS_TCP_CLOSE && i == n - 1) {
			l->end_known = true;
			l->end_ns = s[i].mono_ns;
			break;
		}
		v = add_visit(l, s[i].newstate);
		if (!v)
			break;
		/* Found by a dump: entered some time before it. */
		v->enter_known = !s[i].from_dump;
		v->enter_ns = s[i].mono_ns;
		if (i + 1 == n)
			break;	/* still there */
		if (s[i + 1].from_dump) {
			l->missing |= LC_MISS_GAP;	/* left some time before */
		} else if (s[i + 1].oldstate != s[i].newstate) {
			l->missing |= LC_MISS_GAP;
			add_unseen_entry(l, &s[i + 1]);
		} else if (v->enter_known) {
			v->dur_known = true;
			v->dur_ns = s[i + 1].mono_ns - s[i].mono_ns;
		}
	}
}

static bool has_step(const struct conn *c, int oldstate, int newstate)
{
	for (int i = 0; i < c->nsteps; i++)
		if ((oldstate < 0 || c->steps[i].oldstate == oldstate) &&
		    (newstate < 0 || c->steps[i].newstate == newstate))
			return true;
	return false;
}

static enum conn_role role_of(const struct conn *c)
{
	if (has_step(c, -1, TS_TCP_SYN_SENT) || has_step(c, TS_TCP_SYN_SENT, -1))
		return ROLE_CLIENT;
	if (has_step(c, -1, TS_TCP_LISTEN) || has_step(c, TS_TCP_LISTEN, TS_TCP_CLOSE))
		return ROLE_LISTENER;
	if (has_step(c, -1, TS_TCP_SYN_RECV) || has_step(c, TS_TCP_SYN_RECV, -1))
		return ROLE_SERVER;
	switch (c->seed_state) {
	case TS_TCP_LISTEN: return ROLE_LISTENER;
	case TS_TCP_SYN_SENT: return ROLE_CLIENT;
	case TS_TCP_SYN_RECV: return ROLE_SERVER;
	default: return ROLE_UNKNOWN;
	}
}

/* From the states it went through: whoever sent the first FIN. */
static enum conn_closed_by closed_by_of(const struct lifecycle *l, const struct conn *c)
{
	enum conn_closed_by by = CLOSED_BY_NONE;

	for (int i = 0; i < l->nvisits; i++) {
		switch (l->visits[i].state) {
		case TS_TCP_CLOSING:
			return CLOSED_BY_SIMULTANEOUS;
		case TS_TCP_FIN_WAIT1:
		case TS_TCP_FIN_WAIT2:
		case TS_TCP_TIME_WAIT:
			if (!by)
				by = CLOSED_BY_LOCAL;
			break;
		case TS_TCP_CLOSE_WAIT:
		case TS_TCP_LAST_ACK:
			if (!by)
				by = CLOSED_BY_PEER;
			break;
		}
	}
	if (by)
		return by;
	if (c->reset_dir == TS_RESET_SENT)
		return CLOSED_BY_LOCAL;
	if (c->reset_dir == TS_RESET_RECEIVED)
		return CLOSED_BY_PEER;
	return l->end_known ? CLOSED_BY_LOCAL : CLOSED_BY_NONE;
}

static bool final_close_seen(const struct conn *c)
{
	for (uint32_t i = 0; i < conn__ncalls_kept(c); i++) {
		const struct conn_call *k = conn__call(c, i);

		if (k->type == TS_EV_CLOSE && k->final)
			return true;
	}
	return false;
}

static enum conn_end end_of(const struct lifecycle *l, const struct conn *c)
{
	int before;

	if (!l->end_known)
		return END_NONE;
	if (c->reset_dir == TS_RESET_SENT)
		return END_RESET_SENT;
	if (c->reset_dir == TS_RESET_RECEIVED)
		return END_RESET_RECEIVED;
	before = c->steps[c->nsteps - 1].oldstate;
	switch (before) {
	case TS_TCP_TIME_WAIT:
	case TS_TCP_LAST_ACK:
	case TS_TCP_CLOSING:
	case TS_TCP_LISTEN:
		return END_GRACEFUL;
	case TS_TCP_SYN_SENT:
	case TS_TCP_SYN_RECV:
	case TS_TCP_ESTABLISHED:
	case TS_TCP_CLOSE_WAIT:
		/* No FIN went out: close() cut it short, or the stack gave up. */
		return final_close_seen(c) ? END_ABORT : END_TIMEOUT;
	default:
		return END_TIMEOUT;
	}
}

void lifecycle__derive(struct lifecycle *l, const struct conn *c, enum conn_exit why)
{
	memset(l, 0, sizeof(*l));
	l->c = c;
	build_visits(l, c);
	if (c->before_start)
		l->missing |= LC_MISS_BIRTH;
	if (c->lost)
		l->missing |= LC_MISS_LOST;
	if (c->steps_dropped)
		l->missing |= LC_MISS_STEPS;
	if (why == CONN_EXIT_EVICTED)
		l->missing |= LC_MISS_EVICTED;
	if (why == CONN_EXIT_OPEN)
		l->missing |= LC_MISS_OPEN;
	if (why == CONN_EXIT_GONE)
		l->missing |= LC_MISS_GONE;
	if (!(l->missing & LC_MISS_BIRTH) && c->nsteps) {
		l->start_known = true;
		l->start_ns = c->steps[0].mono_ns;
	}
	l->role = role_of(c);
	l->closed_by = closed_by_of(l, c);
	l->end = end_of(l, c);
	l->complete = !l->missing && l->end_known;
}

void lifecycle_stats__add(struct lifecycle_stats *s, const struct lifecycle *l)
{
	s->total++;
	s->incomplete += !l->complete;
	if (l->role < ROLE__MAX)
		s->by_role[l->role]++;
	if (l->end < END__MAX)
		s->by_end[l->end]++;
	for (int b = 0; b < LC_MISS__COUNT; b++)
		s->by_missing[b] += !!(l->missing & (1u << b));
}

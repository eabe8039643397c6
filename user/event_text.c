// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "event_text.h"

#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "tcp_names.h"

char *event_text__header(char *p, bool timestamps)
{
	if (timestamps)
		p = fmt__lit(p, "TIME         ");
	return fmt__lit(p, "PID     COMM             LOCAL                       "
			   "REMOTE                      OLDSTATE    -> NEWSTATE    MS, or EVENT\n");
}

char *event_text__prefix(char *p, const struct ts_event *e, const struct clock_map *clk,
			 bool timestamps)
{
	char *start;

	if (timestamps) {
		p = clock__hms_put(clock__to_realtime_ns(clk, e->mono_ns), p);
		*p++ = ' ';
	}
	start = p;
	if (e->owner_src != TS_OWNER_NONE && e->pid) {
		p = fmt__pad(start, fmt__u64(p, e->pid), 7);
		*p++ = ' ';
		start = p;
		p = fmt__text(p, e->comm, strnlen(e->comm, sizeof(e->comm)));
	} else {
		p = fmt__lit(p, "-       -");
		start = p - 1;
	}
	p = fmt__pad(start, p, 16);
	*p++ = ' ';
	start = p;
	p = fmt__pad(start, fmt__endpoint(p, e->family, e->saddr, e->sport), 27);
	*p++ = ' ';
	start = p;
	p = fmt__pad(start, fmt__endpoint(p, e->family, e->daddr, e->dport), 27);
	*p++ = ' ';
	return p;
}

static char *put_state(char *p, uint8_t state)
{
	return fmt__pad(p, tcp_state__put(p, state), 11);
}

/* ns as milliseconds, printf's "%.3f" of ns / 1e6. By hand unless the
 * double could round otherwise: a tie at the third decimal, or past 2^53
 * (some 104 days) where the quotient's error reaches a nanosecond. */
static char *put_ms(char *p, uint64_t ns)
{
	uint64_t us = ns / 1000, frac = ns % 1000;
	char b[48];

	if (frac == 500 || ns >= 9000000000000000ULL)
		return fmt__mem(p, b, (size_t)snprintf(b, sizeof(b), "%.3f", (double)ns / 1e6));
	us += frac > 500;
	p = fmt__u64(p, us / 1000);
	*p++ = '.';
	return fmt__u64w(p, us % 1000, 3);
}

static char *state_rest(char *p, const struct ts_event *e)
{
	p = put_state(p, e->oldstate);
	p = fmt__lit(p, " -> ");
	p = put_state(p, e->newstate);
	*p++ = ' ';
	if (e->flags & TS_EVF_PREV_KNOWN)
		p = put_ms(p, e->prev_state_ns);
	else
		*p++ = '-';
	if (e->tw_reason) {
		*p++ = ' ';
		p = fmt__str(p, ts_tw_reason__name(e->tw_reason));
	} else if ((e->flags & TS_EVF_TIMEWAIT) && e->tw_substate == TS_TCP_FIN_WAIT2) {
		p = fmt__lit(p, " (timewait socket in FIN_WAIT2)");
	}
	if (e->flags & TS_EVF_DERIVED)
		p = fmt__lit(p, " (derived: the peer's FIN timed from the timewait timer)");
	if (e->flags & TS_EVF_FROM_DUMP)
		p = fmt__lit(p, " (not reported: found so by a sock_diag dump)");
	else if (e->flags & TS_EVF_GAP)
		p = fmt__lit(p, " (gap: earlier transitions not reported)");
	return p;
}

static char *put_fd(char *p, int32_t fd)
{
	if (fd < 0)
		return fmt__lit(p, "fd ?");
	return fmt__i64(fmt__lit(p, "fd "), fd);
}

static char *close_rest(char *p, const struct ts_event *e)
{
	if (e->via == TS_VIA_OTHER)
		return fmt__lit(p, "last reference dropped: tcp_close");
	p = e->via == TS_VIA_EXIT ? fmt__lit(p, "exit(") : fmt__lit(p, "close(");
	p = fmt__u64(fmt__lit(put_fd(p, e->fd), ") refs "), e->refs);
	if (e->final)
		return fmt__lit(p, ": final, tcp_close");
	return fmt__lit(p, ": not final, no FIN");
}

char *event_text__line(char *p, const struct ts_event *e, const struct clock_map *clk,
		       bool timestamps)
{
	p = event_text__prefix(p, e, clk, timestamps);
	switch (e->type) {
	case TS_EV_STATE:
		p = state_rest(p, e);
		break;
	case TS_EV_CLOSE:
		p = close_rest(p, e);
		break;
	case TS_EV_SHUTDOWN:
		p = fmt__str(fmt__lit(put_fd(fmt__lit(p, "shutdown("), e->fd), ", "),
			     ts_how__name(e->how));
		*p++ = ')';
		break;
	case TS_EV_ACCEPT:
		p = put_fd(fmt__lit(p, "accept() = "), e->fd);
		break;
	default:
		p = e->reset_dir == TS_RESET_SENT ? fmt__lit(p, "RST sent") : fmt__lit(p, "RST received");
		break;
	}
	*p++ = '\n';
	return p;
}

char *event_text__gone(char *p, const struct ts_event *id, int state, const struct clock_map *clk,
		       bool timestamps)
{
	p = event_text__prefix(p, id, clk, timestamps);
	p = put_state(p, (uint8_t)state);
	p = fmt__lit(p, " -> gone: its end was not reported (records lost or runs skipped)\n");
	return p;
}

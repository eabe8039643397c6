// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "event_json.h"

#include <string.h>
#include <sys/socket.h>

#include "fmt.h"
#include "json_writer.h"
#include "tcp_names.h"

char *event_json__cgroup(char *p, uint64_t id, const struct cgroup_name *cg)
{
	if (!id)
		return fmt__lit(p, ",\"cgroup_id\":null,\"cgroup\":null,\"container\":null");
	p = fmt__u64(fmt__lit(p, ",\"cgroup_id\":"), id);
	if (!cg || !cg->found)
		return fmt__lit(p, ",\"cgroup\":null,\"container\":null");
	p = fmt__lit(p, ",\"cgroup\":\"");
	p = json__escape(p, cg->path, strnlen(cg->path, sizeof(cg->path)));
	if (!cg->has_container)
		return fmt__lit(p, "\",\"container\":null");
	p = fmt__lit(p, "\",\"container\":\"");
	p = json__escape(p, cg->container.id, strnlen(cg->container.id, sizeof(cg->container.id)));
	*p++ = '"';
	return p;
}

static char *put_owner(char *p, const struct ts_event *e, const struct cgroup_name *cg)
{
	const char *src = e->owner_src == TS_OWNER_SYSCALL ? "syscall\""
			  : e->owner_src == TS_OWNER_LISTENER ? "listener\"" : NULL;

	if (e->owner_src == TS_OWNER_NONE || !e->pid)
		return fmt__lit(p, ",\"pid\":null,\"comm\":null,\"owner_src\":null,"
			       "\"cgroup_id\":null,\"cgroup\":null,\"container\":null");
	p = fmt__u64(fmt__lit(p, ",\"pid\":"), e->pid);
	p = fmt__lit(p, ",\"comm\":\"");
	p = json__escape(p, e->comm, strnlen(e->comm, sizeof(e->comm)));
	if (!src)	/* an owner source this build does not know */
		p = fmt__lit(p, "\",\"owner_src\":null");
	else
		p = fmt__str(fmt__lit(p, "\",\"owner_src\":\""), src);
	return event_json__cgroup(p, e->cgroup_id, cg);
}

char *event_json__addrs(char *p, const struct ts_event *id)
{
	p = fmt__lit(p, "\"family\":");
	*p++ = id->family == AF_INET6 ? '6' : '4';
	p = fmt__addr(fmt__lit(p, ",\"saddr\":\""), id->family, id->saddr);
	p = fmt__u64(fmt__lit(p, "\",\"sport\":"), id->sport);
	p = fmt__addr(fmt__lit(p, ",\"daddr\":\""), id->family, id->daddr);
	p = fmt__u64(fmt__lit(p, "\",\"dport\":"), id->dport);
	return fmt__u64(fmt__lit(p, ",\"netns\":"), id->netns);
}

/* From "ts" on: what follows "type" in every connection record. */
static char *put_common(char *p, const struct ts_event *e, const struct clock_map *clk,
			bool before_start, const struct cgroup_name *cg)
{
	p = clock__rfc3339_put(clock__to_realtime_ns(clk, e->mono_ns), fmt__lit(p, ",\"ts\":\""));
	p = fmt__u64(fmt__lit(p, "\",\"mono_ns\":"), e->mono_ns);
	p = fmt__u64(fmt__lit(p, ",\"cookie\":"), e->cookie);
	if (e->flags & TS_EVF_SYNTH_COOKIE)
		p = fmt__lit(p, ",\"cookie_synthetic\":true");
	p = put_owner(p, e, cg);
	*p++ = ',';
	p = event_json__addrs(p, e);
	if (before_start)
		p = fmt__lit(p, ",\"before_start\":true");
	return p;
}

char *event_json__head(char *p, const char *type, const struct ts_event *e,
		       const struct clock_map *clk, bool before_start,
		       const struct cgroup_name *cg)
{
	p = fmt__str(fmt__lit(p, "\"type\":\""), type);
	*p++ = '"';
	return put_common(p, e, clk, before_start, cg);
}

static char *put_fd(char *p, int32_t fd)
{
	if (fd < 0)
		return fmt__lit(p, ",\"fd\":null");
	return fmt__i64(fmt__lit(p, ",\"fd\":"), fd);
}

static char *state_line(char *p, const struct ts_event *e)
{
	p = tcp_state__put(fmt__lit(p, ",\"old\":\""), e->oldstate);
	p = tcp_state__put(fmt__lit(p, "\",\"new\":\""), e->newstate);
	if (e->flags & TS_EVF_PREV_KNOWN)
		p = fmt__u64(fmt__lit(p, "\",\"prev_state_ns\":"), e->prev_state_ns);
	else
		p = fmt__lit(p, "\",\"prev_state_ns\":null");
	if (e->flags & TS_EVF_GAP)
		p = fmt__lit(p, ",\"gap\":true");
	if (e->flags & TS_EVF_FROM_DUMP)
		p = fmt__lit(p, ",\"from_dump\":true");
	if (e->flags & TS_EVF_DERIVED)
		p = fmt__lit(p, ",\"derived\":true");
	if (e->flags & TS_EVF_TIMEWAIT) {
		p = tcp_state__put(fmt__lit(p, ",\"timewait\":true,\"tw_substate\":\""), e->tw_substate);
		*p++ = '"';
		if (e->tw_reason) {
			p = fmt__str(fmt__lit(p, ",\"reason\":\""), ts_tw_reason__name(e->tw_reason));
			*p++ = '"';
		}
	}
	return p;
}

static char *close_line(char *p, const struct ts_event *e)
{
	p = fmt__u64(fmt__lit(put_fd(p, e->fd), ",\"refs_before\":"), e->refs);
	p = e->final ? fmt__lit(p, ",\"final\":true") : fmt__lit(p, ",\"final\":false");
	p = fmt__str(fmt__lit(p, ",\"via\":\""), ts_via__name(e->via));
	*p++ = '"';
	return p;
}

static char *shutdown_line(char *p, const struct ts_event *e)
{
	p = fmt__str(fmt__lit(put_fd(p, e->fd), ",\"how\":\""), ts_how__name(e->how));
	if (e->refs)
		return fmt__u64(fmt__lit(p, "\",\"refs\":"), e->refs);
	return fmt__lit(p, "\",\"refs\":null");
}

static char *reset_line(char *p, const struct ts_event *e)
{
	if (e->reset_dir == TS_RESET_SENT)
		return fmt__lit(p, ",\"direction\":\"sent\"");
	return fmt__lit(p, ",\"direction\":\"received\"");
}

char *event_json__line(char *p, const struct ts_event *e, const struct clock_map *clk,
		       bool before_start, const struct cgroup_name *cg)
{
	switch (e->type) {
	case TS_EV_STATE:
		p = put_common(fmt__lit(p, "{\"type\":\"state\""), e, clk, before_start, cg);
		p = state_line(p, e);
		break;
	case TS_EV_CLOSE:
		p = put_common(fmt__lit(p, "{\"type\":\"close\""), e, clk, before_start, cg);
		p = close_line(p, e);
		break;
	case TS_EV_SHUTDOWN:
		p = put_common(fmt__lit(p, "{\"type\":\"shutdown\""), e, clk, before_start, cg);
		p = shutdown_line(p, e);
		break;
	case TS_EV_ACCEPT:
		p = put_common(fmt__lit(p, "{\"type\":\"accept\""), e, clk, before_start, cg);
		p = put_fd(p, e->fd);
		break;
	default:
		p = put_common(fmt__lit(p, "{\"type\":\"reset\""), e, clk, before_start, cg);
		p = reset_line(p, e);
		break;
	}
	return fmt__lit(p, "}\n");
}

char *event_json__gone(char *p, const struct ts_event *id, int state, const struct clock_map *clk,
		       bool before_start, const struct cgroup_name *cg)
{
	p = put_common(fmt__lit(p, "{\"type\":\"gone\""), id, clk, before_start, cg);
	p = tcp_state__put(fmt__lit(p, ",\"last_state\":\""), (uint8_t)state);
	return fmt__lit(p, "\"}\n");
}

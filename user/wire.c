// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "wire.h"

#include <string.h>

/* Record sizes by the parts they carry. */
static size_t wire_size(uint8_t wflags)
{
	if (wflags & TS_WF_IDENT)
		return sizeof(struct ts_wire_full);
	if (wflags & TS_WF_OWNER)
		return sizeof(struct ts_wire_owned);
	return sizeof(struct ts_wire);
}

static bool wire_valid(const struct ts_wire *w, size_t len)
{
	if (len < sizeof(*w) || (w->wflags & ~(TS_WF_OWNER | TS_WF_IDENT)))
		return false;
	if ((w->wflags & TS_WF_IDENT) && !(w->wflags & TS_WF_OWNER))
		return false;
	return len >= wire_size(w->wflags) && w->type >= TS_EV_STATE && w->type <= TS_EV__MAX;
}

static void head_to_event(const struct ts_wire *w, struct ts_event *e)
{
	memset(e, 0, sizeof(*e));
	e->mono_ns = w->mono_ns;
	e->cookie = w->cookie;
	e->type = w->type;
	e->flags = w->flags;
	e->oldstate = w->oldstate;
	e->newstate = w->newstate;
	e->drop_gen = w->drop_gen;
	e->tw_substate = w->tw_substate;
	e->tw_reason = w->tw_reason;
	e->fd = -1;
	switch (w->type) {
	case TS_EV_STATE:
		e->prev_state_ns = w->prev_state_ns;
		break;
	case TS_EV_CLOSE:
		e->fd = w->fd;
		e->refs = w->refs;
		e->final = w->final;
		e->via = w->arg;
		break;
	case TS_EV_SHUTDOWN:
		e->fd = w->fd;
		e->refs = w->refs;
		e->how = w->arg;
		break;
	case TS_EV_ACCEPT:
		e->fd = w->fd;
		break;
	case TS_EV_RESET:
		e->reset_dir = w->arg;
		break;
	}
}

/* The identity's fields, named alike in struct ts_wire_ident and struct
 * ts_event: from a record's part, or from what is known. */
#define IDENT_COPY(e, from)							\
	do {									\
		(e)->skaddr = (from)->skaddr;					\
		(e)->ino = (from)->ino;						\
		(e)->netns = (from)->netns;					\
		(e)->family = (from)->family;					\
		(e)->sport = (from)->sport;					\
		(e)->dport = (from)->dport;					\
		memcpy((e)->saddr, (from)->saddr, sizeof((e)->saddr));		\
		memcpy((e)->daddr, (from)->daddr, sizeof((e)->daddr));		\
	} while (0)

static void owner_to_event(uint32_t pid, uint8_t src, const char *comm, uint64_t cgroup_id,
			   struct ts_event *e)
{
	e->pid = pid;
	e->owner_src = pid ? src : TS_OWNER_NONE;
	memcpy(e->comm, comm, sizeof(e->comm));
	e->cgroup_id = pid ? cgroup_id : 0;
}

uint64_t wire__cookie(const void *data, size_t len)
{
	return len >= sizeof(struct ts_wire) ? ((const struct ts_wire *)data)->cookie : 0;
}

int wire__decode(const void *data, size_t len, struct ts_event *e)
{
	const struct ts_wire *w = data;

	if (!wire_valid(w, len))
		return -1;
	head_to_event(w, e);
	if (w->wflags & TS_WF_OWNER) {
		const struct ts_wire_owner *o = &((const struct ts_wire_owned *)data)->o;

		owner_to_event(o->pid, o->owner_src, o->comm, o->cgroup_id, e);
	}
	if (w->wflags & TS_WF_IDENT)
		IDENT_COPY(e, &((const struct ts_wire_full *)data)->id);
	return w->wflags;
}

/* Close and shutdown carry their caller, who need not be the owner: the
 * owner part of a record of theirs always stands. Other records' owner part
 * is empty where the kernel could not reach it. */
static bool owner_stands(const struct ts_event *e, int parts)
{
	if (!(parts & TS_WF_OWNER))
		return false;
	return e->type == TS_EV_CLOSE || e->type == TS_EV_SHUTDOWN || e->pid;
}

bool wire__complete(struct ts_event *e, int parts, const struct ts_event *known)
{
	if (known && !owner_stands(e, parts))
		owner_to_event(known->pid, known->owner_src, known->comm, known->cgroup_id, e);
	if (parts & TS_WF_IDENT)
		return true;
	if (known)
		IDENT_COPY(e, known);
	return known || e->type == TS_EV_TW_REARM;
}

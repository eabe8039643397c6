// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "conn_json.h"

#include <string.h>

#include "event_json.h"
#include "tcp_names.h"

void conn_json__addrs(struct json *j, const struct ts_event *id)
{
	char b[256];

	json__members(j, b, (size_t)(event_json__addrs(b, id) - b));
}

void conn_json__fd(struct json *j, int32_t fd)
{
	if (fd >= 0)
		json__kv_int(j, "fd", fd);
	else
		json__kv_null(j, "fd");
}

const char *conn_call__name(const struct conn_call *k)
{
	if (k->type == TS_EV_SHUTDOWN)
		return "shutdown";
	return k->via == TS_VIA_EXIT ? "exit" : k->via == TS_VIA_OTHER ? "tcp_close" : "close";
}

void conn_json__calls(struct json *j, const struct conn *c)
{
	json__begin_array(j);
	for (uint32_t i = 0; i < conn__ncalls_kept(c); i++) {
		const struct conn_call *k = conn__call(c, i);

		json__begin_object(j);
		json__kv_string(j, "call", conn_call__name(k));
		json__kv_uint(j, "pid", k->pid);
		json__key(j, "comm");
		json__string_n(j, k->comm, strnlen(k->comm, sizeof(k->comm)));
		conn_json__fd(j, k->fd);
		json__kv_uint(j, "refs_before", k->refs);
		if (k->type == TS_EV_SHUTDOWN)
			json__kv_string(j, "how", ts_how__name(k->how));
		else
			json__kv_bool(j, "final", k->final);
		json__kv_uint(j, "mono_ns", k->mono_ns);
		json__end_object(j);
	}
	json__end_array(j);
}

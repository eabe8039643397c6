// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ring's compact records decoded, and completed from what is known of
 * their connection: identity and owner filled in, callers kept apart from
 * owners, malformed records refused. (The engine's tests drive the same
 * through the connection table.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp_names.h"
#include "wire.h"

static struct ts_wire_full full(uint8_t type, uint64_t cookie, uint64_t ns)
{
	struct ts_wire_full f;

	memset(&f, 0, sizeof(f));
	f.w.type = type;
	f.w.cookie = cookie;
	f.w.mono_ns = ns;
	f.w.wflags = TS_WF_IDENT | TS_WF_OWNER;
	f.o.pid = 42;
	f.o.owner_src = TS_OWNER_SYSCALL;
	memcpy(f.o.comm, "server", 7);
	f.id.family = AF_INET;
	f.id.sport = 8080;
	f.id.dport = 51000;
	f.id.saddr[0] = 127;
	f.id.saddr[3] = 1;
	f.id.ino = 99;
	return f;
}

static struct ts_wire head(uint8_t type, uint64_t cookie, uint64_t ns, int old, int new)
{
	struct ts_wire w;

	memset(&w, 0, sizeof(w));
	w.type = type;
	w.cookie = cookie;
	w.mono_ns = ns;
	w.oldstate = (uint8_t)old;
	w.newstate = (uint8_t)new;
	return w;
}

/* What a connection table keeps of the socket full() describes. */
static struct ts_event known_of(const struct ts_wire_full *f)
{
	struct ts_event k;

	assert_int_equal(wire__decode(f, sizeof(*f), &k), TS_WF_IDENT | TS_WF_OWNER);
	return k;
}

static void whole_record_decodes(void **state)
{
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_event e;

	f.w.oldstate = TS_TCP_SYN_RECV;
	f.w.newstate = TS_TCP_ESTABLISHED;
	f.w.prev_state_ns = 55;
	f.w.flags = TS_EVF_PREV_KNOWN;
	assert_int_equal(wire__decode(&f, sizeof(f), &e), TS_WF_IDENT | TS_WF_OWNER);
	assert_true(wire__complete(&e, TS_WF_IDENT | TS_WF_OWNER, NULL));
	assert_int_equal(e.cookie, 7);
	assert_int_equal(e.sport, 8080);
	assert_int_equal(e.dport, 51000);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.saddr[0], 127);
	assert_int_equal(e.ino, 99);
	assert_int_equal(e.pid, 42);
	assert_string_equal(e.comm, "server");
	assert_int_equal(e.prev_state_ns, 55);
	assert_int_equal(e.oldstate, TS_TCP_SYN_RECV);
	assert_int_equal(e.fd, -1);
}

/* A head alone takes identity and owner from what is known. */
static void head_completed_from_known(void **state)
{
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_event known = known_of(&f), e;
	struct ts_wire w = head(TS_EV_STATE, 7, 200, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);

	assert_int_equal(wire__decode(&w, sizeof(w), &e), 0);
	assert_true(wire__complete(&e, 0, &known));
	assert_int_equal(e.mono_ns, 200);
	assert_int_equal(e.newstate, TS_TCP_CLOSE_WAIT);
	assert_int_equal(e.sport, 8080);
	assert_int_equal(e.ino, 99);
	assert_int_equal(e.pid, 42);
	assert_string_equal(e.comm, "server");
	/* Nothing known: no identity, and it says so. */
	assert_int_equal(wire__decode(&w, sizeof(w), &e), 0);
	assert_false(wire__complete(&e, 0, NULL));
	assert_int_equal(e.family, 0);
	assert_int_equal(e.owner_src, TS_OWNER_NONE);
	/* A re-arm needs none. */
	w.type = TS_EV_TW_REARM;
	assert_int_equal(wire__decode(&w, sizeof(w), &e), 0);
	assert_true(wire__complete(&e, 0, NULL));
}

/* A close carries its caller, which stands whatever the owner is. */
static void caller_is_not_owner(void **state)
{
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_event known = known_of(&f), e;
	struct ts_wire_owned c;

	memset(&c, 0, sizeof(c));
	c.w = head(TS_EV_CLOSE, 7, 150, 0, TS_TCP_CLOSE_WAIT);
	c.w.wflags = TS_WF_OWNER;
	c.w.fd = 5;
	c.w.refs = 2;
	c.w.arg = TS_VIA_CLOSE;
	c.o.pid = 77;
	c.o.owner_src = TS_OWNER_SYSCALL;
	memcpy(c.o.comm, "child", 6);
	assert_int_equal(wire__decode(&c, sizeof(c), &e), TS_WF_OWNER);
	assert_true(wire__complete(&e, TS_WF_OWNER, &known));
	assert_int_equal(e.pid, 77);
	assert_string_equal(e.comm, "child");
	assert_int_equal(e.fd, 5);
	assert_int_equal(e.refs, 2);
	assert_int_equal(e.via, TS_VIA_CLOSE);
	assert_int_equal(e.sport, 8080);
}

/* An owner part changes the owner; an empty one (a reset the kernel could
 * not tie to a task) leaves the known owner. */
static void owner_part(void **state)
{
	struct ts_wire_full f = full(TS_EV_STATE, 9, 100);
	struct ts_event known = known_of(&f), e;
	struct ts_wire_owned o;

	memset(&o, 0, sizeof(o));
	o.w = head(TS_EV_STATE, 9, 200, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1);
	o.w.wflags = TS_WF_OWNER;
	o.o.pid = 5;
	o.o.owner_src = TS_OWNER_SYSCALL;
	memcpy(o.o.comm, "worker", 7);
	assert_int_equal(wire__decode(&o, sizeof(o), &e), TS_WF_OWNER);
	assert_true(wire__complete(&e, TS_WF_OWNER, &known));
	assert_int_equal(e.pid, 5);
	assert_string_equal(e.comm, "worker");
	assert_int_equal(e.sport, 8080);
	o.w.type = TS_EV_RESET;
	o.o.pid = 0;
	memcpy(o.o.comm, "swapper/1", 10);
	wire__decode(&o, sizeof(o), &e);
	assert_true(wire__complete(&e, TS_WF_OWNER, &known));
	assert_int_equal(e.pid, 42);
	assert_string_equal(e.comm, "server");
	wire__decode(&o, sizeof(o), &e);
	assert_false(wire__complete(&e, TS_WF_OWNER, NULL));
	assert_int_equal(e.pid, 0);
	assert_int_equal(e.owner_src, TS_OWNER_NONE);
}

static void malformed_refused(void **state)
{
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_event e;

	assert_int_equal(wire__decode(&f, sizeof(struct ts_wire) - 1, &e), -1);
	assert_int_equal(wire__decode(&f, sizeof(struct ts_wire_owned), &e), -1);
	f.w.type = TS_EV__MAX + 1;
	assert_int_equal(wire__decode(&f, sizeof(f), &e), -1);
	f.w.type = 0;
	assert_int_equal(wire__decode(&f, sizeof(f), &e), -1);
	f.w.type = TS_EV_STATE;
	f.w.wflags = TS_WF_IDENT;	/* identity without owner */
	assert_int_equal(wire__decode(&f, sizeof(f), &e), -1);
	f.w.wflags = 0x80;
	assert_int_equal(wire__decode(&f, sizeof(f), &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_record_decodes),
		cmocka_unit_test(head_completed_from_known),
		cmocka_unit_test(caller_is_not_owner),
		cmocka_unit_test(owner_part),
		cmocka_unit_test(malformed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

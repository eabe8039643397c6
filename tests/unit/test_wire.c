// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ring's compact records decoded into whole events: identity and owner
 * carried over by cookie, callers kept apart from owners, malformed records
 * refused, the table kept within its cap. */
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

static void identity_carries_over(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_wire w = head(TS_EV_STATE, 7, 200, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);
	struct ts_event e;

	assert_int_equal(wire_decoder__init(&d, 16), 0);
	f.w.oldstate = TS_TCP_SYN_RECV;
	f.w.newstate = TS_TCP_ESTABLISHED;
	assert_true(wire_decoder__decode(&d, &f, sizeof(f), &e));
	w.prev_state_ns = 55;
	w.flags = TS_EVF_PREV_KNOWN;
	assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
	assert_int_equal(e.cookie, 7);
	assert_int_equal(e.sport, 8080);
	assert_int_equal(e.dport, 51000);
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.saddr[0], 127);
	assert_int_equal(e.ino, 99);
	assert_int_equal(e.pid, 42);
	assert_string_equal(e.comm, "server");
	assert_int_equal(e.prev_state_ns, 55);
	assert_int_equal(e.fd, -1);
	assert_int_equal(d.unidentified, 0);
	wire_decoder__free(&d);
}

/* CLOSE ends the socket's story: a state record after it has no identity. */
static void close_forgets(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_wire w = head(TS_EV_STATE, 7, 200, TS_TCP_LAST_ACK, TS_TCP_CLOSE);
	struct ts_event e;

	wire_decoder__init(&d, 16);
	wire_decoder__decode(&d, &f, sizeof(f), &e);
	assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
	assert_int_equal(e.sport, 8080);
	assert_int_equal(d.count, 0);
	w.mono_ns = 300;
	assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
	assert_int_equal(e.family, 0);
	assert_int_equal(e.owner_src, TS_OWNER_NONE);
	assert_int_equal(d.unidentified, 1);
	wire_decoder__free(&d);
}

/* A close carries its caller; the socket's owner stays for what follows. */
static void caller_is_not_owner(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100), c = full(TS_EV_CLOSE, 7, 150);
	struct ts_wire w = head(TS_EV_STATE, 7, 200, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT);
	struct ts_event e;

	wire_decoder__init(&d, 16);
	wire_decoder__decode(&d, &f, sizeof(f), &e);
	c.o.pid = 77;
	memcpy(c.o.comm, "child", 6);
	c.w.fd = 5;
	c.w.refs = 2;
	c.w.arg = TS_VIA_CLOSE;
	assert_true(wire_decoder__decode(&d, &c, sizeof(c), &e));
	assert_int_equal(e.pid, 77);
	assert_int_equal(e.fd, 5);
	assert_int_equal(e.refs, 2);
	assert_int_equal(e.via, TS_VIA_CLOSE);
	assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
	assert_int_equal(e.pid, 42);
	assert_string_equal(e.comm, "server");
	wire_decoder__free(&d);
}

/* An owner part alone changes the owner, not the identity; a port of 0
 * (connect() had not picked one yet) does not wipe a known one. */
static void owner_part_and_late_port(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full f = full(TS_EV_STATE, 9, 100), again = full(TS_EV_STATE, 9, 300);
	struct ts_wire_owned o;
	struct ts_event e;

	wire_decoder__init(&d, 16);
	wire_decoder__decode(&d, &f, sizeof(f), &e);
	memset(&o, 0, sizeof(o));
	o.w = head(TS_EV_STATE, 9, 200, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1);
	o.w.wflags = TS_WF_OWNER;
	o.o.pid = 5;
	o.o.owner_src = TS_OWNER_SYSCALL;
	memcpy(o.o.comm, "worker", 7);
	assert_true(wire_decoder__decode(&d, &o, sizeof(o), &e));
	assert_int_equal(e.pid, 5);
	assert_int_equal(e.sport, 8080);
	again.id.sport = 0;
	again.id.ino = 0;
	assert_true(wire_decoder__decode(&d, &again, sizeof(again), &e));
	assert_int_equal(e.sport, 0);	/* as the kernel said */
	o.w.mono_ns = 400;
	o.w.wflags = 0;
	assert_true(wire_decoder__decode(&d, &o.w, sizeof(o.w), &e));
	assert_int_equal(e.sport, 8080);
	assert_int_equal(e.ino, 99);
	wire_decoder__free(&d);
}

/* A close of a socket the tracer first meets there (it was open before
 * tracing) names it; the transitions that follow rely on that. After its
 * CLOSE, a close adds nothing that would stay. */
static void close_first_names_a_live_socket(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full c = full(TS_EV_CLOSE, 11, 100);
	struct ts_wire w = head(TS_EV_STATE, 11, 200, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1);
	struct ts_event e;

	wire_decoder__init(&d, 16);
	c.w.newstate = TS_TCP_ESTABLISHED;
	assert_true(wire_decoder__decode(&d, &c, sizeof(c), &e));
	assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
	assert_int_equal(e.sport, 8080);
	assert_int_equal(d.unidentified, 0);
	c = full(TS_EV_CLOSE, 12, 300);
	c.w.newstate = TS_TCP_CLOSE;
	assert_true(wire_decoder__decode(&d, &c, sizeof(c), &e));
	assert_int_equal(e.sport, 8080);
	assert_int_equal(d.count, 1);
	wire_decoder__free(&d);
}

static void malformed_refused(void **state)
{
	struct wire_decoder d;
	struct ts_wire_full f = full(TS_EV_STATE, 7, 100);
	struct ts_event e;

	wire_decoder__init(&d, 16);
	assert_false(wire_decoder__decode(&d, &f, sizeof(struct ts_wire) - 1, &e));
	assert_false(wire_decoder__decode(&d, &f, sizeof(struct ts_wire_owned), &e));
	f.w.type = TS_EV__MAX + 1;
	assert_false(wire_decoder__decode(&d, &f, sizeof(f), &e));
	f.w.type = TS_EV_STATE;
	f.w.wflags = TS_WF_IDENT;	/* identity without owner */
	assert_false(wire_decoder__decode(&d, &f, sizeof(f), &e));
	f.w.wflags = 0x80;
	assert_false(wire_decoder__decode(&d, &f, sizeof(f), &e));
	assert_int_equal(d.malformed, 5);
	assert_int_equal(d.count, 0);
	wire_decoder__free(&d);
}

/* Sockets whose end was lost fill the table: the longest silent go. */
static void full_table_forgets_the_oldest(void **state)
{
	struct wire_decoder d;
	struct ts_event e;

	wire_decoder__init(&d, 64);
	for (uint64_t k = 1; k <= 1000; k++) {
		struct ts_wire_full f = full(TS_EV_STATE, k, k * 10);

		assert_true(wire_decoder__decode(&d, &f, sizeof(f), &e));
		assert_true(d.count <= 64);
	}
	assert_true(d.pruned >= 1000 - 64);
	{
		struct ts_wire w = head(TS_EV_STATE, 1000, 20000, TS_TCP_ESTABLISHED,
					TS_TCP_FIN_WAIT1);

		assert_true(wire_decoder__decode(&d, &w, sizeof(w), &e));
		assert_int_equal(e.sport, 8080);	/* the newest stayed */
	}
	wire_decoder__free(&d);
}

/* Deleting from the middle of a probe run keeps the rest findable. */
static void erase_keeps_runs(void **state)
{
	struct wire_decoder d;
	struct ts_event e;

	wire_decoder__init(&d, 4096);
	for (uint64_t k = 1; k <= 600; k++) {
		struct ts_wire_full f = full(TS_EV_STATE, k, k);

		wire_decoder__decode(&d, &f, sizeof(f), &e);
	}
	for (uint64_t k = 1; k <= 600; k += 2) {
		struct ts_wire w = head(TS_EV_STATE, k, 1000, TS_TCP_LAST_ACK, TS_TCP_CLOSE);

		wire_decoder__decode(&d, &w, sizeof(w), &e);
	}
	assert_int_equal(d.count, 300);
	for (uint64_t k = 2; k <= 600; k += 2) {
		struct ts_wire w = head(TS_EV_STATE, k, 2000, TS_TCP_ESTABLISHED,
					TS_TCP_CLOSE_WAIT);

		wire_decoder__decode(&d, &w, sizeof(w), &e);
		assert_int_equal(e.sport, 8080);
	}
	assert_int_equal(d.unidentified, 0);
	wire_decoder__free(&d);
}

/* After a loss: sockets the kernel no longer has, silent since the dump,
 * are forgotten; the alive and the recent stay. */
static void forget_gone(void **state)
{
	uint64_t alive[] = { 2 };
	struct wire_decoder d;
	struct ts_event e;

	assert_int_equal(wire_decoder__init(&d, 64), 0);
	for (uint64_t k = 1; k <= 40; k++) {
		struct ts_wire_full f = full(TS_EV_STATE, k, k == 3 ? 900 : 100);

		f.w.oldstate = TS_TCP_SYN_SENT;
		f.w.newstate = TS_TCP_ESTABLISHED;
		assert_true(wire_decoder__decode(&d, &f, sizeof(f), &e));
	}
	/* 1 and 4..40 are gone: 2 is alive, 3 spoke after the dump at 500 */
	assert_int_equal(wire_decoder__forget_gone(&d, alive, 1, 500), 38);
	assert_int_equal(d.count, 2);
	for (uint64_t k = 1; k <= 4; k++) {
		struct ts_wire w = head(TS_EV_STATE, k, 1000, TS_TCP_ESTABLISHED,
					TS_TCP_CLOSE_WAIT);

		wire_decoder__decode(&d, &w, sizeof(w), &e);
	}
	assert_int_equal(d.unidentified, 2);	/* 1 and 4; 2 and 3 still known */
	wire_decoder__free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_carries_over),
		cmocka_unit_test(close_forgets),
		cmocka_unit_test(caller_is_not_owner),
		cmocka_unit_test(owner_part_and_late_port),
		cmocka_unit_test(close_first_names_a_live_socket),
		cmocka_unit_test(malformed_refused),
		cmocka_unit_test(full_table_forgets_the_oldest),
		cmocka_unit_test(erase_keeps_runs),
		cmocka_unit_test(forget_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The text escape every human output shares (fmt__text), alone and where
 * the outputs use it: a comm, a service name and a recording's words that
 * carry terminal controls come out as \xHH, never as the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_table.h"
#include "fmt.h"
#include "latency.h"
#include "output.h"

/* The title and payload of a terminal attack: set the window title, clear
 * the screen. */
#define EVIL "\x1b]2;pwn\x07\x1b[2J"
#define EVIL_SHOWN "\\x1b]2;pwn\\x07\\x1b[2J"

static const char *text(const char *s, size_t n)
{
	static char buf[1024];

	*fmt__text(buf, s, n) = '\0';
	return buf;
}

/* Nothing a terminal acts on survives: no byte below 0x20 (newline
 * included), no DEL, no byte of a C1 control. */
static bool terminal_safe(const char *s)
{
	for (const unsigned char *u = (const unsigned char *)s; *u; u++)
		if (*u < 0x20 || *u == 0x7f || (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f))
			return false;
	return true;
}

static void plain_text_unchanged(void **state)
{
	assert_string_equal(text("nginx", 5), "nginx");
	assert_string_equal(text("a b(c)[d]~", 10), "a b(c)[d]~");
	assert_string_equal(text("", 0), "");
	/* UTF-8 stays readable: e-acute, a CJK character, an emoji. */
	assert_string_equal(text("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", 14),
			    "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
}

static void controls_escaped(void **state)
{
	assert_string_equal(text(EVIL, strlen(EVIL)), EVIL_SHOWN);
	assert_string_equal(text("a\nb\rc\td\x7f", 8), "a\\x0ab\\x0dc\\x09d\\x7f");
	/* A NUL inside n is a byte like any other. */
	assert_string_equal(text("a\0b", 3), "a\\x00b");
	/* The backslash itself, so "\x1b" typed by a process is not taken
	 * for an escape the tracer made. */
	assert_string_equal(text("\\x1b", 4), "\\\\x1b");
	/* C1 controls in UTF-8 (U+009B is CSI on 8-bit terminals), bidi
	 * overrides and line separators: their bytes, escaped. */
	assert_string_equal(text("\xc2\x9b" "2J", 4), "\\xc2\\x9b2J");
	assert_string_equal(text("\xe2\x80\xae" "abc", 6), "\\xe2\\x80\\xaeabc");
	assert_string_equal(text("\xe2\x80\xa8", 3), "\\xe2\\x80\\xa8");
	assert_string_equal(text("\xe2\x81\xa6", 3), "\\xe2\\x81\\xa6");
	/* Not controls: U+00A0 and U+2010 go through. */
	assert_string_equal(text("\xc2\xa0\xe2\x80\x90", 5), "\xc2\xa0\xe2\x80\x90");
}

static void not_utf8_escaped(void **state)
{
	/* A stray continuation, a cut sequence, an overlong form, a surrogate,
	 * past U+10FFFF. */
	assert_string_equal(text("a\x80z", 3), "a\\x80z");
	assert_string_equal(text("\xe2\x82", 2), "\\xe2\\x82");
	assert_string_equal(text("\xc0\xaf", 2), "\\xc0\\xaf");
	assert_string_equal(text("\xed\xa0\x80", 3), "\\xed\\xa0\\x80");
	assert_string_equal(text("\xf4\x90\x80\x80", 4), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(text("\xff\xfe", 2), "\\xff\\xfe");
}

/* Every byte value at every position stays within FMT_TEXT_MAX and comes
 * out safe. */
static void worst_case_bounded(void **state)
{
	char in[256], out[FMT_TEXT_MAX(256) + 1];

	for (int i = 0; i < 256; i++)
		in[i] = (char)(255 - i);
	*fmt__text(out, in, sizeof(in)) = '\0';
	assert_true(strlen(out) <= FMT_TEXT_MAX(sizeof(in)));
	assert_true(terminal_safe(out));
	for (int i = 0; i < 256; i++)
		in[i] = '\x1b';
	assert_int_equal(fmt__text(out, in, sizeof(in)) - out, FMT_TEXT_MAX(sizeof(in)));
}

static void z_form_cuts_whole(void **state)
{
	char buf[9];

	/* Up to the NUL or max, whichever comes first. */
	assert_string_equal(fmt__text_z(buf, sizeof(buf), "ab\0cd", 5), "ab");
	assert_string_equal(fmt__text_z(buf, sizeof(buf), "abcdef", 3), "abc");
	/* Never half an escape: "a\x1b" is 5 bytes, a second one does not fit. */
	assert_string_equal(fmt__text_z(buf, sizeof(buf), "a\x1b\x1b", 3), "a\\x1b");
	assert_string_equal(fmt__text_z(buf, 1, "abc", 3), "");
	assert_string_equal(fmt__text_z(buf, sizeof(buf), NULL, 3), "");
}

static struct ts_event evil_event(void)
{
	struct ts_event e = {
		.type = TS_EV_STATE, .mono_ns = 5000000000ULL, .cookie = 42, .pid = 181,
		.owner_src = TS_OWNER_SYSCALL, .family = AF_INET, .sport = 8080, .dport = 51000,
		.oldstate = TS_TCP_ESTABLISHED, .newstate = TS_TCP_CLOSE_WAIT,
		.flags = TS_EVF_PREV_KNOWN, .cgroup_id = 9,
	};

	memcpy(e.comm, EVIL, strlen(EVIL));
	inet_pton(AF_INET, "127.0.0.1", e.saddr);
	inet_pton(AF_INET, "10.1.2.3", e.daddr);
	return e;
}

/* The table's line, the text alert (its sentence and the service the
 * owner runs in) and the summary's CLOSE_WAIT owners. */
static void text_outputs_escape(void **state)
{
	struct ts_event e = evil_event();
	struct conn_summary cs = { .nowners = 1 };
	struct run_summary sum = { .state_hook = "x", .cookie_mode = "x", .close_hook = "x" };
	struct conn_table t;
	struct output o;
	struct conn *c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	conn_table__init(&t, 16);
	output__init(&o, f, false, false);
	o.cg = cgroup_names__new_offline();
	cgroup_names__put(o.cg, 9, "/user.slice/" EVIL ".service");
	assert_int_equal(output__event(&o, &e, false), 0);
	c = conn_table__apply(&t, &e);
	c->since_known = true;
	assert_int_equal(output__alert(&o, c, NULL, "pid 181 (" EVIL ") called close()",
				       17000000000ULL), 0);
	cs.owners[0].pid = 181;
	cs.owners[0].count = 1;
	memcpy(cs.owners[0].comm, EVIL, strlen(EVIL));
	assert_int_equal(output__connections(&o, &cs, 0, 17000000000ULL), 0);
	sum.conns = cs;
	output__summary_text(f, &sum);
	assert_int_equal(output__flush(&o), 0);
	fclose(f);
	/* Lines end in a newline; nothing else is a control. */
	for (char *l = buf, *end; (end = strchr(l, '\n')); l = end + 1) {
		*end = '\0';
		assert_true(terminal_safe(l));
		*end = '\n';
	}
	assert_true(terminal_safe(strrchr(buf, '\n') + 1));
	assert_non_null(strstr(buf, "181     " EVIL_SHOWN " 127.0.0.1:8080"));
	assert_non_null(strstr(buf, "ALERT CLOSE_WAIT in service " EVIL_SHOWN ".service for 12.0 s: "
				    "pid 181 (" EVIL_SHOWN ") called close()\n"));
	assert_non_null(strstr(buf, "most CLOSE_WAIT: " EVIL_SHOWN " 181 (1)\n"));
	assert_non_null(strstr(buf, "tcpstate-trace: most CLOSE_WAIT: " EVIL_SHOWN " 181 (1)\n"));
	cgroup_names__free(o.cg);
	output__free(&o);
	conn_table__free(&t);
	free(buf);
}

/* --hist-by comm's group header. */
static void hist_group_escapes(void **state)
{
	struct ts_event e = evil_event();
	struct latency l;
	struct output o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(latency__init(&l, LATENCY_BY_COMM), 0);
	e.oldstate = TS_TCP_SYN_SENT;
	e.newstate = TS_TCP_ESTABLISHED;
	e.prev_state_ns = 300000;
	latency__add(&l, &e, NULL);
	output__init(&o, f, false, false);
	assert_int_equal(output__latency(&o, &l, 6000000000ULL), 0);
	assert_int_equal(output__flush(&o), 0);
	fclose(f);
	assert_non_null(strstr(buf, "comm = " EVIL_SHOWN "\n"));
	assert_null(strchr(buf, '\x1b'));
	output__free(&o);
	latency__free(&l);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_text_unchanged),
		cmocka_unit_test(controls_escaped),
		cmocka_unit_test(not_utf8_escaped),
		cmocka_unit_test(worst_case_bounded),
		cmocka_unit_test(z_form_cuts_whole),
		cmocka_unit_test(text_outputs_escape),
		cmocka_unit_test(hist_group_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

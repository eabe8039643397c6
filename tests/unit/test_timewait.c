// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Held TIME_WAIT ends and the TIME_WAIT report, from synthetic records. */
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
#include "tcp_names.h"
#include "tw_pending.h"
#include "tw_report.h"

static struct ts_event tw_end(uint64_t tw, uint64_t cookie)
{
	struct ts_event e = { .type = TS_EV_STATE, .skaddr = tw, .cookie = cookie,
			      .oldstate = TS_TCP_TIME_WAIT, .newstate = TS_TCP_CLOSE,
			      .flags = TS_EVF_TIMEWAIT | TS_EVF_TENTATIVE,
			      .tw_reason = TS_TW_KILLED };
	return e;
}

static void held_one_round_then_due(void **state)
{
	struct tw_pending p;
	struct ts_event e = tw_end(0x1000, 7), out;

	tw_pending__init(&p);
	assert_false(tw_pending__add(&p, &e, 5, &out));
	assert_false(tw_pending__take_due(&p, 5, &out));	/* same round: held */
	assert_true(tw_pending__take_due(&p, 6, &out));
	assert_int_equal(out.cookie, 7);
	assert_false(tw_pending__take_due(&p, 7, &out));
}

static void rearm_withdraws_only_its_socket(void **state)
{
	struct tw_pending p;
	struct ts_event a = tw_end(0x1000, 7), b = tw_end(0x2000, 8), rearm = tw_end(0x1000, 7),
			out;

	tw_pending__init(&p);
	tw_pending__add(&p, &a, 1, &out);
	tw_pending__add(&p, &b, 1, &out);
	rearm.type = TS_EV_TW_REARM;
	rearm.skaddr = 0;	/* a re-arm may not know the address */
	assert_true(tw_pending__rearm(&p, &rearm));
	assert_false(tw_pending__rearm(&p, &rearm));	/* already withdrawn */
	assert_int_equal(p.undone, 1);
	assert_true(tw_pending__take_due(&p, UINT64_MAX, &out));
	assert_int_equal(out.cookie, 8);
	assert_false(tw_pending__take_due(&p, UINT64_MAX, &out));
}

static void full_pushes_out_the_oldest(void **state)
{
	struct tw_pending p;
	struct ts_event e, out;

	tw_pending__init(&p);
	for (int i = 0; i < TW_PENDING_MAX; i++) {
		e = tw_end(0x1000 + (uint64_t)i, (uint64_t)i + 1);
		assert_false(tw_pending__add(&p, &e, 1, &out));
	}
	e = tw_end(0x9999, 99999);
	assert_true(tw_pending__add(&p, &e, 1, &out));
	assert_int_equal(out.cookie, 1);
	assert_int_equal(p.n, TW_PENDING_MAX);
}

/* The ring against the plain list it replaced: the same ends come out, in
 * the same order, through random adds, re-arms and rounds, full or not. */
static void ring_matches_a_plain_list(void **state)
{
	static struct tw_pending p;
	static uint64_t ref[3 * TW_PENDING_MAX], ref_round[3 * TW_PENDING_MAX];
	int nref = 0;
	uint64_t round = 1, next = 1;
	struct ts_event e, out;

	srandom(3);
	tw_pending__init(&p);
	for (int op = 0; op < 200000; op++) {
		int r = (int)(random() % 1000);

		if (r < 500 || r > 981) {	/* an end, cookie next */
			bool full = nref == TW_PENDING_MAX;

			e = tw_end(next, next);
			assert_int_equal(tw_pending__add(&p, &e, round, &out), full);
			if (full) {
				assert_int_equal(out.cookie, ref[0]);
				memmove(ref, ref + 1, (size_t)--nref * sizeof(ref[0]));
				memmove(ref_round, ref_round + 1, (size_t)nref * sizeof(ref[0]));
			}
			ref[nref] = next++;
			ref_round[nref++] = round;
		} else if (r < 980) {	/* a re-arm, of a held end or not */
			uint64_t c = next - 1 - (uint64_t)random() % 1100;
			int i = nref - 1;

			e = tw_end(c, c);
			e.type = TS_EV_TW_REARM;
			while (i >= 0 && ref[i] != c)
				i--;
			assert_int_equal(tw_pending__rearm(&p, &e), i >= 0);
			if (i >= 0) {
				nref--;
				memmove(ref + i, ref + i + 1, (size_t)(nref - i) * sizeof(ref[0]));
				memmove(ref_round + i, ref_round + i + 1,
					(size_t)(nref - i) * sizeof(ref[0]));
			}
		} else if (r == 980) {	/* a round ends: seldom, so the ring fills */
			round++;
			while (nref && ref_round[0] < round) {
				assert_true(tw_pending__take_due(&p, round, &out));
				assert_int_equal(out.cookie, ref[0]);
				nref--;
				memmove(ref, ref + 1, (size_t)nref * sizeof(ref[0]));
				memmove(ref_round, ref_round + 1, (size_t)nref * sizeof(ref[0]));
			}
			assert_false(tw_pending__take_due(&p, round, &out));
		} else {	/* quiet: the held ones pile up */
			for (int k = 0; k < 800; k++) {
				e = tw_end(next, next);
				if (tw_pending__add(&p, &e, round, &out)) {
					assert_int_equal(out.cookie, ref[0]);
					memmove(ref, ref + 1, (size_t)--nref * sizeof(ref[0]));
					memmove(ref_round, ref_round + 1, (size_t)nref * sizeof(ref[0]));
				}
				ref[nref] = next++;
				ref_round[nref++] = round;
			}
		}
		assert_int_equal(p.n, nref);
	}
}

static void enter_tw(struct conn_table *t, uint64_t cookie, const char *saddr, uint16_t sport,
		     const char *daddr, uint16_t dport)
{
	struct ts_event e = { .type = TS_EV_STATE, .cookie = cookie, .family = AF_INET,
			      .sport = sport, .dport = dport, .oldstate = TS_TCP_FIN_WAIT2,
			      .newstate = TS_TCP_TIME_WAIT, .flags = TS_EVF_TIMEWAIT };

	inet_pton(AF_INET, saddr, e.saddr);
	inet_pton(AF_INET, daddr, e.daddr);
	conn_table__apply(t, &e);
}

static void report_groups_and_shares(void **state)
{
	struct conn_table t;
	struct tw_report r;
	struct ts_event end = tw_end(0, 3);
	char a[INET_ADDR_STRLEN];

	conn_table__init(&t, 64);
	enter_tw(&t, 1, "10.0.0.1", 40000, "10.9.9.9", 443);
	enter_tw(&t, 2, "10.0.0.1", 40001, "10.9.9.9", 443);
	enter_tw(&t, 3, "10.0.0.2", 40002, "10.9.9.9", 443);
	enter_tw(&t, 4, "10.0.0.1", 80, "10.8.8.8", 5000);	/* server side: not ephemeral */
	enter_tw(&t, 5, "10.0.0.1", 40003, "10.7.7.7", 443);
	end.flags = TS_EVF_TIMEWAIT;
	conn_table__apply(&t, &end);	/* cookie 3 leaves TIME_WAIT */

	assert_int_equal(tw_report__build(&r, &t, 32768, 60999), 0);
	assert_int_equal(r.total, 4);
	assert_int_equal(r.nlocal, 1);
	assert_int_equal(r.by_local[0].count, 4);
	assert_string_equal(inet_addr__format(AF_INET, r.by_local[0].addr, a, sizeof(a)),
			    "10.0.0.1");
	assert_int_equal(r.nremote, 3);
	assert_int_equal(r.by_remote[0].count, 2);	/* most first */
	assert_int_equal(r.by_remote[0].port, 443);
	assert_int_equal(r.by_remote[0].ephemeral, 2);
	assert_string_equal(inet_addr__format(AF_INET, r.by_remote[0].addr, a, sizeof(a)),
			    "10.9.9.9");
	for (size_t i = 0; i < r.nremote; i++)
		if (r.by_remote[i].port == 5000)
			assert_int_equal(r.by_remote[i].ephemeral, 0);
	tw_report__free(&r);

	assert_int_equal(tw_report__build(&r, &t, 1, 0), 0);	/* any range works */
	tw_report__free(&r);
	conn_table__free(&t);
}

static void empty_report(void **state)
{
	struct conn_table t;
	struct tw_report r;

	conn_table__init(&t, 4);
	assert_int_equal(tw_report__build(&r, &t, 32768, 60999), 0);
	assert_int_equal(r.total, 0);
	assert_int_equal(r.nlocal + r.nremote, 0);
	tw_report__free(&r);
	conn_table__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(held_one_round_then_due),
		cmocka_unit_test(rearm_withdraws_only_its_socket),
		cmocka_unit_test(full_pushes_out_the_oldest),
		cmocka_unit_test(ring_matches_a_plain_list),
		cmocka_unit_test(report_groups_and_shares),
		cmocka_unit_test(empty_report),
	};

	return cmocka_run_group_tests_name("timewait", tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of the latency histograms: --hist-by comm against real
 * connections made by processes with names of their own. */
#include "harness.h"
#include "tests.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HIST_PAIRS_A 2
#define HIST_PAIRS_B 3

struct hist_wait {
	struct scenario_ports *p;
	int n;
};

static bool pairs_closed(struct tracer_run *t, void *arg)
{
	struct hist_wait *w = arg;

	for (int i = 0; i < w->n; i++)
		if (!pair_ended(t, &w->p[i]))
			return false;
	return true;
}

/* The hist record of this name and comm, or NULL. */
static json_t *hist_of(struct tracer_run *t, const char *comm, const char *name)
{
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r) {
		const char *type = jstr(r, "type"), *c = jstr(r, "comm"), *n = jstr(r, "name");

		if (type && strcmp(type, "hist") == 0 && c && strcmp(c, comm) == 0 && n &&
		    strcmp(n, name) == 0)
			return r;
	}
	return NULL;
}

/* State records of this owner leaving old with a measured time: the
 * samples the histogram of old must hold. */
static int64_t measured(struct tracer_run *t, const char *comm, const char *old)
{
	json_t *r;
	size_t i;
	int64_t n = 0;

	json_array_foreach(t->records, i, r) {
		const char *type = jstr(r, "type"), *c = jstr(r, "comm"), *o = jstr(r, "old");

		if (type && strcmp(type, "state") == 0 && c && strcmp(c, comm) == 0 && o &&
		    strcmp(o, old) == 0 && jint(r, "prev_state_ns") >= 0)
			n++;
	}
	return n;
}

/* Connections of this owner whose records say gap (a transition of theirs
 * was not seen): each may lack a sample. */
static int64_t gap_conns(struct tracer_run *t, const char *comm)
{
	json_t *seen = json_object(), *r;
	char key[32];
	size_t i;
	int64_t n;

	json_array_foreach(t->records, i, r)
		if (jstr(r, "type") && strcmp(jstr(r, "type"), "state") == 0 && jstr(r, "comm") &&
		    strcmp(jstr(r, "comm"), comm) == 0 && json_is_true(json_object_get(r, "gap"))) {
			snprintf(key, sizeof(key), "%lld", (long long)jint(r, "cookie"));
			json_object_set_new(seen, key, json_true());
		}
	n = (int64_t)json_object_size(seen);
	json_decref(seen);
	return n;
}

/* Count of the hist record (0 when there is none) is want; fewer by at most
 * excused, the connections that say they lack a transition. */
static void expect_count(struct tracer_run *t, const char *comm, const char *name, int64_t want,
			 int64_t excused)
{
	json_t *h = hist_of(t, comm, name);
	int64_t got = h ? jint(h, "count") : 0;

	EXPECT(got == want || (got < want && got + excused >= want),
	       "comm %s: %s count %lld, expected %lld (%lld of its connections say gap; the "
	       "summary reports %lld skipped runs and gaps)", comm, name, (long long)got,
	       (long long)want, (long long)excused, (long long)tracer_runs_lost(t));
}

static void check_comm(struct tracer_run *t, const char *comm, int pairs)
{
	static const char *const states[] = { "SYN_SENT", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT",
					      "LAST_ACK" };

	/* One client (SYN_SENT, FIN_WAIT1, FIN_WAIT2) and one server
	 * (CLOSE_WAIT, LAST_ACK) per pair, and each hist agrees with the
	 * state records of that owner. */
	int64_t excused = gap_conns(t, comm);

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		expect_count(t, comm, states[i], pairs, excused);
		/* The records it has, it counts: no excuse. */
		expect_count(t, comm, states[i], measured(t, comm, states[i]), 0);
	}
	/* close() to CLOSE: the server and the listener; the client is still
	 * in TIME_WAIT. */
	expect_count(t, comm, "close_to_closed", 2 * pairs, excused);
	expect_count(t, comm, "TIME_WAIT", 0, 0);
	expect_count(t, comm, "CLOSING", 0, 0);
}

/* Two processes named apart make 2 and 3 connections: each name's
 * histograms count exactly its own. */
void t_hist_by_comm(void)
{
	const char *targs[] = { "-j", "--hist-by", "comm", NULL };
	char names[2][16];
	struct scenario_ports p[HIST_PAIRS_A + HIST_PAIRS_B];
	struct hist_wait w = { p, 0 };
	struct tracer_run t;
	json_t *r;
	size_t i;
	int hists = 0;

	/* Names no other test's processes have, even run side by side. */
	snprintf(names[0], sizeof(names[0]), "hA%d", (int)getpid());
	snprintf(names[1], sizeof(names[1]), "hB%d", (int)getpid());
	if (tracer_start(&t, targs))
		return;
	for (int k = 0; k < HIST_PAIRS_A + HIST_PAIRS_B; k++) {
		const char *sargs[] = { "-N", names[k < HIST_PAIRS_A ? 0 : 1], NULL };
		json_t *rep = scenario_run("pair", sargs);

		p[k].port = rep ? (int)jint(rep, "port") : -1;
		p[k].cport = rep ? (int)jint(rep, "client_port") : -1;
		json_decref(rep);
		if (p[k].port <= 0 || p[k].cport <= 0) {
			check_fail(__FILE__, __LINE__, "pair -N %s failed", sargs[1]);
			goto out;
		}
		w.n++;
	}
	EXPECT(tracer_wait(&t, pairs_closed, &w),
	       "not every socket of the pairs ended within %d ms", cfg.timeout_ms);
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d; stderr: %s", t.status,
	       t.errbuf ? t.errbuf : "");
	check_comm(&t, names[0], HIST_PAIRS_A);
	check_comm(&t, names[1], HIST_PAIRS_B);
	/* Grouped, every hist record names its group. */
	json_array_foreach(t.records, i, r) {
		const char *type = jstr(r, "type");

		if (!type || strcmp(type, "hist") != 0)
			continue;
		hists++;
		EXPECT(jstr(r, "comm") || jnull(r, "comm"), "hist record without comm: %s",
		       jstr(r, "name"));
	}
	EXPECT(hists > 0, "no hist records");
	check_summary(&t);
out:
	tracer_free(&t);
}

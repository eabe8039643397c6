// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What a local user can make the kernel side do: listeners on one port
 * that belong to different processes (tests/scenario/listeners.c), a full
 * listener table, and process exits with descriptor tables grown far past
 * what they hold (tests/scenario/exitwalk.c). */
#include "harness.h"
#include "tests.h"
#include "../../bpf/tcpstate.h"

#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool is_type(json_t *r, const char *type)
{
	const char *t = jstr(r, "type");

	return t && strcmp(t, type) == 0;
}

/* ---- listeners: each child owned by its own listener's process ---------- */

/* A state record of the server end of the connection from peer (family,
 * port) to the listeners' port. */
static bool server_end(json_t *r, int port, json_t *peer)
{
	return is_type(r, "state") && jint(r, "sport") == port &&
	       jint(r, "family") == json_integer_value(json_array_get(peer, 0)) &&
	       jint(r, "dport") == json_integer_value(json_array_get(peer, 1));
}

struct listeners_run {
	json_t *rep;
	int port;
};

/* Every connection a server accepted has its server end's ESTABLISHED. */
static bool all_established(struct tracer_run *t, void *arg)
{
	struct listeners_run *l = arg;
	json_t *sv, *peer, *r;
	size_t i, k, n;

	json_array_foreach(json_object_get(l->rep, "servers"), i, sv)
		json_array_foreach(json_object_get(sv, "peers"), k, peer) {
			bool seen = false;

			json_array_foreach(t->records, n, r)
				if (server_end(r, l->port, peer) && jstr(r, "new") &&
				    strcmp(jstr(r, "new"), "ESTABLISHED") == 0) {
					seen = true;
					break;
				}
			if (!seen)
				return false;
		}
	return true;
}

/* The records of that connection from before accept() name its own
 * listener's process: at least one (its birth and ESTABLISHED come before
 * the server accepts), and none another's. */
static void expect_owned_by(struct tracer_run *t, int port, json_t *peer, int64_t pid,
			    const char *what)
{
	int64_t fam = json_integer_value(json_array_get(peer, 0)),
		cport = json_integer_value(json_array_get(peer, 1)), wrong = 0;
	int owned = 0, bad = 0;
	json_t *r;
	size_t i;

	json_array_foreach(t->records, i, r) {
		const char *src = jstr(r, "owner_src");

		if (!server_end(r, port, peer) || !src || strcmp(src, "listener") != 0)
			continue;
		owned++;
		if (jint(r, "pid") != pid) {
			bad++;
			wrong = jint(r, "pid");
		}
	}
	EXPECT(owned > 0 && bad == 0, "%s: the connection from IPv%lld port %lld to port %d: %d "
	       "records owned through a listener, %d of them by pid %lld, not the accepting "
	       "listener's %lld", what, (long long)fam, (long long)cport, port, owned, bad,
	       (long long)wrong, (long long)pid);
}

static void run_listeners(const char *mode)
{
	const char *targs[] = { "-j", NULL };
	const char *sargs[] = { mode, NULL };
	struct listeners_run l = {};
	struct tracer_run t = {};
	json_t *sv;
	size_t i;

	if (tracer_start(&t, targs))
		return;
	l.rep = scenario_run("listeners", sargs);
	l.port = (int)jint(l.rep, "port");
	if (!l.rep || l.port <= 0) {
		tracer_stop(&t, SIGINT);
		tracer_free(&t);
		json_decref(l.rep);
		CHECK(0, "scenario listeners %s failed", mode);
	}
	bool seen = tracer_wait(&t, all_established, &l);

	tracer_stop(&t, SIGINT);
	EXPECT(seen, "not every connection's ESTABLISHED was seen");
	check_summary(&t);
	json_array_foreach(json_object_get(l.rep, "servers"), i, sv) {
		json_t *peers = json_object_get(sv, "peers"), *peer;
		size_t k;

		/* The kernel spreads a SO_REUSEPORT group's connections by
		 * hash: 24 all to one of two listeners is a 1 in 8 million. */
		EXPECT(json_array_size(peers) > 0, "server %zu (pid %lld) accepted nothing", i,
		       (long long)jint(sv, "pid"));
		json_array_foreach(peers, k, peer)
			expect_owned_by(&t, l.port, peer, jint(sv, "pid"),
					json_is_true(json_object_get(sv, "closed")) ?
					"the listener closed later" : "the listener left open");
	}
	json_decref(l.rep);
	tracer_free(&t);
}

/* A user's listener on [::1]:P beside a service's on 0.0.0.0:P: each
 * child is its own listener's, and closing the user's leaves the
 * service's children owned. */
void t_listeners_by_address(void)
{
	run_listeners("addr");
}

/* Two processes in one SO_REUSEPORT group: the same, by socket. */
void t_listeners_reuseport(void)
{
	run_listeners("reuseport");
}

struct many_run {
	int port, cport;
};

static bool child_established(struct tracer_run *t, void *arg)
{
	struct many_run *m = arg;

	return cookie_by_ports(t, m->port, m->cport, "ESTABLISHED") != 0;
}

/* More listeners than the kernel-side table holds: the ones turned away are
 * counted, in the summary, its text and the metrics; once they are closed
 * their entries are gone, and a new listener's children are owned again. */
void t_listeners_table_full(void)
{
	char dir[] = "/tmp/tcpst-listen-XXXXXX", mfile[64], n[16], want[64];
	const char *targs[] = { "-j", "--metrics-file", mfile, NULL };
	const int over = 16;
	const char *sargs[] = { "many", n, NULL };
	struct tracer_run t = {};
	struct scenario s;
	struct many_run m = {};
	json_t *first, *after = NULL, *r;
	int64_t pid = -1;
	char *text;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(mfile, sizeof(mfile), "%s/m.prom", dir);
	snprintf(n, sizeof(n), "%d", TS_MAX_LISTENERS + over);
	if (tracer_start(&t, targs)) {
		rmdir(dir);
		return;
	}
	if (scenario_start(&s, "listeners", sargs) == 0) {
		first = scenario_read(&s);
		pid = jint(first, "pid");
		json_decref(first);
		scenario_send(&s, "go\n");
		after = scenario_read(&s);
		EXPECT(scenario_finish(&s), "scenario listeners many failed");
	}
	m.port = (int)jint(after, "after_port");
	m.cport = (int)jint(after, "client_port");
	EXPECT(after && m.port > 0, "scenario listeners many reported nothing");
	EXPECT(m.port <= 0 || tracer_wait(&t, child_established, &m),
	       "the last listener's child never reached ESTABLISHED");
	tracer_stop(&t, SIGINT);
	check_summary(&t);
	EXPECT(jint(t.summary, "listener_table_full") == over,
	       "summary listener_table_full %lld, expected %d (%d listeners, room for %d)",
	       (long long)jint(t.summary, "listener_table_full"), over, TS_MAX_LISTENERS + over,
	       TS_MAX_LISTENERS);
	snprintf(want, sizeof(want), "listener table full %d times", over);
	EXPECT(t.errbuf && strstr(t.errbuf, want), "stderr does not say '%s': %s", want,
	       t.errbuf ? t.errbuf : "");
	text = read_text_file(mfile);
	EXPECT(text && prom_sample(text, "tcpstate_listener_table_full_total") == over,
	       "metrics: tcpstate_listener_table_full_total %g, expected %d",
	       text ? prom_sample(text, "tcpstate_listener_table_full_total") : -1, over);
	free(text);
	/* The closed listeners left room: the new one's child is owned. */
	r = record_find(&t, "state", cookie_by_ports(&t, m.port, m.cport, "ESTABLISHED"), -1,
			NULL);
	EXPECT(r && jstr(r, "owner_src") && strcmp(jstr(r, "owner_src"), "listener") == 0 &&
	       jint(r, "pid") == pid, "the child of a listener made after the others closed is "
	       "not owned through it by pid %lld", (long long)pid);
	json_decref(after);
	tracer_free(&t);
	unlink(mfile);
	rmdir(dir);
}

/* ---- process exit: the walk follows what is open ------------------------- */

struct exit_close {
	int port, cport, fd;
	int64_t pid;
};

/* The close record of the server end, made by the exiting process's walk. */
static json_t *exit_close_of(struct tracer_run *t, struct exit_close *x)
{
	uint64_t cookie = cookie_by_ports(t, x->port, x->cport, "ESTABLISHED");
	json_t *r;
	int idx = -1;

	while (cookie && (r = record_find(t, "close", cookie, idx, &idx)))
		if (jstr(r, "via") && strcmp(jstr(r, "via"), "exit") == 0)
			return r;
	return NULL;
}

static bool exit_close_seen(struct tracer_run *t, void *arg)
{
	return exit_close_of(t, arg) != NULL;
}

/* A socket held only at descriptor 500000 (or as high as the limit goes)
 * by a process that exits: its exit close is seen, from that descriptor. */
void t_exit_walk_high_fd(void)
{
	const char *targs[] = { "-j", NULL };
	const char *sargs[] = { "high", "max", NULL };
	struct tracer_run t = {};
	struct exit_close x = {};
	json_t *rep, *r;

	if (tracer_start(&t, targs))
		return;
	rep = scenario_run("exitwalk", sargs);
	x.port = (int)jint(rep, "port");
	x.cport = (int)jint(rep, "client_port");
	x.fd = (int)jint(rep, "fd");
	x.pid = jint(rep, "exit_pid");
	json_decref(rep);
	EXPECT(rep && x.port > 0, "scenario exitwalk high failed");
	bool seen = x.port > 0 && tracer_wait(&t, exit_close_seen, &x);

	tracer_stop(&t, SIGINT);
	if (!seen && strcmp(jstr(t.summary, "close_hook") ? jstr(t.summary, "close_hook") : "",
			    "tracepoint") == 0 && !json_is_true(json_object_get(t.summary,
										 "exit_scan"))) {
		tracer_free(&t);
		test_skip("no exit walk on this kernel (bpf_loop, 5.17) and no tcp_close hook");
		return;
	}
	check_summary(&t);
	r = exit_close_of(&t, &x);
	EXPECT(r, "no close record via exit for the socket at fd %d", x.fd);
	EXPECT(!r || (jint(r, "pid") == x.pid && json_is_true(json_object_get(r, "final"))),
	       "the exit close came from pid %lld (final %s), expected pid %lld's last reference",
	       (long long)jint(r, "pid"), json_is_true(json_object_get(r, "final")) ? "true" :
	       "false", (long long)x.pid);
	/* Only the walk knows the descriptor; tcp_close alone says null. */
	if (json_is_true(json_object_get(t.summary, "exit_scan")))
		EXPECT(!r || jint(r, "fd") == x.fd, "exit close on fd %lld, expected %d",
		       (long long)jint(r, "fd"), x.fd);
	EXPECT(jint(t.summary, "exit_scans_cut") == 0, "%lld exit walks cut short",
	       (long long)jint(t.summary, "exit_scans_cut"));
	tracer_free(&t);
}

/* The tracer's sched_exit program: its id, from the tracer's descriptors
 * (other tracers may run on the host). 0 if none. */
static __u32 exit_prog_id(pid_t tracer)
{
	char path[64], line[128];
	struct dirent *d;
	__u32 found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)tracer);
	dir = opendir(path);
	while (dir && !found && (d = readdir(dir))) {
		unsigned int id;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%.16s", (int)tracer, d->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			union bpf_attr a = {};
			struct bpf_prog_info info = {};
			int fd;

			if (sscanf(line, "prog_id: %u", &id) != 1)
				continue;
			a.prog_id = id;
			fd = (int)syscall(__NR_bpf, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a));
			if (fd < 0)
				continue;
			memset(&a, 0, sizeof(a));
			a.info.bpf_fd = (__u32)fd;
			a.info.info_len = sizeof(info);
			a.info.info = (__u64)(unsigned long)&info;
			if (!syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) &&
			    strcmp(info.name, "sched_exit") == 0)
				found = id;
			close(fd);
		}
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* The program's run time and runs so far; false if unreadable. */
static bool prog_runs(__u32 id, __u64 *ns, __u64 *cnt)
{
	union bpf_attr a = {};
	struct bpf_prog_info info = {};
	int fd;
	bool ok;

	a.prog_id = id;
	fd = (int)syscall(__NR_bpf, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a));
	if (fd < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (__u32)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (__u64)(unsigned long)&info;
	ok = !syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a));
	close(fd);
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return ok;
}

/* The program's mean run time over one churn of exitwalk; -1 on failure.
 * The mean over every run: other processes' exits on the host dilute it
 * alike in every churn. */
static double churn_cost(__u32 id, const char *fd, const char *open, json_t **rep)
{
	const char *sargs[] = { "churn", fd, "20", open, NULL };
	__u64 ns0, c0, ns1, c1;

	if (!prog_runs(id, &ns0, &c0))
		return -1;
	*rep = scenario_run("exitwalk", sargs);
	if (!*rep || !prog_runs(id, &ns1, &c1) || c1 <= c0)
		return -1;
	return (double)(ns1 - ns0) / (double)(c1 - c0);
}

/* A process whose table grew to 500,000 descriptors (or as far as the
 * limit goes) but holds four: its exit costs the walk a small part of what
 * an exit holding a quarter of the table open does. Walking every slot,
 * both cost the same. bpf_stats is on while the test holds its fd. */
void t_exit_walk_cost(void)
{
	const char *targs[] = { "-j", "-q", NULL };
	struct tracer_run t = {};
	union bpf_attr a = {};
	json_t *few = NULL, *many = NULL;
	double c_few, c_many;
	char open[24];
	int stats_fd;
	__u32 id;

	a.enable_stats.type = BPF_STATS_RUN_TIME;
	stats_fd = (int)syscall(__NR_bpf, BPF_ENABLE_STATS, &a, sizeof(a));
	CHECK(stats_fd >= 0, "BPF_ENABLE_STATS: %s", strerror(errno));
	if (tracer_start(&t, targs)) {
		close(stats_fd);
		return;
	}
	id = exit_prog_id(t.pid);
	if (!id) {
		tracer_stop(&t, SIGINT);
		tracer_free(&t);
		close(stats_fd);
		test_skip("no exit walk on this kernel (bpf_loop, Linux 5.17)");
		return;
	}
	c_few = churn_cost(id, "max", "0", &few);
	/* A quarter of the same table open, in its lowest descriptors. */
	snprintf(open, sizeof(open), "%lld", (long long)(jint(few, "fd") + 1) / 4);
	c_many = churn_cost(id, "max", open, &many);
	tracer_stop(&t, SIGINT);
	close(stats_fd);
	EXPECT(c_few > 0 && c_many > 0, "churn failed or no runs counted (%.0f, %.0f)", c_few,
	       c_many);
	printf("# exit walk, table grown to descriptor %lld: %.0f ns a run with 4 open, %.0f ns "
	       "with %s open\n", (long long)jint(few, "fd"), c_few, c_many, open);
	EXPECT(c_many >= 4 * c_few, "an exit with %s descriptors open cost %.0f ns, with 4 open "
	       "%.0f ns: the walk's cost follows the table's size, not what is open", open,
	       c_many, c_few);
	EXPECT(jint(t.summary, "exit_scans_cut") <= 0, "exit walks cut short");
	json_decref(few);
	json_decref(many);
	tracer_free(&t);
}

/* RLIMIT_NOFILE can be raised to n here (CAP_SYS_RESOURCE, or a hard
 * limit that high): tried in a child, which leaves ours alone. */
static bool nofile_allows(rlim_t n)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		struct rlimit r = { n, n };

		_exit(setrlimit(RLIMIT_NOFILE, &r) == 0 ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Exits that need more than the walk's 2^19 steps (a table of 2^20 slots,
 * 16,384 words, with 520,000 descriptors open): each is cut there and
 * counted, in the summary and its text. The child's exit and then the
 * parent's. */
void t_exit_walk_bound(void)
{
	const char *targs[] = { "-j", "-q", NULL };
	const char *sargs[] = { "churn", "1048575", "1", "520000", NULL };
	struct tracer_run t = {};
	json_t *rep;

	if (!nofile_allows(1048576)) {
		test_skip("RLIMIT_NOFILE cannot be raised to 1048576 here (CAP_SYS_RESOURCE)");
		return;
	}
	if (tracer_start(&t, targs))
		return;
	rep = scenario_run("exitwalk", sargs);
	EXPECT(rep, "scenario exitwalk churn failed");
	json_decref(rep);
	tracer_stop(&t, SIGINT);
	if (!json_is_true(json_object_get(t.summary, "exit_scan"))) {
		tracer_free(&t);
		test_skip("no exit walk on this kernel (bpf_loop, Linux 5.17)");
		return;
	}
	EXPECT(jint(t.summary, "exit_scans_cut") == 2, "summary exit_scans_cut %lld, expected 2 "
	       "(the child's exit and the parent's)", (long long)jint(t.summary, "exit_scans_cut"));
	EXPECT(t.errbuf && strstr(t.errbuf, "2 process exits had more descriptors"),
	       "stderr does not warn of the 2 exits cut: %s", t.errbuf ? t.errbuf : "");
	tracer_free(&t);
}

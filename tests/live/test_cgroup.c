// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Owners' cgroups, with cgroups the tests make under the cgroup2 mount:
 * a scenario moved into one is named by its records (path, id, container)
 * and its timeline, and -c keeps its connections and drops a process's
 * outside. The cgroups are removed afterwards, whatever the outcome. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tests.h"

/* A cgroup of the test's own: a uniquely named directory under the
 * cgroup2 mount, and optionally a leaf inside it. */
struct test_cg {
	char mount[256];
	char top[512];		/* absolute */
	char dir[768];		/* absolute: top, or its leaf */
	char rel[512];		/* dir under the mount, as records name it */
	bool made_top, made_leaf;
};

/* mkdir <mount>/tcpstate-test-<pid>-<n>[/leaf]. false, with the failure
 * recorded or the test skipped, if it could not be made. */
static bool cg_make(struct test_cg *c, int n, const char *leaf)
{
	memset(c, 0, sizeof(*c));
	if (!cgroup2_mount(c->mount, sizeof(c->mount))) {
		test_skip("no cgroup2 mount");
		return false;
	}
	snprintf(c->top, sizeof(c->top), "%s/tcpstate-test-%d-%d", c->mount, (int)getpid(), n);
	if (mkdir(c->top, 0755)) {
		check_fail(__FILE__, __LINE__, "mkdir %s: %s", c->top, strerror(errno));
		return false;
	}
	c->made_top = true;
	snprintf(c->dir, sizeof(c->dir), "%s%s%s", c->top, leaf ? "/" : "", leaf ? leaf : "");
	if (leaf && mkdir(c->dir, 0755)) {
		check_fail(__FILE__, __LINE__, "mkdir %s: %s", c->dir, strerror(errno));
		return false;
	}
	c->made_leaf = leaf != NULL;
	snprintf(c->rel, sizeof(c->rel), "%s", c->dir + strlen(c->mount));
	return true;
}

/* Move pid into the cgroup (its children to come follow it). */
static bool cg_enter(struct test_cg *c, long pid)
{
	char path[800], num[32];
	int fd, n = snprintf(num, sizeof(num), "%ld\n", pid);
	bool ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", c->dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, num, (size_t)n) == n;
	if (!ok)
		check_fail(__FILE__, __LINE__, "moving pid %ld into %s: %s", pid, c->dir,
			   strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* rmdir, retried while the exited scenario's processes leave it. */
static void rmdir_patiently(const char *dir)
{
	for (int i = 0; i < 100 && rmdir(dir) && errno == EBUSY; i++)
		usleep(20000);
}

static void cg_remove(struct test_cg *c)
{
	if (c->made_leaf)
		rmdir_patiently(c->dir);
	if (c->made_top)
		rmdir_patiently(c->top);
	EXPECT(!c->made_top || access(c->top, F_OK) != 0, "cgroup %s left behind", c->top);
}

/* The cgroup's id: its directory's inode on cgroup2. */
static int64_t cg_id(const struct test_cg *c)
{
	struct stat st;

	return stat(c->dir, &st) ? -1 : (int64_t)st.st_ino;
}

/* Start pair -w, move it into c, and run it traced with targs. 0 with the
 * report in p (decref'd by the caller), or -1. */
static int pair_in_cgroup(struct test_cg *c, struct tracer_run *t, const char *const targs[],
			  json_t **rep)
{
	const char *wargs[] = { "-w", NULL };
	struct scenario s;
	json_t *hello;
	long pid;

	*rep = NULL;
	if (scenario_start(&s, "pair", wargs)) {
		check_fail(__FILE__, __LINE__, "cannot start pair");
		return -1;
	}
	hello = scenario_read(&s);
	pid = hello ? (long)jint(hello, "server_pid") : -1;
	json_decref(hello);
	if (pid <= 0 || !cg_enter(c, pid)) {
		EXPECT(pid > 0, "pair -w did not report its pid");
		kill((pid_t)s.pid, SIGKILL);
		scenario_finish(&s);
		return -1;
	}
	if (targs)
		return scenario_go_traced(&s, t, targs, rep);
	scenario_send(&s, "go\n");
	*rep = scenario_read(&s);
	EXPECT(scenario_finish(&s), "pair scenario failed");
	return *rep ? 0 : -1;
}

static bool pair_done(struct tracer_run *t, void *arg)
{
	json_t *rep = arg;
	int port = (int)jint(rep, "port"), cport = (int)jint(rep, "client_port");

	return cookie_by_ports(t, port, 0, "CLOSE") && cookie_by_ports(t, port, cport, "CLOSE") &&
	       cookie_by_ports(t, cport, port, "TIME_WAIT");
}

/* Every record with an owner between these ports names c (id: its id);
 * returns how many there were. */
static int check_named(json_t *records, const struct test_cg *c, int64_t id, int sport,
		       int dport, const char *container)
{
	size_t i;
	json_t *r;
	int n = 0;

	json_array_foreach(records, i, r) {
		const char *cg = jstr(r, "cgroup"), *ct = jstr(r, "container");

		if (jint(r, "sport") != sport || jint(r, "dport") != dport || jnull(r, "pid"))
			continue;
		n++;
		EXPECT(jint(r, "cgroup_id") == id, "%s record %d>%d: cgroup_id %lld, the cgroup's "
		       "inode is %lld", jstr(r, "type"), sport, dport,
		       (long long)jint(r, "cgroup_id"), (long long)id);
		EXPECT(cg && strcmp(cg, c->rel) == 0, "%s record %d>%d: cgroup %s, expected %s",
		       jstr(r, "type"), sport, dport, cg ? cg : "null", c->rel);
		if (container)
			EXPECT(ct && strcmp(ct, container) == 0, "%s record: container %s, "
			       "expected %s", jstr(r, "type"), ct ? ct : "null", container);
		else
			EXPECT(jnull(r, "container"), "%s record: container %s, expected null",
			       jstr(r, "type"), ct ? ct : "?");
	}
	return n;
}

/* The timeline's server line names the cgroup in its owner. */
static void check_timeline(const char *path, const struct test_cg *c, int port, int cport,
			   const char *container)
{
	char *text = read_text_file(path), *save = NULL;
	bool seen = false;

	CHECK(text, "no timeline at %s", path);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, NULL), *own = o ? json_object_get(o, "owner") : NULL;

		if (own && jint(o, "sport") == port && jint(o, "dport") == cport) {
			seen = true;
			EXPECT(jstr(own, "cgroup") && strcmp(jstr(own, "cgroup"), c->rel) == 0,
			       "timeline owner's cgroup %s, expected %s",
			       jstr(own, "cgroup") ? jstr(own, "cgroup") : "null", c->rel);
			EXPECT(jstr(own, "container") && strcmp(jstr(own, "container"), container) == 0,
			       "timeline owner's container %s, expected %s",
			       jstr(own, "container") ? jstr(own, "container") : "null", container);
		}
		json_decref(o);
	}
	EXPECT(seen, "no timeline line for the server connection %d>%d", port, cport);
	free(text);
}

/* A 64-hex id, different in every run. */
static void make_hex_id(char out[65])
{
	unsigned long long seed = (unsigned long long)getpid() * 0x9e3779b97f4a7c15ULL ^
				  (unsigned long long)time(NULL);

	for (int i = 0; i < 64; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		out[i] = "0123456789abcdef"[(seed >> 59) & 15];
	}
	out[64] = '\0';
}

/* The connections' ports and the cgroup's id, for the replay's check. */
struct container_run {
	int port, cport;
	int64_t id;
};

/* The records and timeline name the cgroup and container throughout. */
static void check_container(json_t *records, const struct test_cg *c, const char *id,
			    const struct container_run *x)
{
	int n = check_named(records, c, x->id, x->port, x->cport, id);

	EXPECT(n >= 5, "%d owned records of the server connection, expected at least 5", n);
	n = check_named(records, c, x->id, x->cport, x->port, id);
	EXPECT(n >= 4, "%d owned records of the client connection, expected at least 4", n);
	n = check_named(records, c, x->id, x->port, 0, id);
	EXPECT(n >= 2, "%d owned records of the listener, expected at least 2", n);
}

static void container_body(struct test_cg *c, const char *id, const char *tl_path,
			   const char *rec_path, struct container_run *x)
{
	const char *targs[] = { "-j", "--timeline", tl_path, "--record", rec_path, NULL };
	struct tracer_run t = {};
	json_t *rep = NULL;

	x->id = cg_id(c);
	if (pair_in_cgroup(c, &t, targs, &rep)) {
		EXPECT(0, "pair did not run in the cgroup");
		goto out;
	}
	x->port = (int)jint(rep, "port");
	x->cport = (int)jint(rep, "client_port");
	EXPECT(tracer_wait(&t, pair_done, rep), "the pair's records did not all arrive");
	tracer_stop(&t, SIGINT);
	/* The server's side, the listener-owned records too; the client's,
	 * and the listener's. */
	check_container(t.records, c, id, x);
	check_timeline(tl_path, c, x->port, x->cport, id);
	check_summary(&t);
out:
	json_decref(rep);
	tracer_free(&t);
}

/* The recording replayed once the cgroup is gone: the names it kept. */
static void check_replay(const char *rec_path, const struct test_cg *c, const char *id,
			 const struct container_run *x)
{
	const char *argv[] = { cfg.tracer, "--replay", rec_path, "-j", NULL };
	char *out = NULL, *err = NULL, *save = NULL;
	int st = run_capture(argv, &out, &err);
	json_t *records = json_array();

	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--replay: status %d: %s",
	       WEXITSTATUS(st), err ? err : "");
	for (char *l = out ? strtok_r(out, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, NULL);

		if (o)
			json_array_append_new(records, o);
	}
	EXPECT(access(c->dir, F_OK) != 0, "the cgroup still exists: the replay proves nothing");
	check_container(records, c, id, x);
	json_decref(records);
	free(out);
	free(err);
}

/* A scenario in a cgroup shaped as docker names its containers, live and
 * in a replay after the cgroup is gone. */
void t_cgroup_container(void)
{
	char id[65], leaf[96], tl_path[] = "/tmp/tcpstate-cgtl.XXXXXX";
	char rec_path[] = "/tmp/tcpstate-cgrec.XXXXXX";
	struct container_run x = {};
	struct test_cg c;
	int fd = mkstemp(tl_path), rfd = mkstemp(rec_path);
	bool made;

	if (fd >= 0)
		close(fd);
	if (rfd >= 0)
		close(rfd);
	if (fd < 0 || rfd < 0) {
		check_fail(__FILE__, __LINE__, "mkstemp: %s", strerror(errno));
		goto out;
	}
	make_hex_id(id);
	snprintf(leaf, sizeof(leaf), "docker-%s.scope", id);
	made = cg_make(&c, 1, leaf);
	if (made)
		container_body(&c, id, tl_path, rec_path, &x);
	cg_remove(&c);
	if (made && x.port > 0)
		check_replay(rec_path, &c, id, &x);
out:
	unlink(tl_path);
	unlink(rec_path);
}

static void filter_body(struct test_cg *c)
{
	char dir[800];
	const char *targs[] = { "-j", "-c", dir, NULL };
	struct tracer_run t = {};
	json_t *out_rep = NULL, *in_rep = NULL;
	int port, cport;

	/* The cgroup's parent: descendants count, as in libbpf-tools. */
	snprintf(dir, sizeof(dir), "%s", c->top);
	if (tracer_start(&t, targs))
		return;
	/* Outside first: once the inside pair's records are in, the outside
	 * one's would have been. */
	out_rep = scenario_run("pair", NULL);
	EXPECT(out_rep, "pair outside the cgroup failed");
	if (!out_rep || pair_in_cgroup(c, NULL, NULL, &in_rep)) {
		EXPECT(out_rep == NULL || in_rep, "pair inside the cgroup failed");
		tracer_stop(&t, SIGINT);
		goto out;
	}
	port = (int)jint(in_rep, "port");
	cport = (int)jint(in_rep, "client_port");
	EXPECT(tracer_wait(&t, pair_done, in_rep), "the inside pair's records did not all arrive");
	tracer_stop(&t, SIGINT);
	EXPECT(count_ports(&t, (int)jint(out_rep, "port"), -1) == 0 &&
	       count_ports(&t, (int)jint(out_rep, "client_port"), -1) == 0,
	       "connections of a process outside the cgroup were reported");
	EXPECT(count_cookie(&t, cookie_by_ports(&t, port, cport, "ESTABLISHED")) == 5,
	       "inside server socket: %d records, expected 5",
	       count_cookie(&t, cookie_by_ports(&t, port, cport, "ESTABLISHED")));
	EXPECT(count_cookie(&t, cookie_by_ports(&t, cport, port, "ESTABLISHED")) == 5,
	       "inside client socket: %d records, expected 5",
	       count_cookie(&t, cookie_by_ports(&t, cport, port, "ESTABLISHED")));
	check_named(t.records, c, cg_id(c), port, cport, NULL);
	check_summary(&t);
out:
	json_decref(out_rep);
	json_decref(in_rep);
	tracer_free(&t);
}

/* -c PATH: only owners under that cgroup. */
void t_cgroup_filter(void)
{
	struct test_cg c;

	if (cg_make(&c, 2, "inner"))
		filter_body(&c);
	cg_remove(&c);
}

/* The snapshot's connections under -c: those its processes hold. */
static int snapshot_count(const char *dir, int64_t *listen)
{
	const char *argv[] = { cfg.tracer, "--snapshot", "-j", "-c", dir, NULL };
	char *out = NULL, *err = NULL;
	int st = run_capture(argv, &out, &err);
	json_t *snap = out ? json_loads(out, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	int64_t n = -1;

	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && snap, "--snapshot -c %s: status %d: %s",
	       dir, WEXITSTATUS(st), err ? err : "");
	if (snap) {
		n = jint(snap, "connections");
		*listen = jint(json_object_get(snap, "states"), "LISTEN");
	}
	json_decref(snap);
	free(out);
	free(err);
	return (int)n;
}

static void snapshot_body(struct test_cg *c)
{
	const char *wargs[] = { "-W", NULL };
	struct scenario s;
	json_t *rep;
	int64_t listen = -1;
	int n;

	CHECK(scenario_start(&s, "pair", wargs) == 0, "cannot start pair");
	rep = scenario_read(&s);
	if (!rep || jint(rep, "server_pid") <= 0) {
		check_fail(__FILE__, __LINE__, "pair -W did not report its pid");
		goto out;
	}
	n = snapshot_count(c->top, &listen);
	EXPECT(n == 0, "--snapshot -c of an empty cgroup: %d connections, want 0", n);
	/* The server moves in; the client, forked before, stays out. */
	if (cg_enter(c, (long)jint(rep, "server_pid"))) {
		n = snapshot_count(c->top, &listen);
		EXPECT(n == 2 && listen == 1, "--snapshot -c with the server inside: %d "
		       "connections (%lld LISTEN), want 2 (the listener and the server's)", n,
		       (long long)listen);
	}
out:
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	EXPECT(scenario_finish(&s), "pair scenario failed");
	json_decref(rep);
}

/* --snapshot -c PATH keeps the sockets the cgroup's processes hold. */
void t_cgroup_snapshot(void)
{
	struct test_cg c;

	if (cg_make(&c, 3, "inner"))
		snapshot_body(&c);
	cg_remove(&c);
}

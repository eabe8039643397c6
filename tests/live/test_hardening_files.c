// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Live tests of what a local user can plant for the tracer (issue 26):
 * output paths it must not follow, the modes of the files it makes, and
 * the capabilities it still holds once tracing (tcpstate-trace(8),
 * SECURITY). */
#include "harness.h"
#include "tests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

#define VICTIM_TEXT "precious: not the tracer's\n"
#define NOBODY 65534

#define CAP_DAC_OVERRIDE 1
#define CAP_DAC_READ_SEARCH 2
#define CAP_SYS_PTRACE 19
#define CAP_SYS_ADMIN 21
#define CAP_BPF 39
#define BIT(c) (1ULL << (c))

static bool write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

static bool victim_intact(const char *path)
{
	char *t = read_text_file(path);
	bool ok = t && strcmp(t, VICTIM_TEXT) == 0;

	free(t);
	return ok;
}

/* The tracer with args (and cfg.extra), run to its end by itself. */
static int run_tracer(const char *const args[], char **out, char **err)
{
	const char *argv[32];
	int n = 0;

	argv[n++] = cfg.tracer;
	for (int i = 0; args[i] && n < 20; i++)
		argv[n++] = args[i];
	for (int i = 0; i < cfg.nextra && n < 30; i++)
		argv[n++] = cfg.extra[i];
	argv[n] = NULL;
	return run_capture(argv, out, err);
}

/* opt PATH, where PATH is what setup made of it, must be refused before
 * tracing with a message saying why; victim keeps its text. */
static void expect_refused(const char *opt, const char *path, const char *victim,
			   const char *why)
{
	const char *args[] = { "-j", opt, path, NULL };
	char *out = NULL, *err = NULL;
	int st = run_tracer(args, &out, &err);

	EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s %s: exit status %d, expected 1; "
	       "stderr: %s", opt, path, WEXITSTATUS(st), err ? err : "");
	EXPECT(err && strstr(err, path) && strstr(err, why) && !strstr(err, "tracing TCP"),
	       "%s %s: stderr does not say '%s' before tracing: %s", opt, path, why,
	       err ? err : "");
	EXPECT(victim_intact(victim), "%s %s: the link's target %s was written", opt, path, victim);
	free(out);
	free(err);
}

static bool is_link(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISLNK(st.st_mode);
}

/* --timeline and --record: a symbolic link at PATH, a file another user
 * owns, a file with a second hard link: each refused, nothing written. */
void t_files_planted_links(void)
{
	static const char *const opts[] = { "--timeline", "--record" };
	char dir[] = "/tmp/tcpst-plant-XXXXXX", victim[64], path[64], other[64];

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	/* A directory anyone may write, as /tmp: where links get planted. */
	chmod(dir, 01777);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	CHECK(write_text(victim, VICTIM_TEXT, 0644), "cannot write %s", victim);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		snprintf(path, sizeof(path), "%s/out%zu", dir, i);
		CHECK(!symlink(victim, path), "symlink: %s", strerror(errno));
		expect_refused(opts[i], path, victim, "symbolic link");
		EXPECT(is_link(path), "%s: the planted link was removed", opts[i]);
		unlink(path);

		/* Another user's file: not truncated, not written. */
		snprintf(other, sizeof(other), "%s/other%zu", dir, i);
		CHECK(write_text(other, VICTIM_TEXT, 0644) && !chown(other, NOBODY, NOBODY),
		      "cannot make %s", other);
		expect_refused(opts[i], other, other, "belongs to uid 65534");
		unlink(other);

		/* A second name of the victim (what a hard link attack plants). */
		CHECK(!link(victim, path), "link: %s", strerror(errno));
		expect_refused(opts[i], path, victim, "hard links");
		unlink(path);
	}
	unlink(victim);
	rmdir(dir);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? (mode_t)-1 : st.st_mode;
}

static bool metrics_written(const char *path)
{
	char *t = read_text_file(path);
	bool ok = t && strstr(t, "tcpstate_build_info");

	free(t);
	return ok;
}

/* New files 0600, --metrics-file 0640, whatever the umask; an existing
 * file of root's is truncated to the same mode. --metrics-file: a link at
 * PATH is replaced, never written through, and one at the old fixed
 * temporary name PATH.tmp is left alone. */
void t_files_modes(void)
{
	char dir[] = "/tmp/tcpst-modes-XXXXXX", tl[64], rec[64], mf[64], mtmp[80], victim[64],
	     victim2[64];
	const char *targs[] = { "-j", "-q", "-i", "1", "--timeline", tl, "--record", rec,
				"--metrics-file", mf, NULL };
	struct tracer_run t = { 0 };
	mode_t old;

	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	chmod(dir, 01777);
	snprintf(tl, sizeof(tl), "%s/t.json", dir);
	snprintf(rec, sizeof(rec), "%s/r.rec", dir);
	snprintf(mf, sizeof(mf), "%s/m.prom", dir);
	snprintf(mtmp, sizeof(mtmp), "%s.tmp", mf);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(victim2, sizeof(victim2), "%s/victim2", dir);
	CHECK(write_text(victim, VICTIM_TEXT, 0644) && write_text(victim2, VICTIM_TEXT, 0644),
	      "cannot write the victims");
	/* The attack of the issue: the old fixed temporary name, planted. */
	CHECK(!symlink(victim, mtmp) && !symlink(victim2, mf), "symlink: %s", strerror(errno));
	/* An earlier run's timeline, world-readable: truncated to 0600. */
	CHECK(write_text(tl, "old timeline\n", 0666) && !chmod(tl, 0666), "cannot write %s", tl);
	/* The widest umask: the modes must not come from it. */
	old = umask(0);
	int started = tracer_start(&t, targs);

	umask(old);
	if (started)
		goto out;
	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000;
	     mono_now_ns() < end && !metrics_written(mf); usleep(50000))
		;
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d; stderr: %s", t.status,
	       t.errbuf ? t.errbuf : "");
	EXPECT(victim_intact(victim), "the link at %s led the tracer to write %s", mtmp, victim);
	EXPECT(victim_intact(victim2), "the link at %s led the tracer to write %s", mf, victim2);
	EXPECT(is_link(mtmp), "%s: the planted link was touched", mtmp);
	EXPECT(S_ISREG(mode_of(mf)) && (mode_of(mf) & 07777) == 0640 && metrics_written(mf),
	       "%s: mode %o, want a regular file 0640 with the metrics", mf, mode_of(mf) & 07777);
	EXPECT(S_ISREG(mode_of(tl)) && (mode_of(tl) & 07777) == 0600, "%s: mode %o, want 0600", tl,
	       mode_of(tl) & 07777);
	EXPECT(S_ISREG(mode_of(rec)) && (mode_of(rec) & 07777) == 0600, "%s: mode %o, want 0600",
	       rec, mode_of(rec) & 07777);
	char *text = read_text_file(tl);

	/* Empty, or this run's lines only. */
	EXPECT(!text || !strstr(text, "old timeline"), "%s was not truncated", tl);
	free(text);
	/* No temporary file left behind. */
	char cmd[160], *out = NULL, *err = NULL;
	const char *ls[] = { "/bin/sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c '^m\\.prom\\.tmp\\.'", dir);
	run_capture(ls, &out, &err);
	EXPECT(out && atoi(out) == 0, "%s temporary metrics files left in %s", out, dir);
	free(out);
	free(err);
out:
	tracer_free(&t);
	unlink(tl);
	unlink(rec);
	unlink(mf);
	unlink(mtmp);
	unlink(victim);
	unlink(victim2);
	rmdir(dir);
}

/* A capability set of /proc/PID[/task/TID]/status. */
static bool cap_field(const char *status_path, const char *field, uint64_t *v)
{
	char *t = read_text_file(status_path), *p;
	bool ok = false;

	if (t && (p = strstr(t, field)))
		ok = sscanf(p + strlen(field), ":\t%llx", (unsigned long long *)v) == 1;
	free(t);
	return ok;
}

/* The tracer's thread at nice 10: the metrics server (metrics_export.c).
 * Its tid, or 0. */
static int niced_thread(pid_t pid)
{
	char path[64], *t;
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && !found && (de = readdir(d))) {
		int tid = atoi(de->d_name);

		if (tid <= 0 || tid == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
		t = read_text_file(path);
		char *r = t ? strrchr(t, ')') : NULL;
		long nice = 0;

		/* The space before field f + 1 (state is 3, nice 19). */
		for (int f = 2; r && f < 19; f++)
			r = strchr(r + 1, ' ');
		if (r && sscanf(r + 1, "%ld", &nice) == 1 && nice == 10)
			found = tid;
		free(t);
	}
	if (d)
		closedir(d);
	return found;
}

struct ports {
	int sport, dport;
};

static bool alerted(struct tracer_run *t, void *arg)
{
	struct ports *p = arg;
	uint64_t c = cookie_by_ports(t, p->sport, p->dport, "ESTABLISHED");

	return c && record_find(t, "alert", c, -1, NULL);
}

/* Whether this kernel refuses a map read to a process without CAP_BPF
 * and CAP_SYS_ADMIN (before 6.5 with kernel.unprivileged_bpf_disabled set,
 * unless a stable update relaxed it): tried here, on a map of our own, by
 * a child that drops every capability. */
static bool bpf_reads_need_cap(void)
{
	union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8,
			     .max_entries = 1 };
	struct rlimit was, inf = { RLIM_INFINITY, RLIM_INFINITY };
	int fd, st = 0;
	pid_t pid;

	/* Before 5.11 maps are charged to the user's locked memory, which
	 * the last test's tracer may still hold while its maps are freed. */
	getrlimit(RLIMIT_MEMLOCK, &was);
	setrlimit(RLIMIT_MEMLOCK, &inf);
	fd = (int)syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	setrlimit(RLIMIT_MEMLOCK, &was);
	if (fd < 0) {
		check_fail(__FILE__, __LINE__, "cannot create a map to try a read: %s", strerror(errno));
		return false;
	}
	pid = fork();
	if (pid == 0) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2] = { 0 };
		uint32_t key = 0;
		uint64_t val;
		union bpf_attr l = { .map_fd = (uint32_t)fd, .key = (uintptr_t)&key,
				     .value = (uintptr_t)&val };

		if (syscall(SYS_capset, &h, d))
			_exit(2);
		if (!syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &l, sizeof(l)))
			_exit(0);
		_exit(errno == EPERM ? 1 : 2);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	close(fd);
	return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

static void expect_caps(const char *what, const char *status, uint64_t eff, uint64_t prm)
{
	uint64_t e = ~0ULL, p = ~0ULL, b = ~0ULL, nnp = 0;

	EXPECT(cap_field(status, "CapEff", &e) && cap_field(status, "CapPrm", &p) &&
	       cap_field(status, "CapBnd", &b), "%s: no capability sets in %s", what, status);
	EXPECT(e == eff, "%s: CapEff %016llx, expected %016llx", what, (unsigned long long)e,
	       (unsigned long long)eff);
	EXPECT(p == prm, "%s: CapPrm %016llx, expected %016llx", what, (unsigned long long)p,
	       (unsigned long long)prm);
	EXPECT(b == prm, "%s: CapBnd %016llx, expected %016llx", what, (unsigned long long)b,
	       (unsigned long long)prm);
	EXPECT(cap_field(status, "CapInh", &e) && !e && cap_field(status, "CapAmb", &p) && !p,
	       "%s: inheritable or ambient capabilities left", what);
	char *t = read_text_file(status), *n = t ? strstr(t, "NoNewPrivs:") : NULL;

	EXPECT(n && sscanf(n, "NoNewPrivs:\t%llu", (unsigned long long *)&nnp) == 1 && nnp == 1,
	       "%s: no_new_privs not set", what);
	free(t);
}

/* Once tracing, the reader holds what the holder scan and the cgroup
 * names use (and CAP_BPF where map reads need it), --all-netns adds
 * CAP_SYS_ADMIN to the permitted set only (raised for setns), and
 * --metrics-file CAP_DAC_OVERRIDE (raised for the rename); the metrics
 * server thread holds nothing. The tracer still finds the holders of a
 * socket another user's process leaked. */
static void privs_run(bool all_netns)
{
	char dir[] = "/tmp/tcpst-privs-XXXXXX", mf[64], listen[32], status[64], tstatus[80];
	int port = free_port(AF_INET);
	const char *targs[] = { "-j", "--close-wait-alert", "1", "--metrics", listen,
				"--metrics-file", mf, all_netns ? "--all-netns" : NULL, NULL };
	const char *sargs[] = { "fork", "65534", NULL };
	uint64_t eff = BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SYS_PTRACE), prm;
	struct tracer_run t = { 0 };
	struct scenario s;
	json_t *rep = NULL;
	int tid;

	CHECK(mkdtemp(dir) && port > 0, "no temporary directory or free port");
	snprintf(mf, sizeof(mf), "%s/m.prom", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	if (bpf_reads_need_cap()) {
		eff |= BIT(CAP_BPF);
		printf("#   note: map reads need CAP_BPF on this kernel: kept\n");
	}
	prm = eff | BIT(CAP_DAC_OVERRIDE) | (all_netns ? BIT(CAP_SYS_ADMIN) : 0);
	if (tracer_start(&t, targs))
		goto out;
	snprintf(status, sizeof(status), "/proc/%d/status", (int)t.pid);
	expect_caps("the reader", status, eff, prm);
	/* The server thread lowers itself (capabilities, then nice) when it
	 * first runs, which on one CPU may be after the tracer says it traces. */
	tid = 0;
	for (int64_t end = mono_now_ns() + (int64_t)cfg.timeout_ms * 1000000;
	     !tid && mono_now_ns() < end; usleep(20000))
		tid = niced_thread(t.pid);
	EXPECT(tid > 0, "no metrics server thread (nice 10) found");
	snprintf(tstatus, sizeof(tstatus), "/proc/%d/task/%d/status", (int)t.pid, tid);
	if (tid > 0)
		expect_caps("the metrics server thread", tstatus, 0, 0);

	/* The features that use what is kept: another user's leak, its
	 * holder found through /proc/PID/fd. */
	if (scenario_start(&s, "closepath", sargs) || !(rep = scenario_read(&s))) {
		check_fail(__FILE__, __LINE__, "closepath fork as uid 65534 did not reach CLOSE_WAIT");
		goto out;
	}
	int sport = (int)jint(rep, "port"), cport = (int)jint(rep, "client_port");
	int64_t holder = jint(rep, "holder_pid");
	struct ports p = { sport, cport };
	json_t *alert = NULL;

	EXPECT(tracer_wait(&t, alerted, &p), "no CLOSE_WAIT alert for the uid 65534 server");
	alert = record_find(&t, "alert", cookie_by_ports(&t, sport, cport, "ESTABLISHED"), -1, NULL);
	json_t *h, *hs = alert ? json_object_get(alert, "holders") : NULL;
	size_t i;
	bool named = false;

	json_array_foreach(hs, i, h)
		named = named || jint(h, "pid") == holder;
	EXPECT(named, "the alert does not name uid 65534's holder %lld", (long long)holder);
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	scenario_finish(&s);
	/* Still the same sets after the holder scan, the census and the
	 * metrics file's renames. */
	expect_caps("the reader after the scan", status, eff, prm);
	EXPECT(exited_ok(tracer_stop(&t, SIGINT)), "tracer exit status %d; stderr: %s", t.status,
	       t.errbuf ? t.errbuf : "");
	EXPECT(metrics_written(mf), "no metrics file %s", mf);
out:
	json_decref(rep);
	tracer_free(&t);
	unlink(mf);
	rmdir(dir);
}

void t_privs_dropped(void)
{
	privs_run(false);
}

void t_privs_dropped_all_netns(void)
{
	privs_run(true);
}

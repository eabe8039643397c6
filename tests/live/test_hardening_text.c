// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What untrusted text and a shared standard output can do to the tracer's
 * text: a process that names itself with terminal controls, in a cgroup
 * whose service name carries them too, reaches no terminal through any
 * text output (the table, the alert, the histograms, the summary, a
 * replay); and --record - keeps its recording alone on standard output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* Sets the terminal's title, then clears the screen. */
#define EVIL "\x1b]2;pwn\x07\x1b[2J"
#define EVIL_SHOWN "\\x1b]2;pwn\\x07\\x1b[2J"
#define SERVICE "x" EVIL ".service"

/* The first control byte other than a newline in s (n bytes): its offset,
 * or -1. A byte of a UTF-8 C1 control (0xc2 0x80-0x9f) counts. */
static long control_at(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++)
		if ((u[i] < 0x20 && u[i] != '\n') || u[i] == 0x7f ||
		    (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f))
			return (long)i;
	return -1;
}

/* Fails the test (without returning) when out has a control byte. */
static void expect_no_control(const char *what, const char *s, size_t n)
{
	long at = control_at(s, n);

	EXPECT(at < 0, "%s: control byte 0x%02x at %ld: ...%.40s", what,
	       at < 0 ? 0 : (unsigned char)s[at], at, at < 0 ? "" : s + (at > 20 ? at - 20 : 0));
}

/* rmdir, retried while the exited scenario's processes leave it. */
static void rmdir_patiently(const char *dir)
{
	for (int i = 0; i < 100 && rmdir(dir) && errno == EBUSY; i++)
		usleep(20000);
}

static bool has_alert_text(struct tracer_run *t, void *arg)
{
	return t->outbuf && strstr(t->outbuf, "ALERT CLOSE_WAIT");
}

/* Every text output of a live run, then of its replay. */
void t_text_escape(void)
{
	char mount[256], top[512], dir[1024], rec[] = "/tmp/tcpstate-esc-XXXXXX";
	const char *targs[] = { "-T", "--close-wait-alert", "1", "--hist-by", "comm",
				"--record", rec, NULL };
	const char *sargs[] = { "-N", EVIL, "-C", dir, "fork", NULL };
	struct tracer_run t = {};
	struct scenario s = { .pid = 0 };
	char *out = NULL, *err = NULL;
	json_t *rep = NULL;
	int fd = mkstemp(rec);

	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	if (!cgroup2_mount(mount, sizeof(mount))) {
		test_skip("no cgroup2 mount");
		unlink(rec);
		return;
	}
	snprintf(top, sizeof(top), "%s/tcpstate-test-%d-esc", mount, (int)getpid());
	snprintf(dir, sizeof(dir), "%s/%s", top, SERVICE);
	if (mkdir(top, 0755) || mkdir(dir, 0755)) {
		check_fail(__FILE__, __LINE__, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (tracer_start(&t, targs))
		goto out;
	t.raw = true;	/* every byte kept, not only the lines that are text */
	if (scenario_start(&s, "closepath", sargs) || !(rep = scenario_read(&s))) {
		check_fail(__FILE__, __LINE__, "closepath fork did not reach CLOSE_WAIT");
		goto out;
	}
	EXPECT(tracer_wait(&t, has_alert_text, NULL), "no CLOSE_WAIT alert within %d ms",
	       cfg.timeout_ms);
	/* Stopped while the socket is still in CLOSE_WAIT: the summary names
	 * its owner. */
	tracer_stop(&t, SIGINT);
	scenario_send(&s, "go\n");
	json_decref(scenario_read(&s));
	EXPECT(scenario_finish(&s), "closepath fork failed");
	s.pid = 0;

	expect_no_control("stdout", t.outbuf ? t.outbuf : "", t.outlen);
	expect_no_control("stderr", t.errbuf ? t.errbuf : "", t.errlen);
	if (!t.outbuf || !t.errbuf) {
		check_fail(__FILE__, __LINE__, "no output");
		goto out;
	}
	/* The table, the alert (the closer, the holder, the service) and the
	 * histograms' group. */
	EXPECT(strstr(t.outbuf, " " EVIL_SHOWN " "), "no escaped comm in the table: %.300s",
	       t.outbuf);
	EXPECT(strstr(t.outbuf, "ALERT CLOSE_WAIT in service " "x" EVIL_SHOWN ".service for"),
	       "the alert does not name the service escaped: %s", strstr(t.outbuf, "ALERT"));
	EXPECT(strstr(t.outbuf, "(" EVIL_SHOWN ") called close()") &&
	       strstr(t.outbuf, "(" EVIL_SHOWN ") still holds it"),
	       "the alert does not name closer and holder escaped: %s", strstr(t.outbuf, "ALERT"));
	EXPECT(strstr(t.outbuf, "comm = " EVIL_SHOWN "\n"), "no escaped --hist-by comm group");
	EXPECT(strstr(t.errbuf, "most CLOSE_WAIT: " EVIL_SHOWN " "),
	       "the summary does not name the CLOSE_WAIT owner escaped: %s", t.errbuf);

	/* The replay prints the same names from the recording. */
	{
		const char *argv[] = { cfg.tracer, "--replay", rec, "--close-wait-alert", "1",
				       "--hist-by", "comm", NULL };
		int st = run_capture(argv, &out, &err);

		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "replay failed: %s", err);
		expect_no_control("replay stdout", out, strlen(out));
		expect_no_control("replay stderr", err, strlen(err));
		EXPECT(strstr(out, " " EVIL_SHOWN " ") &&
		       strstr(out, "ALERT CLOSE_WAIT in service x" EVIL_SHOWN ".service for") &&
		       strstr(out, "comm = " EVIL_SHOWN "\n"), "replay: names not escaped: %s\n%s", out, err);
	}
out:
	if (s.pid > 0) {
		kill(s.pid, SIGKILL);
		scenario_finish(&s);
	}
	json_decref(rep);
	tracer_free(&t);
	rmdir_patiently(dir);
	rmdir_patiently(top);
	EXPECT(access(top, F_OK) != 0, "cgroup %s left behind", top);
	unlink(rec);
	free(out);
	free(err);
}

/* ---- --record - ----------------------------------------------------------- */

/* The tracer with args and cfg.extra, its standard output into the file
 * out_fd, its standard error into a pipe (*err_fd). */
static pid_t start_to_file(const char *const args[], int out_fd, int *err_fd)
{
	const char *argv[64];
	int n = 0, p[2];
	pid_t pid;

	argv[n++] = cfg.tracer;
	for (int i = 0; args[i] && n < 50; i++)
		argv[n++] = args[i];
	for (int i = 0; i < cfg.nextra; i++)
		argv[n++] = cfg.extra[i];
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(out_fd, 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	*err_fd = p[0];
	return pid;
}

/* Read fd into *buf (at *len) until want is in it, EOF, or ms pass. */
static bool read_until(int fd, char **buf, size_t *len, const char *want, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec now;
		char chunk[4096];
		ssize_t got;
		long left;

		if (want && *buf && strstr(*buf, want))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		got = read(fd, chunk, sizeof(chunk));
		if (got <= 0)
			return !want;
		*buf = realloc(*buf, *len + (size_t)got + 1);
		memcpy(*buf + *len, chunk, (size_t)got);
		*len += (size_t)got;
		(*buf)[*len] = '\0';
	}
}

/* `--record - > FILE`: the file replays whole; the text went to stderr. */
void t_record_stdout(void)
{
	char path[] = "/tmp/tcpstate-recout-XXXXXX", want[64];
	const char *targs[] = { "--record", "-", NULL };
	char *errtext = NULL, *out = NULL, *err = NULL;
	size_t errlen = 0;
	int fd = mkstemp(path), errfd = -1, st;
	json_t *rep = NULL;
	pid_t pid;

	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	pid = start_to_file(targs, fd, &errfd);
	close(fd);
	if (pid < 0 || !read_until(errfd, &errtext, &errlen, "tracing TCP state transitions",
				   cfg.timeout_ms)) {
		check_fail(__FILE__, __LINE__, "tracer did not start: %s", errtext ? errtext : "");
		goto out;
	}
	rep = scenario_run("pair", NULL);
	if (!rep || jint(rep, "port") <= 0) {
		check_fail(__FILE__, __LINE__, "pair scenario failed");
		goto out;
	}
	/* The text that would have gone to stdout is on stderr: wait for the
	 * server's CLOSE_WAIT line there, so the record is in the file. */
	snprintf(want, sizeof(want), "127.0.0.1:%lld ", (long long)jint(rep, "port"));
	EXPECT(read_until(errfd, &errtext, &errlen, "ESTABLISHED -> CLOSE_WAIT", cfg.timeout_ms),
	       "no event lines on stderr: %s", errtext);
	kill(pid, SIGINT);
	read_until(errfd, &errtext, &errlen, NULL, cfg.timeout_ms);
	EXPECT(waitpid(pid, &st, 0) == pid && exited_ok(st), "tracer exit status %d", st);
	pid = 0;
	EXPECT(errtext && strstr(errtext, "snapshot: ") && strstr(errtext, want),
	       "snapshot and event lines not on stderr: %s", errtext);
	{
		const char *argv[] = { cfg.tracer, "--replay", path, "-j", NULL };

		st = run_capture(argv, &out, &err);
		EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "replay of stdout failed (%d): %s",
		       WEXITSTATUS(st), err);
		EXPECT(!strstr(err, "damaged"), "replay: %s", err);
		snprintf(want, sizeof(want), "\"sport\":%lld,", (long long)jint(rep, "port"));
		EXPECT(strstr(out, want) && strstr(out, "\"new\":\"CLOSE_WAIT\""),
		       "the replay lacks the pair's records (%s): %s", want, out);
	}
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (errfd >= 0)
		close(errfd);
	json_decref(rep);
	unlink(path);
	free(errtext);
	free(out);
	free(err);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Live test harness: runs the real tracer as a child process against real
 * sockets made by scenario programs, and checks its records. Static, so the
 * same binary runs on the host and in the kernel-matrix VMs. */
#ifndef HARNESS_H
#define HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct harness_cfg {
	const char *tracer;		/* path to tcpstate-trace */
	const char *scenarios;		/* directory of scenario programs */
	const char *extra[8];		/* extra tracer options for every run */
	int nextra;
	int timeout_ms;			/* how long to wait for an expected record */
};
extern struct harness_cfg cfg;

/* --- checks ----------------------------------------------------------- */
/* A failed check records the failure and returns from the test. */
void check_fail(const char *file, int line, const char *fmt, ...);
extern int check_failed;
/* The test cannot run here (a tool is missing): reported as skipped. */
void test_skip(const char *why);
extern const char *skip_reason;
#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);      \
			return;                                           \
		}                                                         \
	} while (0)
/* Record a failure but keep going (for listing every mismatch). */
#define EXPECT(cond, ...)                                                 \
	do {                                                              \
		if (!(cond))                                              \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);      \
	} while (0)

/* --- the tracer ------------------------------------------------------- */
struct tracer_run {
	pid_t pid;
	int out_fd, err_fd;	/* -1 once closed */
	char *outbuf, *errbuf;	/* unconsumed stdout bytes; all of stderr */
	size_t outlen, errlen;
	json_t *records;	/* every JSON line read from stdout, in order */
	json_t *arrivals;	/* when each was read (CLOCK_MONOTONIC ns), by index */
	size_t nlines;		/* stdout lines, JSON or not */
	json_t *summary;	/* the summary record, once stopped */
	int status;		/* wait status, once stopped */
	bool json;
	bool raw;		/* keep stdout as text in outbuf (run_capture) */
};

/* Start the tracer with args (NULL-terminated) plus cfg.extra, and wait for
 * its "tracing" line on stderr. Returns 0, or -1 with the reason checked. */
int tracer_start(struct tracer_run *t, const char *const args[]);
/* Read stdout until pred(t, arg) holds or cfg.timeout_ms passes. */
bool tracer_wait(struct tracer_run *t, bool (*pred)(struct tracer_run *, void *), void *arg);
/* Send sig, read everything to EOF, reap. Returns the wait status. */
int tracer_stop(struct tracer_run *t, int sig);
void tracer_free(struct tracer_run *t);
/* When the harness read record rec from the tracer's stdout (CLOCK_MONOTONIC
 * ns, the clock of the records' mono_ns); -1 if rec is not one of its. */
int64_t record_arrival(struct tracer_run *t, json_t *rec);
/* CLOCK_MONOTONIC now, in ns. */
int64_t mono_now_ns(void);
/* Close our end of its stdout, as `| head` does. */
void tracer_close_stdout(struct tracer_run *t);
/* Wait up to cfg.timeout_ms for the process to exit; true if it did. */
bool tracer_reap(struct tracer_run *t);

/* Run a program with args (NULL-terminated), stdin/stdout/stderr captured;
 * returns the wait status, fills out/err (malloc'd, NUL-terminated). */
int run_capture(const char *const argv[], char **out, char **err);
/* The TIME_WAIT sockets of this network namespace with remote port port,
 * as the kernel lists them: with ss where it is installed, else from
 * /proc/net/tcp and tcp6 (the VM guests have no ss). *how names the source.
 * -1 if neither could be read. */
int kernel_tw_count(int port, const char **how);
/* The same as user uid, with no capabilities. */
int run_capture_as(int uid, const char *const argv[], char **out, char **err);

/* --- scenarios -------------------------------------------------------- */
struct scenario {
	pid_t pid;
	int in_fd, out_fd;
	char buf[4096];
	size_t len;
};
/* Start tests/scenario/<name> with args (NULL-terminated). */
int scenario_start(struct scenario *s, const char *name, const char *const args[]);
/* Next JSON line of its stdout, or NULL on EOF/timeout/garbage. */
json_t *scenario_read(struct scenario *s);
void scenario_send(struct scenario *s, const char *line);
/* Reap; true if it exited 0. */
bool scenario_finish(struct scenario *s);
/* A scenario that waits on stdin (-w/-W) and has said it is ready: start
 * the tracer with args, say go, read the report into *rep and reap. 0, or
 * -1 when the tracer did not start (the scenario is reaped either way). */
int scenario_go_traced(struct scenario *s, struct tracer_run *t, const char *const args[],
		       json_t **rep);
/* Start, read its one report line, and reap: the whole run. */
json_t *scenario_run(const char *name, const char *const args[]);

/* The ports a scenario reported: "port" (the server's) and "client_port". */
struct scenario_ports {
	int port, cport;
};
/* tracer_wait() predicates on a struct scenario_ports: the server's end of
 * the connection reached CLOSE; both ends did. */
bool server_end_closed(struct tracer_run *t, void *arg);
bool both_ends_closed(struct tracer_run *t, void *arg);
/* A pair scenario's sockets have all ended: listener and server in CLOSE,
 * the client in TIME_WAIT. */
bool pair_ended(struct tracer_run *t, void *arg);
/* Run a scenario to its end, take its ports into *p and wait until
 * pred(t, p) holds. false (the failure recorded) if either does not. */
bool scenario_run_until(struct tracer_run *t, const char *name, const char *const args[],
			bool (*pred)(struct tracer_run *, void *), struct scenario_ports *p);

/* --- records ---------------------------------------------------------- */
int64_t jint(json_t *o, const char *key);	/* -1 if absent or not an integer */
const char *jstr(json_t *o, const char *key);	/* NULL if absent or not a string */
bool jnull(json_t *o, const char *key);		/* present and null */

/* State records of one connection, in order. */
json_t *records_of_cookie(struct tracer_run *t, uint64_t cookie);
/* Cookie of the first state record with these ports and new state, or 0. */
uint64_t cookie_by_ports(struct tracer_run *t, int sport, int dport, const char *newstate);
/* Count state records of one connection (0 for cookie 0). */
int count_cookie(struct tracer_run *t, uint64_t cookie);
/* Count state records matching sport/dport (-1: any). */
int count_ports(struct tracer_run *t, int sport, int dport);
/* "CLOSE>SYN_SENT ESTABLISHED>..." of a record list, for messages. */
const char *transitions_str(json_t *list, char *buf, size_t len);

/* The running kernel's release is major.minor or later. */
bool kernel_at_least(int major, int minor);

/* The summary record agrees with the records before it, and nothing was lost. */
void check_summary(struct tracer_run *t);
bool exited_ok(int status);

/* The first record of type with this cookie, after index from (-1: any);
 * its index in *idx. NULL if none. */
json_t *record_find(struct tracer_run *t, const char *type, uint64_t cookie, int from, int *idx);

/* Program runs the kernel skipped, as the summary owns up to them: those
 * it counted ("missed") and the transitions found missing ("gaps": kernels
 * before 6.7 skip classic tracepoints without counting). */
int64_t tracer_runs_lost(struct tracer_run *t);
/* The kernel counts every skipped run (the summary's missed_counted). */
bool tracer_counts_missed(struct tracer_run *t);

/* One of this connection's own state records is marked gap: it says some
 * of its transitions were not seen. false for cookie 0. */
bool cookie_says_gap(struct tracer_run *t, uint64_t cookie);
/* A "gone" record ends the connection with that cookie: its end was never
 * reported, and the kernel no longer had it. */
bool cookie_gone(struct tracer_run *t, uint64_t cookie);

/* got (the transitions of list, one connection's records) equals want
 * ("A>B C>D ..."), or, when one of that connection's own records is marked
 * gap, got is want with some transitions left out: missing records are
 * acceptable only where the connection itself says so, never because the
 * run lost something somewhere else. */
bool transitions_match(struct tracer_run *t, json_t *list, const char *got, const char *want);

/* A free TCP port on loopback (bound and released). */
int free_port(int family);

/* A whole file, NUL-terminated (malloc'd), or NULL. */
char *read_text_file(const char *path);
/* In Prometheus text: the value of the line that is series (name and
 * labels, exactly) then a space; -1 if there is none. */
double prom_sample(const char *text, const char *series);

/* The cgroup2 mount point from mountinfo (it may be /sys/fs/cgroup/unified);
 * false if there is none. */
bool cgroup2_mount(char *buf, size_t len);
/* An alert's "holders" array names pid holding fd. */
bool holder_in(json_t *holders, int64_t pid, int64_t fd);

#endif /* HARNESS_H */

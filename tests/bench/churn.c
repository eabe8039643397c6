// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * churn: loopback TCP connection churn for the benchmark (tests/bench/run-bench).
 *
 * Churn modes: --servers threads each accept on their own listener
 * (127.0.0.1, a free port the kernel picks); --clients threads connect to
 * them round-robin, optionally write one byte, and end the connection:
 *
 *   graceful  the client writes its byte, the server reads it and closes
 *             first; the client reads EOF and closes. Server side:
 *             ESTABLISHED > FIN_WAIT1 > FIN_WAIT2 > (TIME_WAIT); client side:
 *             CLOSE_WAIT > LAST_ACK > CLOSE. TIME_WAIT therefore sits on the
 *             server's 4-tuple, not on an ephemeral port the clients need:
 *             the port range is not exhausted at high rates.
 *   reset     the client closes with SO_LINGER {1,0}: an RST, no TIME_WAIT
 *             anywhere. The cheapest cycle; the highest rates.
 *
 * Hold mode (--mode hold --connections N): opens N connections (2N sockets,
 * both ends in worker processes of at most RLIMIT_NOFILE/2 connections each,
 * each worker with its own listener per 10000 connections), prints a JSON
 * line, holds them until SIGINT, SIGTERM or --duration, then closes them with
 * RSTs (no TIME_WAIT pile-up), both at --rate if given. Several destination ports let one ephemeral
 * port serve several connections, so the default port range suffices.
 *
 * Output: one JSON line on stdout (hold mode: one when the connections are
 * open, one when they are released). Exit 0, 1 on failure to set up, 2 on
 * bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_GRACEFUL, MODE_RESET, MODE_HOLD };

static const char *mode_name[] = { "graceful", "reset", "hold" };

struct opts {
	double duration_s;
	int clients;
	int servers;		/* 0: default (1 for churn, N/10000 for hold) */
	enum mode mode;
	double rate;		/* connections/s over all clients; 0: flat out */
	int write;		/* write one byte per connection */
	long connections;	/* hold mode */
};

static struct opts o = {
	.duration_s = 10, .clients = 2, .servers = 0, .mode = MODE_GRACEFUL,
	.rate = 0, .write = 1, .connections = 10000,
};

static struct sockaddr_in *srv_addr;	/* one per listener */
static int *lfds;
static int nlisteners;

static atomic_bool stopping;
static volatile sig_atomic_t got_signal;

/* Counters, summed at the end. */
struct client_stats {
	uint64_t conns, connect_errors, io_errors;
	int first_errno;
	const char *first_what;
};

struct server_stats {
	uint64_t accepted, errors;
	int first_errno;
	const char *first_what;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - (time_t)t) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void note_err(int *first_errno, const char **first_what, const char *what, int err)
{
	if (!*first_errno) {
		*first_errno = err;
		*first_what = what;
	}
}

static void json_str(const char *key, const char *what, int err)
{
	if (!err) {
		printf(",\"%s\":null", key);
		return;
	}
	/* strerror texts and our labels hold no characters needing escapes. */
	printf(",\"%s\":\"%s: %s\"", key, what, strerror(err));
}

static int set_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static int open_listener(struct sockaddr_in *addr)
{
	int one = 1;
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr->sin_port = 0;
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- churn ---- */

struct server_arg {
	int lfd;
	struct server_stats st;
	pthread_t th;
};

static void *server_main(void *p)
{
	struct server_arg *a = p;
	struct timeval tmo = { .tv_sec = 5 };

	for (;;) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (atomic_load(&stopping))
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			a->st.errors++;
			note_err(&a->st.first_errno, &a->st.first_what, "accept", errno);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				usleep(1000);
			else if (errno == EINVAL || errno == EBADF)
				break;	/* listener shut down */
			continue;
		}
		a->st.accepted++;
		/* A bound on any wait: a lost peer must not stall the run. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
		if (o.mode == MODE_RESET || o.write) {
			char b;
			/* Reset mode: the byte, then the RST (or the RST only). */
			ssize_t n = recv(fd, &b, 1, 0);

			if (n < 0 && errno != ECONNRESET) {
				a->st.errors++;
				note_err(&a->st.first_errno, &a->st.first_what, "server recv", errno);
			}
		}
		close(fd);	/* graceful: the server's FIN goes first */
	}
	return NULL;
}

struct client_arg {
	int idx;
	double start, end;
	struct client_stats st;
	pthread_t th;
};

static void *client_main(void *p)
{
	struct client_arg *a = p;
	double interval = o.rate > 0 ? o.clients / o.rate : 0;
	double next = a->start + (interval > 0 ? interval * a->idx / o.clients : 0);
	unsigned k = (unsigned)a->idx;
	struct timeval tmo = { .tv_sec = 5 };

	for (;;) {
		double t = now_s();

		if (t >= a->end || got_signal)
			break;
		if (interval > 0) {
			/* Fixed schedule; a client more than 100 ms behind drops
			 * the backlog rather than bursting to catch up. */
			if (next < t - 0.1)
				next = t;
			if (next > t)
				sleep_until(next);
			next += interval;
			if (now_s() >= a->end)
				break;
		}
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			a->st.connect_errors++;
			note_err(&a->st.first_errno, &a->st.first_what, "socket", errno);
			usleep(1000);
			continue;
		}
		const struct sockaddr_in *sa = &srv_addr[k++ % (unsigned)nlisteners];

		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
			a->st.connect_errors++;
			note_err(&a->st.first_errno, &a->st.first_what, "connect", errno);
			close(fd);
			if (errno == EADDRNOTAVAIL || errno == EAGAIN)
				usleep(1000);	/* ports exhausted: let some expire */
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
		if (o.write) {
			char b = 'x';

			if (send(fd, &b, 1, MSG_NOSIGNAL) != 1) {
				a->st.io_errors++;
				note_err(&a->st.first_errno, &a->st.first_what, "send", errno);
			}
		}
		if (o.mode == MODE_GRACEFUL) {
			char buf[16];
			ssize_t n;

			/* Wait for the server's FIN: it closes first. */
			while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
				;
			if (n < 0) {
				a->st.io_errors++;
				note_err(&a->st.first_errno, &a->st.first_what, "client recv", errno);
			}
		} else {
			set_linger0(fd);
		}
		close(fd);
		a->st.conns++;
	}
	return NULL;
}

static int run_churn(void)
{
	struct server_arg *sv = calloc((size_t)nlisteners, sizeof(*sv));
	struct client_arg *cl = calloc((size_t)o.clients, sizeof(*cl));
	struct client_stats ct = {};
	struct server_stats stt = {};
	double start, end, t_end;

	if (!sv || !cl) {
		fprintf(stderr, "churn: out of memory\n");
		return 1;
	}
	for (int i = 0; i < nlisteners; i++) {
		sv[i].lfd = lfds[i];
		if (pthread_create(&sv[i].th, NULL, server_main, &sv[i])) {
			fprintf(stderr, "churn: pthread_create failed\n");
			return 1;
		}
	}
	start = now_s() + 0.01;
	end = start + o.duration_s;
	for (int i = 0; i < o.clients; i++) {
		cl[i].idx = i;
		cl[i].start = start;
		cl[i].end = end;
		if (pthread_create(&cl[i].th, NULL, client_main, &cl[i])) {
			fprintf(stderr, "churn: pthread_create failed\n");
			return 1;
		}
	}
	sleep_until(start);
	for (int i = 0; i < o.clients; i++) {
		pthread_join(cl[i].th, NULL);
		ct.conns += cl[i].st.conns;
		ct.connect_errors += cl[i].st.connect_errors;
		ct.io_errors += cl[i].st.io_errors;
		if (!ct.first_errno && cl[i].st.first_errno) {
			ct.first_errno = cl[i].st.first_errno;
			ct.first_what = cl[i].st.first_what;
		}
	}
	t_end = now_s();
	atomic_store(&stopping, true);
	for (int i = 0; i < nlisteners; i++)
		shutdown(sv[i].lfd, SHUT_RDWR);	/* wakes accept() */
	for (int i = 0; i < nlisteners; i++) {
		pthread_join(sv[i].th, NULL);
		close(sv[i].lfd);
		stt.accepted += sv[i].st.accepted;
		stt.errors += sv[i].st.errors;
		if (!stt.first_errno && sv[i].st.first_errno) {
			stt.first_errno = sv[i].st.first_errno;
			stt.first_what = sv[i].st.first_what;
		}
	}

	double dur = t_end - start;

	printf("{\"type\":\"churn\",\"mode\":\"%s\",\"clients\":%d,\"servers\":%d,\"write\":%s,"
	       "\"rate_target\":%.0f,\"duration_s\":%.3f,\"connections\":%llu,"
	       "\"conns_per_s\":%.1f,\"errors\":%llu,\"connect_errors\":%llu,"
	       "\"io_errors\":%llu,\"server_accepted\":%llu,\"server_errors\":%llu",
	       mode_name[o.mode], o.clients, nlisteners, o.write ? "true" : "false", o.rate, dur,
	       (unsigned long long)ct.conns, dur > 0 ? ct.conns / dur : 0.0,
	       (unsigned long long)(ct.connect_errors + ct.io_errors + stt.errors),
	       (unsigned long long)ct.connect_errors, (unsigned long long)ct.io_errors,
	       (unsigned long long)stt.accepted, (unsigned long long)stt.errors);
	json_str("first_client_error", ct.first_what, ct.first_errno);
	json_str("first_server_error", stt.first_what, stt.first_errno);
	printf("}\n");
	fflush(stdout);
	free(sv);
	free(cl);
	(void)end;
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

/* A worker must not outlive the parent (a killed benchmark). */
static void prctl_pdeathsig(void)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		raise(SIGTERM);
}

/* ---- hold ---- */

/*
 * One process may hold only RLIMIT_NOFILE descriptors, and without
 * CAP_SYS_RESOURCE the hard limit cannot be raised; so the connections are
 * spread over worker processes, each with its own listener(s) on free ports
 * and at most (hard limit - 64) / 2 connections. Each worker reports on a
 * pipe when its connections are open and when they are released.
 */
struct hold_report {
	long opened, errors;
	int first_errno;
	char first_what[16];
	double secs;
};

static void report_err(struct hold_report *r, const char *what, int err)
{
	r->errors++;
	if (!r->first_errno) {
		r->first_errno = err;
		snprintf(r->first_what, sizeof(r->first_what), "%s", what);
	}
}

static void write_report(int fd, const struct hold_report *r)
{
	ssize_t n = write(fd, r, sizeof(*r));

	(void)n;
}

/* Paces a loop at interval seconds per step (0: no pacing). */
static void pace(double *next, double interval)
{
	double t;

	if (interval <= 0)
		return;
	t = now_s();
	if (*next < t - 0.1)
		*next = t;
	if (*next > t)
		sleep_until(*next);
	*next += interval;
}

static int hold_worker(long n, double interval, int outfd)
{
	struct hold_report r = {};
	int nl = (int)((n + 9999) / 10000);
	int *cfd = malloc((size_t)n * sizeof(int)), *sfd = malloc((size_t)n * sizeof(int));
	int *lf = calloc((size_t)nl, sizeof(int));
	struct sockaddr_in *la = calloc((size_t)nl, sizeof(*la));
	double t0 = now_s(), next = t0;

	if (!cfd || !sfd || !lf || !la) {
		report_err(&r, "malloc", ENOMEM);
		write_report(outfd, &r);
		return 1;
	}
	for (int i = 0; i < nl; i++) {
		lf[i] = open_listener(&la[i]);
		if (lf[i] < 0) {
			report_err(&r, "listen", errno);
			write_report(outfd, &r);
			return 1;
		}
	}
	for (long i = 0; i < n && !got_signal; i++) {
		int l = (int)(i % nl);

		pace(&next, interval);
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (c < 0) {
			report_err(&r, "socket", errno);
			break;
		}
		if (connect(c, (struct sockaddr *)&la[l], sizeof(la[l]))) {
			report_err(&r, "connect", errno);
			close(c);
			break;
		}
		int s = accept4(lf[l], NULL, NULL, SOCK_CLOEXEC);

		if (s < 0) {
			report_err(&r, "accept", errno);
			set_linger0(c);
			close(c);
			break;
		}
		cfd[r.opened] = c;
		sfd[r.opened] = s;
		r.opened++;
	}
	r.secs = now_s() - t0;
	write_report(outfd, &r);

	while (!got_signal)
		usleep(50000);

	t0 = next = now_s();
	for (long i = 0; i < r.opened; i++) {
		pace(&next, interval);
		set_linger0(cfd[i]);	/* RST: no TIME_WAIT for 2N sockets */
		close(cfd[i]);
		close(sfd[i]);
	}
	for (int i = 0; i < nl; i++)
		close(lf[i]);
	r.secs = now_s() - t0;
	write_report(outfd, &r);
	return 0;
}

static int read_report(int fd, struct hold_report *r)
{
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int run_hold(void)
{
	struct rlimit rl;
	long n = o.connections, per;
	int nw;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		perror("churn: getrlimit");
		return 1;
	}
	/* Soft up to hard needs no privilege. */
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	per = rl.rlim_max == RLIM_INFINITY ? n : ((long)rl.rlim_max - 64) / 2;
	if (o.servers)	/* --servers in hold mode: that many worker processes */
		per = (n + o.servers - 1) / o.servers < per ? (n + o.servers - 1) / o.servers : per;
	if (per < 1) {
		fprintf(stderr, "churn: RLIMIT_NOFILE too low to hold connections\n");
		return 1;
	}
	nw = (int)((n + per - 1) / per);

	pid_t *pids = calloc((size_t)nw, sizeof(*pids));
	int *rfd = calloc((size_t)nw, sizeof(*rfd));

	if (!pids || !rfd) {
		fprintf(stderr, "churn: out of memory\n");
		return 1;
	}
	double t0 = now_s();

	for (int w = 0; w < nw; w++) {
		int p[2];
		long share = n / nw + (w < n % nw ? 1 : 0);

		if (pipe(p)) {
			perror("churn: pipe");
			return 1;
		}
		fflush(stdout);
		pids[w] = fork();
		if (pids[w] < 0) {
			perror("churn: fork");
			return 1;
		}
		if (pids[w] == 0) {
			close(p[0]);
			prctl_pdeathsig();
			/* --rate: over all workers, opening and closing alike. */
			_exit(hold_worker(share, o.rate > 0 ? nw / o.rate : 0, p[1]));
		}
		close(p[1]);
		rfd[w] = p[0];
	}

	struct hold_report tot = {}, r;
	int failed = 0;

	for (int w = 0; w < nw; w++) {
		if (read_report(rfd[w], &r)) {
			failed++;
			continue;
		}
		tot.opened += r.opened;
		tot.errors += r.errors;
		if (!tot.first_errno && r.first_errno) {
			tot.first_errno = r.first_errno;
			memcpy(tot.first_what, r.first_what, sizeof(tot.first_what));
		}
	}
	double t_open = now_s();

	printf("{\"type\":\"held\",\"requested\":%ld,\"connections\":%ld,\"sockets\":%ld,"
	       "\"processes\":%d,\"open_s\":%.3f,\"errors\":%ld,\"workers_failed\":%d",
	       n, tot.opened, 2 * tot.opened, nw, t_open - t0, tot.errors, failed);
	json_str("first_error", tot.first_what, tot.first_errno);
	printf("}\n");
	fflush(stdout);

	double until = o.duration_s > 0 ? t_open + o.duration_s : 0;

	while (!got_signal && (until == 0 || now_s() < until))
		usleep(20000);

	double t1 = now_s();

	for (int w = 0; w < nw; w++)
		kill(pids[w], SIGTERM);
	for (int w = 0; w < nw; w++) {
		read_report(rfd[w], &r);
		close(rfd[w]);
		waitpid(pids[w], NULL, 0);
	}
	printf("{\"type\":\"released\",\"connections\":%ld,\"close_s\":%.3f}\n", tot.opened,
	       now_s() - t1);
	fflush(stdout);
	free(pids);
	free(rfd);
	return tot.opened ? 0 : 1;
}

/* ---- main ---- */


static void usage(FILE *f)
{
	fprintf(f,
		"Usage: churn [OPTION...]\n"
		"Loopback TCP connection churn for benchmarks; prints one JSON line.\n\n"
		"  --duration SECS    how long to churn (default 10); hold mode: how long to\n"
		"                     hold (default 0: until SIGINT/SIGTERM)\n"
		"  --clients N        client threads (default 2)\n"
		"  --servers N        server threads, one listener each on a free port\n"
		"                     (default 1; hold mode: at least N worker processes)\n"
		"  --mode MODE        graceful (server closes first, client answers the FIN),\n"
		"                     reset (client closes with SO_LINGER {1,0}), or hold\n"
		"  --rate N           target connections/s over all clients (0: flat out);\n"
		"                     hold mode: the pace of opening and of closing\n"
		"  --write 0|1        write one byte per connection (default 1)\n"
		"  --connections N    hold mode: connections to open and hold (default 10000)\n"
		"  -h, --help         this text\n");
}

static int parse_num(const char *s, double min, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'c' },
		{ "servers", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "connections", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool duration_set = false;
	int c;
	double v;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_num(optarg, 0, &o.duration_s))
				goto bad;
			duration_set = true;
			break;
		case 'c':
			if (parse_num(optarg, 1, &v) || v > 4096)
				goto bad;
			o.clients = (int)v;
			break;
		case 's':
			if (parse_num(optarg, 1, &v) || v > 4096)
				goto bad;
			o.servers = (int)v;
			break;
		case 'm':
			if (!strcmp(optarg, "graceful"))
				o.mode = MODE_GRACEFUL;
			else if (!strcmp(optarg, "reset"))
				o.mode = MODE_RESET;
			else if (!strcmp(optarg, "hold"))
				o.mode = MODE_HOLD;
			else
				goto bad;
			break;
		case 'r':
			if (parse_num(optarg, 0, &o.rate))
				goto bad;
			break;
		case 'w':
			if (strcmp(optarg, "0") && strcmp(optarg, "1"))
				goto bad;
			o.write = optarg[0] == '1';
			break;
		case 'n':
			if (parse_num(optarg, 1, &v) || v > 10000000)
				goto bad;
			o.connections = (long)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (o.mode == MODE_HOLD && !duration_set)
		o.duration_s = 0;
	nlisteners = o.servers ? o.servers : 1;

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (o.mode == MODE_HOLD)
		return run_hold();
	srv_addr = calloc((size_t)nlisteners, sizeof(*srv_addr));
	lfds = calloc((size_t)nlisteners, sizeof(*lfds));
	if (!srv_addr || !lfds) {
		fprintf(stderr, "churn: out of memory\n");
		return 1;
	}
	for (int i = 0; i < nlisteners; i++) {
		lfds[i] = open_listener(&srv_addr[i]);
		if (lfds[i] < 0) {
			fprintf(stderr, "churn: listener on 127.0.0.1: %s\n", strerror(errno));
			return 1;
		}
	}
	return run_churn();
bad:
	usage(stderr);
	return 2;
}

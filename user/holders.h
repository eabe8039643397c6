/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which processes hold a socket open, found in /proc as `ss -p` does. */
#ifndef HOLDERS_H
#define HOLDERS_H

#include <stdbool.h>
#include <stdint.h>

#define HOLDERS_MAX 8

struct holder {
	int pid;
	int ppid;
	int fd;
	char comm[16];
};

struct holder_query {
	uint64_t ino;			/* socket inode to look for */
	int n;				/* holders found (all, even past HOLDERS_MAX) */
	struct holder h[HOLDERS_MAX];
};

/* What the scans walked, added up: for the summary and the metrics. */
struct holder_scan_stats {
	uint64_t scans;		/* passes over /proc */
	uint64_t procs;		/* process directories read */
	uint64_t fds;		/* descriptors read */
	uint64_t ns;		/* time spent (CLOCK_MONOTONIC) */
	uint64_t max_ns;	/* the longest pass */
};

/* One pass over /proc/PID/fd for every process, filling each query. q is
 * sorted by ino in place. Returns 0, or -errno if /proc cannot be read.
 * st (if set) gets the pass added. */
int holders__scan(struct holder_query *q, int nq, const char *proc_root,
		  struct holder_scan_stats *st);
/* a += b */
void holder_scan_stats__add(struct holder_scan_stats *a, const struct holder_scan_stats *b);

/* A way to run holders__scan that a live source hands the engine: started
 * with the queries, taken once over, so it may run off the caller's thread
 * (holder_job.h). */
struct holder_finder {
	/* Look for the holders of q[0..n-1]; q is the scan's until take()
	 * says it is over. 0, or -errno when no scan could start. */
	int (*start)(void *ctx, struct holder_query *q, int n);
	/* True once the scan is over (wait: blocks until it is), with *err
	 * its result (0, or -errno when /proc could not be read) and st what
	 * it read; false while it runs, or when none was started. */
	bool (*take)(void *ctx, bool wait, int *err, struct holder_scan_stats *st);
	void *ctx;
};

#endif /* HOLDERS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which processes hold a socket open, found in /proc as `ss -p` does. */
#ifndef HOLDERS_H
#define HOLDERS_H

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

#endif /* HOLDERS_H */

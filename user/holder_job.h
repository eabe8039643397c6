/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A holder scan (holders__scan) on a thread of its own: on a host of
 * 100,000 descriptors one takes most of a second, which the ring's reader
 * spends reading instead. The engine gets it as a holder_finder. */
#ifndef HOLDER_JOB_H
#define HOLDER_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "holders.h"

struct holder_job {
	pthread_t thread;
	bool running;		/* started, not yet taken */
	atomic_bool done;	/* the thread's work is over */
	struct holder_query *q;	/* the caller's, the thread's while it runs */
	int n;
	int err;
	struct holder_scan_stats st;
	const char *proc_root;	/* NULL: /proc */
};

/* 0, -EBUSY while one runs, or -errno when no thread could be made. */
int holder_job__start(struct holder_job *j, struct holder_query *q, int n);
/* A finished scan: true, the job idle again, *err its result and *st what
 * it read. False while it runs (wait: until it ends) or when none was
 * started. */
bool holder_job__take(struct holder_job *j, bool wait, int *err, struct holder_scan_stats *st);
/* The job as the engine takes it. */
void holder_job__finder(struct holder_job *j, struct holder_finder *f);

#endif /* HOLDER_JOB_H */

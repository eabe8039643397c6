// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "holder_job.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Below the reader and the host's own work: a busy CPU delays an alert,
 * never a record. */
#define SCAN_NICE 10

static void *scan_thread(void *arg)
{
	struct holder_job *j = arg;

	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SCAN_NICE);
	j->err = holders__scan(j->q, j->n, j->proc_root, &j->st);
	atomic_store_explicit(&j->done, true, memory_order_release);
	return NULL;
}

int holder_job__start(struct holder_job *j, struct holder_query *q, int n)
{
	sigset_t all, old;
	int r;

	if (j->running)
		return -EBUSY;
	j->q = q;
	j->n = n;
	j->err = 0;
	memset(&j->st, 0, sizeof(j->st));
	atomic_store(&j->done, false);
	/* Signals stay the reader's: a Ctrl-C wakes its poll at once. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->thread, NULL, scan_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	j->running = true;
	return 0;
}

bool holder_job__take(struct holder_job *j, bool wait, int *err, struct holder_scan_stats *st)
{
	if (!j->running || (!wait && !atomic_load_explicit(&j->done, memory_order_acquire)))
		return false;
	pthread_join(j->thread, NULL);
	j->running = false;
	*err = j->err;
	*st = j->st;
	return true;
}

static int finder_start(void *ctx, struct holder_query *q, int n)
{
	return holder_job__start(ctx, q, n);
}

static bool finder_take(void *ctx, bool wait, int *err, struct holder_scan_stats *st)
{
	return holder_job__take(ctx, wait, err, st);
}

void holder_job__finder(struct holder_job *j, struct holder_finder *f)
{
	*f = (struct holder_finder){ .start = finder_start, .take = finder_take, .ctx = j };
}

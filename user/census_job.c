// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "census_job.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "privs.h"
#include "snapshot.h"

static void *census_thread(void *arg)
{
	struct census_job *j = arg;
	uint64_t ptrace = PRIVS_CAP(CAP_SYS_PTRACE_NR), admin = PRIVS_CAP(CAP_SYS_ADMIN_NR);
	char why[128];

	/* A dump needs no capability in the tracer's own namespace; in every
	 * namespace, /proc/PID/ns/net of any process and setns() (raised by
	 * the thread that calls it). */
	if (privs__limit(j->all_netns ? ptrace : 0, j->all_netns ? ptrace | admin : 0, why,
			 sizeof(why))) {
		j->err = -EPERM;
		atomic_store_explicit(&j->done, true, memory_order_release);
		return NULL;
	}
	j->err = snapshot__census(j->all_netns, &j->census);
	atomic_store_explicit(&j->done, true, memory_order_release);
	return NULL;
}

int census_job__start(struct census_job *j, bool all_netns, uint64_t now_ns)
{
	sigset_t all, old;
	int r;

	if (j->running)
		return -EBUSY;
	memset(&j->census, 0, sizeof(j->census));
	j->all_netns = all_netns;
	j->started_ns = now_ns;
	j->err = 0;
	atomic_store(&j->done, false);
	/* Signals stay the reader's: a Ctrl-C wakes its poll at once. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->thread, NULL, census_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	j->running = true;
	return 0;
}

bool census_job__running(const struct census_job *j)
{
	return j->running;
}

bool census_job__take(struct census_job *j, bool wait, struct sock_census *out,
		      uint64_t *started_ns, int *err)
{
	if (!j->running || (!wait && !atomic_load_explicit(&j->done, memory_order_acquire)))
		return false;
	pthread_join(j->thread, NULL);
	j->running = false;
	*err = j->err;
	*started_ns = j->started_ns;
	if (!j->err)
		*out = j->census;
	memset(&j->census, 0, sizeof(j->census));
	return true;
}

void census_job__cancel(struct census_job *j)
{
	struct sock_census k = { 0 };
	uint64_t at;
	int err;

	if (census_job__take(j, true, &k, &at, &err) && !err)
		sock_census__free(&k);
}

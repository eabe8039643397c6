/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A sock_diag census (snapshot__census) taken on a thread of its own: the
 * ring's reader keeps reading while the kernel lists every socket, which on
 * a host of a million sockets takes longer than the ring lasts. */
#ifndef CENSUS_JOB_H
#define CENSUS_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sock_key.h"

struct census_job {
	pthread_t thread;
	bool running;		/* started, not yet taken */
	atomic_bool done;	/* the thread's work is over */
	bool all_netns;
	uint64_t started_ns;	/* CLOCK_MONOTONIC before the dump began */
	int err;
	struct sock_census census;
};

/* Starts the census at now_ns (the caller's clock__mono_now()). 0, -EBUSY
 * while one runs, or -errno when no thread could be made. */
int census_job__start(struct census_job *j, bool all_netns, uint64_t now_ns);
bool census_job__running(const struct census_job *j);
/* A finished census: true, the job idle again, *err its result and, when
 * 0, the census moved to out (the caller's to sock_census__free) and
 * *started_ns its start. False while it runs (wait: until it ends) or when
 * none was started. */
bool census_job__take(struct census_job *j, bool wait, struct sock_census *out,
		      uint64_t *started_ns, int *err);
/* Waits for a running census and throws it away. */
void census_job__cancel(struct census_job *j);

#endif /* CENSUS_JOB_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The census taken on its own thread, against a real loopback listener
 * made here: found by its cookie once the job is taken, and the job's
 * states (none, running, taken) hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "census_job.h"
#include "clock.h"
#include "u64_set.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

/* A loopback listener and its SO_COOKIE. */
static int listener(uint64_t *cookie)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(*cookie);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
	return fd;
}

static void finds_a_listener(void **state)
{
	struct census_job j = { 0 };
	struct sock_census k = { 0 };
	uint64_t cookie, at = 0, t0 = clock__mono_now();
	int fd = listener(&cookie), err = -1;

	assert_int_equal(census_job__start(&j, false, t0), 0);
	assert_true(census_job__running(&j));
	assert_int_equal(census_job__start(&j, false, t0), -EBUSY);
	assert_true(census_job__take(&j, true, &k, &at, &err));
	assert_false(census_job__running(&j));
	assert_int_equal(err, 0);
	assert_true(at == t0);
	assert_true(u64_set__has(k.alive, k.nalive, cookie));
	assert_false(u64_set__has(k.tw, k.ntw, cookie));
	sock_census__free(&k);
	close(fd);
}

/* Not started, or taken already: nothing to take; a poll without waiting
 * takes it only once the thread is done. */
static void take_without_start(void **state)
{
	struct census_job j = { 0 };
	struct sock_census k = { 0 };
	uint64_t at;
	int err, polls = 0;

	assert_false(census_job__take(&j, false, &k, &at, &err));
	assert_false(census_job__take(&j, true, &k, &at, &err));
	assert_int_equal(census_job__start(&j, false, clock__mono_now()), 0);
	while (!census_job__take(&j, false, &k, &at, &err)) {
		assert_true(census_job__running(&j));
		assert_true(++polls < 100000);
		usleep(100);
	}
	assert_int_equal(err, 0);
	sock_census__free(&k);
	assert_false(census_job__take(&j, false, &k, &at, &err));
	census_job__cancel(&j);		/* none running: a no-op */
}

static void cancel_running(void **state)
{
	struct census_job j = { 0 };

	assert_int_equal(census_job__start(&j, false, clock__mono_now()), 0);
	census_job__cancel(&j);
	assert_false(census_job__running(&j));
	assert_int_equal(census_job__start(&j, false, clock__mono_now()), 0);
	census_job__cancel(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_a_listener),
		cmocka_unit_test(take_without_start),
		cmocka_unit_test(cancel_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

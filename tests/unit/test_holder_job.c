// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The holder scan on its own thread, against the real /proc: a socket made
 * here is found held by this process once the job is taken, and the job's
 * states (none, running, taken) hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder_job.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

static void finds_our_socket(void **state)
{
	struct holder_job j = { 0 };
	struct holder_finder f;
	struct holder_scan_stats st;
	struct holder_query q[2];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), dupfd, err = 1;
	struct stat sb;

	assert_true(fd >= 0);
	dupfd = dup(fd);
	assert_int_equal(fstat(fd, &sb), 0);
	q[0] = (struct holder_query){ .ino = sb.st_ino };
	q[1] = (struct holder_query){ .ino = 1 };	/* no socket has it */
	holder_job__finder(&j, &f);
	assert_false(f.take(f.ctx, true, &err, &st));	/* none started */
	assert_int_equal(f.start(f.ctx, q, 2), 0);
	assert_int_equal(f.start(f.ctx, q, 2), -EBUSY);
	assert_true(f.take(f.ctx, true, &err, &st));
	assert_int_equal(err, 0);
	assert_int_equal(q[0].ino, 1);	/* sorted */
	assert_int_equal(q[0].n, 0);
	assert_int_equal(q[1].n, 2);	/* fd and its dup */
	assert_int_equal(q[1].h[0].pid, getpid());
	assert_true(q[1].h[0].fd == fd || q[1].h[0].fd == dupfd);
	assert_int_equal(st.scans, 1);
	assert_true(st.procs >= 1 && st.fds >= 2 && st.ns > 0 && st.max_ns == st.ns);
	assert_false(f.take(f.ctx, false, &err, &st));	/* taken: idle again */
	close(fd);
	close(dupfd);
}

static void proc_unreadable(void **state)
{
	struct holder_job j = { .proc_root = "/nonexistent-proc" };
	struct holder_query q = { .ino = 5 };
	struct holder_scan_stats st;
	int err = 0;

	assert_int_equal(holder_job__start(&j, &q, 1), 0);
	assert_true(holder_job__take(&j, true, &err, &st));
	assert_int_equal(err, -ENOENT);
	assert_int_equal(st.scans, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_our_socket),
		cmocka_unit_test(proc_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

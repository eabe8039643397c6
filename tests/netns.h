/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A network namespace of the caller's own with only lo up, for the tests
 * that make real sockets: no other test's sockets, TIME_WAIT leftovers,
 * ports or sysctls reach them, however busy the host is. */
#ifndef TESTS_NETNS_H
#define TESTS_NETNS_H

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* 0, or -1 with errno set and *what naming the step that failed. */
static inline int netns__fresh(const char **what)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, err;

	*what = "unshare(CLONE_NEWNET)";
	if (unshare(CLONE_NEWNET))
		return -1;
	*what = "bringing lo up in the new namespace";
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	err = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!err) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		err = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return err ? -1 : 0;
}

#endif /* TESTS_NETNS_H */

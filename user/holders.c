// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "holders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int by_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct holder_query *)a)->ino;
	uint64_t y = ((const struct holder_query *)b)->ino;

	return x < y ? -1 : x > y;
}

static int num(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end || v > 0x7fffffff ? -1 : (int)v;
}

/* comm and ppid from /proc/PID/stat: "pid (comm) state ppid ..."; comm may
 * hold spaces and parentheses, so take the last ')'. */
static void read_stat(int dirfd, struct holder *h)
{
	char buf[512], *l, *r;
	int fd = openat(dirfd, "stat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	strcpy(h->comm, "?");
	h->ppid = 0;
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	l = strchr(buf, '(');
	r = strrchr(buf, ')');
	if (!l || !r || r < l)
		return;
	snprintf(h->comm, sizeof(h->comm), "%.*s", (int)(r - l - 1), l + 1);
	if (r[1] == ' ' && r[2] && r[3] == ' ')
		h->ppid = atoi(r + 4);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void holder_scan_stats__add(struct holder_scan_stats *a, const struct holder_scan_stats *b)
{
	a->scans += b->scans;
	a->procs += b->procs;
	a->fds += b->fds;
	a->ns += b->ns;
	if (b->max_ns > a->max_ns)
		a->max_ns = b->max_ns;
}

static void scan_pid(int procfd, int pid, const char *name, struct holder_query *q, int nq,
		     struct holder_scan_stats *st)
{
	char link[64];
	int dirfd, fdfd;
	DIR *d;
	struct dirent *de;

	dirfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	fdfd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!d) {
		if (fdfd >= 0)
			close(fdfd);
		close(dirfd);
		return;
	}
	st->procs++;
	while ((de = readdir(d))) {
		struct holder_query key, *hit;
		ssize_t n;
		int fd = num(de->d_name);

		if (fd < 0)
			continue;
		st->fds++;
		n = readlinkat(fdfd, de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) != 0)
			continue;
		key.ino = strtoull(link + 8, NULL, 10);
		hit = bsearch(&key, q, (size_t)nq, sizeof(*q), by_ino);
		if (!hit)
			continue;
		if (hit->n < HOLDERS_MAX) {
			struct holder *h = &hit->h[hit->n];

			h->pid = pid;
			h->fd = fd;
			read_stat(dirfd, h);
		}
		hit->n++;
	}
	closedir(d);
	close(dirfd);
}

int holders__scan(struct holder_query *q, int nq, const char *proc_root,
		  struct holder_scan_stats *total)
{
	struct holder_scan_stats st = { .scans = 1 };
	uint64_t t0 = mono_ns();
	int procfd;
	DIR *d;
	struct dirent *de;

	for (int i = 0; i < nq; i++)
		q[i].n = 0;
	qsort(q, (size_t)nq, sizeof(*q), by_ino);
	procfd = open(proc_root ? proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	d = fdopendir(dup(procfd));
	if (!d) {
		int e = -errno;

		close(procfd);
		return e;
	}
	while ((de = readdir(d))) {
		int pid = num(de->d_name);

		if (pid > 0)
			scan_pid(procfd, pid, de->d_name, q, nq, &st);
	}
	closedir(d);
	close(procfd);
	st.ns = st.max_ns = mono_ns() - t0;
	if (total)
		holder_scan_stats__add(total, &st);
	return 0;
}

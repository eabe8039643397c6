// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

/* The descriptor a name stands for ("-", /dev/stdout, /dev/fd/N), or -1
 * when it names a path. */
static int named_fd(const char *path)
{
	const char *n = NULL;
	char *end;
	long fd;

	if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout"))
		return STDOUT_FILENO;
	if (!strcmp(path, "/dev/stderr"))
		return STDERR_FILENO;
	if (!strncmp(path, "/dev/fd/", 8))
		n = path + 8;
	else if (!strncmp(path, "/proc/self/fd/", 14))
		n = path + 14;
	if (!n || *n < '0' || *n > '9')
		return -1;
	fd = strtol(n, &end, 10);
	return *end || fd > 65535 ? -1 : (int)fd;
}

static int refuse(char *err, size_t errlen, const char *path, const char *why, int e)
{
	snprintf(err, errlen, "%s %s", path, why);
	return -e;
}

/* What an existing PATH may be, as fstat() saw it through fd. */
static int check_existing(const struct stat *st, const char *path, char *err, size_t errlen)
{
	if (S_ISLNK(st->st_mode))
		return refuse(err, errlen, path, "is a symbolic link: not followed (name the file "
			      "itself, or - for standard output)", ELOOP);
	if (S_ISCHR(st->st_mode))
		return 0;
	if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode))
		return refuse(err, errlen, path, "is not a regular file, a FIFO or a device",
			      S_ISDIR(st->st_mode) ? EISDIR : EINVAL);
	if (st->st_uid != geteuid()) {
		snprintf(err, errlen, "%s exists and belongs to uid %u, not to the tracer's (%u): "
			 "not overwritten", path, (unsigned)st->st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (S_ISREG(st->st_mode) && st->st_nlink != 1)
		return refuse(err, errlen, path, "has other hard links: not overwritten", EMLINK);
	return 0;
}

/* An existing PATH: looked at through an O_PATH descriptor of it (not of
 * what a link names), then opened for writing through that very inode. */
static int open_existing(const char *path, mode_t mode, char *err, size_t errlen)
{
	char self[64];
	struct stat st;
	int pfd, fd, e;

	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return refuse(err, errlen, path, strerror(errno), errno);
	if (fstat(pfd, &st)) {
		e = errno;
		close(pfd);
		return refuse(err, errlen, path, strerror(e), e);
	}
	if ((e = check_existing(&st, path, err, errlen))) {
		close(pfd);
		return e;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	e = errno;
	close(pfd);
	if (fd < 0)
		return refuse(err, errlen, path, strerror(e), e);
	if (S_ISREG(st.st_mode) && (ftruncate(fd, 0) || fchmod(fd, mode))) {
		e = errno;
		close(fd);
		return refuse(err, errlen, path, strerror(e), e);
	}
	return fd;
}

int outfile__open(const char *path, mode_t mode, bool *owned, char *err, size_t errlen)
{
	int fd = named_fd(path);

	*owned = false;
	if (fd >= 0) {
		if (fcntl(fd, F_GETFD) < 0)
			return refuse(err, errlen, path, "is not an open descriptor", EBADF);
		return fd;
	}
	*owned = true;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd >= 0) {
		/* Exactly mode, whatever the umask. */
		if (fchmod(fd, mode)) {
			int e = errno;

			close(fd);
			return refuse(err, errlen, path, strerror(e), e);
		}
		return fd;
	}
	if (errno != EEXIST)
		return refuse(err, errlen, path, strerror(errno), errno);
	return open_existing(path, mode, err, errlen);
}

/* ---- replaced whole ---------------------------------------------------- */

int outfile__atomic_open(struct outfile_atomic *a, const char *path, mode_t mode, char *err,
			 size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct stat st;
	size_t dlen = slash ? (size_t)(slash - path) : 0;

	a->dirfd = -1;
	a->mode = mode;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (dlen == 0)
		snprintf(dir, sizeof(dir), "/");
	else if (dlen >= sizeof(dir))
		return refuse(err, errlen, path, "is too long", ENAMETOOLONG);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)dlen, path);
	/* Room for the temporary name's suffix too. */
	if (snprintf(a->base, sizeof(a->base), "%s", slash ? slash + 1 : path) >=
		    (int)sizeof(a->base) - 16 || !a->base[0] || !strcmp(a->base, ".") ||
	    !strcmp(a->base, ".."))
		return refuse(err, errlen, path, "is not a file name", EINVAL);
	a->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		snprintf(err, errlen, "%s: cannot open its directory: %s", path, strerror(errno));
		return -errno;
	}
	if (!fstatat(a->dirfd, a->base, &st, AT_SYMLINK_NOFOLLOW) && !S_ISREG(st.st_mode) &&
	    !S_ISLNK(st.st_mode)) {
		outfile__atomic_close(a);
		return refuse(err, errlen, path, "is not a regular file", EINVAL);
	}
	return 0;
}

/* A name no one has: BASE.tmp.XXXXXX, created with O_EXCL. */
static int create_temp(struct outfile_atomic *a, char *name, size_t len)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[6];
		char s[7];
		int fd;

		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return -EIO;
		for (int i = 0; i < 6; i++)
			s[i] = abc[r[i] % (sizeof(abc) - 1)];
		s[6] = '\0';
		snprintf(name, len, "%s.tmp.%s", a->base, s);
		fd = openat(a->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    a->mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int outfile__atomic_write(struct outfile_atomic *a, const char *text, size_t len)
{
	char name[sizeof(a->base) + 16];
	bool raised;
	int fd, e;

	if (a->dirfd < 0)
		return -EBADF;
	/* A directory root does not own may need CAP_DAC_OVERRIDE: held only
	 * for these calls, where the tracer has it at all. */
	raised = privs__raise(PRIVS_FILE_CAP);

	fd = create_temp(a, name, sizeof(name));
	e = fd < 0 ? fd : 0;
	if (!e && fchmod(fd, a->mode))
		e = -errno;
	if (!e)
		e = write_all(fd, text, len);
	if (fd >= 0 && close(fd) && !e)
		e = -errno;
	if (!e && renameat(a->dirfd, name, a->dirfd, a->base))
		e = -errno;
	if (e && fd >= 0)
		unlinkat(a->dirfd, name, 0);
	if (raised)
		privs__lower(PRIVS_FILE_CAP);
	return e;
}

void outfile__atomic_close(struct outfile_atomic *a)
{
	if (a->dirfd >= 0)
		close(a->dirfd);
	a->dirfd = -1;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every file the tracer writes is opened here, and none through a path an
 * unprivileged user could have planted (tcpstate-trace(8), SECURITY):
 * - "-", /dev/stdout, /dev/stderr and /dev/fd/N name descriptors the
 *   tracer already has: used as such, no path is opened;
 * - any other symbolic link at PATH is refused (never followed);
 * - an existing PATH is written only when it is a regular file of the
 *   tracer's own user with one link (truncated), a FIFO of that user, or a
 *   character device (/dev/null, a terminal); else refused;
 * - a new file is created with O_EXCL, mode exactly as asked.
 * The atomic files (--metrics-file) are written to a fresh name made with
 * O_EXCL in PATH's directory (opened once, at start) and renamed over
 * PATH: a symbolic link at PATH is replaced, never written through. */
#ifndef OUTFILE_H
#define OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OUTFILE_MODE 0600		/* --timeline, --record */
#define OUTFILE_MODE_SHARED 0640	/* --metrics-file: node_exporter's group reads it */

/* A descriptor to write PATH, or -errno with why in err. *owned: false
 * when it is one of the tracer's own descriptors (not to be closed). */
int outfile__open(const char *path, mode_t mode, bool *owned, char *err, size_t errlen);

/* A file replaced whole at each write. */
struct outfile_atomic {
	int dirfd;
	char base[256];
	mode_t mode;
};

/* PATH's directory opened, PATH checked (absent, a regular file or a
 * symbolic link to replace). 0, or -errno with why in err. */
int outfile__atomic_open(struct outfile_atomic *a, const char *path, mode_t mode, char *err,
			 size_t errlen);
/* text written to a new file, renamed over PATH. 0 or -errno. */
int outfile__atomic_write(struct outfile_atomic *a, const char *text, size_t len);
void outfile__atomic_close(struct outfile_atomic *a);

#endif /* OUTFILE_H */

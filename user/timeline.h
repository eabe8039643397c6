/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --timeline FILE: one entry per connection as it leaves the table, in one
 * of three forms:
 *   json      one object per line (NDJSON) per connection;
 *   csv       a header, then one row per state visit;
 *   perfetto  Chrome trace-event JSON (an array) that the Perfetto UI and
 *             chrome://tracing open: a track per connection, a slice per
 *             state, instants for close()/shutdown() and the end.
 * The file only ever holds whole entries: they are buffered and written
 * with write(2), and when a write fails (disk full) a regular file is cut
 * back to the last whole entry. The first error is kept and returned by
 * every later call. */
#ifndef TIMELINE_H
#define TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cgroup.h"
#include "json_writer.h"
#include "lifecycle.h"

enum timeline_format {
	TIMELINE_JSON,
	TIMELINE_CSV,
	TIMELINE_PERFETTO,
};

struct timeline {
	int fd;
	bool own_fd;
	bool is_stdout;		/* share it with stdio's stdout: flush that first */
	enum timeline_format fmt;
	int err;		/* first error; sticky */
	uint64_t committed;	/* bytes written, all whole entries */
	uint64_t entries;	/* connections written */
	uint64_t tracks;	/* perfetto: track ids handed out */
	bool first_event;	/* perfetto: no event yet (no comma before it) */
	char *buf;
	size_t len, cap;
	struct json j;
	/* Owners' cgroup ids to paths; NULL: ids only. Set after opening. */
	struct cgroup_names *cg;
};

/* "json", "csv", "perfetto"; -1 if none of them. */
int timeline_format__parse(const char *s, enum timeline_format *fmt);
const char *timeline_format__name(enum timeline_format fmt);

/* Open path as outfile__open() does (mode OUTFILE_MODE; "-": standard
 * output) and write the format's head. 0, or -errno with why in err
 * (nothing to close then). */
int timeline__open(struct timeline *tl, const char *path, enum timeline_format fmt, char *err,
		   size_t errlen);
/* The same on an open descriptor, which the timeline does not close. */
int timeline__open_fd(struct timeline *tl, int fd, enum timeline_format fmt);
/* One connection (buffered). 0 or the first error. */
int timeline__write(struct timeline *tl, const struct lifecycle *l);
/* Write out what is buffered (once per poll round). 0 or the first error. */
int timeline__flush(struct timeline *tl);
/* Write the format's tail, flush, close. Always releases the timeline;
 * returns the first error of its life. */
int timeline__close(struct timeline *tl);

#endif /* TIMELINE_H */

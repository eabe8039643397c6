/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Recordings: the raw record stream of a live run written to a file, read
 * back later to drive the same engine offline, without privileges. A file
 * that was cut short or damaged yields every record before the damage and
 * one sentence saying where and what; it never yields a record that was
 * not written. No printing: errors are -errno and a message for the caller.
 *
 * File format, version 4. Header fields little-endian; records in the byte
 * order the header names (the kernel's, as the ring buffer gave them).
 *
 *   header, RECORDING_HEADER_SIZE (256) bytes:
 *     0  magic "TCPSTREC"          8  u32 format version (4)
 *    12  u32 header size (256)    16  u32 record size: sizeof(struct ts_event)
 *    20  u32 layout id: CRC-32 of the ts_event field names, offsets, sizes
 *    24  u32 byte order of records: 1 little-endian, 2 big-endian
 *    28  u32 flags (0)            32  i64 start, CLOCK_REALTIME ns
 *    40  u64 start, CLOCK_MONOTONIC ns (the clock of ts_event.mono_ns)
 *    48  char[65] kernel release  113  char[65] hostname
 *   178  char[32] tool version (strings NUL-terminated, zero-padded)
 *   210  zero                     252  u32 CRC-32 of bytes 0-251
 *
 *   then frames, each a 12-byte frame header and a payload:
 *     0  u32 payload length        4  u16 kind    6  u16 0
 *     8  u32 CRC-32 of: the frame's index in the file (u64 LE, from 0),
 *        frame bytes 0-7, the payload. The index makes a lost, repeated
 *        or reordered frame a checksum error where it happens.
 *   kind 3, snapshot: at most one, and only as the first frame: what the
 *     start-up snapshot found. u64 time taken, CLOCK_MONOTONIC ns;
 *     u32 connections; u32 seeded; u32 netns; u32 netns_failed; u32 states
 *     kept (N); u32 0; u32 connections by state[16], kernel state numbers,
 *     zero from N on (struct snapshot).
 *   kind 4, seed: one per connection the snapshot found, in the order they
 *     were seeded, right after the snapshot frame and as many as it counts
 *     connections: one struct ts_event (record size bytes, the records'
 *     byte order; the identity: cookie, addresses, netns, inode), then,
 *     little-endian, u32 state, u32 bounded (0 or 1), u64 in the state
 *     since, CLOCK_MONOTONIC ns (struct snapshot_seed).
 *   kind 1, event: one struct ts_event (record size bytes)
 *   kind 5, gone (version 3): a connection the live run ended because the
 *     kernel no longer had it when checked after records were lost: u64
 *     cookie, u64 the check's time, CLOCK_MONOTONIC ns; among the events,
 *     in the order the run decided it.
 *   kind 6, cgroup (version 4): what an owner's cgroup id named in the live
 *     run, written before the first record that carries the id (and again
 *     after the writer's table of 1024 ids let it go): u64 id (not 0),
 *     u32 path length (0: the path was not found), u32 0, then the path
 *     under the cgroup2 mount, RECORDING_CGROUP_PATH bytes: starting with
 *     '/', no NUL within its length, zero after it. Among the events.
 *   kind 2, end, last in the file: u64 events, i64 end realtime ns,
 *     u64 end monotonic ns, u32 counters kept, u32 0, u64 counters[16]
 *     (enum ts_stat order). A file without it was cut short.
 *
 * Version 1 had no snapshot: its replays could not mark connections that
 * predate tracing, and it is refused (its records are of an older layout
 * too). Version 3 is version 4 with records 8 bytes shorter: struct ts_event
 * without its last field, cgroup_id (layout id over the fields before it),
 * in event and seed frames; read as such, cgroup_id 0 (not known). Version 2
 * is version 3 without gone frames, and is read as such. A newer version, another record size or layout, or the other byte
 * order is refused with a message naming the difference. CRC-32 is zlib's. */
#ifndef RECORDING_H
#define RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "snapshot.h"
#include "tcpstate.h"

#define RECORDING_MAGIC "TCPSTREC"
#define RECORDING_VERSION 4
#define RECORDING_VERSION_OLDEST 2	/* the oldest read */
#define RECORDING_HEADER_SIZE 256
#define RECORDING_FRAME_SIZE 12		/* frame header */
#define RECORDING_KIND_EVENT 1
#define RECORDING_KIND_END 2
#define RECORDING_KIND_SNAPSHOT 3
#define RECORDING_KIND_SEED 4
#define RECORDING_KIND_GONE 5
#define RECORDING_KIND_CGROUP 6
#define RECORDING_CGROUP_PATH 400	/* as CGROUP_PATH_MAX */
#define RECORDING_CGROUP_SIZE (16 + RECORDING_CGROUP_PATH)
#define RECORDING_GONE_SIZE 16
#define RECORDING_STATS_MAX 16		/* counters the end frame has room for */
#define RECORDING_END_SIZE (32 + 8 * RECORDING_STATS_MAX)
#define RECORDING_STATES_MAX 16		/* states the snapshot frame has room for */
#define RECORDING_SNAPSHOT_SIZE (32 + 4 * RECORDING_STATES_MAX)
#define RECORDING_SEED_SIZE (sizeof(struct ts_event) + 16)

/* Where and when a recording was made. */
struct recording_meta {
	char kernel[65];		/* uname -r */
	char host[65];			/* uname -n */
	char tool_version[32];
	int64_t start_realtime_ns;	/* the two clocks read together: */
	uint64_t start_mono_ns;		/* realtime - mono maps mono_ns to wall time */
};

/* What the snapshot frame says. */
struct recording_snapshot {
	struct snapshot counts;
	uint64_t now_ns;		/* when it was taken, CLOCK_MONOTONIC */
};

/* One frame read back: kind says which member is filled. */
struct recording_item {
	int kind;			/* RECORDING_KIND_EVENT, _SNAPSHOT, _SEED or _GONE */
	union {
		struct ts_event event;
		struct recording_snapshot snapshot;
		struct snapshot_seed seed;
		struct {
			uint64_t cookie;
			uint64_t checked_ns;
		} gone;
		struct {
			uint64_t id;
			bool found;
			char path[RECORDING_CGROUP_PATH];	/* NUL-terminated */
		} cgroup;
	};
};

/* What the end frame says: the writer's totals at close. */
struct recording_end {
	uint64_t events;		/* event records in the file */
	int64_t end_realtime_ns;
	uint64_t end_mono_ns;
	uint32_t nstats;		/* counters present; 0 if the writer had none */
	uint64_t stats[RECORDING_STATS_MAX];	/* enum ts_stat order */
};

/* Fill m for a recording made now on this host by this build. */
void recording__meta_now(struct recording_meta *m);

/* Whether a record is one the engine may be given: a known type, family
 * AF_INET or AF_INET6, states and enumerations in range, fd >= -1. The
 * writer refuses others and the reader stops at them. On false, why (if
 * not NULL) gets a short phrase, e.g. "address family 3". */
bool recording__event_ok(const struct ts_event *e, char *why, size_t whylen);
/* The same for a seed: its identity passes recording__event_ok(), its state
 * is a known one other than 0, bounded is 0 or 1. */
bool recording__seed_ok(const struct snapshot_seed *sd, char *why, size_t whylen);

/* --- writing --- */

#define RECORDING_WBUF (64 * 1024)

struct recording_writer {
	int fd;
	bool own_fd;
	int err;			/* first write error; sticky */
	uint64_t frames;		/* frames written: the next one's index */
	uint64_t events;
	size_t len;			/* bytes waiting in buf */
	unsigned char buf[RECORDING_WBUF];
};

/* Open path as outfile__open() does (mode OUTFILE_MODE) and write the
 * header. "-" is standard output, refused with -ENOTTY when that is a
 * terminal. 0, or -errno with why in err (nothing to close then). */
int recording__create(struct recording_writer *w, const char *path,
		      const struct recording_meta *meta, char *why, size_t whylen);
/* The same on an open descriptor, which the writer does not close. */
int recording__create_fd(struct recording_writer *w, int fd, const struct recording_meta *meta);
/* The start-up snapshot s, taken at now_ns, and the n connections it found
 * (n == s->total), in the order they were seeded: first, before any
 * record. -EINVAL, and nothing written, if records or a snapshot were
 * written already, n differs, or a seed fails recording__seed_ok(). Else as
 * recording__write(). */
int recording__write_snapshot(struct recording_writer *w, const struct snapshot *s,
			      uint64_t now_ns, const struct snapshot_seed *seeds, size_t n);
/* Append one record (buffered). -EINVAL if !recording__event_ok(e): nothing
 * is written, the file stays readable. Else 0, or the first write error
 * (-ENOSPC, -EPIPE, -EIO, ...) of this writer, which stops all writing. */
/* A connection ended as gone (kind 5). */
int recording__write_gone(struct recording_writer *w, uint64_t cookie, uint64_t checked_ns);
/* What cgroup id named (kind 6): path, or NULL when it was not found.
 * -EINVAL, nothing written, for id 0 or a path that does not start with
 * '/' or is not shorter than RECORDING_CGROUP_PATH. */
int recording__write_cgroup(struct recording_writer *w, uint64_t id, const char *path);
int recording__write(struct recording_writer *w, const struct ts_event *e);
/* Write out what is buffered, so a run killed later loses nothing before
 * this point (call it once per poll round). 0 or the first write error. */
int recording__flush(struct recording_writer *w);
/* Write the end frame with stats[0..nstats) (stats may be NULL), flush,
 * fsync a regular file, close. Always releases the writer; returns the
 * first error of its life (0 if none). */
int recording__close(struct recording_writer *w, const uint64_t *stats, uint32_t nstats);

/* --- reading --- */

struct recording_reader {
	FILE *f;
	bool own_f;
	uint64_t off;			/* bytes consumed */
	uint64_t frames;		/* frames read (their index for the CRC) */
	uint64_t events;
	uint32_t version;		/* the file's format version */
	size_t record_size;		/* its struct ts_event records' size */
	bool snapshot;			/* a snapshot frame was read */
	uint64_t seeds, seeds_due;	/* seed frames read; how many it counts */
	int err;			/* sticky: 0, 1 after the end, or -errno */
	char msg[256];			/* the message of err < 0 */
	struct recording_end end;
};

/* Open path ("-": standard input) and check the header. On failure -errno
 * and a sentence in err, and nothing to close:
 *   -ENOENT etc.      the file cannot be opened
 *   -EINVAL           not a recording (no magic)
 *   -ENODATA          the header is cut short
 *   -EPROTONOSUPPORT  a format version this build does not read
 *   -EBADMSG          the header is damaged (checksum, unterminated string)
 *   -EPROTO           records of another size, layout or byte order */
int recording__open(struct recording_reader *r, const char *path, struct recording_meta *meta,
		    char *err, size_t errlen);
/* The same on a stream (e.g. fmemopen()), which the reader does not close. */
int recording__open_stream(struct recording_reader *r, FILE *f, struct recording_meta *meta,
			   char *err, size_t errlen);
/* The next frame: 1 and *it filled, in file order: the snapshot (if the
 * file has one), its seeds, then the records; 0 at the end frame (then
 * recording__end() holds its totals); or -errno with a sentence in err
 * naming the frame ("record N") and its byte offset:
 *   -ENODATA  the file ends inside a frame, or without an end frame
 *   -EBADMSG  a checksum mismatch, an impossible length or kind, a record
 *             or cgroup frame
 *             that fails recording__event_ok() or a seed that fails
 *             recording__seed_ok(), a snapshot that is not the first
 *             frame, seeds without a snapshot, after the first record or
 *             not as many as the snapshot counts, data after the end frame
 *   -EIO      reading failed
 * Errors are final: later calls return the same. */
int recording__next(struct recording_reader *r, struct recording_item *it, char *err,
		    size_t errlen);
/* The end frame's totals once recording__next() returned 0, else NULL. */
const struct recording_end *recording__end(const struct recording_reader *r);
void recording__close_reader(struct recording_reader *r);

#endif /* RECORDING_H */

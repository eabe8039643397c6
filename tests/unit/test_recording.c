// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recordings: round trips, and every way a file can be cut or damaged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include "recording.h"
#include "tcp_names.h"

/* Why an output could not be opened (outfile.h). */
static char open_why[256];

#define EV_FRAME (RECORDING_FRAME_SIZE + sizeof(struct ts_event))
#define END_FRAME (RECORDING_FRAME_SIZE + RECORDING_END_SIZE)
#define SNAP_FRAME (RECORDING_FRAME_SIZE + RECORDING_SNAPSHOT_SIZE)
#define SEED_FRAME (RECORDING_FRAME_SIZE + RECORDING_SEED_SIZE)
#define SNAP_NS 123456000000ULL

/* A record with every field set, different for each i, all valid. */
/* Records as a version 2 or 3 file reads back: no cgroup id. */
static bool old_layout;

static struct ts_event ev(uint64_t i)
{
	struct ts_event e;

	memset(&e, 0, sizeof(e));
	e.mono_ns = 1000000000ULL + i * 1234567;
	e.cookie = 0x1000 + i;
	e.skaddr = 0xffff888000000000ULL + i * 64;
	e.prev_state_ns = i * 99;
	e.type = (uint32_t)(TS_EV_STATE + i % TS_EV__MAX);
	e.pid = (uint32_t)(100 + i);
	e.netns = 4026531840U;
	e.family = i % 2 ? AF_INET6 : AF_INET;
	e.sport = (uint16_t)(1024 + i);
	e.dport = 443;
	e.oldstate = (uint8_t)(i % TS_TCP_MAX_STATES);
	e.newstate = (uint8_t)((i + 1) % TS_TCP_MAX_STATES);
	e.owner_src = (uint8_t)(i % 3);
	e.flags = (uint8_t)(i & 0xf);
	for (int k = 0; k < 16; k++) {
		e.saddr[k] = (uint8_t)(i + k);
		e.daddr[k] = (uint8_t)(i * 3 + k);
	}
	snprintf(e.comm, sizeof(e.comm), "proc%llu", (unsigned long long)(i % 1000));
	e.ino = 50000 + i;
	e.cgroup_id = old_layout ? 0 : 7000 + i;
	e.fd = (int32_t)(i % 7) - 1;
	e.refs = (uint32_t)(i % 4);
	e.how = (uint8_t)(i % 3);
	e.final = (uint8_t)(i % 2);
	e.via = (uint8_t)(i % 4);
	e.reset_dir = (uint8_t)(i % 3);
	e.tw_substate = i % 2 ? TS_TCP_TIME_WAIT : TS_TCP_FIN_WAIT2;
	e.tw_reason = (uint8_t)(i % 4);
	return e;
}

/* A connection the snapshot found, different for each i, valid. */
static struct snapshot_seed seed(uint64_t i)
{
	static const int states[] = { TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT, TS_TCP_TIME_WAIT,
				      TS_TCP_LISTEN, TS_TCP_FIN_WAIT2 };
	struct snapshot_seed sd;

	memset(&sd, 0, sizeof(sd));
	sd.ident = ev(i + 500);
	sd.ident.type = TS_EV_STATE;
	sd.state = states[i % 5];
	sd.since_ns = SNAP_NS - i * 1000000;
	sd.bounded = i % 3 != 2;
	return sd;
}

/* What snapshot__take would count for seeds 0..n-1. */
static struct snapshot snap(uint64_t n)
{
	struct snapshot s;

	memset(&s, 0, sizeof(s));
	for (uint64_t i = 0; i < n; i++)
		s.by_state[seed(i).state]++;
	s.total = s.seeded = (uint32_t)n;
	s.netns = 3;
	s.netns_failed = 1;
	return s;
}

static struct recording_meta meta(void)
{
	struct recording_meta m;

	memset(&m, 0, sizeof(m));
	strcpy(m.kernel, "6.1.0-test-amd64");
	strcpy(m.host, "web-17");
	strcpy(m.tool_version, "9.8.7");
	m.start_realtime_ns = 1763719200123456789LL;
	m.start_mono_ns = 123456789012ULL;
	return m;
}

/* Everything written to a memfd, in a malloc'd buffer; closes fd. */
static unsigned char *slurp(int fd, size_t *len)
{
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *buf;

	assert_true(size > 0);
	buf = malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
	close(fd);
	*len = (size_t)size;
	return buf;
}

/* A recording in memory: a snapshot of nseeds connections unless nseeds is
 * negative, n records, an end frame if ended. */
static unsigned char *make_snap(int nseeds, uint64_t n, bool ended, size_t *len)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	uint64_t stats[TS_STAT__MAX];
	int fd = memfd_create("rec", 0);

	assert_non_null(w);
	assert_true(fd >= 0);
	for (int i = 0; i < TS_STAT__MAX; i++)
		stats[i] = 1000 + (uint64_t)i;
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	if (nseeds >= 0) {
		struct snapshot s = snap((uint64_t)nseeds);
		struct snapshot_seed sds[16];

		assert_true(nseeds <= 16);
		for (int i = 0; i < nseeds; i++)
			sds[i] = seed((uint64_t)i);
		assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, (size_t)nseeds), 0);
	}
	for (uint64_t i = 0; i < n; i++) {
		struct ts_event e = ev(i);

		assert_int_equal(recording__write(w, &e), 0);
	}
	if (ended)
		assert_int_equal(recording__close(w, stats, TS_STAT__MAX), 0);
	else
		assert_int_equal(recording__flush(w), 0);
	free(w);
	return slurp(fd, len);
}

static unsigned char *make(uint64_t n, bool ended, size_t *len)
{
	return make_snap(-1, n, ended, len);
}

static FILE *bytes(const unsigned char *buf, size_t len)
{
	FILE *f = len ? fmemopen((void *)buf, len, "rb") : fopen("/dev/null", "rb");

	assert_non_null(f);
	return f;
}

struct outcome {
	int open;		/* recording__open_stream() */
	int snapshots;		/* snapshot frames read, each checked against snap() */
	uint64_t seeds;		/* seeds read, each checked against seed() */
	uint64_t records;	/* records read, each checked against ev() */
	int last;		/* recording__next()'s last return */
	char err[256];
};

/* Read a recording from memory to its end or first error. */
static struct outcome read_all(const unsigned char *buf, size_t len)
{
	struct outcome o = { 0 };
	struct recording_reader r;
	struct recording_meta m;
	struct recording_item it;
	FILE *f = bytes(buf, len);

	o.open = recording__open_stream(&r, f, &m, o.err, sizeof(o.err));
	if (o.open) {
		fclose(f);
		assert_true(o.err[0]);
		return o;
	}
	while ((o.last = recording__next(&r, &it, o.err, sizeof(o.err))) == 1) {
		if (it.kind == RECORDING_KIND_SNAPSHOT) {
			struct snapshot want = snap(it.snapshot.counts.total);

			assert_memory_equal(&it.snapshot.counts, &want, sizeof(want));
			assert_int_equal(it.snapshot.now_ns, SNAP_NS);
			o.snapshots++;
		} else if (it.kind == RECORDING_KIND_SEED) {
			struct snapshot_seed want = seed(o.seeds);

			assert_memory_equal(&it.seed.ident, &want.ident, sizeof(want.ident));
			assert_int_equal(it.seed.state, want.state);
			assert_int_equal(it.seed.since_ns, want.since_ns);
			assert_int_equal(it.seed.bounded, want.bounded);
			o.seeds++;
		} else {
			struct ts_event want = ev(o.records);

			assert_int_equal(it.kind, RECORDING_KIND_EVENT);
			assert_memory_equal(&it.event, &want, sizeof(want));
			o.records++;
		}
	}
	if (o.last < 0) {
		char again[256];

		assert_true(o.err[0]);
		/* Errors are final. */
		assert_int_equal(recording__next(&r, &it, again, sizeof(again)), o.last);
		assert_string_equal(again, o.err);
	}
	recording__close_reader(&r);
	fclose(f);
	return o;
}

/* Read back what was written to a memfd; closes fd. */
static struct outcome read_fd(int fd)
{
	size_t len;
	unsigned char *buf = slurp(fd, &len);
	struct outcome o = read_all(buf, len);

	free(buf);
	return o;
}

static void put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the header checksum after editing a field, as the format says. */
static void reseal_header(unsigned char *h)
{
	put32le(h + 252, (uint32_t)crc32(crc32(0, NULL, 0), h, 252));
}

/* The recording in buf as if written in format version v. */
static struct outcome read_as_version(unsigned char *buf, size_t len, uint32_t v)
{
	put32le(buf + 8, v);
	reseal_header(buf);
	return read_all(buf, len);
}

/* Recompute the checksum of the frame at off, index idx. */
static void reseal_frame(unsigned char *buf, size_t off, uint64_t idx)
{
	unsigned char le[8];
	uint32_t len = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
	uLong c;

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(idx >> (8 * i));
	c = crc32(crc32(0, NULL, 0), le, 8);
	c = crc32(c, buf + off, 8);
	c = crc32(c, buf + off + RECORDING_FRAME_SIZE, len);
	put32le(buf + off + 8, (uint32_t)c);
}

static void round_trip_many(void **state)
{
	const uint64_t n = 20000;	/* several write buffers' worth */
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta(), got;
	struct recording_reader r;
	const struct recording_end *end;
	char path[] = "/tmp/test_recording.XXXXXX", err[256];
	uint64_t stats[TS_STAT__MAX], i = 0;
	struct recording_item it;
	struct ts_event e;
	struct stat st;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	for (int k = 0; k < TS_STAT__MAX; k++)
		stats[k] = 7 * (uint64_t)k + 1;
	assert_int_equal(recording__create(w, path, &m, open_why, sizeof(open_why)), 0);
	for (i = 0; i < n; i++) {
		e = ev(i);
		assert_int_equal(recording__write(w, &e), 0);
	}
	assert_int_equal(recording__close(w, stats, TS_STAT__MAX), 0);
	free(w);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, RECORDING_HEADER_SIZE + n * EV_FRAME + END_FRAME);

	assert_int_equal(recording__open(&r, path, &got, err, sizeof(err)), 0);
	assert_memory_equal(&got, &m, sizeof(m));
	assert_null(recording__end(&r));
	for (i = 0; recording__next(&r, &it, err, sizeof(err)) == 1; i++) {
		struct ts_event want = ev(i);

		assert_int_equal(it.kind, RECORDING_KIND_EVENT);
		assert_memory_equal(&it.event, &want, sizeof(want));
	}
	assert_int_equal(i, n);
	assert_int_equal(recording__next(&r, &it, err, sizeof(err)), 0);	/* stays ended */
	end = recording__end(&r);
	assert_non_null(end);
	assert_int_equal(end->events, n);
	assert_int_equal(end->nstats, TS_STAT__MAX);
	for (int k = 0; k < TS_STAT__MAX; k++)
		assert_int_equal(end->stats[k], stats[k]);
	assert_true(end->end_mono_ns > 0 && end->end_realtime_ns > 0);
	recording__close_reader(&r);
	unlink(path);
}

static void empty_recording(void **state)
{
	size_t len;
	unsigned char *buf = make(0, true, &len);
	struct outcome o = read_all(buf, len);

	assert_int_equal(len, RECORDING_HEADER_SIZE + END_FRAME);
	assert_int_equal(o.open, 0);
	assert_int_equal(o.last, 0);
	assert_int_equal(o.records, 0);
	free(buf);
}

static void header_fields(void **state)
{
	struct recording_meta m;
	struct utsname u;
	size_t len;
	unsigned char *buf = make(1, true, &len);

	assert_memory_equal(buf, "TCPSTREC", 8);
	assert_int_equal(buf[8] | buf[9] << 8, RECORDING_VERSION);
	assert_int_equal(buf[12] | buf[13] << 8, RECORDING_HEADER_SIZE);
	assert_int_equal(buf[16] | buf[17] << 8, sizeof(struct ts_event));
	assert_string_equal((char *)buf + 48, "6.1.0-test-amd64");
	assert_string_equal((char *)buf + 113, "web-17");
	assert_string_equal((char *)buf + 178, "9.8.7");
	assert_int_equal(buf[40], 123456789012ULL & 0xff);	/* little-endian */
	free(buf);

	/* What a live run would write. */
	recording__meta_now(&m);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(m.kernel, u.release);
	assert_string_equal(m.host, u.nodename);
	assert_string_equal(m.tool_version, TS_VERSION);
	assert_true(m.start_mono_ns > 0);
	assert_true(m.start_realtime_ns > 1600000000LL * 1000000000LL);
}

/* Cut anywhere: the records wholly before the cut, then a clear error. */
static void truncated_anywhere(void **state)
{
	const uint64_t n = 4;
	size_t len;
	unsigned char *buf = make(n, true, &len);
	size_t last = RECORDING_HEADER_SIZE + (n - 1) * EV_FRAME;

	for (size_t cut = 0; cut < len; cut++) {
		struct outcome o = read_all(buf, cut);

		if (cut < RECORDING_HEADER_SIZE) {
			assert_int_equal(o.open, -ENODATA);
			assert_non_null(strstr(o.err, cut ? "cut short" : "empty"));
			continue;
		}
		assert_int_equal(o.open, 0);
		assert_int_equal(o.last, -ENODATA);
		assert_non_null(strstr(o.err, "cut short"));
		assert_int_equal(o.records, cut < RECORDING_HEADER_SIZE + n * EV_FRAME ?
					    (cut - RECORDING_HEADER_SIZE) / EV_FRAME : n);
		if (cut > last && cut < last + EV_FRAME) {
			/* Inside the last record: named, with its offset. */
			char where[64];

			snprintf(where, sizeof(where), "record %llu at byte %zu",
				 (unsigned long long)n, last);
			assert_non_null(strstr(o.err, where));
		}
		if (cut == last)
			assert_non_null(strstr(o.err, "no end frame"));
	}
	free(buf);
}

/* Any byte altered anywhere stops the reading there with an error, and
 * every record returned before it is one that was written. */
static void flipped_byte_anywhere(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff };
	const uint64_t n = 5;
	size_t len;
	unsigned char *orig = make(n, true, &len);
	unsigned char *buf = malloc(len);

	assert_non_null(buf);
	for (size_t at = 0; at < len; at++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			struct outcome o;

			memcpy(buf, orig, len);
			buf[at] ^= masks[k];
			o = read_all(buf, len);
			if (at < RECORDING_HEADER_SIZE) {
				assert_true(o.open < 0);
				continue;
			}
			assert_int_equal(o.open, 0);
			assert_int_equal(o.last, -EBADMSG);
			/* Records before the damaged frame, none after. */
			assert_int_equal(o.records,
					 (at - RECORDING_HEADER_SIZE) / EV_FRAME < n ?
					 (at - RECORDING_HEADER_SIZE) / EV_FRAME : n);
			assert_non_null(strstr(o.err, "damaged"));
		}
	}
	free(orig);
	free(buf);
}

/* A frame lost, repeated or moved is caught where it happens. */
static void frames_lost_or_repeated(void **state)
{
	size_t len;
	unsigned char *orig = make(6, true, &len);
	unsigned char *buf = malloc(len + EV_FRAME);
	size_t f2 = RECORDING_HEADER_SIZE + 2 * EV_FRAME;
	struct outcome o;

	/* Frame 2 dropped. */
	memcpy(buf, orig, f2);
	memcpy(buf + f2, orig + f2 + EV_FRAME, len - f2 - EV_FRAME);
	o = read_all(buf, len - EV_FRAME);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.records, 2);
	assert_non_null(strstr(o.err, "checksum"));
	/* Frame 1 repeated. */
	memcpy(buf, orig, f2);
	memcpy(buf + f2, orig + f2 - EV_FRAME, EV_FRAME);
	memcpy(buf + f2 + EV_FRAME, orig + f2, len - f2);
	o = read_all(buf, len + EV_FRAME);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.records, 2);
	/* Data after the end frame. */
	memcpy(buf, orig, len);
	buf[len] = 0;
	o = read_all(buf, len + 1);
	assert_int_equal(o.records, 6);
	assert_int_equal(o.last, -EBADMSG);
	assert_non_null(strstr(o.err, "after its end"));
	free(orig);
	free(buf);
}

/* Intact framing around a record the engine must not get. */
static void invalid_record_refused(void **state)
{
	size_t len;
	unsigned char *buf = make(3, true, &len);
	size_t f1 = RECORDING_HEADER_SIZE + EV_FRAME;
	struct ts_event *e = (struct ts_event *)(buf + f1 + RECORDING_FRAME_SIZE);
	struct outcome o;

	e->family = 3;
	reseal_frame(buf, f1, 1);
	o = read_all(buf, len);
	assert_int_equal(o.records, 1);
	assert_int_equal(o.last, -EBADMSG);
	assert_non_null(strstr(o.err, "invalid: address family 3"));

	e->family = AF_INET;
	e->type = TS_EV__MAX + 1;
	reseal_frame(buf, f1, 1);
	o = read_all(buf, len);
	assert_int_equal(o.records, 1);
	assert_non_null(strstr(o.err, "unknown record type"));
	free(buf);
}

static void event_checks(void **state)
{
	struct ts_event e = ev(3);
	char why[64];

	assert_true(recording__event_ok(&e, why, sizeof(why)));
	e.type = 0;
	assert_false(recording__event_ok(&e, why, sizeof(why)));
	assert_string_equal(why, "unknown record type 0");
	e = ev(3);
	e.newstate = TS_TCP_MAX_STATES;
	assert_false(recording__event_ok(&e, NULL, 0));
	e = ev(3);
	e.fd = -2;
	assert_false(recording__event_ok(&e, why, sizeof(why)));
	assert_string_equal(why, "descriptor -2");
	e = ev(3);
	e.how = 3;
	assert_false(recording__event_ok(&e, why, sizeof(why)));
	e = ev(3);
	e.via = 9;
	assert_false(recording__event_ok(&e, why, sizeof(why)));
	assert_string_equal(why, "close via 9");
}

/* The writer keeps the file readable: an invalid record is not written. */
static void writer_refuses_invalid(void **state)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct ts_event e = ev(0), bad = ev(1);
	struct outcome o;
	int fd = memfd_create("rec", 0);

	bad.family = 0;
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_int_equal(recording__write(w, &e), 0);
	assert_int_equal(recording__write(w, &bad), -EINVAL);
	e = ev(1);
	assert_int_equal(recording__write(w, &e), 0);
	assert_int_equal(recording__close(w, NULL, 0), 0);
	o = read_fd(fd);
	assert_int_equal(o.last, 0);
	assert_int_equal(o.records, 2);
	free(w);
}

static void cut_without_end(void **state)
{
	size_t len;
	unsigned char *buf = make(3, false, &len);
	struct outcome o = read_all(buf, len);

	assert_int_equal(o.records, 3);
	assert_int_equal(o.last, -ENODATA);
	assert_non_null(strstr(o.err, "after 3 records"));
	assert_non_null(strstr(o.err, "no end frame"));
	free(buf);
}

/* Each reason to refuse a file has its own error and words. */
static void header_refusals(void **state)
{
	size_t len;
	unsigned char *orig = make(2, true, &len);
	unsigned char *buf = malloc(len);
	struct outcome o;

	memcpy(buf, orig, len);
	memcpy(buf, "GIF89a..", 8);
	o = read_all(buf, len);
	assert_int_equal(o.open, -EINVAL);
	assert_non_null(strstr(o.err, "not a tcpstate-trace recording"));

	memcpy(buf, orig, len);
	o = read_as_version(buf, len, RECORDING_VERSION + 1);
	assert_int_equal(o.open, -EPROTONOSUPPORT);
	assert_non_null(strstr(o.err, "version 5 is newer"));

	memcpy(buf, orig, len);
	put32le(buf + 16, sizeof(struct ts_event) + 8);
	reseal_header(buf);
	o = read_all(buf, len);
	assert_int_equal(o.open, -EPROTO);
	assert_non_null(strstr(o.err, "made by tcpstate-trace 9.8.7 with records of"));

	memcpy(buf, orig, len);
	buf[20] ^= 1;
	reseal_header(buf);
	o = read_all(buf, len);
	assert_int_equal(o.open, -EPROTO);
	assert_non_null(strstr(o.err, "different record layout"));

	memcpy(buf, orig, len);
	put32le(buf + 24, 2);
	reseal_header(buf);
	o = read_all(buf, len);
	assert_int_equal(o.open, -EPROTO);
	assert_non_null(strstr(o.err, "big-endian host"));

	memcpy(buf, orig, len);
	buf[60] = 'x';		/* kernel release, header checksum not updated */
	o = read_all(buf, len);
	assert_int_equal(o.open, -EBADMSG);
	assert_non_null(strstr(o.err, "header damaged"));

	memset(buf + 48, 'x', 65);	/* unterminated, but sealed */
	reseal_header(buf);
	o = read_all(buf, len);
	assert_int_equal(o.open, -EBADMSG);
	assert_non_null(strstr(o.err, "not terminated"));
	free(orig);
	free(buf);
}

static void open_errors(void **state)
{
	const char *text = "hello, this is not a recording of anything";
	struct recording_reader r;
	struct outcome o;
	char err[256];

	assert_int_equal(recording__open(&r, "/nonexistent/x.rec", NULL, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.rec"));
	o = read_all((const unsigned char *)text, strlen(text));
	assert_int_equal(o.open, -EINVAL);
	assert_non_null(strstr(o.err, "not a tcpstate-trace recording"));
}

/* --- the start-up snapshot and its seeds --- */

static void snapshot_round_trip(void **state)
{
	size_t len;
	unsigned char *buf = make_snap(5, 4, true, &len);
	struct outcome o = read_all(buf, len);

	assert_int_equal(len, RECORDING_HEADER_SIZE + SNAP_FRAME + 5 * SEED_FRAME + 4 * EV_FRAME +
			      END_FRAME);
	assert_int_equal(o.last, 0);
	assert_int_equal(o.snapshots, 1);
	assert_int_equal(o.seeds, 5);
	assert_int_equal(o.records, 4);
	free(buf);

	/* A snapshot that found nothing, a run that saw nothing. */
	buf = make_snap(0, 0, true, &len);
	o = read_all(buf, len);
	assert_int_equal(o.last, 0);
	assert_int_equal(o.snapshots, 1);
	assert_int_equal(o.seeds + o.records, 0);
	free(buf);
}

/* Cut anywhere in the snapshot or its seeds: what came whole before the
 * cut, and the frame the cut is in named. */
static void snapshot_truncated(void **state)
{
	const int nseeds = 3;
	size_t len, seeds_at = RECORDING_HEADER_SIZE + SNAP_FRAME;
	unsigned char *buf = make_snap(nseeds, 1, true, &len);

	for (size_t cut = RECORDING_HEADER_SIZE; cut < seeds_at + nseeds * SEED_FRAME; cut++) {
		struct outcome o = read_all(buf, cut);
		uint64_t whole = cut < seeds_at ? 0 : (cut - seeds_at) / SEED_FRAME;

		assert_int_equal(o.open, 0);
		assert_int_equal(o.last, -ENODATA);
		assert_non_null(strstr(o.err, "cut short"));
		assert_int_equal(o.snapshots, cut >= seeds_at);
		assert_int_equal(o.seeds, whole);
		assert_int_equal(o.records, 0);
		if (cut > seeds_at && (cut - seeds_at) % SEED_FRAME) {
			/* Inside seed frame whole + 1: frame whole + 2 of the file. */
			char where[64];

			snprintf(where, sizeof(where), "record %llu at byte %zu",
				 (unsigned long long)whole + 2, seeds_at + whole * SEED_FRAME);
			assert_non_null(strstr(o.err, where));
		}
	}
	free(buf);
}

/* Every byte of the snapshot and seed frames is under a checksum. */
static void snapshot_flipped_byte(void **state)
{
	size_t len;
	unsigned char *buf = make_snap(2, 1, true, &len);
	size_t end = RECORDING_HEADER_SIZE + SNAP_FRAME + 2 * SEED_FRAME;

	for (size_t at = RECORDING_HEADER_SIZE; at < end; at++) {
		struct outcome o;

		buf[at] ^= 0x40;
		o = read_all(buf, len);
		buf[at] ^= 0x40;
		assert_int_equal(o.last, -EBADMSG);
		assert_int_equal(o.records, 0);
		assert_int_equal(o.seeds, at < RECORDING_HEADER_SIZE + SNAP_FRAME + SEED_FRAME ?
					  0 : 1);
	}
	free(buf);
}

/* Copy frame src_idx of src (a recording of nseeds seeds) to dst at off as
 * frame dst_idx, resealed; returns the offset after it. */
static size_t put_frame_at(unsigned char *dst, size_t off, uint64_t dst_idx,
			   const unsigned char *src, int nseeds, uint64_t src_idx)
{
	size_t from = RECORDING_HEADER_SIZE, flen;

	for (uint64_t i = 0; i < src_idx; i++)
		from += i == 0 ? SNAP_FRAME : i <= (uint64_t)nseeds ? SEED_FRAME : EV_FRAME;
	flen = src_idx == 0 ? SNAP_FRAME : src_idx <= (uint64_t)nseeds ? SEED_FRAME : EV_FRAME;
	memcpy(dst + off, src + from, flen);
	reseal_frame(dst, off, dst_idx);
	return off + flen;
}

/* The snapshot first, then its seeds, then records: any other order is an
 * error at the frame out of place, after what came before it. */
static void snapshot_frame_order(void **state)
{
	size_t len, off;
	unsigned char *src = make_snap(2, 2, true, &len);	/* S s0 s1 e0 e1 end */
	unsigned char *buf = calloc(1, 4096);
	struct outcome o;

	assert_non_null(buf);
	memcpy(buf, src, RECORDING_HEADER_SIZE);

	/* A seed after the first event: S s0 s1 e0 s1. */
	off = put_frame_at(buf, RECORDING_HEADER_SIZE, 0, src, 2, 0);
	off = put_frame_at(buf, off, 1, src, 2, 1);
	off = put_frame_at(buf, off, 2, src, 2, 2);
	off = put_frame_at(buf, off, 3, src, 2, 3);
	off = put_frame_at(buf, off, 4, src, 2, 2);
	o = read_all(buf, off);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.seeds, 2);
	assert_int_equal(o.records, 1);
	assert_non_null(strstr(o.err, "record 5 at byte"));
	assert_non_null(strstr(o.err, "a seed after the first event"));

	/* Fewer seeds than the snapshot counts: S s0 e0. */
	off = put_frame_at(buf, RECORDING_HEADER_SIZE, 0, src, 2, 0);
	off = put_frame_at(buf, off, 1, src, 2, 1);
	off = put_frame_at(buf, off, 2, src, 2, 3);
	o = read_all(buf, off);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.seeds, 1);
	assert_int_equal(o.records, 0);
	assert_non_null(strstr(o.err, "counts 2 connections but 1 seeds"));

	/* More: S s0 s1 s1. */
	off = put_frame_at(buf, RECORDING_HEADER_SIZE, 0, src, 2, 0);
	off = put_frame_at(buf, off, 1, src, 2, 1);
	off = put_frame_at(buf, off, 2, src, 2, 2);
	off = put_frame_at(buf, off, 3, src, 2, 2);
	o = read_all(buf, off);
	assert_int_equal(o.seeds, 2);
	assert_non_null(strstr(o.err, "a seed more than the snapshot counts"));

	/* A seed with no snapshot: s0. */
	off = put_frame_at(buf, RECORDING_HEADER_SIZE, 0, src, 2, 1);
	o = read_all(buf, off);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.seeds, 0);
	assert_non_null(strstr(o.err, "a seed without a snapshot"));

	/* A snapshot not first: S s0 s1 S. */
	off = put_frame_at(buf, RECORDING_HEADER_SIZE, 0, src, 2, 0);
	off = put_frame_at(buf, off, 1, src, 2, 1);
	off = put_frame_at(buf, off, 2, src, 2, 2);
	off = put_frame_at(buf, off, 3, src, 2, 0);
	o = read_all(buf, off);
	assert_int_equal(o.last, -EBADMSG);
	assert_int_equal(o.snapshots, 1);
	assert_int_equal(o.seeds, 2);
	assert_non_null(strstr(o.err, "a snapshot that is not the first frame"));
	free(src);
	free(buf);
}

/* Intact framing around a seed or snapshot the engine must not get. */
static void snapshot_invalid_refused(void **state)
{
	size_t len, s0 = RECORDING_HEADER_SIZE + SNAP_FRAME;
	unsigned char *buf = make_snap(2, 0, true, &len);
	unsigned char *tail = buf + s0 + RECORDING_FRAME_SIZE + sizeof(struct ts_event);
	unsigned char *counts;
	struct outcome o;

	put32le(tail, 99);			/* state */
	reseal_frame(buf, s0, 1);
	o = read_all(buf, len);
	assert_int_equal(o.seeds, 0);
	assert_int_equal(o.last, -EBADMSG);
	assert_non_null(strstr(o.err, "invalid seed: state 99"));

	put32le(tail, TS_TCP_ESTABLISHED);
	put32le(tail + 4, 2);			/* bounded */
	reseal_frame(buf, s0, 1);
	o = read_all(buf, len);
	assert_non_null(strstr(o.err, "invalid seed: bounded flag 2"));

	put32le(tail + 4, 1);
	buf[s0 + RECORDING_FRAME_SIZE + offsetof(struct ts_event, family)] = 3;
	reseal_frame(buf, s0, 1);
	o = read_all(buf, len);
	assert_non_null(strstr(o.err, "invalid seed: address family 3"));
	free(buf);

	/* A count for a state past the ones the writer kept. */
	buf = make_snap(2, 0, true, &len);
	counts = buf + RECORDING_HEADER_SIZE + RECORDING_FRAME_SIZE;
	put32le(counts + 24, 5);
	reseal_frame(buf, RECORDING_HEADER_SIZE, 0);
	o = read_all(buf, len);
	assert_int_equal(o.snapshots, 0);
	assert_non_null(strstr(o.err, "snapshot frame at byte"));
	assert_non_null(strstr(o.err, "malformed"));
	free(buf);
}

/* The writer keeps the order the reader wants, and writes no seed the
 * reader would refuse. */
static void snapshot_writer_refuses(void **state)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct snapshot s = snap(2);
	struct snapshot_seed sds[2] = { seed(0), seed(1) };
	struct ts_event e = ev(0);
	struct outcome o;
	int fd = memfd_create("rec", 0);

	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, 1), -EINVAL);
	sds[1].state = 0;
	assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, 2), -EINVAL);
	sds[1] = seed(1);
	assert_int_equal(lseek(fd, 0, SEEK_END), RECORDING_HEADER_SIZE);	/* nothing yet */
	assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, 2), 0);
	assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, 2), -EINVAL);
	assert_int_equal(recording__write(w, &e), 0);
	assert_int_equal(recording__close(w, NULL, 0), 0);
	o = read_fd(fd);
	assert_int_equal(o.last, 0);
	assert_int_equal(o.snapshots, 1);
	assert_int_equal(o.seeds, 2);
	assert_int_equal(o.records, 1);

	/* After a record, too late. */
	fd = memfd_create("rec", 0);
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_int_equal(recording__write(w, &e), 0);
	assert_int_equal(recording__write_snapshot(w, &s, SNAP_NS, sds, 2), -EINVAL);
	assert_int_equal(recording__close(w, NULL, 0), 0);
	close(fd);
	free(w);
}

/* Version 1 files (no snapshot, older records) are refused by name. */
static void version1_refused(void **state)
{
	size_t len;
	unsigned char *buf = make(2, true, &len);
	struct outcome o = read_as_version(buf, len, 1);

	assert_int_equal(o.open, -EPROTONOSUPPORT);
	assert_non_null(strstr(o.err, "version 1 is older than this tcpstate-trace reads (2 to 4"));
	assert_non_null(strstr(o.err, "replay it with the version that made it"));
	free(buf);
}

/* A gone frame among the events: read back as written, in its place. */
static unsigned char *make_gone(size_t *len)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct ts_event e0 = ev(0), e1 = ev(1);
	int fd = memfd_create("rec", 0);

	assert_non_null(w);
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_int_equal(recording__write(w, &e0), 0);
	assert_int_equal(recording__write_gone(w, 77, 123456789), 0);
	assert_int_equal(recording__write_gone(w, 0, 1), -EINVAL);
	assert_int_equal(recording__write(w, &e1), 0);
	assert_int_equal(recording__close(w, NULL, 0), 0);
	free(w);
	return slurp(fd, len);
}

static void gone_frames(void **state)
{
	size_t len;
	unsigned char *buf = make_gone(&len);
	FILE *f = bytes(buf, len);
	struct recording_reader r;
	struct recording_item it;
	char err[256];
	int kinds[4], n = 0;

	assert_int_equal(recording__open_stream(&r, f, NULL, err, sizeof(err)), 0);
	while (n < 4 && recording__next(&r, &it, err, sizeof(err)) == 1) {
		kinds[n++] = it.kind;
		if (it.kind == RECORDING_KIND_GONE) {
			assert_int_equal(it.gone.cookie, 77);
			assert_int_equal(it.gone.checked_ns, 123456789);
		}
	}
	assert_int_equal(n, 3);
	assert_int_equal(kinds[0], RECORDING_KIND_EVENT);
	assert_int_equal(kinds[1], RECORDING_KIND_GONE);
	assert_int_equal(kinds[2], RECORDING_KIND_EVENT);
	assert_non_null(recording__end(&r));
	recording__close_reader(&r);
	fclose(f);
	free(buf);
}

/* The layout id versions 2 and 3 name (their 128-byte records, without
 * cgroup_id), as in tests/fuzz/corpus/recording's files. */
#define V3_LAYOUT_ID 2285623331u
#define V3_RECORD_SIZE 128

/* A version 4 recording in buf rewritten as version v (2 or 3) would have
 * written it: event and seed frames 8 bytes shorter, without cgroup_id. In
 * place; returns the new length. */
static size_t to_old_layout(unsigned char *buf, size_t len, uint32_t v)
{
	size_t in = RECORDING_HEADER_SIZE, out = RECORDING_HEADER_SIZE;

	put32le(buf + 8, v);
	put32le(buf + 16, V3_RECORD_SIZE);
	put32le(buf + 20, V3_LAYOUT_ID);
	reseal_header(buf);
	for (uint64_t idx = 0; in + RECORDING_FRAME_SIZE <= len; idx++) {
		uint32_t plen = buf[in] | buf[in + 1] << 8 | buf[in + 2] << 16 |
				(uint32_t)buf[in + 3] << 24;
		uint16_t kind = (uint16_t)(buf[in + 4] | buf[in + 5] << 8);
		size_t p = in + RECORDING_FRAME_SIZE, cut = 0;

		assert_true(p + plen <= len);
		if (kind == RECORDING_KIND_EVENT || kind == RECORDING_KIND_SEED) {
			/* cgroup_id: the 8 bytes after the old record. */
			memmove(buf + p + V3_RECORD_SIZE, buf + p + V3_RECORD_SIZE + 8,
				plen - V3_RECORD_SIZE - 8);
			cut = 8;
		}
		memmove(buf + out, buf + in, RECORDING_FRAME_SIZE + plen - cut);
		put32le(buf + out, plen - (uint32_t)cut);
		reseal_frame(buf, out, idx);
		in = p + plen;
		out += RECORDING_FRAME_SIZE + plen - cut;
	}
	return out;
}

/* Version 3 files are read, with their records' cgroup id 0. */
static void version3_read(void **state)
{
	size_t len;
	unsigned char *buf;
	struct outcome o;

	old_layout = true;
	buf = make_snap(2, 3, true, &len);
	len = to_old_layout(buf, len, 3);
	o = read_all(buf, len);
	assert_int_equal(o.open, 0);
	assert_int_equal(o.seeds, 2);
	assert_int_equal(o.records, 3);
	assert_int_equal(o.last, 0);
	free(buf);
	/* A version 3 header over version 4 records is refused. */
	buf = make(3, true, &len);
	o = read_as_version(buf, len, 3);
	assert_int_equal(o.open, -EPROTO);
	assert_non_null(strstr(o.err, "records of 136 bytes"));
	free(buf);
	old_layout = false;
}

/* Version 2 files are read: they are version 3 without gone frames, which
 * they cannot have. */
static void version2_read(void **state)
{
	size_t len;
	unsigned char *buf;
	struct outcome o;

	old_layout = true;
	buf = make(3, true, &len);
	len = to_old_layout(buf, len, 2);
	o = read_all(buf, len);

	assert_int_equal(o.open, 0);
	assert_int_equal(o.records, 3);
	assert_int_equal(o.last, 0);
	free(buf);
	buf = make_gone(&len);
	len = to_old_layout(buf, len, 2);
	o = read_all(buf, len);
	assert_int_equal(o.records, 1);
	assert_int_equal(o.last, -EBADMSG);
	assert_non_null(strstr(o.err, "unknown kind 5"));
	free(buf);
	old_layout = false;
}

/* Cgroup frames: what owners' cgroup ids named, read back in place, a path
 * not found too; the writer refuses what the reader would. */
static void cgroup_frames(void **state)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct ts_event e0 = ev(0);
	int fd = memfd_create("rec", 0), kinds[4], n = 0;
	char long_path[RECORDING_CGROUP_PATH + 1], err[256];
	struct recording_reader r;
	struct recording_item it;
	unsigned char *buf;
	size_t len;
	FILE *f;

	assert_non_null(w);
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_int_equal(recording__write_cgroup(w, 7000, "/system.slice/nginx.service"), 0);
	assert_int_equal(recording__write_cgroup(w, 7001, NULL), 0);
	assert_int_equal(recording__write_cgroup(w, 0, "/x"), -EINVAL);
	assert_int_equal(recording__write_cgroup(w, 7002, "relative"), -EINVAL);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(recording__write_cgroup(w, 7002, long_path), -EINVAL);
	assert_int_equal(recording__write(w, &e0), 0);
	assert_int_equal(recording__close(w, NULL, 0), 0);
	free(w);
	buf = slurp(fd, &len);
	f = bytes(buf, len);
	assert_int_equal(recording__open_stream(&r, f, NULL, err, sizeof(err)), 0);
	while (n < 4 && recording__next(&r, &it, err, sizeof(err)) == 1) {
		kinds[n++] = it.kind;
		if (it.kind == RECORDING_KIND_CGROUP && it.cgroup.id == 7000) {
			assert_true(it.cgroup.found);
			assert_string_equal(it.cgroup.path, "/system.slice/nginx.service");
		} else if (it.kind == RECORDING_KIND_CGROUP) {
			assert_int_equal(it.cgroup.id, 7001);
			assert_false(it.cgroup.found);
			assert_string_equal(it.cgroup.path, "");
		}
	}
	assert_int_equal(n, 3);
	assert_int_equal(kinds[0], RECORDING_KIND_CGROUP);
	assert_int_equal(kinds[1], RECORDING_KIND_CGROUP);
	assert_int_equal(kinds[2], RECORDING_KIND_EVENT);
	assert_non_null(recording__end(&r));
	recording__close_reader(&r);
	fclose(f);

	/* A byte after the path's end: damaged, said where. */
	buf[RECORDING_HEADER_SIZE + RECORDING_FRAME_SIZE + 16 + 30] = 'x';
	reseal_frame(buf, RECORDING_HEADER_SIZE, 0);
	f = bytes(buf, len);
	assert_int_equal(recording__open_stream(&r, f, NULL, err, sizeof(err)), 0);
	assert_int_equal(recording__next(&r, &it, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "record 1 at byte 256 is a malformed cgroup frame"));
	recording__close_reader(&r);
	fclose(f);
	free(buf);
}

static void write_error_enospc(void **state)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct ts_event e = ev(0);
	int fd = memfd_create("rec", 0), full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	int err = 0;

	assert_true(full >= 0);
	/* The header is written at once. */
	assert_int_equal(recording__create(w, "/dev/full", &m, open_why, sizeof(open_why)), -ENOSPC);
	/* The disk fills later: the buffered records fail when written. */
	assert_int_equal(recording__create_fd(w, fd, &m), 0);
	assert_true(dup2(full, fd) == fd);
	for (int i = 0; i < 10000 && !err; i++)
		err = recording__write(w, &e);
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(recording__write(w, &e), -ENOSPC);	/* sticky */
	assert_int_equal(recording__close(w, NULL, 0), -ENOSPC);
	close(fd);
	close(full);
	free(w);
}

static void write_error_epipe(void **state)
{
	struct recording_writer *w = malloc(sizeof(*w));
	struct recording_meta m = meta();
	struct ts_event e = ev(0);
	int p[2], err = 0;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(recording__create_fd(w, p[1], &m), 0);
	close(p[0]);
	for (int i = 0; i < 10000 && !err; i++)
		err = recording__write(w, &e);
	assert_int_equal(err, -EPIPE);
	assert_int_equal(recording__flush(w), -EPIPE);
	assert_int_equal(recording__close(w, NULL, 0), -EPIPE);
	close(p[1]);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_many),
		cmocka_unit_test(empty_recording),
		cmocka_unit_test(header_fields),
		cmocka_unit_test(truncated_anywhere),
		cmocka_unit_test(flipped_byte_anywhere),
		cmocka_unit_test(frames_lost_or_repeated),
		cmocka_unit_test(invalid_record_refused),
		cmocka_unit_test(event_checks),
		cmocka_unit_test(writer_refuses_invalid),
		cmocka_unit_test(cut_without_end),
		cmocka_unit_test(header_refusals),
		cmocka_unit_test(open_errors),
		cmocka_unit_test(snapshot_round_trip),
		cmocka_unit_test(snapshot_truncated),
		cmocka_unit_test(snapshot_flipped_byte),
		cmocka_unit_test(snapshot_frame_order),
		cmocka_unit_test(snapshot_invalid_refused),
		cmocka_unit_test(snapshot_writer_refuses),
		cmocka_unit_test(version1_refused),
		cmocka_unit_test(gone_frames),
		cmocka_unit_test(version2_read),
		cmocka_unit_test(version3_read),
		cmocka_unit_test(cgroup_frames),
		cmocka_unit_test(write_error_enospc),
		cmocka_unit_test(write_error_epipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

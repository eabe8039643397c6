// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the recording reader and the whole replay behind
 * it (tests/fuzz/README.md).
 *
 * Each input is read twice: as it is, and with its checksums recomputed as
 * the format prescribes, so that mutations reach the checks behind the
 * CRCs (lengths, kinds, frame order, record and seed fields, the snapshot
 * and end frames) instead of all stopping at the first checksum. Every
 * record and seed the reader accepts must be one the engine may be given,
 * in the order the format allows; errors must be final and explained; and
 * what was read must survive being written again and read back unchanged.
 * Then the input is replayed whole, as --replay does (the engine and every
 * output), with options the input's own bytes choose. Any violation aborts,
 * which libFuzzer reports as a crash; a replay that does not end is a
 * timeout (make test-fuzz gives each input 10 s). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"
#include "output.h"
#include "recording.h"
#include "run.h"

/* Why an output could not be opened (outfile.h). */
static char open_why[256];

#define MAX_RECORDS 4096

static struct ts_event got[MAX_RECORDS], got2[MAX_RECORDS];
static struct snapshot_seed seeds[MAX_RECORDS], seeds2[MAX_RECORDS];
static struct recording_writer writer;

/* Gone and cgroup frames among the records: each with how many records
 * came before it, to be written back in place. */
#define MAX_EXTRAS 256
struct extra {
	size_t at;
	struct recording_item it;
};
static struct extra extras[MAX_EXTRAS], extras2[MAX_EXTRAS];

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_recording: %s:%d: %s\n", __FILE__,      \
				__LINE__, #cond);                                     \
			abort();                                                      \
		}                                                                     \
	} while (0)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute every checksum the reader will check, walking the frames by
 * their length fields as the reader does. */
static void reseal(uint8_t *b, size_t n)
{
	size_t off = RECORDING_HEADER_SIZE;
	uint64_t idx = 0;

	if (n < RECORDING_HEADER_SIZE)
		return;
	put_le32(b + RECORDING_HEADER_SIZE - 4,
		 (uint32_t)crc32(crc32(0, NULL, 0), b, RECORDING_HEADER_SIZE - 4));
	while (n - off >= RECORDING_FRAME_SIZE) {
		uint32_t len = le32(b + off);
		uint8_t le[8];
		uLong c;

		if (len > n - off - RECORDING_FRAME_SIZE)
			break;
		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(idx >> (8 * i));
		c = crc32(crc32(0, NULL, 0), le, 8);
		c = crc32(c, b + off, 8);
		c = crc32(c, b + off + RECORDING_FRAME_SIZE, len);
		put_le32(b + off + 8, (uint32_t)c);
		off += RECORDING_FRAME_SIZE + len;
		idx++;
	}
}

struct result {
	int open, last;
	size_t records, nseeds, nextras;
	bool snapshot;
	struct recording_snapshot snap;
	struct recording_meta meta;
	struct recording_end end;
};

/* Read everything; the records go to out[], the seeds to sds[], gone and
 * cgroup frames to ex[]. */
static struct result read_all(const uint8_t *data, size_t size, struct ts_event *out,
			      struct snapshot_seed *sds, struct extra *ex)
{
	struct result res;
	struct recording_reader r;
	struct recording_item it;
	char err[256], again[256];
	FILE *f = fmemopen((void *)data, size, "rb");

	memset(&res, 0, sizeof(res));
	CHECK(f);
	err[0] = 0;
	res.open = recording__open_stream(&r, f, &res.meta, err, sizeof(err));
	if (res.open) {
		CHECK(res.open < 0 && err[0]);
		fclose(f);
		return res;
	}
	CHECK(memchr(res.meta.kernel, 0, sizeof(res.meta.kernel)));
	CHECK(memchr(res.meta.host, 0, sizeof(res.meta.host)));
	CHECK(memchr(res.meta.tool_version, 0, sizeof(res.meta.tool_version)));
	while ((res.last = recording__next(&r, &it, err, sizeof(err))) == 1) {
		switch (it.kind) {
		case RECORDING_KIND_SNAPSHOT:
			/* One, first. */
			CHECK(!res.snapshot && !res.nseeds && !res.records);
			res.snapshot = true;
			res.snap = it.snapshot;
			break;
		case RECORDING_KIND_SEED:
			/* After the snapshot, before the records, no more than it counts. */
			CHECK(res.snapshot && !res.records && res.nseeds < res.snap.counts.total);
			CHECK(recording__seed_ok(&it.seed, NULL, 0));
			CHECK(res.nseeds < MAX_RECORDS);
			sds[res.nseeds++] = it.seed;
			break;
		case RECORDING_KIND_EVENT:
			CHECK(!res.snapshot || res.nseeds == res.snap.counts.total);
			CHECK(recording__event_ok(&it.event, NULL, 0));
			CHECK(res.records < MAX_RECORDS);
			out[res.records++] = it.event;
			break;
		case RECORDING_KIND_GONE:
		case RECORDING_KIND_CGROUP:
			CHECK(!res.snapshot || res.nseeds == res.snap.counts.total);
			if (it.kind == RECORDING_KIND_GONE) {
				CHECK(it.gone.cookie);
			} else {
				CHECK(it.cgroup.id);
				CHECK(memchr(it.cgroup.path, 0, sizeof(it.cgroup.path)));
				CHECK(it.cgroup.found == (it.cgroup.path[0] != 0));
				CHECK(!it.cgroup.found || it.cgroup.path[0] == '/');
			}
			CHECK(res.nextras < MAX_EXTRAS);
			ex[res.nextras].at = res.records;
			ex[res.nextras++].it = it;
			break;
		default:
			CHECK(!"a frame of an unknown kind was returned");
		}
	}
	if (res.last < 0) {
		CHECK(err[0]);
		CHECK(recording__next(&r, &it, again, sizeof(again)) == res.last);
		CHECK(strcmp(err, again) == 0);
		CHECK(recording__end(&r) == NULL);
	} else {
		const struct recording_end *end = recording__end(&r);

		CHECK(res.last == 0 && end);
		CHECK(end->events == res.records && end->nstats <= RECORDING_STATS_MAX);
		CHECK(!res.snapshot || res.nseeds == res.snap.counts.total);
		CHECK(recording__next(&r, &it, err, sizeof(err)) == 0);
		res.end = *end;
	}
	recording__close_reader(&r);
	fclose(f);
	return res;
}

static bool same_seed(const struct snapshot_seed *a, const struct snapshot_seed *b)
{
	return memcmp(&a->ident, &b->ident, sizeof(a->ident)) == 0 && a->state == b->state &&
	       a->since_ns == b->since_ns && a->bounded == b->bounded;
}

/* Write what was read and read it back: the same header, snapshot, seeds
 * and records. */
static void write_extra(const struct extra *x)
{
	const struct recording_item *it = &x->it;

	if (it->kind == RECORDING_KIND_GONE)
		CHECK(recording__write_gone(&writer, it->gone.cookie, it->gone.checked_ns) == 0);
	else
		CHECK(recording__write_cgroup(&writer, it->cgroup.id,
					      it->cgroup.found ? it->cgroup.path : NULL) == 0);
}

static bool same_extra(const struct extra *a, const struct extra *b)
{
	if (a->at != b->at || a->it.kind != b->it.kind)
		return false;
	if (a->it.kind == RECORDING_KIND_GONE)
		return a->it.gone.cookie == b->it.gone.cookie &&
		       a->it.gone.checked_ns == b->it.gone.checked_ns;
	return a->it.cgroup.id == b->it.cgroup.id && a->it.cgroup.found == b->it.cgroup.found &&
	       strcmp(a->it.cgroup.path, b->it.cgroup.path) == 0;
}

static void round_trip(const struct result *first)
{
	static int fd = -1;
	struct recording_snapshot snap = first->snap;
	struct result again;
	uint8_t *buf;
	off_t size;

	if (fd < 0)
		fd = memfd_create("fuzz_recording", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(recording__create_fd(&writer, fd, &first->meta) == 0);
	if (first->snapshot) {
		/* A read stopped among the seeds: the snapshot of those read. */
		snap.counts.total = (uint32_t)first->nseeds;
		CHECK(recording__write_snapshot(&writer, &snap.counts, snap.now_ns, seeds,
						first->nseeds) == 0);
	}
	for (size_t i = 0, x = 0; i <= first->records; i++) {
		for (; x < first->nextras && extras[x].at == i; x++)
			write_extra(&extras[x]);
		if (i < first->records)
			CHECK(recording__write(&writer, &got[i]) == 0);
	}
	CHECK(recording__close(&writer, first->end.stats, first->end.nstats) == 0);
	size = lseek(fd, 0, SEEK_END);
	CHECK(size >= RECORDING_HEADER_SIZE);
	buf = malloc((size_t)size);
	CHECK(buf && pread(fd, buf, (size_t)size, 0) == size);
	again = read_all(buf, (size_t)size, got2, seeds2, extras2);
	CHECK(again.open == 0 && again.last == 0);
	CHECK(again.snapshot == first->snapshot && again.nseeds == first->nseeds);
	CHECK(memcmp(&again.snap.counts, &snap.counts, sizeof(snap.counts)) == 0);
	CHECK(again.snap.now_ns == snap.now_ns);
	for (size_t i = 0; i < first->nseeds; i++)
		CHECK(same_seed(&seeds2[i], &seeds[i]));
	CHECK(again.records == first->records);
	CHECK(again.nextras == first->nextras);
	for (size_t i = 0; i < first->nextras; i++)
		CHECK(same_extra(&extras2[i], &extras[i]));
	CHECK(memcmp(got2, got, first->records * sizeof(got[0])) == 0);
	CHECK(memcmp(&again.meta, &first->meta, sizeof(again.meta)) == 0);
	CHECK(again.end.nstats == first->end.nstats);
	CHECK(memcmp(again.end.stats, first->end.stats, sizeof(again.end.stats)) == 0);
	free(buf);
}

/* --- seed corpus: FUZZ_RECORDING_WRITE_SEEDS=DIR writes it and exits --- */

static struct ts_event seed_event(int i)
{
	static const uint32_t types[] = { TS_EV_STATE, TS_EV_CLOSE, TS_EV_SHUTDOWN,
					  TS_EV_RESET, TS_EV_ACCEPT, TS_EV_STATE };
	struct ts_event e;

	memset(&e, 0, sizeof(e));
	e.type = types[i % 6];
	e.mono_ns = 5000000000ULL + (uint64_t)i * 1000003ULL;
	e.cookie = 4242 + (uint64_t)i;
	e.skaddr = 0xffff888012345600ULL;
	e.family = i % 2 ? 10 : 2;	/* AF_INET6, AF_INET */
	e.sport = (uint16_t)(40000 + i);
	e.dport = 80;
	e.pid = 1730;
	e.owner_src = TS_OWNER_SYSCALL;
	memcpy(e.comm, "server", 6);
	e.netns = 4026531840U;
	e.ino = 99000 + (uint64_t)i;
	e.cgroup_id = (uint64_t)i % 2 ? 4242 : 0;
	e.fd = -1;
	e.saddr[0] = e.daddr[0] = 127;
	e.saddr[3] = e.daddr[3] = 1;
	switch (e.type) {
	case TS_EV_STATE:
		e.oldstate = 1;		/* ESTABLISHED */
		e.newstate = 8;		/* CLOSE_WAIT */
		e.prev_state_ns = 2000;
		e.flags = TS_EVF_PREV_KNOWN;
		break;
	case TS_EV_CLOSE:
		e.fd = 8;
		e.refs = 2;
		e.via = TS_VIA_CLOSE;
		break;
	case TS_EV_SHUTDOWN:
		e.fd = 8;
		e.refs = 1;
		e.how = 1;		/* SHUT_WR */
		break;
	case TS_EV_RESET:
		e.reset_dir = TS_RESET_RECEIVED;
		break;
	case TS_EV_ACCEPT:
		e.fd = 9;
		break;
	}
	return e;
}

/* A socket the start-up snapshot found: the connection of seed_event(i). */
static struct snapshot_seed seed_socket(int i)
{
	static const int states[] = { 1, 8, 6 };	/* ESTABLISHED, CLOSE_WAIT, TIME_WAIT */
	struct snapshot_seed sd;

	memset(&sd, 0, sizeof(sd));
	sd.ident = seed_event(i);
	sd.ident.mono_ns = 0;
	sd.ident.type = TS_EV_STATE;
	sd.ident.oldstate = sd.ident.newstate = 0;
	sd.ident.prev_state_ns = 0;
	sd.ident.flags = 0;
	sd.ident.fd = -1;
	sd.state = states[i % 3];
	sd.since_ns = 4000000000ULL - (uint64_t)i * 700000000ULL;
	sd.bounded = true;
	return sd;
}

/* The end frame holds the clocks at close: fixed instead, so the corpus
 * comes out the same bytes every time it is written. */
static void pin_end_time(const char *path)
{
	uint8_t buf[4096], *end;
	FILE *f = fopen(path, "r+b");
	size_t n;

	CHECK(f);
	n = fread(buf, 1, sizeof(buf), f);
	CHECK(n < sizeof(buf) && n >= RECORDING_HEADER_SIZE + RECORDING_END_SIZE);
	end = buf + n - RECORDING_END_SIZE;
	for (int i = 0; i < 8; i++) {
		end[8 + i] = (uint8_t)(1795258526175990914ULL >> (8 * i));	/* realtime */
		end[16 + i] = (uint8_t)(5000000000ULL >> (8 * i));		/* monotonic */
	}
	reseal(buf, n);
	CHECK(fseek(f, 0, SEEK_SET) == 0 && fwrite(buf, 1, n, f) == n && fclose(f) == 0);
}

/* A recording of n records, after a snapshot of nsock sockets unless nsock
 * is negative, ended or not, then cut to cut bytes if cut is not 0. */
static void write_seed(const char *dir, const char *name, int nsock, int n, bool end,
		       off_t cut)
{
	struct recording_meta m;
	uint64_t stats[TS_STAT__MAX] = { (uint64_t)n, 0, 1 };
	char path[4096];

	memset(&m, 0, sizeof(m));
	strcpy(m.kernel, "6.1.0-28-cloud-amd64");
	strcpy(m.host, "web-17");
	strcpy(m.tool_version, "0.1.0");
	m.start_realtime_ns = 1795258525175990914LL;
	m.start_mono_ns = 4000000000ULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(recording__create(&writer, path, &m, open_why, sizeof(open_why)) == 0);
	if (nsock >= 0) {
		struct snapshot snap = { .netns = 1 };

		for (int i = 0; i < nsock; i++) {
			seeds[i] = seed_socket(i);
			snap.by_state[seeds[i].state]++;
		}
		snap.total = snap.seeded = (uint32_t)nsock;
		CHECK(recording__write_snapshot(&writer, &snap, m.start_mono_ns, seeds,
						(size_t)nsock) == 0);
	}
	for (int i = 0; i < n; i++) {
		struct ts_event e = seed_event(i);

		/* What the owners' cgroup ids named, before their first record. */
		if (i == 1)
			CHECK(recording__write_cgroup(&writer, e.cgroup_id, "/system.slice/docker-"
				"4f1c2e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d.scope") == 0);
		CHECK(recording__write(&writer, &e) == 0);
	}
	if (end) {
		CHECK(recording__close(&writer, stats, TS_STAT__MAX) == 0);
		pin_end_time(path);
	} else {
		CHECK(recording__flush(&writer) == 0);
		close(writer.fd);
	}
	CHECK(!cut || truncate(path, cut) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_RECORDING_WRITE_SEEDS");

	if (!dir)
		return 0;
	write_seed(dir, "six-records", -1, 6, true, 0);
	write_seed(dir, "no-records", -1, 0, true, 0);
	write_seed(dir, "cut-short", -1, 2, false, 0);
	write_seed(dir, "snapshot-six-records", 3, 6, true, 0);
	write_seed(dir, "snapshot-nothing", 0, 0, true, 0);
	/* Cut inside the second seed: a tracer killed while it started. */
	write_seed(dir, "snapshot-cut-in-seeds", 3, 0, false,
		   RECORDING_HEADER_SIZE + RECORDING_FRAME_SIZE + RECORDING_SNAPSHOT_SIZE +
		   RECORDING_FRAME_SIZE + RECORDING_SEED_SIZE + 60);
	exit(0);
}

/* The whole replay of data, through run__replay_stream(): the options
 * from the input's checksum, so a mutation reaches them too; output to
 * /dev/null, and the stderr stream there for the while (the summary
 * line); the sanitizers write to descriptor 2, which stays. The output and
 * the cgroup names are made once and reset per input: their buffers, a
 * fresh mapping each under ASan, were most of the time. */
static void replay_whole(const uint8_t *data, size_t size)
{
	static FILE *null_out;
	static struct output out;
	FILE *saved_err;
	uint32_t h = (uint32_t)crc32(crc32(0, NULL, 0), data, size);
	struct cli_opts o;
	FILE *f = fmemopen((void *)data, size, "rb");
	int status;

	if (!null_out) {
		null_out = fopen("/dev/null", "w");
		output__init(&out, null_out, false, false);
		out.cg = cgroup_names__new_offline();
	}
	CHECK(f && null_out && out.cg);
	cli__defaults(&o);
	o.json = h & 1;
	o.timestamps = h & 2;
	o.close_wait_alert_s = h & 4 ? 1 : 0;
	o.hist = h & 8;
	/* Grouping by comm costs a 3 MiB table per input: one in 16. */
	o.hist_by = (h >> 12) % 16 == 0 ? LATENCY_BY_COMM : LATENCY_BY_NONE;
	o.hist = o.hist || o.hist_by != LATENCY_BY_NONE;
	o.timewait_report = h & 32;
	o.interval_s = h & 64 ? 1 : 0;
	o.quiet = h & 128;
	if (h & 256) {
		o.timeline_path = "/dev/null";
		o.timeline_format = (enum timeline_format)((h >> 9) % 3);
	}
	/* A small table: evictions reached, and no megabytes per input. */
	o.max_sockets = 8;
	out.json = o.json;
	out.timestamps = o.timestamps;
	out.header_done = false;
	cgroup_names__clear(out.cg);
	saved_err = stderr;
	stderr = null_out;
	status = run__replay_stream(&o, &out, f);
	stderr = saved_err;
	CHECK(status == 0 || status == 1);
	CHECK(output__flush(&out) == 0);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result res;
	uint8_t *copy;

	read_all(data, size, got, seeds, extras);

	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	reseal(copy, size);
	res = read_all(copy, size, got, seeds, extras);
	if (res.open == 0) {
		round_trip(&res);
		replay_whole(copy, size);
	}
	free(copy);
	return 0;
}

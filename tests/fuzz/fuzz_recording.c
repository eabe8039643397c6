// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the recording reader (tests/fuzz/README.md).
 *
 * Each input is read twice: as it is, and with its checksums recomputed as
 * the format prescribes, so that mutations reach the checks behind the
 * CRCs (lengths, kinds, record fields, the end frame) instead of all
 * stopping at the first checksum. Every record the reader accepts must be
 * one the engine may be given; errors must be final and explained; and what
 * was read must survive being written again and read back unchanged. Any
 * violation aborts, which libFuzzer reports as a crash. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "recording.h"

#define MAX_RECORDS 4096

static struct ts_event got[MAX_RECORDS], got2[MAX_RECORDS];
static struct recording_writer writer;

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
	size_t records;
	struct recording_meta meta;
	struct recording_end end;
};

/* Read everything; the records go to out[]. */
static struct result read_all(const uint8_t *data, size_t size, struct ts_event *out)
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
		if (it.kind != RECORDING_KIND_EVENT)
			continue;
		CHECK(recording__event_ok(&it.event, NULL, 0));
		CHECK(res.records < MAX_RECORDS);
		out[res.records++] = it.event;
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
		CHECK(recording__next(&r, &it, err, sizeof(err)) == 0);
		res.end = *end;
	}
	recording__close_reader(&r);
	fclose(f);
	return res;
}

/* Write what was read and read it back: the same records and header. */
static void round_trip(const struct result *first)
{
	static int fd = -1;
	struct result again;
	uint8_t *buf;
	off_t size;

	if (fd < 0)
		fd = memfd_create("fuzz_recording", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(recording__create_fd(&writer, fd, &first->meta) == 0);
	for (size_t i = 0; i < first->records; i++)
		CHECK(recording__write(&writer, &got[i]) == 0);
	CHECK(recording__close(&writer, first->end.stats, first->end.nstats) == 0);
	size = lseek(fd, 0, SEEK_END);
	CHECK(size >= RECORDING_HEADER_SIZE);
	buf = malloc((size_t)size);
	CHECK(buf && pread(fd, buf, (size_t)size, 0) == size);
	again = read_all(buf, (size_t)size, got2);
	CHECK(again.open == 0 && again.last == 0);
	CHECK(again.records == first->records);
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

static void write_seed(const char *dir, const char *name, int n, bool end)
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
	CHECK(recording__create(&writer, path, &m) == 0);
	for (int i = 0; i < n; i++) {
		struct ts_event e = seed_event(i);

		CHECK(recording__write(&writer, &e) == 0);
	}
	if (end) {
		CHECK(recording__close(&writer, stats, TS_STAT__MAX) == 0);
	} else {
		CHECK(recording__flush(&writer) == 0);
		close(writer.fd);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_RECORDING_WRITE_SEEDS");

	if (!dir)
		return 0;
	write_seed(dir, "six-records", 6, true);
	write_seed(dir, "no-records", 0, true);
	write_seed(dir, "cut-short", 2, false);
	exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result res;
	uint8_t *copy;

	read_all(data, size, got);

	copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	reseal(copy, size);
	res = read_all(copy, size, got);
	free(copy);
	if (res.open == 0)
		round_trip(&res);
	return 0;
}

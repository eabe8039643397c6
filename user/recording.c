// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "recording.h"
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tcp_names.h"

#ifndef TS_VERSION
#define TS_VERSION "unknown"
#endif

/* Header offsets (see recording.h). */
enum {
	H_MAGIC = 0,
	H_VERSION = 8,
	H_HEADER_SIZE = 12,
	H_RECORD_SIZE = 16,
	H_LAYOUT = 20,
	H_BYTE_ORDER = 24,
	H_FLAGS = 28,
	H_START_REAL = 32,
	H_START_MONO = 40,
	H_KERNEL = 48,
	H_HOST = H_KERNEL + 65,
	H_TOOL = H_HOST + 65,
	H_TOOL_END = H_TOOL + 32,
	H_CRC = RECORDING_HEADER_SIZE - 4,
};

_Static_assert(H_TOOL_END <= H_CRC, "header fields overlap its checksum");
_Static_assert(sizeof(((struct recording_meta *)0)->kernel) == H_HOST - H_KERNEL, "kernel");
_Static_assert(sizeof(((struct recording_meta *)0)->host) == H_TOOL - H_HOST, "host");
_Static_assert(sizeof(((struct recording_meta *)0)->tool_version) == H_TOOL_END - H_TOOL, "tool");
_Static_assert(TS_STAT__MAX <= RECORDING_STATS_MAX, "the end frame holds every counter");
_Static_assert(TS_TCP_MAX_STATES <= RECORDING_STATES_MAX, "the snapshot frame holds every state");

/* Room for the payload of any kind of frame. */
#define PAYLOAD_MAX RECORDING_CGROUP_SIZE
_Static_assert(PAYLOAD_MAX >= RECORDING_END_SIZE && PAYLOAD_MAX >= RECORDING_SEED_SIZE,
	       "PAYLOAD_MAX holds end and seed frames");
_Static_assert(PAYLOAD_MAX >= RECORDING_SNAPSHOT_SIZE && PAYLOAD_MAX >= sizeof(struct ts_event),
	       "PAYLOAD_MAX holds every frame");

enum { ORDER_LITTLE = 1, ORDER_BIG = 2 };

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_ORDER ORDER_BIG
#else
#define HOST_ORDER ORDER_LITTLE
#endif

/* Every field of struct ts_event, in order. The layout id is computed from
 * this list, so a file whose records were laid out differently is refused
 * even when the size matches. A field added to ts_event without being
 * listed here stops the build (the assertion below). */
#define TS_EVENT_FIELDS(X)                                                      \
	X(mono_ns) X(cookie) X(skaddr) X(prev_state_ns) X(type) X(oldstate)     \
	X(newstate) X(owner_src) X(pid) X(netns) X(family) X(sport) X(dport)    \
	X(flags) X(pad) X(drop_gen) X(saddr) X(daddr) X(comm) X(ino) X(fd) X(refs) X(how)   \
	X(final) X(via) X(reset_dir) X(tw_substate) X(tw_reason) X(pad2) X(cgroup_id)

#define FIELD_SIZE(f) +sizeof(((struct ts_event *)0)->f)
_Static_assert(0 TS_EVENT_FIELDS(FIELD_SIZE) == sizeof(struct ts_event),
	       "struct ts_event changed: list its fields in TS_EVENT_FIELDS (recording.c)");

struct field {
	const char *name;
	uint32_t off, size;
};

#define FIELD_ENTRY(f) { #f, offsetof(struct ts_event, f), sizeof(((struct ts_event *)0)->f) },
static const struct field fields[] = { TS_EVENT_FIELDS(FIELD_ENTRY) };
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Versions 2 and 3: the same records less the last field, cgroup_id. */
#define V3_RECORD_SIZE offsetof(struct ts_event, cgroup_id)
#define V3_NFIELDS (NFIELDS - 1)
_Static_assert(V3_RECORD_SIZE == 128, "version 3's records were 128 bytes");

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t crc(uint32_t c, const void *buf, size_t len)
{
	return (uint32_t)crc32(c, buf, (uInt)len);
}

/* The layout id of the first nfields fields. */
static uint32_t layout_id_of(size_t nfields)
{
	uint32_t c = crc(0, NULL, 0);

	for (size_t i = 0; i < nfields && i < NFIELDS; i++) {
		unsigned char num[8];

		put32(num, fields[i].off);
		put32(num + 4, fields[i].size);
		c = crc(c, fields[i].name, strlen(fields[i].name) + 1);
		c = crc(c, num, sizeof(num));
	}
	return c;
}

static uint32_t layout_id(void)
{
	return layout_id_of(NFIELDS);
}

/* Record size and layout id of a format version this build reads. */
static size_t version_record_size(uint32_t v)
{
	return v >= 4 ? sizeof(struct ts_event) : V3_RECORD_SIZE;
}

static uint32_t version_layout_id(uint32_t v)
{
	return layout_id_of(v >= 4 ? NFIELDS : V3_NFIELDS);
}

/* CRC of a frame: its index, frame header bytes 0-7, the payload. */
static uint32_t frame_crc(uint64_t index, const unsigned char *fh, const void *payload,
			  size_t len)
{
	unsigned char idx[8];
	uint32_t c;

	put64(idx, index);
	c = crc(crc(0, NULL, 0), idx, sizeof(idx));
	c = crc(c, fh, 8);
	return crc(c, payload, len);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memset(dst, 0, size);
	if (n)
		memcpy(dst, src, n);
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void recording__meta_now(struct recording_meta *m)
{
	struct utsname u;
	int64_t m0, m1;

	memset(m, 0, sizeof(*m));
	if (uname(&u) == 0) {
		copy_str(m->kernel, sizeof(m->kernel), u.release);
		copy_str(m->host, sizeof(m->host), u.nodename);
	}
	copy_str(m->tool_version, sizeof(m->tool_version), TS_VERSION);
	/* Realtime bracketed by two monotonic reads, as clock__init() does. */
	m0 = clock_ns(CLOCK_MONOTONIC);
	m->start_realtime_ns = clock_ns(CLOCK_REALTIME);
	m1 = clock_ns(CLOCK_MONOTONIC);
	m->start_mono_ns = (uint64_t)(m0 + (m1 - m0) / 2);
}

static bool bad(char *why, size_t len, const char *fmt, long long v)
{
	if (why && len)
		snprintf(why, len, fmt, v);
	return false;
}

bool recording__event_ok(const struct ts_event *e, char *why, size_t len)
{
	if (e->type < TS_EV_STATE || e->type > TS_EV__MAX)
		return bad(why, len, "unknown record type %lld", e->type);
	if (e->family != AF_INET && e->family != AF_INET6)
		return bad(why, len, "address family %lld", e->family);
	if (e->oldstate >= TS_TCP_MAX_STATES)
		return bad(why, len, "old state %lld", e->oldstate);
	if (e->newstate >= TS_TCP_MAX_STATES)
		return bad(why, len, "new state %lld", e->newstate);
	if (e->tw_substate >= TS_TCP_MAX_STATES)
		return bad(why, len, "timewait substate %lld", e->tw_substate);
	if (e->owner_src > TS_OWNER_LISTENER)
		return bad(why, len, "owner source %lld", e->owner_src);
	if (e->fd < -1)
		return bad(why, len, "descriptor %lld", e->fd);
	if (e->how > 2)		/* SHUT_RD, SHUT_WR, SHUT_RDWR */
		return bad(why, len, "shutdown how %lld", e->how);
	if (e->final > 1)
		return bad(why, len, "final flag %lld", e->final);
	if (e->via > TS_VIA_OTHER)
		return bad(why, len, "close via %lld", e->via);
	if (e->reset_dir > TS_RESET_RECEIVED)
		return bad(why, len, "reset direction %lld", e->reset_dir);
	if (e->tw_reason > TS_TW_KILLED)
		return bad(why, len, "timewait end reason %lld", e->tw_reason);
	return true;
}

bool recording__seed_ok(const struct snapshot_seed *sd, char *why, size_t len)
{
	if (!recording__event_ok(&sd->ident, why, len))
		return false;
	if (sd->state <= 0 || sd->state >= TS_TCP_MAX_STATES)
		return bad(why, len, "state %lld", sd->state);
	return true;
}

/* --- writing --- */

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int recording__flush(struct recording_writer *w)
{
	if (w->err)
		return w->err;
	if (w->len) {
		w->err = write_all(w->fd, w->buf, w->len);
		w->len = 0;
	}
	return w->err;
}

/* Append a frame to the buffer, writing the buffer out first if needed. */
static int put_frame(struct recording_writer *w, uint16_t kind, const void *payload,
		     uint32_t len)
{
	unsigned char *fh;

	if (w->err)
		return w->err;
	if (w->len + RECORDING_FRAME_SIZE + len > sizeof(w->buf) && recording__flush(w))
		return w->err;
	fh = w->buf + w->len;
	put32(fh, len);
	put16(fh + 4, kind);
	put16(fh + 6, 0);
	memcpy(fh + RECORDING_FRAME_SIZE, payload, len);
	put32(fh + 8, frame_crc(w->frames++, fh, payload, len));
	w->len += RECORDING_FRAME_SIZE + len;
	return 0;
}

int recording__create_fd(struct recording_writer *w, int fd, const struct recording_meta *meta)
{
	unsigned char *h;

	memset(w, 0, offsetof(struct recording_writer, buf));
	w->fd = fd;
	h = w->buf;
	memset(h, 0, RECORDING_HEADER_SIZE);
	memcpy(h + H_MAGIC, RECORDING_MAGIC, 8);
	put32(h + H_VERSION, RECORDING_VERSION);
	put32(h + H_HEADER_SIZE, RECORDING_HEADER_SIZE);
	put32(h + H_RECORD_SIZE, sizeof(struct ts_event));
	put32(h + H_LAYOUT, layout_id());
	put32(h + H_BYTE_ORDER, HOST_ORDER);
	put32(h + H_FLAGS, 0);
	put64(h + H_START_REAL, (uint64_t)meta->start_realtime_ns);
	put64(h + H_START_MONO, meta->start_mono_ns);
	copy_str((char *)h + H_KERNEL, H_HOST - H_KERNEL, meta->kernel);
	copy_str((char *)h + H_HOST, H_TOOL - H_HOST, meta->host);
	copy_str((char *)h + H_TOOL, H_TOOL_END - H_TOOL, meta->tool_version);
	put32(h + H_CRC, crc(crc(0, NULL, 0), h, H_CRC));
	w->len = RECORDING_HEADER_SIZE;
	/* Written at once: even a run that records nothing leaves a file
	 * that says what it is. */
	return recording__flush(w);
}

int recording__create(struct recording_writer *w, const char *path,
		      const struct recording_meta *meta, char *why, size_t whylen)
{
	bool owned;
	int fd = outfile__open(path, OUTFILE_MODE, &owned, why, whylen), err;

	if (fd < 0)
		return fd;
	err = !owned && isatty(fd) ? -ENOTTY : recording__create_fd(w, fd, meta);
	if (err) {
		snprintf(why, whylen, "%s: %s", path, err == -ENOTTY ? "is a terminal: a "
			 "recording is binary" : strerror(-err));
		if (owned)
			close(fd);
		return err;
	}
	w->own_fd = owned;
	return 0;
}

int recording__write_gone(struct recording_writer *w, uint64_t cookie, uint64_t checked_ns)
{
	unsigned char p[RECORDING_GONE_SIZE];

	if (w->err)
		return w->err;
	if (!cookie)
		return -EINVAL;
	put64(p, cookie);
	put64(p + 8, checked_ns);
	return put_frame(w, RECORDING_KIND_GONE, p, sizeof(p));
}

int recording__write_snapshot(struct recording_writer *w, const struct snapshot *s,
			      uint64_t now_ns, const struct snapshot_seed *seeds, size_t n)
{
	unsigned char p[PAYLOAD_MAX] = { 0 };
	int err;

	if (w->err)
		return w->err;
	if (w->frames || n != s->total)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!recording__seed_ok(&seeds[i], NULL, 0))
			return -EINVAL;
	put64(p, now_ns);
	put32(p + 8, s->total);
	put32(p + 12, s->seeded);
	put32(p + 16, s->netns);
	put32(p + 20, s->netns_failed);
	put32(p + 24, TS_TCP_MAX_STATES);
	for (int i = 0; i < TS_TCP_MAX_STATES; i++)
		put32(p + 32 + 4 * i, s->by_state[i]);
	err = put_frame(w, RECORDING_KIND_SNAPSHOT, p, RECORDING_SNAPSHOT_SIZE);
	for (size_t i = 0; i < n && !err; i++) {
		const struct snapshot_seed *sd = &seeds[i];

		memcpy(p, &sd->ident, sizeof(sd->ident));
		put32(p + sizeof(sd->ident), (uint32_t)sd->state);
		put32(p + sizeof(sd->ident) + 4, sd->bounded);
		put64(p + sizeof(sd->ident) + 8, sd->since_ns);
		err = put_frame(w, RECORDING_KIND_SEED, p, RECORDING_SEED_SIZE);
	}
	return err;
}

int recording__write_cgroup(struct recording_writer *w, uint64_t id, const char *path)
{
	unsigned char p[RECORDING_CGROUP_SIZE] = { 0 };
	size_t n = path ? strlen(path) : 0;

	if (w->err)
		return w->err;
	if (!id || (path && (path[0] != '/' || n >= RECORDING_CGROUP_PATH)))
		return -EINVAL;
	put64(p, id);
	put32(p + 8, (uint32_t)n);
	memcpy(p + 16, path ? path : "", n);
	return put_frame(w, RECORDING_KIND_CGROUP, p, sizeof(p));
}

int recording__write(struct recording_writer *w, const struct ts_event *e)
{
	int err;

	if (w->err)
		return w->err;
	if (!recording__event_ok(e, NULL, 0))
		return -EINVAL;
	err = put_frame(w, RECORDING_KIND_EVENT, e, sizeof(*e));
	if (!err)
		w->events++;
	return err;
}

int recording__close(struct recording_writer *w, const uint64_t *stats, uint32_t nstats)
{
	unsigned char end[RECORDING_END_SIZE] = { 0 };
	struct stat st;
	int err;

	if (nstats > RECORDING_STATS_MAX)
		nstats = RECORDING_STATS_MAX;
	if (!stats)
		nstats = 0;
	put64(end, w->events);
	put64(end + 8, (uint64_t)clock_ns(CLOCK_REALTIME));
	put64(end + 16, (uint64_t)clock_ns(CLOCK_MONOTONIC));
	put32(end + 24, nstats);
	for (uint32_t i = 0; i < nstats; i++)
		put64(end + 32 + 8 * i, stats[i]);
	put_frame(w, RECORDING_KIND_END, end, sizeof(end));
	err = recording__flush(w);
	/* Pipes and terminals cannot be synced; files must reach the disk
	 * for the end frame to mean the recording is whole. */
	if (!err && fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(w->fd))
		err = w->err = -errno;
	if (w->own_fd && close(w->fd) && !err)
		err = -errno;
	w->fd = -1;
	w->own_fd = false;
	if (!w->err)
		w->err = -EBADF;	/* closed: no more writing */
	return err;
}

/* --- reading --- */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Read up to len bytes; the count read, or -errno if reading failed. */
static ssize_t read_some(struct recording_reader *r, void *buf, size_t len)
{
	size_t n = fread(buf, 1, len, r->f);

	r->off += n;
	if (n < len && ferror(r->f))
		return errno ? -errno : -EIO;
	return (ssize_t)n;
}

/* A string field of the header must end inside its field. */
static bool header_str(const unsigned char *h, size_t off, size_t size, char *out)
{
	const unsigned char *nul = memchr(h + off, 0, size);

	if (!nul)
		return false;
	copy_str(out, size, (const char *)h + off);
	return true;
}

static const char *order_name(uint32_t o)
{
	return o == ORDER_LITTLE ? "little-endian" : o == ORDER_BIG ? "big-endian" : "unknown";
}

static int check_header(const unsigned char *h, size_t got, struct recording_meta *m,
			char *err, size_t errlen)
{
	uint32_t v, rs, order;

	if (got < 8 && memcmp(h + H_MAGIC, RECORDING_MAGIC, got) == 0)
		return fail(err, errlen, -ENODATA,
			    "recording cut short: %zu bytes, the header alone has %d", got,
			    RECORDING_HEADER_SIZE);
	if (got < 8 || memcmp(h + H_MAGIC, RECORDING_MAGIC, 8) != 0)
		return fail(err, errlen, -EINVAL,
			    "not a tcpstate-trace recording (it does not start with \"%s\")",
			    RECORDING_MAGIC);
	if (got < 12)
		return fail(err, errlen, -ENODATA,
			    "recording cut short: %zu bytes, the header alone has %d", got,
			    RECORDING_HEADER_SIZE);
	v = get32(h + H_VERSION);
	if (v > RECORDING_VERSION)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "recording format version %u is newer than this tcpstate-trace reads "
			    "(%d): replay it with a newer tcpstate-trace", v, RECORDING_VERSION);
	if (v == 1)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "recording format version 1 is older than this tcpstate-trace reads "
			    "(%d to %d; it has no start-up snapshot): replay it with the version "
			    "that made it", RECORDING_VERSION_OLDEST, RECORDING_VERSION);
	if (v < RECORDING_VERSION_OLDEST)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "recording format version %u is unknown (this tcpstate-trace reads %d "
			    "to %d)", v, RECORDING_VERSION_OLDEST, RECORDING_VERSION);
	if (got < RECORDING_HEADER_SIZE)
		return fail(err, errlen, -ENODATA,
			    "recording cut short: %zu bytes, the header alone has %d", got,
			    RECORDING_HEADER_SIZE);
	if (get32(h + H_CRC) != crc(crc(0, NULL, 0), h, H_CRC))
		return fail(err, errlen, -EBADMSG, "recording header damaged: checksum mismatch");
	if (get32(h + H_HEADER_SIZE) != RECORDING_HEADER_SIZE || get32(h + H_FLAGS) != 0)
		return fail(err, errlen, -EBADMSG,
			    "recording header damaged: header size %u, flags %#x (expected %d, 0)",
			    get32(h + H_HEADER_SIZE), get32(h + H_FLAGS), RECORDING_HEADER_SIZE);
	if (!header_str(h, H_KERNEL, sizeof(m->kernel), m->kernel) ||
	    !header_str(h, H_HOST, sizeof(m->host), m->host) ||
	    !header_str(h, H_TOOL, sizeof(m->tool_version), m->tool_version))
		return fail(err, errlen, -EBADMSG,
			    "recording header damaged: a name is not terminated");
	m->start_realtime_ns = (int64_t)get64(h + H_START_REAL);
	m->start_mono_ns = get64(h + H_START_MONO);
	order = get32(h + H_BYTE_ORDER);
	if (order != HOST_ORDER)
		return fail(err, errlen, -EPROTO,
			    "recording made on a %s host (%s, tcpstate-trace %s); this one is %s: "
			    "replay it on a %s host", order_name(order), m->host, m->tool_version,
			    order_name(HOST_ORDER), order_name(order));
	rs = get32(h + H_RECORD_SIZE);
	if (rs != version_record_size(v))
		return fail(err, errlen, -EPROTO,
			    "recording made by tcpstate-trace %s with records of %u bytes; this "
			    "build reads %zu in version %u: replay it with the version that made it",
			    m->tool_version, rs, version_record_size(v), v);
	if (get32(h + H_LAYOUT) != version_layout_id(v))
		return fail(err, errlen, -EPROTO,
			    "recording made by tcpstate-trace %s with a different record layout "
			    "(same size, fields differ; layout id %08x, this build %08x): replay it "
			    "with the version that made it",
			    m->tool_version, get32(h + H_LAYOUT), version_layout_id(v));
	return 0;
}

int recording__open_stream(struct recording_reader *r, FILE *f, struct recording_meta *meta,
			   char *err, size_t errlen)
{
	unsigned char h[RECORDING_HEADER_SIZE];
	struct recording_meta m;
	ssize_t n;
	int ret;

	memset(&m, 0, sizeof(m));
	memset(r, 0, sizeof(*r));
	r->f = f;
	n = read_some(r, h, sizeof(h));
	if (n < 0)
		return fail(err, errlen, (int)n, "reading the recording: %s", strerror((int)-n));
	if (n == 0)
		return fail(err, errlen, -ENODATA, "recording is empty");
	ret = check_header(h, (size_t)n, &m, err, errlen);
	if (ret)
		return ret;
	r->version = get32(h + H_VERSION);
	r->record_size = version_record_size(r->version);
	if (meta)
		*meta = m;
	return 0;
}

int recording__open(struct recording_reader *r, const char *path, struct recording_meta *meta,
		    char *err, size_t errlen)
{
	FILE *f;
	int ret;

	if (strcmp(path, "-") == 0) {
		f = stdin;
	} else {
		f = fopen(path, "rbe");
		if (!f) {
			ret = -errno;
			return fail(err, errlen, ret, "%s: %s", path, strerror(-ret));
		}
	}
	ret = recording__open_stream(r, f, meta, err, errlen);
	if (ret) {
		if (f != stdin)
			fclose(f);
		return ret;
	}
	r->own_f = f != stdin;
	return 0;
}

/* Stop for good: remember the error and its message. */
static int stop(struct recording_reader *r, int code, char *err, size_t errlen,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int stop(struct recording_reader *r, int code, char *err, size_t errlen,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->err = code;
	return fail(err, errlen, code, "%s", r->msg);
}

static int read_end(struct recording_reader *r, const unsigned char *p, uint64_t at,
		    char *err, size_t errlen)
{
	struct recording_end *end = &r->end;
	unsigned char extra;
	uint32_t n;

	end->events = get64(p);
	end->end_realtime_ns = (int64_t)get64(p + 8);
	end->end_mono_ns = get64(p + 16);
	n = get32(p + 24);
	if (n > RECORDING_STATS_MAX || get32(p + 28) != 0)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: end frame at byte %" PRIu64 " is malformed", at);
	end->nstats = n;
	for (uint32_t i = 0; i < RECORDING_STATS_MAX; i++) {
		end->stats[i] = get64(p + 32 + 8 * i);
		if (i >= n && end->stats[i])
			return stop(r, -EBADMSG, err, errlen,
				    "recording damaged: end frame at byte %" PRIu64
				    " is malformed", at);
	}
	if (end->events != r->events)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: its end frame counts %" PRIu64 " records, %" PRIu64
			    " were read", end->events, r->events);
	if (fread(&extra, 1, 1, r->f) == 1)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: data after its end frame, at byte %" PRIu64,
			    r->off);
	if (ferror(r->f))
		return stop(r, -EIO, err, errlen, "reading the recording: %s", strerror(errno));
	r->err = 1;
	return 0;
}

/* The payload length of a kind of frame in r's version; 0 for an unknown
 * kind. */
static uint32_t kind_size(const struct recording_reader *r, uint16_t kind)
{
	switch (kind) {
	case RECORDING_KIND_EVENT:
		return (uint32_t)r->record_size;
	case RECORDING_KIND_END:
		return RECORDING_END_SIZE;
	case RECORDING_KIND_SNAPSHOT:
		return RECORDING_SNAPSHOT_SIZE;
	case RECORDING_KIND_SEED:
		return (uint32_t)r->record_size + (RECORDING_SEED_SIZE - sizeof(struct ts_event));
	case RECORDING_KIND_GONE:
		return r->version >= 3 ? RECORDING_GONE_SIZE : 0;
	case RECORDING_KIND_CGROUP:
		return r->version >= 4 ? RECORDING_CGROUP_SIZE : 0;
	}
	return 0;
}

/* The snapshot first, then as many seeds as it counts, then the records:
 * a replay seeds the table before any record can need it. */
static int check_order(struct recording_reader *r, uint16_t kind, uint64_t rec, uint64_t at,
		       char *err, size_t errlen)
{
	const char *what = NULL;

	if (kind == RECORDING_KIND_SNAPSHOT && r->frames)
		what = "a snapshot that is not the first frame";
	else if (kind == RECORDING_KIND_SEED && !r->snapshot)
		what = "a seed without a snapshot before it";
	else if (kind == RECORDING_KIND_SEED && r->events)
		what = "a seed after the first event";
	else if (kind == RECORDING_KIND_SEED && r->seeds == r->seeds_due)
		what = "a seed more than the snapshot counts";
	if (what)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64 " is %s",
			    rec, at, what);
	if ((kind == RECORDING_KIND_EVENT || kind == RECORDING_KIND_END ||
	     kind == RECORDING_KIND_GONE || kind == RECORDING_KIND_CGROUP) &&
	    r->seeds != r->seeds_due)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: the snapshot counts %" PRIu64 " connections but %"
			    PRIu64 " seeds come before record %" PRIu64 " at byte %" PRIu64,
			    r->seeds_due, r->seeds, rec, at);
	return 0;
}

static int read_snapshot(struct recording_reader *r, const unsigned char *p,
			 struct recording_snapshot *out, uint64_t at, char *err, size_t errlen)
{
	struct snapshot *s = &out->counts;
	uint32_t n = get32(p + 24);

	memset(out, 0, sizeof(*out));
	out->now_ns = get64(p);
	s->total = get32(p + 8);
	s->seeded = get32(p + 12);
	s->netns = get32(p + 16);
	s->netns_failed = get32(p + 20);
	if (n > RECORDING_STATES_MAX || get32(p + 28) != 0)
		goto malformed;
	for (uint32_t i = 0; i < RECORDING_STATES_MAX; i++) {
		uint32_t v = get32(p + 32 + 4 * i);

		/* Zero past what the writer kept, and past what this build knows. */
		if (v && (i >= n || i >= TS_TCP_MAX_STATES))
			goto malformed;
		if (i < TS_TCP_MAX_STATES)
			s->by_state[i] = v;
	}
	r->snapshot = true;
	r->seeds_due = s->total;
	return 1;
malformed:
	return stop(r, -EBADMSG, err, errlen,
		    "recording damaged: snapshot frame at byte %" PRIu64 " is malformed", at);
}

static int read_seed(struct recording_reader *r, const unsigned char *p,
		     struct snapshot_seed *sd, uint64_t rec, uint64_t at, char *err, size_t errlen)
{
	const unsigned char *q = p + r->record_size;
	uint32_t state = get32(q), bounded = get32(q + 4);
	char why[64];

	memset(sd, 0, sizeof(*sd));
	memcpy(&sd->ident, p, r->record_size);
	sd->since_ns = get64(q + 8);
	/* Range-checked before they become an int and a bool. */
	if (state >= TS_TCP_MAX_STATES)
		snprintf(why, sizeof(why), "state %u", state);
	else if (bounded > 1)
		snprintf(why, sizeof(why), "bounded flag %u", bounded);
	sd->state = (int)(state < TS_TCP_MAX_STATES ? state : 0);
	sd->bounded = bounded == 1;
	if (state >= TS_TCP_MAX_STATES || bounded > 1 || !recording__seed_ok(sd, why, sizeof(why)))
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64
			    " is an invalid seed: %s", rec, at, why);
	r->seeds++;
	return 1;
}

/* A cgroup frame: a nonzero id, a path as the format says. */
static int read_cgroup(struct recording_reader *r, const unsigned char *p, struct recording_item *it,
		       uint64_t rec, uint64_t at, char *err, size_t errlen)
{
	uint32_t n = get32(p + 8);
	const char *path = (const char *)p + 16;
	bool ok = get64(p) && n < RECORDING_CGROUP_PATH && get32(p + 12) == 0 &&
		  (!n || path[0] == '/') && !memchr(path, 0, n);

	for (uint32_t i = n; ok && i < RECORDING_CGROUP_PATH; i++)
		ok = !path[i];
	if (!ok)
		return stop(r, -EBADMSG, err, errlen, "recording damaged: record %" PRIu64
			    " at byte %" PRIu64 " is a malformed cgroup frame", rec, at);
	it->cgroup.id = get64(p);
	it->cgroup.found = n > 0;
	memcpy(it->cgroup.path, path, n);
	it->cgroup.path[n] = '\0';
	return 1;
}

int recording__next(struct recording_reader *r, struct recording_item *it, char *err,
		    size_t errlen)
{
	unsigned char fh[RECORDING_FRAME_SIZE];
	unsigned char payload[PAYLOAD_MAX];
	uint64_t at = r->off, rec = r->frames + 1;
	uint32_t len, want;
	uint16_t kind;
	char why[64];
	ssize_t n;

	if (r->err < 0)
		return fail(err, errlen, r->err, "%s", r->msg);
	if (r->err > 0)
		return 0;
	n = read_some(r, fh, sizeof(fh));
	if (n < 0)
		return stop(r, (int)n, err, errlen, "reading the recording: %s",
			    strerror((int)-n));
	if (n == 0)
		return stop(r, -ENODATA, err, errlen,
			    "recording cut short after %" PRIu64 " records (%" PRIu64 " bytes): "
			    "no end frame, the tracer did not finish writing it", r->events, at);
	if ((size_t)n < sizeof(fh))
		return stop(r, -ENODATA, err, errlen,
			    "recording cut short: record %" PRIu64 " at byte %" PRIu64
			    " has %zd of its %d header bytes", rec, at, n, RECORDING_FRAME_SIZE);
	len = get32(fh);
	kind = get16(fh + 4);
	want = kind_size(r, kind);
	if (!want)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64
			    " is of unknown kind %u", rec, at, kind);
	if (len != want || get16(fh + 6) != 0)
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64
			    " has length %u (expected %u)", rec, at, len, want);
	n = read_some(r, payload, len);
	if (n < 0)
		return stop(r, (int)n, err, errlen, "reading the recording: %s",
			    strerror((int)-n));
	if ((size_t)n < len)
		return stop(r, -ENODATA, err, errlen,
			    "recording cut short: record %" PRIu64 " at byte %" PRIu64
			    " has %zd of its %u bytes", rec, at, n, len);
	if (get32(fh + 8) != frame_crc(r->frames, fh, payload, len))
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64
			    " fails its checksum (altered, or records before it lost)", rec, at);
	if (check_order(r, kind, rec, at, err, errlen))
		return r->err;
	r->frames++;
	it->kind = kind;
	switch (kind) {
	case RECORDING_KIND_END:
		return read_end(r, payload, at, err, errlen);
	case RECORDING_KIND_SNAPSHOT:
		return read_snapshot(r, payload, &it->snapshot, at, err, errlen);
	case RECORDING_KIND_SEED:
		return read_seed(r, payload, &it->seed, rec, at, err, errlen);
	case RECORDING_KIND_CGROUP:
		return read_cgroup(r, payload, it, rec, at, err, errlen);
	case RECORDING_KIND_GONE:
		it->gone.cookie = get64(payload);
		it->gone.checked_ns = get64(payload + 8);
		if (!it->gone.cookie)
			return stop(r, -EBADMSG, err, errlen, "recording damaged: record %" PRIu64
				    " at byte %" PRIu64 " is a gone frame without a cookie", rec, at);
		return 1;
	}
	/* Older versions' records are this one's prefix (cgroup_id 0). */
	memset(&it->event, 0, sizeof(it->event));
	memcpy(&it->event, payload, r->record_size);
	if (!recording__event_ok(&it->event, why, sizeof(why)))
		return stop(r, -EBADMSG, err, errlen,
			    "recording damaged: record %" PRIu64 " at byte %" PRIu64
			    " is invalid: %s", rec, at, why);
	r->events++;
	return 1;
}

const struct recording_end *recording__end(const struct recording_reader *r)
{
	return r->err == 1 ? &r->end : NULL;
}

void recording__close_reader(struct recording_reader *r)
{
	if (r->own_f && r->f)
		fclose(r->f);
	r->f = NULL;
	r->own_f = false;
}

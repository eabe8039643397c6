// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The replay source over gaps in recorded time: a crafted recording whose
 * clock jumps to the end of time replays within a second, whatever the
 * options; a real gap still gives its alerts at the same round, and the
 * reports due in it once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"
#include "clock.h"
#include "output.h"
#include "recording.h"
#include "run.h"

#define START_NS 4000000000ULL

static struct ts_event state_event(uint64_t mono_ns, uint64_t cookie, int from, int to)
{
	struct ts_event e = {
		.type = TS_EV_STATE, .mono_ns = mono_ns, .cookie = cookie, .pid = 181,
		.owner_src = TS_OWNER_SYSCALL, .family = AF_INET, .sport = 8080,
		.dport = (uint16_t)(50000 + cookie), .oldstate = (uint8_t)from,
		.newstate = (uint8_t)to, .fd = -1, .netns = 4026531840U,
	};

	memcpy(e.comm, "server", 6);
	inet_pton(AF_INET, "127.0.0.1", e.saddr);
	inet_pton(AF_INET, "127.0.0.1", e.daddr);
	return e;
}

/* A recording begun at start_ns of the n records in ev, ended with no end
 * frame if !end (an end frame is dated by the clock when it is written). */
static void write_recording_at(const char *path, const struct ts_event *ev, int n, bool end,
			       uint64_t start_ns)
{
	struct recording_writer w;
	char why[256];
	struct recording_meta m = { .start_realtime_ns = 1795258525175990914LL,
				    .start_mono_ns = start_ns };
	uint64_t stats[TS_STAT__MAX] = { (uint64_t)n };

	strcpy(m.kernel, "6.1.0");
	strcpy(m.host, "web-17");
	strcpy(m.tool_version, "0.1.0");
	assert_int_equal(recording__create(&w, path, &m, why, sizeof(why)), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(recording__write(&w, &ev[i]), 0);
	if (end) {
		assert_int_equal(recording__close(&w, stats, TS_STAT__MAX), 0);
	} else {
		assert_int_equal(recording__flush(&w), 0);
		close(w.fd);
	}
}

static void write_recording(const char *path, const struct ts_event *ev, int n, bool end)
{
	write_recording_at(path, ev, n, end, START_NS);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Replay path with the options args (after "--replay PATH"); what it
 * printed in *text (malloc'd), how long it took in *secs. */
static int replay(const char *path, const char *const *args, char **text, double *secs)
{
	char *argv[16] = { "tcpstate-trace", "--replay", (char *)path };
	int argc = 3, status;
	struct cli_opts o;
	struct output out;
	size_t len = 0;
	FILE *f;
	double t0;

	for (; args && *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	assert_int_equal(cli__parse(argc, argv, &o), CLI_OK);
	f = open_memstream(text, &len);
	output__init(&out, f, o.json, false);
	out.cg = cgroup_names__new_offline();
	t0 = now_s();
	status = run__replay(&o, &out);
	*secs = now_s() - t0;
	output__free(&out);
	cgroup_names__free(out.cg);
	fclose(f);
	return status;
}

/* A connection that goes quiet in CLOSE_WAIT, then a record dated at the
 * end of the clock: before the fix, 100 ms rounds ticked through 584
 * years of recorded time (with -i, writing a report each second). */
static void crafted_gap_replays_fast(void **state)
{
	static const char *const opts[][12] = {
		{ NULL },
		{ "-i", "1", "--close-wait-alert", "1", "--hist", "--timewait-report", NULL },
		{ "-j", "-i", "1", "--hist-by", "comm", "--close-wait-alert", "5", NULL },
	};
	char path[] = "/tmp/test_replay.XXXXXX";
	struct ts_event ev[] = {
		state_event(START_NS + 1000, 1, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
		state_event(START_NS + 2000, 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT),
		state_event(START_NS + 3000, 2, TS_TCP_FIN_WAIT2, TS_TCP_CLOSE),
		state_event(UINT64_MAX - 50000000, 3, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
		state_event(UINT64_MAX, 3, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT),
	};
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	/* The test's own guard: a replay that loops is killed, a failure. */
	alarm(30);
	for (int cut = 0; cut < 2; cut++) {
		write_recording(path, ev, 5, cut == 0);
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			char *text = NULL;
			double secs;

			replay(path, opts[i], &text, &secs);
			print_message("options %zu, %s: %.3f s, %zu bytes of output\n", i,
				      cut ? "cut" : "whole", secs, strlen(text));
			assert_true(secs < 1.0);
			/* The records on both sides of the gap were replayed. */
			assert_non_null(strstr(text, "CLOSE_WAIT"));
			if (i == 1 && !strstr(text, "ALERT CLOSE_WAIT for 1.1 s"))
				print_message("%s", text);
			if (i == 1) {
				/* The alert at its round (5.1 s), the reports once
				 * before the gap and once after it. */
				assert_non_null(strstr(text, "ALERT CLOSE_WAIT for 1.1 s"));
				assert_true(strlen(text) < 64 * 1024);
			}
			free(text);
		}
	}
	alarm(0);
	unlink(path);
}

/* A real gap of a minute: the rounds skipped are the ones that would do
 * nothing. The alert comes at the round it would have (its age to the
 * round), the report due every 10 s is written before the next record,
 * and the closed connection leaves on time for the timeline. */
static void real_gap_same_outputs(void **state)
{
	char path[] = "/tmp/test_replay.XXXXXX", *text = NULL, *at;
	const char *const opts[] = { "--close-wait-alert", "10", "-i", "10", NULL };
	struct ts_event ev[] = {
		state_event(START_NS + 30000000, 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT),
		state_event(START_NS + 60000000000ULL, 2, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
	};
	int fd = mkstemp(path);
	double secs;

	assert_true(fd >= 0);
	close(fd);
	write_recording(path, ev, 2, true);
	assert_int_equal(replay(path, opts, &text, &secs), 0);
	/* Rounds end 100 ms apart from the first record's time plus one:
	 * 14.03 s is one, the alert's age is 10.0 s as a tick-by-tick replay
	 * gives it. */
	at = strstr(text, "ALERT CLOSE_WAIT for 10.0 s");
	assert_non_null(at);
	/* The alert before the report that follows it, the report before
	 * the second record's line. */
	assert_non_null(strstr(at, "connections: 1 seen"));
	assert_true(strstr(at, "connections: 1 seen") < strstr(text, ":50002"));
	free(text);
	unlink(path);
}

/* An error that quotes the file's own words (its tool version) shows
 * their control bytes escaped on stderr: the header's record size is
 * changed (offset 16, recording.h) and its checksum made again. */
static void header_words_escaped(void **state)
{
	char path[] = "/tmp/test_replay.XXXXXX", errpath[] = "/tmp/test_replay_err.XXXXXX";
	unsigned char h[RECORDING_HEADER_SIZE];
	struct recording_writer w;
	char why[256];
	struct recording_meta m = { .start_mono_ns = START_NS };
	char *text = NULL, err[4096];
	int fd = mkstemp(path), efd = mkstemp(errpath), saved = dup(2);
	uint32_t c;
	ssize_t n;
	double secs;

	assert_true(fd >= 0 && efd >= 0 && saved >= 0);
	strcpy(m.host, "web\x1b]2;pwn\x07");
	strcpy(m.tool_version, "0.1\x1b[2J");
	assert_int_equal(recording__create(&w, path, &m, why, sizeof(why)), 0);
	assert_int_equal(recording__close(&w, NULL, 0), 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	h[16]++;
	c = (uint32_t)crc32(crc32(0, NULL, 0), h, RECORDING_HEADER_SIZE - 4);
	for (int i = 0; i < 4; i++)
		h[RECORDING_HEADER_SIZE - 4 + i] = (unsigned char)(c >> (8 * i));
	assert_int_equal(pwrite(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	assert_int_equal(dup2(efd, 2), 2);
	assert_int_equal(replay(path, NULL, &text, &secs), 1);
	assert_int_equal(dup2(saved, 2), 2);
	n = pread(efd, err, sizeof(err) - 1, 0);
	assert_true(n > 0);
	err[n] = '\0';
	assert_non_null(strstr(err, "recording made by tcpstate-trace 0.1\\x1b[2J with records of"));
	assert_null(strchr(err, '\x1b'));
	close(efd);
	close(saved);
	free(text);
	unlink(path);
	unlink(errpath);
}

/* A recording's clocks are the file's: the wall time of a record at the
 * end of the clock, with a header's offset of a recent date, is clamped,
 * not an overflow (found by the fuzz target: UBSan's signed overflow). */
static void wall_clock_clamped(void **state)
{
	struct clock_map c = { .real_minus_mono_ns = 1795258521175990914LL };

	assert_true(clock__to_realtime_ns(&c, UINT64_MAX) == INT64_MAX);
	assert_true(clock__to_realtime_ns(&c, 8314893340560749931ULL) == INT64_MAX);
	assert_true(clock__to_realtime_ns(&c, 5000000000ULL) == 1795258526175990914LL);
	c.real_minus_mono_ns = INT64_MIN;
	assert_true(clock__to_realtime_ns(&c, 0) == INT64_MIN);
	assert_true(clock__to_realtime_ns(&c, UINT64_MAX) == INT64_MAX);
	assert_true(clock__clamp_ns((__int128)INT64_MIN - 5) == INT64_MIN);
}

/* A live run stopped 30 ms after its alert came due: the replay's last
 * 100 ms round ends after the recording does, and the alert must still
 * come out, as the live run's last tick gave it. */
static void alert_due_in_last_round(void **state)
{
	struct timespec ts;
	char path[] = "/tmp/test_replay.XXXXXX", *text = NULL;
	const char *const opts[] = { "--close-wait-alert", "1", NULL };
	double secs;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t0 = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - 1030000000ULL;
	struct ts_event ev[] = {
		state_event(t0, 1, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED),
		state_event(t0 + 1000, 1, TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT),
	};

	write_recording_at(path, ev, 2, true, t0 - 1000);
	assert_int_equal(replay(path, opts, &text, &secs), 0);
	assert_non_null(strstr(text, "ALERT CLOSE_WAIT"));
	free(text);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crafted_gap_replays_fast),
		cmocka_unit_test(real_gap_same_outputs),
		cmocka_unit_test(wall_clock_clamped),
		cmocka_unit_test(header_words_escaped),
		cmocka_unit_test(alert_due_in_last_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void clock__init(struct clock_map *c)
{
	/* Bracket the realtime read with two monotonic ones and take the
	 * midpoint; the error is half the bracket, well under a microsecond. */
	int64_t m0 = ns_of(CLOCK_MONOTONIC);
	int64_t r = ns_of(CLOCK_REALTIME);
	int64_t m1 = ns_of(CLOCK_MONOTONIC);

	c->real_minus_mono_ns = r - (m0 + (m1 - m0) / 2);
}

uint64_t clock__mono_now(void)
{
	return (uint64_t)ns_of(CLOCK_MONOTONIC);
}

int64_t clock__to_realtime_ns(const struct clock_map *c, uint64_t mono_ns)
{
	return (int64_t)mono_ns + c->real_minus_mono_ns;
}

static void split(int64_t ns, time_t *sec, long *sub)
{
	*sec = (time_t)(ns / 1000000000LL);
	*sub = (long)(ns % 1000000000LL);
	if (*sub < 0) {
		*sub += 1000000000L;
		*sec -= 1;
	}
}

const char *clock__rfc3339(int64_t real_ns, char *buf, size_t len)
{
	/* Records come thousands a second: format each second once. (The
	 * output is single-threaded.) */
	static time_t cached_sec = -1;
	static char base[24];
	time_t sec;
	long sub;
	struct tm tm;

	split(real_ns, &sec, &sub);
	if (sec != cached_sec) {
		gmtime_r(&sec, &tm);
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	snprintf(buf, len, "%s.%06ldZ", base, sub / 1000);
	return buf;
}

const char *clock__hms(int64_t real_ns, char *buf, size_t len)
{
	time_t sec;
	long sub;
	struct tm tm;
	char base[12];

	split(real_ns, &sec, &sub);
	localtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ld", base, sub / 1000000);
	return buf;
}

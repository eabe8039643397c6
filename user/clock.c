// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "clock.h"
#include "fmt.h"

#include <stdbool.h>
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

int64_t clock__clamp_ns(__int128 ns)
{
	return ns > INT64_MAX ? INT64_MAX : ns < INT64_MIN ? INT64_MIN : (int64_t)ns;
}

int64_t clock__to_realtime_ns(const struct clock_map *c, uint64_t mono_ns)
{
	/* A recording's times are the file's: any sum, clamped. */
	return clock__clamp_ns((__int128)mono_ns + c->real_minus_mono_ns);
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

/* One second's text, formatted when the second changes. */
struct sec_cache {
	time_t sec;
	bool valid;
	char text[24];
};

static char *put_sec(struct sec_cache *c, time_t sec, bool local, const char *fmt, size_t len,
		     char *p)
{
	struct tm tm;

	if (!c->valid || sec != c->sec) {
		if (local)
			localtime_r(&sec, &tm);
		else
			gmtime_r(&sec, &tm);
		strftime(c->text, sizeof(c->text), fmt, &tm);
		c->sec = sec;
		c->valid = true;
	}
	return fmt__mem(p, c->text, len);
}

char *clock__rfc3339_put(int64_t real_ns, char *p)
{
	static struct sec_cache c;
	time_t sec;
	long sub;

	split(real_ns, &sec, &sub);
	p = put_sec(&c, sec, false, "%Y-%m-%dT%H:%M:%S", 19, p);
	*p++ = '.';
	p = fmt__u64w(p, (uint64_t)sub / 1000, 6);
	*p++ = 'Z';
	return p;
}

char *clock__hms_put(int64_t real_ns, char *p)
{
	static struct sec_cache c;
	time_t sec;
	long sub;

	split(real_ns, &sec, &sub);
	p = put_sec(&c, sec, true, "%H:%M:%S", 8, p);
	*p++ = '.';
	return fmt__u64w(p, (uint64_t)sub / 1000000, 3);
}

const char *clock__rfc3339(int64_t real_ns, char *buf, size_t len)
{
	char t[CLOCK_RFC3339_PUT_LEN + 1];

	*clock__rfc3339_put(real_ns, t) = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

const char *clock__hms(int64_t real_ns, char *buf, size_t len)
{
	char t[CLOCK_HMS_PUT_LEN + 1];

	*clock__hms_put(real_ns, t) = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

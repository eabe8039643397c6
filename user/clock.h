/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel monotonic timestamps (bpf_ktime_get_ns) to wall-clock time. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct clock_map {
	int64_t real_minus_mono_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
};

/* Measure the offset between the two clocks now. */
void clock__init(struct clock_map *c);
uint64_t clock__mono_now(void);
/* ns within int64_t: the nearest end past either. */
int64_t clock__clamp_ns(__int128 ns);
int64_t clock__to_realtime_ns(const struct clock_map *c, uint64_t mono_ns);

#define CLOCK_RFC3339_LEN 32
/* "2026-11-21T10:00:00.123456Z" */
const char *clock__rfc3339(int64_t real_ns, char *buf, size_t len);
/* "10:00:00.123" in local time, for the human table's -T column. */
const char *clock__hms(int64_t real_ns, char *buf, size_t len);

/* The same at p, no NUL; return the end. For the record serializers: the
 * date and time to the second are formatted once a second, only the
 * fraction for each record. Not thread-safe (the output is one thread). */
#define CLOCK_RFC3339_PUT_LEN 27	/* bytes written */
#define CLOCK_HMS_PUT_LEN 12
char *clock__rfc3339_put(int64_t real_ns, char *p);
char *clock__hms_put(int64_t real_ns, char *p);

#endif /* CLOCK_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The metrics text, out of the consumer: written atomically to a file
 * (temporary file, then rename, for node_exporter's textfile collector),
 * and served at /metrics over HTTP by a thread of its own (libevent core,
 * http_request.c's parser). Each text published is one reference-counted
 * block that every answer refers to, never copies; one over a second old
 * the server asks the consumer to render anew and waits up to half a
 * second for it. The consumer never waits on the server, and a slow or
 * hostile client waits on nobody but itself: connections are bounded
 * (HTTP_CONNS_MAX), each request has a total deadline, and accepting
 * pauses, never spins, when descriptors run out. */
#ifndef METRICS_EXPORT_H
#define METRICS_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where to listen: --metrics [ADDR:]PORT. */
struct metrics_listen {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* Parse "PORT", "ADDR:PORT" or "[ADDR6]:PORT"; no address: 127.0.0.1.
 * 0, or -1 with *why set. */
int metrics_listen__parse(const char *s, struct metrics_listen *l, const char **why);

struct metrics_export;

/* Connections at once; past that a new one takes the place of the oldest
 * that has not sent a whole request, or is closed at once if every one is
 * being answered. */
#define HTTP_CONNS_MAX 64
/* From a request's start (the connection, or the previous answer's end)
 * to its answer written: past this the connection is closed. */
#define HTTP_DEADLINE_S 10

/* What the server turned away, for the metrics. */
struct metrics_http_stats {
	uint64_t evicted;	/* closed to make room for a newer one */
	uint64_t refused;	/* closed at once: every place was answering */
	uint64_t deadline;	/* closed at the deadline, a request begun */
	uint64_t idle;		/* closed at the deadline, no byte of a request */
	uint64_t accept_pauses;	/* accepting paused: no descriptor left */
	uint64_t requests;	/* requests answered, refusals included */
};

/* listen and file may each be NULL. 0, or -errno with the reason in err
 * (a port in use says so). */
int metrics_export__new(struct metrics_export **x, const struct metrics_listen *listen,
			const char *file, char *err, size_t errlen);
/* The new text: kept for the server, and written to the file when
 * file_due. 0, or -errno from the file (said on stderr once). */
int metrics_export__publish(struct metrics_export *x, const char *text, size_t len,
			    bool file_due);
/* A scrape waits for a new text: render one now. */
bool metrics_export__wanted(struct metrics_export *x);
/* The server's counts so far; false if there is no server. */
bool metrics_export__http_stats(struct metrics_export *x, struct metrics_http_stats *s);
/* Stops the server thread. */
void metrics_export__free(struct metrics_export *x);

#endif /* METRICS_EXPORT_H */

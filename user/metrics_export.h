/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The metrics text, out of the consumer: written atomically to a file
 * (temporary file, then rename, for node_exporter's textfile collector),
 * and served at /metrics over HTTP by a thread of its own (libevent's
 * evhttp). The server copies the text last published, under a lock held
 * for that copy; one over a second old it asks the consumer to render
 * anew and waits up to half a second for it. The consumer never waits on
 * the server, and a slow or hostile client waits on nobody but itself. */
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
/* Stops the server thread. */
void metrics_export__free(struct metrics_export *x);

#endif /* METRICS_EXPORT_H */

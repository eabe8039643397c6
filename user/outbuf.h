/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A large buffer in front of a stdio stream for the record lines: a
 * serializer writes a whole line at outbuf__space(), and the buffer goes
 * to the stream in one fwrite once it nears full, or when asked (before
 * anything else is written to the stream, so the order holds). */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stddef.h>
#include <stdio.h>

#define OUTBUF_SIZE (256u << 10)
#define OUTBUF_LINE_MAX 4096u	/* the longest line a serializer may write */

struct outbuf {
	FILE *f;
	char *buf;	/* OUTBUF_SIZE bytes; NULL if the allocation failed */
	size_t len;
};

void outbuf__init(struct outbuf *b, FILE *f);
/* Writes what is left; the stream's errors are the caller's to see. */
void outbuf__free(struct outbuf *b);
/* Room for OUTBUF_LINE_MAX bytes, or NULL when out of memory. */
static inline char *outbuf__space(struct outbuf *b)
{
	return b->buf ? b->buf + b->len : NULL;
}
/* The line ends at end. Returns 0, or -errno when passing the buffer to
 * the stream failed (EPIPE: the reader went away). */
int outbuf__commit(struct outbuf *b, char *end);
/* Everything buffered to the stream (not flushing the stream). */
int outbuf__drain(struct outbuf *b);

#endif /* OUTBUF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The head of an HTTP/1.x request, as the metrics server needs it: the
 * status to answer (200 for GET or HEAD of /metrics, else the refusal) and
 * whether the connection stays open. Pure: bytes in, a verdict out; the
 * server (metrics_export.c) does the I/O. */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

/* Longest request head taken; a longer one is refused (400). */
#define HTTP_HEAD_MAX 8192

struct http_request {
	int status;		/* 200, 400, 404, 413, 501 or 505 */
	bool head;		/* HEAD: no body in the answer */
	bool keep_alive;	/* the connection may take another request */
};

/* The request head at the start of buf[0..len): 0 while it is not whole
 * (and len is below HTTP_HEAD_MAX), else how many bytes it took, with r
 * filled. A refused request never keeps the connection. */
size_t http_request__parse(const char *buf, size_t len, struct http_request *r);
/* "OK", "Not Found", ... */
const char *http_request__reason(int status);

#endif /* HTTP_REQUEST_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "outbuf.h"

#include <errno.h>
#include <stdlib.h>

void outbuf__init(struct outbuf *b, FILE *f)
{
	b->f = f;
	b->buf = malloc(OUTBUF_SIZE);
	b->len = 0;
}

void outbuf__free(struct outbuf *b)
{
	outbuf__drain(b);
	free(b->buf);
	b->buf = NULL;
}

int outbuf__drain(struct outbuf *b)
{
	size_t n = b->len;

	if (!n)
		return 0;
	b->len = 0;
	errno = 0;
	if (fwrite(b->buf, 1, n, b->f) != n)
		return errno ? -errno : -EIO;
	return 0;
}

int outbuf__commit(struct outbuf *b, char *end)
{
	b->len = (size_t)(end - b->buf);
	if (b->len > OUTBUF_SIZE - OUTBUF_LINE_MAX)
		return outbuf__drain(b);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "http_request.h"

#include <string.h>
#include <strings.h>

/* Where the head ends (after its empty line) within buf[0..len), 0 if it
 * does not. Lines end in LF, CRLF accepted. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The line at *p (before end), without its CR LF; *p moves past it. */
static size_t next_line(const char **p, const char *end, const char **line)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	*line = *p;
	if (!nl)
		nl = end;
	n = (size_t)(nl - *p);
	*p = nl < end ? nl + 1 : end;
	if (n && (*line)[n - 1] == '\r')
		n--;
	return n;
}

static bool is_word(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

/* value holds the token w in its comma-separated list. */
static bool has_token(const char *v, size_t n, const char *w)
{
	size_t i = 0;

	while (i < n) {
		size_t a, b;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		a = i;
		while (i < n && v[i] != ',')
			i++;
		b = i;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b > a && is_word(v + a, b - a, w))
			return true;
	}
	return false;
}

/* "METHOD SP TARGET SP HTTP/1.x": the status it calls for so far. */
static int request_line(const char *l, size_t n, struct http_request *r, bool *get,
			bool *metrics, bool *v11)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *target, *ver;
	size_t tlen, vlen;

	if (!sp1 || sp1 == l)
		return 400;
	for (const char *c = l; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return 400;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(l + n - target));
	if (!sp2 || sp2 == target)
		return 400;
	tlen = (size_t)(sp2 - target);
	ver = sp2 + 1;
	vlen = (size_t)(l + n - ver);
	if (vlen != 8 || strncmp(ver, "HTTP/", 5) || ver[6] != '.')
		return 400;
	if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
		return 505;
	*v11 = ver[7] == '1';
	r->head = sp1 - l == 4 && memcmp(l, "HEAD", 4) == 0;
	*get = r->head || (sp1 - l == 3 && memcmp(l, "GET", 3) == 0);
	*metrics = (tlen == 8 || (tlen > 8 && target[8] == '?')) &&
		   strncmp(target, "/metrics", 8) == 0;
	return 200;
}

/* One header line: the status it calls for (200 if none); keep-alive
 * noted. */
static int header_line(const char *l, size_t n, bool *close, bool *keep)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t name, vn;

	if (!colon || colon == l || l[0] == ' ' || l[0] == '\t')
		return 400;	/* no name, or an obsolete folded line */
	name = (size_t)(colon - l);
	for (size_t i = 0; i < name; i++)
		if (l[i] == ' ' || l[i] == '\t')
			return 400;
	v = colon + 1;
	vn = (size_t)(l + n - v);
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (is_word(l, name, "Transfer-Encoding"))
		return 413;
	if (is_word(l, name, "Content-Length")) {
		bool body = false;

		if (!vn)
			return 400;
		for (size_t i = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				return 400;
			body = body || v[i] != '0';
		}
		return body ? 413 : 200;
	}
	if (is_word(l, name, "Connection")) {
		*close = *close || has_token(v, vn, "close");
		*keep = *keep || has_token(v, vn, "keep-alive");
	}
	return 200;
}

size_t http_request__parse(const char *buf, size_t len, struct http_request *r)
{
	size_t end = head_end(buf, len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX);
	const char *p = buf, *stop, *l;
	bool get = false, metrics = false, v11 = false, close = false, keep = false;
	int st;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!end) {
		if (len < HTTP_HEAD_MAX)
			return 0;
		r->status = 400;
		return len;
	}
	stop = buf + end;
	/* One empty line before the request line is tolerated (RFC 9112). */
	n = next_line(&p, stop, &l);
	if (!n)
		n = next_line(&p, stop, &l);
	st = request_line(l, n, r, &get, &metrics, &v11);
	while (st == 200 && (n = next_line(&p, stop, &l)) > 0)
		st = header_line(l, n, &close, &keep);
	if (st == 200 && !get)
		st = 501;
	if (st == 200 && !metrics)
		st = 404;
	r->status = st;
	r->keep_alive = st == 200 && !close && (v11 || keep);
	return end;
}

const char *http_request__reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 413: return "Content Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

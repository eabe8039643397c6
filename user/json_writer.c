// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "json_writer.h"
#include "fmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void json__init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json__free(struct json *j)
{
	free(j->buf);
	json__init(j);
}

void json__reset(struct json *j)
{
	j->len = 0;
	j->depth = 0;
	j->need_comma = false;
	j->oom = false;
	if (j->buf)
		j->buf[0] = '\0';
}

static bool reserve(struct json *j, size_t more)
{
	size_t need = j->len + more + 1;
	char *nb;
	size_t ncap;

	if (need <= j->cap)
		return true;
	ncap = j->cap ? j->cap : 256;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(j->buf, ncap);
	if (!nb) {
		j->oom = true;
		return false;
	}
	j->buf = nb;
	j->cap = ncap;
	return true;
}

/* Room for a comma and n bytes (and the NUL), the comma written if a
 * sibling came before: returns where the value goes, NULL when out of
 * memory. done() ends the value there. One reserve per value, not per
 * byte run. */
static char *room(struct json *j, size_t n, bool value)
{
	char *p;

	if (!reserve(j, n + 1))
		return NULL;
	p = j->buf + j->len;
	if (value && j->need_comma)
		*p++ = ',';
	if (value)
		j->need_comma = true;
	return p;
}

static void done(struct json *j, char *end)
{
	*end = '\0';
	j->len = (size_t)(end - j->buf);
}

static void put(struct json *j, const char *s, size_t n, bool value)
{
	char *p = room(j, n, value);

	if (p)
		done(j, fmt__mem(p, s, n));
}

static void open_(struct json *j, char c)
{
	put(j, &c, 1, true);
	j->depth++;
	j->need_comma = false;
}

static void close_(struct json *j, char c)
{
	put(j, &c, 1, false);
	j->depth--;
	j->need_comma = true;
}

void json__begin_object(struct json *j) { open_(j, '{'); }
void json__end_object(struct json *j) { close_(j, '}'); }
void json__begin_array(struct json *j) { open_(j, '['); }
void json__end_array(struct json *j) { close_(j, ']'); }

static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

size_t json__utf8_len(const unsigned char *s, size_t n)
{
	return fmt__utf8_len(s, n);
}

static char *escape_byte(char *d, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e = 0;

	switch (c) {
	case '"': e = '"'; break;
	case '\\': e = '\\'; break;
	case '\n': e = 'n'; break;
	case '\r': e = 'r'; break;
	case '\t': e = 't'; break;
	case '\b': e = 'b'; break;
	case '\f': e = 'f'; break;
	}
	*d++ = '\\';
	if (e) {
		*d++ = e;
		return d;
	}
	memcpy(d, "u00", 3);
	d[3] = hex[c >> 4];
	d[4] = hex[c & 0xf];
	return d + 5;
}

char *json__escape(char *d, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;

		if (plain(c)) {
			*d++ = (char)c;
			i++;
		} else if (c >= 0x80 && (k = json__utf8_len(s + i, n - i))) {
			memcpy(d, s + i, k);
			d += k;
			i += k;
		} else {
			d = escape_byte(d, c);
			i++;
		}
	}
	return d;
}

/* A string value, or a key with its colon. */
static void quoted(struct json *j, const char *s, size_t n, bool key)
{
	char *p = room(j, JSON_ESCAPE_MAX(n) + 3, true);

	if (!p)
		return;
	*p++ = '"';
	p = json__escape(p, s, n);
	*p++ = '"';
	if (key) {
		*p++ = ':';
		j->need_comma = false;
	}
	done(j, p);
}

void json__key(struct json *j, const char *name)
{
	quoted(j, name, strlen(name), true);
}

void json__string_n(struct json *j, const char *s, size_t n)
{
	quoted(j, s, n, false);
}

void json__string(struct json *j, const char *s)
{
	json__string_n(j, s, strlen(s));
}

void json__uint(struct json *j, uint64_t v)
{
	char *p = room(j, 20, true);

	if (p)
		done(j, fmt__u64(p, v));
}

void json__int(struct json *j, int64_t v)
{
	char *p = room(j, 21, true);

	if (p)
		done(j, fmt__i64(p, v));
}

void json__bool(struct json *j, bool v)
{
	if (v)
		put(j, "true", 4, true);
	else
		put(j, "false", 5, true);
}

void json__null(struct json *j)
{
	put(j, "null", 4, true);
}

void json__raw(struct json *j, const char *text)
{
	put(j, text, strlen(text), true);
}

void json__members(struct json *j, const char *text, size_t n)
{
	put(j, text, n, true);
}

void json__kv_string(struct json *j, const char *name, const char *s)
{
	json__key(j, name);
	json__string(j, s);
}

void json__kv_uint(struct json *j, const char *name, uint64_t v)
{
	json__key(j, name);
	json__uint(j, v);
}

void json__kv_int(struct json *j, const char *name, int64_t v)
{
	json__key(j, name);
	json__int(j, v);
}

void json__kv_bool(struct json *j, const char *name, bool v)
{
	json__key(j, name);
	json__bool(j, v);
}

void json__kv_null(struct json *j, const char *name)
{
	json__key(j, name);
	json__null(j);
}

const char *json__str(const struct json *j)
{
	return j->buf ? j->buf : "";
}

int json__write_line(struct json *j, FILE *f)
{
	int err = 0;

	put(j, "\n", 1, false);
	if (j->oom) {
		err = -ENOMEM;
	} else {
		errno = 0;
		if (fwrite(j->buf, 1, j->len, f) != j->len)
			err = errno ? -errno : -EIO;
	}
	json__reset(j);
	return err;
}

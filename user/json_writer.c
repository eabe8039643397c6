// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "json_writer.h"

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

static void put(struct json *j, const char *s, size_t n)
{
	if (!reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putc_(struct json *j, char c)
{
	put(j, &c, 1);
}

/* Before any value or key: separate it from the previous sibling. */
static void sep(struct json *j)
{
	if (j->need_comma)
		putc_(j, ',');
	j->need_comma = true;
}

static void open_(struct json *j, char c)
{
	sep(j);
	putc_(j, c);
	j->depth++;
	j->need_comma = false;
}

static void close_(struct json *j, char c)
{
	putc_(j, c);
	j->depth--;
	j->need_comma = true;
}

void json__begin_object(struct json *j) { open_(j, '{'); }
void json__end_object(struct json *j) { close_(j, '}'); }
void json__begin_array(struct json *j) { open_(j, '['); }
void json__end_array(struct json *j) { close_(j, ']'); }

static bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

static void quoted(struct json *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	putc_(j, '"');
	while (i < n) {
		size_t run = i;
		unsigned char c;

		/* Copy runs of characters that need no escape at once. */
		while (run < n && plain((unsigned char)s[run]))
			run++;
		if (run > i)
			put(j, s + i, run - i);
		if (run == n)
			break;
		c = (unsigned char)s[run];
		switch (c) {
		case '"': put(j, "\\\"", 2); break;
		case '\\': put(j, "\\\\", 2); break;
		case '\n': put(j, "\\n", 2); break;
		case '\r': put(j, "\\r", 2); break;
		case '\t': put(j, "\\t", 2); break;
		case '\b': put(j, "\\b", 2); break;
		case '\f': put(j, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

			put(j, u, sizeof(u));
		}
		}
		i = run + 1;
	}
	putc_(j, '"');
}

/* Decimal digits of v, right-aligned in buf[24]; returns the first. */
static char *u64_digits(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void json__key(struct json *j, const char *name)
{
	sep(j);
	quoted(j, name, strlen(name));
	putc_(j, ':');
	j->need_comma = false;
}

void json__string_n(struct json *j, const char *s, size_t n)
{
	sep(j);
	quoted(j, s, n);
}

void json__string(struct json *j, const char *s)
{
	json__string_n(j, s, strlen(s));
}

void json__uint(struct json *j, uint64_t v)
{
	char b[24], *p = u64_digits(v, b + sizeof(b));

	sep(j);
	put(j, p, (size_t)(b + sizeof(b) - p));
}

void json__int(struct json *j, int64_t v)
{
	char b[24], *p = u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof(b));

	if (v < 0)
		*--p = '-';
	sep(j);
	put(j, p, (size_t)(b + sizeof(b) - p));
}

void json__bool(struct json *j, bool v)
{
	sep(j);
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void json__null(struct json *j)
{
	sep(j);
	put(j, "null", 4);
}

void json__raw(struct json *j, const char *text)
{
	sep(j);
	put(j, text, strlen(text));
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

	putc_(j, '\n');
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

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A streaming writer of compact JSON into a growable buffer. One record is
 * built, then written whole with json__flush_line(), so a record is never
 * interleaved with other output or half-written on a write error. */
#ifndef JSON_WRITER_H
#define JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	char *buf;
	size_t len, cap;
	int depth;
	bool need_comma;	/* a value was written at this depth */
	bool oom;		/* an allocation failed: output is incomplete */
};

void json__init(struct json *j);
void json__free(struct json *j);
void json__reset(struct json *j);

void json__begin_object(struct json *j);
void json__end_object(struct json *j);
void json__begin_array(struct json *j);
void json__end_array(struct json *j);
/* Object member name; the value follows with one of the calls below. */
void json__key(struct json *j, const char *name);

void json__string(struct json *j, const char *s);
void json__string_n(struct json *j, const char *s, size_t n);
void json__uint(struct json *j, uint64_t v);
void json__int(struct json *j, int64_t v);
void json__bool(struct json *j, bool v);
void json__null(struct json *j);
/* A value already in JSON form (a number formatted by the caller). */
void json__raw(struct json *j, const char *text);

/* Members already in JSON form ("a":1,"b":"x"), inside an open object:
 * what a caller's own serializer wrote. */
void json__members(struct json *j, const char *text, size_t n);

/* Shorthands for a member with its value. */
void json__kv_string(struct json *j, const char *name, const char *s);
void json__kv_uint(struct json *j, const char *name, uint64_t v);
void json__kv_int(struct json *j, const char *name, int64_t v);
void json__kv_bool(struct json *j, const char *name, bool v);
void json__kv_null(struct json *j, const char *name);

/* The text so far (NUL-terminated). */
const char *json__str(const struct json *j);

/* Write the record and a newline to f (buffered: the caller flushes) and
 * reset the writer. Returns 0, or -errno on a write error. */
int json__write_line(struct json *j, FILE *f);

/* The body of a JSON string for n bytes of s, without the quotes, at dst;
 * returns the end. At most JSON_ESCAPE_MAX(n) bytes, no NUL. Valid UTF-8
 * passes through; a byte that is not part of a valid sequence (the kernel
 * hands over names as bytes) becomes \u00XX of its value, so the record
 * stays JSON and every byte survives. The writer above and the record
 * serializers (event_json.h) share it. */
#define JSON_ESCAPE_MAX(n) (6 * (n))
char *json__escape(char *dst, const char *s, size_t n);

/* The length of the valid UTF-8 sequence s starts with (s[0] >= 0x80), 0
 * if it is not one: no overlong forms, surrogates or code points past
 * U+10FFFF (RFC 3629). Other text formats escape by it too. */
size_t json__utf8_len(const unsigned char *s, size_t n);

#endif /* JSON_WRITER_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* From the kernel's compact records (struct ts_wire and the parts after it)
 * to whole struct ts_event: the identity and owner a record leaves out come
 * from what earlier records of the same cookie said. Pure, no libbpf: unit
 * tests drive it as the live source does. */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpstate.h"

/* What the decoder keeps of a socket between its records. */
struct wire_sock {
	uint64_t cookie;	/* 0: a free slot */
	uint64_t last_ns;	/* its newest record */
	struct ts_wire_ident id;
	uint32_t pid;
	uint8_t owner_src;
	char comm[TS_COMM_LEN];
};

struct wire_decoder {
	struct wire_sock *slots;	/* open addressing, linear probing */
	size_t mask;			/* slots - 1; slots a power of two */
	size_t count, cap;		/* cap: at most half the slots */
	uint64_t malformed;		/* records of a size or kind not known */
	uint64_t unidentified;		/* records whose socket's identity was not known */
	uint64_t pruned;		/* sockets forgotten to stay within cap */
};

/* cap: the most sockets kept at once (open connections). 0 or -ENOMEM. */
int wire_decoder__init(struct wire_decoder *d, size_t cap);
void wire_decoder__free(struct wire_decoder *d);
/* Decode one record of len bytes into e. Returns false, counting it, for a
 * malformed record (e is then not meaningful). */
/* After a loss: forget the sockets the kernel no longer has (alive: the
 * keys, sock_key.h, a dump at checked_ns found, sorted) that sent nothing since, so
 * lost ends do not pile up. How many, or -ENOMEM. */
long wire_decoder__forget_gone(struct wire_decoder *d, const uint64_t *alive, size_t nalive,
			       uint64_t checked_ns);
bool wire_decoder__decode(struct wire_decoder *d, const void *data, size_t len,
			  struct ts_event *e);

#endif /* WIRE_H */

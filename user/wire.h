/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* From the kernel's compact records (struct ts_wire and the parts after it)
 * to whole struct ts_event: the identity and owner a record leaves out come
 * from what earlier records of the same cookie said, which the engine's
 * connection table keeps. Pure and stateless, no libbpf. */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tcpstate.h"

/* Decode one record of len bytes into e, as far as it goes. Returns the
 * parts it carried (enum ts_wire_flags), or -1 for a malformed record (e is
 * then not meaningful). */
int wire__decode(const void *data, size_t len, struct ts_event *e);
/* The cookie a record of len bytes names; 0 if it is too short to say. */
uint64_t wire__cookie(const void *data, size_t len);
/* Complete e, which carried parts, with what earlier records said of its
 * connection (known: the connection's identity and owner, NULL if none is
 * known). False when its identity was neither carried nor known. */
bool wire__complete(struct ts_event *e, int parts, const struct ts_event *known);

#endif /* WIRE_H */

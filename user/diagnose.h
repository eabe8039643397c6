/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Why a connection is stuck, in one sentence a human can act on. Pure: the
 * connection's history and its holders in, text out. */
#ifndef DIAGNOSE_H
#define DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>
#include "conn_table.h"
#include "holders.h"

/* Why the holders are not known, in place of their count. */
/* The longest sentence diagnose__close_wait() writes, NUL included. */
#define DIAGNOSIS_MAX 1024
#define DIAG_HOLDERS_NO_INODE (-1)	/* the tracer never saw the socket's inode */
#define DIAG_HOLDERS_NOT_LOOKED (-2)	/* a replay, or /proc could not be read */

/* The cause a diagnosis names, for counting (the metrics' cause label). */
enum diag_cause {
	DIAG_CAUSE_UNKNOWN,	/* the holders could not be looked for */
	DIAG_CAUSE_KERNEL_REF,	/* no process holds it: a reference inside the kernel */
	DIAG_CAUSE_NO_CLOSE,	/* no close() since the peer closed */
	DIAG_CAUSE_DUP,		/* closed, another descriptor of the same process holds it */
	DIAG_CAUSE_FORK,	/* closed, a child forked before holds it */
	DIAG_CAUSE_EXEC,	/* ... and kept it across exec */
	DIAG_CAUSE_SHARED,	/* closed, another process holds it */
	DIAG_CAUSE__MAX,
};

/* "unknown", "kernel_ref", "no_close", "dup", "fork", "exec", "shared". */
const char *diag_cause__name(enum diag_cause c);

/* A connection in CLOSE_WAIT: the peer has closed, we have not. nh is the
 * number of holders found (h has at most HOLDERS_MAX of them), or one of
 * the DIAG_HOLDERS_ reasons. cause (if set) gets what the sentence names. */
const char *diagnose__close_wait(const struct conn *c, const struct holder *h, int nh,
				 uint64_t now_ns, char *buf, size_t len, enum diag_cause *cause);

/* "850 ms", "12.3 s", "4 min 3 s", "2 h 5 min". */
const char *diagnose__duration(uint64_t ns, char *buf, size_t len);

#endif /* DIAGNOSE_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The three ways to run, each a source driving the engine: the live ring
 * buffer, a recording, or the picture now (--snapshot). Each returns the
 * exit status and has said why on stderr. */
#ifndef RUN_H
#define RUN_H

#include <signal.h>
#include <stdbool.h>
#include "cli.h"
#include "engine.h"
#include "output.h"
#include "recording.h"

int run__live(const struct cli_opts *o, struct output *out, volatile sig_atomic_t *exiting);
int run__replay(const struct cli_opts *o, struct output *out);
/* The same from a stream, which is not closed (the fuzz target's way in). */
int run__replay_stream(const struct cli_opts *o, struct output *out, FILE *f);
int run__snapshot(const struct cli_opts *o, struct output *out);

/* Down to the capabilities the rest of the run uses (privs.h): live (and
 * --snapshot) by its options, bpf_syscall when bpf() needs a capability
 * here; a replay none. 0, or -1 said on stderr. */
int run__limit_privs(const struct cli_opts *o, bool live, bool bpf_syscall);
/* Shared by the sources. holders: a live system's holder scans, kept
 * while the engine lives (NULL: a replay). */
void run__engine_opts(struct engine_opts *eo, const struct cli_opts *o,
		      const struct holder_finder *holders, struct recording_writer *rec);
/* The sockets there are now, seeded into the engine's table and reported
 * (and recorded, with rec). */
int run__take_snapshot(struct engine *e, const struct cli_opts *o, struct output *out,
		       struct recording_writer *rec);
/* EPIPE: the reader of the output went away, which ends a run well. */
bool run__reader_gone(int err);

#endif /* RUN_H */

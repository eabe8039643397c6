// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "diagnose.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


const char *diag_cause__name(enum diag_cause c)
{
	static const char *const names[DIAG_CAUSE__MAX] = {
		[DIAG_CAUSE_UNKNOWN] = "unknown",   [DIAG_CAUSE_KERNEL_REF] = "kernel_ref",
		[DIAG_CAUSE_NO_CLOSE] = "no_close", [DIAG_CAUSE_DUP] = "dup",
		[DIAG_CAUSE_FORK] = "fork",	    [DIAG_CAUSE_EXEC] = "exec",
		[DIAG_CAUSE_SHARED] = "shared",
	};

	return (unsigned)c < DIAG_CAUSE__MAX ? names[c] : "unknown";
}

const char *diagnose__duration(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / 1000000000ULL;

	if (ns < 1000000000ULL)
		snprintf(buf, len, "%llu ms", (unsigned long long)(ns / 1000000ULL));
	else if (s < 60)
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%llu min %llu s", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llu h %llu min", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	return buf;
}

/* snprintf that appends and never overruns. */
static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static const struct conn_call *last_call(const struct conn *c, uint8_t type)
{
	const struct conn_call *found = NULL;

	for (uint32_t i = 0; i < conn__ncalls_kept(c); i++)
		if (conn__call(c, i)->type == type)
			found = conn__call(c, i);
	return found;
}

/* How the holder h came to hold a socket closer closed (closer: NULL if
 * none did). */
static enum diag_cause holder_cause(const struct holder *h, const struct conn_call *closer)
{
	if (!closer)
		return DIAG_CAUSE_NO_CLOSE;
	if (h->pid == (int)closer->pid)
		return DIAG_CAUSE_DUP;
	if (h->ppid != (int)closer->pid)
		return DIAG_CAUSE_SHARED;
	return strncmp(h->comm, closer->comm, sizeof(h->comm)) ? DIAG_CAUSE_EXEC : DIAG_CAUSE_FORK;
}

/* "pid 42 (worker) still holds it as fd 5, inherited across fork" */
static enum diag_cause describe_holder(char *buf, size_t len, const struct holder *h,
				       const struct conn_call *closer)
{
	enum diag_cause why = holder_cause(h, closer);

	if (why == DIAG_CAUSE_DUP) {
		add(buf, len, "pid %d (%s) still refers to it through fd %d, another descriptor "
			      "of the same process (a dup())", h->pid, h->comm, h->fd);
		return why;
	}
	add(buf, len, "pid %d (%s) still holds it as fd %d", h->pid, h->comm, h->fd);
	if (why == DIAG_CAUSE_FORK || why == DIAG_CAUSE_EXEC)
		add(buf, len, ", inherited across fork from pid %u", closer->pid);
	if (why == DIAG_CAUSE_EXEC)
		add(buf, len, " and kept across exec (no FD_CLOEXEC)");
	return why;
}

const char *diagnose__close_wait(const struct conn *c, const struct holder *h, int nh,
				 uint64_t now_ns, char *buf, size_t len, enum diag_cause *cause)
{
	enum diag_cause none;
	const struct conn_call *cl = last_call(c, TS_EV_CLOSE);
	const struct conn_call *sh = last_call(c, TS_EV_SHUTDOWN);
	char age[32], when[48], ago[32];

	if (!cause)
		cause = &none;
	buf[0] = '\0';
	if (c->since_known || c->since_bound) {
		diagnose__duration(now_ns > c->state_since_ns ? now_ns - c->state_since_ns : 0,
				   age, sizeof(age));
		snprintf(when, sizeof(when), "%s%s ago", c->since_known ? "" : "at least ", age);
	} else {
		snprintf(when, sizeof(when), "before tracing began");
	}
	if (nh < 0) {
		*cause = DIAG_CAUSE_UNKNOWN;
		add(buf, len, "the peer closed %s; which processes hold the socket is not known "
			      "(%s)", when, nh == DIAG_HOLDERS_NO_INODE ?
			      "the tracer never saw its inode" :
			      "they could not be looked up: a replay, or /proc unreadable");
		return buf;
	}
	if (nh == 0) {
		*cause = DIAG_CAUSE_KERNEL_REF;
		add(buf, len, "the peer closed %s and no process holds the socket: a reference "
			      "inside the kernel (io_uring, a descriptor in flight over a unix socket, "
			      "a sendfile in progress) keeps it from closing", when);
		return buf;
	}
	if (!cl) {
		add(buf, len, "the peer closed %s and no process has called close()%s: ", when,
		    c->before_start ? " since tracing began" : "");
		*cause = describe_holder(buf, len, &h[0], NULL);
		if (nh > 1)
			add(buf, len, " (and %d more)", nh - 1);
		add(buf, len, "; the application has not noticed EOF or leaks the descriptor");
		if (sh && sh->how == 0)
			add(buf, len, " (pid %u called shutdown(SHUT_RD), which sends no FIN)", sh->pid);
		return buf;
	}
	diagnose__duration(now_ns > cl->mono_ns ? now_ns - cl->mono_ns : 0, ago, sizeof(ago));
	if (cl->via == TS_VIA_EXIT)
		add(buf, len, "pid %u (%.16s) exited %s ago holding fd %d", cl->pid, cl->comm, ago,
		    cl->fd);
	else
		add(buf, len, "pid %u (%.16s) called close() on fd %d %s ago", cl->pid, cl->comm,
		    cl->fd, ago);
	add(buf, len, " but %u references existed, so no FIN was sent; ", cl->refs);
	*cause = describe_holder(buf, len, &h[0], cl);
	if (nh > 1)
		add(buf, len, " (and %d more)", nh - 1);
	return buf;
}

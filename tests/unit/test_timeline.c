// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The timeline writer: its three forms, and a file that stays whole when
 * writing fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_table.h"
#include "lifecycle.h"
#include "tcp_names.h"
#include "timeline.h"

/* Why an output could not be opened (outfile.h). */
static char open_why[256];

/* A server connection: SYN_RECV 1 us, ESTABLISHED 2 us, then CLOSE_WAIT
 * (open) or closed through LAST_ACK. */
static void make_conn(struct conn *c, bool closed, const char *comm)
{
	static const uint8_t st[][2] = {
		{ TS_TCP_LISTEN, TS_TCP_SYN_RECV }, { TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED },
		{ TS_TCP_ESTABLISHED, TS_TCP_CLOSE_WAIT }, { TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK },
		{ TS_TCP_LAST_ACK, TS_TCP_CLOSE },
	};
	int n = closed ? 5 : 3;

	memset(c, 0, sizeof(*c));
	c->ident.cookie = 77;
	c->ident.family = AF_INET;
	c->ident.saddr[0] = 127;
	c->ident.saddr[3] = 1;
	c->ident.daddr[0] = 127;
	c->ident.daddr[3] = 1;
	c->ident.sport = 80;
	c->ident.dport = 40000;
	c->ident.pid = 9;
	c->ident.owner_src = TS_OWNER_SYSCALL;
	c->ident.cgroup_id = 4242;	/* no cgroup names here: the id, null path */
	strncpy(c->ident.comm, comm, sizeof(c->ident.comm) - 1);
	for (int i = 0; i < n; i++) {
		c->steps[i].mono_ns = 1000000 + (uint64_t)i * (i + 1) * 500;
		c->steps[i].oldstate = st[i][0];
		c->steps[i].newstate = st[i][1];
	}
	c->nsteps = (uint8_t)n;
	c->first_ns = c->steps[0].mono_ns;
	c->state = st[n - 1][1];
}

/* Everything written to fd from the start, NUL-terminated. */
static char *slurp(int fd)
{
	struct stat sb;
	char *b;

	assert_int_equal(fstat(fd, &sb), 0);
	b = calloc(1, (size_t)sb.st_size + 1);
	assert_int_equal(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
	return b;
}

static char *render(enum timeline_format fmt, const struct conn *c, enum conn_exit why)
{
	struct timeline tl;
	struct lifecycle l;
	int fd = memfd_create("tl", 0);
	char *text;

	assert_true(fd >= 0);
	assert_int_equal(timeline__open_fd(&tl, fd, fmt), 0);
	lifecycle__derive(&l, c, why);
	assert_int_equal(timeline__write(&tl, &l), 0);
	assert_int_equal(timeline__close(&tl), 0);
	text = slurp(fd);
	close(fd);
	return text;
}

static void json_form(void **state)
{
	struct conn c;
	char *t;

	make_conn(&c, true, "srv");
	t = render(TIMELINE_JSON, &c, CONN_EXIT_CLOSED);
	assert_non_null(strstr(t, "\"cookie\":77,\"family\":4,\"saddr\":\"127.0.0.1\",\"sport\":80,"));
	assert_non_null(strstr(t, "\"role\":\"server\",\"owner\":{\"pid\":9,\"comm\":\"srv\","
				  "\"cgroup_id\":4242,\"cgroup\":null,\"container\":null}"));
	assert_non_null(strstr(t, "{\"state\":\"SYN_RECV\",\"enter_mono_ns\":1000000,\"dur_ns\":1000}"));
	assert_non_null(strstr(t, "\"closed_by\":\"peer\",\"end\":\"graceful\""));
	assert_non_null(strstr(t, "\"complete\":true,\"missing\":[]}\n"));
	assert_string_equal(strchr(t, '\n'), "\n");	/* one line */
	free(t);

	make_conn(&c, false, "srv");
	t = render(TIMELINE_JSON, &c, CONN_EXIT_OPEN);
	assert_non_null(strstr(t, "{\"state\":\"CLOSE_WAIT\",\"enter_mono_ns\":1003000,\"dur_ns\":null}"));
	assert_non_null(strstr(t, "\"end_mono_ns\":null"));
	assert_non_null(strstr(t, "\"end\":null"));
	assert_non_null(strstr(t, "\"complete\":false,\"missing\":[\"open\"]}"));
	free(t);
}

static void csv_form(void **state)
{
	struct conn c;
	char *t, *p;
	int rows = 0;

	make_conn(&c, true, "a,b\"c");
	t = render(TIMELINE_CSV, &c, CONN_EXIT_CLOSED);
	assert_true(strncmp(t, "cookie,family,saddr,sport,daddr,dport,role,pid,comm,state,",
			    strlen("cookie,family,saddr,sport,daddr,dport,role,pid,comm,state,")) == 0);
	for (p = strchr(t, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
		rows++;
	assert_int_equal(rows, 4);	/* SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK */
	assert_non_null(strstr(t, "77,4,127.0.0.1,80,127.0.0.1,40000,server,9,\"a,b\"\"c\","
				  "SYN_RECV,1000000,1000,peer,graceful,true,4242,,\n"));
	free(t);
}

static void perfetto_form(void **state)
{
	struct conn c;
	char *t;

	make_conn(&c, true, "srv");
	t = render(TIMELINE_PERFETTO, &c, CONN_EXIT_CLOSED);
	assert_int_equal(t[0], '[');
	assert_string_equal(t + strlen(t) - 3, "\n]\n");
	assert_non_null(strstr(t, "\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":9,\"tid\":1,"
				  "\"args\":{\"name\":\"server 127.0.0.1:80 -> 127.0.0.1:40000\"}"));
	assert_non_null(strstr(t, "\"ph\":\"X\",\"name\":\"SYN_RECV\",\"pid\":9,\"tid\":1,"
				  "\"ts\":1000.000,\"dur\":1.000"));
	assert_non_null(strstr(t, "\"name\":\"end: graceful\""));
	assert_null(strstr(t, ",\n]"));	/* no trailing comma */
	free(t);
}

static void format_names(void **state)
{
	enum timeline_format f;

	assert_int_equal(timeline_format__parse("csv", &f), 0);
	assert_int_equal(f, TIMELINE_CSV);
	assert_int_equal(timeline_format__parse("CSV", &f), -1);
	assert_string_equal(timeline_format__name(TIMELINE_PERFETTO), "perfetto");
}

static void full_device(void **state)
{
	struct timeline tl;
	struct lifecycle l;
	struct conn c;

	make_conn(&c, true, "srv");
	lifecycle__derive(&l, &c, CONN_EXIT_CLOSED);
	assert_int_equal(timeline__open(&tl, "/dev/full", TIMELINE_JSON, open_why, sizeof(open_why)), 0);
	assert_int_equal(timeline__write(&tl, &l), 0);		/* buffered */
	assert_int_equal(timeline__flush(&tl), -ENOSPC);
	assert_int_equal(timeline__write(&tl, &l), -ENOSPC);	/* sticky */
	assert_int_equal(timeline__close(&tl), -ENOSPC);
	assert_int_equal(timeline__open(&tl, "/nonexistent/dir/x", TIMELINE_JSON, open_why, sizeof(open_why)), -ENOENT);
}

/* A write cut short by the file size limit: the file keeps the entries
 * written before, whole, and nothing of the batch that failed. */
static void cut_back_to_whole_entries(void **state)
{
	char path[] = "/tmp/tcpstate-tl-unit-XXXXXX";
	struct rlimit old, lim;
	struct timeline tl;
	struct lifecycle l;
	struct conn c;
	struct stat sb;
	off_t one;
	int fd = mkstemp(path);
	char *t;

	assert_true(fd >= 0);
	close(fd);
	make_conn(&c, true, "srv");
	lifecycle__derive(&l, &c, CONN_EXIT_CLOSED);
	assert_int_equal(timeline__open(&tl, path, TIMELINE_JSON, open_why, sizeof(open_why)), 0);
	assert_int_equal(timeline__write(&tl, &l), 0);
	assert_int_equal(timeline__flush(&tl), 0);
	assert_int_equal(stat(path, &sb), 0);
	one = sb.st_size;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)(one + one / 2);	/* room for half an entry more */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 3; i++)
		timeline__write(&tl, &l);
	assert_int_equal(timeline__flush(&tl), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(timeline__close(&tl), -EFBIG);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, one);
	fd = open(path, 0);
	t = slurp(fd);
	close(fd);
	assert_int_equal(t[one - 1], '\n');
	free(t);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_form),
		cmocka_unit_test(csv_form),
		cmocka_unit_test(perfetto_form),
		cmocka_unit_test(format_names),
		cmocka_unit_test(full_device),
		cmocka_unit_test(cut_back_to_whole_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

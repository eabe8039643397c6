/*
 * selftest-bpf.c — checks that BPF and a statically linked libbpf work in a
 * qemu test guest.
 *
 * Usage: selftest-bpf [-v] [--require kprobe|fentry]... [OBJECT]
 *
 * Opens OBJECT (default /bin/selftest.bpf.o, built from selftest.bpf.c)
 * with bpf_object__open_file(), loads and attaches
 *   - a classic tracepoint program on syscalls:sys_enter_getppid (needs
 *     tracefs), and
 *   - a tp_btf program on inet_sock_set_state that reads the socket family
 *     through CO-RE (needs kernel BTF),
 * then calls getppid() and makes TCP loopback connections over IPv4 and
 * IPv6, and checks the programs counted them. Then it tries, one at a time,
 * a kprobe and an fentry program on tcp_close and reports whether each
 * loaded, attached and fired.
 *
 * Exit status: 0 when the required programs work, 1 when not, 77 when a
 * program named with --require is unavailable (the last line of output
 * says why), 2 for bad usage. -v prints libbpf's debug output.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "selftest-net.h"

/* Indexes into the counters map; keep in step with selftest.bpf.c. */
enum {
	C_GETPPID,
	C_STATE_CHANGES,
	C_ESTABLISHED_V4,
	C_ESTABLISHED_V6,
	C_KPROBE,
	C_FENTRY,
	C_MAX,
};

#define MAX_PROGS 4

struct session {
	struct bpf_object *obj;
	struct bpf_link *links[MAX_PROGS];
	int nlinks;
	int counters_fd;
};

static int verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void session_close(struct session *s)
{
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	bpf_object__close(s->obj);
	memset(s, 0, sizeof(*s));
}

static int wanted(const char *name, const char *const *progs, int nprogs)
{
	for (int i = 0; i < nprogs; i++)
		if (strcmp(name, progs[i]) == 0)
			return 1;
	return 0;
}

/*
 * Open path with only the named programs enabled, load and attach them.
 * On failure returns -1 and describes the failing step in err.
 */
static int session_open(struct session *s, const char *path, const char *const *progs,
			int nprogs, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_map *map;

	memset(s, 0, sizeof(*s));
	s->obj = bpf_object__open_file(path, NULL);
	if (!s->obj) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, wanted(bpf_program__name(prog), progs, nprogs));

	if (bpf_object__load(s->obj)) {
		snprintf(err, errlen, "load: %s", strerror(errno));
		goto fail;
	}
	bpf_object__for_each_program(prog, s->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			snprintf(err, errlen, "attach %s: %s", bpf_program__name(prog), strerror(errno));
			goto fail;
		}
		if (s->nlinks < MAX_PROGS)
			s->links[s->nlinks++] = link;
	}
	map = bpf_object__find_map_by_name(s->obj, "counters");
	if (!map) {
		snprintf(err, errlen, "no map 'counters' in %s", path);
		goto fail;
	}
	s->counters_fd = bpf_map__fd(map);
	return 0;
fail:
	session_close(s);
	return -1;
}

static unsigned long long counter(const struct session *s, __u32 idx)
{
	__u64 v = 0;

	if (bpf_map_lookup_elem(s->counters_fd, &idx, &v))
		return 0;
	return v;
}

/* Try an optional program; returns 1 when it works, 0 when not. */
static int try_optional(const char *path, const char *label, const char *progname, __u32 idx)
{
	const char *progs[] = { progname };
	struct session s;
	char err[256];
	unsigned long long hits;

	if (session_open(&s, path, progs, 1, err, sizeof(err))) {
		printf("%s: unavailable (%s)\n", label, err);
		return 0;
	}
	selftest_tcp_roundtrip(AF_INET);
	hits = counter(&s, idx);
	session_close(&s);
	if (hits == 0) {
		printf("%s: attached but never fired\n", label);
		return 0;
	}
	printf("%s: ok (%llu hits)\n", label, hits);
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = "/bin/selftest.bpf.o";
	const char *required[] = { "tp_getppid", "btf_set_state" };
	int require_kprobe = 0, require_fentry = 0, failed = 0, kprobe, fentry;
	unsigned long long getppids, changes, est4, est6;
	struct session s;
	struct utsname u;
	char err[256];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0) {
			verbose = 1;
		} else if (strcmp(argv[i], "--require") == 0 && i + 1 < argc &&
			   (strcmp(argv[i + 1], "kprobe") == 0 || strcmp(argv[i + 1], "fentry") == 0)) {
			if (strcmp(argv[++i], "kprobe") == 0)
				require_kprobe = 1;
			else
				require_fentry = 1;
		} else if (argv[i][0] != '-') {
			path = argv[i];
		} else {
			fprintf(stderr, "usage: %s [-v] [--require kprobe|fentry]... [OBJECT]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(print_libbpf);
	if (uname(&u))
		strcpy(u.release, "?");
	printf("kernel %s, libbpf %s\n", u.release, libbpf_version_string());

	if (session_open(&s, path, required, 2, err, sizeof(err))) {
		printf("tracepoint + tp_btf: FAILED: %s\n", err);
		return 1;
	}
	syscall(SYS_getppid);
	if (selftest_tcp_roundtrip(AF_INET) || selftest_tcp_roundtrip(AF_INET6))
		failed = 1;
	getppids = counter(&s, C_GETPPID);
	changes = counter(&s, C_STATE_CHANGES);
	est4 = counter(&s, C_ESTABLISHED_V4);
	est6 = counter(&s, C_ESTABLISHED_V6);
	session_close(&s);

	printf("tracepoint syscalls:sys_enter_getppid: %llu hits\n", getppids);
	printf("tp_btf inet_sock_set_state: %llu transitions, ESTABLISHED ipv4 %llu, ipv6 %llu\n",
	       changes, est4, est6);
	if (getppids == 0 || est4 == 0 || est6 == 0) {
		printf("tracepoint + tp_btf: FAILED: missing events\n");
		failed = 1;
	}

	kprobe = try_optional(path, "kprobe tcp_close", "kp_tcp_close", C_KPROBE);
	fentry = try_optional(path, "fentry tcp_close", "fe_tcp_close", C_FENTRY);

	if (failed)
		return 1;
	if (require_kprobe && !kprobe) {
		printf("kprobes unavailable on %s\n", u.release);
		return 77;
	}
	if (require_fentry && !fentry) {
		printf("fentry unavailable on %s\n", u.release);
		return 77;
	}
	printf("bpf selftest: ok\n");
	return 0;
}

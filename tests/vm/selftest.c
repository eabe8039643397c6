/*
 * selftest.c — checks that a qemu test guest is fit for tcpstate-trace tests.
 *
 * Usage: selftest [--require-kprobes]
 *
 * Prints the kernel release, makes a TCP loopback connection over IPv4 and
 * over IPv6, checks that the kernel has BTF (/sys/kernel/btf/vmlinux) and
 * reports whether it has kprobes (kprobe_events in tracefs, or the kprobe
 * PMU). Exit status 0 when all is well, 1 when a check failed, 77 when
 * --require-kprobes is given and the kernel has no kprobes (the last line
 * of output then says so), 2 for bad usage.
 *
 * Built with gcc -static so that it runs in the busybox initramfs.
 */
#define _GNU_SOURCE /* accept4 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "selftest-net.h"

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int main(int argc, char **argv)
{
	int require_kprobes = 0, failed = 0, kprobes;
	struct utsname u;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--require-kprobes") == 0) {
			require_kprobes = 1;
		} else {
			fprintf(stderr, "usage: %s [--require-kprobes]\n", argv[0]);
			return 2;
		}
	}

	if (uname(&u) == 0)
		printf("uname -r: %s\n", u.release);

	if (selftest_tcp_roundtrip(AF_INET) == 0) {
		printf("tcp ipv4 loopback: ok\n");
	} else {
		printf("tcp ipv4 loopback: FAILED\n");
		failed = 1;
	}
	if (selftest_tcp_roundtrip(AF_INET6) == 0) {
		printf("tcp ipv6 loopback: ok\n");
	} else {
		printf("tcp ipv6 loopback: FAILED\n");
		failed = 1;
	}

	if (exists("/sys/kernel/btf/vmlinux")) {
		printf("btf: /sys/kernel/btf/vmlinux\n");
	} else {
		printf("btf: MISSING /sys/kernel/btf/vmlinux\n");
		failed = 1;
	}

	printf("tracefs: %s\n", exists("/sys/kernel/tracing/events") ? "/sys/kernel/tracing" : "not mounted");

	kprobes = exists("/sys/kernel/tracing/kprobe_events") ||
		  exists("/sys/kernel/debug/tracing/kprobe_events") ||
		  exists("/sys/bus/event_source/devices/kprobe");
	printf("kprobes: %s\n", kprobes ? "yes" : "no");

	fflush(stdout);
	if (failed)
		return 1;
	if (require_kprobes && !kprobes) {
		printf("no kprobes in kernel %s\n", u.release);
		return 77;
	}
	return 0;
}

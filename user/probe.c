// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

bool probe__kernel_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

bool probe__privileges(char *missing, size_t len)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d)) {
		snprintf(missing, len, "cannot read capabilities: %s", strerror(errno));
		return false;
	}
	if (has_cap(d, CAP_SYS_ADMIN))
		return true;
	if (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON))
		return true;
	snprintf(missing, len, "%s%s%s",
		 has_cap(d, CAP_BPF) ? "" : "CAP_BPF",
		 !has_cap(d, CAP_BPF) && !has_cap(d, CAP_PERFMON) ? " and " : "",
		 has_cap(d, CAP_PERFMON) ? "" : "CAP_PERFMON");
	return false;
}

/* The kernel's BTF, parsed once for every probe (several megabytes, tens
 * of milliseconds each time) and released when probing is done. */
static struct btf *vmlinux_btf_cache;

static const struct btf *vmlinux_btf(void)
{
	if (!vmlinux_btf_cache)
		vmlinux_btf_cache = btf__load_vmlinux_btf();
	return vmlinux_btf_cache;
}

void probe__release(void)
{
	btf__free(vmlinux_btf_cache);
	vmlinux_btf_cache = NULL;
}

bool probe__ringbuf(void)
{
	return libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
}

/* Load a tiny tracing program on btf_trace_<tp>; with_cookie makes it call
 * bpf_get_socket_cookie() on the first argument. */
static bool load_tp_btf(const char *tp, bool with_cookie)
{
	struct bpf_insn plain[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_insn cookie[] = {
		/* r1 = *(u64 *)(r1 + 0): the socket argument */
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_1 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_socket_cookie },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	const struct btf *vmlinux = vmlinux_btf();
	char name[128];
	int id, fd;

	if (!vmlinux)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	if (with_cookie)
		fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", cookie, 4, &opts);
	else
		fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", plain, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool probe__tp_btf(const char *tp)
{
	return load_tp_btf(tp, false);
}

bool probe__tp_btf_cookie(const char *tp)
{
	return load_tp_btf(tp, true);
}

bool probe__fentry(const char *fn, char *why, size_t len)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	const struct btf *vmlinux = vmlinux_btf();
	int id, fd, link;

	if (!vmlinux) {
		snprintf(why, len, "no kernel BTF");
		return false;
	}
	id = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC);
	if (id <= 0) {
		snprintf(why, len, "%s not in kernel BTF", fn);
		return false;
	}
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd < 0) {
		snprintf(why, len, "fentry/%s refused at load: %s", fn, strerror(errno));
		return false;
	}
	link = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL);
	if (link < 0) {
		snprintf(why, len, "fentry/%s refused at attach: %s", fn, strerror(errno));
		close(fd);
		return false;
	}
	close(link);
	close(fd);
	return true;
}

bool probe__kprobe(const char *fn, char *why, size_t len)
{
	struct perf_event_attr attr = {};
	FILE *f = fopen("/sys/bus/event_source/devices/kprobe/type", "r");
	int type = -1, fd;

	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	if (type < 0) {
		snprintf(why, len, "no kprobe support in this kernel (CONFIG_KPROBES)");
		return false;
	}
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.config1 = (uint64_t)(uintptr_t)fn;	/* kprobe_func */
	attr.config2 = 0;			/* kprobe_addr / offset */
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "kprobe on %s refused: %s", fn, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

bool probe__task_btf(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf,
				       NULL) == 1;
}

/* A program of type type that casts 0 to struct sock with bpf_rdonly_cast(). */
static bool load_rdonly_cast(enum bpf_prog_type type, int fn, int sock)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = sock },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = fn },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(type, NULL, "GPL", insns, 5, NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool probe__rdonly_cast(void)
{
	const struct btf *vmlinux = vmlinux_btf();
	int fn, sock;

	if (!vmlinux)
		return false;
	fn = btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC);
	sock = btf__find_by_name_kind(vmlinux, "sock", BTF_KIND_STRUCT);
	if (fn <= 0 || sock <= 0)
		return false;
	return load_rdonly_cast(BPF_PROG_TYPE_TRACEPOINT, fn, sock) &&
	       load_rdonly_cast(BPF_PROG_TYPE_KPROBE, fn, sock);
}

bool probe__bpf_loop(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, NULL) == 1;
}

/* A member called name in type id, or in the structs and unions it nests,
 * depth levels deep at most. */
static bool btf_has_member(const struct btf *btf, int id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, id));
	const struct btf_member *m;

	if (!t || !(btf_is_struct(t) || btf_is_union(t)) || depth < 0)
		return false;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);

		if (mn && strcmp(mn, name) == 0)
			return true;
		if (btf_has_member(btf, (int)m->type, name, depth - 1))
			return true;
	}
	return false;
}

bool probe__classic_misses_counted(void)
{
	const struct btf *vmlinux = vmlinux_btf();
	int id;

	if (!vmlinux)
		return false;
	id = btf__find_by_name_kind(vmlinux, "bpf_link_info", BTF_KIND_STRUCT);
	return id > 0 && btf_has_member(vmlinux, id, "missed", 4);
}

uint32_t probe__own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (uint32_t)st.st_ino : 0;
}

uint64_t probe__ksym(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256], type;
	unsigned long long addr;
	uint64_t found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && strcmp(sym, name) == 0) {
			found = addr;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int probe__ensure_tracefs(bool verbose)
{
	/* libbpf looks in /sys/kernel/debug/tracing when that path exists and in
	 * /sys/kernel/tracing otherwise. */
	if (is_dir("/sys/kernel/debug/tracing/events") || is_dir("/sys/kernel/tracing/events"))
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	if (verbose)
		fprintf(stderr, "tcpstate-trace: mounted tracefs at /sys/kernel/tracing\n");
	return 0;
}

bool probe__tracepoint(const char *category, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "/sys/kernel/debug/tracing/events/%s/%s", category, name);
	if (is_dir(p))
		return true;
	snprintf(p, sizeof(p), "/sys/kernel/tracing/events/%s/%s", category, name);
	return is_dir(p);
}

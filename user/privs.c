// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Capability numbers go no higher than 63 in a 64-bit set. */
#define CAP_MAX 63

struct caps {
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[2];
};

static int caps_get(struct caps *c)
{
	memset(c, 0, sizeof(*c));
	c->h.version = _LINUX_CAPABILITY_VERSION_3;
	return syscall(SYS_capget, &c->h, c->d) ? -errno : 0;
}

static uint64_t set_of(const struct caps *c, size_t field)
{
	uint64_t v = 0;

	for (int i = 0; i < 2; i++) {
		const __u32 *w = (const void *)((const char *)&c->d[i] + field);

		v |= (uint64_t)*w << (32 * i);
	}
	return v;
}

static int caps_set(uint64_t eff, uint64_t prm)
{
	struct caps c;

	memset(&c, 0, sizeof(c));
	c.h.version = _LINUX_CAPABILITY_VERSION_3;
	for (int i = 0; i < 2; i++) {
		c.d[i].effective = (__u32)(eff >> (32 * i));
		c.d[i].permitted = (__u32)(prm >> (32 * i));
	}
	/* tid 0: this thread only. */
	return syscall(SYS_capset, &c.h, c.d) ? -errno : 0;
}

int privs__get(uint64_t *effective, uint64_t *permitted)
{
	struct caps c;
	int e = caps_get(&c);

	if (e)
		return e;
	*effective = set_of(&c, offsetof(struct __user_cap_data_struct, effective));
	*permitted = set_of(&c, offsetof(struct __user_cap_data_struct, permitted));
	return 0;
}

/* Out of the bounding set: everything not in keep. Needs CAP_SETPCAP; a
 * thread without it has no bounding set worth more than its permitted set
 * under no_new_privs, so it is left. */
static int bound(uint64_t keep, uint64_t eff)
{
	if (!(eff & PRIVS_CAP(CAP_SETPCAP)))
		return 0;
	for (int cap = 0; cap <= CAP_MAX; cap++) {
		if (keep & PRIVS_CAP(cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	}
	return 0;
}

int privs__limit(uint64_t effective, uint64_t permitted, char *err, size_t errlen)
{
	uint64_t eff, prm;
	int e = privs__get(&eff, &prm);

	if (e) {
		snprintf(err, errlen, "cannot read the capabilities: %s", strerror(-e));
		return e;
	}
	permitted &= prm;
	effective &= permitted;
	/* EINVAL: a kernel before 4.3 has no ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		e = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(-e));
		return e;
	}
	if ((e = bound(permitted, eff))) {
		snprintf(err, errlen, "cannot limit the bounding set: %s", strerror(-e));
		return e;
	}
	if ((e = caps_set(effective, permitted))) {
		snprintf(err, errlen, "cannot drop capabilities: %s", strerror(-e));
		return e;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		e = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(-e));
		return e;
	}
	return 0;
}

bool privs__raise(int cap)
{
	uint64_t eff, prm;

	if (privs__get(&eff, &prm) || !(prm & PRIVS_CAP(cap)) || (eff & PRIVS_CAP(cap)))
		return false;
	return caps_set(eff | PRIVS_CAP(cap), prm) == 0;
}

void privs__lower(int cap)
{
	uint64_t eff, prm;

	if (!privs__get(&eff, &prm) && (eff & PRIVS_CAP(cap)))
		caps_set(eff & ~PRIVS_CAP(cap), prm);
}

void privs__sets(const struct privs_need *n, uint64_t *effective, uint64_t *permitted)
{
	uint64_t eff = 0, prm = 0;

	/* /proc/PID/fd is the process's own (0500): reading another user's
	 * takes CAP_DAC_READ_SEARCH, reading its links CAP_SYS_PTRACE
	 * (ptrace_may_access), as does /proc/PID/ns/net. */
	if (n->holders)
		eff |= PRIVS_CAP(CAP_DAC_READ_SEARCH) | PRIVS_CAP(CAP_SYS_PTRACE);
	if (n->all_netns)
		eff |= PRIVS_CAP(CAP_SYS_PTRACE);
	if (n->cgroups)
		eff |= PRIVS_CAP(CAP_DAC_READ_SEARCH);
	/* Before 6.5, with kernel.unprivileged_bpf_disabled, every bpf()
	 * command needs CAP_BPF (CAP_SYS_ADMIN where there is none). */
	if (n->bpf_syscall) {
		uint64_t e, p;

		eff |= !privs__get(&e, &p) && (p & PRIVS_CAP(CAP_BPF)) ? PRIVS_CAP(CAP_BPF)
								       : PRIVS_CAP(CAP_SYS_ADMIN);
	}
	prm = eff;
	/* Permitted only, raised by the thread that calls setns() and
	 * around the rename, for those calls. */
	if (n->all_netns)
		prm |= PRIVS_CAP(CAP_SYS_ADMIN);
	if (n->metrics_file)
		prm |= PRIVS_CAP(PRIVS_FILE_CAP);
	*effective = eff;
	*permitted = prm;
}

static const char *const names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

void privs__names(uint64_t caps, char *buf, size_t len)
{
	size_t at = 0;

	if (len)
		buf[0] = '\0';
	for (int cap = 0; cap <= CAP_MAX && at < len; cap++) {
		if (!(caps & PRIVS_CAP(cap)))
			continue;
		if (cap < (int)(sizeof(names) / sizeof(names[0])))
			at += snprintf(buf + at, len - at, "%s%s", at ? " " : "", names[cap]);
		else
			at += snprintf(buf + at, len - at, "%scap_%d", at ? " " : "", cap);
	}
	if (len && !at)
		snprintf(buf, len, "none");
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Cgroup paths to containers for each runtime's naming, the cgroup2 mount
 * found in mountinfo, the JSON members, and the id lookup's misses. (The
 * live tests resolve real cgroups.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "event_json.h"

#define ID64 "4f1c2e3d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
#define UID "8b1f3c2e-5d4a-4c6b-9e8f-7a6b5c4d3e2f"
#define UID_ "8b1f3c2e_5d4a_4c6b_9e8f_7a6b5c4d3e2f"

static void expect(const char *path, enum cgroup_runtime rt, const char *id)
{
	struct cgroup_container c;

	if (!id) {
		assert_false(cgroup__container(path, &c));
		assert_int_equal(c.runtime, CGROUP_RT_NONE);
		assert_string_equal(c.id, "");
		return;
	}
	assert_true(cgroup__container(path, &c));
	assert_int_equal(c.runtime, rt);
	assert_string_equal(c.id, id);
}

static void docker(void **state)
{
	expect("/system.slice/docker-" ID64 ".scope", CGROUP_RT_DOCKER, ID64);
	expect("/docker/" ID64, CGROUP_RT_DOCKER, ID64);
	/* Nested below the container: still that container. */
	expect("/docker/" ID64 "/init", CGROUP_RT_DOCKER, ID64);
	/* Not an id: a name that only looks like one. */
	expect("/system.slice/docker-xyz.scope", CGROUP_RT_NONE, NULL);
	expect("/docker", CGROUP_RT_NONE, NULL);
}

static void containerd_and_crio(void **state)
{
	expect("/system.slice/cri-containerd-" ID64 ".scope", CGROUP_RT_CONTAINERD, ID64);
	expect("/machine.slice/crio-" ID64 ".scope", CGROUP_RT_CRIO, ID64);
	/* conmon's scope is not the container. */
	expect("/machine.slice/crio-conmon-" ID64 ".scope", CGROUP_RT_NONE, NULL);
}

static void kubernetes(void **state)
{
	/* systemd driver: the pod's uid with '_', the container's scope inside. */
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/"
	       "cri-containerd-" ID64 ".scope", CGROUP_RT_CONTAINERD, ID64);
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice",
	       CGROUP_RT_KUBEPODS, UID);
	expect("/kubepods.slice/kubepods-pod" UID_ ".slice", CGROUP_RT_KUBEPODS, UID);
	/* cgroupfs driver: pod<uid>/<container id>, or the pod itself. */
	expect("/kubepods/burstable/pod" UID "/" ID64, CGROUP_RT_KUBEPODS, ID64);
	expect("/kubepods/pod" UID, CGROUP_RT_KUBEPODS, UID);
	expect("/kubepods/besteffort/pod" UID_, CGROUP_RT_KUBEPODS, UID);
	/* "pod" outside kubepods is nothing. */
	expect("/user.slice/pod" UID, CGROUP_RT_NONE, NULL);
	/* The QoS slices alone name no pod. */
	expect("/kubepods.slice/kubepods-burstable.slice", CGROUP_RT_NONE, NULL);
}

static void services(void **state)
{
	expect("/system.slice/nginx.service", CGROUP_RT_SERVICE, "nginx.service");
	expect("/system.slice/sshd.service/child", CGROUP_RT_SERVICE, "sshd.service");
	/* The innermost unit: a user's service inside user@.service. */
	expect("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
	       CGROUP_RT_SERVICE, "foo.service");
	expect("/", CGROUP_RT_NONE, NULL);
	expect("", CGROUP_RT_NONE, NULL);
	expect("/.service", CGROUP_RT_NONE, NULL);
	expect("/user.slice/session-3.scope", CGROUP_RT_NONE, NULL);
}

static void long_names_are_cut(void **state)
{
	char path[300], want[CGROUP_CONTAINER_MAX];
	struct cgroup_container c;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	strcpy(path + sizeof(path) - 9, ".service");
	assert_true(cgroup__container(path, &c));
	assert_int_equal(strlen(c.id), CGROUP_CONTAINER_MAX - 1);
	memset(want, 'a', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	assert_string_equal(c.id, want);
	assert_false(cgroup__container(NULL, &c));
}

static int mount_of(const char *text, char *buf, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	assert_non_null(f);
	ret = cgroup__mount_parse(f, buf, len);
	fclose(f);
	return ret;
}

static void mount_hybrid_and_pure(void **state)
{
	char buf[64];

	assert_int_equal(mount_of(
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n",
		buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
	assert_int_equal(mount_of(
		"30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
		buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup");
	/* Escaped spaces; a field "cgroup2" before the separator is no type. */
	assert_int_equal(mount_of(
		"50 23 0:40 / /mnt/a\\040b rw cgroup2 - tmpfs tmpfs rw\n"
		"51 23 0:41 / /mnt/c\\040d rw - cgroup2 none rw\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/mnt/c d");
	assert_int_equal(mount_of("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", buf,
				  sizeof(buf)), -ENOENT);
	assert_int_equal(mount_of("garbage\n\n", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(mount_of("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
				  buf, 8), -ENAMETOOLONG);
}

static char *json_of(uint64_t id, const struct cgroup_name *cg, char *buf)
{
	*event_json__cgroup(buf, id, cg) = '\0';
	return buf;
}

static void json_members(void **state)
{
	struct cgroup_name cg = { .id = 9, .found = true, .path = "/a\"b" };
	char buf[1024];

	assert_string_equal(json_of(0, NULL, buf),
			    ",\"cgroup_id\":null,\"cgroup\":null,\"container\":null");
	assert_string_equal(json_of(9, NULL, buf),
			    ",\"cgroup_id\":9,\"cgroup\":null,\"container\":null");
	assert_string_equal(json_of(9, &cg, buf),
			    ",\"cgroup_id\":9,\"cgroup\":\"/a\\\"b\",\"container\":null");
	strcpy(cg.path, "/system.slice/nginx.service");
	cg.has_container = cgroup__container(cg.path, &cg.container);
	assert_string_equal(json_of(9, &cg, buf),
			    ",\"cgroup_id\":9,\"cgroup\":\"/system.slice/nginx.service\","
			    "\"container\":\"nginx.service\"");
	cg.found = false;
	assert_string_equal(json_of(9, &cg, buf),
			    ",\"cgroup_id\":9,\"cgroup\":null,\"container\":null");
}

/* A lookup that finds nothing is null, never a crash; NULL names too. */
static void lookups_that_miss(void **state)
{
	struct cgroup_names *n = cgroup_names__new("/nonexistent-cgroup-mount");
	char dir[] = "/tmp/test_cgroup.XXXXXX";

	assert_null(n);
	assert_null(cgroup_names__get(NULL, 5));
	/* A directory that is no cgroup2 mount: every id is unknown. */
	assert_non_null(mkdtemp(dir));
	n = cgroup_names__new(dir);
	assert_non_null(n);
	assert_null(cgroup_names__get(n, 0));
	for (uint64_t id = 1; id < 3000; id += 7) {
		const struct cgroup_name *c = cgroup_names__get(n, id);

		assert_non_null(c);
		assert_int_equal(c->id, id);
		assert_false(c->found);
	}
	cgroup_names__free(n);
	rmdir(dir);
	assert_int_equal(cgroup__id_of(dir), 0);
}

/* The walk finds a directory by its inode, as cgroup2's ids are, and
 * stops at its bounds. */
static void walk_finds_by_inode(void **state)
{
	char root[] = "/tmp/test_cgroup_walk.XXXXXX", dir[256], path[CGROUP_PATH_MAX];
	struct stat st;

	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/a", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/a/b.service", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(cgroup__find_by_walk(root, st.st_ino, path));
	assert_string_equal(path, "/a/b.service");
	assert_int_equal(stat(root, &st), 0);
	assert_true(cgroup__find_by_walk(root, st.st_ino, path));
	assert_string_equal(path, "/");
	assert_false(cgroup__find_by_walk(root, 1, path));
	assert_string_equal(path, "");
	assert_false(cgroup__find_by_walk("/nonexistent", 1, path));
	rmdir(dir);
	snprintf(dir, sizeof(dir), "%s/a", root);
	rmdir(dir);
	rmdir(root);
}

/* ---- lookups that fail for a passing reason ------------------------------ */

/* Every descriptor this process may open taken, under a limit lowered to
 * 64: the next open fails with EMFILE, a real one. The limit is put back
 * by release(). */
struct fd_squeeze {
	struct rlimit saved;
	int fds[64];
	int n;
};

static void squeeze(struct fd_squeeze *s)
{
	struct rlimit low;
	int fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &s->saved), 0);
	low = s->saved;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (s->n = 0; s->n < 64 && (fd = dup(0)) >= 0; s->n++)
		s->fds[s->n] = fd;
	assert_int_equal(dup(0), -1);
	assert_int_equal(errno, EMFILE);
}

static void release(struct fd_squeeze *s)
{
	while (s->n > 0)
		close(s->fds[--s->n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &s->saved), 0);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Ask for id until it is settled, for up to ms; the last answer. */
static const struct cgroup_name *until_settled(struct cgroup_names *n, uint64_t id, int ms)
{
	uint64_t end = mono_ms() + (uint64_t)ms;
	const struct cgroup_name *c = cgroup_names__get(n, id);

	while (!c->settled && mono_ms() < end) {
		usleep(10000);	/* the retry's own back-off: polled, not slept on */
		c = cgroup_names__get(n, id);
	}
	return c;
}

/* A real cgroup looked up while the process is out of descriptors stays
 * unnamed only until the descriptors come back; a removed one is settled
 * at once and never looked up again; a lookup that keeps failing is given
 * up after CGROUP_LOOKUP_TRIES, counted. Root and a cgroup2 mount. */
static void transient_errors_retried(void **state)
{
	char mount[CGROUP_PATH_MAX], dir[CGROUP_PATH_MAX + 64], gone[CGROUP_PATH_MAX + 64];
	char want[128];
	const struct cgroup_name *c;
	struct cgroup_names *n;
	struct fd_squeeze s;
	uint64_t id, gone_id;

	if (geteuid() != 0 || cgroup__mount(mount, sizeof(mount))) {
		skip();
		return;
	}
	snprintf(dir, sizeof(dir), "%s/tcpstate-unit-%d", mount, (int)getpid());
	snprintf(gone, sizeof(gone), "%s/tcpstate-unit-%d-gone", mount, (int)getpid());
	snprintf(want, sizeof(want), "/tcpstate-unit-%d", (int)getpid());
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(gone, 0755), 0);
	id = cgroup__id_of(dir);
	gone_id = cgroup__id_of(gone);
	assert_int_equal(rmdir(gone), 0);
	n = cgroup_names__new(NULL);
	assert_non_null(n);

	/* Out of descriptors: unnamed for now, counted, not settled. */
	squeeze(&s);
	c = cgroup_names__get(n, id);
	release(&s);
	assert_false(c->found);
	assert_false(c->settled);
	assert_int_equal(cgroup_names__stats(n).transient, 1);
	/* Then named, once a retry comes due (100 ms). */
	c = until_settled(n, id, 2000);
	assert_true(c->found);
	assert_string_equal(c->path, want);
	assert_int_equal(cgroup_names__stats(n).transient, 1);
	assert_int_equal(cgroup_names__stats(n).given_up, 0);

	/* Removed: ESTALE, definitive, settled at the first lookup. */
	c = cgroup_names__get(n, gone_id);
	assert_false(c->found);
	assert_true(c->settled);
	assert_int_equal(cgroup_names__stats(n).transient, 1);

	/* Failing for good: tried CGROUP_LOOKUP_TRIES times (3.1 s of
	 * back-off), then given up and counted. */
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	id = cgroup__id_of(dir);
	squeeze(&s);
	c = until_settled(n, id, 10000);
	release(&s);
	assert_true(c->settled);
	assert_false(c->found);
	assert_int_equal(c->tries, CGROUP_LOOKUP_TRIES);
	assert_int_equal(cgroup_names__stats(n).transient, 1 + CGROUP_LOOKUP_TRIES);
	assert_int_equal(cgroup_names__stats(n).given_up, 1);
	cgroup_names__free(n);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(docker),
		cmocka_unit_test(containerd_and_crio),
		cmocka_unit_test(kubernetes),
		cmocka_unit_test(services),
		cmocka_unit_test(long_names_are_cut),
		cmocka_unit_test(mount_hybrid_and_pure),
		cmocka_unit_test(json_members),
		cmocka_unit_test(lookups_that_miss),
		cmocka_unit_test(walk_finds_by_inode),
		cmocka_unit_test(transient_errors_retried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

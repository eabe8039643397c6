// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cgroup.h"
#include "clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ---- the container a path names (pure) -------------------------------- */

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return n > 0;
}

#define HEX "0123456789abcdef"

/* A container id as runtimes make them: 64 hex digits (12 and up taken). */
static bool is_container_id(const char *s, size_t n)
{
	return n >= 12 && n <= 64 && all_of(s, n, HEX);
}

static bool set_id(struct cgroup_container *out, enum cgroup_runtime rt, const char *s, size_t n)
{
	if (n >= sizeof(out->id))
		n = sizeof(out->id) - 1;
	out->runtime = rt;
	memcpy(out->id, s, n);
	out->id[n] = '\0';
	return true;
}

/* "<prefix><id><suffix>" with a hex id: the id's length, else 0. */
static size_t wrapped_id(const char *c, size_t n, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);

	if (n <= p + s || strncmp(c, prefix, p) || strncmp(c + n - s, suffix, s))
		return 0;
	return is_container_id(c + p, n - p - s) ? n - p - s : 0;
}

/* A pod's uid after "pod" in a component (cgroupfs: pod<uid>; systemd:
 * kubepods-<qos>-pod<uid with '_'>.slice), with '-' for '_'. */
static bool pod_uid(const char *c, size_t n, struct cgroup_container *out)
{
	const char *at = NULL;
	size_t len;

	for (size_t i = 0; i + 3 < n; i++)
		if (!strncmp(c + i, "pod", 3))
			at = c + i + 3;		/* the last "pod" */
	if (!at)
		return false;
	len = (size_t)(c + n - at);
	if (len > 6 && !strncmp(at + len - 6, ".slice", 6))
		len -= 6;
	if (len < 8 || len >= sizeof(out->id) || !all_of(at, len, HEX "-_"))
		return false;
	set_id(out, CGROUP_RT_KUBEPODS, at, len);
	for (char *p = out->id; *p; p++)
		if (*p == '_')
			*p = '-';
	return true;
}

/* One component c (n bytes); parent: the one above it (pn bytes), if any;
 * in_kube: a kubepods component is above. */
static bool component_container(const char *c, size_t n, const char *parent, size_t pn,
				bool in_kube, struct cgroup_container *out)
{
	size_t k;

	if ((k = wrapped_id(c, n, "docker-", ".scope")))
		return set_id(out, CGROUP_RT_DOCKER, c + 7, k);
	if ((k = wrapped_id(c, n, "cri-containerd-", ".scope")))
		return set_id(out, CGROUP_RT_CONTAINERD, c + 15, k);
	if ((k = wrapped_id(c, n, "crio-", ".scope")))
		return set_id(out, CGROUP_RT_CRIO, c + 5, k);
	if (parent && pn == 6 && !strncmp(parent, "docker", 6) && is_container_id(c, n))
		return set_id(out, CGROUP_RT_DOCKER, c, n);
	if (in_kube && is_container_id(c, n) && parent && pod_uid(parent, pn, out))
		return set_id(out, CGROUP_RT_KUBEPODS, c, n);	/* cgroupfs: pod<uid>/<id> */
	if (in_kube && pod_uid(c, n, out))
		return true;
	if (n > 8 && !strncmp(c + n - 8, ".service", 8))
		return set_id(out, CGROUP_RT_SERVICE, c, n);
	return false;
}

/* The component of path ending just before end: its start. */
static const char *component_start(const char *path, const char *end)
{
	while (end > path && end[-1] != '/')
		end--;
	return end;
}

bool cgroup__container(const char *path, struct cgroup_container *out)
{
	const char *end = path ? path + strlen(path) : NULL;
	bool in_kube = path && strstr(path, "kubepods");

	memset(out, 0, sizeof(*out));
	while (end && end > path) {
		const char *c = component_start(path, end), *pend = c > path ? c - 1 : NULL;
		const char *p = pend ? component_start(path, pend) : NULL;

		if (end > c && component_container(c, (size_t)(end - c), p,
						   p ? (size_t)(pend - p) : 0, in_kube, out))
			return true;
		end = c > path ? c - 1 : path;
	}
	memset(out, 0, sizeof(*out));
	return false;
}

const char *cgroup__runtime_name(enum cgroup_runtime rt)
{
	switch (rt) {
	case CGROUP_RT_DOCKER:
		return "docker";
	case CGROUP_RT_CONTAINERD:
		return "containerd";
	case CGROUP_RT_CRIO:
		return "crio";
	case CGROUP_RT_KUBEPODS:
		return "kubepods";
	case CGROUP_RT_SERVICE:
		return "service";
	default:
		return NULL;
	}
}

/* ---- the cgroup2 mount (pure parser) ----------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static int unescape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s; s++) {
		char ch = *s;

		if (ch == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			ch = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		buf[o++] = ch;
	}
	buf[o] = '\0';
	return 0;
}

/* Fields: id parent dev root mountpoint options [optional...] - fstype ... */
static int mountinfo_line(char *line, char *buf, size_t len)
{
	char *save = NULL, *f, *mnt = NULL;
	int i = 0;
	bool dash = false;

	for (f = strtok_r(line, " \n", &save); f; f = strtok_r(NULL, " \n", &save), i++) {
		if (i == 4)
			mnt = f;
		else if (dash)
			return mnt && !strcmp(f, "cgroup2") ? unescape(mnt, buf, len) : -ENOENT;
		else if (i > 5 && !strcmp(f, "-"))
			dash = true;
	}
	return -ENOENT;
}

int cgroup__mount_parse(FILE *mountinfo, char *buf, size_t len)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	while (ret == -ENOENT && getline(&line, &cap, mountinfo) > 0)
		ret = mountinfo_line(line, buf, len);
	free(line);
	return ret;
}

int cgroup__mount(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret;

	if (!f)
		return -errno;
	ret = cgroup__mount_parse(f, buf, len);
	fclose(f);
	return ret;
}

uint64_t cgroup__id_of(const char *path)
{
	struct statfs fs;
	struct stat st;

	if (statfs(path, &fs) || stat(path, &st))
		return 0;
	if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return 0;
	}
	return st.st_ino;
}

/* ---- id to path, cached ------------------------------------------------ */

/* Slots of the cache, a power of two: a host's cgroups with sockets fit,
 * and a busier one only looks some up again. */
#define NAMES_SLOTS CGROUP_NAMES_SLOTS
_Static_assert((NAMES_SLOTS & (NAMES_SLOTS - 1)) == 0, "a power of two");

struct cgroup_names {
	int mount_fd;			/* -1: offline, only what was put */
	int handle_type;		/* the kernel's for cgroup2 (FILEID_KERNFS) */
	char mount[CGROUP_PATH_MAX];
	size_t mount_len;
	struct cgroup_name slot[NAMES_SLOTS];
	struct cgroup_lookup_stats stats;
};

/* How a lookup ended. */
enum lookup {
	LOOKUP_FOUND,
	LOOKUP_NONE,	/* no such cgroup, or a path that does not fit: for good */
	LOOKUP_AGAIN,	/* failed for a passing reason: try again later */
};

/* errno of a failed open or read: definitive, or worth another try. The
 * file handle of a removed (or never made) cgroup gives ESTALE. */
static enum lookup lookup_of_errno(int err)
{
	return err == ESTALE || err == ENOENT || err == ENOTDIR ? LOOKUP_NONE : LOOKUP_AGAIN;
}

/* The file handle type cgroup2 gives, asked of its root. */
static int root_handle_type(int mount_fd)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 64];
	} h;
	int mnt_id;

	h.fh.handle_bytes = 64;
	if (name_to_handle_at(mount_fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH))
		return -1;
	return h.fh.handle_type;
}

struct cgroup_names *cgroup_names__new(const char *mount)
{
	struct cgroup_names *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return NULL;
	err = mount ? 0 : cgroup__mount(n->mount, sizeof(n->mount));
	if (mount && strlen(mount) < sizeof(n->mount))
		strcpy(n->mount, mount);
	else if (mount)
		err = -ENAMETOOLONG;
	n->mount_fd = err ? -1 : open(n->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (n->mount_fd < 0) {
		free(n);
		errno = err ? -err : errno;
		return NULL;
	}
	n->mount_len = strlen(n->mount);
	while (n->mount_len > 1 && n->mount[n->mount_len - 1] == '/')
		n->mount[--n->mount_len] = '\0';
	n->handle_type = root_handle_type(n->mount_fd);
	return n;
}

struct cgroup_names *cgroup_names__new_offline(void)
{
	struct cgroup_names *n = calloc(1, sizeof(*n));

	if (n)
		n->mount_fd = -1;
	return n;
}

size_t cgroup_names__slot(uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 54) & (NAMES_SLOTS - 1);
}

static void name_set(struct cgroup_name *c, uint64_t id, const char *path)
{
	c->id = id;
	c->settled = true;
	c->tries = 0;
	c->found = path && strlen(path) < sizeof(c->path);
	snprintf(c->path, sizeof(c->path), "%s", c->found ? path : "");
	c->has_container = c->found && cgroup__container(c->path, &c->container);
}

void cgroup_names__put(struct cgroup_names *n, uint64_t id, const char *path)
{
	if (n && id)
		name_set(&n->slot[cgroup_names__slot(id)], id, path);
}

void cgroup_names__clear(struct cgroup_names *n)
{
	memset(n->slot, 0, sizeof(n->slot));
}

void cgroup_names__free(struct cgroup_names *n)
{
	if (!n)
		return;
	if (n->mount_fd >= 0)
		close(n->mount_fd);
	free(n);
}

/* The cgroup's directory opened by its file handle: on cgroup2 the handle
 * is the 64-bit id. */
static int open_by_id(const struct cgroup_names *n, uint64_t id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;

	if (n->handle_type < 0)
		return -1;
	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = n->handle_type;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	return open_by_handle_at(n->mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The path under the mount of the directory open at fd. */
static enum lookup path_of_fd(const struct cgroup_names *n, int fd, char *out, size_t len)
{
	char link[32], abs[CGROUP_PATH_MAX + 64];
	ssize_t got;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	got = readlink(link, abs, sizeof(abs) - 1);
	if (got < 0)
		return LOOKUP_AGAIN;
	if (got == 0 || (size_t)got >= sizeof(abs) - 1)
		return LOOKUP_NONE;	/* too long to name */
	abs[got] = '\0';
	if (strncmp(abs, n->mount, n->mount_len) ||
	    (abs[n->mount_len] != '/' && abs[n->mount_len] != '\0'))
		return LOOKUP_NONE;
	if (!abs[n->mount_len])
		return snprintf(out, len, "/") < (int)len ? LOOKUP_FOUND : LOOKUP_NONE;
	return snprintf(out, len, "%s", abs + n->mount_len) < (int)len ? LOOKUP_FOUND : LOOKUP_NONE;
}

/* Without CAP_DAC_READ_SEARCH open_by_handle_at() is refused: look for
 * the directory whose inode is the id instead, at most this deep and this
 * many directories per lookup (each id is looked up once). */
#define WALK_DEPTH_MAX 16
#define WALK_DIRS_MAX 4096

/* How far a walk may go, and whether it stopped for a passing reason. */
struct walk {
	int dirs;
	bool again;	/* a directory could not be opened or read for now */
};

/* A directory that could not be opened or read: for now, unless it is gone. */
static void walk_failed(struct walk *w)
{
	if (lookup_of_errno(errno) == LOOKUP_AGAIN)
		w->again = true;
}

/* path (len bytes used of CGROUP_PATH_MAX) under the mount: found there or
 * below, path extended to it. */
static bool walk_find(int dirfd, uint64_t id, char *path, size_t len, int depth, struct walk *w)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	bool found = false;

	if (!d) {
		walk_failed(w);
		close(dirfd);
		return false;
	}
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.' || len + 1 + n >= CGROUP_PATH_MAX)
			continue;
		if (++w->dirs > WALK_DIRS_MAX)
			break;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		if (de->d_ino == id) {
			found = true;
			break;
		}
		if (depth >= WALK_DEPTH_MAX)
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			walk_failed(w);
		found = sub >= 0 && walk_find(sub, id, path, len + 1 + n, depth + 1, w);
	}
	closedir(d);
	if (!found)
		path[len] = '\0';
	return found;
}

static enum lookup walk_lookup(const char *root, uint64_t id, char path[CGROUP_PATH_MAX])
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct walk w = { 0 };
	struct stat st;

	path[0] = '\0';
	if (fd < 0)
		return lookup_of_errno(errno);
	if (!fstat(fd, &st) && st.st_ino == id) {
		close(fd);
		strcpy(path, "/");
		return LOOKUP_FOUND;
	}
	if (walk_find(fd, id, path, 0, 1, &w))
		return LOOKUP_FOUND;
	return w.again ? LOOKUP_AGAIN : LOOKUP_NONE;
}

bool cgroup__find_by_walk(const char *root, uint64_t id, char path[CGROUP_PATH_MAX])
{
	return walk_lookup(root, id, path) == LOOKUP_FOUND;
}

static enum lookup resolve(const struct cgroup_names *n, struct cgroup_name *c)
{
	int fd = open_by_id(n, c->id);
	enum lookup r;

	if (fd >= 0) {
		r = path_of_fd(n, fd, c->path, sizeof(c->path));
		close(fd);
	} else if (errno == EPERM || n->handle_type < 0) {
		r = walk_lookup(n->mount, c->id, c->path);
	} else {
		r = lookup_of_errno(errno);
	}
	c->found = r == LOOKUP_FOUND;
	if (!c->found)
		c->path[0] = '\0';
	c->has_container = c->found && cgroup__container(c->path, &c->container);
	return r;
}

/* A failed lookup's next chance: 100 ms after the first, doubling. */
#define RETRY_FIRST_NS 100000000ULL

static void lookup_now(struct cgroup_names *n, struct cgroup_name *c, uint64_t now)
{
	if (resolve(n, c) != LOOKUP_AGAIN) {
		c->settled = true;
		return;
	}
	n->stats.transient++;
	if (++c->tries >= CGROUP_LOOKUP_TRIES) {
		c->settled = true;	/* bounded: unnamed for the run */
		n->stats.given_up++;
		return;
	}
	c->retry_ns = now + (RETRY_FIRST_NS << (c->tries - 1));
}

const struct cgroup_name *cgroup_names__get(struct cgroup_names *n, uint64_t id)
{
	struct cgroup_name *c;
	uint64_t now;

	if (!n || !id)
		return NULL;
	c = &n->slot[cgroup_names__slot(id)];
	if (c->id == id && c->settled)
		return c;
	if (n->mount_fd < 0)
		return c->id == id ? c : NULL;	/* offline: only what was put */
	now = clock__mono_now();
	if (c->id == id && now < c->retry_ns)
		return c;	/* unnamed until its next try */
	if (c->id != id) {
		c->id = id;
		c->tries = 0;
	}
	lookup_now(n, c, now);
	return c;
}

struct cgroup_lookup_stats cgroup_names__stats(const struct cgroup_names *n)
{
	struct cgroup_lookup_stats none = { 0 };

	return n ? n->stats : none;
}

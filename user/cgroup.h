/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Cgroups of sockets' owners: the cgroup v2 id the kernel records
 * (bpf_get_current_cgroup_id()) to its path under the cgroup2 mount, and the
 * container (or systemd service) that path names. The parsers are pure;
 * cgroup_names looks paths up in the file system and keeps them in a
 * bounded cache. */
#ifndef CGROUP_H
#define CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Paths longer than this are not resolved (null); with JSON's escapes a
 * record line stays within EVENT_JSON_MAX. */
#define CGROUP_PATH_MAX 400
/* A container id (64 hex digits), a pod uid, a service name (cut). */
#define CGROUP_CONTAINER_MAX 72

enum cgroup_runtime {
	CGROUP_RT_NONE = 0,
	CGROUP_RT_DOCKER,	/* docker-<id>.scope, /docker/<id> */
	CGROUP_RT_CONTAINERD,	/* cri-containerd-<id>.scope */
	CGROUP_RT_CRIO,		/* crio-<id>.scope */
	CGROUP_RT_KUBEPODS,	/* a container directly under a pod, or the pod */
	CGROUP_RT_SERVICE,	/* <name>.service */
};

struct cgroup_container {
	enum cgroup_runtime runtime;
	/* The container id; a pod's uid (with '-'); a service's unit name. */
	char id[CGROUP_CONTAINER_MAX];
};

/* The container the cgroup path names, the innermost one that matches
 * (a container's scope inside its pod's slice is the container). False,
 * and out emptied, when none does. Pure. */
bool cgroup__container(const char *path, struct cgroup_container *out);
/* The runtime's name: "docker", "containerd", "crio", "kubepods",
 * "service"; NULL for none. */
const char *cgroup__runtime_name(enum cgroup_runtime rt);

/* The first cgroup2 mount point in mountinfo text (proc(5)). 0, or -ENOENT
 * when there is none, -ENAMETOOLONG when it does not fit len. Pure. */
int cgroup__mount_parse(FILE *mountinfo, char *buf, size_t len);
/* The same from /proc/self/mountinfo. */
int cgroup__mount(char *buf, size_t len);

/* What one cgroup id stands for. */
struct cgroup_name {
	uint64_t id;			/* 0: free slot */
	bool found;			/* path is known */
	bool settled;			/* found, or known not to be: not looked up again */
	uint8_t tries;			/* lookups that failed for a passing reason */
	uint64_t retry_ns;		/* unsettled: not looked up again before this */
	bool has_container;
	char path[CGROUP_PATH_MAX];	/* under the cgroup2 root: "/", "/a/b" */
	struct cgroup_container container;
};

struct cgroup_names;

/* Look cgroups up under mount (a cgroup2 mount point; NULL: find it).
 * NULL on failure, with errno set (ENOENT: no cgroup2 mount). */
struct cgroup_names *cgroup_names__new(const char *mount);
/* Names that only know what cgroup_names__put() told them (a replay: the
 * recording's names, never this host's). NULL when out of memory. */
struct cgroup_names *cgroup_names__new_offline(void);
/* id names path (NULL: a path not found), from now on. */
void cgroup_names__put(struct cgroup_names *n, uint64_t id, const char *path);
/* The cache slot of id: ids with different slots never push each other
 * out (a recording's writer keeps its table alike). */
#define CGROUP_NAMES_SLOTS 1024
size_t cgroup_names__slot(uint64_t id);
void cgroup_names__free(struct cgroup_names *n);
/* Forget every name looked up or put: as new (the fuzz target reuses one,
 * not half a megabyte allocated per input). */
void cgroup_names__clear(struct cgroup_names *n);
/* What id stands for, from the cache or looked up now. Only a definitive
 * answer is kept for good: found, or no such cgroup (ESTALE from the file
 * handle: ids are never reused, and a removed cgroup stays removed). A
 * lookup that failed for a passing reason (out of descriptors or memory,
 * an interrupted call) leaves the id unnamed for now and is tried again on
 * a later call, after 100 ms, then 200, 400, ... up to CGROUP_LOOKUP_TRIES
 * lookups, then given up. NULL for id 0 or n NULL. Valid until the next
 * call. */
#define CGROUP_LOOKUP_TRIES 6
const struct cgroup_name *cgroup_names__get(struct cgroup_names *n, uint64_t id);
/* Lookups that failed for a passing reason; ids given up after
 * CGROUP_LOOKUP_TRIES of them (unnamed for the run). */
struct cgroup_lookup_stats {
	uint64_t transient;
	uint64_t given_up;
};
struct cgroup_lookup_stats cgroup_names__stats(const struct cgroup_names *n);
/* The path under root of the directory whose inode is id ("/" for root
 * itself), looked for at most 16 levels down and among 4096 directories:
 * the way without CAP_DAC_READ_SEARCH, which opening by handle needs. */
bool cgroup__find_by_walk(const char *root, uint64_t id, char path[CGROUP_PATH_MAX]);
/* A cgroup's id: its directory's inode on cgroup2 (path absolute, or
 * under the mount). 0 and errno when it is not a cgroup2 directory. */
uint64_t cgroup__id_of(const char *path);

#endif /* CGROUP_H */

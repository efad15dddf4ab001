/* Cgroups: find the hierarchies (cgroup v1 per-controller mounts, plus the unified one
 * of a hybrid host; or a pure v2 /sys/fs/cgroup), create the container's cgroup in
 * each, apply linux.resources, put processes in, read the OOM-kill counter, and
 * remove it all again (killing stragglers) at the end. */
#ifndef BERTH_CGROUPS_H
#define BERTH_CGROUPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

#define CGROUP_MAX_HIERARCHIES 16

struct cgroup_hierarchy {
	char *mountpoint;
	char *controllers; /* v1: "memory", "cpu,cpuacct", "name=systemd"; unified: "" */
	bool unified;
	char *path;        /* mountpoint + the container's cgroup path */
	bool created;
};

struct cgroups {
	bool pure_v2;
	char *relative_path; /* "/berth/<id>" */
	size_t count;
	struct cgroup_hierarchy hierarchies[CGROUP_MAX_HIERARCHIES];
};

/* Discover hierarchies and compute the container's paths (creates nothing). */
int cgroups_init(struct cgroups *cgroups, const char *cgroups_path, const char *container_id, struct shim_error *error);
int cgroups_create(struct cgroups *cgroups, const struct oci_resources *resources, struct shim_error *error);
/* Move the calling process (single-threaded) into every hierarchy's cgroup. v1 through
 * `tasks` with "0" (this thread): moving only the current thread skips the kernel's
 * global threadgroup lock, whose RCU grace period costs ~10 ms per start. The unified
 * hierarchy through cgroup.procs, unless skip_unified (the process was cloned straight
 * into it with CLONE_INTO_CGROUP, see cgroups_open_unified). */
int cgroups_enter_self(const struct cgroups *cgroups, bool skip_unified, struct shim_error *error);
/* An fd of the container's unified (cgroup2) directory for clone3(CLONE_INTO_CGROUP),
 * or -1 when there is none. */
int cgroups_open_unified(const struct cgroups *cgroups);
/* Join the unified cgroup through such an fd (works from any mount namespace). */
int cgroups_enter_unified_fd(int directory_fd, struct shim_error *error);
/* The kernel's OOM-kill counter of the container's memory cgroup (0 when unknown). */
uint64_t cgroups_oom_kill_count(const struct cgroups *cgroups);
/* Kill what is left inside and remove every directory created; never stops early. */
int cgroups_remove(struct cgroups *cgroups, struct shim_error *error);
/* Whether pid's cgroup (as the host sees it) is the container's cgroup. */
bool cgroups_contains_pid(const struct cgroups *cgroups, pid_t pid);

#endif

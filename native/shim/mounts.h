/* Mounts. Host side: the overlay rootfs (mount once, unmount at the end). Container
 * side, inside the new mount namespace: rootfs propagation and self-bind, the OCI
 * mounts in order (plus /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys when the
 * spec lists none), device nodes and /dev links, pivot_root, read-only root, masked
 * and read-only paths. Every destination is resolved inside the rootfs with
 * openat2(RESOLVE_IN_ROOT), so an image's symlinks cannot redirect a mount to the host. */
#ifndef BERTH_MOUNTS_H
#define BERTH_MOUNTS_H

#include <stdbool.h>

#include "cgroups.h"
#include "config.h"
#include "error.h"

/* Mount the overlay described by shim.json unless target is already a mount point.
 * *mounted tells whether this call mounted it. */
int mounts_mount_rootfs(const struct shim_config *shim, bool *mounted, struct shim_error *error);
int mounts_unmount_rootfs(const struct shim_config *shim, struct shim_error *error);

/* In the container's mount namespace, before pivot_root. */
int mounts_setup(const struct oci_config *config, const struct cgroups *cgroups, bool cgroup_namespace,
		 struct shim_error *error);
int mounts_pivot_root(const char *root, struct shim_error *error);
/* After pivot_root: rshared root if asked, read-only root. */
int mounts_finish_root(const struct oci_config *config, struct shim_error *error);
int mounts_mask_paths(const struct oci_config *config, struct shim_error *error);
int mounts_readonly_paths(const struct oci_config *config, struct shim_error *error);

#endif

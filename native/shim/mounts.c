/* Rootfs and container mounts (see mounts.h). */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "files.h"

#define FD_PATH_LENGTH 32

static void fd_path(int fd, char out[FD_PATH_LENGTH])
{
	snprintf(out, FD_PATH_LENGTH, "/proc/self/fd/%d", fd);
}

/* ---- host side: the overlay rootfs ---- */

static bool is_mount_point(const char *path)
{
	struct statx status;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &status) < 0)
		return false;
	return (status.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (status.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int mount_overlay_new_api(const struct shim_config *shim, struct shim_error *error)
{
	AUTO_FD context = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (context < 0)
		return error_set(error, errno, "fsopen overlay for %s", shim->target);
	for (size_t i = 0; i < shim->lowerdir_count; i++) {
		if (syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, "lowerdir+", shim->lowerdirs[i], 0) < 0)
			return error_set(error, errno, "overlay %s: lowerdir+ %s", shim->target, shim->lowerdirs[i]);
	}
	if (syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, "upperdir", shim->upperdir, 0) < 0)
		return error_set(error, errno, "overlay %s: upperdir %s", shim->target, shim->upperdir);
	if (syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, "workdir", shim->workdir, 0) < 0)
		return error_set(error, errno, "overlay %s: workdir %s", shim->target, shim->workdir);
	if (shim->rootfs_volatile && syscall(SYS_fsconfig, context, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
		return error_set(error, errno, "overlay %s: volatile", shim->target);
	if (syscall(SYS_fsconfig, context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return error_set(error, errno, "overlay %s: create", shim->target);
	AUTO_FD mount_fd = (int)syscall(SYS_fsmount, context, FSMOUNT_CLOEXEC, 0);
	if (mount_fd < 0)
		return error_set(error, errno, "fsmount overlay %s", shim->target);
	if (syscall(SYS_move_mount, mount_fd, "", AT_FDCWD, shim->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return error_set(error, errno, "move_mount overlay to %s", shim->target);
	return 0;
}

int mounts_mount_rootfs(const struct shim_config *shim, bool *mounted, struct shim_error *error)
{
	*mounted = false;
	if (!shim->upperdir)
		return 0;
	if (is_mount_point(shim->target))
		return 0;
	if (mkdir_parents(shim->upperdir, 0755, error) < 0 || mkdir_parents(shim->workdir, 0755, error) < 0 ||
	    mkdir_parents(shim->target, 0755, error) < 0)
		return -1;
	struct buf options;
	buf_init(&options);
	buf_append_string(&options, "lowerdir=");
	for (size_t i = 0; i < shim->lowerdir_count; i++) {
		if (i > 0)
			buf_append_char(&options, ':');
		buf_append_string(&options, shim->lowerdirs[i]);
	}
	buf_append_string(&options, ",upperdir=");
	buf_append_string(&options, shim->upperdir);
	buf_append_string(&options, ",workdir=");
	buf_append_string(&options, shim->workdir);
	if (shim->rootfs_volatile) {
		/* A volatile mount leaves work/incompat/volatile behind, and overlayfs refuses the next
		 * mount while it exists: the layer is disposable by request, so say so and go on. */
		char marker[PATH_MAX];
		if (snprintf(marker, sizeof marker, "%s/work/incompat/volatile/dirty", shim->workdir) < (int)sizeof marker) {
			(void)unlink(marker);
			marker[strlen(marker) - strlen("/dirty")] = '\0';
			(void)rmdir(marker);
		}
		buf_append_string(&options, ",volatile");
	}
	if (options.failed) {
		buf_free(&options);
		return error_set(error, ENOMEM, "mount overlay %s", shim->target);
	}
	int result;
	long page = sysconf(_SC_PAGESIZE);
	if ((long)options.length < page - 1) {
		result = mount("overlay", shim->target, "overlay", 0, options.data);
		if (result < 0)
			error_set(error, errno, "mount overlay on %s", shim->target);
	} else {
		/* Too many layers for one page of mount data: add them one by one (Linux 6.8+). */
		result = mount_overlay_new_api(shim, error);
	}
	buf_free(&options);
	if (result < 0)
		return -1;
	*mounted = true;
	return 0;
}

int mounts_unmount_rootfs(const struct shim_config *shim, struct shim_error *error)
{
	if (!shim->upperdir)
		return 0;
	for (int attempt = 0; attempt < 50; attempt++) {
		if (umount2(shim->target, UMOUNT_NOFOLLOW) == 0)
			continue; /* unmount stacked copies too, until none is left */
		if (errno == EINVAL || errno == ENOENT)
			return 0; /* not a mount point (any more) */
		if (errno != EBUSY)
			return error_set(error, errno, "umount %s", shim->target);
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (umount2(shim->target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
		return error_set(error, errno, "umount %s", shim->target);
	return 0;
}

/* ---- container side ---- */

static int openat2_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

/* Open path inside root, creating missing parents (directories) and the last component
 * (a directory, or an empty file when !directory). Returns an O_PATH fd or -1. */
static int make_target(int root_fd, const char *path, bool directory, struct shim_error *error)
{
	char prefix[PATH_MAX];
	size_t used = 0;
	int parent = openat2_in_root(root_fd, "/", O_PATH);
	if (parent < 0)
		return error_set(error, errno, "open rootfs");
	const char *cursor = path;
	for (;;) {
		while (*cursor == '/')
			cursor++;
		if (!*cursor)
			break;
		size_t length = strcspn(cursor, "/");
		const char *rest = cursor + length;
		while (*rest == '/')
			rest++;
		bool last = *rest == '\0';
		if (used + length + 2 > sizeof prefix) {
			close(parent);
			return error_setx(error, "mount target %s: path too long", path);
		}
		prefix[used++] = '/';
		memcpy(prefix + used, cursor, length);
		used += length;
		prefix[used] = '\0';
		char component[NAME_MAX + 1];
		if (length > NAME_MAX) {
			close(parent);
			return error_setx(error, "mount target %s: name too long", path);
		}
		memcpy(component, cursor, length);
		component[length] = '\0';
		if (strcmp(component, "..") == 0 || strcmp(component, ".") == 0) {
			cursor = rest;
			int reopened = openat2_in_root(root_fd, prefix, O_PATH);
			if (reopened < 0) {
				close(parent);
				return error_set(error, errno, "open %s in rootfs", prefix);
			}
			close(parent);
			parent = reopened;
			continue;
		}
		int next = openat2_in_root(root_fd, prefix, O_PATH);
		if (next < 0 && errno == ENOENT) {
			if (last && !directory) {
				int created = openat(parent, component, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0755);
				if (created < 0 && errno != EEXIST) {
					int saved = errno;
					close(parent);
					return error_set(error, saved, "create %s in rootfs", prefix);
				}
				if (created >= 0)
					close(created);
			} else if (mkdirat(parent, component, 0755) < 0 && errno != EEXIST) {
				int saved = errno;
				close(parent);
				return error_set(error, saved, "mkdir %s in rootfs", prefix);
			}
			next = openat2_in_root(root_fd, prefix, O_PATH);
		}
		if (next < 0) {
			int saved = errno;
			close(parent);
			return error_set(error, saved, "open %s in rootfs", prefix);
		}
		close(parent);
		parent = next;
		cursor = rest;
	}
	return parent;
}

struct mount_context {
	const struct oci_config *config;
	const struct cgroups *cgroups;
	bool cgroup_namespace;
	int root_fd;
};

static int apply_propagation(const struct mount_context *context, const struct oci_mount *entry,
			     struct shim_error *error)
{
	if (entry->propagation_count == 0)
		return 0;
	AUTO_FD fd = openat2_in_root(context->root_fd, entry->destination, O_PATH);
	if (fd < 0)
		return error_set(error, errno, "open %s in rootfs", entry->destination);
	char target[FD_PATH_LENGTH];
	fd_path(fd, target);
	for (size_t i = 0; i < entry->propagation_count; i++) {
		if (mount(NULL, target, NULL, entry->propagation[i], NULL) < 0)
			return error_set(error, errno, "set propagation of %s", entry->destination);
	}
	return 0;
}

static int remount_flags(const struct mount_context *context, const char *destination, unsigned long flags,
			 struct shim_error *error)
{
	AUTO_FD fd = openat2_in_root(context->root_fd, destination, O_PATH);
	if (fd < 0)
		return error_set(error, errno, "open %s in rootfs", destination);
	char target[FD_PATH_LENGTH];
	fd_path(fd, target);
	if (mount(NULL, target, NULL, flags | MS_REMOUNT, NULL) < 0)
		return error_set(error, errno, "remount %s", destination);
	return 0;
}

static const unsigned long extra_flag_mask = ~(unsigned long)(MS_REC | MS_REMOUNT | MS_BIND);

static int mount_bind(const struct mount_context *context, const struct oci_mount *entry, struct shim_error *error)
{
	struct stat source;
	if (stat(entry->source, &source) < 0)
		return error_set(error, errno, "bind mount %s: stat source %s", entry->destination, entry->source);
	AUTO_FD fd = make_target(context->root_fd, entry->destination, S_ISDIR(source.st_mode), error);
	if (fd < 0)
		return error_wrap(error, "bind mount %s", entry->destination);
	char target[FD_PATH_LENGTH];
	fd_path(fd, target);
	if (mount(entry->source, target, NULL, entry->flags & (MS_BIND | MS_REC), NULL) < 0)
		return error_set(error, errno, "bind mount %s on %s", entry->source, entry->destination);
	if ((entry->flags & extra_flag_mask) &&
	    remount_flags(context, entry->destination, entry->flags & ~(unsigned long)MS_REC, error) < 0)
		return -1;
	return apply_propagation(context, entry, error);
}

static int mount_filesystem(const struct mount_context *context, const struct oci_mount *entry,
			    struct shim_error *error)
{
	AUTO_FD fd = make_target(context->root_fd, entry->destination, true, error);
	if (fd < 0)
		return error_wrap(error, "mount %s", entry->destination);
	char target[FD_PATH_LENGTH];
	fd_path(fd, target);
	unsigned long flags = entry->flags;
	/* /dev is remounted read-only (if asked) only after the device nodes exist. */
	if (strcmp(entry->destination, "/dev") == 0)
		flags &= ~(unsigned long)MS_RDONLY;
	if (mount(entry->source, target, entry->type, flags, entry->data && entry->data[0] ? entry->data : NULL) < 0)
		return error_set(error, errno, "mount %s (%s) on %s", entry->source, entry->type, entry->destination);
	return apply_propagation(context, entry, error);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A "cgroup" mount: the container's own cgroups, as runc presents them. */
static int mount_cgroup(const struct mount_context *context, const struct oci_mount *entry, struct shim_error *error)
{
	const struct cgroups *cgroups = context->cgroups;
	if (cgroups->pure_v2) {
		struct oci_mount v2 = *entry;
		if (context->cgroup_namespace) {
			v2.source = "cgroup2";
			v2.type = "cgroup2";
			v2.data = NULL;
			return mount_filesystem(context, &v2, error);
		}
		v2.source = cgroups->hierarchies[0].path;
		v2.flags |= MS_BIND | MS_REC;
		return mount_bind(context, &v2, error);
	}
	struct oci_mount tmpfs = {
		.destination = entry->destination, .source = "tmpfs", .type = "tmpfs",
		.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC, .data = "mode=755",
	};
	if (mount_filesystem(context, &tmpfs, error) < 0)
		return -1;
	for (size_t i = 0; i < cgroups->count; i++) {
		const struct cgroup_hierarchy *hierarchy = &cgroups->hierarchies[i];
		if (hierarchy->unified)
			continue;
		char destination[PATH_MAX];
		const char *name = base_name(hierarchy->mountpoint);
		snprintf(destination, sizeof destination, "%s/%s", entry->destination, name);
		struct oci_mount sub = { .destination = destination };
		int result;
		if (context->cgroup_namespace) {
			sub.source = "cgroup";
			sub.type = "cgroup";
			sub.flags = (entry->flags & ~(unsigned long)(MS_BIND | MS_REC)) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
			sub.data = hierarchy->controllers;
			result = mount_filesystem(context, &sub, error);
		} else {
			sub.source = hierarchy->path;
			sub.type = "bind";
			sub.flags = entry->flags | MS_BIND | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC;
			result = mount_bind(context, &sub, error);
		}
		if (result < 0)
			return -1;
		/* "cpu,cpuacct" is also reachable as "cpu" and "cpuacct". */
		if (strchr(name, ',')) {
			AUTO_FD directory = openat2_in_root(context->root_fd, entry->destination, O_PATH | O_DIRECTORY);
			char copy[256];
			snprintf(copy, sizeof copy, "%s", name);
			char *save = NULL;
			for (char *part = strtok_r(copy, ",", &save); directory >= 0 && part; part = strtok_r(NULL, ",", &save)) {
				if (symlinkat(name, directory, part) < 0 && errno != EEXIST)
					return error_set(error, errno, "symlink %s/%s", entry->destination, part);
			}
		}
	}
	/* As runc (and so Docker) leave it: the tmpfs stays writable, each hierarchy below is
	 * bound read-only when the mount asks for ro. */
	return 0;
}

static int mount_one(const struct mount_context *context, const struct oci_mount *entry, struct shim_error *error)
{
	if (strcmp(entry->type, "cgroup") == 0)
		return mount_cgroup(context, entry, error);
	if (entry->flags & MS_BIND)
		return mount_bind(context, entry, error);
	return mount_filesystem(context, entry, error);
}

struct default_mount {
	const char *destination, *type;
	const char *const *options;
	size_t option_count;
};

static const char *const proc_options[] = { "nosuid", "noexec", "nodev" };
static const char *const dev_options[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
static const char *const pts_options[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" };
static const char *const shm_options[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" };
static const char *const mqueue_options[] = { "nosuid", "noexec", "nodev" };
static const char *const sys_options[] = { "nosuid", "noexec", "nodev", "ro" };

static const struct default_mount default_mounts[] = {
	{ "/proc", "proc", proc_options, 3 },
	{ "/dev", "tmpfs", dev_options, 4 },
	{ "/dev/pts", "devpts", pts_options, 6 },
	{ "/dev/shm", "tmpfs", shm_options, 5 },
	{ "/dev/mqueue", "mqueue", mqueue_options, 3 },
	{ "/sys", "sysfs", sys_options, 4 },
};

static bool path_is_under(const char *path, const char *parent)
{
	size_t length = strlen(parent);
	return strncmp(path, parent, length) == 0 && path[length] == '/';
}

/* The spec's mounts, with each missing standard mount inserted after the last mount
 * that is its parent (so /dev/pts lands on the spec's /dev), else at the front. */
static int build_mount_list(const struct oci_config *config, struct oci_mount **out, size_t *count,
			    struct shim_error *error)
{
	size_t capacity = config->mount_count + sizeof default_mounts / sizeof default_mounts[0];
	struct oci_mount *list = calloc(capacity, sizeof *list);
	if (!list)
		return error_set(error, ENOMEM, "mount list");
	memcpy(list, config->mounts, config->mount_count * sizeof *list);
	size_t used = config->mount_count;
	size_t front = 0;
	for (size_t i = 0; i < sizeof default_mounts / sizeof default_mounts[0]; i++) {
		const struct default_mount *wanted = &default_mounts[i];
		bool present = false;
		for (size_t j = 0; j < used; j++)
			present |= strcmp(list[j].destination, wanted->destination) == 0;
		if (present)
			continue;
		struct oci_mount entry = { .destination = (char *)wanted->destination, .source = (char *)wanted->type,
					   .type = (char *)wanted->type, .is_default = true };
		if (mount_parse_options(&entry, wanted->options, wanted->option_count, error) < 0) {
			free(list);
			return -1;
		}
		size_t position = front;
		for (size_t j = 0; j < used; j++) {
			if (path_is_under(wanted->destination, list[j].destination) && j + 1 > position)
				position = j + 1;
		}
		if (position == front)
			front++;
		memmove(&list[position + 1], &list[position], (used - position) * sizeof *list);
		list[position] = entry;
		used++;
	}
	*out = list;
	*count = used;
	return 0;
}

struct device_node {
	const char *name;
	unsigned major, minor;
};

static const struct device_node default_devices[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static int create_device(const struct mount_context *context, const char *path, char type, unsigned major,
			 unsigned minor, mode_t mode, uid_t uid, gid_t gid, struct shim_error *error)
{
	const char *slash = strrchr(path, '/');
	char directory[PATH_MAX];
	snprintf(directory, sizeof directory, "%.*s", (int)(slash - path), path);
	AUTO_FD parent = make_target(context->root_fd, directory, true, error);
	if (parent < 0)
		return error_wrap(error, "device %s", path);
	mode_t file_type = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	unlinkat(parent, slash + 1, 0);
	if (mknodat(parent, slash + 1, file_type | (mode & 07777), makedev(major, minor)) == 0) {
		if (fchownat(parent, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return error_set(error, errno, "chown device %s", path);
		return 0;
	}
	if (errno != EPERM)
		return error_set(error, errno, "mknod %s", path);
	/* Not allowed to create device nodes here: bind the host's node instead. */
	int file = openat(parent, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (file < 0)
		return error_set(error, errno, "create %s", path);
	close(file);
	AUTO_FD target_fd = openat2_in_root(context->root_fd, path, O_PATH);
	if (target_fd < 0)
		return error_set(error, errno, "open %s in rootfs", path);
	char target[FD_PATH_LENGTH];
	fd_path(target_fd, target);
	if (mount(path, target, NULL, MS_BIND, NULL) < 0)
		return error_set(error, errno, "bind mount device %s", path);
	return 0;
}

static int setup_devices(const struct mount_context *context, struct shim_error *error)
{
	const struct oci_config *config = context->config;
	for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++) {
		char path[32];
		snprintf(path, sizeof path, "/dev/%s", default_devices[i].name);
		bool overridden = false;
		for (size_t j = 0; j < config->device_count; j++)
			overridden |= strcmp(config->devices[j].path, path) == 0;
		if (overridden)
			continue;
		if (create_device(context, path, 'c', default_devices[i].major, default_devices[i].minor, 0666, 0, 0,
				  error) < 0)
			return -1;
	}
	for (size_t i = 0; i < config->device_count; i++) {
		const struct oci_device *device = &config->devices[i];
		if (create_device(context, device->path, device->type == 'u' ? 'c' : device->type, (unsigned)device->major,
				  (unsigned)device->minor, device->has_mode ? device->mode : 0666, device->uid, device->gid,
				  error) < 0)
			return -1;
	}
	AUTO_FD dev = openat2_in_root(context->root_fd, "/dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		return error_set(error, errno, "open /dev in rootfs");
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
	};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			return error_set(error, errno, "symlink /dev/%s", links[i][1]);
	}
	if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev, "core") < 0 && errno != EEXIST)
		return error_set(error, errno, "symlink /dev/core");
	unlinkat(dev, "ptmx", 0);
	if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
		return error_set(error, errno, "symlink /dev/ptmx");
	return 0;
}

int mounts_setup(const struct oci_config *config, const struct cgroups *cgroups, bool cgroup_namespace,
		 struct shim_error *error)
{
	unsigned long propagation = config->rootfs_propagation ? config->rootfs_propagation : MS_PRIVATE | MS_REC;
	/* pivot_root refuses a shared root: stay slave until after it, then share. */
	if (propagation & MS_SHARED)
		propagation = MS_SLAVE | MS_REC;
	if (mount(NULL, "/", NULL, propagation | MS_REC, NULL) < 0)
		return error_set(error, errno, "make / %s", (propagation & MS_SLAVE) ? "rslave" : "rprivate");
	if (mount(config->root_path, config->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return error_set(error, errno, "bind mount rootfs %s", config->root_path);
	AUTO_FD root_fd = open(config->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return error_set(error, errno, "open rootfs %s", config->root_path);
	struct mount_context context = { .config = config, .cgroups = cgroups, .cgroup_namespace = cgroup_namespace,
					 .root_fd = root_fd };
	struct oci_mount *mounts = NULL;
	size_t count = 0;
	if (build_mount_list(config, &mounts, &count, error) < 0)
		return -1;
	mode_t previous_umask = umask(0);
	int result = 0;
	bool dev_is_bind = false;
	const struct oci_mount *dev_mount = NULL;
	for (size_t i = 0; i < count && result == 0; i++) {
		result = mount_one(&context, &mounts[i], error);
		if (strcmp(mounts[i].destination, "/dev") == 0) {
			dev_is_bind = (mounts[i].flags & MS_BIND) != 0;
			dev_mount = &mounts[i];
		}
	}
	if (result == 0 && !dev_is_bind)
		result = setup_devices(&context, error);
	if (result == 0 && dev_mount && !dev_is_bind && (dev_mount->flags & MS_RDONLY))
		result = remount_flags(&context, "/dev", (dev_mount->flags & ~(unsigned long)MS_REC) | MS_BIND, error);
	if (result == 0) {
		/* Docker and runc create a missing working directory. */
		int cwd = make_target(root_fd, config->process.cwd, true, error);
		if (cwd < 0)
			result = error_wrap(error, "cwd %s", config->process.cwd);
		else
			close(cwd);
	}
	umask(previous_umask);
	for (size_t i = 0; i < count; i++) {
		if (mounts[i].is_default)
			free(mounts[i].data);
	}
	free(mounts);
	return result;
}

int mounts_pivot_root(const char *root, struct shim_error *error)
{
	AUTO_FD new_root = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (new_root < 0)
		return error_set(error, errno, "open rootfs %s", root);
	if (fchdir(new_root) < 0)
		return error_set(error, errno, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return error_set(error, errno, "pivot_root %s", root);
	/* The old root is now stacked under "."; detach it without propagating to the host. */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return error_set(error, errno, "make the old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return error_set(error, errno, "detach the old root");
	if (chdir("/") < 0)
		return error_set(error, errno, "chdir /");
	return 0;
}

int mounts_finish_root(const struct oci_config *config, struct shim_error *error)
{
	if (config->rootfs_propagation & MS_SHARED) {
		if (mount(NULL, "/", NULL, config->rootfs_propagation, NULL) < 0)
			return error_set(error, errno, "make / shared");
	}
	if (!config->root_readonly)
		return 0;
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0)
		return 0;
	struct statfs filesystem;
	if (statfs("/", &filesystem) < 0)
		return error_set(error, errno, "statfs /");
	if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (unsigned long)filesystem.f_flags, NULL) < 0)
		return error_set(error, errno, "remount / read-only");
	return 0;
}

int mounts_mask_paths(const struct oci_config *config, struct shim_error *error)
{
	for (size_t i = 0; i < config->masked_path_count; i++) {
		const char *path = config->masked_paths[i];
		if (mount("/dev/null", path, NULL, MS_BIND, NULL) == 0 || errno == ENOENT)
			continue;
		if (errno != ENOTDIR)
			return error_set(error, errno, "mask %s", path);
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
			return error_set(error, errno, "mask directory %s", path);
	}
	return 0;
}

int mounts_readonly_paths(const struct oci_config *config, struct shim_error *error)
{
	for (size_t i = 0; i < config->readonly_path_count; i++) {
		const char *path = config->readonly_paths[i];
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return error_set(error, errno, "bind %s read-only", path);
		}
		struct statfs filesystem;
		if (statfs(path, &filesystem) < 0)
			return error_set(error, errno, "statfs %s", path);
		unsigned long kept = (unsigned long)filesystem.f_flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
		if (mount(path, path, NULL, kept | MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return error_set(error, errno, "remount %s read-only", path);
	}
	return 0;
}

/* Cgroup v1 / v2 management (see cgroups.h). */
#include "cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *const known_controllers[] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
	"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc",
};

static bool is_controller_option(const char *option)
{
	if (strncmp(option, "name=", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof known_controllers / sizeof known_controllers[0]; i++) {
		if (strcmp(known_controllers[i], option) == 0)
			return true;
	}
	return false;
}

/* Mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_mountinfo(char *text)
{
	char *out = text;
	for (char *in = text; *in; in++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
		    in[3] <= '7') {
			*out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
			in += 3;
		} else {
			*out++ = *in;
		}
	}
	*out = '\0';
}

static int add_hierarchy(struct cgroups *cgroups, const char *mountpoint, const char *controllers, bool unified,
			 struct shim_error *error)
{
	if (cgroups->count == CGROUP_MAX_HIERARCHIES)
		return 0;
	struct cgroup_hierarchy *hierarchy = &cgroups->hierarchies[cgroups->count];
	hierarchy->mountpoint = strdup(mountpoint);
	hierarchy->controllers = strdup(controllers);
	hierarchy->unified = unified;
	hierarchy->path = path_join(mountpoint, cgroups->relative_path);
	if (!hierarchy->mountpoint || !hierarchy->controllers || !hierarchy->path)
		return error_set(error, ENOMEM, "cgroups");
	cgroups->count++;
	return 0;
}

static int discover_v1(struct cgroups *cgroups, struct shim_error *error)
{
	FILE *mountinfo = fopen("/proc/self/mountinfo", "re");
	if (!mountinfo)
		return error_set(error, errno, "open /proc/self/mountinfo");
	char line[4096];
	char seen_devices[CGROUP_MAX_HIERARCHIES][32];
	size_t seen = 0;
	int result = 0;
	while (fgets(line, sizeof line, mountinfo)) {
		/* id parent major:minor root mountpoint options [optional...] - fstype source superoptions */
		char *fields[6] = { 0 };
		char *cursor = line, *save = NULL;
		for (int i = 0; i < 5; i++) {
			fields[i] = strtok_r(i == 0 ? cursor : NULL, " ", &save);
			if (!fields[i])
				break;
		}
		if (!fields[4])
			continue;
		char *separator = strstr(save ? save : "", " - ");
		if (!separator)
			continue;
		char *fstype = strtok_r(separator + 3, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		char *super_options = strtok_r(NULL, " \n", &save);
		if (!fstype || !super_options)
			continue;
		bool unified = strcmp(fstype, "cgroup2") == 0;
		if (!unified && strcmp(fstype, "cgroup") != 0)
			continue;
		bool duplicate = false;
		for (size_t i = 0; i < seen; i++)
			duplicate |= strcmp(seen_devices[i], fields[2]) == 0;
		if (duplicate || seen == CGROUP_MAX_HIERARCHIES)
			continue;
		snprintf(seen_devices[seen++], sizeof seen_devices[0], "%s", fields[2]);
		char controllers[256] = "";
		if (!unified) {
			char *option_save = NULL;
			for (char *option = strtok_r(super_options, ",", &option_save); option;
			     option = strtok_r(NULL, ",", &option_save)) {
				if (!is_controller_option(option))
					continue;
				if (controllers[0])
					strncat(controllers, ",", sizeof controllers - strlen(controllers) - 1);
				strncat(controllers, option, sizeof controllers - strlen(controllers) - 1);
			}
			if (!controllers[0])
				continue;
		}
		unescape_mountinfo(fields[4]);
		if (add_hierarchy(cgroups, fields[4], controllers, unified, error) < 0) {
			result = -1;
			break;
		}
	}
	fclose(mountinfo);
	return result;
}

int cgroups_init(struct cgroups *cgroups, const char *cgroups_path, const char *container_id, struct shim_error *error)
{
	memset(cgroups, 0, sizeof *cgroups);
	char relative[4096];
	if (cgroups_path && cgroups_path[0]) {
		if (strchr(cgroups_path, ':'))
			return error_setx(error, "cgroupsPath %s: systemd cgroup paths are not supported", cgroups_path);
		if (strstr(cgroups_path, "/../") || strncmp(cgroups_path, "../", 3) == 0 ||
		    (strlen(cgroups_path) >= 3 && strcmp(cgroups_path + strlen(cgroups_path) - 3, "/..") == 0) ||
		    strcmp(cgroups_path, "..") == 0)
			return error_setx(error, "cgroupsPath %s: must not contain ..", cgroups_path);
		snprintf(relative, sizeof relative, "%s%s", cgroups_path[0] == '/' ? "" : "/", cgroups_path);
	} else {
		snprintf(relative, sizeof relative, "/berth/%s", container_id);
	}
	if (strcmp(relative, "/") == 0)
		return error_setx(error, "cgroupsPath %s: must name a cgroup below the root", cgroups_path);
	cgroups->relative_path = strdup(relative);
	if (!cgroups->relative_path)
		return error_set(error, ENOMEM, "cgroups");
	struct statfs filesystem;
	if (statfs("/sys/fs/cgroup", &filesystem) == 0 && filesystem.f_type == CGROUP2_SUPER_MAGIC) {
		cgroups->pure_v2 = true;
		return add_hierarchy(cgroups, "/sys/fs/cgroup", "", true, error);
	}
	return discover_v1(cgroups, error);
}

static bool has_controller(const struct cgroup_hierarchy *hierarchy, const char *controller)
{
	size_t length = strlen(controller);
	for (const char *cursor = hierarchy->controllers; *cursor;) {
		const char *comma = strchr(cursor, ',');
		size_t item = comma ? (size_t)(comma - cursor) : strlen(cursor);
		if (item == length && strncmp(cursor, controller, length) == 0)
			return true;
		cursor += item + (comma ? 1 : 0);
	}
	return false;
}

static const struct cgroup_hierarchy *find_hierarchy(const struct cgroups *cgroups, const char *controller)
{
	for (size_t i = 0; i < cgroups->count; i++) {
		if (cgroups->pure_v2 || has_controller(&cgroups->hierarchies[i], controller))
			return &cgroups->hierarchies[i];
	}
	return NULL;
}

static int write_value(const char *directory, const char *file, const char *value, struct shim_error *error)
{
	AUTO_FREE char *path = path_join(directory, file);
	if (!path)
		return error_set(error, ENOMEM, "cgroup %s", file);
	return file_write_string(path, value, error);
}

static int write_int(const char *directory, const char *file, int64_t value, struct shim_error *error)
{
	char text[32];
	snprintf(text, sizeof text, "%" PRId64, value);
	return write_value(directory, file, text, error);
}

static bool file_exists(const char *directory, const char *file)
{
	AUTO_FREE char *path = path_join(directory, file);
	return path && access(path, F_OK) == 0;
}

/* A fresh v1 cpuset cgroup has empty cpus/mems and refuses tasks: copy the parent's. */
static int cpuset_inherit(const char *directory, struct shim_error *error)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < 2; i++) {
		char value[4096], parent_value[4096];
		AUTO_FREE char *path = path_join(directory, files[i]);
		AUTO_FREE char *parent = strdup(directory);
		if (!path || !parent)
			return error_set(error, ENOMEM, "cgroup cpuset");
		char *slash = strrchr(parent, '/');
		if (!slash)
			continue;
		*slash = '\0';
		AUTO_FREE char *parent_path = path_join(parent, files[i]);
		if (!parent_path)
			return error_set(error, ENOMEM, "cgroup cpuset");
		if (file_read_small(path, value, sizeof value, error) < 0)
			return -1;
		if (value[0] != '\n' && value[0] != '\0')
			continue;
		if (file_read_small(parent_path, parent_value, sizeof parent_value, error) < 0)
			return -1;
		parent_value[strcspn(parent_value, "\n")] = '\0';
		if (parent_value[0] && file_write_string(path, parent_value, error) < 0)
			return -1;
	}
	return 0;
}

static int enable_v2_controllers(const char *directory, struct shim_error *error)
{
	static const char *const wanted[] = { "cpu", "cpuset", "memory", "pids", "io" };
	char available[1024];
	AUTO_FREE char *controllers_path = path_join(directory, "cgroup.controllers");
	if (!controllers_path)
		return error_set(error, ENOMEM, "cgroup");
	if (file_read_small(controllers_path, available, sizeof available, error) < 0)
		return -1;
	for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
		char padded[1040], needle[32], change[32];
		snprintf(padded, sizeof padded, " %s ", available);
		padded[strcspn(padded, "\n")] = ' ';
		snprintf(needle, sizeof needle, " %s ", wanted[i]);
		if (!strstr(padded, needle))
			continue;
		snprintf(change, sizeof change, "+%s", wanted[i]);
		struct shim_error ignored = { 0 };
		/* Best effort: a controller that cannot be enabled is reported when a limit needs it. */
		write_value(directory, "cgroup.subtree_control", change, &ignored);
	}
	return 0;
}

/* mkdir each component of the container's path below mountpoint; only the last is "created" by us. */
static int make_directories(struct cgroups *cgroups, struct cgroup_hierarchy *hierarchy, struct shim_error *error)
{
	char path[4096];
	snprintf(path, sizeof path, "%s", hierarchy->mountpoint);
	const char *cursor = cgroups->relative_path;
	while (*cursor) {
		while (*cursor == '/')
			cursor++;
		if (!*cursor)
			break;
		size_t length = strcspn(cursor, "/");
		bool last = cursor[length] == '\0' || strspn(cursor + length, "/") == strlen(cursor + length);
		if (cgroups->pure_v2 && enable_v2_controllers(path, error) < 0)
			return -1;
		size_t used = strlen(path);
		if (used + length + 2 > sizeof path)
			return error_setx(error, "cgroup %s: path too long", hierarchy->path);
		snprintf(path + used, sizeof path - used, "/%.*s", (int)length, cursor);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return error_set(error, errno, "mkdir cgroup %s", path);
		/* The leaf is ours to remove, also when a crashed shim left it behind. */
		if (last)
			hierarchy->created = true;
		if (!cgroups->pure_v2 && has_controller(hierarchy, "cpuset") && cpuset_inherit(path, error) < 0)
			return -1;
		cursor += length;
	}
	return 0;
}

static int apply_memory_v1(const char *directory, const struct oci_resources *resources, struct shim_error *error)
{
	if (resources->memory_limit != UNSET_INT64) {
		bool swap_wanted = resources->memory_swap != UNSET_INT64 && resources->memory_swap != 0;
		struct shim_error first = { 0 };
		if (write_int(directory, "memory.limit_in_bytes", resources->memory_limit, &first) < 0) {
			/* The new limit may be above the current memory+swap limit: raise that first. */
			if (!swap_wanted || !file_exists(directory, "memory.memsw.limit_in_bytes")) {
				*error = first;
				return -1;
			}
			if (write_int(directory, "memory.memsw.limit_in_bytes", resources->memory_swap, error) < 0 ||
			    write_int(directory, "memory.limit_in_bytes", resources->memory_limit, error) < 0)
				return -1;
		} else if (swap_wanted) {
			if (file_exists(directory, "memory.memsw.limit_in_bytes")) {
				if (write_int(directory, "memory.memsw.limit_in_bytes", resources->memory_swap, error) < 0)
					return -1;
			} else if (resources->memory_swap > 0) {
				return error_setx(error, "cgroup %s: memory+swap limit requested but swap accounting is off",
						  directory);
			}
		}
	}
	if (resources->memory_reservation != UNSET_INT64 &&
	    write_int(directory, "memory.soft_limit_in_bytes", resources->memory_reservation, error) < 0)
		return -1;
	if (resources->memory_swappiness != UNSET_INT64 && resources->memory_swappiness >= 0 &&
	    resources->memory_swappiness <= 100 &&
	    write_int(directory, "memory.swappiness", resources->memory_swappiness, error) < 0)
		return -1;
	if (resources->disable_oom_killer && write_value(directory, "memory.oom_control", "1", error) < 0)
		return -1;
	return 0;
}

static void device_rule_text(const struct oci_device_rule *rule, char *out, size_t size)
{
	char major[24] = "*", minor[24] = "*";
	if (rule->major >= 0)
		snprintf(major, sizeof major, "%" PRId64, rule->major);
	if (rule->minor >= 0)
		snprintf(minor, sizeof minor, "%" PRId64, rule->minor);
	if (rule->type == 'a')
		snprintf(out, size, "a");
	else
		snprintf(out, size, "%c %s:%s %s", rule->type, major, minor, rule->access);
}

static int apply_v1(struct cgroups *cgroups, const struct oci_resources *resources, struct shim_error *error)
{
	const struct cgroup_hierarchy *memory = find_hierarchy(cgroups, "memory");
	const struct cgroup_hierarchy *cpu = find_hierarchy(cgroups, "cpu");
	const struct cgroup_hierarchy *cpuset = find_hierarchy(cgroups, "cpuset");
	const struct cgroup_hierarchy *pids = find_hierarchy(cgroups, "pids");
	const struct cgroup_hierarchy *devices = find_hierarchy(cgroups, "devices");
	bool wants_memory = resources->memory_limit != UNSET_INT64 || resources->memory_reservation != UNSET_INT64 ||
			    resources->disable_oom_killer;
	if (wants_memory && !memory)
		return error_setx(error, "cgroup: memory limits requested but the memory controller is not mounted");
	if (memory && apply_memory_v1(memory->path, resources, error) < 0)
		return -1;
	bool wants_cpu = resources->cpu_shares != UNSET_INT64 || resources->cpu_quota != UNSET_INT64 ||
			 resources->cpu_period != UNSET_INT64;
	if (wants_cpu && !cpu)
		return error_setx(error, "cgroup: CPU limits requested but the cpu controller is not mounted");
	if (cpu) {
		if (resources->cpu_shares != UNSET_INT64 && resources->cpu_shares > 0 &&
		    write_int(cpu->path, "cpu.shares", resources->cpu_shares, error) < 0)
			return -1;
		if (resources->cpu_period != UNSET_INT64 && resources->cpu_period > 0 &&
		    write_int(cpu->path, "cpu.cfs_period_us", resources->cpu_period, error) < 0)
			return -1;
		if (resources->cpu_quota != UNSET_INT64 && resources->cpu_quota != 0 &&
		    write_int(cpu->path, "cpu.cfs_quota_us", resources->cpu_quota, error) < 0)
			return -1;
	}
	if ((resources->cpuset_cpus || resources->cpuset_mems) && !cpuset)
		return error_setx(error, "cgroup: cpuset requested but the cpuset controller is not mounted");
	if (resources->cpuset_cpus && resources->cpuset_cpus[0] &&
	    write_value(cpuset->path, "cpuset.cpus", resources->cpuset_cpus, error) < 0)
		return -1;
	if (resources->cpuset_mems && resources->cpuset_mems[0] &&
	    write_value(cpuset->path, "cpuset.mems", resources->cpuset_mems, error) < 0)
		return -1;
	if (resources->pids_limit != UNSET_INT64) {
		if (!pids)
			return error_setx(error, "cgroup: a pids limit requested but the pids controller is not mounted");
		if (resources->pids_limit > 0 ? write_int(pids->path, "pids.max", resources->pids_limit, error) < 0
					      : write_value(pids->path, "pids.max", "max", error) < 0)
			return -1;
	}
	if (resources->device_rule_count > 0 && devices) {
		for (size_t i = 0; i < resources->device_rule_count; i++) {
			char rule[80];
			device_rule_text(&resources->device_rules[i], rule, sizeof rule);
			if (write_value(devices->path, resources->device_rules[i].allow ? "devices.allow" : "devices.deny",
					rule, error) < 0)
				return -1;
		}
	}
	if (resources->unified_count > 0)
		return error_setx(error, "cgroup: linux.resources.unified needs a cgroup v2 host");
	return 0;
}

static int apply_v2(struct cgroups *cgroups, const struct oci_resources *resources, struct shim_error *error)
{
	const char *directory = cgroups->hierarchies[0].path;
	if (resources->memory_limit != UNSET_INT64) {
		if (resources->memory_limit > 0 ? write_int(directory, "memory.max", resources->memory_limit, error) < 0
						: write_value(directory, "memory.max", "max", error) < 0)
			return -1;
		if (resources->memory_swap != UNSET_INT64 && resources->memory_swap != 0) {
			int result;
			if (resources->memory_swap < 0)
				result = write_value(directory, "memory.swap.max", "max", error);
			else if (resources->memory_limit > 0 && resources->memory_swap >= resources->memory_limit)
				result = write_int(directory, "memory.swap.max",
						   resources->memory_swap - resources->memory_limit, error);
			else
				result = error_setx(error, "cgroup: memory+swap limit below the memory limit");
			if (result < 0)
				return -1;
		}
	}
	if (resources->memory_reservation != UNSET_INT64 && resources->memory_reservation > 0 &&
	    write_int(directory, "memory.low", resources->memory_reservation, error) < 0)
		return -1;
	if (resources->cpu_shares != UNSET_INT64 && resources->cpu_shares > 0) {
		int64_t shares = resources->cpu_shares < 2 ? 2 : resources->cpu_shares > 262144 ? 262144 : resources->cpu_shares;
		int64_t weight = 1 + ((shares - 2) * 9999) / 262142;
		if (write_int(directory, "cpu.weight", weight, error) < 0)
			return -1;
	}
	if ((resources->cpu_quota != UNSET_INT64 && resources->cpu_quota != 0) ||
	    (resources->cpu_period != UNSET_INT64 && resources->cpu_period > 0)) {
		char value[64];
		int64_t period = resources->cpu_period != UNSET_INT64 && resources->cpu_period > 0 ? resources->cpu_period
												    : 100000;
		if (resources->cpu_quota != UNSET_INT64 && resources->cpu_quota > 0)
			snprintf(value, sizeof value, "%" PRId64 " %" PRId64, resources->cpu_quota, period);
		else
			snprintf(value, sizeof value, "max %" PRId64, period);
		if (write_value(directory, "cpu.max", value, error) < 0)
			return -1;
	}
	if (resources->cpuset_cpus && resources->cpuset_cpus[0] &&
	    write_value(directory, "cpuset.cpus", resources->cpuset_cpus, error) < 0)
		return -1;
	if (resources->cpuset_mems && resources->cpuset_mems[0] &&
	    write_value(directory, "cpuset.mems", resources->cpuset_mems, error) < 0)
		return -1;
	if (resources->pids_limit != UNSET_INT64) {
		if (resources->pids_limit > 0 ? write_int(directory, "pids.max", resources->pids_limit, error) < 0
					      : write_value(directory, "pids.max", "max", error) < 0)
			return -1;
	}
	for (size_t i = 0; i < resources->unified_count; i++) {
		if (strchr(resources->unified[i].key, '/'))
			return error_setx(error, "cgroup: linux.resources.unified key %s is not a file name",
					  resources->unified[i].key);
		if (write_value(directory, resources->unified[i].key, resources->unified[i].value, error) < 0)
			return -1;
	}
	return 0;
}

int cgroups_create(struct cgroups *cgroups, const struct oci_resources *resources, struct shim_error *error)
{
	if (cgroups->count == 0)
		return error_setx(error, "cgroups: no cgroup hierarchy is mounted");
	for (size_t i = 0; i < cgroups->count; i++) {
		if (make_directories(cgroups, &cgroups->hierarchies[i], error) < 0)
			goto fail;
	}
	if ((cgroups->pure_v2 ? apply_v2(cgroups, resources, error) : apply_v1(cgroups, resources, error)) < 0)
		goto fail;
	return 0;
fail:;
	struct shim_error ignored = { 0 };
	cgroups_remove(cgroups, &ignored);
	return -1;
}

int cgroups_enter_self(const struct cgroups *cgroups, bool skip_unified, struct shim_error *error)
{
	for (size_t i = 0; i < cgroups->count; i++) {
		const struct cgroup_hierarchy *hierarchy = &cgroups->hierarchies[i];
		if (hierarchy->unified && skip_unified)
			continue;
		if (write_value(hierarchy->path, hierarchy->unified ? "cgroup.procs" : "tasks", "0", error) < 0)
			return -1;
	}
	return 0;
}

int cgroups_open_unified(const struct cgroups *cgroups)
{
	for (size_t i = 0; i < cgroups->count; i++) {
		if (cgroups->hierarchies[i].unified)
			return open(cgroups->hierarchies[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return -1;
}

int cgroups_enter_unified_fd(int directory_fd, struct shim_error *error)
{
	AUTO_FD fd = openat(directory_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		return error_set(error, errno, "join the unified cgroup");
	return 0;
}

static uint64_t read_counter(const char *directory, const char *file, const char *key)
{
	char text[4096];
	struct shim_error ignored = { 0 };
	AUTO_FREE char *path = path_join(directory, file);
	if (!path || file_read_small(path, text, sizeof text, &ignored) < 0)
		return 0;
	size_t length = strlen(key);
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, length) == 0 && line[length] == ' ')
			return strtoull(line + length + 1, NULL, 10);
	}
	return 0;
}

uint64_t cgroups_oom_kill_count(const struct cgroups *cgroups)
{
	if (cgroups->pure_v2)
		return read_counter(cgroups->hierarchies[0].path, "memory.events", "oom_kill");
	const struct cgroup_hierarchy *memory = find_hierarchy(cgroups, "memory");
	return memory ? read_counter(memory->path, "memory.oom_control", "oom_kill") : 0;
}

static void kill_members(const struct cgroup_hierarchy *hierarchy)
{
	struct shim_error ignored = { 0 };
	if (hierarchy->unified && write_value(hierarchy->path, "cgroup.kill", "1", &ignored) == 0)
		return;
	char text[8192];
	AUTO_FREE char *path = path_join(hierarchy->path, "cgroup.procs");
	if (!path || file_read_small(path, text, sizeof text, &ignored) <= 0)
		return;
	for (char *line = text; *line;) {
		pid_t pid = (pid_t)strtol(line, &line, 10);
		if (pid > 0)
			kill(pid, SIGKILL);
		while (*line == '\n')
			line++;
		if (*line && (*line < '0' || *line > '9'))
			break;
	}
}

int cgroups_remove(struct cgroups *cgroups, struct shim_error *error)
{
	int result = 0;
	for (size_t i = 0; i < cgroups->count; i++) {
		struct cgroup_hierarchy *hierarchy = &cgroups->hierarchies[i];
		if (!hierarchy->created)
			continue;
		int attempt = 0;
		for (;;) {
			if (rmdir(hierarchy->path) == 0 || errno == ENOENT) {
				hierarchy->created = false;
				break;
			}
			if (errno != EBUSY || ++attempt > 500) {
				if (result == 0)
					error_set(error, errno, "rmdir cgroup %s", hierarchy->path);
				result = -1;
				break;
			}
			/* Processes are still leaving (or an exec'd process lingers): make them go. */
			if (attempt % 10 == 1)
				kill_members(hierarchy);
			struct timespec pause = { 0, 4 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
	}
	return result;
}

bool cgroups_contains_pid(const struct cgroups *cgroups, pid_t pid)
{
	char path[64], text[8192];
	struct shim_error ignored = { 0 };
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	if (file_read_small(path, text, sizeof text, &ignored) < 0)
		return false;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		/* hierarchy-id:controllers:path */
		char *first = strchr(line, ':');
		char *second = first ? strchr(first + 1, ':') : NULL;
		if (second && strcmp(second + 1, cgroups->relative_path) == 0)
			return true;
	}
	return false;
}

/* config.json (OCI runtime spec) and shim.json → structs (see config.h). Unknown
 * members are ignored, as the OCI spec asks; members the shim cannot honour
 * (user namespaces, seccomp, AppArmor) are refused rather than silently dropped. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "json.h"

struct reader {
	const char *file;
	struct shim_error *error;
};

static int type_error(struct reader *reader, const char *path, const char *expected, const struct json_value *value)
{
	return error_setx(reader->error, "%s: %s: expected %s, found %s", reader->file, path, expected,
			  json_type_name(value->type));
}

static int oom(struct reader *reader, const char *path)
{
	return error_set(reader->error, ENOMEM, "%s: %s", reader->file, path);
}

static char *duplicate(const char *text)
{
	return strdup(text ? text : "");
}

/* Absent or null → *out untouched, returns 0. */
static int read_string(struct reader *reader, const struct json_value *object, const char *key, const char *path,
		       char **out)
{
	const struct json_value *value = json_get(object, key);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_STRING)
		return type_error(reader, path, "a string", value);
	*out = duplicate(value->string);
	return *out ? 0 : oom(reader, path);
}

static int read_bool(struct reader *reader, const struct json_value *object, const char *key, const char *path,
		     bool *out)
{
	const struct json_value *value = json_get(object, key);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_TRUE && value->type != JSON_FALSE)
		return type_error(reader, path, "a boolean", value);
	*out = value->type == JSON_TRUE;
	return 0;
}

static int read_int64(struct reader *reader, const struct json_value *object, const char *key, const char *path,
		      int64_t *out)
{
	const struct json_value *value = json_get(object, key);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_NUMBER || !value->is_integer)
		return error_setx(reader->error, "%s: %s: expected an integer", reader->file, path);
	*out = value->integer;
	return 0;
}

static int read_uint32(struct reader *reader, const struct json_value *object, const char *key, const char *path,
		       uint32_t *out)
{
	int64_t value = -1;
	const struct json_value *member = json_get(object, key);
	if (!member || member->type == JSON_NULL)
		return 0;
	if (read_int64(reader, object, key, path, &value) < 0)
		return -1;
	if (value < 0 || value > UINT32_MAX)
		return error_setx(reader->error, "%s: %s: %lld is out of range", reader->file, path, (long long)value);
	*out = (uint32_t)value;
	return 0;
}

/* NULL-terminated copy of an array of strings; absent → *out untouched. */
static int read_string_array(struct reader *reader, const struct json_value *object, const char *key,
			     const char *path, char ***out, size_t *count)
{
	const struct json_value *value = json_get(object, key);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_ARRAY)
		return type_error(reader, path, "an array of strings", value);
	char **strings = calloc(value->count + 1, sizeof *strings);
	if (!strings)
		return oom(reader, path);
	for (size_t i = 0; i < value->count; i++) {
		if (value->items[i]->type != JSON_STRING)
			return error_setx(reader->error, "%s: %s[%zu]: expected a string", reader->file, path, i);
		strings[i] = duplicate(value->items[i]->string);
		if (!strings[i])
			return oom(reader, path);
	}
	*out = strings;
	if (count)
		*count = value->count;
	return 0;
}

static const char *const capability_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
};

int capability_from_name(const char *name)
{
	if (strncmp(name, "CAP_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < sizeof capability_names / sizeof capability_names[0]; i++) {
		if (strcmp(capability_names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

static int read_capability_set(struct reader *reader, const struct json_value *object, const char *key,
			       uint64_t *out)
{
	const struct json_value *value = json_get(object, key);
	*out = 0;
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_ARRAY)
		return error_setx(reader->error, "%s: process.capabilities.%s: expected an array", reader->file, key);
	for (size_t i = 0; i < value->count; i++) {
		if (value->items[i]->type != JSON_STRING)
			return error_setx(reader->error, "%s: process.capabilities.%s[%zu]: expected a string",
					  reader->file, key, i);
		int number = capability_from_name(value->items[i]->string);
		if (number < 0)
			return error_setx(reader->error, "%s: process.capabilities.%s: unknown capability %s",
					  reader->file, key, value->items[i]->string);
		*out |= UINT64_C(1) << number;
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },       { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },     { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },     { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },   { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* A uint64 limit; values beyond int64 (the spec's "unlimited") become RLIM_INFINITY. */
static int read_rlimit_value(struct reader *reader, const struct json_value *item, const char *key, uint64_t *out)
{
	const struct json_value *value = json_get(item, key);
	if (!value || value->type != JSON_NUMBER || value->number < 0)
		return error_setx(reader->error, "%s: process.rlimits[].%s: expected a non-negative integer", reader->file, key);
	if (value->is_integer)
		*out = (uint64_t)value->integer;
	else if (value->number >= 9.2e18)
		*out = RLIM_INFINITY;
	else
		return error_setx(reader->error, "%s: process.rlimits[].%s: expected an integer", reader->file, key);
	return 0;
}

static int read_rlimits(struct reader *reader, const struct json_value *process, struct oci_process *out)
{
	const struct json_value *value = json_get(process, "rlimits");
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_ARRAY)
		return type_error(reader, "process.rlimits", "an array", value);
	out->rlimits = calloc(value->count + 1, sizeof *out->rlimits);
	if (!out->rlimits)
		return oom(reader, "process.rlimits");
	for (size_t i = 0; i < value->count; i++) {
		const struct json_value *item = value->items[i];
		char *type = NULL;
		if (item->type != JSON_OBJECT)
			return type_error(reader, "process.rlimits[]", "an object", item);
		if (read_string(reader, item, "type", "process.rlimits[].type", &type) < 0)
			return -1;
		int resource = -1;
		for (size_t j = 0; type && j < sizeof rlimit_names / sizeof rlimit_names[0]; j++) {
			if (strcmp(rlimit_names[j].name, type) == 0)
				resource = rlimit_names[j].resource;
		}
		if (resource < 0)
			return error_setx(reader->error, "%s: process.rlimits[%zu]: unknown type %s", reader->file, i,
					  type ? type : "(missing)");
		free(type);
		out->rlimits[i].resource = resource;
		if (read_rlimit_value(reader, item, "soft", &out->rlimits[i].soft) < 0 ||
		    read_rlimit_value(reader, item, "hard", &out->rlimits[i].hard) < 0)
			return -1;
	}
	out->rlimit_count = value->count;
	return 0;
}

static int read_process(struct reader *reader, const struct json_value *root, struct oci_process *out)
{
	const struct json_value *process = json_get(root, "process");
	if (!process || process->type != JSON_OBJECT)
		return error_setx(reader->error, "%s: process: missing", reader->file);
	if (read_bool(reader, process, "terminal", "process.terminal", &out->terminal) < 0)
		return -1;
	const struct json_value *console = json_get(process, "consoleSize");
	if (console && console->type == JSON_OBJECT) {
		if (read_uint32(reader, console, "height", "process.consoleSize.height", &out->console_height) < 0 ||
		    read_uint32(reader, console, "width", "process.consoleSize.width", &out->console_width) < 0)
			return -1;
	}
	const struct json_value *user = json_get(process, "user");
	if (user && user->type == JSON_OBJECT) {
		uint32_t uid = 0, gid = 0, umask_value = 0;
		if (read_uint32(reader, user, "uid", "process.user.uid", &uid) < 0 ||
		    read_uint32(reader, user, "gid", "process.user.gid", &gid) < 0)
			return -1;
		out->user.uid = uid;
		out->user.gid = gid;
		if (json_get(user, "umask") && json_get(user, "umask")->type != JSON_NULL) {
			if (read_uint32(reader, user, "umask", "process.user.umask", &umask_value) < 0)
				return -1;
			out->user.has_umask = true;
			out->user.umask = (mode_t)umask_value;
		}
		const struct json_value *groups = json_get(user, "additionalGids");
		if (groups && groups->type == JSON_ARRAY) {
			out->user.additional_gids = calloc(groups->count + 1, sizeof(gid_t));
			if (!out->user.additional_gids)
				return oom(reader, "process.user.additionalGids");
			for (size_t i = 0; i < groups->count; i++) {
				const struct json_value *group = groups->items[i];
				if (group->type != JSON_NUMBER || !group->is_integer || group->integer < 0 ||
				    group->integer > UINT32_MAX)
					return error_setx(reader->error, "%s: process.user.additionalGids[%zu]: expected a gid",
							  reader->file, i);
				out->user.additional_gids[i] = (gid_t)group->integer;
			}
			out->user.additional_gid_count = groups->count;
		} else if (groups && groups->type != JSON_NULL) {
			return type_error(reader, "process.user.additionalGids", "an array", groups);
		}
	}
	if (read_string_array(reader, process, "args", "process.args", &out->args, NULL) < 0 ||
	    read_string_array(reader, process, "env", "process.env", &out->env, NULL) < 0 ||
	    read_string(reader, process, "cwd", "process.cwd", &out->cwd) < 0 ||
	    read_bool(reader, process, "noNewPrivileges", "process.noNewPrivileges", &out->no_new_privileges) < 0)
		return -1;
	if (!out->args || !out->args[0])
		return error_setx(reader->error, "%s: process.args: must name a command", reader->file);
	if (!out->env) {
		out->env = calloc(1, sizeof(char *));
		if (!out->env)
			return oom(reader, "process.env");
	}
	if (!out->cwd || out->cwd[0] != '/')
		return error_setx(reader->error, "%s: process.cwd: must be an absolute path", reader->file);
	const struct json_value *capabilities = json_get(process, "capabilities");
	if (capabilities && capabilities->type == JSON_OBJECT) {
		out->has_capabilities = true;
		if (read_capability_set(reader, capabilities, "bounding", &out->capabilities.bounding) < 0 ||
		    read_capability_set(reader, capabilities, "effective", &out->capabilities.effective) < 0 ||
		    read_capability_set(reader, capabilities, "permitted", &out->capabilities.permitted) < 0 ||
		    read_capability_set(reader, capabilities, "inheritable", &out->capabilities.inheritable) < 0 ||
		    read_capability_set(reader, capabilities, "ambient", &out->capabilities.ambient) < 0)
			return -1;
	}
	int64_t oom_score_adj = UNSET_INT64;
	if (read_int64(reader, process, "oomScoreAdj", "process.oomScoreAdj", &oom_score_adj) < 0)
		return -1;
	if (oom_score_adj != UNSET_INT64) {
		if (oom_score_adj < -1000 || oom_score_adj > 1000)
			return error_setx(reader->error, "%s: process.oomScoreAdj: out of range", reader->file);
		out->has_oom_score_adj = true;
		out->oom_score_adj = (int)oom_score_adj;
	}
	char *apparmor = NULL;
	if (read_string(reader, process, "apparmorProfile", "process.apparmorProfile", &apparmor) < 0)
		return -1;
	if (apparmor && apparmor[0])
		return error_setx(reader->error, "%s: process.apparmorProfile: AppArmor is not supported by berth-shim",
				  reader->file);
	free(apparmor);
	return read_rlimits(reader, process, out);
}

static const struct {
	const char *name;
	unsigned long flag;
	bool clear;
} mount_flag_names[] = {
	{ "ro", MS_RDONLY, false },         { "rw", MS_RDONLY, true },
	{ "suid", MS_NOSUID, true },        { "nosuid", MS_NOSUID, false },
	{ "dev", MS_NODEV, true },          { "nodev", MS_NODEV, false },
	{ "exec", MS_NOEXEC, true },        { "noexec", MS_NOEXEC, false },
	{ "sync", MS_SYNCHRONOUS, false },  { "async", MS_SYNCHRONOUS, true },
	{ "dirsync", MS_DIRSYNC, false },   { "remount", MS_REMOUNT, false },
	{ "mand", MS_MANDLOCK, false },     { "nomand", MS_MANDLOCK, true },
	{ "atime", MS_NOATIME, true },      { "noatime", MS_NOATIME, false },
	{ "diratime", MS_NODIRATIME, true }, { "nodiratime", MS_NODIRATIME, false },
	{ "bind", MS_BIND, false },         { "rbind", MS_BIND | MS_REC, false },
	{ "relatime", MS_RELATIME, false }, { "norelatime", MS_RELATIME, true },
	{ "strictatime", MS_STRICTATIME, false }, { "nostrictatime", MS_STRICTATIME, true },
	{ "defaults", 0, false },
};

static const struct {
	const char *name;
	unsigned long flags;
} propagation_names[] = {
	{ "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static long propagation_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof propagation_names / sizeof propagation_names[0]; i++) {
		if (strcmp(propagation_names[i].name, name) == 0)
			return (long)propagation_names[i].flags;
	}
	return -1;
}

int mount_parse_options(struct oci_mount *mount, const char *const *options, size_t count, struct shim_error *error)
{
	size_t data_length = 0;
	for (size_t i = 0; i < count; i++)
		data_length += strlen(options[i]) + 1;
	char *data = calloc(1, data_length + 1);
	if (!data)
		return error_set(error, ENOMEM, "mount %s: options", mount->destination);
	for (size_t i = 0; i < count; i++) {
		const char *option = options[i];
		bool known = false;
		for (size_t j = 0; j < sizeof mount_flag_names / sizeof mount_flag_names[0]; j++) {
			if (strcmp(mount_flag_names[j].name, option) == 0) {
				if (mount_flag_names[j].clear)
					mount->flags &= ~mount_flag_names[j].flag;
				else
					mount->flags |= mount_flag_names[j].flag;
				known = true;
			}
		}
		long propagation = propagation_from_name(option);
		if (propagation >= 0) {
			if (mount->propagation_count == MOUNT_MAX_PROPAGATION) {
				free(data);
				return error_setx(error, "mount %s: too many propagation options", mount->destination);
			}
			mount->propagation[mount->propagation_count++] = (unsigned long)propagation;
			known = true;
		}
		/* Docker's tmpfs copy-up and the volume nocopy flag mean nothing to the kernel. */
		if (strcmp(option, "tmpcopyup") == 0 || strcmp(option, "nocopy") == 0)
			known = true;
		if (!known) {
			if (data[0])
				strcat(data, ",");
			strcat(data, option);
		}
	}
	mount->data = data;
	return 0;
}

static int read_mounts(struct reader *reader, const struct json_value *root, struct oci_config *out)
{
	const struct json_value *mounts = json_get(root, "mounts");
	if (!mounts || mounts->type == JSON_NULL)
		return 0;
	if (mounts->type != JSON_ARRAY)
		return type_error(reader, "mounts", "an array", mounts);
	out->mounts = calloc(mounts->count + 1, sizeof *out->mounts);
	if (!out->mounts)
		return oom(reader, "mounts");
	for (size_t i = 0; i < mounts->count; i++) {
		const struct json_value *item = mounts->items[i];
		struct oci_mount *mount = &out->mounts[i];
		char **options = NULL;
		size_t option_count = 0;
		if (item->type != JSON_OBJECT)
			return type_error(reader, "mounts[]", "an object", item);
		if (read_string(reader, item, "destination", "mounts[].destination", &mount->destination) < 0 ||
		    read_string(reader, item, "source", "mounts[].source", &mount->source) < 0 ||
		    read_string(reader, item, "type", "mounts[].type", &mount->type) < 0 ||
		    read_string_array(reader, item, "options", "mounts[].options", &options, &option_count) < 0)
			return -1;
		if (!mount->destination || mount->destination[0] != '/')
			return error_setx(reader->error, "%s: mounts[%zu].destination: must be an absolute path",
					  reader->file, i);
		if (mount_parse_options(mount, (const char *const *)options, option_count, reader->error) < 0)
			return -1;
		for (size_t j = 0; j < option_count; j++)
			free(options[j]);
		free(options);
		if (mount->type && strcmp(mount->type, "bind") == 0)
			mount->flags |= MS_BIND;
		if (!mount->type) {
			mount->type = duplicate((mount->flags & MS_BIND) ? "bind" : "none");
			if (!mount->type)
				return oom(reader, "mounts[].type");
		}
		if ((mount->flags & MS_BIND) && (!mount->source || mount->source[0] != '/'))
			return error_setx(reader->error, "%s: mounts[%zu].source: a bind mount needs an absolute source",
					  reader->file, i);
		if (!mount->source) {
			mount->source = duplicate(mount->type);
			if (!mount->source)
				return oom(reader, "mounts[].source");
		}
	}
	out->mount_count = mounts->count;
	return 0;
}

static const struct {
	const char *name;
	int flag;
} namespace_names[] = {
	{ "pid", CLONE_NEWPID },   { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
	{ "ipc", CLONE_NEWIPC },   { "uts", CLONE_NEWUTS },     { "cgroup", CLONE_NEWCGROUP },
	{ "user", CLONE_NEWUSER }, { "time", 0x80 /* CLONE_NEWTIME */ },
};

static int read_namespaces(struct reader *reader, const struct json_value *linux_section, struct oci_config *out)
{
	const struct json_value *namespaces = json_get(linux_section, "namespaces");
	if (!namespaces || namespaces->type == JSON_NULL)
		return 0;
	if (namespaces->type != JSON_ARRAY)
		return type_error(reader, "linux.namespaces", "an array", namespaces);
	out->namespaces = calloc(namespaces->count + 1, sizeof *out->namespaces);
	if (!out->namespaces)
		return oom(reader, "linux.namespaces");
	for (size_t i = 0; i < namespaces->count; i++) {
		char *type = NULL;
		struct oci_namespace *namespace = &out->namespaces[i];
		if (namespaces->items[i]->type != JSON_OBJECT)
			return type_error(reader, "linux.namespaces[]", "an object", namespaces->items[i]);
		if (read_string(reader, namespaces->items[i], "type", "linux.namespaces[].type", &type) < 0 ||
		    read_string(reader, namespaces->items[i], "path", "linux.namespaces[].path", &namespace->path) < 0)
			return -1;
		for (size_t j = 0; type && j < sizeof namespace_names / sizeof namespace_names[0]; j++) {
			if (strcmp(namespace_names[j].name, type) == 0)
				namespace->type = namespace_names[j].flag;
		}
		if (namespace->type == 0)
			return error_setx(reader->error, "%s: linux.namespaces[%zu]: unknown type %s", reader->file, i,
					  type ? type : "(missing)");
		if (namespace->type == CLONE_NEWUSER || namespace->type == 0x80)
			return error_setx(reader->error, "%s: linux.namespaces[%zu]: %s namespaces are not supported by berth-shim",
					  reader->file, i, type);
		for (size_t j = 0; j < i; j++) {
			if (out->namespaces[j].type == namespace->type)
				return error_setx(reader->error, "%s: linux.namespaces: %s listed twice", reader->file, type);
		}
		if (namespace->path && namespace->path[0] == '\0') {
			free(namespace->path);
			namespace->path = NULL;
		}
		if (namespace->type == CLONE_NEWNS && namespace->path)
			return error_setx(reader->error, "%s: linux.namespaces: joining a mount namespace is not supported",
					  reader->file);
		free(type);
	}
	out->namespace_count = namespaces->count;
	return 0;
}

static int read_device_rules(struct reader *reader, const struct json_value *resources, struct oci_resources *out)
{
	const struct json_value *devices = json_get(resources, "devices");
	if (!devices || devices->type == JSON_NULL)
		return 0;
	if (devices->type != JSON_ARRAY)
		return type_error(reader, "linux.resources.devices", "an array", devices);
	out->device_rules = calloc(devices->count + 1, sizeof *out->device_rules);
	if (!out->device_rules)
		return oom(reader, "linux.resources.devices");
	for (size_t i = 0; i < devices->count; i++) {
		const struct json_value *item = devices->items[i];
		struct oci_device_rule *rule = &out->device_rules[i];
		char *type = NULL, *access = NULL;
		rule->major = -1;
		rule->minor = -1;
		if (item->type != JSON_OBJECT)
			return type_error(reader, "linux.resources.devices[]", "an object", item);
		if (read_bool(reader, item, "allow", "linux.resources.devices[].allow", &rule->allow) < 0 ||
		    read_string(reader, item, "type", "linux.resources.devices[].type", &type) < 0 ||
		    read_int64(reader, item, "major", "linux.resources.devices[].major", &rule->major) < 0 ||
		    read_int64(reader, item, "minor", "linux.resources.devices[].minor", &rule->minor) < 0 ||
		    read_string(reader, item, "access", "linux.resources.devices[].access", &access) < 0)
			return -1;
		rule->type = type && type[0] ? type[0] : 'a';
		if (strchr("acb", rule->type) == NULL || (type && strlen(type) > 1))
			return error_setx(reader->error, "%s: linux.resources.devices[%zu].type: invalid", reader->file, i);
		const char *permissions = access && access[0] ? access : "rwm";
		if (strlen(permissions) > 3 || strspn(permissions, "rwm") != strlen(permissions))
			return error_setx(reader->error, "%s: linux.resources.devices[%zu].access: invalid", reader->file, i);
		strcpy(rule->access, permissions);
		free(type);
		free(access);
	}
	out->device_rule_count = devices->count;
	return 0;
}

static int read_key_values(struct reader *reader, const struct json_value *object, const char *key, const char *path,
			   struct oci_key_value **out, size_t *count)
{
	const struct json_value *value = json_get(object, key);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_OBJECT)
		return type_error(reader, path, "an object", value);
	*out = calloc(value->count + 1, sizeof **out);
	if (!*out)
		return oom(reader, path);
	for (size_t i = 0; i < value->count; i++) {
		if (value->items[i]->type != JSON_STRING)
			return error_setx(reader->error, "%s: %s.%s: expected a string", reader->file, path, value->keys[i]);
		(*out)[i].key = duplicate(value->keys[i]);
		(*out)[i].value = duplicate(value->items[i]->string);
		if (!(*out)[i].key || !(*out)[i].value)
			return oom(reader, path);
	}
	*count = value->count;
	return 0;
}

static int read_resources(struct reader *reader, const struct json_value *linux_section, struct oci_resources *out)
{
	out->memory_limit = out->memory_swap = out->memory_reservation = out->memory_swappiness = UNSET_INT64;
	out->cpu_shares = out->cpu_quota = out->cpu_period = out->pids_limit = UNSET_INT64;
	const struct json_value *resources = json_get(linux_section, "resources");
	if (!resources || resources->type == JSON_NULL)
		return 0;
	if (resources->type != JSON_OBJECT)
		return type_error(reader, "linux.resources", "an object", resources);
	const struct json_value *memory = json_get(resources, "memory");
	if (memory && memory->type == JSON_OBJECT) {
		if (read_int64(reader, memory, "limit", "linux.resources.memory.limit", &out->memory_limit) < 0 ||
		    read_int64(reader, memory, "swap", "linux.resources.memory.swap", &out->memory_swap) < 0 ||
		    read_int64(reader, memory, "reservation", "linux.resources.memory.reservation",
			       &out->memory_reservation) < 0 ||
		    read_int64(reader, memory, "swappiness", "linux.resources.memory.swappiness",
			       &out->memory_swappiness) < 0 ||
		    read_bool(reader, memory, "disableOOMKiller", "linux.resources.memory.disableOOMKiller",
			      &out->disable_oom_killer) < 0)
			return -1;
	}
	const struct json_value *cpu = json_get(resources, "cpu");
	if (cpu && cpu->type == JSON_OBJECT) {
		if (read_int64(reader, cpu, "shares", "linux.resources.cpu.shares", &out->cpu_shares) < 0 ||
		    read_int64(reader, cpu, "quota", "linux.resources.cpu.quota", &out->cpu_quota) < 0 ||
		    read_int64(reader, cpu, "period", "linux.resources.cpu.period", &out->cpu_period) < 0 ||
		    read_string(reader, cpu, "cpus", "linux.resources.cpu.cpus", &out->cpuset_cpus) < 0 ||
		    read_string(reader, cpu, "mems", "linux.resources.cpu.mems", &out->cpuset_mems) < 0)
			return -1;
	}
	const struct json_value *pids = json_get(resources, "pids");
	if (pids && pids->type == JSON_OBJECT) {
		if (read_int64(reader, pids, "limit", "linux.resources.pids.limit", &out->pids_limit) < 0)
			return -1;
	}
	if (read_device_rules(reader, resources, out) < 0)
		return -1;
	return read_key_values(reader, resources, "unified", "linux.resources.unified", &out->unified, &out->unified_count);
}

static int read_devices(struct reader *reader, const struct json_value *linux_section, struct oci_config *out)
{
	const struct json_value *devices = json_get(linux_section, "devices");
	if (!devices || devices->type == JSON_NULL)
		return 0;
	if (devices->type != JSON_ARRAY)
		return type_error(reader, "linux.devices", "an array", devices);
	out->devices = calloc(devices->count + 1, sizeof *out->devices);
	if (!out->devices)
		return oom(reader, "linux.devices");
	for (size_t i = 0; i < devices->count; i++) {
		const struct json_value *item = devices->items[i];
		struct oci_device *device = &out->devices[i];
		char *type = NULL;
		int64_t mode = -1;
		uint32_t uid = 0, gid = 0;
		if (item->type != JSON_OBJECT)
			return type_error(reader, "linux.devices[]", "an object", item);
		if (read_string(reader, item, "path", "linux.devices[].path", &device->path) < 0 ||
		    read_string(reader, item, "type", "linux.devices[].type", &type) < 0 ||
		    read_int64(reader, item, "major", "linux.devices[].major", &device->major) < 0 ||
		    read_int64(reader, item, "minor", "linux.devices[].minor", &device->minor) < 0 ||
		    read_int64(reader, item, "fileMode", "linux.devices[].fileMode", &mode) < 0 ||
		    read_uint32(reader, item, "uid", "linux.devices[].uid", &uid) < 0 ||
		    read_uint32(reader, item, "gid", "linux.devices[].gid", &gid) < 0)
			return -1;
		if (!device->path || strncmp(device->path, "/dev/", 5) != 0)
			return error_setx(reader->error, "%s: linux.devices[%zu].path: must be under /dev", reader->file, i);
		if (!type || strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
			return error_setx(reader->error, "%s: linux.devices[%zu].type: invalid", reader->file, i);
		device->type = type[0];
		device->has_mode = mode >= 0;
		device->mode = mode >= 0 ? (mode_t)mode : 0;
		device->uid = uid;
		device->gid = gid;
		free(type);
	}
	out->device_count = devices->count;
	return 0;
}

int config_load_oci(const char *path, const char *bundle_dir, struct oci_config *out, struct shim_error *error)
{
	AUTO_JSON root = NULL;
	struct reader reader = { .file = path, .error = error };
	memset(out, 0, sizeof *out);
	if (json_parse_file(path, &root, error) < 0)
		return -1;
	if (root->type != JSON_OBJECT)
		return type_error(&reader, "(document)", "an object", root);
	if (read_process(&reader, root, &out->process) < 0)
		return -1;
	const struct json_value *root_section = json_get(root, "root");
	char *root_path = NULL;
	if (read_string(&reader, root_section, "path", "root.path", &root_path) < 0 ||
	    read_bool(&reader, root_section, "readonly", "root.readonly", &out->root_readonly) < 0)
		return -1;
	if (!root_path || !root_path[0])
		return error_setx(error, "%s: root.path: missing", path);
	if (root_path[0] == '/') {
		out->root_path = root_path;
	} else {
		size_t length = strlen(bundle_dir) + strlen(root_path) + 2;
		out->root_path = malloc(length);
		if (!out->root_path)
			return oom(&reader, "root.path");
		snprintf(out->root_path, length, "%s/%s", bundle_dir, root_path);
		free(root_path);
	}
	if (read_string(&reader, root, "hostname", "hostname", &out->hostname) < 0 ||
	    read_string(&reader, root, "domainname", "domainname", &out->domainname) < 0 ||
	    read_mounts(&reader, root, out) < 0)
		return -1;
	const struct json_value *linux_section = json_get(root, "linux");
	if (linux_section && linux_section->type != JSON_OBJECT && linux_section->type != JSON_NULL)
		return type_error(&reader, "linux", "an object", linux_section);
	char *propagation = NULL;
	if (read_namespaces(&reader, linux_section, out) < 0 || read_resources(&reader, linux_section, &out->resources) < 0 ||
	    read_string(&reader, linux_section, "cgroupsPath", "linux.cgroupsPath", &out->cgroups_path) < 0 ||
	    read_key_values(&reader, linux_section, "sysctl", "linux.sysctl", &out->sysctls, &out->sysctl_count) < 0 ||
	    read_string_array(&reader, linux_section, "maskedPaths", "linux.maskedPaths", &out->masked_paths,
			      &out->masked_path_count) < 0 ||
	    read_string_array(&reader, linux_section, "readonlyPaths", "linux.readonlyPaths", &out->readonly_paths,
			      &out->readonly_path_count) < 0 ||
	    read_devices(&reader, linux_section, out) < 0 ||
	    read_string(&reader, linux_section, "rootfsPropagation", "linux.rootfsPropagation", &propagation) < 0)
		return -1;
	if (propagation && propagation[0]) {
		long flags = propagation_from_name(propagation);
		if (flags < 0)
			return error_setx(error, "%s: linux.rootfsPropagation: unknown value %s", path, propagation);
		out->rootfs_propagation = (unsigned long)flags;
	}
	free(propagation);
	const struct json_value *seccomp = json_get(linux_section, "seccomp");
	if (seccomp && seccomp->type != JSON_NULL)
		return error_setx(error, "%s: linux.seccomp: seccomp is not supported by berth-shim", path);
	const struct json_value *mappings = json_get(linux_section, "uidMappings");
	if (mappings && mappings->type == JSON_ARRAY && mappings->count > 0)
		return error_setx(error, "%s: linux.uidMappings: user namespaces are not supported by berth-shim", path);
	return 0;
}

/* `"<object>": null | { "<field>": "/absolute/path" }`: *out stays NULL when absent or null. */
static int read_optional_path(struct reader *reader, const struct json_value *root, const char *object, const char *field,
			      char **out)
{
	const struct json_value *value = json_get(root, object);
	if (!value || value->type == JSON_NULL)
		return 0;
	if (value->type != JSON_OBJECT)
		return type_error(reader, object, "an object or null", value);
	char where[64];
	snprintf(where, sizeof where, "%s.%s", object, field);
	if (read_string(reader, value, field, where, out) < 0)
		return -1;
	if (!*out || (*out)[0] != '/')
		return error_setx(reader->error, "%s: %s: must be an absolute path", reader->file, where);
	return 0;
}

static int read_healthcheck(struct reader *reader, const struct json_value *root, struct shim_config *out)
{
	const struct json_value *health = json_get(root, "healthcheck");
	if (!health || health->type == JSON_NULL)
		return 0;
	if (health->type != JSON_OBJECT)
		return type_error(reader, "healthcheck", "an object or null", health);
	char **test = NULL;
	size_t count = 0;
	if (read_string_array(reader, health, "test", "healthcheck.test", &test, &count) < 0)
		return -1;
	if (!test || count == 0)
		return error_setx(reader->error, "%s: healthcheck.test: missing", reader->file);
	if (strcmp(test[0], "NONE") == 0)
		return 0;
	struct shim_healthcheck *check = &out->healthcheck;
	if (strcmp(test[0], "CMD") == 0) {
		if (count < 2)
			return error_setx(reader->error, "%s: healthcheck.test: CMD needs a command", reader->file);
		check->test = test + 1;
	} else if (strcmp(test[0], "CMD-SHELL") == 0) {
		if (count != 2)
			return error_setx(reader->error, "%s: healthcheck.test: CMD-SHELL takes one string", reader->file);
		check->test = calloc(4, sizeof(char *));
		if (!check->test)
			return oom(reader, "healthcheck.test");
		check->test[0] = duplicate("/bin/sh");
		check->test[1] = duplicate("-c");
		check->test[2] = test[1];
	} else {
		return error_setx(reader->error, "%s: healthcheck.test: must start with CMD, CMD-SHELL or NONE", reader->file);
	}
	int64_t retries = 0;
	check->interval_ms = check->timeout_ms = check->start_period_ms = check->start_interval_ms = 0;
	if (read_int64(reader, health, "intervalMs", "healthcheck.intervalMs", &check->interval_ms) < 0 ||
	    read_int64(reader, health, "timeoutMs", "healthcheck.timeoutMs", &check->timeout_ms) < 0 ||
	    read_int64(reader, health, "startPeriodMs", "healthcheck.startPeriodMs", &check->start_period_ms) < 0 ||
	    read_int64(reader, health, "startIntervalMs", "healthcheck.startIntervalMs", &check->start_interval_ms) < 0 ||
	    read_int64(reader, health, "retries", "healthcheck.retries", &retries) < 0)
		return -1;
	/* Docker's defaults for zero values. */
	if (check->interval_ms <= 0)
		check->interval_ms = 30000;
	if (check->timeout_ms <= 0)
		check->timeout_ms = 30000;
	if (check->start_interval_ms <= 0)
		check->start_interval_ms = 5000;
	if (check->start_period_ms < 0)
		check->start_period_ms = 0;
	check->retries = retries > 0 && retries < INT32_MAX ? (int)retries : 3;
	out->has_healthcheck = true;
	return 0;
}

int config_load_shim(const char *path, struct shim_config *out, struct shim_error *error)
{
	AUTO_JSON root = NULL;
	struct reader reader = { .file = path, .error = error };
	memset(out, 0, sizeof *out);
	out->log_max_files = 1;
	out->stop_signal = SIGTERM;
	out->stop_timeout_seconds = 10;
	if (json_parse_file(path, &root, error) < 0)
		return -1;
	if (root->type != JSON_OBJECT)
		return type_error(&reader, "(document)", "an object", root);
	if (read_string(&reader, root, "id", "id", &out->id) < 0 ||
	    read_string(&reader, root, "bundle", "bundle", &out->bundle) < 0 ||
	    read_string(&reader, root, "runDir", "runDir", &out->run_dir) < 0)
		return -1;
	if (!out->id || !out->id[0] || strchr(out->id, '/') || strcmp(out->id, ".") == 0 || strcmp(out->id, "..") == 0)
		return error_setx(error, "%s: id: missing or not a plain name", path);
	if (!out->run_dir || out->run_dir[0] != '/')
		return error_setx(error, "%s: runDir: must be an absolute path", path);
	const struct json_value *rootfs = json_get(root, "rootfs");
	if (rootfs && rootfs->type == JSON_OBJECT) {
		if (read_string_array(&reader, rootfs, "lowerdirs", "rootfs.lowerdirs", &out->lowerdirs,
				      &out->lowerdir_count) < 0 ||
		    read_string(&reader, rootfs, "upperdir", "rootfs.upperdir", &out->upperdir) < 0 ||
		    read_string(&reader, rootfs, "workdir", "rootfs.workdir", &out->workdir) < 0 ||
		    read_string(&reader, rootfs, "target", "rootfs.target", &out->target) < 0 ||
		    read_bool(&reader, rootfs, "volatile", "rootfs.volatile", &out->rootfs_volatile) < 0)
			return -1;
		if (out->upperdir && !out->upperdir[0]) {
			free(out->upperdir);
			out->upperdir = NULL;
		}
		if (out->upperdir && (!out->workdir || !out->target || out->lowerdir_count == 0))
			return error_setx(error, "%s: rootfs: upperdir needs lowerdirs, workdir and target", path);
		for (size_t i = 0; i < out->lowerdir_count; i++) {
			if (strchr(out->lowerdirs[i], ':') || strchr(out->lowerdirs[i], ','))
				return error_setx(error, "%s: rootfs.lowerdirs[%zu]: ':' and ',' cannot appear in an overlay path",
						  path, i);
		}
	}
	const struct json_value *log = json_get(root, "log");
	int64_t max_files = 1;
	if (read_string(&reader, log, "path", "log.path", &out->log_path) < 0 ||
	    read_int64(&reader, log, "maxSize", "log.maxSize", &out->log_max_size) < 0 ||
	    read_int64(&reader, log, "maxFiles", "log.maxFiles", &max_files) < 0)
		return -1;
	if (!out->log_path || out->log_path[0] != '/')
		return error_setx(error, "%s: log.path: must be an absolute path", path);
	out->log_max_files = max_files < 1 ? 1 : max_files > 1000 ? 1000 : (int)max_files;
	if (out->log_max_size < 0)
		out->log_max_size = 0;
	if (read_bool(&reader, root, "stdin", "stdin", &out->stdin_open) < 0 ||
	    read_bool(&reader, root, "stdinOnce", "stdinOnce", &out->stdin_once) < 0 ||
	    read_bool(&reader, root, "init", "init", &out->init) < 0)
		return -1;
	const struct json_value *restart = json_get(root, "restart");
	char *policy = NULL;
	int64_t max_retries = 0;
	if (read_string(&reader, restart, "policy", "restart.policy", &policy) < 0 ||
	    read_int64(&reader, restart, "maxRetries", "restart.maxRetries", &max_retries) < 0)
		return -1;
	if (!policy || strcmp(policy, "no") == 0 || !policy[0])
		out->restart_policy = RESTART_NO;
	else if (strcmp(policy, "always") == 0)
		out->restart_policy = RESTART_ALWAYS;
	else if (strcmp(policy, "on-failure") == 0)
		out->restart_policy = RESTART_ON_FAILURE;
	else if (strcmp(policy, "unless-stopped") == 0)
		out->restart_policy = RESTART_UNLESS_STOPPED;
	else
		return error_setx(error, "%s: restart.policy: unknown policy %s", path, policy);
	free(policy);
	out->restart_max_retries = max_retries > 0 && max_retries < INT32_MAX ? (int)max_retries : 0;
	const struct json_value *stop = json_get(root, "stop");
	int64_t stop_signal = SIGTERM;
	if (read_int64(&reader, stop, "signal", "stop.signal", &stop_signal) < 0 ||
	    read_int64(&reader, stop, "timeoutSeconds", "stop.timeoutSeconds", &out->stop_timeout_seconds) < 0)
		return -1;
	if (stop_signal < 1 || stop_signal > 64)
		return error_setx(error, "%s: stop.signal: %lld is not a signal", path, (long long)stop_signal);
	out->stop_signal = (int)stop_signal;
	if (read_optional_path(&reader, root, "dns", "config", &out->dns_config) < 0 ||
	    read_optional_path(&reader, root, "netns", "release", &out->release_netns) < 0)
		return -1;
	return read_healthcheck(&reader, root, out);
}

const char *env_lookup(char *const *env, const char *name)
{
	size_t length = strlen(name);
	for (size_t i = 0; env && env[i]; i++) {
		if (strncmp(env[i], name, length) == 0 && env[i][length] == '=')
			return env[i] + length + 1;
	}
	return NULL;
}

/* The two inputs: the OCI runtime config.json (the container) and shim.json (the
 * monitor's instructions), turned into plain structs. Everything is validated here,
 * so later stages only act. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct oci_capabilities {
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

struct oci_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct oci_user {
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t additional_gid_count;
	bool has_umask;
	mode_t umask;
};

struct oci_process {
	bool terminal;
	unsigned console_height, console_width;
	struct oci_user user;
	char **args; /* NULL-terminated */
	char **env;  /* NULL-terminated */
	char *cwd;
	bool has_capabilities;
	struct oci_capabilities capabilities;
	struct oci_rlimit *rlimits;
	size_t rlimit_count;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

/* Propagation changes applied after a mount, in order. */
#define MOUNT_MAX_PROPAGATION 4

struct oci_mount {
	char *destination;
	char *source;
	char *type;
	unsigned long flags;      /* MS_* set by options (MS_BIND, MS_REC, MS_RDONLY, ...) */
	unsigned long propagation[MOUNT_MAX_PROPAGATION];
	size_t propagation_count;
	char *data;               /* options the kernel parses (size=, mode=, ...), comma-joined */
	bool is_default;          /* added by the shim, not listed in config.json */
};

struct oci_namespace {
	int type;   /* CLONE_NEW* */
	char *path; /* join this namespace instead of creating one */
};

struct oci_device_rule {
	bool allow;
	char type;  /* 'a', 'c', 'b' */
	int64_t major, minor; /* -1 = any */
	char access[4];
};

struct oci_device {
	char *path;
	char type; /* 'c', 'b', 'u', 'p' */
	int64_t major, minor;
	bool has_mode;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct oci_key_value {
	char *key;
	char *value;
};

#define UNSET_INT64 INT64_MIN

struct oci_resources {
	int64_t memory_limit, memory_swap, memory_reservation, memory_swappiness;
	bool disable_oom_killer;
	int64_t cpu_shares, cpu_quota, cpu_period;
	char *cpuset_cpus, *cpuset_mems;
	int64_t pids_limit;
	struct oci_device_rule *device_rules;
	size_t device_rule_count;
	struct oci_key_value *unified;
	size_t unified_count;
};

struct oci_config {
	struct oci_process process;
	char *root_path;  /* absolute */
	bool root_readonly;
	char *hostname;
	char *domainname;
	struct oci_mount *mounts;
	size_t mount_count;
	struct oci_namespace *namespaces;
	size_t namespace_count;
	struct oci_resources resources;
	char *cgroups_path;
	struct oci_key_value *sysctls;
	size_t sysctl_count;
	char **masked_paths;
	size_t masked_path_count;
	char **readonly_paths;
	size_t readonly_path_count;
	struct oci_device *devices;
	size_t device_count;
	unsigned long rootfs_propagation; /* MS_* | MS_REC, 0 = rprivate */
};

enum restart_policy { RESTART_NO, RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_UNLESS_STOPPED };

struct shim_healthcheck {
	char **test; /* argv, NULL-terminated (CMD-SHELL already expanded to /bin/sh -c) */
	int64_t interval_ms, timeout_ms, start_period_ms, start_interval_ms;
	int retries;
};

struct shim_config {
	char *id;
	char *bundle;
	char *run_dir;
	char **lowerdirs;
	size_t lowerdir_count;
	char *upperdir, *workdir, *target;
	bool rootfs_volatile; /* overlay "volatile": no syncs (a --rm container's layer is thrown away) */
	char *log_path;
	int64_t log_max_size;
	int log_max_files;
	bool stdin_open;
	bool stdin_once; /* Docker's StdinOnce: the first writer's EOF closes the container's stdin */
	enum restart_policy restart_policy;
	int restart_max_retries;
	int stop_signal;
	int64_t stop_timeout_seconds;
	bool init;
	bool has_healthcheck;
	struct shim_healthcheck healthcheck;
	char *dns_config; /* dns.json of the embedded DNS server (dns.h), or NULL */
	char *release_netns; /* the container's own network namespace, released at teardown, or NULL */
};

int config_load_oci(const char *path, const char *bundle_dir, struct oci_config *config, struct shim_error *error);
int config_load_shim(const char *path, struct shim_config *config, struct shim_error *error);

/* Parse "name" (CAP_ prefix optional) to a capability number; -1 when unknown. */
int capability_from_name(const char *name);
/* Parse mount options into flags / propagation / data of mount (used for defaults too). */
int mount_parse_options(struct oci_mount *mount, const char *const *options, size_t count, struct shim_error *error);

/* Value of NAME in a NULL-terminated KEY=VALUE list, or NULL. */
const char *env_lookup(char *const *env, const char *name);

#endif

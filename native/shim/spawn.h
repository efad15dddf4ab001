/* Creating the container process: clone into new namespaces (joining those given by
 * path), then, in the child, the one documented init order:
 *   cgroups → namespaces (setns / cgroupns / lo up / own session keyring) → mounts → pivot_root → console →
 *   read-only root → hostname → sysctls → read-only and masked paths → oom_score_adj →
 *   cwd → rlimits → user and groups → capabilities → no_new_privileges → exec
 * Failures travel back over the sync socket (sync.h) with Docker's exit codes. */
#ifndef BERTH_SPAWN_H
#define BERTH_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroups.h"
#include "config.h"
#include "error.h"

struct spawn_request {
	const struct oci_config *config;
	const struct cgroups *cgroups;
	const char *container_id;
	bool init;      /* pid 1 is berth's tiny init (init.h), the command its child */
	int stdin_fd;   /* becomes fd 0 (ignored with a terminal) */
	int stdout_fd;  /* becomes fd 1 (ignored with a terminal) */
	int stderr_fd;  /* becomes fd 2 (ignored with a terminal) */
};

struct spawn_result {
	pid_t pid;        /* the container's init process, as the host sees it */
	int pty_master;   /* -1 unless process.terminal */
};

int spawn_container(const struct spawn_request *request, struct spawn_result *result, struct shim_error *error);

/* fork(), or clone() with namespace flags, born into the cgroup2 directory cgroup_fd
 * (clone3 CLONE_INTO_CGROUP) when cgroup_fd >= 0 and the kernel can; *into_cgroup says
 * whether it was (else the child must join itself). Returns like fork(). */
pid_t spawn_clone(unsigned long flags, int cgroup_fd, bool *into_cgroup);

/* Shared with exec and init. */
void spawn_reset_signals(void);
/* Bounding set → user switch → capabilities → no_new_privileges. */
int spawn_apply_identity(const struct oci_process *process, const struct oci_user *user, struct shim_error *error);
/* Look args[0] up in env's PATH, send SYNC_EXEC, execve; on failure send SYNC_ERROR
 * (127 not found, 126 cannot run, 125 other) and _exit with that code. */
__attribute__((noreturn)) void spawn_exec_command(char *const *args, char *const *env, int sync_fd);

#endif

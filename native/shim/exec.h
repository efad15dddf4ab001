/* Running a process inside a running container (`berth-shim exec`, and every
 * healthcheck probe through the same two calls):
 *   exec_enter  in the calling process: join the container's cgroups (v1; the unified
 *               one is joined by the command itself, cloned into it), then its
 *               cgroup, ipc, uts, net, pid (for children) and mount namespaces;
 *   exec_spawn  fork the command into the container's pid namespace: new session,
 *               stdio or the pty, rlimits, cwd, user and groups, capabilities,
 *               no_new_privileges, execve; failures come back over the sync socket. */
#ifndef BERTH_EXEC_H
#define BERTH_EXEC_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroups.h"
#include "config.h"
#include "error.h"

struct exec_request {
	int unified_cgroup_fd;  /* the container's cgroup2 directory (opened before exec_enter), or -1:
				 * the command is cloned straight into it */
	const struct oci_process *process; /* capabilities, rlimits, no_new_privileges of the container */
	char *const *args;
	char **env;
	struct oci_user user;
	const char *cwd;
	int pty_master;   /* >= 0: the command's stdio is this pty's slave */
	int stdio[3];     /* otherwise these fds become 0, 1, 2 */
};

int exec_enter(pid_t target, const struct cgroups *cgroups, struct shim_error *error);
/* Returns the command's pid; on failure error->exit_code is 127 (not found) or 126. */
pid_t exec_spawn(const struct exec_request *request, struct shim_error *error);
/* `berth-shim exec …`; returns the process exit status. */
int exec_main(int argc, char **argv);

#endif

/* Container process creation and its init sequence (see spawn.h). */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "files.h"
#include "init.h"
#include "mounts.h"
#include "pty.h"
#include "sync.h"
#include "user.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pid_t spawn_clone(unsigned long flags, int cgroup_fd, bool *into_cgroup)
{
	*into_cgroup = false;
	if (cgroup_fd >= 0) {
		struct clone_args args;
		memset(&args, 0, sizeof args);
		args.flags = flags | CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)cgroup_fd;
		*into_cgroup = true;
		pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid >= 0)
			return pid;
		*into_cgroup = false;
		/* Older kernels: no clone3 or no CLONE_INTO_CGROUP. Anything else is a real error. */
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			return -1;
	}
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

void spawn_reset_signals(void)
{
	sigset_t empty;
	sigemptyset(&empty);
	for (int signal_number = 1; signal_number < NSIG; signal_number++) {
		if (signal_number != SIGKILL && signal_number != SIGSTOP)
			signal(signal_number, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, &empty, NULL);
}

int spawn_apply_identity(const struct oci_process *process, const struct oci_user *user, struct shim_error *error)
{
	if (process->has_capabilities && caps_drop_bounding(&process->capabilities, error) < 0)
		return -1;
	if (user_switch(user, error) < 0)
		return -1;
	if (process->has_capabilities && caps_apply(&process->capabilities, error) < 0)
		return -1;
	if (process->no_new_privileges && user_set_no_new_privileges(error) < 0)
		return -1;
	return 0;
}

static bool is_executable_file(const char *path)
{
	struct stat status;
	return stat(path, &status) == 0 && S_ISREG(status.st_mode) && (status.st_mode & 0111);
}

/* Go's exec.LookPath over env's PATH, as runc resolves process.args[0]. */
static int look_path(const char *file, char *const *env, char *out, size_t size, struct shim_error *error)
{
	if (strchr(file, '/')) {
		snprintf(out, size, "%s", file);
		return 0;
	}
	const char *path = env_lookup(env, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	const char *cursor = path;
	for (;;) {
		size_t length = strcspn(cursor, ":");
		if (length == 0)
			snprintf(out, size, "./%s", file);
		else
			snprintf(out, size, "%.*s/%s", (int)length, cursor, file);
		if (is_executable_file(out))
			return 0;
		if (cursor[length] == '\0')
			break;
		cursor += length + 1;
	}
	error->exit_code = EXIT_NOT_FOUND;
	return error_setx(error, "exec: \"%s\": executable file not found in $PATH", file);
}

void spawn_exec_command(char *const *args, char *const *env, int sync_fd)
{
	struct shim_error error = { 0 };
	char path[PATH_MAX];
	if (look_path(args[0], env, path, sizeof path, &error) == 0) {
		sync_send(sync_fd, SYNC_EXEC, NULL);
		execve(path, args, env);
		int err = errno;
		error.exit_code = err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND
				  : err == EACCES || err == EPERM || err == ENOEXEC || err == EISDIR || err == ETXTBSY
				      ? EXIT_CANNOT_INVOKE
				      : EXIT_SETUP_FAILED;
		error_set(&error, err, "exec %s", path);
	}
	sync_send(sync_fd, SYNC_ERROR, &error);
	_exit(error.exit_code);
}

static int loopback_up(struct shim_error *error)
{
	AUTO_FD sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return error_set(error, errno, "socket for lo");
	struct ifreq request;
	memset(&request, 0, sizeof request);
	snprintf(request.ifr_name, sizeof request.ifr_name, "lo");
	if (ioctl(sock, SIOCGIFFLAGS, &request) < 0)
		return error_set(error, errno, "get flags of lo");
	request.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &request) < 0)
		return error_set(error, errno, "bring lo up");
	return 0;
}

/* A session keyring of the container's own, as runc gives it ("_ses.<id>"), so that
 * containers do not share the host's keys. Kernels without keyrings are fine. */
static int join_session_keyring(const char *container_id, struct shim_error *error)
{
	char name[128];
	snprintf(name, sizeof name, "_ses.%.64s", container_id);
	long keyring = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name, 0, 0, 0);
	if (keyring < 0 && errno == EACCES) {
		/* A keyring of that name left by an earlier run of this container that we may not
		 * search: a fresh anonymous one isolates the container just as well. */
		keyring = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL, 0, 0, 0);
	}
	if (keyring < 0) {
		if (errno == ENOSYS)
			return 0;
		return error_set(error, errno, "join session keyring %s", name);
	}
	/* possessor: search; user: view, read, write, search (runc's setting). A keyring joined
	 * again after a restart already has it, and may refuse to have it set twice. */
	if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, keyring, 0x080f0000, 0, 0) < 0 && errno != EACCES)
		return error_set(error, errno, "set permissions of session keyring %s", name);
	return 0;
}

static const struct oci_namespace *find_namespace(const struct oci_config *config, int type)
{
	for (size_t i = 0; i < config->namespace_count; i++) {
		if (config->namespaces[i].type == type)
			return &config->namespaces[i];
	}
	return NULL;
}

static int join_namespace(const struct oci_namespace *namespace, struct shim_error *error)
{
	AUTO_FD fd = open(namespace->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(error, errno, "open namespace %s", namespace->path);
	if (setns(fd, namespace->type) < 0)
		return error_set(error, errno, "join namespace %s", namespace->path);
	return 0;
}

static int write_sysctls(const struct oci_config *config, struct shim_error *error)
{
	for (size_t i = 0; i < config->sysctl_count; i++) {
		const char *key = config->sysctls[i].key;
		if (strstr(key, "..") || strchr(key, '/'))
			return error_setx(error, "sysctl %s: invalid name", key);
		char path[PATH_MAX];
		int length = snprintf(path, sizeof path, "/proc/sys/%s", key);
		for (int j = 10; j < length; j++) {
			if (path[j] == '.')
				path[j] = '/';
		}
		if (file_write_string(path, config->sysctls[i].value, error) < 0)
			return error_wrap(error, "sysctl %s", key);
	}
	return 0;
}

/* Runs in the cloned child; never returns. */
__attribute__((noreturn)) static void container_main(const struct spawn_request *request, int sync_fd,
						    bool in_unified_cgroup)
{
	const struct oci_config *config = request->config;
	const struct oci_process *process = &config->process;
	struct shim_error error = { 0 };
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	spawn_reset_signals();
	if (dup2(request->stdin_fd, 0) < 0 || dup2(request->stdout_fd, 1) < 0 || dup2(request->stderr_fd, 2) < 0) {
		error_set(&error, errno, "set up stdio");
		goto fail;
	}
	/* Nothing of the shim's reaches the container: everything above stdio closes at exec. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (cgroups_enter_self(request->cgroups, in_unified_cgroup, &error) < 0)
		goto fail;
	const struct oci_namespace *network = find_namespace(config, CLONE_NEWNET);
	for (size_t i = 0; i < config->namespace_count; i++) {
		if (config->namespaces[i].path && config->namespaces[i].type != CLONE_NEWPID &&
		    join_namespace(&config->namespaces[i], &error) < 0)
			goto fail;
	}
	const struct oci_namespace *cgroup_namespace = find_namespace(config, CLONE_NEWCGROUP);
	/* A new cgroup namespace is rooted where the process is now: create it after joining. */
	if (cgroup_namespace && !cgroup_namespace->path && unshare(CLONE_NEWCGROUP) < 0) {
		error_set(&error, errno, "unshare the cgroup namespace");
		goto fail;
	}
	if (network && !network->path && loopback_up(&error) < 0)
		goto fail;
	if (request->container_id && join_session_keyring(request->container_id, &error) < 0)
		goto fail;
	if (mounts_setup(config, request->cgroups, cgroup_namespace != NULL, &error) < 0)
		goto fail;
	if (mounts_pivot_root(config->root_path, &error) < 0)
		goto fail;
	if (process->terminal) {
		int master = pty_open_master(&error);
		if (master < 0)
			goto fail;
		int slave = pty_open_slave(master, &error);
		if (slave < 0 || pty_mount_console(master, &error) < 0)
			goto fail;
		if (process->console_height && process->console_width)
			pty_set_size(master, process->console_height, process->console_width);
		if (sync_send_fd(sync_fd, SYNC_PTY, master) < 0) {
			error_set(&error, errno, "send the pty to the shim");
			goto fail;
		}
		close(master);
		if (pty_become_terminal(slave, &error) < 0)
			goto fail;
	}
	if (mounts_finish_root(config, &error) < 0)
		goto fail;
	if (config->hostname && config->hostname[0] && sethostname(config->hostname, strlen(config->hostname)) < 0) {
		error_set(&error, errno, "sethostname %s", config->hostname);
		goto fail;
	}
	if (config->domainname && config->domainname[0] &&
	    setdomainname(config->domainname, strlen(config->domainname)) < 0) {
		error_set(&error, errno, "setdomainname %s", config->domainname);
		goto fail;
	}
	if (write_sysctls(config, &error) < 0 || mounts_readonly_paths(config, &error) < 0 ||
	    mounts_mask_paths(config, &error) < 0)
		goto fail;
	if (process->has_oom_score_adj) {
		char value[16];
		snprintf(value, sizeof value, "%d", process->oom_score_adj);
		if (file_write_string("/proc/self/oom_score_adj", value, &error) < 0)
			goto fail;
	}
	if (chdir(process->cwd) < 0) {
		error_set(&error, errno, "chdir to cwd %s", process->cwd);
		goto fail;
	}
	if (user_apply_rlimits(process, &error) < 0)
		goto fail;
	char **env = user_env_with_home(process->env, process->user.uid);
	if (spawn_apply_identity(process, &process->user, &error) < 0)
		goto fail;
	/* A credential change clears the parent-death signal: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (request->init)
		init_run(process->args, env, sync_fd);
	spawn_exec_command(process->args, env, sync_fd);
fail:
	sync_send(sync_fd, SYNC_ERROR, &error);
	_exit(error.exit_code ? error.exit_code : EXIT_SETUP_FAILED);
}

int spawn_container(const struct spawn_request *request, struct spawn_result *result, struct shim_error *error)
{
	const struct oci_config *config = request->config;
	result->pid = -1;
	result->pty_master = -1;
	const struct oci_namespace *mount_namespace = find_namespace(config, CLONE_NEWNS);
	if (!mount_namespace)
		return error_setx(error, "linux.namespaces: a mount namespace is required");
	unsigned long flags = CLONE_NEWNS;
	for (size_t i = 0; i < config->namespace_count; i++) {
		int type = config->namespaces[i].type;
		if (!config->namespaces[i].path && type != CLONE_NEWCGROUP)
			flags |= (unsigned long)type;
	}
	if (config->hostname && config->hostname[0] && !find_namespace(config, CLONE_NEWUTS))
		return error_setx(error, "hostname %s needs a private UTS namespace", config->hostname);
	/* Joining an existing pid namespace applies to children: set it around the clone only. */
	AUTO_FD own_pid_namespace = -1;
	const struct oci_namespace *pid_namespace = find_namespace(config, CLONE_NEWPID);
	if (pid_namespace && pid_namespace->path) {
		own_pid_namespace = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own_pid_namespace < 0)
			return error_set(error, errno, "open /proc/self/ns/pid");
		if (join_namespace(pid_namespace, error) < 0)
			return -1;
	}
	int sync[2];
	if (sync_pair(sync, error) < 0)
		return -1;
	AUTO_FD cgroup_fd = cgroups_open_unified(request->cgroups);
	bool into_cgroup;
	pid_t pid = spawn_clone(flags, cgroup_fd, &into_cgroup);
	if (pid == 0) {
		close(sync[0]);
		container_main(request, sync[1], into_cgroup);
	}
	int clone_errno = errno;
	close(sync[1]);
	if (own_pid_namespace >= 0)
		setns(own_pid_namespace, CLONE_NEWPID);
	if (pid < 0) {
		close(sync[0]);
		return error_set(error, clone_errno, "clone the container process");
	}
	bool exec_reached = false, failed = false;
	for (;;) {
		struct sync_message message;
		int fd = -1;
		int got = sync_receive(sync[0], &message, &fd, error);
		if (got < 0) {
			failed = true;
			break;
		}
		if (got == 0)
			break;
		if (message.type == SYNC_PTY && fd >= 0) {
			if (result->pty_master >= 0)
				close(result->pty_master);
			result->pty_master = fd;
		} else if (fd >= 0) {
			close(fd);
		}
		if (message.type == SYNC_EXEC)
			exec_reached = true;
		if (message.type == SYNC_ERROR) {
			error->exit_code = message.exit_code;
			error->err = message.err;
			memcpy(error->message, message.text, sizeof error->message);
			failed = true;
		}
	}
	close(sync[0]);
	if (!failed && !exec_reached) {
		int status = 0;
		waitpid(pid, &status, 0);
		error->exit_code = 0;
		if (WIFSIGNALED(status))
			error_setx(error, "container setup: the process was killed by signal %d", WTERMSIG(status));
		else
			error_setx(error, "container setup: the process exited with status %d", WEXITSTATUS(status));
		failed = true;
		pid = 0;
	}
	if (failed) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		if (result->pty_master >= 0) {
			close(result->pty_master);
			result->pty_master = -1;
		}
		return -1;
	}
	result->pid = pid;
	return 0;
}

/* exec into a running container (see exec.h). */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "json.h"
#include "pty.h"
#include "spawn.h"
#include "sync.h"
#include "user.h"

static const struct {
	const char *name;
	int type;
} joined_namespaces[] = {
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },       { "pid", CLONE_NEWPID }, { "mnt", CLONE_NEWNS },
};

#define JOINED_COUNT (sizeof joined_namespaces / sizeof joined_namespaces[0])

int exec_enter(pid_t target, const struct cgroups *cgroups, struct shim_error *error)
{
	int fds[JOINED_COUNT];
	for (size_t i = 0; i < JOINED_COUNT; i++)
		fds[i] = -1;
	int result = 0;
	/* Open every namespace first: after joining the mount namespace, /proc is the container's. */
	for (size_t i = 0; i < JOINED_COUNT && result == 0; i++) {
		char path[64], own[64];
		struct stat theirs, ours;
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, joined_namespaces[i].name);
		snprintf(own, sizeof own, "/proc/self/ns/%s", joined_namespaces[i].name);
		if (stat(path, &theirs) < 0) {
			result = error_set(error, errno, "exec: stat %s", path);
			break;
		}
		if (stat(own, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
			continue;
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			result = error_set(error, errno, "exec: open %s", path);
	}
	if (result == 0)
		result = cgroups_enter_self(cgroups, true, error);
	for (size_t i = 0; i < JOINED_COUNT && result == 0; i++) {
		if (fds[i] >= 0 && setns(fds[i], joined_namespaces[i].type) < 0)
			result = error_set(error, errno, "exec: join the %s namespace of pid %d", joined_namespaces[i].name,
					   (int)target);
	}
	for (size_t i = 0; i < JOINED_COUNT; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return result;
}

__attribute__((noreturn)) static void exec_child(const struct exec_request *request, int sync_fd, bool in_unified_cgroup)
{
	struct shim_error error = { 0 };
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	spawn_reset_signals();
	if (!in_unified_cgroup && request->unified_cgroup_fd >= 0 &&
	    cgroups_enter_unified_fd(request->unified_cgroup_fd, &error) < 0)
		goto fail;
	if (request->pty_master >= 0) {
		int slave = pty_open_slave(request->pty_master, &error);
		if (slave < 0 || pty_become_terminal(slave, &error) < 0)
			goto fail;
	} else {
		if (setsid() < 0) {
			error_set(&error, errno, "setsid");
			goto fail;
		}
		for (int fd = 0; fd < 3; fd++) {
			if (request->stdio[fd] != fd && dup2(request->stdio[fd], fd) < 0) {
				error_set(&error, errno, "set up stdio");
				goto fail;
			}
		}
	}
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (user_apply_rlimits(request->process, &error) < 0)
		goto fail;
	if (chdir(request->cwd) < 0) {
		error_set(&error, errno, "chdir to %s", request->cwd);
		goto fail;
	}
	char **env = user_env_with_home(request->env, request->user.uid);
	if (spawn_apply_identity(request->process, &request->user, &error) < 0)
		goto fail;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	spawn_exec_command(request->args, env, sync_fd);
fail:
	/* A command that cannot be set up cannot be invoked: Docker reports 126. */
	if (error.exit_code == 0 || error.exit_code == EXIT_SETUP_FAILED)
		error.exit_code = EXIT_CANNOT_INVOKE;
	sync_send(sync_fd, SYNC_ERROR, &error);
	_exit(error.exit_code);
}

pid_t exec_spawn(const struct exec_request *request, struct shim_error *error)
{
	int sync[2];
	if (sync_pair(sync, error) < 0)
		return -1;
	bool into_cgroup;
	pid_t pid = spawn_clone(0, request->unified_cgroup_fd, &into_cgroup);
	if (pid == 0) {
		close(sync[0]);
		exec_child(request, sync[1], into_cgroup);
	}
	int fork_errno = errno;
	close(sync[1]);
	if (pid < 0) {
		close(sync[0]);
		return error_set(error, fork_errno, "exec: fork");
	}
	bool failed = false, exec_reached = false;
	for (;;) {
		struct sync_message message;
		int fd;
		int got = sync_receive(sync[0], &message, &fd, error);
		if (fd >= 0)
			close(fd);
		if (got <= 0) {
			failed |= got < 0;
			break;
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
		error->exit_code = EXIT_CANNOT_INVOKE;
		error_setx(error, "exec: the process died during setup");
		failed = true;
	}
	if (failed) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* ---- the command line ---- */

struct exec_options {
	pid_t target;
	const char *config_path;
	bool tty;
	bool has_user;
	struct oci_user user;
	const char *cwd;
	char **env_overrides;
	size_t env_override_count;
	char **args;
};

static int usage(const char *message)
{
	dprintf(2, "berth-shim exec: %s\nusage: berth-shim exec --pid PID --config CONFIG.json [--tty] "
		   "[--user UID:GID[:GID,…]] [--cwd DIR] [--env K=V]… -- CMD [ARG…]\n",
		message);
	return EXIT_SETUP_FAILED;
}

static int parse_user(const char *text, struct oci_user *user)
{
	char *end = NULL;
	unsigned long uid = strtoul(text, &end, 10);
	if (end == text || *end != ':')
		return -1;
	const char *gid_text = end + 1;
	unsigned long gid = strtoul(gid_text, &end, 10);
	if (end == gid_text || (*end != '\0' && *end != ':'))
		return -1;
	user->uid = (uid_t)uid;
	user->gid = (gid_t)gid;
	user->additional_gid_count = 0;
	user->additional_gids = NULL;
	if (*end == ':') {
		const char *cursor = end + 1;
		size_t count = 1;
		for (const char *c = cursor; *c; c++)
			count += *c == ',';
		user->additional_gids = calloc(count, sizeof(gid_t));
		if (!user->additional_gids)
			return -1;
		while (*cursor) {
			unsigned long group = strtoul(cursor, &end, 10);
			if (end == cursor || (*end != ',' && *end != '\0'))
				return -1;
			user->additional_gids[user->additional_gid_count++] = (gid_t)group;
			cursor = *end == ',' ? end + 1 : end;
		}
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct exec_options *options)
{
	memset(options, 0, sizeof *options);
	options->env_overrides = calloc((size_t)argc, sizeof(char *));
	if (!options->env_overrides)
		return usage("out of memory");
	for (int i = 0; i < argc; i++) {
		const char *argument = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argument, "--") == 0) {
			options->args = argv + i + 1;
			break;
		}
		if (strcmp(argument, "--tty") == 0 || strcmp(argument, "-t") == 0) {
			options->tty = true;
			continue;
		}
		if (!value)
			return usage("missing value");
		if (strcmp(argument, "--pid") == 0) {
			options->target = (pid_t)atoi(value);
		} else if (strcmp(argument, "--config") == 0) {
			options->config_path = value;
		} else if (strcmp(argument, "--user") == 0) {
			if (parse_user(value, &options->user) < 0)
				return usage("--user must be UID:GID[:GID,…]");
			options->has_user = true;
		} else if (strcmp(argument, "--cwd") == 0) {
			options->cwd = value;
		} else if (strcmp(argument, "--env") == 0) {
			if (!strchr(value, '='))
				return usage("--env must be KEY=VALUE");
			options->env_overrides[options->env_override_count++] = (char *)value;
		} else {
			return usage("unknown option");
		}
		i++;
	}
	if (options->target <= 0)
		return usage("--pid is required");
	if (!options->config_path)
		return usage("--config is required");
	if (!options->args || !options->args[0])
		return usage("a command is required after --");
	if (options->cwd && options->cwd[0] != '/')
		return usage("--cwd must be absolute");
	return 0;
}

/* The container's env with --env entries replacing same-named ones, others appended. */
static char **merge_env(char **base, char **overrides, size_t override_count)
{
	size_t count = 0;
	while (base[count])
		count++;
	char **env = calloc(count + override_count + 1, sizeof *env);
	if (!env)
		return NULL;
	memcpy(env, base, count * sizeof *env);
	for (size_t i = 0; i < override_count; i++) {
		size_t key_length = (size_t)(strchr(overrides[i], '=') - overrides[i]) + 1;
		bool replaced = false;
		for (size_t j = 0; j < count; j++) {
			if (strncmp(env[j], overrides[i], key_length) == 0) {
				env[j] = overrides[i];
				replaced = true;
			}
		}
		if (!replaced)
			env[count++] = overrides[i];
	}
	return env;
}

/* The container's cgroup path: config.json's cgroupsPath, else /berth/<shim.json id>. */
static int container_cgroups(const struct oci_config *config, const char *bundle, struct cgroups *cgroups,
			     struct shim_error *error)
{
	if (config->cgroups_path && config->cgroups_path[0])
		return cgroups_init(cgroups, config->cgroups_path, "", error);
	AUTO_FREE char *shim_path = malloc(strlen(bundle) + 16);
	if (!shim_path)
		return error_set(error, ENOMEM, "exec");
	sprintf(shim_path, "%s/shim.json", bundle);
	struct shim_config shim;
	if (config_load_shim(shim_path, &shim, error) < 0)
		return -1;
	return cgroups_init(cgroups, NULL, shim.id, error);
}

static int relay(int from, int to)
{
	char buffer[4096];
	ssize_t got = read(from, buffer, sizeof buffer);
	if (got <= 0)
		return got < 0 && (errno == EINTR || errno == EAGAIN) ? 1 : 0;
	return write_all(to, buffer, (size_t)got) == 0 ? 1 : 0;
}

int exec_main(int argc, char **argv)
{
	struct exec_options options;
	struct shim_error error = { 0 };
	if (parse_options(argc, argv, &options) < 0)
		return EXIT_SETUP_FAILED;
	struct oci_config config;
	char bundle[PATH_MAX];
	snprintf(bundle, sizeof bundle, "%s", options.config_path);
	if (config_load_oci(options.config_path, dirname(bundle), &config, &error) < 0)
		goto fail;
	struct cgroups cgroups;
	if (container_cgroups(&config, bundle, &cgroups, &error) < 0)
		goto fail;
	if (!cgroups_contains_pid(&cgroups, options.target)) {
		error_setx(&error, "exec: process %d is not in the container's cgroup %s", (int)options.target,
			   cgroups.relative_path);
		goto fail;
	}
	sigset_t handled;
	sigemptyset(&handled);
	int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&handled, forwarded[i]);
	sigaddset(&handled, SIGCHLD);
	sigprocmask(SIG_BLOCK, &handled, NULL);
	AUTO_FD signals = signalfd(-1, &handled, SFD_CLOEXEC);
	if (signals < 0) {
		error_set(&error, errno, "exec: signalfd");
		goto fail;
	}
	/* Before exec_enter: the container's mount namespace has no path to it. */
	AUTO_FD unified_cgroup_fd = cgroups_open_unified(&cgroups);
	if (exec_enter(options.target, &cgroups, &error) < 0)
		goto fail;
	struct exec_request request = {
		.unified_cgroup_fd = unified_cgroup_fd,
		.process = &config.process,
		.args = options.args,
		.env = merge_env(config.process.env, options.env_overrides, options.env_override_count),
		.user = options.has_user ? options.user : config.process.user,
		.cwd = options.cwd ? options.cwd : config.process.cwd,
		.pty_master = -1,
		.stdio = { 0, 1, 2 },
	};
	if (!request.env) {
		error_set(&error, ENOMEM, "exec");
		goto fail;
	}
	struct termios saved_terminal;
	bool terminal_raw = false;
	if (options.tty) {
		request.pty_master = pty_open_master(&error);
		if (request.pty_master < 0)
			goto fail;
		if (isatty(0)) {
			pty_copy_size(0, request.pty_master);
			terminal_raw = pty_raw_mode(0, &saved_terminal) == 0;
		}
	}
	pid_t pid = exec_spawn(&request, &error);
	if (pid < 0) {
		if (terminal_raw)
			tcsetattr(0, TCSANOW, &saved_terminal);
		goto fail;
	}
	int status = 0;
	bool exited = false, stdin_open = options.tty, master_open = options.tty;
	while (!exited || master_open) {
		struct pollfd fds[3] = {
			{ .fd = signals, .events = POLLIN },
			{ .fd = stdin_open ? 0 : -1, .events = POLLIN },
			{ .fd = master_open ? request.pty_master : -1, .events = POLLIN },
		};
		/* Once the command has exited, only drain what the pty still holds. */
		if (poll(fds, 3, exited ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (exited && !(fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
			break;
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo info;
			if (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
				if (info.ssi_signo == SIGCHLD) {
					if (waitpid(pid, &status, WNOHANG) == pid)
						exited = true;
				} else if (info.ssi_signo == SIGWINCH) {
					if (options.tty && isatty(0))
						pty_copy_size(0, request.pty_master);
				} else {
					kill(pid, (int)info.ssi_signo);
				}
			}
		}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
			stdin_open = relay(0, request.pty_master);
		if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
			master_open = relay(request.pty_master, 1);
	}
	if (!exited)
		waitpid(pid, &status, 0);
	if (terminal_raw)
		tcsetattr(0, TCSANOW, &saved_terminal);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
fail:
	dprintf(2, "berth-shim exec: %s\n", error.message);
	return error.exit_code ? error.exit_code : EXIT_SETUP_FAILED;
}

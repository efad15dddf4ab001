/* The container's tiny init (see init.h). */
#include "init.h"

#include <errno.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "spawn.h"
#include "sync.h"

static char *argv_start;
static size_t argv_length;

void init_remember_argv(int argc, char **argv)
{
	if (argc < 1)
		return;
	argv_start = argv[0];
	argv_length = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
}

static void set_title(void)
{
	static const char title[] = "berth-init";
	prctl(PR_SET_NAME, title, 0, 0, 0);
	if (!argv_start || argv_length < sizeof title)
		return;
	memset(argv_start, 0, argv_length);
	memcpy(argv_start, title, sizeof title);
}

void init_run(char *const *args, char *const *env, int sync_fd)
{
	sigset_t all, previous;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &previous);
	pid_t child = fork();
	if (child < 0) {
		struct shim_error error = { 0 };
		error_set(&error, errno, "init: fork the command");
		sync_send(sync_fd, SYNC_ERROR, &error);
		_exit(EXIT_SETUP_FAILED);
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &previous, NULL);
		spawn_exec_command(args, env, sync_fd);
	}
	set_title();
	/* The command holds the sync socket until its execve; init keeps nothing open but stdio. */
	close(sync_fd);
	syscall(SYS_close_range, 3, ~0U, 0);
	for (;;) {
		siginfo_t info;
		int signal_number = sigwaitinfo(&all, &info);
		if (signal_number < 0)
			continue;
		if (signal_number != SIGCHLD) {
			kill(child, signal_number);
			continue;
		}
		for (;;) {
			int status;
			pid_t reaped = waitpid(-1, &status, WNOHANG);
			if (reaped <= 0)
				break;
			if (reaped != child)
				continue;
			if (WIFSIGNALED(status))
				_exit(128 + WTERMSIG(status));
			_exit(WEXITSTATUS(status));
		}
	}
}

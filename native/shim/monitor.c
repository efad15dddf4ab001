/* The per-container monitor (see monitor.h). */
#include "monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cgroups.h"
#include "clock.h"
#include "config.h"
#include "dns.h"
#include "files.h"
#include "health.h"
#include "json.h"
#include "log.h"
#include "mounts.h"
#include "spawn.h"
#include "trim.h"

#define RESTART_DELAY_FIRST_MS 100
#define RESTART_DELAY_MAX_MS 60000
#define RESTART_RESET_AFTER_MS 10000
#define DRAIN_GRACE_MS 250
#define STDIN_BUFFER 4096

enum monitor_state { STATE_RUNNING, STATE_EXITING, STATE_BACKOFF, STATE_DONE };

struct monitor {
	struct shim_config *shim;
	struct oci_config *config;
	struct cgroups cgroups;
	struct log_file log;
	struct log_stream out, err;
	struct health health;
	int signal_fd;
	char *status_path, *pid_path, *fifo_path, *stop_timeout_path;

	enum monitor_state state;
	pid_t pid;
	int out_fd, err_fd;     /* read ends; with a terminal out_fd is the pty master */
	int container_stdin;    /* where stdin bytes go: a pipe or the pty master */
	int fifo_fd;
	char stdin_buffer[STDIN_BUFFER];
	size_t stdin_length;

	struct timespec started_at, finished_at;
	bool ever_started, has_finished;
	int64_t started_ms;
	int exit_code;
	bool oom_killed;
	uint64_t oom_baseline;
	int restart_count;
	int64_t restart_delay_ms;
	int64_t restart_at_ms;
	int64_t drain_deadline_ms;
	char *error_message;

	bool stopping;
	bool killed;
	int64_t kill_deadline_ms; /* 0 = none */
	int64_t trim_at_ms;       /* 0 = none due */
};

/* How long after a (re)start the monitor gives back start-up memory (trim.h). A container that
 * is done sooner never needs it, and its exit is not kept waiting behind a read of smaps. */
#define TRIM_DELAY_MS 100

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void write_status(struct monitor *monitor)
{
	static const char *const names[] = { "running", "running", "restarting", "exited" };
	char started[RFC3339_NANO_LENGTH], finished[RFC3339_NANO_LENGTH];
	struct buf document;
	buf_init(&document);
	if (monitor->ever_started)
		clock_format_rfc3339_nano(monitor->started_at, started);
	else
		snprintf(started, sizeof started, "0001-01-01T00:00:00Z");
	buf_append_string(&document, "{\"status\":\"");
	buf_append_string(&document, names[monitor->state]);
	buf_append_string(&document, "\",\"pid\":");
	buf_append_int(&document, monitor->state == STATE_RUNNING ? monitor->pid : 0);
	buf_append_string(&document, ",\"exitCode\":");
	buf_append_int(&document, monitor->exit_code);
	buf_append_string(&document, monitor->oom_killed ? ",\"oomKilled\":true" : ",\"oomKilled\":false");
	buf_append_string(&document, ",\"startedAt\":\"");
	buf_append_string(&document, started);
	buf_append_string(&document, "\",\"finishedAt\":");
	if (monitor->has_finished && monitor->state != STATE_RUNNING) {
		clock_format_rfc3339_nano(monitor->finished_at, finished);
		buf_append_char(&document, '"');
		buf_append_string(&document, finished);
		buf_append_char(&document, '"');
	} else {
		buf_append_string(&document, "null");
	}
	buf_append_string(&document, ",\"restartCount\":");
	buf_append_int(&document, monitor->restart_count);
	buf_append_string(&document, ",\"error\":");
	if (monitor->error_message)
		json_append_cstring(&document, monitor->error_message);
	else
		buf_append_string(&document, "null");
	buf_append_string(&document, "}\n");
	struct shim_error ignored = { 0 };
	if (!document.failed)
		file_write_atomic(monitor->status_path, document.data, document.length, 0644, &ignored);
	buf_free(&document);
}

static void set_error_message(struct monitor *monitor, const char *message)
{
	free(monitor->error_message);
	monitor->error_message = message ? strdup(message) : NULL;
}

/* One line on the ready pipe, newlines in the message flattened. */
static void report_ready(int ready_fd, const char *line)
{
	if (ready_fd < 0)
		return;
	char copy[640];
	snprintf(copy, sizeof copy, "%s", line);
	for (char *c = copy; *c; c++) {
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	}
	size_t length = strlen(copy);
	copy[length] = '\n';
	write_all(ready_fd, copy, length + 1);
}

static int open_devnull(int flags)
{
	return open("/dev/null", flags | O_CLOEXEC);
}

static int start_container(struct monitor *monitor, struct shim_error *error)
{
	bool terminal = monitor->config->process.terminal;
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, in_pipe[2] = { -1, -1 };
	AUTO_FD null_read = open_devnull(O_RDONLY);
	AUTO_FD null_write = open_devnull(O_WRONLY);
	if (null_read < 0 || null_write < 0)
		return error_set(error, errno, "open /dev/null");
	if (!terminal && (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0)) {
		error_set(error, errno, "create the output pipes");
		goto fail;
	}
	if (!terminal && monitor->shim->stdin_open && pipe2(in_pipe, O_CLOEXEC) < 0) {
		error_set(error, errno, "create the stdin pipe");
		goto fail;
	}
	struct spawn_request request = {
		.config = monitor->config,
		.cgroups = &monitor->cgroups,
		.container_id = monitor->shim->id,
		.init = monitor->shim->init,
		.stdin_fd = in_pipe[0] >= 0 ? in_pipe[0] : null_read,
		.stdout_fd = out_pipe[1] >= 0 ? out_pipe[1] : null_write,
		.stderr_fd = err_pipe[1] >= 0 ? err_pipe[1] : null_write,
	};
	struct spawn_result result;
	monitor->oom_baseline = cgroups_oom_kill_count(&monitor->cgroups);
	if (spawn_container(&request, &result, error) < 0)
		goto fail;
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[1]);
	close_fd(&in_pipe[0]);
	monitor->pid = result.pid;
	if (terminal) {
		monitor->out_fd = result.pty_master;
		monitor->err_fd = -1;
		monitor->container_stdin = monitor->shim->stdin_open ? result.pty_master : -1;
	} else {
		monitor->out_fd = out_pipe[0];
		monitor->err_fd = err_pipe[0];
		monitor->container_stdin = in_pipe[1];
	}
	if (monitor->out_fd >= 0)
		fcntl(monitor->out_fd, F_SETFL, O_NONBLOCK);
	if (monitor->err_fd >= 0)
		fcntl(monitor->err_fd, F_SETFL, O_NONBLOCK);
	if (monitor->container_stdin >= 0 && !terminal)
		fcntl(monitor->container_stdin, F_SETFL, O_NONBLOCK);
	monitor->stdin_length = 0;
	monitor->state = STATE_RUNNING;
	monitor->started_at = clock_realtime();
	monitor->started_ms = clock_monotonic_ms();
	monitor->ever_started = true;
	monitor->oom_killed = false;
	monitor->killed = false;
	monitor->kill_deadline_ms = 0;
	set_error_message(monitor, NULL);
	return 0;
fail:
	close_fd(&out_pipe[0]);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[0]);
	close_fd(&err_pipe[1]);
	close_fd(&in_pipe[0]);
	close_fd(&in_pipe[1]);
	return -1;
}

static void container_exited(struct monitor *monitor, int status)
{
	monitor->exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	monitor->oom_killed = cgroups_oom_kill_count(&monitor->cgroups) > monitor->oom_baseline;
	monitor->finished_at = clock_realtime();
	monitor->has_finished = true;
	monitor->pid = 0;
	monitor->kill_deadline_ms = 0;
	monitor->state = STATE_EXITING;
	monitor->drain_deadline_ms = clock_monotonic_ms() + DRAIN_GRACE_MS;
	if (monitor->shim->has_healthcheck)
		health_container_stopped(&monitor->health);
	/* With a terminal the pty master is also the output: it closes once drained. */
	if (monitor->container_stdin != monitor->out_fd)
		close_fd(&monitor->container_stdin);
	else
		monitor->container_stdin = -1;
	monitor->stdin_length = 0;
}

static bool should_restart(struct monitor *monitor)
{
	int64_t ran_ms = clock_monotonic_ms() - monitor->started_ms;
	if (ran_ms >= RESTART_RESET_AFTER_MS)
		monitor->restart_delay_ms = 0;
	if (monitor->restart_delay_ms == 0)
		monitor->restart_delay_ms = RESTART_DELAY_FIRST_MS;
	else if (monitor->restart_delay_ms < RESTART_DELAY_MAX_MS)
		monitor->restart_delay_ms *= 2;
	if (monitor->restart_delay_ms > RESTART_DELAY_MAX_MS)
		monitor->restart_delay_ms = RESTART_DELAY_MAX_MS;
	if (monitor->stopping)
		return false;
	switch (monitor->shim->restart_policy) {
	case RESTART_ALWAYS:
	case RESTART_UNLESS_STOPPED:
		return true;
	case RESTART_ON_FAILURE:
		return monitor->exit_code != 0 &&
		       (monitor->shim->restart_max_retries == 0 || monitor->restart_count < monitor->shim->restart_max_retries);
	case RESTART_NO:
		return false;
	}
	return false;
}

static void finish_exit(struct monitor *monitor)
{
	log_stream_flush(&monitor->log, &monitor->out);
	log_stream_flush(&monitor->log, &monitor->err);
	close_fd(&monitor->out_fd);
	close_fd(&monitor->err_fd);
	if (should_restart(monitor)) {
		monitor->restart_count++;
		monitor->state = STATE_BACKOFF;
		monitor->restart_at_ms = clock_monotonic_ms() + monitor->restart_delay_ms;
	} else {
		monitor->state = STATE_DONE;
	}
	if (monitor->state != STATE_DONE)
		write_status(monitor);
}

static void restart_container(struct monitor *monitor)
{
	struct shim_error error = { 0 };
	if (start_container(monitor, &error) < 0) {
		/* Docker gives up on a container whose restart fails. */
		monitor->exit_code = error.exit_code ? error.exit_code : EXIT_SETUP_FAILED;
		monitor->finished_at = clock_realtime();
		monitor->has_finished = true;
		set_error_message(monitor, error.message);
		monitor->state = STATE_DONE;
		return;
	}
	write_status(monitor);
	if (monitor->shim->has_healthcheck)
		health_container_started(&monitor->health, monitor->pid, monitor->started_at);
	monitor->trim_at_ms = clock_monotonic_ms() + TRIM_DELAY_MS;
}

static int64_t read_stop_timeout(struct monitor *monitor)
{
	char text[32];
	struct shim_error ignored = { 0 };
	int64_t timeout = monitor->shim->stop_timeout_seconds;
	if (file_read_small(monitor->stop_timeout_path, text, sizeof text, &ignored) > 0) {
		char *end = NULL;
		long long value = strtoll(text, &end, 10);
		if (end != text)
			timeout = value;
		unlink(monitor->stop_timeout_path);
	}
	return timeout;
}

static void request_stop(struct monitor *monitor)
{
	if (monitor->stopping)
		return;
	monitor->stopping = true;
	if (monitor->state == STATE_BACKOFF) {
		monitor->state = STATE_DONE; /* a stop during the back-off cancels the restart */
		return;
	}
	if (monitor->state != STATE_RUNNING || monitor->pid <= 0)
		return;
	int64_t timeout = read_stop_timeout(monitor);
	kill(monitor->pid, monitor->shim->stop_signal);
	if (timeout == 0) {
		kill(monitor->pid, SIGKILL);
		monitor->killed = true;
	} else if (timeout > 0) {
		monitor->kill_deadline_ms = clock_monotonic_ms() + timeout * 1000;
	}
}

static void handle_signals(struct monitor *monitor)
{
	struct signalfd_siginfo info;
	while (read(monitor->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
		if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
			request_stop(monitor);
			continue;
		}
		if (info.ssi_signo != SIGCHLD)
			continue;
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == monitor->pid && monitor->state == STATE_RUNNING)
				container_exited(monitor, status);
			else if (monitor->shim->has_healthcheck)
				health_on_exit(&monitor->health, pid, status);
		}
	}
}

static void read_output(struct monitor *monitor, int *fd, struct log_stream *stream)
{
	char buffer[8192];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t got = read(*fd, buffer, sizeof buffer);
		if (got > 0) {
			log_stream_feed(&monitor->log, stream, buffer, (size_t)got);
			continue;
		}
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF, or EIO from a pty whose slave side is gone. */
		log_stream_flush(&monitor->log, stream);
		if (*fd == monitor->container_stdin)
			monitor->container_stdin = -1;
		close_fd(fd);
		return;
	}
}

static void relay_stdin(struct monitor *monitor, short fifo_events, short stdin_events)
{
	if ((fifo_events & (POLLIN | POLLHUP)) && monitor->stdin_length == 0) {
		ssize_t got = read(monitor->fifo_fd, monitor->stdin_buffer, sizeof monitor->stdin_buffer);
		if (got > 0)
			monitor->stdin_length = (size_t)got;
		else if (got == 0 && monitor->shim->stdin_once)
			close_fd(&monitor->fifo_fd); /* the writer is gone for good: EOF once the buffer is out */
	}
	if (monitor->stdin_length > 0 && monitor->container_stdin >= 0 && (stdin_events & POLLOUT)) {
		ssize_t written = write(monitor->container_stdin, monitor->stdin_buffer, monitor->stdin_length);
		if (written > 0) {
			memmove(monitor->stdin_buffer, monitor->stdin_buffer + written, monitor->stdin_length - (size_t)written);
			monitor->stdin_length -= (size_t)written;
		} else if (written < 0 && errno != EAGAIN && errno != EINTR) {
			monitor->stdin_length = 0; /* the container closed its stdin */
		}
	}
	if (stdin_events & (POLLERR | POLLHUP)) {
		monitor->stdin_length = 0;
		if (monitor->container_stdin != monitor->out_fd)
			close_fd(&monitor->container_stdin);
	}
	/* stdinOnce: the writer left and everything it sent is delivered; a pipe closes (EOF for the
	 * container), a pty is left open (closing it would hang the terminal up). */
	if (monitor->shim->stdin_once && monitor->fifo_fd < 0 && monitor->stdin_length == 0 && monitor->container_stdin >= 0 &&
	    monitor->container_stdin != monitor->out_fd)
		close_fd(&monitor->container_stdin);
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static void supervise(struct monitor *monitor)
{
	while (monitor->state != STATE_DONE) {
		int64_t deadline = 0;
		if (monitor->state == STATE_BACKOFF)
			deadline = earliest(deadline, monitor->restart_at_ms);
		if (monitor->state == STATE_EXITING)
			deadline = earliest(deadline, monitor->drain_deadline_ms);
		if (monitor->state == STATE_RUNNING && !monitor->killed)
			deadline = earliest(deadline, monitor->kill_deadline_ms);
		if (monitor->state == STATE_RUNNING && monitor->shim->has_healthcheck)
			deadline = earliest(deadline, health_next_deadline(&monitor->health));
		if (dns_active())
			deadline = earliest(deadline, dns_next_deadline());
		deadline = earliest(deadline, monitor->trim_at_ms);
		int timeout = -1;
		if (deadline) {
			int64_t wait = deadline - clock_monotonic_ms();
			timeout = wait < 0 ? 0 : wait > INT32_MAX ? INT32_MAX : (int)wait;
		}
		bool want_fifo = monitor->fifo_fd >= 0 && monitor->stdin_length == 0 && monitor->container_stdin >= 0;
		bool want_stdin = monitor->container_stdin >= 0 && monitor->stdin_length > 0;
		struct pollfd fds[6 + DNS_POLL_MAX] = {
			{ .fd = monitor->signal_fd, .events = POLLIN },
			{ .fd = monitor->out_fd, .events = POLLIN },
			{ .fd = monitor->err_fd, .events = POLLIN },
			{ .fd = want_fifo ? monitor->fifo_fd : -1, .events = POLLIN },
			{ .fd = want_stdin ? monitor->container_stdin : -1, .events = POLLOUT },
			{ .fd = monitor->shim->has_healthcheck ? health_output_fd(&monitor->health) : -1, .events = POLLIN },
		};
		/* The DNS server's sockets follow the monitor's own six. */
		size_t dns_count = dns_active() ? dns_poll_fds(fds + 6) : 0;
		if (poll(fds, 6 + dns_count, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			handle_signals(monitor);
		if (monitor->out_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
			read_output(monitor, &monitor->out_fd, &monitor->out);
		if (monitor->err_fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)))
			read_output(monitor, &monitor->err_fd, &monitor->err);
		if (fds[3].revents || fds[4].revents)
			relay_stdin(monitor, fds[3].revents, fds[4].revents);
		if (fds[5].revents && health_output_fd(&monitor->health) >= 0)
			health_on_output(&monitor->health);
		int64_t now = clock_monotonic_ms();
		if (dns_count) {
			dns_process(fds + 6, dns_count, now);
			if (dns_trim_due(now))
				trim_memory();
		}
		if (monitor->state == STATE_RUNNING && !monitor->killed && monitor->kill_deadline_ms &&
		    now >= monitor->kill_deadline_ms) {
			kill(monitor->pid, SIGKILL);
			monitor->killed = true;
		}
		if (monitor->state == STATE_EXITING &&
		    ((monitor->out_fd < 0 && monitor->err_fd < 0) || now >= monitor->drain_deadline_ms))
			finish_exit(monitor);
		if (monitor->state == STATE_BACKOFF && now >= monitor->restart_at_ms)
			restart_container(monitor);
		if (monitor->state == STATE_RUNNING && monitor->shim->has_healthcheck)
			health_on_timer(&monitor->health, now);
		if (monitor->trim_at_ms && now >= monitor->trim_at_ms) {
			monitor->trim_at_ms = 0;
			trim_memory();
		}
	}
}

/* The container's own network namespace (shim.json netns.release): `berth-netns delete PATH`
 * ($BERTH_NETNS, else beside this binary) frees its host-side veth names and unbinds it as soon
 * as the container is done, as Docker's daemon does, rather than when a berth command next tears
 * the network down (which then finds nothing left to spawn for). Best effort: if it fails, that
 * command's own teardown does it. */
static void release_netns(const char *path)
{
	char helper[PATH_MAX];
	const char *override = getenv("BERTH_NETNS");
	if (override && override[0] == '/') {
		snprintf(helper, sizeof helper, "%s", override);
	} else {
		ssize_t length = readlink("/proc/self/exe", helper, sizeof helper - 1);
		if (length <= 0)
			return;
		helper[length] = '\0';
		char *slash = strrchr(helper, '/');
		if (!slash || (size_t)(slash - helper) + sizeof "/berth-netns" > sizeof helper)
			return;
		strcpy(slash, "/berth-netns");
	}
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(helper, "berth-netns", "delete", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
	}
}

/* Undo everything the start did; collect, never stop early. */
static void teardown(struct monitor *monitor, bool unmount_rootfs)
{
	struct shim_error error = { 0 };
	if (monitor->shim->has_healthcheck)
		health_container_stopped(&monitor->health);
	dns_stop();
	close_fd(&monitor->fifo_fd);
	if (monitor->fifo_path)
		unlink(monitor->fifo_path);
	if (cgroups_remove(&monitor->cgroups, &error) < 0 && !monitor->error_message)
		set_error_message(monitor, error.message);
	error_clear(&error);
	if (unmount_rootfs && mounts_unmount_rootfs(monitor->shim, &error) < 0 && !monitor->error_message)
		set_error_message(monitor, error.message);
	if (monitor->shim->release_netns)
		release_netns(monitor->shim->release_netns);
}

static int setup_signals(struct monitor *monitor, struct shim_error *error)
{
	sigset_t handled;
	sigemptyset(&handled);
	sigaddset(&handled, SIGCHLD);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGHUP);
	sigaddset(&handled, SIGQUIT);
	sigaddset(&handled, SIGUSR1);
	sigaddset(&handled, SIGUSR2);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &handled, NULL) < 0)
		return error_set(error, errno, "sigprocmask");
	monitor->signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
	if (monitor->signal_fd < 0)
		return error_set(error, errno, "signalfd");
	return 0;
}

static int write_pid_file(struct monitor *monitor, struct shim_error *error)
{
	char text[24];
	int length = snprintf(text, sizeof text, "%d\n", (int)getpid());
	return file_write_atomic(monitor->pid_path, text, (size_t)length, 0644, error);
}

static int open_stdin_fifo(struct monitor *monitor, struct shim_error *error)
{
	if (!monitor->shim->stdin_open)
		return 0;
	if (mkfifo(monitor->fifo_path, 0600) < 0 && errno != EEXIST)
		return error_set(error, errno, "mkfifo %s", monitor->fifo_path);
	/* Read-write: the FIFO never reports EOF, so writers may come and go. With stdinOnce,
	 * read-only: once the first writer has come and gone, reads see EOF, and so does the
	 * container (before any writer, Linux reports neither data nor hang-up). */
	monitor->fifo_fd = open(monitor->fifo_path, (monitor->shim->stdin_once ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC);
	if (monitor->fifo_fd < 0)
		return error_set(error, errno, "open %s", monitor->fifo_path);
	return 0;
}

/* The embedded DNS server (dns.h), listening in the container's network namespace before
 * the container's first process runs. Never fatal: problems go to <runDir>/dns.log. */
static void start_dns(struct monitor *monitor)
{
	const char *netns_path = NULL;
	for (size_t i = 0; i < monitor->config->namespace_count; i++) {
		if (monitor->config->namespaces[i].type == CLONE_NEWNET && monitor->config->namespaces[i].path)
			netns_path = monitor->config->namespaces[i].path;
	}
	dns_start(monitor->shim->dns_config, netns_path, monitor->shim->run_dir);
}

/* Everything up to the ready line; returns 0 when the container runs. */
/* Not inlined, for the same reason as load_inputs. */
__attribute__((noinline)) static int run_start(struct monitor *monitor, int ready_fd)
{
	struct shim_error error = { 0 };
	bool rootfs_mounted = false;
	monitor->status_path = path_join(monitor->shim->run_dir, "status.json");
	monitor->pid_path = path_join(monitor->shim->run_dir, "shim.pid");
	monitor->fifo_path = path_join(monitor->shim->run_dir, "stdin");
	monitor->stop_timeout_path = path_join(monitor->shim->run_dir, "stop-timeout");
	if (!monitor->status_path || !monitor->pid_path || !monitor->fifo_path || !monitor->stop_timeout_path) {
		error_set(&error, ENOMEM, "start");
		goto fail_early;
	}
	/* Signals first: a SIGTERM from now on is a stop request, never a death that leaves shim.pid. */
	if (setup_signals(monitor, &error) < 0 || mkdir_parents(monitor->shim->run_dir, 0755, &error) < 0 ||
	    write_pid_file(monitor, &error) < 0)
		goto fail_early;
	if (cgroups_init(&monitor->cgroups, monitor->config->cgroups_path, monitor->shim->id, &error) < 0)
		goto fail;
	if (mounts_mount_rootfs(monitor->shim, &rootfs_mounted, &error) < 0)
		goto fail;
	if (cgroups_create(&monitor->cgroups, &monitor->config->resources, &error) < 0)
		goto fail;
	if (log_open(&monitor->log, monitor->shim->log_path, monitor->shim->log_max_size, monitor->shim->log_max_files,
		     &error) < 0)
		goto fail;
	if (open_stdin_fifo(monitor, &error) < 0)
		goto fail;
	if (monitor->shim->has_healthcheck &&
	    health_init(&monitor->health, monitor->shim, monitor->config, &monitor->cgroups) < 0) {
		error_set(&error, ENOMEM, "healthcheck");
		goto fail;
	}
	if (monitor->shim->dns_config)
		start_dns(monitor);
	if (start_container(monitor, &error) < 0)
		goto fail;
	write_status(monitor);
	char line[48];
	snprintf(line, sizeof line, "ok %d", (int)monitor->pid);
	report_ready(ready_fd, line);
	if (monitor->shim->has_healthcheck)
		health_container_started(&monitor->health, monitor->pid, monitor->started_at);
	return 0;
fail:
	teardown(monitor, rootfs_mounted);
	log_close(&monitor->log);
fail_early:;
	char message[640];
	int code = error.exit_code ? error.exit_code : EXIT_SETUP_FAILED;
	monitor->state = STATE_DONE;
	monitor->exit_code = code;
	monitor->finished_at = clock_realtime();
	monitor->has_finished = true;
	set_error_message(monitor, error.message);
	if (monitor->status_path)
		write_status(monitor);
	if (monitor->pid_path)
		unlink(monitor->pid_path);
	snprintf(message, sizeof message, "error %d %s", code, error.message);
	report_ready(ready_fd, message);
	return code;
}

/* Not inlined: its buffers stay below the frame that trim_memory() releases. */
__attribute__((noinline)) static int load_inputs(const char *bundle_dir, struct shim_config *shim,
						  struct oci_config *config, struct shim_error *error)
{
	char shim_path[PATH_MAX], config_path[PATH_MAX];
	snprintf(shim_path, sizeof shim_path, "%s/shim.json", bundle_dir);
	snprintf(config_path, sizeof config_path, "%s/config.json", bundle_dir);
	if (config_load_shim(shim_path, shim, error) < 0 || config_load_oci(config_path, bundle_dir, config, error) < 0)
		return -1;
	return 0;
}


/* Close every descriptor above stderr except the two given (either may be -1). */
static void close_inherited_fds(int keep_a, int keep_b)
{
	DIR *directory = opendir("/proc/self/fd");
	if (directory == NULL)
		return;
	int listing = dirfd(directory);
	int fds[1024];
	size_t count = 0;
	struct dirent *entry;
	while ((entry = readdir(directory)) != NULL && count < sizeof fds / sizeof fds[0]) {
		int fd = atoi(entry->d_name);
		if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd <= 2 || fd == listing || fd == keep_a || fd == keep_b)
			continue;
		fds[count++] = fd;
	}
	closedir(directory);
	for (size_t i = 0; i < count; i++)
		close(fds[i]);
}

int monitor_start_main(const char *bundle_dir)
{
	static struct shim_config shim;
	static struct oci_config config;
	static struct monitor monitor;
	struct shim_error error = { 0 };
	/* The engine may be gone: a closed ready pipe must be an EPIPE, not a death. */
	signal(SIGPIPE, SIG_IGN);
	int ready_fd = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
	if (ready_fd >= 0)
		fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	/* Keep fds 0-2 taken so nothing else lands there. */
	for (int fd = open_devnull(O_RDWR); fd >= 0 && fd <= 2; fd = open_devnull(O_RDWR))
		fcntl(fd, F_SETFD, 0);
	if (load_inputs(bundle_dir, &shim, &config, &error) < 0) {
		char line[640];
		snprintf(line, sizeof line, "error %d %s", EXIT_SETUP_FAILED, error.message);
		report_ready(ready_fd, line);
		return EXIT_SETUP_FAILED;
	}
	/* Daemonise: the child supervises in its own session; the parent waits only for
	 * the outcome of the start and exits with it. */
	int outcome[2];
	if (pipe2(outcome, O_CLOEXEC) < 0) {
		char line[128];
		snprintf(line, sizeof line, "error %d pipe: %s", EXIT_SETUP_FAILED, strerror(errno));
		report_ready(ready_fd, line);
		return EXIT_SETUP_FAILED;
	}
	pid_t child = fork();
	if (child < 0) {
		char line[128];
		snprintf(line, sizeof line, "error %d fork: %s", EXIT_SETUP_FAILED, strerror(errno));
		report_ready(ready_fd, line);
		return EXIT_SETUP_FAILED;
	}
	if (child > 0) {
		close(outcome[1]);
		if (ready_fd >= 0)
			close(ready_fd);
		unsigned char code = 1;
		ssize_t got;
		do {
			got = read(outcome[0], &code, 1);
		} while (got < 0 && errno == EINTR);
		return got == 1 ? code : 1;
	}
	close(outcome[0]);
	setsid();
	/* The monitor outlives whoever started it: keep none of its descriptors (a caller reading
	 * a pipe to EOF would otherwise wait for this container's whole life). */
	close_inherited_fds(ready_fd, outcome[1]);
	if (chdir("/") < 0) {
		/* nothing sensible to do: "/" always exists */
	}
	monitor.shim = &shim;
	monitor.config = &config;
	monitor.signal_fd = monitor.out_fd = monitor.err_fd = monitor.container_stdin = monitor.fifo_fd = -1;
	monitor.log.fd = -1;
	monitor.out.name = "stdout";
	monitor.err.name = "stderr";
	int code = run_start(&monitor, ready_fd);
	unsigned char byte = (unsigned char)code;
	write_all(outcome[1], &byte, 1);
	close(outcome[1]);
	if (ready_fd >= 0)
		close(ready_fd);
	if (code != 0)
		return code;
	monitor.trim_at_ms = clock_monotonic_ms() + TRIM_DELAY_MS;
	supervise(&monitor);
	teardown(&monitor, true);
	log_stream_free(&monitor.out);
	log_stream_free(&monitor.err);
	log_close(&monitor.log);
	monitor.state = STATE_DONE;
	write_status(&monitor);
	unlink(monitor.pid_path);
	return 0;
}

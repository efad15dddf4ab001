/* Healthcheck scheduling and probes (see health.h). */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "exec.h"
#include "files.h"
#include "json.h"

int health_init(struct health *health, const struct shim_config *shim, const struct oci_config *config,
		const struct cgroups *cgroups)
{
	memset(health, 0, sizeof *health);
	health->probe_fd = -1;
	health->check = &shim->healthcheck;
	health->config = config;
	health->cgroups = cgroups;
	health->path = path_join(shim->run_dir, "health.json");
	return health->path ? 0 : -1;
}

static const char *status_name(enum health_status status)
{
	switch (status) {
	case HEALTH_STARTING: return "starting";
	case HEALTH_HEALTHY: return "healthy";
	case HEALTH_UNHEALTHY: return "unhealthy";
	}
	return "starting";
}

static void write_state(struct health *health)
{
	struct buf document;
	buf_init(&document);
	buf_append_string(&document, "{\"status\":\"");
	buf_append_string(&document, status_name(health->status));
	buf_append_string(&document, "\",\"failingStreak\":");
	buf_append_int(&document, health->failing_streak);
	buf_append_string(&document, ",\"log\":[");
	for (size_t i = 0; i < health->log_count; i++) {
		const struct health_result *result = &health->log[i];
		char start[RFC3339_NANO_LENGTH], end[RFC3339_NANO_LENGTH];
		clock_format_rfc3339_nano(result->start, start);
		clock_format_rfc3339_nano(result->end, end);
		buf_append_string(&document, i ? ",{\"start\":\"" : "{\"start\":\"");
		buf_append_string(&document, start);
		buf_append_string(&document, "\",\"end\":\"");
		buf_append_string(&document, end);
		buf_append_string(&document, "\",\"exitCode\":");
		buf_append_int(&document, result->exit_code);
		buf_append_string(&document, ",\"output\":");
		json_append_cstring(&document, result->output);
		buf_append_char(&document, '}');
	}
	buf_append_string(&document, "]}\n");
	struct shim_error ignored = { 0 };
	if (!document.failed)
		file_write_atomic(health->path, document.data, document.length, 0644, &ignored);
	buf_free(&document);
}

static int64_t current_interval_ms(const struct health *health)
{
	struct timespec now = clock_realtime();
	int64_t since_start = (now.tv_sec - health->container_started.tv_sec) * 1000 +
			      (now.tv_nsec - health->container_started.tv_nsec) / 1000000;
	if (since_start < health->check->start_period_ms && health->status == HEALTH_STARTING)
		return health->check->start_interval_ms;
	return health->check->interval_ms;
}

static void kill_probe(struct health *health)
{
	if (health->probe_pid > 0) {
		kill(health->probe_pid, SIGKILL);
		waitpid(health->probe_pid, NULL, 0);
		health->probe_pid = 0;
	}
	if (health->probe_fd >= 0)
		close(health->probe_fd);
	health->probe_fd = -1;
	free(health->output);
	health->output = NULL;
	health->output_length = 0;
}

void health_container_started(struct health *health, pid_t container_pid, struct timespec started)
{
	kill_probe(health);
	health->container_pid = container_pid;
	health->container_started = started;
	health->status = HEALTH_STARTING;
	health->failing_streak = 0;
	health->next_probe_ms = clock_monotonic_ms() + current_interval_ms(health);
	write_state(health);
}

void health_container_stopped(struct health *health)
{
	kill_probe(health);
	health->container_pid = 0;
	health->next_probe_ms = 0;
}

int64_t health_next_deadline(const struct health *health)
{
	if (health->probe_pid > 0)
		return health->probe_timed_out ? 0 : health->probe_deadline_ms;
	return health->next_probe_ms;
}

int health_output_fd(const struct health *health)
{
	return health->probe_fd;
}

/* The probe runner: a child of the shim that joins the container, forks the test
 * command, and waits for it; SIGTERM (the timeout) kills the command's process group. */
__attribute__((noreturn)) static void probe_main(struct health *health, int output_fd)
{
	struct shim_error error = { 0 };
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0)
		_exit(EXIT_SETUP_FAILED);
	syscall(SYS_close_range, 3, ~0U, 0);
	sigset_t waited;
	sigemptyset(&waited);
	sigaddset(&waited, SIGCHLD);
	sigaddset(&waited, SIGTERM);
	sigprocmask(SIG_SETMASK, &waited, NULL);
	const struct oci_process *process = &health->config->process;
	/* Before exec_enter: the container's mount namespace has no path to it. */
	int unified_cgroup_fd = cgroups_open_unified(health->cgroups);
	struct exec_request request = {
		.unified_cgroup_fd = unified_cgroup_fd,
		.process = process,
		.args = health->check->test,
		.env = process->env,
		.user = process->user,
		.cwd = process->cwd,
		.pty_master = -1,
		.stdio = { 0, 1, 2 },
	};
	if (exec_enter(health->container_pid, health->cgroups, &error) < 0) {
		dprintf(1, "%s\n", error.message);
		_exit(EXIT_CANNOT_INVOKE);
	}
	pid_t command = exec_spawn(&request, &error);
	if (command < 0) {
		dprintf(1, "%s\n", error.message);
		_exit(error.exit_code ? error.exit_code : EXIT_CANNOT_INVOKE);
	}
	close(1);
	close(2);
	for (;;) {
		int signal_number = sigwaitinfo(&waited, NULL);
		if (signal_number == SIGTERM) {
			kill(-command, SIGKILL);
			kill(command, SIGKILL);
		}
		int status;
		if (waitpid(command, &status, WNOHANG) == command)
			_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
	}
}

static void start_probe(struct health *health, int64_t now_ms)
{
	int pipe_fds[2];
	health->next_probe_ms = 0;
	health->probe_start = clock_realtime();
	health->probe_timed_out = false;
	health->output_length = 0;
	health->output = malloc(HEALTH_OUTPUT_MAX + 1);
	if (!health->output || pipe2(pipe_fds, O_CLOEXEC) < 0) {
		free(health->output);
		health->output = NULL;
		health->next_probe_ms = now_ms + current_interval_ms(health);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pipe_fds[0]);
		probe_main(health, pipe_fds[1]);
	}
	close(pipe_fds[1]);
	if (pid < 0) {
		close(pipe_fds[0]);
		free(health->output);
		health->output = NULL;
		health->next_probe_ms = now_ms + current_interval_ms(health);
		return;
	}
	fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
	health->probe_pid = pid;
	health->probe_fd = pipe_fds[0];
	health->probe_deadline_ms = now_ms + health->check->timeout_ms;
}

void health_on_timer(struct health *health, int64_t now_ms)
{
	if (health->container_pid <= 0)
		return;
	if (health->probe_pid > 0) {
		if (!health->probe_timed_out && now_ms >= health->probe_deadline_ms) {
			health->probe_timed_out = true;
			kill(health->probe_pid, SIGTERM);
		}
		return;
	}
	if (health->next_probe_ms && now_ms >= health->next_probe_ms)
		start_probe(health, now_ms);
}

void health_on_output(struct health *health)
{
	char discard[4096];
	for (;;) {
		char *target = discard;
		size_t room = sizeof discard;
		if (health->output && health->output_length < HEALTH_OUTPUT_MAX) {
			target = health->output + health->output_length;
			room = HEALTH_OUTPUT_MAX - health->output_length;
		}
		ssize_t got = read(health->probe_fd, target, room);
		if (got > 0) {
			if (target != discard)
				health->output_length += (size_t)got;
			continue;
		}
		if (got == 0) {
			close(health->probe_fd);
			health->probe_fd = -1;
		}
		return;
	}
}

/* Go's time.Duration formatting for whole milliseconds ("500ms", "1.5s", "1m30s"). */
static void format_duration(int64_t ms, char *out, size_t size)
{
	if (ms < 1000) {
		snprintf(out, size, "%lldms", (long long)ms);
		return;
	}
	int64_t hours = ms / 3600000, minutes = ms / 60000 % 60, seconds = ms / 1000 % 60, fraction = ms % 1000;
	char second_text[24];
	if (fraction) {
		snprintf(second_text, sizeof second_text, "%lld.%03lld", (long long)seconds, (long long)fraction);
		size_t end = strlen(second_text);
		while (second_text[end - 1] == '0')
			second_text[--end] = '\0';
	} else {
		snprintf(second_text, sizeof second_text, "%lld", (long long)seconds);
	}
	if (hours)
		snprintf(out, size, "%lldh%lldm%ss", (long long)hours, (long long)minutes, second_text);
	else if (minutes)
		snprintf(out, size, "%lldm%ss", (long long)minutes, second_text);
	else
		snprintf(out, size, "%ss", second_text);
}

static void record_result(struct health *health, int exit_code, char *output)
{
	if (health->log_count == HEALTH_LOG_ENTRIES) {
		free(health->log[0].output);
		memmove(&health->log[0], &health->log[1], (HEALTH_LOG_ENTRIES - 1) * sizeof health->log[0]);
		health->log_count--;
	}
	struct health_result *result = &health->log[health->log_count++];
	result->start = health->probe_start;
	result->end = clock_realtime();
	result->exit_code = exit_code;
	result->output = output;
	if (exit_code == 0) {
		health->failing_streak = 0;
		health->status = HEALTH_HEALTHY;
	} else {
		bool counts = true;
		if (health->status == HEALTH_STARTING) {
			int64_t since_start = (result->start.tv_sec - health->container_started.tv_sec) * 1000 +
					      (result->start.tv_nsec - health->container_started.tv_nsec) / 1000000;
			counts = since_start >= health->check->start_period_ms;
		}
		if (counts && ++health->failing_streak >= health->check->retries)
			health->status = HEALTH_UNHEALTHY;
	}
	write_state(health);
}

bool health_on_exit(struct health *health, pid_t pid, int status)
{
	if (pid <= 0 || pid != health->probe_pid)
		return false;
	health->probe_pid = 0;
	if (health->probe_fd >= 0) {
		health_on_output(health);
		if (health->probe_fd >= 0)
			close(health->probe_fd);
		health->probe_fd = -1;
	}
	char *output = health->output;
	health->output = NULL;
	int exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	if (health->probe_timed_out) {
		char duration[80];
		format_duration(health->check->timeout_ms, duration, sizeof duration);
		free(output);
		output = malloc(128);
		if (output)
			snprintf(output, 128, "Health check exceeded timeout (%s)", duration);
		exit_code = -1;
	} else if (output) {
		output[health->output_length] = '\0';
	}
	health->output_length = 0;
	record_result(health, exit_code, output);
	if (health->container_pid > 0)
		health->next_probe_ms = clock_monotonic_ms() + current_interval_ms(health);
	return true;
}

/* Healthchecks, as Docker runs them: a probe every interval (start_interval while the
 * container is still starting inside start_period), measured from the end of the
 * previous probe; a probe is the test command run in the container through exec.h,
 * killed at timeout (exit -1, "Health check exceeded timeout (…)"); exit 0 is healthy,
 * anything else a failure that counts towards retries unless the container is still
 * starting within start_period. health.json keeps the last 5 results, outputs capped
 * at 4 KiB. The monitor drives it: deadlines, the probe's output fd, its exit. */
#ifndef BERTH_HEALTH_H
#define BERTH_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroups.h"
#include "config.h"

#define HEALTH_LOG_ENTRIES 5
#define HEALTH_OUTPUT_MAX 4096

enum health_status { HEALTH_STARTING, HEALTH_HEALTHY, HEALTH_UNHEALTHY };

struct health_result {
	struct timespec start, end;
	int exit_code;
	char *output;
};

struct health {
	const struct shim_healthcheck *check;
	const struct oci_config *config;
	const struct cgroups *cgroups;
	char *path; /* health.json */
	enum health_status status;
	int failing_streak;
	struct health_result log[HEALTH_LOG_ENTRIES];
	size_t log_count;
	struct timespec container_started; /* realtime, for start_period */
	pid_t container_pid;
	int64_t next_probe_ms; /* monotonic; 0 = none scheduled */
	/* The running probe. */
	pid_t probe_pid;
	int probe_fd;
	int64_t probe_deadline_ms;
	bool probe_timed_out;
	struct timespec probe_start;
	char *output;
	size_t output_length;
};

int health_init(struct health *health, const struct shim_config *shim, const struct oci_config *config,
		const struct cgroups *cgroups);
void health_container_started(struct health *health, pid_t container_pid, struct timespec started);
void health_container_stopped(struct health *health);
/* Earliest monotonic deadline the monitor must wake up for, or 0. */
int64_t health_next_deadline(const struct health *health);
void health_on_timer(struct health *health, int64_t now_ms);
/* The running probe's output fd for poll, or -1. */
int health_output_fd(const struct health *health);
void health_on_output(struct health *health);
/* True when pid was the probe (its result is then recorded). */
bool health_on_exit(struct health *health, pid_t pid, int status);

#endif

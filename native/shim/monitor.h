/* The supervisor: `berth-shim start`. Daemonises, mounts the rootfs, creates the
 * cgroups, starts the container (spawn.h), reports `ok <pid>` or `error <code> <msg>`
 * on the ready pipe (fd 3), then supervises with one poll loop: log pipes (or the pty),
 * the stdin FIFO relay, SIGCHLD, SIGTERM (stop: stop signal, timeout, SIGKILL), the
 * restart policy with Docker's back-off, and the healthcheck; status.json is rewritten
 * atomically on every change. When it stops for good it removes the cgroups, unmounts
 * the rootfs, writes the final status.json, removes shim.pid and exits. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

/* `berth-shim start <bundle-dir>`; returns the process exit status. */
int monitor_start_main(const char *bundle_dir);

#endif

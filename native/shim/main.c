/* berth-shim: the per-container monitor (`start`) and exec helper (`exec`).
 * The contract with the TypeScript engine is native/PROTOCOL.md. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "exec.h"
#include "init.h"
#include "monitor.h"

static int usage(void)
{
	dprintf(2, "usage: berth-shim start <bundle-dir>\n"
		   "       berth-shim exec --pid PID --config CONFIG.json [--tty] [--user UID:GID[:GID,…]] "
		   "[--cwd DIR] [--env K=V]… -- CMD [ARG…]\n");
	return EXIT_SETUP_FAILED;
}

int main(int argc, char **argv)
{
	init_remember_argv(argc, argv);
	if (argc == 3 && strcmp(argv[1], "start") == 0)
		return monitor_start_main(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "exec") == 0)
		return exec_main(argc - 2, argv + 2);
	return usage();
}

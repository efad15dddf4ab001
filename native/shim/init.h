/* berth's tiny init (`init: true`): pid 1 of the container forks the command, reaps
 * every zombie, forwards every signal it gets to the command (a pid 1 ignores signals
 * it has no handler for, so stop would otherwise not work), and exits with the
 * command's status (128+n when killed by signal n) as soon as the command exits. */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

/* main() hands over its argv so that init can replace the command line the container
 * sees (`berth-init`, instead of the shim's with host paths). */
void init_remember_argv(int argc, char **argv);
__attribute__((noreturn)) void init_run(char *const *args, char *const *env, int sync_fd);

#endif

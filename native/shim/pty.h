/* Pseudo-terminals: opening a pty pair from the container's own devpts instance,
 * /dev/console, making a slave the controlling terminal and stdio, window sizes, and
 * raw mode for the caller's terminal during `exec --tty`. */
#ifndef BERTH_PTY_H
#define BERTH_PTY_H

#include <termios.h>

#include "error.h"

/* Open /dev/ptmx (of the current mount namespace) and unlock it. */
int pty_open_master(struct shim_error *error);
/* The slave of master, opened through the master (TIOCGPTPEER). */
int pty_open_slave(int master, struct shim_error *error);
/* Bind the slave of master onto /dev/console (inside the container, after pivot_root). */
int pty_mount_console(int master, struct shim_error *error);
/* setsid, make slave the controlling terminal, and dup it to fds 0, 1, 2. */
int pty_become_terminal(int slave, struct shim_error *error);
int pty_set_size(int fd, unsigned rows, unsigned columns);
int pty_copy_size(int from, int to);
int pty_raw_mode(int fd, struct termios *saved);

#endif

/* The pipe between the shim and a child it is setting up (a SOCK_SEQPACKET socketpair,
 * close-on-exec on both ends). A closed set of messages travels child → parent:
 *   SYNC_PTY    the pty master of the container's terminal, as SCM_RIGHTS
 *   SYNC_EXEC   setup is done; execve comes next
 *   SYNC_ERROR  setup or execve failed: Docker exit code, errno, message
 * The parent reads until EOF (execve closed the child's end). EOF after SYNC_EXEC with
 * no SYNC_ERROR means the command runs. */
#ifndef BERTH_SYNC_H
#define BERTH_SYNC_H

#include <stdint.h>

#include "error.h"

enum sync_type { SYNC_PTY = 1, SYNC_EXEC = 2, SYNC_ERROR = 3 };

struct sync_message {
	uint32_t type;
	int32_t exit_code;
	int32_t err;
	char text[sizeof(((struct shim_error *)0)->message)];
};

int sync_pair(int fds[2], struct shim_error *error);
int sync_send(int socket, enum sync_type type, const struct shim_error *failure);
int sync_send_fd(int socket, enum sync_type type, int fd);
/* 1 = a message (and *fd when one came along, else -1), 0 = EOF, -1 = error. */
int sync_receive(int socket, struct sync_message *message, int *fd, struct shim_error *error);

#endif

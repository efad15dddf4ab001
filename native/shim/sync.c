/* Parent/child setup messages (see sync.h). */
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int sync_pair(int fds[2], struct shim_error *error)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return error_set(error, errno, "socketpair for the setup sync");
	return 0;
}

static int send_message(int socket, const struct sync_message *message, int fd)
{
	struct iovec vector = { .iov_base = (void *)message, .iov_len = sizeof *message };
	union {
		char buffer[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr header = { .msg_iov = &vector, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&control, 0, sizeof control);
		header.msg_control = control.buffer;
		header.msg_controllen = sizeof control.buffer;
		struct cmsghdr *item = CMSG_FIRSTHDR(&header);
		item->cmsg_level = SOL_SOCKET;
		item->cmsg_type = SCM_RIGHTS;
		item->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(item), &fd, sizeof fd);
	}
	ssize_t sent;
	do {
		sent = sendmsg(socket, &header, MSG_NOSIGNAL);
	} while (sent < 0 && errno == EINTR);
	return sent == (ssize_t)sizeof *message ? 0 : -1;
}

int sync_send(int socket, enum sync_type type, const struct shim_error *failure)
{
	struct sync_message message;
	memset(&message, 0, sizeof message);
	message.type = type;
	if (failure) {
		message.exit_code = failure->exit_code ? failure->exit_code : EXIT_SETUP_FAILED;
		message.err = failure->err;
		memcpy(message.text, failure->message, sizeof message.text);
		message.text[sizeof message.text - 1] = '\0';
	}
	return send_message(socket, &message, -1);
}

int sync_send_fd(int socket, enum sync_type type, int fd)
{
	struct sync_message message;
	memset(&message, 0, sizeof message);
	message.type = type;
	return send_message(socket, &message, fd);
}

int sync_receive(int socket, struct sync_message *message, int *fd, struct shim_error *error)
{
	union {
		char buffer[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec vector = { .iov_base = message, .iov_len = sizeof *message };
	struct msghdr header = { .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer,
				 .msg_controllen = sizeof control.buffer };
	*fd = -1;
	ssize_t got;
	do {
		got = recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return error_set(error, errno, "read the setup sync");
	if (got == 0)
		return 0;
	if (got != (ssize_t)sizeof *message)
		return error_setx(error, "read the setup sync: short message");
	message->text[sizeof message->text - 1] = '\0';
	for (struct cmsghdr *item = CMSG_FIRSTHDR(&header); item; item = CMSG_NXTHDR(&header, item)) {
		if (item->cmsg_level == SOL_SOCKET && item->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(item), sizeof *fd);
	}
	return 1;
}

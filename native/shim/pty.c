/* Pseudo-terminal helpers (see pty.h). */
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int pty_open_master(struct shim_error *error)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return error_set(error, errno, "open /dev/ptmx");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
		int saved = errno;
		close(master);
		return error_set(error, saved, "unlock pty");
	}
	return master;
}

int pty_open_slave(int master, struct shim_error *error)
{
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return error_set(error, errno, "open the pty slave");
	return slave;
}

int pty_mount_console(int master, struct shim_error *error)
{
	unsigned number = 0;
	if (ioctl(master, TIOCGPTN, &number) < 0)
		return error_set(error, errno, "get the pty number");
	char slave_path[64];
	snprintf(slave_path, sizeof slave_path, "/dev/pts/%u", number);
	int file = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (file < 0)
		return error_set(error, errno, "create /dev/console");
	close(file);
	if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
		return error_set(error, errno, "bind %s on /dev/console", slave_path);
	return 0;
}

int pty_become_terminal(int slave, struct shim_error *error)
{
	if (setsid() < 0)
		return error_set(error, errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return error_set(error, errno, "make the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(slave, fd) < 0)
			return error_set(error, errno, "dup the pty to fd %d", fd);
	}
	if (slave > 2)
		close(slave);
	return 0;
}

int pty_set_size(int fd, unsigned rows, unsigned columns)
{
	struct winsize size = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)columns };
	return ioctl(fd, TIOCSWINSZ, &size);
}

int pty_copy_size(int from, int to)
{
	struct winsize size;
	if (ioctl(from, TIOCGWINSZ, &size) < 0)
		return -1;
	return ioctl(to, TIOCSWINSZ, &size);
}

int pty_raw_mode(int fd, struct termios *saved)
{
	if (tcgetattr(fd, saved) < 0)
		return -1;
	struct termios raw = *saved;
	cfmakeraw(&raw);
	return tcsetattr(fd, TCSANOW, &raw);
}

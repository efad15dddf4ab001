/* Error reporting and cleanup helpers (see error.h). */
#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int error_set(struct shim_error *error, int err, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	int length = vsnprintf(error->message, sizeof error->message, format, arguments);
	va_end(arguments);
	if (length < 0)
		length = 0;
	if ((size_t)length < sizeof error->message)
		snprintf(error->message + length, sizeof error->message - (size_t)length, ": %s", strerror(err));
	error->err = err;
	if (error->exit_code == 0)
		error->exit_code = EXIT_SETUP_FAILED;
	return -1;
}

int error_setx(struct shim_error *error, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(error->message, sizeof error->message, format, arguments);
	va_end(arguments);
	error->err = 0;
	if (error->exit_code == 0)
		error->exit_code = EXIT_SETUP_FAILED;
	return -1;
}

int error_wrap(struct shim_error *error, const char *format, ...)
{
	char prefix[256];
	char previous[sizeof error->message];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(prefix, sizeof prefix, format, arguments);
	va_end(arguments);
	memcpy(previous, error->message, sizeof previous);
	size_t length = strlen(prefix);
	if (length > sizeof error->message - 3)
		length = sizeof error->message - 3;
	memcpy(error->message, prefix, length);
	memcpy(error->message + length, ": ", 2);
	size_t rest = strlen(previous);
	if (rest > sizeof error->message - length - 3)
		rest = sizeof error->message - length - 3;
	memcpy(error->message + length + 2, previous, rest);
	error->message[length + 2 + rest] = '\0';
	if (error->exit_code == 0)
		error->exit_code = EXIT_SETUP_FAILED;
	return -1;
}

void error_clear(struct shim_error *error)
{
	error->err = 0;
	error->exit_code = 0;
	error->message[0] = '\0';
}

void cleanup_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void cleanup_free(void *pointer)
{
	free(*(void **)pointer);
}

void cleanup_close_dir(void *directory)
{
	DIR **handle = directory;
	if (*handle)
		closedir(*handle);
}

int write_all(int fd, const void *buffer, size_t length)
{
	const char *cursor = buffer;
	while (length > 0) {
		ssize_t written = write(fd, cursor, length);
		if (written < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		cursor += written;
		length -= (size_t)written;
	}
	return 0;
}

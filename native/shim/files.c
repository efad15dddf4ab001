/* Shared file helpers (see files.h). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every file the shim writes this way (shim.pid, status.json, health.json) lives in the per-boot
 * run directory: the rename keeps readers from ever seeing half a file, even if the shim dies
 * mid-write; an fsync would only guard against a power loss, after which the run directory is
 * meaningless (a reboot empties it), and on the critical path of every start it cost 0.5-3 ms
 * when the run root is not a tmpfs. */
int file_write_atomic(const char *path, const void *data, size_t length, mode_t mode, struct shim_error *error)
{
	char temporary[PATH_MAX];
	if (snprintf(temporary, sizeof temporary, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof temporary)
		return error_setx(error, "write %s: path too long", path);
	AUTO_FD fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return error_set(error, errno, "create %s", temporary);
	if (write_all(fd, data, length) < 0) {
		int saved = errno;
		unlink(temporary);
		return error_set(error, saved, "write %s", temporary);
	}
	if (rename(temporary, path) < 0) {
		int saved = errno;
		unlink(temporary);
		return error_set(error, saved, "rename %s to %s", temporary, path);
	}
	return 0;
}

int file_write_string(const char *path, const char *text, struct shim_error *error)
{
	AUTO_FD fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(error, errno, "open %s", path);
	size_t length = strlen(text);
	ssize_t written;
	do {
		written = write(fd, text, length);
	} while (written < 0 && errno == EINTR);
	if (written < 0)
		return error_set(error, errno, "write %s to %s", text, path);
	if ((size_t)written != length)
		return error_setx(error, "write %s to %s: short write", text, path);
	return 0;
}

ssize_t file_read_small(const char *path, char *out, size_t capacity, struct shim_error *error)
{
	AUTO_FD fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(error, errno, "open %s", path);
	size_t total = 0;
	while (total + 1 < capacity) {
		ssize_t got = read(fd, out + total, capacity - 1 - total);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return error_set(error, errno, "read %s", path);
		}
		if (got == 0)
			break;
		total += (size_t)got;
	}
	out[total] = '\0';
	return (ssize_t)total;
}

int mkdir_parents(const char *path, mode_t mode, struct shim_error *error)
{
	char copy[PATH_MAX];
	if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
		return error_setx(error, "mkdir %s: path too long", path);
	for (char *slash = copy + 1; *slash; slash++) {
		if (*slash != '/')
			continue;
		*slash = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return error_set(error, errno, "mkdir %s", copy);
		*slash = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return error_set(error, errno, "mkdir %s", copy);
	return 0;
}

char *path_join(const char *left, const char *right)
{
	size_t length = strlen(left) + strlen(right) + 2;
	char *joined = malloc(length);
	if (!joined)
		return NULL;
	while (*right == '/')
		right++;
	size_t left_length = strlen(left);
	if (left_length > 0 && left[left_length - 1] == '/')
		snprintf(joined, length, "%s%s", left, right);
	else
		snprintf(joined, length, "%s/%s", left, right);
	return joined;
}

/* Small file operations the other parts share: atomic replacement of per-boot files (temp +
 * rename, no fsync: see files.c), writing a value into a kernel file (cgroups, sysctls), reading a small
 * file, mkdir -p. */
#ifndef BERTH_FILES_H
#define BERTH_FILES_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

int file_write_atomic(const char *path, const void *data, size_t length, mode_t mode, struct shim_error *error);
/* Open path O_WRONLY (no create, no truncate) and write text in one write(2). */
int file_write_string(const char *path, const char *text, struct shim_error *error);
/* Read up to capacity-1 bytes, NUL-terminate; returns the length or -1. */
ssize_t file_read_small(const char *path, char *out, size_t capacity, struct shim_error *error);
int mkdir_parents(const char *path, mode_t mode, struct shim_error *error);
/* Join two path parts into a malloc'd string ("a" + "/b"). NULL on ENOMEM. */
char *path_join(const char *left, const char *right);

#endif

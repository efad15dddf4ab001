/* Errors: every fallible function returns int (negative on failure) and fills a
 * struct shim_error naming the operation and the object, plus errno, plus the
 * Docker exit code the failure maps to (125 setup, 126 cannot invoke, 127 not found).
 * Also the __attribute__((cleanup)) helpers every file uses. */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stddef.h>

#define EXIT_SETUP_FAILED 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

struct shim_error {
	int err;          /* errno of the failing call, 0 when not a system error */
	int exit_code;    /* Docker's exit code for this failure */
	char message[512];
};

/* "<formatted>: <strerror(err)>"; returns -1. */
int error_set(struct shim_error *error, int err, const char *format, ...)
	__attribute__((format(printf, 3, 4)));
/* "<formatted>" with no errno; returns -1. */
int error_setx(struct shim_error *error, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
/* Prefix an existing message with "<formatted>: "; returns -1. */
int error_wrap(struct shim_error *error, const char *format, ...)
	__attribute__((format(printf, 2, 3)));
void error_clear(struct shim_error *error);

void cleanup_fd(int *fd);
void cleanup_free(void *pointer);
void cleanup_close_dir(void *directory);

#define AUTO_FD __attribute__((cleanup(cleanup_fd))) int
#define AUTO_FREE __attribute__((cleanup(cleanup_free)))

/* Write all of buffer to fd, retrying on EINTR and short writes. 0 or -1 (errno set). */
int write_all(int fd, const void *buffer, size_t length);

#endif

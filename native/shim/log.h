/* The container's log in Docker's json-file format: one JSON object per line,
 *   {"log":"<line, escaped as Docker does>","stream":"stdout","time":"<RFC3339Nano>"}
 * Output is split at newlines; a line longer than 16 KiB is written in 16 KiB pieces
 * without a newline (Docker's partial messages); a partial line is flushed when its
 * stream ends. Files rotate when the current one has reached maxSize: <path>.1, .2, …
 * keeping maxFiles files in all (maxFiles 1 truncates). */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LOG_LINE_MAX (16 * 1024)

struct log_file {
	char *path;
	int fd;
	int64_t size;
	int64_t max_size; /* 0 = unlimited */
	int max_files;
};

struct log_stream {
	const char *name; /* "stdout" / "stderr" */
	char *pending;    /* LOG_LINE_MAX bytes, allocated on first use */
	size_t length;
};

int log_open(struct log_file *log, const char *path, int64_t max_size, int max_files, struct shim_error *error);
void log_close(struct log_file *log);
/* Write one entry (data is the line, with its newline if it had one). Errors are not fatal. */
void log_write_entry(struct log_file *log, const char *stream, const char *data, size_t length);
/* Feed bytes read from a stream; complete lines (and full 16 KiB pieces) are written. */
void log_stream_feed(struct log_file *log, struct log_stream *stream, const char *data, size_t length);
/* The stream ended: write what is pending. */
void log_stream_flush(struct log_file *log, struct log_stream *stream);
void log_stream_free(struct log_stream *stream);

#endif

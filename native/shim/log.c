/* json-file log writer (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "json.h"

int log_open(struct log_file *log, const char *path, int64_t max_size, int max_files, struct shim_error *error)
{
	log->path = strdup(path);
	if (!log->path)
		return error_set(error, ENOMEM, "open log %s", path);
	log->max_size = max_size;
	log->max_files = max_files < 1 ? 1 : max_files;
	log->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log->fd < 0)
		return error_set(error, errno, "open log %s", path);
	struct stat status;
	log->size = fstat(log->fd, &status) == 0 ? status.st_size : 0;
	return 0;
}

void log_close(struct log_file *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
	free(log->path);
	log->path = NULL;
}

static void rotate(struct log_file *log)
{
	if (log->max_files <= 1) {
		if (ftruncate(log->fd, 0) == 0)
			log->size = 0;
		return;
	}
	char from[PATH_MAX], to[PATH_MAX];
	for (int i = log->max_files - 1; i > 1; i--) {
		snprintf(from, sizeof from, "%s.%d", log->path, i - 1);
		snprintf(to, sizeof to, "%s.%d", log->path, i);
		rename(from, to);
	}
	snprintf(to, sizeof to, "%s.1", log->path);
	if (rename(log->path, to) < 0)
		return;
	int fd = open(log->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	close(log->fd);
	log->fd = fd;
	log->size = 0;
}

void log_write_entry(struct log_file *log, const char *stream, const char *data, size_t length)
{
	if (log->fd < 0)
		return;
	char time[RFC3339_NANO_LENGTH];
	clock_format_rfc3339_nano(clock_realtime(), time);
	struct buf line;
	buf_init(&line);
	buf_reserve(&line, length + 128);
	buf_append_string(&line, "{\"log\":");
	json_append_string(&line, data, length);
	buf_append_string(&line, ",\"stream\":\"");
	buf_append_string(&line, stream);
	buf_append_string(&line, "\",\"time\":\"");
	buf_append_string(&line, time);
	buf_append_string(&line, "\"}\n");
	if (!line.failed) {
		if (log->max_size > 0 && log->size >= log->max_size)
			rotate(log);
		if (write_all(log->fd, line.data, line.length) == 0)
			log->size += (int64_t)line.length;
	}
	buf_free(&line);
}

void log_stream_feed(struct log_file *log, struct log_stream *stream, const char *data, size_t length)
{
	while (length > 0) {
		if (!stream->pending) {
			stream->pending = malloc(LOG_LINE_MAX);
			if (!stream->pending)
				return;
		}
		size_t room = LOG_LINE_MAX - stream->length;
		size_t take = length < room ? length : room;
		const char *newline = memchr(data, '\n', take);
		if (newline)
			take = (size_t)(newline - data) + 1;
		if (stream->length == 0 && (newline || take == LOG_LINE_MAX)) {
			/* A whole line (or a full piece) straight from the input. */
			log_write_entry(log, stream->name, data, take);
		} else {
			memcpy(stream->pending + stream->length, data, take);
			stream->length += take;
			if (newline || stream->length == LOG_LINE_MAX) {
				log_write_entry(log, stream->name, stream->pending, stream->length);
				stream->length = 0;
			}
		}
		data += take;
		length -= take;
	}
}

void log_stream_flush(struct log_file *log, struct log_stream *stream)
{
	if (stream->length > 0)
		log_write_entry(log, stream->name, stream->pending, stream->length);
	stream->length = 0;
}

void log_stream_free(struct log_stream *stream)
{
	free(stream->pending);
	stream->pending = NULL;
	stream->length = 0;
}

/* A growable byte buffer for building JSON documents and log lines. */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t length;
	size_t capacity;
	int failed; /* an allocation failed; the content is incomplete */
};

void buf_init(struct buf *buffer);
void buf_free(struct buf *buffer);
void buf_reset(struct buf *buffer);
int buf_reserve(struct buf *buffer, size_t extra);
void buf_append(struct buf *buffer, const void *data, size_t length);
void buf_append_string(struct buf *buffer, const char *text);
void buf_append_char(struct buf *buffer, char character);
void buf_append_int(struct buf *buffer, int64_t value);
/* NUL-terminated view of the content (always valid unless failed). */
const char *buf_string(struct buf *buffer);

#define AUTO_BUF __attribute__((cleanup(buf_free))) struct buf

#endif

/* Growable byte buffer (see buf.h). */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *buffer)
{
	buffer->data = NULL;
	buffer->length = 0;
	buffer->capacity = 0;
	buffer->failed = 0;
}

void buf_free(struct buf *buffer)
{
	free(buffer->data);
	buf_init(buffer);
}

void buf_reset(struct buf *buffer)
{
	buffer->length = 0;
	buffer->failed = 0;
	if (buffer->data)
		buffer->data[0] = '\0';
}

int buf_reserve(struct buf *buffer, size_t extra)
{
	if (buffer->failed)
		return -1;
	size_t needed = buffer->length + extra + 1;
	if (needed <= buffer->capacity)
		return 0;
	size_t capacity = buffer->capacity ? buffer->capacity : 256;
	while (capacity < needed)
		capacity *= 2;
	char *data = realloc(buffer->data, capacity);
	if (!data) {
		buffer->failed = 1;
		return -1;
	}
	buffer->data = data;
	buffer->capacity = capacity;
	return 0;
}

void buf_append(struct buf *buffer, const void *data, size_t length)
{
	if (buf_reserve(buffer, length) < 0)
		return;
	memcpy(buffer->data + buffer->length, data, length);
	buffer->length += length;
	buffer->data[buffer->length] = '\0';
}

void buf_append_string(struct buf *buffer, const char *text)
{
	buf_append(buffer, text, strlen(text));
}

void buf_append_char(struct buf *buffer, char character)
{
	buf_append(buffer, &character, 1);
}

void buf_append_int(struct buf *buffer, int64_t value)
{
	char text[24];
	int length = snprintf(text, sizeof text, "%lld", (long long)value);
	buf_append(buffer, text, (size_t)length);
}

const char *buf_string(struct buf *buffer)
{
	if (!buffer->data)
		return "";
	return buffer->data;
}

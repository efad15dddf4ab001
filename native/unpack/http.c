// The head of an HTTP/1.x response on a connection: berth-unpack --http reads it itself, so that
// Node can hand over a registry connection right after writing the GET, before any byte of the
// answer has arrived. Only what deciding "is this the blob, whole?" needs is kept: the status,
// Content-Length and whether the body is chunked.
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "unpack.h"

// Reads until the blank line that ends the head (or `capacity` bytes), waiting at most
// timeout_ms for each read. Returns the bytes read (head and any body after it), or -1.
static ssize_t read_until_blank_line(int fd, char *buffer, size_t capacity, int timeout_ms, size_t *head_length, struct unpack_error *error) {
  size_t have = 0;
  for (;;) {
    if (have == capacity) return fail(error, EPROTO, "response head larger than %zu bytes", capacity);
    ssize_t count = read_connection(fd, buffer + have, capacity - have, timeout_ms, "response head", error);
    if (count < 0) return -1;
    if (count == 0) return fail(error, ECONNRESET, "connection closed before the response head");
    // The blank line may straddle the previous read: look from three bytes before the new ones.
    for (size_t i = have >= 3 ? have - 3 : 0; i + 4 <= have + (size_t)count; i++) {
      if (memcmp(buffer + i, "\r\n\r\n", 4) == 0) {
        *head_length = i + 4;
        return (ssize_t)(have + (size_t)count);
      }
    }
    have += (size_t)count;
  }
}

// The value of header `name` in the head's lines (after the status line), or NULL.
static const char *header_value(char *lines, const char *name, size_t *value_length) {
  size_t name_length = strlen(name);
  for (char *line = lines; *line != '\0';) {
    char *end = strstr(line, "\r\n");
    size_t length = end == NULL ? strlen(line) : (size_t)(end - line);
    if (length > name_length && line[name_length] == ':' && strncasecmp(line, name, name_length) == 0) {
      const char *value = line + name_length + 1;
      const char *stop = line + length;
      while (value < stop && (*value == ' ' || *value == '\t')) value++;
      while (stop > value && (stop[-1] == ' ' || stop[-1] == '\t')) stop--;
      *value_length = (size_t)(stop - value);
      return value;
    }
    if (end == NULL) break;
    line = end + 2;
  }
  return NULL;
}

int http_read_head(int fd, int timeout_ms, struct http_head *head, struct unpack_error *error) {
  static char buffer[64 * 1024 + 1];
  size_t head_length = 0;
  ssize_t have = read_until_blank_line(fd, buffer, sizeof buffer - 1, timeout_ms, &head_length, error);
  if (have < 0) return -1;
  memset(head, 0, sizeof *head);
  head->content_length = -1;
  head->body = (const unsigned char *)buffer + head_length;
  head->body_length = (size_t)have - head_length;
  buffer[head_length - 2] = '\0'; // the head's lines, ending at the last header's CRLF
  // "HTTP/1.1 200 OK": anything else is not an answer to the GET this connection carried.
  if (strncmp(buffer, "HTTP/1.", 7) != 0 || (buffer[7] != '0' && buffer[7] != '1') || buffer[8] != ' ') return 0;
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (buffer[i] < '0' || buffer[i] > '9') return 0;
    status = status * 10 + (buffer[i] - '0');
  }
  if (buffer[12] != ' ' && buffer[12] != '\r' && buffer[12] != '\0') return 0;
  head->status = status;
  char *lines = strstr(buffer, "\r\n");
  if (lines == NULL) return 0;
  lines += 2;
  size_t length;
  const char *value = header_value(lines, "Content-Length", &length);
  if (value != NULL && length > 0 && length <= 18) {
    int64_t parsed = 0;
    bool digits = true;
    for (size_t i = 0; i < length; i++) {
      if (value[i] < '0' || value[i] > '9') digits = false;
      else parsed = parsed * 10 + (value[i] - '0');
    }
    if (digits) head->content_length = parsed;
  }
  value = header_value(lines, "Transfer-Encoding", &length);
  head->chunked = value != NULL && length > 0;
  return 0;
}

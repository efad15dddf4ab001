// The layer stream on a file descriptor: plain, gzip (one or more members) or zstd (one or more
// frames), detected by magic bytes. Every decompressed byte passes through the SHA-256 here,
// so the diff_id is known once the stream has been read to its end.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "unpack.h"

static const unsigned char gzip_magic[2] = {0x1f, 0x8b};
static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

ssize_t read_connection(int fd, void *buffer, size_t size, int timeout_ms, const char *what, struct unpack_error *error) {
  for (;;) {
    ssize_t count = read(fd, buffer, size);
    if (count >= 0) return count;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(error, errno, "read %s: %s", what, strerror(errno));
    struct pollfd readable = {.fd = fd, .events = POLLIN};
    int ready = poll(&readable, 1, timeout_ms);
    if (ready > 0 || (ready < 0 && errno == EINTR)) continue;
    return fail(error, ready == 0 ? ETIMEDOUT : errno, "no data for %d ms", timeout_ms);
  }
}

void writeback_kick(int fd, struct writeback *state, size_t count, bool finish) {
  state->written += count;
  uint64_t pending = state->written - state->kicked;
  if (pending >= WRITEBACK_STEP || (finish && pending > 0 && state->written >= WRITEBACK_STEP)) {
    // Best effort: a failure here only means the final sync does all the work.
    (void)sync_file_range(fd, (off_t)state->kicked, (off_t)pending, SYNC_FILE_RANGE_WRITE);
    state->kicked = state->written;
  }
}

int write_all(int fd, const unsigned char *bytes, size_t size, struct unpack_error *error) {
  while (size > 0) {
    ssize_t written = write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return fail(error, errno, "write: %s", strerror(errno));
    bytes += written;
    size -= (size_t)written;
  }
  return 0;
}

// Reads more compressed bytes, keeping the unread ones. Returns the number added (0 at EOF).
static ssize_t fill_raw(struct input *input, struct unpack_error *error) {
  if (input->raw_eof) return 0;
  if (input->raw_position > 0) {
    memmove(input->raw, input->raw + input->raw_position, input->raw_length - input->raw_position);
    input->raw_length -= input->raw_position;
    input->raw_position = 0;
  }
  if (input->raw_length == sizeof input->raw) return fail(error, 0, "read layer: internal buffer full");
  for (;;) {
    bool replaying = input->blob_fd >= 0 && !input->blob_replayed;
    unsigned char *fresh = input->raw + input->raw_length;
    size_t room = sizeof input->raw - input->raw_length;
    if (!replaying && input->stream_remaining >= 0 && (uint64_t)input->stream_remaining < room) room = (size_t)input->stream_remaining;
    ssize_t count = 0;
    if (room > 0 && replaying) {
      count = read(input->blob_fd, fresh, room);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) return fail(error, errno, "read layer stream (kept blob): %s", strerror(errno));
    } else if (room > 0) {
      count = read_connection(input->fd, fresh, room, input->timeout_ms, "layer stream", error);
      if (count < 0) {
        input->stream_failed = input->stream_remaining >= 0;
        return -1;
      }
    }
    if (count == 0 && !replaying && input->stream_remaining > 0) {
      input->stream_failed = true;
      return fail(error, ECONNRESET, "read layer stream: connection closed %lld bytes early", (long long)input->stream_remaining);
    }
    if (!replaying && input->stream_remaining > 0) input->stream_remaining -= count;
    if (replaying && count == 0) {
      // The file's offset is now its end: the stream's bytes are appended from here.
      input->blob_replayed = true;
      continue;
    }
    if (input->blob_fd >= 0 && count > 0) {
      if (!replaying) {
        if (write_all(input->blob_fd, fresh, (size_t)count, error) < 0) return -1;
        writeback_kick(input->blob_fd, &input->blob_writeback, (size_t)count, false);
      }
      sha256_update(&input->blob_hash, fresh, (size_t)count);
      input->blob_total += (uint64_t)count;
    }
    if (count == 0) input->raw_eof = true;
    input->raw_length += (size_t)count;
    return count;
  }
}

static size_t raw_available(const struct input *input) {
  return input->raw_length - input->raw_position;
}

int input_open(struct input *input, int fd, int blob_fd, int64_t length, int timeout_ms, struct unpack_error *error) {
  memset(input, 0, sizeof *input);
  input->fd = fd;
  input->blob_fd = blob_fd;
  input->stream_remaining = length;
  input->timeout_ms = timeout_ms;
  sha256_init(&input->hash);
  sha256_init(&input->blob_hash);
  while (raw_available(input) < sizeof zstd_magic && !input->raw_eof) {
    if (fill_raw(input, error) < 0) return -1;
  }
  if (raw_available(input) >= 2 && memcmp(input->raw, gzip_magic, 2) == 0) {
    input->compression = COMPRESSION_GZIP;
    memset(&input->gzip, 0, sizeof input->gzip);
    // 16 + MAX_WBITS: a gzip wrapper, not zlib's.
    if (inflateInit2(&input->gzip, 16 + MAX_WBITS) != Z_OK) return fail(error, ENOMEM, "gzip: cannot initialise zlib");
    // No CRC-32 of the output: every blob is checked against its sha256 digest and every layer
    // against its diff_id, which the CRC cannot add to, and it cost 5% of a pull's CPU.
    inflateValidate(&input->gzip, 0);
    input->gzip_ready = true;
  } else if (raw_available(input) >= 4 && memcmp(input->raw, zstd_magic, 4) == 0) {
    input->compression = COMPRESSION_ZSTD;
    input->zstd = ZSTD_createDCtx();
    if (input->zstd == NULL) return fail(error, ENOMEM, "zstd: cannot create a decompression context");
  } else {
    input->compression = COMPRESSION_NONE;
  }
  return 0;
}

void input_close(struct input *input) {
  if (input->gzip_ready) inflateEnd(&input->gzip);
  input->gzip_ready = false;
  if (input->zstd != NULL) ZSTD_freeDCtx(input->zstd);
  input->zstd = NULL;
}

static int produce_gzip(struct input *input, struct unpack_error *error) {
  for (;;) {
    if (input->gzip_member_done) {
      // Another member may follow (concatenated gzip files form one stream); anything else is refused.
      while (raw_available(input) < 2 && !input->raw_eof) {
        if (fill_raw(input, error) < 0) return -1;
      }
      if (raw_available(input) == 0) {
        input->finished = true;
        return 0;
      }
      if (raw_available(input) < 2 || memcmp(input->raw + input->raw_position, gzip_magic, 2) != 0) {
        return fail(error, 0, "gzip: trailing garbage after the compressed stream");
      }
      inflateReset(&input->gzip);
      inflateValidate(&input->gzip, 0);
      input->gzip_member_done = false;
    }
    if (raw_available(input) == 0 && !input->raw_eof) {
      if (fill_raw(input, error) < 0) return -1;
    }
    input->gzip.next_in = input->raw + input->raw_position;
    input->gzip.avail_in = (uInt)raw_available(input);
    input->gzip.next_out = input->out;
    input->gzip.avail_out = sizeof input->out;
    int status = inflate(&input->gzip, Z_NO_FLUSH);
    input->raw_position = (size_t)(input->gzip.next_in - input->raw);
    input->out_position = 0;
    input->out_length = sizeof input->out - input->gzip.avail_out;
    if (status == Z_STREAM_END) {
      input->gzip_member_done = true;
    } else if (status == Z_BUF_ERROR) {
      if (input->raw_eof && raw_available(input) == 0 && input->out_length == 0) {
        return fail(error, 0, "gzip: unexpected end of compressed stream");
      }
    } else if (status != Z_OK) {
      return fail(error, 0, "gzip: %s", input->gzip.msg != NULL ? input->gzip.msg : "corrupt stream");
    }
    if (input->out_length > 0) return 0;
  }
}

static int produce_zstd(struct input *input, struct unpack_error *error) {
  for (;;) {
    if (raw_available(input) == 0 && !input->raw_eof) {
      if (fill_raw(input, error) < 0) return -1;
      continue;
    }
    if (raw_available(input) == 0 && input->zstd_hint == 0) {
      input->finished = true;
      return 0;
    }
    // With no input left the decoder may still hold output it could not flush last time.
    ZSTD_inBuffer in = {input->raw + input->raw_position, raw_available(input), 0};
    ZSTD_outBuffer out = {input->out, sizeof input->out, 0};
    size_t hint = ZSTD_decompressStream(input->zstd, &out, &in);
    if (ZSTD_isError(hint)) return fail(error, 0, "zstd: %s", ZSTD_getErrorName(hint));
    input->zstd_hint = hint;
    input->raw_position += in.pos;
    input->out_position = 0;
    input->out_length = out.pos;
    if (out.pos > 0) return 0;
    if (raw_available(input) == 0 && input->raw_eof && hint != 0) {
      return fail(error, 0, "zstd: unexpected end of compressed stream");
    }
  }
}

static int produce_plain(struct input *input, struct unpack_error *error) {
  if (raw_available(input) == 0) {
    if (fill_raw(input, error) < 0) return -1;
    if (raw_available(input) == 0) {
      input->finished = true;
      return 0;
    }
  }
  size_t count = raw_available(input);
  memcpy(input->out, input->raw + input->raw_position, count);
  input->raw_position += count;
  input->out_position = 0;
  input->out_length = count;
  return 0;
}

// Makes decompressed bytes available in `out`, hashing them. Leaves out empty only at the end.
static int produce(struct input *input, struct unpack_error *error) {
  int status;
  input->out_position = input->out_length = 0;
  switch (input->compression) {
  case COMPRESSION_GZIP:
    status = produce_gzip(input, error);
    break;
  case COMPRESSION_ZSTD:
    status = produce_zstd(input, error);
    break;
  default:
    status = produce_plain(input, error);
    break;
  }
  if (status < 0) return status;
  sha256_update(&input->hash, input->out, input->out_length);
  input->total += input->out_length;
  return 0;
}

ssize_t input_read(struct input *input, void *buffer, size_t size, struct unpack_error *error) {
  if (input->out_position == input->out_length) {
    if (input->finished) return 0;
    if (produce(input, error) < 0) return -1;
    if (input->out_length == 0) return 0;
  }
  size_t available = input->out_length - input->out_position;
  size_t count = available < size ? available : size;
  memcpy(buffer, input->out + input->out_position, count);
  input->out_position += count;
  return (ssize_t)count;
}

int input_read_exact(struct input *input, void *buffer, size_t size, const char *what, struct unpack_error *error) {
  unsigned char *bytes = buffer;
  while (size > 0) {
    ssize_t count = input_read(input, bytes, size, error);
    if (count < 0) return -1;
    if (count == 0) return fail(error, 0, "unexpected end of layer stream in %s", what);
    bytes += count;
    size -= (size_t)count;
  }
  return 0;
}

int input_skip(struct input *input, uint64_t size, const char *what, struct unpack_error *error) {
  unsigned char scratch[8192];
  while (size > 0) {
    size_t chunk = size < sizeof scratch ? (size_t)size : sizeof scratch;
    if (input_read_exact(input, scratch, chunk, what, error) < 0) return -1;
    size -= chunk;
  }
  return 0;
}

int input_drain(struct input *input, struct unpack_error *error) {
  unsigned char scratch[8192];
  for (;;) {
    ssize_t count = input_read(input, scratch, sizeof scratch, error);
    if (count < 0) return -1;
    if (count == 0) return 0;
  }
}

int input_drain_raw(struct input *input, struct unpack_error *error) {
  while (!input->raw_eof) {
    input->raw_position = input->raw_length; // consumed: only the digest wants these bytes
    if (fill_raw(input, error) < 0) return -1;
  }
  return 0;
}

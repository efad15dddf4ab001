// berth-unpack: shared declarations. One concern per file:
//   main.c    command line, modes, exit statuses
//   input.c   the layer stream: compression detected by magic, decompressed, hashed
//   sha256.c  SHA-256 (FIPS 180-4)
//   tar.c     tar headers: ustar, GNU long names (L/K), PAX (path, linkpath, xattrs, times)
//   apply.c   applying entries under a root directory, never leaving it; overlay whiteouts
#ifndef BERTH_UNPACK_H
#define BERTH_UNPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

// ---------------------------------------------------------------- errors
// Every function returns int (negative on failure) and fills this. `unsafe` marks a refusal of
// hostile input (exit status 3) as opposed to corrupt input or an I/O failure (exit status 1).
struct unpack_error {
  int errnum;
  bool unsafe;
  char message[2048];
};

int fail(struct unpack_error *error, int errnum, const char *format, ...) __attribute__((format(printf, 3, 4)));
int refuse(struct unpack_error *error, const char *format, ...) __attribute__((format(printf, 2, 3)));

static inline void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
}
static inline void free_pointer(void *pointer) {
  free(*(void **)pointer);
}
#define AUTO_FD __attribute__((cleanup(close_fd))) int
#define AUTO_FREE __attribute__((cleanup(free_pointer)))

// read() that, on a non-blocking connection, waits at most timeout_ms for bytes; retries EINTR.
// -1 with `error` set ("no data for T ms", or "read WHAT: …") when it fails.
ssize_t read_connection(int fd, void *buffer, size_t size, int timeout_ms, const char *what, struct unpack_error *error);

// All of `size` bytes, retrying short writes and EINTR.
int write_all(int fd, const unsigned char *bytes, size_t size, struct unpack_error *error);
// Written bytes of one file whose writeback has not been started yet: see writeback_kick.
struct writeback {
  uint64_t written, kicked;
};
// Records `count` more bytes written to `fd`; every WRITEBACK_STEP of them, starts their
// writeback (sync_file_range, which does not wait). The layer's final syncfs then finds most of
// its data on disk already instead of flushing all of it at the end. `finish` kicks the rest
// of a file that reached a step at least once.
#define WRITEBACK_STEP (8u << 20)
void writeback_kick(int fd, struct writeback *state, size_t count, bool finish);

// ---------------------------------------------------------------- sha256
struct sha256 {
  uint32_t state[8];
  uint64_t length;
  unsigned char block[64];
  size_t used;
};
void sha256_init(struct sha256 *hash);
void sha256_update(struct sha256 *hash, const void *data, size_t size);
void sha256_final(struct sha256 *hash, unsigned char digest[32]);
void sha256_hex(struct sha256 *hash, char hex[65]);

// ---------------------------------------------------------------- input
enum compression { COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_ZSTD };

#define INPUT_BUFFER_SIZE (128 * 1024)

struct input {
  int fd;
  enum compression compression;
  unsigned char raw[INPUT_BUFFER_SIZE];
  size_t raw_position, raw_length;
  bool raw_eof;
  z_stream gzip;
  bool gzip_ready, gzip_member_done;
  ZSTD_DCtx *zstd;
  size_t zstd_hint;
  unsigned char out[INPUT_BUFFER_SIZE];
  size_t out_position, out_length;
  bool finished;
  struct sha256 hash;
  uint64_t total; // decompressed bytes delivered so far
  // --blob: the compressed stream is also kept in a file (a download being unpacked as it
  // arrives). Bytes already in the file (an interrupted download) are read back first; the
  // stream's bytes are appended after them. Every byte of the file passes through blob_hash.
  int blob_fd;
  bool blob_replayed;
  struct sha256 blob_hash;
  uint64_t blob_total;
  struct writeback blob_writeback;
  // --length: the stream is a connection carrying exactly this many more bytes (-1: read to
  // EOF). A connection that ends early or stalls for timeout_ms sets stream_failed: the layer
  // is not wrong, the transfer is unfinished, and the caller resumes it another way.
  int64_t stream_remaining;
  int timeout_ms;
  bool stream_failed;
};

// `blob_fd` is -1, or the file that keeps the compressed stream (see struct input).
int input_open(struct input *input, int fd, int blob_fd, int64_t length, int timeout_ms, struct unpack_error *error);
void input_close(struct input *input);
// Up to `size` decompressed bytes; 0 at the end of the stream.
ssize_t input_read(struct input *input, void *buffer, size_t size, struct unpack_error *error);
// Exactly `size` bytes, or an error naming `what` when the stream ends first.
int input_read_exact(struct input *input, void *buffer, size_t size, const char *what, struct unpack_error *error);
int input_skip(struct input *input, uint64_t size, const char *what, struct unpack_error *error);
// Reads to the end, so the digest covers the whole stream (trailing zero blocks included).
int input_drain(struct input *input, struct unpack_error *error);
// Reads the compressed stream to its end (a blob's digest covers every byte of it).
int input_drain_raw(struct input *input, struct unpack_error *error);

// ---------------------------------------------------------------- http
struct http_head {
  int status;             // 0 when the head is not an HTTP/1.x response's
  int64_t content_length; // -1 when absent or not a number
  bool chunked;           // any Transfer-Encoding at all
  const unsigned char *body; // bytes after the head that arrived with it
  size_t body_length;
};
// Reads a response head off `fd` (waiting at most timeout_ms per read); -1 when the connection
// ends or stalls first, or the head is too large.
int http_read_head(int fd, int timeout_ms, struct http_head *head, struct unpack_error *error);

// ---------------------------------------------------------------- tar
struct xattr {
  char *name;
  unsigned char *value;
  size_t length;
};

struct tar_entry {
  char *path;     // as written in the archive (PAX path, GNU long name, or prefix/name)
  char *linkpath; // hard link target or symlink target
  char type;      // normalized: '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo
  uint64_t size;  // bytes of content that follow the header
  mode_t mode;    // permission bits incl. setuid/setgid/sticky
  uid_t uid;
  gid_t gid;
  struct timespec mtime;
  struct timespec atime;
  unsigned int device_major, device_minor;
  struct xattr *xattrs;
  size_t xattr_count;
};

void tar_entry_free(struct tar_entry *entry);
// 1: an entry was read (its content, `size` bytes + padding, is next in the stream); 0: end of archive.
int tar_next(struct input *input, struct tar_entry *entry, struct unpack_error *error);
// Skips what is left of an entry's padding after its content was consumed.
int tar_skip_padding(struct input *input, uint64_t size, struct unpack_error *error);

// ---------------------------------------------------------------- apply
struct apply_options {
  bool allow_devices;
};

struct apply_stats {
  uint64_t content_bytes; // regular file bytes + symlink target lengths (hard links counted once)
  uint64_t entries;
};

int apply_layer(struct input *input, int root_fd, const struct apply_options *options, struct apply_stats *stats,
                struct unpack_error *error);

#endif

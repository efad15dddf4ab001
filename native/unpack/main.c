// berth-unpack: applies one image layer (a tar stream: plain, gzip or zstd, detected by magic)
// to a directory, as overlayfs lower layers need it, and reports the layer's diff_id.
//
//   berth-unpack [--no-devices] DIR   apply stdin to DIR (which must exist); on success print
//                                      "sha256:<hex>\n<bytes>\n": the digest of the whole
//                                      uncompressed stream and the bytes of content written
//   berth-unpack --digest              print only the digest line (nothing is written)
//   berth-unpack --decompress          write the uncompressed stream to stdout
//
// Exit status: 0 done; 1 corrupt input or a failed operation; 2 usage; 3 a hostile entry was
// refused. Errors are one line on stderr naming the entry. The caller unpacks into a fresh
// temporary directory and discards it on failure, so a refused layer leaves nothing behind.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "unpack.h"

int fail(struct unpack_error *error, int errnum, const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(error->message, sizeof error->message, format, arguments);
  va_end(arguments);
  error->errnum = errnum;
  error->unsafe = false;
  return -1;
}

int refuse(struct unpack_error *error, const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(error->message, sizeof error->message, format, arguments);
  va_end(arguments);
  error->errnum = 0;
  error->unsafe = true;
  return -1;
}

static struct input input; // large buffers: not on the stack

static int report(const struct unpack_error *error) {
  // One line: newlines in hostile names must not forge extra lines.
  char line[sizeof error->message];
  size_t length = strlen(error->message);
  for (size_t i = 0; i <= length; i++) line[i] = (error->message[i] == '\n' || error->message[i] == '\r') ? ' ' : error->message[i];
  fprintf(stderr, "berth-unpack: %s%s\n", error->unsafe ? "refused: " : "", line);
  return error->unsafe ? 3 : 1;
}

static int usage(void) {
  fprintf(stderr, "usage: berth-unpack [--no-devices] DIR | --digest | --decompress  (layer stream on stdin)\n");
  return 2;
}

static int write_all(int fd, const unsigned char *bytes, size_t size, struct unpack_error *error) {
  while (size > 0) {
    ssize_t written = write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return fail(error, errno, "write: %s", strerror(errno));
    bytes += written;
    size -= (size_t)written;
  }
  return 0;
}

int main(int argc, char **argv) {
  enum { MODE_APPLY, MODE_DIGEST, MODE_DECOMPRESS } mode = MODE_APPLY;
  struct apply_options options = {.allow_devices = true};
  const char *target = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--no-devices") == 0) options.allow_devices = false;
    else if (strcmp(argv[i], "--digest") == 0) mode = MODE_DIGEST;
    else if (strcmp(argv[i], "--decompress") == 0) mode = MODE_DECOMPRESS;
    else if (argv[i][0] == '-' || target != NULL) return usage();
    else target = argv[i];
  }
  if ((mode == MODE_APPLY) != (target != NULL)) return usage();

  struct unpack_error error = {0};
  if (input_open(&input, STDIN_FILENO, &error) < 0) return report(&error);
  int status = 0;
  struct apply_stats stats = {0};
  if (mode == MODE_DECOMPRESS) {
    unsigned char buffer[64 * 1024];
    for (;;) {
      ssize_t count = input_read(&input, buffer, sizeof buffer, &error);
      if (count < 0 || (count > 0 && write_all(STDOUT_FILENO, buffer, (size_t)count, &error) < 0)) {
        status = -1;
        break;
      }
      if (count == 0) break;
    }
  } else if (mode == MODE_DIGEST) {
    status = input_drain(&input, &error);
  } else {
    umask(0);
    AUTO_FD root = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
      fail(&error, errno, "open %s: %s", target, strerror(errno));
      status = -1;
    } else {
      status = apply_layer(&input, root, &options, &stats, &error);
      if (status == 0) status = input_drain(&input, &error);
      if (status == 0 && syncfs(root) < 0) status = fail(&error, errno, "sync %s: %s", target, strerror(errno));
    }
  }
  if (status < 0) {
    input_close(&input);
    return report(&error);
  }
  char hex[65];
  sha256_hex(&input.hash, hex);
  input_close(&input);
  if (mode == MODE_DIGEST) printf("sha256:%s\n", hex);
  if (mode == MODE_APPLY) printf("sha256:%s\n%llu\n", hex, (unsigned long long)stats.content_bytes);
  if (fflush(stdout) != 0) return 1;
  return 0;
}

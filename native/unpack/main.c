// berth-unpack: applies one image layer (a tar stream: plain, gzip or zstd, detected by magic)
// to a directory, as overlayfs lower layers need it, and reports the layer's diff_id.
//
//   berth-unpack [--no-devices] [--blob FILE] DIR
//                                      apply stdin to DIR (which must exist); on success print
//                                      "sha256:<hex>\n<bytes>\n": the digest of the whole
//                                      uncompressed stream and the bytes of content written.
//                                      With --blob, the compressed stream is also kept in FILE
//                                      (a download unpacked as it arrives): bytes FILE already
//                                      holds are read first, stdin's are appended, FILE is
//                                      synced, and two more lines follow: "sha256:<hex>\n<bytes>\n"
//                                      of the whole of FILE. The caller verifies that digest.
//                                      When applying fails, the rest of stdin is still kept
//                                      and "blob sha256:<hex>\n<bytes>\n" is printed before the
//                                      error status, so the caller can check the bytes first.
//   berth-unpack --blob FILE --length N [--http] [--timeout-ms T] DIR
//                                      as above, stdin being a registry connection whose next N
//                                      bytes are the rest of the blob. With --http, FILE is empty
//                                      and the connection starts with the response to a GET of
//                                      the blob: unless it is a 200 with Content-Length N and no
//                                      Transfer-Encoding, "http <status>" is printed, nothing is
//                                      written, and the status is 5 (the caller asks again its
//                                      own way). A connection that closes early or sends nothing
//                                      for T ms (default 30000) ends with status 4: FILE keeps
//                                      what arrived, and the caller resumes the download.
//   berth-unpack --digest              print only the digest line (nothing is written)
//   berth-unpack --decompress          write the uncompressed stream to stdout
//
// Exit status: 0 done; 1 corrupt input or a failed operation; 2 usage; 3 a hostile entry was
// refused; 4 the connection given with --length ended or stalled before its last byte; 5 the
// --http answer was not the whole blob. Errors are one line on stderr naming the entry. The caller unpacks into a fresh
// temporary directory and discards it on failure, so a refused layer leaves nothing behind.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static int report(const struct unpack_error *error, bool stream_failed) {
  // One line: newlines in hostile names must not forge extra lines.
  char line[sizeof error->message];
  size_t length = strlen(error->message);
  for (size_t i = 0; i <= length; i++) line[i] = (error->message[i] == '\n' || error->message[i] == '\r') ? ' ' : error->message[i];
  fprintf(stderr, "berth-unpack: %s%s\n", error->unsafe ? "refused: " : "", line);
  return stream_failed ? 4 : error->unsafe ? 3 : 1;
}

// A decimal count in [0, max]; false for anything else.
static bool parse_count(const char *text, int64_t max, int64_t *value) {
  char *end;
  errno = 0;
  long long parsed = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || parsed < 0 || parsed > max) return false;
  *value = parsed;
  return true;
}

static int usage(void) {
  fprintf(stderr, "usage: berth-unpack [--no-devices] [--blob FILE [--length N [--http] [--timeout-ms T]]] DIR | --digest | --decompress  (layer stream on stdin)\n");
  return 2;
}

int main(int argc, char **argv) {
  enum { MODE_APPLY, MODE_DIGEST, MODE_DECOMPRESS } mode = MODE_APPLY;
  struct apply_options options = {.allow_devices = true};
  const char *target = NULL;
  const char *blob = NULL;
  int64_t length = -1;
  int timeout_ms = 30000;
  bool http = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--no-devices") == 0) options.allow_devices = false;
    else if (strcmp(argv[i], "--blob") == 0 && i + 1 < argc && blob == NULL) blob = argv[++i];
    else if (strcmp(argv[i], "--http") == 0) http = true;
    else if (strcmp(argv[i], "--length") == 0 && i + 1 < argc && length < 0) {
      if (!parse_count(argv[++i], INT64_MAX, &length)) return usage();
    } else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
      int64_t value;
      if (!parse_count(argv[++i], INT32_MAX, &value) || value == 0) return usage();
      timeout_ms = (int)value;
    }
    else if (strcmp(argv[i], "--digest") == 0) mode = MODE_DIGEST;
    else if (strcmp(argv[i], "--decompress") == 0) mode = MODE_DECOMPRESS;
    else if (argv[i][0] == '-' || target != NULL) return usage();
    else target = argv[i];
  }
  if ((mode == MODE_APPLY) != (target != NULL) || (blob != NULL && mode != MODE_APPLY) || (length >= 0 && blob == NULL) || (http && length < 0)) return usage();

  struct unpack_error error = {0};
  AUTO_FD blob_fd = -1;
  if (blob != NULL) {
    blob_fd = open(blob, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (blob_fd < 0) {
      fail(&error, errno, "open %s: %s", blob, strerror(errno));
      return report(&error, false);
    }
    // A download arrives through a pipe in 64 KiB writes; a larger pipe means fewer wake-ups.
    struct stat stdin_status;
    if (fstat(STDIN_FILENO, &stdin_status) == 0 && S_ISFIFO(stdin_status.st_mode)) (void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20);
    // Reading a connection, nothing tells this program that the pull gave up: it dies with its
    // caller rather than keep writing a download that a later pull may take over.
    if (length >= 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)) return 1;
    // A connection is read with poll() and a timeout: a stalled registry must not hang the pull.
    int flags = fcntl(STDIN_FILENO, F_GETFL);
    if (length >= 0 && flags >= 0) (void)fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK);
  }
  if (http) {
    struct stat blob_status;
    if (fstat(blob_fd, &blob_status) < 0 || blob_status.st_size != 0) {
      fail(&error, EINVAL, "--http needs an empty %s", blob);
      return report(&error, false);
    }
    struct http_head head;
    if (http_read_head(STDIN_FILENO, timeout_ms, &head, &error) < 0) return report(&error, true);
    if (head.status != 200 || head.chunked || head.content_length != length || head.body_length > (uint64_t)length) {
      printf("http %d\n", head.status);
      return fflush(stdout) == 0 ? 5 : 1;
    }
    // The body's first bytes came with the head: kept first, they are replayed like any held bytes.
    if (write_all(blob_fd, head.body, head.body_length, &error) < 0) return report(&error, false);
    if (lseek(blob_fd, 0, SEEK_SET) < 0) {
      fail(&error, errno, "seek %s: %s", blob, strerror(errno));
      return report(&error, false);
    }
    length -= (int64_t)head.body_length;
  }
  if (input_open(&input, STDIN_FILENO, blob_fd, length, timeout_ms, &error) < 0) return report(&error, input.stream_failed);
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
      if (status == 0 && blob_fd >= 0) status = input_drain_raw(&input, &error);
      if (status == 0 && syncfs(root) < 0) status = fail(&error, errno, "sync %s: %s", target, strerror(errno));
      if (status == 0 && blob_fd >= 0 && fsync(blob_fd) < 0) status = fail(&error, errno, "sync %s: %s", blob, strerror(errno));
    }
  }
  if (status < 0 && blob_fd >= 0 && !input.stream_failed) {
    // The blob is still kept whole and digested: the caller checks the digest first, so that
    // bytes damaged on the way are reported as such rather than as a broken layer.
    struct unpack_error drain_error = {0};
    if (input_drain_raw(&input, &drain_error) < 0 || fsync(blob_fd) < 0) blob_fd = -1;
  }
  if (status < 0) {
    if (blob_fd >= 0 && !input.stream_failed) {
      char blob_hex[65];
      sha256_hex(&input.blob_hash, blob_hex);
      printf("blob sha256:%s\n%llu\n", blob_hex, (unsigned long long)input.blob_total);
      fflush(stdout);
    }
    input_close(&input);
    return report(&error, input.stream_failed);
  }
  char hex[65];
  sha256_hex(&input.hash, hex);
  input_close(&input);
  if (mode == MODE_DIGEST) printf("sha256:%s\n", hex);
  if (mode == MODE_APPLY) printf("sha256:%s\n%llu\n", hex, (unsigned long long)stats.content_bytes);
  if (blob_fd >= 0) {
    sha256_hex(&input.blob_hash, hex);
    printf("sha256:%s\n%llu\n", hex, (unsigned long long)input.blob_total);
  }
  if (fflush(stdout) != 0) return 1;
  return 0;
}

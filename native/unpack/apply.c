// Applying tar entries under a root directory without ever leaving it.
//
// Every path is cleaned lexically first (absolute paths become relative, as Docker does; a `..`
// that would climb above the root is refused). Then each parent component is opened one at a
// time with openat(O_NOFOLLOW | O_DIRECTORY) from a descriptor of the root, so a symlink planted
// by an earlier entry can never redirect a later write: traversing any symlink is refused. The
// final component is created relative to its parent's descriptor (mknodat, symlinkat, linkat,
// openat(O_EXCL | O_NOFOLLOW)), and metadata is set through descriptors or with
// AT_SYMLINK_NOFOLLOW.
//
// Docker whiteouts become overlayfs whiteouts: `.wh.NAME` → character device 0:0 named NAME,
// `.wh..wh..opq` → xattr trusted.overlay.opaque=y on the directory. Other `.wh..wh.` names
// (aufs metadata) are skipped.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "unpack.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_WHITEOUT ".wh..wh..opq"
#define PATH_LIMIT (64 * 1024)

struct clean_path {
  char **components;
  size_t count;
  char *text; // components joined with '/', "" for the root
};

static void clean_path_free(struct clean_path *path) {
  for (size_t i = 0; i < path->count; i++) free(path->components[i]);
  free(path->components);
  free(path->text);
  memset(path, 0, sizeof *path);
}

// `what` names the entry in messages ("entry \"x\"" or "hard link target of \"x\"").
static int clean(const char *raw, const char *entry_name, struct clean_path *path, struct unpack_error *error) {
  memset(path, 0, sizeof *path);
  size_t raw_length = strlen(raw);
  if (raw_length > PATH_LIMIT) return refuse(error, "entry \"%.200s…\": path longer than %d bytes", raw, PATH_LIMIT);
  bool absolute = raw[0] == '/';
  path->components = calloc(raw_length / 2 + 2, sizeof *path->components);
  if (path->components == NULL) return fail(error, ENOMEM, "out of memory");
  const char *cursor = raw;
  while (*cursor != '\0') {
    while (*cursor == '/') cursor++;
    if (*cursor == '\0') break;
    const char *end = strchrnul(cursor, '/');
    size_t length = (size_t)(end - cursor);
    if (length == 1 && cursor[0] == '.') {
      // skip
    } else if (length == 2 && cursor[0] == '.' && cursor[1] == '.') {
      if (path->count > 0) {
        free(path->components[--path->count]);
      } else if (!absolute) {
        clean_path_free(path);
        return refuse(error, "entry \"%s\": path escapes the layer root (\"..\")", entry_name);
      }
      // `/..` is `/`: for an absolute path the climb stops at the root, as filepath.Clean does.
    } else {
      if (length > 255) {
        clean_path_free(path);
        return refuse(error, "entry \"%.200s…\": a path component is longer than 255 bytes", entry_name);
      }
      path->components[path->count] = strndup(cursor, length);
      if (path->components[path->count] == NULL) {
        clean_path_free(path);
        return fail(error, ENOMEM, "out of memory");
      }
      path->count++;
    }
    cursor = end;
  }
  path->text = malloc(raw_length + 1);
  if (path->text == NULL) {
    clean_path_free(path);
    return fail(error, ENOMEM, "out of memory");
  }
  path->text[0] = '\0';
  size_t used = 0;
  for (size_t i = 0; i < path->count; i++) {
    size_t length = strlen(path->components[i]);
    if (i > 0) path->text[used++] = '/';
    memcpy(path->text + used, path->components[i], length);
    used += length;
    path->text[used] = '\0';
  }
  return 0;
}

// "a/b/c" for the first `count` components, for messages.
static void prefix_text(const struct clean_path *path, size_t count, char *buffer, size_t size) {
  size_t used = 0;
  buffer[0] = '\0';
  for (size_t i = 0; i < count && used + 1 < size; i++) {
    int written = snprintf(buffer + used, size - used, "%s%s", i > 0 ? "/" : "", path->components[i]);
    if (written < 0) break;
    used += (size_t)written;
  }
}

// A descriptor of the directory holding the path's last component (the first `depth` components),
// opened one component at a time without following symlinks. Missing directories are created
// (root-owned, 0755, as Docker does) when `create` is set.
static int open_parent(int root_fd, const struct clean_path *path, size_t depth, bool create, const char *entry_name,
                       struct unpack_error *error) {
  int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return fail(error, errno, "dup: %s", strerror(errno));
  for (size_t i = 0; i < depth; i++) {
    const char *component = path->components[i];
    int next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(fd, component, 0755) < 0 && errno != EEXIST) {
        int saved = errno;
        char where[1024];
        prefix_text(path, i + 1, where, sizeof where);
        close(fd);
        return fail(error, saved, "entry \"%s\": mkdir %s: %s", entry_name, where, strerror(saved));
      }
      next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int saved = errno;
      char where[1024];
      prefix_text(path, i + 1, where, sizeof where);
      struct stat status;
      bool is_symlink = fstatat(fd, component, &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(status.st_mode);
      close(fd);
      if (is_symlink || saved == ELOOP) {
        return refuse(error, "entry \"%s\": path traverses the symlink \"%s\"", entry_name, where);
      }
      if (saved == ENOTDIR) return fail(error, saved, "entry \"%s\": \"%s\" is not a directory", entry_name, where);
      return fail(error, saved, "entry \"%s\": open %s: %s", entry_name, where, strerror(saved));
    }
    close(fd);
    fd = next;
  }
  return fd;
}

static int remove_tree_at(int parent_fd, const char *name, struct unpack_error *error);

static int remove_children(int directory_fd, struct unpack_error *error) {
  int fd = fcntl(directory_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return fail(error, errno, "dup: %s", strerror(errno));
  DIR *directory = fdopendir(fd);
  if (directory == NULL) {
    int saved = errno;
    close(fd);
    return fail(error, saved, "opendir: %s", strerror(saved));
  }
  int status = 0;
  for (;;) {
    errno = 0;
    struct dirent *child = readdir(directory);
    if (child == NULL) break;
    if (strcmp(child->d_name, ".") == 0 || strcmp(child->d_name, "..") == 0) continue;
    if (remove_tree_at(directory_fd, child->d_name, error) < 0) {
      status = -1;
      break;
    }
    rewinddir(directory);
  }
  closedir(directory);
  return status;
}

static int remove_tree_at(int parent_fd, const char *name, struct unpack_error *error) {
  struct stat status;
  if (fstatat(parent_fd, name, &status, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return 0;
    return fail(error, errno, "stat %s: %s", name, strerror(errno));
  }
  if (!S_ISDIR(status.st_mode)) {
    if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT) return fail(error, errno, "unlink %s: %s", name, strerror(errno));
    return 0;
  }
  AUTO_FD child = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (child < 0) return fail(error, errno, "open %s: %s", name, strerror(errno));
  if (remove_children(child, error) < 0) return -1;
  if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0) return fail(error, errno, "rmdir %s: %s", name, strerror(errno));
  return 0;
}

// Makes room for a new entry: keeps an existing directory when the new entry is a directory,
// removes anything else (a later entry replaces an earlier one, as in Docker).
// Returns 1 when a directory was kept.
static int make_room(int parent_fd, const char *name, bool new_is_directory, const char *entry_name,
                     struct unpack_error *error) {
  struct stat status;
  if (fstatat(parent_fd, name, &status, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return 0;
    return fail(error, errno, "entry \"%s\": stat: %s", entry_name, strerror(errno));
  }
  if (S_ISDIR(status.st_mode) && new_is_directory) return 1;
  if (remove_tree_at(parent_fd, name, error) < 0) {
    char detail[sizeof error->message];
    snprintf(detail, sizeof detail, "%s", error->message);
    return fail(error, error->errnum, "entry \"%s\": replacing the existing entry: %s", entry_name, detail);
  }
  return 0;
}

static int check_xattr_name(const struct tar_entry *entry, const char *name, struct unpack_error *error) {
  // Overlay's own attributes (opaque, redirect, metacopy, origin) steer lookups across layers:
  // a layer states opacity with `.wh..wh..opq`, never with raw xattrs.
  if (strncmp(name, "trusted.overlay.", 16) == 0) {
    return refuse(error, "entry \"%s\": xattr %s is not allowed in a layer", entry->path, name);
  }
  return 0;
}

// Sets xattrs through a descriptor when there is one, else by name relative to the parent
// descriptor (via /proc/self/fd, whose final component is not followed by lsetxattr).
static int set_xattrs(const struct tar_entry *entry, int fd, int parent_fd, const char *name, struct unpack_error *error) {
  for (size_t i = 0; i < entry->xattr_count; i++) {
    const struct xattr *xattr = &entry->xattrs[i];
    if (check_xattr_name(entry, xattr->name, error) < 0) return -1;
    int status;
    if (fd >= 0) {
      status = fsetxattr(fd, xattr->name, xattr->value, xattr->length, 0);
    } else {
      char path[64 + 256];
      snprintf(path, sizeof path, "/proc/self/fd/%d/%s", parent_fd, name);
      status = lsetxattr(path, xattr->name, xattr->value, xattr->length, 0);
    }
    if (status < 0) {
      // user.* on a symlink or device is not allowed by the kernel; tar drops those too.
      if (errno == EPERM && fd < 0 && strncmp(xattr->name, "user.", 5) == 0) continue;
      return fail(error, errno, "entry \"%s\": setxattr %s: %s", entry->path, xattr->name, strerror(errno));
    }
  }
  return 0;
}

static int set_times_fd(const struct tar_entry *entry, int fd, struct unpack_error *error) {
  struct timespec times[2] = {entry->atime, entry->mtime};
  if (futimens(fd, times) < 0) return fail(error, errno, "entry \"%s\": set times: %s", entry->path, strerror(errno));
  return 0;
}

static int set_times_at(const struct tar_entry *entry, int parent_fd, const char *name, struct unpack_error *error) {
  struct timespec times[2] = {entry->atime, entry->mtime};
  if (utimensat(parent_fd, name, times, AT_SYMLINK_NOFOLLOW) < 0) {
    return fail(error, errno, "entry \"%s\": set times: %s", entry->path, strerror(errno));
  }
  return 0;
}

// Ownership, then mode (chown clears setuid/setgid), then xattrs (chown clears file
// capabilities), then times (last, since the others change ctime only, but xattrs can touch mtime
// on some filesystems).
static int set_metadata_fd(const struct tar_entry *entry, int fd, struct unpack_error *error) {
  if (fchown(fd, entry->uid, entry->gid) < 0) return fail(error, errno, "entry \"%s\": chown: %s", entry->path, strerror(errno));
  if (fchmod(fd, entry->mode) < 0) return fail(error, errno, "entry \"%s\": chmod: %s", entry->path, strerror(errno));
  return set_xattrs(entry, fd, -1, NULL, error);
}

static int set_metadata_at(const struct tar_entry *entry, int parent_fd, const char *name, bool chmod_allowed,
                           struct unpack_error *error) {
  if (fchownat(parent_fd, name, entry->uid, entry->gid, AT_SYMLINK_NOFOLLOW) < 0) {
    return fail(error, errno, "entry \"%s\": chown: %s", entry->path, strerror(errno));
  }
  // The node was just created by us in a directory reached without symlinks, and is not a symlink.
  if (chmod_allowed && fchmodat(parent_fd, name, entry->mode, 0) < 0) {
    return fail(error, errno, "entry \"%s\": chmod: %s", entry->path, strerror(errno));
  }
  if (set_xattrs(entry, -1, parent_fd, name, error) < 0) return -1;
  return set_times_at(entry, parent_fd, name, error);
}

struct directory_time {
  char *path;
  struct timespec atime, mtime;
};

struct directory_times {
  struct directory_time *items;
  size_t count, capacity;
};

static int remember_directory_time(struct directory_times *times, const struct clean_path *path,
                                   const struct tar_entry *entry, struct unpack_error *error) {
  if (times->count == times->capacity) {
    size_t capacity = times->capacity == 0 ? 256 : times->capacity * 2;
    struct directory_time *grown = realloc(times->items, capacity * sizeof *grown);
    if (grown == NULL) return fail(error, ENOMEM, "out of memory");
    times->items = grown;
    times->capacity = capacity;
  }
  char *copy = strdup(path->text);
  if (copy == NULL) return fail(error, ENOMEM, "out of memory");
  times->items[times->count++] = (struct directory_time){copy, entry->atime, entry->mtime};
  return 0;
}

// Directory times are set last: creating their children would change them again.
static int apply_directory_times(int root_fd, struct directory_times *times, struct unpack_error *error) {
  for (size_t i = times->count; i-- > 0;) {
    struct directory_time *item = &times->items[i];
    struct timespec values[2] = {item->atime, item->mtime};
    if (item->path[0] == '\0') {
      if (futimens(root_fd, values) < 0) return fail(error, errno, "set times of the layer root: %s", strerror(errno));
      continue;
    }
    struct clean_path path;
    if (clean(item->path, item->path, &path, error) < 0) return -1;
    int parent = open_parent(root_fd, &path, path.count - 1, false, item->path, error);
    if (parent < 0) {
      clean_path_free(&path);
      return -1;
    }
    int status = utimensat(parent, path.components[path.count - 1], values, AT_SYMLINK_NOFOLLOW);
    int saved = errno;
    close(parent);
    clean_path_free(&path);
    if (status < 0 && saved != ENOENT) return fail(error, saved, "entry \"%s\": set times: %s", item->path, strerror(saved));
  }
  return 0;
}

static void directory_times_free(struct directory_times *times) {
  for (size_t i = 0; i < times->count; i++) free(times->items[i].path);
  free(times->items);
  memset(times, 0, sizeof *times);
}

static int write_content(struct input *input, const struct tar_entry *entry, int fd, struct unpack_error *error) {
  static unsigned char buffer[256 * 1024];
  uint64_t left = entry->size;
  struct writeback writeback = { 0 };
  while (left > 0) {
    size_t chunk = left < sizeof buffer ? (size_t)left : sizeof buffer;
    ssize_t count = input_read(input, buffer, chunk, error);
    if (count < 0) return -1;
    if (count == 0) return fail(error, 0, "entry \"%s\": unexpected end of layer stream in file content", entry->path);
    for (ssize_t written = 0; written < count;) {
      ssize_t result = write(fd, buffer + written, (size_t)(count - written));
      if (result < 0 && errno == EINTR) continue;
      if (result < 0) return fail(error, errno, "entry \"%s\": write: %s", entry->path, strerror(errno));
      written += result;
    }
    writeback_kick(fd, &writeback, (size_t)count, left == (uint64_t)count);
    left -= (uint64_t)count;
  }
  return tar_skip_padding(input, entry->size, error);
}

static int apply_whiteout(int parent_fd, const char *name, const struct tar_entry *entry, struct unpack_error *error) {
  if (strcmp(name, OPAQUE_WHITEOUT) == 0) {
    if (fsetxattr(parent_fd, "trusted.overlay.opaque", "y", 1, 0) < 0) {
      return fail(error, errno, "entry \"%s\": set trusted.overlay.opaque: %s", entry->path, strerror(errno));
    }
    return 0;
  }
  if (strncmp(name, WHITEOUT_PREFIX WHITEOUT_PREFIX, 8) == 0) return 0; // aufs metadata: not content
  const char *hidden = name + strlen(WHITEOUT_PREFIX);
  if (hidden[0] == '\0' || strcmp(hidden, ".") == 0 || strcmp(hidden, "..") == 0) {
    return refuse(error, "entry \"%s\": invalid whiteout name", entry->path);
  }
  if (make_room(parent_fd, hidden, false, entry->path, error) < 0) return -1;
  if (mknodat(parent_fd, hidden, S_IFCHR | 0, makedev(0, 0)) < 0) {
    return fail(error, errno, "entry \"%s\": mknod whiteout: %s", entry->path, strerror(errno));
  }
  if (fchownat(parent_fd, hidden, entry->uid, entry->gid, AT_SYMLINK_NOFOLLOW) < 0) {
    return fail(error, errno, "entry \"%s\": chown whiteout: %s", entry->path, strerror(errno));
  }
  return 0;
}

static int apply_hard_link(int root_fd, int parent_fd, const char *name, const struct tar_entry *entry,
                           struct unpack_error *error) {
  struct clean_path target;
  if (entry->linkpath[0] == '\0') return refuse(error, "entry \"%s\": hard link with an empty target", entry->path);
  if (clean(entry->linkpath, entry->path, &target, error) < 0) {
    if (error->unsafe) {
      return refuse(error, "entry \"%s\": hard link target \"%s\" is outside the layer root", entry->path, entry->linkpath);
    }
    return -1;
  }
  if (target.count == 0) {
    clean_path_free(&target);
    return refuse(error, "entry \"%s\": hard link to the layer root", entry->path);
  }
  int target_parent = open_parent(root_fd, &target, target.count - 1, false, entry->path, error);
  if (target_parent < 0) {
    if (error->errnum == ENOENT) {
      refuse(error, "entry \"%s\": hard link target \"%s\" is not in the layer", entry->path, entry->linkpath);
    }
    clean_path_free(&target);
    return -1;
  }
  const char *target_name = target.components[target.count - 1];
  struct stat status;
  int result = 0;
  if (fstatat(target_parent, target_name, &status, AT_SYMLINK_NOFOLLOW) < 0) {
    result = errno == ENOENT
                 ? refuse(error, "entry \"%s\": hard link target \"%s\" is not in the layer", entry->path, entry->linkpath)
                 : fail(error, errno, "entry \"%s\": stat link target: %s", entry->path, strerror(errno));
  } else if (S_ISDIR(status.st_mode)) {
    result = refuse(error, "entry \"%s\": hard link to a directory", entry->path);
  } else {
    // Linking a name onto itself would remove the target first: keep it as it is.
    struct stat existing;
    if (fstatat(parent_fd, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 && existing.st_dev == status.st_dev &&
        existing.st_ino == status.st_ino) {
      result = 0;
    } else if (make_room(parent_fd, name, false, entry->path, error) < 0) {
      result = -1;
    } else if (linkat(target_parent, target_name, parent_fd, name, 0) < 0) {
      result = fail(error, errno, "entry \"%s\": link to \"%s\": %s", entry->path, entry->linkpath, strerror(errno));
    }
  }
  close(target_parent);
  clean_path_free(&target);
  return result;
}

static int apply_entry(struct input *input, int root_fd, const struct apply_options *options, struct tar_entry *entry,
                       struct directory_times *times, struct apply_stats *stats, struct unpack_error *error) {
  struct clean_path path;
  if (clean(entry->path, entry->path, &path, error) < 0) return -1;
  int result = -1;
  AUTO_FD parent = -1;
  AUTO_FD fd = -1;

  if (path.count == 0) {
    // The layer root itself ("./"): only a directory may describe it.
    if (entry->type != '5') {
      refuse(error, "entry \"%s\": replaces the layer root with a non-directory", entry->path);
      goto done;
    }
    if (set_metadata_fd(entry, root_fd, error) < 0 || remember_directory_time(times, &path, entry, error) < 0) goto done;
    result = 0;
    goto done;
  }

  const char *name = path.components[path.count - 1];
  parent = open_parent(root_fd, &path, path.count - 1, true, entry->path, error);
  if (parent < 0) goto done;

  if (strncmp(name, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
    if (entry->size > 0 && (input_skip(input, entry->size, "whiteout content", error) < 0 ||
                            tar_skip_padding(input, entry->size, error) < 0)) {
      goto done;
    }
    result = apply_whiteout(parent, name, entry, error);
    goto done;
  }

  switch (entry->type) {
  case '5': {
    int kept = make_room(parent, name, true, entry->path, error);
    if (kept < 0) goto done;
    if (!kept && mkdirat(parent, name, 0700) < 0) {
      fail(error, errno, "entry \"%s\": mkdir: %s", entry->path, strerror(errno));
      goto done;
    }
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      fail(error, errno, "entry \"%s\": open directory: %s", entry->path, strerror(errno));
      goto done;
    }
    if (set_metadata_fd(entry, fd, error) < 0 || remember_directory_time(times, &path, entry, error) < 0) goto done;
    break;
  }
  case '0':
    if (make_room(parent, name, false, entry->path, error) < 0) goto done;
    fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      fail(error, errno, "entry \"%s\": create: %s", entry->path, strerror(errno));
      goto done;
    }
    if (write_content(input, entry, fd, error) < 0) goto done;
    if (set_metadata_fd(entry, fd, error) < 0 || set_times_fd(entry, fd, error) < 0) goto done;
    stats->content_bytes += entry->size;
    break;
  case '2':
    if (make_room(parent, name, false, entry->path, error) < 0) goto done;
    if (symlinkat(entry->linkpath, parent, name) < 0) {
      fail(error, errno, "entry \"%s\": symlink: %s", entry->path, strerror(errno));
      goto done;
    }
    if (set_metadata_at(entry, parent, name, false, error) < 0) goto done;
    stats->content_bytes += strlen(entry->linkpath);
    break;
  case '1':
    if (apply_hard_link(root_fd, parent, name, entry, error) < 0) goto done;
    break;
  case '3':
  case '4':
  case '6': {
    if (entry->type != '6' && !options->allow_devices) {
      refuse(error, "entry \"%s\": device nodes are not allowed here", entry->path);
      goto done;
    }
    mode_t kind = entry->type == '3' ? S_IFCHR : entry->type == '4' ? S_IFBLK : S_IFIFO;
    dev_t device = entry->type == '6' ? 0 : makedev(entry->device_major, entry->device_minor);
    if (make_room(parent, name, false, entry->path, error) < 0) goto done;
    if (mknodat(parent, name, kind | (entry->mode & 0777), device) < 0) {
      fail(error, errno, "entry \"%s\": mknod: %s", entry->path, strerror(errno));
      goto done;
    }
    if (set_metadata_at(entry, parent, name, true, error) < 0) goto done;
    break;
  }
  default:
    fail(error, 0, "entry \"%s\": unsupported type", entry->path);
    goto done;
  }
  result = 0;
done:
  clean_path_free(&path);
  return result;
}

int apply_layer(struct input *input, int root_fd, const struct apply_options *options, struct apply_stats *stats,
                struct unpack_error *error) {
  struct directory_times times = {0};
  int result = 0;
  for (;;) {
    struct tar_entry entry;
    int status = tar_next(input, &entry, error);
    if (status < 0) {
      result = -1;
      break;
    }
    if (status == 0) break;
    status = apply_entry(input, root_fd, options, &entry, &times, stats, error);
    tar_entry_free(&entry);
    if (status < 0) {
      result = -1;
      break;
    }
    stats->entries++;
  }
  if (result == 0) result = apply_directory_times(root_fd, &times, error);
  directory_times_free(&times);
  return result;
}

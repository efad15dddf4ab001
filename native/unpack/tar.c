// Tar headers as layer producers write them: ustar (with prefix), GNU (long names as 'L'/'K'
// entries, base-256 numbers) and POSIX PAX ('x' records: path, linkpath, size, uid, gid, mtime,
// atime, SCHILY.xattr.*). Global PAX headers ('g') are read and ignored, as Docker does.
// Sparse files are refused. Metadata entries are folded into the entry they describe.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unpack.h"

#define BLOCK 512
// Metadata entries (PAX records, GNU long names) larger than this are refused as hostile.
#define METADATA_LIMIT (8u * 1024 * 1024)

struct header_fields {
  char name[101];
  char linkname[101];
  char prefix[156];
};

void tar_entry_free(struct tar_entry *entry) {
  free(entry->path);
  free(entry->linkpath);
  for (size_t i = 0; i < entry->xattr_count; i++) {
    free(entry->xattrs[i].name);
    free(entry->xattrs[i].value);
  }
  free(entry->xattrs);
  memset(entry, 0, sizeof *entry);
}

static bool all_zero(const unsigned char *block) {
  for (int i = 0; i < BLOCK; i++)
    if (block[i] != 0) return false;
  return true;
}

// Octal (NUL/space terminated, leading spaces allowed) or GNU base-256 (high bit of the first byte).
static int parse_number(const unsigned char *field, size_t size, uint64_t *value, const char *what,
                        struct unpack_error *error) {
  *value = 0;
  if (field[0] & 0x80) {
    if (field[0] == 0xff) return fail(error, 0, "tar header: negative %s", what);
    uint64_t result = field[0] & 0x7f;
    for (size_t i = 1; i < size; i++) {
      if (result >> 56) return fail(error, 0, "tar header: %s out of range", what);
      result = result << 8 | field[i];
    }
    *value = result;
    return 0;
  }
  size_t i = 0;
  while (i < size && (field[i] == ' ' || field[i] == '\0')) {
    if (field[i] == '\0' && i + 1 < size && field[i + 1] == '\0') break;
    i++;
  }
  uint64_t result = 0;
  for (; i < size && field[i] != '\0' && field[i] != ' '; i++) {
    if (field[i] < '0' || field[i] > '7') return fail(error, 0, "tar header: invalid octal %s", what);
    if (result >> 61) return fail(error, 0, "tar header: %s out of range", what);
    result = result * 8 + (uint64_t)(field[i] - '0');
  }
  *value = result;
  return 0;
}

static bool checksum_matches(const unsigned char *block, uint64_t expected) {
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (int i = 0; i < BLOCK; i++) {
    unsigned char byte = (i >= 148 && i < 156) ? ' ' : block[i];
    unsigned_sum += byte;
    signed_sum += (signed char)byte;
  }
  return unsigned_sum == expected || (uint64_t)signed_sum == expected;
}

static char *duplicate_bytes(const void *bytes, size_t length) {
  char *copy = malloc(length + 1);
  if (copy == NULL) return NULL;
  memcpy(copy, bytes, length);
  copy[length] = '\0';
  return copy;
}

static void copy_field(char *destination, const unsigned char *field, size_t size) {
  size_t length = strnlen((const char *)field, size);
  memcpy(destination, field, length);
  destination[length] = '\0';
}

// Reads an entry's whole content (a metadata entry), with its padding. Caller frees.
static int read_metadata(struct input *input, uint64_t size, const char *what, unsigned char **content,
                         struct unpack_error *error) {
  if (size > METADATA_LIMIT) return refuse(error, "%s of %llu bytes is larger than allowed", what, (unsigned long long)size);
  unsigned char *buffer = malloc((size_t)size + 1);
  if (buffer == NULL) return fail(error, ENOMEM, "out of memory reading %s", what);
  if (input_read_exact(input, buffer, (size_t)size, what, error) < 0 || tar_skip_padding(input, size, error) < 0) {
    free(buffer);
    return -1;
  }
  buffer[size] = '\0';
  *content = buffer;
  return 0;
}

// "12345.678" (or "-1.5") seconds into a timespec.
static int parse_pax_time(const char *text, struct timespec *time, const char *key, struct unpack_error *error) {
  bool negative = *text == '-';
  if (negative) text++;
  int64_t seconds = 0;
  long nanoseconds = 0;
  if (*text < '0' || *text > '9') return fail(error, 0, "PAX %s: invalid time", key);
  for (; *text >= '0' && *text <= '9'; text++) {
    if (seconds > INT64_MAX / 10 - 10) return fail(error, 0, "PAX %s: out of range", key);
    seconds = seconds * 10 + (*text - '0');
  }
  if (*text == '.') {
    text++;
    long scale = 100000000;
    for (; *text >= '0' && *text <= '9'; text++, scale /= 10) nanoseconds += (*text - '0') * scale;
  }
  if (*text != '\0') return fail(error, 0, "PAX %s: invalid time", key);
  time->tv_sec = negative ? -seconds : seconds;
  time->tv_nsec = nanoseconds;
  if (negative && nanoseconds > 0) {
    time->tv_sec -= 1;
    time->tv_nsec = 1000000000 - nanoseconds;
  }
  return 0;
}

static int parse_pax_decimal(const char *text, uint64_t *value, const char *key, struct unpack_error *error) {
  uint64_t result = 0;
  if (*text == '\0') return fail(error, 0, "PAX %s: empty number", key);
  for (; *text != '\0'; text++) {
    if (*text < '0' || *text > '9') return fail(error, 0, "PAX %s: invalid number", key);
    if (result > (UINT64_MAX - 9) / 10) return fail(error, 0, "PAX %s: out of range", key);
    result = result * 10 + (uint64_t)(*text - '0');
  }
  *value = result;
  return 0;
}

// Pending overrides from a PAX header or GNU long names, applied to the next real entry.
struct overrides {
  char *path;
  char *linkpath;
  bool has_size, has_uid, has_gid, has_mtime, has_atime;
  uint64_t size, uid, gid;
  struct timespec mtime, atime;
  struct xattr *xattrs;
  size_t xattr_count;
};

static void overrides_free(struct overrides *overrides) {
  free(overrides->path);
  free(overrides->linkpath);
  for (size_t i = 0; i < overrides->xattr_count; i++) {
    free(overrides->xattrs[i].name);
    free(overrides->xattrs[i].value);
  }
  free(overrides->xattrs);
  memset(overrides, 0, sizeof *overrides);
}

static int add_xattr(struct overrides *overrides, const char *name, const unsigned char *value, size_t length,
                     struct unpack_error *error) {
  for (size_t i = 0; i < overrides->xattr_count; i++) {
    if (strcmp(overrides->xattrs[i].name, name) == 0) return fail(error, 0, "PAX: xattr %s given twice", name);
  }
  struct xattr *grown = realloc(overrides->xattrs, (overrides->xattr_count + 1) * sizeof *grown);
  if (grown == NULL) return fail(error, ENOMEM, "out of memory");
  overrides->xattrs = grown;
  struct xattr *xattr = &grown[overrides->xattr_count];
  xattr->name = duplicate_bytes(name, strlen(name));
  xattr->value = (unsigned char *)duplicate_bytes(value, length);
  xattr->length = length;
  if (xattr->name == NULL || xattr->value == NULL) {
    free(xattr->name);
    free(xattr->value);
    return fail(error, ENOMEM, "out of memory");
  }
  overrides->xattr_count++;
  return 0;
}

static int replace_string(char **slot, const unsigned char *value, size_t length, struct unpack_error *error) {
  free(*slot);
  *slot = NULL;
  if (length == 0) return 0; // an empty PAX value removes the override
  if (memchr(value, '\0', length) != NULL) return refuse(error, "PAX path or linkpath contains a NUL byte");
  *slot = duplicate_bytes(value, length);
  if (*slot == NULL) return fail(error, ENOMEM, "out of memory");
  return 0;
}

// Records are "<length> <key>=<value>\n", where length counts the whole record; values may hold
// any bytes (binary xattrs), so they are taken by length, never by terminator.
static int parse_pax(const unsigned char *content, size_t size, struct overrides *overrides,
                     struct unpack_error *error) {
  size_t position = 0;
  while (position < size) {
    size_t length = 0, digits = 0;
    while (position + digits < size && content[position + digits] >= '0' && content[position + digits] <= '9') {
      if (length > size) return fail(error, 0, "PAX header: record length out of range");
      length = length * 10 + (size_t)(content[position + digits] - '0');
      digits++;
    }
    if (digits == 0 && content[position] == '\0') break; // padding after the last record
    if (digits == 0 || position + digits >= size || content[position + digits] != ' ') {
      return fail(error, 0, "PAX header: malformed record");
    }
    if (length <= digits + 1 || length > size - position || content[position + length - 1] != '\n') {
      return fail(error, 0, "PAX header: malformed record length");
    }
    const unsigned char *record = content + position + digits + 1;
    size_t record_length = length - digits - 2; // without "<digits> " and "\n"
    const unsigned char *equals = memchr(record, '=', record_length);
    if (equals == NULL || equals == record) return fail(error, 0, "PAX header: record without a key");
    size_t key_length = (size_t)(equals - record);
    AUTO_FREE char *key = duplicate_bytes(record, key_length);
    if (key == NULL) return fail(error, ENOMEM, "out of memory");
    if (memchr(key, '\0', key_length) != NULL) return fail(error, 0, "PAX header: NUL in a key");
    const unsigned char *value = equals + 1;
    size_t value_length = record_length - key_length - 1;
    AUTO_FREE char *text = duplicate_bytes(value, value_length);
    if (text == NULL) return fail(error, ENOMEM, "out of memory");
    position += length;

    if (strcmp(key, "path") == 0) {
      if (replace_string(&overrides->path, value, value_length, error) < 0) return -1;
    } else if (strcmp(key, "linkpath") == 0) {
      if (replace_string(&overrides->linkpath, value, value_length, error) < 0) return -1;
    } else if (strcmp(key, "size") == 0) {
      if (parse_pax_decimal(text, &overrides->size, key, error) < 0) return -1;
      overrides->has_size = true;
    } else if (strcmp(key, "uid") == 0) {
      if (parse_pax_decimal(text, &overrides->uid, key, error) < 0) return -1;
      if (overrides->uid > UINT32_MAX - 1) return fail(error, 0, "PAX uid out of range");
      overrides->has_uid = true;
    } else if (strcmp(key, "gid") == 0) {
      if (parse_pax_decimal(text, &overrides->gid, key, error) < 0) return -1;
      if (overrides->gid > UINT32_MAX - 1) return fail(error, 0, "PAX gid out of range");
      overrides->has_gid = true;
    } else if (strcmp(key, "mtime") == 0) {
      if (parse_pax_time(text, &overrides->mtime, key, error) < 0) return -1;
      overrides->has_mtime = true;
    } else if (strcmp(key, "atime") == 0) {
      if (parse_pax_time(text, &overrides->atime, key, error) < 0) return -1;
      overrides->has_atime = true;
    } else if (strncmp(key, "SCHILY.xattr.", 13) == 0) {
      if (key[13] == '\0') return fail(error, 0, "PAX header: empty xattr name");
      if (add_xattr(overrides, key + 13, value, value_length, error) < 0) return -1;
    } else if (strncmp(key, "GNU.sparse.", 11) == 0) {
      return fail(error, 0, "sparse files are not supported");
    }
    // Other keys (uname, gname, ctime, comment, charset, LIBARCHIVE.*, …) do not change what is written.
  }
  return 0;
}

int tar_skip_padding(struct input *input, uint64_t size, struct unpack_error *error) {
  uint64_t padding = (BLOCK - size % BLOCK) % BLOCK;
  return input_skip(input, padding, "tar padding", error);
}

static int move_string(char **destination, char **source) {
  free(*destination);
  *destination = *source;
  *source = NULL;
  return 0;
}

int tar_next(struct input *input, struct tar_entry *entry, struct unpack_error *error) {
  struct overrides overrides = {0};
  unsigned char block[BLOCK];
  memset(entry, 0, sizeof *entry);
  for (;;) {
    ssize_t count = 0;
    size_t have = 0;
    while (have < BLOCK) {
      count = input_read(input, block + have, BLOCK - have, error);
      if (count < 0) goto failed;
      if (count == 0) break;
      have += (size_t)count;
    }
    if (have == 0) {
      if (overrides.path != NULL || overrides.xattr_count > 0) {
        fail(error, 0, "tar: archive ends after a metadata header");
        goto failed;
      }
      overrides_free(&overrides);
      return 0; // no end-of-archive marker: accepted, as Go's archive/tar does
    }
    if (have < BLOCK) {
      fail(error, 0, "tar: truncated header");
      goto failed;
    }
    if (all_zero(block)) {
      unsigned char next[BLOCK];
      size_t next_have = 0;
      while (next_have < BLOCK) {
        count = input_read(input, next + next_have, BLOCK - next_have, error);
        if (count < 0) goto failed;
        if (count == 0) break;
        next_have += (size_t)count;
      }
      if (next_have != 0 && (next_have < BLOCK || !all_zero(next))) {
        fail(error, 0, "tar: data after a zero block");
        goto failed;
      }
      overrides_free(&overrides);
      return 0;
    }

    uint64_t checksum, size, mode, uid, gid, mtime, major, minor;
    if (parse_number(block + 148, 8, &checksum, "checksum", error) < 0) goto failed;
    if (!checksum_matches(block, checksum)) {
      fail(error, 0, "tar: header checksum mismatch (not a tar stream, or corrupt)");
      goto failed;
    }
    if (parse_number(block + 124, 12, &size, "size", error) < 0 || parse_number(block + 100, 8, &mode, "mode", error) < 0 ||
        parse_number(block + 108, 8, &uid, "uid", error) < 0 || parse_number(block + 116, 8, &gid, "gid", error) < 0 ||
        parse_number(block + 136, 12, &mtime, "mtime", error) < 0 ||
        parse_number(block + 329, 8, &major, "devmajor", error) < 0 ||
        parse_number(block + 337, 8, &minor, "devminor", error) < 0) {
      goto failed;
    }
    char type = (char)block[156];
    struct header_fields fields;
    copy_field(fields.name, block, 100);
    copy_field(fields.linkname, block + 157, 100);
    bool ustar = memcmp(block + 257, "ustar\0", 6) == 0;
    if (ustar) copy_field(fields.prefix, block + 345, 155);
    else fields.prefix[0] = '\0';

    unsigned char *content = NULL;
    switch (type) {
    case 'x':
      if (read_metadata(input, size, "PAX header", &content, error) < 0) goto failed;
      if (parse_pax(content, (size_t)size, &overrides, error) < 0) {
        free(content);
        goto failed;
      }
      free(content);
      continue;
    case 'g':
      if (read_metadata(input, size, "PAX global header", &content, error) < 0) goto failed;
      free(content);
      continue;
    case 'L':
    case 'K': {
      if (read_metadata(input, size, type == 'L' ? "GNU long name" : "GNU long link name", &content, error) < 0) goto failed;
      size_t length = strnlen((const char *)content, (size_t)size);
      char **slot = type == 'L' ? &overrides.path : &overrides.linkpath;
      free(*slot);
      *slot = duplicate_bytes(content, length);
      free(content);
      if (*slot == NULL) {
        fail(error, ENOMEM, "out of memory");
        goto failed;
      }
      continue;
    }
    case 'S':
      fail(error, 0, "sparse files are not supported (entry \"%s\")", fields.name);
      goto failed;
    default:
      break;
    }

    // A real entry: the header, with the pending overrides applied.
    if (overrides.has_size) size = overrides.size;
    if (overrides.path != NULL) {
      move_string(&entry->path, &overrides.path);
    } else if (fields.prefix[0] != '\0') {
      size_t length = strlen(fields.prefix) + 1 + strlen(fields.name);
      entry->path = malloc(length + 1);
      if (entry->path != NULL) snprintf(entry->path, length + 1, "%s/%s", fields.prefix, fields.name);
    } else {
      entry->path = duplicate_bytes(fields.name, strlen(fields.name));
    }
    if (overrides.linkpath != NULL) move_string(&entry->linkpath, &overrides.linkpath);
    else entry->linkpath = duplicate_bytes(fields.linkname, strlen(fields.linkname));
    if (entry->path == NULL || entry->linkpath == NULL) {
      fail(error, ENOMEM, "out of memory");
      goto failed;
    }
    switch (type) {
    case '\0':
    case '0':
    case '7':
      // Old tars mark directories with a trailing slash only.
      type = (entry->path[0] != '\0' && entry->path[strlen(entry->path) - 1] == '/') ? '5' : '0';
      break;
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
      break;
    default:
      fail(error, 0, "entry \"%s\": unsupported tar entry type '%c'", entry->path, type >= 32 && type < 127 ? type : '?');
      goto failed;
    }
    entry->type = type;
    // Links, devices, directories and fifos are header-only: whatever their size field says, no
    // content follows (Go's archive/tar, and so Docker, read them the same way).
    entry->size = (type == '0') ? size : 0;
    entry->mode = (mode_t)(mode & 07777);
    entry->uid = (uid_t)(overrides.has_uid ? overrides.uid : uid);
    entry->gid = (gid_t)(overrides.has_gid ? overrides.gid : gid);
    if (!overrides.has_uid && uid > UINT32_MAX - 1) {
      fail(error, 0, "entry \"%s\": uid out of range", entry->path);
      goto failed;
    }
    if (!overrides.has_gid && gid > UINT32_MAX - 1) {
      fail(error, 0, "entry \"%s\": gid out of range", entry->path);
      goto failed;
    }
    if (overrides.has_mtime) entry->mtime = overrides.mtime;
    else entry->mtime = (struct timespec){.tv_sec = (time_t)mtime, .tv_nsec = 0};
    entry->atime = overrides.has_atime ? overrides.atime : entry->mtime;
    if (major > 0xfffff || minor > 0xfffff) {
      fail(error, 0, "entry \"%s\": device number out of range", entry->path);
      goto failed;
    }
    entry->device_major = (unsigned int)major;
    entry->device_minor = (unsigned int)minor;
    entry->xattrs = overrides.xattrs;
    entry->xattr_count = overrides.xattr_count;
    overrides.xattrs = NULL;
    overrides.xattr_count = 0;
    overrides_free(&overrides);
    return 1;
  }
failed:
  overrides_free(&overrides);
  tar_entry_free(entry);
  return -1;
}

/* Releasing start-up memory from the supervisor's resident set (see trim.h). */
#include "trim.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

#define SMAPS_MAX (256 * 1024)

struct mapping {
	uintptr_t start, stop;
	bool droppable; /* a file mapping, not writable, private */
	bool stack;
	bool has_private_copies;
};

static void release(const struct mapping *mapping, uintptr_t stack_floor)
{
	if (mapping->stack) {
		/* Keep one page under the caller's frame for the calls still to come. */
		uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
		uintptr_t end = (stack_floor & ~(page - 1)) - 2 * page;
		if (end > mapping->start && end < mapping->stop)
			madvise((void *)mapping->start, end - mapping->start, MADV_DONTNEED);
		return;
	}
	if (mapping->droppable && !mapping->has_private_copies && mapping->stop > mapping->start)
		madvise((void *)mapping->start, mapping->stop - mapping->start, MADV_DONTNEED);
}

__attribute__((noinline)) void trim_memory(void)
{
	char marker;
	uintptr_t stack_floor = (uintptr_t)&marker;
	malloc_trim(0);
	/* smaps is read with plain read(2) into a mapping of our own, unmapped afterwards. */
	char *text = mmap(NULL, SMAPS_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (text == MAP_FAILED)
		return;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	size_t length = 0;
	while (fd >= 0 && length < SMAPS_MAX - 1) {
		ssize_t got = read(fd, text + length, SMAPS_MAX - 1 - length);
		if (got <= 0)
			break;
		length += (size_t)got;
	}
	if (fd >= 0)
		close(fd);
	text[length] = '\0';
	struct mapping current = { 0 };
	bool have = false;
	for (char *line = text; *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		char *cursor = NULL;
		uintptr_t start = (uintptr_t)strtoull(line, &cursor, 16);
		if (cursor && *cursor == '-' && cursor != line) {
			/* A new mapping: "start-end perms offset dev inode [path]". */
			if (have)
				release(&current, stack_floor);
			memset(&current, 0, sizeof current);
			current.start = start;
			current.stop = (uintptr_t)strtoull(cursor + 1, &cursor, 16);
			const char *perms = cursor + 1;
			const char *path = strchr(line, '/');
			current.droppable = path && perms[1] == '-' && perms[3] == 'p';
			current.stack = strstr(line, "[stack]") != NULL;
			have = true;
		} else if (strncmp(line, "Anonymous:", 10) == 0) {
			current.has_private_copies = strtoul(line + 10, NULL, 10) > 0;
		}
		if (!end)
			break;
		line = end + 1;
	}
	if (have)
		release(&current, stack_floor);
	munmap(text, SMAPS_MAX);
}

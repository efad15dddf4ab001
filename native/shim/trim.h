/* Keeping the long-lived supervisor small. Start-up (config parsing, mounts, cgroups,
 * clone) maps far more code and data than the supervise loop needs; once the container
 * runs, give back what only start-up used:
 *   - code and read-only data pages of file mappings (ours and the shared libraries')
 *     that hold no private copy (smaps "Anonymous: 0"), so only clean pages that are
 *     identical to the file are dropped and simply faulted back in when needed again;
 *   - free heap pages (malloc_trim);
 *   - the stack below the caller's frame, which nothing uses any more. */
#ifndef BERTH_TRIM_H
#define BERTH_TRIM_H

/* Call from a shallow frame: everything below it on the stack is released. */
void trim_memory(void);

#endif

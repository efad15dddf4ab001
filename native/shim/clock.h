/* Time: a monotonic clock for deadlines, and RFC3339Nano UTC timestamps formatted as
 * Go formats them (trailing zeros of the fraction trimmed), for logs and state files. */
#ifndef BERTH_CLOCK_H
#define BERTH_CLOCK_H

#include <stdint.h>
#include <time.h>

#define RFC3339_NANO_LENGTH 40

int64_t clock_monotonic_ms(void);
struct timespec clock_realtime(void);
/* Writes at most RFC3339_NANO_LENGTH bytes including the NUL. */
void clock_format_rfc3339_nano(struct timespec when, char out[RFC3339_NANO_LENGTH]);

#endif

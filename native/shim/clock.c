/* Clocks and timestamp formatting (see clock.h). */
#include "clock.h"

#include <stdio.h>
#include <string.h>

int64_t clock_monotonic_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

struct timespec clock_realtime(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return now;
}

void clock_format_rfc3339_nano(struct timespec when, char out[RFC3339_NANO_LENGTH])
{
	struct tm utc;
	time_t seconds = when.tv_sec;
	gmtime_r(&seconds, &utc);
	int length = snprintf(out, RFC3339_NANO_LENGTH, "%04d-%02d-%02dT%02d:%02d:%02d", utc.tm_year + 1900,
			      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
	if (when.tv_nsec > 0) {
		char fraction[24];
		snprintf(fraction, sizeof fraction, ".%09ld", when.tv_nsec);
		size_t end = strlen(fraction);
		while (end > 1 && fraction[end - 1] == '0')
			end--;
		fraction[end] = '\0';
		length += snprintf(out + length, RFC3339_NANO_LENGTH - (size_t)length, "%s", fraction);
	}
	snprintf(out + length, RFC3339_NANO_LENGTH - (size_t)length, "Z");
}

/* Capability sets (see caps.h). */
#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"

int caps_last_cap(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	char text[16];
	struct shim_error ignored = { 0 };
	if (file_read_small("/proc/sys/kernel/cap_last_cap", text, sizeof text, &ignored) > 0)
		last = atoi(text);
	if (last <= 0 || last > 63)
		last = CAP_LAST_CAP;
	return last;
}

int caps_drop_bounding(const struct oci_capabilities *capabilities, struct shim_error *error)
{
	int last = caps_last_cap();
	for (int cap = 0; cap <= last; cap++) {
		if (capabilities->bounding & (UINT64_C(1) << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return error_set(error, errno, "drop capability %d from the bounding set", cap);
	}
	return 0;
}

int caps_apply(const struct oci_capabilities *capabilities, struct shim_error *error)
{
	uint64_t known = caps_last_cap() >= 63 ? UINT64_MAX : (UINT64_C(1) << (caps_last_cap() + 1)) - 1;
	uint64_t effective = capabilities->effective & known;
	uint64_t permitted = capabilities->permitted & known;
	uint64_t inheritable = capabilities->inheritable & known;
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)effective, .permitted = (uint32_t)permitted, .inheritable = (uint32_t)inheritable },
		{ .effective = (uint32_t)(effective >> 32), .permitted = (uint32_t)(permitted >> 32),
		  .inheritable = (uint32_t)(inheritable >> 32) },
	};
	if (syscall(SYS_capset, &header, data) < 0)
		return error_set(error, errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return error_set(error, errno, "clear the ambient capabilities");
	for (int cap = 0; cap <= caps_last_cap(); cap++) {
		if (!(capabilities->ambient & (UINT64_C(1) << cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return error_set(error, errno, "raise ambient capability %d", cap);
	}
	return 0;
}

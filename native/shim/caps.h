/* Capabilities, through raw syscalls (no libcap): the bounding set is cut first (while
 * still root), then after the user switch effective/permitted/inheritable are set with
 * capset and the ambient set is raised. */
#ifndef BERTH_CAPS_H
#define BERTH_CAPS_H

#include "config.h"
#include "error.h"

/* Highest capability number this kernel knows. */
int caps_last_cap(void);
int caps_drop_bounding(const struct oci_capabilities *capabilities, struct shim_error *error);
int caps_apply(const struct oci_capabilities *capabilities, struct shim_error *error);

#endif

/* The process's identity and limits: rlimits, the user/group switch (keeping
 * capabilities across it), HOME from the container's /etc/passwd when the spec's
 * env has none (as runc does), umask, and no_new_privs. */
#ifndef BERTH_USER_H
#define BERTH_USER_H

#include "config.h"
#include "error.h"

int user_apply_rlimits(const struct oci_process *process, struct shim_error *error);
/* setgroups(additionalGids), setresgid, setresuid, with PR_SET_KEEPCAPS on. */
int user_switch(const struct oci_user *user, struct shim_error *error);
int user_set_no_new_privileges(struct shim_error *error);
/* A NULL-terminated env that has HOME (looked up in /etc/passwd of the current root
 * for uid when missing). Returns env itself when HOME is present. */
char **user_env_with_home(char **env, uid_t uid);

#endif

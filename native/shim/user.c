/* User switch, rlimits, no_new_privs (see user.h). */
#include "user.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

int user_apply_rlimits(const struct oci_process *process, struct shim_error *error)
{
	for (size_t i = 0; i < process->rlimit_count; i++) {
		struct rlimit limit = { .rlim_cur = process->rlimits[i].soft, .rlim_max = process->rlimits[i].hard };
		if (setrlimit(process->rlimits[i].resource, &limit) < 0)
			return error_set(error, errno, "setrlimit %d (soft %llu, hard %llu)", process->rlimits[i].resource,
					 (unsigned long long)limit.rlim_cur, (unsigned long long)limit.rlim_max);
	}
	return 0;
}

int user_switch(const struct oci_user *user, struct shim_error *error)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return error_set(error, errno, "prctl PR_SET_KEEPCAPS");
	if (setgroups(user->additional_gid_count, user->additional_gids) < 0)
		return error_set(error, errno, "setgroups (%zu groups)", user->additional_gid_count);
	if (setresgid(user->gid, user->gid, user->gid) < 0)
		return error_set(error, errno, "setgid %u", (unsigned)user->gid);
	if (setresuid(user->uid, user->uid, user->uid) < 0)
		return error_set(error, errno, "setuid %u", (unsigned)user->uid);
	umask(user->has_umask ? user->umask : 022);
	return 0;
}

int user_set_no_new_privileges(struct shim_error *error)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return error_set(error, errno, "prctl PR_SET_NO_NEW_PRIVS");
	return 0;
}

static char *home_from_passwd(uid_t uid)
{
	char text[65536];
	struct shim_error ignored = { 0 };
	if (file_read_small("/etc/passwd", text, sizeof text, &ignored) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* name:password:uid:gid:gecos:home:shell */
		char *fields[7] = { 0 };
		int count = 0;
		char *cursor = line;
		while (count < 7) {
			fields[count++] = cursor;
			char *colon = strchr(cursor, ':');
			if (!colon)
				break;
			*colon = '\0';
			cursor = colon + 1;
		}
		if (count < 6)
			continue;
		char *end = NULL;
		unsigned long value = strtoul(fields[2], &end, 10);
		if (end != fields[2] && *end == '\0' && value == uid)
			return strdup(fields[5]);
	}
	return NULL;
}

char **user_env_with_home(char **env, uid_t uid)
{
	if (env_lookup(env, "HOME"))
		return env;
	size_t count = 0;
	while (env[count])
		count++;
	char **extended = calloc(count + 2, sizeof *extended);
	char *home = home_from_passwd(uid);
	size_t length = strlen(home && home[0] ? home : "/") + 6;
	char *entry = malloc(length);
	if (!extended || !entry) {
		free(extended);
		free(entry);
		free(home);
		return env;
	}
	snprintf(entry, length, "HOME=%s", home && home[0] ? home : "/");
	free(home);
	memcpy(extended, env, count * sizeof *env);
	extended[count] = entry;
	return extended;
}

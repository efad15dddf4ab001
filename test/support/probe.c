/* The test probe: a small static program run inside containers (under berth-shim and
 * under runc) that prints, as one JSON object, what a process observes about itself:
 * pid, ppid, hostname, ids and groups, cwd, env, capabilities, no_new_privs, mounts,
 * visible cgroup limits, rlimits, umask, and whether a raw socket can be opened.
 * Built by test/support/rootfs.ts with `gcc -O2 -static`. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static void string(const char *s)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

static void file_value(const char *key, const char *path, int comma)
{
	char text[256];
	FILE *file = fopen(path, "r");
	printf("%s", comma ? "," : "");
	string(key);
	putchar(':');
	if (!file || !fgets(text, sizeof text, file)) {
		printf("null");
	} else {
		text[strcspn(text, "\n")] = '\0';
		string(text);
	}
	if (file)
		fclose(file);
}

/* Every line of a small file, joined with ";". */
static void file_lines(const char *key, const char *path)
{
	char line[512], joined[4096] = "";
	FILE *file = fopen(path, "r");
	while (file && fgets(line, sizeof line, file)) {
		line[strcspn(line, "\n")] = '\0';
		if (joined[0])
			strncat(joined, ";", sizeof joined - strlen(joined) - 1);
		strncat(joined, line, sizeof joined - strlen(joined) - 1);
	}
	if (file)
		fclose(file);
	printf(",");
	string(key);
	putchar(':');
	string(joined);
}

static void capabilities(void)
{
	char line[256];
	FILE *status = fopen("/proc/self/status", "r");
	int first = 1;
	printf("\"capabilities\":{");
	while (status && fgets(line, sizeof line, status)) {
		static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp" };
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			size_t length = strlen(keys[i]);
			if (strncmp(line, keys[i], length) == 0 && line[length] == ':') {
				char *value = line + length + 1;
				while (*value == '\t' || *value == ' ')
					value++;
				value[strcspn(value, "\n")] = '\0';
				printf("%s", first ? "" : ",");
				first = 0;
				string(keys[i]);
				putchar(':');
				string(value);
			}
		}
	}
	if (status)
		fclose(status);
	putchar('}');
}

static void mounts(void)
{
	char line[4096];
	FILE *info = fopen("/proc/self/mountinfo", "r");
	int first = 1;
	printf("\"mounts\":[");
	while (info && fgets(line, sizeof line, info)) {
		/* id parent dev root target options [optional…] - fstype source superoptions */
		char *fields[16] = { 0 };
		int count = 0;
		for (char *token = strtok(line, " \n"); token && count < 16; token = strtok(NULL, " \n"))
			fields[count++] = token;
		int dash = -1;
		for (int i = 6; i < count; i++) {
			if (strcmp(fields[i], "-") == 0) {
				dash = i;
				break;
			}
		}
		if (dash < 0 || dash + 1 >= count)
			continue;
		printf("%s{\"target\":", first ? "" : ",");
		first = 0;
		string(fields[4]);
		printf(",\"fstype\":");
		string(fields[dash + 1]);
		printf(",\"source\":");
		string(fields[dash + 2] ? fields[dash + 2] : "");
		printf(",\"options\":");
		string(fields[5]);
		printf(",\"superOptions\":");
		string(fields[dash + 3] ? fields[dash + 3] : "");
		putchar('}');
	}
	if (info)
		fclose(info);
	putchar(']');
}

static void rlimits(void)
{
	static const struct {
		const char *name;
		int resource;
	} limits[] = {
		{ "NOFILE", RLIMIT_NOFILE }, { "NPROC", RLIMIT_NPROC }, { "CORE", RLIMIT_CORE },
		{ "STACK", RLIMIT_STACK },   { "MEMLOCK", RLIMIT_MEMLOCK },
	};
	printf("\"rlimits\":{");
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		struct rlimit limit;
		getrlimit(limits[i].resource, &limit);
		printf("%s\"%s\":[", i ? "," : "", limits[i].name);
		if (limit.rlim_cur == RLIM_INFINITY)
			printf("-1,");
		else
			printf("%llu,", (unsigned long long)limit.rlim_cur);
		if (limit.rlim_max == RLIM_INFINITY)
			printf("-1]");
		else
			printf("%llu]", (unsigned long long)limit.rlim_max);
	}
	putchar('}');
}

/* `probe udp-echo PORT`: answer every datagram with itself (busybox has no UDP server). */
static int udp_echo(int port)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
		perror("udp-echo");
		return 1;
	}
	for (;;) {
		char buffer[2048];
		struct sockaddr_in peer;
		socklen_t length = sizeof peer;
		ssize_t n = recvfrom(fd, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &length);
		if (n >= 0)
			sendto(fd, buffer, (size_t)n, 0, (struct sockaddr *)&peer, length);
	}
}

int main(int argc, char **argv)
{
	char text[4096];
	if (argc == 3 && strcmp(argv[1], "udp-echo") == 0)
		return udp_echo(atoi(argv[2]));
	printf("{\"pid\":%d,\"ppid\":%d", (int)getpid(), (int)getppid());
	gethostname(text, sizeof text);
	printf(",\"hostname\":");
	string(text);
	printf(",\"uid\":%u,\"gid\":%u,\"euid\":%u,\"egid\":%u", getuid(), getgid(), geteuid(), getegid());
	gid_t groups[256];
	int group_count = getgroups(256, groups);
	printf(",\"groups\":[");
	for (int i = 0; i < group_count; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf("],\"cwd\":");
	string(getcwd(text, sizeof text) ? text : "");
	printf(",\"env\":[");
	for (char **entry = environ; *entry; entry++) {
		printf("%s", entry == environ ? "" : ",");
		string(*entry);
	}
	printf("],\"noNewPrivs\":%d,", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	mode_t mask = umask(0);
	umask(mask);
	printf("\"umask\":\"%04o\",", (unsigned)mask);
	capabilities();
	putchar(',');
	mounts();
	printf(",\"cgroup\":{");
	file_value("memoryLimit", "/sys/fs/cgroup/memory/memory.limit_in_bytes", 0);
	file_value("memorySwapLimit", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", 1);
	file_value("memoryMax", "/sys/fs/cgroup/memory.max", 1);
	file_value("pidsMax", "/sys/fs/cgroup/pids/pids.max", 1);
	file_value("pidsMaxV2", "/sys/fs/cgroup/pids.max", 1);
	file_value("cpuQuota", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", 1);
	file_value("cpuPeriod", "/sys/fs/cgroup/cpu/cpu.cfs_period_us", 1);
	file_value("cpuShares", "/sys/fs/cgroup/cpu/cpu.shares", 1);
	file_value("cpuMax", "/sys/fs/cgroup/cpu.max", 1);
	file_lines("self", "/proc/self/cgroup");
	printf("},");
	rlimits();
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	printf(",\"rawSocket\":");
	string(raw >= 0 ? "ok" : strerror(errno));
	printf("}\n");
	return 0;
}

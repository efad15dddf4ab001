/* berth-netns: network namespaces bound to arbitrary paths, so that src/network can create and
 * configure a sandbox in one process spawn (`ip -n` in iproute2 6.1 accepts only names under
 * /run/netns, not paths).
 *
 *   berth-netns create PATH [-- CMD ARGS...]   new netns bound at PATH, then exec CMD inside it
 *   berth-netns exec PATH -- CMD ARGS...       setns into PATH's netns and exec CMD
 *   berth-netns create|exec PATH --host HOSTNS -- CMD ARGS...
 *                                              standard input holds two inputs for CMD, split
 *                                              at a line "#host": CMD runs on the first inside
 *                                              PATH's netns, then, if that succeeded, on the
 *                                              second in the netns at HOSTNS (a sandbox's veths
 *                                              made inside, then put on their bridges outside)
 *   berth-netns delete PATH...                 release each netns's links, unmount, unlink;
 *                                              missing or unmounted is success
 *
 * Exit status 0, or 1 with one line `berth-netns: <what>: <strerror>` on stderr (2 for usage).
 * create leaves nothing behind when it fails before CMD runs; what CMD does is CMD's business.
 * Without --host it never forks: CMD replaces it and its status is CMD's. With --host, CMD runs
 * twice as a child; a failure of the inside run exits with that run's status, and any failure
 * after it succeeded (the host run, or entering HOSTNS) exits 3, so that the caller knows which
 * input's lines to blame and that the sandbox exists. Two small forks here cost far less than a
 * second spawn from the caller (a Node process, whose fork copies a large address space); and
 * when CMD is `ip -batch -` and batch.c knows every line of an input (a bridge endpoint's), there
 * is no fork at all: the rtnetlink requests ip would send are sent from here.
 *
 * Why delete "releases" links: unmounting only drops a reference, and the kernel reaps the netns
 * (and with it each veth pair) later, in a workqueue. Until then the host-side veth keeps its
 * name, so a sandbox re-created at once with the same names (a restart) would fail. Deleting the
 * veth ourselves frees the name but costs an RCU grace period (rcu_barrier in netdev_run_todo:
 * 15-40 ms on a busy 2-vCPU VM). So delete sets each host-side veth peer down and renames it to
 * vbdel<ifindex> (about 1 ms), which frees the name at once and cuts the sandbox off; the reaper
 * removes it soon after. Other links in the netns (macvlans: a new one with the same MAC on the
 * same parent would be refused while the old one lives) are deleted outright. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlink.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static int fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* "berth-netns: <formatted>: <strerror(errno)>"; returns 1 (the exit status). */
static int fail(const char *format, ...)
{
	int saved = errno;
	char what[512];
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(what, sizeof what, format, arguments);
	va_end(arguments);
	/* One line: a path with a newline must not forge a second one. */
	for (char *c = what; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = '?';
	fprintf(stderr, "berth-netns: %s: %s\n", what, strerror(saved));
	return 1;
}

static int usage(void)
{
	fputs("usage: berth-netns create PATH [--host HOSTNS] [-- CMD ARGS...]\n"
	      "       berth-netns exec PATH [--host HOSTNS] -- CMD ARGS...\n"
	      "       berth-netns delete PATH...\n",
	      stderr);
	return 2;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define AUTO_FD __attribute__((cleanup(close_fd))) int

/* True when PATH is a mounted namespace file (nsfs), i.e. a bound netns. */
static bool is_bound_namespace(const char *path)
{
	struct statfs fs;
	return statfs(path, &fs) == 0 && (unsigned long)fs.f_type == (unsigned long)NSFS_MAGIC;
}

/* ---- links: list, set down, rename and delete (netlink.c has the requests) ---- */

struct link {
	int index;
	int link_netnsid; /* IFLA_LINK_NETNSID: the netns of a veth's peer, -1 when none */
	bool loopback;
	char kind[16];
};

struct links {
	struct link *items;
	size_t count;
};

static void free_links(struct links *links)
{
	free(links->items);
}
#define AUTO_LINKS __attribute__((cleanup(free_links))) struct links

static void parse_link(const struct nlmsghdr *header, struct link *link)
{
	const struct ifinfomsg *info = NLMSG_DATA(header);
	*link = (struct link){ .index = info->ifi_index, .link_netnsid = -1, .loopback = (info->ifi_flags & IFF_LOOPBACK) != 0 };
	int length = (int)IFLA_PAYLOAD(header);
	for (const struct rtattr *attribute = IFLA_RTA(info); RTA_OK(attribute, length); attribute = RTA_NEXT(attribute, length)) {
		if (attribute->rta_type == IFLA_LINK_NETNSID && RTA_PAYLOAD(attribute) >= sizeof(int32_t)) {
			memcpy(&link->link_netnsid, RTA_DATA(attribute), sizeof(int32_t));
		} else if (attribute->rta_type == IFLA_LINKINFO) {
			int nested = (int)RTA_PAYLOAD(attribute);
			for (const struct rtattr *inner = RTA_DATA(attribute); RTA_OK(inner, nested); inner = RTA_NEXT(inner, nested)) {
				if (inner->rta_type == IFLA_INFO_KIND)
					snprintf(link->kind, sizeof link->kind, "%.*s", (int)RTA_PAYLOAD(inner), (const char *)RTA_DATA(inner));
			}
		}
	}
}

/* Every link of the current netns. 0 or -errno. */
static int list_links(int sock, struct links *links)
{
	struct request request;
	start(&request, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg info = { .ifi_family = AF_UNSPEC };
	append(&request, &info, sizeof info);
	int error = send_request(sock, &request);
	if (error != 0)
		return error;
	size_t capacity = 0;
	for (;;) {
		ssize_t length = receive(sock);
		if (length < 0)
			return (int)length;
		for (struct nlmsghdr *header = (struct nlmsghdr *)reply; NLMSG_OK(header, (size_t)length); header = NLMSG_NEXT(header, length)) {
			if (header->nlmsg_type == NLMSG_DONE)
				return 0;
			if (header->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(header))->error;
			if (header->nlmsg_type != RTM_NEWLINK)
				continue;
			if (links->count == capacity) {
				capacity = capacity == 0 ? 16 : capacity * 2;
				struct link *grown = realloc(links->items, capacity * sizeof *grown);
				if (grown == NULL)
					return -ENOMEM;
				links->items = grown;
			}
			parse_link(header, &links->items[links->count++]);
		}
	}
}

/* The id the current netns gives the netns open at fd, or -1 when it has none. */
static int namespace_id(int sock, int fd)
{
	struct request request;
	start(&request, RTM_GETNSID, 0);
	struct rtgenmsg family = { .rtgen_family = AF_UNSPEC };
	append(&request, &family, sizeof family);
	uint32_t value = (uint32_t)fd;
	append_attribute(&request, NETNSA_FD, &value, sizeof value);
	if (send_request(sock, &request) != 0)
		return -1;
	ssize_t length = receive(sock);
	const struct nlmsghdr *header = (const struct nlmsghdr *)reply;
	if (length < (ssize_t)NLMSG_HDRLEN || header->nlmsg_type != RTM_NEWNSID)
		return -1;
	int remaining = (int)(header->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg))));
	const struct rtattr *attribute = (const struct rtattr *)((const char *)NLMSG_DATA(header) + NLMSG_ALIGN(sizeof(struct rtgenmsg)));
	for (; RTA_OK(attribute, remaining); attribute = RTA_NEXT(attribute, remaining)) {
		if (attribute->rta_type == NETNSA_NSID) {
			int32_t id;
			memcpy(&id, RTA_DATA(attribute), sizeof id);
			return id;
		}
	}
	return -1;
}

/* RTM_NEWLINK on an existing link: set it down, or rename it. 0 or -errno. */
static int change_link(int sock, int index, const char *new_name)
{
	struct request request;
	start(&request, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg info = { .ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_change = new_name == NULL ? IFF_UP : 0 };
	append(&request, &info, sizeof info);
	if (new_name != NULL)
		append_attribute(&request, IFLA_IFNAME, new_name, strlen(new_name) + 1);
	int error = send_request(sock, &request);
	return error != 0 ? error : receive_ack(sock);
}

static int delete_link(int sock, int index)
{
	struct request request;
	start(&request, RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg info = { .ifi_family = AF_UNSPEC, .ifi_index = index };
	append(&request, &info, sizeof info);
	int error = send_request(sock, &request);
	return error != 0 ? error : receive_ack(sock);
}

/* In the current (host) netns: set down and rename every veth whose peer is in the netns open
 * at fd, freeing its name now (see the top of this file). */
static int release_veth_peers(int fd, const char *path)
{
	AUTO_FD sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sock < 0)
		return fail("netlink socket");
	AUTO_LINKS links = { 0 };
	int error = list_links(sock, &links); /* first: a dump assigns the peers' netns an id */
	if (error != 0) {
		errno = -error;
		return fail("list host links for %s", path);
	}
	int id = namespace_id(sock, fd);
	if (id < 0)
		return 0; /* no link of the host points into it */
	for (size_t i = 0; i < links.count; i++) {
		const struct link *link = &links.items[i];
		if (link->link_netnsid != id || strcmp(link->kind, "veth") != 0)
			continue;
		char name[IF_NAMESIZE];
		snprintf(name, sizeof name, "vbdel%d", link->index);
		if ((error = change_link(sock, link->index, NULL)) == 0)
			error = change_link(sock, link->index, name);
		if (error != 0 && error != -ENODEV) {
			errno = -error;
			return fail("release veth %d of %s", link->index, path);
		}
	}
	return 0;
}

/* In the current netns (a sandbox): delete every link but loopback and veths (whose host ends
 * release_veth_peers took care of; the reaper deletes the pair). */
static int delete_other_links(const char *path)
{
	AUTO_FD sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sock < 0)
		return fail("netlink socket in netns %s", path);
	AUTO_LINKS links = { 0 };
	int error = list_links(sock, &links);
	if (error != 0) {
		errno = -error;
		return fail("list links in netns %s", path);
	}
	for (size_t i = 0; i < links.count; i++) {
		const struct link *link = &links.items[i];
		if (link->loopback || strcmp(link->kind, "veth") == 0)
			continue;
		error = delete_link(sock, link->index);
		/* Gone already, or not deletable (a fallback tunnel device): the netns takes it. */
		if (error != 0 && error != -ENODEV && error != -EOPNOTSUPP) {
			errno = -error;
			return fail("delete link %d in netns %s", link->index, path);
		}
	}
	return 0;
}

/* ---- the verbs ---- */

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Release the links of the netns bound at PATH, detach every nsfs mount stacked on PATH, unlink
 * it. Runs in the host netns (host_fd) and returns there. Refuses a mount of anything else on
 * PATH, and the host's own netns (this tool's or pid 1's). */
static int delete_one(const char *path, int host_fd, const struct stat *host)
{
	if (is_bound_namespace(path)) {
		AUTO_FD fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat target, init;
		if (fd < 0 || fstat(fd, &target) != 0)
			return fail("open netns %s", path);
		if (same_file(&target, host) || (stat("/proc/1/ns/net", &init) == 0 && same_file(&target, &init))) {
			errno = EPERM;
			return fail("refusing to delete %s: it is the host's network namespace", path);
		}
		if (release_veth_peers(fd, path) != 0)
			return 1;
		if (setns(fd, CLONE_NEWNET) != 0)
			return fail("enter netns %s", path);
		int status = delete_other_links(path);
		if (setns(host_fd, CLONE_NEWNET) != 0)
			return fail("return to the host netns");
		if (status != 0)
			return status;
	}
	while (is_bound_namespace(path)) {
		if (umount2(path, MNT_DETACH) != 0)
			return fail("umount %s", path);
	}
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : fail("stat %s", path);
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return fail("delete %s", path);
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return fail("unlink %s", path);
	return 0;
}

/* The host phase failed (see the head comment). */
#define EXIT_HOST_FAILED 3
/* run_child's child could not exec CMD (it said so on stderr). */
#define EXIT_EXEC_FAILED 127

/* All of standard input (at most 1 MiB: a few lines per endpoint). */
static char *read_input(size_t *length)
{
	size_t capacity = 64 * 1024, used = 0;
	char *data = malloc(capacity);
	if (data == NULL)
		return NULL;
	for (;;) {
		if (used == capacity) {
			if (capacity >= 1024 * 1024) {
				errno = EFBIG;
				free(data);
				return NULL;
			}
			char *bigger = realloc(data, capacity * 2);
			if (bigger == NULL) {
				free(data);
				return NULL;
			}
			data = bigger;
			capacity *= 2;
		}
		ssize_t got = read(STDIN_FILENO, data + used, capacity - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(data);
			return NULL;
		}
		if (got == 0)
			break;
		used += (size_t)got;
	}
	*length = used;
	return data;
}

/* Run CMD as a child with INPUT on its standard input; its exit status (128 + signal if killed). */
static int run_child(char **command, const char *input, size_t length, const char *where)
{
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		return fail("pipe for %s", where);
	pid_t pid = fork();
	if (pid < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return fail("fork for %s", where);
	}
	if (pid == 0) {
		if (dup2(pipe_fds[0], STDIN_FILENO) < 0)
			_exit(fail("stdin for %s", where));
		execvp(command[0], command);
		fail("exec %s (%s)", command[0], where);
		_exit(EXIT_EXEC_FAILED);
	}
	close(pipe_fds[0]);
	/* CMD may stop reading early (a failed batch line): its status says so, not the write. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t written = 0; written < length;) {
		ssize_t put = write(pipe_fds[1], input + written, length - written);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			break;
		written += (size_t)put;
	}
	close(pipe_fds[1]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail("wait for %s", where);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* --host: standard input, read before anything is made, split at the line "#host". */
struct two_inputs {
	int host_fd;
	char *data;
	size_t inside_length; /* data[0, inside_length) is the inside input */
	size_t host_start;    /* data[host_start, length) the host's */
	size_t length;
};

static int read_two_inputs(struct two_inputs *inputs)
{
	inputs->data = read_input(&inputs->length);
	if (inputs->data == NULL)
		return fail("read standard input");
	static const char marker[] = "#host\n";
	inputs->inside_length = inputs->host_start = inputs->length;
	for (size_t at = 0; at + sizeof marker - 1 <= inputs->length; at++) {
		if ((at == 0 || inputs->data[at - 1] == '\n') && memcmp(inputs->data + at, marker, sizeof marker - 1) == 0) {
			inputs->inside_length = at;
			inputs->host_start = at + sizeof marker - 1;
			break;
		}
	}
	return 0;
}

/* CMD on INPUT; for `ip -batch -`, done here with rtnetlink when batch.c knows every line. */
static int run_batch(char **command, const char *input, size_t length, const char *where)
{
	if (strcmp(command[0], "ip") == 0 && command[1] && strcmp(command[1], "-batch") == 0 && command[2] && strcmp(command[2], "-") == 0 &&
	    command[3] == NULL) {
		int handled = 0;
		int status = native_batch(input, length, &handled);
		if (handled)
			return status;
	}
	return run_child(command, input, length, where);
}

/* CMD on the inside input here (in PATH's netns), then on the host input in the host netns. */
static int run_inside_then_host(char **command, const char *path, const struct two_inputs *inputs)
{
	int status = run_batch(command, inputs->data, inputs->inside_length, path);
	if (status != 0 || inputs->host_start == inputs->length)
		return status;
	if (setns(inputs->host_fd, CLONE_NEWNET) != 0) {
		fail("enter the host netns");
		return EXIT_HOST_FAILED;
	}
	if (run_batch(command, inputs->data + inputs->host_start, inputs->length - inputs->host_start, "host netns") != 0)
		return EXIT_HOST_FAILED;
	return 0;
}

static int run(char **command, const char *path)
{
	execvp(command[0], command);
	return fail("exec %s (in netns %s)", command[0], path);
}

static int create(const char *path, char **command, const struct two_inputs *inputs)
{
	if (is_bound_namespace(path)) {
		errno = EEXIST;
		return fail("create %s: a network namespace is bound there already", path);
	}
	/* A plain file left by a crash is reused (and removed again on failure). */
	int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return fail("create %s", path);
	close(fd);
	if (unshare(CLONE_NEWNET) != 0) {
		fail("unshare network namespace for %s", path);
		unlink(path);
		return 1;
	}
	if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) != 0) {
		fail("bind network namespace to %s", path);
		unlink(path);
		return 1;
	}
	if (command == NULL)
		return 0;
	if (inputs != NULL) {
		int status = run_inside_then_host(command, path, inputs);
		if (status != EXIT_EXEC_FAILED)
			return status;
	} else {
		run(command, path);
	}
	/* exec failed: undo, so the caller sees either a configured namespace or none. */
	umount2(path, MNT_DETACH);
	unlink(path);
	return 1;
}

static int enter(const char *path, char **command, const struct two_inputs *inputs)
{
	AUTO_FD fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open netns %s", path);
	if (setns(fd, CLONE_NEWNET) != 0)
		return fail("enter netns %s", path);
	if (inputs != NULL)
		return run_inside_then_host(command, path, inputs);
	return run(command, path);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *verb = argv[1];
	if (strcmp(verb, "delete") == 0) {
		AUTO_FD host_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		struct stat host;
		if (host_fd < 0 || fstat(host_fd, &host) != 0)
			return fail("open /proc/self/ns/net");
		int status = 0;
		for (int i = 2; i < argc; i++)
			status |= delete_one(argv[i], host_fd, &host);
		return status;
	}
	/* create PATH [--host HOSTNS] [-- CMD...] and exec PATH [--host HOSTNS] -- CMD...: "--"
	 * must come before CMD when CMD is given; --host needs CMD. */
	char **command = NULL;
	const char *host = NULL;
	int next = 3;
	if (argc > next + 1 && strcmp(argv[next], "--host") == 0) {
		host = argv[next + 1];
		next += 2;
	}
	if (argc > next) {
		if (strcmp(argv[next], "--") != 0 || argc == next + 1)
			return usage();
		command = &argv[next + 1];
	}
	if (host != NULL && command == NULL)
		return usage();
	if (strcmp(verb, "create") != 0 && (strcmp(verb, "exec") != 0 || command == NULL))
		return usage();
	/* Opened, and the input read, before anything changes this process's netns or makes a
	 * namespace: a failure here leaves nothing behind. */
	struct two_inputs inputs = { .host_fd = -1 };
	if (host != NULL) {
		if ((inputs.host_fd = open(host, O_RDONLY | O_CLOEXEC)) < 0)
			return fail("open host netns %s", host);
		if (read_two_inputs(&inputs) != 0)
			return 1;
	}
	const struct two_inputs *two = host != NULL ? &inputs : NULL;
	return strcmp(verb, "create") == 0 ? create(argv[2], command, two) : enter(argv[2], command, two);
}

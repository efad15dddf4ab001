/* berth-redirect: connections from the host to ports berth publishes on 127.0.0.1, sent straight
 * to the container when they are made instead of translated packet by packet.
 *
 * Published ports are DNAT rules (src/network/firewall.ts), and they stay: they serve traffic from
 * other hosts and from containers, and they are the fallback wherever this cannot run. But a
 * host client of 127.0.0.1:PORT then has every packet of its connection translated both ways
 * (DNAT, MASQUERADE): about a tenth of the throughput of connecting to the container's own
 * address on these machines. A cgroup/connect4 BPF program on the cgroup v2 root rewrites the
 * address of a TCP connect() to 127.0.0.1:PORT into the container's address and port before the
 * connection exists, so its packets take the direct path (what Cilium's host-reachable services
 * do). It rewrites only sockets in the network namespace that published the port (a container's
 * own 127.0.0.1 is its own), only TCP sockets not bound to an address yet, and only addresses in
 * its map. A getpeername4 program keeps the rewrite invisible: it reports a redirected socket's
 * peer as the address its caller connected to, which the connect4 program keeps by socket cookie
 * in an LRU map (Linux 5.8 and later; before, peers read as the container's address).
 *
 *   berth-redirect sync OWNER    standard input: lines "IP PORT TARGET_IP TARGET_PORT"; makes
 *                                OWNER's entries for this network namespace exactly these
 *                                (OWNER: 8 hex digits, the caller's hash of its state root)
 *   berth-redirect list          prints "program ID" and "peer-program ID" for the programs
 *                                attached, "netns COOKIE" for this network namespace, then one
 *                                line per entry "OWNER COOKIE IP PORT TARGET_IP TARGET_PORT"
 *   berth-redirect drop OWNER... deletes every entry of these owners, in any namespace: roots
 *                                whose state directory is gone
 *
 * One pair of programs and their maps serve every berth root on the machine; each entry records
 * the root that made it (OWNER). The programs are attached with the first entry and detached
 * with the last, so nothing of berth's stays in the kernel while no port is published. Changes are
 * serialised by an flock on the cgroup v2 root directory.
 *
 * Exit status: 0 done; 1 failed (one line on stderr); 2 usage; 3 not available here (no cgroup v2
 * mount, no BPF, too old a kernel): the caller keeps DNAT only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define PROGRAM_NAME "berth_connect4"
#define PEER_PROGRAM_NAME "berth_peer4"
#define MAP_NAME "berth_redirect"
#define PEERS_MAP_NAME "berth_peers"
#define MAP_ENTRIES 4096
/* Redirected sockets' original addresses, by socket cookie, for getpeername(): least recently
 * used first out (a socket's entry outlives it; cookies are never reused within a boot). */
#define PEER_ENTRIES 65536
#define EXIT_UNAVAILABLE 3

/* Must match the program below: the netns cookie, then ctx->user_ip4 and ctx->user_port as the
 * program reads them (network byte order; the port in the low 16 bits of a u32). */
struct key {
	uint64_t cookie;
	uint32_t ip;
	uint32_t port;
};

struct value {
	uint32_t ip;
	uint32_t port;
	uint32_t owner;
	uint32_t reserved;
};

static _Noreturn void fail(int status, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	fputs("berth-redirect: ", stderr);
	vfprintf(stderr, format, arguments);
	fputc('\n', stderr);
	va_end(arguments);
	exit(status);
}

static long sys_bpf(int command, union bpf_attr *attr)
{
	return syscall(__NR_bpf, command, attr, sizeof *attr);
}

/* Not having BPF at all is "not available"; anything else is a failure to report. */
static int unavailable_errno(int error)
{
	return error == ENOSYS || error == EPERM || error == EINVAL || error == EOPNOTSUPP;
}

/* An OWNER argument: 8 hex digits. */
static uint32_t parse_owner(const char *text)
{
	char *end = NULL;
	unsigned long value = strtoul(text, &end, 16);
	if (strlen(text) != 8 || end != text + 8 || value > 0xffffffffUL)
		fail(2, "invalid owner %s (8 hex digits)", text);
	return (uint32_t)value;
}

/* The cgroup v2 mount point: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
static int open_cgroup2_root(void)
{
	FILE *mounts = fopen("/proc/self/mountinfo", "re");
	if (!mounts)
		fail(1, "/proc/self/mountinfo: %s", strerror(errno));
	char line[4096];
	char found[4096] = "";
	while (fgets(line, sizeof line, mounts)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS */
		char *separator = strstr(line, " - ");
		if (!separator || strncmp(separator + 3, "cgroup2 ", 8) != 0)
			continue;
		char root[4096], mountpoint[4096];
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mountpoint) == 2 && strcmp(root, "/") == 0) {
			snprintf(found, sizeof found, "%s", mountpoint);
			break;
		}
	}
	fclose(mounts);
	if (!found[0])
		fail(EXIT_UNAVAILABLE, "no cgroup v2 hierarchy is mounted");
	int fd = open(found, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail(EXIT_UNAVAILABLE, "%s: %s", found, strerror(errno));
	return fd;
}

static uint64_t netns_cookie(void)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		fail(1, "socket: %s", strerror(errno));
	uint64_t cookie = 0;
	socklen_t length = sizeof cookie;
	if (getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) < 0)
		fail(EXIT_UNAVAILABLE, "SO_NETNS_COOKIE: %s", strerror(errno));
	close(sock);
	return cookie;
}

/* An fd for the map of this name among a program's maps; -1 when it has none. */
static int program_map(const uint32_t *map_ids, uint32_t count, const char *name)
{
	for (uint32_t i = 0; i < count; i++) {
		union bpf_attr get;
		memset(&get, 0, sizeof get);
		get.map_id = map_ids[i];
		int map = (int)sys_bpf(BPF_MAP_GET_FD_BY_ID, &get);
		if (map < 0)
			continue;
		struct bpf_map_info info;
		memset(&info, 0, sizeof info);
		union bpf_attr query;
		memset(&query, 0, sizeof query);
		query.info.bpf_fd = map;
		query.info.info_len = sizeof info;
		query.info.info = (uint64_t)(uintptr_t)&info;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &query) == 0 && strcmp(info.name, name) == 0)
			return map;
		close(map);
	}
	return -1;
}

/* The berth program of this name attached to the cgroup for this hook, if any, with an fd for
 * its map named `map_name` (when map_fd is given). */
static int find_attached(int cgroup_fd, enum bpf_attach_type hook, const char *name, const char *map_name, int *map_fd, uint32_t *program_id)
{
	uint32_t ids[64];
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.query.target_fd = cgroup_fd;
	attr.query.attach_type = hook;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = 64;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0) {
		if (hook == BPF_CGROUP_INET4_GETPEERNAME)
			return -1; /* a kernel without the hook (before 5.8) has no such program */
		if (unavailable_errno(errno))
			fail(EXIT_UNAVAILABLE, "BPF_PROG_QUERY: %s", strerror(errno));
		fail(1, "BPF_PROG_QUERY: %s", strerror(errno));
	}
	for (uint32_t i = 0; i < attr.query.prog_cnt && i < 64; i++) {
		union bpf_attr get;
		memset(&get, 0, sizeof get);
		get.prog_id = ids[i];
		int program = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
		if (program < 0)
			continue;
		struct bpf_prog_info info;
		uint32_t map_ids[4] = { 0 };
		memset(&info, 0, sizeof info);
		info.nr_map_ids = 4;
		info.map_ids = (uint64_t)(uintptr_t)map_ids;
		union bpf_attr query;
		memset(&query, 0, sizeof query);
		query.info.bpf_fd = program;
		query.info.info_len = sizeof info;
		query.info.info = (uint64_t)(uintptr_t)&info;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &query) == 0 && strcmp(info.name, name) == 0) {
			int map = map_fd ? program_map(map_ids, info.nr_map_ids < 4 ? info.nr_map_ids : 4, map_name) : -1;
			if (!map_fd || map >= 0) {
				if (map_fd)
					*map_fd = map;
				if (program_id)
					*program_id = ids[i];
				return program;
			}
		}
		close(program);
	}
	return -1;
}

/* berth's connect4 program on the cgroup, if attached, with its redirect map. */
static int find_program(int cgroup_fd, int *map_fd, uint32_t *program_id)
{
	return find_attached(cgroup_fd, BPF_CGROUP_INET4_CONNECT, PROGRAM_NAME, MAP_NAME, map_fd, program_id);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* A loaded program's fd; -1 on failure when `optional`, else the failure ends the run. */
static int load(const struct bpf_insn *program, size_t count, enum bpf_attach_type hook, const char *name, int optional)
{
	static char log[65536];
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	attr.expected_attach_type = hook;
	attr.insns = (uint64_t)(uintptr_t)program;
	attr.insn_cnt = (uint32_t)count;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof log;
	attr.log_level = 1;
	snprintf(attr.prog_name, sizeof attr.prog_name, "%s", name);
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0 && optional)
		return -1;
	if (fd < 0) {
		if (unavailable_errno(errno) && errno != EINVAL)
			fail(EXIT_UNAVAILABLE, "BPF_PROG_LOAD %s: %s", name, strerror(errno));
		fail(errno == EINVAL ? EXIT_UNAVAILABLE : 1, "BPF_PROG_LOAD %s: %s: %s", name, strerror(errno), log);
	}
	return fd;
}

/* The connect4 program: see the top of this file. Offsets are struct bpf_sock_addr's and struct
 * bpf_sock's. The original address of a redirected socket goes into the peers map, by socket
 * cookie, for the getpeername4 program below. */
static int load_connect_program(int map_fd, int peers_fd)
{
	enum { OUT = 41 };
	struct bpf_insn program[] = {
		/* 0 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
		/* 1 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 32, 0), /* type */
		/* 2 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, OUT - 3, SOCK_STREAM),
		/* 3 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 36, 0), /* protocol */
		/* 4 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, OUT - 5, IPPROTO_TCP),
		/* A socket bound to an address first (say 127.0.0.1) keeps DNAT, whose MASQUERADE gives
		 * the container a source it can answer: ctx->sk->src_ip4 must be unset. */
		/* 5 */ INSN(BPF_LDX | BPF_DW | BPF_MEM, BPF_REG_2, BPF_REG_6, 64, 0), /* sk */
		/* 6 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_2, 24, 0), /* sk->src_ip4 */
		/* 7 */ INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, OUT - 8, 0),
		/* 8 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
		/* 9 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_netns_cookie),
		/* 10 */ INSN(BPF_STX | BPF_DW | BPF_MEM, BPF_REG_10, BPF_REG_0, -16, 0),
		/* 11 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 4, 0), /* user_ip4 */
		/* 12 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_2, -8, 0),
		/* 13 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 24, 0), /* user_port */
		/* 14 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_2, -4, 0),
		/* 15 */ INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd),
		/* 16 */ INSN(0, 0, 0, 0, 0),
		/* 17 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		/* 18 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -16),
		/* 19 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		/* 20 */ INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, OUT - 21, 0),
		/* 21 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_0, 0, 0),
		/* peers[socket cookie] = { user_ip4, user_port } as the caller gave them */
		/* 22 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0),
		/* 23 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
		/* 24 */ INSN(BPF_STX | BPF_DW | BPF_MEM, BPF_REG_10, BPF_REG_0, -24, 0),
		/* 25 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 4, 0),
		/* 26 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_2, -32, 0),
		/* 27 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_6, 24, 0),
		/* 28 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_2, -28, 0),
		/* 29 */ INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, peers_fd),
		/* 30 */ INSN(0, 0, 0, 0, 0),
		/* 31 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		/* 32 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -24),
		/* 33 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0),
		/* 34 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -32),
		/* 35 */ INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, BPF_ANY),
		/* 36 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem),
		/* the rewrite */
		/* 37 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_7, 0, 0),
		/* 38 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_2, 4, 0),
		/* 39 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_7, 4, 0),
		/* 40 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_2, 24, 0),
		/* 41 OUT: always allow the connect */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	return load(program, sizeof program / sizeof program[0], BPF_CGROUP_INET4_CONNECT, PROGRAM_NAME, 0);
}

/* The getpeername4 program: a redirected socket's peer is reported as the address its caller
 * connected to (127.0.0.1:PORT), as it is under DNAT. */
static int load_peer_program(int peers_fd)
{
	enum { OUT = 13 };
	struct bpf_insn program[] = {
		/* 0 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0),
		/* 1 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
		/* 2 */ INSN(BPF_STX | BPF_DW | BPF_MEM, BPF_REG_10, BPF_REG_0, -8, 0),
		/* 3 */ INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, peers_fd),
		/* 4 */ INSN(0, 0, 0, 0, 0),
		/* 5 */ INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		/* 6 */ INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
		/* 7 */ INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		/* 8 */ INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, OUT - 9, 0),
		/* 9 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_0, 0, 0),
		/* 10 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_2, 4, 0),
		/* 11 */ INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_0, 4, 0),
		/* 12 */ INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_2, 24, 0),
		/* 13 OUT */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	/* Optional: before Linux 5.8 there is no getpeername hook, and peers show the container. */
	return load(program, sizeof program / sizeof program[0], BPF_CGROUP_INET4_GETPEERNAME, PEER_PROGRAM_NAME, 1);
}

static int create_map_of(enum bpf_map_type type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t entries)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_type = type;
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = entries;
	snprintf(attr.map_name, sizeof attr.map_name, "%s", name);
	int fd = (int)sys_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0)
		fail(unavailable_errno(errno) ? EXIT_UNAVAILABLE : 1, "BPF_MAP_CREATE %s: %s", name, strerror(errno));
	return fd;
}

/* BPF_PROG_ATTACH (beside any other program on the hook) or BPF_PROG_DETACH on the cgroup. */
static long cgroup_call(int command, int cgroup_fd, int program_fd, enum bpf_attach_type hook)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.target_fd = cgroup_fd;
	attr.attach_bpf_fd = program_fd;
	attr.attach_type = hook;
	attr.attach_flags = command == BPF_PROG_ATTACH ? BPF_F_ALLOW_MULTI : 0;
	return sys_bpf(command, &attr);
}

static long attach(int cgroup_fd, int program_fd, enum bpf_attach_type hook)
{
	return cgroup_call(BPF_PROG_ATTACH, cgroup_fd, program_fd, hook);
}

/* BPF_MAP_*_ELEM and GET_NEXT_KEY: `other` is the value, or for GET_NEXT_KEY the next key (the
 * two share their place in bpf_attr). */
static int map_call(int command, int map_fd, const struct key *key, void *other, uint64_t flags)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)other;
	attr.flags = flags;
	return (int)sys_bpf(command, &attr);
}

static void map_update(int map_fd, const struct key *key, const struct value *value)
{
	if (map_call(BPF_MAP_UPDATE_ELEM, map_fd, key, (void *)value, BPF_ANY) < 0)
		fail(1, "BPF_MAP_UPDATE_ELEM: %s", strerror(errno));
}

/* Calls `visit` with every entry; `visit` may not change the map (collect, then change). */
static size_t map_walk(int map_fd, void (*visit)(const struct key *, const struct value *, void *), void *context)
{
	size_t count = 0;
	struct key key, next;
	const struct key *cursor = NULL;
	while (map_call(BPF_MAP_GET_NEXT_KEY, map_fd, cursor, &next, 0) == 0) {
		key = next;
		cursor = &key;
		struct value value;
		if (map_call(BPF_MAP_LOOKUP_ELEM, map_fd, &key, &value, 0) < 0)
			continue; /* deleted meanwhile */
		count++;
		if (visit)
			visit(&key, &value, context);
	}
	return count;
}

static void detach_one(int cgroup_fd, int program_fd, enum bpf_attach_type hook)
{
	if (cgroup_call(BPF_PROG_DETACH, cgroup_fd, program_fd, hook) < 0 && errno != ENOENT)
		fail(1, "BPF_PROG_DETACH: %s", strerror(errno));
}

/* Every getpeername4 program of berth's (one, or none). */
static void detach_peer_programs(int cgroup_fd)
{
	int program;
	while ((program = find_attached(cgroup_fd, BPF_CGROUP_INET4_GETPEERNAME, PEER_PROGRAM_NAME, NULL, NULL, NULL)) >= 0) {
		detach_one(cgroup_fd, program, BPF_CGROUP_INET4_GETPEERNAME);
		close(program);
	}
}

/* The connect4 program given, and the getpeername4 program that goes with it. */
static void detach(int cgroup_fd, int program_fd)
{
	detach_one(cgroup_fd, program_fd, BPF_CGROUP_INET4_CONNECT);
	detach_peer_programs(cgroup_fd);
}

/* Which entries to delete: those `doomed` accepts. */
struct cull {
	int (*doomed)(const struct key *, const struct value *, const void *);
	const void *context;
	struct key keys[MAP_ENTRIES];
	size_t count;
};

static void cull_visit(const struct key *key, const struct value *value, void *context)
{
	struct cull *cull = context;
	if (cull->count < MAP_ENTRIES && cull->doomed(key, value, cull->context))
		cull->keys[cull->count++] = *key;
}

/* Delete the entries `doomed` accepts. */
static void delete_entries(int map_fd, int (*doomed)(const struct key *, const struct value *, const void *), const void *context)
{
	static struct cull cull;
	cull.doomed = doomed;
	cull.context = context;
	cull.count = 0;
	map_walk(map_fd, cull_visit, &cull);
	for (size_t i = 0; i < cull.count; i++) {
		if (map_call(BPF_MAP_DELETE_ELEM, map_fd, &cull.keys[i], NULL, 0) < 0 && errno != ENOENT)
			fail(1, "BPF_MAP_DELETE_ELEM: %s", strerror(errno));
	}
}

/* The program goes with the last entry on the machine. */
static void detach_when_empty(int cgroup_fd, int program_fd, int map_fd)
{
	if (map_walk(map_fd, NULL, NULL) == 0)
		detach(cgroup_fd, program_fd);
}

/* The cgroup v2 root, locked against every other berth-redirect, and berth's program on it. */
static int lock_program(int *cgroup_fd, int *map_fd)
{
	*cgroup_fd = open_cgroup2_root();
	if (flock(*cgroup_fd, LOCK_EX) < 0)
		fail(1, "flock: %s", strerror(errno));
	uint32_t program_id = 0;
	return find_program(*cgroup_fd, map_fd, &program_id);
}

struct entry {
	struct key key;
	struct value value;
};

static int parse_port(const char *text)
{
	char *end = NULL;
	long port = strtol(text, &end, 10);
	return end != text && *end == '\0' && port >= 1 && port <= 65535 ? (int)port : -1;
}

static size_t read_entries(struct entry *entries, size_t capacity, uint64_t cookie, uint32_t owner)
{
	char line[256];
	size_t count = 0;
	while (fgets(line, sizeof line, stdin)) {
		char ip[64], port[16], target_ip[64], target_port[16];
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		if (sscanf(line, "%63s %15s %63s %15s", ip, port, target_ip, target_port) != 4)
			fail(2, "malformed line: %s", line);
		struct in_addr address, target;
		int from = parse_port(port), to = parse_port(target_port);
		if (inet_pton(AF_INET, ip, &address) != 1 || inet_pton(AF_INET, target_ip, &target) != 1 || from < 0 || to < 0)
			fail(2, "malformed line: %s", line);
		if (count == capacity)
			fail(1, "more than %zu entries", capacity);
		struct entry *entry = &entries[count++];
		memset(entry, 0, sizeof *entry);
		entry->key.cookie = cookie;
		entry->key.ip = address.s_addr;
		entry->key.port = htons((uint16_t)from);
		entry->value.ip = target.s_addr;
		entry->value.port = htons((uint16_t)to);
		entry->value.owner = owner;
	}
	return count;
}

struct owned_here {
	uint32_t owner;
	uint64_t cookie;
	const struct entry *wanted;
	size_t count;
};

/* This owner's entry in this namespace, and no longer wanted. */
static int unwanted(const struct key *key, const struct value *value, const void *context)
{
	const struct owned_here *here = context;
	if (key->cookie != here->cookie || value->owner != here->owner)
		return 0;
	for (size_t i = 0; i < here->count; i++) {
		if (memcmp(&here->wanted[i].key, key, sizeof *key) == 0)
			return 0;
	}
	return 1;
}

static int sync_entries(const char *owner)
{
	static struct entry wanted[MAP_ENTRIES];
	struct owned_here here = { .owner = parse_owner(owner), .cookie = netns_cookie(), .wanted = wanted };
	here.count = read_entries(wanted, MAP_ENTRIES, here.cookie, here.owner);
	int cgroup_fd, map_fd = -1;
	int program_fd = lock_program(&cgroup_fd, &map_fd);
	if (program_fd < 0) {
		if (here.count == 0)
			return 0;
		map_fd = create_map_of(BPF_MAP_TYPE_HASH, MAP_NAME, sizeof(struct key), sizeof(struct value), MAP_ENTRIES);
		int peers_fd = create_map_of(BPF_MAP_TYPE_LRU_HASH, PEERS_MAP_NAME, sizeof(uint64_t), 2 * sizeof(uint32_t), PEER_ENTRIES);
		for (size_t i = 0; i < here.count; i++)
			map_update(map_fd, &wanted[i].key, &wanted[i].value);
		program_fd = load_connect_program(map_fd, peers_fd);
		/* The peer program first, so that every redirected socket reports its original peer. */
		detach_peer_programs(cgroup_fd); /* one a crash left between the two attaches */
		int peer_fd = load_peer_program(peers_fd);
		if (peer_fd >= 0)
			attach(cgroup_fd, peer_fd, BPF_CGROUP_INET4_GETPEERNAME);
		if (attach(cgroup_fd, program_fd, BPF_CGROUP_INET4_CONNECT) < 0) {
			int error = errno;
			detach_peer_programs(cgroup_fd);
			fail(unavailable_errno(error) ? EXIT_UNAVAILABLE : 1, "BPF_PROG_ATTACH: %s", strerror(error));
		}
		return 0;
	}
	delete_entries(map_fd, unwanted, &here);
	for (size_t i = 0; i < here.count; i++)
		map_update(map_fd, &wanted[i].key, &wanted[i].value);
	detach_when_empty(cgroup_fd, program_fd, map_fd);
	return 0;
}

static void print_entry(const struct key *key, const struct value *value, void *context)
{
	(void)context;
	char ip[INET_ADDRSTRLEN], target[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &key->ip, ip, sizeof ip);
	inet_ntop(AF_INET, &value->ip, target, sizeof target);
	printf("%08x %llu %s %u %s %u\n", value->owner, (unsigned long long)key->cookie, ip, ntohs((uint16_t)key->port), target,
	       ntohs((uint16_t)value->port));
}

static int list_entries(void)
{
	int cgroup_fd = open_cgroup2_root();
	int map_fd = -1;
	uint32_t program_id = 0, peer_id = 0;
	int program = find_program(cgroup_fd, &map_fd, &program_id);
	if (program >= 0)
		printf("program %u\n", program_id);
	/* Also one a crash left without its connect4 program. */
	if (find_attached(cgroup_fd, BPF_CGROUP_INET4_GETPEERNAME, PEER_PROGRAM_NAME, NULL, NULL, &peer_id) >= 0)
		printf("peer-program %u\n", peer_id);
	printf("netns %llu\n", (unsigned long long)netns_cookie());
	if (program >= 0)
		map_walk(map_fd, print_entry, NULL);
	return 0;
}

struct owners {
	uint32_t hashes[64];
	int count;
};

static int owned_by_any(const struct key *key, const struct value *value, const void *context)
{
	(void)key;
	const struct owners *owners = context;
	for (int i = 0; i < owners->count; i++) {
		if (value->owner == owners->hashes[i])
			return 1;
	}
	return 0;
}

static int drop_owners(int count, char **hashes)
{
	struct owners owners = { .count = count };
	if (count > 64)
		fail(2, "at most 64 owners at once");
	for (int i = 0; i < count; i++)
		owners.hashes[i] = parse_owner(hashes[i]);
	int cgroup_fd, map_fd = -1;
	int program_fd = lock_program(&cgroup_fd, &map_fd);
	if (program_fd < 0)
		return 0;
	delete_entries(map_fd, owned_by_any, &owners);
	detach_when_empty(cgroup_fd, program_fd, map_fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sync") == 0)
		return sync_entries(argv[2]);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return list_entries();
	if (argc >= 3 && strcmp(argv[1], "drop") == 0)
		return drop_owners(argc - 2, argv + 2);
	fprintf(stderr, "usage: berth-redirect sync OWNER < entries | list | drop OWNER...\n");
	return 2;
}

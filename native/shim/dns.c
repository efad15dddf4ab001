/* The embedded DNS server (see dns.h). Every packet is hostile: all reads are bounded by
 * the received length, names in questions may not use compression, names are at most
 * 255 bytes, and records are skipped without ever following a pointer. */
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"

#define DEFAULT_ADDRESS "127.0.0.11"
#define DEFAULT_PORT 53
#define TABLE_MAX 16
#define UPSTREAM_MAX 8
#define SEARCH_MAX 8
#define NAME_MAX_TEXT 255          /* decoded name, dotted, without the trailing dot */
#define QUERY_MAX 512              /* longer queries get FORMERR (UDP) or a close (TCP) */
#define PACKET_MAX 4096            /* upstream answers over UDP; longer ones count as truncated */
#define ANSWER_TCP_MAX 4096        /* our own answers over TCP */
#define ANSWER_UDP_MAX 512         /* ... over UDP without EDNS */
#define EDNS_UDP_MAX 1232          /* ... over UDP with EDNS (and what our OPT advertises) */
#define ANSWER_ADDRESSES_MAX 256   /* distinct addresses collected for one name */
#define TTL 600                    /* Docker's */
#define UPSTREAM_TIMEOUT_MS 2000
#define TCP_CLIENT_TIMEOUT_MS 5000 /* for a whole query to arrive on a TCP connection */
#define TABLE_FILE_MAX (1024 * 1024)
#define CONFIG_FILE_MAX (64 * 1024)
#define LOG_FILE_MAX (64 * 1024)
#define UDP_BATCH 64               /* datagrams read per poll round */

#define FLAG_QR 0x8000
#define FLAG_OPCODE 0x7800
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define FLAG_CD 0x0010
#define RCODE_NOERROR 0
#define RCODE_FORMERR 1
#define RCODE_SERVFAIL 2
#define RCODE_NOTIMP 4
#define RCODE_REFUSED 5
#define TYPE_A 1
#define TYPE_PTR 12
#define TYPE_AAAA 28
#define TYPE_OPT 41
#define CLASS_IN 1

struct file_signature {
	bool present;
	dev_t device;
	ino_t inode;
	off_t size;
	struct timespec mtime;
};

struct entry {
	uint32_t name;        /* offset of the NUL-terminated name in the table's text */
	uint8_t name_length;
	uint8_t family;       /* AF_INET or AF_INET6 */
	uint8_t address[16];
};

struct table {
	char *path;
	struct file_signature signature;
	char *text;
	struct entry *entries;
	size_t count;
};

union address {
	struct sockaddr any;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

struct upstream {
	union address address;
	socklen_t length;
};

/* A query being forwarded. Its frame (the 2-byte TCP length, then the query) lives in
 * forward_frames[slot]: the slots themselves stay small, so that the poll loop, which reads
 * every slot, keeps touching one page, and a buffer page is only touched once used. */
struct forward {
	int fd;                 /* -1: slot free */
	bool tcp;               /* talking TCP to the upstream (after a truncated UDP answer) */
	bool tcp_reading;       /* TCP: the query is sent, reading the answer */
	size_t upstream;
	uint16_t client_id, sent_id;
	int64_t deadline;
	int client;             /* TCP client slot, or -1 for a UDP client */
	uint32_t client_generation;
	union address client_address;
	socklen_t client_length;
	bool has_opt;
	uint16_t question_end;
	uint16_t length;        /* of the query */
	size_t frame_sent;
	uint8_t prefix[2];
	size_t prefix_got;
	uint8_t *response;      /* TCP answer: mmap'd 2 + response_length bytes */
	size_t response_length, response_got;
};

struct tcp_client {
	int fd;                 /* -1: slot free */
	uint32_t generation;
	bool waiting;           /* a forward is under way for its query */
	int64_t deadline;
	size_t have;            /* bytes in client_buffers[slot] */
};

struct question {
	uint16_t id, flags, qtype, qclass;
	size_t end;             /* offset just past the question */
	char name[NAME_MAX_TEXT + 1];
	size_t name_length;
	bool matchable;         /* plain labels: no '.', space or control byte inside one */
	bool has_opt;
	uint16_t opt_size;
	uint8_t opt_version;
};

enum action { ACTION_DROP, ACTION_ANSWER, ACTION_FORWARD };

static struct {
	bool started, active;
	char *config_path, *log_path;
	struct file_signature config_signature;
	bool checked;           /* files checked in this poll round */
	int udp_fd, tcp_fd;
	struct table tables[TABLE_MAX];
	size_t table_count;
	struct upstream upstreams[UPSTREAM_MAX];
	size_t upstream_count;
	char *search[SEARCH_MAX];
	size_t search_count;
	struct forward forwards[DNS_FORWARD_MAX];
	struct tcp_client clients[DNS_TCP_CLIENT_MAX];
	uint32_t next_generation;
	uint64_t random_state;
	int64_t last_activity_ms;
	bool trim_due;          /* served something since the last trim */
} dns = { .udp_fd = -1, .tcp_fd = -1 };

/* Buffers, each touched only when used. */
static uint8_t answer_buffer[2 + ANSWER_TCP_MAX + 64]; /* our answers, after 2 bytes for the TCP length */
static uint8_t packet_buffer[2 + PACKET_MAX];          /* received datagrams, likewise */
static uint8_t forward_frames[DNS_FORWARD_MAX][2 + QUERY_MAX];
static uint8_t client_buffers[DNS_TCP_CLIENT_MAX][2 + QUERY_MAX];
#define FRAME(forward) (forward_frames[(forward) - dns.forwards])
#define BUFFER(client) (client_buffers[(client) - dns.clients])

/* ---- the log: <runDir>/dns.log, one line per problem, emptied past 64 KiB ---- */

__attribute__((format(printf, 1, 2))) static void dns_log(const char *format, ...)
{
	if (!dns.log_path)
		return;
	char line[768], when[RFC3339_NANO_LENGTH];
	clock_format_rfc3339_nano(clock_realtime(), when);
	int length = snprintf(line, sizeof line, "%s ", when);
	va_list arguments;
	va_start(arguments, format);
	int more = vsnprintf(line + length, sizeof line - (size_t)length - 1, format, arguments);
	va_end(arguments);
	if (more < 0)
		more = 0;
	length += more;
	if ((size_t)length > sizeof line - 2)
		length = sizeof line - 2;
	line[length++] = '\n';
	int fd = open(dns.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	struct stat status;
	if (fstat(fd, &status) == 0 && status.st_size > LOG_FILE_MAX && ftruncate(fd, 0) < 0) {
		/* nothing better to do */
	}
	write_all(fd, line, (size_t)length);
	close(fd);
}

/* ---- files: change detection ---- */

static void signature_of(const struct stat *status, struct file_signature *signature)
{
	signature->present = true;
	signature->device = status->st_dev;
	signature->inode = status->st_ino;
	signature->size = status->st_size;
	signature->mtime = status->st_mtim;
}

static void signature_of_path(const char *path, struct file_signature *signature)
{
	struct stat status;
	memset(signature, 0, sizeof *signature);
	if (stat(path, &status) == 0)
		signature_of(&status, signature);
}

static bool signature_equal(const struct file_signature *a, const struct file_signature *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->device == b->device && a->inode == b->inode && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Read a whole regular file (at most max bytes) into a malloc'd NUL-terminated buffer.
 * Returns 0, or -1 with errno (ENOENT when missing, EFBIG when too large). */
static int read_file(const char *path, size_t max, char **text, size_t *length, struct file_signature *signature)
{
	memset(signature, 0, sizeof *signature);
	*text = NULL;
	*length = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat status;
	if (fstat(fd, &status) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	signature_of(&status, signature);
	if (!S_ISREG(status.st_mode) || status.st_size < 0 || (size_t)status.st_size > max) {
		close(fd);
		errno = S_ISREG(status.st_mode) ? EFBIG : EINVAL;
		return -1;
	}
	size_t capacity = (size_t)status.st_size;
	char *buffer = malloc(capacity + 1);
	if (!buffer) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	size_t total = 0;
	while (total < capacity) {
		ssize_t got = read(fd, buffer + total, capacity - total);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		total += (size_t)got;
	}
	close(fd);
	buffer[total] = '\0';
	*text = buffer;
	*length = total;
	return 0;
}

/* ---- names ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Lowercase in place, drop one trailing dot; false when not a usable name
 * (empty, an empty label, a label over 63 bytes, over 253 bytes in all). */
static bool normalize_name(char *name, size_t *length)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		name[i] = lower(name[i]);
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c >= 0x7f)
			return false;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > 63) {
			return false;
		}
	}
	*length = n;
	return label > 0;
}

/* ---- tables ---- */

static void table_clear(struct table *table)
{
	free(table->text);
	free(table->entries);
	table->text = NULL;
	table->entries = NULL;
	table->count = 0;
}

static void table_load(struct table *table)
{
	char *text;
	size_t length;
	struct file_signature signature;
	table_clear(table);
	if (read_file(table->path, TABLE_FILE_MAX, &text, &length, &signature) < 0) {
		if (errno != ENOENT)
			dns_log("table %s: %s (serving it as empty)", table->path, strerror(errno));
		table->signature = signature; /* missing = empty, until it appears */
		return;
	}
	table->signature = signature;
	size_t lines = 1;
	for (size_t i = 0; i < length; i++)
		lines += text[i] == '\n';
	struct entry *entries = calloc(lines, sizeof *entries);
	if (!entries) {
		free(text);
		dns_log("table %s: out of memory (serving it as empty)", table->path);
		return;
	}
	size_t count = 0, skipped = 0;
	char *cursor = text;
	while (cursor < text + length) {
		char *end = memchr(cursor, '\n', (size_t)(text + length - cursor));
		if (!end)
			end = text + length;
		*end = '\0';
		char *comment = strchr(cursor, '#');
		if (comment)
			*comment = '\0';
		char *save = NULL;
		char *name = strtok_r(cursor, " \t\r", &save);
		char *address = name ? strtok_r(NULL, " \t\r", &save) : NULL;
		cursor = end + 1;
		if (!name)
			continue;
		size_t name_length;
		struct entry *entry = &entries[count];
		if (!address || !normalize_name(name, &name_length)) {
			skipped++;
			continue;
		}
		if (inet_pton(AF_INET, address, entry->address) == 1)
			entry->family = AF_INET;
		else if (inet_pton(AF_INET6, address, entry->address) == 1)
			entry->family = AF_INET6;
		else {
			skipped++;
			continue;
		}
		entry->name = (uint32_t)(name - text);
		entry->name_length = (uint8_t)name_length;
		count++;
	}
	if (skipped)
		dns_log("table %s: skipped %zu malformed line(s)", table->path, skipped);
	table->text = text;
	table->entries = entries;
	table->count = count;
}

/* ---- dns.json ---- */

static int parse_upstream(const char *text, struct upstream *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL;
	memset(out, 0, sizeof *out);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (size_t)(close - text - 1) >= sizeof host)
			return -1;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(text, ':');
		bool ipv6 = colon && strchr(colon + 1, ':');
		size_t length = ipv6 || !colon ? strlen(text) : (size_t)(colon - text);
		if (length >= sizeof host)
			return -1;
		memcpy(host, text, length);
		host[length] = '\0';
		if (!ipv6 && colon)
			port_text = colon + 1;
	}
	long port = DEFAULT_PORT;
	if (port_text) {
		char *end = NULL;
		errno = 0;
		port = strtol(port_text, &end, 10);
		if (errno || end == port_text || *end || port < 1 || port > 65535)
			return -1;
	}
	struct sockaddr_in *v4 = &out->address.v4;
	struct sockaddr_in6 *v6 = &out->address.v6;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		out->length = sizeof *v4;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->length = sizeof *v6;
	} else {
		return -1;
	}
	return 0;
}

/* The parsed dns.json, before it replaces the current settings. */
struct settings {
	union address listen;
	socklen_t listen_length;
	char *tables[TABLE_MAX];
	size_t table_count;
	struct upstream upstreams[UPSTREAM_MAX];
	size_t upstream_count;
	char *search[SEARCH_MAX];
	size_t search_count;
};

static void settings_free(struct settings *settings)
{
	for (size_t i = 0; i < settings->table_count; i++)
		free(settings->tables[i]);
	for (size_t i = 0; i < settings->search_count; i++)
		free(settings->search[i]);
	settings->table_count = settings->search_count = 0;
}

static int listen_address(const char *text, int64_t port, struct settings *out)
{
	struct sockaddr_in *v4 = &out->listen.v4;
	struct sockaddr_in6 *v6 = &out->listen.v6;
	memset(&out->listen, 0, sizeof out->listen);
	if (port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		out->listen_length = sizeof *v4;
	} else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->listen_length = sizeof *v6;
	} else {
		return -1;
	}
	return 0;
}

/* Strings of an optional array member; NULL message when fine. */
static const char *string_items(const struct json_value *root, const char *key, char **out, size_t max, size_t *count)
{
	const struct json_value *value = json_get(root, key);
	*count = 0;
	if (!value || value->type == JSON_NULL)
		return NULL;
	if (value->type != JSON_ARRAY)
		return "expected an array of strings";
	for (size_t i = 0; i < value->count; i++) {
		if (value->items[i]->type != JSON_STRING)
			return "expected an array of strings";
		if (*count == max)
			return "too many entries";
		out[*count] = strdup(value->items[i]->string);
		if (!out[*count])
			return "out of memory";
		(*count)++;
	}
	return NULL;
}

/* Parse dns.json into settings; a message naming the problem, or NULL. */
static const char *settings_parse(const char *text, size_t length, struct settings *out, char *message, size_t size)
{
	struct shim_error error = { 0 };
	AUTO_JSON root = NULL;
	memset(out, 0, sizeof *out);
	if (json_parse(text, length, dns.config_path, &root, &error) < 0) {
		snprintf(message, size, "%s", error.message);
		return message;
	}
	if (root->type != JSON_OBJECT)
		return "expected an object";
	const struct json_value *address = json_get(root, "address");
	const struct json_value *port = json_get(root, "port");
	if (address && address->type != JSON_STRING && address->type != JSON_NULL)
		return "address: expected a string";
	if (port && port->type != JSON_NULL && (port->type != JSON_NUMBER || !port->is_integer))
		return "port: expected an integer";
	const char *address_text = address && address->type == JSON_STRING ? address->string : DEFAULT_ADDRESS;
	int64_t port_number = port && port->type == JSON_NUMBER ? port->integer : DEFAULT_PORT;
	if (listen_address(address_text, port_number, out) < 0) {
		snprintf(message, size, "address: %s port %lld is not an IP address and port", address_text,
			 (long long)port_number);
		return message;
	}
	const char *problem = string_items(root, "tables", out->tables, TABLE_MAX, &out->table_count);
	if (problem) {
		snprintf(message, size, "tables: %s", problem);
		return message;
	}
	problem = string_items(root, "search", out->search, SEARCH_MAX, &out->search_count);
	if (problem) {
		snprintf(message, size, "search: %s", problem);
		return message;
	}
	for (size_t i = 0; i < out->search_count; i++) {
		size_t ignored;
		if (!normalize_name(out->search[i], &ignored)) {
			snprintf(message, size, "search: %s is not a domain name", out->search[i]);
			return message;
		}
	}
	const struct json_value *upstreams = json_get(root, "upstreams");
	if (upstreams && upstreams->type != JSON_NULL) {
		if (upstreams->type != JSON_ARRAY)
			return "upstreams: expected an array of strings";
		for (size_t i = 0; i < upstreams->count; i++) {
			const struct json_value *item = upstreams->items[i];
			if (item->type != JSON_STRING)
				return "upstreams: expected an array of strings";
			if (out->upstream_count == UPSTREAM_MAX)
				return "upstreams: more than 8";
			if (parse_upstream(item->string, &out->upstreams[out->upstream_count]) < 0) {
				snprintf(message, size, "upstreams: %s is not an IP address with an optional port", item->string);
				return message;
			}
			out->upstream_count++;
		}
	}
	/* "ndots" is accepted and not used: the shim answers by names, not by search rules. */
	return NULL;
}

/* (Re)read dns.json. The first time, a missing or broken file leaves the defaults
 * (listen on 127.0.0.11:53, no tables, no upstreams); later, the previous settings. */
static void config_load(struct settings *listen_out)
{
	char *text;
	size_t length;
	struct file_signature signature;
	if (read_file(dns.config_path, CONFIG_FILE_MAX, &text, &length, &signature) < 0) {
		dns_log("%s: %s (keeping the %s settings)", dns.config_path, strerror(errno),
			listen_out ? "default" : "previous");
		dns.config_signature = signature;
		return;
	}
	dns.config_signature = signature;
	struct settings settings;
	char message[640];
	const char *problem = settings_parse(text, length, &settings, message, sizeof message);
	free(text);
	if (problem) {
		dns_log("%s: %s (keeping the %s settings)", dns.config_path, problem, listen_out ? "default" : "previous");
		settings_free(&settings);
		return;
	}
	if (listen_out) {
		listen_out->listen = settings.listen;
		listen_out->listen_length = settings.listen_length;
	}
	for (size_t i = 0; i < dns.table_count; i++) {
		table_clear(&dns.tables[i]);
		free(dns.tables[i].path);
	}
	memset(dns.tables, 0, sizeof dns.tables);
	for (size_t i = 0; i < dns.search_count; i++)
		free(dns.search[i]);
	dns.table_count = settings.table_count;
	for (size_t i = 0; i < settings.table_count; i++) {
		dns.tables[i].path = settings.tables[i];
		table_load(&dns.tables[i]);
	}
	dns.search_count = settings.search_count;
	memcpy(dns.search, settings.search, sizeof dns.search);
	dns.upstream_count = settings.upstream_count;
	memcpy(dns.upstreams, settings.upstreams, sizeof dns.upstreams);
}

/* At most once per poll round: reload what changed. */
static void refresh(void)
{
	if (dns.checked)
		return;
	dns.checked = true;
	struct file_signature signature;
	signature_of_path(dns.config_path, &signature);
	if (!signature_equal(&signature, &dns.config_signature)) {
		config_load(NULL);
		return; /* the tables were all just read */
	}
	for (size_t i = 0; i < dns.table_count; i++) {
		signature_of_path(dns.tables[i].path, &signature);
		if (!signature_equal(&signature, &dns.tables[i].signature))
			table_load(&dns.tables[i]);
	}
}

/* ---- lookups ---- */

struct addresses {
	size_t count;
	uint8_t bytes[ANSWER_ADDRESSES_MAX][16];
};

/* Whether name is in the tables; collects its distinct addresses of family, in order. */
static bool lookup(const char *name, size_t length, int family, struct addresses *out)
{
	bool found = false;
	size_t size = family == AF_INET ? 4 : 16;
	for (size_t t = 0; t < dns.table_count; t++) {
		const struct table *table = &dns.tables[t];
		for (size_t i = 0; i < table->count; i++) {
			const struct entry *entry = &table->entries[i];
			if (entry->name_length != length || memcmp(table->text + entry->name, name, length) != 0)
				continue;
			found = true;
			if (entry->family != family || out->count == ANSWER_ADDRESSES_MAX)
				continue;
			bool seen = false;
			for (size_t j = 0; j < out->count && !seen; j++)
				seen = memcmp(out->bytes[j], entry->address, size) == 0;
			if (!seen)
				memcpy(out->bytes[out->count++], entry->address, size);
		}
	}
	return found;
}

/* The name as asked, else with a search domain stripped (`web.example.com` → `web`). */
static bool lookup_with_search(const struct question *q, int family, struct addresses *out)
{
	out->count = 0;
	if (lookup(q->name, q->name_length, family, out))
		return true;
	for (size_t i = 0; i < dns.search_count; i++) {
		size_t suffix = strlen(dns.search[i]);
		if (q->name_length <= suffix + 1)
			continue;
		size_t stem = q->name_length - suffix - 1;
		if (q->name[stem] != '.' || memcmp(q->name + stem + 1, dns.search[i], suffix) != 0)
			continue;
		out->count = 0;
		if (lookup(q->name, stem, family, out))
			return true;
	}
	return false;
}

/* The first name listed for an address, or NULL. */
static const struct entry *lookup_address(int family, const uint8_t *address, const struct table **table_out)
{
	size_t size = family == AF_INET ? 4 : 16;
	for (size_t t = 0; t < dns.table_count; t++) {
		const struct table *table = &dns.tables[t];
		for (size_t i = 0; i < table->count; i++) {
			if (table->entries[i].family == family && memcmp(table->entries[i].address, address, size) == 0) {
				*table_out = table;
				return &table->entries[i];
			}
		}
	}
	return NULL;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "4.3.2.1.in-addr.arpa" or 32 nibbles + ".ip6.arpa" → an address. Returns the family or 0. */
static int reverse_address(const char *name, size_t length, uint8_t *address)
{
	static const char v4_suffix[] = ".in-addr.arpa", v6_suffix[] = ".ip6.arpa";
	size_t v4 = sizeof v4_suffix - 1, v6 = sizeof v6_suffix - 1;
	if (length > v4 && memcmp(name + length - v4, v4_suffix, v4) == 0) {
		const char *cursor = name, *end = name + length - v4;
		for (int i = 3; i >= 0; i--) {
			unsigned value = 0;
			int digits = 0;
			while (cursor < end && *cursor >= '0' && *cursor <= '9' && digits < 3) {
				value = value * 10 + (unsigned)(*cursor++ - '0');
				digits++;
			}
			if (digits == 0 || value > 255)
				return 0;
			address[i] = (uint8_t)value;
			if (i > 0 && (cursor >= end || *cursor++ != '.'))
				return 0;
		}
		return cursor == end ? AF_INET : 0;
	}
	/* 32 "x." labels, the last dot being the suffix's own. */
	if (length == 63 + v6 && memcmp(name + 63, v6_suffix, v6) == 0) {
		memset(address, 0, 16);
		for (int i = 0; i < 32; i++) {
			int nibble = hex_value(name[2 * i]);
			if (nibble < 0 || name[2 * i + 1] != '.')
				return 0;
			/* The first label is the lowest nibble of the last byte. */
			int index = 31 - i;
			address[index / 2] |= (uint8_t)(index % 2 == 0 ? nibble << 4 : nibble);
		}
		return AF_INET6;
	}
	return 0;
}

/* ---- packets ---- */

static uint16_t read16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void write16(uint8_t *p, uint16_t value)
{
	p[0] = (uint8_t)(value >> 8);
	p[1] = (uint8_t)value;
}

/* Skip a name in a record (may end in a pointer, which is never followed). */
static bool skip_name(const uint8_t *packet, size_t length, size_t *offset)
{
	size_t at = *offset;
	for (int labels = 0; labels < 128; labels++) {
		if (at >= length)
			return false;
		uint8_t b = packet[at];
		if (b == 0) {
			*offset = at + 1;
			return true;
		}
		if ((b & 0xc0) == 0xc0) {
			if (at + 2 > length)
				return false;
			*offset = at + 2;
			return true;
		}
		if (b & 0xc0)
			return false;
		at += 1 + (size_t)b;
	}
	return false;
}

/* Parse a query. Returns -1 to drop it, else the rcode to answer with unless it is
 * NOERROR; with_question tells whether q->end is valid (the question parsed). */
static int parse_query(const uint8_t *packet, size_t length, struct question *q, bool *with_question)
{
	*with_question = false;
	memset(q, 0, sizeof *q);
	if (length < 12)
		return -1;
	q->id = read16(packet);
	q->flags = read16(packet + 2);
	if (q->flags & FLAG_QR)
		return -1; /* a response: never answer one (no reflection loops) */
	if (q->flags & FLAG_OPCODE)
		return RCODE_NOTIMP;
	if (length > QUERY_MAX)
		return RCODE_FORMERR;
	uint16_t qdcount = read16(packet + 4), ancount = read16(packet + 6), nscount = read16(packet + 8),
		 arcount = read16(packet + 10);
	if (qdcount != 1)
		return RCODE_FORMERR;
	size_t at = 12, wire = 0;
	q->matchable = true;
	for (;;) {
		if (at >= length)
			return RCODE_FORMERR;
		uint8_t b = packet[at++];
		if (b == 0)
			break;
		if (b & 0xc0) /* compression (or the obsolete label types) in a question: refused */
			return RCODE_FORMERR;
		wire += 1 + (size_t)b;
		if (wire + 1 > 255 || at + b > length)
			return RCODE_FORMERR;
		if (q->name_length > 0)
			q->name[q->name_length++] = '.';
		for (size_t i = 0; i < b; i++) {
			char c = lower((char)packet[at + i]);
			if (c == '.' || (unsigned char)c <= ' ' || (unsigned char)c >= 0x7f)
				q->matchable = false;
			q->name[q->name_length++] = c;
		}
		at += b;
	}
	q->name[q->name_length] = '\0';
	if (at + 4 > length)
		return RCODE_FORMERR;
	q->qtype = read16(packet + at);
	q->qclass = read16(packet + at + 2);
	q->end = at + 4;
	*with_question = true;
	at = q->end;
	for (unsigned i = 0; i < (unsigned)ancount + nscount + arcount; i++) {
		size_t start = at;
		if (!skip_name(packet, length, &at) || at + 10 > length)
			return RCODE_FORMERR;
		uint16_t type = read16(packet + at);
		size_t rdlength = read16(packet + at + 8);
		if (at + 10 + rdlength > length)
			return RCODE_FORMERR;
		if (type == TYPE_OPT && i >= (unsigned)ancount + nscount) {
			if (q->has_opt || at != start + 1) /* one OPT, owned by the root */
				return RCODE_FORMERR;
			q->has_opt = true;
			q->opt_size = read16(packet + at + 2);
			q->opt_version = packet[at + 5];
		}
		at += 10 + rdlength;
	}
	return RCODE_NOERROR;
}

/* Header (+ question) of a response to query into out; returns its length. */
static size_t begin_response(uint8_t *out, const uint8_t *query, uint16_t flags, size_t question_end, int rcode)
{
	write16(out, read16(query));
	write16(out + 2, (uint16_t)(FLAG_QR | (flags & (FLAG_OPCODE | FLAG_RD | FLAG_CD)) | FLAG_RA | (rcode & 0xf)));
	memset(out + 4, 0, 8);
	if (question_end <= 12)
		return 12;
	write16(out + 4, 1);
	memcpy(out + 12, query + 12, question_end - 12);
	return question_end;
}

/* Our OPT record (UDP size EDNS_UDP_MAX, extended rcode high bits), counted in ARCOUNT. */
static size_t append_opt(uint8_t *out, size_t length, uint8_t extended_rcode)
{
	uint8_t *p = out + length;
	p[0] = 0;
	write16(p + 1, TYPE_OPT);
	write16(p + 3, EDNS_UDP_MAX);
	p[5] = extended_rcode;
	p[6] = 0; /* version */
	p[7] = p[8] = 0;
	write16(p + 9, 0);
	write16(out + 10, (uint16_t)(read16(out + 10) + 1));
	return length + 11;
}

static size_t error_response(uint8_t *out, const uint8_t *query, uint16_t flags, size_t question_end, bool opt,
			     int rcode)
{
	size_t length = begin_response(out, query, flags, question_end, rcode);
	return opt ? append_opt(out, length, 0) : length;
}

/* One answer record for the question's name (a pointer to offset 12). */
static bool append_record(uint8_t *out, size_t *length, size_t limit, uint16_t type, const uint8_t *rdata,
			  size_t rdlength)
{
	if (*length + 12 + rdlength > limit)
		return false;
	uint8_t *p = out + *length;
	write16(p, 0xc00c);
	write16(p + 2, type);
	write16(p + 4, CLASS_IN);
	p[6] = (uint8_t)(TTL >> 24);
	p[7] = (uint8_t)(TTL >> 16);
	p[8] = (uint8_t)(TTL >> 8);
	p[9] = (uint8_t)TTL;
	write16(p + 10, (uint16_t)rdlength);
	memcpy(p + 12, rdata, rdlength);
	*length += 12 + rdlength;
	write16(out + 6, (uint16_t)(read16(out + 6) + 1));
	return true;
}

/* Answer from the tables into out (limit bytes at most); 0 when the query is not ours. */
static size_t answer_local(const uint8_t *query, const struct question *q, uint8_t *out, size_t limit)
{
	if (!q->matchable || q->qclass != CLASS_IN || q->name_length == 0)
		return 0;
	size_t reserve = q->has_opt ? 11 : 0;
	if (q->qtype == TYPE_A || q->qtype == TYPE_AAAA) {
		static struct addresses found;
		int family = q->qtype == TYPE_A ? AF_INET : AF_INET6;
		if (!lookup_with_search(q, family, &found))
			return 0;
		size_t length = begin_response(out, query, q->flags, q->end, RCODE_NOERROR);
		for (size_t i = 0; i < found.count; i++) {
			if (!append_record(out, &length, limit - reserve, q->qtype, found.bytes[i], family == AF_INET ? 4 : 16)) {
				write16(out + 2, (uint16_t)(read16(out + 2) | FLAG_TC));
				break;
			}
		}
		return q->has_opt ? append_opt(out, length, 0) : length;
	}
	if (q->qtype == TYPE_PTR) {
		uint8_t address[16];
		int family = reverse_address(q->name, q->name_length, address);
		const struct table *table = NULL;
		const struct entry *entry = family ? lookup_address(family, address, &table) : NULL;
		if (!entry)
			return 0;
		uint8_t rdata[256];
		size_t rdlength = 0;
		const char *name = table->text + entry->name;
		for (size_t start = 0; start < entry->name_length;) {
			const char *dot = memchr(name + start, '.', entry->name_length - start);
			size_t label = dot ? (size_t)(dot - name) - start : entry->name_length - start;
			rdata[rdlength++] = (uint8_t)label;
			memcpy(rdata + rdlength, name + start, label);
			rdlength += label;
			start += label + 1;
		}
		rdata[rdlength++] = 0;
		size_t length = begin_response(out, query, q->flags, q->end, RCODE_NOERROR);
		if (!append_record(out, &length, limit - reserve, TYPE_PTR, rdata, rdlength))
			write16(out + 2, (uint16_t)(read16(out + 2) | FLAG_TC));
		return q->has_opt ? append_opt(out, length, 0) : length;
	}
	return 0;
}

/* Decide what to do with a query; an answer goes to out (*out_length bytes). */
static enum action handle_query(const uint8_t *query, size_t length, bool tcp, struct question *q, uint8_t *out,
				size_t *out_length)
{
	bool with_question;
	int rcode = parse_query(query, length, q, &with_question);
	if (rcode < 0)
		return ACTION_DROP;
	size_t question_end = with_question ? q->end : 0;
	if (rcode != RCODE_NOERROR) {
		*out_length = error_response(out, query, q->flags, question_end, false, rcode);
		return ACTION_ANSWER;
	}
	if (q->has_opt && q->opt_version != 0) {
		/* BADVERS (16): extended rcode 1, header rcode 0. */
		size_t n = begin_response(out, query, q->flags, question_end, 0);
		*out_length = append_opt(out, n, 1);
		return ACTION_ANSWER;
	}
	refresh();
	size_t limit = tcp ? ANSWER_TCP_MAX
		       : q->has_opt ? (q->opt_size < ANSWER_UDP_MAX ? ANSWER_UDP_MAX
				       : q->opt_size > EDNS_UDP_MAX ? EDNS_UDP_MAX : q->opt_size)
				    : ANSWER_UDP_MAX;
	*out_length = answer_local(query, q, out, limit);
	if (*out_length > 0)
		return ACTION_ANSWER;
	if (dns.upstream_count == 0) {
		*out_length = error_response(out, query, q->flags, question_end, q->has_opt, RCODE_SERVFAIL);
		return ACTION_ANSWER;
	}
	return ACTION_FORWARD;
}

/* ---- replies to clients ---- */

static void client_close(struct tcp_client *client)
{
	if (client->fd >= 0)
		close(client->fd);
	client->fd = -1;
	client->waiting = false;
	client->have = 0;
}

/* data has 2 free bytes before it for the TCP length. */
static void client_send_tcp(struct tcp_client *client, uint8_t *data, size_t length, int64_t now)
{
	write16(data - 2, (uint16_t)length);
	ssize_t sent = send(client->fd, data - 2, length + 2, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent != (ssize_t)(length + 2)) {
		/* A client that does not read its answers is not waited for. */
		client_close(client);
		return;
	}
	client->waiting = false;
	client->have = 0;
	client->deadline = now + TCP_CLIENT_TIMEOUT_MS;
}

/* Send a response (2 free bytes before data) to a forward's client. */
static void forward_reply(struct forward *forward, uint8_t *data, size_t length, int64_t now)
{
	write16(data, forward->client_id);
	if (forward->client < 0) {
		sendto(dns.udp_fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL, &forward->client_address.any,
		       forward->client_length);
		return;
	}
	struct tcp_client *client = &dns.clients[forward->client];
	if (client->fd >= 0 && client->waiting && client->generation == forward->client_generation)
		client_send_tcp(client, data, length, now);
}

/* ---- forwarding ---- */

static void forward_release(struct forward *forward)
{
	if (forward->fd >= 0)
		close(forward->fd);
	forward->fd = -1;
	if (forward->response)
		munmap(forward->response, 2 + forward->response_length);
	forward->response = NULL;
	forward->response_length = forward->response_got = 0;
	forward->prefix_got = forward->frame_sent = 0;
	forward->tcp = forward->tcp_reading = false;
}

static void forward_fail(struct forward *forward, int64_t now)
{
	uint8_t *out = answer_buffer + 2;
	size_t length = error_response(out, FRAME(forward) + 2, read16(FRAME(forward) + 4), forward->question_end,
				       forward->has_opt, RCODE_SERVFAIL);
	forward_reply(forward, out, length, now);
	forward_release(forward);
	forward->client = -1;
}

/* Query ids for the upstreams: splitmix64 seeded once from getrandom (no system call per
 * query); each forward also has a fresh socket, so a fresh random source port. */
static uint16_t random_id(void)
{
	uint64_t z = (dns.random_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (uint16_t)(z ^ (z >> 31));
}

/* Send the query over UDP to upstream `from` or the next that takes it; SERVFAIL when
 * none is left. */
static void forward_try(struct forward *forward, size_t from, int64_t now)
{
	forward_release(forward);
	for (size_t i = from; i < dns.upstream_count; i++) {
		const struct upstream *upstream = &dns.upstreams[i];
		int fd = socket(upstream->address.any.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		forward->sent_id = random_id();
		write16(FRAME(forward) + 2, forward->sent_id);
		if (connect(fd, &upstream->address.any, upstream->length) < 0 ||
		    send(fd, FRAME(forward) + 2, forward->length, MSG_NOSIGNAL) != (ssize_t)forward->length) {
			close(fd);
			continue;
		}
		forward->fd = fd;
		forward->upstream = i;
		forward->deadline = now + UPSTREAM_TIMEOUT_MS;
		return;
	}
	forward_fail(forward, now);
}

/* The same upstream over TCP, after a truncated UDP answer for a TCP client. */
static void forward_tcp(struct forward *forward, int64_t now)
{
	size_t upstream_index = forward->upstream;
	forward_release(forward);
	forward->upstream = upstream_index;
	if (upstream_index >= dns.upstream_count) {
		forward_try(forward, upstream_index + 1, now);
		return;
	}
	const struct upstream *upstream = &dns.upstreams[upstream_index];
	int fd = socket(upstream->address.any.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, &upstream->address.any, upstream->length) < 0 &&
		       errno != EINPROGRESS)) {
		if (fd >= 0)
			close(fd);
		forward_try(forward, upstream_index + 1, now);
		return;
	}
	forward->sent_id = random_id();
	write16(FRAME(forward) + 2, forward->sent_id);
	write16(FRAME(forward), forward->length);
	forward->fd = fd;
	forward->tcp = true;
	forward->deadline = now + UPSTREAM_TIMEOUT_MS;
}

static bool same_question(const struct forward *forward, const uint8_t *response, size_t length)
{
	if (read16(response + 4) == 0)
		return true; /* e.g. a FORMERR without the question */
	if (read16(response + 4) != 1 || length < forward->question_end)
		return false;
	for (size_t i = 12; i < forward->question_end; i++) {
		if (lower((char)response[i]) != lower((char)FRAME(forward)[2 + i]))
			return false;
	}
	return true;
}

/* An answer from the upstream (2 free bytes before it). */
static void forward_answer(struct forward *forward, uint8_t *response, size_t length, bool truncated, int64_t now)
{
	if (length < 12 || read16(response) != forward->sent_id || !(read16(response + 2) & FLAG_QR) ||
	    !same_question(forward, response, length)) {
		if (forward->tcp) /* a TCP stream that says something else is useless */
			forward_try(forward, forward->upstream + 1, now);
		return; /* over UDP: not ours (spoofed or late); keep waiting */
	}
	uint16_t flags = read16(response + 2);
	int rcode = flags & 0xf;
	if ((rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED) && forward->upstream + 1 < dns.upstream_count) {
		forward_try(forward, forward->upstream + 1, now);
		return;
	}
	if ((truncated || (flags & FLAG_TC)) && !forward->tcp && forward->client >= 0) {
		forward_tcp(forward, now);
		return;
	}
	if (truncated) {
		/* Longer than we take over UDP: tell the client to come back over TCP. */
		uint8_t *out = answer_buffer + 2;
		size_t n = error_response(out, FRAME(forward) + 2, read16(FRAME(forward) + 4), forward->question_end,
					  false, rcode);
		write16(out + 2, (uint16_t)(read16(out + 2) | FLAG_TC));
		forward_reply(forward, out, n, now);
	} else {
		forward_reply(forward, response, length, now);
	}
	forward_release(forward);
	forward->client = -1;
}

static void forward_udp_readable(struct forward *forward, int64_t now)
{
	for (int rounds = 0; rounds < 8 && forward->fd >= 0 && !forward->tcp; rounds++) {
		ssize_t got = recv(forward->fd, packet_buffer + 2, PACKET_MAX, MSG_TRUNC | MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED (nothing listens there) and the like: the next upstream, now. */
			forward_try(forward, forward->upstream + 1, now);
			return;
		}
		bool truncated = got > PACKET_MAX;
		forward_answer(forward, packet_buffer + 2, truncated ? PACKET_MAX : (size_t)got, truncated, now);
	}
}

static void forward_tcp_ready(struct forward *forward, short revents, int64_t now)
{
	if (!forward->tcp_reading) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		size_t total = 2 + (size_t)forward->length;
		ssize_t sent = send(forward->fd, FRAME(forward) + forward->frame_sent, total - forward->frame_sent,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				forward_try(forward, forward->upstream + 1, now);
			return;
		}
		forward->frame_sent += (size_t)sent;
		if (forward->frame_sent == total)
			forward->tcp_reading = true;
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	for (;;) {
		uint8_t *into;
		size_t want;
		if (forward->prefix_got < 2) {
			into = forward->prefix + forward->prefix_got;
			want = 2 - forward->prefix_got;
		} else {
			into = forward->response + 2 + forward->response_got;
			want = forward->response_length - forward->response_got;
		}
		ssize_t got = recv(forward->fd, into, want, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (got <= 0) {
			forward_try(forward, forward->upstream + 1, now);
			return;
		}
		if (forward->prefix_got < 2) {
			forward->prefix_got += (size_t)got;
			if (forward->prefix_got < 2)
				continue;
			forward->response_length = read16(forward->prefix);
			if (forward->response_length < 12) {
				forward_try(forward, forward->upstream + 1, now);
				return;
			}
			/* Its own mapping: up to 64 KiB, returned to the kernel right after. */
			void *mapping = mmap(NULL, 2 + forward->response_length, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (mapping == MAP_FAILED) {
				forward->response_length = 0;
				forward_fail(forward, now);
				return;
			}
			forward->response = mapping;
			continue;
		}
		forward->response_got += (size_t)got;
		if (forward->response_got == forward->response_length) {
			forward_answer(forward, forward->response + 2, forward->response_length, false, now);
			return;
		}
	}
}

/* Start forwarding a query (already checked by handle_query). */
static void forward_start(const uint8_t *query, size_t length, const struct question *q, int client,
			  const union address *address, socklen_t address_length, int64_t now)
{
	struct forward *forward = NULL;
	for (size_t i = 0; i < DNS_FORWARD_MAX && !forward; i++) {
		if (dns.forwards[i].fd < 0)
			forward = &dns.forwards[i];
	}
	if (!forward) {
		/* Too many at once: SERVFAIL now rather than a silence the client waits out. */
		uint8_t *out = answer_buffer + 2;
		size_t n = error_response(out, query, q->flags, q->end, q->has_opt, RCODE_SERVFAIL);
		if (client < 0)
			sendto(dns.udp_fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL, &address->any, address_length);
		else
			client_send_tcp(&dns.clients[client], out, n, now);
		return;
	}
	memcpy(FRAME(forward) + 2, query, length);
	forward->length = (uint16_t)length;
	forward->client_id = q->id;
	forward->question_end = (uint16_t)q->end;
	forward->has_opt = q->has_opt;
	forward->client = client;
	if (client >= 0) {
		forward->client_generation = dns.clients[client].generation;
		dns.clients[client].waiting = true;
	} else {
		memcpy(&forward->client_address, address, address_length < sizeof *address ? address_length : sizeof *address);
		forward->client_length = address_length < sizeof *address ? address_length : sizeof *address;
	}
	forward_try(forward, 0, now);
}

/* ---- listening sockets ---- */

static void udp_readable(int64_t now)
{
	for (int rounds = 0; rounds < UDP_BATCH; rounds++) {
		union address from;
		socklen_t from_length = sizeof from;
		ssize_t got = recvfrom(dns.udp_fd, packet_buffer + 2, PACKET_MAX, MSG_TRUNC | MSG_DONTWAIT, &from.any,
				       &from_length);
		if (got < 0)
			return;
		size_t length = got > PACKET_MAX ? PACKET_MAX : (size_t)got;
		struct question q;
		size_t answer_length = 0;
		uint8_t *out = answer_buffer + 2;
		/* parse_query sees the real length: over QUERY_MAX is a FORMERR. */
		enum action action = handle_query(packet_buffer + 2, (size_t)got > length ? QUERY_MAX + 1 : length, false,
						  &q, out, &answer_length);
		if (action == ACTION_ANSWER)
			sendto(dns.udp_fd, out, answer_length, MSG_DONTWAIT | MSG_NOSIGNAL, &from.any, from_length);
		else if (action == ACTION_FORWARD)
			forward_start(packet_buffer + 2, length, &q, -1, &from, from_length, now);
	}
}

static void tcp_accept(int64_t now)
{
	for (int rounds = 0; rounds < DNS_TCP_CLIENT_MAX; rounds++) {
		int fd = accept4(dns.tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct tcp_client *client = NULL;
		for (size_t i = 0; i < DNS_TCP_CLIENT_MAX && !client; i++) {
			if (dns.clients[i].fd < 0)
				client = &dns.clients[i];
		}
		if (!client) {
			close(fd); /* full: a quick refusal beats a wait in the backlog */
			continue;
		}
		client->fd = fd;
		client->generation = ++dns.next_generation;
		client->waiting = false;
		client->have = 0;
		client->deadline = now + TCP_CLIENT_TIMEOUT_MS;
	}
}

static void client_readable(struct tcp_client *client, int64_t now)
{
	while (client->fd >= 0 && !client->waiting) {
		size_t need = client->have < 2 ? 2 : 2 + (size_t)read16(BUFFER(client));
		ssize_t got = recv(client->fd, BUFFER(client) + client->have, need - client->have, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (got <= 0) {
			client_close(client);
			return;
		}
		client->have += (size_t)got;
		if (client->have == 2) {
			size_t length = read16(BUFFER(client));
			if (length < 12 || length > QUERY_MAX) {
				client_close(client);
				return;
			}
			continue;
		}
		if (client->have < need)
			continue;
		struct question q;
		size_t answer_length = 0;
		uint8_t *out = answer_buffer + 2;
		size_t length = client->have - 2;
		enum action action = handle_query(BUFFER(client) + 2, length, true, &q, out, &answer_length);
		if (action == ACTION_DROP) {
			client_close(client);
		} else if (action == ACTION_ANSWER) {
			client_send_tcp(client, out, answer_length, now);
		} else {
			client->have = 0;
			forward_start(BUFFER(client) + 2, length, &q, (int)(client - dns.clients), NULL, 0, now);
		}
	}
}

static int open_listener(int type, const struct settings *settings, const char *what)
{
	int family = settings->listen.any.sa_family;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dns_log("%s socket: %s", what, strerror(errno));
		return -1;
	}
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	/* Bind even while lo is still down in the namespace: the address works once it is up. */
	setsockopt(fd, SOL_IP, IP_FREEBIND, &on, sizeof on);
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	char text[INET6_ADDRSTRLEN] = "?";
	const void *raw = family == AF_INET ? (const void *)&settings->listen.v4.sin_addr
					    : (const void *)&settings->listen.v6.sin6_addr;
	inet_ntop(family, raw, text, sizeof text);
	unsigned port = ntohs(family == AF_INET ? settings->listen.v4.sin_port : settings->listen.v6.sin6_port);
	if (bind(fd, &settings->listen.any, settings->listen_length) < 0 ||
	    (type == SOCK_STREAM && listen(fd, DNS_TCP_CLIENT_MAX) < 0)) {
		dns_log("%s %s port %u: %s", what, text, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the monitor's interface ---- */

int dns_start(const char *config_path, const char *netns_path, const char *log_path)
{
	dns.started = true;
	dns.udp_fd = dns.tcp_fd = -1;
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++)
		dns.forwards[i].fd = -1;
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++)
		dns.clients[i].fd = -1;
	dns.log_path = log_path ? strdup(log_path) : NULL;
	if (getrandom(&dns.random_state, sizeof dns.random_state, GRND_NONBLOCK) != (ssize_t)sizeof dns.random_state)
		dns.random_state = (uint64_t)clock_monotonic_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&dns;
	dns.config_path = strdup(config_path);
	if (!dns.config_path)
		return -1;
	if (!netns_path) {
		dns_log("config.json has no network namespace path: not serving DNS");
		return -1;
	}
	struct settings listen = { 0 };
	listen_address(DEFAULT_ADDRESS, DEFAULT_PORT, &listen);
	config_load(&listen);
	int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (own < 0 || target < 0) {
		dns_log("open %s: %s: not serving DNS", own < 0 ? "/proc/self/ns/net" : netns_path, strerror(errno));
		if (own >= 0)
			close(own);
		if (target >= 0)
			close(target);
		return -1;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		dns_log("join network namespace %s: %s: not serving DNS", netns_path, strerror(errno));
		close(own);
		close(target);
		return -1;
	}
	close(target);
	dns.udp_fd = open_listener(SOCK_DGRAM, &listen, "udp");
	dns.tcp_fd = open_listener(SOCK_STREAM, &listen, "tcp");
	if (setns(own, CLONE_NEWNET) < 0) {
		/* Forwarding from the container's namespace would be wrong: serve nothing. */
		dns_log("return to the shim's network namespace: %s: not serving DNS", strerror(errno));
		close(own);
		dns_stop();
		return -1;
	}
	close(own);
	dns.active = dns.udp_fd >= 0 || dns.tcp_fd >= 0;
	return dns.active ? 0 : -1;
}

bool dns_active(void)
{
	return dns.active;
}

size_t dns_poll_fds(struct pollfd *fds)
{
	fds[0] = (struct pollfd){ .fd = dns.udp_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = dns.tcp_fd, .events = POLLIN };
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++) {
		const struct forward *forward = &dns.forwards[i];
		short events = forward->tcp && !forward->tcp_reading ? POLLOUT : POLLIN;
		fds[2 + i] = (struct pollfd){ .fd = forward->fd, .events = events };
	}
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++) {
		const struct tcp_client *client = &dns.clients[i];
		fds[2 + DNS_FORWARD_MAX + i] = (struct pollfd){ .fd = client->waiting ? -1 : client->fd, .events = POLLIN };
	}
	return DNS_POLL_MAX;
}

void dns_process(const struct pollfd *fds, size_t count, int64_t now)
{
	if (!dns.active || count < DNS_POLL_MAX)
		return;
	dns.checked = false;
	for (size_t i = 0; i < count; i++) {
		if (fds[i].revents) {
			dns.last_activity_ms = now;
			dns.trim_due = true;
			break;
		}
	}
	/* Answers first (they may finish TCP clients), then new queries, then deadlines. */
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++) {
		struct forward *forward = &dns.forwards[i];
		const struct pollfd *entry = &fds[2 + i];
		if (forward->fd < 0 || entry->fd != forward->fd || !entry->revents)
			continue;
		if (forward->tcp)
			forward_tcp_ready(forward, entry->revents, now);
		else
			forward_udp_readable(forward, now);
	}
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++) {
		struct tcp_client *client = &dns.clients[i];
		const struct pollfd *entry = &fds[2 + DNS_FORWARD_MAX + i];
		if (client->fd >= 0 && entry->fd == client->fd && entry->revents && !client->waiting)
			client_readable(client, now);
	}
	if (dns.udp_fd >= 0 && fds[0].fd == dns.udp_fd && (fds[0].revents & POLLIN))
		udp_readable(now);
	if (dns.tcp_fd >= 0 && fds[1].fd == dns.tcp_fd && (fds[1].revents & POLLIN))
		tcp_accept(now);
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++) {
		struct forward *forward = &dns.forwards[i];
		if (forward->fd >= 0 && now >= forward->deadline)
			forward_try(forward, forward->upstream + 1, now);
	}
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++) {
		struct tcp_client *client = &dns.clients[i];
		if (client->fd >= 0 && !client->waiting && now >= client->deadline)
			client_close(client);
	}
}

int64_t dns_next_deadline(void)
{
	if (!dns.active)
		return 0;
	int64_t deadline = dns.trim_due ? dns.last_activity_ms + DNS_IDLE_TRIM_MS : 0;
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++) {
		const struct forward *forward = &dns.forwards[i];
		if (forward->fd >= 0 && (deadline == 0 || forward->deadline < deadline))
			deadline = forward->deadline;
	}
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++) {
		const struct tcp_client *client = &dns.clients[i];
		if (client->fd >= 0 && !client->waiting && (deadline == 0 || client->deadline < deadline))
			deadline = client->deadline;
	}
	return deadline;
}

bool dns_trim_due(int64_t now)
{
	if (!dns.active || !dns.trim_due || now < dns.last_activity_ms + DNS_IDLE_TRIM_MS)
		return false;
	dns.trim_due = false;
	return true;
}

void dns_stop(void)
{
	if (!dns.started)
		return;
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++)
		forward_release(&dns.forwards[i]);
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++)
		client_close(&dns.clients[i]);
	if (dns.udp_fd >= 0)
		close(dns.udp_fd);
	if (dns.tcp_fd >= 0)
		close(dns.tcp_fd);
	dns.udp_fd = dns.tcp_fd = -1;
	dns.active = false;
	for (size_t i = 0; i < dns.table_count; i++) {
		table_clear(&dns.tables[i]);
		free(dns.tables[i].path);
		dns.tables[i].path = NULL;
	}
	dns.table_count = 0;
	for (size_t i = 0; i < dns.search_count; i++)
		free(dns.search[i]);
	dns.search_count = 0;
}

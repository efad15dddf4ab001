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
#include "error.h"
#include "files.h"
#include "json.h"

#define DEFAULT_ADDRESS "127.0.0.11"
#define DEFAULT_PORT 53
#define TABLE_MAX 16
#define UPSTREAM_MAX 8
#define SEARCH_MAX 8
#define NAME_MAX_TEXT 255          /* decoded name, dotted, without the trailing dot */
#define QUERY_MAX 512              /* longer queries get FORMERR (UDP) or a close (TCP) */
#define MESSAGE_MAX 4096           /* our answers over TCP; upstream answers over UDP (longer: truncated) */
#define ANSWER_UDP_MAX 512         /* our answers over UDP without EDNS */
#define EDNS_UDP_MAX 1232          /* ... over UDP with EDNS (and what our OPT advertises) */
#define OPT_LENGTH 11              /* our OPT record */
#define TTL 600                    /* Docker's */
#define UPSTREAM_TIMEOUT_MS 2000
#define TCP_CLIENT_TIMEOUT_MS 5000 /* for a whole query to arrive on a TCP connection */
#define TABLE_FILE_MAX (1024 * 1024)
#define LOG_FILE_MAX (64 * 1024)
#define UDP_BATCH 64               /* datagrams read per poll round */

#define FLAG_QR 0x8000
#define FLAG_OPCODE 0x7800
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

/* What a file was when last read; all zero while it is missing. */
struct file_signature {
	mode_t mode;
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

struct endpoint {
	union address address;
	socklen_t length;
};

/* Where a query came from: a TCP connection (client >= 0, while it has that generation)
 * or a UDP peer. */
struct origin {
	int client;
	uint32_t generation;
	struct endpoint peer;
};

/* A query being forwarded. Its frame (the 2-byte TCP length, then the query, whose id is
 * the one sent upstream) lives in forward_frames[slot]: the slots themselves stay small,
 * so that the poll loop, which reads every slot, keeps touching one page, and a buffer
 * page is only touched once used. */
struct forward {
	int fd;                 /* -1: slot free */
	bool tcp;               /* talking TCP to the upstream (after a truncated UDP answer) */
	bool tcp_reading;       /* TCP: the query is sent, reading the answer */
	bool has_opt;
	size_t upstream;
	uint16_t client_id;
	uint16_t question_end;
	uint16_t length;        /* of the query */
	int64_t deadline;
	struct origin from;
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
	size_t end;             /* offset just past the question; 0 when it did not parse */
	char name[NAME_MAX_TEXT + 1];
	size_t name_length;
	bool matchable;         /* plain labels: no '.', space or control byte inside one */
	bool has_opt;
	uint16_t opt_size;
	uint8_t opt_version;
};

static struct {
	bool started;
	const char *config_path; /* the shim's own configuration string, which outlives us */
	char *log_path;
	struct file_signature config_signature;
	bool checked;           /* files checked in this poll round */
	int udp_fd, tcp_fd;
	struct table tables[TABLE_MAX];
	size_t table_count;
	struct endpoint upstreams[UPSTREAM_MAX];
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

/* Buffers, each touched only when used. message_buffer holds one message at a time, after
 * 2 bytes for the TCP length: our answer, or an upstream's UDP answer (which is relayed,
 * or dropped before an answer of our own is built there). */
static uint8_t message_buffer[2 + MESSAGE_MAX];
static uint8_t query_buffer[QUERY_MAX + 1]; /* UDP queries; a longer one fills it and gets FORMERR */
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
	AUTO_FD fd = open(dns.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	struct stat status;
	if (fstat(fd, &status) == 0 && status.st_size > LOG_FILE_MAX && ftruncate(fd, 0) < 0) {
		/* nothing better to do */
	}
	write_all(fd, line, (size_t)length);
}

/* ---- files: change detection ---- */

static struct file_signature signature_of(const struct stat *status)
{
	return (struct file_signature){ .mode = status->st_mode, .device = status->st_dev, .inode = status->st_ino,
					.size = status->st_size, .mtime = status->st_mtim };
}

static struct file_signature signature_of_path(const char *path)
{
	struct stat status;
	return stat(path, &status) == 0 ? signature_of(&status) : (struct file_signature){ 0 };
}

static bool signature_equal(const struct file_signature *a, const struct file_signature *b)
{
	return a->mode == b->mode && a->device == b->device && a->inode == b->inode && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* ---- names and addresses ---- */

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

static size_t address_size(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* host (an IPv4 or IPv6 address) and port as a socket address; -1 when they are not. */
static int endpoint_set(struct endpoint *out, const char *host, int64_t port)
{
	struct sockaddr_in *v4 = &out->address.v4;
	struct sockaddr_in6 *v6 = &out->address.v6;
	memset(out, 0, sizeof *out);
	if (port < 1 || port > 65535)
		return -1;
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

/* ---- tables ---- */

static void table_clear(struct table *table)
{
	free(table->text);
	free(table->entries);
	table->text = NULL;
	table->entries = NULL;
	table->count = 0;
}

/* A table's text (malloc'd, NUL-terminated; NULL with errno when it cannot be had) and the
 * signature of the file it came from, both from one open file, so that a rename in
 * between cannot pair old text with a new signature. */
static char *table_read(const char *path, size_t *length, struct file_signature *signature)
{
	*signature = (struct file_signature){ 0 };
	AUTO_FD fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat status;
	if (fd < 0 || fstat(fd, &status) < 0)
		return NULL;
	*signature = signature_of(&status);
	if (!S_ISREG(status.st_mode) || status.st_size > TABLE_FILE_MAX) {
		errno = S_ISREG(status.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	size_t size = (size_t)status.st_size, total = 0;
	char *text = malloc(size + 1);
	if (!text)
		return NULL;
	while (total < size) {
		ssize_t got = read(fd, text + total, size - total);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		total += (size_t)got;
	}
	text[total] = '\0';
	*length = total;
	return text;
}

static void table_load(struct table *table)
{
	size_t length = 0;
	table_clear(table);
	char *text = table_read(table->path, &length, &table->signature);
	if (!text) {
		if (errno != ENOENT) /* missing: empty until it appears */
			dns_log("table %s: %s (serving it as empty)", table->path, strerror(errno));
		return;
	}
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
	for (char *cursor = text; cursor < text + length;) {
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
		struct entry *entry = &entries[count];
		size_t name_length;
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

/* "IP", "IPv4:port" or "[IPv6]:port" (an IPv6 address without brackets takes no port). */
static int parse_upstream(const char *text, struct endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *host_start = text, *port_text = NULL;
	size_t host_length;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return -1;
		host_start = text + 1;
		host_length = (size_t)(close - host_start);
		if (close[1] == ':')
			port_text = close + 2;
	} else {
		const char *colon = strchr(text, ':');
		bool with_port = colon && !strchr(colon + 1, ':');
		host_length = with_port ? (size_t)(colon - text) : strlen(text);
		if (with_port)
			port_text = colon + 1;
	}
	if (host_length >= sizeof host)
		return -1;
	memcpy(host, host_start, host_length);
	host[host_length] = '\0';
	long port = DEFAULT_PORT;
	if (port_text) {
		char *end = NULL;
		errno = 0;
		port = strtol(port_text, &end, 10);
		if (errno || end == port_text || *end)
			return -1;
	}
	return endpoint_set(out, host, port);
}

/* The parsed dns.json, before it replaces the current settings. */
struct settings {
	struct endpoint listen;
	char *tables[TABLE_MAX];
	size_t table_count;
	struct endpoint upstreams[UPSTREAM_MAX];
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

/* dns.json's document into settings; a message naming the problem, or NULL. */
static const char *settings_parse(const struct json_value *root, struct settings *out, char *message, size_t size)
{
	memset(out, 0, sizeof *out);
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
	if (endpoint_set(&out->listen, address_text, port_number) < 0) {
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

/* Drop the current tables and search domains. */
static void tables_free(void)
{
	for (size_t i = 0; i < dns.table_count; i++) {
		table_clear(&dns.tables[i]);
		free(dns.tables[i].path);
	}
	memset(dns.tables, 0, sizeof dns.tables);
	dns.table_count = 0;
	for (size_t i = 0; i < dns.search_count; i++)
		free(dns.search[i]);
	dns.search_count = 0;
}

/* (Re)read dns.json and all its tables. The first time (listen given), a missing or broken
 * file leaves the defaults (listen on 127.0.0.11:53, no tables, no upstreams); later, the
 * previous settings. A rename between the stat and the read only costs one more reload. */
static void config_load(struct endpoint *listen)
{
	const char *keeping = listen ? "default" : "previous";
	dns.config_signature = signature_of_path(dns.config_path);
	if (dns.config_signature.mode && !S_ISREG(dns.config_signature.mode)) {
		dns_log("%s: not a regular file (keeping the %s settings)", dns.config_path, keeping);
		return;
	}
	struct shim_error error = { 0 };
	AUTO_JSON root = NULL;
	if (json_parse_file(dns.config_path, &root, &error) < 0) {
		dns_log("%s (keeping the %s settings)", error.message, keeping);
		return;
	}
	struct settings settings;
	char message[640];
	const char *problem = settings_parse(root, &settings, message, sizeof message);
	if (problem) {
		dns_log("%s: %s (keeping the %s settings)", dns.config_path, problem, keeping);
		settings_free(&settings);
		return;
	}
	if (listen)
		*listen = settings.listen;
	tables_free();
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
	struct file_signature signature = signature_of_path(dns.config_path);
	if (!signature_equal(&signature, &dns.config_signature)) {
		config_load(NULL); /* the tables too */
		return;
	}
	for (size_t i = 0; i < dns.table_count; i++) {
		signature = signature_of_path(dns.tables[i].path);
		if (!signature_equal(&signature, &dns.tables[i].signature))
			table_load(&dns.tables[i]);
	}
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
 * NOERROR; q->end stays 0 unless the question parsed. */
static int parse_query(const uint8_t *packet, size_t length, struct question *q)
{
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

/* Header (+ question, when question_end says there is one) of a response to query into
 * out; returns its length. */
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
	return length + OPT_LENGTH;
}

static size_t error_response(uint8_t *out, const uint8_t *query, uint16_t flags, size_t question_end, bool opt,
			     int rcode)
{
	size_t length = begin_response(out, query, flags, question_end, rcode);
	return opt ? append_opt(out, length, 0) : length;
}

/* One answer record for the question's name (a pointer to offset 12); when it does not
 * fit in limit, sets TC instead and returns false. */
static bool append_record(uint8_t *out, size_t *length, size_t limit, uint16_t type, const uint8_t *rdata,
			  size_t rdlength)
{
	if (*length + 12 + rdlength > limit) {
		write16(out + 2, (uint16_t)(read16(out + 2) | FLAG_TC));
		return false;
	}
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

/* ---- answers from the tables ---- */

/* Append name's addresses of the asked type's family (A or AAAA), in table order, each
 * once, until one does not fit. False when the name is not in the tables at all (then
 * nothing was appended); true with no record is NODATA. */
static bool add_addresses(const char *name, size_t name_length, uint16_t type, uint8_t *out, size_t *length,
			  size_t limit)
{
	int family = type == TYPE_A ? AF_INET : AF_INET6;
	size_t size = address_size(family), first = *length;
	bool found = false;
	for (size_t t = 0; t < dns.table_count; t++) {
		const struct table *table = &dns.tables[t];
		for (size_t i = 0; i < table->count; i++) {
			const struct entry *entry = &table->entries[i];
			if (entry->name_length != name_length || memcmp(table->text + entry->name, name, name_length) != 0)
				continue;
			found = true;
			if (entry->family != family || (read16(out + 2) & FLAG_TC))
				continue;
			/* The records already appended have the same size: look for this address there. */
			bool seen = false;
			for (size_t at = first; at < *length && !seen; at += 12 + size)
				seen = memcmp(out + at + 12, entry->address, size) == 0;
			if (!seen)
				append_record(out, length, limit, type, entry->address, size);
		}
	}
	return found;
}

/* A or AAAA: the name as asked, else with a search domain stripped (`web.example.com` → `web`). */
static bool answer_addresses(const struct question *q, uint8_t *out, size_t *length, size_t limit)
{
	if (add_addresses(q->name, q->name_length, q->qtype, out, length, limit))
		return true;
	for (size_t i = 0; i < dns.search_count; i++) {
		size_t suffix = strlen(dns.search[i]);
		if (q->name_length <= suffix + 1)
			continue;
		size_t stem = q->name_length - suffix - 1;
		if (q->name[stem] == '.' && memcmp(q->name + stem + 1, dns.search[i], suffix) == 0 &&
		    add_addresses(q->name, stem, q->qtype, out, length, limit))
			return true;
	}
	return false;
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

/* PTR: the first name listed for the address (tables in order). */
static bool answer_ptr(const struct question *q, uint8_t *out, size_t *length, size_t limit)
{
	uint8_t address[16];
	int family = reverse_address(q->name, q->name_length, address);
	if (!family)
		return false;
	for (size_t t = 0; t < dns.table_count; t++) {
		const struct table *table = &dns.tables[t];
		for (size_t i = 0; i < table->count; i++) {
			const struct entry *entry = &table->entries[i];
			if (entry->family != family || memcmp(entry->address, address, address_size(family)) != 0)
				continue;
			/* "a.bc" → 1 a 2 b c 0: the name after one byte, each dot then replaced by the
			 * length of the label after it (normalize_name made every label 1..63 bytes). */
			uint8_t rdata[NAME_MAX_TEXT + 2];
			size_t n = entry->name_length, label = 0;
			memcpy(rdata + 1, table->text + entry->name, n);
			for (size_t at = 1; at <= n; at++) {
				if (rdata[at] == '.') {
					rdata[label] = (uint8_t)(at - label - 1);
					label = at;
				}
			}
			rdata[label] = (uint8_t)(n - label);
			rdata[n + 1] = 0;
			append_record(out, length, limit, TYPE_PTR, rdata, n + 2);
			return true;
		}
	}
	return false;
}

/* Answer from the tables into out (limit bytes at most); 0 when the query is not ours. */
static size_t answer_local(const uint8_t *query, const struct question *q, uint8_t *out, size_t limit)
{
	if (!q->matchable || q->qclass != CLASS_IN || q->name_length == 0 ||
	    (q->qtype != TYPE_A && q->qtype != TYPE_AAAA && q->qtype != TYPE_PTR))
		return 0;
	size_t length = begin_response(out, query, q->flags, q->end, RCODE_NOERROR);
	size_t room = limit - (q->has_opt ? OPT_LENGTH : 0); /* the question (at most 271 bytes) always fits */
	bool ours = q->qtype == TYPE_PTR ? answer_ptr(q, out, &length, room) : answer_addresses(q, out, &length, room);
	if (!ours)
		return 0;
	return q->has_opt ? append_opt(out, length, 0) : length;
}

/* How long our own answer to q may be. */
static size_t answer_limit(const struct question *q, bool tcp)
{
	if (tcp)
		return MESSAGE_MAX;
	if (!q->has_opt || q->opt_size <= ANSWER_UDP_MAX)
		return ANSWER_UDP_MAX;
	return q->opt_size < EDNS_UDP_MAX ? q->opt_size : EDNS_UDP_MAX;
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

/* Send a message (with 2 free bytes before data, for the TCP length) to where a query
 * came from. */
static void reply(const struct origin *to, uint8_t *data, size_t length, int64_t now)
{
	if (to->client < 0) {
		sendto(dns.udp_fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL, &to->peer.address.any, to->peer.length);
		return;
	}
	struct tcp_client *client = &dns.clients[to->client];
	if (client->fd < 0 || client->generation != to->generation)
		return; /* gone meanwhile */
	write16(data - 2, (uint16_t)length);
	if (send(client->fd, data - 2, length + 2, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)(length + 2)) {
		client_close(client); /* a client that does not read its answers is not waited for */
		return;
	}
	client->waiting = false;
	client->deadline = now + TCP_CLIENT_TIMEOUT_MS;
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

/* Relay a response (2 free bytes before it) to the client, with its own id, and free the slot. */
static void forward_done(struct forward *forward, uint8_t *data, size_t length, int64_t now)
{
	write16(data, forward->client_id);
	reply(&forward->from, data, length, now);
	forward_release(forward);
}

/* Answer the client with an error of our own (its question, OPT if it sent one). */
static void forward_error(struct forward *forward, int rcode, uint16_t extra_flags, int64_t now)
{
	const uint8_t *query = FRAME(forward) + 2;
	uint8_t *out = message_buffer + 2;
	size_t length = error_response(out, query, read16(query + 2), forward->question_end, forward->has_opt, rcode);
	write16(out + 2, (uint16_t)(read16(out + 2) | extra_flags));
	forward_done(forward, out, length, now);
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

/* A socket of type connected (TCP: connecting) to upstream i, or -1. */
static int upstream_connect(size_t i, int type)
{
	const struct endpoint *upstream = &dns.upstreams[i];
	int fd = socket(upstream->address.any.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, &upstream->address.any, upstream->length) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send the query over UDP to upstream `from` or the next that takes it; SERVFAIL when
 * none is left. */
static void forward_try(struct forward *forward, size_t from, int64_t now)
{
	forward_release(forward);
	for (size_t i = from; i < dns.upstream_count; i++) {
		int fd = upstream_connect(i, SOCK_DGRAM);
		if (fd < 0)
			continue;
		write16(FRAME(forward) + 2, random_id());
		if (send(fd, FRAME(forward) + 2, forward->length, MSG_NOSIGNAL) != (ssize_t)forward->length) {
			close(fd);
			continue;
		}
		forward->fd = fd;
		forward->upstream = i;
		forward->deadline = now + UPSTREAM_TIMEOUT_MS;
		return;
	}
	forward_error(forward, RCODE_SERVFAIL, 0, now);
}

/* The same upstream over TCP, after a truncated UDP answer for a TCP client. */
static void forward_tcp(struct forward *forward, int64_t now)
{
	size_t i = forward->upstream;
	forward_release(forward);
	int fd = i < dns.upstream_count ? upstream_connect(i, SOCK_STREAM) : -1; /* fewer since dns.json changed */
	if (fd < 0) {
		forward_try(forward, i + 1, now);
		return;
	}
	write16(FRAME(forward), forward->length);
	write16(FRAME(forward) + 2, random_id());
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

/* An answer from the upstream (2 free bytes before it); truncated: it was longer than
 * MESSAGE_MAX over UDP. */
static void forward_answer(struct forward *forward, uint8_t *response, size_t length, bool truncated, int64_t now)
{
	if (length < 12 || read16(response) != read16(FRAME(forward) + 2) || !(read16(response + 2) & FLAG_QR) ||
	    !same_question(forward, response, length)) {
		if (forward->tcp) /* a TCP stream that says something else is useless */
			forward_try(forward, forward->upstream + 1, now);
		return; /* over UDP: not ours (spoofed or late); keep waiting */
	}
	uint16_t flags = read16(response + 2);
	int rcode = flags & 0xf;
	if ((rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED) && forward->upstream + 1 < dns.upstream_count)
		forward_try(forward, forward->upstream + 1, now);
	else if ((truncated || (flags & FLAG_TC)) && !forward->tcp && forward->from.client >= 0)
		forward_tcp(forward, now);
	else if (truncated) /* too long for us over UDP: the client comes back over TCP */
		forward_error(forward, rcode, FLAG_TC, now);
	else
		forward_done(forward, response, length, now);
}

static void forward_udp_readable(struct forward *forward, int64_t now)
{
	uint8_t *into = message_buffer + 2;
	for (int rounds = 0; rounds < 8 && forward->fd >= 0 && !forward->tcp; rounds++) {
		ssize_t got = recv(forward->fd, into, MESSAGE_MAX, MSG_TRUNC | MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED (nothing listens there) and the like: the next upstream, now. */
			forward_try(forward, forward->upstream + 1, now);
			return;
		}
		bool truncated = got > MESSAGE_MAX;
		forward_answer(forward, into, truncated ? MESSAGE_MAX : (size_t)got, truncated, now);
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
		forward->tcp_reading = forward->frame_sent == total;
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	for (;;) {
		bool prefix = forward->prefix_got < 2;
		uint8_t *into = prefix ? forward->prefix + forward->prefix_got : forward->response + 2 + forward->response_got;
		size_t want = prefix ? 2 - forward->prefix_got : forward->response_length - forward->response_got;
		ssize_t got = recv(forward->fd, into, want, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (got <= 0) {
			forward_try(forward, forward->upstream + 1, now);
			return;
		}
		if (!prefix) {
			forward->response_got += (size_t)got;
			if (forward->response_got == forward->response_length) {
				forward_answer(forward, forward->response + 2, forward->response_length, false, now);
				return;
			}
			continue;
		}
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
			forward_error(forward, RCODE_SERVFAIL, 0, now);
			return;
		}
		forward->response = mapping;
	}
}

/* Start forwarding a query (already parsed by serve); false when every slot is busy. */
static bool forward_start(const uint8_t *query, size_t length, const struct question *q, const struct origin *from,
			  int64_t now)
{
	struct forward *forward = NULL;
	for (size_t i = 0; i < DNS_FORWARD_MAX && !forward; i++) {
		if (dns.forwards[i].fd < 0)
			forward = &dns.forwards[i];
	}
	if (!forward)
		return false;
	memcpy(FRAME(forward) + 2, query, length);
	forward->length = (uint16_t)length;
	forward->client_id = q->id;
	forward->question_end = (uint16_t)q->end;
	forward->has_opt = q->has_opt;
	forward->from = *from;
	if (from->client >= 0)
		dns.clients[from->client].waiting = true;
	forward_try(forward, 0, now);
	return true;
}

/* ---- queries ---- */

/* Answer, forward or drop one query (length bytes; over QUERY_MAX gets FORMERR). */
static void serve(const uint8_t *query, size_t length, const struct origin *from, int64_t now)
{
	struct question q;
	uint8_t *out = message_buffer + 2;
	size_t answer_length;
	int rcode = parse_query(query, length, &q);
	if (rcode < 0) {
		if (from->client >= 0)
			client_close(&dns.clients[from->client]);
		return;
	}
	if (rcode != RCODE_NOERROR) {
		answer_length = error_response(out, query, q.flags, q.end, false, rcode);
	} else if (q.has_opt && q.opt_version != 0) {
		/* BADVERS (16): extended rcode 1, header rcode 0. */
		answer_length = append_opt(out, begin_response(out, query, q.flags, q.end, 0), 1);
	} else {
		refresh();
		answer_length = answer_local(query, &q, out, answer_limit(&q, from->client >= 0));
		if (answer_length == 0 && dns.upstream_count > 0 && forward_start(query, length, &q, from, now))
			return;
		/* No upstreams, or too many forwards at once: SERVFAIL now rather than a silence
		 * the client waits out. */
		if (answer_length == 0)
			answer_length = error_response(out, query, q.flags, q.end, q.has_opt, RCODE_SERVFAIL);
	}
	reply(from, out, answer_length, now);
}

/* ---- listening sockets ---- */

static void udp_readable(int64_t now)
{
	for (int rounds = 0; rounds < UDP_BATCH; rounds++) {
		struct origin from = { .client = -1, .peer.length = sizeof from.peer.address };
		ssize_t got = recvfrom(dns.udp_fd, query_buffer, sizeof query_buffer, MSG_DONTWAIT, &from.peer.address.any,
				       &from.peer.length);
		if (got < 0)
			return;
		if (from.peer.length > sizeof from.peer.address)
			from.peer.length = sizeof from.peer.address;
		serve(query_buffer, (size_t)got, &from, now);
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

/* Read framed queries (the next once the previous is answered). */
static void client_readable(struct tcp_client *client, int64_t now)
{
	uint8_t *buffer = BUFFER(client);
	while (client->fd >= 0 && !client->waiting) {
		size_t need = client->have < 2 ? 2 : 2 + (size_t)read16(buffer);
		ssize_t got = recv(client->fd, buffer + client->have, need - client->have, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (got <= 0) {
			client_close(client);
			return;
		}
		client->have += (size_t)got;
		if (client->have == 2 && (read16(buffer) < 12 || read16(buffer) > QUERY_MAX)) {
			client_close(client);
			return;
		}
		if (client->have < need || need == 2)
			continue;
		struct origin from = { .client = (int)(client - dns.clients), .generation = client->generation };
		client->have = 0;
		serve(buffer + 2, need - 2, &from, now);
	}
}

static int open_listener(int type, const struct endpoint *listen_on, const char *what)
{
	int family = listen_on->address.any.sa_family;
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
	if (bind(fd, &listen_on->address.any, listen_on->length) == 0 &&
	    (type != SOCK_STREAM || listen(fd, DNS_TCP_CLIENT_MAX) == 0))
		return fd;
	int saved = errno;
	char text[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in *v4 = &listen_on->address.v4;
	const struct sockaddr_in6 *v6 = &listen_on->address.v6;
	inet_ntop(family, family == AF_INET ? (const void *)&v4->sin_addr : (const void *)&v6->sin6_addr, text, sizeof text);
	dns_log("%s %s port %u: %s", what, text, ntohs(family == AF_INET ? v4->sin_port : v6->sin6_port), strerror(saved));
	close(fd);
	return -1;
}

/* ---- the monitor's interface ---- */

int dns_start(const char *config_path, const char *netns_path, const char *run_dir)
{
	dns.started = true;
	for (size_t i = 0; i < DNS_FORWARD_MAX; i++)
		dns.forwards[i].fd = -1;
	for (size_t i = 0; i < DNS_TCP_CLIENT_MAX; i++)
		dns.clients[i].fd = -1;
	dns.config_path = config_path;
	dns.log_path = path_join(run_dir, "dns.log");
	if (getrandom(&dns.random_state, sizeof dns.random_state, GRND_NONBLOCK) != (ssize_t)sizeof dns.random_state)
		dns.random_state = (uint64_t)clock_monotonic_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&dns;
	if (!netns_path) {
		dns_log("config.json has no network namespace path: not serving DNS");
		return -1;
	}
	struct endpoint listen_on;
	endpoint_set(&listen_on, DEFAULT_ADDRESS, DEFAULT_PORT);
	config_load(&listen_on);
	AUTO_FD own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0) {
		dns_log("open /proc/self/ns/net: %s: not serving DNS", strerror(errno));
		return -1;
	}
	AUTO_FD target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0 || setns(target, CLONE_NEWNET) < 0) {
		dns_log("join network namespace %s: %s: not serving DNS", netns_path, strerror(errno));
		return -1;
	}
	dns.udp_fd = open_listener(SOCK_DGRAM, &listen_on, "udp");
	dns.tcp_fd = open_listener(SOCK_STREAM, &listen_on, "tcp");
	if (setns(own, CLONE_NEWNET) < 0) {
		/* Forwarding from the container's namespace would be wrong: serve nothing. */
		dns_log("return to the shim's network namespace: %s: not serving DNS", strerror(errno));
		dns_stop();
		return -1;
	}
	return dns_active() ? 0 : -1;
}

bool dns_active(void)
{
	return dns.udp_fd >= 0 || dns.tcp_fd >= 0;
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
	if (!dns_active() || count < DNS_POLL_MAX)
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
	if (!dns_active())
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
	if (!dns_active() || !dns.trim_due || now < dns.last_activity_ms + DNS_IDLE_TRIM_MS)
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
	tables_free();
	free(dns.log_path);
	dns.log_path = NULL;
}

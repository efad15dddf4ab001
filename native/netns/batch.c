/* The batches src/network/links.ts writes for a bridge endpoint, done with rtnetlink here instead
 * of by `ip -batch -`: each ip process costs about 1.5 ms of dynamic loading before its first
 * request, and a sandbox takes two (one inside, one on the host). Only these forms are done here;
 * a batch with any other line (a macvlan, a delete) goes to ip as before, untouched:
 *
 *   link set dev NAME up
 *   link add name NAME [address MAC] [mtu N] type veth peer name PEER [mtu N] netns PATH
 *   addr add CIDR dev NAME [nodad]
 *   route add 0.0.0.0/0|::/0 via GATEWAY dev NAME
 *   link set dev NAME master BRIDGE
 *   link set dev NAME type bridge_slave hairpin on
 *   link set dev NAME alias ALIAS
 *
 * The requests are ip's own for these lines, and a failure is reported as ip reports it
 * ("RTNETLINK answers: ...", then "Command failed -:N"), stopping at the failed line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink.h"

#define MAX_LINES 64
#define MAX_WORDS 16

enum operation { SET_UP, ADD_VETH, ADD_ADDRESS, ADD_DEFAULT_ROUTE, SET_MASTER, SET_HAIRPIN, SET_ALIAS };

struct line {
	enum operation operation;
	char name[IF_NAMESIZE];
	char peer[IF_NAMESIZE]; /* veth peer, or the bridge of SET_MASTER */
	char path[256];         /* the veth peer's netns */
	char alias[128];
	unsigned char mac[6];
	bool has_mac;
	unsigned int mtu, peer_mtu;
	int family;
	unsigned char address[16]; /* the address, or the gateway */
	unsigned char prefix;
	bool nodad;
};

static bool copy_name(char *to, const char *from)
{
	size_t length = strlen(from);
	if (length == 0 || length >= IF_NAMESIZE)
		return false;
	memcpy(to, from, length + 1);
	return true;
}

static bool parse_mtu(const char *text, unsigned int *mtu)
{
	char *end = NULL;
	unsigned long value = strtoul(text, &end, 10);
	if (end == text || *end != '\0' || value == 0 || value > 65535)
		return false;
	*mtu = (unsigned int)value;
	return true;
}

static bool parse_mac(const char *text, unsigned char mac[6])
{
	unsigned int bytes[6];
	char end;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &bytes[0], &bytes[1], &bytes[2], &bytes[3], &bytes[4], &bytes[5], &end) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)bytes[i];
	return true;
}

/* An address, with "/PREFIX" when `prefix` is given. */
static bool parse_address(const char *text, struct line *line, bool with_prefix)
{
	char copy[64];
	if (strlen(text) >= sizeof copy)
		return false;
	strcpy(copy, text);
	char *slash = strchr(copy, '/');
	if (with_prefix != (slash != NULL))
		return false;
	if (slash)
		*slash = '\0';
	line->family = strchr(copy, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(line->family, copy, line->address) != 1)
		return false;
	if (slash) {
		char *end = NULL;
		unsigned long prefix = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || prefix > (line->family == AF_INET ? 32u : 128u))
			return false;
		line->prefix = (unsigned char)prefix;
	}
	return true;
}

static bool words_are(char **words, int count, int at, const char *expected)
{
	return at < count && strcmp(words[at], expected) == 0;
}

/* One line of the grammar above into `line`; false for anything else. */
static bool parse_line(char *text, struct line *line)
{
	char *words[MAX_WORDS];
	int count = 0;
	for (char *word = strtok(text, " \t"); word != NULL; word = strtok(NULL, " \t")) {
		if (count == MAX_WORDS)
			return false;
		words[count++] = word;
	}
	memset(line, 0, sizeof *line);
	if (count >= 5 && words_are(words, count, 0, "link") && words_are(words, count, 1, "set") && words_are(words, count, 2, "dev")) {
		if (!copy_name(line->name, words[3]))
			return false;
		if (count == 5 && strcmp(words[4], "up") == 0) {
			line->operation = SET_UP;
			return true;
		}
		if (count == 6 && strcmp(words[4], "master") == 0) {
			line->operation = SET_MASTER;
			return copy_name(line->peer, words[5]);
		}
		if (count == 8 && strcmp(words[4], "type") == 0 && strcmp(words[5], "bridge_slave") == 0 && strcmp(words[6], "hairpin") == 0 &&
		    strcmp(words[7], "on") == 0) {
			line->operation = SET_HAIRPIN;
			return true;
		}
		if (count == 6 && strcmp(words[4], "alias") == 0 && strlen(words[5]) < sizeof line->alias) {
			line->operation = SET_ALIAS;
			strcpy(line->alias, words[5]);
			return true;
		}
		return false;
	}
	if (count >= 6 && words_are(words, count, 0, "link") && words_are(words, count, 1, "add") && words_are(words, count, 2, "name")) {
		line->operation = ADD_VETH;
		if (!copy_name(line->name, words[3]))
			return false;
		int at = 4;
		for (; at + 1 < count && strcmp(words[at], "type") != 0; at += 2) {
			if (strcmp(words[at], "address") == 0) {
				if (line->has_mac || !parse_mac(words[at + 1], line->mac))
					return false;
				line->has_mac = true;
			} else if (strcmp(words[at], "mtu") == 0) {
				if (line->mtu || !parse_mtu(words[at + 1], &line->mtu))
					return false;
			} else {
				return false;
			}
		}
		if (!(words_are(words, count, at, "type") && words_are(words, count, at + 1, "veth") && words_are(words, count, at + 2, "peer") &&
		      words_are(words, count, at + 3, "name") && at + 4 < count && copy_name(line->peer, words[at + 4])))
			return false;
		at += 5;
		if (words_are(words, count, at, "mtu")) {
			if (at + 1 >= count || !parse_mtu(words[at + 1], &line->peer_mtu))
				return false;
			at += 2;
		}
		if (!(words_are(words, count, at, "netns") && at + 2 == count && strlen(words[at + 1]) < sizeof line->path))
			return false;
		strcpy(line->path, words[at + 1]);
		return true;
	}
	if ((count == 5 || count == 6) && words_are(words, count, 0, "addr") && words_are(words, count, 1, "add") && words_are(words, count, 3, "dev")) {
		line->operation = ADD_ADDRESS;
		if (!parse_address(words[2], line, true) || !copy_name(line->name, words[4]))
			return false;
		if (count == 6 && strcmp(words[5], "nodad") != 0)
			return false;
		line->nodad = count == 6;
		return true;
	}
	if (count == 7 && words_are(words, count, 0, "route") && words_are(words, count, 1, "add") && words_are(words, count, 3, "via") &&
	    words_are(words, count, 5, "dev")) {
		line->operation = ADD_DEFAULT_ROUTE;
		int family = strchr(words[2], ':') ? AF_INET6 : AF_INET;
		if (strcmp(words[2], family == AF_INET ? "0.0.0.0/0" : "::/0") != 0 || !parse_address(words[4], line, false) || line->family != family)
			return false;
		return copy_name(line->name, words[6]);
	}
	return false;
}

/* The request for one line; 0, or -errno with `missing` set to a device name not found. */
static int perform(int sock, const struct line *line, const char **missing)
{
	struct request request;
	unsigned int index = 0;
	if (line->operation != ADD_VETH) {
		index = if_nametoindex(line->name);
		if (index == 0) {
			*missing = line->name;
			return -ENODEV;
		}
	}
	switch (line->operation) {
	case SET_UP: {
		start(&request, RTM_NEWLINK, NLM_F_ACK);
		struct ifinfomsg info = { .ifi_family = AF_UNSPEC, .ifi_index = (int)index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
		append(&request, &info, sizeof info);
		break;
	}
	case SET_MASTER:
	case SET_HAIRPIN:
	case SET_ALIAS: {
		start(&request, RTM_NEWLINK, NLM_F_ACK);
		struct ifinfomsg info = { .ifi_family = AF_UNSPEC, .ifi_index = (int)index };
		append(&request, &info, sizeof info);
		if (line->operation == SET_MASTER) {
			unsigned int master = if_nametoindex(line->peer);
			if (master == 0) {
				*missing = line->peer;
				return -ENODEV;
			}
			append_attribute(&request, IFLA_MASTER, &master, sizeof master);
		} else if (line->operation == SET_ALIAS) {
			append_attribute(&request, IFLA_IFALIAS, line->alias, strlen(line->alias));
		} else {
			struct rtattr *linkinfo = nest_start(&request, IFLA_LINKINFO);
			append_attribute(&request, IFLA_INFO_SLAVE_KIND, "bridge", strlen("bridge"));
			struct rtattr *data = nest_start(&request, IFLA_INFO_SLAVE_DATA);
			unsigned char on = 1;
			append_attribute(&request, IFLA_BRPORT_MODE, &on, sizeof on);
			nest_end(&request, data);
			nest_end(&request, linkinfo);
		}
		break;
	}
	case ADD_VETH: {
		int netns = open(line->path, O_RDONLY | O_CLOEXEC);
		if (netns < 0)
			return -errno;
		start(&request, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
		struct ifinfomsg info = { .ifi_family = AF_UNSPEC };
		append(&request, &info, sizeof info);
		append_attribute(&request, IFLA_IFNAME, line->name, strlen(line->name) + 1);
		if (line->has_mac)
			append_attribute(&request, IFLA_ADDRESS, line->mac, sizeof line->mac);
		if (line->mtu)
			append_attribute(&request, IFLA_MTU, &line->mtu, sizeof line->mtu);
		struct rtattr *linkinfo = nest_start(&request, IFLA_LINKINFO);
		append_attribute(&request, IFLA_INFO_KIND, "veth", strlen("veth"));
		struct rtattr *data = nest_start(&request, IFLA_INFO_DATA);
		struct rtattr *peer = nest_start(&request, VETH_INFO_PEER);
		struct ifinfomsg peer_info = { .ifi_family = AF_UNSPEC };
		append(&request, &peer_info, sizeof peer_info);
		append_attribute(&request, IFLA_IFNAME, line->peer, strlen(line->peer) + 1);
		if (line->peer_mtu)
			append_attribute(&request, IFLA_MTU, &line->peer_mtu, sizeof line->peer_mtu);
		unsigned int fd = (unsigned int)netns;
		append_attribute(&request, IFLA_NET_NS_FD, &fd, sizeof fd);
		nest_end(&request, peer);
		nest_end(&request, data);
		nest_end(&request, linkinfo);
		int error = send_request(sock, &request);
		error = error != 0 ? error : receive_ack(sock);
		close(netns);
		return error;
	}
	case ADD_ADDRESS: {
		start(&request, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
		struct ifaddrmsg info = {
			.ifa_family = (unsigned char)line->family,
			.ifa_prefixlen = line->prefix,
			.ifa_flags = line->nodad ? IFA_F_NODAD : 0,
			.ifa_index = index,
		};
		append(&request, &info, sizeof info);
		size_t length = line->family == AF_INET ? 4 : 16;
		append_attribute(&request, IFA_LOCAL, line->address, length);
		append_attribute(&request, IFA_ADDRESS, line->address, length);
		break;
	}
	case ADD_DEFAULT_ROUTE: {
		start(&request, RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
		struct rtmsg info = {
			.rtm_family = (unsigned char)line->family,
			.rtm_table = RT_TABLE_MAIN,
			.rtm_protocol = RTPROT_BOOT,
			.rtm_scope = RT_SCOPE_UNIVERSE,
			.rtm_type = RTN_UNICAST,
		};
		append(&request, &info, sizeof info);
		append_attribute(&request, RTA_GATEWAY, line->address, line->family == AF_INET ? 4 : 16);
		append_attribute(&request, RTA_OIF, &index, sizeof index);
		break;
	}
	}
	int error = send_request(sock, &request);
	return error != 0 ? error : receive_ack(sock);
}

int native_batch(const char *input, size_t length, int *handled)
{
	*handled = 0;
	static struct line lines[MAX_LINES];
	int numbers[MAX_LINES]; /* each line's number in the input, as ip counts them */
	int count = 0, number = 0;
	char text[512];
	for (size_t at = 0; at < length;) {
		const char *end = memchr(input + at, '\n', length - at);
		size_t line_length = (end ? (size_t)(end - (input + at)) : length - at);
		number++;
		if (line_length >= sizeof text)
			return 0;
		memcpy(text, input + at, line_length);
		text[line_length] = '\0';
		at += line_length + 1;
		if (strspn(text, " \t") == line_length)
			continue; /* blank: ip skips it too */
		if (count == MAX_LINES || !parse_line(text, &lines[count]))
			return 0;
		numbers[count++] = number;
	}
	*handled = 1;
	int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sock < 0) {
		fprintf(stderr, "Cannot open netlink socket: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < count; i++) {
		const char *missing = NULL;
		int error = perform(sock, &lines[i], &missing);
		if (error == 0)
			continue;
		if (missing)
			fprintf(stderr, "Cannot find device \"%s\"\n", missing);
		else
			fprintf(stderr, "RTNETLINK answers: %s\n", strerror(-error));
		fprintf(stderr, "Command failed -:%d\n", numbers[i]);
		close(sock);
		return 1;
	}
	close(sock);
	return 0;
}

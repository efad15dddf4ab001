/* berth-netns's rtnetlink requests: build one message, send it, read the kernel's answer. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink.h"

void *append(struct request *request, const void *data, size_t length)
{
	char *at = (char *)request + NLMSG_ALIGN(request->header.nlmsg_len);
	memcpy(at, data, length);
	request->header.nlmsg_len = (uint32_t)(NLMSG_ALIGN(request->header.nlmsg_len) + length);
	return at;
}

void append_attribute(struct request *request, unsigned short type, const void *data, size_t length)
{
	struct rtattr attribute = { .rta_len = (unsigned short)RTA_LENGTH(length), .rta_type = type };
	append(request, &attribute, sizeof attribute);
	append(request, data, length);
}

void start(struct request *request, unsigned short type, unsigned short flags)
{
	memset(request, 0, sizeof *request);
	request->header = (struct nlmsghdr){ .nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags };
}

int send_request(int sock, struct request *request)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	return sendto(sock, request, request->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0 ? -errno : 0;
}

char reply[64 * 1024];

/* One datagram of the kernel's answer into reply: its length, or -errno. */
ssize_t receive(int sock)
{
	for (;;) {
		ssize_t length = recv(sock, reply, sizeof reply, 0);
		if (length >= 0 || errno != EINTR)
			return length < 0 ? -errno : length;
	}
}

/* The kernel's answer to one NLM_F_ACK request: 0 or -errno. */
int receive_ack(int sock)
{
	for (;;) {
		ssize_t length = receive(sock);
		if (length < 0)
			return (int)length;
		for (struct nlmsghdr *header = (struct nlmsghdr *)reply; NLMSG_OK(header, (size_t)length); header = NLMSG_NEXT(header, length)) {
			if (header->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(header))->error;
		}
	}
}


/* Opens a nested attribute; close it with nest_end. */
struct rtattr *nest_start(struct request *request, unsigned short type)
{
	struct rtattr attribute = { .rta_len = RTA_LENGTH(0), .rta_type = type };
	return append(request, &attribute, sizeof attribute);
}

void nest_end(struct request *request, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)request + request->header.nlmsg_len - (char *)nest);
}

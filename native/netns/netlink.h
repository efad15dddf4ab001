/* berth-netns's rtnetlink requests (netlink.c). */
#ifndef BERTH_NETNS_NETLINK_H
#define BERTH_NETNS_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <sys/types.h>

struct request {
	struct nlmsghdr header;
	char body[1024];
};

/* The kernel's last answer (receive). */
extern char reply[64 * 1024];

void start(struct request *request, unsigned short type, unsigned short flags);
void *append(struct request *request, const void *data, size_t length);
void append_attribute(struct request *request, unsigned short type, const void *data, size_t length);
struct rtattr *nest_start(struct request *request, unsigned short type);
void nest_end(struct request *request, struct rtattr *nest);
/* 0 or -errno. */
int send_request(int sock, struct request *request);
/* One datagram of the kernel's answer into reply: its length, or -errno. */
ssize_t receive(int sock);
/* The kernel's answer to one NLM_F_ACK request: 0 or -errno. */
int receive_ack(int sock);

/* The batch `ip -batch -` would run, done here with rtnetlink when every line is one of the
 * forms src/network/links.ts writes for a bridge endpoint (batch.c). *handled is false when a
 * line is not, and nothing was done: run ip instead. Otherwise ip's exit status, with ip's
 * messages (`Command failed -:N` naming the failed line). */
int native_batch(const char *input, size_t length, int *handled);

#endif

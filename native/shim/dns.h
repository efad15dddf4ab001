/* The container's embedded DNS server (Docker's 127.0.0.11 resolver), run by the monitor
 * when shim.json has "dns": { "config": "<run>/containers/<id>/dns.json" }.
 *
 * Its UDP and TCP listening sockets are made once, at shim start, inside the container's
 * network namespace (config.json's network namespace path: setns there, socket + bind,
 * setns back; sockets keep the namespace they were made in), so they live exactly as long
 * as the shim and survive container restarts. Everything else happens in the shim's own
 * (host) network namespace: upstream sockets are opened there, so a host stub resolver
 * on 127.0.0.53 keeps working.
 *
 * A and AAAA queries for names in the tables (and PTR queries for their addresses) are
 * answered from the tables; every other query is forwarded to the upstreams in order,
 * each with its own connected UDP socket and a 2 s timeout, without ever blocking the
 * monitor's poll loop. dns.json and the tables are re-read when their inode, size or
 * mtime changes, checked at most once per poll round that has a query to answer.
 * No threads, no libc resolver: static buffers, one malloc'd copy of each table (and an
 * mmap for an upstream's TCP answer while it is read).
 * Problems are written as lines to <runDir>/dns.log. See PROTOCOL.md "Embedded DNS". */
#ifndef BERTH_DNS_H
#define BERTH_DNS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_FORWARD_MAX 32    /* queries being forwarded at once */
#define DNS_TCP_CLIENT_MAX 16 /* TCP connections at once */
#define DNS_POLL_MAX (2 + DNS_FORWARD_MAX + DNS_TCP_CLIENT_MAX)

/* Read dns.json and open the listening sockets in the network namespace at netns_path
 * (NULL: log that there is none). config_path is kept, not copied: it must live as long
 * as the server (the shim's configuration does). Never fatal for the container: returns
 * -1 and logs to <run_dir>/dns.log when nothing could be set up, 0 when serving. */
int dns_start(const char *config_path, const char *netns_path, const char *run_dir);
/* Whether dns_start set up at least one listening socket. */
bool dns_active(void);
/* Fill fds[0..DNS_POLL_MAX) (unused entries have fd -1); returns DNS_POLL_MAX. */
size_t dns_poll_fds(struct pollfd *fds);
/* After poll: serve what fds (as filled by dns_poll_fds) report, and expire deadlines. */
void dns_process(const struct pollfd *fds, size_t count, int64_t now_ms);
/* Earliest monotonic deadline (ms) the monitor must wake up for, or 0. */
int64_t dns_next_deadline(void);
/* True (once) when the server has been idle for DNS_IDLE_TRIM_MS after serving: the monitor
 * then calls trim_memory() again, giving back the shared library pages that serving faulted
 * back in (the kernel maps up to 16 of them around each fault), as it does after a restart. */
#define DNS_IDLE_TRIM_MS 10000
bool dns_trim_due(int64_t now_ms);
/* Close every socket and free the tables (idempotent). */
void dns_stop(void);

#endif

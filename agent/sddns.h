/*
 * dns_sd_configs: one refresh of a job's DNS names on the loop with c-ares (its sockets and its
 * timeout watched by libevent: nothing blocks), answered as the SD cache's file_sd text: one
 * group per record with __address__ (the SRV record's target:port, the A/AAAA address or the MX
 * record's host with the configured port) and Prometheus' labels __meta_dns_name,
 * __meta_dns_srv_record_target (with its final dot, as Prometheus 2.42 shows it: checked against
 * it), __meta_dns_srv_record_port and __meta_dns_mx_record_target. Records are sorted, so that
 * a server that rotates its answers does not look like a change.
 *
 * A name that does not exist or has no record of the type contributes no target (as in
 * Prometheus); any other failure (timeout, SERVFAIL, refused) fails the whole refresh, so that
 * the last good list stays (Prometheus would drop that name's targets).
 *
 * The servers are those of /etc/resolv.conf (c-ares reads it, with its search list). Tests point
 * c-ares elsewhere with the environment variable POLLSTER_TEST_DNS_SERVER ("127.0.0.1:PORT"),
 * which nothing else reads.
 */
#ifndef POLLSTER_SDDNS_H
#define POLLSTER_SDDNS_H

#include <stddef.h>

#include "config.h"

struct event_base;
struct sddns;

/* As sdhttp_done_fn: @text is the list, or NULL with @error. Called from the loop. */
typedef void sddns_done_fn(void *arg, const char *text, size_t len, const char *error);

/* A resolver for @sd (copied) of job @job. NULL with @err set on failure. */
struct sddns *sddns_new(struct event_base *base, const struct config_sd *sd, const char *job,
                        sddns_done_fn *done, void *arg, char *err, size_t errlen);
/* Starts a refresh: queries every name. 0, or -EBUSY while one runs. */
int sddns_start(struct sddns *d);
/* Cancels a refresh in flight (done is not called) and frees @d. Accepts NULL. */
void sddns_free(struct sddns *d);

#endif

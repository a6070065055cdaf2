/*
 * The tcp job kind (tcp_probes): blackbox_exporter's tcp prober without query_response. Each run
 * connects to host:port through libcurl's connect-only mode on the loop (and with tls: true
 * completes a TLS handshake) and reports probe_success, probe_duration_seconds,
 * probe_dns_lookup_time_seconds, probe_ip_protocol, probe_ip_addr_hash,
 * probe_failed_due_to_regex (always 0: no query_response) and, after a handshake,
 * probe_tls_version_info, probe_ssl_earliest_cert_expiry,
 * probe_ssl_last_chain_expiry_timestamp_seconds and probe_ssl_last_chain_info. A failure has
 * the usual reason (dns, connect, tls, timeout) and error text.
 */
#ifndef POLLSTER_PROBE_TCP_H
#define POLLSTER_PROBE_TCP_H

#include <stdbool.h>

#include "job.h"
#include "kinds.h"
#include "probe_conn.h"

struct probe_tcp_opts {
    enum probe_conn_ip preferred_ip; /* default ip6, as blackbox_exporter's */
    bool no_ip_fallback;             /* ip_protocol_fallback: false */
};

/* A tcp probe job's own settings: config_job.opts of a tcp job. */
struct probe_tcp_conf {
    bool tls;                                 /* handshake after connecting */
    enum probe_conn_ip preferred_ip_protocol; /* default ip6 */
    bool ip_protocol_fallback;                /* default true */
};

extern const struct job_kind probe_tcp;

/* The tcp kind's row in the kinds registry (tcp_probes). */
extern const struct kind probe_tcp_kind;

/* Per-target state (freed by probe_tcp.free); NULL when out of memory (@err says so). */
void *probe_tcp_new(const struct probe_tcp_opts *opts, char *err, size_t errlen);

/*
 * The URL a tcp target is connected through: "http://HOSTPORT/" ("https://" with @tls), with an
 * IPv6 address in brackets as given. Checks @hostport is host:port with a port in 1..65535;
 * NULL with why in @why (a constant string), else the URL (caller frees).
 */
char *probe_tcp_url_dup(const char *hostport, bool tls, const char **why);

#endif

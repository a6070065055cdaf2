/*
 * The probe job kind: a blackbox-style HTTP check (blackbox_exporter's http prober). For each
 * run it reports, under blackbox_exporter 0.23's metric names so existing dashboards work:
 * probe_success, probe_duration_seconds, probe_dns_lookup_time_seconds, probe_ip_protocol,
 * probe_ip_addr_hash, probe_http_status_code, probe_http_duration_seconds{phase},
 * probe_http_content_length, probe_http_uncompressed_body_length, probe_http_redirects,
 * probe_http_ssl, probe_http_version, probe_http_last_modified_timestamp_seconds (when the
 * response has Last-Modified), probe_failed_due_to_regex, and after a TLS handshake
 * probe_tls_version_info, probe_ssl_earliest_cert_expiry,
 * probe_ssl_last_chain_expiry_timestamp_seconds and probe_ssl_last_chain_info.
 */
#ifndef POLLSTER_JOB_PROBE_H
#define POLLSTER_JOB_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "job.h"
#include "kinds.h"
#include "probe_conn.h"

#define JOB_PROBE_MAX_CODES 32

/* fail_if_header_matches / fail_if_header_not_matches: one rule. */
struct job_probe_header_match {
    char *header; /* the response header's name */
    char *regexp; /* POSIX ERE, unanchored (checked at load) */
    bool allow_missing;
};

struct probe_opts {
    int valid_status_codes[JOB_PROBE_MAX_CODES]; /* empty = any 2xx */
    size_t n_valid_status_codes;
    const char *const *fail_if_body_matches; /* borrowed: POSIX ERE, NULL-terminated or NULL */
    const char *const *fail_if_body_not_matches;
    const char *const *valid_http_versions; /* borrowed: "HTTP/1.1", ...; NULL: any */
    size_t n_valid_http_versions;
    const char *method; /* borrowed: NULL = GET; HEAD is the client's (httpc_opts.head) */
    const char *body;   /* borrowed: request body, or NULL */
    bool fail_if_ssl, fail_if_not_ssl;
    const struct job_probe_header_match *header_matches; /* borrowed */
    size_t n_header_matches;
    const struct job_probe_header_match *header_not_matches; /* borrowed */
    size_t n_header_not_matches;
    enum probe_conn_ip preferred_ip; /* default ip6, as blackbox_exporter's */
    bool no_ip_fallback;             /* ip_protocol_fallback: false */
};

extern const struct job_kind job_probe;

/* The probe kind's row in the kinds registry (probes). */
extern const struct kind job_probe_kind;

enum job_probe_method {
    JOB_PROBE_METHOD_GET = 0,
    JOB_PROBE_METHOD_HEAD,
    JOB_PROBE_METHOD_POST,
    JOB_PROBE_METHOD_PUT,
    JOB_PROBE_METHOD_PATCH,
    JOB_PROBE_METHOD_DELETE,
    JOB_PROBE_METHOD_OPTIONS,
};

/* A probe job's own settings: config_job.opts of a probe job. */
struct job_probe_conf {
    int *valid_status_codes; /* 100..599; empty = any 2xx */
    size_t nvalid_status_codes;
    char **fail_if_body_matches; /* POSIX ERE (checked to compile), unanchored */
    size_t nfail_if_body_matches;
    char **fail_if_body_not_matches;
    size_t nfail_if_body_not_matches;
    enum job_probe_method method; /* default GET */
    char **valid_http_versions;   /* "HTTP/1.0", "HTTP/1.1", "HTTP/2.0"; empty = any */
    size_t nvalid_http_versions;
    char *body; /* request body, or NULL */
    bool fail_if_ssl;
    bool fail_if_not_ssl;
    struct job_probe_header_match *fail_if_header_matches;
    size_t nfail_if_header_matches;
    struct job_probe_header_match *fail_if_header_not_matches;
    size_t nfail_if_header_not_matches;
    enum probe_conn_ip preferred_ip_protocol; /* default ip6 */
    bool ip_protocol_fallback;                /* default true */
};

/*
 * Creates the per-target state: copies the codes and compiles the regexes. NULL on failure,
 * with a message naming the bad regex in @err.
 */
void *job_probe_new(const struct probe_opts *opts, char *err, size_t errlen);

/* The method's name: "GET", "POST", ... */
const char *job_probe_method_name(enum job_probe_method m);

#endif

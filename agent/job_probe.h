/*
 * The probe job kind: a blackbox-style HTTP check. For each run it reports, under
 * blackbox_exporter's metric names so existing dashboards work: probe_success,
 * probe_duration_seconds, probe_http_status_code, probe_http_duration_seconds{phase},
 * probe_http_content_length, probe_http_uncompressed_body_length, probe_http_redirects,
 * probe_http_ssl, probe_http_version, probe_ssl_earliest_cert_expiry (https) and
 * probe_failed_due_to_regex (when body regexes are set).
 */
#ifndef POLLSTER_JOB_PROBE_H
#define POLLSTER_JOB_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "job.h"
#include "kinds.h"

#define JOB_PROBE_MAX_CODES 32

struct probe_opts {
    int valid_status_codes[JOB_PROBE_MAX_CODES]; /* empty = any 2xx */
    size_t n_valid_status_codes;
    const char *const *fail_if_body_matches; /* borrowed: POSIX ERE, NULL-terminated or NULL */
    const char *const *fail_if_body_not_matches;
};

extern const struct job_kind job_probe;

/* The probe kind's row in the kinds registry (probes). */
extern const struct kind job_probe_kind;

enum job_probe_method { JOB_PROBE_METHOD_GET = 0, JOB_PROBE_METHOD_HEAD };

/* A probe job's own settings: config_job.opts of a probe job. */
struct job_probe_conf {
    int *valid_status_codes; /* 100..599; empty = any 2xx */
    size_t nvalid_status_codes;
    char **fail_if_body_matches; /* POSIX ERE (checked to compile), unanchored */
    size_t nfail_if_body_matches;
    char **fail_if_body_not_matches;
    size_t nfail_if_body_not_matches;
    enum job_probe_method method; /* default GET */
};

/*
 * Creates the per-target state: copies the codes and compiles the regexes. NULL on failure,
 * with a message naming the bad regex in @err.
 */
void *job_probe_new(const struct probe_opts *opts, char *err, size_t errlen);

/* Parses a certificate date as libcurl's CURLINFO_CERTINFO prints it
 * ("Jan  1 00:00:00 2030 GMT"). 0 and seconds since the epoch, or -EINVAL. */
int job_probe_parse_cert_time(const char *s, int64_t *out);

#endif

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

#include "job.h"

#define JOB_PROBE_MAX_CODES 32

struct probe_opts {
    int valid_status_codes[JOB_PROBE_MAX_CODES]; /* empty = any 2xx */
    size_t n_valid_status_codes;
    const char *const *fail_if_body_matches; /* borrowed: POSIX ERE, NULL-terminated or NULL */
    const char *const *fail_if_body_not_matches;
};

extern const struct job_kind job_probe;

/*
 * Creates the per-target state: copies the codes and compiles the regexes. NULL on failure,
 * with a message naming the bad regex in @err.
 */
void *job_probe_new(const struct probe_opts *opts, char *err, size_t errlen);

/* Parses a certificate date as libcurl's CURLINFO_CERTINFO prints it
 * ("Jan  1 00:00:00 2030 GMT"). 0 and seconds since the epoch, or -EINVAL. */
int job_probe_parse_cert_time(const char *s, int64_t *out);

#endif

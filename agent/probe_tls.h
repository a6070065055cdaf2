/*
 * What a probe learns from its TLS handshake, as blackbox_exporter reports it: the negotiated
 * version (probe_tls_version_info{version="TLS 1.3"}), the earliest notAfter over the
 * certificates the peer sent (probe_ssl_earliest_cert_expiry) and the earliest notAfter over the
 * chain the client verified (probe_ssl_last_chain_expiry_timestamp_seconds; Go's zero time,
 * -62135596800, when the peer was not verified, as blackbox_exporter prints it then). Read from
 * OpenSSL through libcurl's CURLOPT_SSL_CTX_FUNCTION: an info callback on the connection's
 * context records the handshake when it completes, before the connection goes away.
 */
#ifndef POLLSTER_PROBE_TLS_H
#define POLLSTER_PROBE_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "sample.h"

/* Go's time.Time{}.Unix(): what blackbox_exporter reports for a chain it did not verify. */
#define PROBE_TLS_ZERO_TIME (-62135596800LL)

struct probe_tls {
    bool done;               /* a handshake completed during this run */
    const char *version;     /* static: "TLS 1.2", "TLS 1.3" (Go's spelling) */
    bool has_expiry;         /* the peer sent at least one certificate */
    int64_t earliest_expiry; /* unix seconds */
    int64_t last_chain_expiry;
};

/*
 * Resets @t and asks libcurl to report the handshake of @easy's next connection into it (@t must
 * live until the transfer is done), with TLS session resumption off: each run a full handshake. 0,
 * or -ENOTSUP when libcurl's TLS backend is not OpenSSL (then nothing is recorded and the TLS
 * metrics are left out).
 */
int probe_tls_prepare(struct probe_tls *t, CURL *easy);

/*
 * Adds probe_tls_version_info, probe_ssl_earliest_cert_expiry and
 * probe_ssl_last_chain_expiry_timestamp_seconds to @b when a handshake completed.
 */
void probe_tls_add(const struct probe_tls *t, struct batch *b);

/* Go's name of the TLS version @v (TLS1_2_VERSION, ...): "TLS 1.2"; NULL for others. */
const char *probe_tls_version_name(int v);

#endif

/*
 * What a probe learns from its TLS handshake, as blackbox_exporter reports it: the negotiated
 * version (probe_tls_version_info{version="TLS 1.3"}), the earliest notAfter over the
 * certificates the peer sent (probe_ssl_earliest_cert_expiry) and the earliest notAfter over the
 * chain the client verified (probe_ssl_last_chain_expiry_timestamp_seconds; Go's zero time,
 * -62135596800, when the peer was not verified, as blackbox_exporter prints it then) and the
 * leaf certificate's identity (probe_ssl_last_chain_info{fingerprint_sha256, issuer, subject,
 * subjectalternative}: names in RFC 2253 form, the DNS names comma-separated). Read from
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
    bool has_leaf;                /* the leaf's identity below is set */
    char fingerprint[65];         /* SHA-256 of its DER, lower-case hex */
    char subject[256];            /* RFC 2253 ("CN=example.org,O=Example") */
    char issuer[256];             /* the same */
    char subjectalternative[512]; /* its DNS names, comma-separated */
};

/*
 * Resets @t and asks libcurl to report the handshake of @easy's next connection into it (@t must
 * live until the transfer is done), with TLS session resumption off: each run a full handshake. 0,
 * or -ENOTSUP when libcurl's TLS backend is not OpenSSL (then nothing is recorded and the TLS
 * metrics are left out).
 */
int probe_tls_prepare(struct probe_tls *t, CURL *easy);

/*
 * Adds probe_tls_version_info, probe_ssl_earliest_cert_expiry,
 * probe_ssl_last_chain_expiry_timestamp_seconds and probe_ssl_last_chain_info to @b when a
 * handshake completed (label values copied into the batch).
 */
void probe_tls_add(const struct probe_tls *t, struct batch *b);

/* Go's name of the TLS version @v (TLS1_2_VERSION, ...): "TLS 1.2"; NULL for others. */
const char *probe_tls_version_name(int v);

#endif

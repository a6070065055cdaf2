/*
 * probe_tls: the handshake facts of a probe's connection (see probe_tls.h), through an OpenSSL
 * info callback installed on the SSL_CTX libcurl builds for each connection.
 */
#include "build-config.h"

#include "probe_tls.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

const char *
probe_tls_version_name(int v)
{
    switch (v) {
    case TLS1_VERSION:
        return "TLS 1.0";
    case TLS1_1_VERSION:
        return "TLS 1.1";
    case TLS1_2_VERSION:
        return "TLS 1.2";
    case TLS1_3_VERSION:
        return "TLS 1.3";
    default:
        return NULL;
    }
}

static bool
not_after(X509 *c, int64_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (c == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm) != 1) {
        return false;
    }
    *out = (int64_t)timegm(&tm);
    return true;
}

/* The earliest notAfter in @chain, or false when it holds no readable certificate. */
static bool
chain_earliest(STACK_OF(X509) * chain, int64_t *out)
{
    bool any = false;

    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        int64_t t;
        if (not_after(sk_X509_value(chain, i), &t) && (!any || t < *out)) {
            *out = t;
            any = true;
        }
    }
    return any;
}

static void
probe_tls_info_cb(const SSL *ssl, int where, int ret)
{
    struct probe_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const char *v;

    if (t == NULL || !(where & SSL_CB_HANDSHAKE_DONE)) {
        return;
    }
    t->done = true;
    v = probe_tls_version_name(SSL_version(ssl));
    t->version = v != NULL ? v : SSL_get_version(ssl); /* both static strings */
    t->has_expiry = chain_earliest(SSL_get_peer_cert_chain(ssl), &t->earliest_expiry);
    t->last_chain_expiry = PROBE_TLS_ZERO_TIME;
    if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) && SSL_get_verify_result(ssl) == X509_V_OK) {
        int64_t e;
        if (chain_earliest(SSL_get0_verified_chain(ssl), &e)) {
            t->last_chain_expiry = e;
        }
    }
}

static CURLcode
probe_tls_ctx_cb(CURL *easy, void *ctx, void *arg)
{
    SSL_CTX_set_app_data((SSL_CTX *)ctx, arg);
    SSL_CTX_set_info_callback((SSL_CTX *)ctx, probe_tls_info_cb);
    return CURLE_OK;
}

int
probe_tls_prepare(struct probe_tls *t, CURL *easy)
{
    memset(t, 0, sizeof(*t));
    /* A full handshake every run, as blackbox_exporter does: a resumed session times less and
     * carries no certificates. */
    curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    if (curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, probe_tls_ctx_cb) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, t) != CURLE_OK) {
        return -ENOTSUP;
    }
    return 0;
}

void
probe_tls_add(const struct probe_tls *t, struct batch *b)
{
    if (!t->done) {
        return;
    }
    batch_add(b, "probe_tls_version_info", SAMPLE_GAUGE, 1, 1, "version", t->version);
    if (t->has_expiry) {
        batch_add(b, "probe_ssl_earliest_cert_expiry", SAMPLE_GAUGE, (double)t->earliest_expiry, 0);
    }
    batch_add(b, "probe_ssl_last_chain_expiry_timestamp_seconds", SAMPLE_GAUGE,
              (double)t->last_chain_expiry, 0);
}

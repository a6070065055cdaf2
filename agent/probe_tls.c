/*
 * probe_tls: the handshake facts of a probe's connection (see probe_tls.h), through an OpenSSL
 * info callback installed on the SSL_CTX libcurl builds for each connection.
 */
#include "build-config.h"

#include "probe_tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/* @name in RFC 2253 form (Go's pkix.Name.String() for the usual names) into @out. */
static void
name_rfc2253(const X509_NAME *name, char *out, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = 0;

    out[0] = '\0';
    if (bio == NULL) {
        return;
    }
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_read(bio, out, (int)len - 1);
    }
    out[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
}

/* The DNS names of @c's subjectAltName, comma-separated (Go's cert.DNSNames joined). */
static void
dns_names(X509 *c, char *out, size_t len)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;

    out[0] = '\0';
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS) {
            int w = snprintf(out + o, len - o, "%s%.*s", o > 0 ? "," : "",
                             ASN1_STRING_length(g->d.dNSName),
                             (const char *)ASN1_STRING_get0_data(g->d.dNSName));
            if (w < 0 || (size_t)w >= len - o) {
                break; /* longer than the buffer: the names that fit */
            }
            o += (size_t)w;
        }
    }
    GENERAL_NAMES_free(names);
}

/* The leaf certificate's identity (probe_ssl_last_chain_info). */
static void
leaf_identity(struct probe_tls *t, X509 *c)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    t->has_leaf = false;
    if (c == NULL || X509_digest(c, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
        return;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        snprintf(t->fingerprint + 2 * i, 3, "%02x", md[i]);
    }
    name_rfc2253(X509_get_subject_name(c), t->subject, sizeof(t->subject));
    name_rfc2253(X509_get_issuer_name(c), t->issuer, sizeof(t->issuer));
    dns_names(c, t->subjectalternative, sizeof(t->subjectalternative));
    t->has_leaf = true;
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
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    leaf_identity(t, leaf);
    X509_free(leaf);
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
    if (t->has_leaf) {
        /* Copies: the next run rewrites @t while an output may still hold this batch. */
        const char *fp = arena_strdup(&b->arena, t->fingerprint);
        const char *issuer = arena_strdup(&b->arena, t->issuer);
        const char *subject = arena_strdup(&b->arena, t->subject);
        const char *san = arena_strdup(&b->arena, t->subjectalternative);
        if (fp != NULL && issuer != NULL && subject != NULL && san != NULL) {
            batch_add(b, "probe_ssl_last_chain_info", SAMPLE_GAUGE, 1, 4, "fingerprint_sha256", fp,
                      "issuer", issuer, "subject", subject, "subjectalternative", san);
        }
    }
}

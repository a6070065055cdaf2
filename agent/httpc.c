/*
 * The HTTP client setup every transfer shares. Scrapes and the http output build their easy
 * handles with httpc_apply(), so auth, TLS, headers, redirects and protocols behave the same
 * for a target and for a sink, and every URL anyone sees goes through httpc_redact_url_dup().
 */
#include "build-config.h"

#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strbuf.h"

const char HTTPC_USER_AGENT[] = "pollster/" PACKAGE_VERSION;

CURLcode
httpc_apply(CURL *e, const struct httpc_opts *h, struct curl_slist **headers,
            struct curl_slist **proxy_headers)
{
    CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, h->follow_redirects ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, (long)HTTPC_MAX_REDIRECTS);
    /*
     * Never hand credentials to the host a redirect names: with this 0, libcurl (7.58 and
     * later; host and port since 7.83) sends neither basic auth nor a custom Authorization or
     * Cookie header after a redirect to another host or port.
     */
    SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
    SET(CURLOPT_USERAGENT, HTTPC_USER_AGENT);
    if (h->insecure_skip_verify) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (h->username != NULL || h->password != NULL) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, h->username != NULL ? h->username : "");
        SET(CURLOPT_PASSWORD, h->password != NULL ? h->password : "");
    }
    if (h->ca_file != NULL) {
        SET(CURLOPT_CAINFO, h->ca_file);
    }
    if (h->cert_file != NULL) {
        SET(CURLOPT_SSLCERT, h->cert_file);
    }
    if (h->key_file != NULL) {
        SET(CURLOPT_SSLKEY, h->key_file);
    }
    /* Inline PEM: curl copies the blobs (CURL_BLOB_COPY), so @h may go away afterwards. */
    if (h->ca != NULL) {
        struct curl_blob b = {.data = h->ca, .len = strlen(h->ca), .flags = CURL_BLOB_COPY};
        SET(CURLOPT_CAINFO_BLOB, &b);
    }
    if (h->cert != NULL) {
        struct curl_blob b = {.data = h->cert, .len = strlen(h->cert), .flags = CURL_BLOB_COPY};
        SET(CURLOPT_SSLCERT_BLOB, &b);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (h->key != NULL) {
        struct curl_blob b = {.data = h->key, .len = strlen(h->key), .flags = CURL_BLOB_COPY};
        SET(CURLOPT_SSLKEY_BLOB, &b);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (h->tls_min != 0 || h->tls_max != 0) {
        SET(CURLOPT_SSLVERSION, (h->tls_min != 0 ? h->tls_min : CURL_SSLVERSION_DEFAULT) |
                                    (h->tls_max != 0 ? h->tls_max : CURL_SSLVERSION_MAX_DEFAULT));
    }
    /*
     * libcurl's default (7.62 and later, built with HTTP/2) is Prometheus' Go client's: HTTP/2
     * over TLS when ALPN offers it, never h2c. enable_http2: false means HTTP/1.1 only.
     */
    if (h->http1_only) {
        SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    /*
     * Prometheus uses no proxy unless told to; libcurl would read http_proxy and friends from
     * the environment on its own, so "" turns that off unless proxy_from_environment asked.
     */
    if (h->proxy != NULL) {
        SET(CURLOPT_PROXY, h->proxy);
        SET(CURLOPT_NOPROXY, h->noproxy);
    }
    else if (!h->proxy_from_env) {
        SET(CURLOPT_PROXY, "");
    }
    if (h->nproxy_headers > 0 && rc == CURLE_OK) {
        struct curl_slist *ph = NULL;
        for (size_t i = 0; i < h->nproxy_headers && rc == CURLE_OK; i++) {
            struct curl_slist *n = curl_slist_append(ph, h->proxy_headers[i]);
            if (n == NULL) {
                rc = CURLE_OUT_OF_MEMORY;
            }
            ph = n != NULL ? n : ph;
        }
        /* The proxy's lines go to the proxy only, the request's to the server only. */
        SET(CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
        SET(CURLOPT_PROXYHEADER, ph);
        if (rc == CURLE_OK) {
            curl_slist_free_all(*proxy_headers);
            *proxy_headers = ph;
        }
        else {
            curl_slist_free_all(ph);
        }
    }
    for (size_t i = 0; i < h->nheaders && rc == CURLE_OK; i++) {
        struct curl_slist *n = curl_slist_append(*headers, h->headers[i]);
        if (n == NULL) {
            rc = CURLE_OUT_OF_MEMORY;
        }
        *headers = n != NULL ? n : *headers;
    }
    if (*headers != NULL) {
        SET(CURLOPT_HTTPHEADER, *headers);
    }
#undef SET
    return rc;
}

static char *
dup_opt(const char *src, bool *oom)
{
    char *d;

    if (src == NULL) {
        return NULL;
    }
    d = strdup(src);
    if (d == NULL) {
        *oom = true;
    }
    return d;
}

static char **
dup_lines(char **src, size_t n, size_t *dn, bool *oom)
{
    char **d;

    *dn = 0;
    if (n == 0) {
        return NULL;
    }
    d = calloc(n, sizeof(*d));
    if (d == NULL) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        d[i] = dup_opt(src[i], oom);
        (*dn)++;
    }
    return d;
}

static void
free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int
httpc_opts_copy(struct httpc_opts *dst, const struct httpc_opts *src)
{
    bool oom = false;

    memset(dst, 0, sizeof(*dst));
    dst->insecure_skip_verify = src->insecure_skip_verify;
    dst->follow_redirects = src->follow_redirects;
    dst->head = src->head;
    dst->no_compression = src->no_compression;
    dst->http1_only = src->http1_only;
    dst->proxy_from_env = src->proxy_from_env;
    dst->tls_min = src->tls_min;
    dst->tls_max = src->tls_max;
    dst->username = dup_opt(src->username, &oom);
    dst->password = dup_opt(src->password, &oom);
    dst->ca_file = dup_opt(src->ca_file, &oom);
    dst->cert_file = dup_opt(src->cert_file, &oom);
    dst->key_file = dup_opt(src->key_file, &oom);
    dst->ca = dup_opt(src->ca, &oom);
    dst->cert = dup_opt(src->cert, &oom);
    dst->key = dup_opt(src->key, &oom);
    dst->proxy = dup_opt(src->proxy, &oom);
    dst->noproxy = dup_opt(src->noproxy, &oom);
    dst->headers = dup_lines(src->headers, src->nheaders, &dst->nheaders, &oom);
    dst->proxy_headers =
        dup_lines(src->proxy_headers, src->nproxy_headers, &dst->nproxy_headers, &oom);
    if (src->oauth2 != NULL) {
        dst->oauth2 = calloc(1, sizeof(*dst->oauth2));
        if (dst->oauth2 == NULL ||
            httpc_opts_copy(&dst->oauth2->client, &src->oauth2->client) != 0) {
            oom = true;
        }
        else {
            dst->oauth2->token_url = dup_opt(src->oauth2->token_url, &oom);
            dst->oauth2->form = dup_opt(src->oauth2->form, &oom);
            dst->oauth2->form_params = dup_opt(src->oauth2->form_params, &oom);
        }
    }
    if (oom) {
        httpc_opts_release(dst);
        return -ENOMEM;
    }
    return 0;
}

void
httpc_opts_release(struct httpc_opts *h)
{
    free(h->username);
    free(h->password);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    free(h->ca);
    free(h->cert);
    free(h->key);
    free(h->proxy);
    free(h->noproxy);
    free_lines(h->headers, h->nheaders);
    free_lines(h->proxy_headers, h->nproxy_headers);
    if (h->oauth2 != NULL) {
        httpc_opts_release(&h->oauth2->client);
        free(h->oauth2->token_url);
        free(h->oauth2->form);
        free(h->oauth2->form_params);
        free(h->oauth2);
    }
    memset(h, 0, sizeof(*h));
}

void
httpc_identity(struct strbuf *sb, const struct httpc_opts *h)
{
    const char *const s[] = {h->username, h->password, h->ca_file, h->cert_file, h->key_file,
                             h->ca,       h->cert,     h->key,     h->proxy,     h->noproxy};

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        strbuf_printf(sb, "%c%s\x1f", s[i] != NULL ? 's' : '-', s[i] != NULL ? s[i] : "");
    }
    strbuf_printf(sb, "%ld|%ld|%d%d%d%d%d%d\x1f", h->tls_min, h->tls_max, h->insecure_skip_verify,
                  h->follow_redirects, h->head, h->no_compression, h->http1_only,
                  h->proxy_from_env);
    for (size_t i = 0; i < h->nheaders; i++) {
        strbuf_printf(sb, "H%s\x1f", h->headers[i]);
    }
    for (size_t i = 0; i < h->nproxy_headers; i++) {
        strbuf_printf(sb, "P%s\x1f", h->proxy_headers[i]);
    }
    if (h->oauth2 != NULL) {
        strbuf_printf(sb, "O%s\x1f%s\x1f%s\x1f", h->oauth2->token_url, h->oauth2->form,
                      h->oauth2->form_params);
        httpc_identity(sb, &h->oauth2->client);
    }
}

bool
httpc_form_escape(struct strbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            strbuf_putc(out, (char)*p);
        }
        else if (*p == ' ') {
            strbuf_putc(out, '+');
        }
        else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_append(out, e, 3);
        }
    }
    return !out->oom;
}

/* The length of "scheme://" at the start of @s (RFC 3986 scheme syntax), or of "//"; else 0. */
static size_t
authority_start(const char *s)
{
    size_t i = 0;

    if (strncmp(s, "//", 2) == 0) {
        return 2;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    i = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

char *
httpc_redact_url_dup(const char *url)
{
    /*
     * A string operation, not curl's parser: the URLs that most need redacting are the ones
     * curl rejects (a typo in the port, no scheme), and their error messages echo them.
     * Everything up to the last '@' of the authority goes, which also covers a password with
     * an unencoded '@' in it.
     */
    size_t start = authority_start(url);
    size_t end = start + strcspn(url + start, "/?#");
    const char *at = NULL;
    char *out;

    for (const char *p = url + start; p < url + end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at == NULL) {
        return strdup(url);
    }
    size_t tail = strlen(at + 1);
    out = malloc(start + tail + 1);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, url, start);
    memcpy(out + start, at + 1, tail + 1);
    return out;
}

/* @url's host as curl parses it ("[::1]" for IPv6), curl_free()d by the caller; NULL if none. */
static char *
url_host(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;

    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        host = NULL;
    }
    curl_url_cleanup(u);
    return host;
}

bool
httpc_url_is_loopback(const char *url)
{
    char *host = url_host(url);
    struct in_addr a4;
    bool yes =
        host != NULL && (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
                         (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127));

    curl_free(host);
    return yes;
}

bool
httpc_url_host_is_ip(const char *url)
{
    char *host = url_host(url);
    struct in_addr a4;
    bool yes = host != NULL && (host[0] == '[' || inet_pton(AF_INET, host, &a4) == 1);

    curl_free(host);
    return yes;
}

int
httpc_check_curl(void)
{
    curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    if (!(v->features & CURL_VERSION_ASYNCHDNS)) {
        log_err("httpc: libcurl %s has no asynchronous resolver: one slow DNS server would "
                "block every target",
                v->version);
        return -ENOTSUP;
    }
    return 0;
}

bool
httpc_easy_worn(CURL *e, CURLcode rc)
{
    long connects = 0;

    return rc != CURLE_OK || curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK ||
           connects > 0;
}

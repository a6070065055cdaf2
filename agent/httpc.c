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

const char HTTPC_USER_AGENT[] = "pollster/" PACKAGE_VERSION;

CURLcode
httpc_apply(CURL *e, const struct httpc_opts *h, struct curl_slist **headers)
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

int
httpc_opts_copy(struct httpc_opts *dst, const struct httpc_opts *src)
{
    bool oom = false;

    memset(dst, 0, sizeof(*dst));
    dst->insecure_skip_verify = src->insecure_skip_verify;
    dst->follow_redirects = src->follow_redirects;
    dst->head = src->head;
    dst->no_compression = src->no_compression;
    dst->username = dup_opt(src->username, &oom);
    dst->password = dup_opt(src->password, &oom);
    dst->ca_file = dup_opt(src->ca_file, &oom);
    dst->cert_file = dup_opt(src->cert_file, &oom);
    dst->key_file = dup_opt(src->key_file, &oom);
    if (src->nheaders > 0) {
        dst->headers = calloc(src->nheaders, sizeof(*dst->headers));
        oom = oom || dst->headers == NULL;
        for (size_t i = 0; dst->headers != NULL && i < src->nheaders; i++) {
            dst->headers[i] = dup_opt(src->headers[i], &oom);
            dst->nheaders++;
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
    for (size_t i = 0; i < h->nheaders; i++) {
        free(h->headers[i]);
    }
    free(h->headers);
    memset(h, 0, sizeof(*h));
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

bool
httpc_url_is_loopback(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool yes = false;

    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        struct in_addr a4;
        yes = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
              (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
    }
    curl_free(host);
    curl_url_cleanup(u);
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

/*
 * The one HTTP client setup shared by the job kinds' transfers (scrape.c) and the http output:
 * the client settings of a target or sink (auth, TLS, headers, redirects) and how they are
 * applied to a curl easy handle, the User-Agent, the start-up check of libcurl's features, and
 * the one URL redactor every log line, error message and output uses.
 */
#ifndef POLLSTER_HTTPC_H
#define POLLSTER_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

struct httpc_oauth2;
struct strbuf;

/* The HTTP client settings of a target or sink: strings may be NULL (= unset). */
struct httpc_opts {
    char *username; /* basic auth, with password */
    char *password; /* secret: never logged */
    char *ca_file;
    char *cert_file;
    char *key_file;
    char *ca;                  /* inline PEM (CURLOPT_CAINFO_BLOB) */
    char *cert;                /* inline PEM (CURLOPT_SSLCERT_BLOB) */
    char *key;                 /* secret: inline PEM (CURLOPT_SSLKEY_BLOB) */
    long tls_min;              /* CURL_SSLVERSION_TLSv1_x, or 0 (libcurl's default) */
    long tls_max;              /* CURL_SSLVERSION_MAX_TLSv1_x, or 0 (no upper bound) */
    bool insecure_skip_verify; /* TLS: do not verify the peer */
    bool follow_redirects;     /* follow up to HTTPC_MAX_REDIRECTS */
    bool head;                 /* HEAD instead of GET */
    bool no_compression;       /* do not ask for gzip (Prometheus' enable_compression: false) */
    bool http1_only;           /* enable_http2: false; else HTTP/2 over TLS when offered */
    char *proxy;               /* proxy URL; NULL: none, and the environment is not read */
    char *noproxy;             /* with proxy: hosts reached directly (CURLOPT_NOPROXY) */
    bool proxy_from_env;       /* no proxy set: libcurl reads http_proxy, https_proxy, no_proxy */
    char **proxy_headers;      /* "Name: value" lines sent to the proxy with CONNECT only */
    size_t nproxy_headers;
    char **headers; /* "Name: value" lines (values may be secrets) */
    size_t nheaders;
    struct httpc_oauth2 *oauth2; /* NULL: none; else the Authorization header comes from it */
};

/*
 * OAuth 2.0 client credentials grant (RFC 6749 4.4), as Prometheus' oauth2 does it (Go's
 * oauth2 package, style auto-detected): a POST of @form to @token_url with the client id and
 * secret as HTTP basic auth (each form-encoded), and when that fails, of @form_params (the id
 * and secret in the form) without it; over @client's TLS and proxy settings.
 */
struct httpc_oauth2 {
    char *token_url;
    char *form;        /* secret-free: grant_type=client_credentials&scope=...&endpoint params */
    char *form_params; /* secret: the same with client_id and client_secret, sorted */
    struct httpc_opts client; /* username/password = id/secret; TLS; proxy */
};

#define HTTPC_MAX_REDIRECTS 10

/* The User-Agent header value: "pollster/VERSION". */
extern const char HTTPC_USER_AGENT[];

/* Deep-copies @src into @dst (zeroed first), oauth2 included. 0 or -ENOMEM (@dst released). */
int httpc_opts_copy(struct httpc_opts *dst, const struct httpc_opts *src);
/* Frees what httpc_opts_copy allocated; @h is zeroed. Accepts a zeroed struct. */
void httpc_opts_release(struct httpc_opts *h);

/*
 * Applies @h to @e: TLS (files, inline PEM, versions), basic auth, header lines, the proxy (none
 * unless configured: the environment is read only with proxy_from_env), the HTTP version,
 * the User-Agent, redirects (followed only
 * when @h asks, at most HTTPC_MAX_REDIRECTS, http and https only) and the allowed protocols
 * (http, https). Credentials never follow a redirect to another host or port: basic auth and
 * a configured Authorization header stay with the first host (CURLOPT_UNRESTRICTED_AUTH 0).
 * @h's header lines are appended to *@headers, which may already hold the caller's lines;
 * CURLOPT_HTTPHEADER is set to the whole list, which the caller owns and frees with
 * curl_slist_free_all() after the last transfer. @h itself may go away afterwards: curl copies
 * the string options and the header lines are copied into the list. The proxy's CONNECT lines
 * go into *@proxy_headers (replaced; the caller frees it the same way). Returns CURLE_OK or the
 * first failing setopt's code (CURLE_OUT_OF_MEMORY when the list could not grow). Called while
 * setting up a handle, never from a curl callback.
 */
CURLcode httpc_apply(CURL *e, const struct httpc_opts *h, struct curl_slist **headers,
                     struct curl_slist **proxy_headers);

/*
 * @url without its userinfo (user:password@), for output, logs, errors and the targets API:
 * only the transfer sees the full URL. Works on any string, also ones that are no valid URL
 * (no scheme, a port out of range, ...): everything before the last '@' of the authority part
 * (after "scheme://" when present, up to the first '/', '?' or '#') is removed, so a password
 * is never echoed. Caller frees; NULL when out of memory.
 */
char *httpc_redact_url_dup(const char *url);

/* True when @url's host is localhost, in 127.0.0.0/8 or ::1 (compression: auto sends plain). */
bool httpc_url_is_loopback(const char *url);
/* True when @url's host is an IPv4 or IPv6 address literal: no name to look up. */
bool httpc_url_host_is_ip(const char *url);

/*
 * True when the easy handle @e, whose transfer just ended with @rc, must be set up afresh
 * (curl_easy_reset or a new handle) before it is used again: its transfer failed or opened a
 * connection. libcurl (7.88) retries a request whose reused connection died without an answer on a
 * fresh connection, counting the retries in the handle, and resets that count only when it gives
 * up ("Connection died, tried 5 times before giving up") or at curl_easy_reset(): a handle kept
 * for every run of a target whose idle connections the server closes now and then fails every
 * sixth such run that succeeded on a retry. A transfer that retried always opened a connection,
 * which costs far more than the setup again; runs on a kept connection keep their handle.
 */
bool httpc_easy_worn(CURL *e, CURLcode rc);

/*
 * Appends every setting of @h to @sb, secrets included (a reload keeps a target whose identity
 * did not change): never print it.
 */
void httpc_identity(struct strbuf *sb, const struct httpc_opts *h);

/*
 * @s form-encoded (application/x-www-form-urlencoded: unreserved characters as they are, space
 * as '+', the rest %XX) appended to @out. False when out of memory.
 */
bool httpc_form_escape(struct strbuf *out, const char *s);

/* Checks libcurl's features at start-up (async DNS): 0, or -ENOTSUP with the cause logged. */
int httpc_check_curl(void);

#endif

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

/* The HTTP client settings of a target or sink: strings may be NULL (= unset). */
struct httpc_opts {
    char *username; /* basic auth, with password */
    char *password; /* secret: never logged */
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool insecure_skip_verify; /* TLS: do not verify the peer */
    bool follow_redirects;     /* follow up to HTTPC_MAX_REDIRECTS */
    bool head;                 /* HEAD instead of GET */
    bool no_compression;       /* do not ask for gzip (Prometheus' enable_compression: false) */
    char **headers;            /* "Name: value" lines (values may be secrets) */
    size_t nheaders;
};

#define HTTPC_MAX_REDIRECTS 10

/* The User-Agent header value: "pollster/VERSION". */
extern const char HTTPC_USER_AGENT[];

/* Deep-copies @src into @dst (zeroed first). 0 or -ENOMEM (@dst then released). */
int httpc_opts_copy(struct httpc_opts *dst, const struct httpc_opts *src);
/* Frees what httpc_opts_copy allocated; @h is zeroed. Accepts a zeroed struct. */
void httpc_opts_release(struct httpc_opts *h);

/*
 * Applies @h to @e: TLS, basic auth, header lines, the User-Agent, redirects (followed only
 * when @h asks, at most HTTPC_MAX_REDIRECTS, http and https only) and the allowed protocols
 * (http, https). Credentials never follow a redirect to another host or port: basic auth and
 * a configured Authorization header stay with the first host (CURLOPT_UNRESTRICTED_AUTH 0).
 * @h's header lines are appended to *@headers, which may already hold the caller's lines;
 * CURLOPT_HTTPHEADER is set to the whole list, which the caller owns and frees with
 * curl_slist_free_all() after the last transfer. @h itself may go away afterwards: curl copies
 * the string options and the header lines are copied into the list. Returns CURLE_OK or the
 * first failing setopt's code (CURLE_OUT_OF_MEMORY when the list could not grow). Called while
 * setting up a handle, never from a curl callback.
 */
CURLcode httpc_apply(CURL *e, const struct httpc_opts *h, struct curl_slist **headers);

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

/* Checks libcurl's features at start-up (async DNS): 0, or -ENOTSUP with the cause logged. */
int httpc_check_curl(void);

#endif

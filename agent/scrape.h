/*
 * One transfer of one target: owns a reusable curl easy handle configured with every bound the
 * engine promises (deadlines, body cap, protocols, no signals), streams body bytes to the job
 * kind as they arrive, classifies failures into the fixed reason set with an error text that
 * says what happened, and hands the finished batch to a callback.
 */
#ifndef POLLSTER_SCRAPE_H
#define POLLSTER_SCRAPE_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "job.h"
#include "sample.h"

struct loop;
struct scrape;

/* The HTTP client settings of a target (auth, TLS, headers): strings may be NULL (= unset). */
struct scrape_http {
    char *username; /* basic auth, with password */
    char *password; /* secret: never logged */
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool insecure_skip_verify; /* TLS: do not verify the peer */
    bool follow_redirects;     /* follow up to SCRAPE_MAX_REDIRECTS */
    bool head;                 /* HEAD instead of GET */
    bool no_compression;       /* do not ask for gzip (Prometheus' enable_compression: false) */
    char **headers;            /* "Name: value" lines (values may be secrets) */
    size_t nheaders;
};

#define SCRAPE_MAX_REDIRECTS 10

/* Deep-copies @src into @dst (zeroed first). 0 or -ENOMEM (@dst then released). */
int scrape_http_copy(struct scrape_http *dst, const struct scrape_http *src);
/* Frees what scrape_http_copy allocated; @h is zeroed. */
void scrape_http_release(struct scrape_http *h);

/*
 * Applies @h's TLS, basic auth and headers to @e, appending the headers to *@headers (which the
 * caller frees with curl_slist_free_all after the transfer). Shared by scrapes and the http
 * output.
 */
CURLcode scrape_http_apply(CURL *e, const struct scrape_http *h, struct curl_slist **headers);

struct scrape_opts {
    const char *url;                /* borrowed: outlives the scrape */
    int64_t timeout_ms;             /* connect and total deadline, > 0 */
    uint64_t body_limit;            /* decoded body bytes; 0 = no limit */
    bool fresh_connect;             /* new connection every run (probes time the full handshake) */
    long max_redirects;             /* 0 = SCRAPE_MAX_REDIRECTS */
    const struct scrape_http *http; /* borrowed: outlives the scrape; NULL = defaults */
};

/* Called from the loop (not from a curl callback) when a run ends; @b is the filled batch. */
typedef void scrape_done_fn(struct scrape *s, struct batch *b, void *arg);

/*
 * Creates a scrape for one target. @kind and @kind_state are borrowed (the target owns the
 * state). NULL on failure.
 */
struct scrape *scrape_new(struct loop *l, const struct scrape_opts *opts,
                          const struct job_kind *kind, void *kind_state, scrape_done_fn *done,
                          void *arg);
/* Cancels a run in flight (done is not called) and frees the handle. Accepts NULL. */
void scrape_free(struct scrape *s);

/*
 * Starts a run that fills @b (borrowed until done is called: the caller clears it before).
 * Returns 0, or a negative errno with @b failed (REASON_INTERNAL) and done not called.
 */
int scrape_start(struct scrape *s, struct batch *b);
bool scrape_busy(const struct scrape *s);

/* Maps a curl result to a failure reason (CURLE_OK → REASON_NONE). */
enum reason scrape_reason_for(CURLcode rc);
/* REASON_HTTP_4XX / REASON_HTTP_5XX / REASON_INTERNAL (other non-2xx), REASON_NONE for 2xx. */
enum reason scrape_reason_for_status(long status);

/*
 * @url without its userinfo (user:password@), for output, logs and the targets API: the
 * transfer keeps the full URL, nothing else shows it. Caller frees; NULL when out of memory.
 */
char *scrape_url_redact_dup(const char *url);

/* The User-Agent header value: "pollster/VERSION". */
extern const char SCRAPE_USER_AGENT[];

/* Checks libcurl's features at start-up (async DNS): 0, or -ENOTSUP with the cause logged. */
int scrape_check_curl(void);

#endif

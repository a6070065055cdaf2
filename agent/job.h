/*
 * The job-kind interface: what a kind of collection (probe, prometheus, json) plugs into the
 * engine. A kind turns one HTTP transfer into samples; it knows nothing about schedules or
 * outputs, and the engine knows nothing about kinds beyond this table of function pointers.
 */
#ifndef POLLSTER_JOB_H
#define POLLSTER_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "sample.h"

/* The transport outcome of one transfer, as scrape.c saw it. */
struct scrape_result {
    CURLcode rc;              /* curl's result; CURLE_OK when a response was received */
    long http_status;         /* 0 when no response */
    double duration_s;        /* whole transfer */
    size_t body_bytes;        /* decoded body bytes received */
    const char *content_type; /* borrowed: curl; NULL when absent */
};

struct job_kind {
    const char *name; /* "probe", "prometheus", ... */

    /*
     * Optional, once when the transfer is set up: appends the kind's request header lines
     * ("Name: value", e.g. Accept) to *@headers. The list belongs to scrape.c, which adds the
     * target's auth and custom headers after these and sets CURLOPT_HTTPHEADER itself: a kind
     * never sets CURLOPT_HTTPHEADER (that would replace the target's Authorization). Returns 0
     * or a negative errno (the target cannot be set up).
     */
    int (*add_headers)(void *state, struct curl_slist **headers);

    /*
     * Before each transfer: may set kind-specific options on @easy (certinfo, ...; never
     * CURLOPT_HTTPHEADER, see add_headers) and reset per-run state. Returns 0 or a negative
     * errno (the run fails as internal).
     */
    int (*prepare)(void *state, CURL *easy, struct batch *b);

    /*
     * Optional: the response headers are in and the first body chunk follows. The kind may
     * look at CURLINFO_RESPONSE_CODE / CURLINFO_CONTENT_TYPE on @easy to decide how to read
     * the body. Same return convention and calling context as feed.
     */
    int (*body_start)(void *state, CURL *easy, struct batch *b);

    /*
     * A chunk of decoded body bytes, in order. Return 0, or a negative errno after calling
     * batch_fail(b, REASON_PARSE or REASON_LIMIT, ...): the transfer is then aborted.
     * Called from curl's write callback: must not call curl_multi_*().
     */
    int (*feed)(void *state, const char *data, size_t len, struct batch *b);

    /*
     * The transfer ended. When the transport failed, @b is already failed with the reason and
     * error text; the kind adds its samples (including its synthetic ones) and may fail a run
     * that succeeded at transport level (bad status, parse error at end of body).
     */
    void (*finish)(void *state, const struct scrape_result *res, CURL *easy, struct batch *b);

    /*
     * Optional: what finish left to do (the prometheus kind's pass over the samples), a slice
     * at a time: each call does a bounded part (about SCRAPE_SLICE_S) and returns true while
     * more is left. scrape.c calls it right after finish, again in the same loop turn while the
     * turn's slice lasts, then from later turns; the run ends after the call that returned false.
     * When @b->parts_ok, a call may return true with @b->part set: @b holds a part of the run,
     * which the caller hands on (scrape.h, scrape_set_part) before the next call; the kind then
     * drops those samples itself (adding them to @b->nforwarded).
     */
    bool (*finish_more)(void *state, struct batch *b);

    /* Frees the kind's per-target state (accepts NULL). */
    void (*free)(void *state);
};

#endif

/*
 * One transfer of one target: each run sets up a pooled curl easy handle (easypool.h) with
 * every bound the engine promises (deadlines, body cap, protocols, no signals), streams body
 * bytes to the job kind as they arrive, classifies failures into the fixed reason set with an
 * error text that says what happened, and hands the finished batch to a callback.
 */
#ifndef POLLSTER_SCRAPE_H
#define POLLSTER_SCRAPE_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "httpc.h"
#include "job.h"
#include "sample.h"

struct loop;
struct scrape;

/*
 * At most this long (seconds) of parsing a body, or finishing a run, per loop turn: the rest
 * follows from a zero-delay timer, after the other targets' timers and I/O (issue 13 item 2).
 */
#define SCRAPE_SLICE_S 0.001
/*
 * Body bytes that may wait for their slice; past it bytes are parsed as they arrive (the parse
 * then paces the transfer), so an endless body cannot pile up unparsed.
 */
#define SCRAPE_WAIT_MAX (16u << 20)

struct scrape_opts {
    const char *url;               /* borrowed: outlives the scrape */
    int64_t timeout_ms;            /* connect and total deadline, > 0 */
    uint64_t body_limit;           /* decoded body bytes; 0 = no limit */
    bool fresh_connect;            /* new connection every run (probes time the full handshake) */
    long max_redirects;            /* 0 = HTTPC_MAX_REDIRECTS */
    const struct httpc_opts *http; /* borrowed: outlives the scrape; NULL = defaults */
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
/*
 * Lets runs come in parts (sample.h, parts_ok): @part is called from the loop with a batch that
 * holds a part of the run (its samples only; the run's figures come with done), which it hands
 * on and must not keep or change.
 */
void scrape_set_part(struct scrape *s, scrape_done_fn *part);
/* Cancels a run in flight (done is not called) and frees the handle. Accepts NULL. */
void scrape_free(struct scrape *s);

/*
 * Starts a run that fills @b (borrowed until done is called: the caller clears it before).
 * Returns 0, or a negative errno with @b failed (REASON_INTERNAL) and done not called.
 */
int scrape_start(struct scrape *s, struct batch *b);
bool scrape_busy(const struct scrape *s);
/*
 * Connections the scrape opened (CURLINFO_NUM_CONNECTS summed over finished runs) since the
 * last call; 0 for a run that reused its kept-alive connection.
 */
uint64_t scrape_take_connects(struct scrape *s);

/* Maps a curl result to a failure reason (CURLE_OK → REASON_NONE). */
enum reason scrape_reason_for(CURLcode rc);
/* REASON_HTTP_4XX / REASON_HTTP_5XX / REASON_INTERNAL (other non-2xx), REASON_NONE for 2xx. */
enum reason scrape_reason_for_status(long status);

#endif

/*
 * The event loop: one libevent event_base and one curl multi handle bound to it through the
 * multi-socket API (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, the "hiperfifo" pattern).
 * No threads, no polling, no sleeps: curl tells us which sockets and deadlines to watch, libevent
 * tells curl when they fire. The loop knows nothing about job kinds; a transfer is a CURL easy
 * handle plus a completion callback.
 */
#ifndef POLLSTER_LOOP_H
#define POLLSTER_LOOP_H

#include <stdbool.h>

#include <curl/curl.h>

struct event_base;
struct loop;
struct loop_xfer;

/*
 * Called exactly once per started transfer, after its easy handle was removed from the multi
 * handle, from the loop (never from inside a curl callback): the handle may be reused or
 * restarted at once. @rc is the transfer's result; CURLE_FAILED_INIT means the multi handle
 * failed and was rebuilt, and @x->errbuf says why.
 */
typedef void loop_done_fn(struct loop_xfer *x, CURLcode rc);

struct loop_xfer {
    CURL *easy;         /* borrowed: owned by whoever started the transfer */
    loop_done_fn *done; /* completion callback */
    void *arg;          /* for the callback */
    char errbuf[CURL_ERROR_SIZE];

    /* private to loop.c */
    struct loop_xfer *prev, *next;
    bool active;
    bool fail_pending; /* failed by a multi rebuild, completion not delivered yet */
    struct loop_xfer *fail_prev, *fail_next; /* in the loop's list of those, while fail_pending */
};

/* Creates the event base and the multi handle. NULL on failure (logged). */
struct loop *loop_new(void);
/* Cleans up in the safe order: multi, events, base. In-flight transfers are dropped silently. */
void loop_free(struct loop *l);
struct event_base *loop_base(struct loop *l);

/*
 * Starts @x: sets CURLOPT_PRIVATE and CURLOPT_ERRORBUFFER on @x->easy and adds it to the multi
 * handle. Returns 0, or -EBUSY if @x is already active, -EIO if curl refused (x->errbuf says
 * why); on error done is not called. Safe from any loop callback except curl's own.
 */
int loop_xfer_start(struct loop *l, struct loop_xfer *x);
/* Aborts an active transfer without calling done (shutdown, target removal). */
void loop_xfer_cancel(struct loop *l, struct loop_xfer *x);
/* Transfers in flight now, and runs whose transfer ended but whose results are still made. */
unsigned loop_in_flight(const struct loop *l);
/*
 * A run goes on after its transfer ended (its body parsed in slices): counted in
 * loop_in_flight() until loop_release(), so a drain waits for it.
 */
void loop_hold(struct loop *l);
void loop_release(struct loop *l);
/* Of loop_in_flight(), the runs held after their transfer. */
unsigned loop_held(const struct loop *l);

/*
 * Sets a function called after every transfer's completion callback (the engine re-checks
 * whether a drain has finished). NULL unsets it.
 */
typedef void loop_hook_fn(void *arg);
void loop_set_after_done(struct loop *l, loop_hook_fn *fn, void *arg);

/*
 * Fails every transfer in flight and rebuilds the multi handle, as when a curl_multi_* call
 * fails (that path, made testable): each transfer's done gets CURLE_FAILED_INIT from the loop.
 */
void loop_inject_failure(struct loop *l);

/*
 * Keep-alive: every owner of a reused easy handle (a target's scrape, an output's sender)
 * reserves one idle connection in the multi handle's cache while it exists, and releases it
 * when freed (before the loop is freed). The cache holds loop_max_connects() = owners +
 * LOOP_CONN_SLACK connections (slack for redirects, token endpoints, one-off transfers); it is
 * re-sized at every reserve and release, so a reload that adds or removes targets re-sizes it.
 */
#define LOOP_CONN_SLACK 8
void loop_conn_reserve(struct loop *l);
void loop_conn_release(struct loop *l);
long loop_max_connects(const struct loop *l);

/* Runs until loop_stop() or nothing is left to do. Returns 0 or -EIO. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif

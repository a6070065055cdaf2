/*
 * libevent + curl multi-socket glue. curl asks, through loop_sock_cb, to watch a socket for
 * reading and/or writing, and through loop_curl_timer_cb to be called back after a delay; we map
 * both onto libevent events and, when they fire, hand them back to
 * curl_multi_socket_action(). After every socket action, check_multi_info() collects finished
 * transfers: it is the only place easy handles leave the multi handle.
 *
 * Fixes over curl's hiperfifo example: the timer delay keeps its milliseconds (timeval, not
 * integer seconds), a multi error fails every in-flight transfer and rebuilds the multi handle
 * instead of exiting, and cleanup runs multi first, then events, then the base.
 */
#include "build-config.h"

#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"

struct loop {
    struct event_base *base;     /* owned */
    CURLM *multi;                /* owned */
    struct event *curl_timer;    /* owned */
    struct event *rebuild_event; /* owned: deferred multi rebuild */
    struct loop_xfer *xfers;     /* borrowed: in-flight list */
    struct loop_xfer *failing;   /* borrowed: failed by a rebuild, completion not delivered yet */
    unsigned in_flight;
    unsigned held; /* loop_hold(): runs after their transfer */
    bool multi_failed;
    char multi_error[128];
    loop_hook_fn *after_done; /* called after every completion callback */
    void *after_done_arg;
    unsigned conn_owners; /* handles that want their idle connection kept (loop_conn_reserve) */
};

/* One per socket curl asked us to watch, attached with curl_multi_assign. */
struct loop_sock {
    struct loop *loop; /* borrowed */
    curl_socket_t fd;
    struct event *ev; /* owned */
    int what;         /* CURL_POLL_* */
};

static void check_multi_info(struct loop *l);
static int multi_setup(struct loop *l);

static void
multi_failed(struct loop *l, CURLMcode mc, const char *call)
{
    snprintf(l->multi_error, sizeof(l->multi_error), "%s failed: %s", call,
             curl_multi_strerror(mc));
    if (!l->multi_failed) {
        l->multi_failed = true;
        log_err("loop: %s; failing in-flight transfers and rebuilding the multi handle",
                l->multi_error);
        event_active(l->rebuild_event, EV_TIMEOUT, 0);
    }
}

static void
loop_event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct loop_sock *s = arg;
    struct loop *l = s->loop;
    int action =
        ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;

    CURLMcode mc = curl_multi_socket_action(l->multi, fd, action, &running);
    if (mc != CURLM_OK) {
        multi_failed(l, mc, "curl_multi_socket_action()");
        return;
    }
    /* @s may have been freed by curl's socket callback during the action: do not touch it. */
    check_multi_info(l);
}

static void
loop_timer_event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct loop *l = arg;
    int running = 0;

    CURLMcode mc = curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) {
        multi_failed(l, mc, "curl_multi_socket_action()");
        return;
    }
    check_multi_info(l);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms or deletes our one timer event. */
static int
loop_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct loop *l = userp;

    if (timeout_ms < 0) {
        evtimer_del(l->curl_timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (evtimer_add(l->curl_timer, &tv) != 0) {
        log_err("loop: evtimer_add() failed for curl's timer");
    }
    return 0;
}

static void
sock_free(struct loop_sock *s)
{
    if (s == NULL) {
        return;
    }
    if (s->ev != NULL) {
        event_free(s->ev);
    }
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION. Must not call curl_multi_*(); must not return -1 by accident. */
static int
loop_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct loop *l = userp;
    struct loop_sock *s = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(l->multi, fd, NULL);
            sock_free(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            log_err("loop: out of memory watching socket %d", (int)fd);
            return 0; /* curl will time the transfer out; -1 would abort everything */
        }
        s->loop = l;
        s->fd = fd;
        curl_multi_assign(l->multi, fd, s);
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (s->ev != NULL && s->what == what) {
        return 0;
    }
    if (s->ev != NULL) {
        event_free(s->ev);
    }
    s->what = what;
    s->ev = event_new(l->base, fd, kind, loop_event_cb, s);
    if (s->ev == NULL || event_add(s->ev, NULL) != 0) {
        log_err("loop: cannot watch socket %d", (int)fd);
    }
    return 0;
}

static void
xfer_unlink(struct loop *l, struct loop_xfer *x)
{
    if (x->prev != NULL) {
        x->prev->next = x->next;
    }
    else {
        l->xfers = x->next;
    }
    if (x->next != NULL) {
        x->next->prev = x->prev;
    }
    x->prev = x->next = NULL;
    x->active = false;
    l->in_flight--;
}

static void
check_multi_info(struct loop *l)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct loop_xfer *x = NULL;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(l->multi, easy);
        if (x == NULL || !x->active) {
            continue;
        }
        xfer_unlink(l, x);
        x->done(x, rc);
        if (l->after_done != NULL) {
            l->after_done(l->after_done_arg);
        }
    }
}

/* Takes @x off the list of failures owed (cancelled, restarted or delivered). */
static void
fail_unlink(struct loop *l, struct loop_xfer *x)
{
    if (!x->fail_pending) {
        return;
    }
    x->fail_pending = false;
    if (x->fail_prev != NULL) {
        x->fail_prev->fail_next = x->fail_next;
    }
    else {
        l->failing = x->fail_next;
    }
    if (x->fail_next != NULL) {
        x->fail_next->fail_prev = x->fail_prev;
    }
    x->fail_prev = x->fail_next = NULL;
}

/*
 * Deferred from the failing callback: fail every transfer, then rebuild the multi handle. The
 * transfers are taken off the list and made inactive before any completion callback runs, and
 * kept in a list of failures owed (no allocation: an array allocated here abandoned a transfer,
 * and its target's every later tick, when memory was short): a callback may cancel or restart
 * another of them (an output restarting its request), which takes it off that list, so it gets
 * no stale failure and the walk never reaches it.
 */
static void
loop_rebuild_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct loop *l = arg;
    struct loop_xfer *tail = NULL;

    while (l->xfers != NULL) {
        struct loop_xfer *x = l->xfers;
        curl_multi_remove_handle(l->multi, x->easy);
        xfer_unlink(l, x);
        x->fail_pending = true;
        x->fail_next = NULL;
        x->fail_prev = tail;
        if (tail != NULL) {
            tail->fail_next = x;
        }
        else {
            l->failing = x;
        }
        tail = x;
    }
    curl_multi_cleanup(l->multi);
    l->multi = NULL;
    evtimer_del(l->curl_timer);
    if (multi_setup(l) != 0) {
        log_err("loop: cannot rebuild the curl multi handle; transfers will fail");
    }
    l->multi_failed = false;
    while (l->failing != NULL) {
        struct loop_xfer *x = l->failing;
        fail_unlink(l, x);
        snprintf(x->errbuf, sizeof(x->errbuf), "%s", l->multi_error);
        x->done(x, CURLE_FAILED_INIT);
        if (l->after_done != NULL) {
            l->after_done(l->after_done_arg);
        }
    }
}

/*
 * The connection cache holds one idle connection per owner plus some slack. curl's default is
 * four per handle currently added, and only the few transfers in flight are added: with
 * targets on distinct host:ports every idle connection was closed and each scrape connected
 * anew (TIME_WAIT piling up). Shrinking closes the oldest idle connections first.
 */
static void
conn_cache_resize(struct loop *l)
{
    if (l->multi != NULL) {
        curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, loop_max_connects(l));
    }
}

long
loop_max_connects(const struct loop *l)
{
    return (long)l->conn_owners + LOOP_CONN_SLACK;
}

void
loop_conn_reserve(struct loop *l)
{
    l->conn_owners++;
    conn_cache_resize(l);
}

void
loop_conn_release(struct loop *l)
{
    if (l->conn_owners > 0) {
        l->conn_owners--;
    }
    conn_cache_resize(l);
}

static int
multi_setup(struct loop *l)
{
    l->multi = curl_multi_init();
    if (l->multi == NULL) {
        return -ENOMEM;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, loop_sock_cb);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, loop_curl_timer_cb);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    conn_cache_resize(l);
    return 0;
}

#define LOOP_LIBEVENT_QUIET_MS (10 * 60 * 1000)

/* A message's cause for the rate limiter: its text without digits (fds, counts), hashed. */
static int
message_cause(const char *msg)
{
    uint32_t h = 2166136261u;

    for (const char *p = msg; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            h = (h ^ (unsigned char)*p) * 16777619u;
        }
    }
    return (int)(h | 1u); /* never 0: 0 is "healthy" */
}

/*
 * libevent's warnings and errors go through the rate limiter: a failing accept() or epoll call
 * repeats its message as fast as the loop turns (333 MB of "accept(): Too many open files" in 8 s
 * in issue 13). The same message (digits aside) is said once, then summarised at growing
 * intervals. libevent may log from libnats' threads too: the limiter is locked.
 */
static void
libevent_log_cb(int severity, const char *msg)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct log_limit limit;
    static mono_ms last;
    mono_ms now = clock_mono_ms();

    if (severity < EVENT_LOG_WARN) {
        log_debug("libevent: %s", msg);
        return;
    }
    pthread_mutex_lock(&lock);
    if (now - last > LOOP_LIBEVENT_QUIET_MS) {
        memset(&limit, 0, sizeof(limit)); /* quiet for long: a new streak, said at once */
    }
    last = now;
    log_complain(&limit, now, message_cause(msg), "libevent", "%s", msg);
    pthread_mutex_unlock(&lock);
}

struct loop *
loop_new(void)
{
    struct loop *l = calloc(1, sizeof(*l));
    struct event_config *cfg = NULL;

    if (l == NULL) {
        return NULL;
    }
    event_set_log_callback(libevent_log_cb);
    /*
     * Locks in every event_base from here on: libnats (out_nats.c) adds and removes the loop's
     * events of its connection from its own threads when it reconnects. Once per process, before
     * the first base. Uncontended, a lock costs tens of ns per event operation.
     */
    static bool threads_on;
    if (!threads_on) {
        if (evthread_use_pthreads() != 0) {
            log_err("loop: evthread_use_pthreads() failed");
            goto fail;
        }
        threads_on = true;
    }
    cfg = event_config_new();
    if (cfg == NULL) {
        goto fail;
    }
    /* Precise CLOCK_MONOTONIC instead of the 1-4 ms coarse clock: ticks land where computed. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    l->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (l->base == NULL) {
        log_err("loop: event_base_new_with_config() failed");
        goto fail;
    }
    l->curl_timer = evtimer_new(l->base, loop_timer_event_cb, l);
    l->rebuild_event = event_new(l->base, -1, 0, loop_rebuild_cb, l);
    if (l->curl_timer == NULL || l->rebuild_event == NULL) {
        goto fail;
    }
    if (multi_setup(l) != 0) {
        log_err("loop: curl_multi_init() failed");
        goto fail;
    }
    return l;
fail:
    loop_free(l);
    return NULL;
}

void
loop_free(struct loop *l)
{
    if (l == NULL) {
        return;
    }
    if (l->multi != NULL) {
        for (struct loop_xfer *x = l->xfers; x != NULL; x = x->next) {
            curl_multi_remove_handle(l->multi, x->easy);
            x->active = false;
        }
        /* Runs the socket callback for every socket still watched: our events must exist. */
        curl_multi_cleanup(l->multi);
    }
    if (l->curl_timer != NULL) {
        event_free(l->curl_timer);
    }
    if (l->rebuild_event != NULL) {
        event_free(l->rebuild_event);
    }
    if (l->base != NULL) {
        event_base_free(l->base);
    }
    free(l);
}

struct event_base *
loop_base(struct loop *l)
{
    return l->base;
}

int
loop_xfer_start(struct loop *l, struct loop_xfer *x)
{
    if (x->active) {
        return -EBUSY;
    }
    fail_unlink(l, x); /* restarted: a failure of its previous run is no longer owed */
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    CURLMcode mc = curl_multi_add_handle(l->multi, x->easy);
    if (mc != CURLM_OK) {
        snprintf(x->errbuf, sizeof(x->errbuf), "curl_multi_add_handle() failed: %s",
                 curl_multi_strerror(mc));
        return -EIO;
    }
    x->active = true;
    x->prev = NULL;
    x->next = l->xfers;
    if (l->xfers != NULL) {
        l->xfers->prev = x;
    }
    l->xfers = x;
    l->in_flight++;
    return 0;
}

void
loop_xfer_cancel(struct loop *l, struct loop_xfer *x)
{
    fail_unlink(l, x);
    if (!x->active) {
        return;
    }
    curl_multi_remove_handle(l->multi, x->easy);
    xfer_unlink(l, x);
}

unsigned
loop_in_flight(const struct loop *l)
{
    return l->in_flight + l->held;
}

void
loop_hold(struct loop *l)
{
    l->held++;
}

unsigned
loop_held(const struct loop *l)
{
    return l->held;
}

void
loop_release(struct loop *l)
{
    if (l->held > 0) {
        l->held--;
    }
}

int
loop_run(struct loop *l)
{
    return event_base_dispatch(l->base) < 0 ? -EIO : 0;
}

void
loop_stop(struct loop *l)
{
    event_base_loopbreak(l->base);
}

void
loop_set_after_done(struct loop *l, loop_hook_fn *fn, void *arg)
{
    l->after_done = fn;
    l->after_done_arg = arg;
}

void
loop_inject_failure(struct loop *l)
{
    multi_failed(l, CURLM_INTERNAL_ERROR, "loop_inject_failure()");
}

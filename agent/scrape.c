/*
 * One target's transfer. A run takes an easy handle from the pool (easypool.h) and sets it up for
 * the target, and gives it back when it ends: idle targets hold no handle, and every run starts
 * from a reset handle (so libcurl's retry count never carries over: httpc_easy_worn). The multi
 * handle keeps the connections and the DNS cache between runs. Every bound the
 * engine promises is set here: connect and total deadlines, http/https only (redirects too), a
 * body cap enforced in the write callback, no signals, gzip accepted.
 *
 * Body bytes are parsed as they arrive, but never more than a slice (SCRAPE_SLICE_S of feeding)
 * per loop turn (issue 13 item 2): past it, arriving bytes wait in a list of chunks that a
 * zero-delay timer feeds a slice at a time, so timers and I/O of other targets run in between.
 * A run whose transfer ended then finishes the same way: its waiting bytes first, then the
 * kind's finish and, for a big batch, the kind's finish_more slices; the run ends (done) after
 * the last one. Meanwhile the scrape holds the loop (loop_hold) so a drain waits for it.
 */
#include "build-config.h"

#include "scrape.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "easypool.h"
#include "log.h"
#include "loop.h"
#include "oauth2.h"

/* Body bytes that arrived while the slice was used up: fed in order by the slice timer. */
struct chunk {
    struct chunk *next; /* owned */
    size_t len;
    char data[];
};

struct scrape {
    struct loop *loop;                /* borrowed */
    struct curl_slist *headers;       /* owned: the kind's lines, then opts.http->headers */
    struct curl_slist *proxy_headers; /* owned: opts.http->proxy_headers */
    struct oauth2 *oauth2;            /* owned: the token source, with opts.http->oauth2 */
    struct curl_slist *auth_headers;  /* owned: headers plus the token's line (oauth2) */
    bool token_wait;                  /* a run waits for its token */
    CURL *blank;                      /* owned (oauth2): a handle that never ran, for finish */
    const struct job_kind *kind;      /* borrowed */
    void *kind_state;                 /* borrowed: owned by the target */
    struct scrape_opts opts;          /* strings borrowed */
    CURL *easy;                       /* from the pool while a run holds it; else NULL */
    struct loop_xfer xfer;
    struct batch *batch; /* borrowed while a run is in flight */
    uint64_t body_bytes;
    bool body_started;
    bool headers_done; /* the last response's headers ended (the timeout's phase) */
    bool too_large;
    bool kind_failed;   /* the kind failed the batch from a callback */
    double started;     /* clock_mono_s */
    bool conn_reserved; /* holds one idle connection in the loop's cache */
    bool pooled;        /* a user of the easy handle pool */
    bool host_is_ip;    /* the URL's host is an address literal (parsed once, not every run) */
    uint64_t connects;  /* connections opened since scrape_take_connects() */
    scrape_done_fn *done;
    scrape_done_fn *part; /* NULL: the kind's parts are not asked for (b->parts_ok is cleared) */
    void *arg;

    /* Slicing (see the top of the file). */
    struct chunk *wait_head, *wait_tail; /* owned: bytes not fed yet, in order */
    size_t wait_bytes;
    double fed_s;           /* time spent feeding since the slice timer last ran */
    struct event *slice_ev; /* owned: the zero-delay timer; NULL until first needed */
    bool ended;             /* the transfer ended (rc, res below), the run has not */
    bool finished;          /* the kind's finish ran: finish_more slices left */
    bool held;              /* loop_hold() taken for this run */
    CURLcode rc;
    struct scrape_result res;
};

enum reason
scrape_reason_for(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return REASON_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return REASON_DNS;
    case CURLE_COULDNT_CONNECT:
        return REASON_CONNECT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return REASON_NETWORK;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
        return REASON_PROTOCOL;
    case CURLE_OPERATION_TIMEDOUT:
        return REASON_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return REASON_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return REASON_TOO_LARGE;
    default:
        return REASON_INTERNAL;
    }
}

enum reason
scrape_reason_for_status(long status)
{
    if (status >= 200 && status < 300) {
        return REASON_NONE;
    }
    if (status >= 400 && status < 500) {
        return REASON_HTTP_4XX;
    }
    if (status >= 500 && status < 600) {
        return REASON_HTTP_5XX;
    }
    return REASON_INTERNAL;
}

/*
 * CURLOPT_HEADERFUNCTION: notes where a response's headers end, so a timeout can say "headers
 * received" rather than "receiving headers". A redirect's next response starts over.
 */
static size_t
scrape_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct scrape *s = userp;
    size_t len = size * nmemb;

    s->headers_done = len == 0 || data[0] == '\r' || data[0] == '\n';
    return len;
}

static void slice_cb(evutil_socket_t fd, short what, void *arg);
static void xfer_result(struct scrape *s, CURLcode rc);

/* One finish_more call; a part it leaves in @b is handed on. Whether more is left. */
static bool
finish_more_step(struct scrape *s, struct batch *b)
{
    if (!s->kind->finish_more(s->kind_state, b)) {
        return false;
    }
    if (b->part) {
        b->part = false;
        s->part(s, b, s->arg);
    }
    return true;
}

/* Arms the zero-delay slice timer (it runs after the timers and I/O already due). 0 or -errno. */
static int
slice_arm(struct scrape *s)
{
    static const struct timeval now = {0, 0};

    if (s->slice_ev == NULL) {
        s->slice_ev = evtimer_new(loop_base(s->loop), slice_cb, s);
        if (s->slice_ev == NULL) {
            return -ENOMEM;
        }
    }
    return evtimer_pending(s->slice_ev, NULL) || evtimer_add(s->slice_ev, &now) == 0 ? 0 : -EIO;
}

static int
wait_add(struct scrape *s, const char *data, size_t len)
{
    struct chunk *c = malloc(sizeof(*c) + len);

    if (c == NULL) {
        return -ENOMEM;
    }
    c->next = NULL;
    c->len = len;
    memcpy(c->data, data, len);
    if (s->wait_tail != NULL) {
        s->wait_tail->next = c;
    }
    else {
        s->wait_head = c;
    }
    s->wait_tail = c;
    s->wait_bytes += len;
    return 0;
}

static void
wait_clear(struct scrape *s)
{
    while (s->wait_head != NULL) {
        struct chunk *c = s->wait_head;
        s->wait_head = c->next;
        free(c);
    }
    s->wait_tail = NULL;
    s->wait_bytes = 0;
}

/*
 * Feeds waiting chunks to the kind, oldest first, until none is left or this turn's slice is
 * used up (@whole: no bound). After the kind failed, the rest is dropped: it would not be parsed
 * either. Returns 0, or -1 when the kind failed (s->kind_failed).
 */
static int
feed_waiting(struct scrape *s, bool whole)
{
    while (s->wait_head != NULL && !s->kind_failed && (whole || s->fed_s < SCRAPE_SLICE_S)) {
        struct chunk *c = s->wait_head;
        double t0 = clock_mono_s();
        s->wait_head = c->next;
        if (s->wait_head == NULL) {
            s->wait_tail = NULL;
        }
        s->wait_bytes -= c->len;
        if (s->kind->feed(s->kind_state, c->data, c->len, s->batch) != 0) {
            s->kind_failed = true;
        }
        free(c);
        s->fed_s += clock_mono_s() - t0;
    }
    if (s->kind_failed) {
        wait_clear(s);
        return -1;
    }
    return 0;
}

/* CURLOPT_WRITEFUNCTION: count, cap, feed the kind. Must not call curl_multi_*(). */
static size_t
scrape_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct scrape *s = userp;
    size_t len = size * nmemb;

    if (!s->body_started) {
        s->body_started = true;
        if (s->kind->body_start != NULL &&
            s->kind->body_start(s->kind_state, s->easy, s->batch) != 0) {
            s->kind_failed = true;
            return 0;
        }
    }
    /* curl 7.88 does not stop a chunked body at CURLOPT_MAXFILESIZE (fixed in 8.4.0). */
    if (s->opts.body_limit > 0 && s->body_bytes + len > s->opts.body_limit) {
        s->too_large = true;
        return 0;
    }
    s->body_bytes += len;
    if (s->kind->feed == NULL) {
        return len;
    }
    if (s->wait_head != NULL || s->fed_s >= SCRAPE_SLICE_S) {
        /* The slice is used up: the bytes wait for the next one, within a bound. */
        if (s->wait_bytes + len <= SCRAPE_WAIT_MAX && slice_arm(s) == 0 &&
            wait_add(s, data, len) == 0) {
            return len;
        }
        /* Over the bound (or out of memory): feed here, in order, as before slicing. */
        if (feed_waiting(s, true) != 0) {
            return 0;
        }
    }
    double t0 = clock_mono_s();
    if (s->kind->feed(s->kind_state, data, len, s->batch) != 0) {
        s->kind_failed = true;
        return 0;
    }
    s->fed_s += clock_mono_s() - t0;
    if (s->fed_s >= SCRAPE_SLICE_S && slice_arm(s) != 0) {
        s->fed_s = 0; /* no timer: feed on at once, as before slicing */
    }
    return len;
}

/*
 * curl's "Could not resolve host" as "could not resolve host"; a first word with other capitals
 * is a name and stays ("SSL certificate problem", "OpenSSL/3.0.19: ...").
 */
static const char *
lower_first(char *buf, size_t len, const char *s)
{
    size_t i = 1;

    snprintf(buf, len, "%s", s);
    while (buf[0] != '\0' && isalpha((unsigned char)buf[i]) && !isupper((unsigned char)buf[i])) {
        i++;
    }
    if (buf[0] != '\0' && !isupper((unsigned char)buf[i])) {
        buf[0] = (char)tolower((unsigned char)buf[0]);
    }
    return buf;
}

/*
 * "timeout after 5000 ms (connected, waiting for response, 0 bytes received)" and kin: where the
 * transfer was (resolving, before connect, TLS handshake, request not sent, waiting for response
 * after the request went out, receiving headers, headers received, mid-body) and the body bytes.
 */
static void
fail_timeout(struct scrape *s, struct batch *b)
{
    curl_off_t dns = 0, conn = 0, tls = 0, pre = 0, first = 0;
    long code = 0;
    char *scheme = NULL;
    const char *where;

    curl_easy_getinfo(s->easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(s->easy, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(s->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
    curl_easy_getinfo(s->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(s->easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->easy, CURLINFO_SCHEME, &scheme);
    if (conn == 0 && dns == 0) {
        where = "resolving the host name";
    }
    else if (conn == 0) {
        where = "before connect";
    }
    else if (tls == 0 && scheme != NULL && strcasecmp(scheme, "https") == 0) {
        where = "connected, during the TLS handshake";
    }
    else if (pre == 0) {
        where = "connected, request not sent";
    }
    else if (first == 0) {
        where = "connected, waiting for response"; /* the request went out */
    }
    else if (code == 0 || !s->headers_done) {
        where = "connected, receiving headers";
    }
    else if (s->body_bytes == 0) {
        where = "connected, headers received";
    }
    else {
        where = "connected, mid-body";
    }
    batch_fail(b, REASON_TIMEOUT, "timeout after %lld ms (%s, %llu bytes received)",
               (long long)s->opts.timeout_ms, where, (unsigned long long)s->body_bytes);
}

static void
classify_failure(struct scrape *s, CURLcode rc, struct batch *b)
{
    char buf[CURL_ERROR_SIZE];
    const char *detail = s->xfer.errbuf[0] != '\0' ? s->xfer.errbuf : curl_easy_strerror(rc);
    long oserr = 0;

    if (s->kind_failed && !b->ok && b->reason != REASON_NONE) {
        return; /* the kind said why */
    }
    if (s->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        batch_fail(b, REASON_TOO_LARGE, "body larger than %llu bytes",
                   (unsigned long long)s->opts.body_limit);
        return;
    }
    enum reason r = scrape_reason_for(rc);
    if (r == REASON_NETWORK && strstr(detail, "chunk") != NULL) {
        r = REASON_PROTOCOL; /* curl reports bad chunked encoding as a receive error */
    }
    else if (r == REASON_NETWORK && strstr(detail, "SSL") != NULL) {
        r = REASON_TLS; /* a TLS alert after the handshake (TLS 1.3: certificate required) */
    }
    switch (r) {
    case REASON_NETWORK:
        batch_fail(b, r, "network: %s", lower_first(buf, sizeof(buf), detail));
        return;
    case REASON_TIMEOUT:
        fail_timeout(s, b);
        return;
    case REASON_CONNECT:
        curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &oserr);
        if (rc == CURLE_COULDNT_CONNECT && oserr != 0) {
            batch_fail(b, r, "connect: %s", lower_first(buf, sizeof(buf), strerror((int)oserr)));
        }
        else {
            batch_fail(b, r, "connection: %s", lower_first(buf, sizeof(buf), detail));
        }
        return;
    case REASON_DNS:
        batch_fail(b, r, "dns: %s", lower_first(buf, sizeof(buf), detail));
        return;
    case REASON_TLS:
        batch_fail(b, r, "tls: %s", lower_first(buf, sizeof(buf), detail));
        return;
    default:
        if (rc == CURLE_TOO_MANY_REDIRECTS) {
            batch_fail(b, r, "too many redirects (more than %ld)", s->opts.max_redirects);
        }
        else if (rc == CURLE_UNSUPPORTED_PROTOCOL && strstr(detail, "HTTP/0.9") == NULL) {
            batch_fail(b, r, "protocol not allowed (only http and https): %s", detail);
        }
        else if (r == REASON_PROTOCOL) {
            batch_fail(b, r, "protocol: %s", lower_first(buf, sizeof(buf), detail));
        }
        else {
            batch_fail(b, r == REASON_NONE ? REASON_INTERNAL : r, "%s",
                       lower_first(buf, sizeof(buf), detail));
        }
        return;
    }
}

/* The run's handle back to the pool (accepts none). */
static void
easy_give_back(struct scrape *s)
{
    easypool_put(s->easy);
    s->easy = NULL;
    s->xfer.easy = NULL;
}

/* The run is over: its handle goes back to the pool, the engine gets the batch. */
static void
run_done(struct scrape *s)
{
    struct batch *b = s->batch;

    s->ended = false;
    s->finished = false;
    if (s->held) {
        s->held = false;
        loop_release(s->loop);
    }
    easy_give_back(s);
    s->batch = NULL;
    s->done(s, b, s->arg);
}

/*
 * Takes the run on after its transfer ended, as far as one slice goes: the waiting bytes, the
 * failure's reason, the kind's finish, its finish_more slices. Ends the run when all is done;
 * otherwise the slice timer calls again (or, without a timer, the rest is done at once).
 */
static void
run_continue(struct scrape *s)
{
    struct batch *b = s->batch;

    if (s->wait_head != NULL) {
        feed_waiting(s, false);
        if (s->wait_head != NULL && slice_arm(s) == 0) {
            return;
        }
        feed_waiting(s, true);
    }
    if (!s->finished) {
        s->finished = true;
        if (s->rc != CURLE_OK || s->too_large || s->kind_failed) {
            classify_failure(s, s->rc, b);
        }
        else {
            b->ok = true;
            b->reason = REASON_NONE;
        }
        if (s->kind->finish != NULL) {
            s->kind->finish(s->kind_state, &s->res, s->easy, b);
        }
    }
    double t0 = clock_mono_s();
    /* What finish left, slice by slice: on in this turn while its time lasts. */
    while (s->kind->finish_more != NULL) {
        if (clock_mono_s() - t0 + s->fed_s >= SCRAPE_SLICE_S && slice_arm(s) == 0) {
            return;
        }
        if (!finish_more_step(s, b)) {
            break;
        }
    }
    run_done(s);
}

/* The transfer ended: the run goes on now, or from the slice timer when it needs slices. */
static void
run_ended(struct scrape *s)
{
    s->ended = true;
    s->finished = false;
    if (!s->held) {
        s->held = true;
        loop_hold(s->loop);
    }
    run_continue(s);
}

static void
slice_cb(evutil_socket_t fd, short what, void *arg)
{
    struct scrape *s = arg;

    (void)fd;
    (void)what;
    s->fed_s = 0;
    if (s->ended) {
        run_continue(s);
        return;
    }
    if (feed_waiting(s, false) != 0) {
        /* The body cannot be parsed: stop the transfer rather than read on to its end. */
        loop_xfer_cancel(s->loop, &s->xfer);
        xfer_result(s, CURLE_WRITE_ERROR);
        run_ended(s);
        return;
    }
    if (s->wait_head != NULL && slice_arm(s) != 0) {
        feed_waiting(s, true); /* no timer: the rest now (a failure aborts in the write callback) */
    }
}

/* The transport outcome of the transfer that just ended (or was stopped) with @rc. */
static void
xfer_result(struct scrape *s, CURLcode rc)
{
    struct batch *b = s->batch;
    char *ct = NULL;
    long connects = 0;

    s->rc = rc;
    s->res = (struct scrape_result){.rc = rc};
    /* Microsecond resolution: more digits would be clock noise in every output line. */
    s->res.duration_s = (double)(long long)((clock_mono_s() - s->started) * 1e6 + 0.5) / 1e6;
    s->res.body_bytes = s->body_bytes;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->res.http_status);
    curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
        s->connects += (uint64_t)connects;
    }
    s->res.content_type = ct;
    b->duration_s = s->res.duration_s;
    b->http_status = (int)s->res.http_status;
}

static void
scrape_xfer_done_cb(struct loop_xfer *x, CURLcode rc)
{
    struct scrape *s = x->arg;

    xfer_result(s, rc);
    run_ended(s);
}

static int easy_setup(struct scrape *s);

/* A handle from the pool, set up for the target (header lists made anew). 0 or -errno. */
static int
easy_take(struct scrape *s)
{
    s->easy = easypool_get();
    if (s->easy == NULL) {
        return -ENOMEM;
    }
    s->xfer.easy = s->easy;
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->proxy_headers);
    s->headers = s->proxy_headers = NULL;
    return easy_setup(s);
}

static int
easy_setup(struct scrape *s)
{
    static const struct httpc_opts defaults = {.follow_redirects = true};
    const struct httpc_opts *h = s->opts.http != NULL ? s->opts.http : &defaults;
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    /* The kind's lines first (Accept, ...), then the target's auth and custom headers. */
    if (s->kind->add_headers != NULL && s->kind->add_headers(s->kind_state, &s->headers) != 0) {
        rc = CURLE_OUT_OF_MEMORY;
    }
    if (rc == CURLE_OK) {
        rc = httpc_apply(e, h, &s->headers, &s->proxy_headers);
    }
    SET(CURLOPT_URL, s->opts.url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)s->opts.timeout_ms);
    /* Counts time queued behind connection limits too; we set no such limit. */
    SET(CURLOPT_TIMEOUT_MS, (long)s->opts.timeout_ms);
    SET(CURLOPT_MAXREDIRS, s->opts.max_redirects);
    /* Every encoding this libcurl decodes, gzip included, unless the job turned it off. */
    SET(CURLOPT_ACCEPT_ENCODING, h->no_compression ? NULL : "");
    SET(CURLOPT_WRITEFUNCTION, scrape_write_cb);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_HEADERFUNCTION, scrape_header_cb);
    SET(CURLOPT_HEADERDATA, s);
    if (s->opts.body_limit > 0) {
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->opts.body_limit);
    }
    /*
     * An address literal is never looked up, so its DNS cache entry cannot go stale: -1 spares
     * the walk over the whole DNS cache (one entry per host:port) that libcurl 7.88 makes at
     * the end of every transfer (Curl_hostcache_prune in multi_done), about a tenth of the CPU
     * with 500 targets on distinct ports. Through a proxy the proxy's name is looked up: kept.
     */
    if (h->proxy == NULL && !h->proxy_from_env && s->host_is_ip) {
        SET(CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    }
    if (s->opts.fresh_connect) {
        SET(CURLOPT_FRESH_CONNECT, 1L);
        SET(CURLOPT_FORBID_REUSE, 1L);
    }
    if (h->head) {
        SET(CURLOPT_NOBODY, 1L);
    }
#undef SET
    if (rc != CURLE_OK) {
        char *shown = httpc_redact_url_dup(s->opts.url);
        log_err("scrape: %s: curl_easy_setopt() failed: %s", shown != NULL ? shown : "(url)",
                curl_easy_strerror(rc));
        free(shown);
        return -EINVAL;
    }
    return 0;
}

struct scrape *
scrape_new(struct loop *l, const struct scrape_opts *opts, const struct job_kind *kind,
           void *kind_state, scrape_done_fn *done, void *arg)
{
    struct scrape *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return NULL;
    }
    s->loop = l;
    s->opts = *opts;
    s->host_is_ip = httpc_url_host_is_ip(opts->url);
    if (s->opts.max_redirects <= 0) {
        s->opts.max_redirects = HTTPC_MAX_REDIRECTS;
    }
    s->kind = kind;
    s->kind_state = kind_state;
    s->done = done;
    s->arg = arg;
    easypool_ref();
    s->pooled = true;
    if (s->opts.http != NULL && s->opts.http->oauth2 != NULL &&
        ((s->oauth2 = oauth2_new(l, s->opts.http->oauth2)) == NULL ||
         (s->blank = curl_easy_init()) == NULL)) {
        scrape_free(s);
        return NULL;
    }
    /* The options are checked once here; each run sets them up again on its handle. */
    if (easy_take(s) != 0) {
        scrape_free(s);
        return NULL;
    }
    easy_give_back(s);
    s->xfer.done = scrape_xfer_done_cb;
    s->xfer.arg = s;
    if (!s->opts.fresh_connect) {
        loop_conn_reserve(l);
        s->conn_reserved = true;
    }
    return s;
}

void
scrape_free(struct scrape *s)
{
    if (s == NULL) {
        return;
    }
    if (s->xfer.active) {
        loop_xfer_cancel(s->loop, &s->xfer);
    }
    if (s->slice_ev != NULL) {
        event_free(s->slice_ev);
    }
    wait_clear(s);
    if (s->held) {
        loop_release(s->loop);
    }
    if (s->conn_reserved) {
        loop_conn_release(s->loop);
    }
    oauth2_release(s->oauth2, s);
    if (s->blank != NULL) {
        curl_easy_cleanup(s->blank);
    }
    easy_give_back(s);
    if (s->pooled) {
        easypool_unref();
    }
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->proxy_headers);
    curl_slist_free_all(s->auth_headers);
    free(s);
}

uint64_t
scrape_take_connects(struct scrape *s)
{
    uint64_t n = s->connects;

    s->connects = 0;
    return n;
}

bool
scrape_busy(const struct scrape *s)
{
    return s->xfer.active || s->token_wait || s->ended;
}

/* Starts the transfer of the run in s->batch; on failure the batch says why. */
static int
xfer_start(struct scrape *s)
{
    struct batch *b = s->batch;
    int err = loop_xfer_start(s->loop, &s->xfer);

    if (err != 0) {
        batch_fail(b, REASON_INTERNAL, "%s", s->xfer.errbuf);
        easy_give_back(s);
        s->batch = NULL;
    }
    return err;
}

/*
 * oauth2_done_fn: the token of a waiting run arrived (the run starts, with what is left of its
 * deadline) or could not be had (the run fails with the token request's reason).
 */
static void
scrape_token_cb(void *arg, const char *line, enum reason reason, const char *error)
{
    struct scrape *s = arg;
    struct batch *b = s->batch;
    int64_t left = s->opts.timeout_ms - (int64_t)((clock_mono_s() - s->started) * 1000.0);

    s->token_wait = false;
    if (line != NULL && left > 0 &&
        oauth2_set_header(line, s->easy, s->headers, &s->auth_headers) == 0) {
        curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)left);
        if (xfer_start(s) == 0) {
            return;
        }
    }
    else if (line != NULL && left <= 0) {
        batch_fail(b, REASON_TIMEOUT, "timeout after %lld ms (fetching the oauth2 token)",
                   (long long)s->opts.timeout_ms);
    }
    else if (line != NULL) {
        batch_fail(b, REASON_INTERNAL, "out of memory");
    }
    else {
        batch_fail(b, reason, "oauth2: %s", error);
    }
    b->duration_s = clock_mono_s() - s->started;
    b->http_status = 0;
    /*
     * The kind finishes the failed run as any other (a probe adds probe_success 0), reading a
     * handle that never ran: the target's own still holds the last run's figures.
     */
    if (s->kind->finish != NULL) {
        struct scrape_result res = {.rc = CURLE_LOGIN_DENIED, .duration_s = b->duration_s};
        s->kind->finish(s->kind_state, &res, s->blank, b);
    }
    while (s->kind->finish_more != NULL && finish_more_step(s, b)) {
    }
    easy_give_back(s);
    s->batch = NULL;
    s->done(s, b, s->arg);
}

void
scrape_set_part(struct scrape *s, scrape_done_fn *part)
{
    s->part = part;
}

int
scrape_start(struct scrape *s, struct batch *b)
{
    if (scrape_busy(s)) {
        batch_fail(b, REASON_INTERNAL, "previous run still in flight");
        return -EBUSY;
    }
    s->batch = b;
    b->parts_ok = b->parts_ok && s->part != NULL;
    s->body_bytes = 0;
    s->body_started = false;
    s->headers_done = false;
    s->too_large = false;
    s->kind_failed = false;
    s->fed_s = 0;
    b->ts_ms = clock_wall_ms();
    b->ok = false;
    b->reason = REASON_NONE;
    b->error[0] = '\0';
    if (easy_take(s) != 0) {
        easy_give_back(s);
        batch_fail(b, REASON_INTERNAL, "cannot set up the request");
        s->batch = NULL;
        return -EINVAL;
    }
    if (s->kind->prepare != NULL && s->kind->prepare(s->kind_state, s->easy, b) != 0) {
        if (b->reason == REASON_NONE) {
            batch_fail(b, REASON_INTERNAL, "%s: cannot prepare the request", s->kind->name);
        }
        easy_give_back(s);
        s->batch = NULL;
        return -EINVAL;
    }
    s->started = clock_mono_s();
    if (s->oauth2 != NULL) {
        const char *line = oauth2_cached(s->oauth2, clock_mono_ms());
        char why[CURL_ERROR_SIZE + 32];
        if (line == NULL) {
            int err =
                oauth2_fetch(s->oauth2, s->opts.timeout_ms, scrape_token_cb, s, why, sizeof(why));
            if (err != 0) {
                batch_fail(b, REASON_INTERNAL, "%s", why);
                easy_give_back(s);
                s->batch = NULL;
                return err;
            }
            s->token_wait = true;
            return 0;
        }
        /* A good token: this run has its whole deadline. */
        curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)s->opts.timeout_ms);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)s->opts.timeout_ms);
        if (oauth2_set_header(line, s->easy, s->headers, &s->auth_headers) != 0) {
            batch_fail(b, REASON_INTERNAL, "out of memory");
            easy_give_back(s);
            s->batch = NULL;
            return -ENOMEM;
        }
    }
    return xfer_start(s);
}

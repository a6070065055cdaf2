/*
 * The status HTTP server. Runs on the same event_base as the collection loop: handlers only
 * format in-memory state, never block.
 *
 * evhttp (libevent 2.1) has no connection cap and only per-read/per-write timeouts, so a client
 * sending a header line every few seconds could hold a connection for ever, and many such clients
 * every descriptor. Each connection's bufferevent is made here (evhttp_set_bevcb) and kept with
 * a reference: a sweep closes the connections past their deadline, or over the cap, the way
 * evhttp's own timeout does (a timeout event on the bufferevent), and lets go of those evhttp
 * freed (their event callback is gone).
 */
#include "build-config.h"

#include "status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "clock.h"
#include "log.h"
#include "units.h"

/* One connection evhttp serves; its bufferevent is held by a reference of ours. */
struct status_conn {
    struct status_conn *next; /* owned */
    struct bufferevent *bev;  /* one reference owned */
    mono_ms start;            /* accepted, or the previous request dispatched */
    bool doomed;              /* over the cap, or past the deadline: closed by the sweep */
    bool fd_checked;          /* its descriptor was checked against the reserve */
};

struct status {
    struct evhttp *http;     /* owned */
    struct event_base *base; /* borrowed */
    struct status_limits limits;
    struct status_conn *conns; /* owned: every connection evhttp has not let go of */
    unsigned nconns;           /* in conns and alive */
    struct event *sweep;       /* owned: armed while conns is not empty */
    struct log_limit conn_limit;
    const struct status_hooks *hooks; /* borrowed */
    void *arg;
    unsigned port;
    char address[300];
    struct strbuf body; /* owned: reused for /metrics */
    /* accept() failing (EMFILE, ENFILE): stop accepting for a while, log at a bounded rate. */
    struct evconnlistener *lev; /* borrowed: evhttp's listener */
    struct event *backoff;      /* owned: re-enables the listener */
    int64_t backoff_ms;         /* current pause, doubling up to STATUS_BACKOFF_MAX_MS */
    struct log_limit accept_limit;
};

#define STATUS_BACKOFF_MIN_MS 100
#define STATUS_BACKOFF_MAX_MS 1000
#define STATUS_SWEEP_MS 250
#define STATUS_FD_RESERVE_MIN 16
#define STATUS_FD_GRACE_MS 1000

/*
 * evhttp's listener calls its error callback with evhttp's own argument, not ours: the (few)
 * status servers of the process are found by their listener here.
 */
#define STATUS_MAX_SERVERS 8
static struct status *servers[STATUS_MAX_SERVERS];

static unsigned conns_release(struct status *st);

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct status *st = arg;

    (void)fd;
    (void)what;
    conns_release(st); /* the descriptors of connections evhttp freed meanwhile, first */
    evconnlistener_enable(st->lev);
}

/*
 * accept() failed with something other than EAGAIN/EINTR/ECONNABORTED. Out of descriptors the
 * listening socket stays readable, so libevent would call accept() again at once, forever (100%
 * CPU and a log line each time): pause the listener instead, longer while it keeps failing.
 */
static void
accept_error_cb(struct evconnlistener *lev, void *ctx)
{
    int err = EVUTIL_SOCKET_ERROR();
    struct status *st = NULL;

    (void)ctx;
    for (size_t i = 0; i < STATUS_MAX_SERVERS; i++) {
        if (servers[i] != NULL && servers[i]->lev == lev) {
            st = servers[i];
        }
    }
    if (st == NULL) {
        return;
    }
    st->backoff_ms = st->backoff_ms == 0                          ? STATUS_BACKOFF_MIN_MS
                     : st->backoff_ms * 2 > STATUS_BACKOFF_MAX_MS ? STATUS_BACKOFF_MAX_MS
                                                                  : st->backoff_ms * 2;
    struct timeval tv = {.tv_sec = st->backoff_ms / 1000, .tv_usec = st->backoff_ms % 1000 * 1000};
    conns_release(st);
    evconnlistener_disable(lev);
    evtimer_add(st->backoff, &tv);
    log_complain(&st->accept_limit, clock_mono_ms(), err, "status",
                 "accept() failed: %s; not accepting connections for %lld ms", strerror(err),
                 (long long)st->backoff_ms);
}

/* A request got through: accepting works again. */
static void
accept_ok(struct status *st)
{
    if (st->backoff_ms != 0) {
        st->backoff_ms = 0;
        log_release(&st->accept_limit, clock_mono_ms(), "status");
    }
}

/* Takes over accept() errors of @bound's listener; 0 or -1 (too many servers, no memory). */
static int
watch_accept(struct status *st, struct event_base *base, struct evhttp_bound_socket *bound)
{
    for (size_t i = 0; i < STATUS_MAX_SERVERS; i++) {
        if (servers[i] == NULL) {
            st->lev = evhttp_bound_socket_get_listener(bound);
            st->backoff = evtimer_new(base, backoff_cb, st);
            if (st->lev == NULL || st->backoff == NULL) {
                return -1;
            }
            servers[i] = st;
            evconnlistener_set_error_cb(st->lev, accept_error_cb);
            return 0;
        }
    }
    return -1;
}

static void
arm_sweep(struct status *st, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

    evtimer_add(st->sweep, &tv);
}

/*
 * Descriptors from here up are kept for scrapes and outputs: a quarter of RLIMIT_NOFILE, at
 * least STATUS_FD_RESERVE_MIN. A status connection that got one is closed at once.
 */
static int
fd_ceiling(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > INT_MAX) {
        return INT_MAX;
    }
    int n = (int)rl.rlim_cur;
    int reserve = n / 4 > STATUS_FD_RESERVE_MIN ? n / 4 : STATUS_FD_RESERVE_MIN;
    return n - reserve;
}

/* A new connection's descriptor is in the reserve: it is closed (logged at a bounded rate). */
static void
conn_check_fd(struct status *st, struct status_conn *c, mono_ms now, unsigned alive)
{
    int fd = (int)bufferevent_getfd(c->bev);
    int ceiling;

    /*
     * After a grace period: a request sent at once (a health check just after a flood) is served;
     * what holds a reserved descriptor longer is closed.
     */
    if (c->fd_checked || c->doomed || fd < 0 || now - c->start < STATUS_FD_GRACE_MS) {
        return;
    }
    c->fd_checked = true;
    ceiling = fd_ceiling();
    /*
     * Only while the status server itself holds many descriptors: closing one of a few status
     * connections frees nothing that matters to the scrapes, and a health check must still pass
     * just after a flood.
     */
    if (fd >= ceiling && alive > STATUS_FD_RESERVE_MIN / 2) {
        c->doomed = true;
        log_complain(&st->conn_limit, now, ENFILE, "status",
                     "got descriptor %d, at or past %d (RLIMIT_NOFILE less a quarter): closing "
                     "status connections there, the rest is kept for scrapes and outputs",
                     fd, ceiling);
    }
}

/* False once evhttp freed the connection: bufferevent_free() cleared its callbacks. */
static bool
conn_alive(struct status_conn *c)
{
    bufferevent_event_cb eventcb = NULL;

    bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
    return eventcb != NULL;
}

/*
 * Lets go of the connections evhttp freed (their descriptors close now); the number of those
 * left that are not doomed.
 */
static unsigned
conns_release(struct status *st)
{
    unsigned alive = 0;

    for (struct status_conn **pp = &st->conns; *pp != NULL;) {
        struct status_conn *c = *pp;
        if (!conn_alive(c)) {
            *pp = c->next;
            bufferevent_decref(c->bev); /* the last reference: closes the descriptor */
            free(c);
            st->nconns--;
            continue;
        }
        alive += !c->doomed;
        pp = &c->next;
    }
    return alive;
}

/*
 * Lets go of the connections evhttp freed (bufferevent_free() cleared their callbacks; our
 * reference kept the memory), and closes the doomed and those past the deadline as evhttp's own
 * timeout does. Never called from inside evhttp.
 */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct status *st = arg;
    mono_ms now = clock_mono_ms();

    (void)fd;
    (void)what;
    unsigned alive = conns_release(st);
    for (struct status_conn **pp = &st->conns; *pp != NULL;) {
        struct status_conn *c = *pp;
        if (!c->doomed && now - c->start >= st->limits.request_timeout_ms) {
            c->doomed = true;
        }
        conn_check_fd(st, c, now, alive);
        if (c->doomed && conn_alive(c)) {
            /* evhttp frees the connection (its error callback), as after a read timeout. */
            bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
        }
        if (!conn_alive(c)) {
            *pp = c->next;
            bufferevent_decref(c->bev); /* the last reference: closes the descriptor */
            free(c);
            st->nconns--;
            continue;
        }
        pp = &c->next;
    }
    if (st->conns != NULL) {
        arm_sweep(st, STATUS_SWEEP_MS);
    }
}

/* evhttp accepted a connection: its bufferevent, counted and watched. NULL: evhttp fails it. */
static struct bufferevent *
conn_new_cb(struct event_base *base, void *arg)
{
    struct status *st = arg;
    struct status_conn *c;

    conns_release(st); /* the cap counts the connections evhttp still serves, not those it freed */
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(c);
        return NULL;
    }
    bufferevent_incref(c->bev);
    c->start = clock_mono_ms();
    c->next = st->conns;
    st->conns = c;
    if (st->nconns >= st->limits.max_connections) {
        c->doomed = true;
        log_complain(&st->conn_limit, c->start, EMFILE, "status",
                     "%u connections open (status.max_connections): closing new ones", st->nconns);
        arm_sweep(st, 0);
    }
    else {
        if (st->nconns == 0) {
            log_release(&st->conn_limit, c->start, "status");
        }
        arm_sweep(st, STATUS_SWEEP_MS);
    }
    st->nconns++;
    return c->bev;
}

/* A request arrived whole on @req's connection: its deadline starts again for the next one. */
static void
conn_request(struct status *st, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;

    for (struct status_conn *c = st->conns; c != NULL && bev != NULL; c = c->next) {
        if (c->bev == bev && !c->doomed) {
            c->start = clock_mono_ms();
        }
    }
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason, const char *ctype,
           const char *body, size_t len)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, NULL);
}

static void
status_request_cb(struct evhttp_request *req, void *arg)
{
    struct status *st = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    char path[256];
    const char *q = strchr(uri, '?');

    accept_ok(st);
    conn_request(st, req);
    size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);

    if (plen >= sizeof(path)) {
        reply_text(req, 414, "URI Too Long", "text/plain", "uri too long\n", 13);
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    if (strcmp(path, "/-/reload") == 0) {
        char err[1024] = "";
        static const char off[] = "Lifecycle API is not enabled (status.enable_lifecycle).\n";
        if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_PUT) {
            reply_text(req, 405, "Method Not Allowed", "text/plain", "use POST\n", 9);
        }
        else if (!st->limits.lifecycle) {
            reply_text(req, 403, "Forbidden", "text/plain", off, sizeof(off) - 1);
        }
        else if (st->hooks->reload == NULL) {
            reply_text(req, 404, "Not Found", "text/plain", "nothing to reload\n", 18);
        }
        else if (st->hooks->reload(st->arg, err, sizeof(err)) != 0) {
            size_t n = strlen(err);
            if (n + 1 < sizeof(err)) {
                err[n++] = '\n';
            }
            reply_text(req, 500, "Internal Server Error", "text/plain", err, n);
        }
        else {
            reply_text(req, 200, "OK", "text/plain", "reloaded\n", 9);
        }
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        reply_text(req, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
        return;
    }
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/-/healthy") == 0 ||
        strcmp(path, "/-/ready") == 0) {
        reply_text(req, 200, "OK", "text/plain", "ok\n", 3);
        return;
    }
    status_render_fn *render = NULL;
    const char *ctype = NULL;
    if (strcmp(path, "/metrics") == 0) {
        render = st->hooks->metrics;
        ctype = "text/plain; version=0.0.4; charset=utf-8";
    }
    else if (strcmp(path, "/api/v1/targets") == 0) {
        render = st->hooks->targets;
        ctype = "application/json";
    }
    if (render != NULL) {
        strbuf_reset(&st->body);
        render(&st->body, st->arg);
        if (st->body.oom) {
            reply_text(req, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
            return;
        }
        reply_text(req, 200, "OK", ctype, st->body.data != NULL ? st->body.data : "", st->body.len);
        return;
    }
    if (st->hooks->page != NULL) {
        int code = 200;
        strbuf_reset(&st->body);
        ctype = st->hooks->page(&st->body, path, q != NULL ? q + 1 : "", &code, st->arg);
        if (ctype != NULL && st->body.oom) {
            reply_text(req, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
            return;
        }
        if (ctype != NULL) {
            reply_text(req, code, code == 200 ? "OK" : "Bad Request", ctype,
                       st->body.data != NULL ? st->body.data : "", st->body.len);
            return;
        }
    }
    if (strcmp(path, "/") == 0) {
        static const char index[] =
            "pollster status: /metrics /api/v1/targets /healthz /-/ready, POST /-/reload\n";
        reply_text(req, 200, "OK", "text/plain", index, sizeof(index) - 1);
        return;
    }
    reply_text(req, 404, "Not Found", "text/plain", "not found\n", 10);
}

struct status *
status_new(struct event_base *base, const char *listen, const struct status_hooks *hooks, void *arg,
           char *err, size_t errlen)
{
    char host[256];
    unsigned port;
    struct status *st;
    struct evhttp_bound_socket *bound;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (units_parse_listen(listen, host, sizeof(host), &port, err, errlen) != 0) {
        return NULL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    strbuf_init(&st->body);
    st->hooks = hooks;
    st->arg = arg;
    st->base = base;
    st->limits = (struct status_limits){.lifecycle = false,
                                        .max_connections = STATUS_MAX_CONNECTIONS,
                                        .request_timeout_ms = STATUS_REQUEST_TIMEOUT_MS};
    st->sweep = evtimer_new(base, sweep_cb, st);
    if (st->sweep == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    st->http = evhttp_new(base);
    if (st->http == NULL) {
        snprintf(err, errlen, "evhttp_new() failed");
        goto fail;
    }
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    evhttp_set_timeout_tv(st->http, &tv); /* read and write timeouts */
    evhttp_set_max_headers_size(st->http, 16384);
    evhttp_set_max_body_size(st->http, 65536);
    evhttp_set_allowed_methods(st->http,
                               EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    evhttp_set_gencb(st->http, status_request_cb, st);
    evhttp_set_bevcb(st->http, conn_new_cb, st);
    bound = evhttp_bind_socket_with_handle(st->http, host, (ev_uint16_t)port);
    if (bound == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(errno));
        goto fail;
    }
    if (watch_accept(st, base, bound) != 0) {
        snprintf(err, errlen, "cannot watch the listener of %s: out of memory", listen);
        goto fail;
    }
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0) {
        char a[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
            st->port = ntohs(s6->sin6_port);
            snprintf(st->address, sizeof(st->address), "[%s]:%u", a, st->port);
        }
        else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
            st->port = ntohs(s4->sin_port);
            snprintf(st->address, sizeof(st->address), "%s:%u", a, st->port);
        }
    }
    log_info("status: listening on http://%s/metrics", st->address);
    return st;
fail:
    status_free(st);
    return NULL;
}

void
status_free(struct status *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < STATUS_MAX_SERVERS; i++) {
        if (servers[i] == st) {
            servers[i] = NULL;
        }
    }
    if (st->backoff != NULL) {
        event_free(st->backoff);
    }
    if (st->http != NULL) {
        evhttp_free(st->http); /* frees every connection's bufferevent (our references stay) */
    }
    while (st->conns != NULL) {
        struct status_conn *c = st->conns;
        st->conns = c->next;
        bufferevent_decref(c->bev);
        free(c);
    }
    if (st->sweep != NULL) {
        event_free(st->sweep);
    }
    strbuf_release(&st->body);
    free(st);
}

void
status_set_limits(struct status *st, const struct status_limits *lim)
{
    st->limits = *lim;
    if (st->limits.max_connections == 0) {
        st->limits.max_connections = 1;
    }
}

unsigned
status_port(const struct status *st)
{
    return st->port;
}

const char *
status_address(const struct status *st)
{
    return st->address;
}

/* A scripted metrics sink on loopback for the http output's tests (see mock_sink.h). */
#include "build-config.h"

#include "mock_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define SINK_MAX 4096

struct pending {
    struct mock_sink *m;
    struct evhttp_request *req;
    struct mock_sink_answer a;
    struct event *ev;
    struct pending *next;
};

struct mock_sink {
    struct event_base *base;
    struct evhttp *http;
    unsigned port;
    struct mock_sink_answer script[64];
    size_t nscript, next;
    size_t requests;
    double arrival[SINK_MAX];
    char *bodies[SINK_MAX];
    size_t lens[SINK_MAX];
    size_t accepted;
    char *all;
    struct pending *delayed; /* answers not given yet */
    char headers[2048];      /* "Name: value\n" lines of the last request */
    char content_type[128];
    char content_encoding[64];
};

static double
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Inflates a gzip body; NULL on a bad stream. */
static char *
gunzip(const unsigned char *in, size_t len, size_t *outlen)
{
    size_t cap = len * 8 + 1024, n = 0;
    char *out = malloc(cap);
    z_stream zs;

    memset(&zs, 0, sizeof(zs));
    if (out == NULL || inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(out);
        return NULL;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (cap - n < 4096) {
            cap *= 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL) {
                break;
            }
            out = bigger;
        }
        zs.next_out = (Bytef *)out + n;
        zs.avail_out = (uInt)(cap - n - 1);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = cap - 1 - zs.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

static void
answer(struct mock_sink *m, struct evhttp_request *req, const struct mock_sink_answer *a)
{
    int status = a->status != 0 ? a->status : 200;

    if (a->reset) {
        /* RST the socket under evhttp: the client sees a reset, evhttp a failed reply. */
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        struct bufferevent *bev = evhttp_connection_get_bufferevent(c);
        evutil_socket_t fd = bufferevent_getfd(bev);
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        shutdown(fd, SHUT_RDWR);
        evhttp_send_reply(req, 500, "Reset", NULL);
        return;
    }
    if (status >= 200 && status < 300 && m->accepted < SINK_MAX) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        unsigned char *raw = evbuffer_pullup(in, -1);
        char *body = NULL;
        size_t blen = 0;
        if (strcmp(m->content_encoding, "gzip") == 0) {
            body = gunzip(raw, len, &blen);
        }
        else {
            body = malloc(len + 1);
            if (body != NULL) {
                memcpy(body, raw, len);
                body[len] = '\0';
                blen = len;
            }
        }
        if (body == NULL) {
            status = 400;
        }
        else {
            m->bodies[m->accepted] = body;
            m->lens[m->accepted++] = blen;
        }
    }
    if (a->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", a->retry_after);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    }
    if (a->body != NULL) {
        evbuffer_add(evhttp_request_get_output_buffer(req), a->body, strlen(a->body));
    }
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", NULL);
}

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    struct pending **pp = &p->m->delayed;

    (void)fd;
    (void)what;
    while (*pp != p) {
        pp = &(*pp)->next;
    }
    *pp = p->next;
    answer(p->m, p->req, &p->a);
    event_free(p->ev);
    free(p);
}

static void
sink_cb(struct evhttp_request *req, void *arg)
{
    struct mock_sink *m = arg;
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(h, "Content-Type");
    const char *ce = evhttp_find_header(h, "Content-Encoding");
    struct mock_sink_answer a = {0};

    size_t off = 0;
    m->headers[0] = '\0';
    for (struct evkeyval *kv = h->tqh_first; kv != NULL && off < sizeof(m->headers);
         kv = kv->next.tqe_next) {
        off += (size_t)snprintf(m->headers + off, sizeof(m->headers) - off, "%s: %s\n", kv->key,
                                kv->value);
    }
    snprintf(m->content_type, sizeof(m->content_type), "%s", ct != NULL ? ct : "");
    snprintf(m->content_encoding, sizeof(m->content_encoding), "%s", ce != NULL ? ce : "");
    if (m->requests < SINK_MAX) {
        m->arrival[m->requests] = mono_ms();
    }
    m->requests++;
    if (m->next < m->nscript) {
        a = m->script[m->next++];
    }
    if (a.delay_ms > 0) {
        struct pending *p = calloc(1, sizeof(*p));
        struct timeval tv = {.tv_sec = a.delay_ms / 1000, .tv_usec = (a.delay_ms % 1000) * 1000};
        p->m = m;
        p->req = req;
        p->a = a;
        p->a.delay_ms = 0;
        p->ev = evtimer_new(m->base, delayed_cb, p);
        p->next = m->delayed;
        m->delayed = p;
        evtimer_add(p->ev, &tv);
        return;
    }
    answer(m, req, &a);
}

static int
listen_on(struct mock_sink *m, unsigned port)
{
    m->http = evhttp_new(m->base);
    if (m->http == NULL) {
        return -1;
    }
    evhttp_set_max_body_size(m->http, 256 << 20);
    evhttp_set_gencb(m->http, sink_cb, m);
    struct evhttp_bound_socket *b =
        evhttp_bind_socket_with_handle(m->http, "127.0.0.1", (ev_uint16_t)port);
    if (b == NULL) {
        evhttp_free(m->http);
        m->http = NULL;
        return -1;
    }
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sin, &sl);
    m->port = ntohs(sin.sin_port);
    return 0;
}

struct mock_sink *
mock_sink_new(struct event_base *base)
{
    struct mock_sink *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->base = base;
    if (listen_on(m, 0) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void
mock_sink_stop(struct mock_sink *m)
{
    /* Unanswered requests die with the server (evhttp_free frees them). */
    while (m->delayed != NULL) {
        struct pending *p = m->delayed;
        m->delayed = p->next;
        event_free(p->ev);
        free(p);
    }
    if (m->http != NULL) {
        evhttp_free(m->http);
        m->http = NULL;
    }
}

int
mock_sink_start(struct mock_sink *m)
{
    return m->http != NULL ? 0 : listen_on(m, m->port);
}

void
mock_sink_free(struct mock_sink *m)
{
    if (m == NULL) {
        return;
    }
    mock_sink_stop(m);
    for (size_t i = 0; i < m->accepted; i++) {
        free(m->bodies[i]);
    }
    free(m->all);
    free(m);
}

unsigned
mock_sink_port(const struct mock_sink *m)
{
    return m->port;
}

void
mock_sink_script(struct mock_sink *m, struct mock_sink_answer a)
{
    if (m->nscript < sizeof(m->script) / sizeof(m->script[0])) {
        m->script[m->nscript++] = a;
    }
}

size_t
mock_sink_requests(const struct mock_sink *m)
{
    return m->requests;
}

size_t
mock_sink_accepted(const struct mock_sink *m)
{
    return m->accepted;
}

const char *
mock_sink_body(const struct mock_sink *m, size_t i, size_t *len)
{
    if (len != NULL) {
        *len = i < m->accepted ? m->lens[i] : 0;
    }
    return i < m->accepted ? m->bodies[i] : NULL;
}

const char *
mock_sink_all(struct mock_sink *m)
{
    size_t total = 0, off = 0;

    for (size_t i = 0; i < m->accepted; i++) {
        total += m->lens[i];
    }
    free(m->all);
    m->all = malloc(total + 1);
    for (size_t i = 0; i < m->accepted && m->all != NULL; i++) {
        memcpy(m->all + off, m->bodies[i], m->lens[i]);
        off += m->lens[i];
    }
    if (m->all != NULL) {
        m->all[off] = '\0';
    }
    return m->all;
}

double
mock_sink_arrival_ms(const struct mock_sink *m, size_t i)
{
    return i < m->requests && i < SINK_MAX ? m->arrival[i] : 0;
}

const char *
mock_sink_content_type(const struct mock_sink *m)
{
    return m->content_type;
}

const char *
mock_sink_headers(const struct mock_sink *m)
{
    return m->headers;
}

const char *
mock_sink_content_encoding(const struct mock_sink *m)
{
    return m->content_encoding;
}

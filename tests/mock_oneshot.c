/* See mock_oneshot.h. Connections still open at free are closed with it. */
#include "build-config.h"

#include "mock_oneshot.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct oneshot_conn {
    struct oneshot_conn *next;
    struct mock_oneshot *m;
    struct bufferevent *bev;
    unsigned requests;
    size_t body_left; /* of the request being read */
};

struct mock_oneshot {
    struct evconnlistener *lis;
    struct oneshot_conn *conns;
    unsigned port;
    unsigned accepted;
    unsigned answered;
};

static void
conn_close(struct oneshot_conn *c)
{
    struct oneshot_conn **pp = &c->m->conns;

    while (*pp != c) {
        pp = &(*pp)->next;
    }
    *pp = c->next;
    bufferevent_free(c->bev);
    free(c);
}

/* The Content-Length of the request head @h[0..n), 0 without one. */
static size_t
content_length(const char *h, size_t n)
{
    static const char name[] = "\r\ncontent-length:";
    size_t nl = sizeof(name) - 1;

    for (size_t i = 0; i + nl <= n; i++) {
        if (strncasecmp(h + i, name, nl) == 0) {
            return (size_t)strtoul(h + i + nl, NULL, 10);
        }
    }
    return 0;
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
    struct oneshot_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        if (c->body_left > 0) {
            size_t n = evbuffer_get_length(in);
            n = n < c->body_left ? n : c->body_left;
            evbuffer_drain(in, n);
            c->body_left -= n;
            if (c->body_left > 0) {
                return;
            }
            c->m->answered++;
            evbuffer_add_printf(bufferevent_get_output(bev),
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 4\r\n\r\nx 1\n");
            continue;
        }
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (end.pos < 0) {
            return;
        }
        if (++c->requests > 1) {
            conn_close(c); /* not one byte of an answer */
            return;
        }
        size_t head_len = (size_t)end.pos + 4;
        const char *head = (const char *)evbuffer_pullup(in, (ev_ssize_t)head_len);
        size_t body = head != NULL ? content_length(head, head_len) : 0;
        evbuffer_drain(in, head_len);
        c->body_left = body;
        if (body == 0) {
            c->m->answered++;
            evbuffer_add_printf(bufferevent_get_output(bev),
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 4\r\n\r\nx 1\n");
        }
    }
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_close(arg);
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct mock_oneshot *m = arg;
    struct oneshot_conn *c = calloc(1, sizeof(*c));

    (void)sa;
    (void)len;
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->m = m;
    c->next = m->conns;
    m->conns = c;
    m->accepted++;
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ);
}

struct mock_oneshot *
mock_oneshot_new(struct event_base *base)
{
    struct mock_oneshot *m = calloc(1, sizeof(*m));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_storage ss;
    ev_socklen_t len = sizeof(ss);

    if (m == NULL) {
        return NULL;
    }
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m->lis = evconnlistener_new_bind(base, accept_cb, m, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                     16, (struct sockaddr *)&sin, sizeof(sin));
    if (m->lis == NULL ||
        getsockname(evconnlistener_get_fd(m->lis), (struct sockaddr *)&ss, &len) != 0) {
        mock_oneshot_free(m);
        return NULL;
    }
    m->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return m;
}

void
mock_oneshot_free(struct mock_oneshot *m)
{
    if (m == NULL) {
        return;
    }
    while (m->conns != NULL) {
        conn_close(m->conns);
    }
    if (m->lis != NULL) {
        evconnlistener_free(m->lis);
    }
    free(m);
}

unsigned
mock_oneshot_port(const struct mock_oneshot *m)
{
    return m->port;
}

unsigned
mock_oneshot_accepted(const struct mock_oneshot *m)
{
    return m->accepted;
}

unsigned
mock_oneshot_answered(const struct mock_oneshot *m)
{
    return m->answered;
}

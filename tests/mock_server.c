/* Mock HTTP targets on loopback for the integration tests (see mock_server.h). */
#include "build-config.h"

#include "mock_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct mock_server {
    struct evhttp *http;
    struct event_base *base;
    unsigned port;
    unsigned requests;
    char last_headers[4096]; /* "Name: value\n" lines of the last request */
    char *auth;              /* owned: the Authorization value every request needs; NULL: none */
};

struct delayed {
    struct evhttp_request *req;
    struct event *ev;
};

static void
reply(struct evhttp_request *req, int code, const char *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Status", NULL);
}

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct delayed *d = arg;

    reply(d->req, 200, "slow hello\n");
    event_free(d->ev);
    free(d);
}

/* Sends @len bytes of @plain gzip-compressed, chunked in pieces of @piece bytes. */
static void
send_gzip_body(struct evhttp_request *req, const char *plain, size_t len, size_t piece)
{
    size_t cap = compressBound((uLong)len) + 64;
    unsigned char *gz = malloc(cap);
    z_stream zs;

    memset(&zs, 0, sizeof(zs));
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *)plain;
    zs.avail_in = (unsigned)len;
    zs.next_out = gz;
    zs.avail_out = (unsigned)cap;
    deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Encoding", "gzip");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
    evhttp_send_reply_start(req, 200, "OK");
    /* Several chunks, split inside the gzip stream. */
    for (size_t at = 0; at < n; at += piece) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, gz + at, n - at < piece ? n - at : piece);
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
    }
    evhttp_send_reply_end(req);
    free(gz);
}

static void
send_gzip(struct evhttp_request *req)
{
    char plain[2000];
    size_t off = 0;

    for (int i = 0; i < 100; i++) {
        memcpy(plain + off, "compressed hello\n", 17);
        off += 17;
    }
    send_gzip_body(req, plain, off, 7);
}

static void
send_file(struct evhttp_request *req, const char *name, bool gzip)
{
    const char *dir = getenv("FIXTURES");
    char path[1024];
    char buf[65536];
    size_t n;

    if (strchr(name, '/') != NULL || strstr(name, "..") != NULL) {
        reply(req, 400, "bad name\n");
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        reply(req, 404, "no such fixture\n");
        return;
    }
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        evbuffer_add(out, buf, n);
    }
    fclose(f);
    if (gzip) {
        size_t len = evbuffer_get_length(out);
        char *plain = malloc(len + 1);
        evbuffer_remove(out, plain, len);
        send_gzip_body(req, plain, len, 1000);
        free(plain);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void
mock_cb(struct evhttp_request *req, void *arg)
{
    struct mock_server *m = arg;
    const char *uri = evhttp_request_get_uri(req);
    char loc[128];
    long n;

    m->requests++;
    size_t off = 0;
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    m->last_headers[0] = '\0';
    for (struct evkeyval *h = hdrs->tqh_first; h != NULL; h = h->next.tqe_next) {
        int w = snprintf(m->last_headers + off, sizeof(m->last_headers) - off, "%s: %s\n", h->key,
                         h->value);
        if (w < 0 || (size_t)w >= sizeof(m->last_headers) - off) {
            break;
        }
        off += (size_t)w;
    }
    const char *got = evhttp_find_header(hdrs, "Authorization");
    if (m->auth != NULL && (got == NULL || strcmp(got, m->auth) != 0)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Basic realm=\"mock\"");
        reply(req, 401, "unauthorized\n");
        return;
    }
    int pos = 0;
    unsigned to_port = 0;
    if (sscanf(uri, "/to/%u%n", &to_port, &pos) == 1 && uri[pos] == '/') {
        snprintf(loc, sizeof(loc), "http://127.0.0.1:%u%s", to_port, uri + pos);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
        evhttp_send_reply(req, 302, "Found", NULL);
    }
    else if (strcmp(uri, "/ok") == 0) {
        reply(req, 200, "hello\n");
    }
    else if (strcmp(uri, "/lastmod") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Last-Modified",
                          "Wed, 21 Oct 2015 07:28:00 GMT");
        reply(req, 200, "hello\n");
    }
    else if (strcmp(uri, "/simple") == 0) {
        reply(req, 200, "# TYPE up_like gauge\nup_like 1\n");
    }
    else if (sscanf(uri, "/status/%ld", &n) == 1) {
        reply(req, (int)n, "status body\n");
    }
    else if (strcmp(uri, "/hang") == 0) {
        /* Never answered; evhttp frees the request with its connection. */
    }
    else if (strcmp(uri, "/midbody") == 0) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, "12345", 5);
        evhttp_send_reply_start(req, 200, "OK");
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
    }
    else if (sscanf(uri, "/slow/%ld", &n) == 1) {
        struct delayed *d = calloc(1, sizeof(*d));
        struct timeval tv = {.tv_sec = n / 1000, .tv_usec = (n % 1000) * 1000};
        d->req = req;
        d->ev = evtimer_new(m->base, delayed_cb, d);
        evtimer_add(d->ev, &tv);
    }
    else if (sscanf(uri, "/bigchunked/%ld", &n) == 1) {
        char chunk[4096];
        memset(chunk, 'x', sizeof(chunk));
        evhttp_send_reply_start(req, 200, "OK");
        for (long sent = 0; sent < n; sent += (long)sizeof(chunk)) {
            struct evbuffer *b = evbuffer_new();
            long len = n - sent < (long)sizeof(chunk) ? n - sent : (long)sizeof(chunk);
            evbuffer_add(b, chunk, (size_t)len);
            evhttp_send_reply_chunk(req, b);
            evbuffer_free(b);
        }
        evhttp_send_reply_end(req);
    }
    else if (sscanf(uri, "/series/%ld", &n) == 1) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        const char *bad = strstr(uri, "/bad/");
        long bad_line = bad != NULL ? atol(bad + 5) : 0;
        bool om = strstr(uri, "/om") != NULL;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                             : "text/plain; version=0.0.4");
        for (long i = 0; i < n; i++) {
            evbuffer_add_printf(out, i + 1 == bad_line ? "s{i=\"%ld\" %ld\n" : "s{i=\"%ld\"} %ld\n",
                                i, i);
        }
        if (strstr(uri, "/dup/") != NULL) {
            long k = atol(strstr(uri, "/dup/") + 5);
            evbuffer_add_printf(out, "s{i=\"%ld\"} %ld\n", k, k);
        }
        if (om) {
            evbuffer_add_printf(out, "# EOF\n");
        }
        evhttp_send_reply(req, 200, "OK", NULL);
    }
    else if (sscanf(uri, "/families/%ld", &n) == 1) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        const char *bad = strstr(uri, "/bad/");
        long bad_line = bad != NULL ? atol(bad + 5) : 0, line = 0;
        bool om = strstr(uri, "/om") != NULL;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                             : "text/plain; version=0.0.4");
        for (long i = 0; i < n; i++) {
            long f = i / 100;
            const char *p = f % 3 == 0 ? "c" : f % 3 == 1 ? "g" : "u";
            const char *sfx = om && f % 3 == 0 ? "_total" : "";
            if (i % 100 == 0 && f % 3 != 2) {
                evbuffer_add_printf(out, "# HELP %s%ld family %ld\n# TYPE %s%ld %s\n", p, f, f, p,
                                    f, f % 3 == 0 ? "counter" : "gauge");
                line += 2;
            }
            evbuffer_add_printf(out,
                                ++line == bad_line ? "%s%ld%s{a=\"x\",i=\"%ld\" %ld\n"
                                                   : "%s%ld%s{a=\"x\",i=\"%ld\"} %ld\n",
                                p, f, sfx, i, i);
        }
        if (om) {
            evbuffer_add_printf(out, "# EOF\n");
        }
        evhttp_send_reply(req, 200, "OK", NULL);
    }
    else if (sscanf(uri, "/jsonmap/%ld", &n) == 1) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evbuffer_add_printf(out, "{\"s\":{");
        for (long i = 0; i < n; i++) {
            evbuffer_add_printf(out, "%s\"%ld\":%ld", i > 0 ? "," : "", i, i);
        }
        evbuffer_add_printf(out, "}}\n");
        evhttp_send_reply(req, 200, "OK", NULL);
    }
    else if (sscanf(uri, "/histograms/%ld", &n) == 1) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/openmetrics-text; version=1.0.0; charset=utf-8");
        evbuffer_add_printf(out, "# TYPE h histogram\n");
        for (long i = 0; i < n; i++) {
            evbuffer_add_printf(out,
                                "h_bucket{i=\"%ld\",le=\"1\"} %ld\nh_bucket{i=\"%ld\",le=\"+Inf\"} "
                                "%ld\nh_count{i=\"%ld\"} %ld\nh_sum{i=\"%ld\"} %ld\n",
                                i, i, i, i + 1, i, i + 1, i, i);
        }
        evbuffer_add_printf(out, "# EOF\n");
        evhttp_send_reply(req, 200, "OK", NULL);
    }
    else if (sscanf(uri, "/big/%ld", &n) == 1) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        char chunk[4096];
        memset(chunk, 'y', sizeof(chunk));
        for (long sent = 0; sent < n; sent += (long)sizeof(chunk)) {
            long len = n - sent < (long)sizeof(chunk) ? n - sent : (long)sizeof(chunk);
            evbuffer_add(out, chunk, (size_t)len);
        }
        evhttp_send_reply(req, 200, "OK", NULL);
    }
    else if (sscanf(uri, "/redirect/%ld", &n) == 1) {
        if (n > 0) {
            snprintf(loc, sizeof(loc), "/redirect/%ld", n - 1);
        }
        else {
            snprintf(loc, sizeof(loc), "/ok");
        }
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", loc);
        evhttp_send_reply(req, 302, "Found", NULL);
    }
    else if (strcmp(uri, "/ftp-redirect") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "ftp://127.0.0.1/");
        evhttp_send_reply(req, 302, "Found", NULL);
    }
    else if (strcmp(uri, "/gzip") == 0) {
        send_gzip(req);
    }
    else if (strncmp(uri, "/text/", 6) == 0) {
        char *dec = evhttp_uridecode(uri + 6, 0, NULL);
        reply(req, 200, dec != NULL ? dec : "");
        free(dec);
    }
    else if (strncmp(uri, "/om/", 4) == 0) {
        char *dec = evhttp_uridecode(uri + 4, 0, NULL);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/openmetrics-text; version=1.0.0; charset=utf-8");
        evbuffer_add(evhttp_request_get_output_buffer(req), dec, dec != NULL ? strlen(dec) : 0);
        evhttp_send_reply(req, 200, "OK", NULL);
        free(dec);
    }
    else if (strncmp(uri, "/file/", 6) == 0) {
        send_file(req, uri + 6, false);
    }
    else if (strncmp(uri, "/gzfile/", 8) == 0) {
        send_file(req, uri + 8, true);
    }
    else {
        reply(req, 404, "not found\n");
    }
}

struct mock_server *
mock_server_new(struct event_base *base)
{
    struct mock_server *m = calloc(1, sizeof(*m));
    struct evhttp_bound_socket *bound;
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);

    if (m == NULL) {
        return NULL;
    }
    m->base = base;
    m->http = evhttp_new(base);
    if (m->http == NULL) {
        free(m);
        return NULL;
    }
    evhttp_set_gencb(m->http, mock_cb, m);
    bound = evhttp_bind_socket_with_handle(m->http, "127.0.0.1", 0);
    if (bound == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &sl) != 0) {
        mock_server_free(m);
        return NULL;
    }
    m->port = ntohs(sin.sin_port);
    return m;
}

void
mock_server_free(struct mock_server *m)
{
    if (m == NULL) {
        return;
    }
    evhttp_free(m->http);
    free(m->auth);
    free(m);
}

unsigned
mock_server_port(const struct mock_server *m)
{
    return m->port;
}

const char *
mock_server_last_headers(const struct mock_server *m)
{
    return m->last_headers;
}

void
mock_server_require_auth(struct mock_server *m, const char *value)
{
    free(m->auth);
    m->auth = value != NULL ? strdup(value) : NULL;
}

unsigned
mock_server_requests(const struct mock_server *m)
{
    return m->requests;
}

static void
child_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

pid_t
mock_server_spawn(unsigned *port, int max_seconds)
{
    int fds[2];
    pid_t pid;

    if (pipe(fds) != 0) {
        return -1;
    }
    /*
     * The child inherits the test runner's signal handlers. Check's SIGTERM handler kills the
     * handler's whole process group, which without fork mode is make's: a SIGTERM from
     * mock_server_stop() arriving before the child installs its own handler would end the
     * whole test run. So SIGTERM is blocked across fork() and the child takes the default
     * action before it unblocks it.
     */
    sigset_t stopsigs, old;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigaddset(&stopsigs, SIGINT);
    sigprocmask(SIG_BLOCK, &stopsigs, &old);
    pid = fork();
    if (pid != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(fds[0]);
        struct event_base *base = event_base_new();
        struct mock_server *m = base != NULL ? mock_server_new(base) : NULL;
        unsigned p = m != NULL ? m->port : 0;
        if (write(fds[1], &p, sizeof(p)) != (ssize_t)sizeof(p) || m == NULL) {
            _exit(1);
        }
        close(fds[1]);
        struct timeval tv = {.tv_sec = max_seconds, .tv_usec = 0};
        struct event *stop = evtimer_new(base, child_stop_cb, base);
        struct event *term = evsignal_new(base, SIGTERM, child_stop_cb, base);
        evtimer_add(stop, &tv);
        evsignal_add(term, NULL);
        event_base_dispatch(base);
        event_free(stop);
        event_free(term);
        mock_server_free(m);
        event_base_free(base);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], port, sizeof(*port)) != (ssize_t)sizeof(*port) || *port == 0) {
        close(fds[0]);
        mock_server_stop(pid);
        return -1;
    }
    close(fds[0]);
    return pid;
}

void
mock_server_stop(pid_t pid)
{
    int status;

    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
}

unsigned
mock_closed_port(void)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &sl) == 0) {
        port = ntohs(sin.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

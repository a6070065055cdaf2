/*
 * The status server: a small evhttp server on the agent's loop answering /healthz, /-/ready,
 * /metrics (the agent's own metrics in Prometheus text format), /api/v1/targets (per-target
 * state, JSON), POST /-/reload (only when the lifecycle API is enabled), and whatever its owner's
 * page hook serves (status_page.c). Bounded: read/write timeouts, a deadline per request, a cap
 * on open connections, the last quarter of the descriptors left to scrapes, header and body size
 * limits, and a pause of accept() when descriptors run out, so a stuck or hostile client cannot
 * hold resources or spin the loop.
 */
#ifndef POLLSTER_STATUS_H
#define POLLSTER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct event_base;
struct status;

/* Renders a response body (/metrics, /api/v1/targets). */
typedef void status_render_fn(struct strbuf *sb, void *arg);
/* POST /-/reload: 0, or a negative errno with the reason in @err. */
typedef int status_reload_fn(void *arg, char *err, size_t errlen);

/*
 * Any other GET: appends the body for @path (@query: after '?', "" when none) and returns its
 * content type, or NULL when @path is not its own (404). May set *@code (default 200, e.g. 400).
 */
typedef const char *status_page_fn(struct strbuf *sb, const char *path, const char *query,
                                   int *code, void *arg);

/* What the server asks its owner for; any member may be NULL (the path then answers 404). */
struct status_hooks {
    status_render_fn *metrics; /* GET /metrics, Prometheus text format */
    status_render_fn *targets; /* GET /api/v1/targets, JSON */
    status_reload_fn *reload;  /* POST /-/reload */
    status_page_fn *page;      /* the pages for people (/, /targets, ...), asked after the above */
};

/* What the server allows: status.enable_lifecycle, status.max_connections, status.request_timeout.
 */
struct status_limits {
    bool lifecycle;             /* POST /-/reload is served (else 403), as --web.enable-lifecycle */
    unsigned max_connections;   /* connections open at once; more are closed as they come */
    int64_t request_timeout_ms; /* a request, from its connection or the one before: at most this */
};

#define STATUS_MAX_CONNECTIONS 64
#define STATUS_REQUEST_TIMEOUT_MS 30000

/*
 * Binds and serves @listen on @base; @hooks is borrowed. NULL on failure with the cause in @err.
 * The limits start as {false, STATUS_MAX_CONNECTIONS, STATUS_REQUEST_TIMEOUT_MS}.
 */
struct status *status_new(struct event_base *base, const char *listen,
                          const struct status_hooks *hooks, void *arg, char *err, size_t errlen);
void status_free(struct status *st);
/* Applies @lim (copied) from now on: at start and at every reload. */
void status_set_limits(struct status *st, const struct status_limits *lim);
/* The bound port (useful with port 0). */
unsigned status_port(const struct status *st);
/* "127.0.0.1:9464" as bound (borrowed). */
const char *status_address(const struct status *st);

#endif

/*
 * The status server: a small evhttp server on the agent's loop answering /healthz, /-/ready,
 * /metrics (the agent's own metrics in Prometheus text format), /api/v1/targets (per-target
 * state, JSON), POST /-/reload, and whatever its owner's page hook serves (status_page.c). Bounded:
 * read/write timeouts, header and body size limits, so a stuck client cannot hold resources.
 */
#ifndef POLLSTER_STATUS_H
#define POLLSTER_STATUS_H

#include <stddef.h>

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

/* Binds and serves @listen on @base; @hooks is borrowed. NULL on failure with the cause in @err. */
struct status *status_new(struct event_base *base, const char *listen,
                          const struct status_hooks *hooks, void *arg, char *err, size_t errlen);
void status_free(struct status *st);
/* The bound port (useful with port 0). */
unsigned status_port(const struct status *st);
/* "127.0.0.1:9464" as bound (borrowed). */
const char *status_address(const struct status *st);

#endif

/*
 * The status server: a small evhttp server on the agent's loop answering /healthz, /-/ready and
 * /metrics (the agent's own metrics in Prometheus text format). Bounded: read/write timeouts,
 * header and body size limits, so a stuck client cannot hold resources.
 */
#ifndef POLLSTER_STATUS_H
#define POLLSTER_STATUS_H

#include <stddef.h>

#include "strbuf.h"

struct event_base;
struct status;

/* Renders the /metrics body. */
typedef void status_metrics_fn(struct strbuf *sb, void *arg);

/*
 * Splits "ADDR:PORT" ("127.0.0.1:9464", "[::1]:0", "localhost:9464") into @host and @port.
 * 0, or -EINVAL with a message in @err.
 */
int status_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *err,
                        size_t errlen);

/* Binds and serves @listen on @base. NULL on failure with the cause in @err. */
struct status *status_new(struct event_base *base, const char *listen, status_metrics_fn *metrics,
                          void *arg, char *err, size_t errlen);
void status_free(struct status *st);
/* The bound port (useful with port 0). */
unsigned status_port(const struct status *st);
/* "127.0.0.1:9464" as bound (borrowed). */
const char *status_address(const struct status *st);

#endif

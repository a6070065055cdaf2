/*
 * The http output: POSTs documents of encoded batches to a sink (VictoriaMetrics, an OTLP
 * collector, anything that takes the format) through the loop's curl multi handle, never
 * blocking the loop.
 *
 * Delivery is at-least-once and in order, oldest first:
 *   - batches wait in a memory queue while the sink takes them. With a spool_dir, the moment a
 *     request fails the whole queue is appended to the disk spool, and until a request succeeds
 *     again every new batch goes straight to the spool; the same happens beyond queue_max_bytes
 *     and at exit. So a sink outage, a restart, or kill -9 during an outage loses nothing, and
 *     records left by an earlier run are sent first. A kill -9 while the sink is healthy loses
 *     what waited in memory for its request (about one flush_interval): writing every batch
 *     to disk first measured 0.15 CPU s per million samples, as much as the rest of forwarding.
 *   - without one, beyond queue_max_bytes the oldest are dropped and counted (reason
 *     queue_full), and what is left at exit is counted (reason shutdown).
 * A request carries the records waiting, up to batch_max_bytes (at least one). It leaves when
 * OUT_HTTP_SEND_AT bytes wait (batch_max_bytes if smaller; or batch_max_samples, for an output
 * type that sets it) and no request is in flight, when flush_interval has passed since the last
 * send, at once when a spool backlog is being replayed, and at once during a drain. So behind a
 * sink that answers fast requests stay near OUT_HTTP_SEND_AT and little waits in memory (with
 * the 1 MiB default, two full requests, one in flight and one gathering, were 2 MiB of the agent's
 * ~20 MiB at 500 targets), while behind a slow or distant sink what gathers during each request
 * leaves in the next, up to batch_max_bytes: the throughput of one request per round trip stays
 * batch_max_bytes per round trip. Network errors, timeouts, 408, 429 and 5xx are
 * retried with full-jitter exponential backoff between retry_initial and retry_max (or after the
 * sink's Retry-After); any other answer that is not 2xx means the sink will never take the
 * batch: it is logged with the sink's answer and dropped (reason rejected).
 */
#ifndef POLLSTER_OUT_HTTP_H
#define POLLSTER_OUT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "conf.h"
#include "config.h"
#include "httpc.h"
#include "output.h"
#include "outputs.h"
#include "spool.h"

/* A request leaves once this much waits and none is in flight (see above). */
#define OUT_HTTP_SEND_AT (256 * 1024)

struct loop;

struct out_http_opts {
    const char *what;              /* names the output in logs, e.g. "outputs[0]" */
    const char *url;               /* http:// or https:// */
    const struct httpc_opts *http; /* auth, TLS, headers (copied) */
    const struct encoder *enc;     /* borrowed: static */
    int64_t timeout_ms;            /* per request */
    uint64_t batch_max_bytes;
    int64_t flush_interval_ms;
    uint64_t queue_max_bytes;
    const char *spool_dir; /* NULL = no spool */
    uint64_t spool_max_bytes;
    enum spool_fsync spool_fsync;
    int64_t retry_initial_ms;
    int64_t retry_max_ms;
    bool gzip;
    /*
     * Hooks for an output type built on this one (remote_write); all zero is the http output.
     * compress replaces gzip: it writes the document @in (@len bytes) compressed into @out
     * (reset first) and returns 0 or a negative errno; content_encoding is then sent with it.
     */
    /* The strings and the array are borrowed for the output's life (static storage). */
    const char *type; /* the self metrics' type label; NULL = "http" */
    int (*compress)(struct strbuf *out, const char *in, size_t len);
    const char *content_encoding;     /* "snappy" */
    const char *const *extra_headers; /* NULL-terminated "Name: value" lines, before the user's */
    uint64_t batch_max_samples; /* a request's bound in samples (at least one record); 0 = none */
    bool reject_429;            /* 429 is a refusal (dropped, counted rejected), not retried */
    /*
     * A transport of its own instead of HTTP (nats): called on the loop with a request's
     * document (@len bytes at @data, valid until the request ends), it sends it and returns 0,
     * then reports the result later, on the loop, through out_http_sent(); or it returns a
     * negative errno (nothing sent: retried after retry_max). url, http, timeout_ms, gzip and
     * compress are then unused.
     */
    int (*send)(void *send_arg, const char *data, size_t len);
    void *send_arg;
};

/* What became of a request: delivered, to be retried, or refused for good (dropped). */
enum out_http_result { OUT_HTTP_OK = 0, OUT_HTTP_RETRY, OUT_HTTP_DROP };

/*
 * The result of the request in flight of @state (an out_http_new() of a transport's own, @send),
 * with @why the sink's answer for the log (retry, drop). Ignored when no request is in flight.
 * On the loop only.
 */
void out_http_sent(void *state, enum out_http_result r, const char *why);

/*
 * Counts a batch of @nsamples that an output built on this one (remote_write, nats) could not
 * hand to write(): collected, and dropped for @why (output.h's contract for write()).
 */
void out_http_lost(void *state, uint32_t nsamples, enum output_drop why);

extern const struct output_ops out_http_ops;

/* The spool's fsync choices (never, batch, interval), for the sections of outputs that spool. */

extern const struct conf_choice out_http_fsync_choices[];

/* The http output's row in the outputs registry. */
extern const struct output_type out_http_type;

/* auto: none when the sink is on loopback (compressing costs CPU and saves nothing), else gzip. */
enum out_http_compression {
    OUT_HTTP_COMPRESSION_AUTO = 0,
    OUT_HTTP_COMPRESSION_GZIP,
    OUT_HTTP_COMPRESSION_NONE
};

/*
 * The keys of the queue, spool and retries of an output type built on this one, in its section
 * (CONF_F_OPTS): @st, its opts struct, has queue_max_bytes, spool_dir, spool_max_bytes, fsync,
 * retry_initial_ms and retry_max_ms as struct out_http_conf has them.
 */
#define OUT_HTTP_QUEUE_FIELDS(st)                                                                  \
    CONF_FLD("queue_max_bytes", CONF_FT_SIZE, st, queue_max_bytes, .flags = CONF_F_OPTS,           \
             .def = "64MiB",                                                                       \
             .desc = "Memory queue bound; beyond it the queue moves to the spool, or without one " \
                     "the oldest batches are dropped and counted."),                               \
        CONF_FLD("spool_dir", CONF_FT_PATH, st, spool_dir, .flags = CONF_F_OPTS | CONF_F_NONEMPTY, \
                 .desc = "Disk spool directory: batches go there while the sink fails, beyond "    \
                         "queue_max_bytes and at exit (none: batches wait in memory only)."),      \
        CONF_FLD("spool_max_bytes", CONF_FT_SIZE, st, spool_max_bytes, .flags = CONF_F_OPTS,       \
                 .def = "1GiB",                                                                    \
                 .desc = "Disk spool bound; beyond it the oldest data is dropped and counted."),   \
        CONF_FLD("fsync", CONF_FT_ENUM, st, fsync, .flags = CONF_F_OPTS, .def = "never",           \
                 .choices = out_http_fsync_choices,                                                \
                 .desc = "The spool's: never, batch (after every batch) or interval (every "       \
                         "flush_interval)."),                                                      \
        CONF_FLD("retry_initial", CONF_FT_DURATION, st, retry_initial_ms, .flags = CONF_F_OPTS,    \
                 .def = "1s", .desc = "First retry delay (full-jitter exponential backoff)."),     \
        CONF_FLD("retry_max", CONF_FT_DURATION, st, retry_max_ms, .flags = CONF_F_OPTS,            \
                 .def = "1m", .desc = "Longest retry delay.")

/* An http output's settings: config_output.opts of an http output. */
struct out_http_conf {
    char *url;
    struct config_http http;   /* headers, basic_auth, authorization, tls_config */
    int64_t timeout_ms;        /* default 10s */
    uint64_t batch_max_bytes;  /* default 1MiB */
    int64_t flush_interval_ms; /* default 1s */
    uint64_t queue_max_bytes;  /* default 64MiB */
    char *spool_dir;           /* NULL = no spool: beyond the queue, data is dropped and counted */
    uint64_t spool_max_bytes;  /* default 1GiB */
    enum spool_fsync fsync;    /* the spool's; default never */
    int64_t retry_initial_ms;  /* default 1s */
    int64_t retry_max_ms;      /* default 1m */
    enum out_http_compression compression; /* default auto */
};

/* NULL with a message in @err (spool cannot be opened, out of memory). */
void *out_http_new(struct loop *l, const struct out_http_opts *o, char *err, size_t errlen);
/*
 * The bytes of the output's request and packing buffers (not its queue): what a lagging sink
 * left behind once it caught up (tests).
 */
size_t out_http_buffer_bytes(const void *state);

#endif

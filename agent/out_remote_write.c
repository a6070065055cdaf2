/*
 * The remote_write output (out_remote_write.h): its config section, and the thin layer over the
 * http output that encodes each batch with this output's rules and compresses with snappy.
 */
#include "build-config.h"

#include "out_remote_write.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "conf_http.h"
#include "conf_relabel.h"
#include "conf_targets.h"
#include "enc_remote_write.h"
#include "fnv.h"
#include "log.h"
#include "out_http.h"
#include "relabel.h"

/* Prometheus' queue_config (the keys pollster acts on are mapped onto the http output). */
struct out_rw_queue {
    int64_t capacity;               /* accepted, ignored: queue_max_bytes bounds memory */
    int64_t min_shards;             /* accepted, ignored */
    int64_t max_shards;             /* senders (requests in flight), up to OUT_RW_SHARDS_MAX */
    int64_t max_samples_per_send;   /* default 2000 */
    int64_t batch_send_deadline_ms; /* default 5s */
    int64_t min_backoff_ms;         /* default 30ms */
    int64_t max_backoff_ms;         /* default 5s */
    bool retry_on_http_429;         /* default true */
    int64_t sample_age_limit_ms;    /* accepted, ignored */
};

/* Prometheus' metadata_config: accepted, ignored (no metadata is sent). */
struct out_rw_metadata {
    bool send;
    int64_t send_interval_ms;
    int64_t max_samples_per_send;
};

/* A remote_write output's settings: config_output.opts of a remote_write output. */
struct out_rw_conf {
    char *url;
    int64_t timeout_ms; /* remote_timeout, default 30s */
    struct config_http http;
    struct config_relabel *relabels;
    size_t nrelabels;
    struct out_rw_queue queue;
    struct out_rw_metadata metadata;
    bool send_exemplars;         /* accepted, ignored: the data model has no exemplars */
    bool send_native_histograms; /* accepted, ignored: no native histograms are scraped */
    uint64_t queue_max_bytes;
    char *spool_dir;
    uint64_t spool_max_bytes;
    enum spool_fsync fsync;
};

/*
 * The most requests in flight (senders): max_shards above it is taken as this. Each sender is
 * an http output with its own queue, spool and connection.
 */
#define OUT_RW_SHARDS_MAX 8

struct out_rw {
    void *http[OUT_RW_SHARDS_MAX + OUT_RW_SHARDS_MAX]; /* owned: senders, then drain-only ones */
    size_t nshards;                                    /* senders new batches go to */
    size_t nhttp; /* senders, plus spools left by a run with more shards (drained only) */
    struct relabel_rule *rules; /* owned */
    size_t nrules;
    struct enc_rw_scratch scratch; /* owned */
    struct strbuf rec;             /* owned: one record (max_samples_per_send samples at most) */
    struct strbuf packed;          /* owned: rec compressed, as queued */
    size_t per_record;             /* samples of a batch a record takes: max_samples_per_send */
};

static const char *const rw_headers[] = {"X-Prometheus-Remote-Write-Version: 0.1.0", NULL};

/*
 * Queued records (out_remote_write.h): OUT_RW_REC_SNAPPY, the block's length (4 bytes,
 * little-endian), a snappy block. A bare record (timeseries entries) starts with their key,
 * 0x0a, never with this byte (field 0 does not exist in protobuf).
 */
#define OUT_RW_REC_SNAPPY 0x00
#define OUT_RW_REC_HEAD 5
#define OUT_RW_KEY_TIMESERIES 0x0a

int
out_remote_write_pack(struct strbuf *out, const char *rec, size_t len)
{
    size_t max = snappy_max_compressed_length(len), n = max;

    if (max > UINT32_MAX || max < len) {
        strbuf_append(out, rec, len); /* too big to frame: left bare, compressed when sent */
        return out->oom ? -ENOMEM : 0;
    }
    if (!strbuf_room(out, OUT_RW_REC_HEAD + max)) {
        return -ENOMEM;
    }
    unsigned char *p = (unsigned char *)out->data + out->len;
    if (snappy_compress(rec, len, (char *)p + OUT_RW_REC_HEAD, &n) != SNAPPY_OK) {
        return -EIO;
    }
    p[0] = OUT_RW_REC_SNAPPY;
    for (int i = 0; i < 4; i++) {
        p[1 + i] = (unsigned char)(n >> (8 * i));
    }
    out->len += OUT_RW_REC_HEAD + n;
    out->data[out->len] = '\0';
    return 0;
}

/* Reads a varint of at most @max bytes at @p into *@v: its length, or 0 when malformed. */
static size_t
get_varint(const unsigned char *p, size_t max, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < max && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            return i + 1;
        }
    }
    return 0;
}

/*
 * One piece of a request's records at @in + *@pos (@len bytes in all), moving *@pos past it: a
 * framed block (*@framed; [*@a, *@b) its elements, *@ulen the bytes they decode to) or a run of
 * bare records ([*@a, *@b), as many as follow one another; bytes that do not parse as records
 * run to the end). Returns 0, or -EIO for a framed record that is cut short or not snappy.
 */
static int
piece_next(const unsigned char *in, size_t len, size_t *pos, bool *framed, size_t *a, size_t *b,
           uint64_t *ulen)
{
    size_t p = *pos;

    *framed = in[p] == OUT_RW_REC_SNAPPY;
    if (*framed) {
        uint64_t clen = 0, u;
        for (int i = 0; i < 4 && p + 1 + (size_t)i < len; i++) {
            clen |= (uint64_t)in[p + 1 + (size_t)i] << (8 * i);
        }
        if (len - p < OUT_RW_REC_HEAD || clen > len - p - OUT_RW_REC_HEAD) {
            return -EIO;
        }
        size_t k = get_varint(in + p + OUT_RW_REC_HEAD, (size_t)clen, &u);
        if (k == 0 || u > UINT32_MAX) {
            return -EIO;
        }
        *a = p + OUT_RW_REC_HEAD + k;
        *b = *pos = p + OUT_RW_REC_HEAD + (size_t)clen;
        *ulen = u;
        return 0;
    }
    *a = p;
    while (p < len && in[p] == OUT_RW_KEY_TIMESERIES) {
        uint64_t n;
        size_t k = get_varint(in + p + 1, len - p - 1, &n);
        if (k == 0 || n > len - p - 1 - k) {
            p = len;
            break;
        }
        p += 1 + k + (size_t)n;
    }
    if (p == *a) {
        p = len; /* not a record: sent as it is, as before */
    }
    *b = *pos = p;
    *ulen = p - *a;
    return 0;
}

/* Appends @v as a varint. */
static void
put_varint(struct strbuf *sb, uint64_t v)
{
    while (v >= 0x80) {
        strbuf_putc(sb, (char)(v | 0x80));
        v >>= 7;
    }
    strbuf_putc(sb, (char)v);
}

/* Appends the elements of the snappy block of the bare bytes [@a, @a + @n). */
static int
put_compressed(struct strbuf *out, const char *a, size_t n)
{
    size_t max = snappy_max_compressed_length(n), z = max;
    uint64_t u;

    if (!strbuf_room(out, max)) {
        return -ENOMEM;
    }
    char *p = out->data + out->len;
    if (snappy_compress(a, n, p, &z) != SNAPPY_OK) {
        return -EIO;
    }
    size_t k = get_varint((const unsigned char *)p, z, &u);
    if (k == 0) {
        return -EIO;
    }
    memmove(p, p + k, z - k); /* the block's own preamble out: the body has one */
    out->len += z - k;
    out->data[out->len] = '\0';
    return 0;
}

int
out_remote_write_snappy(struct strbuf *out, const char *in, size_t len)
{
    const unsigned char *u = (const unsigned char *)in;
    uint64_t total = 0, ulen;
    size_t room = 10, pos = 0, a, b;
    bool framed;

    strbuf_reset(out);
    while (pos < len) {
        if (piece_next(u, len, &pos, &framed, &a, &b, &ulen) != 0) {
            return -EIO;
        }
        total += ulen;
        room += framed ? b - a : snappy_max_compressed_length(b - a);
    }
    if (total > UINT32_MAX) {
        return -E2BIG;
    }
    if (strbuf_reserve(out, room) != 0) {
        return -ENOMEM;
    }
    put_varint(out, total);
    for (pos = 0; pos < len;) {
        (void)piece_next(u, len, &pos, &framed, &a, &b, &ulen);
        if (framed) {
            strbuf_append(out, in + a, b - a);
        }
        else if (put_compressed(out, in + a, b - a) != 0) {
            return -EIO;
        }
    }
    return out->oom ? -ENOMEM : 0;
}

/*
 * The sender of a target's batches: a hash of its job and URL (targets often share an instance,
 * never a URL within a job), so all of a series' samples, and its staleness markers, go through
 * one queue, in order.
 */
static void *
shard_of(const struct out_rw *w, const struct batch *b)
{
    const char *parts[2] = {b->job, b->url};
    uint64_t h = FNV64_INIT;

    for (int i = 0; i < 2; i++) {
        h = fnv64(fnv64_str(h, parts[i]), "\xff", 1);
    }
    return w->http[(h ^ (h >> 32)) % w->nshards];
}

static int
rw_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_rw *w = state;

    return out_http_ops.write(w->http[0], data, len, nsamples);
}

/*
 * Encodes @b with this output's rules and queues it (the engine calls this, not write()): in
 * records of at most max_samples_per_send samples, each compressed as it is made, so a big batch
 * never lies encoded whole in memory (a 200,000-series batch took two 32 MiB buffers), and a
 * request carries about max_samples_per_send samples, as in Prometheus.
 */
static int
rw_write_batch(void *state, const struct batch *b)
{
    struct out_rw *w = state;
    void *shard = shard_of(w, b);
    size_t all = b->nsamples + b->nstale;
    int ret = 0;

    for (size_t from = 0; from < all; from += w->per_record) {
        size_t to = all - from > w->per_record ? from + w->per_record : all;
        uint32_t n = 0;
        int rc;

        strbuf_reset(&w->rec);
        if (enc_remote_write_encode_range(&w->rec, b, from, to, w->rules, w->nrules, &w->scratch,
                                          &n) != 0) {
            /* How many write_relabel_configs would have kept is unknown: the samples left. */
            out_http_lost(shard, (uint32_t)(all - from), OUTPUT_DROP_NO_MEMORY);
            return -ENOMEM; /* logged by the engine */
        }
        if (n == 0) {
            continue; /* everything dropped by write_relabel_configs: nothing to count or send */
        }
        strbuf_reset(&w->packed);
        if (out_remote_write_pack(&w->packed, w->rec.data, w->rec.len) != 0) {
            out_http_lost(shard, (uint32_t)(all - from), OUTPUT_DROP_NO_MEMORY);
            return -ENOMEM;
        }
        rc = out_http_ops.write(shard, w->packed.data, w->packed.len, n);
        if (rc != 0 && (ret == 0 || ret == -EAGAIN)) {
            ret = rc; /* a failure, else -EAGAIN (taken, to be retried): as the engine reads it */
        }
    }
    return ret;
}

static int
rw_flush(void *state)
{
    struct out_rw *w = state;

    for (size_t i = 0; i < w->nhttp; i++) {
        out_http_ops.flush(w->http[i]);
    }
    return 0;
}

static void
rw_drain(void *state)
{
    struct out_rw *w = state;

    for (size_t i = 0; i < w->nhttp; i++) {
        out_http_ops.drain(w->http[i]);
    }
}

static bool
rw_busy(const void *state)
{
    const struct out_rw *w = state;

    for (size_t i = 0; i < w->nhttp; i++) {
        if (out_http_ops.busy(w->http[i])) {
            return true;
        }
    }
    return false;
}

/* The output's books: the sum of its senders'. */
static void
rw_stats(const void *state, struct output_stats *st)
{
    const struct out_rw *w = state;
    struct output_stats one;

    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < w->nhttp; i++) {
        out_http_ops.stats(w->http[i], &one);
        st->type = one.type;
        st->collected += one.collected;
        st->recovered += one.recovered;
        st->delivered += one.delivered;
        for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
            st->dropped[d] += one.dropped[d];
        }
        st->pending_samples += one.pending_samples;
        st->queue_bytes += one.queue_bytes;
        st->queue_samples += one.queue_samples;
        st->spool_bytes += one.spool_bytes;
        st->requests += one.requests;
        st->failed_requests += one.failed_requests;
        st->retries += one.retries;
        st->last_success =
            one.last_success > st->last_success ? one.last_success : st->last_success;
        st->failing = st->failing || one.failing;
        if (one.failing_since > 0 &&
            (st->failing_since == 0 || one.failing_since < st->failing_since)) {
            st->failing_since = one.failing_since;
        }
        if (one.last_error[0] != '\0' && (st->last_error[0] == '\0' || one.failing)) {
            memcpy(st->last_error, one.last_error, sizeof(st->last_error));
        }
    }
}

static void
rw_free(void *state)
{
    struct out_rw *w = state;

    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i < w->nhttp; i++) {
        out_http_ops.free(w->http[i]);
    }
    conf_relabel_rules_free(w->rules, w->nrules);
    enc_rw_scratch_release(&w->scratch);
    strbuf_release(&w->rec);
    strbuf_release(&w->packed);
    free(w);
}

static const struct output_ops out_rw_ops = {
    .name = "remote_write",
    .records = true,
    .write = rw_write,
    .write_batch = rw_write_batch,
    .stale_markers = true,
    .flush = rw_flush,
    .drain = rw_drain,
    .busy = rw_busy,
    .stats = rw_stats,
    .free = rw_free,
};

/* The config: type remote_write, or an item of a prometheus.yml's remote_write list */

#define QC(k, t, m, ...) CONF_FLD(k, t, struct out_rw_queue, m, __VA_ARGS__)
static const struct conf_field queue_fields[] = {
    QC("max_samples_per_send", CONF_FT_INT, max_samples_per_send, .def = "2000", .min = 1,
       .max = INT64_MAX,
       .desc = "Samples in one request (a batch is queued in records of this many samples)."),
    QC("batch_send_deadline", CONF_FT_DURATION, batch_send_deadline_ms, .def = "5s",
       .desc = "Longest wait before sending a partial request."),
    QC("min_backoff", CONF_FT_DURATION, min_backoff_ms, .def = "30ms",
       .desc = "First retry delay (full-jitter exponential backoff)."),
    QC("max_backoff", CONF_FT_DURATION, max_backoff_ms, .def = "5s",
       .desc = "Longest retry delay."),
    QC("retry_on_http_429", CONF_FT_BOOL, retry_on_http_429, .def = "true",
       .desc = "Retry on 429 (false: a 429 drops the request, counted as rejected)."),
    QC("capacity", CONF_FT_INT, capacity, .def = "10000", .min = 1, .max = INT64_MAX,
       .desc = "Accepted, ignored: queue_max_bytes bounds the memory queue."),
    QC("min_shards", CONF_FT_INT, min_shards, .def = "1", .min = 1, .max = INT64_MAX,
       .desc = "Accepted, ignored."),
    QC("max_shards", CONF_FT_INT, max_shards, .def = "50", .min = 1, .max = INT64_MAX,
       .desc = "Requests in flight (at most 8): targets are spread over that many senders by a "
               "hash of job and URL, each with its own queue and spool, so every series "
               "stays in order. Fixed, not resharded at run time."),
    QC("sample_age_limit", CONF_FT_DURATION, sample_age_limit_ms, .def = "0s",
       .desc = "Accepted, ignored: old samples are sent too (nothing is lost)."),
};
#undef QC

static void queue_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                        const char *path);

static const struct conf_section queue_section = {
    .name = "remote_write[].queue_config", CONF_FIELDS(queue_fields), .check = queue_check};

#define MC(k, t, m, ...) CONF_FLD(k, t, struct out_rw_metadata, m, __VA_ARGS__)
static const struct conf_field metadata_fields[] = {
    MC("send", CONF_FT_BOOL, send, .def = "true",
       .desc = "Accepted, ignored: no metadata is sent."),
    MC("send_interval", CONF_FT_DURATION, send_interval_ms, .def = "1m",
       .desc = "Accepted, ignored."),
    MC("max_samples_per_send", CONF_FT_INT, max_samples_per_send, .def = "500", .min = 0,
       .max = INT64_MAX, .desc = "Accepted, ignored."),
};
#undef MC
static const struct conf_section metadata_section = {.name = "remote_write[].metadata_config",
                                                     CONF_FIELDS(metadata_fields)};

/* Known Prometheus remote_write keys pollster rejects (fnmatch patterns). */
static const char *const rw_unsupported[] = {
    "sigv4", "azuread", "protobuf_message", "round_robin_dns", "google_iam", NULL,
};

_Static_assert(sizeof(enum spool_fsync) == sizeof(int), "enum size");

static void rw_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path);

#define RO(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct out_rw_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field rw_fields[] = {
    /* As CONF_OUTPUT_FIELDS, but no type is needed in a remote_write list, and the format is
     * this type's own. */
    CONF_FLD("type", CONF_FT_DEFER, struct config_output, type,
             .desc = "The output type (this section's; not needed under remote_write)."),
    CONF_FLD("format", CONF_FT_STR, struct config_output, format, .def = "remote_write",
             .flags = CONF_F_NONEMPTY, .desc = "remote_write (the only format of this type)."),
    RO("url", CONF_FT_STR, url, CONF_F_NONEMPTY | CONF_F_REQUIRED,
       .desc = "The receiver's remote write endpoint."),
    CONF_OUTPUT_NAME_FIELD,
    RO("remote_timeout", CONF_FT_DURATION, timeout_ms, 0, .def = "30s",
       .desc = "Deadline of one request."),
    CONF_FLDN("headers", CONF_FT_HEADERS, struct out_rw_conf, http.headers, http.nheaders,
              .flags = CONF_F_OPTS, .desc = "Request headers (values are not shown anywhere)."),
    CONF_HTTP_CLIENT_FIELDS_F(struct out_rw_conf, http, CONF_F_OPTS),
    CONF_FLDN("write_relabel_configs", CONF_FT_LIST, struct out_rw_conf, relabels, nrelabels,
              .flags = CONF_F_OPTS, .sub = &conf_relabel_section,
              .desc = "Relabel rules applied to every series before it is sent."),
    RO("queue_config", CONF_FT_SECTION, queue, CONF_F_DEFAULTS, .sub = &queue_section,
       .desc = "Batching and retries."),
    RO("metadata_config", CONF_FT_SECTION, metadata, CONF_F_DEFAULTS, .sub = &metadata_section,
       .desc = "Accepted, ignored: no metadata is sent."),
    RO("send_exemplars", CONF_FT_BOOL, send_exemplars, 0, .def = "false",
       .desc = "Accepted, ignored: exemplars are not kept."),
    RO("send_native_histograms", CONF_FT_BOOL, send_native_histograms, 0, .def = "false",
       .desc = "Accepted, ignored: native histograms are not scraped."),
    RO("queue_max_bytes", CONF_FT_SIZE, queue_max_bytes, 0, .def = "64MiB",
       .desc = "pollster: memory queue bound (batches are queued snappy-compressed); beyond "
               "it the queue moves to the spool, or without one the oldest batches are "
               "dropped and counted."),
    RO("spool_dir", CONF_FT_PATH, spool_dir, CONF_F_NONEMPTY,
       .desc = "pollster: disk spool directory (as the http output's)."),
    RO("spool_max_bytes", CONF_FT_SIZE, spool_max_bytes, 0, .def = "1GiB",
       .desc = "pollster: disk spool bound."),
    RO("fsync", CONF_FT_ENUM, fsync, 0, .def = "never", .choices = out_http_fsync_choices,
       .desc = "pollster: the spool's fsync: never, batch or interval."),
};
#undef RO

/* What conf_http_resolve added to the client settings (http_headers, oauth2's params). */
static void
rw_release(void *base)
{
    struct config_output *o = base;

    if (o->opts != NULL) {
        conf_http_release(&((struct out_rw_conf *)o->opts)->http);
    }
}

static const struct conf_section rw_section = {.name = "outputs[] (type remote_write)",
                                               .what = "output type remote_write",
                                               CONF_FIELDS(rw_fields),
                                               .unsupported = rw_unsupported,
                                               .opts_off = offsetof(struct config_output, opts),
                                               .opts_size = sizeof(struct out_rw_conf),
                                               .check = rw_check,
                                               .release = rw_release};

static void
queue_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct out_rw_queue *q = base;
    const struct conf_node *n;
    char b1[32], b2[32];

    if (q->batch_send_deadline_ms == 0) {
        conf_err(x, conf_tree_get(map, "batch_send_deadline"),
                 "batch_send_deadline must be greater than 0 in %s", path);
    }
    if (q->min_backoff_ms == 0) {
        conf_err(x, conf_tree_get(map, "min_backoff"), "min_backoff must be greater than 0 in %s",
                 path);
    }
    else if (q->max_backoff_ms < q->min_backoff_ms) {
        n = conf_tree_get(map, "max_backoff");
        conf_err(x, n != NULL ? n : conf_tree_get(map, "min_backoff"),
                 "max_backoff (%s) must not be less than min_backoff (%s) in %s",
                 conf_fmt_ms(q->max_backoff_ms, b1, sizeof(b1)),
                 conf_fmt_ms(q->min_backoff_ms, b2, sizeof(b2)), path);
    }
}

static void
rw_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    const struct config_output *o = base;
    struct out_rw_conf *rc = o->opts;
    const struct conf_node *n = conf_tree_get(map, "url");

    if (o->format != NULL && strcmp(o->format, "remote_write") != 0) {
        conf_err(x, conf_tree_get(map, "format"),
                 "format \"%s\" in %s: an output of type remote_write sends remote_write only",
                 o->format, path);
    }
    if (n != NULL && rc->url != NULL) {
        const char *why = conf_targets_url_check(rc->url, NULL);
        if (why != NULL) {
            char *red = httpc_redact_url_dup(rc->url);
            conf_err(x, n, "invalid URL \"%s\" in %s: %s", red != NULL ? red : "", path, why);
            free(red);
        }
    }
    conf_http_resolve(x, &rc->http, map);
    if (rc->timeout_ms == 0) {
        conf_err(x, conf_tree_get(map, "remote_timeout"), "remote_timeout must be greater than 0");
    }
    if (rc->queue_max_bytes == 0) {
        conf_err(x, conf_tree_get(map, "queue_max_bytes"),
                 "queue_max_bytes must be greater than 0");
    }
    if (rc->spool_dir != NULL) {
        conf_claim(x, conf_tree_get(map, "spool_dir"), "spool_dir", rc->spool_dir, path);
    }
}

/* Whether @dir holds the spool of shard @i. */
static bool
shard_spool_exists(const char *dir, size_t i)
{
    char p[4096];
    struct stat st;

    snprintf(p, sizeof(p), "%s/shard-%zu", dir, i);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
rw_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
        char *err, size_t errlen)
{
    const struct out_rw_conf *rc = co->opts;
    struct httpc_opts http = {0};
    char e2[400];
    struct out_rw *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    strbuf_init(&w->rec);
    strbuf_init(&w->packed);
    /* max_samples_per_send is at least 1 (config.c); past SIZE_MAX / 2, a record is a batch. */
    w->per_record = (uint64_t)rc->queue.max_samples_per_send > SIZE_MAX / 2
                        ? SIZE_MAX / 2
                        : (size_t)rc->queue.max_samples_per_send;
    if (w->per_record == 0) {
        w->per_record = 2000;
    }
    int r = conf_relabel_rules(rc->relabels, rc->nrelabels, &w->rules, &w->nrules, e2, sizeof(e2));
    if (r != 0) {
        snprintf(err, errlen, "%s: write_relabel_configs%s", what, e2);
    }
    if (r == 0) {
        r = conf_http_client(&rc->http, what, &http, err, errlen);
        /* follow_redirects is accepted and ignored: a receiver that redirects a POST is reported,
           not followed (the body would not be replayed). */
        http.follow_redirects = false;
    }
    if (r == 0) {
        w->nshards = rc->queue.max_shards < OUT_RW_SHARDS_MAX ? (size_t)rc->queue.max_shards
                                                              : OUT_RW_SHARDS_MAX;
        /* A run with more shards may have left spools: they are drained, never written. */
        w->nhttp = w->nshards;
        while (rc->spool_dir != NULL && w->nhttp < OUT_RW_SHARDS_MAX * 2 &&
               shard_spool_exists(rc->spool_dir, w->nhttp)) {
            w->nhttp++;
        }
        if (rc->spool_dir != NULL && mkdir(rc->spool_dir, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: spool %s: mkdir() failed: %s", what, rc->spool_dir,
                     strerror(errno));
            r = -EINVAL;
        }
    }
    for (size_t i = 0; r == 0 && i < w->nhttp; i++) {
        char swhat[96], sdir[4096];
        uint64_t qmax = rc->queue_max_bytes / w->nshards;
        if (w->nshards > 1 || w->nhttp > 1) {
            snprintf(swhat, sizeof(swhat), "%s shard %zu", what, i);
        }
        else {
            snprintf(swhat, sizeof(swhat), "%s", what);
        }
        if (rc->spool_dir != NULL) {
            snprintf(sdir, sizeof(sdir), "%s/shard-%zu", rc->spool_dir, i);
        }
        struct out_http_opts o = {
            .what = swhat,
            .url = rc->url,
            .http = &http,
            .enc = &enc_remote_write,
            .timeout_ms = rc->timeout_ms,
            /* max_samples_per_send bounds a request; the byte bound only guards memory. */
            .batch_max_bytes = qmax,
            .flush_interval_ms = rc->queue.batch_send_deadline_ms,
            .queue_max_bytes = qmax,
            .spool_dir = rc->spool_dir != NULL ? sdir : NULL,
            .spool_max_bytes = rc->spool_max_bytes / w->nshards,
            .spool_fsync = rc->fsync,
            .retry_initial_ms = rc->queue.min_backoff_ms,
            .retry_max_ms = rc->queue.max_backoff_ms,
            .type = "remote_write",
            .compress = out_remote_write_snappy,
            .content_encoding = "snappy",
            .extra_headers = rw_headers,
            .batch_max_samples = (uint64_t)rc->queue.max_samples_per_send,
            .reject_429 = !rc->queue.retry_on_http_429,
        };
        w->http[i] = out_http_new(l, &o, e2, sizeof(e2));
        if (w->http[i] == NULL) {
            snprintf(err, errlen, "%s: %s", what, e2);
            r = -EINVAL;
        }
    }
    httpc_opts_release(&http);
    if (r != 0) {
        rw_free(w);
        return r;
    }
    out->ops = &out_rw_ops;
    out->state = w;
    return 0;
}

static void
rw_summary(FILE *f, const struct config_output *co)
{
    const struct out_rw_conf *rc = co->opts;
    char *red = httpc_redact_url_dup(rc->url);

    fprintf(f, ": %s\n", red != NULL ? red : "<out of memory>");
    free(red);
    if (rc->nrelabels > 0) {
        fprintf(f, "  %zu write_relabel_configs rule(s)\n", rc->nrelabels);
    }
    if (rc->spool_dir != NULL) {
        fprintf(f, "  spool %s\n", rc->spool_dir);
    }
}

static void
rw_identity(const struct config_output *co, struct strbuf *sb)
{
    const struct out_rw_conf *rc = co->opts;
    const struct out_rw_queue *q = &rc->queue;
    struct httpc_opts http;
    char err[64];

    /* Every setting that shapes what is sent: a reload that changes one replaces the output. */
    strbuf_printf(sb, "%s\x1f%d\x1f%s\x1f%lld\x1f%llu\x1f%llu\x1f%lld,%lld,%lld,%lld,%lld,%d\x1f",
                  rc->url, (int)rc->fsync, rc->spool_dir != NULL ? rc->spool_dir : "",
                  (long long)rc->timeout_ms, (unsigned long long)rc->queue_max_bytes,
                  (unsigned long long)rc->spool_max_bytes, (long long)q->max_shards,
                  (long long)q->max_samples_per_send, (long long)q->batch_send_deadline_ms,
                  (long long)q->min_backoff_ms, (long long)q->max_backoff_ms,
                  (int)q->retry_on_http_429);
    conf_relabel_identity(rc->relabels, rc->nrelabels, sb);
    if (conf_http_client(&rc->http, "", &http, err, sizeof(err)) == 0) {
        httpc_identity(sb, &http);
        httpc_opts_release(&http);
    }
    else {
        sb->oom = true;
    }
}

static const char *
rw_spool_dir(const struct config_output *co)
{
    return ((const struct out_rw_conf *)co->opts)->spool_dir;
}

const struct output_type out_remote_write_type = {
    .name = "remote_write",
    .desc = "Prometheus remote write 1.0 (protobuf + snappy), with the http output's memory "
            "queue and disk spool.",
    .conf = &rw_section,
    .open = rw_open,
    .summary = rw_summary,
    .identity = rw_identity,
    .spool_dir = rw_spool_dir,
};

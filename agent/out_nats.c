/*
 * The nats output (see out_nats.h): its config section, the libnats connection on the loop, the
 * stream helper thread, and the transport out_http sends each message through.
 *
 * Threads: the loop owns everything but the fields under @mu. libnats' threads (the publish
 * acknowledgement handler, the connection callbacks) and the stream thread only write those
 * fields and then the eventfd; done_cb, on the loop, reads them and reports to out_http.
 */
#include "build-config.h"

#include "out_nats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <nats/nats.h>

#include "conf.h"
#include "conf_http.h"
#include "conf_tree.h"
#include "encoder.h"
#include "log.h"
#include "loop.h"
#include "nats_conn.h"
#include "out_http.h"
#include "strbuf.h"

#define OUT_NATS_ID_LEN 32 /* hex of a 128-bit digest */

/* An output's settings: config_output.opts of a nats output. */
struct out_nats_conf {
    struct nats_conn_conf conn; /* url, credentials, TLS, timeout */
    char *stream;
    char *subject;
    bool create_stream;
    int64_t replicas;
    int64_t duplicate_window_ms;
    uint64_t queue_max_bytes;
    char *spool_dir;
    uint64_t spool_max_bytes;
    enum spool_fsync fsync;
    int64_t retry_initial_ms;
    int64_t retry_max_ms;
};

struct out_nats {
    struct loop *loop; /* borrowed */
    char *what;
    /* copies of the settings: a reload keeps the output (same identity) and frees the config */
    char *stream, *subject, *stream_subject;
    bool create_stream;
    int64_t replicas, duplicate_window_ms, timeout_ms;
    const struct encoder *enc; /* borrowed: static */
    struct encoder bare;       /* enc without framing: out_http's body is one record */
    void *http;                /* owned: the queue, spool and books (out_http) */
    struct strbuf rec, msg;    /* scratch: a record, subject + '\n' + document */

    natsOptions *opts; /* owned */
    natsConnection *nc;
    jsCtx *js;
    struct nats_worker w;             /* the stream thread; mu guards the fields marked below */
    bool counted;                     /* nats_conn_hold() */
    char cur_id[OUT_NATS_ID_LEN + 1]; /* the message in flight (loop) */

    /* under w.mu */
    bool stream_ready;
    char pending_id[OUT_NATS_ID_LEN + 1]; /* the message whose result is awaited; "" = none */
    bool have_result;
    enum out_http_result result;
    char why[256];
    char note[256];      /* for the log, from another thread ("" = none) */
    uint64_t duplicates; /* acknowledgements saying the stream had the message already */
};

/* Records the result of message @id (any thread; locks mu). */
static void
post_result(struct out_nats *n, const char *id, enum out_http_result r, const char *why)
{
    pthread_mutex_lock(&n->w.mu);
    if (strcmp(id, n->pending_id) == 0 && !n->have_result) {
        n->have_result = true;
        n->result = r;
        snprintf(n->why, sizeof(n->why), "%s", why);
    }
    pthread_mutex_unlock(&n->w.mu);
    nats_worker_wake(&n->w);
}

/* Records a line for the loop to log (any thread; locks mu). */
static void post_note(struct out_nats *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
post_note(struct out_nats *n, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&n->w.mu);
    va_start(ap, fmt);
    vsnprintf(n->note, sizeof(n->note), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&n->w.mu);
    nats_worker_wake(&n->w);
}

/* libnats' publish acknowledgement handler: one of its threads. */
static void
ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    struct out_nats *n = closure;
    const char *id = NULL;
    char why[200];

    (void)js;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != NULL) {
        if (pa != NULL) {
            if (pa->Duplicate) {
                pthread_mutex_lock(&n->w.mu);
                n->duplicates++;
                pthread_mutex_unlock(&n->w.mu);
            }
            post_result(n, id, OUT_HTTP_OK, "");
        }
        else {
            snprintf(why, sizeof(why), "%s%s%s",
                     pae != NULL ? natsStatus_GetText(pae->Err) : "no acknowledgement",
                     pae != NULL && pae->ErrText != NULL ? ": " : "",
                     pae != NULL && pae->ErrText != NULL ? pae->ErrText : "");
            /* The stream refused this message for good only when it is too large. */
            post_result(
                n, id, pae != NULL && pae->Err == NATS_MAX_PAYLOAD ? OUT_HTTP_DROP : OUT_HTTP_RETRY,
                why);
        }
    }
    natsMsg_Destroy(msg);
}

static void
disconnected_cb(natsConnection *nc, void *closure)
{
    (void)nc;
    post_note(closure, "disconnected from the NATS server; reconnecting");
}

static void
reconnected_cb(natsConnection *nc, void *closure)
{
    char url[256] = "";

    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    post_note(closure, "connected to %s", url);
}

/*
 * Looks the stream up and, when it is missing and create_stream is on, creates it. On the stream
 * thread: libnats' JetStream calls wait for their answer (which the loop reads). 0, or -EAGAIN
 * with why in @why.
 */
static int
ensure_stream(struct out_nats *n, char *why, size_t len)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsOptions jo;
    natsStatus s;

    jsOptions_Init(&jo);
    jo.Wait = n->timeout_ms;
    s = js_GetStreamInfo(&si, n->js, n->stream, &jo, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND || !n->create_stream) {
        snprintf(why, len, "stream \"%s\": %s", n->stream,
                 s == NATS_NOT_FOUND ? "not found (and create_stream is false)"
                                     : natsStatus_GetText(s));
        return -EAGAIN;
    }
    jsStreamConfig sc;
    const char *subjects[1] = {n->stream_subject};
    jsStreamConfig_Init(&sc);
    sc.Name = n->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = n->replicas;
    sc.Duplicates = n->duplicate_window_ms * 1000000; /* nanoseconds */
    s = js_AddStream(&si, n->js, &sc, &jo, &jerr);
    if (s != NATS_OK) {
        snprintf(why, len, "creating stream \"%s\" failed: %s (JetStream error %d)", n->stream,
                 natsStatus_GetText(s), (int)jerr);
        return -EAGAIN;
    }
    jsStreamInfo_Destroy(si);
    return 1;
}

/* The stream thread: until the stream is there, tries every second (or until stopping). */
static void *
stream_main(void *arg)
{
    struct out_nats *n = arg;
    char why[300] = "", last[300] = "";

    pthread_mutex_lock(&n->w.mu);
    while (!n->w.stopping && !n->stream_ready) {
        pthread_mutex_unlock(&n->w.mu);
        int rc = -EAGAIN;
        if (natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED) {
            rc = ensure_stream(n, why, sizeof(why));
        }
        else {
            nats_conn_last_error(n->nc, why, sizeof(why));
        }
        pthread_mutex_lock(&n->w.mu);
        if (rc >= 0) {
            n->stream_ready = true;
            snprintf(n->note, sizeof(n->note), "stream \"%s\" %s", n->stream,
                     rc > 0 ? "created" : "found");
            nats_worker_wake(&n->w);
            break;
        }
        if (strcmp(why, last) != 0) {
            snprintf(n->note, sizeof(n->note), "%.200s; trying again every second", why);
            snprintf(last, sizeof(last), "%s", why);
            nats_worker_wake(&n->w);
        }
        nats_worker_nap_locked(&n->w, 1000);
    }
    pthread_mutex_unlock(&n->w.mu);
    return NULL;
}

/* On the loop: the other threads posted a result or a line to log. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct out_nats *n = arg;
    char why[256], note[256];
    bool have;
    enum out_http_result r;

    (void)fd;
    (void)what;
    nats_worker_woken(&n->w, n->what);
    pthread_mutex_lock(&n->w.mu);
    have = n->have_result;
    r = n->result;
    snprintf(why, sizeof(why), "%s", n->why);
    snprintf(note, sizeof(note), "%s", n->note);
    n->note[0] = '\0';
    if (have) {
        n->have_result = false;
        n->pending_id[0] = '\0';
    }
    pthread_mutex_unlock(&n->w.mu);
    if (note[0] != '\0') {
        log_info("out_nats: %s: %s", n->what, note);
    }
    if (have) {
        out_http_sent(n->http, r, why);
    }
}

static uint64_t
mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * The message id of @len bytes at @data: two 64-bit multiply-xor lanes over 8-byte words, mixed
 * at the end, as 32 hex digits in @id, at several GB/s: MD5 was 17% of the agent's CPU when
 * forwarding (perf, tests/bench/scrape.sh FORWARD=nats). Not cryptographic: two different batches
 * with one id inside the duplicate window would be stored once. By accident that is negligible
 * at 128 bits; on purpose a target would have to predict another batch's bytes (its timestamps).
 */
static void
msg_id(const char *data, size_t len, char id[OUT_NATS_ID_LEN + 1])
{
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ len, b = 0xc2b2ae3d27d4eb4fULL + len, w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&w, data + i, 8);
        a = (a ^ w) * 0xff51afd7ed558ccdULL;
        a ^= a >> 29;
        b = (b + w) * 0xc4ceb9fe1a85ec53ULL;
        b = (b << 31) | (b >> 33);
    }
    w = 0;
    memcpy(&w, data + i, len - i);
    a = mix64(a ^ w);
    b = mix64(b + w + a);
    snprintf(id, OUT_NATS_ID_LEN + 1, "%016" PRIx64 "%016" PRIx64, a, b);
}

/*
 * out_http's transport: @data is "SUBJECT NSAMPLES\nDOCUMENT" (one record: what write_batch
 * queued). Publishes it with its digest as Nats-Msg-Id, its sample count and format as headers;
 * the result comes through done_cb.
 */
static int
nats_send(void *arg, const char *data, size_t len)
{
    struct out_nats *n = arg;
    const char *nl = memchr(data, '\n', len);
    char subject[512];
    natsMsg *m = NULL;
    natsStatus s;
    const char *why = NULL;

    msg_id(data, len, n->cur_id);
    pthread_mutex_lock(&n->w.mu);
    snprintf(n->pending_id, sizeof(n->pending_id), "%s", n->cur_id);
    n->have_result = false;
    bool ready = n->stream_ready;
    pthread_mutex_unlock(&n->w.mu);

    if (nl == NULL || (size_t)(nl - data) >= sizeof(subject)) {
        post_result(n, n->cur_id, OUT_HTTP_DROP, "a record without its subject");
        return 0;
    }
    memcpy(subject, data, (size_t)(nl - data));
    subject[nl - data] = '\0';
    /* "SUBJECT NSAMPLES": the count goes in a header, for a relay's books */
    char *count = strchr(subject, ' ');
    if (count != NULL) {
        *count++ = '\0';
    }
    if (!ready) {
        why = "the stream is not ready (not found, or not created yet)";
    }
    else if (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CONNECTED) {
        why = "not connected to NATS";
    }
    if (why != NULL) {
        post_result(n, n->cur_id, OUT_HTTP_RETRY, why);
        return 0;
    }
    s = natsMsg_Create(&m, subject, NULL, nl + 1, (int)(len - (size_t)(nl - data) - 1));
    if (s == NATS_OK && count != NULL) {
        s = natsMsgHeader_Set(m, OUT_NATS_HDR_SAMPLES, count);
    }
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(m, OUT_NATS_HDR_FORMAT, n->enc->name);
    }
    if (s == NATS_OK) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = n->cur_id;
        po.MaxWait = n->timeout_ms;
        s = js_PublishMsgAsync(n->js, &m, &po);
    }
    if (s != NATS_OK) {
        char text[200];
        natsMsg_Destroy(m); /* NULL when libnats took it */
        snprintf(text, sizeof(text), "publish failed: %s", natsStatus_GetText(s));
        post_result(n, n->cur_id, s == NATS_MAX_PAYLOAD ? OUT_HTTP_DROP : OUT_HTTP_RETRY, text);
    }
    return 0;
}

/* Encodes @b as one document and queues it with its subject (the engine calls this). */
static int
nats_write_batch(void *state, const struct batch *b)
{
    struct out_nats *n = state;
    char *subject;

    if (b->nsamples == 0) {
        return 0; /* only staleness markers: this output does not send them */
    }
    subject = out_nats_subject_dup(n->subject, b->job);
    if (subject == NULL) {
        out_http_lost(n->http, (uint32_t)b->nsamples, OUTPUT_DROP_NO_MEMORY);
        return -ENOMEM; /* logged by the engine */
    }
    strbuf_reset(&n->rec);
    strbuf_reset(&n->msg);
    strbuf_printf(&n->msg, "%s %zu\n", subject, b->nsamples);
    free(subject);
    if (n->enc->encode(&n->rec, b) != 0 || n->rec.oom) {
        out_http_lost(n->http, (uint32_t)b->nsamples, OUTPUT_DROP_NO_MEMORY);
        return -ENOMEM; /* logged by the engine */
    }
    encoder_document(n->enc, &n->msg, n->rec.data, n->rec.len);
    if (n->msg.oom) {
        out_http_lost(n->http, (uint32_t)b->nsamples, OUTPUT_DROP_NO_MEMORY);
        return -ENOMEM;
    }
    return out_http_ops.write(n->http, n->msg.data, n->msg.len, (uint32_t)b->nsamples);
}

static int
nats_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    (void)state;
    (void)data;
    (void)len;
    (void)nsamples;
    return -ENOTSUP; /* the engine calls write_batch */
}

static int
nats_flush(void *state)
{
    struct out_nats *n = state;

    return out_http_ops.flush(n->http);
}

static void
nats_drain(void *state)
{
    struct out_nats *n = state;

    out_http_ops.drain(n->http);
}

static bool
nats_busy(const void *state)
{
    const struct out_nats *n = state;

    return out_http_ops.busy(n->http);
}

static void
nats_stats(const void *state, struct output_stats *st)
{
    const struct out_nats *n = state;

    out_http_ops.stats(n->http, st);
}

static void
nats_free(void *state)
{
    struct out_nats *n = state;

    if (n == NULL) {
        return;
    }
    nats_worker_stop(&n->w, n->nc); /* closing the connection fails a call it waits in */
    if (n->duplicates > 0) {
        log_info("out_nats: %s: %" PRIu64 " message(s) sent again were already in the stream "
                 "(deduplicated by Nats-Msg-Id)",
                 n->what, n->duplicates);
    }
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    if (n->counted) {
        nats_conn_drop();
    }
    /* out_http after the connection: no result can reach it any more */
    out_http_ops.free(n->http);
    free(n->stream);
    free(n->subject);
    free(n->stream_subject);
    strbuf_release(&n->rec);
    strbuf_release(&n->msg);
    nats_worker_release(&n->w);
    free(n->what);
    free(n);
}

static const struct output_ops out_nats_ops = {
    .name = "nats",
    .records = true,
    .write = nats_write,
    .write_batch = nats_write_batch,
    .flush = nats_flush,
    .drain = nats_drain,
    .busy = nats_busy,
    .stats = nats_stats,
    .free = nats_free,
};

char *
out_nats_subject_dup(const char *tpl, const char *job)
{
    struct strbuf sb;

    strbuf_init(&sb);
    for (const char *p = tpl; *p != '\0';) {
        if (strncmp(p, "{job}", 5) == 0) {
            for (const char *j = job; *j != '\0'; j++) {
                bool bad = *j == '.' || *j == '*' || *j == '>' || *j == ' ' || *j == '\t' ||
                           *j == '\r' || *j == '\n';
                strbuf_putc(&sb, bad ? '_' : *j);
            }
            p += 5;
        }
        else {
            strbuf_putc(&sb, *p++);
        }
    }
    strbuf_putc(&sb, '\0');
    if (sb.oom) {
        strbuf_release(&sb);
        return NULL;
    }
    return sb.data;
}

/* The stream's subject for the template @tpl: each "{job}" token as "*" (caller frees). */
static char *
stream_subject_dup(const char *tpl)
{
    /* out_nats_subject_dup makes a "*" job name "_": same length, then put the '*' back */
    char *s = out_nats_subject_dup(tpl, "*");
    char *q = s;

    for (const char *p = tpl; s != NULL && *p != '\0';) {
        if (strncmp(p, "{job}", 5) == 0) {
            *q++ = '*';
            p += 5;
        }
        else {
            *q++ = *p++;
        }
    }
    return s;
}

static int
nats_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
          char *err, size_t errlen)
{
    const struct out_nats_conf *c = co->opts;
    struct out_nats *n = calloc(1, sizeof(*n));
    char e2[400];
    natsStatus s;

    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    nats_worker_init(&n->w);
    strbuf_init(&n->rec);
    strbuf_init(&n->msg);
    n->loop = l;
    n->enc = encoder_find(co->format);
    n->what = strdup(what);
    n->stream = strdup(c->stream);
    n->subject = strdup(c->subject);
    n->stream_subject = stream_subject_dup(c->subject);
    n->create_stream = c->create_stream;
    n->replicas = c->replicas;
    n->duplicate_window_ms = c->duplicate_window_ms;
    n->timeout_ms = c->conn.timeout_ms;
    if (n->enc == NULL || n->what == NULL || n->stream == NULL || n->subject == NULL ||
        n->stream_subject == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        goto fail;
    }
    /* A request is exactly one record, already a whole document: no framing around it. */
    n->bare = *n->enc;
    n->bare.doc_open = n->bare.doc_sep = n->bare.doc_close = "";
    struct out_http_opts o = {
        .what = what,
        .url = c->conn.urls[0],
        .enc = &n->bare,
        .timeout_ms = c->conn.timeout_ms,
        .batch_max_bytes = c->queue_max_bytes,
        .flush_interval_ms = 1000,
        .queue_max_bytes = c->queue_max_bytes,
        .spool_dir = c->spool_dir,
        .spool_max_bytes = c->spool_max_bytes,
        .spool_fsync = c->fsync,
        .retry_initial_ms = c->retry_initial_ms,
        .retry_max_ms = c->retry_max_ms,
        .type = "nats",
        .batch_max_samples = 1, /* with "at least one record": one batch per message */
        .send = nats_send,
        .send_arg = n,
    };
    n->http = out_http_new(l, &o, e2, sizeof(e2));
    if (n->http == NULL) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    if (nats_worker_listen(&n->w, loop_base(l), done_cb, n, e2, sizeof(e2)) != 0) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    s = natsOptions_Create(&n->opts);
    n->counted = true;
    nats_conn_hold();
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s: natsOptions_Create() failed: %s", what, natsStatus_GetText(s));
        goto fail;
    }
    if (nats_conn_options(n->opts, &c->conn, e2, sizeof(e2)) != NATS_OK) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    s = nats_conn_set_loop(n->opts, loop_base(l));
    if (s == NATS_OK) {
        s = natsOptions_SetRetryOnFailedConnect(n->opts, true, reconnected_cb, n);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetDisconnectedCB(n->opts, disconnected_cb, n);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectedCB(n->opts, reconnected_cb, n);
    }
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s: natsOptions_Set*() failed: %s", what, natsStatus_GetText(s));
        goto fail;
    }
    /* A server that is down is no error: libnats keeps trying, and the spool keeps the data. */
    s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        snprintf(err, errlen, "%s: natsConnection_Connect() failed: %s", what,
                 natsStatus_GetText(s));
        goto fail;
    }
    if (s == NATS_NOT_YET_CONNECTED) {
        char why[300];
        nats_conn_last_error(n->nc, why, sizeof(why));
        log_warn("out_nats: %s: %s; trying in the background", what, why);
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = c->conn.timeout_ms;
    jo.PublishAsync.AckHandler = ack_cb;
    jo.PublishAsync.AckHandlerClosure = n;
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s: natsConnection_JetStream() failed: %s", what,
                 natsStatus_GetText(s));
        goto fail;
    }
    if (nats_worker_start(&n->w, stream_main, n, e2, sizeof(e2)) != 0) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    out->ops = &out_nats_ops;
    out->state = n;
    return 0;
fail:
    nats_free(n);
    return -EINVAL;
}

/* The config: type nats */

static void nats_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);
static void nats_release(void *base);

#define NO(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct out_nats_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field nats_fields[] = {
    CONF_OUTPUT_FIELDS,
    NATS_CONN_FIELDS(struct out_nats_conf, conn),
    NO("stream", CONF_FT_STR, stream, CONF_F_NONEMPTY, .def = "pollster",
       .desc = "The JetStream stream the messages go to."),
    NO("subject", CONF_FT_STR, subject, CONF_F_NONEMPTY, .def = "pollster.{job}",
       .desc = "The subject of a batch: {job} is its job name (with '.', '*', '>' and white "
               "space as '_')."),
    NO("create_stream", CONF_FT_BOOL, create_stream, 0, .def = "true",
       .desc = "Create the stream when it is missing (subjects from the template, file "
               "storage); false: it must exist."),
    NO("replicas", CONF_FT_INT, replicas, 0, .def = "1", .min = 1, .max = 5,
       .desc = "Replicas of a stream this output creates (3 in a 3-node cluster)."),
    NO("duplicate_window", CONF_FT_DURATION, duplicate_window_ms, 0, .def = "2m",
       .desc = "A created stream's window in which a message sent again (same Nats-Msg-Id) is "
               "stored once."),
    OUT_HTTP_QUEUE_FIELDS(struct out_nats_conf),
};
#undef NO

static const struct conf_section nats_section = {.name = "outputs[] (type nats)",
                                                 .what = "output type nats",
                                                 CONF_FIELDS(nats_fields),
                                                 .opts_off = offsetof(struct config_output, opts),
                                                 .opts_size = sizeof(struct out_nats_conf),
                                                 .check = nats_check,
                                                 .release = nats_release};

static void
nats_release(void *base)
{
    struct config_output *o = base;
    struct out_nats_conf *c = o->opts;

    if (c != NULL) {
        nats_conn_release(&c->conn);
    }
}

static void
nats_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_output *o = base;
    struct out_nats_conf *c = o->opts;
    const struct conf_node *n;

    nats_conn_check(x, &c->conn, map, path);
    if (o->format != NULL && encoder_find(o->format) == NULL) {
        return; /* reported by the core */
    }
    if (c->subject != NULL) {
        n = conf_tree_get(map, "subject");
        /* {job} must be a whole token, so that the stream's subjects can match every job */
        for (const char *p = strstr(c->subject, "{job}"); p != NULL; p = strstr(p + 5, "{job}")) {
            if ((p != c->subject && p[-1] != '.') || (p[5] != '\0' && p[5] != '.')) {
                conf_err(x, n, "subject \"%s\" in %s: {job} must be a whole token (a.{job}.b)",
                         c->subject, path);
                break;
            }
        }
        if (strchr(c->subject, ' ') != NULL || strchr(c->subject, '*') != NULL ||
            strchr(c->subject, '>') != NULL || c->subject[0] == '.' ||
            c->subject[strlen(c->subject) - 1] == '.' || strstr(c->subject, "..") != NULL) {
            conf_err(x, n, "subject \"%s\" in %s: not a valid NATS subject to publish to",
                     c->subject, path);
        }
    }
    if (c->queue_max_bytes == 0) {
        conf_err(x, conf_tree_get(map, "queue_max_bytes"),
                 "queue_max_bytes must be greater than 0");
    }
    if (c->retry_initial_ms == 0) {
        conf_err(x, conf_tree_get(map, "retry_initial"), "retry_initial must be greater than 0");
    }
    else if (c->retry_max_ms < c->retry_initial_ms) {
        conf_err(x, conf_tree_get(map, "retry_max"),
                 "retry_max must not be less than retry_initial");
    }
    if (c->spool_dir != NULL) {
        conf_claim(x, conf_tree_get(map, "spool_dir"), "spool_dir", c->spool_dir, path);
    }
}

static void
nats_summary(FILE *f, const struct config_output *co)
{
    const struct out_nats_conf *c = co->opts;

    fprintf(f, ": ");
    nats_conn_summary(f, &c->conn);
    fprintf(f, ", stream %s, subject %s\n", c->stream, c->subject);
    if (c->spool_dir != NULL) {
        fprintf(f, "  spool %s\n", c->spool_dir);
    }
}

static void
nats_identity(const struct config_output *co, struct strbuf *sb)
{
    const struct out_nats_conf *c = co->opts;

    /* any change reopens it: the connection carries most settings */
    nats_conn_identity(&c->conn, sb);
    strbuf_printf(sb, "\x1f%s\x1f%s\x1f%d\x1f%" PRId64 "\x1f%" PRId64 "\x1f%s\x1f%d", c->stream,
                  c->subject, (int)c->create_stream, c->replicas, c->duplicate_window_ms,
                  c->spool_dir != NULL ? c->spool_dir : "", (int)c->fsync);
}

static const char *
nats_spool_dir(const struct config_output *co)
{
    return ((const struct out_nats_conf *)co->opts)->spool_dir;
}

const struct output_type out_nats_type = {
    .name = "nats",
    .desc = "NATS JetStream: one message per batch, acknowledged by the stream, with the http "
            "output's memory queue and disk spool.",
    .conf = &nats_section,
    .open = nats_open,
    .summary = nats_summary,
    .identity = nats_identity,
    .spool_dir = nats_spool_dir,
};

/*
 * The http output (out_http.h): a memory queue backed by the spool, one request in flight at a
 * time so batches arrive in order, and a timer for flush intervals and retry backoff.
 *
 * Order: the spool always holds the oldest records (it is a prefix of the queue), memory the
 * newest. Requests take from the spool while it has unread records, then from memory. Moving
 * records to the spool ("spilling") moves the whole memory queue to the spool's end, which keeps
 * that order; a memory request in flight is cancelled first (its records go with the rest).
 *
 * The books: every sample handed to write() (collected), or found in the spool at start
 * (recovered), is at every moment exactly one of delivered, dropped (by reason) or pending (in
 * the memory queue or the spool). Each counter moves only where the samples move.
 */
#include "build-config.h"

#include "out_http.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "conf.h"
#include "conf_http.h"
#include "oauth2.h"
#include "conf_targets.h"
#include "log.h"
#include "loop.h"
#include "recpack.h"
#include "sample.h"

/* Fastest deflate level: on metrics text it keeps most of the ratio at a fraction of the CPU. */
#define OUT_HTTP_GZIP_LEVEL 1
/* How much of a sink's answer is kept for the log line. */
#define OUT_HTTP_ANSWER_MAX 512
/* Buffers up to this size are kept when the queue empties; bigger ones are freed. */
#define OUT_HTTP_BUF_KEEP (64u << 10)
/* A queue that held this much in memory (or anything in the spool) had an episode worth giving
 * memory back to the system after (malloc_trim: it walks the heap, so once per episode). */
#define OUT_HTTP_SHED_AT (1u << 20)

/* The longest Retry-After honoured (a broken sink must not park the output for days). */
#define OUT_HTTP_RETRY_AFTER_MAX_MS (3600 * 1000)

/* A batch waiting in the memory queue (no spool, or the spool could not take it). */
struct rec {
    struct rec *next;
    size_t len; /* of the text */
    uint32_t nsamples;
    uint32_t zlen; /* 0: data is the text; else data is the text packed into zlen bytes */
    char data[];
};

/* The bytes @r holds. */
#define REC_HELD(r) ((r)->zlen != 0 ? (uint64_t)(r)->zlen : (uint64_t)(r)->len)

/* A piece of a request body read in place: framing text or a queued record. */
struct body_seg {
    const char *p;
    size_t len;
    uint32_t zlen; /* a packed record: p holds zlen bytes that unpack to len */
};

struct out_http {
    struct loop *loop; /* borrowed */
    struct out_http_opts o;
    char *what;
    char *url;
    struct httpc_opts http; /* owned copy */

    struct spool *spool; /* owned; NULL without spool_dir */

    /* memory queue, oldest first */
    struct rec *head, *tail;
    uint64_t mem_bytes, mem_samples;
    size_t mem_count;
    uint64_t mem_held;      /* bytes the records take: mem_bytes less what packing saved */
    struct recpack pack;    /* records pushed onto a long queue are kept packed (recpack.h) */
    struct strbuf packed;   /* a record being packed */
    struct strbuf unpacked; /* a packed record's text on its way to the spool */
    bool req_packed;        /* the request has packed records: not read in place */

    /* the request */
    CURL *easy;
    bool worn; /* made anew before the next request (httpc_easy_worn) */
    struct curl_slist *headers;
    struct curl_slist *proxy_headers; /* owned: CONNECT lines (proxy_connect_header) */
    struct oauth2 *oauth2;            /* owned: with http.oauth2 */
    struct curl_slist *auth_headers;  /* owned: headers plus the oauth2 token's line */
    struct loop_xfer xfer;
    bool in_flight;
    bool from_spool;      /* else: the first req_recs records of the memory queue */
    size_t req_recs;      /* records in the request */
    uint64_t req_bytes;   /* their bytes (memory records) */
    uint64_t req_samples; /* samples in it */
    uint64_t req_last_seq;
    struct strbuf body; /* the document (from the spool, or to be compressed) */
    /*
     * An uncompressed request from memory is not copied into body: curl reads the framing and
     * the records where they are (body_read_cb), segment by segment.
     */
    struct body_seg *segs;
    size_t nsegs, segs_cap;
    size_t seg_i, seg_off; /* read position */
    struct strbuf gz;      /* the document compressed */
    struct strbuf rec;     /* one record read from the spool */
    struct strbuf answer;  /* the start of the sink's answer */
    z_stream zs;
    bool zs_ready;

    struct event *timer; /* flush interval, or retry backoff while failing */
    bool failing;        /* backing off: no request until the timer fires */
    bool sink_down;      /* the last request failed: until one succeeds, batches go to the spool */
    bool spool_dirty;    /* appended to since the last spool_sync() */
    struct event *sync_timer; /* fsync: interval */
    unsigned attempt;         /* failed attempts in a row */
    bool draining;
    struct log_limit complain;
    struct log_limit queue_complain;
    uint64_t dropped_at_down; /* losses() when the sink went down (for the failure message) */
    bool grew; /* the queue held OUT_HTTP_SHED_AT in memory, or the spool was read, since the
                  last time it was empty */

    struct output_stats st;
};

static const char *const drop_names[OUTPUT_DROP__COUNT] = {
    [OUTPUT_DROP_QUEUE_FULL] = "queue_full",   [OUTPUT_DROP_SPOOL_FULL] = "spool_full",
    [OUTPUT_DROP_REJECTED] = "rejected",       [OUTPUT_DROP_SHUTDOWN] = "shutdown",
    [OUTPUT_DROP_SPOOL_ERROR] = "spool_error", [OUTPUT_DROP_CORRUPT] = "corrupt",
    [OUTPUT_DROP_WRITE_ERROR] = "write_error", [OUTPUT_DROP_NO_MEMORY] = "out_of_memory",
    [OUTPUT_DROP_RELOAD] = "reload",
};

const char *
output_drop_name(enum output_drop d)
{
    return d < OUTPUT_DROP__COUNT ? drop_names[d] : "unknown";
}

static void send_next(struct out_http *h);
static void arm_sync(struct out_http *h);

static bool
spool_has_unread(const struct out_http *h)
{
    return h->spool != NULL && !spool_all_read(h->spool);
}

/* Records not yet in a request. */
static bool
has_unsent(const struct out_http *h)
{
    size_t in_req = h->in_flight && !h->from_spool ? h->req_recs : 0;

    return spool_has_unread(h) || h->mem_count > in_req;
}

static void
arm_timer(struct out_http *h, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (evtimer_add(h->timer, &tv) != 0) {
        log_err("out_http: %s: cannot arm a timer", h->what);
    }
}

/* Bytes waiting that no request carries yet. */
static uint64_t
unsent_bytes(const struct out_http *h)
{
    uint64_t n = h->mem_bytes;

    if (h->in_flight && !h->from_spool) {
        n -= h->req_bytes;
    }
    if (h->spool != NULL) {
        struct spool_stats ss;
        spool_stats(h->spool, &ss);
        n += ss.unread_bytes;
    }
    return n;
}

/* Samples in memory that no request carries yet. */
static uint64_t
unsent_samples(const struct out_http *h)
{
    return h->mem_samples - (h->in_flight && !h->from_spool ? h->req_samples : 0);
}

/*
 * Whether a request should leave now: OUT_HTTP_SEND_AT bytes are waiting (batch_max_bytes when
 * smaller). It then carries what waits, up to batch_max_bytes. An output type that counts
 * requests in samples (batch_max_samples: remote_write's max_samples_per_send) sends at that
 * count, or at batch_max_bytes, its memory guard.
 */
static bool
request_ready(const struct out_http *h)
{
    if (h->o.batch_max_samples > 0) {
        return unsent_samples(h) >= h->o.batch_max_samples ||
               unsent_bytes(h) >= h->o.batch_max_bytes;
    }
    return unsent_bytes(h) >=
           (h->o.batch_max_bytes < OUT_HTTP_SEND_AT ? h->o.batch_max_bytes : OUT_HTTP_SEND_AT);
}

/* Sends now when a request's worth is waiting or we drain; else within a flush interval. */
static void
kick(struct out_http *h)
{
    if (h->in_flight || h->failing || !has_unsent(h)) {
        return;
    }
    if (h->draining || spool_has_unread(h) || request_ready(h)) {
        evtimer_del(h->timer);
        send_next(h);
    }
    else if (!evtimer_pending(h->timer, NULL)) {
        arm_timer(h, h->o.flush_interval_ms);
    }
}

static void
mem_pop(struct out_http *h)
{
    struct rec *r = h->head;

    h->head = r->next;
    if (h->head == NULL) {
        h->tail = NULL;
    }
    h->mem_bytes -= r->len;
    h->mem_held -= REC_HELD(r);
    h->mem_samples -= r->nsamples;
    h->mem_count--;
    free(r);
}

/* Drops the oldest records not in the request until the queue fits queue_max_bytes. */
static void
mem_bound(struct out_http *h)
{
    size_t keep = h->in_flight && !h->from_spool ? h->req_recs : 0;
    uint64_t samples = 0, records = 0;

    while (h->mem_held > h->o.queue_max_bytes && h->mem_count > keep) {
        /* Unlink the record after the request's ones (or the head). */
        struct rec **pp = &h->head;
        for (size_t i = 0; i < keep; i++) {
            pp = &(*pp)->next;
        }
        struct rec *r = *pp;
        *pp = r->next;
        if (h->tail == r) {
            h->tail = NULL;
            for (struct rec *t = h->head; t != NULL; t = t->next) {
                h->tail = t;
            }
        }
        h->mem_bytes -= r->len;
        h->mem_held -= REC_HELD(r);
        h->mem_samples -= r->nsamples;
        h->mem_count--;
        samples += r->nsamples;
        records++;
        free(r);
    }
    if (records > 0) {
        /* With a spool, memory holds batches only when the spool could not take them. */
        h->st.dropped[h->spool != NULL ? OUTPUT_DROP_SPOOL_ERROR : OUTPUT_DROP_QUEUE_FULL] +=
            samples;
        log_complain(&h->queue_complain, clock_mono_ms(), 1, h->what,
                     "memory queue over queue_max_bytes (%llu): dropped the oldest %llu batch(es), "
                     "%llu samples (%s)",
                     (unsigned long long)h->o.queue_max_bytes, (unsigned long long)records,
                     (unsigned long long)samples,
                     h->spool != NULL ? "the spool cannot take them"
                                      : "configure spool_dir to keep them");
    }
}

static int
mem_push(struct out_http *h, const char *data, size_t len, uint32_t nsamples)
{
    const char *src = data;
    size_t n = len;
    uint32_t zlen = 0;

    /* Packing costs CPU: only for a lagging sink, when a full request waits behind the one in
     * flight (a healthy sink takes each request before the next one fills). */
    uint64_t unsent = h->mem_bytes - (h->in_flight && !h->from_spool ? h->req_bytes : 0);
    if (unsent >= h->o.batch_max_bytes && unsent >= RECPACK_AT && len <= UINT32_MAX &&
        recpack_pack(&h->pack, &h->packed, data, len) == 0 && h->packed.len < len) {
        src = h->packed.data;
        n = zlen = (uint32_t)h->packed.len;
    }
    struct rec *r = malloc(sizeof(*r) + n);
    if (r == NULL) {
        return -ENOMEM;
    }
    r->next = NULL;
    r->len = len;
    r->nsamples = nsamples;
    r->zlen = zlen;
    memcpy(r->data, src, n);
    if (h->tail != NULL) {
        h->tail->next = r;
    }
    else {
        h->head = r;
    }
    h->tail = r;
    h->mem_bytes += len;
    h->mem_samples += nsamples;
    h->mem_count++;
    h->mem_held += n;
    if (h->mem_bytes >= OUT_HTTP_SHED_AT) {
        h->grew = true;
    }
    return 0;
}

/* The text of the record at the head of the queue: in place, or unpacked into h->unpacked. */
static int
head_text(struct out_http *h, const char **text)
{
    const struct rec *r = h->head;

    *text = r->data;
    if (r->zlen == 0) {
        return 0;
    }
    strbuf_reset(&h->unpacked);
    int rc = recpack_unpack(&h->pack, &h->unpacked, r->data, r->zlen, r->len);
    *text = h->unpacked.data; /* after the unpack: it may move or allocate the buffer */
    return rc;
}

/* Moves the whole memory queue, oldest first, to the end of the spool (see the order above). */
static void
spill(struct out_http *h)
{
    if (h->spool == NULL || h->mem_count == 0) {
        return;
    }
    while (h->head != NULL) {
        uint64_t dropped = 0;
        const char *text;
        int rc = head_text(h, &text);
        if (rc != 0) {
            break; /* out of memory: it stays in memory, bounded by queue_max_bytes */
        }
        rc = spool_append(h->spool, text, h->head->len, h->head->nsamples, &dropped);
        h->st.dropped[OUTPUT_DROP_SPOOL_FULL] += dropped;
        if (rc == -EFBIG && h->in_flight && !h->from_spool) {
            break; /* the request in flight may still deliver it: decide when it ends */
        }
        if (rc == -EFBIG) {
            /* Larger than the whole spool: it can never be kept there. */
            h->st.dropped[OUTPUT_DROP_SPOOL_ERROR] += h->head->nsamples;
            log_err("out_http: %s: a batch of %zu bytes is larger than spool_max_bytes; dropped "
                    "its %u samples",
                    h->what, h->head->len, h->head->nsamples);
        }
        else if (rc != 0) {
            break; /* logged by the spool; the rest stays in memory, bounded by queue_max_bytes */
        }
        /*
         * The first record is on disk: only now cancel a memory request in flight (its records
         * go to the spool with the rest, and are sent again from there: at least once). When the
         * spool takes nothing, the request runs on and mem_bound() keeps its records.
         */
        if (h->in_flight && !h->from_spool) {
            loop_xfer_cancel(h->loop, &h->xfer);
            h->in_flight = false;
            h->req_recs = 0;
        }
        mem_pop(h);
        h->spool_dirty = true;
    }
    arm_sync(h);
}

/* With fsync: interval, what was appended is synced within a flush_interval. */
static void
arm_sync(struct out_http *h)
{
    if (h->spool != NULL && h->spool_dirty && h->o.spool_fsync == SPOOL_FSYNC_INTERVAL &&
        !evtimer_pending(h->sync_timer, NULL)) {
        struct timeval tv = {.tv_sec = h->o.flush_interval_ms / 1000,
                             .tv_usec = (h->o.flush_interval_ms % 1000) * 1000};
        evtimer_add(h->sync_timer, &tv);
    }
}

static void
sync_cb(evutil_socket_t fd, short what, void *arg)
{
    struct out_http *h = arg;

    (void)fd;
    (void)what;
    if (h->spool_dirty && spool_sync(h->spool) == 0) {
        h->spool_dirty = false;
    }
    arm_sync(h); /* a failed sync is tried again a flush_interval later */
}

void
out_http_lost(void *state, uint32_t nsamples, enum output_drop why)
{
    struct out_http *h = state;

    h->st.collected += nsamples;
    h->st.dropped[why] += nsamples;
}

static int
out_http_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_http *h = state;
    int rc = -ENOSPC;

    h->st.collected += nsamples;
    /*
     * While the sink is down every batch goes to the spool at once: an outage is when a kill -9
     * or a crash would cost the most. (Memory is empty then: the failure spilled it.)
     */
    if (h->spool != NULL && h->sink_down && h->mem_count == 0) {
        uint64_t dropped = 0;
        rc = spool_append(h->spool, data, len, nsamples, &dropped);
        h->st.dropped[OUTPUT_DROP_SPOOL_FULL] += dropped;
        h->spool_dirty = true;
    }
    if (rc != 0) {
        if (mem_push(h, data, len, nsamples) != 0) {
            h->st.dropped[OUTPUT_DROP_NO_MEMORY] += nsamples; /* logged by the engine */
            return -ENOMEM;
        }
        if (h->mem_held > h->o.queue_max_bytes) {
            spill(h);
            mem_bound(h); /* what the spool could not take, or no spool */
        }
    }
    arm_sync(h);
    kick(h);
    return 0;
}

static void
body_framing(struct out_http *h, bool first)
{
    if (first) {
        strbuf_puts(&h->body, h->o.enc->doc_open);
    }
    else {
        strbuf_puts(&h->body, h->o.enc->doc_sep);
    }
}

/*
 * With batch_max_samples: whether a record of @ns more samples would take the request past it,
 * or with @ns 0, whether the request is full.
 */
static bool
over_samples(const struct out_http *h, uint32_t ns)
{
    uint64_t max = h->o.batch_max_samples;

    if (max == 0) {
        return false;
    }
    return ns > 0 ? h->req_samples + ns > max : h->req_samples >= max;
}

/* Fills h->body with records from the spool (oldest first) up to batch_max_bytes. */
static int
fill_from_spool(struct out_http *h)
{
    h->grew = true;
    for (;;) {
        uint32_t ns = 0;
        uint64_t seq = 0;
        strbuf_reset(&h->rec);
        int rc = spool_read(h->spool, &h->rec, &ns, &seq);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            break;
        }
        if (h->rec.oom) {
            spool_rewind(h->spool, &h->st.dropped[OUTPUT_DROP_SPOOL_FULL]);
            return -ENOMEM;
        }
        if (h->rec.len > 0) {
            body_framing(h, h->body.len == 0);
            strbuf_append(&h->body, h->rec.data, h->rec.len);
        }
        h->req_recs++;
        h->req_samples += ns;
        h->req_last_seq = seq;
        /* A request may pass its bounds by its last record: records are never split. */
        if (h->body.len >= h->o.batch_max_bytes || over_samples(h, 0)) {
            break;
        }
    }
    return 0;
}

static int
compress_body(struct out_http *h)
{
    if (!h->zs_ready) {
        memset(&h->zs, 0, sizeof(h->zs));
        if (deflateInit2(&h->zs, OUT_HTTP_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
            return -ENOMEM;
        }
        h->zs_ready = true;
    }
    else {
        deflateReset(&h->zs);
    }
    strbuf_reset(&h->gz);
    size_t bound = deflateBound(&h->zs, (uLong)h->body.len);
    if (strbuf_reserve(&h->gz, bound) != 0) {
        return -ENOMEM;
    }
    h->zs.next_in = (Bytef *)h->body.data;
    h->zs.avail_in = (uInt)h->body.len;
    h->zs.next_out = (Bytef *)h->gz.data;
    h->zs.avail_out = (uInt)bound;
    if (deflate(&h->zs, Z_FINISH) != Z_STREAM_END) {
        return -EIO;
    }
    h->gz.len = bound - h->zs.avail_out;
    return 0;
}

static size_t
answer_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct out_http *h = arg;
    size_t n = size * nmemb;

    if (h->answer.len < OUT_HTTP_ANSWER_MAX) {
        size_t take =
            n < OUT_HTTP_ANSWER_MAX - h->answer.len ? n : OUT_HTTP_ANSWER_MAX - h->answer.len;
        strbuf_append(&h->answer, ptr, take);
    }
    return n;
}

static int
seg_add(struct out_http *h, const char *p, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (h->nsegs == h->segs_cap) {
        size_t cap = h->segs_cap ? h->segs_cap * 2 : 64;
        struct body_seg *n = realloc(h->segs, cap * sizeof(*n));
        if (n == NULL) {
            return -ENOMEM;
        }
        h->segs = n;
        h->segs_cap = cap;
    }
    h->segs[h->nsegs++] = (struct body_seg){p, len, 0};
    return 0;
}

static void settle(struct out_http *h, int why);

/*
 * The request's records from the memory queue, oldest first, up to batch_max_bytes and
 * batch_max_samples (a record is never split; the first always goes), as segments over the
 * queue, framing included: returns the body's length, or -ENOMEM. The records stay put while the
 * request is in flight (mem_bound keeps them; spill cancels the request before it frees them).
 */
static ssize_t
segs_from_memory(struct out_http *h)
{
    const struct encoder *enc = h->o.enc;
    size_t total = 0;
    int rc = 0;

    h->nsegs = h->seg_i = h->seg_off = 0;
    h->req_packed = false;
    for (struct rec *r = h->head; r != NULL; r = r->next) {
        if (h->req_recs > 0 &&
            (total + r->len > h->o.batch_max_bytes || over_samples(h, r->nsamples))) {
            break;
        }
        if (r->len > 0) {
            const char *frame = total == 0 ? enc->doc_open : enc->doc_sep;
            rc |= seg_add(h, frame, strlen(frame));
            rc |= seg_add(h, r->data, r->len);
            if (rc == 0 && r->zlen != 0) {
                h->segs[h->nsegs - 1].zlen = r->zlen;
                h->req_packed = true;
            }
            total += strlen(frame) + r->len;
        }
        h->req_recs++;
        h->req_samples += r->nsamples;
        h->req_bytes += r->len;
    }
    if (total > 0) {
        rc |= seg_add(h, enc->doc_close, strlen(enc->doc_close));
        total += strlen(enc->doc_close);
    }
    return rc != 0 ? -ENOMEM : (ssize_t)total;
}

/* CURLOPT_READFUNCTION of segment requests: the next bytes of the segments. */
static size_t
body_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct out_http *h = arg;
    size_t room = size * nitems, n = 0;

    while (room > 0 && h->seg_i < h->nsegs) {
        const struct body_seg *sg = &h->segs[h->seg_i];
        size_t take = sg->len - h->seg_off < room ? sg->len - h->seg_off : room;
        memcpy(buf + n, sg->p + h->seg_off, take);
        n += take;
        room -= take;
        h->seg_off += take;
        if (h->seg_off == sg->len) {
            h->seg_i++;
            h->seg_off = 0;
        }
    }
    return n;
}

/* CURLOPT_SEEKFUNCTION: curl rewinds to send the body again (a kept-alive connection died). */
static int
body_seek_cb(void *arg, curl_off_t offset, int origin)
{
    struct out_http *h = arg;

    if (origin != SEEK_SET || offset < 0) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    h->seg_i = 0;
    h->seg_off = 0;
    while (h->seg_i < h->nsegs && (curl_off_t)h->segs[h->seg_i].len <= offset) {
        offset -= (curl_off_t)h->segs[h->seg_i].len;
        h->seg_i++;
    }
    if (h->seg_i == h->nsegs && offset > 0) {
        return CURL_SEEKFUNC_FAIL;
    }
    h->seg_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* @data NULL: the body is h->segs (read through body_read_cb), @len bytes. */
static int
easy_prepare(struct out_http *h, const char *data, size_t len)
{
    CURLcode rc = CURLE_OK;

    if (h->easy != NULL && h->worn) {
        /* Made anew below (httpc_easy_worn); the sink's connection stays in the multi's cache. */
        curl_easy_cleanup(h->easy);
        loop_conn_release(h->loop);
        curl_slist_free_all(h->headers);
        curl_slist_free_all(h->proxy_headers);
        h->headers = h->proxy_headers = NULL;
        h->easy = NULL;
    }
    h->worn = false;
    if (h->easy == NULL) {
        char ct[128];
        h->easy = curl_easy_init();
        if (h->easy == NULL) {
            return -ENOMEM;
        }
        loop_conn_reserve(h->loop); /* the sink's connection stays open between requests */
        snprintf(ct, sizeof(ct), "Content-Type: %s", h->o.enc->content_type);
        struct curl_slist *n = curl_slist_append(NULL, ct);
        if (n != NULL && (h->o.gzip || h->o.compress != NULL)) {
            snprintf(ct, sizeof(ct), "Content-Encoding: %s",
                     h->o.compress != NULL ? h->o.content_encoding : "gzip");
            struct curl_slist *m = curl_slist_append(n, ct);
            n = m != NULL ? m : n;
        }
        for (size_t i = 0; n != NULL && h->o.extra_headers != NULL && h->o.extra_headers[i]; i++) {
            struct curl_slist *m = curl_slist_append(n, h->o.extra_headers[i]);
            n = m != NULL ? m : n;
        }
        /* No "Expect: 100-continue" round trip before each body. */
        if (n != NULL) {
            struct curl_slist *m = curl_slist_append(n, "Expect:");
            n = m != NULL ? m : n;
        }
        h->headers = n;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(h->easy, opt, val);                                              \
    } while (0)
        /* Auth, TLS, headers (after ours in h->headers), user agent, protocols. */
        rc = httpc_apply(h->easy, &h->http, &h->headers, &h->proxy_headers);
        SET(CURLOPT_URL, h->url);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long)h->o.timeout_ms);
        SET(CURLOPT_TIMEOUT_MS, (long)h->o.timeout_ms);
        /* A sink that redirects a POST is misconfigured: report it, do not replay the body. */
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_WRITEFUNCTION, answer_cb);
        SET(CURLOPT_WRITEDATA, h);
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, body_read_cb); /* used while POSTFIELDS is NULL */
        SET(CURLOPT_READDATA, h);
        SET(CURLOPT_SEEKFUNCTION, body_seek_cb);
        SET(CURLOPT_SEEKDATA, h);
        if (rc != CURLE_OK) {
            log_err("out_http: %s: curl_easy_setopt() failed: %s", h->what, curl_easy_strerror(rc));
            return -EINVAL;
        }
    }
    /* The size first: without it curl would strlen() the (binary) body. */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    SET(CURLOPT_POSTFIELDS, data);
#undef SET
    return rc == CURLE_OK ? 0 : -EINVAL;
}

static void request_done(struct loop_xfer *x, CURLcode rc);

/* oauth2_done_fn: the prepared request goes out with the token, or fails as a request would. */
static void
token_cb(void *arg, const char *line, enum reason reason, const char *error)
{
    struct out_http *h = arg;

    (void)reason;
    if (line != NULL && oauth2_set_header(line, h->easy, h->headers, &h->auth_headers) == 0 &&
        loop_xfer_start(h->loop, &h->xfer) == 0) {
        return;
    }
    snprintf(h->xfer.errbuf, sizeof(h->xfer.errbuf), "oauth2: %s",
             line != NULL ? "cannot start the request" : error);
    request_done(&h->xfer, CURLE_LOGIN_DENIED); /* retried like any transport failure */
}

/* Starts the prepared request, after fetching an oauth2 token when the cached one is stale. */
static int
start_request(struct out_http *h)
{
    char why[CURL_ERROR_SIZE + 32];
    const char *line;

    if (h->oauth2 == NULL) {
        return loop_xfer_start(h->loop, &h->xfer);
    }
    line = oauth2_cached(h->oauth2, clock_mono_ms());
    if (line == NULL) {
        int rc = oauth2_fetch(h->oauth2, h->o.timeout_ms, token_cb, h, why, sizeof(why));
        if (rc != 0) {
            log_err("out_http: %s: %s", h->what, why);
        }
        return rc;
    }
    if (oauth2_set_header(line, h->easy, h->headers, &h->auth_headers) != 0) {
        return -ENOMEM;
    }
    return loop_xfer_start(h->loop, &h->xfer);
}

/* Requests from memory are read in place: no compression, no transport of its own. */
static bool
reads_in_place(const struct out_http *h)
{
    return h->o.compress == NULL && !h->o.gzip && h->o.send == NULL;
}

static void
send_next(struct out_http *h)
{
    int rc = 0;

    if (h->in_flight) {
        return;
    }
    strbuf_reset(&h->body);
    strbuf_reset(&h->answer);
    h->req_recs = 0;
    h->req_samples = 0;
    h->req_bytes = 0;
    /* The spool holds the oldest records: memory holds records only after the spool failed. */
    h->from_spool = spool_has_unread(h);
    if (h->from_spool) {
        rc = fill_from_spool(h);
        if (rc == 0 && h->req_recs == 0) {
            /* What looked unread in the spool turned out corrupt (counted there): memory next. */
            h->from_spool = false;
        }
    }
    /*
     * From memory and uncompressed, curl reads the records in place; else (and for a transport
     * of its own, such as nats, which publishes one buffer) one document.
     */
    bool in_place = !h->from_spool && reads_in_place(h);
    ssize_t seg_len = 0;
    if (!h->from_spool) {
        seg_len = segs_from_memory(h);
        rc = seg_len < 0 ? (int)seg_len : 0;
        in_place = in_place && !h->req_packed;
        if (in_place && h->body.cap > 0) {
            strbuf_release(&h->body); /* left by a request of packed records */
        }
        for (size_t i = 0; rc == 0 && !in_place && i < h->nsegs; i++) {
            const struct body_seg *sg = &h->segs[i];
            if (sg->zlen != 0) {
                rc = recpack_unpack(&h->pack, &h->body, sg->p, sg->zlen, sg->len);
            }
            else {
                strbuf_append(&h->body, sg->p, sg->len);
            }
        }
    }
    if (rc == 0 && h->req_recs == 0) {
        return;
    }
    if (rc == 0 && h->from_spool && h->body.len > 0) {
        strbuf_puts(&h->body, h->o.enc->doc_close);
    }
    if (rc == 0 && h->body.oom) {
        rc = -ENOMEM;
    }
    const char *data = in_place ? NULL : h->body.data;
    size_t len = in_place ? (size_t)seg_len : h->body.len;
    bool damaged = false;
    if (rc == 0 && h->o.compress != NULL) {
        rc = h->o.compress(&h->gz, h->body.data, h->body.len);
        damaged = rc == -EIO;
        data = h->gz.data;
        len = h->gz.len;
    }
    else if (rc == 0 && h->o.gzip) {
        rc = compress_body(h);
        data = h->gz.data;
        len = h->gz.len;
    }
    if (rc == 0 && h->o.send != NULL) {
        rc = h->o.send(h->o.send_arg, data, len);
    }
    else if (rc == 0) {
        rc = easy_prepare(h, data, len);
        if (rc == 0) {
            h->xfer.easy = h->easy;
            h->xfer.done = request_done;
            h->xfer.arg = h;
            rc = start_request(h);
        }
    }
    if (damaged) {
        /* Its records cannot make a body (the compress hook found a damaged record): retried,
         * it would fail for ever and hold everything behind it. The next request follows. */
        log_err("out_http: %s: a request of %llu samples cannot be built from its records (a "
                "damaged record); dropped as corrupt",
                h->what, (unsigned long long)h->req_samples);
        settle(h, OUTPUT_DROP_CORRUPT);
        arm_timer(h, 1);
        return;
    }
    if (rc != 0) {
        log_err("out_http: %s: cannot send a request: %s; retrying later", h->what, strerror(-rc));
        if (h->from_spool) {
            spool_rewind(h->spool, &h->st.dropped[OUTPUT_DROP_SPOOL_FULL]);
        }
        h->req_recs = 0;
        h->failing = true;
        h->attempt++;
        arm_timer(h, h->o.retry_max_ms);
        return;
    }
    if (h->attempt > 0) {
        h->st.retries++;
    }
    h->in_flight = true;
}

/* Frees @sb when it grew past OUT_HTTP_BUF_KEEP (strbuf_release leaves it empty and usable). */
static void
buf_shrink(struct strbuf *sb)
{
    if (sb->cap > OUT_HTTP_BUF_KEEP) {
        strbuf_release(sb);
    }
}

/*
 * The queue is empty (memory and spool): the request buffers that grew with it are freed, and
 * after an episode that held much (an outage drained), free heap pages go back to the system,
 * once. Without this the process stayed at its high-water mark (85 MB RSS with 7.6 MB in use
 * after a 4-minute outage drained, issue 13 item 7).
 */
static void
shed_memory(struct out_http *h)
{
    if (h->mem_count > 0 || (h->spool != NULL && !spool_empty(h->spool))) {
        return;
    }
    buf_shrink(&h->body);
    buf_shrink(&h->gz);
    /* The lag is over: so are the packing streams and buffers (~300 KiB). */
    recpack_release(&h->pack);
    strbuf_release(&h->packed);
    strbuf_release(&h->unpacked);
    buf_shrink(&h->rec);
    buf_shrink(&h->answer);
    if (h->segs_cap * sizeof(h->segs[0]) > OUT_HTTP_BUF_KEEP) {
        free(h->segs);
        h->segs = NULL;
        h->nsegs = h->segs_cap = 0;
    }
    if (h->grew) {
        h->grew = false;
        if (h->zs_ready) {
            deflateEnd(&h->zs); /* its ~256 KiB of state come back at the next gzip request */
            h->zs_ready = false;
        }
        h->st.memory_given_back++;
        mem_give_back();
    }
}

/*
 * Takes the request's records off the queue: the sink has them (@why < 0), or they are dropped
 * under reason @why (the sink will never take them, or they cannot be sent).
 */
static void
settle(struct out_http *h, int why)
{
    uint64_t samples = 0;

    if (h->from_spool) {
        if (spool_ack(h->spool, h->req_last_seq, &samples) != 0) {
            log_err("out_http: %s: cannot record the acknowledgement in the spool; its records "
                    "may be sent again after a restart",
                    h->what);
        }
    }
    else {
        for (size_t i = 0; i < h->req_recs && h->head != NULL; i++) {
            samples += h->head->nsamples;
            mem_pop(h);
        }
    }
    if (why < 0) {
        h->st.delivered += samples;
    }
    else {
        h->st.dropped[why] += samples;
    }
    h->req_recs = 0;
    shed_memory(h);
}

/* Full jitter: uniform in [0, min(retry_max, retry_initial * 2^(attempt-1))]. */
static int64_t
backoff_ms(const struct out_http *h)
{
    int64_t cap = h->o.retry_initial_ms;

    for (unsigned i = 1; i < h->attempt && cap < h->o.retry_max_ms; i++) {
        cap *= 2;
    }
    if (cap > h->o.retry_max_ms) {
        cap = h->o.retry_max_ms;
    }
    int64_t d = (int64_t)((double)cap * ((double)random() / (double)RAND_MAX));
    return d > 0 ? d : 1;
}

/* Printable start of the sink's answer, for the log. */
static const char *
answer_text(struct out_http *h)
{
    if (h->answer.len == 0 || h->answer.oom) {
        return "(empty answer)";
    }
    for (size_t i = 0; i < h->answer.len; i++) {
        unsigned char c = (unsigned char)h->answer.data[i];
        if (c < 0x20 || c == 0x7f) {
            h->answer.data[i] = ' ';
        }
    }
    strbuf_putc(&h->answer, '\0');
    return h->answer.data;
}

/*
 * The end of a request, however it was sent: @r says what became of it, @why (retry, drop) how
 * the sink answered, @key tells failures apart for the log's rate limit, @retry_after_s is the
 * sink's Retry-After (0: none).
 */
/* Samples dropped because the memory queue or the spool could not keep them. */
static uint64_t
losses(const struct out_http *h)
{
    return h->st.dropped[OUTPUT_DROP_QUEUE_FULL] + h->st.dropped[OUTPUT_DROP_SPOOL_FULL] +
           h->st.dropped[OUTPUT_DROP_SPOOL_ERROR];
}

/*
 * What happens to the batches while the sink fails, as true as the books say: kept in the spool,
 * or, once the queue or the spool had to drop some, how many were dropped since the sink failed.
 */
static void
kept_note(const struct out_http *h, char *buf, size_t size)
{
    uint64_t lost = losses(h) - h->dropped_at_down;

    if (lost == 0) {
        snprintf(buf, size, "%s",
                 h->spool != NULL ? " (batches are kept in the spool)"
                                  : " (batches wait in memory up to queue_max_bytes)");
    }
    else {
        snprintf(buf, size, " (%s: %llu samples dropped since the sink failed)",
                 h->spool != NULL ? "the spool is full or failing" : "queue_max_bytes reached",
                 (unsigned long long)lost);
    }
}

static void
finish(struct out_http *h, enum out_http_result r, const char *why, int key, int64_t retry_after_s)
{
    mono_ms now = clock_mono_ms();

    h->in_flight = false;
    if (r == OUT_HTTP_OK) {
        h->st.requests++;
        h->st.last_success = (double)time(NULL);
        log_debug("out_http: %s: request acknowledged%s", h->what,
                  h->attempt > 0 ? " after retries" : "");
        settle(h, -1);
        if (h->sink_down || h->attempt > 0) {
            log_release(&h->complain, now, h->what);
        }
        h->failing = false;
        h->sink_down = false;
        h->st.failing_since = 0;
        h->attempt = 0;
        kick(h);
        return;
    }
    h->st.failed_requests++;
    snprintf(h->st.last_error, sizeof(h->st.last_error), "%s", why);
    if (r == OUT_HTTP_DROP) {
        log_err("out_http: %s: the sink refused a request of %llu samples: %s; dropped (not "
                "retried)",
                h->what, (unsigned long long)h->req_samples, why);
        settle(h, OUTPUT_DROP_REJECTED);
        /* The sink answered: it is up, whatever it thought of these batches. */
        if (h->sink_down || h->attempt > 0) {
            log_release(&h->complain, now, h->what);
        }
        h->sink_down = false;
        h->st.failing_since = 0;
        h->attempt = 0;
        kick(h);
        return;
    }
    if (h->from_spool) {
        spool_rewind(h->spool, &h->st.dropped[OUTPUT_DROP_SPOOL_FULL]);
    }
    h->req_recs = 0;
    h->failing = true;
    if (!h->sink_down) {
        h->st.failing_since = (double)clock_wall_ms() / 1000.0;
        h->dropped_at_down = losses(h);
    }
    h->sink_down = true;
    h->attempt++;
    /* Everything waiting goes to disk now, and what comes next goes there directly. */
    spill(h);
    arm_sync(h);
    int64_t delay = backoff_ms(h);
    if (retry_after_s > 0) {
        delay = retry_after_s < OUT_HTTP_RETRY_AFTER_MAX_MS / 1000 ? retry_after_s * 1000
                                                                   : OUT_HTTP_RETRY_AFTER_MAX_MS;
    }
    log_debug("out_http: %s: request failed: %s; retry %u in %lld ms", h->what, why, h->attempt,
              (long long)delay);
    char kept[160];
    kept_note(h, kept, sizeof(kept));
    log_complain(&h->complain, now, key, h->what,
                 "sending to the sink failed: %s; retry %u in %lld ms%s", why, h->attempt,
                 (long long)delay, kept);
    if (h->draining && h->spool != NULL) {
        return; /* the data is safe in the spool; the drain does not wait for a failing sink */
    }
    arm_timer(h, delay); /* without a spool, retrying is the only way to keep it */
}

void
out_http_sent(void *state, enum out_http_result r, const char *why)
{
    struct out_http *h = state;

    if (h->in_flight) {
        finish(h, r, why != NULL ? why : "", r == OUT_HTTP_OK ? 0 : (int)r, 0);
    }
}

static void
request_done(struct loop_xfer *x, CURLcode rc)
{
    struct out_http *h = x->arg;
    long status = 0;
    curl_off_t retry_after = 0;
    char why[CURL_ERROR_SIZE + 64];

    h->worn = httpc_easy_worn(h->easy, rc);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &retry_after);
    }
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        finish(h, OUT_HTTP_OK, "", 0, 0);
        return;
    }
    bool retry =
        rc != CURLE_OK || status == 408 || (status == 429 && !h->o.reject_429) || status >= 500;
    if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
    }
    else {
        snprintf(why, sizeof(why), "HTTP %ld: %.200s", status, answer_text(h));
    }
    finish(h, retry ? OUT_HTTP_RETRY : OUT_HTTP_DROP, why,
           rc != CURLE_OK ? (int)rc : (int)status + 1000, (int64_t)retry_after);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct out_http *h = arg;

    (void)fd;
    (void)what;
    h->failing = false; /* a retry: the request decides whether the sink is back */
    if (has_unsent(h)) {
        send_next(h);
    }
}

static void
out_http_drain(void *state)
{
    struct out_http *h = state;

    h->draining = true;
    if (!h->failing) {
        kick(h);
    }
}

static bool
out_http_busy(const void *state)
{
    const struct out_http *h = state;

    return h->in_flight || (has_unsent(h) && (!h->failing || h->spool == NULL));
}

/* The end: what is still in memory goes to the spool, or is counted as lost. */
static int
out_http_flush(void *state)
{
    struct out_http *h = state;

    if (h->in_flight && h->from_spool) {
        loop_xfer_cancel(h->loop, &h->xfer);
        h->in_flight = false;
        spool_rewind(h->spool, &h->st.dropped[OUTPUT_DROP_SPOOL_FULL]);
    }
    spill(h); /* cancels a memory request in flight: its records go to the spool too */
    if (h->head != NULL) {
        log_warn("out_http: %s: exiting with %llu samples not delivered and nowhere to keep them",
                 h->what, (unsigned long long)h->mem_samples);
        h->st.dropped[OUTPUT_DROP_SHUTDOWN] += h->mem_samples;
        while (h->head != NULL) {
            mem_pop(h);
        }
    }
    if (h->spool != NULL) {
        struct spool_stats ss;
        spool_sync(h->spool);
        spool_stats(h->spool, &ss);
        if (ss.samples > 0) {
            /* At exit the next start opens it; on a reload, the output replacing this one. */
            log_info("out_http: %s: %llu samples kept in spool_dir %s, sent when it is opened "
                     "again",
                     h->what, (unsigned long long)ss.samples, h->o.spool_dir);
        }
    }
    return 0;
}

static void
out_http_stats(const void *state, struct output_stats *st)
{
    const struct out_http *h = state;

    *st = h->st;
    st->type = h->o.type != NULL ? h->o.type : "http";
    st->pending_samples = h->mem_samples;
    st->queue_bytes = h->mem_held;
    st->queue_samples = h->mem_samples;
    st->failing = h->sink_down;
    if (h->spool != NULL) {
        struct spool_stats ss;
        spool_stats(h->spool, &ss);
        st->pending_samples += ss.samples;
        st->spool_bytes = ss.bytes;
        st->dropped[OUTPUT_DROP_CORRUPT] += ss.corrupt_samples;
    }
}

static void
out_http_free(void *state)
{
    struct out_http *h = state;

    if (h == NULL) {
        return;
    }
    if (h->in_flight && h->o.send == NULL) {
        loop_xfer_cancel(h->loop, &h->xfer);
    }
    if (h->timer != NULL) {
        event_free(h->timer);
    }
    if (h->sync_timer != NULL) {
        event_free(h->sync_timer);
    }
    while (h->head != NULL) {
        mem_pop(h);
    }
    spool_close(h->spool);
    oauth2_release(h->oauth2, h);
    curl_slist_free_all(h->auth_headers);
    if (h->easy != NULL) {
        curl_easy_cleanup(h->easy);
        loop_conn_release(h->loop);
    }
    curl_slist_free_all(h->headers);
    curl_slist_free_all(h->proxy_headers);
    if (h->zs_ready) {
        deflateEnd(&h->zs);
    }
    strbuf_release(&h->body);
    recpack_release(&h->pack);
    strbuf_release(&h->packed);
    strbuf_release(&h->unpacked);
    free(h->segs);
    strbuf_release(&h->gz);
    strbuf_release(&h->rec);
    strbuf_release(&h->answer);
    httpc_opts_release(&h->http);
    free(h->what);
    free(h->url);
    free(h);
}

size_t
out_http_buffer_bytes(const void *state)
{
    const struct out_http *h = state;

    return h->body.cap + h->gz.cap + h->packed.cap + h->unpacked.cap +
           (h->pack.def_ready || h->pack.inf_ready ? sizeof(h->pack) : 0);
}

void *
out_http_new(struct loop *l, const struct out_http_opts *o, char *err, size_t errlen)
{
    struct out_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static bool seeded;
    if (!seeded) {
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        seeded = true;
    }
    h->loop = l;
    h->o = *o;
    h->what = strdup(o->what);
    h->url = strdup(o->url);
    strbuf_init(&h->body);
    strbuf_init(&h->packed);
    strbuf_init(&h->unpacked);
    recpack_init(&h->pack);
    strbuf_init(&h->gz);
    strbuf_init(&h->rec);
    strbuf_init(&h->answer);
    h->timer = evtimer_new(loop_base(l), timer_cb, h);
    h->sync_timer = evtimer_new(loop_base(l), sync_cb, h);
    if (h->what == NULL || h->url == NULL || h->timer == NULL || h->sync_timer == NULL ||
        (o->http != NULL && httpc_opts_copy(&h->http, o->http) != 0) ||
        (h->http.oauth2 != NULL && (h->oauth2 = oauth2_new(l, h->http.oauth2)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        out_http_free(h);
        return NULL;
    }
    h->o.what = h->what;
    h->o.url = h->url;
    h->o.http = NULL;
    h->o.spool_dir = NULL;
    if (o->spool_dir != NULL) {
        h->spool =
            spool_open(o->spool_dir, o->spool_max_bytes, o->spool_fsync, h->what, err, errlen);
        if (h->spool == NULL) {
            out_http_free(h);
            return NULL;
        }
        struct spool_stats ss;
        spool_stats(h->spool, &ss);
        /* Samples lost to bad records found at open are recovered and dropped as corrupt. */
        h->st.recovered = ss.samples + ss.corrupt_samples;
        if (ss.records > 0) {
            log_info("out_http: %s: %llu batch(es), %llu samples left in the spool by an earlier "
                     "run; delivering them first",
                     h->what, (unsigned long long)ss.records, (unsigned long long)ss.samples);
            kick(h);
        }
    }
    return h;
}

const struct output_ops out_http_ops = {
    .name = "http",
    .records = true,
    .write = out_http_write,
    .flush = out_http_flush,
    .drain = out_http_drain,
    .busy = out_http_busy,
    .stats = out_http_stats,
    .free = out_http_free,
};

/* The http output in the config: type http */

const struct conf_choice out_http_fsync_choices[] = {{"never", SPOOL_FSYNC_NEVER, false},
                                                     {"batch", SPOOL_FSYNC_BATCH, false},
                                                     {"interval", SPOOL_FSYNC_INTERVAL, false},
                                                     {NULL, 0, false}};

static const struct conf_choice compression_choices[] = {{"auto", OUT_HTTP_COMPRESSION_AUTO, false},
                                                         {"gzip", OUT_HTTP_COMPRESSION_GZIP, false},
                                                         {"none", OUT_HTTP_COMPRESSION_NONE, false},
                                                         {NULL, 0, false}};

_Static_assert(sizeof(enum spool_fsync) == sizeof(int), "enum size");
_Static_assert(sizeof(enum out_http_compression) == sizeof(int), "enum size");

static void http_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);

/* What conf_http_resolve added to the client settings. */
static void
http_release(void *base)
{
    struct config_output *o = base;

    if (o->opts != NULL) {
        conf_http_release(&((struct out_http_conf *)o->opts)->http);
    }
}

#define HO(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct out_http_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field http_fields[] = {
    CONF_OUTPUT_FIELDS,
    HO("url", CONF_FT_STR, url, CONF_F_NONEMPTY | CONF_F_REQUIRED,
       .desc = "Where batches are POSTed."),
    CONF_FLDN("headers", CONF_FT_HEADERS, struct out_http_conf, http.headers, http.nheaders,
              .flags = CONF_F_OPTS, .desc = "Request headers (values are not shown anywhere)."),
    CONF_HTTP_CLIENT_FIELDS_F(struct out_http_conf, http, CONF_F_OPTS),
    HO("timeout", CONF_FT_DURATION, timeout_ms, 0, .def = "10s",
       .desc = "Deadline of one request."),
    HO("batch_max_bytes", CONF_FT_SIZE, batch_max_bytes, 0, .def = "1MiB",
       .desc = "Largest request body."),
    HO("flush_interval", CONF_FT_DURATION, flush_interval_ms, 0, .def = "1s",
       .desc = "Longest wait before sending a partial batch."),
    OUT_HTTP_QUEUE_FIELDS(struct out_http_conf),
    HO("compression", CONF_FT_ENUM, compression, 0, .def = "auto", .choices = compression_choices,
       .desc = "gzip, none, or auto (none for a sink on loopback, where compressing costs CPU "
               "and saves nothing; gzip otherwise)."),
};
#undef HO
static const struct conf_section http_section = {.name = "outputs[] (type http)",
                                                 .what = "output type http",
                                                 CONF_FIELDS(http_fields),
                                                 .opts_off = offsetof(struct config_output, opts),
                                                 .opts_size = sizeof(struct out_http_conf),
                                                 .check = http_check,
                                                 .release = http_release};

static void
http_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    const struct config_output *o = base;
    struct out_http_conf *hc = o->opts;
    const struct conf_node *n = conf_tree_get(map, "url");
    char b1[32], b2[32];

    if (n != NULL && hc->url != NULL) {
        const char *why = conf_targets_url_check(hc->url, NULL);
        if (why != NULL) {
            char *red = httpc_redact_url_dup(hc->url);
            conf_err(x, n, "invalid URL \"%s\" in %s: %s", red != NULL ? red : "", path, why);
            free(red);
        }
    }
    if (o->format != NULL && strcmp(o->format, "remote_write") == 0) {
        conf_err(x, conf_tree_get(map, "format"),
                 "format remote_write in %s: use an output of type remote_write (it compresses "
                 "with snappy and sends the remote write headers)",
                 path);
    }
    conf_http_resolve(x, &hc->http, map);
    n = conf_tree_get(map, "follow_redirects");
    if (n != NULL && hc->http.follow_redirects) {
        conf_err(x, n,
                 "follow_redirects: true is not supported for an output: a sink that "
                 "redirects a POST is misconfigured (the body is not replayed)");
    }
    if (hc->timeout_ms == 0) {
        conf_err(x, conf_tree_get(map, "timeout"), "timeout must be greater than 0");
    }
    if (hc->batch_max_bytes == 0) {
        conf_err(x, conf_tree_get(map, "batch_max_bytes"),
                 "batch_max_bytes must be greater than 0");
    }
    else if (hc->queue_max_bytes < hc->batch_max_bytes) {
        n = conf_tree_get(map, "queue_max_bytes");
        conf_err(x, n != NULL ? n : map, "queue_max_bytes must be at least batch_max_bytes in %s",
                 path);
    }
    if (hc->retry_initial_ms == 0) {
        conf_err(x, conf_tree_get(map, "retry_initial"), "retry_initial must be greater than 0");
    }
    else if (hc->retry_max_ms < hc->retry_initial_ms) {
        n = conf_tree_get(map, "retry_max");
        conf_err(x, n != NULL ? n : conf_tree_get(map, "retry_initial"),
                 "retry_max (%s) must not be less than retry_initial (%s) in %s",
                 conf_fmt_ms(hc->retry_max_ms, b1, sizeof(b1)),
                 conf_fmt_ms(hc->retry_initial_ms, b2, sizeof(b2)), path);
    }
    if (hc->flush_interval_ms == 0) {
        conf_err(x, conf_tree_get(map, "flush_interval"), "flush_interval must be greater than 0");
    }
    if (hc->spool_dir != NULL) {
        conf_claim(x, conf_tree_get(map, "spool_dir"), "spool_dir", hc->spool_dir, path);
    }
}

static int
http_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
          char *err, size_t errlen)
{
    const struct out_http_conf *hc = co->opts;
    struct httpc_opts http;
    int rc;

    rc = conf_http_client(&hc->http, what, &http, err, errlen);
    if (rc == 0) {
        struct out_http_opts o = {
            .what = what,
            .url = hc->url,
            .http = &http,
            .enc = encoder_find(co->format),
            .timeout_ms = hc->timeout_ms,
            .batch_max_bytes = hc->batch_max_bytes,
            .flush_interval_ms = hc->flush_interval_ms,
            .queue_max_bytes = hc->queue_max_bytes,
            .spool_dir = hc->spool_dir,
            .spool_max_bytes = hc->spool_max_bytes,
            .spool_fsync = hc->fsync,
            .retry_initial_ms = hc->retry_initial_ms,
            .retry_max_ms = hc->retry_max_ms,
            .gzip =
                hc->compression == OUT_HTTP_COMPRESSION_GZIP ||
                (hc->compression == OUT_HTTP_COMPRESSION_AUTO && !httpc_url_is_loopback(hc->url)),
        };
        char e2[400];
        out->ops = &out_http_ops;
        out->state = out_http_new(l, &o, e2, sizeof(e2));
        if (out->state == NULL) {
            snprintf(err, errlen, "%s: %s", what, e2);
            rc = -EINVAL;
        }
    }
    if (rc == 0) {
        httpc_opts_release(&http);
    }
    return rc;
}

static void
http_summary(FILE *f, const struct config_output *co)
{
    const struct out_http_conf *hc = co->opts;
    char *red = httpc_redact_url_dup(hc->url);

    fprintf(f, ": %s\n", red != NULL ? red : "<out of memory>");
    free(red);
    if (hc->spool_dir != NULL) {
        fprintf(f, "  spool %s\n", hc->spool_dir);
    }
}

static void
http_identity(const struct config_output *co, struct strbuf *sb)
{
    const struct out_http_conf *hc = co->opts;
    struct httpc_opts http;
    char err[64];

    /* Every setting: a reload that changes any replaces the output (its books continue). */
    strbuf_printf(
        sb, "%s\x1f%d\x1f%s\x1f%lld\x1f%llu\x1f%lld\x1f%llu\x1f%llu\x1f%lld\x1f%lld\x1f%d", hc->url,
        (int)hc->fsync, hc->spool_dir != NULL ? hc->spool_dir : "", (long long)hc->timeout_ms,
        (unsigned long long)hc->batch_max_bytes, (long long)hc->flush_interval_ms,
        (unsigned long long)hc->queue_max_bytes, (unsigned long long)hc->spool_max_bytes,
        (long long)hc->retry_initial_ms, (long long)hc->retry_max_ms, (int)hc->compression);
    /* The client settings too: a reload with a new credential or proxy reopens the output. */
    if (conf_http_client(&hc->http, "", &http, err, sizeof(err)) == 0) {
        httpc_identity(sb, &http);
        httpc_opts_release(&http);
    }
    else {
        sb->oom = true;
    }
}

static const char *
http_spool_dir(const struct config_output *co)
{
    return ((const struct out_http_conf *)co->opts)->spool_dir;
}

const struct output_type out_http_type = {
    .name = "http",
    .desc = "Batches POSTed to a sink, with a memory queue and a disk spool.",
    .conf = &http_section,
    .open = http_open,
    .summary = http_summary,
    .identity = http_identity,
    .spool_dir = http_spool_dir,
};

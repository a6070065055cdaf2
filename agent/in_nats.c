/*
 * The nats input (see in_nats.h): the fetch thread, the hand-off to the outputs on the loop, the
 * acknowledgements, the duplicate window, and its config section.
 *
 * Threads: the loop owns everything but the fields under @mu; the fetch thread only appends to
 * @queue, reads @handed and writes @note, then wakes the loop through the eventfd.
 */
#include "build-config.h"

#include "in_nats.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <nats/nats.h>

#include "clock.h"
#include "conf.h"
#include "conf_tree.h"
#include "engine.h"
#include "log.h"
#include "loop.h"
#include "nats_conn.h"
#include "out_nats.h"

#define IN_NATS_CHECK_MS 50 /* how often waiting messages are checked against their outputs */

struct in_nats_conf {
    struct nats_conn_conf conn;
    char *stream;
    char *subject;
    char *consumer;
    int64_t fetch_batch;
    int64_t max_pending;
    int64_t ack_wait_ms;
    int64_t dedup_window_ms;
};

/* A message handed to the outputs, waiting until they all have it. */
struct pend {
    natsMsg *msg;
    char *id; /* owned; NULL: no Nats-Msg-Id */
    uint64_t marks[ENGINE_MAX_OUTPUTS];
};

/* An id handed within the window, oldest first. */
struct seen {
    char *id; /* owned */
    mono_ms at;
};

struct in_nats {
    struct loop *loop;     /* borrowed */
    struct engine *engine; /* borrowed: outlives the input */
    char *what;
    char *format, *stream, *subject, *consumer;
    int64_t fetch_batch, max_pending, ack_wait_ms, dedup_window_ms, timeout_ms;

    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub; /* the fetch thread's */
    struct nats_worker w;  /* the fetch thread; mu guards the fields marked below */
    struct event *check;   /* IN_NATS_CHECK_MS while messages wait */
    bool counted;          /* nats_conn_hold() */
    char last_note[300];   /* the fetch thread's: a line is logged once, not every retry */
    char cause[300];       /* the fetch thread's: the last specific reason a connect failed */

    /* the loop's */
    struct pend *pend; /* FIFO: the outputs have them in this order */
    size_t npend, cap_pend, head_pend;
    json_object *ids;    /* id -> 1 (handed, waiting) or 2 (acknowledged) */
    struct seen *window; /* ring, oldest first */
    size_t nwin, cap_win, head_win;
    uint64_t relayed, duplicates, refused;

    /* under w.mu */
    natsMsg **queue; /* fetched, not yet taken by the loop */
    size_t nqueue, cap_queue;
    size_t handed; /* fetched and not acknowledged (the fetch thread waits at max_pending) */
    char note[300];
};

/* Sets a line for the loop to log, unless it repeats the last one (fetch thread; takes mu). */
static void note(struct in_nats *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
note(struct in_nats *n, const char *fmt, ...)
{
    char line[sizeof(n->note)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (strcmp(line, n->last_note) == 0) {
        return;
    }
    memcpy(n->last_note, line, sizeof(line));
    pthread_mutex_lock(&n->w.mu);
    memcpy(n->note, line, sizeof(line));
    pthread_mutex_unlock(&n->w.mu);
    nats_worker_wake(&n->w);
}

/* Binds the durable pull consumer (created when missing). Fetch thread. */
static int
bind_consumer(struct in_nats *n)
{
    jsOptions jo;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    if (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CONNECTED) {
        char why[300];
        nats_conn_last_error(n->nc, why, sizeof(why));
        /* Retries end in "No server available": keep saying what the servers last refused. */
        if (strstr(why, "No server available") == NULL) {
            snprintf(n->cause, sizeof(n->cause), "%s", why);
            note(n, "%s", why);
        }
        else {
            note(n, "%s%s%s", why, n->cause[0] != '\0' ? "; before that: " : "", n->cause);
        }
        return -EAGAIN;
    }
    jsOptions_Init(&jo);
    jo.Wait = n->timeout_ms;
    jsSubOptions_Init(&so);
    so.Stream = n->stream;
    so.Config.AckWait = n->ack_wait_ms * 1000000; /* nanoseconds */
    so.Config.MaxAckPending = n->max_pending;
    s = js_PullSubscribe(&n->sub, n->js, n->subject, n->consumer, &jo, &so, &jerr);
    if (s != NATS_OK) {
        note(n, "binding consumer \"%s\" of stream \"%s\" failed: %s (JetStream error %d)",
             n->consumer, n->stream, natsStatus_GetText(s), (int)jerr);
        return -EAGAIN;
    }
    note(n, "consumer \"%s\" of stream \"%s\" bound (subject %s)", n->consumer, n->stream,
         n->subject);
    return 0;
}

/* The fetch thread: binds, then fetches while fewer than max_pending wait for the outputs. */
static void *
fetch_main(void *arg)
{
    struct in_nats *n = arg;
    char last[200] = "";

    pthread_mutex_lock(&n->w.mu);
    while (!n->w.stopping) {
        if (n->handed >= (size_t)n->max_pending) {
            nats_worker_nap_locked(&n->w, 1000);
            continue;
        }
        size_t room = (size_t)n->max_pending - n->handed;
        pthread_mutex_unlock(&n->w.mu);
        if (n->sub == NULL && bind_consumer(n) != 0) {
            pthread_mutex_lock(&n->w.mu);
            nats_worker_nap_locked(&n->w, 1000);
            continue;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        int batch = (int)((size_t)n->fetch_batch < room ? (size_t)n->fetch_batch : room);
        natsStatus s = natsSubscription_Fetch(&list, n->sub, batch, 1000, &jerr);
        pthread_mutex_lock(&n->w.mu);
        if (s == NATS_OK && list.Count > 0) {
            last[0] = '\0';
            if (n->nqueue + (size_t)list.Count > n->cap_queue) {
                size_t cap = (n->nqueue + (size_t)list.Count) * 2;
                natsMsg **q = realloc(n->queue, cap * sizeof(*q));
                if (q == NULL) {
                    pthread_mutex_unlock(&n->w.mu);
                    natsMsgList_Destroy(&list); /* not acknowledged: delivered again */
                    pthread_mutex_lock(&n->w.mu);
                    nats_worker_nap_locked(&n->w, 1000);
                    continue;
                }
                n->queue = q;
                n->cap_queue = cap;
            }
            for (int i = 0; i < list.Count; i++) {
                n->queue[n->nqueue++] = list.Msgs[i];
                list.Msgs[i] = NULL;
            }
            n->handed += (size_t)list.Count;
            nats_worker_wake(&n->w);
        }
        else if (s != NATS_OK && s != NATS_TIMEOUT && !n->w.stopping) {
            const char *t = natsStatus_GetText(s);
            if (strcmp(t, last) != 0) {
                snprintf(n->note, sizeof(n->note), "fetching from consumer \"%s\" failed: %s",
                         n->consumer, t);
                snprintf(last, sizeof(last), "%s", t);
                nats_worker_wake(&n->w);
            }
            nats_worker_nap_locked(&n->w, 500);
        }
        pthread_mutex_unlock(&n->w.mu);
        natsMsgList_Destroy(&list);
        pthread_mutex_lock(&n->w.mu);
    }
    pthread_mutex_unlock(&n->w.mu);
    return NULL;
}

/* Forgets the ids handed longer ago than the window (loop). */
static void
window_expire(struct in_nats *n, mono_ms now)
{
    while (n->nwin > 0) {
        struct seen *s = &n->window[n->head_win];
        if (now - s->at < n->dedup_window_ms) {
            break;
        }
        json_object *v = json_object_object_get(n->ids, s->id);
        if (v != NULL && json_object_get_int(v) == 2) {
            json_object_object_del(n->ids, s->id);
        }
        free(s->id);
        n->head_win = (n->head_win + 1) % n->cap_win;
        n->nwin--;
    }
}

/* Remembers @id as handed now (loop). -ENOMEM when it cannot. */
static int
window_add(struct in_nats *n, const char *id, mono_ms now)
{
    if (n->nwin == n->cap_win) {
        size_t cap = n->cap_win > 0 ? n->cap_win * 2 : 1024;
        struct seen *w = malloc(cap * sizeof(*w));
        if (w == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < n->nwin; i++) {
            w[i] = n->window[(n->head_win + i) % n->cap_win];
        }
        free(n->window);
        n->window = w;
        n->cap_win = cap;
        n->head_win = 0;
    }
    char *copy = strdup(id);
    if (copy == NULL) {
        return -ENOMEM;
    }
    n->window[(n->head_win + n->nwin) % n->cap_win] = (struct seen){.id = copy, .at = now};
    n->nwin++;
    return 0;
}

/* Acknowledges the waiting messages every output now has, oldest first (loop). */
static void
settle(struct in_nats *n)
{
    size_t acked = 0;

    while (n->npend > 0) {
        struct pend *p = &n->pend[n->head_pend];
        if (!engine_relay_safe(n->engine, p->marks)) {
            break;
        }
        natsStatus s = natsMsg_Ack(p->msg, NULL);
        if (s != NATS_OK) {
            /* delivered again after ack_wait, and then acknowledged as a duplicate */
            log_warn("in_nats: %s: natsMsg_Ack() failed: %s", n->what, natsStatus_GetText(s));
        }
        if (p->id != NULL) {
            json_object_object_add(n->ids, p->id, json_object_new_int(2));
            free(p->id);
        }
        natsMsg_Destroy(p->msg);
        n->head_pend = (n->head_pend + 1) % n->cap_pend;
        n->npend--;
        acked++;
    }
    if (acked > 0) {
        pthread_mutex_lock(&n->w.mu);
        n->handed -= acked;
        pthread_cond_broadcast(&n->w.cond);
        pthread_mutex_unlock(&n->w.mu);
    }
    if (n->npend > 0 && !evtimer_pending(n->check, NULL)) {
        struct timeval tv = {0, IN_NATS_CHECK_MS * 1000};
        evtimer_add(n->check, &tv);
    }
}

/* One fetched message less to wait for: it is gone without an acknowledgement (loop). */
static void
forget(struct in_nats *n)
{
    pthread_mutex_lock(&n->w.mu);
    n->handed--;
    pthread_cond_broadcast(&n->w.cond);
    pthread_mutex_unlock(&n->w.mu);
}

/* Acknowledges @m at once: the outputs had a copy (a duplicate), or it is refused (loop). */
static void
ack_now(struct in_nats *n, natsMsg *m)
{
    natsMsg_Ack(m, NULL);
    natsMsg_Destroy(m);
    forget(n);
}

/* A copy of @id waiting for its outputs takes @m's place (the newer delivery). */
static bool
replace_waiting(struct in_nats *n, const char *id, natsMsg *m)
{
    for (size_t i = 0; i < n->npend; i++) {
        struct pend *p = &n->pend[(n->head_pend + i) % n->cap_pend];
        if (p->id != NULL && strcmp(p->id, id) == 0) {
            natsMsg_Destroy(p->msg);
            p->msg = m;
            return true;
        }
    }
    return false;
}

/* Hands @m to the outputs, or settles it as a duplicate or a refusal (loop). */
static void
relay_one(struct in_nats *n, natsMsg *m, mono_ms now)
{
    const char *id = NULL, *count = NULL, *fmt = NULL;

    natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
    natsMsgHeader_Get(m, OUT_NATS_HDR_SAMPLES, &count);
    natsMsgHeader_Get(m, OUT_NATS_HDR_FORMAT, &fmt);
    if (fmt != NULL && strcmp(fmt, n->format) != 0) {
        n->refused++;
        log_err("in_nats: %s: a message in format %s, not %s: acknowledged and not relayed",
                n->what, fmt, n->format);
        ack_now(n, m);
        return;
    }
    if (id != NULL) {
        json_object *v = json_object_object_get(n->ids, id);
        if (v != NULL) {
            n->duplicates++;
            if (json_object_get_int(v) == 1) {
                forget(n); /* the waiting copy stands for both */
                if (!replace_waiting(n, id, m)) {
                    natsMsg_Destroy(m);
                }
                return;
            }
            ack_now(n, m);
            return;
        }
    }
    if (n->npend == n->cap_pend) {
        size_t cap = n->cap_pend > 0 ? n->cap_pend * 2 : 256;
        struct pend *p = malloc(cap * sizeof(*p));
        if (p == NULL) {
            natsMsg_Destroy(m); /* not acknowledged: delivered again */
            forget(n);
            return;
        }
        for (size_t i = 0; i < n->npend; i++) {
            p[i] = n->pend[(n->head_pend + i) % n->cap_pend];
        }
        free(n->pend);
        n->pend = p;
        n->cap_pend = cap;
        n->head_pend = 0;
    }
    struct pend *p = &n->pend[(n->head_pend + n->npend) % n->cap_pend];
    *p = (struct pend){.msg = m};
    if (id != NULL) {
        p->id = strdup(id);
        if (p->id == NULL || window_add(n, id, now) != 0) {
            free(p->id);
            natsMsg_Destroy(m);
            forget(n);
            return;
        }
        json_object_object_add(n->ids, id, json_object_new_int(1));
    }
    engine_relay_write(n->engine, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
                       count != NULL ? (uint32_t)strtoul(count, NULL, 10) : 0, p->marks);
    n->npend++;
    n->relayed++;
}

/* On the loop: fetched messages, or a line to log. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct in_nats *n = arg;
    natsMsg **q;
    size_t nq;
    char line[300];

    (void)fd;
    (void)what;
    nats_worker_woken(&n->w, n->what);
    pthread_mutex_lock(&n->w.mu);
    q = n->queue;
    nq = n->nqueue;
    n->queue = NULL;
    n->nqueue = 0;
    n->cap_queue = 0;
    snprintf(line, sizeof(line), "%s", n->note);
    n->note[0] = '\0';
    pthread_mutex_unlock(&n->w.mu);
    if (line[0] != '\0') {
        log_info("in_nats: %s: %s", n->what, line);
    }
    mono_ms now = clock_mono_ms();
    window_expire(n, now);
    for (size_t i = 0; i < nq; i++) {
        relay_one(n, q[i], now);
    }
    free(q);
    settle(n);
}

static void
check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    settle(arg);
}

static void
in_nats_free(void *state)
{
    struct in_nats *n = state;

    if (n == NULL) {
        return;
    }
    nats_worker_stop(&n->w, n->nc); /* closing the connection ends a fetch it waits in */
    if (n->relayed > 0 || n->duplicates > 0) {
        log_info("in_nats: %s: %" PRIu64 " message(s) relayed, %" PRIu64
                 " duplicate(s) not relayed again, %zu not acknowledged (JetStream delivers them "
                 "again)",
                 n->what, n->relayed, n->duplicates, n->npend);
    }
    /* unacknowledged: JetStream delivers them again after ack_wait */
    for (size_t i = 0; i < n->npend; i++) {
        struct pend *p = &n->pend[(n->head_pend + i) % n->cap_pend];
        natsMsg_Destroy(p->msg);
        free(p->id);
    }
    free(n->pend);
    for (size_t i = 0; i < n->nqueue; i++) {
        natsMsg_Destroy(n->queue[i]);
    }
    free(n->queue);
    for (size_t i = 0; i < n->nwin; i++) {
        free(n->window[(n->head_win + i) % n->cap_win].id);
    }
    free(n->window);
    json_object_put(n->ids);
    natsSubscription_Destroy(n->sub);
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    if (n->counted) {
        nats_conn_drop();
    }
    if (n->check != NULL) {
        event_free(n->check);
    }
    nats_worker_release(&n->w);
    free(n->what);
    free(n->format);
    free(n->stream);
    free(n->subject);
    free(n->consumer);
    free(n);
}

static const struct input_ops in_nats_ops = {
    .name = "nats",
    .free = in_nats_free,
};

/* libnats: the connection came up after a failed first attempt (one of its threads). */
static void
connected_cb(natsConnection *nc, void *closure)
{
    struct in_nats *n = closure;
    char url[256] = "";

    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    pthread_mutex_lock(&n->w.mu);
    snprintf(n->note, sizeof(n->note), "connected to %s", url);
    pthread_mutex_unlock(&n->w.mu);
    nats_worker_wake(&n->w);
}

static int
in_nats_open(const struct config_input *ci, const char *what, struct loop *l, struct engine *e,
             struct input *in, char *err, size_t errlen)
{
    const struct in_nats_conf *c = ci->opts;
    struct in_nats *n = calloc(1, sizeof(*n));
    char e2[400];
    natsStatus s;
    const char *why;

    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    nats_worker_init(&n->w);
    n->loop = l;
    n->engine = e;
    n->what = strdup(what);
    n->format = strdup(ci->format);
    n->stream = strdup(c->stream);
    n->subject = strdup(c->subject);
    n->consumer = strdup(c->consumer);
    n->ids = json_object_new_object();
    n->fetch_batch = c->fetch_batch;
    n->max_pending = c->max_pending;
    n->ack_wait_ms = c->ack_wait_ms;
    n->dedup_window_ms = c->dedup_window_ms;
    n->timeout_ms = c->conn.timeout_ms;
    if (n->what == NULL || n->format == NULL || n->stream == NULL || n->subject == NULL ||
        n->consumer == NULL || n->ids == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        goto fail;
    }
    why = engine_relay_check(e, n->format, e2, sizeof(e2));
    if (why != NULL) {
        snprintf(err, errlen, "%s: %s", what, why);
        goto fail;
    }
    if (nats_worker_listen(&n->w, loop_base(l), wake_cb, n, e2, sizeof(e2)) != 0) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    n->check = evtimer_new(loop_base(l), check_cb, n);
    if (n->check == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        goto fail;
    }
    s = natsOptions_Create(&n->opts);
    n->counted = true;
    nats_conn_hold();
    if (s != NATS_OK || nats_conn_options(n->opts, &c->conn, e2, sizeof(e2)) != NATS_OK) {
        snprintf(err, errlen, "%s: %s", what, s != NATS_OK ? natsStatus_GetText(s) : e2);
        goto fail;
    }
    s = nats_conn_set_loop(n->opts, loop_base(l));
    if (s == NATS_OK) {
        /* with a callback, Connect() returns at once; without one it would retry in place */
        s = natsOptions_SetRetryOnFailedConnect(n->opts, true, connected_cb, n);
    }
    if (s == NATS_OK) {
        s = natsConnection_Connect(&n->nc, n->opts);
        if (s == NATS_NOT_YET_CONNECTED) {
            nats_conn_last_error(n->nc, e2, sizeof(e2));
            log_warn("in_nats: %s: %s; trying in the background", what, e2);
            snprintf(n->cause, sizeof(n->cause), "%.299s", e2); /* before the fetch thread starts */
            s = NATS_OK;
        }
    }
    if (s == NATS_OK) {
        s = natsConnection_JetStream(&n->js, n->nc, NULL);
    }
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s: connecting to NATS failed: %s", what, natsStatus_GetText(s));
        goto fail;
    }
    if (nats_worker_start(&n->w, fetch_main, n, e2, sizeof(e2)) != 0) {
        snprintf(err, errlen, "%s: %s", what, e2);
        goto fail;
    }
    in->ops = &in_nats_ops;
    in->state = n;
    return 0;
fail:
    in_nats_free(n);
    return -EINVAL;
}

/* The config: inputs[] type nats */

static void in_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path);
static void in_release(void *base);

#define NI(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct in_nats_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field in_fields[] = {
    CONF_INPUT_FIELDS,
    NATS_CONN_FIELDS(struct in_nats_conf, conn),
    NI("stream", CONF_FT_STR, stream, CONF_F_NONEMPTY, .def = "pollster",
       .desc = "The JetStream stream to read."),
    NI("subject", CONF_FT_STR, subject, CONF_F_NONEMPTY, .def = "pollster.*",
       .desc = "The consumer's filter subject (the nats outputs' subject, {job} as *)."),
    NI("consumer", CONF_FT_STR, consumer, CONF_F_NONEMPTY, .def = "pollster-relay",
       .desc = "The durable consumer's name: relays with the same one share the messages."),
    NI("fetch_batch", CONF_FT_INT, fetch_batch, 0, .def = "64", .min = 1, .max = 4096,
       .desc = "Messages asked for at once."),
    NI("max_pending", CONF_FT_INT, max_pending, 0, .def = "1024", .min = 1, .max = 1000000,
       .desc = "Messages handed to the outputs and not acknowledged yet, at most (the "
               "consumer's MaxAckPending)."),
    NI("ack_wait", CONF_FT_DURATION, ack_wait_ms, 0, .def = "1m",
       .desc = "The consumer's AckWait: a message not acknowledged by then is delivered again."),
    NI("dedup_window", CONF_FT_DURATION, dedup_window_ms, 0, .def = "10m",
       .desc = "A message delivered again within it (same Nats-Msg-Id) is acknowledged, not "
               "handed to the outputs again (kept in memory only)."),
};
#undef NI

static const struct conf_section in_section = {.name = "inputs[] (type nats)",
                                               .what = "input type nats",
                                               CONF_FIELDS(in_fields),
                                               .opts_off = offsetof(struct config_input, opts),
                                               .opts_size = sizeof(struct in_nats_conf),
                                               .check = in_check,
                                               .release = in_release};

static void
in_release(void *base)
{
    struct config_input *in = base;

    if (in->opts != NULL) {
        nats_conn_release(&((struct in_nats_conf *)in->opts)->conn);
    }
}

static void
in_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_input *in = base;
    struct in_nats_conf *c = in->opts;

    nats_conn_check(x, &c->conn, map, path);
    if (in->format != NULL && strcmp(in->format, "json") != 0 && strcmp(in->format, "vm") != 0) {
        conf_err(x, conf_tree_get(map, "format"),
                 "format \"%s\" in %s: a relay takes json or vm records", in->format, path);
    }
    if (c->ack_wait_ms == 0) {
        conf_err(x, conf_tree_get(map, "ack_wait"), "ack_wait must be greater than 0");
    }
}

static void
in_summary(FILE *f, const struct config_input *ci)
{
    const struct in_nats_conf *c = ci->opts;

    fprintf(f, ": ");
    nats_conn_summary(f, &c->conn);
    fprintf(f, ", stream %s, subject %s, consumer %s\n", c->stream, c->subject, c->consumer);
}

const struct input_type in_nats_type = {
    .name = "nats",
    .desc = "pollster: relay: a durable pull consumer on a NATS JetStream stream, each message "
            "acknowledged once every output has it.",
    .conf = &in_section,
    .open = in_nats_open,
    .summary = in_summary,
};

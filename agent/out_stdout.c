/*
 * stdout output. The loop never waits for the reader: a record goes out with a non-blocking
 * write(2) at once when nothing is queued, otherwise (or for what the pipe did not take) it joins
 * a queue of whole records, oldest first, that an EV_WRITE event drains as the reader makes room.
 * The queue is bounded (OUT_STDOUT_QUEUE_MAX bytes): when a new record does not fit, the oldest
 * records not yet begun are dropped (reason queue_full) until it does, or the new record is when
 * it is larger than the bound on its own. A record is never cut: lines from one batch never
 * interleave or break. A write error (closed pipe) drops what is queued (reason write_error).
 * Every sample is in the books (output.h): collected = delivered + dropped + pending.
 *
 * The descriptor must not be shared in blocking mode with other processes (a terminal, the
 * shell's pipe), so for a pipe or terminal the output opens /proc/self/fd/N, a description of its
 * own, non-blocking; a socket (journald's stream) is written with send(MSG_DONTWAIT); a regular
 * file is written as it is (it never says EAGAIN). Without a loop (out_stdout_new(), tests) each
 * write waits for the reader as the output always did.
 *
 * Several instances on one descriptor (two stdout outputs, or a reload's new instance while the
 * old one still holds records for a slow reader) never cut each other's records: an instance
 * writes only while no other one there has a record begun (part of it written); the one that
 * finishes its begun record, or drops it, wakes the others that wait. Whole records of different
 * instances may alternate.
 */
#include "build-config.h"

#include "out_stdout.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "recq.h"

struct out_stdout {
    int fd;
    int dest;                /* the descriptor it was opened on (fd may be a reopened one) */
    struct out_stdout *next; /* the next instance (all descriptors) */
    bool own_fd;             /* fd was opened here: closed on free */
    bool sock;               /* written with send(MSG_DONTWAIT) */
    struct event *wev;       /* owned: EV_WRITE while the queue is not empty; NULL without a loop */
    struct recq q;           /* owned: records the reader has not taken yet */
    struct output_stats st;
    struct log_limit complain;
    bool failing;
    bool abandoned; /* the shutdown deadline passed: the end no longer waits for the reader */
};

static void drain_cb(evutil_socket_t fd, short what, void *arg);

/* Every instance, oldest first; used on the loop thread only. */
static struct out_stdout *instances;

/* Another instance on @o's descriptor with a record begun, or NULL (at most one has). */
static struct out_stdout *
begun_other(const struct out_stdout *o)
{
    for (struct out_stdout *x = instances; x != NULL; x = x->next) {
        if (x != o && x->dest == o->dest && recq_begun(&x->q)) {
            return x;
        }
    }
    return NULL;
}

/* Whether @o may write now: no other instance on its descriptor is in the middle of a record. */
static bool
my_turn(const struct out_stdout *o)
{
    return o->wev == NULL || begun_other(o) == NULL;
}

/*
 * When @o has no record begun (finished, dropped, or it goes away), the other instances on its
 * descriptor that wait with records try now.
 */
static void
wake_others(const struct out_stdout *o)
{
    if (o->wev == NULL || recq_begun(&o->q)) {
        return;
    }
    for (struct out_stdout *x = instances; x != NULL; x = x->next) {
        if (x != o && x->dest == o->dest && !recq_empty(&x->q) && x->wev != NULL) {
            event_active(x->wev, EV_WRITE, 0);
        }
    }
}

static void *
stdout_new(int fd, struct event_base *base, size_t max_bytes)
{
    struct out_stdout *o = calloc(1, sizeof(*o));
    struct stat sb;

    if (o == NULL) {
        return NULL;
    }
    o->fd = fd;
    o->dest = fd;
    recq_init(&o->q, max_bytes, &o->st);
    o->st.type = "stdout";
    if (base == NULL) {
        return o; /* no loop, no reload: not in the instances' order */
    }
    if (fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
        o->sock = true;
    }
    else if (fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (own >= 0) {
            o->fd = own;
            o->own_fd = true;
        }
        else {
            log_info("out_stdout: cannot reopen %s (%s): making it non-blocking", path,
                     strerror(errno));
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
    }
    o->wev = event_new(base, o->fd, EV_WRITE, drain_cb, o);
    if (o->wev == NULL) {
        if (o->own_fd) {
            close(o->fd);
        }
        free(o);
        return NULL;
    }
    struct out_stdout **tail = &instances;
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    *tail = o;
    return o;
}

void *
out_stdout_new(int fd)
{
    return stdout_new(fd, NULL, OUT_STDOUT_QUEUE_MAX);
}

void *
out_stdout_open(int fd, struct loop *l, size_t max_bytes)
{
    return stdout_new(fd, loop_base(l), max_bytes);
}

/* One non-blocking write attempt: bytes written, or -errno (-EAGAIN: the reader is full). */
static ssize_t
write_once(void *arg, const char *data, size_t len)
{
    struct out_stdout *o = arg;
    ssize_t n;

    do {
        n = o->sock ? send(o->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(o->fd, data, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    return n == 0 && len > 0 ? -EIO : n;
}

/*
 * Writes queued records until the reader is full; 0, -EAGAIN (more left) or -errno (failed).
 * Another instance in the middle of a record: -EINPROGRESS (it wakes this one when done).
 */
static int
push_out(struct out_stdout *o)
{
    if (recq_empty(&o->q)) {
        return 0;
    }
    if (!my_turn(o)) {
        return -EINPROGRESS;
    }
    int rc = recq_push(&o->q, write_once, o);
    wake_others(o);
    return rc;
}

/* After a push: logs and books a failure, or re-arms EV_WRITE while records wait. */
static int
settle(struct out_stdout *o, int rc, uint64_t extra)
{
    if (rc == -EINPROGRESS) {
        return 0; /* waits for its turn */
    }
    if (rc == -EAGAIN) {
        if (o->wev != NULL) {
            event_add(o->wev, NULL);
        }
        return 0;
    }
    if (rc < 0) {
        uint64_t lost = o->st.pending_samples + extra;
        o->st.failed_requests++;
        recq_drop_all(&o->q, OUTPUT_DROP_WRITE_ERROR);
        wake_others(o);
        log_complain(&o->complain, clock_mono_ms(), -rc, "out_stdout",
                     "write() failed: %s; dropped %llu samples", strerror(-rc),
                     (unsigned long long)lost);
        if (!o->failing) {
            o->st.failing_since = (double)clock_wall_ms() / 1000.0;
        }
        snprintf(o->st.last_error, sizeof(o->st.last_error), "write() failed: %s", strerror(-rc));
        o->failing = true;
        o->st.failing = true;
        return rc;
    }
    if (o->failing) {
        log_release(&o->complain, clock_mono_ms(), "out_stdout");
        o->failing = false;
        o->st.failing = false;
        o->st.failing_since = 0;
    }
    return 0;
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct out_stdout *o = arg;

    (void)fd;
    (void)what;
    settle(o, push_out(o), 0);
}

/*
 * Without a loop, or at the end: waits for the reader (poll) until the queue is written (0) or a
 * write fails (-errno). Another instance in the middle of a record goes first: its queue is
 * written the same way (or dropped, when its shutdown deadline was abandoned).
 */
static int
push_waiting(struct out_stdout *o)
{
    int rc;

    while ((rc = push_out(o)) == -EAGAIN || rc == -EINPROGRESS) {
        struct out_stdout *x = rc == -EINPROGRESS ? begun_other(o) : NULL;
        if (x != NULL && x->abandoned) {
            recq_drop_all(&x->q, OUTPUT_DROP_SHUTDOWN);
        }
        else if (x != NULL) {
            settle(x, push_waiting(x), 0); /* it has the begun record: never -EINPROGRESS */
        }
        else {
            struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
        }
    }
    return rc;
}

/* Drops the oldest records not yet begun until @len more bytes fit; false when they cannot. */
static bool
make_room(struct out_stdout *o, size_t len)
{
    uint64_t dropped = 0;
    bool fits = recq_make_room(&o->q, len, &dropped);

    if (dropped > 0) {
        log_complain(&o->complain, clock_mono_ms(), 1000, "out_stdout",
                     "the reader is not keeping up: queue over %zu bytes, dropped the oldest "
                     "%llu samples",
                     o->q.max_bytes, (unsigned long long)dropped);
    }
    return fits;
}

static int
out_stdout_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_stdout *o = state;
    size_t off = 0;

    o->st.collected += nsamples;
    if (recq_empty(&o->q) && my_turn(o)) {
        ssize_t n = write_once(o, data, len);
        if (n == (ssize_t)len) {
            recq_delivered(&o->st, nsamples);
            return settle(o, 0, 0);
        }
        if (n < 0 && n != -EAGAIN) {
            o->st.dropped[OUTPUT_DROP_WRITE_ERROR] += nsamples;
            return settle(o, (int)n, nsamples);
        }
        off = n > 0 ? (size_t)n : 0; /* begun: the rest must follow, whatever the bound */
    }
    if (off == 0 && !make_room(o, len)) {
        o->st.dropped[OUTPUT_DROP_QUEUE_FULL] += nsamples;
        log_complain(&o->complain, clock_mono_ms(), 1000, "out_stdout",
                     "a record of %zu bytes does not fit the queue (%zu bytes): dropped %u "
                     "samples",
                     len, o->q.max_bytes, nsamples);
        return -ENOBUFS;
    }
    if (recq_add(&o->q, data, len, off, nsamples) != 0) {
        o->st.dropped[OUTPUT_DROP_NO_MEMORY] += nsamples;
        return -ENOMEM; /* logged by the engine (rate limited) */
    }
    return settle(o, o->wev != NULL ? push_out(o) : push_waiting(o), 0);
}

/*
 * The end: waits for the reader to take what is queued (as a blocking stdout always did), unless
 * the shutdown deadline was abandoned: then what the reader cannot take now is dropped (reason
 * shutdown), so a stalled reader cannot hold the exit forever.
 */
static int
out_stdout_flush(void *state)
{
    struct out_stdout *o = state;

    if (!o->abandoned) {
        return settle(o, push_waiting(o), 0);
    }
    int rc = settle(o, push_out(o), 0);
    uint64_t lost = recq_drop_all(&o->q, OUTPUT_DROP_SHUTDOWN);
    wake_others(o);
    if (lost > 0) {
        log_err("out_stdout: the reader is stalled past the shutdown deadline: dropped %llu "
                "samples still queued",
                (unsigned long long)lost);
    }
    return rc;
}

static void
out_stdout_abandon(void *state)
{
    struct out_stdout *o = state;

    o->abandoned = true;
}

static bool
out_stdout_busy(const void *state)
{
    const struct out_stdout *o = state;

    return !recq_empty(&o->q);
}

static void
out_stdout_stats(const void *state, struct output_stats *st)
{
    const struct out_stdout *o = state;

    *st = o->st;
}

static void
out_stdout_free(void *state)
{
    struct out_stdout *o = state;

    if (o == NULL) {
        return;
    }
    recq_drop_all(&o->q, OUTPUT_DROP_SHUTDOWN);
    if (o->wev != NULL) {
        wake_others(o);
        for (struct out_stdout **p = &instances; *p != NULL; p = &(*p)->next) {
            if (*p == o) {
                *p = o->next;
                break;
            }
        }
        event_free(o->wev);
    }
    if (o->own_fd) {
        close(o->fd);
    }
    free(o);
}

const struct output_ops out_stdout_ops = {
    .name = "stdout",
    .write = out_stdout_write,
    .flush = out_stdout_flush,
    .abandon = out_stdout_abandon,
    .busy = out_stdout_busy,
    .stats = out_stdout_stats,
    .free = out_stdout_free,
};

/* The stdout output in the config: type stdout (the default output) */

static void stdout_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                         const char *path);

static const struct conf_field stdout_fields[] = {
    CONF_OUTPUT_FIELDS,
    CONF_FLD("queue_max_bytes", CONF_FT_SIZE, struct out_stdout_conf, queue_max_bytes,
             .flags = CONF_F_OPTS, .def = "64MiB",
             .desc = "Memory for documents a slow reader has not taken yet; beyond it the oldest "
                     "are dropped (reason queue_full)."),
};
static const struct conf_section stdout_section = {.name = "outputs[] (type stdout)",
                                                   .what = "output type stdout",
                                                   CONF_FIELDS(stdout_fields),
                                                   .opts_off = offsetof(struct config_output, opts),
                                                   .opts_size = sizeof(struct out_stdout_conf),
                                                   .check = stdout_check};

static void
stdout_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    const struct config_output *o = base;
    const struct out_stdout_conf *sc = o->opts;

    (void)path;
    if (sc->queue_max_bytes == 0) {
        conf_err(x, conf_tree_get(map, "queue_max_bytes"),
                 "queue_max_bytes must be greater than 0");
    }
}

static int
stdout_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
            char *err, size_t errlen)
{
    const struct out_stdout_conf *sc = co->opts;

    out->ops = &out_stdout_ops;
    out->state =
        out_stdout_open(1, l, sc != NULL ? (size_t)sc->queue_max_bytes : OUT_STDOUT_QUEUE_MAX);
    if (out->state == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -ENOMEM;
    }
    return 0;
}

static void
stdout_identity(const struct config_output *co, struct strbuf *sb)
{
    const struct out_stdout_conf *sc = co->opts;

    strbuf_printf(sb, "%llu", sc != NULL ? (unsigned long long)sc->queue_max_bytes : 0ULL);
}

const struct output_type out_stdout_type = {
    .name = "stdout",
    .desc = "Batches to standard output, one document per batch.",
    .conf = &stdout_section,
    .open = stdout_open,
    .identity = stdout_identity,
};

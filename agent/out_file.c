/*
 * File output. Each batch is written whole with write(2) on an O_APPEND descriptor. When a write
 * fails, what was not written joins a queue of whole records (recq.h) that is retried before
 * every later write (and at flush, and after a reopen), so records keep their order; the queue is
 * bounded by OUT_FILE_PENDING_MAX and only that bound (queue_full) or the end of the process with
 * records still queued (shutdown) ever drops data, counted in samples and logged at a bounded
 * rate. The books and self metrics are the http output's (output.h): collected = delivered +
 * dropped + pending, where delivered means written to the file (and, with fsync batch, handed to
 * the sync that follows).
 */
#include "build-config.h"

#include "out_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "recq.h"
#include "strbuf.h"

struct out_file {
    char *path; /* owned */
    int fd;     /* -1 when closed (reopen failed) */
    enum out_file_fsync fsync_policy;
    struct recq q; /* owned: records not yet written, oldest first */
    struct output_stats st;
    struct log_limit complain; /* write failures and drops */
    /*
     * fsync batch with a loop: fdatasync runs on a worker thread of the output's own, on a dup()
     * of the descriptor (a reopen may close the original meanwhile). At most one sync is in
     * flight; batches written meanwhile are covered by the next one (sync_again).
     */
    struct offload *sync; /* owned; NULL: fsync on the caller's thread (no loop) */
    int sync_fd;          /* the dup() being synced, -1 when none in flight */
    int sync_err;         /* errno of the sync in flight (worker writes, loop reads after) */
    bool sync_again;      /* written since the sync in flight started */
    uint64_t syncs;       /* completed syncs (tests) */
};

int
out_file_fsync_parse(const char *s, enum out_file_fsync *out)
{
    if (s != NULL && strcmp(s, "never") == 0) {
        *out = OUT_FILE_FSYNC_NEVER;
        return 0;
    }
    if (s != NULL && strcmp(s, "batch") == 0) {
        *out = OUT_FILE_FSYNC_BATCH;
        return 0;
    }
    return -EINVAL;
}

/* O_NOFOLLOW: a symlink planted at the path must not redirect pollster's writes (issue 13). */
static int
open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
}

/* "is a symbolic link" for ELOOP (what O_NOFOLLOW says), else strerror. */
static const char *
open_error(int err)
{
    return err == ELOOP ? "is a symbolic link (not followed)" : strerror(err);
}

void *
out_file_new(const char *path, enum out_file_fsync fsync_policy, char *err, size_t errlen)
{
    struct out_file *o = calloc(1, sizeof(*o));

    if (o == NULL || (o->path = strdup(path)) == NULL) {
        free(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* A file size limit must fail the write (EFBIG), not kill the agent. */
    signal(SIGXFSZ, SIG_IGN);
    o->fsync_policy = fsync_policy;
    recq_init(&o->q, OUT_FILE_PENDING_MAX, &o->st);
    o->st.type = "file";
    o->sync_fd = -1;
    o->fd = open_append(path);
    if (o->fd < 0) {
        snprintf(err, errlen, "cannot open \"%s\" for appending: %s", path, open_error(errno));
        free(o->path);
        free(o);
        return NULL;
    }
    return o;
}

static void
out_file_free(void *state)
{
    struct out_file *o = state;

    if (o == NULL) {
        return;
    }
    offload_free(o->sync); /* waits for the sync in flight (its done() closes the dup) */
    if (o->fd >= 0) {
        close(o->fd);
    }
    uint64_t lost = recq_drop_all(&o->q, OUTPUT_DROP_SHUTDOWN);
    if (lost > 0) {
        log_err("out_file: %s: %llu samples not written at exit: dropped", o->path,
                (unsigned long long)lost);
    }
    free(o->path);
    free(o);
}

static void sync_start(struct out_file *o);
static void note_failure(struct out_file *o, const char *call, int err);

/* On the worker: the sync itself. */
static void
sync_work(void *arg)
{
    struct out_file *o = arg;

    o->sync_err = fdatasync(o->sync_fd) != 0 && errno != EINVAL ? errno : 0;
}

/* On the loop: the sync is over; start the next one when batches were written meanwhile. */
static void
sync_done(void *arg)
{
    struct out_file *o = arg;

    close(o->sync_fd);
    o->sync_fd = -1;
    o->syncs++;
    if (o->sync_err != 0) {
        note_failure(o, "fdatasync()", o->sync_err);
    }
    if (o->sync_again) {
        o->sync_again = false;
        sync_start(o);
    }
}

/* Syncs what was written, off the loop; one sync at a time, later writes coalesced. */
static void
sync_start(struct out_file *o)
{
    if (o->sync_fd >= 0) {
        o->sync_again = true;
        return;
    }
    o->sync_fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
    if (o->sync_fd < 0) {
        note_failure(o, "fcntl(F_DUPFD)", errno);
        return;
    }
    o->sync_err = 0;
    if (offload_submit(o->sync, sync_work, sync_done, o) != 0) {
        sync_work(o); /* out of memory: sync here rather than not at all */
        sync_done(o);
    }
}

/* Writes as much of @data as the file takes; returns bytes written, or -errno with none. */
static ssize_t
write_some(void *arg, const char *data, size_t len)
{
    struct out_file *o = arg;
    size_t done = 0;

    if (o->fd < 0) {
        o->fd = open_append(o->path);
        if (o->fd < 0) {
            return -errno;
        }
    }
    while (done < len) {
        ssize_t n = write(o->fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            return done > 0 ? (ssize_t)done : -err;
        }
        done += (size_t)n;
    }
    if (o->fsync_policy == OUT_FILE_FSYNC_BATCH && o->sync != NULL) {
        sync_start(o);
    }
    else if (o->fsync_policy == OUT_FILE_FSYNC_BATCH && fsync(o->fd) != 0 && errno != EINVAL) {
        return -errno;
    }
    return (ssize_t)done;
}

/* A write or sync failed: booked, logged at a bounded rate; the records stay queued. */
static void
note_failure(struct out_file *o, const char *call, int err)
{
    o->st.failed_requests++;
    o->st.failing = true;
    log_complain(&o->complain, clock_mono_ms(), err, "out_file",
                 "%s: %s failed: %s; %llu samples kept in memory and retried", o->path, call,
                 strerror(err), (unsigned long long)o->st.pending_samples);
}

/* Writes went through again. */
static void
note_success(struct out_file *o)
{
    if (o->st.failing) {
        o->st.failing = false;
        log_release(&o->complain, clock_mono_ms(), "out_file");
    }
}

/* Retries the queued records. 0 when none are left. */
static int
drain_pending(struct out_file *o)
{
    int rc = recq_push(&o->q, write_some, o);

    if (rc != 0) {
        note_failure(o, "write()", -rc);
        return rc;
    }
    note_success(o);
    return 0;
}

/* Keeps the record @data (@done bytes of it written) for later, within the bound. */
static void
keep_pending(struct out_file *o, const char *data, size_t len, size_t done, uint32_t nsamples)
{
    uint64_t dropped = 0;

    /* A begun record must finish (a line is never cut), whatever the bound. */
    if (done == 0 && !recq_make_room(&o->q, len, &dropped)) {
        o->st.dropped[OUTPUT_DROP_QUEUE_FULL] += nsamples;
        dropped += nsamples;
    }
    else if (recq_add(&o->q, data, len, done, nsamples) != 0) {
        o->st.dropped[OUTPUT_DROP_QUEUE_FULL] += nsamples;
        dropped += nsamples;
    }
    if (dropped > 0) {
        log_complain(&o->complain, clock_mono_ms(), ENOBUFS, "out_file",
                     "%s: cannot write and more than %zu bytes waiting: dropped %llu samples",
                     o->path, o->q.max_bytes, (unsigned long long)dropped);
    }
}

static int
out_file_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_file *o = state;

    o->st.collected += nsamples;
    if (!recq_empty(&o->q) && drain_pending(o) != 0) {
        keep_pending(o, data, len, 0, nsamples);
        return -EAGAIN;
    }
    ssize_t n = write_some(o, data, len);
    if (n < 0 || (size_t)n < len) {
        size_t done = n > 0 ? (size_t)n : 0;
        keep_pending(o, data, len, done, nsamples);
        note_failure(o, "write()", n < 0 ? (int)-n : ENOSPC);
        return -EAGAIN;
    }
    recq_delivered(&o->st, nsamples);
    note_success(o);
    return 0;
}

static int
out_file_flush(void *state)
{
    struct out_file *o = state;

    return recq_empty(&o->q) ? 0 : drain_pending(o);
}

static int
out_file_reopen(void *state)
{
    struct out_file *o = state;
    int fd = open_append(o->path);

    if (fd < 0) {
        log_err("out_file: %s: reopen failed: %s; keeping the old file open", o->path,
                open_error(errno));
        return -errno;
    }
    if (o->fd >= 0) {
        close(o->fd);
    }
    o->fd = fd;
    log_info("out_file: %s: reopened", o->path);
    return out_file_flush(o);
}

void
out_file_sync_on(void *state, struct loop *l)
{
    struct out_file *o = state;

    if (o->fsync_policy == OUT_FILE_FSYNC_BATCH && o->sync == NULL && l != NULL) {
        o->sync = offload_new(loop_base(l)); /* NULL: fsync stays on the loop, as before */
    }
}

void
out_file_set_queue_max(void *state, size_t max_bytes)
{
    struct out_file *o = state;

    o->q.max_bytes = max_bytes;
}

uint64_t
out_file_syncs(const void *state)
{
    const struct out_file *o = state;

    return o->syncs;
}

/* A sync in flight is sending left: the drain waits for it. */
static bool
out_file_busy(const void *state)
{
    const struct out_file *o = state;

    return o->sync_fd >= 0;
}

static void
out_file_stats(const void *state, struct output_stats *st)
{
    const struct out_file *o = state;

    *st = o->st;
}

const struct output_ops out_file_ops = {
    .name = "file",
    .write = out_file_write,
    .flush = out_file_flush,
    .reopen = out_file_reopen,
    .busy = out_file_busy,
    .stats = out_file_stats,
    .free = out_file_free,
};

/* The file output in the config: type file */

static const struct conf_choice fsync_choices[] = {{"never", OUT_FILE_FSYNC_NEVER, false},
                                                   {"batch", OUT_FILE_FSYNC_BATCH, false},
                                                   {"interval", OUT_FILE_FSYNC_BATCH, false},
                                                   {NULL, 0, false}};

_Static_assert(sizeof(enum out_file_fsync) == sizeof(int), "enum size");

static void file_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);

#define FO(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct out_file_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field file_fields[] = {
    CONF_OUTPUT_FIELDS,
    FO("path", CONF_FT_PATH, path, CONF_F_NONEMPTY | CONF_F_REQUIRED,
       .desc = "The file appended to; reopened on SIGHUP (logrotate)."),
    FO("fsync", CONF_FT_ENUM, fsync, 0, .def = "never", .choices = fsync_choices,
       .desc = "never, batch (after every batch) or interval (every flush_interval; for a file: "
               "the same as batch)."),
    FO("queue_max_bytes", CONF_FT_SIZE, queue_max_bytes, 0, .def = "64MiB",
       .desc = "Memory for documents the file cannot take yet (full disk, I/O error); beyond it "
               "the oldest are dropped (reason queue_full)."),
    FO("flush_interval", CONF_FT_DURATION, flush_interval_ms, 0, .def = "1s",
       .desc = "http: longest wait before sending a partial batch; file: accepted, unused."),
};
#undef FO
static const struct conf_section file_section = {.name = "outputs[] (type file)",
                                                 .what = "output type file",
                                                 CONF_FIELDS(file_fields),
                                                 .opts_off = offsetof(struct config_output, opts),
                                                 .opts_size = sizeof(struct out_file_conf),
                                                 .check = file_check};

/* Two outputs must not append to one file. */
static void
file_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    const struct config_output *o = base;
    const struct out_file_conf *fc = o->opts;

    if (fc->flush_interval_ms == 0) {
        conf_err(x, conf_tree_get(map, "flush_interval"), "flush_interval must be greater than 0");
    }
    if (fc->queue_max_bytes == 0) {
        conf_err(x, conf_tree_get(map, "queue_max_bytes"),
                 "queue_max_bytes must be greater than 0");
    }
    if (fc->path != NULL) {
        conf_claim(x, conf_tree_get(map, "path"), "path", fc->path, path);
    }
}

static int
file_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
          char *err, size_t errlen)
{
    const struct out_file_conf *fc = co->opts;

    out->ops = &out_file_ops;
    out->state = out_file_new(fc->path, fc->fsync, err, errlen);
    if (out->state == NULL) {
        return -EINVAL;
    }
    out_file_set_queue_max(out->state, (size_t)fc->queue_max_bytes);
    out_file_sync_on(out->state, l);
    return 0;
}

static void
file_summary(FILE *f, const struct config_output *co)
{
    const struct out_file_conf *fc = co->opts;

    fprintf(f, ": %s\n", fc->path);
}

static void
file_identity(const struct config_output *co, struct strbuf *sb)
{
    const struct out_file_conf *fc = co->opts;

    strbuf_printf(sb, "%s\x1f%d\x1f%llu", fc->path, (int)fc->fsync,
                  (unsigned long long)fc->queue_max_bytes);
}

const struct output_type out_file_type = {
    .name = "file",
    .desc = "Batches appended to a file, one document per line.",
    .conf = &file_section,
    .open = file_open,
    .summary = file_summary,
    .identity = file_identity,
};

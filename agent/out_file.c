/*
 * File output. Each batch is written whole with write(2) on an O_APPEND descriptor. When a write
 * fails, what was not written goes to a pending buffer that is retried before every later write
 * (and at flush), so records keep their order; the buffer is bounded by OUT_FILE_PENDING_MAX and
 * only that bound ever drops data, counted and logged.
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

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "strbuf.h"

struct out_file {
    char *path; /* owned */
    int fd;     /* -1 when closed (reopen failed) */
    enum out_file_fsync fsync_policy;
    struct strbuf pending; /* owned: records not yet written, oldest first */
    size_t pending_off;    /* bytes of pending already written */
    uint64_t dropped;
    bool failing;
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
    strbuf_init(&o->pending);
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
    strbuf_release(&o->pending);
    free(o->path);
    free(o);
}

static void sync_start(struct out_file *o);
static void note_failure(struct out_file *o, int err);

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
        note_failure(o, o->sync_err);
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
        note_failure(o, errno);
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
write_some(struct out_file *o, const char *data, size_t len)
{
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

static void
note_failure(struct out_file *o, int err)
{
    if (!o->failing) {
        log_err("out_file: %s: write() failed: %s; keeping records in memory and retrying", o->path,
                strerror(err));
        o->failing = true;
    }
}

/* Retries the pending records. 0 when none are left. */
static int
drain_pending(struct out_file *o)
{
    while (o->pending_off < o->pending.len) {
        ssize_t n =
            write_some(o, o->pending.data + o->pending_off, o->pending.len - o->pending_off);
        if (n < 0) {
            note_failure(o, (int)-n);
            return (int)n;
        }
        o->pending_off += (size_t)n;
        if ((size_t)n == 0) {
            return -EIO;
        }
    }
    strbuf_reset(&o->pending);
    o->pending_off = 0;
    if (o->failing) {
        log_info("out_file: %s: writing again", o->path);
        o->failing = false;
    }
    return 0;
}

/* Keeps @data for later, dropping the oldest pending bytes beyond the bound. */
static void
keep_pending(struct out_file *o, const char *data, size_t len)
{
    size_t live = o->pending.len - o->pending_off;

    if (live + len > OUT_FILE_PENDING_MAX) {
        /* Drop whole old records: cut at the first newline after the excess. */
        size_t excess = live + len - OUT_FILE_PENDING_MAX;
        const char *start = o->pending.data + o->pending_off;
        const char *cut = excess < live ? memchr(start + excess, '\n', live - excess) : NULL;
        size_t drop = cut != NULL ? (size_t)(cut - start) + 1 : live;
        o->pending_off += drop;
        o->dropped += drop;
        log_err("out_file: %s: %zu bytes of records dropped: more than %u bytes waiting", o->path,
                drop, OUT_FILE_PENDING_MAX);
    }
    if (o->pending_off > 0 && o->pending_off == o->pending.len) {
        strbuf_reset(&o->pending);
        o->pending_off = 0;
    }
    strbuf_append(&o->pending, data, len);
    if (o->pending.oom) {
        o->dropped += len;
        log_err("out_file: %s: out of memory keeping %zu bytes; dropped", o->path, len);
        o->pending.oom = false;
    }
}

static int
out_file_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_file *o = state;

    (void)nsamples;

    if (o->pending.len > o->pending_off && drain_pending(o) != 0) {
        keep_pending(o, data, len);
        return -EAGAIN;
    }
    ssize_t n = write_some(o, data, len);
    if (n < 0 || (size_t)n < len) {
        size_t done = n > 0 ? (size_t)n : 0;
        note_failure(o, n < 0 ? (int)-n : ENOSPC);
        keep_pending(o, data + done, len - done);
        return -EAGAIN;
    }
    return 0;
}

static int
out_file_flush(void *state)
{
    struct out_file *o = state;

    return o->pending.len > o->pending_off ? drain_pending(o) : 0;
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

size_t
out_file_pending(const void *state)
{
    const struct out_file *o = state;

    return o->pending.len - o->pending_off;
}

uint64_t
out_file_dropped(const void *state)
{
    const struct out_file *o = state;

    return o->dropped;
}

const struct output_ops out_file_ops = {
    .name = "file",
    .write = out_file_write,
    .flush = out_file_flush,
    .reopen = out_file_reopen,
    .busy = out_file_busy,
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

    strbuf_printf(sb, "%s\x1f%d", fc->path, (int)fc->fsync);
}

const struct output_type out_file_type = {
    .name = "file",
    .desc = "Batches appended to a file, one document per line.",
    .conf = &file_section,
    .open = file_open,
    .summary = file_summary,
    .identity = file_identity,
};

/*
 * The file output: encoded batches appended to a file (JSON lines), opened with O_APPEND so
 * several writers and logrotate's copytruncate are safe, reopened on SIGHUP for logrotate's
 * create mode. A failing write (full disk, I/O error, file size limit) is logged at a bounded
 * rate and the records are kept in memory, up to a bound, and retried before the next write: the
 * agent never stops because a disk filled up. Its books and self metrics are those of every
 * output (output_stats, through out_file_ops.stats).
 */
#ifndef POLLSTER_OUT_FILE_H
#define POLLSTER_OUT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "outputs.h"

enum out_file_fsync {
    OUT_FILE_FSYNC_NEVER = 0, /* leave it to the kernel (default) */
    OUT_FILE_FSYNC_BATCH,     /* fsync after every batch written */
};

/* Records kept in memory while the file cannot be written; beyond it the oldest are dropped. */
#define OUT_FILE_PENDING_MAX (64u << 20)

extern const struct output_ops out_file_ops;

/* The file output's row in the outputs registry. */
extern const struct output_type out_file_type;

/* A file output's settings: config_output.opts of a file output. */
struct out_file_conf {
    char *path;
    enum out_file_fsync fsync; /* default never ("interval" is batch for a file) */
    int64_t flush_interval_ms; /* default 1s */
    uint64_t queue_max_bytes;  /* default 64MiB (OUT_FILE_PENDING_MAX) */
};

/* "never" | "batch"; 0 or -EINVAL. */
int out_file_fsync_parse(const char *s, enum out_file_fsync *out);

/*
 * Opens @path for appending (created 0640 if missing). NULL with the cause in @err when it
 * cannot be opened at start: a bad path is a configuration error, not a runtime one.
 */
void *out_file_new(const char *path, enum out_file_fsync fsync_policy, char *err, size_t errlen);

struct loop;
/*
 * With fsync batch: syncs run on a worker thread whose completions come back on @l, so a slow
 * disk never stalls the loop (issue 13). Without this call they run inline.
 */
void out_file_sync_on(void *state, struct loop *l);
/* Bytes of documents kept while the file cannot take them (default OUT_FILE_PENDING_MAX). */
void out_file_set_queue_max(void *state, size_t max_bytes);
/* Syncs completed off the loop (tests). */
uint64_t out_file_syncs(const void *state);

#endif

/*
 * The output interface: where encoded batches go (stdout, files, HTTP sinks). An output receives
 * bytes already encoded in its format; it knows nothing about job kinds, and the engine knows
 * nothing about an output beyond this table.
 *
 * Outputs that write one document per batch (stdout, file) get each batch as a whole document
 * (encoder_document()); outputs that join several batches into one document (http) get the bare
 * record and frame it themselves (records = true).
 */
#ifndef POLLSTER_OUTPUT_H
#define POLLSTER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "strbuf.h"

/* The longest outputs[].name (config.c checks it; the engine keeps a copy). */
#define OUTPUT_NAME_MAX 64

/* Why samples were dropped: the reason label of pollster_output_dropped_samples_total. */
enum output_drop {
    OUTPUT_DROP_QUEUE_FULL = 0, /* memory queue full and no spool */
    OUTPUT_DROP_SPOOL_FULL,     /* spool_max_bytes reached: the oldest segment went */
    OUTPUT_DROP_REJECTED,       /* the sink answered 4xx (not 408/429): it will never take them */
    OUTPUT_DROP_SHUTDOWN,       /* still in memory at exit, and no spool to keep them */
    OUTPUT_DROP_SPOOL_ERROR,    /* the spool could not be written (disk full, I/O error) */
    OUTPUT_DROP_CORRUPT,        /* a spool record went bad on disk after it was written */
    OUTPUT_DROP_WRITE_ERROR,    /* stdout/file: write(2) failed (closed pipe, I/O error) */
    OUTPUT_DROP_NO_MEMORY,      /* the batch could not be encoded or queued: out of memory */
    OUTPUT_DROP_RELOAD, /* a reload replaced or removed the output and it could not deliver them */
    OUTPUT_DROP__COUNT
};

/* "queue_full", ... */
const char *output_drop_name(enum output_drop d);

/*
 * What an output reports about itself. The books balance at every moment:
 * collected + recovered = delivered + dropped (all reasons) + pending_samples.
 */
struct output_stats {
    const char *type;   /* "http" */
    uint64_t collected; /* samples handed to the output since start */
    uint64_t recovered; /* samples found in the spool at start */
    uint64_t delivered; /* samples the sink acknowledged */
    uint64_t dropped[OUTPUT_DROP__COUNT];
    uint64_t pending_samples;   /* in memory and in the spool */
    uint64_t queue_bytes;       /* in memory */
    uint64_t queue_samples;     /* in memory (the relay: what has not left it is not safe yet) */
    uint64_t spool_bytes;       /* on disk */
    uint64_t requests;          /* requests the sink acknowledged */
    uint64_t failed_requests;   /* requests that failed (each retried or dropped) */
    uint64_t retries;           /* requests sent again after a failure */
    double last_success;        /* unix time of the last acknowledged request, 0 = never */
    bool failing;               /* the last request failed: backing off */
    double failing_since;       /* unix time of the first failure while @failing, else 0 */
    char last_error[160];       /* why the last failed request failed; "" = none since start */
    uint64_t memory_given_back; /* times the queue emptied after an episode that held much and
                                   its memory went back to the system (http: shed_memory()) */
    bool draining; /* set by the engine: a reload removed it; it sends what it holds, then goes */
};

struct output_ops {
    const char *name;
    bool records; /* write() takes bare records, not documents */
    /*
     * Takes @len bytes holding @nsamples samples (copied or written before returning). Returns
     * 0 when the output took them (written, queued, or kept to be retried: -EAGAIN means the
     * same). Any other negative errno means this output dropped the batch, and has counted it:
     * in collected and in dropped under a reason (out of memory: OUTPUT_DROP_NO_MEMORY). The
     * engine logs such failures (rate limited, per output) and carries on; a batch it could not
     * even encode for an output it counts itself, as dropped{reason="out_of_memory"} of that
     * output (engine.c, output_lost()).
     */
    int (*write)(void *state, const char *data, size_t len, uint32_t nsamples);
    /*
     * Optional, replaces write(): the output encodes the batch itself (rules of its own, such as
     * remote_write's write_relabel_configs). @b is only read, and only during the call; it may
     * hold nothing but staleness markers (b->nsamples 0, b->nstale > 0). Returns as write().
     */
    int (*write_batch)(void *state, const struct batch *b);
    /*
     * The output sends staleness markers (sample.h, nstale): the engine remembers each target's
     * series and marks those that vanish, or all of them when the target goes away.
     */
    bool stale_markers;
    /*
     * The end, after the loop stopped: pushes out or persists anything still held. May be NULL.
     */
    int (*flush)(void *state);
    /* Reopens files after log rotation (SIGHUP). May be NULL. */
    int (*reopen)(void *state);
    /*
     * Shutdown (or the end of a --once run) begins: send what is queued now, without waiting for
     * timers. May be NULL.
     */
    void (*drain)(void *state);
    /*
     * The daemon's shutdown deadline passed with the output still busy: flush() must not wait
     * for a peer any longer (what it cannot send at once is dropped or persisted, counted). May
     * be NULL. Not called in once mode, where flush() may wait for a slow reader (| less).
     */
    void (*abandon)(void *state);
    /* True while the output has sending left that is worth waiting for. NULL = never. */
    bool (*busy)(const void *state);
    /* Fills the output's self metrics. May be NULL (stdout, file: nothing to report). */
    void (*stats)(const void *state, struct output_stats *st);
    /* Frees the state (accepts NULL). */
    void (*free)(void *state);
};

struct output {
    const struct output_ops *ops; /* borrowed: static table */
    void *state;                  /* owned */
};

#endif

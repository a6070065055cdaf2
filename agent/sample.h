/*
 * The data model every job kind produces and every encoder consumes: samples, labels, the batch
 * that one collection run yields, and the per-batch arena that holds their strings.
 *
 * A sample never owns memory: its name, labels and label strings live in the batch's arena (or
 * are static / borrowed from the target) and die with the batch. No malloc per sample: the arena
 * hands out memory from large blocks, and released blocks go to a small process-wide free list so
 * a steady scrape load allocates nothing after warm-up.
 */
#ifndef POLLSTER_SAMPLE_H
#define POLLSTER_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sample_type {
    SAMPLE_UNTYPED = 0,
    SAMPLE_COUNTER,
    SAMPLE_GAUGE,
    SAMPLE_HISTOGRAM,
    SAMPLE_SUMMARY,
    SAMPLE_GAUGEHISTOGRAM,
    SAMPLE_STATESET,
    SAMPLE_INFO,
    SAMPLE_TYPE__COUNT
};

/* "untyped", "counter", ... ; never NULL. */
const char *sample_type_name(enum sample_type t);

struct label {
    const char *name;  /* borrowed: arena, target or static */
    const char *value; /* borrowed: arena, target or static */
};

struct sample {
    const char *name;           /* borrowed: arena or static */
    const struct label *labels; /* borrowed: arena; NULL when nlabels == 0 */
    uint32_t nlabels;
    uint8_t type; /* enum sample_type */
    bool has_ts;
    double value;
    int64_t ts_ms; /* wall clock, valid when has_ts */
};

/* The fixed failure reasons (DESIGN.md). REASON_NONE means success. */
enum reason {
    REASON_NONE = 0,
    REASON_DNS,
    REASON_CONNECT,
    REASON_TLS,
    REASON_TIMEOUT,
    REASON_HTTP_4XX,
    REASON_HTTP_5XX,
    REASON_TOO_LARGE,
    REASON_PARSE,
    REASON_LIMIT,
    REASON_INTERNAL,
    REASON_NETWORK,  /* connected, then a reset or receive/send failure, nothing or a cut body */
    REASON_PROTOCOL, /* malformed HTTP, bad chunking, too many redirects, bad content encoding */
    REASON__COUNT
};

/* "dns", "connect", ... ; "" for REASON_NONE. */
const char *reason_name(enum reason r);

struct arena_block;

struct arena {
    struct arena_block *head; /* owned: current block, linked to older ones */
    size_t used;              /* bytes used in head */
};

void arena_init(struct arena *a);
/* Returns @n bytes aligned to 8, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies @n bytes of @s plus a NUL into the arena; NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Gives every block back (to the free list or to malloc); the arena is empty and reusable. */
void arena_release(struct arena *a);
/* Frees the process-wide free list of blocks (at exit, so valgrind sees no leaks). */
void arena_free_cache(void);
/*
 * Blocks (of 64 KiB) the free list keeps: 512 KiB, about the batches of eight runs at once. 32
 * kept a startup burst's 1 MiB for good at 500 targets (issue 16); more runs at once malloc.
 */
#define ARENA_CACHE_MAX 8
/* Number of blocks on the process-wide free list (for a self metric and for tests). */
size_t arena_cached_blocks(void);

#define BATCH_ERROR_MAX 256

/* One collection run of one target. */
struct batch {
    struct arena arena; /* owned */

    const char *job;                   /* borrowed: target */
    const char *instance;              /* borrowed: target */
    const char *url;                   /* borrowed: target */
    const struct label *target_labels; /* borrowed: target */
    uint32_t ntarget_labels;

    int64_t ts_ms;     /* wall clock at the start of the run */
    double duration_s; /* run duration */
    bool ok;
    int http_status;    /* 0 when no response */
    enum reason reason; /* REASON_NONE when ok */
    char error[BATCH_ERROR_MAX];
    /* What a run that may have succeeded wants seen (json: the absent paths); "" = none. */
    char warning[BATCH_ERROR_MAX];

    struct sample *samples; /* owned: array */
    size_t nsamples;
    size_t cap;
    /*
     * Staleness markers (stale.h) for outputs that send them: samples[nsamples .. nsamples +
     * nstale), after the batch's own samples, so every other encoder never sees them.
     */
    size_t nstale;

    /* Set by job kinds that filter samples (-1 = not set: the engine uses nsamples). */
    int64_t samples_scraped;      /* samples in the body, before metric relabeling */
    int64_t samples_post_relabel; /* after metric relabeling; -1 when there are no rules */

    /*
     * A run in parts (issue 13: a big body is not held whole). parts_ok: set by whoever runs the
     * batch when it can hand a part of a run on (the engine does: stale.h tracks a run in
     * parts); part: set by a job kind's finish_more when the batch holds a part to hand on
     * now, more of the run following; nforwarded: samples of this run handed on in parts before.
     */
    bool parts_ok;
    bool part;
    size_t nforwarded;
};

/*
 * Sample arrays up to this many entries survive batch_clear() for reuse; a larger one (a big
 * scrape's) is given back, so one big run does not keep its memory for good (issue 13).
 */
#define BATCH_KEEP_CAP 4096

void batch_init(struct batch *b);
/*
 * Drops every sample and the arena contents; keeps borrowed target fields, and the sample array
 * when it has at most BATCH_KEEP_CAP entries.
 */
void batch_clear(struct batch *b);
/* Bytes the batch holds in its sample array and arena blocks (for the memory policy). */
size_t batch_footprint(const struct batch *b);

/*
 * Memory policy of a long-running process (glibc; elsewhere a no-op): a fixed mmap threshold so
 * large buffers are mapped and unmapped rather than parked in the heap after a big scrape.
 * Called once, before the loop runs.
 */
void mem_policy_init(void);
/* Gives free heap memory back to the system (after a big run's memory was freed). */
void mem_give_back(void);
/* Frees everything the batch owns; it may be batch_init()ed again. */
void batch_release(struct batch *b);

/*
 * Appends a zeroed sample and returns it for the caller to fill, or NULL when out of memory.
 * The pointer is valid until the next batch_push (the array may move).
 */
struct sample *batch_push(struct batch *b);

/*
 * Appends a sample whose @name and label strings are borrowed (static or outliving the batch);
 * @nlabels name/value string pairs follow as varargs and are copied into the arena as an array.
 * Returns 0 or -ENOMEM.
 */
int batch_add(struct batch *b, const char *name, enum sample_type type, double value,
              unsigned nlabels, ...);

/* Sets ok = false, the reason and a printf-formatted error text. */
void batch_fail(struct batch *b, enum reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

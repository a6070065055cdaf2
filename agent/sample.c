/*
 * The data model's memory: the per-batch arena, the batch's sample array, and the name tables
 * for sample types and failure reasons.
 *
 * The arena is a bump allocator over 64 KiB blocks. A request that does not fit in a standard
 * block gets a block of its own, exactly sized, linked behind the current block so the current
 * block's free space is not wasted. arena_release() gives standard blocks to a process-wide free
 * list (at most ARENA_CACHE_MAX blocks, the rest go back to malloc), so a steady scrape load stops
 * calling malloc after warm-up. The free list is not locked: only the loop thread uses arenas (the
 * encoding worker, offload.h, reads a finished batch and never allocates from its arena);
 * a second thread using arenas would need a lock here.
 */
#include "build-config.h"

#include "sample.h"

#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Under AddressSanitizer the arena marks memory it has not handed out as poisoned, so an
 * overflow past an arena string is reported like one past a malloc'd string would be.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_BLOCK_SIZE (64 * 1024) /* malloc size of a standard block, header included */
#define ARENA_ALIGN 8
#define BATCH_MIN_CAP 256 /* first sample array size */
/* Allocations at least this large are mmapped, so freeing them gives the memory back at once. */
#define MEM_MMAP_THRESHOLD (256 * 1024)

struct arena_block {
    struct arena_block *next; /* owned: the previously filled block, or the next free one */
    size_t size;              /* usable bytes in data[] */
    alignas(ARENA_ALIGN) unsigned char data[];
};

#define ARENA_BLOCK_PAYLOAD (ARENA_BLOCK_SIZE - sizeof(struct arena_block))

static struct arena_block *arena_cache; /* free standard blocks, linked through next */
static size_t arena_ncache;

static const char *const sample_type_names[] = {
    [SAMPLE_UNTYPED] = "untyped",   [SAMPLE_COUNTER] = "counter",
    [SAMPLE_GAUGE] = "gauge",       [SAMPLE_HISTOGRAM] = "histogram",
    [SAMPLE_SUMMARY] = "summary",   [SAMPLE_GAUGEHISTOGRAM] = "gaugehistogram",
    [SAMPLE_STATESET] = "stateset", [SAMPLE_INFO] = "info",
};

static const char *const reason_names[] = {
    [REASON_NONE] = "",
    [REASON_DNS] = "dns",
    [REASON_CONNECT] = "connect",
    [REASON_TLS] = "tls",
    [REASON_TIMEOUT] = "timeout",
    [REASON_HTTP_4XX] = "http_4xx",
    [REASON_HTTP_5XX] = "http_5xx",
    [REASON_TOO_LARGE] = "too_large",
    [REASON_PARSE] = "parse",
    [REASON_LIMIT] = "limit",
    [REASON_INTERNAL] = "internal",
    [REASON_NETWORK] = "network",
    [REASON_PROTOCOL] = "protocol",
};

_Static_assert(sizeof(sample_type_names) / sizeof(sample_type_names[0]) == SAMPLE_TYPE__COUNT,
               "sample_type_names must name every enum sample_type");
_Static_assert(sizeof(reason_names) / sizeof(reason_names[0]) == REASON__COUNT,
               "reason_names must name every enum reason");
_Static_assert(sizeof(struct arena_block) % ARENA_ALIGN == 0, "block payload must be aligned");
_Static_assert(sizeof(unsigned) <= sizeof(uint32_t), "batch_add's nlabels must fit sample.nlabels");

/*
 * Returns the lower-case name of @t ("untyped", "counter", ...), as used in the JSON output and
 * OpenMetrics TYPE lines. Out-of-range values read "untyped". Never NULL; static storage.
 */
const char *
sample_type_name(enum sample_type t)
{
    if ((unsigned)t >= SAMPLE_TYPE__COUNT) {
        return sample_type_names[SAMPLE_UNTYPED];
    }
    return sample_type_names[t];
}

/*
 * Returns the name of failure reason @r ("dns", "connect", ...), the value of the "reason" key
 * and of the reason label of self metrics; "" for REASON_NONE. An out-of-range value reads
 * "internal" (it can only come from a bug). Never NULL; static storage.
 */
const char *
reason_name(enum reason r)
{
    if ((unsigned)r >= REASON__COUNT) {
        return reason_names[REASON_INTERNAL];
    }
    return reason_names[r];
}

/* Initialises an empty arena; allocates nothing until the first arena_alloc(). */
void
arena_init(struct arena *a)
{
    a->head = NULL;
    a->used = 0;
}

/* A standard block from the free list or malloc; NULL when out of memory. */
static struct arena_block *
arena_block_get(void)
{
    struct arena_block *blk = arena_cache;

    if (blk != NULL) {
        arena_cache = blk->next;
        arena_ncache--;
    }
    else {
        blk = malloc(ARENA_BLOCK_SIZE);
        if (blk == NULL) {
            return NULL;
        }
        blk->size = ARENA_BLOCK_PAYLOAD;
        ARENA_POISON(blk->data, blk->size);
    }
    blk->next = NULL;
    return blk;
}

/* Gives @blk back: standard blocks to the free list while it has room, anything else to free. */
static void
arena_block_put(struct arena_block *blk)
{
    if (blk->size == ARENA_BLOCK_PAYLOAD && arena_ncache < ARENA_CACHE_MAX) {
        ARENA_POISON(blk->data, blk->size);
        blk->next = arena_cache;
        arena_cache = blk;
        arena_ncache++;
    }
    else {
        ARENA_UNPOISON(blk->data, blk->size);
        free(blk);
    }
}

/*
 * Returns @n bytes aligned to 8 that live until arena_release(), or NULL when out of memory
 * (or @n is absurdly large). The memory is not zeroed. @n == 0 returns a valid pointer that must
 * not be dereferenced. Requests larger than a standard block's payload get their own block.
 */
void *
arena_alloc(struct arena *a, size_t n)
{
    struct arena_block *blk;
    size_t sz;
    void *p;

    if (n > SIZE_MAX - sizeof(struct arena_block) - ARENA_ALIGN) {
        return NULL;
    }
    sz = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    if (a->head != NULL && a->head->size - a->used >= sz) {
        p = a->head->data + a->used;
        a->used += sz;
        ARENA_UNPOISON(p, n);
        return p;
    }

    if (sz > ARENA_BLOCK_PAYLOAD) {
        /* Own block, exactly sized; goes behind head so head keeps serving small requests. */
        blk = malloc(sizeof(struct arena_block) + sz);
        if (blk == NULL) {
            return NULL;
        }
        blk->size = sz;
        if (a->head == NULL) {
            blk->next = NULL;
            a->head = blk;
            a->used = sz;
        }
        else {
            blk->next = a->head->next;
            a->head->next = blk;
        }
        ARENA_POISON(blk->data + n, sz - n);
        return blk->data;
    }

    blk = arena_block_get();
    if (blk == NULL) {
        return NULL;
    }
    blk->next = a->head;
    a->head = blk;
    a->used = sz;
    ARENA_UNPOISON(blk->data, n);
    return blk->data;
}

/* Copies @n bytes of @s (NULs included) plus a terminating NUL; NULL when out of memory. */
char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p;

    if (n == SIZE_MAX) {
        return NULL;
    }
    p = arena_alloc(a, n + 1);
    if (p == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    return p;
}

/* Copies the C string @s into the arena; NULL when out of memory. */
char *
arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

/*
 * Gives every block back (standard ones to the free list, up to its cap, others to free()).
 * Every pointer the arena handed out becomes invalid; the arena is empty and reusable.
 */
void
arena_release(struct arena *a)
{
    struct arena_block *blk = a->head;
    struct arena_block *next;

    while (blk != NULL) {
        next = blk->next;
        arena_block_put(blk);
        blk = next;
    }
    a->head = NULL;
    a->used = 0;
}

/*
 * Frees the process-wide free list. Called at exit (and by tests) so valgrind and LSan see no
 * leaks; arenas keep working afterwards, they just malloc again.
 */
void
arena_free_cache(void)
{
    struct arena_block *blk = arena_cache;
    struct arena_block *next;

    while (blk != NULL) {
        next = blk->next;
        ARENA_UNPOISON(blk->data, blk->size);
        free(blk);
        blk = next;
    }
    arena_cache = NULL;
    arena_ncache = 0;
}

/* Number of blocks on the process-wide free list (a self metric, and for tests). */
size_t
arena_cached_blocks(void)
{
    return arena_ncache;
}

/* Initialises an empty, not-ok batch with no target fields; allocates nothing. */
void
batch_init(struct batch *b)
{
    memset(b, 0, sizeof(*b));
    arena_init(&b->arena);
    b->ok = false;
    b->reason = REASON_NONE;
    b->samples = NULL;
    b->samples_scraped = -1;
    b->samples_post_relabel = -1;
}

/*
 * Makes the batch ready for the next run of the same target: drops every sample and the arena
 * contents (pointers into them become invalid) and resets the run results (ts_ms, duration_s,
 * ok = false, http_status, reason, error). Keeps the borrowed target fields (job, instance, url,
 * target labels) and the sample array's memory when it is small (at most BATCH_KEEP_CAP
 * entries), so the next run of a usual target allocates nothing; a big scrape's array is freed
 * rather than kept at its high-water mark.
 */
void
batch_clear(struct batch *b)
{
    arena_release(&b->arena);
    if (b->cap > BATCH_KEEP_CAP) {
        free(b->samples);
        b->samples = NULL;
        b->cap = 0;
    }
    b->ts_ms = 0;
    b->duration_s = 0;
    b->ok = false;
    b->http_status = 0;
    b->reason = REASON_NONE;
    b->error[0] = '\0';
    b->warning[0] = '\0';
    b->nsamples = 0;
    b->nstale = 0;
    b->samples_scraped = -1;
    b->samples_post_relabel = -1;
    b->parts_ok = false;
    b->part = false;
    b->nforwarded = 0;
}

/* Bytes held by @b's sample array and arena blocks (headers included). */
size_t
batch_footprint(const struct batch *b)
{
    size_t n = b->cap * sizeof(*b->samples);

    for (const struct arena_block *blk = b->arena.head; blk != NULL; blk = blk->next) {
        n += sizeof(*blk) + blk->size;
    }
    return n;
}

/*
 * glibc raises its mmap threshold to the size of every mmapped chunk freed (up to 32 MiB), so
 * after one big scrape the next big buffers come from the heap, where fragmentation keeps them
 * resident. Setting the threshold fixes it (and the trim threshold) for the process.
 */
void
mem_policy_init(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, MEM_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, 2 * MEM_MMAP_THRESHOLD);
#endif
}

/* Returns the free pages of the heap to the system (glibc's malloc_trim; elsewhere a no-op). */
void
mem_give_back(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

/* Frees the arena contents and the sample array, then re-initialises @b (target fields too). */
void
batch_release(struct batch *b)
{
    arena_release(&b->arena);
    free(b->samples);
    batch_init(b);
}

/*
 * Appends a zeroed sample (untyped, no labels, no timestamp, value 0) and returns it, or NULL
 * when out of memory (the batch is unchanged). The array doubles from BATCH_MIN_CAP, so the
 * returned pointer, and every earlier one, is valid only until the next batch_push().
 */
struct sample *
batch_push(struct batch *b)
{
    struct sample *s;
    size_t cap;

    if (b->nsamples == b->cap) {
        cap = b->cap == 0 ? BATCH_MIN_CAP : b->cap;
        if (b->cap != 0) {
            if (cap > SIZE_MAX / 2 / sizeof(*s)) {
                return NULL;
            }
            cap *= 2;
        }
        s = realloc(b->samples, cap * sizeof(*s));
        if (s == NULL) {
            return NULL;
        }
        b->samples = s;
        b->cap = cap;
    }
    s = &b->samples[b->nsamples++];
    memset(s, 0, sizeof(*s));
    return s;
}

/*
 * Appends a sample without a timestamp. @name and the label strings are borrowed: they must
 * outlive the batch (static, the target's, or already in b->arena). The @nlabels pairs of
 * (const char *name, const char *value) varargs are copied, as a struct label array, into the
 * arena. Returns 0 or -ENOMEM (no sample is added then).
 */
int
batch_add(struct batch *b, const char *name, enum sample_type type, double value, unsigned nlabels,
          ...)
{
    struct label *labels = NULL;
    struct sample *s;
    va_list ap;
    size_t sz;
    unsigned i;

    if (nlabels > 0) {
        if (__builtin_mul_overflow(nlabels, sizeof(*labels), &sz)) {
            return -ENOMEM;
        }
        labels = arena_alloc(&b->arena, sz);
        if (labels == NULL) {
            return -ENOMEM;
        }
        va_start(ap, nlabels);
        for (i = 0; i < nlabels; i++) {
            labels[i].name = va_arg(ap, const char *);
            labels[i].value = va_arg(ap, const char *);
        }
        va_end(ap);
    }

    /* On failure the labels stay in the arena until batch_clear(): harmless. */
    s = batch_push(b);
    if (s == NULL) {
        return -ENOMEM;
    }
    s->name = name;
    s->labels = labels;
    s->nlabels = (uint32_t)nlabels;
    s->type = (uint8_t)type;
    s->value = value;
    return 0;
}

/*
 * Length of the longest prefix of @s (@n bytes) that does not end inside a UTF-8 sequence, so a
 * truncated message does not end with half a character.
 */
static size_t
utf8_trim_partial(const char *s, size_t n)
{
    size_t i = n;
    size_t need;
    unsigned char c;

    /* Walk back over at most 3 continuation bytes to the lead byte of the last sequence. */
    while (i > 0 && n - i < 4) {
        c = (unsigned char)s[i - 1];
        if ((c & 0xC0) != 0x80) {
            break;
        }
        i--;
    }
    if (i == 0) {
        return n;
    }
    c = (unsigned char)s[i - 1];
    if (c < 0x80) {
        return n;
    }
    need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need) {
        return i - 1; /* the last sequence is incomplete: drop it */
    }
    return n;
}

/*
 * Marks the run failed: ok = false, reason = @r, and the printf-formatted message in b->error.
 * A message longer than BATCH_ERROR_MAX - 1 bytes is cut, at a UTF-8 character boundary.
 * Samples already added stay (the job decides what a failed run keeps).
 */
void
batch_fail(struct batch *b, enum reason r, const char *fmt, ...)
{
    va_list ap;
    int n;

    b->ok = false;
    b->reason = r;
    va_start(ap, fmt);
    n = vsnprintf(b->error, sizeof(b->error), fmt, ap);
    va_end(ap);
    if (n < 0) {
        snprintf(b->error, sizeof(b->error), "(unformattable error message)");
    }
    else if ((size_t)n >= sizeof(b->error)) {
        b->error[utf8_trim_partial(b->error, sizeof(b->error) - 1)] = '\0';
    }
}

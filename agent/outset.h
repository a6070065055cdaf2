/*
 * The output set: the outputs the engine writes to, in configuration order, and what a reload
 * does to them. An output is known by its name; a reload keeps, adds, removes or replaces
 * outputs by name. One it removes or replaces stops taking batches and sends what it holds
 * (until done or the drain deadline, then closed: what it could not deliver is dropped, reason
 * "reload"); a spool is handed over by closing the old instance before the new one opens it.
 * The books (pollster_output_*) of a name continue across its instances. On the loop only.
 */
#ifndef POLLSTER_OUTSET_H
#define POLLSTER_OUTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "encoder.h"
#include "log.h"
#include "output.h"
#include "strbuf.h"

struct event;
struct event_base;

/* At most this many outputs: the size of a relay's marks. */
#define ENGINE_MAX_OUTPUTS 16
/* How long a replaced or removed output may take to send what it holds, by default. */
#define OUTSET_DEFAULT_DRAIN_MS 5000

struct engine_output {
    const struct encoder *enc;      /* borrowed */
    struct output out;              /* state owned */
    char name[OUTPUT_NAME_MAX + 1]; /* outputs[].name, default "http[0]" */
    /*
     * The books of the instances a reload replaced under this name (counters only), so that
     * pollster_output_* continue; @handed: samples those left in a spool this one took over,
     * counted again in its recovered (the books subtract them).
     */
    struct output_stats base;
    uint64_t handed;
    uint64_t parked; /* stopped for a hand-off: samples in the spool, pending for no instance */
    struct log_limit complain; /* batches it dropped (engine.c output_result()) */
};

/* An output a reload replaced or removed: it sends what it holds, until done or @deadline. */
struct engine_gone {
    struct engine_output o;
    mono_ms deadline;
};

struct outset {
    struct engine_output outputs[ENGINE_MAX_OUTPUTS];
    size_t noutputs;
    uint64_t out_gen; /* counts changes of the table (a big batch encoded meanwhile) */
    struct engine_gone gone[ENGINE_MAX_OUTPUTS]; /* draining, oldest first */
    size_t ngone;
    struct event *gone_timer; /* owned: checks the draining outputs */
    struct event_base *base;  /* borrowed */
    int64_t drain_ms;         /* how long a draining output may take (the shutdown timeout) */
    bool draining;            /* the process is exiting: drops stay "shutdown" */
};

/* An empty set on @base. */
void outset_init(struct outset *os, struct event_base *base);
/* Frees every output, the draining ones too, without flushing them. */
void outset_release(struct outset *os);

/* Adds an output named @name (NULL: "TYPE[N]"); owns @out->state from now, also on failure. */
int outset_add(struct outset *os, const char *name, const struct encoder *enc,
               const struct output *out);

/* One output of a reload's set (engine_outputs_replace()). */
struct engine_output_spec {
    const char *name;          /* borrowed */
    const struct encoder *enc; /* borrowed */
    struct output out;         /* ops NULL: keep the running output of that name; else owned */
};

/* See engine_outputs_replace(), engine_output_stop() and engine_output_restore() (engine.h). */
void outset_replace(struct outset *os, const struct engine_output_spec *v, size_t n);
int outset_stop(struct outset *os, const char *name, bool handing);
int outset_restore(struct outset *os, const char *name, const struct output *out);

/* Some output, running or draining, has sending left. */
bool outset_busy(const struct outset *os);
/* The exit: the draining outputs are closed now (flushed; the late ones abandoned first). */
void outset_close_gone(struct outset *os);

/* The books of running output @o under its name (its replaced instances included). */
void outset_books(const struct outset *os, const struct engine_output *o, struct output_stats *st);
/* Row @i of the table: the running outputs, then removed ones still draining; NULL past the end. */
const struct engine_output *outset_row(const struct outset *os, size_t i);
/* The books of a row; a draining one has st->draining set. */
void outset_row_books(const struct outset *os, const struct engine_output *o,
                      struct output_stats *st);
/* The pollster_output_* families, one series per row that keeps books. */
void outset_render(struct strbuf *sb, const struct outset *os);

#endif

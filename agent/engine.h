/*
 * The engine: the set of targets and what happens to a run from tick to output. It owns the
 * targets (each with its schedule, its scrape and its batch), adds the synthetic series every
 * run yields (up, scrape_duration_seconds, ...), encodes each finished batch once and hands the
 * bytes to the outputs, records self metrics and logs failures rate-limited per target and cause.
 * It also runs the two top-level modes: once (every target now, concurrently, then stop) and
 * daemon (scheduled, until SIGTERM/SIGINT, then a bounded drain).
 */
#ifndef POLLSTER_ENGINE_H
#define POLLSTER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "job.h"
#include "output.h"
#include "outset.h"
#include "sample.h"
#include "scrape.h"

struct engine;
struct loop;
struct dropped_set;

struct target_spec {
    const char *job;            /* copied */
    const char *url;            /* copied */
    const char *instance;       /* copied; NULL = the URL */
    const struct label *labels; /* copied: target labels for every sample's batch */
    size_t nlabels;
    const struct label *discovered; /* copied: its labels before relabeling (for the API) */
    size_t ndiscovered;
    int64_t interval_ms; /* > 0 in daemon mode */
    int64_t timeout_ms;  /* > 0 and <= interval */
    uint64_t body_limit; /* 0 = none */
    bool fresh_connect;
    struct httpc_opts http;      /* copied: auth, TLS, headers, redirects */
    const char *identity;        /* copied; reload keeps a target whose identity is unchanged */
    const struct job_kind *kind; /* borrowed: static table */
    void *kind_state;            /* ownership passes to the engine, also on failure */
};

/* @l is borrowed. NULL when out of memory. */
struct engine *engine_new(struct loop *l);
void engine_free(struct engine *e);

/*
 * Adds an output named @name (copied; NULL: "TYPE[N]", N counting the outputs of its type added
 * before, as config.h's default); the engine owns @out->state from now on, also on failure.
 * 0 or -ENOMEM.
 */
int engine_add_output(struct engine *e, const char *name, const struct encoder *enc,
                      const struct output *out);

/*
 * A reload's outputs (run.c orders the steps; nothing here fails). An output is known by its
 * name: the books (pollster_output_*) of a name continue across instances.
 */
/*
 * Makes @v (in order) the outputs. A running output not kept stops taking batches, sends what it
 * holds until done or the shutdown timeout, and is then closed (what it could not deliver is
 * dropped, reason "reload", unless it stays in its spool for the same name's new instance).
 */
void engine_outputs_replace(struct engine *e, const struct engine_output_spec *v, size_t n);

/*
 * Closes the running output named @name now, to hand its spool over: its requests in flight are
 * abandoned unacknowledged, its memory queue goes to its spool, and the slot stays, without an
 * instance, until engine_outputs_replace() names it or engine_output_restore(). With @handing,
 * what is left in its spool is the next instance's (same name) to send; otherwise it is counted
 * dropped (reason "reload"). 0, or -ENOENT.
 */
int engine_output_stop(struct engine *e, const char *name, bool handing);

/*
 * A reload was refused after engine_output_stop(): @out (the old settings, opened again; owned)
 * takes the slot back, or with @out NULL the slot goes. 0, or -ENOENT.
 */
int engine_output_restore(struct engine *e, const char *name, const struct output *out);

/* Adds a target. 0, or -EINVAL / -ENOMEM with a message in @err. */
int engine_add_target(struct engine *e, const struct target_spec *spec, char *err, size_t errlen);

/*
 * Runs every target once, concurrently, and returns when all are done: the number of failed
 * runs (>= 0), or a negative errno when the loop itself failed.
 */
int engine_run_once(struct engine *e);

/*
 * Samples the outputs dropped so far, every reason together (a sink's 4xx, a full queue, data
 * still in memory when a --once run ended without a spool, ...).
 */
uint64_t engine_outputs_dropped(const struct engine *e);

/* How long a --once run waits for its outputs to deliver (default 5 s). */
void engine_set_drain_timeout(struct engine *e, int64_t ms);

/*
 * Runs the schedule until SIGTERM or SIGINT, then drains: stops timers, lets in-flight runs
 * finish until @shutdown_timeout_ms, flushes outputs. A second signal stops at once.
 * Returns 0 or a negative errno.
 */
int engine_run(struct engine *e, int64_t shutdown_timeout_ms);

/*
 * The owner's reload: builds the new configuration and applies it between engine_reload_begin()
 * and engine_reload_end() (or _abort()). 0, or a negative errno with the reason in @err.
 */
typedef int engine_reload_fn(void *arg, char *err, size_t errlen);

/* Sets what SIGHUP and engine_reload() run (SIGHUP also reopens output files). */
void engine_set_reload(struct engine *e, engine_reload_fn *fn, void *arg);
/*
 * Called once when SIGTERM/SIGINT starts the drain, before the engine waits for transfers in
 * flight: the owner stops what it runs on the loop besides targets (service discovery), so that
 * the drain waits for nothing it does not need.
 */
typedef void engine_drain_fn(void *arg);
void engine_set_drain_hook(struct engine *e, engine_drain_fn *fn, void *arg);
/* True once SIGTERM/SIGINT started the drain: nothing may add targets any more. */
bool engine_draining(const struct engine *e);
/* Runs the reload function now (POST /-/reload). */
int engine_reload(struct engine *e, char *err, size_t errlen);

/*
 * Atomic reload of the target set. After _begin, engine_add_target() with the identity of an
 * existing target keeps that target (schedule phase, state, in-flight run) and frees the new
 * kind state; any other spec adds a new target. _end removes the targets not re-added (a run in
 * flight finishes first), schedules the new ones and reports the counts; _abort undoes
 * everything since _begin. Matching is by an index of identities: O(targets) per reload. _end
 * returns 0, or -ENOMEM when a new target's timer could not be created (that target is logged
 * and left out, the rest is in force).
 */
void engine_reload_begin(struct engine *e);
int engine_reload_end(struct engine *e, size_t *kept, size_t *added, size_t *removed);
void engine_reload_abort(struct engine *e);

/* Renders self metrics (a status_render_fn). */
void engine_render_metrics(struct strbuf *sb, void *engine);

/* What a target's last finished run says about it. */
enum engine_health {
    ENGINE_HEALTH_UNKNOWN, /* it has not finished a run yet */
    ENGINE_HEALTH_UP,
    ENGINE_HEALTH_DOWN,
};

/* Runs remembered per target for the status page's duration history. */
#define ENGINE_HISTORY 32

/*
 * A read-only view of one target for status pages (/api/v1/targets, the HTML page). Strings and
 * labels are borrowed from the engine: valid until the loop runs again (a reload may free the
 * target), so a renderer reads them within the request it serves.
 */
struct engine_target_info {
    const char *job;            /* borrowed */
    const char *kind;           /* borrowed: the job kind's name ("prometheus", "probe", ...) */
    const char *display_url;    /* borrowed: the URL without userinfo */
    const char *instance;       /* borrowed */
    const struct label *labels; /* borrowed: the target labels, in order */
    size_t nlabels;
    const struct label *discovered; /* borrowed: its labels before relabeling (may be none) */
    size_t ndiscovered;
    int64_t interval_ms;
    int64_t timeout_ms;

    /* The last finished run. */
    enum engine_health health;
    int64_t last_ts_ms;       /* wall-clock start, ms since the epoch; 0 = never ran */
    double last_duration_s;   /* 0 when never ran */
    size_t last_samples;      /* samples it delivered, synthetic series included */
    enum reason last_reason;  /* why it failed; REASON_NONE unless health is DOWN */
    const char *last_error;   /* borrowed: the error text; "" unless it failed */
    const char *last_warning; /* borrowed: the kind's warning (json: absent paths); "" = none */

    /* The schedule. */
    int64_t next_ts_ms;       /* wall-clock time of the next tick; 0 = none (once, draining) */
    bool in_flight;           /* a run is in progress */
    uint64_t skipped_overlap; /* ticks skipped because the previous run was still in flight */
    uint64_t skipped_late;    /* ticks skipped because the loop was late */

    /*
     * Between engine_reload_begin() and _end()/_abort(): the target goes (the new configuration
     * does not have it as it is) or comes (new, or replacing one whose settings changed).
     */
    bool reload_going;
    bool reload_coming;

    /* The last runs, oldest first: duration and whether it succeeded. */
    size_t nhistory;
    double history_s[ENGINE_HISTORY];
    bool history_ok[ENGINE_HISTORY];
};

/*
 * The relay (in_nats.c) hands records it did not collect to the outputs. Every output must take
 * records of @format as they are: its encoder is @format, which frames no document (json, vm),
 * and it does not encode batches itself (remote_write, nats). NULL, or why not (in @buf).
 */
const char *engine_relay_check(const struct engine *e, const char *format, char *buf, size_t len);
/*
 * Writes the record @data (@len bytes, @nsamples samples) to every output and fills @marks with
 * where it stands in each output's books. On the loop.
 */
void engine_relay_write(struct engine *e, const char *data, size_t len, uint32_t nsamples,
                        uint64_t marks[ENGINE_MAX_OUTPUTS]);
/*
 * Whether every output has the records written up to @marks out of its memory: delivered,
 * written to its spool (or to its file), or dropped and counted. Outputs are FIFO, so this holds
 * for every earlier record too.
 */
bool engine_relay_safe(const struct engine *e, const uint64_t marks[ENGINE_MAX_OUTPUTS]);

/*
 * Records a target relabeling dropped, or another agent's (@reason "shard"; NULL: relabeling), for
 * /api/v1/targets' droppedTargets: @job and its discovered @labels are copied. Between
 * engine_reload_begin() and _end the new set is built (_abort restores the old one). 0 or -ENOMEM.
 */
int engine_add_dropped(struct engine *e, const char *job, const struct label *labels, size_t n,
                       const char *reason);
/* The dropped targets of the configuration in force (borrowed until the next reload). */
const struct dropped_set *engine_dropped(const struct engine *e);

/* The number of targets, for engine_target_info(). */
size_t engine_target_count(const struct engine *e);

/*
 * Fills @out with target @i (0 <= @i < engine_target_count(), in configuration order).
 * Returns 0, or -ENOENT when @i is out of range. Reads the clocks for next_ts_ms; changes
 * nothing. Called on the loop thread (the status server's request handlers).
 */
int engine_target_info(const struct engine *e, size_t i, struct engine_target_info *out);

/* The number of outputs, for engine_output_info(). */
size_t engine_output_count(const struct engine *e);

/*
 * Output @i (0 <= @i < engine_output_count(), in configuration order): its name ("http[0]"), its
 * type ("http"), its format ("json") and its books in @st (zeroed; st->type stays NULL when the
 * output keeps none). Returns 0, or -ENOENT when @i is out of range. Changes nothing.
 */
int engine_output_info(const struct engine *e, size_t i, const char **name, const char **type,
                       const char **format, struct output_stats *st);

#endif

/*
 * Targets, runs and their results. A run: the schedule fires, the target's batch is cleared and
 * its scrape started; when the transfer ends the job kind has filled the batch, the engine adds
 * the synthetic series, records the run in the self metrics, logs a failure (rate-limited per
 * target and reason), encodes the batch once per encoder and writes it to every output.
 */
#include "build-config.h"

#include "engine.h"

#include "dropped.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "daemon.h"
#include "fnv.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "sched.h"
#include "stale.h"
#include "httpc.h"
#include "stats.h"
#include "strbuf.h"

/* Idle batches kept for reuse. Only runs in flight hold a batch, so memory follows concurrency,
 * not the number of targets. */
#define ENGINE_BATCH_POOL 32
/* Encoding buffers above this capacity are freed after use rather than kept (issue 13). */
#define ENGINE_ENC_KEEP (1024 * 1024)
/* A run that held more than this much memory asks the allocator to give free pages back. */
#define ENGINE_GIVE_BACK_AT (4 * 1024 * 1024)
/* A batch of at least this many samples is encoded on the worker thread, off the loop. */
#define ENGINE_OFFLOAD_MIN 20000
/* How long a --once run waits for its outputs to deliver when no shutdown_timeout is set. */
#define ENGINE_DEFAULT_DRAIN_MS 5000
/* How often a drain in progress is checked again (outputs that end their sending without a
 * transfer). */
#define ENGINE_DRAIN_POLL_MS 20

struct target {
    struct engine *engine; /* borrowed */
    char *job;             /* owned */
    char *url;             /* owned */
    char *instance;        /* owned */
    char *display_url;     /* owned: url without userinfo, for output, logs and the API */
    struct label *labels;  /* owned, strings too */
    size_t nlabels;
    struct label *discovered; /* owned: one block (label_block_dup) */
    size_t ndiscovered;
    int64_t interval_ms;
    int64_t timeout_ms;
    struct httpc_opts http;      /* owned */
    char *identity;              /* owned; NULL when not given */
    const struct job_kind *kind; /* borrowed */
    void *kind_state;            /* owned */
    struct scrape *scrape;       /* owned */
    struct batch *batch;         /* owned while a run is in flight; from the engine's pool */
    struct sched_entry sched;    /* owned timer */
    struct log_limit limit;
    struct stats_job *stats;     /* borrowed: registry */
    char prefix[160];            /* "job/instance" for log lines */
    struct stale_series *series; /* owned; NULL unless an output sends staleness markers */

    bool stale;   /* reload: not (yet) found in the new config */
    bool fresh;   /* reload: added by the reload in progress */
    bool retired; /* removed by a reload while its run was in flight: freed when it ends */

    /* The last finished run, for /api/v1/targets. */
    int64_t last_ts_ms; /* 0 = never ran */
    double last_duration_s;
    bool last_ok;
    enum reason last_reason;
    size_t last_samples;
    char *last_error;   /* owned; NULL: none (most targets: no 2 x 256 bytes each) */
    char *last_warning; /* owned; NULL: none */
    /* A ring of the last runs for the status page (hist_pos: the next slot). */
    double hist_s[ENGINE_HISTORY];
    bool hist_ok[ENGINE_HISTORY];
    size_t hist_n, hist_pos;
};

struct engine {
    struct loop *loop;       /* borrowed */
    struct target **targets; /* owned: the array and the targets */
    size_t ntargets;
    size_t targets_cap; /* grows by doubling: adding N targets costs O(N) */
    /*
     * During a reload: the stale targets by identity (open addressing, linear probing, a power
     * of two slots), so matching N new targets to N old ones is O(N), not O(N^2). NULL: none
     * could be allocated, find_stale() scans.
     */
    struct target **stale_slot;
    size_t stale_mask;
    struct outset outs; /* the outputs (outset.h) */
    bool want_stale;    /* an output sends staleness markers: targets remember their series */
    struct strbuf enc;  /* owned: reused encoding buffer (a record) */
    struct strbuf doc;  /* owned: a record framed as a document */
    struct batch *pool[ENGINE_BATCH_POOL]; /* owned: idle batches */
    struct offload *offload; /* owned: encodes big batches off the loop; NULL = on the loop */
    size_t npool;

    /* once mode */
    bool once;
    size_t pending;
    int failed;

    /* daemon mode */
    bool running;            /* engine_run's timers are set: new targets get theirs at once */
    mono_ms start;           /* anchor of every schedule: a target keeps its phase across reloads */
    bool reloading;          /* between engine_reload_begin and _end/_abort */
    struct target **retired; /* removed by a reload, run still in flight */
    size_t nretired;
    engine_reload_fn *reload_fn;
    void *reload_arg;
    struct dropped_set dropped;     /* of the configuration in force */
    struct dropped_set dropped_old; /* during a reload: what _abort restores */
    engine_drain_fn *drain_fn;      /* told when the drain starts (run.c stops discovery) */
    void *drain_arg;
    bool draining;
    struct event *sig_int;     /* owned */
    struct event *sig_term;    /* owned */
    struct event *sig_hup;     /* owned */
    struct event *drain_timer; /* owned */
    /* owned: re-checks a drain every ENGINE_DRAIN_POLL_MS (an output may finish without a transfer)
     */
    struct event *drain_poll;
    struct event *watchdog; /* owned: systemd WATCHDOG=1 pings, when asked for */
    int64_t shutdown_timeout_ms;
};

static void after_done_cb(void *arg);

static void
target_free(struct target *t)
{
    if (t == NULL) {
        return;
    }
    sched_stop(&t->sched);
    scrape_free(t->scrape);
    if (t->kind != NULL && t->kind->free != NULL) {
        t->kind->free(t->kind_state);
    }
    if (t->batch != NULL) {
        batch_release(t->batch);
        free(t->batch);
    }
    for (size_t i = 0; i < t->nlabels; i++) {
        free((char *)t->labels[i].name);
        free((char *)t->labels[i].value);
    }
    free(t->labels);
    free(t->discovered);
    httpc_opts_release(&t->http);
    free(t->identity);
    free(t->job);
    free(t->url);
    free(t->instance);
    free(t->display_url);
    free(t->last_error);
    free(t->last_warning);
    stale_series_free(t->series);
    free(t);
}

struct engine *
engine_new(struct loop *l)
{
    struct engine *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        return NULL;
    }
    e->loop = l;
    loop_set_after_done(l, after_done_cb, e);
    strbuf_init(&e->enc);
    strbuf_init(&e->doc);
    mem_policy_init();
    outset_init(&e->outs, loop_base(l));
    e->offload = offload_new(loop_base(l)); /* NULL: big batches are encoded on the loop */
    return e;
}

void
engine_free(struct engine *e)
{
    if (e == NULL) {
        return;
    }
    offload_free(e->offload); /* its last runs finish while targets and outputs still exist */
    e->offload = NULL;
    for (size_t i = 0; i < e->ntargets; i++) {
        target_free(e->targets[i]);
    }
    free(e->targets);
    free(e->stale_slot);
    for (size_t i = 0; i < e->nretired; i++) {
        target_free(e->retired[i]);
    }
    free(e->retired);
    dropped_set_clear(&e->dropped);
    dropped_set_clear(&e->dropped_old);
    outset_release(&e->outs);
    if (e->sig_int != NULL) {
        event_free(e->sig_int);
    }
    if (e->sig_term != NULL) {
        event_free(e->sig_term);
    }
    if (e->sig_hup != NULL) {
        event_free(e->sig_hup);
    }
    if (e->drain_poll != NULL) {
        event_free(e->drain_poll);
    }
    if (e->drain_timer != NULL) {
        event_free(e->drain_timer);
    }
    if (e->watchdog != NULL) {
        event_free(e->watchdog);
    }
    for (size_t i = 0; i < e->npool; i++) {
        batch_release(e->pool[i]);
        free(e->pool[i]);
    }
    strbuf_release(&e->enc);
    strbuf_release(&e->doc);
    free(e);
}

/* A cleared batch for a run of @t, from the pool or new. NULL when out of memory. */
static struct batch *
batch_take(struct engine *e, struct target *t)
{
    struct batch *b;

    if (e->npool > 0) {
        b = e->pool[--e->npool];
    }
    else {
        b = malloc(sizeof(*b));
        if (b == NULL) {
            return NULL;
        }
        batch_init(b);
    }
    b->job = t->job;
    b->instance = t->instance;
    b->url = t->display_url;
    b->target_labels = t->labels;
    b->ntarget_labels = (uint32_t)t->nlabels;
    return b;
}

static void
batch_give_back(struct engine *e, struct batch *b)
{
    batch_clear(b);
    if (e->npool < ENGINE_BATCH_POOL) {
        e->pool[e->npool++] = b;
    }
    else {
        batch_release(b);
        free(b);
    }
}

int
engine_add_output(struct engine *e, const char *name, const struct encoder *enc,
                  const struct output *out)
{
    bool stale = out->ops->stale_markers;

    if (outset_add(&e->outs, name, enc, out) != 0) {
        return -ENOMEM;
    }
    e->want_stale = e->want_stale || stale;
    return 0;
}

void
engine_outputs_replace(struct engine *e, const struct engine_output_spec *v, size_t n)
{
    outset_replace(&e->outs, v, n);
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        e->want_stale = e->want_stale || e->outs.outputs[i].out.ops->stale_markers;
    }
    /* An output that sends staleness markers came: the targets remember their series now. */
    for (size_t i = 0; i < e->ntargets && e->want_stale; i++) {
        struct target *t = e->targets[i];
        if (t->series == NULL && (t->series = stale_series_new()) == NULL) {
            log_err("engine: %s: out of memory: no staleness markers for it", t->prefix);
        }
    }
}

int
engine_output_stop(struct engine *e, const char *name, bool handing)
{
    return outset_stop(&e->outs, name, handing);
}

int
engine_output_restore(struct engine *e, const char *name, const struct output *out)
{
    return outset_restore(&e->outs, name, out);
}

/* The synthetic series every run yields, as Prometheus adds them to every scrape. */
static void
add_synthetic(struct target *t, struct batch *b)
{
    double scraped = b->samples_scraped >= 0 ? (double)b->samples_scraped : (double)b->nsamples;
    int64_t post = b->samples_post_relabel;

    batch_add(b, "up", SAMPLE_GAUGE, b->ok ? 1 : 0, 0);
    batch_add(b, "scrape_duration_seconds", SAMPLE_GAUGE, b->duration_s, 0);
    batch_add(b, "scrape_samples_scraped", SAMPLE_GAUGE, scraped, 0);
    if (post >= 0) {
        batch_add(b, "scrape_samples_post_metric_relabeling", SAMPLE_GAUGE, (double)post, 0);
    }
    batch_add(b, "scrape_timeout_seconds", SAMPLE_GAUGE, (double)t->timeout_ms / 1000.0, 0);
}

/* malloc_trim walks the whole heap (milliseconds after a big run): the worker does it. */
static void
give_back_work(void *arg)
{
    (void)arg;
    mem_give_back();
}

static void engine_check_drained(struct engine *e);

/* A drain (shutdown, the end of --once) that waited for it may be complete now. */
static void
give_back_done(void *arg)
{
    engine_check_drained(arg);
}

/*
 * Memory that a big run needed is not kept at its high-water mark: encoding buffers above
 * ENGINE_ENC_KEEP are freed, and when the run held more than ENGINE_GIVE_BACK_AT (its batch
 * footprint @held plus the buffers) the allocator returns free pages to the system (on the
 * worker thread when there is one: malloc_trim is thread-safe).
 */
static void
engine_shed_memory(struct engine *e, size_t held)
{
    held += e->enc.cap + e->doc.cap;
    if (e->enc.cap > ENGINE_ENC_KEEP) {
        strbuf_release(&e->enc);
    }
    if (e->doc.cap > ENGINE_ENC_KEEP) {
        strbuf_release(&e->doc);
    }
    if (held > ENGINE_GIVE_BACK_AT &&
        (e->offload == NULL ||
         offload_submit(e->offload, give_back_work, give_back_done, e) != 0)) {
        mem_give_back();
    }
}

/*
 * What handing @nsamples samples (from @from, "job/instance") to output @o came to, by the
 * contract of output.h: 0 or -EAGAIN, taken; any other error, the output dropped them and counted
 * them under a reason. Either way the engine carries on; a failure is logged once per episode
 * of failures of that output (log_complain), with summaries, and its end once.
 */
static void
output_result(struct engine_output *o, int rc, uint64_t nsamples, const char *job,
              const char *instance)
{
    char prefix[OUTPUT_NAME_MAX + 8];
    bool taken = rc == 0 || rc == -EAGAIN;

    if (taken && o->complain.cause == 0) {
        return; /* the usual case, per batch and output: nothing to format, no clock to read */
    }
    snprintf(prefix, sizeof(prefix), "output %s", o->name);
    if (taken) {
        log_release(&o->complain, clock_mono_ms(), prefix);
        return;
    }
    log_complain(&o->complain, clock_mono_ms(), -rc, prefix,
                 "dropped a batch of %" PRIu64 " samples from %s/%s: %s (counted in "
                 "pollster_output_dropped_samples_total)",
                 nsamples, job, instance, strerror(-rc));
}

/*
 * A batch the engine could not encode for output @o (out of memory): it never reached the
 * output, so the engine counts it in the books of its name (o->base, which outset_books() adds
 * and a replacement carries on) as collected and dropped{reason="out_of_memory"}, and logs it
 * like a failed write.
 */
static void
output_lost(struct engine_output *o, const struct batch *b)
{
    o->base.collected += b->nsamples;
    o->base.dropped[OUTPUT_DROP_NO_MEMORY] += b->nsamples;
    output_result(o, -ENOMEM, b->nsamples, b->job, b->instance);
}

static void
emit(struct engine *e, const struct batch *b)
{
    const struct encoder *last = NULL;
    bool last_text = false;
    bool have_doc = false;

    for (size_t i = 0; i < e->outs.noutputs; i++) {
        struct engine_output *o = &e->outs.outputs[i];
        if (o->out.ops->write_batch != NULL) {
            output_result(o, o->out.ops->write_batch(o->out.state, b), b->nsamples, b->job,
                          b->instance);
            continue;
        }
        if (b->nsamples == 0 && b->nstale > 0) {
            continue; /* only staleness markers: not for this output */
        }
        /* A binary format is printed as text by outputs that write documents (stdout, file). */
        bool text = !o->out.ops->records && o->enc->encode_text != NULL;
        /* Encode once per distinct encoder: outputs sharing the previous encoder reuse it. */
        if (o->enc != last || text != last_text) {
            last = NULL;
            have_doc = false;
            strbuf_reset(&e->enc);
            if ((text ? o->enc->encode_text : o->enc->encode)(&e->enc, b) != 0 || e->enc.oom) {
                output_lost(o, b);
                continue;
            }
            last = o->enc;
            last_text = text;
        }
        const char *data = e->enc.data;
        size_t len = e->enc.len;
        bool framed = o->enc->doc_open[0] != '\0' || o->enc->doc_close[0] != '\0';
        if (!o->out.ops->records && framed) {
            if (!have_doc) {
                strbuf_reset(&e->doc);
                encoder_document(o->enc, &e->doc, e->enc.data, e->enc.len);
                have_doc = !e->doc.oom;
            }
            if (!have_doc) {
                output_lost(o, b);
                continue;
            }
            data = e->doc.data;
            len = e->doc.len;
        }
        output_result(o, o->out.ops->write(o->out.state, data, len, (uint32_t)b->nsamples),
                      b->nsamples, b->job, b->instance);
    }
}

/* The target goes away: its series get staleness markers, for the outputs that send them. */
static void
target_end_series(struct engine *e, struct target *t)
{
    if (t->series == NULL || stale_series_count(t->series) == 0) {
        return;
    }
    struct batch *b = batch_take(e, t);
    if (b == NULL) {
        log_err("engine: %s: out of memory: no staleness markers for a removed target", t->prefix);
        return;
    }
    b->ts_ms = clock_wall_ms();
    b->ok = true;
    if (stale_series_end(t->series, b, b->ts_ms) != 0) {
        log_err("engine: %s: out of memory: some staleness markers are missing", t->prefix);
    }
    emit(e, b);
    batch_give_back(e, b);
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* Outputs with sending left, or batches still being encoded for them. */
static bool
outputs_busy(const struct engine *e)
{
    if (offload_pending(e->offload) > 0) {
        return true;
    }
    return outset_busy(&e->outs);
}

/* Tells every output to send what it holds now: the runs are over (shutdown or once). */
static void
outputs_drain(struct engine *e)
{
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        const struct output *o = &e->outs.outputs[i].out;
        if (o->ops->drain != NULL) {
            o->ops->drain(o->state);
        }
    }
}

static void
arm_drain_timer(struct engine *e)
{
    int64_t ms = e->shutdown_timeout_ms > 0 ? e->shutdown_timeout_ms : ENGINE_DEFAULT_DRAIN_MS;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    if (e->drain_timer == NULL) {
        e->drain_timer = evtimer_new(loop_base(e->loop), drain_timeout_cb, e);
    }
    if (e->drain_timer == NULL || evtimer_add(e->drain_timer, &tv) != 0) {
        log_err("engine: cannot arm the drain deadline; stopping now");
        loop_stop(e->loop);
    }
}

/*
 * Stops the loop once a drain is complete: no transfer in flight (runs and output requests)
 * and no output with sending left. In once mode the drain begins when the last run ended.
 */
static void
drain_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    engine_check_drained(arg);
}

static void
engine_check_drained(struct engine *e)
{
    if (e->once && e->pending == 0 && !e->draining) {
        e->draining = true;
        e->outs.draining = true;
        outputs_drain(e);
        if (loop_in_flight(e->loop) > 0 || outputs_busy(e)) {
            arm_drain_timer(e);
        }
    }
    if (e->draining && loop_in_flight(e->loop) == 0 && !outputs_busy(e)) {
        if (!e->once) {
            log_info("engine: drained, stopping");
        }
        loop_stop(e->loop);
    }
    else if (e->draining) {
        /*
         * Transfers that end call back here; an output that finishes its sending otherwise (stdout
         * or a file taking the last queued record on EV_WRITE) does not: look again shortly
         * rather than wait for the drain deadline.
         */
        struct timeval tv = {.tv_sec = 0, .tv_usec = ENGINE_DRAIN_POLL_MS * 1000};
        if (e->drain_poll == NULL) {
            e->drain_poll = evtimer_new(loop_base(e->loop), drain_poll_cb, e);
        }
        if (e->drain_poll != NULL && !evtimer_pending(e->drain_poll, NULL)) {
            evtimer_add(e->drain_poll, &tv);
        }
    }
}

static void
after_done_cb(void *arg)
{
    engine_check_drained(arg);
}

static void
retired_remove(struct engine *e, struct target *t)
{
    for (size_t i = 0; i < e->nretired; i++) {
        if (e->retired[i] == t) {
            e->retired[i] = e->retired[--e->nretired];
            return;
        }
    }
}

static void run_end(struct target *t, struct batch *b);

/*
 * A big batch, encoded off the loop (issue 13 item 2): the worker encodes (and frames) it once
 * per distinct way the outputs need it, into buffers of its own; the loop then hands the bytes
 * to the outputs, in output order, as emit() would have. The batch, its target (kept as in
 * flight, so a reload retires rather than frees it) and the outputs do not change meanwhile.
 */
struct emit_job {
    struct engine *e;
    struct target *t;
    struct batch *b;
    /* The output table when the job was submitted: the worker reads only this copy. */
    const struct output_ops *ops[ENGINE_MAX_OUTPUTS]; /* borrowed: static tables */
    const struct encoder *enc[ENGINE_MAX_OUTPUTS];    /* borrowed */
    size_t n;
    uint64_t gen; /* e->outs.out_gen then: a reload since makes emit() redo it */
    struct strbuf buf[ENGINE_MAX_OUTPUTS]; /* owned: what output i (or one like it) writes */
    int use[ENGINE_MAX_OUTPUTS];           /* buf index output i writes; -1 none; -2 oom */
};

/* How an output (@ops, @enc) wants @b: 0 skip, else 1 + (text) + 2 * (framed document). */
static int
emit_shape(const struct output_ops *ops, const struct encoder *enc, const struct batch *b)
{
    if (ops->write_batch != NULL || (b->nsamples == 0 && b->nstale > 0)) {
        return 0;
    }
    bool text = !ops->records && enc->encode_text != NULL;
    bool framed = enc->doc_open[0] != '\0' || enc->doc_close[0] != '\0';
    return 1 + (text ? 1 : 0) + (!ops->records && framed ? 2 : 0);
}

/* On the worker: encodes for every output (only reads the batch and the job's output table). */
static void
emit_job_work(void *arg)
{
    struct emit_job *j = arg;

    for (size_t i = 0; i < j->n; i++) {
        const struct encoder *enc = j->enc[i];
        int shape = emit_shape(j->ops[i], enc, j->b);
        j->use[i] = -1;
        for (size_t k = 0; shape != 0 && k < i && j->use[i] == -1; k++) {
            if (j->enc[k] == enc && emit_shape(j->ops[k], j->enc[k], j->b) == shape) {
                j->use[i] = j->use[k];
            }
        }
        if (shape == 0 || j->use[i] != -1) {
            continue;
        }
        struct strbuf *sb = &j->buf[i];
        int rc = ((shape - 1) & 1 ? enc->encode_text : enc->encode)(sb, j->b);
        if (rc == 0 && !sb->oom && (shape - 1) & 2) {
            struct strbuf doc;
            strbuf_init(&doc);
            encoder_document(enc, &doc, sb->data, sb->len);
            strbuf_release(sb);
            *sb = doc;
        }
        j->use[i] = rc == 0 && !sb->oom ? (int)i : -2;
    }
}

/* On the loop: the outputs get the bytes, then the run ends. */
static void
emit_job_done(void *arg)
{
    struct emit_job *j = arg;
    struct engine *e = j->e;
    const struct batch *b = j->b;

    for (size_t i = 0; i < e->outs.noutputs && e->outs.out_gen == j->gen; i++) {
        struct engine_output *o = &e->outs.outputs[i];
        if (o->out.ops->write_batch != NULL) {
            output_result(o, o->out.ops->write_batch(o->out.state, b), b->nsamples, b->job,
                          b->instance);
        }
        else if (j->use[i] >= 0) {
            const struct strbuf *sb = &j->buf[j->use[i]];
            output_result(o,
                          o->out.ops->write(o->out.state, sb->data, sb->len, (uint32_t)b->nsamples),
                          b->nsamples, b->job, b->instance);
        }
        else if (j->use[i] == -2) {
            output_lost(o, b);
        }
    }
    if (e->outs.out_gen != j->gen) {
        emit(e, b); /* a reload changed the outputs meanwhile: encoded again, on the loop */
    }
    for (size_t i = 0; i < j->n; i++) {
        strbuf_release(&j->buf[i]);
    }
    j->t->sched.in_flight = false;
    run_end(j->t, j->b);
    free(j);
}

/* Hands a big batch to the worker; false when it is small or cannot be (emit() it then). */
static bool
emit_offload(struct engine *e, struct target *t, struct batch *b)
{
    struct emit_job *j;

    if (e->offload == NULL || b->nsamples < ENGINE_OFFLOAD_MIN ||
        (j = calloc(1, sizeof(*j))) == NULL) {
        return false;
    }
    j->e = e;
    j->t = t;
    j->b = b;
    j->n = e->outs.noutputs;
    j->gen = e->outs.out_gen;
    for (size_t i = 0; i < ENGINE_MAX_OUTPUTS; i++) {
        strbuf_init(&j->buf[i]);
        j->ops[i] = i < j->n ? e->outs.outputs[i].out.ops : NULL;
        j->enc[i] = i < j->n ? e->outs.outputs[i].enc : NULL;
    }
    if (offload_submit(e->offload, emit_job_work, emit_job_done, j) != 0) {
        free(j);
        return false;
    }
    t->sched.in_flight = true; /* the run is not over until the outputs have it */
    return true;
}

/*
 * Keeps a copy of @text in *@slot (NULL for ""; also out of memory: the text is only shown by
 * the status page and the API, never needed for collection).
 */
static void
keep_text(char **slot, const char *text)
{
    if (*slot != NULL && strcmp(*slot, text) == 0) {
        return;
    }
    free(*slot);
    *slot = text[0] != '\0' ? strdup(text) : NULL;
}

/* Everything that happens to a finished run, whether it ended in a transfer or not. */
static void
run_finished(struct target *t, struct batch *b)
{
    struct engine *e = t->engine;

    t->sched.in_flight = false;
    t->last_ts_ms = b->ts_ms;
    t->last_duration_s = b->duration_s;
    t->last_ok = b->ok;
    t->last_reason = b->reason;
    t->last_samples = b->nforwarded + b->nsamples;
    keep_text(&t->last_error, b->error);
    keep_text(&t->last_warning, b->warning);
    t->hist_s[t->hist_pos] = b->duration_s;
    t->hist_ok[t->hist_pos] = b->ok;
    t->hist_pos = (t->hist_pos + 1) % ENGINE_HISTORY;
    t->hist_n += t->hist_n < ENGINE_HISTORY;
    add_synthetic(t, b);
    if (t->series != NULL && stale_series_track(t->series, b) != 0) {
        log_err("engine: %s: out of memory: staleness markers of this run may be missing",
                t->prefix);
    }
    stats_record_run(t->stats, b);
    log_debug("engine: %s: run %s in %.3gms: HTTP %d, %zu samples%s%s%s%s", t->prefix,
              b->ok ? "ok" : "failed", b->duration_s * 1000, b->http_status,
              b->nforwarded + b->nsamples,
              b->ok ? "" : ", reason=", b->ok ? "" : reason_name(b->reason),
              b->ok ? "" : ", error: ", b->ok ? "" : b->error);
    if (!b->ok) {
        log_complain(&t->limit, clock_mono_ms(), (int)b->reason, t->prefix,
                     "run failed: %s reason=%s", b->error, reason_name(b->reason));
        e->failed++;
    }
    else {
        log_release(&t->limit, clock_mono_ms(), t->prefix);
    }
    if (emit_offload(e, t, b)) {
        return; /* run_end() follows when the worker has encoded it */
    }
    emit(e, b);
    run_end(t, b);
}

/* After the outputs had the batch: it goes back, and the target may go too. */
static void
run_end(struct target *t, struct batch *b)
{
    struct engine *e = t->engine;
    /* A run in parts held its body and windows meanwhile: about a sample array's worth. */
    size_t held = batch_footprint(b) + b->nforwarded * sizeof(struct sample);

    batch_give_back(e, b);
    engine_shed_memory(e, held);
    t->batch = NULL;
    if (t->retired) {
        retired_remove(e, t);
        target_end_series(e, t);
        target_free(t);
    }
    if (e->once && e->pending > 0) {
        e->pending--;
    }
    engine_check_drained(e);
}

static void
scrape_done_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct target *t = arg;

    if (t->stats != NULL) {
        t->stats->connections += scrape_take_connects(s);
    }
    run_finished(t, b);
}

/*
 * A part of a big run (sample.h, parts_ok): the outputs have it now, on the loop (a part is a
 * bounded number of samples); the run's figures, synthetic samples and books come at its end.
 */
static void
scrape_part_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct target *t = arg;

    (void)s;
    if (t->series != NULL && stale_series_part(t->series, b) != 0) {
        log_err("engine: %s: out of memory: staleness markers of this run may be missing",
                t->prefix);
    }
    emit(t->engine, b);
}

static void
target_run(struct target *t)
{
    struct engine *e = t->engine;

    t->batch = batch_take(e, t);
    if (t->batch == NULL) {
        log_err("engine: %s: out of memory, run skipped", t->prefix);
        if (e->once && e->pending > 0) {
            e->pending--;
            e->failed++;
            engine_check_drained(e);
        }
        return;
    }
    t->sched.in_flight = true;
    t->batch->parts_ok = true;
    if (scrape_start(t->scrape, t->batch) != 0) {
        /* Not started: the batch says why; finish it here so it is counted and emitted. */
        run_finished(t, t->batch);
    }
}

static void
sched_fire_cb(struct sched_entry *se, void *arg)
{
    struct target *t = arg;

    stats_record_lag(t->stats, (double)se->last_lag / 1000.0);
    target_run(t);
}

static void
sched_skip_cb(struct sched_entry *se, uint64_t n, bool overlap, void *arg)
{
    struct target *t = arg;

    if (overlap) {
        if (t->stats != NULL) {
            t->stats->skipped_overlap += n;
        }
        log_debug("engine: %s: previous run still in flight, tick skipped", t->prefix);
    }
    else {
        if (t->stats != NULL) {
            t->stats->skipped_late += n;
        }
        log_warn("engine: %s: loop late, %llu tick(s) skipped", t->prefix, (unsigned long long)n);
    }
}

static int
target_schedule(struct engine *e, struct target *t)
{
    sched_init(&t->sched, e->start, t->interval_ms, t->job, t->url, sched_fire_cb, t);
    t->sched.skip = sched_skip_cb;
    if (sched_start(&t->sched, loop_base(e->loop)) != 0) {
        log_err("engine: %s: cannot create its timer", t->prefix);
        return -ENOMEM;
    }
    return 0;
}

/* At reload begin: indexes the (now all stale) targets that have an identity. */
static void
stale_index_build(struct engine *e)
{
    size_t n = 16;

    free(e->stale_slot);
    e->stale_slot = NULL;
    while (n < 2 * e->ntargets) {
        n *= 2;
    }
    e->stale_slot = calloc(n, sizeof(*e->stale_slot));
    if (e->stale_slot == NULL) {
        log_warn("engine: out of memory indexing %zu targets; the reload matches them slowly",
                 e->ntargets);
        return;
    }
    e->stale_mask = n - 1;
    for (size_t i = 0; i < e->ntargets; i++) {
        struct target *t = e->targets[i];
        if (t->identity == NULL) {
            continue;
        }
        size_t k = (size_t)fnv64_str(FNV64_INIT, t->identity) & e->stale_mask;
        while (e->stale_slot[k] != NULL) {
            k = (k + 1) & e->stale_mask;
        }
        e->stale_slot[k] = t;
    }
}

static void
stale_index_free(struct engine *e)
{
    free(e->stale_slot);
    e->stale_slot = NULL;
}

/*
 * During a reload: a stale target with this identity, or NULL. Targets of equal identity (the
 * same target listed twice) are matched one each, in order.
 */
static struct target *
find_stale(struct engine *e, const char *identity)
{
    if (identity == NULL) {
        return NULL;
    }
    if (e->stale_slot != NULL) {
        for (size_t k = (size_t)fnv64_str(FNV64_INIT, identity) & e->stale_mask;
             e->stale_slot[k] != NULL; k = (k + 1) & e->stale_mask) {
            struct target *t = e->stale_slot[k];
            if (t->stale && strcmp(t->identity, identity) == 0) {
                return t;
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < e->ntargets; i++) {
        struct target *t = e->targets[i];
        if (t->stale && t->identity != NULL && strcmp(t->identity, identity) == 0) {
            return t;
        }
    }
    return NULL;
}

static char *
dup_or_null(const char *s, bool *oom)
{
    char *d;

    if (s == NULL) {
        return NULL;
    }
    d = strdup(s);
    if (d == NULL) {
        *oom = true;
    }
    return d;
}

int
engine_add_target(struct engine *e, const struct target_spec *spec, char *err, size_t errlen)
{
    struct target *t = NULL;
    struct target **grown;
    char *shown = NULL;
    bool oom = false;
    int rc = -ENOMEM;

    if (e->reloading) {
        struct target *same = find_stale(e, spec->identity);
        if (same != NULL) {
            /* Unchanged: keep the running target, its schedule and its state. */
            same->stale = false;
            if (spec->kind->free != NULL) {
                spec->kind->free(spec->kind_state);
            }
            return 0;
        }
    }
    /* Every message and output shows the URL without its userinfo. */
    shown = httpc_redact_url_dup(spec->url);
    if (shown == NULL) {
        snprintf(err, errlen, "out of memory");
        goto invalid_rc;
    }
    if (spec->timeout_ms <= 0) {
        snprintf(err, errlen, "%s: timeout must be positive", shown);
        goto invalid;
    }
    if (spec->interval_ms > 0 && spec->timeout_ms > spec->interval_ms) {
        snprintf(err, errlen, "%s: timeout (%lld ms) must not exceed the interval (%lld ms)", shown,
                 (long long)spec->timeout_ms, (long long)spec->interval_ms);
        goto invalid;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto invalid_rc;
    }
    t->kind = spec->kind;
    t->kind_state = spec->kind_state;
    t->engine = e;
    t->job = dup_or_null(spec->job, &oom);
    t->url = dup_or_null(spec->url, &oom);
    t->display_url = shown;
    shown = NULL;
    if (spec->instance == NULL) {
        t->instance = dup_or_null(t->display_url, &oom);
    }
    else if (strcmp(t->display_url, spec->url) != 0) {
        /* The URL has userinfo: an instance derived from it ("u:pw@host:1") must not show it. */
        t->instance = httpc_redact_url_dup(spec->instance);
        oom = oom || t->instance == NULL;
    }
    else {
        t->instance = dup_or_null(spec->instance, &oom);
    }
    t->interval_ms = spec->interval_ms;
    t->timeout_ms = spec->timeout_ms;
    t->identity = dup_or_null(spec->identity, &oom);
    if (httpc_opts_copy(&t->http, &spec->http) != 0) {
        oom = true;
    }
    if (spec->nlabels > 0) {
        t->labels = calloc(spec->nlabels, sizeof(*t->labels));
        if (t->labels == NULL) {
            goto oom;
        }
        for (size_t i = 0; i < spec->nlabels; i++) {
            t->labels[i].name = dup_or_null(spec->labels[i].name, &oom);
            t->labels[i].value = dup_or_null(spec->labels[i].value, &oom);
            t->nlabels++;
        }
    }
    if (spec->ndiscovered > 0) {
        t->discovered = label_block_dup(spec->discovered, spec->ndiscovered, NULL, NULL);
        t->ndiscovered = spec->ndiscovered;
        oom = oom || t->discovered == NULL;
    }
    if (e->want_stale) {
        t->series = stale_series_new();
        oom = oom || t->series == NULL;
    }
    if (oom || t->job == NULL || t->url == NULL) {
        goto oom;
    }
    snprintf(t->prefix, sizeof(t->prefix), "%s/%s", t->job, t->instance);
    t->stats = stats_job_get(t->job);

    struct scrape_opts so = {
        .url = t->url,
        .timeout_ms = spec->timeout_ms,
        .body_limit = spec->body_limit,
        .fresh_connect = spec->fresh_connect,
        .http = &t->http,
    };
    t->scrape = scrape_new(e->loop, &so, t->kind, t->kind_state, scrape_done_cb, t);
    if (t->scrape == NULL) {
        snprintf(err, errlen, "%s: cannot set up the transfer (see log)", t->display_url);
        target_free(t);
        return -EINVAL;
    }
    scrape_set_part(t->scrape, scrape_part_cb);
    if (e->ntargets == e->targets_cap) {
        size_t cap = e->targets_cap > 0 ? 2 * e->targets_cap : 16;
        grown = realloc(e->targets, cap * sizeof(*e->targets));
        if (grown == NULL) {
            goto oom;
        }
        e->targets = grown;
        e->targets_cap = cap;
    }
    e->targets[e->ntargets++] = t;
    t->fresh = e->reloading;
    if (e->running && !e->reloading && target_schedule(e, t) != 0) {
        /* Not kept half-added: a target without its timer would never run. */
        snprintf(err, errlen, "%s: cannot create its timer", t->display_url);
        e->ntargets--;
        target_free(t);
        return -ENOMEM;
    }
    return 0;
oom:
    target_free(t);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
invalid:
    rc = -EINVAL;
invalid_rc:
    free(shown);
    if (spec->kind->free != NULL) {
        spec->kind->free(spec->kind_state);
    }
    return rc;
}

uint64_t
engine_outputs_dropped(const struct engine *e)
{
    uint64_t n = 0;

    for (size_t i = 0; i < e->outs.noutputs; i++) {
        struct output_stats st;
        outset_books(&e->outs, &e->outs.outputs[i], &st);
        for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
            n += st.dropped[d];
        }
    }
    return n;
}

void
engine_set_drain_timeout(struct engine *e, int64_t ms)
{
    e->shutdown_timeout_ms = ms;
    e->outs.drain_ms = ms > 0 ? ms : ENGINE_DEFAULT_DRAIN_MS;
}

int
engine_run_once(struct engine *e)
{
    e->once = true;
    e->failed = 0;
    e->pending = e->ntargets;
    /* Start every target before the loop runs: they proceed concurrently. */
    for (size_t i = 0; i < e->ntargets; i++) {
        target_run(e->targets[i]);
    }
    /* Runs that all ended at once (no transfer) may still have left outputs sending. */
    bool more = e->pending > 0 || loop_in_flight(e->loop) > 0 || outputs_busy(e);
    if (more && loop_run(e->loop) != 0) {
        return -EIO;
    }
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        if (e->outs.outputs[i].out.ops->flush != NULL) {
            e->outs.outputs[i].out.ops->flush(e->outs.outputs[i].out.state);
        }
    }
    return e->failed;
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;

    log_warn("engine: %s timeout reached with %u transfer(s) in flight%s; abandoning them",
             e->once ? "output flush" : "shutdown", loop_in_flight(e->loop),
             outputs_busy(e) ? " and outputs not flushed" : "");
    for (size_t i = 0; i < e->outs.noutputs && !e->once; i++) {
        const struct output *o = &e->outs.outputs[i].out;
        if (o->ops->abandon != NULL) {
            o->ops->abandon(o->state);
        }
    }
    outset_close_gone(&e->outs);
    loop_stop(e->loop);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    notify_send("WATCHDOG=1");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct engine *e = arg;

    if (sig == SIGHUP) {
        char err[256];
        log_info("engine: SIGHUP received: reopening output files%s",
                 e->reload_fn != NULL ? " and reloading the configuration" : "");
        for (size_t i = 0; i < e->outs.noutputs; i++) {
            if (e->outs.outputs[i].out.ops->reopen != NULL) {
                e->outs.outputs[i].out.ops->reopen(e->outs.outputs[i].out.state);
            }
        }
        if (e->reload_fn != NULL && !e->draining) {
            e->reload_fn(e->reload_arg, err, sizeof(err));
        }
        return;
    }
    if (e->draining) {
        log_warn("engine: second signal, stopping at once");
        loop_stop(e->loop);
        return;
    }
    e->draining = true;
    e->outs.draining = true;
    if (notify_enabled()) {
        notify_send("STOPPING=1");
    }
    log_info("engine: %s received, draining %u in-flight transfer(s) (up to %lld ms)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", loop_in_flight(e->loop),
             (long long)e->shutdown_timeout_ms);
    for (size_t i = 0; i < e->ntargets; i++) {
        sched_stop(&e->targets[i]->sched);
    }
    if (e->drain_fn != NULL) {
        e->drain_fn(e->drain_arg);
    }
    outputs_drain(e);
    arm_drain_timer(e);
    engine_check_drained(e);
}

int
engine_run(struct engine *e, int64_t shutdown_timeout_ms)
{
    struct event_base *base = loop_base(e->loop);
    int rc = 0;

    e->shutdown_timeout_ms = shutdown_timeout_ms;
    e->outs.drain_ms = shutdown_timeout_ms > 0 ? shutdown_timeout_ms : ENGINE_DEFAULT_DRAIN_MS;
    e->sig_int = evsignal_new(base, SIGINT, signal_cb, e);
    e->sig_term = evsignal_new(base, SIGTERM, signal_cb, e);
    e->sig_hup = evsignal_new(base, SIGHUP, signal_cb, e);
    e->drain_timer = evtimer_new(base, drain_timeout_cb, e);
    if (e->sig_int == NULL || e->sig_term == NULL || e->sig_hup == NULL || e->drain_timer == NULL ||
        evsignal_add(e->sig_int, NULL) != 0 || evsignal_add(e->sig_term, NULL) != 0 ||
        evsignal_add(e->sig_hup, NULL) != 0) {
        log_err("engine: cannot install signal handlers");
        return -ENOMEM;
    }
    e->start = clock_mono_ms();
    for (size_t i = 0; i < e->ntargets; i++) {
        if (target_schedule(e, e->targets[i]) != 0) {
            return -ENOMEM;
        }
    }
    e->running = true;
    log_info("engine: running %zu target(s)", e->ntargets);
    daemon_started(true);
    if (notify_enabled()) {
        notify_send("READY=1\nSTATUS=collecting");
        int64_t wd = notify_watchdog_ms();
        if (wd > 0) {
            struct timeval tv = {.tv_sec = wd / 2000, .tv_usec = (wd / 2 % 1000) * 1000};
            e->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, e);
            if (e->watchdog == NULL || event_add(e->watchdog, &tv) != 0) {
                log_err("engine: cannot arm the systemd watchdog timer");
            }
        }
    }
    rc = loop_run(e->loop);
    outset_close_gone(&e->outs); /* replaced outputs still draining at exit: as the others */
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        if (e->outs.outputs[i].out.ops->flush != NULL) {
            e->outs.outputs[i].out.ops->flush(e->outs.outputs[i].out.state);
        }
    }
    return rc;
}

void
engine_set_reload(struct engine *e, engine_reload_fn *fn, void *arg)
{
    e->reload_fn = fn;
    e->reload_arg = arg;
}

int
engine_reload(struct engine *e, char *err, size_t errlen)
{
    if (e->reload_fn == NULL) {
        snprintf(err, errlen, "no configuration file to reload");
        return -ENOENT;
    }
    if (e->draining) {
        snprintf(err, errlen, "shutting down");
        return -ESHUTDOWN;
    }
    return e->reload_fn(e->reload_arg, err, errlen);
}

void
engine_set_drain_hook(struct engine *e, engine_drain_fn *fn, void *arg)
{
    e->drain_fn = fn;
    e->drain_arg = arg;
}

bool
engine_draining(const struct engine *e)
{
    return e->draining;
}

void
engine_reload_begin(struct engine *e)
{
    for (size_t i = 0; i < e->ntargets; i++) {
        e->targets[i]->stale = true;
        e->targets[i]->fresh = false;
    }
    stale_index_build(e);
    dropped_set_clear(&e->dropped_old);
    e->dropped_old = e->dropped;
    e->dropped = (struct dropped_set){0};
    e->reloading = true;
}

/* Takes @t out of the target list; frees it now, or when its run in flight ends. */
static void
target_remove_at(struct engine *e, size_t i)
{
    struct target *t = e->targets[i];

    e->targets[i] = e->targets[--e->ntargets];
    sched_stop(&t->sched);
    if (t->batch == NULL) {
        target_end_series(e, t);
        target_free(t);
        return;
    }
    struct target **grown = realloc(e->retired, (e->nretired + 1) * sizeof(*e->retired));
    if (grown == NULL) {
        /* Cannot keep it for later: cancel the run and free it now. */
        scrape_free(t->scrape);
        t->scrape = NULL;
        batch_give_back(e, t->batch);
        t->batch = NULL;
        target_free(t);
        return;
    }
    e->retired = grown;
    t->retired = true;
    e->retired[e->nretired++] = t;
}

int
engine_reload_end(struct engine *e, size_t *kept, size_t *added, size_t *removed)
{
    int rc = 0;

    *kept = *added = *removed = 0;
    for (size_t i = e->ntargets; i-- > 0;) {
        if (e->targets[i]->stale) {
            target_remove_at(e, i);
            (*removed)++;
        }
    }
    stale_index_free(e);
    /* Backwards: a target removed here is replaced by one already seen. */
    for (size_t i = e->ntargets; i-- > 0;) {
        struct target *t = e->targets[i];
        if (!t->fresh) {
            (*kept)++;
            continue;
        }
        t->fresh = false;
        if (e->running && target_schedule(e, t) != 0) {
            /* Without its timer it would never run: not added, said, and the reload fails. */
            log_err("engine: %s: cannot create its timer; not added", t->display_url);
            target_remove_at(e, i);
            rc = -ENOMEM;
            continue;
        }
        (*added)++;
    }
    dropped_set_clear(&e->dropped_old);
    e->reloading = false;
    return rc;
}

void
engine_reload_abort(struct engine *e)
{
    stale_index_free(e);
    for (size_t i = e->ntargets; i-- > 0;) {
        struct target *t = e->targets[i];
        if (t->fresh) {
            e->targets[i] = e->targets[--e->ntargets];
            target_free(t);
        }
        else {
            t->stale = false;
        }
    }
    dropped_set_clear(&e->dropped);
    e->dropped = e->dropped_old;
    e->dropped_old = (struct dropped_set){0};
    e->reloading = false;
}

int
engine_add_dropped(struct engine *e, const char *job, const struct label *labels, size_t n,
                   const char *reason)
{
    return dropped_set_add(&e->dropped, job, labels, n, reason);
}

const char *
engine_relay_check(const struct engine *e, const char *format, char *buf, size_t len)
{
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        const struct engine_output *o = &e->outs.outputs[i];
        if (o->out.ops->write_batch != NULL || strcmp(o->enc->name, format) != 0 ||
            o->enc->doc_open[0] != '\0' || o->enc->doc_close[0] != '\0') {
            snprintf(buf, len,
                     "outputs[%zu] (type %s, format %s) cannot take the relayed %s records as "
                     "they are: relay outputs must be of types stdout, file or http, with "
                     "format json or vm, the format of the messages",
                     i, o->out.ops->name, o->enc->name, format);
            return buf;
        }
    }
    return NULL;
}

void
engine_relay_write(struct engine *e, const char *data, size_t len, uint32_t nsamples,
                   uint64_t marks[ENGINE_MAX_OUTPUTS])
{
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        struct engine_output *o = &e->outs.outputs[i];
        struct output_stats st = {0};
        output_result(o, o->out.ops->write(o->out.state, data, len, nsamples), nsamples, "relay",
                      "input");
        if (o->out.ops->stats != NULL) {
            o->out.ops->stats(o->out.state, &st);
        }
        marks[i] = st.collected;
    }
}

bool
engine_relay_safe(const struct engine *e, const uint64_t marks[ENGINE_MAX_OUTPUTS])
{
    for (size_t i = 0; i < e->outs.noutputs; i++) {
        const struct engine_output *o = &e->outs.outputs[i];
        struct output_stats st = {0};
        if (o->out.ops->stats == NULL) {
            continue; /* stdout, file: written when write() returned */
        }
        o->out.ops->stats(o->out.state, &st);
        if (st.collected - st.queue_samples < marks[i]) {
            return false;
        }
    }
    return true;
}

const struct dropped_set *
engine_dropped(const struct engine *e)
{
    return &e->dropped;
}

/* The number of targets; see engine.h. */
size_t
engine_target_count(const struct engine *e)
{
    return e->ntargets;
}

/* A read-only view of target @i; see engine.h. */
int
engine_target_info(const struct engine *e, size_t i, struct engine_target_info *out)
{
    const struct target *t;

    if (i >= e->ntargets) {
        return -ENOENT;
    }
    t = e->targets[i];
    memset(out, 0, sizeof(*out));
    out->job = t->job;
    out->kind = t->kind->name;
    out->display_url = t->display_url;
    out->instance = t->instance;
    out->labels = t->labels;
    out->nlabels = t->nlabels;
    out->discovered = t->discovered;
    out->ndiscovered = t->ndiscovered;
    out->interval_ms = t->interval_ms;
    out->timeout_ms = t->timeout_ms;
    out->reload_going = e->reloading && t->stale;
    out->reload_coming = e->reloading && t->fresh;

    out->health = t->last_ts_ms == 0 ? ENGINE_HEALTH_UNKNOWN
                  : t->last_ok       ? ENGINE_HEALTH_UP
                                     : ENGINE_HEALTH_DOWN;
    out->last_ts_ms = t->last_ts_ms;
    out->last_duration_s = t->last_duration_s;
    out->last_samples = t->last_samples;
    out->last_reason = out->health == ENGINE_HEALTH_DOWN ? t->last_reason : REASON_NONE;
    out->last_error = t->last_error != NULL ? t->last_error : "";
    out->last_warning = t->last_warning != NULL ? t->last_warning : "";

    if (t->sched.ev != NULL && !e->draining) {
        out->next_ts_ms = clock_wall_ms() + (sched_next_at(&t->sched) - clock_mono_ms());
    }
    out->in_flight = t->sched.in_flight;
    out->skipped_overlap = t->sched.skipped_overlap;
    out->skipped_late = t->sched.skipped_late;
    out->nhistory = t->hist_n;
    for (size_t k = 0; k < t->hist_n; k++) {
        size_t at = (t->hist_pos + ENGINE_HISTORY - t->hist_n + k) % ENGINE_HISTORY;
        out->history_s[k] = t->hist_s[at];
        out->history_ok[k] = t->hist_ok[at];
    }
    return 0;
}

size_t
engine_output_count(const struct engine *e)
{
    size_t n = 0;

    while (outset_row(&e->outs, n) != NULL) {
        n++;
    }
    return n;
}

/* A read-only view of output @i; see engine.h. */
int
engine_output_info(const struct engine *e, size_t i, const char **name, const char **type,
                   const char **format, struct output_stats *st)
{
    const struct engine_output *o = outset_row(&e->outs, i);

    if (o == NULL) {
        return -ENOENT;
    }
    *name = o->name;
    *type = o->out.ops->name;
    *format = o->enc != NULL ? o->enc->name : "";
    outset_row_books(&e->outs, o, st);
    return 0;
}

void
engine_render_metrics(struct strbuf *sb, void *engine)
{
    struct engine *e = engine;

    stats_render(sb, loop_in_flight(e->loop));
    outset_render(sb, &e->outs);
}

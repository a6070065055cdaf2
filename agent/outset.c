/*
 * The output set (outset.h): the running outputs in configuration order, those a reload
 * replaced or removed while they send what they hold, and the books of each name across them.
 */
#include "build-config.h"

#include "outset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"

static void gone_timer_cb(evutil_socket_t fd, short what, void *arg);

void
outset_init(struct outset *os, struct event_base *base)
{
    memset(os, 0, sizeof(*os));
    os->base = base;
    os->drain_ms = OUTSET_DEFAULT_DRAIN_MS;
}

int
outset_add(struct outset *os, const char *name, const struct encoder *enc, const struct output *out)
{
    struct engine_output *o;
    size_t same = 0;

    if (os->noutputs == ENGINE_MAX_OUTPUTS) {
        if (out->ops->free != NULL) {
            out->ops->free(out->state);
        }
        return -ENOMEM;
    }
    o = &os->outputs[os->noutputs];
    o->enc = enc;
    o->out = *out;
    if (name != NULL) {
        snprintf(o->name, sizeof(o->name), "%s", name);
    }
    else {
        for (size_t i = 0; i < os->noutputs; i++) {
            same += os->outputs[i].out.ops == out->ops;
        }
        snprintf(o->name, sizeof(o->name), "%s[%zu]", out->ops->name, same);
    }
    os->noutputs++;
    return 0;
}

/* A stopped output's slot, between outset_stop() and _restore() or _replace(). */
static int
stopped_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    (void)state;
    (void)data;
    (void)len;
    (void)nsamples;
    return -ESHUTDOWN;
}

static const struct output_ops stopped_ops = {.name = "stopped", .write = stopped_write};

/* Adds the counters of @x to @st (the gauges are the running instance's). */
static void
books_add(struct output_stats *st, const struct output_stats *x)
{
    st->collected += x->collected;
    st->recovered += x->recovered;
    st->delivered += x->delivered;
    for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
        st->dropped[d] += x->dropped[d];
    }
    st->requests += x->requests;
    st->failed_requests += x->failed_requests;
    st->retries += x->retries;
    if (x->last_success > st->last_success) {
        st->last_success = x->last_success;
    }
}

static void
instance_stats(const struct output *out, struct output_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (out->ops->stats != NULL) {
        out->ops->stats(out->state, st);
    }
}

/*
 * The books of output @o under its name: the running instance, the ones it replaced, and the
 * replaced ones still draining. They balance as one instance's do.
 */
void
outset_books(const struct outset *os, const struct engine_output *o, struct output_stats *st)
{
    uint64_t handed = o->handed;

    instance_stats(&o->out, st);
    books_add(st, &o->base);
    st->pending_samples += o->parked;
    for (size_t i = 0; i < os->ngone; i++) {
        const struct engine_gone *g = &os->gone[i];
        struct output_stats gs;
        if (strcmp(g->o.name, o->name) != 0) {
            continue;
        }
        instance_stats(&g->o.out, &gs);
        books_add(st, &gs);
        books_add(st, &g->o.base);
        handed += g->o.handed;
        st->pending_samples += gs.pending_samples;
        st->queue_bytes += gs.queue_bytes;
        st->queue_samples += gs.queue_samples;
        st->spool_bytes += gs.spool_bytes;
        if (st->type == NULL) {
            st->type = gs.type;
        }
    }
    st->recovered = st->recovered > handed ? st->recovered - handed : 0;
}

/*
 * The draining outputs no running one shares a name with (a reload removed them), oldest first,
 * one per name, into @rows; their number.
 */
static size_t
gone_rows(const struct outset *os, const struct engine_gone **rows)
{
    size_t n = 0;

    for (size_t i = 0; i < os->ngone; i++) {
        const char *name = os->gone[i].o.name;
        bool shown = false;
        for (size_t k = 0; k < os->noutputs && !shown; k++) {
            shown = strcmp(os->outputs[k].name, name) == 0;
        }
        for (size_t k = 0; k < n && !shown; k++) {
            shown = strcmp(rows[k]->o.name, name) == 0;
        }
        if (!shown) {
            rows[n++] = &os->gone[i];
        }
    }
    return n;
}

/* Row @i of the output table: running outputs, then removed ones still draining. NULL: none. */
const struct engine_output *
outset_row(const struct outset *os, size_t i)
{
    const struct engine_gone *rows[ENGINE_MAX_OUTPUTS];

    if (i < os->noutputs) {
        return &os->outputs[i];
    }
    return i - os->noutputs < gone_rows(os, rows) ? &rows[i - os->noutputs]->o : NULL;
}

/* The books of row @o (outset_row()): a draining one is summed over its name's instances. */
void
outset_row_books(const struct outset *os, const struct engine_output *o, struct output_stats *st)
{
    if (o >= os->outputs && o < os->outputs + os->noutputs) {
        outset_books(os, o, st);
        return;
    }
    struct engine_output none = {.out = {.ops = &stopped_ops}};
    snprintf(none.name, sizeof(none.name), "%s", o->name);
    outset_books(os, &none, st);
    st->draining = true;
}

static struct engine_output *
outset_find(struct outset *os, const char *name)
{
    for (size_t i = 0; i < os->noutputs; i++) {
        if (strcmp(os->outputs[i].name, name) == 0) {
            return &os->outputs[i];
        }
    }
    return NULL;
}

/*
 * The last of an instance a reload let go of: flushed (what it still holds goes to its spool,
 * or is dropped), its final books returned in @st with what it could not deliver counted as
 * dropped for reason "reload" (unless @handing: then what is left in its spool is the next
 * instance's to send), then freed.
 */
static void
instance_close(struct outset *os, struct engine_output *o, bool handing, struct output_stats *st)
{
    const struct output *out = &o->out;

    if (out->ops->flush != NULL) {
        out->ops->flush(out->state);
    }
    instance_stats(out, st);
    if (!os->draining) {
        uint64_t lost = st->dropped[OUTPUT_DROP_SHUTDOWN] + (handing ? 0 : st->pending_samples);
        st->dropped[OUTPUT_DROP_RELOAD] += lost;
        st->dropped[OUTPUT_DROP_SHUTDOWN] = 0;
        if (lost > 0) {
            log_warn("engine: output %s: %llu samples of the replaced or removed instance were "
                     "not delivered (dropped, reason reload%s)",
                     o->name, (unsigned long long)lost,
                     st->spool_bytes > 0 ? "; they stay in its spool directory" : "");
        }
    }
    if (out->ops->free != NULL) {
        out->ops->free(out->state);
    }
}

int
outset_stop(struct outset *os, const char *name, bool handing)
{
    struct engine_output *o = outset_find(os, name);
    struct output_stats st;

    if (o == NULL || o->out.ops == &stopped_ops) {
        return -ENOENT;
    }
    if (o->out.ops->abandon != NULL) {
        o->out.ops->abandon(o->out.state); /* requests in flight: not acknowledged, sent again */
    }
    instance_close(os, o, handing, &st);
    books_add(&o->base, &st);
    if (handing) {
        o->handed += st.pending_samples;
        o->parked = st.pending_samples;
        log_info("engine: output %s: the replaced instance closed its spool with %llu samples "
                 "for the new instance to send",
                 name, (unsigned long long)st.pending_samples);
    }
    o->out.ops = &stopped_ops;
    o->out.state = NULL;
    os->out_gen++;
    return 0;
}

int
outset_restore(struct outset *os, const char *name, const struct output *out)
{
    struct engine_output *o = outset_find(os, name);

    if (o == NULL || o->out.ops != &stopped_ops) {
        if (out != NULL && out->ops->free != NULL) {
            out->ops->free(out->state);
        }
        return -ENOENT;
    }
    os->out_gen++;
    if (out != NULL) {
        o->out = *out;
        o->parked = 0;
        return 0;
    }
    size_t at = (size_t)(o - os->outputs);
    memmove(o, o + 1, (os->noutputs - at - 1) * sizeof(*o));
    os->noutputs--;
    return 0;
}

/* Draining instance @i is done (or out of time: @late): closed, its books go to its name. */
static void
gone_finish(struct outset *os, size_t i, bool late)
{
    struct engine_gone *g = &os->gone[i];
    struct output_stats st;

    if (late) {
        log_warn("engine: output %s: the replaced or removed instance could not deliver "
                 "everything within %lld ms; giving up",
                 g->o.name, (long long)os->drain_ms);
        if (g->o.out.ops->abandon != NULL) {
            g->o.out.ops->abandon(g->o.out.state);
        }
    }
    instance_close(os, &g->o, false, &st);
    struct engine_output *o = outset_find(os, g->o.name);
    if (o != NULL) {
        books_add(&o->base, &st);
        books_add(&o->base, &g->o.base);
        o->handed += g->o.handed;
    }
    log_info("engine: output %s: the %s instance is closed", g->o.name,
             o != NULL ? "replaced" : "removed");
    memmove(g, g + 1, (os->ngone - i - 1) * sizeof(*g));
    os->ngone--;
}

/* Closes the draining instances that are done or late; 100 ms later again while any is left. */
static void
gone_check(struct outset *os)
{
    mono_ms now = clock_mono_ms();
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};

    for (size_t i = os->ngone; i-- > 0;) {
        const struct output *out = &os->gone[i].o.out;
        bool busy = out->ops->busy != NULL && out->ops->busy(out->state);
        if (!busy || now >= os->gone[i].deadline) {
            gone_finish(os, i, busy);
        }
    }
    if (os->ngone == 0) {
        return;
    }
    if (os->gone_timer == NULL) {
        os->gone_timer = evtimer_new(os->base, gone_timer_cb, os);
    }
    if (os->gone_timer == NULL || evtimer_add(os->gone_timer, &tv) != 0) {
        log_err("engine: cannot arm the timer of replaced outputs; closing them now");
        while (os->ngone > 0) {
            gone_finish(os, 0, true);
        }
    }
}

static void
gone_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gone_check(arg);
}

/* Output @o leaves the table: it drains what it holds, then goes (gone_check). */
static void
gone_add(struct outset *os, const struct engine_output *o)
{
    int64_t ms = os->drain_ms;

    if (os->ngone == ENGINE_MAX_OUTPUTS) {
        gone_finish(os, 0, true); /* the oldest draining one makes room */
    }
    os->gone[os->ngone] = (struct engine_gone){.o = *o, .deadline = clock_mono_ms() + ms};
    if (o->out.ops->drain != NULL) {
        o->out.ops->drain(o->out.state);
    }
    os->ngone++;
}

void
outset_replace(struct outset *os, const struct engine_output_spec *v, size_t n)
{
    struct engine_output next[ENGINE_MAX_OUTPUTS];
    bool kept[ENGINE_MAX_OUTPUTS] = {false};
    bool named[ENGINE_MAX_OUTPUTS] = {false};
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        struct engine_output *old = outset_find(os, v[i].name);
        size_t k = old != NULL ? (size_t)(old - os->outputs) : 0;
        if (m == ENGINE_MAX_OUTPUTS || (v[i].out.ops == NULL && old == NULL)) {
            if (v[i].out.ops != NULL && v[i].out.ops->free != NULL) {
                v[i].out.ops->free(v[i].out.state);
            }
            log_err("engine: output %s: %s; left out", v[i].name,
                    m == ENGINE_MAX_OUTPUTS ? "too many outputs" : "nothing to keep");
            continue;
        }
        if (v[i].out.ops == NULL) {
            next[m++] = *old;
            kept[k] = true;
            continue;
        }
        next[m] = (struct engine_output){.enc = v[i].enc, .out = v[i].out};
        snprintf(next[m].name, sizeof(next[m].name), "%s", v[i].name);
        if (old != NULL) { /* the books continue under the same name */
            next[m].base = old->base;
            next[m].handed = old->handed;
            named[k] = true;
        }
        m++;
    }
    for (size_t k = 0; k < os->noutputs; k++) {
        struct engine_output *o = &os->outputs[k];
        if (kept[k] || o->out.ops == &stopped_ops) {
            continue; /* kept, or closed already (its books went on with its name) */
        }
        if (named[k]) {
            memset(&o->base, 0, sizeof(o->base));
            o->handed = 0;
        }
        gone_add(os, o);
    }
    memcpy(os->outputs, next, m * sizeof(next[0]));
    os->noutputs = m;
    os->out_gen++;
    gone_check(os);
}

/* One metric family over every output that reports stats (lines of a family stay together). */
static void
render_output_family(struct strbuf *sb, const char *const *names, const struct output_stats *st,
                     size_t n, int which, const char *name, const char *type, const char *help)
{

    strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < n; i++) {
        const struct output_stats *o = &st[i];
        if (o->type == NULL) {
            continue;
        }
        if (which == 3) {
            for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
                strbuf_printf(sb, "%s{output=\"%s\",type=\"%s\",reason=\"%s\"} %llu\n", name,
                              names[i], o->type, output_drop_name((enum output_drop)d),
                              (unsigned long long)o->dropped[d]);
            }
            continue;
        }
        double v = 0;
        switch (which) {
        case 0:
            v = (double)o->collected;
            break;
        case 1:
            v = (double)o->recovered;
            break;
        case 2:
            v = (double)o->delivered;
            break;
        case 4:
            v = (double)o->pending_samples;
            break;
        case 5:
            v = (double)o->queue_bytes;
            break;
        case 6:
            v = (double)o->spool_bytes;
            break;
        case 7:
            v = (double)o->requests;
            break;
        case 8:
            v = (double)o->failed_requests;
            break;
        case 9:
            v = (double)o->retries;
            break;
        case 10:
            v = o->last_success;
            break;
        case 11:
            v = o->failing ? 1 : 0;
            break;
        case 12:
            v = o->failing_since;
            break;
        default:
            break;
        }
        strbuf_printf(sb, "%s{output=\"%s\",type=\"%s\"} %.17g\n", name, names[i], o->type, v);
    }
}

void
outset_render(struct strbuf *sb, const struct outset *os)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"pollster_output_samples_total", "counter", "Samples handed to the output."},
        {"pollster_output_recovered_samples_total", "counter",
         "Samples found in the spool at start (left by an earlier run)."},
        {"pollster_output_delivered_samples_total", "counter", "Samples the sink acknowledged."},
        {"pollster_output_dropped_samples_total", "counter",
         "Samples dropped, by reason. samples + recovered = delivered + dropped + pending."},
        {"pollster_output_pending_samples", "gauge", "Samples in the memory queue and the spool."},
        {"pollster_output_queue_bytes", "gauge", "Bytes in the memory queue."},
        {"pollster_output_spool_bytes", "gauge", "Bytes in the disk spool."},
        {"pollster_output_requests_total", "counter", "Requests the sink acknowledged."},
        {"pollster_output_failed_requests_total", "counter", "Requests that failed."},
        {"pollster_output_retries_total", "counter", "Requests sent again after a failure."},
        {"pollster_output_last_success_timestamp_seconds", "gauge",
         "Unix time of the last acknowledged request."},
        {"pollster_output_failing", "gauge", "1 while the sink is failing and retries back off."},
        {"pollster_output_failing_since_timestamp_seconds", "gauge",
         "Unix time the current failure began; 0 while the sink is not failing."},
    };
    struct output_stats st[2 * ENGINE_MAX_OUTPUTS];
    const char *names[2 * ENGINE_MAX_OUTPUTS];
    const struct engine_output *o;
    size_t any = 0, n = 0;

    while (n < 2 * ENGINE_MAX_OUTPUTS && (o = outset_row(os, n)) != NULL) {
        outset_row_books(os, o, &st[n]);
        names[n] = o->name;
        any += st[n++].type != NULL;
    }
    if (any == 0) {
        return;
    }
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        render_output_family(sb, names, st, n, (int)f, fam[f].name, fam[f].type, fam[f].help);
    }
}

bool
outset_busy(const struct outset *os)
{
    for (size_t i = 0; i < os->noutputs + os->ngone; i++) {
        const struct output *o =
            i < os->noutputs ? &os->outputs[i].out : &os->gone[i - os->noutputs].o.out;
        if (o->ops->busy != NULL && o->ops->busy(o->state)) {
            return true;
        }
    }
    return false;
}

void
outset_close_gone(struct outset *os)
{
    while (os->ngone > 0) {
        const struct output *o = &os->gone[0].o.out;
        gone_finish(os, 0, o->ops->busy != NULL && o->ops->busy(o->state));
    }
}

void
outset_release(struct outset *os)
{
    for (size_t i = 0; i < os->noutputs; i++) {
        if (os->outputs[i].out.ops->free != NULL) {
            os->outputs[i].out.ops->free(os->outputs[i].out.state);
        }
    }
    for (size_t i = 0; i < os->ngone; i++) {
        if (os->gone[i].o.out.ops->free != NULL) {
            os->gone[i].o.out.ops->free(os->gone[i].o.out.state);
        }
    }
    if (os->gone_timer != NULL) {
        event_free(os->gone_timer);
    }
    memset(os, 0, sizeof(*os));
}

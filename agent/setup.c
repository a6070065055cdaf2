/*
 * Config to engine, through the registries: each job's kind builds its per-target state
 * (kinds.h), each output's type opens it (outputs.h); external labels are merged into each target's
 * labels (a target label of the same name wins, as in Prometheus), and each target gets an
 * identity: every setting that shapes its runs, so a reload that changes nothing about a target
 * keeps it running on its phase, and one that changes anything replaces it.
 */
#include "build-config.h"

#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_http.h"
#include "encoder.h"
#include "inputs.h"
#include "kinds.h"
#include "log.h"
#include "outputs.h"
#include "stats.h"
#include "strbuf.h"

static bool
str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What a reload cannot change in output @o without reopening it. */
static void
output_identity(const struct config_output *o, struct strbuf *sb)
{
    strbuf_printf(sb, "%s\x1f%s\x1f%s\x1f", o->type->name, o->format, o->name);
    if (o->type->identity != NULL) {
        o->type->identity(o, sb);
    }
}

bool
setup_same_outputs(const struct config *a, const struct config *b)
{
    struct strbuf x, y;
    bool same = true;

    if (a->noutputs != b->noutputs || !str_same(a->status.listen, b->status.listen) ||
        a->log.level != b->log.level || a->log.target != b->log.target ||
        a->log.format != b->log.format) {
        return false;
    }
    strbuf_init(&x);
    strbuf_init(&y);
    for (size_t i = 0; i < a->noutputs && same; i++) {
        strbuf_reset(&x);
        strbuf_reset(&y);
        output_identity(&a->outputs[i], &x);
        output_identity(&b->outputs[i], &y);
        same = !x.oom && !y.oom && x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    }
    strbuf_release(&x);
    strbuf_release(&y);
    return same;
}

bool
setup_outputs_changed(const struct config *a, const struct config *b, char *what, size_t len)
{
    struct strbuf x, y;
    bool changed = false;

    if (a->noutputs != b->noutputs) {
        snprintf(what, len, "the number of outputs (%zu -> %zu)", a->noutputs, b->noutputs);
        return true;
    }
    strbuf_init(&x);
    strbuf_init(&y);
    for (size_t i = 0; i < a->noutputs && !changed; i++) {
        strbuf_reset(&x);
        strbuf_reset(&y);
        output_identity(&a->outputs[i], &x);
        output_identity(&b->outputs[i], &y);
        changed = x.oom || y.oom || x.len != y.len || memcmp(x.data, y.data, x.len) != 0;
        if (changed && a->outputs[i].type == b->outputs[i].type &&
            strcmp(a->outputs[i].name, b->outputs[i].name) != 0) {
            snprintf(what, len, "the name of outputs[%zu] (%s -> %s)", i, a->outputs[i].name,
                     b->outputs[i].name);
        }
        else if (changed) {
            snprintf(what, len, "outputs[%zu] (%s%s%s)", i, a->outputs[i].type->name,
                     a->outputs[i].type == b->outputs[i].type ? "" : " -> ",
                     a->outputs[i].type == b->outputs[i].type ? "" : b->outputs[i].type->name);
        }
    }
    strbuf_release(&x);
    strbuf_release(&y);
    return changed;
}

int
setup_has_job(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->njobs; i++) {
        if (strcmp(c->jobs[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Target labels followed by the external labels it does not set itself. */
static struct label *
merge_labels(const struct config *c, const struct config_job *job, const struct config_target *t,
             size_t *n)
{
    size_t cap = t->nlabels + c->global.nexternal_labels;
    struct label *l = calloc(cap > 0 ? cap : 1, sizeof(*l));

    *n = 0;
    if (l == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < t->nlabels; i++) {
        l[(*n)++] = t->labels[i];
    }
    for (size_t i = 0; i < c->global.nexternal_labels; i++) {
        bool dup = false;
        for (size_t k = 0; k < t->nlabels && !dup; k++) {
            dup = strcmp(t->labels[k].name, c->global.external_labels[i].name) == 0;
        }
        if (!dup) {
            l[(*n)++] = c->global.external_labels[i];
        }
    }
    (void)job;
    return l;
}

/* Everything that shapes a target's runs, as one string (never printed: holds secrets). */
static void
identity(struct strbuf *sb, const struct config_job *job, const struct config_target *t,
         const struct label *labels, size_t nlabels, const struct httpc_opts *http)
{
    strbuf_reset(sb);
    strbuf_printf(sb, "%s\x1f%s\x1f%s\x1f%s\x1f%lld\x1f%lld\x1f%llu\x1f", job->kind->name,
                  job->name, t->url, t->instance,
                  (long long)(t->interval_ms > 0 ? t->interval_ms : job->interval_ms),
                  (long long)(t->timeout_ms > 0 ? t->timeout_ms : job->timeout_ms),
                  (unsigned long long)job->body_size_limit);
    for (size_t i = 0; i < nlabels; i++) {
        strbuf_printf(sb, "L%s=%s\x1f", labels[i].name, labels[i].value);
    }
    httpc_identity(sb, http);
    if (job->kind->identity != NULL) {
        job->kind->identity(job, sb);
    }
}

static int
add_one(struct engine *e, const struct config *c, const struct config_job *job,
        const struct config_target *t, struct strbuf *id, char *err, size_t errlen)
{
    char who[300];
    size_t nlabels = 0;
    struct target_spec spec;
    int rc = -EINVAL;

    memset(&spec, 0, sizeof(spec));
    struct label *labels = merge_labels(c, job, t, &nlabels);
    if (labels == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(who, sizeof(who), "job \"%s\"", job->name);
    if (conf_http_client(&job->http, who, &spec.http, err, errlen) != 0) {
        goto out;
    }
    if (job->kind->client != NULL) {
        job->kind->client(job, &spec.http, &spec.fresh_connect);
    }
    identity(id, job, t, labels, nlabels, &spec.http);
    if (id->oom) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    spec.job = job->name;
    spec.url = t->url;
    spec.instance = t->instance;
    spec.labels = labels;
    spec.nlabels = nlabels;
    spec.discovered = t->discovered;
    spec.ndiscovered = t->ndiscovered;
    /* A target's own schedule: __scrape_interval__ / __scrape_timeout__ after relabeling. */
    spec.interval_ms = t->interval_ms > 0 ? t->interval_ms : job->interval_ms;
    spec.timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : job->timeout_ms;
    spec.body_limit = job->body_size_limit;
    spec.identity = id->data;
    spec.kind = job->kind->ops;
    /* The kind sees the target's own schedule (X-Prometheus-Scrape-Timeout-Seconds). */
    struct config_job tjob = *job;
    tjob.interval_ms = spec.interval_ms;
    tjob.timeout_ms = spec.timeout_ms;
    spec.kind_state = job->kind->state_new(&tjob, err, errlen);
    if (spec.kind_state == NULL) {
        goto out;
    }
    rc = engine_add_target(e, &spec, err, errlen);
out:
    httpc_opts_release(&spec.http);
    free(labels);
    return rc;
}

int
setup_targets(struct engine *e, const struct config *c, const char *only_job, char *err,
              size_t errlen)
{
    struct strbuf id;
    int rc = 0;

    strbuf_init(&id);
    for (size_t j = 0; j < c->njobs && rc == 0; j++) {
        const struct config_job *job = &c->jobs[j];
        if (only_job != NULL && strcmp(job->name, only_job) != 0) {
            continue;
        }
        for (size_t i = 0; i < job->ntargets && rc == 0; i++) {
            rc = add_one(e, c, job, &job->targets[i], &id, err, errlen);
        }
        for (size_t i = 0; i < job->ndropped && rc == 0; i++) {
            rc = engine_add_dropped(e, job->name, job->dropped[i].labels, job->dropped[i].nlabels,
                                    job->dropped[i].reason);
            if (rc != 0) {
                snprintf(err, errlen, "out of memory");
            }
        }
    }
    strbuf_release(&id);
    if (rc == 0) {
        stats_clear_targets();
        for (size_t j = 0; j < c->njobs; j++) {
            const struct config_job *job = &c->jobs[j];
            if (only_job == NULL || strcmp(job->name, only_job) == 0) {
                stats_set_targets(job->name,
                                  job->nseen > job->ntargets ? job->nseen : job->ntargets,
                                  job->ntargets);
            }
        }
    }
    return rc;
}

int
setup_outputs(struct engine *e, struct loop *l, const struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        const struct config_output *co = &c->outputs[i];
        const struct encoder *enc = encoder_find(co->format);
        struct output out = {0};
        int rc;
        if (enc == NULL) {
            snprintf(err, errlen, "outputs[%zu]: format %s has no encoder", i, co->format);
            return -EINVAL;
        }
        rc = co->type->open(co, co->name, l, &out, err, errlen);
        if (rc != 0) {
            return rc;
        }
        if (engine_add_output(e, co->name, enc, &out) != 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

int
setup_inputs(struct engine *e, struct loop *l, const struct config *c, struct input **v, size_t *n,
             char *err, size_t errlen)
{
    *v = NULL;
    *n = 0;
    if (c->ninputs == 0) {
        return 0;
    }
    *v = calloc(c->ninputs, sizeof(**v));
    if (*v == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->ninputs; i++) {
        char what[32];
        snprintf(what, sizeof(what), "inputs[%zu]", i);
        int rc = c->inputs[i].type->open(&c->inputs[i], what, l, e, &(*v)[i], err, errlen);
        if (rc != 0) {
            return rc;
        }
        (*n)++;
    }
    return 0;
}

void
setup_inputs_free(struct input *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i].ops->free(v[i].state);
    }
    free(v);
}

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

static bool
output_same(const struct config_output *a, const struct config_output *b)
{
    struct strbuf x, y;
    bool same;

    strbuf_init(&x);
    strbuf_init(&y);
    output_identity(a, &x);
    output_identity(b, &y);
    same = !x.oom && !y.oom && x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    strbuf_release(&x);
    strbuf_release(&y);
    return same;
}

static const struct config_output *
output_named(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        if (strcmp(c->outputs[i].name, name) == 0) {
            return &c->outputs[i];
        }
    }
    return NULL;
}

static const char *
output_spool(const struct config_output *o)
{
    return o->type->spool_dir != NULL ? o->type->spool_dir(o) : NULL;
}

void
setup_outputs_plan(const struct config *old, const struct config *c, struct setup_output_plan *plan)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        const struct config_output *co = &c->outputs[i];
        const struct config_output *was = output_named(old, co->name);
        const char *dir = output_spool(co);
        struct setup_output_plan *p = &plan[i];

        *p = (struct setup_output_plan){.co = co, .old = was, .change = SETUP_OUTPUT_ADD};
        if (was != NULL) {
            p->change = output_same(was, co) ? SETUP_OUTPUT_KEEP : SETUP_OUTPUT_REPLACE;
        }
        for (size_t k = 0; k < old->noutputs && dir != NULL && p->change != SETUP_OUTPUT_KEEP;
             k++) {
            const char *held = output_spool(&old->outputs[k]);
            if (held != NULL && strcmp(held, dir) == 0) {
                p->after = &old->outputs[k]; /* it goes (the new config has it elsewhere) */
            }
        }
    }
}

/* Runs @o's --check-config summary into @sb (its settings as people read them). */
static void
output_summary(const struct config_output *o, struct strbuf *sb)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        return;
    }
    if (o->type->summary != NULL) {
        o->type->summary(f, o);
    }
    fclose(f);
    strbuf_append(sb, text, len);
    free(text);
}

/* The next line of @s (at @*at), without the leading ": " or spaces; "" at the end. */
static size_t
summary_line(const char *s, size_t len, size_t *at, const char **line)
{
    size_t i = *at, n;

    while (i < len && (s[i] == ' ' || s[i] == ':')) {
        i++;
    }
    for (n = 0; i + n < len && s[i + n] != '\n'; n++) {
    }
    *line = s + i;
    *at = i + n + (i + n < len);
    return n;
}

/* What differs between @a and @b, as " (format json -> vm)", " (URL -> URL)", ... */
static void
output_what_changed(const struct config_output *a, const struct config_output *b, struct strbuf *sb)
{
    struct strbuf x, y;
    size_t ax = 0, ay = 0, shown = 0;

    if (a->type != b->type) {
        strbuf_printf(sb, " (type %s -> %s)", a->type->name, b->type->name);
        return;
    }
    if (strcmp(a->format, b->format) != 0) {
        strbuf_printf(sb, " (format %s -> %s)", a->format, b->format);
        return;
    }
    strbuf_init(&x);
    strbuf_init(&y);
    output_summary(a, &x);
    output_summary(b, &y);
    strbuf_puts(sb, " (");
    while ((ax < x.len || ay < y.len) && !x.oom && !y.oom) {
        const char *la, *lb;
        size_t na = summary_line(x.data, x.len, &ax, &la);
        size_t nb = summary_line(y.data, y.len, &ay, &lb);
        if (na == nb && memcmp(la, lb, na) == 0) {
            continue;
        }
        if (na == 0) {
            la = "(none)";
            na = strlen(la);
        }
        if (nb == 0) {
            lb = "(none)";
            nb = strlen(lb);
        }
        strbuf_printf(sb, "%s%.*s -> %.*s", shown++ > 0 ? ", " : "", (int)na, la, (int)nb, lb);
    }
    strbuf_puts(sb, shown > 0 ? ")" : "settings)");
    strbuf_release(&x);
    strbuf_release(&y);
}

void
setup_outputs_describe(const struct config *old, const struct config *c,
                       const struct setup_output_plan *plan, struct strbuf *sb)
{
    static const char *const words[] = {"kept", "added", "replaced"};

    for (size_t i = 0; i < c->noutputs; i++) {
        strbuf_printf(sb, "%s%s %s", i > 0 ? ", " : "", words[plan[i].change], plan[i].co->name);
        if (plan[i].change == SETUP_OUTPUT_REPLACE) {
            output_what_changed(plan[i].old, plan[i].co, sb);
        }
    }
    for (size_t k = 0; k < old->noutputs; k++) {
        if (output_named(c, old->outputs[k].name) == NULL) {
            strbuf_printf(sb, "%sremoved %s", sb->len > 0 ? ", " : "", old->outputs[k].name);
        }
    }
}

bool
setup_outputs_changed(const struct config *a, const struct config *b)
{
    if (a->noutputs != b->noutputs) {
        return true;
    }
    for (size_t i = 0; i < a->noutputs; i++) {
        if (!output_same(&a->outputs[i], &b->outputs[i])) {
            return true;
        }
    }
    return false;
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
setup_output_open(const struct config_output *co, struct loop *l, struct engine_output_spec *spec,
                  char *err, size_t errlen)
{
    *spec = (struct engine_output_spec){.name = co->name, .enc = encoder_find(co->format)};
    if (spec->enc == NULL) {
        snprintf(err, errlen, "%s: format %s has no encoder", co->name, co->format);
        return -EINVAL;
    }
    return co->type->open(co, co->name, l, &spec->out, err, errlen);
}

int
setup_outputs(struct engine *e, struct loop *l, const struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        struct engine_output_spec spec;
        int rc = setup_output_open(&c->outputs[i], l, &spec, err, errlen);
        if (rc != 0) {
            return rc;
        }
        if (engine_add_output(e, spec.name, spec.enc, &spec.out) != 0) {
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

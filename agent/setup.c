/*
 * Config to engine. Kind-specific options are translated here (probe codes and regexes,
 * Prometheus scrape semantics and relabel rules), external labels are merged into each target's
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

#include <curl/curl.h>

#include "encoder.h"
#include "httpc.h"
#include "job_json.h"
#include "job_probe.h"
#include "job_prom.h"
#include "log.h"
#include "out_file.h"
#include "out_http.h"
#include "out_stdout.h"
#include "relabel.h"
#include "strbuf.h"

static bool
str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool
setup_same_outputs(const struct config *a, const struct config *b)
{
    if (a->noutputs != b->noutputs || !str_same(a->status.listen, b->status.listen) ||
        a->log.level != b->log.level || a->log.target != b->log.target) {
        return false;
    }
    for (size_t i = 0; i < a->noutputs; i++) {
        const struct config_output *x = &a->outputs[i], *y = &b->outputs[i];
        if (x->type != y->type || x->format != y->format || !str_same(x->path, y->path) ||
            !str_same(x->url, y->url) || x->fsync != y->fsync) {
            return false;
        }
    }
    return true;
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
         const struct label *labels, size_t nlabels)
{
    const struct config_http *h = &job->http;

    strbuf_reset(sb);
    strbuf_printf(sb, "%d\x1f%s\x1f%s\x1f%s\x1f%lld\x1f%lld\x1f%llu\x1f", (int)job->kind, job->name,
                  t->url, t->instance, (long long)job->interval_ms, (long long)job->timeout_ms,
                  (unsigned long long)job->body_size_limit);
    for (size_t i = 0; i < nlabels; i++) {
        strbuf_printf(sb, "L%s=%s\x1f", labels[i].name, labels[i].value);
    }
    strbuf_printf(sb, "A%s:%s\x1f%s:%s\x1fT%s|%s|%s|%s|%d\x1fR%d\x1f",
                  h->basic_auth.username ? h->basic_auth.username : "",
                  h->basic_auth.password ? h->basic_auth.password : "",
                  h->authorization.type ? h->authorization.type : "",
                  h->authorization.credentials ? h->authorization.credentials : "",
                  h->tls.ca_file ? h->tls.ca_file : "", h->tls.cert_file ? h->tls.cert_file : "",
                  h->tls.key_file ? h->tls.key_file : "",
                  h->tls.server_name ? h->tls.server_name : "", h->tls.insecure_skip_verify,
                  h->follow_redirects);
    for (size_t i = 0; i < h->nheaders; i++) {
        strbuf_printf(sb, "H%s:%s\x1f", h->headers[i].name, h->headers[i].value);
    }
    const struct config_scrape *sc = &job->scrape;
    strbuf_printf(sb, "S%d%d%d%lld,%lld\x1f", sc->honor_labels, sc->honor_timestamps,
                  sc->enable_compression, (long long)sc->sample_limit, (long long)sc->label_limit);
    for (size_t i = 0; i < sc->nrelabels; i++) {
        const struct config_relabel *r = &sc->relabels[i];
        strbuf_printf(sb, "M%d|%s|%s|%s|%s|", (int)r->action, r->separator ? r->separator : "",
                      r->regex ? r->regex : "", r->target_label ? r->target_label : "",
                      r->replacement ? r->replacement : "");
        for (size_t k = 0; k < r->nsource_labels; k++) {
            strbuf_printf(sb, "%s,", r->source_labels[k]);
        }
        strbuf_putc(sb, '\x1f');
    }
    for (size_t i = 0; i < job->json.nmetrics; i++) {
        const struct config_json_metric *m = &job->json.metrics[i];
        strbuf_printf(sb, "J%s|%s|%d|%s|%d|", m->name, m->path, (int)m->type,
                      m->label ? m->label : "", m->required);
        for (size_t k = 0; k < m->nlabels; k++) {
            strbuf_printf(sb, "%s=%s,", m->labels[k].name, m->labels[k].value);
        }
        strbuf_putc(sb, '\x1f');
    }
    const struct config_probe *p = &job->probe;
    strbuf_printf(sb, "P%d|", (int)p->method);
    for (size_t i = 0; i < p->nvalid_status_codes; i++) {
        strbuf_printf(sb, "%d,", p->valid_status_codes[i]);
    }
    for (size_t i = 0; i < p->nfail_if_body_matches; i++) {
        strbuf_printf(sb, "m%s\x1e", p->fail_if_body_matches[i]);
    }
    for (size_t i = 0; i < p->nfail_if_body_not_matches; i++) {
        strbuf_printf(sb, "n%s\x1e", p->fail_if_body_not_matches[i]);
    }
}

/*
 * HTTP client settings from the config as scrape settings (strings borrowed from the config,
 * header lines allocated into @headers, which holds room for nheaders + 1). @who names the job
 * or output in errors.
 */
static int
client_settings(const struct config_http *c, const char *who, struct httpc_opts *h, char **headers,
                char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (c->tls.server_name != NULL) {
        snprintf(err, errlen, "%s: tls_config.server_name is not supported yet", who);
        return -EINVAL;
    }
    h->username = c->basic_auth.username;
    h->password = c->basic_auth.password;
    h->ca_file = c->tls.ca_file;
    h->cert_file = c->tls.cert_file;
    h->key_file = c->tls.key_file;
    h->insecure_skip_verify = c->tls.insecure_skip_verify;
    h->follow_redirects = c->follow_redirects;
    h->headers = headers;
    for (size_t i = 0; i < c->nheaders; i++) {
        size_t len = strlen(c->headers[i].name) + strlen(c->headers[i].value) + 3;
        headers[h->nheaders] = malloc(len);
        if (headers[h->nheaders] == NULL) {
            return -ENOMEM;
        }
        snprintf(headers[h->nheaders++], len, "%s: %s", c->headers[i].name, c->headers[i].value);
    }
    if (c->authorization.type != NULL) {
        const char *cred = c->authorization.credentials ? c->authorization.credentials : "";
        size_t len = strlen(c->authorization.type) + strlen(cred) + 18;
        headers[h->nheaders] = malloc(len);
        if (headers[h->nheaders] == NULL) {
            return -ENOMEM;
        }
        snprintf(headers[h->nheaders++], len, "Authorization: %s %s", c->authorization.type, cred);
    }
    return 0;
}

/* The job's HTTP settings as scrape settings. */
static int
http_settings(const struct config_job *job, struct httpc_opts *h, char **headers, char *err,
              size_t errlen)
{
    char who[300];

    snprintf(who, sizeof(who), "job \"%s\"", job->name);
    if (client_settings(&job->http, who, h, headers, err, errlen) != 0) {
        return -EINVAL;
    }
    h->head = job->kind == CONFIG_JOB_PROBE && job->probe.method == CONFIG_METHOD_HEAD;
    h->no_compression = job->kind == CONFIG_JOB_PROMETHEUS && !job->scrape.enable_compression;
    return 0;
}

static void *
probe_state(const struct config_job *job, char *err, size_t errlen)
{
    struct probe_opts po;
    const char **match = calloc(job->probe.nfail_if_body_matches + 1, sizeof(*match));
    const char **not_match = calloc(job->probe.nfail_if_body_not_matches + 1, sizeof(*not_match));
    void *state = NULL;

    memset(&po, 0, sizeof(po));
    if (match == NULL || not_match == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (job->probe.nvalid_status_codes > JOB_PROBE_MAX_CODES) {
        snprintf(err, errlen, "probe \"%s\": at most %d valid_status_codes", job->name,
                 JOB_PROBE_MAX_CODES);
        goto out;
    }
    for (size_t i = 0; i < job->probe.nvalid_status_codes; i++) {
        po.valid_status_codes[po.n_valid_status_codes++] = job->probe.valid_status_codes[i];
    }
    for (size_t i = 0; i < job->probe.nfail_if_body_matches; i++) {
        match[i] = job->probe.fail_if_body_matches[i];
    }
    for (size_t i = 0; i < job->probe.nfail_if_body_not_matches; i++) {
        not_match[i] = job->probe.fail_if_body_not_matches[i];
    }
    po.fail_if_body_matches = match;
    po.fail_if_body_not_matches = not_match;
    state = job_probe_new(&po, err, errlen);
out:
    free(match);
    free(not_match);
    return state;
}

static void *
prom_state(const struct config_job *job, char *err, size_t errlen)
{
    const struct config_scrape *sc = &job->scrape;
    struct relabel_rule *rules = NULL;
    struct prom_opts po = {
        .honor_labels = sc->honor_labels,
        .honor_timestamps = sc->honor_timestamps,
        .sample_limit = (uint64_t)sc->sample_limit,
        .label_limit = (uint64_t)sc->label_limit,
        .timeout_ms = job->timeout_ms,
    };

    if (sc->nrelabels > 0) {
        rules = calloc(sc->nrelabels, sizeof(*rules));
        if (rules == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    for (size_t i = 0; i < sc->nrelabels; i++) {
        const struct config_relabel *r = &sc->relabels[i];
        char why[256];
        /* The enums share their order (config.h and relabel.h). */
        if (relabel_rule_init(&rules[i], (enum relabel_action)r->action,
                              (const char *const *)r->source_labels, r->nsource_labels,
                              r->separator, r->regex, r->target_label, r->replacement, why,
                              sizeof(why)) != 0) {
            snprintf(err, errlen, "job \"%s\": metric_relabel_configs[%zu]: %s", job->name, i, why);
            for (size_t k = 0; k < i; k++) {
                relabel_rule_release(&rules[k]);
            }
            free(rules);
            return NULL;
        }
        po.nrules++;
    }
    po.rules = rules;
    void *state = job_prom_new(&po);
    if (state == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    return state;
}

static void *
json_state(const struct config_job *job, char *err, size_t errlen)
{
    struct job_json_metric_opts *m = calloc(job->json.nmetrics, sizeof(*m));
    void *state;

    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < job->json.nmetrics; i++) {
        const struct config_json_metric *cm = &job->json.metrics[i];
        m[i] = (struct job_json_metric_opts){
            .name = cm->name,
            .path = cm->path,
            .type = cm->type,
            .labels = cm->labels,
            .nlabels = cm->nlabels,
            .label = cm->label,
            .required = cm->required,
        };
    }
    state = job_json_new(m, job->json.nmetrics, err, errlen);
    free(m);
    return state;
}

static int
add_one(struct engine *e, const struct config *c, const struct config_job *job,
        const struct config_target *t, struct strbuf *id, char *err, size_t errlen)
{
    char *headers[64 + 1];
    size_t nlabels = 0;
    struct target_spec spec;
    int rc = -EINVAL;

    memset(headers, 0, sizeof(headers));
    memset(&spec, 0, sizeof(spec));
    if (job->http.nheaders > 64) {
        snprintf(err, errlen, "job \"%s\": at most 64 headers", job->name);
        return -EINVAL;
    }
    struct label *labels = merge_labels(c, job, t, &nlabels);
    if (labels == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (http_settings(job, &spec.http, headers, err, errlen) != 0) {
        goto out;
    }
    identity(id, job, t, labels, nlabels);
    if (id->oom) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    spec.job = job->name;
    spec.url = t->url;
    spec.instance = t->instance;
    spec.labels = labels;
    spec.nlabels = nlabels;
    spec.interval_ms = job->interval_ms;
    spec.timeout_ms = job->timeout_ms;
    spec.body_limit = job->body_size_limit;
    spec.identity = id->data;
    switch (job->kind) {
    case CONFIG_JOB_PROBE:
        spec.kind = &job_probe;
        spec.fresh_connect = true; /* time a full connection, as blackbox_exporter does */
        spec.kind_state = probe_state(job, err, errlen);
        break;
    case CONFIG_JOB_PROMETHEUS:
        spec.kind = &job_prom;
        spec.kind_state = prom_state(job, err, errlen);
        break;
    case CONFIG_JOB_JSON:
        spec.kind = &job_json;
        spec.kind_state = json_state(job, err, errlen);
        break;
    }
    if (spec.kind_state == NULL) {
        goto out;
    }
    rc = engine_add_target(e, &spec, err, errlen);
out:
    for (size_t i = 0; i < 65; i++) {
        free(headers[i]);
    }
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
    }
    strbuf_release(&id);
    return rc;
}

static enum spool_fsync
spool_fsync_of(enum config_fsync f)
{
    switch (f) {
    case CONFIG_FSYNC_BATCH:
        return SPOOL_FSYNC_BATCH;
    case CONFIG_FSYNC_INTERVAL:
        return SPOOL_FSYNC_INTERVAL;
    case CONFIG_FSYNC_NEVER:
        break;
    }
    return SPOOL_FSYNC_NEVER;
}

static void *
http_output(struct loop *l, const struct config_output *co, size_t i, char *err, size_t errlen)
{
    char *headers[64 + 1];
    char what[32];
    struct httpc_opts http;
    void *state = NULL;

    memset(headers, 0, sizeof(headers));
    snprintf(what, sizeof(what), "outputs[%zu]", i);
    if (co->http.nheaders > 64) {
        snprintf(err, errlen, "%s: at most 64 headers", what);
        return NULL;
    }
    if (client_settings(&co->http, what, &http, headers, err, errlen) == 0) {
        struct out_http_opts o = {
            .what = what,
            .url = co->url,
            .http = &http,
            .enc = encoder_find(config_format_name(co->format)),
            .timeout_ms = co->timeout_ms,
            .batch_max_bytes = co->batch_max_bytes,
            .flush_interval_ms = co->flush_interval_ms,
            .queue_max_bytes = co->queue_max_bytes,
            .spool_dir = co->spool_dir,
            .spool_max_bytes = co->spool_max_bytes,
            .spool_fsync = spool_fsync_of(co->fsync),
            .retry_initial_ms = co->retry_initial_ms,
            .retry_max_ms = co->retry_max_ms,
            .gzip = co->compression == CONFIG_COMPRESSION_GZIP ||
                    (co->compression == CONFIG_COMPRESSION_AUTO && !httpc_url_is_loopback(co->url)),
        };
        char e2[400];
        state = out_http_new(l, &o, e2, sizeof(e2));
        if (state == NULL) {
            snprintf(err, errlen, "%s: %s", what, e2);
        }
    }
    for (size_t k = 0; k < 65; k++) {
        free(headers[k]);
    }
    return state;
}

int
setup_outputs(struct engine *e, struct loop *l, const struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        const struct config_output *co = &c->outputs[i];
        const struct encoder *enc = encoder_find(config_format_name(co->format));
        struct output out = {0};
        if (enc == NULL) {
            snprintf(err, errlen, "outputs[%zu]: format %s has no encoder", i,
                     config_format_name(co->format));
            return -EINVAL;
        }
        switch (co->type) {
        case CONFIG_OUTPUT_STDOUT:
            out.ops = &out_stdout_ops;
            out.state = out_stdout_new(1);
            if (out.state == NULL) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
            }
            break;
        case CONFIG_OUTPUT_FILE:
            out.ops = &out_file_ops;
            out.state = out_file_new(co->path,
                                     co->fsync == CONFIG_FSYNC_NEVER ? OUT_FILE_FSYNC_NEVER
                                                                     : OUT_FILE_FSYNC_BATCH,
                                     err, errlen);
            if (out.state == NULL) {
                return -EINVAL;
            }
            break;
        case CONFIG_OUTPUT_HTTP:
            out.ops = &out_http_ops;
            out.state = http_output(l, co, i, err, errlen);
            if (out.state == NULL) {
                return -EINVAL;
            }
            break;
        }
        if (engine_add_output(e, enc, &out) != 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}
